/* Kafka input: every message of a topic, a dnstap payload, pushed into a sink as one item. Offsets are
 * committed only after the sink's outputs have written what was pushed (the flush callback), so a
 * consumer that is killed and restarted reads again what it may not have written: at least once.
 * The consumer is assigned every partition of the topic itself rather than joining a group rebalance:
 * a batch run (--kafka-exit-at-end) then knows at once which partitions it must read to their end. */
#include "config.h"
#include "clock.h"

#include "kafka.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

void dt_kafka_input_options_init(struct dt_kafka_input_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->commit_ms = 1000;
	opt->timeout_ms = 10000;
}

#ifdef HAVE_KAFKA

#define WARN_INTERVAL_MS 10000
#define POLL_MS 100
#define BATCH 1024 /* messages taken off the queue at once */

struct partition {
	int64_t next;      /* offset after the last message pushed (-1: none yet) */
	int64_t committed; /* the offset last committed (-1: none) */
	bool eof;
	char peer[300]; /* "TOPIC [P]", the items' peer */
};

struct dt_kafka_input {
	struct dt_kafka_input_options opt; /* its strings point to the copies below */
	char *brokers, *topic, *group, *name;
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue; /* the consumer queue, every partition forwarded to it */
	struct dt_decoder *decoder;
	volatile sig_atomic_t stop;
	struct partition *parts;
	int n_parts;
	int n_eof;            /* partitions whose eof is set: --kafka-exit-at-end asks after every message */
	char last_error[512]; /* the last broker trouble librdkafka reported */
	int64_t last_warn_ms;
	struct dt_kafka_input_stats st;
};

static void say(struct dt_kafka_input *in, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct dt_kafka_input *in, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(in->opt.log, in->opt.log_arg, level, fmt, ap);
	va_end(ap);
}

/* Broker trouble is kept to be said by whoever gives up, and said now and then while retrying. */
static void warn_rarely(struct dt_kafka_input *in, const char *what)
{
	int64_t now = dt__now_ms();
	if (in->last_warn_ms != 0 && now - in->last_warn_ms < WARN_INTERVAL_MS)
		return;
	in->last_warn_ms = now;
	say(in, LOG_WARNING, "%s: %s; retrying", in->name, what);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	struct dt_kafka_input *in = opaque;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && in->last_error[0] != '\0')
		return; /* the line naming the broker says more */
	snprintf(in->last_error, sizeof(in->last_error), "%s", reason);
	if (!in->opt.exit_at_end)
		warn_rarely(in, reason);
}

static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *line)
{
	(void)level;
	struct dt_kafka_input *in = rd_kafka_opaque(rk);
	say(in, LOG_DEBUG, "%s: librdkafka %s: %s", in->name, fac, line);
}

void dt_kafka_input_stop(struct dt_kafka_input *in)
{
	in->stop = 1;
}

void dt_kafka_input_get_stats(const struct dt_kafka_input *in, struct dt_kafka_input_stats *st)
{
	*st = in->st;
}

/* Learns the topic's partitions. With exit_at_end, gives up after timeout_ms; otherwise retries until
 * stopped. */
static dt_res find_partitions(struct dt_kafka_input *in)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(in->rk, in->topic, NULL);
	if (rkt == NULL) {
		say(in, LOG_ERR, "%s: %s", in->name, rd_kafka_err2str(rd_kafka_last_error()));
		return DT_ERR_IO;
	}
	int64_t start = dt__now_ms();
	dt_res res = DT_ERR_IO;
	while (!in->stop) {
		const struct rd_kafka_metadata *md = NULL;
		char why[600];
		rd_kafka_resp_err_t err = rd_kafka_metadata(in->rk, 0, rkt, &md, 2000);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 0); /* serves the error callback */
		if (m != NULL)
			rd_kafka_message_destroy(m);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
		    md->topics[0].partition_cnt > 0) {
			in->n_parts = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
			res = DT_OK;
			break;
		}
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_resp_err_t terr =
				md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
			snprintf(why, sizeof(why), "topic %s: %s", in->topic,
				 terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? "no such topic"
										 : rd_kafka_err2str(terr));
			rd_kafka_metadata_destroy(md);
		} else
			snprintf(why, sizeof(why), "cannot reach the cluster: %s",
				 in->last_error[0] != '\0' ? in->last_error : rd_kafka_err2str(err));
		if (in->opt.exit_at_end && dt__now_ms() - start >= in->opt.timeout_ms) {
			say(in, LOG_ERR, "%s: %s", in->name, why);
			break;
		}
		if (!in->opt.exit_at_end)
			warn_rarely(in, why);
		struct timespec pause = {0, 200 * 1000000};
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			nanosleep(&pause, NULL); /* the call itself waited when the cluster was away */
	}
	rd_kafka_topic_destroy(rkt);
	return res;
}

static dt_res assign(struct dt_kafka_input *in)
{
	in->parts = calloc((size_t)in->n_parts, sizeof(*in->parts));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(in->n_parts);
	if (in->parts == NULL || l == NULL) {
		if (l != NULL)
			rd_kafka_topic_partition_list_destroy(l);
		return DT_ERR_NOMEM;
	}
	int64_t from = in->opt.from == DT_KAFKA_FROM_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING
		       : in->opt.from == DT_KAFKA_FROM_END     ? RD_KAFKA_OFFSET_END
							       : RD_KAFKA_OFFSET_STORED;
	for (int p = 0; p < in->n_parts; p++) {
		in->parts[p].next = in->parts[p].committed = -1;
		snprintf(in->parts[p].peer, sizeof(in->parts[p].peer), "%s [%d]", in->topic, p);
		rd_kafka_topic_partition_list_add(l, in->topic, p)->offset = from;
	}
	rd_kafka_resp_err_t err = rd_kafka_assign(in->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		say(in, LOG_ERR, "%s: cannot read the partitions: %s", in->name, rd_kafka_err2str(err));
		return DT_ERR_IO;
	}
	return DT_OK;
}

/* Writes out what was pushed (flush callback), then commits the offsets after it. DT_ERR_IO with
 * *unwritten set if the flush failed, without it if the commit did (it is tried again later). */
static dt_res commit(struct dt_kafka_input *in, bool *unwritten)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	for (int p = 0; p < in->n_parts; p++) {
		if (in->parts[p].next <= in->parts[p].committed)
			continue;
		if (l == NULL && (l = rd_kafka_topic_partition_list_new(in->n_parts)) == NULL)
			return DT_ERR_NOMEM;
		rd_kafka_topic_partition_list_add(l, in->topic, p)->offset = in->parts[p].next;
	}
	if (l == NULL)
		return DT_OK;
	if (in->opt.flush != NULL && in->opt.flush(in->opt.flush_arg) != DT_OK) {
		rd_kafka_topic_partition_list_destroy(l);
		*unwritten = true;
		return DT_ERR_IO; /* not written: not committed, read again next time */
	}
	uint64_t messages = in->st.messages;
	rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, l, 0);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < l->cnt; i++)
			in->parts[l->elems[i].partition].committed = l->elems[i].offset;
		in->st.committed = messages;
	} else
		say(in, LOG_WARNING, "%s: cannot commit offsets: %s", in->name, rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? DT_OK : DT_ERR_IO;
}

static bool all_at_end(const struct dt_kafka_input *in)
{
	return in->n_eof == in->n_parts;
}

/* One message: checked, then pushed. False if the sink failed. */
static bool take(struct dt_kafka_input *in, const struct dt_sink *sink, rd_kafka_message_t *m, dt_res *first)
{
	struct partition *part = &in->parts[m->partition];
	if (part->eof) {
		part->eof = false;
		in->n_eof--;
	}
	in->st.messages++;
	in->st.bytes += m->len;
	size_t max = in->opt.max_frame_size ? in->opt.max_frame_size : DT_DEFAULT_MAX_FRAME_SIZE;
	struct dt_item it;
	dt_item_init(&it, m->payload, m->len, in->topic, part->peer, (uint64_t)m->offset + 1);
	it.decoder = in->decoder;
	dt_res res = DT_OK;
	if (m->len > max || m->payload == NULL || dt_item_message(&it, &res) == NULL) {
		in->st.skipped++;
		if (m->len > max)
			say(in, LOG_WARNING, "%s offset %lld: message larger than %zu bytes, skipped", part->peer,
			    (long long)m->offset, max);
		else
			say(in, LOG_WARNING, "%s offset %lld: not a dnstap payload (%s), skipped", part->peer,
			    (long long)m->offset, m->payload == NULL ? "empty message" : dt_strerror(res));
		if (*first == DT_OK)
			*first = DT_ERR_DECODE;
		part->next = m->offset + 1;
		return true;
	}
	res = sink->push(sink->arg, &it);
	if (res == DT_ERR_IO)
		return false;
	if (res != DT_OK && *first == DT_OK)
		*first = res;
	part->next = m->offset + 1;
	return true;
}

/* One message or event off the queue. False to stop reading: the sink failed, or (exit_at_end) every
 * partition is at its end. */
static bool handle(struct dt_kafka_input *in, const struct dt_sink *sink, rd_kafka_message_t *m, dt_res *first,
		   bool *sink_failed)
{
	bool ours = m->rkt != NULL && m->partition >= 0 && m->partition < in->n_parts;
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && ours) {
		if (!in->parts[m->partition].eof) {
			say(in, LOG_DEBUG, "%s: at the end (offset %lld)", in->parts[m->partition].peer,
			    (long long)m->offset);
			in->parts[m->partition].eof = true;
			in->n_eof++;
		}
	} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(in->last_error, sizeof(in->last_error), "%s", rd_kafka_message_errstr(m));
		warn_rarely(in, in->last_error);
	} else if (ours && !take(in, sink, m, first))
		*sink_failed = true;
	return !*sink_failed && !(in->opt.exit_at_end && all_at_end(in));
}

/* Takes what is queued, up to BATCH, without waiting; when nothing is, waits up to POLL_MS for one. One
 * call per batch rather than per message: each poll reads the clock and takes the queue's lock, which
 * the fetcher thread wants too. (rd_kafka_consume_batch_queue() with a timeout would wait for a full
 * batch, up to the timeout.) */
static ssize_t next_batch(struct dt_kafka_input *in, rd_kafka_message_t **batch)
{
	ssize_t n = rd_kafka_consume_batch_queue(in->queue, 0, batch, BATCH);
	if (n != 0)
		return n;
	return rd_kafka_consume_batch_queue(in->queue, POLL_MS, batch, 1);
}

dt_res dt_kafka_input_run(struct dt_kafka_input *in, const struct dt_sink *sink)
{
	dt_res res = find_partitions(in);
	if (res != DT_OK)
		return in->stop ? DT_OK : res;
	if ((res = assign(in)) != DT_OK)
		return res;
	dt_res first = DT_OK;
	bool sink_failed = false, done = false;
	int64_t last_commit = dt__now_ms(), last_tick = last_commit;
	rd_kafka_message_t *batch[BATCH];
	while (!in->stop && !done) {
		ssize_t n = next_batch(in, batch);
		for (ssize_t i = 0; i < n; i++) {
			if (!done)
				done = !handle(in, sink, batch[i], &first, &sink_failed);
			rd_kafka_message_destroy(batch[i]); /* after a stop, not pushed: not committed */
		}
		if (sink_failed || done)
			break;
		int64_t now = dt__now_ms();
		if (in->opt.tick != NULL && now - last_tick >= POLL_MS) {
			last_tick = now;
			in->opt.tick(in->opt.flush_arg);
		}
		if (now - last_commit >= in->opt.commit_ms) {
			last_commit = now;
			commit(in, &sink_failed);
			if (sink_failed)
				break;
		}
	}
	if (sink_failed)
		return DT_ERR_IO; /* what was not written is not committed */
	if (commit(in, &sink_failed) != DT_OK) {
		if (!sink_failed)
			say(in, LOG_ERR, "%s: offsets not committed: what was read will be read again", in->name);
		return DT_ERR_IO;
	}
	say(in, LOG_INFO, "%s: read %llu message%s (%llu bytes) from %d partition%s%s", in->name,
	    (unsigned long long)in->st.messages, in->st.messages == 1 ? "" : "s", (unsigned long long)in->st.bytes,
	    in->n_parts, in->n_parts == 1 ? "" : "s", in->st.skipped > 0 ? ", some skipped" : "");
	return first == DT_OK ? DT_OK : DT_ERR_DECODE;
}

void dt_kafka_input_close(struct dt_kafka_input *in)
{
	if (in == NULL)
		return;
	if (in->queue != NULL)
		rd_kafka_queue_destroy(in->queue);
	if (in->rk != NULL) {
		rd_kafka_consumer_close(in->rk);
		rd_kafka_destroy(in->rk);
	}
	dt_decoder_free(in->decoder);
	free(in->parts);
	free(in->brokers);
	free(in->topic);
	free(in->group);
	free(in->name);
	free(in);
}

struct dt_kafka_input *dt_kafka_input_open(const struct dt_kafka_input_options *opt, char *errstr, size_t errsize,
					   dt_res *res)
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
		snprintf(errstr, errsize, "a Kafka input needs brokers and a topic");
		return NULL;
	}
	struct dt_kafka_input *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	in->opt = *opt;
	in->opt.props = NULL;
	in->opt.n_props = 0;
	in->brokers = strdup(opt->brokers);
	in->topic = strdup(opt->topic);
	in->group = strdup(opt->group != NULL && opt->group[0] != '\0' ? opt->group : "dnstap");
	size_t nlen = strlen(opt->brokers) + strlen(opt->topic) + 16;
	in->name = malloc(nlen);
	in->decoder = dt_decoder_new();
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (in->brokers == NULL || in->topic == NULL || in->group == NULL || in->name == NULL || in->decoder == NULL ||
	    conf == NULL) {
		if (conf != NULL)
			rd_kafka_conf_destroy(conf);
		dt_kafka_input_close(in);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	in->opt.brokers = in->brokers;
	in->opt.topic = in->topic;
	in->opt.group = in->group;
	if (in->opt.commit_ms == 0)
		in->opt.commit_ms = 1000;
	snprintf(in->name, nlen, "kafka %s topic %s", in->brokers, in->topic);

	/* Offsets are stored and committed by us alone, after the outputs wrote; a group without a
	 * committed offset starts at the beginning. */
	bool ok = dt__kafka_conf_set(conf, "bootstrap.servers", in->brokers, errstr, errsize) &&
		  dt__kafka_conf_set(conf, "group.id", in->group, errstr, errsize) &&
		  dt__kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errsize) &&
		  dt__kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errsize) &&
		  dt__kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errsize) &&
		  dt__kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, errsize) &&
		  dt__kafka_conf_set(conf, "log.queue", "true", errstr, errsize);
	/* Fetching pauses while the consumer queue holds queued.min.messages (default 100000): with
	 * rd_kafka_poll_set_consumer() that is one queue for all partitions, not one per partition, so a
	 * single fetch of small dnstap messages (up to fetch.max.bytes, 50 MB: some 250000 of them) is past
	 * it, and librdkafka (2.0) looks again only when its broker thread next wakes, up to a second
	 * later: reading went at a fraction of kcat's rate, idle most of the time. The count is set out of
	 * the way (librdkafka's largest value); the queue stays bounded by queued.max.messages.kbytes. */
	ok = ok && dt__kafka_conf_set(conf, "queued.min.messages", "10000000", errstr, errsize);
	/* A partition's end is learnt from a fetch that finds nothing, which the broker holds for
	 * fetch.wait.max.ms (default 500 ms) in case something comes: a run that stops at the end would
	 * spend most of that doing nothing at its very end. Outside --kafka-exit-at-end the default stays. */
	if (opt->exit_at_end)
		ok = ok && dt__kafka_conf_set(conf, "fetch.wait.max.ms", "100", errstr, errsize);
	/* every property above yields to -X */
	ok = ok && dt__kafka_conf_props(conf, opt->props, opt->n_props, errstr, errsize);
	if (!ok) {
		rd_kafka_conf_destroy(conf);
		dt_kafka_input_close(in);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, in);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
	char why[512];
	in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (in->rk == NULL) {
		snprintf(errstr, errsize, "%s", why);
		rd_kafka_conf_destroy(conf);
		dt_kafka_input_close(in);
		return NULL;
	}
	rd_kafka_set_log_queue(in->rk, NULL);
	rd_kafka_poll_set_consumer(in->rk);
	if ((in->queue = rd_kafka_queue_get_consumer(in->rk)) == NULL) {
		snprintf(errstr, errsize, "no consumer queue");
		dt_kafka_input_close(in);
		return NULL;
	}
	*res = DT_OK;
	return in;
}

#else /* !HAVE_KAFKA */

struct dt_kafka_input *dt_kafka_input_open(const struct dt_kafka_input_options *opt, char *errstr, size_t errsize,
					   dt_res *res)
{
	(void)opt;
	if (errstr != NULL && errsize > 0)
		snprintf(errstr, errsize, "built without Kafka support (librdkafka)");
	if (res != NULL)
		*res = DT_ERR_INVALID;
	return NULL;
}

dt_res dt_kafka_input_run(struct dt_kafka_input *in, const struct dt_sink *sink)
{
	(void)in;
	(void)sink;
	return DT_ERR_INVALID;
}

void dt_kafka_input_stop(struct dt_kafka_input *in)
{
	(void)in;
}

void dt_kafka_input_get_stats(const struct dt_kafka_input *in, struct dt_kafka_input_stats *st)
{
	(void)in;
	memset(st, 0, sizeof(*st));
}

void dt_kafka_input_close(struct dt_kafka_input *in)
{
	(void)in;
}

#endif
