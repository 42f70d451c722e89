# SPDX-License-Identifier: GPL-2.0
"""dma-buf import from Python (Device.register_dmabuf()): real DMA by the
edu device through a udmabuf (a memfd's pages) and a system DMA heap
buffer, both directions, checked byte for byte; the descriptors closed
while registered; bad descriptors and ranges.  Kernels without udmabuf or
DMA heaps (5.10, 6.1) skip what needs them, with the reason."""

import errno
import mmap
import os

import numpy as np
import pytest

import dmabufs
import sgdma
from conftest import regions
from dmabufs import HEAP, UDMABUF, HeapBuf, Udmabuf
from sgdma import Direction

PAGE = mmap.PAGESIZE


def need(path):
    reason = dmabufs.skip_reason(path)
    if reason:
        pytest.skip(reason)


def random_bytes(nbytes, seed):
    return np.random.default_rng(seed).integers(0, 256, nbytes,
                                                dtype=np.uint8).tobytes()


def test_udmabuf_both_directions(device, edu, bdf):
    """udmabuf -> device -> udmabuf, at offsets that cross a page, with
    the dma-bufs' and memfds' descriptors closed right after registering:
    the regions hold the dma-bufs."""
    need(UDMABUF)
    data = random_bytes(1500, 11)
    with Udmabuf(2 * PAGE) as src, Udmabuf(2 * PAGE) as dst:
        src.map[100:1600] = data
        dst.map[:] = b"\x5a" * (2 * PAGE)
        before = regions(bdf)
        with device.register_dmabuf(src.fd, 100, 1500,
                                    Direction.TO_DEVICE) as r_src, \
                device.register_dmabuf(dst, PAGE - 700, 1500,
                                       Direction.FROM_DEVICE) as r_dst:
            src.close_fds()
            dst.close_fds()
            assert regions(bdf) == before + 2
            for r in (r_src, r_dst):
                assert r.is_dmabuf and r.addr is None and r.offset == 0
                assert r.nbytes == 1500
                assert int(r.segments["len"].sum()) == 1500
                assert r.segments["offset"][0] == 0
                with pytest.raises(OSError) as exc:
                    r.valid
                assert exc.value.errno == errno.EOPNOTSUPP
            r_src.sync_for_device()
            edu.region_to_device(r_src)
            edu.region_from_device(r_dst)
            r_dst.sync_for_cpu()
            assert dst.map[PAGE - 700:PAGE + 800] == data
            assert dst.map[:PAGE - 700] == b"\x5a" * (PAGE - 700)
            assert dst.map[PAGE + 800:] == b"\x5a" * (PAGE - 800)
        assert regions(bdf) == before


def test_udmabuf_whole_buffer_by_default(device):
    need(UDMABUF)
    with Udmabuf(3 * PAGE) as u:
        with device.register_dmabuf(u.fd) as r:
            assert r.nbytes == 3 * PAGE
            assert r.direction == Direction.BIDIRECTIONAL
            with pytest.raises(OSError) as exc:
                r.node_pages()
            assert exc.value.errno == errno.EOPNOTSUPP
        with device.register_dmabuf(u.fd, PAGE) as r:
            assert r.nbytes == 2 * PAGE
        with pytest.raises(OSError) as exc:
            device.register_dmabuf(u.fd, 3 * PAGE)
        assert exc.value.errno == errno.EINVAL


def test_heap_both_directions(device, edu):
    """heap -> device -> numpy array, then numpy array -> device -> heap."""
    need(HEAP)
    first, second = random_bytes(2000, 12), random_bytes(2000, 13)
    with HeapBuf(PAGE) as h:
        h.cpu_access(True, write=True)
        h.map[:2000] = first
        h.map[2000:] = b"\xa5" * (PAGE - 2000)
        h.cpu_access(False, write=True)
        out = np.zeros(2000, dtype=np.uint8)
        with device.register_dmabuf(h.fd, 0, 2000, Direction.TO_DEVICE) as r, \
                device.register(out, direction=Direction.FROM_DEVICE) as r_out:
            r.sync_for_device()
            edu.region_to_device(r)
            edu.region_from_device(r_out)
            r_out.sync_for_cpu()
            assert out.tobytes() == first
        src = np.frombuffer(second, dtype=np.uint8).copy()
        with sgdma.register(src, device, Direction.TO_DEVICE) as r_src, \
                sgdma.register_dmabuf(h, length=2000, dev=device,
                                      direction=Direction.FROM_DEVICE) as r:
            assert r.is_dmabuf
            r_src.sync_for_device()
            edu.region_to_device(r_src)
            edu.region_from_device(r)
            r.sync_for_cpu()
            h.cpu_access(True, write=False)
            assert h.map[:2000] == second
            assert h.map[2000:] == b"\xa5" * (PAGE - 2000)
            h.cpu_access(False, write=False)


def test_read_only_heap_buffer_is_not_written(device):
    need(HEAP)
    with HeapBuf(PAGE, os.O_RDONLY | os.O_CLOEXEC) as h:
        for direction in (Direction.FROM_DEVICE, Direction.BIDIRECTIONAL):
            with pytest.raises(OSError) as exc:
                device.register_dmabuf(h.fd, direction=direction)
            assert exc.value.errno == errno.EACCES
        with device.register_dmabuf(h.fd, direction=Direction.TO_DEVICE):
            pass


def test_bad_descriptors(device, tmp_path):
    """As the C API answers: EBADF for a descriptor that is not open,
    EINVAL for an open one that is not a dma-buf."""
    def fails(code, fd, **kw):
        kw.setdefault("length", 16)
        with pytest.raises(OSError) as exc:
            device.register_dmabuf(fd, **kw)
        assert exc.value.errno == code, exc.value
        return str(exc.value)

    assert "not an open file" in fails(errno.EBADF, -1)
    fd = os.open("/proc/self/status", os.O_RDONLY)
    assert "dma-buf" in fails(errno.EINVAL, fd)
    os.close(fd)
    fails(errno.EBADF, fd)                    # closed now
    fails(errno.EBADF, fd, length=None)       # its size: fstat() fails
    memfd = os.memfd_create("not-a-dmabuf", os.MFD_CLOEXEC)
    os.ftruncate(memfd, PAGE)
    fails(errno.EINVAL, memfd)
    fails(errno.EINVAL, memfd, length=None)
    os.close(memfd)
    r, w = os.pipe()
    fails(errno.EINVAL, r)
    fails(errno.EINVAL, w, length=None)       # no size at all
    os.close(r)
    os.close(w)
    with open(tmp_path / "plain", "wb") as f:
        f.write(b"x" * 100)
        f.flush()
        fails(errno.EINVAL, f)                # a file object: its fileno()


def test_bad_arguments(device, bdf):
    with pytest.raises(TypeError, match="file descriptor"):
        device.register_dmabuf("3")
    with pytest.raises(ValueError, match="offset"):
        device.register_dmabuf(0, -1, 16)
    with pytest.raises(ValueError, match="length"):
        device.register_dmabuf(0, 0, 0)
    with pytest.raises(ValueError, match="direction"):
        device.register_dmabuf(0, 0, 16, direction=5)
    with sgdma.open(bdf) as dev:
        pass
    with pytest.raises(ValueError, match="closed"):
        dev.register_dmabuf(0, 0, 16)


def test_ranges_outside_the_dmabuf(device):
    need(UDMABUF)
    size = 2 * PAGE
    with Udmabuf(size) as u:
        for off, length in ((0, size + 1), (size, 1), (1, size),
                            (size - 1, 2), (1 << 40, PAGE)):
            with pytest.raises(OSError) as exc:
                device.register_dmabuf(u.fd, off, length)
            assert exc.value.errno == errno.EINVAL, (off, length)
        with pytest.raises(OSError, match="outside the dma-buf"):
            device.register_dmabuf(u.fd, 0, size + 1)
        with device.register_dmabuf(u.fd, size - 1, 1) as r:
            assert r.nbytes == 1 and r.nsegs == 1
