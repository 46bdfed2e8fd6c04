/* Unit tests: the pipeline. An item is decoded at most once and only when something needs fields; stages
 * drop and are counted by name order; every output gets what is kept; a failing output breaks the
 * pipeline and what it lacks is counted; the file input pushes every frame with its origin; the
 * rotating file output turns over by size; the tap writes to any output. */
#include "dnstap.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/test_pipeline.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *in_dir(const char *name)
{
	static char p[4][128];
	static unsigned k;
	char *s = p[k++ % 4];
	snprintf(s, 128, "%s/%s", dir, name);
	return s;
}

/* One encoded CLIENT_QUERY with the given identity. */
static size_t make_payload(uint8_t *out, size_t cap, const char *identity)
{
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_QUERY);
	m.has_identity = true;
	m.identity = (struct dt_bytes){(const uint8_t *)identity, strlen(identity)};
	size_t len = 0;
	ck_assert_uint_le(dt_encoded_size(&m), cap);
	ck_assert_int_eq(dt_encode(&m, out, &len), DT_OK);
	return len;
}

/* ---- stages that watch the decode cache ---- */

struct watch {
	unsigned seen, decoded_before; /* items seen; of them, already decoded when they arrived */
	const struct dt_message *last; /* the view this stage got */
	bool decode;                   /* ask for the fields */
	unsigned drop_every;           /* drop every Nth item (0: none) */
};

static enum dt_verdict watch_process(void *state, struct dt_item *it)
{
	struct watch *w = state;
	w->seen++;
	if (it->decoded)
		w->decoded_before++;
	if (w->decode) {
		dt_res res;
		w->last = dt_item_message(it, &res);
		ck_assert_ptr_nonnull(w->last);
	}
	return w->drop_every != 0 && w->seen % w->drop_every == 0 ? DT_DROP : DT_KEEP;
}

static const struct dt_stage_ops watch_ops = {"watch", watch_process, NULL};

START_TEST(decoded_once_and_only_when_needed)
{
	uint8_t buf[256];
	size_t len = make_payload(buf, sizeof(buf), "id-1");
	struct dt_pipeline *p = dt_pipeline_new(NULL);
	ck_assert_ptr_nonnull(p);
	struct watch a = {.decode = false}, b = {.decode = true}, c = {.decode = true};
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &a), DT_OK);
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &b), DT_OK);
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &c), DT_OK);
	dt_res res;
	struct dt_output *o = dt_output_fstrm_open(in_dir("copy.fstrm"), false, &res);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(dt_pipeline_add_output(p, o, NULL), DT_OK);

	for (unsigned i = 0; i < 10; i++) {
		struct dt_item it;
		dt_item_init(&it, buf, len, "mem", NULL, i + 1);
		ck_assert_int_eq(dt_pipeline_push(p, &it), DT_OK);
		ck_assert(it.decoded); /* b asked */
	}
	/* a ran before anyone asked; b decoded; c found b's view and got the same one */
	ck_assert_uint_eq(a.decoded_before, 0);
	ck_assert_uint_eq(b.decoded_before, 0);
	ck_assert_uint_eq(c.decoded_before, 10);
	ck_assert_ptr_eq(b.last, c.last);
	ck_assert(c.last->has_identity && c.last->identity.len == 4 && memcmp(c.last->identity.data, "id-1", 4) == 0);
	ck_assert_int_eq(dt_pipeline_close(p), DT_OK);
}
END_TEST

START_TEST(binary_copy_never_decodes)
{
	uint8_t buf[256];
	size_t len = make_payload(buf, sizeof(buf), "id");
	struct dt_pipeline *p = dt_pipeline_new(NULL);
	struct watch a = {0};
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &a), DT_OK);
	dt_res res;
	ck_assert_int_eq(dt_pipeline_add_output(p, dt_output_fstrm_open(in_dir("a.fstrm"), false, &res), NULL), DT_OK);
	/* garbage passes untouched too: nothing looked inside */
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	struct dt_item it;
	dt_item_init(&it, buf, len, "mem", NULL, 1);
	ck_assert_int_eq(dt_pipeline_push(p, &it), DT_OK);
	ck_assert(!it.decoded);
	dt_item_init(&it, junk, sizeof(junk), "mem", NULL, 2);
	ck_assert_int_eq(dt_pipeline_push(p, &it), DT_OK);
	ck_assert(!it.decoded);
	ck_assert_int_eq(dt_pipeline_close(p), DT_OK);

	struct dt_reader *r = dt_reader_open(in_dir("a.fstrm"), 0, &res);
	ck_assert_ptr_nonnull(r);
	const uint8_t *q;
	size_t n;
	ck_assert_int_eq(dt_reader_next(r, &q, &n), DT_OK);
	ck_assert(n == len && memcmp(q, buf, len) == 0);
	ck_assert_int_eq(dt_reader_next(r, &q, &n), DT_OK);
	ck_assert(n == sizeof(junk) && memcmp(q, junk, n) == 0);
	ck_assert_int_eq(dt_reader_next(r, &q, &n), DT_STOP);
	dt_reader_close(r);
}
END_TEST

static size_t file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return (size_t)st.st_size;
}

static unsigned count_frames(const char *path)
{
	dt_res res;
	struct dt_reader *r = dt_reader_open(path, 0, &res);
	ck_assert_ptr_nonnull(r);
	unsigned n = 0;
	const uint8_t *q;
	size_t len;
	while ((res = dt_reader_next(r, &q, &len)) == DT_OK)
		n++;
	ck_assert_int_eq(res, DT_STOP);
	dt_reader_close(r);
	return n;
}

START_TEST(stages_drop_and_every_output_gets_the_rest)
{
	uint8_t buf[256];
	size_t len = make_payload(buf, sizeof(buf), "id");
	struct dt_pipeline *p = dt_pipeline_new(NULL);
	struct watch a = {.drop_every = 2}, b = {.drop_every = 5};
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &a), DT_OK);
	ck_assert_int_eq(dt_pipeline_add_stage(p, &watch_ops, &b), DT_OK);
	dt_res res;
	ck_assert_int_eq(dt_pipeline_add_output(p, dt_output_fstrm_open(in_dir("1.fstrm"), false, &res), NULL), DT_OK);
	ck_assert_int_eq(
		dt_pipeline_add_output(p, dt_output_text_open(in_dir("2.txt"), DT_FORMAT_QUIET, false, &res), NULL),
		DT_OK);
	for (unsigned i = 0; i < 100; i++) {
		struct dt_item it;
		dt_item_init(&it, buf, len, "mem", NULL, i + 1);
		ck_assert_int_eq(dt_pipeline_push(p, &it), DT_OK);
	}
	struct dt_pipeline_stats st;
	dt_pipeline_get_stats(p, &st);
	ck_assert_uint_eq(st.items, 100);
	ck_assert_uint_eq(st.bytes, 100 * len);
	ck_assert_uint_eq(st.stages, 2);
	ck_assert_uint_eq(st.dropped[0], 50); /* every 2nd of 100 */
	ck_assert_uint_eq(st.dropped[1], 10); /* every 5th of the 50 left */
	ck_assert_uint_eq(st.kept, 40);
	ck_assert_uint_eq(b.seen, 50);
	ck_assert_int_eq(dt_pipeline_close(p), DT_OK);
	ck_assert_uint_eq(count_frames(in_dir("1.fstrm")), 40);
	FILE *f = fopen(in_dir("2.txt"), "r");
	ck_assert_ptr_nonnull(f);
	unsigned lines = 0;
	for (int ch; (ch = fgetc(f)) != EOF;)
		lines += ch == '\n';
	fclose(f);
	ck_assert_uint_eq(lines, 40);
}
END_TEST

/* ---- logging ---- */

static char log_text[4096];

static void log_cb(void *arg, int level, const char *line)
{
	(void)arg;
	size_t l = strlen(log_text);
	snprintf(log_text + l, sizeof(log_text) - l, "%d %s\n", level, line);
}

START_TEST(unformattable_item_is_said_and_counted)
{
	struct dt_pipeline_options po;
	dt_pipeline_options_init(&po);
	po.log = log_cb;
	log_text[0] = '\0';
	struct dt_pipeline *p = dt_pipeline_new(&po);
	dt_res res;
	ck_assert_int_eq(
		dt_pipeline_add_output(p, dt_output_text_open(in_dir("t.txt"), DT_FORMAT_YAML, false, &res), NULL),
		DT_OK);
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	struct dt_item it;
	dt_item_init(&it, junk, sizeof(junk), "capture.fstrm", NULL, 7);
	ck_assert_int_eq(dt_pipeline_push(p, &it), DT_ERR_DECODE);
	struct dt_pipeline_stats st;
	dt_pipeline_get_stats(p, &st);
	ck_assert_uint_eq(st.unformatted, 1);
	ck_assert(!st.broken);
	ck_assert_str_eq(log_text, "4 capture.fstrm: frame 7: payload is not a valid dnstap protobuf\n");
	ck_assert_int_eq(dt_pipeline_close(p), DT_OK);
}
END_TEST

START_TEST(failed_output_breaks_and_counts_what_it_lacks)
{
	/* /dev/full takes nothing: the output fails at its first flush */
	struct dt_pipeline_options po;
	dt_pipeline_options_init(&po);
	po.log = log_cb;
	log_text[0] = '\0';
	struct dt_pipeline *p = dt_pipeline_new(&po);
	dt_res res;
	struct dt_output *o = dt_output_text_open("/dev/full", DT_FORMAT_QUIET, false, &res);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(dt_pipeline_add_output(p, o, NULL), DT_OK);
	uint8_t buf[256];
	size_t len = make_payload(buf, sizeof(buf), "id");
	for (unsigned i = 0; i < 5; i++) {
		struct dt_item it;
		dt_item_init(&it, buf, len, "mem", NULL, i + 1);
		ck_assert_int_eq(dt_pipeline_push(p, &it), DT_OK); /* buffered */
	}
	ck_assert_int_eq(dt_pipeline_flush(p), DT_ERR_IO);
	struct dt_item it;
	dt_item_init(&it, buf, len, "mem", NULL, 6);
	ck_assert_int_eq(dt_pipeline_push(p, &it), DT_ERR_IO);
	struct dt_pipeline_stats st;
	dt_pipeline_get_stats(p, &st);
	ck_assert(st.broken && !st.reader_gone);
	/* text cannot tell which of the 5 buffered lines reached the disk: the one met by the error counts,
	 * and the one pushed after it */
	ck_assert_uint_eq(st.lost, 2);
	ck_assert_str_eq(log_text, "3 /dev/full: write error: No space left on device\n");
	ck_assert_int_eq(dt_pipeline_close(p), DT_OK); /* already said */
}
END_TEST

/* ---- the file input ---- */

struct collect {
	unsigned n;
	uint64_t frames[8];
	char input[64];
};

static dt_res collect_push(void *arg, struct dt_item *it)
{
	struct collect *c = arg;
	if (c->n < 8)
		c->frames[c->n] = it->frame;
	c->n++;
	ck_assert_ptr_null(it->peer);
	snprintf(c->input, sizeof(c->input), "%s", it->input);
	return DT_OK;
}

START_TEST(file_input_pushes_every_frame_with_its_origin)
{
	dt_res res;
	struct dt_writer *w = dt_writer_open(in_dir("in.fstrm"), false, &res);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(dt_writer_write(w, (const uint8_t *)"abc", 3), DT_OK);
	ck_assert_int_eq(dt_writer_close(w), DT_OK);
	struct collect c = {0};
	struct dt_sink sink = {collect_push, &c};
	ck_assert_int_eq(dt_input_file_read(in_dir("in.fstrm"), &sink, NULL), DT_OK);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(c.frames[0], 1);
	ck_assert_uint_eq(c.frames[2], 3);
	ck_assert_str_eq(c.input, in_dir("in.fstrm"));

	/* cut short: every whole frame, then one line and the reason */
	int fd = open(in_dir("in.fstrm"), O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)(file_size(in_dir("in.fstrm")) - 14)), 0);
	close(fd);
	struct dt_file_input_options fo;
	dt_file_input_options_init(&fo);
	fo.log = log_cb;
	log_text[0] = '\0';
	c.n = 0;
	ck_assert_int_eq(dt_input_file_read(in_dir("in.fstrm"), &sink, &fo), DT_ERR_TRUNCATED);
	ck_assert_uint_eq(c.n, 2);
	char want[256];
	snprintf(want, sizeof(want), "4 %s: frame 3: file ends in the middle of a frame\n", in_dir("in.fstrm"));
	ck_assert_str_eq(log_text, want);
}
END_TEST

/* ---- the rotating file output ---- */

START_TEST(file_output_rotates_by_size_without_losing_a_frame)
{
	struct dt_file_options fo;
	dt_file_options_init(&fo);
	fo.max_size = 1000;
	fo.log = log_cb;
	log_text[0] = '\0';
	char pattern[128];
	snprintf(pattern, sizeof(pattern), "%s/part.fstrm", dir); /* no time fields: -1, -2... are added */
	dt_res res;
	struct dt_output *o = dt_output_file_open(pattern, &fo, &res);
	ck_assert_ptr_nonnull(o);
	uint8_t payload[96];
	memset(payload, 'x', sizeof(payload));
	for (unsigned i = 0; i < 50; i++)
		ck_assert_int_eq(dt_output_write(o, payload, sizeof(payload)), DT_OK);
	struct dt_output_stats st;
	ck_assert_int_eq(dt_output_stats(o, &st), DT_OK);
	ck_assert(st.exact);
	ck_assert_uint_ge(st.files, 5);
	ck_assert_int_eq(dt_output_close(o), DT_OK);

	/* every file within the limit, 9 frames each ((1000 - 42 - 12) / 100), all 50 frames kept */
	unsigned total = 0, files = 0;
	for (unsigned k = 0; k < 20; k++) {
		char name[160];
		if (k == 0)
			snprintf(name, sizeof(name), "%s", pattern);
		else
			snprintf(name, sizeof(name), "%s/part-%u.fstrm", dir, k);
		if (access(name, F_OK) != 0)
			break;
		ck_assert_uint_le(file_size(name), 1000);
		total += count_frames(name);
		files++;
	}
	ck_assert_uint_eq(total, 50);
	ck_assert_uint_eq(files, 6);
	ck_assert_uint_eq(st.files, 6);
	ck_assert_ptr_nonnull(strstr(log_text, "finished (size), 9 frames; now writing"));
}
END_TEST

/* ---- the tap on any output ---- */

START_TEST(tap_writes_to_a_file_output)
{
	dt_res res;
	struct dt_output *o = dt_output_fstrm_open(in_dir("tap.fstrm"), false, &res);
	struct dt_tap_options opt;
	dt_tap_options_init(&opt);
	opt.identity = "tap-id";
	struct dt_tap *t = dt_tap_new(o, &opt, &res);
	ck_assert_ptr_nonnull(t);
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_RESPONSE);
	static const uint8_t wire[12] = {0x12, 0x34, 0x81, 0x80};
	dt_message_set_response_message(&m, wire, sizeof(wire));
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(dt_tap_send(t, &m), DT_OK);
	struct dt_output_stats st;
	ck_assert_int_eq(dt_tap_stats(t, &st), DT_OK);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);

	struct dt_reader *r = dt_reader_open(in_dir("tap.fstrm"), 0, &res);
	ck_assert_ptr_nonnull(r);
	struct dt_decoder *d = dt_decoder_new();
	const uint8_t *q;
	size_t n;
	unsigned count = 0;
	while (dt_reader_next(r, &q, &n) == DT_OK) {
		const struct dt_message *dm;
		ck_assert_int_eq(dt_decode(d, q, n, &dm), DT_OK);
		ck_assert_int_eq(dm->type, DT_CLIENT_RESPONSE);
		ck_assert(dm->has_identity && dm->identity.len == 6 && memcmp(dm->identity.data, "tap-id", 6) == 0);
		ck_assert(dm->has_response_message && dm->response_message.len == sizeof(wire));
		count++;
	}
	ck_assert_uint_eq(count, 3);
	dt_decoder_free(d);
	dt_reader_close(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("pipeline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, decoded_once_and_only_when_needed);
	tcase_add_test(tc, binary_copy_never_decodes);
	tcase_add_test(tc, stages_drop_and_every_output_gets_the_rest);
	tcase_add_test(tc, unformattable_item_is_said_and_counted);
	tcase_add_test(tc, failed_output_breaks_and_counts_what_it_lacks);
	tcase_add_test(tc, file_input_pushes_every_frame_with_its_origin);
	tcase_add_test(tc, file_output_rotates_by_size_without_losing_a_frame);
	tcase_add_test(tc, tap_writes_to_a_file_output);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
