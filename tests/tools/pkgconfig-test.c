/* A program built only from the installed files (`pkg-config --cflags --libs libdnstap`), never from the
 * tree: it proves the header, the .pc file and the shared library are enough for a user of libdnstap.
 * It prints a capture in the quiet format and the number of messages, so the caller can compare the output
 * with the installed `dnstap -r FILE`.
 *   pkgconfig-test FILE */
#include <dnstap.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pkgconfig-test FILE\n");
		return 2;
	}
	dt_res res;
	struct dt_reader *r = dt_reader_open(argv[1], 0, &res);
	if (r == NULL) {
		fprintf(stderr, "pkgconfig-test: %s: %s\n", argv[1], dt_strerror(res));
		return 1;
	}
	struct dt_decoder *d = dt_decoder_new();
	if (d == NULL) {
		fprintf(stderr, "pkgconfig-test: out of memory\n");
		return 1;
	}
	struct dt_buf out = {0};
	unsigned long n = 0;
	const uint8_t *data;
	size_t len;
	while ((res = dt_reader_next(r, &data, &len)) == DT_OK) {
		const struct dt_message *m;
		if (dt_decode(d, data, len, &m) != DT_OK || dt_format(DT_FORMAT_QUIET, m, &out) != DT_OK)
			continue;
		n++;
	}
	int rc = res == DT_STOP && !out.failed ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, "pkgconfig-test: %s: %s\n", argv[1], dt_strerror(res));
	fwrite(out.data, 1, out.len, stdout);
	fprintf(stderr, "pkgconfig-test: %lu messages\n", n);
	dt_buf_free(&out);
	dt_decoder_free(d);
	dt_reader_close(r);
	return rc;
}
