// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgnuma - where do the pages of a registered buffer live, what does it cost
 * to register them, and what happens when the kernel is asked to migrate
 * pinned pages.
 *
 * For each memory placement policy, buffer size and page kind it allocates
 * a buffer, registers it with an sgdma device, asks libsgdma on which NUMA
 * nodes its pages are (sgdma_region_node_pages()), and times registration,
 * unregistration and (on QEMU's edu device) one device-to-RAM DMA.  Then
 * the migration experiment: move_pages(2) and migrate_pages(2) on a
 * registered buffer, with unregistered buffers as controls, and a DMA to
 * the registered buffer's bus address to show where the data lands.
 *
 * See `sgnuma --help` and docs/numa.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sgnuma.h"

#define PROG "sgnuma"

const char *const kind_names[KIND_COUNT] = {[KIND_4K] = "4k", [KIND_THP] = "thp"};
const char *const placement_names[PL_COUNT] = {
    [PL_BIND0] = "bind0",           [PL_BIND1] = "bind1",   [PL_INTERLEAVE] = "interleave",
    [PL_PREFERRED1] = "preferred1", [PL_TOUCH0] = "touch0", [PL_TOUCH1] = "touch1",
    [PL_DEFAULT] = "default",
};

__attribute__((noreturn)) static void usage(void)
{
	printf("\n"
	       "Usage:\n"
	       " " PROG " [options]\n"
	       "\n"
	       "Measure NUMA placement of buffers registered with an sgdma device: pages\n"
	       "per node, share on the device's node, registration, unregistration and\n"
	       "(on QEMU's edu device) DMA time; then what migration does to pinned pages.\n"
	       "\n"
	       "Options:\n"
	       " -s, --sizes <list>       buffer sizes, comma-separated, from 4K to 256M\n"
	       "                            (default 4K,64K,2M,16M); suffixes K, M, G\n"
	       " -k, --kinds <list>       page kinds: 4k (MADV_NOHUGEPAGE), thp\n"
	       "                            (2 MiB aligned, MADV_HUGEPAGE); default both\n"
	       " -p, --placements <list>  bind0, bind1, interleave, preferred1, touch0,\n"
	       "                            touch1 (first touch from a thread on that node),\n"
	       "                            default; default all\n"
	       " -r, --repeat <n>         runs per combination (default 3): median, min, max\n"
	       "     --dma-size <size>    the size whose runs also time one %u-byte\n"
	       "                            device-to-RAM DMA (default: the first size)\n"
	       "     --no-dma             no DMA (any device; edu is needed for DMA)\n"
	       " -c, --csv <file>         write one row per placement x size x kind\n"
	       " -D, --device <name>      sgdma device name or node path; default:\n"
	       "                            $SGDMA_DEVICE, else the only exposed one\n"
	       "     --no-migrate         skip the migration experiment\n"
	       "     --migrate-only       run only the migration experiment\n"
	       "\n"
	       " -h, --help               display this help\n"
	       " -V, --version            display version\n"
	       "\n"
	       "Needs at least two NUMA nodes, and root for the DMA (edu's BAR in sysfs)\n"
	       "and for physical addresses in /proc/self/pagemap (huge page check).\n"
	       "\n"
	       "Exit status:\n"
	       " 0  success\n"
	       " 1  usage error or bad argument\n"
	       " 2  no sgdma device exposed, or no such device\n"
	       " 3  fewer than two NUMA nodes, or no NUMA support\n"
	       " 4  a measurement failed (allocation, registration, DMA data wrong)\n"
	       "\n"
	       "See docs/numa.md.\n",
	       DMA_BYTES);
	exit(EX_OK);
}

/* ---- argument parsing --------------------------------------------------- */

/* Split @arg at commas and call @fn on each item; false when one fails. */
static bool each_item(char *arg, bool (*fn)(const char *item, struct opts *o), struct opts *o)
{
	char *save = NULL;

	for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!fn(t, o)) {
			fprintf(stderr, PROG ": invalid list item '%s'\n", t);
			return false;
		}
	return true;
}

static bool add_size(const char *item, struct opts *o)
{
	uint64_t v;

	if (parse_size(item, &v) || v < PAGE || v > (256ULL << 20) || o->nsizes == MAX_SIZES)
		return false;
	o->sizes[o->nsizes++] = v;
	return true;
}

/* Sets the flag of the name @item among @names: false if there is none. */
static bool set_named(const char *item, const char *const *names, int count, bool *flags)
{
	for (int i = 0; i < count; i++)
		if (!strcasecmp(item, names[i])) {
			flags[i] = true;
			return true;
		}
	return false;
}

static bool add_kind(const char *item, struct opts *o)
{
	return set_named(item, kind_names, KIND_COUNT, o->kinds);
}

static bool add_placement(const char *item, struct opts *o)
{
	return set_named(item, placement_names, PL_COUNT, o->placements);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_DMA_SIZE = 256, OPT_NO_DMA, OPT_NO_MIGRATE, OPT_MIGRATE_ONLY };
	static const struct option longopts[] = {
	    {"sizes", required_argument, NULL, 's'},
	    {"kinds", required_argument, NULL, 'k'},
	    {"placements", required_argument, NULL, 'p'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"dma-size", required_argument, NULL, OPT_DMA_SIZE},
	    {"no-dma", no_argument, NULL, OPT_NO_DMA},
	    {"csv", required_argument, NULL, 'c'},
	    {"device", required_argument, NULL, 'D'},
	    {"no-migrate", no_argument, NULL, OPT_NO_MIGRATE},
	    {"migrate-only", no_argument, NULL, OPT_MIGRATE_ONLY},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	bool kinds_set = false, placements_set = false;
	unsigned long long n;
	int c;

	*o = (struct opts){.repeat = 3, .dma = true, .placement_runs = true, .migrate = true};
	while ((c = cli_getopt(argc, argv, ":s:k:p:r:c:D:hV", longopts, usage)) != -1) {
		switch (c) {
		case 's':
			o->nsizes = 0;
			if (!each_item(optarg, add_size, o))
				die(EX_USAGE, "--sizes: sizes from 4K to 256M, at most %d",
				    MAX_SIZES);
			break;
		case 'k':
			if (!each_item(optarg, add_kind, o))
				die(EX_USAGE, "--kinds: use 4k and/or thp");
			kinds_set = true;
			break;
		case 'p':
			if (!each_item(optarg, add_placement, o))
				die(EX_USAGE, "--placements: see --help for the names");
			placements_set = true;
			break;
		case 'r':
			if (parse_uint(optarg, 1000, &n) || n < 1)
				die(EX_USAGE, "--repeat: a number from 1 to 1000");
			o->repeat = (unsigned int)n;
			break;
		case OPT_DMA_SIZE:
			if (parse_size(optarg, &o->dma_size))
				die(EX_USAGE, "--dma-size: invalid size '%s'", optarg);
			break;
		case OPT_NO_DMA:
			o->dma = false;
			break;
		case 'c':
			o->csv = optarg;
			break;
		case 'D':
			o->device = optarg;
			break;
		case OPT_NO_MIGRATE:
			o->migrate = false;
			break;
		case OPT_MIGRATE_ONLY:
			o->placement_runs = false;
			break;
		}
	}
	if (!o->placement_runs && !o->migrate)
		die(EX_USAGE, "--migrate-only and --no-migrate: nothing to do");
	if (!o->nsizes) {
		static const uint64_t def[] = {4 << 10, 64 << 10, 2 << 20, 16 << 20};

		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			o->sizes[o->nsizes++] = def[i];
	}
	if (!kinds_set)
		for (int k = 0; k < KIND_COUNT; k++)
			o->kinds[k] = true;
	if (!placements_set)
		for (int p = 0; p < PL_COUNT; p++)
			o->placements[p] = true;
	if (!o->dma_size)
		o->dma_size = o->sizes[0];
	else {
		bool found = false;

		for (int i = 0; i < o->nsizes; i++)
			found |= o->sizes[i] == o->dma_size;
		if (!found)
			die(EX_USAGE, "--dma-size must be one of the --sizes");
	}
}

/* ---- main --------------------------------------------------------------- */

/* Use the edu device for DMA when the sgdma device is one. */
static void open_edu(struct rig *rig)
{
	char bdf[64];
	struct sgdma_region *r;
	uint8_t *pat;
	int ret;

	if (edu_find(bdf, sizeof(bdf)) || strcmp(bdf, rig->info.name))
		return;
	ret = edu_open(&rig->edu, bdf);
	if (ret) {
		warnmsg("edu %s: %s: no DMA timing", bdf, strerror(-ret));
		return;
	}
	/* Load the device's buffer with a pattern once: every DMA writes it. */
	pat = aligned_alloc(PAGE, PAGE);
	if (!pat)
		die(EX_FAIL, "out of memory");
	for (size_t i = 0; i < DMA_BYTES; i++)
		rig->pattern[i] = (uint8_t)(i * 131 + 17) | 1; /* never 0 */
	memcpy(pat, rig->pattern, DMA_BYTES);
	r = sgdma_dev_register(rig->dev, pat, DMA_BYTES, SGDMA_TO_DEVICE);
	if (!r)
		die(EX_FAIL, "%s", sgdma_last_error());
	ret = edu_dma_to_device(&rig->edu, sgdma_region_segs(r)[0].addr, 0, DMA_BYTES);
	if (ret)
		die(EX_FAIL, "edu DMA from memory: %s", strerror(-ret));
	sgdma_unregister(r);
	free(pat);
	rig->have_edu = true;
}

int main(int argc, char **argv)
{
	static struct rig rig;
	struct opts o;
	bool ok = true;

	parse_args(argc, argv, &o);
	if (numa_available() < 0 || numa_max_node() < 1)
		die(EX_NONUMA, "needs at least two NUMA nodes (numactl --hardware)");
	rig.nnodes = numa_max_node() + 1;
	rig.maxnodes = numa_num_possible_nodes();

	rig.dev = sgdma_open(o.device);
	if (!rig.dev)
		die(errno == ENODEV || errno == ENOENT ? EX_NODEV : EX_FAIL, "%s",
		    sgdma_last_error());
	if (sgdma_dev_info(rig.dev, &rig.info))
		die(EX_FAIL, "%s", sgdma_last_error());
	if (o.dma)
		open_edu(&rig);
	printf("device %s on node %d, DMA mask %#" PRIx64 "%s; %d nodes; %u runs each; DMA: %s\n",
	       rig.info.name, rig.info.numa_node, rig.info.dma_mask,
	       rig.info.iommu ? ", behind an IOMMU" : "", rig.nnodes, o.repeat,
	       rig.have_edu ? "edu, one 2 KiB transfer in the runs of the --dma-size size"
	                    : "none");

	if (o.placement_runs)
		ok &= placement_runs(&rig, &o);
	if (o.migrate)
		ok &= migrate_experiment(&rig);

	if (rig.have_edu)
		edu_close(&rig.edu);
	sgdma_close(rig.dev);
	if (!ok)
		die(EX_FAIL, "a DMA did not land where the application reads");
	return EX_OK;
}
