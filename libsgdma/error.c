// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma errors: the per-thread message of sgdma_last_error(), and what
 * each errno of an ioctl means, in words a user can act on.  Only messages
 * and errno are set here; what a failure means for the device (revocation)
 * is recorded by device.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"

static _Thread_local char last_error[512] = "no error";

int sgdma__fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
	return -err;
}

const char *sgdma__strerror(int err, char *buf, size_t size)
{
	return strerror_r(err, buf, size); /* GNU variant */
}

SGDMA_EXPORT const char *sgdma_last_error(void)
{
	return last_error;
}

/* "8 MiB", "12 KiB", "4097 bytes" */
static const char *fmt_size(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	unsigned int u = 0;

	while (n && !(n & 1023) && u + 1 < sizeof(units) / sizeof(units[0])) {
		n >>= 10;
		u++;
	}
	if (n == 1 && u == 0)
		snprintf(buf, size, "1 byte");
	else
		snprintf(buf, size, "%llu %s", (unsigned long long)n, units[u]);
	return buf;
}

/* The ioctls by their uapi number (enum sgdma_cmd), for messages. */
static const char *const cmd_names[] = {
    [SGDMA_CMD_INFO - SGDMA_CMD_BASE] = "INFO",
    [SGDMA_CMD_REGISTER - SGDMA_CMD_BASE] = "REGISTER",
    [SGDMA_CMD_GET_SEGS - SGDMA_CMD_BASE] = "GET_SEGS",
    [SGDMA_CMD_SYNC - SGDMA_CMD_BASE] = "SYNC",
    [SGDMA_CMD_UNREGISTER - SGDMA_CMD_BASE] = "UNREGISTER",
    [SGDMA_CMD_REGISTER_DMABUF - SGDMA_CMD_BASE] = "REGISTER_DMABUF",
};

static const char *cmd_name(unsigned int cmd, char *buf, size_t size)
{
	unsigned int i = cmd - SGDMA_CMD_BASE; /* wraps for cmd < BASE */

	if (i < sizeof(cmd_names) / sizeof(cmd_names[0]) && cmd_names[i])
		return cmd_names[i];
	snprintf(buf, size, "0x%x", cmd);
	return buf;
}

static const char *dev_name(const struct sgdma_dev *dev)
{
	return dev->info.name[0] ? dev->info.name : dev->path;
}

/* The message for ENOMEM from REGISTER: the limit it most likely hit. */
static int fail_memlock(const char *fn, size_t len)
{
	char b1[64], b2[64];
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		snprintf(b2, sizeof(b2), "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	else
		snprintf(b2, sizeof(b2), "unlimited");
	return sgdma__fail(ENOMEM,
	                   "%s: %s over the locked-memory limit (RLIMIT_MEMLOCK %s, counted "
	                   "for all of this user's pinned memory), or out of memory: raise "
	                   "`ulimit -l` or grant CAP_IPC_LOCK",
	                   fn, fmt_size(len, b1, sizeof(b1)), b2);
}

/* Messages only REGISTER has.  Returns 0 when @err has none. */
static int register_fail(const char *fn, const struct sgdma_dev *dev, int err, size_t len)
{
	char b[64];

	switch (err) {
	case EFAULT:
		return sgdma__fail(err,
		                   "%s: buffer is not fully mapped, is PROT_NONE, I/O memory, "
		                   "read-only while the device writes, or a shared mapping of a "
		                   "file whose filesystem tracks writes (ext4, xfs) while the "
		                   "device writes",
		                   fn);
	case EBUSY:
		return sgdma__fail(err,
		                   "%s: the IOMMU setup of %s changed since it was exposed (its "
		                   "group's domain type, or a device of its group given to "
		                   "vfio): expose it again",
		                   fn, dev_name(dev));
	case ENOMEM:
		return fail_memlock(fn, len);
	case E2BIG:
		return sgdma__fail(err,
		                   "%s: region of %s is over the module's max_region_bytes "
		                   "(/sys/module/sgdma/parameters/max_region_bytes)",
		                   fn, fmt_size(len, b, sizeof(b)));
	case ENOSPC:
		return sgdma__fail(
		    err,
		    "%s: too many regions for this device file (module parameter "
		    "max_regions_per_file): unregister some or open the device again",
		    fn);
	case EIO:
		return sgdma__fail(
		    err,
		    "%s: DMA mapping of %s failed on %s (e.g. no bounce buffer space "
		    "for a device with a small DMA mask, or over the module's "
		    "max_bounce_bytes for this user)",
		    fn, fmt_size(len, b, sizeof(b)), dev_name(dev));
	default:
		return 0;
	}
}

int sgdma__ioctl_fail(const char *fn, const struct sgdma_dev *dev, unsigned int cmd, int err,
                      size_t len)
{
	char b1[64], b2[64];
	int ret;

	switch (err) {
	case ENODEV:
		return sgdma__fail(err,
		                   "%s: device %s was revoked (un-exposed, unbound or removed)", fn,
		                   dev_name(dev));
	case EPERM:
		return sgdma__fail(err,
		                   "%s: called from a forked child: regions belong to the process "
		                   "that opened the device",
		                   fn);
	case ENOTTY:
		return sgdma__fail(err, "%s: %s is not an sgdma device", fn, dev->path);
	case ENOENT:
		if (cmd != SGDMA_CMD_INFO && cmd != SGDMA_CMD_REGISTER)
			return sgdma__fail(err,
			                   "%s: the module does not know this region (already "
			                   "unregistered?)",
			                   fn);
		break;
	default:
		ret = cmd == SGDMA_CMD_REGISTER ? register_fail(fn, dev, err, len) : 0;
		if (ret)
			return ret;
		break;
	}
	return sgdma__fail(err, "%s: %s ioctl on %s failed: %s", fn, cmd_name(cmd, b2, sizeof(b2)),
	                   dev_name(dev), sgdma__strerror(err, b1, sizeof(b1)));
}

int sgdma__fail_not_contig(const char *fn, const struct sgdma_dev *dev, size_t len, uint64_t nsegs)
{
	char b1[64], b2[64];

	if (dev->info.max_segment && len > dev->info.max_segment)
		return sgdma__fail(E2BIG,
		                   "%s: SGDMA_REQUIRE_CONTIG: the buffer of %s would be %llu DMA "
		                   "segments on %s, whose longest segment is %s: no buffer this "
		                   "long is one segment there (see max_segment_size in sysfs)",
		                   fn, fmt_size(len, b1, sizeof(b1)), (unsigned long long)nsegs,
		                   dev_name(dev), fmt_size(dev->info.max_segment, b2, sizeof(b2)));
	return sgdma__fail(E2BIG,
	                   "%s: SGDMA_REQUIRE_CONTIG: the buffer of %s would be %llu DMA segments "
	                   "on %s, not one: use physically contiguous memory (a hugetlb page or "
	                   "a transparent huge page holding the whole buffer) or a device behind "
	                   "an IOMMU",
	                   fn, fmt_size(len, b1, sizeof(b1)), (unsigned long long)nsegs,
	                   dev_name(dev));
}

void sgdma__warn_cacheline(const char *fn, struct sgdma_dev *dev, const void *buf, size_t len)
{
	unsigned int align = dev->info.dma_align;

	if (atomic_exchange(&dev->warned, true))
		return;
	fprintf(stderr,
	        "libsgdma: warning: %s: %s does not keep its DMA coherent with the CPU caches, "
	        "and the buffer it writes (%p, %zu bytes) shares its %s with other "
	        "data: a sync can lose the CPU's writes to that data or the device's; align "
	        "the buffer's start and end to %u bytes (reported once per device handle)\n",
	        fn, dev_name(dev), buf, len,
	        (uintptr_t)buf % align ? ((uintptr_t)buf + len) % align
	                                     ? "first and last cache lines"
	                                     : "first cache line"
	                               : "last cache line",
	        align);
}
