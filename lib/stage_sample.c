/* The sampling stage: 1 in n items, chosen by a keyed hash of what a query and its response share (the
 * client, the DNS ID, the question's name), so that pairs stay whole and every run picks the same items.
 * The key is fixed: sampling is for thinning, not for hiding which items were kept. */
#include "dns_wire.h"
#include "filter.h"

#include <stdlib.h>
#include <string.h>

struct dt_sampler {
	uint64_t n;
	enum dt_sample_key key;
};

/* "dnstap sample v1", the SipHash key of every sampler. */
static const uint8_t sample_key[16] = {'d', 'n', 's', 't', 'a', 'p', ' ', 's', 'a', 'm', 'p', 'l', 'e', ' ', 'v', '1'};

/* The bytes hashed: a tag (which fields follow), the client address, then the DNS ID and the lowercased
 * wire-form qname, or the client port when the item has no DNS message with a question that unpacks. */
static uint64_t hash_message(const struct dt_sampler *s, const struct dt_message *m)
{
	uint8_t buf[1 + 16 + 2 + 255];
	size_t n = 1;
	buf[0] = 'c';
	if (m->has_message && m->has_query_address && m->query_address.len <= 16) {
		memcpy(buf + n, m->query_address.data, m->query_address.len);
		n += m->query_address.len;
	}
	if (s->key == DT_SAMPLE_CLIENT)
		return dt__siphash24(sample_key, buf, n);
	const struct dt_bytes *w = dt__filter_wire(m);
	size_t name_len;
	if (w != NULL && w->len > DT__DNS_HEADER_LEN && dt__dns_get16(w->data + 4) > 0 &&
	    dt__dns_name_unpack(w->data, w->len, DT__DNS_HEADER_LEN, buf + n + 2, &name_len) == NULL) {
		buf[0] = 'q';
		memcpy(buf + n, w->data, 2); /* the ID */
		dt__name_lower(buf + n + 2, name_len);
		n += 2 + name_len;
	} else if (m->has_message && m->has_query_port) {
		buf[0] = 'p';
		buf[n++] = (uint8_t)(m->query_port >> 8);
		buf[n++] = (uint8_t)m->query_port;
	}
	return dt__siphash24(sample_key, buf, n);
}

bool dt_sampler_keep(const struct dt_sampler *s, const struct dt_message *m)
{
	return s->n <= 1 || hash_message(s, m) % s->n == 0;
}

static enum dt_verdict sample(void *state, struct dt_item *it)
{
	const struct dt_sampler *s = state;
	if (s->n <= 1)
		return DT_KEEP;
	dt_res res;
	const struct dt_message *m = dt_item_message(it, &res);
	if (m == NULL)
		return dt__siphash24(sample_key, it->payload, it->len) % s->n == 0 ? DT_KEEP : DT_DROP;
	return dt_sampler_keep(s, m) ? DT_KEEP : DT_DROP;
}

static void sample_free(void *state)
{
	free(state);
}

const struct dt_stage_ops dt_sample_stage = {
	.name = "sample",
	.process = sample,
	.free = sample_free,
};

struct dt_sampler *dt_sampler_new(const struct dt_sample_options *opt, dt_res *res)
{
	if (opt->n == 0 || (opt->key != DT_SAMPLE_MESSAGE && opt->key != DT_SAMPLE_CLIENT)) {
		*res = DT_ERR_INVALID;
		return NULL;
	}
	struct dt_sampler *s = malloc(sizeof(*s));
	if (s == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	s->n = opt->n;
	s->key = opt->key;
	*res = DT_OK;
	return s;
}

void dt_sampler_free(struct dt_sampler *s)
{
	free(s);
}
