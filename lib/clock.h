/* The monotonic clock in milliseconds, for the timeouts and deadlines of the library's files (the
 * listener's shutdown, the socket and Kafka outputs, the Kafka input). Internal to libdnstap. */
#ifndef DT_CLOCK_H
#define DT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t dt__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
