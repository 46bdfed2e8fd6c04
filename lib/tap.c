/* The tap API: how a C program produces dnstap, after CoreDNS's plugin (check that a tap is
 * configured, set the query time and address, include the wire message when `full`, set the type,
 * tap). A tap is a socket output plus the Dnstap envelope (identity, version); sending copies the
 * message's fields into the sender's queue and never waits; the sender's thread encodes it. */
#include "config.h"

#include "sender.h"

#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct dt_tap {
	struct dt_output *out;
	bool socket;        /* out is a socket output: queue records, encoded on its thread */
	pthread_mutex_t mu; /* otherwise: one encoder at a time, and out is not thread-safe */
	uint8_t *buf;       /* the encoding buffer (not socket) */
	size_t cap;
	uint64_t refused; /* messages dropped by the tap itself (too big to encode) */
	bool full;
	char *identity; /* NULL: none; freed after out is closed (the sender's thread reads them) */
	char *version;
};

void dt_tap_options_init(struct dt_tap_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	dt_sender_options_init(&opt->sender);
}

/* NULL -> def (which may be NULL), "" -> none, else a copy. Returns false when out of memory. */
static bool copy_field(char **dst, const char *v, const char *def)
{
	if (v == NULL)
		v = def;
	*dst = NULL;
	if (v == NULL || v[0] == '\0')
		return true;
	*dst = strdup(v);
	return *dst != NULL;
}

/* The envelope and the options; the output is attached by the caller. */
static struct dt_tap *tap_alloc(const struct dt_tap_options *opt, dt_res *res)
{
	char host[256];
	const char *host_default = NULL;
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		host_default = host;
	}
	struct dt_tap *t = calloc(1, sizeof(*t));
	if (t == NULL || !copy_field(&t->identity, opt->identity, host_default) ||
	    !copy_field(&t->version, opt->version, "libdnstap " PACKAGE_VERSION)) {
		if (t != NULL) {
			free(t->identity);
			free(t);
		}
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->full = opt->full;
	return t;
}

static void tap_free(struct dt_tap *t)
{
	int e = errno;
	pthread_mutex_destroy(&t->mu);
	free(t->buf);
	free(t->identity);
	free(t->version);
	free(t);
	errno = e;
}

struct dt_tap *dt_tap_new(struct dt_output *out, const struct dt_tap_options *opt, dt_res *res)
{
	dt_res dummy;
	if (res == NULL)
		res = &dummy;
	struct dt_tap_options defaults;
	if (opt == NULL) {
		dt_tap_options_init(&defaults);
		opt = &defaults;
	}
	if (out == NULL) {
		*res = DT_ERR_INVALID;
		return NULL;
	}
	struct dt_tap *t = tap_alloc(opt, res);
	if (t == NULL) {
		dt_output_close(out);
		return NULL;
	}
	t->out = out;
	t->socket = dt__is_socket_output(out);
	if (t->socket)
		dt__socket_set_envelope(t->out, t->identity, t->version);
	*res = DT_OK;
	return t;
}

struct dt_tap *dt_tap_open(const char *spec, const struct dt_tap_options *opt, dt_res *res)
{
	struct dt_tap_options defaults; /* res may be NULL: both calls below take that */
	if (opt == NULL) {
		dt_tap_options_init(&defaults);
		opt = &defaults;
	}
	struct dt_sender_options so = opt->sender;
	so.blocking = false; /* a tap never makes its caller wait */
	struct dt_output *out = dt_output_socket_open(spec, &so, res);
	if (out == NULL)
		return NULL;
	return dt_tap_new(out, opt, res);
}

bool dt_tap_full(const struct dt_tap *t)
{
	return t != NULL && t->full;
}

dt_res dt_tap_send(struct dt_tap *t, const struct dt_message *m)
{
	if (t == NULL)
		return DT_OK;
	if (m == NULL || m->type < DT_AUTH_QUERY || m->type > DT_UPDATE_RESPONSE)
		return DT_ERR_INVALID;
	if (t->socket)
		return dt__socket_send_message(t->out, m);
	/* Any other output: encode here, with the tap's envelope where m has none of its own. */
	struct dt_message e = *m;
	e.dnstap_type = DT_TYPE_MESSAGE;
	e.has_message = true;
	if (!e.has_identity && t->identity != NULL) {
		e.has_identity = true;
		e.identity = (struct dt_bytes){(const uint8_t *)t->identity, strlen(t->identity)};
	}
	if (!e.has_version && t->version != NULL) {
		e.has_version = true;
		e.version = (struct dt_bytes){(const uint8_t *)t->version, strlen(t->version)};
	}
	pthread_mutex_lock(&t->mu);
	size_t need = dt_encoded_size(&e), len = 0;
	dt_res res = DT_OK;
	if (need > t->cap) {
		uint8_t *nb = realloc(t->buf, need);
		if (nb == NULL) {
			t->refused++;
			res = DT_ERR_NOMEM;
		} else {
			t->buf = nb;
			t->cap = need;
		}
	}
	if (res == DT_OK)
		res = dt_encode(&e, t->buf, &len);
	if (res == DT_OK)
		res = dt_output_write(t->out, t->buf, len);
	pthread_mutex_unlock(&t->mu);
	return res;
}

dt_res dt_tap_stats(const struct dt_tap *t, struct dt_output_stats *st)
{
	if (t == NULL || st == NULL)
		return DT_ERR_INVALID;
	dt_res res = dt_output_stats(t->out, st);
	pthread_mutex_lock((pthread_mutex_t *)&t->mu);
	st->dropped += t->refused;
	pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
	return res;
}

uint64_t dt_tap_dropped(const struct dt_tap *t)
{
	struct dt_output_stats st;
	return dt_tap_stats(t, &st) == DT_OK ? st.dropped : 0;
}

dt_res dt_tap_close(struct dt_tap *t)
{
	if (t == NULL)
		return DT_OK;
	dt_res res = dt_output_close(t->out);
	tap_free(t);
	return res;
}

/* ==== Building messages ==== */

void dt_message_init(struct dt_message *m, int type)
{
	memset(m, 0, sizeof(*m));
	m->dnstap_type = DT_TYPE_MESSAGE;
	m->has_message = true;
	m->type = type;
}

void dt_message_set_type(struct dt_message *m, int type)
{
	m->type = type;
}

/* Address bytes and port of sa, with IPv4-mapped IPv6 addresses turned into plain IPv4 (CoreDNS does
 * the same: the dnstap readers then print 192.0.2.1, not ::ffff:192.0.2.1). */
static dt_res sockaddr_bytes(const struct sockaddr *sa, int *family, struct dt_bytes *addr, uint32_t *port)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (sa == NULL)
		return DT_ERR_INVALID;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		*family = DT_INET;
		*addr = (struct dt_bytes){(const uint8_t *)&in->sin_addr, 4};
		*port = ntohs(in->sin_port);
		return DT_OK;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		*port = ntohs(in6->sin6_port);
		if (memcmp(b, mapped, sizeof(mapped)) == 0) {
			*family = DT_INET;
			*addr = (struct dt_bytes){b + 12, 4};
		} else {
			*family = DT_INET6;
			*addr = (struct dt_bytes){b, 16};
		}
		return DT_OK;
	}
	return DT_ERR_INVALID;
}

/* Sets family, protocol, and one side's address and port from sa. */
static dt_res set_side(struct dt_message *m, const struct sockaddr *sa, int protocol, bool query)
{
	int family;
	struct dt_bytes addr;
	uint32_t port;
	dt_res res = sockaddr_bytes(sa, &family, &addr, &port);
	if (res != DT_OK)
		return res;
	m->has_socket_family = m->has_socket_protocol = true;
	m->socket_family = family;
	m->socket_protocol = protocol;
	if (query) {
		m->has_query_address = m->has_query_port = true;
		m->query_address = addr;
		m->query_port = port;
	} else {
		m->has_response_address = m->has_response_port = true;
		m->response_address = addr;
		m->response_port = port;
	}
	return DT_OK;
}

dt_res dt_message_set_query_address(struct dt_message *m, const struct sockaddr *sa, int protocol)
{
	return set_side(m, sa, protocol, true);
}

dt_res dt_message_set_response_address(struct dt_message *m, const struct sockaddr *sa, int protocol)
{
	return set_side(m, sa, protocol, false);
}

static struct timespec time_or_now(const struct timespec *ts)
{
	struct timespec now;
	if (ts != NULL)
		return *ts;
	clock_gettime(CLOCK_REALTIME, &now);
	return now;
}

void dt_message_set_query_time(struct dt_message *m, const struct timespec *ts)
{
	struct timespec t = time_or_now(ts);
	m->has_query_time_sec = m->has_query_time_nsec = true;
	m->query_time_sec = (uint64_t)t.tv_sec;
	m->query_time_nsec = (uint32_t)t.tv_nsec;
}

void dt_message_set_response_time(struct dt_message *m, const struct timespec *ts)
{
	struct timespec t = time_or_now(ts);
	m->has_response_time_sec = m->has_response_time_nsec = true;
	m->response_time_sec = (uint64_t)t.tv_sec;
	m->response_time_nsec = (uint32_t)t.tv_nsec;
}

void dt_message_set_query_message(struct dt_message *m, const void *wire, size_t len)
{
	m->has_query_message = true;
	m->query_message = (struct dt_bytes){wire, len};
}

void dt_message_set_response_message(struct dt_message *m, const void *wire, size_t len)
{
	m->has_response_message = true;
	m->response_message = (struct dt_bytes){wire, len};
}

void dt_message_set_query_zone(struct dt_message *m, const void *name, size_t len)
{
	m->has_query_zone = true;
	m->query_zone = (struct dt_bytes){name, len};
}
