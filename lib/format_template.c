/* Templates (`--template`), CSV and TSV (`--csv`, `--tsv`): lines made of named fields. The names and the
 * text of each are DNS-collector's text-format directives, so that its users' templates print what they
 * expect ("-" for a missing value, CLIENT_QUERY, IPv4, ...). A template is compiled once into a list of
 * fields and literal pieces; a message is then printed straight into the output buffer, its DNS message
 * walked once through the shared wire layer, and only when a field needs it. */
#include "dns_print.h"
#include "format.h"

#include <stdio.h>
#include <stdlib.h>

enum field {
	F_TIMESTAMP,
	F_UNIXMS,
	F_UNIXUS,
	F_UNIXNS,
	F_LOCALTIME,
	F_IDENTITY,
	F_VERSION,
	F_EXTRA,
	F_PEER_NAME,
	F_POLICY_RULE,
	F_POLICY_TYPE,
	F_POLICY_ACTION,
	F_POLICY_MATCH,
	F_POLICY_VALUE,
	F_QUERY_ZONE,
	F_OPERATION,
	F_RCODE,
	F_ID,
	F_QUERYIP,
	F_QUERYPORT,
	F_RESPONSEIP,
	F_RESPONSEPORT,
	F_FAMILY,
	F_PROTOCOL,
	F_LENGTH_UNIT,
	F_LENGTH,
	F_QNAME,
	F_QTYPE,
	F_QCLASS,
	F_LATENCY,
	F_MALFORMED,
	F_QR,
	F_OPCODE,
	F_TR,
	F_DF,
	F_TC,
	F_AA,
	F_RA,
	F_AD,
	F_RD,
	F_CD,
	F_TTL,
	F_ANSWER,
	F_ANSWERCOUNT,
	F_ECS,
	F_LITERAL, /* not a name: literal text of a {name} template */
};

/* The names, in enum order. "timestamp" is DNS-collector's older name for timestamp-rfc3339ns. */
static const char *const field_names[] = {
	"timestamp-rfc3339ns",
	"timestamp-unixms",
	"timestamp-unixus",
	"timestamp-unixns",
	"localtime",
	"identity",
	"version",
	"extra",
	"peer-name",
	"policy-rule",
	"policy-type",
	"policy-action",
	"policy-match",
	"policy-value",
	"query-zone",
	"operation",
	"rcode",
	"id",
	"queryip",
	"queryport",
	"responseip",
	"responseport",
	"family",
	"protocol",
	"length-unit",
	"length",
	"qname",
	"qtype",
	"qclass",
	"latency",
	"malformed",
	"qr",
	"opcode",
	"tr",
	"df",
	"tc",
	"aa",
	"ra",
	"ad",
	"rd",
	"cd",
	"ttl",
	"answer",
	"answercount",
	"edns-csubnet",
};

/* The fields that need the DNS message parsed, and those that walk to its first answer. */
static bool needs_dns(enum field f)
{
	switch (f) {
	case F_RCODE:
	case F_QNAME:
	case F_QTYPE:
	case F_QCLASS:
	case F_MALFORMED:
	case F_TC:
	case F_AA:
	case F_RA:
	case F_AD:
	case F_RD:
	case F_CD:
	case F_TTL:
	case F_ANSWER:
	case F_ANSWERCOUNT:
	case F_ECS:
		return true;
	default:
		return false;
	}
}
#define NEEDS_ANSWER(f) ((f) == F_TTL || (f) == F_ANSWER)

/* DNS-collector's default text-format, our default CSV/TSV columns. */
static const char default_fields[] =
	"timestamp-rfc3339ns identity operation rcode queryip queryport family protocol "
	"length qname qtype latency";

struct piece {
	enum field f;
	size_t off, len; /* F_LITERAL: the text, in the template's copy */
};

struct dt_template {
	enum dt_template_kind kind;
	bool braces; /* {name} form: literal text between fields, no separator */
	bool dns, answer;
	char *text; /* the template's own copy, which literals point into */
	size_t n;
	struct piece pieces[];
};

static int lookup(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "timestamp", 9) == 0)
		return F_TIMESTAMP;
	for (int i = 0; i < F_LITERAL; i++)
		if (strlen(field_names[i]) == n && memcmp(field_names[i], s, n) == 0)
			return i;
	return -1;
}

static struct dt_template *fail(struct dt_template *t, dt_res *res, char *err, size_t errsize, const char *s, size_t n)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "unknown field \"%.*s\"", (int)(n > 64 ? 64 : n), s);
	dt_template_free(t);
	*res = DT_ERR_INVALID;
	return NULL;
}

struct dt_template *dt_template_new(enum dt_template_kind kind, const char *spec, char *err, size_t errsize,
				    dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	if (spec == NULL || *spec == '\0')
		spec = default_fields;
	size_t len = strlen(spec);
	/* at most one piece a byte, plus one */
	struct dt_template *t = calloc(1, sizeof(*t) + (len + 1) * sizeof(struct piece));
	if (t == NULL || (t->text = strdup(spec)) == NULL) {
		free(t);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	t->kind = kind;
	t->braces = kind == DT_TEMPLATE_TEXT && strchr(spec, '{') != NULL;
	const char *s = t->text;
	size_t i = 0;
	while (i < len) {
		size_t j;
		if (t->braces) {
			if (s[i] != '{') {
				for (j = i; j < len && s[j] != '{'; j++)
					;
				t->pieces[t->n++] = (struct piece){F_LITERAL, i, j - i};
				i = j;
				continue;
			}
			for (j = i + 1; j < len && s[j] != '}'; j++)
				;
			if (j == len)
				return fail(t, res, err, errsize, s + i, j - i);
			int f = lookup(s + i + 1, j - i - 1);
			if (f < 0)
				return fail(t, res, err, errsize, s + i + 1, j - i - 1);
			t->pieces[t->n++] = (struct piece){(enum field)f, 0, 0};
			i = j + 1;
			continue;
		}
		/* a list: names separated by white space (text) or by commas (--fields) */
		if (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == '\n') {
			i++;
			continue;
		}
		for (j = i; j < len && s[j] != ' ' && s[j] != '\t' && s[j] != ',' && s[j] != '\n'; j++)
			;
		int f = lookup(s + i, j - i);
		if (f < 0)
			return fail(t, res, err, errsize, s + i, j - i);
		t->pieces[t->n++] = (struct piece){(enum field)f, i, j - i};
		i = j;
	}
	for (size_t k = 0; k < t->n; k++) {
		enum field f = t->pieces[k].f;
		if (f != F_LITERAL && needs_dns(f))
			t->dns = true;
		if (f != F_LITERAL && NEEDS_ANSWER(f))
			t->answer = true;
	}
	*res = DT_OK;
	return t;
}

void dt_template_free(struct dt_template *t)
{
	if (t == NULL)
		return;
	free(t->text);
	free(t);
}

void dt_template_header(const struct dt_template *t, struct dt_buf *out)
{
	if (t->kind == DT_TEMPLATE_TEXT)
		return;
	for (size_t k = 0; k < t->n; k++) {
		if (k > 0)
			dt__buf_putc(out, t->kind == DT_TEMPLATE_CSV ? ',' : '\t');
		dt__buf_puts(out, field_names[t->pieces[k].f]);
	}
	if (t->kind == DT_TEMPLATE_CSV)
		dt__buf_lit(out, "\r\n");
	else
		dt__buf_putc(out, '\n');
}

/* ---- One message ---- */

/* What the fields read of the message's DNS part, found once. */
struct ctx {
	const struct dt_message *m;
	bool query;
	bool has_wire, parsed;
	struct dt_bytes wire;
	struct dt__dns_msg dns;
	bool has_answer;
	struct dt__dns_rr answer;
	bool has_time;
	uint64_t sec;
	uint32_t nsec;
};

static void put_dash(struct dt_buf *out)
{
	dt__buf_putc(out, '-');
}

static void put_bytes_or_dash(struct dt_buf *out, bool has, struct dt_bytes v)
{
	if (has && v.len > 0)
		dt__buf_put(out, v.data, v.len);
	else
		put_dash(out);
}

static void put_flag(struct dt_buf *out, const struct ctx *c, uint16_t bit, const char *name)
{
	if (c->parsed && (c->dns.hdr.flags & bit))
		dt__buf_put(out, name, 2);
	else
		put_dash(out);
}

/* DNS-collector's "%.6f" of a latency in seconds. */
static void put_latency(struct dt_buf *out, const struct dt_message *m)
{
	uint64_t d =
		(m->response_time_sec - m->query_time_sec) * 1000000000u + m->response_time_nsec - m->query_time_nsec;
	bool neg = d >> 63;
	if (neg) {
		d = (uint64_t)0 - d;
		dt__buf_putc(out, '-');
	}
	d = (d + 500) / 1000; /* microseconds, rounded */
	dt__buf_put_u64(out, d / 1000000u);
	dt__buf_putc(out, '.');
	dt__buf_put_u64_pad(out, d % 1000000u, 6);
}

/* The qname without its final dot, as DNS-collector prints it ("." for the root); quoted when it holds the
 * separator (a space), inner quotes escaped, in the text form. */
static void put_qname(struct dt_buf *out, const struct ctx *c, bool text)
{
	if (!c->parsed || c->dns.count[0] == 0) {
		put_dash(out);
		return;
	}
	size_t from = out->len;
	if (dt__dns_name_at_text(out, c->wire.data, c->wire.len, c->dns.qname) == 0) {
		put_dash(out);
		return;
	}
	if (out->failed)
		return;
	if (out->len - from > 1)
		out->len--; /* the final dot */
	if (!text || memchr(out->data + from, ' ', out->len - from) == NULL)
		return;
	size_t quotes = 0, n = out->len - from;
	for (size_t i = from; i < out->len; i++)
		quotes += out->data[i] == '"';
	if (!dt__buf_reserve(out, n + quotes + 2))
		return;
	char *p = out->data + from;
	/* moved right, back to front, with a backslash before each quote */
	size_t w = n + quotes + 1;
	p[w] = '"';
	for (size_t r = n; r-- > 0;) {
		p[--w] = p[r];
		if (p[r] == '"')
			p[--w] = '\\';
	}
	p[0] = '"';
	out->len = from + n + quotes + 2;
}

static void put_ecs(struct dt_buf *out, const struct ctx *c)
{
	struct dt__dns_edns e;
	if (!c->parsed || !dt__dns_edns(&c->dns, &e) || e.options_len == 0) {
		put_dash(out);
		return;
	}
	struct dt__dns_ecs ecs;
	if (!dt__dns_edns_ecs(&e, &ecs))
		return; /* options, none of them ECS: DNS-collector prints nothing */
	if (ecs.family == 1 || ecs.family == 2) {
		struct dt_bytes ip = {ecs.addr, ecs.family == 1 ? 4 : 16};
		dt__put_ip(out, ip);
	} else {
		dt__buf_lit(out, "0.0.0.0");
	}
	dt__buf_putc(out, '/');
	dt__buf_put_u64(out, ecs.source);
}

static void put_field(struct dt_buf *out, const struct ctx *c, enum field f, bool text)
{
	const struct dt_message *m = c->m;
	switch (f) {
	case F_TIMESTAMP:
		if (!c->has_time) {
			put_dash(out);
			break;
		}
		/* Go's RFC3339Nano: the fraction without its trailing zeros */
		dt__put_utc_time(out, c->sec, c->nsec, 'T');
		dt__buf_putc(out, 'Z');
		break;
	case F_UNIXMS:
	case F_UNIXUS:
	case F_UNIXNS: {
		if (!c->has_time) {
			put_dash(out);
			break;
		}
		uint64_t ns = c->sec * 1000000000u + c->nsec;
		dt__buf_put_u64(out, f == F_UNIXMS ? ns / 1000000u : f == F_UNIXUS ? ns / 1000u : ns);
		break;
	}
	case F_LOCALTIME:
		if (!c->has_time) {
			put_dash(out);
			break;
		}
		dt__put_local_datetime(out, c->sec, c->nsec);
		break;
	case F_IDENTITY:
		put_bytes_or_dash(out, m->has_identity, m->identity);
		break;
	case F_VERSION:
		put_bytes_or_dash(out, m->has_version, m->version);
		break;
	case F_EXTRA:
		put_bytes_or_dash(out, m->has_extra, m->extra);
		break;
	case F_PEER_NAME:
		put_dash(out);
		break;
	case F_POLICY_RULE:
		put_bytes_or_dash(out, m->has_policy_rule, m->policy_rule);
		break;
	case F_POLICY_TYPE:
		if (m->has_policy_type && m->policy_type[0] != '\0')
			dt__buf_puts(out, m->policy_type);
		else
			put_dash(out);
		break;
	case F_POLICY_ACTION:
		if (m->has_policy_action)
			dt__put_enum(out, dt_policy_action_name(m->policy_action), m->policy_action);
		else
			put_dash(out);
		break;
	case F_POLICY_MATCH:
		if (m->has_policy_match)
			dt__put_enum(out, dt_policy_match_name(m->policy_match), m->policy_match);
		else
			put_dash(out);
		break;
	case F_POLICY_VALUE:
		put_bytes_or_dash(out, m->has_policy_value, m->policy_value);
		break;
	case F_QUERY_ZONE: {
		const char *err;
		if (!m->has_query_zone || dt__dns_name_text(out, m->query_zone.data, m->query_zone.len, &err) != 0)
			put_dash(out);
		break;
	}
	case F_OPERATION:
		dt__put_enum(out, dt_message_type_name(m->type), m->type);
		break;
	case F_RCODE:
		if (c->parsed) {
			const char *name = dt__dns_rcode_name(c->dns.rcode);
			dt__put_enum(out, name, c->dns.rcode);
		} else {
			put_dash(out);
		}
		break;
	case F_ID:
		if (c->has_wire && c->wire.len >= 2)
			dt__buf_put_u64(out, dt__dns_get16(c->wire.data));
		else
			put_dash(out);
		break;
	case F_QUERYIP:
	case F_RESPONSEIP: {
		bool has = f == F_QUERYIP ? m->has_query_address : m->has_response_address;
		struct dt_bytes ip = f == F_QUERYIP ? m->query_address : m->response_address;
		if (has && ip.len > 0)
			dt__put_ip(out, ip);
		else
			put_dash(out);
		break;
	}
	case F_QUERYPORT:
	case F_RESPONSEPORT:
		if (f == F_QUERYPORT ? m->has_query_port : m->has_response_port)
			dt__buf_put_u64(out, f == F_QUERYPORT ? m->query_port : m->response_port);
		else
			put_dash(out);
		break;
	case F_FAMILY:
		if (!m->has_socket_family)
			put_dash(out);
		else if (m->socket_family == 1 || m->socket_family == 2)
			dt__buf_puts(out, m->socket_family == 1 ? "IPv4" : "IPv6");
		else
			dt__buf_lit(out, "UNKNOWN");
		break;
	case F_PROTOCOL:
		if (m->has_socket_protocol)
			dt__put_enum(out, dt_socket_protocol_name(m->socket_protocol), m->socket_protocol);
		else
			put_dash(out);
		break;
	case F_LENGTH_UNIT:
	case F_LENGTH:
		dt__buf_put_u64(out, c->has_wire ? c->wire.len : 0);
		if (f == F_LENGTH_UNIT)
			dt__buf_putc(out, 'b');
		break;
	case F_QNAME:
		put_qname(out, c, text);
		break;
	case F_QTYPE:
	case F_QCLASS:
		if (c->parsed && c->dns.count[0] > 0) {
			if (f == F_QTYPE)
				dt__dns_type_text(out, c->dns.qtype);
			else
				dt__dns_class_text(out, c->dns.qclass);
		} else {
			put_dash(out);
		}
		break;
	case F_LATENCY:
		/* DNS-collector prints 0.000000 when it has not matched the query to its response */
		if (m->has_query_time_sec && m->has_response_time_sec)
			put_latency(out, m);
		else
			dt__buf_lit(out, "0.000000");
		break;
	case F_MALFORMED:
		if (c->has_wire && !c->parsed)
			dt__buf_lit(out, "PKTERR");
		else
			put_dash(out);
		break;
	case F_QR:
		if (c->has_wire && c->wire.len >= 3)
			dt__buf_puts(out, (c->wire.data[2] & 0x80) ? "REPLY" : "QUERY");
		else
			put_dash(out);
		break;
	case F_OPCODE:
		if (c->has_wire && c->wire.len >= 4)
			dt__buf_put_u64(out, dt__dns_opcode(dt__dns_get16(c->wire.data + 2)));
		else
			put_dash(out);
		break;
	case F_TR:
	case F_DF:
		put_dash(out); /* dnstap carries no reassembly */
		break;
	case F_TC:
		put_flag(out, c, DT__DNS_TC, "TC");
		break;
	case F_AA:
		put_flag(out, c, DT__DNS_AA, "AA");
		break;
	case F_RA:
		put_flag(out, c, DT__DNS_RA, "RA");
		break;
	case F_AD:
		put_flag(out, c, DT__DNS_AD, "AD");
		break;
	case F_RD:
		put_flag(out, c, DT__DNS_RD, "RD");
		break;
	case F_CD:
		put_flag(out, c, DT__DNS_CD, "CD");
		break;
	case F_TTL:
		if (c->has_answer)
			dt__buf_put_u64(out, c->answer.ttl);
		else
			put_dash(out);
		break;
	case F_ANSWER:
		if (c->has_answer)
			dt__dns_rdata_text(out, c->wire.data, &c->answer);
		else
			put_dash(out);
		break;
	case F_ANSWERCOUNT:
		dt__buf_put_u64(out, c->parsed ? c->dns.count[1] : 0);
		break;
	case F_ECS:
		put_ecs(out, c);
		break;
	case F_LITERAL:
		break;
	}
}

/* Quotes the field written from `from` on as RFC 4180 asks, when it holds a comma, a quote or a line
 * break: in double quotes, quotes doubled. */
static void csv_quote(struct dt_buf *out, size_t from)
{
	size_t n = out->len - from, quotes = 0;
	bool need = false;
	for (size_t i = from; i < out->len; i++) {
		char ch = out->data[i];
		if (ch == '"')
			quotes++;
		if (ch == ',' || ch == '"' || ch == '\n' || ch == '\r')
			need = true;
	}
	if (!need || !dt__buf_reserve(out, n + quotes + 2))
		return;
	char *p = out->data + from;
	size_t w = n + quotes + 1;
	p[w] = '"';
	for (size_t r = n; r-- > 0;) {
		p[--w] = p[r];
		if (p[r] == '"')
			p[--w] = '"';
	}
	p[0] = '"';
	out->len = from + n + quotes + 2;
}

/* TSV cannot quote: tabs, line breaks and backslashes become \t, \n, \r and \\. */
static void tsv_escape(struct dt_buf *out, size_t from)
{
	size_t n = out->len - from, extra = 0;
	for (size_t i = from; i < out->len; i++) {
		char ch = out->data[i];
		extra += ch == '\t' || ch == '\n' || ch == '\r' || ch == '\\';
	}
	if (extra == 0 || !dt__buf_reserve(out, n + extra))
		return;
	char *p = out->data + from;
	size_t w = n + extra;
	for (size_t r = n; r-- > 0;) {
		char ch = p[r];
		if (ch == '\t' || ch == '\n' || ch == '\r' || ch == '\\') {
			p[--w] = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
			p[--w] = '\\';
		} else {
			p[--w] = ch;
		}
	}
	out->len = from + n + extra;
}

/* A text template keeps one message on one line: control bytes in a value (an identity's, or the raw rdata
 * miekg prints for NULL records) become \DDD, as in presentation form. */
static void text_escape(struct dt_buf *out, size_t from)
{
	size_t n = out->len - from, extra = 0;
	for (size_t i = from; i < out->len; i++) {
		unsigned char ch = (unsigned char)out->data[i];
		extra += ch < 0x20 || ch == 0x7f ? 3 : 0;
	}
	if (extra == 0 || !dt__buf_reserve(out, n + extra))
		return;
	char *p = out->data + from;
	size_t w = n + extra;
	for (size_t r = n; r-- > 0;) {
		unsigned char ch = (unsigned char)p[r];
		if (ch < 0x20 || ch == 0x7f) {
			p[--w] = (char)('0' + ch % 10);
			p[--w] = (char)('0' + ch / 10 % 10);
			p[--w] = (char)('0' + ch / 100);
			p[--w] = '\\';
		} else {
			p[--w] = (char)ch;
		}
	}
	out->len = from + n + extra;
}

dt_res dt_template_format(const struct dt_template *t, const struct dt_message *m, struct dt_buf *out)
{
	if (t == NULL || m == NULL || out == NULL)
		return DT_ERR_INVALID;
	if (m->dnstap_type != DT_TYPE_MESSAGE)
		return DT_ERR_NOT_MESSAGE;
	if (!m->has_message)
		return DT_ERR_NO_MESSAGE;
	struct ctx c;
	c.m = m;
	c.query = m->type % 2 == 1;
	c.has_wire = c.query ? m->has_query_message : m->has_response_message;
	c.wire = c.query ? m->query_message : m->response_message;
	c.has_time = c.query ? m->has_query_time_sec : m->has_response_time_sec;
	c.sec = c.query ? m->query_time_sec : m->response_time_sec;
	c.nsec = c.query ? m->query_time_nsec : m->response_time_nsec;
	c.parsed = false;
	c.has_answer = false;
	if (t->dns && c.has_wire)
		c.parsed = dt__dns_parse(&c.dns, c.wire.data, c.wire.len) == NULL;
	if (t->answer && c.parsed && c.dns.count[1] > 0) {
		struct dt__dns_rr_iter it;
		dt__dns_rr_iter_init(&it, c.wire.data, c.wire.len);
		while (dt__dns_rr_next(&it, &c.answer))
			if (c.answer.section == DT__DNS_ANSWER) {
				c.has_answer = true;
				break;
			}
	}
	char sep = t->kind == DT_TEMPLATE_CSV ? ',' : t->kind == DT_TEMPLATE_TSV ? '\t' : ' ';
	for (size_t k = 0; k < t->n; k++) {
		const struct piece *p = &t->pieces[k];
		if (p->f == F_LITERAL) {
			dt__buf_put(out, t->text + p->off, p->len);
			continue;
		}
		if (k > 0 && !t->braces)
			dt__buf_putc(out, sep);
		size_t from = out->len;
		put_field(out, &c, p->f, t->kind == DT_TEMPLATE_TEXT && !t->braces);
		if (out->failed)
			break;
		if (t->kind == DT_TEMPLATE_CSV)
			csv_quote(out, from);
		else if (t->kind == DT_TEMPLATE_TSV)
			tsv_escape(out, from);
		else
			text_escape(out, from);
	}
	if (t->kind == DT_TEMPLATE_CSV)
		dt__buf_lit(out, "\r\n");
	else
		dt__buf_putc(out, '\n');
	return out->failed ? DT_ERR_NOMEM : DT_OK;
}
