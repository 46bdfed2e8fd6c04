/* Fuzz target: the input as one payload (the body of a data frame): dt_decode(), then dt_format() in the
 * quiet, YAML and JSON formats, whose output must keep the shape each format promises (one line; a YAML
 * document; one valid JSON object on one line). dt_decode() must accept exactly the payloads protobuf-c's
 * generated code accepts and give the view that code's result implies. A decoded message is also encoded
 * again, decoded, and formatted: the text must come out the same. */
#include "dnstap.h"
#include "dnstap.pb-c.h"
#include "fuzz.h"
#include "stats.h"

#include <string.h>

/* ---- The reference decoder: protobuf-c ---- */

static struct dt_bytes ref_bytes(ProtobufCBinaryData b)
{
	return (struct dt_bytes){.data = b.data, .len = b.len};
}

/* The view of a payload as protobuf-c unpacks it (absent fields keep protobuf-c's defaults). */
static void reference_view(const Dnstap__Dnstap *dt, struct dt_message *v)
{
	memset(v, 0, sizeof(*v));
	v->has_identity = dt->has_identity;
	v->identity = ref_bytes(dt->identity);
	v->has_version = dt->has_version;
	v->version = ref_bytes(dt->version);
	v->has_extra = dt->has_extra;
	v->extra = ref_bytes(dt->extra);
	v->dnstap_type = (int)dt->type;
	const Dnstap__Message *m = dt->message;
	if (m == NULL)
		return;
	v->has_message = true;
	v->type = (int)m->type;
	v->has_socket_family = m->has_socket_family;
	v->socket_family = (int)m->socket_family;
	v->has_socket_protocol = m->has_socket_protocol;
	v->socket_protocol = (int)m->socket_protocol;
	v->has_query_address = m->has_query_address;
	v->query_address = ref_bytes(m->query_address);
	v->has_response_address = m->has_response_address;
	v->response_address = ref_bytes(m->response_address);
	v->has_query_port = m->has_query_port;
	v->query_port = m->query_port;
	v->has_response_port = m->has_response_port;
	v->response_port = m->response_port;
	v->has_query_time_sec = m->has_query_time_sec;
	v->query_time_sec = m->query_time_sec;
	v->has_query_time_nsec = m->has_query_time_nsec;
	v->query_time_nsec = m->query_time_nsec;
	v->has_response_time_sec = m->has_response_time_sec;
	v->response_time_sec = m->response_time_sec;
	v->has_response_time_nsec = m->has_response_time_nsec;
	v->response_time_nsec = m->response_time_nsec;
	v->has_query_message = m->has_query_message;
	v->query_message = ref_bytes(m->query_message);
	v->has_response_message = m->has_response_message;
	v->response_message = ref_bytes(m->response_message);
	v->has_query_zone = m->has_query_zone;
	v->query_zone = ref_bytes(m->query_zone);
	v->has_http_protocol = m->has_http_protocol;
	v->http_protocol = (int)m->http_protocol;
	const Dnstap__Policy *p = m->policy;
	if (p == NULL)
		return;
	v->has_policy = true;
	v->has_policy_type = p->type != NULL;
	v->policy_type = p->type;
	v->has_policy_rule = p->has_rule;
	v->policy_rule = ref_bytes(p->rule);
	v->has_policy_action = p->has_action;
	v->policy_action = (int)p->action;
	v->has_policy_match = p->has_match;
	v->policy_match = (int)p->match;
	v->has_policy_value = p->has_value;
	v->policy_value = ref_bytes(p->value);
}

/* Same bytes, and a NULL data pointer exactly where protobuf-c has one (an empty or absent string). */
static bool bytes_same(struct dt_bytes a, struct dt_bytes b)
{
	return a.len == b.len && (a.data == NULL) == (b.data == NULL) &&
	       (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* dt_decode() copies no byte string: each points into the payload. */
static void check_points_into(struct dt_bytes b, const uint8_t *payload, size_t size)
{
	if (b.data != NULL)
		FUZZ_CHECK(b.data >= payload && b.len <= size && (size_t)(b.data - payload) <= size - b.len);
}

static void check_zero_copy(const struct dt_message *m, const uint8_t *payload, size_t size)
{
	const struct dt_bytes all[] = {
		m->identity,      m->version,          m->extra,      m->query_address, m->response_address,
		m->query_message, m->response_message, m->query_zone, m->policy_rule,   m->policy_value,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		check_points_into(all[i], payload, size);
}

/* Every field of the two views agrees (byte strings by content). */
static void check_same_view(const struct dt_message *a, const struct dt_message *b)
{
#define SAME(f) FUZZ_CHECK(a->f == b->f)
#define SAME_BYTES(f) FUZZ_CHECK(a->has_##f == b->has_##f && bytes_same(a->f, b->f))
#define SAME_VALUE(f) FUZZ_CHECK(a->has_##f == b->has_##f && a->f == b->f)
	SAME_BYTES(identity);
	SAME_BYTES(version);
	SAME_BYTES(extra);
	SAME(dnstap_type);
	SAME(has_message);
	SAME(type);
	SAME_VALUE(socket_family);
	SAME_VALUE(socket_protocol);
	SAME_BYTES(query_address);
	SAME_BYTES(response_address);
	SAME_VALUE(query_port);
	SAME_VALUE(response_port);
	SAME_VALUE(query_time_sec);
	SAME_VALUE(query_time_nsec);
	SAME_VALUE(response_time_sec);
	SAME_VALUE(response_time_nsec);
	SAME_BYTES(query_message);
	SAME_BYTES(response_message);
	SAME_BYTES(query_zone);
	SAME_VALUE(http_protocol);
	SAME(has_policy);
	SAME(has_policy_type);
	if (a->has_policy_type)
		FUZZ_CHECK(strcmp(a->policy_type, b->policy_type) == 0);
	SAME_BYTES(policy_rule);
	SAME_VALUE(policy_action);
	SAME_VALUE(policy_match);
	SAME_BYTES(policy_value);
#undef SAME
#undef SAME_BYTES
#undef SAME_VALUE
}

/* ---- A strict JSON checker (RFC 8259, UTF-8) for the JSON format's lines ---- */

struct json {
	const uint8_t *p, *end;
	int depth;
};

static void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool is_digit(const struct json *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static bool json_number(struct json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (!is_digit(j))
		return false;
	if (*j->p++ != '0')
		while (is_digit(j))
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!is_digit(j))
			return false;
		while (is_digit(j))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!is_digit(j))
			return false;
		while (is_digit(j))
			j->p++;
	}
	return true;
}

/* One UTF-8 sequence of a non-ASCII character: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool json_utf8(struct json *j)
{
	uint8_t c = *j->p;
	size_t len;
	uint32_t r, min;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, r = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, r = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, r = c & 0x07, min = 0x10000;
	else
		return false;
	if ((size_t)(j->end - j->p) < len)
		return false;
	for (size_t i = 1; i < len; i++) {
		if ((j->p[i] & 0xc0) != 0x80)
			return false;
		r = r << 6 | (j->p[i] & 0x3f);
	}
	if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
		return false;
	j->p += len;
	return true;
}

static bool json_string(struct json *j)
{
	if (j->p == j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		uint8_t c = *j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			if (!json_utf8(j))
				return false;
			continue;
		}
		j->p++;
		if (c != '\\')
			continue;
		if (j->p == j->end)
			return false;
		c = *j->p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, j->p++)
				if (j->p == j->end || !strchr("0123456789abcdefABCDEF", *j->p) || *j->p == 0)
					return false;
		} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
			return false;
		}
	}
	return false;
}

static bool json_value(struct json *j);

/* An object (close is '}') or an array (close is ']'), from its opening bracket. */
static bool json_container(struct json *j, char close)
{
	if (++j->depth > 64)
		return false;
	j->p++;
	json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (close == '}') {
			if (!json_string(j))
				return false;
			json_ws(j);
			if (j->p == j->end || *j->p++ != ':')
				return false;
			json_ws(j);
		}
		if (!json_value(j))
			return false;
		json_ws(j);
		if (j->p == j->end)
			return false;
		uint8_t c = *j->p++;
		if (c == close)
			break;
		if (c != ',')
			return false;
	}
	j->depth--;
	return true;
}

static bool json_value(struct json *j)
{
	if (j->p == j->end)
		return false;
	switch (*j->p) {
	case '{':
		return json_container(j, '}');
	case '[':
		return json_container(j, ']');
	case '"':
		return json_string(j);
	case 't':
		return json_lit(j, "true");
	case 'f':
		return json_lit(j, "false");
	case 'n':
		return json_lit(j, "null");
	default:
		return json_number(j);
	}
}

/* One JSON object, then a newline, and nothing else. */
static bool json_line_valid(const char *s, size_t n)
{
	struct json j = {(const uint8_t *)s, (const uint8_t *)s + n, 0};
	if (n < 2 || s[n - 1] != '\n' || *s != '{')
		return false;
	j.end--;
	return json_value(&j) && j.p == j.end;
}

/* ---- The shapes of the other two formats ---- */

static size_t count_char(const char *s, size_t n, char c)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

/* One document ending with "---": every line is a top-level key the YAML format writes, or indented. */
static bool yaml_valid(const char *s, size_t n)
{
	static const char *const keys[] = {"type: MESSAGE", "identity: ", "version: ", "extra: ", "message:", "---"};
	if (n < 4 || memcmp(s + n - 4, "---\n", 4) != 0)
		return false;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = (size_t)(nl - (s + i)); /* the text ends with a newline: nl is never NULL */
		bool ok = len >= 2 && s[i] == ' ' && s[i + 1] == ' ';
		for (size_t k = 0; !ok && k < sizeof(keys) / sizeof(keys[0]); k++)
			ok = len >= strlen(keys[k]) && memcmp(s + i, keys[k], strlen(keys[k])) == 0;
		if (!ok)
			return false;
		i += len + 1;
	}
	return true;
}

/* ---- The target ---- */

static const enum dt_format formats[3] = {DT_FORMAT_QUIET, DT_FORMAT_YAML, DT_FORMAT_JSON};

/* Formats m in the three formats into texts[], checking each one's shape. */
static void format_all(const struct dt_message *m, struct dt_buf texts[3])
{
	dt_res expect = m->dnstap_type != DT_TYPE_MESSAGE ? DT_ERR_NOT_MESSAGE
			: !m->has_message                 ? DT_ERR_NO_MESSAGE
							  : DT_OK;
	for (int f = 0; f < 3; f++) {
		struct dt_buf *t = &texts[f];
		t->len = 0;
		FUZZ_CHECK(dt_format(formats[f], m, t) == expect);
		FUZZ_CHECK(!t->failed && t->len <= t->cap);
		if (expect != DT_OK) {
			FUZZ_CHECK(t->len == 0); /* nothing appended */
			continue;
		}
		switch (formats[f]) {
		case DT_FORMAT_QUIET:
			FUZZ_CHECK(t->len > 0 && t->data[t->len - 1] == '\n' && count_char(t->data, t->len, '\n') == 1);
			break;
		case DT_FORMAT_YAML:
			FUZZ_CHECK(yaml_valid(t->data, t->len));
			break;
		case DT_FORMAT_JSON:
			FUZZ_CHECK(count_char(t->data, t->len, '\n') == 1 && json_line_valid(t->data, t->len));
			break;
		default: /* formats[] holds the three above only (fuzz_json covers -J) */
			break;
		}
	}
}

/* The statistics' scan gives dt_decode()'s verdict and the fields of its view, or leaves the payload
 * to dt_decode() (m: the view; NULL if dt_decode() rejected the payload). */
static void check_stats_scan(const uint8_t *data, size_t size, const struct dt_message *m)
{
	struct dt__stats_fields f, v;
	enum dt__scan_res r = dt__stats_scan(data, size, &f);
	if (r == DT__SCAN_DECODE)
		return;
	FUZZ_CHECK((r == DT__SCAN_OK) == (m != NULL));
	if (m == NULL)
		return;
	dt__stats_fields_of(m, &v);
	FUZZ_CHECK(f.identity.len == v.identity.len && f.has_message == v.has_message);
	if (f.identity.len > 0)
		FUZZ_CHECK(f.identity.data == v.identity.data);
	if (!f.has_message)
		return;
#define SAME_F(x) FUZZ_CHECK(f.x == v.x)
#define SAME_B(x) FUZZ_CHECK(f.has_##x == v.has_##x && f.x.len == v.x.len && (f.x.len == 0 || f.x.data == v.x.data))
	SAME_F(type);
	SAME_F(has_socket_family);
	SAME_F(has_socket_protocol);
	if (f.has_socket_family)
		SAME_F(socket_family);
	if (f.has_socket_protocol)
		SAME_F(socket_protocol);
	SAME_B(query_address);
	SAME_B(response_address);
	SAME_F(has_query_port);
	SAME_F(query_port);
	SAME_F(has_response_port);
	SAME_F(response_port);
	SAME_F(has_query_time_sec);
	SAME_F(query_time_sec);
	SAME_F(query_time_nsec);
	SAME_F(has_response_time_sec);
	SAME_F(response_time_sec);
	SAME_F(response_time_nsec);
	SAME_B(query_message);
	SAME_B(response_message);
#undef SAME_F
#undef SAME_B
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dt_decoder *dec, *dec2;
	static struct dt_buf texts[3], texts2[3];
	static uint8_t *enc;
	static size_t enc_cap;
	if (dec == NULL) {
		dec = dt_decoder_new();
		dec2 = dt_decoder_new();
		FUZZ_CHECK(dec != NULL && dec2 != NULL);
	}

	const struct dt_message *m;
	dt_res res = dt_decode(dec, data, size, &m);
	FUZZ_CHECK(res == DT_OK || res == DT_ERR_DECODE);
	Dnstap__Dnstap *ref = dnstap__dnstap__unpack(NULL, size, data);
	FUZZ_CHECK((res == DT_OK) == (ref != NULL));
	check_stats_scan(data, size, res == DT_OK ? m : NULL);
	if (res != DT_OK)
		return 0;
	struct dt_message ref_view;
	reference_view(ref, &ref_view);
	check_same_view(m, &ref_view);
	check_zero_copy(m, data, size);
	dnstap__dnstap__free_unpacked(ref, NULL);
	format_all(m, texts);

	/* Round trip: what we decoded, encoded again, reads back the same. */
	size_t need = dt_encoded_size(m), len = 0;
	if (need > enc_cap) {
		uint8_t *p = realloc(enc, need);
		FUZZ_CHECK(p != NULL);
		enc = p;
		enc_cap = need;
	}
	FUZZ_CHECK(dt_encode(m, enc, &len) == DT_OK && len == need);
	const struct dt_message *m2;
	FUZZ_CHECK(dt_decode(dec2, enc, len, &m2) == DT_OK);
	format_all(m2, texts2);
	for (int f = 0; f < 3; f++)
		FUZZ_CHECK(texts2[f].len == texts[f].len &&
			   (texts[f].len == 0 || memcmp(texts2[f].data, texts[f].data, texts[f].len) == 0));
	return 0;
}
