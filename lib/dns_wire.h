/* The DNS wire layer: getters over a DNS message in wire format and a walk over its records that accepts
 * and rejects exactly what miekg/dns 1.1.50's Msg.Unpack() does, with its error texts. The Go-compatible
 * printer (dns_print.c), the filters and formats to come, and dnstap-proxy (through the static inline
 * helpers, which need no library symbol) read DNS messages through it: none walks the wire on its own.
 * Internal to libdnstap (not installed).
 *
 * Ownership: nothing here allocates or copies. Offsets and pointers handed back point into the caller's
 * message and are valid while its bytes are; error texts are static strings ("dns: ..." as miekg words
 * them).
 *
 * miekg's acceptance rules, as dt__dns_rr_next() applies them:
 *  - a message shorter than the 12-byte header fails ("dns: overflow unpacking uint16"); one of exactly
 *    12 bytes has no sections, whatever its counts say;
 *  - names (dt__dns_check_name()): labels of 1 to 63 octets; compression pointers followed anywhere in
 *    the message (the header too, forwards too), at most 126 of them in a name; at most 255 octets; label
 *    types 0x40 and 0x80 fail ("dns: bad rdata");
 *  - every question the header announces must be there, but the last may end after its name (type and
 *    class read as 0) or inside its class (class 0);
 *  - a record section holds at most the records its count announces, and a message that ends on a record
 *    boundary ends every section (counts larger than the records present are tolerated); bytes after the
 *    last record read are ignored;
 *  - a record's rdata is read as if the message ended at its rdlength, field by field in the layout of
 *    dns_rrtype.h (trailing fields may be missing where miekg's unpackers allow it), and must fill its
 *    rdlength exactly; a type miekg has no struct for is opaque (RFC 3597) and always accepted.
 * dt__dns_name_skip() is the exception: the narrower, pointer-free rule dnstap-proxy matches questions by.
 */
#ifndef DT_DNS_WIRE_H
#define DT_DNS_WIRE_H

#include "dns_rrtype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DT__DNS_HEADER_LEN 12
/* The most compression pointers miekg follows in one name: (255 + 1) / 2 - 2. */
#define DT__DNS_MAX_POINTERS 126

/* ---- Header (inline: dnstap-proxy uses these) ---- */

/* Flag bits of the header's second 16-bit word (struct dt__dns_header.flags). */
enum {
	DT__DNS_QR = 0x8000,
	DT__DNS_OPCODE = 0x7800, /* 4 bits: dt__dns_opcode() */
	DT__DNS_AA = 0x0400,
	DT__DNS_TC = 0x0200,
	DT__DNS_RD = 0x0100,
	DT__DNS_RA = 0x0080,
	DT__DNS_Z = 0x0040,
	DT__DNS_AD = 0x0020,
	DT__DNS_CD = 0x0010,
	DT__DNS_RCODE = 0x000f, /* 4 bits: dt__dns_header_rcode() */
};

enum dt__dns_section { DT__DNS_QUESTION, DT__DNS_ANSWER, DT__DNS_AUTHORITY, DT__DNS_ADDITIONAL };

struct dt__dns_header {
	uint16_t id;
	uint16_t flags;    /* QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode: see the getters below */
	uint16_t count[4]; /* QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT, by enum dt__dns_section */
};

static inline uint16_t dt__dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t dt__dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Fills *h from wire[0:len); false (and *h untouched) if len is shorter than a header. */
static inline bool dt__dns_parse_header(struct dt__dns_header *h, const uint8_t *wire, size_t len)
{
	if (len < DT__DNS_HEADER_LEN)
		return false;
	h->id = dt__dns_get16(wire);
	h->flags = dt__dns_get16(wire + 2);
	for (int s = 0; s < 4; s++)
		h->count[s] = dt__dns_get16(wire + 4 + 2 * s);
	return true;
}

static inline unsigned dt__dns_opcode(uint16_t flags)
{
	return flags >> 11 & 15;
}

/* The header's 4 rcode bits; struct dt__dns_msg.rcode adds the OPT record's extended bits. */
static inline unsigned dt__dns_header_rcode(uint16_t flags)
{
	return flags & 15;
}

/* The offset just past the name at wire[off], by the narrower rule dnstap-proxy keeps questions by: labels
 * of 0 to 63 octets up to the root label, or up to a compression pointer, which ends the name and is not
 * followed; no length limit. 0 if the name runs past len or has a label type 0x40 or 0x80. */
static inline size_t dt__dns_name_skip(const uint8_t *wire, size_t len, size_t off)
{
	while (off < len) {
		unsigned c = wire[off];
		if (c == 0)
			return off + 1;
		if (c >= 0xC0)
			return off + 2 <= len ? off + 2 : 0;
		if (c >= 0x40)
			return 0;
		off += 1 + c;
	}
	return 0;
}

/* Whether the 16 bytes at a are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static inline bool dt__dns_is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	for (int i = 0; i < 12; i++)
		if (a[i] != prefix[i])
			return false;
	return true;
}

/* ---- Names ---- */

/* miekg's UnpackDomainName() checks of the name at wire[off] in the message wire[0:len): NULL if it is
 * accepted, with *next set to the offset after it (after its first pointer when compressed), else the
 * error text. */
const char *dt__dns_check_name(const uint8_t *wire, size_t len, size_t off, size_t *next);

/* The name at wire[off], decompressed into name[] in uncompressed wire form (length octets, labels, the
 * root's 0: at most 255 bytes, *name_len of them), for comparing names (a filter folds the case itself).
 * Returns NULL, or dt__dns_check_name()'s error with name[] unspecified. Presentation text, with Go's
 * escaping, is the printer's: dt__dns_name_text() in dns_print.h. */
const char *dt__dns_name_unpack(const uint8_t *wire, size_t len, size_t off, uint8_t name[255], size_t *name_len);

/* The copy half of dt__dns_name_unpack(), for a name already accepted (dt__dns_check_name(), or
 * dt__dns_parse()'s qname): its length in name[]. */
size_t dt__dns_name_copy(const uint8_t *wire, size_t off, uint8_t name[255]);

/* ---- The walk over questions and records ---- */

/* One entry of a section: a question, or a resource record. */
struct dt__dns_rr {
	enum dt__dns_section section;
	size_t owner;         /* offset of the owner name (the question's name) in the message */
	uint16_t type, class; /* a question's may be 0 when the message ends inside it */
	uint32_t ttl;         /* 0 for a question */
	const uint8_t *rdata; /* rdlength bytes; NULL for a question */
	uint16_t rdlength;
};

/* The walk's state; its fields are for reading (count, opt, err once it ended; off and section between
 * dt__dns_rr_more() and dt__dns_rr_next_after_name()). */
struct dt__dns_rr_iter {
	const uint8_t *wire;
	size_t len;
	size_t off;            /* where the next entry starts */
	int section;           /* the next entry's enum dt__dns_section; 4 once the walk has ended */
	unsigned left;         /* entries the header still announces in that section */
	uint16_t announced[4]; /* the header's counts */
	unsigned count[4];     /* entries accepted so far, by section: the counts miekg keeps */
	size_t opt;            /* offset of the TYPE field of the last OPT record accepted in the
				* additional section (the one miekg's IsEdns0() returns); 0 if none */
	const char *err;       /* why the walk ended early; NULL if it has not, or ended cleanly */
};

/* Starts a walk over the message wire[0:len), which must stay valid while it is used. A message shorter
 * than a header ends the walk at once, with it->err set. */
void dt__dns_rr_iter_init(struct dt__dns_rr_iter *it, const uint8_t *wire, size_t len);

/* Positions the walk at the next entry, passing sections that are done: true if there is one (it starts
 * at it->off, in section it->section), false at the end of the message (it->err NULL) or after an error
 * (it->err set). Inline: it runs once an entry. */
static inline bool dt__dns_rr_more(struct dt__dns_rr_iter *it)
{
	while (it->section < 4) {
		/* Questions are all required; records stop where the message does. */
		if (it->left > 0 && (it->section == DT__DNS_QUESTION || it->off < it->len))
			return true;
		if (++it->section < 4)
			it->left = it->announced[it->section];
	}
	return false;
}

/* UnpackRRWithHeader()'s checks of a record's rdata, wire[off:off+rdlength] (inside wire's length), by the
 * type's layout in dns_rrtype.h: NULL, or miekg's error. */
const char *dt__dns_check_rdata(uint16_t type, const uint8_t *wire, size_t off, size_t rdlength);

/* The out-of-line part of dt__dns_rr_next_after_name(): questions, and records that fail. */
bool dt__dns_rr_next_slow(struct dt__dns_rr_iter *it, size_t name_end, struct dt__dns_rr *rr);

/* The entry dt__dns_rr_more() positioned at, whose owner name the caller has checked itself (the printer
 * checks and prints a name in one walk) and found to end at name_end (dt__dns_check_name()'s *next):
 * reads the rest, applies miekg's checks and fills *rr. False, with it->err set and the walk ended, if
 * the entry does not parse. Inline for a record that parses, which is what the printer meets most. */
static inline bool dt__dns_rr_next_after_name(struct dt__dns_rr_iter *it, size_t name_end, struct dt__dns_rr *rr)
{
	const uint8_t *w = it->wire;
	size_t p = name_end;
	if (it->section != DT__DNS_QUESTION && it->len - p >= 10) {
		uint16_t type = dt__dns_get16(w + p), rdlength = dt__dns_get16(w + p + 8);
		if (rdlength <= it->len - p - 10 && dt__dns_check_rdata(type, w, p + 10, rdlength) == NULL) {
			rr->section = (enum dt__dns_section)it->section;
			rr->owner = it->off;
			rr->type = type;
			rr->class = dt__dns_get16(w + p + 2);
			rr->ttl = dt__dns_get32(w + p + 4);
			rr->rdata = w + p + 10;
			rr->rdlength = rdlength;
			if (it->section == DT__DNS_ADDITIONAL && type == DT__TYPE_OPT)
				it->opt = p;
			it->off = p + 10 + rdlength;
			it->left--;
			it->count[it->section]++;
			return true;
		}
	}
	return dt__dns_rr_next_slow(it, name_end, rr);
}

/* The next entry, checked in full: true with *rr filled, false at the end (it->err NULL: the message
 * parses, it->count and it->opt are final) or at the first error (it->err). */
bool dt__dns_rr_next(struct dt__dns_rr_iter *it, struct dt__dns_rr *rr);

/* ---- The whole message ---- */

/* What a filter or format asks of a message, found in one walk. Points into the message. */
struct dt__dns_msg {
	const uint8_t *wire;
	size_t len;
	struct dt__dns_header hdr;
	unsigned count[4];      /* entries miekg keeps, by section (the header's counts may be larger) */
	size_t qname;           /* offset of the first question's name; 0 if there is no question */
	uint16_t qtype, qclass; /* the first question's */
	size_t opt;             /* as struct dt__dns_rr_iter.opt: 0 if the message has no EDNS */
	uint16_t rcode;         /* the header's 4 bits with the OPT record's extended 8 above them */
};

/* Msg.Unpack()'s verdict on wire[0:len): NULL and *m filled if the message parses, else the error text
 * (and *m unspecified). The bytes must outlive *m. */
const char *dt__dns_parse(struct dt__dns_msg *m, const uint8_t *wire, size_t len);

/* The cheap part of dt__dns_parse(), for counters: the header and the questions by miekg's rules (their
 * names checked as dt__dns_check_name() does), then, with records and if the header announces
 * additional records, each record only as far as the walk needs to pass it (its owner up to its first
 * pointer, its fixed fields, its rdlength) to find the OPT record. Whatever dt__dns_parse() accepts is
 * accepted with the same hdr, qname, qtype, qclass, opt and rcode; a message it rejects only for what
 * is not looked at here (rdata, a name behind a pointer) is accepted too. Otherwise m->count[1..3] and
 * m->opt are 0 and m->rcode has the header's 4 bits only. The first question's name is copied into
 * qname[] as dt__dns_name_copy() would (*qname_len bytes) in the same walk; unspecified when the message
 * has no question or is rejected. */
const char *dt__dns_parse_lax(struct dt__dns_msg *m, const uint8_t *wire, size_t len, bool records, uint8_t qname[255],
			      size_t *qname_len);

/* ---- EDNS ---- */

/* The OPT record in effect, as fields. */
struct dt__dns_edns {
	uint16_t udp_size; /* the record's class */
	uint8_t ext_rcode; /* the TTL's top octet: rcode bits 4 to 11 */
	uint8_t version;
	uint16_t flags;         /* DO is 0x8000 */
	const uint8_t *options; /* the rdata: options_len bytes of options, each well-formed */
	uint16_t options_len;
};
#define DT__DNS_EDNS_DO 0x8000

/* The EDNS fields of a parsed message; false if it has no OPT record. */
bool dt__dns_edns(const struct dt__dns_msg *m, struct dt__dns_edns *e);

/* The EDNS fields of an OPT record the walk returned (in any section). */
static inline void dt__dns_edns_of_rr(struct dt__dns_edns *e, const struct dt__dns_rr *rr)
{
	e->udp_size = rr->class;
	e->ext_rcode = (uint8_t)(rr->ttl >> 24);
	e->version = (uint8_t)(rr->ttl >> 16);
	e->flags = (uint16_t)rr->ttl;
	e->options = rr->rdata;
	e->options_len = rr->rdlength;
}

/* A walk over EDNS0 options: code, then value[0:len). */
struct dt__dns_opt_iter {
	const uint8_t *p;
	size_t len, off;
};

/* Over the rdata of an OPT record (struct dt__dns_edns.options, or any OPT record the walk accepted). */
static inline void dt__dns_opt_iter_init(struct dt__dns_opt_iter *it, const uint8_t *rdata, size_t rdlength)
{
	it->p = rdata;
	it->len = rdlength;
	it->off = 0;
}

/* The next option; false at the end. An option cut short (only in rdata the walk did not accept) ends
 * the walk, as miekg's printer stops. */
static inline bool dt__dns_opt_next(struct dt__dns_opt_iter *it, uint16_t *code, const uint8_t **value, uint16_t *len)
{
	if (it->len - it->off < 4)
		return false;
	uint16_t n = dt__dns_get16(it->p + it->off + 2);
	if (n > it->len - it->off - 4)
		return false;
	*code = dt__dns_get16(it->p + it->off);
	*value = it->p + it->off + 4;
	*len = n;
	it->off += 4 + (size_t)n;
	return true;
}

#define DT__DNS_OPT_ECS 8

/* EDNS Client Subnet (RFC 7871) as miekg reads it. */
struct dt__dns_ecs {
	uint16_t family;  /* 1 IPv4, 2 IPv6, 0 none (then source is 0) */
	uint8_t source;   /* source prefix length */
	uint8_t scope;    /* scope prefix length */
	uint8_t addr[16]; /* the address octets sent (at most 4 for IPv4, 16 for IPv6), zero-padded */
	uint8_t addr_len; /* how many were sent, after that cut */
};

/* Decodes the value of an ECS option the walk accepted (at least 4 bytes, a family miekg knows). */
void dt__dns_ecs_decode(struct dt__dns_ecs *ecs, const uint8_t *value, size_t len);

/* The first ECS option of the OPT record in effect; false if there is none. */
bool dt__dns_edns_ecs(const struct dt__dns_edns *e, struct dt__dns_ecs *ecs);

#endif
