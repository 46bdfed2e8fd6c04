/* What the filter (filter.c) and the two stages built on it (stage_filter.c, stage_sample.c) share: the
 * choice of an item's DNS message and a fixed keyed hash. Internal to libdnstap (not installed). */
#ifndef DT_FILTER_H
#define DT_FILTER_H

#include "dnstap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The DNS message an item is about: the query message for a *_QUERY type (odd numbers), the response
 * message for a *_RESPONSE type, and when that one is absent, the other one. NULL if it has neither. */
static inline const struct dt_bytes *dt__filter_wire(const struct dt_message *m)
{
	if (!m->has_message)
		return NULL;
	bool query = m->type % 2 == 1;
	if (query ? m->has_query_message : m->has_response_message)
		return query ? &m->query_message : &m->response_message;
	if (query ? m->has_response_message : m->has_query_message)
		return query ? &m->response_message : &m->query_message;
	return NULL;
}

/* SipHash-2-4 of p[0:n) under key: the same value on every run and every machine. */
uint64_t dt__siphash24(const uint8_t key[16], const uint8_t *p, size_t n);

/* Lowercases the ASCII letters of a wire-format name in place (DNS compares names that way). */
static inline void dt__name_lower(uint8_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (uint8_t)(name[i] + 32);
}

#endif
