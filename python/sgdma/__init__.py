# SPDX-License-Identifier: LGPL-2.1-or-later
"""Register Python buffers (numpy arrays, bytearrays, mmaps) for DMA by a
device exposed by the sgdma kernel module, and read their bus addresses.

    import numpy as np
    import sgdma

    buf, region = sgdma.empty(4096, np.uint8)      # allocated and registered
    for seg in region.segments:                     # addr, len, offset
        program_descriptor(int(seg["addr"]), int(seg["len"]))
    region.sync_for_device()                        # CPU wrote, device reads
    ...device DMA...
    region.sync_for_cpu()                           # device wrote, CPU reads
    region.unregister()                             # or: with region: ...

dma-bufs (udmabuf, DMA heaps, camera and GPU drivers) register the same
way, by file descriptor: Device.register_dmabuf(fd).  The registration
cache of libsgdma is Device.cache_enable(); Region.valid says whether a
region still maps the memory at its addresses.

A thin layer over libsgdma (ctypes): the library is loaded on first use,
from $SGDMA_LIB, the build tree of this checkout, or the system.  Errors of
the library raise OSError with its errno and sgdma_last_error()'s message;
bad arguments raise TypeError or ValueError before anything is registered.
"""

import builtins
import ctypes
import enum
import errno
import mmap
import operator
import os
import platform

import numpy as np

from . import _lib

# Not open(): "from sgdma import *" must not hide the built-in open().
__all__ = ["Device", "DeviceInfo", "Direction", "Region", "RegionFlags",
           "SEGMENT_DTYPE", "default_device", "empty", "library_path",
           "register", "register_dmabuf", "split_segments"]


class Direction(enum.IntEnum):
    """Which way data moves, seen from memory (SGDMA_TO_DEVICE...)."""

    TO_DEVICE = 1       # the device reads the buffer
    FROM_DEVICE = 2     # the device writes the buffer
    BIDIRECTIONAL = 3   # both


class RegionFlags(enum.IntFlag):
    """What sgdma_region_flags() reports about a region's mapping."""

    BOUNCED = 1           # some segment goes through swiotlb bounce buffers
    NEEDS_SYNC = 2        # syncs copy or maintain caches (else no-ops)
    CONTIGUOUS = 4        # one segment: one bus address range
    CACHELINE_SHARED = 8  # non-coherent device writes a partial cache line


_REQUIRE_CONTIG = 4

#: The dtype of Region.segments: struct sgdma_seg, field for field.
SEGMENT_DTYPE = np.dtype([("addr", "<u8"), ("len", "<u8"), ("offset", "<u8")])
assert SEGMENT_DTYPE.itemsize == ctypes.sizeof(_lib.Seg)


def _error(what):
    """OSError for a failed library call: its errno and its message."""
    code = ctypes.get_errno() or errno.EIO
    return _oserror(code, what)


def _oserror(code, what):
    """OSError(code) with the library's message, which names the call."""
    msg = _lib.lib().sgdma_last_error()
    if msg:
        return OSError(code, msg.decode(errors="replace"))
    return OSError(code, f"{what}: {os.strerror(code)}")


def _check(ret, what):
    """Raises for a negative errno return value."""
    if ret < 0:
        raise _oserror(-ret, what)
    return ret


def library_path():
    """The libsgdma file in use (loading it if needed)."""
    return _lib.path()


class DeviceInfo:
    """What the module reports about a device (struct sgdma_dev_info)."""

    __slots__ = ("name", "numa_node", "dma_mask", "max_segment",
                 "seg_boundary", "iommu")

    def __init__(self, raw):
        self.name = raw.name.decode()
        self.numa_node = raw.numa_node
        self.dma_mask = raw.dma_mask
        self.max_segment = raw.max_segment
        self.seg_boundary = raw.seg_boundary
        self.iommu = bool(raw.iommu)

    def __repr__(self):
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"DeviceInfo({fields})"


class Device:
    """An open sgdma device: sgdma.open() or sgdma.default_device().

    Closing it (close(), a with block, garbage collection) leaves the
    regions registered through it valid.  The default device is never
    closed.
    """

    def __init__(self, handle, owned):
        self._handle = handle
        self._owned = owned
        self._cache = False

    @property
    def handle(self):
        """The struct sgdma_dev pointer, as an int (None once closed)."""
        return self._handle

    def _live(self):
        if self._handle is None:
            raise ValueError("the device is closed")
        return self._handle

    def close(self):
        """Releases the handle (no-op for the default device, or twice)."""
        handle, self._handle = self._handle, None
        if handle is not None and self._owned:
            _lib.lib().sgdma_close(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    @property
    def info(self):
        """A DeviceInfo."""
        raw = _lib.DevInfo()
        _check(_lib.lib().sgdma_dev_info(self._live(), ctypes.byref(raw)),
               "sgdma_dev_info")
        return DeviceInfo(raw)

    @property
    def name(self):
        """The device's name, e.g. "0000:00:04.0"."""
        return self.info.name

    @property
    def coherent(self):
        """True when the device's DMA is cache-coherent."""
        return bool(_check(_lib.lib().sgdma_dev_coherent(self._live()),
                           "sgdma_dev_coherent"))

    @property
    def dma_align(self):
        """The alignment buffers a non-coherent device writes need."""
        align = _lib.lib().sgdma_dev_dma_align(self._live())
        if not align:
            raise _error("sgdma_dev_dma_align")
        return align

    def register(self, obj, direction=Direction.BIDIRECTIONAL,
                 require_contig=False):
        """Registers obj with this device: see sgdma.register()."""
        return register(obj, self, direction, require_contig)

    def register_dmabuf(self, fd, offset=0, length=None,
                        direction=Direction.BIDIRECTIONAL,
                        require_contig=False):
        """Registers a dma-buf with this device: see
        sgdma.register_dmabuf()."""
        return register_dmabuf(fd, offset, length, self, direction,
                               require_contig)

    def cache_enable(self, on=True):
        """Turns libsgdma's registration cache of this handle on or off
        (sgdma_cache_enable()).  On: register() of a range that a live,
        valid region of the same direction covers returns that region
        again (Region.handle is the same; Region.offset says where obj
        starts in it), and a region stays registered, held by the cache,
        after its last unregister().  Off (and close()) unregisters the
        regions only the cache holds.  OSError EOPNOTSUPP when the module
        cannot report stale regions."""
        on = bool(on)
        _check(_lib.lib().sgdma_cache_enable(self._live(), int(on)),
               "sgdma_cache_enable")
        self._cache = on

    @property
    def cache(self):
        """Whether the registration cache is on (set: cache_enable())."""
        return self._cache

    @cache.setter
    def cache(self, on):
        self.cache_enable(on)

    def __repr__(self):
        if self._handle is None:
            return "<sgdma.Device closed>"
        return f"<sgdma.Device {self.name}>"


def open(name=None):  # sgdma.open(), as the C API's sgdma_open()
    """Opens a device: a name ("0000:00:04.0", looked up in $SGDMA_DEV_DIR,
    default /dev/sgdma), a path, or None for the default device
    ($SGDMA_DEVICE, else the only exposed device).  A new handle each
    call: close it, or use it in a with block."""
    arg = None if name is None else os.fsencode(name)
    handle = _lib.lib().sgdma_open(arg)
    if not handle:
        raise _error("sgdma_open")
    return Device(handle, owned=True)


_default = None


def default_device():
    """The process's default device, opened on first use and kept open
    (sgdma_default_dev(): reopened after revocation or in a forked child)."""
    global _default
    handle = _lib.lib().sgdma_default_dev()
    if not handle:
        raise _error("sgdma_default_dev")
    if _default is None or _default.handle != handle:
        _default = Device(handle, owned=False)
    return _default


def _buffer_of(obj, writes):
    """(address, length, export) of obj's memory.  export is what keeps the
    memory in place while registered: a memoryview (a bytearray cannot be
    resized, an mmap not closed, while it exists) or the array itself."""
    if isinstance(obj, np.ndarray):
        if not (obj.flags.c_contiguous or obj.flags.f_contiguous):
            raise ValueError("sgdma: the array is not contiguous (a strided "
                             "view): register a contiguous array, e.g. "
                             "np.ascontiguousarray(a), and DMA into that")
        if writes and not obj.flags.writeable:
            raise ValueError("sgdma: the array is read-only and the device "
                             "writes it: use Direction.TO_DEVICE, or a "
                             "writable array")
        try:
            export = memoryview(obj)
        except (TypeError, ValueError):
            export = obj  # a dtype the buffer protocol cannot describe
        return obj.__array_interface__["data"][0], obj.nbytes, export
    try:
        export = memoryview(obj)
    except TypeError:
        raise TypeError(f"sgdma: a numpy array or an object with the buffer "
                        f"protocol is needed, not {type(obj).__name__}") \
            from None
    if not export.c_contiguous:
        export.release()
        raise ValueError("sgdma: the buffer is not C-contiguous")
    if writes and export.readonly:
        export.release()
        raise ValueError(f"sgdma: the {type(obj).__name__} object is "
                         f"read-only and the device writes it: use "
                         f"Direction.TO_DEVICE, or a writable buffer "
                         f"(bytearray, mmap, array)")
    if export.nbytes == 0:
        return 0, 0, export
    addr = np.frombuffer(export.cast("B"), dtype=np.uint8).ctypes.data
    return addr, export.nbytes, export


def _direction(direction):
    try:
        return Direction(direction)
    except ValueError:
        raise ValueError(f"sgdma: direction must be one of "
                         f"{[d.name for d in Direction]}, not "
                         f"{direction!r}") from None


def _device_arg(dev):
    """dev checked: a live Device or None."""
    if dev is not None and not isinstance(dev, Device):
        raise TypeError(f"sgdma: dev must be a Device or None, not "
                        f"{type(dev).__name__}")
    if dev is not None:
        dev._live()  # a closed device: ValueError before anything else
    return dev


def register(obj, dev=None, direction=Direction.BIDIRECTIONAL,
             require_contig=False):
    """Pins and maps obj's memory for DMA by dev and returns its Region.

    obj: a C- or Fortran-contiguous numpy array, or any object with the
    buffer protocol (bytearray, memoryview, mmap, array.array; bytes only
    with Direction.TO_DEVICE), non-empty.  dev: a Device, or None for the
    default device.  require_contig: fail with OSError E2BIG unless the
    device sees the buffer as one bus address range.

    The region keeps a reference to obj (and a buffer export of it) until
    it is unregistered, so the memory outlives the registration.
    """
    direction = _direction(direction)
    dev = _device_arg(dev)
    addr, length, export = _buffer_of(
        obj, writes=direction != Direction.TO_DEVICE)
    try:
        if length == 0:
            raise ValueError("sgdma: the buffer is empty (zero bytes)")
        device = dev if dev is not None else default_device()
        flags = int(direction) | (_REQUIRE_CONTIG if require_contig else 0)
        handle = _lib.lib().sgdma_dev_register(device.handle, addr, length,
                                               flags)
        if not handle:
            raise _error("sgdma_dev_register")
    except BaseException:
        if isinstance(export, memoryview):
            export.release()
        raise
    return Region(handle, obj, export, device, direction, addr)


def _fd_of(fd):
    """The descriptor number of fd: an int, or an object with fileno()."""
    if hasattr(fd, "fileno"):
        fd = fd.fileno()
    try:
        return operator.index(fd)
    except TypeError:
        raise TypeError(f"sgdma: fd must be a file descriptor (an int or "
                        f"an object with fileno()), not "
                        f"{type(fd).__name__}") from None


def register_dmabuf(fd, offset=0, length=None, dev=None,
                    direction=Direction.BIDIRECTIONAL, require_contig=False):
    """Registers bytes [offset, offset + length) of a dma-buf with dev
    (sgdma_register_dmabuf()) and returns its Region.

    fd: the dma-buf's file descriptor (an int or an object with fileno()):
    from udmabuf (a memfd's pages), a DMA heap (/dev/dma_heap/system), a
    camera, GPU or other driver.  length: default the rest of the dma-buf
    (its size as fstat() reports it).  dev, direction, require_contig: as
    for register().

    The caller keeps owning fd: the kernel's region holds its own
    reference to the dma-buf, so fd (and a memfd behind a udmabuf) may be
    closed as soon as this returns; the memory stays until the region is
    unregistered.  The region's segments count from offset; Region.addr is
    None (the memory is the exporter's) and Region.node_pages() fails with
    EOPNOTSUPP.  CPU access through the program's own mmap() of the
    dma-buf is bracketed with DMA_BUF_IOCTL_SYNC as the exporter asks.
    OSError: EBADF for a descriptor that is not open, EINVAL for one that
    is not a dma-buf or a range outside it, EACCES for a read-only dma-buf
    the device would write; as for register() otherwise.
    """
    direction = _direction(direction)
    dev = _device_arg(dev)
    fd = _fd_of(fd)
    offset = operator.index(offset)
    if offset < 0:
        raise ValueError(f"sgdma: offset must be >= 0, not {offset}")
    if length is None:
        try:
            size = os.fstat(fd).st_size
        except OSError as err:
            raise OSError(err.errno, f"sgdma_register_dmabuf: fd {fd}: "
                                     f"{os.strerror(err.errno)}") from None
        if offset >= size:
            raise OSError(errno.EINVAL, f"sgdma_register_dmabuf: offset "
                                        f"{offset} is not inside fd {fd} "
                                        f"({size} bytes; a dma-buf?)")
        length = size - offset
    length = operator.index(length)
    if length <= 0:
        raise ValueError(f"sgdma: length must be > 0, not {length}")
    device = dev if dev is not None else default_device()
    flags = int(direction) | (_REQUIRE_CONTIG if require_contig else 0)
    handle = _lib.lib().sgdma_register_dmabuf(device.handle, fd, offset,
                                              length, flags)
    if not handle:
        raise _error("sgdma_register_dmabuf")
    return Region(handle, None, None, device, direction, None)


class Region:
    """A registered (pinned and DMA-mapped) buffer: sgdma.register(), or a
    dma-buf: sgdma.register_dmabuf().

    Released by unregister(), at the end of a with block, or when garbage
    collected.  Until then it holds obj, so the memory stays mapped.
    """

    def __init__(self, handle, obj, export, device, direction, buf_addr):
        self._handle = handle
        self._buf_addr = buf_addr
        self._obj = obj
        self._export = export
        self._device = device
        self.direction = direction
        self.backing = None  # sgdma.empty(): "hugetlb", "thp" or "pages"
        lib = _lib.lib()
        self._len = lib.sgdma_region_len(handle)
        self._addr = lib.sgdma_region_addr(handle)
        self._flags = RegionFlags(lib.sgdma_region_flags(handle))
        nsegs = lib.sgdma_region_nsegs(handle)
        segs = lib.sgdma_region_segs(handle)
        raw = ctypes.cast(segs, ctypes.POINTER(_lib.Seg * nsegs)).contents
        self._segments = np.frombuffer(bytearray(raw), dtype=SEGMENT_DTYPE)
        self._segments.flags.writeable = False

    def _live(self):
        if self._handle is None:
            raise ValueError("the region is unregistered")
        return self._handle

    @property
    def registered(self):
        """False once unregistered."""
        return self._handle is not None

    @property
    def handle(self):
        """The struct sgdma_region pointer, as an int (None once
        unregistered).  With the registration cache, two Regions of the
        same registration have the same handle."""
        return self._handle

    @property
    def is_dmabuf(self):
        """True for a dma-buf's region (register_dmabuf())."""
        return self._addr is None

    @property
    def offset(self):
        """Where the registered object starts in the region, in bytes: 0,
        except for a region the registration cache handed out again for a
        part of it (segment offsets count from the region's start)."""
        if self._buf_addr is None or self._addr is None:
            return 0
        return self._buf_addr - self._addr

    @property
    def valid(self):
        """Whether the region still maps the memory at its addresses
        (sgdma_region_valid(), no system call): False once any of its
        pages was unmapped, remapped or replaced (munmap() and mmap() at
        the same address, mremap(), MADV_DONTNEED, a copy-on-write), after
        revocation and in a forked child.  A stale region stays pinned and
        mapped (the device reaches the old pages) until unregistered.
        OSError EOPNOTSUPP for a dma-buf's region (it has no addresses in
        the process) or when the module does not report stale regions."""
        handle = self._live()
        if self.is_dmabuf:
            raise OSError(errno.EOPNOTSUPP, "Region.valid: a dma-buf's "
                                            "region has no addresses in the "
                                            "process to go stale")
        ret = _lib.lib().sgdma_region_valid(handle)
        return bool(_check(ret, "sgdma_region_valid"))

    @property
    def obj(self):
        """The registered object."""
        return self._obj

    @property
    def device(self):
        """The Device the region is registered with."""
        return self._device

    @property
    def addr(self):
        """The region's virtual address (None for a dma-buf)."""
        return self._addr

    @property
    def nbytes(self):
        """The region's length in bytes."""
        return self._len

    @property
    def segments(self):
        """The DMA segments, a read-only numpy array of SEGMENT_DTYPE
        (addr, len, offset; sorted by offset, covering the buffer)."""
        self._live()
        return self._segments

    @property
    def nsegs(self):
        """The number of segments."""
        return len(self.segments)

    @property
    def flags(self):
        """RegionFlags: BOUNCED, NEEDS_SYNC, CONTIGUOUS, CACHELINE_SHARED."""
        self._live()
        return self._flags

    def _range(self, off, len):  # the C API's names
        if len is None:
            len = self._len - off if 0 <= off <= self._len else 0
        return off, len

    def sync_for_device(self, off=0, len=None):
        """Hands bytes [off, off + len) to the device (default: to the end
        of the buffer): after the CPU wrote them, before the device reads
        them.  OSError EINVAL for a range outside the buffer."""
        off, len = self._range(off, len)
        _check(_lib.lib().sgdma_sync_for_device(self._live(), off, len),
               "sgdma_sync_for_device")

    def sync_for_cpu(self, off=0, len=None):
        """Hands bytes [off, off + len) back to the CPU (default: to the end
        of the buffer): after the device wrote them, before the CPU reads
        them."""
        off, len = self._range(off, len)
        _check(_lib.lib().sgdma_sync_for_cpu(self._live(), off, len),
               "sgdma_sync_for_cpu")

    def node_pages(self, max_nodes=None):
        """Pages of the buffer on each NUMA node now: a numpy array indexed
        by node (sgdma_region_node_pages())."""
        if max_nodes is None:
            max_nodes = _possible_nodes()
        counts = (ctypes.c_size_t * max_nodes)()
        seen = _check(_lib.lib().sgdma_region_node_pages(
            self._live(), counts, max_nodes), "sgdma_region_node_pages")
        return np.array(counts[:max(seen, 1)], dtype=np.uint64)

    def unregister(self):
        """Unmaps and unpins the region (nothing is synced) and drops its
        references; a no-op when already done.  OSError when the module
        reports an error (e.g. ENODEV after revocation); the region is
        released all the same."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        ret = _lib.lib().sgdma_unregister(handle)
        if isinstance(self._export, memoryview):
            self._export.release()
        self._export = self._obj = None
        _check(ret, "sgdma_unregister")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unregister()

    def __del__(self):
        try:
            self.unregister()
        except Exception:  # garbage collection, shutdown
            pass

    def __repr__(self):
        if self._handle is None:
            return "<sgdma.Region unregistered>"
        kind = "dma-buf " if self.is_dmabuf else ""
        return (f"<sgdma.Region {kind}{self._len} bytes, "
                f"{len(self._segments)} segment(s), {self.direction.name}, "
                f"{self._flags!r}>")


def _possible_nodes():
    """Highest possible NUMA node + 1, from sysfs (1 without NUMA)."""
    try:
        with builtins.open("/sys/devices/system/node/possible") as f:
            text = f.read().strip()
    except OSError:
        return 1
    last = text.replace(",", "-").split("-")[-1]
    return int(last) + 1 if last.isdigit() else 1


def split_segments(segments, max_len=0, boundary=0):
    """Cuts segments (an array of SEGMENT_DTYPE, e.g. Region.segments) to a
    device's descriptor limits: pieces of at most max_len bytes (0: no
    limit) that cross no multiple of boundary (a power of two; 0: none).
    Returns a new array of SEGMENT_DTYPE (sgdma_split_segs())."""
    segs = np.ascontiguousarray(segments, dtype=SEGMENT_DTYPE)
    lib = _lib.lib()
    inp = segs.ctypes.data_as(ctypes.POINTER(_lib.Seg))
    need = lib.sgdma_split_segs(inp, len(segs), max_len, boundary, None, 0)
    if need == ctypes.c_size_t(-1).value:
        raise _error("sgdma_split_segs")
    out = np.zeros(need, dtype=SEGMENT_DTYPE)
    if need:
        lib.sgdma_split_segs(inp, len(segs), max_len, boundary,
                             out.ctypes.data_as(ctypes.POINTER(_lib.Seg)),
                             need)
    return out


# Allocation: sgdma.empty().

_MAP_HUGETLB = 0x40000  # the same on x86 and arm64 (not in Python's mmap)
_MPOL_BIND = 2
_SYS_MBIND = {"x86_64": 237, "aarch64": 235}


def _huge_page_size():
    """The PMD huge page size (THP and the default hugetlb size)."""
    try:
        with builtins.open(
                "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 2 << 20


def _mbind(addr, length, node):
    """Binds [addr, addr + length) to NUMA node (before first touch)."""
    nr = _SYS_MBIND.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, f"sgdma.empty: node= is not supported "
                                    f"on {platform.machine()}")
    if node < 0:
        raise ValueError(f"sgdma.empty: node must be >= 0, not {node}")
    bits = 64
    words = node // bits + 1
    mask = (ctypes.c_ulong * words)()
    mask[node // bits] = 1 << (node % bits)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_void_p(addr),
                       ctypes.c_ulong(length), ctypes.c_int(_MPOL_BIND),
                       mask, ctypes.c_ulong(words * bits + 1),
                       ctypes.c_uint(0))
    if ret:
        code = ctypes.get_errno()
        raise OSError(code, f"sgdma.empty: mbind to node {node}: "
                            f"{os.strerror(code)}")


def _allocate(nbytes, hugepages):
    """(mmap, offset into it, backing) for nbytes of fresh anonymous memory:
    hugetlb pages when asked and reserved, else transparent huge pages
    (madvise, the mapping over-sized to start on a huge page), else pages.
    """
    anon = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    prot = mmap.PROT_READ | mmap.PROT_WRITE
    if not hugepages:
        return mmap.mmap(-1, nbytes, flags=anon, prot=prot), 0, "pages"
    huge = _huge_page_size()
    rounded = -(-nbytes // huge) * huge
    try:
        return (mmap.mmap(-1, rounded, flags=anon | _MAP_HUGETLB, prot=prot),
                0, "hugetlb")
    except OSError:
        pass  # no hugetlb pages reserved (ENOMEM), or no hugetlbfs
    mem = mmap.mmap(-1, rounded + huge, flags=anon, prot=prot)
    start = np.frombuffer(mem, dtype=np.uint8, count=0).ctypes.data
    offset = -start % huge
    try:
        mem.madvise(mmap.MADV_HUGEPAGE)
        backing = "thp"
    except OSError:
        backing = "pages"  # a kernel without THP
    return mem, offset, backing


def empty(shape, dtype=np.float64, hugepages=True, node=None, dev=None,
          direction=Direction.BIDIRECTIONAL, order="C"):
    """Allocates a new array in fresh anonymous memory and registers it.

    Returns (array, region): a zero-filled numpy array of shape and dtype
    and its Region (region.backing says "hugetlb", "thp" or "pages").
    hugepages: MAP_HUGETLB when huge pages are reserved
    (/proc/sys/vm/nr_hugepages), else transparent huge pages (madvise) on
    a huge-page-aligned start, so a buffer of up to a huge page is one
    physically contiguous range.  node: bind the memory to this NUMA node.
    dev, direction: as for register().  The array keeps its memory alive;
    the registration lasts until region.unregister(), the region's with
    block or its garbage collection: keep the region as long as the device
    may use the memory.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes <= 0:
        raise ValueError(f"sgdma.empty: the array would be empty "
                         f"(shape {shape!r}, dtype {dtype})")
    mem, offset, backing = _allocate(nbytes, hugepages)
    arr = np.frombuffer(mem, dtype=np.uint8, count=nbytes, offset=offset)
    if node is not None:
        _mbind(arr.ctypes.data, len(mem) - offset, node)
    arr = arr.view(dtype).reshape(shape, order=order)
    region = register(arr, dev, direction)
    region.backing = backing
    return arr, region
