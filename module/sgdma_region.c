// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: pin a user buffer, build a coalesced scatterlist, DMA-map it,
 * report the mapped segments within the device's limits, sync byte ranges,
 * and release it all again on unregister, close or revocation, whichever
 * comes first.  A region owns what its release needs (its device, mm and
 * user), so nothing here knows the file that registered it.
 */
#include <linux/backing-dev.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/cred.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sgdma_compat.h"
#include "sgdma_internal.h"

/* One page of page pointers. */
#define SGDMA_PIN_BATCH (PAGE_SIZE / sizeof(struct page *))

/* The pinning batch: 64 KiB of page pointers, 32 MiB of 4 KiB pages. */
#define SGDMA_PIN_BATCH_MAX (16 * SGDMA_PIN_BATCH)
/*
 * A registration of at most this many pages pins into arrays on the stack,
 * and runs start there too: a small buffer allocates no page or run array
 * (two allocations and three frees that were the largest share of a 4 KiB
 * registration's allocation time).
 */
#define SGDMA_PIN_ONSTACK 8

/* Segments computed per lock hold before they are copied out. */
#define SGDMA_SEG_CHUNK 16

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

/* ----------------------------------------------------------------------- */
/* Accounting                                                               */

/*
 * Pinned pages count against RLIMIT_MEMLOCK of the registering user, as
 * iommufd and io_uring count them: the charge stays with the pages, not the
 * process, so neither execve, a fork chain nor passing the file on lets a
 * user pin more.  The registering mm's pinned_vm shows them (VmPin).
 */
static int sgdma_charge(struct sgdma_region *r)
{
	long limit, cur, new;

	atomic64_add(r->npages, &r->mm->pinned_vm);
	if (capable(CAP_IPC_LOCK))
		return 0;

	limit = min_t(unsigned long, rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT,
		      LONG_MAX);
	/* The credentials keep the user alive (free_uid() is not exported on every kernel). */
	r->cred = get_current_cred();
	cur = atomic_long_read(&r->cred->user->locked_vm);
	do {
		if (check_add_overflow(cur, (long)r->npages, &new) ||
		    new > limit) {
			put_cred(r->cred);
			r->cred = NULL;
			atomic64_sub(r->npages, &r->mm->pinned_vm);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&r->cred->user->locked_vm, &cur, new));
	return 0;
}

static void sgdma_uncharge(struct sgdma_region *r)
{
	atomic64_sub(r->npages, &r->mm->pinned_vm);
	if (r->cred) {
		atomic_long_sub(r->npages, &r->cred->user->locked_vm);
		put_cred(r->cred);
		r->cred = NULL;
	}
}

/*
 * swiotlb's pool is shared by every device of the machine: a user may hold
 * at most max_bounce_bytes of it through sgdma.
 */
struct sgdma_bounce_user {
	atomic64_t bytes;
};

static DEFINE_XARRAY(sgdma_bounce_users);	/* uid -> sgdma_bounce_user */

static struct sgdma_bounce_user *sgdma_bounce_user(kuid_t uid)
{
	unsigned long key = __kuid_val(uid);
	struct sgdma_bounce_user *bu, *old;

	bu = xa_load(&sgdma_bounce_users, key);
	if (bu)
		return bu;
	bu = kzalloc(sizeof(*bu), GFP_KERNEL_ACCOUNT);
	if (!bu)
		return NULL;
	old = xa_cmpxchg(&sgdma_bounce_users, key, NULL, bu, GFP_KERNEL);
	if (old) {
		kfree(bu);
		return xa_is_err(old) ? NULL : old;
	}
	return bu;
}

/*
 * Bytes of the mapping that went through bounce buffers: the mapped
 * entries whose first byte the device does not reach in the buffer's own
 * memory.  Without an IOMMU a bus address is the memory's unless swiotlb
 * moved it; behind one, the IOVA translates to the memory's address
 * unless dma-iommu bounced the entry (an untrusted device, or from 6.5 on
 * a part of a cache line for a device that is not coherent).  No kernel
 * keeps a bounced entry merged with another, so the first byte tells.
 */
static u64 sgdma_bounced_bytes(struct sgdma_region *r)
{
	struct device *dev = r->sd->dev;
	struct iommu_domain *domain =
		sgdma_dev_translated(dev) ? r->sd->domain : NULL;
	struct scatterlist *cpu = r->sgt->sgl, *dma;
	u64 cpu_start = 0, dma_start = 0, bytes = 0;
	unsigned int i;

	/* swiotlb never bounced for the device: no walk over every entry. */
	if (!sgdma_dev_may_need_sync(dev))
		return 0;
	for_each_sgtable_dma_sg(r->sgt, dma, i) {
		phys_addr_t phys;

		while (cpu_start + cpu->length <= dma_start) {
			cpu_start += cpu->length;
			cpu = sg_next(cpu);
		}
		phys = sg_phys(cpu) + (dma_start - cpu_start);
		if (domain ? iommu_iova_to_phys(domain, sg_dma_address(dma)) != phys :
			     sg_dma_address(dma) != phys_to_dma(dev, phys))
			bytes += sg_dma_len(dma);
		dma_start += sg_dma_len(dma);
		if (i % 1024 == 1023)
			cond_resched();
	}
	return bytes;
}

static int sgdma_bounce_charge(struct sgdma_region *r)
{
	u64 bytes = r->dmabuf ? sgdma_dmabuf_bounced_bytes(r) :
				sgdma_bounced_bytes(r);
	struct sgdma_bounce_user *bu;

	if (!bytes)
		return 0;
	bu = sgdma_bounce_user(current_uid());
	if (!bu)
		return -ENOMEM;
	if (atomic64_add_return(bytes, &bu->bytes) > sgdma_max_bounce_bytes) {
		atomic64_sub(bytes, &bu->bytes);
		return -EIO;
	}
	r->bounce = bu;
	r->bounced = bytes;
	return 0;
}

static void sgdma_bounce_uncharge(struct sgdma_region *r)
{
	if (r->bounce)
		atomic64_sub(r->bounced, &r->bounce->bytes);
	r->bounce = NULL;
}

void sgdma_regions_exit(void)
{
	struct sgdma_bounce_user *bu;
	unsigned long uid;

	xa_for_each(&sgdma_bounce_users, uid, bu)
		kfree(bu);
	xa_destroy(&sgdma_bounce_users);
}

/* Regions count while mapped, pages while pinned. */
static void sgdma_stats_add(struct sgdma_dev *sd, int regions, long pages)
{
	atomic_add(regions, &sd->nregions);
	atomic64_add(pages, &sd->pinned_pages);
	atomic_add(regions, &sgdma_total_regions);
	atomic64_add(pages, &sgdma_total_pinned_pages);
}

/* ----------------------------------------------------------------------- */
/* Pinning                                                                  */

static void sgdma_unpin(struct sg_table *sgt, bool dirty)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		unsigned long npages = DIV_ROUND_UP(sg->offset + sg->length,
						    PAGE_SIZE);

		sgdma_unpin_range(sg_page(sg), npages, dirty);
		cond_resched();
	}
}

/* What 6.5's vma_needs_dirty_tracking() refuses long-term write pins of. */
static bool sgdma_vma_tracks_writes(struct vm_area_struct *vma)
{
	if ((vma->vm_flags & (VM_SHARED | VM_WRITE)) != (VM_SHARED | VM_WRITE))
		return false;
	if (vma->vm_ops &&
	    (vma->vm_ops->page_mkwrite || vma->vm_ops->pfn_mkwrite))
		return true;
	return vma->vm_file && mapping_can_writeback(vma->vm_file->f_mapping);
}

/*
 * A read pin of a private (copy-on-write) mapping must hold the page that a
 * later CPU write keeps, or the device reads stale data.  sgdma breaks the
 * sharing itself (FOLL_FORCE | FOLL_WRITE, as RDMA did) where the kernel
 * does not do it right: before 6.2 for any private mapping (the kernel pins
 * the shared zero page or a page-cache page), and for private mappings of
 * files on every kernel (up to 7.3 at least, unsharing a huge page of one,
 * a memfd's after MADV_COLLAPSE, never finishes: the pin loops forever).
 */
static bool sgdma_read_pin_breaks_cow(struct vm_area_struct *vma)
{
	if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) != VM_MAYWRITE)
		return false;
	return !SGDMA_GUP_UNSHARES_ANON || vma->vm_file;
}

/*
 * A write pin of a few pages where the kernel does not check the VMA
 * itself: looking the VMA up under mmap_lock would cost more than the
 * pages, so pin first and keep the pins if every page is anonymous (only
 * private mappings have anonymous pages, and they track no writes).
 * Returns the pages pinned, or 0 when the VMA must decide.
 */
static long sgdma_pin_anon_pages(unsigned long start, unsigned long nr,
				 unsigned int gup_flags, struct page **pages)
{
	long i, pinned = pin_user_pages_fast(start, nr, gup_flags, pages);

	for (i = 0; i < pinned; i++) {
		if (!PageAnon(pages[i])) {
			unpin_user_pages(pages, pinned);
			return 0;
		}
	}
	return max(pinned, 0L);
}

/*
 * Pin up to @nr pages from @start, stopping at the end of a VMA where its
 * kind decides how.  Returns the pages pinned or a negative errno.
 */
static long sgdma_pin_batch(unsigned long start, unsigned long nr, bool write,
			    struct page **pages)
{
	unsigned int gup_flags = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long ret;

	if (write && SGDMA_GUP_REFUSES_UNTRACKED_WRITES)
		return pin_user_pages_fast(start, nr, gup_flags, pages);
	if (write && nr <= SGDMA_PIN_ONSTACK) {
		ret = sgdma_pin_anon_pages(start, nr, gup_flags, pages);
		if (ret)
			return ret;
	}

	mmap_read_lock(mm);
	vma = sgdma_vma_lookup(mm, start);
	if (!vma) {
		ret = -EFAULT;
		goto out;
	}
	nr = min(nr, (vma->vm_end - start) >> PAGE_SHIFT);
	if (write ? sgdma_vma_tracks_writes(vma) :
		    sgdma_read_pin_breaks_cow(vma) && !(vma->vm_flags & VM_READ)) {
		/* FOLL_FORCE would also open a PROT_NONE mapping. */
		ret = -EFAULT;
		goto out;
	}
	if (write || !sgdma_read_pin_breaks_cow(vma)) {
		mmap_read_unlock(mm);
		return pin_user_pages_fast(start, nr, gup_flags, pages);
	}
	/* Under the lock the VMA was checked with. */
	ret = sgdma_pin_user_pages_locked(start, nr,
					  gup_flags | FOLL_WRITE | FOLL_FORCE,
					  pages);
out:
	mmap_read_unlock(mm);
	return ret;
}

/*
 * A physically contiguous run of pinned pages, one scatterlist entry.  GUP
 * hands out no P2PDMA pages without FOLL_PCI_P2PDMA, so contiguous page
 * frames are all it takes to join pages, whatever their folios.
 */
struct sgdma_run {
	unsigned long pfn;
	unsigned long npages;
};

/* The runs of a buffer while it is pinned: O(segments), not O(pages). */
struct sgdma_runs {
	struct sgdma_run *run;
	unsigned long n;
	unsigned long cap;
	unsigned long max_pages;	/* the longest run, in pages */
	struct sgdma_run onstack[SGDMA_PIN_ONSTACK];
};

static void sgdma_runs_free(struct sgdma_runs *rs)
{
	if (rs->run != rs->onstack)
		kvfree(rs->run);
}

static int sgdma_runs_grow(struct sgdma_runs *rs)
{
	unsigned long cap = max(rs->cap * 2, PAGE_SIZE / sizeof(*rs->run));
	struct sgdma_run *run;

	run = kvmalloc_array(cap, sizeof(*run), GFP_KERNEL_ACCOUNT);
	if (!run)
		return -ENOMEM;
	if (rs->n)
		memcpy(run, rs->run, rs->n * sizeof(*run));
	sgdma_runs_free(rs);
	rs->run = run;
	rs->cap = cap;
	return 0;
}

/*
 * How many of @pages[0..@n) are the page frames from @pages[0] on, in
 * order (at least 1).  Every page is compared, a folio's too: the pages of
 * a folio mapped by page table entries need not be mapped in order.
 */
static unsigned long sgdma_contig_pages(struct page **pages, unsigned long n)
{
#if defined(CONFIG_SPARSEMEM_VMEMMAP) || defined(CONFIG_FLATMEM)
	/*
	 * Consecutive frames have consecutive struct pages.  Eight at a time
	 * and one branch for them: a huge folio has hundreds.
	 */
	struct page *first = pages[0];
	unsigned long i = 1;

	/* Scattered pages: one compare each. */
	if (n == 1 || pages[1] != first + 1)
		return 1;
	while (i + 8 <= n) {
		const unsigned long *p = (const unsigned long *)(pages + i);
		unsigned long w = (unsigned long)(first + i), s = sizeof(*first);

		if ((p[0] ^ w) | (p[1] ^ (w + s)) | (p[2] ^ (w + 2 * s)) |
		    (p[3] ^ (w + 3 * s)) | (p[4] ^ (w + 4 * s)) |
		    (p[5] ^ (w + 5 * s)) | (p[6] ^ (w + 6 * s)) |
		    (p[7] ^ (w + 7 * s)))
			break;
		i += 8;
	}
	while (i < n && pages[i] == first + i)
		i++;
	return i;
#else
	unsigned long pfn = page_to_pfn(pages[0]), i;

	for (i = 1; i < n; i++)
		if (page_to_pfn(pages[i]) != pfn + i)
			break;
	return i;
#endif
}

/*
 * Add @n pinned pages to the runs.  On failure the pages from *@done on
 * are the caller's to unpin.
 */
static int sgdma_runs_add(struct sgdma_runs *rs, struct page **pages,
			  unsigned long n, unsigned long *done)
{
	unsigned long i = 0;

	while (i < n) {
		unsigned long pfn = page_to_pfn(pages[i]);
		struct sgdma_run *last = rs->n ? &rs->run[rs->n - 1] : NULL;
		unsigned long len;

		if (!last || pfn != last->pfn + last->npages ||
		    last->npages == rs->max_pages) {
			if (rs->n == rs->cap && sgdma_runs_grow(rs)) {
				*done = i;
				return -ENOMEM;
			}
			last = &rs->run[rs->n++];
			last->pfn = pfn;
			last->npages = 0;
		}
		len = sgdma_contig_pages(pages + i,
					 min(n - i, rs->max_pages - last->npages));
		last->npages += len;
		i += len;
	}
	*done = n;
	return 0;
}

static void sgdma_runs_unpin(struct sgdma_runs *rs)
{
	unsigned long i;

	for (i = 0; i < rs->n; i++) {
		sgdma_unpin_range(pfn_to_page(rs->run[i].pfn),
				  rs->run[i].npages, false);
		cond_resched();
	}
}

/* Frees r->table's entries, unless they are the region's own. */
static void sgdma_table_free(struct sgdma_region *r)
{
	if (r->table.sgl != r->inline_sg)
		sg_free_table(&r->table);
	memset(&r->table, 0, sizeof(r->table));
}

/*
 * One entry per run; the first and last are trimmed by sgdma_trim().  A
 * small buffer's few entries live in the region: one allocation and free
 * fewer for every small registration.
 */
static int sgdma_runs_to_table(struct sgdma_region *r, struct sgdma_runs *rs)
{
	struct scatterlist *sg;
	unsigned long i;
	int ret = 0;

	if (rs->n <= ARRAY_SIZE(r->inline_sg)) {
		sg_init_table(r->inline_sg, rs->n);
		r->table.sgl = r->inline_sg;
		r->table.nents = rs->n;
		r->table.orig_nents = rs->n;
	} else {
		ret = sg_alloc_table(&r->table, rs->n, GFP_KERNEL_ACCOUNT);
	}
	if (ret) {
		/*
		 * A failed allocation frees the table but leaves its entry
		 * count: make it the empty table the error path expects (the
		 * runs still hold the pins).
		 */
		memset(&r->table, 0, sizeof(r->table));
		return ret;
	}
	for_each_sgtable_sg(&r->table, sg, i) {
		sg_set_page(sg, pfn_to_page(rs->run[i].pfn),
			    rs->run[i].npages << PAGE_SHIFT, 0);
		r->last = sg;
	}
	return 0;
}

/*
 * Pin the buffer's pages into r->table, entries up to @max_segment bytes.
 * Pinning goes in batches of many pages (fewer calls, and a huge folio's
 * pages in one), joined into runs as they come.
 */
static int sgdma_pin(struct sgdma_region *r, unsigned int max_segment)
{
	unsigned long start = r->addr & PAGE_MASK, left = r->npages;
	unsigned long batch = min_t(unsigned long, left, SGDMA_PIN_BATCH_MAX);
	bool write = sgdma_region_device_writes(r);
	struct sgdma_runs rs = { .max_pages = max_segment >> PAGE_SHIFT };
	struct page *onstack[SGDMA_PIN_ONSTACK];
	struct page **pages = onstack;
	int ret = 0;

	/* Every page its own run at worst: a small buffer never grows them. */
	rs.run = rs.onstack;
	rs.cap = ARRAY_SIZE(rs.onstack);
	if (batch > ARRAY_SIZE(onstack)) {
		pages = kvmalloc_array(batch, sizeof(*pages),
				       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!pages) {
			batch = min_t(unsigned long, batch, SGDMA_PIN_BATCH);
			pages = kvmalloc_array(batch, sizeof(*pages),
					       GFP_KERNEL_ACCOUNT);
			if (!pages)
				return -ENOMEM;
		}
	}

	while (left) {
		unsigned long done;
		long pinned;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		pinned = sgdma_pin_batch(start, min(left, batch), write, pages);
		if (pinned <= 0) {
			ret = pinned ?: -EFAULT;
			break;
		}
		left -= pinned;
		start += (unsigned long)pinned << PAGE_SHIFT;
		ret = sgdma_runs_add(&rs, pages, pinned, &done);
		if (ret) {
			unpin_user_pages(pages + done, pinned - done);
			break;
		}
		if (left)	/* between batches */
			cond_resched();
	}
	if (pages != onstack)
		kvfree(pages);
	if (!ret)
		ret = sgdma_runs_to_table(r, &rs);
	/* The table holds the pins from here on; before, the runs do. */
	if (ret)
		sgdma_runs_unpin(&rs);
	sgdma_runs_free(&rs);
	return ret;
}

/* Trim the first and last entries so the table covers exactly the buffer. */
static void sgdma_trim(struct sgdma_region *r)
{
	struct scatterlist *first = r->table.sgl;
	struct scatterlist *last = r->last;
	unsigned int head = offset_in_page(r->addr);
	unsigned int tail = PAGE_ALIGN(r->addr + r->length) -
			    (r->addr + r->length);

	first->offset += head;
	first->length -= head;
	last->length -= tail;
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

/* ----------------------------------------------------------------------- */
/* Staleness                                                                */

#ifdef CONFIG_MMU_NOTIFIER
/*
 * The kernel is about to change the page tables of part of the buffer.
 * Protection changes (mprotect(), fork()'s and dirty tracking's write
 * protection, NUMA hinting) keep the pages where they are: the region
 * stays valid, and a write fault that then copies a page is an
 * invalidation of its own.  Anything else may put other pages (or none)
 * at the buffer's addresses while the device keeps the pinned ones: the
 * region is stale for good.  Only a spinlock of the region is taken, and
 * nothing sleeps: this runs in reclaim too.
 */
static bool sgdma_region_invalidate(struct mmu_interval_notifier *mni,
				    const struct mmu_notifier_range *range,
				    unsigned long cur_seq)
{
	struct sgdma_region *r = container_of(mni, struct sgdma_region,
					      notifier);

	switch (range->event) {
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return true;
	default:
		break;
	}
	spin_lock(&r->stale_lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (r->pinning)
		r->collided = true;
	else
		WRITE_ONCE(*r->stale, SGDMA_REGION_STALE);
	spin_unlock(&r->stale_lock);
	return true;
}

static const struct mmu_interval_notifier_ops sgdma_region_mn_ops = {
	.invalidate = sgdma_region_invalidate,
};

/*
 * Watch the buffer's range before pinning it, so that no change after the
 * pin goes unseen.  An invalidation in progress, which began before the
 * notifier was there, is waited for.
 */
static int sgdma_region_watch(struct sgdma_region *r, u8 *stale)
{
	int ret;

	spin_lock_init(&r->stale_lock);
	r->stale = stale;
	r->pinning = true;
	ret = mmu_interval_notifier_insert(&r->notifier, r->mm,
					   r->addr & PAGE_MASK,
					   r->npages << PAGE_SHIFT,
					   &sgdma_region_mn_ops);
	if (ret) {
		r->stale = NULL;
		return ret;
	}
	r->watching = true;
	mmu_interval_read_begin(&r->notifier);
	return 0;
}

static void sgdma_put_pages(struct page **pages, long n)
{
	while (n > 0)
		put_page(pages[--n]);
}

/*
 * Whether every page of @r's table is the one mapped at its address now.
 * A read lookup never breaks copy-on-write; a page that is not mapped is
 * faulted in as the CPU would see it (and then differs).
 */
static bool sgdma_region_pages_mapped(struct sgdma_region *r)
{
	unsigned long addr = r->addr & PAGE_MASK;
	struct sg_page_iter piter;
	struct page **pages;
	long got = 0, i = 0;
	bool same = true;

	pages = (struct page **)__get_free_page(GFP_KERNEL);
	if (!pages)
		return false;
	for_each_sgtable_page(r->sgt, &piter, 0) {
		if (i == got) {
			unsigned long left = r->npages -
				((addr - (r->addr & PAGE_MASK)) >> PAGE_SHIFT);

			sgdma_put_pages(pages, got);
			got = get_user_pages_fast(addr, min_t(unsigned long, left,
							      SGDMA_PIN_BATCH),
						  0, pages);
			i = 0;
			if (got <= 0) {
				got = 0;
				same = false;
				break;
			}
			addr += (unsigned long)got << PAGE_SHIFT;
		}
		if (pages[i++] != sg_page_iter_page(&piter)) {
			same = false;
			break;
		}
	}
	sgdma_put_pages(pages, got);
	free_page((unsigned long)pages);
	return same;
}

/*
 * The pages are pinned.  Invalidations during the pin, such as the
 * copy-on-write the pin itself broke, came before the pages it kept: if
 * there were any, the pages are compared with what is mapped now.
 */
static void sgdma_region_watch_pinned(struct sgdma_region *r)
{
	unsigned long seq;
	bool same;

	spin_lock(&r->stale_lock);
	if (!r->collided) {
		r->pinning = false;
		spin_unlock(&r->stale_lock);
		return;
	}
	spin_unlock(&r->stale_lock);

	seq = mmu_interval_read_begin(&r->notifier);
	same = sgdma_region_pages_mapped(r);
	spin_lock(&r->stale_lock);
	if (!same || mmu_interval_read_retry(&r->notifier, seq))
		WRITE_ONCE(*r->stale, SGDMA_REGION_STALE);
	r->pinning = false;
	spin_unlock(&r->stale_lock);
}

/* Stop watching; waits for a callback that is running.  No lock held. */
static void sgdma_region_unwatch(struct sgdma_region *r)
{
	if (!r->watching)
		return;
	mmu_interval_notifier_remove(&r->notifier);
	r->watching = false;
	r->stale = NULL;
}
#else
static int sgdma_region_watch(struct sgdma_region *r, u8 *stale)
{
	return 0;
}

static void sgdma_region_watch_pinned(struct sgdma_region *r)
{
}

static void sgdma_region_unwatch(struct sgdma_region *r)
{
}
#endif

/* ----------------------------------------------------------------------- */
/* Reporting segments                                                       */

static void sgdma_cursor_reset(struct sgdma_region *r)
{
	struct sgdma_seg_cursor *c = &r->cursor;

	c->sg = r->sgt->sgl;
	c->left = r->sgt->nents;
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
 * DMA layer does not cut it, so this does.  Inline in its loops: every
 * segment goes through it twice (counted, then reported).
 */
static __always_inline void sgdma_cursor_next(struct sgdma_region *r,
					      struct sgdma_ioc_seg *seg)
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

/* Move the cursor to segment @index; forward from where it is when it can. */
static void sgdma_cursor_seek(struct sgdma_region *r, u64 index)
{
	struct sgdma_ioc_seg skip;

	lockdep_assert_held(&r->lock);
	if (index < r->cursor.index)
		sgdma_cursor_reset(r);
	while (r->cursor.index < index) {
		sgdma_cursor_next(r, &skip);
		if (!(r->cursor.index % 1024))
			cond_resched();
	}
}

/* Before the region is visible to anyone else. */
static u64 sgdma_count_segs(struct sgdma_region *r)
{
	struct scatterlist *first = r->sgt->sgl;
	struct sgdma_ioc_seg seg;
	u64 nsegs;

	sgdma_cursor_reset(r);
	/* Most small buffers: one mapped entry, short enough for one segment. */
	if (r->sgt->nents == 1 &&
	    sg_dma_len(first) <= sgdma_seg_room(&r->limits, sg_dma_address(first)))
		return 1;
	while (r->cursor.left) {
		sgdma_cursor_next(r, &seg);
		if (!(r->cursor.index % 1024))
			cond_resched();
	}
	nsegs = r->cursor.index;
	sgdma_cursor_reset(r);
	return nsegs;
}

/*
 * Whether a sync of the mapping can do anything: copy bounce buffers or
 * maintain caches.  When it cannot, userspace may skip SYNC altogether.
 */
static bool sgdma_region_needs_sync(struct sgdma_region *r)
{
	struct device *dev = r->sd->dev;
	struct scatterlist *sg;
	unsigned int i;

	if (r->bounced || !sgdma_dev_coherent(dev))
		return true;
	if (sgdma_dev_translated(dev) &&
	    SGDMA_IOMMU_SYNCS_ONLY_CACHES_AND_BOUNCES)
		return false;
	if (!sgdma_dev_may_need_sync(dev))
		return false;
	/* The DMA layer's own answer, per mapping (exact for dma-direct). */
	for_each_sgtable_dma_sg(r->sgt, sg, i) {
		if (dma_need_sync(dev, sg_dma_address(sg)))
			return true;
		if (i % 1024 == 1023)
			cond_resched();
	}
	return false;
}

/* What userspace learns about the mapping besides its segments. */
static u32 sgdma_region_facts(struct sgdma_region *r)
{
	u32 facts = 0;

	if (r->bounced)
		facts |= SGDMA_REGION_BOUNCED;
	if (sgdma_region_needs_sync(r))
		facts |= SGDMA_REGION_NEEDS_SYNC;
	if (r->nsegs == 1)
		facts |= SGDMA_REGION_CONTIGUOUS;
	return facts;
}

/* ----------------------------------------------------------------------- */
/* Mapping and releasing                                                    */

/*
 * Reads the device's DMA configuration for a new registration and keeps it
 * from changing until the region is mapped under it (or fails).
 */
int sgdma_region_reserve(struct sgdma_region *r, unsigned int *max_entry)
{
	struct sgdma_dev *sd = r->sd;
	struct device *dev = sd->dev;
	int ret = 0;

	down_read(&sd->dma_lock);
	if (sd->revoked) {
		ret = -ENODEV;
	} else {
		atomic_inc(&sd->inflight);
		r->limits.max_len = max_t(u64, dma_get_max_seg_size(dev), 1);
		r->limits.boundary_mask = dma_get_seg_boundary(dev);
		/*
		 * One pinned page is one entry, within any limit (it is at
		 * least a page): a small registration skips asking the DMA
		 * layer.
		 */
		*max_entry = r->npages == 1 ? PAGE_SIZE :
					      sgdma_sg_max_segment(dev);
	}
	up_read(&sd->dma_lock);
	return ret;
}

/*
 * Without an IOMMU each entry is mapped as it is, so none may cross the
 * device's segment boundary (physically contiguous huge pages would):
 * copy the table, cut at the boundaries.  Boundaries are page aligned, so
 * every page stays in exactly one entry.
 */
static int sgdma_split_at_boundary(struct sgdma_region *r)
{
	struct device *dev = r->sd->dev;
	u64 mask = r->limits.boundary_mask;
	struct scatterlist *sg, *out;
	unsigned long pieces = 0;
	unsigned int i;
	int ret;

	if (mask == U64_MAX)
		return 0;
	for_each_sgtable_sg(r->sgt, sg, i) {
		u64 start = phys_to_dma(dev, sg_phys(sg));

		pieces += ((start + sg->length - 1) >> __ffs64(mask + 1)) -
			  (start >> __ffs64(mask + 1)) + 1;
	}
	if (pieces == r->sgt->orig_nents)
		return 0;
	if (pieces > UINT_MAX)
		return -E2BIG;

	ret = sg_alloc_table(&r->split, pieces, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	out = r->split.sgl;
	for_each_sgtable_sg(r->sgt, sg, i) {
		phys_addr_t phys = sg_phys(sg);
		u64 left = sg->length;

		while (left) {
			u64 bus = phys_to_dma(dev, phys);
			u64 piece = min(left, (bus | mask) - bus + 1);

			sg_set_page(out, pfn_to_page(PHYS_PFN(phys)), piece,
				    offset_in_page(phys));
			out = sg_next(out);
			phys += piece;
			left -= piece;
		}
		cond_resched();
	}
	/* The pages are the split table's now; only the entries go. */
	sgdma_table_free(r);
	r->last = NULL;
	r->sgt = &r->split;
	return 0;
}

/*
 * Mapped with DMA_ATTR_SKIP_CPU_SYNC and then synced for the device as a
 * whole, which is what a plain map does: sgdma syncs explicitly at both
 * ends, so that overlapping regions (one buffer registered twice, or two
 * buffers sharing a cache line) never sync one another behind the user's
 * back.
 */
int sgdma_region_map(struct sgdma_region *r)
{
	struct sgdma_dev *sd = r->sd;
	struct device *dev = sd->dev;
	int ret;

	down_read(&sd->dma_lock);
	if (sd->revoked) {
		ret = -ENODEV;
		goto out;
	}
	ret = sgdma_dev_check_iommu(sd);
	if (ret)
		goto out;

	/* Userspace hears about a failure; it must not fill the kernel log. */
	if (r->dmabuf)
		ret = sgdma_dmabuf_map(r);
	else
		ret = dma_map_sgtable(dev, r->sgt, r->dir,
				      DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN);
	if (ret) {
		dev_dbg(dev, "sgdma: mapping %llu bytes failed: %d\n",
			r->length, ret);
		if (!r->dmabuf || (ret != -ENOMEM && ret != -EINTR &&
				   ret != -ERESTARTSYS))
			ret = -EIO;
		goto out;
	}
	ret = sgdma_bounce_charge(r);
	if (ret)
		goto err_unmap;
	r->nsegs = sgdma_count_segs(r);
	if (r->require_contig && r->nsegs > 1) {
		ret = -E2BIG;
		goto err_uncharge;
	}
	r->facts = sgdma_region_facts(r);
	/*
	 * A dma-buf region syncs the exporter's whole table, as mapped: with
	 * two equal mappings of one dma-buf (no IOMMU), DMA-API debugging can
	 * tell which one a sync means only when it names a table exactly.
	 * Mapping it did the same work on the same memory.  A user buffer
	 * whose mapping needs no sync skips the walk (kernels before 6.11
	 * walk every entry to do nothing).
	 */
	if (r->dmabuf)
		dma_sync_sgtable_for_device(dev, r->dmabuf_sgt, r->dir);
	else if (r->facts & SGDMA_REGION_NEEDS_SYNC)
		dma_sync_sgtable_for_device(dev, r->sgt, r->dir);

	sgdma_stats_add(sd, 1, r->npages);
	r->mapped = true;
	spin_lock(&sd->regions_lock);
	list_add_tail(&r->dev_node, &sd->regions);
	spin_unlock(&sd->regions_lock);
	goto out;

err_uncharge:
	sgdma_bounce_uncharge(r);
err_unmap:
	/* The device never had the addresses; the IOVAs may go back at once. */
	if (r->dmabuf)
		sgdma_dmabuf_unmap(r);
	else
		dma_unmap_sgtable(dev, r->sgt, r->dir, DMA_ATTR_SKIP_CPU_SYNC);
	sgdma_dev_flush_iotlb(sd);
out:
	atomic_dec(&sd->inflight);
	up_read(&sd->dma_lock);
	return ret;
}

/*
 * Unmap without copying back from bounce buffers or invalidating caches:
 * the application syncs what it wants to see (sgdma_sync_for_cpu), and an
 * unmap that copied would overwrite what the CPU or another region of the
 * same memory wrote since.  Then make sure the device has lost its way to
 * the pages before they can be unpinned.
 */
static void sgdma_region_unmap_locked(struct sgdma_region *r)
{
	struct sgdma_dev *sd = r->sd;

	lockdep_assert_held(&sd->dma_lock);
	lockdep_assert_held(&r->lock);
	spin_lock(&sd->regions_lock);
	list_del_init(&r->dev_node);
	spin_unlock(&sd->regions_lock);
	/* A domain changed under us took its mappings with it. */
	if (sgdma_dev_domain_intact(sd)) {
		if (r->dmabuf)
			sgdma_dmabuf_unmap(r);
		else
			dma_unmap_sgtable(sd->dev, r->sgt, r->dir,
					  DMA_ATTR_SKIP_CPU_SYNC);
		sgdma_dev_flush_iotlb(sd);
	}
	r->mapped = false;
	sgdma_stats_add(sd, -1, 0);
}

/* Only the caller that unmapped @r gets here, once. */
static void sgdma_region_unpin(struct sgdma_region *r)
{
	if (r->dmabuf) {
		/* Nothing pinned, nothing charged but bounce buffers. */
		sgdma_dmabuf_release(r);
		sgdma_bounce_uncharge(r);
		return;
	}
	sgdma_unpin(r->sgt, sgdma_region_device_writes(r));
	sgdma_uncharge(r);
	sgdma_bounce_uncharge(r);
	sgdma_stats_add(r->sd, 0, -(long)r->npages);
}

static void sgdma_region_free(struct kref *kref)
{
	struct sgdma_region *r = container_of(kref, struct sgdma_region, kref);

	sg_free_table(&r->split);
	sgdma_table_free(r);
	mmdrop(r->mm);
	sgdma_dev_put(r->sd);
	kfree(r);
}

void sgdma_region_put(struct sgdma_region *r)
{
	kref_put(&r->kref, sgdma_region_free);
}

/*
 * A region of @sd owned by the calling process, with what every kind of
 * region shares set from @reg_flags; the caller describes its memory.
 */
struct sgdma_region *sgdma_region_alloc(struct sgdma_dev *sd, u32 reg_flags)
{
	struct sgdma_region *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	kref_init(&r->kref);
	mutex_init(&r->lock);
	INIT_LIST_HEAD(&r->dev_node);
	kref_get(&sd->kref);
	r->sd = sd;
	r->mm = current->mm;
	mmgrab(r->mm);
	r->dir = sgdma_dir_from_flags(reg_flags);
	r->require_contig = reg_flags & SGDMA_REG_REQUIRE_CONTIG;
	return r;
}

/*
 * Pin, map and describe [@addr, @addr + @length) for @sd's device.  When
 * SGDMA_REG_REQUIRE_CONTIG fails (-E2BIG), *@nsegs says how many segments
 * the region would have had; it is 0 after any other error.
 */
int sgdma_region_create(struct sgdma_dev *sd, u64 addr, u64 length,
			u32 reg_flags, u8 *stale, struct sgdma_region **out,
			u64 *nsegs)
{
	unsigned int max_entry;
	struct sgdma_region *r;
	u64 end, npages;
	int ret;

	*nsegs = 0;
	if (!length || check_add_overflow(addr, length, &end) ||
	    end > U64_MAX - PAGE_SIZE)
		return -EINVAL;
	npages = (PAGE_ALIGN(end) - (addr & PAGE_MASK)) >> PAGE_SHIFT;
	/* The scatterlist API counts pages in unsigned int. */
	if (length > sgdma_max_region_bytes || npages > UINT_MAX)
		return -E2BIG;
	if (!access_ok(u64_to_user_ptr(addr), length))
		return -EFAULT;

	r = sgdma_region_alloc(sd, reg_flags);
	if (!r)
		return -ENOMEM;
	r->sgt = &r->table;
	r->addr = addr;
	r->length = length;
	r->npages = npages;

	if (stale) {
		ret = sgdma_region_watch(r, stale);
		if (ret)
			goto err_put;
	}
	ret = sgdma_charge(r);
	if (ret)
		goto err_put;
	ret = sgdma_region_reserve(r, &max_entry);
	if (ret)
		goto err_uncharge;
	ret = sgdma_pin(r, max_entry);
	if (!ret) {
		sgdma_trim(r);
		sgdma_region_watch_pinned(r);
		ret = sgdma_split_at_boundary(r);
	}
	if (ret) {
		atomic_dec(&sd->inflight);
		goto err_unpin;
	}
	ret = sgdma_region_map(r);
	if (ret) {
		if (ret == -E2BIG)
			*nsegs = r->nsegs;
		goto err_unpin;
	}
	*out = r;
	return 0;

err_unpin:
	/* Pages pinned so far are all in the table; nothing was dirtied. */
	sgdma_unpin(r->sgt, false);
err_uncharge:
	sgdma_uncharge(r);
err_put:
	sgdma_region_unwatch(r);
	sgdma_region_put(r);
	return ret;
}

/* Unregister or close: the caller gave up its handle on @r. */
void sgdma_region_release(struct sgdma_region *r)
{
	struct sgdma_dev *sd = r->sd;
	bool unmapped = false;

	sgdma_region_unwatch(r);
	down_read(&sd->dma_lock);
	mutex_lock(&r->lock);
	if (r->mapped) {
		sgdma_region_unmap_locked(r);
		unmapped = true;
	}
	mutex_unlock(&r->lock);
	up_read(&sd->dma_lock);
	if (unmapped)
		sgdma_region_unpin(r);
	sgdma_region_put(r);
}

/*
 * Revocation: unmap every region of @sd and refuse new mappings; when this
 * returns nothing of the device is mapped.  Pages are unpinned after the
 * device lock is dropped; the regions stay with their files, unmapped,
 * until unregistered or closed.
 */
void sgdma_regions_revoke(struct sgdma_dev *sd)
{
	struct sgdma_region *r, *tmp;
	LIST_HEAD(unmapped);

	down_write(&sd->dma_lock);
	/*
	 * The status page first: it says revoked before any call can fail
	 * with -ENODEV (the uapi's promise; libsgdma's no-syscall syncs
	 * look at nothing else).  Paired with sgdma_dev_revoked().
	 */
	WRITE_ONCE(sd->status->revoked, 1);
	/* Orders the status page before the flag lockless readers test. */
	smp_store_release(&sd->revoked, true);
	while (!list_empty(&sd->regions)) {
		r = list_first_entry(&sd->regions, struct sgdma_region,
				     dev_node);
		kref_get(&r->kref);
		mutex_lock(&r->lock);
		sgdma_region_unmap_locked(r);
		mutex_unlock(&r->lock);
		list_add_tail(&r->dev_node, &unmapped);
		cond_resched();
	}
	up_write(&sd->dma_lock);

	list_for_each_entry_safe(r, tmp, &unmapped, dev_node) {
		list_del_init(&r->dev_node);
		sgdma_region_unpin(r);
		sgdma_region_put(r);
	}
}

/* Why a region handed to an ioctl is no longer usable. */
static int sgdma_region_gone(struct sgdma_region *r)
{
	return sgdma_dev_revoked(r->sd) ? -ENODEV : -ENOENT;
}

/*
 * Segments out to userspace field by field: copy_to_user() of the chunk
 * would have a size known only at run time, which hardened usercopy checks
 * in every call (~45 instructions; a small registration copies one
 * segment).
 */
static int sgdma_put_segs(struct sgdma_ioc_seg __user *useg,
			  const struct sgdma_ioc_seg *seg, unsigned int n)
{
	unsigned int i;

	/* Every field of the uapi struct is written below. */
	BUILD_BUG_ON(sizeof(*useg) != 3 * sizeof(u64));
	if (!user_write_access_begin(useg, n * sizeof(*useg)))
		return -EFAULT;
	for (i = 0; i < n; i++) {
		unsafe_put_user(seg[i].addr, &useg[i].addr, efault);
		unsafe_put_user(seg[i].len, &useg[i].len, efault);
		unsafe_put_user(seg[i].offset, &useg[i].offset, efault);
	}
	user_write_access_end();
	return 0;

efault:
	user_write_access_end();
	return -EFAULT;
}

int sgdma_region_copy_segs(struct sgdma_region *r, u64 first, u64 *count,
			   struct sgdma_ioc_seg __user *useg)
{
	struct sgdma_ioc_seg chunk[SGDMA_SEG_CHUNK];
	u64 todo, done = 0;

	if (first >= r->nsegs || !*count)
		return -EINVAL;
	todo = min(*count, r->nsegs - first);

	/* Never copy to user memory under the region lock. */
	while (done < todo) {
		unsigned int i, n = min_t(u64, todo - done, SGDMA_SEG_CHUNK);

		mutex_lock(&r->lock);
		if (!r->mapped) {
			mutex_unlock(&r->lock);
			return sgdma_region_gone(r);
		}
		sgdma_cursor_seek(r, first + done);
		for (i = 0; i < n; i++)
			sgdma_cursor_next(r, &chunk[i]);
		mutex_unlock(&r->lock);

		if (sgdma_put_segs(useg + done, chunk, n))
			return -EFAULT;
		done += n;
		if (done < todo)	/* between chunks */
			cond_resched();
	}
	*count = done;
	return 0;
}

static void sgdma_sync_piece(struct device *dev, struct scatterlist *dma,
			     u64 from, u64 len, enum dma_data_direction dir,
			     bool for_cpu)
{
	if (for_cpu)
		dma_sync_single_range_for_cpu(dev, sg_dma_address(dma), from,
					      len, dir);
	else
		dma_sync_single_range_for_device(dev, sg_dma_address(dma),
						 from, len, dir);
}

/*
 * Sync exactly [offset, offset + length), in pieces that lie in one mapped
 * segment (contiguous on the bus) and in one scatterlist entry (contiguous
 * in memory): the single-range sync translates only a piece's first bus
 * address, so a piece spanning pages that an IOMMU merged would get the
 * cache maintenance of the wrong memory.  Single ranges, which the DMA API
 * allows inside any mapping, rather than a sub-list of the scatterlist,
 * which DMA-API debugging rejects and which would sync whole entries.
 */
int sgdma_region_sync(struct sgdma_region *r, u64 offset, u64 length,
		      bool for_cpu)
{
	struct sgdma_dev *sd = r->sd;
	struct scatterlist *cpu, *dma;
	u64 end, pos, cpu_start = 0, dma_start = 0;
	int ret = 0;

	if (!length || check_add_overflow(offset, length, &end) ||
	    end > r->length)
		return -EINVAL;

	down_read(&sd->dma_lock);
	mutex_lock(&r->lock);
	if (!r->mapped) {
		ret = sgdma_region_gone(r);
		goto out;
	}
	if (r->dmabuf) {
		sgdma_dmabuf_sync(r, offset, end, for_cpu);
		goto out;
	}
	cpu = r->sgt->sgl;
	dma = r->sgt->sgl;
	for (pos = offset; pos < end;) {
		u64 piece_end;

		while (cpu_start + cpu->length <= pos) {
			cpu_start += cpu->length;
			cpu = sg_next(cpu);
		}
		while (dma_start + sg_dma_len(dma) <= pos) {
			dma_start += sg_dma_len(dma);
			dma = sg_next(dma);
		}
		piece_end = min3(end, cpu_start + cpu->length,
				 dma_start + sg_dma_len(dma));
		sgdma_sync_piece(sd->dev, dma, pos - dma_start, piece_end - pos,
				 r->dir, for_cpu);
		pos = piece_end;
		cond_resched();
	}
out:
	mutex_unlock(&r->lock);
	up_read(&sd->dma_lock);
	return ret;
}
