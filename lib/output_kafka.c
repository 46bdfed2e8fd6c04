/* Kafka output: every item becomes one message in a topic, produced through librdkafka.
 *
 * librdkafka's own producer queue is the bounded queue here, not lib/queue.c in front of it: a produce
 * call already copies the message into a bounded queue under a short lock and returns at once, with
 * QUEUE_FULL when queue.buffering.max.messages/kbytes are reached. Putting our ring before it would
 * add a second copy and a thread per message moved, and gain no bound it lacks. So the caller never
 * waits for the network, a full queue is a counted drop, and every message accepted is accounted for
 * by its delivery report: delivered, failed (with the reason), or purged at close as undelivered.
 * Delivery reports, errors and librdkafka's log lines are all served by rd_kafka_poll() on the thread
 * that writes (every few hundred writes, at each flush and at close), so no callback runs elsewhere. */
#include "config.h"
#include "clock.h"

#include "buf.h"
#include "kafka.h"
#include "log.h"
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

void dt_kafka_options_init(struct dt_kafka_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->flush_timeout_ms = 10000;
	opt->stats_interval_ms = 60000;
}

#ifdef HAVE_KAFKA

#include <librdkafka/rdkafka.h>

#define POLL_EVERY 256         /* writes between two rd_kafka_poll(0): delivery reports do not pile up */
#define WARN_INTERVAL_MS 10000 /* broker trouble and drops are said at most this often */
#define MAX_REASONS 8

struct reason {
	rd_kafka_resp_err_t err;
	uint64_t n;
};

struct kafka_output {
	struct dt_output base;
	struct dt_kafka_options opt; /* its strings are not kept: see brokers, topic */
	char *brokers, *topic, *name;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	struct dt_decoder *decoder;
	struct dt_buf buf; /* the text of the message being produced (json, text) */
	char key[DT__KAFKA_KEY_MAX];
	unsigned since_poll;
	bool closed; /* rd_kafka_destroy() is near: its late reports must not count again */

	/* Counters: changed on the writing thread only, read by dt_output_stats() from any thread. */
	uint64_t received, queued, delivered, failed, dropped_full, dropped_other, undelivered;
	bool up;

	struct reason reasons[MAX_REASONS]; /* why messages failed, first reasons first */
	uint64_t reasons_other;
	int64_t last_warn_ms, last_drop_ms, last_stats_ms;
	uint64_t stats_sum;
};

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static void say(struct kafka_output *o, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct kafka_output *o, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(o->opt.log, o->opt.log_arg, level, fmt, ap);
	va_end(ap);
}

static uint64_t in_flight(const struct kafka_output *o)
{
	uint64_t done = GET(o->delivered) + GET(o->failed) + GET(o->undelivered);
	uint64_t q = GET(o->queued);
	return q > done ? q - done : 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct kafka_output *o = opaque;
	if (o->closed)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ADD(o->delivered, 1);
		__atomic_store_n(&o->up, true, __ATOMIC_RELAXED);
		return;
	}
	if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		ADD(o->undelivered, 1);
		return;
	}
	ADD(o->failed, 1);
	for (size_t i = 0; i < MAX_REASONS; i++) {
		if (o->reasons[i].n == 0)
			o->reasons[i].err = m->err;
		if (o->reasons[i].err == m->err) {
			if (o->reasons[i].n++ == 0)
				say(o, LOG_WARNING, "%s: message not delivered: %s", o->name, rd_kafka_err2str(m->err));
			return;
		}
	}
	o->reasons_other++;
}

/* Broker trouble: librdkafka retries by itself; say it once in a while, the first line naming the
 * broker and the reason ("Connect to ipv4#127.0.0.1:9 failed: Connection refused"). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_output *o = opaque;
	char fatal[512];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		say(o, LOG_ERR, "%s: %s", o->name, fatal);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		__atomic_store_n(&o->up, false, __ATOMIC_RELAXED);
	int64_t now = dt__now_ms();
	if (o->last_warn_ms != 0 && now - o->last_warn_ms < WARN_INTERVAL_MS)
		return;
	o->last_warn_ms = now;
	say(o, LOG_WARNING, "%s: %s; retrying", o->name, reason);
}

static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *line)
{
	(void)level;
	struct kafka_output *o = rd_kafka_opaque(rk);
	say(o, LOG_DEBUG, "%s: librdkafka %s: %s", o->name, fac, line);
}

/* "N received: N delivered, N failed (why xN), ..." with the parts that are not zero. */
static void counters_line(struct kafka_output *o, int level, const char *what)
{
	char line[1024];
	size_t n = 0;
#define PART(...)                                                                       \
	do {                                                                            \
		if (n < sizeof(line))                                                   \
			n += (size_t)snprintf(line + n, sizeof(line) - n, __VA_ARGS__); \
	} while (0)
	PART("%llu received: %llu delivered", (unsigned long long)GET(o->received),
	     (unsigned long long)GET(o->delivered));
	if (o->failed > 0) {
		PART(", %llu failed (", (unsigned long long)o->failed);
		for (size_t i = 0; i < MAX_REASONS && o->reasons[i].n > 0; i++)
			PART("%s%s x%llu", i ? ", " : "", rd_kafka_err2str(o->reasons[i].err),
			     (unsigned long long)o->reasons[i].n);
		if (o->reasons_other > 0)
			PART(", other reasons x%llu", (unsigned long long)o->reasons_other);
		PART(")");
	}
	if (o->dropped_full > 0)
		PART(", %llu dropped (queue full)", (unsigned long long)o->dropped_full);
	if (o->dropped_other > 0)
		PART(", %llu dropped (refused by librdkafka)", (unsigned long long)o->dropped_other);
	if (o->undelivered > 0)
		PART(", %llu undelivered at close", (unsigned long long)o->undelivered);
	uint64_t f = in_flight(o);
	if (f > 0)
		PART(", %llu in flight", (unsigned long long)f);
#undef PART
	say(o, level, "%s: %s%s", o->name, what, line);
}

/* Serves delivery reports and errors, and says the counters now and then. */
static void poll_now(struct kafka_output *o, int timeout_ms)
{
	o->since_poll = 0;
	rd_kafka_poll(o->rk, timeout_ms);
	if (o->opt.stats_interval_ms == 0)
		return;
	int64_t now = dt__now_ms();
	if (o->last_stats_ms == 0)
		o->last_stats_ms = now;
	if (now - o->last_stats_ms >= o->opt.stats_interval_ms) {
		o->last_stats_ms = now;
		/* every counter only grows: their sum says whether anything changed */
		uint64_t sum = o->received + o->delivered + o->failed + o->undelivered;
		if (sum != o->stats_sum || in_flight(o) > 0)
			counters_line(o, LOG_INFO, "");
		o->stats_sum = sum;
	}
}

/* Queue full in blocking mode: serve reports until there is room, giving up after flush_timeout_ms
 * without a single report (the cluster is not taking anything). */
static bool wait_for_room(struct kafka_output *o, uint64_t *seen, int64_t *since)
{
	uint64_t done = GET(o->delivered) + GET(o->failed);
	int64_t now = dt__now_ms();
	if (*since == 0 || done != *seen) {
		*seen = done;
		*since = now;
	} else if (now - *since >= o->opt.flush_timeout_ms)
		return false;
	poll_now(o, 50);
	return true;
}

static dt_res kafka_write(struct dt_output *base, struct dt_item *it)
{
	struct kafka_output *o = (struct kafka_output *)base;
	const void *value = it->payload;
	size_t len = it->len, klen = 0;
	if (o->opt.format != DT_KAFKA_DNSTAP || o->opt.key != DT_KAFKA_KEY_NONE) {
		dt_res res;
		const struct dt_message *m = dt__item_message(it, o->decoder, &res);
		if (m == NULL && o->opt.format != DT_KAFKA_DNSTAP)
			return res;
		if (m != NULL && o->opt.key != DT_KAFKA_KEY_NONE)
			klen = dt__kafka_key(o->opt.key, m, o->key);
		if (o->opt.format != DT_KAFKA_DNSTAP) {
			o->buf.len = 0;
			res = dt_format(o->opt.format == DT_KAFKA_JSON ? DT_FORMAT_JSON : DT_FORMAT_QUIET, m, &o->buf);
			if (res != DT_OK || o->buf.failed) {
				o->buf.failed = false;
				return res != DT_OK ? res : DT_ERR_NOMEM;
			}
			if (o->buf.len > 0 && o->buf.data[o->buf.len - 1] == '\n')
				o->buf.len--;
			value = o->buf.data;
			len = o->buf.len;
		}
	}
	ADD(o->received, 1);
	uint64_t seen = 0;
	int64_t since = 0;
	for (;;) {
		if (rd_kafka_produce(o->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len,
				     klen > 0 ? o->key : NULL, klen, NULL) == 0) {
			ADD(o->queued, 1);
			if (++o->since_poll >= POLL_EVERY)
				poll_now(o, 0);
			return DT_OK;
		}
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && o->opt.blocking && wait_for_room(o, &seen, &since))
			continue;
		int64_t now = dt__now_ms();
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			ADD(o->dropped_full, 1);
		else
			ADD(o->dropped_other, 1);
		if (o->last_drop_ms == 0 || now - o->last_drop_ms >= WARN_INTERVAL_MS) {
			o->last_drop_ms = now;
			say(o, LOG_WARNING, "%s: dropping messages: %s (%llu dropped so far)", o->name,
			    rd_kafka_err2str(err), (unsigned long long)(o->dropped_full + o->dropped_other));
		}
		if (++o->since_poll >= POLL_EVERY)
			poll_now(o, 0);
		if (err == RD_KAFKA_RESP_ERR__FATAL) {
			errno = EIO;
			return DT_ERR_IO;
		}
		return DT_ERR_FULL;
	}
}

static dt_res kafka_flush(struct dt_output *base)
{
	struct kafka_output *o = (struct kafka_output *)base;
	poll_now(o, 0);
	if (rd_kafka_fatal_error(o->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		errno = EIO;
		return DT_ERR_IO;
	}
	return DT_OK;
}

static void free_output(struct kafka_output *o)
{
	if (o->rkt != NULL)
		rd_kafka_topic_destroy(o->rkt);
	if (o->rk != NULL)
		rd_kafka_destroy(o->rk);
	dt_decoder_free(o->decoder);
	dt__buf_free(&o->buf);
	free(o->brokers);
	free(o->topic);
	free(o->name);
	free(o);
}

static dt_res kafka_close(struct dt_output *base)
{
	struct kafka_output *o = (struct kafka_output *)base;
	rd_kafka_flush(o->rk, (int)o->opt.flush_timeout_ms);
	if (in_flight(o) > 0) {
		rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		for (int i = 0; i < 20 && in_flight(o) > 0; i++)
			rd_kafka_poll(o->rk, 50);
		ADD(o->undelivered, in_flight(o)); /* no report came: it was not delivered as far as we know */
	}
	o->closed = true;
	bool lost = o->failed + o->undelivered + o->dropped_full + o->dropped_other > 0;
	counters_line(o, lost ? LOG_WARNING : LOG_INFO, "");
	dt_res res = DT_OK;
	int err = 0;
	if (o->undelivered > 0 || o->failed > 0) {
		res = DT_ERR_IO;
		err = o->undelivered > 0 ? ETIMEDOUT : EIO;
	}
	free_output(o);
	errno = err;
	return res;
}

static void kafka_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	const struct kafka_output *o = (const struct kafka_output *)base;
	st->written = GET(o->delivered);
	st->failed = GET(o->failed);
	st->dropped = st->failed + GET(o->dropped_full) + GET(o->dropped_other) + GET(o->undelivered);
	st->queued = in_flight(o);
	st->connected = __atomic_load_n(&o->up, __ATOMIC_RELAXED);
	st->exact = true;
}

static const char *kafka_name(const struct dt_output *base)
{
	return ((const struct kafka_output *)base)->name;
}

static const struct dt_output_ops kafka_ops = {
	.write = kafka_write,
	.flush = kafka_flush,
	.reopen = kafka_flush,
	.close = kafka_close,
	.stats = kafka_stats,
	.get_name = kafka_name,
};

dt_res dt_output_kafka_stats(const struct dt_output *base, struct dt_kafka_stats *st)
{
	if (base == NULL || st == NULL || base->ops != &kafka_ops)
		return DT_ERR_INVALID;
	const struct kafka_output *o = (const struct kafka_output *)base;
	st->received = GET(o->received);
	st->queued = GET(o->queued);
	st->delivered = GET(o->delivered);
	st->failed = GET(o->failed);
	st->dropped_full = GET(o->dropped_full);
	st->dropped_other = GET(o->dropped_other);
	st->undelivered = GET(o->undelivered);
	st->in_flight = in_flight(o);
	return DT_OK;
}

bool dt__kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *errstr, size_t errsize)
{
	for (size_t i = 0; i < n; i++)
		if (!dt__kafka_conf_set(conf, props[i], NULL, errstr, errsize))
			return false;
	return true;
}

bool dt__kafka_conf_set(rd_kafka_conf_t *conf, const char *prop, const char *value, char *errstr, size_t errsize)
{
	char name[256], why[512];
	if (value == NULL) {
		const char *eq = strchr(prop, '=');
		if (eq == NULL || eq == prop || (size_t)(eq - prop) >= sizeof(name)) {
			snprintf(errstr, errsize, "-X %s: want PROPERTY=VALUE", prop);
			return false;
		}
		memcpy(name, prop, (size_t)(eq - prop));
		name[eq - prop] = '\0';
		prop = name;
		value = eq + 1;
	}
	if (rd_kafka_conf_set(conf, prop, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(errstr, errsize, "-X %s=%s: %s", prop, value, why);
		return false;
	}
	return true;
}

struct dt_output *dt_output_kafka_open(const struct dt_kafka_options *opt, char *errstr, size_t errsize, dt_res *res)
{
	char dummy_err[1];
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	if (errstr == NULL || errsize == 0) {
		errstr = dummy_err;
		errsize = sizeof(dummy_err);
	}
	errstr[0] = '\0';
	*res = DT_ERR_INVALID;
	if (opt == NULL || opt->brokers == NULL || opt->brokers[0] == '\0' || opt->topic == NULL ||
	    opt->topic[0] == '\0') {
		snprintf(errstr, errsize, "a Kafka output needs brokers and a topic");
		return NULL;
	}
	struct kafka_output *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->base.ops = &kafka_ops;
	o->opt = *opt;
	o->opt.props = NULL;
	o->opt.n_props = 0;
	o->brokers = strdup(opt->brokers);
	o->topic = strdup(opt->topic);
	size_t nlen = strlen(opt->brokers) + strlen(opt->topic) + 16;
	o->name = malloc(nlen);
	o->decoder = dt_decoder_new();
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (o->brokers == NULL || o->topic == NULL || o->name == NULL || o->decoder == NULL || conf == NULL ||
	    (opt->format != DT_KAFKA_DNSTAP && !dt__buf_reserve(&o->buf, 64 * 1024))) {
		if (conf != NULL)
			rd_kafka_conf_destroy(conf);
		free_output(o);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->opt.brokers = o->brokers;
	o->opt.topic = o->topic;
	snprintf(o->name, nlen, "kafka %s topic %s", o->brokers, o->topic);

	/* Idempotence: a retried batch is neither written twice nor reordered, so a broker restart
	 * costs nothing and counts nothing twice. The log lines wait in a queue served by our polls. */
	bool ok = dt__kafka_conf_set(conf, "bootstrap.servers", o->brokers, errstr, errsize) &&
		  dt__kafka_conf_set(conf, "enable.idempotence", "true", errstr, errsize) &&
		  dt__kafka_conf_set(conf, "log.queue", "true", errstr, errsize);
	ok = ok && dt__kafka_conf_props(conf, opt->props, opt->n_props, errstr, errsize);
	if (!ok) {
		rd_kafka_conf_destroy(conf);
		free_output(o);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, o);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
	char why[512];
	o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (o->rk == NULL) {
		snprintf(errstr, errsize, "%s", why);
		rd_kafka_conf_destroy(conf);
		free_output(o);
		return NULL;
	}
	rd_kafka_set_log_queue(o->rk, NULL);
	o->rkt = rd_kafka_topic_new(o->rk, o->topic, NULL);
	if (o->rkt == NULL) {
		snprintf(errstr, errsize, "topic %s: %s", o->topic, rd_kafka_err2str(rd_kafka_last_error()));
		free_output(o);
		return NULL;
	}
	*res = DT_OK;
	return &o->base;
}

#else /* !HAVE_KAFKA */

struct dt_output *dt_output_kafka_open(const struct dt_kafka_options *opt, char *errstr, size_t errsize, dt_res *res)
{
	(void)opt;
	if (errstr != NULL && errsize > 0)
		snprintf(errstr, errsize, "built without Kafka support (librdkafka)");
	if (res != NULL)
		*res = DT_ERR_INVALID;
	return NULL;
}

dt_res dt_output_kafka_stats(const struct dt_output *o, struct dt_kafka_stats *st)
{
	(void)o;
	(void)st;
	return DT_ERR_INVALID;
}

#endif
