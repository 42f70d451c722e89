// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma regions: registering a buffer (REGISTER, which returns the
 * first segments with its reply, then GET_SEGS for any more, then a check
 * that the segments tile the buffer), the accessors, sync (skipped when the
 * region needs none), unregister, and where the region's pages are.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Segments fetched per GET_SEGS call. */
#define SEGS_BATCH 4096
/* Most segments asked for with the REGISTER reply. */
#define INLINE_MAX 64
/* Unused inline entries a region keeps rather than shrinking. */
#define INLINE_SLACK 16
/* Pages asked about per move_pages(2) call. */
#define NODE_BATCH 512

/* ---- registering -------------------------------------------------------- */

/* Unregister @handle, keeping errno: the caller reports an earlier failure. */
static void kernel_unregister(struct sgdma_dev *dev, uint32_t handle)
{
	struct sgdma_ioc_unregister u = {.size = sizeof(u), .handle = handle};
	int saved = errno;

	sgdma__dev_ioctl(dev, SGDMA_IOC_UNREGISTER, &u);
	errno = saved;
}

/* free() that keeps errno: the caller reports an earlier failure. */
static void free_keeping_errno(void *p)
{
	int saved = errno;

	free(p);
	errno = saved;
}

/* Arguments of a registration.  Returns 0 or -EINVAL with the message set. */
static int check_args(const char *fn, const struct sgdma_dev *dev, const void *buf, size_t len,
                      unsigned int flags)
{
	if (!dev)
		return sgdma__fail(EINVAL, "%s: dev is NULL", fn);
	if (!buf)
		return sgdma__fail(EINVAL, "%s: buf is NULL", fn);
	if (!len)
		return sgdma__fail(EINVAL, "%s: len is 0", fn);
	if (len - 1 > UINTPTR_MAX - (uintptr_t)buf)
		return sgdma__fail(EINVAL, "%s: buf + len overflows", fn);
	if (!(flags & SGDMA_BIDIRECTIONAL) ||
	    (flags & ~(unsigned int)(SGDMA_BIDIRECTIONAL | SGDMA_REQUIRE_CONTIG)))
		return sgdma__fail(EINVAL,
		                   "%s: invalid flags 0x%x: use SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE "
		                   "or SGDMA_BIDIRECTIONAL, optionally with SGDMA_REQUIRE_CONTIG",
		                   fn, flags);
	return 0;
}

/*
 * A region with room for @nsegs segments, or @r resized to it (@r is
 * freed on failure).  NULL with the message set when out of memory.
 */
static struct sgdma_region *resize_region(const char *fn, struct sgdma_region *r, uint64_t nsegs)
{
	struct sgdma_region *n;
	size_t size;

	if (nsegs > (SIZE_MAX - sizeof(*r)) / sizeof(r->segs[0])) {
		sgdma__fail(ENOMEM, "%s: %llu segments do not fit in memory", fn,
		            (unsigned long long)nsegs);
		free(r);
		return NULL;
	}
	/* realloc(NULL) would be malloc() behind one more call. */
	size = sizeof(*r) + (size_t)nsegs * sizeof(r->segs[0]);
	n = r ? realloc(r, size) : malloc(size);
	if (!n) {
		sgdma__fail(ENOMEM, "%s: out of memory for %llu segments", fn,
		            (unsigned long long)nsegs);
		free(r);
		return NULL;
	}
	return n;
}

/*
 * Segments to ask for with the REGISTER reply: without an IOMMU each page
 * may be a segment, and a segment boundary may cut one in two.
 */
static size_t inline_room(const struct sgdma_dev *dev, const void *buf, size_t len)
{
	uintptr_t page = dev->page_size;
	uintptr_t pages = ((uintptr_t)buf + len - 1) / page - (uintptr_t)buf / page + 1;

	if (!(dev->info.features & SGDMA_FEAT_INLINE_SEGS))
		return 0;
	return pages < INLINE_MAX / 2 ? 2 * pages : INLINE_MAX;
}

/* Read segments @from to r->nsegs of r->handle into r->segs.  Returns 0 or -errno. */
static int fetch_segs(const char *fn, struct sgdma_region *r, size_t from)
{
	for (size_t i = from; i < r->nsegs;) {
		size_t want = r->nsegs - i < SEGS_BATCH ? r->nsegs - i : SEGS_BATCH;
		struct sgdma_ioc_get_segs gs = {
		    .size = sizeof(gs),
		    .handle = r->handle,
		    .first = i,
		    .count = want,
		    .segs = (uintptr_t)&r->segs[i],
		};
		int err = sgdma__dev_ioctl(r->dev, SGDMA_IOC_GET_SEGS, &gs);

		if (err)
			return sgdma__ioctl_fail(fn, r->dev, SGDMA_CMD_GET_SEGS, err, r->len);
		if (gs.count == 0 || gs.count > want)
			return sgdma__fail(EPROTO, "%s: GET_SEGS returned %llu of %zu segments", fn,
			                   (unsigned long long)gs.count, want);
		i += (size_t)gs.count;
	}
	return 0;
}

/* The segments must tile the buffer, in order.  Returns 0 or -EPROTO. */
static int check_tiling(const char *fn, const struct sgdma_region *r)
{
	uint64_t expect = 0;

	for (size_t i = 0; i < r->nsegs; i++) {
		const struct sgdma_seg *s = &r->segs[i];

		if (s->offset != expect || s->len == 0 || s->len > r->len - expect)
			return sgdma__fail(
			    EPROTO,
			    "%s: segment %zu (offset %llu, len %llu) does not continue "
			    "the buffer at %llu",
			    fn, i, (unsigned long long)s->offset, (unsigned long long)s->len,
			    (unsigned long long)expect);
		expect += s->len;
	}
	if (expect != r->len)
		return sgdma__fail(EPROTO, "%s: segments cover %llu of %zu bytes", fn,
		                   (unsigned long long)expect, r->len);
	return 0;
}

/*
 * The region's flags from the REGISTER reply; a module without region
 * flags says nothing of bouncing, so every sync goes to the kernel.
 * Returns 0 or -EPROTO.
 */
static int region_flags(const char *fn, struct sgdma_region *r,
                        const struct sgdma_ioc_register *reg)
{
	const struct sgdma_dev *dev = r->dev;
	unsigned int align = dev->info.dma_align;
	uintptr_t start = (uintptr_t)r->addr;

	if (dev->info.features & SGDMA_FEAT_REGION_FLAGS) {
		r->flags = reg->region_flags & (SGDMA_REGION_BOUNCED | SGDMA_REGION_NEEDS_SYNC |
		                                SGDMA_REGION_CONTIGUOUS);
		if (!(r->flags & SGDMA_CONTIGUOUS) != (r->nsegs > 1))
			return sgdma__fail(
			    EPROTO, "%s: the module reported %zu segments and contiguous %s", fn,
			    r->nsegs, r->flags & SGDMA_CONTIGUOUS ? "yes" : "no");
	} else {
		r->flags = SGDMA_NEEDS_SYNC | (r->nsegs == 1 ? SGDMA_CONTIGUOUS : 0);
	}
	if ((dev->info.features & SGDMA_FEAT_COHERENCE) &&
	    !(dev->info.dev_flags & SGDMA_INFO_COHERENT) && (reg->flags & SGDMA_FROM_DEVICE) &&
	    align > 1 && (start % align || (start + r->len) % align))
		r->flags |= SGDMA_CACHELINE_SHARED;
	r->nosync_status = r->flags & SGDMA_NEEDS_SYNC ? NULL : dev->status;
	return 0;
}

/*
 * The segments of a region the module registered: @nsegs in all, the first
 * @inline_count already in @r's array of @room.  Checks the counts, sizes
 * @r to them and fetches the rest.  On failure @r is freed and NULL is
 * returned; the caller unregisters the handle.
 */
static struct sgdma_region *take_segments(const char *fn, struct sgdma_region *r, size_t room,
                                          uint64_t nsegs, uint32_t inline_count)
{
	if (nsegs == 0 || nsegs > r->len || inline_count > room || inline_count > nsegs) {
		sgdma__fail(EPROTO,
		            "%s: the module reported %llu segments for %zu bytes (%u inline)", fn,
		            (unsigned long long)nsegs, r->len, inline_count);
		goto err_free;
	}
	if (nsegs > room || room - nsegs > INLINE_SLACK) {
		r = resize_region(fn, r, nsegs);
		if (!r)
			return NULL;
	}
	r->nsegs = (size_t)nsegs;
	if (fetch_segs(fn, r, inline_count) < 0 || check_tiling(fn, r) < 0)
		goto err_free;
	return r;

err_free:
	free_keeping_errno(r);
	return NULL;
}

static struct sgdma_region *do_register(const char *fn, struct sgdma_dev *dev, void *buf,
                                        size_t len, unsigned int flags)
{
	struct sgdma_ioc_register reg = {.size = sizeof(reg)};
	struct sgdma_region *r;
	size_t room;
	int err;

	if (check_args(fn, dev, buf, len, flags) < 0)
		return NULL;
	r = sgdma__cache_get(dev, buf, len, flags);
	if (r)
		return r;
	room = inline_room(dev, buf, len);
	r = resize_region(fn, NULL, room);
	if (!r)
		return NULL;
	reg.flags = flags & SGDMA_BIDIRECTIONAL;
	/* A module without region flags refuses it: then the library checks. */
	if (dev->info.features & SGDMA_FEAT_REGION_FLAGS)
		reg.flags = flags;
	reg.addr = (uintptr_t)buf;
	reg.length = len;
	reg.inline_count = (uint32_t)room;
	reg.inline_segs = room ? (uintptr_t)r->segs : 0;
	err = sgdma__dev_ioctl(dev, SGDMA_IOC_REGISTER, &reg);
	/* Out of memlock, regions or bounce space: the cache gives back what it alone holds. */
	if ((err == ENOMEM || err == ENOSPC || err == EIO) && sgdma__cache_drop(dev, false))
		err = sgdma__dev_ioctl(dev, SGDMA_IOC_REGISTER, &reg);
	if (err) {
		if (err == E2BIG && (flags & SGDMA_REQUIRE_CONTIG) && reg.nsegs)
			sgdma__fail_not_contig(fn, dev, len, reg.nsegs);
		else
			sgdma__ioctl_fail(fn, dev, SGDMA_CMD_REGISTER, err, len);
		goto err_free;
	}

	r->dev = dev;
	r->addr = buf;
	r->dmabuf = false;
	r->len = len;
	r->handle = reg.handle;
	r = take_segments(fn, r, room, reg.nsegs, reg.inline_count);
	if (!r)
		goto err_unregister;
	if (region_flags(fn, r, &reg) < 0)
		goto err_free_unregister;
	if ((flags & SGDMA_REQUIRE_CONTIG) && r->nsegs > 1) {
		/* A module that does not know the flag mapped it anyway. */
		sgdma__fail_not_contig(fn, dev, len, r->nsegs);
		goto err_free_unregister;
	}
	if (r->flags & SGDMA_CACHELINE_SHARED)
		sgdma__warn_cacheline(fn, dev, buf, len);
	r->dir = flags & SGDMA_BIDIRECTIONAL;
	sgdma__dev_get(dev);
	sgdma__cache_add(r, reg.status_slot);
	return r;

err_free_unregister:
	free_keeping_errno(r);
err_unregister:
	kernel_unregister(dev, reg.handle);
	return NULL;

err_free:
	free_keeping_errno(r);
	return NULL;
}

SGDMA_EXPORT struct sgdma_region *sgdma_dev_register(struct sgdma_dev *dev, void *buf, size_t len,
                                                     unsigned int flags)
{
	return do_register("sgdma_dev_register", dev, buf, len, flags);
}

SGDMA_EXPORT struct sgdma_region *sgdma_register(void *buf, size_t len)
{
	struct sgdma_region *r;
	struct sgdma_dev *dev;
	int err;

	/* Check the arguments before opening anything. */
	if (!buf) {
		sgdma__fail(EINVAL, "sgdma_register: buf is NULL");
		return NULL;
	}
	if (!len) {
		sgdma__fail(EINVAL, "sgdma_register: len is 0");
		return NULL;
	}
	dev = sgdma__default_get("sgdma_register");
	if (!dev)
		return NULL;
	r = do_register("sgdma_register", dev, buf, len, SGDMA_BIDIRECTIONAL);
	err = errno;
	sgdma__dev_put(dev); /* the region holds its own reference */
	errno = err;
	return r;
}

/* ---- dma-bufs ----------------------------------------------------------- */

/* Whether @fd is a dma-buf (its name in /proc is "/dmabuf:..."). */
static bool is_dmabuf(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strncmp(target, "/dmabuf:", 8) == 0;
}

/* The message for a failed REGISTER_DMABUF.  Returns -@err. */
static int dmabuf_fail(const char *fn, const struct sgdma_dev *dev, int fd, size_t offset,
                       size_t len, int err)
{
	off_t size;

	switch (err) {
	case EBADF:
		return sgdma__fail(err, "%s: fd %d is not an open file descriptor", fn, fd);
	case EINVAL:
		if (!is_dmabuf(fd))
			return sgdma__fail(err, "%s: fd %d is not a dma-buf", fn, fd);
		size = lseek(fd, 0, SEEK_END);
		if (size >= 0 && (offset > (size_t)size || len > (size_t)size - offset))
			return sgdma__fail(
			    err,
			    "%s: range [%zu, +%zu) is outside the dma-buf (fd %d) of "
			    "%lld bytes",
			    fn, offset, len, fd, (long long)size);
		break;
	case EACCES:
		return sgdma__fail(err,
		                   "%s: the dma-buf (fd %d) was created without write access while "
		                   "the device writes it, or without read access while it reads it",
		                   fn, fd);
	case EOPNOTSUPP:
		return sgdma__fail(err, "%s: the kernel of the sgdma module has no dma-buf support",
		                   fn);
	case EIO:
		return sgdma__fail(err,
		                   "%s: the exporter of the dma-buf (fd %d) could not map it for "
		                   "the device (e.g. no bounce buffer space for a device with a "
		                   "small DMA mask, or over the module's max_bounce_bytes)",
		                   fn, fd);
	case ENOMEM:
		return sgdma__fail(err, "%s: out of memory", fn);
	case E2BIG:
	case ENOSPC:
	case EBUSY:
		/* As for user memory. */
		return sgdma__ioctl_fail(fn, dev, SGDMA_CMD_REGISTER, err, len);
	default:
		break;
	}
	return sgdma__ioctl_fail(fn, dev, SGDMA_CMD_REGISTER_DMABUF, err, len);
}

SGDMA_EXPORT struct sgdma_region *
sgdma_register_dmabuf(struct sgdma_dev *dev, int fd, size_t offset, size_t len, unsigned int flags)
{
	const char *fn = "sgdma_register_dmabuf";
	struct sgdma_ioc_register_dmabuf reg = {.size = sizeof(reg)};
	struct sgdma_ioc_register flags_reply = {.flags = flags};
	unsigned int align;
	struct sgdma_region *r;
	size_t room;
	int err;

	if (!dev) {
		sgdma__fail(EINVAL, "%s: dev is NULL", fn);
		return NULL;
	}
	if (!len) {
		sgdma__fail(EINVAL, "%s: len is 0", fn);
		return NULL;
	}
	if (len - 1 > SIZE_MAX - offset) {
		sgdma__fail(EINVAL, "%s: offset + len overflows", fn);
		return NULL;
	}
	/* Any pointer passes check_args(): only the flags are its to check. */
	if (check_args(fn, dev, &reg, len, flags) < 0)
		return NULL;
	if (!(dev->info.features & SGDMA_FEAT_DMABUF)) {
		sgdma__fail(EOPNOTSUPP,
		            "%s: the sgdma module is older than this libsgdma: it does not "
		            "register dma-bufs",
		            fn);
		return NULL;
	}
	room = inline_room(dev, (const void *)(uintptr_t)(offset % 4096), len);
	r = resize_region(fn, NULL, room);
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	reg.flags = flags;
	reg.fd = fd;
	reg.offset = offset;
	reg.length = len;
	reg.inline_count = (uint32_t)room;
	reg.inline_segs = room ? (uintptr_t)r->segs : 0;
	err = sgdma__dev_ioctl(dev, SGDMA_IOC_REGISTER_DMABUF, &reg);
	if (err) {
		if (err == E2BIG && (flags & SGDMA_REQUIRE_CONTIG) && reg.nsegs)
			sgdma__fail_not_contig(fn, dev, len, reg.nsegs);
		else
			dmabuf_fail(fn, dev, fd, offset, len, err);
		goto err_free;
	}

	r->dev = dev;
	r->addr = NULL;
	r->len = len;
	r->handle = reg.handle;
	r->dmabuf = true;
	r = take_segments(fn, r, room, reg.nsegs, reg.inline_count);
	if (!r)
		goto err_unregister;
	flags_reply.region_flags = reg.region_flags;
	if (region_flags(fn, r, &flags_reply) < 0)
		goto err_free_unregister;
	/* The cache lines of the dma-buf's range, not of a user address. */
	align = dev->info.dma_align;
	r->flags &= ~SGDMA_CACHELINE_SHARED;
	if ((dev->info.features & SGDMA_FEAT_COHERENCE) &&
	    !(dev->info.dev_flags & SGDMA_INFO_COHERENT) && (flags & SGDMA_FROM_DEVICE) &&
	    align > 1 && (offset % align || (offset + len) % align))
		r->flags |= SGDMA_CACHELINE_SHARED;
	if (r->flags & SGDMA_CACHELINE_SHARED)
		sgdma__warn_cacheline(fn, dev, (const void *)(uintptr_t)offset, len);
	r->refs = 1; /* never cached: sgdma_unregister() releases it */
	r->ever_cached = false;
	sgdma__dev_get(dev);
	return r;

err_free_unregister:
	free_keeping_errno(r);
err_unregister:
	kernel_unregister(dev, reg.handle);
	return NULL;

err_free:
	free_keeping_errno(r);
	return NULL;
}

/* ---- accessors ---------------------------------------------------------- */

SGDMA_EXPORT size_t sgdma_region_nsegs(const struct sgdma_region *r)
{
	return r ? r->nsegs : 0;
}

SGDMA_EXPORT const struct sgdma_seg *sgdma_region_segs(const struct sgdma_region *r)
{
	return r ? r->segs : NULL;
}

SGDMA_EXPORT unsigned int sgdma_region_flags(const struct sgdma_region *r)
{
	return r ? r->flags : 0;
}

SGDMA_EXPORT struct sgdma_dev *sgdma_region_dev(const struct sgdma_region *r)
{
	return r ? r->dev : NULL;
}

SGDMA_EXPORT size_t sgdma_region_len(const struct sgdma_region *r)
{
	return r ? r->len : 0;
}

SGDMA_EXPORT void *sgdma_region_addr(const struct sgdma_region *r)
{
	return r ? r->addr : NULL;
}

/* ---- sync and unregister ------------------------------------------------ */

static __attribute__((noinline)) int do_sync(struct sgdma_region *r, size_t off, size_t len,
                                             uint32_t flag, const char *fn)
{
	int err;

	if (!r)
		return sgdma__fail(EINVAL, "%s: region is NULL", fn);
	if (!len)
		return sgdma__fail(EINVAL, "%s: len is 0", fn);
	if (off > r->len || len > r->len - off)
		return sgdma__fail(EINVAL,
		                   "%s: range [%zu, +%zu) is outside the region of %zu bytes", fn,
		                   off, len, r->len);
	if (r->nosync_status) {
		/* The kernel would do nothing: say what it would have said. */
		if (sgdma__dev_forked(r->dev))
			return sgdma__ioctl_fail(fn, r->dev, SGDMA_CMD_SYNC, EPERM, r->len);
		if (sgdma__dev_revoked(r->dev))
			return sgdma__ioctl_fail(fn, r->dev, SGDMA_CMD_SYNC, ENODEV, r->len);
		return 0;
	}
	struct sgdma_ioc_sync s = {
	    .size = sizeof(s), .flags = flag, .handle = r->handle, .offset = off, .length = len};
	err = sgdma__dev_ioctl(r->dev, SGDMA_IOC_SYNC, &s);
	if (err)
		return sgdma__ioctl_fail(fn, r->dev, SGDMA_CMD_SYNC, err, r->len);
	return 0;
}

/*
 * True when do_sync() would return 0 without a system call: a valid range
 * of a region that needs no sync, on a device with a status page, neither
 * revoked nor the parent's.  The status page alone answers "revoked": it
 * says so before any call can fail with ENODEV.  Inline in both exported
 * syncs, each check in its cheapest form (off < end refuses len 0 and a
 * wrapped end): when it holds it is the whole cost of the call, which a
 * null system call must dwarf.  Everything else, the errors included, is
 * do_sync()'s.
 */
static inline bool sync_is_noop(struct sgdma_region *r, size_t off, size_t len)
{
	const volatile struct sgdma_status *status = r ? r->nosync_status : NULL;
	size_t end = off + len;

	return status && off < end && end <= r->len && !sgdma__dev_forked(r->dev) &&
	       !status->revoked;
}

SGDMA_EXPORT int sgdma_sync_for_device(struct sgdma_region *r, size_t off, size_t len)
{
	if (sync_is_noop(r, off, len))
		return 0;
	return do_sync(r, off, len, SGDMA_SYNC_FOR_DEVICE, "sgdma_sync_for_device");
}

SGDMA_EXPORT int sgdma_sync_for_cpu(struct sgdma_region *r, size_t off, size_t len)
{
	if (sync_is_noop(r, off, len))
		return 0;
	return do_sync(r, off, len, SGDMA_SYNC_FOR_CPU, "sgdma_sync_for_cpu");
}

void sgdma__region_free(struct sgdma_region *r)
{
	int err = errno;

	kernel_unregister(r->dev, r->handle);
	sgdma__dev_put(r->dev);
	free(r);
	errno = err;
}

SGDMA_EXPORT int sgdma_unregister(struct sgdma_region *r)
{
	struct sgdma_ioc_unregister u = {.size = sizeof(u)};
	int ret = 0, err;

	if (!r)
		return sgdma__fail(EINVAL, "sgdma_unregister: region is NULL");
	if (!sgdma__cache_put(r))
		return 0; /* a cached region still in use */
	u.handle = r->handle;
	err = sgdma__dev_ioctl(r->dev, SGDMA_IOC_UNREGISTER, &u);
	if (err)
		ret = sgdma__ioctl_fail("sgdma_unregister", r->dev, SGDMA_CMD_UNREGISTER, err,
		                        r->len);
	sgdma__dev_put(r->dev);
	free(r);
	if (ret)
		errno = -ret;
	return ret;
}

/* ---- NUMA placement ----------------------------------------------------- */

SGDMA_EXPORT int sgdma_region_node_pages(const struct sgdma_region *r, size_t *pages_per_node,
                                         int max_nodes)
{
	const char *fn = "sgdma_region_node_pages";
	void *pages[NODE_BATCH];
	int status[NODE_BATCH];
	uintptr_t first, psz;
	size_t npages, done;
	int seen = 0, beyond = -1;
	char b[64];

	if (!r)
		return sgdma__fail(EINVAL, "%s: region is NULL", fn);
	if (!pages_per_node)
		return sgdma__fail(EINVAL, "%s: pages_per_node is NULL", fn);
	if (max_nodes < 1)
		return sgdma__fail(EINVAL, "%s: max_nodes is %d, must be at least 1", fn,
		                   max_nodes);
	if (r->dmabuf)
		return sgdma__fail(EOPNOTSUPP, "%s: a dma-buf region: its pages are the exporter's",
		                   fn);
	if (r->dev->owner != getpid())
		return sgdma__ioctl_fail(fn, r->dev, SGDMA_CMD_INFO, EPERM, r->len);

	psz = r->dev->page_size;
	first = (uintptr_t)r->addr & ~(psz - 1);
	npages = ((uintptr_t)r->addr - first + r->len + psz - 1) / psz;
	memset(pages_per_node, 0, (size_t)max_nodes * sizeof(*pages_per_node));

	for (done = 0; done < npages;) {
		size_t n = npages - done < NODE_BATCH ? npages - done : NODE_BATCH;

		for (size_t i = 0; i < n; i++)
			pages[i] = (void *)(first + (done + i) * psz);
		/* nodes NULL: only report where each page is. */
		if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) < 0) {
			int err = errno;

			if (err == ENOSYS)
				return sgdma__fail(err, "%s: the kernel has no NUMA support", fn);
			return sgdma__fail(err, "%s: move_pages failed: %s", fn,
			                   sgdma__strerror(err, b, sizeof(b)));
		}
		for (size_t i = 0; i < n; i++) {
			int node = status[i];

			if (node < 0) /* zero page, or not mapped: no node */
				continue;
			if (node >= max_nodes) {
				if (node > beyond)
					beyond = node;
				continue;
			}
			pages_per_node[node]++;
			if (node + 1 > seen)
				seen = node + 1;
		}
		done += n;
	}
	if (beyond >= 0)
		return sgdma__fail(
		    ERANGE, "%s: a page is on node %d, beyond max_nodes %d: pass at least %d", fn,
		    beyond, max_nodes, beyond + 1);
	return seen;
}
