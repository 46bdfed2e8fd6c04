/* Unit tests: payload encode/decode round trips, and the Go-compatible renderers of addresses, strings
 * and times that every text format relies on. */
#include "dnstap.h"
#include "format.h"

#include <check.h>
#include <stdlib.h>

static const uint8_t wire[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
static const uint8_t a4[] = {127, 0, 0, 1};
static const uint8_t a6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static struct dt_message sample(void)
{
	struct dt_message m = {0};
	m.dnstap_type = DT_TYPE_MESSAGE;
	m.has_identity = m.has_version = m.has_extra = true;
	m.identity = (struct dt_bytes){(const uint8_t *)"ns1", 3};
	m.version = (struct dt_bytes){(const uint8_t *)"", 0};
	m.extra = (struct dt_bytes){(const uint8_t *)"\0x", 2};
	m.has_message = true;
	m.type = DT_RESOLVER_RESPONSE;
	m.has_socket_family = m.has_socket_protocol = true;
	m.socket_family = DT_INET6;
	m.socket_protocol = DT_DOQ;
	m.has_query_address = m.has_response_address = true;
	m.query_address = (struct dt_bytes){a6, 16};
	m.response_address = (struct dt_bytes){a4, 4};
	m.has_query_port = true;
	m.query_port = 0; /* present but zero: must survive */
	m.has_query_time_sec = m.has_query_time_nsec = m.has_response_time_sec = true;
	m.query_time_sec = 1700000000;
	m.query_time_nsec = 5;
	m.response_time_sec = UINT64_MAX;
	m.has_response_message = m.has_query_zone = true;
	m.response_message = (struct dt_bytes){wire, sizeof(wire)};
	m.query_zone = (struct dt_bytes){(const uint8_t *)"\0", 1};
	m.has_policy = m.has_policy_type = m.has_policy_action = true;
	m.policy_type = "rpz";
	m.policy_action = 6;
	m.has_http_protocol = true;
	m.http_protocol = 99; /* unknown enum values are kept */
	return m;
}

static bool bytes_eq(struct dt_bytes a, struct dt_bytes b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

START_TEST(round_trip)
{
	struct dt_message m = sample();
	size_t cap = dt_encoded_size(&m), len = 0;
	uint8_t *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dt_encode(&m, buf, &len), DT_OK);
	ck_assert_uint_eq(len, cap);

	struct dt_decoder *d = dt_decoder_new();
	const struct dt_message *v;
	ck_assert_int_eq(dt_decode(d, buf, len, &v), DT_OK);
	ck_assert(v->has_identity && bytes_eq(v->identity, m.identity));
	ck_assert(v->has_version && v->version.len == 0);
	ck_assert(v->has_extra && bytes_eq(v->extra, m.extra));
	ck_assert(v->has_message);
	ck_assert_int_eq(v->type, DT_RESOLVER_RESPONSE);
	ck_assert_int_eq(v->socket_protocol, DT_DOQ);
	ck_assert(bytes_eq(v->query_address, m.query_address));
	ck_assert(bytes_eq(v->response_address, m.response_address));
	ck_assert(v->has_query_port && v->query_port == 0);
	ck_assert(!v->has_response_port);
	ck_assert(v->has_query_time_nsec && v->query_time_nsec == 5);
	ck_assert(v->has_response_time_sec && v->response_time_sec == UINT64_MAX);
	ck_assert(!v->has_response_time_nsec);
	ck_assert(!v->has_query_message && v->has_response_message);
	ck_assert(bytes_eq(v->response_message, m.response_message));
	ck_assert(v->has_policy && v->has_policy_type && strcmp(v->policy_type, "rpz") == 0);
	ck_assert(v->has_policy_action && v->policy_action == 6 && !v->has_policy_match);
	ck_assert(v->has_http_protocol && v->http_protocol == 99);
	dt_decoder_free(d);
	free(buf);
}
END_TEST

START_TEST(decode_rejects_garbage)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} cases[] = {
		{"truncated varint", "\xff\xff\xff", 3},
		{"missing required type", "\x0a\x01x", 3},
		{"length past the end", "\x0a\x7f" "abc", 5},
		{"message without its required type", "\x78\x01\x72\x02\x10\x01", 6},
	};
	struct dt_decoder *d = dt_decoder_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dt_message *v;
		dt_res res = dt_decode(d, (const uint8_t *)cases[i].bytes, cases[i].len, &v);
		ck_assert_msg(res == DT_ERR_DECODE, "%s: got %s", cases[i].name, dt_strerror(res));
	}
	dt_decoder_free(d);
}
END_TEST

START_TEST(decode_many_unknown_fields)
{
	/* thousands of tiny unknown fields overflow the arena's usual bound: must still decode */
	size_t n = 20000;
	uint8_t *p = malloc(2 * n + 2);
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = 0x20; /* field 4, varint */
		p[2 * i + 1] = 0x01;
	}
	p[2 * n] = 0x78; /* field 15 type = MESSAGE */
	p[2 * n + 1] = 0x01;
	struct dt_decoder *d = dt_decoder_new();
	const struct dt_message *v;
	ck_assert_int_eq(dt_decode(d, p, 2 * n + 2, &v), DT_OK);
	ck_assert_int_eq(v->dnstap_type, DT_TYPE_MESSAGE);
	ck_assert(!v->has_message);
	dt_decoder_free(d);
	free(p);
}
END_TEST

static void expect_ip(const uint8_t *p, size_t n, const char *want)
{
	struct dt_buf b = {0};
	dt__put_ip(&b, (struct dt_bytes){p, n});
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, want);
	dt__buf_free(&b);
}

START_TEST(ip_text_as_go)
{
	uint8_t z[16] = {0};
	expect_ip(a4, 4, "127.0.0.1");
	expect_ip(z, 16, "::");
	expect_ip(a6, 16, "2001:db8::1");
	const uint8_t one_zero[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
	expect_ip(one_zero, 16, "2001:db8:0:1:1:1:1:1");
	const uint8_t tie[16] = {0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4};
	expect_ip(tie, 16, "1::2:0:0:3:4");
	const uint8_t longer_later[16] = {0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3};
	expect_ip(longer_later, 16, "1:0:0:2::3");
	const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
	expect_ip(mapped, 16, "192.0.2.7");
	const uint8_t compat[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_ip(compat, 16, "::102:304");
	expect_ip(a4, 3, "?7f0000");
	expect_ip(a4, 0, "<nil>");
}
END_TEST

START_TEST(strings_as_go)
{
	static const char in[] = "a\"b\\c\n\xff<&>";
	struct dt_buf b = {0};
	dt__put_go_quoted(&b, (const uint8_t *)in, sizeof(in) - 1);
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\xff<&>\"");
	b.len = 0;
	dt__put_json_string(&b, (const uint8_t *)in, sizeof(in) - 1);
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\ufffd\\u003c\\u0026\\u003e\"");
	b.len = 0;
	dt__put_json_string(&b, (const uint8_t *)"v\t\x01\x7f\xc3\xa9\xe2\x80\xa8", 9);
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, "\"v\\t\\u0001\x7f\xc3\xa9\\u2028\"");
	b.len = 0;
	dt__put_go_quoted(&b, (const uint8_t *)"v\t\x01\x7f\xc3\xa9\xc2\xa0", 8);
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, "\"v\\t\\x01\\x7f\xc3\xa9\\u00a0\"");
	dt__buf_free(&b);
}
END_TEST

static void expect_time(uint64_t sec, uint64_t nsec, char sep, const char *want)
{
	struct dt_buf b = {0};
	dt__put_utc_time(&b, sec, nsec, sep);
	dt__buf_putc(&b, '\0');
	ck_assert_str_eq(b.data, want);
	dt__buf_free(&b);
}

START_TEST(times_as_go)
{
	expect_time(1700000000, 0, ' ', "2023-11-14 22:13:20");
	expect_time(1700000000, 5, ' ', "2023-11-14 22:13:20.000000005");
	expect_time(1700000000, 579280000, 'T', "2023-11-14T22:13:20.57928");
	expect_time(1700000000, 1500000000u, ' ', "2023-11-14 22:13:21.5");
	expect_time(0, 0, ' ', "1970-01-01 00:00:00");
	expect_time(951782400, 0, ' ', "2000-02-29 00:00:00");
	expect_time(253402300799ull, 0, ' ', "9999-12-31 23:59:59");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, decode_rejects_garbage);
	tcase_add_test(tc, decode_many_unknown_fields);
	tcase_add_test(tc, ip_text_as_go);
	tcase_add_test(tc, strings_as_go);
	tcase_add_test(tc, times_as_go);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
