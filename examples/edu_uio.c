// SPDX-License-Identifier: MIT
/*
 * edu_uio - a complete userspace driver for QEMU's "edu" PCI DMA engine:
 * UIO for the registers, sgdma for the memory.
 *
 *	edu_uio [BDF]		(as root; BDF e.g. 0000:00:04.0, default: the
 *				 first device with vendor 0x1234, device 0x11e8)
 *
 * 1. Bind uio_pci_generic to the device if it has no driver (modprobe it,
 *    write the ids to the driver's new_id), map BAR0 through /dev/uioN and
 *    turn on bus mastering in the config space.
 * 2. Open /dev/sgdma/<BDF>.  Exposing the device is the admin's decision
 *    (sgdma.ko expose= parameter); this program only checks that it was.
 * 3. Register a source buffer (SGDMA_TO_DEVICE) and a destination buffer
 *    (SGDMA_FROM_DEVICE), both at odd offsets in their first page, and cut
 *    their DMA segments to the edu's transfer limit with sgdma_split_segs().
 * 4. Copy source -> device -> destination, one piece at a time, with
 *    sgdma_sync_for_device() before and sgdma_sync_for_cpu() after, and
 *    check every byte.
 * 5. Put everything back: unregister, unbind uio_pci_generic if we bound it.
 *    Unbinding makes sgdma revoke the device (its node goes away), so a
 *    device that was exposed is exposed again with its sgdma settings.
 *
 * Prints "edu_uio: OK: N bytes through M transfers" and exits 0, or prints
 * what went wrong and exits 1 (2 when the data did not arrive intact).
 * See docs/userspace-driver.md for the walk-through.
 *
 * Build: cc -std=c11 -D_GNU_SOURCE edu_uio.c $(pkg-config --cflags --libs sgdma)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sgdma.h>

#define PROG "edu_uio"

/* QEMU's edu device (hw/misc/edu.c, docs/specs/edu.rst). */
#define EDU_VENDOR       0x1234
#define EDU_DEVICE       0x11e8
#define EDU_REG_DMA_SRC  0x80 /* bus address or device address, 64 bit */
#define EDU_REG_DMA_DST  0x88
#define EDU_REG_DMA_CNT  0x90
#define EDU_REG_DMA_CMD  0x98
#define EDU_CMD_START    0x1     /* set to start; the device clears it when done */
#define EDU_CMD_FROM_DEV 0x2     /* direction: 1 = device -> RAM, 0 = RAM -> device */
#define EDU_BUF_ADDR     0x40000 /* the device's internal buffer (4 KiB) */
/*
 * Longest transfer we make, and the part of the internal buffer we use:
 * QEMU 7.2 stops the whole VM on a transfer that ends exactly at the end of
 * the 4 KiB buffer, so stay within its first 2 KiB.
 */
#define EDU_MAX_XFER        2048u
#define EDU_LATENCY_MS      100 /* from start command to done */
#define EDU_XFER_TIMEOUT_MS 10000

/* PCI config space. */
#define PCI_COMMAND        0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

#define PCI_DEVICES "/sys/bus/pci/devices"
#define UIO_DRIVER  "/sys/bus/pci/drivers/uio_pci_generic"
#define SGDMA_PARAM "/sys/module/sgdma/parameters"
#define SGDMA_CLASS "/sys/class/sgdma"

/* The buffers: three pages and a bit, starting at odd places in a page. */
#define SRC_OFFSET 100
#define DST_OFFSET 3000
#define EXTRA      333

struct edu {
	char bdf[64];
	bool added_id; /* we wrote our ids to uio_pci_generic's new_id */
	bool bound;    /* we bound uio_pci_generic: unbind when done */
	int cfg_fd;    /* PCI config space */
	uint16_t saved_cmd;
	bool cmd_changed;
	int uio_fd;
	volatile uint8_t *regs; /* BAR0 */
	size_t regs_len;
	unsigned int transfers;
};

/* The sgdma settings of an exposed device, to put back after a revocation. */
static const char *const sgdma_attrs[] = {"dma_mask_bits", "max_segment_size", "segment_boundary"};
struct sgdma_saved {
	bool exposed;
	char value[sizeof(sgdma_attrs) / sizeof(sgdma_attrs[0])][32];
};

__attribute__((format(printf, 1, 2))) static int error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* ---- sysfs ------------------------------------------------------------- */

/* Copy the string @src to @dst of @size bytes: 0, or -1 if it does not fit. */
static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Write @s to the sysfs file @path: 0 or -errno. */
static int write_sysfs(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? errno : 0;
	close(fd);
	return n < 0 ? -err : 0;
}

/* Read the first line of @path into @buf without its newline: 0 or -errno. */
static int read_sysfs(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		ret = -EIO;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return ret;
}

static unsigned long read_hex(const char *bdf, const char *attr)
{
	char path[512], buf[32];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	return read_sysfs(path, buf, sizeof(buf)) ? 0 : strtoul(buf, NULL, 16);
}

static int find_edu(char *bdf, size_t size)
{
	DIR *dir = opendir(PCI_DEVICES);
	struct dirent *de;
	int ret = -1;

	if (!dir)
		return error("cannot list " PCI_DEVICES ": %s", strerror(errno));
	while ((de = readdir(dir))) {
		if (de->d_name[0] != '.' && read_hex(de->d_name, "vendor") == EDU_VENDOR &&
		    read_hex(de->d_name, "device") == EDU_DEVICE) {
			ret = copy_str(bdf, size, de->d_name);
			break;
		}
	}
	closedir(dir);
	if (ret)
		error("no edu device (PCI %04x:%04x) found: start QEMU with -device edu",
		      EDU_VENDOR, EDU_DEVICE);
	return ret;
}

/* The name of the device's driver, "" when it has none. */
static void driver_of(const char *bdf, char *name, size_t size)
{
	char path[512], target[512];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		name[0] = '\0';
		return;
	}
	target[n] = '\0';
	if (copy_str(name, size, strrchr(target, '/') ? strrchr(target, '/') + 1 : target))
		name[0] = '\0';
}

/* ---- UIO --------------------------------------------------------------- */

/* Bind uio_pci_generic to the device unless it has it already. */
static int bind_uio(struct edu *e)
{
	char drv[128], ids[32];
	int ret;

	driver_of(e->bdf, drv, sizeof(drv));
	if (!strcmp(drv, "uio_pci_generic"))
		return 0;
	if (drv[0])
		return error("%s is bound to %s: unbind it first (echo %s > "
		             "/sys/bus/pci/devices/%s/driver/unbind)",
		             e->bdf, drv, e->bdf, e->bdf);

	if (access(UIO_DRIVER, F_OK) && system("modprobe uio_pci_generic") != 0)
		return error("cannot load uio_pci_generic: run modprobe uio_pci_generic");
	if (access(UIO_DRIVER, F_OK))
		return error("uio_pci_generic is not loaded: run modprobe uio_pci_generic");

	/* A new id makes the driver probe every matching device without one. */
	snprintf(ids, sizeof(ids), "%04x %04x", EDU_VENDOR, EDU_DEVICE);
	ret = write_sysfs(UIO_DRIVER "/new_id", ids);
	if (ret && ret != -EEXIST)
		return error("cannot add %s to " UIO_DRIVER "/new_id: %s", ids, strerror(-ret));
	e->added_id = !ret;
	driver_of(e->bdf, drv, sizeof(drv));
	if (!drv[0]) /* the id was there already: bind this device by name */
		write_sysfs(UIO_DRIVER "/bind", e->bdf);
	driver_of(e->bdf, drv, sizeof(drv));
	if (strcmp(drv, "uio_pci_generic"))
		return error("uio_pci_generic did not bind to %s (see dmesg)", e->bdf);
	e->bound = true;
	return 0;
}

/*
 * Map BAR0: UIO map 0 (mmap offset N * page size selects map N), or the
 * PCI resource file where uio_pci_generic offers no maps (before 5.12).
 */
static int map_regs(struct edu *e)
{
	char path[512], buf[32], uio[256] = "";
	struct dirent *de;
	DIR *dir;
	void *p;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/uio", e->bdf);
	dir = opendir(path);
	if (!dir)
		return error("%s has no UIO device (%s: %s)", e->bdf, path, strerror(errno));
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "uio", 3))
			copy_str(uio, sizeof(uio), de->d_name);
	closedir(dir);
	if (!uio[0])
		return error("%s has no UIO device under %s", e->bdf, path);

	snprintf(path, sizeof(path), "/dev/%s", uio);
	e->uio_fd = open(path, O_RDWR | O_CLOEXEC);
	if (e->uio_fd < 0)
		return error("cannot open %s: %s", path, strerror(errno));

	snprintf(path, sizeof(path), "/sys/class/uio/%s/maps/map0/size", uio);
	if (!read_sysfs(path, buf, sizeof(buf))) {
		e->regs_len = strtoul(buf, NULL, 0);
		p = mmap(NULL, e->regs_len, PROT_READ | PROT_WRITE, MAP_SHARED, e->uio_fd, 0);
		snprintf(path, sizeof(path), "/dev/%s", uio);
	} else {
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource0", e->bdf);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st))
			return error("%s has no UIO map and no %s: %s", uio, path, strerror(errno));
		e->regs_len = (size_t)st.st_size;
		p = mmap(NULL, e->regs_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (p == MAP_FAILED)
		return error("cannot map BAR0 through %s: %s", path, strerror(errno));
	e->regs = p;
	return 0;
}

/* uio_pci_generic enables the device but leaves bus mastering to us. */
static int enable_bus_master(struct edu *e)
{
	char path[512];
	uint16_t cmd;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", e->bdf);
	e->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (e->cfg_fd < 0)
		return error("cannot open %s: %s", path, strerror(errno));
	if (pread(e->cfg_fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd))
		return error("cannot read the command register of %s", e->bdf);
	e->saved_cmd = cmd; /* config space is little-endian, like x86 */
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (cmd == e->saved_cmd)
		return 0;
	if (pwrite(e->cfg_fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd))
		return error("cannot enable bus mastering on %s: %s", e->bdf, strerror(errno));
	e->cmd_changed = true;
	return 0;
}

/* Undo what edu_setup() did, in reverse; 0 or -1. */
static int edu_release(struct edu *e)
{
	char ids[32];
	int ret = 0, err;

	if (e->regs)
		munmap((void *)e->regs, e->regs_len);
	if (e->uio_fd >= 0)
		close(e->uio_fd);
	if (e->cmd_changed && pwrite(e->cfg_fd, &e->saved_cmd, sizeof(e->saved_cmd), PCI_COMMAND) !=
	                          sizeof(e->saved_cmd))
		ret = error("cannot restore the command register of %s", e->bdf);
	if (e->cfg_fd >= 0)
		close(e->cfg_fd);
	if (e->bound) {
		err = write_sysfs(UIO_DRIVER "/unbind", e->bdf);
		if (err)
			ret = error("cannot unbind %s from uio_pci_generic: %s", e->bdf,
			            strerror(-err));
	}
	if (e->added_id) {
		snprintf(ids, sizeof(ids), "%04x %04x", EDU_VENDOR, EDU_DEVICE);
		err = write_sysfs(UIO_DRIVER "/remove_id", ids);
		if (err)
			ret =
			    error("cannot remove %s from uio_pci_generic: %s", ids, strerror(-err));
	}
	return ret;
}

static int edu_setup(struct edu *e)
{
	if (bind_uio(e) || map_regs(e) || enable_bus_master(e))
		return -1;
	return 0;
}

/* ---- the DMA engine ---------------------------------------------------- */

static uint64_t rd64(struct edu *e, unsigned int reg)
{
	return *(volatile uint64_t *)(e->regs + reg);
}

static void wr64(struct edu *e, unsigned int reg, uint64_t val)
{
	*(volatile uint64_t *)(e->regs + reg) = val;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Poll the start bit.  The device takes EDU_LATENCY_MS per transfer: sleep
 * that long first, then poll with short sleeps (never spin: the CPU would
 * compete with the device, and an emulator that skips idle time could not).
 */
static int wait_idle(struct edu *e)
{
	uint64_t deadline = now_ms() + EDU_XFER_TIMEOUT_MS;

	if (!(rd64(e, EDU_REG_DMA_CMD) & EDU_CMD_START))
		return 0;
	usleep(EDU_LATENCY_MS * 1000);
	while (rd64(e, EDU_REG_DMA_CMD) & EDU_CMD_START) {
		if (now_ms() > deadline)
			return error("DMA transfer did not finish in %d ms", EDU_XFER_TIMEOUT_MS);
		usleep(1000);
	}
	return 0;
}

/* One transfer of @len <= EDU_MAX_XFER bytes; waits for it to finish. */
static int edu_dma(struct edu *e, uint64_t src, uint64_t dst, uint64_t len, bool from_dev)
{
	if (wait_idle(e))
		return -1;
	wr64(e, EDU_REG_DMA_SRC, src);
	wr64(e, EDU_REG_DMA_DST, dst);
	wr64(e, EDU_REG_DMA_CNT, len);
	wr64(e, EDU_REG_DMA_CMD, EDU_CMD_START | (from_dev ? EDU_CMD_FROM_DEV : 0));
	e->transfers++;
	return wait_idle(e);
}

/* ---- sgdma ------------------------------------------------------------- */

/*
 * The region's segments cut to the edu's limits: at most EDU_MAX_XFER bytes,
 * not crossing the device's segment boundary.  *n gets the count.
 */
static struct sgdma_seg *split(const struct sgdma_region *r, const struct sgdma_dev_info *info,
                               size_t *n)
{
	const struct sgdma_seg *in = sgdma_region_segs(r);
	size_t nin = sgdma_region_nsegs(r), need;
	uint64_t boundary = info->seg_boundary + 1; /* mask -> size; all-ones -> 0 */
	struct sgdma_seg *out;

	need = sgdma_split_segs(in, nin, EDU_MAX_XFER, boundary, NULL, 0); /* size it */
	if (need == SIZE_MAX) {
		error("%s", sgdma_last_error());
		return NULL;
	}
	out = calloc(need, sizeof(*out));
	if (!out) {
		error("out of memory");
		return NULL;
	}
	sgdma_split_segs(in, nin, EDU_MAX_XFER, boundary, out, need);
	*n = need;
	return out;
}

static void show(const char *what, const struct sgdma_region *r, size_t npieces)
{
	const struct sgdma_seg *s = sgdma_region_segs(r);
	size_t n = sgdma_region_nsegs(r);

	printf(PROG ": %s: %zu bytes, %zu DMA segment%s -> %zu transfer%s of <= %u bytes\n", what,
	       sgdma_region_len(r), n, n == 1 ? "" : "s", npieces, npieces == 1 ? "" : "s",
	       EDU_MAX_XFER);
	for (size_t i = 0; i < n; i++)
		printf("    segment %zu: bus 0x%" PRIx64 ", %" PRIu64 " bytes at offset %" PRIu64
		       "\n",
		       i, s[i].addr, s[i].len, s[i].offset);
}

/*
 * Save the device's sgdma settings: unbinding uio_pci_generic later makes
 * sgdma revoke the device, and we put it back as we found it.
 */
static void save_sgdma(const char *bdf, struct sgdma_saved *saved)
{
	char path[512];

	for (size_t i = 0; i < sizeof(sgdma_attrs) / sizeof(sgdma_attrs[0]); i++) {
		snprintf(path, sizeof(path), SGDMA_CLASS "/%s/%s", bdf, sgdma_attrs[i]);
		if (read_sysfs(path, saved->value[i], sizeof(saved->value[i])))
			saved->value[i][0] = '\0';
	}
	saved->exposed = true;
}

static int restore_sgdma(const char *bdf, const struct sgdma_saved *saved)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), SGDMA_DEV_DIR_DEFAULT "/%s", bdf);
	if (!saved->exposed || access(path, F_OK) == 0)
		return 0;
	printf(PROG ": unbinding uio_pci_generic revoked %s: exposing it again\n", path);
	err = write_sysfs(SGDMA_PARAM "/expose", bdf);
	if (err)
		return error("cannot expose %s again: %s", bdf, strerror(-err));
	for (size_t i = 0; i < sizeof(sgdma_attrs) / sizeof(sgdma_attrs[0]); i++) {
		if (!saved->value[i][0])
			continue;
		snprintf(path, sizeof(path), SGDMA_CLASS "/%s/%s", bdf, sgdma_attrs[i]);
		err = write_sysfs(path, saved->value[i]);
		if (err)
			return error("cannot restore %s: %s", path, strerror(-err));
	}
	return 0;
}

/* ---- the copy ---------------------------------------------------------- */

/*
 * Copy src -> device -> dst.  Each source piece goes into the device's
 * buffer at 0; then every destination piece overlapping the same bytes of
 * the buffer takes its share back out.  The buffers have different page
 * offsets, so the two lists of pieces do not line up.
 */
static int copy_through_device(struct edu *e, const struct sgdma_seg *sp, size_t nsp,
                               const struct sgdma_seg *dp, size_t ndp)
{
	size_t j = 0;

	for (size_t i = 0; i < nsp; i++) {
		uint64_t start = sp[i].offset, end = sp[i].offset + sp[i].len;

		if (edu_dma(e, sp[i].addr, EDU_BUF_ADDR, sp[i].len, false))
			return -1;
		while (j < ndp && dp[j].offset + dp[j].len <= start)
			j++;
		for (size_t k = j; k < ndp && dp[k].offset < end; k++) {
			uint64_t from = dp[k].offset > start ? dp[k].offset : start;
			uint64_t to =
			    dp[k].offset + dp[k].len < end ? dp[k].offset + dp[k].len : end;

			if (edu_dma(e, EDU_BUF_ADDR + (from - start),
			            dp[k].addr + (from - dp[k].offset), to - from, true))
				return -1;
		}
	}
	return 0;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 13 + (i >> 8));
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: " PROG " [BDF]\n"
	        "Copy a buffer through QEMU's edu DMA device with UIO and sgdma.\n"
	        "BDF: the edu's PCI address (default: the first %04x:%04x device).\n"
	        "Needs root, sgdma.ko loaded with the device exposed, and uio_pci_generic.\n",
	        EDU_VENDOR, EDU_DEVICE);
}

int main(int argc, char **argv)
{
	struct edu e = {.cfg_fd = -1, .uio_fd = -1};
	struct sgdma_region *src_r = NULL, *dst_r = NULL;
	struct sgdma_seg *sp = NULL, *dp = NULL;
	struct sgdma_saved saved = {0};
	struct sgdma_dev_info info;
	struct sgdma_dev *dev = NULL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 3 * page + EXTRA, nsp = 0, ndp = 0;
	size_t map_len = len + 2 * page, bad = 0;
	uint8_t *src_map = MAP_FAILED, *dst_map = MAP_FAILED, *src, *dst;
	char node[512];
	int status = 1;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		usage(help ? stdout : stderr);
		return help ? 0 : 1;
	}
	if (argc == 2) {
		if (copy_str(e.bdf, sizeof(e.bdf), argv[1])) {
			error("device name too long: %s", argv[1]);
			return 1;
		}
	} else if (find_edu(e.bdf, sizeof(e.bdf)))
		return 1;

	/* The admin exposes the device: sgdma.ko expose=BDF, or its sysfs parameter. */
	snprintf(node, sizeof(node), SGDMA_DEV_DIR_DEFAULT "/%s", e.bdf);
	if (access(node, F_OK)) {
		error("%s is not exposed to sgdma (no %s): as root, modprobe sgdma expose=%s "
		      "or echo %s > " SGDMA_PARAM "/expose",
		      e.bdf, node, e.bdf, e.bdf);
		return 1;
	}
	save_sgdma(e.bdf, &saved);

	if (edu_setup(&e))
		goto out;

	dev = sgdma_open(e.bdf);
	if (!dev || sgdma_dev_info(dev, &info)) {
		error("%s", sgdma_last_error());
		goto out;
	}
	printf(PROG ": %s: dma_mask 0x%" PRIx64 ", max_segment %" PRIu64 ", seg_boundary 0x%" PRIx64
	            ", %s\n",
	       info.name, info.dma_mask, info.max_segment, info.seg_boundary,
	       info.iommu ? "IOMMU" : "no IOMMU");

	/* Our own memory, anywhere: here two mappings, at odd offsets in a page. */
	src_map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst_map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src_map == MAP_FAILED || dst_map == MAP_FAILED) {
		error("mmap: %s", strerror(errno));
		goto out;
	}
	src = src_map + SRC_OFFSET;
	dst = dst_map + DST_OFFSET;
	/* Write the buffers before registering them: the pins take these pages. */
	for (size_t i = 0; i < len; i++)
		src[i] = pattern(i);
	memset(dst, 0xee, len);

	src_r = sgdma_dev_register(dev, src, len, SGDMA_TO_DEVICE);
	if (!src_r) {
		error("%s", sgdma_last_error());
		goto out;
	}
	dst_r = sgdma_dev_register(dev, dst, len, SGDMA_FROM_DEVICE);
	if (!dst_r) {
		error("%s", sgdma_last_error());
		goto out;
	}
	sp = split(src_r, &info, &nsp);
	dp = split(dst_r, &info, &ndp);
	if (!sp || !dp)
		goto out;
	show("source", src_r, nsp);
	show("destination", dst_r, ndp);

	/* CPU wrote src, device reads it; device writes dst: hand both over. */
	if (sgdma_sync_for_device(src_r, 0, len) || sgdma_sync_for_device(dst_r, 0, len)) {
		error("%s", sgdma_last_error());
		goto out;
	}
	if (copy_through_device(&e, sp, nsp, dp, ndp))
		goto out;
	/* Device wrote dst, CPU reads it. */
	if (sgdma_sync_for_cpu(dst_r, 0, len)) {
		error("%s", sgdma_last_error());
		goto out;
	}

	for (size_t i = 0; i < len; i++) {
		if (dst[i] != pattern(i) && bad++ == 0)
			error("byte %zu: 0x%02x, expected 0x%02x", i, dst[i], pattern(i));
	}
	status = bad ? 2 : 0;
	if (bad)
		error("%zu of %zu bytes wrong", bad, len);

out:
	/* Stop using the memory before the device can no longer reach it. */
	for (int i = 0; i < 2; i++) {
		struct sgdma_region *r = i ? dst_r : src_r;

		if (r && sgdma_unregister(r)) {
			error("%s", sgdma_last_error());
			status = status ? status : 1;
		}
	}
	sgdma_close(dev);
	free(sp);
	free(dp);
	if (src_map != MAP_FAILED)
		munmap(src_map, map_len);
	if (dst_map != MAP_FAILED)
		munmap(dst_map, map_len);
	if (edu_release(&e) && !status)
		status = 1;
	if (e.bound && restore_sgdma(e.bdf, &saved) && !status)
		status = 1;
	if (!status)
		printf(PROG ": OK: %zu bytes through %u transfers\n", len, e.transfers);
	return status;
}
