/* Unit tests for the DNS wire layer (lib/dns_wire.c, lib/dns_rrtype.c): the header getters, the walk over
 * questions and records and its verdicts on truncated and malformed messages (miekg/dns 1.1.50's rules and
 * error texts, as the Go tool reports them), the whole-message parse, EDNS and ECS, and the proxy's
 * pointer-free name rule. */
#include "../../lib/dns_rrtype.h"
#include "../../lib/dns_wire.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char E_U16[] = "dns: overflow unpacking uint16";
static const char E_U32[] = "dns: overflow unpacking uint32";
static const char E_BUF[] = "dns: buffer size too small";
static const char E_HDRSIZE[] = "dns: overflowing header size";
static const char E_PTRS[] = "dns: too many compression pointers";
static const char E_RDATA[] = "dns: bad rdata";
static const char E_LONG[] = "dns: domain name exceeded 255 wire-format octets";
static const char E_NETMASK[] = "dns: bad netmask";

/* The walk's error is the text miekg gives. */
#define ck_assert_err(got, want) ck_assert_str_eq((got) != NULL ? (got) : "(accepted)", (want))

static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = 0;
	for (; hex[0] != '\0'; hex++) {
		if (hex[0] == ' ')
			continue;
		unsigned v;
		ck_assert(sscanf(hex, "%2x", &v) == 1);
		out[n++] = (uint8_t)v;
		hex++;
	}
	return n;
}

/* kdig's answer for a.test.example A: header 0-11, question 12-31 (name 12-27), two A records with
 * compressed owners 32-47 and 48-63, an OPT record with NSID 64-87. */
static const char NSID_RESPONSE[] =
	"a3658500000100020000000101610474657374076578616d706c650000010001c00c0001000100000e100004c000020a"
	"c00c0001000100000e100004c63364ff00002904d000000000000d000300096b6e6f742d74657374";

/* A query for example.com A with EDNS: UDP 4096, extended rcode 1, DO, and ECS 192.0.2.0/24 (3 octets). */
static const char ECS_QUERY[] =
	"1234 0100 0001 0000 0000 0001"
	"076578616d706c6503636f6d00 0001 0001"
	"00 0029 1000 01008000 000b 0008 0007 0001 18 00 c00002";

/* The error the walk ends with (NULL if the message parses); checks that dt__dns_parse() agrees. */
static const char *walk(const uint8_t *wire, size_t len, unsigned count[4])
{
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	dt__dns_rr_iter_init(&it, wire, len);
	unsigned n = 0;
	while (dt__dns_rr_next(&it, &rr)) {
		ck_assert(rr.owner >= DT__DNS_HEADER_LEN && rr.owner < len);
		if (rr.rdata != NULL)
			ck_assert(rr.rdata >= wire + rr.owner && rr.rdata + rr.rdlength <= wire + len);
		n++;
	}
	ck_assert_uint_eq(n, it.count[0] + it.count[1] + it.count[2] + it.count[3]);
	struct dt__dns_msg m;
	const char *err = dt__dns_parse(&m, wire, len);
	ck_assert_msg(err == it.err, "len %zu: parse says %s, walk %s", len, err ? err : "ok", it.err ? it.err : "ok");
	if (err == NULL) {
		ck_assert(memcmp(m.count, it.count, sizeof(m.count)) == 0);
		ck_assert_uint_eq(m.opt, it.opt);
	}
	if (count != NULL)
		memcpy(count, it.count, sizeof(it.count));
	return it.err;
}

START_TEST(test_header)
{
	uint8_t w[256];
	size_t n = unhex(w, NSID_RESPONSE);
	struct dt__dns_header h;
	ck_assert(!dt__dns_parse_header(&h, w, 11));
	ck_assert(dt__dns_parse_header(&h, w, n));
	ck_assert_uint_eq(h.id, 0xa365);
	ck_assert(h.flags & DT__DNS_QR);
	ck_assert(h.flags & DT__DNS_AA);
	ck_assert(h.flags & DT__DNS_RD);
	ck_assert(!(h.flags & (DT__DNS_TC | DT__DNS_RA | DT__DNS_AD | DT__DNS_CD | DT__DNS_Z)));
	ck_assert_uint_eq(dt__dns_opcode(h.flags), 0);
	ck_assert_uint_eq(dt__dns_header_rcode(h.flags), 0);
	ck_assert_uint_eq(h.count[DT__DNS_QUESTION], 1);
	ck_assert_uint_eq(h.count[DT__DNS_ANSWER], 2);
	ck_assert_uint_eq(h.count[DT__DNS_AUTHORITY], 0);
	ck_assert_uint_eq(h.count[DT__DNS_ADDITIONAL], 1);
	/* opcode NOTIFY (4), rcode NXDOMAIN (3) */
	ck_assert_uint_eq(dt__dns_opcode(0x2003), 4);
	ck_assert_uint_eq(dt__dns_header_rcode(0x2003), 3);
}
END_TEST

START_TEST(test_walk_valid)
{
	uint8_t w[256];
	size_t n = unhex(w, NSID_RESPONSE);
	ck_assert_uint_eq(n, 88);
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr;
	dt__dns_rr_iter_init(&it, w, n);

	ck_assert(dt__dns_rr_next(&it, &rr));
	ck_assert_int_eq(rr.section, DT__DNS_QUESTION);
	ck_assert_uint_eq(rr.owner, 12);
	ck_assert_uint_eq(rr.type, DT__TYPE_A);
	ck_assert_uint_eq(rr.class, 1);
	ck_assert(rr.rdata == NULL && rr.rdlength == 0 && rr.ttl == 0);

	static const uint8_t addr[2][4] = {{192, 0, 2, 10}, {198, 51, 100, 255}};
	for (int i = 0; i < 2; i++) {
		ck_assert(dt__dns_rr_next(&it, &rr));
		ck_assert_int_eq(rr.section, DT__DNS_ANSWER);
		ck_assert_uint_eq(rr.owner, 32 + 16 * (size_t)i);
		ck_assert_uint_eq(rr.type, DT__TYPE_A);
		ck_assert_uint_eq(rr.class, 1);
		ck_assert_uint_eq(rr.ttl, 3600);
		ck_assert_uint_eq(rr.rdlength, 4);
		ck_assert(memcmp(rr.rdata, addr[i], 4) == 0);
		/* the compressed owner decompresses to the question's name */
		uint8_t name[255];
		size_t name_len;
		ck_assert(dt__dns_name_unpack(w, n, rr.owner, name, &name_len) == NULL);
		ck_assert_uint_eq(name_len, 16);
		ck_assert(memcmp(name, w + 12, 16) == 0);
	}

	ck_assert(dt__dns_rr_next(&it, &rr));
	ck_assert_int_eq(rr.section, DT__DNS_ADDITIONAL);
	ck_assert_uint_eq(rr.type, DT__TYPE_OPT);
	ck_assert_uint_eq(rr.owner, 64);
	ck_assert_uint_eq(rr.rdlength, 13);
	ck_assert(!dt__dns_rr_next(&it, &rr));
	ck_assert(it.err == NULL);
	ck_assert_uint_eq(it.opt, 65);
	unsigned want[4] = {1, 2, 0, 1};
	ck_assert(memcmp(it.count, want, sizeof(want)) == 0);

	struct dt__dns_msg m;
	ck_assert(dt__dns_parse(&m, w, n) == NULL);
	ck_assert_uint_eq(m.qname, 12);
	ck_assert_uint_eq(m.qtype, DT__TYPE_A);
	ck_assert_uint_eq(m.qclass, 1);
	ck_assert_uint_eq(m.rcode, 0);
	struct dt__dns_edns e;
	ck_assert(dt__dns_edns(&m, &e));
	ck_assert_uint_eq(e.udp_size, 1232);
	ck_assert_uint_eq(e.version, 0);
	ck_assert_uint_eq(e.flags, 0);
	struct dt__dns_opt_iter oi;
	uint16_t code, len;
	const uint8_t *v;
	dt__dns_opt_iter_init(&oi, e.options, e.options_len);
	ck_assert(dt__dns_opt_next(&oi, &code, &v, &len));
	ck_assert_uint_eq(code, 3); /* NSID */
	ck_assert_uint_eq(len, 9);
	ck_assert(memcmp(v, "knot-test", 9) == 0);
	ck_assert(!dt__dns_opt_next(&oi, &code, &v, &len));
	struct dt__dns_ecs ecs;
	ck_assert(!dt__dns_edns_ecs(&e, &ecs));

	/* trailing bytes after the last record are ignored */
	w[n] = 0xff;
	ck_assert(walk(w, n + 1, NULL) == NULL);
}
END_TEST

START_TEST(test_walk_truncated)
{
	uint8_t w[256];
	size_t n = unhex(w, NSID_RESPONSE);
	unsigned count[4];
	ck_assert_err(walk(w, 0, NULL), E_U16);
	ck_assert_err(walk(w, 11, NULL), E_U16);
	/* only a header: no sections, whatever the counts */
	ck_assert(walk(w, 12, count) == NULL);
	ck_assert_uint_eq(count[0] + count[1] + count[2] + count[3], 0);
	ck_assert_err(walk(w, 20, NULL), E_BUF); /* inside the question's name */
	ck_assert(walk(w, 28, count) == NULL);   /* the question ends after its name */
	ck_assert_uint_eq(count[0], 1);
	ck_assert_uint_eq(count[1], 0);
	struct dt__dns_msg m;
	ck_assert(dt__dns_parse(&m, w, 28) == NULL);
	ck_assert(m.qtype == 0 && m.qclass == 0);
	ck_assert_err(walk(w, 29, NULL), E_U16);     /* inside the type */
	ck_assert(dt__dns_parse(&m, w, 31) == NULL); /* inside the class */
	ck_assert(m.qtype == DT__TYPE_A && m.qclass == 0);
	ck_assert_err(walk(w, 33, NULL), E_BUF);     /* inside an owner name's pointer */
	ck_assert_err(walk(w, 36, NULL), E_U16);     /* inside the type and class */
	ck_assert_err(walk(w, 40, NULL), E_U32);     /* inside the TTL */
	ck_assert_err(walk(w, 43, NULL), E_U16);     /* inside the rdlength */
	ck_assert_err(walk(w, 46, NULL), E_HDRSIZE); /* the rdata cut short */
	/* a message ending on a record boundary ends every section */
	ck_assert(walk(w, 48, count) == NULL);
	ck_assert(count[0] == 1 && count[1] == 1 && count[2] == 0 && count[3] == 0);
	ck_assert(walk(w, 64, count) == NULL);
	ck_assert(count[1] == 2 && count[3] == 0);
	ck_assert(dt__dns_parse(&m, w, 64) == NULL);
	ck_assert_uint_eq(m.opt, 0);
	struct dt__dns_edns e;
	ck_assert(!dt__dns_edns(&m, &e));
	/* every cut: the walk and the parse agree (walk() checks) and never read past the end */
	for (size_t len = 0; len <= n; len++) {
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, w, len);
		walk(exact, len, NULL);
		free(exact);
	}
}
END_TEST

START_TEST(test_names)
{
	uint8_t w[1024];
	static const char HDR[] = "0000 0000 0001 0000 0000 0000";
	size_t h = unhex(w, HDR), n;

	/* a pointer to itself: miekg gives up after 126 pointers */
	n = h + unhex(w + h, "c00c 0001 0001");
	ck_assert_err(walk(w, n, NULL), E_PTRS);
	/* two pointers to each other */
	n = h + unhex(w + h, "c00e c00c");
	ck_assert_err(walk(w, n, NULL), E_PTRS);
	/* label types 0x40 and 0x80 */
	n = h + unhex(w + h, "4000 0001 0001");
	ck_assert_err(walk(w, n, NULL), E_RDATA);
	n = h + unhex(w + h, "8000 0001 0001");
	ck_assert_err(walk(w, n, NULL), E_RDATA);
	/* a pointer past the end */
	n = h + unhex(w + h, "c0ff 0001 0001");
	ck_assert_err(walk(w, n, NULL), E_BUF);
	/* more than 255 octets: four labels of 63 are 256 */
	n = h;
	for (int i = 0; i < 4; i++) {
		w[n++] = 63;
		memset(w + n, 'a', 63);
		n += 63;
	}
	w[n++] = 0;
	ck_assert_err(walk(w, n, NULL), E_LONG);
	/* three labels of 63 and one of 61 are 254 and the root: 255, the most there is */
	w[h + 3 * 64] = 61;
	n = h + 3 * 64 + 62;
	w[n++] = 0;
	ck_assert(walk(w, n, NULL) == NULL);
	uint8_t name[255];
	size_t name_len;
	ck_assert(dt__dns_name_unpack(w, n, h, name, &name_len) == NULL);
	ck_assert_uint_eq(name_len, 255);
	/* a pointer into the header reads labels from its bytes, as miekg does: ID 0x0161 is "\001a", then
	 * the flags' 0x00 is the root */
	n = unhex(w, "0161 0000 0001 0000 0000 0000 c000 0001 0001");
	ck_assert(walk(w, n, NULL) == NULL);
	ck_assert(dt__dns_name_unpack(w, n, 12, name, &name_len) == NULL);
	ck_assert_uint_eq(name_len, 3);
	ck_assert(memcmp(name, "\001a\000", 3) == 0);
	ck_assert(dt__dns_check_name(w, n, 12, &name_len) == NULL);
	ck_assert_uint_eq(name_len, 14); /* after the pointer */
}
END_TEST

START_TEST(test_edns_ecs)
{
	uint8_t w[256];
	size_t n = unhex(w, ECS_QUERY);
	unsigned count[4];
	ck_assert(walk(w, n, count) == NULL);
	ck_assert_uint_eq(count[3], 1);
	struct dt__dns_msg m;
	ck_assert(dt__dns_parse(&m, w, n) == NULL);
	ck_assert_uint_eq(m.rcode, 16); /* extended rcode 1 above the header's 0: BADVERS */
	struct dt__dns_edns e;
	ck_assert(dt__dns_edns(&m, &e));
	ck_assert_uint_eq(e.udp_size, 4096);
	ck_assert_uint_eq(e.ext_rcode, 1);
	ck_assert_uint_eq(e.version, 0);
	ck_assert(e.flags & DT__DNS_EDNS_DO);
	struct dt__dns_ecs ecs;
	ck_assert(dt__dns_edns_ecs(&e, &ecs));
	ck_assert_uint_eq(ecs.family, 1);
	ck_assert_uint_eq(ecs.source, 24);
	ck_assert_uint_eq(ecs.scope, 0);
	ck_assert_uint_eq(ecs.addr_len, 3);
	static const uint8_t a[16] = {192, 0, 2};
	ck_assert(memcmp(ecs.addr, a, 16) == 0);

	/* a source prefix longer than an IPv4 address: miekg rejects the whole message */
	w[n - 5] = 33;
	ck_assert_err(walk(w, n, NULL), E_NETMASK);
	w[n - 5] = 24;

	/* a second OPT record: miekg's IsEdns0() takes the last */
	w[11] = 2;
	n += unhex(w + n, "00 0029 0200 00000000 0000");
	ck_assert(walk(w, n, count) == NULL);
	ck_assert_uint_eq(count[3], 2);
	ck_assert(dt__dns_parse(&m, w, n) == NULL);
	ck_assert_uint_eq(m.rcode, 0);
	ck_assert(dt__dns_edns(&m, &e));
	ck_assert_uint_eq(e.udp_size, 512);
	ck_assert(!(e.flags & DT__DNS_EDNS_DO));
	ck_assert(!dt__dns_edns_ecs(&e, &ecs));
}
END_TEST

START_TEST(test_name_skip)
{
	uint8_t w[64];
	size_t n = unhex(w, "03777777 c00c");
	ck_assert_uint_eq(dt__dns_name_skip(w, n, 0), 6); /* the pointer ends it, unfollowed */
	ck_assert_uint_eq(dt__dns_name_skip(w, n - 1, 0), 0);
	n = unhex(w, "03777777 00");
	ck_assert_uint_eq(dt__dns_name_skip(w, n, 0), 5);
	ck_assert_uint_eq(dt__dns_name_skip(w, n - 1, 0), 0);
	n = unhex(w, "03777777 4000");
	ck_assert_uint_eq(dt__dns_name_skip(w, n, 0), 0);
	ck_assert_uint_eq(dt__dns_name_skip(w, 0, 0), 0);
}
END_TEST

START_TEST(test_rrtype_table)
{
	ck_assert_str_eq(dt__rrtype(DT__TYPE_A)->name, "A");
	ck_assert_str_eq(dt__rrtype(DT__TYPE_A)->rdata, "A");
	ck_assert_str_eq(dt__rrtype(DT__TYPE_NSAPPTR)->name, "NSAP-PTR");
	ck_assert_uint_eq(dt__rrtype(DT__TYPE_NSEC3PARAM)->name_len, 10);
	ck_assert_str_eq(dt__rrtype(DT__TYPE_DLV)->name, "DLV");
	ck_assert_str_eq(dt__rrtype(DT__TYPE_TA)->rdata, "w|b|b|H");
	ck_assert_str_eq(dt__rrtype(DT__TYPE_ANY)->rdata, "");
	/* a mnemonic, but no record struct in miekg: RFC 3597 */
	ck_assert_str_eq(dt__rrtype(20)->name, "ISDN");
	ck_assert(dt__rrtype(20)->rdata == NULL);
	ck_assert_str_eq(dt__rrtype(65535)->name, "Reserved");
	ck_assert(dt__rrtype(65535)->rdata == NULL);
	/* neither */
	ck_assert_uint_eq(dt__rrtype(11)->name_len, 0);
	ck_assert(dt__rrtype(11)->rdata == NULL);
	ck_assert_uint_eq(dt__rrtype(4000)->name_len, 0);
	ck_assert(dt__rrtype(4000)->rdata == NULL);
	/* every mnemonic's length is its own */
	for (unsigned t = 0; t < 65536; t++)
		ck_assert_uint_eq(strlen(dt__rrtype((uint16_t)t)->name), dt__rrtype((uint16_t)t)->name_len);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dns_wire");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_walk_valid);
	tcase_add_test(tc, test_walk_truncated);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_edns_ecs);
	tcase_add_test(tc, test_name_skip);
	tcase_add_test(tc, test_rrtype_table);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
