// SPDX-License-Identifier: GPL-2.0
/*
 * sgdma-fuzz - a structure-aware, coverage-blind fuzzer of the sgdma ioctls.
 *
 *   sgdma-fuzz [--seed N] [--calls N] [--seconds S] [--threads T]
 *              [--device PATH] [--module KO] [--mask-bits N]
 *              [--max-regions N] [--progress S] [--kmsg] [--hang S]
 *              [--trace] [--quiet]
 *
 * It knows the six commands of <linux/sgdma.h> (INFO, REGISTER, GET_SEGS,
 * SYNC, UNREGISTER, REGISTER_DMABUF) and their structs, and calls them with:
 *  - sizes around each struct's versions: 0, 1, 4, below the first version,
 *    exact, longer with a zero or a non-zero tail, a page and more, 4 GiB;
 *    the struct at an odd address, across a page, cut by a PROT_NONE page,
 *    in a read-only page (the reply cannot be written), NULL, unmapped,
 *    kernel and non-canonical addresses; odd size and direction bits in the
 *    ioctl number, and numbers that are not sgdma's (ENOTTY);
 *  - random flags and reserved words, non-zero output fields on input;
 *  - handles alive (a table of the live regions each thread registered,
 *    user memory and dma-buf ones, used most of the time), unregistered, 0,
 *    never given out, random;
 *  - buffers in anonymous, transparent-huge-page, read-only, PROT_NONE,
 *    shared and private memfd and hugetlb memory, the edu device's BAR
 *    (/sys/bus/pci/devices/<bdf>/resource0, VM_IO | VM_PFNMAP), the stack,
 *    program text and data, the vDSO and vvar pages, the ioctl argument's
 *    own page, unmapped gaps, NULL, kernel and non-canonical addresses, and
 *    ranges that wrap around 2^64; lengths 0, 1, a page +-1, the rest of a
 *    mapping and more, 2 MiB, max_region_bytes +-1, huge, near 2^64;
 *  - REGISTER_DMABUF of descriptors that are dma-bufs (udmabufs over sealed
 *    memfds, system-heap buffers, some of them handed out read-only), dups
 *    of them, closed ones, and descriptors that are not dma-bufs (-1 and
 *    other negative numbers, numbers above the descriptor limit, a pipe, a
 *    regular file, an O_PATH one, a memfd, /dev/zero, the sgdma file
 *    itself, small random numbers); offsets and lengths at and past the
 *    dma-buf's end, misaligned, 0, wrapping; each thread keeps a few
 *    dma-bufs and now and then closes one (the regions on it live on) or
 *    replaces it. A kernel without an exporter (no /dev/udmabuf, no
 *    /dev/dma_heap/system) gets the descriptors that are not dma-bufs only.
 *  - GET_SEGS with first and count at and past the ends, segs NULL, kernel,
 *    read-only, cut by a guard page; SYNC ranges at and past the edges;
 *  - interleaved with mmap (over registered buffers), munmap, mprotect,
 *    madvise (DONTNEED, FREE, COLD, PAGEOUT, HUGEPAGE, COLLAPSE, ...),
 *    hole punching in memfds, writes, and fork (the child makes a few calls,
 *    which must fail with EPERM, writes to and unmaps the shared buffers,
 *    and exits);
 *  - from several threads, each with its own PRNG stream from the seed, on
 *    a private file each and on one file they share; odd-numbered threads
 *    run without CAP_IPC_LOCK (RLIMIT_MEMLOCK applies); files are closed
 *    and reopened (read-only now and then: EBADF); max_regions_per_file is
 *    lowered for the run (--max-regions) so ENOSPC happens.
 *
 * Oracles (any failure exits 1 with the seed and the call number):
 *  - every errno is in the documented set of its command (the uapi header
 *    and docs/uapi.md), and is the one the documented rules give where they
 *    fix it: ENOTTY, the size and tail rules, EBADF and EPERM, EINVAL for
 *    bad flags and reserved words, ENOENT for dead handles, success for
 *    valid calls on live regions, EFAULT for replies that cannot be written;
 *  - the kernel writes nothing outside the struct's size, and a call that
 *    fails with anything but EFAULT leaves the struct as it was;
 *  - a successful REGISTER's or REGISTER_DMABUF's segments tile the buffer
 *    or the dma-buf's range (offsets contiguous
 *    from 0, lengths summing to the length), each within the device's DMA
 *    mask, maximum segment and boundary; GET_SEGS later returns the same
 *    segments and exactly min(count, nsegs - first) of them; INFO reports
 *    the same device every time;
 *  - at the end, with every file and dma-buf closed and every child reaped:
 *    the module's regions and pinned_pages are 0, nr_foll_pin_acquired ==
 *    nr_foll_pin_released in /proc/vmstat and, where debugfs shows the
 *    dma-bufs (dma_buf/bufinfo), none is attached to the device and there
 *    are as many as before the run; with DMA-API debugging, the device has
 *    no DMA mapping left.
 * Kernel reports (Oops, WARNING, KASAN, lockdep) are for whoever watches
 * the kernel log (tests/vm/sgvm fails the VM on them); with --kmsg the
 * fuzzer reads /dev/kmsg after every call and fails at the first report,
 * naming the call after which it appeared. A call that never returns fails
 * the run too: when no call has completed for --hang seconds (default 60,
 * 0: never), the calls in flight are printed and the process ends.
 * --progress S prints the call count every S seconds.
 *
 * Reproducing: every choice comes from the seed (printed at the start even
 * when chosen from the clock). Thread t draws stream t + 1 of it, a forked
 * child a stream its parent drew. With --threads 1 a run is deterministic:
 * the same --seed and --calls replay the same calls (only physical page
 * placement differs between boots, which changes segment counts); the
 * digest printed at the end shows two runs made the same calls with the
 * same results. Several threads draw the same streams but interleave
 * differently: rerun a failing seed as it was, then with --threads 1 to see
 * whether it needs the race; --trace prints every call.
 *
 * Exit status: 0 no oracle failed, 1 an oracle failed (or a leak), 2 usage,
 * 3 setup failed (no device, module not loadable).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/sgdma.h>
#include <linux/udmabuf.h>

#include "sgtest.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define NSLOT        6
#define SLOT_SIZE    (4UL << 20)
#define SLOT_GAP     (2UL << 20) /* PROT_NONE between slots, ours */
#define HUGE_2M      (2UL << 20)
#define MAXLIVE      24 /* tracked live regions per thread and file */
#define NSTORE       16 /* segments remembered per region */
#define NSTALE       32 /* unregistered handles remembered */
#define SEGBUF_PAGES 8
#define LIVE_BUDGET  (8ULL << 20) /* bytes a thread keeps registered */
#define MAX_THREADS  64
#define CANARY       0xA5
#define SEGCANARY    0x5A
#define CHILD_FAIL   97

#if defined(__x86_64__)
#define USER_TOP 0x00007ffffffff000ULL
#elif defined(__aarch64__)
#define USER_TOP (1ULL << 48)
#else
#define USER_TOP (1ULL << 47)
#endif

#define B(e) (1ULL << (e))
/* EOPNOTSUPP (95) in the 64-bit errno sets; ETIME (62) is never sgdma's. */
#define E_NOTSUPP 62

/* ------------------------------------------------------------------ commands */

enum { C_INFO, C_REGISTER, C_GET_SEGS, C_SYNC, C_UNREGISTER, C_REGISTER_DMABUF, C_BAD, NCMD };

#define COMMON_ERRS (B(EFAULT) | B(EINVAL) | B(E2BIG) | B(ENODEV))
#define OWNER_ERRS  (B(EBADF) | B(EPERM))

/* The size of a struct's first published version: up to and with @last. */
#define FIRST_SIZE(type, last) ((uint32_t)(offsetof(type, last) + sizeof(((type *)0)->last)))

static const struct cmdinfo {
	const char *name;
	unsigned long ioc;
	uint32_t ksize;   /* this header's struct */
	uint32_t minsize; /* its first published version */
	uint64_t allowed; /* bit 0: success, bit e: errno e */
} cmdinfo[NCMD] = {
    [C_INFO] = {"INFO", SGDMA_IOC_INFO, sizeof(struct sgdma_ioc_info),
                FIRST_SIZE(struct sgdma_ioc_info, name), B(0) | COMMON_ERRS},
    [C_REGISTER] = {"REGISTER", SGDMA_IOC_REGISTER, sizeof(struct sgdma_ioc_register),
                    FIRST_SIZE(struct sgdma_ioc_register, nsegs),
                    B(0) | COMMON_ERRS | OWNER_ERRS | B(ENOSPC) | B(ENOMEM) | B(EIO) | B(EBUSY)},
    [C_GET_SEGS] = {"GET_SEGS", SGDMA_IOC_GET_SEGS, sizeof(struct sgdma_ioc_get_segs),
                    sizeof(struct sgdma_ioc_get_segs), B(0) | COMMON_ERRS | OWNER_ERRS | B(ENOENT)},
    [C_SYNC] = {"SYNC", SGDMA_IOC_SYNC, sizeof(struct sgdma_ioc_sync),
                sizeof(struct sgdma_ioc_sync), B(0) | COMMON_ERRS | OWNER_ERRS | B(ENOENT)},
    [C_UNREGISTER] = {"UNREGISTER", SGDMA_IOC_UNREGISTER, sizeof(struct sgdma_ioc_unregister),
                      sizeof(struct sgdma_ioc_unregister),
                      B(0) | COMMON_ERRS | OWNER_ERRS | B(ENOENT)},
    [C_REGISTER_DMABUF] = {"REGISTER_DMABUF", SGDMA_IOC_REGISTER_DMABUF,
                           sizeof(struct sgdma_ioc_register_dmabuf),
                           FIRST_SIZE(struct sgdma_ioc_register_dmabuf, inline_segs),
                           B(0) | COMMON_ERRS | OWNER_ERRS | B(ENOSPC) | B(ENOMEM) | B(EIO) |
                               B(EBUSY) | B(EACCES) | B(E_NOTSUPP)},
    [C_BAD] = {"BAD_IOCTL", 0, sizeof(struct sgdma_ioc_info), sizeof(struct sgdma_ioc_info),
               B(ENOTTY)},
};

/* The region flags and registration flags this fuzzer knows. */
#define REGION_FLAGS (SGDMA_REGION_BOUNCED | SGDMA_REGION_NEEDS_SYNC | SGDMA_REGION_CONTIGUOUS)
#define REG_FLAGS    (SGDMA_REG_DIR_MASK | SGDMA_REG_REQUIRE_CONTIG)

static const char *errname(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
	    {0, "OK"},          {EPERM, "EPERM"},
	    {ENOENT, "ENOENT"}, {EINTR, "EINTR"},
	    {EIO, "EIO"},       {E2BIG, "E2BIG"},
	    {EBADF, "EBADF"},   {ENOMEM, "ENOMEM"},
	    {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"},
	    {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"},
	    {EINVAL, "EINVAL"}, {ENOTTY, "ENOTTY"},
	    {ENOSPC, "ENOSPC"}, {EOPNOTSUPP, "EOPNOTSUPP"},
	    {EACCES, "EACCES"}, {E_NOTSUPP, "EOPNOTSUPP"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	return "E?";
}

/* An errno's bit in the sets: 63 for any other. */
static int ecode(int e)
{
	return e == EOPNOTSUPP ? E_NOTSUPP : e >= 0 && e < 62 ? e : 63;
}

static void errset(uint64_t set, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int e = 0; e < 64 && n < size; e++)
		if (set & B(e))
			n += snprintf(buf + n, size - n, "%s%s", n ? "|" : "", errname(e));
}

/* ------------------------------------------------------------------ PRNG */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rnd(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool pct(struct rng *r, unsigned int p)
{
	return below(r, 100) < p;
}

/* ------------------------------------------------------------------ state */

enum { M_REMAP, M_MUNMAP, M_REFILL, M_MPROTECT, M_MADVISE, M_TOUCH, M_PUNCH, NMEM };
static const char *const memop_name[NMEM] = {"mmap",    "munmap", "refill", "mprotect",
                                             "madvise", "write",  "punch"};

/* The kinds of dma-buf the fuzzer makes. */
enum { DB_UDMABUF, DB_HEAP, DB_HEAP_RO, NDBKIND };
static const char *const dbkind_name[NDBKIND] = {"udmabuf", "heap", "heap-ro"};

/* Counters shared with forked children (MAP_SHARED). */
struct shared {
	atomic_uint_fast64_t calls;
	atomic_uint_fast64_t res[NCMD][64];
	atomic_uint_fast64_t child_calls, forks, reopens, tiled, segs_checked;
	atomic_uint_fast64_t dbuf_made[NDBKIND], dbuf_failed, dbuf_closed, dbuf_regions;
	atomic_uint_fast64_t memops[NMEM];
	atomic_int stop, failed;
};
static struct shared *sh;

enum kind {
	K_ANON,
	K_TOUCHED,
	K_THP,
	K_RDONLY,
	K_NONE,
	K_SHM_SHARED,
	K_SHM_PRIVATE,
	K_SHM_RDONLY,
	K_HUGETLB,
	NKIND
};

struct slot {
	uint8_t *base;
	pthread_mutex_t lock;
	int memfd;
	size_t hole_off, hole_len; /* an munmap()ed range, hole_len 0: none */
	bool dead;                 /* something else got mapped in our hole */
};

struct handle {
	uint32_t h;
	bool dmabuf;
	uint64_t len;
	uint64_t cost; /* bytes it holds: a dma-buf region maps its whole dma-buf */
	uint64_t nsegs;
	unsigned int nstored;
	struct sgdma_ioc_seg segs[NSTORE];
};

struct fdstate {
	const char *name; /* "priv" or "shared" */
	int fd;
	bool rdonly;
	uint64_t gen;
	int nlive;
	struct handle live[MAXLIVE];
	uint32_t stale[NSTALE];
	unsigned int nstale;
	uint64_t live_bytes;
};

/* A dma-buf a thread keeps, at a descriptor number of its own. */
#define NDBUF 3

struct dbuf {
	int num;   /* its descriptor number, closed while fd is -1 */
	int fd;    /* num, or -1: closed */
	int kind;  /* DB_* */
	int memfd; /* a udmabuf's memfd, or -1 (closed at once) */
	uint64_t size;
};

struct thread {
	int id;
	pthread_t tid;
	struct rng rng;
	struct fdstate priv, shr;
	uint8_t *arena; /* A (rw) | B (rw, or ro for one call) | C (PROT_NONE) */
	uint8_t *dirty_lo, *dirty_hi;
	uint8_t *segbuf, *segguard, *segro;
	uint8_t *sdirty_lo, *sdirty_hi;
	uint8_t *stack;
	struct dbuf dbufs[NDBUF];
	int dbuf_closed_num; /* a descriptor number that is never open */
	bool in_child;
	_Atomic(struct call *) busy; /* the call in the kernel now, for the hang report */
	uint64_t digest;
	uint8_t wrote[2 * 4096 + 64];
};

static struct {
	uint64_t seed, calls;
	double seconds;
	int threads;
	const char *device, *module;
	int mask_bits;
	long long max_regions;
	double progress, hang;
	bool trace, quiet, kmsg;
} opt = {.calls = 0, .seconds = 0, .threads = 1, .mask_bits = -1, .max_regions = 16, .hang = 60};

static size_t page;
static char device_path[PATH_MAX];
static struct sgdma_ioc_info base_info;
static uint64_t max_region_bytes;
static struct slot slots[NSLOT];
static struct {
	uint8_t *base;
	size_t len;
} vmio;
static uintptr_t vdso_addr, vvar_addr;
/* vvar was VM_PFNMAP (unpinnable); newer kernels map pages (VM_MIXEDMAP). */
static bool vvar_pinnable;
/* In .data: a private file mapping, copied on the first write. */
static uint8_t fuzz_data[4 * 4096] __attribute__((aligned(4096))) = {1};
static struct thread **all_threads;
static atomic_int workers_left; /* threads still fuzzing, for the watchdog */
static int zerofd = -1;
/* Descriptors that are not dma-bufs, and the exporters there are. */
static int pipefd[2] = {-1, -1}, filefd = -1, opathfd = -1;
static bool have_kind[NDBKIND];
static int nkinds;
static int kmsgfd = -1;
static struct timespec start_time;
static struct {
	pthread_rwlock_t lock;
	int fd;
	uint64_t gen;
} shfd = {.lock = PTHREAD_RWLOCK_INITIALIZER, .fd = -1};

static const uint64_t kernel_addrs[] = {
    0xffff888000000000ULL, 0xffffffff81000000ULL, 0xffffffffff600000ULL,
    0xfffffffffffff000ULL, 0xffffc90000000000ULL, 0xffffea0000000000ULL,
};
static const uint64_t noncanon_addrs[] = {
    0x0000800000000000ULL,
    0x8000000000000000ULL,
    0xdead000000000000ULL,
    0x00ff000000000000ULL,
};

/* ------------------------------------------------------------------ output */

/* write(2)-based: used by forked children of a threaded process too. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	for (ssize_t off = 0, w; off < n; off += w) {
		w = write(STDERR_FILENO, buf + off, n - off);
		if (w <= 0)
			break;
	}
}

static double elapsed_s(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start_time.tv_sec) + (now.tv_nsec - start_time.tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ one call */

enum place {
	P_NORMAL,
	P_CROSS,    /* across the A/B page boundary */
	P_EDGE,     /* cut by the PROT_NONE page C */
	P_RO,       /* inside page B, made read-only for the call */
	P_RO_CROSS, /* head in A, rest in read-only B */
	P_GUARD,    /* in page C */
	P_NULL,
	P_LOW,
	P_KERNEL,
	P_NONCANON,
};
static const char *const place_name[] = {"arena", "cross", "edge", "ro",     "ro-cross",
                                         "guard", "null",  "low",  "kernel", "noncanon"};

enum hclass { H_NONE, H_LIVE, H_STALE, H_ZERO, H_NEVER, H_OTHER };
static const char *const hclass_name[] = {"-", "live", "stale", "zero", "never", "other"};

/* REGISTER_DMABUF's descriptor. */
enum dclass {
	D_DMABUF, /* a thread's dma-buf, open */
	D_DUP,    /* a dup of one */
	D_CLOSED, /* a number that is not open (a closed dma-buf's, or never used) */
	D_NEG,
	D_HUGE, /* beyond the descriptor table */
	D_PIPE,
	D_FILE, /* a regular file */
	D_OPATH,
	D_MEMFD,
	D_DEVZERO,
	D_SELF,   /* the sgdma file of the call */
	D_RANDOM, /* whatever a small number is now */
	NDCLASS
};
static const char *const dclass_name[NDCLASS] = {"dmabuf", "dup",       "closed", "negative",
                                                 "huge",   "pipe",      "file",   "O_PATH",
                                                 "memfd",  "/dev/zero", "self",   "random"};

enum sclass { S_GOOD, S_EDGE, S_GUARD, S_RO, S_NULL, S_KERNEL, S_NONCANON, S_SLOT };
static const char *const sclass_name[] = {"good", "edge",   "guard",    "ro",
                                          "null", "kernel", "noncanon", "slot"};

union args {
	struct sgdma_ioc_info info;
	struct sgdma_ioc_register reg;
	struct sgdma_ioc_get_segs gs;
	struct sgdma_ioc_sync sync;
	struct sgdma_ioc_unregister unreg;
	struct sgdma_ioc_register_dmabuf regd;
	uint8_t raw[128];
};

struct call {
	int cmd;
	unsigned long ioc;
	struct fdstate *fs;
	union args in, out;
	uint32_t usize;
	bool tail_nonzero;
	enum place place;
	uint8_t *p;
	size_t readable, writable, written;
	/* what the arguments mean */
	enum hclass hc;
	struct handle *h;
	bool inputs_valid; /* flags, reserved and input-only fields as documented */
	const char *bufwhat;
	bool unpinnable;
	bool live_memory; /* the fuzzer's own live data: the device may only read it */
	enum sclass sc;
	uint64_t n_expect; /* GET_SEGS on a live handle: entries to be written */
	enum dclass dc;    /* REGISTER_DMABUF */
	const struct dbuf *db;
	int tmpfd; /* D_DUP: closed after the call */
	/* outcome */
	uint64_t want;
	const char *why;
	uint64_t number;
	bool returned;
	long ret;
	int err;
};

static uint32_t ksize_of(const struct call *c)
{
	return cmdinfo[c->cmd].ksize;
}

static void describe(const struct thread *t, const struct call *c, char *buf, size_t size)
{
	const union args *a = &c->in;
	size_t n;

	n = snprintf(buf, size, "#%" PRIu64 " t%d%s %s ioc=0x%lx fd=%s%s arg=%s:%p size=%u%s",
	             c->number, t->id, t->in_child ? "(child)" : "", cmdinfo[c->cmd].name, c->ioc,
	             c->fs->name, c->fs->rdonly ? "(ro)" : "", place_name[c->place], (void *)c->p,
	             c->usize,
	             c->usize > ksize_of(c) ? (c->tail_nonzero ? "+tail!0" : "+tail0") : "");
	if (n >= size)
		return;
	switch (c->cmd) {
	case C_INFO:
	case C_BAD:
		n += snprintf(buf + n, size - n, " flags=0x%x reserved=0x%x", a->info.flags,
		              a->info.reserved);
		break;
	case C_REGISTER:
		n += snprintf(buf + n, size - n,
		              " flags=0x%x addr=0x%llx(%s) length=0x%llx handle=%u reserved=0x%x "
		              "nsegs=%llu region_flags=0x%x inline=%u@0x%llx(%s)",
		              a->reg.flags, (unsigned long long)a->reg.addr, c->bufwhat,
		              (unsigned long long)a->reg.length, a->reg.handle, a->reg.reserved,
		              (unsigned long long)a->reg.nsegs, a->reg.region_flags,
		              a->reg.inline_count, (unsigned long long)a->reg.inline_segs,
		              sclass_name[c->sc]);
		break;
	case C_REGISTER_DMABUF:
		n +=
		    snprintf(buf + n, size - n,
		             " flags=0x%x fd=%d(%s%s%s) offset=0x%llx length=0x%llx [dma-buf size "
		             "0x%llx] handle=%u reserved=0x%x reserved2=0x%x nsegs=%llu "
		             "region_flags=0x%x inline=%u@0x%llx(%s)",
		             a->regd.flags, a->regd.fd, dclass_name[c->dc], c->db ? " " : "",
		             c->db ? dbkind_name[c->db->kind] : "",
		             (unsigned long long)a->regd.offset, (unsigned long long)a->regd.length,
		             (unsigned long long)(c->db ? c->db->size : 0), a->regd.handle,
		             a->regd.reserved, a->regd.reserved2, (unsigned long long)a->regd.nsegs,
		             a->regd.region_flags, a->regd.inline_count,
		             (unsigned long long)a->regd.inline_segs, sclass_name[c->sc]);
		break;
	case C_GET_SEGS:
		n += snprintf(buf + n, size - n,
		              " flags=0x%x handle=%u(%s) reserved=0x%x first=%llu count=%llu "
		              "segs=0x%llx(%s)",
		              a->gs.flags, a->gs.handle, hclass_name[c->hc], a->gs.reserved,
		              (unsigned long long)a->gs.first, (unsigned long long)a->gs.count,
		              (unsigned long long)a->gs.segs, sclass_name[c->sc]);
		break;
	case C_SYNC:
		n += snprintf(buf + n, size - n,
		              " flags=0x%x handle=%u(%s) reserved=0x%x offset=0x%llx length=0x%llx",
		              a->sync.flags, a->sync.handle, hclass_name[c->hc], a->sync.reserved,
		              (unsigned long long)a->sync.offset,
		              (unsigned long long)a->sync.length);
		break;
	case C_UNREGISTER:
		n += snprintf(buf + n, size - n, " flags=0x%x handle=%u(%s) reserved=0x%x",
		              a->unreg.flags, a->unreg.handle, hclass_name[c->hc],
		              a->unreg.reserved);
		break;
	}
	if (c->h && n < size)
		n += snprintf(buf + n, size - n, " [%sregion len=0x%llx nsegs=%llu]",
		              c->h->dmabuf ? "dma-buf " : "", (unsigned long long)c->h->len,
		              (unsigned long long)c->h->nsegs);
	if (n < size)
		snprintf(buf + n, size - n, " -> %s",
		         !c->returned ? "still in the kernel"
		         : c->ret > 0 ? "positive"
		                      : errname(c->err));
}

static void fail(struct thread *t, const struct call *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define FAIL_RET(...)                                                                              \
	do {                                                                                       \
		fail(__VA_ARGS__);                                                                 \
		return;                                                                            \
	} while (0)
static void fail(struct thread *t, const struct call *c, const char *fmt, ...)
{
	char what[512], desc[1024] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c)
		describe(t, c, desc, sizeof(desc));
	atomic_store(&sh->failed, 1);
	atomic_store(&sh->stop, 1);
	say("sgdma-fuzz: FAIL at call %" PRIu64 " (seed %" PRIu64 ", thread %d of %d%s): %s\n"
	    "  call: %s\n"
	    "  replay: sgdma-fuzz --seed %" PRIu64 " --threads %d --calls %" PRIu64 " --trace\n",
	    c ? c->number : atomic_load(&sh->calls), opt.seed, t->id, opt.threads,
	    t->in_child ? ", in a forked child" : "", what, c ? desc : "-", opt.seed, opt.threads,
	    c ? c->number : atomic_load(&sh->calls));
	if (t->in_child)
		_exit(CHILD_FAIL);
}

/* Bytes accessible at the argument pointer, for the expectations. */
static void place_arg(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	uint8_t *A = t->arena, *Bp = A + page, *C = A + 2 * page;
	uint32_t ks = ksize_of(c);
	size_t total = c->usize > ks ? c->usize : ks;
	size_t need = total < 2 * page ? total : 2 * page;
	unsigned int x = below(r, 100);
	uint64_t off;

	if (x < 70)
		c->place = P_NORMAL;
	else if (x < 77)
		c->place = P_CROSS;
	else if (x < 84)
		c->place = P_EDGE;
	else if (x < 87)
		c->place = P_RO;
	else if (x < 90)
		c->place = P_RO_CROSS;
	else if (x < 92)
		c->place = P_GUARD;
	else if (x < 94)
		c->place = P_NULL;
	else if (x < 95)
		c->place = P_LOW;
	else if (x < 98)
		c->place = P_KERNEL;
	else
		c->place = P_NONCANON;

	switch (c->place) {
	case P_NORMAL:
		off = below(r, 2 * page - need + 1);
		if (!pct(r, 10))
			off &= ~7ULL;
		c->p = A + off;
		break;
	case P_CROSS:
		c->p = Bp - 1 - below(r, ks - 1);
		break;
	case P_EDGE:
		c->p = C - 1 - below(r, need + 8 < 2 * page ? need + 8 : 2 * page);
		break;
	case P_RO:
		off = below(r, page - (need < page ? need : page) + 1) & ~7ULL;
		c->p = Bp + off;
		break;
	case P_RO_CROSS:
		c->p = Bp - 1 - below(r, ks - 1);
		break;
	case P_GUARD:
		c->p = C + below(r, page);
		break;
	case P_NULL:
		c->p = NULL;
		break;
	case P_LOW:
		c->p = (uint8_t *)(uintptr_t)(0x10000 - 8 * (1 + below(r, 512)));
		break;
	case P_KERNEL:
		c->p = (uint8_t *)(uintptr_t)(kernel_addrs[below(r, sizeof(kernel_addrs) / 8)] +
		                              8 * below(r, 64));
		break;
	case P_NONCANON:
		c->p = (uint8_t *)(uintptr_t)(noncanon_addrs[below(r, sizeof(noncanon_addrs) / 8)] +
		                              8 * below(r, 64));
		break;
	}
	if (c->p >= A && c->p < C) {
		c->readable = C - c->p;
		if (c->place == P_RO)
			c->writable = 0;
		else if (c->place == P_RO_CROSS)
			c->writable = Bp - c->p;
		else
			c->writable = c->readable;
	} else {
		c->readable = c->writable = 0;
	}
}

/* Sizes around the struct's versions: the first one, this header's, between. */
static void gen_size(struct rng *r, struct call *c)
{
	uint32_t ks = ksize_of(c), first = cmdinfo[c->cmd].minsize;
	unsigned int x = below(r, 100);

	if (x < 66)
		c->usize = ks;
	else if (x < 70)
		c->usize = first + below(r, ks - first + 1);
	else if (x < 72)
		c->usize = first - 1;
	else if (x < 74)
		c->usize = 0;
	else if (x < 75)
		c->usize = 1;
	else if (x < 76)
		c->usize = 4;
	else if (x < 79)
		c->usize = 1 + below(r, ks - 1);
	else if (x < 81)
		c->usize = ks - 8;
	else if (x < 88)
		c->usize = ks + 8;
	else if (x < 91)
		c->usize = ks + 1 + below(r, 64);
	else if (x < 93)
		c->usize = page - below(r, 64);
	else if (x < 95)
		c->usize = 2 * page + below(r, page);
	else if (x < 98)
		c->usize = UINT32_MAX;
	else
		c->usize = (uint32_t)rnd(r);
	c->tail_nonzero = c->usize > ks && pct(r, 40);
}

static unsigned long gen_ioc(struct rng *r, int cmd)
{
	unsigned long ioc = cmdinfo[cmd].ioc;

	if (cmd == C_BAD) {
		static const unsigned int types[] = {SGDMA_IOCTL_TYPE, 0xD5, 0xD7, 0x42, 0xAA};
		unsigned int type = types[below(r, 5)];
		unsigned int nr = type == SGDMA_IOCTL_TYPE
		                      ? (SGDMA_CMD_REGISTER_DMABUF + 1 + below(r, 250)) & 0xff
		                  : pct(r, 50) ? SGDMA_CMD_BASE + below(r, 5)
		                               : below(r, 256);

		return _IOC(below(r, 4), type, nr, below(r, 1 << 14));
	}
	/* Only the type and number are sgdma's contract: any size and direction. */
	if (pct(r, 10))
		return _IOC(below(r, 4), SGDMA_IOCTL_TYPE, _IOC_NR(ioc), below(r, 1 << 14));
	return ioc;
}

static uint32_t gen_flags(struct rng *r, const uint32_t *valid, int nvalid)
{
	unsigned int x = below(r, 100);

	if (x < 86)
		return valid[below(r, nvalid)];
	if (x < 92)
		return 1U << below(r, 32);
	if (x < 96)
		return (uint32_t)rnd(r);
	return valid[below(r, nvalid)] | (4U << below(r, 30));
}

static uint32_t gen_reserved(struct rng *r)
{
	return pct(r, 94) ? 0 : (pct(r, 50) ? 1U << below(r, 32) : (uint32_t)rnd(r));
}

static bool handle_is_stale(const struct fdstate *fs, uint32_t h)
{
	unsigned int n = fs->nstale < NSTALE ? fs->nstale : NSTALE;

	for (unsigned int i = 0; i < n; i++)
		if (fs->stale[i] == h)
			return true;
	return false;
}

static struct handle *find_live(struct fdstate *fs, uint32_t h)
{
	for (int i = 0; i < fs->nlive; i++)
		if (fs->live[i].h == h)
			return &fs->live[i];
	return NULL;
}

/*
 * Without an IOMMU, regions of the same memory have equal bus addresses, and
 * DMA-API debugging cannot tell equal mappings apart: it reports a sync of
 * memory mapped twice as a sync of memory never mapped. There, SYNC gets
 * only handles that are not alive (the other commands are unaffected).
 */
static bool sync_only_dead_handles;

static void pick_handle(struct thread *t, struct call *c, uint32_t *out)
{
	struct rng *r = &t->rng;
	struct fdstate *fs = c->fs;
	unsigned int x = below(r, 100);

	c->h = NULL;
	if (c->cmd == C_SYNC && sync_only_dead_handles)
		x = 72 + below(r, 94 - 72); /* stale, 0 or never given out */
	if (x < 72 && fs->nlive) {
		c->h = &fs->live[below(r, fs->nlive)];
		c->hc = H_LIVE;
		*out = c->h->h;
	} else if (x < 84 && fs->nstale) {
		unsigned int n = fs->nstale < NSTALE ? fs->nstale : NSTALE;

		*out = fs->stale[below(r, n)];
		c->hc = H_STALE;
	} else if (x < 89) {
		*out = 0;
		c->hc = H_ZERO;
	} else if (x < 94 || (c->cmd == C_UNREGISTER && fs == &t->shr)) {
		/* Handles are given out from 1 upwards and never wrap here. */
		*out = UINT32_MAX - below(r, 16);
		c->hc = H_NEVER;
	} else {
		*out = 1 + below(r, 64);
		c->h = find_live(fs, *out);
		if (c->h)
			c->hc = H_LIVE;
		else if (fs == &t->priv || handle_is_stale(fs, *out))
			c->hc = H_STALE; /* only this thread registers on its file */
		else
			c->hc = H_OTHER; /* maybe another thread's region */
	}
}

static uint64_t gen_offset(struct rng *r, uint64_t size)
{
	unsigned int x = below(r, 100);

	if (x < 30)
		return 0;
	if (x < 55)
		return page * below(r, size / page);
	if (x < 75)
		return below(r, size);
	if (x < 85)
		return size - page;
	if (x < 92)
		return size - 1 - below(r, 64);
	return page * below(r, size / page) + page - 1 - below(r, 8);
}

static uint64_t gen_length(struct rng *r, uint64_t addr, uint64_t rest)
{
	unsigned int x = below(r, 100);

	if (x < 22)
		return 1 + below(r, 4 * page);
	if (x < 34) {
		const uint64_t v[] = {1, page - 1, page, page + 1, 2 * page - 1, 2 * page};
		return v[below(r, 6)];
	}
	if (x < 48)
		return 1 + below(r, 256 << 10);
	if (x < 56)
		return rest ? rest : page;
	if (x < 60)
		return rest + 1 + below(r, 2 * page);
	if (x < 64)
		return HUGE_2M;
	if (x < 69)
		return 0;
	if (x < 72) {
		const uint64_t v[] = {1ULL << 40, max_region_bytes, max_region_bytes + 1};
		return v[below(r, 3)];
	}
	if (x < 77) {
		const uint64_t v[] = {UINT64_MAX, -addr, -addr - 1, -addr - page, -addr - 2 * page};
		return v[below(r, 5)];
	}
	if (x < 80)
		return 1 + below(r, 64 << 10);
	return 1 + below(r, 16 << 10);
}

/*
 * A REGISTER buffer: address class, length, and whether its first page can
 * never be pinned. Unmapping a device-writable region through bounce
 * buffers copies the bounce buffer (as it was at registration) back over
 * the memory: such regions stay inside memory whose contents nothing here
 * relies on (the slots, and the stack and data buffers kept to their own
 * bytes); the argument's own page and the top of the stack are registered
 * for the device to read only.
 */
static void gen_buffer(struct thread *t, struct call *c, uint64_t *addr, uint64_t *len)
{
	struct rng *r = &t->rng;
	unsigned int x = below(r, 100);
	uint64_t off, rest = 0;

	c->unpinnable = false;
	c->live_memory = false;
	if (x < 72) {
		int i = below(r, NSLOT);

		off = gen_offset(r, SLOT_SIZE);
		*addr = (uintptr_t)slots[i].base + off;
		rest = SLOT_SIZE - off;
		c->bufwhat = "slot";
	} else if (x < 76 && vmio.base) {
		off = gen_offset(r, vmio.len);
		*addr = (uintptr_t)vmio.base + off;
		rest = vmio.len - off;
		c->bufwhat = "bar";
		c->unpinnable = true;
	} else if (x < 78) {
		off = below(r, 2 * page);
		*addr = (uintptr_t)t->stack + off;
		rest = 3 * page - off;
		c->bufwhat = "stack";
	} else if (x < 80) {
		*addr = ((uintptr_t)&gen_buffer & ~(uintptr_t)(page - 1)) + below(r, page);
		c->bufwhat = "text";
	} else if (x < 82) {
		off = below(r, sizeof(fuzz_data));
		*addr = (uintptr_t)fuzz_data + off;
		rest = sizeof(fuzz_data) - off;
		c->bufwhat = "data";
	} else if (x < 84) {
		off = below(r, 3 * page);
		*addr = (uintptr_t)t->arena + off;
		rest = 2 * page > off ? 2 * page - off : 0;
		c->bufwhat = "arena";
		c->unpinnable = off >= 2 * page; /* PROT_NONE page */
		c->live_memory = true;
	} else if (x < 85 && vdso_addr) {
		*addr = vdso_addr + below(r, page);
		c->bufwhat = "vdso";
	} else if (x < 86 && vvar_addr) {
		*addr = vvar_addr + below(r, page);
		c->bufwhat = "vvar";
		c->unpinnable = !vvar_pinnable;
	} else if (x < 88) {
		off = below(r, SLOT_GAP);
		*addr = (uintptr_t)slots[below(r, NSLOT)].base + SLOT_SIZE + off;
		rest = SLOT_GAP - off;
		c->bufwhat = "gap";
		c->unpinnable = true;
	} else if (x < 90) {
		*addr = pct(r, 50) ? 0 : below(r, 0x10000);
		rest = 0x10000 - *addr;
		c->bufwhat = "null";
		c->unpinnable = true; /* below mmap_min_addr */
	} else if (x < 94) {
		*addr = kernel_addrs[below(r, sizeof(kernel_addrs) / 8)] + below(r, 2 * page);
		c->bufwhat = "kernel";
	} else if (x < 96) {
		*addr = noncanon_addrs[below(r, sizeof(noncanon_addrs) / 8)] + page * below(r, 16);
		c->bufwhat = "noncanon";
	} else if (x < 98) {
		*addr = USER_TOP - page * below(r, 4) - below(r, page);
		c->bufwhat = "top";
		c->live_memory = true; /* the main thread's stack ends there */
	} else {
		*addr = UINT64_MAX - below(r, 4 * page);
		c->bufwhat = "wrap";
	}
	*len = gen_length(r, *addr, rest);
	if ((!strcmp(c->bufwhat, "stack") || !strcmp(c->bufwhat, "data")) && *len > rest &&
	    *len < (1ULL << 32))
		*len = rest; /* the live frames and variables next to the buffer */
}

static void gen_info(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	const uint32_t valid[] = {0};
	struct sgdma_ioc_info *a = &c->in.info;

	a->flags = gen_flags(r, valid, 1);
	a->reserved = gen_reserved(r);
	if (pct(r, 20)) { /* output fields: ignored on input */
		a->abi_version = rnd(r);
		a->numa_node = rnd(r);
		a->dma_mask = rnd(r);
		a->dev_flags = rnd(r);
		memset(a->name, 'x', sizeof(a->name));
	}
	c->inputs_valid = !a->flags && !a->reserved;
}

/* REGISTER's arguments are as documented (those the kernel reads of them). */
static bool reg_inputs_valid(const struct sgdma_ioc_register *a)
{
	return !(a->flags & ~REG_FLAGS) && (a->flags & SGDMA_REG_DIR_MASK) && !a->reserved &&
	       !a->handle && !a->nsegs && !a->region_flags && (a->inline_count || !a->inline_segs);
}

/* Where REGISTER is to put the first segments: mostly room for them, or none. */
static void gen_inline(struct thread *t, struct call *c, uint32_t *inline_count, __u64 *inline_segs)
{
	struct rng *r = &t->rng;
	size_t cap = (size_t)(t->segguard - t->segbuf) / sizeof(struct sgdma_ioc_seg);
	unsigned int x = below(r, 100);

	c->sc = S_GOOD;
	if (x < 40)
		return;
	if (x < 42) {
		*inline_segs = (uintptr_t)t->segbuf; /* without a count: EINVAL */
		return;
	}
	*inline_count = pct(r, 60) ? 1 + below(r, 4) : 1 + below(r, cap);
	if (x < 88) {
		*inline_segs = (uintptr_t)t->segbuf;
	} else if (x < 92) {
		c->sc = S_GUARD;
		*inline_segs = (uintptr_t)t->segguard + 8 * below(r, 16);
	} else if (x < 95) {
		c->sc = S_RO;
		*inline_segs = (uintptr_t)t->segro + 8 * below(r, 16);
	} else if (x < 97) {
		c->sc = S_NULL;
		*inline_segs = 8 * below(r, 512);
	} else {
		c->sc = S_KERNEL;
		*inline_segs = kernel_addrs[below(r, sizeof(kernel_addrs) / 8)];
	}
}

/* The flags REGISTER and REGISTER_DMABUF accept, as gen_flags() draws them. */
static const uint32_t reg_valid_flags[] = {
    SGDMA_REG_TO_DEVICE,
    SGDMA_REG_FROM_DEVICE,
    SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE,
    SGDMA_REG_TO_DEVICE | SGDMA_REG_REQUIRE_CONTIG,
    SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE | SGDMA_REG_REQUIRE_CONTIG,
};

static void gen_register(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	struct sgdma_ioc_register *a = &c->in.reg;
	uint64_t addr, len;

	a->flags = gen_flags(r, reg_valid_flags,
	                     (int)(sizeof(reg_valid_flags) / sizeof(reg_valid_flags[0])));
	gen_buffer(t, c, &addr, &len);
	if (c->live_memory && !(a->flags & ~REG_FLAGS) && (a->flags & SGDMA_REG_DIR_MASK))
		a->flags = SGDMA_REG_TO_DEVICE | (a->flags & SGDMA_REG_REQUIRE_CONTIG);
	a->addr = addr;
	a->length = len;
	a->handle = pct(r, 97) ? 0 : (uint32_t)rnd(r);
	a->reserved = gen_reserved(r);
	a->nsegs = pct(r, 97) ? 0 : rnd(r);
	a->region_flags = pct(r, 98) ? 0 : 1U << below(r, 32);
	gen_inline(t, c, &a->inline_count, &a->inline_segs);
	c->inputs_valid = reg_inputs_valid(a);
}

static bool regd_inputs_valid(const struct sgdma_ioc_register_dmabuf *a)
{
	return !(a->flags & ~REG_FLAGS) && (a->flags & SGDMA_REG_DIR_MASK) && !a->reserved &&
	       !a->reserved2 && !a->handle && !a->nsegs && !a->region_flags &&
	       (a->inline_count || !a->inline_segs);
}

/* A thread's dma-buf, open or closed; NULL when there are no exporters. */
static struct dbuf *pick_dbuf(struct thread *t)
{
	return nkinds ? &t->dbufs[below(&t->rng, NDBUF)] : NULL;
}

/*
 * REGISTER_DMABUF's descriptor. Most are the thread's dma-bufs; without an
 * exporter only the other classes are drawn.
 */
static void gen_dmabuf_fd(struct thread *t, struct call *c, int *fd)
{
	struct rng *r = &t->rng;
	unsigned int x = below(r, 100);
	struct dbuf *d = NULL;

	if (x < 60) {
		d = pick_dbuf(t);
		if (!d)
			x = 60 + below(r, 40);
	}
	if (x < 60) {
		if (d->fd < 0) {
			c->dc = D_CLOSED;
			*fd = d->num;
		} else if (x < 54) {
			c->dc = D_DMABUF;
			c->db = d;
			*fd = d->fd;
		} else {
			c->tmpfd = fcntl(d->fd, F_DUPFD_CLOEXEC, 3);
			if (c->tmpfd < 0)
				fail(t, c, "dup of a dma-buf: %s", strerror(errno));
			c->dc = D_DUP;
			c->db = d;
			*fd = c->tmpfd;
		}
	} else if (x < 64) {
		c->dc = D_CLOSED;
		*fd = t->dbuf_closed_num;
	} else if (x < 68) {
		const int v[] = {-1, -2, INT_MIN, -1 - (int)below(r, 4096)};
		c->dc = D_NEG;
		*fd = v[below(r, 4)];
	} else if (x < 71) {
		const int v[] = {INT_MAX, 1 << 20, 65536 + (int)below(r, 4096)};
		c->dc = D_HUGE;
		*fd = v[below(r, 3)];
	} else if (x < 75) {
		c->dc = D_PIPE;
		*fd = pipefd[below(r, 2)];
	} else if (x < 79) {
		c->dc = D_FILE;
		*fd = filefd;
	} else if (x < 81) {
		c->dc = D_OPATH;
		*fd = opathfd;
	} else if (x < 85) {
		/* The memfd under a udmabuf is not the dma-buf. */
		d = pick_dbuf(t);
		c->dc = D_MEMFD;
		*fd = d && d->memfd >= 0 ? d->memfd : slots[below(r, NSLOT)].memfd;
	} else if (x < 88) {
		c->dc = D_DEVZERO;
		*fd = zerofd;
	} else if (x < 93) {
		c->dc = D_SELF;
		*fd = c->fs->fd;
	} else {
		c->dc = D_RANDOM;
		*fd = below(r, 64);
	}
}

static void gen_register_dmabuf(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	struct sgdma_ioc_register_dmabuf *a = &c->in.regd;
	uint64_t S, off, len, rest;
	unsigned int x;

	a->flags = gen_flags(r, reg_valid_flags,
	                     (int)(sizeof(reg_valid_flags) / sizeof(reg_valid_flags[0])));
	gen_dmabuf_fd(t, c, &a->fd);
	/* Sizes of the dma-buf or, for anything else, of what one might be. */
	S = c->db ? c->db->size : page * (1 + below(r, 16));
	x = below(r, 100);
	if (x < 40)
		off = 0;
	else if (x < 55)
		off = page * below(r, S / page);
	else if (x < 67)
		off = below(r, S);
	else if (x < 72)
		off = S - 1;
	else if (x < 77)
		off = S;
	else if (x < 80)
		off = S + 1 + below(r, page);
	else if (x < 84)
		off = S - page;
	else if (x < 88)
		off = page * below(r, S / page) + page - 1 - below(r, 8); /* misaligned */
	else if (x < 92)
		off = UINT64_MAX - below(r, page);
	else if (x < 95)
		off = 1ULL << 63;
	else
		off = rnd(r);
	rest = off < S ? S - off : 0;
	x = below(r, 100);
	if (x < 35)
		len = rest ? rest : 1;
	else if (x < 50)
		len = 1 + below(r, rest ? rest : page);
	else if (x < 56)
		len = 1;
	else if (x < 61)
		len = rest + 1;
	else if (x < 66)
		len = 0;
	else if (x < 71) {
		const uint64_t v[] = {page - 1, page, page + 1};
		len = v[below(r, 3)];
	} else if (x < 75)
		len = S;
	else if (x < 78)
		len = UINT64_MAX;
	else if (x < 81)
		len = -off; /* offset + length wraps to 0 */
	else if (x < 84)
		len = pct(r, 50) ? max_region_bytes + 1 : max_region_bytes;
	else
		len = 1 + below(r, S);
	a->offset = off;
	a->length = len;
	a->handle = pct(r, 97) ? 0 : (uint32_t)rnd(r);
	a->reserved = gen_reserved(r);
	a->reserved2 = gen_reserved(r);
	a->nsegs = pct(r, 97) ? 0 : rnd(r);
	a->region_flags = pct(r, 98) ? 0 : 1U << below(r, 32);
	gen_inline(t, c, &a->inline_count, &a->inline_segs);
	c->inputs_valid = regd_inputs_valid(a);
}

static void gen_segs_ptr(struct thread *t, struct call *c, uint64_t *segs)
{
	struct rng *r = &t->rng;
	unsigned int x = below(r, 100);
	size_t cap = (size_t)(t->segguard - t->segbuf);

	if (x < 76) {
		c->sc = S_GOOD;
		*segs = (uintptr_t)t->segbuf + 24 * below(r, 4) + (pct(r, 5) ? 1 + below(r, 7) : 0);
	} else if (x < 84) {
		/* Relative to the entries expected: fits exactly, or a few bytes or an entry short.
		 */
		uint64_t need = c->n_expect * sizeof(struct sgdma_ioc_seg);
		unsigned int k = below(r, 3);

		c->sc = S_EDGE;
		if (need && need <= cap / 2)
			*segs = (uintptr_t)t->segguard - need +
			        (k == 0   ? 0
			         : k == 1 ? 1 + below(r, 23)
			                  : 24);
		else
			*segs = (uintptr_t)t->segguard - 24 * below(r, 4) - below(r, 24);
	} else if (x < 86) {
		c->sc = S_GUARD;
		*segs = (uintptr_t)t->segguard + 8 * below(r, 16);
	} else if (x < 89) {
		c->sc = S_RO;
		*segs = (uintptr_t)t->segro + 8 * below(r, 16);
	} else if (x < 91) {
		c->sc = S_NULL;
		*segs = pct(r, 50) ? 0 : 8 * below(r, 512);
	} else if (x < 94) {
		c->sc = S_KERNEL;
		*segs = kernel_addrs[below(r, sizeof(kernel_addrs) / 8)];
	} else if (x < 95) {
		c->sc = S_NONCANON;
		*segs = noncanon_addrs[below(r, sizeof(noncanon_addrs) / 8)];
	} else {
		c->sc = S_SLOT;
		*segs = (uintptr_t)slots[below(r, NSLOT)].base + gen_offset(r, SLOT_SIZE / 2);
	}
}

static void gen_get_segs(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	const uint32_t valid[] = {0};
	struct sgdma_ioc_get_segs *a = &c->in.gs;
	uint64_t ns, first, count, segs;
	unsigned int x;

	a->flags = gen_flags(r, valid, 1);
	pick_handle(t, c, &a->handle);
	a->reserved = gen_reserved(r);
	ns = c->h ? c->h->nsegs : 1 + below(r, 8);
	x = below(r, 100);
	if (x < 55)
		first = 0;
	else if (x < 70)
		first = below(r, ns);
	else if (x < 78)
		first = ns - 1;
	else if (x < 84)
		first = ns;
	else if (x < 88)
		first = ns + 1 + below(r, 4);
	else if (x < 92)
		first = 1ULL << 32;
	else if (x < 95)
		first = UINT64_MAX;
	else
		first = rnd(r);
	x = below(r, 100);
	if (x < 45)
		count = ns;
	else if (x < 60)
		count = 1 + below(r, ns + 2);
	else if (x < 68)
		count = 1;
	else if (x < 74)
		count = 15 + below(r, 3); /* around the kernel's copy chunk */
	else if (x < 80)
		count = 0;
	else if (x < 85)
		count = 1ULL << 32;
	else if (x < 90)
		count = UINT64_MAX;
	else if (x < 95)
		count = first < ns ? ns - first + 1 : 1;
	else
		count = rnd(r);
	if (c->h && first < ns && count)
		c->n_expect = count < ns - first ? count : ns - first;
	gen_segs_ptr(t, c, &segs);
	a->first = first;
	a->count = count;
	a->segs = segs;
	c->inputs_valid = !a->flags && !a->reserved;
}

static void gen_sync(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	const uint32_t valid[] = {SGDMA_SYNC_FOR_CPU, SGDMA_SYNC_FOR_DEVICE};
	struct sgdma_ioc_sync *a = &c->in.sync;
	uint64_t L, off, len;
	unsigned int x;

	a->flags = gen_flags(r, valid, 2);
	pick_handle(t, c, &a->handle);
	a->reserved = gen_reserved(r);
	L = c->h ? c->h->len : 1 + below(r, 64 << 10);
	x = below(r, 100);
	if (x < 50)
		off = 0;
	else if (x < 62)
		off = below(r, L);
	else if (x < 68)
		off = L - 1;
	else if (x < 73)
		off = L;
	else if (x < 76)
		off = L + 1;
	else if (x < 80)
		off = page * below(r, L / page + 1);
	else if (x < 83)
		off = UINT64_MAX;
	else if (x < 86)
		off = 1ULL << 63;
	else
		off = below(r, L);
	x = below(r, 100);
	if (x < 35)
		len = off < L ? L - off : 1;
	else if (x < 50)
		len = 1 + below(r, L);
	else if (x < 58)
		len = 1;
	else if (x < 64)
		len = off < L ? L - off + 1 : 2;
	else if (x < 70)
		len = 0;
	else if (x < 74)
		len = UINT64_MAX;
	else if (x < 78)
		len = -off; /* offset + length wraps to 0 */
	else if (x < 82)
		len = page;
	else
		len = 1 + below(r, off < L ? L - off : 1);
	a->offset = off;
	a->length = len;
	c->inputs_valid =
	    (a->flags == SGDMA_SYNC_FOR_CPU || a->flags == SGDMA_SYNC_FOR_DEVICE) && !a->reserved;
}

static void gen_unregister(struct thread *t, struct call *c)
{
	struct rng *r = &t->rng;
	const uint32_t valid[] = {0};
	struct sgdma_ioc_unregister *a = &c->in.unreg;

	a->flags = gen_flags(r, valid, 1);
	pick_handle(t, c, &a->handle);
	a->reserved = gen_reserved(r);
	c->inputs_valid = !a->flags && !a->reserved;
}

/*
 * REGISTER_DMABUF's documented answer once its arguments are valid: every
 * error whose condition holds is acceptable (the order of the checks is
 * not documented), success and the mapping's own errors when none holds.
 */
static uint64_t expect_register_dmabuf(struct call *c, bool reply_ok)
{
	const struct sgdma_ioc_register_dmabuf *a = &c->in.regd;
	uint64_t errs = 0, want = B(ENOSPC), end;
	bool unknown = false;

	if (!(base_info.features & SGDMA_FEAT_DMABUF)) {
		c->why = "no dma-buf support";
		return want | B(E_NOTSUPP);
	}
	if (!a->length)
		errs |= B(EINVAL);
	if (a->length > max_region_bytes)
		errs |= B(E2BIG);
	switch (c->dc) {
	case D_DMABUF:
	case D_DUP:
		if (__builtin_add_overflow(a->offset, a->length, &end) || end > c->db->size)
			errs |= B(EINVAL);
		if (c->db->kind == DB_HEAP_RO && (a->flags & SGDMA_REG_FROM_DEVICE))
			errs |= B(EACCES);
		break;
	case D_CLOSED:
	case D_NEG:
	case D_HUGE:
		errs |= B(EBADF);
		break;
	case D_OPATH:
		errs |= B(EBADF) | B(EINVAL); /* fget() does not see O_PATH files */
		break;
	case D_RANDOM:
		unknown = true;
		errs |= B(EBADF) | B(EINVAL) | B(EACCES);
		break;
	default:
		errs |= B(EINVAL);
	}
	if (errs && !unknown) {
		c->why = "not a dma-buf, or a bad range, length or access";
		return want | errs;
	}
	want |= errs | B(0) | B(ENOMEM) | B(EIO) | B(EBUSY);
	c->why = unknown ? "whatever the descriptor is" : "may map";
	if (a->flags & SGDMA_REG_REQUIRE_CONTIG)
		want |= B(E2BIG), c->why = "may map, may not be contiguous";
	if (a->inline_count && c->sc != S_GOOD)
		want = (want & ~B(0)) | B(EFAULT), c->why = "inline segments not writable";
	if (!reply_ok)
		want = (want & ~B(0)) | B(EFAULT), c->why = "reply not writable";
	return want;
}

/* The documented answer: a set of acceptable results. */
static void expect(struct thread *t, struct call *c)
{
	uint32_t ks = ksize_of(c);
	uint64_t extra = 0, want;
	bool reply_ok;

	if (c->cmd == C_BAD) {
		c->want = B(ENOTTY), c->why = "not an sgdma ioctl";
		return;
	}
	if (c->readable < 4) {
		c->want = B(EFAULT), c->why = "size field unreadable";
		return;
	}
	if (c->usize < cmdinfo[c->cmd].minsize) {
		c->want = B(EINVAL), c->why = "size below the first version";
		return;
	}
	if (c->usize > ks) {
		if (c->readable < c->usize) {
			/* The tail check reads word by word: a non-zero word may come first. */
			c->want = B(EFAULT) | B(E2BIG), c->why = "tail runs into unreadable memory";
			return;
		}
		if (c->tail_nonzero) {
			c->want = B(E2BIG), c->why = "non-zero tail";
			return;
		}
		if (c->usize > page)
			extra = B(E2BIG); /* a kernel may cap how much tail it scans */
	} else if (c->readable < c->usize) {
		c->want = B(EFAULT), c->why = "struct unreadable";
		return;
	}
	/* An older caller's struct: the kernel takes the rest as zeroes. */
	if (c->cmd == C_REGISTER) {
		struct sgdma_ioc_register eff = {0};

		memcpy(&eff, &c->in.reg, c->usize < ks ? c->usize : ks);
		c->inputs_valid = reg_inputs_valid(&eff);
	}
	if (c->cmd != C_INFO) {
		if (c->fs->rdonly) {
			c->want = B(EBADF) | extra, c->why = "file opened read-only";
			return;
		}
		if (t->in_child) {
			c->want = B(EPERM) | extra, c->why = "caller is not the opener's mm";
			return;
		}
	}
	reply_ok = c->writable >= (c->usize < ks ? c->usize : ks);
	if (!c->inputs_valid) {
		c->want = B(EINVAL) | extra, c->why = "bad flags or reserved fields";
		return;
	}
	switch (c->cmd) {
	case C_INFO:
		want = reply_ok ? B(0) : B(EFAULT);
		c->why = reply_ok ? "valid" : "reply not writable";
		break;
	case C_REGISTER: {
		const struct sgdma_ioc_register *a = &c->in.reg;
		uint64_t end;
		bool ovf = __builtin_add_overflow(a->addr, a->length, &end);

		want = B(ENOSPC);
		if (!a->length || ovf || end > UINT64_MAX - page) {
			want |= B(EINVAL), c->why = "length 0 or range wraps";
		} else if (a->length > max_region_bytes) {
			want |= B(E2BIG), c->why = "longer than max_region_bytes";
		} else if (end > USER_TOP) {
			want |= B(EFAULT) | B(ENOMEM), c->why = "not a user range";
		} else if (c->unpinnable) {
			want |= B(EFAULT) | B(ENOMEM), c->why = "first page cannot be pinned";
		} else {
			bool inline_segs =
			    c->usize >= FIRST_SIZE(struct sgdma_ioc_register, inline_segs) &&
			    a->inline_count;

			want |= B(0) | B(ENOMEM) | B(EFAULT) | B(EIO) | B(EBUSY);
			c->why = "may pin";
			if (a->flags & SGDMA_REG_REQUIRE_CONTIG)
				want |= B(E2BIG), c->why = "may pin, may not be contiguous";
			if (inline_segs && c->sc != S_GOOD)
				want &= ~B(0), c->why = "inline segments not writable";
			if (!reply_ok)
				want = (want & ~B(0)) | B(EFAULT), c->why = "reply not writable";
		}
		break;
	}
	case C_REGISTER_DMABUF:
		want = expect_register_dmabuf(c, reply_ok);
		break;
	case C_GET_SEGS: {
		const struct sgdma_ioc_get_segs *a = &c->in.gs;

		if (c->hc == H_OTHER) {
			want = B(ENOENT) | B(EINVAL) | B(EFAULT) | (reply_ok ? B(0) : 0);
			c->why = "handle may be another thread's";
		} else if (c->hc != H_LIVE) {
			want = B(ENOENT), c->why = "no such region";
		} else if (a->first >= c->h->nsegs || !a->count) {
			want = B(EINVAL), c->why = "first >= nsegs or count 0";
		} else {
			uint64_t bytes = c->n_expect * sizeof(struct sgdma_ioc_seg);
			uintptr_t s = a->segs, room = 0;

			if (c->sc == S_GOOD || c->sc == S_EDGE)
				room = (uintptr_t)t->segguard - s;
			if (c->sc == S_SLOT) {
				want = B(0) | B(EFAULT), c->why = "segs in a mutating buffer";
			} else if (room >= bytes) {
				want = B(0), c->why = "valid";
			} else {
				want = B(EFAULT), c->why = "segs not writable";
			}
			if ((want & B(0)) && !reply_ok)
				want = (want & ~B(0)) | B(EFAULT), c->why = "reply not writable";
		}
		break;
	}
	case C_SYNC: {
		const struct sgdma_ioc_sync *a = &c->in.sync;

		if (c->hc == H_OTHER) {
			want = B(ENOENT) | B(EINVAL) | B(0),
			c->why = "handle may be another thread's";
		} else if (c->hc != H_LIVE) {
			want = B(ENOENT), c->why = "no such region";
		} else {
			uint64_t end;
			bool ok = a->length &&
			          !__builtin_add_overflow(a->offset, a->length, &end) &&
			          end <= c->h->len;

			want = ok ? B(0) : B(EINVAL);
			c->why = ok ? "valid" : "range outside the region";
		}
		break;
	}
	case C_UNREGISTER:
		if (c->hc == H_LIVE)
			want = B(0), c->why = "valid";
		else
			want = B(ENOENT), c->why = "no such region";
		break;
	default:
		want = 0;
	}
	c->want = want | extra;
}

/* Canary bytes around the argument: refilled where the last call wrote. */
static void arena_reset(struct thread *t)
{
	if (t->dirty_hi > t->dirty_lo)
		memset(t->dirty_lo, CANARY, t->dirty_hi - t->dirty_lo);
	t->dirty_lo = t->dirty_hi = NULL;
}

static bool in_arena(const struct thread *t, const uint8_t *p)
{
	return p >= t->arena && p < t->arena + 2 * page;
}

static void write_arg(struct thread *t, struct call *c)
{
	uint32_t ks = ksize_of(c);
	size_t total = c->usize > ks ? c->usize : ks;
	size_t n = total < c->readable ? total : c->readable;

	c->in.info.size = c->usize; /* every struct starts with size */
	c->written = 0;
	if (!in_arena(t, c->p))
		return;
	memcpy(t->wrote, c->in.raw, n < ks ? n : ks);
	if (n > ks)
		memset(t->wrote + ks, 0, n - ks);
	if (c->tail_nonzero) {
		size_t end = c->usize < n ? c->usize : n;
		size_t tail = end > ks ? end - ks : 0;

		if (tail > 0)
			t->wrote[ks + below(&t->rng, tail)] = 1 + below(&t->rng, 255);
		else
			c->tail_nonzero = false; /* nothing of it is readable */
	}
	memcpy(c->p, t->wrote, n);
	c->written = n;
	t->dirty_lo = c->p;
	t->dirty_hi = c->p + n;
}

static void seg_reset(struct thread *t)
{
	if (t->sdirty_hi > t->sdirty_lo)
		memset(t->sdirty_lo, SEGCANARY, t->sdirty_hi - t->sdirty_lo);
	t->sdirty_lo = t->sdirty_hi = NULL;
}

static void check_memory(struct thread *t, struct call *c)
{
	uint8_t *lo, *hi, *A = t->arena, *C = t->arena + 2 * page;
	uint32_t ks = ksize_of(c);
	size_t kw = c->usize < ks ? c->usize : ks; /* what a reply may cover */

	if (!in_arena(t, c->p))
		return;
	lo = c->p - A > 64 ? c->p - 64 : A;
	hi = C - (c->p + c->written) > 128 ? c->p + c->written + 128 : C;
	for (uint8_t *q = lo; q < hi; q++) {
		if (q >= c->p && q < c->p + c->written)
			continue;
		if (*q != CANARY) {
			fail(t, c, "kernel wrote byte %td of the argument (size %u)", q - c->p,
			     c->usize);
			return;
		}
	}
	if (c->written > kw && memcmp(c->p + kw, t->wrote + kw, c->written - kw)) {
		fail(t, c, "kernel wrote past the caller's size %u or the kernel struct", c->usize);
		return;
	}
	if (c->err && c->err != EFAULT) {
		size_t cmp = c->written < kw ? c->written : kw;
		bool reg = c->cmd == C_REGISTER || c->cmd == C_REGISTER_DMABUF;
		size_t at = c->cmd == C_REGISTER
		                ? offsetof(struct sgdma_ioc_register, nsegs)
		                : offsetof(struct sgdma_ioc_register_dmabuf, nsegs);
		uint32_t flags = c->cmd == C_REGISTER ? c->in.reg.flags : c->in.regd.flags;
		uint8_t got[sizeof(c->in.raw)];

		/* A registration that is not contiguous says how many segments it has. */
		memcpy(got, c->p, cmp);
		if (reg && c->err == E2BIG && cmp >= at + 8) {
			uint64_t nsegs, sent;

			memcpy(&nsegs, got + at, 8);
			memcpy(&sent, t->wrote + at, 8);
			if (nsegs != sent &&
			    (sent || nsegs < 2 || !(flags & SGDMA_REG_REQUIRE_CONTIG))) {
				fail(t, c, "E2BIG with nsegs %llu", (unsigned long long)nsegs);
				return;
			}
			memcpy(got + at, &sent, 8);
		}
		if (memcmp(got, t->wrote, cmp)) {
			fail(t, c, "a call failing with %s changed the struct", errname(c->err));
			return;
		}
	}
	memset(c->out.raw, 0, sizeof(c->out.raw));
	memcpy(c->out.raw, c->p, c->written < ks ? c->written : ks);
}

static void forget(struct fdstate *fs, int idx)
{
	fs->stale[fs->nstale++ % NSTALE] = fs->live[idx].h;
	fs->live_bytes -= fs->live[idx].cost;
	fs->live[idx] = fs->live[--fs->nlive];
}

static bool seg_ok(const struct sgdma_ioc_seg *s, uint64_t *why)
{
	uint64_t last = s->addr + s->len - 1;

	*why = 0;
	if (!s->len)
		return *why = 1, false;
	if (s->len > base_info.max_segment)
		return *why = 2, false;
	if (last < s->addr || last > base_info.dma_mask)
		return *why = 3, false;
	if ((s->addr ^ last) & ~base_info.seg_boundary)
		return *why = 4, false;
	return true;
}

static const char *const seg_why[] = {"", "empty segment", "longer than max_segment",
                                      "beyond the DMA mask", "crosses the segment boundary"};

static void run_call(struct thread *t, struct call *c);

/* GET_SEGS of a region this thread just registered, read in full. */
static bool read_all_segs(struct thread *t, struct fdstate *fs, struct handle *h)
{
	size_t cap = (t->segguard - t->segbuf) / sizeof(struct sgdma_ioc_seg);
	uint64_t total = 0;

	for (uint64_t first = 0; first < h->nsegs;) {
		struct call c = {.cmd = C_GET_SEGS, .ioc = SGDMA_IOC_GET_SEGS, .fs = fs};
		struct sgdma_ioc_seg *segs = (struct sgdma_ioc_seg *)t->segbuf;
		uint64_t n;

		c.in.gs.handle = h->h;
		c.in.gs.first = first;
		c.in.gs.count = h->nsegs - first < cap ? h->nsegs - first : cap;
		c.in.gs.segs = (uintptr_t)segs;
		c.usize = sizeof(struct sgdma_ioc_get_segs);
		c.place = P_NORMAL;
		c.p = t->arena + 8 * below(&t->rng, 64);
		c.readable = c.writable = t->arena + 2 * page - c.p;
		c.hc = H_LIVE;
		c.h = h;
		c.inputs_valid = true;
		c.sc = S_GOOD;
		c.n_expect = c.in.gs.count;
		run_call(t, &c);
		if (c.err)
			return false;
		n = c.out.gs.count;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t why;

			if (segs[i].offset != total) {
				fail(t, &c,
				     "segment %" PRIu64 " at offset 0x%llx, expected 0x%" PRIx64
				     ": segments do not tile the buffer",
				     first + i, (unsigned long long)segs[i].offset, total);
				return false;
			}
			if (!seg_ok(&segs[i], &why)) {
				fail(t, &c, "segment %" PRIu64 " {0x%llx, 0x%llx}: %s", first + i,
				     (unsigned long long)segs[i].addr,
				     (unsigned long long)segs[i].len, seg_why[why]);
				return false;
			}
			if (first + i < NSTORE)
				h->segs[first + i] = segs[i];
			total += segs[i].len;
		}
		first += n;
	}
	h->nstored = h->nsegs < NSTORE ? h->nsegs : NSTORE;
	if (total != h->len) {
		fail(t, NULL, "region %u: segments cover 0x%" PRIx64 " bytes of 0x%" PRIx64, h->h,
		     total, h->len);
		return false;
	}
	atomic_fetch_add(&sh->tiled, 1);
	return true;
}

static void unregister_now(struct thread *t, struct fdstate *fs, int idx)
{
	struct call c = {.cmd = C_UNREGISTER, .ioc = SGDMA_IOC_UNREGISTER, .fs = fs};

	c.in.unreg.handle = fs->live[idx].h;
	c.usize = sizeof(struct sgdma_ioc_unregister);
	c.place = P_NORMAL;
	c.p = t->arena + 8 * below(&t->rng, 64);
	c.readable = c.writable = t->arena + 2 * page - c.p;
	c.hc = H_LIVE;
	c.h = &fs->live[idx];
	c.inputs_valid = true;
	run_call(t, &c);
}

/* REGISTER's and REGISTER_DMABUF's replies, in the fields they share. */
static void after_register(struct thread *t, struct call *c)
{
	const char *name = cmdinfo[c->cmd].name;
	bool dmabuf = c->cmd == C_REGISTER_DMABUF;
	const struct sgdma_ioc_register *in = &c->in.reg, *out = &c->out.reg;
	const struct sgdma_ioc_register_dmabuf *din = &c->in.regd, *dout = &c->out.regd;
	bool v2 = dmabuf || c->usize >= FIRST_SIZE(struct sgdma_ioc_register, inline_segs);
	uint32_t flags = dmabuf ? din->flags : in->flags;
	uint32_t handle = dmabuf ? dout->handle : out->handle;
	uint32_t region_flags = dmabuf ? dout->region_flags : out->region_flags;
	uint64_t length = dmabuf ? din->length : in->length;
	uint64_t nsegs = dmabuf ? dout->nsegs : out->nsegs;
	uint32_t icount_in = dmabuf ? din->inline_count : in->inline_count;
	uint32_t icount_out = dmabuf ? dout->inline_count : out->inline_count;
	uint64_t isegs_in = dmabuf ? din->inline_segs : in->inline_segs;
	uint64_t isegs_out = dmabuf ? dout->inline_segs : out->inline_segs;
	struct sgdma_ioc_seg inl[NSTORE];
	uint64_t n_inline = 0;
	struct fdstate *fs = c->fs;
	struct handle *h;

	if (dmabuf ? dout->size != din->size || dout->flags != din->flags || dout->fd != din->fd ||
	                 dout->reserved != din->reserved || dout->offset != din->offset ||
	                 dout->length != din->length || dout->reserved2 != din->reserved2
	           : out->size != in->size || out->flags != in->flags || out->addr != in->addr ||
	                 out->length != in->length || out->reserved != in->reserved)
		FAIL_RET(t, c, "%s changed its input fields", name);
	if (!handle || find_live(fs, handle) || handle_is_stale(fs, handle))
		FAIL_RET(t, c, "%s returned handle %u, which is 0 or was given out before", name,
		         handle);
	if (!nsegs || nsegs > length)
		FAIL_RET(t, c, "%s returned nsegs %llu for %llu bytes", name,
		         (unsigned long long)nsegs, (unsigned long long)length);
	if ((flags & SGDMA_REG_REQUIRE_CONTIG) && nsegs != 1)
		FAIL_RET(t, c, "%s with REQUIRE_CONTIG returned %llu segments", name,
		         (unsigned long long)nsegs);
	if (v2) {
		if ((region_flags & ~REGION_FLAGS) ||
		    !(region_flags & SGDMA_REGION_CONTIGUOUS) != (nsegs > 1))
			FAIL_RET(t, c, "%s returned region flags 0x%x for %llu segments", name,
			         region_flags, (unsigned long long)nsegs);
		n_inline = icount_in < nsegs ? icount_in : nsegs;
		if (icount_out != n_inline || isegs_out != isegs_in)
			FAIL_RET(t, c, "%s wrote %u segments inline, expected %llu", name,
			         icount_out, (unsigned long long)n_inline);
		/* Kept before read_all_segs() reuses the buffer; nothing past them. */
		memcpy(inl, t->segbuf, (n_inline < NSTORE ? n_inline : NSTORE) * sizeof(inl[0]));
		for (const uint8_t *q = t->segbuf + n_inline * sizeof(inl[0]);
		     n_inline && q < t->segbuf + (n_inline + 2) * sizeof(inl[0]) && q < t->segguard;
		     q++)
			if (*q != SEGCANARY)
				FAIL_RET(t, c, "%s wrote past inline entry %llu", name,
				         (unsigned long long)n_inline);
	}
	if (fs->nlive == MAXLIVE) {
		/* Make room: every region this file holds stays tracked. */
		unregister_now(t, fs, below(&t->rng, MAXLIVE));
		if (fs->nlive == MAXLIVE)
			return;
	}
	h = &fs->live[fs->nlive++];
	memset(h, 0, sizeof(*h));
	h->h = handle;
	h->dmabuf = dmabuf;
	h->len = length;
	/* The exporter maps the whole dma-buf for each region (swiotlb space). */
	h->cost = dmabuf && c->db ? c->db->size : length;
	h->nsegs = nsegs;
	fs->live_bytes += h->cost;
	if (dmabuf)
		atomic_fetch_add(&sh->dbuf_regions, 1);
	if (!read_all_segs(t, fs, h))
		return;
	for (uint64_t i = 0; i < n_inline && i < h->nstored; i++)
		if (memcmp(&inl[i], &h->segs[i], sizeof(inl[i])))
			FAIL_RET(t, c, "inline segment %llu differs from GET_SEGS's",
			         (unsigned long long)i);
}

static void after_get_segs(struct thread *t, struct call *c)
{
	const struct sgdma_ioc_get_segs *in = &c->in.gs, *out = &c->out.gs;
	const uint8_t *base = (const uint8_t *)(uintptr_t)in->segs; /* may be misaligned */
	const size_t esz = sizeof(struct sgdma_ioc_seg);
	struct sgdma_ioc_seg s, next;
	uint64_t n = out->count;

	if (out->size != in->size || out->flags != in->flags || out->handle != in->handle ||
	    out->reserved != in->reserved || out->first != in->first || out->segs != in->segs)
		FAIL_RET(t, c, "GET_SEGS changed its input fields");
	if (c->hc == H_LIVE && n != c->n_expect)
		FAIL_RET(t, c, "GET_SEGS wrote %llu entries, expected %llu", (unsigned long long)n,
		         (unsigned long long)c->n_expect);
	if (c->hc != H_LIVE && (!n || n > in->count))
		FAIL_RET(t, c, "GET_SEGS returned count %llu", (unsigned long long)n);
	if (c->sc != S_GOOD && c->sc != S_EDGE)
		return;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t idx = in->first + i, why;

		memcpy(&s, base + i * esz, esz);
		if (!seg_ok(&s, &why))
			FAIL_RET(t, c, "segment %" PRIu64 ": %s", idx, seg_why[why]);
		if (i + 1 < n) {
			memcpy(&next, base + (i + 1) * esz, esz);
			if (s.offset + s.len != next.offset)
				FAIL_RET(t, c,
				         "segments %" PRIu64 " and %" PRIu64 " are not contiguous",
				         idx, idx + 1);
		}
		if (c->hc != H_LIVE)
			continue;
		if (idx < c->h->nstored && memcmp(&s, &c->h->segs[idx], esz))
			FAIL_RET(t, c, "segment %" PRIu64 " differs from what REGISTER gave", idx);
		if (idx == 0 && s.offset)
			FAIL_RET(t, c, "segment 0 at offset %llu", (unsigned long long)s.offset);
		if (idx + 1 == c->h->nsegs && s.offset + s.len != c->h->len)
			FAIL_RET(t, c, "last segment ends at %llu, region is %llu bytes",
			         (unsigned long long)(s.offset + s.len),
			         (unsigned long long)c->h->len);
	}
	/* Nothing past the n entries. */
	for (const uint8_t *q = base + n * esz; q < base + (n + 2) * esz && q < t->segguard; q++)
		if (*q != SEGCANARY)
			FAIL_RET(t, c, "GET_SEGS wrote past entry %llu", (unsigned long long)n);
	atomic_fetch_add(&sh->segs_checked, n);
}

static void after_info(struct thread *t, struct call *c)
{
	const struct sgdma_ioc_info *o = &c->out.info;

	if (o->size != c->usize || o->flags || o->reserved)
		FAIL_RET(t, c, "INFO changed size, flags or reserved");
	if (o->abi_version != SGDMA_ABI_VERSION || o->numa_node != base_info.numa_node ||
	    o->dma_mask != base_info.dma_mask || o->max_segment != base_info.max_segment ||
	    o->seg_boundary != base_info.seg_boundary || o->dev_flags != base_info.dev_flags ||
	    memcmp(o->name, base_info.name, sizeof(o->name)))
		FAIL_RET(t, c, "INFO reports another device than at the start");
}

/*
 * --kmsg: a kernel report (what tests/vm/sgvm fails a VM for) right after
 * a call fails that call, so the seed and call number replay it. With
 * several threads the call is only the one that noticed first.
 */
static void check_kmsg(struct thread *t, const struct call *c)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char last[3][256];
	static unsigned int nlast;
	static const char *const trouble[] = {
	    "Oops",    "BUG",        "WARNING:",           "KASAN",
	    "lockdep", "Call Trace", "general protection", "Kernel panic"};
	char rec[1024], report[1024] = "";

	if (kmsgfd < 0 || t->in_child)
		return;
	pthread_mutex_lock(&lock);
	for (;;) {
		ssize_t n = read(kmsgfd, rec, sizeof(rec) - 1);
		char *msg, *end;

		if (n < 0 && errno == EPIPE)
			continue; /* overrun: records were lost, read on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		end = strchr(msg, '\n');
		if (end)
			*end = '\0';
		for (size_t i = 0; !report[0] && i < sizeof(trouble) / sizeof(trouble[0]); i++)
			if (strstr(msg, trouble[i]))
				snprintf(report, sizeof(report),
				         "%.200s | %.200s | %.200s | %.300s", last[nlast % 3],
				         last[(nlast + 1) % 3], last[(nlast + 2) % 3], msg);
		snprintf(last[nlast++ % 3], sizeof(last[0]), "%.255s", msg);
	}
	pthread_mutex_unlock(&lock);
	if (report[0])
		fail(t, c, "the kernel reported trouble after this call: %s", report);
}

static void run_call(struct thread *t, struct call *c)
{
	uint8_t *Bp = t->arena + page;
	bool ro = c->place == P_RO || c->place == P_RO_CROSS;
	uint64_t bit;

	arena_reset(t);
	write_arg(t, c);
	expect(t, c);
	if (c->cmd == C_GET_SEGS && (c->sc == S_GOOD || c->sc == S_EDGE)) {
		uint8_t *s = (uint8_t *)(uintptr_t)c->in.gs.segs;
		uint8_t *e = s + (c->n_expect + 2) * sizeof(struct sgdma_ioc_seg);

		seg_reset(t);
		t->sdirty_lo = s;
		t->sdirty_hi = e < t->segguard ? e : t->segguard;
	}
	if ((c->cmd == C_REGISTER && c->in.reg.inline_count && c->sc == S_GOOD) ||
	    (c->cmd == C_REGISTER_DMABUF && c->in.regd.inline_count && c->sc == S_GOOD)) {
		uint8_t *s = (uint8_t *)(uintptr_t)(c->cmd == C_REGISTER ? c->in.reg.inline_segs
		                                                         : c->in.regd.inline_segs);
		uint32_t count =
		    c->cmd == C_REGISTER ? c->in.reg.inline_count : c->in.regd.inline_count;
		size_t room = t->segguard - s;
		size_t n = ((size_t)count + 2) * sizeof(struct sgdma_ioc_seg);

		seg_reset(t);
		t->sdirty_lo = s;
		t->sdirty_hi = s + (n < room ? n : room);
	}
	if (ro && mprotect(Bp, page, PROT_READ))
		fail(t, c, "mprotect: %s", strerror(errno));

	c->number = atomic_fetch_add(&sh->calls, 1) + 1;
	atomic_store(&t->busy, c);
	c->ret = syscall(SYS_ioctl, c->fs->fd, c->ioc, c->p);
	c->err = c->ret < 0 ? errno : 0;
	c->returned = true;
	atomic_store(&t->busy, NULL);

	if (ro && mprotect(Bp, page, PROT_READ | PROT_WRITE))
		fail(t, c, "mprotect: %s", strerror(errno));
	check_kmsg(t, c);
	atomic_fetch_add(&sh->res[c->cmd][ecode(c->err)], 1);
	if (t->in_child)
		atomic_fetch_add(&sh->child_calls, 1);
	t->digest = (t->digest ^ ((uint64_t)c->cmd << 8 | (uint64_t)c->err)) * 0x100000001b3ULL;
	if (opt.trace) {
		char desc[1024], ws[128];

		describe(t, c, desc, sizeof(desc));
		errset(c->want, ws, sizeof(ws));
		say("%s (want %s: %s)\n", desc, ws, c->why);
	}

	bit = ecode(c->err) < 63 ? B(ecode(c->err)) : 0;
	if (c->ret > 0)
		FAIL_RET(t, c, "returned %ld", c->ret);
	if (!(bit & cmdinfo[c->cmd].allowed)) {
		char ws[128];

		errset(cmdinfo[c->cmd].allowed, ws, sizeof(ws));
		FAIL_RET(t, c, "%s is outside the documented set for %s (%s)", errname(c->err),
		         cmdinfo[c->cmd].name, ws);
	}
	if (!(bit & c->want)) {
		char ws[128];

		errset(c->want, ws, sizeof(ws));
		FAIL_RET(t, c, "returned %s, the documented rules give %s (%s)", errname(c->err),
		         ws, c->why);
	}
	check_memory(t, c);
	if (c->cmd == C_GET_SEGS && (c->sc == S_GOOD || c->sc == S_EDGE)) {
		/* Where the kernel may have written: refilled before the next call. */
		uint8_t *s = (uint8_t *)(uintptr_t)c->in.gs.segs;
		size_t room = t->segguard - s;
		size_t n = c->err ? room : (c->out.gs.count + 2) * sizeof(struct sgdma_ioc_seg);

		if (c->err == EFAULT || (!c->err && c->out.gs.count <= room))
			t->sdirty_hi = s + (n < room ? n : room) > t->sdirty_hi
			                   ? s + (n < room ? n : room)
			                   : t->sdirty_hi;
	}
	if (c->err)
		return;
	if (atomic_load(&sh->failed)) {
		/* Checks are over; the tables stay true for the clean-up. */
		if (c->cmd == C_UNREGISTER && c->h)
			forget(c->fs, c->h - c->fs->live);
		return;
	}
	switch (c->cmd) {
	case C_INFO:
		after_info(t, c);
		break;
	case C_REGISTER:
	case C_REGISTER_DMABUF:
		after_register(t, c);
		break;
	case C_GET_SEGS:
		after_get_segs(t, c);
		break;
	case C_SYNC:
	case C_UNREGISTER:
		if (memcmp(c->out.raw, c->in.raw, ksize_of(c)))
			FAIL_RET(t, c, "%s changed its struct", cmdinfo[c->cmd].name);
		if (c->cmd == C_UNREGISTER)
			forget(c->fs, c->h - c->fs->live);
		break;
	}
}

/* ------------------------------------------------------------------ dma-bufs */

#define UDMABUF_DEV  "/dev/udmabuf"
#define HEAP_DEV     "/dev/dma_heap/system"
#define DBUF_FD_BASE 400 /* far above the lowest free descriptor: never taken */

/* A udmabuf over a sealed memfd of @size bytes; -1 with errno. */
static int make_udmabuf(uint64_t size, int *memfd)
{
	struct udmabuf_create c = {.flags = UDMABUF_FLAGS_CLOEXEC, .size = size};
	int dev = open(UDMABUF_DEV, O_RDWR | O_CLOEXEC), fd = -1, e;

	*memfd = memfd_create("sgdma-fuzz-udmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (dev >= 0 && *memfd >= 0 && !ftruncate(*memfd, size) &&
	    !fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		c.memfd = (uint32_t)*memfd;
		fd = ioctl(dev, UDMABUF_CREATE, &c);
	}
	e = errno;
	if (dev >= 0)
		close(dev);
	if (fd < 0 && *memfd >= 0) {
		close(*memfd);
		*memfd = -1;
	}
	errno = e;
	return fd;
}

/* A system-heap dma-buf, read-only with @ro; -1 with errno. */
static int make_heap(uint64_t size, bool ro)
{
	struct dma_heap_allocation_data a = {.len = size,
	                                     .fd_flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC};
	int heap = open(HEAP_DEV, O_RDONLY | O_CLOEXEC), ret = -1, e;

	if (heap >= 0)
		ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a);
	e = errno;
	if (heap >= 0)
		close(heap);
	errno = e;
	return ret < 0 ? -1 : (int)a.fd;
}

/* Close a thread's dma-buf: the regions on it keep it alive. */
static void dbuf_close(struct dbuf *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->memfd >= 0)
		close(d->memfd);
	d->fd = d->memfd = -1;
	atomic_fetch_add(&sh->dbuf_closed, 1);
}

/* A new dma-buf of a kind the kernel exports, at the slot's own number. */
static void dbuf_make(struct thread *t, struct dbuf *d)
{
	struct rng *r = &t->rng;
	unsigned int x = below(r, 100);
	uint64_t size = x < 60   ? page * (1 + below(r, 4))
	                : x < 90 ? page * (1 + below(r, 64))
	                         : page * (64 + below(r, 449)); /* up to 2 MiB */
	int kind = below(r, NDBKIND), fd;

	while (!have_kind[kind])
		kind = (kind + 1) % NDBKIND;
	d->memfd = -1;
	fd = kind == DB_UDMABUF ? make_udmabuf(size, &d->memfd)
	                        : make_heap(size, kind == DB_HEAP_RO);
	if (fd < 0) {
		atomic_fetch_add(&sh->dbuf_failed, 1); /* out of memory: stays closed */
		return;
	}
	/* The memfd is not needed: the udmabuf holds its pages. */
	if (d->memfd >= 0 && pct(r, 50)) {
		close(d->memfd);
		d->memfd = -1;
	}
	if (dup3(fd, d->num, O_CLOEXEC) != d->num) {
		say("sgdma-fuzz: dup3 to %d: %s\n", d->num, strerror(errno));
		close(fd);
		if (d->memfd >= 0)
			close(d->memfd);
		d->memfd = -1;
		return;
	}
	close(fd);
	d->fd = d->num;
	d->kind = kind;
	d->size = size;
	atomic_fetch_add(&sh->dbuf_made[kind], 1);
}

/* Close a dma-buf, make a new one in a closed slot, or replace one. */
static void dbuf_recycle(struct thread *t)
{
	struct dbuf *d = pick_dbuf(t);

	if (!d)
		return;
	if (d->fd < 0) {
		dbuf_make(t, d);
	} else {
		dbuf_close(d);
		if (pct(&t->rng, 50))
			dbuf_make(t, d);
	}
}

static void do_ioctl(struct thread *t, struct fdstate *fs, int cmd)
{
	struct call c = {.cmd = cmd, .fs = fs, .hc = H_NONE, .bufwhat = "-", .tmpfd = -1};

	c.ioc = gen_ioc(&t->rng, cmd);
	switch (cmd) {
	case C_INFO:
	case C_BAD:
		gen_info(t, &c);
		break;
	case C_REGISTER:
		gen_register(t, &c);
		break;
	case C_GET_SEGS:
		gen_get_segs(t, &c);
		break;
	case C_SYNC:
		gen_sync(t, &c);
		break;
	case C_UNREGISTER:
		gen_unregister(t, &c);
		break;
	case C_REGISTER_DMABUF:
		gen_register_dmabuf(t, &c);
		break;
	}
	gen_size(&t->rng, &c);
	place_arg(t, &c);
	run_call(t, &c);
	if (c.tmpfd >= 0)
		close(c.tmpfd);
	/* The exporter's descriptor closed while the region lives. */
	if (cmd == C_REGISTER_DMABUF && c.dc == D_DMABUF && !c.err && !t->in_child &&
	    pct(&t->rng, 10))
		dbuf_close((struct dbuf *)c.db);
}

/* ------------------------------------------------------------------ memory */

static void touch(uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i += page)
		p[i] = v;
}

/* Map a whole slot as @kind; the slot lock is held and it has no hole. */
static void slot_map(struct slot *s, int kind, struct rng *r)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED, fd = -1;
	size_t n = page * (1 + below(r, 64));
	void *p;

	switch (kind) {
	case K_SHM_SHARED:
		flags |= MAP_SHARED, fd = s->memfd;
		break;
	case K_SHM_PRIVATE:
		flags |= MAP_PRIVATE, fd = s->memfd;
		break;
	case K_SHM_RDONLY:
		flags |= MAP_SHARED, fd = s->memfd, prot = PROT_READ;
		break;
	case K_HUGETLB:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
		break;
	case K_NONE:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS, prot = PROT_NONE;
		break;
	default:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
	}
	p = mmap(s->base, SLOT_SIZE, prot, flags, fd, 0);
	if (p == MAP_FAILED) { /* no huge pages reserved */
		kind = K_TOUCHED;
		p = mmap(s->base, SLOT_SIZE, PROT_READ | PROT_WRITE,
		         MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			say("sgdma-fuzz: mmap over a slot: %s\n", strerror(errno));
			abort();
		}
	}
	switch (kind) {
	case K_TOUCHED:
	case K_SHM_SHARED:
	case K_SHM_PRIVATE:
		touch(s->base + page * below(r, SLOT_SIZE / page - 64), n, 0x11);
		break;
	case K_THP:
		madvise(s->base, SLOT_SIZE, MADV_HUGEPAGE);
		touch(s->base, SLOT_SIZE, 0x22);
		break;
	case K_RDONLY:
		touch(s->base, n, 0x33);
		mprotect(s->base, SLOT_SIZE, PROT_READ);
		break;
	case K_HUGETLB:
		touch(s->base, HUGE_2M, 0x44);
		break;
	}
}

/* Put anonymous memory back into the slot's hole, if nothing took it. */
static bool slot_refill(struct slot *s)
{
	uint8_t *want = s->base + s->hole_off;
	void *p;

	if (!s->hole_len)
		return true;
	p = mmap(want, s->hole_len, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != want) {
		if (p != MAP_FAILED)
			munmap(p, s->hole_len);
		s->dead = true; /* something else lives there now: hands off */
		return false;
	}
	s->hole_len = 0;
	return true;
}

static void mem_op(struct thread *t)
{
	struct rng *r = &t->rng;
	struct slot *s = &slots[below(r, NSLOT)];
	int op = below(r, 100);
	size_t npages = SLOT_SIZE / page;
	size_t first = pct(r, 10) ? 0 : below(r, npages);
	size_t count =
	    pct(r, 10) ? npages - first : 1 + below(r, npages - first < 64 ? npages - first : 64);
	uint8_t *p = s->base + first * page;
	size_t len = count * page;
	int kind = below(r, NKIND);
	static const int prots[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE};
	static const int advice[] = {MADV_DONTNEED, MADV_FREE,     MADV_COLD,       MADV_PAGEOUT,
	                             MADV_WILLNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE};
	int prot = prots[below(r, 3)], adv = advice[below(r, 8)];

	op = op < 20   ? M_REMAP
	     : op < 32 ? M_MUNMAP
	     : op < 40 ? M_REFILL
	     : op < 56 ? M_MPROTECT
	     : op < 80 ? M_MADVISE
	     : op < 92 ? M_TOUCH
	               : M_PUNCH;
	pthread_mutex_lock(&s->lock);
	if (s->dead)
		goto out;
	if (s->hole_len && op != M_PUNCH) {
		/* Only refill a hole: anything else could hit what took it. */
		op = M_REFILL;
	}
	switch (op) {
	case M_REMAP:
		slot_map(s, kind, r);
		break;
	case M_MUNMAP:
		if (munmap(p, len) == 0) {
			s->hole_off = first * page;
			s->hole_len = len;
		}
		break;
	case M_REFILL:
		slot_refill(s);
		break;
	case M_MPROTECT:
		mprotect(p, len, prot);
		break;
	case M_MADVISE:
		madvise(p, len, adv);
		break;
	case M_TOUCH:
		/* Writes through the kernel: EFAULT, not SIGSEGV, where not writable. */
		if (read(zerofd, p, len < 65536 ? len : 65536) < 0 && errno != EFAULT)
			say("sgdma-fuzz: read(/dev/zero): %s\n", strerror(errno));
		break;
	case M_PUNCH:
		fallocate(s->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, first * page, len);
		break;
	}
	atomic_fetch_add(&sh->memops[op], 1);
out:
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ files */

static void fd_reset(struct fdstate *fs)
{
	fs->nlive = 0;
	fs->nstale = 0;
	fs->live_bytes = 0;
}

static int open_device(bool rdonly)
{
	return open(device_path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
}

static void reopen_priv(struct thread *t)
{
	bool rdonly = pct(&t->rng, 15);

	close(t->priv.fd); /* releases every region of the file */
	t->priv.fd = open_device(rdonly);
	if (t->priv.fd < 0)
		fail(t, NULL, "reopening %s: %s", device_path, strerror(errno));
	t->priv.rdonly = rdonly;
	fd_reset(&t->priv);
	atomic_fetch_add(&sh->reopens, 1);
}

static void reopen_shared(struct thread *t)
{
	pthread_rwlock_wrlock(&shfd.lock);
	close(shfd.fd);
	shfd.fd = open_device(false);
	shfd.gen++;
	pthread_rwlock_unlock(&shfd.lock);
	if (shfd.fd < 0)
		fail(t, NULL, "reopening %s: %s", device_path, strerror(errno));
	atomic_fetch_add(&sh->reopens, 1);
}

/* With the read lock held: this thread's view of the shared file. */
static void sync_shared(struct thread *t)
{
	if (t->shr.gen != shfd.gen) {
		fd_reset(&t->shr);
		t->shr.gen = shfd.gen;
	}
	t->shr.fd = shfd.fd;
}

/* ------------------------------------------------------------------ fork */

static int pick_cmd(struct rng *r)
{
	unsigned int x = below(r, 100);

	return x < 8    ? C_INFO
	       : x < 32 ? C_REGISTER
	       : x < 42 ? C_REGISTER_DMABUF
	       : x < 61 ? C_GET_SEGS
	       : x < 80 ? C_SYNC
	       : x < 97 ? C_UNREGISTER
	                : C_BAD;
}

static void child_main(struct thread *t, uint64_t seed)
{
	struct rng *r = &t->rng;
	int n;

	t->in_child = true;
	rng_init(r, seed, 0);
	n = 1 + below(r, 4);
	for (int i = 0; i < n; i++) {
		unsigned int x = below(r, 100);

		if (x < 20) {
			/* Copy-on-write of pinned pages, in the child's copy only. */
			struct slot *s = &slots[below(r, NSLOT)];
			size_t off = page * below(r, SLOT_SIZE / page);

			if (!s->dead && read(zerofd, s->base + off, page) < 0 && errno != EFAULT)
				_exit(CHILD_FAIL - 1);
		} else if (x < 28) {
			struct slot *s = &slots[below(r, NSLOT)];

			if (!s->dead)
				munmap(s->base, SLOT_SIZE); /* its own mm: no locks needed */
		} else {
			do_ioctl(t, pct(r, 50) ? &t->priv : &t->shr, pick_cmd(r));
		}
	}
	_exit(0);
}

static void op_fork(struct thread *t)
{
	uint64_t seed = rnd(&t->rng);
	int status;
	pid_t pid;

	/* The shared file stays open in the child: no reopen during fork. */
	pthread_rwlock_rdlock(&shfd.lock);
	sync_shared(t);
	pid = fork();
	if (pid == 0)
		child_main(t, seed);
	pthread_rwlock_unlock(&shfd.lock);
	if (pid < 0)
		return;
	atomic_fetch_add(&sh->forks, 1);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			FAIL_RET(t, NULL, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_FAIL)
		return; /* it said why */
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(t, NULL, "forked child (seed %" PRIu64 ") ended with status 0x%x", seed,
		     status);
}

/* ------------------------------------------------------------------ threads */

static bool time_is_up(void)
{
	return opt.seconds > 0 && elapsed_s() >= opt.seconds;
}

static bool calls_done(void)
{
	return opt.calls && atomic_load(&sh->calls) >= opt.calls;
}

static void step(struct thread *t)
{
	struct rng *r = &t->rng;
	unsigned int x = below(r, 1000);
	bool shared = pct(r, 40);
	struct fdstate *fs;
	int cmd;

	if (x < 50) {
		mem_op(t);
		check_kmsg(t, NULL);
		return;
	}
	if (x < 51) {
		op_fork(t);
		check_kmsg(t, NULL);
		return;
	}
	if (x < 54) {
		reopen_priv(t);
		return;
	}
	if (x < 55) {
		reopen_shared(t);
		return;
	}
	if (x < 58) {
		dbuf_recycle(t);
		return;
	}
	cmd = pick_cmd(r);
	if (shared) {
		pthread_rwlock_rdlock(&shfd.lock);
		sync_shared(t);
		fs = &t->shr;
	} else {
		fs = &t->priv;
	}
	/* Keep the pinned memory bounded: unregister before registering more. */
	if ((cmd == C_REGISTER || cmd == C_REGISTER_DMABUF) && fs->nlive &&
	    t->priv.live_bytes + t->shr.live_bytes > LIVE_BUDGET) {
		unregister_now(t, fs, below(r, fs->nlive));
	} else {
		do_ioctl(t, fs, cmd);
	}
	if (shared)
		pthread_rwlock_unlock(&shfd.lock);
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	uint8_t stack[3 * 4096];
	uint64_t n = 0;

	memset(stack, 0x77, sizeof(stack));
	t->stack = stack;
	if (opt.threads > 1 && t->id % 2 && sgt_drop_cap_ipc_lock())
		say("sgdma-fuzz: thread %d: cannot drop CAP_IPC_LOCK\n", t->id);
	double next_report = opt.progress;

	while (!atomic_load(&sh->stop)) {
		if (calls_done() || ((n & 31) == 0 && time_is_up()))
			break;
		step(t);
		n++;
		if (t->id == 0 && opt.progress > 0 && (n & 255) == 0 &&
		    elapsed_s() >= next_report) {
			say("sgdma-fuzz: %" PRIu64 " calls after %.0f s\n",
			    (uint64_t)atomic_load(&sh->calls), elapsed_s());
			next_report = elapsed_s() + opt.progress;
		}
	}
	/*
	 * Release what this thread registered while its stack buffer is still
	 * its own: the shared file is closed later, when that memory may hold
	 * other frames (and unmapping may copy bounce buffers back into it).
	 */
	pthread_rwlock_rdlock(&shfd.lock);
	sync_shared(t);
	for (int left = t->shr.nlive; left > 0 && t->shr.nlive; left--)
		unregister_now(t, &t->shr, 0);
	pthread_rwlock_unlock(&shfd.lock);
	close(t->priv.fd);
	t->priv.fd = -1;
	for (int i = 0; i < NDBUF; i++)
		if (t->dbufs[i].fd >= 0 || t->dbufs[i].memfd >= 0)
			dbuf_close(&t->dbufs[i]);
	t->stack = NULL;
	atomic_fetch_sub(&workers_left, 1);
	return NULL;
}

/* ------------------------------------------------------------------ setup */

static void *map_or_die(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("sgdma-fuzz: mmap");
		exit(3);
	}
	return p;
}

static void setup_slots(void)
{
	size_t stride = SLOT_SIZE + SLOT_GAP;
	size_t total = NSLOT * stride + HUGE_2M;
	uint8_t *res =
	    mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *base;
	struct rng r;

	if (res == MAP_FAILED) {
		perror("sgdma-fuzz: reserving the buffers");
		exit(3);
	}
	base = (uint8_t *)(((uintptr_t)res + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	rng_init(&r, opt.seed, 1000);
	for (int i = 0; i < NSLOT; i++) {
		struct slot *s = &slots[i];

		s->base = base + i * stride;
		pthread_mutex_init(&s->lock, NULL);
		s->memfd = memfd_create("sgdma-fuzz", MFD_CLOEXEC);
		if (s->memfd < 0 || ftruncate(s->memfd, SLOT_SIZE)) {
			perror("sgdma-fuzz: memfd");
			exit(3);
		}
		slot_map(s, i % 3 == 0 ? K_TOUCHED : i % 3 == 1 ? K_THP : K_SHM_SHARED, &r);
	}
}

static void setup_specials(const char *bdf)
{
	char path[PATH_MAX], line[512];
	bool in_vvar = false;
	struct stat st;
	FILE *f;
	int fd;

	vdso_addr = getauxval(AT_SYSINFO_EHDR);
	/* smaps: each mapping's line, then its fields, VmFlags ("pf": PFNMAP). */
	f = fopen("/proc/self/smaps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			in_vvar = strstr(line, "[vvar]") != NULL;
			if (in_vvar)
				vvar_addr = lo;
		} else if (in_vvar && !strncmp(line, "VmFlags:", 8)) {
			vvar_pinnable = !strstr(line, " pf");
		}
	}
	if (f)
		fclose(f);

	/* The device's BAR: VM_IO | VM_PFNMAP, never pinnable. Never touched here. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_size >= (off_t)page) {
		void *p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (p != MAP_FAILED) {
			vmio.base = p;
			vmio.len = st.st_size;
		}
	}
	if (fd >= 0)
		close(fd);
	if (!vmio.base && !opt.quiet)
		printf("sgdma-fuzz: no BAR mapping (%s): VM_IO buffers not tried\n", path);
}

static void setup_thread(struct thread *t, int id)
{
	t->id = id;
	rng_init(&t->rng, opt.seed, id + 1);
	t->arena = map_or_die(3 * page, PROT_READ | PROT_WRITE);
	mprotect(t->arena + 2 * page, page, PROT_NONE);
	memset(t->arena, CANARY, 2 * page);
	t->segbuf = map_or_die((SEGBUF_PAGES + 1) * page, PROT_READ | PROT_WRITE);
	t->segguard = t->segbuf + SEGBUF_PAGES * page;
	mprotect(t->segguard, page, PROT_NONE);
	memset(t->segbuf, SEGCANARY, SEGBUF_PAGES * page);
	t->segro = map_or_die(page, PROT_READ);
	t->priv.name = "priv";
	t->shr.name = "shared";
	t->priv.fd = open_device(false);
	if (t->priv.fd < 0) {
		fprintf(stderr, "sgdma-fuzz: %s: %s\n", device_path, strerror(errno));
		exit(3);
	}
	for (int i = 0; i < NDBUF; i++) {
		struct dbuf *d = &t->dbufs[i];

		d->num = DBUF_FD_BASE + id * (NDBUF + 1) + i;
		d->fd = d->memfd = -1;
		if (nkinds)
			dbuf_make(t, d);
	}
	t->dbuf_closed_num = DBUF_FD_BASE + id * (NDBUF + 1) + NDBUF;
}

/*
 * The exporters this kernel has (each tried once), and the descriptors
 * REGISTER_DMABUF gets that are not dma-bufs.
 */
static void setup_exporters(void)
{
	char line[256] = "";
	int fd, memfd;

	fd = make_udmabuf(page, &memfd);
	if (fd >= 0) {
		have_kind[DB_UDMABUF] = true;
		close(fd);
		close(memfd);
	} else {
		snprintf(line, sizeof(line), "%s: %s", UDMABUF_DEV, strerror(errno));
	}
	for (int ro = 0; ro < 2; ro++) {
		fd = make_heap(page, ro);
		if (fd >= 0) {
			have_kind[ro ? DB_HEAP_RO : DB_HEAP] = true;
			close(fd);
		} else if (!ro) {
			size_t n = strlen(line);

			snprintf(line + n, sizeof(line) - n, "%s%s: %s", n ? ", " : "", HEAP_DEV,
			         strerror(errno));
		}
	}
	for (int k = 0; k < NDBKIND; k++)
		nkinds += have_kind[k];
	if (!(base_info.features & SGDMA_FEAT_DMABUF))
		printf("sgdma-fuzz: the module has no dma-buf support (SGDMA_FEAT_DMABUF): "
		       "REGISTER_DMABUF must fail with EOPNOTSUPP\n");
	if (!nkinds)
		printf("sgdma-fuzz: no dma-buf exporter (%s): REGISTER_DMABUF gets descriptors "
		       "that are not dma-bufs only\n",
		       line);
	else
		printf("sgdma-fuzz: dma-buf exporters:%s%s%s%s%s\n",
		       have_kind[DB_UDMABUF] ? " udmabuf" : "",
		       have_kind[DB_HEAP] ? " system-heap" : "",
		       have_kind[DB_HEAP_RO] ? " system-heap(read-only)" : "",
		       line[0] ? "; not: " : "", line);
	if (pipe2(pipefd, O_CLOEXEC) ||
	    (filefd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (opathfd = open("/", O_PATH | O_CLOEXEC)) < 0) {
		perror("sgdma-fuzz: descriptors for REGISTER_DMABUF");
		exit(3);
	}
}

static long long read_param(const char *name)
{
	char path[256];
	long long v = -1;

	snprintf(path, sizeof(path), SGT_PARAM_DIR "/%s", name);
	if (sgt_read_ll(path, &v))
		return -1;
	return v;
}

static int write_param(const char *name, long long v)
{
	char path[256], text[32];

	snprintf(path, sizeof(path), SGT_PARAM_DIR "/%s", name);
	snprintf(text, sizeof(text), "%lld", v);
	return sgt_write_str(path, text);
}

/* Module loaded, device exposed with this configuration's DMA mask. */
static void setup_device(void)
{
	const char *bdf = sgt_edu_bdf();
	const char *config = sgt_config();
	int mask = opt.mask_bits;

	if (!opt.device) {
		if (!*bdf) {
			fprintf(stderr, "sgdma-fuzz: no edu device found; use --device\n");
			exit(3);
		}
		snprintf(device_path, sizeof(device_path), "/dev/sgdma/%s", bdf);
	} else {
		snprintf(device_path, sizeof(device_path), "%s", opt.device);
	}
	if (!sgt_module_loaded()) {
		const char *ko = opt.module ? opt.module : getenv("SGDMA_KO");
		int ret = ko ? sgt_load_module(ko, "") : -ENOENT;

		if (ret) {
			fprintf(stderr, "sgdma-fuzz: sgdma not loaded and %s%s: %s\n",
			        ko ? "cannot load " : "no --module given", ko ? ko : "",
			        strerror(-ret));
			exit(3);
		}
	}
	if (mask < 0 && *config)
		mask = strcmp(config, "bounce") ? 64 : 28;
	if (mask > 0 && !opt.device) {
		int ret = sgt_expose_edu(mask);

		if (ret) {
			fprintf(stderr, "sgdma-fuzz: exposing %s with a %d-bit mask: %s\n", bdf,
			        mask, strerror(-ret));
			exit(3);
		}
	}
}

static void baseline_info(void)
{
	int fd = open_device(false);
	const char *slash = strrchr(device_path, '/');

	if (fd < 0) {
		fprintf(stderr, "sgdma-fuzz: %s: %s\n", device_path, strerror(errno));
		exit(3);
	}
	base_info.size = sizeof(base_info);
	if (ioctl(fd, SGDMA_IOC_INFO, &base_info)) {
		fprintf(stderr, "sgdma-fuzz: INFO: %s\n", strerror(errno));
		exit(3);
	}
	close(fd);
	if (access("/sys/kernel/debug/dma-api", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL); /* may fail: no matter */
	sync_only_dead_handles = !(base_info.dev_flags & SGDMA_INFO_IOMMU) &&
	                         access("/sys/kernel/debug/dma-api", F_OK) == 0;
	if (sync_only_dead_handles)
		puts("sgdma-fuzz: DMA-API debugging without an IOMMU: SYNC of dead handles only");
	if (base_info.abi_version != SGDMA_ABI_VERSION ||
	    (slash && strcmp(base_info.name, slash + 1))) {
		fprintf(stderr, "sgdma-fuzz: INFO: ABI %u, name '%.64s' for %s\n",
		        base_info.abi_version, base_info.name, device_path);
		exit(3);
	}
}

/* ------------------------------------------------------------------ report */

static void report(double secs)
{
	uint64_t calls = atomic_load(&sh->calls);

	printf("sgdma-fuzz: %" PRIu64 " calls in %.1f s (%.0f calls/s), seed %" PRIu64
	       ", %d thread%s\n",
	       calls, secs, secs > 0 ? calls / secs : 0.0, opt.seed, opt.threads,
	       opt.threads == 1 ? "" : "s");
	for (int cmd = 0; cmd < NCMD; cmd++) {
		uint64_t total = 0;
		char line[1024];
		size_t n = 0;

		for (int e = 0; e < 64; e++)
			total += atomic_load(&sh->res[cmd][e]);
		for (int e = 0; e < 64 && n < sizeof(line); e++) {
			uint64_t v = atomic_load(&sh->res[cmd][e]);

			if (v)
				n += snprintf(line + n, sizeof(line) - n, " %s %" PRIu64,
				              e == 63 ? "other" : errname(e), v);
		}
		printf("  %-15s %10" PRIu64 " calls:%s\n", cmdinfo[cmd].name, total, n ? line : "");
	}
	printf("  segments checked: %" PRIu64 " regions tiled, %" PRIu64
	       " GET_SEGS entries compared\n",
	       (uint64_t)atomic_load(&sh->tiled), (uint64_t)atomic_load(&sh->segs_checked));
	printf("  also: %" PRIu64 " forks (%" PRIu64 " calls in children), %" PRIu64
	       " reopens, memory ops:",
	       (uint64_t)atomic_load(&sh->forks), (uint64_t)atomic_load(&sh->child_calls),
	       (uint64_t)atomic_load(&sh->reopens));
	for (int i = 0; i < NMEM; i++)
		printf(" %s %" PRIu64, memop_name[i], (uint64_t)atomic_load(&sh->memops[i]));
	printf("\n  dma-bufs: made");
	for (int k = 0; k < NDBKIND; k++)
		printf(" %s %" PRIu64, dbkind_name[k], (uint64_t)atomic_load(&sh->dbuf_made[k]));
	printf(", %" PRIu64 " failed, %" PRIu64 " closed, %" PRIu64 " dma-buf regions\n",
	       (uint64_t)atomic_load(&sh->dbuf_failed), (uint64_t)atomic_load(&sh->dbuf_closed),
	       (uint64_t)atomic_load(&sh->dbuf_regions));
}

/* Everything closed: nothing of ours may stay registered or pinned. */
static bool leak_check(long long pins_before, long dmabufs_before)
{
	long long regions = read_param("regions"), pinned = read_param("pinned_pages");
	long long out = 0;
	long dmabufs = sgt_dmabuf_total(), attached = sgt_dmabuf_attachments(base_info.name);
	long mappings = sgt_dma_api_mappings(base_info.name);
	bool ok = true;

	for (int i = 0; i < 50; i++) {
		out = sgt_vmstat("nr_foll_pin_acquired") - sgt_vmstat("nr_foll_pin_released");
		if (!out)
			break;
		usleep(20000); /* in-flight I/O of others */
	}
	printf("sgdma-fuzz: after closing: regions %lld, pinned_pages %lld, "
	       "nr_foll_pin_acquired - nr_foll_pin_released %lld (before the run: %lld)\n",
	       regions, pinned, out, pins_before);
	if (mappings >= 0)
		printf("sgdma-fuzz: DMA mappings of %s (DMA-API debugging): %ld\n", base_info.name,
		       mappings);
	if (regions || pinned) {
		printf("sgdma-fuzz: FAIL (seed %" PRIu64 "): the module still holds %lld regions, "
		       "%lld pinned pages\n",
		       opt.seed, regions, pinned);
		ok = false;
	}
	if (out) {
		printf("sgdma-fuzz: FAIL (seed %" PRIu64 "): %lld FOLL_PIN pins not released\n",
		       opt.seed, out);
		ok = false;
	}
	if (mappings > 0) {
		printf("sgdma-fuzz: FAIL (seed %" PRIu64 "): DMA-API debugging shows %ld mappings "
		       "of %s\n",
		       opt.seed, mappings, base_info.name);
		ok = false;
	}
	if (dmabufs < 0 || attached < 0) {
		printf("sgdma-fuzz: no %s: dma-buf attachments not checked\n", SGT_DMABUF_BUFINFO);
		return ok;
	}
	printf("sgdma-fuzz: dma-bufs %ld (before the run: %ld), attached to %s: %ld\n", dmabufs,
	       dmabufs_before, base_info.name, attached);
	if (attached) {
		printf("sgdma-fuzz: FAIL (seed %" PRIu64 "): %ld dma-bufs still attached to %s\n",
		       opt.seed, attached, base_info.name);
		ok = false;
	}
	if (dmabufs_before >= 0 && dmabufs != dmabufs_before) {
		printf("sgdma-fuzz: FAIL (seed %" PRIu64 "): %ld dma-bufs, %ld before the run\n",
		       opt.seed, dmabufs, dmabufs_before);
		ok = false;
	}
	return ok;
}

/*
 * A call that never returns is a finding too (a livelock in pinning, a lock
 * never released): when no ioctl has completed for --hang seconds, name the
 * calls in flight and end the process, which breaks them with SIGKILL.
 */
static void *watchdog_main(void *arg)
{
	uint64_t last = atomic_load(&sh->calls);
	double since = elapsed_s();

	(void)arg;
	while (atomic_load(&workers_left) > 0) {
		uint64_t now = atomic_load(&sh->calls);

		usleep(200000);
		if (now != last) {
			last = now;
			since = elapsed_s();
			continue;
		}
		if (elapsed_s() - since < opt.hang)
			continue;
		say("sgdma-fuzz: FAIL (seed %" PRIu64
		    ", %d thread%s): no call completed for %.0f s "
		    "after call %" PRIu64 "; in flight:\n",
		    opt.seed, opt.threads, opt.threads == 1 ? "" : "s", opt.hang, now);
		for (int i = 0; i < opt.threads; i++) {
			struct call *c = atomic_load(&all_threads[i]->busy);
			char desc[1024];

			if (c)
				describe(all_threads[i], c, desc, sizeof(desc));
			say("  thread %d: %s\n", i,
			    c ? desc : "not in an ioctl (memory op, fork, reopen or done)");
		}
		say("  replay: sgdma-fuzz --seed %" PRIu64 " --threads %d --calls %" PRIu64 "\n",
		    opt.seed, opt.threads, now + 1);
		_exit(1);
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sgdma-fuzz [--seed N] [--calls N] [--seconds S] [--threads T]\n"
	        "                  [--device PATH] [--module KO] [--mask-bits N]\n"
	        "                  [--max-regions N] [--progress S] [--kmsg] [--hang S] [--trace]\n"
	        "                  [--quiet]\n"
	        "Fuzzes the sgdma ioctls of /dev/sgdma/<edu device> (or --device) and checks\n"
	        "every answer against the documented uapi; see the head of sgdma-fuzz.c.\n"
	        "Default: --calls 100000, --threads 1, seed from the clock (printed).\n");
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "sgdma-fuzz: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"calls", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 't'},
	    {"threads", required_argument, NULL, 'j'},
	    {"device", required_argument, NULL, 'd'},
	    {"module", required_argument, NULL, 'm'},
	    {"mask-bits", required_argument, NULL, 'b'},
	    {"max-regions", required_argument, NULL, 'r'},
	    {"progress", required_argument, NULL, 'p'},
	    {"kmsg", no_argument, NULL, 'k'},
	    {"hang", required_argument, NULL, 'H'},
	    {"trace", no_argument, NULL, 'T'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool seeded = false, ok;
	struct thread **threads;
	long long saved_max_regions = -1, pins_before, regions_before;
	long dmabufs_before;
	double secs;
	int c, pers = personality(0xffffffff);
	pthread_t watchdog;

	/*
	 * The same addresses in every run: buffers next to the stack, the
	 * program's data and the vDSO reach into neighbouring mappings, and
	 * how far must not depend on address space randomization.
	 */
	if (pers != -1 && !(pers & ADDR_NO_RANDOMIZE) &&
	    personality(pers | ADDR_NO_RANDOMIZE) != -1) {
		execv("/proc/self/exe", argv);
		personality(pers); /* carry on randomized */
	}

	while ((c = getopt_long(argc, argv, "s:n:t:j:d:m:b:r:p:kH:Tqh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seed = parse_u64(optarg, "seed");
			seeded = true;
			break;
		case 'n':
			opt.calls = parse_u64(optarg, "call count");
			break;
		case 't':
			opt.seconds = strtod(optarg, NULL);
			if (opt.seconds <= 0) {
				fprintf(stderr, "sgdma-fuzz: bad --seconds '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j':
			opt.threads = parse_u64(optarg, "thread count");
			if (opt.threads < 1 || opt.threads > MAX_THREADS) {
				fprintf(stderr, "sgdma-fuzz: --threads 1..%d\n", MAX_THREADS);
				return 2;
			}
			break;
		case 'd':
			opt.device = optarg;
			break;
		case 'm':
			opt.module = optarg;
			break;
		case 'b':
			opt.mask_bits = parse_u64(optarg, "mask bits");
			break;
		case 'r':
			opt.max_regions = parse_u64(optarg, "max regions");
			break;
		case 'p':
			opt.progress = strtod(optarg, NULL);
			break;
		case 'k':
			opt.kmsg = true;
			break;
		case 'H':
			opt.hang = strtod(optarg, NULL);
			break;
		case 'T':
			opt.trace = true;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!opt.calls && !opt.seconds)
		opt.calls = 100000;
	clock_gettime(CLOCK_MONOTONIC, &start_time);
	if (!seeded) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		opt.seed = ((uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec) ^
		           ((uint64_t)getpid() << 32);
	}
	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sgdma-fuzz: seed %" PRIu64 " (%s), %d thread%s, ", opt.seed,
	       seeded ? "given" : "from the clock", opt.threads, opt.threads == 1 ? "" : "s");
	if (opt.calls)
		printf("%" PRIu64 " calls%s", opt.calls, opt.seconds ? " or " : "");
	if (opt.seconds)
		printf("%.0f s", opt.seconds);
	printf(", config %s, kernel %s\n", *sgt_config() ? sgt_config() : "-",
	       getenv("SGDMA_KERNEL") ? getenv("SGDMA_KERNEL") : "-");

	setup_device();
	baseline_info();
	max_region_bytes = read_param("max_region_bytes");
	if (max_region_bytes == (uint64_t)-1)
		max_region_bytes = 64ULL << 30;
	if (opt.max_regions > 0) {
		saved_max_regions = read_param("max_regions_per_file");
		if (saved_max_regions < 0 || write_param("max_regions_per_file", opt.max_regions))
			saved_max_regions = -1;
	}
	regions_before = read_param("regions");
	pins_before = sgt_vmstat("nr_foll_pin_acquired") - sgt_vmstat("nr_foll_pin_released");
	printf("sgdma-fuzz: %s: %s, dma_mask 0x%llx, max_segment 0x%llx, boundary 0x%llx, "
	       "max_region_bytes %" PRIu64 ", max_regions_per_file %lld\n",
	       device_path, base_info.dev_flags & SGDMA_INFO_IOMMU ? "IOMMU" : "no IOMMU",
	       (unsigned long long)base_info.dma_mask, (unsigned long long)base_info.max_segment,
	       (unsigned long long)base_info.seg_boundary, max_region_bytes,
	       read_param("max_regions_per_file"));

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("sgdma-fuzz: mmap");
		return 3;
	}
	if (opt.kmsg) {
		kmsgfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (kmsgfd < 0 || lseek(kmsgfd, 0, SEEK_END) < 0) {
			perror("sgdma-fuzz: /dev/kmsg");
			return 3;
		}
	}
	zerofd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zerofd < 0) {
		perror("sgdma-fuzz: /dev/zero");
		return 3;
	}
	setup_slots();
	setup_specials(sgt_edu_bdf());
	setup_exporters();
	dmabufs_before = sgt_dmabuf_total();
	{
		/* Reopening the shared file must not starve behind its users. */
		pthread_rwlockattr_t attr;

		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&shfd.lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	shfd.fd = open_device(false);
	if (shfd.fd < 0) {
		fprintf(stderr, "sgdma-fuzz: %s: %s\n", device_path, strerror(errno));
		return 3;
	}
	threads = calloc(opt.threads, sizeof(*threads));
	for (int i = 0; i < opt.threads; i++) {
		threads[i] = calloc(1, sizeof(**threads));
		if (!threads[i]) {
			perror("sgdma-fuzz: calloc");
			return 3;
		}
		setup_thread(threads[i], i);
	}

	all_threads = threads;
	atomic_store(&workers_left, opt.threads);
	if (opt.hang > 0 && pthread_create(&watchdog, NULL, watchdog_main, NULL)) {
		perror("sgdma-fuzz: pthread_create");
		return 3;
	}
	if (opt.threads == 1) {
		thread_main(threads[0]);
	} else {
		for (int i = 0; i < opt.threads; i++)
			if (pthread_create(&threads[i]->tid, NULL, thread_main, threads[i])) {
				perror("sgdma-fuzz: pthread_create");
				return 3;
			}
		for (int i = 0; i < opt.threads; i++)
			pthread_join(threads[i]->tid, NULL);
	}
	if (opt.hang > 0)
		pthread_join(watchdog, NULL);
	secs = elapsed_s();
	close(shfd.fd);

	if (opt.threads == 1)
		printf("sgdma-fuzz: digest %016" PRIx64 " (equal for equal runs of one thread)\n",
		       threads[0]->digest);
	report(secs);
	if (saved_max_regions >= 0)
		write_param("max_regions_per_file", saved_max_regions);
	if (regions_before)
		printf("sgdma-fuzz: note: %lld regions were registered before the run\n",
		       regions_before);
	ok = leak_check(pins_before, dmabufs_before) && !atomic_load(&sh->failed);
	printf("sgdma-fuzz: %s: %" PRIu64 " calls, seed %" PRIu64 "\n", ok ? "PASS" : "FAIL",
	       (uint64_t)atomic_load(&sh->calls), opt.seed);
	for (int i = 0; i < opt.threads; i++)
		free(threads[i]);
	free(threads);
	return ok ? 0 : 1;
}
