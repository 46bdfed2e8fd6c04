/* Writing Frame Streams files: START, data frames, STOP. Frames are gathered in one buffer and written
 * with one write(2) per batch; dt_writer_flush() lets the caller decide when data must reach the kernel
 * (at the latest once a second for a listener), which libfstrm's stdio-buffered writer cannot do. */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define WRITE_BATCH (256 * 1024)

struct dt_writer {
	int fd;
	dt_res error;      /* first write error; the writer stops writing after it */
	uint64_t written;  /* data frames the kernel has taken whole */
	uint64_t buffered; /* data frames in buf: buf holds whole frames only */
	size_t len;
	uint8_t buf[WRITE_BATCH];
};

/* Writes n bytes; *done says how many the kernel took, also on failure. */
static dt_res write_all(int fd, const uint8_t *p, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t w = write(fd, p + *done, n - *done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return DT_ERR_IO;
		}
		*done += (size_t)w;
	}
	return DT_OK;
}

/* The data frames wholly inside the first n bytes of buf (which starts at a frame boundary). */
static uint64_t whole_frames(const uint8_t *buf, size_t n)
{
	uint64_t frames = 0;
	size_t at = 0;
	while (n - at >= 4) {
		uint32_t len = dt__be32(buf + at);
		size_t size = len != 0 ? 4 + (size_t)len : n - at >= 8 ? 8 + (size_t)dt__be32(buf + at + 4) : SIZE_MAX;
		if (size > n - at)
			break;
		frames += len != 0;
		at += size;
	}
	return frames;
}

int dt__writer_fd(const struct dt_writer *w)
{
	return w->fd;
}

dt_res dt_writer_flush(struct dt_writer *w)
{
	if (w->error != DT_OK)
		return w->error;
	if (w->len > 0) {
		size_t done;
		w->error = write_all(w->fd, w->buf, w->len, &done);
		/* after a failure, count what made it out whole: the caller can then say exactly what is lost */
		w->written += w->error == DT_OK ? w->buffered : whole_frames(w->buf, done);
		w->buffered = 0;
		w->len = 0;
	}
	return w->error;
}

uint64_t dt__writer_frames_written(const struct dt_writer *w)
{
	return w->written;
}

/* Appends a control frame (START, STOP: at most DT_CONTROL_FRAME_MAX bytes, so it always fits). */
static dt_res put(struct dt_writer *w, const uint8_t *p, size_t n)
{
	if (w->error != DT_OK)
		return w->error;
	if (n > sizeof(w->buf) - w->len && dt_writer_flush(w) != DT_OK)
		return w->error;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return DT_OK;
}

struct dt_writer *dt_writer_open(const char *path, bool append, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct dt_writer *w = malloc(sizeof(*w));
	if (w == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	w->len = 0;
	w->error = DT_OK;
	w->written = w->buffered = 0;
	w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0666);
	if (w->fd < 0) {
		int e = errno;
		free(w);
		errno = e;
		*res = DT_ERR_IO;
		return NULL;
	}
	uint8_t start[DT_CONTROL_FRAME_MAX];
	size_t n = dt__control_build(start, DT_CTRL_START, true);
	*res = n ? put(w, start, n) : DT_ERR_NOMEM;
	if (*res == DT_OK)
		*res = dt_writer_flush(w);
	if (*res != DT_OK) {
		int e = errno;
		close(w->fd);
		free(w);
		errno = e;
		return NULL;
	}
	return w;
}

dt_res dt_writer_write(struct dt_writer *w, const uint8_t *payload, size_t len)
{
	if (len == 0 || len > UINT32_MAX)
		return DT_ERR_INVALID; /* a zero length would read as a control frame escape */
	if (w->error != DT_OK)
		return w->error;
	if (4 + len > sizeof(w->buf) - w->len && dt_writer_flush(w) != DT_OK)
		return w->error;
	if (4 + len <= sizeof(w->buf)) {
		dt__put_be32(w->buf + w->len, (uint32_t)len);
		memcpy(w->buf + w->len + 4, payload, len);
		w->len += 4 + len;
		w->buffered++;
		return DT_OK;
	}
	/* larger than the whole buffer: straight to the kernel, prefix and payload together */
	uint8_t prefix[4];
	dt__put_be32(prefix, (uint32_t)len);
	struct iovec iov[2] = {{prefix, 4}, {(void *)(uintptr_t)payload, len}};
	size_t total = 4 + len, done = 0;
	while (done < total) {
		ssize_t n = writev(w->fd, iov, 2);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return w->error = DT_ERR_IO;
		done += (size_t)n;
		for (int i = 0; i < 2; i++) {
			size_t step = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + step;
			iov[i].iov_len -= step;
			n -= (ssize_t)step;
		}
	}
	w->written++;
	return DT_OK;
}

dt_res dt_writer_close(struct dt_writer *w)
{
	if (w == NULL)
		return DT_OK;
	uint8_t stop[DT_CONTROL_FRAME_MAX];
	size_t n = dt__control_build(stop, DT_CTRL_STOP, false);
	dt_res res = n ? put(w, stop, n) : DT_ERR_NOMEM;
	dt_res fres = dt_writer_flush(w);
	if (res == DT_OK)
		res = fres;
	if (close(w->fd) != 0 && res == DT_OK)
		res = DT_ERR_IO;
	int e = errno;
	free(w);
	errno = e;
	return res;
}
