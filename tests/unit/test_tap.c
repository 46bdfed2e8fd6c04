/* Tests of the tap API and the socket output against a small collector that runs in the test: the
 * handshake, every message type and field round-tripping through dt_decode(), drops counted (never
 * reported as sent), reconnection, bounded closing with collectors that never ACCEPT or never FINISH,
 * a refused content type, the blocking relay mode, and TCP by address and by name. */
#include "frame.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ==== A collector ==== */

enum mode {
	NORMAL,    /* READY -> ACCEPT, START, frames, STOP -> FINISH */
	MUTE,      /* reads READY, never answers */
	NO_FINISH, /* everything but FINISH */
	WRONG_CT,  /* ACCEPT offers text/plain only */
};

struct collector {
	enum mode mode;
	int lfd;
	char path[108];
	int port;
	int sessions;       /* connections to serve before the thread ends */
	size_t close_after; /* first session: hang up after this many frames (0: never) */
	pthread_mutex_t mu;
	size_t frames;                    /* data frames received, all sessions */
	int controls[DT_CTRL_FINISH + 1]; /* control frames received, by type, all sessions */
	int accepted;
	bool got_stop;
	uint8_t *data; /* payloads, each preceded by its 4-byte length */
	size_t len, cap;
	pthread_t th;
};

static bool read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static void write_all(int fd, const void *buf, size_t n)
{
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
}

/* Reads one frame: returns its control type, 0 for data (payload appended to the collector), -1 at EOF. */
static int read_frame(struct collector *c, int fd)
{
	uint8_t h[4];
	if (!read_all(fd, h, 4))
		return -1;
	uint32_t len = dt__be32(h);
	if (len == 0) {
		uint8_t ctl[DT_CONTROL_MAX];
		if (!read_all(fd, h, 4))
			return -1;
		len = dt__be32(h);
		ck_assert_uint_le(len, sizeof(ctl));
		if (!read_all(fd, ctl, len))
			return -1;
		struct dt_control dc;
		ck_assert_int_eq(dt__control_parse(ctl, len, &dc), DT_OK);
		if (dc.type == DT_CTRL_READY || dc.type == DT_CTRL_START)
			ck_assert(dc.dnstap);
		if (dc.type <= DT_CTRL_FINISH) {
			pthread_mutex_lock(&c->mu);
			c->controls[dc.type]++;
			pthread_mutex_unlock(&c->mu);
		}
		return (int)dc.type;
	}
	uint8_t *p = malloc(len);
	ck_assert_ptr_nonnull(p);
	if (!read_all(fd, p, len)) {
		free(p);
		return -1;
	}
	pthread_mutex_lock(&c->mu);
	if (c->len + 4 + len > c->cap) {
		c->cap = (c->len + 4 + len) * 2;
		c->data = realloc(c->data, c->cap);
		ck_assert_ptr_nonnull(c->data);
	}
	memcpy(c->data + c->len, h, 4);
	memcpy(c->data + c->len + 4, p, len);
	c->len += 4 + len;
	c->frames++;
	pthread_mutex_unlock(&c->mu);
	free(p);
	return 0;
}

static void serve(struct collector *c, int fd, int session)
{
	uint8_t out[DT_CONTROL_FRAME_MAX];
	size_t n;
	ck_assert_int_eq(read_frame(c, fd), DT_CTRL_READY);
	if (c->mode == MUTE) {
		while (read_frame(c, fd) >= 0)
			;
		return;
	}
	if (c->mode == WRONG_CT) {
		static const uint8_t accept_text[] = {0, 0, 0, 0, 0,  0,   0,   22,  0,   0,   0,   1,   0,   0,   0,
						      1, 0, 0, 0, 10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n'};
		write_all(fd, accept_text, sizeof(accept_text));
		while (read_frame(c, fd) >= 0)
			;
		return;
	}
	n = dt__control_build(out, DT_CTRL_ACCEPT, true);
	write_all(fd, out, n);
	ck_assert_int_eq(read_frame(c, fd), DT_CTRL_START);
	size_t mine = 0;
	for (;;) {
		int t = read_frame(c, fd);
		if (t < 0)
			return;
		if (t == 0 && session == 0 && c->close_after > 0 && ++mine == c->close_after)
			return; /* hang up without a word */
		if (t == DT_CTRL_STOP) {
			pthread_mutex_lock(&c->mu);
			c->got_stop = true;
			pthread_mutex_unlock(&c->mu);
			if (c->mode == NO_FINISH) {
				while (read_frame(c, fd) >= 0)
					;
				return;
			}
			n = dt__control_build(out, DT_CTRL_FINISH, false);
			write_all(fd, out, n);
			return;
		}
	}
}

static void *collector_main(void *arg)
{
	struct collector *c = arg;
	for (int s = 0; s < c->sessions; s++) {
		int fd = accept(c->lfd, NULL, NULL);
		if (fd < 0)
			break;
		pthread_mutex_lock(&c->mu);
		c->accepted++;
		pthread_mutex_unlock(&c->mu);
		serve(c, fd, s);
		close(fd);
	}
	return NULL;
}

static void collector_start(struct collector *c)
{
	ck_assert_int_eq(listen(c->lfd, 8), 0);
	pthread_mutex_init(&c->mu, NULL);
	ck_assert_int_eq(pthread_create(&c->th, NULL, collector_main, c), 0);
}

static void sock_path(char *out, size_t size)
{
	snprintf(out, size, "/tmp/test_tap.%d.%ld.sock", (int)getpid(), (long)random());
}

/* A collector on a unix socket at path (NULL: a fresh one). */
static struct collector *collector_unix_at(const char *path, enum mode mode, int sessions)
{
	struct collector *c = calloc(1, sizeof(*c));
	c->mode = mode;
	c->sessions = sessions;
	if (path != NULL)
		snprintf(c->path, sizeof(c->path), "%s", path);
	else
		sock_path(c->path, sizeof(c->path));
	unlink(c->path);
	c->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	strcpy(un.sun_path, c->path);
	ck_assert_int_eq(bind(c->lfd, (struct sockaddr *)&un, sizeof(un)), 0);
	collector_start(c);
	return c;
}

static struct collector *collector_unix(enum mode mode, int sessions)
{
	return collector_unix_at(NULL, mode, sessions);
}

static struct collector *collector_tcp(int family, int sessions)
{
	struct collector *c = calloc(1, sizeof(*c));
	c->mode = NORMAL;
	c->sessions = sessions;
	c->lfd = socket(family, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(c->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	ck_assert_int_eq(bind(c->lfd, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(getsockname(c->lfd, (struct sockaddr *)&ss, &len), 0);
	c->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	collector_start(c);
	return c;
}

/* Ends the collector: waits for its thread (it ends once its sessions are over). */
static void collector_join(struct collector *c)
{
	pthread_join(c->th, NULL);
}

static void collector_free(struct collector *c)
{
	close(c->lfd);
	if (c->path[0] != '\0')
		unlink(c->path);
	pthread_mutex_destroy(&c->mu);
	free(c->data);
	free(c);
}

static size_t collector_frames(struct collector *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->frames;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static int collector_controls(struct collector *c, uint32_t type)
{
	pthread_mutex_lock(&c->mu);
	int n = c->controls[type];
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ==== Helpers ==== */

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls cond(arg) every 5 ms for at most ms milliseconds. */
static bool eventually(bool (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t end = ms_now() + ms;
	do {
		if (cond(arg))
			return true;
		usleep(5000);
	} while (ms_now() < end);
	return cond(arg);
}

struct want {
	struct collector *c;
	size_t n;
};

static bool has_frames(void *arg)
{
	struct want *w = arg;
	return collector_frames(w->c) >= w->n;
}

static bool has_readies(void *arg)
{
	struct want *w = arg;
	return (size_t)collector_controls(w->c, DT_CTRL_READY) >= w->n;
}

/* Lines the sender logged, joined by newlines. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void log_cb(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	pthread_mutex_lock(&log_mu);
	size_t l = strlen(log_text);
	snprintf(log_text + l, sizeof(log_text) - l, "%s\n", msg);
	pthread_mutex_unlock(&log_mu);
}

static bool logged(const char *s)
{
	pthread_mutex_lock(&log_mu);
	bool r = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_mu);
	return r;
}

static struct dt_tap_options tap_opts(size_t queue, unsigned timeout_ms)
{
	struct dt_tap_options o;
	dt_tap_options_init(&o);
	o.identity = "test-id";
	o.version = "test-version";
	o.full = true;
	o.sender.queue_size = queue;
	o.sender.timeout_ms = timeout_ms;
	o.sender.log = log_cb;
	log_text[0] = '\0';
	return o;
}

static char *unix_spec(const struct collector *c)
{
	static char spec[128];
	snprintf(spec, sizeof(spec), "unix://%s", c->path);
	return spec;
}

static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0, 0, 0, 0, 3,
				'w',  'w',  'w',  4,    't', 'e', 's', 't', 0, 0, 1, 0, 1};

/* Message i: type 1..14 in turn, a client address whose port is i. */
static dt_res send_nth(struct dt_tap *t, unsigned i)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)i)};
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	struct timespec ts = {.tv_sec = 1700000000 + i, .tv_nsec = 5};
	struct dt_message m;
	dt_message_init(&m, (int)(i % 14) + 1);
	dt_message_set_query_time(&m, &ts);
	ck_assert_int_eq(dt_message_set_query_address(&m, (struct sockaddr *)&a6, DT_TCP), DT_OK);
	if (dt_tap_full(t))
		dt_message_set_query_message(&m, query, sizeof(query));
	return dt_tap_send(t, &m);
}

/* ==== Tests ==== */

START_TEST(test_bad_specs)
{
	static const char *const bad[] = {
		"",
		"tcp://",
		"tcp://host",
		"tcp://:53",
		"tcp://1.2.3.4:",
		"tcp://1.2.3.4:0",
		"tcp://1.2.3.4:65536",
		"tcp://1.2.3.4:12x",
		"tcp://::1:53",
		"tcp://[::1]",
		"tcp://[::1:53",
		"tcp://[nonsense]:53",
		"unix://",
		"unix:",
		"tls://127.0.0.1",
		"udp://1.2.3.4:5",
		("/a/path/that/is/far/too/long/for/a/unix/socket/address/because/sun_path/holds/only/one/"
		 "hundred/and/eight/bytes/x"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dt_res res = DT_OK;
		struct dt_output *o = dt_output_socket_open(bad[i], NULL, &res);
		ck_assert_msg(o == NULL && res == DT_ERR_INVALID, "spec \"%s\" accepted", bad[i]);
		struct dt_tap *t = dt_tap_open(bad[i], NULL, &res);
		ck_assert_msg(t == NULL && res == DT_ERR_INVALID, "tap spec \"%s\" accepted", bad[i]);
	}
	/* well-formed ones open (and close at once: nothing queued, no connection needed) */
	static const char *const good[] = {"/nonexistent/x.sock", "unix:///nonexistent/x.sock",
					   "unix:rel.sock",       "tcp://127.0.0.1:9",
					   "tcp://[::1]:9",       "tcp://localhost:9"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		dt_res res;
		struct dt_output *o = dt_output_socket_open(good[i], NULL, &res);
		ck_assert_msg(o != NULL, "spec \"%s\" refused: %s", good[i], dt_strerror(res));
		ck_assert_int_eq(dt_output_close(o), DT_OK);
	}
	struct dt_sender_options so;
	dt_sender_options_init(&so);
	so.queue_size = 0;
	dt_res res;
	ck_assert_ptr_null(dt_output_socket_open("/x", &so, &res));
	ck_assert_int_eq(res, DT_ERR_INVALID);
}
END_TEST

START_TEST(test_builders)
{
	struct dt_message m;
	dt_message_init(&m, DT_FORWARDER_QUERY);
	ck_assert_int_eq(m.dnstap_type, DT_TYPE_MESSAGE);
	ck_assert(m.has_message);
	ck_assert_int_eq(m.type, DT_FORWARDER_QUERY);
	dt_message_set_type(&m, DT_FORWARDER_RESPONSE);
	ck_assert_int_eq(m.type, DT_FORWARDER_RESPONSE);

	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
	ck_assert_int_eq(dt_message_set_response_address(&m, (struct sockaddr *)&a4, DT_UDP), DT_OK);
	ck_assert(m.has_response_address && m.has_response_port && m.has_socket_family && m.has_socket_protocol);
	ck_assert_int_eq(m.socket_family, DT_INET);
	ck_assert_int_eq(m.socket_protocol, DT_UDP);
	ck_assert_uint_eq(m.response_address.len, 4);
	ck_assert_mem_eq(m.response_address.data, "\xc0\x00\x02\x07", 4);
	ck_assert_uint_eq(m.response_port, 53);

	/* IPv4-mapped IPv6 becomes INET, 4 bytes */
	struct sockaddr_in6 m6 = {.sin6_family = AF_INET6, .sin6_port = htons(4242)};
	inet_pton(AF_INET6, "::ffff:198.51.100.1", &m6.sin6_addr);
	ck_assert_int_eq(dt_message_set_query_address(&m, (struct sockaddr *)&m6, DT_TCP), DT_OK);
	ck_assert_int_eq(m.socket_family, DT_INET);
	ck_assert_int_eq(m.socket_protocol, DT_TCP);
	ck_assert_uint_eq(m.query_address.len, 4);
	ck_assert_mem_eq(m.query_address.data, "\xc6\x33\x64\x01", 4);
	ck_assert_uint_eq(m.query_port, 4242);

	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
	inet_pton(AF_INET6, "2001:db8::5", &a6.sin6_addr);
	ck_assert_int_eq(dt_message_set_query_address(&m, (struct sockaddr *)&a6, DT_DOT), DT_OK);
	ck_assert_int_eq(m.socket_family, DT_INET6);
	ck_assert_int_eq(m.socket_protocol, DT_DOT);
	ck_assert_uint_eq(m.query_address.len, 16);

	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct dt_message before = m;
	ck_assert_int_eq(dt_message_set_query_address(&m, (struct sockaddr *)&un, DT_UDP), DT_ERR_INVALID);
	ck_assert_int_eq(dt_message_set_query_address(&m, NULL, DT_UDP), DT_ERR_INVALID);
	ck_assert_mem_eq(&m, &before, sizeof(m));

	struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 123456789};
	dt_message_set_query_time(&m, &ts);
	ck_assert(m.has_query_time_sec && m.has_query_time_nsec);
	ck_assert_uint_eq(m.query_time_sec, 1700000000);
	ck_assert_uint_eq(m.query_time_nsec, 123456789);
	time_t now = time(NULL);
	dt_message_set_response_time(&m, NULL);
	ck_assert(m.has_response_time_sec);
	ck_assert_uint_ge(m.response_time_sec, (uint64_t)now - 1);
	ck_assert_uint_le(m.response_time_sec, (uint64_t)now + 1);

	dt_message_set_query_message(&m, query, sizeof(query));
	dt_message_set_response_message(&m, query, 12);
	dt_message_set_query_zone(&m, "\4test\0", 6);
	ck_assert(m.has_query_message && m.has_response_message && m.has_query_zone);
	ck_assert_uint_eq(m.response_message.len, 12);
	ck_assert_uint_eq(m.query_zone.len, 6);

	/* what was built decodes back to the same view */
	uint8_t buf[512];
	size_t len = 0;
	ck_assert_uint_le(dt_encoded_size(&m), sizeof(buf));
	ck_assert_int_eq(dt_encode(&m, buf, &len), DT_OK);
	struct dt_decoder *d = dt_decoder_new();
	const struct dt_message *v;
	ck_assert_int_eq(dt_decode(d, buf, len, &v), DT_OK);
	ck_assert_int_eq(v->type, DT_FORWARDER_RESPONSE);
	ck_assert_int_eq(v->socket_protocol, DT_DOT);
	ck_assert_uint_eq(v->query_time_nsec, 123456789);
	ck_assert_uint_eq(v->response_port, 53);
	ck_assert_mem_eq(v->query_zone.data, "\4test\0", 6);
	dt_decoder_free(d);
}
END_TEST

START_TEST(test_null_tap_and_invalid)
{
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_QUERY);
	ck_assert_int_eq(dt_tap_send(NULL, &m), DT_OK);
	ck_assert(!dt_tap_full(NULL));
	ck_assert_uint_eq(dt_tap_dropped(NULL), 0);
	ck_assert_int_eq(dt_tap_close(NULL), DT_OK);
	struct dt_output_stats st;
	ck_assert_int_eq(dt_tap_stats(NULL, &st), DT_ERR_INVALID);

	struct dt_tap *t = dt_tap_open("/nonexistent/tap.sock", NULL, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(dt_tap_send(t, NULL), DT_ERR_INVALID);
	dt_message_init(&m, 0);
	ck_assert_int_eq(dt_tap_send(t, &m), DT_ERR_INVALID);
	dt_message_init(&m, 15);
	ck_assert_int_eq(dt_tap_send(t, &m), DT_ERR_INVALID);
	ck_assert_uint_eq(dt_tap_dropped(t), 0);
	ck_assert_int_eq(dt_tap_close(t), DT_OK); /* nothing queued */

	/* a generic output is not a socket output */
	ck_assert_int_eq(dt_output_stats(NULL, &st), DT_ERR_INVALID);
}
END_TEST

/* Every type, every field set by the builders, identity and version from the tap. */
START_TEST(test_round_trip)
{
	const unsigned n = 1400;
	struct collector *c = collector_unix(NORMAL, 1);
	struct dt_tap_options o = tap_opts(10000, 5000);
	dt_res res;
	struct dt_tap *t = dt_tap_open(unix_spec(c), &o, &res);
	ck_assert_ptr_nonnull(t);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	struct dt_output_stats st;
	ck_assert_int_eq(dt_tap_stats(t, &st), DT_OK);
	ck_assert_uint_eq(st.written + st.queued, n);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
	collector_join(c);
	ck_assert(c->got_stop);
	ck_assert_uint_eq(c->frames, n);
	ck_assert(logged("connected to unix://"));
	ck_assert(logged("closed: 1400 messages sent, 0 dropped"));

	struct dt_decoder *d = dt_decoder_new();
	size_t pos = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = dt__be32(c->data + pos);
		const struct dt_message *v;
		ck_assert_int_eq(dt_decode(d, c->data + pos + 4, len, &v), DT_OK);
		pos += 4 + len;
		ck_assert_int_eq(v->dnstap_type, DT_TYPE_MESSAGE);
		ck_assert(v->has_identity && v->identity.len == 7 && memcmp(v->identity.data, "test-id", 7) == 0);
		ck_assert(v->has_version && v->version.len == 12);
		ck_assert_int_eq(v->type, (int)(i % 14) + 1);
		ck_assert_int_eq(v->socket_family, DT_INET6);
		ck_assert_int_eq(v->socket_protocol, DT_TCP);
		ck_assert_uint_eq(v->query_port, i);
		ck_assert_uint_eq(v->query_time_sec, 1700000000 + i);
		ck_assert_uint_eq(v->query_time_nsec, 5);
		ck_assert(v->has_query_message && v->query_message.len == sizeof(query));
		ck_assert(!v->has_response_address && !v->has_response_message);
	}
	dt_decoder_free(d);
	collector_free(c);
}
END_TEST

/* Every field of the view goes through the queue's record format and comes out encoded as it went in;
 * a message's own identity and version win over the tap's. */
START_TEST(test_all_fields)
{
	struct collector *c = collector_unix(NORMAL, 1);
	struct dt_tap_options o = tap_opts(100, 5000);
	struct dt_tap *t = dt_tap_open(unix_spec(c), &o, NULL);
	ck_assert_ptr_nonnull(t);
	struct dt_message m;
	dt_message_init(&m, DT_RESOLVER_RESPONSE);
	m.dnstap_type = 7; /* forced back to MESSAGE */
	m.has_identity = m.has_version = m.has_extra = true;
	m.identity = (struct dt_bytes){(const uint8_t *)"own-id", 6};
	m.version = (struct dt_bytes){(const uint8_t *)"", 0};
	m.extra = (struct dt_bytes){(const uint8_t *)"x\0y", 3};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(1053)};
	struct sockaddr_in r4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
	inet_pton(AF_INET, "192.0.2.53", &r4.sin_addr);
	dt_message_set_query_address(&m, (struct sockaddr *)&a4, DT_DOH);
	dt_message_set_response_address(&m, (struct sockaddr *)&r4, DT_DOH);
	struct timespec tq = {.tv_sec = 1, .tv_nsec = 2}, tr = {.tv_sec = 3, .tv_nsec = 999999999};
	dt_message_set_query_time(&m, &tq);
	dt_message_set_response_time(&m, &tr);
	dt_message_set_query_message(&m, query, sizeof(query));
	dt_message_set_response_message(&m, query, 12);
	dt_message_set_query_zone(&m, "\4test\0", 6);
	m.has_http_protocol = true;
	m.http_protocol = DT_HTTP2;
	m.has_policy = m.has_policy_type = m.has_policy_rule = m.has_policy_action = true;
	m.has_policy_match = m.has_policy_value = true;
	m.policy_type = "RPZ";
	m.policy_rule = (struct dt_bytes){(const uint8_t *)"rule", 4};
	m.policy_action = 3;
	m.policy_match = 5;
	m.policy_value = (struct dt_bytes){(const uint8_t *)"\1\2", 2};
	ck_assert_int_eq(dt_tap_send(t, &m), DT_OK);
	/* and one with nothing but its type: every absent field stays absent */
	struct dt_message bare;
	dt_message_init(&bare, DT_UPDATE_QUERY);
	ck_assert_int_eq(dt_tap_send(t, &bare), DT_OK);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, 2);

	/* what the collector got is exactly what dt_encode() makes of the message */
	m.dnstap_type = DT_TYPE_MESSAGE;
	uint8_t want[1024];
	size_t want_len = 0;
	ck_assert_int_eq(dt_encode(&m, want, &want_len), DT_OK);
	ck_assert_uint_eq(dt__be32(c->data), want_len);
	ck_assert_mem_eq(c->data + 4, want, want_len);

	struct dt_decoder *d = dt_decoder_new();
	const struct dt_message *v;
	size_t pos = 4 + want_len;
	ck_assert_int_eq(dt_decode(d, c->data + pos + 4, dt__be32(c->data + pos), &v), DT_OK);
	ck_assert_int_eq(v->type, DT_UPDATE_QUERY);
	ck_assert(v->has_identity && v->identity.len == 7); /* the tap's */
	ck_assert(v->has_version && v->version.len == 12);
	ck_assert(!v->has_extra && !v->has_socket_family && !v->has_socket_protocol && !v->has_query_address);
	ck_assert(!v->has_query_port && !v->has_query_time_sec && !v->has_query_message && !v->has_query_zone);
	ck_assert(!v->has_http_protocol && !v->has_policy);
	dt_decoder_free(d);
	collector_free(c);
}
END_TEST

/* No collector: the queue fills, the rest is dropped and counted; closing gives up in time. */
START_TEST(test_queue_full_drops)
{
	struct dt_tap_options o = tap_opts(10, 300);
	o.full = false;
	dt_res res;
	struct dt_tap *t = dt_tap_open("/nonexistent/tap.sock", &o, &res);
	ck_assert_ptr_nonnull(t);
	unsigned ok = 0, full = 0;
	for (unsigned i = 0; i < 25; i++) {
		errno = 0;
		dt_res r = send_nth(t, i);
		if (r == DT_OK)
			ok++;
		else if (r == DT_ERR_FULL)
			full++;
	}
	ck_assert_uint_eq(ok, 10);
	ck_assert_uint_eq(full, 15);
	ck_assert_uint_eq(dt_tap_dropped(t), 15);
	struct dt_output_stats st;
	dt_tap_stats(t, &st);
	ck_assert_uint_eq(st.queued, 10);
	ck_assert_uint_eq(st.written, 0);
	ck_assert(!st.connected);
	uint64_t t0 = ms_now();
	errno = 0;
	ck_assert_int_eq(dt_tap_close(t), DT_ERR_IO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_lt(ms_now() - t0, 2000);
	ck_assert(logged("cannot connect to /nonexistent/tap.sock: No such file or directory; retrying"));
	ck_assert(logged("closed: 0 messages sent, 25 dropped"));
}
END_TEST

/* Messages queued while the collector is away are delivered once it comes up. */
START_TEST(test_backlog_after_collector_starts)
{
	char path[108];
	sock_path(path, sizeof(path));
	unlink(path);
	struct dt_tap_options o = tap_opts(100, 5000);
	struct dt_tap *t = dt_tap_open(path, &o, NULL); /* the bare-path form */
	ck_assert_ptr_nonnull(t);
	for (unsigned i = 0; i < 50; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	struct dt_output_stats st;
	ck_assert_int_eq(dt_tap_stats(t, &st), DT_OK);
	ck_assert_uint_eq(st.queued, 50);
	ck_assert(!st.connected);
	usleep(250 * 1000); /* a few connection attempts fail meanwhile */
	struct collector *c = collector_unix_at(path, NORMAL, 1);
	struct want w = {c, 50};
	ck_assert(eventually(has_frames, &w, 3000));
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, 50);
	collector_free(c);
}
END_TEST

/* The collector hangs up between messages: the sender notices, reconnects, and nothing is lost. */
START_TEST(test_reconnect)
{
	struct collector *c = collector_unix(NORMAL, 2);
	c->close_after = 10;
	struct dt_tap_options o = tap_opts(1000, 5000);
	struct dt_tap *t = dt_tap_open(unix_spec(c), &o, NULL);
	ck_assert_ptr_nonnull(t);
	for (unsigned i = 0; i < 10; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	struct want w = {c, 10};
	ck_assert(eventually(has_frames, &w, 3000));
	/* wait until the sender has seen the hang-up and is connected again */
	struct dt_output_stats st = {0};
	uint64_t end = ms_now() + 3000;
	while (ms_now() < end && (dt_tap_stats(t, &st), st.connects < 2 || !st.connected))
		usleep(5000);
	ck_assert_uint_eq(st.connects, 2);
	for (unsigned i = 10; i < 20; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, 20);
	ck_assert(logged("lost connection to unix://"));
	ck_assert(logged("closed: 20 messages sent, 0 dropped"));
	collector_free(c);
}
END_TEST

/* A collector that accepts the connection but never sends ACCEPT cannot hang the sender: it gives up
 * each handshake after timeout_ms and tries again, keeps the messages queued meanwhile (never counted
 * as sent), closes within its timeout, and sends nothing but READY. Everything is read from the
 * counters (dt_tap_stats() and the collector's), with bounded waits only. */
START_TEST(test_mute_collector)
{
	struct collector *c = collector_unix(MUTE, 100);
	struct dt_tap_options o = tap_opts(100, 300);
	struct dt_tap *t = dt_tap_open(unix_spec(c), &o, NULL);
	ck_assert_ptr_nonnull(t);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	/* a second READY: the first handshake was given up (timeout_ms is 300) and a new one begun */
	struct want w = {c, 2};
	ck_assert(eventually(has_readies, &w, 10000));
	struct dt_output_stats st;
	ck_assert_int_eq(dt_tap_stats(t, &st), DT_OK);
	ck_assert(!st.connected);
	ck_assert_uint_eq(st.connects, 0);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_uint_eq(st.queued, 5);
	ck_assert_uint_eq(st.dropped, 0);
	uint64_t t0 = ms_now();
	errno = 0;
	ck_assert_int_eq(dt_tap_close(t), DT_ERR_IO);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_lt(ms_now() - t0, 5000); /* bounded (by timeout_ms, 300, plus generous slack) */
	/* the collector's thread is stuck in accept(): shutting the socket down ends it */
	shutdown(c->lfd, SHUT_RDWR);
	collector_join(c);
	ck_assert_uint_eq(c->frames, 0);
	ck_assert_int_eq(c->controls[DT_CTRL_START], 0);
	ck_assert_int_eq(c->controls[DT_CTRL_STOP], 0);
	collector_free(c);
}
END_TEST

/* A collector that never sends FINISH: closing is bounded, the messages count as sent. */
START_TEST(test_no_finish)
{
	struct collector *c = collector_unix(NO_FINISH, 1);
	struct dt_tap_options o = tap_opts(100, 300);
	struct dt_tap *t = dt_tap_open(unix_spec(c), &o, NULL);
	for (unsigned i = 0; i < 7; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	uint64_t t0 = ms_now();
	errno = 0;
	ck_assert_int_eq(dt_tap_close(t), DT_ERR_IO);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_lt(ms_now() - t0, 2000);
	collector_join(c);
	ck_assert(c->got_stop);
	ck_assert_uint_eq(c->frames, 7);
	ck_assert(logged("closed: 7 messages sent, 0 dropped"));
	collector_free(c);
}
END_TEST

START_TEST(test_wrong_content_type)
{
	struct collector *c = collector_unix(WRONG_CT, 1);
	struct dt_sender_options so;
	dt_sender_options_init(&so);
	so.blocking = true;
	dt_res res = DT_OK;
	ck_assert_ptr_null(dt_output_socket_open(unix_spec(c), &so, &res));
	ck_assert_int_eq(res, DT_ERR_CONTENT_TYPE);
	collector_join(c);
	collector_free(c);
}
END_TEST

START_TEST(test_blocking_open_fails_fast)
{
	struct dt_sender_options so;
	dt_sender_options_init(&so);
	so.blocking = true;
	dt_res res = DT_OK;
	uint64_t t0 = ms_now();
	errno = 0;
	ck_assert_ptr_null(dt_output_socket_open("/nonexistent/relay.sock", &so, &res));
	ck_assert_int_eq(res, DT_ERR_IO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_lt(ms_now() - t0, 1000);
}
END_TEST

/* The relay mode: a tiny queue, many payloads, none dropped, all in order. */
START_TEST(test_blocking_relay)
{
	const unsigned n = 5000;
	struct collector *c = collector_unix(NORMAL, 1);
	struct dt_sender_options so;
	dt_sender_options_init(&so);
	so.blocking = true;
	so.queue_size = 8;
	dt_res res;
	struct dt_output *o = dt_output_socket_open(unix_spec(c), &so, &res);
	ck_assert_ptr_nonnull(o);
	for (unsigned i = 0; i < n; i++) {
		char payload[32];
		int len = snprintf(payload, sizeof(payload), "payload %u", i);
		ck_assert_int_eq(dt_output_write(o, (const uint8_t *)payload, (size_t)len), DT_OK);
	}
	struct dt_output_stats st;
	ck_assert_int_eq(dt_output_stats(o, &st), DT_OK);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_int_eq(dt_output_flush(o), DT_OK);
	ck_assert_int_eq(dt_output_reopen(o), DT_OK);
	ck_assert_int_eq(dt_output_close(o), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, n);
	size_t pos = 0;
	for (unsigned i = 0; i < n; i++) {
		char want[32];
		int len = snprintf(want, sizeof(want), "payload %u", i);
		ck_assert_uint_eq(dt__be32(c->data + pos), (uint32_t)len);
		ck_assert_mem_eq(c->data + pos + 4, want, (size_t)len);
		pos += 4 + (size_t)len;
	}
	collector_free(c);
}
END_TEST

/* A message bigger than the whole queue is refused and counted, not truncated. */
START_TEST(test_too_big)
{
	struct dt_tap_options o = tap_opts(10, 300);
	o.sender.queue_bytes = 256;
	struct dt_tap *t = dt_tap_open("/nonexistent/tap.sock", &o, NULL);
	ck_assert_ptr_nonnull(t);
	static uint8_t big[2000];
	struct dt_message m;
	dt_message_init(&m, DT_CLIENT_RESPONSE);
	dt_message_set_response_message(&m, big, sizeof(big));
	ck_assert_int_eq(dt_tap_send(t, &m), DT_ERR_TOO_BIG);
	ck_assert_uint_eq(dt_tap_dropped(t), 1);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
}
END_TEST

/* A wrapping ring: frames of varied sizes through a small queue, order and bytes intact. */
START_TEST(test_ring_wraps)
{
	const unsigned n = 3000;
	struct collector *c = collector_unix(NORMAL, 1);
	struct dt_sender_options so;
	dt_sender_options_init(&so);
	so.blocking = true;
	so.queue_size = 50;
	so.queue_bytes = 4096;
	struct dt_output *o = dt_output_socket_open(unix_spec(c), &so, NULL);
	ck_assert_ptr_nonnull(o);
	static uint8_t payload[1500];
	for (unsigned i = 0; i < n; i++) {
		size_t len = 1 + (i * 7919u) % sizeof(payload);
		memset(payload, (int)(i & 0xff), len);
		ck_assert_int_eq(dt_output_write(o, payload, len), DT_OK);
	}
	ck_assert_int_eq(dt_output_close(o), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, n);
	size_t pos = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t len = 1 + (i * 7919u) % sizeof(payload);
		ck_assert_uint_eq(dt__be32(c->data + pos), len);
		ck_assert_uint_eq(c->data[pos + 4], i & 0xff);
		ck_assert_uint_eq(c->data[pos + 4 + len - 1], i & 0xff);
		pos += 4 + len;
	}
	collector_free(c);
}
END_TEST

static void tcp_case(int family, const char *host)
{
	struct collector *c = collector_tcp(family, 1);
	char spec[128];
	snprintf(spec, sizeof(spec), "tcp://%s:%d", host, c->port);
	struct dt_tap_options o = tap_opts(1000, 5000);
	struct dt_tap *t = dt_tap_open(spec, &o, NULL);
	ck_assert_ptr_nonnull(t);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_int_eq(send_nth(t, i), DT_OK);
	ck_assert_int_eq(dt_tap_close(t), DT_OK);
	collector_join(c);
	ck_assert_uint_eq(c->frames, 100);
	collector_free(c);
}

START_TEST(test_tcp_ipv4)
{
	tcp_case(AF_INET, "127.0.0.1");
}
END_TEST

START_TEST(test_tcp_ipv6)
{
	tcp_case(AF_INET6, "[::1]");
}
END_TEST

/* A name: "localhost" may resolve to ::1 first; the sender tries the next address in turn. */
START_TEST(test_tcp_name)
{
	tcp_case(AF_INET, "localhost");
}
END_TEST

static Suite *tap_suite(void)
{
	Suite *s = suite_create("tap");
	TCase *tc = tcase_create("tap");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_builders);
	tcase_add_test(tc, test_null_tap_and_invalid);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_all_fields);
	tcase_add_test(tc, test_queue_full_drops);
	tcase_add_test(tc, test_backlog_after_collector_starts);
	tcase_add_test(tc, test_reconnect);
	tcase_add_test(tc, test_mute_collector);
	tcase_add_test(tc, test_no_finish);
	tcase_add_test(tc, test_wrong_content_type);
	tcase_add_test(tc, test_blocking_open_fails_fast);
	tcase_add_test(tc, test_blocking_relay);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_ring_wraps);
	tcase_add_test(tc, test_tcp_ipv4);
	tcase_add_test(tc, test_tcp_ipv6);
	tcase_add_test(tc, test_tcp_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	SRunner *sr = srunner_create(tap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
