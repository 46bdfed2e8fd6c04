/* The statistics stage's fixed-memory structures: the space-saving sketch behind the top lists, and the
 * bucketed table that pairs queries with responses for the latency histogram. Both are sized once and
 * never allocate again, whatever the input: that is what keeps a collector's memory flat under a flood
 * of random names (the failure of top lists kept in plain maps). */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

/* ---- Space-saving sketch ---- */

uint64_t dt__stats_hash(const void *p, size_t n)
{
	/* eight bytes a step, each folded in by a multiply, and a final avalanche (MurmurHash3's fmix64):
	 * good enough for tables whose keys nobody chooses to collide, and a few times faster than a
	 * byte-at-a-time hash on names */
	const uint8_t *b = p;
	uint64_t h = dt__stats_hash_init(n);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = dt__stats_hash_step(h, w);
		b += 8;
		n -= 8;
	}
	uint64_t w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)b[i] << (8 * i);
	return dt__stats_hash_final(h, w);
}

bool dt__sketch_init(struct dt__sketch *s, unsigned cap)
{
	memset(s, 0, sizeof(*s));
	if (cap == 0)
		return false;
	unsigned slots = 1;
	while (slots < 2 * cap)
		slots <<= 1;
	s->cap = cap;
	s->mask = slots - 1;
	s->e = calloc(cap, sizeof(*s->e));
	s->heap = calloc(cap, sizeof(*s->heap));
	s->index = calloc(slots, sizeof(*s->index));
	if (s->e == NULL || s->heap == NULL || s->index == NULL) {
		dt__sketch_free(s);
		return false;
	}
	return true;
}

void dt__sketch_free(struct dt__sketch *s)
{
	free(s->e);
	free(s->heap);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* Puts node x at heap position i. */
static inline void heap_set(struct dt__sketch *s, unsigned i, struct dt__sketch_node x)
{
	s->heap[i] = x;
	s->e[x.entry].heap = i;
}

/* The node at i grew: it moves towards the leaves. */
static void sift_down(struct dt__sketch *s, unsigned i)
{
	struct dt__sketch_node x = s->heap[i];
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = l;
		if (l >= s->n)
			break;
		if (r < s->n && s->heap[r].count < s->heap[l].count)
			m = r;
		if (s->heap[m].count >= x.count)
			break;
		heap_set(s, i, s->heap[m]);
		i = m;
	}
	heap_set(s, i, x);
}

static void sift_up(struct dt__sketch *s, unsigned i)
{
	struct dt__sketch_node x = s->heap[i];
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (s->heap[p].count <= x.count)
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, x);
}

#define SLOT_TAG(v) ((uint32_t)((v) >> 32))
#define SLOT_ENTRY(v) ((uint32_t)(v))

/* The index slot holding key, or the empty slot where it would go. */
static inline unsigned find_slot(const struct dt__sketch *s, const uint8_t *key, size_t len, uint32_t tag)
{
	unsigned i = tag & s->mask;
	for (;;) {
		uint64_t v = s->index[i];
		if (v == 0)
			return i;
		if (SLOT_TAG(v) == tag) {
			const struct dt__sketch_entry *e = &s->e[SLOT_ENTRY(v) - 1];
			if (e->len == len && dt__stats_same(e->key, key, len))
				return i;
		}
		i = (i + 1) & s->mask;
	}
}

/* The slot that holds entry idx (which is in the index). */
static unsigned slot_of(const struct dt__sketch *s, uint32_t idx, uint32_t tag)
{
	unsigned i = tag & s->mask;
	while (SLOT_ENTRY(s->index[i]) != idx + 1)
		i = (i + 1) & s->mask;
	return i;
}

/* Backward-shift deletion keeps linear probing free of tombstones. */
static void index_remove(struct dt__sketch *s, unsigned i)
{
	unsigned j = i;
	s->index[i] = 0;
	for (;;) {
		j = (j + 1) & s->mask;
		uint64_t v = s->index[j];
		if (v == 0)
			return;
		unsigned home = SLOT_TAG(v) & s->mask;
		/* v may move to i unless its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			s->index[i] = v;
			s->index[j] = 0;
			i = j;
		}
	}
}

void dt__sketch_add(struct dt__sketch *s, const uint8_t *key, size_t len)
{
	dt__sketch_add_n(s, key, len, 1);
}

void dt__sketch_add_n(struct dt__sketch *s, const uint8_t *key, size_t len, uint64_t n)
{
	if (len > DT__SKETCH_KEY_MAX)
		len = DT__SKETCH_KEY_MAX;
	dt__sketch_add_hashed(s, key, len, dt__stats_hash(key, len), n);
}

void dt__sketch_add_hashed(struct dt__sketch *s, const uint8_t *key, size_t len, uint64_t hash, uint64_t n)
{
	s->total += n;
	uint32_t tag = (uint32_t)hash;
	unsigned slot = find_slot(s, key, len, tag);
	if (s->index[slot] != 0) {
		struct dt__sketch_entry *e = &s->e[SLOT_ENTRY(s->index[slot]) - 1];
		e->count += n;
		s->heap[e->heap].count = e->count;
		sift_down(s, e->heap);
		return;
	}
	uint32_t idx;
	uint64_t floor = 0;
	if (s->n < s->cap) {
		idx = s->n;
		s->heap[s->n] = (struct dt__sketch_node){0, idx};
		s->e[idx].heap = s->n;
		s->n++;
	} else {
		/* the smallest entry gives way; the newcomer inherits its count as the error bound */
		idx = s->heap[0].entry;
		floor = s->heap[0].count;
		index_remove(s, slot_of(s, idx, s->e[idx].tag));
		slot = find_slot(s, key, len, tag);
	}
	struct dt__sketch_entry *e = &s->e[idx];
	e->count = floor + n;
	e->error = floor;
	e->tag = tag;
	e->len = (uint8_t)len;
	memcpy(e->key, key, len);
	s->index[slot] = (uint64_t)tag << 32 | (idx + 1);
	s->heap[e->heap].count = e->count;
	if (floor == 0)
		sift_up(s, e->heap);
	else
		sift_down(s, e->heap);
}

static int by_count_desc(const void *a, const void *b)
{
	const struct dt__sketch_entry *x = *(const struct dt__sketch_entry *const *)a;
	const struct dt__sketch_entry *y = *(const struct dt__sketch_entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	/* ties in a stable order, for reports that can be compared */
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	return c != 0 ? c : (int)x->len - (int)y->len;
}

unsigned dt__sketch_top(const struct dt__sketch *s, const struct dt__sketch_entry **out, unsigned n)
{
	/* a report-time sort of a copy of the pointers: the report allocates, the per-item path never does */
	const struct dt__sketch_entry **all = malloc((s->n ? s->n : 1) * sizeof(*all));
	if (all == NULL)
		return 0;
	for (unsigned i = 0; i < s->n; i++)
		all[i] = &s->e[i];
	qsort(all, s->n, sizeof(*all), by_count_desc);
	unsigned k = s->n < n ? s->n : n;
	memcpy(out, all, k * sizeof(*out));
	free(all);
	return k;
}

/* ---- Query/response pairs ---- */

bool dt__pairs_init(struct dt__pairs *t, size_t slots, uint64_t timeout_ns)
{
	memset(t, 0, sizeof(*t));
	size_t n = DT__PAIR_WAYS;
	while (n < slots)
		n <<= 1;
	size_t buckets = n / DT__PAIR_WAYS;
	/* aligned so that a bucket's keys are one cache line */
	t->bucket = aligned_alloc(64, buckets * sizeof(*t->bucket));
	if (t->bucket == NULL)
		return false;
	memset(t->bucket, 0, buckets * sizeof(*t->bucket));
	t->mask = buckets - 1;
	t->timeout_ns = timeout_ns;
	return true;
}

void dt__pairs_free(struct dt__pairs *t)
{
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

static inline struct dt__pair_bucket *bucket_of(struct dt__pairs *t, uint64_t key)
{
	return &t->bucket[(size_t)(key >> 7) & t->mask];
}

void dt__pairs_query(struct dt__pairs *t, uint64_t key, uint64_t time)
{
	if (key == 0)
		key = 1;
	struct dt__pair_bucket *b = bucket_of(t, key);
	int free_slot = -1;
	for (int i = 0; i < DT__PAIR_WAYS; i++) {
		if (b->key[i] == key) {
			/* a retransmission with the same ID: the later query is the one answered, usually */
			b->time[i] = time;
			t->duplicate++;
			return;
		}
		if (b->key[i] == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		/* a full bucket: the oldest query past the timeout gives way */
		for (int i = 0; i < DT__PAIR_WAYS; i++)
			if (time > b->time[i] && time - b->time[i] > t->timeout_ns &&
			    (free_slot < 0 || b->time[i] < b->time[free_slot]))
				free_slot = i;
		if (free_slot < 0) {
			t->overflow++;
			return;
		}
		t->expired++;
		t->pending--;
	}
	b->key[free_slot] = key;
	b->time[free_slot] = time;
	t->pending++;
}

bool dt__pairs_response(struct dt__pairs *t, uint64_t key, uint64_t *query_time)
{
	if (key == 0)
		key = 1;
	struct dt__pair_bucket *b = bucket_of(t, key);
	for (int i = 0; i < DT__PAIR_WAYS; i++) {
		if (b->key[i] == key) {
			*query_time = b->time[i];
			b->key[i] = 0;
			t->pending--;
			return true;
		}
	}
	t->unmatched++;
	return false;
}
