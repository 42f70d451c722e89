/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sgdma internals shared by the registry, sysfs, file and region code.
 *
 * Lifetimes.  An exposed device (struct sgdma_dev) is referenced by the
 * registry while exposed, by every open file and by every region.  A region
 * holds its device, the mm whose pages it pinned and the credentials of the
 * user it charged, so it can be released without knowing the file that
 * registered it.
 *
 * Locks, in the order they nest:
 *   sgdma_lock			the registry (exposed devices, minors)
 *   sgdma_dev.dma_lock		rwsem: read around every DMA API call on a
 *				region's mapping, write to revoke the device or
 *				change its DMA configuration
 *   sgdma_region.lock		the region's mapping state and its cursor
 *   sgdma_dev.regions_lock	spinlock for the list of mapped regions
 * and, apart from them, sgdma_file.handles_lock (a spinlock around finding
 * a region by its handle and taking a reference, or taking the handle away)
 * and sgdma_file.slots_lock (a mutex around the file's status slot bitmap).
 * None of them is held while user memory is touched (pinning, copying
 * arguments or segments): a fault that never ends (userfaultfd, FUSE)
 * stalls only the ioctl that took it, never revocation or other devices.
 */
#ifndef SGDMA_INTERNAL_H
#define SGDMA_INTERNAL_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable-types.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "sgdma_compat.h"
#include "uapi/linux/sgdma.h"

struct dma_buf;
struct dma_buf_attachment;
struct iommu_domain;
struct iommu_group;
struct mm_struct;
struct sgdma_bounce_user;
struct cred;

/* A device exposed to userspace through /dev/sgdma/<name>. */
struct sgdma_dev {
	struct kref kref;
	struct rcu_head rcu;
	struct device *dev;		/* the exposed device; reference held */
	struct device *node;		/* our class device, NULL once revoked */
	struct cdev *cdev;
	dev_t devt;

	struct rw_semaphore dma_lock;
	/* Set under dma_lock held for writing; sgdma_dev_revoked() without. */
	bool revoked;
	/* A zeroed page files map read-only; revoked set before the above. */
	struct sgdma_status *status;

	spinlock_t regions_lock;	/* protects regions */
	struct list_head regions;	/* mapped regions, for revocation */
	atomic_t nregions;		/* mapped */
	/*
	 * Registrations between reading the DMA configuration and mapping
	 * under it: the configuration may not change meanwhile (-EBUSY).
	 */
	atomic_t inflight;
	atomic64_t pinned_pages;

	/*
	 * The IOMMU domain our mappings live in, seen at expose; NULL when
	 * nothing translates.  Mappings are unmapped only from this domain.
	 */
	struct iommu_group *group;
	struct iommu_domain *domain;

	/*
	 * Exposing sets the DMA parameters only when no driver that maps
	 * memory itself is bound; what the device had is restored on
	 * revocation.
	 */
	bool owns_params;
	u64 saved_dma_mask;
	u64 saved_coherent_mask;
	unsigned int saved_max_seg;
	unsigned long saved_seg_boundary;
	unsigned int saved_min_align;
	bool saved_parms;		/* the device has dma_parms */
};

/*
 * Whether @sd is revoked, without dma_lock: once this is true the status
 * page says so too (sgdma_regions_revoke() writes it first).
 */
static inline bool sgdma_dev_revoked(struct sgdma_dev *sd)
{
	/* Pairs with the release in sgdma_regions_revoke(). */
	return smp_load_acquire(&sd->revoked);
}

/* The device's segment limits a region was built and mapped under. */
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
	struct kref kref;
	u32 handle;			/* its name in the file, once it has one */
	struct rhash_head handle_node;	/* in sgdma_file.handles */
	struct sgdma_dev *sd;		/* reference held */
	struct mm_struct *mm;		/* mmgrab: pinned_vm is charged here */
	/* Whose user's locked_vm is charged (NULL with CAP_IPC_LOCK). */
	const struct cred *cred;
	struct sgdma_bounce_user *bounce; /* bounce bytes charged here */
	u64 bounced;			/* bytes mapped through swiotlb */

	struct mutex lock;		/* mapped, cursor */
	bool mapped;			/* on sd->regions, pages pinned */
	struct list_head dev_node;	/* in sd->regions */

	/*
	 * The pinned pages: one entry per physically contiguous run in
	 * @table (@last its last entry), copied to @split when an entry
	 * crossed the device's segment boundary.  @sgt is the one in use.
	 * A table of one or two runs (most small buffers) is @inline_sg.
	 */
	struct sg_table *sgt;
	struct sg_table table;
	struct scatterlist *last;
	struct scatterlist inline_sg[2];
	struct sg_table split;
	u64 addr;
	u64 length;
	unsigned long npages;
	enum dma_data_direction dir;
	struct sgdma_seg_limits limits;
	u64 nsegs;
	u32 facts;			/* SGDMA_REGION_* of the mapping */
	bool require_contig;		/* SGDMA_REG_REQUIRE_CONTIG */
	struct sgdma_seg_cursor cursor;	/* where the last GET_SEGS stopped */

	/*
	 * A dma-buf region (sgdma_dmabuf.c): the dma-buf (reference held),
	 * the device's attachment and the exporter's mapping of it.  @addr
	 * is then the region's offset in the dma-buf, nothing is pinned
	 * (@npages is 0), and @sgt holds the DMA side of the region's range
	 * only.  NULL for user memory.
	 */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *dmabuf_attach;
	struct sg_table *dmabuf_sgt;

	/*
	 * Staleness: @stale is the region's byte in its file's region status
	 * pages (NULL: not watched), set to SGDMA_REGION_STALE by @notifier
	 * when the kernel changes the mapping of the buffer.  @status_slot is
	 * the byte's number, the file's to give back.
	 */
	u8 *stale;
	u32 status_slot;
#ifdef CONFIG_MMU_NOTIFIER
	struct mmu_interval_notifier notifier;
	spinlock_t stale_lock;		/* @pinning, @collided, notifier seq */
	bool watching;			/* @notifier is inserted */
	bool pinning;			/* until the pinned pages are checked */
	bool collided;			/* invalidated while @pinning */
#endif
};

/* An open /dev/sgdma/<name>. */
struct sgdma_file {
	struct sgdma_dev *sd;		/* reference held */
	struct mm_struct *mm;		/* the opener's (mmgrab) */
	struct rhashtable handles;	/* handle -> region (reference) */
	spinlock_t handles_lock;	/* handles, last_handle */
	u32 last_handle;		/* handles_lock */
	atomic_t nregions;
	struct mutex slots_lock;	/* slot_map, slot_bits */
	unsigned long *slot_map;	/* region status bytes in use */
	unsigned int slot_bits;		/* of slot_map */
	struct xarray status_pages;	/* index -> page of status bytes */
};

extern const struct file_operations sgdma_fops;

/* Module parameters and counters (sgdma_main.c). */
extern u64 sgdma_max_region_bytes;
extern unsigned int sgdma_max_regions_per_file;
extern u64 sgdma_max_bounce_bytes;
extern atomic_t sgdma_total_regions;
extern atomic64_t sgdma_total_pinned_pages;
bool sgdma_driver_is_dma_free(const char *name);
bool sgdma_ids_match(struct device *dev);

/* The registry (sgdma_dev.c). */
int sgdma_registry_init(void);
void sgdma_registry_exit(void);
int sgdma_expose(const char *spec, bool at_load);
int sgdma_unexpose_by_name(const char *spec);
int sgdma_list_exposed(char *buf, size_t size);
struct sgdma_dev *sgdma_dev_get_by_devt(dev_t devt);
void sgdma_dev_put(struct sgdma_dev *sd);
bool sgdma_dev_translated(struct device *dev);
int sgdma_dev_check_iommu(struct sgdma_dev *sd);
bool sgdma_dev_domain_intact(struct sgdma_dev *sd);
void sgdma_dev_flush_iotlb(struct sgdma_dev *sd);

/* Per-device attributes (sgdma_sysfs.c). */
extern struct class sgdma_class;

/* Regions (sgdma_region.c). */
struct sgdma_region *sgdma_region_alloc(struct sgdma_dev *sd, u32 reg_flags);
int sgdma_region_create(struct sgdma_dev *sd, u64 addr, u64 length,
			u32 reg_flags, u8 *stale, struct sgdma_region **out,
			u64 *nsegs);
void sgdma_region_release(struct sgdma_region *r);
void sgdma_region_put(struct sgdma_region *r);
int sgdma_region_copy_segs(struct sgdma_region *r, u64 first, u64 *count,
			   struct sgdma_ioc_seg __user *useg);
int sgdma_region_sync(struct sgdma_region *r, u64 offset, u64 length,
		      bool for_cpu);
void sgdma_regions_revoke(struct sgdma_dev *sd);
int sgdma_region_reserve(struct sgdma_region *r, unsigned int *max_entry);
int sgdma_region_map(struct sgdma_region *r);

/* dma-buf regions (sgdma_dmabuf.c). */
int sgdma_region_create_dmabuf(struct sgdma_dev *sd, int fd, u64 offset,
			       u64 length, u32 reg_flags,
			       struct sgdma_region **out, u64 *nsegs);
int sgdma_dmabuf_map(struct sgdma_region *r);
void sgdma_dmabuf_unmap(struct sgdma_region *r);
void sgdma_dmabuf_release(struct sgdma_region *r);
void sgdma_dmabuf_sync(struct sgdma_region *r, u64 offset, u64 end,
		       bool for_cpu);
u64 sgdma_dmabuf_bounced_bytes(struct sgdma_region *r);
void sgdma_regions_exit(void);

#endif /* SGDMA_INTERNAL_H */
