/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sgdma-stress: what the scenarios share. Results, time budgets, a small
 * PRNG, the raw ioctls of <linux/sgdma.h>, the module's counters and the
 * kernel's, and a background thread that tries to unload the module.
 */
#ifndef SGDMA_STRESS_H
#define SGDMA_STRESS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/sgdma.h>

#define KiB     (1UL << 10)
#define MiB     (1UL << 20)
#define PAGE_SZ 4096UL
#define HUGE_SZ (2UL << 20)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BIDI         (SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE)

struct options {
	double seconds; /* budget of one scenario, on the guest's clock */
	uint64_t seed;
	int threads;
	bool verbose;
	int fi_verbose; /* fault injection's own messages (2: stack traces) */
};
extern struct options opt;

/* ------------------------------------------------------------ results */

/*
 * A check runs between check_begin() and check_end(). fail() may be called
 * from any thread and from forked children; check_end() then prints
 * "FAIL name" (else "PASS name"), after asserting that nothing is left
 * registered or pinned and that the kernel log shows no report.
 */
void check_begin(const char *name);
bool check_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void check_skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned int failures(void);
const char *errname(int e);

/* ------------------------------------------------------------ time and chance */

double now_s(void);
/* The guest's clock when a share @fraction of the budget is spent. */
double deadline(double fraction);
void sleep_us(unsigned long us);

struct rng {
	uint64_t s[4];
};
void rng_init(struct rng *r, uint64_t stream);
uint64_t rnd(struct rng *r);
uint64_t below(struct rng *r, uint64_t n);
bool chance(struct rng *r, unsigned int percent);

/* ------------------------------------------------------------ the device */

const char *config(void);
bool is_config(const char *name);
int mask_bits(void); /* the configuration's DMA mask: 28 in bounce, else 64 */
/*
 * Whether regions of a scenario may overlap. Without an IOMMU two mappings
 * of the same memory have the same bus addresses, and DMA-API debugging,
 * which looks a sync up by bus address, then finds two mappings (or the
 * other one) and reports a sync of memory "it has not allocated" or "with
 * different direction": a false positive it warns of for memory mapped
 * more than once (kernel/dma/debug.c). So outside the iommu configuration
 * the scenarios keep each live region in a part of the buffer of its own.
 */
bool may_overlap(void);
const char *node_path(void);
int open_node(void); /* fd, or -1 with errno */

/* The ioctls: 0 or an errno. */
int sg_info(int fd, struct sgdma_ioc_info *info);
int sg_register(int fd, const void *p, size_t len, uint32_t flags, uint32_t *handle,
                uint64_t *nsegs);
int sg_get_segs(int fd, uint32_t handle, uint64_t first, uint64_t *count,
                struct sgdma_ioc_seg *segs);
int sg_sync(int fd, uint32_t handle, uint64_t off, uint64_t len, bool for_cpu);
int sg_unregister(int fd, uint32_t handle);

/*
 * Reads every segment of @handle (@len bytes, @nsegs segments when known,
 * else 0) and checks that they tile the buffer: offsets from 0 without a
 * gap, no empty segment, lengths adding up to @len. 0 when they do (fail()
 * was called when they do not), or the errno of GET_SEGS (a region
 * unregistered meanwhile). @out, when given, receives up to @max segments.
 */
int check_tiling(int fd, uint32_t handle, uint64_t len, uint64_t nsegs, struct sgdma_ioc_seg *out,
                 size_t max, size_t *got);

/* ------------------------------------------------------------ counters */

long long param(const char *name);
int set_param(const char *name, long long value);
int read_dev_attr(const char *name, long long *value);
int write_dev_attr(const char *name, const char *text);
long long foll_pins_outstanding(void);
long long vm_pin_kb(void); /* VmPin of this process, -1 when unknown */
/*
 * Waits up to @seconds for regions and pinned_pages 0 and the kernel's
 * FOLL_PIN counters balanced; false with @why set when they are not.
 */
bool wait_clean(double seconds, char *why, size_t size);
/* The module loaded, the edu device exposed with @bits of DMA mask. */
int ensure_exposed(int bits);

/* ------------------------------------------------------------ memory */

/* Anonymous memory, 2 MiB aligned, touched; huge pages if @thp. */
void *map_buffer(size_t len, bool thp);
/* The same, huge pages in the first half, small pages in the second. */
void *map_mixed(size_t len);
/* Small pages, touched alternately with another buffer's: rarely contiguous. */
void *map_scattered(size_t len);
void unmap_buffer(void *p, size_t len);
/* A byte pattern: byte @i of the one fill() writes with @seed. */
uint8_t pattern_at(size_t i, uint32_t seed);
void fill(uint8_t *p, size_t len, uint32_t seed);

/* ------------------------------------------------------------ module unloading */

/*
 * A thread trying to unload sgdma every few milliseconds while the caller
 * holds a file of it open: every attempt must fail with EWOULDBLOCK or
 * EBUSY (and the module stay loaded).
 */
void unloader_start(void);
void unloader_stop(void);

/* ------------------------------------------------------------ the scenarios */

struct scenario {
	const char *name;
	const char *about;
	void (*run)(void);
};

void sc_threads(void);
void sc_procs(void);
void sc_fdpass(void);
void sc_fork(void);
void sc_kill(void);
void sc_revoke(void);
void sc_admin(void);
void sc_limits(void);
void sc_swiotlb(void);
void sc_thp(void);
void sc_failnth(void);
void sc_failprob(void);
void sc_unload(void);

#endif /* SGDMA_STRESS_H */
