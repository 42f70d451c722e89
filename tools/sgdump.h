/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sgdump: what its parts share.
 *   sgdump.c         options, the device, registration, exit statuses, main()
 *   sgdump-buffer.c  the buffer: anonymous, THP, hugetlb or file memory
 *   sgdump-report.c  the report: one description of its fields renders the
 *                    text and the JSON
 */
#ifndef SGDUMP_H
#define SGDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgdma.h>

#include "cli.h"

/* Exit statuses: keep in sync with usage() and docs/man/sgdump.1. */
enum {
	EX_OK = 0,
	EX_USAGE = CLI_EX_USAGE, /* usage error, bad argument */
	EX_NODEV = 2,            /* no device exposed, device not found */
	EX_PERM = 3,             /* permission denied on the device node */
	EX_MEMLOCK = 4,          /* RLIMIT_MEMLOCK too low (ENOMEM) */
	EX_MEMORY = 5,           /* unsupported memory, allocation failed */
	EX_REGISTER = 6,         /* other registration failure */
	EX_NOTCONTIG = 7,        /* --require-contig: not one DMA segment */
};

enum memkind { MEM_ANON, MEM_THP, MEM_HUGETLB, MEM_FILE, MEM_UDMABUF, MEM_HEAP };

extern const char *const mem_names[];

#define THP_SIZE (2UL << 20)

struct opts {
	size_t size;
	bool size_set;
	size_t offset;
	enum memkind mem;
	const char *file;
	int node; /* -1: no binding */
	unsigned int dir;
	const char *device;
	bool json;
	bool quiet;
	bool require_contig;
	size_t max_rows;
};

struct buffer {
	char *map; /* what to munmap */
	size_t map_len;
	char *buf; /* the registered buffer: map + offset */
	size_t len;
	size_t page;   /* base page size */
	size_t npages; /* base pages the buffer spans */
	int fd;
	int dmabuf; /* --dmabuf: the dma-buf registered, else -1 */
};

/* What the report shows: the options, the buffer and what registering it gave. */
struct report {
	const struct opts *o;
	const struct buffer *b;
	struct sgdma_dev_info info;
	int coherent;       /* sgdma_dev_coherent(): 1, 0, or < 0 unknown */
	size_t dma_align;   /* sgdma_dev_dma_align(), 0: unknown */
	unsigned int flags; /* sgdma_region_flags() */
	const struct sgdma_seg *segs;
	size_t nsegs;
	uint64_t register_ns;
	uint64_t largest, smallest;
	size_t *node_pages;   /* per node id, from sgdma_region_node_pages() */
	size_t nnodes;        /* entries of node_pages to show, 0: unknown */
	size_t unknown_pages; /* pages no node was reported for */
	char node_err[160];   /* why node_pages is unknown */
};

/* "4 KiB", "1.5 MiB", "100 B" in @buf. */
const char *human(uint64_t n, char *buf, size_t size);

/* sgdump-buffer.c: each dies with the right exit status on failure. */

/* Dies when --offset is not below the page size of the memory kind. */
void check_offset(const struct opts *o);
/* Dies when --node is not a NUMA node with memory. */
void check_node(int node);
/* Allocates (or maps) the buffer, binds it to --node, touches every page. */
void alloc_buffer(const struct opts *o, struct buffer *b);
void free_buffer(struct buffer *b);

/* sgdump-report.c */

/* The full report as one JSON document. */
void print_json(const struct report *r);
/* The text report: header, segment table and summary, or the summary alone (--quiet). */
void print_text(const struct report *r);

#endif
