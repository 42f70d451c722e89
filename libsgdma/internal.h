/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsgdma internals, shared by its source files (not installed):
 *
 *  device.c  opening devices, the default device, sgdma_dev_info()
 *  region.c  registering, segments, sync, unregister, NUMA node pages
 *  cache.c   the registration cache and the region status bytes
 *  split.c   the descriptor splitter, sgdma_split_segs()
 *  error.c   messages (sgdma_last_error()) and what each errno means
 *
 * The public header and the uapi header name different structs
 * (struct sgdma_seg vs. struct sgdma_ioc_seg, same layout): GET_SEGS writes
 * straight into the public array, so the layouts are checked here.
 * Internal functions carry the sgdma__ prefix and are hidden from the
 * shared library's symbol table.
 */
#ifndef SGDMA_INTERNAL_H
#define SGDMA_INTERNAL_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#define SGDMA_EXPORT __attribute__((visibility("default")))

static_assert(SGDMA_TO_DEVICE == SGDMA_REG_TO_DEVICE, "flag mismatch");
static_assert(SGDMA_FROM_DEVICE == SGDMA_REG_FROM_DEVICE, "flag mismatch");
static_assert(SGDMA_BIDIRECTIONAL == SGDMA_REG_DIR_MASK, "flag mismatch");
static_assert(SGDMA_REQUIRE_CONTIG == SGDMA_REG_REQUIRE_CONTIG, "flag mismatch");
static_assert(SGDMA_BOUNCED == SGDMA_REGION_BOUNCED, "flag mismatch");
static_assert(SGDMA_NEEDS_SYNC == SGDMA_REGION_NEEDS_SYNC, "flag mismatch");
static_assert(SGDMA_CONTIGUOUS == SGDMA_REGION_CONTIGUOUS, "flag mismatch");
static_assert(sizeof(struct sgdma_seg) == sizeof(struct sgdma_ioc_seg),
              "struct sgdma_seg layout mismatch");
static_assert(offsetof(struct sgdma_seg, addr) == offsetof(struct sgdma_ioc_seg, addr),
              "sgdma_seg.addr mismatch");
static_assert(offsetof(struct sgdma_seg, len) == offsetof(struct sgdma_ioc_seg, len),
              "sgdma_seg.len mismatch");
static_assert(offsetof(struct sgdma_seg, offset) == offsetof(struct sgdma_ioc_seg, offset),
              "sgdma_seg.offset mismatch");
static_assert(sizeof(((struct sgdma_dev_info *)0)->name) ==
                  sizeof(((struct sgdma_ioc_info *)0)->name),
              "name length mismatch");

/*
 * An open device file.  Freed when the last reference goes: the opener's
 * (sgdma_close(), or the default-device cache's) and one per region.
 */
struct sgdma_dev {
	atomic_uint refs;
	int fd;
	bool is_default;     /* a default device, now or before: sgdma_close() is a no-op */
	bool handed_out;     /* sgdma_default_dev() returned it: never freed */
	atomic_bool revoked; /* an ioctl on it answered ENODEV */
	atomic_bool warned;  /* the cache-line warning was printed */
	pid_t owner;         /* the opener: a forked child must reopen */
	unsigned int forks;  /* sgdma__forks() when opened */
	size_t page_size;    /* sysconf(_SC_PAGESIZE), read once: registering asks per call */
	/* The module's status page (mapped read-only), NULL without one. */
	const volatile struct sgdma_status *status;
	/*
	 * The file's region status pages mapped so far (SGDMA_FEAT_REGION_STATUS),
	 * and the cache: both under the cache lock (cache.c).
	 */
	const volatile uint8_t **status_pages;
	size_t nstatus_pages;
	atomic_bool cache_on;           /* sgdma_cache_enable() */
	struct sgdma_region *cache;     /* cached regions, newest first */
	struct sgdma_dev *retired_next; /* the list of replaced defaults handed out */
	struct sgdma_ioc_info info;
	char path[]; /* for messages */
};

/* A registered buffer: holds a reference to its device. */
struct sgdma_region {
	struct sgdma_dev *dev;
	void *addr;
	size_t len;
	uint32_t handle;
	unsigned int flags; /* sgdma_region_flags() */
	bool dmabuf;        /* a dma-buf's range (sgdma_register_dmabuf()): @addr is NULL */
	unsigned int dir;   /* SGDMA_TO_DEVICE, _FROM_DEVICE or _BIDIRECTIONAL */
	/*
	 * The device's status page when syncs of the region need nothing from
	 * the kernel (no NEEDS_SYNC flag), else NULL: the one test of a sync
	 * without a system call.
	 */
	const volatile struct sgdma_status *nosync_status;
	/* The region status byte (read-only mapping), NULL without one. */
	const volatile uint8_t *stale;
	/*
	 * Users of the region, and the cache list: under the cache lock once
	 * @ever_cached is set (before the region is first listed; never
	 * cleared). Until then its registrant is its only user.
	 */
	unsigned int refs;
	bool cached;
	bool ever_cached;
	struct sgdma_region *cache_next;
	size_t nsegs;
	struct sgdma_seg segs[];
};

/* ---- error.c ------------------------------------------------------------ */

/* Record @err as the failure: errno and message.  Returns -@err. */
__attribute__((format(printf, 2, 3))) int sgdma__fail(int err, const char *fmt, ...);
/* strerror_r() into @buf. */
const char *sgdma__strerror(int err, char *buf, size_t size);
/*
 * Describe a failed ioctl @cmd (an enum sgdma_cmd of the uapi header) of
 * @fn on @dev: message and errno.  @len: the region's length, for messages.
 * Returns -@err.
 */
int sgdma__ioctl_fail(const char *fn, const struct sgdma_dev *dev, unsigned int cmd, int err,
                      size_t len);
/*
 * SGDMA_REQUIRE_CONTIG failed: @len bytes would have been @nsegs segments.
 * Returns -E2BIG.
 */
int sgdma__fail_not_contig(const char *fn, const struct sgdma_dev *dev, size_t len, uint64_t nsegs);
/* Prints the cache-line warning of a region of @len bytes at @buf, once per @dev. */
void sgdma__warn_cacheline(const char *fn, struct sgdma_dev *dev, const void *buf, size_t len);

/* ---- cache.c ------------------------------------------------------------ */

/*
 * A cached region of @dev covering [@buf, @buf + @len) with direction
 * @flags, valid, with a reference taken for the caller; NULL when there is
 * none or @dev does not cache.
 */
struct sgdma_region *sgdma__cache_get(struct sgdma_dev *dev, const void *buf, size_t len,
                                      unsigned int flags);
/* A new region @r: find its status byte (@slot of the REGISTER reply), cache it. */
void sgdma__cache_add(struct sgdma_region *r, uint32_t slot);
/*
 * Drop a user's reference to @r.  True when it was the last (the list
 * holds one while @r is cached): the caller unregisters it.
 */
bool sgdma__cache_put(struct sgdma_region *r);
/*
 * Take @dev's cached regions off its list (@all), or only those nobody but
 * the list holds, unregistering those nobody else holds.  Returns how many
 * were unregistered.
 */
size_t sgdma__cache_drop(struct sgdma_dev *dev, bool all);
/* Unmap @dev's region status pages (the device is being freed). */
void sgdma__cache_dev_free(struct sgdma_dev *dev);

/* ---- region.c ----------------------------------------------------------- */

/* Unregister @r in the kernel, drop its device reference, free it; errno kept. */
void sgdma__region_free(struct sgdma_region *r);

/* ---- device.c ----------------------------------------------------------- */

void sgdma__dev_get(struct sgdma_dev *dev);
void sgdma__dev_put(struct sgdma_dev *dev);
/*
 * ioctl(2) @req on @dev's file.  Returns 0, or the positive errno (errno
 * is set too); ENODEV marks @dev revoked.
 */
int sgdma__dev_ioctl(struct sgdma_dev *dev, unsigned long req, void *arg);
/* The default device, with a reference for the caller; NULL on failure. */
struct sgdma_dev *sgdma__default_get(const char *fn);
/*
 * Forks of this process so far, counted in the child (pthread_atfork):
 * a device opened before the last fork belongs to the parent.
 */
extern atomic_uint sgdma__forks;

/*
 * The two checks below are inline: the no-syscall sync (the first) and
 * the registration cache's lookup (both) make them on every call, where a
 * function call each was half the cost.
 */

/*
 * True in a process forked after @dev was opened: the device's file
 * belongs to the parent's mm.  No system call.
 */
static inline bool sgdma__dev_forked(const struct sgdma_dev *dev)
{
	return atomic_load_explicit(&sgdma__forks, memory_order_relaxed) != dev->forks;
}

/*
 * True when @dev is known to be revoked: an ioctl answered ENODEV, or the
 * module's status page says so.  No system call.
 */
static inline bool sgdma__dev_revoked(struct sgdma_dev *dev)
{
	if (atomic_load_explicit(&dev->revoked, memory_order_relaxed))
		return true;
	if (dev->status && dev->status->revoked) {
		atomic_store(&dev->revoked, true);
		return true;
	}
	return false;
}

#endif /* SGDMA_INTERNAL_H */
