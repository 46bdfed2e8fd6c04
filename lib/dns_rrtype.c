/* The rrtype table (see dns_rrtype.h): miekg's TypeToString mnemonics and, for the types it has a struct
 * for, the layout its unpack() reads. */
#include "dns_rrtype.h"

#include <stddef.h>

/* A row: mnemonic and layout; N(x) a mnemonic only (miekg knows the name, not the record). */
#define R(x, layout)                     \
	{                                \
		x, sizeof(x) - 1, layout \
	}
#define N(x)                           \
	{                              \
		x, sizeof(x) - 1, NULL \
	}

/* clang-format off */
const struct dt__rrtype dt__rrtypes[DT__RRTYPE_DENSE] = {
	[0] = N("None"),
	[DT__TYPE_A] = R("A", "A"),
	[DT__TYPE_NS] = R("NS", "n"),
	[DT__TYPE_MD] = R("MD", "n"),
	[DT__TYPE_MF] = R("MF", "n"),
	[DT__TYPE_CNAME] = R("CNAME", "n"),
	[DT__TYPE_SOA] = R("SOA", "n|n|l|l|l|l|l"),
	[DT__TYPE_MB] = R("MB", "n"),
	[DT__TYPE_MG] = R("MG", "n"),
	[DT__TYPE_MR] = R("MR", "n"),
	[DT__TYPE_NULL] = R("NULL", "X"),
	[DT__TYPE_PTR] = R("PTR", "n"),
	[DT__TYPE_HINFO] = R("HINFO", "s|s"),
	[DT__TYPE_MINFO] = R("MINFO", "n|n"),
	[DT__TYPE_MX] = R("MX", "w|n"),
	[DT__TYPE_TXT] = R("TXT", "T"),
	[DT__TYPE_RP] = R("RP", "n|n"),
	[DT__TYPE_AFSDB] = R("AFSDB", "w|n"),
	[DT__TYPE_X25] = R("X25", "s"),
	[20] = N("ISDN"),
	[DT__TYPE_RT] = R("RT", "w|n"),
	[DT__TYPE_NSAPPTR] = R("NSAP-PTR", "n"),
	[DT__TYPE_SIG] = R("SIG", "w|b|b|l|l|l|w|n|B"),
	[DT__TYPE_KEY] = R("KEY", "w|b|b|B"),
	[DT__TYPE_PX] = R("PX", "w|n|n"),
	[DT__TYPE_GPOS] = R("GPOS", "s|s|s"),
	[DT__TYPE_AAAA] = R("AAAA", "Q"),
	[DT__TYPE_LOC] = R("LOC", "b|b|b|b|l|l|l"),
	[30] = N("NXT"),
	[DT__TYPE_EID] = R("EID", "H"),
	[DT__TYPE_NIMLOC] = R("NIMLOC", "H"),
	[DT__TYPE_SRV] = R("SRV", "w|w|w|n"),
	[34] = N("ATMA"),
	[DT__TYPE_NAPTR] = R("NAPTR", "w|w|s|s|s|n"),
	[DT__TYPE_KX] = R("KX", "w|n"),
	[DT__TYPE_CERT] = R("CERT", "w|w|b|B"),
	[DT__TYPE_DNAME] = R("DNAME", "n"),
	[DT__TYPE_OPT] = R("OPT", "E"),
	[DT__TYPE_APL] = R("APL", "L"),
	[DT__TYPE_DS] = R("DS", "w|b|b|H"),
	[DT__TYPE_SSHFP] = R("SSHFP", "b|b|H"),
	[DT__TYPE_RRSIG] = R("RRSIG", "w|b|b|l|l|l|w|n|B"),
	[DT__TYPE_NSEC] = R("NSEC", "n|N"),
	[DT__TYPE_DNSKEY] = R("DNSKEY", "w|b|b|B"),
	[DT__TYPE_DHCID] = R("DHCID", "B"),
	[DT__TYPE_NSEC3] = R("NSEC3", "b|b|w|b|x3b|y5N"),
	[DT__TYPE_NSEC3PARAM] = R("NSEC3PARAM", "b|b|w|b|x3"),
	[DT__TYPE_TLSA] = R("TLSA", "b|b|b|H"),
	[DT__TYPE_SMIMEA] = R("SMIMEA", "b|b|b|H"),
	[DT__TYPE_HIP] = R("HIP", "b|b|w|x0z2D"),
	[DT__TYPE_NINFO] = R("NINFO", "T"),
	[DT__TYPE_RKEY] = R("RKEY", "w|b|b|B"),
	[DT__TYPE_TALINK] = R("TALINK", "n|n"),
	[DT__TYPE_CDS] = R("CDS", "w|b|b|H"),
	[DT__TYPE_CDNSKEY] = R("CDNSKEY", "w|b|b|B"),
	[DT__TYPE_OPENPGPKEY] = R("OPENPGPKEY", "B"),
	[DT__TYPE_CSYNC] = R("CSYNC", "l|w|N"),
	[DT__TYPE_ZONEMD] = R("ZONEMD", "l|b|b|H"),
	[DT__TYPE_SVCB] = R("SVCB", "w|n|P"),
	[DT__TYPE_HTTPS] = R("HTTPS", "w|n|P"),
	[DT__TYPE_SPF] = R("SPF", "T"),
	[DT__TYPE_UINFO] = R("UINFO", "s"),
	[DT__TYPE_UID] = R("UID", "l"),
	[DT__TYPE_GID] = R("GID", "l"),
	[103] = N("UNSPEC"),
	[DT__TYPE_NID] = R("NID", "w|q"),
	[DT__TYPE_L32] = R("L32", "w|A"),
	[DT__TYPE_L64] = R("L64", "w|q"),
	[DT__TYPE_LP] = R("LP", "w|n"),
	[DT__TYPE_EUI48] = R("EUI48", "6"),
	[DT__TYPE_EUI64] = R("EUI64", "q"),
	[DT__TYPE_TKEY] = R("TKEY", "n|l|l|w|w|w|x5w|x7"),
	[DT__TYPE_TSIG] = R("TSIG", "n|6|w|w|x3w|w|w|x7"),
	[251] = N("IXFR"),
	[252] = N("AXFR"),
	[253] = N("MAILB"),
	[254] = N("MAILA"),
	[DT__TYPE_ANY] = R("ANY", ""),
	[DT__TYPE_URI] = R("URI", "w|w|O"),
	[DT__TYPE_CAA] = R("CAA", "b|s|O"),
	[DT__TYPE_AVC] = R("AVC", "T"),
};
/* clang-format on */

const struct dt__rrtype dt__rrtype_ta = R("TA", "w|b|b|H");
const struct dt__rrtype dt__rrtype_dlv = R("DLV", "w|b|b|H");
const struct dt__rrtype dt__rrtype_reserved = N("Reserved");
const struct dt__rrtype dt__rrtype_unknown = {"", 0, NULL};
