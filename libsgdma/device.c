// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma devices: finding and opening a device node, the default device,
 * the reference count that regions share, and the device's state (who
 * opened it, whether the module revoked it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* ---- finding the node --------------------------------------------------- */

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

/* "a, b, c" into @names, "..." at the end when it does not fit. */
static void list_names(struct dirent **list, int n, char *names, size_t size)
{
	size_t used = 0;

	names[0] = '\0';
	for (int i = 0; i < n && used < size; i++) {
		int w = snprintf(names + used, size - used, "%s%s", i ? ", " : "", list[i]->d_name);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= size) /* truncated */
		strcpy(names + size - 4, "...");
}

/*
 * Find the only device in the device directory and write its path to
 * @path.  Returns 0 or -errno with the message set.
 */
static int scan_default(const char *fn, char *path, size_t size)
{
	const char *dir = dev_dir();
	struct dirent **list = NULL;
	char b[64], names[384];
	int n, ret;

	n = scandir(dir, &list, no_dot, alphasort);
	if (n < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return sgdma__fail(errno, "%s: cannot read %s: %s", fn, dir,
			                   sgdma__strerror(errno, b, sizeof(b)));
		n = 0;
		list = NULL;
	}
	if (n == 0) {
		ret = sgdma__fail(ENODEV,
		                  "%s: no sgdma device exposed (%s is empty or missing): load "
		                  "sgdma.ko with expose=<device> or write to "
		                  "/sys/module/sgdma/parameters/expose",
		                  fn, dir);
	} else if (n == 1) {
		if ((size_t)snprintf(path, size, "%s/%s", dir, list[0]->d_name) >= size)
			ret = sgdma__fail(ENAMETOOLONG, "%s: path too long: %s/%s", fn, dir,
			                  list[0]->d_name);
		else
			ret = 0;
	} else {
		list_names(list, n, names, sizeof(names));
		ret = sgdma__fail(ENOTUNIQ,
		                  "%s: %d sgdma devices exposed (%s): "
		                  "set SGDMA_DEVICE to the one to use",
		                  fn, n, names);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return ret;
}

/* The node @name stands for (see sgdma_open()).  Returns 0 or -errno. */
static int resolve(const char *fn, const char *name, char *path, size_t size)
{
	if (!name)
		name = env("SGDMA_DEVICE");
	if (!name)
		return scan_default(fn, path, size);
	if (!name[0])
		return sgdma__fail(EINVAL, "%s: empty device name", fn);
	if (strchr(name, '/')) {
		if (strlen(name) >= size)
			return sgdma__fail(ENAMETOOLONG, "%s: device path too long", fn);
		strcpy(path, name);
	} else if ((size_t)snprintf(path, size, "%s/%s", dev_dir(), name) >= size) {
		return sgdma__fail(ENAMETOOLONG, "%s: device path too long: %s/%s", fn, dev_dir(),
		                   name);
	}
	return 0;
}

/* ---- forks -------------------------------------------------------------- */

/*
 * sgdma__forks (internal.h) lets calls that need no system call (a sync of
 * a region that needs none) still refuse a forked child without asking
 * getpid().
 */
atomic_uint sgdma__forks;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	atomic_fetch_add_explicit(&sgdma__forks, 1, memory_order_relaxed);
}

static void register_fork_counter(void)
{
	pthread_atfork(NULL, NULL, count_fork);
}

/* ---- opening and references --------------------------------------------- */

void sgdma__dev_get(struct sgdma_dev *dev)
{
	atomic_fetch_add_explicit(&dev->refs, 1, memory_order_relaxed);
}

void sgdma__dev_put(struct sgdma_dev *dev)
{
	if (atomic_fetch_sub_explicit(&dev->refs, 1, memory_order_acq_rel) == 1) {
		if (dev->status)
			munmap((void *)dev->status, dev->page_size);
		sgdma__cache_dev_free(dev);
		close(dev->fd);
		free(dev);
	}
}

int sgdma__dev_ioctl(struct sgdma_dev *dev, unsigned long req, void *arg)
{
	int err;

	if (ioctl(dev->fd, req, arg) == 0)
		return 0;
	err = errno;
	if (err == ENODEV)
		atomic_store(&dev->revoked, true);
	errno = err;
	return err;
}

/* Open @path: EACCES and ENOENT get their own advice.  Returns the fd. */
static int open_node(const char *fn, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err;
	char b[64];

	if (fd >= 0)
		return fd;
	err = errno;
	if (err == EACCES)
		sgdma__fail(err,
		            "%s: permission denied on %s: add your user to the group the udev rule "
		            "grants (see README)",
		            fn, path);
	else if (err == ENOENT)
		sgdma__fail(err,
		            "%s: no device node %s: is the device exposed? (sgdma.ko parameter "
		            "expose)",
		            fn, path);
	else
		sgdma__fail(err, "%s: cannot open %s: %s", fn, path,
		            sgdma__strerror(err, b, sizeof(b)));
	return -1;
}

/* Ask the module about @dev and check it speaks our ABI.  Returns 0 or errno. */
static int query(const char *fn, struct sgdma_dev *dev)
{
	int err;

	dev->info.size = sizeof(dev->info);
	err = sgdma__dev_ioctl(dev, SGDMA_IOC_INFO, &dev->info);
	if (err) {
		dev->info.name[0] = '\0';
		sgdma__ioctl_fail(fn, dev, SGDMA_CMD_INFO, err, 0);
		return err;
	}
	dev->info.name[sizeof(dev->info.name) - 1] = '\0';
	if (dev->info.abi_version != SGDMA_ABI_VERSION) {
		sgdma__fail(EPROTO,
		            "%s: %s speaks sgdma ABI version %u, this libsgdma speaks %d: "
		            "use a matching sgdma.ko and libsgdma",
		            fn, dev->path, dev->info.abi_version, SGDMA_ABI_VERSION);
		return EPROTO;
	}
	return 0;
}

/*
 * Map the module's status page, when it has one: syncs that need no
 * system call learn of revocation there.  Without it they make the call.
 */
static void map_status(struct sgdma_dev *dev)
{
	void *p;

	if (!(dev->info.features & SGDMA_FEAT_STATUS))
		return;
	p = mmap(NULL, dev->page_size, PROT_READ, MAP_SHARED, dev->fd, 0);
	if (p != MAP_FAILED)
		dev->status = p;
}

static struct sgdma_dev *open_dev(const char *name, const char *fn)
{
	char path[PATH_MAX];
	struct sgdma_dev *dev;
	size_t plen;
	int err;

	if (resolve(fn, name, path, sizeof(path)) < 0)
		return NULL;
	pthread_once(&forks_once, register_fork_counter);
	plen = strlen(path) + 1;
	dev = calloc(1, sizeof(*dev) + plen);
	if (!dev) {
		sgdma__fail(ENOMEM, "%s: out of memory", fn);
		return NULL;
	}
	memcpy(dev->path, path, plen);
	dev->page_size = (size_t)sysconf(_SC_PAGESIZE);
	dev->fd = open_node(fn, path);
	if (dev->fd < 0) {
		err = errno;
		goto err_free;
	}
	atomic_init(&dev->revoked, false);
	err = query(fn, dev);
	if (err)
		goto err_close;
	map_status(dev);
	atomic_init(&dev->refs, 1);
	atomic_init(&dev->warned, false);
	dev->owner = getpid();
	dev->forks = atomic_load_explicit(&sgdma__forks, memory_order_relaxed);
	return dev;

err_close:
	close(dev->fd);
err_free:
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
	sgdma__cache_drop(dev, true); /* its references to the device */
	sgdma__dev_put(dev);
}

SGDMA_EXPORT int sgdma_dev_info(const struct sgdma_dev *dev, struct sgdma_dev_info *info)
{
	if (!dev || !info)
		return sgdma__fail(EINVAL, "sgdma_dev_info: %s is NULL", dev ? "info" : "dev");
	memset(info, 0, sizeof(*info));
	memcpy(info->name, dev->info.name, sizeof(info->name));
	info->numa_node = dev->info.numa_node;
	info->dma_mask = dev->info.dma_mask;
	info->max_segment = dev->info.max_segment;
	info->seg_boundary = dev->info.seg_boundary;
	info->iommu = dev->info.dev_flags & SGDMA_INFO_IOMMU;
	return 0;
}

SGDMA_EXPORT int sgdma_dev_coherent(const struct sgdma_dev *dev)
{
	if (!dev)
		return sgdma__fail(EINVAL, "sgdma_dev_coherent: dev is NULL");
	if (!(dev->info.features & SGDMA_FEAT_COHERENCE))
		return sgdma__fail(EOPNOTSUPP,
		                   "sgdma_dev_coherent: the sgdma module of %s does not report "
		                   "coherence (it is older than this libsgdma)",
		                   dev->info.name);
	return !!(dev->info.dev_flags & SGDMA_INFO_COHERENT);
}

SGDMA_EXPORT size_t sgdma_dev_dma_align(const struct sgdma_dev *dev)
{
	if (!dev) {
		sgdma__fail(EINVAL, "sgdma_dev_dma_align: dev is NULL");
		return 0;
	}
	if (!(dev->info.features & SGDMA_FEAT_COHERENCE)) {
		sgdma__fail(EOPNOTSUPP,
		            "sgdma_dev_dma_align: the sgdma module of %s does not report its DMA "
		            "alignment (it is older than this libsgdma)",
		            dev->info.name);
		return 0;
	}
	return dev->info.dma_align ? dev->info.dma_align : 1;
}

/* ---- the default device ------------------------------------------------- */

/*
 * The default device, opened on first use.  It is replaced when it was
 * revoked (a call answered ENODEV, or the status page says so: the first
 * call after a re-exposure goes to the new device), or when a forked child
 * inherited it (its file belongs to the parent).  The old one goes on as
 * any device whose opener closed it: its regions hold it, and it is freed
 * with the last of them.  Unless sgdma_default_dev() handed it out: its
 * callers hold a pointer but no reference, so nothing says when they are
 * done with it.  Such a default is kept, with the cache's reference and its
 * file, on the retired list until the process exits; there is one per
 * replacement at most.
 */
static struct sgdma_dev *default_dev;
static struct sgdma_dev *retired;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * fork() waits until no thread holds default_lock, so that a child does
 * not inherit it locked by a thread the child does not have.
 */
static void lock_default(void)
{
	pthread_mutex_lock(&default_lock);
}

static void unlock_default(void)
{
	pthread_mutex_unlock(&default_lock);
}

static void register_atfork(void)
{
	pthread_atfork(lock_default, unlock_default, unlock_default);
}

/* Drop the cached default.  Called with default_lock held. */
static void retire_default(void)
{
	struct sgdma_dev *dev = default_dev;

	default_dev = NULL;
	if (dev->handed_out) {
		dev->retired_next = retired;
		retired = dev;
	} else {
		sgdma__dev_put(dev);
	}
}

/*
 * The default device; @hand_out: for sgdma_default_dev() (the caller gets
 * a pointer to keep), else with a reference for the caller.
 */
static struct sgdma_dev *default_get(const char *fn, bool hand_out)
{
	struct sgdma_dev *dev;
	int err;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&default_lock);
	dev = default_dev;
	if (dev && (sgdma__dev_revoked(dev) || dev->owner != getpid()))
		retire_default();
	if (!default_dev) {
		dev = open_dev(NULL, fn);
		if (dev)
			dev->is_default = true;
		default_dev = dev;
	}
	dev = default_dev;
	if (dev && hand_out)
		dev->handed_out = true;
	else if (dev)
		sgdma__dev_get(dev);
	err = errno;
	pthread_mutex_unlock(&default_lock);
	errno = err;
	return dev;
}

struct sgdma_dev *sgdma__default_get(const char *fn)
{
	return default_get(fn, false);
}

SGDMA_EXPORT struct sgdma_dev *sgdma_default_dev(void)
{
	return default_get("sgdma_default_dev", true);
}
