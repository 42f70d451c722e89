// SPDX-License-Identifier: GPL-2.0
/*
 * sgdma-stress - concurrency, lifetime and fault-injection stress of sgdma.
 *
 *   sgdma-stress [--seconds S] [--seed N] [--threads N] [--verbose] SCENARIO[:S]...
 *   sgdma-stress --list
 *
 * Runs in a test VM as root, with sgdma loaded (or $SGDMA_KO to load) and
 * the edu device of $SGDMA_EDU_BDF (tests/vm/sgvm). Each scenario runs for
 * at most --seconds (or its own :S) of the guest's clock and a cap on its
 * iterations (the guest's clock is virtual: it may run slower or faster
 * than the host's), and prints one line per check, "PASS name (...)",
 * "FAIL name (...)" or "SKIP name # why", which tests/run-tests counts.
 * Every check ends by
 * asserting that the module's regions and pinned_pages are back to 0, that
 * nr_foll_pin_acquired == nr_foll_pin_released in /proc/vmstat, that this
 * process has nothing pinned (VmPin), and that the kernel log shows no
 * report (Oops, BUG, WARNING, KASAN, lockdep) since the check began.
 *
 * Exit status: 0 every check passed or was skipped, 1 a check failed,
 * 2 usage, 3 setup failed.
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "edu.h"
#include "sgtest.h"

struct options opt = {.seconds = 10, .threads = 4};

static const struct scenario scenarios[] = {
    {"threads", "threads of one process share a file: register, query, sync, unregister",
     sc_threads},
    {"procs", "processes with files of their own, through libsgdma, exiting at random", sc_procs},
    {"fdpass", "a file passed over a unix socket, used and closed by the receiver", sc_fdpass},
    {"fork", "fork and exec with live regions, parent and child ending in either order", sc_fork},
    {"kill", "SIGKILL at random points of large registrations", sc_kill},
    {"revoke", "unexpose, PCI remove, driver bind and unbind under load", sc_revoke},
    {"admin", "the DMA mask, segment limits and max_region_bytes changed under load", sc_admin},
    {"limits", "registrations until ENOSPC and ENOMEM (RLIMIT_MEMLOCK)", sc_limits},
    {"swiotlb", "a 90% full swiotlb pool (bounce configuration)", sc_swiotlb},
    {"thp", "compaction, THP split and collapse, move_pages around pinned buffers", sc_thp},
    {"failnth", "every failure point of REGISTER, one at a time (fail-nth)", sc_failnth},
    {"failprob", "failslab and fail_page_alloc at a low probability under load", sc_failprob},
    {"unload", "the module unloads once everything is closed, and loads again", sc_unload},
};

/* ------------------------------------------------------------ output */

/* One write(2) per line: children and threads print without interleaving. */
static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s", prefix);

	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, n) < 0)
		return;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("# ", fmt, ap);
	va_end(ap);
}

const char *errname(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {{0, "0"},           {EPERM, "EPERM"},   {ENOENT, "ENOENT"},
	             {EINTR, "EINTR"},   {EIO, "EIO"},       {ENXIO, "ENXIO"},
	             {E2BIG, "E2BIG"},   {EBADF, "EBADF"},   {EAGAIN, "EAGAIN"},
	             {ENOMEM, "ENOMEM"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"},
	             {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"}, {EINVAL, "EINVAL"},
	             {ENFILE, "ENFILE"}, {EMFILE, "EMFILE"}, {ENOTTY, "ENOTTY"},
	             {ENOSPC, "ENOSPC"}, {ERANGE, "ERANGE"}, {EOPNOTSUPP, "EOPNOTSUPP"}};
	static __thread char other[16];

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

/* ------------------------------------------------------------ results */

/* Shared with forked children, which report into the same check. */
struct shared {
	atomic_uint failures;
	atomic_uint printed;
};

static struct shared *sh;
static char check_name[64];
static double check_start;
static int kmsg_fd = -1;
static bool any_failed;

#define MAX_PRINTED 40

void fail(const char *fmt, ...)
{
	va_list ap;
	char prefix[96];

	atomic_fetch_add(&sh->failures, 1);
	if (atomic_fetch_add(&sh->printed, 1) >= MAX_PRINTED)
		return;
	snprintf(prefix, sizeof(prefix), "# %s: failed (pid %d): ", check_name, (int)getpid());
	va_start(ap, fmt);
	emit(prefix, fmt, ap);
	va_end(ap);
}

unsigned int failures(void)
{
	return atomic_load(&sh->failures);
}

void check_begin(const char *name)
{
	char why[256];

	snprintf(check_name, sizeof(check_name), "%s", name);
	if (opt.verbose)
		note("%s: begins at %.2f", name, now_s());
	atomic_store(&sh->failures, 0);
	atomic_store(&sh->printed, 0);
	if (!wait_clean(0, why, sizeof(why)))
		note("%s: starting with %s", name, why);
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
	check_start = now_s();
	if (opt.verbose)
		note("%s: starts at %.2f", name, check_start);
}

/* What tests/vm/sgvm fails a VM for, since check_begin(). */
static void scan_kmsg(void)
{
	static const char *const trouble[] = {"Oops",         "WARNING:",   "KASAN",
	                                      "lockdep",      "Call Trace", "general protection",
	                                      "Kernel panic", "BUG:",       "kernel BUG"};
	char rec[2048];

	if (kmsg_fd < 0)
		return;
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof(rec) - 1);
		char *msg;

		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten: read on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		for (size_t i = 0; i < ARRAY_LEN(trouble); i++)
			if (strstr(msg, trouble[i])) {
				fail("kernel log: %.300s", msg);
				break;
			}
	}
}

bool check_end(const char *fmt, ...)
{
	char why[256], detail[512] = "";
	long long pin_kb;
	va_list ap;
	bool ok;

	if (!wait_clean(10, why, sizeof(why)))
		fail("after the check: %s", why);
	pin_kb = vm_pin_kb();
	if (pin_kb > 0)
		fail("this process still has %lld kB pinned (VmPin)", pin_kb);
	scan_kmsg();
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	ok = failures() == 0;
	any_failed |= !ok;
	if (ok)
		say("PASS %s (%s%s%.1f s)", check_name, detail, *detail ? ", " : "",
		    now_s() - check_start);
	else
		say("FAIL %s (%u failures; %s%s%.1f s)", check_name, failures(), detail,
		    *detail ? ", " : "", now_s() - check_start);
	return ok;
}

void check_skip(const char *name, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("SKIP %s # %s", name, why);
}

/* ------------------------------------------------------------ time and chance */

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double deadline(double fraction)
{
	return now_s() + opt.seconds * fraction;
}

void sleep_us(unsigned long us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_init(struct rng *r, uint64_t stream)
{
	uint64_t x = opt.seed ^ (stream * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rnd(struct rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

bool chance(struct rng *r, unsigned int percent)
{
	return below(r, 100) < percent;
}

/* ------------------------------------------------------------ the device */

const char *config(void)
{
	return sgt_config();
}

bool is_config(const char *name)
{
	return !strcmp(sgt_config(), name);
}

int mask_bits(void)
{
	return is_config("bounce") ? 28 : 64;
}

bool may_overlap(void)
{
	return is_config("iommu");
}

const char *node_path(void)
{
	static char path[128];

	if (!path[0])
		snprintf(path, sizeof(path), "/dev/sgdma/%s", sgt_edu_bdf());
	return path;
}

int open_node(void)
{
	return open(node_path(), O_RDWR | O_CLOEXEC);
}

int sg_info(int fd, struct sgdma_ioc_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, SGDMA_IOC_INFO, info) ? errno : 0;
}

int sg_register(int fd, const void *p, size_t len, uint32_t flags, uint32_t *handle,
                uint64_t *nsegs)
{
	struct sgdma_ioc_register r = {.size = sizeof(r), .flags = flags};

	r.addr = (uintptr_t)p;
	r.length = len;
	if (ioctl(fd, SGDMA_IOC_REGISTER, &r)) {
		int err = errno;

		if (r.handle || r.nsegs)
			fail("REGISTER failed with %s but wrote handle %u, nsegs %llu",
			     errname(err), r.handle, (unsigned long long)r.nsegs);
		return err;
	}
	if (!r.handle || !r.nsegs)
		fail("REGISTER of %zu bytes succeeded with handle %u, nsegs %llu", len, r.handle,
		     (unsigned long long)r.nsegs);
	*handle = r.handle;
	if (nsegs)
		*nsegs = r.nsegs;
	return 0;
}

int sg_get_segs(int fd, uint32_t handle, uint64_t first, uint64_t *count,
                struct sgdma_ioc_seg *segs)
{
	struct sgdma_ioc_get_segs g = {.size = sizeof(g), .handle = handle};

	g.first = first;
	g.count = *count;
	g.segs = (uintptr_t)segs;
	if (ioctl(fd, SGDMA_IOC_GET_SEGS, &g))
		return errno;
	*count = g.count;
	return 0;
}

int sg_sync(int fd, uint32_t handle, uint64_t off, uint64_t len, bool for_cpu)
{
	struct sgdma_ioc_sync s = {.size = sizeof(s), .handle = handle};

	s.flags = for_cpu ? SGDMA_SYNC_FOR_CPU : SGDMA_SYNC_FOR_DEVICE;
	s.offset = off;
	s.length = len;
	return ioctl(fd, SGDMA_IOC_SYNC, &s) ? errno : 0;
}

int sg_unregister(int fd, uint32_t handle)
{
	struct sgdma_ioc_unregister u = {.size = sizeof(u), .handle = handle};

	return ioctl(fd, SGDMA_IOC_UNREGISTER, &u) ? errno : 0;
}

int check_tiling(int fd, uint32_t handle, uint64_t len, uint64_t nsegs, struct sgdma_ioc_seg *out,
                 size_t max, size_t *got)
{
	struct sgdma_ioc_seg segs[64];
	uint64_t first = 0, offset = 0;

	if (got)
		*got = 0;
	for (;;) {
		uint64_t count = ARRAY_LEN(segs);
		int ret = sg_get_segs(fd, handle, first, &count, segs);

		if (ret == EINVAL && first && first == nsegs)
			break; /* asked past the end: all read */
		if (ret)
			return ret;
		if (!count || count > ARRAY_LEN(segs)) {
			fail("GET_SEGS of handle %u at %llu returned %llu segments", handle,
			     (unsigned long long)first, (unsigned long long)count);
			return 0;
		}
		for (uint64_t i = 0; i < count; i++) {
			if (segs[i].offset != offset || !segs[i].len) {
				fail(
				    "handle %u segment %llu: offset %llu len %llu, expected offset "
				    "%llu",
				    handle, (unsigned long long)(first + i),
				    (unsigned long long)segs[i].offset,
				    (unsigned long long)segs[i].len, (unsigned long long)offset);
				return 0;
			}
			offset += segs[i].len;
			if (out && got && *got < max)
				out[(*got)++] = segs[i];
		}
		first += count;
		if (offset >= len || count < ARRAY_LEN(segs))
			break;
	}
	if (offset != len || (nsegs && first != nsegs))
		fail("handle %u: %llu segments cover %llu bytes; the region has %llu segments, "
		     "%llu bytes",
		     handle, (unsigned long long)first, (unsigned long long)offset,
		     (unsigned long long)nsegs, (unsigned long long)len);
	return 0;
}

/* ------------------------------------------------------------ counters */

long long param(const char *name)
{
	char path[256];
	long long v = -1;

	snprintf(path, sizeof(path), SGT_PARAM_DIR "/%s", name);
	if (sgt_read_ll(path, &v))
		return -1;
	return v;
}

int set_param(const char *name, long long value)
{
	char path[256], text[32];

	snprintf(path, sizeof(path), SGT_PARAM_DIR "/%s", name);
	snprintf(text, sizeof(text), "%lld", value);
	return sgt_write_str(path, text);
}

int read_dev_attr(const char *name, long long *value)
{
	char path[256];

	return sgt_read_ll(sgt_dev_attr_path(name, path, sizeof(path)), value);
}

int write_dev_attr(const char *name, const char *text)
{
	char path[256];

	return sgt_write_str(sgt_dev_attr_path(name, path, sizeof(path)), text);
}

long long foll_pins_outstanding(void)
{
	long long acquired = -1, released = -1, value;
	char name[128];
	FILE *f;

	/* Fold the per-CPU deltas first (once), then read both. */
	sgt_write_str("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", name, &value) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = value;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = value;
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

long long vm_pin_kb(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

bool wait_clean(double seconds, char *why, size_t size)
{
	double until = now_s() + seconds;

	for (;;) {
		long long regions = param("regions"), pinned = param("pinned_pages");
		long long pins = foll_pins_outstanding();

		if (!regions && !pinned && !pins)
			return true;
		if (now_s() >= until) {
			snprintf(why, size,
			         "regions %lld, pinned_pages %lld, nr_foll_pin_acquired - "
			         "nr_foll_pin_released %lld",
			         regions, pinned, pins);
			return false;
		}
		sleep_us(20000);
	}
}

int ensure_exposed(int bits)
{
	if (!sgt_module_loaded()) {
		const char *ko = getenv("SGDMA_KO");
		int ret = ko ? sgt_load_module(ko, "") : -ENOENT;

		if (ret)
			return ret;
	}
	return sgt_expose_edu(bits);
}

/* ------------------------------------------------------------ memory */

/* Anonymous memory, 2 MiB aligned, not yet touched. */
static void *map_buffer_untouched(size_t len)
{
	size_t span = len + HUGE_SZ;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *p;
	size_t head;

	if (raw == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)raw + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	head = p - raw;
	if (head)
		munmap(raw, head);
	if (span - head > len)
		munmap(p + len, span - head - len);
	return p;
}

void *map_mixed(size_t len)
{
	uint8_t *p = map_buffer_untouched(len);

	if (!p)
		return NULL;
	madvise(p, len / 2, MADV_HUGEPAGE);
	madvise(p + len / 2, len - len / 2, MADV_NOHUGEPAGE);
	memset(p, 0x11, len);
	return p;
}

void *map_buffer(size_t len, bool thp)
{
	uint8_t *p = map_buffer_untouched(len);

	if (!p)
		return NULL;
	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 0x11, len);
	return p;
}

void *map_scattered(size_t len)
{
	uint8_t *p = map_buffer_untouched(len), *other = map_buffer_untouched(len);

	if (!p || !other) {
		unmap_buffer(p, len);
		unmap_buffer(other, len);
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	madvise(other, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += PAGE_SZ) {
		p[off] = 0x11;
		other[off] = 0x22;
	}
	munmap(other, len);
	return p;
}

void unmap_buffer(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

uint8_t pattern_at(size_t i, uint32_t seed)
{
	return (uint8_t)((i * 131u + seed * 7u + (i >> 8)) ^ (i >> 16));
}

void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(i, seed);
}

/* ------------------------------------------------------------ module unloading */

static struct {
	pthread_t thread;
	atomic_bool stop;
	int keeper;
	unsigned long attempts;
} unl = {.keeper = -1};

static void *unloader_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&unl.stop)) {
		int ret = (int)syscall(SYS_delete_module, "sgdma", O_NONBLOCK);
		int err = errno;

		unl.attempts++;
		if (!ret) {
			const char *ko = getenv("SGDMA_KO");

			fail("sgdma unloaded while a file of it was open");
			if (ko)
				sgt_load_module(ko, "");
			sgt_expose_edu(mask_bits());
		} else if (err != EWOULDBLOCK && err != EBUSY) {
			fail("unloading sgdma while in use: %s, expected EWOULDBLOCK or EBUSY",
			     errname(err));
		}
		sleep_us(5000);
	}
	return NULL;
}

void unloader_start(void)
{
	unl.keeper = open_node();
	if (unl.keeper < 0) {
		fail("opening %s to keep the module: %s", node_path(), strerror(errno));
		return;
	}
	atomic_store(&unl.stop, false);
	unl.attempts = 0;
	if (pthread_create(&unl.thread, NULL, unloader_main, NULL)) {
		fail("pthread_create");
		close(unl.keeper);
		unl.keeper = -1;
	}
}

void unloader_stop(void)
{
	if (unl.keeper < 0)
		return;
	atomic_store(&unl.stop, true);
	pthread_join(unl.thread, NULL);
	close(unl.keeper);
	unl.keeper = -1;
	if (opt.verbose)
		note("%lu unload attempts refused", unl.attempts);
}

/* ------------------------------------------------------------ main */

/* "name" or "name:seconds"; @seconds gets the budget given, or 0. */
static const struct scenario *find_scenario(const char *arg, double *seconds)
{
	size_t len = strcspn(arg, ":");

	for (size_t k = 0; k < ARRAY_LEN(scenarios); k++) {
		if (strlen(scenarios[k].name) != len || strncmp(scenarios[k].name, arg, len))
			continue;
		if (arg[len] && strtod(arg + len + 1, NULL) <= 0)
			return NULL;
		if (seconds)
			*seconds = arg[len] ? strtod(arg + len + 1, NULL) : 0;
		return &scenarios[k];
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sgdma-stress [--seconds S] [--seed N] [--threads N] [--verbose] "
	           "SCENARIO[:SECONDS]...\n"
	           "       sgdma-stress --list\n"
	           "Stresses sgdma and the edu device of $SGDMA_EDU_BDF in a test VM.\n"
	           "Each scenario prints PASS/FAIL/SKIP lines; exit status 1 on a failure.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"seed", required_argument, NULL, 'S'},
	    {"threads", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    /* 1: fault injection says when it fails a call, 2: with a stack trace */
	    {"fi-verbose", required_argument, NULL, 'F'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	double default_seconds;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:S:t:vlhF:", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seconds = strtod(optarg, NULL);
			break;
		case 'S':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			opt.threads = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'F':
			opt.fi_verbose = atoi(optarg);
			break;
		case 'l':
			for (size_t i = 0; i < ARRAY_LEN(scenarios); i++)
				printf("%-10s %s\n", scenarios[i].name, scenarios[i].about);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc || opt.seconds <= 0 || opt.threads < 1 || opt.threads > 32) {
		usage(stderr);
		return 2;
	}
	default_seconds = opt.seconds;
	for (int i = optind; i < argc; i++)
		if (!find_scenario(argv[i], NULL)) {
			fprintf(stderr, "sgdma-stress: no scenario %s (--list)\n", argv[i]);
			return 2;
		}
	if (!opt.seed)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IONBF, 0);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("sgdma-stress: mmap");
		return 3;
	}
	ret = ensure_exposed(mask_bits());
	if (ret) {
		fprintf(stderr, "sgdma-stress: loading sgdma and exposing %s: %s\n", sgt_edu_bdf(),
		        strerror(-ret));
		return 3;
	}
	note("sgdma-stress: seed %" PRIu64 ", %s configuration, %.0f s per scenario (at %.2f)",
	     opt.seed, config(), default_seconds, now_s());
	for (int i = optind; i < argc; i++) {
		const struct scenario *sc = find_scenario(argv[i], &opt.seconds);

		if (!opt.seconds)
			opt.seconds = default_seconds;
		note("%s: %s (%.0f s)", sc->name, sc->about, opt.seconds);
		sc->run();
		if (opt.verbose)
			note("%s: returns at %.2f", sc->name, now_s());
	}
	return any_failed ? 1 : 0;
}
