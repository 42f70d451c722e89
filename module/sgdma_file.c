// SPDX-License-Identifier: GPL-2.0
/*
 * The character device: open, release and the ioctl table.
 *
 * A file holds its regions by handle; every ioctl works on its own
 * reference to a region, so threads may register, query, sync and
 * unregister on one file at once, and no lock is held while an ioctl
 * touches user memory.
 */
#include <linux/bitmap.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/rhashtable.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sgdma_internal.h"

/*
 * The largest argument accepted: far above any struct version, and a bound
 * on the tail copy_struct_from_user() must check for zeroes.
 */
#define SGDMA_MAX_ARG_SIZE PAGE_SIZE

/* Registration flags this module knows. */
#define SGDMA_REG_FLAGS (SGDMA_REG_DIR_MASK | SGDMA_REG_REQUIRE_CONTIG)

/* What this module does beyond the first version of the interface. */
#define SGDMA_FEATURES (SGDMA_FEAT_REGION_FLAGS | SGDMA_FEAT_INLINE_SEGS | \
			SGDMA_FEAT_COHERENCE | SGDMA_FEAT_STATUS | \
			(IS_ENABLED(CONFIG_DMA_SHARED_BUFFER) ? \
			 SGDMA_FEAT_DMABUF : 0) | \
			(IS_ENABLED(CONFIG_MMU_NOTIFIER) ? \
			 SGDMA_FEAT_REGION_STATUS : 0))

/* The first page of the region status bytes, as an mmap() page offset. */
#define SGDMA_STATUS_PGOFF (SGDMA_REGION_STATUS_OFFSET >> PAGE_SHIFT)

/* A decoded ioctl: where the caller's struct is, and what the caller may do. */
struct sgdma_ucmd {
	struct file *file;
	void __user *ubuf;
	u32 user_size;
	bool query;		/* INFO: any opener, any process sharing it */
};

/*
 * Whether the caller may issue the ioctl, once its struct is copied in
 * (so that a bad struct is -EFAULT or -E2BIG whoever the caller is).
 */
static int sgdma_ucmd_allowed(struct sgdma_file *f,
			      const struct sgdma_ucmd *ucmd)
{
	if (!ucmd->query) {
		/* The device may write the memory: a read-only open may not. */
		if (!(ucmd->file->f_mode & FMODE_WRITE))
			return -EBADF;
		/* Regions pin pages of, and are charged to, the opener's mm. */
		if (current->mm != f->mm)
			return -EPERM;
	}
	if (sgdma_dev_revoked(f->sd))
		return -ENODEV;
	return 0;
}

/*
 * Copy the caller's struct into @cmd, our version of it (@ksize bytes), and
 * check that the caller may issue the ioctl.  Inline in each handler, so
 * that the usual copy (a caller built against this header passes our size)
 * has a size known at compile time: hardened usercopy then checks its
 * bounds when the module is built, not at every call (the run-time check
 * cost a small registration some 180 instructions in its three copies).
 */
static __always_inline int sgdma_get_arg(struct sgdma_file *f,
					 struct sgdma_ucmd *ucmd,
					 void *cmd, size_t ksize)
{
	int ret;

	if (likely(ucmd->user_size == ksize))
		ret = copy_from_user(cmd, ucmd->ubuf, ksize) ? -EFAULT : 0;
	else
		ret = copy_struct_from_user(cmd, ksize, ucmd->ubuf,
					    ucmd->user_size);
	return ret ?: sgdma_ucmd_allowed(f, ucmd);
}

/* Copy the reply @cmd back to the caller's (possibly shorter) struct. */
static __always_inline int sgdma_respond(const struct sgdma_ucmd *ucmd,
					 const void *cmd, size_t ksize)
{
	unsigned long left;

	if (likely(ucmd->user_size >= ksize))
		left = copy_to_user(ucmd->ubuf, cmd, ksize);
	else
		left = copy_to_user(ucmd->ubuf, cmd, ucmd->user_size);
	return left ? -EFAULT : 0;
}

/*
 * Handles count up per file, cyclically from 1, so that a stale handle
 * does not name a new region until the count wraps; a hash table finds
 * the region.  Registering allocates nothing for its handle: an xarray
 * keyed by ever new numbers would build, and RCU-free again, a path of
 * nodes for nearly every registration.  The table never shrinks (that
 * would queue work at every unregister): it keeps the size of the most
 * regions the file held at once.
 */
static u32 sgdma_handle_hash(const void *handle, u32 len, u32 seed)
{
	/* Consecutive numbers of the kernel's choosing spread by themselves. */
	return *(const u32 *)handle;
}

static const struct rhashtable_params sgdma_handle_params = {
	.hashfn = sgdma_handle_hash,
	.key_len = sizeof(u32),
	.key_offset = offsetof(struct sgdma_region, handle),
	.head_offset = offsetof(struct sgdma_region, handle_node),
};

/* The region behind @handle, with a reference for the caller. */
static struct sgdma_region *sgdma_file_get_region(struct sgdma_file *f,
						  u32 handle)
{
	struct sgdma_region *r;

	spin_lock(&f->handles_lock);
	r = rhashtable_lookup_fast(&f->handles, &handle, sgdma_handle_params);
	if (r)
		kref_get(&r->kref);
	spin_unlock(&f->handles_lock);
	return r;
}

/*
 * Give @r the file's next free handle, also in *@handle: from the moment
 * it has one, another thread may unregister @r.
 */
static int sgdma_file_name_region(struct sgdma_file *f,
				  struct sgdma_region *r, u32 *handle)
{
	int ret;

	spin_lock(&f->handles_lock);
	do {
		f->last_handle = f->last_handle == U32_MAX ?
				 1 : f->last_handle + 1;
		r->handle = f->last_handle;
		/* -EEXIST: wrapped onto a region still registered. */
		ret = rhashtable_lookup_insert_fast(&f->handles,
						    &r->handle_node,
						    sgdma_handle_params);
	} while (ret == -EEXIST);
	*handle = r->handle;
	spin_unlock(&f->handles_lock);
	/* The table could not grow. */
	return ret ? -ENOMEM : 0;
}

/*
 * Take @handle away from its region (only if that is @expect, when
 * given).  Returns the region, whose reference of the file is now the
 * caller's, or NULL.
 */
static struct sgdma_region *sgdma_file_unname_region(struct sgdma_file *f,
						     u32 handle,
						     struct sgdma_region *expect)
{
	struct sgdma_region *r;

	spin_lock(&f->handles_lock);
	r = rhashtable_lookup_fast(&f->handles, &handle, sgdma_handle_params);
	if (r && (!expect || r == expect))
		rhashtable_remove_fast(&f->handles, &r->handle_node,
				       sgdma_handle_params);
	else
		r = NULL;
	spin_unlock(&f->handles_lock);
	return r;
}

/*
 * Status slots are numbered from 0, the lowest free one first, so that a
 * file's status pages stay few.  A bitmap of the file's, doubled when
 * full, marks those in use: an ida costs several times as much for each
 * registration.  Returns the slot, or -ENOMEM.
 */
static int sgdma_file_alloc_slot(struct sgdma_file *f)
{
	unsigned long *map;
	unsigned int bits;
	int slot;

	mutex_lock(&f->slots_lock);
	slot = find_first_zero_bit(f->slot_map, f->slot_bits);
	if (slot >= f->slot_bits) {
		bits = f->slot_bits ? 2 * f->slot_bits : BITS_PER_LONG;
		map = f->slot_bits < INT_MAX / 2 ?
		      bitmap_zalloc(bits, GFP_KERNEL_ACCOUNT) : NULL;
		if (!map) {
			mutex_unlock(&f->slots_lock);
			return -ENOMEM;
		}
		if (f->slot_bits)
			bitmap_copy(map, f->slot_map, f->slot_bits);
		bitmap_free(f->slot_map);
		f->slot_map = map;
		f->slot_bits = bits;
	}
	__set_bit(slot, f->slot_map);
	mutex_unlock(&f->slots_lock);
	return slot;
}

static void sgdma_file_free_slot(struct sgdma_file *f, u32 slot)
{
	mutex_lock(&f->slots_lock);
	__clear_bit(slot, f->slot_map);
	mutex_unlock(&f->slots_lock);
}

/*
 * A region status byte for a new region: its number in *@slot, cleared.
 * The byte's page is allocated with the first slot in it and stays until
 * the file is released.  Returns the byte, or NULL without staleness
 * tracking (or memory for it).
 */
static u8 *sgdma_file_status_slot(struct sgdma_file *f, u32 *slot)
{
	struct page *page, *old;
	unsigned long index;
	int id;
	u8 *byte;

	*slot = 0;
	if (!IS_ENABLED(CONFIG_MMU_NOTIFIER))
		return NULL;
	id = sgdma_file_alloc_slot(f);
	if (id < 0)
		return ERR_PTR(id);
	index = id / PAGE_SIZE;
	page = xa_load(&f->status_pages, index);
	if (!page) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			goto err_free;
		old = xa_cmpxchg(&f->status_pages, index, NULL, page,
				 GFP_KERNEL_ACCOUNT);
		if (old) {
			__free_page(page);
			if (xa_is_err(old))
				goto err_free;
			page = old;
		}
	}
	byte = (u8 *)page_address(page) + id % PAGE_SIZE;
	WRITE_ONCE(*byte, 0);
	*slot = id;
	return byte;

err_free:
	sgdma_file_free_slot(f, id);
	return ERR_PTR(-ENOMEM);
}

/* Release @r, the file's handle on it gone; its status byte is free again. */
static void sgdma_file_release_region(struct sgdma_file *f,
				      struct sgdma_region *r)
{
	bool has_slot = r->stale;
	u32 slot = r->status_slot;

	sgdma_region_release(r);	/* stops the notifier: no more writes */
	if (has_slot)
		sgdma_file_free_slot(f, slot);
}

/* Give up the file's handle on @r, if it still has it. */
static void sgdma_file_drop_region(struct sgdma_file *f, u32 handle,
				   struct sgdma_region *r)
{
	if (!sgdma_file_unname_region(f, handle, r))
		return;		/* another thread unregistered it */
	atomic_dec(&f->nregions);
	sgdma_file_release_region(f, r);
}

static int sgdma_ioctl_info(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_info cmd;
	struct device *dev = f->sd->dev;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if (cmd.flags || cmd.reserved)
		return -EINVAL;

	cmd.abi_version = SGDMA_ABI_VERSION;
	cmd.numa_node = dev_to_node(dev);
	cmd.dma_mask = dma_get_mask(dev);
	cmd.max_segment = dma_get_max_seg_size(dev);
	cmd.seg_boundary = dma_get_seg_boundary(dev);
	cmd.dev_flags = sgdma_dev_translated(dev) ? SGDMA_INFO_IOMMU : 0;
	if (sgdma_dev_coherent(dev))
		cmd.dev_flags |= SGDMA_INFO_COHERENT;
	memset(cmd.name, 0, sizeof(cmd.name));
	strscpy(cmd.name, dev_name(dev), sizeof(cmd.name));
	cmd.features = SGDMA_FEATURES;
	cmd.dma_align = dma_get_cache_alignment();
	return sgdma_respond(ucmd, &cmd, sizeof(cmd));
}

/*
 * Hand a new region to the caller: its first segments into the caller's
 * array (a region of a few segments then needs no GET_SEGS), a handle, and
 * the reply with them.  @r and its count in f->nregions are the file's
 * from here on; on failure both are given up again.  @reply is the
 * caller's struct, whose @inline_count and @handle fields are filled in
 * here (inline for the reply's size, see sgdma_get_arg()).
 */
static __always_inline int
sgdma_file_add_region(struct sgdma_file *f, const struct sgdma_ucmd *ucmd,
		      struct sgdma_region *r, u32 *inline_count,
		      u64 inline_segs, u32 *handle,
		      const void *reply, size_t reply_size)
{
	u64 count = *inline_count;
	int ret = 0;

	if (count) {
		ret = sgdma_region_copy_segs(r, 0, &count,
					     u64_to_user_ptr(inline_segs));
		*inline_count = count;
	}
	if (!ret)
		ret = sgdma_file_name_region(f, r, handle);
	if (ret) {
		sgdma_file_release_region(f, r);
		atomic_dec(&f->nregions);
		return ret;
	}
	ret = sgdma_respond(ucmd, reply, reply_size);
	if (ret)
		sgdma_file_drop_region(f, *handle, r);
	return ret;
}

static int sgdma_ioctl_register(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_register cmd;
	struct sgdma_region *r;
	u64 nsegs;
	u32 slot;
	u8 *stale;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if ((cmd.flags & ~SGDMA_REG_FLAGS) ||
	    !(cmd.flags & SGDMA_REG_DIR_MASK) || cmd.reserved ||
	    cmd.handle || cmd.nsegs || cmd.region_flags ||
	    cmd.status_slot || cmd.reserved2 ||
	    (!cmd.inline_count && cmd.inline_segs))
		return -EINVAL;
	if (atomic_inc_return(&f->nregions) > sgdma_max_regions_per_file) {
		ret = -ENOSPC;
		goto err_count;
	}
	stale = sgdma_file_status_slot(f, &slot);
	if (IS_ERR(stale)) {
		ret = PTR_ERR(stale);
		goto err_count;
	}

	ret = sgdma_region_create(f->sd, cmd.addr, cmd.length, cmd.flags,
				  stale, &r, &nsegs);
	if (ret) {
		if (stale)
			sgdma_file_free_slot(f, slot);
		/* Not contiguous: say how many segments it would have been. */
		if (ret == -E2BIG && nsegs) {
			cmd.nsegs = nsegs;
			sgdma_respond(ucmd, &cmd, sizeof(cmd));
		}
		goto err_count;
	}
	r->status_slot = slot;
	cmd.nsegs = r->nsegs;
	cmd.region_flags = r->facts;
	cmd.status_slot = slot;
	return sgdma_file_add_region(f, ucmd, r, &cmd.inline_count,
				     cmd.inline_segs, &cmd.handle,
				     &cmd, sizeof(cmd));

err_count:
	atomic_dec(&f->nregions);
	return ret;
}

/* A dma-buf's range, as REGISTER does a user buffer (sgdma_dmabuf.c). */
static int sgdma_ioctl_register_dmabuf(struct sgdma_file *f,
				       struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_register_dmabuf cmd;
	struct sgdma_region *r;
	u64 nsegs;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if ((cmd.flags & ~SGDMA_REG_FLAGS) ||
	    !(cmd.flags & SGDMA_REG_DIR_MASK) || cmd.reserved ||
	    cmd.reserved2 || cmd.handle || cmd.nsegs ||
	    cmd.region_flags || (!cmd.inline_count && cmd.inline_segs))
		return -EINVAL;
	if (atomic_inc_return(&f->nregions) > sgdma_max_regions_per_file) {
		ret = -ENOSPC;
		goto err_count;
	}

	ret = sgdma_region_create_dmabuf(f->sd, cmd.fd, cmd.offset,
					 cmd.length, cmd.flags, &r, &nsegs);
	if (ret) {
		if (ret == -E2BIG && nsegs) {
			cmd.nsegs = nsegs;
			sgdma_respond(ucmd, &cmd, sizeof(cmd));
		}
		goto err_count;
	}
	cmd.nsegs = r->nsegs;
	cmd.region_flags = r->facts;
	return sgdma_file_add_region(f, ucmd, r, &cmd.inline_count,
				     cmd.inline_segs, &cmd.handle,
				     &cmd, sizeof(cmd));

err_count:
	atomic_dec(&f->nregions);
	return ret;
}

static int sgdma_ioctl_get_segs(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_get_segs cmd;
	struct sgdma_region *r;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if (cmd.flags || cmd.reserved)
		return -EINVAL;
	r = sgdma_file_get_region(f, cmd.handle);
	if (!r)
		return -ENOENT;

	ret = sgdma_region_copy_segs(r, cmd.first, &cmd.count,
				     u64_to_user_ptr(cmd.segs));
	sgdma_region_put(r);
	if (ret)
		return ret;
	return sgdma_respond(ucmd, &cmd, sizeof(cmd));
}

static int sgdma_ioctl_sync(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_sync cmd;
	struct sgdma_region *r;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if ((cmd.flags != SGDMA_SYNC_FOR_CPU &&
	     cmd.flags != SGDMA_SYNC_FOR_DEVICE) || cmd.reserved)
		return -EINVAL;
	r = sgdma_file_get_region(f, cmd.handle);
	if (!r)
		return -ENOENT;

	ret = sgdma_region_sync(r, cmd.offset, cmd.length,
				cmd.flags == SGDMA_SYNC_FOR_CPU);
	sgdma_region_put(r);
	return ret;
}

static int sgdma_ioctl_unregister(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_unregister cmd;
	struct sgdma_region *r;
	int ret;

	ret = sgdma_get_arg(f, ucmd, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	if (cmd.flags || cmd.reserved)
		return -EINVAL;
	r = sgdma_file_unname_region(f, cmd.handle, NULL);
	if (!r)
		return -ENOENT;
	atomic_dec(&f->nregions);
	sgdma_file_release_region(f, r);
	return 0;
}

struct sgdma_ioctl_op {
	/* Copies its struct in itself: sgdma_get_arg(). */
	int (*execute)(struct sgdma_file *f, struct sgdma_ucmd *ucmd);
	size_t min_size;	/* the first published version of its struct */
	bool query;		/* INFO: any opener, any process sharing it */
};

#define SGDMA_IOCTL_OP(_ioctl, _fn, _struct, _last, _query)		\
	[_IOC_NR(_ioctl) - SGDMA_CMD_BASE] = {				\
		.execute = _fn,						\
		.min_size = offsetofend(_struct, _last),		\
		.query = _query,					\
	}

static const struct sgdma_ioctl_op sgdma_ioctl_ops[] = {
	SGDMA_IOCTL_OP(SGDMA_IOC_INFO, sgdma_ioctl_info,
		       struct sgdma_ioc_info, name, true),
	SGDMA_IOCTL_OP(SGDMA_IOC_REGISTER, sgdma_ioctl_register,
		       struct sgdma_ioc_register, nsegs, false),
	SGDMA_IOCTL_OP(SGDMA_IOC_GET_SEGS, sgdma_ioctl_get_segs,
		       struct sgdma_ioc_get_segs, segs, false),
	SGDMA_IOCTL_OP(SGDMA_IOC_SYNC, sgdma_ioctl_sync,
		       struct sgdma_ioc_sync, length, false),
	SGDMA_IOCTL_OP(SGDMA_IOC_UNREGISTER, sgdma_ioctl_unregister,
		       struct sgdma_ioc_unregister, reserved, false),
	SGDMA_IOCTL_OP(SGDMA_IOC_REGISTER_DMABUF, sgdma_ioctl_register_dmabuf,
		       struct sgdma_ioc_register_dmabuf, inline_segs, false),
};

static long sgdma_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sgdma_file *f = file->private_data;
	const struct sgdma_ioctl_op *op;
	struct sgdma_ucmd ucmd = { .file = file, .ubuf = (void __user *)arg };
	unsigned int nr = _IOC_NR(cmd);

	/*
	 * Type and number only: the size bits are those of the caller's
	 * struct version, which may be older or newer than ours.
	 */
	if (_IOC_TYPE(cmd) != SGDMA_IOCTL_TYPE || nr < SGDMA_CMD_BASE ||
	    nr >= SGDMA_CMD_BASE + ARRAY_SIZE(sgdma_ioctl_ops))
		return -ENOTTY;
	op = &sgdma_ioctl_ops[nr - SGDMA_CMD_BASE];

	if (get_user(ucmd.user_size, (u32 __user *)ucmd.ubuf))
		return -EFAULT;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	if (ucmd.user_size > SGDMA_MAX_ARG_SIZE)
		return -E2BIG;
	ucmd.query = op->query;
	return op->execute(f, &ucmd);
}

static int sgdma_open(struct inode *inode, struct file *file)
{
	struct sgdma_dev *sd;
	struct sgdma_file *f;

	/* Regions pin user memory: an opener without any has nothing to give. */
	if (!current->mm)
		return -EPERM;
	sd = sgdma_dev_get_by_devt(inode->i_rdev);
	if (!sd)
		return -ENODEV;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f) {
		sgdma_dev_put(sd);
		return -ENOMEM;
	}
	if (rhashtable_init(&f->handles, &sgdma_handle_params)) {
		kfree(f);
		sgdma_dev_put(sd);
		return -ENOMEM;
	}
	spin_lock_init(&f->handles_lock);
	f->sd = sd;
	atomic_set(&f->nregions, 0);
	mutex_init(&f->slots_lock);
	xa_init_flags(&f->status_pages, XA_FLAGS_ACCOUNT);
	f->mm = current->mm;
	mmgrab(f->mm);

	file->private_data = f;
	return nonseekable_open(inode, file);
}

/*
 * The status page (offset 0) and the file's region status pages, each
 * read-only and one page per mapping: userspace learns of revocation and
 * of stale regions without a system call.  The mapping holds the page,
 * whatever becomes of the device or the file.
 */
static int sgdma_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct sgdma_file *f = file->private_data;
	struct page *page = virt_to_page(f->sd->status);

	/* MAP_SHARED: VM_SHARED itself is clear for a read-only open. */
	if (vma->vm_end - vma->vm_start != PAGE_SIZE ||
	    !(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff) {
		if (!IS_ENABLED(CONFIG_MMU_NOTIFIER) ||
		    vma->vm_pgoff < SGDMA_STATUS_PGOFF)
			return -EINVAL;
		page = xa_load(&f->status_pages,
			       vma->vm_pgoff - SGDMA_STATUS_PGOFF);
		if (!page)
			return -EINVAL;
	}
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
	sgdma_vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP,
			   VM_MAYWRITE | VM_MAYEXEC);
	return vm_insert_page(vma, vma->vm_start, page);
}

/* The file is closing: a region it still held goes. */
static void sgdma_release_handle(void *region, void *file)
{
	sgdma_file_release_region(file, region);
}

static int sgdma_release(struct inode *inode, struct file *file)
{
	struct sgdma_file *f = file->private_data;
	unsigned long index;
	struct page *page;

	rhashtable_free_and_destroy(&f->handles, sgdma_release_handle, f);
	/* Mappings of the status pages hold their own references. */
	xa_for_each(&f->status_pages, index, page)
		__free_page(page);
	xa_destroy(&f->status_pages);
	bitmap_free(f->slot_map);
	mmdrop(f->mm);
	sgdma_dev_put(f->sd);
	kfree(f);
	return 0;
}

const struct file_operations sgdma_fops = {
	.owner = THIS_MODULE,
	.open = sgdma_open,
	.release = sgdma_release,
	.unlocked_ioctl = sgdma_ioctl,
	.mmap = sgdma_mmap,
	.compat_ioctl = compat_ptr_ioctl,
};
