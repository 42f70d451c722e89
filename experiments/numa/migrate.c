// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgnuma: what the kernel does when asked to migrate pinned pages. A
 * registered buffer on node 0 meets move_pages(2) and migrate_pages(2),
 * with unregistered buffers as controls, then a DMA to the registered
 * buffer's bus address shows where the data lands.
 */
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>

#include "sgnuma.h"

/* Buffer size in pages. */
#define MIGRATE_PAGES 64

/* "node0=64 node1=0" for the pages of [p, p + n pages), by move_pages(nodes=NULL). */
static void print_nodes(const char *what, uint8_t *p, size_t n)
{
	void *pages[MIGRATE_PAGES];
	int status[MIGRATE_PAGES];
	size_t per[2] = {0, 0}, other = 0;

	for (size_t i = 0; i < n; i++)
		pages[i] = p + i * PAGE;
	if (move_pages(0, n, pages, NULL, status, 0))
		die(EX_FAIL, "move_pages query: %s", strerror(errno));
	for (size_t i = 0; i < n; i++) {
		if (status[i] == 0 || status[i] == 1)
			per[status[i]]++;
		else
			other++;
	}
	printf("  %-44s node0=%zu node1=%zu", what, per[0], per[1]);
	if (other)
		printf(" other=%zu", other);
	printf("\n");
}

/* Status entries move_pages(2) left unwritten keep this value. */
#define STATUS_UNWRITTEN INT32_MIN

/* Print the status histogram of a move_pages(2) call. */
static void print_status(const char *what, long ret, int err, const int *status, size_t n)
{
	printf("  %-44s returned %ld", what, ret);
	if (ret < 0)
		printf(" (%s)", errname(err));
	printf("; status:");
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && status[j] == status[i])
			j++;
		if (status[i] == STATUS_UNWRITTEN)
			printf(" (not written) x%zu", j - i);
		else if (status[i] >= 0)
			printf(" node%d x%zu", status[i], j - i);
		else
			printf(" -%s x%zu", errname(-status[i]), j - i);
		i = j;
	}
	printf("\n");
}

/* move_pages(2) of every page of [p, p + n pages) to @node. */
static void try_move(const char *what, uint8_t *p, size_t n, int node)
{
	void *pages[MIGRATE_PAGES];
	int nodes[MIGRATE_PAGES], status[MIGRATE_PAGES];
	long ret;

	for (size_t i = 0; i < n; i++) {
		pages[i] = p + i * PAGE;
		nodes[i] = node;
		status[i] = STATUS_UNWRITTEN;
	}
	ret = move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE);
	print_status(what, ret, errno, status, n);
}

/* MIGRATE_PAGES pages on node 0, with no policy left to keep them there. */
static struct buf node0_buffer(void)
{
	static const int node0[] = {0};
	struct buf b = alloc_buf(KIND_4K, MIGRATE_PAGES * PAGE);

	set_policy(b.p, b.len, MPOL_BIND, node0, 1);
	memset(b.p, 0x5a, b.len);
	set_policy(b.p, b.len, MPOL_DEFAULT, NULL, 0); /* only the pin may hold them */
	return b;
}

bool migrate_experiment(struct rig *rig)
{
	const size_t n = MIGRATE_PAGES, len = n * PAGE;
	struct buf ba = node0_buffer(), bb = node0_buffer(), bc = node0_buffer();
	uint8_t *a = ba.p, *b = bb.p, *c = bc.p;
	struct bitmask *from = numa_allocate_nodemask(), *to = numa_allocate_nodemask();
	struct sgdma_region *r;
	bool ok = true;
	int ret, err;

	printf("\nmigration: a registered buffer of %zu pages on node 0, asked to move to node 1\n"
	       "(controls: unregistered buffers of the same size)\n",
	       n);
	r = sgdma_dev_register(rig->dev, a, len, SGDMA_BIDIRECTIONAL);
	if (!r)
		die(EX_FAIL, "%s", sgdma_last_error());
	print_nodes("registered, before:", a, n);
	try_move("move_pages(registered -> node1):", a, n, 1);
	print_nodes("registered, after move_pages:", a, n);
	try_move("move_pages(control -> node1):", b, n, 1);
	print_nodes("control, after move_pages:", b, n);

	numa_bitmask_setbit(from, 0);
	numa_bitmask_setbit(to, 1);
	ret = numa_migrate_pages(0, from, to);
	err = errno;
	printf("  %-44s returned %d%s%s\n", "numa_migrate_pages(self, 0 -> 1):", ret,
	       ret < 0 ? " " : "", ret < 0 ? errname(err) : "");
	print_nodes("registered, after migrate_pages:", a, n);
	print_nodes("control 2, after migrate_pages:", c, n);

	if (rig->have_edu) {
		for (size_t page = 0; page < n; page += n - 1) {
			uint64_t bus = bus_at(r, page * PAGE, DMA_BYTES);
			uint64_t phys = pagemap_phys(a + page * PAGE);
			bool landed = dma_into(rig, r, page * PAGE, DMA_BYTES, NULL);

			printf("  edu DMA into page %2zu: bus %#" PRIx64
			       ", CPU page at phys %#" PRIx64 " (%s): %s\n",
			       page, bus, phys,
			       phys == bus
			           ? "same"
			           : (rig->info.iommu ? "IOMMU-translated" : "bounce buffer"),
			       landed ? "the application reads the device's data"
			              : "DATA NOT SEEN by the application");
			ok &= landed;
		}
	}
	if (sgdma_unregister(r))
		die(EX_FAIL, "%s", sgdma_last_error());
	try_move("move_pages(after unregister -> node1):", a, n, 1);
	print_nodes("after unregister and move_pages:", a, n);

	numa_free_nodemask(from);
	numa_free_nodemask(to);
	free_buf(&ba);
	free_buf(&bb);
	free_buf(&bc);
	return ok;
}
