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
	DT_ERR_FULL,         /* a queue was full: the message was dropped and counted (socket outputs, taps) */
} dt_res;

/* A static, lowercase description of a result ("input ended in the middle of a frame"). */
const char *dt_strerror(dt_res res);

/* ==== Logging ==== */

/* Every object that logs takes one of these with an argument. level is a syslog(3) priority: LOG_ERR,
 * the object itself is in trouble (an output failed); LOG_WARNING, an input or a peer misbehaved;
 * LOG_INFO, life events (sockets and connections opened and closed, files started, totals); LOG_DEBUG,
 * handshake steps. line has no program name and no trailing newline and is valid during the call only.
 * Objects that log from a thread of their own (socket outputs, taps) say so: their callback must then be
 * safe to call concurrently with the caller's code. */
typedef void (*dt_log_fn)(void *arg, int level, const char *line);

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
	DT_AUTH_QUERY = 1,
	DT_AUTH_RESPONSE,
	DT_RESOLVER_QUERY,
	DT_RESOLVER_RESPONSE,
	DT_CLIENT_QUERY,
	DT_CLIENT_RESPONSE,
	DT_FORWARDER_QUERY,
	DT_FORWARDER_RESPONSE,
	DT_STUB_QUERY,
	DT_STUB_RESPONSE,
	DT_TOOL_QUERY,
	DT_TOOL_RESPONSE,
	DT_UPDATE_QUERY,
	DT_UPDATE_RESPONSE,
};

enum dt_socket_family { DT_INET = 1, DT_INET6 = 2 };

enum dt_socket_protocol {
	DT_UDP = 1,
	DT_TCP,
	DT_DOT,
	DT_DOH,
	DT_DNSCRYPT_UDP,
	DT_DNSCRYPT_TCP,
	DT_DOQ,
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

/* Decodes one payload, copying no byte string. On DT_OK, *msg points to a view owned by the decoder,
 * valid until the next dt_decode() with the same decoder or dt_decoder_free(). The byte strings in it
 * point into the payload: they need both the payload (unchanged) and the view, so the caller must keep
 * the payload as long as it uses the view. policy_type is the exception, a NUL-terminated copy held by
 * the decoder. Returns DT_ERR_DECODE for bytes that are not a dnstap.Dnstap (a required field missing
 * included): exactly the payloads protobuf-c's generated unpack rejects. DT_ERR_NOMEM if the decoder
 * could not grow its policy_type buffer. A MESSAGE without its message field decodes fine (has_message
 * false): the formats decide what to say. */
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
	/* Formats of our own; see man/dnstap.1 (and doc/dnstap-json-full.schema.json for JSON). */
	DT_FORMAT_JSON_FULL,  /* one object per line with every field parsed: --format json-full */
	DT_FORMAT_JSON_FLAT,  /* the same as one flat object, keys the dotted paths: --flat */
	DT_FORMAT_LDNS_QUIET, /* `dnstap-ldns -q`, byte for byte (DNS text from ldns) */
	DT_FORMAT_LDNS_YAML,  /* `dnstap-ldns -y`, byte for byte */
};

/* Appends the text of m in format f to out, byte for byte as the Go dnstap tool (0.4.0) prints it, plus
 * the fields that tool omits (extra, policy, http_protocol, DNSCrypt/DOQ names) when present. Time
 * values in the quiet format use the local time zone (TZ), the others UTC. Returns DT_ERR_NOMEM if out
 * ran out of memory, DT_ERR_NO_MESSAGE or DT_ERR_NOT_MESSAGE (appending nothing) when there is no message
 * to print. */
dt_res dt_format(enum dt_format f, const struct dt_message *m, struct dt_buf *out);

/* Templates, CSV and TSV: lines of named fields, the names being DNS-collector's text-format directives
 * (timestamp-rfc3339ns, identity, operation, rcode, queryip, qname, qtype, latency, ...; man/dnstap.1
 * lists them). A missing value prints as "-". */
enum dt_template_kind {
	DT_TEMPLATE_TEXT, /* DNS-collector's form: names separated by white space, printed separated by
			   * spaces (a qname holding a space in quotes); or, when spec holds a '{', literal
			   * text with {name} fields */
	DT_TEMPLATE_CSV,  /* RFC 4180: comma-separated names; fields quoted when they need it, CRLF */
	DT_TEMPLATE_TSV,  /* tab-separated, LF; tab, CR, LF and backslash in a value as \t \r \n \\ */
};
struct dt_template;

/* Compiles spec (NULL or empty: DNS-collector's default text-format). NULL with *res DT_ERR_INVALID and a
 * one-line reason in err for an unknown name; DT_ERR_NOMEM. Free with dt_template_free(). */
struct dt_template *dt_template_new(enum dt_template_kind kind, const char *spec, char *err, size_t errsize,
				    dt_res *res);
void dt_template_free(struct dt_template *t);

/* Appends the line of m, as dt_format() does (same results). t is only read: one may serve many outputs. */
dt_res dt_template_format(const struct dt_template *t, const struct dt_message *m, struct dt_buf *out);

/* Appends the header line of CSV and TSV (the names); nothing for a text template. */
void dt_template_header(const struct dt_template *t, struct dt_buf *out);

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

/* Number of data frames met so far, the current one included (skipped oversize frames count; a last frame
 * cut short by the end of the input does not, whatever its size). */
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

/* ==== Items, sinks and stages ==== */

struct event_base; /* libevent 2.1: the one event loop of every object that needs one */

/* An item is what moves through the pipeline: the payload of one data frame plus where it came from.
 * Inputs make items and push them into a sink; stages look at them; outputs take them. The payload is
 * decoded at most once, by the first stage or output that needs its fields (dt_item_message()); every
 * later one reuses that view. Writing a Frame Streams file or relaying to a socket never decodes.
 *
 * An item lives during one push: the input fills it on its stack, and the payload, the names and the
 * decoded view are valid only until the push returns. Nothing downstream may keep a pointer into it. */
struct dt_decoder;

struct dt_item {
	const uint8_t *payload; /* the dnstap payload (one serialized dnstap.Dnstap) */
	size_t len;
	const char *input; /* the file it was read from ("(stdin)"); NULL for a socket connection */
	const char *peer;  /* the socket connection, as log lines name it ("/run/dnstap.sock: connection
			    * 3"): the listening socket and the sender; NULL for files */
	uint64_t frame;    /* data frame number within the file or connection, from 1 */

	/* private: the decode cache, managed by dt_item_message() */
	struct dt_decoder *decoder; /* set by the pipeline; NULL: the consumer's own */
	const struct dt_message *msg;
	dt_res decode_res;
	bool decoded;
};

/* Prepares it for a push: payload and names as given, no decode yet. */
void dt_item_init(struct dt_item *it, const uint8_t *payload, size_t len, const char *input, const char *peer,
		  uint64_t frame);

/* The decoded view of the item's payload, decoding it the first time it is asked for. Returns NULL with
 * *res set (DT_ERR_DECODE...) when the payload does not decode; the answer is kept, so a bad payload is
 * also decoded only once. The view is valid while the item is. */
const struct dt_message *dt_item_message(struct dt_item *it, dt_res *res);

/* Where inputs push items. push returns DT_OK when the item was taken (kept or dropped by a stage);
 * an error about this item alone (DT_ERR_DECODE, DT_ERR_NO_MESSAGE, DT_ERR_NOT_MESSAGE: an output could
 * not format it), after which the sink goes on; or DT_ERR_IO when the sink's output has failed and the
 * input should stop. */
struct dt_sink {
	dt_res (*push)(void *arg, struct dt_item *it);
	void *arg;
};

/* A stage decides, item by item, whether it goes on to the outputs. Filters, sampling and statistics
 * are stages. process() returns DT_KEEP or DT_DROP; it may decode the item (dt_item_message()), count
 * it, and must not keep pointers into it. name is the drop reason in counters and log lines ("filter",
 * "sample"). free() releases state when the pipeline is freed (NULL: nothing to free). */
enum dt_verdict { DT_KEEP, DT_DROP };

struct dt_stage_ops {
	const char *name;
	enum dt_verdict (*process)(void *state, struct dt_item *it);
	void (*free)(void *state);
};

/* The anonymisation stage, for sharing captures: each item's query and response addresses are
 * rewritten, and so is the EDNS Client Subnet of every OPT record in its wire messages (and, with
 * answers, their A and AAAA records, in every section); the item goes on as a new valid payload.
 * mode is "mask:/V4[,/V6]" (keep that many leading bits; V6 defaults to 48), "hmac:KEYFILE" (an address
 * of the same family from HMAC-SHA256; a key of 16 to 64 bytes) or "cryptopan:KEYFILE" (prefix-
 * preserving Crypto-PAn; a 32-byte key). A key file holds the raw key or its hex digits. An item whose
 * payload does not decode is dropped; a wire message that does not parse is taken out of its message
 * (dt_anonymizer_stripped() counts them), since its ECS could not be found for sure.
 *
 * dt_anonymizer_new() returns the stage's state for dt_pipeline_add_stage(p, &dt_anonymize_stage, st),
 * which then owns it; NULL with err filled on failure and *res DT_ERR_INVALID (a malformed mode, a key
 * of the wrong size), DT_ERR_IO (the key file cannot be read) or DT_ERR_NOMEM. */
struct dt_anonymize_options {
	const char *mode;
	bool answers;
	/* also the names: every label left of a name's registrable domain (libpsl's Public Suffix List)
	 * becomes a keyed label of [a-z0-9] of the same length, in the question, the owners, the names
	 * in rdata of the common types and the query zone; a message keeps its length and its
	 * compression pointers. A wire message that no longer parses then is taken out. */
	bool qnames;
};

struct dt_anonymizer;

struct dt_anonymizer *dt_anonymizer_new(const struct dt_anonymize_options *opt, char *err, size_t errsize, dt_res *res);

/* Wire messages taken out so far because they did not parse. Valid while the pipeline is open. */
uint64_t dt_anonymizer_stripped(const struct dt_anonymizer *st);

extern const struct dt_stage_ops dt_anonymize_stage;

/* ==== Filters and sampling ==== */

/* A filter: an expression over the fields of an item (see FILTERS in dnstap(1) for the language), such
 * as "type CQ,CR and suffix example.com and not rcode NOERROR". Parsed once; user-typed DNS values
 * (names, types, classes, rcodes) are read by ldns, and matching compares wire-format data, decoding the
 * DNS message only when a predicate needs it and allocating nothing once warmed up.
 *
 * dt_filter_new() parses expr[0:len) (it need not be NUL-terminated; '#' starts a comment up to the end
 * of the line). On failure it returns NULL with *res DT_ERR_INVALID (or DT_ERR_NOMEM), err filled with
 * one line saying what is wrong (no position in it) and *err_offset the byte offset in expr where the
 * problem is. The filter is freed by dt_filter_free(), or by the pipeline when it is the state of a
 * dt_filter_stage: dt_pipeline_add_stage(p, &dt_filter_stage, f) keeps the items f matches; an item that
 * does not decode is dropped. A filter is used by one thread at a time. */
struct dt_filter;

struct dt_filter *dt_filter_new(const char *expr, size_t len, char *err, size_t errsize, size_t *err_offset,
				dt_res *res);
void dt_filter_free(struct dt_filter *f);

/* Whether m matches (and counts the predicates evaluated). */
bool dt_filter_match(struct dt_filter *f, const struct dt_message *m);

/* Appends the parsed expression in its normal form: one line, every and/or group in parentheses, values
 * in canonical spelling (it parses back to the same filter). DT_ERR_NOMEM if out ran out of memory. */
dt_res dt_filter_format(const struct dt_filter *f, struct dt_buf *out);

/* Calls cb for each predicate, left to right, with its normal text (valid during the call) and how many
 * items it was evaluated on and matched (an and/or stops at the first operand that decides it). */
void dt_filter_foreach_predicate(const struct dt_filter *f,
				 void (*cb)(void *arg, const char *text, uint64_t evaluated, uint64_t matched),
				 void *arg);

extern const struct dt_stage_ops dt_filter_stage;

/* 1:N sampling: keeps an item when a keyed hash (SipHash-2-4, fixed key) of its sampling key is 0 modulo
 * n, so the choice is the same on every run and every machine. DT_SAMPLE_MESSAGE hashes the client
 * address (query_address), the DNS ID and the lowercased first question's name of the item's DNS
 * message, which a query and its response share, so they are kept or dropped together; an item without a
 * DNS message that parses that far hashes the client address and port instead. DT_SAMPLE_CLIENT hashes
 * the client address only: a client is kept whole or not at all. An item that does not decode hashes its
 * payload. dt_sampler_new() returns the state of a dt_sample_stage (the pipeline then owns it), or NULL
 * with *res DT_ERR_INVALID (n is 0) or DT_ERR_NOMEM. */
enum dt_sample_key { DT_SAMPLE_MESSAGE, DT_SAMPLE_CLIENT };

struct dt_sample_options {
	uint64_t n; /* keep 1 in n (1: everything) */
	enum dt_sample_key key;
};

struct dt_sampler;

struct dt_sampler *dt_sampler_new(const struct dt_sample_options *opt, dt_res *res);
void dt_sampler_free(struct dt_sampler *s);

/* Whether the sampler keeps m (what the stage does with a decoded item). */
bool dt_sampler_keep(const struct dt_sampler *s, const struct dt_message *m);

extern const struct dt_stage_ops dt_sample_stage;

/* ==== Outputs ==== */

/* An output takes items: a text writer formats their decoded view, a Frame Streams file stores the
 * payloads untouched, a socket output relays them. Every kind of output is driven through the same
 * calls; each is opened by its own dt_output_*_open() and ended by dt_output_close(). */
struct dt_output;

/* Text in format f to path (NULL or "-": standard output; append: add to an existing file instead of
 * truncating it). Text is gathered and written in large chunks; dt_output_flush() writes what is pending. */
struct dt_output *dt_output_text_open(const char *path, enum dt_format f, bool append, dt_res *res);

/* The same with lines from a template (CSV and TSV: the header line first, unless appending to a file
 * that is not empty). t is borrowed: it must outlive the output. */
struct dt_output *dt_output_template_open(const char *path, const struct dt_template *t, bool append, dt_res *res);

/* A Frame Streams file (START, the payloads as data frames, STOP on close). */
struct dt_output *dt_output_fstrm_open(const char *path, bool append, dt_res *res);

/* A file output that rotates: Frame Streams or text, with the rotation an operator expects of a
 * collector. Without split_seconds and max_size it writes path, and dt_output_reopen() finishes it and
 * starts it afresh once it has been moved away (logrotate's rename, then SIGHUP). With either, path is
 * a strftime(3) pattern in local time and every file is a new one: "-N" is added before the extension
 * when the name exists already, so a finished file is never overwritten; dt_output_reopen() starts the
 * next file. A rotation opens the next file first, so a failure keeps the current one in use (and is
 * tried again a second later); a file whose last frames cannot be written stops the output, and no
 * empty file is left behind. */
struct dt_file_options {
	bool text;                      /* text in `format` instead of Frame Streams */
	enum dt_format format;          /* with text */
	const struct dt_template *tmpl; /* with text: lines from this template instead of format (borrowed) */
	bool append;                    /* with text and without rotation: append to the file */
	unsigned split_seconds;         /* start a new file at every multiple of this many seconds (needs base) */
	uint64_t max_size;              /* start a new file before the current one would exceed this many bytes
					 * (Frame Streams: measured frame by frame, never exceeded unless one frame is
					 * larger; text: measured on disk after each flush) */
	struct event_base *base;        /* libevent loop for the split timer; NULL: no time-based rotation */
	dt_log_fn log;                  /* "writing PATH", "PATH: finished (size), N frames; now writing NEXT", ... */
	void *log_arg;
};

void dt_file_options_init(struct dt_file_options *opt);

/* Opens the first file (creating it, or truncating it unless appending). NULL with *res set: DT_ERR_IO
 * with errno, DT_ERR_INVALID for a pattern that makes no name, DT_ERR_NOMEM. opt is copied. */
struct dt_output *dt_output_file_open(const char *path, const struct dt_file_options *opt, dt_res *res);

/* A pcap file of the DNS messages (libpcap's dump format, readable by Wireshark, tshark, dnscap):
 * one packet per wire message an item carries, with IPv4/IPv6 and UDP/TCP headers made from the
 * message's addresses, ports and protocol (TCP, DoT, DoH, DNSCrypt over TCP: segments carrying the
 * two-byte length, with sequence numbers that follow on per flow; the others UDP; every kind on its
 * real ports), at the query or response time. The query goes from the query address to the response
 * address, the response back. An item without wire bytes writes nothing and is counted as skipped
 * (dt_output_stats()). path NULL or "-": standard output. dt_output_reopen() only flushes. */
struct dt_pcap_options {
	bool ethernet; /* Ethernet frames (default); false: raw IP (DLT_RAW) */
};

void dt_pcap_options_init(struct dt_pcap_options *opt);

struct dt_output *dt_output_pcap_open(const char *path, const struct dt_pcap_options *opt, dt_res *res);

/* Consumes one item. Errors about this item alone (DT_ERR_DECODE, DT_ERR_NO_MESSAGE, DT_ERR_NOT_MESSAGE)
 * leave the output usable; DT_ERR_FULL means it was dropped (and counted) because a queue was full;
 * DT_ERR_IO (errno set) means the output is broken. */
dt_res dt_output_write_item(struct dt_output *o, struct dt_item *it);

/* dt_output_write_item() on a payload alone (no origin; the output decodes it itself if it must). */
dt_res dt_output_write(struct dt_output *o, const uint8_t *payload, size_t len);

/* Pushes everything pending to the kernel. */
dt_res dt_output_flush(struct dt_output *o);

/* For log rotation (SIGHUP): a file output finishes the current file and starts the next (see
 * dt_output_file_open()); a plain file is reopened only if it has been moved away, since reopening in
 * place would truncate it, and otherwise just flushed. Standard output and sockets just flush. */
dt_res dt_output_reopen(struct dt_output *o);

/* The output's name for log lines: the file being written now ("(stdout)"), or the collector address. */
const char *dt_output_name(const struct dt_output *o);

/* Counters of an output; a snapshot, consistent with itself. Safe from any thread while o is open. */
struct dt_output_stats {
	uint64_t written;  /* items handed on whole: to the kernel, on an established connection for sockets;
			    * exact also after a write error (a disk that fills mid-batch keeps the frames
			    * before the cut), so the items given minus this are the ones the output lacks */
	uint64_t dropped;  /* items that will never be delivered (queue full, connection lost, closed) */
	uint64_t queued;   /* items waiting in the output's queue now */
	uint64_t failed;   /* of dropped: refused or timed out at the destination after being queued (Kafka
			    * delivery reports with an error) */
	uint64_t connects; /* completed handshakes (socket outputs) */
	uint64_t files;    /* files started (file outputs: 1 + the rotations and reopens) */
	uint64_t skipped;  /* items the output had nothing to write for, not an error (pcap: no DNS wire
			    * message in it, malformed addresses, too large for a packet) */
	uint64_t packets;  /* packets written (pcap: one per wire message) */
	bool connected;    /* a socket output's handshake has completed and the connection is up */
	bool exact;        /* written is exact; false for text, which cannot tell which line reached disk */
};

/* Fills *st. DT_ERR_INVALID for a NULL o or st. */
dt_res dt_output_stats(const struct dt_output *o, struct dt_output_stats *st);

/* Flushes, finishes the file (STOP for Frame Streams) and frees o. Returns the first error met. */
dt_res dt_output_close(struct dt_output *o);

/* ==== The pipeline ==== */

/* A pipeline joins inputs to outputs: it is the sink every input pushes into (dt_pipeline_sink()), runs
 * each item through its stages in order, and hands the items that are kept to every output. It owns
 * the stages and outputs added to it, one decoder for the items, and one set of counters: what came in,
 * what each stage dropped, what each output lacks and why. With an event base it writes out what
 * arrives within flush_ms and once a second for good measure, so that a quiet listener's output is
 * never stale; without one the caller flushes.
 *
 * Lifetime: dt_pipeline_new(), add stages and outputs, push (directly or through inputs), then
 * dt_pipeline_close(). An output that fails (DT_ERR_IO) breaks the pipeline: it is logged once (LOG_ERR
 * "NAME: write error: ...", except a reader of standard output that went away, which is quiet), and
 * every later push is counted as lost and returns DT_ERR_IO. All on one thread. */
struct dt_pipeline;

struct dt_pipeline_options {
	struct event_base *base; /* for the flush timers (NULL: none) */
	unsigned flush_ms;       /* written out within this after arriving (default 10) */
	dt_log_fn log;           /* items an output could not format, output failures; NULL: silent */
	void *log_arg;
};

void dt_pipeline_options_init(struct dt_pipeline_options *opt);

/* NULL when memory runs out. opt NULL: defaults. */
struct dt_pipeline *dt_pipeline_new(const struct dt_pipeline_options *opt);

/* Appends a stage; items meet the stages in the order they were added. state belongs to the pipeline
 * from now on (ops->free releases it), also when this fails (DT_ERR_NOMEM). ops must outlive p. */
dt_res dt_pipeline_add_stage(struct dt_pipeline *p, const struct dt_stage_ops *ops, void *state);

/* Adds an output; it belongs to the pipeline from now on (closed by dt_pipeline_close(), or at once if
 * this fails with DT_ERR_NOMEM). name, if not NULL, names it in log lines instead of dt_output_name(). */
dt_res dt_pipeline_add_output(struct dt_pipeline *p, struct dt_output *o, const char *name);

/* Runs it through the stages and into the outputs. Returns as struct dt_sink's push does. */
dt_res dt_pipeline_push(struct dt_pipeline *p, struct dt_item *it);

/* The pipeline as a sink for inputs (valid as long as p). */
struct dt_sink dt_pipeline_sink(struct dt_pipeline *p);

/* Flushes every output; DT_ERR_IO if one failed (the pipeline is then broken). */
dt_res dt_pipeline_flush(struct dt_pipeline *p);

/* dt_output_reopen() on every output (SIGHUP). */
dt_res dt_pipeline_reopen(struct dt_pipeline *p);

/* Counters. dropped[] follows the stages in the order they were added (at most DT_MAX_STAGES). */
#define DT_MAX_STAGES 16
struct dt_pipeline_stats {
	uint64_t items;                  /* pushed */
	uint64_t bytes;                  /* their payload bytes */
	uint64_t kept;                   /* passed every stage */
	uint64_t dropped[DT_MAX_STAGES]; /* dropped by each stage */
	uint64_t unformatted;            /* an output could not format them (undecodable payload, no message) */
	uint64_t queue_full;             /* an output's queue was full: dropped */
	uint64_t lost;                   /* kept items an output lacks because it failed */
	unsigned stages;
	bool broken;      /* an output failed */
	bool reader_gone; /* ...because standard output's reader went away (EPIPE) */
};

void dt_pipeline_get_stats(const struct dt_pipeline *p, struct dt_pipeline_stats *st);

/* The name of stage i (its ops->name: the reason of dropped[i]), NULL past the last. */
const char *dt_pipeline_stage_name(const struct dt_pipeline *p, unsigned i);

/* Output i in the order they were added, and its name in log lines (valid while p is); NULL past the
 * last. For reports: the output still belongs to p. */
const struct dt_output *dt_pipeline_output(const struct dt_pipeline *p, unsigned i, const char **name);

/* Flushes and closes every output, frees the stages and p. Returns the first output error met while
 * closing (DT_ERR_IO with errno), or DT_OK; a pipeline already broken returns DT_OK here (its failure
 * was logged and is in the stats). Accepts NULL. */
dt_res dt_pipeline_close(struct dt_pipeline *p);

/* ==== Inputs: Frame Streams files ==== */

/* Reads a Frame Streams file ("-": standard input) to its end and pushes every data frame into sink, as
 * an item named after the file ("(stdin)" for "-"). Problems are logged (LOG_WARNING) in one line
 * naming the file and the frame: an oversize frame (skipped, reading goes on), a missing STOP frame, a
 * frame cut short, a file that is not Frame Streams; a START without content type is read as dnstap
 * with a warning. Returns DT_OK when every frame was read and taken; otherwise the first problem
 * (DT_ERR_IO from the sink stops reading at once; a frame the sink could not format is reported after
 * the whole file). */
struct dt_file_input_options {
	size_t max_frame_size; /* 0: DT_DEFAULT_MAX_FRAME_SIZE */
	dt_log_fn log;
	void *log_arg;
};

void dt_file_input_options_init(struct dt_file_input_options *opt);

dt_res dt_input_file_read(const char *path, const struct dt_sink *sink, const struct dt_file_input_options *opt);

/* ==== TLS ==== */

/* Frame Streams over TLS 1.2 or 1.3 (OpenSSL 3, its default ciphers; no ALPN), as Unbound sends it with
 * dnstap-tls and CoreDNS with tls://. Strings are file names (PEM) or names; the functions that take
 * these options read the files at once and copy what they keep. */

/* A TLS listener's side. */
struct dt_tls_server_options {
	const char *cert_file;      /* our certificate chain, ours first (required) */
	const char *key_file;       /* its private key (required) */
	const char *client_ca_file; /* mutual TLS: require a client certificate issued by one of these
				     * CAs (NULL: none is asked for) */
};

/* A sender's side (dt_sender_options.tls). Zeroed: no TLS. */
struct dt_tls_client_options {
	bool enable;             /* speak TLS to the collector (also implied by a "tls://" spec) */
	const char *ca_file;     /* CAs that may issue the collector's certificate (NULL: the system's) */
	const char *server_name; /* the name sent as SNI and checked in the collector's certificate (NULL:
				  * the spec's host; an IP address is checked as one and sends no SNI) */
	const char *cert_file;   /* our client certificate for mutual TLS (with key_file; NULL: none) */
	const char *key_file;
	bool insecure; /* accept any certificate (tests, or a trusted path): no verification */
};

/* ==== Listening on sockets ==== */

/* A listener receives dnstap from DNS servers on unix and TCP sockets, inside the caller's libevent 2.1
 * event loop: any number of listening sockets, any number of concurrent senders. Each connection goes
 * through the Frame Streams handshake (READY -> ACCEPT carrying protobuf:dnstap.Dnstap -> START, or a
 * bare START from a unidirectional sender); then the payload of every data frame is pushed, whole, into
 * the caller's sink as an item, in the order the sender sent it; a STOP is answered with FINISH at once
 * and the connection is closed. A sender that misbehaves (silent past the handshake timeout, garbage, a
 * wrong content type, a malformed control frame, gone in the middle of a frame) is logged and
 * disconnected; an oversize data frame is skipped by its length prefix and logged, and its connection
 * goes on. Other connections never notice.
 *
 * The listener never prints: every event is one line handed to the caller's log callback, naming the
 * connection. The receive path reads up to 1 MiB per system call, into one buffer the listener shares
 * among its connections, and makes no allocation and no copy per frame (a frame is handed over where it
 * lies in the read buffer; only one that straddles two reads is copied, into the connection's own
 * buffer). Memory per connection is bounded by the largest frame accepted. With a read delay
 * (dt_listener_set_read_delay()), a sender that writes one frame at a time costs one wake-up per batch
 * of frames rather than one per frame.
 *
 * Lifetime: dt_listener_new(), then the setters and dt_listener_add_unix()/_add_tcp(); the caller runs
 * the event loop; dt_listener_shutdown() ends the listening and the connections, dt_listener_free()
 * releases the listener. Everything happens on the thread that runs the loop. */

struct dt_listener;

#define DT_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u /* READY/START must come within this after connecting */
#define DT_DEFAULT_MAX_CONNECTIONS 1024u

/* Creates a listener on base, which must outlive it. Every data frame is pushed into sink (copied; its
 * arg must outlive the listener) as an item whose peer names the listening socket and the connection as
 * the log lines do ("/run/dnstap.sock: connection 3", "127.0.0.1:6000: connection 4 from
 * 127.0.0.1:40112"); frames are numbered per connection from 1 (skipped oversize frames take a number
 * too). The sink must not call dt_listener_shutdown() or dt_listener_free(); its result is not the
 * listener's business (a pipeline counts what its outputs lack). Listens on nothing until
 * dt_listener_add_unix()/_add_tcp(). Returns NULL if memory runs out or sink is NULL. */
struct dt_listener *dt_listener_new(struct event_base *base, const struct dt_sink *sink);

/* Sends the lines of level max_level and more urgent (LOG_INFO is a good default) to log with arg.
 * Without a log function, nothing is logged. */
void dt_listener_set_log(struct dt_listener *l, dt_log_fn log, void *arg, int max_level);

/* Largest data frame accepted, in bytes (0: DT_DEFAULT_MAX_FRAME_SIZE); larger frames are skipped. Applies
 * from the next frame on. DT_ERR_INVALID above UINT32_MAX. */
dt_res dt_listener_set_max_frame_size(struct dt_listener *l, size_t bytes);

/* Time a new connection has to complete its handshake (reach START), in milliseconds; 0: no limit.
 * Default DT_DEFAULT_HANDSHAKE_TIMEOUT_MS. Applies to connections accepted after the call. */
dt_res dt_listener_set_handshake_timeout(struct dt_listener *l, unsigned ms);

/* Batches the reads of busy senders: after a read of less than 64 KiB from a sender past its
 * handshake, that connection's next read waits us microseconds (0, the default: reads follow every
 * write at once; DT_ERR_INVALID from a second on). On a unix socket the wait is at most 200 us: its
 * buffer holds only a few hundred small writes, which a fast sender fills in about that time. A TCP
 * connection's queue holds megabytes, and 1000 is a good value there: a millisecond of frames then
 * arrives in one read, which for a sender that writes frame by frame costs a third less CPU than
 * 200 us. The event base should be made with EVENT_BASE_FLAG_PRECISE_TIMER: epoll's own timeouts are
 * whole milliseconds, which would stretch the unix socket's wait. */
dt_res dt_listener_set_read_delay(struct dt_listener *l, unsigned us);

/* Most connections open at once (0: DT_DEFAULT_MAX_CONNECTIONS). At the limit the listener stops
 * accepting (new senders wait in the kernel's backlog, nothing is refused) and logs it once; it accepts
 * again as soon as a connection closes. */
dt_res dt_listener_set_max_connections(struct dt_listener *l, unsigned n);

/* Listens on a unix stream socket at path (created with the process umask). A stale socket left there
 * (nobody accepting on it) is replaced. Anything else at path is left alone: DT_ERR_IO with errno EEXIST
 * (not a socket) or EADDRINUSE (a live socket: another process is listening). Other failures: DT_ERR_IO
 * with errno, DT_ERR_NOMEM. The socket file is removed by dt_listener_shutdown() if it is still ours. */
dt_res dt_listener_add_unix(struct dt_listener *l, const char *path);

/* Permissions of the unix sockets added after this call, for DNS servers that run as their own users
 * (unbound, bind, knot): mode (such as 0660; 0: what the umask gives), owner uid and group gid (-1:
 * unchanged). They are applied to the socket file after bind() and before listen(): until then a
 * connect() is refused, so no sender can connect before they hold. DT_ERR_INVALID for a mode above
 * 07777. A failure to apply them fails dt_listener_add_unix() (DT_ERR_IO with errno, EPERM...). */
dt_res dt_listener_set_unix_permissions(struct dt_listener *l, unsigned mode, long uid, long gid);

/* Adopts fd, a stream socket already bound and listening (passed in by a service manager: systemd's
 * socket activation), as a listening socket whose log lines use name. It is made non-blocking and
 * belongs to the listener from now on; a socket file behind it is never removed by the listener.
 * DT_ERR_IO with errno EINVAL if fd is not a listening stream socket (it is then left open). */
dt_res dt_listener_add_listening(struct dt_listener *l, int fd, const char *name);

/* Listens on TCP at "HOST:PORT" or "[IPv6]:PORT". HOST is a literal address or a name (every address
 * it resolves to is listened on); an empty HOST means every local address. PORT 0 picks a free port:
 * the actual address is in the LOG_INFO line "listening on ...". DT_ERR_INVALID for a malformed or
 * unresolvable address, DT_ERR_IO with errno (EADDRINUSE...), DT_ERR_NOMEM. */
dt_res dt_listener_add_tcp(struct dt_listener *l, const char *host_port);

/* Listens on TCP as dt_listener_add_tcp() does, serving Frame Streams inside TLS (opt: a certificate and
 * key, and a client CA for mutual TLS). The handshake runs inside the handshake timeout and never blocks
 * the loop; a connection's LOG_INFO line "TLS established (...)" names the version and the peer's
 * certificate subject. Mismatches (plain Frame Streams on this socket, a failed verification, a missing
 * client certificate) close the connection with one line. DT_ERR_INVALID also when the files cannot be
 * used: that is logged at LOG_ERR with the file and OpenSSL's reason. */
dt_res dt_listener_add_tls(struct dt_listener *l, const char *host_port, const struct dt_tls_server_options *opt);

/* Reads every TLS socket's certificate and key files again, for the connections accepted from now on
 * (open ones keep theirs): what SIGHUP should do. A socket whose new files cannot be used keeps the old
 * ones, with one LOG_ERR line. DT_OK if all were reloaded (or there is no TLS socket), else
 * DT_ERR_INVALID. */
dt_res dt_listener_reload(struct dt_listener *l);

/* Accepts TCP and TLS connections only from cidr ("192.0.2.0/24", "2001:db8::/32", or one address);
 * repeatable, each call adds a range. With none, every address is accepted. Others are closed at accept
 * with one LOG_WARNING line (unix sockets are not affected). DT_ERR_INVALID for a malformed range. */
dt_res dt_listener_allow(struct dt_listener *l, const char *cidr);

/* Adopts fd, a socket already connected to a sender (inherited from inetd or a service manager, or one
 * end of a socketpair), as a connection like an accepted one; its log lines begin with name. The fd is
 * made non-blocking, belongs to the listener from now on (closed on any failure too) and counts against
 * the connection limit. DT_ERR_IO with errno (EINVAL after dt_listener_shutdown()), DT_ERR_NOMEM. */
dt_res dt_listener_add_connected(struct dt_listener *l, int fd, const char *name);

/* Ends listening for shutdown: closes the listening sockets (and removes the unix socket files), then
 * tells every connected sender this end is going (its read side sees the end: shutdown(SHUT_WR), TLS
 * close_notify) and reads on, pushing the frames into the sink, until the sender closes: a sender that
 * reads (dt_output_socket, Unbound) closes at once, and then every frame it counts as sent has been
 * pushed. A sender that does not is read until its bytes stop for 300 ms, 3 s at most in all; this call
 * blocks meanwhile. Each connection's totals are logged as it closes. The sink is not called after it
 * returns. Calling it again does nothing. Not to be called from a listener callback. */
void dt_listener_shutdown(struct dt_listener *l);

struct dt_listener_stats {
	uint64_t connections; /* connections accepted */
	unsigned open;        /* connections open now */
	uint64_t frames;      /* data frames pushed into the sink */
	uint64_t bytes;       /* their payload bytes */
	uint64_t skipped;     /* oversize data frames skipped */
	uint64_t rejected;    /* connections closed because the peer misbehaved */
	uint64_t refused;     /* connections refused at accept: not in the dt_listener_allow() ranges */
	/* of rejected, by reason (the rest: read errors, out of memory) */
	uint64_t handshake_timeouts; /* no READY or START (or no TLS handshake) within the timeout */
	uint64_t handshake_errors;   /* not Frame Streams, a wrong content type, an unexpected control frame,
				      * a failed TLS handshake */
	uint64_t bad_control;        /* a malformed control frame */
	uint64_t cut;                /* gone in the middle of a frame; also (not rejected then) a sender that
				      * stopped mid-frame when told of dt_listener_shutdown() */
};

/* Fills *s with the totals so far (valid after dt_listener_shutdown() too). */
void dt_listener_get_stats(const struct dt_listener *l, struct dt_listener_stats *s);

/* Shuts down (if not done) and frees l. Accepts NULL. Call it before freeing the event base. */
void dt_listener_free(struct dt_listener *l);

/* ==== Sending (socket output) ==== */

/* A socket output relays payloads to a Frame Streams collector (the Go `dnstap -u/-l` tool,
 * fstrm_capture, a dnstap listener) over a bidirectional connection: READY(content type), ACCEPT,
 * START, data frames, and on close STOP and FINISH. It is a struct dt_output like the others, so the
 * dt_output_* calls drive it; the calls below add what only a sender has.
 *
 * Writing never waits for the network (unless the `blocking` option asks for it): each payload is
 * framed into a bounded queue under a short lock, and a thread owned by the output writes whole
 * batches to the socket. While the collector is away the queue keeps what it can hold, the thread
 * reconnects with a growing pause (100 ms doubling up to `reconnect_max_ms`), and the backlog goes
 * out after the next handshake. A message that cannot be sent (queue full, a frame cut by a broken
 * connection, still queued when the output is closed and the collector is unreachable) is counted
 * as dropped, never as sent.
 *
 * Accounting limit: Frame Streams has no acknowledgement before FINISH. A message counts as sent
 * once the kernel has taken it on an established connection; if the collector dies with bytes still
 * unread in its socket, those few are lost without the sender being able to know. */

/* Sender options. Fill with dt_sender_options_init() and change what you need; a NULL pointer
 * where options are taken means all defaults. */
struct dt_sender_options {
	size_t queue_size;                /* messages the queue holds (default 10000); more are dropped */
	size_t queue_bytes;               /* bytes of queue storage: a payload takes its length + 4, a tap
					   * message about 110 bytes + its byte strings (0, the default:
					   * 1024 per message, at least 1 MiB) */
	unsigned timeout_ms;              /* bound for connect + handshake, for flush + STOP + FINISH when
					   * closing, and for `blocking` waits (default 5000) */
	unsigned reconnect_max_ms;        /* longest pause between connection attempts (default 3000) */
	bool blocking;                    /* for finite replays (a file to a socket): open makes one connection
					   * attempt and fails if it does; a write into a full queue waits for
					   * room instead of dropping, and fails once the collector has been
					   * unreachable for timeout_ms. Default false: never wait, drop. */
	dt_log_fn log;                    /* connection changes (LOG_INFO, LOG_WARNING), and drops at most every
					   * 10 s (LOG_WARNING), from the output's own thread; NULL: silent */
	void *log_arg;                    /* passed to log */
	struct dt_tls_client_options tls; /* TLS to a "tcp://" collector (default: none) */
};

void dt_sender_options_init(struct dt_sender_options *opt);

/* Opens a socket output. spec is the collector's address as CoreDNS writes it: "/path" or
 * "unix:///path" (also "unix:path"), or "tcp://HOST:PORT" where HOST is an IPv4 address, an IPv6
 * address in brackets, or a name (resolved with getaddrinfo() at each connection attempt); "tls://HOST:PORT"
 * is TCP with TLS (opt->tls, whose files are read here: DT_ERR_INVALID, logged at LOG_ERR, when they cannot
 * be used; TLS failures of a connection are logged like any other and retried). The
 * output starts its thread and connects in the background; options are copied, spec need not
 * outlive the call. Returns NULL with *res set: DT_ERR_INVALID for a malformed spec or option,
 * DT_ERR_NOMEM, DT_ERR_IO (errno) if a thread or pipe cannot be made; with `blocking`, also the
 * first connection's failure (DT_ERR_IO with errno such as ECONNREFUSED, ENOENT or ETIMEDOUT,
 * DT_ERR_CONTENT_TYPE if the collector refuses protobuf:dnstap.Dnstap, DT_ERR_CONTROL for a
 * malformed handshake).
 *
 * Through the generic calls: dt_output_write_item() copies the payload into the queue; when it has
 * to drop it (queue full, or larger than the whole queue) it returns DT_ERR_FULL, and the drop is
 * counted in dt_output_stats(); in blocking mode it waits for room instead, and returns DT_ERR_IO
 * (errno) once the collector is given up. dt_output_flush()
 * wakes the sender thread and does not wait. dt_output_reopen() does nothing. dt_output_close()
 * sends what is queued, STOP, and waits for FINISH, all within timeout_ms; it returns DT_OK if FINISH
 * arrived, or if there was no connection and nothing left to send; otherwise DT_ERR_IO with errno
 * (ETIMEDOUT, ECONNREFUSED, ...), and the messages still queued are counted as dropped. It joins
 * the thread: no log callback runs after it returns; o is freed in every case. */
struct dt_output *dt_output_socket_open(const char *spec, const struct dt_sender_options *opt, dt_res *res);

/* ==== Kafka (librdkafka) ==== */

/* A Kafka output produces every item to one topic, and a Kafka input consumes a topic into a sink, so
 * that many servers' collectors can feed one topic and any number of consumers read it. Both are built
 * on librdkafka; in a build without it (configure --without-kafka) the open calls fail with
 * DT_ERR_INVALID and say so in errstr. */

enum dt_kafka_format {
	DT_KAFKA_DNSTAP, /* the dnstap payload, byte for byte: one message per dnstap frame */
	DT_KAFKA_JSON,   /* the line `dnstap -j` prints, without its newline */
	DT_KAFKA_TEXT,   /* the line `dnstap -q` prints, without its newline */
};

/* The message key: Kafka puts messages with one key in one partition, in order. Messages without the
 * field the mode names go without a key (spread over the partitions). */
enum dt_kafka_key {
	DT_KAFKA_KEY_NONE,
	DT_KAFKA_KEY_IDENTITY,  /* Dnstap.identity: one server's messages together */
	DT_KAFKA_KEY_CLIENT_IP, /* the query address as text ("192.0.2.1"): one client's together */
	DT_KAFKA_KEY_QNAME,     /* the first question's name, lowercased ("example.com.") */
};

/* Kafka output options. Fill with dt_kafka_options_init(); strings are copied by the open call. */
struct dt_kafka_options {
	const char *brokers; /* bootstrap servers, "host:port[,host:port...]" (required) */
	const char *topic;   /* (required) */
	enum dt_kafka_format format;
	enum dt_kafka_key key;
	const char *const *props; /* n_props "PROP=VALUE" strings handed to librdkafka after ours, so
				   * they override them (compression.codec, security.protocol, ...) */
	size_t n_props;
	unsigned flush_timeout_ms;  /* dt_output_close() waits this long for acknowledgements (10000) */
	unsigned stats_interval_ms; /* a counters line at LOG_INFO this often while they change (60000;
				     * 0: only the summary at close) */
	bool blocking;              /* for finite replays: when librdkafka's queue is full, wait for room
				     * (up to flush_timeout_ms without progress) instead of dropping */
	dt_log_fn log;              /* broker trouble and drops (LOG_WARNING, at most every 10 s), the
				     * counters, librdkafka's own lines (LOG_DEBUG); called on the thread that
				     * writes, flushes and closes the output. NULL: silent */
	void *log_arg;
};

void dt_kafka_options_init(struct dt_kafka_options *opt);

/* Counters of a Kafka output. Every item written is in exactly one of delivered, failed, dropped_full,
 * dropped_other, undelivered and in_flight (items the output could not format are refused by
 * dt_output_write_item() and are in none). */
struct dt_kafka_stats {
	uint64_t received;      /* items written to the output */
	uint64_t queued;        /* accepted into librdkafka's queue */
	uint64_t delivered;     /* acknowledged by the broker */
	uint64_t failed;        /* accepted, then refused or timed out (message.timeout.ms): reasons logged */
	uint64_t dropped_full;  /* not accepted: librdkafka's queue was full (queue.buffering.max.*) */
	uint64_t dropped_other; /* not accepted: too large (message.max.bytes), unknown topic, ... */
	uint64_t undelivered;   /* still unacknowledged at close after flush_timeout_ms: purged */
	uint64_t in_flight;     /* queued, not yet acknowledged nor failed */
};

/* Opens a producer. The brokers are contacted in the background: an unreachable cluster is logged and
 * retried, and messages wait in librdkafka's queue up to its message.timeout.ms (5 minutes unless set)
 * before they count as failed. Writing never waits for the network (unless `blocking`): the item is
 * copied into librdkafka's bounded queue; DT_ERR_FULL when it is full (counted in dropped_full) or
 * librdkafka refuses it (too large: dropped_other); DT_ERR_IO (EIO) after a fatal producer error
 * (idempotence lost), which breaks the output.
 * dt_output_flush() serves delivery reports and does not wait; dt_output_reopen() flushes.
 * dt_output_close() waits up to flush_timeout_ms for what is in flight, purges what is left (counted as
 * undelivered), logs the summary, and returns DT_ERR_IO with errno ETIMEDOUT if anything was undelivered
 * or EIO if anything failed; o is freed in every case. dt_output_stats(): written is delivered, dropped
 * everything that will never be, failed the part of it that the brokers refused or that timed out,
 * queued in_flight, connected whether a broker is up.
 * NULL with *res on failure: DT_ERR_INVALID (a missing broker or topic, a bad property: the reason, in
 * librdkafka's words where they are its, goes to errstr, of errsize bytes, if not NULL), DT_ERR_NOMEM. */
struct dt_output *dt_output_kafka_open(const struct dt_kafka_options *opt, char *errstr, size_t errsize, dt_res *res);

/* Fills *st for an output opened by dt_output_kafka_open(); DT_ERR_INVALID for any other. Safe from any
 * thread while o is open. */
dt_res dt_output_kafka_stats(const struct dt_output *o, struct dt_kafka_stats *st);

/* Where a Kafka input starts in each partition. */
enum dt_kafka_from {
	DT_KAFKA_FROM_COMMITTED, /* the group's committed offset; the beginning where it has none */
	DT_KAFKA_FROM_BEGINNING, /* the oldest message the brokers keep */
	DT_KAFKA_FROM_END,       /* only messages produced from now on */
};

/* Kafka input options. Fill with dt_kafka_input_options_init(); strings are copied by the open call. */
struct dt_kafka_input_options {
	const char *brokers; /* (required) */
	const char *topic;   /* (required) */
	const char *group;   /* consumer group whose offsets are read and committed (default "dnstap") */
	enum dt_kafka_from from;
	bool exit_at_end;         /* dt_kafka_input_run() returns once every partition has been read to its end */
	const char *const *props; /* as in struct dt_kafka_options */
	size_t n_props;
	size_t max_frame_size; /* larger messages are skipped (0: DT_DEFAULT_MAX_FRAME_SIZE) */
	unsigned commit_ms;    /* commit at most this often (default 1000) */
	unsigned timeout_ms;   /* with exit_at_end, give up on a cluster unreachable this long (10000) */
	/* Called before each commit: the items pushed so far must be written out (dt_pipeline_flush()).
	 * Offsets are committed only when it returns DT_OK, so every message is written before its offset
	 * is committed (at least once). NULL: nothing to flush. */
	dt_res (*flush)(void *arg);
	void *flush_arg; /* also tick's */
	/* Called on the reading thread at least every 100 ms, for what the program must do between
	 * messages (a rotation asked for by SIGHUP). NULL: nothing. */
	void (*tick)(void *arg);
	dt_log_fn log; /* skipped messages and broker trouble (LOG_WARNING), partitions read to the end
			* and totals (LOG_INFO), librdkafka's lines (LOG_DEBUG); NULL: silent */
	void *log_arg;
};

void dt_kafka_input_options_init(struct dt_kafka_input_options *opt);

struct dt_kafka_input;

/* Creates a consumer of every partition of the topic (it does not share them with other members of the
 * group: the group is where its offsets are kept). Nothing is contacted until dt_kafka_input_run().
 * NULL with *res and errstr as dt_output_kafka_open(). */
struct dt_kafka_input *dt_kafka_input_open(const struct dt_kafka_input_options *opt, char *errstr, size_t errsize,
					   dt_res *res);

/* Pushes every message into sink, one item per message (input: the topic, frame: the offset + 1, peer:
 * "TOPIC [PARTITION]"); a message that is not a dnstap payload (or is over max_frame_size) is logged in
 * one line naming topic, partition and offset and skipped. The item is decoded by the input, with the
 * decoder it lends through the item, so the pipeline does not decode it again. Runs until
 * dt_kafka_input_stop(), the end of every partition with exit_at_end, or a sink failure (DT_ERR_IO), and
 * commits the offsets of what was pushed (after flush) on the way out. Returns DT_OK; DT_ERR_DECODE if
 * messages were skipped; DT_ERR_IO if the sink failed or, with exit_at_end, the cluster or topic could
 * not be reached (logged) or a commit failed. */
dt_res dt_kafka_input_run(struct dt_kafka_input *in, const struct dt_sink *sink);

/* Makes dt_kafka_input_run() return soon. Async-signal-safe: meant for a SIGTERM handler. */
void dt_kafka_input_stop(struct dt_kafka_input *in);

struct dt_kafka_input_stats {
	uint64_t messages;  /* consumed */
	uint64_t bytes;     /* their value bytes */
	uint64_t skipped;   /* not dnstap, or too large */
	uint64_t committed; /* messages whose offsets have been committed */
};

void dt_kafka_input_get_stats(const struct dt_kafka_input *in, struct dt_kafka_input_stats *st);

/* Closes the consumer (leaving the group) and frees in. Accepts NULL. */
void dt_kafka_input_close(struct dt_kafka_input *in);

/* ==== Statistics ==== */

/* The statistics stage counts every item it sees (messages by input, dnstap type, qtype, rcode, protocol
 * and family; bytes; decode failures), keeps top lists of query names, NXDOMAIN and SERVFAIL names,
 * clients, identities and sender connections in fixed-memory space-saving sketches, and pairs queries
 * with their responses (same type pair, addresses, ports, DNS ID, qname and qtype) in a fixed-size table
 * for a latency histogram. Whatever the input, its memory is what its options say, allocated by
 * dt_stats_new(); nothing is allocated per item. Add it as the FIRST stage so that it sees every
 * arrival: it keeps every item.
 *
 * At report time it also reads the counters of the components it is told about (the pipeline: drops by
 * stage and by reason; the listener: connections and skipped frames; outputs: written, dropped, queued)
 * and of any source added with dt_stats_add_source(), and writes them all through one metrics writer:
 * Prometheus text exposition 0.0.4 (dt_stats_prometheus()), JSON (dt_stats_json()), or a text report
 * (dt_stats_report()). man dnstap(1), METRICS, lists every metric. All calls on the pipeline's thread. */
struct dt_stats;

struct dt_stats_options {
	unsigned top;                /* entries in each top list (default 10; at most 1000); each sketch
				      * holds DT_STATS_SKETCH_FACTOR times as many */
	unsigned latency_slots;      /* queries awaiting a response (default 65536, rounded up to a power of
				      * 2; at most 2^24); queries beyond are counted as overflow */
	unsigned latency_timeout_ms; /* a query unanswered this long, in message time, gives up its slot
				      * (default 10000) */
};
#define DT_STATS_SKETCH_FACTOR 8

void dt_stats_options_init(struct dt_stats_options *opt);

/* NULL with *res: DT_ERR_INVALID for options out of range, DT_ERR_NOMEM. The result is the state of
 * dt_pipeline_add_stage(p, &dt_stats_stage, st), which then owns it (freed with the pipeline); a
 * dt_stats that is never added is freed with dt_stats_free(). */
struct dt_stats *dt_stats_new(const struct dt_stats_options *opt, dt_res *res);
void dt_stats_free(struct dt_stats *st);

extern const struct dt_stage_ops dt_stats_stage;

/* Components whose counters go into the reports; each must outlive st's last report (NULL: none). */
void dt_stats_set_pipeline(struct dt_stats *st, const struct dt_pipeline *p);
void dt_stats_set_listener(struct dt_stats *st, const struct dt_listener *l);

enum dt_stats_output_kind {
	DT_STATS_OUTPUT_FILE,  /* a file or standard output */
	DT_STATS_OUTPUT_RELAY, /* a socket output (-U, -T) */
	DT_STATS_OUTPUT_KAFKA, /* dt_output_kafka_open() */
};

/* An output of the pipeline, reported under name (copied). At most 16. DT_ERR_NOMEM. */
dt_res dt_stats_add_output(struct dt_stats *st, const struct dt_output *o, const char *name,
			   enum dt_stats_output_kind kind);

/* The metrics writer: what a source writes its counters through, whatever the report's format. A family
 * is a metric name (with the dnstap_ prefix; counters end in _total), its type and one line of help;
 * its samples follow it, each with labels (n pairs; values any text, escaped by the writer) and a value.
 * suffix is appended to the family's name for the sample ("_bucket", "_sum", "_count" of a histogram;
 * NULL: none). Every sample of a family must be written before the next family begins. */
struct dt_metrics_writer;

enum dt_metric_type { DT_METRIC_COUNTER, DT_METRIC_GAUGE, DT_METRIC_HISTOGRAM };

struct dt_label {
	const char *name; /* [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value;
};

void dt_metrics_family(struct dt_metrics_writer *w, const char *name, enum dt_metric_type type, const char *help);
void dt_metrics_sample(struct dt_metrics_writer *w, const char *suffix, const struct dt_label *labels, size_t n,
		       uint64_t value);
void dt_metrics_sample_double(struct dt_metrics_writer *w, const char *suffix, const struct dt_label *labels, size_t n,
			      double value);

/* A source: called at each report, after the stage's own families, to write its own (a filter's
 * per-predicate matches, say). At most 16. DT_ERR_NOMEM. */
typedef void (*dt_stats_source_fn)(void *arg, struct dt_metrics_writer *w);
dt_res dt_stats_add_source(struct dt_stats *st, dt_stats_source_fn fn, void *arg);

/* Appends the whole report to out: Prometheus text exposition format 0.0.4; a JSON object
 * {"version":..., "uptime_seconds":..., "metrics":{NAME:{"type","help","samples":[{"labels":{},
 * "value"}]}}} (histogram samples carry their full name in "name"); or a text report like dnstop's
 * summary, for a human or a CI log. DT_ERR_NOMEM if out ran out of memory. */
dt_res dt_stats_prometheus(struct dt_stats *st, struct dt_buf *out);
dt_res dt_stats_json(struct dt_stats *st, struct dt_buf *out);
dt_res dt_stats_report(struct dt_stats *st, struct dt_buf *out);

/* One line (no newline) on what came since the previous call (the first: since dt_stats_new()):
 * "stats: 10s: 12345 messages (1234.5/s), 0 dropped, ...". */
dt_res dt_stats_summary_line(struct dt_stats *st, struct dt_buf *out);

/* ---- The metrics HTTP server ---- */

/* Serves the reports over HTTP/1.1 with libevent's evhttp on base (the pipeline's loop: a request is
 * answered between two reads of the senders, and never waits for anything): GET /metrics (Prometheus),
 * GET /stats.json, GET / (a self-contained live page that polls /stats.json). HEAD as GET. Other paths
 * 404, other methods 405; clients outside the allowed ranges get 403. Headers are limited to 8 KiB,
 * bodies to 1 KiB, and an idle or slow connection is closed after 10 s; the kernel's backlog and
 * max_connections (default 256; more are closed at accept) bound what clients can hold. */
struct dt_metrics_server;

/* Listens on "HOST:PORT" ("[::1]:PORT"; port 0 picks one: dt_metrics_server_port()). With no
 * dt_metrics_server_allow() call, only loopback clients (127.0.0.0/8, ::1) are answered. NULL with *res:
 * DT_ERR_INVALID (a malformed address), DT_ERR_IO (errno: cannot bind), DT_ERR_NOMEM. st must outlive it. */
struct dt_metrics_server *dt_metrics_server_new(struct event_base *base, struct dt_stats *st, const char *host_port,
						dt_res *res);

/* Answers clients in cidr ("192.0.2.0/24", "::1"); the first call replaces the loopback default.
 * DT_ERR_INVALID for a malformed range, DT_ERR_NOMEM. */
dt_res dt_metrics_server_allow(struct dt_metrics_server *s, const char *cidr);

/* The port it listens on. */
unsigned dt_metrics_server_port(const struct dt_metrics_server *s);

struct dt_metrics_server_stats {
	uint64_t requests;         /* answered, any status */
	uint64_t denied;           /* 403: not in the allowed ranges */
	uint64_t connections;      /* accepted in all */
	uint64_t connections_open; /* at most 64, and those closed to make room until they are gone */
	uint64_t evicted;          /* the oldest, closed because a 65th came */
};
void dt_metrics_server_get_stats(const struct dt_metrics_server *s, struct dt_metrics_server_stats *out);

/* Closes the socket and every connection. Accepts NULL. Before freeing base. */
void dt_metrics_server_free(struct dt_metrics_server *s);

/* ==== Tap API ==== */

/* Producing dnstap from a C program, the way CoreDNS's plugins do: open a tap on a collector
 * address (or on any output: a file, a pipeline's output), and at each event build a struct dt_message (type, times,
 * addresses, wire messages when the tap is `full`) and hand it to dt_tap_send(), which encodes it and queues it without
 * ever blocking. A full queue drops the message and counts it; the count is logged at most every 10 seconds through the
 * log callback and can be read at any time. See libdnstap(3) for an example. */
struct dt_tap;

struct dt_tap_options {
	const char *identity;            /* Dnstap.identity (NULL, the default: the host name; "": none) */
	const char *version;             /* Dnstap.version (NULL, the default: "libdnstap VERSION"; "": none) */
	bool full;                       /* the caller should include wire messages (dt_tap_full()); default false */
	struct dt_sender_options sender; /* queue size, timeouts, log callback */
};

void dt_tap_options_init(struct dt_tap_options *opt);

/* Opens a tap on spec ("/path", "unix:///path", "tcp://HOST:PORT", as dt_output_socket_open()).
 * opt NULL means defaults; strings in it are copied. Returns NULL with *res set on failure (see
 * dt_output_socket_open()). A NULL tap is how a program says "not configured": dt_tap_send(NULL,...)
 * and dt_tap_close(NULL) are harmless. */
struct dt_tap *dt_tap_open(const char *spec, const struct dt_tap_options *opt, dt_res *res);

/* Opens a tap on any output, which belongs to the tap from now on (closed with it, or at once when
 * this fails). On a socket output messages are queued as records and encoded on the output's thread;
 * on any other output dt_tap_send() encodes under the tap's lock and writes the payload there, so it
 * then takes as long as that output's write. opt->sender is ignored. NULL with *res: DT_ERR_NOMEM. */
struct dt_tap *dt_tap_new(struct dt_output *out, const struct dt_tap_options *opt, dt_res *res);

/* True if the tap was opened with `full`: the caller should then set the wire messages. */
bool dt_tap_full(const struct dt_tap *t);

/* Queues m: its fields and byte strings are copied into the queue (no protobuf work on the caller's
 * thread; the tap's own thread encodes it with dt_encode()). Identity and version come from the tap
 * unless m has its own; m is sent as a dnstap MESSAGE whatever its dnstap_type. m and every buffer
 * it points to are only read during the call: they may be reused or freed as soon as it returns.
 * On a socket output it never blocks (even if the sender options ask for `blocking`). Returns DT_OK
 * when queued; DT_ERR_FULL when the queue was full and the message was dropped (and counted), the
 * same result a socket output's write gives; DT_ERR_TOO_BIG when the encoded message exceeds the
 * whole queue (dropped and counted); on another output, what its write returns; DT_ERR_INVALID for a NULL m or a type
 * outside 1..14; DT_OK and nothing else for a NULL tap. Safe to call from several threads at once. */
dt_res dt_tap_send(struct dt_tap *t, const struct dt_message *m);

/* Messages dropped so far (0 for a NULL tap). */
uint64_t dt_tap_dropped(const struct dt_tap *t);

/* The counters of the tap's output (dt_output_stats()), with the messages the tap itself refused
 * added to dropped. DT_ERR_INVALID for a NULL tap. */
dt_res dt_tap_stats(const struct dt_tap *t, struct dt_output_stats *st);

/* Sends what is queued, STOP, waits for FINISH (all within the sender's timeout_ms), and frees t.
 * Returns as dt_output_close() does for a socket output; DT_OK for a NULL tap. */
dt_res dt_tap_close(struct dt_tap *t);

/* Building a message. These setters mirror CoreDNS's msg.Set* helpers. Byte strings are not copied:
 * the message points into the caller's sockaddr and buffers, which must stay valid until the
 * message has been passed to dt_tap_send() (or dt_encode()). */
struct sockaddr;
struct timespec;

/* Zeroes m and makes it a dnstap MESSAGE of the given type (enum dt_message_type, 1..14). */
void dt_message_init(struct dt_message *m, int type);
void dt_message_set_type(struct dt_message *m, int type);

/* Sets the query (initiator) or response (responder) address and port from an AF_INET or AF_INET6
 * sockaddr, and the message's socket family and protocol (enum dt_socket_protocol: DT_UDP,
 * DT_TCP, ...). An IPv4-mapped IPv6 address is stored as a 4-byte INET address, as CoreDNS does.
 * DT_ERR_INVALID for another address family (m is then unchanged). */
dt_res dt_message_set_query_address(struct dt_message *m, const struct sockaddr *sa, int protocol);
dt_res dt_message_set_response_address(struct dt_message *m, const struct sockaddr *sa, int protocol);

/* Sets the query or response time; ts NULL means now (CLOCK_REALTIME). */
void dt_message_set_query_time(struct dt_message *m, const struct timespec *ts);
void dt_message_set_response_time(struct dt_message *m, const struct timespec *ts);

/* Sets the wire-format DNS query or response message, or the query zone (an uncompressed
 * wire-format name). */
void dt_message_set_query_message(struct dt_message *m, const void *wire, size_t len);
void dt_message_set_response_message(struct dt_message *m, const void *wire, size_t len);
void dt_message_set_query_zone(struct dt_message *m, const void *name, size_t len);

#ifdef __cplusplus
}
#endif

#endif
