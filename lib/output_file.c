/* The rotating file output: a text or Frame Streams file output underneath, replaced by the next file on
 * SIGHUP, at every multiple of --split seconds, or before --max-size would be passed. The next file is
 * always opened before the current one is finished, so that a name that cannot be opened keeps the
 * current file in use; a file whose last frames cannot be written stops the output, and the file opened
 * for its successor is removed again: no empty file is left behind on a full disk. */
#include "config.h"

#include "log.h"
#include "output.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Sizes of the framing around the frames of a Frame Streams file: START with the content type, STOP. */
#define FILE_START_SIZE 42
#define FILE_STOP_SIZE 12

struct file_output {
	struct dt_output base;
	struct dt_file_options opt;
	char *pattern;         /* -w as given */
	bool rotating;         /* split or max_size: pattern is a strftime pattern, every file a new one */
	struct dt_output *cur; /* the file being written (NULL once the output has failed) */
	char path[PATH_MAX];   /* its name */
	bool have_id;          /* dev/ino of path when it was opened: has it been moved away since? */
	dev_t dev;
	ino_t ino;
	uint64_t size;           /* bytes in the current Frame Streams file, STOP not included */
	uint64_t file_frames;    /* frames in the current file */
	uint64_t written_before; /* written into the files finished before cur */
	uint64_t files;
	time_t held_until; /* a rotation failed: --max-size tries again after this (monotonic s) */
	int error;         /* errno of the failure that stopped the output; 0: none */
	struct event *split;
};

static void say(struct file_output *f, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct file_output *f, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(f->opt.log, f->opt.log_arg, level, fmt, ap);
	va_end(ap);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static time_t mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct dt_output *open_one(struct file_output *f, const char *path, dt_res *res)
{
	if (f->opt.text && f->opt.tmpl != NULL)
		return dt_output_template_open(path, f->opt.tmpl, f->opt.append, res);
	if (f->opt.text)
		return dt_output_text_open(path, f->opt.format, f->opt.append, res);
	return dt_output_fstrm_open(path, false, res);
}

/* Notes which file path names now, so that SIGHUP can tell whether it has been moved away. */
static void remember_file(struct file_output *f)
{
	struct stat st;
	f->have_id = stat(f->path, &st) == 0;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = FILE_START_SIZE;
	f->file_frames = 0;
	f->files++;
}

/* The name of the next file of a rotating output: the pattern through strftime(3), in local time, with
 * "-N" added before the extension when that file exists already (two rotations within one second, or a
 * pattern without time fields): a finished file is never overwritten. */
static bool next_name(const struct file_output *f, char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	char name[PATH_MAX];
	struct stat st;
	size_t n = localtime_r(&now, &tm) ? strftime(name, sizeof(name), f->pattern, &tm) : 0;
	if (n == 0 || n >= size)
		return false;
	if (lstat(name, &st) != 0 && errno == ENOENT) {
		memcpy(out, name, n + 1);
		return true;
	}
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *ext = strrchr(base, '.');
	if (ext == NULL || ext == base)
		ext = name + n;
	for (unsigned i = 1; i < 1000000; i++) {
		int len = snprintf(out, size, "%.*s-%u%s", (int)(ext - name), name, i, ext);
		if (len < 0 || (size_t)len >= size)
			return false;
		if (lstat(out, &st) != 0 && errno == ENOENT)
			return true;
	}
	return false;
}

static uint64_t cur_written(const struct file_output *f)
{
	struct dt_output_stats st;
	if (f->cur == NULL || dt_output_stats(f->cur, &st) != DT_OK)
		return 0;
	return st.written;
}

/* The output cannot go on: remember why, and stop the loop so that the run ends promptly (the pipeline
 * meets the error at its next write or flush, and says it once). */
static dt_res stop(struct file_output *f, int e)
{
	f->error = e != 0 ? e : EIO;
	if (f->opt.base != NULL)
		event_base_loopbreak(f->opt.base);
	errno = f->error;
	return DT_ERR_IO;
}

/* Starts the next file: the new one is opened first, so that a failure leaves the current file in use;
 * then the current one is finished (STOP) and closed. DT_ERR_IO when the current file could not be
 * finished: the output has then stopped. */
static dt_res rotate(struct file_output *f, const char *why)
{
	char path[PATH_MAX];
	dt_res res;
	if (f->error != 0) {
		errno = f->error;
		return DT_ERR_IO;
	}
	if (!next_name(f, path, sizeof(path))) {
		say(f, LOG_WARNING, "%s: cannot make a new file name from this pattern; still writing %s", f->pattern,
		    f->path);
		return DT_OK;
	}
	struct dt_output *o = open_one(f, path, &res);
	if (o == NULL) {
		int e = errno;
		unlink(path); /* next_name() found nothing there: whatever is there now is this failed start */
		say(f, LOG_WARNING, "%s: %s; still writing %s", path, res == DT_ERR_IO ? strerror(e) : dt_strerror(res),
		    f->path);
		f->held_until = mono_seconds() + 1;
		return DT_OK;
	}
	f->held_until = 0;
	/* the last batch first, so that a failure meets (and counts) it while it is still the output */
	res = dt_output_flush(f->cur);
	uint64_t written = cur_written(f);
	if (res == DT_OK)
		res = dt_output_close(f->cur);
	else
		dt_output_close(f->cur);
	int e = errno;
	f->cur = NULL;
	f->written_before += written;
	if (res != DT_OK) {
		/* the file being finished could not take its last frames: the disk is full or failing, and
		 * the next file would fare no better. Stop, as an output without rotation does. */
		dt_output_close(o);
		unlink(path);
		return stop(f, e);
	}
	f->cur = o;
	say(f, LOG_INFO, "%s: finished (%s), %llu frame%s; now writing %s", f->path, why,
	    (unsigned long long)f->file_frames, plural(f->file_frames), path);
	memcpy(f->path, path, sizeof(path));
	remember_file(f);
	return DT_OK;
}

static dt_res file_write(struct dt_output *base, struct dt_item *it)
{
	struct file_output *f = (struct file_output *)base;
	/* --max-size: a new Frame Streams file before this frame would make the current one too big (a
	 * file always takes at least one frame). Text files are measured at each flush instead. */
	if (f->opt.max_size != 0 && !f->opt.text && f->file_frames > 0 &&
	    f->size + 4 + it->len + FILE_STOP_SIZE > f->opt.max_size &&
	    (f->held_until == 0 || mono_seconds() >= f->held_until)) {
		dt_res res = rotate(f, "size");
		if (res != DT_OK)
			return res;
	}
	if (f->cur == NULL) {
		errno = f->error;
		return DT_ERR_IO;
	}
	dt_res res = dt_output_write_item(f->cur, it);
	if (res == DT_ERR_IO)
		return res;
	f->size += 4 + it->len;
	f->file_frames++;
	return res;
}

/* Writes out what is pending. A text file is measured after that: one that has reached max_size starts
 * the next (text is measured on disk, so it may pass the size by what arrived since the last flush). */
static dt_res file_flush(struct dt_output *base)
{
	struct file_output *f = (struct file_output *)base;
	struct stat st;
	if (f->cur == NULL) {
		errno = f->error;
		return DT_ERR_IO;
	}
	dt_res res = dt_output_flush(f->cur);
	if (res != DT_OK)
		return res;
	if (f->rotating && f->opt.text && f->opt.max_size != 0 && stat(f->path, &st) == 0 &&
	    (uint64_t)st.st_size >= f->opt.max_size && (f->held_until == 0 || mono_seconds() >= f->held_until))
		return rotate(f, "size");
	return DT_OK;
}

/* SIGHUP. A rotating output starts its next file. A plain file is finished and reopened for logrotate
 * (rename, then HUP), but only if it has been moved away: reopening it in place would truncate it. */
static dt_res file_reopen(struct dt_output *base)
{
	struct file_output *f = (struct file_output *)base;
	struct stat st;
	if (f->cur == NULL) {
		errno = f->error;
		return DT_ERR_IO;
	}
	if (f->rotating)
		return rotate(f, "SIGHUP");
	if (f->have_id && stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
		dt_res res = dt_output_flush(f->cur);
		if (res == DT_OK)
			say(f, LOG_INFO, "SIGHUP: %s has not been moved away; flushed, and still writing it", f->path);
		return res;
	}
	uint64_t frames = f->file_frames;
	dt_res res = dt_output_reopen(f->cur);
	if (res != DT_OK)
		return res;
	remember_file(f);
	say(f, LOG_INFO, "SIGHUP: finished the previous %s (%llu frame%s) and opened it anew", f->path,
	    (unsigned long long)frames, plural(frames));
	return DT_OK;
}

static void file_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	const struct file_output *f = (const struct file_output *)base;
	if (f->cur != NULL)
		dt_output_stats(f->cur, st);
	else
		st->exact = !f->opt.text;
	st->written = f->written_before + cur_written(f);
	st->files = f->files;
}

static const char *file_name(const struct dt_output *base)
{
	return ((const struct file_output *)base)->path;
}

static dt_res file_close(struct dt_output *base)
{
	struct file_output *f = (struct file_output *)base;
	dt_res res = DT_OK;
	if (f->cur != NULL)
		res = dt_output_close(f->cur);
	else if (f->error != 0)
		res = DT_ERR_IO;
	int e = res == DT_ERR_IO && f->cur == NULL ? f->error : errno;
	if (f->split != NULL)
		event_free(f->split);
	free(f->pattern);
	free(f);
	errno = e;
	return res;
}

static const struct dt_output_ops file_ops = {
	.write = file_write,
	.flush = file_flush,
	.reopen = file_reopen,
	.close = file_close,
	.stats = file_stats,
	.get_name = file_name,
};

/* Arms the split timer for the next multiple of the interval (so a split of 3600 turns files over on the
 * hour). */
static void arm_split(struct file_output *f)
{
	struct timeval now, tv;
	gettimeofday(&now, NULL);
	uint64_t period_us = (uint64_t)f->opt.split_seconds * 1000000;
	uint64_t now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_usec;
	uint64_t wait_us = period_us - now_us % period_us;
	tv.tv_sec = (time_t)(wait_us / 1000000);
	tv.tv_usec = (suseconds_t)(wait_us % 1000000);
	evtimer_add(f->split, &tv);
}

static void on_split(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct file_output *f = arg;
	if (rotate(f, "time") == DT_OK)
		arm_split(f);
}

void dt_file_options_init(struct dt_file_options *opt)
{
	memset(opt, 0, sizeof(*opt));
}

struct dt_output *dt_output_file_open(const char *path, const struct dt_file_options *opt, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct file_output *f = calloc(1, sizeof(*f));
	if (f == NULL || path == NULL || (f->pattern = strdup(path)) == NULL) {
		free(f);
		*res = path == NULL ? DT_ERR_INVALID : DT_ERR_NOMEM;
		return NULL;
	}
	f->base.ops = &file_ops;
	if (opt != NULL)
		f->opt = *opt;
	f->rotating = f->opt.split_seconds != 0 || f->opt.max_size != 0;
	if (!f->rotating) {
		/* path serves SIGHUP's "has it been moved?" only; a name too long for it fails to open */
		snprintf(f->path, sizeof(f->path), "%s", path);
	} else if (!next_name(f, f->path, sizeof(f->path))) {
		file_close(&f->base);
		*res = DT_ERR_INVALID;
		return NULL;
	}
	f->cur = open_one(f, f->rotating ? f->path : path, res);
	if (f->cur == NULL) {
		int e = errno;
		file_close(&f->base);
		errno = e;
		return NULL;
	}
	if (f->rotating)
		say(f, LOG_INFO, "writing %s", f->path);
	remember_file(f);
	if (f->rotating && f->opt.split_seconds != 0 && f->opt.base != NULL) {
		f->split = evtimer_new(f->opt.base, on_split, f);
		if (f->split == NULL) {
			file_close(&f->base);
			*res = DT_ERR_NOMEM;
			return NULL;
		}
		arm_split(f);
	}
	*res = DT_OK;
	return &f->base;
}
