/* dnstap-proxy's request path without the sockets: DNS message checks, SERVFAIL, TCP stream splitting
 * and the tap messages. See proxy_wire.h. The DNS fields are read with the wire layer's inline getters
 * (lib/dns_wire.h): the proxy links the installed library, which exports no dt__ symbol. */
#include "proxy_wire.h"

#include "dns_wire.h"

#include <string.h>

/* ==== DNS messages ==== */

bool dns_is_query(const uint8_t *m, size_t len)
{
	struct dt__dns_header h;
	return dt__dns_parse_header(&h, m, len) && !(h.flags & DT__DNS_QR);
}

bool dns_is_answer(const uint8_t *m, size_t len)
{
	struct dt__dns_header h;
	return dt__dns_parse_header(&h, m, len) && (h.flags & DT__DNS_QR);
}

uint16_t dns_id(const uint8_t *m)
{
	return dt__dns_get16(m);
}

void dns_set_id(uint8_t *m, uint16_t id)
{
	m[0] = (uint8_t)(id >> 8);
	m[1] = (uint8_t)id;
}

size_t dns_question_end(const uint8_t *q, size_t len)
{
	struct dt__dns_header h;
	if (!dt__dns_parse_header(&h, q, len) || h.count[DT__DNS_QUESTION] == 0)
		return DNS_HEADER_LEN;
	/* The proxy's narrower rule: a compression pointer ends the name, and is not followed. */
	size_t end = dt__dns_name_skip(q, len, DNS_HEADER_LEN);
	if (end == 0 || len - end < 4 || end + 4 > DNS_QKEEP)
		return DNS_HEADER_LEN;
	return end + 4; /* type and class */
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen <= DNS_HEADER_LEN)
		return true; /* nothing to compare with */
	if (blen < alen || dt__dns_get16(a + 4) != dt__dns_get16(b + 4))
		return false;
	/* a[12, alen) is a name, then type and class (dns_question_end() made sure). Only the letters of the
	 * name's labels compare without case: a length, a compression pointer, the type and the class are
	 * numbers (type 65, HTTPS, is the letter 'A'; folding it would take type 97 for it). */
	size_t i = DNS_HEADER_LEN, name_end = alen - 4;
	while (i < name_end) {
		uint8_t l = a[i];
		if (b[i++] != l)
			return false;
		if (l & 0xc0)
			break; /* a compression pointer, whose second octet is compared below */
		for (size_t k = 0; k < l && i < name_end; k++, i++)
			if (lower(a[i]) != lower(b[i]))
				return false;
	}
	return memcmp(a + i, b + i, alen - i) == 0;
}

size_t dns_servfail(uint8_t *out, const uint8_t *q, size_t qlen, uint16_t id)
{
	/* QR set, opcode, RD and CD kept, rcode SERVFAIL */
	uint16_t keep = dt__dns_get16(q + 2) & (DT__DNS_OPCODE | DT__DNS_RD | DT__DNS_CD);
	uint16_t flags = (uint16_t)(DT__DNS_QR | keep | 2);
	memcpy(out, q, qlen);
	dns_set_id(out, id);
	out[2] = (uint8_t)(flags >> 8);
	out[3] = (uint8_t)flags;
	out[4] = 0;
	out[5] = qlen > DNS_HEADER_LEN ? 1 : 0;
	memset(out + 6, 0, 6);
	return qlen;
}

/* ==== DNS over TCP ==== */

enum tcp_next tcp_next_message(const uint8_t *head, size_t head_len, size_t avail, size_t *len)
{
	if (avail < 2 || head_len < 2)
		return TCP_NEED_MORE;
	*len = (size_t)head[0] << 8 | head[1];
	if (avail - 2 < *len)
		return TCP_NEED_MORE;
	/* a whole message of 12 bytes or more has its flags byte in head */
	return *len >= DNS_HEADER_LEN && !(head[4] & 0x80) ? TCP_QUERY : TCP_SKIP;
}

/* ==== Tap messages ==== */

/* The times and, with full, the wire message, which is the query or the response by type. */
static void set_common(struct dt_message *m, bool is_query, const struct timespec *tq, const struct timespec *tr,
		       bool full, const uint8_t *wire, size_t len)
{
	dt_message_set_query_time(m, tq);
	if (tr != NULL)
		dt_message_set_response_time(m, tr);
	if (!full)
		return;
	if (is_query)
		dt_message_set_query_message(m, wire, len);
	else
		dt_message_set_response_message(m, wire, len);
}

void tap_client_message(struct dt_message *m, int type, const struct sockaddr *client, int proto,
			const struct timespec *tq, const struct timespec *tr, bool full, const uint8_t *wire,
			size_t len)
{
	dt_message_init(m, type);
	dt_message_set_query_address(m, client, proto);
	set_common(m, type == DT_CLIENT_QUERY, tq, tr, full, wire, len);
}

void tap_forwarder_message(struct dt_message *m, int type, const struct sockaddr *local,
			   const struct sockaddr *upstream, int proto, const struct timespec *tq,
			   const struct timespec *tr, bool full, const uint8_t *wire, size_t len)
{
	dt_message_init(m, type);
	dt_message_set_query_address(m, local, proto);
	dt_message_set_response_address(m, upstream, proto);
	set_common(m, type == DT_FORWARDER_QUERY, tq, tr, full, wire, len);
}
