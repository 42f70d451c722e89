// SPDX-License-Identifier: GPL-2.0
/*
 * Memory pressure: registrations until the per-file and memlock limits
 * refuse them, a nearly full swiotlb pool, and the kernel compacting,
 * splitting, collapsing and migrating memory around pinned buffers.
 */
#include "stress.h"

#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu.h"
#include "sgtest.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* ================================================================ limits */

struct lthread {
	int fd;
	uint8_t *buf;
	int first, step, nslots;
	size_t each;
	atomic_int *total;
	int last_err;
	uint32_t h[64];
	int n;
};

/* Registers slot after slot until the kernel says no. */
static void *limit_thread(void *arg)
{
	struct lthread *t = arg;

	for (int k = t->first; k < t->nslots; k += t->step) {
		int ret =
		    sg_register(t->fd, t->buf + k * t->each, t->each, BIDI, &t->h[t->n], NULL);

		if (ret) {
			t->last_err = ret;
			return NULL;
		}
		t->n++;
		atomic_fetch_add(t->total, 1);
	}
	return NULL;
}

/* A handle some thread registered (on a fast kernel one thread may get none). */
static uint32_t some_handle(const struct lthread *t, int nthreads)
{
	for (int i = 0; i < nthreads; i++)
		if (t[i].n)
			return t[i].h[0];
	return 0;
}

/* Four threads, one file, max_regions_per_file 40: exactly 40 succeed. */
static void regions_per_file(void)
{
	const int limit = 40, nthreads = 4;
	long long old = param("max_regions_per_file");
	uint8_t *buf = map_buffer(1 * MiB, false);
	struct lthread t[4];
	pthread_t th[4];
	atomic_int total = 0;
	int fd = open_node(), fd2 = open_node(), ret;
	uint32_t h;

	if (!buf || fd < 0 || fd2 < 0 || set_param("max_regions_per_file", limit)) {
		fail("setup: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < nthreads; i++) {
		t[i] = (struct lthread){.fd = fd,
		                        .buf = buf,
		                        .first = i,
		                        .step = nthreads,
		                        .nslots = 256,
		                        .each = PAGE_SZ,
		                        .total = &total};
		pthread_create(&th[i], NULL, limit_thread, &t[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (t[i].last_err != ENOSPC)
			fail("thread %d stopped with %s, expected ENOSPC", i,
			     errname(t[i].last_err));
	}
	if (atomic_load(&total) != limit)
		fail("%d regions registered on one file, max_regions_per_file is %d",
		     atomic_load(&total), limit);
	/* The limit is per file. */
	if ((ret = sg_register(fd2, buf, PAGE_SZ, BIDI, &h, NULL)))
		fail("REGISTER on a second file: %s", errname(ret));
	/* One unregistered: room for one more, and no more. */
	if ((ret = sg_unregister(fd, some_handle(t, nthreads))))
		fail("UNREGISTER: %s", errname(ret));
	if ((ret = sg_register(fd, buf, PAGE_SZ, BIDI, &h, NULL)))
		fail("REGISTER after an UNREGISTER at the limit: %s", errname(ret));
	if ((ret = sg_register(fd, buf, PAGE_SZ, BIDI, &h, NULL)) != ENOSPC)
		fail("REGISTER over the limit again: %s, expected ENOSPC", errname(ret));
	close(fd);
	close(fd2);
	set_param("max_regions_per_file", old);
	unmap_buffer(buf, 1 * MiB);
}

#define LIMIT_UID 4242

/*
 * A process of a user of its own, without CAP_IPC_LOCK, RLIMIT_MEMLOCK
 * 2 MiB: three threads register 64 KiB regions until ENOMEM, and exactly
 * 32 of them fit. Returns through the exit status.
 */
static void memlock_child(int round)
{
	const size_t each = 64 * KiB, limit = 2 * MiB;
	uint8_t *buf = map_buffer(8 * MiB, false); /* 128 slots; each thread may take 40 */
	struct rlimit rl = {limit, limit};
	struct lthread t[3];
	pthread_t th[3];
	atomic_int total = 0;
	int fd = open_node(), ret;
	long long kb;
	uint32_t h;

	if (!buf || fd < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) ||
	    setresgid(LIMIT_UID, LIMIT_UID, LIMIT_UID) ||
	    setresuid(LIMIT_UID, LIMIT_UID, LIMIT_UID)) {
		fail("memlock child setup: %s", strerror(errno));
		_exit(1);
	}
	for (int i = 0; i < 3; i++) {
		t[i] = (struct lthread){.fd = fd,
		                        .buf = buf,
		                        .first = i,
		                        .step = 3,
		                        .nslots = 120,
		                        .each = each,
		                        .total = &total};
		pthread_create(&th[i], NULL, limit_thread, &t[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		if (t[i].last_err != ENOMEM)
			fail("round %d: thread %d stopped with %s, expected ENOMEM", round, i,
			     errname(t[i].last_err));
	}
	if ((size_t)atomic_load(&total) != limit / each)
		fail("round %d: %d regions of 64 KiB under a 2 MiB RLIMIT_MEMLOCK, expected %zu",
		     round, atomic_load(&total), limit / each);
	kb = vm_pin_kb();
	if (kb != atomic_load(&total) * 64)
		fail("round %d: VmPin %lld kB with %d regions of 64 KiB", round, kb,
		     atomic_load(&total));
	/* The charge comes back with the pages. */
	if ((ret = sg_unregister(fd, some_handle(t, 3))))
		fail("UNREGISTER: %s", errname(ret));
	if ((ret = sg_register(fd, buf + 125 * each, each, BIDI, &h, NULL)))
		fail("round %d: REGISTER after an UNREGISTER at the limit: %s", round,
		     errname(ret));
	_exit(0); /* the exit releases the rest */
}

static void memlock_limit(void)
{
	char why[256];
	int status;
	/* Keeps the user (and what is charged to it) alive between rounds. */
	pid_t keeper = fork();

	if (keeper == 0) {
		if (setresuid(LIMIT_UID, LIMIT_UID, LIMIT_UID))
			_exit(1);
		pause();
		_exit(0);
	}
	for (int round = 0; round < 2; round++) {
		pid_t pid = fork();

		if (pid == 0)
			memlock_child(round);
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("memlock round %d ended with status 0x%x", round, status);
		if (!wait_clean(5, why, sizeof(why)))
			fail("after memlock round %d: %s", round, why);
	}
	kill(keeper, SIGKILL);
	waitpid(keeper, NULL, 0);
}

void sc_limits(void)
{
	check_begin("limits");
	regions_per_file();
	memlock_limit();
	check_end("40 regions per file from 4 threads then ENOSPC; 32 x 64 KiB under a 2 MiB "
	          "RLIMIT_MEMLOCK from 3 threads then ENOMEM, twice");
}

/* ================================================================ swiotlb */

#define SWIOTLB_DIR "/sys/kernel/debug/swiotlb/"
#define IO_TLB_SIZE 2048

static long long tlb_read(const char *name)
{
	long long v = -1;

	sgt_read_ll(name, &v);
	return v;
}

struct sworker {
	uint8_t *buf;
	size_t size;
	uint64_t stream;
	double until;
	unsigned long ok, full;
};

static void *swiotlb_worker(void *arg)
{
	struct sworker *w = arg;
	int fd = open_node();
	struct rng r;

	rng_init(&r, w->stream);
	while (fd >= 0 && now_s() < w->until) {
		size_t len = 1 + below(&r, 128 * KiB), off = below(&r, w->size - len);
		uint32_t h;
		int ret = sg_register(fd, w->buf + off, len, BIDI, &h, NULL);

		if (ret == EIO) {
			w->full++;
			continue;
		}
		if (ret) {
			fail("REGISTER with swiotlb nearly full: %s", errname(ret));
			continue;
		}
		w->ok++;
		if ((ret = sg_sync(fd, h, 0, len, false)) || (ret = sg_sync(fd, h, 0, len, true)))
			fail("SYNC: %s", errname(ret));
		if ((ret = check_tiling(fd, h, len, 0, NULL, 0, NULL)))
			fail("GET_SEGS: %s", errname(ret));
		if ((ret = sg_unregister(fd, h)))
			fail("UNREGISTER: %s", errname(ret));
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Bus address of byte @off of a region from its segments. */
static uint64_t bus_at(const struct sgdma_ioc_seg *s, size_t n, uint64_t off, uint64_t *contig)
{
	for (size_t i = 0; i < n; i++)
		if (off >= s[i].offset && off < s[i].offset + s[i].len) {
			*contig = s[i].offset + s[i].len - off;
			return s[i].addr + off - s[i].offset;
		}
	*contig = 0;
	return 0;
}

/*
 * The device copies @len bytes from offset @off of region @src (@src_len
 * bytes) into the start of region @dst (@dst_len bytes), through its own
 * buffer: true when @dst then holds what the CPU sees at @src + @off.
 */
static bool device_copy_matches(struct edu *e, int fd, uint32_t src, const uint8_t *src_va,
                                uint64_t src_len, uint64_t off, uint32_t dst, uint8_t *dst_va,
                                uint64_t dst_len, size_t len)
{
	struct sgdma_ioc_seg ss[512], ds[8];
	size_t ns = 0, nd = 0;
	uint64_t sc, dc, sa, da;
	int ret;

	if ((ret = check_tiling(fd, src, src_len, 0, ss, ARRAY_LEN(ss), &ns)) ||
	    (ret = check_tiling(fd, dst, dst_len, 0, ds, ARRAY_LEN(ds), &nd))) {
		fail("GET_SEGS: %s", errname(ret));
		return false;
	}
	sa = bus_at(ss, ns, off, &sc);
	da = bus_at(ds, nd, 0, &dc);
	if (sc < len || dc < len)
		len = sc < dc ? sc : dc;
	if (!len)
		return true; /* past the segments we read: nothing to compare */
	memset(dst_va, 0x5a, len);
	if ((ret = sg_sync(fd, dst, 0, len, false)) ||
	    (ret = -edu_dma_to_device(e, sa, 0, (uint32_t)len)) ||
	    (ret = -edu_dma_from_device(e, 0, da, (uint32_t)len)) ||
	    (ret = sg_sync(fd, dst, 0, len, true))) {
		fail("device copy: %s", errname(ret));
		return false;
	}
	for (size_t i = 0; i < len; i++)
		if (dst_va[i] != src_va[off + i]) {
			fail("the device read 0x%02x at byte %llu of a region, the CPU sees 0x%02x",
			     dst_va[i], (unsigned long long)(off + i), src_va[off + i]);
			return false;
		}
	return true;
}

/*
 * Memory the device cannot reach with its 28-bit mask: on NUMA node 1, all
 * of which lies above 4 GiB here (tests/vm/machines.py); node 0 also holds
 * the 256 MiB below, which a 28-bit device reaches without bouncing.
 */
static uint8_t *map_bounced(size_t len)
{
	unsigned long node1 = 1UL << 1;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mbind(p, len, MPOL_BIND, &node1, sizeof(node1) * 8, 0))
		note("swiotlb: mbind: %s", strerror(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 0x11, len);
	return p;
}

void sc_swiotlb(void)
{
	long long nslabs = tlb_read(SWIOTLB_DIR "io_tlb_nslabs");
	long long base = tlb_read(SWIOTLB_DIR "io_tlb_used");
	long long old_bounce = param("max_bounce_bytes"), used = 0;
	size_t pool, size, nregions = 0, nfill, hmax, filled = 0, len = MiB;
	uint32_t *h;
	uint8_t *buf;
	int fd, ret = 0;
	struct sworker w[3];
	pthread_t th[3];
	struct edu e;

	if (!is_config("bounce")) {
		check_skip("swiotlb", "only the bounce configuration bounces");
		return;
	}
	if (nslabs <= 0 || base < 0) {
		check_skip("swiotlb", "no %s (debugfs)", SWIOTLB_DIR);
		return;
	}
	check_begin("swiotlb");
	pool = (size_t)nslabs * IO_TLB_SIZE;
	size = pool + 8 * MiB;
	buf = map_bounced(size);
	hmax = pool / MiB + 1024;
	h = calloc(hmax, sizeof(*h));
	fd = open_node();
	if (!buf || !h || fd < 0 || set_param("max_bounce_bytes", (long long)pool) ||
	    edu_open(&e, sgt_edu_bdf())) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	/*
	 * Fill the pool to 90% with 1 MiB regions. A bounce buffer never
	 * crosses a 256 KiB segment of the pool, and a region's entries follow
	 * its physical runs of pages: the pool fragments, and a 1 MiB region
	 * may not fit long before the pool is full. Then halved sizes fill
	 * the holes, down to a page (two slots).
	 */
	while (nregions < hmax && used < nslabs * 9 / 10 && len >= PAGE_SZ) {
		if (filled + len > pool) {
			len /= 2;
			continue;
		}
		ret = sg_register(fd, buf + filled, len, SGDMA_REG_TO_DEVICE, &h[nregions], NULL);
		if (ret == EIO) {
			len /= 2;
			continue;
		}
		if (ret)
			break;
		filled += len;
		nregions++;
		used = tlb_read(SWIOTLB_DIR "io_tlb_used");
	}
	if (used < nslabs * 9 / 10)
		fail("swiotlb %lld of %lld slots used when REGISTER of %zu bytes said %s", used,
		     nslabs, len, errname(ret));
	nfill = nregions;
	/* Work in what is left. */
	for (int i = 0; i < 3; i++) {
		w[i] = (struct sworker){.buf = buf + pool + i * 2 * MiB,
		                        .size = 2 * MiB,
		                        .stream = 400 + i,
		                        .until = deadline(0.6)};
		pthread_create(&th[i], NULL, swiotlb_worker, &w[i]);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	/*
	 * Then 1 MiB regions until one does not fit: EIO from swiotlb
	 * (max_bounce_bytes is the whole pool, more than sgdma can hold of
	 * it), and nothing of it left in the pool (checked at the end).
	 */
	size_t nmore = 0;
	uint32_t more[16];
	ret = 0;
	while (filled + (nmore + 1) * MiB <= pool && nmore < ARRAY_LEN(more) &&
	       !(ret = sg_register(fd, buf + filled + nmore * MiB, MiB, SGDMA_REG_TO_DEVICE,
	                           &more[nmore], NULL)))
		nmore++;
	if (ret != EIO)
		fail("REGISTER of 1 MiB after %zu more into a %lld%% full swiotlb pool: %s, "
		     "expected EIO",
		     nmore, used * 100 / nslabs, errname(ret));
	while (nmore)
		if ((ret = sg_unregister(fd, more[--nmore])))
			fail("UNREGISTER: %s", errname(ret));
	/* The device still moves the right bytes through a nearly full pool. */
	uint8_t *src = buf + pool + 6 * MiB, *dst = src + 64 * KiB;
	uint32_t hs, hd;
	fill(src, 4096, 9);
	if (nregions && (ret = sg_unregister(fd, h[0]))) /* room for the two: a 1 MiB region */
		fail("UNREGISTER: %s", errname(ret));
	if (nregions)
		h[0] = h[--nregions];
	if ((ret = sg_register(fd, src, 4096, SGDMA_REG_TO_DEVICE, &hs, NULL)) ||
	    (ret = sg_register(fd, dst, 2048, SGDMA_REG_FROM_DEVICE, &hd, NULL)))
		fail("REGISTER for the device copy: %s", errname(ret));
	else
		device_copy_matches(&e, fd, hs, src, 4096, 1000, hd, dst, 2048, 2048);
	close(fd);
	edu_close(&e);
	set_param("max_bounce_bytes", old_bounce);
	for (int k = 0; k < 100 && tlb_read(SWIOTLB_DIR "io_tlb_used") != base; k++)
		sleep_us(10000);
	if (tlb_read(SWIOTLB_DIR "io_tlb_used") != base)
		fail("swiotlb slots used: %lld before, %lld after everything was closed", base,
		     tlb_read(SWIOTLB_DIR "io_tlb_used"));
	unmap_buffer(buf, size);
	free(h);
	check_end("pool of %zu MiB filled to %lld%% by %zu regions (the last of %zu KiB); 3 "
	          "threads then made %lu registrations, %lu EIO; the pool then full (EIO)",
	          pool / MiB, used * 100 / nslabs, nfill, len / KiB, w[0].ok + w[1].ok + w[2].ok,
	          w[0].full + w[1].full + w[2].full);
}

/* ================================================================ thp */

#define THP_BUFS 2
#define THP_LEN  (8 * MiB)

struct churn {
	uint8_t *buf[THP_BUFS];
	pthread_rwlock_t lock; /* the registered range, held while zapping */
	uint8_t *reg_start, *reg_end;
	atomic_bool stop;
	unsigned long compactions, collapses, moves, zaps;
};

static int other_node(const void *p)
{
	int node = sgt_page_node((void *)p);

	return node == 0 ? 1 : 0;
}

/* What the kernel does to memory on its own, around the pinned range. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	struct rng r;
	double next_compact = 0;

	rng_init(&r, 500);
	while (!atomic_load(&c->stop)) {
		uint8_t *b = c->buf[below(&r, THP_BUFS)];
		uint8_t *page = b + below(&r, THP_LEN / PAGE_SZ) * PAGE_SZ;
		unsigned int op = (unsigned int)below(&r, 4);

		if (now_s() >= next_compact) {
			sgt_write_str("/proc/sys/vm/compact_memory", "1");
			c->compactions++;
			next_compact = now_s() + 1;
		}
		if (op == 0) {
			madvise(b + below(&r, THP_LEN / HUGE_SZ) * HUGE_SZ, HUGE_SZ, MADV_COLLAPSE);
			c->collapses++;
		} else if (op == 1) {
			void *pages[16];
			int nodes[16], status[16];

			for (int i = 0; i < 16; i++) {
				pages[i] = b + below(&r, THP_LEN / PAGE_SZ) * PAGE_SZ;
				nodes[i] = (int)below(&r, 2);
			}
			move_pages(0, 16, pages, nodes, status, MPOL_MF_MOVE);
			c->moves++;
		} else {
			/* Zap or write-protect a page next to, never in, the registered range:
			 * either splits the huge page holding both. */
			pthread_rwlock_rdlock(&c->lock);
			if (page + PAGE_SZ <= c->reg_start || page >= c->reg_end) {
				if (op == 2) {
					madvise(page, PAGE_SZ, MADV_DONTNEED);
				} else {
					mprotect(page, PAGE_SZ, PROT_READ);
					mprotect(page, PAGE_SZ, PROT_READ | PROT_WRITE);
				}
				c->zaps++;
			}
			pthread_rwlock_unlock(&c->lock);
		}
		sleep_us(1000 + below(&r, 2000));
	}
	return NULL;
}

void sc_thp(void)
{
	struct churn c = {.lock = PTHREAD_RWLOCK_INITIALIZER};
	uint64_t *phys = calloc(THP_LEN / PAGE_SZ + 2, sizeof(*phys));
	uint64_t *phys2 = calloc(THP_LEN / PAGE_SZ + 2, sizeof(*phys));
	uint8_t *probe = map_buffer(PAGE_SZ, false);
	unsigned long n = 0, moved_pinned = 0, not_moved = 0;
	double until;
	pthread_t th;
	uint32_t hp;
	struct edu e;
	struct rng r;
	int fd, ret;

	check_begin("thp");
	rng_init(&r, 501);
	for (int i = 0; i < THP_BUFS; i++)
		c.buf[i] = map_buffer(THP_LEN, true);
	fd = open_node();
	if (!phys || !phys2 || !probe || !c.buf[0] || !c.buf[1] || fd < 0 ||
	    edu_open(&e, sgt_edu_bdf())) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	if ((ret = sg_register(fd, probe, 2048, SGDMA_REG_FROM_DEVICE, &hp, NULL)))
		fail("REGISTER of the probe: %s", errname(ret));
	pthread_create(&th, NULL, churn_main, &c);
	until = deadline(0.9);
	while (now_s() < until && n < 500 && !failures()) {
		uint8_t *b = c.buf[below(&r, THP_BUFS)];
		size_t len = chance(&r, 50)
		                 ? 1 + below(&r, 64 * KiB)
		                 : 64 * KiB + below(&r, (is_config("bounce") ? 1 : 3) * MiB);
		size_t off = below(&r, THP_LEN - len), npages;
		uint8_t *start = b + off, *first = (uint8_t *)((uintptr_t)start & ~(PAGE_SZ - 1));
		uint32_t h;

		npages = (start + len - first + PAGE_SZ - 1) / PAGE_SZ;
		pthread_rwlock_wrlock(&c.lock);
		c.reg_start = first;
		c.reg_end = first + npages * PAGE_SZ;
		pthread_rwlock_unlock(&c.lock);
		fill(start, len, (uint32_t)n);
		ret = sg_register(fd, start, len, BIDI, &h, NULL);
		if (ret) {
			if (!(ret == EIO && is_config("bounce")))
				fail("REGISTER of %zu bytes: %s", len, errname(ret));
			continue;
		}
		if (pagemap_frames(first, npages, phys))
			fail("pagemap: %s", strerror(errno));
		/* Ask for the moves and merges the pin must prevent. */
		madvise((void *)((uintptr_t)start & ~(HUGE_SZ - 1)), HUGE_SZ, MADV_COLLAPSE);
		{
			void *pages[64];
			int nodes[64], status[64];
			size_t k = npages < 64 ? npages : 64;
			long left;

			for (size_t i = 0; i < k; i++) {
				pages[i] = first + (i * npages / k) * PAGE_SZ;
				nodes[i] = other_node(pages[i]);
				status[i] = -1000;
			}
			left = move_pages(0, k, pages, nodes, status, MPOL_MF_MOVE);
			for (size_t i = 0; i < k; i++)
				if (status[i] >= 0 && status[i] == nodes[i])
					moved_pinned++;
			not_moved += left > 0 ? (unsigned long)left : 0;
		}
		sleep_us(below(&r, 5000));
		if (pagemap_frames(first, npages, phys2))
			fail("pagemap: %s", strerror(errno));
		for (size_t i = 0; i < npages; i++)
			if (phys2[i] != phys[i] || !phys[i]) {
				fail("page %zu of a registered range: frame %#llx, then %#llx", i,
				     (unsigned long long)phys[i], (unsigned long long)phys2[i]);
				break;
			}
		for (size_t i = 0; i < len; i++) {
			if (start[i] != pattern_at(i, (uint32_t)n)) {
				fail("byte %zu of a registered range changed", i);
				break;
			}
		}
		if (ret == 0 && len > 16)
			device_copy_matches(&e, fd, h, start, len, below(&r, len - 16), hp, probe,
			                    2048, len < 2048 ? len / 2 : 2048);
		if ((ret = sg_unregister(fd, h)))
			fail("UNREGISTER: %s", errname(ret));
		n++;
	}
	atomic_store(&c.stop, true);
	pthread_join(th, NULL);
	if ((ret = sg_unregister(fd, hp)))
		fail("UNREGISTER of the probe: %s", errname(ret));
	close(fd);
	edu_close(&e);
	for (int i = 0; i < THP_BUFS; i++)
		unmap_buffer(c.buf[i], THP_LEN);
	unmap_buffer(probe, PAGE_SZ);
	free(phys);
	free(phys2);
	if (moved_pinned)
		fail("move_pages reported %lu pinned pages moved", moved_pinned);
	check_end("%lu registrations kept their pages and data through %lu compactions, %lu "
	          "collapses, %lu move_pages, %lu splits nearby; %lu pinned pages not moved",
	          n, c.compactions, c.collapses + n, c.moves + n, c.zaps, not_moved);
}
