# SPDX-License-Identifier: GPL-2.0
"""dma-bufs for the tests, made as tests/guest/test_dmabuf.cc makes them: a
udmabuf over a sealed memfd (the memfd mapped for the CPU) and a system
DMA heap buffer (mapped through the dma-buf, CPU access bracketed with
DMA_BUF_IOCTL_SYNC)."""

import fcntl
import mmap
import os
import struct

UDMABUF = "/dev/udmabuf"
HEAP = "/dev/dma_heap/system"


def _iow(kind, nr, size):
    return (1 << 30) | (size << 16) | (ord(kind) << 8) | nr


def _iowr(kind, nr, size):
    return (3 << 30) | (size << 16) | (ord(kind) << 8) | nr


# struct udmabuf_create {u32 memfd; u32 flags; u64 offset; u64 size;}
_UDMABUF_CREATE_FMT = "=IIQQ"
UDMABUF_CREATE = _iow("u", 0x42, struct.calcsize(_UDMABUF_CREATE_FMT))
UDMABUF_FLAGS_CLOEXEC = 0x01
# struct dma_heap_allocation_data {u64 len; u32 fd; u32 fd_flags;
# u64 heap_flags;}
_HEAP_ALLOC_FMT = "=QIIQ"
DMA_HEAP_IOCTL_ALLOC = _iowr("H", 0x0, struct.calcsize(_HEAP_ALLOC_FMT))
# struct dma_buf_sync {u64 flags;}
DMA_BUF_IOCTL_SYNC = _iow("b", 0, 8)
DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE = 1, 2
DMA_BUF_SYNC_START, DMA_BUF_SYNC_END = 0, 4


def skip_reason(path):
    """Why a test that needs path cannot run here, or None."""
    if os.path.exists(path):
        return None
    if path == UDMABUF:
        return "no /dev/udmabuf: the kernel has no CONFIG_UDMABUF"
    return "no /dev/dma_heap/system: the kernel has no system DMA heap"


class _Dmabuf:
    """What both kinds share: the dma-buf's descriptor (fd), a context."""

    fd = -1

    def fileno(self):
        """The dma-buf's descriptor."""
        return self.fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Udmabuf(_Dmabuf):
    """A sealed memfd's pages as a dma-buf (fd); map: the memfd mapped."""

    def __init__(self, size):
        self.size = size
        self.fd = self.memfd = -1
        dev = os.open(UDMABUF, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.memfd = os.memfd_create(
                "sgdma-python", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
            os.ftruncate(self.memfd, size)
            fcntl.fcntl(self.memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
            arg = bytearray(struct.pack(_UDMABUF_CREATE_FMT, self.memfd,
                                        UDMABUF_FLAGS_CLOEXEC, 0, size))
            self.fd = fcntl.ioctl(dev, UDMABUF_CREATE, arg, True)
        finally:
            os.close(dev)
        self.map = mmap.mmap(self.memfd, size, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)

    def close_fds(self):
        """Closes the dma-buf and the memfd (the mapping stays)."""
        for fd in (self.fd, self.memfd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.memfd = -1

    def close(self):
        self.close_fds()
        self.map.close()


class HeapBuf(_Dmabuf):
    """A system-heap dma-buf (fd), mapped through itself (map)."""

    def __init__(self, size, fd_flags=os.O_RDWR | os.O_CLOEXEC):
        self.size = size
        heap = os.open(HEAP, os.O_RDONLY | os.O_CLOEXEC)
        try:
            arg = bytearray(struct.pack(_HEAP_ALLOC_FMT, size, 0, fd_flags, 0))
            fcntl.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg, True)
        finally:
            os.close(heap)
        self.fd = struct.unpack(_HEAP_ALLOC_FMT, arg)[1]
        writable = fd_flags & os.O_ACCMODE == os.O_RDWR
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        self.map = mmap.mmap(self.fd, size, mmap.MAP_SHARED, prot)

    def cpu_access(self, begin, write):
        """DMA_BUF_IOCTL_SYNC around CPU reads (write=False) or writes."""
        flags = ((DMA_BUF_SYNC_START if begin else DMA_BUF_SYNC_END)
                 | (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE if write
                    else DMA_BUF_SYNC_READ))
        fcntl.ioctl(self.fd, DMA_BUF_IOCTL_SYNC, struct.pack("=Q", flags))

    def close(self):
        self.map.close()
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
