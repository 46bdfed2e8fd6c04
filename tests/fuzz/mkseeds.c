/* Writes the fuzzers' seed corpora from dnstap files:  mkseeds OUTDIR FILE...
 *   OUTDIR/fuzz_reader/   each file whole;
 *   OUTDIR/fuzz_payload/  the payload of each data frame;
 *   OUTDIR/fuzz_dnstext/  each DNS message (query and response) and query zone inside those payloads;
 *   OUTDIR/fuzz_listener/ each file as a sender's socket stream (fuzz_listener.c's 4-byte header, then the
 *                         stream): unidirectional (the file as it is) and bidirectional (READY first),
 *                         with the default and a small size limit, cut short, without START, timing
 *                         out, to a sender that stops reading; garbage; 150 KB of 5000-byte frames;
 *   OUTDIR/fuzz_proxy/    those DNS messages as a client's TCP stream (2-byte length prefixes): each
 *                         alone, and each query followed by the next answer.
 * Identical inputs are written once. Seeds are generated from tests/data on each run, never committed. */
#include "dnstap.h"
#include "frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;
enum kind { READER, PAYLOAD, DNSTEXT, LISTENER, PROXY, KINDS };

static unsigned written[KINDS];

/* FNV-1a, naming each seed after its content so that duplicates overwrite each other. */
static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static const char *const dirs[KINDS] = {"fuzz_reader", "fuzz_payload", "fuzz_dnstext", "fuzz_listener", "fuzz_proxy"};

static void write_seed(enum kind kind, const uint8_t *p, size_t n)
{
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

/* A fuzz_listener seed: header (size limit, two chunk sizes, flags), an optional control frame the
 * sender starts with, then stream[0, n). */
static void listener_seed(const uint8_t header[4], uint32_t first_ctrl, bool with_ct, const uint8_t *stream, size_t n)
{
	uint8_t ctrl[DT_CONTROL_FRAME_MAX];
	size_t clen = first_ctrl ? dt__control_build(ctrl, first_ctrl, with_ct) : 0;
	uint8_t *p = malloc(4 + clen + n);
	if (p == NULL || (first_ctrl && clen == 0)) {
		fprintf(stderr, "mkseeds: out of memory\n");
		exit(1);
	}
	memcpy(p, header, 4);
	memcpy(p + 4, ctrl, clen);
	memcpy(p + 4 + clen, stream, n);
	write_seed(LISTENER, p, 4 + clen + n);
	free(p);
}

/* START, frames of 5000 bytes (cut from the file, round and round) for 150 KB, STOP. The listener's
 * reads end inside frames, and past 64 KiB its buffer goes on in a second chunk, so that a frame lies
 * across two chunks (the listener copies it out then). */
static void listener_big_frames(const uint8_t *file, size_t len)
{
	enum { FRAME = 5000, FRAMES = 30 };
	static uint8_t stream[DT_CONTROL_FRAME_MAX + FRAMES * (4 + FRAME) + DT_CONTROL_FRAME_MAX];
	size_t n = dt__control_build(stream, DT_CTRL_START, true);
	for (size_t i = 0, at = 0; i < FRAMES && len > 0; i++) {
		dt__put_be32(stream + n, FRAME);
		n += 4;
		for (size_t k = 0; k < FRAME; k++, at = (at + 1) % len)
			stream[n++] = file[at];
	}
	n += dt__control_build(stream + n, DT_CTRL_STOP, false);
	listener_seed((const uint8_t[4]){0, 255, 255, 0}, 0, false, stream, n);
}

static void listener_seeds(const uint8_t *file, size_t len)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	const size_t start = 42, stop = 12; /* START with the content type; STOP */
	/* unidirectional: the file as it is, default limit, then a 128-byte limit (most frames skipped) */
	listener_seed((const uint8_t[4]){0, 0, 1, 0}, 0, false, file, len);
	listener_seed((const uint8_t[4]){32, 15, 3, 0}, 0, false, file, len);
	/* bidirectional: READY with and without the content type; ends by a listener shutdown */
	listener_seed((const uint8_t[4]){0, 63, 2, 0}, DT_CTRL_READY, true, file, len);
	listener_seed((const uint8_t[4]){64, 7, 0, 1}, DT_CTRL_READY, false, file, len);
	/* the handshake times out after the first chunk (READY answered, no START yet) */
	listener_seed((const uint8_t[4]){0, 50, 0, 0x10}, DT_CTRL_READY, true, file, len);
	if (len > start + stop) {
		/* without STOP; cut in the middle of a frame; without START */
		listener_seed((const uint8_t[4]){0, 200, 1, 0}, DT_CTRL_READY, true, file, len - stop);
		listener_seed((const uint8_t[4]){16, 3, 1, 0}, 0, false, file, len / 2);
		listener_seed((const uint8_t[4]){0, 9, 1, 0}, 0, false, file + start, len - start);
	}
	/* a sender that stops reading after READY (FINISH cannot be sent), or in the middle of it (ACCEPT
	 * cannot be sent); a limit of one connection; a 2.5 s handshake timeout passing after chunk 2 */
	listener_seed((const uint8_t[4]){0, 100, 1, 2}, DT_CTRL_READY, true, file, len);
	listener_seed((const uint8_t[4]){0, 20, 1, 2}, DT_CTRL_READY, true, file, len);
	listener_seed((const uint8_t[4]){0, 30, 5, 4}, 0, false, file, len);
	listener_seed((const uint8_t[4]){0, 30, 0, 0x28}, DT_CTRL_READY, false, file, len);
	listener_seed((const uint8_t[4]){0, 4, 0, 0}, 0, false, (const uint8_t *)http, sizeof(http) - 1);
	listener_big_frames(file, len);
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
	write_seed(READER, buf, len);
	listener_seeds(buf, len);
	free(buf);
}

static uint8_t last_query[65535];
static size_t last_query_len;

/* A fuzz_proxy seed: a, then b if it is not empty, each behind its 2-byte length. */
static void proxy_seed(struct dt_bytes a, struct dt_bytes b)
{
	static uint8_t stream[2 * (2 + 65535)];
	size_t n = 0;
	const struct dt_bytes both[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		if (both[i].len == 0 || both[i].len > 65535)
			continue;
		stream[n++] = (uint8_t)(both[i].len >> 8);
		stream[n++] = (uint8_t)both[i].len;
		memcpy(stream + n, both[i].data, both[i].len);
		n += both[i].len;
	}
	if (n > 0)
		write_seed(PROXY, stream, n);
}

static void frames(const char *path, struct dt_decoder *dec)
{
	last_query_len = 0;
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
		write_seed(PAYLOAD, p, n);
		const struct dt_message *m;
		if (dt_decode(dec, p, n, &m) != DT_OK)
			continue;
		if (m->has_query_message) {
			write_seed(DNSTEXT, m->query_message.data, m->query_message.len);
			proxy_seed(m->query_message, (struct dt_bytes){0});
			last_query_len = m->query_message.len <= sizeof(last_query) ? m->query_message.len : 0;
			memcpy(last_query, m->query_message.data, last_query_len);
		}
		if (m->has_response_message) {
			write_seed(DNSTEXT, m->response_message.data, m->response_message.len);
			proxy_seed(m->response_message, (struct dt_bytes){0});
			if (last_query_len > 0)
				proxy_seed((struct dt_bytes){last_query, last_query_len}, m->response_message);
		}
		if (m->has_query_zone)
			write_seed(DNSTEXT, m->query_zone.data, m->query_zone.len);
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
	for (int k = 0; k < KINDS; k++)
		make_dir(outdir, dirs[k]);
	struct dt_decoder *dec = dt_decoder_new();
	if (dec == NULL)
		return 1;
	for (int i = 2; i < argc; i++) {
		whole_file(argv[i]);
		frames(argv[i], dec);
	}
	dt_decoder_free(dec);
	printf("mkseeds: %u files, %u payloads, %u DNS messages and names, %u socket streams, %u TCP streams "
	       "(before removing duplicates)\n",
	       written[READER], written[PAYLOAD], written[DNSTEXT], written[LISTENER], written[PROXY]);
	return 0;
}
