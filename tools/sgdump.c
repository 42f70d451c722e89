// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgdump - register a buffer with an sgdma device and print the DMA
 * segments the device would see.
 *
 * See sgdump(1) and `sgdump --help`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <numa.h>
#include <numaif.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sgdma.h>

#include "cli.h"

#ifndef SGDMA_VERSION
#define SGDMA_VERSION "unknown"
#endif

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

#define PROG "sgdump"

/* Exit statuses: keep in sync with usage() and docs/man/sgdump.1. */
enum {
	EX_OK = 0,
	EX_USAGE = 1,    /* usage error, bad argument */
	EX_NODEV = 2,    /* no device exposed, device not found */
	EX_PERM = 3,     /* permission denied on the device node */
	EX_MEMLOCK = 4,  /* RLIMIT_MEMLOCK too low (ENOMEM) */
	EX_MEMORY = 5,   /* unsupported memory, allocation failed */
	EX_REGISTER = 6, /* other registration failure */
};

enum memkind { MEM_ANON, MEM_THP, MEM_HUGETLB, MEM_FILE };

static const char *const mem_names[] = {
    [MEM_ANON] = "anonymous",
    [MEM_THP] = "thp",
    [MEM_HUGETLB] = "hugetlb",
    [MEM_FILE] = "file",
};

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
	size_t max_rows;
};

__attribute__((noreturn)) static void usage(void)
{
	printf("\n"
	       "Usage:\n"
	       " " PROG " [options]\n"
	       "\n"
	       "Register a buffer with an sgdma device and print the DMA segments the\n"
	       "device would see: bus address, length, offset and pages of each.\n"
	       "\n"
	       "Options:\n"
	       " -s, --size <size>       buffer size (default 1M); suffixes K, M, G, T\n"
	       "                           (KiB, MiB, ...: powers of 1024) or KB, MB, GB, TB\n"
	       "                           (powers of 1000)\n"
	       " -o, --offset <bytes>    start the buffer this far into its first page\n"
	       "                           (less than the page size: 4 KiB, or 2 MiB with\n"
	       "                           --thp or --hugetlb; same suffixes as --size)\n"
	       " -t, --thp               anonymous memory, 2 MiB aligned, with\n"
	       "                           madvise(MADV_HUGEPAGE) (transparent huge pages)\n"
	       " -H, --hugetlb           anonymous MAP_HUGETLB memory (needs huge pages\n"
	       "                           reserved in /proc/sys/vm/nr_hugepages)\n"
	       " -f, --file <path>       MAP_SHARED mapping of an existing file (size\n"
	       "                           defaults to the file's size minus the offset)\n"
	       " -n, --node <node>       place the buffer's pages on this NUMA node (mbind)\n"
	       " -d, --dir <dir>         DMA direction: to (device reads), from (device\n"
	       "                           writes) or bidi (default)\n"
	       " -D, --device <name>     device name (e.g. 0000:00:04.0) or node path;\n"
	       "                           default: $SGDMA_DEVICE, else the only exposed one\n"
	       " -j, --json              print one JSON document (all segments)\n"
	       " -q, --quiet             print only the summary\n"
	       " -m, --max-rows <n>      print at most n segment rows (default 64,\n"
	       "                           0: all)\n"
	       "\n"
	       " -h, --help              display this help\n"
	       " -V, --version           display version\n"
	       "\n"
	       "Without --thp, --hugetlb or --file the buffer is anonymous memory.\n"
	       "Every page is touched before the buffer is registered.\n"
	       "\n"
	       "Exit status:\n"
	       " 0  success\n"
	       " 1  usage error or bad argument (bad size, offset, direction, node)\n"
	       " 2  no sgdma device exposed, or no such device\n"
	       " 3  permission denied on the device node\n"
	       " 4  locked-memory limit too low (ulimit -l)\n"
	       " 5  unsupported memory or allocation failed (no huge pages reserved,\n"
	       "    mmap failure, bad file)\n"
	       " 6  other registration failure\n"
	       "\n"
	       "Environment:\n"
	       " SGDMA_DEVICE   default device name or path\n"
	       " SGDMA_DEV_DIR  directory of the device nodes (default " SGDMA_DEV_DIR_DEFAULT ")\n"
	       "\n"
	       "For more details see sgdump(1).\n");
	exit(EX_OK);
}

/* ---- argument parsing --------------------------------------------------- */

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long n;
	char *end;

	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"offset", required_argument, NULL, 'o'},
	    {"thp", no_argument, NULL, 't'},
	    {"hugetlb", no_argument, NULL, 'H'},
	    {"file", required_argument, NULL, 'f'},
	    {"node", required_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'},
	    {"device", required_argument, NULL, 'D'},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"max-rows", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long n;
	uint64_t v;
	int c, nmem = 0;

	*o = (struct opts){
	    .size = 1UL << 20,
	    .mem = MEM_ANON,
	    .node = -1,
	    .dir = SGDMA_BIDIRECTIONAL,
	    .max_rows = 64,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:o:tHf:n:d:D:jqm:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &v) < 0 || v == 0 || v > SIZE_MAX / 2)
				die(EX_USAGE,
				    "invalid size '%s': a positive number of bytes with an "
				    "optional suffix K, M, G, T (KiB...) or KB, MB... (e.g. 64M)",
				    optarg);
			o->size = (size_t)v;
			o->size_set = true;
			break;
		case 'o':
			if (parse_size(optarg, &v) < 0 || v > SIZE_MAX / 2)
				die(EX_USAGE, "invalid offset '%s'", optarg);
			o->offset = (size_t)v;
			break;
		case 't':
			o->mem = MEM_THP;
			nmem++;
			break;
		case 'H':
			o->mem = MEM_HUGETLB;
			nmem++;
			break;
		case 'f':
			if (!optarg[0])
				die(EX_USAGE, "invalid file: empty path");
			o->mem = MEM_FILE;
			o->file = optarg;
			nmem++;
			break;
		case 'n':
			if (parse_uint(optarg, INT_MAX, &n) < 0)
				die(EX_USAGE, "invalid NUMA node '%s'", optarg);
			o->node = (int)n;
			break;
		case 'd':
			if (!strcmp(optarg, "to"))
				o->dir = SGDMA_TO_DEVICE;
			else if (!strcmp(optarg, "from"))
				o->dir = SGDMA_FROM_DEVICE;
			else if (!strcmp(optarg, "bidi"))
				o->dir = SGDMA_BIDIRECTIONAL;
			else
				die(EX_USAGE, "invalid direction '%s': use to, from or bidi",
				    optarg);
			break;
		case 'D':
			if (!optarg[0])
				die(EX_USAGE, "invalid device: empty name");
			o->device = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'm':
			if (parse_uint(optarg, SIZE_MAX, &n) < 0)
				die(EX_USAGE, "invalid --max-rows '%s'", optarg);
			o->max_rows = (size_t)n;
			break;
		case 'h':
			usage();
		case 'V':
			print_version();
		default:
			option_error(c, argv);
		}
	}
	no_operands(argc, argv);
	if (nmem > 1)
		die(EX_USAGE, "--thp, --hugetlb and --file are mutually exclusive");
	if (o->json && o->quiet)
		die(EX_USAGE, "--json and --quiet are mutually exclusive");
}

/* ---- helpers ------------------------------------------------------------ */

/* "4 KiB", "1.5 MiB", "100 B": @buf. */
static const char *human(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned int u = 0;
	uint64_t div = 1;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && n / div >= 1024) {
		div *= 1024;
		u++;
	}
	if (n % div == 0)
		snprintf(buf, size, "%" PRIu64 " %s", n / div, units[u]);
	else
		snprintf(buf, size, "%.1f %s", (double)n / (double)div, units[u]);
	return buf;
}

static const char *dir_name(unsigned int dir)
{
	switch (dir) {
	case SGDMA_TO_DEVICE:
		return "to";
	case SGDMA_FROM_DEVICE:
		return "from";
	default:
		return "bidi";
	}
}

/* Huge page size from /proc/meminfo, default 2 MiB. */
static size_t hugetlb_size(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t kb = 0;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
				break;
		fclose(f);
	}
	return kb ? kb * 1024 : THP_SIZE;
}

static long meminfo_value(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t klen = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void thp_check(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char line[128];

	if (!f) {
		warnmsg("transparent huge pages are not available in this kernel: --thp gives base "
		        "pages");
		return;
	}
	if (fgets(line, sizeof(line), f) && strstr(line, "[never]"))
		warnmsg("transparent huge pages are disabled "
		        "(/sys/kernel/mm/transparent_hugepage/enabled is never): --thp gives base "
		        "pages");
	fclose(f);
}

/* ---- the buffer --------------------------------------------------------- */

struct buffer {
	char *map; /* what to munmap */
	size_t map_len;
	char *buf; /* the registered buffer: map + offset */
	size_t len;
	size_t page;   /* base page size */
	size_t npages; /* base pages the buffer spans */
	int fd;
};

static void check_node(int node)
{
	int max;

	if (numa_available() < 0)
		die(EX_MEMORY, "--node %d: NUMA is not available on this system", node);
	max = numa_max_node();
	if (node > max || !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)node))
		die(EX_USAGE,
		    "--node %d: no such NUMA node with memory (this system has nodes 0-%d; see "
		    "numactl --hardware)",
		    node, max);
}

static void bind_node(const struct buffer *b, int node)
{
	unsigned long mask[(node / (8 * (int)sizeof(unsigned long))) + 1];
	int i = node / (8 * (int)sizeof(unsigned long));

	memset(mask, 0, sizeof(mask));
	mask[i] = 1UL << (node % (8 * sizeof(unsigned long)));
	if (mbind(b->map, b->map_len, MPOL_BIND, mask, sizeof(mask) * 8 + 1,
	          MPOL_MF_MOVE | MPOL_MF_STRICT) < 0)
		die(EX_MEMORY, "cannot bind the buffer to NUMA node %d: mbind: %s", node,
		    strerror(errno));
}

/* The page size of the buffer's memory: the limit of --offset. */
static size_t mem_align(const struct opts *o)
{
	return o->mem == MEM_THP       ? THP_SIZE
	       : o->mem == MEM_HUGETLB ? hugetlb_size()
	                               : (size_t)sysconf(_SC_PAGESIZE);
}

static void check_offset(const struct opts *o)
{
	size_t align = mem_align(o);
	char h[32];

	if (o->offset >= align)
		die(EX_USAGE, "invalid offset %zu: must be less than the page size (%s)", o->offset,
		    human(align, h, sizeof(h)));
}

static void alloc_buffer(const struct opts *o, struct buffer *b)
{
	int prot = PROT_READ | PROT_WRITE;
	size_t align, need;
	struct stat st;

	b->page = (size_t)sysconf(_SC_PAGESIZE);
	b->fd = -1;
	align = mem_align(o);
	b->len = o->size;

	switch (o->mem) {
	case MEM_ANON:
	case MEM_HUGETLB:
		b->map_len = round_up((uint64_t)o->offset + b->len, align);
		b->map = mmap(
		    NULL, b->map_len, prot,
		    MAP_PRIVATE | MAP_ANONYMOUS | (o->mem == MEM_HUGETLB ? MAP_HUGETLB : 0), -1, 0);
		if (b->map == MAP_FAILED) {
			int err = errno;
			char h[32];

			if (o->mem == MEM_HUGETLB && (err == ENOMEM || err == EINVAL)) {
				long total = meminfo_value("HugePages_Total");
				long freep = meminfo_value("HugePages_Free");

				if (total == 0)
					die(EX_MEMORY,
					    "--hugetlb: no huge pages are reserved: reserve some, "
					    "e.g. echo %zu > /proc/sys/vm/nr_hugepages (as root)",
					    (size_t)(b->map_len / align));
				die(EX_MEMORY,
				    "--hugetlb: cannot map %s of huge pages (%ld of %ld free, %s "
				    "each): reserve more in /proc/sys/vm/nr_hugepages",
				    human(b->map_len, h, sizeof(h)), freep, total,
				    human(align, h + 16, 16));
			}
			die(EX_MEMORY, "cannot allocate %s: mmap: %s",
			    human(b->map_len, h, sizeof(h)), strerror(err));
		}
		break;
	case MEM_THP:
		b->map_len = round_up((uint64_t)o->offset + b->len, THP_SIZE);
		b->map = mmap_aligned(b->map_len, THP_SIZE);
		if (!b->map) {
			char h[32];

			die(EX_MEMORY, "cannot allocate %s: mmap: %s",
			    human(b->map_len, h, sizeof(h)), strerror(errno));
		}
		thp_check();
		if (madvise(b->map, b->map_len, MADV_HUGEPAGE) < 0)
			die(EX_MEMORY,
			    "--thp: madvise(MADV_HUGEPAGE): %s (is transparent huge page support "
			    "built in?)",
			    strerror(errno));
		break;
	case MEM_FILE:
		if (o->dir == SGDMA_TO_DEVICE)
			prot = PROT_READ;
		b->fd = open(o->file, (prot & PROT_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (b->fd < 0)
			die(EX_MEMORY, "cannot open %s%s: %s", o->file,
			    prot & PROT_WRITE ? " for writing (the device writes it: use --dir to "
			                        "for a read-only file)"
			                      : "",
			    strerror(errno));
		if (fstat(b->fd, &st) < 0)
			die(EX_MEMORY, "cannot stat %s: %s", o->file, strerror(errno));
		if (S_ISDIR(st.st_mode))
			die(EX_MEMORY, "%s is a directory", o->file);
		if (S_ISREG(st.st_mode)) {
			if ((uint64_t)st.st_size <= o->offset && !o->size_set)
				die(EX_MEMORY, "%s has %lld bytes: nothing to map after offset %zu",
				    o->file, (long long)st.st_size, o->offset);
			if (!o->size_set)
				b->len = (size_t)st.st_size - o->offset;
			need = o->offset + b->len;
			if ((uint64_t)st.st_size < need)
				die(EX_MEMORY,
				    "%s is too small: %lld bytes, the buffer needs %zu (offset + "
				    "size)",
				    o->file, (long long)st.st_size, need);
		}
		b->map_len = round_up((uint64_t)o->offset + b->len, b->page);
		b->map = mmap(NULL, b->map_len, prot, MAP_SHARED, b->fd, 0);
		if (b->map == MAP_FAILED)
			die(EX_MEMORY, "cannot map %s: mmap: %s", o->file, strerror(errno));
		break;
	}
	b->buf = b->map + o->offset;
	b->npages = ((uintptr_t)b->buf + b->len - 1) / b->page - (uintptr_t)b->buf / b->page + 1;

	if (o->node >= 0)
		bind_node(b, o->node);
}

/* Fault in every page: write anonymous memory, read file mappings. */
static void touch_buffer(const struct opts *o, const struct buffer *b)
{
	volatile char *p = (volatile char *)b->map;
	size_t i;

	for (i = 0; i < b->map_len; i += b->page) {
		if (o->mem == MEM_FILE)
			(void)p[i];
		else
			p[i] = (char)0x5a;
	}
}

/*
 * Pages of the buffer per NUMA node, by move_pages(2) with nodes NULL.
 * @counts has @ncounts entries (node ids); *@unknown gets pages whose node
 * could not be told.  Returns 0, or -errno when move_pages failed.
 */
static int pages_per_node(const struct buffer *b, size_t *counts, size_t ncounts, size_t *unknown)
{
	const size_t batch = 4096;
	void *pages[4096];
	int status[4096];
	uintptr_t first = (uintptr_t)b->buf / b->page * b->page;
	size_t done = 0, i, n;

	*unknown = 0;
	while (done < b->npages) {
		n = b->npages - done < batch ? b->npages - done : batch;
		for (i = 0; i < n; i++)
			pages[i] = (void *)(first + (done + i) * b->page);
		if (move_pages(0, n, pages, NULL, status, 0) < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			if (status[i] >= 0 && (size_t)status[i] < ncounts)
				counts[status[i]]++;
			else
				(*unknown)++;
		}
		done += n;
	}
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

struct result {
	struct sgdma_dev_info info;
	const struct sgdma_seg *segs;
	size_t nsegs;
	uint64_t register_ns;
	uint64_t largest, smallest;
	size_t *node_pages; /* per node id */
	size_t nnodes;      /* entries of node_pages, 0: unknown */
	size_t unknown_pages;
	char node_err[128]; /* why node_pages is unknown */
};

/* Base pages a segment touches. */
static size_t seg_pages(const struct buffer *b, const struct sgdma_seg *s, size_t *first)
{
	uintptr_t base = (uintptr_t)b->buf / b->page;
	uintptr_t start = (uintptr_t)b->buf + s->offset;
	uintptr_t lo = start / b->page, hi = (start + s->len - 1) / b->page;

	if (first)
		*first = lo - base;
	return hi - lo + 1;
}

static void print_json(const struct opts *o, const struct buffer *b, const struct result *r)
{
	size_t i;

	printf("{\n  \"device\": {\"name\": ");
	json_str(r->info.name);
	printf(", \"numa_node\": %d, \"dma_mask\": \"0x%" PRIx64 "\", "
	       "\"iommu\": %s, \"max_segment\": %" PRIu64 ", "
	       "\"seg_boundary\": \"0x%" PRIx64 "\"},\n",
	       r->info.numa_node, r->info.dma_mask, r->info.iommu ? "true" : "false",
	       r->info.max_segment, r->info.seg_boundary);
	printf("  \"buffer\": {\"size\": %zu, \"offset\": %zu, \"memory\": \"%s\", ", b->len,
	       o->offset, mem_names[o->mem]);
	if (o->file) {
		printf("\"file\": ");
		json_str(o->file);
		printf(", ");
	}
	if (o->node >= 0)
		printf("\"node\": %d, ", o->node);
	else
		printf("\"node\": null, ");
	printf("\"dir\": \"%s\", \"pages\": %zu, \"page_size\": %zu, \"pages_per_node\": ",
	       dir_name(o->dir), b->npages, b->page);
	if (r->nnodes) {
		bool comma = false;

		printf("{");
		for (i = 0; i < r->nnodes; i++) {
			if (!r->node_pages[i] &&
			    !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)i))
				continue;
			printf("%s\"%zu\": %zu", comma ? ", " : "", i, r->node_pages[i]);
			comma = true;
		}
		if (r->unknown_pages)
			printf("%s\"unknown\": %zu", comma ? ", " : "", r->unknown_pages);
		printf("}");
	} else {
		printf("null");
	}
	printf("},\n  \"segments\": [");
	for (i = 0; i < r->nsegs; i++) {
		const struct sgdma_seg *s = &r->segs[i];

		printf("%s\n    {\"index\": %zu, \"addr\": \"0x%" PRIx64 "\", "
		       "\"len\": %" PRIu64 ", \"offset\": %" PRIu64 ", "
		       "\"pages\": %zu}",
		       i ? "," : "", i, s->addr, s->len, s->offset, seg_pages(b, s, NULL));
	}
	printf("\n  ],\n");
	printf("  \"summary\": {\"segments\": %zu, \"pages\": %zu, "
	       "\"pages_per_segment\": %.3f, \"largest\": %" PRIu64 ", "
	       "\"smallest\": %" PRIu64 ", \"register_ns\": %" PRIu64 "}\n}\n",
	       r->nsegs, b->npages, (double)b->npages / (double)r->nsegs, r->largest, r->smallest,
	       r->register_ns);
}

static void print_header(const struct opts *o, const struct buffer *b, const struct result *r)
{
	char h1[32];

	printf("device:       %s\n", r->info.name);
	if (r->info.numa_node >= 0)
		printf("numa node:    %d\n", r->info.numa_node);
	else
		printf("numa node:    none\n");
	printf("dma mask:     0x%" PRIx64 "\n", r->info.dma_mask);
	printf("iommu:        %s\n", r->info.iommu ? "yes" : "no");
	printf("max segment:  %" PRIu64 " (%s)\n", r->info.max_segment,
	       human(r->info.max_segment, h1, sizeof(h1)));
	printf("boundary:     0x%" PRIx64 "\n", r->info.seg_boundary);
	printf("buffer:       %zu bytes (%s) at offset %zu, %s memory", b->len,
	       human(b->len, h1, sizeof(h1)), o->offset, mem_names[o->mem]);
	if (o->file)
		printf(" (%s)", o->file);
	if (o->node >= 0)
		printf(", bound to node %d", o->node);
	printf(", dir %s\n\n", dir_name(o->dir));
}

static void print_table(const struct opts *o, const struct buffer *b, const struct result *r)
{
	size_t rows = r->nsegs, i, first, n;
	char h[32], len[48], pages[48];

	if (o->max_rows && rows > o->max_rows)
		rows = o->max_rows;
	printf("%5s  %-18s  %-24s  %-12s  %s\n", "SEG", "BUS ADDRESS", "LENGTH", "OFFSET", "PAGES");
	for (i = 0; i < rows; i++) {
		const struct sgdma_seg *s = &r->segs[i];

		snprintf(len, sizeof(len), "%" PRIu64 " (%s)", s->len, human(s->len, h, sizeof(h)));
		n = seg_pages(b, s, &first);
		if (n == 1)
			snprintf(pages, sizeof(pages), "%zu (1)", first);
		else
			snprintf(pages, sizeof(pages), "%zu-%zu (%zu)", first, first + n - 1, n);
		printf("%5zu  0x%016" PRIx64 "  %-24s  %-12" PRIu64 "  %s\n", i, s->addr, len,
		       s->offset, pages);
	}
	if (rows < r->nsegs)
		printf("... %zu more segments (use --max-rows 0 for all)\n", r->nsegs - rows);
	printf("\n");
}

static void print_summary(const struct buffer *b, const struct result *r)
{
	char h[32];
	size_t i;

	printf("segments:          %zu\n", r->nsegs);
	printf("pages:             %zu (%s each)\n", b->npages, human(b->page, h, sizeof(h)));
	printf("pages per segment: %.2f\n", (double)b->npages / (double)r->nsegs);
	printf("largest segment:   %" PRIu64 " (%s)\n", r->largest,
	       human(r->largest, h, sizeof(h)));
	printf("smallest segment:  %" PRIu64 " (%s)\n", r->smallest,
	       human(r->smallest, h, sizeof(h)));
	printf("register time:     %.3f ms (%" PRIu64 " ns)\n", (double)r->register_ns / 1e6,
	       r->register_ns);
	printf("pages per node:");
	if (!r->nnodes) {
		printf(" unknown (%s)\n", r->node_err);
		return;
	}
	for (i = 0; i < r->nnodes; i++) {
		if (!r->node_pages[i] &&
		    !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)i))
			continue;
		printf(" node%zu=%zu", i, r->node_pages[i]);
	}
	if (r->unknown_pages)
		printf(" unknown=%zu", r->unknown_pages);
	printf("\n");
}

/* ---- main --------------------------------------------------------------- */

static int open_status(int err)
{
	switch (err) {
	case ENODEV:
	case ENOENT:
	case ENOTUNIQ:
	case ENOTTY:
	case ENOTDIR:
		return EX_NODEV;
	case EACCES:
	case EPERM:
		return EX_PERM;
	case EINVAL:
	case ENAMETOOLONG:
		return EX_USAGE;
	default:
		return EX_REGISTER;
	}
}

int main(int argc, char **argv)
{
	struct result res = {.smallest = UINT64_MAX};
	struct sgdma_region *region;
	struct sgdma_dev *dev;
	struct buffer b;
	struct opts o;
	uint64_t t0;
	int err, ret, status = EX_OK;
	size_t i;

	parse_args(argc, argv, &o);
	check_offset(&o);
	if (o.node >= 0)
		check_node(o.node);

	dev = sgdma_open(o.device);
	if (!dev) {
		err = errno;
		status = open_status(err);
		if (status == EX_PERM)
			die(status,
			    "%s; the group is sgdma (udev rule /etc/udev/rules.d/60-sgdma.rules or "
			    "/lib/udev/rules.d/60-sgdma.rules): sudo usermod -aG sgdma $USER, then "
			    "log in again",
			    sgdma_last_error());
		die(status, "%s", sgdma_last_error());
	}
	if (sgdma_dev_info(dev, &res.info) < 0)
		die(EX_REGISTER, "%s", sgdma_last_error());

	alloc_buffer(&o, &b);
	touch_buffer(&o, &b);

	t0 = now_ns();
	region = sgdma_dev_register(dev, b.buf, b.len, o.dir);
	res.register_ns = now_ns() - t0;
	if (!region) {
		err = errno;
		switch (err) {
		case ENOMEM: {
			uint64_t kib = ((uint64_t)b.npages * b.page + 1023) / 1024;

			die(EX_MEMLOCK,
			    "%s (this buffer needs %" PRIu64 " KiB locked: e.g. ulimit -l %" PRIu64
			    ")",
			    sgdma_last_error(), kib, kib);
		}
		case EFAULT:
			die(EX_MEMORY, "%s", sgdma_last_error());
		case EACCES:
		case EPERM:
			die(EX_PERM, "%s", sgdma_last_error());
		case ENODEV:
			die(EX_NODEV, "%s", sgdma_last_error());
		default:
			die(EX_REGISTER, "%s", sgdma_last_error());
		}
	}
	res.segs = sgdma_region_segs(region);
	res.nsegs = sgdma_region_nsegs(region);
	for (i = 0; i < res.nsegs; i++) {
		if (res.segs[i].len > res.largest)
			res.largest = res.segs[i].len;
		if (res.segs[i].len < res.smallest)
			res.smallest = res.segs[i].len;
	}

	if (numa_available() < 0) {
		snprintf(res.node_err, sizeof(res.node_err), "NUMA is not available");
	} else {
		res.nnodes = (size_t)numa_max_node() + 1;
		res.node_pages = calloc(res.nnodes, sizeof(*res.node_pages));
		if (!res.node_pages)
			die(EX_MEMORY, "out of memory");
		ret = pages_per_node(&b, res.node_pages, res.nnodes, &res.unknown_pages);
		if (ret < 0) {
			snprintf(res.node_err, sizeof(res.node_err), "move_pages: %s",
			         strerror(-ret));
			res.nnodes = 0;
		}
	}

	if (o.json) {
		print_json(&o, &b, &res);
	} else {
		if (!o.quiet) {
			print_header(&o, &b, &res);
			print_table(&o, &b, &res);
		}
		print_summary(&b, &res);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnmsg("write error on stdout: %s", strerror(errno));
		status = EX_REGISTER;
	}

	ret = sgdma_unregister(region);
	if (ret < 0) {
		fprintf(stderr, PROG ": %s\n", sgdma_last_error());
		status = EX_REGISTER;
	}
	sgdma_close(dev);
	free(res.node_pages);
	munmap(b.map, b.map_len);
	if (b.fd >= 0)
		close(b.fd);
	return status;
}
