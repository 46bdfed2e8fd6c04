/* The text formats' common ground: dispatch, and Go-compatible rendering of addresses, times and strings
 * so that our output matches the Go dnstap tool's byte for byte. */
#include "format.h"

#include <time.h>

dt_res dt_format(enum dt_format f, const struct dt_message *m, struct dt_buf *out)
{
	if (m == NULL || out == NULL)
		return DT_ERR_INVALID;
	if (f == DT_FORMAT_LDNS_QUIET || f == DT_FORMAT_LDNS_YAML) {
		dt__format_ldns(m, out, f == DT_FORMAT_LDNS_YAML);
		return out->failed ? DT_ERR_NOMEM : DT_OK;
	}
	if (m->dnstap_type != DT_TYPE_MESSAGE)
		return DT_ERR_NOT_MESSAGE;
	if (!m->has_message)
		return DT_ERR_NO_MESSAGE;
	switch (f) {
	case DT_FORMAT_QUIET:
		dt__format_quiet(m, out);
		break;
	case DT_FORMAT_YAML:
		dt__format_yaml(m, out);
		break;
	case DT_FORMAT_JSON:
		dt__format_json(m, out);
		break;
	case DT_FORMAT_JSON_FULL:
	case DT_FORMAT_JSON_FLAT:
		dt__format_jsonfull(m, out, f == DT_FORMAT_JSON_FLAT);
		break;
	default:
		return DT_ERR_INVALID;
	}
	return out->failed ? DT_ERR_NOMEM : DT_OK;
}

void dt__put_enum(struct dt_buf *b, const char *name, int value)
{
	if (name != NULL)
		dt__buf_puts(b, name);
	else
		dt__buf_put_i64(b, value);
}

/* ==== Addresses ==== */

static void put_ipv4(struct dt_buf *b, const uint8_t *p)
{
	if (!dt__buf_reserve(b, 15))
		return;
	char *o = b->data + b->len;
	for (int i = 0; i < 4; i++) {
		unsigned v = p[i];
		if (i)
			*o++ = '.';
		if (v >= 100) {
			*o++ = (char)('0' + v / 100);
			o = dt__put2(o, v % 100);
		} else if (v >= 10) {
			o = dt__put2(o, v);
		} else {
			*o++ = (char)('0' + v);
		}
	}
	b->len = (size_t)(o - b->data);
}

static void put_hex16(struct dt_buf *b, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	bool started = false;
	for (int shift = 12; shift >= 0; shift -= 4) {
		unsigned d = (v >> shift) & 15;
		if (d || started || shift == 0) {
			dt__buf_putc(b, digits[d]);
			started = true;
		}
	}
}

void dt__put_ip(struct dt_buf *b, struct dt_bytes ip)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *p = ip.data;
	if (ip.len == 0) {
		dt__buf_lit(b, "<nil>");
	} else if (ip.len == 4) {
		put_ipv4(b, p);
	} else if (ip.len == 16 && memcmp(p, v4mapped, 12) == 0) {
		put_ipv4(b, p + 12);
	} else if (ip.len != 16) {
		dt__buf_putc(b, '?');
		dt__buf_put_hex(b, p, ip.len);
	} else {
		/* longest run of zero groups, first one on a tie; a single group is not shortened */
		int e0 = -1, e1 = -1;
		for (int i = 0; i < 16; i += 2) {
			int j = i;
			while (j < 16 && p[j] == 0 && p[j + 1] == 0)
				j += 2;
			if (j > i && j - i > e1 - e0) {
				e0 = i;
				e1 = j;
				i = j;
			}
		}
		if (e1 - e0 <= 2)
			e0 = e1 = -1;
		for (int i = 0; i < 16; i += 2) {
			if (i == e0) {
				dt__buf_lit(b, "::");
				i = e1;
				if (i >= 16)
					break;
			} else if (i > 0) {
				dt__buf_putc(b, ':');
			}
			put_hex16(b, (unsigned)p[i] << 8 | p[i + 1]);
		}
	}
}

/* ==== Strings ==== */

/* Decodes one UTF-8 sequence as Go's utf8.DecodeRune does: returns its length, or 0 for an invalid byte
 * (overlong forms, surrogates and values past U+10FFFF are invalid). */
static size_t utf8_rune(const uint8_t *p, size_t n, uint32_t *rune)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t r, min;
	if (c < 0x80) {
		*rune = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, r = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, r = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, r = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		r = r << 6 | (p[i] & 0x3f);
	}
	if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
		return 0;
	*rune = r;
	return len;
}

/* Go's unicode.IsPrint for runes past ASCII, approximated: everything but the C1 controls, the
 * non-ASCII spaces, format characters and private or unassigned planes that identities never hold. */
static bool rune_printable(uint32_t r)
{
	if (r < 0xa0 || r == 0xad)
		return false;
	if (r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
	    (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb))
		return false;
	if ((r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000 || (r & 0xfffe) == 0xfffe)
		return false;
	return true;
}

void dt__put_go_quoted(struct dt_buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	dt__buf_putc(b, '"');
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				dt__buf_putc(b, '\\');
			dt__buf_putc(b, (char)c);
			i++;
			continue;
		}
		uint32_t r;
		size_t len = utf8_rune(p + i, n - i, &r);
		if (len == 0) {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			dt__buf_put(b, e, 4);
			i++;
			continue;
		}
		if (len > 1 && rune_printable(r)) {
			dt__buf_put(b, p + i, len);
		} else {
			switch (r) {
			case '\a':
				dt__buf_lit(b, "\\a");
				break;
			case '\b':
				dt__buf_lit(b, "\\b");
				break;
			case '\f':
				dt__buf_lit(b, "\\f");
				break;
			case '\n':
				dt__buf_lit(b, "\\n");
				break;
			case '\r':
				dt__buf_lit(b, "\\r");
				break;
			case '\t':
				dt__buf_lit(b, "\\t");
				break;
			case '\v':
				dt__buf_lit(b, "\\v");
				break;
			default:
				if (r < 0x20 || r == 0x7f) {
					char e[4] = {'\\', 'x', hex[r >> 4], hex[r & 15]};
					dt__buf_put(b, e, 4);
				} else if (r < 0x10000) {
					char e[6] = {
						'\\',       'u', hex[r >> 12], hex[(r >> 8) & 15], hex[(r >> 4) & 15],
						hex[r & 15]};
					dt__buf_put(b, e, 6);
				} else {
					dt__buf_lit(b, "\\U");
					for (int s = 28; s >= 0; s -= 4)
						dt__buf_putc(b, hex[(r >> s) & 15]);
				}
			}
		}
		i += len;
	}
	dt__buf_putc(b, '"');
}

static const uint8_t json_len[256];

/* Bytes Go's encoding/json (with HTML escaping) writes as they are, for ASCII. */
static inline bool json_safe(uint8_t c)
{
	return json_len[c] == 1;
}

/* Writes the escaped form of the JSON string body p[0..n) at o (which has room for it) and returns its
 * length; with o NULL only counts. */
static size_t json_escape_ascii(uint8_t c, char e[6]);

static size_t json_escape(const uint8_t *p, size_t n, char *o)
{
	size_t len = 0;
#define EMIT(s, k)                                 \
	do {                                       \
		if (o)                             \
			memcpy(o + len, (s), (k)); \
		len += (k);                        \
	} while (0)
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (json_safe(c)) {
			size_t j = i + 1;
			while (j < n && json_safe(p[j]))
				j++;
			EMIT(p + i, j - i);
			i = j;
			continue;
		}
		if (c < 0x80) {
			char e[6];
			size_t k = json_escape_ascii(c, e);
			EMIT(e, k);
			i++;
			continue;
		}
		uint32_t r;
		size_t k = utf8_rune(p + i, n - i, &r);
		if (k == 0) {
			EMIT("\\ufffd", 6);
			i++;
		} else if (r == 0x2028 || r == 0x2029) {
			EMIT(r == 0x2028 ? "\\u2028" : "\\u2029", 6);
			i += k;
		} else {
			EMIT(p + i, k);
			i += k;
		}
	}
#undef EMIT
	return len;
}

void dt__put_json_string(struct dt_buf *b, const uint8_t *p, size_t n)
{
	size_t len = json_escape(p, n, NULL);
	if (!dt__buf_reserve(b, len + 2))
		return;
	b->data[b->len++] = '"';
	json_escape(p, n, b->data + b->len);
	b->len += len;
	b->data[b->len++] = '"';
}

/* Escape sequence for an ASCII byte that JSON needs escaped (see json_escape); returns its length. */
static size_t json_escape_ascii(uint8_t c, char e[6])
{
	static const char hex[] = "0123456789abcdef";
	e[0] = '\\';
	switch (c) {
	case '"':
	case '\\':
		e[1] = (char)c;
		return 2;
	case '\n':
		e[1] = 'n';
		return 2;
	case '\r':
		e[1] = 'r';
		return 2;
	case '\t':
		e[1] = 't';
		return 2;
	}
	e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
	return 6;
}

/* Length of each ASCII byte inside a JSON string as Go writes it: 1 as is, 2 for \" \\ \n \r \t, 6 for
 * \u00XX (other controls and the HTML-sensitive < > &); 0 marks bytes past ASCII, which need UTF-8
 * decoding. */
static const uint8_t json_len[256] = {
	6, 6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 6, 6, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
	1, 1, 2, 1, 1, 1, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 1, 6, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* The index of the first byte (in memory order) whose high bit is set in m, which is not 0. */
static inline unsigned first_flagged(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(m) / 8;
#else
	return (unsigned)__builtin_clzll(m) / 8;
#endif
}

/* The second byte of the two-byte escapes, which json_len[] marks with 2. */
static const char json_esc2[128] = {['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\'};

/* Writes the ASCII byte c at *d as it is or escaped, and moves *d past it; false (nothing written) for a
 * byte past ASCII. */
static inline bool escape_ascii_at(uint8_t **d, uint8_t c)
{
	unsigned k = json_len[c];
	if (k == 1) {
		*(*d)++ = c;
	} else if (k == 2) {
		(*d)[0] = '\\';
		(*d)[1] = (uint8_t)json_esc2[c];
		*d += 2;
	} else if (k == 6) {
		char e[6];
		json_escape_ascii(c, e);
		memcpy(*d, e, 6);
		*d += 6;
	} else {
		return false;
	}
	return true;
}

void dt__json_escape_tail(struct dt_buf *b, size_t from)
{
	if (b->failed || from > b->len)
		return;
	size_t n = b->len - from;
	/* room for the worst case (every byte as \u00XX) after the text: escape forward into it in one
	 * pass, then move the result back */
	if (n > (SIZE_MAX - b->len) / 6 || !dt__buf_reserve(b, 6 * n))
		return;
	const uint8_t *p = (const uint8_t *)b->data + from;
	uint8_t *d0 = (uint8_t *)b->data + from + n, *d = d0;
	size_t r = 0;
	/* The text of a DNS message is ASCII with a tab or a newline every few bytes: eight bytes are looked
	 * at together, the plain ones before the first that needs an escape are kept at once (the eight
	 * are stored whole; only the plain prefix counts), and that byte is escaped. */
	while (n - r >= 8) {
		uint64_t x;
		memcpy(&x, p + r, 8);
		uint64_t m = dt__json_special8(x);
		memcpy(d, &x, 8);
		if (m == 0) {
			d += 8;
			r += 8;
			continue;
		}
		unsigned i = first_flagged(m);
		d += i;
		r += i;
		if (!escape_ascii_at(&d, p[r]))
			break; /* a byte past ASCII: needs UTF-8 decoding */
		r++;
	}
	while (r < n && escape_ascii_at(&d, p[r]))
		r++;
	if (r < n) {
		/* multi-byte sequences: escape the remainder, which json_escape() decodes */
		d += json_escape(p + r, n - r, (char *)d);
	}
	size_t len = (size_t)(d - d0);
	memmove(b->data + from, d0, len);
	b->len = from + len;
}

/* ==== Times ==== */

/* Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint64_t doe = (uint64_t)(z - era * 146097);
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yy + (*m <= 2);
}

static char *put_hms(char *o, unsigned h, unsigned mi, unsigned s)
{
	o = dt__put2(o, h);
	*o++ = ':';
	o = dt__put2(o, mi);
	*o++ = ':';
	return dt__put2(o, s);
}

void dt__put_utc_time(struct dt_buf *b, uint64_t usec, uint64_t nsec, char sep)
{
	/* Go converts the uint64 seconds to int64 and folds whole seconds out of nsec */
	int64_t sec = (int64_t)(usec + nsec / 1000000000u);
	nsec %= 1000000000u;
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned mo, d;
	civil_from_days(days, &y, &mo, &d);
	if (y < 0 || y > 9999) {
		/* Go's layout: at least four digits, a minus sign before negative years */
		if (y < 0)
			dt__buf_putc(b, '-');
		dt__buf_put_u64_pad(b, (uint64_t)(y < 0 ? -y : y), 4);
	}
	char t[32], *o = t;
	if (y >= 0 && y <= 9999) {
		o = dt__put2(o, (unsigned)(y / 100));
		o = dt__put2(o, (unsigned)(y % 100));
	}
	*o++ = '-';
	o = dt__put2(o, mo);
	*o++ = '-';
	o = dt__put2(o, d);
	*o++ = sep;
	o = put_hms(o, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
	if (nsec != 0) {
		/* nine digits, trailing zeros dropped */
		uint32_t v = (uint32_t)nsec;
		*o++ = '.';
		o = dt__put2(o, v / 10000000);
		o = dt__put2(o, v / 100000 % 100);
		o = dt__put2(o, v / 1000 % 100);
		o = dt__put2(o, v / 10 % 100);
		*o++ = (char)('0' + v % 10);
		while (o[-1] == '0')
			o--;
	}
	dt__buf_put(b, t, (size_t)(o - t));
}

void dt__put_local_hms(struct dt_buf *b, uint64_t usec)
{
	/* localtime_r() costs more than all the rest of a -q line, and messages come many to a second: the
	 * last second's text is kept (per thread, as each thread formats its own lines). A new second, and so
	 * a change of offset at a DST boundary, is converted afresh. */
	static _Thread_local struct {
		bool valid;
		uint64_t usec;
		char hms[8];
	} last;
	if (last.valid && last.usec == usec) {
		dt__buf_put(b, last.hms, sizeof(last.hms));
		return;
	}
	time_t t = (time_t)(int64_t)usec;
	struct tm tm;
	char hms[8];
	if (localtime_r(&t, &tm) != NULL) {
		put_hms(hms, (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec);
	} else {
		/* beyond what the C library can represent: fall back to UTC */
		int64_t rem = (int64_t)usec % 86400;
		if (rem < 0)
			rem += 86400;
		put_hms(hms, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
	}
	memcpy(last.hms, hms, sizeof(hms));
	last.usec = usec;
	last.valid = true;
	dt__buf_put(b, hms, sizeof(hms));
}

void dt__put_local_datetime(struct dt_buf *b, uint64_t usec, uint32_t nsec)
{
	time_t t = (time_t)(int64_t)(usec + nsec / 1000000000u);
	nsec %= 1000000000u;
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL) {
		dt__put_utc_time(b, usec, nsec, ' ');
		return;
	}
	dt__buf_put_u64_pad(b, (uint64_t)tm.tm_year + 1900, 4);
	char s[20], *o = s;
	*o++ = '-';
	o = dt__put2(o, (unsigned)tm.tm_mon + 1);
	*o++ = '-';
	o = dt__put2(o, (unsigned)tm.tm_mday);
	*o++ = ' ';
	o = put_hms(o, (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec);
	dt__buf_put(b, s, (size_t)(o - s));
	if (nsec != 0) {
		char f[10];
		uint32_t v = nsec;
		for (int i = 8; i >= 0; i--, v /= 10)
			f[i] = (char)('0' + v % 10);
		size_t n = 9;
		while (f[n - 1] == '0')
			n--;
		dt__buf_putc(b, '.');
		dt__buf_put(b, f, n);
	}
}
