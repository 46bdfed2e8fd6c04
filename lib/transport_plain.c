/* Plain unix and TCP sockets as transports (see transport.h): readv and sendmsg on the descriptor,
 * nothing buffered, no handshake. The two kinds share the code: a unix peer has no address to name. */
#include "transport.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct plain {
	struct dt_transport t;
};

static ssize_t plain_readv(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n;
	do
		n = readv(t->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		errno = EAGAIN;
		t->want = DT_TR_READ;
	}
	return n;
}

static ssize_t plain_writev(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	/* sendmsg, not writev: MSG_NOSIGNAL keeps a peer that is gone from killing the process */
	struct msghdr mh = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;
	do
		n = sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		errno = EAGAIN;
		t->want = DT_TR_WRITE;
	}
	return n;
}

static size_t plain_pending(const struct dt_transport *t)
{
	(void)t;
	return 0;
}

static ssize_t plain_readable(const struct dt_transport *t)
{
	int n = 0;
	return ioctl(t->fd, FIONREAD, &n) == 0 ? (ssize_t)n : -1;
}

static int plain_shutdown(struct dt_transport *t)
{
	return shutdown(t->fd, SHUT_WR);
}

static void plain_close(struct dt_transport *t)
{
	close(t->fd);
	free(t);
}

static const struct dt_transport_ops plain_ops = {
	.handshake = NULL,
	.readv = plain_readv,
	.writev = plain_writev,
	.pending = plain_pending,
	.readable = plain_readable,
	.shutdown = plain_shutdown,
	.close = plain_close,
};

void dt__format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "?");
		return;
	}
	snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static struct dt_transport *plain_wrap(const struct dt_transport_kind *kind, int fd, bool server,
				       const struct sockaddr *peer, socklen_t peer_len)
{
	(void)kind;
	(void)server;
	struct plain *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	p->t.ops = &plain_ops;
	p->t.fd = fd;
	if (peer != NULL && peer->sa_family != AF_UNIX)
		dt__format_addr(peer, peer_len, p->t.peer, sizeof(p->t.peer));
	return &p->t;
}

const struct dt_transport_kind dt__transport_unix = {.name = "unix", .wrap = plain_wrap};
const struct dt_transport_kind dt__transport_tcp = {.name = "tcp", .wrap = plain_wrap};
