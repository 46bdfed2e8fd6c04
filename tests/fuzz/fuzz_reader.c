/* Fuzz target: the Frame Streams file reader (START, data frames, control frames, STOP, oversize frames)
 * on the input as a whole file. The same input is read three times side by side, and the three readers
 * must agree frame by frame:
 *   A: default frame size limit, the file arriving in one read(2), as from a small regular file;
 *   B: default limit, the file arriving in short reads, as from a pipe or across the reader's 1 MiB chunks;
 *   C: a small limit, in short reads, so that most frames are skipped as oversize.
 * The read sizes and the small limit follow from the input length, so the fuzzer explores them too. */
#undef _FORTIFY_SOURCE /* read() is defined below; a fortified inline read() would clash with it */
#define _GNU_SOURCE
#include "dnstap.h"
#include "frame.h"
#include "fuzz.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The readers get descriptors of /dev/null; read() below serves them the input instead, in pieces of at
 * most `chunk` bytes. Defining read() here replaces the C library's for the whole program, which is how
 * short reads can be had deterministically. Every other descriptor goes to the real system call. */
struct feed {
	int fd;
	bool active;
	const uint8_t *data;
	size_t len, off;
	size_t chunk; /* 0: no limit */
	unsigned reads;
};

static struct feed feeds[3];

ssize_t read(int fd, void *buf, size_t n)
{
	for (size_t i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		struct feed *f = &feeds[i];
		if (!f->active || fd != f->fd)
			continue;
		/* a zero-byte read would return 0, which the reader would take for the end of the file */
		FUZZ_CHECK(n > 0);
		f->reads++;
		size_t k = f->len - f->off;
		if (k > n)
			k = n;
		if (f->chunk != 0 && k > f->chunk)
			k = f->chunk;
		if (k > 0)
			memcpy(buf, f->data + f->off, k);
		f->off += k;
		return (ssize_t)k;
	}
	return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static bool open_result_ok(dt_res res)
{
	return res == DT_OK || res == DT_ERR_EOF || res == DT_ERR_NOT_FSTRM || res == DT_ERR_CONTROL ||
	       res == DT_ERR_CONTENT_TYPE;
}

static bool next_result_ok(dt_res res)
{
	return res == DT_OK || res == DT_STOP || res == DT_ERR_TOO_BIG || res == DT_ERR_EOF ||
	       res == DT_ERR_TRUNCATED || res == DT_ERR_CONTROL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum { A, B, C, N };
	static bool opened;
	if (!opened) {
		for (int i = A; i < N; i++) {
			feeds[i].fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			FUZZ_CHECK(feeds[i].fd >= 0);
		}
		opened = true;
	}
	const size_t small_max = 1 + size % 509;
	const size_t max[N] = {0, 0, small_max};
	const size_t chunk[N] = {0, 1 + size % 67, 1 + size % 67};

	struct dt_reader *r[N];
	dt_res res[N];
	for (int i = A; i < N; i++) {
		feeds[i] =
			(struct feed){.fd = feeds[i].fd, .active = true, .data = data, .len = size, .chunk = chunk[i]};
		r[i] = dt__reader_open_fd(feeds[i].fd, max[i], &res[i]);
		FUZZ_CHECK(feeds[i].reads > 0); /* the reader did read through read() above */
		FUZZ_CHECK(open_result_ok(res[i]));
		FUZZ_CHECK((r[i] != NULL) == (res[i] == DT_OK));
		FUZZ_CHECK(res[i] == res[A]);
	}
	if (r[A] != NULL) {
		for (int i = B; i < N; i++)
			FUZZ_CHECK(dt_reader_no_content_type(r[i]) == dt_reader_no_content_type(r[A]));

		size_t steps = 0, payload_bytes = 0;
		for (;;) {
			const uint8_t *p[N];
			size_t len[N];
			for (int i = A; i < N; i++) {
				res[i] = dt_reader_next(r[i], &p[i], &len[i]);
				FUZZ_CHECK(next_result_ok(res[i]));
			}
			if (res[A] == DT_OK) {
				/* a data frame: non-empty (length 0 escapes a control frame), within the limit */
				FUZZ_CHECK(len[A] >= 1 && len[A] <= DT_DEFAULT_MAX_FRAME_SIZE);
				payload_bytes += 4 + len[A];
				FUZZ_CHECK(payload_bytes <= size);
				FUZZ_CHECK(res[B] == DT_OK && len[B] == len[A] && memcmp(p[B], p[A], len[A]) == 0);
				if (len[A] <= small_max)
					FUZZ_CHECK(res[C] == DT_OK && len[C] == len[A] &&
						   memcmp(p[C], p[A], len[A]) == 0);
				else
					FUZZ_CHECK(res[C] == DT_ERR_TOO_BIG);
			} else {
				FUZZ_CHECK(res[B] == res[A] && res[C] == res[A]);
			}
			for (int i = B; i < N; i++)
				FUZZ_CHECK(dt_reader_frame_count(r[i]) == dt_reader_frame_count(r[A]));
			/* every call consumes at least a 4-byte frame header, or ends the stream */
			FUZZ_CHECK(++steps <= size / 4 + 1);
			if (res[A] != DT_OK && res[A] != DT_ERR_TOO_BIG)
				break;
		}
	}
	for (int i = A; i < N; i++) {
		dt_reader_close(r[i]);
		feeds[i].active = false;
	}
	return 0;
}
