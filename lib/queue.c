/* The bounded record queue (queue.h): a ring of bytes under one mutex, a condition variable for blocking
 * producers, and the counters that say what became of every record. A record is a 4-byte header (its
 * length, the mark in the top bit) and its bytes; it never wraps: when the end of the ring is too short,
 * the data continues at 0 and [wrap, cap) stays unused for this lap. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MARK 0x80000000u
#define NO_ROOM ((size_t)-1)

struct dt_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* room, or closed */
	uint8_t *ring;
	size_t cap;
	size_t head, tail; /* producers write at head, the consumer reads from tail */
	size_t wrap;       /* when wrapped: data is [tail, wrap) then [0, head) */
	bool wrapped;
	size_t count; /* records in the ring and in flight */
	size_t max_count;
	size_t batch;
	bool hushed; /* a notification is on its way or pointless: producers stay quiet */
	unsigned waiters;
	bool closed;
	int close_errno;
	dt_queue_notify_fn notify;
	void *notify_arg;
	struct dt_queue_stats st;
};

struct dt_queue *dt__queue_new(size_t max_records, size_t max_bytes, size_t batch, dt_queue_notify_fn notify,
			       void *notify_arg)
{
	if (max_records == 0 || max_bytes == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct dt_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->ring = malloc(max_bytes);
	pthread_condattr_t ca;
	if (q->ring == NULL || pthread_condattr_init(&ca) != 0) {
		free(q->ring);
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	/* timed waits measure from the monotonic clock: setting the date must not end or stretch them */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&q->mu, NULL);
	q->cap = max_bytes;
	q->max_count = max_records;
	q->batch = batch;
	q->hushed = true;
	q->notify = notify;
	q->notify_arg = notify_arg;
	return q;
}

void dt__queue_free(struct dt_queue *q)
{
	if (q == NULL)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->ring);
	free(q);
}

/* ==== Producers ==== */

/* Finds n contiguous free bytes (under mu). */
static size_t reserve(struct dt_queue *q, size_t n)
{
	if (!q->wrapped) {
		if (q->cap - q->head >= n)
			return q->head;
		if (q->tail >= n) {
			q->wrap = q->head;
			q->wrapped = true;
			return 0;
		}
		return NO_ROOM;
	}
	return q->tail - q->head >= n ? q->head : NO_ROOM;
}

static void drop_locked(struct dt_queue *q, size_t n, enum dt_queue_drop reason)
{
	q->st.dropped[reason] += n;
	q->st.dropped_total += n;
}

static struct timespec deadline_after(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

dt_res dt__queue_put(struct dt_queue *q, size_t len, bool mark, dt_queue_fill_fn fill, const void *arg, int wait_ms)
{
	size_t need = len + 4;
	size_t pos = NO_ROOM;
	bool notify = false;
	dt_res res = DT_OK;
	int err = 0;
	struct timespec deadline;
	if (wait_ms > 0)
		deadline = deadline_after(wait_ms);

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->closed) {
			res = DT_ERR_IO;
			err = q->close_errno;
			break;
		}
		if (len > DT_QUEUE_MAX_RECORD || need > q->cap) {
			drop_locked(q, 1, DT_QUEUE_TOO_BIG);
			res = DT_ERR_TOO_BIG;
			break;
		}
		if (q->count < q->max_count && (pos = reserve(q, need)) != NO_ROOM)
			break;
		bool timed_out = false;
		if (wait_ms != 0) {
			if (q->notify != NULL)
				q->notify(q->notify_arg);
			q->waiters++;
			if (wait_ms < 0)
				pthread_cond_wait(&q->cv, &q->mu);
			else
				timed_out = pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT;
			q->waiters--;
		}
		if (wait_ms == 0 || timed_out) {
			/* a last look after the timeout: the room may have come with it */
			if (timed_out && !q->closed && q->count < q->max_count && (pos = reserve(q, need)) != NO_ROOM)
				break;
			drop_locked(q, 1, DT_QUEUE_FULL);
			res = DT_ERR_FULL;
			break;
		}
	}
	if (res == DT_OK) {
		uint8_t *p = q->ring + pos;
		uint32_t h = (uint32_t)len | (mark ? MARK : 0);
		memcpy(p, &h, 4);
		if (fill != NULL)
			fill(p + 4, len, arg);
		else if (len > 0)
			memcpy(p + 4, arg, len);
		q->head = pos + need;
		q->count++;
		q->st.queued++;
		if (q->batch != 0 && q->count >= q->batch && !q->hushed) {
			q->hushed = true;
			notify = q->notify != NULL;
		}
	}
	if (notify)
		q->notify(q->notify_arg);
	pthread_mutex_unlock(&q->mu);
	if (err != 0)
		errno = err;
	return res;
}

void dt__queue_drop_one(struct dt_queue *q, enum dt_queue_drop reason)
{
	pthread_mutex_lock(&q->mu);
	drop_locked(q, 1, reason);
	pthread_mutex_unlock(&q->mu);
}

void dt__queue_close(struct dt_queue *q, int err)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	q->close_errno = err;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* ==== The consumer ==== */

void dt__queue_take(struct dt_queue *q, struct dt_queue_batch *b)
{
	pthread_mutex_lock(&q->mu);
	q->hushed = false;
	b->wrapped = q->wrapped;
	b->wrap = q->wrap;
	b->head = q->head;
	b->pos = q->tail;
	pthread_mutex_unlock(&q->mu);
	b->crossed = false;
	b->step = 0;
	b->n = 0;
}

bool dt__queue_next(struct dt_queue *q, struct dt_queue_batch *b, const uint8_t **rec, size_t *len, bool *mark)
{
	if (b->step != 0) {
		b->pos += b->step;
		b->n++;
		b->step = 0;
	}
	if (b->wrapped && !b->crossed && b->pos == b->wrap) {
		b->pos = 0;
		b->crossed = true;
	}
	if (b->pos == ((b->wrapped && !b->crossed) ? b->wrap : b->head))
		return false;
	uint32_t h;
	memcpy(&h, q->ring + b->pos, 4);
	*rec = q->ring + b->pos + 4;
	*len = h & ~MARK;
	*mark = (h & MARK) != 0;
	b->step = 4 + *len;
	return true;
}

void dt__queue_release(struct dt_queue *q, struct dt_queue_batch *b, bool last_consumed, size_t unusable)
{
	if (last_consumed && b->step != 0) {
		b->pos += b->step;
		b->n++;
	}
	b->step = 0;
	pthread_mutex_lock(&q->mu);
	/* the records from the old tail up to pos leave the ring */
	q->st.taken += b->n;
	if (b->crossed)
		q->wrapped = false;
	q->tail = b->pos;
	if (q->wrapped && q->tail == q->wrap) {
		q->tail = 0;
		q->wrapped = false;
	}
	if (!q->wrapped && q->tail == q->head)
		q->head = q->tail = 0; /* empty: start over at the front, where the cache is warm */
	q->count -= unusable;
	drop_locked(q, unusable, DT_QUEUE_TOO_BIG);
	if (q->waiters > 0)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void dt__queue_done(struct dt_queue *q, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&q->mu);
	q->count -= n;
	q->st.delivered += n;
	if (q->waiters > 0)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void dt__queue_drop(struct dt_queue *q, size_t n, enum dt_queue_drop reason)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&q->mu);
	q->count -= n;
	drop_locked(q, n, reason);
	if (q->waiters > 0)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void dt__queue_drop_all(struct dt_queue *q)
{
	pthread_mutex_lock(&q->mu);
	drop_locked(q, q->count, DT_QUEUE_UNDELIVERED);
	q->count = 0;
	q->head = q->tail = 0;
	q->wrapped = false;
	if (q->waiters > 0)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t dt__queue_count(struct dt_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->count;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void dt__queue_hush(struct dt_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->hushed = true;
	pthread_mutex_unlock(&q->mu);
}

void dt__queue_stats(struct dt_queue *q, struct dt_queue_stats *st)
{
	pthread_mutex_lock(&q->mu);
	*st = q->st;
	st->count = q->count;
	pthread_mutex_unlock(&q->mu);
}
