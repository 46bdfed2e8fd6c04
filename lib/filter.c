/* The filter language (dnstap(1), FILTERS): a recursive-descent parser into a small tree, its normal form,
 * and the evaluator. What users type is read once, by ldns where it is DNS (names, types, classes,
 * rcodes, opcodes); evaluation compares wire-format data through the shared wire layer and parses an
 * item's DNS message only when a predicate asks for it, at most once per item. */
#include "buf.h"
#include "dns_print.h"
#include "dns_wire.h"
#include "filter.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Nesting deeper than this is refused rather than risking the stack. */
#define MAX_DEPTH 200

enum op { N_AND, N_OR, N_NOT, N_PRED };

enum pred {
	P_TYPE,
	P_IDENTITY,
	P_VERSION,
	P_QNAME,
	P_SUFFIX,
	P_REGEX,
	P_QTYPE,
	P_QCLASS,
	P_RCODE,
	P_OPCODE,
	P_FLAG,
	P_CLIENT,
	P_SERVER,
	P_PORT,
	P_CLIENT_PORT,
	P_SERVER_PORT,
	P_PROTOCOL,
	P_FAMILY,
	P_SIZE,
	P_ANSWER,
	P_ECS,
	P_TIME_AFTER,
	P_TIME_BEFORE,
};

/* How a predicate's values are read and printed. */
enum vkind { V_NONE, V_ENUM, V_STRING, V_NAME, V_REGEX, V_NUMBER, V_CIDR, V_SIZE, V_TIME };

struct value {
	uint32_t num;     /* V_ENUM, V_NUMBER */
	uint8_t *bytes;   /* V_STRING, V_NAME (wire form, lowercased) */
	size_t len;       /* of bytes */
	uint8_t addr[16]; /* V_CIDR: the network, bits beyond the prefix cleared */
	uint8_t alen;     /* 4 or 16 */
	uint8_t bits;     /* prefix length */
};

enum cmp { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

struct node {
	enum op op;
	struct node **kids; /* and, or: two or more; not: one */
	size_t nkids;
	/* N_PRED */
	enum pred pred;
	uint16_t flag; /* P_FLAG: the header bit */
	enum cmp cmp;  /* P_SIZE */
	uint64_t size;
	int64_t sec; /* P_TIME_*: seconds and nanoseconds since the epoch */
	uint32_t nsec;
	struct value *v;
	size_t nv;
	regex_t re;
	bool has_re;
	char *text; /* the predicate in normal form */
	uint64_t evaluated, matched;
};

/* One DNS wire message of the item being evaluated, parsed on first use. */
struct wire {
	int state; /* 0 not looked at, 1 parsed, -1 absent or does not parse */
	struct dt__dns_msg msg;
};

struct dt_filter {
	struct node *root;
	/* the item being evaluated: reset for each */
	const struct dt_message *m;
	struct wire q, r; /* its query and response messages, parsed whole (answer, ecs) */
	bool main_done;
	const struct dt_bytes *main; /* the one dt__filter_wire() picks; NULL if none */
	int name_state;              /* 0 not looked at, 1 the question below is read, -1 none */
	const uint8_t *qn;           /* the name, in wire form, in the message or in qname[] */
	size_t qname_len;
	uint8_t qname[255]; /* a compressed name, decompressed */
	uint16_t qtype, qclass;
	int rcode_state; /* 0 not looked at, 1 rcode holds it, -1 cannot be read */
	uint16_t rcode;
	int text_state; /* the qname's presentation text, for regex */
	struct dt_buf text;
};

/* ==== Lexer ==== */

enum tok { T_EOF, T_WORD, T_LPAREN, T_RPAREN, T_COMMA, T_OP, T_ERR };

struct parser {
	const char *s;
	size_t len, pos;
	/* the current token */
	enum tok t;
	size_t start, end; /* its bytes in s */
	bool quoted;
	char *word; /* T_WORD: its value, NUL-terminated (a quoted string unescaped) */
	size_t word_cap;
	/* the first error */
	char *err;
	size_t errsize;
	size_t *err_offset;
	bool failed, nomem;
	int depth;
};

static bool perr(struct parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool perr(struct parser *p, size_t off, const char *fmt, ...)
{
	if (p->failed)
		return false;
	p->failed = true;
	*p->err_offset = off;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errsize, fmt, ap);
	va_end(ap);
	return false;
}

static bool nomem(struct parser *p)
{
	p->nomem = true;
	return perr(p, p->start, "out of memory");
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_special(char c)
{
	return is_space(c) || c == '(' || c == ')' || c == ',' || c == '"' || c == '#' || c == '<' || c == '>' ||
	       c == '=' || c == '!';
}

static bool put_word(struct parser *p, size_t n, char c)
{
	if (n + 2 > p->word_cap) {
		size_t cap = p->word_cap ? p->word_cap * 2 : 64;
		char *w = realloc(p->word, cap);
		if (w == NULL)
			return nomem(p);
		p->word = w;
		p->word_cap = cap;
	}
	p->word[n] = c;
	p->word[n + 1] = '\0';
	return true;
}

/* Reads the next token into p->t. */
static void next(struct parser *p)
{
	const char *s = p->s;
	for (;;) {
		while (p->pos < p->len && is_space(s[p->pos]))
			p->pos++;
		if (p->pos < p->len && s[p->pos] == '#') {
			while (p->pos < p->len && s[p->pos] != '\n')
				p->pos++;
			continue;
		}
		break;
	}
	p->start = p->pos;
	p->quoted = false;
	if (p->pos >= p->len) {
		p->t = T_EOF;
		p->end = p->pos;
		return;
	}
	char c = s[p->pos];
	if (c == '\0') {
		perr(p, p->pos, "a NUL byte in the expression");
		p->t = T_ERR;
		return;
	}
	if (c == '(' || c == ')' || c == ',') {
		p->t = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
		p->end = ++p->pos;
		return;
	}
	if (c == '<' || c == '>' || c == '=' || c == '!') {
		while (p->pos < p->len &&
		       (s[p->pos] == '<' || s[p->pos] == '>' || s[p->pos] == '=' || s[p->pos] == '!'))
			p->pos++;
		p->t = T_OP;
		p->end = p->pos;
		return;
	}
	size_t n = 0;
	if (!put_word(p, 0, '\0')) {
		p->t = T_ERR;
		return;
	}
	if (c == '"') {
		/* \" and \\ stand for themselves; any other backslash is kept, for ldns and regcomp */
		p->quoted = true;
		p->pos++;
		for (;;) {
			if (p->pos >= p->len || s[p->pos] == '\0') {
				perr(p, p->start, "unterminated string");
				p->t = T_ERR;
				return;
			}
			char d = s[p->pos++];
			if (d == '"')
				break;
			if (d == '\\' && p->pos < p->len && (s[p->pos] == '"' || s[p->pos] == '\\'))
				d = s[p->pos++];
			if (!put_word(p, n++, d)) {
				p->t = T_ERR;
				return;
			}
		}
	} else {
		/* a backslash takes the next character into the word, escape and all (names: \. \DDD) */
		while (p->pos < p->len && s[p->pos] != '\0' && !is_special(s[p->pos])) {
			if (s[p->pos] == '\\' && p->pos + 1 < p->len && s[p->pos + 1] != '\0') {
				if (!put_word(p, n++, '\\')) {
					p->t = T_ERR;
					return;
				}
				p->pos++;
			}
			if (!put_word(p, n++, s[p->pos++])) {
				p->t = T_ERR;
				return;
			}
		}
	}
	p->t = T_WORD;
	p->end = p->pos;
}

static bool word_is(const struct parser *p, const char *w)
{
	return p->t == T_WORD && !p->quoted && strcasecmp(p->word, w) == 0;
}

/* ==== Values ==== */

/* The Go tool's two-letter abbreviations (AQ, CR...), from the names: first letters of the two words. */
static void type_abbrev(int type, char out[3])
{
	const char *n = dt_message_type_name(type), *u = n ? strchr(n, '_') : NULL;
	out[0] = n ? n[0] : '?';
	out[1] = u ? u[1] : '?';
	out[2] = '\0';
}

static bool parse_number(const char *w, uint64_t max, uint64_t *out)
{
	if (*w == '\0')
		return false;
	uint64_t v = 0;
	for (; *w; w++) {
		if (*w < '0' || *w > '9' || v > (max - (uint64_t)(*w - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*w - '0');
	}
	*out = v;
	return true;
}

static const char *const protocols[] = {NULL, "udp", "tcp", "dot", "doh", "dnscrypt-udp", "dnscrypt-tcp", "doq"};

static bool parse_enum(struct parser *p, enum pred pred, struct value *v)
{
	const char *w = p->word;
	uint64_t n;
	switch (pred) {
	case P_TYPE:
		for (int t = 1; dt_message_type_name(t) != NULL; t++) {
			char ab[3];
			type_abbrev(t, ab);
			if (strcasecmp(w, ab) == 0 || strcasecmp(w, dt_message_type_name(t)) == 0) {
				v->num = (uint32_t)t;
				return true;
			}
		}
		return perr(p, p->start, "unknown message type \"%s\" (want CQ, CR, AQ... or CLIENT_QUERY...)", w);
	case P_QTYPE: {
		if (parse_number(w, 65535, &n)) {
			v->num = (uint32_t)n;
			return true;
		}
		int t = (int)ldns_get_rr_type_by_name(w);
		if ((t > 0 && t <= 65535) || strcasecmp(w, "TYPE0") == 0) {
			v->num = (uint32_t)t;
			return true;
		}
		return perr(p, p->start, "unknown type \"%s\"", w);
	}
	case P_QCLASS: {
		if (parse_number(w, 65535, &n)) {
			v->num = (uint32_t)n;
			return true;
		}
		int c = (int)ldns_get_rr_class_by_name(w);
		if ((c > 0 && c <= 65535) || strcasecmp(w, "CLASS0") == 0) {
			v->num = (uint32_t)c;
			return true;
		}
		return perr(p, p->start, "unknown class \"%s\"", w);
	}
	case P_RCODE: {
		if (parse_number(w, 4095, &n)) {
			v->num = (uint32_t)n;
			return true;
		}
		ldns_lookup_table *l = ldns_lookup_by_name(ldns_rcodes, w);
		if (l != NULL) {
			v->num = (uint32_t)l->id;
			return true;
		}
		return perr(p, p->start, "unknown rcode \"%s\"", w);
	}
	case P_OPCODE: {
		if (parse_number(w, 15, &n)) {
			v->num = (uint32_t)n;
			return true;
		}
		ldns_lookup_table *l = ldns_lookup_by_name(ldns_opcodes, w);
		if (l != NULL) {
			v->num = (uint32_t)l->id;
			return true;
		}
		return perr(p, p->start, "unknown opcode \"%s\"", w);
	}
	case P_PROTOCOL:
		for (int i = 1; i < (int)(sizeof(protocols) / sizeof(protocols[0])); i++)
			if (strcasecmp(w, protocols[i]) == 0 || strcasecmp(w, dt_socket_protocol_name(i)) == 0) {
				v->num = (uint32_t)i;
				return true;
			}
		return perr(p, p->start,
			    "unknown protocol \"%s\" (want udp, tcp, dot, doh, dnscrypt-udp, dnscrypt-tcp or doq)", w);
	case P_FAMILY:
		if (strcasecmp(w, "inet") == 0 || strcasecmp(w, "inet4") == 0 || strcasecmp(w, "ipv4") == 0) {
			v->num = DT_INET;
			return true;
		}
		if (strcasecmp(w, "inet6") == 0 || strcasecmp(w, "ipv6") == 0) {
			v->num = DT_INET6;
			return true;
		}
		return perr(p, p->start, "unknown family \"%s\" (want inet or inet6)", w);
	default:
		return perr(p, p->start, "internal error");
	}
}

static bool parse_name(struct parser *p, struct value *v)
{
	ldns_rdf *rd = NULL;
	ldns_status st = ldns_str2rdf_dname(&rd, p->word);
	if (st != LDNS_STATUS_OK)
		return perr(p, p->start, "bad name \"%s\": %s", p->word, ldns_get_errorstr_by_id(st));
	v->len = ldns_rdf_size(rd);
	v->bytes = malloc(v->len);
	if (v->bytes == NULL) {
		ldns_rdf_deep_free(rd);
		return nomem(p);
	}
	memcpy(v->bytes, ldns_rdf_data(rd), v->len);
	ldns_rdf_deep_free(rd);
	dt__name_lower(v->bytes, v->len);
	return true;
}

static void mask(uint8_t *a, size_t alen, unsigned bits)
{
	for (size_t i = 0; i < alen; i++) {
		unsigned b = (unsigned)i * 8;
		a[i] &= b >= bits ? 0 : bits - b >= 8 ? 0xff : (uint8_t)(0xff << (8 - (bits - b)));
	}
}

static bool parse_cidr(struct parser *p, struct value *v)
{
	char host[64];
	const char *w = p->word, *slash = strchr(w, '/');
	size_t hl = slash ? (size_t)(slash - w) : strlen(w);
	if (hl >= sizeof(host))
		return perr(p, p->start, "bad address \"%s\" (want an address or ADDRESS/BITS)", w);
	memcpy(host, w, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, v->addr) == 1)
		v->alen = 4;
	else if (inet_pton(AF_INET6, host, v->addr) == 1)
		v->alen = 16;
	else
		return perr(p, p->start, "bad address \"%s\" (want an address or ADDRESS/BITS)", w);
	uint64_t bits = v->alen * 8u;
	if (slash != NULL && !parse_number(slash + 1, v->alen * 8u, &bits))
		return perr(p, p->start, "bad prefix length in \"%s\" (want 0 to %u)", w, v->alen * 8u);
	v->bits = (uint8_t)bits;
	mask(v->addr, v->alen, v->bits);
	return true;
}

static bool parse_string(struct parser *p, struct value *v)
{
	v->len = strlen(p->word);
	v->bytes = malloc(v->len + 1);
	if (v->bytes == NULL)
		return nomem(p);
	memcpy(v->bytes, p->word, v->len + 1);
	return true;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* RFC 3339: 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm); 't' and ' ' for the T and 'z' too. */
static bool parse_rfc3339(const char *s, int64_t *sec, uint32_t *nsec)
{
	size_t n = strlen(s);
	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return false;
	int Y = digits(s, 4), M = digits(s + 5, 2), D = digits(s + 8, 2), h = digits(s + 11, 2), m = digits(s + 14, 2),
	    S = digits(s + 17, 2);
	if (Y < 0 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 || S < 0 || S > 60)
		return false;
	const char *p = s + 19;
	uint32_t ns = 0;
	if (*p == '.') {
		p++;
		int k = 0;
		for (; *p >= '0' && *p <= '9'; p++, k++)
			if (k < 9)
				ns = ns * 10 + (uint32_t)(*p - '0');
		if (k == 0)
			return false;
		for (; k < 9; k++)
			ns *= 10;
	}
	int off = 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return false;
	}
	/* days from civil (proleptic Gregorian), as timegm() would but without its time zone state */
	int64_t y = Y - (M <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	*sec = days * 86400 + h * 3600 + m * 60 + S - off;
	*nsec = ns;
	/* dnstap times count seconds from 1970; the normal form prints four-digit years */
	return *sec >= 0 && *sec <= 253402300799;
}

/* ==== Normal form ==== */

static void put_quoted(struct dt_buf *b, const uint8_t *s, size_t n)
{
	dt__buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			dt__buf_putc(b, '\\');
		dt__buf_putc(b, (char)s[i]);
	}
	dt__buf_putc(b, '"');
}

/* A string value: bare when it would read back as the same word, else quoted. */
static void put_string(struct dt_buf *b, const uint8_t *s, size_t n)
{
	/* a backslash stays in a bare word with the character after it, so it may stand before a plain one */
	bool bare = n > 0 && !(n == 3 && (memcmp(s, "and", 3) == 0 || memcmp(s, "not", 3) == 0)) &&
		    !(n == 2 && memcmp(s, "or", 2) == 0);
	for (size_t i = 0; bare && i < n; i++)
		bare = s[i] > ' ' && s[i] < 0x7f && !is_special((char)s[i]) &&
		       (s[i] != '\\' ||
			(i + 1 < n && s[i + 1] > ' ' && s[i + 1] < 0x7f && !is_special((char)s[i + 1])));
	if (bare)
		dt__buf_put(b, s, n);
	else
		put_quoted(b, s, n);
}

static const char *const flag_names[] = {"qr", "aa", "tc", "rd", "ra", "ad", "cd"};
static const uint16_t flag_bits[] = {DT__DNS_QR, DT__DNS_AA, DT__DNS_TC, DT__DNS_RD,
				     DT__DNS_RA, DT__DNS_AD, DT__DNS_CD};

static const char *const cmp_names[] = {"==", "!=", "<", "<=", ">", ">="};

static const struct {
	const char *name;
	enum pred pred;
	enum vkind kind;
} preds[] = {
	{"type", P_TYPE, V_ENUM},
	{"identity", P_IDENTITY, V_STRING},
	{"version", P_VERSION, V_STRING},
	{"qname", P_QNAME, V_NAME},
	{"suffix", P_SUFFIX, V_NAME},
	{"regex", P_REGEX, V_REGEX},
	{"qtype", P_QTYPE, V_ENUM},
	{"qclass", P_QCLASS, V_ENUM},
	{"rcode", P_RCODE, V_ENUM},
	{"opcode", P_OPCODE, V_ENUM},
	{"client", P_CLIENT, V_CIDR},
	{"server", P_SERVER, V_CIDR},
	{"port", P_PORT, V_NUMBER},
	{"client-port", P_CLIENT_PORT, V_NUMBER},
	{"server-port", P_SERVER_PORT, V_NUMBER},
	{"protocol", P_PROTOCOL, V_ENUM},
	{"family", P_FAMILY, V_ENUM},
	{"size", P_SIZE, V_SIZE},
	{"answer", P_ANSWER, V_CIDR},
	{"ecs", P_ECS, V_CIDR},
	{"time", P_TIME_AFTER, V_TIME},
};

static const char *pred_name(const struct node *n)
{
	if (n->pred == P_FLAG) {
		for (size_t i = 0; i < sizeof(flag_bits) / sizeof(flag_bits[0]); i++)
			if (flag_bits[i] == n->flag)
				return flag_names[i];
	}
	if (n->pred == P_TIME_BEFORE)
		return "time";
	for (size_t i = 0; i < sizeof(preds) / sizeof(preds[0]); i++)
		if (preds[i].pred == n->pred)
			return preds[i].name;
	return "?";
}

static void put_value(struct dt_buf *b, const struct node *n, const struct value *v)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	switch (n->pred) {
	case P_TYPE:
		type_abbrev((int)v->num, tmp);
		dt__buf_puts(b, tmp);
		break;
	case P_QTYPE: {
		char *s = ldns_rr_type2str((ldns_rr_type)v->num);
		dt__buf_puts(b, s ? s : "?");
		free(s);
		break;
	}
	case P_QCLASS: {
		char *s = ldns_rr_class2str((ldns_rr_class)v->num);
		dt__buf_puts(b, s ? s : "?");
		free(s);
		break;
	}
	case P_RCODE:
	case P_OPCODE: {
		ldns_lookup_table *l = ldns_lookup_by_id(n->pred == P_RCODE ? ldns_rcodes : ldns_opcodes, (int)v->num);
		if (l != NULL)
			dt__buf_puts(b, l->name);
		else
			dt__buf_put_u64(b, v->num);
		break;
	}
	case P_PROTOCOL:
		dt__buf_puts(b, protocols[v->num]);
		break;
	case P_FAMILY:
		dt__buf_puts(b, v->num == DT_INET ? "inet" : "inet6");
		break;
	case P_PORT:
	case P_CLIENT_PORT:
	case P_SERVER_PORT:
		dt__buf_put_u64(b, v->num);
		break;
	case P_IDENTITY:
	case P_VERSION:
	case P_REGEX:
		put_string(b, v->bytes, v->len);
		break;
	case P_QNAME:
	case P_SUFFIX: {
		/* the wire name in ldns's presentation (escapes included), which ldns reads back */
		ldns_rdf *rd = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, v->len, v->bytes);
		char *s = rd ? ldns_rdf2str(rd) : NULL;
		if (s != NULL)
			put_string(b, (const uint8_t *)s, strlen(s));
		else
			b->failed = true;
		free(s);
		ldns_rdf_deep_free(rd);
		break;
	}
	case P_CLIENT:
	case P_SERVER:
	case P_ANSWER:
	case P_ECS:
		inet_ntop(v->alen == 4 ? AF_INET : AF_INET6, v->addr, tmp, sizeof(tmp));
		dt__buf_puts(b, tmp);
		dt__buf_putc(b, '/');
		dt__buf_put_u64(b, v->bits);
		break;
	default:
		break;
	}
}

static void put_pred(struct dt_buf *b, const struct node *n)
{
	dt__buf_puts(b, pred_name(n));
	if (n->pred == P_FLAG)
		return;
	dt__buf_putc(b, ' ');
	if (n->pred == P_SIZE) {
		dt__buf_puts(b, cmp_names[n->cmp]);
		dt__buf_putc(b, ' ');
		dt__buf_put_u64(b, n->size);
		return;
	}
	if (n->pred == P_TIME_AFTER || n->pred == P_TIME_BEFORE) {
		dt__buf_puts(b, n->pred == P_TIME_AFTER ? "after " : "before ");
		time_t t = (time_t)n->sec;
		struct tm tm;
		char s[64];
		if (gmtime_r(&t, &tm) == NULL || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
			b->failed = true;
			return;
		}
		dt__buf_puts(b, s);
		if (n->nsec != 0) {
			snprintf(s, sizeof(s), ".%09u", n->nsec);
			dt__buf_puts(b, s);
		}
		dt__buf_putc(b, 'Z');
		return;
	}
	for (size_t i = 0; i < n->nv; i++) {
		if (i > 0)
			dt__buf_putc(b, ',');
		put_value(b, n, &n->v[i]);
	}
}

static void put_node(struct dt_buf *b, const struct node *n)
{
	switch (n->op) {
	case N_PRED:
		dt__buf_puts(b, n->text);
		break;
	case N_NOT:
		dt__buf_lit(b, "not ");
		put_node(b, n->kids[0]);
		break;
	case N_AND:
	case N_OR:
		dt__buf_putc(b, '(');
		for (size_t i = 0; i < n->nkids; i++) {
			if (i > 0)
				dt__buf_puts(b, n->op == N_AND ? " and " : " or ");
			put_node(b, n->kids[i]);
		}
		dt__buf_putc(b, ')');
		break;
	}
}

/* ==== Parser ==== */

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	for (size_t i = 0; i < n->nv; i++)
		free(n->v[i].bytes);
	free(n->v);
	if (n->has_re)
		regfree(&n->re);
	free(n->text);
	free(n);
}

static struct node *new_node(struct parser *p, enum op op)
{
	struct node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		nomem(p);
	else
		n->op = op;
	return n;
}

static bool add_value(struct parser *p, struct node *n, struct value **v)
{
	struct value *nv = realloc(n->v, (n->nv + 1) * sizeof(*nv));
	if (nv == NULL)
		return nomem(p);
	n->v = nv;
	*v = &nv[n->nv++];
	memset(*v, 0, sizeof(**v));
	return true;
}

static bool need_value(struct parser *p, const char *what)
{
	if (p->t == T_WORD)
		return true;
	if (p->t == T_ERR)
		return false;
	return perr(p, p->start, "%s needs a value", what);
}

static bool parse_values(struct parser *p, struct node *n, enum vkind kind, const char *name)
{
	for (;;) {
		if (!need_value(p, name))
			return false;
		struct value *v;
		if (!add_value(p, n, &v))
			return false;
		bool ok = kind == V_ENUM     ? parse_enum(p, n->pred, v)
			  : kind == V_STRING ? parse_string(p, v)
			  : kind == V_NAME   ? parse_name(p, v)
			  : kind == V_CIDR   ? parse_cidr(p, v)
					     : true;
		if (kind == V_NUMBER) {
			uint64_t port = 0;
			ok = parse_number(p->word, 65535, &port) ||
			     perr(p, p->start, "bad port \"%s\" (want 0 to 65535)", p->word);
			v->num = (uint32_t)port;
		}
		if (!ok)
			return false;
		next(p);
		if (p->t != T_COMMA)
			return true;
		next(p);
	}
}

/* glibc's regcomp() copies a repeated atom once per repetition ({n,m}: m times, +: twice), so nested
 * repetitions ("((a{99}){99}){99}") take time and memory that multiply, and stacked ones ("a++++") are
 * no better; many alternatives and loops in one regex make its automaton explode too. What a qname needs
 * is far from that, so these are refused: copies that would multiply beyond 1000, a repetition of a
 * repetition, over 8 nested groups, over 32 repetitions and alternatives in all, over 256 characters.
 * NULL if re is fine; what is wrong with it otherwise. */
static const char *regex_too_costly(const char *re)
{
	enum { MAX_LEN = 256, MAX_GROUPS = 8, MAX_COPIES = 1000, MAX_OPERATORS = 32 };
	uint64_t most[MAX_GROUPS + 1] = {1}; /* the most copies of anything in each open group */
	int depth = 0;
	uint64_t last = 1; /* copies of the last atom: 1, or a group's most */
	bool after_rep = false;
	unsigned operators = 0;
	if (strlen(re) > MAX_LEN)
		return "longer than 256 characters";
	for (const char *c = re; *c; c++) {
		bool rep = false;
		uint64_t factor = 1;
		switch (*c) {
		case '[': /* a bracket expression: up to its ], which may come first */
			c++;
			if (*c == '^')
				c++;
			if (*c == ']')
				c++;
			while (*c && *c != ']') {
				if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
					char end = c[1];
					for (c += 2; *c && !(*c == end && c[1] == ']'); c++)
						;
					if (*c)
						c++;
				}
				if (*c)
					c++;
			}
			if (*c == '\0')
				return NULL; /* regcomp says what is wrong */
			last = 1;
			break;
		case '(':
			if (++depth > MAX_GROUPS)
				return "more than 8 nested groups";
			most[depth] = 1;
			break;
		case ')':
			if (depth > 0) {
				last = most[depth--];
				if (last > most[depth])
					most[depth] = last;
			}
			break;
		case '*':
		case '?':
		case '+':
		case '{':
			if (after_rep)
				return "a repetition of a repetition";
			if (++operators > MAX_OPERATORS)
				return "more than 32 repetitions and alternatives";
			rep = true;
			factor = *c == '+' ? 2 : 1;
			if (*c == '{') {
				uint64_t v = 0;
				for (c++; *c && *c != '}'; c++) {
					if (*c >= '0' && *c <= '9' && (v = v * 10 + (uint64_t)(*c - '0')) > MAX_COPIES)
						return "repetitions that multiply beyond 1000 copies";
					if (*c == ',') {
						factor = v + 1;
						v = 0;
					}
				}
				if (*c == '\0')
					return NULL;
				if (v > factor)
					factor = v;
			}
			if (last * factor > MAX_COPIES)
				return "repetitions that multiply beyond 1000 copies";
			last *= factor;
			if (last > most[depth])
				most[depth] = last;
			break;
		case '\\':
			if (c[1] != '\0')
				c++;
			last = 1;
			break;
		case '|':
			if (++operators > MAX_OPERATORS)
				return "more than 32 repetitions and alternatives";
			last = 1;
			break;
		default:
			last = 1;
			break;
		}
		after_rep = rep;
	}
	return NULL;
}

static bool parse_pred_args(struct parser *p, struct node *n, enum vkind kind, const char *name)
{
	switch (kind) {
	case V_NONE:
		return true;
	case V_REGEX: {
		if (!need_value(p, name))
			return false;
		struct value *v;
		if (!add_value(p, n, &v) || !parse_string(p, v))
			return false;
		const char *costly = regex_too_costly(p->word);
		if (costly != NULL)
			return perr(p, p->start, "bad regex \"%s\": %s", p->word, costly);
		int rc = regcomp(&n->re, p->word, REG_EXTENDED | REG_NOSUB | REG_ICASE);
		if (rc != 0) {
			char why[128];
			regerror(rc, &n->re, why, sizeof(why));
			return perr(p, p->start, "bad regex \"%s\": %s", p->word, why);
		}
		n->has_re = true;
		next(p);
		return true;
	}
	case V_SIZE: {
		n->cmp = C_EQ;
		if (p->t == T_OP) {
			size_t l = p->end - p->start;
			const char *o = p->s + p->start;
			size_t i = 0;
			for (; i < sizeof(cmp_names) / sizeof(cmp_names[0]); i++)
				if (strlen(cmp_names[i]) == l && memcmp(cmp_names[i], o, l) == 0)
					break;
			if (l == 1 && o[0] == '=')
				i = C_EQ;
			else if (i == sizeof(cmp_names) / sizeof(cmp_names[0]))
				return perr(p, p->start, "bad comparison \"%.*s\" (want =, !=, <, <=, > or >=)", (int)l,
					    o);
			n->cmp = (enum cmp)i;
			next(p);
		}
		if (!need_value(p, name))
			return false;
		if (!parse_number(p->word, 65535, &n->size))
			return perr(p, p->start, "bad size \"%s\" (want 0 to 65535)", p->word);
		next(p);
		return true;
	}
	case V_TIME: {
		if (word_is(p, "after"))
			n->pred = P_TIME_AFTER;
		else if (word_is(p, "before"))
			n->pred = P_TIME_BEFORE;
		else if (p->t == T_ERR)
			return false;
		else
			return perr(p, p->start, "time needs after or before");
		next(p);
		if (!need_value(p, "time after/before"))
			return false;
		if (!parse_rfc3339(p->word, &n->sec, &n->nsec))
			return perr(p, p->start, "bad time \"%s\" (want RFC 3339: 2024-01-31T12:00:00Z)", p->word);
		next(p);
		return true;
	}
	default:
		return parse_values(p, n, kind, name);
	}
}

static struct node *parse_or(struct parser *p);

static struct node *parse_pred(struct parser *p)
{
	if (p->t == T_ERR)
		return NULL;
	if (p->t != T_WORD || p->quoted) {
		if (p->t == T_EOF)
			perr(p, p->start, "unexpected end of the expression (want a predicate)");
		else
			perr(p, p->start, "unexpected \"%.*s\" (want a predicate)", (int)(p->end - p->start),
			     p->s + p->start);
		return NULL;
	}
	struct node *n = new_node(p, N_PRED);
	if (n == NULL)
		return NULL;
	enum vkind kind = V_NONE;
	const char *name = NULL;
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (strcasecmp(p->word, flag_names[i]) == 0) {
			n->pred = P_FLAG;
			n->flag = flag_bits[i];
			name = flag_names[i];
		}
	for (size_t i = 0; name == NULL && i < sizeof(preds) / sizeof(preds[0]); i++)
		if (strcasecmp(p->word, preds[i].name) == 0) {
			n->pred = preds[i].pred;
			kind = preds[i].kind;
			name = preds[i].name;
		}
	if (name == NULL) {
		perr(p, p->start, "unknown predicate \"%s\"", p->word);
		node_free(n);
		return NULL;
	}
	next(p);
	if (!parse_pred_args(p, n, kind, name)) {
		node_free(n);
		return NULL;
	}
	struct dt_buf b = {0};
	put_pred(&b, n);
	dt__buf_putc(&b, '\0');
	if (b.failed) {
		dt_buf_free(&b);
		node_free(n);
		nomem(p);
		return NULL;
	}
	n->text = b.data;
	return n;
}

static struct node *parse_unary(struct parser *p)
{
	if (++p->depth > MAX_DEPTH) {
		perr(p, p->start, "nested too deeply (at most %d levels)", MAX_DEPTH);
		return NULL;
	}
	struct node *n;
	if (word_is(p, "not")) {
		next(p);
		struct node *k = parse_unary(p);
		if (k == NULL)
			return NULL;
		if ((n = new_node(p, N_NOT)) == NULL || (n->kids = malloc(sizeof(*n->kids))) == NULL) {
			node_free(n);
			node_free(k);
			nomem(p);
			return NULL;
		}
		n->kids[0] = k;
		n->nkids = 1;
	} else if (p->t == T_LPAREN) {
		size_t open = p->start;
		next(p);
		if ((n = parse_or(p)) == NULL)
			return NULL;
		if (p->t != T_RPAREN) {
			if (p->t == T_EOF)
				perr(p, open, "unbalanced parenthesis (no closing one)");
			else
				perr(p, p->start, "unexpected \"%.*s\" (want \")\", and or or)",
				     (int)(p->end - p->start), p->s + p->start);
			node_free(n);
			return NULL;
		}
		next(p);
	} else {
		n = parse_pred(p);
	}
	p->depth--;
	return n;
}

/* A chain of one operator becomes one node: a and b and c is (a and b and c). */
static struct node *parse_chain(struct parser *p, enum op op)
{
	struct node *first = op == N_OR ? parse_chain(p, N_AND) : parse_unary(p);
	if (first == NULL || !word_is(p, op == N_AND ? "and" : "or"))
		return first;
	struct node *n = new_node(p, op);
	if (n == NULL) {
		node_free(first);
		return NULL;
	}
	struct node *k = first;
	for (;;) {
		struct node **kids = realloc(n->kids, (n->nkids + 1) * sizeof(*kids));
		if (kids == NULL) {
			node_free(k);
			node_free(n);
			nomem(p);
			return NULL;
		}
		n->kids = kids;
		n->kids[n->nkids++] = k;
		if (!word_is(p, op == N_AND ? "and" : "or"))
			return n;
		next(p);
		k = op == N_OR ? parse_chain(p, N_AND) : parse_unary(p);
		if (k == NULL) {
			node_free(n);
			return NULL;
		}
	}
}

static struct node *parse_or(struct parser *p)
{
	return parse_chain(p, N_OR);
}

struct dt_filter *dt_filter_new(const char *expr, size_t len, char *err, size_t errsize, size_t *err_offset,
				dt_res *res)
{
	size_t dummy;
	struct parser p = {
		.s = expr, .len = len, .err = err, .errsize = errsize, .err_offset = err_offset ? err_offset : &dummy};
	if (errsize > 0)
		err[0] = '\0';
	*p.err_offset = 0;
	struct dt_filter *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		snprintf(err, errsize, "out of memory");
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	next(&p);
	if (p.t == T_EOF)
		perr(&p, 0, "empty expression");
	else
		f->root = parse_or(&p);
	if (f->root != NULL && p.t != T_EOF)
		perr(&p, p.start, "unexpected \"%.*s\" (want and, or, or the end)", (int)(p.end - p.start),
		     p.s + p.start);
	free(p.word);
	if (p.failed) {
		dt_filter_free(f);
		*res = p.nomem ? DT_ERR_NOMEM : DT_ERR_INVALID;
		return NULL;
	}
	*res = DT_OK;
	return f;
}

void dt_filter_free(struct dt_filter *f)
{
	if (f == NULL)
		return;
	node_free(f->root);
	dt_buf_free(&f->text);
	free(f);
}

dt_res dt_filter_format(const struct dt_filter *f, struct dt_buf *out)
{
	put_node(out, f->root);
	return out->failed ? DT_ERR_NOMEM : DT_OK;
}

static void each_predicate(const struct node *n, void (*cb)(void *, const char *, uint64_t, uint64_t), void *arg)
{
	if (n->op == N_PRED)
		cb(arg, n->text, n->evaluated, n->matched);
	for (size_t i = 0; i < n->nkids; i++)
		each_predicate(n->kids[i], cb, arg);
}

void dt_filter_foreach_predicate(const struct dt_filter *f,
				 void (*cb)(void *arg, const char *text, uint64_t evaluated, uint64_t matched),
				 void *arg)
{
	each_predicate(f->root, cb, arg);
}

/* ==== Evaluation ==== */

static const struct dt__dns_msg *wire_msg(struct wire *w, bool has, const struct dt_bytes *b)
{
	if (w->state == 0)
		w->state = has && dt__dns_parse(&w->msg, b->data, b->len) == NULL ? 1 : -1;
	return w->state == 1 ? &w->msg : NULL;
}

/* The item's DNS message (dt__filter_wire()) if it has at least a header, else NULL. Predicates read
 * only what they need of it: the header, the first question, the records by their lengths (rcode), or
 * the whole message parsed as the Go tool parses it (answer, ecs). */
static const struct dt_bytes *main_wire(struct dt_filter *f)
{
	if (!f->main_done) {
		f->main_done = true;
		f->main = dt__filter_wire(f->m);
		if (f->main != NULL && f->main->len < DT__DNS_HEADER_LEN)
			f->main = NULL;
	}
	return f->main;
}

/* The whole message parsed (dt__dns_parse()); NULL if it does not parse. */
static const struct dt__dns_msg *dns(struct dt_filter *f)
{
	const struct dt_bytes *b = main_wire(f);
	if (b == NULL)
		return NULL;
	return wire_msg(b == &f->m->query_message ? &f->q : &f->r, true, b);
}

/* The first question: its name (which must unpack as miekg unpacks names) in qn[0:qname_len), in the
 * case of the message, and its type and class, which must follow it. A name without compression, the
 * usual question, is used where it lies. */
static bool qname(struct dt_filter *f)
{
	if (f->name_state == 0) {
		f->name_state = -1;
		const struct dt_bytes *b = main_wire(f);
		if (b == NULL || dt__dns_get16(b->data + 4) == 0)
			return false;
		const uint8_t *w = b->data;
		size_t end = DT__DNS_HEADER_LEN;
		while (end < b->len && w[end] != 0 && w[end] < 0x40)
			end += 1u + w[end];
		if (end < b->len && w[end] == 0 && end + 1 - DT__DNS_HEADER_LEN <= 255) {
			/* labels up to the root label, no pointer: the name where it lies, which passes
			 * miekg's checks (labels of 1 to 63 octets, at most 255 in all) */
			f->qn = w + DT__DNS_HEADER_LEN;
			f->qname_len = ++end - DT__DNS_HEADER_LEN;
		} else if ((end = dt__dns_name_skip(w, b->len, DT__DNS_HEADER_LEN)) != 0 &&
			   dt__dns_name_unpack(w, b->len, DT__DNS_HEADER_LEN, f->qname, &f->qname_len) == NULL) {
			f->qn = f->qname;
		} else {
			return false;
		}
		if (b->len - end < 4)
			return false;
		f->qtype = dt__dns_get16(b->data + end);
		f->qclass = dt__dns_get16(b->data + end + 2);
		f->name_state = 1;
	}
	return f->name_state == 1;
}

/* b[0:8) with its ASCII capitals made small, eight bytes at once: a byte gets 0x20 where it lies in
 * 'A'..'Z' (its low seven bits plus 0x80 - 'A' carry into the top bit, plus 0x80 - 'Z' - 1 do not) and
 * its own top bit is clear. */
static inline uint64_t lower8(const uint8_t *b)
{
	uint64_t x;
	memcpy(&x, b, 8);
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t t = x & ~high;
	uint64_t upper = ((t + ones * (0x80 - 'A')) ^ (t + ones * (0x80 - 'Z' - 1))) & ~x & high;
	return x | upper >> 2;
}

/* Whether b[0:n) is lower[0:n), ASCII case folded (a name's length octets are below 'A'). A name's
 * comparison is on every message a qname or suffix predicate sees: eight bytes at a time. */
static bool name_eq(const uint8_t *lower, const uint8_t *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t l;
		memcpy(&l, lower + i, 8);
		if (lower8(b + i) != l)
			return false;
	}
	for (; i < n; i++) {
		uint8_t c = b[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != lower[i])
			return false;
	}
	return true;
}

/* The rcode: the header's 4 bits, and the extended 8 of the (last) OPT record of the additional
 * section. The records are walked by their lengths alone, which is all finding the OPT takes; false if
 * they run past the message. */
static bool rcode(struct dt_filter *f)
{
	if (f->rcode_state != 0)
		return f->rcode_state == 1;
	f->rcode_state = -1;
	const struct dt_bytes *b = main_wire(f);
	if (b == NULL)
		return false;
	const uint8_t *w = b->data;
	size_t len = b->len, off = DT__DNS_HEADER_LEN;
	uint16_t hdr = (uint16_t)dt__dns_header_rcode(dt__dns_get16(w + 2)), rc = hdr;
	unsigned qd = dt__dns_get16(w + 4), rrs = dt__dns_get16(w + 6) + dt__dns_get16(w + 8),
		 ar = dt__dns_get16(w + 10);
	if (ar > 0) {
		for (unsigned i = 0; i < qd; i++)
			if ((off = dt__dns_name_skip(w, len, off)) == 0 || (off += 4) > len)
				return false;
		for (unsigned i = 0; i < rrs + ar && off < len; i++) {
			if ((off = dt__dns_name_skip(w, len, off)) == 0 || len - off < 10)
				return false;
			if (i >= rrs && dt__dns_get16(w + off) == DT__TYPE_OPT)
				rc = (uint16_t)(hdr | w[off + 4] << 4);
			off += 10u + dt__dns_get16(w + off + 8);
			if (off > len)
				return false;
		}
	}
	f->rcode = rc;
	f->rcode_state = 1;
	return true;
}

/* The first question's name as the quiet format prints it (NUL-terminated in f->text). */
static const char *qname_text(struct dt_filter *f)
{
	if (f->text_state == 0) {
		f->text_state = -1;
		const struct dt_bytes *b = main_wire(f);
		uint8_t name[255];
		size_t len;
		const char *e;
		f->text.len = 0;
		if (qname(f) && dt__dns_name_unpack(b->data, b->len, DT__DNS_HEADER_LEN, name, &len) == NULL &&
		    dt__dns_name_text(&f->text, name, len, &e) == 0) {
			dt__buf_putc(&f->text, '\0');
			if (!f->text.failed)
				f->text_state = 1;
		}
	}
	return f->text_state == 1 ? f->text.data : NULL;
}

static bool in_cidr(const struct value *v, const uint8_t *a, size_t alen)
{
	if (alen != v->alen)
		return false;
	unsigned full = v->bits / 8u, rest = v->bits % 8u;
	if (memcmp(a, v->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ v->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool any_cidr(const struct node *n, bool has, const struct dt_bytes *b)
{
	if (!has)
		return false;
	for (size_t i = 0; i < n->nv; i++)
		if (in_cidr(&n->v[i], b->data, b->len))
			return true;
	return false;
}

static bool any_num(const struct node *n, uint32_t x)
{
	for (size_t i = 0; i < n->nv; i++)
		if (n->v[i].num == x)
			return true;
	return false;
}

static bool any_bytes(const struct node *n, bool has, const struct dt_bytes *b)
{
	if (!has)
		return false;
	for (size_t i = 0; i < n->nv; i++)
		if (n->v[i].len == b->len && (b->len == 0 || memcmp(n->v[i].bytes, b->data, b->len) == 0))
			return true;
	return false;
}

/* Whether qname ends with a label-boundary suffix of one of the names. */
static bool any_suffix(const struct node *n, const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < n->nv; i++) {
		const struct value *v = &n->v[i];
		if (v->len > len)
			continue;
		size_t off = 0;
		while (len - off > v->len)
			off += 1u + name[off];
		if (len - off == v->len && name_eq(v->bytes, name + off, v->len))
			return true;
	}
	return false;
}

static bool answer(const struct node *n, const struct dt__dns_msg *d)
{
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	dt__dns_rr_iter_init(&it, d->wire, d->len);
	while (dt__dns_rr_next(&it, &rr)) {
		if (rr.section < DT__DNS_ANSWER)
			continue;
		if (rr.section > DT__DNS_ANSWER)
			break;
		if (rr.class != 1 ||
		    !((rr.type == DT__TYPE_A && rr.rdlength == 4) || (rr.type == DT__TYPE_AAAA && rr.rdlength == 16)))
			continue;
		for (size_t i = 0; i < n->nv; i++)
			if (in_cidr(&n->v[i], rr.rdata, rr.rdlength))
				return true;
	}
	return false;
}

/* Whether the ECS of a message lies inside one of the prefixes: its address (the octets sent, zero-padded)
 * is in the network, and the family is the prefix's. */
static bool ecs_of(const struct node *n, const struct dt__dns_msg *d)
{
	struct dt__dns_edns e;
	struct dt__dns_ecs ecs;
	if (d == NULL || !dt__dns_edns(d, &e) || !dt__dns_edns_ecs(&e, &ecs))
		return false;
	size_t alen = ecs.family == 1 ? 4 : ecs.family == 2 ? 16 : 0;
	for (size_t i = 0; alen != 0 && i < n->nv; i++)
		if (in_cidr(&n->v[i], ecs.addr, alen))
			return true;
	return false;
}

/* The item's time: the query's for a query type, the response's for a response, else the other one. */
static bool item_time(const struct dt_message *m, int64_t *sec, uint32_t *nsec)
{
	bool query = m->type % 2 == 1;
	bool hq = m->has_query_time_sec, hr = m->has_response_time_sec;
	if (!(query ? hq : hr) && (query ? hr : hq))
		query = !query;
	if (!(query ? hq : hr))
		return false;
	*sec = (int64_t)(query ? m->query_time_sec : m->response_time_sec);
	*nsec = query ? m->query_time_nsec : m->response_time_nsec;
	return true;
}

static bool pred(struct dt_filter *f, const struct node *n)
{
	const struct dt_message *m = f->m;
	const struct dt__dns_msg *d;
	const struct dt_bytes *b;
	switch (n->pred) {
	case P_TYPE:
		return m->has_message && any_num(n, (uint32_t)m->type);
	case P_IDENTITY:
		return any_bytes(n, m->has_identity, &m->identity);
	case P_VERSION:
		return any_bytes(n, m->has_version, &m->version);
	case P_QNAME:
		if (!qname(f))
			return false;
		for (size_t i = 0; i < n->nv; i++)
			if (n->v[i].len == f->qname_len && name_eq(n->v[i].bytes, f->qn, f->qname_len))
				return true;
		return false;
	case P_SUFFIX:
		return qname(f) && any_suffix(n, f->qn, f->qname_len);
	case P_REGEX: {
		const char *t = qname_text(f);
		return t != NULL && regexec(&n->re, t, 0, NULL, 0) == 0;
	}
	case P_QTYPE:
		return qname(f) && any_num(n, f->qtype);
	case P_QCLASS:
		return qname(f) && any_num(n, f->qclass);
	case P_RCODE:
		return rcode(f) && any_num(n, f->rcode);
	case P_OPCODE:
		return (b = main_wire(f)) != NULL && any_num(n, dt__dns_opcode(dt__dns_get16(b->data + 2)));
	case P_FLAG:
		return (b = main_wire(f)) != NULL && (dt__dns_get16(b->data + 2) & n->flag) != 0;
	case P_CLIENT:
		return m->has_message && any_cidr(n, m->has_query_address, &m->query_address);
	case P_SERVER:
		return m->has_message && any_cidr(n, m->has_response_address, &m->response_address);
	case P_PORT:
		return m->has_message && ((m->has_query_port && any_num(n, m->query_port)) ||
					  (m->has_response_port && any_num(n, m->response_port)));
	case P_CLIENT_PORT:
		return m->has_message && m->has_query_port && any_num(n, m->query_port);
	case P_SERVER_PORT:
		return m->has_message && m->has_response_port && any_num(n, m->response_port);
	case P_PROTOCOL:
		return m->has_message && m->has_socket_protocol && any_num(n, (uint32_t)m->socket_protocol);
	case P_FAMILY:
		return m->has_message && m->has_socket_family && any_num(n, (uint32_t)m->socket_family);
	case P_SIZE: {
		if ((b = dt__filter_wire(m)) == NULL)
			return false;
		uint64_t s = b->len;
		switch (n->cmp) {
		case C_EQ:
			return s == n->size;
		case C_NE:
			return s != n->size;
		case C_LT:
			return s < n->size;
		case C_LE:
			return s <= n->size;
		case C_GT:
			return s > n->size;
		case C_GE:
			return s >= n->size;
		}
		return false;
	}
	case P_ANSWER:
		return (d = dns(f)) != NULL && answer(n, d);
	case P_ECS:
		return m->has_message && (ecs_of(n, wire_msg(&f->q, m->has_query_message, &m->query_message)) ||
					  ecs_of(n, wire_msg(&f->r, m->has_response_message, &m->response_message)));
	case P_TIME_AFTER:
	case P_TIME_BEFORE: {
		int64_t s;
		uint32_t ns;
		if (!m->has_message || !item_time(m, &s, &ns))
			return false;
		bool before = s < n->sec || (s == n->sec && ns < n->nsec);
		return n->pred == P_TIME_BEFORE ? before : !before;
	}
	}
	return false;
}

/* The tree, walked with a loop where it can be (the walk runs on every item): the last child of an
 * and/or gives its value, and a not flips the value its child gives. */
static bool eval(struct dt_filter *f, struct node *n)
{
	bool flip = false;
	for (;;) {
		switch (n->op) {
		case N_PRED: {
			bool r = pred(f, n);
			n->evaluated++;
			n->matched += r;
			return r != flip;
		}
		case N_NOT:
			flip = !flip;
			n = n->kids[0];
			continue;
		case N_AND:
		case N_OR: {
			/* and: the first false decides; or: the first true */
			bool decides = n->op == N_OR;
			size_t last = n->nkids - 1;
			for (size_t i = 0; i < last; i++)
				if (eval(f, n->kids[i]) == decides)
					return decides != flip;
			n = n->kids[last];
			continue;
		}
		}
		return false;
	}
}

bool dt_filter_match(struct dt_filter *f, const struct dt_message *m)
{
	f->m = m;
	f->q.state = f->r.state = 0;
	f->main_done = false;
	f->name_state = f->text_state = f->rcode_state = 0;
	return eval(f, f->root);
}

/* ==== SipHash-2-4 (Aumasson and Bernstein), for sampling ==== */

static inline uint64_t rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32); \
		v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                    \
		v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                    \
		v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32); \
	} while (0)

uint64_t dt__siphash24(const uint8_t key[16], const uint8_t *p, size_t n)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t mi = le64(p + i);
		v3 ^= mi;
		SIPROUND;
		SIPROUND;
		v0 ^= mi;
	}
	uint64_t b = (uint64_t)n << 56;
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
