// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf regions: a range of a dma-buf (udmabuf, a DMA heap, a camera or
 * GPU driver's export) registered for the exposed device, reported,
 * synced and released like a region of user memory.
 *
 * sgdma attaches as a static importer (dma_buf_attach()), which is a pinned
 * one: the exporters userspace can create (udmabuf, the DMA heaps) never
 * move their memory, and the dma-buf core pins a dynamic exporter's buffer
 * for a static importer on the first map, as dma_buf_pin() would.  A
 * dynamic importer would have to give its mapping up whenever the exporter
 * asks (move_notify), which a device that userspace programs with the bus
 * addresses cannot follow.
 *
 * The exporter maps the whole dma-buf for the device.  sgdma uses only the
 * DMA side of that table (an importer must not touch the pages): the
 * region's own table holds the DMA addresses of its range, and segments,
 * syncs and bounce accounting work from the bus addresses alone.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "sgdma_compat.h"
#include "sgdma_internal.h"

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
SGDMA_IMPORT_NS_DMA_BUF;

/*
 * The range must lie in the dma-buf, and the dma-buf's file must allow
 * what the device does: write access to be written, read access to be
 * read (a DMA heap hands out read-only dma-bufs on request).
 */
static int sgdma_dmabuf_check(struct dma_buf *buf, u64 offset, u64 length,
			      enum dma_data_direction dir)
{
	u64 end;

	if (check_add_overflow(offset, length, &end) || end > buf->size)
		return -EINVAL;
	if (dir != DMA_TO_DEVICE && !(buf->file->f_mode & FMODE_WRITE))
		return -EACCES;
	if (dir != DMA_FROM_DEVICE && !(buf->file->f_mode & FMODE_READ))
		return -EACCES;
	return 0;
}

/*
 * The region's table: the DMA side of the exporter's mapping cut to
 * [@r->addr, @r->addr + @r->length).  No pages: nothing may use them.
 */
static int sgdma_dmabuf_table(struct sgdma_region *r)
{
	u64 start = r->addr, end = r->addr + r->length, pos = 0;
	struct scatterlist *sg, *out;
	unsigned int i, n = 0;
	int ret;

	for_each_sgtable_dma_sg(r->dmabuf_sgt, sg, i) {
		if (pos + sg_dma_len(sg) > start && pos < end)
			n++;
		pos += sg_dma_len(sg);
	}
	/* The exporter mapped less than the dma-buf. */
	if (pos < end || !n)
		return -EIO;
	ret = sg_alloc_table(&r->split, n, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;

	out = r->split.sgl;
	pos = 0;
	for_each_sgtable_dma_sg(r->dmabuf_sgt, sg, i) {
		u64 from = max(pos, start);
		u64 to = min(pos + sg_dma_len(sg), end);

		if (from < to) {
			sg_dma_address(out) = sg_dma_address(sg) + (from - pos);
			sg_dma_len(out) = to - from;
			out = sg_next(out);
		}
		pos += sg_dma_len(sg);
	}
	r->sgt = &r->split;
	return 0;
}

/* Under the device's dma_lock (read): the exporter maps it for the device. */
int sgdma_dmabuf_map(struct sgdma_region *r)
{
	struct sg_table *sgt;
	int ret;

	sgt = sgdma_dmabuf_map_attachment(r->dmabuf_attach, r->dir);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	r->dmabuf_sgt = sgt;
	ret = sgdma_dmabuf_table(r);
	if (ret)
		sgdma_dmabuf_unmap(r);
	return ret;
}

/*
 * Under the device's dma_lock: the exporter unmaps (with or without a sync
 * of its own: udmabuf does none, the system heap syncs for the CPU).
 */
void sgdma_dmabuf_unmap(struct sgdma_region *r)
{
	sg_free_table(&r->split);
	memset(&r->split, 0, sizeof(r->split));
	r->sgt = &r->split;
	sgdma_dmabuf_unmap_attachment(r->dmabuf_attach, r->dmabuf_sgt, r->dir);
	r->dmabuf_sgt = NULL;
}

/*
 * Once unmapped, no lock held: detach and drop the dma-buf.  A mapping
 * left in a domain that changed under the region still goes back to the
 * exporter, which must have it before the attachment goes.
 */
void sgdma_dmabuf_release(struct sgdma_region *r)
{
	if (r->dmabuf_sgt)
		sgdma_dmabuf_unmap(r);
	if (r->dmabuf_attach)
		dma_buf_detach(r->dmabuf, r->dmabuf_attach);
	r->dmabuf_attach = NULL;
	if (r->dmabuf)
		dma_buf_put(r->dmabuf);
	r->dmabuf = NULL;
}

/*
 * Sync [@offset, @end) of the region for the CPU or the device, in single
 * ranges inside the exporter's mapped entries (which the DMA API allows
 * and DMA-API debugging checks).  Behind an IOMMU a mapped entry may join
 * pages that are apart in memory while a single-range sync maintains the
 * caches of its first address's memory only: for a device that is not
 * coherent the pieces stop at page boundaries there.
 */
void sgdma_dmabuf_sync(struct sgdma_region *r, u64 offset, u64 end,
		       bool for_cpu)
{
	struct device *dev = r->sd->dev;
	bool per_page = !sgdma_dev_coherent(dev) && sgdma_dev_translated(dev);
	struct scatterlist *sg;
	unsigned int i;
	u64 pos = 0;

	for_each_sgtable_dma_sg(r->sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		u64 from = max(pos, offset);
		u64 to = min(pos + sg_dma_len(sg), end);

		while (from < to) {
			u64 in = from - pos, len = to - from;

			if (per_page)
				len = min_t(u64, len,
					    PAGE_SIZE - offset_in_page(addr + in));
			if (for_cpu)
				dma_sync_single_range_for_cpu(dev, addr, in, len,
							      r->dir);
			else
				dma_sync_single_range_for_device(dev, addr, in,
								 len, r->dir);
			from += len;
			cond_resched();
		}
		pos += sg_dma_len(sg);
		if (pos >= end)
			break;
	}
}

/*
 * Bytes of the exporter's whole mapping that go through swiotlb, which it
 * holds until unmapped.  Behind an IOMMU none: dma-iommu bounces only
 * parts of pages, and a dma-buf is mapped in whole pages.  Without one,
 * for a coherent device, an entry needs a sync exactly when it is bounced.
 * A device that is neither needs syncs anyway; whether swiotlb is used
 * for it cannot be told from the bus addresses, and is not reported.
 */
u64 sgdma_dmabuf_bounced_bytes(struct sgdma_region *r)
{
	struct device *dev = r->sd->dev;
	struct scatterlist *sg;
	unsigned int i;
	u64 bytes = 0;

	if (sgdma_dev_translated(dev) || !sgdma_dev_coherent(dev))
		return 0;
	for_each_sgtable_dma_sg(r->dmabuf_sgt, sg, i)
		if (dma_need_sync(dev, sg_dma_address(sg)))
			bytes += sg_dma_len(sg);
	return bytes;
}

/*
 * Register [@offset, @offset + @length) of the dma-buf behind @fd for
 * @sd's device.  As sgdma_region_create(): *@nsegs is set when
 * SGDMA_REG_REQUIRE_CONTIG fails with -E2BIG.
 */
int sgdma_region_create_dmabuf(struct sgdma_dev *sd, int fd, u64 offset,
			       u64 length, u32 reg_flags,
			       struct sgdma_region **out, u64 *nsegs)
{
	struct dma_buf_attachment *attach;
	unsigned int max_entry;
	struct sgdma_region *r;
	struct dma_buf *buf;
	int ret;

	*nsegs = 0;
	if (!length)
		return -EINVAL;
	if (length > sgdma_max_region_bytes)
		return -E2BIG;
	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	/* Nothing to pin or charge: the exporter holds the memory. */
	r = sgdma_region_alloc(sd, reg_flags);
	if (!r) {
		dma_buf_put(buf);
		return -ENOMEM;
	}
	r->sgt = &r->split;
	r->dmabuf = buf;
	r->addr = offset;
	r->length = length;

	ret = sgdma_dmabuf_check(buf, offset, length, r->dir);
	if (ret)
		goto err_release;
	ret = sgdma_region_reserve(r, &max_entry);
	if (ret)
		goto err_release;
	attach = dma_buf_attach(buf, sd->dev);
	if (IS_ERR(attach)) {
		atomic_dec(&sd->inflight);
		ret = PTR_ERR(attach);
		goto err_release;
	}
	r->dmabuf_attach = attach;
	ret = sgdma_region_map(r);
	if (ret) {
		if (ret == -E2BIG)
			*nsegs = r->nsegs;
		goto err_release;
	}
	*out = r;
	return 0;

err_release:
	sgdma_dmabuf_release(r);
	sgdma_region_put(r);
	return ret;
}
#else
int sgdma_region_create_dmabuf(struct sgdma_dev *sd, int fd, u64 offset,
			       u64 length, u32 reg_flags,
			       struct sgdma_region **out, u64 *nsegs)
{
	*nsegs = 0;
	return -EOPNOTSUPP;
}

int sgdma_dmabuf_map(struct sgdma_region *r)
{
	return -EOPNOTSUPP;
}

void sgdma_dmabuf_unmap(struct sgdma_region *r)
{
}

void sgdma_dmabuf_release(struct sgdma_region *r)
{
}

void sgdma_dmabuf_sync(struct sgdma_region *r, u64 offset, u64 end,
		       bool for_cpu)
{
}

u64 sgdma_dmabuf_bounced_bytes(struct sgdma_region *r)
{
	return 0;
}
#endif
