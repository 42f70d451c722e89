// SPDX-License-Identifier: GPL-2.0
/*
 * sgdma-cache-bench: register and unregister the same buffer again and
 * again, without and with libsgdma's registration cache
 * (sgdma_cache_enable()), as a program that registers its buffer around
 * every transfer does.
 *
 *   sgdma-cache-bench [--size BYTES] [--ops N] [--rounds N] [--device NAME]
 *
 * The buffer (1 MiB by default, 4 KiB pages, prefaulted) is registered
 * SGDMA_BIDIRECTIONAL and unregistered N times per round (1000 by
 * default), uncached then cached, in 7 rounds; each line gives a round's
 * mean per register+unregister pair, the last the medians and their
 * ratio.  Cached, one registration before the timed ones reaches the
 * kernel (the cache keeps the region registered after its unregister):
 * the timed ones are hits, and the program checks that each returned that
 * region and that it stayed valid.  A timing, not a test: it asserts
 * nothing about speed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <sgdma.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Mean ns of @ops register+unregister pairs of @buf; -1 on failure. */
static double run(struct sgdma_dev *dev, void *buf, size_t len, long ops, int cached)
{
	struct sgdma_region *first = NULL;
	uint64_t t0;

	if (sgdma_cache_enable(dev, cached) < 0) {
		fprintf(stderr, "sgdma-cache-bench: %s\n", sgdma_last_error());
		return -1;
	}
	if (cached) { /* the miss: registered, then kept by the cache */
		first = sgdma_dev_register(dev, buf, len, SGDMA_BIDIRECTIONAL);
		if (!first || sgdma_unregister(first) < 0) {
			fprintf(stderr, "sgdma-cache-bench: %s\n", sgdma_last_error());
			return -1;
		}
	}
	t0 = now_ns();
	for (long i = 0; i < ops; i++) {
		struct sgdma_region *r = sgdma_dev_register(dev, buf, len, SGDMA_BIDIRECTIONAL);

		if (!r) {
			fprintf(stderr, "sgdma-cache-bench: %s\n", sgdma_last_error());
			return -1;
		}
		if (cached && (r != first || sgdma_region_valid(r) != 1)) {
			fprintf(stderr, "sgdma-cache-bench: registration %ld missed the cache\n",
			        i);
			sgdma_unregister(r);
			return -1;
		}
		if (sgdma_unregister(r) < 0) {
			fprintf(stderr, "sgdma-cache-bench: %s\n", sgdma_last_error());
			return -1;
		}
	}
	return (double)(now_ns() - t0) / (double)ops;
}

int main(int argc, char **argv)
{
	size_t len = 1 << 20;
	long ops = 1000;
	int rounds = 7;
	const char *name = NULL;
	double unc[64], cac[64];

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--size") && v)
			len = strtoull(v, NULL, 0);
		else if (!strcmp(argv[i], "--ops") && v)
			ops = strtol(v, NULL, 0);
		else if (!strcmp(argv[i], "--rounds") && v)
			rounds = atoi(v);
		else if (!strcmp(argv[i], "--device") && v)
			name = v;
		else {
			fprintf(stderr,
			        "usage: sgdma-cache-bench [--size BYTES] [--ops N] [--rounds N] "
			        "[--device NAME]\n");
			return 2;
		}
		i++;
	}
	if (!len || ops < 1 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "sgdma-cache-bench: size and ops > 0, rounds 1..64\n");
		return 2;
	}

	struct sgdma_dev *dev = sgdma_open(name);
	if (!dev) {
		fprintf(stderr, "sgdma-cache-bench: %s\n", sgdma_last_error());
		return 1;
	}
	void *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("sgdma-cache-bench: mmap");
		return 1;
	}
	madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 1, len);

	printf("size %zu, %ld register+unregister pairs per round\n", len, ops);
	printf("round,uncached_ns,cached_ns\n");
	for (int r = 0; r < rounds; r++) {
		unc[r] = run(dev, buf, len, ops, 0);
		cac[r] = run(dev, buf, len, ops, 1);
		if (unc[r] < 0 || cac[r] < 0)
			return 1;
		printf("%d,%.0f,%.0f\n", r, unc[r], cac[r]);
	}
	sgdma_cache_enable(dev, 0);
	double mu = median(unc, rounds), mc = median(cac, rounds);
	printf("median: uncached %.0f ns, cached %.0f ns, ratio %.1f\n", mu, mc, mu / mc);
	sgdma_close(dev);
	munmap(buf, len);
	return 0;
}
