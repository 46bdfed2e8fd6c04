/* Text output: decodes each payload, formats it into one buffer, and writes the buffer out in large
 * chunks (one write(2) per 64 KiB, not per message), to standard output or a file. */
#include "buf.h"
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_BATCH (64 * 1024)

struct text_output {
	struct dt_output base;
	enum dt_format format;
	const struct dt_template *tmpl; /* instead of format when set */
	char *path;                     /* NULL for standard output */
	bool append;
	int fd;
	dt_res error; /* first write error: the output is broken after it */
	struct dt_decoder *decoder;
	struct dt_buf buf;
	uint64_t formatted; /* messages formatted into buf (not necessarily on disk yet) */
	uint64_t files;
};

static dt_res text_flush(struct dt_output *base)
{
	struct text_output *o = (struct text_output *)base;
	size_t off = 0;
	while (o->error == DT_OK && off < o->buf.len) {
		ssize_t n = write(o->fd, o->buf.data + off, o->buf.len - off);
		if (n < 0 && errno != EINTR)
			o->error = DT_ERR_IO;
		else if (n > 0)
			off += (size_t)n;
	}
	o->buf.len = 0;
	return o->error;
}

static dt_res text_write(struct dt_output *base, struct dt_item *it)
{
	struct text_output *o = (struct text_output *)base;
	if (o->error != DT_OK)
		return o->error;
	dt_res res;
	const struct dt_message *m = dt__item_message(it, o->decoder, &res);
	if (m == NULL)
		return res;
	size_t mark = o->buf.len;
	res = o->tmpl != NULL ? dt_template_format(o->tmpl, m, &o->buf) : dt_format(o->format, m, &o->buf);
	if (res != DT_OK) {
		o->buf.len = mark;
		o->buf.failed = false;
		return res;
	}
	o->formatted++;
	if (o->buf.len >= TEXT_BATCH)
		return text_flush(base);
	return DT_OK;
}

static int open_path(const char *path, bool append)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
	return open(path, flags, 0666);
}

static dt_res text_reopen(struct dt_output *base)
{
	struct text_output *o = (struct text_output *)base;
	dt_res res = text_flush(base);
	if (o->path == NULL || res != DT_OK || dt__output_not_moved(o->path, o->fd))
		return res;
	int fd = open_path(o->path, o->append);
	if (fd < 0)
		return DT_ERR_IO;
	close(o->fd);
	o->fd = fd;
	o->files++;
	return DT_OK;
}

static dt_res text_close(struct dt_output *base)
{
	struct text_output *o = (struct text_output *)base;
	dt_res res = text_flush(base);
	if (o->path != NULL && close(o->fd) != 0 && res == DT_OK)
		res = DT_ERR_IO;
	int e = errno;
	dt_decoder_free(o->decoder);
	dt__buf_free(&o->buf);
	free(o->path);
	free(o);
	errno = e;
	return res;
}

/* Text cannot tell which line reached the disk before an error: written is what was formatted. */
static void text_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	const struct text_output *o = (const struct text_output *)base;
	st->written = o->formatted;
	st->files = o->files;
	st->exact = false;
}

static const char *text_name(const struct dt_output *base)
{
	const struct text_output *o = (const struct text_output *)base;
	return o->path != NULL ? o->path : "(stdout)";
}

static const struct dt_output_ops text_ops = {
	.write = text_write,
	.stats = text_stats,
	.get_name = text_name,
	.flush = text_flush,
	.reopen = text_reopen,
	.close = text_close,
};

struct dt_output *dt_output_text_open(const char *path, enum dt_format f, bool append, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct text_output *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->base.ops = &text_ops;
	o->format = f;
	o->append = append;
	o->fd = STDOUT_FILENO;
	o->decoder = dt_decoder_new();
	if (o->decoder == NULL || !dt__buf_reserve(&o->buf, TEXT_BATCH + 4096) ||
	    (path != NULL && strcmp(path, "-") != 0 && (o->path = strdup(path)) == NULL)) {
		text_close(&o->base);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	if (o->path != NULL) {
		o->fd = open_path(o->path, append);
		if (o->fd < 0) {
			int e = errno;
			free(o->path);
			o->path = NULL;
			text_close(&o->base);
			errno = e;
			*res = DT_ERR_IO;
			return NULL;
		}
		o->files = 1;
	}
	*res = DT_OK;
	return &o->base;
}

struct dt_output *dt_output_template_open(const char *path, const struct dt_template *t, bool append, dt_res *res)
{
	struct dt_output *base = dt_output_text_open(path, DT_FORMAT_QUIET, append, res);
	if (base == NULL)
		return NULL;
	struct text_output *o = (struct text_output *)base;
	o->tmpl = t;
	if (!append || o->path == NULL || lseek(o->fd, 0, SEEK_END) == 0)
		dt_template_header(t, &o->buf);
	return base;
}
