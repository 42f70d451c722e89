// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgnuma: the placement runs. Each placement x size x page kind is run
 * --repeat times (repeats outermost); each run places and touches a
 * buffer, registers it, counts its pages per node, and times registration,
 * unregistration and (at one size) an edu DMA. The report has one row per
 * combination: medians, min and max.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgnuma.h"

/* One run of one placement x size x kind. */
struct sample {
	double reg_us, unreg_us, dma_us;
	size_t *pages;   /* per node */
	double huge_pct; /* -1: unknown */
	size_t nsegs;
	bool dma_ok;
};

/* How each placement puts a buffer's pages: a memory policy, then the first touch. */
static const struct {
	int mode; /* MPOL_*; MPOL_DEFAULT: no policy */
	int nodes[2];
	int nnodes;
	int toucher; /* the first touch from a thread on this node; -1: this thread */
} policies[PL_COUNT] = {
    [PL_BIND0] = {MPOL_BIND, {0}, 1, -1},
    [PL_BIND1] = {MPOL_BIND, {1}, 1, -1},
    [PL_INTERLEAVE] = {MPOL_INTERLEAVE, {0, 1}, 2, -1},
    [PL_PREFERRED1] = {MPOL_PREFERRED, {1}, 1, -1},
    [PL_TOUCH0] = {MPOL_DEFAULT, {0}, 0, 0},
    [PL_TOUCH1] = {MPOL_DEFAULT, {0}, 0, 1},
    [PL_DEFAULT] = {MPOL_DEFAULT, {0}, 0, -1},
};

static void run_one(struct rig *rig, enum kind kind, enum placement pl, size_t len, bool dma,
                    struct sample *s)
{
	struct buf b = alloc_buf(kind, len);
	uint8_t *p = b.p;
	struct sgdma_region *r;
	uint64_t t;
	int n;

	/* The policy covers whole huge pages: mbind() of less splits the VMA. */
	if (policies[pl].mode != MPOL_DEFAULT)
		set_policy(p, b.maplen, policies[pl].mode, policies[pl].nodes, policies[pl].nnodes);
	if (policies[pl].toucher >= 0)
		touch_on_node(p, len, policies[pl].toucher);
	else
		memset(p, 0x5a, len);
	s->huge_pct = huge_pct(p, len);

	t = now_ns();
	r = sgdma_dev_register(rig->dev, p, len, SGDMA_BIDIRECTIONAL);
	s->reg_us = us_since(t);
	if (!r)
		die(EX_FAIL, "%s", sgdma_last_error());
	s->nsegs = sgdma_region_nsegs(r);
	n = sgdma_region_node_pages(r, s->pages, rig->maxnodes);
	if (n < 0)
		die(EX_FAIL, "%s", sgdma_last_error());
	s->dma_ok = true;
	if (dma)
		s->dma_ok = dma_into(rig, r, 0, len < DMA_BYTES ? len : DMA_BYTES, &s->dma_us);
	t = now_ns();
	if (sgdma_unregister(r))
		die(EX_FAIL, "%s", sgdma_last_error());
	s->unreg_us = us_since(t);
	free_buf(&b);
}

/* @path opened for writing, with the header row written. */
static FILE *csv_open(const struct rig *rig, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(EX_USAGE, "cannot write %s: %s", path, strerror(errno));
	fprintf(f, "kind,placement,size_bytes,pages,repeats,dev_node");
	for (int i = 0; i < rig->nnodes; i++)
		fprintf(f, ",pages_node%d", i);
	fprintf(f, ",dev_node_pct,huge_pct,nsegs,reg_us_med,reg_us_min,reg_us_max,"
	           "unreg_us_med,unreg_us_min,unreg_us_max,dma_bytes,dma_us_med,dma_us_min,"
	           "dma_us_max,dma_ok\n");
	return f;
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
static void report(const struct rig *rig, FILE *csv, enum kind kind, enum placement pl, size_t len,
                   bool dma, struct sample *s, size_t n)
{
	double reg[n], unreg[n], dmat[n], huge[n], rm, rmin, rmax, um, umin, umax;
	double dm = 0, dmin = 0, dmax = 0, hm, hmin, hmax, share = -1;
	size_t pages[rig->nnodes], col[n], total = 0, nsegs[n];
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
	for (int node = 0; node < rig->nnodes; node++) {
		for (size_t i = 0; i < n; i++)
			col[i] = s[i].pages[node];
		pages[node] = median_size(col, n);
		total += pages[node];
	}
	if (rig->info.numa_node >= 0 && rig->info.numa_node < rig->nnodes && total)
		share = 100.0 * pages[rig->info.numa_node] / total;

	printf("%-4s %-10s %9zu KiB", kind_names[kind], placement_names[pl], len >> 10);
	for (int node = 0; node < rig->nnodes; node++)
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
	        (len + PAGE - 1) / PAGE, n, rig->info.numa_node);
	for (int node = 0; node < rig->nnodes; node++)
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
static bool measures_dma(const struct rig *rig, const struct opts *o, int si)
{
	return rig->have_edu && o->sizes[si] == o->dma_size;
}

bool placement_runs(struct rig *rig, const struct opts *o)
{
	size_t combos = (size_t)KIND_COUNT * PL_COUNT * (size_t)o->nsizes;
	struct sample *all = calloc(combos * o->repeat, sizeof(*all));
	size_t *pages = calloc(combos * o->repeat * (size_t)rig->maxnodes, sizeof(*pages));
	FILE *csv = NULL;
	bool ok = true;

	if (!all || !pages)
		die(EX_FAIL, "out of memory");
	if (o->csv)
		csv = csv_open(rig, o->csv);
	for (size_t i = 0; i < combos * o->repeat; i++)
		all[i].pages = pages + i * (size_t)rig->maxnodes;

	printf("%-4s %-10s %13s", "kind", "placement", "size");
	for (int node = 0; node < rig->nnodes; node++)
		printf("  node%d", node);
	printf(" %6s %6s %9s %13s %9s %8s\n", "devnd", "huge", "reg_us", "[min-max]", "unreg_us",
	       "dma_us");
	/* Repeats outermost: a drift in the machine spreads over all combinations. */
	for (unsigned int rep = 0; rep < o->repeat; rep++)
		for (size_t c = 0; c < combos; c++) {
			int k, pl, si;

			if (combo(o, c, &k, &pl, &si))
				run_one(rig, k, pl, o->sizes[si], measures_dma(rig, o, si),
				        &all[c * o->repeat + rep]);
		}
	for (size_t c = 0; c < combos; c++) {
		int k, pl, si;

		if (!combo(o, c, &k, &pl, &si))
			continue;
		report(rig, csv, k, pl, o->sizes[si], measures_dma(rig, o, si), &all[c * o->repeat],
		       o->repeat);
		for (unsigned int rep = 0; rep < o->repeat; rep++)
			ok &= all[c * o->repeat + rep].dma_ok;
	}
	if (csv && fclose(csv))
		die(EX_FAIL, "writing %s: %s", o->csv, strerror(errno));
	free(pages);
	free(all);
	return ok;
}
