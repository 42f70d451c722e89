# SPDX-License-Identifier: GPL-2.0
"""Fixtures of the Python tests: the package from this checkout, the sgdma
module loaded with the edu device exposed (in a test VM: tests/vm/sgvm
sets $SGDMA_CONFIG, $SGDMA_EDU_BDF; run-suite.sh $SGDMA_KO), the device
opened, and a check that each test leaves no region registered."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edu as edu_driver  # noqa: E402  (tests/edu.py)
import sgdma  # noqa: E402  (python/sgdma of this checkout)

MODULE = Path("/sys/module/sgdma")
CLASS = Path("/sys/class/sgdma")


def config():
    """The DMA path of the VM: iommu, direct, bounce, numa ("" outside)."""
    return os.environ.get("SGDMA_CONFIG", "")


def is_config(name):
    """config() is name, or the machine is (arm64's smmuv3, noncoherent)."""
    return name in (config(), os.environ.get("SGDMA_MACHINE", ""))


def mask_bits():
    return 28 if is_config("bounce") else 64


def edu_bdf():
    return os.environ.get("SGDMA_EDU_BDF") or edu_driver.find()


def regions(bdf):
    """Regions the module holds for the device now."""
    return int((CLASS / bdf / "regions").read_text())


def _setup_module(bdf):
    """Loads sgdma.ko ($SGDMA_KO) if needed and exposes the edu device with
    the configuration's DMA mask; a skip when that cannot be done here."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a test VM: tests/vm/sgvm)")
    if bdf is None:
        pytest.skip("no edu device (a test VM: tests/vm/sgvm)")
    if not MODULE.exists():
        ko = os.environ.get("SGDMA_KO")
        if not ko:
            pytest.skip("sgdma is not loaded and $SGDMA_KO is not set")
        subprocess.run(["insmod", ko], check=True)
    if not (CLASS / bdf).exists():
        (MODULE / "parameters" / "expose").write_text(bdf)
    bits = CLASS / bdf / "dma_mask_bits"
    if int(bits.read_text()) != mask_bits():
        bits.write_text(str(mask_bits()))


@pytest.fixture(scope="session")
def bdf():
    """The edu device's PCI name, exposed to sgdma."""
    name = edu_bdf()
    _setup_module(name)
    return name


@pytest.fixture(scope="session")
def device(bdf):
    """The edu device opened with sgdma, by name."""
    with sgdma.open(bdf) as dev:
        yield dev


@pytest.fixture(scope="session")
def edu(bdf):
    """The edu DMA engine."""
    driver = edu_driver.Edu(bdf)
    assert driver.liveness(), f"edu {bdf} does not answer on BAR0"
    yield driver
    driver.close()


@pytest.fixture(autouse=True)
def no_leftover_regions(request):
    """A test on the device leaves the module's region count no higher
    than it found it: every region it registered was released (a region a
    failed test before it kept may go meanwhile)."""
    if "bdf" not in request.fixturenames:
        yield
        return
    name = request.getfixturevalue("bdf")
    before = regions(name)
    yield
    gc.collect()
    assert regions(name) <= before, "a region is still registered"
