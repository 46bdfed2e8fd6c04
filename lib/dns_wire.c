/* The DNS wire layer (see dns_wire.h): miekg/dns 1.1.50's acceptance rules for names, rdata and whole
 * messages, with its error texts, a walk over the entries of a message, and the getters built on it. */
#include "dns_wire.h"

#include "dns_rrtype.h"

#include <string.h>

/* miekg/dns error texts (its Error type prefixes "dns: "). */
static const char E_BUF[] = "dns: buffer size too small";
static const char E_LONG[] = "dns: domain name exceeded 255 wire-format octets";
static const char E_PTRS[] = "dns: too many compression pointers";
static const char E_RDATA[] = "dns: bad rdata";
static const char E_RDLENGTH[] = "dns: bad rdlength";
static const char E_HDRSIZE[] = "dns: overflowing header size";
static const char E_U8[] = "dns: overflow unpacking uint8";
static const char E_U16[] = "dns: overflow unpacking uint16";
static const char E_U32[] = "dns: overflow unpacking uint32";
static const char E_U48[] = "dns: overflow unpacking uint64 as uint48";
static const char E_U64[] = "dns: overflow unpacking uint64";
static const char E_A[] = "dns: overflow unpacking a";
static const char E_AAAA[] = "dns: overflow unpacking aaaa";
static const char E_TXT[] = "dns: overflow unpacking txt";
static const char E_HEX[] = "dns: overflow unpacking hex";
static const char E_B32[] = "dns: overflow unpacking base32";
static const char E_B64[] = "dns: overflow unpacking base64";
static const char E_OPT[] = "dns: overflow unpacking opt";
static const char E_NSEC[] = "dns: overflow unpacking NSEC(3)";
static const char E_NSEC_ORDER[] = "dns: out of order NSEC(3) block in type bitmap";
static const char E_NSEC_EMPTY[] = "dns: empty NSEC(3) block in type bitmap";
static const char E_NSEC_LONG[] = "dns: NSEC(3) block too long in type bitmap";
static const char E_NSEC_OVER[] = "dns: overflowing NSEC(3) block in type bitmap";
static const char E_SVCB[] = "dns: overflow unpacking SVCB";
static const char E_SVCB_KEY[] = "dns: bad SVCB key";
static const char E_SVCB_ORDER[] = "dns: SVCB keys not in strictly increasing order";
static const char E_SVCB_MANDATORY[] = "dns: svcbmandatory: value length is not a multiple of 2";
static const char E_SVCB_ALPN[] = "dns: svcbalpn: alpn array overflowing";
static const char E_SVCB_NODEFALPN[] = "dns: svcbnodefaultalpn: no-default-alpn must have no value";
static const char E_SVCB_PORT[] = "dns: svcbport: port length is not exactly 2 octets";
static const char E_SVCB_V4[] = "dns: svcbipv4hint: ipv4 address byte array length is not a multiple of 4";
static const char E_SVCB_V6[] = "dns: svcbipv6hint: ipv6 address byte array length not a multiple of 16";
static const char E_SVCB_V6V4[] = "dns: svcbipv6hint: expected ipv6, got ipv4";
static const char E_APL[] = "dns: overflow unpacking APL prefix";
static const char E_APL_FAMILY[] = "dns: unrecognized APL address family";
static const char E_APL_PREFIX[] = "dns: APL prefix too long";
static const char E_APL_LENGTH[] = "dns: APL length too long";
static const char E_APL_ADDR[] = "dns: overflow unpacking APL address";
static const char E_APL_BITS[] = "dns: extra APL address bits";
static const char E_ECS_FAMILY[] = "dns: bad address family";
static const char E_ECS_NETMASK[] = "dns: bad netmask";

/* The TCP keepalive option's error is the only one miekg formats ("... got %d"); the interface wants a
 * static string, so the lengths up to 99 have theirs here and longer ones share a generic text. */
#define KA_ERR(n) "dns: length mismatch, want 0/2 but got " #n
#define KA_ERR10(t)                                                                                       \
	KA_ERR(t##0), KA_ERR(t##1), KA_ERR(t##2), KA_ERR(t##3), KA_ERR(t##4), KA_ERR(t##5), KA_ERR(t##6), \
		KA_ERR(t##7), KA_ERR(t##8), KA_ERR(t##9)
static const char *const keepalive_err[100] = {
	KA_ERR(0),   KA_ERR(1),   KA_ERR(2),   KA_ERR(3),   KA_ERR(4),   KA_ERR(5),   KA_ERR(6),
	KA_ERR(7),   KA_ERR(8),   KA_ERR(9),   KA_ERR10(1), KA_ERR10(2), KA_ERR10(3), KA_ERR10(4),
	KA_ERR10(5), KA_ERR10(6), KA_ERR10(7), KA_ERR10(8), KA_ERR10(9),
};
static const char E_KEEPALIVE_LONG[] = "dns: length mismatch, want 0/2 but got 100 or more";

/* ---- Names ---- */

/* UnpackDomainName()'s checks for the name at msg[off] in a message of len bytes; on success *next is the
 * offset after the name (after the first pointer if it is compressed). */
static const char *check_name(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
	size_t ret = 0;
	int ptrs = 0, budget = 255;
	for (;;) {
		if (off >= len)
			return E_BUF;
		unsigned c = msg[off];
		if (c - 1 < 63) {
			off += 1 + c;
			if (off > len)
				return E_BUF;
			budget -= (int)c + 1;
			if (budget <= 0)
				return E_LONG;
			continue;
		}
		off++;
		if (c == 0) {
			*next = ptrs > 0 ? ret : off;
			return NULL;
		}
		if (c < 0xC0)
			return E_RDATA;
		if (off >= len)
			return E_BUF;
		if (ptrs == 0)
			ret = off + 1;
		if (++ptrs > DT__DNS_MAX_POINTERS)
			return E_PTRS;
		off = (size_t)(c & 0x3f) << 8 | msg[off];
	}
}

/* check_name() that also copies the name into name[] (*name_len bytes, as dt__dns_name_copy() does), in
 * the same walk: the labels between two pointers are one copy each. */
static const char *check_name_copy(const uint8_t *msg, size_t len, size_t off, size_t *next, uint8_t name[255],
				   size_t *name_len)
{
	size_t ret = 0, run = off, n = 0;
	int ptrs = 0, budget = 255;
	for (;;) {
		if (off >= len)
			return E_BUF;
		unsigned c = msg[off];
		if (c - 1 < 63) {
			off += 1 + c;
			if (off > len)
				return E_BUF;
			budget -= (int)c + 1;
			if (budget <= 0)
				return E_LONG;
			continue;
		}
		/* the budget bounds what the runs copy to 254 bytes */
		memcpy(name + n, msg + run, off - run);
		n += off - run;
		off++;
		if (c == 0) {
			name[n++] = 0;
			*name_len = n;
			*next = ptrs > 0 ? ret : off;
			return NULL;
		}
		if (c < 0xC0)
			return E_RDATA;
		if (off >= len)
			return E_BUF;
		if (ptrs == 0)
			ret = off + 1;
		if (++ptrs > DT__DNS_MAX_POINTERS)
			return E_PTRS;
		off = run = (size_t)(c & 0x3f) << 8 | msg[off];
	}
}

const char *dt__dns_check_name(const uint8_t *wire, size_t len, size_t off, size_t *next)
{
	return check_name(wire, len, off, next);
}

const char *dt__dns_name_unpack(const uint8_t *wire, size_t len, size_t off, uint8_t name[255], size_t *name_len)
{
	size_t next;
	const char *err = check_name(wire, len, off, &next);
	if (err != NULL)
		return err;
	*name_len = dt__dns_name_copy(wire, off, name);
	return NULL;
}

size_t dt__dns_name_copy(const uint8_t *wire, size_t off, uint8_t name[255])
{
	/* check_name() vouched for every byte and pointer; its 255-octet budget keeps this within name[].
	 * The labels between two pointers lie in one piece: one copy each (one for most names). */
	size_t n = 0, run = off;
	for (;;) {
		unsigned c = wire[off];
		if (c == 0)
			break;
		if (c >= 0xC0) {
			memcpy(name + n, wire + run, off - run);
			n += off - run;
			off = run = (size_t)(c & 0x3f) << 8 | wire[off + 1];
			continue;
		}
		off += 1 + (size_t)c;
	}
	memcpy(name + n, wire + run, off - run);
	n += off - run;
	name[n++] = 0;
	return n;
}

/* ---- Rdata ---- */

static const char *check_nsec(const uint8_t *msg, size_t end, size_t *poff)
{
	size_t off = *poff;
	int last = -1;
	while (off < end) {
		if (end - off < 2)
			return E_NSEC;
		int window = msg[off];
		unsigned n = msg[off + 1];
		off += 2;
		if (window <= last)
			return E_NSEC_ORDER;
		if (n == 0)
			return E_NSEC_EMPTY;
		if (n > 32)
			return E_NSEC_LONG;
		if (n > end - off)
			return E_NSEC_OVER;
		off += n;
		last = window;
	}
	*poff = off;
	return NULL;
}

static const char *check_svcb_value(uint16_t key, const uint8_t *v, size_t n)
{
	switch (key) {
	case 0:
		return n % 2 ? E_SVCB_MANDATORY : NULL;
	case 1:
		for (size_t i = 0; i < n;) {
			size_t l = v[i++];
			if (l > n - i)
				return E_SVCB_ALPN;
			i += l;
		}
		return NULL;
	case 2:
		return n ? E_SVCB_NODEFALPN : NULL;
	case 3:
		return n != 2 ? E_SVCB_PORT : NULL;
	case 4:
		return n == 0 || n % 4 ? E_SVCB_V4 : NULL;
	case 6:
		if (n == 0 || n % 16)
			return E_SVCB_V6;
		for (size_t i = 0; i < n; i += 16)
			if (dt__dns_is_v4_mapped(v + i))
				return E_SVCB_V6V4;
		return NULL;
	case 65535:
		return E_SVCB_KEY;
	}
	return NULL;
}

static const char *check_svcb(const uint8_t *msg, size_t end, size_t *poff)
{
	size_t off = *poff;
	long prev = -1;
	while (off < end) {
		if (end - off < 4)
			return E_SVCB;
		uint16_t key = dt__dns_get16(msg + off), n = dt__dns_get16(msg + off + 2);
		off += 4;
		if (n > end - off)
			return E_SVCB;
		const char *err = check_svcb_value(key, msg + off, n);
		if (err != NULL)
			return err;
		if (key <= prev)
			return E_SVCB_ORDER;
		prev = key;
		off += n;
	}
	*poff = off;
	return NULL;
}

static const char *check_apl(const uint8_t *msg, size_t end, size_t *poff)
{
	size_t off = *poff;
	while (off < end) {
		if (end - off < 4)
			return E_APL;
		uint16_t family = dt__dns_get16(msg + off);
		unsigned prefix = msg[off + 2], afdlen = msg[off + 3] & 0x7f;
		off += 4;
		size_t alen = family == 1 ? 4 : family == 2 ? 16 : 0;
		if (alen == 0)
			return E_APL_FAMILY;
		if (prefix > 8 * alen)
			return E_APL_PREFIX;
		if (afdlen > alen)
			return E_APL_LENGTH;
		if (afdlen > end - off)
			return E_APL_ADDR;
		if (afdlen > 0 && msg[off + afdlen - 1] == 0)
			return E_APL_BITS;
		off += afdlen;
	}
	*poff = off;
	return NULL;
}

static const char *check_edns_option(uint16_t code, const uint8_t *v, size_t n)
{
	switch (code) {
	case 1: /* LLQ */
		return n < 18 ? E_BUF : NULL;
	case 2: /* update lease */
		return n != 4 && n != 8 ? E_BUF : NULL;
	case 8: /* client subnet */
		if (n < 4)
			return E_BUF;
		switch (dt__dns_get16(v)) {
		case 0:
			return v[2] != 0 ? E_ECS_FAMILY : NULL;
		case 1:
			return v[2] > 32 || v[3] > 32 ? E_ECS_NETMASK : NULL;
		case 2:
			return v[2] > 128 || v[3] > 128 ? E_ECS_NETMASK : NULL;
		}
		return E_ECS_FAMILY;
	case 9: /* expire */
		return n != 0 && n < 4 ? E_BUF : NULL;
	case 11: /* TCP keepalive */
		if (n == 0 || n == 2)
			return NULL;
		return n < 100 ? keepalive_err[n] : E_KEEPALIVE_LONG;
	case 15: /* extended error */
		return n < 2 ? E_BUF : NULL;
	}
	return NULL;
}

static const char *check_edns(const uint8_t *msg, size_t end, size_t *poff)
{
	size_t off = *poff;
	do {
		if (end - off < 4)
			return E_OPT;
		uint16_t code = dt__dns_get16(msg + off), n = dt__dns_get16(msg + off + 2);
		off += 4;
		if (n > end - off)
			return E_OPT;
		const char *err = check_edns_option(code, msg + off, n);
		if (err != NULL)
			return err;
		off += n;
	} while (off < end);
	*poff = off;
	return NULL;
}

/* The checks of the unpack() of a type with layout spec (struct dt__rrtype.rdata; "H" for types miekg does
 * not know) on rdata msg[off:end], which miekg reads from a message cut at end. */
static const char *check_rdata(const char *spec, const uint8_t *msg, size_t off, size_t end)
{
	uint64_t v[16];
	unsigned nf = 0;
	const char *err = NULL;
	for (const char *s = spec; *s != '\0'; s++) {
		uint64_t val = 0;
		size_t left = end - off, n;
		switch (*s) {
		case '|':
			if (off == end)
				return NULL;
			continue;
		case 'b':
			if (left < 1)
				return E_U8;
			val = msg[off];
			off += 1;
			break;
		case 'w':
			if (left < 2)
				return E_U16;
			val = dt__dns_get16(msg + off);
			off += 2;
			break;
		case 'l':
			if (left < 4)
				return E_U32;
			off += 4;
			break;
		case '6':
			if (left < 6)
				return E_U48;
			off += 6;
			break;
		case 'q':
			if (left < 8)
				return E_U64;
			off += 8;
			break;
		case 'A':
			if (left < 4)
				return E_A;
			off += 4;
			break;
		case 'Q':
			if (left < 16)
				return E_AAAA;
			off += 16;
			break;
		case 'n':
			err = check_name(msg, end, off, &off);
			break;
		case 's':
			if (left < 1 || msg[off] > left - 1)
				return E_TXT;
			off += 1 + (size_t)msg[off];
			break;
		case 'T':
			while (off < end) {
				if (msg[off] > end - off - 1)
					return E_TXT;
				off += 1 + (size_t)msg[off];
			}
			break;
		case 'H':
		case 'B':
		case 'X':
		case 'O':
			off = end;
			break;
		case 'x':
		case 'y':
		case 'z':
			n = (size_t)v[s[1] - '0'];
			if (n > left)
				return *s == 'x' ? E_HEX : *s == 'y' ? E_B32 : E_B64;
			off += n;
			s++;
			break;
		case 'D':
			while (off < end && err == NULL)
				err = check_name(msg, end, off, &off);
			break;
		case 'N':
			err = check_nsec(msg, end, &off);
			break;
		case 'P':
			err = check_svcb(msg, end, &off);
			break;
		case 'L':
			err = check_apl(msg, end, &off);
			break;
		case 'E':
			err = check_edns(msg, end, &off);
			break;
		}
		if (err != NULL)
			return err;
		v[nf++] = val;
	}
	return off == end ? NULL : E_RDLENGTH;
}

/* UnpackRRWithHeader()'s checks of the rdata msg[off:off+rdlength] of a record of the type. */
const char *dt__dns_check_rdata(uint16_t type, const uint8_t *msg, size_t off, size_t rdlength)
{
	if (rdlength == 0)
		return NULL;
	/* The commonest types first, without going through their layout (see dns_rrtype.c). */
	size_t end = off + rdlength;
	const char *err;
	switch (type) {
	case DT__TYPE_A:
		return rdlength < 4 ? E_A : rdlength > 4 ? E_RDLENGTH : NULL;
	case DT__TYPE_AAAA:
		return rdlength < 16 ? E_AAAA : rdlength > 16 ? E_RDLENGTH : NULL;
	case DT__TYPE_NS:
	case DT__TYPE_CNAME:
	case DT__TYPE_PTR:
	case DT__TYPE_DNAME:
		err = check_name(msg, end, off, &off);
		return err != NULL ? err : off == end ? NULL : E_RDLENGTH;
	case DT__TYPE_SOA:
		for (int i = 0; i < 2; i++) {
			err = check_name(msg, end, off, &off);
			if (err != NULL)
				return err;
			if (off == end)
				return NULL;
		}
		for (int i = 0; i < 5; i++) {
			if (end - off < 4)
				return E_U32;
			off += 4;
			if (off == end)
				return NULL;
		}
		return E_RDLENGTH;
	case DT__TYPE_MX:
		if (rdlength < 2)
			return E_U16;
		off += 2;
		if (off == end)
			return NULL;
		err = check_name(msg, end, off, &off);
		return err != NULL ? err : off == end ? NULL : E_RDLENGTH;
	case DT__TYPE_TXT:
		while (off < end) {
			if (msg[off] > end - off - 1)
				return E_TXT;
			off += 1 + (size_t)msg[off];
		}
		return NULL;
	}
	const char *spec = dt__rrtype(type)->rdata;
	return check_rdata(spec != NULL ? spec : "H", msg, off, end);
}

/* ---- The walk ---- */

static bool walk_fails(struct dt__dns_rr_iter *it, const char *err)
{
	it->err = err;
	it->section = 4;
	return false;
}

void dt__dns_rr_iter_init(struct dt__dns_rr_iter *it, const uint8_t *wire, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->wire = wire;
	it->len = len;
	it->off = DT__DNS_HEADER_LEN;
	it->section = 4;
	if (len < DT__DNS_HEADER_LEN) {
		it->err = E_U16;
		return;
	}
	/* A message that is only a header has no sections, whatever its counts. */
	if (len == DT__DNS_HEADER_LEN)
		return;
	for (int s = 0; s < 4; s++)
		it->announced[s] = dt__dns_get16(wire + 4 + 2 * s);
	it->section = DT__DNS_QUESTION;
	it->left = it->announced[0];
}

/* The rest of a question whose name ends at *p: a message may end after the name (type and class 0) or
 * inside the class (class 0). Moves *p past the question. */
static inline const char *question_rest(const uint8_t *msg, size_t len, size_t *p, struct dt__dns_rr *rr)
{
	size_t off = *p;
	rr->type = rr->class = 0;
	rr->ttl = 0;
	rr->rdata = NULL;
	rr->rdlength = 0;
	if (off < len) {
		if (len - off < 2)
			return E_U16;
		rr->type = dt__dns_get16(msg + off);
		off += 2;
		if (len - off >= 2) {
			rr->class = dt__dns_get16(msg + off);
			off += 2;
		} else {
			off = len;
		}
	}
	*p = off;
	return NULL;
}

/* The rest of a record whose owner name ends at *p: unpackHeader(), then UnpackRRWithHeader()'s checks of
 * the rdata. Moves *p past the record. */
static inline const char *record_rest(const uint8_t *msg, size_t len, size_t *p, struct dt__dns_rr *rr)
{
	size_t off = *p;
	if (len - off < 4)
		return E_U16;
	if (len - off < 8)
		return E_U32;
	if (len - off < 10)
		return E_U16;
	rr->type = dt__dns_get16(msg + off);
	rr->class = dt__dns_get16(msg + off + 2);
	rr->ttl = dt__dns_get32(msg + off + 4);
	rr->rdlength = dt__dns_get16(msg + off + 8);
	off += 10;
	if (rr->rdlength > len - off)
		return E_HDRSIZE;
	const char *err = dt__dns_check_rdata(rr->type, msg, off, rr->rdlength);
	if (err != NULL)
		return err;
	rr->rdata = msg + off;
	*p = off + rr->rdlength;
	return NULL;
}

/* The entry at it->off, whose owner name ends at p, checked in full: what dt__dns_rr_next_after_name()'s
 * inline path leaves (questions, records that fail). */
bool dt__dns_rr_next_slow(struct dt__dns_rr_iter *it, size_t p, struct dt__dns_rr *rr)
{
	size_t fields = p;
	rr->section = (enum dt__dns_section)it->section;
	rr->owner = it->off;
	const char *err = it->section == DT__DNS_QUESTION ? question_rest(it->wire, it->len, &p, rr)
							  : record_rest(it->wire, it->len, &p, rr);
	if (err != NULL)
		return walk_fails(it, err);
	if (it->section == DT__DNS_ADDITIONAL && rr->type == DT__TYPE_OPT)
		it->opt = fields;
	it->off = p;
	it->left--;
	it->count[it->section]++;
	return true;
}

static inline __attribute__((always_inline)) bool next(struct dt__dns_rr_iter *it, struct dt__dns_rr *rr)
{
	if (!dt__dns_rr_more(it))
		return false;
	size_t name_end;
	const char *err = check_name(it->wire, it->len, it->off, &name_end);
	if (err != NULL)
		return walk_fails(it, err);
	return dt__dns_rr_next_after_name(it, name_end, rr);
}

bool dt__dns_rr_next(struct dt__dns_rr_iter *it, struct dt__dns_rr *rr)
{
	return next(it, rr);
}

/* ---- The whole message ---- */

/* The header and the questions, for both walks below: *off is left after the last question. With qname,
 * the first question's name is copied there in the walk that checks it. A message that is only a header
 * has no sections, whatever its counts: the caller stops there. */
static const char *parse_questions(struct dt__dns_msg *m, const uint8_t *wire, size_t len, size_t *off, uint8_t *qname,
				   size_t *qname_len)
{
	if (len < DT__DNS_HEADER_LEN)
		return E_U16;
	memset(m, 0, sizeof(*m));
	m->wire = wire;
	m->len = len;
	dt__dns_parse_header(&m->hdr, wire, len);
	m->rcode = (uint16_t)dt__dns_header_rcode(m->hdr.flags);
	*off = DT__DNS_HEADER_LEN;
	if (len == DT__DNS_HEADER_LEN)
		return NULL;
	struct dt__dns_rr rr;
	const char *err;
	for (unsigned i = 0; i < m->hdr.count[0]; i++) {
		size_t start = *off;
		if ((err = i == 0 && qname != NULL ? check_name_copy(wire, len, start, off, qname, qname_len)
						   : check_name(wire, len, start, off)) != NULL ||
		    (err = question_rest(wire, len, off, &rr)) != NULL)
			return err;
		if (i == 0) {
			m->qname = start;
			m->qtype = rr.type;
			m->qclass = rr.class;
		}
	}
	m->count[0] = m->hdr.count[0];
	return NULL;
}

/* The walk of dt__dns_rr_next() written out as loops over the sections, for speed (the quiet format runs it
 * on every message): the same section rules as dt__dns_rr_iter_init() and dt__dns_rr_more(), the same
 * entry checks (question_rest(), record_rest()). fuzz_dnstext checks that both walks agree. */
const char *dt__dns_parse(struct dt__dns_msg *m, const uint8_t *wire, size_t len)
{
	size_t off;
	const char *err = parse_questions(m, wire, len, &off, NULL, NULL);
	if (err != NULL || len == DT__DNS_HEADER_LEN)
		return err;
	struct dt__dns_rr rr;
	for (int s = 1; s <= 3; s++) {
		/* A message ending on a record boundary ends every section, whatever the header counts say. */
		unsigned n = 0;
		for (; n < m->hdr.count[s] && off < len; n++) {
			if ((err = check_name(wire, len, off, &off)) != NULL)
				return err;
			size_t fields = off;
			if ((err = record_rest(wire, len, &off, &rr)) != NULL)
				return err;
			if (s == DT__DNS_ADDITIONAL && rr.type == DT__TYPE_OPT)
				m->opt = fields;
		}
		m->count[s] = n;
	}
	if (m->opt != 0)
		m->rcode |= (uint16_t)(wire[m->opt + 4] << 4);
	return NULL;
}

const char *dt__dns_parse_lax(struct dt__dns_msg *m, const uint8_t *wire, size_t len, bool records, uint8_t qname[255],
			      size_t *qname_len)
{
	size_t off;
	const char *err = parse_questions(m, wire, len, &off, qname, qname_len);
	if (err != NULL || len == DT__DNS_HEADER_LEN)
		return err;
	if (!records || m->hdr.count[DT__DNS_ADDITIONAL] == 0)
		return NULL;
	for (int s = 1; s <= 3; s++) {
		unsigned n = 0;
		for (; n < m->hdr.count[s] && off < len; n++) {
			/* the owner up to its end or first pointer, which is not followed (miekg's error texts,
			 * not necessarily the one it would give first) */
			size_t fields = dt__dns_name_skip(wire, len, off);
			if (fields == 0)
				return E_BUF;
			if (len - fields < 10)
				return E_U16;
			size_t rdlength = dt__dns_get16(wire + fields + 8);
			if (rdlength > len - fields - 10)
				return E_HDRSIZE;
			if (s == DT__DNS_ADDITIONAL && dt__dns_get16(wire + fields) == DT__TYPE_OPT)
				m->opt = fields;
			off = fields + 10 + rdlength;
		}
		m->count[s] = n;
	}
	if (m->opt != 0)
		m->rcode |= (uint16_t)(wire[m->opt + 4] << 4);
	return NULL;
}

/* ---- EDNS ---- */

bool dt__dns_edns(const struct dt__dns_msg *m, struct dt__dns_edns *e)
{
	if (m->opt == 0)
		return false;
	const uint8_t *p = m->wire + m->opt;
	e->udp_size = dt__dns_get16(p + 2);
	e->ext_rcode = p[4];
	e->version = p[5];
	e->flags = dt__dns_get16(p + 6);
	e->options_len = dt__dns_get16(p + 8);
	e->options = p + 10;
	return true;
}

void dt__dns_ecs_decode(struct dt__dns_ecs *ecs, const uint8_t *v, size_t n)
{
	memset(ecs, 0, sizeof(*ecs));
	ecs->family = dt__dns_get16(v);
	ecs->source = v[2];
	ecs->scope = v[3];
	/* miekg copies what was sent into an address of the family's size. */
	size_t max = ecs->family == 1 ? 4 : ecs->family == 2 ? 16 : 0, got = n - 4 > max ? max : n - 4;
	memcpy(ecs->addr, v + 4, got);
	ecs->addr_len = (uint8_t)got;
}

bool dt__dns_edns_ecs(const struct dt__dns_edns *e, struct dt__dns_ecs *ecs)
{
	struct dt__dns_opt_iter it;
	uint16_t code, n;
	const uint8_t *v;
	dt__dns_opt_iter_init(&it, e->options, e->options_len);
	while (dt__dns_opt_next(&it, &code, &v, &n)) {
		if (code == DT__DNS_OPT_ECS) {
			dt__dns_ecs_decode(ecs, v, n);
			return true;
		}
	}
	return false;
}
