/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A buffer whose 4 KiB pages are all apart in memory, so that each is a
 * segment of its own: the benchmarks' case of fragmented memory (sgbench's
 * 4k_scattered kind, sgloop's "scattered" for bench/profile).
 */
#ifndef SGDMA_BENCH_SCATTER_H
#define SGDMA_BENCH_SCATTER_H

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

/*
 * Fault in the @len bytes at @addr (mapped, not yet faulted in, without
 * huge pages) a page at a time, each followed by a page of a spacer buffer
 * freed after: whichever way the allocator walks memory, the page handed
 * out after one of ours is not ours.  The first byte of each page is
 * written (the page's number | 1).  Returns 0, or -1 with errno set.
 */
static inline int scatter_fault(uint8_t *addr, uint64_t len)
{
	uint8_t *spacer =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (spacer == MAP_FAILED)
		return -1;
	if (madvise(spacer, len, MADV_NOHUGEPAGE)) {
		int err = errno;

		munmap(spacer, len);
		errno = err;
		return -1;
	}
	for (uint64_t off = 0; off < len; off += 4096) {
		addr[off] = (uint8_t)(off >> 12 | 1);
		spacer[off] = 1;
	}
	munmap(spacer, len);
	return 0;
}

#endif
