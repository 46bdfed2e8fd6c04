/* Decoding and encoding between payload bytes and struct dt_message. Decoding is a dedicated reader of the
 * three messages of lib/dnstap.proto that fills the view directly, pointing into the payload: it is the hot
 * path of every text format. It accepts and rejects exactly what protobuf-c 1.4.1's generated unpack
 * does, down to that library's quirks (noted where they matter); the payload fuzz target checks it against
 * protobuf-c. Encoding, which is not hot, still goes through the protobuf-c code generated from the schema. */
#include "dnstap.h"
#include "dnstap.pb-c.h"
#include "message_fields.h"
#include "stats.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dt_decoder {
	struct dt_message view;
	char *policy_type; /* the view's NUL-terminated copy of Policy.type, grown as needed */
	size_t policy_type_cap;
};

struct dt_decoder *dt_decoder_new(void)
{
	struct dt_decoder *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->policy_type_cap = 64;
	d->policy_type = malloc(d->policy_type_cap);
	if (d->policy_type == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void dt_decoder_free(struct dt_decoder *d)
{
	if (d == NULL)
		return;
	free(d->policy_type);
	free(d);
}

/* ==== Decoding ==== */

/* Protobuf wire types. protobuf-c fails on the others (groups, 3 and 4, included), known field or not. */
enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2, WT_32BIT = 5 };

/* A field key as read: field number << 3 | wire type (a field number has up to 32 bits). */
#define KEY(field, wt) ((uint64_t)(field) << 3 | (uint64_t)(wt))

/* protobuf-c scans at most this many fields per message (the capacity of its scan slabs) and fails on
 * one more. A field takes at least two bytes, so only a message longer than twice this can get there. */
#define MAX_FIELDS 134217712u

/* A message being decoded: the view its fields go to, and its Policy.type, which is copied and
 * NUL-terminated only once decoding is done (a later occurrence of the policy may replace it). */
struct decoding {
	struct dt_message *m;
	struct dt_bytes policy_type;
};

/* A varint of up to max_len bytes (protobuf-c's limit: 10 for a value, 5 for a key) within the buffer,
 * whose value's low 64 bits go to *v. NULL if it does not end in time. */
static const uint8_t *varint_loop(const uint8_t *p, const uint8_t *end, uint64_t *v, size_t max_len)
{
	size_t n = (size_t)(end - p) < max_len ? (size_t)(end - p) : max_len;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80) {
			*v = x;
			return p + i + 1;
		}
	}
	*v = 0;
	return NULL;
}

/* A varint value of more than one byte (get_varint() took the others). Away from the end of the buffer,
 * unrolled: each byte is added whole, and the continuation bit it brought is taken off again once the
 * next byte shows there is one. */
static const uint8_t *varint_slow(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (end - p < 10)
		return varint_loop(p, end, v, 10);
	uint64_t x = p[0] - 0x80, b;
#define STEP(i)                     \
	b = p[i];                   \
	x += b << (7 * (i));        \
	if (b < 0x80) {             \
		*v = x;             \
		return p + (i) + 1; \
	}                           \
	x -= (uint64_t)0x80 << (7 * (i));
	STEP(1)
	STEP(2)
	STEP(3)
	STEP(4)
	STEP(5)
	STEP(6)
	STEP(7)
	STEP(8)
	STEP(9)
#undef STEP
	*v = 0;
	return NULL;
}

static inline const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (p < end && *p < 0x80) {
		*v = *p;
		return p + 1;
	}
	return varint_slow(p, end, v);
}

/* A field key: a varint of at most 5 bytes, so the field number has at most 32 bits, as in protobuf-c
 * (which takes a longer or overlong-but-short key the same way: only its value counts). protobuf-c
 * rejects field number 0, but looks only at the first byte for it: a one-byte key 0x00-0x07 fails, an
 * overlong key of value 0-7 is an unknown field. p < end. */
static inline const uint8_t *get_key(const uint8_t *p, const uint8_t *end, uint64_t *key)
{
	if (*p < 0x80) {
		*key = *p;
		return *p >= 8 ? p + 1 : NULL;
	}
	return varint_loop(p, end, key, 5);
}

/* A length-delimited field's contents (*b, whose data pointer is never NULL here), as protobuf-c bounds
 * them: a length prefix of at most 5 bytes, a length of at most INT_MAX, and the contents within the
 * buffer. */
static const uint8_t *len_slow(const uint8_t *p, const uint8_t *end, struct dt_bytes *b)
{
	size_t rem = (size_t)(end - p), n = rem < 5 ? rem : 5, i;
	uint64_t val = 0;
	for (i = 0; i < n; i++) {
		val |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80)
			break;
	}
	b->data = p;
	b->len = 0;
	if (i == n || val > INT_MAX || val > rem - (i + 1))
		return NULL;
	b->data = p + i + 1;
	b->len = (size_t)val;
	return b->data + val;
}

/* The same, for lengths of one or two bytes inline. */
static inline const uint8_t *get_len(const uint8_t *p, const uint8_t *end, struct dt_bytes *b)
{
	size_t n;
	if (p < end && p[0] < 0x80) {
		n = p[0];
		p += 1;
	} else if (end - p >= 2 && p[1] < 0x80) {
		n = (size_t)(p[0] & 0x7f) | (size_t)p[1] << 7;
		p += 2;
	} else {
		return len_slow(p, end, b);
	}
	b->data = p;
	b->len = n;
	return n <= (size_t)(end - p) ? p + n : NULL;
}

/* A bytes field. protobuf-c leaves the data pointer NULL for an empty string; so does the view. */
static inline const uint8_t *get_bytes(const uint8_t *p, const uint8_t *end, struct dt_bytes *b)
{
	p = get_len(p, end, b);
	if (b->len == 0)
		b->data = NULL;
	return p;
}

/* An enum field: protobuf-c stores the low 32 bits of the varint as an int32 (values it does not know
 * included). */
static inline int enum_of(uint64_t v)
{
	return (int)(int32_t)(uint32_t)v;
}

static inline const uint8_t *get_fixed32(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (end - p < 4) {
		*v = 0;
		return NULL;
	}
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return p + 4;
}

/* Skips the value of a field this decoder does not keep, by its wire type. */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end, uint64_t key)
{
	uint64_t v;
	struct dt_bytes b;
	switch (key & 7) {
	case WT_VARINT:
		return get_varint(p, end, &v);
	case WT_64BIT:
		return end - p >= 8 ? p + 8 : NULL;
	case WT_LEN:
		return get_len(p, end, &b);
	case WT_32BIT:
		return end - p >= 4 ? p + 4 : NULL;
	default:
		return NULL;
	}
}

/* For a message long enough to hold more fields than protobuf-c takes: true if it holds no more. Fields
 * that do not scan fail later anyway. */
static bool field_count_ok(const uint8_t *p, const uint8_t *end)
{
	size_t n = 0;
	while (p != NULL && p < end) {
		uint64_t key;
		if (++n > MAX_FIELDS)
			return false;
		p = get_key(p, end, &key);
		if (p != NULL)
			p = skip_value(p, end, key);
	}
	return true;
}

static inline bool field_count_within_limit(const uint8_t *p, const uint8_t *end)
{
	return (size_t)(end - p) <= 2 * (size_t)MAX_FIELDS || field_count_ok(p, end);
}

/* Field numbers of each message (bit n: field n), to tell a known field with the wrong wire type, which
 * protobuf-c rejects, from an unknown one, which it skips. */
#define DNSTAP_FIELDS (1u << 1 | 1u << 2 | 1u << 3 | 1u << 14 | 1u << 15)
#define MESSAGE_FIELDS 0x1fffeu /* 1..16 */
#define POLICY_FIELDS 0x3eu     /* 1..5 */

static inline const uint8_t *skip_unknown(const uint8_t *p, const uint8_t *end, uint64_t key, uint32_t known)
{
	uint64_t field = key >> 3;
	if (field < 32 && (known >> field & 1))
		return NULL;
	return skip_value(p, end, key);
}

/* ---- Merging repeated embedded messages ----
 *
 * protobuf-c unpacks each occurrence of an embedded message on its own (each must be valid: Message.type
 * present) and merges it into the earlier ones field by field with merge_messages(): a field the later
 * occurrence has replaces the earlier one; a field it lacks keeps the earlier value. For bytes, though, it
 * looks at the data pointer, which is NULL for an empty string as for an absent one: an earlier non-empty
 * value survives a later *empty* one, and an earlier empty one is lost when the later occurrence lacks the
 * field. Required fields (Message.type) are not merged: the later one stands. */

#define MERGE_SCALAR(e, l, field)                \
	do {                                     \
		if ((l)->has_##field) {          \
			(e)->has_##field = true; \
			(e)->field = (l)->field; \
		}                                \
	} while (0)

#define MERGE_BYTES(e, l, field)                                                                               \
	do {                                                                                                   \
		if (!((e)->has_##field && (e)->field.len != 0) || ((l)->has_##field && (l)->field.len != 0)) { \
			(e)->has_##field = (l)->has_##field;                                                   \
			(e)->field = (l)->field;                                                               \
		}                                                                                              \
	} while (0)

static void merge_policy(struct decoding *e, const struct decoding *l)
{
	struct dt_message *em = e->m;
	const struct dt_message *lm = l->m;
	if (lm->has_policy_type) {
		em->has_policy_type = true;
		e->policy_type = l->policy_type;
	}
#define X(f, pb) MERGE_BYTES(em, lm, f);
	DT_POLICY_BYTES(X)
#undef X
#define X(f, pb, type, absent) MERGE_SCALAR(em, lm, f);
	DT_POLICY_NUMBERS(X)
#undef X
}

/* Copies the policy of l into e, which has none. */
static void copy_policy(struct decoding *e, const struct decoding *l)
{
	struct dt_message *em = e->m;
	const struct dt_message *lm = l->m;
	em->has_policy = true;
	em->has_policy_type = lm->has_policy_type;
	e->policy_type = l->policy_type;
#define X(f, ...)                  \
	em->has_##f = lm->has_##f; \
	em->f = lm->f;
	DT_POLICY_BYTES(X)
	DT_POLICY_NUMBERS(X)
#undef X
}

static void merge_message(struct decoding *e, const struct decoding *l)
{
	struct dt_message *em = e->m;
	const struct dt_message *lm = l->m;
	em->type = lm->type;
#define X(f, pb) MERGE_BYTES(em, lm, f);
	DT_MESSAGE_BYTES(X)
#undef X
#define X(f, pb, type, absent) MERGE_SCALAR(em, lm, f);
	DT_MESSAGE_NUMBERS(X)
#undef X
	if (lm->has_policy) {
		if (em->has_policy)
			merge_policy(e, l);
		else
			copy_policy(e, l);
	}
}

/* ---- The three messages ----
 *
 * Each reads the fields of one occurrence into the fields of the view; the cases are the fields it knows
 * with their right wire type. NEXT() advances or fails. */

#define NEXT(expr)                        \
	do {                              \
		if ((p = (expr)) == NULL) \
			return false;     \
	} while (0)

/* Absent enum fields read as the enum's first value, as protobuf-c's initializers leave them. */
static void policy_init(struct dt_message *m)
{
	m->has_policy = true;
#define X(f, pb, type, absent) \
	if (absent != 0)       \
		m->f = absent;
	DT_POLICY_NUMBERS(X)
#undef X
}

/* Decodes one occurrence of Policy into the (initialized) policy fields of d. */
static bool decode_policy(struct decoding *d, const uint8_t *p, const uint8_t *end)
{
	struct dt_message *m = d->m;
	if (!field_count_within_limit(p, end))
		return false;
	while (p < end) {
		uint64_t key, v;
		NEXT(get_key(p, end, &key));
		switch (key) {
		case KEY(1, WT_LEN):
			m->has_policy_type = true;
			NEXT(get_len(p, end, &d->policy_type));
			break;
		case KEY(2, WT_LEN):
			m->has_policy_rule = true;
			NEXT(get_bytes(p, end, &m->policy_rule));
			break;
		case KEY(3, WT_VARINT):
			m->has_policy_action = true;
			NEXT(get_varint(p, end, &v));
			m->policy_action = enum_of(v);
			break;
		case KEY(4, WT_VARINT):
			m->has_policy_match = true;
			NEXT(get_varint(p, end, &v));
			m->policy_match = enum_of(v);
			break;
		case KEY(5, WT_LEN):
			m->has_policy_value = true;
			NEXT(get_bytes(p, end, &m->policy_value));
			break;
		default:
			NEXT(skip_unknown(p, end, key, POLICY_FIELDS));
			break;
		}
	}
	return true;
}

/* Message.policy: the first occurrence decodes in place, a later one is merged into it. */
static bool __attribute__((noinline)) decode_policy_field(struct decoding *d, const uint8_t *p, size_t len)
{
	if (!d->m->has_policy) {
		policy_init(d->m);
		return decode_policy(d, p, p + len);
	}
	struct dt_message later = {0};
	struct decoding l = {.m = &later};
	policy_init(&later);
	if (!decode_policy(&l, p, p + len))
		return false;
	merge_policy(d, &l);
	return true;
}

static void message_init(struct dt_message *m)
{
	m->has_message = true;
#define X(f, pb, type, absent) \
	if (absent != 0)       \
		m->f = absent;
	DT_MESSAGE_NUMBERS(X)
#undef X
}

/* Reading Message and Dnstap, the hot part, is laid out for speed; the code per field is in one function,
 * message_field() or dnstap_field(), inlined where a field's key is known in advance:
 * - first, the fields are taken in the order encoders write them, with a single comparison of the key
 *   byte each, as long as they come so: field-number order, and PowerDNS's (Message 1, 3, 2, 4, 6, 5,
 *   7...; Dnstap 1, 2, 15, 14), whence the fields listed twice;
 * - then a loop takes whatever follows (fields out of order, repeated, unknown), switching on the first
 *   byte of the key: a known field with a one-byte key and its right wire type goes straight to its code,
 *   anything else to the general path, which reads the whole key.
 * Either way the fields are taken one after the other in payload order, by the same code, so the result
 * is that of the general path alone. */
#define IN_ORDER(field_fn, field, wt)                                                \
	do {                                                                         \
		if (p < end && *p == KEY(field, wt))                                 \
			NEXT(field_fn(d, m, KEY(field, wt), p + 1, end, &has_type)); \
	} while (0)

#define ONE_BYTE_KEY(field_fn, field, wt)                                    \
	case KEY(field, wt):                                                 \
		NEXT(field_fn(d, m, KEY(field, wt), p + 1, end, &has_type)); \
		break

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* One field of a Message (its key read): where the next field starts, or NULL. */
static ALWAYS_INLINE const uint8_t *message_field(struct decoding *d, struct dt_message *m, uint64_t key,
						  const uint8_t *p, const uint8_t *end, bool *has_type)
{
	uint64_t v;
	struct dt_bytes sub;
	switch (key) {
	case KEY(1, WT_VARINT):
		*has_type = true;
		p = get_varint(p, end, &v);
		m->type = enum_of(v);
		return p;
	case KEY(2, WT_VARINT):
		m->has_socket_family = true;
		p = get_varint(p, end, &v);
		m->socket_family = enum_of(v);
		return p;
	case KEY(3, WT_VARINT):
		m->has_socket_protocol = true;
		p = get_varint(p, end, &v);
		m->socket_protocol = enum_of(v);
		return p;
	case KEY(4, WT_LEN):
		m->has_query_address = true;
		return get_bytes(p, end, &m->query_address);
	case KEY(5, WT_LEN):
		m->has_response_address = true;
		return get_bytes(p, end, &m->response_address);
	case KEY(6, WT_VARINT):
		m->has_query_port = true;
		p = get_varint(p, end, &v);
		m->query_port = (uint32_t)v;
		return p;
	case KEY(7, WT_VARINT):
		m->has_response_port = true;
		p = get_varint(p, end, &v);
		m->response_port = (uint32_t)v;
		return p;
	case KEY(8, WT_VARINT):
		m->has_query_time_sec = true;
		return get_varint(p, end, &m->query_time_sec);
	case KEY(9, WT_32BIT):
		m->has_query_time_nsec = true;
		return get_fixed32(p, end, &m->query_time_nsec);
	case KEY(10, WT_LEN):
		m->has_query_message = true;
		return get_bytes(p, end, &m->query_message);
	case KEY(11, WT_LEN):
		m->has_query_zone = true;
		return get_bytes(p, end, &m->query_zone);
	case KEY(12, WT_VARINT):
		m->has_response_time_sec = true;
		return get_varint(p, end, &m->response_time_sec);
	case KEY(13, WT_32BIT):
		m->has_response_time_nsec = true;
		return get_fixed32(p, end, &m->response_time_nsec);
	case KEY(14, WT_LEN):
		m->has_response_message = true;
		return get_bytes(p, end, &m->response_message);
	case KEY(15, WT_LEN):
		p = get_len(p, end, &sub);
		return p != NULL && decode_policy_field(d, sub.data, sub.len) ? p : NULL;
	case KEY(16, WT_VARINT):
		m->has_http_protocol = true;
		p = get_varint(p, end, &v);
		m->http_protocol = enum_of(v);
		return p;
	default:
		return skip_unknown(p, end, key, MESSAGE_FIELDS);
	}
}

/* A field of a Message that the loop does not take directly. */
static const uint8_t *__attribute__((noinline))
message_field_any(struct decoding *d, struct dt_message *m, const uint8_t *p, const uint8_t *end, bool *has_type)
{
	uint64_t key;
	p = get_key(p, end, &key);
	return p != NULL ? message_field(d, m, key, p, end, has_type) : NULL;
}

/* Decodes one occurrence of Message into the (initialized) message fields of d. */
static bool decode_message(struct decoding *d, const uint8_t *p, const uint8_t *end)
{
	struct dt_message *m = d->m;
	bool has_type = false;
	if (!field_count_within_limit(p, end))
		return false;
	IN_ORDER(message_field, 1, WT_VARINT);
	IN_ORDER(message_field, 2, WT_VARINT);
	IN_ORDER(message_field, 3, WT_VARINT);
	IN_ORDER(message_field, 2, WT_VARINT);
	IN_ORDER(message_field, 4, WT_LEN);
	IN_ORDER(message_field, 5, WT_LEN);
	IN_ORDER(message_field, 6, WT_VARINT);
	IN_ORDER(message_field, 5, WT_LEN);
	IN_ORDER(message_field, 7, WT_VARINT);
	IN_ORDER(message_field, 8, WT_VARINT);
	IN_ORDER(message_field, 9, WT_32BIT);
	IN_ORDER(message_field, 10, WT_LEN);
	IN_ORDER(message_field, 11, WT_LEN);
	IN_ORDER(message_field, 12, WT_VARINT);
	IN_ORDER(message_field, 13, WT_32BIT);
	IN_ORDER(message_field, 14, WT_LEN);
	IN_ORDER(message_field, 11, WT_LEN);
	while (p < end) {
		switch (*p) {
			ONE_BYTE_KEY(message_field, 1, WT_VARINT);
			ONE_BYTE_KEY(message_field, 2, WT_VARINT);
			ONE_BYTE_KEY(message_field, 3, WT_VARINT);
			ONE_BYTE_KEY(message_field, 4, WT_LEN);
			ONE_BYTE_KEY(message_field, 5, WT_LEN);
			ONE_BYTE_KEY(message_field, 6, WT_VARINT);
			ONE_BYTE_KEY(message_field, 7, WT_VARINT);
			ONE_BYTE_KEY(message_field, 8, WT_VARINT);
			ONE_BYTE_KEY(message_field, 9, WT_32BIT);
			ONE_BYTE_KEY(message_field, 10, WT_LEN);
			ONE_BYTE_KEY(message_field, 11, WT_LEN);
			ONE_BYTE_KEY(message_field, 12, WT_VARINT);
			ONE_BYTE_KEY(message_field, 13, WT_32BIT);
			ONE_BYTE_KEY(message_field, 14, WT_LEN);
			ONE_BYTE_KEY(message_field, 15, WT_LEN);
		default:
			NEXT(message_field_any(d, m, p, end, &has_type));
			break;
		}
	}
	return has_type;
}

/* A later occurrence of Dnstap.message, merged into the first. */
static bool __attribute__((noinline)) merge_message_field(struct decoding *d, const uint8_t *p, size_t len)
{
	struct dt_message later = {0};
	struct decoding l = {.m = &later};
	message_init(&later);
	if (!decode_message(&l, p, p + len))
		return false;
	merge_message(d, &l);
	return true;
}

/* One field of the Dnstap (its key read): where the next field starts, or NULL. */
static ALWAYS_INLINE const uint8_t *dnstap_field(struct decoding *d, struct dt_message *m, uint64_t key,
						 const uint8_t *p, const uint8_t *end, bool *has_type)
{
	uint64_t v;
	struct dt_bytes sub;
	switch (key) {
	case KEY(1, WT_LEN):
		m->has_identity = true;
		return get_bytes(p, end, &m->identity);
	case KEY(2, WT_LEN):
		m->has_version = true;
		return get_bytes(p, end, &m->version);
	case KEY(3, WT_LEN):
		m->has_extra = true;
		return get_bytes(p, end, &m->extra);
	case KEY(14, WT_LEN):
		p = get_len(p, end, &sub);
		if (p == NULL)
			return NULL;
		if (m->has_message)
			return merge_message_field(d, sub.data, sub.len) ? p : NULL;
		message_init(m);
		return decode_message(d, sub.data, sub.data + sub.len) ? p : NULL;
	case KEY(15, WT_VARINT):
		*has_type = true;
		p = get_varint(p, end, &v);
		m->dnstap_type = enum_of(v);
		return p;
	default:
		return skip_unknown(p, end, key, DNSTAP_FIELDS);
	}
}

/* A field of the Dnstap that the loop does not take directly. */
static const uint8_t *__attribute__((noinline))
dnstap_field_any(struct decoding *d, struct dt_message *m, const uint8_t *p, const uint8_t *end, bool *has_type)
{
	uint64_t key;
	p = get_key(p, end, &key);
	return p != NULL ? dnstap_field(d, m, key, p, end, has_type) : NULL;
}

/* Decodes the Dnstap into the (zeroed) view of d. */
static bool decode_dnstap(struct decoding *d, const uint8_t *p, const uint8_t *end)
{
	struct dt_message *m = d->m;
	bool has_type = false;
	if (!field_count_within_limit(p, end))
		return false;
	IN_ORDER(dnstap_field, 1, WT_LEN);
	IN_ORDER(dnstap_field, 2, WT_LEN);
	IN_ORDER(dnstap_field, 3, WT_LEN);
	IN_ORDER(dnstap_field, 14, WT_LEN);
	IN_ORDER(dnstap_field, 15, WT_VARINT);
	IN_ORDER(dnstap_field, 14, WT_LEN);
	while (p < end) {
		switch (*p) {
			ONE_BYTE_KEY(dnstap_field, 1, WT_LEN);
			ONE_BYTE_KEY(dnstap_field, 2, WT_LEN);
			ONE_BYTE_KEY(dnstap_field, 3, WT_LEN);
			ONE_BYTE_KEY(dnstap_field, 14, WT_LEN);
			ONE_BYTE_KEY(dnstap_field, 15, WT_VARINT);
		default:
			NEXT(dnstap_field_any(d, m, p, end, &has_type));
			break;
		}
	}
	return has_type;
}

#undef ONE_BYTE_KEY
#undef IN_ORDER
#undef NEXT

/* The view's NUL-terminated copy of Policy.type, in the decoder. */
static bool copy_policy_type(struct dt_decoder *d, struct dt_bytes type)
{
	if (type.len >= d->policy_type_cap) {
		size_t cap = type.len + 1 > 2 * d->policy_type_cap ? type.len + 1 : 2 * d->policy_type_cap;
		char *p = realloc(d->policy_type, cap);
		if (p == NULL)
			return false;
		d->policy_type = p;
		d->policy_type_cap = cap;
	}
	if (type.len != 0)
		memcpy(d->policy_type, type.data, type.len);
	d->policy_type[type.len] = '\0';
	d->view.policy_type = d->policy_type;
	return true;
}

dt_res dt_decode(struct dt_decoder *d, const uint8_t *payload, size_t len, const struct dt_message **msg)
{
	if (d == NULL || (payload == NULL && len != 0) || msg == NULL)
		return DT_ERR_INVALID;
	struct dt_message *v = &d->view;
	memset(v, 0, sizeof(*v));
	struct decoding dec = {.m = v};
	if (len == 0 || !decode_dnstap(&dec, payload, payload + len))
		return DT_ERR_DECODE; /* (an empty payload lacks the required type) */
	if (v->has_policy_type && !copy_policy_type(d, dec.policy_type))
		return DT_ERR_NOMEM;
	*msg = v;
	return DT_OK;
}

/* ==== The statistics' scan ====
 *
 * dt__stats_scan() reads the fields the statistics count with the decoder's primitives and rules, field
 * by field in payload order as decode_dnstap() and decode_message() do, so it fails exactly where they
 * would; what it does not follow (a second Dnstap.message, which protobuf-c merges; Message.policy; a
 * known field with the wrong wire type) it leaves to dt_decode(). */

/* One field of a Message (its key read) into *f: where the next field starts; NULL with *r set where the
 * scan ends (DT__SCAN_BAD: the decoder fails there too; DT__SCAN_DECODE). Inlined with a known key on
 * the in-order path, as message_field() is. */
static ALWAYS_INLINE const uint8_t *scan_message_field(struct dt__stats_fields *f, uint64_t key, const uint8_t *p,
						       const uint8_t *end, bool *has_type, enum dt__scan_res *r)
{
	uint64_t v;
	struct dt_bytes b;
	switch (key) {
	case KEY(1, WT_VARINT):
		*has_type = true;
		p = get_varint(p, end, &v);
		f->type = enum_of(v);
		return p;
	case KEY(2, WT_VARINT):
		f->has_socket_family = true;
		p = get_varint(p, end, &v);
		f->socket_family = enum_of(v);
		return p;
	case KEY(3, WT_VARINT):
		f->has_socket_protocol = true;
		p = get_varint(p, end, &v);
		f->socket_protocol = enum_of(v);
		return p;
	case KEY(4, WT_LEN):
		f->has_query_address = true;
		return get_len(p, end, &f->query_address);
	case KEY(5, WT_LEN):
		f->has_response_address = true;
		return get_len(p, end, &f->response_address);
	case KEY(6, WT_VARINT):
		f->has_query_port = true;
		p = get_varint(p, end, &v);
		f->query_port = (uint32_t)v;
		return p;
	case KEY(7, WT_VARINT):
		f->has_response_port = true;
		p = get_varint(p, end, &v);
		f->response_port = (uint32_t)v;
		return p;
	case KEY(8, WT_VARINT):
		f->has_query_time_sec = true;
		return get_varint(p, end, &f->query_time_sec);
	case KEY(9, WT_32BIT):
		return get_fixed32(p, end, &f->query_time_nsec);
	case KEY(10, WT_LEN):
		f->has_query_message = true;
		return get_len(p, end, &f->query_message);
	case KEY(11, WT_LEN):
		return get_len(p, end, &b);
	case KEY(12, WT_VARINT):
		f->has_response_time_sec = true;
		return get_varint(p, end, &f->response_time_sec);
	case KEY(13, WT_32BIT):
		return get_fixed32(p, end, &f->response_time_nsec);
	case KEY(14, WT_LEN):
		f->has_response_message = true;
		return get_len(p, end, &f->response_message);
	case KEY(16, WT_VARINT):
		return get_varint(p, end, &v);
	default:
		if ((key >> 3) < 32 && (MESSAGE_FIELDS >> (key >> 3) & 1)) {
			*r = DT__SCAN_DECODE; /* the policy, or a known field the decoder rejects */
			return NULL;
		}
		return skip_value(p, end, key);
	}
}

static const uint8_t *__attribute__((noinline))
scan_message_field_any(struct dt__stats_fields *f, const uint8_t *p, const uint8_t *end, bool *has_type,
		       enum dt__scan_res *r)
{
	uint64_t key;
	p = get_key(p, end, &key);
	return p != NULL ? scan_message_field(f, key, p, end, has_type, r) : NULL;
}

#define SCAN(expr)                        \
	do {                              \
		if ((p = (expr)) == NULL) \
			return r;         \
	} while (0)

#define SCAN_IN_ORDER(field, wt)                                                                \
	do {                                                                                    \
		if (p < end && *p == KEY(field, wt))                                            \
			SCAN(scan_message_field(f, KEY(field, wt), p + 1, end, &has_type, &r)); \
	} while (0)

/* One occurrence of Message, in decode_message()'s order of paths. */
static enum dt__scan_res scan_message(const uint8_t *p, const uint8_t *end, struct dt__stats_fields *f)
{
	bool has_type = false;
	enum dt__scan_res r = DT__SCAN_BAD;
	SCAN_IN_ORDER(1, WT_VARINT);
	SCAN_IN_ORDER(2, WT_VARINT);
	SCAN_IN_ORDER(3, WT_VARINT);
	SCAN_IN_ORDER(2, WT_VARINT);
	SCAN_IN_ORDER(4, WT_LEN);
	SCAN_IN_ORDER(5, WT_LEN);
	SCAN_IN_ORDER(6, WT_VARINT);
	SCAN_IN_ORDER(5, WT_LEN);
	SCAN_IN_ORDER(7, WT_VARINT);
	SCAN_IN_ORDER(8, WT_VARINT);
	SCAN_IN_ORDER(9, WT_32BIT);
	SCAN_IN_ORDER(10, WT_LEN);
	SCAN_IN_ORDER(11, WT_LEN);
	SCAN_IN_ORDER(12, WT_VARINT);
	SCAN_IN_ORDER(13, WT_32BIT);
	SCAN_IN_ORDER(14, WT_LEN);
	SCAN_IN_ORDER(11, WT_LEN);
	while (p < end)
		SCAN(scan_message_field_any(f, p, end, &has_type, &r));
	return has_type ? DT__SCAN_OK : DT__SCAN_BAD;
}

#undef SCAN_IN_ORDER

/* One field of the Dnstap (its key read), as scan_message_field() for the Message. */
static ALWAYS_INLINE const uint8_t *scan_dnstap_field(struct dt__stats_fields *f, uint64_t key, const uint8_t *p,
						      const uint8_t *end, bool *has_type, enum dt__scan_res *r)
{
	uint64_t v;
	struct dt_bytes b;
	switch (key) {
	case KEY(1, WT_LEN):
		return get_len(p, end, &f->identity);
	case KEY(2, WT_LEN):
	case KEY(3, WT_LEN):
		return get_len(p, end, &b);
	case KEY(14, WT_LEN):
		if (f->has_message) {
			*r = DT__SCAN_DECODE; /* protobuf-c merges the two */
			return NULL;
		}
		if ((p = get_len(p, end, &b)) == NULL)
			return NULL;
		/* the fields of the message start out absent */
		memset(&f->has_message, 0,
		       offsetof(struct dt__stats_fields, query_address) -
			       offsetof(struct dt__stats_fields, has_message));
		f->query_address = f->response_address = f->query_message = f->response_message = (struct dt_bytes){0};
		f->has_message = true;
		*r = scan_message(b.data, b.data + b.len, f);
		if (*r != DT__SCAN_OK)
			return NULL;
		*r = DT__SCAN_BAD;
		return p;
	case KEY(15, WT_VARINT):
		*has_type = true;
		return get_varint(p, end, &v);
	default:
		if ((key >> 3) < 32 && (DNSTAP_FIELDS >> (key >> 3) & 1)) {
			*r = DT__SCAN_DECODE;
			return NULL;
		}
		return skip_value(p, end, key);
	}
}

static const uint8_t *__attribute__((noinline))
scan_dnstap_field_any(struct dt__stats_fields *f, const uint8_t *p, const uint8_t *end, bool *has_type,
		      enum dt__scan_res *r)
{
	uint64_t key;
	p = get_key(p, end, &key);
	return p != NULL ? scan_dnstap_field(f, key, p, end, has_type, r) : NULL;
}

#define SCAN_IN_ORDER(field, wt)                                                               \
	do {                                                                                   \
		if (p < end && *p == KEY(field, wt))                                           \
			SCAN(scan_dnstap_field(f, KEY(field, wt), p + 1, end, &has_type, &r)); \
	} while (0)

enum dt__scan_res dt__stats_scan(const uint8_t *payload, size_t len, struct dt__stats_fields *f)
{
	const uint8_t *p = payload, *end = payload + len;
	bool has_type = false;
	enum dt__scan_res r = DT__SCAN_BAD;
	f->identity.len = 0;
	f->has_message = false;
	if (len == 0)
		return DT__SCAN_BAD;
	if (len > 2 * (size_t)MAX_FIELDS)
		return DT__SCAN_DECODE;
	/* decode_dnstap()'s order of paths */
	SCAN_IN_ORDER(1, WT_LEN);
	SCAN_IN_ORDER(2, WT_LEN);
	SCAN_IN_ORDER(3, WT_LEN);
	SCAN_IN_ORDER(14, WT_LEN);
	SCAN_IN_ORDER(15, WT_VARINT);
	SCAN_IN_ORDER(14, WT_LEN);
	while (p < end)
		SCAN(scan_dnstap_field_any(f, p, end, &has_type, &r));
	return has_type ? DT__SCAN_OK : DT__SCAN_BAD;
}

#undef SCAN_IN_ORDER
#undef SCAN

void dt__stats_fields_of(const struct dt_message *m, struct dt__stats_fields *f)
{
	memset(f, 0, sizeof(*f));
	if (m->has_identity)
		f->identity = m->identity;
	f->has_message = m->has_message;
	f->type = m->type;
#define COPY(x) f->x = m->x
	COPY(has_socket_family);
	COPY(socket_family);
	COPY(has_socket_protocol);
	COPY(socket_protocol);
	COPY(has_query_address);
	COPY(query_address);
	COPY(has_response_address);
	COPY(response_address);
	COPY(has_query_port);
	COPY(query_port);
	COPY(has_response_port);
	COPY(response_port);
	COPY(has_query_time_sec);
	COPY(query_time_sec);
	COPY(query_time_nsec);
	COPY(has_response_time_sec);
	COPY(response_time_sec);
	COPY(response_time_nsec);
	COPY(has_query_message);
	COPY(query_message);
	COPY(has_response_message);
	COPY(response_message);
#undef COPY
}

/* ==== Encoding ==== */

static ProtobufCBinaryData pb_bytes(struct dt_bytes b)
{
	/* protobuf-c only reads through this pointer when packing */
	return (ProtobufCBinaryData){.len = b.len, .data = (uint8_t *)(uintptr_t)b.data};
}

/* Builds the protobuf-c structs that describe m; they point into m's byte strings, copy nothing. */
static void pb_fill(const struct dt_message *m, Dnstap__Dnstap *dt, Dnstap__Message *pm, Dnstap__Policy *pp)
{
	dnstap__dnstap__init(dt);
#define BYTES(to, from, f, pb)            \
	(to)->has_##pb = (from)->has_##f; \
	(to)->pb = pb_bytes((from)->f);
#define NUMBER(to, from, f, pb)           \
	(to)->has_##pb = (from)->has_##f; \
	(to)->pb = (from)->f;
#define X(f, pb) BYTES(dt, m, f, pb)
	DT_DNSTAP_BYTES(X)
#undef X
	dt->type = (Dnstap__Dnstap__Type)m->dnstap_type;
	if (!m->has_message)
		return;

	dnstap__message__init(pm);
	dt->message = pm;
	pm->type = (Dnstap__Message__Type)m->type;
#define X(f, pb) BYTES(pm, m, f, pb)
	DT_MESSAGE_BYTES(X)
#undef X
#define X(f, pb, type, absent) NUMBER(pm, m, f, pb)
	DT_MESSAGE_NUMBERS(X)
#undef X
	if (!m->has_policy)
		return;

	dnstap__policy__init(pp);
	pm->policy = pp;
	pp->type = m->has_policy_type ? (char *)(uintptr_t)m->policy_type : NULL;
#define X(f, pb) BYTES(pp, m, f, pb)
	DT_POLICY_BYTES(X)
#undef X
#define X(f, pb, type, absent) NUMBER(pp, m, f, pb)
	DT_POLICY_NUMBERS(X)
#undef X
#undef NUMBER
#undef BYTES
}

size_t dt_encoded_size(const struct dt_message *m)
{
	Dnstap__Dnstap dt;
	Dnstap__Message pm;
	Dnstap__Policy pp;
	pb_fill(m, &dt, &pm, &pp);
	return dnstap__dnstap__get_packed_size(&dt);
}

dt_res dt_encode(const struct dt_message *m, uint8_t *out, size_t *len)
{
	if (m == NULL || out == NULL || len == NULL)
		return DT_ERR_INVALID;
	Dnstap__Dnstap dt;
	Dnstap__Message pm;
	Dnstap__Policy pp;
	pb_fill(m, &dt, &pm, &pp);
	*len = dnstap__dnstap__pack(&dt, out);
	return DT_OK;
}

/* ==== Enum names ==== */

#define NAME_OF(table, v) ((v) >= 1 && (size_t)(v) < sizeof(table) / sizeof(table[0]) ? table[v] : NULL)

const char *dt_message_type_name(int type)
{
	static const char *const names[] = {
		NULL,
		"AUTH_QUERY",
		"AUTH_RESPONSE",
		"RESOLVER_QUERY",
		"RESOLVER_RESPONSE",
		"CLIENT_QUERY",
		"CLIENT_RESPONSE",
		"FORWARDER_QUERY",
		"FORWARDER_RESPONSE",
		"STUB_QUERY",
		"STUB_RESPONSE",
		"TOOL_QUERY",
		"TOOL_RESPONSE",
		"UPDATE_QUERY",
		"UPDATE_RESPONSE",
	};
	return NAME_OF(names, type);
}

const char *dt_socket_family_name(int family)
{
	static const char *const names[] = {NULL, "INET", "INET6"};
	return NAME_OF(names, family);
}

const char *dt_socket_protocol_name(int protocol)
{
	static const char *const names[] = {NULL, "UDP", "TCP", "DOT", "DOH", "DNSCryptUDP", "DNSCryptTCP", "DOQ"};
	return NAME_OF(names, protocol);
}

const char *dt_http_protocol_name(int protocol)
{
	static const char *const names[] = {NULL, "HTTP1", "HTTP2", "HTTP3"};
	return NAME_OF(names, protocol);
}

const char *dt_policy_action_name(int action)
{
	static const char *const names[] = {NULL, "NXDOMAIN", "NODATA", "PASS", "DROP", "TRUNCATE", "LOCAL_DATA"};
	return NAME_OF(names, action);
}

const char *dt_policy_match_name(int match)
{
	static const char *const names[] = {NULL, "QNAME", "CLIENT_IP", "RESPONSE_IP", "NS_NAME", "NS_IP"};
	return NAME_OF(names, match);
}

const char *dt_strerror(dt_res res)
{
	switch (res) {
	case DT_OK:
		return "success";
	case DT_STOP:
		return "end of stream";
	case DT_ERR_INVALID:
		return "invalid argument";
	case DT_ERR_NOMEM:
		return "out of memory";
	case DT_ERR_IO:
		return "input/output error";
	case DT_ERR_EOF:
		return "input ended without a STOP frame";
	case DT_ERR_TRUNCATED:
		return "input ended in the middle of a frame";
	case DT_ERR_NOT_FSTRM:
		return "not a Frame Streams file (no START frame)";
	case DT_ERR_CONTROL:
		return "malformed Frame Streams control frame";
	case DT_ERR_CONTENT_TYPE:
		return "content type is not " DT_CONTENT_TYPE;
	case DT_ERR_TOO_BIG:
		return "data frame too large";
	case DT_ERR_DECODE:
		return "payload is not a valid dnstap protobuf";
	case DT_ERR_NO_MESSAGE:
		return "dnstap MESSAGE without its message field";
	case DT_ERR_NOT_MESSAGE:
		return "dnstap type is not MESSAGE";
	case DT_ERR_FULL:
		return "queue full: dropped";
	}
	return "unknown error";
}
