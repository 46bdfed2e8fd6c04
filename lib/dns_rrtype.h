/* The one table of DNS record types: for each type miekg/dns 1.1.50 knows, its mnemonic (Type.String())
 * and the layout of its rdata in miekg's unpack order, which the wire checks (dns_wire.c) follow and the
 * printer (dns_print.c) splits fields by. A new type is one row in dns_rrtype.c (and a case in the
 * printer's put_rdata() if it prints other than as RFC 3597 hex). Internal to libdnstap (not installed). */
#ifndef DT_DNS_RRTYPE_H
#define DT_DNS_RRTYPE_H

#include <stdint.h>

/* clang-format off */
enum {
	DT__TYPE_A = 1, DT__TYPE_NS = 2, DT__TYPE_MD = 3, DT__TYPE_MF = 4, DT__TYPE_CNAME = 5, DT__TYPE_SOA = 6,
	DT__TYPE_MB = 7, DT__TYPE_MG = 8, DT__TYPE_MR = 9, DT__TYPE_NULL = 10, DT__TYPE_PTR = 12,
	DT__TYPE_HINFO = 13, DT__TYPE_MINFO = 14, DT__TYPE_MX = 15, DT__TYPE_TXT = 16, DT__TYPE_RP = 17,
	DT__TYPE_AFSDB = 18, DT__TYPE_X25 = 19, DT__TYPE_RT = 21, DT__TYPE_NSAPPTR = 23, DT__TYPE_SIG = 24,
	DT__TYPE_KEY = 25, DT__TYPE_PX = 26, DT__TYPE_GPOS = 27, DT__TYPE_AAAA = 28, DT__TYPE_LOC = 29,
	DT__TYPE_EID = 31, DT__TYPE_NIMLOC = 32, DT__TYPE_SRV = 33, DT__TYPE_NAPTR = 35, DT__TYPE_KX = 36,
	DT__TYPE_CERT = 37, DT__TYPE_DNAME = 39, DT__TYPE_OPT = 41, DT__TYPE_APL = 42, DT__TYPE_DS = 43,
	DT__TYPE_SSHFP = 44, DT__TYPE_RRSIG = 46, DT__TYPE_NSEC = 47, DT__TYPE_DNSKEY = 48, DT__TYPE_DHCID = 49,
	DT__TYPE_NSEC3 = 50, DT__TYPE_NSEC3PARAM = 51, DT__TYPE_TLSA = 52, DT__TYPE_SMIMEA = 53,
	DT__TYPE_HIP = 55, DT__TYPE_NINFO = 56, DT__TYPE_RKEY = 57, DT__TYPE_TALINK = 58, DT__TYPE_CDS = 59,
	DT__TYPE_CDNSKEY = 60, DT__TYPE_OPENPGPKEY = 61, DT__TYPE_CSYNC = 62, DT__TYPE_ZONEMD = 63,
	DT__TYPE_SVCB = 64, DT__TYPE_HTTPS = 65, DT__TYPE_SPF = 99, DT__TYPE_UINFO = 100, DT__TYPE_UID = 101,
	DT__TYPE_GID = 102, DT__TYPE_NID = 104, DT__TYPE_L32 = 105, DT__TYPE_L64 = 106, DT__TYPE_LP = 107,
	DT__TYPE_EUI48 = 108, DT__TYPE_EUI64 = 109, DT__TYPE_TKEY = 249, DT__TYPE_TSIG = 250,
	DT__TYPE_ANY = 255, DT__TYPE_URI = 256, DT__TYPE_CAA = 257, DT__TYPE_AVC = 258, DT__TYPE_TA = 32768,
	DT__TYPE_DLV = 32769,
};
/* clang-format on */

/*
 * A row of the table. rdata is the layout of the rdata, one character a field, in unpack order:
 *   b w l 6 q  unsigned integers of 1, 2, 4, 6 and 8 bytes
 *   A Q        IPv4 / IPv6 address
 *   n          domain name          s  character-string
 *   H B X O    rest of the rdata (hex, base64, raw, octets)
 *   T          character-strings up to the end (TXT)
 *   xK yK zK   hex / base32 / base64 of the length held by field number K
 *   D          domain names up to the end (HIP)
 *   N P L E    NSEC type bitmap, SVCB parameters, APL prefixes, EDNS0 options
 *   |          the rdata may end here (miekg's generated code returns early when the message ends)
 * rdata is NULL for a type miekg has no struct for: its records are RFC 3597 (opaque, printed as hex).
 */
struct dt__rrtype {
	char name[11];     /* the mnemonic, NUL-padded; empty when miekg prints TYPEnnn */
	uint8_t name_len;  /* strlen(name) */
	const char *rdata; /* see above */
};

/* Rows 0 to 258, by type; the rest are looked up by dt__rrtype(). */
#define DT__RRTYPE_DENSE 259
extern const struct dt__rrtype dt__rrtypes[DT__RRTYPE_DENSE];
/* TA, DLV, Reserved (65535), and the empty row for every other type. */
extern const struct dt__rrtype dt__rrtype_ta, dt__rrtype_dlv, dt__rrtype_reserved, dt__rrtype_unknown;

/* The row of type: never NULL (a type miekg does not know has an empty mnemonic and a NULL layout). The
 * rows are static data. */
static inline const struct dt__rrtype *dt__rrtype(uint16_t type)
{
	if (type < DT__RRTYPE_DENSE)
		return &dt__rrtypes[type];
	switch (type) {
	case DT__TYPE_TA:
		return &dt__rrtype_ta;
	case DT__TYPE_DLV:
		return &dt__rrtype_dlv;
	case 65535:
		return &dt__rrtype_reserved;
	}
	return &dt__rrtype_unknown;
}

#endif
