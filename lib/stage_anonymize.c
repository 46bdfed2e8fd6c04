/* The anonymisation stage: every item leaves it with its client and server addresses rewritten (anon.h:
 * mask, HMAC or Crypto-PAn), and so is the EDNS Client Subnet inside its DNS wire messages, and with
 * `answers` their A and AAAA records (in every section: glue in the additional section names addresses
 * too), and with `qnames` the labels below the registrable domain (libpsl) of every name of the
 * messages and of the query zone. The item goes on as a new, valid dnstap
 * payload: every output (text, binary, relay, pcap, Kafka) sees only the rewritten one.
 *
 * Nothing original may get through. A payload that does not decode is dropped (a reason counted by the
 * pipeline under this stage's name). A wire message that does not parse, so that its ECS cannot be found
 * for sure, is taken out of the message, and counted. */
#include "anon.h"
#include "dns_rrtype.h"
#include "dns_wire.h"
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WIRE_MAX 65535

#define MAX_LABELS 128    /* in a name of at most 255 octets */
#define SUFFIX_SLOTS 1024 /* 256 KiB */

struct dt_anonymizer {
	struct dt__anon *an;
	bool answers, qnames;
	const psl_ctx_t *psl; /* qnames: the Public Suffix List libpsl found */
	psl_ctx_t *psl_owned; /* the same when it is ours to free */
	/* qnames: the labels of one message to rewrite, by the offset of their length octet, each once */
	uint8_t marked[(WIRE_MAX + 1) / 8 + 1];
	uint16_t marks[WIRE_MAX / 2 + 1];
	size_t nmarks;
	uint8_t zone[255];
	/* the last Public Suffix List answers, direct-mapped by the name's text: a lookup costs more than
	 * the rest of the message */
	struct suffix_cached {
		uint8_t len;    /* of text; 0: empty */
		uint8_t suffix; /* labels in its public suffix */
		char text[253];
	} suffixes[SUFFIX_SLOTS];
	uint64_t stripped; /* wire messages taken out: they did not parse */
	/* the rewritten message and its pieces, valid until the next item */
	struct dt_message m;
	uint8_t qa[16], ra[16];
	uint8_t qwire[WIRE_MAX], rwire[WIRE_MAX];
	uint8_t *out;
	size_t out_cap;
};

/* An ECS option's address: the bytes present, expanded to the family's length, rewritten, cut back to
 * the same bytes, and the bits beyond the source prefix cleared (RFC 7871 requires them zero). */
static void ecs(struct dt__anon *an, uint8_t *v, uint16_t len)
{
	if (len < 4)
		return;
	uint16_t family = dt__dns_get16(v);
	size_t full = family == 1 ? 4 : family == 2 ? 16 : 0;
	size_t have = len - 4u;
	unsigned source = v[2];
	if (full == 0 || have > full)
		return;
	uint8_t a[16] = {0};
	memcpy(a, v + 4, have);
	dt__anon_address(an, a, full);
	for (size_t i = 0; i < have; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t keep = bit >= source ? 0 : source - bit >= 8 ? 0xff : (uint8_t)(0xff << (8 - (source - bit)));
		v[4 + i] = a[i] & keep;
	}
}

/* ==== Names (qnames) ==== */

/* The labels of the name at off in wire[0:len), by the offset of their length octets, pointers
 * followed: false if it is malformed (which a message the walk accepted never is, but a query zone
 * may be). */
static bool labels(const uint8_t *w, size_t len, size_t off, uint16_t *lab, size_t *n)
{
	size_t k = 0, jumps = 0;
	while (off < len) {
		unsigned c = w[off];
		if (c == 0) {
			*n = k;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {
			if (off + 1 >= len || ++jumps > DT__DNS_MAX_POINTERS)
				return false;
			off = (c & 0x3fu) << 8 | w[off + 1];
			continue;
		}
		if (c > 63 || off + 1 + c > len || k == MAX_LABELS)
			return false;
		lab[k++] = (uint16_t)off;
		off += 1 + c;
	}
	return false;
}

static bool plain(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Marks the labels of the name at off in orig[0:len) that lie left of its registrable domain: the
 * Public Suffix List's longest suffix and one label more. Only a run of plain labels (letters, digits,
 * '-', '_') at the right can be looked up: a label with any other octet is rewritten, with every label
 * left of it. A name that is a public suffix, or a registrable domain, keeps every label. */
static bool mark_name(struct dt_anonymizer *st, const uint8_t *orig, size_t len, size_t off)
{
	uint16_t lab[MAX_LABELS];
	size_t n;
	if (!labels(orig, len, off, lab, &n))
		return false;
	char text[256]; /* the plain labels, lower case, dot-separated, built from the right */
	size_t pos = sizeof(text) - 1, plain_labels = 0;
	text[pos] = '\0';
	for (size_t i = n; i-- > 0;) {
		const uint8_t *l = orig + lab[i] + 1;
		size_t ll = orig[lab[i]];
		bool ok = ll + 1 <= pos;
		for (size_t j = 0; ok && j < ll; j++)
			ok = plain(l[j]);
		if (!ok)
			break;
		if (plain_labels > 0)
			text[--pos] = '.';
		pos -= ll;
		for (size_t j = 0; j < ll; j++)
			text[pos + j] = (char)lower(l[j]);
		plain_labels++;
	}
	size_t keep = 0;
	if (plain_labels > 0) {
		size_t tlen = sizeof(text) - 1 - pos, s = 1;
		uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
		for (size_t i = pos; i < sizeof(text) - 1; i++)
			h = (h ^ (uint8_t)text[i]) * 0x100000001b3ULL;
		struct suffix_cached *c = &st->suffixes[(h ^ h >> 32) % SUFFIX_SLOTS];
		if (c->len == tlen && memcmp(c->text, text + pos, tlen) == 0) {
			s = c->suffix;
		} else {
			const char *suffix = psl_unregistrable_domain(st->psl, text + pos);
			for (const char *d = suffix; d != NULL && *d != '\0'; d++)
				s += *d == '.';
			if (tlen <= sizeof(c->text)) {
				c->len = (uint8_t)tlen;
				c->suffix = (uint8_t)s;
				memcpy(c->text, text + pos, tlen);
			}
		}
		keep = s + 1 < plain_labels ? s + 1 : plain_labels;
	}
	for (size_t i = 0; i + keep < n; i++) {
		unsigned o = lab[i];
		if (!(st->marked[o >> 3] & 1u << (o & 7))) {
			st->marked[o >> 3] |= (uint8_t)(1u << (o & 7));
			st->marks[st->nmarks++] = (uint16_t)o;
		}
	}
	return true;
}

/* The names in a record's rdata, by its type's layout (dns_rrtype.h), up to the first field whose size
 * needs more than the field itself: every name of the common types (NS, CNAME, SOA, PTR, MX, SRV, NAPTR,
 * DNAME, RRSIG, NSEC, SVCB, HTTPS...). TSIG and TKEY name algorithms, not hosts: left as they are. */
static bool mark_rdata(struct dt_anonymizer *st, const uint8_t *orig, size_t len, size_t off,
		       const struct dt__dns_rr *rr)
{
	const char *f = dt__rrtype(rr->type)->rdata;
	if (f == NULL || rr->type == DT__TYPE_TSIG || rr->type == DT__TYPE_TKEY)
		return true;
	size_t end = off + rr->rdlength;
	for (; *f != '\0' && off < end; f++) {
		switch (*f) {
		case '|':
			break;
		case 'b':
			off += 1;
			break;
		case 'w':
			off += 2;
			break;
		case 'l':
		case 'A':
			off += 4;
			break;
		case '6':
			off += 6;
			break;
		case 'q':
			off += 8;
			break;
		case 'Q':
			off += 16;
			break;
		case 's':
			off += 1u + orig[off];
			break;
		case 'n':
			if (!mark_name(st, orig, len, off) || (off = dt__dns_name_skip(orig, end, off)) == 0)
				return false;
			break;
		default:
			return true;
		}
	}
	return true;
}

/* Writes the replacement of every marked label into w, each computed from the original name it starts
 * (orig), and clears the marks. */
static bool apply_marks(struct dt_anonymizer *st, uint8_t *w, const uint8_t *orig, size_t len)
{
	bool ok = true;
	for (size_t m = 0; m < st->nmarks; m++) {
		unsigned o = st->marks[m];
		st->marked[o >> 3] = 0;
		uint16_t lab[MAX_LABELS];
		size_t n, k = 0;
		uint8_t name[255];
		if (!ok || !labels(orig, len, o, lab, &n)) {
			ok = false;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			size_t ll = orig[lab[i]];
			if (k + 1 + ll >= sizeof(name)) {
				ok = false;
				break;
			}
			name[k++] = (uint8_t)ll;
			for (size_t j = 0; j < ll; j++)
				name[k++] = lower(orig[lab[i] + 1 + j]);
		}
		if (ok && k < sizeof(name)) {
			name[k++] = 0;
			ok = dt__anon_label(st->an, name, k, w + o + 1, orig[o]);
		} else {
			ok = false;
		}
	}
	st->nmarks = 0;
	return ok;
}

/* The query zone, an uncompressed name, rewritten from orig[0:len) into w. False if it is not one. */
static bool rewrite_zone(struct dt_anonymizer *st, uint8_t *w, const uint8_t *orig, size_t len)
{
	size_t off = 0;
	while (off < len && orig[off] != 0 && orig[off] <= 63)
		off += 1u + orig[off];
	if (len > sizeof(st->zone) || off + 1 != len || orig[off] != 0)
		return false;
	bool ok = mark_name(st, orig, len, 0);
	return apply_marks(st, w, orig, len) && ok;
}

/* Whether the rewritten message still parses, as the original did. */
static bool still_parses(const uint8_t *w, size_t len)
{
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	dt__dns_rr_iter_init(&it, w, len);
	while (dt__dns_rr_next(&it, &rr))
		;
	return it.err == NULL;
}

/* Rewrites the copy w of the wire message orig[0:len). False if it does not parse (or, with qnames, if
 * the rewritten one does not: a pointer into a label's text or into rewritten rdata). */
static bool rewrite_wire(struct dt_anonymizer *st, uint8_t *w, const uint8_t *orig, size_t len)
{
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	bool names_ok = true;
	dt__dns_rr_iter_init(&it, w, len);
	while (dt__dns_rr_next(&it, &rr)) {
		if (st->qnames && names_ok)
			names_ok = mark_name(st, orig, len, rr.owner) &&
				   (rr.rdata == NULL || mark_rdata(st, orig, len, (size_t)(rr.rdata - w), &rr));
		if (rr.rdata == NULL)
			continue;
		uint8_t *rd = w + (rr.rdata - w);
		if (rr.type == DT__TYPE_OPT) {
			struct dt__dns_opt_iter o;
			uint16_t code, n;
			const uint8_t *value;
			dt__dns_opt_iter_init(&o, rr.rdata, rr.rdlength);
			while (dt__dns_opt_next(&o, &code, &value, &n))
				if (code == DT__DNS_OPT_ECS)
					ecs(st->an, w + (value - w), n);
		} else if (st->answers && rr.section != DT__DNS_QUESTION &&
			   ((rr.type == DT__TYPE_A && rr.rdlength == 4) ||
			    (rr.type == DT__TYPE_AAAA && rr.rdlength == 16))) {
			dt__anon_address(st->an, rd, rr.rdlength);
		}
	}
	if (!st->qnames)
		return it.err == NULL;
	bool applied = apply_marks(st, w, orig, len); /* clears the marks, whatever happened */
	return it.err == NULL && names_ok && applied && still_parses(w, len);
}

static void wire(struct dt_anonymizer *st, bool *has, struct dt_bytes *b, uint8_t *buf)
{
	if (!*has)
		return;
	if (b->len > WIRE_MAX) {
		*has = false;
		st->stripped++;
		return;
	}
	memcpy(buf, b->data, b->len);
	if (!rewrite_wire(st, buf, b->data, b->len)) {
		*has = false;
		*b = (struct dt_bytes){NULL, 0};
		st->stripped++;
		return;
	}
	b->data = buf;
}

/* qnames: the query zone rewritten into st->zone, or taken out when it is not a name. */
static void zone(struct dt_anonymizer *st, bool *has, struct dt_bytes *b)
{
	if (!*has || !st->qnames)
		return;
	if (b->len <= sizeof(st->zone)) {
		memcpy(st->zone, b->data, b->len);
		if (rewrite_zone(st, st->zone, b->data, b->len)) {
			b->data = st->zone;
			return;
		}
	}
	*has = false;
	*b = (struct dt_bytes){NULL, 0};
	st->stripped++;
}

static void address(struct dt_anonymizer *st, bool has, struct dt_bytes *b, uint8_t *buf)
{
	if (!has || (b->len != 4 && b->len != 16))
		return; /* a malformed length is no address of a family: left for the formats to flag */
	memcpy(buf, b->data, b->len);
	dt__anon_address(st->an, buf, b->len);
	b->data = buf;
}

/* The offset of b inside payload[0:len), or SIZE_MAX when it is not there (so the fast path is off). */
static size_t inside(const struct dt_bytes *b, const uint8_t *payload, size_t len)
{
	if (b->data < payload || b->data + b->len > payload + len)
		return SIZE_MAX;
	return (size_t)(b->data - payload);
}

/* Every rewrite keeps its field's length (an address for an address, an ECS address, A and AAAA
 * rdata), so the payload is copied as it is and rewritten where the decode found each field, and
 * nothing is encoded again: the decoder's views point into the payload. False when that cannot be done
 * (a field outside the payload, a wire message that does not parse and must be taken out): the caller
 * then rebuilds the message. */
static bool rewrite_in_place(struct dt_anonymizer *st, struct dt_item *it, struct dt_message *n)
{
	if (it->len > st->out_cap) {
		uint8_t *p = realloc(st->out, it->len);
		if (p == NULL)
			return false;
		st->out = p;
		st->out_cap = it->len;
	}
	enum { ADDRESS, WIRE, ZONE };
	struct {
		bool has;
		struct dt_bytes *b;
		int kind;
	} f[5] = {{n->has_query_address, &n->query_address, ADDRESS},
		  {n->has_response_address, &n->response_address, ADDRESS},
		  {n->has_query_message, &n->query_message, WIRE},
		  {n->has_response_message, &n->response_message, WIRE},
		  {n->has_query_zone && st->qnames, &n->query_zone, ZONE}};
	size_t off[5];
	for (int i = 0; i < 5; i++)
		if (f[i].has && (off[i] = inside(f[i].b, it->payload, it->len)) == SIZE_MAX)
			return false;
	memcpy(st->out, it->payload, it->len);
	for (int i = 0; i < 5; i++) {
		if (!f[i].has)
			continue;
		uint8_t *at = st->out + off[i];
		const uint8_t *orig = it->payload + off[i];
		if (f[i].kind == ADDRESS) {
			if (f[i].b->len == 4 || f[i].b->len == 16)
				dt__anon_address(st->an, at, f[i].b->len);
		} else if (f[i].kind == WIRE ? !rewrite_wire(st, at, orig, f[i].b->len)
					     : !rewrite_zone(st, at, orig, f[i].b->len)) {
			return false;
		}
		f[i].b->data = at;
	}
	dt__item_replace(it, st->out, it->len, n);
	return true;
}

static enum dt_verdict anonymize(void *state, struct dt_item *it)
{
	struct dt_anonymizer *st = state;
	dt_res res;
	const struct dt_message *m = dt_item_message(it, &res);
	if (m == NULL)
		return DT_DROP; /* cannot be rewritten, so must not go on */
	st->m = *m;
	struct dt_message *n = &st->m;
	if (!n->has_message || rewrite_in_place(st, it, n))
		return DT_KEEP;
	st->m = *m; /* the slow way: pieces rewritten in copies, and the message encoded again */
	if (n->has_message) {
		address(st, n->has_query_address, &n->query_address, st->qa);
		address(st, n->has_response_address, &n->response_address, st->ra);
		wire(st, &n->has_query_message, &n->query_message, st->qwire);
		wire(st, &n->has_response_message, &n->response_message, st->rwire);
		zone(st, &n->has_query_zone, &n->query_zone);
	}
	size_t need = dt_encoded_size(n), len = 0;
	if (need > st->out_cap) {
		uint8_t *p = realloc(st->out, need);
		if (p == NULL)
			return DT_DROP;
		st->out = p;
		st->out_cap = need;
	}
	if (dt_encode(n, st->out, &len) != DT_OK)
		return DT_DROP;
	dt__item_replace(it, st->out, len, n);
	return DT_KEEP;
}

static void anonymizer_free(void *state)
{
	struct dt_anonymizer *st = state;
	if (st == NULL)
		return;
	dt__anon_free(st->an);
	psl_free(st->psl_owned);
	free(st->out);
	free(st);
}

const struct dt_stage_ops dt_anonymize_stage = {
	.name = "anonymize",
	.process = anonymize,
	.free = anonymizer_free,
};

/* A key file: 64 hex digits (or 32 to 128 for HMAC) with an optional newline, or the raw bytes. */
static bool read_key(const char *path, uint8_t *key, size_t *len, char *err, size_t errsize)
{
	uint8_t raw[257];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return false;
	}
	ssize_t n = read(fd, raw, sizeof(raw));
	int e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(e));
		return false;
	}
	size_t k = (size_t)n;
	while (k > 0 && (raw[k - 1] == '\n' || raw[k - 1] == '\r'))
		k--;
	bool hex = k > 0 && k % 2 == 0 && k / 2 <= 64;
	for (size_t i = 0; hex && i < k; i++)
		hex = (raw[i] >= '0' && raw[i] <= '9') || (raw[i] >= 'a' && raw[i] <= 'f') ||
		      (raw[i] >= 'A' && raw[i] <= 'F');
	if (hex) {
		for (size_t i = 0; i < k / 2; i++) {
			char two[3] = {(char)raw[2 * i], (char)raw[2 * i + 1], 0};
			key[i] = (uint8_t)strtoul(two, NULL, 16);
		}
		*len = k / 2;
	} else if ((size_t)n <= 64) {
		memcpy(key, raw, (size_t)n);
		*len = (size_t)n;
	} else {
		snprintf(err, errsize, "%s: not a key (want 32 bytes, or 64 hex digits)", path);
		return false;
	}
	memset(raw, 0, sizeof(raw));
	return true;
}

/* "/24" or "24", at most max. */
static bool prefix(const char *s, size_t n, unsigned max, unsigned *out)
{
	if (n > 0 && s[0] == '/')
		s++, n--;
	if (n == 0 || n > 3)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return v <= max;
}

struct dt_anonymizer *dt_anonymizer_new(const struct dt_anonymize_options *opt, char *err, size_t errsize, dt_res *res)
{
	*res = DT_ERR_INVALID;
	const char *mode = opt->mode != NULL ? opt->mode : "";
	struct dt_anonymizer *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	st->answers = opt->answers;
	if (strncmp(mode, "mask:", 5) == 0) {
		const char *a = mode + 5, *comma = strchr(a, ',');
		unsigned b4 = 24, b6 = 48;
		bool ok = comma != NULL ? prefix(a, (size_t)(comma - a), 32, &b4) &&
						  prefix(comma + 1, strlen(comma + 1), 128, &b6)
					: prefix(a, strlen(a), 32, &b4);
		if (!ok) {
			snprintf(err, errsize, "%s: want mask:/V4[,/V6] with prefix lengths up to 32 and 128", mode);
			free(st);
			return NULL;
		}
		st->an = dt__anon_mask_new(b4, b6);
	} else if (strncmp(mode, "hmac:", 5) == 0 || strncmp(mode, "cryptopan:", 10) == 0) {
		bool hmac = mode[0] == 'h';
		const char *path = mode + (hmac ? 5 : 10), *why = NULL;
		uint8_t key[64];
		size_t len = 0;
		if (*path == '\0' || !read_key(path, key, &len, err, errsize)) {
			if (*path == '\0')
				snprintf(err, errsize, "%s: needs a key file", mode);
			else
				*res = DT_ERR_IO;
			free(st);
			return NULL;
		}
		st->an = dt__anon_keyed_new(hmac ? DT__ANON_HMAC : DT__ANON_CRYPTOPAN, key, len, &why);
		memset(key, 0, sizeof(key));
		if (st->an == NULL) {
			snprintf(err, errsize, "%s: %s", path, why);
			free(st);
			return NULL;
		}
	} else {
		snprintf(err, errsize, "%s: unknown mode (want mask:/24,/64, hmac:KEYFILE or cryptopan:KEYFILE)", mode);
		free(st);
		return NULL;
	}
	if (st->an == NULL) {
		snprintf(err, errsize, "out of memory");
		*res = DT_ERR_NOMEM;
		free(st);
		return NULL;
	}
	if (opt->qnames) {
		/* the newer of libpsl's built-in list and the system's (Debian's publicsuffix package) */
		st->psl = st->psl_owned = psl_latest(NULL);
		if (st->psl == NULL)
			st->psl = psl_builtin();
		if (st->psl == NULL) {
			snprintf(err, errsize,
				 "no Public Suffix List for --anonymize-qname (libpsl has none built in)");
			anonymizer_free(st);
			return NULL;
		}
		st->qnames = true;
	}
	*res = DT_OK;
	return st;
}

uint64_t dt_anonymizer_stripped(const struct dt_anonymizer *st)
{
	return st->stripped;
}
