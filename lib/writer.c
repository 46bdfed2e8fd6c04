/* Writing Frame Streams files: START, data frames, STOP. Frames are gathered in one buffer and written
 * with one write(2) per batch; dt_writer_flush() lets the caller decide when data must reach the kernel
 * (at the latest once a second for a listener), which libfstrm's stdio-buffered writer cannot do. */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define WRITE_BATCH (256 * 1024)

struct dt_writer {
	int fd;
	dt_res error; /* first write error; the writer stops writing after it */
	size_t len;
	uint8_t buf[WRITE_BATCH];
};

static dt_res write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return DT_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return DT_OK;
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
		w->error = write_all(w->fd, w->buf, w->len);
		w->len = 0;
	}
	return w->error;
}

static dt_res put(struct dt_writer *w, const uint8_t *p, size_t n)
{
	if (w->error != DT_OK)
		return w->error;
	if (n > sizeof(w->buf) - w->len && dt_writer_flush(w) != DT_OK)
		return w->error;
	if (n > sizeof(w->buf)) {
		w->error = write_all(w->fd, p, n);
		return w->error;
	}
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
	uint8_t prefix[4];
	dt__put_be32(prefix, (uint32_t)len);
	if (4 + len <= sizeof(w->buf) - w->len) {
		memcpy(w->buf + w->len, prefix, 4);
		memcpy(w->buf + w->len + 4, payload, len);
		w->len += 4 + len;
		return w->error;
	}
	dt_res res = put(w, prefix, 4);
	return res == DT_OK ? put(w, payload, len) : res;
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
