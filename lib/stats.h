/* The statistics stage's inside: the fixed-memory structures it counts with (a space-saving sketch for
 * the top lists, a bucketed hash table that pairs queries with their responses), the metrics writer
 * every report format goes through, and the HTTP request checks of the metrics server, here so that the
 * unit tests and the fuzz target reach them. Internal to libdnstap (not installed).
 *
 * Memory: everything is allocated when the stage is made, sized by its options, and never grows with
 * the input. */
#ifndef DT_STATS_H
#define DT_STATS_H

#include "buf.h"
#include "dnstap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A fast 64-bit hash of p[0:n), for the tables below (not for keys an attacker picks to collide: the
 * sketch and the pair table degrade gracefully, they do not grow). */
uint64_t dt__stats_hash(const void *p, size_t n);

/* The same hash built a step at a time, for a key made while it is read (a name folded to lower case as
 * it is copied): dt__stats_hash_init(n), then dt__stats_hash_step() with each 8 bytes of the key in
 * order (the last step with the remaining bytes, zero-padded, even when none remain), then
 * dt__stats_hash_final(). Gives dt__stats_hash() of the same bytes. */
static inline uint64_t dt__stats_hash_init(size_t n)
{
	return 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
}

static inline uint64_t dt__stats_hash_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

static inline uint64_t dt__stats_hash_final(uint64_t h, uint64_t last)
{
	h = (h ^ last) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* ---- The fields the statistics count ---- */

/* What the stage reads of a payload: Dnstap.identity, and of Dnstap.message its type, socket, addresses,
 * ports, times and DNS messages. Byte strings point into the payload. */
struct dt__stats_fields {
	struct dt_bytes identity; /* len 0: absent or empty */
	/* The fields a Message starts with, all 0 and false: the scan clears has_message up to
	 * query_address with one memset and the byte strings one by one, in a few stores (a memset of the
	 * whole struct was a rep stos, which cost more than the rest of a scan). */
	bool has_message;
	bool has_socket_family, has_socket_protocol;
	bool has_query_address, has_response_address;
	bool has_query_port, has_response_port;
	bool has_query_time_sec, has_response_time_sec;
	bool has_query_message, has_response_message;
	int type; /* Message.type */
	int socket_family, socket_protocol;
	uint64_t query_time_sec, response_time_sec;   /* 0 when absent */
	uint32_t query_time_nsec, response_time_nsec; /* 0 when absent */
	uint32_t query_port, response_port;
	struct dt_bytes query_address, response_address;
	struct dt_bytes query_message, response_message;
};

enum dt__scan_res {
	DT__SCAN_OK,     /* *f filled: dt_decode() accepts the payload and would give these fields */
	DT__SCAN_BAD,    /* dt_decode() rejects the payload (DT_ERR_DECODE) */
	DT__SCAN_DECODE, /* not decided (rare: a repeated Dnstap.message, a Message.policy, a known field
			  * with the wrong wire type): ask dt_decode() */
};

/* One pass over a payload for the fields above, with dt_decode()'s verdict (the same rules, in
 * lib/message.c beside the decoder) and nothing else stored: cheaper than a whole view for an item
 * no other consumer decodes. fuzz_payload holds it to dt_decode(). */
enum dt__scan_res dt__stats_scan(const uint8_t *payload, size_t len, struct dt__stats_fields *f);

/* The same fields from a decoded view. */
void dt__stats_fields_of(const struct dt_message *m, struct dt__stats_fields *f);

/* The fields of an item, for a consumer that needs no more than these (the statistics stage, the pcap
 * output): from its view when a stage before has decoded it, else from dt__stats_scan(), with the whole
 * decode (by the item's decoder, else fallback) only where the scan cannot decide. The scan leaves the
 * item as it was. DT_ERR_DECODE: the payload is not dnstap. */
struct dt_item;
struct dt_decoder;
dt_res dt__item_fields(struct dt_item *it, struct dt_decoder *fallback, struct dt__stats_fields *f);

/* Whether a[0:n) and b[0:n) are equal: inline, for the short keys of the per-item path (a libc call
 * costs more than the compare). */
static inline bool dt__stats_same(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint64_t u, v;
	for (; n >= 8; n -= 8, x += 8, y += 8) {
		memcpy(&u, x, 8);
		memcpy(&v, y, 8);
		if (u != v)
			return false;
	}
	if (n >= 4) {
		uint32_t s, t;
		memcpy(&s, x, 4);
		memcpy(&t, y, 4);
		if (s != t)
			return false;
		n -= 4;
		x += 4;
		y += 4;
	}
	for (; n > 0; n--)
		if (*x++ != *y++)
			return false;
	return true;
}

/* dt__stats_hash() of an address of 4 or 16 octets, inline. */
static inline uint64_t dt__stats_hash_addr(const uint8_t *a, size_t n)
{
	uint64_t h = dt__stats_hash_init(n), w0, w1;
	if (n == 4) {
		uint32_t v;
		memcpy(&v, a, 4);
		return dt__stats_hash_final(h, v);
	}
	memcpy(&w0, a, 8);
	memcpy(&w1, a + 8, 8);
	return dt__stats_hash_final(dt__stats_hash_step(dt__stats_hash_step(h, w0), w1), 0);
}

/* ---- Space-saving sketch (Metwally, Agrawal, El Abbadi 2005) ---- */

/* The longest key: a wire-format name (255), or an address (16) with its family byte. */
#define DT__SKETCH_KEY_MAX 255

struct dt__sketch_entry {
	uint64_t count; /* an over-estimate: the true count is in [count - error, count] */
	uint64_t error; /* the count of the entry it replaced */
	uint32_t heap;  /* its position in the min-heap */
	uint32_t tag;   /* the low 32 bits of its key's hash */
	uint8_t len;
	uint8_t key[DT__SKETCH_KEY_MAX];
};

/* A heap position: the entry's count beside its index, so that sifting compares within the heap's own
 * cache lines and touches an entry only to move it. */
struct dt__sketch_node {
	uint64_t count;
	uint32_t entry;
};

/* cap entries in a min-heap by count, found by an open-addressed index of 2*cap slots (linear probing,
 * backward-shift deletion), so that each update is O(log cap) and nothing is allocated after init. An
 * index slot holds the key's 32 low hash bits above the entry index + 1 (0: empty): a probe compares
 * bits before it reads an entry, and a deletion finds each key's home without hashing it again. */
struct dt__sketch {
	unsigned cap, n;
	struct dt__sketch_entry *e;   /* cap entries */
	struct dt__sketch_node *heap; /* heap[0] the smallest count */
	uint64_t *index;              /* 2*cap slots rounded up to a power of 2 */
	unsigned mask;
	uint64_t total; /* every update */
};

bool dt__sketch_init(struct dt__sketch *s, unsigned cap);
void dt__sketch_free(struct dt__sketch *s);
/* Counts one occurrence of key[0:len) (len <= DT__SKETCH_KEY_MAX). */
void dt__sketch_add(struct dt__sketch *s, const uint8_t *key, size_t len);
/* Counts n occurrences at once. */
void dt__sketch_add_n(struct dt__sketch *s, const uint8_t *key, size_t len, uint64_t n);
/* dt__sketch_add_n() with the key's dt__stats_hash() already made (len <= DT__SKETCH_KEY_MAX). */
void dt__sketch_add_hashed(struct dt__sketch *s, const uint8_t *key, size_t len, uint64_t hash, uint64_t n);
/* The n largest entries, largest first, into out[] (at most n); returns how many. */
unsigned dt__sketch_top(const struct dt__sketch *s, const struct dt__sketch_entry **out, unsigned n);

/* ---- Query/response pairing for the latency histogram ---- */

#define DT__PAIR_WAYS 8 /* slots per bucket: a query lands in one of them or is not tracked */

/* A bucket's keys in one cache line, their times in the next: a lookup reads the keys, and the times
 * only for the slot it takes or answers (or, in a full bucket, to find one that timed out). */
struct dt__pair_bucket {
	uint64_t key[DT__PAIR_WAYS];  /* hash of the transaction; 0 means empty */
	uint64_t time[DT__PAIR_WAYS]; /* the query's time, in ns since the epoch */
};

struct dt__pairs {
	struct dt__pair_bucket *bucket;
	size_t mask; /* buckets - 1; a power of 2 */
	uint64_t timeout_ns;
	uint64_t pending, overflow, expired, unmatched, duplicate;
};

bool dt__pairs_init(struct dt__pairs *t, size_t slots, uint64_t timeout_ns);
void dt__pairs_free(struct dt__pairs *t);
/* The bucket of key, to prefetch before the query or response that needs it. */
static inline const void *dt__pairs_where(const struct dt__pairs *t, uint64_t key)
{
	return &t->bucket[(size_t)(key >> 7) & t->mask];
}
/* A query: remembered if its bucket has a free slot, or one held by a query older than the timeout (that
 * one is counted as expired); otherwise counted as overflow. */
void dt__pairs_query(struct dt__pairs *t, uint64_t key, uint64_t time);
/* A response: true with *query_time if its query was remembered (and forgets it). */
bool dt__pairs_response(struct dt__pairs *t, uint64_t key, uint64_t *query_time);

/* ---- The metrics writer ---- */

enum dt__metrics_mode { DT__METRICS_PROMETHEUS, DT__METRICS_JSON };

struct dt_metrics_writer {
	struct dt_buf *out;
	enum dt__metrics_mode mode;
	const char *family; /* the family being written; NULL before the first */
	bool sample_open;   /* JSON: a sample written in this family */
	bool any_family;    /* JSON: a family written */
};

/* Prometheus label values: \ " and newline escaped. */
void dt__prom_escape(struct dt_buf *b, const char *s);
/* JSON string contents (no quotes): " \ and control characters escaped. */
void dt__json_escape(struct dt_buf *b, const char *s);

/* ---- The metrics server's request checks ---- */

/* An address range of --metrics-allow. */
struct dt__cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

/* "192.0.2.0/24", "::1", "2001:db8::/32": false if malformed. */
bool dt__cidr_parse(const char *text, struct dt__cidr *c);
/* Whether addr (4 or 16 octets of family) is inside c. An IPv4-mapped IPv6 address is checked as IPv4. */
bool dt__cidr_match(const struct dt__cidr *c, int family, const uint8_t *addr);

enum dt__route {
	DT__ROUTE_NOT_FOUND,
	DT__ROUTE_PAGE,       /* / and /index.html */
	DT__ROUTE_METRICS,    /* /metrics */
	DT__ROUTE_JSON,       /* /stats.json */
	DT__ROUTE_BAD_METHOD, /* not GET or HEAD */
};

/* Where a request goes, from its method ("GET") and URI ("/metrics?x=1"; the query and fragment are
 * ignored). Never reads past the NUL of either. */
enum dt__route dt__http_route(const char *method, const char *uri);

/* The HTML page (lib/metrics_page.c). */
extern const char dt__metrics_page[];
extern const size_t dt__metrics_page_len;

#endif
