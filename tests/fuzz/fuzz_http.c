/* Fuzz target: the request checks of the metrics server that are ours rather than evhttp's
 * (lib/metrics_http.c): the routing of a method and URI, and the --metrics-allow ranges (parsing a CIDR,
 * matching an address against it). The input is "METHOD URI", a newline, a CIDR, a newline, then up to 16
 * address bytes. What must hold: routing reads only the two strings and GET and HEAD go to the same place;
 * a range that parses matches its own address and agrees with a bit-by-bit comparison for any address. */
#include "fuzz.h"
#include "stats.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* Copies data[*off..] up to a newline (or the end) into out as a NUL-terminated string. */
static void take_line(const uint8_t *data, size_t size, size_t *off, char *out, size_t out_size)
{
	size_t n = 0;
	while (*off < size && data[*off] != '\n') {
		if (n + 1 < out_size)
			out[n++] = data[*off] == '\0' ? '?' : (char)data[*off];
		(*off)++;
	}
	if (*off < size)
		(*off)++;
	out[n] = '\0';
}

static bool bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[4096], cidr[128];
	size_t off = 0;
	take_line(data, size, &off, line, sizeof(line));
	take_line(data, size, &off, cidr, sizeof(cidr));

	/* routing */
	char *sp = strchr(line, ' ');
	const char *method = line, *uri = "";
	if (sp != NULL) {
		*sp = '\0';
		uri = sp + 1;
	}
	enum dt__route r = dt__http_route(method, uri);
	bool get_or_head = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	FUZZ_CHECK(get_or_head == (r != DT__ROUTE_BAD_METHOD));
	FUZZ_CHECK(dt__http_route("GET", uri) == dt__http_route("HEAD", uri));
	if (r == DT__ROUTE_METRICS)
		FUZZ_CHECK(strstr(uri, "/metrics") != NULL);

	/* ranges */
	struct dt__cidr c;
	if (!dt__cidr_parse(cidr, &c))
		return 0;
	unsigned max = c.family == AF_INET ? 32 : 128;
	FUZZ_CHECK(c.family == AF_INET || c.family == AF_INET6);
	FUZZ_CHECK(c.bits <= max);
	FUZZ_CHECK(dt__cidr_match(&c, c.family, c.addr));
	uint8_t a[16] = {0};
	size_t n = size - off < 16 ? size - off : 16;
	memcpy(a, data + off, n);
	bool same = true;
	for (unsigned i = 0; i < c.bits && same; i++)
		same = bit(a, i) == bit(c.addr, i);
	FUZZ_CHECK(dt__cidr_match(&c, c.family, a) == same);
	/* an IPv4 range also takes the IPv4-mapped IPv6 form of its addresses */
	if (c.family == AF_INET) {
		uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memcpy(m + 12, a, 4);
		FUZZ_CHECK(dt__cidr_match(&c, AF_INET6, m) == same);
	}
	return 0;
}
