// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgdump - register a buffer with an sgdma device and print the DMA
 * segments the device would see.
 *
 * See sgdump(1) and `sgdump --help`; sgdump.h lists the parts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgdump.h"

#define PROG "sgdump"

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
	       " -b, --dmabuf <kind>     a dma-buf: udmabuf (a sealed memfd made a dma-buf\n"
	       "                           by /dev/udmabuf) or heap (/dev/dma_heap/system);\n"
	       "                           --offset is then the offset in the dma-buf\n"
	       " -n, --node <node>       place the buffer's pages on this NUMA node (mbind)\n"
	       " -d, --dir <dir>         DMA direction: to (device reads), from (device\n"
	       "                           writes) or bidi (default)\n"
	       " -c, --require-contig    fail unless the device sees the buffer as one\n"
	       "                           DMA segment (one bus address range)\n"
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
	       "Without --thp, --hugetlb, --file or --dmabuf the buffer is anonymous memory.\n"
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
	       " 7  --require-contig: the buffer is not one DMA segment (the message says\n"
	       "    how many it would be)\n"
	       "\n"
	       "Environment:\n"
	       " SGDMA_DEVICE   default device name or path\n"
	       " SGDMA_DEV_DIR  directory of the device nodes (default " SGDMA_DEV_DIR_DEFAULT ")\n"
	       "\n"
	       "For more details see sgdump(1).\n");
	exit(EX_OK);
}

/* ---- arguments ---------------------------------------------------------- */

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"offset", required_argument, NULL, 'o'},
	    {"thp", no_argument, NULL, 't'},
	    {"hugetlb", no_argument, NULL, 'H'},
	    {"file", required_argument, NULL, 'f'},
	    {"dmabuf", required_argument, NULL, 'b'},
	    {"node", required_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'},
	    {"require-contig", no_argument, NULL, 'c'},
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
	while ((c = cli_getopt(argc, argv, ":s:o:tHf:b:n:d:cD:jqm:hV", longopts, usage)) != -1) {
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
		case 'b':
			if (!strcmp(optarg, "udmabuf"))
				o->mem = MEM_UDMABUF;
			else if (!strcmp(optarg, "heap"))
				o->mem = MEM_HEAP;
			else
				die(EX_USAGE, "invalid --dmabuf '%s': use udmabuf or heap", optarg);
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
		case 'c':
			o->require_contig = true;
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
		}
	}
	if (nmem > 1)
		die(EX_USAGE, "--thp, --hugetlb, --file and --dmabuf are mutually exclusive");
	if (o->node >= 0 && (o->mem == MEM_UDMABUF || o->mem == MEM_HEAP))
		die(EX_USAGE, "--node does not apply to --dmabuf: the exporter places the memory");
	if (o->json && o->quiet)
		die(EX_USAGE, "--json and --quiet are mutually exclusive");
}

/* ---- errors ------------------------------------------------------------- */

/* Where a library call failed: the same errno means another thing at each. */
enum step { AT_OPEN = 1, AT_REGISTER = 2, AT_CONTIG = 4 };

/* The exit status of each errno, by step; any other is EX_REGISTER. */
static const struct {
	int err;
	unsigned int steps;
	int status;
} exit_map[] = {
    {ENODEV, AT_OPEN | AT_REGISTER, EX_NODEV},
    {ENOENT, AT_OPEN, EX_NODEV},
    {ENOTUNIQ, AT_OPEN, EX_NODEV},
    {ENOTTY, AT_OPEN, EX_NODEV},
    {ENOTDIR, AT_OPEN, EX_NODEV},
    {EACCES, AT_OPEN | AT_REGISTER, EX_PERM},
    {EPERM, AT_OPEN | AT_REGISTER, EX_PERM},
    {EINVAL, AT_OPEN, EX_USAGE},
    {ENAMETOOLONG, AT_OPEN, EX_USAGE},
    {ENOMEM, AT_REGISTER, EX_MEMLOCK},
    {EFAULT, AT_REGISTER, EX_MEMORY},
    {E2BIG, AT_CONTIG, EX_NOTCONTIG},
};

static int exit_status(int err, enum step step)
{
	for (size_t i = 0; i < sizeof(exit_map) / sizeof(exit_map[0]); i++)
		if (exit_map[i].err == err && exit_map[i].steps & step)
			return exit_map[i].status;
	return EX_REGISTER;
}

/* Dies with the library's message, the exit status of @err and a hint where one helps. */
__attribute__((noreturn)) static void fail(enum step step, int err, const struct buffer *b)
{
	int status = exit_status(err, step);

	if (status == EX_PERM && step == AT_OPEN)
		die(status,
		    "%s; the group is sgdma (udev rule /etc/udev/rules.d/60-sgdma.rules or "
		    "/lib/udev/rules.d/60-sgdma.rules): sudo usermod -aG sgdma $USER, then log in "
		    "again",
		    sgdma_last_error());
	if (status == EX_MEMLOCK) {
		uint64_t kib = ((uint64_t)b->npages * b->page + 1023) / 1024;

		die(status,
		    "%s (this buffer needs %" PRIu64 " KiB locked: e.g. ulimit -l %" PRIu64 ")",
		    sgdma_last_error(), kib, kib);
	}
	die(status, "%s", sgdma_last_error());
}

/* ---- main --------------------------------------------------------------- */

/* The region's pages per node into @rep, or why they are unknown. */
static void count_node_pages(struct report *rep, const struct sgdma_region *region)
{
	int max = numa_available() < 0 ? 1 : numa_num_possible_nodes();
	size_t counted = 0;
	int seen;

	rep->node_pages = calloc((size_t)max, sizeof(*rep->node_pages));
	if (!rep->node_pages)
		die(EX_MEMORY, "out of memory");
	seen = sgdma_region_node_pages(region, rep->node_pages, max);
	if (seen < 0) {
		snprintf(rep->node_err, sizeof(rep->node_err), "%s", sgdma_last_error());
		return;
	}
	/* Every node with memory, and any other that holds a page. */
	rep->nnodes = (size_t)(numa_available() < 0 ? seen : numa_max_node() + 1);
	if ((size_t)seen > rep->nnodes)
		rep->nnodes = (size_t)seen;
	for (size_t i = 0; i < rep->nnodes; i++)
		counted += rep->node_pages[i];
	rep->unknown_pages = rep->b->npages - counted;
}

int main(int argc, char **argv)
{
	struct sgdma_region *region;
	struct report rep = {.smallest = UINT64_MAX};
	struct sgdma_dev *dev;
	struct buffer b;
	struct opts o;
	int status = EX_OK;
	uint64_t t0;

	parse_args(argc, argv, &o);
	check_offset(&o);
	if (o.node >= 0)
		check_node(o.node);

	dev = sgdma_open(o.device);
	if (!dev)
		fail(AT_OPEN, errno, NULL);
	if (sgdma_dev_info(dev, &rep.info) < 0)
		die(EX_REGISTER, "%s", sgdma_last_error());
	rep.coherent = sgdma_dev_coherent(dev);
	rep.dma_align = sgdma_dev_dma_align(dev);

	alloc_buffer(&o, &b);
	t0 = now_ns();
	if (b.dmabuf >= 0)
		region =
		    sgdma_register_dmabuf(dev, b.dmabuf, o.offset, b.len,
		                          o.dir | (o.require_contig ? SGDMA_REQUIRE_CONTIG : 0));
	else
		region = sgdma_dev_register(dev, b.buf, b.len,
		                            o.dir | (o.require_contig ? SGDMA_REQUIRE_CONTIG : 0));
	rep.register_ns = now_ns() - t0;
	if (!region)
		fail(o.require_contig ? AT_REGISTER | AT_CONTIG : AT_REGISTER, errno, &b);
	rep.flags = sgdma_region_flags(region);

	rep.o = &o;
	rep.b = &b;
	rep.segs = sgdma_region_segs(region);
	rep.nsegs = sgdma_region_nsegs(region);
	for (size_t i = 0; i < rep.nsegs; i++) {
		if (rep.segs[i].len > rep.largest)
			rep.largest = rep.segs[i].len;
		if (rep.segs[i].len < rep.smallest)
			rep.smallest = rep.segs[i].len;
	}
	count_node_pages(&rep, region);

	if (o.json)
		print_json(&rep);
	else
		print_text(&rep);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnmsg("write error on stdout: %s", strerror(errno));
		status = EX_REGISTER;
	}

	if (sgdma_unregister(region) < 0) {
		fprintf(stderr, PROG ": %s\n", sgdma_last_error());
		status = EX_REGISTER;
	}
	sgdma_close(dev);
	free(rep.node_pages);
	free_buffer(&b);
	return status;
}
