/* Writes the fuzzers' seed corpora from dnstap files:  mkseeds OUTDIR FILE...
 *   OUTDIR/fuzz_reader/   each file whole;
 *   OUTDIR/fuzz_payload/  the payload of each data frame;
 *   OUTDIR/fuzz_dnstext/  each DNS message (query and response) and query zone inside those payloads.
 * Identical inputs are written once. Seeds are generated from tests/data on each run, never committed. */
#include "dnstap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;
static unsigned written[3];

/* FNV-1a, naming each seed after its content so that duplicates overwrite each other. */
static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static void write_seed(int kind, const uint8_t *p, size_t n)
{
	static const char *const dirs[3] = {"fuzz_reader", "fuzz_payload", "fuzz_dnstext"};
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/%016llx", outdir, dirs[kind], (unsigned long long)hash(p, n));
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	written[kind]++;
}

static void make_dir(const char *a, const char *b)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", a, b ? "/" : "", b ? b : "");
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void whole_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				fprintf(stderr, "mkseeds: out of memory\n");
				exit(1);
			}
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	write_seed(0, buf, len);
	free(buf);
}

static void frames(const char *path, struct dt_decoder *dec)
{
	dt_res res;
	struct dt_reader *r = dt_reader_open(path, 0, &res);
	if (r == NULL) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, dt_strerror(res));
		exit(1);
	}
	const uint8_t *p;
	size_t n;
	while ((res = dt_reader_next(r, &p, &n)) == DT_OK || res == DT_ERR_TOO_BIG) {
		if (res != DT_OK)
			continue;
		write_seed(1, p, n);
		const struct dt_message *m;
		if (dt_decode(dec, p, n, &m) != DT_OK)
			continue;
		if (m->has_query_message)
			write_seed(2, m->query_message.data, m->query_message.len);
		if (m->has_response_message)
			write_seed(2, m->response_message.data, m->response_message.len);
		if (m->has_query_zone)
			write_seed(2, m->query_zone.data, m->query_zone.len);
	}
	dt_reader_close(r);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mkseeds OUTDIR FILE...\n");
		return 2;
	}
	outdir = argv[1];
	make_dir(outdir, NULL);
	make_dir(outdir, "fuzz_reader");
	make_dir(outdir, "fuzz_payload");
	make_dir(outdir, "fuzz_dnstext");
	struct dt_decoder *dec = dt_decoder_new();
	if (dec == NULL)
		return 1;
	for (int i = 2; i < argc; i++) {
		whole_file(argv[i]);
		frames(argv[i], dec);
	}
	dt_decoder_free(dec);
	printf("mkseeds: %u files, %u payloads, %u DNS messages and names (before removing duplicates)\n",
	       written[0], written[1], written[2]);
	return 0;
}
