/* DNS wire messages as the Go dnstap tool prints them: miekg/dns 1.1.50's Msg.String(), its question and name
 * presentation, and its parse errors. A bounds-checked walker decides, as miekg's Unpack does, whether a
 * message parses and with which error; the printer then reads what it shows straight from the wire. */
#include "dnstext.h"

#include <stdio.h>

/*
 * Parsing, printing and speed.
 *
 * miekg's rules decide: the checks below replay them (every field of every record, the rdata of a record
 * read as if the message ended at its rdlength, trailing fields left out where miekg's generated unpackers
 * allow it, header counts larger than the records present tolerated when the message ends on a record
 * boundary, trailing bytes ignored) and give miekg's error text. check_msg() is the whole verdict;
 * dt__dns_msg_text() makes the same checks in the same order as it prints (print_sections()), drops its
 * output at the first error and returns that error, and prints the header and OPT pseudosection, which
 * depend on the records found, last, moving them to the front.
 *
 * Everything is read straight from the wire, with no allocation beyond the output buffer and no parser but
 * these checks: a byte is printed only once the checks have vouched for it. Names are decompressed as they
 * are checked and printed (check_put_name()), following pointers exactly as miekg does, so a pointer into the
 * header reads labels from the id and flags as it does in miekg; a name met again is copied from the output
 * (struct names). The rdata of a record is split into fields by the per-type layout the checks used
 * (rdata_spec()), through a cursor that ends where the rdata ends, as the message miekg reads it from does;
 * fields a short record leaves out read as zero, which is what miekg prints for them. Types miekg does not
 * know print as RFC 3597 hex of the bytes as sent.
 *
 * Output is written through a pointer into space reserved once per item (the *_at() helpers), numbers and
 * flags from small tables, and character-strings eight bytes at a time where nothing needs escaping.
 */

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
#define KA_ERR10(t) KA_ERR(t##0), KA_ERR(t##1), KA_ERR(t##2), KA_ERR(t##3), KA_ERR(t##4), \
	KA_ERR(t##5), KA_ERR(t##6), KA_ERR(t##7), KA_ERR(t##8), KA_ERR(t##9)
static const char *const keepalive_err[100] = {
	KA_ERR(0), KA_ERR(1), KA_ERR(2), KA_ERR(3), KA_ERR(4), KA_ERR(5), KA_ERR(6), KA_ERR(7), KA_ERR(8),
	KA_ERR(9), KA_ERR10(1), KA_ERR10(2), KA_ERR10(3), KA_ERR10(4), KA_ERR10(5), KA_ERR10(6),
	KA_ERR10(7), KA_ERR10(8), KA_ERR10(9),
};
static const char E_KEEPALIVE_LONG[] = "dns: length mismatch, want 0/2 but got 100 or more";

/* Maximum compression pointers miekg follows in one name: (255 + 1) / 2 - 2. */
#define MAX_POINTERS 126

enum {
	T_A = 1, T_NS = 2, T_MD = 3, T_MF = 4, T_CNAME = 5, T_SOA = 6, T_MB = 7, T_MG = 8, T_MR = 9,
	T_NULL = 10, T_PTR = 12, T_HINFO = 13, T_MINFO = 14, T_MX = 15, T_TXT = 16, T_RP = 17, T_AFSDB = 18,
	T_X25 = 19, T_RT = 21, T_NSAPPTR = 23, T_SIG = 24, T_KEY = 25, T_PX = 26, T_GPOS = 27, T_AAAA = 28,
	T_LOC = 29, T_EID = 31, T_NIMLOC = 32, T_SRV = 33, T_NAPTR = 35, T_KX = 36, T_CERT = 37, T_DNAME = 39,
	T_OPT = 41, T_APL = 42, T_DS = 43, T_SSHFP = 44, T_RRSIG = 46, T_NSEC = 47, T_DNSKEY = 48,
	T_DHCID = 49, T_NSEC3 = 50, T_NSEC3PARAM = 51, T_TLSA = 52, T_SMIMEA = 53, T_HIP = 55, T_NINFO = 56,
	T_RKEY = 57, T_TALINK = 58, T_CDS = 59, T_CDNSKEY = 60, T_OPENPGPKEY = 61, T_CSYNC = 62,
	T_ZONEMD = 63, T_SVCB = 64, T_HTTPS = 65, T_SPF = 99, T_UINFO = 100, T_UID = 101, T_GID = 102,
	T_NID = 104, T_L32 = 105, T_L64 = 106, T_LP = 107, T_EUI48 = 108, T_EUI64 = 109, T_TKEY = 249,
	T_TSIG = 250, T_ANY = 255, T_URI = 256, T_CAA = 257, T_AVC = 258, T_TA = 32768, T_DLV = 32769,
};

/* miekg's TypeToString: mnemonics for Type.String(); the rest print as TYPEnnn. */
struct tname {
	char s[11];
	uint8_t n;
};
#define TN(x) { x, sizeof(x) - 1 }
static const struct tname type_names[259] = {
	[0] = TN("None"), [1] = TN("A"), [2] = TN("NS"), [3] = TN("MD"), [4] = TN("MF"), [5] = TN("CNAME"),
	[6] = TN("SOA"), [7] = TN("MB"), [8] = TN("MG"), [9] = TN("MR"), [10] = TN("NULL"), [12] = TN("PTR"),
	[13] = TN("HINFO"), [14] = TN("MINFO"), [15] = TN("MX"), [16] = TN("TXT"), [17] = TN("RP"),
	[18] = TN("AFSDB"), [19] = TN("X25"), [20] = TN("ISDN"), [21] = TN("RT"), [23] = TN("NSAP-PTR"),
	[24] = TN("SIG"), [25] = TN("KEY"), [26] = TN("PX"), [27] = TN("GPOS"), [28] = TN("AAAA"),
	[29] = TN("LOC"), [30] = TN("NXT"), [31] = TN("EID"), [32] = TN("NIMLOC"), [33] = TN("SRV"),
	[34] = TN("ATMA"), [35] = TN("NAPTR"), [36] = TN("KX"), [37] = TN("CERT"), [39] = TN("DNAME"),
	[41] = TN("OPT"), [42] = TN("APL"), [43] = TN("DS"), [44] = TN("SSHFP"), [46] = TN("RRSIG"),
	[47] = TN("NSEC"), [48] = TN("DNSKEY"), [49] = TN("DHCID"), [50] = TN("NSEC3"),
	[51] = TN("NSEC3PARAM"), [52] = TN("TLSA"), [53] = TN("SMIMEA"), [55] = TN("HIP"), [56] = TN("NINFO"),
	[57] = TN("RKEY"), [58] = TN("TALINK"), [59] = TN("CDS"), [60] = TN("CDNSKEY"),
	[61] = TN("OPENPGPKEY"), [62] = TN("CSYNC"), [63] = TN("ZONEMD"), [64] = TN("SVCB"),
	[65] = TN("HTTPS"), [99] = TN("SPF"), [100] = TN("UINFO"), [101] = TN("UID"), [102] = TN("GID"),
	[103] = TN("UNSPEC"), [104] = TN("NID"), [105] = TN("L32"), [106] = TN("L64"), [107] = TN("LP"),
	[108] = TN("EUI48"), [109] = TN("EUI64"), [249] = TN("TKEY"), [250] = TN("TSIG"), [251] = TN("IXFR"),
	[252] = TN("AXFR"), [253] = TN("MAILB"), [254] = TN("MAILA"), [255] = TN("ANY"), [256] = TN("URI"),
	[257] = TN("CAA"), [258] = TN("AVC"),
};

static const struct tname rcode_names[24] = {
	TN("NOERROR"), TN("FORMERR"), TN("SERVFAIL"), TN("NXDOMAIN"), TN("NOTIMP"), TN("REFUSED"),
	TN("YXDOMAIN"), TN("YXRRSET"), TN("NXRRSET"), TN("NOTAUTH"), TN("NOTZONE"), [16] = TN("BADSIG"),
	TN("BADKEY"), TN("BADTIME"), TN("BADMODE"), TN("BADNAME"), TN("BADALG"), TN("BADTRUNC"),
	TN("BADCOOKIE"),
};

static const struct tname opcode_names[6] = {
	TN("QUERY"), TN("IQUERY"), TN("STATUS"), [4] = TN("NOTIFY"), TN("UPDATE"),
};

/* DNSSEC algorithms (AlgorithmToString) and digests (HashToString). */
static const char *const alg_names[17] = {
	[1] = "RSAMD5", [2] = "DH", [3] = "DSA", [5] = "RSASHA1", [6] = "DSA-NSEC3-SHA1",
	[7] = "RSASHA1-NSEC3-SHA1", [8] = "RSASHA256", [10] = "RSASHA512", [12] = "ECC-GOST",
	[13] = "ECDSAP256SHA256", [14] = "ECDSAP384SHA384", [15] = "ED25519", [16] = "ED448",
};

static const char *const hash_names[6] = { [1] = "SHA1", "SHA256", "GOST94", "SHA384", "SHA512" };

static const char *const cert_names[9] = {
	[1] = "PKIX", "SPKI", "PGP", "IPIX", "ISPKI", "IPGP", "ACPKIX", "IACPKIX",
};

static const char *const ede_names[25] = {
	"Other", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type", "Stale Answer",
	"Forged Answer", "DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired",
	"Signature Not Yet Valid", "DNSKEY Missing", "RRSIGs Missing", "No Zone Key Bit Set",
	"NSEC Missing", "Cached Error", "Not Ready", "Blocked", "Censored", "Filtered", "Prohibited",
	"Stale NXDOMAIN Answer", "Not Authoritative", "Not Supported", "No Reachable Authority",
	"Network Error", "Invalid Data",
};

static const char *const svcb_key_names[8] = {
	"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath",
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

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
	static const struct tname ta = TN("TA"), dlv = TN("DLV"), reserved = TN("Reserved");
	if (t < sizeof(type_names) / sizeof(type_names[0])) {
		if (type_names[t].n != 0)
			return tname_at(o, &type_names[t]);
	} else if (t == T_TA) {
		return tname_at(o, &ta);
	} else if (t == T_DLV) {
		return tname_at(o, &dlv);
	} else if (t == 65535) {
		return tname_at(o, &reserved);
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

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(a, prefix, 12) == 0;
}

/* Go's net.IP String() for 16 bytes: v4-mapped addresses as dotted quads, otherwise RFC 5952 with the
 * first longest run of two or more zero groups shortened to "::". */
static void put_ip6(struct dt_buf *out, const uint8_t *a)
{
	static const char digits[] = "0123456789abcdef";
	if (is_v4_mapped(a)) {
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
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	1, 0, 3, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
	1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Whether none of the 8 bytes in x needs an escape in a character-string (all printable, no '"' or '\\'). */
static bool txt_plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ 0x22 * ones, b = x ^ 0x5c * ones;
	uint64_t bad = (x - 0x20 * ones) & ~x;                /* a byte below ' ' */
	bad |= (x + ones) | x;                                /* a byte from 0x7f */
	bad |= (q - ones) & ~q;                               /* a '"' */
	bad |= (b - ones) & ~b;                               /* a '\\' */
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

/* ---- miekg's acceptance rules ---- */

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
		if (++ptrs > MAX_POINTERS)
			return E_PTRS;
		off = (size_t)(c & 0x3f) << 8 | msg[off];
	}
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

/* The longest text of a name check_name() accepts (254 label octets, each byte as \DDD at worst, and their
 * dots), with room for the 16-byte moves that copy a name already printed. */
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
 * check_name() and the printing of the name as miekg presents it, in one walk: prints the name at msg[off],
 * following compression pointers, and returns NULL with *next set as check_name() would, or check_name()'s
 * error (the caller drops the partial text). nc holds the names printed before; a name met again is copied
 * when the octet and pointer counts it adds keep within miekg's limits, and walked again otherwise.
 */
static const char *check_put_name(struct dt_buf *out, const uint8_t *msg, size_t len, size_t off,
				  struct names *nc, size_t *next)
{
	/* The commonest name of all: a pointer to one printed already. */
	if (len - off >= 2 && msg[off] >= 0xC0) {
		size_t to = (size_t)(msg[off] & 0x3f) << 8 | msg[off + 1];
		unsigned slot = name_slot(to);
		if (nc->key[slot] == to + 1 && to < len && 1 + nc->ptrs[slot] <= MAX_POINTERS &&
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
		return check_name(msg, len, off, next);
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
			return E_BUF;
		unsigned c = msg[off];
		if (c - 1 < 63) {
			const uint8_t *p = msg + off + 1;
			off += 1 + c;
			if (off > len)
				return E_BUF;
			budget -= (int)c + 1;
			if (budget <= 0)
				return E_LONG;
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
			return E_RDATA;
		if (off >= len)
			return E_BUF;
		if (ptrs == 0)
			ret = off + 1;
		if (++ptrs > MAX_POINTERS)
			return E_PTRS;
		off = (size_t)(c & 0x3f) << 8 | msg[off];
		if (off >= len || msg[off] - 1u >= 63)
			continue;
		unsigned slot = name_slot(off);
		if (nc->key[slot] == off + 1 && budget - nc->octets[slot] > 0 &&
		    ptrs + nc->ptrs[slot] <= MAX_POINTERS) {
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

/* Prints a name check_name() has accepted; returns the offset after it. */
static size_t put_name(struct dt_buf *out, const uint8_t *msg, size_t len, size_t off, struct names *nc)
{
	size_t next = len;
	check_put_name(out, msg, len, off, nc, &next);
	return next;
}

/*
 * The rdata layout of every type miekg has a struct for, in its unpack order. Fields:
 *   b w l 6 q  unsigned integers of 1, 2, 4, 6 and 8 bytes
 *   A Q        IPv4 / IPv6 address
 *   n          domain name          s  character-string
 *   H B X O    rest of the rdata (hex, base64, raw, octets)
 *   T          character-strings up to the end (TXT)
 *   xK yK zK   hex / base32 / base64 of the length held by field number K
 *   D          domain names up to the end (HIP)
 *   N P L E    NSEC type bitmap, SVCB parameters, APL prefixes, EDNS0 options
 *   |          the rdata may end here (miekg's generated code returns early when the message ends)
 * Types without an entry are RFC 3597 records for miekg: "H".
 */
static const char *rdata_spec(uint16_t type)
{
	switch (type) {
	case T_A:
		return "A";
	case T_AAAA:
		return "Q";
	case T_NS: case T_MD: case T_MF: case T_CNAME: case T_MB: case T_MG: case T_MR: case T_PTR:
	case T_NSAPPTR: case T_DNAME:
		return "n";
	case T_SOA:
		return "n|n|l|l|l|l|l";
	case T_NULL:
		return "X";
	case T_HINFO:
		return "s|s";
	case T_MINFO: case T_RP: case T_TALINK:
		return "n|n";
	case T_MX: case T_AFSDB: case T_RT: case T_KX: case T_LP:
		return "w|n";
	case T_TXT: case T_SPF: case T_AVC: case T_NINFO:
		return "T";
	case T_X25: case T_UINFO:
		return "s";
	case T_SIG: case T_RRSIG:
		return "w|b|b|l|l|l|w|n|B";
	case T_KEY: case T_DNSKEY: case T_CDNSKEY: case T_RKEY:
		return "w|b|b|B";
	case T_PX:
		return "w|n|n";
	case T_GPOS:
		return "s|s|s";
	case T_LOC:
		return "b|b|b|b|l|l|l";
	case T_EID: case T_NIMLOC:
		return "H";
	case T_SRV:
		return "w|w|w|n";
	case T_NAPTR:
		return "w|w|s|s|s|n";
	case T_CERT:
		return "w|w|b|B";
	case T_OPT:
		return "E";
	case T_APL:
		return "L";
	case T_DS: case T_CDS: case T_DLV: case T_TA:
		return "w|b|b|H";
	case T_SSHFP:
		return "b|b|H";
	case T_NSEC:
		return "n|N";
	case T_DHCID: case T_OPENPGPKEY:
		return "B";
	case T_NSEC3:
		return "b|b|w|b|x3b|y5N";
	case T_NSEC3PARAM:
		return "b|b|w|b|x3";
	case T_TLSA: case T_SMIMEA:
		return "b|b|b|H";
	case T_HIP:
		return "b|b|w|x0z2D";
	case T_CSYNC:
		return "l|w|N";
	case T_ZONEMD:
		return "l|b|b|H";
	case T_SVCB: case T_HTTPS:
		return "w|n|P";
	case T_UID: case T_GID:
		return "l";
	case T_NID: case T_L64:
		return "w|q";
	case T_L32:
		return "w|A";
	case T_EUI48:
		return "6";
	case T_EUI64:
		return "q";
	case T_TKEY:
		return "n|l|l|w|w|w|x5w|x7";
	case T_TSIG:
		return "n|6|w|w|x3w|w|w|x7";
	case T_ANY:
		return "";
	case T_URI:
		return "w|w|O";
	case T_CAA:
		return "b|s|O";
	}
	return NULL;
}

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
			if (is_v4_mapped(v + i))
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
		uint16_t key = get16(msg + off), n = get16(msg + off + 2);
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
		uint16_t family = get16(msg + off);
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
		switch (get16(v)) {
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
		uint16_t code = get16(msg + off), n = get16(msg + off + 2);
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

/* The checks of the unpack() of a type with layout spec (rdata_spec(), "H" for types miekg does not know)
 * on rdata msg[off:end], which miekg reads from a message cut at end. */
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
			val = get16(msg + off);
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

/* Where the walker found things, for the printing pass. */
struct shape {
	unsigned count[4]; /* records miekg keeps: questions, answers, authority, additional */
	size_t opt;        /* offset of the last OPT record of the additional section, 0 if none */
};

/* UnpackRRWithHeader()'s checks of the rdata msg[off:off+rdlength] of a record of the type with layout
 * spec. */
static const char *check_rr_rdata(uint16_t type, const char *spec, const uint8_t *msg, size_t off,
				  size_t rdlength)
{
	if (rdlength == 0)
		return NULL;
	/* The commonest types first, without going through their layout (see rdata_spec()). */
	size_t end = off + rdlength;
	const char *err;
	switch (type) {
	case T_A:
		return rdlength < 4 ? E_A : rdlength > 4 ? E_RDLENGTH : NULL;
	case T_AAAA:
		return rdlength < 16 ? E_AAAA : rdlength > 16 ? E_RDLENGTH : NULL;
	case T_NS: case T_CNAME: case T_PTR: case T_DNAME:
		err = check_name(msg, end, off, &off);
		return err != NULL ? err : off == end ? NULL : E_RDLENGTH;
	case T_SOA:
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
	case T_MX:
		if (rdlength < 2)
			return E_U16;
		off += 2;
		if (off == end)
			return NULL;
		err = check_name(msg, end, off, &off);
		return err != NULL ? err : off == end ? NULL : E_RDLENGTH;
	case T_TXT:
		while (off < end) {
			if (msg[off] > end - off - 1)
				return E_TXT;
			off += 1 + (size_t)msg[off];
		}
		return NULL;
	}
	return check_rdata(spec != NULL ? spec : "H", msg, off, end);
}

/* The record at *off, with the checks of unpackHeader() and UnpackRRWithHeader(); moves *off past it. */
static const char *check_rr(const uint8_t *msg, size_t len, size_t *off, uint16_t *type)
{
	size_t p;
	const char *err = check_name(msg, len, *off, &p);
	if (err != NULL)
		return err;
	if (len - p < 4)
		return E_U16;
	if (len - p < 8)
		return E_U32;
	if (len - p < 10)
		return E_U16;
	*type = get16(msg + p);
	uint16_t rdlength = get16(msg + p + 8);
	p += 10;
	if (rdlength > len - p)
		return E_HDRSIZE;
	err = check_rr_rdata(*type, rdata_spec(*type), msg, p, rdlength);
	if (err != NULL)
		return err;
	*off = p + rdlength;
	return NULL;
}

/* A question: miekg accepts a message that ends after the name (type and class 0) or inside the class. */
static const char *check_question(const uint8_t *msg, size_t len, size_t *off)
{
	size_t p;
	const char *err = check_name(msg, len, *off, &p);
	if (err != NULL)
		return err;
	if (p < len) {
		if (len - p < 2)
			return E_U16;
		p += 2;
		p = len - p < 2 ? len : p + 2;
	}
	*off = p;
	return NULL;
}

/* Msg.Unpack()'s verdict on the whole message: NULL if it parses, else its error text. */
static const char *check_msg(const uint8_t *msg, size_t len, struct shape *sh)
{
	memset(sh, 0, sizeof(*sh));
	if (len < 12)
		return E_U16;
	/* A message that is only a header has no sections, whatever its counts. */
	if (len == 12)
		return NULL;
	size_t off = 12;
	unsigned qd = get16(msg + 4);
	for (unsigned i = 0; i < qd; i++) {
		const char *err = check_question(msg, len, &off);
		if (err != NULL)
			return err;
		sh->count[0]++;
	}
	for (int s = 1; s <= 3; s++) {
		unsigned n = get16(msg + 4 + 2 * s);
		/* A message ending on a record boundary ends every section, whatever the header counts say. */
		for (unsigned i = 0; i < n && off < len; i++) {
			size_t start = off;
			uint16_t type;
			const char *err = check_rr(msg, len, &off, &type);
			if (err != NULL)
				return err;
			sh->count[s]++;
			if (s == 3 && type == T_OPT)
				sh->opt = start;
		}
	}
	return NULL;
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
		uint8_t addr[16] = { 0 };
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
			if (is_v4_mapped(addr))
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
			put_svcb_key(out, get16(v + i));
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
			put_dec(out, get16(v));
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
	case 8: {
		uint8_t a[16] = { 0 };
		uint16_t family = get16(v);
		dt__buf_lit(out, "\n; SUBNET: ");
		if (family == 1) {
			memcpy(a, v + 4, n - 4 > 4 ? 4 : n - 4);
			put_ip4(out, a);
		} else if (family == 2) {
			memcpy(a, v + 4, n - 4 > 16 ? 16 : n - 4);
			if (is_v4_mapped(a)) {
				put_ip4(out, a + 12);
			} else {
				dt__buf_putc(out, '[');
				put_ip6(out, a);
				dt__buf_putc(out, ']');
			}
		} else {
			dt__buf_lit(out, "0.0.0.0");
		}
		dt__buf_putc(out, '/');
		put_dec(out, v[2]);
		dt__buf_putc(out, '/');
		put_dec(out, v[3]);
		return;
	}
	case 10:
		dt__buf_lit(out, "\n; COOKIE: ");
		put_hex(out, v, n);
		return;
	case 11:
		dt__buf_lit(out, "\n; KEEPALIVE: use tcp keep-alive");
		if (n == 0 || get16(v) == 0) {
			dt__buf_lit(out, ", timeout omitted");
		} else {
			/* Go multiplies the uint16 by 100 in 16 bits. */
			dt__buf_lit(out, ", timeout ");
			put_dec(out, (uint16_t)(get16(v) * 100u));
			dt__buf_lit(out, "ms");
		}
		return;
	case 2:
		dt__buf_lit(out, "\n; UPDATE LEASE: ");
		put_dec(out, get32(v));
		sp(out);
		put_dec(out, n == 8 ? get32(v + 4) : 0);
		return;
	case 1:
		dt__buf_lit(out, "\n; LONG LIVED QUERIES: ");
		put_dec(out, get16(v));
		sp(out);
		put_dec(out, get16(v + 2));
		sp(out);
		put_dec(out, get16(v + 4));
		sp(out);
		put_dec(out, (uint64_t)get32(v + 6) << 32 | get32(v + 10));
		sp(out);
		put_dec(out, get32(v + 14));
		return;
	case 5:
	case 6:
	case 7:
		dt__buf_puts(out, code == 5 ? "\n; DNSSEC ALGORITHM UNDERSTOOD: " :
				  code == 6 ? "\n; DS HASH UNDERSTOOD: " : "\n; NSEC3 HASH UNDERSTOOD: ");
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
		uint16_t info = get16(v);
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
static void put_opt(struct dt_buf *out, uint16_t udp, uint32_t ttl, const uint8_t *rd, size_t rdlen)
{
	if (dt__buf_reserve(out, 96)) {
		char *o = LIT_AT(out->data + out->len, "\n;; OPT PSEUDOSECTION:\n; EDNS: version ");
		o = dec_at(o, ttl >> 16 & 0xff);
		if (ttl & 0x8000)
			o = LIT_AT(o, "; flags: do; udp: ");
		else
			o = LIT_AT(o, "; flags: ; udp: ");
		o = dec_at(o, udp);
		out->len = (size_t)(o - out->data);
	}
	for (size_t off = 0; rdlen - off >= 4;) {
		uint16_t code = get16(rd + off), n = get16(rd + off + 2);
		off += 4;
		if (n > rdlen - off)
			break;
		put_edns_option(out, code, rd + off, n);
		off += n;
	}
}

/* The rdata of a record miekg has a type for, read through the cursor. */
static void put_rdata(struct dt_buf *out, uint16_t type, struct cur *c)
{
	size_t n;
	const uint8_t *p;
	switch (type) {
	case T_A:
		if (c->len - c->off >= 4)
			put_ip4(out, c->p + c->off);
		return;
	case T_AAAA:
		if (c->len - c->off >= 16)
			put_ip6(out, c->p + c->off);
		return;
	case T_NS: case T_MD: case T_MF: case T_CNAME: case T_MB: case T_MG: case T_MR: case T_PTR:
	case T_DNAME: case T_NSAPPTR:
		c_name(out, c);
		return;
	case T_SOA:
		c_name(out, c);
		sp(out);
		c_name(out, c);
		for (int i = 0; i < 5; i++) {
			sp(out);
			c_dec(out, c, 4);
		}
		return;
	case T_MINFO: case T_RP: case T_TALINK:
		c_name(out, c);
		sp(out);
		c_name(out, c);
		return;
	case T_MX: case T_AFSDB: case T_RT: case T_KX: case T_LP:
		c_dec(out, c, 2);
		sp(out);
		c_name(out, c);
		return;
	case T_PX:
		c_dec(out, c, 2);
		sp(out);
		c_name(out, c);
		sp(out);
		c_name(out, c);
		return;
	case T_TXT: case T_SPF: case T_AVC: case T_NINFO:
		for (bool first = true; c_more(c); first = false) {
			if (!first)
				sp(out);
			c_txt_quoted(out, c);
		}
		return;
	case T_HINFO:
		c_txt_quoted(out, c);
		sp(out);
		c_txt_quoted(out, c);
		return;
	case T_UINFO:
		c_txt_quoted(out, c);
		return;
	case T_X25:
		c_txt(out, c);
		return;
	case T_GPOS:
		c_txt(out, c);
		sp(out);
		c_txt(out, c);
		sp(out);
		c_txt(out, c);
		return;
	case T_SRV:
		for (int i = 0; i < 3; i++) {
			c_dec(out, c, 2);
			sp(out);
		}
		c_name(out, c);
		return;
	case T_NAPTR:
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
	case T_CERT: {
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
	case T_DS: case T_CDS: case T_DLV: case T_TA:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case T_SSHFP:
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case T_KEY: case T_DNSKEY: case T_CDNSKEY: case T_RKEY:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	case T_SIG: case T_RRSIG:
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
	case T_NSEC:
		c_name(out, c);
		c_types(out, c);
		return;
	case T_NSEC3:
	case T_NSEC3PARAM:
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
		if (type == T_NSEC3PARAM)
			return;
		sp(out);
		p = c_bytes(c, (size_t)c_uint(c, 1), &n);
		put_base32hex(out, p, n);
		c_types(out, c);
		return;
	case T_TLSA:
	case T_SMIMEA:
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		if (type == T_TLSA) {
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
	case T_HIP: {
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
	case T_LOC:
		put_loc(out, c);
		return;
	case T_EID: case T_NIMLOC:
		p = c_rest(c, &n);
		put_hex_upper(out, p, n);
		return;
	case T_DHCID: case T_OPENPGPKEY:
		p = c_rest(c, &n);
		put_base64(out, p, n);
		return;
	case T_APL:
		put_apl(out, c);
		return;
	case T_CSYNC:
		c_dec(out, c, 4);
		sp(out);
		c_dec(out, c, 2);
		c_types(out, c);
		return;
	case T_ZONEMD:
		c_dec(out, c, 4);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		c_dec(out, c, 1);
		sp(out);
		p = c_rest(c, &n);
		put_hex(out, p, n);
		return;
	case T_SVCB: case T_HTTPS:
		put_svcb(out, c);
		return;
	case T_UID: case T_GID:
		c_dec(out, c, 4);
		return;
	case T_L32:
		c_dec(out, c, 2);
		if (c->len - c->off >= 4) {
			sp(out);
			put_ip4(out, c->p + c->off);
		}
		return;
	case T_NID: case T_L64: {
		static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
		const char *digits = type == T_NID ? lower : upper;
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
	case T_EUI48:
	case T_EUI64: {
		size_t bytes = type == T_EUI48 ? 6 : 8;
		uint64_t v = c_uint(c, bytes);
		for (size_t i = 0; i < bytes; i++) {
			uint8_t b = (uint8_t)(v >> (8 * (bytes - 1 - i)));
			if (i > 0)
				dt__buf_putc(out, '-');
			put_hex(out, &b, 1);
		}
		return;
	}
	case T_URI:
		c_dec(out, c, 2);
		sp(out);
		c_dec(out, c, 2);
		sp(out);
		p = c_rest(c, &n);
		put_octet_string(out, p, n);
		return;
	case T_CAA:
		c_dec(out, c, 1);
		sp(out);
		c_txt(out, c);
		sp(out);
		p = c_rest(c, &n);
		put_octet_string(out, p, n);
		return;
	case T_NULL:
		p = c_rest(c, &n);
		dt__buf_put(out, p, n);
		return;
	case T_TKEY:
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
	case T_TSIG:
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

static void put_header(struct dt_buf *out, const uint8_t *wire, const struct shape *sh, unsigned rcode)
{
	/* The flags by groups of four: qr aa tc rd (bits 15, 10, 9, 8) and ra z ad cd (bits 7 to 4). */
	struct flags {
		char s[15];
		uint8_t n;
	};
#define F(x) { x, sizeof(x) - 1 }
	static const struct flags hi[16] = {
		F(""), F(" rd"), F(" tc"), F(" tc rd"), F(" aa"), F(" aa rd"), F(" aa tc"), F(" aa tc rd"),
		F(" qr"), F(" qr rd"), F(" qr tc"), F(" qr tc rd"), F(" qr aa"), F(" qr aa rd"), F(" qr aa tc"),
		F(" qr aa tc rd"),
	};
	static const struct flags lo[16] = {
		F(""), F(" cd"), F(" ad"), F(" ad cd"), F(" z"), F(" z cd"), F(" z ad"), F(" z ad cd"), F(" ra"),
		F(" ra cd"), F(" ra ad"), F(" ra ad cd"), F(" ra z"), F(" ra z cd"), F(" ra z ad"), F(" ra z ad cd"),
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
	o = dec_at(LIT_AT(o, ", id: "), get16(wire));
	o = LIT_AT(o, "\n;; flags:");
	const struct flags *f = &hi[(wire[2] >> 4 & 8) | (wire[2] & 7)];
	memcpy(o, f->s, sizeof(f->s));
	o += f->n;
	f = &lo[wire[3] >> 4];
	memcpy(o, f->s, sizeof(f->s));
	o += f->n;
	o = dec_at(LIT_AT(o, "; QUERY: "), sh->count[0]);
	o = dec_at(LIT_AT(o, ", ANSWER: "), sh->count[1]);
	o = dec_at(LIT_AT(o, ", AUTHORITY: "), sh->count[2]);
	o = dec_at(LIT_AT(o, ", ADDITIONAL: "), sh->count[3]);
	*o++ = '\n';
	out->len = (size_t)(o - out->data);
}

/* Reads the question at *off with miekg's tolerance of a message ending inside it. */
static void question_fields(const uint8_t *wire, size_t len, size_t *off, uint16_t *qtype, uint16_t *qclass)
{
	size_t p = *off;
	*qtype = *qclass = 0;
	if (p < len) {
		*qtype = get16(wire + p);
		p += 2;
		if (len - p >= 2) {
			*qclass = get16(wire + p);
			p += 2;
		} else {
			p = len;
		}
	}
	*off = p;
}

/*
 * The printing pass: the sections of a message, checked as check_msg() checks them and printed as they are
 * checked, so that each name is walked once. The header and the OPT pseudosection, which come first but
 * depend on the records found, are printed after them and moved to the front.
 */
struct printer {
	struct dt_buf *out;
	const uint8_t *wire;
	size_t len;
	struct shape sh;
	bool titled[4]; /* the section's title is out */
	struct names nc;
};

static void put_title(struct dt_buf *out, int s)
{
	static const struct {
		char s[26];
		uint8_t n;
	} titles[4] = {
#define T(x) { x, sizeof(x) - 1 }
		T("\n;; QUESTION SECTION:\n"), T("\n;; ANSWER SECTION:\n"), T("\n;; AUTHORITY SECTION:\n"),
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

/* The record at *off in section s (1 to 3): check_rr()'s checks, then String() of miekg's type for it. */
static const char *print_rr(struct printer *pr, int s, size_t *off)
{
	struct dt_buf *out = pr->out;
	const uint8_t *wire = pr->wire;
	size_t len = pr->len, start = *off, p;
	/* The additional section's title shows unless its only record is the OPT shown as the pseudosection:
	 * it goes out before each record until one that is not an OPT keeps it. */
	size_t title_at = out->len;
	bool title_new = false, opt_root = false;
	const char *err;
	if (s == 3 && len - start >= 3 && wire[start] == 0 && get16(wire + start + 1) == T_OPT) {
		/* An OPT record as usual, owned by the root: the pseudosection, unless it is not the last. */
		opt_root = true;
		p = start + 1;
	} else if (!pr->titled[s]) {
		title_new = true;
		put_title(out, s);
	}
	size_t name_at = out->len;
	if (!opt_root) {
		err = check_put_name(out, wire, len, start, &pr->nc, &p);
		if (err != NULL)
			return err;
	}
	if (len - p < 4)
		return E_U16;
	if (len - p < 8)
		return E_U32;
	if (len - p < 10)
		return E_U16;
	uint16_t type = get16(wire + p), class = get16(wire + p + 2);
	uint32_t ttl = get32(wire + p + 4);
	size_t rdlen = get16(wire + p + 8), rdstart = p + 10, rdend = rdstart + rdlen;
	if (rdlen > len - rdstart)
		return E_HDRSIZE;
	const char *spec = rdata_spec(type);
	err = check_rr_rdata(type, spec, wire, rdstart, rdlen);
	if (err != NULL)
		return err;
	*off = rdend;
	pr->sh.count[s]++;

	if (type == T_OPT) {
		if (s == 3) {
			/* Shown as the pseudosection (the last one), not here. */
			pr->sh.opt = start;
			cut_output(pr, title_new ? title_at : name_at, name_at);
			return NULL;
		}
		/* OPT.String() shows no owner. */
		cut_output(pr, name_at, name_at);
		pr->titled[s] = true;
		put_opt(out, class, ttl, wire + rdstart, rdlen);
		dt__buf_putc(out, '\n');
		return NULL;
	}
	pr->titled[s] = true;

	if (spec == NULL) {
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
		put_hex(out, wire + rdstart, rdlen);
		dt__buf_putc(out, '\n');
		return NULL;
	}
	switch (type) {
	case T_TSIG:
		insert_output(pr, name_at, "\n;; TSIG PSEUDOSECTION:\n; ", 26);
		break;
	case T_NULL:
	case T_TKEY:
		insert_output(pr, name_at, ";", 1);
		break;
	}
	put_rr_fields(out, ttl, class, type);
	/* miekg reads the rdata from the message cut at its end: so does the cursor, names included. */
	struct cur c = { wire, rdend, rdstart, &pr->nc };
	put_rdata(out, type, &c);
	dt__buf_putc(out, '\n');
	return NULL;
}

/* The question and record sections, checked and printed; fills pr->sh. */
static const char *print_sections(struct printer *pr)
{
	struct dt_buf *out = pr->out;
	const uint8_t *wire = pr->wire;
	size_t len = pr->len;
	if (len < 12)
		return E_U16;
	/* A message that is only a header has no sections, whatever its counts. */
	if (len == 12)
		return NULL;
	size_t off = 12;
	unsigned qd = get16(wire + 4);
	if (qd > 0)
		put_title(out, 0);
	for (unsigned i = 0; i < qd; i++) {
		dt__buf_putc(out, ';');
		const char *err = check_put_name(out, wire, len, off, &pr->nc, &off);
		if (err != NULL)
			return err;
		/* check_question()'s tolerance of a message ending inside the question. */
		if (off < len && len - off < 2)
			return E_U16;
		uint16_t qtype, qclass;
		question_fields(wire, len, &off, &qtype, &qclass);
		if (dt__buf_reserve(out, 32)) {
			char *o = out->data + out->len;
			*o++ = '\t';
			o = class_at(o, qclass);
			o = type_at(LIT_AT(o, "\t "), qtype);
			*o++ = '\n';
			out->len = (size_t)(o - out->data);
		}
		pr->sh.count[0]++;
	}
	for (int s = 1; s <= 3; s++) {
		unsigned n = get16(wire + 4 + 2 * s);
		/* A message ending on a record boundary ends every section, whatever the header counts say. */
		for (unsigned i = 0; i < n && off < len; i++) {
			const char *err = print_rr(pr, s, &off);
			if (err != NULL)
				return err;
		}
	}
	/* Additional records that were all OPT: the title shows, with nothing under it, unless there was
	 * only the one. */
	if (!pr->titled[3] && pr->sh.count[3] > 1)
		put_title(out, 3);
	return NULL;
}

int dt__dns_msg_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err)
{
	size_t mark = out->len;
	struct printer pr;
	pr.out = out;
	pr.wire = wire;
	pr.len = len;
	memset(&pr.sh, 0, sizeof(pr.sh));
	memset(pr.titled, 0, sizeof(pr.titled));
	memset(pr.nc.key, 0, sizeof(pr.nc.key));
	const char *e = print_sections(&pr);
	if (e != NULL) {
		out->len = mark;
		*err = e;
		return -1;
	}

	/* The header and the OPT pseudosection, printed after the sections... */
	size_t mid = out->len;
	unsigned rcode = wire[3] & 15;
	size_t opt = 0;
	if (pr.sh.opt != 0) {
		size_t next;
		check_name(wire, len, pr.sh.opt, &next);
		opt = next;
		rcode |= (get32(wire + opt + 4) >> 24) << 4;
	}
	put_header(out, wire, &pr.sh, rcode);
	if (opt != 0) {
		put_opt(out, get16(wire + opt + 2), get32(wire + opt + 4), wire + opt + 10, get16(wire + opt + 8));
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
	struct shape sh;
	if (check_msg(wire, len, &sh) != NULL || sh.count[0] == 0)
		return -1;
	uint16_t qtype, qclass;
	struct names nc;
	memset(nc.key, 0, sizeof(nc.key));
	dt__buf_putc(out, '"');
	size_t off = put_name(out, wire, len, 12, &nc);
	question_fields(wire, len, &off, &qtype, &qclass);
	dt__buf_lit(out, "\" ");
	put_class(out, qclass);
	dt__buf_putc(out, ' ');
	put_type(out, qtype);
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
