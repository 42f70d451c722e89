# SPDX-License-Identifier: GPL-2.0
"""Real DMA by the edu device into and out of Python buffers registered
with sgdma: numpy arrays, sgdma.empty(), bytearray, bytes, mmap, in both
directions, checked byte for byte."""

import mmap

import numpy as np

import edu as edu_driver
import sgdma
from sgdma import Direction

PAGE = mmap.PAGESIZE
WINDOW = edu_driver.BUF_USABLE


def straddling(nbytes, before, fill):
    """(whole, part): a fresh uint8 array and a view of nbytes of it that
    starts before bytes ahead of a page boundary, so that it spans two
    pages; the rest of the array is guard bytes of value fill."""
    whole = np.full(4 * PAGE, fill, dtype=np.uint8)
    start = -whole.ctypes.data % PAGE + PAGE - before
    return whole, whole[start:start + nbytes]


def random_bytes(nbytes, seed):
    return np.random.default_rng(seed).integers(0, 256, nbytes,
                                                dtype=np.uint8)


def test_numpy_both_directions_across_a_page_boundary(device, edu):
    src_whole, src = straddling(1500, 700, 0)
    src[:] = random_bytes(len(src), 1)
    dst_whole, dst = straddling(1500, 300, 0x5A)
    guards = dst_whole.copy()
    with device.register(src, direction=Direction.TO_DEVICE) as r_src, \
            device.register(dst, direction=Direction.FROM_DEVICE) as r_dst:
        assert int(r_src.segments["len"].sum()) == src.nbytes
        r_src.sync_for_device()
        edu.region_to_device(r_src)
        edu.region_from_device(r_dst)
        r_dst.sync_for_cpu()
        assert dst.tobytes() == src.tobytes()
    # Not a byte outside the registered view changed.
    outside = np.ones(len(dst_whole), dtype=bool)
    start = dst.ctypes.data - dst_whole.ctypes.data
    outside[start:start + len(dst)] = False
    assert np.array_equal(dst_whole[outside], guards[outside])


def test_empty_float_arrays_round_trip(device, edu):
    a, r_a = sgdma.empty((16, 16), np.float32, dev=device,
                         direction=Direction.TO_DEVICE)
    b, r_b = sgdma.empty((16, 16), np.float32, hugepages=False, dev=device,
                         direction=Direction.FROM_DEVICE)
    with r_a, r_b:
        assert a.nbytes == r_a.nbytes == 1024
        assert not b.any()
        a[:] = np.arange(256, dtype=np.float32).reshape(16, 16) * 1.5 - 7
        r_a.sync_for_device()
        edu.region_to_device(r_a)
        edu.region_from_device(r_b)
        r_b.sync_for_cpu()
        assert np.array_equal(a, b)
        assert a.tobytes() == b.tobytes()


def test_bidirectional_in_place(device, edu):
    """The default direction: the device reads, then writes the array."""
    pattern = random_bytes(WINDOW, 4).view(np.uint64)
    arr = pattern.copy()
    with sgdma.register(arr, device) as region:
        assert region.direction == Direction.BIDIRECTIONAL
        region.sync_for_device()
        edu.region_to_device(region)
        arr[:] = 0
        region.sync_for_device()
        edu.region_from_device(region)
        region.sync_for_cpu()
        assert np.array_equal(arr, pattern)


def test_bytearray_and_bytes_to_device_mmap_from_device(device, edu):
    data = random_bytes(1000, 2).tobytes()
    mem = mmap.mmap(-1, PAGE)
    mem[:] = b"\xee" * PAGE
    view = memoryview(mem)[100:1100]
    # A read-only bytes object is fine for the device to read.
    for src in (bytearray(data), data):
        with device.register(src, direction=Direction.TO_DEVICE) as r_src:
            edu.region_to_device(r_src, dev_off=500)
        with device.register(view, direction=Direction.FROM_DEVICE) as r_dst:
            edu.region_from_device(r_dst, dev_off=500)
            r_dst.sync_for_cpu()
        assert mem[100:1100] == data
        assert mem[:100] == b"\xee" * 100
        assert mem[1100:] == b"\xee" * (PAGE - 1100)
        mem[100:1100] = bytes(1000)
    view.release()
    mem.close()


def test_partial_sync_moves_the_range(device, edu):
    """sync_for_cpu(off, len) of the bytes the device wrote is enough."""
    src = random_bytes(512, 3)
    dst = np.zeros(1024, dtype=np.uint8)
    with device.register(src, direction=Direction.TO_DEVICE) as r_src, \
            device.register(dst, direction=Direction.FROM_DEVICE) as r_dst:
        edu.region_to_device(r_src)
        seg = r_dst.segments[0]
        n = min(256, int(seg["len"]))
        edu.from_device(0, int(seg["addr"]), n)
        r_dst.sync_for_cpu(0, n)
        assert dst[:n].tobytes() == src[:n].tobytes()
