/* TLS as a transport (see transport.h), with OpenSSL 3: the listener's server side (a certificate, and
 * with a client CA mutual TLS) and the sender's client side (verification of the collector's name, a
 * client certificate). Handshakes, reads and writes never block: OpenSSL's "want read/write" becomes
 * EAGAIN and t->want. What went wrong is said in t->error, in words that name the likely mistake (a plain
 * sender on a TLS port, an untrusted or expired certificate, a missing client certificate). */
#include "dnstap.h"
#include "transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ==== A socket BIO that never raises SIGPIPE ==== */

/* OpenSSL's own socket BIO write()s, and a peer that is gone would kill a program that has not ignored
 * SIGPIPE; the transport contract says writes never raise it. One method for the whole process, made
 * once and never changed: constant state, not mutable. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;
	do
		n = recv(fd, buf, (size_t)len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	if (n == 0) /* asked for by BIO_CTRL_EOF: OpenSSL tells an end of stream from an error by it */
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	if (cmd == BIO_CTRL_EOF)
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void make_nosig_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "dnstap socket");
	if (m == NULL || !BIO_meth_set_write(m, nosig_write) || !BIO_meth_set_read(m, nosig_read) ||
	    !BIO_meth_set_ctrl(m, nosig_ctrl) || !BIO_meth_set_create(m, nosig_create)) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

/* ==== Errors in words ==== */

/* The last OpenSSL error, with the verification result when that is what failed, into out. */
static void ssl_words(SSL *ssl, char *out, size_t size, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	int reason = ERR_GET_REASON(e);
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (r == NULL)
		r = fallback;
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK)
		snprintf(out, size, "certificate verification failed: %s", X509_verify_cert_error_string(v));
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		snprintf(out, size, "no client certificate (one is required)");
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		 (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA || reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
		  reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED || reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN))
		snprintf(out, size, "the peer rejected our certificate (%s)", r);
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)
		snprintf(out, size, "the peer requires a client certificate (%s)", r);
	else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_WRONG_VERSION_NUMBER)
		snprintf(out, size, "not TLS from the peer (%s): is it a plain Frame Streams port?", r);
	else
		snprintf(out, size, "%s", r);
}

/* For setting up a context: "what: reason". */
static void setup_words(char *err, size_t size, const char *what, const char *file)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (r == NULL && errno != 0)
		r = strerror(errno);
	snprintf(err, size, "%s %s: %s", what, file, r != NULL ? r : "unusable");
	ERR_clear_error();
}

/* ==== Kinds: a context and what it was made from ==== */

struct tls_kind {
	struct dt_transport_kind k;
	SSL_CTX *ctx;
	bool server;
	/* server: the files, read again by dt__tls_reload() */
	char *cert_file, *key_file, *client_ca_file;
	/* client: the name to check in the collector's certificate (and send as SNI unless an address) */
	char *name;
	bool name_is_ip;
	bool insecure;
};

static struct dt_transport *tls_wrap(const struct dt_transport_kind *kind, int fd, bool server,
				     const struct sockaddr *peer, socklen_t peer_len);

static bool base_ctx(SSL_CTX *ctx)
{
	/* 1.2 and 1.3 only, OpenSSL's default ciphers otherwise; no ALPN (Unbound sends none). A peer that
	 * closes without close_notify is an ordinary end of stream to Frame Streams (Unbound does so). */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
}

static bool load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t size)
{
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		setup_words(err, size, "cannot use the certificate", cert);
		return false;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		setup_words(err, size, "cannot use the key", key);
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		setup_words(err, size, "the key does not match the certificate", key);
		return false;
	}
	return true;
}

static SSL_CTX *server_ctx(const struct tls_kind *k, char *err, size_t size)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || !base_ctx(ctx)) {
		snprintf(err, size, "out of memory");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* with read ahead (see tls_handshake()), records are read 64 KiB at a time */
	SSL_CTX_set_default_read_buffer_len(ctx, 65536);
	if (!load_pair(ctx, k->cert_file, k->key_file, err, size)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (k->client_ca_file != NULL) {
		errno = 0;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(k->client_ca_file);
		if (names == NULL || SSL_CTX_load_verify_locations(ctx, k->client_ca_file, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			setup_words(err, size, "cannot use the client CA file", k->client_ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	/* no server-side session cache: it grows with every full handshake (20,480 sessions by default)
	 * while a dnstap sender reconnects rarely; TLS 1.3 resumes from stateless tickets anyway */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* resumption needs a session id context once client certificates are verified */
	static const unsigned char sid[] = "dnstap";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	return ctx;
}

static bool dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	return src == NULL || (*dst = strdup(src)) != NULL;
}

void dt__tls_kind_free(struct dt_transport_kind *kind)
{
	struct tls_kind *k = (struct tls_kind *)kind;
	if (k == NULL)
		return;
	SSL_CTX_free(k->ctx);
	free(k->cert_file);
	free(k->key_file);
	free(k->client_ca_file);
	free(k->name);
	free(k);
}

static struct tls_kind *kind_new(bool server, char *err, size_t size)
{
	pthread_once(&nosig_once, make_nosig_method);
	struct tls_kind *k = nosig_method != NULL ? calloc(1, sizeof(*k)) : NULL;
	if (k == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	k->k.name = "TLS";
	k->k.wrap = tls_wrap;
	k->server = server;
	return k;
}

struct dt_transport_kind *dt__tls_server_kind(const struct dt_tls_server_options *opt, char *err, size_t size)
{
	if (opt == NULL || opt->cert_file == NULL || opt->key_file == NULL) {
		snprintf(err, size, "a TLS listener needs a certificate and a key");
		return NULL;
	}
	struct tls_kind *k = kind_new(true, err, size);
	if (k == NULL)
		return NULL;
	if (!dup_opt(&k->cert_file, opt->cert_file) || !dup_opt(&k->key_file, opt->key_file) ||
	    !dup_opt(&k->client_ca_file, opt->client_ca_file)) {
		snprintf(err, size, "out of memory");
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	if ((k->ctx = server_ctx(k, err, size)) == NULL) {
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	return &k->k;
}

bool dt__tls_reload(struct dt_transport_kind *kind, char *err, size_t size)
{
	struct tls_kind *k = (struct tls_kind *)kind;
	SSL_CTX *ctx = server_ctx(k, err, size);
	if (ctx == NULL)
		return false;
	/* connections made with the old context hold a reference to it: they go on undisturbed */
	SSL_CTX_free(k->ctx);
	k->ctx = ctx;
	return true;
}

struct dt_transport_kind *dt__tls_client_kind(const struct dt_tls_client_options *opt, const char *host, char *err,
					      size_t size)
{
	struct tls_kind *k = kind_new(false, err, size);
	if (k == NULL)
		return NULL;
	const char *name = opt->server_name != NULL && opt->server_name[0] != '\0' ? opt->server_name : host;
	unsigned char a[16];
	k->insecure = opt->insecure;
	k->name_is_ip = inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
	ERR_clear_error();
	if ((k->name = strdup(name)) == NULL || (k->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !base_ctx(k->ctx)) {
		snprintf(err, size, "out of memory");
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	errno = 0;
	int ok = opt->ca_file != NULL ? SSL_CTX_load_verify_locations(k->ctx, opt->ca_file, NULL)
				      : SSL_CTX_set_default_verify_paths(k->ctx);
	if (ok != 1) {
		setup_words(err, size, "cannot use the CA file", opt->ca_file != NULL ? opt->ca_file : "(system)");
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	if ((opt->cert_file != NULL) != (opt->key_file != NULL)) {
		snprintf(err, size, "a client certificate needs both its certificate and its key file");
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	if (opt->cert_file != NULL && !load_pair(k->ctx, opt->cert_file, opt->key_file, err, size)) {
		dt__tls_kind_free(&k->k);
		return NULL;
	}
	SSL_CTX_set_verify(k->ctx, opt->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	return &k->k;
}

/* ==== Connections ==== */

struct tls {
	struct dt_transport t;
	SSL *ssl;
	bool server;
	bool looked;   /* server: the first bytes were seen to be a ClientHello */
	uint8_t *wbuf; /* WBUF_SIZE bytes: small iovecs gathered into one record (allocated at first use) */
};

/* A full TLS record's worth of plaintext. */
#define WBUF_SIZE 16384

/* Turns a failed SSL call's result into errno, t->want and t->error. Returns -1, or 0 for an orderly end
 * (reads). */
static int ssl_failed(struct tls *s, int ret, const char *doing)
{
	int e = SSL_get_error(s->ssl, ret);
	int sys = errno;
	s->t.want = 0;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->t.want = DT_TR_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		s->t.want = DT_TR_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() == 0) {
			if (sys == 0) { /* an end of file OpenSSL did not expect */
				snprintf(s->t.error, sizeof(s->t.error), "connection closed by the peer %s", doing);
				errno = ECONNRESET;
			} else {
				s->t.error[0] = '\0';
				errno = sys;
			}
			return -1;
		}
		/* fall through */
	default:
		ssl_words(s->ssl, s->t.error, sizeof(s->t.error), "TLS error");
		errno = EPROTO;
		ERR_clear_error();
		return -1;
	}
}

/* Server: a ClientHello begins with a handshake record, 0x16. Anything else is said in words before
 * OpenSSL gets it: a plain Frame Streams sender begins with a zero escape (a control frame). */
static int look_first(struct tls *s)
{
	uint8_t b[8];
	ssize_t n;
	do
		n = recv(s->t.fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->t.want = DT_TR_READ;
		return 0;
	}
	if (n < 0) {
		s->t.error[0] = '\0';
		return -1;
	}
	if (n == 0) {
		snprintf(s->t.error, sizeof(s->t.error), "connection closed by the peer before the TLS handshake");
		errno = ECONNRESET;
		return -1;
	}
	if (b[0] == 0x16) {
		s->looked = true;
		return 1;
	}
	char hex[3 * sizeof(b) + 1] = "";
	for (ssize_t i = 0, at = 0; i < n; i++)
		at += snprintf(hex + at, sizeof(hex) - (size_t)at, "%s%02x", i ? " " : "", b[i]);
	if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0)
		snprintf(s->t.error, sizeof(s->t.error),
			 "plain Frame Streams (bytes %s), not a TLS ClientHello: the sender does not use TLS", hex);
	else
		snprintf(s->t.error, sizeof(s->t.error), "not a TLS ClientHello (got bytes %s)", hex);
	errno = EPROTO;
	return -1;
}

static void describe(struct tls *s)
{
	const char *v = SSL_get_version(s->ssl);
	X509 *peer = SSL_get0_peer_certificate(s->ssl);
	if (peer == NULL) {
		snprintf(s->t.info, sizeof(s->t.info), "%s", v);
		return;
	}
	char subject[200] = "";
	BIO *m = BIO_new(BIO_s_mem());
	if (m != NULL && X509_NAME_print_ex(m, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(m, subject, (int)sizeof(subject) - 1);
		subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(m);
	snprintf(s->t.info, sizeof(s->t.info), "%s, %s certificate \"%s\"", v, s->server ? "client" : "server",
		 subject);
}

static int tls_handshake(struct dt_transport *t)
{
	struct tls *s = (struct tls *)t;
	if (s->server && !s->looked) {
		int r = look_first(s);
		if (r <= 0)
			return r;
	}
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(s->ssl);
	if (ret == 1) {
		describe(s);
		/* A listener reads what the socket holds, not a record header and then its body: two recv()
		 * calls for every record otherwise, and senders (Unbound among them) write a record for each
		 * frame. Only from now on: with read ahead during the handshake, one in five handshakes here
		 * stalled (on loopback, the server never took the client's Finished). */
		if (s->server)
			SSL_set_read_ahead(s->ssl, 1);
		return 1;
	}
	if (ssl_failed(s, ret, "during the TLS handshake") == 0) {
		snprintf(t->error, sizeof(t->error), "connection closed by the peer during the TLS handshake");
		errno = ECONNRESET;
	}
	if (errno == EAGAIN)
		return 0;
	if (!s->server && errno == ECONNRESET)
		snprintf(t->error, sizeof(t->error),
			 "connection closed by the collector during the TLS handshake "
			 "(is it a plain Frame Streams port?)");
	return -1;
}

static ssize_t tls_readv(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	struct tls *s = (struct tls *)t;
	size_t got = 0;
	/* SSL_read() gives one record at a time: go on while OpenSSL holds more (read ahead), but do not go
	 * back to the socket once something was read. */
	for (int i = 0; i < iovcnt; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left > 0) {
			if (got > 0 && !SSL_has_pending(s->ssl))
				return (ssize_t)got;
			size_t n = 0;
			ERR_clear_error();
			errno = 0;
			int ret = SSL_read_ex(s->ssl, p, left, &n);
			if (ret != 1) {
				if (got > 0) /* the failure comes again at the next call */
					return (ssize_t)got;
				int r = ssl_failed(s, ret, "in the middle of a TLS record");
				return r == 0 ? 0 : -1;
			}
			got += n;
			p += n;
			left -= n;
		}
	}
	return (ssize_t)got;
}

/* One SSL_write_ex(); 0 and EPIPE for a peer that closed, -1 for the rest (want set for a retry, which
 * must come with the same bytes first: the caller keeps what was not written and sends it again). */
static ssize_t tls_write1(struct tls *s, const void *p, size_t len)
{
	size_t n = 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(s->ssl, p, len, &n) == 1)
		return (ssize_t)n;
	if (ssl_failed(s, 0, "while we wrote") == 0)
		errno = EPIPE;
	return -1;
}

static ssize_t tls_writev(struct dt_transport *t, const struct iovec *iov, int iovcnt)
{
	struct tls *s = (struct tls *)t;
	/* Frames come as many small iovecs (a length, a payload, ...): each SSL_write() is a record of its
	 * own, with its header, its tag and a 5-byte read for the receiver, so small ones are gathered into
	 * one record first. A large one goes as it is. */
	size_t first = iovcnt > 0 ? iov[0].iov_len : 0;
	if (iovcnt > 1 && first < WBUF_SIZE && (s->wbuf != NULL || (s->wbuf = malloc(WBUF_SIZE)) != NULL)) {
		size_t fill = 0;
		for (int i = 0; i < iovcnt && fill < WBUF_SIZE; i++) {
			size_t k = iov[i].iov_len < WBUF_SIZE - fill ? iov[i].iov_len : WBUF_SIZE - fill;
			memcpy(s->wbuf + fill, iov[i].iov_base, k);
			fill += k;
		}
		return fill == 0 ? 0 : tls_write1(s, s->wbuf, fill);
	}
	size_t put = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		ssize_t n = tls_write1(s, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			return put > 0 ? (ssize_t)put : -1;
		put += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return (ssize_t)put;
}

static size_t tls_pending(const struct dt_transport *t)
{
	/* With read ahead, OpenSSL may hold whole records it has not opened yet (SSL_pending() counts only
	 * what it has): those make no event either, so they count, at least as one byte. */
	const struct tls *s = (const struct tls *)t;
	int n = SSL_pending(s->ssl);
	if (n > 0)
		return (size_t)n;
	return SSL_has_pending(s->ssl) ? 1 : 0;
}

static ssize_t tls_readable(const struct dt_transport *t)
{
	int n = 0;
	if (ioctl(t->fd, FIONREAD, &n) != 0)
		return -1;
	return (ssize_t)n + (ssize_t)tls_pending(t);
}

/* close_notify; SSL_read() goes on until the peer's own (OpenSSL allows reading after a shutdown that
 * returned 0). Whatever the socket does not take now is not waited for. */
static int tls_shutdown(struct dt_transport *t)
{
	struct tls *s = (struct tls *)t;
	if (s->ssl == NULL || !SSL_is_init_finished(s->ssl)) {
		errno = ENOTCONN;
		return -1;
	}
	ERR_clear_error();
	int r = SSL_shutdown(s->ssl);
	ERR_clear_error();
	return r >= 0 ? 0 : -1;
}

static void tls_close(struct dt_transport *t)
{
	struct tls *s = (struct tls *)t;
	if (s->ssl != NULL) {
		/* close_notify if the socket takes it now; never wait for the peer's */
		if (SSL_is_init_finished(s->ssl)) {
			ERR_clear_error();
			SSL_shutdown(s->ssl);
		}
		SSL_free(s->ssl); /* frees the BIO too */
	}
	ERR_clear_error();
	close(t->fd);
	free(s->wbuf);
	free(s);
}

static const struct dt_transport_ops tls_ops = {
	.handshake = tls_handshake,
	.readv = tls_readv,
	.writev = tls_writev,
	.pending = tls_pending,
	.readable = tls_readable,
	.shutdown = tls_shutdown,
	.close = tls_close,
};

static struct dt_transport *tls_wrap(const struct dt_transport_kind *kind, int fd, bool server,
				     const struct sockaddr *peer, socklen_t peer_len)
{
	const struct tls_kind *k = (const struct tls_kind *)kind;
	struct tls *s = calloc(1, sizeof(*s));
	BIO *bio = NULL;
	if (s == NULL)
		goto fail;
	s->t.ops = &tls_ops;
	s->t.fd = fd;
	s->server = server;
	if (peer != NULL && peer->sa_family != AF_UNIX)
		dt__format_addr(peer, peer_len, s->t.peer, sizeof(s->t.peer));
	ERR_clear_error();
	if ((s->ssl = SSL_new(k->ctx)) == NULL || (bio = BIO_new(nosig_method)) == NULL)
		goto fail;
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(s->ssl, bio, bio);
	if (server) {
		SSL_set_accept_state(s->ssl);
	} else {
		SSL_set_connect_state(s->ssl);
		if (!k->name_is_ip && SSL_set_tlsext_host_name(s->ssl, k->name) != 1)
			goto fail;
		if (!k->insecure) {
			X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
			int ok = k->name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, k->name)
					       : X509_VERIFY_PARAM_set1_host(vp, k->name, 0);
			if (ok != 1)
				goto fail;
		}
	}
	return &s->t;
fail:
	if (s != NULL)
		SSL_free(s->ssl);
	free(s);
	ERR_clear_error();
	close(fd);
	errno = ENOMEM;
	return NULL;
}
