/* Frame Streams sender: relays payloads to a collector on a unix socket or TCP (READY, ACCEPT, START,
 * data, STOP, FINISH), the way CoreDNS's dnstap plugin does but without its silent losses.
 *
 * Callers never wait for the network: each payload, or each tap message as a compact record of its
 * fields, is copied into a ring buffer under a short lock. A thread owned by the output, running its
 * own libevent loop, connects, handshakes, turns records into frames (encoding tap messages with
 * dt_encode(), off the caller's thread) in one reusable buffer, and writes that buffer with one call.
 * Nothing is allocated per message. Records stay queued while the collector is away and go out after
 * the next handshake; whatever can never be sent is counted as dropped. libfstrm's writer thread is
 * not used: it discards frames silently while disconnected, has no timeouts and blocks forever on a
 * collector that never sends ACCEPT or FINISH. */
#include "config.h"
#include "clock.h"

#include "log.h"
#include "addr.h"
#include "frame.h"
#include "message_fields.h"
#include "output.h"
#include "queue.h"
#include "sender.h"
#include "transport.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_QUEUE_SIZE 10000
#define BYTES_PER_MESSAGE 1024
#define MIN_QUEUE_BYTES (1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_RECONNECT_MAX_MS 3000
#define RECONNECT_MIN_MS 100
#define TICK_MS 10 /* idle flush: the latency of a lone message */
/* Messages that make a producer wake the thread before the tick (at most a quarter of the queue).
 * Large batches keep the sender and the collector from waking up for every few messages. */
#define WAKE_BATCH 1024
#define MAX_BATCH (1024 * 1024) /* bytes per sendmsg */
#define DROP_LOG_INTERVAL_MS 10000
#define OUT_BATCH (256 * 1024) /* bytes of frames gathered per write (more for one bigger frame) */

/* ==== Collector address ==== */

struct target {
	bool tcp;
	bool tls;
	const struct dt_transport_kind *kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char host[256];
	char port[8];
};

/* HOST:PORT with HOST an IPv4 address, a bracketed IPv6 address, or a name: a sender needs both, and
 * a port from 1 to 65535 in at most 5 digits. */
static dt_res parse_hostport(const char *s, struct target *t)
{
	bool bracketed;
	struct in6_addr a6;
	t->tcp = true;
	if (!dt__split_host_port(s, t->host, sizeof(t->host), t->port, sizeof(t->port), &bracketed) ||
	    t->host[0] == '\0' || strlen(t->port) > 5 || strtol(t->port, NULL, 10) < 1 ||
	    (bracketed && inet_pton(AF_INET6, t->host, &a6) != 1))
		return DT_ERR_INVALID;
	return DT_OK;
}

static dt_res parse_spec(const char *spec, struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (spec == NULL || spec[0] == '\0')
		return DT_ERR_INVALID;
	const char *path = spec;
	t->kind = &dt__transport_unix;
	if (strncmp(spec, "tcp://", 6) == 0) {
		t->kind = &dt__transport_tcp;
		return parse_hostport(spec + 6, t);
	}
	if (strncmp(spec, "tls://", 6) == 0) {
		t->tls = true; /* its kind is made by the open, from the options */
		return parse_hostport(spec + 6, t);
	}
	if (strncmp(spec, "unix://", 7) == 0)
		path = spec + 7;
	else if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strstr(spec, "://") != NULL)
		return DT_ERR_INVALID; /* unknown scheme */
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(t->path))
		return DT_ERR_INVALID;
	memcpy(t->path, path, n + 1);
	return DT_OK;
}

/* ==== The output ==== */

enum state {
	ST_IDLE,       /* no connection; a retry is scheduled */
	ST_CONNECTING, /* non-blocking connect in progress */
	ST_SECURING,   /* connected; the transport's own handshake (TLS) in progress */
	ST_HANDSHAKE,  /* READY sent, waiting for ACCEPT */
	ST_CONNECTED,  /* START sent: data phase */
	ST_STOPPING,   /* STOP sent, waiting for FINISH */
	ST_DEAD,       /* given up (blocking mode) or shut down */
};

struct socket_output {
	struct dt_output base;
	char *spec;
	struct target target;
	struct dt_sender_options opt;
	struct dt_transport_kind *tls; /* target.kind when TLS: made at open, freed with the output */

	/* Messages not yet sent: records in the queue, and frames in out (taken from it, in flight). Its
	 * counters are the output's sent and dropped. */
	struct dt_queue *q;

	/* ---- shared between callers and the thread, under mu ---- */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* open result */
	bool closing;
	bool open_done;
	dt_res open_res;
	int open_errno;
	uint64_t connects;
	bool connected;

	/* ---- the thread's own ---- */
	pthread_t thread;
	bool thread_started;
	int wake_r, wake_w;
	struct event_base *evbase;
	struct event *ev_wake, *ev_tick, *ev_retry, *ev_deadline;
	struct event *ev_r, *ev_w;
	struct dt_transport *t; /* the connection (connecting, or up); NULL: none */
	enum state st;
	bool failed; /* blocking mode: collector given up; writes fail with fail_errno */
	int fail_errno;
	/* frames being written: out[0..out_len), written up to out_off, whole frames counted up to out_done */
	uint8_t *out;
	size_t out_cap, out_len, out_off, out_done;
	struct dt_bytes identity, version; /* the tap's envelope (owned by the tap, outlives the thread) */
	uint8_t ctl[DT_CONTROL_FRAME_MAX];
	size_t ctl_len, ctl_off;
	uint8_t rbuf[2 * (DT_CONTROL_MAX + 8)];
	size_t rlen;
	unsigned backoff_ms;
	size_t addr_index;
	int last_errno;
	dt_res last_res;
	bool fail_logged;
	uint64_t down_since; /* ms, monotonic; 0: up */
	bool close_started;
	uint64_t close_deadline;
	dt_res close_res;
	int close_errno;
	uint64_t logged_dropped;
	uint64_t last_drop_log; /* 0: never */
};

static const struct dt_output_ops socket_ops;

static struct timeval tv_ms(uint64_t ms)
{
	return (struct timeval){.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

static void say(struct socket_output *o, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct socket_output *o, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(o->opt.log, o->opt.log_arg, level, fmt, ap);
	va_end(ap);
}

static void wake_thread(struct socket_output *o)
{
	/* a full pipe already holds a wake-up: EAGAIN is fine */
	ssize_t n = write(o->wake_w, "", 1);
	(void)n;
}

/* The queue's notification: a batch is waiting, or a blocked producer needs room. */
static void notify_thread(void *o)
{
	wake_thread(o);
}

/* ==== The queue (callers' side) ==== */

/* A record in the ring: a 4-byte header (the body's length; the top bit set for a tap message), then
 * the body. A payload's body is its bytes. A tap message's body is struct rec followed by its byte
 * strings, so that copying a message costs the caller a few hundred bytes of memcpy and no protobuf. */
#define REC_MESSAGE 0x80000000u

/* X-macro lists, which clang-format cannot indent stably: */
/* clang-format off */
/* Byte strings of a record, in this order: the Dnstap's, the Message's, Policy.type, the Policy's. */
enum {
#define X(f, pb) S_##f,
	DT_DNSTAP_BYTES(X)
	DT_MESSAGE_BYTES(X)
	S_policy_type,
	DT_POLICY_BYTES(X)
#undef X
	N_STRINGS
};

/* Number fields of a record: bit i of rec.has says field i is present (then policy, then the strings). */
enum {
#define X(f, pb, type, absent) N_##f,
	DT_MESSAGE_NUMBERS(X)
	DT_POLICY_NUMBERS(X)
#undef X
	N_POLICY,
	N_STRING0
};

struct rec {
	uint32_t has;
	int32_t type;
#define X(f, pb, type, absent) type f;
	DT_MESSAGE_NUMBERS(X)
	DT_POLICY_NUMBERS(X)
#undef X
	uint32_t len[N_STRINGS];
};
/* clang-format on */

#define HAS(i) (1u << (i))
_Static_assert(N_STRING0 + N_STRINGS <= 32, "a record's presence bits fit in rec.has");

/* Length of a byte string in a record: 0 when absent. policy_type counts its NUL, so that the sender
 * can use it in place. */
#define STR_LEN(has, b) ((has) && (b).data != NULL ? (b).len : 0)
#define POLICY_TYPE_LEN(m) \
	((m)->has_policy && (m)->has_policy_type && (m)->policy_type != NULL ? strlen((m)->policy_type) + 1 : 0)

/* Size of m's record body, or 0 if a byte string is too long to be framed. */
static size_t record_size(const struct dt_message *m)
{
	size_t l[N_STRINGS] = {
#define X(f, pb) [S_##f] = STR_LEN(m->has_##f, m->f),
		DT_DNSTAP_BYTES(X) DT_MESSAGE_BYTES(X)
#undef X
#define X(f, pb) [S_##f] = STR_LEN(m->has_policy && m->has_##f, m->f),
			DT_POLICY_BYTES(X)
#undef X
				[S_policy_type] = POLICY_TYPE_LEN(m),
	};
	size_t n = sizeof(struct rec), any = 0;
	for (int i = 0; i < N_STRINGS; i++) {
		n += l[i];
		any |= l[i];
	}
	return any > UINT32_MAX / 16 || n > UINT32_MAX / 2 ? 0 : n;
}

/* Appends one byte string to a record under construction. */
static uint8_t *put_string(struct rec *r, int i, bool has, const uint8_t *data, size_t len, uint8_t *q)
{
	if (!has)
		return q;
	r->has |= HAS(N_STRING0 + i);
	if (data == NULL || len == 0)
		return q;
	r->len[i] = (uint32_t)len;
	memcpy(q, data, len);
	return q + len;
}

static void record_write(uint8_t *p, const struct dt_message *m)
{
	struct rec r = {.type = m->type};
#define X(f, pb, type, absent) \
	r.f = m->f;            \
	if (m->has_##f)        \
		r.has |= HAS(N_##f);
	DT_MESSAGE_NUMBERS(X)
#undef X
	if (m->has_policy) {
		r.has |= HAS(N_POLICY);
#define X(f, pb, type, absent) \
	if (m->has_##f)        \
		r.has |= HAS(N_##f);
		DT_POLICY_NUMBERS(X)
#undef X
	}
#define X(f, pb, type, absent) r.f = m->f;
	DT_POLICY_NUMBERS(X)
#undef X
	uint8_t *q = p + sizeof(r);
#define X(f, pb) q = put_string(&r, S_##f, m->has_##f, m->f.data, m->f.len, q);
	DT_DNSTAP_BYTES(X)
	DT_MESSAGE_BYTES(X)
	if (m->has_policy) {
		q = put_string(&r, S_policy_type, m->has_policy_type && m->policy_type != NULL,
			       (const uint8_t *)m->policy_type, POLICY_TYPE_LEN(m), q);
		DT_POLICY_BYTES(X)
	}
#undef X
	memcpy(p, &r, sizeof(r));
}

/* The message a record describes; its byte strings point into the record. identity and version come
 * from the tap when the message has none of its own. */
static void record_read(const uint8_t *p, struct dt_message *m, const struct socket_output *o)
{
	struct rec r;
	memcpy(&r, p, sizeof(r));
	memset(m, 0, sizeof(*m));
	m->dnstap_type = DT_TYPE_MESSAGE;
	m->has_message = true;
	m->type = r.type;
	m->has_policy = r.has & HAS(N_POLICY);
#define X(f, pb, type, absent)           \
	m->has_##f = r.has & HAS(N_##f); \
	m->f = r.f;
	DT_MESSAGE_NUMBERS(X)
	DT_POLICY_NUMBERS(X)
#undef X

	struct dt_bytes str[N_STRINGS];
	bool present[N_STRINGS];
	const uint8_t *q = p + sizeof(r);
	for (int i = 0; i < N_STRINGS; i++) {
		present[i] = r.has & HAS(N_STRING0 + i);
		str[i] = (struct dt_bytes){q, r.len[i]};
		q += r.len[i];
	}
#define X(f, pb)                     \
	m->has_##f = present[S_##f]; \
	m->f = str[S_##f];
	DT_DNSTAP_BYTES(X)
	DT_MESSAGE_BYTES(X)
	DT_POLICY_BYTES(X)
#undef X
	if (!m->has_identity && o->identity.data != NULL) {
		m->has_identity = true;
		m->identity = o->identity;
	}
	if (!m->has_version && o->version.data != NULL) {
		m->has_version = true;
		m->version = o->version;
	}
	m->has_policy_type = present[S_policy_type];
	m->policy_type = present[S_policy_type] ? (const char *)str[S_policy_type].data : NULL;
}

static void fill_record(uint8_t *dst, size_t len, const void *m)
{
	(void)len;
	record_write(dst, m);
}

/* Queues one record: the payload's bytes, or (payload NULL) message m as a record of body_len bytes.
 * With may_wait (blocking mode), waits for room; otherwise a full queue drops it (DT_ERR_FULL). */
static dt_res enqueue(struct socket_output *o, const uint8_t *payload, size_t body_len, const struct dt_message *m,
		      bool may_wait)
{
	return dt__queue_put(o->q, body_len, payload == NULL, payload == NULL ? fill_record : NULL,
			     payload == NULL ? (const void *)m : payload, may_wait ? DT_QUEUE_FOREVER : 0);
}

/* ==== The thread: connection ==== */

static void pump(struct socket_output *o);
static void schedule_retry(struct socket_output *o);
static void shut_down(struct socket_output *o, dt_res res, int err);

static void set_connected(struct socket_output *o, bool up)
{
	pthread_mutex_lock(&o->mu);
	o->connected = up;
	if (up)
		o->connects++;
	pthread_mutex_unlock(&o->mu);
	if (!up)
		dt__queue_hush(o->q); /* nothing to wake for until the next handshake */
}

static void close_socket(struct socket_output *o)
{
	if (o->ev_r != NULL) {
		event_free(o->ev_r);
		o->ev_r = NULL;
	}
	if (o->ev_w != NULL) {
		event_free(o->ev_w);
		o->ev_w = NULL;
	}
	dt__tr_close(o->t);
	o->t = NULL;
	event_del(o->ev_deadline);
	o->ctl_len = o->ctl_off = 0;
	o->rlen = 0;
}

/* Drops the frame a broken connection cut in half: the collector got part of it, and the next
 * connection must start at a frame boundary. The whole frames after it are sent on that connection. */
static void drop_partial(struct socket_output *o)
{
	if (o->out_off == o->out_done)
		return;
	o->out_done += 4 + (size_t)dt__be32(o->out + o->out_done);
	o->out_off = o->out_done;
	if (o->out_off == o->out_len)
		o->out_len = o->out_off = o->out_done = 0;
	dt__queue_drop(o->q, 1, DT_QUEUE_UNDELIVERED);
}

/* Drops everything still queued (the output is shutting down or giving up). */
static void drop_all(struct socket_output *o)
{
	dt__queue_drop_all(o->q);
	o->out_len = o->out_off = o->out_done = 0;
}

static size_t queued(struct socket_output *o)
{
	return dt__queue_count(o->q);
}

/* Tells a blocking open() how the first attempt went. */
static void open_result(struct socket_output *o, dt_res res, int err)
{
	pthread_mutex_lock(&o->mu);
	bool first = !o->open_done;
	o->open_done = true;
	o->open_res = res;
	o->open_errno = err;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	if (first && res != DT_OK && o->opt.blocking) {
		o->st = ST_DEAD;
		event_base_loopbreak(o->evbase);
	}
}

/* A connection attempt failed before the data phase. */
static void attempt_failed(struct socket_output *o, int err, dt_res res, const char *why)
{
	close_socket(o);
	o->st = ST_IDLE;
	o->last_errno = err;
	o->last_res = res;
	o->addr_index++; /* a name with several addresses: try the next one */
	if (o->down_since == 0)
		o->down_since = dt__now_ms();
	if (o->opt.blocking && !o->open_done) {
		if (why != NULL) /* more than errno can say: a resolver's message, a collector that hung up */
			say(o, LOG_WARNING, "cannot connect to %s: %s", o->spec, why);
		open_result(o, res, err);
		return;
	}
	if (o->close_started && queued(o) == 0) {
		shut_down(o, DT_OK, 0); /* closing, and nothing left that needs a connection */
		return;
	}
	if (!o->fail_logged) {
		say(o, LOG_WARNING, "cannot connect to %s: %s; retrying", o->spec, why != NULL ? why : strerror(err));
		o->fail_logged = true;
	}
	schedule_retry(o);
}

/* An established connection broke. */
static void lost(struct socket_output *o, int err, const char *why)
{
	enum state was = o->st;
	close_socket(o);
	drop_partial(o);
	set_connected(o, false);
	o->st = ST_IDLE;
	o->last_errno = err;
	o->last_res = DT_ERR_IO;
	o->down_since = dt__now_ms();
	o->fail_logged = true; /* this line says it: no "cannot connect" on the first retry */
	say(o, LOG_WARNING, "lost connection to %s: %s", o->spec, why != NULL ? why : strerror(err));
	if (was == ST_STOPPING || (o->close_started && queued(o) == 0)) {
		shut_down(o, DT_ERR_IO, err); /* all was written, but FINISH never came */
		return;
	}
	o->backoff_ms = 0; /* a restarted collector is usually back at once */
	schedule_retry(o);
}

static void queue_control(struct socket_output *o, uint32_t type)
{
	o->ctl_len = dt__control_build(o->ctl, type, type != DT_CTRL_STOP);
	o->ctl_off = 0;
}

static void on_socket_ready(struct socket_output *o)
{
	o->st = ST_HANDSHAKE;
	queue_control(o, DT_CTRL_READY);
	event_add(o->ev_r, NULL);
	pump(o);
}

static void on_accept(struct socket_output *o, const struct dt_control *c)
{
	if (c->n_content_types > 0 && !c->dnstap) {
		attempt_failed(o, EPROTO, DT_ERR_CONTENT_TYPE, "the collector does not accept " DT_CONTENT_TYPE);
		return;
	}
	event_del(o->ev_deadline);
	queue_control(o, DT_CTRL_START);
	o->st = ST_CONNECTED;
	o->backoff_ms = 0;
	o->down_since = 0;
	o->fail_logged = false;
	set_connected(o, true);
	say(o, LOG_INFO, "connected to %s", o->spec);
	open_result(o, DT_OK, 0);
	pump(o);
}

static void handle_control(struct socket_output *o, const struct dt_control *c)
{
	switch (o->st) {
	case ST_HANDSHAKE:
		if (c->type == DT_CTRL_ACCEPT)
			on_accept(o, c);
		else if (c->type >= DT_CTRL_ACCEPT && c->type <= DT_CTRL_FINISH)
			attempt_failed(o, EPROTO, DT_ERR_CONTROL, "unexpected control frame instead of ACCEPT");
		break;
	case ST_CONNECTED:
		if (c->type == DT_CTRL_FINISH)
			lost(o, ECONNRESET, "the collector sent FINISH before STOP");
		break;
	case ST_STOPPING:
		if (c->type == DT_CTRL_FINISH) {
			close_socket(o);
			set_connected(o, false);
			shut_down(o, DT_OK, 0);
		}
		break;
	default:
		break;
	}
}

static void secure(struct socket_output *o);

/* Reads and acts on what the collector sent. Returns false when the connection is gone or the read
 * must wait. */
static bool read_some(struct socket_output *o)
{
	ssize_t n = dt__tr_read(o->t, o->rbuf + o->rlen, sizeof(o->rbuf) - o->rlen);
	if (n < 0 && errno == EAGAIN) {
		if (o->t->want & DT_TR_WRITE)
			event_add(o->ev_w, NULL);
		return false;
	}
	if (n <= 0) {
		int err = n == 0 ? ECONNRESET : errno;
		char words[sizeof(o->t->error)]; /* the transport's (TLS: an alert), copied: t goes first */
		snprintf(words, sizeof(words), "%s",
			 n == 0 ? "the collector closed the connection" : dt__tr_error(o->t, err));
		if (o->tls != NULL && o->st == ST_HANDSHAKE && (n == 0 || err == ECONNRESET))
			/* TLS 1.3: a collector that refuses our certificate (or its absence) does so after our
			 * handshake is done, and its alert is often lost in the reset */
			snprintf(words, sizeof(words),
				 "the collector closed the connection after the TLS handshake "
				 "(does it require a client certificate, or refuse ours?)");
		const char *why = words;
		if (o->st == ST_HANDSHAKE)
			attempt_failed(o, err, DT_ERR_IO, why);
		else
			lost(o, err, why);
		return false;
	}
	o->rlen += (size_t)n;
	while (o->t != NULL) {
		struct dt_frame f;
		dt__frame_peek(o->rbuf, o->rlen, &f);
		if (f.kind == DT_FRAME_NEED_MORE)
			return true;
		if (f.kind != DT_FRAME_CONTROL) {
			/* a collector sends nothing but control frames */
			if (o->st == ST_HANDSHAKE)
				attempt_failed(o, EPROTO, DT_ERR_CONTROL, "malformed frame instead of ACCEPT");
			else
				lost(o, EPROTO, "the collector sent a data frame or a malformed frame");
			return false;
		}
		size_t size = f.header + f.len;
		if (o->rlen < size)
			return true;
		struct dt_control c;
		if (dt__control_parse(o->rbuf + f.header, f.len, &c) != DT_OK) {
			if (o->st == ST_HANDSHAKE)
				attempt_failed(o, EPROTO, DT_ERR_CONTROL, "malformed control frame");
			else
				lost(o, EPROTO, "malformed control frame");
			return false;
		}
		memmove(o->rbuf, o->rbuf + size, o->rlen - size);
		o->rlen -= size;
		handle_control(o, &c);
	}
	return o->t != NULL;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct socket_output *o = arg;
	if (o->st == ST_SECURING) {
		secure(o);
		return;
	}
	/* bytes a transport holds make no event: read them too */
	while (read_some(o) && dt__tr_pending(o->t) > 0)
		;
}

/* The transport's own handshake, if it has one, then READY. */
static void secure(struct socket_output *o)
{
	int r = dt__tr_handshake(o->t);
	if (r > 0) {
		on_socket_ready(o);
		return;
	}
	if (r < 0) {
		char why[sizeof(o->t->error)]; /* attempt_failed() frees t before it says why */
		int err = errno;
		snprintf(why, sizeof(why), "%s", dt__tr_error(o->t, err));
		attempt_failed(o, err, DT_ERR_IO, why);
		return;
	}
	if (o->t->want & DT_TR_WRITE)
		event_add(o->ev_w, NULL);
}

/* The connection is up: the transport's handshake comes before Frame Streams'. */
static void on_connected(struct socket_output *o)
{
	if (!dt__tr_has_handshake(o->t)) {
		on_socket_ready(o);
		return;
	}
	o->st = ST_SECURING;
	event_add(o->ev_r, NULL);
	secure(o);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct socket_output *o = arg;
	(void)what;
	if (o->st == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0)
			attempt_failed(o, err, DT_ERR_IO, NULL);
		else
			on_connected(o);
		return;
	}
	if (o->st == ST_SECURING) {
		secure(o);
		return;
	}
	pump(o);
}

/* Fills sa with the collector's address: the unix path, or the next address the name resolves to
 * (so that a name with an IPv6 and an IPv4 address tries both in turn). Returns 0 or an errno. */
static int resolve(struct socket_output *o, struct sockaddr_storage *sa, socklen_t *len, const char **why)
{
	memset(sa, 0, sizeof(*sa));
	if (!o->target.tcp) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, o->target.path, strlen(o->target.path) + 1);
		*len = sizeof(*un);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(o->target.host, o->target.port, &hints, &res);
	if (rc != 0) {
		*why = gai_strerror(rc);
		return rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	struct addrinfo *ai = res;
	for (size_t i = 0; i < o->addr_index % n; i++)
		ai = ai->ai_next;
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void try_connect(struct socket_output *o)
{
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	const char *why = NULL;
	int err = resolve(o, &sa, &salen, &why);
	if (err != 0) {
		attempt_failed(o, err, DT_ERR_IO, why);
		return;
	}
	int fd = socket(sa.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		attempt_failed(o, errno, DT_ERR_IO, NULL);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	if (o->target.tcp) {
		int one = 1; /* we batch ourselves; Nagle would only add delay */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	o->t = dt__tr_wrap(o->target.kind, fd, false, (struct sockaddr *)&sa, salen);
	if (o->t == NULL) {
		attempt_failed(o, ENOMEM, DT_ERR_NOMEM, NULL);
		return;
	}
	o->ev_r = event_new(o->evbase, fd, EV_READ | EV_PERSIST, on_read, o);
	o->ev_w = event_new(o->evbase, fd, EV_WRITE, on_write, o);
	if (o->ev_r == NULL || o->ev_w == NULL) {
		attempt_failed(o, ENOMEM, DT_ERR_NOMEM, NULL);
		return;
	}
	/* the collector's FIN must be seen before more data is written into a dead connection */
	event_priority_set(o->ev_r, 0);
	struct timeval tv = tv_ms(o->opt.timeout_ms);
	event_add(o->ev_deadline, &tv);
	if (connect(fd, (struct sockaddr *)&sa, salen) == 0) {
		on_connected(o);
		return;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		o->st = ST_CONNECTING;
		event_add(o->ev_w, NULL);
		return;
	}
	attempt_failed(o, errno, DT_ERR_IO, NULL);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct socket_output *o = arg;
	if (o->st == ST_IDLE)
		try_connect(o);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct socket_output *o = arg;
	if (o->st == ST_CONNECTING || o->st == ST_SECURING || o->st == ST_HANDSHAKE) {
		attempt_failed(o, ETIMEDOUT, DT_ERR_IO,
			       o->st == ST_HANDSHAKE ? "no ACCEPT from the collector in time" : NULL);
	}
}

static void schedule_retry(struct socket_output *o)
{
	unsigned delay = o->backoff_ms;
	o->backoff_ms = delay == 0 ? RECONNECT_MIN_MS : delay * 2;
	if (o->backoff_ms > o->opt.reconnect_max_ms)
		o->backoff_ms = o->opt.reconnect_max_ms;
	if (o->close_started) {
		uint64_t now = dt__now_ms();
		uint64_t left = o->close_deadline > now ? o->close_deadline - now : 0;
		if (delay > left)
			delay = (unsigned)left;
	}
	struct timeval tv = tv_ms(delay);
	event_add(o->ev_retry, &tv);
}

/* ==== The thread: writing ==== */

/* An upper bound of m's encoded size, cheaper than dt_encoded_size() (which walks the message with
 * protobuf-c once more); 0 when m has a policy (not worth bounding). */
static size_t encoded_bound(const struct dt_message *m)
{
	if (m->has_policy)
		return 0;
	/* every number field with its tag (at most 11 bytes each), the nested message's header, and per
	 * byte string a tag and a length (at most 6 bytes) */
	size_t n = 200;
#define X(f, pb) n += m->f.len;
	DT_DNSTAP_BYTES(X)
	DT_MESSAGE_BYTES(X)
#undef X
	return n;
}

/* Makes room for n more bytes in out (an empty buffer grows to hold one big frame). */
static bool out_room(struct socket_output *o, size_t n)
{
	if (o->out_cap - o->out_len >= n)
		return true;
	if (o->out_len > 0)
		return false; /* send what is there first */
	uint8_t *p = realloc(o->out, n);
	if (p == NULL)
		return false;
	o->out = p;
	o->out_cap = n;
	return true;
}

/* Turns queued records into frames in out, until out is full or the queue empty, and frees their
 * room in the ring. A record that cannot be framed (out of memory for one huge frame) is dropped. */
static void fill_out(struct socket_output *o)
{
	struct dt_queue_batch b;
	dt__queue_take(o->q, &b);
	size_t bad = 0;
	bool consumed = true;
	const uint8_t *p;
	size_t body;
	bool message;
	while (dt__queue_next(o->q, &b, &p, &body, &message)) {
		if (message) {
			struct dt_message m;
			record_read(p, &m, o);
			size_t bound = encoded_bound(&m);
			size_t need = 4 + (bound != 0 ? bound : dt_encoded_size(&m));
			if (!out_room(o, need)) {
				if (o->out_len > 0) {
					consumed = false;
					break;
				}
				bad++;
			} else {
				size_t n = 0;
				dt_encode(&m, o->out + o->out_len + 4, &n);
				dt__put_be32(o->out + o->out_len, (uint32_t)n);
				o->out_len += 4 + n;
			}
		} else {
			if (!out_room(o, 4 + body)) {
				if (o->out_len > 0) {
					consumed = false;
					break;
				}
				bad++;
			} else {
				dt__put_be32(o->out + o->out_len, (uint32_t)body);
				memcpy(o->out + o->out_len + 4, p, body);
				o->out_len += 4 + body;
			}
		}
	}
	dt__queue_release(o->q, &b, consumed, bad);
}

/* n more bytes of out were written: counts the frames now wholly sent. */
static void wrote(struct socket_output *o, size_t n)
{
	o->out_off += n;
	size_t msgs = 0;
	while (o->out_done + 4 <= o->out_off) {
		size_t size = 4 + (size_t)dt__be32(o->out + o->out_done);
		if (o->out_done + size > o->out_off)
			break;
		o->out_done += size;
		msgs++;
	}
	if (o->out_off == o->out_len)
		o->out_len = o->out_off = o->out_done = 0;
	dt__queue_done(o->q, msgs);
}

/* Writes pending control bytes, then queued frames, until the queue is empty or the socket is full.
 * Bounded per call so that reads (the collector going away) get their turn. */
static void pump(struct socket_output *o)
{
	for (int round = 0; round < 8; round++) {
		if (o->t == NULL)
			return;
		if (o->ctl_off < o->ctl_len) {
			ssize_t n = dt__tr_write(o->t, o->ctl + o->ctl_off, o->ctl_len - o->ctl_off);
			if (n < 0) {
				if (errno == EAGAIN)
					break;
				int err = errno;
				char why[sizeof(o->t->error)]; /* copied: t is freed before it is said */
				snprintf(why, sizeof(why), "%s", dt__tr_error(o->t, err));
				if (o->st == ST_HANDSHAKE)
					attempt_failed(o, err, DT_ERR_IO, why);
				else
					lost(o, err, why);
				return;
			}
			o->ctl_off += (size_t)n;
			continue;
		}
		if (o->st != ST_CONNECTED)
			return;
		if (o->out_off == o->out_len)
			fill_out(o);
		if (o->out_off == o->out_len) {
			if (o->close_started && queued(o) == 0) {
				queue_control(o, DT_CTRL_STOP);
				o->st = ST_STOPPING;
				continue;
			}
			return;
		}
		ssize_t n = dt__tr_write(o->t, o->out + o->out_off, o->out_len - o->out_off);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			int err = errno;
			char why[sizeof(o->t->error)];
			snprintf(why, sizeof(why), "%s", dt__tr_error(o->t, err));
			lost(o, err, why);
			return;
		}
		wrote(o, (size_t)n);
	}
	/* (a transport that waits for reading is woken by the read event, which is always on) */
	if (o->t != NULL)
		event_add(o->ev_w, NULL);
}

/* ==== The thread: lifecycle ==== */

static void log_drops(struct socket_output *o, bool final)
{
	struct dt_queue_stats qs;
	dt__queue_stats(o->q, &qs);
	uint64_t d = qs.dropped_total;
	if (d == o->logged_dropped)
		return;
	uint64_t now = dt__now_ms();
	if (!final && o->last_drop_log != 0 && now - o->last_drop_log < DROP_LOG_INTERVAL_MS)
		return;
	say(o, LOG_WARNING, "%llu messages dropped", (unsigned long long)(d - o->logged_dropped));
	o->logged_dropped = d;
	o->last_drop_log = now;
}

/* The end: whatever is still queued is dropped, and the loop stops. */
static void shut_down(struct socket_output *o, dt_res res, int err)
{
	close_socket(o);
	drop_all(o);
	o->st = ST_DEAD;
	o->close_res = res;
	o->close_errno = err;
	log_drops(o, true);
	struct dt_queue_stats qs;
	dt__queue_stats(o->q, &qs);
	unsigned long long sent = qs.delivered, dropped = qs.dropped_total;
	say(o, LOG_INFO, "closed: %llu messages sent, %llu dropped", sent, dropped);
	event_base_loopbreak(o->evbase);
}

static void begin_close(struct socket_output *o)
{
	o->close_started = true;
	o->close_deadline = dt__now_ms() + o->opt.timeout_ms;
	switch (o->st) {
	case ST_IDLE:
		if (queued(o) == 0) {
			shut_down(o, DT_OK, 0); /* nothing to deliver, no connection needed */
			return;
		}
		event_del(o->ev_retry);
		try_connect(o);
		break;
	case ST_CONNECTED:
		pump(o);
		break;
	case ST_DEAD:
		shut_down(o, o->failed ? DT_ERR_IO : DT_OK, o->fail_errno);
		break;
	default:
		break; /* the handshake or the STOP under way finishes first */
	}
}

/* Blocking mode: a collector away for longer than the timeout fails the writers. */
static void give_up(struct socket_output *o)
{
	event_del(o->ev_retry);
	close_socket(o);
	o->st = ST_DEAD;
	o->failed = true;
	o->fail_errno = o->last_errno != 0 ? o->last_errno : ETIMEDOUT;
	dt__queue_close(o->q, o->fail_errno);
	drop_all(o);
	say(o, LOG_ERR, "giving up on %s: %s", o->spec, strerror(o->fail_errno));
}

static void check_closing(struct socket_output *o)
{
	if (o->close_started)
		return;
	pthread_mutex_lock(&o->mu);
	bool closing = o->closing;
	pthread_mutex_unlock(&o->mu);
	if (closing)
		begin_close(o);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct socket_output *o = arg;
	char drain[64];
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	check_closing(o);
	if (o->st == ST_CONNECTED)
		pump(o);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct socket_output *o = arg;
	uint64_t now = dt__now_ms();
	check_closing(o);
	if (o->st == ST_DEAD)
		return;
	if (o->close_started && now >= o->close_deadline) {
		shut_down(o, DT_ERR_IO, o->st == ST_IDLE && o->last_errno != 0 ? o->last_errno : ETIMEDOUT);
		return;
	}
	if (o->opt.blocking && o->down_since != 0 && o->st != ST_CONNECTED && o->st != ST_STOPPING &&
	    now - o->down_since >= o->opt.timeout_ms) {
		give_up(o);
		return;
	}
	if (o->st == ST_CONNECTED && queued(o) > 0)
		pump(o);
	log_drops(o, false);
}

static void *io_main(void *arg)
{
	struct socket_output *o = arg;
	o->down_since = dt__now_ms();
	try_connect(o);
	if (o->st != ST_DEAD)
		event_base_dispatch(o->evbase);
	return NULL;
}

/* ==== Output operations ==== */

static dt_res socket_write(struct dt_output *base, struct dt_item *it)
{
	struct socket_output *o = (struct socket_output *)base;
	const uint8_t *payload = it->payload;
	size_t len = it->len;
	if (payload == NULL || len == 0 || len > UINT32_MAX)
		return DT_ERR_INVALID;
	dt_res res = enqueue(o, payload, len, NULL, o->opt.blocking);
	if (o->opt.blocking)
		return res;
	/* a drop is counted here and reported as such; only a broken output is an error */
	return res == DT_ERR_TOO_BIG ? DT_ERR_FULL : res;
}

static dt_res socket_flush(struct dt_output *base)
{
	wake_thread((struct socket_output *)base);
	return DT_OK;
}

static dt_res socket_reopen(struct dt_output *base)
{
	(void)base;
	return DT_OK;
}

static void free_output(struct socket_output *o)
{
	if (o->ev_r != NULL)
		event_free(o->ev_r);
	if (o->ev_w != NULL)
		event_free(o->ev_w);
	dt__tr_close(o->t);
	if (o->ev_wake != NULL)
		event_free(o->ev_wake);
	if (o->ev_tick != NULL)
		event_free(o->ev_tick);
	if (o->ev_retry != NULL)
		event_free(o->ev_retry);
	if (o->ev_deadline != NULL)
		event_free(o->ev_deadline);
	if (o->evbase != NULL)
		event_base_free(o->evbase);
	if (o->wake_r >= 0)
		close(o->wake_r);
	if (o->wake_w >= 0)
		close(o->wake_w);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	dt__queue_free(o->q);
	free(o->out);
	free(o->spec);
	dt__tls_kind_free(o->tls);
	free(o);
}

static dt_res socket_close(struct dt_output *base)
{
	struct socket_output *o = (struct socket_output *)base;
	pthread_mutex_lock(&o->mu);
	o->closing = true;
	pthread_mutex_unlock(&o->mu);
	wake_thread(o);
	if (o->thread_started)
		pthread_join(o->thread, NULL);
	dt_res res = o->close_res;
	int err = o->close_errno;
	free_output(o);
	if (res != DT_OK)
		errno = err;
	return res;
}

static void socket_stats(const struct dt_output *base, struct dt_output_stats *st);

static const char *socket_name(const struct dt_output *base)
{
	return ((const struct socket_output *)base)->spec;
}

static const struct dt_output_ops socket_ops = {
	.write = socket_write,
	.stats = socket_stats,
	.get_name = socket_name,
	.flush = socket_flush,
	.reopen = socket_reopen,
	.close = socket_close,
};

/* ==== Public calls ==== */

void dt_sender_options_init(struct dt_sender_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->queue_size = DEFAULT_QUEUE_SIZE;
	opt->timeout_ms = DEFAULT_TIMEOUT_MS;
	opt->reconnect_max_ms = DEFAULT_RECONNECT_MAX_MS;
}

static bool make_events(struct socket_output *o)
{
	int p[2];
	if (pipe(p) != 0)
		return false;
	o->wake_r = p[0];
	o->wake_w = p[1];
	evutil_make_socket_nonblocking(o->wake_r);
	evutil_make_socket_nonblocking(o->wake_w);
	evutil_make_socket_closeonexec(o->wake_r);
	evutil_make_socket_closeonexec(o->wake_w);
	errno = ENOMEM;
	o->evbase = event_base_new();
	if (o->evbase == NULL || event_base_priority_init(o->evbase, 2) != 0)
		return false;
	o->ev_wake = event_new(o->evbase, o->wake_r, EV_READ | EV_PERSIST, on_wake, o);
	o->ev_tick = event_new(o->evbase, -1, EV_PERSIST, on_tick, o);
	o->ev_retry = evtimer_new(o->evbase, on_retry, o);
	o->ev_deadline = evtimer_new(o->evbase, on_deadline, o);
	if (o->ev_wake == NULL || o->ev_tick == NULL || o->ev_retry == NULL || o->ev_deadline == NULL)
		return false;
	struct timeval tick = tv_ms(TICK_MS);
	return event_add(o->ev_wake, NULL) == 0 && event_add(o->ev_tick, &tick) == 0;
}

struct dt_output *dt_output_socket_open(const char *spec, const struct dt_sender_options *opt, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct dt_sender_options defaults;
	if (opt == NULL) {
		dt_sender_options_init(&defaults);
		opt = &defaults;
	}
	struct target target;
	if (parse_spec(spec, &target) != DT_OK || opt->queue_size == 0 || opt->queue_size > UINT32_MAX ||
	    opt->timeout_ms == 0 || opt->reconnect_max_ms == 0) {
		*res = DT_ERR_INVALID;
		return NULL;
	}

	struct socket_output *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->base.ops = &socket_ops;
	o->target = target;
	o->opt = *opt;
	if (target.tls || (opt->tls.enable && target.tcp)) {
		/* the files are read now; the strings in opt->tls are not kept */
		char err[300];
		o->tls = dt__tls_client_kind(&opt->tls, target.host, err, sizeof(err));
		if (o->tls == NULL) {
			if (opt->log != NULL) {
				char line[400];
				snprintf(line, sizeof(line), "TLS: %s", err);
				opt->log(opt->log_arg, LOG_ERR, line);
			}
			free(o);
			*res = DT_ERR_INVALID;
			return NULL;
		}
		o->target.kind = o->tls;
	}
	memset(&o->opt.tls, 0, sizeof(o->opt.tls));
	o->wake_r = o->wake_w = -1;
	o->st = ST_IDLE;
	size_t wake_batch = opt->queue_size / 4 < WAKE_BATCH ? (opt->queue_size + 3) / 4 : WAKE_BATCH;
	size_t cap = opt->queue_bytes;
	if (cap == 0) {
		cap = opt->queue_size > SIZE_MAX / BYTES_PER_MESSAGE ? SIZE_MAX : opt->queue_size * BYTES_PER_MESSAGE;
		if (cap < MIN_QUEUE_BYTES)
			cap = MIN_QUEUE_BYTES;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->spec = strdup(spec);
	/* (the queue starts hushed: no wake-ups before the first handshake) */
	o->q = dt__queue_new(opt->queue_size, cap, wake_batch, notify_thread, o);
	o->out_cap = OUT_BATCH;
	o->out = malloc(o->out_cap);
	if (o->spec == NULL || o->q == NULL || o->out == NULL) {
		free_output(o);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	if (!make_events(o)) {
		int e = errno;
		free_output(o);
		errno = e;
		*res = e == ENOMEM ? DT_ERR_NOMEM : DT_ERR_IO;
		return NULL;
	}

	/* the thread takes no signals: they belong to the program's own threads */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&o->thread, NULL, io_main, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free_output(o);
		errno = rc;
		*res = DT_ERR_IO;
		return NULL;
	}
	o->thread_started = true;

	if (opt->blocking) {
		pthread_mutex_lock(&o->mu);
		while (!o->open_done)
			pthread_cond_wait(&o->cv, &o->mu);
		dt_res r = o->open_res;
		int e = o->open_errno;
		pthread_mutex_unlock(&o->mu);
		if (r != DT_OK) {
			pthread_join(o->thread, NULL);
			free_output(o);
			errno = e;
			*res = r;
			return NULL;
		}
	}
	*res = DT_OK;
	return &o->base;
}

bool dt__is_socket_output(const struct dt_output *o)
{
	return o != NULL && o->ops == &socket_ops;
}

static void socket_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	struct socket_output *o = (struct socket_output *)(uintptr_t)base;
	struct dt_queue_stats qs;
	dt__queue_stats(o->q, &qs);
	st->exact = true;
	st->written = qs.delivered;
	st->dropped = qs.dropped_total;
	st->queued = qs.count;
	pthread_mutex_lock(&o->mu);
	st->connects = o->connects;
	st->connected = o->connected;
	pthread_mutex_unlock(&o->mu);
}

void dt__socket_set_envelope(struct dt_output *base, const char *identity, const char *version)
{
	struct socket_output *o = (struct socket_output *)base;
	if (identity != NULL)
		o->identity = (struct dt_bytes){(const uint8_t *)identity, strlen(identity)};
	if (version != NULL)
		o->version = (struct dt_bytes){(const uint8_t *)version, strlen(version)};
}

dt_res dt__socket_send_message(struct dt_output *base, const struct dt_message *m)
{
	struct socket_output *o = (struct socket_output *)base;
	size_t body = record_size(m);
	if (body == 0) {
		dt__queue_drop_one(o->q, DT_QUEUE_TOO_BIG);
		return DT_ERR_TOO_BIG;
	}
	return enqueue(o, NULL, body, m, false);
}
