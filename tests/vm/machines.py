"""The test machine's DMA configurations, described once for sgvm and SCons.

Each architecture has its own (a kernel of tests/vm/kernels.py runs those
of its architecture); a name may exist on several, with the same meaning.

amd64: a q35 machine with 1 GiB in two NUMA nodes and only 256 MiB below
4 GiB (so user pages sit above 4 GiB and the swiotlb pool below 256 MiB),
and QEMU's edu DMA device; they differ in what stands between the device
and memory.

arm64: a virt machine (Cortex-A57, GICv2, 1 GiB at 1 GiB in two NUMA
nodes) with edu on its PCIe host bridge: behind an SMMUv3, straight to memory
(64-bit mask), or straight to memory without dma-coherent on the PCIe host
in the device tree, so the kernel treats the device as non-coherent and
does cache maintenance at every map, unmap and sync.
"""

from dataclasses import dataclass, field

ALL_ONES = "0xffffffffffffffff"


@dataclass(frozen=True)
class Machine:
    name: str
    about: str
    machine_opts: str = ""  # appended to -M q35,...
    devices: list = field(default_factory=list)  # before any PCI device
    kernel_args: str = ""
    edu_bus: str = "bus=pcie.0,addr=0x4"  # where edu plugs in
    edu_bdf: str = "0000:00:04.0"  # and the address the guest sees
    edu_mask: str = ALL_ONES  # edu's dma_mask property; None: its own 28 bits
    arch: str = "amd64"
    # What the in-guest tests expect of the DMA path, $SGDMA_CONFIG there:
    # iommu, direct, bounce or numa (default: the name).
    dma: str = ""
    # MiB of RAM on NUMA nodes 0 and 1 (1 GiB in all).
    node_mib: tuple = (512, 512)
    # False: the guest's device tree lacks dma-coherent on the PCIe host.
    coherent: bool = True

    @property
    def kind(self):
        return self.dma or self.name


CONFIGS = {
    m.name: m
    for m in [
        Machine("iommu", "an IOMMU translates: scattered pages become one bus range",
                machine_opts=",kernel-irqchip=split",
                devices=["-device", "intel-iommu,intremap=on"], kernel_args="intel_iommu=on"),
        Machine("direct", "no IOMMU: bus address = physical address, one segment per run of pages"),
        # The edu device's own 28-bit mask: swiotlb bounces everything above.
        # Node 0 holds the 256 MiB below 4 GiB and, here, 512 MiB above:
        # its Normal zone must manage more than its DMA32 zone even on the
        # debug kernel (KASAN's shadow lives there), for sgvm's lowmem
        # reserve to keep user pages out of the device's reach.
        Machine("bounce", "28-bit DMA mask: swiotlb bounce buffers below 256 MiB", edu_mask=None,
                node_mib=(768, 256)),
        # Like direct, but edu sits behind a PCI expander bridge on node 1, so
        # its sysfs numa_node reads 1. Only bridges plug into pxb-pcie; the
        # 9p devices stay on pcie.0 (their bus= is explicit).
        # acpi=noirq: enabling a device behind the expander (its root port at
        # boot, edu at every uio_pci_generic bind) evaluates the expander's
        # _PRT, a 128-step AML loop that yields no IRQ for edu anyway; on the
        # debug kernel each evaluation ran into ACPI's 30 s loop timeout
        # (about a minute of host time). ACPI still enumerates the expander
        # and its windows (pci=noacpi would not: the kernel then moved the
        # window onto the local APIC's range and edu's DMA broke).
        Machine("numa", "the device on NUMA node 1, behind a PCI expander bridge",
                devices=["-device", "pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0,addr=0x4",
                         "-device", "pcie-root-port,id=rp1,bus=pxb1,chassis=1"],
                edu_bus="bus=rp1", edu_bdf="0000:81:00.0", kernel_args="acpi=noirq"),
    ]
}

ARM64_CONFIGS = {
    m.name: m
    for m in [
        Machine("smmuv3", "an SMMUv3 translates: scattered pages become one bus range",
                machine_opts=",iommu=smmuv3", arch="arm64", dma="iommu"),
        Machine("direct", "no IOMMU: bus address = physical address, one segment per run of pages",
                arch="arm64"),
        Machine("noncoherent", "no IOMMU, device not cache-coherent: cache maintenance at "
                "every map, unmap and sync", arch="arm64", dma="direct", coherent=False),
    ]
}

BY_ARCH = {"amd64": CONFIGS, "arm64": ARM64_CONFIGS}


def configs(arch):
    """The configurations of architecture @arch, by name."""
    return BY_ARCH.get(arch, {})


def names():
    """Every configuration name of every architecture."""
    return sorted({name for arch in BY_ARCH.values() for name in arch})
