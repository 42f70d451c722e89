#!/bin/sh
# Runs in the guest for `scons numa`: the NUMA placement experiment.
# A 64-bit mask keeps pages where they are placed: with the default 32-bit
# mask, RAM above 4 GiB would be bounced through swiotlb on node 0.
#   numa.sh SGNUMA
set -eu
echo 64 >"/sys/class/sgdma/$SGDMA_EDU_BDF/dma_mask_bits"
exec "$1" --csv "$SGVM_OUT/numa.csv"
