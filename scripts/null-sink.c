/* null-sink: the least a Frame Streams receiver can do, for scripts/bench to measure the kernel's share
 * of receiving. It accepts one sender on a unix socket or a TCP port, answers READY with ACCEPT, reads
 * with blocking 1 MiB reads, walks the frame lengths and discards the data, answers STOP with FINISH,
 * and prints the frame count. Whatever CPU time it uses is the floor under every real receiver, which
 * also decodes, writes and polls.
 *
 *   cc -O2 -o null-sink scripts/null-sink.c
 *   null-sink unix PATH | null-sink tcp ADDRESS PORT
 *
 * Benchmark support only: it trusts its sender (one connection, well-formed frames). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CT "protobuf:dnstap.Dnstap"

static uint8_t buf[1 << 20];

static int fail(const char *what)
{
	fprintf(stderr, "null-sink: %s: %s\n", what, strerror(errno));
	return 1;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

/* Writes a control frame of type (with the content type for ACCEPT). */
static int send_control(int fd, uint32_t type, int with_ct)
{
	uint8_t f[64];
	size_t ctl = with_ct ? strlen(CT) : 0, body = 4 + (with_ct ? 8 + ctl : 0);
	put32(f, 0);
	put32(f + 4, (uint32_t)body);
	put32(f + 8, type);
	if (with_ct) {
		put32(f + 12, 1);
		put32(f + 16, (uint32_t)ctl);
		memcpy(f + 20, CT, ctl);
	}
	return write(fd, f, 8 + body) == (ssize_t)(8 + body) ? 0 : -1;
}

static int listen_on(int argc, char **argv)
{
	int s;
	if (argc == 3 && strcmp(argv[1], "unix") == 0) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(argv[2]) >= sizeof(a.sun_path))
			return errno = ENAMETOOLONG, -1;
		strcpy(a.sun_path, argv[2]);
		unlink(argv[2]);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0)
			return -1;
	} else if (argc == 4 && strcmp(argv[1], "tcp") == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
		if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1)
			return errno = EINVAL, -1;
		int one = 1;
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(s, (struct sockaddr *)&a, sizeof(a)) != 0)
			return -1;
	} else {
		fprintf(stderr, "usage: null-sink unix PATH | null-sink tcp ADDRESS PORT\n");
		exit(2);
	}
	return listen(s, 1) == 0 ? s : -1;
}

int main(int argc, char **argv)
{
	int s = listen_on(argc, argv);
	if (s < 0)
		return fail("listen");
	int c = accept(s, NULL, NULL);
	if (c < 0)
		return fail("accept");
	unsigned long long frames = 0;
	size_t have = 0, at = 0;
	int done = 0;
	while (!done) {
		/* keep the unparsed tail at the start of the buffer */
		if (at > 0) {
			memmove(buf, buf + at, have - at);
			have -= at;
			at = 0;
		}
		ssize_t n = read(c, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while (!done && have - at >= 4) {
			uint32_t len = get32(buf + at);
			if (len != 0) { /* data frame */
				if (have - at < 4 + (size_t)len)
					break;
				frames++;
				at += 4 + (size_t)len;
				continue;
			}
			if (have - at < 12)
				break;
			uint32_t clen = get32(buf + at + 4), type = get32(buf + at + 8);
			if (have - at < 8 + (size_t)clen)
				break;
			at += 8 + (size_t)clen;
			if (type == 4 && send_control(c, 1, 1) != 0) /* READY: ACCEPT */
				return fail("write");
			if (type == 3) { /* STOP: FINISH */
				send_control(c, 5, 0);
				done = 1;
			}
		}
	}
	printf("%llu\n", frames);
	if (argc == 3)
		unlink(argv[2]);
	return 0;
}
