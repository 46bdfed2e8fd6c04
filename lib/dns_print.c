/* DNS wire messages as the Go dnstap tool prints them: miekg/dns 1.1.50's Msg.String(), its question and name
 * presentation, and its parse errors. The wire layer (dns_wire.h) decides, as miekg's Unpack does, whether
 * a message parses and with which error; the printer reads what it shows straight from the wire. */
#include "dns_print.h"

#include "dns_rrtype.h"
#include "dns_wire.h"

#include <stdio.h>

/*
 * Parsing, printing and speed.
 *
 * miekg's rules decide, and dns_wire.c holds them: dt__dns_msg_text() walks the message with the wire
 * layer's record walk (struct dt__dns_rr_iter), printing each entry once the walk has accepted it, drops
 * its output at the first error and returns the walk's error, and prints the header and OPT pseudosection,
 * which depend on the records found, last, moving them to the front.
 *
 * Everything is read straight from the wire, with no allocation beyond the output buffer: a byte is printed
 * only once the checks have vouched for it. Owner names are the one thing the printer checks itself, in
 * the same walk that prints them (check_put_name()), because names are most of the work: it follows
 * pointers exactly as dt__dns_check_name() does, so a pointer into the header reads labels from the id and
 * flags as it does in miekg, hands the walk where the name ended (dt__dns_rr_next_after_name()), and on an
 * error returns dt__dns_check_name()'s. A name met again is copied from the output (struct names). The
 * rdata of a record is split into fields by its type's layout (dns_rrtype.h) through a cursor that ends where
 * the rdata ends, as the message miekg reads it from does; fields a short record leaves out read as zero,
 * which is what miekg prints for them. Types miekg does not know print as RFC 3597 hex of the bytes as sent.
 *
 * Output is written through a pointer into space reserved once per item (the *_at() helpers), numbers and
 * flags from small tables, and character-strings eight bytes at a time where nothing needs escaping.
 */

/* A mnemonic in a fixed-size slot, copied whole and cut to its length. */
struct tname {
	char s[11];
	uint8_t n;
};
#define TN(x)                    \
	{                        \
		x, sizeof(x) - 1 \
	}

static const struct tname rcode_names[24] = {
	TN("NOERROR"), TN("FORMERR"),       TN("SERVFAIL"), TN("NXDOMAIN"),  TN("NOTIMP"),
	TN("REFUSED"), TN("YXDOMAIN"),      TN("YXRRSET"),  TN("NXRRSET"),   TN("NOTAUTH"),
	TN("NOTZONE"), [16] = TN("BADSIG"), TN("BADKEY"),   TN("BADTIME"),   TN("BADMODE"),
	TN("BADNAME"), TN("BADALG"),        TN("BADTRUNC"), TN("BADCOOKIE"),
};

static const struct tname opcode_names[6] = {
	TN("QUERY"), TN("IQUERY"), TN("STATUS"), [4] = TN("NOTIFY"), TN("UPDATE"),
};

/* DNSSEC algorithms (AlgorithmToString) and digests (HashToString). */
static const char *const alg_names[17] = {
	[1] = "RSAMD5",
	[2] = "DH",
	[3] = "DSA",
	[5] = "RSASHA1",
	[6] = "DSA-NSEC3-SHA1",
	[7] = "RSASHA1-NSEC3-SHA1",
	[8] = "RSASHA256",
	[10] = "RSASHA512",
	[12] = "ECC-GOST",
	[13] = "ECDSAP256SHA256",
	[14] = "ECDSAP384SHA384",
	[15] = "ED25519",
	[16] = "ED448",
};

static const char *const hash_names[6] = {[1] = "SHA1", "SHA256", "GOST94", "SHA384", "SHA512"};

static const char *const cert_names[9] = {
	[1] = "PKIX", "SPKI", "PGP", "IPIX", "ISPKI", "IPGP", "ACPKIX", "IACPKIX",
};

static const char *const ede_names[25] = {
	"Other",
	"Unsupported DNSKEY Algorithm",
	"Unsupported DS Digest Type",
	"Stale Answer",
	"Forged Answer",
	"DNSSEC Indeterminate",
	"DNSSEC Bogus",
	"Signature Expired",
	"Signature Not Yet Valid",
	"DNSKEY Missing",
	"RRSIGs Missing",
	"No Zone Key Bit Set",
	"NSEC Missing",
	"Cached Error",
	"Not Ready",
	"Blocked",
	"Censored",
	"Filtered",
	"Prohibited",
	"Stale NXDOMAIN Answer",
	"Not Authoritative",
	"Not Supported",
	"No Reachable Authority",
	"Network Error",
	"Invalid Data",
};

static const char *const svcb_key_names[8] = {
	"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath",
};

/* ---- Output helpers ---- */

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Writes v as two digits at o. */
static void put2(char *o, unsigned v)
{
	memcpy(o, digit_pairs + 2 * v, 2);
}

/* The helpers named *_at() write at o, which has room enough, and return the end of what they wrote: a
 * record's fixed fields are written after a single dt__buf_reserve(). */

/* Copies a string literal. */
#define LIT_AT(o, s) (memcpy((o), (s), sizeof(s) - 1), (o) + sizeof(s) - 1)

/* Decimal of v < 10000 (no padding). */
static char *dec4_at(char *o, unsigned v)
{
	if (v < 100) {
		if (v < 10) {
			*o = (char)('0' + v);
			return o + 1;
		}
		put2(o, v);
		return o + 2;
	}
	unsigned hi = v / 100;
	if (hi < 10) {
		*o++ = (char)('0' + hi);
	} else {
		put2(o, hi);
		o += 2;
	}
	put2(o, v % 100);
	return o + 2;
}

/* Decimal; at most 20 bytes. */
static char *dec_big_at(char *o, uint64_t v)
{
	if (v < 10000)
		return dec4_at(o, (unsigned)v);
	if (v < 100000000) {
		unsigned lo = (unsigned)(v % 10000);
		o = dec4_at(o, (unsigned)(v / 10000));
		put2(o, lo / 100);
		put2(o + 2, lo % 100);
		return o + 4;
	}
	/* The last eight digits, then the others the same way. */
	unsigned lo = (unsigned)(v % 100000000), lo4 = lo % 10000, hi4 = lo / 10000;
	o = dec_big_at(o, v / 100000000);
	put2(o, hi4 / 100);
	put2(o + 2, hi4 % 100);
	put2(o + 4, lo4 / 100);
	put2(o + 6, lo4 % 100);
	return o + 8;
}

static inline char *dec_at(char *o, uint64_t v)
{
	if (v < 10) {
		*o = (char)('0' + v);
		return o + 1;
	}
	return dec_big_at(o, v);
}

static void put_dec(struct dt_buf *out, uint64_t v)
{
	if (dt__buf_reserve(out, 20))
		out->len = (size_t)(dec_at(out->data + out->len, v) - out->data);
}

/* A mnemonic; at most 11 bytes. */
static char *tname_at(char *o, const struct tname *t)
{
	memcpy(o, t->s, sizeof(t->s));
	return o + t->n;
}

/* Type.String(); at most 11 bytes. */
static char *type_at(char *o, uint16_t t)
{
	const struct dt__rrtype *r = dt__rrtype(t);
	if (r->name_len != 0) {
		memcpy(o, r->name, sizeof(r->name));
		return o + r->name_len;
	}
	return dec_at(LIT_AT(o, "TYPE"), t);
}

static void put_type(struct dt_buf *out, uint16_t t)
{
	if (dt__buf_reserve(out, 11))
		out->len = (size_t)(type_at(out->data + out->len, t) - out->data);
}

/* Class.String(): ANY is also a type mnemonic, so miekg prints it as CLASS255. At most 10 bytes. */
static char *class_at(char *o, uint16_t c)
{
	switch (c) {
	case 1:
		return LIT_AT(o, "IN");
	case 2:
		return LIT_AT(o, "CS");
	case 3:
		return LIT_AT(o, "CH");
	case 4:
		return LIT_AT(o, "HS");
	case 254:
		return LIT_AT(o, "NONE");
	}
	return dec_at(LIT_AT(o, "CLASS"), c);
}

static void put_class(struct dt_buf *out, uint16_t c)
{
	if (dt__buf_reserve(out, 10))
		out->len = (size_t)(class_at(out->data + out->len, c) - out->data);
}

static void put_name_or_num(struct dt_buf *out, const char *const *names, size_t n, unsigned v)
{
	if (v < n && names[v] != NULL)
		dt__buf_puts(out, names[v]);
	else
		put_dec(out, v);
}

static void put_alg(struct dt_buf *out, unsigned alg)
{
	if (alg == 252)
		dt__buf_lit(out, "INDIRECT");
	else if (alg == 253)
		dt__buf_lit(out, "PRIVATEDNS");
	else if (alg == 254)
		dt__buf_lit(out, "PRIVATEOID");
	else
		put_name_or_num(out, alg_names, sizeof(alg_names) / sizeof(alg_names[0]), alg);
}

/* miekg's \DDD escape for unprintable bytes, written at o; returns the end. */
static char *ddd_at(char *o, uint8_t b)
{
	o[0] = '\\';
	o[1] = (char)('0' + b / 100);
	put2(o + 2, b % 100);
	return o + 4;
}

static void put_ddd(struct dt_buf *out, uint8_t b)
{
	if (dt__buf_reserve(out, 4))
		out->len = (size_t)(ddd_at(out->data + out->len, b) - out->data);
}

/* Two hex digits a byte, from the alphabet digits. */
static void put_hex_digits(struct dt_buf *out, const uint8_t *p, size_t n, const char *digits)
{
	if (!dt__buf_reserve(out, 2 * n))
		return;
	char *o = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		unsigned b = p[i];
		char hi = digits[b >> 4], lo = digits[b & 15];
		o[2 * i] = hi;
		o[2 * i + 1] = lo;
	}
	out->len += 2 * n;
}

static void put_hex(struct dt_buf *out, const uint8_t *p, size_t n)
{
	put_hex_digits(out, p, n, "0123456789abcdef");
}

static void put_hex_upper(struct dt_buf *out, const uint8_t *p, size_t n)
{
	put_hex_digits(out, p, n, "0123456789ABCDEF");
}

static void put_base64(struct dt_buf *out, const uint8_t *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (!dt__buf_reserve(out, (n + 2) / 3 * 4))
		return;
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = a[v >> 18];
		*o++ = a[v >> 12 & 63];
		*o++ = a[v >> 6 & 63];
		*o++ = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = a[v >> 18];
		*o++ = a[v >> 12 & 63];
		*o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
}

/* Base32 with the extended hex alphabet and no padding, as NSEC3 next hashed owners print. */
static void put_base32hex(struct dt_buf *out, const uint8_t *p, size_t n)
{
	static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | p[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			dt__buf_putc(out, a[acc >> bits & 31]);
		}
	}
	if (bits > 0)
		dt__buf_putc(out, a[acc << (5 - bits) & 31]);
}

/* The decimal digits of every byte value, four bytes each: up to three digits, then their count. */
static const char dec3[4 * 256 + 1] =
	"0\000\000\0011\000\000\0012\000\000\0013\000\000\0014\000\000\0015\000\000\0016\000\000\001"
	"7\000\000\0018\000\000\0019\000\000\00110\000\00211\000\00212\000\00213\000\00214\000\00215\000\002"
	"16\000\00217\000\00218\000\00219\000\00220\000\00221\000\00222\000\00223\000\00224\000\00225\000\002"
	"26\000\00227\000\00228\000\00229\000\00230\000\00231\000\00232\000\00233\000\00234\000\00235\000\002"
	"36\000\00237\000\00238\000\00239\000\00240\000\00241\000\00242\000\00243\000\00244\000\00245\000\002"
	"46\000\00247\000\00248\000\00249\000\00250\000\00251\000\00252\000\00253\000\00254\000\00255\000\002"
	"56\000\00257\000\00258\000\00259\000\00260\000\00261\000\00262\000\00263\000\00264\000\00265\000\002"
	"66\000\00267\000\00268\000\00269\000\00270\000\00271\000\00272\000\00273\000\00274\000\00275\000\002"
	"76\000\00277\000\00278\000\00279\000\00280\000\00281\000\00282\000\00283\000\00284\000\00285\000\002"
	"86\000\00287\000\00288\000\00289\000\00290\000\00291\000\00292\000\00293\000\00294\000\00295\000\002"
	"96\000\00297\000\00298\000\00299\000\002100\003101\003102\003103\003104\003105\003106\003107\003"
	"108\003109\003110\003111\003112\003113\003114\003115\003116\003117\003118\003119\003120\003121\003"
	"122\003123\003124\003125\003126\003127\003128\003129\003130\003131\003132\003133\003134\003135\003"
	"136\003137\003138\003139\003140\003141\003142\003143\003144\003145\003146\003147\003148\003149\003"
	"150\003151\003152\003153\003154\003155\003156\003157\003158\003159\003160\003161\003162\003163\003"
	"164\003165\003166\003167\003168\003169\003170\003171\003172\003173\003174\003175\003176\003177\003"
	"178\003179\003180\003181\003182\003183\003184\003185\003186\003187\003188\003189\003190\003191\003"
	"192\003193\003194\003195\003196\003197\003198\003199\003200\003201\003202\003203\003204\003205\003"
	"206\003207\003208\003209\003210\003211\003212\003213\003214\003215\003216\003217\003218\003219\003"
	"220\003221\003222\003223\003224\003225\003226\003227\003228\003229\003230\003231\003232\003233\003"
	"234\003235\003236\003237\003238\003239\003240\003241\003242\003243\003244\003245\003246\003247\003"
	"248\003249\003250\003251\003252\003253\003254\003255\003";

/* Writes a byte in decimal at o, where there must be room for four bytes; returns the end. */
static char *u8_at(char *o, unsigned b)
{
	memcpy(o, dec3 + 4 * b, 4);
	return o + dec3[4 * b + 3];
}

static void put_ip4(struct dt_buf *out, const uint8_t *a)
{
	if (!dt__buf_reserve(out, 16))
		return;
	char *o = out->data + out->len;
	o = u8_at(o, a[0]);
	*o++ = '.';
	o = u8_at(o, a[1]);
	*o++ = '.';
	o = u8_at(o, a[2]);
	*o++ = '.';
	o = u8_at(o, a[3]);
	out->len = (size_t)(o - out->data);
}

/* Go's net.IP String() for 16 bytes: v4-mapped addresses as dotted quads, otherwise RFC 5952 with the
 * first longest run of two or more zero groups shortened to "::". */
static void put_ip6(struct dt_buf *out, const uint8_t *a)
{
	static const char digits[] = "0123456789abcdef";
	if (dt__dns_is_v4_mapped(a)) {
		put_ip4(out, a + 12);
		return;
	}
	unsigned g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	int zs = -1, ze = -1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i >= 2 && j - i > ze - zs) {
			zs = i;
			ze = j;
		}
		i = j > i ? j : i + 1;
	}
	if (!dt__buf_reserve(out, 40))
		return;
	char *o = out->data + out->len;
	for (int i = 0; i < 8; i++) {
		if (i == zs) {
			*o++ = ':';
			*o++ = ':';
			i = ze - 1;
			continue;
		}
		if (i > 0 && i != ze)
			*o++ = ':';
		unsigned v = g[i];
		if (v >= 0x1000)
			*o++ = digits[v >> 12];
		if (v >= 0x100)
			*o++ = digits[v >> 8 & 15];
		if (v >= 0x10)
			*o++ = digits[v >> 4 & 15];
		*o++ = digits[v & 15];
	}
	out->len = (size_t)(o - out->data);
}

/* Go's time.Format("20060102150405") in UTC, for any non-negative Unix time (TSIG times are 48 bits, so the
 * year can have more than four digits). */
static void put_time(struct dt_buf *out, uint64_t t)
{
	uint64_t days = t / 86400, secs = t % 86400;
	/* Days to civil date, counting from 0000-03-01 (H. Hinnant's algorithm). */
	uint64_t z = days + 719468;
	uint64_t era = z / 146097;
	uint64_t doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	uint64_t d = doy - (153 * mp + 2) / 5 + 1;
	uint64_t m = mp < 10 ? mp + 3 : mp - 9;
	uint64_t y = yoe + era * 400 + (m <= 2);
	if (y > 9999) {
		put_dec(out, y);
	} else if (dt__buf_reserve(out, 4)) {
		char *o = out->data + out->len;
		put2(o, (unsigned)(y / 100));
		put2(o + 2, (unsigned)(y % 100));
		out->len += 4;
	}
	if (!dt__buf_reserve(out, 10))
		return;
	char *o = out->data + out->len;
	put2(o, (unsigned)m);
	put2(o + 2, (unsigned)d);
	put2(o + 4, (unsigned)(secs / 3600));
	put2(o + 6, (unsigned)(secs / 60 % 60));
	put2(o + 8, (unsigned)(secs % 60));
	out->len += 10;
}

/* How miekg writes each byte: ESC_NAME and ESC_TXT mark the bytes it escapes with a backslash in names and in
 * character-strings, ESC_DDD those it writes as \DDD in both. */
enum { ESC_NAME = 1, ESC_TXT = 2, ESC_DDD = 4 };
static const uint8_t esc_class[256] = {
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 1, 0, 3, 0, 0,
	0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Whether none of the 8 bytes in x needs an escape in a character-string (all printable, no '"' or '\\'). */
static bool txt_plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ 0x22 * ones, b = x ^ 0x5c * ones;
	uint64_t bad = (x - 0x20 * ones) & ~x; /* a byte below ' ' */
	bad |= (x + ones) | x;                 /* a byte from 0x7f */
	bad |= (q - ones) & ~q;                /* a '"' */
	bad |= (b - ones) & ~b;                /* a '\\' */
	return (bad & highs) == 0;
}

/* Writes a character-string byte at o as miekg escapes it; returns the end. */
static char *txt1_at(char *o, uint8_t b)
{
	unsigned k = esc_class[b] & (ESC_TXT | ESC_DDD);
	if (k == 0) {
		*o = (char)b;
		return o + 1;
	}
	if (k == ESC_TXT) {
		o[0] = '\\';
		o[1] = (char)b;
		return o + 2;
	}
	return ddd_at(o, b);
}

/* Writes the character-string bytes p[0:n] at o as miekg escapes them, 8 at a time where none needs an
 * escape; returns the end. There must be room for 4 * n bytes. */
static char *txt_at(char *o, const uint8_t *p, size_t n)
{
	const uint8_t *e = p + n;
	while (e - p >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		if (txt_plain8(x)) {
			memcpy(o, &x, 8);
			o += 8;
		} else {
			for (int i = 0; i < 8; i++)
				o = txt1_at(o, p[i]);
		}
		p += 8;
	}
	while (p < e)
		o = txt1_at(o, *p++);
	return o;
}

/* A character-string as miekg's unpackString() leaves it: quotes and backslashes escaped, unprintable
 * bytes as \DDD. TXT-like records print it quoted, X25/GPOS/NAPTR/CAA tags as is. */
static void put_txt_bytes(struct dt_buf *out, const uint8_t *p, size_t n)
{
	if (dt__buf_reserve(out, 4 * n))
		out->len = (size_t)(txt_at(out->data + out->len, p, n) - out->data);
}

/* miekg's sprintTxtOctet() on raw octets (CAA values, URI targets): it reads backslash escapes in the raw
 * bytes as if they were presentation format, keeps "\." as is, and drops a final lone backslash. */
static void put_octet_string(struct dt_buf *out, const uint8_t *s, size_t n)
{
	if (!dt__buf_reserve(out, 4 * n + 2))
		return;
	char *o = out->data + out->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		if (b != '\\') {
			o = txt1_at(o, b);
			i++;
			continue;
		}
		size_t left = n - i;
		if (left == 1)
			break;
		if (s[i + 1] == '.') {
			*o++ = '\\';
			*o++ = '.';
			i += 2;
		} else if (left >= 4 && s[i + 1] >= '0' && s[i + 1] <= '9' && s[i + 2] >= '0' && s[i + 2] <= '9' &&
			   s[i + 3] >= '0' && s[i + 3] <= '9') {
			o = txt1_at(o, (uint8_t)((s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0')));
			i += 4;
		} else {
			o = txt1_at(o, s[i + 1]);
			i += 2;
		}
	}
	*o++ = '"';
	out->len = (size_t)(o - out->data);
}

/* ---- Names, checked and printed in one walk ---- */

/*
 * Names printed so far in the message, by the offset they start at (names, and the suffixes their
 * pointers lead to). The text of a name depends only on where it starts, and compressed names keep pointing
 * at the same few, so a name met again is copied from the output instead of being decoded once more; with it
 * come the label octets and pointers following it adds, which is all miekg's checks need to know of it. A
 * small direct-mapped table; offsets past 0x3fff, which no pointer can reach, are not kept.
 */
#define NAME_SLOTS 32
struct names {
	uint16_t key[NAME_SLOTS]; /* offset + 1; 0 for an empty slot */
	uint16_t len[NAME_SLOTS];
	uint8_t octets[NAME_SLOTS]; /* label octets, with their length octets */
	uint8_t ptrs[NAME_SLOTS];
	size_t pos[NAME_SLOTS]; /* where its text is in the output buffer */
};

static unsigned name_slot(size_t off)
{
	return (unsigned)(off ^ off >> 5) % NAME_SLOTS;
}

/* The output from cut on is going away: forget the names printed there. */
static void names_forget(struct names *nc, size_t cut)
{
	for (unsigned i = 0; i < NAME_SLOTS; i++)
		if (nc->pos[i] >= cut)
			nc->key[i] = 0;
}

/* n bytes were inserted in the output at at: the names printed after it moved. */
static void names_moved(struct names *nc, size_t at, size_t n)
{
	for (unsigned i = 0; i < NAME_SLOTS; i++)
		if (nc->key[i] != 0 && nc->pos[i] >= at)
			nc->pos[i] += n;
}

/* The longest text of a name dt__dns_check_name() accepts (254 label octets, each byte as \DDD at worst,
 * and their dots), with room for the 16-byte moves that copy a name already printed. */
#define NAME_TEXT_MAX (4 * 255 + 32)

/* Copies n bytes of text from src, which ends at or before o, to o in 16-byte moves; the moves read and
 * write up to 15 bytes past the ends. */
static char *copy_text(char *o, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		char t[16];
		memcpy(t, src + i, 16);
		memcpy(o + i, t, 16);
	}
	return o + n;
}

/* Writes the label bytes p[0:n] at o with miekg's escapes; returns the end. */
static char *label_escaped_at(char *o, const uint8_t *p, size_t n)
{
	for (const uint8_t *e = p + n; p < e; p++) {
		uint8_t b = *p;
		unsigned k = esc_class[b] & (ESC_NAME | ESC_DDD);
		if (k == 0) {
			*o++ = (char)b;
		} else if (k == ESC_NAME) {
			o[0] = '\\';
			o[1] = (char)b;
			o += 2;
		} else {
			o = ddd_at(o, b);
		}
	}
	return o;
}

/*
 * dt__dns_check_name() and the printing of the name as miekg presents it, in one walk: prints the name at
 * msg[off], following compression pointers, and returns NULL with *next set as dt__dns_check_name() would,
 * or its error (the caller drops the partial text). nc holds the names printed before; a name met again is
 * copied when the octet and pointer counts it adds keep within miekg's limits, and walked again otherwise.
 */
static const char *check_put_name(struct dt_buf *out, const uint8_t *msg, size_t len, size_t off, struct names *nc,
				  size_t *next)
{
	const size_t first = off;
	/* The commonest name of all: a pointer to one printed already. */
	if (len - off >= 2 && msg[off] >= 0xC0) {
		size_t to = (size_t)(msg[off] & 0x3f) << 8 | msg[off + 1];
		unsigned slot = name_slot(to);
		if (nc->key[slot] == to + 1 && to < len && 1 + nc->ptrs[slot] <= DT__DNS_MAX_POINTERS &&
		    dt__buf_reserve(out, nc->len[slot] + 16u)) {
			char *o = out->data + out->len;
			out->len = (size_t)(copy_text(o, out->data + nc->pos[slot], nc->len[slot]) - out->data);
			*next = off + 2;
			return NULL;
		}
	}
	if (off < len && msg[off] == 0) {
		dt__buf_putc(out, '.');
		*next = off + 1;
		return NULL;
	}
	if (!dt__buf_reserve(out, NAME_TEXT_MAX))
		return dt__dns_check_name(msg, len, first, next);
	enum { PENDING = 4 };
	size_t pend_off[PENDING], pend_pos[PENDING];
	int pend_budget[PENDING], pend_ptrs[PENDING];
	unsigned npend = 0;
	char *const start = out->data + out->len;
	char *o = start;
	size_t ret = 0;
	int ptrs = 0, budget = 255;
	if (off < 0x4000 && off < len && msg[off] - 1u < 63) {
		pend_off[0] = off;
		pend_pos[0] = out->len;
		pend_budget[0] = budget;
		pend_ptrs[0] = 0;
		npend = 1;
	}
	for (;;) {
		if (off >= len)
			return dt__dns_check_name(msg, len, first, next);
		unsigned c = msg[off];
		if (c - 1 < 63) {
			const uint8_t *p = msg + off + 1;
			off += 1 + c;
			if (off > len)
				return dt__dns_check_name(msg, len, first, next);
			budget -= (int)c + 1;
			if (budget <= 0)
				return dt__dns_check_name(msg, len, first, next);
			/* Copied as is, and written again in the rare case a byte needs an escape. */
			unsigned k = 0;
			for (unsigned i = 0; i < c; i++) {
				o[i] = (char)p[i];
				k |= esc_class[p[i]];
			}
			if (k & (ESC_NAME | ESC_DDD))
				o = label_escaped_at(o, p, c);
			else
				o += c;
			*o++ = '.';
			continue;
		}
		off++;
		if (c == 0) {
			*next = ptrs > 0 ? ret : off;
			break;
		}
		if (c < 0xC0)
			return dt__dns_check_name(msg, len, first, next);
		if (off >= len)
			return dt__dns_check_name(msg, len, first, next);
		if (ptrs == 0)
			ret = off + 1;
		if (++ptrs > DT__DNS_MAX_POINTERS)
			return dt__dns_check_name(msg, len, first, next);
		off = (size_t)(c & 0x3f) << 8 | msg[off];
		if (off >= len || msg[off] - 1u >= 63)
			continue;
		unsigned slot = name_slot(off);
		if (nc->key[slot] == off + 1 && budget - nc->octets[slot] > 0 &&
		    ptrs + nc->ptrs[slot] <= DT__DNS_MAX_POINTERS) {
			o = copy_text(o, out->data + nc->pos[slot], nc->len[slot]);
			budget -= nc->octets[slot];
			ptrs += nc->ptrs[slot];
			*next = ret;
			break;
		}
		if (npend < PENDING) {
			pend_off[npend] = off;
			pend_pos[npend] = (size_t)(o - out->data);
			pend_budget[npend] = budget;
			pend_ptrs[npend++] = ptrs;
		}
	}
	if (o == start)
		*o++ = '.';
	out->len = (size_t)(o - out->data);
	for (unsigned i = 0; i < npend; i++) {
		unsigned slot = name_slot(pend_off[i]);
		nc->key[slot] = (uint16_t)(pend_off[i] + 1);
		nc->len[slot] = (uint16_t)(out->len - pend_pos[i]);
		nc->octets[slot] = (uint8_t)(pend_budget[i] - budget);
		nc->ptrs[slot] = (uint8_t)(ptrs - pend_ptrs[i]);
		nc->pos[slot] = pend_pos[i];
	}
	return NULL;
}

/* Prints a name dt__dns_check_name() has accepted; returns the offset after it. */
static size_t put_name(struct dt_buf *out, const uint8_t *msg, size_t len, size_t off, struct names *nc)
{
	size_t next = len;
	check_put_name(out, msg, len, off, nc, &next);
	return next;
}

/* ---- Printing ---- */

/* A cursor over a record's rdata: p is the whole message (compression pointers are offsets into it), len the
 * end of the rdata, off the next field. Reads past the end give zero values, which is what miekg prints for
 * the fields a short record leaves out. */
struct cur {
	const uint8_t *p;
	size_t len, off;
	struct names *nc;
};

static bool c_more(const struct cur *c)
{
	return c->off < c->len;
}

static uint64_t c_uint(struct cur *c, size_t n)
{
	uint64_t v = 0;
	if (c->len - c->off < n) {
		c->off = c->len;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | c->p[c->off++];
	return v;
}

/* n bytes (clamped to what is left); returns a pointer to them. */
static const uint8_t *c_bytes(struct cur *c, size_t n, size_t *got)
{
	const uint8_t *p = c->p + c->off;
	if (n > c->len - c->off)
		n = c->len - c->off;
	c->off += n;
	*got = n;
	return p;
}

static const uint8_t *c_rest(struct cur *c, size_t *got)
{
	return c_bytes(c, c->len - c->off, got);
}

static void c_name(struct dt_buf *out, struct cur *c)
{
	if (c_more(c))
		c->off = put_name(out, c->p, c->len, c->off, c->nc);
}

/* A character-string in unpackString()'s escaped form. */
static void c_txt(struct dt_buf *out, struct cur *c)
{
	if (!c_more(c))
		return;
	size_t l = c->p[c->off++], n;
	const uint8_t *p = c_bytes(c, l, &n);
	put_txt_bytes(out, p, n);
}

static void c_txt_quoted(struct dt_buf *out, struct cur *c)
{
	size_t l = c_more(c) ? c->p[c->off++] : 0, n;
	const uint8_t *p = c_bytes(c, l, &n);
	if (!dt__buf_reserve(out, 4 * n + 2))
		return;
	char *o = out->data + out->len;
	*o++ = '"';
	o = txt_at(o, p, n);
	*o++ = '"';
	out->len = (size_t)(o - out->data);
}

static void c_dec(struct dt_buf *out, struct cur *c, size_t n)
{
	put_dec(out, c_uint(c, n));
}

static void c_types(struct dt_buf *out, struct cur *c)
{
	while (c->len - c->off >= 2) {
		unsigned window = c->p[c->off], n = c->p[c->off + 1];
		c->off += 2;
		if (n > c->len - c->off)
			n = (unsigned)(c->len - c->off);
		for (unsigned j = 0; j < n; j++) {
			uint8_t b = c->p[c->off + j];
			for (unsigned bit = 0; bit < 8; bit++) {
				if (b & (0x80 >> bit)) {
					dt__buf_putc(out, ' ');
					put_type(out, (uint16_t)(window * 256 + j * 8 + bit));
				}
			}
		}
		c->off += n;
	}
}

static void sp(struct dt_buf *out)
{
	dt__buf_putc(out, ' ');
}

/* RR_Header.String() after the name: "\tttl\tCLASS\tTYPE\t". */
static void put_rr_fields(struct dt_buf *out, uint32_t ttl, uint16_t class, uint16_t type)
{
	if (!dt__buf_reserve(out, 48))
		return;
	char *o = out->data + out->len;
	*o++ = '\t';
	o = dec_at(o, ttl);
	*o++ = '\t';
	o = class_at(o, class);
	*o++ = '\t';
	o = type_at(o, type);
	*o++ = '\t';
	out->len = (size_t)(o - out->data);
}

/* cmToM(): a LOC size or precision (mantissa and exponent nibbles, in cm) in metres. */
static void put_loc_size(struct dt_buf *out, uint8_t v)
{
	unsigned m = v >> 4, e = v & 15;
	if (e < 2) {
		if (e == 1)
			m *= 10;
		dt__buf_lit(out, "0.");
		dt__buf_put_u64_pad(out, m, 2);
	} else {
		put_dec(out, m);
		for (; e > 2; e--)
			dt__buf_putc(out, '0');
	}
	dt__buf_putc(out, 'm');
}

/* A LOC latitude or longitude: thousandths of arc seconds offset by 2^31, as "DD MM SS.sss H " (Go's
 * %0.3f and C's %.3f round the same double the same way). */
static void put_loc_angle(struct dt_buf *out, uint32_t v, char pos, char neg)
{
	char tmp[64];
	char hemi = pos;
	if (v > 1u << 31) {
		v -= 1u << 31;
	} else {
		hemi = neg;
		v = (1u << 31) - v;
	}
	unsigned h = v / 3600000, m = v % 3600000 / 60000;
	double s = (double)(v % 60000) / 1000;
	int n = snprintf(tmp, sizeof(tmp), "%02u %02u %.3f %c ", h, m, s, hemi);
	dt__buf_put(out, tmp, (size_t)n);
}

/* LOC.String(); the altitude is in cm above -100000 m, with decimals only when it has centimetres. */
static void put_loc(struct dt_buf *out, struct cur *c)
{
	char tmp[64];
	c_uint(c, 1); /* version */
	uint8_t size = (uint8_t)c_uint(c, 1), hp = (uint8_t)c_uint(c, 1), vp = (uint8_t)c_uint(c, 1);
	uint32_t lat = (uint32_t)c_uint(c, 4), lon = (uint32_t)c_uint(c, 4), alt = (uint32_t)c_uint(c, 4);
	put_loc_angle(out, lat, 'N', 'S');
	put_loc_angle(out, lon, 'E', 'W');
	double a = (double)alt / 100 - 100000;
	int n = snprintf(tmp, sizeof(tmp), alt % 100 ? "%.2fm " : "%.0fm ", a);
	dt__buf_put(out, tmp, (size_t)n);
	put_loc_size(out, size);
	sp(out);
	put_loc_size(out, hp);
	sp(out);
	put_loc_size(out, vp);
}

/* APL prefixes: "[!]family:address/prefix", IPv4-mapped IPv6 addresses written "::ffff:" + dotted quad. */
static void put_apl(struct dt_buf *out, struct cur *c)
{
	bool first = true;
	while (c->len - c->off >= 4) {
		uint16_t family = (uint16_t)c_uint(c, 2);
		unsigned prefix = (unsigned)c_uint(c, 1), nlen = (unsigned)c_uint(c, 1);
		uint8_t addr[16] = {0};
		size_t n;
		const uint8_t *p = c_bytes(c, nlen & 0x7f, &n);
		memcpy(addr, p, n > 16 ? 16 : n);
		if (!first)
			sp(out);
		first = false;
		if (nlen & 0x80)
			dt__buf_putc(out, '!');
		if (family == 1) {
			dt__buf_lit(out, "1:");
			put_ip4(out, addr);
		} else {
			dt__buf_lit(out, "2:");
			if (dt__dns_is_v4_mapped(addr))
				dt__buf_lit(out, "::ffff:");
			put_ip6(out, addr);
		}
		dt__buf_putc(out, '/');
		put_dec(out, prefix);
	}
}

/* svcbParamToStr(): printable bytes with " ; space and backslash escaped, others as \DDD. */
static void put_svcb_param(struct dt_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b < ' ' || b > '~') {
			put_ddd(out, b);
		} else {
			if (b == '"' || b == ';' || b == ' ' || b == '\\')
				dt__buf_putc(out, '\\');
			dt__buf_putc(out, (char)b);
		}
	}
}

static void put_svcb_key(struct dt_buf *out, uint16_t key)
{
	if (key < 8) {
		dt__buf_puts(out, svcb_key_names[key]);
	} else if (key != 65535) {
		dt__buf_lit(out, "key");
		put_dec(out, key);
	}
}

/* One alpn protocol id: SVCBAlpn.String() escapes commas and backslashes twice (once for the list, once
 * for presentation), the other specials once. */
static void put_alpn_id(struct dt_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b < ' ' || b > '~') {
			put_ddd(out, b);
		} else if (b == ',') {
			dt__buf_lit(out, "\\\\\\044");
		} else if (b == '\\') {
			dt__buf_lit(out, "\\\\\\092");
		} else {
			if (b == '"' || b == ';' || b == ' ')
				dt__buf_putc(out, '\\');
			dt__buf_putc(out, (char)b);
		}
	}
}

static void put_svcb_value(struct dt_buf *out, uint16_t key, const uint8_t *v, size_t n)
{
	switch (key) {
	case 0: /* mandatory: key names */
		for (size_t i = 0; i + 2 <= n; i += 2) {
			if (i > 0)
				dt__buf_putc(out, ',');
			put_svcb_key(out, dt__dns_get16(v + i));
		}
		return;
	case 1: /* alpn: length-prefixed ids */
		for (size_t i = 0; i < n;) {
			size_t l = v[i++];
			if (l > n - i)
				l = n - i;
			put_alpn_id(out, v + i, l);
			i += l;
			if (i < n)
				dt__buf_putc(out, ',');
		}
		return;
	case 2: /* no-default-alpn */
		return;
	case 3: /* port */
		if (n == 2)
			put_dec(out, dt__dns_get16(v));
		return;
	case 4: /* ipv4hint */
		for (size_t i = 0; i + 4 <= n; i += 4) {
			if (i > 0)
				dt__buf_putc(out, ',');
			put_ip4(out, v + i);
		}
		return;
	case 5: /* ech */
		put_base64(out, v, n);
		return;
	case 6: /* ipv6hint */
		for (size_t i = 0; i + 16 <= n; i += 16) {
			if (i > 0)
				dt__buf_putc(out, ',');
			put_ip6(out, v + i);
		}
		return;
	}
	/* dohpath and keyNNNNN */
	put_svcb_param(out, v, n);
}

static void put_svcb(struct dt_buf *out, struct cur *c)
{
	c_dec(out, c, 2);
	sp(out);
	c_name(out, c);
	while (c->len - c->off >= 4) {
		uint16_t key = (uint16_t)c_uint(c, 2), l = (uint16_t)c_uint(c, 2);
		size_t n;
		const uint8_t *v = c_bytes(c, l, &n);
		sp(out);
		put_svcb_key(out, key);
		dt__buf_lit(out, "=\"");
		put_svcb_value(out, key, v, n);
		dt__buf_putc(out, '"');
	}
}

/* One EDNS0 option as OPT.String() shows it (EXPIRE options are not shown at all). */
static void put_edns_option(struct dt_buf *out, uint16_t code, const uint8_t *v, size_t n)
{
	switch (code) {
	case 3:
		dt__buf_lit(out, "\n; NSID: ");
		put_hex(out, v, n);
		dt__buf_lit(out, "  ");
		/* Go's string(byte) makes a rune: bytes from 0x80 come out as two-byte UTF-8. */
		for (size_t i = 0; i < n; i++) {
			dt__buf_putc(out, '(');
			if (v[i] < 0x80) {
				dt__buf_putc(out, (char)v[i]);
			} else {
				dt__buf_putc(out, (char)(0xC0 | v[i] >> 6));
				dt__buf_putc(out, (char)(0x80 | (v[i] & 0x3f)));
			}
			dt__buf_putc(out, ')');
		}
		return;
	case DT__DNS_OPT_ECS: {
		struct dt__dns_ecs ecs;
		dt__dns_ecs_decode(&ecs, v, n);
		dt__buf_lit(out, "\n; SUBNET: ");
		if (ecs.family == 1) {
			put_ip4(out, ecs.addr);
		} else if (ecs.family == 2) {
			if (dt__dns_is_v4_mapped(ecs.addr)) {
				put_ip4(out, ecs.addr + 12);
			} else {
				dt__buf_putc(out, '[');
				put_ip6(out, ecs.addr);
				dt__buf_putc(out, ']');
			}
		} else {
			dt__buf_lit(out, "0.0.0.0");
		}
		dt__buf_putc(out, '/');
		put_dec(out, ecs.source);
		dt__buf_putc(out, '/');
		put_dec(out, ecs.scope);
		return;
	}
	case 10:
		dt__buf_lit(out, "\n; COOKIE: ");
		put_hex(out, v, n);
		return;
	case 11:
		dt__buf_lit(out, "\n; KEEPALIVE: use tcp keep-alive");
		if (n == 0 || dt__dns_get16(v) == 0) {
			dt__buf_lit(out, ", timeout omitted");
		} else {
			/* Go multiplies the uint16 by 100 in 16 bits. */
			dt__buf_lit(out, ", timeout ");
			put_dec(out, (uint16_t)(dt__dns_get16(v) * 100u));
			dt__buf_lit(out, "ms");
		}
		return;
	case 2:
		dt__buf_lit(out, "\n; UPDATE LEASE: ");
		put_dec(out, dt__dns_get32(v));
		sp(out);
		put_dec(out, n == 8 ? dt__dns_get32(v + 4) : 0);
		return;
	case 1:
		dt__buf_lit(out, "\n; LONG LIVED QUERIES: ");
		put_dec(out, dt__dns_get16(v));
		sp(out);
		put_dec(out, dt__dns_get16(v + 2));
		sp(out);
		put_dec(out, dt__dns_get16(v + 4));
		sp(out);
		put_dec(out, (uint64_t)dt__dns_get32(v + 6) << 32 | dt__dns_get32(v + 10));
		sp(out);
		put_dec(out, dt__dns_get32(v + 14));
		return;
	case 5:
	case 6:
	case 7:
		dt__buf_puts(out, code == 5   ? "\n; DNSSEC ALGORITHM UNDERSTOOD: "
				  : code == 6 ? "\n; DS HASH UNDERSTOOD: "
					      : "\n; NSEC3 HASH UNDERSTOOD: ");
		for (size_t i = 0; i < n; i++) {
			sp(out);
			if (code == 5)
				put_alg(out, v[i]);
			else
				put_name_or_num(out, hash_names, sizeof(hash_names) / sizeof(hash_names[0]), v[i]);
		}
		return;
	case 12:
		dt__buf_lit(out, "\n; PADDING: ");
		put_hex_upper(out, v, n);
		return;
	case 15: {
		uint16_t info = dt__dns_get16(v);
		dt__buf_lit(out, "\n; EDE: ");
		put_dec(out, info);
		if (info < sizeof(ede_names) / sizeof(ede_names[0])) {
			dt__buf_lit(out, " (");
			dt__buf_puts(out, ede_names[info]);
			dt__buf_putc(out, ')');
		}
		dt__buf_lit(out, ": (");
		dt__buf_put(out, v + 2, n - 2);
		dt__buf_putc(out, ')');
		return;
	}
	case 4:
		dt__buf_lit(out, "\n; ESU: ");
		dt__buf_put(out, v, n);
		return;
	case 9:
		return;
	}
	dt__buf_lit(out, "\n; LOCAL OPT: ");
	put_dec(out, code);
	dt__buf_lit(out, ":0x");
	put_hex(out, v, n);
}

/* OPT.String(): the pseudosection text, from the record's class (UDP size), TTL (version, DO) and rdata. */
static void put_opt(struct dt_buf *out, const struct dt__dns_edns *e)
{
	if (dt__buf_reserve(out, 96)) {
		char *o = LIT_AT(out->data + out->len, "\n;; OPT PSEUDOSECTION:\n; EDNS: version ");
		o = dec_at(o, e->version);
		if (e->flags & DT__DNS_EDNS_DO)
			o = LIT_AT(o, "; flags: do; udp: ");
		else
			o = LIT_AT(o, "; flags: ; udp: ");
		o = dec_at(o, e->udp_size);
		out->len = (size_t)(o - out->data);
	}
	struct dt__dns_opt_iter it;
	uint16_t code, n;
	const uint8_t *v;
	dt__dns_opt_iter_init(&it, e->options, e->options_len);
	while (dt__dns_opt_next(&it, &code, &v, &n))
		put_edns_option(out, code, v, n);
}

/* The rdata of a record miekg has a type for, read through the cursor. */
static void put_rdata(struct dt_buf *out, uint16_t type, struct cur *c)
{
	size_t n;
	const uint8_t *p;
	switch (type) {
	case DT__TYPE_A:
		if (c->len - c->off >= 4)
			put_ip4(out, c->p + c->off);
		return;
	case DT__TYPE_AAAA:
		if (c->len - c->off >= 16)
			put_ip6(out, c->p + c->off);
		return;
	case DT__TYPE_NS:
	case DT__TYPE_MD:
	case DT__TYPE_MF:
	case DT__TYPE_CNAME:
	case DT__TYPE_MB:
	case DT__TYPE_MG:
	case DT__TYPE_MR:
	case DT__TYPE_PTR:
	case DT__TYPE_DNAME:
	case DT__TYPE_NSAPPTR:
		c_name(out, c);
		return;
	case DT__TYPE_SOA:
		c_name(out, c);
		sp(out);
		c_name(out, c);
		for (int i = 0; i < 5; i++) {
			sp(out);
			c_dec(out, c, 4);
		}
		return;
	case DT__TYPE_MINFO:
	case DT__TYPE_RP:
	case DT__TYPE_TALINK:
		c_name(out, c);
		sp(out);
		c_name(out, c);
		return;
	case DT__TYPE_MX:
	case DT__TYPE_AFSDB:
	case DT__TYPE_RT:
	case DT__TYPE_KX:
	case DT__TYPE_LP:
		c_dec(out, c, 2);
		sp(out);
		c_name(out, c);
		return;
	case DT__TYPE_PX:
		c_dec(out, c, 2);
		sp(out);
		c_name(out, c);
		sp(out);
		c_name(out, c);
		return;
	case DT__TYPE_TXT:
	case DT__TYPE_SPF:
	case DT__TYPE_AVC:
	case DT__TYPE_NINFO:
		for (bool first = true; c_more(c); first = false) {
			if (!first)
				sp(out);
			c_txt_quoted(out, c);
		}
		return;
	case DT__TYPE_HINFO:
		c_txt_quoted(out, c);
		sp(out);
		c_txt_quoted(out, c);
		return;
	case DT__TYPE_UINFO:
		c_txt_quoted(out, c);
		return;
	case DT__TYPE_X25:
		c_txt(out, c);
		return;
	case DT__TYPE_GPOS:
		c_txt(out, c);
		sp(out);
		c_txt(out, c);
		sp(out);
		c_txt(out, c);
		return;
	case DT__TYPE_SRV:
		for (int i = 0; i < 3; i++) {
			c_dec(out, c, 2);
			sp(out);
		}
		c_name(out, c);
		return;
	case DT__TYPE_NAPTR:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 2);
		for (int i = 0; i < 3; i++) {
			dt__buf_lit(out, " \"");
			c_txt(out, c);
			dt__buf_putc(out, '"');
		}
		sp(out);
		c_name(out, c);
		return;
	case DT__TYPE_CERT: {
		unsigned ct = (unsigned)c_uint(c, 2);
		if (ct == 253)
			dt__buf_lit(out, "URI");
		else if (ct == 254)
			dt__buf_lit(out, "OID");
		else
			put_name_or_num(out, cert_names, sizeof(cert_names) / sizeof(cert_names[0]), ct);
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		put_alg(out, (unsigned)c_uint(c, 1));
		sp(out);
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	}
	case DT__TYPE_DS:
	case DT__TYPE_CDS:
	case DT__TYPE_DLV:
	case DT__TYPE_TA:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case DT__TYPE_SSHFP:
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case DT__TYPE_KEY:
	case DT__TYPE_DNSKEY:
	case DT__TYPE_CDNSKEY:
	case DT__TYPE_RKEY:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	case DT__TYPE_SIG:
	case DT__TYPE_RRSIG:
		put_type(out, (uint16_t)c_uint(c, 2));
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 4);
		sp(out);
		put_time(out, c_uint(c, 4));
		sp(out);
		put_time(out, c_uint(c, 4));
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		c_name(out, c);
		sp(out);
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	case DT__TYPE_NSEC:
		c_name(out, c);
		c_types(out, c);
		return;
	case DT__TYPE_NSEC3:
	case DT__TYPE_NSEC3PARAM:
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		p = c_bytes(c, (size_t)c_uint(c, 1), &n);
		if (n == 0)
			dt__buf_putc(out, '-');
		else
			put_hex_upper(out, p, n);
		if (type == DT__TYPE_NSEC3PARAM)
			return;
		sp(out);
		p = c_bytes(c, (size_t)c_uint(c, 1), &n);
		put_base32hex(out, p, n);
		c_types(out, c);
		return;
	case DT__TYPE_TLSA:
	case DT__TYPE_SMIMEA:
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		if (type == DT__TYPE_TLSA) {
			put_hex(out, p, n);
			return;
		}
		/* miekg splits SMIMEA's hex into 1024-character chunks (leaving an empty last chunk when the
		 * length is a multiple of 1024). */
		for (size_t i = 0; i < n; i += 512) {
			if (i > 0)
				sp(out);
			put_hex(out, p + i, n - i > 512 ? 512 : n - i);
		}
		if (n >= 512 && n % 512 == 0)
			sp(out);
		return;
	case DT__TYPE_HIP: {
		unsigned hitlen = (unsigned)c_uint(c, 1);
		c_dec(out, c, 1);
		size_t pklen = (size_t)c_uint(c, 2);
		sp(out);
		p = c_bytes(c, hitlen, &n);
		put_hex(out, p, n);
		sp(out);
		p = c_bytes(c, pklen, &n);
		put_base64(out, p, n);
		while (c_more(c)) {
			sp(out);
			c_name(out, c);
		}
		return;
	}
	case DT__TYPE_LOC:
		put_loc(out, c);
		return;
	case DT__TYPE_EID:
	case DT__TYPE_NIMLOC:
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case DT__TYPE_DHCID:
	case DT__TYPE_OPENPGPKEY:
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	case DT__TYPE_APL:
		put_apl(out, c);
		return;
	case DT__TYPE_CSYNC:
		c_dec(out, c, 4);
		sp(out);
		c_dec(out, c, 2);
		c_types(out, c);
		return;
	case DT__TYPE_ZONEMD:
		c_dec(out, c, 4);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex(out, p, n);
		return;
	case DT__TYPE_SVCB:
	case DT__TYPE_HTTPS:
		put_svcb(out, c);
		return;
	case DT__TYPE_UID:
	case DT__TYPE_GID:
		c_dec(out, c, 4);
		return;
	case DT__TYPE_L32:
		c_dec(out, c, 2);
		if (c->len - c->off >= 4) {
			sp(out);
			put_ip4(out, c->p + c->off);
		}
		return;
	case DT__TYPE_NID:
	case DT__TYPE_L64: {
		static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
		const char *digits = type == DT__TYPE_NID ? lower : upper;
		c_dec(out, c, 2);
		sp(out);
		uint64_t v = c_uint(c, 8);
		for (int i = 15; i >= 0; i--) {
			dt__buf_putc(out, digits[v >> (4 * i) & 15]);
			if (i % 4 == 0 && i > 0)
				dt__buf_putc(out, ':');
		}
		return;
	}
	case DT__TYPE_EUI48:
	case DT__TYPE_EUI64: {
		size_t bytes = type == DT__TYPE_EUI48 ? 6 : 8;
		uint64_t v = c_uint(c, bytes);
		for (size_t i = 0; i < bytes; i++) {
			uint8_t b = (uint8_t)(v >> (8 * (bytes - 1 - i)));
			if (i > 0)
				dt__buf_putc(out, '-');
			put_hex(out, &b, 1);
		}
		return;
	}
	case DT__TYPE_URI:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		p = c_rest(c, &n);
		put_octet_string(out, p, n);
		return;
	case DT__TYPE_CAA:
		c_dec(out, c, 1);
		sp(out);
		c_txt(out, c);
		sp(out);
		p = c_rest(c, &n);
		put_octet_string(out, p, n);
		return;
	case DT__TYPE_NULL:
		p = c_rest(c, &n);
		dt__buf_put(out, p, n);
		return;
	case DT__TYPE_TKEY:
		sp(out);
		c_name(out, c);
		sp(out);
		put_time(out, c_uint(c, 4));
		sp(out);
		put_time(out, c_uint(c, 4));
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		n = (size_t)c_uint(c, 2);
		put_dec(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		put_hex(out, p, n);
		sp(out);
		n = (size_t)c_uint(c, 2);
		put_dec(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		put_hex(out, p, n);
		return;
	case DT__TYPE_TSIG:
		sp(out);
		c_name(out, c);
		sp(out);
		put_time(out, c_uint(c, 6));
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		n = (size_t)c_uint(c, 2);
		put_dec(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		put_hex_upper(out, p, n);
		for (int i = 0; i < 2; i++) {
			sp(out);
			c_dec(out, c, 2);
		}
		sp(out);
		n = (size_t)c_uint(c, 2);
		put_dec(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		put_hex(out, p, n);
		return;
	}
}

static void put_header(struct dt_buf *out, const uint8_t *wire, const unsigned count[4], unsigned rcode)
{
	/* The flags by groups of four: qr aa tc rd (bits 15, 10, 9, 8) and ra z ad cd (bits 7 to 4). */
	struct flags {
		char s[15];
		uint8_t n;
	};
#define F(x)                     \
	{                        \
		x, sizeof(x) - 1 \
	}
	static const struct flags hi[16] = {
		F(""),       F(" rd"),       F(" tc"),       F(" tc rd"),       F(" aa"),    F(" aa rd"),
		F(" aa tc"), F(" aa tc rd"), F(" qr"),       F(" qr rd"),       F(" qr tc"), F(" qr tc rd"),
		F(" qr aa"), F(" qr aa rd"), F(" qr aa tc"), F(" qr aa tc rd"),
	};
	static const struct flags lo[16] = {
		F(""),      F(" cd"),      F(" ad"),      F(" ad cd"),      F(" z"),     F(" z cd"),
		F(" z ad"), F(" z ad cd"), F(" ra"),      F(" ra cd"),      F(" ra ad"), F(" ra ad cd"),
		F(" ra z"), F(" ra z cd"), F(" ra z ad"), F(" ra z ad cd"),
	};
#undef F
	if (!dt__buf_reserve(out, 256))
		return;
	char *o = LIT_AT(out->data + out->len, ";; opcode: ");
	unsigned opcode = wire[2] >> 3 & 15;
	if (opcode < 6)
		o = tname_at(o, &opcode_names[opcode]);
	o = LIT_AT(o, ", status: ");
	if (rcode < 24)
		o = tname_at(o, &rcode_names[rcode]);
	o = dec_at(LIT_AT(o, ", id: "), dt__dns_get16(wire));
	o = LIT_AT(o, "\n;; flags:");
	const struct flags *f = &hi[(wire[2] >> 4 & 8) | (wire[2] & 7)];
	memcpy(o, f->s, sizeof(f->s));
	o += f->n;
	f = &lo[wire[3] >> 4];
	memcpy(o, f->s, sizeof(f->s));
	o += f->n;
	o = dec_at(LIT_AT(o, "; QUERY: "), count[0]);
	o = dec_at(LIT_AT(o, ", ANSWER: "), count[1]);
	o = dec_at(LIT_AT(o, ", AUTHORITY: "), count[2]);
	o = dec_at(LIT_AT(o, ", ADDITIONAL: "), count[3]);
	*o++ = '\n';
	out->len = (size_t)(o - out->data);
}

/*
 * The printing pass: the entries of a message as the wire layer's walk accepts them, each printed as it
 * is accepted, so that each name is walked once. The header and the OPT pseudosection, which come first but
 * depend on the records found, are printed after them and moved to the front.
 */
struct printer {
	struct dt_buf *out;
	const uint8_t *wire;
	size_t len;
	struct dt__dns_rr_iter it;
	bool titled[4]; /* the section's title is out */
	bool has_opt;   /* opt is the last OPT record of the additional section */
	struct dt__dns_rr opt;
	struct names nc;
};

static void put_title(struct dt_buf *out, int s)
{
	static const struct {
		char s[26];
		uint8_t n;
	} titles[4] = {
#define T(x) {x, sizeof(x) - 1}
		T("\n;; QUESTION SECTION:\n"),
		T("\n;; ANSWER SECTION:\n"),
		T("\n;; AUTHORITY SECTION:\n"),
		T("\n;; ADDITIONAL SECTION:\n"),
#undef T
	};
	if (dt__buf_reserve(out, sizeof(titles[s].s))) {
		memcpy(out->data + out->len, titles[s].s, sizeof(titles[s].s));
		out->len += titles[s].n;
	}
}

/* Drops the output from cut on, where a name printed from name_at on is. */
static void cut_output(struct printer *pr, size_t cut, size_t name_at)
{
	/* A lone "." (the root) is never kept in nc. */
	if (pr->out->len - name_at > 1)
		names_forget(&pr->nc, cut);
	pr->out->len = cut;
}

/* Inserts the n bytes s into the output at at. */
static void insert_output(struct printer *pr, size_t at, const char *s, size_t n)
{
	struct dt_buf *out = pr->out;
	if (!dt__buf_reserve(out, n))
		return;
	memmove(out->data + at + n, out->data + at, out->len - at);
	memcpy(out->data + at, s, n);
	out->len += n;
	names_moved(&pr->nc, at, n);
}

/* The record the walk is at, in section s (1 to 3): the walk's checks, then String() of miekg's type for it. */
static const char *print_rr(struct printer *pr, int s)
{
	struct dt_buf *out = pr->out;
	const uint8_t *wire = pr->wire;
	size_t len = pr->len, start = pr->it.off, p;
	/* The additional section's title shows unless its only record is the OPT shown as the pseudosection:
	 * it goes out before each record until one that is not an OPT keeps it. */
	size_t title_at = out->len;
	bool title_new = false, opt_root = false;
	if (s == 3 && len - start >= 3 && wire[start] == 0 && dt__dns_get16(wire + start + 1) == DT__TYPE_OPT) {
		/* An OPT record as usual, owned by the root: the pseudosection, unless it is not the last. */
		opt_root = true;
		p = start + 1;
	} else if (!pr->titled[s]) {
		title_new = true;
		put_title(out, s);
	}
	size_t name_at = out->len;
	if (!opt_root) {
		const char *err = check_put_name(out, wire, len, start, &pr->nc, &p);
		if (err != NULL)
			return err;
	}
	struct dt__dns_rr rr;
	if (!dt__dns_rr_next_after_name(&pr->it, p, &rr))
		return pr->it.err;
	uint16_t type = rr.type, class = rr.class;
	uint32_t ttl = rr.ttl;
	size_t rdlen = rr.rdlength, rdstart = (size_t)(rr.rdata - wire), rdend = rdstart + rdlen;

	if (type == DT__TYPE_OPT) {
		if (s == 3) {
			/* Shown as the pseudosection (the last one), not here. */
			pr->opt = rr;
			pr->has_opt = true;
			cut_output(pr, title_new ? title_at : name_at, name_at);
			return NULL;
		}
		/* OPT.String() shows no owner. */
		cut_output(pr, name_at, name_at);
		pr->titled[s] = true;
		struct dt__dns_edns e;
		dt__dns_edns_of_rr(&e, &rr);
		put_opt(out, &e);
		dt__buf_putc(out, '\n');
		return NULL;
	}
	pr->titled[s] = true;

	if (dt__rrtype(type)->rdata == NULL) {
		/* RFC 3597: the rdata as sent, compression pointers and all. */
		if (dt__buf_reserve(out, 64)) {
			char *o = out->data + out->len;
			*o++ = '\t';
			o = dec_at(o, ttl);
			o = dec_at(LIT_AT(o, "\tCLASS"), class);
			o = dec_at(LIT_AT(o, "\tTYPE"), type);
			o = dec_at(LIT_AT(o, "\t\\# "), rdlen);
			*o++ = ' ';
			out->len = (size_t)(o - out->data);
		}
		put_hex(out, rr.rdata, rdlen);
		dt__buf_putc(out, '\n');
		return NULL;
	}
	switch (type) {
	case DT__TYPE_TSIG:
		insert_output(pr, name_at, "\n;; TSIG PSEUDOSECTION:\n; ", 26);
		break;
	case DT__TYPE_NULL:
	case DT__TYPE_TKEY:
		insert_output(pr, name_at, ";", 1);
		break;
	}
	put_rr_fields(out, ttl, class, type);
	/* miekg reads the rdata from the message cut at its end: so does the cursor, names included. */
	struct cur c = {wire, rdend, rdstart, &pr->nc};
	put_rdata(out, type, &c);
	dt__buf_putc(out, '\n');
	return NULL;
}

/* The question the walk is at. */
static const char *print_question(struct printer *pr)
{
	struct dt_buf *out = pr->out;
	size_t end;
	if (pr->it.count[0] == 0)
		put_title(out, 0);
	dt__buf_putc(out, ';');
	const char *err = check_put_name(out, pr->wire, pr->len, pr->it.off, &pr->nc, &end);
	if (err != NULL)
		return err;
	struct dt__dns_rr q;
	if (!dt__dns_rr_next_after_name(&pr->it, end, &q))
		return pr->it.err;
	if (dt__buf_reserve(out, 32)) {
		char *o = out->data + out->len;
		*o++ = '\t';
		o = class_at(o, q.class);
		o = type_at(LIT_AT(o, "\t "), q.type);
		*o++ = '\n';
		out->len = (size_t)(o - out->data);
	}
	return NULL;
}

/* The question and record sections, walked and printed. */
static const char *print_sections(struct printer *pr)
{
	while (dt__dns_rr_more(&pr->it)) {
		int s = pr->it.section;
		const char *err = s == DT__DNS_QUESTION ? print_question(pr) : print_rr(pr, s);
		if (err != NULL)
			return err;
	}
	if (pr->it.err != NULL)
		return pr->it.err; /* shorter than a header */
	/* Additional records that were all OPT: the title shows, with nothing under it, unless there was
	 * only the one. */
	if (!pr->titled[3] && pr->it.count[3] > 1)
		put_title(pr->out, 3);
	return NULL;
}

int dt__dns_msg_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err)
{
	size_t mark = out->len;
	struct printer pr;
	pr.out = out;
	pr.wire = wire;
	pr.len = len;
	dt__dns_rr_iter_init(&pr.it, wire, len);
	memset(pr.titled, 0, sizeof(pr.titled));
	pr.has_opt = false;
	memset(pr.nc.key, 0, sizeof(pr.nc.key));
	const char *e = print_sections(&pr);
	if (e != NULL) {
		out->len = mark;
		*err = e;
		return -1;
	}

	/* The header and the OPT pseudosection, printed after the sections... */
	size_t mid = out->len;
	unsigned rcode = dt__dns_header_rcode(dt__dns_get16(wire + 2));
	struct dt__dns_edns edns;
	if (pr.has_opt) {
		dt__dns_edns_of_rr(&edns, &pr.opt);
		rcode |= (unsigned)edns.ext_rcode << 4;
	}
	put_header(out, wire, pr.it.count, rcode);
	if (pr.has_opt) {
		put_opt(out, &edns);
		dt__buf_putc(out, '\n');
	}
	/* ...and moved in front of them: the sections are copied after the header and both moved back. */
	size_t body = mid - mark, head = out->len - mid;
	if (body > 0 && dt__buf_reserve(out, body)) {
		memcpy(out->data + out->len, out->data + mark, body);
		memmove(out->data + mark, out->data + mid, head + body);
	}
	return 0;
}

int dt__dns_question_text(struct dt_buf *out, const uint8_t *wire, size_t len)
{
	struct dt__dns_msg m;
	if (dt__dns_parse(&m, wire, len) != NULL || m.count[0] == 0)
		return -1;
	struct names nc;
	memset(nc.key, 0, sizeof(nc.key));
	dt__buf_putc(out, '"');
	put_name(out, wire, len, m.qname, &nc);
	dt__buf_lit(out, "\" ");
	put_class(out, m.qclass);
	dt__buf_putc(out, ' ');
	put_type(out, m.qtype);
	return 0;
}

int dt__dns_name_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err)
{
	size_t mark = out->len, next;
	struct names nc;
	memset(nc.key, 0, sizeof(nc.key));
	const char *e = check_put_name(out, wire, len, 0, &nc, &next);
	if (e != NULL) {
		out->len = mark;
		*err = e;
		return -1;
	}
	return 0;
}

/* ---- Pieces for field-by-field formats ---- */

size_t dt__dns_name_at_text(struct dt_buf *out, const uint8_t *wire, size_t len, size_t off)
{
	size_t mark = out->len, next;
	struct names nc;
	memset(nc.key, 0, sizeof(nc.key));
	if (check_put_name(out, wire, len, off, &nc, &next) != NULL) {
		out->len = mark;
		return 0;
	}
	return next;
}

static void put_unknown_rdata(struct dt_buf *out, const struct dt__dns_rr *rr)
{
	dt__buf_lit(out, "\\# ");
	put_dec(out, rr->rdlength);
	if (rr->rdlength > 0) {
		sp(out);
		put_hex(out, rr->rdata, rr->rdlength);
	}
}

void dt__dns_rdata_text(struct dt_buf *out, const uint8_t *wire, const struct dt__dns_rr *rr)
{
	if (rr->type == DT__TYPE_OPT || dt__rrtype(rr->type)->rdata == NULL) {
		put_unknown_rdata(out, rr);
		return;
	}
	struct names nc;
	memset(nc.key, 0, sizeof(nc.key));
	size_t rdstart = (size_t)(rr->rdata - wire);
	struct cur c = {wire, rdstart + rr->rdlength, rdstart, &nc};
	put_rdata(out, rr->type, &c);
}

void dt__dns_type_text(struct dt_buf *out, uint16_t type)
{
	put_type(out, type);
}

void dt__dns_class_text(struct dt_buf *out, uint16_t class)
{
	put_class(out, class);
}

const char *dt__dns_rcode_name(unsigned rcode)
{
	return rcode < 24 && rcode_names[rcode].n != 0 ? rcode_names[rcode].s : NULL;
}

const char *dt__dns_opcode_name(unsigned opcode)
{
	return opcode < 6 && opcode_names[opcode].n != 0 ? opcode_names[opcode].s : NULL;
}

const char *dt__dns_ede_name(unsigned code)
{
	return code < sizeof(ede_names) / sizeof(ede_names[0]) ? ede_names[code] : NULL;
}
