/* Unit tests: Frame Streams files written by dt_writer read back by dt_reader, and the reader's answer
 * to each kind of damaged file. */
#include "dnstap.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];

static void setup(void)
{
	strcpy(path, "/tmp/test_reader.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

static void write_bytes(const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

START_TEST(round_trip_1000)
{
	dt_res res;
	struct dt_writer *w = dt_writer_open(path, false, &res);
	ck_assert_ptr_nonnull(w);
	uint8_t payload[300];
	for (unsigned i = 0; i < 1000; i++) {
		size_t n = 1 + i % sizeof(payload);
		memset(payload, (int)(i & 0xff), n);
		ck_assert_int_eq(dt_writer_write(w, payload, n), DT_OK);
	}
	ck_assert_int_eq(dt_writer_close(w), DT_OK);

	struct dt_reader *r = dt_reader_open(path, 0, &res);
	ck_assert_ptr_nonnull(r);
	ck_assert(!dt_reader_no_content_type(r));
	for (unsigned i = 0; i < 1000; i++) {
		const uint8_t *p;
		size_t n;
		ck_assert_int_eq(dt_reader_next(r, &p, &n), DT_OK);
		ck_assert_uint_eq(n, 1 + i % sizeof(payload));
		ck_assert_uint_eq(p[0], i & 0xff);
		ck_assert_uint_eq(p[n - 1], i & 0xff);
	}
	const uint8_t *p;
	size_t n;
	ck_assert_int_eq(dt_reader_next(r, &p, &n), DT_STOP);
	ck_assert_uint_eq(dt_reader_frame_count(r), 1000);
	dt_reader_close(r);
}
END_TEST

#define START "\0\0\0\0\0\0\0\x22\0\0\0\x02\0\0\0\x01\0\0\0\x16protobuf:dnstap.Dnstap"
#define STOP "\0\0\0\0\0\0\0\x04\0\0\0\x03"

START_TEST(damaged_files)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
		dt_res open, first, second;
	} cases[] = {
		{"empty", "", 0, DT_ERR_EOF, 0, 0},
		{"data before START", "\0\0\0\x01x" STOP, 17, DT_ERR_NOT_FSTRM, 0, 0},
		{"START cut short", START, 20, DT_ERR_NOT_FSTRM, 0, 0},
		{"STOP first", STOP, 12, DT_ERR_NOT_FSTRM, 0, 0},
		{"other content type", "\0\0\0\0\0\0\0\x0e\0\0\0\x02\0\0\0\x01\0\0\0\x02xy", 22, DT_ERR_CONTENT_TYPE, 0,
		 0},
		{"no content type",
		 "\0\0\0\0\0\0\0\x04\0\0\0\x02"
		 "\0\0\0\x01x" STOP,
		 29, DT_OK, DT_OK, DT_STOP},
		{"no STOP", START "\0\0\0\x01x", 47, DT_OK, DT_OK, DT_ERR_EOF},
		{"last frame cut", START "\0\0\0\x01x\0\0\0\x09xy", 53, DT_OK, DT_OK, DT_ERR_TRUNCATED},
		{"huge control frame", START "\0\0\0\0\0\x01\0\0", 50, DT_OK, DT_ERR_CONTROL, 0},
		{"unknown control frame ignored",
		 START "\0\0\0\0\0\0\0\x04\0\0\0\x09"
		       "\0\0\0\x01x" STOP,
		 71, DT_OK, DT_OK, DT_STOP},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_bytes(cases[i].bytes, cases[i].len);
		dt_res res;
		/* a small frame limit so that a 4 KiB frame counts as oversize */
		struct dt_reader *r = dt_reader_open(path, 1024, &res);
		ck_assert_msg(res == cases[i].open, "%s: open gave %s", cases[i].name, dt_strerror(res));
		if (r == NULL)
			continue;
		const uint8_t *p;
		size_t n;
		res = dt_reader_next(r, &p, &n);
		ck_assert_msg(res == cases[i].first, "%s: first read gave %s", cases[i].name, dt_strerror(res));
		if (res == DT_OK)
			ck_assert_msg(n == 1 && p[0] == 'x', "%s: wrong payload", cases[i].name);
		if (res == DT_OK || res == DT_ERR_TOO_BIG) {
			res = dt_reader_next(r, &p, &n);
			ck_assert_msg(res == cases[i].second, "%s: second read gave %s", cases[i].name,
				      dt_strerror(res));
		}
		dt_reader_close(r);
	}
}
END_TEST

START_TEST(oversize_frame_skipped)
{
	/* a 4 KiB frame over a 1 KiB limit is skipped by its length; the next frame still reads */
	size_t len = 42 + 4 + 4096 + 5 + 12;
	uint8_t *b = calloc(1, len);
	memcpy(b, START, 42);
	memcpy(b + 42, "\0\0\x10\x00", 4);
	memcpy(b + 42 + 4 + 4096, "\0\0\0\x01x", 5);
	memcpy(b + len - 12, STOP, 12);
	write_bytes(b, len);
	free(b);
	dt_res res;
	struct dt_reader *r = dt_reader_open(path, 1024, &res);
	ck_assert_ptr_nonnull(r);
	const uint8_t *p;
	size_t n;
	ck_assert_int_eq(dt_reader_next(r, &p, &n), DT_ERR_TOO_BIG);
	ck_assert_uint_eq(dt_reader_frame_count(r), 1);
	ck_assert_int_eq(dt_reader_next(r, &p, &n), DT_OK);
	ck_assert(n == 1 && p[0] == 'x');
	ck_assert_uint_eq(dt_reader_frame_count(r), 2);
	ck_assert_int_eq(dt_reader_next(r, &p, &n), DT_STOP);
	dt_reader_close(r);
}
END_TEST

/* Reads path and returns how many data frames it holds, or -1 if it is not a complete file. */
static int count_frames(const char *file)
{
	dt_res res;
	struct dt_reader *r = dt_reader_open(file, 0, &res);
	if (r == NULL)
		return -1;
	const uint8_t *p;
	size_t n;
	int frames = 0;
	while ((res = dt_reader_next(r, &p, &n)) == DT_OK)
		frames++;
	dt_reader_close(r);
	return res == DT_STOP ? frames : -1;
}

START_TEST(reopen_never_truncates)
{
	dt_res res;
	struct dt_output *o = dt_output_fstrm_open(path, false, &res);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(dt_output_write(o, (const uint8_t *)"a", 1), DT_OK);
	/* not moved away: reopening only flushes, the frame stays */
	ck_assert_int_eq(dt_output_reopen(o), DT_OK);
	ck_assert_int_eq(dt_output_write(o, (const uint8_t *)"b", 1), DT_OK);
	/* moved away (logrotate): the old file is finished, the path starts afresh */
	char moved[80];
	snprintf(moved, sizeof(moved), "%s.1", path);
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(dt_output_reopen(o), DT_OK);
	ck_assert_int_eq(dt_output_write(o, (const uint8_t *)"c", 1), DT_OK);
	ck_assert_int_eq(dt_output_close(o), DT_OK);
	ck_assert_int_eq(count_frames(moved), 2);
	ck_assert_int_eq(count_frames(path), 1);
	unlink(moved);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_1000);
	tcase_add_test(tc, damaged_files);
	tcase_add_test(tc, oversize_frame_skipped);
	tcase_add_test(tc, reopen_never_truncates);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
