// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma: user-space side of the sgdma module.  See include/sgdma.h.
 *
 * This is the only code that includes the uapi header.  The uapi header and
 * the public header both define "struct sgdma_seg" (same layout, different
 * member types), so the uapi one is renamed to sgdma_ioc_seg here and the
 * layouts are checked to be identical: GET_SEGS writes straight into the
 * public array.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#define SGDMA_EXPORT __attribute__((visibility("default")))

/* Segments fetched per GET_SEGS call. */
#define SEGS_BATCH 4096
/* Pages asked about per move_pages(2) call. */
#define NODE_BATCH 512

static_assert(SGDMA_TO_DEVICE == SGDMA_REG_TO_DEVICE, "flag mismatch");
static_assert(SGDMA_FROM_DEVICE == SGDMA_REG_FROM_DEVICE, "flag mismatch");
static_assert(SGDMA_BIDIRECTIONAL == SGDMA_REG_DIR_MASK, "flag mismatch");
static_assert(sizeof(struct sgdma_seg) == sizeof(struct sgdma_ioc_seg),
              "struct sgdma_seg layout mismatch");
static_assert(offsetof(struct sgdma_seg, addr) == offsetof(struct sgdma_ioc_seg, addr),
              "sgdma_seg.addr mismatch");
static_assert(offsetof(struct sgdma_seg, len) == offsetof(struct sgdma_ioc_seg, len),
              "sgdma_seg.len mismatch");
static_assert(offsetof(struct sgdma_seg, offset) == offsetof(struct sgdma_ioc_seg, offset),
              "sgdma_seg.offset mismatch");
static_assert(sizeof(((struct sgdma_dev_info *)0)->name) == sizeof(((struct sgdma_ioc_info *)0)->name),
              "name length mismatch");

struct sgdma_dev {
	atomic_uint refs; /* the opener's handle + one per region */
	int fd;
	bool is_default;     /* sgdma_default_dev(): never closed */
	atomic_bool revoked; /* an ioctl answered ENODEV */
	pid_t owner;         /* the opener: a forked child must reopen */
	struct sgdma_ioc_info info;
	char path[]; /* for messages */
};

struct sgdma_region {
	struct sgdma_dev *dev;
	void *addr;
	size_t len;
	uint32_t handle;
	size_t nsegs;
	struct sgdma_seg segs[];
};

/* ---- error messages ---------------------------------------------------- */

static _Thread_local char last_error[512] = "no error";

/* Record @err as the failure: errno and message.  Returns -@err. */
__attribute__((format(printf, 2, 3))) static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
	return -err;
}

static const char *err_str(int err, char *buf, size_t size)
{
	return strerror_r(err, buf, size); /* GNU variant */
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

enum op { OP_INFO, OP_REGISTER, OP_GET_SEGS, OP_SYNC, OP_UNREGISTER };

static const char *const op_names[] = {
    [OP_INFO] = "INFO", [OP_REGISTER] = "REGISTER",     [OP_GET_SEGS] = "GET_SEGS",
    [OP_SYNC] = "SYNC", [OP_UNREGISTER] = "UNREGISTER",
};

static const char *dev_name(const struct sgdma_dev *dev)
{
	return dev->info.name[0] ? dev->info.name : dev->path;
}

/* Describe a failed ioctl on @dev; returns -@err.  @len: region length. */
static int ioctl_fail(const char *fn, struct sgdma_dev *dev, enum op op, int err, size_t len)
{
	char b1[64], b2[64];

	switch (err) {
	case ENODEV:
		atomic_store(&dev->revoked, true);
		return fail(err, "%s: device %s was revoked (un-exposed, unbound or removed)", fn,
		            dev_name(dev));
	case EPERM:
		return fail(err,
		            "%s: called from a forked child: regions belong to the process that "
		            "opened the device",
		            fn);
	case EFAULT:
		if (op == OP_REGISTER)
			return fail(err,
			            "%s: buffer is not fully mapped, is PROT_NONE, I/O memory, or "
			            "read-only while the device writes",
			            fn);
		break;
	case ENOMEM:
		if (op == OP_REGISTER) {
			struct rlimit rl;

			if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
				snprintf(b2, sizeof(b2), "%llu KiB",
				         (unsigned long long)rl.rlim_cur / 1024);
			else
				snprintf(b2, sizeof(b2), "unlimited");
			return fail(err,
			            "%s: %s over the locked-memory limit (RLIMIT_MEMLOCK %s), or "
			            "out of memory: raise `ulimit -l` or grant CAP_IPC_LOCK",
			            fn, fmt_size(len, b1, sizeof(b1)), b2);
		}
		break;
	case E2BIG:
		if (op == OP_REGISTER)
			return fail(err,
			            "%s: region of %s is over the module's max_region_bytes "
			            "(/sys/module/sgdma/parameters/max_region_bytes)",
			            fn, fmt_size(len, b1, sizeof(b1)));
		break;
	case ENOSPC:
		if (op == OP_REGISTER)
			return fail(
			    err,
			    "%s: too many regions for this device file (module parameter "
			    "max_regions_per_file): unregister some or open the device again",
			    fn);
		break;
	case EIO:
		if (op == OP_REGISTER)
			return fail(err,
			            "%s: DMA mapping of %s failed on %s (e.g. no bounce buffer "
			            "space for a device with a small DMA mask)",
			            fn, fmt_size(len, b1, sizeof(b1)), dev_name(dev));
		break;
	case ENOENT:
		if (op != OP_INFO && op != OP_REGISTER)
			return fail(
			    err, "%s: the module does not know this region (already unregistered?)",
			    fn);
		break;
	case ENOTTY:
		return fail(err, "%s: %s is not an sgdma device", fn, dev->path);
	default:
		break;
	}
	return fail(err, "%s: %s ioctl on %s failed: %s", fn, op_names[op], dev_name(dev),
	            err_str(err, b1, sizeof(b1)));
}

/* ---- devices ----------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = secure_getenv(name);

	return v && v[0] ? v : NULL;
}

static const char *dev_dir(void)
{
	const char *d = env("SGDMA_DEV_DIR");

	return d ? d : SGDMA_DEV_DIR_DEFAULT;
}

static int no_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/*
 * Find the only device in the device directory and write its path to
 * @path.  Returns 0 or -errno with the message set.
 */
static int scan_default(const char *fn, char *path, size_t size)
{
	const char *dir = dev_dir();
	struct dirent **list = NULL;
	char b[64];
	int n, ret;

	n = scandir(dir, &list, no_dot, alphasort);
	if (n < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			n = 0;
			list = NULL;
		} else
			return fail(errno, "%s: cannot read %s: %s", fn, dir,
			            err_str(errno, b, sizeof(b)));
	}
	if (n == 0) {
		free(list);
		return fail(ENODEV,
		            "%s: no sgdma device exposed (%s is empty or missing): load sgdma.ko "
		            "with expose=<device> or write to /sys/module/sgdma/parameters/expose",
		            fn, dir);
	}
	if (n == 1) {
		if ((size_t)snprintf(path, size, "%s/%s", dir, list[0]->d_name) >= size)
			ret = fail(ENAMETOOLONG, "%s: path too long: %s/%s", fn, dir,
			           list[0]->d_name);
		else
			ret = 0;
	} else {
		char names[384];
		size_t used = 0;

		names[0] = '\0';
		for (int i = 0; i < n && used < sizeof(names); i++) {
			int w = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
			                 list[i]->d_name);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		if (used >= sizeof(names)) /* truncated */
			strcpy(names + sizeof(names) - 4, "...");
		ret = fail(ENOTUNIQ,
		           "%s: %d sgdma devices exposed (%s): set SGDMA_DEVICE to the one to use",
		           fn, n, names);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return ret;
}

static void dev_put(struct sgdma_dev *dev)
{
	if (atomic_fetch_sub_explicit(&dev->refs, 1, memory_order_acq_rel) == 1) {
		close(dev->fd);
		free(dev);
	}
}

static void dev_get(struct sgdma_dev *dev)
{
	atomic_fetch_add_explicit(&dev->refs, 1, memory_order_relaxed);
}

static struct sgdma_dev *open_dev(const char *name, const char *fn)
{
	char path[PATH_MAX], b[64];
	struct sgdma_dev *dev;
	size_t plen;
	int fd, err;

	if (!name)
		name = env("SGDMA_DEVICE");
	if (!name) {
		if (scan_default(fn, path, sizeof(path)) < 0)
			return NULL;
	} else if (!name[0]) {
		fail(EINVAL, "%s: empty device name", fn);
		return NULL;
	} else if (strchr(name, '/')) {
		if (strlen(name) >= sizeof(path)) {
			fail(ENAMETOOLONG, "%s: device path too long", fn);
			return NULL;
		}
		strcpy(path, name);
	} else if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev_dir(), name) >= sizeof(path)) {
		fail(ENAMETOOLONG, "%s: device path too long: %s/%s", fn, dev_dir(), name);
		return NULL;
	}

	plen = strlen(path) + 1;
	dev = calloc(1, sizeof(*dev) + plen);
	if (!dev) {
		fail(ENOMEM, "%s: out of memory", fn);
		return NULL;
	}
	memcpy(dev->path, path, plen);

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == EACCES)
			fail(err,
			     "%s: permission denied on %s: add your user to the group the udev "
			     "rule grants (see README)",
			     fn, path);
		else if (err == ENOENT)
			fail(err,
			     "%s: no device node %s: is the device exposed? (sgdma.ko parameter "
			     "expose)",
			     fn, path);
		else
			fail(err, "%s: cannot open %s: %s", fn, path, err_str(err, b, sizeof(b)));
		free(dev);
		return NULL;
	}
	dev->fd = fd;

	dev->info.size = sizeof(dev->info);
	if (ioctl(fd, SGDMA_IOC_INFO, &dev->info) < 0) {
		err = errno;
		dev->info.name[0] = '\0';
		ioctl_fail(fn, dev, OP_INFO, err, 0);
		goto out_close;
	}
	dev->info.name[sizeof(dev->info.name) - 1] = '\0';
	if (dev->info.abi_version != SGDMA_ABI_VERSION) {
		err = EPROTO;
		fail(err,
		     "%s: %s speaks sgdma ABI version %u, this libsgdma speaks %d: use a matching "
		     "sgdma.ko and libsgdma",
		     fn, path, dev->info.abi_version, SGDMA_ABI_VERSION);
		goto out_close;
	}
	atomic_init(&dev->refs, 1);
	atomic_init(&dev->revoked, false);
	dev->owner = getpid();
	return dev;

out_close:
	close(fd);
	free(dev);
	errno = err;
	return NULL;
}

SGDMA_EXPORT struct sgdma_dev *sgdma_open(const char *name)
{
	return open_dev(name, "sgdma_open");
}

SGDMA_EXPORT void sgdma_close(struct sgdma_dev *dev)
{
	if (!dev || dev->is_default)
		return;
	dev_put(dev);
}

static struct sgdma_dev *default_dev;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The default device, with a reference for the caller.  A default that was
 * revoked, or that a forked child inherited (its file belongs to the
 * parent), is replaced by a fresh open; holders of the old one keep it.
 */
static struct sgdma_dev *get_default(const char *fn)
{
	struct sgdma_dev *dev;
	int err;

	pthread_mutex_lock(&default_lock);
	dev = default_dev;
	if (dev && (atomic_load(&dev->revoked) || dev->owner != getpid())) {
		dev->is_default = false;
		dev_put(dev);
		dev = default_dev = NULL;
	}
	if (!dev) {
		dev = open_dev(NULL, fn);
		if (dev) {
			dev->is_default = true;
			default_dev = dev;
		}
	}
	if (dev)
		dev_get(dev);
	err = errno;
	pthread_mutex_unlock(&default_lock);
	errno = err;
	return dev;
}

SGDMA_EXPORT struct sgdma_dev *sgdma_default_dev(void)
{
	struct sgdma_dev *dev = get_default("sgdma_default_dev");

	if (dev)
		dev_put(dev); /* the cache keeps its own reference */
	return dev;
}

SGDMA_EXPORT int sgdma_dev_info(const struct sgdma_dev *dev, struct sgdma_dev_info *info)
{
	if (!dev || !info)
		return fail(EINVAL, "sgdma_dev_info: %s is NULL", dev ? "info" : "dev");
	memset(info, 0, sizeof(*info));
	memcpy(info->name, dev->info.name, sizeof(info->name));
	info->numa_node = dev->info.numa_node;
	info->dma_mask = dev->info.dma_mask;
	info->max_segment = dev->info.max_segment;
	info->seg_boundary = dev->info.seg_boundary;
	info->iommu = dev->info.dev_flags & SGDMA_INFO_IOMMU;
	return 0;
}

/* ---- regions ----------------------------------------------------------- */

static void kernel_unregister(struct sgdma_dev *dev, uint32_t handle)
{
	struct sgdma_ioc_unregister u = {.size = sizeof(u), .handle = handle};
	int saved = errno;

	ioctl(dev->fd, SGDMA_IOC_UNREGISTER, &u);
	errno = saved;
}

static struct sgdma_region *do_register(const char *fn, struct sgdma_dev *dev, void *buf,
                                        size_t len, unsigned int flags)
{
	struct sgdma_ioc_register reg = {.size = sizeof(reg)};
	struct sgdma_region *r;
	uint64_t expect = 0;
	size_t nsegs, i;
	int err;

	if (!dev) {
		fail(EINVAL, "%s: dev is NULL", fn);
		return NULL;
	}
	if (!buf) {
		fail(EINVAL, "%s: buf is NULL", fn);
		return NULL;
	}
	if (!len) {
		fail(EINVAL, "%s: len is 0", fn);
		return NULL;
	}
	if (len - 1 > UINTPTR_MAX - (uintptr_t)buf) {
		fail(EINVAL, "%s: buf + len overflows", fn);
		return NULL;
	}
	if (!flags || (flags & ~(unsigned int)SGDMA_BIDIRECTIONAL)) {
		fail(EINVAL,
		     "%s: invalid flags 0x%x: use SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE or "
		     "SGDMA_BIDIRECTIONAL",
		     fn, flags);
		return NULL;
	}

	reg.flags = flags;
	reg.addr = (uintptr_t)buf;
	reg.length = len;
	if (ioctl(dev->fd, SGDMA_IOC_REGISTER, &reg) < 0) {
		ioctl_fail(fn, dev, OP_REGISTER, errno, len);
		return NULL;
	}

	if (reg.nsegs == 0 || reg.nsegs > len) {
		fail(EPROTO, "%s: the module reported %llu segments for %zu bytes", fn,
		     (unsigned long long)reg.nsegs, len);
		goto out_unregister;
	}
	if (reg.nsegs > (SIZE_MAX - sizeof(*r)) / sizeof(r->segs[0])) {
		fail(ENOMEM, "%s: %llu segments do not fit in memory", fn,
		     (unsigned long long)reg.nsegs);
		goto out_unregister;
	}
	nsegs = (size_t)reg.nsegs;
	r = malloc(sizeof(*r) + nsegs * sizeof(r->segs[0]));
	if (!r) {
		fail(ENOMEM, "%s: out of memory for %zu segments", fn, nsegs);
		goto out_unregister;
	}

	for (i = 0; i < nsegs;) {
		size_t want = nsegs - i < SEGS_BATCH ? nsegs - i : SEGS_BATCH;
		struct sgdma_ioc_get_segs gs = {
		    .size = sizeof(gs),
		    .handle = reg.handle,
		    .first = i,
		    .count = want,
		    .segs = (uintptr_t)&r->segs[i],
		};

		if (ioctl(dev->fd, SGDMA_IOC_GET_SEGS, &gs) < 0) {
			ioctl_fail(fn, dev, OP_GET_SEGS, errno, len);
			goto out_free;
		}
		if (gs.count == 0 || gs.count > want) {
			fail(EPROTO, "%s: GET_SEGS returned %llu of %zu segments", fn,
			     (unsigned long long)gs.count, want);
			goto out_free;
		}
		i += (size_t)gs.count;
	}

	/* The segments must tile the buffer, in order. */
	for (i = 0; i < nsegs; i++) {
		const struct sgdma_seg *s = &r->segs[i];

		if (s->offset != expect || s->len == 0 || s->len > len - expect) {
			fail(EPROTO,
			     "%s: segment %zu (offset %llu, len %llu) does not continue the buffer "
			     "at %llu",
			     fn, i, (unsigned long long)s->offset, (unsigned long long)s->len,
			     (unsigned long long)expect);
			goto out_free;
		}
		expect += s->len;
	}
	if (expect != len) {
		fail(EPROTO, "%s: segments cover %llu of %zu bytes", fn, (unsigned long long)expect,
		     len);
		goto out_free;
	}

	dev_get(dev);
	r->dev = dev;
	r->addr = buf;
	r->len = len;
	r->handle = reg.handle;
	r->nsegs = nsegs;
	return r;

out_free:
	err = errno;
	free(r);
	errno = err;
out_unregister:
	kernel_unregister(dev, reg.handle);
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
		fail(EINVAL, "sgdma_register: buf is NULL");
		return NULL;
	}
	if (!len) {
		fail(EINVAL, "sgdma_register: len is 0");
		return NULL;
	}
	dev = get_default("sgdma_register");
	if (!dev)
		return NULL;
	r = do_register("sgdma_register", dev, buf, len, SGDMA_BIDIRECTIONAL);
	err = errno;
	dev_put(dev); /* the region holds its own reference */
	errno = err;
	return r;
}

SGDMA_EXPORT size_t sgdma_region_nsegs(const struct sgdma_region *r)
{
	return r ? r->nsegs : 0;
}

SGDMA_EXPORT const struct sgdma_seg *sgdma_region_segs(const struct sgdma_region *r)
{
	return r ? r->segs : NULL;
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
		return fail(EINVAL, "%s: region is NULL", fn);
	if (!pages_per_node)
		return fail(EINVAL, "%s: pages_per_node is NULL", fn);
	if (max_nodes < 1)
		return fail(EINVAL, "%s: max_nodes is %d, must be at least 1", fn, max_nodes);
	if (r->dev->owner != getpid())
		return ioctl_fail(fn, r->dev, OP_INFO, EPERM, r->len);

	psz = (uintptr_t)sysconf(_SC_PAGESIZE);
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
				return fail(err, "%s: the kernel has no NUMA support", fn);
			return fail(err, "%s: move_pages failed: %s", fn,
			            err_str(err, b, sizeof(b)));
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
		return fail(ERANGE,
		            "%s: a page is on node %d, beyond max_nodes %d: pass at least %d", fn,
		            beyond, max_nodes, beyond + 1);
	return seen;
}

static int do_sync(const char *fn, struct sgdma_region *r, size_t off, size_t len, uint32_t flag)
{
	struct sgdma_ioc_sync s = {.size = sizeof(s), .flags = flag};

	if (!r)
		return fail(EINVAL, "%s: region is NULL", fn);
	if (!len)
		return fail(EINVAL, "%s: len is 0", fn);
	if (off > r->len || len > r->len - off)
		return fail(EINVAL, "%s: range [%zu, +%zu) is outside the region of %zu bytes", fn,
		            off, len, r->len);
	s.handle = r->handle;
	s.offset = off;
	s.length = len;
	if (ioctl(r->dev->fd, SGDMA_IOC_SYNC, &s) < 0)
		return ioctl_fail(fn, r->dev, OP_SYNC, errno, r->len);
	return 0;
}

SGDMA_EXPORT int sgdma_sync_for_device(struct sgdma_region *r, size_t off, size_t len)
{
	return do_sync("sgdma_sync_for_device", r, off, len, SGDMA_SYNC_FOR_DEVICE);
}

SGDMA_EXPORT int sgdma_sync_for_cpu(struct sgdma_region *r, size_t off, size_t len)
{
	return do_sync("sgdma_sync_for_cpu", r, off, len, SGDMA_SYNC_FOR_CPU);
}

SGDMA_EXPORT int sgdma_unregister(struct sgdma_region *r)
{
	struct sgdma_ioc_unregister u = {.size = sizeof(u)};
	int ret = 0;

	if (!r)
		return fail(EINVAL, "sgdma_unregister: region is NULL");
	u.handle = r->handle;
	if (ioctl(r->dev->fd, SGDMA_IOC_UNREGISTER, &u) < 0)
		ret = ioctl_fail("sgdma_unregister", r->dev, OP_UNREGISTER, errno, r->len);
	dev_put(r->dev);
	free(r);
	if (ret)
		errno = -ret;
	return ret;
}

SGDMA_EXPORT const char *sgdma_last_error(void)
{
	return last_error;
}

/* ---- splitting --------------------------------------------------------- */

/* Pieces of at most @m bytes (0: no limit) needed for @x > 0 bytes. */
static uint64_t cdiv(uint64_t x, uint64_t m)
{
	return m == 0 ? 1 : x / m + (x % m != 0);
}

/*
 * Pieces needed for [@a, @a + @rem), @rem > 0, not crossing multiples of
 * @b (power of two, 0: none).  Returns false on overflow of uint64_t.
 */
static bool count_range(uint64_t a, uint64_t rem, uint64_t m, uint64_t b, uint64_t *n)
{
	uint64_t head, full, tail, per, cnt;

	if (!b) {
		*n = cdiv(rem, m);
		return true;
	}
	head = b - (a & (b - 1)); /* bytes up to the next multiple */
	if (rem <= head) {
		*n = cdiv(rem, m);
		return true;
	}
	cnt = cdiv(head, m);
	rem -= head;
	full = rem / b;
	tail = rem & (b - 1);
	per = cdiv(b, m);
	if (__builtin_mul_overflow(full, per, &full) || __builtin_add_overflow(cnt, full, &cnt))
		return false;
	if (tail && __builtin_add_overflow(cnt, cdiv(tail, m), &cnt))
		return false;
	*n = cnt;
	return true;
}

SGDMA_EXPORT size_t sgdma_split_segs(const struct sgdma_seg *in, size_t nin, uint64_t max_len,
                                     uint64_t boundary, struct sgdma_seg *out, size_t out_cap)
{
	const char *fn = "sgdma_split_segs";
	uint64_t total = 0;
	size_t n = 0;

	if (boundary & (boundary - 1)) {
		fail(EINVAL, "%s: boundary 0x%llx is not a power of two", fn,
		     (unsigned long long)boundary);
		return SIZE_MAX;
	}
	if (!in && nin) {
		fail(EINVAL, "%s: in is NULL", fn);
		return SIZE_MAX;
	}
	if (!out && out_cap) {
		fail(EINVAL, "%s: out is NULL", fn);
		return SIZE_MAX;
	}

	/* Validate and count first, so that nothing is written on error. */
	for (size_t i = 0; i < nin; i++) {
		uint64_t cnt;

		if (!in[i].len)
			continue;
		if (in[i].len - 1 > UINT64_MAX - in[i].addr ||
		    in[i].len - 1 > UINT64_MAX - in[i].offset) {
			fail(EINVAL, "%s: segment %zu wraps past 2^64", fn, i);
			return SIZE_MAX;
		}
		if (!count_range(in[i].addr, in[i].len, max_len, boundary, &cnt) ||
		    __builtin_add_overflow(total, cnt, &total) || total >= SIZE_MAX) {
			fail(EOVERFLOW, "%s: too many pieces", fn);
			return SIZE_MAX;
		}
	}

	for (size_t i = 0; i < nin && n < out_cap; i++) {
		uint64_t a = in[i].addr, off = in[i].offset, rem = in[i].len;

		while (rem && n < out_cap) {
			uint64_t piece = rem;

			if (max_len && piece > max_len)
				piece = max_len;
			if (boundary) {
				uint64_t to_b = boundary - (a & (boundary - 1));

				if (piece > to_b)
					piece = to_b;
			}
			out[n].addr = a;
			out[n].len = piece;
			out[n].offset = off;
			n++;
			rem -= piece;
			/* May wrap to 0 only when rem is now 0. */
			a += piece;
			off += piece;
		}
	}
	return (size_t)total;
}
