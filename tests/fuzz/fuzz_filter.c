/* Fuzz target: the filter language (lib/filter.c) on the input as an expression. An expression that
 * parses must print a normal form that parses back to the same normal form, and both must give the same
 * verdict on a few fixed messages (a query with ECS, its response with answers, one without wire data, one
 * whose wire does not parse); one that does not parse must say why, at an offset inside the input. */
#include "filter.h"
#include "fuzz.h"

#include <string.h>

/* www.example.com. IN A with ECS 198.51.100.0/24; the response adds A 198.51.100.7 */
static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0,    0,   0,   1,   3,   'w',
				'w',  'w',  7,    'e',  'x', 'a', 'm', 'p', 'l',  'e', 3,   'c', 'o', 'm',
				0,    0,    1,    0,    1,   0,   0,   41,  0x10, 0,   0,   0,   0,   0,
				0,    11,   0,    8,    0,   7,   0,   1,   24,   0,   198, 51,  100};
static const uint8_t response[] = {0x12, 0x34, 0x81, 0x83, 0,   1,   0,   1,    0,   0,   0,   0, 3,
				   'W',  'W',  'W',  7,    'e', 'x', 'a', 'm',  'p', 'l', 'e', 3, 'c',
				   'o',  'm',  0,    0,    1,   0,   1,   0xc0, 12,  0,   1,   0, 1,
				   0,    0,    0x0e, 0x10, 0,   4,   198, 51,   100, 7};
static const uint8_t client[] = {192, 0, 2, 1}, server[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void messages(struct dt_message m[4])
{
	memset(m, 0, 4 * sizeof(*m));
	for (int i = 0; i < 4; i++) {
		m[i].dnstap_type = DT_TYPE_MESSAGE;
		m[i].has_identity = true;
		m[i].identity = (struct dt_bytes){(const uint8_t *)"fuzz", 4};
		m[i].has_message = true;
		m[i].type = i % 2 ? DT_CLIENT_RESPONSE : DT_CLIENT_QUERY;
		m[i].has_socket_family = m[i].has_socket_protocol = true;
		m[i].socket_family = DT_INET;
		m[i].socket_protocol = i == 1 ? DT_TCP : DT_UDP;
		m[i].has_query_address = m[i].has_response_address = true;
		m[i].query_address = (struct dt_bytes){client, 4};
		m[i].response_address = (struct dt_bytes){server, 16};
		m[i].has_query_port = m[i].has_response_port = true;
		m[i].query_port = 40000;
		m[i].response_port = 53;
		m[i].has_query_time_sec = true;
		m[i].query_time_sec = 1700000000;
	}
	m[0].has_query_message = true;
	m[0].query_message = (struct dt_bytes){query, sizeof(query)};
	m[1].has_query_message = m[1].has_response_message = true;
	m[1].query_message = (struct dt_bytes){query, sizeof(query)};
	m[1].response_message = (struct dt_bytes){response, sizeof(response)};
	m[3].has_response_message = true;
	m[3].response_message = (struct dt_bytes){response, 20};
}

static void counted(void *arg, const char *text, uint64_t evaluated, uint64_t matched)
{
	FUZZ_CHECK(text != NULL && *text != '\0' && matched <= evaluated);
	(*(uint64_t *)arg) += evaluated;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t off = 0;
	dt_res res;
	struct dt_filter *f = dt_filter_new((const char *)data, size, err, sizeof(err), &off, &res);
	if (f == NULL) {
		FUZZ_CHECK(res == DT_ERR_INVALID || res == DT_ERR_NOMEM);
		FUZZ_CHECK(err[0] != '\0' && off <= size);
		return 0;
	}
	struct dt_buf a = {0}, b = {0};
	FUZZ_CHECK(dt_filter_format(f, &a) == DT_OK);
	struct dt_filter *g = dt_filter_new(a.data, a.len, err, sizeof(err), &off, &res);
	if (g == NULL)
		fprintf(stderr, "normal form %.*s: %s at %zu\n", (int)a.len, a.data, err, off);
	FUZZ_CHECK(g != NULL);
	FUZZ_CHECK(dt_filter_format(g, &b) == DT_OK);
	FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	struct dt_message m[4];
	messages(m);
	for (int i = 0; i < 4; i++)
		FUZZ_CHECK(dt_filter_match(f, &m[i]) == dt_filter_match(g, &m[i]));
	uint64_t evaluated = 0;
	dt_filter_foreach_predicate(f, counted, &evaluated);
	FUZZ_CHECK(evaluated >= 4);
	dt_buf_free(&a);
	dt_buf_free(&b);
	dt_filter_free(f);
	dt_filter_free(g);
	return 0;
}
