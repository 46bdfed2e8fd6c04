/* Frame Streams file output: payloads go to the file untouched, which is why writing runs at disk
 * speed. Reopening finishes the current file with STOP and starts the path afresh (logrotate renames
 * the file first, so nothing is lost and nothing is truncated). */
#include "frame.h"
#include "output.h"

#include <stdlib.h>
#include <string.h>

struct fstrm_output {
	struct dt_output base;
	char *path;
	bool append;
	struct dt_writer *w;
	uint64_t written_before; /* frames written by the writers before the last reopen */
	uint64_t files;
};

static dt_res fstrm_write(struct dt_output *base, struct dt_item *it)
{
	struct fstrm_output *o = (struct fstrm_output *)base;
	return o->w ? dt_writer_write(o->w, it->payload, it->len) : DT_ERR_IO;
}

static dt_res fstrm_flush(struct dt_output *base)
{
	struct fstrm_output *o = (struct fstrm_output *)base;
	return o->w ? dt_writer_flush(o->w) : DT_ERR_IO;
}

static dt_res fstrm_reopen(struct dt_output *base)
{
	struct fstrm_output *o = (struct fstrm_output *)base;
	if (o->w != NULL && dt__output_not_moved(o->path, dt__writer_fd(o->w)))
		return dt_writer_flush(o->w);
	if (o->w != NULL) {
		dt_writer_flush(o->w); /* closing flushes too, but count what that writes first */
		o->written_before += dt__writer_frames_written(o->w);
	}
	dt_res res = dt_writer_close(o->w);
	dt_res open_res;
	/* a rotated file is a fresh file: never append a second START...STOP to an old one */
	o->w = dt_writer_open(o->path, false, &open_res);
	if (o->w != NULL)
		o->files++;
	return res != DT_OK ? res : open_res;
}

static dt_res fstrm_close(struct dt_output *base)
{
	struct fstrm_output *o = (struct fstrm_output *)base;
	dt_res res = dt_writer_close(o->w);
	free(o->path);
	free(o);
	return res;
}

uint64_t dt__fstrm_frames_written(const struct dt_output *base)
{
	const struct fstrm_output *o = (const struct fstrm_output *)base;
	return o->written_before + (o->w != NULL ? dt__writer_frames_written(o->w) : 0);
}

static void fstrm_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	st->written = dt__fstrm_frames_written(base);
	st->files = ((const struct fstrm_output *)base)->files;
	st->exact = true;
}

static const char *fstrm_name(const struct dt_output *base)
{
	return ((const struct fstrm_output *)base)->path;
}

static const struct dt_output_ops fstrm_ops = {
	.write = fstrm_write,
	.flush = fstrm_flush,
	.reopen = fstrm_reopen,
	.close = fstrm_close,
	.stats = fstrm_stats,
	.get_name = fstrm_name,
};

struct dt_output *dt_output_fstrm_open(const char *path, bool append, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct fstrm_output *o = calloc(1, sizeof(*o));
	if (o == NULL || (o->path = strdup(path)) == NULL) {
		free(o);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->base.ops = &fstrm_ops;
	o->append = append;
	o->w = dt_writer_open(path, append, res);
	if (o->w == NULL) {
		free(o->path);
		free(o);
		return NULL;
	}
	o->files = 1;
	return &o->base;
}
