/* libevent's memory, kept apart from the connections' (event_set_mem_functions()).
 *
 * libevent gives every descriptor number it has ever watched a small slot, allocated the first time and
 * kept for the event base's life. From glibc's heap those slots land among the connections' TLS buffers,
 * and when a thousand connections close, each slot pins one page that malloc_trim() cannot give back:
 * about 4 MiB after 1,000 TLS connections. Served from pages of their own, libevent's small allocations
 * pin nothing, and the listener's RSS returns to where it started. */
#ifndef DNSTAP_EVMEM_H
#define DNSTAP_EVMEM_H

/* Routes libevent's allocations through the pool. Call first in main(), before any libevent call: memory
 * libevent allocated earlier would be freed into the wrong allocator. A no-op under AddressSanitizer,
 * which must see libevent's allocations to check them. */
void evmem_install(void);

#endif
