/* The listening side of Frame Streams sockets: unix and TCP listeners on the caller's libevent loop, one
 * read event and one evbuffer per sender, the bidirectional handshake (and bare-START senders), and frame
 * scanning that hands each payload on where it lies in the buffer: no copy unless a frame straddles two
 * buffer chunks, no allocation and no system call per frame.
 *
 * Why not a bufferevent: libevent 2.1's bufferevent reads at most 4 KiB per readv(), each preceded by an
 * ioctl(FIONREAD), which is three system calls per 4 KiB (150,000 for a million dnstap frames). Reading
 * 64 KiB straight into the evbuffer costs 30 times fewer. The only bytes we ever send are ACCEPT and
 * FINISH (54 bytes per connection, into an empty socket buffer), so plain send() serves for writing. */
#include "log.h"
#include "addr.h"
#include "frame.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define NAME_MAX_LEN 256
#define ACCEPT_RETRY_SECONDS 1
#define LIMIT_LOG_SECONDS 60 /* the connection limit is logged at most this often */
#define READ_SIZE (64 * 1024) /* per read(): below malloc's mmap threshold, so chunks come from the heap */

/* ==== State ==== */

enum conn_state {
	ST_FIRST,      /* expecting READY (bidirectional) or START (unidirectional) */
	ST_WAIT_START, /* READY answered with ACCEPT; expecting START */
	ST_DATA,       /* data frames until STOP, which ends the connection */
};

struct sock {
	struct dt_listener *l;
	struct evconnlistener *evl;
	char *name;      /* the path, or the bound address as "127.0.0.1:6000" / "[::1]:6000" */
	bool unix_path;  /* name is a socket file to remove at shutdown (if still ours) */
	dev_t dev;
	ino_t ino;
	struct sock *next;
};

struct conn {
	struct dt_listener *l;
	evutil_socket_t fd;
	struct event *rd;     /* readable */
	struct evbuffer *in;  /* bytes read and not yet handled: at most one partial frame between reads */
	struct event *timer;  /* handshake deadline, NULL once START has arrived */
	enum conn_state state;
	bool bidirectional;
	uint64_t seen;   /* data frames met, skipped ones included: the frame number */
	uint64_t frames; /* data frames delivered */
	uint64_t bytes;  /* their payload bytes */
	uint64_t skip;   /* bytes of an oversize frame still to discard */
	uint64_t skip_size; /* that frame's whole size, header included */
	struct conn *prev, *next;
	char name[NAME_MAX_LEN];
};

struct dt_listener {
	struct event_base *base;
	struct dt_sink sink;
	dt_log_fn log;
	void *log_arg;
	int log_level;

	size_t max_frame;
	unsigned timeout_ms;
	const struct timeval *timeout; /* libevent common timeout for timeout_ms; NULL: none */
	unsigned max_conns;
	unsigned unix_mode;          /* permissions of new unix socket files (0: the umask's) */
	long unix_uid, unix_gid;     /* their owner and group (-1: unchanged) */

	struct sock *socks;
	struct conn *conns;
	unsigned n_conns;
	bool at_limit;       /* stopped accepting: max_conns reached */
	time_t limit_said;   /* when the limit was last logged (0: never) */
	uint64_t limit_hits; /* times it was reached since */
	bool backing_off;    /* stopped accepting: accept() failed (out of descriptors) */
	bool shut_down;
	struct event *retry; /* ends the backing off */

	uint8_t *scratch; /* a frame that straddles buffer chunks is copied here */
	size_t scratch_cap;

	uint8_t accept_frame[DT_CONTROL_FRAME_MAX], finish_frame[DT_CONTROL_FRAME_MAX];
	size_t accept_len, finish_len;

	struct dt_listener_stats stats;
};

/* ==== Logging ==== */

static void say(struct dt_listener *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct dt_listener *l, int level, const char *fmt, ...)
{
	if (level > l->log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(l->log, l->log_arg, level, fmt, ap);
	va_end(ap);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* ==== Accepting: pause at the connection limit or when out of descriptors ==== */

static void set_accepting(struct dt_listener *l)
{
	bool on = !l->shut_down && !l->at_limit && !l->backing_off;
	for (struct sock *s = l->socks; s != NULL; s = s->next)
		if (s->evl != NULL)
			(void)(on ? evconnlistener_enable(s->evl) : evconnlistener_disable(s->evl));
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dt_listener *l = arg;
	l->backing_off = false;
	set_accepting(l);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	(void)evl;
	struct sock *s = arg;
	struct dt_listener *l = s->l;
	int e = EVUTIL_SOCKET_ERROR();
	if (l->backing_off)
		return;
	/* Out of descriptors (or memory): retrying at once would spin, so pause accepting for a while. The
	 * senders wait in the backlog meanwhile. */
	say(l, LOG_ERR, "%s: accept failed: %s; trying again in %d s (%u connection%s open)", s->name,
	    evutil_socket_error_to_string(e), ACCEPT_RETRY_SECONDS, l->n_conns, plural(l->n_conns));
	l->backing_off = true;
	set_accepting(l);
	struct timeval tv = {ACCEPT_RETRY_SECONDS, 0};
	evtimer_add(l->retry, &tv);
}

/* ==== Connections ==== */

static void conn_free(struct conn *c)
{
	struct dt_listener *l = c->l;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->rd != NULL)
		event_free(c->rd);
	if (c->in != NULL)
		evbuffer_free(c->in);
	evutil_closesocket(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	l->n_conns--;
	l->stats.open = l->n_conns;
	if (l->at_limit && l->n_conns < l->max_conns) {
		l->at_limit = false;
		if (!l->shut_down)
			set_accepting(l);
	}
}

/* Closes a connection as expected (STOP, or the sender leaving between frames). */
static void conn_end(struct conn *c, const char *why)
{
	say(c->l, LOG_INFO, "%s: closed (%s): %llu frame%s, %llu bytes", c->name, why,
	    (unsigned long long)c->frames, plural(c->frames), (unsigned long long)c->bytes);
	conn_free(c);
}

/* Closes a misbehaving connection with one line that says why. Returns false, for the callers' returns. */
static bool conn_fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool conn_fail(struct conn *c, const char *fmt, ...)
{
	struct dt_listener *l = c->l;
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say(l, LOG_WARNING, "%s: closed: %s; %llu frame%s, %llu bytes", c->name, why,
	    (unsigned long long)c->frames, plural(c->frames), (unsigned long long)c->bytes);
	l->stats.rejected++;
	conn_free(c);
	return false;
}

static void handshake_done(struct conn *c)
{
	c->state = ST_DATA;
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
}

/* Sends a control frame in one go: the socket buffer of a connection that has never been sent anything
 * else holds it whole, so a short write means the peer is gone. errno says why on failure. */
static bool send_control(struct conn *c, const uint8_t *frame, size_t len)
{
	ssize_t n;
	do
		n = send(c->fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n >= 0 && (size_t)n != len)
		errno = EAGAIN;
	return n >= 0 && (size_t)n == len;
}

static const char *control_name(uint32_t type)
{
	switch (type) {
	case DT_CTRL_ACCEPT:
		return "ACCEPT";
	case DT_CTRL_START:
		return "START";
	case DT_CTRL_STOP:
		return "STOP";
	case DT_CTRL_READY:
		return "READY";
	case DT_CTRL_FINISH:
		return "FINISH";
	default:
		return "unknown";
	}
}

/* Acts on one control frame. Returns false if the connection was closed. */
static bool conn_control(struct conn *c, const uint8_t *body, uint32_t len)
{
	struct dt_listener *l = c->l;
	struct dt_control ctl;
	dt_res res = dt__control_parse(body, len, &ctl);
	if (res == DT_ERR_NOMEM)
		return conn_fail(c, "out of memory");
	if (res != DT_OK)
		return conn_fail(c, "malformed control frame");
	say(l, LOG_DEBUG, "%s: %s received (%u content type%s)", c->name, control_name(ctl.type),
	    ctl.n_content_types, ctl.n_content_types == 1 ? "" : "s");

	switch (c->state) {
	case ST_FIRST:
		if (ctl.type == DT_CTRL_READY) {
			/* READY without a content type lets us choose; one that lists others only cannot be served */
			if (ctl.n_content_types > 0 && !ctl.dnstap)
				return conn_fail(c, "wrong content type: READY does not offer " DT_CONTENT_TYPE);
			c->bidirectional = true;
			c->state = ST_WAIT_START;
			/* always name the content type: Unbound drops an ACCEPT without one */
			if (!send_control(c, l->accept_frame, l->accept_len))
				return conn_fail(c, "cannot send ACCEPT: %s", evutil_socket_error_to_string(errno));
			say(l, LOG_DEBUG, "%s: ACCEPT sent", c->name);
			return true;
		}
		if (ctl.type == DT_CTRL_START)
			break;
		return conn_fail(c, "handshake error: expected READY or START, got %s (control type %u)",
				 control_name(ctl.type), (unsigned)ctl.type);
	case ST_WAIT_START:
		if (ctl.type == DT_CTRL_START)
			break;
		return conn_fail(c, "handshake error: expected START after ACCEPT, got %s (control type %u)",
				 control_name(ctl.type), (unsigned)ctl.type);
	case ST_DATA:
		if (ctl.type != DT_CTRL_STOP)
			return true; /* nothing else means anything here; the spec says to ignore it */
		if (!c->bidirectional) {
			conn_end(c, "STOP received");
			return false;
		}
		/* libfstrm senders wait for FINISH before they go on: send it at once. Unbound does not wait
		 * and may be gone already, which is fine too. */
		if (send_control(c, l->finish_frame, l->finish_len)) {
			say(l, LOG_DEBUG, "%s: FINISH sent", c->name);
			conn_end(c, "STOP received, FINISH sent");
		} else {
			conn_end(c, "STOP received");
		}
		return false;
	}

	/* START */
	if (ctl.n_content_types > 0 && !ctl.dnstap)
		return conn_fail(c, "wrong content type: START is not for " DT_CONTENT_TYPE);
	handshake_done(c);
	say(l, LOG_DEBUG, "%s: receiving (%s)", c->name, c->bidirectional ? "bidirectional" : "unidirectional");
	return true;
}

/* Acts on one complete frame whose body is at body. Returns false if the connection was closed. */
static bool conn_frame(struct conn *c, const struct dt_frame *f, const uint8_t *body)
{
	if (f->kind == DT_FRAME_CONTROL)
		return conn_control(c, body, f->len);
	c->seen++;
	c->frames++;
	c->bytes += f->len;
	c->l->stats.frames++;
	c->l->stats.bytes += f->len;
	struct dt_item it;
	dt_item_init(&it, body, f->len, NULL, c->name, c->seen);
	c->l->sink.push(c->l->sink.arg, &it);
	return true;
}

/* Data before the handshake: not a Frame Streams sender (an HTTP request, a stray client). */
static bool garbage(struct conn *c, const uint8_t *head, size_t n)
{
	char hex[3 * 8 + 1] = "";
	for (size_t i = 0, at = 0; i < n && i < 8; i++)
		at += (size_t)snprintf(hex + at, sizeof(hex) - at, "%s%02x", i ? " " : "", head[i]);
	if (c->state == ST_WAIT_START)
		return conn_fail(c, "handshake error: expected START after ACCEPT, got bytes %s", hex);
	return conn_fail(c, "not a Frame Streams sender (got %s instead of READY or START)", hex);
}

/* Memory for one frame that is not contiguous in libevent's buffer; grows to the largest such frame. */
static uint8_t *scratch(struct dt_listener *l, size_t n)
{
	if (n > l->scratch_cap) {
		uint8_t *p = realloc(l->scratch, n);
		if (p == NULL)
			return NULL;
		l->scratch = p;
		l->scratch_cap = n;
	}
	return l->scratch;
}

/* Handles every complete frame in the connection's input buffer. Returns false if the connection was
 * closed (c is then freed). */
static bool conn_input(struct conn *c)
{
	struct dt_listener *l = c->l;
	struct evbuffer *in = c->in;
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (c->skip > 0) {
			size_t n = avail < c->skip ? avail : (size_t)c->skip;
			evbuffer_drain(in, n);
			c->skip -= n;
			avail -= n;
			if (c->skip > 0)
				return true;
		}
		if (avail == 0)
			return true;

		/* The common case: whole frames inside the first chunk, handled where they lie. Anything else
		 * (a frame across chunks, an oversize or malformed one) goes the careful way below. */
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, 1, NULL, &v, 1) >= 1 && v.iov_len > 0) {
			const uint8_t *p = v.iov_base;
			size_t used = 0;
			for (;;) {
				struct dt_frame f;
				dt__frame_peek(p + used, v.iov_len - used, &f);
				if (f.kind == DT_FRAME_NEED_MORE || f.kind == DT_FRAME_BAD ||
				    (f.kind == DT_FRAME_DATA && (f.len > l->max_frame || c->state != ST_DATA)) ||
				    f.header + f.len > v.iov_len - used)
					break;
				if (!conn_frame(c, &f, p + used + f.header))
					return false;
				used += f.header + f.len;
			}
			if (used > 0) {
				evbuffer_drain(in, used);
				continue;
			}
		}

		uint8_t head[8];
		ev_ssize_t h = evbuffer_copyout(in, head, avail < sizeof(head) ? avail : sizeof(head));
		struct dt_frame f;
		dt__frame_peek(head, h > 0 ? (size_t)h : 0, &f);
		if (f.kind == DT_FRAME_NEED_MORE)
			return true;
		if (c->state != ST_DATA && f.kind != DT_FRAME_CONTROL)
			return garbage(c, head, (size_t)h);
		if (f.kind == DT_FRAME_BAD)
			return conn_fail(c, "malformed control frame (length %u)", (unsigned)f.len);
		if (f.kind == DT_FRAME_DATA && f.len > l->max_frame) {
			c->seen++;
			l->stats.skipped++;
			say(l, LOG_WARNING, "%s: frame %llu: data frame of %lu bytes is over the limit of %zu bytes; skipped",
			    c->name, (unsigned long long)c->seen, (unsigned long)f.len, l->max_frame);
			c->skip = c->skip_size = (uint64_t)f.header + f.len;
			continue;
		}
		size_t size = f.header + f.len;
		if (avail < size)
			return true; /* conn_read() lets the buffer grow to the largest frame accepted */
		uint8_t *buf = scratch(l, size);
		if (buf == NULL)
			return conn_fail(c, "out of memory");
		evbuffer_remove(in, buf, size);
		if (!conn_frame(c, &f, buf + f.header))
			return false;
	}
}

/* The sender has closed its side. */
static void conn_eof(struct conn *c)
{
	size_t pending = evbuffer_get_length(c->in);
	if (pending > 0 || c->skip > 0)
		conn_fail(c, "connection lost in the middle of a frame (%zu bytes of it received)",
			  pending > 0 ? pending : (size_t)(c->skip_size - c->skip));
	else if (c->state != ST_DATA)
		conn_end(c, "by the sender before the handshake completed");
	else
		conn_end(c, "by the sender without STOP");
}

/* Reads what the socket has, up to want bytes, and handles the complete frames. Returns the number of
 * bytes read, 0 when nothing was there, or -1 when the connection was closed.
 * The bound on memory: between reads the buffer holds at most one partial frame, smaller than the
 * largest frame accepted (an oversize one is drained as it comes), so it never exceeds that plus want. */
static ssize_t conn_read(struct conn *c, size_t want)
{
	struct evbuffer_iovec v[2];
	int nv = evbuffer_reserve_space(c->in, (ev_ssize_t)want, v, 2);
	if (nv < 0) {
		conn_fail(c, "out of memory");
		return -1;
	}
	struct iovec iov[2];
	size_t left = want;
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	ssize_t n;
	do
		n = readv(c->fd, iov, nv);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		conn_fail(c, "read error: %s", evutil_socket_error_to_string(errno));
		return -1;
	}
	if (n == 0) {
		conn_eof(c);
		return -1;
	}
	size_t got = (size_t)n;
	int used = 0;
	for (; used < nv && got > 0; used++) {
		v[used].iov_len = got < iov[used].iov_len ? got : iov[used].iov_len;
		got -= v[used].iov_len;
	}
	evbuffer_commit_space(c->in, v, used);
	return conn_input(c) ? n : -1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_read(arg, READ_SIZE);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	unsigned ms = c->l->timeout_ms;
	if (ms % 1000 == 0)
		conn_fail(c, "handshake timeout: no %s within %u s", c->state == ST_FIRST ? "READY or START" : "START",
			  ms / 1000);
	else
		conn_fail(c, "handshake timeout: no %s within %u ms",
			  c->state == ST_FIRST ? "READY or START" : "START", ms);
}

static void format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "?");
		return;
	}
	snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Takes fd, a connected socket, as a new connection whose log lines begin with name. */
static dt_res conn_new(struct dt_listener *l, evutil_socket_t fd, const char *name)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		say(l, LOG_ERR, "%s: out of memory; closed", name);
		evutil_closesocket(fd);
		return DT_ERR_NOMEM;
	}
	c->l = l;
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	l->stats.open = l->n_conns;

	c->in = evbuffer_new();
	c->rd = event_new(l->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	if (c->in == NULL || c->rd == NULL || event_add(c->rd, NULL) != 0) {
		conn_fail(c, "out of memory");
		return DT_ERR_NOMEM;
	}
	if (l->timeout != NULL) {
		c->timer = evtimer_new(l->base, on_timeout, c);
		if (c->timer == NULL || evtimer_add(c->timer, l->timeout) != 0) {
			conn_fail(c, "out of memory");
			return DT_ERR_NOMEM;
		}
	}
	say(l, LOG_INFO, "%s: accepted", c->name);
	if (l->n_conns >= l->max_conns && !l->at_limit) {
		/* Senders waiting in the backlog take each freed place at once, so the count touches the
		 * limit again and again: one line the first time, then at most one a minute. */
		struct timeval now;
		event_base_gettimeofday_cached(l->base, &now);
		l->limit_hits++;
		if (l->limit_said == 0 || now.tv_sec - l->limit_said >= LIMIT_LOG_SECONDS) {
			if (l->limit_said == 0)
				say(l, LOG_WARNING,
				    "limit of %u connections reached (--max-connections): new senders wait until one closes",
				    l->max_conns);
			else
				say(l, LOG_WARNING, "limit of %u connections reached %llu more time%s in the last %lld s",
				    l->max_conns, (unsigned long long)l->limit_hits, l->limit_hits == 1 ? "" : "s",
				    (long long)(now.tv_sec - l->limit_said));
			l->limit_said = now.tv_sec;
			l->limit_hits = 0;
		}
		l->at_limit = true;
		set_accepting(l);
	}
	return DT_OK;
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)evl;
	struct sock *s = arg;
	struct dt_listener *l = s->l;
	uint64_t id = ++l->stats.connections;
	char name[NAME_MAX_LEN];
	if (sa->sa_family == AF_UNIX) {
		snprintf(name, sizeof(name), "%s: connection %llu", s->name, (unsigned long long)id);
	} else {
		char peer[80]; /* "[v6 address%scope]:port" */
		format_addr(sa, (socklen_t)salen, peer, sizeof(peer));
		snprintf(name, sizeof(name), "%s: connection %llu from %s", s->name, (unsigned long long)id, peer);
	}
	conn_new(l, fd, name);
}

dt_res dt_listener_add_connected(struct dt_listener *l, int fd, const char *name)
{
	if (l->shut_down) {
		close(fd);
		errno = EINVAL;
		return DT_ERR_IO;
	}
	if (evutil_make_socket_nonblocking(fd) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return DT_ERR_IO;
	}
	l->stats.connections++;
	return conn_new(l, fd, name);
}

/* ==== Listening sockets ==== */

static dt_res add_sock(struct dt_listener *l, int fd, const char *name, bool unix_path)
{
	struct sock *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->name = strdup(name)) == NULL) {
		free(s);
		close(fd);
		return DT_ERR_NOMEM;
	}
	s->l = l;
	s->unix_path = unix_path;
	struct stat st;
	if (unix_path && stat(name, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	/* backlog 0: the socket is listening already */
	s->evl = evconnlistener_new(l->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (s->evl == NULL) {
		int e = errno;
		if (unix_path)
			unlink(name);
		close(fd);
		free(s->name);
		free(s);
		errno = e;
		return DT_ERR_IO;
	}
	evconnlistener_set_error_cb(s->evl, on_accept_error);
	s->next = l->socks;
	l->socks = s;
	if (l->shut_down || l->at_limit || l->backing_off)
		evconnlistener_disable(s->evl);
	say(l, LOG_INFO, "listening on %s", name);
	return DT_OK;
}

/* Nobody accepts on this socket file: a leftover of a process that is gone. */
static bool stale_socket(const struct sockaddr_un *sun, int *err)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return false;
	}
	int r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	*err = r == 0 ? EADDRINUSE : errno;
	close(fd);
	if (*err == ECONNREFUSED || *err == ENOENT)
		return true;
	if (*err == EAGAIN)
		*err = EADDRINUSE; /* alive, with a full backlog */
	return false;
}

dt_res dt_listener_add_unix(struct dt_listener *l, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (path == NULL || path[0] == '\0')
		return DT_ERR_INVALID;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return DT_ERR_IO;
	}
	strcpy(sun.sun_path, path);

	struct stat st;
	if (lstat(path, &st) == 0) {
		int err;
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return DT_ERR_IO;
		}
		if (!stale_socket(&sun, &err)) {
			errno = err;
			return DT_ERR_IO;
		}
		if (unlink(path) != 0 && errno != ENOENT)
			return DT_ERR_IO;
		say(l, LOG_INFO, "%s: replaced a stale socket", path);
	} else if (errno != ENOENT) {
		return DT_ERR_IO;
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DT_ERR_IO;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return DT_ERR_IO;
	}
	/* before listen(): until then a connect() is refused, so no sender gets in before these hold */
	if ((l->unix_mode != 0 && chmod(path, (mode_t)l->unix_mode) != 0) ||
	    ((l->unix_uid >= 0 || l->unix_gid >= 0) && chown(path, (uid_t)l->unix_uid, (gid_t)l->unix_gid) != 0) ||
	    listen(fd, SOMAXCONN) != 0) {
		int e = errno;
		unlink(path);
		close(fd);
		errno = e;
		return DT_ERR_IO;
	}
	return add_sock(l, fd, path, true);
}

static dt_res tcp_listen_one(struct dt_listener *l, const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return DT_ERR_IO;
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* so that "::" and "0.0.0.0" from the same name can both be bound */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return DT_ERR_IO;
	}
	char name[NI_MAXHOST + NI_MAXSERV + 4];
	format_addr((struct sockaddr *)&ss, len, name, sizeof(name));
	return add_sock(l, fd, name, false);
}

dt_res dt_listener_add_tcp(struct dt_listener *l, const char *host_port)
{
	char host[NI_MAXHOST], port[8];
	bool bracketed;
	if (host_port == NULL || !dt__split_host_port(host_port, host, sizeof(host), port, sizeof(port), &bracketed))
		return DT_ERR_INVALID;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res;
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai == EAI_MEMORY)
		return DT_ERR_NOMEM;
	if (gai == EAI_SYSTEM)
		return DT_ERR_IO;
	if (gai != 0)
		return DT_ERR_INVALID;
	dt_res r = DT_OK;
	for (const struct addrinfo *ai = res; ai != NULL && r == DT_OK; ai = ai->ai_next) {
		bool dup = false; /* resolvers repeat addresses (one per socket type, /etc/hosts twice...) */
		for (const struct addrinfo *prev = res; prev != ai && !dup; prev = prev->ai_next)
			dup = prev->ai_addrlen == ai->ai_addrlen && memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0;
		if (!dup)
			r = tcp_listen_one(l, ai);
	}
	freeaddrinfo(res);
	return r;
}

/* Adopts a socket that is already bound and listening (systemd's socket activation). */
dt_res dt_listener_add_listening(struct dt_listener *l, int fd, const char *name)
{
	int listening = 0, type = 0;
	socklen_t len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
		return DT_ERR_IO;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return DT_ERR_IO;
	if (!listening || type != SOCK_STREAM) {
		errno = EINVAL;
		return DT_ERR_IO;
	}
	if (evutil_make_socket_nonblocking(fd) != 0 || evutil_make_socket_closeonexec(fd) != 0)
		return DT_ERR_IO;
	/* the socket file is the service manager's: never removed by us */
	return add_sock(l, fd, name, false);
}

dt_res dt_listener_set_unix_permissions(struct dt_listener *l, unsigned mode, long uid, long gid)
{
	if (mode > 07777)
		return DT_ERR_INVALID;
	l->unix_mode = mode;
	l->unix_uid = uid;
	l->unix_gid = gid;
	return DT_OK;
}

/* ==== The listener ==== */

struct dt_listener *dt_listener_new(struct event_base *base, const struct dt_sink *sink)
{
	if (base == NULL || sink == NULL || sink->push == NULL) {
		errno = EINVAL;
		return NULL;
	}
	struct dt_listener *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->base = base;
	l->sink = *sink;
	l->log_level = LOG_INFO;
	l->max_frame = DT_DEFAULT_MAX_FRAME_SIZE;
	l->max_conns = DT_DEFAULT_MAX_CONNECTIONS;
	l->unix_uid = -1;
	l->unix_gid = -1;
	l->accept_len = dt__control_build(l->accept_frame, DT_CTRL_ACCEPT, true);
	l->finish_len = dt__control_build(l->finish_frame, DT_CTRL_FINISH, false);
	l->retry = evtimer_new(base, on_retry, l);
	if (l->accept_len == 0 || l->finish_len == 0 || l->retry == NULL ||
	    dt_listener_set_handshake_timeout(l, DT_DEFAULT_HANDSHAKE_TIMEOUT_MS) != DT_OK) {
		dt_listener_free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

void dt_listener_set_log(struct dt_listener *l, dt_log_fn log, void *arg, int max_level)
{
	l->log = log;
	l->log_arg = arg;
	l->log_level = max_level;
}

dt_res dt_listener_set_max_frame_size(struct dt_listener *l, size_t bytes)
{
	if (bytes > UINT32_MAX)
		return DT_ERR_INVALID;
	l->max_frame = bytes ? bytes : DT_DEFAULT_MAX_FRAME_SIZE;
	return DT_OK;
}

dt_res dt_listener_set_handshake_timeout(struct dt_listener *l, unsigned ms)
{
	l->timeout_ms = ms;
	l->timeout = NULL;
	if (ms == 0)
		return DT_OK;
	/* one libevent "common timeout": thousands of equal deadlines cost O(1) each */
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	l->timeout = event_base_init_common_timeout(l->base, &tv);
	return l->timeout != NULL ? DT_OK : DT_ERR_NOMEM;
}

dt_res dt_listener_set_max_connections(struct dt_listener *l, unsigned n)
{
	l->max_conns = n ? n : DT_DEFAULT_MAX_CONNECTIONS;
	return DT_OK;
}

/* Reads what the kernel holds for this connection right now, without waiting for more, and handles it. */
static void conn_drain(struct conn *c)
{
	int queued = 0;
	if (ioctl(c->fd, FIONREAD, &queued) == 0) {
		while (queued > 0) {
			ssize_t n = conn_read(c, (size_t)queued < READ_SIZE ? (size_t)queued : READ_SIZE);
			if (n < 0)
				return; /* closed, and logged */
			if (n == 0)
				break;
			queued -= (int)n;
		}
	}
	size_t pending = evbuffer_get_length(c->in);
	if (pending > 0 || c->skip > 0)
		conn_fail(c, "shutting down in the middle of a frame (%zu bytes of it received)",
			  pending > 0 ? pending : (size_t)(c->skip_size - c->skip));
	else
		conn_end(c, "shutting down");
}

void dt_listener_shutdown(struct dt_listener *l)
{
	if (l->shut_down)
		return;
	l->shut_down = true;
	while (l->socks != NULL) {
		struct sock *s = l->socks;
		l->socks = s->next;
		evconnlistener_free(s->evl);
		struct stat st;
		/* remove the socket file unless someone replaced it meanwhile */
		if (s->unix_path && lstat(s->name, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
			unlink(s->name);
		free(s->name);
		free(s);
	}
	while (l->conns != NULL)
		conn_drain(l->conns);
	if (l->retry != NULL)
		event_del(l->retry);
}

void dt_listener_get_stats(const struct dt_listener *l, struct dt_listener_stats *s)
{
	*s = l->stats;
}

void dt_listener_free(struct dt_listener *l)
{
	if (l == NULL)
		return;
	dt_listener_shutdown(l);
	if (l->retry != NULL)
		event_free(l->retry);
	free(l->scratch);
	free(l);
}
