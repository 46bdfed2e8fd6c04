/* Unit tests: payload encode/decode round trips, the decoder's agreement with protobuf-c on the corner
 * cases of the wire format, and the Go-compatible renderers of addresses, strings and times that every
 * text format relies on. */
#include "dnstap.h"
#include "dnstap.pb-c.h"
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
		{"length past the end",
		 "\x0a\x7f"
		 "abc",
		 5},
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

/* ---- Decoding corner cases ----
 *
 * dt_decode() must accept and reject exactly what protobuf-c 1.4.1's generated unpack does, and give the
 * view its result implies. Each case states the expected outcome; the test also checks that protobuf-c
 * agrees on accepting it (the payload fuzz target compares every field on random inputs). */

#define T "\x78\x01" /* Dnstap.type = MESSAGE */
#define BYTES(s)                                    \
	{                                           \
		(const uint8_t *)(s), sizeof(s) - 1 \
	}
#define MSG(t) .dnstap_type = DT_TYPE_MESSAGE, .has_message = true, .type = (t)

struct decode_case {
	const char *name;
	const char *payload;
	size_t len;
	dt_res res;
	struct dt_message want; /* on DT_OK: has_ flags, and the values of the fields present */
};

#define CASE(name, payload, res, ...)                    \
	{                                                \
		name, payload, sizeof(payload) - 1, res, \
		{                                        \
			__VA_ARGS__                      \
		}                                        \
	}

static const struct decode_case decode_cases[] = {
	/* repeated fields */
	CASE("last of repeated bytes wins",
	     "\x0a\x01"
	     "a"
	     "\x0a\x01"
	     "b" T,
	     DT_OK, .dnstap_type = 1, .has_identity = true, .identity = BYTES("b")),
	CASE("later empty bytes wins",
	     "\x0a\x01"
	     "a"
	     "\x0a\x00" T,
	     DT_OK, .dnstap_type = 1, .has_identity = true),
	CASE("last of repeated enum wins", "\x78\x02" T, DT_OK, .dnstap_type = 1),
	/* varints */
	CASE("enum takes the low 32 bits as int32", "\x78\xff\xff\xff\xff\x0f", DT_OK, .dnstap_type = -1),
	CASE("10-byte varint", "\x78\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", DT_OK, .dnstap_type = -1),
	CASE("10-byte varint, high bits of the last byte dropped", "\x78\x81\x80\x80\x80\x80\x80\x80\x80\x80\x7f",
	     DT_OK, .dnstap_type = 1),
	CASE("enum drops bits above 32", "\x78\x80\x80\x80\x80\x10", DT_OK, .dnstap_type = 0),
	CASE("11-byte varint", "\x78\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", DT_ERR_DECODE),
	CASE("truncated varint", "\x78\x80", DT_ERR_DECODE),
	CASE("uint32 takes the low 32 bits", "\x72\x08\x08\x05\x30\xb5\x80\x80\x80\x10" T, DT_OK, MSG(5),
	     .has_query_port = true, .query_port = 53),
	CASE("uint64 takes 64 bits", "\x72\x0d\x08\x05\x40\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" T, DT_OK, MSG(5),
	     .has_query_time_sec = true, .query_time_sec = UINT64_MAX),
	CASE("fixed32", "\x72\x07\x08\x05\x4d\x01\x00\x00\x00" T, DT_OK, MSG(5), .has_query_time_nsec = true,
	     .query_time_nsec = 1),
	CASE("truncated fixed32", "\x72\x05\x08\x05\x4d\x01\x00" T, DT_ERR_DECODE),
	CASE("two-byte key (http_protocol)", "\x72\x05\x08\x05\x80\x01\x02" T, DT_OK, MSG(5), .has_http_protocol = true,
	     .http_protocol = 2),
	/* required fields */
	CASE("empty payload", "", DT_ERR_DECODE),
	CASE("Dnstap.type missing",
	     "\x0a\x01"
	     "x",
	     DT_ERR_DECODE),
	CASE("Message.type missing", "\x72\x02\x30\x01" T, DT_ERR_DECODE),
	CASE("empty message", "\x72\x00" T, DT_ERR_DECODE),
	/* known fields with the wrong wire type */
	CASE("identity as varint", "\x08\x01" T, DT_ERR_DECODE),
	CASE("type as length-delimited", "\x7a\x01\x01", DT_ERR_DECODE),
	CASE("message as fixed32", "\x75\x00\x00\x00\x00" T, DT_ERR_DECODE),
	CASE("query_time_nsec as varint", "\x72\x04\x08\x05\x48\x05" T, DT_ERR_DECODE),
	CASE("query_address as varint", "\x72\x04\x08\x05\x20\x01" T, DT_ERR_DECODE),
	CASE("http_protocol as length-delimited", "\x72\x05\x08\x05\x82\x01\x00" T, DT_ERR_DECODE),
	CASE("policy action as fixed32", "\x72\x09\x08\x05\x7a\x05\x1d\x01\x00\x00\x00" T, DT_ERR_DECODE),
	/* unknown fields and keys */
	CASE("unknown fields of each wire type skipped",
	     "\x20\x81\x01"
	     "\x21\x00\x00\x00\x00\x00\x00\x00\x00"
	     "\x22\x02"
	     "ab"
	     "\x25\x00\x00\x00\x00" T,
	     DT_OK, .dnstap_type = 1),
	CASE("unknown fields in message and policy skipped", "\x72\x0a\x08\x05\x88\x01\x05\x7a\x03\x30\x81\x01" T,
	     DT_OK, MSG(5), .has_policy = true),
	CASE("group start", "\x23" T, DT_ERR_DECODE),
	CASE("group end", "\x24" T, DT_ERR_DECODE),
	CASE("wire type 6", "\x26" T, DT_ERR_DECODE),
	CASE("wire type 7", "\x27" T, DT_ERR_DECODE),
	CASE("group in a policy", "\x72\x05\x08\x05\x7a\x01\x33" T, DT_ERR_DECODE),
	CASE("one-byte key of field 0", "\x00\x00" T, DT_ERR_DECODE),
	CASE("one-byte key of field 0 in a policy", "\x72\x06\x08\x05\x7a\x02\x00\x00" T, DT_ERR_DECODE),
	CASE("overlong key of field 0 is an unknown field", "\x80\x00\x00" T, DT_OK, .dnstap_type = 1),
	CASE("overlong key of a known field",
	     "\x8a\x80\x80\x80\x00\x01"
	     "A" T,
	     DT_OK, .dnstap_type = 1, .has_identity = true, .identity = BYTES("A")),
	CASE("6-byte key",
	     "\x8a\x80\x80\x80\x80\x00\x01"
	     "A" T,
	     DT_ERR_DECODE),
	CASE("32-bit field number", "\xf8\xff\xff\xff\x7f\x00" T, DT_OK, .dnstap_type = 1),
	/* lengths */
	CASE("length past the end",
	     "\x0a\x7f"
	     "abc",
	     DT_ERR_DECODE),
	CASE("length past the end of a message",
	     "\x72\x04\x08\x05\x22\x03"
	     "ab" T,
	     DT_ERR_DECODE),
	CASE("overlong length prefix",
	     "\x0a\x81\x80\x80\x80\x00"
	     "x" T,
	     DT_OK, .dnstap_type = 1, .has_identity = true, .identity = BYTES("x")),
	CASE("5-byte length above 2^32",
	     "\x0a\x81\x80\x80\x80\x10"
	     "x" T,
	     DT_ERR_DECODE),
	CASE("length of 2^32 - 1", "\x0a\xff\xff\xff\xff\x0f" T, DT_ERR_DECODE),
	CASE("6-byte length prefix", "\x0a\x80\x80\x80\x80\x80\x00" T, DT_ERR_DECODE),
	/* repeated embedded messages merge */
	CASE("messages merge",
	     "\x72\x08\x08\x05\x22\x02"
	     "ab"
	     "\x30\x35"
	     "\x72\x06\x08\x06\x2a\x02"
	     "cd" T,
	     DT_OK, MSG(6), .has_query_address = true, .query_address = BYTES("ab"), .has_response_address = true,
	     .response_address = BYTES("cd"), .has_query_port = true, .query_port = 53),
	CASE("merge: a later empty bytes field keeps the earlier value",
	     "\x72\x06\x08\x05\x22\x02"
	     "ab"
	     "\x72\x04\x08\x06\x22\x00" T,
	     DT_OK, MSG(6), .has_query_address = true, .query_address = BYTES("ab")),
	CASE("merge: an earlier empty bytes field is lost", "\x72\x04\x08\x05\x22\x00\x72\x02\x08\x06" T, DT_OK,
	     MSG(6)),
	CASE("within one message, a later empty bytes field wins",
	     "\x72\x08\x08\x05\x22\x02"
	     "ab"
	     "\x22\x00" T,
	     DT_OK, MSG(5), .has_query_address = true),
	CASE("merge: each message needs its type", "\x72\x02\x08\x05\x72\x02\x30\x01" T, DT_ERR_DECODE),
	CASE("policies merge",
	     "\x72\x0d\x08\x05\x7a\x05\x0a\x03"
	     "rpz"
	     "\x7a\x02\x18\x03" T,
	     DT_OK, MSG(5), .has_policy = true, .has_policy_type = true, .policy_type = "rpz",
	     .has_policy_action = true, .policy_action = 3),
	CASE("policies of merged messages merge",
	     "\x72\x0b\x08\x05\x7a\x07\x0a\x03"
	     "rpz"
	     "\x12\x00"
	     "\x72\x08\x08\x06\x7a\x04\x18\x03\x12\x00" T,
	     DT_OK, MSG(6), .has_policy = true, .has_policy_type = true, .policy_type = "rpz",
	     .has_policy_action = true, .policy_action = 3, .has_policy_rule = true),
	/* Policy.type */
	CASE("policy type: not checked as UTF-8, cut at a NUL",
	     "\x72\x0a\x08\x05\x7a\x06\x0a\x04\xff"
	     "a\0b" T,
	     DT_OK, MSG(5), .has_policy = true, .has_policy_type = true,
	     .policy_type = "\xff"
			    "a"),
	CASE("empty policy type", "\x72\x06\x08\x05\x7a\x02\x0a\x00" T, DT_OK, MSG(5), .has_policy = true,
	     .has_policy_type = true, .policy_type = ""),
};

static void expect_bytes(const char *name, const char *field, bool has, struct dt_bytes got, bool want_has,
			 struct dt_bytes want)
{
	ck_assert_msg(has == want_has, "%s: has_%s is %d", name, field, has);
	if (!has)
		return;
	ck_assert_msg(got.len == want.len && (got.len == 0 || memcmp(got.data, want.data, got.len) == 0),
		      "%s: %s differs", name, field);
	ck_assert_msg(got.len != 0 || got.data == NULL, "%s: empty %s has a data pointer", name, field);
}

#define EXPECT_VALUE(f) \
	ck_assert_msg(v->has_##f == w->has_##f && (!v->has_##f || v->f == w->f), "%s: " #f " differs", c->name)
#define EXPECT_BYTES(f) expect_bytes(c->name, #f, v->has_##f, v->f, w->has_##f, w->f)

static void expect_view(const struct decode_case *c, const struct dt_message *v)
{
	const struct dt_message *w = &c->want;
	EXPECT_BYTES(identity);
	EXPECT_BYTES(version);
	EXPECT_BYTES(extra);
	ck_assert_msg(v->dnstap_type == w->dnstap_type, "%s: dnstap type %d", c->name, v->dnstap_type);
	ck_assert_msg(v->has_message == w->has_message, "%s: has_message", c->name);
	if (!w->has_message)
		return;
	ck_assert_msg(v->type == w->type, "%s: type %d", c->name, v->type);
	EXPECT_VALUE(socket_family);
	EXPECT_VALUE(socket_protocol);
	EXPECT_BYTES(query_address);
	EXPECT_BYTES(response_address);
	EXPECT_VALUE(query_port);
	EXPECT_VALUE(response_port);
	EXPECT_VALUE(query_time_sec);
	EXPECT_VALUE(query_time_nsec);
	EXPECT_VALUE(response_time_sec);
	EXPECT_VALUE(response_time_nsec);
	EXPECT_BYTES(query_message);
	EXPECT_BYTES(response_message);
	EXPECT_BYTES(query_zone);
	EXPECT_VALUE(http_protocol);
	ck_assert_msg(v->has_policy == w->has_policy, "%s: has_policy", c->name);
	ck_assert_msg(v->has_policy_type == w->has_policy_type, "%s: has_policy_type", c->name);
	if (w->has_policy_type)
		ck_assert_msg(strcmp(v->policy_type, w->policy_type) == 0, "%s: policy type", c->name);
	EXPECT_BYTES(policy_rule);
	EXPECT_VALUE(policy_action);
	EXPECT_VALUE(policy_match);
	EXPECT_BYTES(policy_value);
}

START_TEST(decode_corner_cases)
{
	struct dt_decoder *d = dt_decoder_new();
	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		/* a copy of exactly len bytes, so that a read past the end shows under the sanitizers */
		uint8_t *p = malloc(c->len + 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, c->payload, c->len);
		const struct dt_message *v;
		dt_res res = dt_decode(d, p, c->len, &v);
		ck_assert_msg(res == c->res, "%s: got %s", c->name, dt_strerror(res));
		if (res == DT_OK)
			expect_view(c, v);
		Dnstap__Dnstap *pb = dnstap__dnstap__unpack(NULL, c->len, p);
		ck_assert_msg((pb != NULL) == (res == DT_OK), "%s: protobuf-c disagrees", c->name);
		dnstap__dnstap__free_unpacked(pb, NULL);
		free(p);
	}
	dt_decoder_free(d);
}
END_TEST

START_TEST(decode_points_into_payload)
{
	/* byte strings are not copied; the policy type is, with its NUL, into the decoder */
	static const uint8_t p[] =
		"\x0a\x03"
		"ns1"
		"\x72\x0f\x08\x05\x22\x04\x7f\x00\x00\x01\x7a\x05\x0a\x03"
		"rpz" T;
	struct dt_decoder *d = dt_decoder_new();
	const struct dt_message *v;
	ck_assert_int_eq(dt_decode(d, p, sizeof(p) - 1, &v), DT_OK);
	ck_assert_ptr_eq(v->identity.data, p + 2);
	ck_assert_ptr_eq(v->query_address.data, p + 11);
	ck_assert_str_eq(v->policy_type, "rpz");
	ck_assert(v->policy_type < (const char *)p || v->policy_type >= (const char *)p + sizeof(p));
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

/* dt__json_escape_tail() takes eight bytes at a time where it can; dt__put_json_string() takes one. On
 * random text (biased to the bytes that need escapes, and with bytes past ASCII, valid UTF-8 or not, at
 * every position), both must give the same escapes. */
START_TEST(json_escape_tail_as_byte_by_byte)
{
	static const uint8_t alphabet[] = "ab.\t\n\"\\<>&'\x01\x1f\x20\x7e\x7f\x80\xc3\xa9\xe2\x80\xa8\xff";
	struct dt_buf want = {0}, got = {0};
	uint8_t text[80];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 20000; round++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t n = (size_t)(seed >> 33) % sizeof(text);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			unsigned r = (unsigned)(seed >> 40);
			/* mostly plain letters, as in a DNS message's text; sometimes any byte at all */
			text[i] = r % 4 == 0
					  ? alphabet[(r >> 8) % (sizeof(alphabet) - 1)]
					  : (r % 4 == 1 && r % 7 == 0 ? (uint8_t)(r >> 16) : (uint8_t)('a' + r % 26));
		}
		want.len = 0;
		dt__put_json_string(&want, text, n);
		got.len = 0;
		dt__buf_lit(&got, "\"");
		dt__buf_put(&got, text, n);
		dt__json_escape_tail(&got, 1);
		dt__buf_lit(&got, "\"");
		ck_assert_uint_eq(got.len, want.len);
		ck_assert_mem_eq(got.data, want.data, want.len);
	}
	dt__buf_free(&want);
	dt__buf_free(&got);
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
	tcase_add_test(tc, decode_corner_cases);
	tcase_add_test(tc, decode_points_into_payload);
	tcase_add_test(tc, decode_many_unknown_fields);
	tcase_add_test(tc, ip_text_as_go);
	tcase_add_test(tc, strings_as_go);
	tcase_add_test(tc, json_escape_tail_as_byte_by_byte);
	tcase_add_test(tc, times_as_go);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
