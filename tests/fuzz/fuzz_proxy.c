/* Fuzz target: dnstap-proxy's request path without its sockets (src/proxy_wire.c). The input is what a
 * client sends over TCP: DNS messages, each behind its 2-byte length. It is split as the proxy splits
 * it, once whole and once arriving in pieces, which must give the same messages, with the lengths the
 * prefixes say. Each message then goes the way a UDP datagram goes:
 *   a query: the question kept (dns_question_end), a SERVFAIL built for it (a well-formed answer to
 *   the same question, no longer than the question kept), the ID rewritten for the upstream, and
 *   answers made from it, mutated, matched against it by dns_same_question;
 *   an answer: matched against the last query kept;
 * and each one tapped as the proxy taps it (CLIENT_QUERY, FORWARDER_QUERY, FORWARDER_RESPONSE,
 * CLIENT_RESPONSE): the message built, encoded with dt_encode(), decoded with dt_decode(), and every
 * field, the wire bytes first, must come back as set. */
#include "../../src/proxy_wire.h"
#include "fuzz.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- Buffers of exactly the size of what they hold, so that sanitizers see any over-read ---- */

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	FUZZ_CHECK(c != NULL);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

/* ---- References: what the functions promise, written out the long way ---- */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* End of the wire-format name at q[i] (labels of 0..63 bytes ending with the root label or a
 * compression pointer), or 0 if it runs past len. */
static size_t name_end(const uint8_t *q, size_t len, size_t i)
{
	while (i < len) {
		uint8_t l = q[i];
		if (l == 0)
			return i + 1;
		if (l >= 0xc0)
			return i + 2 <= len ? i + 2 : 0;
		if (l >= 0x40)
			return 0;
		i += 1 + (size_t)l;
	}
	return 0;
}

static size_t ref_question_end(const uint8_t *q, size_t len)
{
	if (q[4] == 0 && q[5] == 0)
		return DNS_HEADER_LEN;
	size_t end = name_end(q, len, DNS_HEADER_LEN);
	if (end == 0 || len - end < 4 || end + 4 > DNS_QKEEP)
		return DNS_HEADER_LEN;
	return end + 4;
}

/* The question kept in a[0, alen) is asked by b: same count, same name up to the case of its letters,
 * same type and class. */
static bool ref_same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen <= DNS_HEADER_LEN)
		return true;
	if (blen < alen || a[4] != b[4] || a[5] != b[5])
		return false;
	size_t i = DNS_HEADER_LEN;
	for (;;) {
		uint8_t l = a[i];
		if (b[i] != l)
			return false;
		if (l == 0) {
			i++;
			break;
		}
		if (l >= 0xc0) {
			if (b[i + 1] != a[i + 1])
				return false;
			i += 2;
			break;
		}
		for (size_t k = 1; k <= l; k++)
			if (lower(a[i + k]) != lower(b[i + k]))
				return false;
		i += 1 + (size_t)l;
	}
	FUZZ_CHECK(i + 4 == alen);
	return memcmp(a + i, b + i, 4) == 0;
}

/* ---- The TCP stream ---- */

struct msg {
	size_t off, len; /* the message is data[off, off + len) */
	enum tcp_next kind;
};

static struct msg *msgs;
static size_t n_msgs, cap_msgs;
static uint8_t *head_buf; /* TCP_HEAD_LEN bytes: a head of h bytes sits at its end */

/* tcp_next_message() on the next message of stream[pos, avail). */
static enum tcp_next next_message(const uint8_t *stream, size_t pos, size_t avail, size_t *len)
{
	size_t h = avail - pos < TCP_HEAD_LEN ? avail - pos : TCP_HEAD_LEN;
	uint8_t *head = head_buf + TCP_HEAD_LEN - h;
	memcpy(head, stream + pos, h);
	return tcp_next_message(head, h, avail - pos, len);
}

static void split_whole(const uint8_t *data, size_t size)
{
	n_msgs = 0;
	size_t pos = 0, len;
	enum tcp_next k;
	while ((k = next_message(data, pos, size, &len)) != TCP_NEED_MORE) {
		FUZZ_CHECK(size - pos >= 2 && len == ((size_t)data[pos] << 8 | data[pos + 1]));
		FUZZ_CHECK(size - pos - 2 >= len);
		FUZZ_CHECK(k == (len >= DNS_HEADER_LEN && !(data[pos + 4] & 0x80) ? TCP_QUERY : TCP_SKIP));
		if (n_msgs == cap_msgs) {
			cap_msgs = cap_msgs ? 2 * cap_msgs : 256;
			msgs = realloc(msgs, cap_msgs * sizeof(*msgs));
			FUZZ_CHECK(msgs != NULL);
		}
		msgs[n_msgs++] = (struct msg){pos + 2, len, k};
		pos += 2 + len;
	}
	/* what is left is not a whole message */
	FUZZ_CHECK(size - pos < 2 || size - pos - 2 < ((size_t)data[pos] << 8 | data[pos + 1]));
}

/* The same stream arriving piece by piece gives the same messages, each as soon as it is whole. */
static void split_pieces(const uint8_t *data, size_t size, size_t piece)
{
	size_t arrived = 0, pos = 0, i = 0, len;
	while (arrived < size) {
		arrived += size - arrived < piece ? size - arrived : piece;
		enum tcp_next k;
		while ((k = next_message(data, pos, arrived, &len)) != TCP_NEED_MORE) {
			FUZZ_CHECK(i < n_msgs && msgs[i].off == pos + 2 && msgs[i].len == len && msgs[i].kind == k);
			pos += 2 + len;
			i++;
		}
		/* nothing whole is left waiting */
		FUZZ_CHECK(i == n_msgs || msgs[i].off + msgs[i].len > arrived);
	}
	FUZZ_CHECK(i == n_msgs);
}

/* ---- Taps ---- */

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* An address of family kind % 3 (IPv4, IPv6, IPv4-mapped IPv6) made from seed. */
static void make_addr(union addr *a, unsigned kind, uint16_t seed, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	switch (kind % 3) {
	case 0:
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(port);
		memcpy(&a->in.sin_addr, (uint8_t[4]){192, 0, (uint8_t)(seed >> 8), (uint8_t)seed}, 4);
		break;
	case 1:
	case 2:
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		uint8_t *b = a->in6.sin6_addr.s6_addr;
		if (kind % 3 == 1) {
			memcpy(b, (uint8_t[4]){0x20, 0x01, 0x0d, 0xb8}, 4);
		} else {
			b[10] = b[11] = 0xff;
			b[12] = 198;
			b[13] = 51;
		}
		b[14] = (uint8_t)(seed >> 8);
		b[15] = (uint8_t)seed;
		break;
	}
}

/* The address bytes and family dnstap carries for a: a mapped address as IPv4. */
static bool same_addr(const union addr *a, const struct dt_message *d, bool query)
{
	const struct dt_bytes got = query ? d->query_address : d->response_address;
	uint32_t port = query ? d->query_port : d->response_port;
	bool has = query ? d->has_query_address && d->has_query_port : d->has_response_address && d->has_response_port;
	const uint8_t *want;
	size_t want_len;
	int family;
	if (a->sa.sa_family == AF_INET) {
		want = (const uint8_t *)&a->in.sin_addr;
		want_len = 4;
		family = DT_INET;
	} else if (a->in6.sin6_addr.s6_addr[10] == 0xff) {
		want = a->in6.sin6_addr.s6_addr + 12;
		want_len = 4;
		family = DT_INET;
	} else {
		want = a->in6.sin6_addr.s6_addr;
		want_len = 16;
		family = DT_INET6;
	}
	uint16_t want_port = ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port);
	return has && d->has_socket_family && d->socket_family == family && got.len == want_len &&
	       memcmp(got.data, want, want_len) == 0 && port == want_port;
}

static bool same_bytes(struct dt_bytes b, const uint8_t *p, size_t n)
{
	return b.len == n && (n == 0 || memcmp(b.data, p, n) == 0);
}

struct tap {
	int type;
	bool forwarder;
	const union addr *initiator, *upstream;
	int proto;
	struct timespec tq, tr;
	bool has_tr, full;
	const uint8_t *wire;
	size_t len;
};

/* Builds the message as the proxy does, encodes, decodes, and checks every field. */
static void tap_round_trip(const struct tap *t)
{
	static struct dt_decoder *dec;
	static uint8_t *enc;
	static size_t enc_cap;
	if (dec == NULL) {
		dec = dt_decoder_new();
		FUZZ_CHECK(dec != NULL);
	}

	struct dt_message m;
	const struct timespec *tr = t->has_tr ? &t->tr : NULL;
	if (t->forwarder)
		tap_forwarder_message(&m, t->type, &t->initiator->sa, &t->upstream->sa, t->proto, &t->tq, tr, t->full,
				      t->wire, t->len);
	else
		tap_client_message(&m, t->type, &t->initiator->sa, t->proto, &t->tq, tr, t->full, t->wire, t->len);

	size_t need = dt_encoded_size(&m), len = 0;
	if (need > enc_cap) {
		uint8_t *p = realloc(enc, need);
		FUZZ_CHECK(p != NULL);
		enc = p;
		enc_cap = need;
	}
	FUZZ_CHECK(dt_encode(&m, enc, &len) == DT_OK && len <= need);
	const struct dt_message *d;
	FUZZ_CHECK(dt_decode(dec, enc, len, &d) == DT_OK);

	FUZZ_CHECK(d->dnstap_type == DT_TYPE_MESSAGE && d->has_message && d->type == t->type);
	FUZZ_CHECK(!d->has_identity && !d->has_version && !d->has_extra && !d->has_query_zone && !d->has_policy);
	FUZZ_CHECK(d->has_socket_protocol && d->socket_protocol == t->proto);
	FUZZ_CHECK(same_addr(t->initiator, d, true));
	if (t->forwarder)
		FUZZ_CHECK(same_addr(t->upstream, d, false));
	else
		FUZZ_CHECK(!d->has_response_address && !d->has_response_port);
	FUZZ_CHECK(d->has_query_time_sec && d->query_time_sec == (uint64_t)t->tq.tv_sec);
	FUZZ_CHECK(d->has_query_time_nsec && d->query_time_nsec == (uint32_t)t->tq.tv_nsec);
	FUZZ_CHECK(d->has_response_time_sec == t->has_tr && d->has_response_time_nsec == t->has_tr);
	if (t->has_tr)
		FUZZ_CHECK(d->response_time_sec == (uint64_t)t->tr.tv_sec &&
			   d->response_time_nsec == (uint32_t)t->tr.tv_nsec);

	bool query = t->type == DT_CLIENT_QUERY || t->type == DT_FORWARDER_QUERY;
	FUZZ_CHECK(d->has_query_message == (t->full && query));
	FUZZ_CHECK(d->has_response_message == (t->full && !query));
	if (t->full)
		FUZZ_CHECK(same_bytes(query ? d->query_message : d->response_message, t->wire, t->len));
}

/* The four taps of one exchange, over UDP or TCP, with addresses and times made from the message. */
struct exchange {
	unsigned index;
	union addr client, local, upstream;
	int proto;
	bool full;
	struct timespec tq, tf, tr;
};

static void exchange_init(struct exchange *x, unsigned index, const uint8_t *m, size_t len)
{
	uint16_t seed = len >= 2 ? dns_id(m) : (uint16_t)len;
	x->index = index;
	make_addr(&x->client, index, seed, (uint16_t)(1024 + seed));
	/* the proxy's upstream socket has the upstream's family */
	make_addr(&x->local, index % 2, (uint16_t)~seed, 40000);
	make_addr(&x->upstream, index % 2, 53, 53);
	x->proto = index % 2 ? DT_TCP : DT_UDP;
	x->full = (index / 2) % 2 == 0;
	x->tq = (struct timespec){1700000000 + (time_t)seed, (long)(len * 7919u % 1000000000u)};
	x->tf = (struct timespec){x->tq.tv_sec, (x->tq.tv_nsec + 1000) % 1000000000};
	x->tr = (struct timespec){x->tq.tv_sec + 1, 999999999};
}

static void tap(const struct exchange *x, int type, const uint8_t *wire, size_t len)
{
	bool forwarder = type == DT_FORWARDER_QUERY || type == DT_FORWARDER_RESPONSE;
	bool response = type == DT_CLIENT_RESPONSE || type == DT_FORWARDER_RESPONSE;
	struct tap t = {
		.type = type,
		.forwarder = forwarder,
		.initiator = forwarder ? &x->local : &x->client,
		.upstream = &x->upstream,
		.proto = x->proto,
		.tq = forwarder ? x->tf : x->tq,
		.tr = x->tr,
		.has_tr = response,
		.full = x->full,
		.wire = wire,
		.len = len,
	};
	tap_round_trip(&t);
}

/* ---- Datagrams ---- */

/* A well-formed SERVFAIL for the question kept in q[0, qlen), with the given ID. */
static void check_servfail(const uint8_t *out, size_t n, const uint8_t *q, size_t qlen, uint16_t id)
{
	FUZZ_CHECK(n == qlen && n >= DNS_HEADER_LEN && n <= DNS_QKEEP);
	FUZZ_CHECK(dns_id(out) == id);
	FUZZ_CHECK(out[2] & 0x80);                    /* QR */
	FUZZ_CHECK((out[2] & 0x79) == (q[2] & 0x79)); /* opcode, RD */
	FUZZ_CHECK((out[2] & 0x06) == 0);             /* not AA, not TC */
	FUZZ_CHECK((out[3] & 0x0f) == 2);             /* RCODE SERVFAIL */
	FUZZ_CHECK((out[3] & 0xf0) == (q[3] & 0x10)); /* CD kept; RA, Z, AD clear */
	FUZZ_CHECK(out[4] == 0 && out[5] == (n > DNS_HEADER_LEN));
	for (int i = 6; i < 12; i++)
		FUZZ_CHECK(out[i] == 0); /* no records */
	FUZZ_CHECK(memcmp(out + DNS_HEADER_LEN, q + DNS_HEADER_LEN, n - DNS_HEADER_LEN) == 0);
	/* an answer, with the same question found in it again: one the proxy would take for an answer to
	 * this query, unless the query counted other than one question */
	FUZZ_CHECK(dns_is_answer(out, n) && !dns_is_query(out, n));
	FUZZ_CHECK(dns_question_end(out, n) == n);
	FUZZ_CHECK(dns_same_question(q, qlen, out, n) == (n == DNS_HEADER_LEN || (q[4] == 0 && q[5] == 1)));
}

static void check_match(const uint8_t *kept, size_t qlen, const uint8_t *a, size_t alen)
{
	FUZZ_CHECK(dns_same_question(kept, qlen, a, alen) == ref_same_question(kept, qlen, a, alen));
}

/* Answers made from the query q[0, len): the same question matches, whatever the case of its letters;
 * one flipped bit in the count, a label or the type or class is matched as the reference says; an
 * answer shorter than the question never matches. */
static void check_answers(const uint8_t *kept, size_t qlen, const uint8_t *q, size_t len)
{
	uint8_t *a = dup_exact(q, len);
	a[2] |= 0x80;
	FUZZ_CHECK(dns_same_question(kept, qlen, a, len));
	if (qlen > DNS_HEADER_LEN) {
		FUZZ_CHECK(!dns_same_question(kept, qlen, a, qlen - 1));
		/* positions: the count, the type and class, and two in the name the message picks */
		size_t at[8] = {4,
				5,
				qlen - 4,
				qlen - 3,
				qlen - 2,
				qlen - 1,
				DNS_HEADER_LEN + q[len - 1] % (qlen - DNS_HEADER_LEN),
				DNS_HEADER_LEN + q[len / 2] % (qlen - DNS_HEADER_LEN)};
		const uint8_t flips[3] = {0x20, 0x01, (uint8_t)(q[len - 2] | 1)};
		for (size_t i = 0; i < 8; i++)
			for (size_t f = 0; f < 3; f++) {
				a[at[i]] ^= flips[f];
				check_match(kept, qlen, a, len);
				a[at[i]] ^= flips[f];
			}
		/* every letter of the name in the other case */
		for (size_t i = DNS_HEADER_LEN; i < qlen - 4; i++)
			if (lower(a[i]) >= 'a' && lower(a[i]) <= 'z')
				a[i] ^= 0x20;
		check_match(kept, qlen, a, len);
	}
	free(a);
}

/* The question kept from the last query, to match the answers that follow it in the stream. */
static uint8_t last_kept[DNS_QKEEP];
static size_t last_qlen;

static void datagram(unsigned index, const uint8_t *m, size_t len)
{
	uint8_t *q = dup_exact(m, len);
	struct exchange x;
	exchange_init(&x, index, m, len);
	FUZZ_CHECK(!(dns_is_query(q, len) && dns_is_answer(q, len)));

	if (dns_is_query(q, len)) {
		tap(&x, DT_CLIENT_QUERY, q, len);
		uint16_t client_id = dns_id(q);
		size_t qlen = dns_question_end(q, len);
		FUZZ_CHECK(qlen == ref_question_end(q, len));
		FUZZ_CHECK(qlen >= DNS_HEADER_LEN && qlen <= len && qlen <= DNS_QKEEP);
		uint8_t *kept = dup_exact(q, qlen);

		uint8_t *out = malloc(qlen);
		FUZZ_CHECK(out != NULL);
		size_t n = dns_servfail(out, kept, qlen, client_id);
		check_servfail(out, n, kept, qlen, client_id);
		tap(&x, DT_CLIENT_RESPONSE, out, n);
		free(out);

		/* the upstream sees the proxy's ID */
		uint16_t proxy_id = (uint16_t)(client_id * 40503u + index);
		dns_set_id(q, proxy_id);
		FUZZ_CHECK(dns_id(q) == proxy_id && memcmp(q + 2, m + 2, len - 2) == 0);
		tap(&x, DT_FORWARDER_QUERY, q, len);
		check_answers(kept, qlen, q, len);

		memcpy(last_kept, kept, qlen);
		last_qlen = qlen;
		free(kept);
	} else if (dns_is_answer(q, len)) {
		tap(&x, DT_FORWARDER_RESPONSE, q, len);
		if (last_qlen > 0)
			check_match(last_kept, last_qlen, q, len);
		dns_set_id(q, (uint16_t)~dns_id(q));
		tap(&x, DT_CLIENT_RESPONSE, q, len);
	} else {
		FUZZ_CHECK(len < DNS_HEADER_LEN);
	}
	free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (head_buf == NULL) {
		head_buf = malloc(TCP_HEAD_LEN);
		FUZZ_CHECK(head_buf != NULL);
	}
	split_whole(data, size);
	split_pieces(data, size, 1 + size % 61);
	split_pieces(data, size, 1);

	last_qlen = 0;
	for (size_t i = 0; i < n_msgs; i++)
		datagram((unsigned)i, data + msgs[i].off, msgs[i].len);
	return 0;
}
