/* Growable byte buffer: the allocation and number-printing helpers behind lib/buf.h. */
#include "buf.h"

#include <stdlib.h>

bool dt__buf_grow(struct dt_buf *b, size_t n)
{
	if (b->failed)
		return false;
	size_t need = b->len + n;
	if (need < b->len) {
		b->failed = true;
		return false;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void dt_buf_free(struct dt_buf *b)
{
	dt__buf_free(b);
}

void dt__buf_free(struct dt_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

void dt__buf_put_u64_pad(struct dt_buf *b, uint64_t v, unsigned width)
{
	char tmp[20];
	unsigned n = 0;
	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width && n < sizeof(tmp))
		tmp[sizeof(tmp) - 1 - n++] = '0';
	dt__buf_put(b, tmp + sizeof(tmp) - n, n);
}

void dt__buf_put_u64(struct dt_buf *b, uint64_t v)
{
	dt__buf_put_u64_pad(b, v, 0);
}

void dt__buf_put_i64(struct dt_buf *b, int64_t v)
{
	if (v < 0) {
		dt__buf_putc(b, '-');
		dt__buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		dt__buf_put_u64(b, (uint64_t)v);
	}
}

void dt__buf_put_hex(struct dt_buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	if (!dt__buf_reserve(b, 2 * n))
		return;
	char *o = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	b->len += 2 * n;
}
