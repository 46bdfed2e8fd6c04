/* The filter stage: an item goes on when the filter (filter.c) matches its decoded view. An item whose
 * payload does not decode has no fields to match and is dropped, counted under this stage's name. */
#include "filter.h"

static enum dt_verdict filter(void *state, struct dt_item *it)
{
	dt_res res;
	const struct dt_message *m = dt_item_message(it, &res);
	return m != NULL && dt_filter_match(state, m) ? DT_KEEP : DT_DROP;
}

static void filter_free(void *state)
{
	dt_filter_free(state);
}

const struct dt_stage_ops dt_filter_stage = {
	.name = "filter",
	.process = filter,
	.free = filter_free,
};
