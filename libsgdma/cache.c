// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma's registration cache and the region status bytes.
 *
 * The module gives each region of a file a byte in the file's region
 * status pages, which the library maps read-only (one page per 4096
 * regions on 4 KiB pages, mapped when the first region with a byte in it
 * is registered).  The kernel sets the byte when the memory at the
 * region's addresses stops being the pages it pinned (munmap, mremap,
 * MADV_DONTNEED, a copy-on-write...), so sgdma_region_valid() and the
 * cache's lookups read it without a system call.
 *
 * With the cache on (sgdma_cache_enable()), every region registered on the
 * device goes on the device's list, and the list holds a reference to it:
 * like the registration caches of MPI and UCX, the cache keeps a region
 * registered after its users unregistered it, so that registering the same
 * buffer again costs no system call.  A registration of a range that a
 * valid listed region with the same direction covers returns that region
 * with one more reference, and sgdma_unregister() drops one.  A stale or
 * revoked region is never returned: a lookup that passes one takes it off
 * the list (and unregisters it when nobody else holds it).  Turning the
 * cache off or closing the device empties the list; a registration that
 * fails for want of memory, regions or bounce space releases the regions
 * only the cache holds and tries again.  One lock for every device (taken
 * across fork() so that a child never inherits it held) guards the lists,
 * the reference counts and the status page table; regions are unregistered
 * after it is dropped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void lock_cache_for_fork(void)
{
	pthread_mutex_lock(&cache_lock);
}

static void unlock_cache_after_fork(void)
{
	pthread_mutex_unlock(&cache_lock);
}

static void register_atfork(void)
{
	pthread_atfork(lock_cache_for_fork, unlock_cache_after_fork, unlock_cache_after_fork);
}

static void lock(void)
{
	pthread_once(&cache_once, register_atfork);
	pthread_mutex_lock(&cache_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&cache_lock);
}

/*
 * Byte @slot of @dev's region status pages, its page mapped when it is
 * not yet.  NULL when it cannot be mapped.  Cache lock held.
 */
static const volatile uint8_t *status_byte(struct sgdma_dev *dev, uint32_t slot)
{
	size_t psz = dev->page_size;
	size_t page = slot / psz;
	void *m;

	if (page >= dev->nstatus_pages) {
		size_t n = page + 1 > 2 * dev->nstatus_pages ? page + 1 : 2 * dev->nstatus_pages;
		const volatile uint8_t **p = realloc(dev->status_pages, n * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + dev->nstatus_pages, 0, (n - dev->nstatus_pages) * sizeof(*p));
		dev->status_pages = p;
		dev->nstatus_pages = n;
	}
	if (!dev->status_pages[page]) {
		m = mmap(NULL, psz, PROT_READ, MAP_SHARED, dev->fd,
		         (off_t)(SGDMA_REGION_STATUS_OFFSET + page * psz));
		if (m == MAP_FAILED)
			return NULL;
		dev->status_pages[page] = m;
	}
	return dev->status_pages[page] + slot % psz;
}

/* The memory at @r's addresses is still what the device reaches.  No system call. */
static bool valid(const struct sgdma_region *r)
{
	return r->stale && !*r->stale && !sgdma__dev_forked(r->dev) && !sgdma__dev_revoked(r->dev);
}

/*
 * Take @r, at *@link, off the list and drop the list's reference; when it
 * was the last, put @r on *@gone for release_all().  Cache lock held.
 */
static void unlink_region(struct sgdma_region **link, struct sgdma_region *r,
                          struct sgdma_region **gone)
{
	*link = r->cache_next;
	r->cached = false;
	r->cache_next = NULL;
	if (--r->refs == 0) {
		r->cache_next = *gone;
		*gone = r;
	}
}

/* Unregister the regions unlink_region() left.  Cache lock not held. */
static size_t release_all(struct sgdma_region *gone)
{
	size_t n = 0;

	while (gone) {
		struct sgdma_region *next = gone->cache_next;

		sgdma__region_free(gone);
		gone = next;
		n++;
	}
	return n;
}

struct sgdma_region *sgdma__cache_get(struct sgdma_dev *dev, const void *buf, size_t len,
                                      unsigned int flags)
{
	uintptr_t start = (uintptr_t)buf;
	struct sgdma_region *r, **link, *gone = NULL;

	if (!atomic_load_explicit(&dev->cache_on, memory_order_relaxed) || sgdma__dev_forked(dev) ||
	    sgdma__dev_revoked(dev))
		return NULL;
	lock();
	for (link = &dev->cache; (r = *link);) {
		uintptr_t rs = (uintptr_t)r->addr;

		if (!valid(r)) {
			/* Never again: off the list; its users keep it. */
			unlink_region(link, r, &gone);
			continue;
		}
		if (r->dir == (flags & SGDMA_BIDIRECTIONAL) && start >= rs &&
		    start - rs <= r->len && len <= r->len - (start - rs) &&
		    (!(flags & SGDMA_REQUIRE_CONTIG) || (r->flags & SGDMA_CONTIGUOUS))) {
			r->refs++;
			break;
		}
		link = &r->cache_next;
	}
	unlock();
	release_all(gone);
	return r;
}

size_t sgdma__cache_drop(struct sgdma_dev *dev, bool all)
{
	struct sgdma_region *r, **link, *gone = NULL;

	lock();
	for (link = &dev->cache; (r = *link);) {
		if (all || r->refs == 1)
			unlink_region(link, r, &gone);
		else
			link = &r->cache_next;
	}
	unlock();
	return release_all(gone);
}

void sgdma__cache_add(struct sgdma_region *r, uint32_t slot)
{
	struct sgdma_dev *dev = r->dev;

	r->stale = NULL;
	r->refs = 1;
	r->cached = false;
	r->ever_cached = false;
	r->cache_next = NULL;
	if (!(dev->info.features & SGDMA_FEAT_REGION_STATUS))
		return;
	lock();
	r->stale = status_byte(dev, slot);
	if (r->stale && atomic_load_explicit(&dev->cache_on, memory_order_relaxed)) {
		r->refs++; /* the list's */
		r->cached = true;
		r->ever_cached = true;
		r->cache_next = dev->cache;
		dev->cache = r;
	}
	unlock();
}

bool sgdma__cache_put(struct sgdma_region *r)
{
	bool last;

	if (!r->ever_cached)
		return --r->refs == 0;
	lock();
	last = --r->refs == 0; /* never while listed: the list holds one */
	unlock();
	return last;
}

void sgdma__cache_dev_free(struct sgdma_dev *dev)
{
	size_t psz = dev->page_size;

	for (size_t i = 0; i < dev->nstatus_pages; i++)
		if (dev->status_pages[i])
			munmap((void *)dev->status_pages[i], psz);
	free(dev->status_pages);
}

SGDMA_EXPORT int sgdma_cache_enable(struct sgdma_dev *dev, int on)
{
	if (!dev)
		return sgdma__fail(EINVAL, "sgdma_cache_enable: dev is NULL");
	if (on && !(dev->info.features & SGDMA_FEAT_REGION_STATUS))
		return sgdma__fail(
		    EOPNOTSUPP,
		    "sgdma_cache_enable: the sgdma module of %s does not report stale "
		    "regions (it is older than this libsgdma): a cache could hand out "
		    "a region whose memory was unmapped",
		    dev->info.name);
	atomic_store_explicit(&dev->cache_on, on != 0, memory_order_relaxed);
	if (!on) /* regions in use stay with their users */
		sgdma__cache_drop(dev, true);
	return 0;
}

SGDMA_EXPORT int sgdma_region_valid(const struct sgdma_region *r)
{
	if (!r)
		return sgdma__fail(EINVAL, "sgdma_region_valid: region is NULL");
	if (r->dmabuf) /* nothing of the process to unmap: the region holds the dma-buf */
		return sgdma__fail(EOPNOTSUPP,
		                   "sgdma_region_valid: a dma-buf region has no addresses in the "
		                   "process that could be unmapped or replaced");
	if (!r->stale)
		return sgdma__fail(
		    EOPNOTSUPP,
		    "sgdma_region_valid: the sgdma module of %s does not report stale "
		    "regions (it is older than this libsgdma)",
		    r->dev->info.name);
	return valid(r);
}
