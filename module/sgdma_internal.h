/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sgdma internals shared by the device, file and region code.
 *
 * Lock order: sgdma_lock (exposed-device table) -> sgdma_dev.lock (its open
 * files) -> sgdma_file.lock (its regions) -> sgdma_dev.dma_config.
 */
#ifndef SGDMA_INTERNAL_H
#define SGDMA_INTERNAL_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "uapi/linux/sgdma.h"

/* A device exposed to userspace through /dev/sgdma/<name>. */
struct sgdma_dev {
	struct kref kref;
	struct device *dev;		/* the exposed device; reference held */
	struct device *node;		/* our class device, NULL once un-exposed */
	struct cdev *cdev;
	dev_t devt;

	struct mutex lock;		/* protects files and revoked */
	struct list_head files;
	bool revoked;

	/*
	 * Held for reading while a region is mapped, for writing while the
	 * admin changes the DMA mask or segment limits.
	 */
	struct rw_semaphore dma_config;

	atomic_t nregions;
	atomic64_t pinned_pages;

	/* What the device had before we touched it, restored on un-expose. */
	u64 saved_dma_mask;
	u64 saved_coherent_mask;
	unsigned int saved_max_seg;
	unsigned long saved_seg_boundary;
	unsigned int saved_min_align;
	bool saved_params;
};

/* Reporting limits a region was registered under. */
struct sgdma_seg_limits {
	u64 max_len;
	u64 boundary_mask;
};

/* Walks a region's DMA segments as they are reported to userspace. */
struct sgdma_seg_cursor {
	struct scatterlist *sg;		/* current mapped entry */
	unsigned int left;		/* mapped entries from sg to the end */
	u64 sg_off;			/* bytes of sg already reported */
	u64 buf_off;			/* offset in the buffer of the next byte */
	u64 index;			/* index of the next segment */
};

struct sgdma_region {
	struct sg_append_table sgt_append;
	u64 addr;
	u64 length;
	unsigned long npages;
	enum dma_data_direction dir;
	struct sgdma_seg_limits limits;
	u64 nsegs;
	struct sgdma_seg_cursor cursor;	/* where the last GET_SEGS stopped */
};

/* An open /dev/sgdma/<name>. */
struct sgdma_file {
	struct sgdma_dev *sd;
	struct mm_struct *mm;		/* the opener's; regions are charged here */
	struct list_head node;		/* in sd->files */

	struct mutex lock;		/* protects everything below */
	struct xarray regions;
	u32 next_handle;
	unsigned int nregions;
	bool revoked;
};

extern const struct file_operations sgdma_fops;

/* Module parameters (sgdma_main.c). */
extern u64 sgdma_max_region_bytes;
extern unsigned int sgdma_max_regions_per_file;

/* Module-wide counters, for leak checks. */
extern atomic_t sgdma_total_regions;
extern atomic64_t sgdma_total_pinned_pages;

struct sgdma_dev *sgdma_dev_get_by_devt(dev_t devt);
void sgdma_dev_put(struct sgdma_dev *sd);
bool sgdma_dev_translated(struct device *dev);

/* sgdma_file.c */
void sgdma_file_revoke(struct sgdma_file *f);

/* sgdma_region.c */
int sgdma_region_create(struct sgdma_file *f, u64 addr, u64 length,
			u32 dir_flags, struct sgdma_region **out);
void sgdma_region_destroy(struct sgdma_file *f, struct sgdma_region *r);
int sgdma_region_copy_segs(struct sgdma_region *r, u64 first, u64 *count,
			   struct sgdma_ioc_seg __user *useg);
int sgdma_region_sync(struct sgdma_dev *sd, struct sgdma_region *r,
		      u64 offset, u64 length, bool for_cpu);

#endif /* SGDMA_INTERNAL_H */
