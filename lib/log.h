/* One line through a dt_log_fn: what every object that logs does, formatted once here. Internal to
 * libdnstap. */
#ifndef DT_LOG_H
#define DT_LOG_H

#include "dnstap.h"

#include <stdarg.h>

/* Formats the line (cut at 4 KiB) and hands it to log with arg; does nothing when log is NULL. */
void dt__vlog(dt_log_fn log, void *arg, int level, const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
void dt__log(dt_log_fn log, void *arg, int level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
