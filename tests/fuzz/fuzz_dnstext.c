/* Fuzz target: the DNS message printer (lib/dnstext.c) on the input as a DNS wire message: the full text
 * (dt__dns_msg_text), the quiet format's question (dt__dns_question_text) and, on the same bytes, a domain
 * name (dt__dns_name_text), with what must hold between them: each appends only on success, says why
 * when it fails, and the question it prints is the first line of the full text's question section. */
#define _GNU_SOURCE /* memmem */
#include "dnstext.h"
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

/* The QUERY count in the header's flags line, the second line of the text. */
static unsigned long query_count(const char *text, size_t n)
{
	static const char key[] = "; QUERY: ";
	const char *p = memmem(text, n, key, sizeof(key) - 1);
	FUZZ_CHECK(p != NULL);
	return strtoul(p + sizeof(key) - 1, NULL, 10);
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
