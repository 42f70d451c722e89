// SPDX-License-Identifier: GPL-2.0
/*
 * sgdma: register user buffers for DMA by an exposed device.
 *
 * The module's parameters and its init and exit.  The registry of exposed
 * devices is sgdma_dev.c, their sysfs attributes sgdma_sysfs.c, the
 * character device sgdma_file.c and the regions sgdma_region.c.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "sgdma_internal.h"

static int sgdma_param_u64_set(const char *val, const struct kernel_param *kp);

/*
 * A region's page count is an unsigned int in the scatterlist API: the
 * largest region stays below it.
 */
#define SGDMA_MAX_REGION_LIMIT ((u64)UINT_MAX << PAGE_SHIFT)

u64 sgdma_max_region_bytes = 64ULL << 30;
static const struct kernel_param_ops sgdma_region_bytes_ops = {
	.set = sgdma_param_u64_set,
	.get = param_get_ullong,
};
module_param_cb(max_region_bytes, &sgdma_region_bytes_ops,
		&sgdma_max_region_bytes, 0644);
MODULE_PARM_DESC(max_region_bytes, "Largest region in bytes (default 64 GiB)");

unsigned int sgdma_max_regions_per_file = 65536;
module_param_named(max_regions_per_file, sgdma_max_regions_per_file, uint,
		   0644);
MODULE_PARM_DESC(max_regions_per_file,
		 "Most regions one open file may hold (default 65536)");

u64 sgdma_max_bounce_bytes = 32ULL << 20;
static const struct kernel_param_ops sgdma_bounce_bytes_ops = {
	.set = sgdma_param_u64_set,
	.get = param_get_ullong,
};
module_param_cb(max_bounce_bytes, &sgdma_bounce_bytes_ops,
		&sgdma_max_bounce_bytes, 0644);
MODULE_PARM_DESC(max_bounce_bytes,
		 "Most bytes of swiotlb bounce buffers one user's regions may hold (default 32 MiB)");

static int sgdma_param_u64_set(const char *val, const struct kernel_param *kp)
{
	u64 v;
	int ret;

	ret = kstrtoull(val, 0, &v);
	if (ret)
		return ret;
	if (kp->arg == &sgdma_max_region_bytes && v > SGDMA_MAX_REGION_LIMIT)
		return -ERANGE;
	*(u64 *)kp->arg = v;
	return 0;
}

atomic_t sgdma_total_regions = ATOMIC_INIT(0);
atomic64_t sgdma_total_pinned_pages = ATOMIC64_INIT(0);

#define SGDMA_SPEC_SEPARATORS ", \t\n"

/*
 * Drivers known to make no DMA mappings of their own: sgdma may set the
 * DMA parameters of a device they are bound to.
 */
static char sgdma_dma_free_drivers[256] =
	"uio_pci_generic,uio_pdrv_genirq,pci-stub";
static DEFINE_MUTEX(sgdma_drivers_lock);

bool sgdma_driver_is_dma_free(const char *name)
{
	size_t len = strlen(name);
	const char *p;
	bool found = false;

	mutex_lock(&sgdma_drivers_lock);
	for (p = sgdma_dma_free_drivers; *p; p += strcspn(p, ",")) {
		p += strspn(p, ",");
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len])) {
			found = true;
			break;
		}
	}
	mutex_unlock(&sgdma_drivers_lock);
	return found;
}

static int sgdma_param_drivers_set(const char *val,
				   const struct kernel_param *kp)
{
	size_t len = strcspn(val, "\n");

	if (len >= sizeof(sgdma_dma_free_drivers))
		return -ENOSPC;
	mutex_lock(&sgdma_drivers_lock);
	memcpy(sgdma_dma_free_drivers, val, len);
	sgdma_dma_free_drivers[len] = '\0';
	mutex_unlock(&sgdma_drivers_lock);
	return 0;
}

static int sgdma_param_drivers_get(char *buf, const struct kernel_param *kp)
{
	int len;

	mutex_lock(&sgdma_drivers_lock);
	len = sysfs_emit(buf, "%s\n", sgdma_dma_free_drivers);
	mutex_unlock(&sgdma_drivers_lock);
	return len;
}

static const struct kernel_param_ops sgdma_drivers_ops = {
	.set = sgdma_param_drivers_set,
	.get = sgdma_param_drivers_get,
};
module_param_cb(dma_free_drivers, &sgdma_drivers_ops, NULL, 0644);
MODULE_PARM_DESC(dma_free_drivers,
		 "Drivers that make no DMA mappings, comma separated: sgdma sets the DMA parameters of a device bound to one of them (default uio_pci_generic,uio_pdrv_genirq,pci-stub)");

/* ----------------------------------------------------------------------- */
/* expose / unexpose                                                        */

/* expose= given at load, before the registry is up: every occurrence. */
static DEFINE_MUTEX(sgdma_pending_lock);
static char *sgdma_pending_expose;
static bool sgdma_ready;

static int sgdma_apply_specs(char *list, int (*fn)(const char *spec),
			     bool ignore_exposed)
{
	char *spec;
	int ret = 0;

	while ((spec = strsep(&list, SGDMA_SPEC_SEPARATORS))) {
		int err;

		if (!*spec)
			continue;
		err = fn(spec);
		if (err == -EEXIST && ignore_exposed)
			err = 0;
		if (err && !ret)
			ret = err;
	}
	return ret;
}

static int sgdma_expose_now(const char *spec)
{
	return sgdma_expose(spec, false);
}

static int sgdma_expose_at_load(const char *spec)
{
	return sgdma_expose(spec, true);
}

static int sgdma_param_expose_set(const char *val, const struct kernel_param *kp)
{
	char *list;
	int ret = 0;

	mutex_lock(&sgdma_pending_lock);
	if (!sgdma_ready) {
		list = kasprintf(GFP_KERNEL, "%s,%s",
				 sgdma_pending_expose ?: "", val);
		if (list) {
			kfree(sgdma_pending_expose);
			sgdma_pending_expose = list;
		}
		mutex_unlock(&sgdma_pending_lock);
		return list ? 0 : -ENOMEM;
	}
	mutex_unlock(&sgdma_pending_lock);

	list = kstrdup(val, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	ret = sgdma_apply_specs(list, sgdma_expose_now, false);
	kfree(list);
	return ret;
}

static int sgdma_param_expose_get(char *buf, const struct kernel_param *kp)
{
	return sgdma_list_exposed(buf, PAGE_SIZE);
}

static const struct kernel_param_ops sgdma_expose_ops = {
	.set = sgdma_param_expose_set,
	.get = sgdma_param_expose_get,
};
module_param_cb(expose, &sgdma_expose_ops, NULL, 0600);
MODULE_PARM_DESC(expose,
		 "Devices to expose, e.g. 0000:00:03.0 or platform:name, comma separated, now and whenever they appear; write at run time to expose more, read to list");

static int sgdma_param_unexpose_set(const char *val,
				    const struct kernel_param *kp)
{
	char *list = kstrdup(val, GFP_KERNEL);
	int ret;

	if (!list)
		return -ENOMEM;
	ret = sgdma_apply_specs(list, sgdma_unexpose_by_name, false);
	kfree(list);
	return ret;
}

static const struct kernel_param_ops sgdma_unexpose_ops = {
	.set = sgdma_param_unexpose_set,
};
module_param_cb(unexpose, &sgdma_unexpose_ops, NULL, 0200);
MODULE_PARM_DESC(unexpose, "Write a device name to un-expose it");

/*
 * ids=: PCI devices to expose by vendor:device, like vfio-pci's ids=, those
 * present at load and every one that appears later.  Set at load only.
 */
#define SGDMA_MAX_IDS 16
static struct pci_device_id sgdma_ids[SGDMA_MAX_IDS + 1];	/* 0-ended */
static unsigned int sgdma_nids;

static int sgdma_param_ids_set(const char *val, const struct kernel_param *kp)
{
	char *list, *p, *spec;
	int ret = 0;

	list = kstrdup(val, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	p = list;
	while ((spec = strsep(&p, SGDMA_SPEC_SEPARATORS))) {
		char *device = strchr(spec, ':');
		u16 v, d;

		if (!*spec)
			continue;
		if (!device) {
			ret = -EINVAL;
			break;
		}
		*device++ = '\0';
		if (kstrtou16(spec, 16, &v) || kstrtou16(device, 16, &d)) {
			ret = -EINVAL;
			break;
		}
		if (sgdma_nids == SGDMA_MAX_IDS) {
			ret = -ENOSPC;
			break;
		}
		sgdma_ids[sgdma_nids++] = (struct pci_device_id){ PCI_DEVICE(v, d) };
	}
	kfree(list);
	return ret;
}

static int sgdma_param_ids_get(char *buf, const struct kernel_param *kp)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < sgdma_nids; i++)
		len += sysfs_emit_at(buf, len, "%s%04x:%04x", i ? "," : "",
				     sgdma_ids[i].vendor, sgdma_ids[i].device);
	return len + sysfs_emit_at(buf, len, "\n");
}

static const struct kernel_param_ops sgdma_ids_ops = {
	.set = sgdma_param_ids_set,
	.get = sgdma_param_ids_get,
};
module_param_cb(ids, &sgdma_ids_ops, NULL, 0444);
MODULE_PARM_DESC(ids,
		 "PCI devices to expose by vendor:device in hex (e.g. 1234:11e8), comma separated, now and whenever one appears; at load only");

bool sgdma_ids_match(struct device *dev)
{
	return dev_is_pci(dev) && pci_match_id(sgdma_ids, to_pci_dev(dev));
}

static int sgdma_param_stat_get(char *buf, const struct kernel_param *kp)
{
	if (kp->arg == &sgdma_total_regions)
		return sysfs_emit(buf, "%d\n", atomic_read(&sgdma_total_regions));
	return sysfs_emit(buf, "%lld\n", atomic64_read(&sgdma_total_pinned_pages));
}

static const struct kernel_param_ops sgdma_stat_ops = {
	.get = sgdma_param_stat_get,
};
module_param_cb(regions, &sgdma_stat_ops, &sgdma_total_regions, 0444);
MODULE_PARM_DESC(regions, "Live regions, all devices (read only)");
module_param_cb(pinned_pages, &sgdma_stat_ops, &sgdma_total_pinned_pages,
		0444);
MODULE_PARM_DESC(pinned_pages, "Pages pinned, all devices (read only)");

/* ----------------------------------------------------------------------- */

static int __init sgdma_init(void)
{
	char *pending;
	int ret;

	ret = sgdma_registry_init();
	if (ret) {
		kfree(sgdma_pending_expose);
		return ret;
	}

	mutex_lock(&sgdma_pending_lock);
	sgdma_ready = true;
	pending = sgdma_pending_expose;
	sgdma_pending_expose = NULL;
	mutex_unlock(&sgdma_pending_lock);
	/* A device that is missing or listed twice is reported, not fatal. */
	if (pending)
		sgdma_apply_specs(pending, sgdma_expose_at_load, true);
	kfree(pending);
	return 0;
}

static void __exit sgdma_exit(void)
{
	sgdma_registry_exit();
	sgdma_regions_exit();
}

module_init(sgdma_init);
module_exit(sgdma_exit);

MODULE_DESCRIPTION("Register user buffers for DMA by a device");
MODULE_LICENSE("GPL");
