/* Growable byte buffer used by every text formatter: output is appended here and written out in large
 * chunks by the caller, so the per-message path makes no syscall and, once the buffer has grown to its
 * working size, no allocation. Internal to libdnstap (not installed). */
#ifndef DT_BUF_H
#define DT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnstap.h" /* struct dt_buf */

/* Makes room for n more bytes. Returns false (and sets b->failed) when memory runs out. */
bool dt__buf_grow(struct dt_buf *b, size_t n);
/* Frees the storage; the buffer can be reused afterwards. */
void dt__buf_free(struct dt_buf *b);

static inline bool dt__buf_reserve(struct dt_buf *b, size_t n)
{
	return b->cap - b->len >= n || dt__buf_grow(b, n);
}

static inline void dt__buf_put(struct dt_buf *b, const void *p, size_t n)
{
	if (!dt__buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void dt__buf_putc(struct dt_buf *b, char c)
{
	if (!dt__buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
}

static inline void dt__buf_puts(struct dt_buf *b, const char *s)
{
	dt__buf_put(b, s, strlen(s));
}

/* Appends a string literal without a strlen() call. */
#define dt__buf_lit(b, s) dt__buf_put((b), (s), sizeof(s) - 1)

/* "00" "01" ... "99": two digits at a time for hand-written number formatting. */
extern const char dt__digit_pairs[201];

static inline char *dt__put2(char *o, unsigned v)
{
	memcpy(o, dt__digit_pairs + 2 * v, 2);
	return o + 2;
}

/* Decimal, no padding. */
void dt__buf_put_u64(struct dt_buf *b, uint64_t v);
void dt__buf_put_i64(struct dt_buf *b, int64_t v);
/* Decimal, zero-padded on the left to at least width digits (width <= 20). */
void dt__buf_put_u64_pad(struct dt_buf *b, uint64_t v, unsigned width);
/* Two lowercase hex digits per byte. */
void dt__buf_put_hex(struct dt_buf *b, const uint8_t *p, size_t n);

#endif
