// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device attributes: /sys/class/sgdma/<name>/.
 *
 * The DMA configuration (mask, segment limits) is the admin's to set while
 * sgdma owns the device's DMA parameters (no driver that maps memory of its
 * own is bound); it changes under the device's DMA lock, so a registration
 * maps under one configuration, never half of two.
 */
#include <linux/dma-mapping.h>
#include <linux/kstrtox.h>
#include <linux/slab.h>

#include "sgdma_compat.h"
#include "sgdma_internal.h"

static struct sgdma_dev *sgdma_attr_dev(struct device *node)
{
	return dev_get_drvdata(node);
}

/*
 * Run @set on @sd's device under its DMA lock held for writing, unless a
 * registration is being built under the current configuration.  @idle: no
 * region may be mapped either (the mask decided how they were mapped).
 */
static int sgdma_dev_configure(struct sgdma_dev *sd, bool idle,
			       int (*set)(struct device *dev, u64 val), u64 val)
{
	int ret;

	down_write(&sd->dma_lock);
	if (sd->revoked)
		ret = -ENODEV;
	else if (!sd->owns_params || atomic_read(&sd->inflight) ||
		 (idle && atomic_read(&sd->nregions)))
		ret = -EBUSY;
	else
		ret = set(sd->dev, val);
	up_write(&sd->dma_lock);
	return ret;
}

static ssize_t dma_mask_bits_show(struct device *node,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  fls64(dma_get_mask(sgdma_attr_dev(node)->dev)));
}

static int sgdma_set_mask(struct device *dev, u64 bits)
{
	return dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits));
}

static ssize_t dma_mask_bits_store(struct device *node,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int bits;
	int ret;

	ret = kstrtouint(buf, 0, &bits);
	if (ret)
		return ret;
	if (bits < 12 || bits > 64)
		return -EINVAL;
	ret = sgdma_dev_configure(sgdma_attr_dev(node), true, sgdma_set_mask,
				  bits);
	return ret ?: count;
}
static DEVICE_ATTR_RW(dma_mask_bits);

static ssize_t max_segment_size_show(struct device *node,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  dma_get_max_seg_size(sgdma_attr_dev(node)->dev));
}

static int sgdma_set_max_seg(struct device *dev, u64 size)
{
	if (!dev->dma_parms)
		return -EOPNOTSUPP;
	dev->dma_parms->max_segment_size = size;
	return 0;
}

/* Regions keep the limits they were mapped under: no need to be idle. */
static ssize_t max_segment_size_store(struct device *node,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	unsigned int size;
	int ret;

	ret = kstrtouint(buf, 0, &size);
	if (ret)
		return ret;
	if (size < PAGE_SIZE)
		return -EINVAL;
	ret = sgdma_dev_configure(sgdma_attr_dev(node), false,
				  sgdma_set_max_seg, size);
	return ret ?: count;
}
static DEVICE_ATTR_RW(max_segment_size);

static ssize_t segment_boundary_show(struct device *node,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%lx\n",
			  dma_get_seg_boundary(sgdma_attr_dev(node)->dev));
}

static int sgdma_set_boundary(struct device *dev, u64 mask)
{
	if (!dev->dma_parms)
		return -EOPNOTSUPP;
	dev->dma_parms->segment_boundary_mask = mask;
	return 0;
}

static ssize_t segment_boundary_store(struct device *node,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	unsigned long mask;
	int ret;

	ret = kstrtoul(buf, 0, &mask);
	if (ret)
		return ret;
	/* A boundary is a power of two, at least a page. */
	if (mask < PAGE_SIZE - 1 || (mask & (mask + 1)))
		return -EINVAL;
	ret = sgdma_dev_configure(sgdma_attr_dev(node), false,
				  sgdma_set_boundary, mask);
	return ret ?: count;
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

/* 1 when the device's DMA is cache-coherent with the CPUs. */
static ssize_t coherent_show(struct device *node, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  sgdma_dev_coherent(sgdma_attr_dev(node)->dev));
}
static DEVICE_ATTR_RO(coherent);

/* 1 while sgdma sets the DMA parameters; 0 while a bound driver does. */
static ssize_t owns_dma_params_show(struct device *node,
				    struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", sgdma_attr_dev(node)->owns_params);
}
static DEVICE_ATTR_RO(owns_dma_params);

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
	&dev_attr_coherent.attr,
	&dev_attr_owns_dma_params.attr,
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

struct class sgdma_class = {
	.name = "sgdma",
	.devnode = sgdma_devnode,
	.dev_groups = sgdma_dev_groups,
};
