/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsgdma: register your own buffer for DMA by a device exposed by the
 * sgdma kernel module, and read back the bus address of each DMA segment.
 *
 *	struct sgdma_region *r = sgdma_register(buf, len);
 *	if (!r)
 *		errx(1, "%s", sgdma_last_error());
 *	for (size_t i = 0; i < sgdma_region_nsegs(r); i++)
 *		program_descriptor(sgdma_region_segs(r)[i]);
 *	sgdma_sync_for_device(r, 0, len);	// CPU wrote, device reads
 *	...device DMA...
 *	sgdma_sync_for_cpu(r, 0, len);		// device wrote, CPU reads
 *	sgdma_unregister(r);
 *
 * Conventions:
 *  - Functions returning a pointer return NULL on failure and set errno.
 *  - Functions returning int return 0 on success, or a negative errno value
 *    on failure and also set errno to the positive value.
 *  - After any failure, sgdma_last_error() gives a human-readable message
 *    for it (per thread).
 *  - All functions are thread-safe.  A region or device must not be used
 *    by one thread while another thread unregisters or closes it.
 *  - Regions and devices belong to the process that opened the device: a
 *    forked child gets EPERM from every call but sgdma_dev_info(),
 *    sgdma_close() and the pure accessors.
 *
 * Environment:
 *  SGDMA_DEVICE   the default device, as a device name (e.g. "0000:00:03.0")
 *                 or a path; unset or empty: the only exposed device.
 *  SGDMA_DEV_DIR  the directory holding the device nodes, default
 *                 "/dev/sgdma" (meant for tests).
 * Both are ignored in set-user-ID/set-group-ID programs (secure_getenv).
 */
#ifndef SGDMA_H
#define SGDMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Direction flags for sgdma_dev_register(), as seen from memory. */
#define SGDMA_TO_DEVICE     1U /* the device reads the buffer */
#define SGDMA_FROM_DEVICE   2U /* the device writes the buffer */
#define SGDMA_BIDIRECTIONAL 3U /* both */
/* Or-ed with a direction: fail with E2BIG unless the region is one segment. */
#define SGDMA_REQUIRE_CONTIG 4U

/* Facts about a registered region, from sgdma_region_flags(). */
#define SGDMA_BOUNCED          1U /* some segment goes through swiotlb bounce buffers */
#define SGDMA_NEEDS_SYNC       2U /* syncs copy or maintain caches; clear: they are no-ops */
#define SGDMA_CONTIGUOUS       4U /* one segment: one bus address range */
#define SGDMA_CACHELINE_SHARED 8U /* non-coherent device writes a partial cache line */

/* Default directory of the device nodes (overridden by $SGDMA_DEV_DIR). */
#define SGDMA_DEV_DIR_DEFAULT "/dev/sgdma"

/**
 * struct sgdma_seg - one DMA segment of a registered region
 * @addr: bus address the device uses for the segment's first byte
 * @len: length of the segment in bytes (> 0)
 * @offset: offset of the segment's first byte from the buffer's start
 *
 * The segments of a region are sorted by @offset and cover the buffer
 * exactly, without gaps or overlap.
 */
struct sgdma_seg {
	uint64_t addr;
	uint64_t len;
	uint64_t offset;
};

/* An open sgdma device (opaque). */
struct sgdma_dev;
/* A registered (pinned and DMA-mapped) buffer (opaque). */
struct sgdma_region;

/**
 * struct sgdma_dev_info - what the module reports about a device
 * @name: the device's name, e.g. "0000:00:03.0", NUL-terminated
 * @numa_node: the device's NUMA node, -1 when it has none
 * @dma_mask: the device's streaming DMA mask
 * @max_segment: the longest segment the module reports for this device
 * @seg_boundary: boundary MASK no reported segment crosses (Linux
 *                convention: a segment never contains an address A with
 *                (A & mask) == 0 except at its start); pass
 *                @seg_boundary + 1 as the @boundary of sgdma_split_segs()
 *                (an all-ones mask wraps to 0, "no boundary")
 * @iommu: true when an IOMMU translates the device's bus addresses
 */
struct sgdma_dev_info {
	char name[64];
	int numa_node;
	uint64_t dma_mask;
	uint64_t max_segment;
	uint64_t seg_boundary;
	bool iommu;
};

/**
 * sgdma_register() - register a buffer with the default device
 * @buf: start of the buffer (any alignment)
 * @len: length in bytes, > 0
 *
 * Pins @buf and maps it for bidirectional DMA by the default device:
 * $SGDMA_DEVICE if set and non-empty, else the only device in the device
 * directory.  The default device is opened on first use and kept open; it
 * is opened again after it was revoked, or in a forked child (see
 * sgdma_default_dev()).
 *
 * Return: the region, or NULL with errno set: the errors of
 * sgdma_default_dev() and of sgdma_dev_register().
 */
struct sgdma_region *sgdma_register(void *buf, size_t len);

/**
 * sgdma_default_dev() - the default device, opened on first use
 *
 * Resolves the default device as sgdma_open(NULL) does, opens it once per
 * process (thread-safely) and keeps it open.  A failed attempt is not
 * remembered: a later call tries again.
 *
 * A default device that was revoked (a call through it failed with
 * ENODEV), or that a forked child inherited from its parent, is replaced:
 * the next call of sgdma_default_dev() or sgdma_register() opens the
 * default device again.  The pointer returned stays valid until the
 * process exits, also once replaced: the library keeps a replaced default
 * that it handed out, with its file, instead of freeing it, and calls
 * through it fail as before (ENODEV after revocation, EPERM in a forked
 * child).  The caller never releases the result: sgdma_close() on it is a
 * no-op.
 *
 * Return: the device, or NULL with errno set as by sgdma_open().
 */
struct sgdma_dev *sgdma_default_dev(void);

/**
 * sgdma_open() - open an sgdma device
 * @name: a device name ("0000:00:03.0", looked up in $SGDMA_DEV_DIR, default
 *        /dev/sgdma), a path (anything containing '/'), or NULL for the
 *        default device ($SGDMA_DEVICE, else the only exposed device)
 *
 * Each call returns a new handle; release it with sgdma_close().
 *
 * Return: the device, or NULL with errno set:
 *  EINVAL       @name is empty
 *  ENAMETOOLONG the resulting path is too long
 *  ENODEV       @name is NULL and no device is exposed
 *  ENOTUNIQ     @name is NULL, $SGDMA_DEVICE is unset and several devices
 *               are exposed (the message lists them)
 *  ENOENT       no such device node
 *  EACCES       no permission to open the device node
 *  ENOTTY       the file is not an sgdma device
 *  EPROTO       the module speaks another ABI version than this library
 *  ENOMEM       out of memory
 *  or any other error of open(2) or of the INFO ioctl.
 */
struct sgdma_dev *sgdma_open(const char *name);

/**
 * sgdma_close() - release a device handle
 * @dev: the device, or NULL (no-op)
 *
 * Regions registered through @dev stay valid: each holds a reference, and
 * the file is closed when the last of them is unregistered.  Closing a
 * default device (sgdma_default_dev(), or sgdma_region_dev() of a region
 * of sgdma_register()) is a no-op.
 */
void sgdma_close(struct sgdma_dev *dev);

/**
 * sgdma_dev_info() - describe a device
 * @dev: the device
 * @info: filled in on success
 *
 * Return: 0, or -EINVAL when @dev or @info is NULL.
 */
int sgdma_dev_info(const struct sgdma_dev *dev, struct sgdma_dev_info *info);

/**
 * sgdma_dev_coherent() - whether a device's DMA is cache-coherent
 * @dev: the device
 *
 * On a coherent device (every x86 machine, most arm64 servers) the device
 * sees what the CPU caches hold; on a non-coherent one (many Zynq and
 * Versal designs) each sync cleans or invalidates cache lines, and buffers
 * the device writes should be aligned to the cache line (see
 * sgdma_dev_register()).
 *
 * Return: 1 when coherent, 0 when not, or a negative errno:
 *  -EINVAL      @dev is NULL
 *  -EOPNOTSUPP  the sgdma module is older than this library and does not
 *               report coherence
 */
int sgdma_dev_coherent(const struct sgdma_dev *dev);

/**
 * sgdma_dev_dma_align() - the alignment buffers a non-coherent device writes need
 * @dev: the device
 *
 * The block in which the kernel cleans and invalidates caches for DMA
 * (dma_get_cache_alignment(): the cache line, or the largest one the CPUs
 * may have, e.g. 64 or 128 bytes on arm64).  On a device that is not
 * coherent, a buffer the device writes should start and end on a multiple
 * of it.
 *
 * Return: the alignment in bytes (a power of two, >= 1), or 0 when @dev is
 * NULL (errno EINVAL) or the module is older than this library and does
 * not say (errno EOPNOTSUPP).
 */
size_t sgdma_dev_dma_align(const struct sgdma_dev *dev);

/**
 * sgdma_dev_register() - register a buffer with a device
 * @dev: the device
 * @buf: start of the buffer (any alignment)
 * @len: length in bytes, > 0
 * @flags: SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE or SGDMA_BIDIRECTIONAL,
 *         optionally or-ed with SGDMA_REQUIRE_CONTIG
 *
 * Pins the pages of @buf, maps them for DMA by the device, hands the whole
 * buffer to the device (as sgdma_sync_for_device() would) and reads all
 * the DMA segments.  With SGDMA_REQUIRE_CONTIG the registration fails
 * unless the device sees the whole buffer as one bus address range (for a
 * DMA engine with a single address register); the message says how many
 * segments it would have been.  A region of a few segments takes one
 * ioctl to register (the module returns its segments with the reply).
 *
 * On a device whose DMA is not cache-coherent (see sgdma_dev_coherent()),
 * a buffer the device writes (SGDMA_FROM_DEVICE or SGDMA_BIDIRECTIONAL)
 * should start and end on a cache-line boundary: a sync of a partial line
 * can lose the CPU's writes to the other bytes of that line, or the
 * device's.  Such a registration succeeds, its region has
 * SGDMA_CACHELINE_SHARED, and the library prints a warning on stderr, once
 * per device handle.  The buffer must stay mapped (not munmap()ed nor
 * remapped) until sgdma_unregister().  The pinned pages count against the
 * RLIMIT_MEMLOCK of the calling user, for all of that user's regions,
 * unless the process has CAP_IPC_LOCK; the charge goes when the region
 * does, whichever process holds it then.
 *
 * Return: the region, or NULL with errno set:
 *  EINVAL  @dev or @buf is NULL, @len is 0, @buf + @len overflows, or
 *          @flags is not one of the three directions above (with or
 *          without SGDMA_REQUIRE_CONTIG)
 *  EFAULT  the buffer is not fully mapped, is PROT_NONE, is I/O memory, is
 *          read-only while the device writes it, or is a shared mapping of
 *          a file whose filesystem tracks writes (ext4, xfs) while the
 *          device writes it
 *  ENOMEM  over RLIMIT_MEMLOCK without CAP_IPC_LOCK, or out of memory
 *  E2BIG   longer than the module's max_region_bytes parameter, or
 *          SGDMA_REQUIRE_CONTIG and the buffer is more than one segment
 *  ENOSPC  the device file has max_regions_per_file regions already
 *  EIO     the DMA mapping failed (e.g. no bounce buffer space, or over the
 *          module's max_bounce_bytes for this user)
 *  EBUSY   the device's IOMMU setup changed since it was exposed
 *  ENODEV  the device was revoked (un-exposed, unbound or removed)
 *  EPERM   called from a forked child of the process that opened @dev
 *  EPROTO  the module reported something inconsistent
 */
struct sgdma_region *sgdma_dev_register(struct sgdma_dev *dev, void *buf, size_t len,
                                        unsigned int flags);

/**
 * sgdma_register_dmabuf() - register a range of a dma-buf with a device
 * @dev: the device
 * @fd: a file descriptor of the dma-buf: from udmabuf (a memfd's pages), a
 *      DMA heap (/dev/dma_heap/system), a camera, GPU or other driver
 * @offset: first byte of the range in the dma-buf (any alignment)
 * @len: length in bytes, > 0, with @offset + @len at most the dma-buf's
 *       size
 * @flags: as for sgdma_dev_register(): SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE
 *         or SGDMA_BIDIRECTIONAL, optionally or-ed with SGDMA_REQUIRE_CONTIG
 *
 * The module attaches the device to the dma-buf (as a pinned importer:
 * the exporter keeps the memory in place), has the exporter map it for the
 * device and keeps a reference to the dma-buf until the region is
 * unregistered: @fd may be closed at once.  The region is like one of
 * sgdma_dev_register(): its segments (offsets count from @offset), flags,
 * sgdma_sync_for_device(), sgdma_sync_for_cpu() and sgdma_unregister()
 * work the same, and it goes with the device file as well (close,
 * revocation).  sgdma_region_addr() is NULL and sgdma_region_node_pages()
 * fails with -EOPNOTSUPP: the memory is the exporter's, and so is its
 * accounting (nothing is charged to RLIMIT_MEMLOCK).  The syncs are those
 * of the device's mapping; a program that also reads or writes the
 * dma-buf through its own mmap() brackets that with DMA_BUF_IOCTL_SYNC, as
 * the exporter asks.  Whether the exporter syncs when the region is
 * unregistered is the exporter's choice (udmabuf does not, the system heap
 * does).
 *
 * Return: the region, or NULL with errno set:
 *  EINVAL      @dev is NULL, @len is 0, @offset + @len overflows, @flags is
 *              not valid, @fd is not a dma-buf, or the range is outside the
 *              dma-buf (the message says which)
 *  EBADF       @fd is not an open file descriptor
 *  EACCES      the dma-buf was created read-only while the device writes it
 *              (or write-only while the device reads it)
 *  EOPNOTSUPP  the sgdma module is older than this library, or its kernel
 *              has no dma-buf support
 *  EIO         the exporter could not map the dma-buf for the device (e.g.
 *              no bounce buffer space for a device with a small DMA mask)
 *  E2BIG, ENOSPC, ENOMEM, EBUSY, ENODEV, EPERM, EPROTO
 *              as for sgdma_dev_register()
 *  or another error of the exporter's attach or map.
 */
struct sgdma_region *sgdma_register_dmabuf(struct sgdma_dev *dev, int fd, size_t offset, size_t len,
                                           unsigned int flags);

/**
 * sgdma_region_nsegs() - number of DMA segments of a region
 * @r: the region
 *
 * Return: the number of entries of sgdma_region_segs() (>= 1), 0 if @r is
 * NULL.
 */
size_t sgdma_region_nsegs(const struct sgdma_region *r);

/**
 * sgdma_region_segs() - the DMA segments of a region
 * @r: the region
 *
 * Return: an array of sgdma_region_nsegs() segments sorted by offset,
 * owned by the region and valid until sgdma_unregister(); NULL if @r is
 * NULL.
 */
const struct sgdma_seg *sgdma_region_segs(const struct sgdma_region *r);

/**
 * sgdma_region_flags() - what the mapping of a region is like
 * @r: the region
 *
 * Return: an or of
 *  SGDMA_BOUNCED          some segment goes through swiotlb bounce buffers
 *                         (the device's DMA mask does not reach the memory,
 *                         or the IOMMU layer bounces the device): data
 *                         moves between buffer and device only at syncs
 *  SGDMA_NEEDS_SYNC       a sync copies bounce buffers or maintains caches;
 *                         when clear, sgdma_sync_for_device() and
 *                         sgdma_sync_for_cpu() return at once, without
 *                         entering the kernel
 *  SGDMA_CONTIGUOUS       one segment: the device sees the buffer as one bus
 *                         address range
 *  SGDMA_CACHELINE_SHARED the device is not cache-coherent, writes the
 *                         buffer, and the buffer's first or last cache line
 *                         also holds bytes outside it
 * 0 if @r is NULL.  With a module older than this library, which does not
 * report them, SGDMA_NEEDS_SYNC is always set and SGDMA_BOUNCED never.
 */
unsigned int sgdma_region_flags(const struct sgdma_region *r);

/**
 * sgdma_region_dev() - the device a region is registered with
 * @r: the region
 *
 * Return: the device (valid at least as long as the region), NULL if @r is
 * NULL.
 */
struct sgdma_dev *sgdma_region_dev(const struct sgdma_region *r);

/**
 * sgdma_region_len() - length of a region's buffer
 * @r: the region
 *
 * Return: the @len it was registered with, 0 if @r is NULL.
 */
size_t sgdma_region_len(const struct sgdma_region *r);

/**
 * sgdma_region_addr() - start of a region's buffer
 * @r: the region
 *
 * Return: the @buf it was registered with, NULL if @r is NULL or a region of
 * a dma-buf (sgdma_register_dmabuf()).
 */
void *sgdma_region_addr(const struct sgdma_region *r);

/**
 * sgdma_region_node_pages() - on which NUMA nodes a region's pages are
 * @r: the region
 * @pages_per_node: filled with the number of the region's pages on each
 *                  node: entry i for node i, 0 for nodes with none
 * @max_nodes: entries in @pages_per_node, >= 1 (e.g. numa_num_possible_nodes()
 *             of libnuma, or the highest node of
 *             /sys/devices/system/node/possible + 1)
 *
 * Asks the kernel where each page of the buffer is now (move_pages(2)
 * without moving anything); compare with sgdma_dev_info()'s @numa_node.
 * Pages are counted in units of the system page size, one per page the
 * buffer touches, also inside a transparent huge page.  A page the kernel
 * reports no node for (e.g. of a buffer munmap()ed while registered,
 * against the rules of sgdma_dev_register()) is not counted, so the sum can
 * be below the region's page count.  Pinned pages do
 * not migrate while registered (the kernel refuses to move them), so the
 * answer holds until sgdma_unregister().
 *
 * Return: the number of nodes seen (highest node holding a page + 1; 0 if
 * no page was counted), or a negative errno:
 *  -EINVAL  @r or @pages_per_node is NULL, or @max_nodes < 1
 *  -ERANGE  a page is on node @max_nodes or higher (the message names the
 *           node); the entries below @max_nodes are filled in anyway
 *  -ENOSYS  the kernel has no NUMA support (CONFIG_NUMA off)
 *  -EOPNOTSUPP  @r is a region of a dma-buf (sgdma_register_dmabuf())
 *  -EPERM   called from a forked child
 *  or another error of move_pages(2).
 * Uses no libnuma: no extra library to link.
 */
int sgdma_region_node_pages(const struct sgdma_region *r, size_t *pages_per_node, int max_nodes);

/**
 * sgdma_sync_for_device() - hand a byte range to the device
 * @r: the region
 * @off: first byte of the range, from the buffer's start
 * @len: bytes, > 0, with @off + @len <= sgdma_region_len(@r)
 *
 * Call after the CPU wrote the range and before the device reads it (or
 * before the device writes it, to drop stale cache lines).  Exactly the
 * bytes of the range are copied to bounce buffers; caches are maintained
 * in whole cache lines where the machine needs it.  When the region does
 * not need syncs (no SGDMA_NEEDS_SYNC in sgdma_region_flags()) the call
 * checks its arguments and returns without entering the kernel: it learns
 * of revocation from the module's status page and of a fork from
 * pthread_atfork(), and fails as the kernel would have.
 *
 * Return: 0, or a negative errno:
 *  -EINVAL  @r is NULL, @len is 0 or the range is outside the region
 *  -ENODEV  the device was revoked
 *  -EPERM   called from a forked child
 */
int sgdma_sync_for_device(struct sgdma_region *r, size_t off, size_t len);

/**
 * sgdma_sync_for_cpu() - hand a byte range back to the CPU
 * @r: the region
 * @off: first byte of the range, from the buffer's start
 * @len: bytes, > 0, with @off + @len <= sgdma_region_len(@r)
 *
 * Call after the device wrote the range and before the CPU reads it.
 *
 * Return: 0, or a negative errno as sgdma_sync_for_device().
 */
int sgdma_sync_for_cpu(struct sgdma_region *r, size_t off, size_t len);

/**
 * sgdma_unregister() - unmap and unpin a region, and free it
 * @r: the region
 *
 * The device must no longer access the buffer.  Nothing is synced: what
 * the device wrote is in the buffer only where sgdma_sync_for_cpu() was
 * called for it (so that releasing one region never overwrites what the
 * CPU, or the device through another region of the same memory, wrote
 * since).  @r is freed even when the module reports an error (e.g.
 * -ENODEV after revocation: the module has already unmapped the region),
 * and drops its reference to the device.  With the registration cache
 * (sgdma_cache_enable()), the call drops one reference to a region the
 * cache may have handed out several times, and returns 0; the region is
 * unregistered once no user and not the cache holds it.
 *
 * Return: 0, or a negative errno:
 *  -EINVAL  @r is NULL (nothing is freed)
 *  -ENODEV  the device was revoked (the region is gone anyway)
 *  -EPERM   called from a forked child (the child's copy is freed; the
 *           parent's region is untouched)
 *  -ENOENT  the module did not know the region
 */
int sgdma_unregister(struct sgdma_region *r);

/**
 * sgdma_cache_enable() - turn the registration cache of a device on or off
 * @dev: the device
 * @on: non-zero to cache, 0 to stop
 *
 * With the cache on, every region registered on @dev is kept on a list
 * that holds a reference to it, as the registration caches of MPI and UCX
 * do: a region stays registered after its last sgdma_unregister(), and
 * sgdma_dev_register() (or sgdma_register() on the default device) of a
 * range that a listed, valid (see sgdma_region_valid()) region with the
 * same direction covers returns that region, without a system call, with
 * one more reference; sgdma_unregister() drops one.  The returned region
 * may start before @buf and end after @buf + @len: the segment offsets
 * count from sgdma_region_addr(), so the bytes asked for start at offset
 * @buf - sgdma_region_addr().  With SGDMA_REQUIRE_CONTIG only a contiguous
 * region is returned.
 *
 * A region whose memory was unmapped or replaced since it was registered
 * (munmap() and mmap() at the same address, mremap(), MADV_DONTNEED, a
 * copy-on-write) is stale and never returned: such a registration pins and
 * maps the memory now there, and the stale region is unregistered once
 * nobody holds it.  The cache lets go of the regions only it holds when a
 * registration fails for want of locked memory, regions or bounce space
 * (and then tries again), when it is turned off, and when sgdma_close()
 * closes @dev; until then they stay pinned and count against
 * RLIMIT_MEMLOCK.  Regions in use keep their references.  Off by default;
 * a replaced default device (after revocation or in a forked child) starts
 * with it off.
 *
 * Return: 0, or a negative errno:
 *  -EINVAL      @dev is NULL
 *  -EOPNOTSUPP  @on and the sgdma module does not report stale regions
 *               (it is older than this libsgdma)
 */
int sgdma_cache_enable(struct sgdma_dev *dev, int on);

/**
 * sgdma_region_valid() - whether a region still maps the memory at its addresses
 * @r: the region
 *
 * Reads the region's status byte, which the kernel sets when it unmaps,
 * remaps or replaces any page of the region (munmap(), mremap(),
 * MADV_DONTNEED, a copy-on-write, process exit): from then on the device
 * reaches the pages pinned at registration, no longer the memory the
 * program sees at those addresses.  Protection changes (mprotect(), the
 * write protection fork() sets up) keep a region valid.  The kernel may
 * also report a region stale when it only tried to move one of its pages
 * (a huge page split, a failed migration or reclaim): stale means "may no
 * longer be".  A stale region stays pinned and mapped until unregistered.
 * No system call.
 *
 * Return: 1 when valid, 0 when stale, when the device was revoked or in a
 * forked child; or a negative errno:
 *  -EINVAL      @r is NULL
 *  -EOPNOTSUPP  the sgdma module does not report stale regions (it is
 *               older than this libsgdma), or @r is a dma-buf's region
 *               (sgdma_register_dmabuf()), which holds its dma-buf and
 *               has no addresses in the process to go stale
 */
int sgdma_region_valid(const struct sgdma_region *r);

/**
 * sgdma_last_error() - message for the last failure in this thread
 *
 * Return: a NUL-terminated message, e.g. "sgdma_register: device
 * 0000:00:03.0 was revoked (un-exposed, unbound or removed)", describing
 * the last failure of an sgdma function in the calling thread.  Like errno,
 * it is meaningful only right after a failure: successful calls leave it
 * unchanged.  "no error" before any failure.  The string is thread-local
 * and valid until the next sgdma call in this thread.
 */
const char *sgdma_last_error(void);

/**
 * sgdma_split_segs() - split segments to fit a device's descriptor limits
 * @in: the segments to split (e.g. sgdma_region_segs()); may be NULL when
 *      @nin is 0
 * @nin: number of entries of @in
 * @max_len: longest piece, in bytes; 0 means no limit
 * @boundary: a power of two: no piece contains an address A that is a
 *            multiple of @boundary, except at its start; 0 means none
 *            (for a kernel-style mask, pass mask + 1)
 * @out: where to write the pieces; may be NULL when @out_cap is 0; must not
 *       overlap @in
 * @out_cap: room in @out, in entries
 *
 * Each input segment is cut into as few pieces as the limits allow, in
 * order; each piece's @addr and @offset advance by the lengths of the
 * pieces before it in the same segment.  Input segments of length 0 yield
 * no piece.  At most @out_cap pieces are written (the first ones); like
 * snprintf(), the return value is the number of pieces needed, so a call
 * with @out_cap 0 sizes the output.  Runs in O(@nin + @out_cap).
 *
 * Return: the number of pieces needed (0 when there is nothing to split),
 * or SIZE_MAX (never a valid count) with errno set:
 *  EINVAL     @boundary is not 0 nor a power of two, @in is NULL with
 *             @nin > 0, @out is NULL with @out_cap > 0, or an input
 *             segment's addr + len or offset + len exceeds 2^64
 *  EOVERFLOW  SIZE_MAX or more pieces would be needed
 * On error nothing is written to @out.
 */
size_t sgdma_split_segs(const struct sgdma_seg *in, size_t nin, uint64_t max_len, uint64_t boundary,
                        struct sgdma_seg *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* SGDMA_H */
