/* Reading Frame Streams files: START, data frames, STOP. The file is read in large chunks into one
 * buffer and frames are lent out of it, so reading costs one read(2) per megabyte and no copy. Frames
 * over the size limit are skipped by their length prefix, so one bad frame does not end the file. */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1024 * 1024)

struct dt_reader {
	int fd;
	bool own_fd;
	bool eof;
	bool no_content_type;
	size_t max_frame;
	uint8_t *buf;
	size_t cap;
	size_t start, end; /* unread bytes are buf[start..end) */
	uint64_t frames;
};

/* Reads more bytes, keeping the unread ones. Returns DT_OK, DT_ERR_EOF at end of input, DT_ERR_IO. */
static dt_res fill(struct dt_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->eof)
		return DT_ERR_EOF;
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n > 0) {
			r->end += (size_t)n;
			return DT_OK;
		}
		if (n == 0) {
			r->eof = true;
			return DT_ERR_EOF;
		}
		if (errno != EINTR)
			return DT_ERR_IO;
	}
}

/* Makes at least want bytes available (want <= cap). At end of input: DT_ERR_EOF if nothing at all is
 * buffered, DT_ERR_TRUNCATED if some bytes are. */
static dt_res need(struct dt_reader *r, size_t want)
{
	while (r->end - r->start < want) {
		dt_res res = fill(r);
		if (res == DT_ERR_EOF)
			return r->end == r->start ? DT_ERR_EOF : DT_ERR_TRUNCATED;
		if (res != DT_OK)
			return res;
	}
	return DT_OK;
}

/* Discards n bytes of input (the body of a skipped frame). */
static dt_res skip(struct dt_reader *r, uint64_t n)
{
	for (;;) {
		size_t have = r->end - r->start;
		if (n <= have) {
			r->start += (size_t)n;
			return DT_OK;
		}
		n -= have;
		r->start = r->end = 0;
		dt_res res = fill(r);
		if (res == DT_ERR_EOF)
			return DT_ERR_TRUNCATED;
		if (res != DT_OK)
			return res;
	}
}

/* Reads the next frame header; on success the frame's header and body are buffered (except for data
 * frames over the limit, whose body is not). */
static dt_res next_frame(struct dt_reader *r, struct dt_frame *f)
{
	for (;;) {
		dt__frame_peek(r->buf + r->start, r->end - r->start, f);
		if (f->kind != DT_FRAME_NEED_MORE)
			break;
		dt_res res = need(r, f->need);
		if (res != DT_OK)
			return res;
	}
	if (f->kind == DT_FRAME_BAD)
		return DT_ERR_CONTROL;
	if (f->kind == DT_FRAME_DATA && f->len > r->max_frame)
		return DT_OK;
	return need(r, f->header + f->len);
}

struct dt_reader *dt__reader_open_fd(int fd, size_t max_frame_size, dt_res *res)
{
	struct dt_reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	r->fd = fd;
	r->max_frame = max_frame_size ? max_frame_size : DT_DEFAULT_MAX_FRAME_SIZE;
	r->cap = r->max_frame + 8 > READ_CHUNK ? r->max_frame + 8 : READ_CHUNK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		free(r);
		*res = DT_ERR_NOMEM;
		return NULL;
	}

	struct dt_frame f;
	struct dt_control c;
	*res = next_frame(r, &f);
	if (*res == DT_OK && f.kind != DT_FRAME_CONTROL)
		*res = DT_ERR_NOT_FSTRM;
	if (*res == DT_ERR_TRUNCATED || *res == DT_ERR_CONTROL)
		*res = DT_ERR_NOT_FSTRM; /* no complete, sane START frame at the head of the file */
	if (*res == DT_OK)
		*res = dt__control_parse(r->buf + r->start + f.header, f.len, &c);
	if (*res == DT_OK && c.type != DT_CTRL_START)
		*res = DT_ERR_NOT_FSTRM;
	if (*res == DT_OK && c.n_content_types > 0 && !c.dnstap)
		*res = DT_ERR_CONTENT_TYPE;
	if (*res != DT_OK) {
		int e = errno;
		dt_reader_close(r);
		errno = e;
		return NULL;
	}
	r->no_content_type = c.n_content_types == 0;
	r->start += f.header + f.len;
	return r;
}

struct dt_reader *dt_reader_open(const char *path, size_t max_frame_size, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	if (path == NULL) {
		*res = DT_ERR_INVALID;
		return NULL;
	}
	if (strcmp(path, "-") == 0)
		return dt__reader_open_fd(STDIN_FILENO, max_frame_size, res);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*res = DT_ERR_IO;
		return NULL;
	}
	struct dt_reader *r = dt__reader_open_fd(fd, max_frame_size, res);
	if (r == NULL) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	r->own_fd = true;
	return r;
}

dt_res dt_reader_next(struct dt_reader *r, const uint8_t **data, size_t *len)
{
	for (;;) {
		struct dt_frame f;
		dt_res res = next_frame(r, &f);
		if (res != DT_OK)
			return res;
		if (f.kind == DT_FRAME_DATA) {
			if (f.len > r->max_frame) {
				r->start += f.header;
				res = skip(r, f.len);
				if (res != DT_OK)
					return res; /* cut short: not counted, as a frame within the limit is not */
				r->frames++;
				return DT_ERR_TOO_BIG;
			}
			r->frames++;
			*data = r->buf + r->start + f.header;
			*len = f.len;
			r->start += f.header + f.len;
			return DT_OK;
		}
		struct dt_control c;
		res = dt__control_parse(r->buf + r->start + f.header, f.len, &c);
		if (res != DT_OK)
			return res;
		r->start += f.header + f.len;
		if (c.type == DT_CTRL_STOP)
			return DT_STOP;
		/* Any other control frame inside a file carries nothing for us: skip it, as the spec says. */
	}
}

uint64_t dt_reader_frame_count(const struct dt_reader *r)
{
	return r->frames;
}

bool dt_reader_no_content_type(const struct dt_reader *r)
{
	return r->no_content_type;
}

void dt_reader_close(struct dt_reader *r)
{
	if (r == NULL)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->buf);
	free(r);
}
