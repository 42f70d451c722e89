// SPDX-License-Identifier: GPL-2.0
/*
 * sgloop: COUNT registrations and unregistrations of one prefaulted buffer
 * of SIZE bytes (4 KiB pages) through libsgdma, with nothing else: the
 * workload bench/profile counts instructions of. COUNT 0 prepares the
 * buffer only (the profile's baseline). "scattered": no two pages of the
 * buffer adjacent in memory, so each is a segment of its own (direct;
 * bench/scatter.h).
 *
 *   sgloop SIZE COUNT [scattered]
 */
#include <errno.h>
#include <sgdma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "scatter.h"

int main(int argc, char **argv)
{
	struct sgdma_dev *dev;
	unsigned long long size, count;
	char *end1, *end2;
	void *buf;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "scattered")))
		goto usage;
	errno = 0;
	size = strtoull(argv[1], &end1, 0);
	count = strtoull(argv[2], &end2, 0);
	if (errno || *end1 || *end2 || !size)
		goto usage;
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("sgloop: mmap");
		return 1;
	}
	madvise(buf, size, MADV_NOHUGEPAGE);
	if (argc == 3)
		memset(buf, 1, size);
	else if (scatter_fault(buf, size)) {
		perror("sgloop: scattered buffer");
		return 1;
	}
	dev = sgdma_default_dev();
	if (!dev || sgdma_cache_enable(dev, 0)) {
		fprintf(stderr, "sgloop: %s\n", sgdma_last_error());
		return 1;
	}
	for (unsigned long long i = 0; i < count; i++) {
		struct sgdma_region *r = sgdma_dev_register(dev, buf, size, SGDMA_BIDIRECTIONAL);

		if (!r || sgdma_unregister(r)) {
			fprintf(stderr, "sgloop: %s\n", sgdma_last_error());
			return 1;
		}
	}
	return 0;

usage:
	fprintf(stderr, "usage: sgloop SIZE COUNT [scattered]\n");
	return 2;
}
