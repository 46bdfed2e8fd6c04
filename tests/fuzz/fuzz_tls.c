/* Fuzz target: the listener's TLS side (lib/transport_tls.c under lib/input_listener.c) as a hostile
 * client drives it. The input is the byte stream a client writes into a TCP connection to a TLS listener
 * on 127.0.0.1 (then it closes its side): a ClientHello and whatever follows, cut anywhere, or not TLS at
 * all. OpenSSL parses the records; the target checks what the transport and the listener promise around
 * it: the connection is closed with one line (nothing random can complete a handshake and reach
 * START), no frame is handed over, and the listener goes on serving the next connection.
 *
 * The certificate is made in memory at the first call (an EC key, self-signed) and written to
 * temporary files for dt_listener_add_tls(), which are removed once read. */
#define _GNU_SOURCE
#include "dnstap.h"
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define MAX_SPINS 2000

static struct event_base *base;
static struct dt_listener *listener;
static int port;
static uint64_t frames_seen;
static unsigned lines;

static dt_res on_push(void *arg, struct dt_item *it)
{
	(void)arg;
	(void)it;
	frames_seen++;
	return DT_OK;
}

static void on_log(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	const char *p = strstr(line, "listening on 127.0.0.1:");
	if (p != NULL)
		port = atoi(p + strlen("listening on 127.0.0.1:"));
	if (strstr(line, ": closed") != NULL)
		lines++;
}

/* A self-signed certificate and its key, written to two temporary files. */
static void make_cert(char *cert_path, char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FUZZ_CHECK(key != NULL && x != NULL);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	FUZZ_CHECK(X509_sign(x, key, EVP_sha256()) > 0);
	int cfd = mkstemp(cert_path), kfd = mkstemp(key_path);
	FUZZ_CHECK(cfd >= 0 && kfd >= 0);
	FILE *cf = fdopen(cfd, "w"), *kf = fdopen(kfd, "w");
	FUZZ_CHECK(cf != NULL && kf != NULL);
	FUZZ_CHECK(PEM_write_X509(cf, x) == 1 && PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(cf);
	fclose(kf);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void set_up(void)
{
	char cert[] = "/tmp/fuzz_tls_cert.XXXXXX", key[] = "/tmp/fuzz_tls_key.XXXXXX";
	make_cert(cert, key);
	base = event_base_new();
	struct dt_sink sink = {.push = on_push};
	listener = dt_listener_new(base, &sink);
	FUZZ_CHECK(base != NULL && listener != NULL);
	dt_listener_set_log(listener, on_log, NULL, LOG_INFO);
	struct dt_tls_server_options o = {.cert_file = cert, .key_file = key};
	FUZZ_CHECK(dt_listener_add_tls(listener, "127.0.0.1:0", &o) == DT_OK);
	unlink(cert);
	unlink(key);
	FUZZ_CHECK(port > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (listener == NULL)
		set_up();
	struct dt_listener_stats before, st;
	dt_listener_get_stats(listener, &before);
	unsigned lines_before = lines;

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* each run from another address of 127.0.0.0/8: a connection left in TIME_WAIT holds its address
	 * and port pair for a minute, and a fuzzer makes thousands a second, more than the ephemeral ports
	 * of one address (seen: connect() failing after 129,000 runs) */
	static uint32_t runs;
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f000000u | (1u + runs++ % 0xfffffeu));
	FUZZ_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
		   connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	/* the whole stream, then our end closed: the listener must close too, whatever it got */
	size_t off = 0;
	int spins = 0;
	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			break; /* the listener closed already (a reset) */
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		FUZZ_CHECK(++spins < MAX_SPINS * 100);
	}
	shutdown(fd, SHUT_WR);
	for (spins = 0;; spins++) {
		dt_listener_get_stats(listener, &st);
		if (st.connections == before.connections + 1 && st.open == 0)
			break;
		FUZZ_CHECK(spins < MAX_SPINS);
		event_base_loop(base, EVLOOP_ONCE);
	}
	close(fd);
	/* nothing random completes a handshake: no frame, and one closing line for the connection */
	FUZZ_CHECK(frames_seen == 0 && st.frames == before.frames);
	FUZZ_CHECK(lines == lines_before + 1);
	return 0;
}
