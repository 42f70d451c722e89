// SPDX-License-Identifier: GPL-2.0-or-later
/* sgnuma: buffers placed on nodes, and one edu DMA into a region. */
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "sgnuma.h"

struct buf alloc_buf(enum kind kind, size_t len)
{
	size_t align = kind == KIND_THP ? THP_SIZE : PAGE;
	struct buf b = {.len = len, .maplen = (size_t)round_up(len, align)};

	b.p = mmap_aligned(len, align);
	if (!b.p)
		die(EX_FAIL, "mmap of %zu bytes: %s", b.maplen, strerror(errno));
	if (kind == KIND_THP) {
		if (madvise(b.p, b.maplen, MADV_HUGEPAGE))
			die(EX_FAIL, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
	} else {
		/* THP may be "always": ask for small pages explicitly. */
		if (madvise(b.p, b.maplen, MADV_NOHUGEPAGE))
			die(EX_FAIL, "madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	}
	return b;
}

void free_buf(struct buf *b)
{
	munmap(b->p, b->maplen);
	b->p = NULL;
}

void set_policy(uint8_t *p, size_t len, int mode, const int *nodes, int nnodes)
{
	struct bitmask *bm = numa_allocate_nodemask();

	for (int i = 0; i < nnodes; i++)
		numa_bitmask_setbit(bm, (unsigned int)nodes[i]);
	if (mbind(p, len, mode, mode == MPOL_DEFAULT ? NULL : bm->maskp,
	          mode == MPOL_DEFAULT ? 0 : bm->size + 1, 0))
		die(EX_FAIL, "mbind: %s", strerror(errno));
	numa_free_nodemask(bm);
}

struct touch_arg {
	uint8_t *p;
	size_t len;
	int node;
	int err;
};

static void *toucher(void *arg)
{
	struct touch_arg *t = arg;

	if (numa_run_on_node(t->node)) {
		t->err = errno;
		return NULL;
	}
	memset(t->p, 0x5a, t->len);
	return NULL;
}

void touch_on_node(uint8_t *p, size_t len, int node)
{
	struct touch_arg t = {p, len, node, 0};
	pthread_t th;
	int ret;

	ret = pthread_create(&th, NULL, toucher, &t);
	if (ret)
		die(EX_FAIL, "pthread_create: %s", strerror(ret));
	pthread_join(th, NULL);
	if (t.err)
		die(EX_FAIL, "numa_run_on_node(%d): %s", node, strerror(t.err));
}

double huge_pct(const uint8_t *p, size_t len)
{
	uintptr_t first = (uintptr_t)p & ~(uintptr_t)(THP_SIZE - 1);
	size_t chunks = 0, huge = 0;

	if (!pagemap_phys(p))
		return -1;
	for (uintptr_t c = first; c < (uintptr_t)p + len; c += THP_SIZE, chunks++) {
		uint64_t a = pagemap_phys((const void *)c);
		uint64_t b = pagemap_phys((const void *)(c + THP_SIZE - PAGE));

		huge += a && a % THP_SIZE == 0 && b == a + THP_SIZE - PAGE;
	}
	return 100.0 * huge / chunks;
}

uint64_t bus_at(const struct sgdma_region *r, size_t off, size_t n)
{
	const struct sgdma_seg *s = sgdma_region_segs(r);

	for (size_t i = 0; i < sgdma_region_nsegs(r); i++)
		if (off >= s[i].offset && off - s[i].offset + n <= s[i].len)
			return s[i].addr + (off - s[i].offset);
	return 0;
}

bool dma_into(struct rig *rig, struct sgdma_region *r, size_t off, size_t n, double *us)
{
	uint8_t *p = (uint8_t *)sgdma_region_addr(r) + off;
	uint64_t bus = bus_at(r, off, n), t;
	int ret;

	if (!bus)
		die(EX_FAIL, "no segment holds %zu bytes at offset %zu", n, off);
	memset(p, 0, n);
	if (sgdma_sync_for_device(r, off, n))
		die(EX_FAIL, "%s", sgdma_last_error());
	t = now_ns();
	ret = edu_dma_from_device(&rig->edu, 0, bus, (uint32_t)n);
	if (us)
		*us = us_since(t);
	if (ret)
		die(EX_FAIL, "edu DMA to bus address %#" PRIx64 ": %s", bus, strerror(-ret));
	if (sgdma_sync_for_cpu(r, off, n))
		die(EX_FAIL, "%s", sgdma_last_error());
	return memcmp(p, rig->pattern, n) == 0;
}

const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "?";
}
