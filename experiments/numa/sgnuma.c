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
#include <numaif.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sgdma.h>

#include "edu.h"
#include "cli.h"

#ifndef SGDMA_VERSION
#define SGDMA_VERSION "unknown"
#endif

#define PROG "sgnuma"

/* Exit statuses: keep in sync with usage(). */
enum {
	EX_OK = 0,
	EX_USAGE = 1,  /* usage error, bad argument */
	EX_NODEV = 2,  /* no sgdma device */
	EX_NONUMA = 3, /* fewer than two NUMA nodes, or no NUMA support */
	EX_FAIL = 4,   /* a measurement failed (allocation, registration, DMA data) */
};

#define PAGE      4096UL
#define THP_SIZE  (2UL << 20)
#define MAX_SIZES 32
/* Placement experiment: the edu device writes this many bytes per DMA. */
#define DMA_BYTES EDU_BUF_USABLE
/* Migration experiment: buffer size in pages. */
#define MIGRATE_PAGES 64

enum kind { KIND_4K, KIND_THP, KIND_COUNT };
static const char *const kind_names[] = {[KIND_4K] = "4k", [KIND_THP] = "thp"};

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
static const char *const placement_names[] = {
    [PL_BIND0] = "bind0",           [PL_BIND1] = "bind1",   [PL_INTERLEAVE] = "interleave",
    [PL_PREFERRED1] = "preferred1", [PL_TOUCH0] = "touch0", [PL_TOUCH1] = "touch1",
    [PL_DEFAULT] = "default",
};

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

/* One run of one placement x size x kind. */
struct sample {
	double reg_us, unreg_us, dma_us;
	size_t *pages;   /* per node */
	double huge_pct; /* -1: unknown */
	size_t nsegs;
	bool dma_ok;
};

static struct {
	struct sgdma_dev *dev;
	struct sgdma_dev_info info;
	struct edu edu;
	bool have_edu;
	int nnodes;   /* configured nodes: numa_max_node() + 1 */
	int maxnodes; /* for sgdma_region_node_pages(): possible nodes */
	uint8_t pattern[DMA_BYTES];
} g;

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

__attribute__((noreturn)) static void bad_usage(void)
{
	fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	exit(EX_USAGE);
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
	char *end;
	long n;
	int c;

	*o = (struct opts){.repeat = 3, .dma = true, .placement_runs = true, .migrate = true};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:k:p:r:c:D:hV", longopts, NULL)) != -1) {
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
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 1000)
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
		case 'h':
			usage();
		case 'V':
			printf(PROG " from sgdma %s\n", SGDMA_VERSION);
			exit(EX_OK);
		case ':':
			fprintf(stderr, PROG ": option '%s' requires an argument\n",
			        argv[optind - 1]);
			bad_usage();
		default:
			fprintf(stderr, PROG ": unrecognized option '%s'\n", argv[optind - 1]);
			bad_usage();
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		bad_usage();
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

/* ---- helpers ------------------------------------------------------------ */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of @n values (sorted in place). */
static void stats(double *v, size_t n, double *med, double *min, double *max)
{
	*med = *min = *max = 0;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "?";
}

/*
 * Anonymous memory for @len bytes; base and maplen are for munmap().  THP:
 * whole 2 MiB aligned huge pages (a smaller buffer is the start of one).
 */
static uint8_t *alloc_buf(enum kind kind, size_t len, void **base, size_t *maplen, size_t *usable)
{
	size_t huge_len = (len + THP_SIZE - 1) & ~(THP_SIZE - 1);
	uint8_t *p;

	*maplen = kind == KIND_THP ? huge_len + THP_SIZE : len;
	*usable = kind == KIND_THP ? huge_len : len;
	*base = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*base == MAP_FAILED)
		die(EX_FAIL, "mmap of %zu bytes: %s", *maplen, strerror(errno));
	if (kind == KIND_THP) {
		p = (uint8_t *)(((uintptr_t)*base + THP_SIZE - 1) & ~(uintptr_t)(THP_SIZE - 1));
		if (madvise(p, huge_len, MADV_HUGEPAGE))
			die(EX_FAIL, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
	} else {
		p = *base;
		/* THP may be "always": ask for small pages explicitly. */
		if (madvise(p, len, MADV_NOHUGEPAGE))
			die(EX_FAIL, "madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	}
	return p;
}

static void set_policy(uint8_t *p, size_t len, int mode, const int *nodes, int nnodes)
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

/* First touch from a thread running on @node. */
static void touch_on_node(uint8_t *p, size_t len, int node)
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

/*
 * Percent of the 2 MiB chunks under [p, p + len) that look like one huge
 * page (physically contiguous and aligned); -1 when physical addresses are
 * hidden (not root).
 */
static double huge_pct(const uint8_t *p, size_t len)
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

/* The bus address of byte @off of @r, with @n bytes contiguous after it, or 0. */
static uint64_t bus_at(const struct sgdma_region *r, size_t off, size_t n)
{
	const struct sgdma_seg *s = sgdma_region_segs(r);

	for (size_t i = 0; i < sgdma_region_nsegs(r); i++)
		if (off >= s[i].offset && off - s[i].offset + n <= s[i].len)
			return s[i].addr + (off - s[i].offset);
	return 0;
}

/* One DMA of @n bytes of the device's pattern into @r at @off; true when it landed. */
static bool dma_into(struct sgdma_region *r, size_t off, size_t n, double *us)
{
	uint8_t *p = (uint8_t *)sgdma_region_addr(r) + off;
	uint64_t bus = bus_at(r, off, n);
	double t;
	int ret;

	if (!bus)
		die(EX_FAIL, "no segment holds %zu bytes at offset %zu", n, off);
	memset(p, 0, n);
	if (sgdma_sync_for_device(r, off, n))
		die(EX_FAIL, "%s", sgdma_last_error());
	t = now_us();
	ret = edu_dma_from_device(&g.edu, 0, bus, (uint32_t)n);
	if (us)
		*us = now_us() - t;
	if (ret)
		die(EX_FAIL, "edu DMA to bus address %#" PRIx64 ": %s", bus, strerror(-ret));
	if (sgdma_sync_for_cpu(r, off, n))
		die(EX_FAIL, "%s", sgdma_last_error());
	return memcmp(p, g.pattern, n) == 0;
}

/* ---- placement runs ----------------------------------------------------- */

static void run_one(enum kind kind, enum placement pl, size_t len, bool dma, struct sample *s)
{
	static const int node0[] = {0}, node1[] = {1}, both[] = {0, 1};
	struct sgdma_region *r;
	size_t maplen, plen;
	uint8_t *p;
	void *base;
	double t;
	int n;

	/* The policy covers whole huge pages: mbind() of less splits the VMA. */
	p = alloc_buf(kind, len, &base, &maplen, &plen);
	switch (pl) {
	case PL_BIND0:
		set_policy(p, plen, MPOL_BIND, node0, 1);
		break;
	case PL_BIND1:
		set_policy(p, plen, MPOL_BIND, node1, 1);
		break;
	case PL_INTERLEAVE:
		set_policy(p, plen, MPOL_INTERLEAVE, both, 2);
		break;
	case PL_PREFERRED1:
		set_policy(p, plen, MPOL_PREFERRED, node1, 1);
		break;
	default:
		break;
	}
	if (pl == PL_TOUCH0 || pl == PL_TOUCH1)
		touch_on_node(p, len, pl == PL_TOUCH0 ? 0 : 1);
	else
		memset(p, 0x5a, len);
	s->huge_pct = huge_pct(p, len);

	t = now_us();
	r = sgdma_dev_register(g.dev, p, len, SGDMA_BIDIRECTIONAL);
	s->reg_us = now_us() - t;
	if (!r)
		die(EX_FAIL, "%s", sgdma_last_error());
	s->nsegs = sgdma_region_nsegs(r);
	n = sgdma_region_node_pages(r, s->pages, g.maxnodes);
	if (n < 0)
		die(EX_FAIL, "%s", sgdma_last_error());
	s->dma_ok = true;
	if (dma)
		s->dma_ok = dma_into(r, 0, len < DMA_BYTES ? len : DMA_BYTES, &s->dma_us);
	t = now_us();
	if (sgdma_unregister(r))
		die(EX_FAIL, "%s", sgdma_last_error());
	s->unreg_us = now_us() - t;
	munmap(base, maplen);
}

static void csv_header(FILE *f)
{
	fprintf(f, "kind,placement,size_bytes,pages,repeats,dev_node");
	for (int i = 0; i < g.nnodes; i++)
		fprintf(f, ",pages_node%d", i);
	fprintf(f, ",dev_node_pct,huge_pct,nsegs,reg_us_med,reg_us_min,reg_us_max,"
	           "unreg_us_med,unreg_us_min,unreg_us_max,dma_bytes,dma_us_med,dma_us_min,"
	           "dma_us_max,dma_ok\n");
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* Upper median of @n counts (sorted in place): a count that was seen. */
static size_t median_size(size_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_size);
	return v[n / 2];
}

/* One row: @s holds @n samples of one combination. */
static void report(FILE *csv, enum kind kind, enum placement pl, size_t len, bool dma,
                   struct sample *s, size_t n)
{
	double reg[n], unreg[n], dmat[n], huge[n], rm, rmin, rmax, um, umin, umax;
	double dm = 0, dmin = 0, dmax = 0, hm, hmin, hmax, share = -1;
	size_t pages[g.nnodes], col[n], total = 0, nsegs[n];
	bool ok = true;

	if (!n)
		return;

	for (size_t i = 0; i < n; i++) {
		reg[i] = s[i].reg_us;
		unreg[i] = s[i].unreg_us;
		dmat[i] = s[i].dma_us;
		huge[i] = s[i].huge_pct;
		nsegs[i] = s[i].nsegs;
		ok &= s[i].dma_ok;
	}
	stats(reg, n, &rm, &rmin, &rmax);
	stats(unreg, n, &um, &umin, &umax);
	stats(huge, n, &hm, &hmin, &hmax);
	if (dma)
		stats(dmat, n, &dm, &dmin, &dmax);
	for (int node = 0; node < g.nnodes; node++) {
		for (size_t i = 0; i < n; i++)
			col[i] = s[i].pages[node];
		pages[node] = median_size(col, n);
		total += pages[node];
	}
	if (g.info.numa_node >= 0 && g.info.numa_node < g.nnodes && total)
		share = 100.0 * pages[g.info.numa_node] / total;

	printf("%-4s %-10s %9zu KiB", kind_names[kind], placement_names[pl], len >> 10);
	for (int node = 0; node < g.nnodes; node++)
		printf(" %7zu", pages[node]);
	if (share >= 0)
		printf(" %5.1f%%", share);
	else
		printf("      -");
	printf(" %5.0f%% %9.1f [%.1f-%.1f] %9.1f", hm, rm, rmin, rmax, um);
	if (dma)
		printf(" %8.1f%s", dm, ok ? "" : " WRONG DATA");
	printf("\n");

	if (!csv)
		return;
	fprintf(csv, "%s,%s,%zu,%zu,%zu,%d", kind_names[kind], placement_names[pl], len,
	        (len + PAGE - 1) / PAGE, n, g.info.numa_node);
	for (int node = 0; node < g.nnodes; node++)
		fprintf(csv, ",%zu", pages[node]);
	if (share >= 0)
		fprintf(csv, ",%.1f", share);
	else
		fprintf(csv, ",");
	if (hm >= 0)
		fprintf(csv, ",%.0f", hm);
	else
		fprintf(csv, ",");
	fprintf(csv, ",%zu,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f", median_size(nsegs, n), rm, rmin, rmax,
	        um, umin, umax);
	if (dma)
		fprintf(csv, ",%zu,%.1f,%.1f,%.1f,%d\n", len < DMA_BYTES ? len : DMA_BYTES, dm,
		        dmin, dmax, ok);
	else
		fprintf(csv, ",,,,,\n");
}

/* Combination @c: kind outermost, then placement, then size; false if not selected. */
static bool combo(const struct opts *o, size_t c, int *k, int *pl, int *si)
{
	*si = (int)(c % (size_t)o->nsizes);
	*pl = (int)(c / (size_t)o->nsizes % PL_COUNT);
	*k = (int)(c / (size_t)o->nsizes / PL_COUNT);
	return o->kinds[*k] && o->placements[*pl];
}

/* DMA is timed at one size only: each edu transfer takes 100 ms here. */
static bool measures_dma(const struct opts *o, int si)
{
	return g.have_edu && o->sizes[si] == o->dma_size;
}

static bool placement_runs(const struct opts *o, FILE *csv)
{
	size_t combos = (size_t)KIND_COUNT * PL_COUNT * (size_t)o->nsizes;
	struct sample *all = calloc(combos * o->repeat, sizeof(*all));
	size_t *pages = calloc(combos * o->repeat * (size_t)g.maxnodes, sizeof(*pages));
	bool ok = true;

	if (!all || !pages)
		die(EX_FAIL, "out of memory");
	for (size_t i = 0; i < combos * o->repeat; i++)
		all[i].pages = pages + i * (size_t)g.maxnodes;

	printf("%-4s %-10s %13s", "kind", "placement", "size");
	for (int node = 0; node < g.nnodes; node++)
		printf("  node%d", node);
	printf(" %6s %6s %9s %13s %9s %8s\n", "devnd", "huge", "reg_us", "[min-max]", "unreg_us",
	       "dma_us");
	/* Repeats outermost: a drift in the machine spreads over all combinations. */
	for (unsigned int rep = 0; rep < o->repeat; rep++)
		for (size_t c = 0; c < combos; c++) {
			int k, pl, si;

			if (combo(o, c, &k, &pl, &si))
				run_one(k, pl, o->sizes[si], measures_dma(o, si),
				        &all[c * o->repeat + rep]);
		}
	for (size_t c = 0; c < combos; c++) {
		int k, pl, si;

		if (!combo(o, c, &k, &pl, &si))
			continue;
		report(csv, k, pl, o->sizes[si], measures_dma(o, si), &all[c * o->repeat],
		       o->repeat);
		for (unsigned int rep = 0; rep < o->repeat; rep++)
			ok &= all[c * o->repeat + rep].dma_ok;
	}
	free(pages);
	free(all);
	return ok;
}

/* ---- migration experiment ----------------------------------------------- */

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

static uint8_t *node0_buffer(void **base, size_t *maplen)
{
	static const int node0[] = {0};
	size_t len = MIGRATE_PAGES * PAGE;
	size_t usable;
	uint8_t *p = alloc_buf(KIND_4K, len, base, maplen, &usable);

	set_policy(p, len, MPOL_BIND, node0, 1);
	memset(p, 0x5a, len);
	set_policy(p, len, MPOL_DEFAULT, NULL, 0); /* only the pin may hold them */
	return p;
}

static bool migrate_experiment(void)
{
	const size_t n = MIGRATE_PAGES, len = n * PAGE;
	void *ba, *bb, *bc;
	size_t la, lb, lc;
	uint8_t *a = node0_buffer(&ba, &la), *b = node0_buffer(&bb, &lb);
	uint8_t *c = node0_buffer(&bc, &lc);
	struct bitmask *from = numa_allocate_nodemask(), *to = numa_allocate_nodemask();
	struct sgdma_region *r;
	bool ok = true;
	int ret, err;

	printf("\nmigration: a registered buffer of %zu pages on node 0, asked to move to node 1\n"
	       "(controls: unregistered buffers of the same size)\n",
	       n);
	r = sgdma_dev_register(g.dev, a, len, SGDMA_BIDIRECTIONAL);
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

	if (g.have_edu) {
		for (size_t page = 0; page < n; page += n - 1) {
			uint64_t bus = bus_at(r, page * PAGE, DMA_BYTES);
			uint64_t phys = pagemap_phys(a + page * PAGE);
			bool landed = dma_into(r, page * PAGE, DMA_BYTES, NULL);

			printf("  edu DMA into page %2zu: bus %#" PRIx64
			       ", CPU page at phys %#" PRIx64 " (%s): %s\n",
			       page, bus, phys,
			       phys == bus ? "same"
			                   : (g.info.iommu ? "IOMMU-translated" : "bounce buffer"),
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
	munmap(ba, la);
	munmap(bb, lb);
	munmap(bc, lc);
	return ok;
}

/* ---- main --------------------------------------------------------------- */

/* Use the edu device for DMA when the sgdma device is one. */
static void open_edu(void)
{
	char bdf[64];
	struct sgdma_region *r;
	uint8_t *pat;
	int ret;

	if (edu_find(bdf, sizeof(bdf)) || strcmp(bdf, g.info.name))
		return;
	ret = edu_open(&g.edu, bdf);
	if (ret) {
		fprintf(stderr, PROG ": warning: edu %s: %s: no DMA timing\n", bdf, strerror(-ret));
		return;
	}
	/* Load the device's buffer with a pattern once: every DMA writes it. */
	pat = aligned_alloc(PAGE, PAGE);
	if (!pat)
		die(EX_FAIL, "out of memory");
	for (size_t i = 0; i < DMA_BYTES; i++)
		g.pattern[i] = (uint8_t)(i * 131 + 17) | 1; /* never 0 */
	memcpy(pat, g.pattern, DMA_BYTES);
	r = sgdma_dev_register(g.dev, pat, DMA_BYTES, SGDMA_TO_DEVICE);
	if (!r)
		die(EX_FAIL, "%s", sgdma_last_error());
	ret = edu_dma_to_device(&g.edu, sgdma_region_segs(r)[0].addr, 0, DMA_BYTES);
	if (ret)
		die(EX_FAIL, "edu DMA from memory: %s", strerror(-ret));
	sgdma_unregister(r);
	free(pat);
	g.have_edu = true;
}

int main(int argc, char **argv)
{
	struct opts o;
	FILE *csv = NULL;
	bool ok = true;

	parse_args(argc, argv, &o);
	if (numa_available() < 0 || numa_max_node() < 1)
		die(EX_NONUMA, "needs at least two NUMA nodes (numactl --hardware)");
	g.nnodes = numa_max_node() + 1;
	g.maxnodes = numa_num_possible_nodes();

	g.dev = sgdma_open(o.device);
	if (!g.dev)
		die(errno == ENODEV || errno == ENOENT ? EX_NODEV : EX_FAIL, "%s",
		    sgdma_last_error());
	sgdma_dev_info(g.dev, &g.info);
	if (o.dma)
		open_edu();
	printf("device %s on node %d, DMA mask %#" PRIx64 "%s; %d nodes; %u runs each; DMA: %s\n",
	       g.info.name, g.info.numa_node, g.info.dma_mask,
	       g.info.iommu ? ", behind an IOMMU" : "", g.nnodes, o.repeat,
	       g.have_edu ? "edu, one 2 KiB transfer in the runs of the --dma-size size" : "none");

	if (o.csv) {
		csv = fopen(o.csv, "w");
		if (!csv)
			die(EX_USAGE, "cannot write %s: %s", o.csv, strerror(errno));
		csv_header(csv);
	}
	if (o.placement_runs)
		ok &= placement_runs(&o, csv);
	if (csv && fclose(csv))
		die(EX_FAIL, "writing %s: %s", o.csv, strerror(errno));
	if (o.migrate)
		ok &= migrate_experiment();

	if (g.have_edu)
		edu_close(&g.edu);
	sgdma_close(g.dev);
	if (!ok)
		die(EX_FAIL, "a DMA did not land where the application reads");
	return EX_OK;
}
