/* DNS wire messages as the Go dnstap tool prints them: miekg/dns 1.1.50's Msg.String(), its question and name
 * presentation, and its parse errors. A bounds-checked walker decides, as miekg's Unpack does, whether a
 * message parses and with which error; ldns then parses the records and we print them in miekg's format. */
#include "dnstext.h"

#include <ldns/ldns.h>
#include <stdio.h>

/*
 * Parsing, and where miekg/dns and ldns disagree about malformed input.
 *
 * miekg's rules decide: check_msg() replays them (every field of every record, the rdata of a record read
 * as if the message ended at its rdlength, trailing fields left out where miekg's generated unpackers
 * allow it, header counts larger than the records present tolerated when the message ends on a record
 * boundary, trailing bytes ignored) and gives miekg's error text. Only messages it accepts reach ldns,
 * record by record through ldns_wire2rr() rather than ldns_wire2pkt(): the latter rejects the short counts
 * miekg tolerates, keeps only the last OPT record, drops the records that follow a TSIG record and does
 * not say where each record starts.
 *
 * ldns splits rdata into fields by its own descriptors; joined back together (names uncompressed) they
 * are the bytes miekg's fields are read from. Three kinds of record are read around ldns_wire2rr():
 *  - types miekg does not know print as RFC 3597 hex of the bytes as sent (compression pointers and
 *    all), so only their owner goes through ldns, and ldns's checks of rdata it does know (WKS, IPSECKEY,
 *    ...) cannot reject what miekg accepts;
 *  - NSAP-PTR rdata is a name for miekg but a character-string for ldns: ldns_wire2dname() reads it;
 *  - ldns reads some length octets together with the data they count (NSEC3 salt and hash, TKEY key,
 *    TSIG MAC, HIP lengths), so it rejects rdata that stops right after them, which miekg accepts: those
 *    are rebuilt from the wire by flatten_wire(), with ldns_wire2dname() for the names.
 * What remains: a compression pointer to offset 0 makes miekg read a label from the message id, and
 * ldns refuses it; we return -1 with ldns's error text where Go prints the message.
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
static const char E_NOMEM[] = "out of memory";

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
static const char *const type_names[259] = {
	[0] = "None", [1] = "A", [2] = "NS", [3] = "MD", [4] = "MF", [5] = "CNAME", [6] = "SOA", [7] = "MB",
	[8] = "MG", [9] = "MR", [10] = "NULL", [12] = "PTR", [13] = "HINFO", [14] = "MINFO", [15] = "MX",
	[16] = "TXT", [17] = "RP", [18] = "AFSDB", [19] = "X25", [20] = "ISDN", [21] = "RT",
	[23] = "NSAP-PTR", [24] = "SIG", [25] = "KEY", [26] = "PX", [27] = "GPOS", [28] = "AAAA",
	[29] = "LOC", [30] = "NXT", [31] = "EID", [32] = "NIMLOC", [33] = "SRV", [34] = "ATMA",
	[35] = "NAPTR", [36] = "KX", [37] = "CERT", [39] = "DNAME", [41] = "OPT", [42] = "APL", [43] = "DS",
	[44] = "SSHFP", [46] = "RRSIG", [47] = "NSEC", [48] = "DNSKEY", [49] = "DHCID", [50] = "NSEC3",
	[51] = "NSEC3PARAM", [52] = "TLSA", [53] = "SMIMEA", [55] = "HIP", [56] = "NINFO", [57] = "RKEY",
	[58] = "TALINK", [59] = "CDS", [60] = "CDNSKEY", [61] = "OPENPGPKEY", [62] = "CSYNC",
	[63] = "ZONEMD", [64] = "SVCB", [65] = "HTTPS", [99] = "SPF", [100] = "UINFO", [101] = "UID",
	[102] = "GID", [103] = "UNSPEC", [104] = "NID", [105] = "L32", [106] = "L64", [107] = "LP",
	[108] = "EUI48", [109] = "EUI64", [249] = "TKEY", [250] = "TSIG", [251] = "IXFR", [252] = "AXFR",
	[253] = "MAILB", [254] = "MAILA", [255] = "ANY", [256] = "URI", [257] = "CAA", [258] = "AVC",
};

static const char *const rcode_names[24] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
	"NOTAUTH", "NOTZONE", [16] = "BADSIG", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG",
	"BADTRUNC", "BADCOOKIE",
};

static const char *const opcode_names[6] = { "QUERY", "IQUERY", "STATUS", [4] = "NOTIFY", "UPDATE" };

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

static void put_type(struct dt_buf *out, uint16_t t)
{
	const char *s = NULL;
	if (t < sizeof(type_names) / sizeof(type_names[0]))
		s = type_names[t];
	else if (t == T_TA)
		s = "TA";
	else if (t == T_DLV)
		s = "DLV";
	else if (t == 65535)
		s = "Reserved";
	if (s != NULL) {
		dt__buf_puts(out, s);
	} else {
		dt__buf_lit(out, "TYPE");
		dt__buf_put_u64(out, t);
	}
}

/* Class.String(): ANY is also a type mnemonic, so miekg prints it as CLASS255. */
static void put_class(struct dt_buf *out, uint16_t c)
{
	switch (c) {
	case 1:
		dt__buf_lit(out, "IN");
		return;
	case 2:
		dt__buf_lit(out, "CS");
		return;
	case 3:
		dt__buf_lit(out, "CH");
		return;
	case 4:
		dt__buf_lit(out, "HS");
		return;
	case 254:
		dt__buf_lit(out, "NONE");
		return;
	}
	dt__buf_lit(out, "CLASS");
	dt__buf_put_u64(out, c);
}

static void put_name_or_num(struct dt_buf *out, const char *const *names, size_t n, unsigned v)
{
	if (v < n && names[v] != NULL)
		dt__buf_puts(out, names[v]);
	else
		dt__buf_put_u64(out, v);
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

/* miekg's \DDD escape for unprintable bytes. */
static void put_ddd(struct dt_buf *out, uint8_t b)
{
	char e[4] = { '\\', (char)('0' + b / 100), (char)('0' + b / 10 % 10), (char)('0' + b % 10) };
	dt__buf_put(out, e, 4);
}

static void put_hex_upper(struct dt_buf *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	if (!dt__buf_reserve(out, 2 * n))
		return;
	char *o = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	out->len += 2 * n;
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

static void put_ip4(struct dt_buf *out, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			dt__buf_putc(out, '.');
		dt__buf_put_u64(out, a[i]);
	}
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
	int zs = -1, ze = -1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && a[2 * j] == 0 && a[2 * j + 1] == 0)
			j++;
		if (j - i >= 2 && j - i > ze - zs) {
			zs = i;
			ze = j;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == zs) {
			dt__buf_lit(out, "::");
			i = ze - 1;
			continue;
		}
		if (i > 0 && i != ze)
			dt__buf_putc(out, ':');
		unsigned g = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		bool started = false;
		for (int s = 12; s >= 0; s -= 4) {
			unsigned d = g >> s & 15;
			if (d != 0 || started || s == 0) {
				dt__buf_putc(out, digits[d]);
				started = true;
			}
		}
	}
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
	dt__buf_put_u64_pad(out, y, 4);
	dt__buf_put_u64_pad(out, m, 2);
	dt__buf_put_u64_pad(out, d, 2);
	dt__buf_put_u64_pad(out, secs / 3600, 2);
	dt__buf_put_u64_pad(out, secs / 60 % 60, 2);
	dt__buf_put_u64_pad(out, secs % 60, 2);
}

/* A character-string as miekg's unpackString() leaves it: quotes and backslashes escaped, unprintable
 * bytes as \DDD. TXT-like records print it quoted, X25/GPOS/NAPTR/CAA tags as is. */
static void put_txt_bytes(struct dt_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b == '"' || b == '\\') {
			dt__buf_putc(out, '\\');
			dt__buf_putc(out, (char)b);
		} else if (b < ' ' || b > '~') {
			put_ddd(out, b);
		} else {
			dt__buf_putc(out, (char)b);
		}
	}
}

/* miekg's sprintTxtOctet() on raw octets (CAA values, URI targets): it reads backslash escapes in the raw
 * bytes as if they were presentation format, keeps "\." as is, and drops a final lone backslash. */
static void put_octet_string(struct dt_buf *out, const uint8_t *s, size_t n)
{
	dt__buf_putc(out, '"');
	for (size_t i = 0; i < n;) {
		if (i + 1 < n && s[i] == '\\' && s[i + 1] == '.') {
			dt__buf_lit(out, "\\.");
			i += 2;
			continue;
		}
		uint8_t b = s[i];
		size_t adv = 1;
		if (b == '\\') {
			size_t left = n - i;
			if (left == 1) {
				i++;
				continue;
			}
			if (left >= 4 && s[i + 1] >= '0' && s[i + 1] <= '9' && s[i + 2] >= '0' && s[i + 2] <= '9' &&
			    s[i + 3] >= '0' && s[i + 3] <= '9') {
				b = (uint8_t)((s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0'));
				adv = 4;
			} else {
				b = s[i + 1];
				adv = 2;
			}
		}
		put_txt_bytes(out, &b, 1);
		i += adv;
	}
	dt__buf_putc(out, '"');
}

/* Label bytes miekg escapes with a backslash in names. */
static bool label_special(uint8_t b)
{
	switch (b) {
	case '.':
	case ' ':
	case '\'':
	case '@':
	case ';':
	case '(':
	case ')':
	case '"':
	case '\\':
		return true;
	}
	return false;
}

/* Prints the name at msg[off] (already validated) as miekg presents it, following compression pointers,
 * and returns the offset just past it in the record. Also used on ldns's uncompressed names. */
static size_t put_name(struct dt_buf *out, const uint8_t *msg, size_t len, size_t off)
{
	size_t next = 0;
	int ptrs = 0;
	bool empty = true;
	while (off < len) {
		uint8_t c = msg[off++];
		if (c == 0)
			break;
		if ((c & 0xC0) == 0xC0) {
			/* The pointer limit only guards against a name nobody validated. */
			if (off >= len || ptrs == MAX_POINTERS)
				break;
			if (ptrs++ == 0)
				next = off + 1;
			off = (size_t)(c & 0x3f) << 8 | msg[off];
			continue;
		}
		if (c > len - off)
			break;
		/* Reserve the worst case (\DDD per byte) once per label. */
		if (!dt__buf_reserve(out, 4 * (size_t)c + 1))
			return ptrs > 0 ? next : off;
		for (const uint8_t *p = msg + off, *e = p + c; p < e; p++) {
			uint8_t b = *p;
			if (label_special(b)) {
				out->data[out->len++] = '\\';
				out->data[out->len++] = (char)b;
			} else if (b < ' ' || b > '~') {
				put_ddd(out, b);
			} else {
				out->data[out->len++] = (char)b;
			}
		}
		out->data[out->len++] = '.';
		off += c;
		empty = false;
	}
	if (empty)
		dt__buf_putc(out, '.');
	return ptrs > 0 ? next : off;
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
		unsigned c = msg[off++];
		switch (c & 0xC0) {
		case 0x00:
			if (c == 0) {
				*next = ptrs > 0 ? ret : off;
				return NULL;
			}
			if (c > len - off)
				return E_BUF;
			budget -= (int)c + 1;
			if (budget <= 0)
				return E_LONG;
			off += c;
			break;
		case 0xC0:
			if (off >= len)
				return E_BUF;
			if (ptrs == 0)
				ret = off + 1;
			if (++ptrs > MAX_POINTERS)
				return E_PTRS;
			off = (size_t)(c & 0x3f) << 8 | msg[off];
			break;
		default:
			return E_RDATA;
		}
	}
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

/* The checks of the type's unpack() on rdata msg[off:end], which miekg reads from a message cut at end. */
static const char *check_rdata(uint16_t type, const uint8_t *msg, size_t off, size_t end)
{
	const char *spec = rdata_spec(type);
	uint64_t v[16];
	unsigned nf = 0;
	const char *err = NULL;
	if (spec == NULL)
		spec = "H";
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
	if (rdlength > 0) {
		err = check_rdata(*type, msg, p, p + rdlength);
		if (err != NULL)
			return err;
	}
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

/* A cursor over a record's rdata. Reads past the end give zero values, which is what miekg prints for the
 * fields a short record leaves out. */
struct cur {
	const uint8_t *p;
	size_t len, off;
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
		c->off = put_name(out, c->p, c->len, c->off);
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
	dt__buf_putc(out, '"');
	c_txt(out, c);
	dt__buf_putc(out, '"');
}

static void c_dec(struct dt_buf *out, struct cur *c, size_t n)
{
	dt__buf_put_u64(out, c_uint(c, n));
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

/* RR_Header.String(): "name\tttl\tCLASS\tTYPE\t". */
static void put_rr_header(struct dt_buf *out, const uint8_t *name, size_t name_len, uint32_t ttl,
			  uint16_t class, uint16_t type)
{
	put_name(out, name, name_len, 0);
	dt__buf_putc(out, '\t');
	dt__buf_put_u64(out, ttl);
	dt__buf_putc(out, '\t');
	put_class(out, class);
	dt__buf_putc(out, '\t');
	put_type(out, type);
	dt__buf_putc(out, '\t');
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
		dt__buf_put_u64(out, m);
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
		dt__buf_put_u64(out, prefix);
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
		dt__buf_put_u64(out, key);
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
			dt__buf_put_u64(out, get16(v));
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
		dt__buf_put_hex(out, v, n);
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
		dt__buf_put_u64(out, v[2]);
		dt__buf_putc(out, '/');
		dt__buf_put_u64(out, v[3]);
		return;
	}
	case 10:
		dt__buf_lit(out, "\n; COOKIE: ");
		dt__buf_put_hex(out, v, n);
		return;
	case 11:
		dt__buf_lit(out, "\n; KEEPALIVE: use tcp keep-alive");
		if (n == 0 || get16(v) == 0) {
			dt__buf_lit(out, ", timeout omitted");
		} else {
			/* Go multiplies the uint16 by 100 in 16 bits. */
			dt__buf_lit(out, ", timeout ");
			dt__buf_put_u64(out, (uint16_t)(get16(v) * 100u));
			dt__buf_lit(out, "ms");
		}
		return;
	case 2:
		dt__buf_lit(out, "\n; UPDATE LEASE: ");
		dt__buf_put_u64(out, get32(v));
		sp(out);
		dt__buf_put_u64(out, n == 8 ? get32(v + 4) : 0);
		return;
	case 1:
		dt__buf_lit(out, "\n; LONG LIVED QUERIES: ");
		dt__buf_put_u64(out, get16(v));
		sp(out);
		dt__buf_put_u64(out, get16(v + 2));
		sp(out);
		dt__buf_put_u64(out, get16(v + 4));
		sp(out);
		dt__buf_put_u64(out, (uint64_t)get32(v + 6) << 32 | get32(v + 10));
		sp(out);
		dt__buf_put_u64(out, get32(v + 14));
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
		dt__buf_put_u64(out, info);
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
	dt__buf_put_u64(out, code);
	dt__buf_lit(out, ":0x");
	dt__buf_put_hex(out, v, n);
}

/* OPT.String(): the pseudosection text, from the record's class (UDP size), TTL (version, DO) and rdata. */
static void put_opt(struct dt_buf *out, uint16_t udp, uint32_t ttl, const uint8_t *rd, size_t rdlen)
{
	dt__buf_lit(out, "\n;; OPT PSEUDOSECTION:\n; EDNS: version ");
	dt__buf_put_u64(out, ttl >> 16 & 0xff);
	if (ttl & 0x8000)
		dt__buf_lit(out, "; flags: do; udp: ");
	else
		dt__buf_lit(out, "; flags: ; udp: ");
	dt__buf_put_u64(out, udp);
	for (size_t off = 0; rdlen - off >= 4;) {
		uint16_t code = get16(rd + off), n = get16(rd + off + 2);
		off += 4;
		if (n > rdlen - off)
			break;
		put_edns_option(out, code, rd + off, n);
		off += n;
	}
}

/* The rdata of a record miekg has a type for, from ldns's fields joined back together (names in them are
 * uncompressed, as miekg shows them). */
static void put_rdata(struct dt_buf *out, uint16_t type, struct cur *c)
{
	size_t n;
	const uint8_t *p;
	switch (type) {
	case T_A:
		if (c->len >= 4)
			put_ip4(out, c->p);
		return;
	case T_AAAA:
		if (c->len >= 16)
			put_ip6(out, c->p);
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
			dt__buf_put_hex(out, p, n);
			return;
		}
		/* miekg splits SMIMEA's hex into 1024-character chunks (leaving an empty last chunk when the
		 * length is a multiple of 1024). */
		for (size_t i = 0; i < n; i += 512) {
			if (i > 0)
				sp(out);
			dt__buf_put_hex(out, p + i, n - i > 512 ? 512 : n - i);
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
		dt__buf_put_hex(out, p, n);
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
		dt__buf_put_hex(out, p, n);
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
			dt__buf_put_hex(out, &b, 1);
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
		dt__buf_put_u64(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		dt__buf_put_hex(out, p, n);
		sp(out);
		n = (size_t)c_uint(c, 2);
		dt__buf_put_u64(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		dt__buf_put_hex(out, p, n);
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
		dt__buf_put_u64(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		put_hex_upper(out, p, n);
		for (int i = 0; i < 2; i++) {
			sp(out);
			c_dec(out, c, 2);
		}
		sp(out);
		n = (size_t)c_uint(c, 2);
		dt__buf_put_u64(out, n);
		sp(out);
		p = c_bytes(c, n, &n);
		dt__buf_put_hex(out, p, n);
		return;
	}
}

/* Scratch space and state for one dt__dns_msg_text() call. */
struct printer {
	struct dt_buf *out;
	const uint8_t *wire;
	size_t len;
	struct dt_buf flat; /* a record's rdata rebuilt from ldns's fields */
	const char *err;
};

/* The rdata at wire[off:end] in the joined-fields form put_rdata() reads, built from the wire by the type's
 * layout: fixed fields copied, names uncompressed by ldns (reading the message cut at end, as miekg does). */
static bool flatten_wire(struct printer *pr, uint16_t type, size_t off, size_t end)
{
	const uint8_t *wire = pr->wire;
	uint64_t v[16];
	unsigned nf = 0;
	for (const char *s = rdata_spec(type); *s != '\0' && off < end; s++) {
		size_t n = 0;
		uint64_t val = 0;
		switch (*s) {
		case '|':
			continue;
		case 'b':
			val = wire[off];
			n = 1;
			break;
		case 'w':
			val = get16(wire + off);
			n = 2;
			break;
		case 'l': case 'A':
			n = 4;
			break;
		case '6':
			n = 6;
			break;
		case 'q':
			n = 8;
			break;
		case 'Q':
			n = 16;
			break;
		case 's':
			n = 1 + (size_t)wire[off];
			break;
		case 'x': case 'y': case 'z':
			n = (size_t)v[*++s - '0'];
			break;
		case 'n':
		case 'D':
			do {
				ldns_rdf *name = NULL;
				ldns_status st = ldns_wire2dname(&name, wire, end, &off);
				if (st != LDNS_STATUS_OK) {
					pr->err = ldns_get_errorstr_by_id(st);
					return false;
				}
				dt__buf_put(&pr->flat, ldns_rdf_data(name), ldns_rdf_size(name));
				ldns_rdf_deep_free(name);
			} while (*s == 'D' && off < end);
			v[nf++] = 0;
			continue;
		default:
			n = end - off;
			break;
		}
		if (n > end - off)
			n = end - off;
		dt__buf_put(&pr->flat, wire + off, n);
		off += n;
		v[nf++] = val;
	}
	return true;
}

/* Prints one record (String() of miekg's type) starting at *off and moves *off past it. */
static bool print_rr(struct printer *pr, size_t *off, ldns_pkt_section section)
{
	struct dt_buf *out = pr->out;
	const uint8_t *wire = pr->wire;
	size_t start = *off, pos = start, hdr;
	/* The fixed header fields and the rdata bounds; check_msg() has vouched for them. */
	check_name(wire, pr->len, pos, &hdr);
	uint16_t type = get16(wire + hdr), class = get16(wire + hdr + 2);
	uint32_t ttl = get32(wire + hdr + 4);
	size_t rdstart = hdr + 10, rdlen = get16(wire + hdr + 8);
	*off = rdstart + rdlen;

	const char *spec = rdata_spec(type);
	if (spec == NULL || type == T_NSAPPTR) {
		/* Printed from the wire: RFC 3597 hex shows the bytes as sent, and ldns would read NSAP-PTR's
		 * name as a character-string. ldns still parses the names. */
		ldns_rdf *owner = NULL;
		ldns_status st = ldns_wire2dname(&owner, wire, pr->len, &pos);
		if (st != LDNS_STATUS_OK) {
			pr->err = ldns_get_errorstr_by_id(st);
			return false;
		}
		if (spec == NULL) {
			put_name(out, ldns_rdf_data(owner), ldns_rdf_size(owner), 0);
			dt__buf_putc(out, '\t');
			dt__buf_put_u64(out, ttl);
			dt__buf_lit(out, "\tCLASS");
			dt__buf_put_u64(out, class);
			dt__buf_lit(out, "\tTYPE");
			dt__buf_put_u64(out, type);
			dt__buf_lit(out, "\t\\# ");
			dt__buf_put_u64(out, rdlen);
			sp(out);
			dt__buf_put_hex(out, wire + rdstart, rdlen);
			ldns_rdf_deep_free(owner);
			return true;
		}
		put_rr_header(out, ldns_rdf_data(owner), ldns_rdf_size(owner), ttl, class, type);
		ldns_rdf_deep_free(owner);
		if (rdlen > 0) {
			ldns_rdf *target = NULL;
			size_t tpos = rdstart;
			st = ldns_wire2dname(&target, wire, rdstart + rdlen, &tpos);
			if (st != LDNS_STATUS_OK) {
				pr->err = ldns_get_errorstr_by_id(st);
				return false;
			}
			put_name(out, ldns_rdf_data(target), ldns_rdf_size(target), 0);
			ldns_rdf_deep_free(target);
		}
		return true;
	}

	ldns_rr *rr = NULL;
	ldns_status st = ldns_wire2rr(&rr, wire, pr->len, &pos, section);
	pr->flat.len = 0;
	if (st == LDNS_STATUS_OK) {
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			dt__buf_put(&pr->flat, ldns_rdf_data(f), ldns_rdf_size(f));
		}
	} else {
		/* ldns reads some length octets together with the data they count and rejects rdata that
		 * stops right after them, which miekg accepts: rebuild those from the wire instead. */
		ldns_rdf *name = NULL;
		pos = start;
		st = ldns_wire2dname(&name, wire, pr->len, &pos);
		if (st != LDNS_STATUS_OK) {
			pr->err = ldns_get_errorstr_by_id(st);
			return false;
		}
		rr = ldns_rr_new();
		if (rr == NULL) {
			ldns_rdf_deep_free(name);
			pr->err = E_NOMEM;
			return false;
		}
		ldns_rr_set_owner(rr, name);
		if (!flatten_wire(pr, type, rdstart, rdstart + rdlen)) {
			ldns_rr_free(rr);
			return false;
		}
		ldns_rr_set_type(rr, type);
		ldns_rr_set_class(rr, class);
		ldns_rr_set_ttl(rr, ttl);
	}
	if (pr->flat.failed) {
		ldns_rr_free(rr);
		pr->err = E_NOMEM;
		return false;
	}
	/* The scratch buffer stays unallocated until some rdata is seen; point at something all the same. */
	static const uint8_t nothing[1];
	struct cur c = { pr->flat.data ? (const uint8_t *)pr->flat.data : nothing, pr->flat.len, 0 };
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint16_t rtype = (uint16_t)ldns_rr_get_type(rr);
	uint16_t rclass = (uint16_t)ldns_rr_get_class(rr);
	uint32_t rttl = ldns_rr_ttl(rr);
	switch (rtype) {
	case T_OPT:
		put_opt(out, rclass, rttl, c.p, c.len);
		break;
	case T_TSIG:
		dt__buf_lit(out, "\n;; TSIG PSEUDOSECTION:\n; ");
		put_rr_header(out, ldns_rdf_data(owner), ldns_rdf_size(owner), rttl, rclass, rtype);
		put_rdata(out, rtype, &c);
		break;
	case T_NULL:
	case T_TKEY:
		dt__buf_putc(out, ';');
		put_rr_header(out, ldns_rdf_data(owner), ldns_rdf_size(owner), rttl, rclass, rtype);
		put_rdata(out, rtype, &c);
		break;
	default:
		put_rr_header(out, ldns_rdf_data(owner), ldns_rdf_size(owner), rttl, rclass, rtype);
		put_rdata(out, rtype, &c);
		break;
	}
	ldns_rr_free(rr);
	return true;
}

static void put_header(struct dt_buf *out, const uint8_t *wire, const struct shape *sh, unsigned rcode)
{
	unsigned opcode = wire[2] >> 3 & 15;
	dt__buf_lit(out, ";; opcode: ");
	if (opcode < 6 && opcode_names[opcode] != NULL)
		dt__buf_puts(out, opcode_names[opcode]);
	dt__buf_lit(out, ", status: ");
	if (rcode < 24 && rcode_names[rcode] != NULL)
		dt__buf_puts(out, rcode_names[rcode]);
	dt__buf_lit(out, ", id: ");
	dt__buf_put_u64(out, get16(wire));
	dt__buf_lit(out, "\n;; flags:");
	static const struct {
		uint16_t bit;
		char name[4];
	} flags[] = {
		{ 0x8000, " qr" }, { 0x0400, " aa" }, { 0x0200, " tc" }, { 0x0100, " rd" },
		{ 0x0080, " ra" }, { 0x0040, " z" }, { 0x0020, " ad" }, { 0x0010, " cd" },
	};
	uint16_t bits = get16(wire + 2);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (bits & flags[i].bit)
			dt__buf_puts(out, flags[i].name);
	dt__buf_lit(out, "; QUERY: ");
	dt__buf_put_u64(out, sh->count[0]);
	dt__buf_lit(out, ", ANSWER: ");
	dt__buf_put_u64(out, sh->count[1]);
	dt__buf_lit(out, ", AUTHORITY: ");
	dt__buf_put_u64(out, sh->count[2]);
	dt__buf_lit(out, ", ADDITIONAL: ");
	dt__buf_put_u64(out, sh->count[3]);
	dt__buf_putc(out, '\n');
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

static bool print_msg(struct printer *pr, const struct shape *sh)
{
	struct dt_buf *out = pr->out;
	const uint8_t *wire = pr->wire;
	size_t len = pr->len;
	unsigned rcode = wire[3] & 15;
	ldns_rr *opt = NULL;

	if (sh->opt != 0) {
		size_t pos = sh->opt;
		ldns_status st = ldns_wire2rr(&opt, wire, len, &pos, LDNS_SECTION_ADDITIONAL);
		if (st != LDNS_STATUS_OK) {
			pr->err = ldns_get_errorstr_by_id(st);
			return false;
		}
		rcode |= (ldns_rr_ttl(opt) >> 24) << 4;
	}
	put_header(out, wire, sh, rcode);
	if (opt != NULL) {
		const ldns_rdf *rd = ldns_rr_rd_count(opt) > 0 ? ldns_rr_rdf(opt, 0) : NULL;
		put_opt(out, (uint16_t)ldns_rr_get_class(opt), ldns_rr_ttl(opt), rd ? ldns_rdf_data(rd) : NULL,
			rd ? ldns_rdf_size(rd) : 0);
		dt__buf_putc(out, '\n');
		ldns_rr_free(opt);
	}

	size_t off = 12;
	if (sh->count[0] > 0)
		dt__buf_lit(out, "\n;; QUESTION SECTION:\n");
	for (unsigned i = 0; i < sh->count[0]; i++) {
		ldns_rdf *name = NULL;
		ldns_status st = ldns_wire2dname(&name, wire, len, &off);
		if (st != LDNS_STATUS_OK) {
			pr->err = ldns_get_errorstr_by_id(st);
			return false;
		}
		uint16_t qtype, qclass;
		question_fields(wire, len, &off, &qtype, &qclass);
		dt__buf_putc(out, ';');
		put_name(out, ldns_rdf_data(name), ldns_rdf_size(name), 0);
		ldns_rdf_deep_free(name);
		dt__buf_putc(out, '\t');
		put_class(out, qclass);
		dt__buf_lit(out, "\t ");
		put_type(out, qtype);
		dt__buf_putc(out, '\n');
	}

	static const char *const titles[4] = {
		NULL, "\n;; ANSWER SECTION:\n", "\n;; AUTHORITY SECTION:\n", "\n;; ADDITIONAL SECTION:\n",
	};
	static const ldns_pkt_section sections[4] = {
		LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL,
	};
	for (int s = 1; s <= 3; s++) {
		unsigned n = sh->count[s];
		/* The additional section shows unless its only record is the OPT already shown. */
		if (n > 0 && (s < 3 || sh->opt == 0 || n > 1))
			dt__buf_puts(out, titles[s]);
		for (unsigned i = 0; i < n; i++) {
			size_t start = off, hdr;
			if (s == 3) {
				check_name(wire, len, off, &hdr);
				if (get16(wire + hdr) == T_OPT) {
					off = hdr + 10 + get16(wire + hdr + 8);
					continue;
				}
			}
			off = start;
			if (!print_rr(pr, &off, sections[s]))
				return false;
			dt__buf_putc(out, '\n');
		}
	}
	return true;
}

int dt__dns_msg_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err)
{
	struct shape sh;
	const char *e = check_msg(wire, len, &sh);
	if (e != NULL) {
		*err = e;
		return -1;
	}
	size_t mark = out->len;
	struct printer pr = { .out = out, .wire = wire, .len = len };
	bool ok = print_msg(&pr, &sh);
	dt__buf_free(&pr.flat);
	if (!ok) {
		out->len = mark;
		*err = pr.err;
		return -1;
	}
	return 0;
}

int dt__dns_question_text(struct dt_buf *out, const uint8_t *wire, size_t len)
{
	struct shape sh;
	if (check_msg(wire, len, &sh) != NULL || sh.count[0] == 0)
		return -1;
	size_t off;
	uint16_t qtype, qclass;
	dt__buf_putc(out, '"');
	check_name(wire, len, 12, &off);
	put_name(out, wire, len, 12);
	question_fields(wire, len, &off, &qtype, &qclass);
	dt__buf_lit(out, "\" ");
	put_class(out, qclass);
	dt__buf_putc(out, ' ');
	put_type(out, qtype);
	return 0;
}

int dt__dns_name_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err)
{
	size_t next;
	const char *e = check_name(wire, len, 0, &next);
	if (e != NULL) {
		*err = e;
		return -1;
	}
	put_name(out, wire, len, 0);
	return 0;
}
