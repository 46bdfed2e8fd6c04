/* The socket-free part of dnstap-proxy's request path: checks on DNS messages, the SERVFAIL the proxy
 * makes up, splitting a client's TCP stream into messages, and building the dnstap messages it taps.
 * Pure functions over caller-owned bytes, so that tests/fuzz/fuzz_proxy.c can drive them without a
 * socket; dnstap-proxy.c does the I/O around them. */
#ifndef PROXY_WIRE_H
#define PROXY_WIRE_H

#include <dnstap.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;
struct timespec;

/* ==== DNS messages ==== */

#define DNS_HEADER_LEN 12
/* Header and first question at most: what the proxy keeps of a query to match its answer and to build
 * a SERVFAIL. */
#define DNS_QKEEP (DNS_HEADER_LEN + 255 + 4)

/* A query: at least a header, QR clear. */
bool dns_is_query(const uint8_t *m, size_t len);

/* An answer: at least a header, QR set. */
bool dns_is_answer(const uint8_t *m, size_t len);

/* The message ID; m must hold a header. */
uint16_t dns_id(const uint8_t *m);
void dns_set_id(uint8_t *m, uint16_t id);

/* Length of the header and first question of q[0..len), len >= DNS_HEADER_LEN: at most len and
 * DNS_QKEEP. DNS_HEADER_LEN when there is no question or it does not parse. */
size_t dns_question_end(const uint8_t *q, size_t len);

/* True if answer b[0..blen) asks the question kept in a[0..alen) (alen from dns_question_end()): the
 * same question count, the same name (ASCII letters compared without case) and the same type and
 * class. Always true when a kept no question (alen <= DNS_HEADER_LEN): there is nothing to compare. */
bool dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Writes into out a SERVFAIL with the given ID for the query whose header and question are q[0..qlen)
 * (qlen from dns_question_end()): QR set, opcode, RD and CD kept, the question echoed, no records.
 * out needs qlen bytes. Returns its length, qlen. */
size_t dns_servfail(uint8_t *out, const uint8_t *q, size_t qlen, uint16_t id);

/* ==== DNS over TCP: 2-byte length prefix, then the message ==== */

enum tcp_next {
	TCP_NEED_MORE, /* the next message is not whole yet */
	TCP_SKIP,      /* a whole message not to forward: shorter than a header, or an answer */
	TCP_QUERY,     /* a whole query */
};

/* Bytes of the stream tcp_next_message() looks at: the prefix and the flags byte of the header. */
#define TCP_HEAD_LEN 5

/* Says what starts a client's buffered TCP stream. avail is the number of bytes buffered; head holds the
 * first head_len of them, head_len = min(avail, TCP_HEAD_LEN), and nothing past head_len is read. For
 * TCP_SKIP and TCP_QUERY, *len is the message's length: it takes 2 + *len bytes of the stream. */
enum tcp_next tcp_next_message(const uint8_t *head, size_t head_len, size_t avail, size_t *len);

/* ==== The dnstap messages tapped (as CoreDNS's dnstap plugin sets them) ==== */

/* The client leg: type DT_CLIENT_QUERY or DT_CLIENT_RESPONSE, the client initiates. tr NULL: no
 * response time. With full, wire[0..len) is set as the query or the response message, by type. m points
 * into client and wire (see dt_message_set_query_address()), which must stay valid while m is used. */
void tap_client_message(struct dt_message *m, int type, const struct sockaddr *client, int proto,
			const struct timespec *tq, const struct timespec *tr, bool full, const uint8_t *wire,
			size_t len);

/* The upstream leg: type DT_FORWARDER_QUERY or DT_FORWARDER_RESPONSE, the proxy's own socket (local)
 * initiates, upstream responds. Otherwise as tap_client_message(). */
void tap_forwarder_message(struct dt_message *m, int type, const struct sockaddr *local,
			   const struct sockaddr *upstream, int proto, const struct timespec *tq,
			   const struct timespec *tr, bool full, const uint8_t *wire, size_t len);

#endif
