/* Fuzz target: the structured JSON format (lib/format_jsonfull.c), nested and flat, and the template
 * fields that read the DNS message (lib/format_template.c), on the input as the wire message of a dnstap
 * message, once as its query and once as its response. What must hold: every line is one JSON object on
 * one line, no control byte left unescaped, brackets balanced outside strings; a message is marked
 * malformed exactly when the wire layer's parse rejects it; a template line is one line. The printer's own invariants
 * are fuzz_dnstext's. */
#define _GNU_SOURCE /* memmem */
#include "dns_wire.h"
#include "format.h"
#include "fuzz.h"

#include <string.h>

/* One JSON object and a newline: strings closed, braces and brackets balanced, no raw control byte. */
static void check_json_line(const char *s, size_t n)
{
	FUZZ_CHECK(n >= 3 && s[0] == '{' && s[n - 2] == '}' && s[n - 1] == '\n');
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		FUZZ_CHECK(c >= 0x20);
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			FUZZ_CHECK(--depth >= 0);
	}
	FUZZ_CHECK(!in_string && depth == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dt_template *tmpl;
	if (tmpl == NULL) {
		dt_res res;
		tmpl = dt_template_new(DT_TEMPLATE_TEXT,
				       "rcode id qname qtype qclass malformed qr opcode tc aa ra ad rd cd ttl answer "
				       "answercount edns-csubnet length latency",
				       NULL, 0, &res);
		FUZZ_CHECK(tmpl != NULL);
	}
	struct dt_message m;
	memset(&m, 0, sizeof(m));
	m.dnstap_type = DT_TYPE_MESSAGE;
	m.has_message = true;
	m.has_query_time_sec = m.has_response_time_sec = true;
	m.query_time_sec = 1700000000;
	m.response_time_sec = 1700000001;
	struct dt_bytes wire = {data, size};
	struct dt_buf out = {0};
	for (int as_response = 0; as_response < 2; as_response++) {
		m.type = as_response ? 6 : 5;
		m.has_query_message = !as_response;
		m.has_response_message = as_response;
		m.query_message = m.response_message = wire;
		for (int flat = 0; flat < 2; flat++) {
			out.len = 0;
			FUZZ_CHECK(dt_format(flat ? DT_FORMAT_JSON_FLAT : DT_FORMAT_JSON_FULL, &m, &out) == DT_OK);
			check_json_line(out.data, out.len);
			if (!flat) {
				static const char mark[] = "\"malformed\":true";
				struct dt__dns_msg dm;
				bool malformed = memmem(out.data, out.len, mark, sizeof(mark) - 1) != NULL;
				FUZZ_CHECK(malformed == (dt__dns_parse(&dm, data, size) != NULL));
			}
		}
		out.len = 0;
		FUZZ_CHECK(dt_template_format(tmpl, &m, &out) == DT_OK);
		FUZZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n' &&
			   memchr(out.data, '\n', out.len) == out.data + out.len - 1);
	}
	dt_buf_free(&out);
	return 0;
}
