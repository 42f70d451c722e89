// SPDX-License-Identifier: GPL-2.0
/*
 * sgdma: register user buffers for DMA by an exposed device.
 *
 * An admin exposes a device (expose= at load, or the expose parameter in
 * sysfs at run time); sgdma then creates /dev/sgdma/<name> for it.  The device
 * keeps its own driver, if any.  When the device is unbound or removed, or
 * un-exposed, every region mapped for it is unmapped and unpinned, and its
 * open files answer -ENODEV.
 */
#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "sgdma_compat.h"
#include "sgdma_internal.h"

#define SGDMA_MAX_DEVICES 256

u64 sgdma_max_region_bytes = 64ULL << 30;
module_param_named(max_region_bytes, sgdma_max_region_bytes, ullong, 0644);
MODULE_PARM_DESC(max_region_bytes, "Largest region in bytes (default 64 GiB)");

unsigned int sgdma_max_regions_per_file = 65536;
module_param_named(max_regions_per_file, sgdma_max_regions_per_file, uint,
		   0644);
MODULE_PARM_DESC(max_regions_per_file,
		 "Most regions one open file may hold (default 65536)");

atomic_t sgdma_total_regions = ATOMIC_INIT(0);
atomic64_t sgdma_total_pinned_pages = ATOMIC64_INIT(0);

/* Protects sgdma_devs, sgdma_pending_expose and sgdma_state. */
static DEFINE_MUTEX(sgdma_lock);
static DEFINE_XARRAY(sgdma_devs);	/* minor -> struct sgdma_dev */
static DEFINE_IDA(sgdma_minors);
static dev_t sgdma_devt_base;
static char *sgdma_pending_expose;	/* expose= given before init ran */
static enum { SGDMA_LOADING, SGDMA_READY, SGDMA_GONE } sgdma_state;

static void sgdma_dev_release(struct kref *kref)
{
	struct sgdma_dev *sd = container_of(kref, struct sgdma_dev, kref);

	put_device(sd->dev);
	kfree(sd);
}

void sgdma_dev_put(struct sgdma_dev *sd)
{
	kref_put(&sd->kref, sgdma_dev_release);
}

struct sgdma_dev *sgdma_dev_get_by_devt(dev_t devt)
{
	struct sgdma_dev *sd;

	mutex_lock(&sgdma_lock);
	sd = xa_load(&sgdma_devs, MINOR(devt));
	if (sd)
		kref_get(&sd->kref);
	mutex_unlock(&sgdma_lock);
	return sd;
}

bool sgdma_dev_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && domain->type != IOMMU_DOMAIN_IDENTITY;
}

/* Caller holds sgdma_lock. */
static struct sgdma_dev *sgdma_find_exposed(struct device *dev)
{
	struct sgdma_dev *sd;
	unsigned long minor;

	xa_for_each(&sgdma_devs, minor, sd)
		if (sd->dev == dev)
			return sd;
	return NULL;
}

/* The buses a device may be named on, as "<bus>:<name>" or just "<name>". */
static SGDMA_BUS_CONST struct bus_type *const sgdma_buses[] = {
	&pci_bus_type,
	&platform_bus_type,
};

static struct device *sgdma_lookup_device(const char *spec)
{
	const char *name = spec, *colon = strchr(spec, ':');
	struct device *dev;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		const char *bus = sgdma_buses[i]->name;

		if (colon && colon - spec == strlen(bus) &&
		    !strncmp(spec, bus, colon - spec))
			return bus_find_device_by_name(sgdma_buses[i], NULL,
						       colon + 1);
	}
	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		dev = bus_find_device_by_name(sgdma_buses[i], NULL, name);
		if (dev)
			return dev;
	}
	return NULL;
}

/* ----------------------------------------------------------------------- */
/* Per-device attributes: /sys/class/sgdma/<name>/                          */

static struct sgdma_dev *sgdma_attr_dev(struct device *node)
{
	return dev_get_drvdata(node);
}

static ssize_t dma_mask_bits_show(struct device *node,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  fls64(dma_get_mask(sgdma_attr_dev(node)->dev)));
}

static ssize_t dma_mask_bits_store(struct device *node,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	struct sgdma_dev *sd = sgdma_attr_dev(node);
	unsigned int bits;
	int ret;

	ret = kstrtouint(buf, 0, &bits);
	if (ret)
		return ret;
	if (bits < 12 || bits > 64)
		return -EINVAL;

	/* Live mappings were made for the old mask. */
	down_write(&sd->dma_config);
	if (atomic_read(&sd->nregions))
		ret = -EBUSY;
	else
		ret = dma_set_mask_and_coherent(sd->dev, DMA_BIT_MASK(bits));
	up_write(&sd->dma_config);
	return ret ?: count;
}
static DEVICE_ATTR_RW(dma_mask_bits);

static ssize_t max_segment_size_show(struct device *node,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  dma_get_max_seg_size(sgdma_attr_dev(node)->dev));
}

static ssize_t max_segment_size_store(struct device *node,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct sgdma_dev *sd = sgdma_attr_dev(node);
	unsigned int size;
	int ret;

	ret = kstrtouint(buf, 0, &size);
	if (ret)
		return ret;
	if (size < PAGE_SIZE)
		return -EINVAL;
	if (!sd->dev->dma_parms)
		return -EOPNOTSUPP;
	down_write(&sd->dma_config);
	sd->dev->dma_parms->max_segment_size = size;
	up_write(&sd->dma_config);
	return count;
}
static DEVICE_ATTR_RW(max_segment_size);

static ssize_t segment_boundary_show(struct device *node,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%lx\n",
			  dma_get_seg_boundary(sgdma_attr_dev(node)->dev));
}

static ssize_t segment_boundary_store(struct device *node,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct sgdma_dev *sd = sgdma_attr_dev(node);
	unsigned long mask;
	int ret;

	ret = kstrtoul(buf, 0, &mask);
	if (ret)
		return ret;
	/* A boundary is a power of two, at least a page. */
	if (mask < PAGE_SIZE - 1 || (mask & (mask + 1)))
		return -EINVAL;
	if (!sd->dev->dma_parms)
		return -EOPNOTSUPP;
	down_write(&sd->dma_config);
	sd->dev->dma_parms->segment_boundary_mask = mask;
	up_write(&sd->dma_config);
	return count;
}
static DEVICE_ATTR_RW(segment_boundary);

static ssize_t numa_node_show(struct device *node,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", dev_to_node(sgdma_attr_dev(node)->dev));
}
static DEVICE_ATTR_RO(numa_node);

static ssize_t iommu_show(struct device *node, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  sgdma_dev_translated(sgdma_attr_dev(node)->dev));
}
static DEVICE_ATTR_RO(iommu);

static ssize_t regions_show(struct device *node, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&sgdma_attr_dev(node)->nregions));
}
static DEVICE_ATTR_RO(regions);

static ssize_t pinned_pages_show(struct device *node,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&sgdma_attr_dev(node)->pinned_pages));
}
static DEVICE_ATTR_RO(pinned_pages);

static struct attribute *sgdma_dev_attrs[] = {
	&dev_attr_dma_mask_bits.attr,
	&dev_attr_max_segment_size.attr,
	&dev_attr_segment_boundary.attr,
	&dev_attr_numa_node.attr,
	&dev_attr_iommu.attr,
	&dev_attr_regions.attr,
	&dev_attr_pinned_pages.attr,
	NULL,
};
ATTRIBUTE_GROUPS(sgdma_dev);

static char *sgdma_devnode(SGDMA_DEVNODE_CONST struct device *node,
			   umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "sgdma/%s", dev_name(node));
}

static struct class sgdma_class = {
	.name = "sgdma",
	.devnode = sgdma_devnode,
	.dev_groups = sgdma_dev_groups,
};

/* ----------------------------------------------------------------------- */
/* Exposing and revoking                                                    */

/*
 * Segments as long as a scatterlist entry holds: the PCI default of 64 KiB
 * would split every huge page into many.  Bounce buffers keep the offset in
 * the page, so a device sees the buffer's page layout whatever the DMA path.
 * Restored on un-expose.
 */
static void sgdma_dev_setup_params(struct sgdma_dev *sd)
{
	struct device *dev = sd->dev;

	sd->saved_dma_mask = dma_get_mask(dev);
	sd->saved_coherent_mask = dev->coherent_dma_mask;
	if (!dev->dma_parms)
		return;
	sd->saved_params = true;
	sd->saved_max_seg = dev->dma_parms->max_segment_size;
	sd->saved_seg_boundary = dev->dma_parms->segment_boundary_mask;
	sd->saved_min_align = dev->dma_parms->min_align_mask;
	dev->dma_parms->max_segment_size = UINT_MAX & PAGE_MASK;
	dev->dma_parms->min_align_mask = PAGE_SIZE - 1;
}

static void sgdma_dev_restore_params(struct sgdma_dev *sd)
{
	struct device *dev = sd->dev;

	if (dma_get_mask(dev) != sd->saved_dma_mask)
		dma_set_mask(dev, sd->saved_dma_mask);
	if (dev->coherent_dma_mask != sd->saved_coherent_mask)
		dma_set_coherent_mask(dev, sd->saved_coherent_mask);
	if (!sd->saved_params)
		return;
	dev->dma_parms->max_segment_size = sd->saved_max_seg;
	dev->dma_parms->segment_boundary_mask = sd->saved_seg_boundary;
	dev->dma_parms->min_align_mask = sd->saved_min_align;
}

/* Caller holds sgdma_lock; takes over the reference on @dev. */
static int sgdma_expose_device(struct device *dev)
{
	struct sgdma_dev *sd;
	int minor, ret;

	if (sgdma_find_exposed(dev)) {
		ret = -EEXIST;
		goto err_put_device;
	}
	if (!dev->dma_mask) {
		dev_warn(dev, "sgdma: device cannot do DMA, not exposed\n");
		ret = -EINVAL;
		goto err_put_device;
	}

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd) {
		ret = -ENOMEM;
		goto err_put_device;
	}
	kref_init(&sd->kref);
	sd->dev = dev;
	mutex_init(&sd->lock);
	INIT_LIST_HEAD(&sd->files);
	init_rwsem(&sd->dma_config);

	minor = ida_alloc_max(&sgdma_minors, SGDMA_MAX_DEVICES - 1,
			      GFP_KERNEL);
	if (minor < 0) {
		ret = minor;
		goto err_put_sd;
	}
	sd->devt = MKDEV(MAJOR(sgdma_devt_base), minor);

	sd->cdev = cdev_alloc();
	if (!sd->cdev) {
		ret = -ENOMEM;
		goto err_free_minor;
	}
	sd->cdev->ops = &sgdma_fops;
	sd->cdev->owner = THIS_MODULE;

	ret = xa_insert(&sgdma_devs, minor, sd, GFP_KERNEL);
	if (ret)
		goto err_put_cdev;
	sgdma_dev_setup_params(sd);

	ret = cdev_add(sd->cdev, sd->devt, 1);
	if (ret)
		goto err_erase;
	sd->node = device_create(&sgdma_class, dev, sd->devt, sd, "%s",
				 dev_name(dev));
	if (IS_ERR(sd->node)) {
		ret = PTR_ERR(sd->node);
		goto err_cdev_del;
	}
	dev_info(dev, "sgdma: exposed as /dev/sgdma/%s\n", dev_name(dev));
	return 0;

err_cdev_del:
	cdev_del(sd->cdev);
	sd->cdev = NULL;
err_erase:
	sgdma_dev_restore_params(sd);
	xa_erase(&sgdma_devs, minor);
err_put_cdev:
	if (sd->cdev)
		kobject_put(&sd->cdev->kobj);
err_free_minor:
	ida_free(&sgdma_minors, minor);
err_put_sd:
	sgdma_dev_put(sd);	/* drops the device reference */
	return ret;
err_put_device:
	put_device(dev);
	return ret;
}

/*
 * Caller holds sgdma_lock.  Removes the node, then unmaps and unpins every
 * region of every open file; the files answer -ENODEV from then on.
 */
static void sgdma_unexpose(struct sgdma_dev *sd)
{
	struct sgdma_file *f, *tmp;
	unsigned int minor = MINOR(sd->devt);

	xa_erase(&sgdma_devs, minor);
	device_destroy(&sgdma_class, sd->devt);
	cdev_del(sd->cdev);
	ida_free(&sgdma_minors, minor);

	mutex_lock(&sd->lock);
	sd->revoked = true;
	list_for_each_entry_safe(f, tmp, &sd->files, node)
		sgdma_file_revoke(f);
	mutex_unlock(&sd->lock);

	sgdma_dev_restore_params(sd);
	dev_info(sd->dev, "sgdma: no longer exposed\n");
	sgdma_dev_put(sd);
}

/* vfio and the like move the device to a domain of their own. */
static bool sgdma_driver_manages_dma(struct device *dev)
{
	if (!dev->driver)
		return false;
	if (dev_is_pci(dev))
		return to_pci_driver(dev->driver)->driver_managed_dma;
	if (dev_is_platform(dev))
		return to_platform_driver(dev->driver)->driver_managed_dma;
	return false;
}

static int sgdma_notify(struct notifier_block *nb, unsigned long action,
			void *data)
{
	struct device *dev = data;
	struct sgdma_dev *sd;

	switch (action) {
	case BUS_NOTIFY_DEL_DEVICE:
	case BUS_NOTIFY_UNBIND_DRIVER:
		break;
	case BUS_NOTIFY_BIND_DRIVER:
		/* Our mappings live in the domain such a driver replaces. */
		if (sgdma_driver_manages_dma(dev))
			break;
		return NOTIFY_DONE;
	default:
		return NOTIFY_DONE;
	}

	mutex_lock(&sgdma_lock);
	sd = sgdma_find_exposed(dev);
	if (sd) {
		dev_info(dev, "sgdma: device going away, revoking regions\n");
		sgdma_unexpose(sd);
	}
	mutex_unlock(&sgdma_lock);
	return NOTIFY_OK;
}

static struct notifier_block sgdma_nb[ARRAY_SIZE(sgdma_buses)];

/* ----------------------------------------------------------------------- */
/* expose / unexpose module parameters                                      */

#define SGDMA_SPEC_SEPARATORS ", \t\n"

/* Caller holds sgdma_lock. */
static int sgdma_expose_list(char *list)
{
	char *spec;
	int ret = 0;

	while ((spec = strsep(&list, SGDMA_SPEC_SEPARATORS))) {
		struct device *dev;
		int err;

		if (!*spec)
			continue;
		dev = sgdma_lookup_device(spec);
		if (!dev) {
			pr_warn("sgdma: no device %s\n", spec);
			err = -ENODEV;
		} else {
			err = sgdma_expose_device(dev);
		}
		if (err && !ret)
			ret = err;
	}
	return ret;
}

static int sgdma_param_expose_set(const char *val, const struct kernel_param *kp)
{
	char *list = kstrdup(val, GFP_KERNEL);
	int ret;

	if (!list)
		return -ENOMEM;
	mutex_lock(&sgdma_lock);
	switch (sgdma_state) {
	case SGDMA_LOADING:	/* expose= at load: done once init ran */
		kfree(sgdma_pending_expose);
		sgdma_pending_expose = list;
		list = NULL;
		ret = 0;
		break;
	case SGDMA_READY:
		ret = sgdma_expose_list(list);
		break;
	default:
		ret = -ENODEV;
	}
	mutex_unlock(&sgdma_lock);
	kfree(list);
	return ret;
}

static int sgdma_param_expose_get(char *buf, const struct kernel_param *kp)
{
	struct sgdma_dev *sd;
	unsigned long minor;
	int len = 0;

	mutex_lock(&sgdma_lock);
	xa_for_each(&sgdma_devs, minor, sd)
		len += scnprintf(buf + len, PAGE_SIZE - len, "%s%s",
				 len ? "," : "", dev_name(sd->dev));
	mutex_unlock(&sgdma_lock);
	len += scnprintf(buf + len, PAGE_SIZE - len, "\n");
	return len;
}

static const struct kernel_param_ops sgdma_expose_ops = {
	.set = sgdma_param_expose_set,
	.get = sgdma_param_expose_get,
};
module_param_cb(expose, &sgdma_expose_ops, NULL, 0600);
MODULE_PARM_DESC(expose,
		 "Devices to expose, e.g. 0000:00:03.0 or platform:name, comma separated; write at run time to expose more, read to list");

static int sgdma_param_unexpose_set(const char *val,
				    const struct kernel_param *kp)
{
	char *list = kstrdup(val, GFP_KERNEL), *cursor = list, *spec;
	int ret = 0;

	if (!list)
		return -ENOMEM;
	mutex_lock(&sgdma_lock);
	while (sgdma_state == SGDMA_READY &&
	       (spec = strsep(&cursor, SGDMA_SPEC_SEPARATORS))) {
		struct device *dev;
		struct sgdma_dev *sd = NULL;

		if (!*spec)
			continue;
		dev = sgdma_lookup_device(spec);
		if (dev) {
			sd = sgdma_find_exposed(dev);
			put_device(dev);
		}
		if (sd)
			sgdma_unexpose(sd);
		else if (!ret)
			ret = -ENODEV;
	}
	if (sgdma_state != SGDMA_READY)
		ret = -ENODEV;
	mutex_unlock(&sgdma_lock);
	kfree(list);
	return ret;
}

static const struct kernel_param_ops sgdma_unexpose_ops = {
	.set = sgdma_param_unexpose_set,
};
module_param_cb(unexpose, &sgdma_unexpose_ops, NULL, 0200);
MODULE_PARM_DESC(unexpose, "Write a device name to un-expose it");

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

static void sgdma_unregister_notifiers(unsigned int n)
{
	while (n--)
		bus_unregister_notifier(sgdma_buses[n], &sgdma_nb[n]);
}

static int __init sgdma_init(void)
{
	unsigned int i;
	int ret;

	ret = alloc_chrdev_region(&sgdma_devt_base, 0, SGDMA_MAX_DEVICES,
				  "sgdma");
	if (ret)
		return ret;
	ret = class_register(&sgdma_class);
	if (ret)
		goto err_chrdev;
	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		sgdma_nb[i].notifier_call = sgdma_notify;
		ret = bus_register_notifier(sgdma_buses[i], &sgdma_nb[i]);
		if (ret) {
			sgdma_unregister_notifiers(i);
			goto err_class;
		}
	}

	mutex_lock(&sgdma_lock);
	sgdma_state = SGDMA_READY;
	if (sgdma_pending_expose) {
		/* A device that is missing is reported, not fatal. */
		sgdma_expose_list(sgdma_pending_expose);
		kfree(sgdma_pending_expose);
		sgdma_pending_expose = NULL;
	}
	mutex_unlock(&sgdma_lock);
	return 0;

err_class:
	class_unregister(&sgdma_class);
err_chrdev:
	unregister_chrdev_region(sgdma_devt_base, SGDMA_MAX_DEVICES);
	kfree(sgdma_pending_expose);
	return ret;
}

static void __exit sgdma_exit(void)
{
	struct sgdma_dev *sd;
	unsigned long minor;

	sgdma_unregister_notifiers(ARRAY_SIZE(sgdma_buses));
	mutex_lock(&sgdma_lock);
	sgdma_state = SGDMA_GONE;
	xa_for_each(&sgdma_devs, minor, sd)
		sgdma_unexpose(sd);
	mutex_unlock(&sgdma_lock);
	class_unregister(&sgdma_class);
	unregister_chrdev_region(sgdma_devt_base, SGDMA_MAX_DEVICES);
	ida_destroy(&sgdma_minors);
}

module_init(sgdma_init);
module_exit(sgdma_exit);

MODULE_DESCRIPTION("Register user buffers for DMA by a device");
MODULE_LICENSE("GPL");
