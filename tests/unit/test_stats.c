/* Unit tests: the statistics stage's fixed-memory structures and its writers. The space-saving sketch
 * keeps what its guarantee promises (every key above total/capacity, counts that are upper bounds within
 * their error) against exact counts of random skewed streams, through evictions and weighted adds; the
 * pair table pairs, overflows, expires and forgets; label values are escaped for Prometheus and JSON;
 * the stage counts a message it is given and the writer says so in both formats; a bad option is refused. */
#include "stats.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define KEYS 5000

/* The number in a key "kNNN" (keys are not NUL-terminated in the sketch). */
static unsigned key_of(const struct dt__sketch_entry *e)
{
	char text[32];
	snprintf(text, sizeof(text), "%.*s", (int)e->len, (const char *)e->key);
	return (unsigned)atoi(text + 1);
}

START_TEST(sketch_keeps_the_heavy_and_bounds_every_count)
{
	static uint64_t exact[KEYS];
	struct dt__sketch s;
	unsigned cap = 64;
	ck_assert(dt__sketch_init(&s, cap));
	memset(exact, 0, sizeof(exact));
	srand(7);
	uint64_t total = 0;
	for (int i = 0; i < 200000; i++) {
		/* a few keys take a large share, the rest is a long tail */
		unsigned k = rand() % 4 == 0 ? (unsigned)(rand() % 8) : 8 + (unsigned)(rand() % (KEYS - 8));
		uint64_t n = i % 97 == 0 ? 3 : 1;
		char key[16];
		int len = snprintf(key, sizeof(key), "k%u", k);
		dt__sketch_add_n(&s, (const uint8_t *)key, (size_t)len, n);
		exact[k] += n;
		total += n;
	}
	ck_assert_uint_eq(s.total, total);
	ck_assert_uint_eq(s.n, cap);
	const struct dt__sketch_entry *top[64];
	unsigned n = dt__sketch_top(&s, top, cap);
	ck_assert_uint_eq(n, cap);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = key_of(top[i]);
		ck_assert_uint_ge(top[i]->count, exact[k]);                 /* an upper bound */
		ck_assert_uint_le(top[i]->count - top[i]->error, exact[k]); /* within its error */
		if (i > 0)
			ck_assert_uint_le(top[i]->count, top[i - 1]->count); /* largest first */
		sum += top[i]->count;
	}
	ck_assert_uint_eq(sum, total); /* space-saving keeps the sum of its counts equal to the stream */
	for (unsigned k = 0; k < KEYS; k++) {
		if (exact[k] * cap <= total)
			continue;
		bool found = false;
		for (unsigned i = 0; i < n; i++)
			found = found || key_of(top[i]) == k;
		ck_assert_msg(found, "key %u (%llu of %llu) is missing", k, (unsigned long long)exact[k],
			      (unsigned long long)total);
	}
	dt__sketch_free(&s);
}
END_TEST

START_TEST(sketch_counts_exactly_while_it_has_room)
{
	struct dt__sketch s;
	ck_assert(dt__sketch_init(&s, 10));
	for (int i = 0; i < 10; i++)
		for (int j = 0; j <= i; j++)
			dt__sketch_add(&s, (const uint8_t *)"abcdefghij" + i, 1);
	const struct dt__sketch_entry *top[10];
	ck_assert_uint_eq(dt__sketch_top(&s, top, 3), 3);
	ck_assert_uint_eq(top[0]->count, 10);
	ck_assert_int_eq(top[0]->key[0], 'j');
	ck_assert_uint_eq(top[0]->error, 0);
	ck_assert_uint_eq(top[2]->count, 8);
	dt__sketch_free(&s);
}
END_TEST

START_TEST(pairs_pair_overflow_and_expire)
{
	struct dt__pairs t;
	ck_assert(dt__pairs_init(&t, 8, 1000));
	uint64_t qt;
	dt__pairs_query(&t, 42, 100);
	ck_assert(dt__pairs_response(&t, 42, &qt));
	ck_assert_uint_eq(qt, 100);
	ck_assert(!dt__pairs_response(&t, 42, &qt)); /* answered once: forgotten */
	ck_assert_uint_eq(t.unmatched, 1);
	/* one bucket of 8: the ninth query overflows, unless the oldest has timed out */
	for (uint64_t k = 1; k <= 9; k++)
		dt__pairs_query(&t, k << 40, 200);
	ck_assert_uint_eq(t.pending, 8);
	ck_assert_uint_eq(t.overflow, 1);
	dt__pairs_query(&t, 77ull << 40, 200 + 1001);
	ck_assert_uint_eq(t.expired, 1);
	ck_assert_uint_eq(t.pending, 8);
	ck_assert(dt__pairs_response(&t, 77ull << 40, &qt));
	ck_assert_uint_eq(qt, 1201);
	dt__pairs_free(&t);
}
END_TEST

START_TEST(label_values_are_escaped)
{
	struct dt_buf b = {0};
	dt__prom_escape(&b, "a\"b\\c\nd");
	ck_assert_uint_eq(b.len, 10);
	ck_assert(memcmp(b.data, "a\\\"b\\\\c\\nd", 10) == 0);
	b.len = 0;
	dt__json_escape(&b, "q\"\\\x01");
	ck_assert_uint_eq(b.len, 11);
	ck_assert(memcmp(b.data, "q\\\"\\\\\\u0001", 11) == 0);
	dt_buf_free(&b);
}
END_TEST

START_TEST(cidr_and_routes)
{
	struct dt__cidr c;
	uint8_t a[16] = {192, 0, 2, 200};
	ck_assert(dt__cidr_parse("192.0.2.128/25", &c));
	ck_assert(dt__cidr_match(&c, AF_INET, a));
	a[3] = 1;
	ck_assert(!dt__cidr_match(&c, AF_INET, a));
	ck_assert(!dt__cidr_parse("192.0.2.0/33", &c));
	ck_assert(!dt__cidr_parse("/8", &c));
	ck_assert(!dt__cidr_parse("example.com", &c));
	ck_assert(dt__cidr_parse("::1", &c));
	ck_assert_int_eq(dt__http_route("GET", "/metrics?x"), DT__ROUTE_METRICS);
	ck_assert_int_eq(dt__http_route("HEAD", "/"), DT__ROUTE_PAGE);
	ck_assert_int_eq(dt__http_route("GET", "/stats.json"), DT__ROUTE_JSON);
	ck_assert_int_eq(dt__http_route("GET", "/metricsx"), DT__ROUTE_NOT_FOUND);
	ck_assert_int_eq(dt__http_route("POST", "/metrics"), DT__ROUTE_BAD_METHOD);
}
END_TEST

/* One CLIENT_RESPONSE for "Example.COM." NXDOMAIN, through the stage, then both formats. */
START_TEST(stage_counts_and_writes_both_formats)
{
	dt_res res;
	ck_assert_ptr_null(dt_stats_new(&(struct dt_stats_options){.top = 0, .latency_slots = 8}, &res));
	ck_assert_int_eq(res, DT_ERR_INVALID);
	struct dt_stats *st = dt_stats_new(NULL, &res);
	ck_assert_ptr_nonnull(st);
	static const uint8_t wire[] = {0x12, 0x34, 0x81, 0x83, 0,   1, 0,   0,   0,   0, 0, 0, 7, 'E', 'x',
				       'a',  'm',  'p',  'l',  'e', 3, 'C', 'O', 'M', 0, 0, 1, 0, 1};
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_RESPONSE);
	dt_message_set_response_message(&m, wire, sizeof(wire));
	m.has_socket_family = m.has_socket_protocol = true;
	m.socket_family = DT_INET;
	m.socket_protocol = DT_UDP;
	uint8_t payload[256];
	size_t len;
	ck_assert_uint_le(dt_encoded_size(&m), sizeof(payload));
	ck_assert_int_eq(dt_encode(&m, payload, &len), DT_OK);
	struct dt_decoder *d = dt_decoder_new();
	struct dt_item it;
	dt_item_init(&it, payload, len, "file.dnstap", NULL, 1);
	it.decoder = d;
	ck_assert_int_eq(dt_stats_stage.process(st, &it), DT_KEEP);
	struct dt_buf b = {0};
	ck_assert_int_eq(dt_stats_prometheus(st, &b), DT_OK);
	dt__buf_putc(&b, '\0');
	ck_assert_ptr_nonnull(strstr(b.data, "\ndnstap_messages_total 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\ndnstap_rcodes_total{rcode=\"NXDOMAIN\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\ndnstap_top_nxdomain_qnames{qname=\"example.com.\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\ndnstap_input_messages_total{input=\"file.dnstap\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "# TYPE dnstap_latency_seconds histogram\n"));
	b.len = 0;
	ck_assert_int_eq(dt_stats_json(st, &b), DT_OK);
	dt__buf_putc(&b, '\0');
	ck_assert_ptr_nonnull(strstr(b.data, "\"dnstap_qtypes_total\":{\"type\":\"counter\","));
	ck_assert_ptr_nonnull(strstr(b.data, "{\"labels\":{\"qtype\":\"A\"},\"value\":1}"));
	dt_buf_free(&b);
	dt_decoder_free(d);
	dt_stats_free(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");
	tcase_add_test(tc, sketch_keeps_the_heavy_and_bounds_every_count);
	tcase_add_test(tc, sketch_counts_exactly_while_it_has_room);
	tcase_add_test(tc, pairs_pair_overflow_and_expire);
	tcase_add_test(tc, label_values_are_escaped);
	tcase_add_test(tc, cidr_and_routes);
	tcase_add_test(tc, stage_counts_and_writes_both_formats);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
