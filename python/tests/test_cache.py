# SPDX-License-Identifier: GPL-2.0
"""The registration cache from Python (Device.cache_enable()): the same
registration for a range a live region covers, a fresh one once the
memory at those addresses was replaced (munmap() and mmap() at the same
address), Region.valid going False, and real DMA through each."""

import ctypes
import mmap

import numpy as np
import pytest

import sgdma
from conftest import regions
from sgdma import Direction

PAGE = mmap.PAGESIZE
MAP_FIXED_NOREPLACE = 0x100000  # the same on x86 and arm64


@pytest.fixture
def cached(bdf):
    """A device handle of its own with the cache on; closing it releases
    what only the cache holds."""
    with sgdma.open(bdf) as dev:
        assert not dev.cache
        dev.cache_enable()
        assert dev.cache
        yield dev


def address(mem):
    return ctypes.addressof(ctypes.c_char.from_buffer(mem))


def remap_in_place(mem):
    """munmap() and mmap() at the same address: fresh zero pages where
    mem's were (mem, a Python mmap, goes on using the address)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    addr, size = address(mem), len(mem)
    assert libc.munmap(addr, size) == 0, ctypes.get_errno()
    got = libc.mmap(addr, size, mmap.PROT_READ | mmap.PROT_WRITE,
                    mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                    | MAP_FIXED_NOREPLACE, -1, 0)
    assert got == addr, f"mmap at {addr:#x}: {got}, errno {ctypes.get_errno()}"


def dma_out(edu, device, region, nbytes):
    """What the device reads from region's first nbytes (via its own
    buffer, back into a fresh array registered on device, which does not
    cache)."""
    out = np.zeros(nbytes, dtype=np.uint8)
    with sgdma.register(out, device, Direction.FROM_DEVICE) as r_out:
        region.sync_for_device()
        for seg in region.segments:
            off = int(seg["offset"])
            if off < nbytes:
                edu.to_device(int(seg["addr"]), off,
                              min(int(seg["len"]), nbytes - off))
        edu.region_from_device(r_out)
        r_out.sync_for_cpu()
    return out.tobytes()


def test_same_range_same_registration(cached, device, bdf, edu):
    arr = np.frombuffer(np.random.default_rng(21).bytes(2 * PAGE),
                        dtype=np.uint8).copy()
    before = regions(bdf)
    r1 = cached.register(arr)
    assert regions(bdf) == before + 1
    r2 = cached.register(arr)
    part = cached.register(arr[100:1100])
    assert r2.handle == part.handle == r1.handle
    assert regions(bdf) == before + 1           # no second registration
    assert part.offset == 100 and r1.offset == 0
    assert part.nbytes == arr.nbytes            # the covering region
    other = cached.register(arr, direction=Direction.TO_DEVICE)
    assert other.handle != r1.handle            # another direction
    other.unregister()
    r1.unregister()
    part.unregister()
    assert r2.valid                             # still held by r2
    assert dma_out(edu, device, r2, 1500) == arr[:1500].tobytes()
    handle = r2.handle
    r2.unregister()
    # The last unregister() leaves it to the cache, which hands it out again.
    assert regions(bdf) == before + 2
    with cached.register(arr) as again:
        assert again.handle == handle
        assert regions(bdf) == before + 2
    cached.cache_enable(False)
    assert regions(bdf) == before
    assert not cached.cache


def test_no_cache_no_sharing(device, bdf):
    arr = np.ones(PAGE, dtype=np.uint8)
    assert not device.cache
    with device.register(arr) as r1, device.register(arr) as r2:
        assert r1.handle != r2.handle


def test_fresh_registration_after_munmap_and_mmap(cached, device, bdf,
                                                  edu):
    size = 2 * PAGE
    mem = mmap.mmap(-1, size)
    old = np.random.default_rng(22).bytes(size)
    new = np.random.default_rng(23).bytes(size)
    mem[:] = old
    before = regions(bdf)
    stale = cached.register(mem)
    assert stale.valid and stale.addr == address(mem)
    assert dma_out(edu, device, stale, 1024) == old[:1024]
    remap_in_place(mem)
    assert mem[:] == bytes(size)                # fresh zero pages
    mem[:] = new
    assert not stale.valid
    assert regions(bdf) == before + 1
    fresh = cached.register(mem)
    assert fresh.handle != stale.handle
    assert fresh.valid and fresh.addr == stale.addr
    assert regions(bdf) == before + 2
    # The device reaches what the program sees through the fresh region;
    # the stale one still holds the pages pinned at its registration.
    assert dma_out(edu, device, fresh, 1024) == new[:1024]
    assert dma_out(edu, device, stale, 1024) == old[:1024]
    with cached.register(memoryview(mem)[PAGE:]) as part:
        assert part.handle == fresh.handle and part.offset == PAGE
    stale.unregister()
    fresh.unregister()
    with pytest.raises(ValueError, match="unregistered"):
        stale.valid
    # The cache keeps the valid region, not the stale one.
    assert regions(bdf) == before + 1
    cached.close()
    assert regions(bdf) == before
    mem.close()


def test_valid_without_the_cache(device):
    mem = mmap.mmap(-1, PAGE)
    with device.register(mem) as r:
        assert r.valid
        remap_in_place(mem)
        assert not r.valid
    mem.close()


def test_cache_on_a_closed_device(bdf):
    dev = sgdma.open(bdf)
    dev.close()
    with pytest.raises(ValueError, match="closed"):
        dev.cache_enable()
    with pytest.raises(ValueError, match="closed"):
        dev.cache = False
