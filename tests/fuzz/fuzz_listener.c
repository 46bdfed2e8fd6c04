/* Fuzz target: the socket side of Frame Streams (lib/input_listener.c) as a sender drives it. The input is a
 * 4-byte header and the byte stream a sender writes into one end of a socketpair whose other end the
 * listener adopts (dt_listener_add_connected): READY or START, data frames, control frames, STOP,
 * garbage, a connection cut anywhere. The stream goes in chunks, each read by the listener before the
 * next is written, so frames straddle reads as the header says. A model of what the listener promises
 * (lib/dnstap.h) reads the same stream, and the two must agree: the payloads handed over (each within
 * the size limit, in order, numbered), the frames skipped, whether the sender is rejected, the ACCEPT
 * and FINISH sent back (each parsed by the library's control-frame parser), the totals of
 * dt_listener_get_stats() and the log lines. At the end no connection is open and the adopted socket is
 * closed: the sender's end reads end of file.
 *
 * Header: [0] the size limit: 4 * [0] bytes, or 0 for the default; [1], [2] the chunk sizes, 1 + [1] and
 * 1 + 64 * [2] alternating (after 64 chunks, the rest in one); [3] bit 0: end with
 * dt_listener_shutdown(), the last chunk still unread in the kernel, instead of the sender closing its
 * side; bit 1: after the first chunk the sender shuts down its receiving side, so that ACCEPT or
 * FINISH cannot be sent from then on; bit 2: a limit of one connection (reached by this one); bit 3: a
 * handshake timeout of 2.5 s instead of 10 s; bits 4-7: k > 0 lets the handshake timeout pass after
 * chunk k.
 *
 * Time is the fuzzer's: while the listener runs, the monotonic clock libevent reads stands still unless
 * the target moves it, so timers (the handshake timeout, any pause the listener takes between reads)
 * fire exactly when the target says, never because the machine was slow. */
#define _GNU_SOURCE
#include "dnstap.h"
#include "frame.h"
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define HEADER 4
#define SMALL_CHUNKS 64
#define NAME "fuzz"
#define MAX_SPINS 1000 /* loop runs allowed for the listener to take what it has been sent */

/* ==== The clock ==== */

static bool virtual_time;
static struct timespec vnow = {1000000, 0};
static unsigned idle_ms;      /* virtual time spent waiting for the listener in this input */
static unsigned handshake_ms; /* the listener's handshake timeout in this input */

/* Replaces the C library's for the whole program (libevent included), as fuzz_reader.c does with
 * read(): while virtual_time is set, every monotonic clock reads vnow. The wall clock is untouched
 * (libFuzzer times its runs with it). */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	if (virtual_time && (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_MONOTONIC_RAW ||
			     id == CLOCK_BOOTTIME)) {
		*ts = vnow;
		return 0;
	}
	return (int)syscall(SYS_clock_gettime, id, ts);
}

static void advance(unsigned ms);

/* The listener's shutdown polls its connections until the senders close or go quiet for a while: while
 * virtual_time is set, a poll() that would wait returns at once and moves the clock on by its timeout
 * instead, so that the wait costs no real time and ends when the target's clock says. */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct timespec wait = {timeout / 1000, (long)(timeout % 1000) * 1000000}, zero = {0, 0};
	if (!virtual_time)
		return (int)syscall(SYS_ppoll, fds, n, timeout < 0 ? NULL : &wait, NULL, 0);
	int r = (int)syscall(SYS_ppoll, fds, n, &zero, NULL, 0);
	if (r == 0 && timeout > 0)
		advance((unsigned)timeout);
	return r;
}

static void advance(unsigned ms)
{
	vnow.tv_sec += ms / 1000;
	vnow.tv_nsec += (long)(ms % 1000) * 1000000;
	if (vnow.tv_nsec >= 1000000000) {
		vnow.tv_sec++;
		vnow.tv_nsec -= 1000000000;
	}
}

/* ==== The model: what lib/dnstap.h promises for a stream ==== */

struct expect {
	size_t off; /* the payload is stream[off, off + len) */
	uint32_t len;
	uint64_t frame;
};

enum { M_FIRST, M_WAIT_START, M_DATA };

struct model {
	const uint8_t *s;
	size_t n;
	size_t max;
	int state;
	size_t deaf_at; /* a control frame answered once the stream is past this cannot be answered */
	bool bidirectional, closed, rejected, accept, finish;
	bool cut; /* the listener shut down in the middle of a frame: counted as cut, not a rejection */
	uint64_t seen, frames, bytes, skipped;
	size_t pos;    /* bytes taken from the stream */
	uint64_t skip; /* bytes of an oversize frame still to pass over */
	struct expect *out;
	size_t n_out, cap_out;
};

static void reject(struct model *m)
{
	m->closed = m->rejected = true;
}

static void expect_payload(struct model *m, size_t off, uint32_t len)
{
	if (m->n_out == m->cap_out) {
		size_t cap = m->cap_out ? 2 * m->cap_out : 256;
		struct expect *p = realloc(m->out, cap * sizeof(*p));
		FUZZ_CHECK(p != NULL);
		m->out = p;
		m->cap_out = cap;
	}
	m->out[m->n_out++] = (struct expect){off, len, m->seen};
}

/* A control frame, whole, just before the current position. */
static void model_control(struct model *m, const uint8_t *body, uint32_t len)
{
	struct dt_control ctl;
	if (dt__control_parse(body, len, &ctl) != DT_OK) {
		reject(m);
		return;
	}
	bool dnstap_ok = ctl.n_content_types == 0 || ctl.dnstap;
	if (m->state == M_DATA) {
		if (ctl.type == DT_CTRL_STOP) {
			/* a FINISH that cannot be sent is no rejection */
			m->finish = m->bidirectional && m->pos <= m->deaf_at;
			m->closed = true;
		}
		return; /* other control frames are ignored */
	}
	if (m->state == M_FIRST && ctl.type == DT_CTRL_READY) {
		if (!dnstap_ok) {
			reject(m);
			return;
		}
		m->bidirectional = true;
		m->state = M_WAIT_START;
		if (m->pos > m->deaf_at)
			reject(m); /* ACCEPT cannot be sent */
		else
			m->accept = true;
		return;
	}
	/* START comes next, after READY or first from a unidirectional sender; anything else is refused */
	if (ctl.type != DT_CTRL_START || !dnstap_ok)
		reject(m);
	else
		m->state = M_DATA;
}

/* Everything the listener does with the bytes stream[0, limit) when no more have come yet. */
static void model_step(struct model *m, size_t limit)
{
	while (!m->closed) {
		if (m->skip > 0) {
			size_t k = limit - m->pos < m->skip ? limit - m->pos : (size_t)m->skip;
			m->pos += k;
			m->skip -= k;
			if (m->skip > 0)
				return;
		}
		const uint8_t *p = m->s + m->pos;
		size_t rem = limit - m->pos;
		if (rem < 4)
			return;
		uint32_t len = dt__be32(p);
		if (len != 0) {
			if (m->state != M_DATA) {
				reject(m); /* data before the handshake: not a Frame Streams sender */
				return;
			}
			if (len > m->max) {
				m->seen++;
				m->skipped++;
				m->skip = 4 + (uint64_t)len; /* skipped as soon as its length is known */
				continue;
			}
			if (rem - 4 < len)
				return;
			m->seen++;
			m->frames++;
			m->bytes += len;
			expect_payload(m, m->pos + 4, len);
			m->pos += 4 + (size_t)len;
			continue;
		}
		if (rem < 8)
			return;
		uint32_t clen = dt__be32(p + 4);
		if (clen < 4 || clen > DT_CONTROL_MAX) {
			reject(m);
			return;
		}
		if (rem - 8 < clen)
			return;
		m->pos += 8 + (size_t)clen;
		model_control(m, p + 8, clen);
	}
}

/* The stream, with the handshake timeout passing once stream[0, stall) has been read (stall > n: never),
 * then the end: the sender closing its side, where a frame cut short is a rejection, or the listener
 * shutting down, where it is not (the sender stopped because it was told to) but is counted as cut. A
 * clean end between frames is neither. */
static void model_run(struct model *m, const uint8_t *s, size_t n, size_t max, size_t deaf_at, size_t stall,
		      bool shutdown_end)
{
	struct expect *out = m->out;
	size_t cap = m->cap_out;
	*m = (struct model){
		.s = s, .n = n, .max = max, .deaf_at = deaf_at, .state = M_FIRST, .out = out, .cap_out = cap};
	if (stall <= n) {
		model_step(m, stall);
		if (!m->closed && m->state != M_DATA)
			reject(m);
	}
	model_step(m, n);
	if (!m->closed) {
		if ((m->skip > 0 || m->pos < n) && shutdown_end)
			m->cut = true;
		else if (m->skip > 0 || m->pos < n)
			reject(m);
		m->closed = true;
	}
}

/* ==== The listener's callbacks ==== */

struct run {
	const struct model *m;
	size_t max;
	size_t next; /* payloads received */
	unsigned accepted_lines, closed_lines, skip_lines;
	int closed_level;
};

static dt_res on_item(void *arg, struct dt_item *it)
{
	struct run *r = arg;
	FUZZ_CHECK(it->len >= 1 && it->len <= r->max);
	FUZZ_CHECK(it->peer != NULL && strcmp(it->peer, NAME) == 0);
	FUZZ_CHECK(r->next < r->m->n_out);
	const struct expect *e = &r->m->out[r->next++];
	FUZZ_CHECK(it->len == e->len && it->frame == e->frame && memcmp(it->payload, r->m->s + e->off, it->len) == 0);
	return DT_OK;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void on_log(void *arg, int level, const char *line)
{
	struct run *r = arg;
	/* one line, and nothing at LOG_ERR or above: the listener itself is never in trouble here */
	FUZZ_CHECK(level >= LOG_WARNING && level <= LOG_DEBUG);
	FUZZ_CHECK(strlen(line) < 512 && strchr(line, '\n') == NULL);
	if (starts(line, NAME ": accepted"))
		r->accepted_lines++;
	if (starts(line, NAME ": closed")) {
		r->closed_lines++;
		r->closed_level = level;
	}
	if (strstr(line, "is over the limit") != NULL)
		r->skip_lines++;
}

/* ==== Driving ==== */

static unsigned unread(int fd)
{
	int n = 0;
	FUZZ_CHECK(ioctl(fd, SIOCOUTQ, &n) == 0);
	return (unsigned)n;
}

static unsigned open_conns(const struct dt_listener *l)
{
	struct dt_listener_stats st;
	dt_listener_get_stats(l, &st);
	return st.open;
}

/* Runs the loop until the listener has read everything sent from peer, or closed the connection. When
 * a run of the loop leaves bytes unread, the listener is waiting for a timer: time moves on by 1 ms. */
static void settle(struct event_base *base, const struct dt_listener *l, int peer)
{
	for (int spins = 0;; spins++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (open_conns(l) == 0 || unread(peer) == 0)
			return;
		FUZZ_CHECK(spins < MAX_SPINS); /* the listener stopped reading a live connection */
		advance(1);
		FUZZ_CHECK(++idle_ms < handshake_ms / 2); /* so that only a stall lets the handshake time out */
	}
}

/* Reads what the listener sent back into out (cap bytes) until end of file, which comes only once the
 * listener has closed its end (or once the bytes queued are read, if peer has shut down its receiving
 * side). Returns the length. */
static size_t read_back(int peer, uint8_t *out, size_t cap)
{
	size_t len = 0;
	for (;;) {
		uint8_t buf[512];
		ssize_t k = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == 0)
			return len;
		if (k < 0) {
			/* after the unread bytes (if any) were thrown away with the listener's end */
			FUZZ_CHECK(errno == ECONNRESET); /* EAGAIN: the listener's end is still open */
			continue;
		}
		FUZZ_CHECK((size_t)k <= cap - len);
		memcpy(out + len, buf, (size_t)k);
		len += (size_t)k;
	}
}

/* What came back must be complete control frames: ACCEPT (with the dnstap content type) if the model
 * says READY was answered, then FINISH if a bidirectional STOP was. */
static void check_sent_back(const uint8_t *p, size_t n, const struct model *m)
{
	uint32_t want[2];
	size_t n_want = 0;
	if (m->accept)
		want[n_want++] = DT_CTRL_ACCEPT;
	if (m->finish)
		want[n_want++] = DT_CTRL_FINISH;
	size_t k = 0;
	while (n > 0) {
		struct dt_frame f;
		dt__frame_peek(p, n, &f);
		FUZZ_CHECK(f.kind == DT_FRAME_CONTROL && f.header + f.len <= n);
		struct dt_control ctl;
		FUZZ_CHECK(dt__control_parse(p + f.header, f.len, &ctl) == DT_OK);
		FUZZ_CHECK(k < n_want && ctl.type == want[k]);
		if (ctl.type == DT_CTRL_ACCEPT)
			FUZZ_CHECK(ctl.n_content_types == 1 && ctl.dnstap);
		else
			FUZZ_CHECK(ctl.n_content_types == 0);
		k++;
		p += f.header + f.len;
		n -= f.header + f.len;
	}
	FUZZ_CHECK(k == n_want);
}

/* Descriptors open in the process other than pipes (-1 without /proc). Pipes are left out because
 * libFuzzer starts llvm-symbolizer, over two pipes it keeps, the first time a run reaches a new
 * function (the NEW_FUNC lines): the listener's own descriptors are sockets, epoll and timers. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[300], link[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, link, sizeof(link) - 1);
		if (k >= 5 && memcmp(link, "pipe:", 5) == 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

/* dt_listener_add_connected() after dt_listener_shutdown(): refused with EINVAL, the socket closed. */
static void check_adopt_after_shutdown(struct dt_listener *l)
{
	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	errno = 0;
	FUZZ_CHECK(dt_listener_add_connected(l, sv[0], NAME) == DT_ERR_IO && errno == EINVAL);
	FUZZ_CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	static uint8_t back[4096];
	static unsigned long runs;
	static int fds_at_start = -2;
	if (runs++ == 0)
		event_enable_debug_mode(); /* libevent aborts on misuse of an event: a finding */

	uint8_t h[HEADER] = {0};
	memcpy(h, data, size < HEADER ? size : HEADER);
	const uint8_t *s = size > HEADER ? data + HEADER : data;
	size_t n = size > HEADER ? size - HEADER : 0;
	size_t max = h[0] ? 4u * h[0] : DT_DEFAULT_MAX_FRAME_SIZE;
	bool shutdown_end = h[3] & 1, deaf = h[3] & 2, one_conn = h[3] & 4;
	handshake_ms = h[3] & 8 ? 2500 : 10000;
	unsigned stall_after = h[3] >> 4;

	/* chunk i is stream[bounds[i - 1], bounds[i]) */
	size_t bounds[SMALL_CHUNKS + 1], nb = 0;
	for (size_t off = 0; off < n; nb++) {
		size_t c = nb < SMALL_CHUNKS ? (nb % 2 ? 1 + 64 * (size_t)h[2] : 1 + (size_t)h[1]) : n - off;
		off += c < n - off ? c : n - off;
		bounds[nb] = off;
	}
	size_t stall = stall_after > 0 && stall_after <= nb ? bounds[stall_after - 1] : SIZE_MAX;
	model_run(&m, s, n, max, deaf && nb > 0 ? bounds[0] : SIZE_MAX, stall, shutdown_end);

	struct run r = {.m = &m, .max = max};
	virtual_time = true;
	idle_ms = 0;
	struct event_base *base = event_base_new();
	FUZZ_CHECK(base != NULL);
	struct dt_sink sink = {on_item, &r};
	struct dt_listener *l = dt_listener_new(base, &sink);
	FUZZ_CHECK(l != NULL);
	dt_listener_set_log(l, on_log, &r, LOG_DEBUG);
	FUZZ_CHECK(dt_listener_set_max_frame_size(l, h[0] ? max : 0) == DT_OK);
	FUZZ_CHECK(dt_listener_set_handshake_timeout(l, handshake_ms) == DT_OK);
	FUZZ_CHECK(dt_listener_set_max_connections(l, one_conn ? 1 : 0) == DT_OK);
	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int peer = sv[1];
	FUZZ_CHECK(dt_listener_add_connected(l, sv[0], NAME) == DT_OK);

	size_t sent = 0;
	bool gone = false;
	for (size_t i = 0; i < nb && !gone; i++) {
		while (sent < bounds[i]) {
			ssize_t k = send(peer, s + sent, bounds[i] - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k > 0) {
				sent += (size_t)k;
			} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				settle(base, l, peer); /* the socket buffer is full: let the listener read */
			} else {
				/* only a closed connection refuses bytes */
				FUZZ_CHECK(k < 0 && (errno == EPIPE || errno == ECONNRESET) && open_conns(l) == 0);
				gone = true;
				break;
			}
		}
		if (gone)
			break;
		bool at_stall = bounds[i] == stall, go_deaf = deaf && i == 0;
		if (!(shutdown_end && i + 1 == nb) || at_stall || go_deaf)
			settle(base, l, peer);
		if (at_stall) {
			advance(handshake_ms + 1000);
			settle(base, l, peer);
		}
		if (go_deaf)
			FUZZ_CHECK(shutdown(peer, SHUT_RD) == 0);
	}

	if (shutdown_end) {
		dt_listener_shutdown(l); /* reads on until the sender goes quiet, closes the connection */
		FUZZ_CHECK(open_conns(l) == 0);
		check_adopt_after_shutdown(l);
	} else {
		shutdown(peer, SHUT_WR);
		for (int spins = 0; open_conns(l) > 0; spins++) {
			FUZZ_CHECK(spins < MAX_SPINS); /* the end of the stream must end the connection */
			event_base_loop(base, EVLOOP_NONBLOCK);
			if (open_conns(l) > 0)
				advance(1);
		}
	}
	size_t back_len = read_back(peer, back, sizeof(back));
	close(peer);

	struct dt_listener_stats st;
	dt_listener_get_stats(l, &st);
	dt_listener_free(l);
	event_base_free(base);
	virtual_time = false;

	FUZZ_CHECK(m.closed);
	FUZZ_CHECK(r.next == m.n_out);
	FUZZ_CHECK(st.connections == 1 && st.open == 0);
	FUZZ_CHECK(st.frames == m.frames && st.bytes == m.bytes);
	FUZZ_CHECK(st.skipped == m.skipped && st.rejected == (m.rejected ? 1u : 0u));
	check_sent_back(back, back_len, &m);
	FUZZ_CHECK(r.accepted_lines == 1 && r.closed_lines == 1);
	FUZZ_CHECK(r.closed_level == (m.rejected || m.cut ? LOG_WARNING : LOG_INFO));
	FUZZ_CHECK(!m.cut || st.cut == 1);
	FUZZ_CHECK(r.skip_lines == m.skipped);

	/* every descriptor of the run closed again (checked now and then: it costs a directory read) */
	if (runs % 64 == 1) {
		int fds = count_fds();
		if (fds_at_start == -2)
			fds_at_start = fds;
		FUZZ_CHECK(fds == fds_at_start);
	}
	return 0;
}
