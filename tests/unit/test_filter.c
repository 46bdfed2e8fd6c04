/* The filter (lib/filter.c) against a naive reference: random expressions over random messages, the
 * reference evaluating its own tree on the presentation strings the test built the message from (names
 * as lowercase text, addresses as bit strings), the filter parsing the expression's text and matching
 * the encoded wire. Also the normal form (it parses back to itself), the counters, and SipHash-2-4's
 * published test vector. Fixed seed: the same cases on every run. */
#include "filter.h"

#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* ---- what a generated message is, as text ---- */

struct dns_truth {
	bool present, parses, opt; /* opt: the header announces additional records */
	char qname[64];            /* lowercase, trailing dot */
	unsigned qtype, qclass, rcode, opcode, id;
	char flags[8][3];
	int nflags;
	char answers[3][48];
	int nanswers;
	char ecs[48]; /* "" if none; the address of the ECS option, zero-padded */
	size_t size;
};

struct truth {
	int type;
	const char *identity, *version;
	char client[48], server[48];
	unsigned cport, sport, protocol, family;
	bool has_time;
	long long sec;
	struct dns_truth q, r;
};

static const char *const labels[] = {"www", "WWW", "example", "Example", "com", "a", "b", "lab"};
static const char *const v4s[] = {"10.0.0.1", "10.1.2.3", "192.0.2.7", "192.0.2.200", "198.51.100.1"};
static const char *const v6s[] = {"2001:db8::1", "2001:db8:1::5", "::1", "fe80::1"};
static const char *const idents[] = {"alpha", "beta", "a b"};
static const unsigned qtypes[] = {1, 28, 15, 16, 65280};
static const char *const qtype_names[] = {"A", "AAAA", "MX", "TXT", "TYPE65280"};
static const char *const flag_names[] = {"qr", "aa", "tc", "rd", "ra", "ad", "cd"};
static const uint16_t flag_bits[] = {0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010};

static void put16(uint8_t *w, size_t *n, unsigned v)
{
	w[(*n)++] = (uint8_t)(v >> 8);
	w[(*n)++] = (uint8_t)v;
}

static const char *addr_of(bool v6)
{
	return v6 ? v6s[rnd(4)] : v4s[rnd(5)];
}

/* A DNS message in w[], and its truth. */
static size_t make_dns(uint8_t *w, struct dns_truth *t)
{
	memset(t, 0, sizeof(*t));
	t->present = true;
	size_t n = 0;
	t->id = rnd(65536);
	unsigned flags = 0;
	for (int i = 0; i < 7; i++)
		if (rnd(2)) {
			flags |= flag_bits[i];
			strcpy(t->flags[t->nflags++], flag_names[i]);
		}
	t->opcode = rnd(4) == 0 ? 4 : 0;
	flags |= t->opcode << 11;
	unsigned rc = rnd(3) == 0 ? rnd(6) : 0;
	flags |= rc;
	int nans = (int)rnd(3);
	bool opt = rnd(2);
	t->opt = opt;
	put16(w, &n, t->id);
	put16(w, &n, flags);
	put16(w, &n, 1);
	put16(w, &n, (unsigned)nans);
	put16(w, &n, 0);
	put16(w, &n, opt);
	int nl = 1 + (int)rnd(3);
	for (int i = 0; i < nl; i++) {
		const char *l = labels[rnd(8)];
		w[n++] = (uint8_t)strlen(l);
		memcpy(w + n, l, strlen(l));
		n += strlen(l);
		for (const char *c = l; *c; c++)
			t->qname[strlen(t->qname)] = (char)tolower((unsigned char)*c);
		strcat(t->qname, ".");
	}
	w[n++] = 0;
	unsigned k = rnd(5);
	t->qtype = qtypes[k];
	t->qclass = rnd(4) == 0 ? 3 : 1;
	put16(w, &n, t->qtype);
	put16(w, &n, t->qclass);
	for (int i = 0; i < nans; i++) {
		bool v6 = rnd(2);
		const char *a = addr_of(v6);
		w[n++] = 0xc0;
		w[n++] = 12;
		put16(w, &n, v6 ? 28 : 1);
		put16(w, &n, 1);
		put16(w, &n, 0);
		put16(w, &n, 300);
		put16(w, &n, v6 ? 16 : 4);
		inet_pton(v6 ? AF_INET6 : AF_INET, a, w + n);
		n += v6 ? 16 : 4;
		strcpy(t->answers[t->nanswers++], a);
	}
	unsigned ext = 0;
	if (opt) {
		ext = rnd(4) == 0 ? 1 : 0;
		w[n++] = 0;
		put16(w, &n, 41);
		put16(w, &n, 4096);
		put16(w, &n, ext << 8);
		put16(w, &n, 0);
		bool ecs = rnd(2);
		if (!ecs) {
			put16(w, &n, 0);
		} else {
			bool v6 = rnd(2);
			const char *a = addr_of(v6);
			uint8_t full[16] = {0};
			inet_pton(v6 ? AF_INET6 : AF_INET, a, full);
			unsigned src = v6 ? 48 : 24, bytes = src / 8;
			put16(w, &n, 4 + 4 + bytes);
			put16(w, &n, 8);
			put16(w, &n, 4 + bytes);
			put16(w, &n, v6 ? 2 : 1);
			w[n++] = (uint8_t)src;
			w[n++] = 0;
			memcpy(w + n, full, bytes);
			n += bytes;
			memset(full + bytes, 0, sizeof(full) - bytes);
			inet_ntop(v6 ? AF_INET6 : AF_INET, full, t->ecs, sizeof(t->ecs));
		}
	}
	t->rcode = ext << 4 | rc;
	t->parses = true;
	if (rnd(10) == 0) {
		/* cut inside the question: the message does not parse, only its size is known */
		n = 13; /* a label length and nothing after it (a bare header, or a question ending after its name,
			   would parse) */
		t->parses = false;
	}
	t->size = n;
	return n;
}

static uint8_t qwire[512], rwire[512];
static uint8_t qaddr[16], raddr[16];

static void make_message(struct dt_message *m, struct truth *t)
{
	memset(m, 0, sizeof(*m));
	memset(t, 0, sizeof(*t));
	m->dnstap_type = DT_TYPE_MESSAGE;
	if (rnd(3)) {
		t->identity = idents[rnd(3)];
		m->has_identity = true;
		m->identity = (struct dt_bytes){(const uint8_t *)t->identity, strlen(t->identity)};
	}
	if (rnd(2)) {
		t->version = idents[rnd(3)];
		m->has_version = true;
		m->version = (struct dt_bytes){(const uint8_t *)t->version, strlen(t->version)};
	}
	m->has_message = true;
	m->type = t->type = 1 + (int)rnd(14);
	bool v6 = rnd(2);
	m->has_socket_family = true;
	m->socket_family = (int)(t->family = v6 ? 2 : 1);
	m->has_socket_protocol = rnd(5) != 0;
	m->socket_protocol = (int)(t->protocol = m->has_socket_protocol ? 1 + rnd(7) : 0);
	if (rnd(5)) {
		strcpy(t->client, addr_of(v6));
		inet_pton(v6 ? AF_INET6 : AF_INET, t->client, qaddr);
		m->has_query_address = true;
		m->query_address = (struct dt_bytes){qaddr, v6 ? 16u : 4u};
	}
	if (rnd(5)) {
		strcpy(t->server, addr_of(v6));
		inet_pton(v6 ? AF_INET6 : AF_INET, t->server, raddr);
		m->has_response_address = true;
		m->response_address = (struct dt_bytes){raddr, v6 ? 16u : 4u};
	}
	if (rnd(5)) {
		m->has_query_port = true;
		m->query_port = t->cport = rnd(2) ? 53 : 40000 + rnd(3);
	} else {
		t->cport = 99999;
	}
	if (rnd(5)) {
		m->has_response_port = true;
		m->response_port = t->sport = rnd(2) ? 53 : 853;
	} else {
		t->sport = 99999;
	}
	bool query = t->type % 2 == 1;
	t->sec = 1700000000 + (long long)rnd(5) * 1000;
	if (rnd(6)) {
		t->has_time = true;
		bool on_q = rnd(4) ? query : !query;
		if (on_q) {
			m->has_query_time_sec = m->has_query_time_nsec = true;
			m->query_time_sec = (uint64_t)t->sec;
		} else {
			m->has_response_time_sec = m->has_response_time_nsec = true;
			m->response_time_sec = (uint64_t)t->sec;
		}
	}
	if (rnd(5)) {
		m->has_query_message = true;
		m->query_message = (struct dt_bytes){qwire, make_dns(qwire, &t->q)};
	}
	if (rnd(5)) {
		m->has_response_message = true;
		m->response_message = (struct dt_bytes){rwire, make_dns(rwire, &t->r)};
	}
}

/* ---- the reference: a tree over the truth ---- */

enum kind { K_AND, K_OR, K_NOT, K_PRED };

struct ref {
	enum kind kind;
	struct ref *a, *b;
	char pred[16];
	char vals[2][64];
	int nv;
	unsigned num[2];
};

static bool str_in(const struct ref *r, const char *s)
{
	for (int i = 0; i < r->nv; i++)
		if (s != NULL && strcmp(r->vals[i], s) == 0)
			return true;
	return false;
}

static bool num_in(const struct ref *r, unsigned x)
{
	for (int i = 0; i < r->nv; i++)
		if (r->num[i] == x)
			return true;
	return false;
}

/* Whether address text a lies in "net/bits", comparing bit strings made by hand. */
static bool in_net(const char *a, const char *cidr)
{
	if (a == NULL || *a == '\0')
		return false;
	char host[64];
	strcpy(host, cidr);
	char *slash = strchr(host, '/');
	*slash = '\0';
	int bits = atoi(slash + 1);
	uint8_t x[16], y[16];
	bool v6a = strchr(a, ':') != NULL, v6n = strchr(host, ':') != NULL;
	if (v6a != v6n)
		return false;
	inet_pton(v6a ? AF_INET6 : AF_INET, a, x);
	inet_pton(v6n ? AF_INET6 : AF_INET, host, y);
	for (int i = 0; i < bits; i++)
		if (((x[i / 8] >> (7 - i % 8)) & 1) != ((y[i / 8] >> (7 - i % 8)) & 1))
			return false;
	return true;
}

static bool ends_with_label(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	if (s > n)
		return false;
	if (strcmp(name + n - s, suffix) != 0)
		return false;
	return s == n || name[n - s - 1] == '.';
}

/* The regexes of the pool, each with what it means in plain code. */
static bool regex_ref(int i, const char *q)
{
	switch (i) {
	case 0: /* "^www\." */
		return strncmp(q, "www.", 4) == 0;
	case 1: /* "com\.$" */
		return strlen(q) >= 4 && strcmp(q + strlen(q) - 4, "com.") == 0;
	case 2: /* "^(a|b)\." */
		return (q[0] == 'a' || q[0] == 'b') && q[1] == '.';
	default: /* "example" anywhere */
		return strstr(q, "example") != NULL;
	}
}
static const char *const regexes[] = {"\"^www\\.\"", "\"COM\\.$\"", "\"^(a|b)\\.\"", "example"};

static const struct dns_truth *main_dns(const struct truth *t)
{
	bool query = t->type % 2 == 1;
	const struct dns_truth *first = query ? &t->q : &t->r, *other = query ? &t->r : &t->q;
	return first->present ? first : other->present ? other : NULL;
}

static bool ref_pred(const struct ref *r, const struct truth *t)
{
	const char *p = r->pred;
	const struct dns_truth *d = main_dns(t);
	bool ok = d != NULL && d->parses;
	if (strcmp(p, "type") == 0)
		return num_in(r, (unsigned)t->type);
	if (strcmp(p, "identity") == 0)
		return str_in(r, t->identity);
	if (strcmp(p, "version") == 0)
		return str_in(r, t->version);
	if (strcmp(p, "qname") == 0)
		return ok && str_in(r, d->qname);
	if (strcmp(p, "suffix") == 0) {
		for (int i = 0; ok && i < r->nv; i++)
			if (ends_with_label(d->qname, r->vals[i]))
				return true;
		return false;
	}
	if (strcmp(p, "regex") == 0)
		return ok && regex_ref((int)r->num[0], d->qname);
	if (strcmp(p, "qtype") == 0)
		return ok && num_in(r, d->qtype);
	if (strcmp(p, "qclass") == 0)
		return ok && num_in(r, d->qclass);
	/* the header's, unless it announces records to look for the OPT in: they must be there */
	if (strcmp(p, "rcode") == 0)
		return d != NULL && (d->parses || !d->opt) && num_in(r, d->parses ? d->rcode : d->rcode & 15);
	/* the header alone is enough for these (every generated message has one) */
	if (strcmp(p, "opcode") == 0)
		return d != NULL && num_in(r, d->opcode);
	for (int i = 0; i < 7; i++)
		if (strcmp(p, flag_names[i]) == 0) {
			for (int k = 0; d != NULL && k < d->nflags; k++)
				if (strcmp(d->flags[k], p) == 0)
					return true;
			return false;
		}
	if (strcmp(p, "client") == 0 || strcmp(p, "server") == 0) {
		const char *a = p[0] == 'c' ? t->client : t->server;
		for (int i = 0; i < r->nv; i++)
			if (in_net(a, r->vals[i]))
				return true;
		return false;
	}
	if (strcmp(p, "port") == 0)
		return num_in(r, t->cport) || num_in(r, t->sport);
	if (strcmp(p, "client-port") == 0)
		return num_in(r, t->cport);
	if (strcmp(p, "server-port") == 0)
		return num_in(r, t->sport);
	if (strcmp(p, "protocol") == 0)
		return num_in(r, t->protocol);
	if (strcmp(p, "family") == 0)
		return num_in(r, t->family);
	if (strcmp(p, "size") == 0)
		return d != NULL && d->size > r->num[0];
	if (strcmp(p, "answer") == 0) {
		for (int k = 0; ok && k < d->nanswers; k++)
			for (int i = 0; i < r->nv; i++)
				if (in_net(d->answers[k], r->vals[i]))
					return true;
		return false;
	}
	if (strcmp(p, "ecs") == 0) {
		const struct dns_truth *both[2] = {&t->q, &t->r};
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < r->nv; i++)
				if (both[k]->present && both[k]->parses && in_net(both[k]->ecs, r->vals[i]))
					return true;
		return false;
	}
	if (strcmp(p, "after") == 0)
		return t->has_time && t->sec >= (long long)r->num[0];
	ck_abort_msg("no reference for %s", p);
	return false;
}

static bool ref_eval(const struct ref *r, const struct truth *t)
{
	switch (r->kind) {
	case K_AND:
		return ref_eval(r->a, t) && ref_eval(r->b, t);
	case K_OR:
		return ref_eval(r->a, t) || ref_eval(r->b, t);
	case K_NOT:
		return !ref_eval(r->a, t);
	default:
		return ref_pred(r, t);
	}
}

static void ref_free(struct ref *r)
{
	if (r == NULL)
		return;
	ref_free(r->a);
	ref_free(r->b);
	free(r);
}

static const char *const preds[] = {"type",   "identity", "version",     "qname",       "suffix",   "regex",
				    "qtype",  "qclass",   "rcode",       "opcode",      "flag",     "client",
				    "server", "port",     "client-port", "server-port", "protocol", "family",
				    "size",   "answer",   "ecs",         "time"};
static const char *const cidrs[] = {"10.0.0.0/8",    "192.0.2.0/25",    "192.0.2.128/25", "198.51.100.1/32",
				    "2001:db8::/32", "2001:db8:1::/48", "::1/128",        "0.0.0.0/0"};
static const char *const types_text[] = {"AQ", "AR", "RESOLVER_QUERY", "rr", "CQ", "CR", "FQ", "FR",
					 "SQ", "SR", "TOOL_QUERY",     "TR", "UQ", "UR"};
static const char *const protos[] = {"udp", "tcp", "dot", "doh", "dnscrypt-udp", "dnscrypt-tcp", "doq"};
static const char *const suffixes[] = {"com.", "example.com.", "www.example.com.", "a.", "lab.", "b.com."};
static const char *const names[] = {"www.example.com.", "example.com.", "a.", "com.", "b.a."};

/* A random predicate: its text appended to out, its reference tree returned. */
static struct ref *gen_pred(char *out)
{
	struct ref *r = calloc(1, sizeof(*r));
	r->kind = K_PRED;
	const char *p = preds[rnd(sizeof(preds) / sizeof(preds[0]))];
	strcpy(r->pred, p);
	r->nv = 1 + (int)rnd(2);
	char *o = out + strlen(out);
	if (strcmp(p, "flag") == 0) {
		strcpy(r->pred, flag_names[rnd(7)]);
		sprintf(o, "%s", r->pred);
		return r;
	}
	o += sprintf(o, "%s ", p);
	for (int i = 0; i < r->nv; i++) {
		if (i > 0)
			o += sprintf(o, ",");
		if (strcmp(p, "type") == 0) {
			r->num[i] = 1 + rnd(14);
			o += sprintf(o, "%s", types_text[r->num[i] - 1]);
		} else if (strcmp(p, "identity") == 0 || strcmp(p, "version") == 0) {
			strcpy(r->vals[i], idents[rnd(3)]);
			o += sprintf(o, "\"%s\"", r->vals[i]);
		} else if (strcmp(p, "qname") == 0) {
			strcpy(r->vals[i], names[rnd(5)]);
			/* typed in another case, without the final dot sometimes */
			for (size_t k = 0; k < strlen(r->vals[i]); k++)
				*o++ = rnd(2) ? (char)toupper((unsigned char)r->vals[i][k]) : r->vals[i][k];
			if (rnd(2))
				o--;
			*o = '\0';
		} else if (strcmp(p, "suffix") == 0) {
			strcpy(r->vals[i], suffixes[rnd(6)]);
			o += sprintf(o, "%s", r->vals[i]);
		} else if (strcmp(p, "regex") == 0) {
			r->nv = 1;
			r->num[0] = rnd(4);
			o += sprintf(o, "%s", regexes[r->num[0]]);
		} else if (strcmp(p, "qtype") == 0) {
			unsigned k = rnd(5);
			r->num[i] = qtypes[k];
			o += sprintf(o, "%s",
				     rnd(2) ? qtype_names[k] : (sprintf(r->vals[i], "%u", qtypes[k]), r->vals[i]));
		} else if (strcmp(p, "qclass") == 0) {
			r->num[i] = rnd(2) ? 1 : 3;
			o += sprintf(o, "%s", r->num[i] == 1 ? "IN" : "CLASS3");
		} else if (strcmp(p, "rcode") == 0) {
			static const char *const rc[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "4", "REFUSED"};
			unsigned k = rnd(7);
			r->num[i] = k == 6 ? 16 : k;
			o += sprintf(o, "%s", k == 6 ? "16" : rc[k]);
		} else if (strcmp(p, "opcode") == 0) {
			r->num[i] = rnd(2) ? 0 : 4;
			o += sprintf(o, "%s", r->num[i] ? "NOTIFY" : "QUERY");
		} else if (strcmp(p, "client") == 0 || strcmp(p, "server") == 0 || strcmp(p, "answer") == 0 ||
			   strcmp(p, "ecs") == 0) {
			strcpy(r->vals[i], cidrs[rnd(8)]);
			o += sprintf(o, "%s", r->vals[i]);
		} else if (strstr(p, "port") != NULL) {
			static const unsigned ports[] = {53, 853, 40000, 40001};
			r->num[i] = ports[rnd(4)];
			o += sprintf(o, "%u", r->num[i]);
		} else if (strcmp(p, "protocol") == 0) {
			r->num[i] = 1 + rnd(7);
			o += sprintf(o, "%s", protos[r->num[i] - 1]);
		} else if (strcmp(p, "family") == 0) {
			r->num[i] = 1 + rnd(2);
			o += sprintf(o, "%s", r->num[i] == 1 ? "inet" : "inet6");
		} else if (strcmp(p, "size") == 0) {
			r->nv = 1;
			r->num[0] = 12 + rnd(40);
			o += sprintf(o, "> %u", r->num[0]);
		} else if (strcmp(p, "time") == 0) {
			r->nv = 1;
			strcpy(r->pred, "after");
			r->num[0] = 1700000000 + rnd(5) * 1000 + (rnd(2) ? 0 : 1);
			time_t s = (time_t)r->num[0];
			struct tm tm;
			gmtime_r(&s, &tm);
			o += strftime(o, 64, "after %Y-%m-%dT%H:%M:%SZ", &tm);
		}
		if (r->nv == 1)
			break;
	}
	return r;
}

static struct ref *gen(char *out, int depth)
{
	unsigned k = depth >= 4 ? 3 : rnd(5);
	if (k >= 3)
		return gen_pred(out);
	struct ref *r = calloc(1, sizeof(*r));
	if (k == 2) {
		r->kind = K_NOT;
		strcat(out, "not ");
		r->a = gen(out, depth + 1);
		return r;
	}
	r->kind = k == 0 ? K_AND : K_OR;
	strcat(out, "(");
	r->a = gen(out, depth + 1);
	strcat(out, k == 0 ? " and " : " or ");
	r->b = gen(out, depth + 1);
	strcat(out, ")");
	return r;
}

static void dbg(void *arg, const char *text, uint64_t evaluated, uint64_t matched)
{
	(void)arg;
	fprintf(stderr, "  %s %llu/%llu\n", text, (unsigned long long)matched, (unsigned long long)evaluated);
}

START_TEST(test_differential)
{
	static char expr[8192];
	struct dt_message m;
	struct truth t;
	unsigned matched = 0, cases = 0;
	for (int e = 0; e < 2000; e++) {
		expr[0] = '\0';
		struct ref *r = gen(expr, 0);
		char err[256];
		size_t off;
		dt_res res;
		struct dt_filter *f = dt_filter_new(expr, strlen(expr), err, sizeof(err), &off, &res);
		ck_assert_msg(f != NULL, "%s: %s at %zu", expr, err, off);
		for (int i = 0; i < 20; i++) {
			make_message(&m, &t);
			bool want = ref_eval(r, &t), got = dt_filter_match(f, &m);
			if (want != got && getenv("FILTER_DEBUG")) {
				const struct dns_truth *d = main_dns(&t);
				fprintf(stderr, "type %d time %d %lld dns %p parses %d qname %s opcode %u nflags %d\n",
					t.type, t.has_time, t.sec, (void *)d, d ? d->parses : -1, d ? d->qname : "",
					d ? d->opcode : 0, d ? d->nflags : 0);
				for (int k = 0; d && k < d->nflags; k++)
					fprintf(stderr, " %s", d->flags[k]);
				fprintf(stderr, "\n");
				dt_filter_foreach_predicate(f, dbg, NULL);
			}
			ck_assert_msg(want == got, "%s: reference %d, filter %d (case %d.%d)", expr, want, got, e, i);
			matched += got;
			cases++;
		}
		/* the normal form means the same */
		struct dt_buf b = {0};
		ck_assert_int_eq(dt_filter_format(f, &b), DT_OK);
		struct dt_filter *g = dt_filter_new(b.data, b.len, err, sizeof(err), &off, &res);
		ck_assert_msg(g != NULL, "%.*s: %s", (int)b.len, b.data, err);
		struct dt_buf c = {0};
		dt_filter_format(g, &c);
		ck_assert_msg(b.len == c.len && memcmp(b.data, c.data, b.len) == 0, "%.*s became %.*s", (int)b.len,
			      b.data, (int)c.len, c.data);
		for (int i = 0; i < 5; i++) {
			make_message(&m, &t);
			ck_assert_int_eq(dt_filter_match(g, &m), ref_eval(r, &t));
		}
		dt_buf_free(&b);
		dt_buf_free(&c);
		dt_filter_free(g);
		dt_filter_free(f);
		ref_free(r);
	}
	/* neither trivially true nor trivially false */
	ck_assert_uint_gt(matched, cases / 10);
	ck_assert_uint_lt(matched, cases * 9 / 10);
}
END_TEST

static void count(void *arg, const char *text, uint64_t evaluated, uint64_t matched)
{
	char *out = arg;
	sprintf(out + strlen(out), "[%s %llu/%llu]", text, (unsigned long long)matched, (unsigned long long)evaluated);
}

START_TEST(test_counters)
{
	const char *e = "type CQ and (qtype A or qtype AAAA)";
	char err[128], out[256] = "";
	size_t off;
	dt_res res;
	struct dt_filter *f = dt_filter_new(e, strlen(e), err, sizeof(err), &off, &res);
	ck_assert_ptr_nonnull(f);
	struct dt_message m;
	struct truth t;
	unsigned n = 0, cq = 0, a = 0;
	while (n < 1000) {
		make_message(&m, &t);
		n++;
		const struct dns_truth *d = main_dns(&t);
		if (t.type == DT_CLIENT_QUERY) {
			cq++;
			a += d != NULL && d->parses && d->qtype == 1;
		}
		dt_filter_match(f, &m);
	}
	dt_filter_foreach_predicate(f, count, out);
	char want[256];
	snprintf(want, sizeof(want), "[type CQ %u/%u][qtype A %u/%u][qtype AAAA ", cq, n, a, cq);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s, want %s", out, want);
	dt_filter_free(f);
}
END_TEST

START_TEST(test_siphash_vector)
{
	/* the SipHash paper's vector: key 00..0f, message 00..0e, 0xa129ca6149be45e5 */
	uint8_t key[16], msg[15];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(dt__siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		const char *expr, *err;
		size_t off;
	} cases[] = {
		{"type CQ and foo", "unknown predicate \"foo\"", 12},
		{"(((tc)", "unbalanced parenthesis (no closing one)", 1},
		{"client 1.2.3.4/40", "bad prefix length in \"1.2.3.4/40\" (want 0 to 32)", 7},
		{"tc or", "unexpected end of the expression (want a predicate)", 5},
		{"qtype", "qtype needs a value", 5},
		{"not not", "unexpected end of the expression (want a predicate)", 7},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256];
		size_t off = 99;
		dt_res res;
		struct dt_filter *f = dt_filter_new(cases[i].expr, strlen(cases[i].expr), err, sizeof(err), &off, &res);
		ck_assert_ptr_null(f);
		ck_assert_int_eq(res, DT_ERR_INVALID);
		ck_assert_str_eq(err, cases[i].err);
		ck_assert_uint_eq(off, cases[i].off);
	}
	/* deep nesting is refused, not a stack overflow */
	static char deep[4000];
	memset(deep, '(', sizeof(deep) - 1);
	char err[256];
	size_t off;
	dt_res res;
	ck_assert_ptr_null(dt_filter_new(deep, strlen(deep), err, sizeof(err), &off, &res));
	ck_assert_str_eq(err, "nested too deeply (at most 200 levels)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("filter");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_differential);
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_siphash_vector);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
