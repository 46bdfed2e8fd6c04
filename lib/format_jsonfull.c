/* The structured JSON format (`--format json-full`, and `--flat`): one object per line with every dnstap
 * field and every DNS field parsed (header, question, records with their rdata in presentation form from
 * the shared printer, EDNS options decoded), so that jq reaches a qname or an answer without a second
 * parser. The schema is doc/dnstap-json-full.schema.json; man/dnstap.1 describes it. One writer serves
 * both shapes: nested objects, or one flat object whose keys are the nested paths joined by dots. */
#include "dns_print.h"
#include "format.h"

/* ==== The JSON writer ==== */

/* The writer's small pieces are inlined where they are called, so that each key, a literal, is copied with
 * a copy of known length: keys are most of the bytes and most of the time of this format. */
#define JW_INLINE static inline __attribute__((always_inline))

#define JW_DEPTH 8
#define JW_PATH 128

struct jw {
	struct dt_buf *out;
	bool flat;
	bool comma; /* a member precedes at this level (flat: in the one object) */
	int depth;
	/* flat only: the path of the current level, and for each level, where its path ends and the next index
	 * of an array (-1 for an object) */
	size_t plen;
	char path[JW_PATH];
	size_t pend[JW_DEPTH];
	int idx[JW_DEPTH];
};

/* What a record's writing can be rolled back to. */
struct jw_mark {
	size_t len, plen;
	bool comma;
	int depth, idx;
};

static void jw_save(const struct jw *w, struct jw_mark *m)
{
	m->len = w->out->len;
	m->plen = w->plen;
	m->comma = w->comma;
	m->depth = w->depth;
	m->idx = w->idx[w->depth];
}

static void jw_restore(struct jw *w, const struct jw_mark *m)
{
	w->out->len = m->len;
	w->plen = m->plen;
	w->comma = m->comma;
	w->depth = m->depth;
	w->idx[w->depth] = m->idx;
}

static void jw_init(struct jw *w, struct dt_buf *out, bool flat)
{
	w->out = out;
	w->flat = flat;
	w->comma = false;
	w->depth = 0;
	w->plen = 0;
	w->idx[0] = -1;
	dt__buf_putc(out, '{');
}

static void jw_finish(struct jw *w)
{
	dt__buf_lit(w->out, "}\n");
}

/* Appends a path component: the key, or an array's index. */
static void path_push(struct jw *w, const char *key, size_t n)
{
	if (w->plen + 1 + n > JW_PATH)
		n = 0; /* cannot happen with our keys; keeps the text well formed if it did */
	if (w->plen > 0)
		w->path[w->plen++] = '.';
	memcpy(w->path + w->plen, key, n);
	w->plen += n;
}

/* The index of the next element of the array being written, as a path component (flat). */
static void path_push_index(struct jw *w)
{
	char t[12];
	int i = w->idx[w->depth]++, k = 0;
	char r[12];
	do {
		r[k++] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	for (int j = 0; j < k; j++)
		t[j] = r[k - 1 - j];
	path_push(w, t, (size_t)k);
}

/* Writes the key of the next member (flat: the full path) and its colon. */
JW_INLINE void jw_key_n(struct jw *w, const char *key, size_t n)
{
	struct dt_buf *out = w->out;
	size_t pl = w->flat ? w->plen + 1 : 0;
	if (!dt__buf_reserve(out, pl + n + 4))
		return;
	char *o = out->data + out->len;
	if (w->comma)
		*o++ = ',';
	w->comma = true;
	*o++ = '"';
	if (pl > 1) {
		memcpy(o, w->path, w->plen);
		o += w->plen;
		*o++ = '.';
	}
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	out->len = (size_t)(o - out->data);
}
#define jw_key(w, key) jw_key_n((w), (key), sizeof(key) - 1)

static void push_level(struct jw *w, bool array)
{
	if (w->depth + 1 < JW_DEPTH)
		w->depth++;
	w->pend[w->depth] = w->plen;
	w->idx[w->depth] = array ? 0 : -1;
}

static void jw_obj_begin_n(struct jw *w, const char *key, size_t n)
{
	if (w->flat) {
		push_level(w, false);
		path_push(w, key, n);
		w->pend[w->depth] = w->plen;
		return;
	}
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '{');
	w->comma = false;
	push_level(w, false);
}
#define jw_obj_begin(w, key) jw_obj_begin_n((w), (key), sizeof(key) - 1)

static void jw_arr_begin_n(struct jw *w, const char *key, size_t n)
{
	if (w->flat) {
		push_level(w, true);
		path_push(w, key, n);
		w->pend[w->depth] = w->plen;
		return;
	}
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '[');
	w->comma = false;
	push_level(w, true);
}
#define jw_arr_begin(w, key) jw_arr_begin_n((w), (key), sizeof(key) - 1)

/* An object as the next element of the array being written. */
static void jw_elem_obj_begin(struct jw *w)
{
	if (w->flat) {
		path_push_index(w);
		push_level(w, false);
		return;
	}
	if (w->comma)
		dt__buf_putc(w->out, ',');
	dt__buf_putc(w->out, '{');
	w->comma = false;
	w->idx[w->depth]++;
	push_level(w, false);
}

/* Ends the object or array begun last. */
static void jw_end(struct jw *w, char close)
{
	if (w->depth > 0)
		w->depth--;
	if (w->flat) {
		/* back to the path of the level we return to */
		w->plen = w->depth > 0 ? w->pend[w->depth] : 0;
		return;
	}
	dt__buf_putc(w->out, close);
	w->comma = true;
}

/* Ends an array's element object: the path goes back to the array's. */
static void jw_elem_end(struct jw *w)
{
	if (w->flat) {
		w->depth--;
		w->plen = w->pend[w->depth];
		return;
	}
	jw_end(w, '}');
}

/* The digits of x at o, counted first and written in place, in pairs from the right; returns their
 * end. No call: a memcpy of a few bytes from a scratch buffer costs a libc call each. */
JW_INLINE char *put_u32(char *o, uint32_t x)
{
	unsigned k = x < 10           ? 1
		     : x < 100        ? 2
		     : x < 1000       ? 3
		     : x < 10000      ? 4
		     : x < 100000     ? 5
		     : x < 1000000    ? 6
		     : x < 10000000   ? 7
		     : x < 100000000  ? 8
		     : x < 1000000000 ? 9
				      : 10;
	char *e = o + k, *d = e;
	while (x >= 100) {
		d -= 2;
		dt__put2(d, x % 100);
		x /= 100;
	}
	if (x >= 10)
		dt__put2(d - 2, x);
	else
		d[-1] = (char)('0' + x);
	return e;
}

/* Decimal, for the many small numbers (ids, ports, counts, TTLs). */
JW_INLINE void put_dec(struct dt_buf *out, uint64_t v)
{
	if (v > UINT32_MAX) {
		dt__buf_put_u64(out, v);
		return;
	}
	if (!dt__buf_reserve(out, 10))
		return;
	char *o = out->data + out->len;
	out->len += (size_t)(put_u32(o, (uint32_t)v) - o);
}

JW_INLINE void jw_u64(struct jw *w, const char *key, size_t n, uint64_t v)
{
	jw_key_n(w, key, n);
	put_dec(w->out, v);
}
#define JW_U64(w, key, v) jw_u64((w), (key), sizeof(key) - 1, (v))

JW_INLINE void jw_bool(struct jw *w, const char *key, size_t n, bool v)
{
	jw_key_n(w, key, n);
	if (v)
		dt__buf_lit(w->out, "true");
	else
		dt__buf_lit(w->out, "false");
}
#define JW_BOOL(w, key, v) jw_bool((w), (key), sizeof(key) - 1, (v))

/* A string member whose text needs no escaping (names from our tables, numbers, hex). */
JW_INLINE void jw_plain(struct jw *w, const char *key, size_t n, const char *s)
{
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	dt__buf_puts(w->out, s);
	dt__buf_putc(w->out, '"');
}
#define JW_PLAIN(w, key, s) jw_plain((w), (key), sizeof(key) - 1, (s))

/* Whether the bytes go into a JSON string as they are (and into Go's quoted form too): printable ASCII
 * but for the quote, the backslash and the HTML-sensitive < > & that Go's encoding/json escapes. */
static bool plain_ascii(const uint8_t *p, size_t n)
{
	return dt__json_plain(p, n, true);
}

/* A member holding arbitrary bytes as a JSON string (invalid UTF-8 as U+FFFD). */
JW_INLINE void jw_bytes(struct jw *w, const char *key, size_t n, const uint8_t *p, size_t len)
{
	jw_key_n(w, key, n);
	if (plain_ascii(p, len) && dt__buf_reserve(w->out, len + 2)) {
		char *o = w->out->data + w->out->len;
		o[0] = '"';
		memcpy(o + 1, p, len);
		o[len + 1] = '"';
		w->out->len += len + 2;
		return;
	}
	dt__put_json_string(w->out, p, len);
}
#define JW_BYTES(w, key, p, len) jw_bytes((w), (key), sizeof(key) - 1, (p), (len))

JW_INLINE void jw_hex(struct jw *w, const char *key, size_t n, const uint8_t *p, size_t len)
{
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	dt__buf_put_hex(w->out, p, len);
	dt__buf_putc(w->out, '"');
}
#define JW_HEX(w, key, p, len) jw_hex((w), (key), sizeof(key) - 1, (p), (len))

/* An enum's name, or its number as a string when it has none. */
JW_INLINE void jw_enum(struct jw *w, const char *key, size_t n, const char *name, int value)
{
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	dt__put_enum(w->out, name, value);
	dt__buf_putc(w->out, '"');
}
#define JW_ENUM(w, key, name, v) jw_enum((w), (key), sizeof(key) - 1, (name), (v))

/* Opens a string member whose text the caller appends; jw_text_end() escapes it. */
JW_INLINE size_t jw_text_begin(struct jw *w, const char *key, size_t n)
{
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	return w->out->len;
}
#define JW_TEXT(w, key) jw_text_begin((w), (key), sizeof(key) - 1)

/* Presentation text is ASCII but for the few bytes miekg leaves as they are: escape only when needed. */
static void jw_text_end(struct jw *w, size_t from)
{
	struct dt_buf *out = w->out;
	if (out->failed)
		return;
	if (!dt__json_plain((const uint8_t *)out->data + from, out->len - from, false))
		dt__json_escape_tail(out, from);
	dt__buf_putc(out, '"');
}

/* ==== dnstap fields ==== */

/* v < 10^9 as exactly nine digits. */
static void put_nine(struct dt_buf *out, uint32_t v)
{
	if (!dt__buf_reserve(out, 9))
		return;
	char *o = out->data + out->len;
	*o++ = (char)('0' + v / 100000000u);
	o = dt__put2(o, v / 1000000u % 100);
	o = dt__put2(o, v / 10000u % 100);
	o = dt__put2(o, v / 100u % 100);
	dt__put2(o, v % 100);
	out->len += 9;
}

/* RFC 3339 in UTC with all nine digits of nanoseconds: sortable as text. */
static void put_time(struct jw *w, const char *key, size_t n, uint64_t sec, uint64_t nsec)
{
	sec += nsec / 1000000000u;
	nsec %= 1000000000u;
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	dt__put_utc_time(w->out, sec, 0, 'T');
	dt__buf_putc(w->out, '.');
	put_nine(w->out, (uint32_t)nsec);
	dt__buf_lit(w->out, "Z\"");
}

/* response_time - query_time in seconds, with nine decimals; negative when the clocks say so. Computed in
 * wrapping unsigned arithmetic: absurd times give an absurd number, never undefined behaviour. */
static void put_latency(struct jw *w, const struct dt_message *m)
{
	uint64_t d =
		(m->response_time_sec - m->query_time_sec) * 1000000000u + m->response_time_nsec - m->query_time_nsec;
	bool neg = d >> 63;
	if (neg)
		d = (uint64_t)0 - d;
	jw_key(w, "latency");
	if (neg)
		dt__buf_putc(w->out, '-');
	dt__buf_put_u64(w->out, d / 1000000000u);
	dt__buf_putc(w->out, '.');
	put_nine(w->out, (uint32_t)(d % 1000000000u));
}

static void put_address(struct jw *w, const char *key, size_t n, struct dt_bytes ip)
{
	jw_key_n(w, key, n);
	dt__buf_putc(w->out, '"');
	if (ip.len != 0)
		dt__put_ip(w->out, ip);
	dt__buf_putc(w->out, '"');
}

/* Go's strconv.Quote() without the quotes, as -j prints extra and the policy's bytes: lossless. */
static void put_go_quoted(struct jw *w, const char *key, size_t n, struct dt_bytes v)
{
	if (plain_ascii(v.data, v.len)) {
		jw_bytes(w, key, n, v.data, v.len);
		return;
	}
	size_t from = jw_text_begin(w, key, n);
	struct dt_buf *out = w->out;
	dt__put_go_quoted(out, v.data, v.len);
	if (out->failed)
		return;
	memmove(out->data + from, out->data + from + 1, out->len - from - 2);
	out->len -= 2;
	dt__json_escape_tail(out, from);
	dt__buf_putc(out, '"');
}

static void put_policy(struct jw *w, const struct dt_message *m)
{
	jw_obj_begin(w, "policy");
	if (m->has_policy_type)
		JW_BYTES(w, "type", (const uint8_t *)m->policy_type, strlen(m->policy_type));
	if (m->has_policy_rule)
		put_go_quoted(w, "rule", 4, m->policy_rule);
	if (m->has_policy_action)
		JW_ENUM(w, "action", dt_policy_action_name(m->policy_action), m->policy_action);
	if (m->has_policy_match)
		JW_ENUM(w, "match", dt_policy_match_name(m->policy_match), m->policy_match);
	if (m->has_policy_value)
		put_go_quoted(w, "value", 5, m->policy_value);
	jw_end(w, '}');
}

/* ==== DNS messages ==== */

static const char *const opt_names[18] = {
	[1] = "LLQ",      [2] = "UL",     [3] = "NSID",        [5] = "DAU",         [6] = "DHU",      [7] = "N3U",
	[8] = "ECS",      [9] = "EXPIRE", [10] = "COOKIE",     [11] = "KEEPALIVE",  [12] = "PADDING", [13] = "CHAIN",
	[14] = "KEY-TAG", [15] = "EDE",   [16] = "CLIENT-TAG", [17] = "SERVER-TAG",
};

static bool printable_ascii(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static void put_option(struct jw *w, uint16_t code, const uint8_t *v, uint16_t n)
{
	jw_elem_obj_begin(w);
	JW_U64(w, "code", code);
	if (code < sizeof(opt_names) / sizeof(opt_names[0]) && opt_names[code] != NULL)
		JW_PLAIN(w, "name", opt_names[code]);
	switch (code) {
	case 3: /* NSID */
		JW_HEX(w, "hex", v, n);
		if (printable_ascii(v, n))
			JW_BYTES(w, "text", v, n);
		break;
	case DT__DNS_OPT_ECS: {
		struct dt__dns_ecs ecs;
		dt__dns_ecs_decode(&ecs, v, n);
		JW_U64(w, "family", ecs.family);
		JW_U64(w, "source_prefix", ecs.source);
		JW_U64(w, "scope_prefix", ecs.scope);
		if (ecs.family == 1 || ecs.family == 2) {
			struct dt_bytes ip = {ecs.addr, ecs.family == 1 ? 4 : 16};
			put_address(w, "address", 7, ip);
		}
		break;
	}
	case 10: /* COOKIE */
		JW_HEX(w, "client", v, n < 8 ? n : 8);
		if (n > 8)
			JW_HEX(w, "server", v + 8, n - 8u);
		break;
	case 11: /* KEEPALIVE: the timeout in units of 100 ms, when sent */
		if (n >= 2)
			JW_U64(w, "timeout", dt__dns_get16(v));
		break;
	case 12: /* PADDING */
		JW_U64(w, "length", n);
		break;
	case 15: /* EDE */
		if (n >= 2) {
			uint16_t info = dt__dns_get16(v);
			const char *purpose = dt__dns_ede_name(info);
			JW_U64(w, "info_code", info);
			if (purpose != NULL)
				JW_PLAIN(w, "purpose", purpose);
			JW_BYTES(w, "text", v + 2, n - 2u);
			break;
		}
		JW_HEX(w, "hex", v, n);
		break;
	default:
		JW_HEX(w, "hex", v, n);
	}
	jw_elem_end(w);
}

static void put_edns(struct jw *w, const struct dt__dns_rr *opt)
{
	struct dt__dns_edns e;
	dt__dns_edns_of_rr(&e, opt);
	jw_obj_begin(w, "edns");
	JW_U64(w, "version", e.version);
	JW_BOOL(w, "do", (e.flags & DT__DNS_EDNS_DO) != 0);
	JW_U64(w, "udp_size", e.udp_size);
	JW_U64(w, "extended_rcode", e.ext_rcode);
	JW_U64(w, "flags", e.flags);
	jw_arr_begin(w, "options");
	struct dt__dns_opt_iter it;
	uint16_t code, n;
	const uint8_t *v;
	dt__dns_opt_iter_init(&it, e.options, e.options_len);
	while (dt__dns_opt_next(&it, &code, &v, &n))
		put_option(w, code, v, n);
	jw_end(w, ']');
	jw_end(w, '}');
}

static char *put_lit_n(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}
#define PUT_LIT(o, s) put_lit_n((o), (s), sizeof(s) - 1)

/* A flag member: ,"key":true or ,"key":false (the leading comma in key). */
static char *put_flag(char *o, const char *key, size_t n, bool v)
{
	o = put_lit_n(o, key, n);
	return v ? PUT_LIT(o, "true") : PUT_LIT(o, "false");
}
#define PUT_FLAG(o, key, v) put_flag((o), (key), sizeof(key) - 1, (v))

/* An enum member's value: its name in quotes, or its number in quotes (as jw_enum()). */
static char *put_enum_value(char *o, const char *name, unsigned v)
{
	*o++ = '"';
	o = name != NULL ? put_lit_n(o, name, strlen(name)) : put_u32(o, v);
	*o++ = '"';
	return o;
}

/* The header object nested (not --flat), the one every message has: its keys and punctuation are
 * constants, written in one go rather than member by member (the general path costs about three times
 * as much, and the header is a tenth of a line). The same text as the general path below. */
static void put_header_nested(struct jw *w, const struct dt__dns_header *h)
{
	uint16_t f = h->flags;
	unsigned op = dt__dns_opcode(f), rc = dt__dns_header_rcode(f);
	const char *opn = dt__dns_opcode_name(op), *rcn = dt__dns_rcode_name(rc);
	/* the text is 186 bytes at most besides the two names (numbers of 5 digits, 4 for an rcode) */
	size_t need = 256 + (opn != NULL ? strlen(opn) : 5) + (rcn != NULL ? strlen(rcn) : 5);
	jw_key(w, "header");
	if (!dt__buf_reserve(w->out, need))
		return;
	char *o0 = w->out->data + w->out->len, *o = o0;
	o = PUT_LIT(o, "{\"id\":");
	o = put_u32(o, h->id);
	o = PUT_FLAG(o, ",\"qr\":", f & DT__DNS_QR);
	o = PUT_LIT(o, ",\"opcode\":");
	o = put_enum_value(o, opn, op);
	o = PUT_FLAG(o, ",\"aa\":", f & DT__DNS_AA);
	o = PUT_FLAG(o, ",\"tc\":", f & DT__DNS_TC);
	o = PUT_FLAG(o, ",\"rd\":", f & DT__DNS_RD);
	o = PUT_FLAG(o, ",\"ra\":", f & DT__DNS_RA);
	o = PUT_FLAG(o, ",\"z\":", f & DT__DNS_Z);
	o = PUT_FLAG(o, ",\"ad\":", f & DT__DNS_AD);
	o = PUT_FLAG(o, ",\"cd\":", f & DT__DNS_CD);
	o = PUT_LIT(o, ",\"rcode\":");
	o = put_enum_value(o, rcn, rc);
	o = PUT_LIT(o, ",\"qdcount\":");
	o = put_u32(o, h->count[0]);
	o = PUT_LIT(o, ",\"ancount\":");
	o = put_u32(o, h->count[1]);
	o = PUT_LIT(o, ",\"nscount\":");
	o = put_u32(o, h->count[2]);
	o = PUT_LIT(o, ",\"arcount\":");
	o = put_u32(o, h->count[3]);
	*o++ = '}';
	w->out->len += (size_t)(o - o0);
}

static void put_header(struct jw *w, const struct dt__dns_header *h)
{
	if (!w->flat) {
		put_header_nested(w, h);
		return;
	}
	uint16_t f = h->flags;
	jw_obj_begin(w, "header");
	JW_U64(w, "id", h->id);
	JW_BOOL(w, "qr", f & DT__DNS_QR);
	JW_ENUM(w, "opcode", dt__dns_opcode_name(dt__dns_opcode(f)), (int)dt__dns_opcode(f));
	JW_BOOL(w, "aa", f & DT__DNS_AA);
	JW_BOOL(w, "tc", f & DT__DNS_TC);
	JW_BOOL(w, "rd", f & DT__DNS_RD);
	JW_BOOL(w, "ra", f & DT__DNS_RA);
	JW_BOOL(w, "z", f & DT__DNS_Z);
	JW_BOOL(w, "ad", f & DT__DNS_AD);
	JW_BOOL(w, "cd", f & DT__DNS_CD);
	unsigned rc = dt__dns_header_rcode(f);
	JW_ENUM(w, "rcode", dt__dns_rcode_name(rc), (int)rc);
	JW_U64(w, "qdcount", h->count[0]);
	JW_U64(w, "ancount", h->count[1]);
	JW_U64(w, "nscount", h->count[2]);
	JW_U64(w, "arcount", h->count[3]);
	jw_end(w, '}');
}

static const struct {
	char s[11];
	uint8_t n;
} section_keys[4] = {{"question", 8}, {"answer", 6}, {"authority", 9}, {"additional", 10}};

/* The entry the walk is positioned at, as an element of its section's array: false, with nothing
 * written, if it does not parse (the walk's err says why). */
static bool put_entry(struct jw *w, struct dt__dns_rr_iter *it, struct dt__dns_rr *rr)
{
	struct jw_mark mark;
	jw_save(w, &mark);
	jw_elem_obj_begin(w);
	size_t from = JW_TEXT(w, "name");
	size_t next = dt__dns_name_at_text(w->out, it->wire, it->len, it->off);
	if (next == 0 || !dt__dns_rr_next_after_name(it, next, rr)) {
		jw_restore(w, &mark);
		if (next == 0)
			dt__dns_rr_next(it, rr); /* sets it->err */
		return false;
	}
	if (rr->section == DT__DNS_ADDITIONAL && rr->type == DT__TYPE_OPT) {
		jw_restore(w, &mark); /* shown as "edns" */
		return true;
	}
	jw_text_end(w, from);
	jw_key(w, "type");
	dt__buf_putc(w->out, '"');
	dt__dns_type_text(w->out, rr->type);
	dt__buf_putc(w->out, '"');
	jw_key(w, "class");
	dt__buf_putc(w->out, '"');
	dt__dns_class_text(w->out, rr->class);
	dt__buf_putc(w->out, '"');
	if (rr->section != DT__DNS_QUESTION) {
		JW_U64(w, "ttl", rr->ttl);
		from = JW_TEXT(w, "rdata");
		dt__dns_rdata_text(w->out, it->wire, rr);
		jw_text_end(w, from);
	}
	jw_elem_end(w);
	return true;
}

static void put_dns(struct jw *w, const char *key, size_t n, struct dt_bytes wire)
{
	jw_obj_begin_n(w, key, n);
	JW_U64(w, "length", wire.len);
	struct dt__dns_header h;
	if (!dt__dns_parse_header(&h, wire.data, wire.len)) {
		JW_BOOL(w, "malformed", true);
		JW_U64(w, "malformed_offset", 0);
		JW_PLAIN(w, "error", "dns: overflow unpacking uint16");
		jw_end(w, '}');
		return;
	}
	put_header(w, &h);
	struct dt__dns_rr_iter it;
	struct dt__dns_rr rr, opt = {0};
	bool has_opt = false, open = false;
	unsigned n_opt = 0;
	int section = -1;
	dt__dns_rr_iter_init(&it, wire.data, wire.len);
	while (dt__dns_rr_more(&it)) {
		while (section < it.section) {
			if (open)
				jw_end(w, ']');
			section++;
			jw_arr_begin_n(w, section_keys[section].s, section_keys[section].n);
			open = true;
		}
		if (!put_entry(w, &it, &rr))
			break;
		if (rr.section == DT__DNS_ADDITIONAL && rr.type == DT__TYPE_OPT) {
			opt = rr;
			has_opt = true;
			n_opt++;
		}
	}
	/* the sections the walk did not reach, as empty arrays (flat: nothing) */
	while (section < 3) {
		if (open)
			jw_end(w, ']');
		section++;
		jw_arr_begin_n(w, section_keys[section].s, section_keys[section].n);
		open = true;
	}
	jw_end(w, ']');
	unsigned rcode = dt__dns_header_rcode(h.flags);
	if (has_opt) {
		put_edns(w, &opt);
		if (n_opt > 1)
			JW_U64(w, "edns_records", n_opt);
		rcode |= (unsigned)(opt.ttl >> 24) << 4;
	}
	JW_ENUM(w, "rcode", dt__dns_rcode_name(rcode), (int)rcode);
	if (it.err != NULL) {
		JW_BOOL(w, "malformed", true);
		JW_U64(w, "malformed_offset", it.off);
		JW_PLAIN(w, "error", it.err);
	}
	jw_end(w, '}');
}

/* ==== The message ==== */

void dt__format_jsonfull(const struct dt_message *m, struct dt_buf *out, bool flat)
{
	struct jw w;
	jw_init(&w, out, flat);
	jw_plain(&w, "type", 4, "MESSAGE");
	if (m->has_identity)
		JW_BYTES(&w, "identity", m->identity.data, m->identity.len);
	if (m->has_version)
		JW_BYTES(&w, "version", m->version.data, m->version.len);
	if (m->has_extra)
		put_go_quoted(&w, "extra", 5, m->extra);

	jw_obj_begin(&w, "message");
	JW_ENUM(&w, "type", dt_message_type_name(m->type), m->type);
	if (m->has_socket_family)
		JW_ENUM(&w, "socket_family", dt_socket_family_name(m->socket_family), m->socket_family);
	if (m->has_socket_protocol)
		JW_ENUM(&w, "socket_protocol", dt_socket_protocol_name(m->socket_protocol), m->socket_protocol);
	if (m->has_query_address)
		put_address(&w, "query_address", 13, m->query_address);
	if (m->has_response_address)
		put_address(&w, "response_address", 16, m->response_address);
	if (m->has_query_port)
		JW_U64(&w, "query_port", m->query_port);
	if (m->has_response_port)
		JW_U64(&w, "response_port", m->response_port);
	bool qt = m->has_query_time_sec, rt = m->has_response_time_sec;
	if (qt)
		put_time(&w, "query_time", 10, m->query_time_sec, m->query_time_nsec);
	if (rt)
		put_time(&w, "response_time", 13, m->response_time_sec, m->response_time_nsec);
	if (qt && rt)
		put_latency(&w, m);
	if (m->has_query_zone) {
		size_t from = JW_TEXT(&w, "query_zone");
		const char *err = NULL;
		if (dt__dns_name_text(out, m->query_zone.data, m->query_zone.len, &err) != 0) {
			dt__buf_lit(out, "parse failed: ");
			dt__buf_puts(out, err ? err : "dns: bad name");
		}
		jw_text_end(&w, from);
	}
	if (m->has_http_protocol)
		JW_ENUM(&w, "http_protocol", dt_http_protocol_name(m->http_protocol), m->http_protocol);
	if (m->has_policy)
		put_policy(&w, m);
	if (m->has_query_message)
		put_dns(&w, "query_message", 13, m->query_message);
	if (m->has_response_message)
		put_dns(&w, "response_message", 16, m->response_message);
	jw_end(&w, '}');
	jw_finish(&w);
}
