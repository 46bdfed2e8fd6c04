/* Tests of the bounded record queue (lib/queue.c): records come out in order with their marks; the record
 * limit counts records in flight; the byte limit and the wrap at the end of the ring; every drop counted
 * by its reason; a record put back stays first; producers that wait are woken by room or by closing, or
 * give up at their timeout; the batch notification and hushing. */
#include "queue.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned notified;

static void count_notify(void *arg)
{
	(void)arg;
	notified++;
}

static dt_res put_str(struct dt_queue *q, const char *s, bool mark, int wait_ms)
{
	return dt__queue_put(q, strlen(s), mark, NULL, s, wait_ms);
}

/* Takes every record now queued into out ("a,b,c"; a marked one as "*a"), all consumed. */
static size_t take_all(struct dt_queue *q, char *out, size_t size)
{
	struct dt_queue_batch b;
	const uint8_t *rec;
	size_t len, n = 0;
	bool mark;
	out[0] = '\0';
	dt__queue_take(q, &b);
	while (dt__queue_next(q, &b, &rec, &len, &mark)) {
		size_t at = strlen(out);
		snprintf(out + at, size - at, "%s%s%.*s", n ? "," : "", mark ? "*" : "", (int)len, (const char *)rec);
		n++;
	}
	dt__queue_release(q, &b, true, 0);
	return n;
}

START_TEST(test_order_and_marks)
{
	struct dt_queue *q = dt__queue_new(10, 1024, 0, NULL, NULL);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(put_str(q, "one", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "two", true, 0), DT_OK);
	ck_assert_int_eq(dt__queue_put(q, 0, false, NULL, NULL, 0), DT_OK); /* an empty record */
	ck_assert_int_eq(put_str(q, "three", false, 0), DT_OK);
	char got[256];
	ck_assert_uint_eq(take_all(q, got, sizeof(got)), 4);
	ck_assert_str_eq(got, "one,*two,,three");
	struct dt_queue_stats st;
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.queued, 4);
	ck_assert_uint_eq(st.taken, 4);
	ck_assert_uint_eq(st.count, 4); /* in flight until done */
	dt__queue_done(q, 3);
	dt__queue_drop(q, 1, DT_QUEUE_UNDELIVERED);
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.count, 0);
	ck_assert_uint_eq(st.delivered, 3);
	ck_assert_uint_eq(st.dropped[DT_QUEUE_UNDELIVERED], 1);
	ck_assert_uint_eq(st.dropped_total, 1);
	dt__queue_free(q);
}
END_TEST

START_TEST(test_limits_and_drops)
{
	/* 3 records at most; 64 bytes of ring: a record takes its length + 4 */
	struct dt_queue *q = dt__queue_new(3, 64, 0, NULL, NULL);
	uint8_t big[100] = {0};
	ck_assert_int_eq(dt__queue_put(q, sizeof(big), false, NULL, big, 0), DT_ERR_TOO_BIG);
	ck_assert_int_eq(dt__queue_put(q, 61, false, NULL, big, 0), DT_ERR_TOO_BIG);
	ck_assert_int_eq(dt__queue_put(q, 60, false, NULL, big, 0), DT_OK); /* exactly the ring */
	ck_assert_int_eq(put_str(q, "x", false, 0), DT_ERR_FULL);           /* no bytes left */
	char got[256];
	take_all(q, got, sizeof(got));
	/* the 60 bytes are in flight: the ring is free, the record limit still counts them */
	ck_assert_int_eq(put_str(q, "a", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "b", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "c", false, 0), DT_ERR_FULL); /* 3 records: 1 in flight, 2 queued */
	dt__queue_done(q, 1);
	ck_assert_int_eq(put_str(q, "c", false, 0), DT_OK);
	dt__queue_drop_one(q, DT_QUEUE_TOO_BIG);
	struct dt_queue_stats st;
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.dropped[DT_QUEUE_TOO_BIG], 3);
	ck_assert_uint_eq(st.dropped[DT_QUEUE_FULL], 2);
	ck_assert_uint_eq(st.dropped_total, 5);
	ck_assert_uint_eq(st.count, 3);
	dt__queue_drop_all(q);
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.count, 0);
	ck_assert_uint_eq(st.dropped[DT_QUEUE_UNDELIVERED], 3);
	ck_assert_uint_eq(take_all(q, got, sizeof(got)), 0);
	dt__queue_free(q);
}
END_TEST

START_TEST(test_wrap_and_put_back)
{
	struct dt_queue *q = dt__queue_new(100, 40, 0, NULL, NULL);
	char got[256];
	/* records of 14, 10 and 10 bytes: 34 of 40 */
	ck_assert_int_eq(put_str(q, "aaaaaaaaaa", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "bbbbbb", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "cccccc", false, 0), DT_OK);
	/* take one and put the second back */
	struct dt_queue_batch b;
	const uint8_t *rec;
	size_t len;
	bool mark;
	dt__queue_take(q, &b);
	ck_assert(dt__queue_next(q, &b, &rec, &len, &mark));
	ck_assert(dt__queue_next(q, &b, &rec, &len, &mark));
	ck_assert_int_eq(memcmp(rec, "bbbbbb", 6), 0);
	dt__queue_release(q, &b, false, 0);
	dt__queue_done(q, 1);
	/* 6 bytes at the end are not enough for 12: the record goes to the front, freed by the first */
	ck_assert_int_eq(put_str(q, "dddddddd", false, 0), DT_OK);
	ck_assert_uint_eq(take_all(q, got, sizeof(got)), 3);
	ck_assert_str_eq(got, "bbbbbb,cccccc,dddddddd");
	dt__queue_done(q, 3);
	/* empty again: the whole ring is usable */
	uint8_t fill[36] = {0};
	ck_assert_int_eq(dt__queue_put(q, sizeof(fill), false, NULL, fill, 0), DT_OK);
	/* a record the consumer cannot use is dropped at release */
	dt__queue_take(q, &b);
	ck_assert(dt__queue_next(q, &b, &rec, &len, &mark));
	ck_assert(!dt__queue_next(q, &b, &rec, &len, &mark));
	dt__queue_release(q, &b, true, 1);
	struct dt_queue_stats st;
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.count, 0);
	ck_assert_uint_eq(st.dropped[DT_QUEUE_TOO_BIG], 1);
	dt__queue_free(q);
}
END_TEST

static void fill_upper(uint8_t *dst, size_t len, const void *arg)
{
	const char *s = arg;
	for (size_t i = 0; i < len; i++)
		dst[i] = (uint8_t)(s[i] - 'a' + 'A');
}

START_TEST(test_fill_and_notify)
{
	notified = 0;
	struct dt_queue *q = dt__queue_new(100, 1024, 2, count_notify, NULL);
	ck_assert_int_eq(put_str(q, "a", false, 0), DT_OK);
	ck_assert_int_eq(put_str(q, "b", false, 0), DT_OK);
	ck_assert_uint_eq(notified, 0); /* hushed until the consumer's first take */
	char got[256];
	take_all(q, got, sizeof(got));
	dt__queue_done(q, 2);
	ck_assert_int_eq(dt__queue_put(q, 3, false, fill_upper, "xyz", 0), DT_OK);
	ck_assert_uint_eq(notified, 0);
	ck_assert_int_eq(put_str(q, "b", false, 0), DT_OK);
	ck_assert_uint_eq(notified, 1); /* the batch is there */
	ck_assert_int_eq(put_str(q, "c", false, 0), DT_OK);
	ck_assert_uint_eq(notified, 1); /* once until the next take */
	take_all(q, got, sizeof(got));
	ck_assert_str_eq(got, "XYZ,b,c");
	dt__queue_hush(q);
	ck_assert_int_eq(put_str(q, "d", false, 0), DT_OK);
	ck_assert_uint_eq(notified, 1);
	dt__queue_free(q);
}
END_TEST

struct producer {
	struct dt_queue *q;
	int wait_ms;
	dt_res res;
	int err;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	errno = 0;
	p->res = put_str(p->q, "late", false, p->wait_ms);
	p->err = errno;
	return NULL;
}

START_TEST(test_waiting_producers)
{
	struct dt_queue *q = dt__queue_new(1, 1024, 0, NULL, NULL);
	ck_assert_int_eq(put_str(q, "first", false, 0), DT_OK);

	/* a timeout with no room: dropped as full */
	struct producer p = {.q = q, .wait_ms = 50};
	produce(&p);
	ck_assert_int_eq(p.res, DT_ERR_FULL);

	/* room comes while it waits */
	pthread_t th;
	p = (struct producer){.q = q, .wait_ms = DT_QUEUE_FOREVER};
	ck_assert_int_eq(pthread_create(&th, NULL, produce, &p), 0);
	char got[256];
	take_all(q, got, sizeof(got));
	dt__queue_done(q, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(p.res, DT_OK);

	/* closing wakes it to fail, with the closing errno, not counted as a drop */
	p = (struct producer){.q = q, .wait_ms = DT_QUEUE_FOREVER};
	ck_assert_int_eq(pthread_create(&th, NULL, produce, &p), 0);
	usleep(20000);
	dt__queue_close(q, ETIMEDOUT);
	pthread_join(th, NULL);
	ck_assert_int_eq(p.res, DT_ERR_IO);
	ck_assert_int_eq(p.err, ETIMEDOUT);
	struct dt_queue_stats st;
	dt__queue_stats(q, &st);
	ck_assert_uint_eq(st.dropped_total, 1);
	ck_assert_uint_eq(st.queued, 2);
	dt__queue_free(q);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, test_order_and_marks);
	tcase_add_test(tc, test_limits_and_drops);
	tcase_add_test(tc, test_wrap_and_put_back);
	tcase_add_test(tc, test_fill_and_notify);
	tcase_add_test(tc, test_waiting_producers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
