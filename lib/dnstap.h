/* libdnstap: read, write, print and produce dnstap (DNS events as protobuf dnstap.Dnstap messages carried
 * in Frame Streams, content type "protobuf:dnstap.Dnstap").
 *
 * The currency of the library is the *payload*: the bytes of one serialized dnstap.Dnstap message, as it
 * travels inside one Frame Streams data frame. Inputs yield payloads, outputs consume them; a payload is
 * decoded into a struct dt_message only where something needs its fields (a text format, a filter).
 *
 * Conventions: functions return a dt_res (or NULL on failure, with the reason in an out-parameter); they
 * never print and never exit. Every pointer a function lends out is documented with how long it stays
 * valid. Objects are created by dt_*_open/new and released by dt_*_close/free, which accept NULL. */
#ifndef DNSTAP_H
#define DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The Frame Streams content type of dnstap. */
#define DT_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* Default largest data frame accepted by readers: a dnstap message can carry a 64 KiB query and a 64 KiB
 * response plus metadata, so anything much beyond 128 KiB is not dnstap. */
#define DT_DEFAULT_MAX_FRAME_SIZE (256u * 1024u)

/* ==== Results ==== */

typedef enum dt_res {
	DT_OK = 0,
	DT_STOP,             /* clean end of a stream (STOP frame seen) */
	DT_ERR_INVALID,      /* bad argument: a programming or usage error, do not retry */
	DT_ERR_NOMEM,        /* out of memory */
	DT_ERR_IO,           /* a system call failed: errno says why */
	DT_ERR_EOF,          /* input ended without a STOP frame (between frames) */
	DT_ERR_TRUNCATED,    /* input ended in the middle of a frame */
	DT_ERR_NOT_FSTRM,    /* input does not start with a Frame Streams START frame */
	DT_ERR_CONTROL,      /* malformed control frame */
	DT_ERR_CONTENT_TYPE, /* content type is not protobuf:dnstap.Dnstap */
	DT_ERR_TOO_BIG,      /* data frame over the size limit; it was skipped and reading can go on */
	DT_ERR_DECODE,       /* payload is not a valid dnstap.Dnstap protobuf */
	DT_ERR_NO_MESSAGE,   /* dnstap of type MESSAGE without its message field */
	DT_ERR_NOT_MESSAGE,  /* dnstap whose type is not MESSAGE (the only type defined) */
} dt_res;

/* A static, lowercase description of a result ("input ended in the middle of a frame"). */
const char *dt_strerror(dt_res res);

/* ==== Growable text buffer ==== */

/* Formatters append to one of these; the caller writes its contents out in large chunks. Start from
 * a zeroed struct; release with dt_buf_free(). `failed` is set if an allocation failed (contents are then
 * incomplete). */
struct dt_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

void dt_buf_free(struct dt_buf *b);

/* ==== The message view ==== */

/* Enum values as in dnstap.proto. Values unknown to this version are kept as plain numbers. */
enum dt_dnstap_type { DT_TYPE_MESSAGE = 1 };

enum dt_message_type {
	DT_AUTH_QUERY = 1, DT_AUTH_RESPONSE, DT_RESOLVER_QUERY, DT_RESOLVER_RESPONSE,
	DT_CLIENT_QUERY, DT_CLIENT_RESPONSE, DT_FORWARDER_QUERY, DT_FORWARDER_RESPONSE,
	DT_STUB_QUERY, DT_STUB_RESPONSE, DT_TOOL_QUERY, DT_TOOL_RESPONSE,
	DT_UPDATE_QUERY, DT_UPDATE_RESPONSE,
};

enum dt_socket_family { DT_INET = 1, DT_INET6 = 2 };

enum dt_socket_protocol {
	DT_UDP = 1, DT_TCP, DT_DOT, DT_DOH, DT_DNSCRYPT_UDP, DT_DNSCRYPT_TCP, DT_DOQ,
};

enum dt_http_protocol { DT_HTTP1 = 1, DT_HTTP2, DT_HTTP3 };

/* A byte string inside a decoded payload (or supplied by the caller for encoding). */
struct dt_bytes {
	const uint8_t *data;
	size_t len;
};

/* Plain C view of one dnstap.Dnstap. Each optional field has a has_ flag; a field whose flag is false is
 * absent (which the text formats distinguish from present-but-empty or zero). */
struct dt_message {
	/* Dnstap */
	bool has_identity, has_version, has_extra;
	struct dt_bytes identity, version, extra;
	int dnstap_type;  /* enum dt_dnstap_type */
	bool has_message; /* false: the fields below are all absent */

	/* Message */
	int type; /* enum dt_message_type */
	bool has_socket_family, has_socket_protocol;
	int socket_family;   /* enum dt_socket_family */
	int socket_protocol; /* enum dt_socket_protocol */
	bool has_query_address, has_response_address;
	struct dt_bytes query_address, response_address; /* 4 or 16 octets when well formed */
	bool has_query_port, has_response_port;
	uint32_t query_port, response_port;
	bool has_query_time_sec, has_query_time_nsec, has_response_time_sec, has_response_time_nsec;
	uint64_t query_time_sec, response_time_sec;
	uint32_t query_time_nsec, response_time_nsec;
	bool has_query_message, has_response_message, has_query_zone;
	struct dt_bytes query_message, response_message; /* DNS wire format */
	struct dt_bytes query_zone;                      /* uncompressed wire-format name */
	bool has_http_protocol;
	int http_protocol; /* enum dt_http_protocol */

	/* Message.policy */
	bool has_policy;
	bool has_policy_type, has_policy_rule, has_policy_action, has_policy_match, has_policy_value;
	const char *policy_type; /* NUL-terminated */
	struct dt_bytes policy_rule, policy_value;
	int policy_action, policy_match;
};

/* Names of enum values ("CLIENT_QUERY", "INET6", "DNSCryptUDP", ...), or NULL for a value this version
 * does not know. */
const char *dt_message_type_name(int type);
const char *dt_socket_family_name(int family);
const char *dt_socket_protocol_name(int protocol);
const char *dt_http_protocol_name(int protocol);
const char *dt_policy_action_name(int action);
const char *dt_policy_match_name(int match);

/* ==== Decoding and encoding ==== */

/* A decoder holds the memory of the last decoded message; reusing it makes decoding allocation-free once
 * it has warmed up. */
struct dt_decoder;

struct dt_decoder *dt_decoder_new(void);
void dt_decoder_free(struct dt_decoder *d);

/* Decodes one payload. On DT_OK, *msg points to a view owned by the decoder; it and the byte strings in
 * it stay valid until the next dt_decode() with the same decoder or dt_decoder_free(). Returns
 * DT_ERR_DECODE for bytes that are not a dnstap.Dnstap (a required field missing included). A MESSAGE
 * without its message field decodes fine (has_message false): the formats decide what to say. */
dt_res dt_decode(struct dt_decoder *d, const uint8_t *payload, size_t len, const struct dt_message **msg);

/* Serializes m into a payload. The encoded size is at most dt_encoded_size(m); out must have room for
 * that many bytes. On DT_OK *len is the number of bytes written. */
size_t dt_encoded_size(const struct dt_message *m);
dt_res dt_encode(const struct dt_message *m, uint8_t *out, size_t *len);

/* ==== Text formats ==== */

enum dt_format {
	DT_FORMAT_QUIET, /* one line per message, as `dnstap -q` */
	DT_FORMAT_YAML,  /* one document per message, as `dnstap -y` */
	DT_FORMAT_JSON,  /* one object per line, as `dnstap -j` */
};

/* Appends the text of m in format f to out, byte for byte as the Go dnstap tool (0.4.0) prints it, plus
 * the fields that tool omits (extra, policy, http_protocol, DNSCrypt/DOQ names) when present. Time
 * values in the quiet format use the local time zone (TZ), the others UTC. Returns DT_ERR_NOMEM if out
 * ran out of memory, DT_ERR_NO_MESSAGE or DT_ERR_NOT_MESSAGE (appending nothing) when there is no message
 * to print. */
dt_res dt_format(enum dt_format f, const struct dt_message *m, struct dt_buf *out);

/* ==== Reading Frame Streams files ==== */

struct dt_reader;

/* Opens a Frame Streams file ("-" is standard input) and reads its START frame. max_frame_size 0 means
 * DT_DEFAULT_MAX_FRAME_SIZE. On failure returns NULL with *res set (DT_ERR_IO with errno, DT_ERR_NOT_FSTRM,
 * DT_ERR_EOF for an empty file, DT_ERR_CONTROL, DT_ERR_CONTENT_TYPE). */
struct dt_reader *dt_reader_open(const char *path, size_t max_frame_size, dt_res *res);

/* Reads the next data frame. On DT_OK, *data and *len describe the payload, owned by the reader and valid
 * until the next call. Returns DT_STOP at the STOP frame. DT_ERR_TOO_BIG means one frame was skipped and
 * reading can go on; every other error ends the stream (DT_ERR_EOF: no STOP frame; DT_ERR_TRUNCATED: the
 * last frame is cut short; DT_ERR_CONTROL; DT_ERR_IO). */
dt_res dt_reader_next(struct dt_reader *r, const uint8_t **data, size_t *len);

/* Number of data frames met so far, the current one included (skipped oversize frames count). */
uint64_t dt_reader_frame_count(const struct dt_reader *r);

/* True if the START frame carried no content type (read as dnstap anyway, as the Go tool does). */
bool dt_reader_no_content_type(const struct dt_reader *r);

void dt_reader_close(struct dt_reader *r);

/* ==== Writing Frame Streams files ==== */

struct dt_writer;

/* Creates (truncates) or appends to path and writes the START frame. Data frames are buffered and
 * written in large chunks: call dt_writer_flush() to push them to the kernel. NULL with *res on failure. */
struct dt_writer *dt_writer_open(const char *path, bool append, dt_res *res);

/* Queues one data frame (payload bytes are copied). */
dt_res dt_writer_write(struct dt_writer *w, const uint8_t *payload, size_t len);

/* Writes everything buffered. */
dt_res dt_writer_flush(struct dt_writer *w);

/* Flushes, writes the STOP frame and closes the file. Returns the first error met, if any; w is freed in
 * every case. */
dt_res dt_writer_close(struct dt_writer *w);

/* ==== Outputs ==== */

/* An output consumes payloads: a text writer decodes and formats them, a Frame Streams file writer
 * stores them untouched. Every kind of output is driven through the same calls. */
struct dt_output;

/* Text in format f to path (NULL or "-": standard output; append: add to an existing file instead of
 * truncating it). Text is gathered and written in large chunks; dt_output_flush() writes what is pending. */
struct dt_output *dt_output_text_open(const char *path, enum dt_format f, bool append, dt_res *res);

/* A Frame Streams file (START, the payloads as data frames, STOP on close). */
struct dt_output *dt_output_fstrm_open(const char *path, bool append, dt_res *res);

/* Consumes one payload. Errors about this payload alone (DT_ERR_DECODE, DT_ERR_NO_MESSAGE,
 * DT_ERR_NOT_MESSAGE) leave the output usable; DT_ERR_IO (errno set) means the output is broken. */
dt_res dt_output_write(struct dt_output *o, const uint8_t *payload, size_t len);

/* Pushes everything pending to the kernel. */
dt_res dt_output_flush(struct dt_output *o);

/* Finishes the current file and opens the same path again (for log rotation: the old file, renamed
 * away, ends complete; the new one starts fresh). Standard output just flushes. */
dt_res dt_output_reopen(struct dt_output *o);

/* Flushes, finishes the file (STOP for Frame Streams) and frees o. Returns the first error met. */
dt_res dt_output_close(struct dt_output *o);

#ifdef __cplusplus
}
#endif

#endif
