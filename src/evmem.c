/* libevent's allocations: small ones from size classes in one reserved region, the rest from malloc.
 * See evmem.h for why. libevent allocates rarely (a connection's events, a descriptor's slot, an HTTP
 * request's buffers), never per frame, so one mutex is all the locking it needs: the socket sender's
 * thread runs an event base of its own. */
#include "evmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>

#if defined(__SANITIZE_ADDRESS__)
#define EVMEM_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVMEM_OFF 1
#endif
#endif

#ifndef EVMEM_OFF

enum {
	ALIGN = 16,                  /* malloc's alignment on x86-64 and aarch64 */
	CLASSES = 32,                /* blocks of 16, 32, ... 512 bytes */
	MAX_SMALL = CLASSES * ALIGN, /* larger ones go to malloc */
};
/* Address space only: pages are touched, and so paid for, as blocks are carved. 64 MiB holds the slots
 * and events of a few hundred thousand descriptors; past it, malloc serves. */
#define REGION_SIZE ((size_t)64 << 20)

/* A block: a header of ALIGN bytes holding its class, then the caller's bytes. A free block links to the
 * next free one of its class through its first bytes. */
struct block_head {
	uint32_t cls;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *region, *region_end, *carve;
static void *free_list[CLASSES];

static int in_region(const void *p)
{
	return region != NULL && (const char *)p >= region && (const char *)p < region_end;
}

static void *small_alloc(size_t n)
{
	unsigned cls = n == 0 ? 0 : (unsigned)((n - 1) / ALIGN);
	void *p = NULL;
	pthread_mutex_lock(&lock);
	if (free_list[cls] != NULL) {
		p = free_list[cls];
		memcpy(&free_list[cls], p, sizeof(void *));
	} else {
		size_t need = ALIGN + ((size_t)cls + 1) * ALIGN;
		if ((size_t)(region_end - carve) >= need) {
			struct block_head *h = (struct block_head *)(void *)carve;
			h->cls = cls;
			p = carve + ALIGN;
			carve += need;
		}
	}
	pthread_mutex_unlock(&lock);
	return p;
}

static size_t small_size(const void *p)
{
	const struct block_head *h = (const struct block_head *)(const void *)((const char *)p - ALIGN);
	return ((size_t)h->cls + 1) * ALIGN;
}

static void small_free(void *p)
{
	const struct block_head *h = (const struct block_head *)(const void *)((const char *)p - ALIGN);
	pthread_mutex_lock(&lock);
	memcpy(p, &free_list[h->cls], sizeof(void *));
	free_list[h->cls] = p;
	pthread_mutex_unlock(&lock);
}

static void *ev_malloc(size_t n)
{
	if (n <= MAX_SMALL) {
		void *p = small_alloc(n);
		if (p != NULL)
			return p;
	}
	return malloc(n);
}

static void ev_free(void *p)
{
	if (in_region(p))
		small_free(p);
	else
		free(p);
}

static void *ev_realloc(void *p, size_t n)
{
	if (p == NULL)
		return ev_malloc(n);
	if (!in_region(p))
		return realloc(p, n); /* what malloc gave stays with malloc */
	size_t have = small_size(p);
	if (n <= have)
		return p;
	void *q = ev_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, p, have);
	small_free(p);
	return q;
}

void evmem_install(void)
{
	void *r = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return; /* libevent keeps malloc: RSS after many connections is a little higher */
	region = carve = r;
	region_end = region + REGION_SIZE;
	event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
}

#else

void evmem_install(void)
{
}

#endif
