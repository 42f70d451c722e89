// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: pin a user buffer, build a coalesced scatterlist, DMA-map it, and
 * report the mapped segments within the device's limits.
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sgdma_internal.h"

/* One page of page pointers: the pinning batch, never more. */
#define SGDMA_PIN_BATCH (PAGE_SIZE / sizeof(struct page *))

static bool sgdma_region_device_writes(const struct sgdma_region *r)
{
	return r->dir == DMA_FROM_DEVICE || r->dir == DMA_BIDIRECTIONAL;
}

static enum dma_data_direction sgdma_dir_from_flags(u32 dir_flags)
{
	switch (dir_flags & SGDMA_REG_DIR_MASK) {
	case SGDMA_REG_TO_DEVICE:
		return DMA_TO_DEVICE;
	case SGDMA_REG_FROM_DEVICE:
		return DMA_FROM_DEVICE;
	default:
		return DMA_BIDIRECTIONAL;
	}
}

/*
 * The largest scatterlist entry we build: the device's segment limit, and
 * the most one mapping may take (swiotlb bounces at most 256 KiB at once).
 */
static unsigned int sgdma_sg_max_segment(struct device *dev)
{
	u64 max = min_t(u64, dma_get_max_seg_size(dev),
			dma_max_mapping_size(dev));

	max = min_t(u64, max, UINT_MAX);
	return max_t(unsigned int, round_down(max, PAGE_SIZE), PAGE_SIZE);
}

static void sgdma_charge_undo(struct sgdma_file *f, unsigned long npages)
{
	atomic64_sub(npages, &f->mm->pinned_vm);
}

/* Pinned pages count against RLIMIT_MEMLOCK, as RDMA and VFIO do. */
static int sgdma_charge(struct sgdma_file *f, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 pinned = atomic64_add_return(npages, &f->mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		sgdma_charge_undo(f, npages);
		return -ENOMEM;
	}
	return 0;
}

static void sgdma_unpin(struct sg_table *sgt, bool dirty)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		unsigned long npages = DIV_ROUND_UP(sg->offset + sg->length,
						    PAGE_SIZE);

		unpin_user_page_range_dirty_lock(sg_page(sg), npages, dirty);
	}
}

/* Pin the pages under [addr, addr + npages pages) into r->sgt_append. */
static int sgdma_pin(struct sgdma_region *r, unsigned long start,
		     unsigned int max_segment)
{
	unsigned int gup_flags = FOLL_LONGTERM;
	unsigned long left = r->npages;
	struct page **pages;
	int ret = 0;

	if (sgdma_region_device_writes(r))
		gup_flags |= FOLL_WRITE;

	pages = (struct page **)__get_free_page(GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	while (left) {
		int pinned;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		pinned = pin_user_pages_fast(start,
					     min_t(unsigned long, left,
						   SGDMA_PIN_BATCH),
					     gup_flags, pages);
		if (pinned <= 0) {
			ret = pinned ?: -EFAULT;
			break;
		}
		left -= pinned;
		start += (unsigned long)pinned << PAGE_SHIFT;
		ret = sg_alloc_append_table_from_pages(&r->sgt_append, pages,
						       pinned, 0,
						       pinned * PAGE_SIZE,
						       max_segment, left,
						       GFP_KERNEL);
		if (ret) {
			unpin_user_pages(pages, pinned);
			break;
		}
		cond_resched();
	}
	free_page((unsigned long)pages);
	return ret;
}

/* Trim the first and last entries so the table covers exactly the buffer. */
static void sgdma_trim(struct sgdma_region *r)
{
	struct scatterlist *first = r->sgt_append.sgt.sgl;
	struct scatterlist *last = r->sgt_append.prv;
	unsigned int head = offset_in_page(r->addr);
	unsigned int tail = PAGE_ALIGN(r->addr + r->length) -
			    (r->addr + r->length);

	first->offset += head;
	first->length -= head;
	last->length -= tail;
}

static void sgdma_cursor_reset(struct sgdma_region *r)
{
	struct sgdma_seg_cursor *c = &r->cursor;

	c->sg = r->sgt_append.sgt.sgl;
	c->left = r->sgt_append.sgt.nents;
	c->sg_off = 0;
	c->buf_off = 0;
	c->index = 0;
}

/* The longest segment that may start at @addr. */
static u64 sgdma_seg_room(const struct sgdma_seg_limits *limits, u64 addr)
{
	u64 mask = limits->boundary_mask;

	if (mask == U64_MAX)
		return limits->max_len;
	return min(limits->max_len, (addr | mask) - addr + 1);
}

/*
 * The next reported segment: mapped entries joined while they follow each
 * other on the bus (swiotlb hands out neighbouring slots, an IOMMU merges on
 * its own), cut at the device's max segment length and before a boundary.
 * Without an IOMMU a physically contiguous run may cross a boundary: the
 * DMA layer does not cut it, so this does.
 */
static void sgdma_cursor_next(struct sgdma_region *r, struct sgdma_ioc_seg *seg)
{
	struct sgdma_seg_cursor *c = &r->cursor;
	u64 addr = sg_dma_address(c->sg) + c->sg_off;
	u64 room = sgdma_seg_room(&r->limits, addr);
	u64 len = 0;

	for (;;) {
		u64 take = min(sg_dma_len(c->sg) - c->sg_off, room - len);

		len += take;
		c->sg_off += take;
		if (c->sg_off < sg_dma_len(c->sg))
			break;
		c->sg = sg_next(c->sg);
		c->left--;
		c->sg_off = 0;
		if (!c->left || len == room ||
		    sg_dma_address(c->sg) != addr + len)
			break;
	}

	seg->addr = addr;
	seg->len = len;
	seg->offset = c->buf_off;
	c->buf_off += len;
	c->index++;
}

static u64 sgdma_count_segs(struct sgdma_region *r)
{
	struct sgdma_ioc_seg seg;
	u64 nsegs;

	sgdma_cursor_reset(r);
	while (r->cursor.left)
		sgdma_cursor_next(r, &seg);
	nsegs = r->cursor.index;
	sgdma_cursor_reset(r);
	return nsegs;
}

static void sgdma_stats_add(struct sgdma_dev *sd, long regions, long pages)
{
	atomic_add(regions, &sd->nregions);
	atomic64_add(pages, &sd->pinned_pages);
	atomic_add(regions, &sgdma_total_regions);
	atomic64_add(pages, &sgdma_total_pinned_pages);
}

int sgdma_region_create(struct sgdma_file *f, u64 addr, u64 length,
			u32 dir_flags, struct sgdma_region **out)
{
	struct device *dev = f->sd->dev;
	struct sgdma_region *r;
	u64 end;
	int ret;

	if (!length || check_add_overflow(addr, length, &end) ||
	    end > U64_MAX - PAGE_SIZE)
		return -EINVAL;
	if (length > sgdma_max_region_bytes)
		return -E2BIG;
	if (!access_ok(u64_to_user_ptr(addr), length))
		return -EFAULT;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->addr = addr;
	r->length = length;
	r->npages = (PAGE_ALIGN(end) - (addr & PAGE_MASK)) >> PAGE_SHIFT;
	r->dir = sgdma_dir_from_flags(dir_flags);

	ret = sgdma_charge(f, r->npages);
	if (ret)
		goto err_free;

	down_read(&f->sd->dma_config);
	r->limits.max_len = max_t(u64, dma_get_max_seg_size(dev), 1);
	r->limits.boundary_mask = dma_get_seg_boundary(dev);

	ret = sgdma_pin(r, addr & PAGE_MASK, sgdma_sg_max_segment(dev));
	if (ret)
		goto err_unpin;
	sgdma_trim(r);

	/* Userspace hears about a failure; it must not fill the kernel log. */
	ret = dma_map_sgtable(dev, &r->sgt_append.sgt, r->dir,
			      DMA_ATTR_NO_WARN);
	if (ret) {
		dev_dbg(dev, "sgdma: mapping %llu bytes failed: %d\n",
			length, ret);
		ret = -EIO;
		goto err_unpin;
	}

	r->nsegs = sgdma_count_segs(r);
	sgdma_stats_add(f->sd, 1, r->npages);
	up_read(&f->sd->dma_config);
	*out = r;
	return 0;

err_unpin:
	/* Pages pinned so far are all in the table; nothing was dirtied. */
	sgdma_unpin(&r->sgt_append.sgt, false);
	sg_free_append_table(&r->sgt_append);
	up_read(&f->sd->dma_config);
	sgdma_charge_undo(f, r->npages);
err_free:
	kfree(r);
	return ret;
}

void sgdma_region_destroy(struct sgdma_file *f, struct sgdma_region *r)
{
	struct sg_table *sgt = &r->sgt_append.sgt;

	dma_unmap_sgtable(f->sd->dev, sgt, r->dir, 0);
	sgdma_unpin(sgt, sgdma_region_device_writes(r));
	sg_free_append_table(&r->sgt_append);
	sgdma_charge_undo(f, r->npages);
	sgdma_stats_add(f->sd, -1, -(long)r->npages);
	kfree(r);
}

/* Segments go out in small chunks: no allocation sized by the caller. */
#define SGDMA_SEG_CHUNK 16

int sgdma_region_copy_segs(struct sgdma_region *r, u64 first, u64 *count,
			   struct sgdma_ioc_seg __user *useg)
{
	struct sgdma_ioc_seg chunk[SGDMA_SEG_CHUNK];
	u64 todo, done = 0;

	if (first >= r->nsegs || !*count)
		return -EINVAL;
	todo = min(*count, r->nsegs - first);

	/* Paging forward resumes where the last call stopped. */
	if (first < r->cursor.index)
		sgdma_cursor_reset(r);
	while (r->cursor.index < first) {
		struct sgdma_ioc_seg skip;

		sgdma_cursor_next(r, &skip);
	}

	while (done < todo) {
		unsigned int i, n = min_t(u64, todo - done, SGDMA_SEG_CHUNK);

		for (i = 0; i < n; i++)
			sgdma_cursor_next(r, &chunk[i]);
		if (copy_to_user(useg + done, chunk, n * sizeof(chunk[0])))
			return -EFAULT;
		done += n;
		cond_resched();
	}
	*count = done;
	return 0;
}

/*
 * Sync exactly [offset, offset + length): the mapped segments hold the
 * buffer in order, so the range is a run of byte ranges of them.  Synced as
 * single ranges (which the DMA API allows inside any mapping) rather than as
 * a sub-list of the scatterlist, which DMA-API debugging rejects and which
 * would sync whole entries.
 */
int sgdma_region_sync(struct sgdma_dev *sd, struct sgdma_region *r,
		      u64 offset, u64 length, bool for_cpu)
{
	struct scatterlist *sg;
	u64 end, pos = 0;
	unsigned int i;

	if (!length || check_add_overflow(offset, length, &end) ||
	    end > r->length)
		return -EINVAL;

	for_each_sgtable_dma_sg(&r->sgt_append.sgt, sg, i) {
		u64 next = pos + sg_dma_len(sg);

		if (next > offset) {
			u64 from = max(offset, pos) - pos;
			u64 len = min(end, next) - pos - from;

			if (for_cpu)
				dma_sync_single_range_for_cpu(sd->dev,
							      sg_dma_address(sg),
							      from, len, r->dir);
			else
				dma_sync_single_range_for_device(sd->dev,
								 sg_dma_address(sg),
								 from, len, r->dir);
		}
		if (next >= end)
			break;
		pos = next;
	}
	return 0;
}
