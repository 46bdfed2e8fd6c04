/* The listening side of Frame Streams sockets: unix and TCP listeners on the caller's libevent loop, one
 * transport (transport.h) and one read event per sender, the bidirectional handshake (and bare-START
 * senders), and frame scanning that hands each payload on where it lies in the read buffer: no copy
 * unless a frame straddles two reads, no allocation and no system call per frame.
 *
 * Reading: every connection reads into one large buffer of the listener's (one thread, one read at a
 * time), and the frames in it are handled in place. Only the start of a frame that the read cut off is
 * copied out, into the connection's own buffer, where the rest of it joins it from the next read; so an
 * idle connection holds no read buffer, and each byte is copied at most once. Why not a bufferevent or
 * an evbuffer: libevent 2.1's bufferevent reads at most 4 KiB per readv(), each preceded by an
 * ioctl(FIONREAD); an evbuffer allocates a chunk per read and splits frames at chunk ends. The only bytes
 * we ever send are ACCEPT and FINISH (54 bytes per connection, into an empty socket buffer). */
#include "log.h"
#include "clock.h"
#include "addr.h"
#include "frame.h"
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define NAME_MAX_LEN 256
#define ACCEPT_RETRY_SECONDS 1
#define TRIM_SECONDS 1       /* memory goes back to the system this long after the last connection closed */
#define LIMIT_LOG_SECONDS 60 /* the connection limit is logged at most this often */
/* Per read: a sender that writes in large batches (the Go tool's -U) fills the socket faster than one
 * wake-up per 64 KiB could take it; 1 MiB is as much as a unix socket buffer ever holds. */
#define READ_SIZE (1024 * 1024)
/* Batching reads (dt_listener_set_read_delay()): after a read of less than SMALL_READ bytes from a
 * sender in its data phase, the next read waits a moment instead of following the next write at once.
 * A sender that writes one frame (or 4 KiB) at a time would otherwise cost a wake-up and a read per
 * write, several times the kernel's own cost of receiving. A read of SMALL_READ or more, a sender
 * that is ahead of us, is followed at once. */
#define SMALL_READ (64 * 1024)
/* The read delay on a unix socket, at most: its buffer (the sender's SO_SNDBUF, 208 KiB by default,
 * charged with each write's whole buffer) holds only about 230 writes of one small frame, which a fast
 * sender fills in some 250 us. A TCP connection's queue coalesces small writes and grows to megabytes,
 * so it takes the whole delay, and with it far fewer wake-ups. */
#define UNIX_READ_DELAY_MAX_US 200

/* ==== State ==== */

enum conn_state {
	ST_FIRST,      /* expecting READY (bidirectional) or START (unidirectional) */
	ST_WAIT_START, /* READY answered with ACCEPT; expecting START */
	ST_DATA,       /* data frames until STOP, which ends the connection */
};

struct sock {
	struct dt_listener *l;
	struct evconnlistener *evl;
	const struct dt_transport_kind *kind; /* what each accepted connection is wrapped in */
	char *name;                           /* the path, or the bound address as "127.0.0.1:6000" / "[::1]:6000" */
	bool unix_path;                       /* name is a socket file to remove at shutdown (if still ours) */
	dev_t dev;
	ino_t ino;
	struct sock *next;
};

struct conn {
	struct dt_listener *l;
	struct dt_transport *t;
	const struct dt_transport_kind *kind;
	struct event *rd; /* readable (the transport waits for reading) */
	struct event *wr; /* writable (the transport waits for writing); NULL until it first does */
	uint8_t *part;    /* the start of a frame the last read cut off */
	size_t part_len, part_cap;
	struct event *timer; /* handshake deadline, NULL once START has arrived */
	struct event *later; /* the batched next read (SMALL_READ); NULL until first needed */
	bool deferred;       /* rd is off until later fires */
	bool ready;          /* the transport's own handshake is done */
	enum conn_state state;
	bool bidirectional;
	uint64_t seen;      /* data frames met, skipped ones included: the frame number */
	uint64_t frames;    /* data frames delivered */
	uint64_t bytes;     /* their payload bytes */
	uint64_t skip;      /* bytes of an oversize frame still to discard */
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
	const struct timeval *timeout;    /* libevent common timeout for timeout_ms; NULL: none */
	const struct timeval *later;      /* common timeout for batched reads; NULL: read at once */
	const struct timeval *later_unix; /* the same on unix sockets (UNIX_READ_DELAY_MAX_US at most) */
	unsigned max_conns;
	unsigned unix_mode;      /* permissions of new unix socket files (0: the umask's) */
	long unix_uid, unix_gid; /* their owner and group (-1: unchanged) */

	struct sock *socks;
	struct conn *conns;
	unsigned n_conns;
	bool at_limit;       /* stopped accepting: max_conns reached */
	time_t limit_said;   /* when the limit was last logged (0: never) */
	uint64_t limit_hits; /* times it was reached since */
	bool backing_off;    /* stopped accepting: accept() failed (out of descriptors) */
	bool shut_down;
	struct event *retry; /* ends the backing off */
	struct event *trim;  /* gives freed memory back once no connection is open */

	uint8_t *rbuf; /* every read lands here (READ_SIZE bytes, allocated at the first read) */

	uint8_t accept_frame[DT_CONTROL_FRAME_MAX], finish_frame[DT_CONTROL_FRAME_MAX];
	size_t accept_len, finish_len;

	struct dt_listener_stats stats;

	struct dt_transport_kind **tls; /* the TLS kinds of the sockets, one per dt_listener_add_tls() */
	size_t n_tls;
	struct allow *allow; /* --allow ranges; none: every address */
	size_t n_allow;
};

/* An address range connections are accepted from. */
struct allow {
	int family;
	uint8_t addr[16];
	unsigned bits;
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

/* A thousand TLS connections leave tens of MiB with malloc when they close, spread through the heap,
 * which glibc keeps: once none is open (and has stayed so for a second, so that a stream of short
 * connections does not pay for it each time), malloc_trim() gives the free pages back, and the listener's
 * RSS returns to what it was. */
static void on_trim(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dt_listener *l = arg;
	if (l->n_conns != 0)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* ==== Connections ==== */

static void conn_free(struct conn *c)
{
	struct dt_listener *l = c->l;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->later != NULL)
		event_free(c->later);
	if (c->rd != NULL)
		event_free(c->rd);
	if (c->wr != NULL)
		event_free(c->wr);
	free(c->part);
	dt__tr_close(c->t);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	l->n_conns--;
	l->stats.open = l->n_conns;
	if (l->n_conns == 0 && l->trim != NULL && !evtimer_pending(l->trim, NULL)) {
		struct timeval tv = {TRIM_SECONDS, 0};
		evtimer_add(l->trim, &tv);
	}
	if (l->at_limit && l->n_conns < l->max_conns) {
		l->at_limit = false;
		if (!l->shut_down)
			set_accepting(l);
	}
}

/* Closes a connection as expected (STOP, or the sender leaving between frames). */
static void conn_end(struct conn *c, const char *why)
{
	say(c->l, LOG_INFO, "%s: closed (%s): %llu frame%s, %llu bytes", c->name, why, (unsigned long long)c->frames,
	    plural(c->frames), (unsigned long long)c->bytes);
	conn_free(c);
}

/* Counts a reason a connection is closed for (struct dt_listener_stats), and is the connection. */
static struct conn *count(struct conn *c, uint64_t *reason)
{
	(*reason)++;
	return c;
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
	say(l, LOG_WARNING, "%s: closed: %s; %llu frame%s, %llu bytes", c->name, why, (unsigned long long)c->frames,
	    plural(c->frames), (unsigned long long)c->bytes);
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
	ssize_t n = dt__tr_write(c->t, frame, len);
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
		return conn_fail(count(c, &c->l->stats.bad_control), "malformed control frame");
	say(l, LOG_DEBUG, "%s: %s received (%u content type%s)", c->name, control_name(ctl.type), ctl.n_content_types,
	    ctl.n_content_types == 1 ? "" : "s");

	switch (c->state) {
	case ST_FIRST:
		if (ctl.type == DT_CTRL_READY) {
			/* READY without a content type lets us choose; one that lists others only cannot be served */
			if (ctl.n_content_types > 0 && !ctl.dnstap)
				return conn_fail(count(c, &c->l->stats.handshake_errors),
						 "wrong content type: READY does not offer " DT_CONTENT_TYPE);
			c->bidirectional = true;
			c->state = ST_WAIT_START;
			/* always name the content type: Unbound drops an ACCEPT without one */
			if (!send_control(c, l->accept_frame, l->accept_len))
				return conn_fail(c, "cannot send ACCEPT: %s", dt__tr_error(c->t, errno));
			say(l, LOG_DEBUG, "%s: ACCEPT sent", c->name);
			return true;
		}
		if (ctl.type == DT_CTRL_START)
			break;
		return conn_fail(count(c, &c->l->stats.handshake_errors),
				 "handshake error: expected READY or START, got %s (control type %u)",
				 control_name(ctl.type), (unsigned)ctl.type);
	case ST_WAIT_START:
		if (ctl.type == DT_CTRL_START)
			break;
		return conn_fail(count(c, &c->l->stats.handshake_errors),
				 "handshake error: expected START after ACCEPT, got %s (control type %u)",
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
		return conn_fail(count(c, &c->l->stats.handshake_errors),
				 "wrong content type: START is not for " DT_CONTENT_TYPE);
	handshake_done(c);
	say(l, LOG_DEBUG, "%s: receiving (%s)", c->name, c->bidirectional ? "bidirectional" : "unidirectional");
	return true;
}

/* Data before the handshake: not a Frame Streams sender (an HTTP request, a stray client). */
static bool garbage(struct conn *c, const uint8_t *head, size_t n)
{
	char hex[3 * 8 + 1] = "";
	for (size_t i = 0, at = 0; i < n && i < 8; i++)
		at += (size_t)snprintf(hex + at, sizeof(hex) - at, "%s%02x", i ? " " : "", head[i]);
	if (c->state == ST_WAIT_START)
		return conn_fail(count(c, &c->l->stats.handshake_errors),
				 "handshake error: expected START after ACCEPT, got bytes %s", hex);
	if (n >= 2 && head[0] == 0x16 && head[1] == 0x03 && !dt__tr_has_handshake(c->t))
		return conn_fail(count(c, &c->l->stats.handshake_errors),
				 "looks like TLS (a ClientHello: %s) on a plain socket: is --tls-cert missing, or "
				 "should the sender not use TLS (Unbound: dnstap-tls: no)?",
				 hex);
	return conn_fail(count(c, &c->l->stats.handshake_errors),
			 "not a Frame Streams sender (got %s instead of READY or START)", hex);
}

/* A part at least this long whose frame size is known is completed by reading straight into it; a
 * shorter one is copied to the front of the read buffer, so that the next read continues it there. */
#define PART_IN_PLACE 4096

/* Makes room for n bytes of part. */
static bool part_room(struct conn *c, size_t n)
{
	if (n <= c->part_cap)
		return true;
	uint8_t *q = realloc(c->part, n);
	if (q == NULL)
		return false;
	c->part = q;
	c->part_cap = n;
	return true;
}

/* Keeps p[0..n), the start of a frame that the read cut off, until the rest comes. */
static bool keep_part(struct conn *c, const uint8_t *p, size_t n)
{
	c->part_len = 0;
	if (n == 0)
		return true;
	if (!part_room(c, n))
		return conn_fail(c, "out of memory");
	memmove(c->part, p, n);
	c->part_len = n;
	return true;
}

/* Handles every frame in b[0..n), the bytes read (and before them what was left of an earlier read), and
 * keeps a frame cut off at the end for the next read. Returns false if the connection was closed (c is
 * then freed). */
static bool conn_input(struct conn *c, const uint8_t *b, size_t n)
{
	struct dt_listener *l = c->l;
	size_t used = 0;
	if (c->skip > 0) {
		used = n < c->skip ? n : (size_t)c->skip;
		c->skip -= used;
	}
	while (used < n) {
		const uint8_t *p = b + used;
		size_t avail = n - used;
		struct dt_frame f;
		dt__frame_peek(p, avail, &f);
		if (f.kind == DT_FRAME_DATA && c->state == ST_DATA && f.len <= l->max_frame) {
			/* the common case: a data frame, handed over where it lies */
			if (f.header + f.len > avail)
				break;
			c->seen++;
			c->frames++;
			c->bytes += f.len;
			l->stats.frames++;
			l->stats.bytes += f.len;
			struct dt_item it;
			dt_item_init(&it, p + f.header, f.len, NULL, c->name, c->seen);
			l->sink.push(l->sink.arg, &it);
			used += f.header + f.len;
			continue;
		}
		if (f.kind == DT_FRAME_NEED_MORE)
			break;
		if (c->state != ST_DATA && f.kind != DT_FRAME_CONTROL)
			return garbage(c, p, avail);
		if (f.kind == DT_FRAME_BAD)
			return conn_fail(count(c, &c->l->stats.bad_control), "malformed control frame (length %u)",
					 (unsigned)f.len);
		if (f.kind == DT_FRAME_DATA) {
			c->seen++;
			l->stats.skipped++;
			say(l, LOG_WARNING,
			    "%s: frame %llu: data frame of %lu bytes is over the limit of %zu bytes; skipped", c->name,
			    (unsigned long long)c->seen, (unsigned long)f.len, l->max_frame);
			c->skip_size = (uint64_t)f.header + f.len;
			size_t k = avail < c->skip_size ? avail : (size_t)c->skip_size;
			c->skip = c->skip_size - k;
			used += k;
			continue;
		}
		if (f.header + f.len > avail)
			break;
		if (!conn_control(c, p + f.header, f.len))
			return false;
		used += f.header + f.len;
	}
	return keep_part(c, b + used, n - used);
}

/* The sender has closed its side. */
static void conn_cut_at_shutdown(struct conn *c, const char *how);

static void conn_eof(struct conn *c)
{
	size_t pending = c->part_len;
	if ((pending > 0 || c->skip > 0) && c->l->shut_down)
		conn_cut_at_shutdown(c, "stopped");
	else if (pending > 0 || c->skip > 0)
		conn_fail(count(c, &c->l->stats.cut),
			  "connection lost in the middle of a frame (%zu bytes of it received)",
			  pending > 0 ? pending : (size_t)(c->skip_size - c->skip));
	else if (c->state != ST_DATA)
		conn_end(c, "by the sender before the handshake completed");
	else
		conn_end(c, "by the sender without STOP");
}

static void on_io(evutil_socket_t fd, short what, void *arg);
static void read_later(struct conn *c);
static void read_now(struct conn *c);

/* The transport waits: for reading, which the persistent read event covers, and maybe for writing. */
static bool conn_wait(struct conn *c)
{
	if (!(c->t->want & DT_TR_WRITE))
		return true;
	if (c->wr == NULL)
		c->wr = event_new(c->l->base, c->t->fd, EV_WRITE, on_io, c);
	if (c->wr == NULL || event_add(c->wr, NULL) != 0)
		return conn_fail(c, "out of memory");
	return true;
}

/* Reads what the transport has, up to want bytes, and handles the complete frames. Returns the number
 * of bytes read, 0 when nothing was there, or -1 when the connection was closed.
 * The bound on memory: between reads a connection holds at most one partial frame, no larger than the
 * largest frame accepted (an oversize one is skipped as it comes); the read buffer is the listener's. */
static ssize_t conn_read(struct conn *c, size_t want)
{
	struct dt_listener *l = c->l;
	if (l->rbuf == NULL && (l->rbuf = malloc(READ_SIZE)) == NULL) {
		conn_fail(c, "out of memory");
		return -1;
	}
	struct iovec iov[2];
	int nv = 1;
	size_t glued = 0, in_part = 0;
	bool frame_end = false; /* in_part reaches the end of the part's frame: more goes to rbuf */
	if (c->part_len > 0) {
		struct dt_frame f;
		dt__frame_peek(c->part, c->part_len, &f);
		if (f.kind != DT_FRAME_NEED_MORE && c->part_len >= PART_IN_PLACE) {
			/* the rest of a large frame goes where its start is, the bytes after it to the buffer;
			 * the room grows with what has come (a sender that announces a large frame and sends
			 * nothing more does not get it all reserved) */
			size_t whole = f.header + f.len, room = 2 * c->part_len < whole ? 2 * c->part_len : whole;
			if (!part_room(c, room)) {
				conn_fail(c, "out of memory");
				return -1;
			}
			in_part = room - c->part_len;
			frame_end = room == whole;
		} else {
			memcpy(l->rbuf, c->part, c->part_len);
			glued = c->part_len;
		}
	}
	if (want > READ_SIZE - glued)
		want = READ_SIZE - glued;
	if (in_part > 0) {
		if (in_part >= want) {
			in_part = want;
			frame_end = false;
		}
		iov[0] = (struct iovec){c->part + c->part_len, in_part};
		iov[1] = (struct iovec){l->rbuf, want - in_part};
		nv = frame_end ? 2 : 1;
	} else {
		iov[0] = (struct iovec){l->rbuf + glued, want};
	}
	ssize_t n = dt__tr_readv(c->t, iov, nv);
	if (n < 0) {
		if (errno == EAGAIN)
			return conn_wait(c) ? 0 : -1;
		conn_fail(c, "read error: %s", dt__tr_error(c->t, errno));
		return -1;
	}
	if (n == 0) {
		conn_eof(c);
		return -1;
	}
	size_t got = (size_t)n;
	if (in_part > 0) {
		size_t k = got < in_part ? got : in_part;
		c->part_len += k;
		got -= k;
		struct dt_frame f;
		dt__frame_peek(c->part, c->part_len, &f);
		if (c->part_len == f.header + f.len && !conn_input(c, c->part, c->part_len))
			return -1;
		return got == 0 || conn_input(c, l->rbuf, got) ? n : -1;
	}
	c->part_len = 0;
	return conn_input(c, l->rbuf, glued + got) ? n : -1;
}

/* The transport's own handshake, if it has one. Returns true once it is done. */
static bool conn_secure(struct conn *c)
{
	int r = dt__tr_handshake(c->t);
	if (r > 0) {
		c->ready = true;
		say(c->l, LOG_INFO, "%s: %s established (%s)", c->name, c->kind->name, c->t->info);
		return true;
	}
	if (r == 0)
		conn_wait(c);
	else
		conn_fail(count(c, &c->l->stats.handshake_errors), "%s handshake failed: %s", c->kind->name,
			  dt__tr_error(c->t, errno));
	return false;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (!c->ready && !conn_secure(c))
		return;
	/* one read per wake-up, so that busy senders take turns; bytes a transport holds make no event */
	ssize_t n;
	do {
		if ((n = conn_read(c, READ_SIZE)) < 0)
			return;
	} while (n > 0 && dt__tr_pending(c->t) > 0);
	if (n > 0 && n < SMALL_READ && c->state == ST_DATA)
		read_later(c);
	else if (c->deferred && (n == 0 || n >= SMALL_READ))
		read_now(c);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	on_io(fd, what, arg);
}

/* The next read waits the read delay (see SMALL_READ); the read event is off meanwhile. */
static void read_later(struct conn *c)
{
	struct dt_listener *l = c->l;
	if (l->later == NULL)
		return;
	if (c->later == NULL && (c->later = evtimer_new(l->base, on_later, c)) == NULL)
		return; /* out of memory: read at once, as without batching */
	if (evtimer_add(c->later, c->kind == &dt__transport_unix ? l->later_unix : l->later) != 0)
		return;
	if (!c->deferred) {
		event_del(c->rd);
		c->deferred = true;
	}
}

/* Back to reading at each wake-up: the sender was idle for the read delay, or it is ahead of us. */
static void read_now(struct conn *c)
{
	if (event_add(c->rd, NULL) != 0) {
		conn_fail(c, "out of memory");
		return;
	}
	c->deferred = false;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	unsigned ms = c->l->timeout_ms;
	if (!c->ready) /* the transport's own handshake (TLS) has not finished */
		conn_fail(count(c, &c->l->stats.handshake_timeouts),
			  "handshake timeout: %s handshake not complete within %u ms", c->kind->name, ms);
	else if (ms % 1000 == 0)
		conn_fail(count(c, &c->l->stats.handshake_timeouts), "handshake timeout: no %s within %u s",
			  c->state == ST_FIRST ? "READY or START" : "START", ms / 1000);
	else
		conn_fail(count(c, &c->l->stats.handshake_timeouts), "handshake timeout: no %s within %u ms",
			  c->state == ST_FIRST ? "READY or START" : "START", ms);
}

/* Takes t, a new connection made with kind, whose log lines begin with name. */
static dt_res conn_new(struct dt_listener *l, struct dt_transport *t, const struct dt_transport_kind *kind,
		       const char *name)
{
	struct conn *c = t != NULL ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		say(l, LOG_ERR, "%s: out of memory; closed", name);
		dt__tr_close(t);
		return DT_ERR_NOMEM;
	}
	c->l = l;
	c->t = t;
	c->kind = kind;
	c->ready = !dt__tr_has_handshake(t);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	l->stats.open = l->n_conns;

	c->rd = event_new(l->base, t->fd, EV_READ | EV_PERSIST, on_io, c);
	if (c->rd == NULL || event_add(c->rd, NULL) != 0) {
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
				say(l, LOG_WARNING,
				    "limit of %u connections reached %llu more time%s in the last %lld s", l->max_conns,
				    (unsigned long long)l->limit_hits, l->limit_hits == 1 ? "" : "s",
				    (long long)(now.tv_sec - l->limit_said));
			l->limit_said = now.tv_sec;
			l->limit_hits = 0;
		}
		l->at_limit = true;
		set_accepting(l);
	}
	/* a transport with a handshake may have to speak first */
	if (!c->ready)
		conn_secure(c);
	return DT_OK;
}

static bool in_range(const struct allow *a, const uint8_t *addr)
{
	unsigned whole = a->bits / 8, rest = a->bits % 8;
	if (memcmp(a->addr, addr, whole) != 0)
		return false;
	return rest == 0 || ((a->addr[whole] ^ addr[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool allowed(const struct dt_listener *l, const struct sockaddr *sa)
{
	if (l->n_allow == 0)
		return true;
	const uint8_t *addr = sa->sa_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr
						       : (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	for (size_t i = 0; i < l->n_allow; i++)
		if (l->allow[i].family == sa->sa_family && in_range(&l->allow[i], addr))
			return true;
	return false;
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)evl;
	struct sock *s = arg;
	struct dt_listener *l = s->l;
	if (sa->sa_family != AF_UNIX && !allowed(l, sa)) {
		char peer[DT_TR_PEER_MAX];
		dt__format_addr(sa, (socklen_t)salen, peer, sizeof(peer));
		say(l, LOG_WARNING, "%s: refused a connection from %s: not in the allowed ranges (--allow)", s->name,
		    peer);
		l->stats.refused++;
		evutil_closesocket(fd);
		return;
	}
	uint64_t id = ++l->stats.connections;
	struct dt_transport *t = dt__tr_wrap(s->kind, fd, true, sa, (socklen_t)salen);
	char name[NAME_MAX_LEN];
	if (sa->sa_family == AF_UNIX) {
		snprintf(name, sizeof(name), "%s: connection %llu", s->name, (unsigned long long)id);
	} else {
		char peer[DT_TR_PEER_MAX]; /* "[v6 address%scope]:port" */
		if (t != NULL)
			snprintf(peer, sizeof(peer), "%s", t->peer);
		else
			dt__format_addr(sa, (socklen_t)salen, peer, sizeof(peer));
		snprintf(name, sizeof(name), "%s: connection %llu from %s", s->name, (unsigned long long)id, peer);
	}
	conn_new(l, t, s->kind, name);
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
	/* an inherited socket or one end of a socketpair: plain, whatever its family */
	return conn_new(l, dt__tr_wrap(&dt__transport_unix, fd, true, NULL, 0), &dt__transport_unix, name);
}

/* ==== Listening sockets ==== */

static dt_res add_sock(struct dt_listener *l, int fd, const char *name, bool unix_path,
		       const struct dt_transport_kind *kind)
{
	struct sock *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->name = strdup(name)) == NULL) {
		free(s);
		close(fd);
		return DT_ERR_NOMEM;
	}
	s->l = l;
	s->kind = kind;
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
	return add_sock(l, fd, path, true, &dt__transport_unix);
}

static dt_res tcp_listen_one(struct dt_listener *l, const struct addrinfo *ai, const struct dt_transport_kind *kind)
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
	dt__format_addr((struct sockaddr *)&ss, len, name, sizeof(name));
	return add_sock(l, fd, name, false, kind);
}

static dt_res add_tcp(struct dt_listener *l, const char *host_port, const struct dt_transport_kind *kind)
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
			dup = prev->ai_addrlen == ai->ai_addrlen &&
			      memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0;
		if (!dup)
			r = tcp_listen_one(l, ai, kind);
	}
	freeaddrinfo(res);
	return r;
}

dt_res dt_listener_add_tcp(struct dt_listener *l, const char *host_port)
{
	return add_tcp(l, host_port, &dt__transport_tcp);
}

dt_res dt_listener_add_tls(struct dt_listener *l, const char *host_port, const struct dt_tls_server_options *opt)
{
	char err[300];
	struct dt_transport_kind **more = realloc(l->tls, (l->n_tls + 1) * sizeof(*more));
	if (more == NULL)
		return DT_ERR_NOMEM;
	l->tls = more;
	struct dt_transport_kind *k = dt__tls_server_kind(opt, err, sizeof(err));
	if (k == NULL) {
		say(l, LOG_ERR, "%s: TLS: %s", host_port != NULL ? host_port : "?", err);
		return DT_ERR_INVALID;
	}
	/* kept until dt_listener_free(): the sockets (several, for a name) and their connections use it */
	l->tls[l->n_tls++] = k;
	return add_tcp(l, host_port, k);
}

dt_res dt_listener_reload(struct dt_listener *l)
{
	dt_res r = DT_OK;
	for (size_t i = 0; i < l->n_tls; i++) {
		char err[300];
		if (dt__tls_reload(l->tls[i], err, sizeof(err))) {
			say(l, LOG_INFO, "TLS: certificate and key reloaded for new connections");
			continue;
		}
		say(l, LOG_ERR, "TLS: reload failed, keeping the certificate in use: %s", err);
		r = DT_ERR_INVALID;
	}
	return r;
}

dt_res dt_listener_allow(struct dt_listener *l, const char *cidr)
{
	struct allow a = {0};
	char host[INET6_ADDRSTRLEN];
	const char *slash = cidr != NULL ? strchr(cidr, '/') : NULL;
	size_t n = cidr == NULL ? 0 : slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
	if (n == 0 || n >= sizeof(host))
		return DT_ERR_INVALID;
	memcpy(host, cidr, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, host, a.addr) == 1)
		a.family = AF_INET6;
	else
		return DT_ERR_INVALID;
	unsigned max = a.family == AF_INET ? 32 : 128;
	a.bits = max;
	if (slash != NULL) {
		char *end;
		errno = 0;
		unsigned long b = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0 || b > max)
			return DT_ERR_INVALID;
		a.bits = (unsigned)b;
	}
	struct allow *more = realloc(l->allow, (l->n_allow + 1) * sizeof(*more));
	if (more == NULL)
		return DT_ERR_NOMEM;
	l->allow = more;
	l->allow[l->n_allow++] = a;
	return DT_OK;
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
	struct sockaddr_storage ss;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return DT_ERR_IO;
	/* the socket file is the service manager's: never removed by us */
	return add_sock(l, fd, name, false, ss.ss_family == AF_UNIX ? &dt__transport_unix : &dt__transport_tcp);
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
	l->trim = evtimer_new(base, on_trim, l);
	if (l->accept_len == 0 || l->finish_len == 0 || l->retry == NULL || l->trim == NULL ||
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

dt_res dt_listener_set_read_delay(struct dt_listener *l, unsigned us)
{
	l->later = l->later_unix = NULL;
	if (us == 0)
		return DT_OK;
	if (us >= 1000000)
		return DT_ERR_INVALID;
	/* all connections' batched reads share two common timeouts: O(1) each */
	struct timeval tv = {0, (suseconds_t)us},
		       tv_unix = {0, (suseconds_t)(us < UNIX_READ_DELAY_MAX_US ? us : UNIX_READ_DELAY_MAX_US)};
	l->later = event_base_init_common_timeout(l->base, &tv);
	l->later_unix = event_base_init_common_timeout(l->base, &tv_unix);
	if (l->later == NULL || l->later_unix == NULL) {
		l->later = l->later_unix = NULL;
		return DT_ERR_NOMEM;
	}
	return DT_OK;
}

dt_res dt_listener_set_max_connections(struct dt_listener *l, unsigned n)
{
	l->max_conns = n ? n : DT_DEFAULT_MAX_CONNECTIONS;
	return DT_OK;
}

/* A sender that stops in the middle of a frame because we are shutting down has not misbehaved: the
 * frame is counted as cut (the sender counts it as dropped), not the sender as rejected. */
static void conn_cut_at_shutdown(struct conn *c, const char *how)
{
	size_t pending = c->part_len > 0 ? c->part_len : (size_t)(c->skip_size - c->skip);
	c->l->stats.cut++;
	say(c->l, LOG_WARNING,
	    "%s: closed (shutting down): the sender %s in the middle of a frame (%zu bytes of it received); "
	    "%llu frame%s, %llu bytes",
	    c->name, how, pending, (unsigned long long)c->frames, plural(c->frames), (unsigned long long)c->bytes);
	conn_free(c);
}

/* Closes a connection at shutdown. */
static void conn_leave(struct conn *c)
{
	if (c->part_len > 0 || c->skip > 0)
		conn_cut_at_shutdown(c, "was still");
	else
		conn_end(c, "shutting down");
}

/* Reads and handles what a connection has now, up to 16 reads (a sender that writes as fast as we read
 * must not hold the others, nor the deadline, up). false: it is gone (the sender left; logged). *moved:
 * some bytes came. */
static bool conn_take(struct conn *c, bool *moved)
{
	for (int k = 0; k < 16; k++) {
		ssize_t n = conn_read(c, READ_SIZE);
		if (n < 0)
			return false;
		if (n == 0 && dt__tr_pending(c->t) == 0)
			return true;
		*moved = true;
	}
	return true;
}

/* Shutting down without losing what senders have written. Closing a socket that still has bytes coming
 * loses them: those the kernel holds unread, and over TCP also those still in the sender's socket buffer,
 * which only move across as we read (so reading what FIONREAD counts is not enough). Instead each
 * connection is told this end is going (dt__tr_shutdown(): the sender reads its end), and read on until
 * the sender closes, which a sender that reads (ours, Unbound's) does at once: then every frame it wrote
 * has been read. A sender that never reads is given until its bytes stop for DRAIN_IDLE_MS, and
 * DRAIN_MAX_MS in all. */
#define DRAIN_IDLE_MS 300
#define DRAIN_MAX_MS 3000

static void drain_all(struct dt_listener *l)
{
	/* what has come already is read first, so that a READY or STOP in it is still answered */
	for (struct conn *c = l->conns, *next; c != NULL; c = next) {
		next = c->next;
		bool moved = false;
		if (!c->ready)
			conn_leave(c); /* still in the TLS handshake: nothing to lose */
		else if (conn_take(c, &moved) && dt__tr_shutdown(c->t) != 0)
			conn_leave(c); /* it cannot be told (gone already): what it left has been read */
	}
	int64_t start = dt__now_ms(), last = start;
	struct pollfd *fds = NULL;
	size_t cap = 0;
	while (l->conns != NULL) {
		bool moved = false;
		size_t n = 0;
		for (struct conn *c = l->conns, *next; c != NULL; c = next) {
			next = c->next;
			if (conn_take(c, &moved))
				n++;
		}
		int64_t now = dt__now_ms();
		if (moved)
			last = now;
		int64_t wait = last + DRAIN_IDLE_MS - now;
		if (start + DRAIN_MAX_MS - now < wait)
			wait = start + DRAIN_MAX_MS - now;
		if (n == 0 || wait <= 0)
			break;
		if (n > cap) {
			struct pollfd *p = realloc(fds, n * sizeof(*fds));
			if (p == NULL)
				break;
			fds = p;
			cap = n;
		}
		size_t i = 0;
		for (struct conn *c = l->conns; c != NULL && i < n; c = c->next, i++)
			fds[i] = (struct pollfd){.fd = c->t->fd,
						 .events = (short)(POLLIN | (c->t->want & DT_TR_WRITE ? POLLOUT : 0))};
		if (poll(fds, (nfds_t)i, (int)wait) < 0 && errno != EINTR)
			break;
	}
	free(fds);
	while (l->conns != NULL)
		conn_leave(l->conns);
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
	drain_all(l);
	if (l->retry != NULL)
		event_del(l->retry);
	if (l->trim != NULL)
		event_del(l->trim);
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
	if (l->trim != NULL)
		event_free(l->trim);
	free(l->rbuf);
	for (size_t i = 0; i < l->n_tls; i++)
		dt__tls_kind_free(l->tls[i]);
	free(l->tls);
	free(l->allow);
	free(l);
}
