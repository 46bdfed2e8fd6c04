/* Writes the hostile and unusual dnstap files the bad-input tests read, built with our own encoder
 * plus deliberate damage, so no binary fixture needs committing:  mkfixture NAME OUTFILE
 * Run without arguments to list the names. */
#include <dnstap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;

static void be32(uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	fwrite(b, 1, 4, out);
}

static void control(uint32_t type, const char *content_type)
{
	size_t ct = content_type ? strlen(content_type) : 0;
	be32(0);
	be32((uint32_t)(4 + (content_type ? 8 + ct : 0)));
	be32(type);
	if (content_type) {
		be32(1);
		be32((uint32_t)ct);
		fwrite(content_type, 1, ct, out);
	}
}

static void start(void)
{
	control(2, DT_CONTENT_TYPE);
}

static void stop(void)
{
	control(3, NULL);
}

static void raw_frame(const void *p, size_t n)
{
	be32((uint32_t)n);
	fwrite(p, 1, n, out);
}

/* www.example.com. IN A, id 0x1234, RD */
static const uint8_t query_wire[] = {
	0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 3,    'w',  'w',  'w',  7,
	'e',  'x',  'a',  'm',  'p',  'l',  'e',  3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01,
};
static const uint8_t addr4[] = {192, 0, 2, 1};
static const uint8_t addr6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static struct dt_message good(void)
{
	struct dt_message m = {0};
	m.dnstap_type = DT_TYPE_MESSAGE;
	m.has_identity = true;
	m.identity = (struct dt_bytes){(const uint8_t *)"fixture", 7};
	m.has_message = true;
	m.type = DT_CLIENT_QUERY;
	m.has_socket_family = m.has_socket_protocol = true;
	m.socket_family = DT_INET;
	m.socket_protocol = DT_UDP;
	m.has_query_address = m.has_response_address = true;
	m.query_address = (struct dt_bytes){addr4, 4};
	m.response_address = (struct dt_bytes){addr4, 4};
	m.has_query_port = m.has_response_port = true;
	m.query_port = 53000;
	m.response_port = 53;
	m.has_query_time_sec = m.has_query_time_nsec = true;
	m.query_time_sec = 1700000000;
	m.query_time_nsec = 123456789;
	m.has_query_message = true;
	m.query_message = (struct dt_bytes){query_wire, sizeof(query_wire)};
	return m;
}

static void frame(const struct dt_message *m)
{
	size_t cap = dt_encoded_size(m), len = 0;
	uint8_t *buf = malloc(cap ? cap : 1);
	if (buf == NULL || dt_encode(m, buf, &len) != DT_OK) {
		fprintf(stderr, "mkfixture: encoding failed\n");
		exit(1);
	}
	raw_frame(buf, len);
	free(buf);
}

static void good_frame(void)
{
	struct dt_message m = good();
	frame(&m);
}

int main(int argc, char **argv)
{
	static const char *names =
		"good nomsg nottype badaddr badproto badproto-many baddns bigframe over96k nostop truncated "
		"wrongct noct random empty notstart badcontrol extras pcap pcap-lengths ecs qnames";
	if (argc != 3) {
		fprintf(stderr, "usage: mkfixture NAME OUTFILE\nnames: %s\n", names);
		return 2;
	}
	const char *name = argv[1];
	out = fopen(argv[2], "wb");
	if (out == NULL) {
		perror(argv[2]);
		return 1;
	}
	struct dt_message m = good();
	if (strcmp(name, "good") == 0) {
		start();
		good_frame();
		m.type = DT_CLIENT_RESPONSE;
		m.socket_family = DT_INET6;
		m.query_address = m.response_address = (struct dt_bytes){addr6, 16};
		frame(&m);
		stop();
	} else if (strcmp(name, "nomsg") == 0) {
		/* frame 2: a MESSAGE without its message (the Go tool panics) */
		start();
		good_frame();
		m.has_message = false;
		frame(&m);
		good_frame();
		stop();
	} else if (strcmp(name, "nottype") == 0) {
		start();
		good_frame();
		m.dnstap_type = 2;
		frame(&m);
		good_frame();
		stop();
	} else if (strcmp(name, "badaddr") == 0) {
		/* frame 2: a 3-byte address (the Go tool's JSON stops for good) */
		start();
		good_frame();
		m.query_address.len = 3;
		frame(&m);
		good_frame();
		stop();
	} else if (strcmp(name, "badproto") == 0 || strcmp(name, "badproto-many") == 0) {
		/* frame 2: bytes that are no protobuf (the Go tool drops the rest or deadlocks) */
		static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
		start();
		good_frame();
		raw_frame(junk, sizeof(junk));
		int n = strcmp(name, "badproto") == 0 ? 1 : 200;
		for (int i = 0; i < n; i++)
			good_frame();
		stop();
	} else if (strcmp(name, "baddns") == 0) {
		/* frame 2: a DNS message that does not parse */
		static const uint8_t bad[] = {0x12, 0x34, 0x01};
		start();
		good_frame();
		m.query_message = (struct dt_bytes){bad, sizeof(bad)};
		frame(&m);
		good_frame();
		stop();
	} else if (strcmp(name, "bigframe") == 0) {
		/* frame 2: over the default 256 KiB limit: skipped, the rest read */
		size_t n = 300 * 1024;
		uint8_t *p = calloc(1, n);
		start();
		good_frame();
		raw_frame(p, n);
		good_frame();
		stop();
		free(p);
	} else if (strcmp(name, "over96k") == 0) {
		/* frame 2: a valid 100 KiB dnstap payload (the Go tool stops reading past 96 KiB) */
		size_t n = 50000;
		uint8_t *q = calloc(1, n);
		memcpy(q, query_wire, sizeof(query_wire));
		start();
		good_frame();
		m.query_message = (struct dt_bytes){q, n};
		m.has_response_message = true;
		m.response_message = (struct dt_bytes){q, n};
		frame(&m);
		good_frame();
		stop();
		free(q);
	} else if (strcmp(name, "nostop") == 0) {
		start();
		good_frame();
		good_frame();
	} else if (strcmp(name, "truncated") == 0) {
		/* frame 3 is cut short */
		start();
		good_frame();
		good_frame();
		be32(100);
		fwrite(query_wire, 1, 10, out);
	} else if (strcmp(name, "wrongct") == 0) {
		control(2, "protobuf:other.Type");
		good_frame();
		stop();
	} else if (strcmp(name, "noct") == 0) {
		control(2, NULL);
		good_frame();
		stop();
	} else if (strcmp(name, "random") == 0) {
		uint32_t x = 2463534242u;
		for (int i = 0; i < 4096; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			fputc((int)(x & 0xff), out);
		}
	} else if (strcmp(name, "empty") == 0) {
		/* nothing */
	} else if (strcmp(name, "notstart") == 0) {
		good_frame();
		stop();
	} else if (strcmp(name, "badcontrol") == 0) {
		/* after frame 1, a control frame claiming 100000 bytes */
		start();
		good_frame();
		be32(0);
		be32(100000);
		be32(3);
	} else if (strcmp(name, "pcap") == 0) {
		/* for --format pcap: three queries and their responses on one TCP connection (192.0.2.1:53000
		 * to 192.0.2.2:53), a DoT query and response over IPv6 (port 853), an IPv6 UDP query, and two
		 * messages without wire bytes between them */
		static const uint8_t srv4[] = {192, 0, 2, 2};
		static uint8_t resp[sizeof(query_wire)];
		memcpy(resp, query_wire, sizeof(query_wire));
		resp[2] |= 0x80; /* QR */
		start();
		for (int i = 0; i < 3; i++) {
			struct dt_message q = good();
			q.socket_protocol = DT_TCP;
			q.response_address = (struct dt_bytes){srv4, 4};
			q.query_time_sec += (uint64_t)i;
			frame(&q);
			struct dt_message r = q;
			r.type = DT_CLIENT_RESPONSE;
			r.has_query_message = false;
			r.has_response_message = r.has_response_time_sec = r.has_response_time_nsec = true;
			r.response_message = (struct dt_bytes){resp, sizeof(resp)};
			r.response_time_sec = q.query_time_sec;
			r.response_time_nsec = 500000000;
			frame(&r);
			if (i == 1) {
				struct dt_message n = good();
				n.has_query_message = false; /* logged without wire bytes */
				frame(&n);
				frame(&n);
			}
		}
		struct dt_message t = good();
		t.socket_family = DT_INET6;
		t.socket_protocol = DT_DOT;
		t.query_address = t.response_address = (struct dt_bytes){addr6, 16};
		t.response_port = 853;
		frame(&t);
		t.type = DT_CLIENT_RESPONSE;
		t.has_query_message = false;
		t.has_response_message = true;
		t.response_message = (struct dt_bytes){resp, sizeof(resp)};
		frame(&t);
		struct dt_message u = good();
		u.socket_family = DT_INET6;
		u.query_address = u.response_address = (struct dt_bytes){addr6, 16};
		frame(&u);
		stop();
	} else if (strcmp(name, "pcap-lengths") == 0) {
		/* for the pcap checksums: wire messages of every length from 1 to 40 bytes (each tail the
		 * checksum's last word can end with), of bytes that carry often, over UDP and TCP, IPv4 and
		 * IPv6: 160 messages */
		static uint8_t wire[40];
		static const uint8_t srv4[] = {192, 0, 2, 2};
		for (size_t i = 0; i < sizeof(wire); i++)
			wire[i] = (uint8_t)(0xf0 + i * 37);
		start();
		for (int v6 = 0; v6 < 2; v6++)
			for (int tcp = 0; tcp < 2; tcp++)
				for (size_t n = 1; n <= sizeof(wire); n++) {
					struct dt_message q = good();
					q.socket_protocol = tcp ? DT_TCP : DT_UDP;
					if (v6) {
						q.socket_family = DT_INET6;
						q.query_address = q.response_address = (struct dt_bytes){addr6, 16};
					} else {
						q.response_address = (struct dt_bytes){srv4, 4};
					}
					q.query_port = 65535 - (uint32_t)n;
					q.query_message = (struct dt_bytes){wire, n};
					frame(&q);
				}
		stop();
	} else if (strcmp(name, "ecs") == 0) {
		/* for --anonymize: a query from 198.51.100.7 carrying ECS 198.51.100.0/24, and its response
		 * with the ECS echoed and an answer A 198.51.100.7 (the client's own address) */
		static const uint8_t client[] = {198, 51, 100, 7};
		static uint8_t q[sizeof(query_wire) + 11 + 11], r[sizeof(q) + 16];
		static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0,  0, 0,   0,  11,   /* OPT, rdlength 11 */
					      0, 8, 0,  7,    0, 1, 24, 0, 198, 51, 100}; /* ECS 198.51.100.0/24 */
		memcpy(q, query_wire, sizeof(query_wire));
		q[11] = 1; /* ARCOUNT */
		memcpy(q + sizeof(query_wire), opt, sizeof(opt));
		size_t qlen = sizeof(query_wire) + sizeof(opt);
		/* the response: the question, one answer (a pointer to the question's name), the OPT */
		static const uint8_t ans[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 51, 100, 7};
		memcpy(r, query_wire, sizeof(query_wire));
		r[2] |= 0x80;
		r[7] = 1;  /* ANCOUNT */
		r[11] = 1; /* ARCOUNT */
		memcpy(r + sizeof(query_wire), ans, sizeof(ans));
		memcpy(r + sizeof(query_wire) + sizeof(ans), opt, sizeof(opt));
		size_t rlen = sizeof(query_wire) + sizeof(ans) + sizeof(opt);
		start();
		m.query_address = (struct dt_bytes){client, 4};
		m.query_message = (struct dt_bytes){q, qlen};
		frame(&m);
		m.type = DT_CLIENT_RESPONSE;
		m.has_query_message = false;
		m.has_response_message = true;
		m.response_message = (struct dt_bytes){r, rlen};
		frame(&m);
		stop();
	} else if (strcmp(name, "qnames") == 0) {
		/* for --anonymize-qname: a query for WWW.Example.CO.UK; its response, with a CNAME whose target
		 * mail.<pointer to Example.CO.UK> is the owner (by pointer) of the next answer; a query for
		 * www.example.co.uk in lower case; and a query whose name's first label holds "\001q\000z", which
		 * an answer's owner points into (the name "q."): valid, until that label is rewritten */
		static const uint8_t q1[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,   0,
					     3,    'W',  'W',  'W',  7,   'E', 'x', 'a', 'm', 'p', 'l', 'e',
					     2,    'C',  'O',  2,    'U', 'K', 0,   0,   1,   0,   1};
		static uint8_t r1[sizeof(q1) + 40];
		/* at 35: CNAME, rdata mail + pointer to offset 16 (Example.CO.UK); the rdata's name is at 47 */
		static const uint8_t ans[] = {0xc0, 12,  0,   5,    0,    1,    0,  0,    0x0e, 0x10, 0, 7,
					      4,    'm', 'a', 'i',  'l',  0xc0, 16, 0xc0, 47,   0,    1, 0,
					      1,    0,   0,   0x0e, 0x10, 0,    4,  192,  0,    2,    25};
		memcpy(r1, q1, sizeof(q1));
		r1[2] |= 0x80;
		r1[7] = 2; /* ANCOUNT */
		memcpy(r1 + sizeof(q1), ans, sizeof(ans));
		static const uint8_t q2[] = {0x12, 0x35, 0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,   0,
					     3,    'w',  'w',  'w',  7,   'e', 'x', 'a', 'm', 'p', 'l', 'e',
					     2,    'c',  'o',  2,    'u', 'k', 0,   0,   1,   0,   1};
		static const uint8_t r3[] = {0x12, 0x36, 0x81, 0x00, 0,   1,    0,    1,   0,   0,   0,    0,   4,
					     1,    'q',  0,    'z',  7,   'e',  'x',  'a', 'm', 'p', 'l',  'e', 2,
					     'c',  'o',  2,    'u',  'k', 0,    0,    1,   0,   1,   0xc0, 13,  0,
					     1,    0,    1,    0,    0,   0x0e, 0x10, 0,   4,   192, 0,    2,   26};
		start();
		m.query_message = (struct dt_bytes){q1, sizeof(q1)};
		frame(&m);
		struct dt_message r = m;
		r.type = DT_CLIENT_RESPONSE;
		r.has_query_message = false;
		r.has_response_message = true;
		r.response_message = (struct dt_bytes){r1, sizeof(q1) + sizeof(ans)};
		frame(&r);
		m.query_message = (struct dt_bytes){q2, sizeof(q2)};
		frame(&m);
		r.response_message = (struct dt_bytes){r3, sizeof(r3)};
		frame(&r);
		stop();
	} else if (strcmp(name, "extras") == 0) {
		/* fields the Go tool never prints, and a protocol newer than it */
		start();
		m.has_extra = true;
		m.extra = (struct dt_bytes){(const uint8_t *)"x\001y", 3};
		m.socket_protocol = DT_DOQ;
		m.has_policy = m.has_policy_type = m.has_policy_rule = m.has_policy_action = true;
		m.has_policy_match = m.has_policy_value = true;
		m.policy_type = "rpz";
		m.policy_rule = (struct dt_bytes){(const uint8_t *)"rpz.example.", 12};
		m.policy_action = 1;
		m.policy_match = 1;
		m.policy_value = (struct dt_bytes){(const uint8_t *)"bad.example.", 12};
		m.has_http_protocol = true;
		m.http_protocol = DT_HTTP2;
		frame(&m);
		stop();
	} else {
		fprintf(stderr, "mkfixture: unknown fixture '%s'\nnames: %s\n", name, names);
		return 2;
	}
	return fclose(out) == 0 ? 0 : 1;
}
