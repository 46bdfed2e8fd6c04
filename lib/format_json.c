/* The JSON format (`dnstap -j`): one compact object per line, keys and escaping as Go's encoding/json
 * gives them in the Go tool. Differences, only where the Go tool fails: an address that is not 4 or 16
 * bytes is printed as Go's net.IP text ("?hex") where Go stops all output; extra, policy and
 * http_protocol are printed when present (Go drops them). */
#include "dns_print.h"
#include "format.h"

static void put_key_n(struct dt_buf *out, bool *first, const char *key, size_t len)
{
	if (!dt__buf_reserve(out, len + 4))
		return;
	char *o = out->data + out->len;
	if (!*first)
		*o++ = ',';
	*first = false;
	*o++ = '"';
	memcpy(o, key, len);
	o += len;
	*o++ = '"';
	*o++ = ':';
	out->len = (size_t)(o - out->data);
}
/* keys are literals: their length is known at compile time */
#define put_key(out, first, key) put_key_n((out), (first), (key), sizeof(key) - 1)

static void put_enum_string(struct dt_buf *out, const char *name, int value)
{
	dt__buf_putc(out, '"');
	dt__put_enum(out, name, value);
	dt__buf_putc(out, '"');
}

static void put_time(struct dt_buf *out, bool *first, const char *key, uint64_t sec, uint32_t nsec)
{
	put_key_n(out, first, key, strlen(key));
	dt__buf_putc(out, '"');
	dt__put_utc_time(out, sec, nsec, 'T');
	dt__buf_lit(out, "Z\"");
}

static void put_address(struct dt_buf *out, bool *first, const char *key, struct dt_bytes ip)
{
	put_key_n(out, first, key, strlen(key));
	dt__buf_putc(out, '"');
	if (ip.len != 0) /* Go marshals an empty net.IP as "" */
		dt__put_ip(out, ip);
	dt__buf_putc(out, '"');
}

/* A DNS message as a JSON string: the dig-like text, or "parse failed: ERR". */
static void put_dns(struct dt_buf *out, bool *first, const char *key, struct dt_bytes wire)
{
	put_key_n(out, first, key, strlen(key));
	dt__buf_putc(out, '"');
	size_t from = out->len;
	const char *err = NULL;
	if (dt__dns_msg_text(out, wire.data, wire.len, &err) != 0) {
		out->len = from;
		dt__buf_lit(out, "parse failed: ");
		dt__buf_puts(out, err ? err : "dns: bad message");
	}
	dt__json_escape_tail(out, from);
	dt__buf_putc(out, '"');
}

/* Go's strconv.Quote() without the quotes, as a JSON string: how the Go tool's next version prints
 * `extra`, so that arbitrary bytes survive. */
static void put_go_quoted_json(struct dt_buf *out, struct dt_bytes v)
{
	dt__buf_putc(out, '"');
	size_t from = out->len;
	dt__put_go_quoted(out, v.data, v.len);
	if (out->failed)
		return;
	memmove(out->data + from, out->data + from + 1, out->len - from - 2);
	out->len -= 2;
	dt__json_escape_tail(out, from);
	dt__buf_putc(out, '"');
}

static void put_policy(struct dt_buf *out, const struct dt_message *m)
{
	bool first = true;
	dt__buf_lit(out, ",\"policy\":{");
	if (m->has_policy_type) {
		put_key(out, &first, "type");
		dt__put_json_string(out, (const uint8_t *)m->policy_type, strlen(m->policy_type));
	}
	if (m->has_policy_rule) {
		put_key(out, &first, "rule");
		put_go_quoted_json(out, m->policy_rule);
	}
	if (m->has_policy_action) {
		put_key(out, &first, "action");
		put_enum_string(out, dt_policy_action_name(m->policy_action), m->policy_action);
	}
	if (m->has_policy_match) {
		put_key(out, &first, "match");
		put_enum_string(out, dt_policy_match_name(m->policy_match), m->policy_match);
	}
	if (m->has_policy_value) {
		put_key(out, &first, "value");
		put_go_quoted_json(out, m->policy_value);
	}
	dt__buf_putc(out, '}');
}

void dt__format_json(const struct dt_message *m, struct dt_buf *out)
{
	dt__buf_lit(out, "{\"type\":\"MESSAGE\"");
	/* Go's omitempty: absent and empty look the same */
	if (m->identity.len > 0) {
		dt__buf_lit(out, ",\"identity\":");
		dt__put_json_string(out, m->identity.data, m->identity.len);
	}
	if (m->version.len > 0) {
		dt__buf_lit(out, ",\"version\":");
		dt__put_json_string(out, m->version.data, m->version.len);
	}
	if (m->has_extra && m->extra.len > 0) {
		dt__buf_lit(out, ",\"extra\":");
		put_go_quoted_json(out, m->extra);
	}

	bool first = true;
	dt__buf_lit(out, ",\"message\":{");
	put_key(out, &first, "type");
	put_enum_string(out, dt_message_type_name(m->type), m->type);
	if (m->has_query_time_sec && m->has_query_time_nsec)
		put_time(out, &first, "query_time", m->query_time_sec, m->query_time_nsec);
	if (m->has_response_time_sec && m->has_response_time_nsec)
		put_time(out, &first, "response_time", m->response_time_sec, m->response_time_nsec);
	/* Go prints these two always, "<nil>" when absent */
	put_key(out, &first, "socket_family");
	if (m->has_socket_family)
		put_enum_string(out, dt_socket_family_name(m->socket_family), m->socket_family);
	else
		dt__buf_lit(out, "\"\\u003cnil\\u003e\"");
	put_key(out, &first, "socket_protocol");
	if (m->has_socket_protocol)
		put_enum_string(out, dt_socket_protocol_name(m->socket_protocol), m->socket_protocol);
	else
		dt__buf_lit(out, "\"\\u003cnil\\u003e\"");
	if (m->has_query_address)
		put_address(out, &first, "query_address", m->query_address);
	if (m->has_response_address)
		put_address(out, &first, "response_address", m->response_address);
	if (m->query_port != 0) {
		put_key(out, &first, "query_port");
		dt__buf_put_u64(out, m->query_port);
	}
	if (m->response_port != 0) {
		put_key(out, &first, "response_port");
		dt__buf_put_u64(out, m->response_port);
	}
	if (m->has_query_zone) {
		put_key(out, &first, "query_zone");
		dt__buf_putc(out, '"');
		size_t from = out->len;
		const char *err = NULL;
		if (dt__dns_name_text(out, m->query_zone.data, m->query_zone.len, &err) != 0) {
			out->len = from;
			dt__buf_lit(out, "parse failed: ");
			dt__buf_puts(out, err ? err : "dns: bad name");
		}
		dt__json_escape_tail(out, from);
		dt__buf_putc(out, '"');
	}
	if (m->has_query_message)
		put_dns(out, &first, "query_message", m->query_message);
	if (m->has_response_message)
		put_dns(out, &first, "response_message", m->response_message);
	if (m->has_policy)
		put_policy(out, m);
	if (m->has_http_protocol) {
		put_key(out, &first, "http_protocol");
		put_enum_string(out, dt_http_protocol_name(m->http_protocol), m->http_protocol);
	}
	dt__buf_lit(out, "}}\n");
}
