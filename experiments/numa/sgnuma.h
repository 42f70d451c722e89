/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sgnuma, the NUMA placement experiment: what its parts share.
 *   sgnuma.c     options, the device, main()
 *   buffers.c    buffers placed on nodes, and one edu DMA into a region
 *   placement.c  the runs over placement x size x page kind, their report
 *   migrate.c    what move_pages(2) and migrate_pages(2) do to pinned pages
 */
#ifndef SGNUMA_H
#define SGNUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgdma.h>

#include "cli.h"
#include "edu.h"

/* Exit statuses: keep in sync with usage(). */
enum {
	EX_OK = 0,
	EX_USAGE = CLI_EX_USAGE, /* usage error, bad argument */
	EX_NODEV = 2,            /* no sgdma device */
	EX_NONUMA = 3,           /* fewer than two NUMA nodes, or no NUMA support */
	EX_FAIL = 4,             /* a measurement failed (allocation, registration, DMA data) */
};

#define PAGE      4096UL
#define THP_SIZE  (2UL << 20)
#define MAX_SIZES 32
/* The edu device writes this many bytes per DMA. */
#define DMA_BYTES EDU_BUF_USABLE

enum kind { KIND_4K, KIND_THP, KIND_COUNT };

enum placement {
	PL_BIND0,
	PL_BIND1,
	PL_INTERLEAVE,
	PL_PREFERRED1,
	PL_TOUCH0,
	PL_TOUCH1,
	PL_DEFAULT,
	PL_COUNT
};

extern const char *const kind_names[KIND_COUNT];
extern const char *const placement_names[PL_COUNT];

struct opts {
	uint64_t sizes[MAX_SIZES];
	int nsizes;
	bool kinds[KIND_COUNT];
	bool placements[PL_COUNT];
	unsigned int repeat;
	uint64_t dma_size; /* the size whose runs also time a DMA; 0: the first */
	const char *csv;
	const char *device;
	bool dma;
	bool placement_runs;
	bool migrate;
};

/* The device under test and what the runs know of the machine. */
struct rig {
	struct sgdma_dev *dev;
	struct sgdma_dev_info info;
	struct edu edu;
	bool have_edu;              /* the sgdma device is an edu device we can drive */
	int nnodes;                 /* configured nodes: numa_max_node() + 1 */
	int maxnodes;               /* for sgdma_region_node_pages(): possible nodes */
	uint8_t pattern[DMA_BYTES]; /* what the edu device holds and writes */
};

/* buffers.c */

/* A buffer of one page kind; release with free_buf(). */
struct buf {
	uint8_t *p;
	size_t len;    /* the bytes asked for */
	size_t maplen; /* mapped: whole pages (whole 2 MiB huge pages for thp) */
};

/*
 * Anonymous memory for @len bytes, nothing touched yet. 4k: MADV_NOHUGEPAGE;
 * thp: 2 MiB aligned whole huge pages (a smaller buffer is the start of
 * one) with MADV_HUGEPAGE.
 */
struct buf alloc_buf(enum kind kind, size_t len);
void free_buf(struct buf *b);

/* mbind(2) of [p, p + len) to @mode over @nodes; MPOL_DEFAULT takes none. */
void set_policy(uint8_t *p, size_t len, int mode, const int *nodes, int nnodes);

/* First touch of [p, p + len) from a thread running on @node. */
void touch_on_node(uint8_t *p, size_t len, int node);

/*
 * Percent of the 2 MiB chunks under [p, p + len) that look like one huge
 * page (physically contiguous and aligned); -1 when physical addresses are
 * hidden (not root).
 */
double huge_pct(const uint8_t *p, size_t len);

/* The bus address of byte @off of @r, with @n bytes contiguous after it, or 0. */
uint64_t bus_at(const struct sgdma_region *r, size_t off, size_t n);

/*
 * One edu DMA of @n bytes of the rig's pattern into @r at @off; true when
 * the application reads the pattern there. @us (may be NULL) gets the time
 * of the transfer.
 */
bool dma_into(struct rig *rig, struct sgdma_region *r, size_t off, size_t n, double *us);

/* "ENOMEM" for ENOMEM, "?" when unknown. */
const char *errname(int err);

/* Microseconds since @t0 (from now_ns()). */
static inline double us_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e3;
}

/* placement.c: the runs, their table, the CSV; false when a DMA did not land. */
bool placement_runs(struct rig *rig, const struct opts *o);

/* migrate.c: false when a DMA did not land. */
bool migrate_experiment(struct rig *rig);

#endif
