/* Pieces shared by the text formats: Go-compatible rendering of addresses, times and strings. Each
 * format lives in its own format_*.c. Internal to libdnstap (not installed). */
#ifndef DT_FORMAT_H
#define DT_FORMAT_H

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Go net.IP.String(): dotted IPv4 (also for IPv4-mapped IPv6), RFC 5952 IPv6, "<nil>" for an empty
 * address, "?" and hex for any other length. */
void dt__put_ip(struct dt_buf *b, struct dt_bytes ip);

/* Go strconv.Quote(): the bytes in double quotes, escaped as Go does. */
void dt__put_go_quoted(struct dt_buf *b, const uint8_t *p, size_t n);

/* Go encoding/json string, quotes included (HTML-safe escapes, invalid UTF-8 as \ufffd). */
void dt__put_json_string(struct dt_buf *b, const uint8_t *p, size_t n);

/* Escapes, in place, the bytes of b from offset `from` to the end as the inside of a JSON string. */
void dt__json_escape_tail(struct dt_buf *b, size_t from);

/* In each byte of x that needs an escape in a JSON string as Go writes it (below ' ', past ASCII, '"',
 * '\\', '<', '>' or '&'), its high bit. Bytes above the first such byte may be flagged wrongly (a borrow
 * carries into them); the first flagged byte is always right, and whether any is flagged is exact. */
static inline uint64_t dt__json_special8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t qa = (x | 0x04 * ones) ^ 0x26 * ones; /* zero in a '"' (0x22) or a '&' (0x26) */
	uint64_t lg = (x | 0x02 * ones) ^ 0x3e * ones; /* zero in a '<' (0x3c) or a '>' (0x3e) */
	uint64_t bs = x ^ 0x5c * ones;                 /* zero in a '\\' */
	uint64_t bad = ((x - 0x20 * ones) & ~x) | x;   /* a byte below ' ', or from 0x80 */
	bad |= ((qa - ones) & ~qa) | ((lg - ones) & ~lg) | ((bs - ones) & ~bs);
	return bad & highs;
}

/* Whether p[0:n) goes into a JSON string as it is (no byte needs an escape), and with del also into
 * Go's strconv.Quote() form (which escapes 0x7f too): eight bytes at a time, the last eight
 * (overlapping) for the rest; fewer than eight are padded with spaces, which need no escape. */
static inline bool dt__json_plain(const uint8_t *p, size_t n, bool del)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x = 0x20 * ones; /* spaces: the padding of fewer than eight */
	for (size_t i = 0;; i += 8) {
		if (n - i >= 8)
			memcpy(&x, p + i, 8);
		else if (n >= 8)
			memcpy(&x, p + n - 8, 8); /* the last eight, some seen already */
		else if (n > 0)
			memcpy(&x, p, n);
		uint64_t d = x ^ 0x7f * ones;
		if (dt__json_special8(x) != 0 || (del && ((d - ones) & ~d & highs) != 0))
			return false;
		if (i + 8 >= n)
			return true;
	}
}

/* UTC date and time "YYYY-MM-DD<sep>HH:MM:SS" followed by ".fraction" with trailing zeros removed (nothing
 * when nsec is 0), as Go's time.Format with a .999999999 layout. sec and nsec are normalised as Go's
 * time.Unix() does. */
void dt__put_utc_time(struct dt_buf *b, uint64_t sec, uint64_t nsec, char sep);

/* Local time of day "HH:MM:SS" as Go's Format("15:04:05") in the TZ zone. */
void dt__put_local_hms(struct dt_buf *b, uint64_t sec);

/* Local date and time "YYYY-MM-DD HH:MM:SS" and ".fraction" without trailing zeros (nothing when nsec is
 * 0), as Go's Format("2006-01-02 15:04:05.999999999") in the TZ zone. */
void dt__put_local_datetime(struct dt_buf *b, uint64_t sec, uint32_t nsec);

/* The enum's name, or its number when the name is unknown. */
void dt__put_enum(struct dt_buf *b, const char *name, int value);

/* Per-format entry points, called by dt_format() once the message is known to be printable. */
void dt__format_quiet(const struct dt_message *m, struct dt_buf *out);
void dt__format_yaml(const struct dt_message *m, struct dt_buf *out);
void dt__format_json(const struct dt_message *m, struct dt_buf *out);
void dt__format_jsonfull(const struct dt_message *m, struct dt_buf *out, bool flat);
/* dnstap-ldns's formats take every frame, message or not (it prints a line for the others). */
void dt__format_ldns(const struct dt_message *m, struct dt_buf *out, bool yaml);

#endif
