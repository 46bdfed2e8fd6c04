/* Message keys for Kafka: the field a key mode names, as a short string. Kafka's partitioner hashes the
 * key, so messages with the same key land in one partition and keep their order there. */
#include "dns_wire.h"
#include "kafka.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* The first question's name of a DNS wire message, lowercased presentation form, into out. The name is
 * read by the wire layer (dns_wire.h), with miekg's rules for compression pointers and lengths. */
static size_t qname_key(const struct dt_bytes *wire, char *out)
{
	struct dt__dns_header h;
	uint8_t name[255];
	size_t name_len, n = 0;
	if (wire->data == NULL || !dt__dns_parse_header(&h, wire->data, wire->len) || h.count[DT__DNS_QUESTION] == 0 ||
	    dt__dns_name_unpack(wire->data, wire->len, DT__DNS_HEADER_LEN, name, &name_len) != NULL)
		return 0;
	for (size_t pos = 0; pos < name_len && name[pos] != 0; pos += 1u + name[pos]) {
		for (size_t i = pos + 1; i <= pos + name[pos]; i++) {
			uint8_t c = name[i];
			if (c >= 'A' && c <= 'Z')
				out[n++] = (char)(c + ('a' - 'A'));
			else if (c == '.' || c == '\\') {
				out[n++] = '\\';
				out[n++] = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				out[n++] = '\\';
				out[n++] = (char)('0' + c / 100);
				out[n++] = (char)('0' + c / 10 % 10);
				out[n++] = (char)('0' + c % 10);
			} else
				out[n++] = (char)c;
		}
		out[n++] = '.';
	}
	if (n == 0)
		out[n++] = '.';
	return n;
}

size_t dt__kafka_key(enum dt_kafka_key mode, const struct dt_message *m, char *out)
{
	switch (mode) {
	case DT_KAFKA_KEY_IDENTITY:
		if (!m->has_identity || m->identity.len == 0)
			return 0;
		size_t n = m->identity.len < DT__KAFKA_KEY_MAX ? m->identity.len : DT__KAFKA_KEY_MAX;
		memcpy(out, m->identity.data, n);
		return n;
	case DT_KAFKA_KEY_CLIENT_IP:
		if (!m->has_message || !m->has_query_address)
			return 0;
		if (m->query_address.len == 4 && inet_ntop(AF_INET, m->query_address.data, out, INET6_ADDRSTRLEN))
			return strlen(out);
		if (m->query_address.len == 16 && inet_ntop(AF_INET6, m->query_address.data, out, INET6_ADDRSTRLEN))
			return strlen(out);
		return 0;
	case DT_KAFKA_KEY_QNAME: {
		if (!m->has_message)
			return 0;
		size_t k = m->has_query_message ? qname_key(&m->query_message, out) : 0;
		if (k == 0 && m->has_response_message)
			k = qname_key(&m->response_message, out);
		return k;
	}
	case DT_KAFKA_KEY_NONE:
	default:
		return 0;
	}
}
