// SPDX-License-Identifier: GPL-2.0
/*
 * sgbench: what registering a buffer for DMA costs with sgdma, against the
 * ways a user could pin and map the same buffer instead, in one boot and on
 * one prefaulted buffer per page kind (docs/performance.md).
 *
 *   sgbench --csv FILE [--sizes 4K,64K,...] [--rounds N]
 *           [--kinds 4k,4k_scattered,thp,huge2m,huge1g]
 *           [--arms sgdma,mlock,rxe,vfio,gup,gup_fast]
 *           [--only reg,segs,kmem,null,sync]
 *
 * Arms of the registration test (each: pin + map, then undo it):
 *   sgdma   sgdma_dev_register() + sgdma_unregister()
 *   mlock   mlock() + munlock()
 *   rxe     ibv_reg_mr() + ibv_dereg_mr() on the rdma_rxe device rxe0
 *   vfio    VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA (type1, the edu device
 *           bound to vfio-pci: only under an IOMMU)
 *   gup     the kernel's PIN_LONGTERM_BENCHMARK (CONFIG_GUP_TEST):
 *           pin_user_pages(FOLL_LONGTERM) and unpin only, its own get+put
 *           time; gup_wall is the ioctl's time
 *   gup_fast the same with PIN_FAST_BENCHMARK and FOLL_LONGTERM | FOLL_WRITE:
 *           pin_user_pages_fast(), the call sgdma pins with (gup_fast_wall)
 * An arm that cannot run here gets an "absent" row saying why.
 *
 * Each round times every arm at every size once, the arms in a rotated
 * order, so that a slow moment of the machine hits all of them alike; the
 * reports take the median of the rounds. Small sizes repeat the operation
 * and report the mean of one round's repetitions, timed together.
 *
 * CSV columns: kernel,config,test,kind,size,arm,round,value,note,calib,calib_max
 * (value: nanoseconds per operation, a segment count or bytes; see test;
 * calib, calib_max: nanoseconds of a fixed loop before and after a timed
 * measurement, the faster and the slower: the guest clock's pace, see
 * calib_loop()).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <inttypes.h>
#include <linux/sgdma.h>
#include <linux/vfio.h>
#include <sgdma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "scatter.h"
#include "sgtest.h"

#define KiB     (1ULL << 10)
#define MiB     (1ULL << 20)
#define GiB     (1ULL << 30)
#define HUGE_2M (2 * MiB)

/* The kernel's mm/gup_test.h (not a uapi header). */
struct gup_test {
	uint64_t get_delta_usec;
	uint64_t put_delta_usec;
	uint64_t addr;
	uint64_t size;
	uint32_t nr_pages_per_call;
	uint32_t gup_flags;
	uint32_t test_flags;
	uint32_t which_pages[8];
};
#define PIN_FAST_BENCHMARK     _IOWR('g', 2, struct gup_test)
#define PIN_LONGTERM_BENCHMARK _IOWR('g', 3, struct gup_test)
#define GUP_TEST_FOLL_WRITE    0x1U
#define GUP_TEST_FOLL_LONGTERM 0x100U
#define GUP_TEST_PATH          "/sys/kernel/debug/gup_test"

enum arm { A_SGDMA, A_MLOCK, A_RXE, A_VFIO, A_GUP, A_GUP_FAST, NARMS };
static const char *const arm_name[NARMS] = {"sgdma", "mlock", "rxe", "vfio", "gup", "gup_fast"};
/*
 * 4k: 4 KiB pages as the allocator hands them out; 4k_scattered: 4 KiB
 * pages no two of which are adjacent in memory (a segment per page, as on
 * a machine whose memory is fragmented).
 */
enum kind { K_4K, K_4K_SCATTERED, K_THP, K_HUGE2M, K_HUGE1G, NKINDS };
static const char *const kind_name[NKINDS] = {"4k", "4k_scattered", "thp", "huge2m", "huge1g"};

/* The hugetlb page size of @kind; 0: not a hugetlb kind. */
static uint64_t hugetlb_size(enum kind kind)
{
	return kind == K_HUGE2M ? HUGE_2M : kind == K_HUGE1G ? GiB : 0;
}

static struct {
	FILE *csv;
	const char *kernel, *config;
	uint64_t sizes[32];
	int nsizes, rounds;
	bool kinds[NKINDS], arms[NARMS];
	char only[128];
} opt;

/* What each arm holds while it may run. */
static struct {
	struct sgdma_dev *dev; /* the sgdma arm: the device, while exposed */
	bool vfio_owns;        /* the edu device is bound to vfio-pci */
	int container, group;
	struct ibv_context *ibctx;
	struct ibv_pd *pd;
	int gup_fd;
	struct sgdma_dev_info info;
	char absent[NARMS][160];
} st = {.container = -1, .group = -1, .gup_fd = -1};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "sgbench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool want(const char *test)
{
	char list[sizeof(opt.only) + 2], key[40];

	if (!opt.only[0])
		return true;
	snprintf(list, sizeof(list), ",%s,", opt.only);
	snprintf(key, sizeof(key), ",%s,", test);
	return strstr(list, key) != NULL;
}

/*
 * The guest clock's pace.  Under QEMU's -icount the guest's time is its
 * instruction count times 2^shift ns.  tests/vm/sgvm fixes the shift at 0;
 * under shift=auto (6.1 and 5.10 before they were nudged through their
 * boot) QEMU moves it in steps of 2 with the host's load, and the same code
 * takes 2, 4 or 8 times as long from one second to the next.  A fixed loop
 * timed before and after each measurement gives the pace (the faster of the
 * two: an interrupt can only slow the loop down), so that bench-report can
 * put all measurements on one scale whichever clock ran.
 */
static uint64_t calib_before;

static uint64_t calib_loop(void)
{
	volatile uint64_t x = 0;
	uint64_t t0 = now_ns();

	for (int i = 0; i < 10000; i++)
		x += (uint64_t)i;
	return now_ns() - t0;
}

/* Call right before a timed measurement (row() chains the next one). */
static void calib_start(void)
{
	calib_before = calib_loop();
}

static void row(const char *test, const char *kind, uint64_t size, const char *arm, int round,
                double value, const char *note)
{
	bool timed = !strcmp(test, "reg") || !strcmp(test, "null") || !strcmp(test, "sync");
	uint64_t after = timed ? calib_loop() : 0;

	if (round >= 0) /* round -1 warms up: TCG translates the code paths once */
		fprintf(opt.csv, "%s,%s,%s,%s,%" PRIu64 ",%s,%d,%.1f,%s,%.1f,%.1f\n", opt.kernel,
		        opt.config, test, kind, size, arm, round, value, note ? note : "",
		        timed ? (double)(calib_before < after ? calib_before : after) : 0.0,
		        timed ? (double)(calib_before < after ? after : calib_before) : 0.0);
	fflush(opt.csv);
	if (timed)
		calib_before = after;
}

static void absent(int arm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st.absent[arm], sizeof(st.absent[arm]), fmt, ap);
	va_end(ap);
	/* Commas would split the CSV field. */
	for (char *p = st.absent[arm]; *p; p++)
		if (*p == ',')
			*p = ';';
	printf("sgbench: arm %s absent: %s\n", arm_name[arm], st.absent[arm]);
	row("absent", "-", 0, arm_name[arm], 0, 0, st.absent[arm]);
}

static int write_file(const char *path, const char *text)
{
	return sgt_write_str(path, text);
}

/* ---- buffers ----------------------------------------------------------- */

struct buffer {
	uint8_t *addr;
	uint64_t len;
	void *map;
	size_t map_len;
	enum kind kind;
};

static long long meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	size_t n = strlen(key);
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atoll(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

/* AnonHugePages of this process, in kB. */
static long long thp_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			v = atoll(line + 14);
	fclose(f);
	return v;
}

/* The reservation of a hugetlb size found before sgbench raised it, given back after. */
static long long hugepages_before;

static void hugepages_path(char *path, size_t n, uint64_t page_size)
{
	snprintf(path, n, "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/nr_hugepages",
	         (uint64_t)(page_size / KiB));
}

/* Huge pages of @page_size reserved now; -1 when the kernel has no such size. */
static long long get_hugepages(uint64_t page_size)
{
	char path[96];
	long long n = -1;
	FILE *f;

	hugepages_path(path, sizeof(path), page_size);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int set_hugepages(uint64_t page_size, long long n)
{
	char path[96], text[32];

	hugepages_path(path, sizeof(path), page_size);
	snprintf(text, sizeof(text), "%lld", n);
	return write_file(path, text);
}

/* A prefaulted buffer of @len bytes of @kind; false (and why) when not possible. */
static bool buffer_get(struct buffer *b, enum kind kind, uint64_t len, char *why, size_t whylen)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->len = len;
	if (hugetlb_size(kind)) {
		uint64_t page = hugetlb_size(kind);
		long long want_pages = (long long)(len / page), got;
		int shift = __builtin_ctzll(page);

		hugepages_before = get_hugepages(page);
		if (hugepages_before < 0) {
			snprintf(why, whylen, "no %s huge pages in this kernel or CPU",
			         kind_name[kind]);
			return false;
		}
		if (hugepages_before < want_pages)
			set_hugepages(page, want_pages);
		got = get_hugepages(page);
		if (got < want_pages) {
			snprintf(why, whylen, "only %lld of %lld %s huge pages could be reserved",
			         got, want_pages, kind_name[kind]);
			set_hugepages(page, hugepages_before);
			return false;
		}
		b->map_len = len;
		b->map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT),
		              -1, 0);
		if (b->map == MAP_FAILED) {
			snprintf(why, whylen, "mmap(MAP_HUGETLB): %s", strerror(errno));
			set_hugepages(page, hugepages_before);
			return false;
		}
		b->addr = b->map;
	} else {
		b->map_len = len + HUGE_2M;
		b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		              -1, 0);
		if (b->map == MAP_FAILED) {
			snprintf(why, whylen, "mmap: %s", strerror(errno));
			return false;
		}
		b->addr =
		    (uint8_t *)(((uintptr_t)b->map + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
		if (madvise(b->addr, len, kind == K_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
			snprintf(why, whylen, "madvise: %s", strerror(errno));
			munmap(b->map, b->map_len);
			return false;
		}
	}
	if (kind == K_4K_SCATTERED) {
		if (scatter_fault(b->addr, len)) {
			snprintf(why, whylen, "spacer: %s", strerror(errno));
			munmap(b->map, b->map_len);
			return false;
		}
		return true;
	}
	for (uint64_t off = 0; off < len; off += 4096)
		b->addr[off] = (uint8_t)(off >> 12 | 1);
	return true;
}

static void buffer_put(struct buffer *b)
{
	munmap(b->map, b->map_len);
	if (hugetlb_size(b->kind))
		set_hugepages(hugetlb_size(b->kind), hugepages_before);
}

/* ---- the arms ---------------------------------------------------------- */

static int edu_mask_bits(void)
{
	/* The configurations' own masks: bounce keeps edu's 28 bits. */
	return !strcmp(opt.config, "bounce") ? 28 : 64;
}

static void vfio_release(void)
{
	if (st.container >= 0)
		close(st.container);
	if (st.group >= 0)
		close(st.group);
	st.container = st.group = -1;
}

static char pci_path_buf[256];

static const char *pci_path(const char *attr)
{
	snprintf(pci_path_buf, sizeof(pci_path_buf), "/sys/bus/pci/devices/%s/%s", sgt_edu_bdf(),
	         attr);
	return pci_path_buf;
}

/* Give the edu device to sgdma (false with the reason when it cannot). */
static bool own_sgdma(char *why, size_t whylen)
{
	int ret;

	if (st.dev)
		return true;
	if (st.vfio_owns) {
		vfio_release();
		if ((ret = write_file("/sys/bus/pci/drivers/vfio-pci/unbind", sgt_edu_bdf()))) {
			snprintf(why, whylen, "unbinding vfio-pci: %s", strerror(-ret));
			return false;
		}
		write_file(pci_path("driver_override"), "\n");
		st.vfio_owns = false;
	}
	for (int i = 0; i < 100; i++) {
		if (!(ret = sgt_expose_edu(edu_mask_bits())))
			break;
		usleep(10000);
	}
	if (ret) {
		snprintf(why, whylen, "exposing %s: %s", sgt_edu_bdf(), strerror(-ret));
		return false;
	}
	st.dev = sgdma_open(sgt_edu_bdf());
	if (!st.dev) {
		snprintf(why, whylen, "%s", sgdma_last_error());
		return false;
	}
	sgdma_dev_info(st.dev, &st.info);
	return true;
}

/* Give the edu device to vfio-pci with a type1 container around its group. */
static bool own_vfio(char *why, size_t whylen)
{
	char link[256], group[64], *slash;
	ssize_t n;
	int ret;

	if (st.vfio_owns)
		return true;
	if (st.dev) {
		sgdma_close(st.dev);
		st.dev = NULL;
		if ((ret = sgt_unexpose_edu())) {
			snprintf(why, whylen, "unexposing: %s", strerror(-ret));
			return false;
		}
	}
	if ((ret = write_file(pci_path("driver_override"), "vfio-pci")) ||
	    (ret = write_file("/sys/bus/pci/drivers/vfio-pci/bind", sgt_edu_bdf()))) {
		snprintf(why, whylen, "binding vfio-pci: %s", strerror(-ret));
		return false;
	}
	st.vfio_owns = true;
	n = readlink(pci_path("iommu_group"), link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(why, whylen, "no IOMMU group: %s", strerror(errno));
		return false;
	}
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(group, sizeof(group), "/dev/vfio/%.20s", slash ? slash + 1 : "?");
	st.container = open("/dev/vfio/vfio", O_RDWR);
	st.group = open(group, O_RDWR);
	if (st.container < 0 || st.group < 0) {
		snprintf(why, whylen, "opening /dev/vfio/vfio and %s: %s", group, strerror(errno));
		vfio_release();
		return false;
	}
	if (ioctl(st.group, VFIO_GROUP_SET_CONTAINER, &st.container) ||
	    ioctl(st.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		snprintf(why, whylen, "setting up the type1 container: %s", strerror(errno));
		vfio_release();
		return false;
	}
	return true;
}

static bool rxe_open(char *why, size_t whylen)
{
	struct ibv_device **list;
	int n;

	list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		snprintf(why, whylen, "no RDMA device (rxe0 over a dummy netdev was not created)");
		if (list)
			ibv_free_device_list(list);
		return false;
	}
	st.ibctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	if (!st.ibctx || !(st.pd = ibv_alloc_pd(st.ibctx))) {
		snprintf(why, whylen, "opening the RDMA device: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Sets up what each chosen arm needs; marks the others absent. */
static void arms_setup(void)
{
	char why[160] = "";

	if (opt.arms[A_SGDMA] && !own_sgdma(why, sizeof(why))) {
		opt.arms[A_SGDMA] = false;
		absent(A_SGDMA, "%s", why);
	}
	if (opt.arms[A_RXE]) {
		const char *reason = getenv("SGBENCH_RXE_ABSENT");

		if (reason && *reason) {
			opt.arms[A_RXE] = false;
			absent(A_RXE, "%s", reason);
		} else if (!rxe_open(why, sizeof(why))) {
			opt.arms[A_RXE] = false;
			absent(A_RXE, "%s", why);
		}
	}
	if (opt.arms[A_VFIO]) {
		if (access(pci_path("iommu_group"), F_OK)) {
			opt.arms[A_VFIO] = false;
			absent(A_VFIO, "no IOMMU in the %s configuration: VFIO type1 needs one",
			       opt.config);
		} else if (access("/sys/bus/pci/drivers/vfio-pci", F_OK)) {
			opt.arms[A_VFIO] = false;
			absent(A_VFIO, "vfio-pci is not loaded");
		} else if (!own_vfio(why, sizeof(why))) {
			opt.arms[A_VFIO] = false;
			absent(A_VFIO, "%s", why);
		}
	}
	if (opt.arms[A_GUP] || opt.arms[A_GUP_FAST]) {
		st.gup_fd = open(GUP_TEST_PATH, O_RDWR);
		for (int a = A_GUP; a <= A_GUP_FAST && st.gup_fd < 0; a++)
			if (opt.arms[a]) {
				opt.arms[a] = false;
				absent(a, "%s: %s (kernel without CONFIG_GUP_TEST)", GUP_TEST_PATH,
				       strerror(errno));
			}
	}
}

/*
 * @reps operations of @arm on [addr, addr+len), each pin+map then undo:
 * the mean nanoseconds of one, or -errno. One pair of clock reads brackets
 * them all: in these guests a read is a system call (no clock the vDSO can
 * use), about as long as a null ioctl, and it would be counted into every
 * operation. The sgdma arm puts its segment count in *@aux. The gup arms
 * give the kernel's own time of pin and unpin of one operation (@reps is
 * 1) and their wall time in *@aux.
 */
static int64_t arm_run(int arm, void *addr, uint64_t len, uint64_t reps, uint64_t *aux)
{
	uint64_t t0 = now_ns(), t1;

	for (uint64_t rep = 0; rep < reps; rep++) {
		switch (arm) {
		case A_SGDMA: {
			struct sgdma_region *r =
			    sgdma_dev_register(st.dev, addr, len, SGDMA_BIDIRECTIONAL);

			if (!r)
				return -errno;
			if (aux)
				*aux = sgdma_region_nsegs(r);
			sgdma_unregister(r);
			break;
		}
		case A_MLOCK:
			if (mlock(addr, len))
				return -errno;
			munlock(addr, len);
			break;
		case A_RXE: {
			struct ibv_mr *mr =
			    ibv_reg_mr(st.pd, addr, len,
			               IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			                   IBV_ACCESS_REMOTE_READ);

			if (!mr)
				return -errno;
			ibv_dereg_mr(mr);
			break;
		}
		case A_VFIO: {
			struct vfio_iommu_type1_dma_map map = {
			    .argsz = sizeof(map),
			    .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			    .vaddr = (uintptr_t)addr,
			    .iova = 4 * GiB,
			    .size = len,
			};
			struct vfio_iommu_type1_dma_unmap unmap = {
			    .argsz = sizeof(unmap), .iova = 4 * GiB, .size = len};

			if (ioctl(st.container, VFIO_IOMMU_MAP_DMA, &map))
				return -errno;
			if (ioctl(st.container, VFIO_IOMMU_UNMAP_DMA, &unmap))
				return -errno;
			break;
		}
		case A_GUP:
		case A_GUP_FAST: {
			/* Batches of 512 pages: sgdma's own (one page of page pointers). */
			struct gup_test g = {.addr = (uintptr_t)addr,
			                     .size = len,
			                     .nr_pages_per_call = 512,
			                     .gup_flags = GUP_TEST_FOLL_WRITE};

			if (arm == A_GUP_FAST)
				g.gup_flags |= GUP_TEST_FOLL_LONGTERM;
			if (ioctl(st.gup_fd,
			          arm == A_GUP ? PIN_LONGTERM_BENCHMARK : PIN_FAST_BENCHMARK, &g))
				return -errno;
			t1 = now_ns();
			/* Its own time of pin and unpin, without its checks in between. */
			if (aux)
				*aux = t1 - t0;
			return (int64_t)((g.get_delta_usec + g.put_delta_usec) * 1000);
		}
		}
	}
	t1 = now_ns();
	return (int64_t)((t1 - t0) / reps);
}

static bool arm_ready(int arm, char *why, size_t whylen)
{
	if (arm == A_SGDMA)
		return own_sgdma(why, whylen);
	if (arm == A_VFIO)
		return own_vfio(why, whylen);
	return true;
}

/* ---- physical minimum of segments ------------------------------------- */

/* Runs of physically contiguous pages, cut at @max_seg bytes; 0 if unknown. */
static uint64_t phys_min_segs(const void *addr, uint64_t len, uint64_t max_seg)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t first = (uintptr_t)addr / 4096, n = len / 4096, segs = 0, run = 0, prev = 0;
	uint64_t ent[512];

	if (fd < 0)
		return 0;
	for (uint64_t i = 0; i < n; i += 512) {
		uint64_t cnt = n - i < 512 ? n - i : 512;

		if (pread(fd, ent, cnt * 8, (off_t)((first + i) * 8)) != (ssize_t)(cnt * 8)) {
			close(fd);
			return 0;
		}
		for (uint64_t j = 0; j < cnt; j++) {
			uint64_t pfn = ent[j] & ((1ULL << 55) - 1);

			if (!(ent[j] >> 63) || !pfn) {
				close(fd);
				return 0;
			}
			if (run && pfn == prev + 1 && (run + 1) * 4096 <= max_seg) {
				run++;
			} else {
				segs++;
				run = 1;
			}
			prev = pfn;
		}
	}
	close(fd);
	return segs;
}

/* ---- tests ------------------------------------------------------------- */

static void test_reg(enum kind kind)
{
	uint64_t max = 0;
	struct buffer b;
	char why[160];
	int order[NARMS], narms = 0;

	for (int i = 0; i < opt.nsizes; i++)
		if (opt.sizes[i] > max)
			max = opt.sizes[i];
	if (hugetlb_size(kind) && max < hugetlb_size(kind)) {
		printf("sgbench: no size is a multiple of %s pages\n", kind_name[kind]);
		row("absent", kind_name[kind], max, "buffer", 0, 0,
		    "no size a multiple of the page");
		return;
	}
	if (!buffer_get(&b, kind, max, why, sizeof(why))) {
		printf("sgbench: no %s buffer of %" PRIu64 " bytes: %s\n", kind_name[kind], max,
		       why);
		row("absent", kind_name[kind], max, "buffer", 0, 0, why);
		return;
	}
	if (kind == K_THP) {
		char note[64];

		snprintf(note, sizeof(note), "AnonHugePages %lld kB", thp_kb());
		row("thp_coverage", kind_name[kind], max, "-", 0, (double)thp_kb() * 1024, note);
	}
	for (int a = 0; a < NARMS; a++)
		if (opt.arms[a])
			order[narms++] = a;

	/* The segments sgdma makes against the fewest the memory allows. */
	if (opt.arms[A_SGDMA] && want("segs") && own_sgdma(why, sizeof(why))) {
		for (int s = 0; s < opt.nsizes; s++) {
			uint64_t len = opt.sizes[s], nsegs = 0, phys;

			if (hugetlb_size(kind) && len % hugetlb_size(kind))
				continue;
			if (arm_run(A_SGDMA, b.addr, len, 1, &nsegs) < 0)
				continue;
			phys = phys_min_segs(b.addr, len, st.info.max_segment);
			row("segs", kind_name[kind], len, "sgdma", 0, (double)nsegs, NULL);
			row("segs", kind_name[kind], len, "phys_runs", 0, (double)phys, NULL);
			row("segs", kind_name[kind], len, "iova_min", 0,
			    (double)((len + st.info.max_segment - 1) / st.info.max_segment), NULL);
		}
	}
	if (!want("reg"))
		goto out;
	for (int round = -1; round < opt.rounds; round++) {
		for (int k = 0; k < narms; k++) {
			int arm = order[(k + narms + round) % narms];

			if (!arm_ready(arm, why, sizeof(why)))
				die("round %d: %s: %s", round, arm_name[arm], why);
			calib_start();
			for (int s = 0; s < opt.nsizes; s++) {
				uint64_t len = opt.sizes[s], reps, batch, sum = 0, wall = 0, w;
				int64_t t = 0;

				if (hugetlb_size(kind) && len % hugetlb_size(kind))
					continue;
				/*
				 * Small sizes: the mean of several, timed together; the
				 * gup arms time each one themselves.
				 */
				reps = len >= 4 * MiB ? 1 : (len >= 256 * KiB ? 4 : 32);
				batch = arm >= A_GUP ? 1 : reps;
				for (uint64_t r = 0; r < reps; r += batch) {
					w = 0;
					t = arm_run(arm, b.addr, len, batch,
					            arm >= A_GUP ? &w : NULL);
					if (t < 0)
						break;
					sum += (uint64_t)t * batch;
					wall += w;
				}
				if (t < 0) {
					snprintf(why, sizeof(why), "%s", strerror((int)-t));
					row("error", kind_name[kind], len, arm_name[arm], round, 0,
					    why);
					continue;
				}
				row("reg", kind_name[kind], len, arm_name[arm], round,
				    (double)sum / (double)reps, NULL);
				if (arm == A_GUP || arm == A_GUP_FAST)
					row("reg", kind_name[kind], len,
					    arm == A_GUP ? "gup_wall" : "gup_fast_wall", round,
					    (double)wall / (double)reps, NULL);
			}
		}
	}
out:
	buffer_put(&b);
}

/* Resident pages of this process (its own mallocs show there, not in the kernel's). */
static long long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long long size = 0, res = -1;

	if (f) {
		if (fscanf(f, "%lld %lld", &size, &res) != 2)
			res = -1;
		fclose(f);
	}
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* /proc/meminfo after folding every CPU's pending counter updates into it. */
static long long meminfo_now_kb(const char *key)
{
	write_file("/proc/sys/vm/stat_refresh", "1");
	return meminfo_kb(key);
}

/*
 * Kernel memory a region holds: many registrations of one buffer held at
 * once, the growth of the slab divided among them (the value), and the fall
 * of MemFree (which also sees whole pages: scatterlist chunks, IOMMU page
 * tables, but also the CPUs' free-page lists), less what this process
 * itself allocated (the note).
 */
static void test_kmem(enum kind kind, uint64_t len)
{
	enum { NREG = 256 };
	struct sgdma_region *r[NREG];
	struct buffer b;
	char why[160], note[128];
	long long f0, s0, p0, f1, s1, p1;
	/* Few segments per region: many regions, for a change MemFree shows. */
	int n = 0, nreg = kind == K_4K ? 64 : NREG;

	if (!opt.arms[A_SGDMA] || !own_sgdma(why, sizeof(why)))
		return;
	if (!buffer_get(&b, kind, len, why, sizeof(why))) {
		row("absent", kind_name[kind], len, "kmem", 0, 0, why);
		return;
	}
	/* One registration first: caches the first one fills are not the region's. */
	r[0] = sgdma_dev_register(st.dev, b.addr, len, SGDMA_BIDIRECTIONAL);
	if (r[0])
		sgdma_unregister(r[0]);
	for (int round = 0; round < 3; round++) {
		s0 = meminfo_now_kb("Slab");
		f0 = meminfo_kb("MemFree");
		p0 = rss_kb();
		for (n = 0; n < nreg; n++)
			if (!(r[n] = sgdma_dev_register(st.dev, b.addr, len, SGDMA_BIDIRECTIONAL)))
				break;
		s1 = meminfo_now_kb("Slab");
		f1 = meminfo_kb("MemFree");
		p1 = rss_kb();
		snprintf(note, sizeof(note),
		         "%zu segs; Slab %+lld kB; MemFree %+lld kB; own RSS %+lld kB; %d regions",
		         n ? sgdma_region_nsegs(r[0]) : 0, s1 - s0, f1 - f0, p1 - p0, n);
		if (n)
			row("kmem", kind_name[kind], len, "sgdma", round,
			    (double)(s1 - s0) * 1024 / n, note);
		if (n)
			row("kmem", kind_name[kind], len, "sgdma_memfree", round,
			    (double)((f0 - f1) - (p1 - p0)) * 1024 / n, note);
		while (n > 0)
			sgdma_unregister(r[--n]);
	}
	buffer_put(&b);
}

/* The cheapest call into the module: an ioctl number it refuses at once. */
static void test_null(void)
{
	char path[128], why[160];
	int fd = -1;

	snprintf(path, sizeof(path), "/dev/sgdma/%s", sgt_edu_bdf());
	if (opt.arms[A_SGDMA] && own_sgdma(why, sizeof(why)))
		fd = open(path, O_RDWR);
	if (fd < 0) {
		row("absent", "-", 0, "null_ioctl", 0, 0, "no sgdma device node");
		return;
	}
	calib_start();
	for (int round = -1; round < opt.rounds; round++) {
		const int n = 20000;
		uint64_t t0 = now_ns();

		for (int i = 0; i < n; i++)
			if (ioctl(fd, _IO(SGDMA_IOCTL_TYPE, 0x7f)) == 0)
				die("the null ioctl succeeded");
		row("null", "-", 0, "null_ioctl", round, (double)(now_ns() - t0) / n,
		    "ENOTTY from sgdma_ioctl");
		t0 = now_ns();
		for (int i = 0; i < n; i++)
			getppid();
		row("null", "-", 0, "getppid", round, (double)(now_ns() - t0) / n, "plain syscall");
	}
	close(fd);
}

/* sgdma_sync_* (the library, fast path included) against the SYNC ioctl itself. */
static void test_sync(void)
{
	static const uint64_t lens[] = {4 * KiB, 1 * MiB};
	struct sgdma_ioc_seg seg;
	struct sgdma_ioc_register reg = {.size = sizeof(reg),
	                                 .flags = SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE,
	                                 .inline_count = 1,
	                                 .inline_segs = (uintptr_t)&seg};
	struct sgdma_ioc_unregister unreg = {.size = sizeof(unreg)};
	struct sgdma_region *r;
	struct buffer b;
	char why[160], path[128], note[64];
	unsigned int fl;
	int fd;

	if (!opt.arms[A_SGDMA] || !own_sgdma(why, sizeof(why)))
		return;
	if (!buffer_get(&b, K_4K, 1 * MiB, why, sizeof(why)))
		die("sync buffer: %s", why);
	r = sgdma_dev_register(st.dev, b.addr, b.len, SGDMA_BIDIRECTIONAL);
	snprintf(path, sizeof(path), "/dev/sgdma/%s", sgt_edu_bdf());
	fd = open(path, O_RDWR);
	reg.addr = (uintptr_t)b.addr;
	reg.length = b.len;
	if (!r || fd < 0 || ioctl(fd, SGDMA_IOC_REGISTER, &reg))
		die("sync: registering: %s", strerror(errno));
	fl = sgdma_region_flags(r);
	snprintf(note, sizeof(note), "region flags:%s%s%s", fl & SGDMA_BOUNCED ? " BOUNCED" : "",
	         fl & SGDMA_NEEDS_SYNC ? " NEEDS_SYNC" : "",
	         fl & (SGDMA_BOUNCED | SGDMA_NEEDS_SYNC) ? "" : " none");
	calib_start();
	for (int round = -1; round < opt.rounds; round++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint64_t len = lens[i];
			int n = len > 4 * KiB ? 200 : 5000;
			struct sgdma_ioc_sync s = {
			    .size = sizeof(s), .handle = reg.handle, .length = len};
			uint64_t t0;

			t0 = now_ns();
			for (int k = 0; k < n; k++)
				if (sgdma_sync_for_device(r, 0, len))
					die("sgdma_sync_for_device: %s", sgdma_last_error());
			row("sync", "4k", len, "lib_for_device", round, (double)(now_ns() - t0) / n,
			    note);
			t0 = now_ns();
			for (int k = 0; k < n; k++)
				if (sgdma_sync_for_cpu(r, 0, len))
					die("sgdma_sync_for_cpu: %s", sgdma_last_error());
			row("sync", "4k", len, "lib_for_cpu", round, (double)(now_ns() - t0) / n,
			    note);
			s.flags = SGDMA_SYNC_FOR_DEVICE;
			t0 = now_ns();
			for (int k = 0; k < n; k++)
				if (ioctl(fd, SGDMA_IOC_SYNC, &s))
					die("SGDMA_IOC_SYNC: %s", strerror(errno));
			row("sync", "4k", len, "ioctl_for_device", round,
			    (double)(now_ns() - t0) / n, note);
			s.flags = SGDMA_SYNC_FOR_CPU;
			t0 = now_ns();
			for (int k = 0; k < n; k++)
				if (ioctl(fd, SGDMA_IOC_SYNC, &s))
					die("SGDMA_IOC_SYNC: %s", strerror(errno));
			row("sync", "4k", len, "ioctl_for_cpu", round, (double)(now_ns() - t0) / n,
			    note);
		}
	}
	unreg.handle = reg.handle;
	ioctl(fd, SGDMA_IOC_UNREGISTER, &unreg);
	close(fd);
	sgdma_unregister(r);
	buffer_put(&b);
}

/* ---- options ----------------------------------------------------------- */

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (toupper((unsigned char)*end)) {
	case 'K':
		v *= KiB;
		break;
	case 'M':
		v *= MiB;
		break;
	case 'G':
		v *= GiB;
		break;
	case 0:
		break;
	default:
		die("bad size %s", s);
	}
	if (!v || v % 4096)
		die("size %s is not a positive multiple of 4 KiB", s);
	return v;
}

static void parse_list(const char *list, const char *const *names, int n, bool *set)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	memset(set, 0, sizeof(bool) * (size_t)n);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < n && strcmp(t, names[i]); i++)
			;
		if (i == n)
			die("unknown name %s", t);
		set[i] = true;
	}
}

int main(int argc, char **argv)
{
	const char *csv = NULL, *sizes = "4K,64K,1M,16M,64M,256M";
	static struct utsname uts;

	opt.rounds = 7;
	parse_list("sgdma,mlock,rxe,vfio,gup,gup_fast", arm_name, NARMS, opt.arms);
	parse_list("4k,4k_scattered,thp,huge2m,huge1g", kind_name, NKINDS, opt.kinds);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			die("%s needs a value", argv[i]);
		if (!strcmp(argv[i], "--csv"))
			csv = v;
		else if (!strcmp(argv[i], "--sizes"))
			sizes = v;
		else if (!strcmp(argv[i], "--rounds"))
			opt.rounds = atoi(v);
		else if (!strcmp(argv[i], "--kinds"))
			parse_list(v, kind_name, NKINDS, opt.kinds);
		else if (!strcmp(argv[i], "--arms"))
			parse_list(v, arm_name, NARMS, opt.arms);
		else if (!strcmp(argv[i], "--only"))
			snprintf(opt.only, sizeof(opt.only), "%s", v);
		else
			die("unknown option %s (see the header of bench/sgbench.c)", argv[i]);
		i++;
	}
	if (!csv || opt.rounds < 1)
		die("usage: sgbench --csv FILE [--sizes LIST] [--rounds N] [--kinds LIST] "
		    "[--arms LIST] [--only TESTS]");
	{
		char buf[256], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", sizes);
		for (char *t = strtok_r(buf, ",", &save); t && opt.nsizes < 32;
		     t = strtok_r(NULL, ",", &save))
			opt.sizes[opt.nsizes++] = parse_size(t);
	}
	uname(&uts);
	opt.kernel = uts.release;
	opt.config = sgt_config()[0] ? sgt_config() : "unknown";
	if (!(opt.csv = fopen(csv, "w")))
		die("%s: %s", csv, strerror(errno));
	fprintf(opt.csv, "kernel,config,test,kind,size,arm,round,value,note,calib,calib_max\n");
	setvbuf(stdout, NULL, _IOLBF, 0);

	arms_setup();
	if (want("null"))
		test_null();
	if (want("sync"))
		test_sync();
	if (want("kmem")) {
		uint64_t max = 0;

		for (int i = 0; i < opt.nsizes; i++)
			if (opt.sizes[i] > max)
				max = opt.sizes[i];
		test_kmem(K_THP, max);
		test_kmem(K_4K, max);
	}
	for (int k = 0; k < NKINDS; k++)
		if (opt.kinds[k] && (want("reg") || want("segs"))) {
			uint64_t t0 = now_ns();

			test_reg((enum kind)k);
			printf("sgbench: %s pages done in %.1f s\n", kind_name[k],
			       (double)(now_ns() - t0) / 1e9);
		}
	/* Leave the device to sgdma, as the guest found it. */
	if (st.vfio_owns) {
		char why[160];

		own_sgdma(why, sizeof(why));
	}
	fclose(opt.csv);
	return 0;
}
