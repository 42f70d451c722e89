// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC):
 * every allocation REGISTER and REGISTER_DMABUF make, failed one at a time through
 * /proc/self/task/<tid>/fail-nth as tools/testing/selftests/iommu/
 * iommufd_fail_nth.c does; then failslab and fail_page_alloc at a low
 * probability for the threads of one process under load. A failing call
 * must return a clean errno, and leave nothing pinned, charged or mapped.
 */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/udmabuf.h>

#include "sgtest.h"

#define DEBUGFS "/sys/kernel/debug/"

static int fi_write(const char *dir, const char *attr, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), DEBUGFS "%s/%s", dir, attr);
	return sgt_write_str(path, value);
}

/*
 * failslab fails allocations from every slab cache but these. DMA-API
 * debugging turns itself off for good when its radix tree of mapped cache
 * lines cannot grow ("cacheline tracking ENOMEM") and would watch nothing
 * after that (sgdma's xarrays use these nodes too, and so lose their
 * failure points). kmemleak falls back to a pool when its own objects
 * cannot be allocated: failing them tests kmemleak, once for every object
 * anyone allocates, and only makes the walk long.
 */
static bool fi_may_fail_cache(const char *name)
{
	return strcmp(name, "radix_tree_node") && strncmp(name, "kmemleak_", 9);
}

static void fi_slab_filter(bool on)
{
	char path[300];
	struct dirent *de;
	DIR *d = opendir("/sys/kernel/slab");

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.' && fi_may_fail_cache(de->d_name)) {
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab", de->d_name);
			sgt_write_str(path, on ? "1" : "0");
		}
	closedir(d);
	fi_write("failslab", "cache-filter", on ? "Y" : "N");
}

/*
 * failslab and fail_page_alloc fail any allocation (also GFP_KERNEL, also
 * order 0) of a task that asks for it, at @percent; no fault type prints
 * a stack trace (a "Call Trace" fails the VM).
 */
static bool fi_configure(int percent)
{
	static const char *const dirs[] = {"failslab", "fail_page_alloc"};
	char p[16];
	struct dirent *de;
	DIR *d = opendir(DEBUGFS);
	bool ok = true;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "fail", 4)) {
			fi_write(de->d_name, "verbose",
			         opt.fi_verbose > 1 ? "2"
			         : opt.fi_verbose   ? "1"
			                            : "0");
			fi_write(de->d_name, "verbose_ratelimit_burst", "10000");
		}
	closedir(d);
	fi_slab_filter(true);
	snprintf(p, sizeof(p), "%d", percent);
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
		ok = ok && !fi_write(dirs[i], "ignore-gfp-wait", "N") &&
		     !fi_write(dirs[i], "task-filter", "Y") &&
		     !fi_write(dirs[i], "interval", "1") && !fi_write(dirs[i], "times", "-1") &&
		     !fi_write(dirs[i], "space", "0") && !fi_write(dirs[i], "probability", p);
	return ok && !fi_write("fail_page_alloc", "ignore-gfp-highmem", "N") &&
	       !fi_write("fail_page_alloc", "min-order", "0");
}

/* Nothing fails any more, and every cache is as it was. */
static void fi_reset(void)
{
	fi_write("failslab", "probability", "0");
	fi_write("fail_page_alloc", "probability", "0");
	fi_slab_filter(false);
}

static bool fi_available(void)
{
	return !access("/proc/self/fail-nth", F_OK) && !access(DEBUGFS "failslab", F_OK) &&
	       !access(DEBUGFS "fail_page_alloc", F_OK);
}

/* Clean failures of an allocation or a pin inside REGISTER. */
static bool clean_register_errno(int err)
{
	return err == ENOMEM || err == EFAULT || err == EIO || err == EAGAIN;
}

/* ================================================================ fail-nth */

static int nth_write(int fd, unsigned int n)
{
	char text[16];
	int len = snprintf(text, sizeof(text), "%u", n);

	/* Disabling may itself meet the fault it disables: try again. */
	for (int i = 0; i < 10; i++)
		if (pwrite(fd, text, len, 0) == len)
			return 0;
	return -1;
}

static int nth_read(int fd)
{
	char text[16];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	if (n <= 0)
		return -1;
	text[n] = '\0';
	return atoi(text);
}

enum { K_4K, K_THP, K_SPLIT, K_COW, K_OPEN, K_DMABUF, NKIND };
static const char *const kind_name[NKIND] = {"4k", "thp", "split", "cow", "open", "dmabuf"};

#define UDMABUF_DEV "/dev/udmabuf"

struct walk {
	int kind;
	int fd;
	uint8_t *mem; /* K_4K, K_THP, K_SPLIT */
	int memfd;    /* K_COW, K_DMABUF */
	int dmabuf;   /* K_DMABUF */
	/* FOLL_PIN pins held before the walk: udmabuf pins its memfd's pages. */
	long long pins_before;
	uint8_t *addr;
	size_t len;
	uint32_t flags;
	unsigned long errs[4];  /* ENOMEM, EFAULT, EIO, EAGAIN */
	unsigned long absorbed; /* faults injected, call succeeded anyway */
};

#define COW_LEN       (64 * KiB)
#define DMABUF_LEN    (1 * MiB)
#define DMABUF_OFFSET 100

/*
 * A udmabuf over a sealed memfd of DMABUF_LEN bytes (the exporter the test
 * kernels have); -1 with errno on failure.
 */
static int make_udmabuf(int *memfd)
{
	struct udmabuf_create c = {.flags = UDMABUF_FLAGS_CLOEXEC, .size = DMABUF_LEN};
	int dev = open(UDMABUF_DEV, O_RDWR | O_CLOEXEC), fd = -1;

	*memfd = memfd_create("sgdma-stress", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (dev >= 0 && *memfd >= 0 && !ftruncate(*memfd, DMABUF_LEN) &&
	    !fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		c.memfd = (uint32_t)*memfd;
		fd = ioctl(dev, UDMABUF_CREATE, &c);
	}
	if (dev >= 0)
		close(dev);
	return fd;
}

/*
 * The buffer of a kind. Every step of a bounced walk copies the whole
 * buffer through swiotlb: huge pages are half as many there.
 */
static size_t walk_size(int kind)
{
	size_t size = kind == K_4K ? 1 * MiB + 2 * PAGE_SZ : 4 * MiB;

	return is_config("bounce") && kind != K_4K ? size / 2 : size;
}

/* The buffer of one step; a private file mapping is mapped afresh each time. */
static void walk_prepare(struct walk *w)
{
	switch (w->kind) {
	case K_4K:
		/*
		 * Scattered small pages, unaligned at both ends: a scatterlist
		 * of chained chunks.
		 */
		w->addr = w->mem + 1000;
		w->len = walk_size(K_4K) - 2 * PAGE_SZ + 100;
		w->flags = BIDI;
		break;
	case K_THP:
	case K_SPLIT:
		w->addr = w->mem;
		w->len = walk_size(w->kind);
		w->flags = w->kind == K_THP ? BIDI : SGDMA_REG_TO_DEVICE;
		break;
	case K_DMABUF:
		w->addr = NULL;
		w->len = DMABUF_LEN - DMABUF_OFFSET;
		w->flags = BIDI;
		break;
	case K_COW:
		/* A read pin of a private file mapping copies every page first. */
		if (w->addr)
			munmap(w->addr, COW_LEN);
		w->addr = mmap(NULL, COW_LEN, PROT_READ, MAP_PRIVATE, w->memfd, 0);
		w->len = COW_LEN;
		w->flags = SGDMA_REG_TO_DEVICE;
		if (w->addr == MAP_FAILED) {
			fail("mmap of the memfd: %s", strerror(errno));
			_exit(1);
		}
		break;
	}
}

static size_t span_pages(const struct walk *w)
{
	uintptr_t first = (uintptr_t)w->addr & ~(PAGE_SZ - 1);

	return ((uintptr_t)w->addr + w->len - first + PAGE_SZ - 1) / PAGE_SZ;
}

/*
 * Nothing pinned, charged or mapped after a step: the module's counters and
 * VmPin every step, the kernel's FOLL_PIN counters (which need a refresh of
 * every CPU's counters, slow here) every fourth.
 */
static void walk_check_clean(const struct walk *w, unsigned int n)
{
	long long regions = param("regions"), pinned = param("pinned_pages");
	long long kb = vm_pin_kb(), pins = n % 4 ? 0 : foll_pins_outstanding() - w->pins_before;
	long attached = sgt_dmabuf_attachments(sgt_edu_bdf());

	if (regions || pinned || kb || pins || attached > 0)
		fail("after step %u: regions %lld, pinned_pages %lld, VmPin %lld kB, FOLL_PIN "
		     "outstanding %lld, dma-bufs attached to the device %ld",
		     n, regions, pinned, kb, pins, attached);
}

/* REGISTER_DMABUF of @w's range; its reply where REGISTER's would be. */
static int register_dmabuf(const struct walk *w, struct sgdma_ioc_register *r)
{
	struct sgdma_ioc_register_dmabuf d = {
	    .size = sizeof(d),
	    .flags = r->flags,
	    .fd = w->dmabuf,
	    .offset = DMABUF_OFFSET,
	    .length = w->len,
	    .inline_count = r->inline_count,
	    .inline_segs = r->inline_segs,
	};
	int ret = ioctl(w->fd, SGDMA_IOC_REGISTER_DMABUF, &d);

	r->handle = d.handle;
	r->nsegs = d.nsegs;
	r->region_flags = d.region_flags;
	r->inline_count = d.inline_count;
	return ret;
}

static const char *kind_call(int kind)
{
	return kind == K_OPEN     ? "open(2) of the node"
	       : kind == K_DMABUF ? "REGISTER_DMABUF"
	                          : "REGISTER";
}

/* One step of the walk: 1 when the call succeeded without a fault injected. */
static int walk_step(struct walk *w, int nthfd, unsigned int n)
{
	struct sgdma_ioc_register r = {.size = sizeof(r)};
	struct sgdma_ioc_seg inl[4], first[4];
	int ret, err, left;

	walk_prepare(w);
	r.flags = w->flags;
	r.addr = (uintptr_t)w->addr;
	r.length = w->len;
	/* The first segments come with the reply: one more copy out to fail. */
	r.inline_count = ARRAY_LEN(inl);
	r.inline_segs = (uintptr_t)inl;
	if (nth_write(nthfd, n)) {
		fail("writing fail-nth: %s", strerror(errno));
		return -1;
	}
	if (w->kind == K_OPEN) {
		ret = open(node_path(), O_RDWR | O_CLOEXEC);
	} else if (w->kind == K_DMABUF) {
		ret = register_dmabuf(w, &r);
	} else {
		ret = ioctl(w->fd, SGDMA_IOC_REGISTER, &r);
	}
	err = errno;
	left = nth_read(nthfd);
	if (nth_write(nthfd, 0)) {
		fail("clearing fail-nth: %s", strerror(errno));
		return -1;
	}
	if (w->kind == K_OPEN) {
		if (ret >= 0) {
			struct sgdma_ioc_info info;

			if ((err = sg_info(ret, &info)))
				fail("INFO on a file opened with fault %u injected: %s", n,
				     errname(err));
			close(ret);
			w->absorbed += left == 0;
			return left != 0;
		}
		if (err != ENOMEM && err != ENFILE)
			fail("open with allocation %u failed: %s", n, errname(err));
		else
			w->errs[0]++;
		if (left)
			fail("open failed with %s though no fault was injected", errname(err));
		return 0;
	}
	if (!ret) {
		size_t got = 0;
		int e;

		if (!r.handle || !r.nsegs)
			fail("step %u: REGISTER succeeded with handle %u, nsegs %llu", n, r.handle,
			     (unsigned long long)r.nsegs);
		if ((e = check_tiling(w->fd, r.handle, w->len, r.nsegs, first, ARRAY_LEN(first),
		                      &got)) ||
		    (e = sg_sync(w->fd, r.handle, 0, 1, true)) ||
		    (e = sg_sync(w->fd, r.handle, w->len - 1, 1, false)))
			fail("step %u: a region registered with a fault absorbed: %s", n,
			     errname(e));
		if (r.inline_count != got || memcmp(inl, first, got * sizeof(inl[0])))
			fail("step %u: %u segments inline, not the first %zu of GET_SEGS", n,
			     r.inline_count, got);
		if ((e = sg_unregister(w->fd, r.handle)))
			fail("step %u: UNREGISTER: %s", n, errname(e));
		walk_check_clean(w, n);
		w->absorbed += left == 0;
		return left != 0;
	}
	if (!clean_register_errno(err))
		fail("step %u: %s failed with %s", n, kind_call(w->kind), errname(err));
	else
		w->errs[err == ENOMEM ? 0 : err == EFAULT ? 1 : err == EIO ? 2 : 3]++;
	if (left)
		fail("step %u: %s failed with %s though no fault was injected", n,
		     kind_call(w->kind), errname(err));
	if (r.handle || r.nsegs || r.region_flags)
		fail("step %u: a failed %s wrote handle %u, nsegs %llu, region_flags %#x", n,
		     kind_call(w->kind), r.handle, (unsigned long long)r.nsegs, r.region_flags);
	walk_check_clean(w, n);
	return 0;
}

/*
 * The walk of one kind, in a process of its own without CAP_IPC_LOCK and
 * with RLIMIT_MEMLOCK exactly the buffer's pages: a failed step that left
 * a page charged makes every later registration fail.
 */
static void walk_child(int kind, double until)
{
	struct walk w = {.kind = kind, .memfd = -1, .dmabuf = -1};
	char path[64];
	unsigned int n;
	int nthfd, ret, done = 0;
	bool tight;
	uint32_t h, extra;
	uint8_t *spare = map_buffer(PAGE_SZ, false);

	w.fd = open_node();
	if (kind == K_4K)
		w.mem = map_scattered(walk_size(K_4K));
	else if (kind == K_THP || kind == K_SPLIT)
		w.mem = map_buffer(walk_size(kind), true);
	if (kind == K_COW) {
		uint8_t *data = malloc(COW_LEN);

		w.memfd = memfd_create("sgdma-stress", MFD_CLOEXEC);
		fill(data, COW_LEN, 77);
		if (!data || w.memfd < 0 || write(w.memfd, data, COW_LEN) != (ssize_t)COW_LEN)
			fail("memfd: %s", strerror(errno));
		free(data);
	}
	if (kind == K_DMABUF && (w.dmabuf = make_udmabuf(&w.memfd)) < 0)
		fail("udmabuf: %s", strerror(errno));
	w.pins_before = foll_pins_outstanding();
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	nthfd = open(path, O_RDWR | O_CLOEXEC);
	if (w.fd < 0 || nthfd < 0 || !spare || sgt_drop_cap_ipc_lock()) {
		fail("%s: setup: %s", kind_name[kind], strerror(errno));
		_exit(1);
	}
	/* A dma-buf's memory is the exporter's: nothing is charged for it. */
	tight = kind != K_OPEN && kind != K_DMABUF;
	if (tight) {
		walk_prepare(&w);
		struct rlimit rl = {span_pages(&w) * PAGE_SZ, span_pages(&w) * PAGE_SZ};

		setrlimit(RLIMIT_MEMLOCK, &rl);
		ret = sg_register(w.fd, w.addr, w.len, w.flags, &h, NULL);
		if (ret == ENOMEM) {
			note("%s: root has pages charged already: walking without the memlock "
			     "check",
			     kind_name[kind]);
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
			setrlimit(RLIMIT_MEMLOCK, &rl);
			tight = false;
			ret = sg_register(w.fd, w.addr, w.len, w.flags, &h, NULL);
		}
		if (ret) {
			fail("%s: REGISTER without faults: %s", kind_name[kind], errname(ret));
			_exit(1);
		}
		if (tight && (ret = sg_register(w.fd, spare, 1, BIDI, &extra, NULL)) != ENOMEM)
			fail("%s: a page over RLIMIT_MEMLOCK: %s, expected ENOMEM", kind_name[kind],
			     errname(ret));
		if ((ret = sg_unregister(w.fd, h)))
			fail("UNREGISTER: %s", errname(ret));
	}
	/* A REGISTER here has a few dozen failure points: the walk ends well
	 * before either bound, which only stop a walk that would not end. */
	for (n = 1; n <= 1000 && !done && now_s() < until; n++) {
		done = walk_step(&w, nthfd, n);
		if (done < 0)
			_exit(1);
	}
	if (!done)
		fail("%s: the walk did not reach a step without a fault in %u steps",
		     kind_name[kind], n - 1);
	note("failnth %s: %u fault points; failed with ENOMEM %lu, EFAULT %lu, EIO %lu, EAGAIN "
	     "%lu; %lu faults absorbed%s",
	     kind_name[kind], n - 2, w.errs[0], w.errs[1], w.errs[2], w.errs[3], w.absorbed,
	     tight ? "; memlock exact" : "");
	close(w.fd);
	if (w.dmabuf >= 0)
		close(w.dmabuf);
	_exit(0);
}

static void walk_kind(int kind, double until)
{
	char name[32], maxseg[32] = "", boundary[32] = "";
	int status;
	pid_t pid;

	snprintf(name, sizeof(name), "failnth %s", kind_name[kind]);
	check_begin(name);
	if (kind == K_SPLIT) {
		/* Huge-page entries of 1 MiB, copied into a table cut at 64 KiB. */
		FILE *f;
		char path[256];

		if ((f = fopen(sgt_dev_attr_path("max_segment_size", path, sizeof(path)), "re"))) {
			if (!fgets(maxseg, sizeof(maxseg), f))
				maxseg[0] = '\0';
			fclose(f);
		}
		if ((f = fopen(sgt_dev_attr_path("segment_boundary", path, sizeof(path)), "re"))) {
			if (!fgets(boundary, sizeof(boundary), f))
				boundary[0] = '\0';
			fclose(f);
		}
		if (write_dev_attr("max_segment_size", "1048576") ||
		    write_dev_attr("segment_boundary", "0xffff"))
			fail("setting the segment limits");
	}
	pid = fork();
	if (pid == 0)
		walk_child(kind, until);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the walk ended with status 0x%x", status);
	if (kind == K_SPLIT && (write_dev_attr("max_segment_size", maxseg) ||
	                        write_dev_attr("segment_boundary", boundary)))
		fail("restoring the segment limits");
	check_end(kind_call(kind));
}

void sc_failnth(void)
{
	if (!fi_available()) {
		check_skip("failnth", "the kernel has no fault injection (fail-nth, failslab, "
		                      "fail_page_alloc)");
		return;
	}
	if (!fi_configure(0)) {
		check_skip("failnth", "cannot configure failslab and fail_page_alloc in debugfs");
		return;
	}
	for (int kind = 0; kind < NKIND; kind++) {
		if (kind == K_DMABUF && access(UDMABUF_DEV, R_OK | W_OK)) {
			check_skip("failnth dmabuf",
			           "the kernel has no udmabuf (" UDMABUF_DEV ": %s)",
			           strerror(errno));
			continue;
		}
		walk_kind(kind, deadline(4));
	}
	fi_reset();
}

/* ================================================================ failprob */

struct fthread {
	int id, fd, shared_fd, mif;
	uint8_t *buf;
	size_t size;
	double until, longest; /* longest: while no REGISTER has failed yet */
	atomic_ulong *reg_failed;
	pthread_barrier_t *barrier;
	unsigned long calls[5], errs[5]; /* REGISTER, GET_SEGS, SYNC, UNREGISTER, open */
	unsigned long bad;
	char first_bad[160];
	struct sgdma_ioc_seg segs[64];
};

static void bad(struct fthread *t, const char *what, int err)
{
	if (!t->bad++)
		snprintf(t->first_bad, sizeof(t->first_bad), "%s: %s", what, errname(err));
}

/* Only ioctls between the two writes to make-it-fail: no stdio, no faults. */
static void *prob_thread(void *arg)
{
	struct fthread *t = arg;
	size_t cell = t->size / 8, maxlen = is_config("bounce") ? 256 * KiB : 2 * MiB;
	uint32_t h[8] = {0};
	int fds[8];
	uint64_t lens[8];
	struct rng r;

	rng_init(&r, 600 + t->id);
	if (!may_overlap() && maxlen > cell)
		maxlen = cell;
	/* Only this thread fails, from the first write on. */
	t->mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (t->mif < 0)
		bad(t, "open make-it-fail", errno);
	pthread_barrier_wait(t->barrier); /* ready */
	pthread_barrier_wait(t->barrier); /* go */
	if (pwrite(t->mif, "1", 1, 0) != 1)
		bad(t, "make-it-fail", errno);
	while (now_s() < t->until || (!atomic_load(t->reg_failed) && now_s() < t->longest)) {
		unsigned int op = (unsigned int)below(&r, 100);
		int i = (int)below(&r, 8), ret;

		if (t->fd < 0) {
			t->calls[4]++;
			t->fd = open(node_path(), O_RDWR | O_CLOEXEC);
			if (t->fd < 0 && errno != ENOMEM && errno != ENFILE)
				bad(t, "open", errno);
			if (t->fd < 0)
				t->errs[4]++;
			continue;
		}
		if (!h[i]) {
			size_t len = 1 + below(&r, maxlen);
			size_t off = may_overlap() ? below(&r, t->size - len)
			                           : i * cell + below(&r, cell - len + 1);
			struct sgdma_ioc_register reg = {.size = sizeof(reg), .flags = BIDI};

			fds[i] = chance(&r, 30) ? t->shared_fd : t->fd;
			reg.addr = (uintptr_t)(t->buf + off);
			reg.length = len;
			t->calls[0]++;
			ret = ioctl(fds[i], SGDMA_IOC_REGISTER, &reg) ? errno : 0;
			if (!ret) {
				h[i] = reg.handle;
				lens[i] = len;
			} else {
				t->errs[0]++;
				atomic_fetch_add(t->reg_failed, 1);
				if (!clean_register_errno(ret) || reg.handle || reg.nsegs)
					bad(t, "REGISTER", ret);
			}
		} else if (op < 30) {
			uint64_t count = ARRAY_LEN(t->segs);

			t->calls[1]++;
			if ((ret = sg_get_segs(fds[i], h[i], 0, &count, t->segs)))
				bad(t, "GET_SEGS", ret);
		} else if (op < 60) {
			t->calls[2]++;
			if ((ret = sg_sync(fds[i], h[i], 0, lens[i], chance(&r, 50))))
				bad(t, "SYNC", ret);
		} else if (op < 95) {
			t->calls[3]++;
			if ((ret = sg_unregister(fds[i], h[i])))
				bad(t, "UNREGISTER", ret);
			h[i] = 0;
		} else {
			/* Closing releases this file's regions. */
			for (int k = 0; k < 8; k++)
				if (h[k] && fds[k] == t->fd)
					h[k] = 0;
			close(t->fd);
			t->fd = -1;
		}
	}
	for (int k = 0; k < 10 && pwrite(t->mif, "0", 1, 0) != 1; k++)
		;
	close(t->mif);
	for (int k = 0; k < 8; k++) {
		int ret = h[k] ? sg_unregister(fds[k], h[k]) : 0;

		if (ret)
			fail("UNREGISTER after the window: %s", errname(ret));
	}
	return NULL;
}

static void prob_child(double until, double at_least)
{
	enum { NT = 3 };
	const size_t size = 12 * MiB;
	struct fthread t[NT];
	pthread_t th[NT];
	pthread_barrier_t barrier;
	int shared_fd = open_node();
	unsigned long calls[5] = {0}, errs[5] = {0};
	atomic_ulong reg_failed = 0;

	if (shared_fd < 0) {
		fail("setup: %s", strerror(errno));
		_exit(1);
	}
	pthread_attr_t attr;

	/* Small stacks: mlockall() below faults in every page of them. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * KiB);
	pthread_barrier_init(&barrier, NULL, NT + 1);
	for (int i = 0; i < NT; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].id = i;
		t[i].fd = open_node();
		t[i].shared_fd = shared_fd;
		t[i].buf = map_mixed(size);
		t[i].size = size;
		t[i].until = until;
		t[i].reg_failed = &reg_failed;
		t[i].barrier = &barrier;
		if (!t[i].buf) {
			fail("setup: %s", strerror(errno));
			_exit(1);
		}
		pthread_create(&th[i], &attr, prob_thread, &t[i]);
	}
	pthread_barrier_wait(&barrier); /* every thread ready */
	/* No page faults inside the window: every page present and locked. */
	if (mlockall(MCL_CURRENT))
		note("failprob: mlockall: %s", strerror(errno));
	/* Which can take seconds on a busy debug kernel: a window of work still. */
	if (until < now_s() + at_least)
		until = now_s() + at_least;
	/*
	 * At 1% a REGISTER fails a few times in a hundred: a slow window may
	 * see none. It goes on then, for as long again, until one does.
	 */
	for (int i = 0; i < NT; i++) {
		t[i].until = until;
		t[i].longest = until + opt.seconds;
	}
	pthread_barrier_wait(&barrier); /* go */
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		for (int k = 0; k < 5; k++) {
			calls[k] += t[i].calls[k];
			errs[k] += t[i].errs[k];
		}
		if (t[i].bad)
			fail("%lu calls failed unclean, the first: %s", t[i].bad, t[i].first_bad);
		if (t[i].fd >= 0)
			close(t[i].fd);
	}
	close(shared_fd);
	munlockall();
	note("failprob: REGISTER %lu (%lu failed), GET_SEGS %lu, SYNC %lu, UNREGISTER %lu, open "
	     "%lu (%lu failed)",
	     calls[0], errs[0], calls[1], calls[2], calls[3], calls[4], errs[4]);
	if (!errs[0])
		fail("no REGISTER failed: the faults were not injected");
	_exit(0);
}

void sc_failprob(void)
{
	int status;
	pid_t pid;

	if (!fi_available()) {
		check_skip("failprob", "the kernel has no fault injection (failslab, "
		                       "fail_page_alloc)");
		return;
	}
	check_begin("failprob");
	if (!fi_configure(1)) {
		fail("cannot configure failslab and fail_page_alloc in debugfs");
		check_end(NULL);
		return;
	}
	pid = fork();
	if (pid == 0)
		prob_child(deadline(0.8), opt.seconds * 0.4);
	waitpid(pid, &status, 0);
	fi_reset();
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the process under fault injection ended with status 0x%x", status);
	check_end("failslab and fail_page_alloc at 1%% for 3 threads of one process");
}

/* ================================================================ unload */

void sc_unload(void)
{
	const char *ko = getenv("SGDMA_KO");
	char params[128];
	uint32_t h;
	int ret = -EWOULDBLOCK, fd;
	uint8_t *buf;

	check_begin("unload");
	if (!ko) {
		fail("SGDMA_KO is not set");
		check_end(NULL);
		return;
	}
	/* Files closed by others (a socket's in flight) may take a moment. */
	for (int k = 0; k < 300 && ret == -EWOULDBLOCK; k++) {
		ret = sgt_unload_module();
		if (ret == -EWOULDBLOCK)
			sleep_us(10000);
	}
	if (ret)
		fail("unloading sgdma after the stress: %s: something still holds it",
		     errname(-ret));
	snprintf(params, sizeof(params), "expose=%s", sgt_edu_bdf());
	if (!ret && (ret = sgt_load_module(ko, params)))
		fail("loading %s again: %s", ko, errname(-ret));
	if ((ret = ensure_exposed(mask_bits())))
		fail("exposing again: %s", errname(-ret));
	buf = map_buffer(PAGE_SZ, false);
	fd = open_node();
	if (fd < 0 || !buf || (ret = sg_register(fd, buf, PAGE_SZ, BIDI, &h, NULL)) ||
	    (ret = sg_unregister(fd, h)))
		fail("a registration after loading again: %s",
		     fd < 0 ? strerror(errno) : errname(ret));
	if (fd >= 0)
		close(fd);
	unmap_buffer(buf, PAGE_SZ);
	check_end("unloaded with nothing open, loaded and registering again");
}
