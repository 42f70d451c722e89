/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sgdma: register a user buffer for DMA by a device and read back the bus
 * addresses of its DMA segments.
 *
 * Every ioctl argument starts with @size (the caller's sizeof the struct)
 * and @flags.  A larger @size than the kernel knows is accepted when the
 * extra bytes are zero (-E2BIG otherwise, and always above 4096); a smaller
 * one than the first published version is -EINVAL.  Unknown flags and non-zero reserved fields
 * are -EINVAL.  An unknown ioctl is -ENOTTY.
 *
 * Errors common to every ioctl:
 *  -EFAULT  the argument (or an array it points to) is not accessible
 *  -ENODEV  the device was un-exposed, unbound or removed (revoked)
 *  -EPERM   the caller's mm is not the one that opened the file
 *           (a forked child may only query INFO and close)
 *  -EBADF   the file was opened read-only (only INFO is allowed)
 */
#ifndef _UAPI_SGDMA_H
#define _UAPI_SGDMA_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define SGDMA_ABI_VERSION 1
#define SGDMA_IOCTL_TYPE 0xD6

/* Direction of a region, as seen from memory.  Both bits: bidirectional. */
#define SGDMA_REG_TO_DEVICE	0x1U  /* device reads the buffer */
#define SGDMA_REG_FROM_DEVICE	0x2U  /* device writes the buffer */
#define SGDMA_REG_DIR_MASK	(SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE)
/* Fail with -E2BIG unless the whole region is one segment on the bus. */
#define SGDMA_REG_REQUIRE_CONTIG 0x4U

/**
 * struct sgdma_ioc_info - SGDMA_IOC_INFO: describe the device behind this file
 * @size: sizeof(struct sgdma_ioc_info)
 * @flags: must be 0
 * @abi_version: out, SGDMA_ABI_VERSION
 * @numa_node: out, the device's NUMA node, -1 when it has none
 * @dma_mask: out, the device's streaming DMA mask
 * @max_segment: out, the longest segment GET_SEGS reports
 * @seg_boundary: out, boundary mask no reported segment crosses
 *                (a segment never spans an address A with (A & mask) == 0,
 *                except at its start)
 * @dev_flags: out, SGDMA_INFO_IOMMU when an IOMMU translates bus addresses,
 *             SGDMA_INFO_COHERENT when the device's DMA is cache-coherent
 *             with the CPUs (no cache maintenance is needed)
 * @reserved: must be 0
 * @name: out, the device's name (e.g. "0000:00:03.0"), NUL-terminated
 * @features: out, SGDMA_FEAT_* bits: what this module does beyond the
 *            first version of the interface (a module without them
 *            leaves the field as the caller passed it, 0)
 * @dma_align: out, the alignment in bytes the kernel asks of buffers that
 *             a non-coherent device writes (dma_get_cache_alignment()):
 *             a buffer that shares such a block with other data may lose
 *             the CPU's writes to that data, or the device's, at a sync
 */
struct sgdma_ioc_info {
	__u32 size;
	__u32 flags;
	__u32 abi_version;
	__s32 numa_node;
	__aligned_u64 dma_mask;
	__aligned_u64 max_segment;
	__aligned_u64 seg_boundary;
	__u32 dev_flags;
	__u32 reserved;
	char name[64];
	__u32 features;
	__u32 dma_align;
};

#define SGDMA_INFO_IOMMU	0x1U
#define SGDMA_INFO_COHERENT	0x2U	/* valid with SGDMA_FEAT_COHERENCE */

/* REGISTER reports @region_flags and takes SGDMA_REG_REQUIRE_CONTIG. */
#define SGDMA_FEAT_REGION_FLAGS	0x1U
/* REGISTER copies the first segments out (@inline_count, @inline_segs). */
#define SGDMA_FEAT_INLINE_SEGS	0x2U
/* INFO reports SGDMA_INFO_COHERENT and @dma_align. */
#define SGDMA_FEAT_COHERENCE	0x4U
/* The file can be mapped read-only: struct sgdma_status. */
#define SGDMA_FEAT_STATUS	0x8U
/* SGDMA_IOC_REGISTER_DMABUF registers a dma-buf. */
#define SGDMA_FEAT_DMABUF	0x20U
/* REGISTER reports @status_slot: the region's byte in the status pages. */
#define SGDMA_FEAT_REGION_STATUS 0x10U

/**
 * struct sgdma_status - the device file's status page
 * @revoked: 1 from the moment the device is revoked (every ioctl then
 *           fails with -ENODEV); never goes back to 0
 * @reserved: 0
 *
 * mmap() of one page at offset 0 of the device file, PROT_READ and
 * MAP_SHARED (anything else is -EINVAL, writable or executable -EPERM)
 * shows what the module says of the device without a system call.  The
 * rest of the page is 0.
 */
struct sgdma_status {
	__u32 revoked;
	__u32 reserved;
};

/*
 * The file's region status pages (with SGDMA_FEAT_REGION_STATUS): one byte
 * per region, at byte @status_slot of the REGISTER reply.  Byte s is byte
 * (s % page size) of the page mapped, PROT_READ and MAP_SHARED, at offset
 * SGDMA_REGION_STATUS_OFFSET + (s / page size) * page size of the device
 * file (one page per mmap(); a page no region of the file has had a slot
 * in yet is -EINVAL).  The byte is 0 while the pages the region pinned are
 * the ones mapped at its addresses, and becomes SGDMA_REGION_STALE (for
 * good) when the kernel unmaps, remaps or replaces any of them: munmap(),
 * mremap(), MADV_DONTNEED, a copy-on-write, a mapping over it, the exit of
 * the process.  Protection changes (mprotect(), write protection for
 * fork() or dirty tracking) leave the pages in place and the byte as it is.
 * It may also become stale when the kernel only tried to move a page (a
 * huge page split, a failed migration or reclaim): stale means "may no
 * longer be", never the reverse.  A stale region stays pinned and mapped
 * for the device until it is unregistered.
 */
#define SGDMA_REGION_STATUS_OFFSET	0x100000ULL
#define SGDMA_REGION_STALE		0x1U

/**
 * struct sgdma_ioc_register - SGDMA_IOC_REGISTER: pin and DMA-map a user buffer
 * @size: sizeof(struct sgdma_ioc_register)
 * @flags: one or both of SGDMA_REG_TO_DEVICE and SGDMA_REG_FROM_DEVICE,
 *         and optionally SGDMA_REG_REQUIRE_CONTIG
 * @addr: start of the buffer (any alignment)
 * @length: length in bytes, > 0
 * @handle: out, names the region in later calls (never 0); 0 on input
 * @reserved: must be 0
 * @nsegs: out, number of DMA segments GET_SEGS reports for the region;
 *         0 on input.  Also set when SGDMA_REG_REQUIRE_CONTIG fails with
 *         -E2BIG: the number of segments the region would have had.
 * @region_flags: out, SGDMA_REGION_* facts about the mapping; 0 on input
 * @inline_count: in, room in @inline_segs, in entries (0: none);
 *                out, the segments written there, from segment 0 on
 * @inline_segs: in, user pointer to an array of struct sgdma_ioc_seg,
 *               or 0 when @inline_count is 0
 * @status_slot: out, the region's byte in the file's region status pages
 *               (with SGDMA_FEAT_REGION_STATUS); 0 on input.  A slot is
 *               given again once its region is unregistered.
 * @reserved2: must be 0
 *
 * The whole buffer is handed to the device, as a SYNC for the device of
 * every byte would; UNREGISTER syncs nothing back.  With @inline_count a
 * region of few segments is fully described by REGISTER alone; GET_SEGS
 * reads the rest, cheapest from index @inline_count on.
 *
 * Errors: -EINVAL (length 0, @addr + @length overflows, bad flags or
 * reserved, an output field not 0, @inline_segs without @inline_count),
 * -EFAULT (a page is not mapped, is PROT_NONE, is I/O memory, is
 * read-only while the device may write, is a shared mapping of a file
 * whose filesystem tracks writes while the device may write, @addr is not
 * a user address, or @inline_segs is not writable), -E2BIG (longer than
 * the max_region_bytes module parameter; or SGDMA_REG_REQUIRE_CONTIG and
 * more than one segment, with @nsegs set), -ENOSPC (the file has
 * max_regions_per_file regions), -ENOMEM (over the RLIMIT_MEMLOCK of the
 * calling user without CAP_IPC_LOCK, or out of memory), -EIO (the DMA
 * mapping failed, e.g. no bounce buffer space for a device with a small
 * mask, or over the max_bounce_bytes module parameter for the calling
 * user), -EBUSY (the device's IOMMU domain changed since it was exposed,
 * or a device of its IOMMU group is owned by a driver that manages DMA
 * itself).
 */
struct sgdma_ioc_register {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 length;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 nsegs;
	__u32 region_flags;
	__u32 inline_count;
	__aligned_u64 inline_segs;
	__u32 status_slot;
	__u32 reserved2;
};

/* struct sgdma_ioc_register.region_flags */
/* Some segment goes through swiotlb bounce buffers: only SYNC moves data. */
#define SGDMA_REGION_BOUNCED	0x1U
/* SYNC does work (bounce copies or cache maintenance); clear: SYNC is a no-op. */
#define SGDMA_REGION_NEEDS_SYNC	0x2U
/* One segment: the device sees the buffer as one bus address range. */
#define SGDMA_REGION_CONTIGUOUS	0x4U

/**
 * struct sgdma_ioc_seg - one DMA segment of a region
 * @addr: bus address the device uses
 * @len: length in bytes
 * @offset: offset of the segment's first byte in the buffer
 */
struct sgdma_ioc_seg {
	__aligned_u64 addr;
	__aligned_u64 len;
	__aligned_u64 offset;
};

/**
 * struct sgdma_ioc_get_segs - SGDMA_IOC_GET_SEGS: copy out a range of segments
 * @size: sizeof(struct sgdma_ioc_get_segs)
 * @flags: must be 0
 * @handle: the region
 * @reserved: must be 0
 * @first: index of the first segment to copy (< nsegs)
 * @count: in: room in @segs, in entries (> 0); out: entries written
 * @segs: user pointer to an array of struct sgdma_ioc_seg
 *
 * Reading in increasing order of @first costs O(@count) per call.
 * Errors: -ENOENT (no such handle), -EINVAL (@first >= nsegs, @count 0).
 */
struct sgdma_ioc_get_segs {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 first;
	__aligned_u64 count;
	__aligned_u64 segs;
};

/* Exactly one of these in struct sgdma_ioc_sync.flags. */
#define SGDMA_SYNC_FOR_CPU	0x1U
#define SGDMA_SYNC_FOR_DEVICE	0x2U

/**
 * struct sgdma_ioc_sync - SGDMA_IOC_SYNC: hand a byte range to the CPU or device
 * @size: sizeof(struct sgdma_ioc_sync)
 * @flags: SGDMA_SYNC_FOR_CPU or SGDMA_SYNC_FOR_DEVICE
 * @handle: the region
 * @reserved: must be 0
 * @offset: first byte of the range, in the buffer
 * @length: bytes, > 0; @offset + @length <= the region's length
 *
 * Exactly the bytes of the range are synced (copied from or to bounce
 * buffers, or flushed from caches where the machine needs it).
 * Errors: -ENOENT (no such handle), -EINVAL (range outside the region).
 */
struct sgdma_ioc_sync {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 offset;
	__aligned_u64 length;
};

/**
 * struct sgdma_ioc_unregister - SGDMA_IOC_UNREGISTER: unmap and unpin a region
 * @size: sizeof(struct sgdma_ioc_unregister)
 * @flags: must be 0
 * @handle: the region; its number is not given out again by this file
 *          until the handle space wraps
 * @reserved: must be 0
 *
 * Errors: -ENOENT (no such handle, or already unregistered).
 */
struct sgdma_ioc_unregister {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
};

/**
 * struct sgdma_ioc_register_dmabuf - SGDMA_IOC_REGISTER_DMABUF: map a dma-buf
 * @size: sizeof(struct sgdma_ioc_register_dmabuf)
 * @flags: as for SGDMA_IOC_REGISTER: one or both of SGDMA_REG_TO_DEVICE
 *         and SGDMA_REG_FROM_DEVICE, optionally SGDMA_REG_REQUIRE_CONTIG
 * @fd: a file descriptor of the dma-buf (udmabuf, a DMA heap, a GPU or
 *      camera driver's export)
 * @reserved: must be 0
 * @offset: first byte of the region in the dma-buf (any alignment)
 * @length: bytes, > 0; @offset + @length <= the dma-buf's size
 * @handle: out, as for SGDMA_IOC_REGISTER; 0 on input
 * @region_flags: out, SGDMA_REGION_*; 0 on input
 * @nsegs: out, as for SGDMA_IOC_REGISTER (also set on -E2BIG); 0 on input
 * @inline_count: as for SGDMA_IOC_REGISTER
 * @reserved2: must be 0
 * @inline_segs: as for SGDMA_IOC_REGISTER
 *
 * The module attaches the exposed device to the dma-buf as a static
 * (pinned) importer, has the exporter map it for the device and keeps a
 * reference to the dma-buf until the region is released (UNREGISTER,
 * close, revocation), so the dma-buf's own descriptor may be closed.
 * Segments, SYNC and UNREGISTER work as for a user buffer; segment offsets
 * count from @offset.  Nothing is charged to RLIMIT_MEMLOCK: the memory is
 * the exporter's.
 *
 * Errors: -EBADF (@fd is not an open file), -EINVAL (@fd is not a
 * dma-buf, @length 0, the range is outside the dma-buf, bad flags or
 * reserved, an output field not 0), -EACCES (the dma-buf was opened
 * without write access and the device would write, or without read
 * access and the device would read), -EOPNOTSUPP (the kernel has no
 * dma-buf support), -E2BIG, -ENOSPC, -EIO (the exporter could not map
 * the buffer for the device, e.g. no bounce buffer space), -EBUSY as for
 * SGDMA_IOC_REGISTER, or an error of the exporter's attach or map.
 */
struct sgdma_ioc_register_dmabuf {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 reserved;
	__aligned_u64 offset;
	__aligned_u64 length;
	__u32 handle;
	__u32 region_flags;
	__aligned_u64 nsegs;
	__u32 inline_count;
	__u32 reserved2;
	__aligned_u64 inline_segs;
};

/* The ioctl numbers, in order; new commands are added at the end. */
enum sgdma_cmd {
	SGDMA_CMD_BASE = 0x80,
	SGDMA_CMD_INFO = SGDMA_CMD_BASE,
	SGDMA_CMD_REGISTER,
	SGDMA_CMD_GET_SEGS,
	SGDMA_CMD_SYNC,
	SGDMA_CMD_UNREGISTER,
	SGDMA_CMD_REGISTER_DMABUF,
};

#define SGDMA_IOC_INFO \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_INFO, struct sgdma_ioc_info)
#define SGDMA_IOC_REGISTER \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_REGISTER, struct sgdma_ioc_register)
#define SGDMA_IOC_GET_SEGS \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_GET_SEGS, struct sgdma_ioc_get_segs)
#define SGDMA_IOC_SYNC \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_SYNC, struct sgdma_ioc_sync)
#define SGDMA_IOC_UNREGISTER \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_UNREGISTER, struct sgdma_ioc_unregister)
#define SGDMA_IOC_REGISTER_DMABUF \
	_IOWR(SGDMA_IOCTL_TYPE, SGDMA_CMD_REGISTER_DMABUF, \
	      struct sgdma_ioc_register_dmabuf)

#endif /* _UAPI_SGDMA_H */
