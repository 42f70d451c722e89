#!/bin/sh
# Runs in an arm64 guest (tests/vm/sgvm, from run-suite.sh): does the kernel
# maintain the CPU caches
# for the device exactly when the machine says the device is not coherent?
# Counts calls of arm64's arch_sync_dma_for_device() and
# arch_sync_dma_for_cpu() (the cache cleaning and invalidation of the DMA
# API) with kprobes while sgdump registers and unregisters buffers: none on
# a coherent configuration (direct, smmuv3), some on noncoherent (the PCIe
# host without dma-coherent in the device tree). TCG has no caches, so
# this is all a QEMU guest can show of non-coherent DMA: that the
# maintenance is asked for, not that it is right.
# Loads MODULE.ko exposing $SGDMA_EDU_BDF unless sgdma is loaded, and then
# unloads it again.
#   cache-maintenance.sh SGDUMP [MODULE.ko]
# Prints "PASS name", "FAIL name: why" or "SKIP name # why"; exits 1 on FAIL.
set -u
sgdump=${1:?usage: cache-maintenance.sh SGDUMP [MODULE.ko]}
ko=${2:-}
t=/sys/kernel/tracing
probes="sgdma_cm_dev:arch_sync_dma_for_device sgdma_cm_cpu:arch_sync_dma_for_cpu"

[ -e $t/kprobe_events ] || mount -t tracefs tracefs $t 2>/dev/null
if [ ! -w $t/kprobe_events ]; then
	echo "SKIP cache-maintenance # no kprobe events in this kernel"
	exit 0
fi
for p in $probes; do
	if ! echo "p:${p%%:*} ${p#*:}" >>$t/kprobe_events 2>/dev/null; then
		echo "SKIP cache-maintenance # cannot probe ${p#*:}"
		exit 0
	fi
	echo 1 >$t/events/kprobes/${p%%:*}/enable
done

loaded=
if [ ! -d /sys/module/sgdma ] && [ -n "$ko" ]; then
	if ! insmod "$ko" expose="$SGDMA_EDU_BDF"; then
		echo "FAIL cache-maintenance: insmod $ko failed"
		exit 1
	fi
	loaded=1
fi

# hits NAME: how often the probe NAME fired so far.
hits() { awk -v n="$1" '$1 == n { print $2 }' $t/kprobe_profile; }

dev0=$(hits sgdma_cm_dev)
cpu0=$(hits sgdma_cm_cpu)
status=0
for dir in to from bidi; do
	if ! "$sgdump" --size 1M --dir $dir --quiet >/dev/null; then
		echo "FAIL cache-maintenance: sgdump --dir $dir failed"
		status=1
	fi
done
dev=$(($(hits sgdma_cm_dev) - dev0))
cpu=$(($(hits sgdma_cm_cpu) - cpu0))

for p in $probes; do
	echo 0 >$t/events/kprobes/${p%%:*}/enable
	echo "-:${p%%:*}" >>$t/kprobe_events
done
[ -z "$loaded" ] || rmmod sgdma || { echo "FAIL cache-maintenance: rmmod sgdma failed"; status=1; }

echo "cache-maintenance: $dev for-device and $cpu for-cpu calls (${SGDMA_MACHINE:-?})"
if [ "${SGDMA_MACHINE:-}" = noncoherent ]; then
	# Mapping for the device cleans the buffer's lines, whatever the direction.
	if [ "$dev" -gt 0 ]; then
		echo "PASS cache-maintenance-when-noncoherent"
	else
		echo "FAIL cache-maintenance-when-noncoherent: no maintenance for a non-coherent device"
		status=1
	fi
elif [ "$dev" -eq 0 ] && [ "$cpu" -eq 0 ]; then
	echo "PASS no-cache-maintenance-when-coherent"
else
	echo "FAIL no-cache-maintenance-when-coherent: the kernel maintains caches for a coherent device"
	status=1
fi
exit $status
