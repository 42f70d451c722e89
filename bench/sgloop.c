// SPDX-License-Identifier: GPL-2.0
/*
 * sgloop: COUNT registrations and unregistrations of one prefaulted buffer
 * of SIZE bytes (4 KiB pages) through libsgdma, with nothing else: the
 * workload bench/profile counts instructions of. COUNT 0 prepares the
 * buffer only (the profile's baseline). "scattered": no two pages of the
 * buffer adjacent in memory, so each is a segment of its own (direct).
 *
 *   sgloop SIZE COUNT [scattered]
 */
#include <errno.h>
#include <sgdma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * @size bytes whose pages are every other page of a buffer twice as large:
 * the pages left between them keep any two apart in memory.
 */
static void *scattered_buffer(unsigned long long size)
{
	const size_t page = 4096;
	char *pool, *buf;

	pool = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED || buf == MAP_FAILED)
		return MAP_FAILED;
	madvise(pool, 2 * size, MADV_NOHUGEPAGE);
	memset(pool, 1, 2 * size);
	for (size_t off = 0; off < size; off += page)
		if (mremap(pool + 2 * off, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, buf + off) ==
		    MAP_FAILED)
			return MAP_FAILED;
	return buf;
}

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
	if (argc == 4) {
		if (size % 4096)
			goto usage;
		buf = scattered_buffer(size);
	} else {
		buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf != MAP_FAILED) {
			madvise(buf, size, MADV_NOHUGEPAGE);
			memset(buf, 1, size);
		}
	}
	if (buf == MAP_FAILED) {
		perror("sgloop: buffer");
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
