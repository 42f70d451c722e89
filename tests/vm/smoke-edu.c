// SPDX-License-Identifier: GPL-2.0
/*
 * Proves the test machine and the edu driver without sgdma: DMA a pattern
 * RAM -> device -> RAM using raw physical addresses from pagemap.
 *
 *   direct: the data must land (no IOMMU, 64-bit mask).
 *   iommu:  it must not land: the IOMMU has no mapping for raw addresses.
 *   bounce: the 28-bit edu silently clamps addresses it cannot reach, which
 *           would scribble over unrelated memory: run only if both pages
 *           happen to sit below 256 MiB, else skip.
 *
 * Exit 0 on the expected outcome, 1 otherwise, 77 when skipped.
 */
#define _GNU_SOURCE
#include "../common/edu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define LEN    EDU_BUF_USABLE
#define POISON 0x5a

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check_errnos(struct edu *edu, uint64_t phys)
{
	struct {
		uint32_t off, len;
		int err;
	} bad[] = {
	    {0, 0, -EINVAL},   {0, LEN + 1, -ERANGE},     {LEN, 1, -ERANGE},
	    {1, LEN, -ERANGE}, {0xffffffffu, 2, -ERANGE},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = edu_dma_to_device(edu, phys, bad[i].off, bad[i].len);

		if (ret != bad[i].err) {
			fprintf(stderr, "off %u len %u: got %d, want %d\n", bad[i].off, bad[i].len,
			        ret, bad[i].err);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	const char *config = getenv("SGDMA_CONFIG");
	long psz = sysconf(_SC_PAGESIZE);
	int expect_landing, landed = 0, ret;
	uint64_t src_phys, dst_phys;
	uint8_t *buf;
	struct edu edu;
	double t0, t;

	if (!config) {
		fprintf(stderr, "SGDMA_CONFIG not set: run me under tests/vm/sgvm\n");
		return 1;
	}
	expect_landing = strcmp(config, "iommu") != 0;

	ret = edu_open(&edu, NULL);
	if (ret) {
		fprintf(stderr, "edu_open: %s\n", strerror(-ret));
		return 1;
	}
	ret = edu_liveness(&edu);
	printf("edu %s, liveness %s\n", edu.bdf, ret ? "FAILED" : "ok");
	if (ret)
		return 1;

	buf = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || mlock(buf, 2 * psz)) {
		perror("mmap/mlock");
		return 1;
	}
	memset(buf + psz, POISON, psz);
	src_phys = pagemap_phys(buf);
	dst_phys = pagemap_phys(buf + psz);
	printf("src phys %#llx, dst phys %#llx\n", (unsigned long long)src_phys,
	       (unsigned long long)dst_phys);
	if (!src_phys || !dst_phys)
		return 1;
	if (check_errnos(&edu, src_phys))
		return 1;
	if (!strcmp(config, "bounce") &&
	    (src_phys + psz > 1ull << 28 || dst_phys + psz > 1ull << 28)) {
		printf("SKIP: pages above the 28-bit edu's reach (it would clamp, not fault)\n");
		return 77;
	}

	t0 = now_s();
	for (int round = 0; round < ROUNDS; round++) {
		for (unsigned int i = 0; i < LEN; i++)
			buf[i] = (uint8_t)(i * 7 + round);
		ret = edu_dma_to_device(&edu, src_phys, 0, LEN);
		if (!ret)
			ret = edu_dma_from_device(&edu, 0, dst_phys, LEN);
		if (ret) {
			fprintf(stderr, "DMA: %s\n", strerror(-ret));
			return 1;
		}
		landed = !memcmp(buf, buf + psz, LEN);
		if (landed != expect_landing)
			break;
	}
	t = (now_s() - t0) / (2 * ROUNDS);
	printf("%s: data %s, %.1f ms per DMA\n", config, landed ? "landed" : "did not land",
	       t * 1e3);
	if (!landed && buf[psz] != POISON)
		printf("destination changed to %#x without matching\n", buf[psz]);
	if (landed != expect_landing) {
		printf("FAIL: expected the data %s\n", expect_landing ? "to land" : "not to land");
		return 1;
	}
	printf("PASS\n");
	edu_close(&edu);
	return 0;
}
