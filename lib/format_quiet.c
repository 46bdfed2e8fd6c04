/* The quiet format (`dnstap -q`): one line per message, as the Go tool prints it:
 *   HH:MM:SS.uuuuuu TT ADDRESS PROTOCOL SIZEb "QNAME" CLASS TYPE
 * Two deliberate differences, for frames the Go tool mishandles: STUB_* messages print as SQ/SR (Go:
 * "[unhandled Message.Type]"), and protocols newer than the Go tool print by name (DOQ, not 7). */
#include "dns_print.h"
#include "format.h"

static void put_time(struct dt_buf *b, bool has_sec, uint64_t sec, bool has_nsec, uint32_t nsec)
{
	if (has_sec)
		dt__put_local_hms(b, sec);
	else
		dt__buf_lit(b, "??:??:??");
	if (has_nsec) {
		dt__buf_putc(b, '.');
		dt__buf_put_u64_pad(b, nsec / 1000, 6);
	} else {
		dt__buf_lit(b, ".??????");
	}
}

void dt__format_quiet(const struct dt_message *m, struct dt_buf *out)
{
	char who;
	switch (m->type) {
	case DT_AUTH_QUERY:
	case DT_AUTH_RESPONSE:
		who = 'A';
		break;
	case DT_RESOLVER_QUERY:
	case DT_RESOLVER_RESPONSE:
		who = 'R';
		break;
	case DT_CLIENT_QUERY:
	case DT_CLIENT_RESPONSE:
		who = 'C';
		break;
	case DT_FORWARDER_QUERY:
	case DT_FORWARDER_RESPONSE:
		who = 'F';
		break;
	case DT_STUB_QUERY:
	case DT_STUB_RESPONSE:
		who = 'S';
		break;
	case DT_TOOL_QUERY:
	case DT_TOOL_RESPONSE:
		who = 'T';
		break;
	case DT_UPDATE_QUERY:
	case DT_UPDATE_RESPONSE:
		who = 'U';
		break;
	default:
		dt__buf_lit(out, "[unhandled Message.Type]\n");
		return;
	}
	/* odd types are queries, even ones responses */
	bool query = (m->type & 1) == 1;

	if (query)
		put_time(out, m->has_query_time_sec, m->query_time_sec, m->has_query_time_nsec, m->query_time_nsec);
	else
		put_time(out, m->has_response_time_sec, m->response_time_sec, m->has_response_time_nsec,
			 m->response_time_nsec);
	char tt[4] = {' ', who, query ? 'Q' : 'R', ' '};
	dt__buf_put(out, tt, 4);

	/* the client side for client and auth messages, the server side for everything else */
	bool qaddr = who == 'C' || who == 'A';
	bool has_addr = qaddr ? m->has_query_address : m->has_response_address;
	if (has_addr)
		dt__put_ip(out, qaddr ? m->query_address : m->response_address);
	else
		dt__buf_lit(out, "MISSING_ADDRESS");
	dt__buf_putc(out, ' ');
	if (m->has_socket_protocol)
		dt__put_enum(out, dt_socket_protocol_name(m->socket_protocol), m->socket_protocol);
	dt__buf_putc(out, ' ');

	struct dt_bytes wire = query ? m->query_message : m->response_message;
	bool has_wire = query ? m->has_query_message : m->has_response_message;
	if (!has_wire)
		wire.len = 0;
	dt__buf_put_u64(out, wire.len);
	dt__buf_lit(out, "b ");
	if (!has_wire || dt__dns_question_text(out, wire.data, wire.len) != 0)
		dt__buf_lit(out, "X ");
	dt__buf_putc(out, '\n');
}
