/* The pipeline: the one sink every input pushes into. Items run through the stages in order, and those
 * that are kept go to every output. It holds the one decoder of the run (so an item is decoded at most
 * once, by whoever first needs its fields), the one set of counters, and, on an event loop, the timers
 * that write out what arrives within a few milliseconds. */
#include "log.h"
#include "output.h"
#include "stats.h"

#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define DEFAULT_FLUSH_MS 10
#define MAX_OUTPUTS 16

/* ==== Items ==== */

void dt_item_init(struct dt_item *it, const uint8_t *payload, size_t len, const char *input, const char *peer,
		  uint64_t frame)
{
	it->payload = payload;
	it->len = len;
	it->input = input;
	it->peer = peer;
	it->frame = frame;
	it->decoder = NULL;
	it->msg = NULL;
	it->decode_res = DT_OK;
	it->decoded = false;
}

const struct dt_message *dt__item_message(struct dt_item *it, struct dt_decoder *fallback, dt_res *res)
{
	if (!it->decoded) {
		struct dt_decoder *d = it->decoder != NULL ? it->decoder : fallback;
		if (d == NULL) {
			*res = DT_ERR_INVALID;
			return NULL;
		}
		it->decode_res = dt_decode(d, it->payload, it->len, &it->msg);
		if (it->decode_res != DT_OK)
			it->msg = NULL;
		it->decoded = true;
	}
	*res = it->decode_res;
	return it->msg;
}

dt_res dt__item_fields(struct dt_item *it, struct dt_decoder *fallback, struct dt__stats_fields *f)
{
	if (!it->decoded) {
		switch (dt__stats_scan(it->payload, it->len, f)) {
		case DT__SCAN_OK:
			return DT_OK;
		case DT__SCAN_BAD:
			return DT_ERR_DECODE;
		case DT__SCAN_DECODE:
			break;
		}
	}
	dt_res res;
	const struct dt_message *m = dt__item_message(it, fallback, &res);
	if (m == NULL)
		return res;
	dt__stats_fields_of(m, f);
	return DT_OK;
}

void dt__item_replace(struct dt_item *it, const uint8_t *payload, size_t len, const struct dt_message *msg)
{
	it->payload = payload;
	it->len = len;
	it->msg = msg;
	it->decode_res = DT_OK;
	it->decoded = true;
}

const struct dt_message *dt_item_message(struct dt_item *it, dt_res *res)
{
	dt_res dummy;
	return dt__item_message(it, NULL, res != NULL ? res : &dummy);
}

/* ==== The pipeline ==== */

struct stage {
	const struct dt_stage_ops *ops;
	void *state;
};

struct out {
	struct dt_output *o;
	char *name;     /* NULL: dt_output_name() */
	uint64_t given; /* items handed to it */
};

struct dt_pipeline {
	struct dt_pipeline_options opt;
	struct dt_decoder *decoder;
	struct stage stages[DT_MAX_STAGES];
	unsigned n_stages;
	struct out outs[MAX_OUTPUTS];
	unsigned n_outs;
	struct dt_pipeline_stats st;
	struct event *soon, *tick;
	bool soon_pending;
};

void dt_pipeline_options_init(struct dt_pipeline_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->flush_ms = DEFAULT_FLUSH_MS;
}

static void say(struct dt_pipeline *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct dt_pipeline *p, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(p->opt.log, p->opt.log_arg, level, fmt, ap);
	va_end(ap);
}

static const char *out_name(const struct out *o)
{
	return o->name != NULL ? o->name : dt_output_name(o->o);
}

/* An output cannot take more: count what it lacks, say so once, and refuse everything after. */
static void output_failed(struct dt_pipeline *p, struct out *o, dt_res res)
{
	int e = errno;
	if (p->st.broken)
		return;
	p->st.broken = true;
	struct dt_output_stats os;
	dt_output_stats(o->o, &os);
	/* a Frame Streams file knows which of its frames made it out whole; for text, the item that met
	 * the error is the one counted (what was pending with it may be cut too) */
	if (os.exact)
		p->st.lost += os.written <= o->given ? o->given - os.written : 0;
	else
		p->st.lost += 1;
	if (res == DT_ERR_IO && e == EPIPE)
		p->st.reader_gone = true;
	else
		say(p, LOG_ERR, "%s: write error: %s", out_name(o), res == DT_ERR_IO ? strerror(e) : dt_strerror(res));
	if (p->opt.base != NULL)
		event_base_loopbreak(p->opt.base);
	errno = e;
}

static void on_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dt_pipeline *p = arg;
	p->soon_pending = false;
	dt_pipeline_flush(p);
}

static void arm_soon(struct dt_pipeline *p)
{
	if (p->soon == NULL || p->soon_pending)
		return;
	struct timeval delay = {(time_t)(p->opt.flush_ms / 1000), (suseconds_t)(p->opt.flush_ms % 1000) * 1000};
	p->soon_pending = true;
	evtimer_add(p->soon, &delay);
}

struct dt_pipeline *dt_pipeline_new(const struct dt_pipeline_options *opt)
{
	struct dt_pipeline *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (opt != NULL)
		p->opt = *opt;
	else
		dt_pipeline_options_init(&p->opt);
	if (p->opt.flush_ms == 0)
		p->opt.flush_ms = DEFAULT_FLUSH_MS;
	p->decoder = dt_decoder_new();
	if (p->decoder == NULL)
		goto fail;
	if (p->opt.base != NULL) {
		/* written out within flush_ms: at a low rate that is at once, under load a batch every
		 * flush_ms (outputs also write whenever their buffer fills); and once a second for good
		 * measure */
		static const struct timeval second = {1, 0};
		p->soon = evtimer_new(p->opt.base, on_soon, p);
		p->tick = event_new(p->opt.base, -1, EV_PERSIST, on_soon, p);
		if (p->soon == NULL || p->tick == NULL || event_add(p->tick, &second) != 0)
			goto fail;
	}
	return p;
fail:
	dt_pipeline_close(p);
	return NULL;
}

dt_res dt_pipeline_add_stage(struct dt_pipeline *p, const struct dt_stage_ops *ops, void *state)
{
	if (p->n_stages == DT_MAX_STAGES) {
		if (ops->free != NULL)
			ops->free(state);
		return DT_ERR_NOMEM;
	}
	p->stages[p->n_stages++] = (struct stage){ops, state};
	p->st.stages = p->n_stages;
	return DT_OK;
}

dt_res dt_pipeline_add_output(struct dt_pipeline *p, struct dt_output *o, const char *name)
{
	char *copy = NULL;
	if (p->n_outs == MAX_OUTPUTS || (name != NULL && (copy = strdup(name)) == NULL)) {
		dt_output_close(o);
		return DT_ERR_NOMEM;
	}
	p->outs[p->n_outs++] = (struct out){o, copy, 0};
	return DT_OK;
}

/* The item could not be formatted: say which, after writing out what came before it, so that on a
 * terminal the complaint follows the frames that preceded it. */
static void unformatted(struct dt_pipeline *p, const struct dt_item *it, dt_res res)
{
	p->st.unformatted++;
	dt_pipeline_flush(p);
	const char *who = it->peer != NULL ? it->peer : it->input != NULL ? it->input : "input";
	say(p, LOG_WARNING, "%s: frame %llu: %s", who, (unsigned long long)it->frame, dt_strerror(res));
}

dt_res dt_pipeline_push(struct dt_pipeline *p, struct dt_item *it)
{
	p->st.items++;
	p->st.bytes += it->len;
	if (p->st.broken) {
		p->st.lost++;
		return DT_ERR_IO;
	}
	if (it->decoder == NULL)
		it->decoder = p->decoder;
	for (unsigned i = 0; i < p->n_stages; i++) {
		if (p->stages[i].ops->process(p->stages[i].state, it) == DT_DROP) {
			p->st.dropped[i]++;
			return DT_OK;
		}
	}
	p->st.kept++;
	dt_res item_res = DT_OK;
	for (unsigned i = 0; i < p->n_outs; i++) {
		struct out *o = &p->outs[i];
		o->given++;
		dt_res res = dt_output_write_item(o->o, it);
		if (res == DT_OK)
			continue;
		if (res == DT_ERR_FULL) {
			p->st.queue_full++;
			o->given--; /* counted as dropped by the output itself, not as lacking */
			continue;
		}
		if (res == DT_ERR_IO || res == DT_ERR_NOMEM) {
			output_failed(p, o, res);
			return DT_ERR_IO;
		}
		if (item_res == DT_OK) {
			unformatted(p, it, res);
			item_res = res;
		}
	}
	arm_soon(p);
	return item_res;
}

static dt_res push(void *arg, struct dt_item *it)
{
	return dt_pipeline_push(arg, it);
}

struct dt_sink dt_pipeline_sink(struct dt_pipeline *p)
{
	return (struct dt_sink){push, p};
}

dt_res dt_pipeline_flush(struct dt_pipeline *p)
{
	if (p->st.broken)
		return DT_ERR_IO;
	for (unsigned i = 0; i < p->n_outs; i++) {
		dt_res res = dt_output_flush(p->outs[i].o);
		if (res != DT_OK) {
			output_failed(p, &p->outs[i], res);
			return DT_ERR_IO;
		}
	}
	return DT_OK;
}

dt_res dt_pipeline_reopen(struct dt_pipeline *p)
{
	if (p->st.broken)
		return DT_ERR_IO;
	for (unsigned i = 0; i < p->n_outs; i++) {
		dt_res res = dt_output_reopen(p->outs[i].o);
		if (res != DT_OK) {
			output_failed(p, &p->outs[i], res);
			return DT_ERR_IO;
		}
	}
	return DT_OK;
}

void dt_pipeline_get_stats(const struct dt_pipeline *p, struct dt_pipeline_stats *st)
{
	*st = p->st;
}

const char *dt_pipeline_stage_name(const struct dt_pipeline *p, unsigned i)
{
	return i < p->n_stages ? p->stages[i].ops->name : NULL;
}

const struct dt_output *dt_pipeline_output(const struct dt_pipeline *p, unsigned i, const char **name)
{
	if (i >= p->n_outs)
		return NULL;
	if (name != NULL)
		*name = out_name(&p->outs[i]);
	return p->outs[i].o;
}

dt_res dt_pipeline_close(struct dt_pipeline *p)
{
	if (p == NULL)
		return DT_OK;
	dt_res first = DT_OK;
	int first_errno = 0;
	for (unsigned i = 0; i < p->n_outs; i++) {
		char name[1024];
		snprintf(name, sizeof(name), "%s", out_name(&p->outs[i]));
		dt_res res = dt_output_close(p->outs[i].o);
		if (res != DT_OK && first == DT_OK && !p->st.broken) {
			first = res;
			first_errno = errno;
			if (!(res == DT_ERR_IO && first_errno == EPIPE))
				say(p, LOG_ERR, "%s: write error: %s", name,
				    res == DT_ERR_IO ? strerror(first_errno) : dt_strerror(res));
		}
		free(p->outs[i].name);
	}
	for (unsigned i = 0; i < p->n_stages; i++)
		if (p->stages[i].ops->free != NULL)
			p->stages[i].ops->free(p->stages[i].state);
	if (p->soon != NULL)
		event_free(p->soon);
	if (p->tick != NULL)
		event_free(p->tick);
	dt_decoder_free(p->decoder);
	free(p);
	errno = first_errno;
	return first;
}
