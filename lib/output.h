/* The output interface's inside: each kind of output fills in a table of operations, so that a new sink
 * (a socket sender, Kafka, pcap) is one more output_*.c file and nothing else changes. Internal to
 * libdnstap. */
#ifndef DT_OUTPUT_H
#define DT_OUTPUT_H

#include "dnstap.h"

struct dt_output_ops {
	/* Takes one item: the payload for outputs that store or relay it, dt__item_message() for those
	 * that need fields. Results as dt_output_write_item(). */
	dt_res (*write)(struct dt_output *o, struct dt_item *it);
	dt_res (*flush)(struct dt_output *o);
	dt_res (*reopen)(struct dt_output *o);
	dt_res (*close)(struct dt_output *o);                                 /* also frees o */
	void (*stats)(const struct dt_output *o, struct dt_output_stats *st); /* st is zeroed before */
	const char *name; /* for log lines, when the output has no name() of its own */
	const char *(*get_name)(const struct dt_output *o); /* NULL: name */
};

struct dt_output {
	const struct dt_output_ops *ops;
};

/* True if path still names the file open on fd: reopening it then would truncate what it holds, so a
 * reopen that was not preceded by a rename only flushes. */
bool dt__output_not_moved(const char *path, int fd);

/* dt_item_message() with a fallback: an item pushed outside a pipeline (dt_output_write()) has no
 * decoder, and the output that needs fields lends its own. */
const struct dt_message *dt__item_message(struct dt_item *it, struct dt_decoder *fallback, dt_res *res);

/* For a stage that rewrites items (anonymisation): the item's payload becomes payload[0:len) and its
 * decoded view msg, which later stages and outputs use; both must stay valid until the push returns. */
void dt__item_replace(struct dt_item *it, const uint8_t *payload, size_t len, const struct dt_message *msg);

/* Written-frame count of a Frame Streams file output (dt_output_fstrm_open()), for the rotating file
 * output that is built on it. */
uint64_t dt__fstrm_frames_written(const struct dt_output *o);

#endif
