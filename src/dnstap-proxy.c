/* dnstap-proxy: a DNS forwarder that taps every query and response, the way CoreDNS's dnstap and
 * forward plugins do: CLIENT_QUERY when a query arrives, FORWARDER_QUERY and FORWARDER_RESPONSE for the
 * upstream leg, CLIENT_RESPONSE once the answer is sent. Answers go back unchanged (TC stays TC; the
 * client retries over TCP, which is forwarded too). Taps go through the tap API of libdnstap, which
 * never makes the forwarding wait: with the collector down the proxy keeps answering at full speed.
 * One libevent loop serves every socket; UDP queries share a few upstream sockets under proxy-chosen
 * IDs and move in batches (recvmmsg/sendmmsg: a few system calls per batch, not four per query);
 * each TCP query gets its own upstream connection. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg (Linux, the BSDs) */
#include "config.h"

#include "proxy_wire.h"

#include <dnstap.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <getopt.h>
#include <syslog.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROG "dnstap-proxy"
#define MAX_LISTEN 16
#define N_UPSOCK 4         /* upstream UDP sockets (source ports) in use at once */
#define NSLOTS 65536       /* UDP queries in flight: one per proxy-chosen ID */
#define BATCH 64           /* datagrams per recvmmsg/sendmmsg */
#define ROUNDS 4           /* batches read per wake-up, so one busy socket cannot starve the others */
#define MAX_UDP_QUERY 4096 /* a longer UDP query (none is, in practice) is dropped */
#define EXPIRE_TICK_MS 50
#define TCP_IDLE_S 10

/* ==== Arguments ==== */

struct args {
	const char *listen[MAX_LISTEN];
	size_t n_listen;
	const char *upstream;
	const char *tap;
	bool full;
	const char *identity, *version;
	unsigned long queue;
	unsigned long timeout_ms;
	struct dt_tls_client_options tls; /* --tls and friends, or a tls:// --tap */
};

/* the help text reads as it prints: */
/* clang-format off */
static const char usage_text[] =
	"Usage: " PROG " --listen ADDR:PORT --upstream ADDR:PORT [--tap SPEC] [OPTION]...\n"
	"Forward DNS queries (UDP and TCP) to an upstream server and send a dnstap message for each\n"
	"query and response to a Frame Streams collector.\n"
	"\n"
	"  --listen ADDR:PORT    address to serve on, UDP and TCP (IPv4, or IPv6 in brackets:\n"
	"                        [::1]:5353); may be given several times\n"
	"  --upstream ADDR:PORT  server to forward to (IPv4, [IPv6] or a host name)\n"
	"  --tap SPEC            collector: /path or unix:///path (unix socket), tcp://HOST:PORT,\n"
	"                        tls://HOST:PORT (TCP with TLS, as CoreDNS writes it);\n"
	"                        without --tap, queries are only forwarded\n"
	"  --tls                 TLS to a tcp:// collector too (as tls://)\n"
	"  --tls-ca FILE         CAs the collector's certificate must come from (default: the system's)\n"
	"  --tls-server-name N   name sent as SNI and checked in its certificate (default: HOST)\n"
	"  --tls-cert FILE       client certificate (PEM) for a collector that requires one, with\n"
	"  --tls-key FILE        its private key\n"
	"  --tls-insecure        do not verify the collector's certificate\n"
	"  --full                include the wire-format DNS messages in the dnstap messages\n"
	"  --identity S          dnstap identity (default: the host name)\n"
	"  --version S           dnstap version (default: \"" PROG " " PACKAGE_VERSION "\")\n"
	"  --queue N             dnstap messages held while the collector is slow or away\n"
	"                        (default 10000); more are dropped and counted\n"
	"  --timeout MS          upstream timeout in milliseconds, answered with SERVFAIL (default 1500)\n"
	"  -h, --help            show this help and exit\n"
	"  --version             (without a value) show the program's version and exit\n"
	"\n"
	"Exit status: 0 after SIGINT or SIGTERM; 1 a socket could not be set up or the upstream name\n"
	"not resolved; 2 usage error.\n";
/* clang-format on */

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(code == 2 ? " (see " PROG " --help)\n" : "\n", stderr);
	exit(code);
}

static unsigned long parse_number(const char *flag, const char *v, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n == 0 || n > max)
		die(2, "--%s %s: not a number from 1 to %lu", flag, v, max);
	return n;
}

static void show_version(void)
{
	printf(PROG " (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	exit(0);
}

static void parse_args(int argc, char **argv, struct args *a)
{
	enum {
		O_LISTEN = 256,
		O_UPSTREAM,
		O_TAP,
		O_FULL,
		O_IDENTITY,
		O_VERSION,
		O_QUEUE,
		O_TIMEOUT,
		O_TLS,
		O_TLS_CA,
		O_TLS_SERVER_NAME,
		O_TLS_CERT,
		O_TLS_KEY,
		O_TLS_INSECURE
	};
	static const struct option opts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"upstream", required_argument, NULL, O_UPSTREAM},
		{"tap", required_argument, NULL, O_TAP},
		{"full", no_argument, NULL, O_FULL},
		{"identity", required_argument, NULL, O_IDENTITY},
		{"version", optional_argument, NULL, O_VERSION},
		{"queue", required_argument, NULL, O_QUEUE},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"tls", no_argument, NULL, O_TLS},
		{"tls-ca", required_argument, NULL, O_TLS_CA},
		{"tls-server-name", required_argument, NULL, O_TLS_SERVER_NAME},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"tls-insecure", no_argument, NULL, O_TLS_INSECURE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	a->queue = 10000;
	a->timeout_ms = 1500;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (a->n_listen == MAX_LISTEN)
				die(2, "--listen: at most %d addresses", MAX_LISTEN);
			a->listen[a->n_listen++] = optarg;
			break;
		case O_UPSTREAM:
			if (a->upstream != NULL)
				die(2, "--upstream given twice (%s, %s): the proxy forwards to one server", a->upstream,
				    optarg);
			a->upstream = optarg;
			break;
		case O_TAP:
			if (a->tap != NULL)
				die(2, "--tap given twice (%s, %s): the proxy taps to one collector", a->tap, optarg);
			a->tap = optarg;
			break;
		case O_FULL:
			a->full = true;
			break;
		case O_IDENTITY:
			a->identity = optarg;
			break;
		case O_VERSION:
			/* "--version S" sets the dnstap version; a bare "--version" shows ours */
			if (optarg != NULL)
				a->version = optarg;
			else if (optind < argc && argv[optind][0] != '-')
				a->version = argv[optind++];
			else
				show_version();
			break;
		case O_QUEUE:
			a->queue = parse_number("queue", optarg, 100000000);
			break;
		case O_TIMEOUT:
			a->timeout_ms = parse_number("timeout", optarg, 3600000);
			break;
		case O_TLS:
			a->tls.enable = true;
			break;
		case O_TLS_CA:
			a->tls.ca_file = optarg;
			break;
		case O_TLS_SERVER_NAME:
			a->tls.server_name = optarg;
			break;
		case O_TLS_CERT:
			a->tls.cert_file = optarg;
			break;
		case O_TLS_KEY:
			a->tls.key_file = optarg;
			break;
		case O_TLS_INSECURE:
			a->tls.insecure = true;
			break;
		case 'V':
			show_version();
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			die(2, "%s: option needs a value", argv[optind - 1]);
		default:
			die(2, "%s: unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(2, "%s: unexpected argument", argv[optind]);
	if (a->n_listen == 0)
		die(2, "--listen: at least one address is needed");
	if (a->upstream == NULL)
		die(2, "--upstream: an address is needed");
	bool tls_tap = a->tap != NULL &&
		       (strncmp(a->tap, "tls://", 6) == 0 || (a->tls.enable && strncmp(a->tap, "tcp://", 6) == 0));
	if (a->tls.enable && !tls_tap)
		die(2, "--tls needs a --tap tcp://HOST:PORT collector");
	if ((a->tls.ca_file != NULL || a->tls.server_name != NULL || a->tls.cert_file != NULL ||
	     a->tls.key_file != NULL || a->tls.insecure) &&
	    !tls_tap)
		die(2,
		    "--tls-ca, --tls-server-name, --tls-cert, --tls-key and --tls-insecure need --tap tls://HOST:PORT");
	if ((a->tls.cert_file != NULL) != (a->tls.key_file != NULL))
		die(2, "--tls-cert and --tls-key go together");
}

/* Splits ADDR:PORT ([v6]:port for IPv6) and resolves it; numeric_host refuses names. Returns 0, or the
 * exit status its failure deserves: 2 for a malformed address, 1 for a name the resolver cannot find
 * (that is the environment's doing, not the command line's). */
static int resolve(const char *spec, bool numeric_host, struct sockaddr_storage *ss, socklen_t *len, const char **why)
{
	char host[256];
	const char *port;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host)) {
			*why = "expected [IPv6]:PORT";
			return 2;
		}
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL || colon == spec || memchr(spec, ':', (size_t)(colon - spec)) != NULL ||
		    (size_t)(colon - spec) >= sizeof(host)) {
			*why = "expected ADDR:PORT (IPv6 in brackets)";
			return 2;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	char *end;
	long pn = strtol(port, &end, 10);
	if (port[0] == '\0' || *end != '\0' || pn < 1 || pn > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return 2;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICSERV | (numeric_host ? AI_NUMERICHOST : 0)};
	struct addrinfo *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*why = numeric_host && rc == EAI_NONAME ? "not an IP address" : gai_strerror(rc);
		return numeric_host && rc == EAI_NONAME ? 2 : 1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ==== State ==== */

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

struct proxy;

struct endpoint {
	struct proxy *p;
	const char *name;
	union addr addr;
	socklen_t addr_len;
	int udp_fd;
	struct event *ev_udp;
	struct evconnlistener *tcp;
};

struct upsock {
	struct proxy *p;
	int fd;
	struct event *ev;
	union addr local;
};

/* A UDP query in flight, indexed by the ID it carries upstream. */
struct slot {
	int32_t prev, next; /* timeout order */
	bool used;
	uint8_t ep, up;
	uint16_t client_id;
	uint16_t qlen;
	socklen_t client_len;
	union addr client;
	struct timespec t_query, t_fwd;
	uint64_t deadline;
	uint8_t q[DNS_QKEEP];
};

struct tcp_query;

struct tcp_client {
	struct proxy *p;
	struct endpoint *ep;
	struct bufferevent *bev;
	union addr peer;
	unsigned inflight;
	struct tcp_client *prev, *next;
	bool eof;
};

struct tcp_query {
	struct proxy *p;
	struct tcp_client *c;          /* NULL once the client has gone */
	struct tcp_query *prev, *next; /* all TCP queries in flight */
	struct bufferevent *up;
	struct event *timer;
	union addr local;
	struct timespec t_query, t_fwd;
	size_t len;
	uint8_t *q;
};

/* Datagrams received in one recvmmsg. */
struct rx {
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	union addr from[BATCH];
};

/* Datagrams to send with one sendmmsg, and the slot each belongs to. */
struct tx {
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int32_t id[BATCH];
	int n;
};

struct proxy {
	struct args a;
	struct event_base *base;
	struct dt_tap *tap;
	union addr upstream;
	socklen_t upstream_len;
	struct endpoint ep[MAX_LISTEN];
	size_t n_ep;
	struct upsock up[N_UPSOCK];
	unsigned next_up;
	struct slot *slots;
	uint16_t *free_ids;
	size_t n_free;
	int32_t fifo_head, fifo_tail;
	struct event *ev_expire, *ev_int, *ev_term;
	struct tcp_client *clients;
	struct tcp_query *tcp_queries;
	struct rx rxq, rxa; /* queries from clients, answers from the upstream */
	uint8_t qbuf[BATCH][MAX_UDP_QUERY];
	uint8_t abuf[BATCH][65536];
	struct tx up_tx[N_UPSOCK];   /* queries to forward, per upstream socket */
	struct tx ep_tx[MAX_LISTEN]; /* answers to return, per listening socket */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timespec wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* ==== Taps (as CoreDNS sets them) ==== */

static void tap_client(struct proxy *p, int type, const struct sockaddr *client, int proto, const struct timespec *tq,
		       const struct timespec *tr, const uint8_t *wire, size_t len)
{
	struct dt_message m;
	tap_client_message(&m, type, client, proto, tq, tr, dt_tap_full(p->tap), wire, len);
	dt_tap_send(p->tap, &m);
}

/* The upstream leg: the proxy's own socket initiates, the upstream responds. */
static void tap_forwarder(struct proxy *p, int type, const struct sockaddr *local, int proto, const struct timespec *tq,
			  const struct timespec *tr, const uint8_t *wire, size_t len)
{
	struct dt_message m;
	tap_forwarder_message(&m, type, local, &p->upstream.sa, proto, tq, tr, dt_tap_full(p->tap), wire, len);
	dt_tap_send(p->tap, &m);
}

static bool tap_said_error; /* the tap's own LOG_ERR line said why it cannot open (TLS files) */

static void tap_log(void *arg, int level, const char *line)
{
	(void)arg;
	if (level <= LOG_ERR)
		tap_said_error = true;
	fprintf(stderr, PROG ": dnstap: %s\n", line);
}

/* ==== UDP ==== */

static void fifo_remove(struct proxy *p, int32_t id)
{
	struct slot *s = &p->slots[id];
	if (s->prev >= 0)
		p->slots[s->prev].next = s->next;
	else
		p->fifo_head = s->next;
	if (s->next >= 0)
		p->slots[s->next].prev = s->prev;
	else
		p->fifo_tail = s->prev;
}

static void fifo_push(struct proxy *p, int32_t id)
{
	struct slot *s = &p->slots[id];
	s->next = -1;
	s->prev = p->fifo_tail;
	if (p->fifo_tail >= 0)
		p->slots[p->fifo_tail].next = id;
	else
		p->fifo_head = id;
	p->fifo_tail = id;
}

static void slot_release(struct proxy *p, int32_t id)
{
	p->slots[id].used = false;
	p->free_ids[p->n_free++] = (uint16_t)id;
}

static void udp_reply_servfail(struct proxy *p, struct endpoint *ep, const uint8_t *q, size_t qlen, uint16_t id,
			       const struct sockaddr *client, socklen_t client_len, const struct timespec *tq)
{
	uint8_t out[DNS_QKEEP];
	size_t n = dns_servfail(out, q, qlen, id);
	if (sendto(ep->udp_fd, out, n, 0, client, client_len) < 0)
		return;
	if (p->tap != NULL) {
		struct timespec tr = wall();
		tap_client(p, DT_CLIENT_RESPONSE, client, DT_UDP, tq, &tr, out, n);
	}
}

static void udp_query(struct proxy *p, struct endpoint *ep, uint8_t *q, size_t len, const union addr *from,
		      socklen_t from_len)
{
	if (!dns_is_query(q, len))
		return;
	struct timespec tq = wall();
	if (p->tap != NULL)
		tap_client(p, DT_CLIENT_QUERY, &from->sa, DT_UDP, &tq, NULL, q, len);
	uint16_t client_id = dns_id(q);
	size_t qlen = dns_question_end(q, len);
	if (p->n_free == 0) {
		udp_reply_servfail(p, ep, q, qlen, client_id, &from->sa, from_len, &tq);
		return;
	}
	int32_t id = p->free_ids[--p->n_free];
	struct slot *s = &p->slots[id];
	s->used = true;
	s->ep = (uint8_t)(ep - p->ep);
	s->up = (uint8_t)(p->next_up++ % N_UPSOCK);
	s->client_id = client_id;
	s->client = *from;
	s->client_len = from_len;
	s->t_query = tq;
	s->qlen = (uint16_t)qlen;
	memcpy(s->q, q, qlen);

	/* the upstream sees our ID: clients may reuse each other's */
	dns_set_id(q, (uint16_t)id);
	struct tx *t = &p->up_tx[s->up];
	t->iov[t->n] = (struct iovec){.iov_base = q, .iov_len = len};
	t->id[t->n++] = id;
}

/* Sends the queries gathered for each upstream socket; a query that cannot be sent gets SERVFAIL. */
static void flush_upstream(struct proxy *p)
{
	for (unsigned u = 0; u < N_UPSOCK; u++) {
		struct tx *t = &p->up_tx[u];
		if (t->n == 0)
			continue;
		for (int k = 0; k < t->n; k++)
			t->m[k].msg_hdr = (struct msghdr){.msg_iov = &t->iov[k], .msg_iovlen = 1};
		int sent = sendmmsg(p->up[u].fd, t->m, (unsigned)t->n, 0);
		struct timespec tf = wall();
		uint64_t deadline = now_ms() + p->a.timeout_ms;
		for (int k = 0; k < t->n; k++) {
			int32_t id = t->id[k];
			struct slot *s = &p->slots[id];
			if (k >= sent) {
				slot_release(p, id);
				udp_reply_servfail(p, &p->ep[s->ep], s->q, s->qlen, s->client_id, &s->client.sa,
						   s->client_len, &s->t_query);
				continue;
			}
			s->t_fwd = tf;
			s->deadline = deadline;
			fifo_push(p, id);
			if (p->tap != NULL)
				tap_forwarder(p, DT_FORWARDER_QUERY, &p->up[u].local.sa, DT_UDP, &tf, NULL,
					      t->iov[k].iov_base, t->iov[k].iov_len);
		}
		t->n = 0;
	}
}

static void udp_answer(struct proxy *p, unsigned up, uint8_t *r, size_t len)
{
	if (!dns_is_answer(r, len))
		return;
	int32_t id = dns_id(r);
	struct slot *s = &p->slots[id];
	if (!s->used || s->up != up || !dns_same_question(s->q, s->qlen, r, len))
		return; /* late (timed out) or foreign */
	fifo_remove(p, id);
	s->used = false; /* a duplicate answer finds nothing; the slot is free again after the send */
	if (p->tap != NULL) {
		struct timespec tr = wall();
		tap_forwarder(p, DT_FORWARDER_RESPONSE, &p->up[up].local.sa, DT_UDP, &s->t_fwd, &tr, r, len);
	}
	dns_set_id(r, s->client_id);
	struct tx *t = &p->ep_tx[s->ep];
	t->iov[t->n] = (struct iovec){.iov_base = r, .iov_len = len};
	t->id[t->n++] = id;
}

/* Returns the gathered answers to their clients, taps CLIENT_RESPONSE for each one sent, and frees
 * their slots. */
static void flush_clients(struct proxy *p)
{
	for (size_t e = 0; e < p->n_ep; e++) {
		struct tx *t = &p->ep_tx[e];
		if (t->n == 0)
			continue;
		for (int k = 0; k < t->n; k++) {
			struct slot *s = &p->slots[t->id[k]];
			t->m[k].msg_hdr = (struct msghdr){.msg_name = &s->client,
							  .msg_namelen = s->client_len,
							  .msg_iov = &t->iov[k],
							  .msg_iovlen = 1};
		}
		int sent = sendmmsg(p->ep[e].udp_fd, t->m, (unsigned)t->n, 0);
		struct timespec tr = wall();
		for (int k = 0; k < t->n; k++) {
			struct slot *s = &p->slots[t->id[k]];
			if (k < sent && p->tap != NULL)
				tap_client(p, DT_CLIENT_RESPONSE, &s->client.sa, DT_UDP, &s->t_query, &tr,
					   t->iov[k].iov_base, t->iov[k].iov_len);
			p->free_ids[p->n_free++] = (uint16_t)t->id[k];
		}
		t->n = 0;
	}
}

/* Points rx's entries at bufs (BATCH buffers of size bytes), once. */
static void rx_init(struct rx *rx, uint8_t *bufs, size_t size)
{
	for (int i = 0; i < BATCH; i++) {
		rx->iov[i] = (struct iovec){.iov_base = bufs + (size_t)i * size, .iov_len = size};
		rx->m[i].msg_hdr = (struct msghdr){.msg_name = &rx->from[i],
						   .msg_namelen = sizeof(rx->from[i]),
						   .msg_iov = &rx->iov[i],
						   .msg_iovlen = 1};
	}
}

/* Reads up to BATCH datagrams. Returns how many (0 on EAGAIN or error: an ICMP error from an earlier
 * datagram is nothing to act on; a query then times out). Call rx_done() once they are handled. */
static int receive(int fd, struct rx *rx)
{
	int n = recvmmsg(fd, rx->m, BATCH, MSG_DONTWAIT, NULL);
	return n < 0 ? 0 : n;
}

/* recvmmsg() changed the address lengths of the first n entries: make them whole again. */
static void rx_done(struct rx *rx, int n)
{
	for (int i = 0; i < n; i++)
		rx->m[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
}

static void on_udp_client(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct endpoint *ep = arg;
	struct proxy *p = ep->p;
	for (int round = 0; round < ROUNDS; round++) {
		int n = receive(fd, &p->rxq);
		for (int i = 0; i < n; i++)
			if (!(p->rxq.m[i].msg_hdr.msg_flags & MSG_TRUNC))
				udp_query(p, ep, p->qbuf[i], p->rxq.m[i].msg_len, &p->rxq.from[i],
					  p->rxq.m[i].msg_hdr.msg_namelen);
		flush_upstream(p);
		rx_done(&p->rxq, n);
		if (n < BATCH)
			return;
	}
}

static void on_udp_upstream(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct upsock *u = arg;
	struct proxy *p = u->p;
	for (int round = 0; round < ROUNDS; round++) {
		int n = receive(fd, &p->rxa);
		for (int i = 0; i < n; i++)
			udp_answer(p, (unsigned)(u - p->up), p->abuf[i], p->rxa.m[i].msg_len);
		flush_clients(p);
		rx_done(&p->rxa, n);
		if (n < BATCH)
			return;
	}
}

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct proxy *p = arg;
	uint64_t now = now_ms();
	while (p->fifo_head >= 0 && p->slots[p->fifo_head].deadline <= now) {
		int32_t id = p->fifo_head;
		struct slot *s = &p->slots[id];
		fifo_remove(p, id);
		udp_reply_servfail(p, &p->ep[s->ep], s->q, s->qlen, s->client_id, &s->client.sa, s->client_len,
				   &s->t_query);
		slot_release(p, id);
	}
}

/* ==== TCP ==== */

static void client_free(struct tcp_client *c)
{
	for (struct tcp_query *q = c->p->tcp_queries; q != NULL && c->inflight > 0; q = q->next)
		if (q->c == c) {
			q->c = NULL; /* its answer will be tapped, then dropped */
			c->inflight--;
		}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->p->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

static void client_done_writing(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_free(arg);
}

/* The client half-closed and its last answer is out: close once the answer has left. */
static void client_maybe_close(struct tcp_client *c)
{
	if (!c->eof || c->inflight > 0)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
	else
		bufferevent_setcb(c->bev, NULL, client_done_writing, NULL, c);
}

static void query_free(struct tcp_query *q)
{
	struct tcp_client *c = q->c;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->p->tcp_queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (c != NULL)
		c->inflight--;
	if (q->up != NULL)
		bufferevent_free(q->up);
	if (q->timer != NULL)
		event_free(q->timer);
	free(q->q);
	free(q);
	if (c != NULL)
		client_maybe_close(c);
}

static void tcp_answer_client(struct tcp_query *q, const uint8_t *r, size_t len)
{
	struct tcp_client *c = q->c;
	struct proxy *p = q->p;
	if (c == NULL)
		return;
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	bufferevent_write(c->bev, hdr, 2);
	bufferevent_write(c->bev, r, len);
	if (p->tap != NULL) {
		struct timespec tr = wall();
		tap_client(p, DT_CLIENT_RESPONSE, &c->peer.sa, DT_TCP, &q->t_query, &tr, r, len);
	}
}

static void tcp_fail(struct tcp_query *q)
{
	uint8_t out[DNS_QKEEP];
	size_t n = dns_servfail(out, q->q, dns_question_end(q->q, q->len), dns_id(q->q));
	tcp_answer_client(q, out, n);
	query_free(q);
}

static void on_tcp_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tcp_fail(arg);
}

static void on_up_read(struct bufferevent *bev, void *arg)
{
	struct tcp_query *q = arg;
	struct proxy *p = q->p;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2];
	if (evbuffer_copyout(in, hdr, 2) < 2)
		return;
	size_t len = (size_t)hdr[0] << 8 | hdr[1];
	if (evbuffer_get_length(in) < 2 + len)
		return;
	evbuffer_drain(in, 2);
	uint8_t *r = evbuffer_pullup(in, (ssize_t)len);
	if (r == NULL || len < DNS_HEADER_LEN) {
		tcp_fail(q);
		return;
	}
	if (p->tap != NULL) {
		struct timespec tr = wall();
		tap_forwarder(p, DT_FORWARDER_RESPONSE, &q->local.sa, DT_TCP, &q->t_fwd, &tr, r, len);
	}
	tcp_answer_client(q, r, len);
	query_free(q);
}

static void on_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_query *q = arg;
	struct proxy *p = q->p;
	if (what & BEV_EVENT_CONNECTED) {
		socklen_t l = sizeof(q->local);
		getsockname(bufferevent_getfd(bev), &q->local.sa, &l);
		if (p->tap != NULL)
			tap_forwarder(p, DT_FORWARDER_QUERY, &q->local.sa, DT_TCP, &q->t_fwd, NULL, q->q, q->len);
		return;
	}
	tcp_fail(q); /* refused, reset, or closed before the answer */
}

static void tcp_query_start(struct tcp_client *c, uint8_t *qbuf, size_t len)
{
	struct proxy *p = c->p;
	struct tcp_query *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		free(qbuf);
		return;
	}
	q->p = p;
	q->q = qbuf;
	q->len = len;
	q->t_query = wall();
	q->c = c;
	c->inflight++;
	q->next = p->tcp_queries;
	if (p->tcp_queries != NULL)
		p->tcp_queries->prev = q;
	p->tcp_queries = q;
	if (p->tap != NULL)
		tap_client(p, DT_CLIENT_QUERY, &c->peer.sa, DT_TCP, &q->t_query, NULL, qbuf, len);

	q->timer = evtimer_new(p->base, on_tcp_timeout, q);
	q->up = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (q->timer == NULL || q->up == NULL) {
		tcp_fail(q);
		return;
	}
	struct timeval tv = {.tv_sec = (time_t)(p->a.timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(p->a.timeout_ms % 1000) * 1000};
	evtimer_add(q->timer, &tv);
	bufferevent_setcb(q->up, on_up_read, NULL, on_up_event, q);
	q->t_fwd = wall();
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	bufferevent_write(q->up, hdr, 2);
	bufferevent_write(q->up, qbuf, len);
	bufferevent_enable(q->up, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(q->up, &p->upstream.sa, (int)p->upstream_len) != 0)
		tcp_fail(q);
}

static void on_client_read(struct bufferevent *bev, void *arg)
{
	struct tcp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t head[TCP_HEAD_LEN];
		size_t avail = evbuffer_get_length(in);
		ev_ssize_t h = evbuffer_copyout(in, head, sizeof(head));
		size_t len;
		enum tcp_next next = tcp_next_message(head, h > 0 ? (size_t)h : 0, avail, &len);
		if (next == TCP_NEED_MORE)
			return;
		evbuffer_drain(in, 2);
		/* too short for a query, an answer (not a query), or no memory for it: skipped */
		uint8_t *q = next == TCP_QUERY ? malloc(len) : NULL;
		if (q == NULL) {
			evbuffer_drain(in, len);
			continue;
		}
		evbuffer_remove(in, q, len);
		tcp_query_start(c, q, len);
	}
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_client *c = arg;
	if ((what & BEV_EVENT_TIMEOUT) && c->inflight > 0) {
		bufferevent_enable(bev, EV_READ); /* idle only while nothing is in flight */
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->inflight > 0) {
		c->eof = true; /* half-closed: answer what was asked, then close */
		return;
	}
	client_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	struct endpoint *ep = arg;
	struct proxy *p = ep->p;
	struct tcp_client *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c == NULL || bev == NULL) {
		free(c);
		if (bev != NULL)
			bufferevent_free(bev);
		else
			close(fd);
		return;
	}
	c->p = p;
	c->ep = ep;
	c->bev = bev;
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ? (size_t)salen : sizeof(c->peer));
	c->next = p->clients;
	if (p->clients != NULL)
		p->clients->prev = c;
	p->clients = c;
	struct timeval idle = {.tv_sec = TCP_IDLE_S};
	bufferevent_set_timeouts(bev, &idle, NULL);
	bufferevent_setcb(bev, on_client_read, NULL, on_client_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ==== Setup and teardown ==== */

static int bound_socket(const union addr *a, socklen_t len, int type, const char *name)
{
	int fd = socket(a->sa.sa_family, type, 0);
	if (fd < 0)
		die(1, "%s: socket: %s", name, strerror(errno));
	int one = 1;
	/* TCP only: for UDP, Linux would let two sockets with SO_REUSEADDR share the port */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a->sa, len) != 0)
		die(1, "%s: bind (%s): %s", name, type == SOCK_DGRAM ? "UDP" : "TCP", strerror(errno));
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	return fd;
}

static void open_endpoints(struct proxy *p)
{
	for (size_t i = 0; i < p->a.n_listen; i++) {
		struct endpoint *ep = &p->ep[i];
		const char *why;
		ep->p = p;
		ep->name = p->a.listen[i];
		int rc = resolve(ep->name, true, &ep->addr.ss, &ep->addr_len, &why);
		if (rc != 0)
			die(rc, "--listen %s: %s", ep->name, why);
		ep->udp_fd = bound_socket(&ep->addr, ep->addr_len, SOCK_DGRAM, ep->name);
		int rcvbuf = 4 * 1024 * 1024;
		setsockopt(ep->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		ep->ev_udp = event_new(p->base, ep->udp_fd, EV_READ | EV_PERSIST, on_udp_client, ep);
		int tfd = bound_socket(&ep->addr, ep->addr_len, SOCK_STREAM, ep->name);
		ep->tcp = evconnlistener_new(p->base, on_accept, ep, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
					     tfd);
		if (ep->ev_udp == NULL || ep->tcp == NULL || event_add(ep->ev_udp, NULL) != 0)
			die(1, "%s: listen: %s", ep->name, strerror(errno));
		p->n_ep++;
	}
}

static void open_upstream(struct proxy *p)
{
	const char *why;
	int rc = resolve(p->a.upstream, false, &p->upstream.ss, &p->upstream_len, &why);
	if (rc != 0)
		die(rc, "--upstream %s: %s", p->a.upstream, why);
	for (int i = 0; i < N_UPSOCK; i++) {
		struct upsock *u = &p->up[i];
		u->p = p;
		u->fd = socket(p->upstream.sa.sa_family, SOCK_DGRAM, 0);
		if (u->fd < 0 || connect(u->fd, &p->upstream.sa, p->upstream_len) != 0)
			die(1, "%s: %s", p->a.upstream, strerror(errno));
		socklen_t l = sizeof(u->local);
		getsockname(u->fd, &u->local.sa, &l);
		int rcvbuf = 4 * 1024 * 1024;
		setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		evutil_make_socket_nonblocking(u->fd);
		evutil_make_socket_closeonexec(u->fd);
		u->ev = event_new(p->base, u->fd, EV_READ | EV_PERSIST, on_udp_upstream, u);
		if (u->ev == NULL || event_add(u->ev, NULL) != 0)
			die(1, "%s: event: %s", p->a.upstream, strerror(errno));
	}
}

static void open_tap(struct proxy *p)
{
	if (p->a.tap == NULL)
		return;
	struct dt_tap_options o;
	dt_tap_options_init(&o);
	o.identity = p->a.identity;
	o.version = p->a.version != NULL ? p->a.version : PROG " " PACKAGE_VERSION;
	o.full = p->a.full;
	o.sender.queue_size = p->a.queue;
	o.sender.log = tap_log;
	o.sender.tls = p->a.tls;
	dt_res res;
	p->tap = dt_tap_open(p->a.tap, &o, &res);
	if (p->tap == NULL) {
		const char *path = strncmp(p->a.tap, "unix://", 7) == 0 ? p->a.tap + 7 : p->a.tap;
		if (res == DT_ERR_INVALID && path[0] == '/' &&
		    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			die(2, "--tap %s: %s", p->a.tap, strerror(ENAMETOOLONG));
		if (res == DT_ERR_INVALID && tap_said_error)
			die(2, "--tap %s: the TLS files above cannot be used", p->a.tap);
		if (res == DT_ERR_INVALID)
			die(2,
			    "--tap %s: not a collector address (/path, unix:///path, tcp://HOST:PORT or tls://HOST:PORT)",
			    p->a.tap);
		die(1, "--tap %s: %s", p->a.tap, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct proxy *p = arg;
	event_base_loopbreak(p->base);
}

static bool setup(struct proxy *p)
{
	p->base = event_base_new();
	if (p->base == NULL)
		die(1, "event loop: %s", strerror(errno));
	p->slots = calloc(NSLOTS, sizeof(*p->slots));
	p->free_ids = malloc(NSLOTS * sizeof(*p->free_ids));
	if (p->slots == NULL || p->free_ids == NULL)
		die(1, "memory: %s", strerror(ENOMEM));
	/* IDs handed out in a shuffled order, reused last-in first-out (the working set stays small) */
	for (uint32_t i = 0; i < NSLOTS; i++)
		p->free_ids[i] = (uint16_t)i;
	srandom((unsigned)(now_ms() ^ (uint64_t)getpid() << 16));
	for (uint32_t i = NSLOTS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)random() % (i + 1);
		uint16_t t = p->free_ids[i];
		p->free_ids[i] = p->free_ids[j];
		p->free_ids[j] = t;
	}
	p->n_free = NSLOTS;
	p->fifo_head = p->fifo_tail = -1;
	rx_init(&p->rxq, &p->qbuf[0][0], sizeof(p->qbuf[0]));
	rx_init(&p->rxa, &p->abuf[0][0], sizeof(p->abuf[0]));

	open_tap(p); /* first: a malformed --tap is a usage error, whatever else happens */
	open_endpoints(p);
	open_upstream(p);
	p->ev_expire = event_new(p->base, -1, EV_PERSIST, on_expire, p);
	struct timeval tick = {.tv_usec = EXPIRE_TICK_MS * 1000};
	p->ev_int = evsignal_new(p->base, SIGINT, on_signal, p);
	p->ev_term = evsignal_new(p->base, SIGTERM, on_signal, p);
	if (p->ev_expire == NULL || p->ev_int == NULL || p->ev_term == NULL || event_add(p->ev_expire, &tick) != 0 ||
	    event_add(p->ev_int, NULL) != 0 || event_add(p->ev_term, NULL) != 0)
		die(1, "event loop: %s", strerror(errno));
	return true;
}

static void teardown(struct proxy *p)
{
	while (p->clients != NULL)
		client_free(p->clients);
	while (p->tcp_queries != NULL)
		query_free(p->tcp_queries);
	for (size_t i = 0; i < p->n_ep; i++) {
		event_free(p->ep[i].ev_udp);
		close(p->ep[i].udp_fd);
		evconnlistener_free(p->ep[i].tcp);
	}
	for (int i = 0; i < N_UPSOCK; i++) {
		event_free(p->up[i].ev);
		close(p->up[i].fd);
	}
	event_free(p->ev_expire);
	event_free(p->ev_int);
	event_free(p->ev_term);
	event_base_free(p->base);
	free(p->slots);
	free(p->free_ids);
}

int main(int argc, char **argv)
{
	static struct proxy p; /* large (the datagram buffer): not on the stack */
	parse_args(argc, argv, &p.a);
	signal(SIGPIPE, SIG_IGN);
	setup(&p);
	event_base_dispatch(p.base);

	/* bounded: flush, STOP, FINISH within the sender's timeout; the library logs the totals */
	dt_res res = dt_tap_close(p.tap);
	if (res != DT_OK)
		fprintf(stderr, PROG ": dnstap: %s: %s\n", p.a.tap,
			res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	teardown(&p);
	return 0;
}
