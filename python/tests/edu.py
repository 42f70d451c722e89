# SPDX-License-Identifier: GPL-2.0
"""A tiny userspace driver for QEMU's edu PCI device, the DMA engine the
tests point at registered buffers (the Python twin of tests/common/edu.c).
The device has no kernel driver: it is enabled through its config space and
driven through BAR0 (sysfs resource0), so this needs root.
"""

import ctypes
import mmap
import os
import time
from pathlib import Path

VENDOR, DEVICE = 0x1234, 0x11E8
# The device buffer is 4 KiB at device address 0x40000, but QEMU 7.2 aborts
# the whole VM on a transfer that ends exactly at its end: the tests use the
# first 2 KiB only.
BUF_ADDR = 0x40000
BUF_USABLE = 2048
LATENCY_S = 0.1  # edu finishes a transfer 100 ms after the start command

PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 0x2
PCI_COMMAND_MASTER = 0x4
REG_LIVENESS = 0x04
REG_DMA_SRC = 0x80
REG_DMA_DST = 0x88
REG_DMA_COUNT = 0x90
REG_DMA_CMD = 0x98
DMA_RUN = 0x1
DMA_FROM_DEVICE = 0x2
BAR0_LEN = 1 << 20
PCI_DEVICES = Path("/sys/bus/pci/devices")


def find():
    """The PCI name of the first edu device, or None."""
    for dev in sorted(PCI_DEVICES.iterdir()):
        try:
            vendor = int((dev / "vendor").read_text(), 16)
            device = int((dev / "device").read_text(), 16)
        except (OSError, ValueError):
            continue
        if (vendor, device) == (VENDOR, DEVICE):
            return dev.name
    return None


class Edu:
    """BAR0 of one edu device, mapped; transfers of at most BUF_USABLE."""

    def __init__(self, bdf, timeout=10.0):
        self.bdf = bdf
        self.timeout = timeout
        self._enable()
        fd = os.open(PCI_DEVICES / bdf / "resource0",
                     os.O_RDWR | os.O_SYNC | os.O_CLOEXEC)
        try:
            self._bar = mmap.mmap(fd, BAR0_LEN, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        # Registers below 0x80 take 32-bit accesses only, the DMA ones 32 or
        # 64: ctypes reads and writes an element in one access of its size.
        self._r32 = (ctypes.c_uint32 * 32).from_buffer(self._bar)
        self._r64 = (ctypes.c_uint64 * 32).from_buffer(self._bar)

    def _enable(self):
        """Memory decoding and bus mastering (no driver does it)."""
        fd = os.open(PCI_DEVICES / self.bdf / "config", os.O_RDWR)
        try:
            cmd = int.from_bytes(os.pread(fd, 2, PCI_COMMAND), "little")
            cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
            os.pwrite(fd, cmd.to_bytes(2, "little"), PCI_COMMAND)
        finally:
            os.close(fd)

    def close(self):
        del self._r32, self._r64
        self._bar.close()

    def liveness(self):
        """True when register 0x04 returns the inverse of what was written."""
        for probe in (0x12345678, 0xA5A5A5A5):
            self._r32[REG_LIVENESS // 4] = probe
            if self._r32[REG_LIVENESS // 4] != ~probe & 0xFFFFFFFF:
                return False
        return True

    def _wait_idle(self):
        if not self._r64[REG_DMA_CMD // 8] & DMA_RUN:
            return
        deadline = time.monotonic() + self.timeout
        # Sleep rather than spin: an idle guest lets QEMU's clock jump
        # straight to the timer that finishes the transfer.
        time.sleep(LATENCY_S)
        while self._r64[REG_DMA_CMD // 8] & DMA_RUN:
            if time.monotonic() > deadline:
                raise TimeoutError(f"edu {self.bdf}: DMA did not finish")
            time.sleep(0.001)

    def _dma(self, src, dst, length, cmd):
        self._wait_idle()
        self._r64[REG_DMA_SRC // 8] = src
        self._r64[REG_DMA_DST // 8] = dst
        self._r64[REG_DMA_COUNT // 8] = length
        self._r64[REG_DMA_CMD // 8] = cmd | DMA_RUN
        self._wait_idle()

    @staticmethod
    def _check(dev_off, length):
        if length <= 0 or dev_off < 0 or dev_off + length > BUF_USABLE:
            raise ValueError(f"edu: {length} bytes at device offset "
                             f"{dev_off} are outside the usable window")

    def to_device(self, bus_addr, dev_off, length):
        """RAM at bus_addr -> device buffer at dev_off."""
        self._check(dev_off, length)
        self._dma(bus_addr, BUF_ADDR + dev_off, length, 0)

    def from_device(self, dev_off, bus_addr, length):
        """Device buffer at dev_off -> RAM at bus_addr."""
        self._check(dev_off, length)
        self._dma(BUF_ADDR + dev_off, bus_addr, length, DMA_FROM_DEVICE)

    def region_to_device(self, region, dev_off=0):
        """Every segment of region, each to dev_off + its offset."""
        for seg in region.segments:
            self.to_device(int(seg["addr"]), dev_off + int(seg["offset"]),
                           int(seg["len"]))

    def region_from_device(self, region, dev_off=0):
        """The device buffer from dev_off into every segment of region."""
        for seg in region.segments:
            self.from_device(dev_off + int(seg["offset"]), int(seg["addr"]),
                             int(seg["len"]))
