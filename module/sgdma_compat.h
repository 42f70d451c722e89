/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API differences between the kernels sgdma supports, in one
 * place: each shim behaves the same on every kernel.
 */
#ifndef SGDMA_COMPAT_H
#define SGDMA_COMPAT_H

#include <linux/backing-dev.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include <linux/version.h>

/* struct class.devnode takes a const device since 6.2. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define SGDMA_DEVNODE_CONST const
#else
#define SGDMA_DEVNODE_CONST
#endif

/* The bus API takes const struct bus_type since 6.4. */
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
#define SGDMA_BUS_CONST const
#else
#define SGDMA_BUS_CONST
#endif

/*
 * Whether the device's DMA is cache-coherent with the CPUs, as the firmware
 * said (dma-coherent in the device tree, _CCA in ACPI); always on x86.
 * dma-map-ops.h has it as an inline function on every kernel from 5.10 on
 * (on 7.3 over dev_dma_coherent()), so no export is needed.
 */
static inline bool sgdma_dev_coherent(struct device *dev)
{
	return dev_is_dma_coherent(dev);
}

/*
 * A device in a translating DMA-API domain maps through dma-iommu, whose
 * syncs maintain the caches of non-coherent devices and copy bounce
 * buffers, and do nothing else (5.10's intel-iommu has ops of its own,
 * without any sync for trusted devices).  dma_need_sync() does not know
 * that before 6.11: it answers true for every dma-iommu mapping.
 */
#define SGDMA_IOMMU_SYNCS_ONLY_CACHES_AND_BOUNCES IS_ENABLED(CONFIG_IOMMU_DMA)

/*
 * From 6.11 the device knows whether any of its mappings can need a sync:
 * none while it is coherent and swiotlb never bounced for it (its first
 * bounce clears the device's flag, inside the mapping call).  Before, only
 * each mapping knows.
 */
static inline bool sgdma_dev_may_need_sync(struct device *dev)
{
#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
	return dma_dev_need_sync(dev);
#else
	return true;
#endif
}

/* vm_flags is written through helpers from 6.3 on. */
static inline void sgdma_vm_flags_mod(struct vm_area_struct *vma,
				      vm_flags_t set, vm_flags_t clear)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

static inline unsigned int sgdma_get_min_align(struct device *dev)
{
	return dma_get_min_align_mask(dev);
}

static inline void sgdma_set_min_align(struct device *dev, unsigned int mask)
{
	dma_set_min_align_mask(dev, mask);
}

/*
 * Bounce buffers that keep the buffer's offset in the page (min_align_mask)
 * sync a range starting in the second or a later swiotlb slot correctly
 * only from 6.9 on: before, swiotlb takes such a range for one before the
 * mapping, warns and syncs nothing.  Older kernels bounce at slot starts.
 */
#if KERNEL_VERSION(6, 9, 0) <= LINUX_VERSION_CODE
#define SGDMA_BOUNCE_KEEPS_PAGE_OFFSET true
#else
#define SGDMA_BOUNCE_KEEPS_PAGE_OFFSET false
#endif

/* The kernel's own DMA-API domain (translating or identity), no one else's. */
static inline bool sgdma_domain_is_kernel_managed(struct iommu_domain *domain)
{
	return (domain->type & __IOMMU_DOMAIN_DMA_API) ||
	       domain->type == IOMMU_DOMAIN_IDENTITY;
}

/*
 * Unmapping may defer the IOTLB invalidation to a flush queue.  Before
 * 5.15 that was a property of the domain the type does not show: flush
 * every translating DMA-API domain.
 */
static inline bool sgdma_domain_is_lazy(struct iommu_domain *domain)
{
#if KERNEL_VERSION(5, 15, 0) <= LINUX_VERSION_CODE
	return domain->type == IOMMU_DOMAIN_DMA_FQ;
#else
	return domain->type == IOMMU_DOMAIN_DMA;
#endif
}

/*
 * A driver that hands the device's DMA to userspace (vfio-pci) and puts
 * its IOMMU group in a domain of its own.  Before 5.19 drivers did not say
 * so: know them by name.
 */
static inline bool sgdma_driver_manages_dma(struct device *dev)
{
#if KERNEL_VERSION(5, 19, 0) <= LINUX_VERSION_CODE
	if (dev_is_pci(dev))
		return to_pci_driver(dev->driver)->driver_managed_dma;
	if (dev_is_platform(dev))
		return to_platform_driver(dev->driver)->driver_managed_dma;
	return false;
#else
	static const char *const names[] = { "vfio-pci", "vfio-platform" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(dev->driver->name, names[i]))
			return true;
	return false;
#endif
}

/* Unpin @npages pages from @page on (unpin_user_page_range_dirty_lock). */
static inline void sgdma_unpin_range(struct page *page, unsigned long npages,
				     bool dirty)
{
#if KERNEL_VERSION(5, 12, 0) <= LINUX_VERSION_CODE
	unpin_user_page_range_dirty_lock(page, npages, dirty);
#else
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *p = nth_page(page, i);

		unpin_user_pages_dirty_lock(&p, 1, dirty);
	}
#endif
}

/*
 * From 6.5 on, long-term write pins of shared mappings of files whose
 * filesystem tracks dirty pages are refused by the kernel itself; before,
 * sgdma refuses them (sgdma_region.c).  From 6.2 on, a read pin of private
 * anonymous memory unshares what a later write would replace.
 */
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
#define SGDMA_GUP_REFUSES_UNTRACKED_WRITES true
#else
#define SGDMA_GUP_REFUSES_UNTRACKED_WRITES false
#endif
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define SGDMA_GUP_UNSHARES_ANON true
#else
#define SGDMA_GUP_UNSHARES_ANON false
#endif

static inline struct vm_area_struct *sgdma_vma_lookup(struct mm_struct *mm,
						      unsigned long addr)
{
#if KERNEL_VERSION(5, 14, 0) <= LINUX_VERSION_CODE
	return vma_lookup(mm, addr);
#else
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
#endif
}

/* pin_user_pages() with mmap_lock held; 6.5 dropped the vmas argument. */
static inline long sgdma_pin_user_pages_locked(unsigned long start,
					       unsigned long nr_pages,
					       unsigned int gup_flags,
					       struct page **pages)
{
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#endif
}

/*
 * dma-buf's symbols are in the DMA_BUF namespace from 5.16 on, which
 * modules name by an identifier until 6.12 and by a string from 6.13 on.
 */
#if KERNEL_VERSION(6, 13, 0) <= LINUX_VERSION_CODE
#define SGDMA_IMPORT_NS_DMA_BUF MODULE_IMPORT_NS("DMA_BUF")
#elif KERNEL_VERSION(5, 16, 0) <= LINUX_VERSION_CODE
#define SGDMA_IMPORT_NS_DMA_BUF MODULE_IMPORT_NS(DMA_BUF)
#else
#define SGDMA_IMPORT_NS_DMA_BUF static_assert(true)
#endif

/*
 * Mapping a dma-buf attachment.  From 6.2 on dma_buf_map_attachment()
 * wants the buffer's reservation lock held, and the _unlocked variants
 * take it.  Before, only a dynamic exporter wanted it held; the others
 * are called without it (some take it themselves).
 */
static inline struct sg_table *
sgdma_dmabuf_map_attachment(struct dma_buf_attachment *attach,
			    enum dma_data_direction dir)
{
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
	return dma_buf_map_attachment_unlocked(attach, dir);
#else
	struct dma_buf *buf = attach->dmabuf;
	struct sg_table *sgt;

	if (!dma_buf_is_dynamic(buf))
		return dma_buf_map_attachment(attach, dir);
	dma_resv_lock(buf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, dir);
	dma_resv_unlock(buf->resv);
	return sgt;
#endif
}

static inline void
sgdma_dmabuf_unmap_attachment(struct dma_buf_attachment *attach,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
	dma_buf_unmap_attachment_unlocked(attach, sgt, dir);
#else
	struct dma_buf *buf = attach->dmabuf;

	if (!dma_buf_is_dynamic(buf)) {
		dma_buf_unmap_attachment(attach, sgt, dir);
		return;
	}
	dma_resv_lock(buf->resv, NULL);
	dma_buf_unmap_attachment(attach, sgt, dir);
	dma_resv_unlock(buf->resv);
#endif
}

#endif /* SGDMA_COMPAT_H */
