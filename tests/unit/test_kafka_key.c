/* Tests of the Kafka message keys (lib/kafka_key.c): which field each mode takes, the question name
 * lowercased and escaped in presentation form, compression pointers followed but never in a loop, and
 * no key (0) for what cannot give one. */
#include "config.h"

#include "kafka.h"

#include <check.h>
#include <string.h>

static char key[DT__KAFKA_KEY_MAX];

/* A query for NAME (wire-format labels given as a string with length bytes) with one question. */
static size_t query(uint8_t *out, const char *wire_name, size_t name_len)
{
	static const uint8_t header[12] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
	memcpy(out, header, 12);
	memcpy(out + 12, wire_name, name_len);
	memcpy(out + 12 + name_len, "\x00\x01\x00\x01", 4);
	return 12 + name_len + 4;
}

static const char *qname_of(const uint8_t *wire, size_t len)
{
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_QUERY);
	dt_message_set_query_message(&m, wire, len);
	size_t n = dt__kafka_key(DT_KAFKA_KEY_QNAME, &m, key);
	key[n] = '\0';
	return n == 0 ? NULL : key;
}

START_TEST(test_qname)
{
	uint8_t w[600];
	size_t n = query(w,
			 "\x03WwW\x07"
			 "Example\x03"
			 "COM\x00",
			 17);
	ck_assert_str_eq(qname_of(w, n), "www.example.com.");
	n = query(w, "\x00", 1);
	ck_assert_str_eq(qname_of(w, n), ".");
	/* a dot and a backslash inside a label, a space and a byte above 0x7e */
	n = query(w,
		  "\x04"
		  "a.b\\\x03"
		  "c d\x01\xff\x00",
		  13);
	ck_assert_str_eq(qname_of(w, n), "a\\.b\\\\.c\\032d.\\255.");
	/* no question, a truncated name, a label past the end */
	n = query(w, "\x03www\x00", 5);
	w[5] = 0;
	ck_assert_ptr_null(qname_of(w, n));
	n = query(w, "\x03www\x00", 5);
	ck_assert_ptr_null(qname_of(w, 14));
	ck_assert_ptr_null(qname_of(w, 11));
}
END_TEST

START_TEST(test_qname_pointers)
{
	/* the question's name is a pointer to a name after the question: legal, followed */
	uint8_t w[64] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
	w[12] = 0xc0;
	w[13] = 18;
	memcpy(w + 14, "\x00\x01\x00\x01", 4);
	memcpy(w + 18,
	       "\x02"
	       "Hi\x00",
	       4);
	ck_assert_str_eq(qname_of(w, 22), "hi.");
	/* a pointer to itself: no key, no endless loop */
	w[13] = 12;
	ck_assert_ptr_null(qname_of(w, 22));
	/* a name over 255 octets */
	uint8_t big[400];
	memcpy(big, w, 12);
	size_t at = 12;
	for (int i = 0; i < 5; i++) {
		big[at++] = 63;
		memset(big + at, 'a', 63);
		at += 63;
	}
	big[at++] = 0;
	memcpy(big + at, "\x00\x01\x00\x01", 4);
	ck_assert_ptr_null(qname_of(big, at + 4));
}
END_TEST

START_TEST(test_qname_from_response)
{
	uint8_t w[64];
	size_t n = query(w, "\x02ns\x00", 4);
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_RESPONSE);
	dt_message_set_response_message(&m, w, n);
	size_t k = dt__kafka_key(DT_KAFKA_KEY_QNAME, &m, key);
	ck_assert_uint_eq(k, 3);
	ck_assert_int_eq(memcmp(key, "ns.", 3), 0);
}
END_TEST

START_TEST(test_client_ip_and_identity)
{
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_QUERY);
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_CLIENT_IP, &m, key), 0);
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_IDENTITY, &m, key), 0);
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_QNAME, &m, key), 0);
	m.has_query_address = true;
	m.query_address = (struct dt_bytes){(const uint8_t *)"\xc0\x00\x02\x01", 4};
	size_t n = dt__kafka_key(DT_KAFKA_KEY_CLIENT_IP, &m, key);
	key[n] = '\0';
	ck_assert_str_eq(key, "192.0.2.1");
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	m.query_address = (struct dt_bytes){v6, 16};
	n = dt__kafka_key(DT_KAFKA_KEY_CLIENT_IP, &m, key);
	key[n] = '\0';
	ck_assert_str_eq(key, "2001:db8::1");
	m.query_address.len = 5; /* malformed: no key */
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_CLIENT_IP, &m, key), 0);

	m.has_identity = true;
	m.identity = (struct dt_bytes){(const uint8_t *)"ns1.example", 11};
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_IDENTITY, &m, key), 11);
	ck_assert_int_eq(memcmp(key, "ns1.example", 11), 0);
	ck_assert_uint_eq(dt__kafka_key(DT_KAFKA_KEY_NONE, &m, key), 0);
}
END_TEST

static Suite *key_suite(void)
{
	Suite *s = suite_create("kafka_key");
	TCase *tc = tcase_create("kafka_key");
	tcase_add_test(tc, test_qname);
	tcase_add_test(tc, test_qname_pointers);
	tcase_add_test(tc, test_qname_from_response);
	tcase_add_test(tc, test_client_ip_and_identity);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(key_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
