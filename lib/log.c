/* See log.h. */
#include "log.h"

#include <stdio.h>

void dt__vlog(dt_log_fn log, void *arg, int level, const char *fmt, va_list ap)
{
	if (log == NULL)
		return;
	char line[4096];
	vsnprintf(line, sizeof(line), fmt, ap);
	log(arg, level, line);
}

void dt__log(dt_log_fn log, void *arg, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dt__vlog(log, arg, level, fmt, ap);
	va_end(ap);
}
