/* dnstap-ldns's formats (`--ldns -q`, `--ldns -y`): the lines dnstap-ldns 0.2 prints, byte for byte, with
 * the DNS messages parsed and printed by ldns itself (ldns_wire2pkt, ldns_rr2buffer_str_fmt), so that ldns
 * is the specification and dnstap-ldns users get the same text. ldns allocates for every message it
 * parses: this file is kept apart and off the path of our own formats. Where dnstap-ldns gives up on a
 * frame (an enum value its dnstap.proto does not know, in -y) it stops reading altogether; we print what
 * it printed before giving up and go on with the next frame. */
#include "format.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <time.h>

/* dnstap-ldns 0.2's dnstap.proto knows the message types up to TOOL_RESPONSE, by the names ours gives. */
static bool ldns_knows_type(int type)
{
	return type >= 1 && type <= DT_TOOL_RESPONSE;
}

static const char *old_family_name(int f)
{
	return f == 1 ? "INET" : f == 2 ? "INET6" : NULL;
}

static const char *old_protocol_name(int p)
{
	return p == 1 ? "UDP" : p == 2 ? "TCP" : NULL;
}

/* "%F %H:%M:%S" in UTC and ".%06u" of the microseconds; nothing when gmtime_r() cannot represent it. */
static void put_timestamp(struct dt_buf *out, uint64_t sec, uint32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char s[100];
	if (gmtime_r(&t, &tm) == NULL)
		return;
	size_t n = strftime(s, sizeof(s), "%F %H:%M:%S", &tm);
	if (n == 0)
		return;
	dt__buf_put(out, s, n);
	dt__buf_putc(out, '.');
	dt__buf_put_u64_pad(out, nsec / 1000, 6);
}

/* inet_ntop() of a 4- or 16-byte address (in quotes for -y); nothing for any other length. */
static void put_addr(struct dt_buf *out, struct dt_bytes ip, bool quoted)
{
	char s[INET6_ADDRSTRLEN];
	if ((ip.len == 4 && inet_ntop(AF_INET, ip.data, s, sizeof(s)) != NULL) ||
	    (ip.len == 16 && inet_ntop(AF_INET6, ip.data, s, sizeof(s)) != NULL)) {
		if (quoted)
			dt__buf_putc(out, '"');
		dt__buf_puts(out, s);
		if (quoted)
			dt__buf_putc(out, '"');
	}
}

/* In quotes: printable bytes (C locale) as they are, '"' as \", the others as \xNN. */
static void put_string(struct dt_buf *out, struct dt_bytes v)
{
	static const char hex[] = "0123456789abcdef";
	dt__buf_putc(out, '"');
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = v.data[i];
		if (c >= 0x20 && c < 0x7f) {
			if (c == '"')
				dt__buf_putc(out, '\\');
			dt__buf_putc(out, (char)c);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			dt__buf_put(out, e, 4);
		}
	}
	dt__buf_putc(out, '"');
}

/* ldns_rdf_print(): the rdf's text, or the line ldns prints when it has none. */
static void put_rdf(struct dt_buf *out, const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf);
	if (s != NULL) {
		dt__buf_puts(out, s);
		free(s);
	} else {
		dt__buf_lit(out, ";Unable to convert rdf to string\n");
	}
}

static void put_ldns_str(struct dt_buf *out, char *s)
{
	if (s != NULL) {
		dt__buf_puts(out, s);
		free(s);
	}
}

static void put_question(struct dt_buf *out, struct dt_bytes wire)
{
	ldns_pkt *pkt = NULL;
	ldns_rr *rr = NULL;
	if (ldns_wire2pkt(&pkt, wire.data, wire.len) == LDNS_STATUS_OK)
		rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (rr != NULL && ldns_rr_owner(rr) != NULL) {
		dt__buf_putc(out, '"');
		put_rdf(out, ldns_rr_owner(rr));
		dt__buf_lit(out, "\" ");
		put_ldns_str(out, ldns_rr_class2str(ldns_rr_get_class(rr)));
		dt__buf_putc(out, ' ');
		put_ldns_str(out, ldns_rr_type2str(ldns_rr_get_type(rr)));
	} else {
		dt__buf_lit(out, "? ? ?");
	}
	if (pkt != NULL)
		ldns_pkt_free(pkt);
}

static void quiet(const struct dt_message *m, struct dt_buf *out)
{
	if (m->dnstap_type != DT_TYPE_MESSAGE || !m->has_message) {
		dt__buf_lit(out, "[unhandled Dnstap.Type]\n");
		return;
	}
	if (!ldns_knows_type(m->type)) {
		dt__buf_lit(out, "[unhandled Dnstap.Message.Type]\n");
		return;
	}
	bool query = m->type % 2 == 1;
	if (query && m->has_query_time_sec && m->has_query_time_nsec)
		put_timestamp(out, m->query_time_sec, m->query_time_nsec);
	else if (!query && m->has_response_time_sec && m->has_response_time_nsec)
		put_timestamp(out, m->response_time_sec, m->response_time_nsec);
	else
		dt__buf_lit(out, "??:??:??.??????");
	dt__buf_putc(out, ' ');
	static const char letters[] = "AARRCCFFSSTT";
	dt__buf_putc(out, letters[m->type - 1]);
	dt__buf_putc(out, query ? 'Q' : 'R');
	dt__buf_putc(out, ' ');
	/* the client's address for client and auth messages, else the server's */
	bool client = m->type == 1 || m->type == 2 || m->type == 5 || m->type == 6;
	bool has = client ? m->has_query_address : m->has_response_address;
	if (has)
		put_addr(out, client ? m->query_address : m->response_address, false);
	else
		dt__buf_lit(out, "MISSING_ADDRESS");
	dt__buf_putc(out, ' ');
	const char *proto = m->has_socket_protocol ? old_protocol_name(m->socket_protocol) : NULL;
	dt__buf_puts(out, proto != NULL ? proto : "?");
	dt__buf_putc(out, ' ');
	bool has_wire = query ? m->has_query_message : m->has_response_message;
	struct dt_bytes wire = query ? m->query_message : m->response_message;
	dt__buf_put_u64(out, has_wire ? wire.len : 0);
	dt__buf_lit(out, "b ");
	if (has_wire)
		put_question(out, wire);
	else
		dt__buf_lit(out, "? ? ?");
	dt__buf_putc(out, '\n');
}

/* ---- -y ---- */

/* Appends an ldns text to b; false when ldns failed (the caller prints nothing of the message then). */
static bool rr_text(ldns_buffer *b, const ldns_rr *rr)
{
	return ldns_rr2buffer_str_fmt(b, ldns_output_format_default, rr) == LDNS_STATUS_OK;
}

/* A message as dnstap-ldns prints it: ldns's records under a header and section titles of its own,
 * every line but the records after the first question indented by four spaces. */
static bool pkt_text(ldns_buffer *b, const ldns_pkt *pkt)
{
	ldns_lookup_table *op = ldns_lookup_by_id(ldns_opcodes, (int)ldns_pkt_get_opcode(pkt));
	ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, (int)ldns_pkt_get_rcode(pkt));
	ldns_buffer_printf(b, "    ;; ->>HEADER<<- ");
	if (op != NULL)
		ldns_buffer_printf(b, "opcode: %s, ", op->name);
	else
		ldns_buffer_printf(b, "opcode: ?? (%u), ", ldns_pkt_get_opcode(pkt));
	if (rc != NULL)
		ldns_buffer_printf(b, "rcode: %s, ", rc->name);
	else
		ldns_buffer_printf(b, "rcode: ?? (%u), ", ldns_pkt_get_rcode(pkt));
	ldns_buffer_printf(b, "id: %d\n    ;; flags: ", ldns_pkt_id(pkt));
	const struct {
		bool on;
		const char *s;
	} flags[] = {
		{ldns_pkt_qr(pkt), "qr "}, {ldns_pkt_aa(pkt), "aa "}, {ldns_pkt_tc(pkt), "tc "},
		{ldns_pkt_rd(pkt), "rd "}, {ldns_pkt_cd(pkt), "cd "}, {ldns_pkt_ra(pkt), "ra "},
		{ldns_pkt_ad(pkt), "ad "},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].on)
			ldns_buffer_printf(b, "%s", flags[i].s);
	ldns_buffer_printf(b, "; QUERY: %u, ANSWER: %u, AUTHORITY: %u, ADDITIONAL: %u ", ldns_pkt_qdcount(pkt),
			   ldns_pkt_ancount(pkt), ldns_pkt_nscount(pkt), ldns_pkt_arcount(pkt));
	if (ldns_buffer_status(b) != LDNS_STATUS_OK)
		return false;

	ldns_buffer_printf(b, "\n\n    ;; QUESTION SECTION:\n    ;");
	for (uint16_t i = 0; i < ldns_pkt_qdcount(pkt); i++)
		if (!rr_text(b, ldns_rr_list_rr(ldns_pkt_question(pkt), i)))
			return false;
	ldns_buffer_printf(b, "\n");
	static const char *const titles[3] = {"ANSWER", "AUTHORITY", "ADDITIONAL"};
	for (int s = 0; s < 3; s++) {
		ldns_rr_list *list = s == 0   ? ldns_pkt_answer(pkt)
				     : s == 1 ? ldns_pkt_authority(pkt)
					      : ldns_pkt_additional(pkt);
		uint16_t n = s == 0 ? ldns_pkt_ancount(pkt) : s == 1 ? ldns_pkt_nscount(pkt) : ldns_pkt_arcount(pkt);
		ldns_buffer_printf(b, "    ;; %s SECTION:\n", titles[s]);
		for (uint16_t i = 0; i < n; i++) {
			ldns_buffer_printf(b, "    ");
			if (!rr_text(b, ldns_rr_list_rr(list, i)))
				return false;
		}
		ldns_buffer_printf(b, "\n");
	}
	if (ldns_pkt_edns(pkt)) {
		ldns_buffer_printf(b, "    ;; EDNS: version %u; flags:", ldns_pkt_edns_version(pkt));
		if (ldns_pkt_edns_do(pkt))
			ldns_buffer_printf(b, " do");
		if (ldns_pkt_edns_extended_rcode(pkt))
			ldns_buffer_printf(b, " ; ext-rcode: %d",
					   ldns_pkt_edns_extended_rcode(pkt) << 4 | ldns_pkt_get_rcode(pkt));
		ldns_buffer_printf(b, " ; udp: %u\n", ldns_pkt_edns_udp_size(pkt));
		if (ldns_pkt_edns_data(pkt)) {
			ldns_buffer_printf(b, "    ;; Data: ");
			(void)ldns_rdf2buffer_str(b, ldns_pkt_edns_data(pkt));
			ldns_buffer_printf(b, "\n");
		}
	}
	if (ldns_pkt_tsig(pkt)) {
		ldns_buffer_printf(b, "    ;; TSIG:\n;; ");
		(void)rr_text(b, ldns_pkt_tsig(pkt));
		ldns_buffer_printf(b, "\n");
	}
	return true;
}

static void yaml_dns(struct dt_buf *out, struct dt_bytes wire, const char *field)
{
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, wire.data, wire.len) != LDNS_STATUS_OK) {
		dt__buf_lit(out, "  # ");
		dt__buf_puts(out, field);
		dt__buf_lit(out, ": parse failed\n");
		if (pkt != NULL)
			ldns_pkt_free(pkt);
		return;
	}
	dt__buf_lit(out, "  ");
	dt__buf_puts(out, field);
	dt__buf_lit(out, ": |\n");
	ldns_buffer *b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	if (b == NULL) {
		out->failed = true;
	} else {
		if (pkt_text(b, pkt) && ldns_buffer_status(b) == LDNS_STATUS_OK)
			dt__buf_put(out, ldns_buffer_begin(b), ldns_buffer_position(b));
		ldns_buffer_free(b);
	}
	ldns_pkt_free(pkt);
}

/* "  key: NAME\n", or false (having printed nothing) for a value dnstap-ldns has no name for. */
static bool yaml_enum(struct dt_buf *out, const char *key, const char *name)
{
	if (name == NULL)
		return false;
	dt__buf_puts(out, key);
	dt__buf_puts(out, name);
	dt__buf_putc(out, '\n');
	return true;
}

static void yaml_message(const struct dt_message *m, struct dt_buf *out)
{
	if (!yaml_enum(out, "  type: ", ldns_knows_type(m->type) ? dt_message_type_name(m->type) : NULL))
		return;
	if (m->has_query_time_sec && m->has_query_time_nsec) {
		dt__buf_lit(out, "  query_time: !!timestamp ");
		put_timestamp(out, m->query_time_sec, m->query_time_nsec);
		dt__buf_putc(out, '\n');
	}
	if (m->has_response_time_sec && m->has_response_time_nsec) {
		dt__buf_lit(out, "  response_time: !!timestamp ");
		put_timestamp(out, m->response_time_sec, m->response_time_nsec);
		dt__buf_putc(out, '\n');
	}
	if (m->has_socket_family && !yaml_enum(out, "  socket_family: ", old_family_name(m->socket_family)))
		return;
	if (m->has_socket_protocol && !yaml_enum(out, "  socket_protocol: ", old_protocol_name(m->socket_protocol)))
		return;
	if (m->has_query_address) {
		dt__buf_lit(out, "  query_address: ");
		put_addr(out, m->query_address, true);
		dt__buf_putc(out, '\n');
	}
	if (m->has_response_address) {
		dt__buf_lit(out, "  response_address: ");
		put_addr(out, m->response_address, true);
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
		/* ldns_dname_new() wraps the bytes without copying them */
		ldns_rdf *zone = ldns_dname_new(m->query_zone.len, (void *)m->query_zone.data);
		if (zone != NULL) {
			dt__buf_lit(out, "  query_zone: \"");
			put_rdf(out, zone);
			dt__buf_lit(out, "\"\n");
			ldns_rdf_free(zone);
		}
	}
	if (m->has_query_message)
		yaml_dns(out, m->query_message, "query_message");
	if (m->has_response_message)
		yaml_dns(out, m->response_message, "response_message");
	dt__buf_lit(out, "---\n");
}

static void yaml(const struct dt_message *m, struct dt_buf *out)
{
	if (m->dnstap_type != DT_TYPE_MESSAGE)
		return; /* dnstap-ldns has no name for it, and stops */
	dt__buf_lit(out, "type: MESSAGE\n");
	if (m->has_identity) {
		dt__buf_lit(out, "identity: ");
		put_string(out, m->identity);
		dt__buf_putc(out, '\n');
	}
	if (m->has_version) {
		dt__buf_lit(out, "version: ");
		put_string(out, m->version);
		dt__buf_putc(out, '\n');
	}
	dt__buf_lit(out, "message:\n");
	if (m->has_message) /* dnstap-ldns crashes without one */
		yaml_message(m, out);
}

void dt__format_ldns(const struct dt_message *m, struct dt_buf *out, bool yaml_format)
{
	if (yaml_format)
		yaml(m, out);
	else
		quiet(m, out);
}
