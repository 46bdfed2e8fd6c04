/* The anonymisation primitives: Crypto-PAn against the published vectors of its reference distribution
 * (the sample key and trace of Xu et al.'s implementation), prefix preservation on random pairs, and the
 * mask and HMAC modes. */
#include "anon.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

/* the key of the reference implementation's sample */
static const uint8_t sample_key[32] = {21,  34,  23,  141, 51,  164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
				       216, 152, 143, 131, 121, 121, 101, 39,  98, 87, 76, 45, 42, 132, 34,  2};

/* sample_trace_raw.dat -> sample_trace_sanitized.dat, one pair per distinct address */
static const char *const v4[][2] = {
	{"128.11.68.132", "135.242.180.132"},   {"129.118.74.4", "134.136.186.123"},
	{"130.132.252.244", "133.68.164.234"},  {"141.223.7.43", "141.167.8.160"},
	{"141.233.145.108", "141.129.237.235"}, {"152.163.225.39", "151.140.114.167"},
	{"156.29.3.236", "147.225.12.42"},      {"165.247.96.84", "162.9.99.234"},
	{"166.107.77.190", "160.132.178.185"},  {"192.102.249.13", "252.138.62.131"},
	{"192.215.32.125", "252.43.47.189"},    {"192.233.80.103", "252.25.108.8"},
	{"192.41.57.43", "252.222.221.184"},    {"193.150.244.223", "253.169.52.216"},
	{"195.205.63.100", "255.186.223.5"},    {"198.200.171.101", "249.199.68.213"},
	{"198.26.132.101", "249.36.123.202"},   {"198.36.213.5", "249.7.21.132"},
	{"198.51.77.238", "249.18.186.254"},    {"199.217.79.101", "248.38.184.213"},
	{"202.49.198.20", "245.206.7.234"},     {"203.12.160.252", "244.248.163.4"},
	{"204.184.162.189", "243.192.77.90"},   {"204.202.136.230", "243.178.4.198"},
	{"204.29.20.4", "243.33.20.123"},       {"205.178.38.67", "242.108.198.51"},
	{"205.188.147.153", "242.96.16.101"},   {"205.188.248.25", "242.96.88.27"},
	{"205.245.121.43", "242.21.121.163"},   {"207.105.49.5", "241.118.205.138"},
	{"207.135.65.238", "241.202.129.222"},  {"207.155.9.214", "241.220.250.22"},
	{"207.188.7.45", "241.255.249.220"},    {"207.25.71.27", "241.33.119.156"},
	{"207.33.151.131", "241.1.233.131"},    {"208.147.89.59", "227.237.98.191"},
	{"208.234.120.210", "227.154.67.17"},   {"208.28.185.184", "227.39.94.90"},
	{"208.52.56.122", "227.8.63.165"},      {"209.12.231.7", "226.243.167.8"},
	{"209.238.72.3", "226.6.119.243"},      {"209.246.74.109", "226.22.124.76"},
	{"209.68.60.238", "226.184.220.233"},   {"209.85.249.6", "226.170.70.6"},
	{"212.120.124.31", "228.135.163.231"},  {"212.146.8.236", "228.19.4.234"},
	{"212.186.227.154", "228.59.98.98"},    {"212.204.172.118", "228.71.195.169"},
	{"212.206.130.201", "228.69.242.193"},  {"216.148.237.145", "235.84.194.111"},
	{"216.157.30.252", "235.89.31.26"},     {"216.184.159.48", "235.96.225.78"},
	{"216.227.10.221", "235.28.253.36"},    {"216.254.18.172", "235.7.16.162"},
	{"216.32.132.250", "235.192.139.38"},   {"216.35.217.178", "235.195.157.81"},
	{"24.0.250.221", "100.15.198.226"},     {"24.13.62.231", "100.2.192.247"},
	{"24.14.213.138", "100.1.42.141"},      {"24.5.0.80", "100.9.15.210"},
	{"24.7.198.88", "100.10.6.25"},         {"24.94.26.44", "100.88.228.35"},
	{"38.15.67.68", "64.3.66.187"},         {"4.3.88.225", "124.60.155.63"},
	{"63.14.55.111", "95.9.215.7"},         {"63.195.241.44", "95.179.238.44"},
	{"63.97.7.140", "95.97.9.123"},         {"64.14.118.196", "0.255.183.58"},
	{"64.34.154.117", "0.221.154.117"},     {"64.39.15.238", "0.219.7.41"},
};

/* the 128-bit extension as other implementations compute it with the same key */
static const char *const v6[][2] = {
	{"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
	{"::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
	{"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
	{"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
	{"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
};

static struct dt__anon *sample(void)
{
	const char *err = NULL;
	struct dt__anon *an = dt__anon_keyed_new(DT__ANON_CRYPTOPAN, sample_key, sizeof(sample_key), &err);
	ck_assert_msg(an != NULL, "%s", err);
	return an;
}

START_TEST(test_cryptopan_vectors)
{
	struct dt__anon *an = sample();
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		uint8_t a[4], want[4];
		ck_assert_int_eq(inet_pton(AF_INET, v4[i][0], a), 1);
		ck_assert_int_eq(inet_pton(AF_INET, v4[i][1], want), 1);
		ck_assert(dt__anon_address(an, a, 4));
		char got[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, a, got, sizeof(got));
		ck_assert_msg(memcmp(a, want, 4) == 0, "%s -> %s, want %s", v4[i][0], got, v4[i][1]);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		uint8_t a[16], want[16];
		ck_assert_int_eq(inet_pton(AF_INET6, v6[i][0], a), 1);
		ck_assert_int_eq(inet_pton(AF_INET6, v6[i][1], want), 1);
		ck_assert(dt__anon_address(an, a, 16));
		char got[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, a, got, sizeof(got));
		ck_assert_msg(memcmp(a, want, 16) == 0, "%s -> %s, want %s", v6[i][0], got, v6[i][1]);
	}
	dt__anon_free(an);
}
END_TEST

static unsigned common_prefix(const uint8_t *a, const uint8_t *b, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i < len * 8; i++, n++)
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			break;
	return n;
}

/* The cache of results: an anonymiser that has seen many addresses, some in the same cache slot, maps
 * each as a fresh one does (a fresh one per address: nothing cached), for both keyed modes. */
START_TEST(test_cache_same_results)
{
	static const uint8_t hkey[16] = "0123456789abcdef";
	for (int mode = 0; mode < 2; mode++) {
		const char *err = NULL;
		struct dt__anon *busy =
			mode == 0 ? sample() : dt__anon_keyed_new(DT__ANON_HMAC, hkey, sizeof(hkey), &err);
		ck_assert(busy != NULL);
		srand(11);
		for (int round = 0; round < 20000; round++) {
			size_t len = round % 3 ? 4 : 16;
			uint8_t a[16], x[16], y[16];
			for (size_t i = 0; i < len; i++)
				a[i] = (uint8_t)(rand() %
						 4); /* few distinct addresses: hits, and collisions in slots */
			memcpy(x, a, len);
			ck_assert(dt__anon_address(busy, x, len));
			if (round % 50 == 0) {
				struct dt__anon *fresh =
					mode == 0 ? sample()
						  : dt__anon_keyed_new(DT__ANON_HMAC, hkey, sizeof(hkey), &err);
				memcpy(y, a, len);
				ck_assert(dt__anon_address(fresh, y, len));
				ck_assert_mem_eq(x, y, len);
				dt__anon_free(fresh);
			}
		}
		dt__anon_free(busy);
	}
}
END_TEST

START_TEST(test_cryptopan_prefix_preserving)
{
	struct dt__anon *an = sample();
	srand(7);
	for (int round = 0; round < 2000; round++) {
		size_t len = round % 2 ? 16 : 4;
		uint8_t a[16], b[16], x[16], y[16];
		for (size_t i = 0; i < len; i++)
			a[i] = (uint8_t)rand();
		memcpy(b, a, len);
		/* b shares a random prefix with a, then differs at the next bit */
		unsigned k = (unsigned)rand() % (unsigned)(len * 8);
		b[k / 8] ^= (uint8_t)(0x80 >> (k % 8));
		for (unsigned i = k + 1; i < len * 8; i++)
			if (rand() & 1)
				b[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		memcpy(x, a, len);
		memcpy(y, b, len);
		ck_assert(dt__anon_address(an, x, len) && dt__anon_address(an, y, len));
		ck_assert_uint_eq(common_prefix(x, y, len), k);
		ck_assert(memcmp(x, a, len) != 0 || len == 4); /* IPv4 may map to itself by chance, rarely */
	}
	dt__anon_free(an);
}
END_TEST

START_TEST(test_mask)
{
	struct dt__anon *an = dt__anon_mask_new(24, 64);
	uint8_t a[4] = {192, 0, 2, 77};
	ck_assert(dt__anon_address(an, a, 4));
	ck_assert(memcmp(a, (uint8_t[]){192, 0, 2, 0}, 4) == 0);
	uint8_t b[16];
	inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", b);
	ck_assert(dt__anon_address(an, b, 16));
	uint8_t want[16];
	inet_pton(AF_INET6, "2001:db8:1:2::", want);
	ck_assert(memcmp(b, want, 16) == 0);
	dt__anon_free(an);
	an = dt__anon_mask_new(20, 0); /* inside a byte */
	uint8_t c[4] = {10, 255, 255, 255};
	dt__anon_address(an, c, 4);
	ck_assert(memcmp(c, (uint8_t[]){10, 255, 240, 0}, 4) == 0);
	ck_assert(!dt__anon_address(an, c, 3));
	dt__anon_free(an);
	ck_assert_ptr_null(dt__anon_mask_new(33, 0));
	ck_assert_ptr_null(dt__anon_mask_new(0, 129));
}
END_TEST

START_TEST(test_hmac)
{
	const char *err = NULL;
	static const uint8_t key[16] = "0123456789abcdef";
	ck_assert_ptr_null(dt__anon_keyed_new(DT__ANON_HMAC, key, 8, &err));
	ck_assert_str_eq(err, "an HMAC key must be 16 to 64 bytes");
	ck_assert_ptr_null(dt__anon_keyed_new(DT__ANON_CRYPTOPAN, key, 16, &err));
	ck_assert_str_eq(err, "a Crypto-PAn key must be 32 bytes");
	struct dt__anon *an = dt__anon_keyed_new(DT__ANON_HMAC, key, sizeof(key), &err);
	uint8_t a[4] = {192, 0, 2, 1}, b[4] = {192, 0, 2, 1}, c[4] = {192, 0, 2, 2};
	ck_assert(dt__anon_address(an, a, 4) && dt__anon_address(an, b, 4) && dt__anon_address(an, c, 4));
	ck_assert(memcmp(a, b, 4) == 0);                         /* the same address, the same result */
	ck_assert(memcmp(a, c, 4) != 0);                         /* a neighbour, another */
	ck_assert(memcmp(a, (uint8_t[]){192, 0, 2, 1}, 4) != 0); /* and not the original */
	dt__anon_free(an);
	dt__anon_free(NULL);
}
END_TEST

/* The labels of --anonymize-qname: HMAC-SHA256 under HMAC-SHA256(key, "dnstap anonymize-qname"), over a
 * block number and the name, one character of [a-z0-9] a byte (the values computed apart, with Python's
 * hmac module). */
START_TEST(test_label)
{
	const char *err = NULL;
	static const uint8_t key[16] = "0123456789abcdef", other[16] = "0123456789abcdeF";
	static const uint8_t www[] = "\003www\003lab\004test"; /* and its terminating NUL: the root */
	uint8_t out[64] = {0}, again[64] = {0};
	struct dt__anon *an = dt__anon_keyed_new(DT__ANON_HMAC, key, sizeof(key), &err);
	ck_assert(dt__anon_label(an, www, sizeof(www), out, 3));
	ck_assert_str_eq((char *)out, "lb0");
	/* a label of 63 characters takes a second block */
	uint8_t name[66] = {63};
	memset(name + 1, 'x', 63);
	ck_assert(dt__anon_label(an, name, 65, out, 63));
	ck_assert_str_eq((char *)out, "zu3h0mbnw1395uqusqhwz37q2a0ybtewnu8crn8e39i9iulykdygka33w78s0vd");
	dt__anon_free(an);
	/* another key, another label; the Crypto-PAn mode has one too */
	an = dt__anon_keyed_new(DT__ANON_HMAC, other, sizeof(other), &err);
	ck_assert(dt__anon_label(an, www, sizeof(www), again, 3));
	ck_assert_str_ne((char *)again, "lb0");
	dt__anon_free(an);
	uint8_t k32[32] = {1};
	an = dt__anon_keyed_new(DT__ANON_CRYPTOPAN, k32, sizeof(k32), &err);
	memset(out, 0, sizeof(out));
	ck_assert(dt__anon_label(an, www, sizeof(www), out, 3));
	ck_assert_uint_eq(strspn((char *)out, "abcdefghijklmnopqrstuvwxyz0123456789"), 3);
	dt__anon_free(an);
	/* a mask has a key of its own, random: the same within one anonymiser, another in the next */
	an = dt__anon_mask_new(24, 48);
	struct dt__anon *an2 = dt__anon_mask_new(24, 48);
	memset(out, 0, sizeof(out));
	memset(again, 0, sizeof(again));
	ck_assert(dt__anon_label(an, name, 65, out, 63) && dt__anon_label(an2, name, 65, again, 63));
	ck_assert_uint_eq(strspn((char *)out, "abcdefghijklmnopqrstuvwxyz0123456789"), 63);
	ck_assert_str_ne((char *)out, (char *)again);
	ck_assert(dt__anon_label(an, name, 65, again, 63));
	ck_assert_str_eq((char *)out, (char *)again);
	dt__anon_free(an);
	dt__anon_free(an2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("anon");
	TCase *tc = tcase_create("anon");
	tcase_add_test(tc, test_cryptopan_vectors);
	tcase_add_test(tc, test_cryptopan_prefix_preserving);
	tcase_add_test(tc, test_cache_same_results);
	tcase_add_test(tc, test_mask);
	tcase_add_test(tc, test_hmac);
	tcase_add_test(tc, test_label);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
