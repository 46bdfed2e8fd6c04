/* The metrics server: /metrics (Prometheus), /stats.json and a live page, served by libevent's evhttp on
 * the listener's own loop. A request is answered from counters in memory, at once and without blocking,
 * so it costs intake one short pause between two reads. What a client can make it hold is bounded:
 * header and body sizes, a timeout for slow or idle clients, loopback-only (or --metrics-allow)
 * answers, and at most MAX_CONNECTIONS connections at once (see "Connections" below). The request
 * checks it makes itself (routing, the allow list) are plain functions, fuzzed. */
#include "addr.h"
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define MAX_HEADERS 8192
#define MAX_BODY 1024
#define TIMEOUT_S 10
#define MAX_ALLOW 64
#define MAX_CONNECTIONS 64 /* open at once; a newcomer past them closes the oldest */

struct conn {
	struct bufferevent *bev;
	bool shut; /* shut down to make room (see evict()), not yet let go by evhttp */
};

struct dt_metrics_server {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct dt_stats *st;
	struct dt__cidr allow[MAX_ALLOW];
	size_t n_allow;
	bool own_allow; /* dt_metrics_server_allow() was called: the loopback default is gone */
	unsigned port;
	struct dt_metrics_server_stats stats;
	struct dt_buf body; /* reused by every answer */
	/* the connections' bufferevents, each with a reference of ours (see "Connections") */
	struct conn *conns;
	size_t n_conns, cap_conns;
	struct event *sweep; /* every second */
};

/* ==== Request checks ==== */

bool dt__cidr_parse(const char *text, struct dt__cidr *c)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, text, n);
	addr[n] = '\0';
	memset(c, 0, sizeof(*c));
	unsigned max;
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	c->bits = max;
	if (slash != NULL) {
		const char *p = slash + 1;
		unsigned bits = 0;
		if (*p == '\0' || strlen(p) > 3)
			return false;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return false;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > max)
			return false;
		c->bits = bits;
	}
	return true;
}

bool dt__cidr_match(const struct dt__cidr *c, int family, const uint8_t *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (family == AF_INET6 && c->family == AF_INET && memcmp(addr, mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	if (family != c->family)
		return false;
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(addr, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (addr[full] & mask) == (c->addr[full] & mask);
}

enum dt__route dt__http_route(const char *method, const char *uri)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return DT__ROUTE_BAD_METHOD;
	/* an absolute form ("http://host/metrics") is allowed by HTTP/1.1: keep the path only */
	if (strncmp(uri, "http://", 7) == 0) {
		const char *p = strchr(uri + 7, '/');
		uri = p != NULL ? p : "/";
	}
	size_t n = strcspn(uri, "?#");
	if ((n == 1 && uri[0] == '/') || (n == 11 && memcmp(uri, "/index.html", 11) == 0))
		return DT__ROUTE_PAGE;
	if (n == 8 && memcmp(uri, "/metrics", 8) == 0)
		return DT__ROUTE_METRICS;
	if (n == 11 && memcmp(uri, "/stats.json", 11) == 0)
		return DT__ROUTE_JSON;
	return DT__ROUTE_NOT_FOUND;
}

/* ==== Serving ==== */

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* The client's address, from the socket itself. */
static bool allowed(const struct dt_metrics_server *s, struct evhttp_request *req)
{
	struct evhttp_connection *evc = evhttp_request_get_connection(req);
	struct bufferevent *bev = evc != NULL ? evhttp_connection_get_bufferevent(evc) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	const uint8_t *addr;
	if (ss.ss_family == AF_INET)
		addr = (const uint8_t *)&((const struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)&ss)->sin6_addr;
	else
		return false;
	for (size_t i = 0; i < s->n_allow; i++)
		if (dt__cidr_match(&s->allow[i], ss.ss_family, addr))
			return true;
	return false;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type, const void *body,
		  size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (code == 405)
		evhttp_add_header(h, "Allow", "GET, HEAD");
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct dt_metrics_server *s = arg;
	s->stats.requests++;
	if (!allowed(s, req)) {
		s->stats.denied++;
		static const char no[] = "forbidden: not in the --metrics-allow ranges\n";
		reply(req, 403, "Forbidden", "text/plain; charset=utf-8", no, sizeof(no) - 1);
		return;
	}
	const char *uri = evhttp_request_get_uri(req);
	enum dt__route r = dt__http_route(method_name(evhttp_request_get_command(req)), uri != NULL ? uri : "");
	s->body.len = 0;
	s->body.failed = false;
	switch (r) {
	case DT__ROUTE_BAD_METHOD: {
		static const char no[] = "method not allowed: GET or HEAD\n";
		reply(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", no, sizeof(no) - 1);
		return;
	}
	case DT__ROUTE_NOT_FOUND: {
		static const char no[] = "not found: try /metrics, /stats.json or /\n";
		reply(req, 404, "Not Found", "text/plain; charset=utf-8", no, sizeof(no) - 1);
		return;
	}
	case DT__ROUTE_PAGE: {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		/* the page is ours alone: no outside script, style or connection can get into it */
		evhttp_add_header(h, "Content-Security-Policy",
				  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
				  "connect-src 'self'; img-src 'self' data:");
		reply(req, 200, "OK", "text/html; charset=utf-8", dt__metrics_page, dt__metrics_page_len);
		return;
	}
	case DT__ROUTE_METRICS:
		if (dt_stats_prometheus(s->st, &s->body) != DT_OK)
			break;
		reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", s->body.data, s->body.len);
		return;
	case DT__ROUTE_JSON:
		if (dt_stats_json(s->st, &s->body) != DT_OK)
			break;
		reply(req, 200, "OK", "application/json", s->body.data, s->body.len);
		return;
	}
	static const char oom[] = "out of memory\n";
	reply(req, 500, "Internal Server Error", "text/plain; charset=utf-8", oom, sizeof(oom) - 1);
}

/* ==== Connections ====
 *
 * libevent 2.1's evhttp accepts every connection and has no cap on them (2.2 adds one), nor a call when
 * one ends. It does let us make each connection's bufferevent (evhttp_set_bevcb()), so each is made
 * here with a reference of ours (bufferevent_incref()): when evhttp lets a connection go, its
 * bufferevent stays, with its callbacks cleared by bufferevent_free(), until a sweep (at each new
 * connection, and every second) sees that, drops our reference and so frees it and closes the socket
 * (evhttp has shut down the sending side at once). A connection is thus never counted gone while
 * evhttp holds it, and the worst a misreading could do is count one gone early, never free it.
 *
 * Past MAX_CONNECTIONS the oldest connection is shut down (evhttp then reads its end and lets it go):
 * a client that holds connections open cannot keep a new one out, as it could if the listener
 * stopped accepting, and the sockets the server holds stay bounded. */

static bool released(struct bufferevent *bev)
{
	bufferevent_data_cb r, w;
	bufferevent_event_cb e;
	void *arg;
	bufferevent_getcb(bev, &r, &w, &e, &arg);
	return r == NULL && w == NULL && e == NULL && arg == NULL;
}

static void sweep(struct dt_metrics_server *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_conns; i++) {
		if (released(s->conns[i].bev))
			bufferevent_decref(s->conns[i].bev);
		else
			s->conns[n++] = s->conns[i];
	}
	s->n_conns = n;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sweep(arg);
}

/* The oldest connections shut down until at most MAX_CONNECTIONS are left, counting the one being made
 * (the last, which has no socket yet). */
static void evict(struct dt_metrics_server *s)
{
	size_t live = 0;
	for (size_t i = 0; i < s->n_conns; i++)
		live += !s->conns[i].shut;
	for (size_t i = 0; i + 1 < s->n_conns && live > MAX_CONNECTIONS; i++) {
		struct conn *c = &s->conns[i];
		if (c->shut)
			continue;
		evutil_socket_t sock = bufferevent_getfd(c->bev);
		if (sock >= 0)
			shutdown(sock, SHUT_RDWR);
		c->shut = true;
		live--;
		s->stats.evicted++;
	}
}

static struct bufferevent *on_connection(struct event_base *base, void *arg)
{
	struct dt_metrics_server *s = arg;
	sweep(s);
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL; /* evhttp tries to make one itself, and fails the connection if it cannot */
	s->stats.connections++;
	if (s->n_conns == s->cap_conns) {
		size_t cap = s->cap_conns != 0 ? 2 * s->cap_conns : MAX_CONNECTIONS + 8;
		struct conn *c = realloc(s->conns, cap * sizeof(*c));
		if (c == NULL)
			return bev; /* untracked: evhttp alone frees it */
		s->conns = c;
		s->cap_conns = cap;
	}
	bufferevent_incref(bev);
	s->conns[s->n_conns++] = (struct conn){bev, false};
	evict(s);
	return bev;
}

struct dt_metrics_server *dt_metrics_server_new(struct event_base *base, struct dt_stats *st, const char *host_port,
						dt_res *res)
{
	char host[256], port[8];
	bool bracketed;
	if (base == NULL || st == NULL ||
	    !dt__split_host_port(host_port, host, sizeof(host), port, sizeof(port), &bracketed)) {
		*res = DT_ERR_INVALID;
		return NULL;
	}
	struct dt_metrics_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	s->base = base;
	s->st = st;
	dt__cidr_parse("127.0.0.0/8", &s->allow[0]);
	dt__cidr_parse("::1", &s->allow[1]);
	s->n_allow = 2;
	s->http = evhttp_new(base);
	if (s->http == NULL) {
		free(s);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	evhttp_set_max_headers_size(s->http, MAX_HEADERS);
	evhttp_set_max_body_size(s->http, MAX_BODY);
	evhttp_set_timeout(s->http, TIMEOUT_S);
	/* every method reaches on_request, which answers 405 for the ones we do not serve */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_bevcb(s->http, on_connection, s);
	static const struct timeval second = {1, 0};
	s->sweep = event_new(base, -1, EV_PERSIST, on_sweep, s);
	if (s->sweep == NULL || event_add(s->sweep, &second) != 0) {
		if (s->sweep != NULL)
			event_free(s->sweep);
		evhttp_free(s->http);
		free(s);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	errno = 0;
	s->sock = evhttp_bind_socket_with_handle(s->http, host[0] != '\0' ? host : "0.0.0.0", (ev_uint16_t)atoi(port));
	if (s->sock == NULL) {
		int e = errno;
		event_free(s->sweep);
		evhttp_free(s->http);
		free(s);
		errno = e != 0 ? e : EADDRNOTAVAIL;
		*res = DT_ERR_IO;
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(s->sock), (struct sockaddr *)&ss, &len) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	*res = DT_OK;
	return s;
}

dt_res dt_metrics_server_allow(struct dt_metrics_server *s, const char *cidr)
{
	struct dt__cidr c;
	if (!dt__cidr_parse(cidr, &c))
		return DT_ERR_INVALID;
	if (!s->own_allow) {
		s->own_allow = true;
		s->n_allow = 0;
	}
	if (s->n_allow == MAX_ALLOW)
		return DT_ERR_NOMEM;
	s->allow[s->n_allow++] = c;
	return DT_OK;
}

unsigned dt_metrics_server_port(const struct dt_metrics_server *s)
{
	return s->port;
}

void dt_metrics_server_get_stats(const struct dt_metrics_server *s, struct dt_metrics_server_stats *out)
{
	*out = s->stats;
	out->connections_open = s->n_conns;
}

void dt_metrics_server_free(struct dt_metrics_server *s)
{
	if (s == NULL)
		return;
	evhttp_free(s->http); /* frees every connection: what is left of each is ours alone */
	for (size_t i = 0; i < s->n_conns; i++)
		bufferevent_decref(s->conns[i].bev);
	free(s->conns);
	event_free(s->sweep);
	dt__buf_free(&s->body);
	free(s);
}
