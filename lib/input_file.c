/* The file input: a Frame Streams file (or standard input) read to its end, every data frame pushed into
 * a sink as an item, every problem said in one line naming the file and the frame. The listener is the
 * other input; both push into the same sink, so a program has one delivery path. */
#include "config.h"

#include "log.h"
#include "dnstap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

void dt_file_input_options_init(struct dt_file_input_options *opt)
{
	memset(opt, 0, sizeof(*opt));
}

static void say(const struct dt_file_input_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct dt_file_input_options *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(o->log, o->log_arg, LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* The line for a stream that ended badly after `frame` frames. */
static void say_end(const struct dt_file_input_options *o, const char *name, dt_res res, uint64_t frame)
{
	unsigned long long n = (unsigned long long)frame;
	if (res == DT_ERR_EOF)
		say(o, "%s: file ends without a STOP frame after %llu frames (cut short?)", name, n);
	else if (res == DT_ERR_TRUNCATED)
		say(o, "%s: frame %llu: file ends in the middle of a frame", name, n + 1);
	else if (res == DT_ERR_IO)
		say(o, "%s: read error: %s", name, strerror(errno));
	else
		say(o, "%s: after frame %llu: %s", name, n, dt_strerror(res));
}

dt_res dt_input_file_read(const char *path, const struct dt_sink *sink, const struct dt_file_input_options *opt)
{
	struct dt_file_input_options defaults;
	if (opt == NULL) {
		dt_file_input_options_init(&defaults);
		opt = &defaults;
	}
	const char *name = strcmp(path, "-") == 0 ? "(stdin)" : path;
	dt_res res;
	struct dt_reader *rd = dt_reader_open(path, opt->max_frame_size, &res);
	if (rd == NULL) {
		if (res == DT_ERR_IO)
			say(opt, "%s: %s", name, strerror(errno));
		else if (res == DT_ERR_EOF)
			say(opt, "%s: empty file, not a Frame Streams file", name);
		else
			say(opt, "%s: %s", name, dt_strerror(res));
		return res;
	}
	if (dt_reader_no_content_type(rd))
		say(opt, "%s: START frame has no content type; reading it as %s", name, DT_CONTENT_TYPE);

	dt_res first = DT_OK; /* the first problem of a file read on to its end */
	for (;;) {
		const uint8_t *p = NULL;
		size_t n = 0;
		res = dt_reader_next(rd, &p, &n);
		uint64_t frame = dt_reader_frame_count(rd);
		if (res == DT_OK) {
			struct dt_item it;
			dt_item_init(&it, p, n, name, NULL, frame);
			dt_res pushed = sink->push(sink->arg, &it);
			if (pushed == DT_ERR_IO) {
				first = pushed;
				break;
			}
			if (pushed != DT_OK && first == DT_OK)
				first = pushed;
			continue;
		}
		if (res == DT_STOP)
			break;
		if (res == DT_ERR_TOO_BIG) {
			size_t limit = opt->max_frame_size ? opt->max_frame_size : DT_DEFAULT_MAX_FRAME_SIZE;
			say(opt, "%s: frame %llu: data frame larger than %zu bytes, skipped", name,
			    (unsigned long long)frame, limit);
			if (first == DT_OK)
				first = res;
			continue;
		}
		say_end(opt, name, res, frame);
		if (first == DT_OK)
			first = res;
		break;
	}
	dt_reader_close(rd);
	return first;
}
