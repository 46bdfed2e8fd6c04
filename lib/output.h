/* The output interface's inside: each kind of output fills in a table of operations, so that a new sink
 * (a socket sender, Kafka) is one more file and nothing else changes. Internal to libdnstap. */
#ifndef DT_OUTPUT_H
#define DT_OUTPUT_H

#include "dnstap.h"

struct dt_output_ops {
	dt_res (*write)(struct dt_output *o, const uint8_t *payload, size_t len);
	dt_res (*flush)(struct dt_output *o);
	dt_res (*reopen)(struct dt_output *o);
	dt_res (*close)(struct dt_output *o); /* also frees o */
	uint64_t (*frames_written)(const struct dt_output *o); /* NULL: cannot tell */
};

struct dt_output {
	const struct dt_output_ops *ops;
};

/* True if path still names the file open on fd: reopening it then would truncate what it holds, so a
 * reopen that was not preceded by a rename only flushes. */
bool dt__output_not_moved(const char *path, int fd);

#endif
