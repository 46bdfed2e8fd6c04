/* HOST:PORT as the listener (-l) and the socket output (tcp://) take it. Internal to libdnstap. */
#ifndef DT_ADDR_H
#define DT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Splits "HOST:PORT" or "[IPv6]:PORT" into host (without the brackets; possibly empty) and port (digits
 * only, at most 65535; possibly 0). An IPv6 address without brackets, a missing port, or a part longer
 * than its buffer is refused. *bracketed says which form it was. Callers add their own rules (an empty
 * host or port 0 means something to a listener, nothing to a sender). */
bool dt__split_host_port(const char *hp, char *host, size_t host_size, char *port, size_t port_size, bool *bracketed);

#endif
