#!/bin/sh
# Runs in the guest for `scons demo`: give the edu device this
# configuration's DMA mask, then show what it sees of a 1 MiB buffer.
#   demo.sh SGDUMP
set -eu
bits=64
[ "$SGDMA_CONFIG" = bounce ] && bits=28
echo "$bits" >"/sys/class/sgdma/$SGDMA_EDU_BDF/dma_mask_bits"
exec "$1" --size 1M --offset 100 --max-rows 6
