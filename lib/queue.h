/* A bounded queue of variable-size records between producer threads and one consumer thread, with drop
 * accounting: the socket sender's (and the tap's) today, Kafka's next. Records live in one ring of bytes;
 * a limit on records and one on bytes bound it. Producers copy a record in under a short lock and never
 * wait (or, in blocking mode, wait for room); the consumer takes records in batches, reading them in
 * place without the lock, and says later how many of those it delivered or dropped, so that records
 * in flight still count against the record limit. Internal to libdnstap. */
#ifndef DT_QUEUE_H
#define DT_QUEUE_H

#include "dnstap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a record was dropped. */
enum dt_queue_drop {
	DT_QUEUE_FULL,        /* the queue was full and the producer did not wait */
	DT_QUEUE_TOO_BIG,     /* the record can never fit (or its consumer could not handle it) */
	DT_QUEUE_UNDELIVERED, /* accepted, but never delivered: closed, given up, or cut by a lost connection */
	DT_QUEUE_N_DROPS
};

struct dt_queue_stats {
	uint64_t queued;                    /* records accepted */
	uint64_t taken;                     /* records the consumer took out of the ring */
	uint64_t delivered;                 /* records the consumer said it delivered */
	uint64_t dropped[DT_QUEUE_N_DROPS]; /* records dropped, by reason */
	uint64_t dropped_total;             /* their sum */
	size_t count;                       /* records not yet delivered or dropped: in the ring or in flight */
};

#define DT_QUEUE_FOREVER (-1) /* dt__queue_put()'s wait_ms: wait for room as long as it takes */
#define DT_QUEUE_MAX_RECORD 0x7fffffffu

/* Writes a record of the size reserved into dst (under the queue's lock: copy, do not compute much). */
typedef void (*dt_queue_fill_fn)(uint8_t *dst, size_t len, const void *arg);

/* Called when a producer wants the consumer to run: batch records have piled up since the consumer last
 * took, or a producer is about to wait for room. Called with the queue's lock held: it must only poke
 * the consumer (a byte into a pipe) and not call the queue. */
typedef void (*dt_queue_notify_fn)(void *arg);

/* A queue of at most max_records records and max_bytes bytes of ring (each record takes its length plus
 * 4). batch: records that make a producer call notify (0: never). NULL when out of memory (errno). */
struct dt_queue *dt__queue_new(size_t max_records, size_t max_bytes, size_t batch, dt_queue_notify_fn notify,
			       void *notify_arg);

/* Frees q and whatever it holds. No thread may be using it. */
void dt__queue_free(struct dt_queue *q);

/* Queues a record of len bytes (at most DT_QUEUE_MAX_RECORD) with a one-bit mark the consumer reads back,
 * filled by fill(dst, len, arg) (NULL fill: copied from arg). wait_ms: 0 never waits, DT_QUEUE_FOREVER
 * waits for room until there is some or the queue is closed, else waits at most that long.
 * DT_OK when queued; DT_ERR_TOO_BIG when it can never fit; DT_ERR_FULL when it is full
 * (both counted as dropped); DT_ERR_IO with the close errno after dt__queue_close() (not counted). */
dt_res dt__queue_put(struct dt_queue *q, size_t len, bool mark, dt_queue_fill_fn fill, const void *arg, int wait_ms);

/* Counts one record as dropped for reason without queueing it (the producer found it unusable). */
void dt__queue_drop_one(struct dt_queue *q, enum dt_queue_drop reason);

/* From now on puts fail with DT_ERR_IO and errno err, and the producers waiting are woken to fail. */
void dt__queue_close(struct dt_queue *q, int err);

/* ---- the consumer (one thread) ---- */

/* The records queued when dt__queue_take() was called, read in place: producers only write elsewhere. */
struct dt_queue_batch {
	size_t pos, head, wrap, step, n; /* internal */
	bool wrapped, crossed;
};

/* Starts a batch of the records queued now (and rearms the batch notification). */
void dt__queue_take(struct dt_queue *q, struct dt_queue_batch *b);

/* The next record of the batch, in queue order: false at its end. *rec is valid until dt__queue_release()
 * (whether or not it is read further). */
bool dt__queue_next(struct dt_queue *q, struct dt_queue_batch *b, const uint8_t **rec, size_t *len, bool *mark);

/* Gives back the room of the records read from b, which leave the ring and are now in flight (still
 * counted against the record limit until dt__queue_done()/_drop()); `unusable` of them are dropped at
 * once as DT_QUEUE_TOO_BIG. The record the last dt__queue_next() returned counts as read only if
 * last_consumed: otherwise it stays at the front of the queue. */
void dt__queue_release(struct dt_queue *q, struct dt_queue_batch *b, bool last_consumed, size_t unusable);

/* n records in flight were delivered / dropped for reason. */
void dt__queue_done(struct dt_queue *q, size_t n);
void dt__queue_drop(struct dt_queue *q, size_t n, enum dt_queue_drop reason);

/* Drops everything not yet delivered, in the ring and in flight, as DT_QUEUE_UNDELIVERED: the consumer
 * forgets what it holds. */
void dt__queue_drop_all(struct dt_queue *q);

/* Records not yet delivered or dropped (in the ring and in flight). */
size_t dt__queue_count(struct dt_queue *q);

/* Producers stop notifying for batches until the next dt__queue_take() (the consumer cannot send
 * anyway: no connection). A new queue starts so. */
void dt__queue_hush(struct dt_queue *q);

void dt__queue_stats(struct dt_queue *q, struct dt_queue_stats *st);

#endif
