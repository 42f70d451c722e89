# SPDX-License-Identifier: GPL-2.0
"""The Python API around a region: device facts, segments, flags against
/proc/self/pagemap, release paths, references, errors, allocation."""

import errno
import gc
import mmap
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

import sgdma
from conftest import is_config, mask_bits, regions
from sgdma import Direction, RegionFlags

PAGE = mmap.PAGESIZE
HUGETLB = Path("/proc/sys/vm/nr_hugepages")


def phys(addr):
    """Physical address of the byte at virtual addr (its page present)."""
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(addr // PAGE * 8)
        entry, = struct.unpack("<Q", f.read(8))
    assert entry >> 63, f"page of {addr:#x} not present"
    return (entry & ((1 << 55) - 1)) * PAGE + addr % PAGE


def test_device_info(device, bdf):
    info = device.info
    assert info.name == bdf == device.name
    assert info.iommu == (is_config("iommu") or is_config("smmuv3"))
    assert info.dma_mask == (1 << mask_bits()) - 1
    assert info.max_segment > 0
    assert device.dma_align >= 1
    assert device.coherent == (not is_config("noncoherent"))


def test_default_device_is_the_exposed_one(bdf):
    if len(os.listdir("/dev/sgdma")) != 1:
        pytest.skip("several devices exposed: no default")
    assert sgdma.default_device().name == bdf
    assert sgdma.default_device() is sgdma.default_device()
    arr = np.ones(100, dtype=np.uint8)
    with sgdma.register(arr) as region:
        assert region.device is sgdma.default_device()


def test_segments_cover_the_buffer(device):
    buf = np.zeros(3 * PAGE + 123, dtype=np.uint8)[77:]
    with device.register(buf) as region:
        segs = region.segments
        assert segs.dtype == sgdma.SEGMENT_DTYPE
        assert segs.dtype.names == ("addr", "len", "offset")
        assert region.nsegs == len(segs) >= 1
        assert segs["offset"][0] == 0
        assert np.array_equal(segs["offset"][1:],
                              np.cumsum(segs["len"])[:-1])
        assert int(segs["len"].sum()) == buf.nbytes == region.nbytes
        assert region.addr == buf.ctypes.data
        assert not segs.flags.writeable
    with pytest.raises(ValueError, match="unregistered"):
        region.segments


def test_flags_agree_with_pagemap(device):
    """BOUNCED exactly when some segment's bus address is not the physical
    address of its first byte (no IOMMU), CONTIGUOUS when one segment."""
    buf = np.ones(5 * PAGE, dtype=np.uint8)[100:]
    with device.register(buf, direction=Direction.TO_DEVICE) as region:
        flags = region.flags
        assert isinstance(flags, RegionFlags)
        assert bool(flags & RegionFlags.CONTIGUOUS) == (region.nsegs == 1)
        if device.info.iommu:
            assert not flags & RegionFlags.BOUNCED
        else:
            start = buf.ctypes.data
            moved = any(int(s["addr"]) != phys(start + int(s["offset"]))
                        for s in region.segments)
            assert bool(flags & RegionFlags.BOUNCED) == moved
        if flags & RegionFlags.BOUNCED:
            assert flags & RegionFlags.NEEDS_SYNC


def test_release_paths(device, bdf):
    base = regions(bdf)
    arr = np.zeros(PAGE, dtype=np.uint8)
    with device.register(arr) as region:
        assert region.registered
        assert regions(bdf) == base + 1
    assert not region.registered
    assert regions(bdf) == base
    region.unregister()  # twice: nothing happens
    with pytest.raises(ValueError, match="unregistered"):
        region.sync_for_cpu()
    region = device.register(arr)
    assert regions(bdf) == base + 1
    region.unregister()
    assert regions(bdf) == base
    device.register(arr)  # dropped at once: garbage collection releases it
    gc.collect()
    assert regions(bdf) == base


def test_region_keeps_the_buffer(device, edu):
    """The region holds the object: dropped by the caller, it stays alive
    and registered, and the device's data lands in it."""
    region = device.register(bytearray(b"\x01" * 700),
                             direction=Direction.FROM_DEVICE)
    gc.collect()
    buf = region.obj
    assert isinstance(buf, bytearray) and buf == b"\x01" * 700
    # While registered, the bytearray cannot move.
    with pytest.raises(BufferError):
        buf.extend(b"x")
    src = np.full(700, 0x42, dtype=np.uint8)
    with device.register(src, direction=Direction.TO_DEVICE) as r_src:
        edu.region_to_device(r_src)
    edu.region_from_device(region)
    region.sync_for_cpu()
    assert buf == b"\x42" * 700
    region.unregister()
    assert region.obj is None
    buf.extend(b"x")  # released: it may move again


def test_sync_ranges(device):
    arr = np.zeros(1000, dtype=np.uint8)
    with device.register(arr) as region:
        region.sync_for_device()
        region.sync_for_cpu(10, 990)
        region.sync_for_device(999)
        for off, length in ((0, 1001), (1000, None), (500, 0), (1001, 1)):
            with pytest.raises(OSError) as exc:
                region.sync_for_cpu(off, length)
            assert exc.value.errno == errno.EINVAL
            assert "sgdma_sync_for_cpu" in str(exc.value)


def test_require_contig(device):
    """One segment that says so, or E2BIG naming the count it would have
    been. While a first registration holds the pages a second one has
    the same count, except under swiotlb, which bounces each registration
    into slots of its own (one slot may be one segment where the pages
    were not)."""
    buf = np.ones(8 * PAGE, dtype=np.uint8)
    with device.register(buf) as plain:
        try:
            region = device.register(buf, require_contig=True)
        except OSError as exc:
            assert exc.errno == errno.E2BIG
            found = re.search(r"would be (\d+) DMA segments", str(exc))
            assert found, str(exc)
            assert int(found.group(1)) > 1
            if not is_config("bounce"):
                assert int(found.group(1)) == plain.nsegs
        else:
            with region:
                assert region.nsegs == 1
                assert region.flags & RegionFlags.CONTIGUOUS
            if not is_config("bounce"):
                assert plain.nsegs == 1


@pytest.mark.parametrize("direction", [Direction.FROM_DEVICE,
                                       Direction.BIDIRECTIONAL])
def test_read_only_buffers_the_device_would_write(device, direction):
    ro_array = np.zeros(100, dtype=np.uint8)
    ro_array.flags.writeable = False
    ro_map = mmap.mmap(-1, PAGE, prot=mmap.PROT_READ)
    for obj in (b"0123456789", memoryview(b"abc"), ro_array, ro_map):
        with pytest.raises(ValueError, match="read-only"):
            device.register(obj, direction=direction)
    # Nothing holds the mmap's buffer: it closes.
    ro_map.close()


def test_bad_buffers(device):
    arr = np.zeros((64, 64), dtype=np.uint16)
    with pytest.raises(ValueError, match="not contiguous"):
        device.register(arr[:, ::2])
    with pytest.raises(ValueError, match="not contiguous"):
        device.register(arr[::2])
    with pytest.raises(ValueError, match="not C-contiguous"):
        device.register(memoryview(bytearray(100))[::2])
    for empty in (np.zeros(0), np.zeros((4, 0)), bytearray(), b""):
        with pytest.raises(ValueError, match="empty"):
            device.register(empty, direction=Direction.TO_DEVICE)
    for obj in (5, "text", None, [1, 2, 3]):
        with pytest.raises(TypeError, match="buffer protocol"):
            device.register(obj)
    for bad in (0, 4, 7, "in"):
        with pytest.raises(ValueError, match="direction"):
            device.register(bytearray(10), direction=bad)
    with pytest.raises(TypeError, match="Device"):
        sgdma.register(bytearray(10), dev="0000:00:04.0")
    # A Fortran-ordered array is contiguous memory: it registers.
    with device.register(np.asfortranarray(arr)) as region:
        assert region.nbytes == arr.nbytes


def test_library_errors_raise_oserror():
    with pytest.raises(OSError) as exc:
        sgdma.open("0000:ff:1f.7")
    assert exc.value.errno == errno.ENOENT
    assert "0000:ff:1f.7" in str(exc.value)
    with pytest.raises(OSError) as exc:
        sgdma.open("")
    assert exc.value.errno == errno.EINVAL


def test_closed_device(bdf):
    dev = sgdma.open(bdf)
    region = dev.register(bytearray(100))
    dev.close()
    dev.close()
    # The region outlives the handle it was registered through.
    region.sync_for_cpu()
    region.unregister()
    with pytest.raises(ValueError, match="closed"):
        dev.register(bytearray(100))


def test_empty_with_hugetlb_pages(device):
    if not HUGETLB.exists():
        pytest.skip("no hugetlb support in this kernel")
    reserved = HUGETLB.read_text()
    HUGETLB.write_text("1")
    try:
        if int(HUGETLB.read_text()) < 1:
            pytest.skip("no huge page could be reserved")
        arr, region = sgdma.empty(256 * 1024, np.uint8, dev=device)
        with region:
            assert region.backing == "hugetlb"
            assert arr.ctypes.data % sgdma._huge_page_size() == 0
            if not is_config("bounce"):
                assert region.flags & RegionFlags.CONTIGUOUS
                assert region.nsegs == 1
        del arr, region  # the huge page goes back to the pool
        gc.collect()
    finally:
        HUGETLB.write_text(reserved)


def test_empty_without_reserved_huge_pages(device):
    if HUGETLB.exists() and int(HUGETLB.read_text()) != 0:
        pytest.skip("hugetlb pages are reserved")
    arr, region = sgdma.empty((3, 5), np.complex128, dev=device)
    with region:
        assert arr.shape == (3, 5) and arr.dtype == np.complex128
        assert not arr.any()
        assert region.backing in ("thp", "pages")
        if region.backing == "thp":
            assert arr.ctypes.data % sgdma._huge_page_size() == 0
    arr, region = sgdma.empty(10, hugepages=False, dev=device)
    with region:
        assert region.backing == "pages" and arr.dtype == np.float64
    with pytest.raises(ValueError, match="empty"):
        sgdma.empty((0, 4), dev=device)


def test_empty_on_a_numa_node(device):
    nodes = [0] + ([1] if is_config("numa") else [])
    for node in nodes:
        arr, region = sgdma.empty(4 * PAGE, np.uint8, hugepages=False,
                                  node=node, dev=device)
        with region:
            counts = region.node_pages()
            assert counts[node] == 4
            assert int(counts.sum()) == 4
    with pytest.raises(OSError) as exc:
        sgdma.empty(PAGE, np.uint8, node=1000, dev=device)
    assert exc.value.errno == errno.EINVAL


def test_split_segments():
    segs = np.array([(0x1F00, 0x300, 0), (0x10000, 0x2100, 0x300)],
                    dtype=sgdma.SEGMENT_DTYPE)
    out = sgdma.split_segments(segs, max_len=0x1000, boundary=0x1000)
    assert out.tolist() == [(0x1F00, 0x100, 0), (0x2000, 0x200, 0x100),
                            (0x10000, 0x1000, 0x300),
                            (0x11000, 0x1000, 0x1300),
                            (0x12000, 0x100, 0x2300)]
    assert len(sgdma.split_segments(segs)) == 2
    with pytest.raises(OSError) as exc:
        sgdma.split_segments(segs, boundary=3)
    assert exc.value.errno == errno.EINVAL
