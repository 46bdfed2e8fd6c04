/* The byte transport under Frame Streams connections: the listener (input_listener.c) and the socket
 * sender (output_socket.c) read, write and close a connection only through these operations, so that a
 * transport with a handshake and buffering of its own (TLS) is one more transport_*.c file and the frame
 * handling above it does not change. Plain unix and TCP sockets are transport_plain.c. Internal to
 * libdnstap.
 *
 * Everything is non-blocking and runs on the thread that owns the connection. A call that cannot go on
 * without waiting fails with errno EAGAIN and leaves in t->want the events (DT_TR_READ, DT_TR_WRITE) the
 * caller must wait for on t->fd before calling again: a TLS read may need the socket writable, a TLS
 * write may need it readable. Bytes a transport has already taken from the socket but not yet handed
 * out (dt__tr_pending()) make no event at all: after a read the caller keeps reading while any are
 * pending. */
#ifndef DT_TRANSPORT_H
#define DT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Events a transport waits for (t->want). */
#define DT_TR_READ 1
#define DT_TR_WRITE 2

#define DT_TR_PEER_MAX 96 /* "[v6 address%scope]:port", plus room for a transport's own words */

struct dt_transport;

struct dt_transport_ops {
	/* Advances the transport's own handshake (TLS): 1 when done (data may flow), 0 when it must wait
	 * for t->want, -1 when it failed (errno set; dt__tr_error() says more). NULL: no handshake. */
	int (*handshake)(struct dt_transport *t);
	/* Reads into iov like readv(2): bytes read, 0 at the peer's orderly end, -1 with errno. */
	ssize_t (*readv)(struct dt_transport *t, const struct iovec *iov, int iovcnt);
	/* Writes from iov like writev(2), never raising SIGPIPE: bytes written (possibly fewer), -1 with
	 * errno. */
	ssize_t (*writev)(struct dt_transport *t, const struct iovec *iov, int iovcnt);
	/* Bytes taken from the socket and not yet read by the caller: readable although the socket is not
	 * (0 for plain sockets). */
	size_t (*pending)(const struct dt_transport *t);
	/* Bytes that a read could return now without waiting: those the kernel holds plus the pending ones
	 * (TLS: the kernel's count includes record overhead, so it is an upper bound). -1 with errno. */
	ssize_t (*readable)(const struct dt_transport *t);
	/* Says this end will write no more, without waiting (plain: shutdown(SHUT_WR); TLS: close_notify),
	 * while reading goes on: a peer that reads sees its end, stops writing and closes, and every byte it
	 * wrote before that can still be read. 0, or -1 with errno. */
	int (*shutdown)(struct dt_transport *t);
	/* Closes the connection (TLS: tries to say so first, without waiting) and frees t. */
	void (*close)(struct dt_transport *t);
};

/* One connection. A transport allocates a larger struct that starts with this one. */
struct dt_transport {
	const struct dt_transport_ops *ops;
	int fd;                    /* the socket, owned by the transport, for the caller's events only */
	int want;                  /* after EAGAIN: DT_TR_READ and/or DT_TR_WRITE */
	char peer[DT_TR_PEER_MAX]; /* the remote end for log lines ("192.0.2.1:40112"), "" when it has none
				    * worth saying (a unix socket) */
	char error[160];           /* the last failure in the transport's own words, "" when errno says it */
	char info[256];            /* once a handshake is done, what it agreed, for the connection's log line
				    * ("TLSv1.3, client certificate \"CN=ns1\""); "" for none */
};

/* A kind of transport, chosen per listening socket (the listener) or per target (the sender's spec
 * scheme). A kind with configuration (TLS: a context, names, certificates) embeds this struct first in
 * its own, which outlives every connection made with it; the plain kinds are constants. */
struct dt_transport_kind {
	const char *name; /* "unix", "tcp" */
	/* Wraps fd, a connected non-blocking stream socket; server: accepted by a listener (else connected by
	 * a sender). peer (may be NULL) is the remote address, for t->peer. The transport owns fd from now
	 * on, and closes it also when this fails (NULL, errno). */
	struct dt_transport *(*wrap)(const struct dt_transport_kind *kind, int fd, bool server,
				     const struct sockaddr *peer, socklen_t peer_len);
};

extern const struct dt_transport_kind dt__transport_unix, dt__transport_tcp;

/* TLS (transport_tls.c). A server kind reads opt's files now (and again at each dt__tls_reload(), for the
 * connections wrapped after it); a client kind checks the collector's certificate for opt->server_name or
 * else host. Both copy what they keep. NULL on failure, with the reason in err. The caller frees a kind
 * with dt__tls_kind_free() once no connection made with it is open. */
struct dt_tls_server_options;
struct dt_tls_client_options;
struct dt_transport_kind *dt__tls_server_kind(const struct dt_tls_server_options *opt, char *err, size_t size);
struct dt_transport_kind *dt__tls_client_kind(const struct dt_tls_client_options *opt, const char *host, char *err,
					      size_t size);
/* Reads the server kind's certificate and key files again; on failure keeps the old ones (false, err). */
bool dt__tls_reload(struct dt_transport_kind *k, char *err, size_t size);
void dt__tls_kind_free(struct dt_transport_kind *k);

/* "192.0.2.1:53", "[2001:db8::1]:53", or "?" when sa cannot be written out. */
void dt__format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t size);

static inline struct dt_transport *dt__tr_wrap(const struct dt_transport_kind *k, int fd, bool server,
					       const struct sockaddr *peer, socklen_t peer_len)
{
	return k->wrap(k, fd, server, peer, peer_len);
}

static inline bool dt__tr_has_handshake(const struct dt_transport *t)
{
	return t->ops->handshake != NULL;
}

static inline int dt__tr_handshake(struct dt_transport *t)
{
	return t->ops->handshake != NULL ? t->ops->handshake(t) : 1;
}

static inline ssize_t dt__tr_readv(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	return t->ops->readv(t, iov, iovcnt);
}

static inline ssize_t dt__tr_read(struct dt_transport *t, void *buf, size_t len)
{
	struct iovec v = {buf, len};
	return t->ops->readv(t, &v, 1);
}

static inline ssize_t dt__tr_writev(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	return t->ops->writev(t, iov, iovcnt);
}

static inline ssize_t dt__tr_write(struct dt_transport *t, const void *buf, size_t len)
{
	struct iovec v = {(void *)(uintptr_t)buf, len};
	return t->ops->writev(t, &v, 1);
}

static inline size_t dt__tr_pending(const struct dt_transport *t)
{
	return t->ops->pending(t);
}

static inline ssize_t dt__tr_readable(const struct dt_transport *t)
{
	return t->ops->readable(t);
}

/* What went wrong in the last failed call, whose errno was err. Valid until the next call on t. */
static inline const char *dt__tr_error(const struct dt_transport *t, int err)
{
	return t->error[0] != '\0' ? t->error : strerror(err);
}

static inline int dt__tr_shutdown(struct dt_transport *t)
{
	return t->ops->shutdown(t);
}

static inline void dt__tr_close(struct dt_transport *t)
{
	if (t != NULL)
		t->ops->close(t);
}

#endif
