// SPDX-License-Identifier: GPL-2.0
/*
 * The character device: open, release and the ioctl table.
 */
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sgdma_internal.h"

/* A decoded ioctl: the kernel's copy of the argument and where it came from. */
struct sgdma_ucmd {
	void __user *ubuf;
	u32 user_size;
	void *cmd;
};

/* Copy the (possibly shorter) reply back to the caller's struct. */
static int sgdma_respond(struct sgdma_ucmd *ucmd, size_t ksize)
{
	if (copy_to_user(ucmd->ubuf, ucmd->cmd, min_t(size_t, ucmd->user_size,
						      ksize)))
		return -EFAULT;
	return 0;
}

static int sgdma_ioctl_info(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_info *cmd = ucmd->cmd;
	struct device *dev = f->sd->dev;

	if (cmd->flags || cmd->reserved)
		return -EINVAL;

	cmd->abi_version = SGDMA_ABI_VERSION;
	cmd->numa_node = dev_to_node(dev);
	cmd->dma_mask = dma_get_mask(dev);
	cmd->max_segment = dma_get_max_seg_size(dev);
	cmd->seg_boundary = dma_get_seg_boundary(dev);
	cmd->dev_flags = sgdma_dev_translated(dev) ? SGDMA_INFO_IOMMU : 0;
	memset(cmd->name, 0, sizeof(cmd->name));
	strscpy(cmd->name, dev_name(dev), sizeof(cmd->name));
	return sgdma_respond(ucmd, sizeof(*cmd));
}

static void sgdma_file_remove_region(struct sgdma_file *f, u32 handle,
				     struct sgdma_region *r)
{
	xa_erase(&f->regions, handle);
	f->nregions--;
	sgdma_region_destroy(f, r);
}

static int sgdma_ioctl_register(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_register *cmd = ucmd->cmd;
	struct sgdma_region *r;
	u32 handle;
	int ret;

	if ((cmd->flags & ~SGDMA_REG_DIR_MASK) ||
	    !(cmd->flags & SGDMA_REG_DIR_MASK) || cmd->reserved ||
	    cmd->handle || cmd->nsegs)
		return -EINVAL;
	if (f->nregions >= sgdma_max_regions_per_file)
		return -ENOSPC;

	ret = sgdma_region_create(f, cmd->addr, cmd->length, cmd->flags, &r);
	if (ret)
		return ret;

	/* Cyclic handles: a stale handle does not name a new region. */
	ret = xa_alloc_cyclic(&f->regions, &handle, r, XA_LIMIT(1, U32_MAX),
			      &f->next_handle, GFP_KERNEL);
	if (ret < 0) {
		sgdma_region_destroy(f, r);
		return ret;
	}
	f->nregions++;

	cmd->handle = handle;
	cmd->nsegs = r->nsegs;
	ret = sgdma_respond(ucmd, sizeof(*cmd));
	if (ret)
		sgdma_file_remove_region(f, handle, r);
	return ret;
}

static struct sgdma_region *sgdma_file_region(struct sgdma_file *f,
					      u32 handle)
{
	return xa_load(&f->regions, handle);
}

static int sgdma_ioctl_get_segs(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_get_segs *cmd = ucmd->cmd;
	struct sgdma_region *r;
	int ret;

	if (cmd->flags || cmd->reserved)
		return -EINVAL;
	r = sgdma_file_region(f, cmd->handle);
	if (!r)
		return -ENOENT;

	ret = sgdma_region_copy_segs(r, cmd->first, &cmd->count,
				     u64_to_user_ptr(cmd->segs));
	if (ret)
		return ret;
	return sgdma_respond(ucmd, sizeof(*cmd));
}

static int sgdma_ioctl_sync(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_sync *cmd = ucmd->cmd;
	struct sgdma_region *r;

	if ((cmd->flags != SGDMA_SYNC_FOR_CPU &&
	     cmd->flags != SGDMA_SYNC_FOR_DEVICE) || cmd->reserved)
		return -EINVAL;
	r = sgdma_file_region(f, cmd->handle);
	if (!r)
		return -ENOENT;

	return sgdma_region_sync(f->sd, r, cmd->offset, cmd->length,
				 cmd->flags == SGDMA_SYNC_FOR_CPU);
}

static int sgdma_ioctl_unregister(struct sgdma_file *f, struct sgdma_ucmd *ucmd)
{
	struct sgdma_ioc_unregister *cmd = ucmd->cmd;
	struct sgdma_region *r;

	if (cmd->flags || cmd->reserved)
		return -EINVAL;
	r = sgdma_file_region(f, cmd->handle);
	if (!r)
		return -ENOENT;

	sgdma_file_remove_region(f, cmd->handle, r);
	return 0;
}

union sgdma_ioctl_buffer {
	struct sgdma_ioc_info info;
	struct sgdma_ioc_register reg;
	struct sgdma_ioc_get_segs get_segs;
	struct sgdma_ioc_sync sync;
	struct sgdma_ioc_unregister unreg;
};

struct sgdma_ioctl_op {
	int (*execute)(struct sgdma_file *f, struct sgdma_ucmd *ucmd);
	size_t size;		/* the kernel's struct */
	size_t min_size;	/* the first published version of it */
	bool query;		/* INFO: any opener, any process sharing it */
};

#define SGDMA_IOCTL_OP(_ioctl, _fn, _struct, _last, _query)		\
	[_IOC_NR(_ioctl) - SGDMA_CMD_BASE] = {				\
		.execute = _fn,						\
		.size = sizeof(_struct),				\
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
};

static long sgdma_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sgdma_file *f = file->private_data;
	const struct sgdma_ioctl_op *op;
	union sgdma_ioctl_buffer buf;
	struct sgdma_ucmd ucmd = { .ubuf = (void __user *)arg, .cmd = &buf };
	unsigned int nr = _IOC_NR(cmd);
	int ret;

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
	ret = copy_struct_from_user(&buf, op->size, ucmd.ubuf,
				    ucmd.user_size);
	if (ret)
		return ret;

	if (!op->query) {
		/* The device may write the memory: a read-only open may not. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		/* Regions are charged to, and pin pages of, the opener's mm. */
		if (current->mm != f->mm)
			return -EPERM;
	}

	mutex_lock(&f->lock);
	ret = f->revoked ? -ENODEV : op->execute(f, &ucmd);
	mutex_unlock(&f->lock);
	return ret;
}

static int sgdma_open(struct inode *inode, struct file *file)
{
	struct sgdma_dev *sd = sgdma_dev_get_by_devt(inode->i_rdev);
	struct sgdma_file *f;
	int ret = -ENODEV;

	if (!sd)
		return -ENODEV;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f) {
		ret = -ENOMEM;
		goto err_put;
	}
	f->sd = sd;
	mutex_init(&f->lock);
	xa_init_flags(&f->regions, XA_FLAGS_ALLOC1);
	f->mm = current->mm;
	mmgrab(f->mm);

	mutex_lock(&sd->lock);
	if (!sd->revoked) {
		list_add(&f->node, &sd->files);
		ret = 0;
	}
	mutex_unlock(&sd->lock);
	if (ret)
		goto err_free;

	file->private_data = f;
	return nonseekable_open(inode, file);

err_free:
	mmdrop(f->mm);
	kfree(f);
err_put:
	sgdma_dev_put(sd);
	return ret;
}

static void sgdma_file_release_regions(struct sgdma_file *f)
{
	struct sgdma_region *r;
	unsigned long handle;

	xa_for_each(&f->regions, handle, r)
		sgdma_file_remove_region(f, handle, r);
}

/* Called with f->sd->lock held when the device goes away. */
void sgdma_file_revoke(struct sgdma_file *f)
{
	list_del_init(&f->node);
	mutex_lock(&f->lock);
	f->revoked = true;
	sgdma_file_release_regions(f);
	mutex_unlock(&f->lock);
}

static int sgdma_release(struct inode *inode, struct file *file)
{
	struct sgdma_file *f = file->private_data;
	struct sgdma_dev *sd = f->sd;

	mutex_lock(&sd->lock);
	list_del_init(&f->node);	/* revocation may have done it */
	mutex_unlock(&sd->lock);

	mutex_lock(&f->lock);
	sgdma_file_release_regions(f);
	mutex_unlock(&f->lock);

	xa_destroy(&f->regions);
	mmdrop(f->mm);
	kfree(f);
	sgdma_dev_put(sd);
	return 0;
}

const struct file_operations sgdma_fops = {
	.owner = THIS_MODULE,
	.open = sgdma_open,
	.release = sgdma_release,
	.unlocked_ioctl = sgdma_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
