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

const char dt__digit_pairs[201] =
	"0001020304050607080910111213141516171819202122232425262728293031323334353637383940"
	"4142434445464748495051525354555657585960616263646566676869707172737475767778798081"
	"828384858687888990919293949596979899";

void dt__buf_put_u64_pad(struct dt_buf *b, uint64_t v, unsigned width)
{
	const char *pairs = dt__digit_pairs;
	char tmp[20];
	char *end = tmp + sizeof(tmp), *p = end;
	while (v >= 100) {
		p -= 2;
		memcpy(p, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	while ((unsigned)(end - p) < width && p > tmp)
		*--p = '0';
	dt__buf_put(b, p, (size_t)(end - p));
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
