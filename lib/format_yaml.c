/* The YAML format (`dnstap -y`): one document per message, ended by "---", keys in the Go tool's order,
 * DNS messages as dig-like text blocks. Fields the Go tool never prints (extra, policy, http_protocol)
 * follow the ones it does, and only when present, so output for other frames stays identical. */
#define _GNU_SOURCE /* memrchr */
#include "dns_print.h"
#include "format.h"

#include <string.h>

/* Appends the message text as a YAML block: Go's TrimSpace() of the text, every line indented by four
 * spaces (blank lines too). The text is rendered straight into out and indented in place. */
static void put_dns_block(struct dt_buf *out, const char *key, struct dt_bytes wire)
{
	size_t mark = out->len;
	dt__buf_lit(out, "  ");
	dt__buf_puts(out, key);
	dt__buf_lit(out, ": |\n    ");
	size_t from = out->len;
	const char *err = NULL;
	if (dt__dns_msg_text(out, wire.data, wire.len, &err) != 0) {
		out->len = mark;
		dt__buf_lit(out, "  # ");
		dt__buf_puts(out, key);
		dt__buf_lit(out, ": parse failed: ");
		dt__buf_puts(out, err ? err : "dns: bad message");
		dt__buf_putc(out, '\n');
		return;
	}
	if (out->failed)
		return;
	size_t end = out->len;
	while (end > from && (out->data[end - 1] == ' ' || (out->data[end - 1] >= '\t' && out->data[end - 1] <= '\r')))
		end--;
	/* Each line after the first is indented by four: the text is copied, a line at a time, to the room
	 * after it (at most five bytes for each byte, were every byte a newline), then moved back. */
	size_t n = end - from;
	out->len = end;
	if (n > (SIZE_MAX - end) / 5 || !dt__buf_reserve(out, 5 * n + 1))
		return;
	const char *p = out->data + from, *stop = out->data + end;
	char *d0 = out->data + end, *d = d0;
	for (const char *nl; (nl = memchr(p, '\n', (size_t)(stop - p))) != NULL; p = nl + 1) {
		memcpy(d, p, (size_t)(nl - p));
		d += nl - p;
		memcpy(d, "\n    ", 5);
		d += 5;
	}
	memcpy(d, p, (size_t)(stop - p));
	d += stop - p;
	memmove(out->data + from, d0, (size_t)(d - d0));
	out->len = from + (size_t)(d - d0);
	dt__buf_putc(out, '\n');
}

static void put_quoted_line(struct dt_buf *out, const char *prefix, size_t plen, struct dt_bytes v)
{
	dt__buf_put(out, prefix, plen);
	dt__put_go_quoted(out, v.data, v.len);
	dt__buf_putc(out, '\n');
}
#define QUOTED_LINE(out, lit, v) put_quoted_line((out), (lit), sizeof(lit) - 1, (v))

static void put_policy(struct dt_buf *out, const struct dt_message *m)
{
	dt__buf_lit(out, "  policy:\n");
	if (m->has_policy_type)
		QUOTED_LINE(out,
			    "    type: ", ((struct dt_bytes){(const uint8_t *)m->policy_type, strlen(m->policy_type)}));
	if (m->has_policy_rule)
		QUOTED_LINE(out, "    rule: ", m->policy_rule);
	if (m->has_policy_action) {
		dt__buf_lit(out, "    action: ");
		dt__put_enum(out, dt_policy_action_name(m->policy_action), m->policy_action);
		dt__buf_putc(out, '\n');
	}
	if (m->has_policy_match) {
		dt__buf_lit(out, "    match: ");
		dt__put_enum(out, dt_policy_match_name(m->policy_match), m->policy_match);
		dt__buf_putc(out, '\n');
	}
	if (m->has_policy_value)
		QUOTED_LINE(out, "    value: ", m->policy_value);
}

void dt__format_yaml(const struct dt_message *m, struct dt_buf *out)
{
	dt__buf_lit(out, "type: MESSAGE\n");
	if (m->has_identity)
		QUOTED_LINE(out, "identity: ", m->identity);
	if (m->has_version)
		QUOTED_LINE(out, "version: ", m->version);
	if (m->has_extra)
		QUOTED_LINE(out, "extra: ", m->extra);
	dt__buf_lit(out, "message:\n  type: ");
	dt__put_enum(out, dt_message_type_name(m->type), m->type);
	dt__buf_putc(out, '\n');

	if (m->has_query_time_sec && m->has_query_time_nsec) {
		dt__buf_lit(out, "  query_time: !!timestamp ");
		dt__put_utc_time(out, m->query_time_sec, m->query_time_nsec, ' ');
		dt__buf_putc(out, '\n');
	}
	if (m->has_response_time_sec && m->has_response_time_nsec) {
		dt__buf_lit(out, "  response_time: !!timestamp ");
		dt__put_utc_time(out, m->response_time_sec, m->response_time_nsec, ' ');
		dt__buf_putc(out, '\n');
	}
	if (m->has_socket_family) {
		dt__buf_lit(out, "  socket_family: ");
		dt__put_enum(out, dt_socket_family_name(m->socket_family), m->socket_family);
		dt__buf_putc(out, '\n');
	}
	if (m->has_socket_protocol) {
		dt__buf_lit(out, "  socket_protocol: ");
		dt__put_enum(out, dt_socket_protocol_name(m->socket_protocol), m->socket_protocol);
		dt__buf_putc(out, '\n');
	}
	if (m->has_query_address) {
		dt__buf_lit(out, "  query_address: ");
		dt__put_ip(out, m->query_address);
		dt__buf_putc(out, '\n');
	}
	if (m->has_response_address) {
		dt__buf_lit(out, "  response_address: ");
		dt__put_ip(out, m->response_address);
		dt__buf_putc(out, '\n');
	}
	if (m->has_query_port) {
		dt__buf_lit(out, "  query_port: ");
		dt__buf_put_u64(out, m->query_port);
		dt__buf_putc(out, '\n');
	}
	if (m->has_response_port) {
		dt__buf_lit(out, "  response_port: ");
		dt__buf_put_u64(out, m->response_port);
		dt__buf_putc(out, '\n');
	}
	if (m->has_query_zone) {
		size_t mark = out->len;
		dt__buf_lit(out, "  query_zone: ");
		size_t from = out->len;
		const char *err = NULL;
		if (dt__dns_name_text(out, m->query_zone.data, m->query_zone.len, &err) == 0) {
			/* quote the name we just appended: it is short, so a copy is cheap */
			char name[1024];
			size_t n = out->len - from;
			if (n <= sizeof(name)) {
				memcpy(name, out->data + from, n);
				out->len = from;
				dt__put_go_quoted(out, (const uint8_t *)name, n);
			}
			dt__buf_putc(out, '\n');
		} else {
			out->len = mark;
			dt__buf_lit(out, "  # query_zone: parse failed: ");
			dt__buf_puts(out, err ? err : "dns: bad name");
			dt__buf_putc(out, '\n');
		}
	}
	if (m->has_query_message)
		put_dns_block(out, "query_message", m->query_message);
	if (m->has_response_message)
		put_dns_block(out, "response_message", m->response_message);
	if (m->has_policy)
		put_policy(out, m);
	if (m->has_http_protocol) {
		dt__buf_lit(out, "  http_protocol: ");
		dt__put_enum(out, dt_http_protocol_name(m->http_protocol), m->http_protocol);
		dt__buf_putc(out, '\n');
	}
	dt__buf_lit(out, "---\n");
}
