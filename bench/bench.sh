#!/bin/sh
# Runs in the guest for `scons bench`: makes the peers' devices, then sgbench.
#   bench.sh SGBENCH CSV [sgbench options...]
# rdma_rxe over a dummy netdev, vfio-pci (under an IOMMU) and the kernel's
# gup_test in debugfs; what is missing is reported by sgbench as absent.
set -u
bench=$1 csv=$2
shift 2
modprobe vfio-pci 2>/dev/null
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# The kernel's request_module runs the initramfs's modprobe, not ours:
# rxe's CRC and the verbs device load by hand.
rxe=""
if ! modprobe -n rdma_rxe 2>/dev/null; then
	rxe="no rdma_rxe module for kernel $(uname -r)"
elif ! { modprobe crc32_generic 2>/dev/null; modprobe dummy && modprobe rdma_rxe &&
	modprobe ib_uverbs; }; then
	rxe="loading rdma_rxe failed"
elif ! { ip link add d0 type dummy && ip link set d0 up &&
	rdma link add rxe0 type rxe netdev d0; }; then
	rxe="rdma link add rxe0 type rxe netdev d0 failed"
fi
export SGBENCH_RXE_ABSENT="$rxe"
echo "bench.sh: $(uname -r) $SGDMA_CONFIG, $(grep MemTotal /proc/meminfo)," \
	"THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
exec "$bench" --csv "$csv" "$@"
