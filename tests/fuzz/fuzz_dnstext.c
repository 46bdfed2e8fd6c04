/* Fuzz target: the DNS message printer (lib/dns_print.c) and the wire layer under it (lib/dns_wire.c) on the
 * input as a DNS wire message: the full text (dt__dns_msg_text), the quiet format's question
 * (dt__dns_question_text) and, on the same bytes, a domain name (dt__dns_name_text), with what must hold
 * between them: each appends only on success, says why when it fails, and the question it prints is the
 * first line of the full text's question section. The wire layer's walk, its whole-message parse and the
 * printer must give the same verdict and error and the same section counts; every entry the walk returns
 * lies inside the message, and its owner name decompresses to a name that checks. */
#define _GNU_SOURCE /* memmem */
#include "dns_print.h"
#include "dns_wire.h"
#include "fuzz.h"

#include <string.h>

/* Text the quiet format puts on its one line: printable ASCII only (names escape the rest as \DDD). */
static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~')
			return false;
	return true;
}

/* A count in the header's flags line, the second line of the text: key is "; QUERY: ", ", ANSWER: "... */
static unsigned long header_count(const char *text, size_t n, const char *key)
{
	const char *p = memmem(text, n, key, strlen(key));
	FUZZ_CHECK(p != NULL);
	return strtoul(p + strlen(key), NULL, 10);
}

static unsigned long query_count(const char *text, size_t n)
{
	return header_count(text, n, "; QUERY: ");
}

/* The wire layer's walk over the message, against its parse and the printer's verdict. */
/* The statistics' lax parse: whatever the whole parse accepts (m), it accepts with the same header,
 * question and EDNS rcode; whatever it accepts has a first question name that checks and copies. */
static void check_lax(const uint8_t *data, size_t size, const struct dt__dns_msg *m)
{
	for (int records = 0; records <= 1; records++) {
		struct dt__dns_msg l;
		uint8_t copied[255];
		size_t copied_len = 0;
		const char *err = dt__dns_parse_lax(&l, data, size, records, copied, &copied_len);
		if (m != NULL) {
			FUZZ_CHECK(err == NULL);
			FUZZ_CHECK(memcmp(&l.hdr, &m->hdr, sizeof(l.hdr)) == 0 && l.qname == m->qname &&
				   l.qtype == m->qtype && l.qclass == m->qclass && l.count[0] == m->count[0]);
			if (records && m->hdr.count[3] > 0)
				FUZZ_CHECK(l.opt == m->opt && l.rcode == m->rcode);
			else
				FUZZ_CHECK(l.opt == 0 && l.rcode == (m->hdr.flags & 15));
		}
		if (err == NULL && l.count[0] > 0) {
			uint8_t name[255];
			size_t next, n = dt__dns_name_copy(data, l.qname, name);
			FUZZ_CHECK(dt__dns_check_name(data, size, l.qname, &next) == NULL);
			FUZZ_CHECK(n >= 1 && n <= 255 && name[n - 1] == 0);
			FUZZ_CHECK(copied_len == n && memcmp(copied, name, n) == 0);
			FUZZ_CHECK(dt__dns_check_name(name, n, 0, &next) == NULL && next == n);
		}
		if (err == NULL && l.opt != 0)
			FUZZ_CHECK(l.opt + 10 <= size);
	}
}

static void check_walk(const uint8_t *data, size_t size, int msg_rc, const char *msg_err, const char *text,
		       size_t text_len)
{
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	unsigned n = 0;
	dt__dns_rr_iter_init(&it, data, size);
	while (dt__dns_rr_next(&it, &rr)) {
		n++;
		FUZZ_CHECK(rr.owner >= DT__DNS_HEADER_LEN && rr.owner < size);
		if (rr.section == DT__DNS_QUESTION) {
			FUZZ_CHECK(rr.rdata == NULL && rr.rdlength == 0 && rr.ttl == 0);
		} else {
			FUZZ_CHECK(rr.rdata > data + rr.owner && rr.rdata + rr.rdlength <= data + size);
		}
		uint8_t name[255];
		size_t name_len, next;
		FUZZ_CHECK(dt__dns_name_unpack(data, size, rr.owner, name, &name_len) == NULL);
		FUZZ_CHECK(name_len >= 1 && name_len <= 255 && name[name_len - 1] == 0);
		FUZZ_CHECK(dt__dns_check_name(name, name_len, 0, &next) == NULL && next == name_len);
	}
	FUZZ_CHECK(n == it.count[0] + it.count[1] + it.count[2] + it.count[3]);

	struct dt__dns_msg m;
	const char *parse_err = dt__dns_parse(&m, data, size);
	check_lax(data, size, parse_err == NULL ? &m : NULL);
	/* One verdict, one error text: the printer's errors are the wire layer's. */
	FUZZ_CHECK(parse_err == it.err);
	FUZZ_CHECK((msg_rc == 0) == (parse_err == NULL));
	if (parse_err != NULL) {
		FUZZ_CHECK(msg_err == parse_err);
		return;
	}
	FUZZ_CHECK(memcmp(m.count, it.count, sizeof(m.count)) == 0 && m.opt == it.opt);
	FUZZ_CHECK(m.count[0] == query_count(text, text_len));
	FUZZ_CHECK(m.count[1] == header_count(text, text_len, ", ANSWER: "));
	FUZZ_CHECK(m.count[2] == header_count(text, text_len, ", AUTHORITY: "));
	FUZZ_CHECK(m.count[3] == header_count(text, text_len, ", ADDITIONAL: "));
	FUZZ_CHECK((m.qname != 0) == (m.count[0] > 0));
	struct dt__dns_edns e;
	FUZZ_CHECK(dt__dns_edns(&m, &e) == (m.opt != 0));
	if (m.opt != 0) {
		static const char pseudo[] = "\n;; OPT PSEUDOSECTION:\n";
		FUZZ_CHECK(memmem(text, text_len, pseudo, sizeof(pseudo) - 1) != NULL);
		FUZZ_CHECK(m.rcode >> 4 == e.ext_rcode);
		FUZZ_CHECK(e.options + e.options_len <= data + size);
		struct dt__dns_ecs ecs;
		if (dt__dns_edns_ecs(&e, &ecs)) {
			static const char subnet[] = "\n; SUBNET: ";
			FUZZ_CHECK(memmem(text, text_len, subnet, sizeof(subnet) - 1) != NULL);
			FUZZ_CHECK(ecs.addr_len <= (ecs.family == 1 ? 4 : ecs.family == 2 ? 16 : 0));
		}
	} else {
		FUZZ_CHECK(m.rcode < 16);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dt_buf msg, question, name, expect;
	const char *err;

	/* Every function appends: a byte already there must stay, and failure must leave nothing behind. */
	msg.len = 0;
	dt__buf_putc(&msg, '#');
	err = NULL;
	int msg_rc = dt__dns_msg_text(&msg, data, size, &err);
	FUZZ_CHECK(!msg.failed && msg.data[0] == '#');
	const char *text = msg.data + 1;
	size_t text_len = msg.len - 1;
	if (msg_rc == 0) {
		FUZZ_CHECK(text_len > 0 && text[text_len - 1] == '\n');
		FUZZ_CHECK(strncmp(text, ";; opcode: ", 11) == 0);
	} else {
		FUZZ_CHECK(msg_rc == -1 && text_len == 0 && err != NULL && *err != '\0');
	}

	check_walk(data, size, msg_rc, err, text, text_len);

	question.len = 0;
	dt__buf_putc(&question, '#');
	int q_rc = dt__dns_question_text(&question, data, size);
	FUZZ_CHECK(!question.failed && question.data[0] == '#');
	const char *q = question.data + 1;
	size_t q_len = question.len - 1;
	if (q_rc == 0) {
		/* "qname." CLASS TYPE, on one line */
		FUZZ_CHECK(q_len >= 6 && q[0] == '"' && printable(q, q_len));
	} else {
		FUZZ_CHECK(q_rc == -1 && q_len == 0);
	}

	if (msg_rc == 0) {
		/* The message parsed, so the question is printed exactly when there is one, and the quiet
		 * format's question is the first line of the question section. */
		FUZZ_CHECK((q_rc == 0) == (query_count(text, text_len) > 0));
		if (q_rc == 0) {
			/* "NAME" CLASS TYPE  ->  ;NAME<tab>CLASS<tab> TYPE */
			const char *close = NULL;
			for (size_t i = 1; i < q_len && close == NULL; i++) {
				if (q[i] == '\\')
					i++; /* an escaped character, '"' included */
				else if (q[i] == '"')
					close = q + i;
			}
			FUZZ_CHECK(close != NULL && close[1] == ' ');
			const char *type = memchr(close + 2, ' ', (size_t)(q + q_len - (close + 2)));
			FUZZ_CHECK(type != NULL);
			expect.len = 0;
			dt__buf_lit(&expect, "\n;; QUESTION SECTION:\n;");
			dt__buf_put(&expect, q + 1, (size_t)(close - (q + 1)));
			dt__buf_putc(&expect, '\t');
			dt__buf_put(&expect, close + 2, (size_t)(type - (close + 2)));
			dt__buf_lit(&expect, "\t ");
			dt__buf_put(&expect, type + 1, (size_t)(q + q_len - (type + 1)));
			dt__buf_putc(&expect, '\n');
			FUZZ_CHECK(!expect.failed && memmem(text, text_len, expect.data, expect.len) != NULL);
		}
	}

	name.len = 0;
	dt__buf_putc(&name, '#');
	err = NULL;
	int name_rc = dt__dns_name_text(&name, data, size, &err);
	FUZZ_CHECK(!name.failed && name.data[0] == '#');
	if (name_rc == 0) {
		/* a presentation name ends with its root dot */
		FUZZ_CHECK(name.len > 1 && name.data[name.len - 1] == '.' && printable(name.data + 1, name.len - 1));
	} else {
		FUZZ_CHECK(name_rc == -1 && name.len == 1 && err != NULL && *err != '\0');
	}
	return 0;
}
