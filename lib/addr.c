/* One reading of HOST:PORT for the whole library: the listener and the socket output differ in what
 * they accept afterwards, not in how the string is cut. */
#include "addr.h"

#include <stdlib.h>
#include <string.h>

bool dt__split_host_port(const char *hp, char *host, size_t host_size, char *port, size_t port_size, bool *bracketed)
{
	const char *colon;
	const char *h = hp;
	size_t hlen;
	*bracketed = hp[0] == '[';
	if (*bracketed) {
		const char *close = strchr(hp, ']');
		if (close == NULL || close[1] != ':')
			return false;
		h = hp + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL || memchr(hp, ':', (size_t)(colon - hp)) != NULL)
			return false; /* no port, or an IPv6 address without brackets */
		hlen = (size_t)(colon - hp);
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	if (hlen >= host_size || plen == 0 || plen >= port_size || strspn(p, "0123456789") != plen ||
	    strtoul(p, NULL, 10) > 65535)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return true;
}
