// SPDX-License-Identifier: GPL-2.0
/* Userspace driver for QEMU's edu device: see edu.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "edu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PCI_COMMAND        0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

#define EDU_REG_LIVENESS    0x04
#define EDU_REG_DMA_SRC     0x80
#define EDU_REG_DMA_DST     0x88
#define EDU_REG_DMA_COUNT   0x90
#define EDU_REG_DMA_CMD     0x98
#define EDU_DMA_RUN         0x1
#define EDU_DMA_FROM_DEVICE 0x2

#define EDU_BAR0_LEN           (1u << 20)
#define EDU_DEFAULT_TIMEOUT_MS 10000

static int read_hex_attr(const char *dev, const char *attr, unsigned int *val)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%x", val) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

int edu_find(char *bdf, size_t len)
{
	struct dirent *de;
	DIR *dir;
	int ret = -ENODEV;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned int vendor, device;

		if (de->d_name[0] == '.' || read_hex_attr(de->d_name, "vendor", &vendor) ||
		    read_hex_attr(de->d_name, "device", &device))
			continue;
		if (vendor == EDU_VENDOR && device == EDU_DEVICE) {
			ret = snprintf(bdf, len, "%s", de->d_name) < (int)len ? 0 : -ENAMETOOLONG;
			break;
		}
	}
	closedir(dir);
	return ret;
}

/* The device has no driver to enable it, so set the bits in config space. */
static int enable_device(const char *bdf)
{
	char path[512];
	uint16_t cmd;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd)) {
		ret = -EIO;
	} else {
		cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER; /* x86: config is little-endian */
		if (pwrite(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd))
			ret = -EIO;
	}
	close(fd);
	return ret;
}

int edu_open(struct edu *edu, const char *bdf)
{
	char path[512];
	void *map;
	int fd, ret;

	memset(edu, 0, sizeof(*edu));
	edu->timeout_ms = EDU_DEFAULT_TIMEOUT_MS;
	if (bdf) {
		if (snprintf(edu->bdf, sizeof(edu->bdf), "%s", bdf) >= (int)sizeof(edu->bdf))
			return -EINVAL;
	} else {
		ret = edu_find(edu->bdf, sizeof(edu->bdf));
		if (ret)
			return ret;
	}
	ret = enable_device(edu->bdf);
	if (ret)
		return ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", edu->bdf);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	map = mmap(NULL, EDU_BAR0_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	edu->bar0 = (volatile uint8_t *)map;
	edu->bar0_len = EDU_BAR0_LEN;
	return 0;
}

void edu_close(struct edu *edu)
{
	if (edu->bar0)
		munmap((void *)edu->bar0, edu->bar0_len);
	edu->bar0 = NULL;
}

/* Registers below 0x80 take 32-bit accesses only; the DMA ones 32 or 64. */
static uint32_t rd32(struct edu *edu, unsigned int reg)
{
	return *(volatile uint32_t *)(edu->bar0 + reg);
}

static void wr32(struct edu *edu, unsigned int reg, uint32_t val)
{
	*(volatile uint32_t *)(edu->bar0 + reg) = val;
}

static uint64_t rd64(struct edu *edu, unsigned int reg)
{
	return *(volatile uint64_t *)(edu->bar0 + reg);
}

static void wr64(struct edu *edu, unsigned int reg, uint64_t val)
{
	*(volatile uint64_t *)(edu->bar0 + reg) = val;
}

int edu_liveness(struct edu *edu)
{
	static const uint32_t probes[] = {0x12345678u, 0xa5a5a5a5u};

	if (!edu || !edu->bar0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		wr32(edu, EDU_REG_LIVENESS, probes[i]);
		if (rd32(edu, EDU_REG_LIVENESS) != ~probes[i])
			return -EIO;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The device completes a transfer 100 ms (virtual) after the start command
 * and ignores a new start while one runs: wait for the run bit to clear.
 * Sleep rather than spin: an idle guest lets QEMU's icount clock (sgvm runs
 * with sleep=off) jump straight to the timer that finishes the transfer, so
 * the first sleep is the whole latency and later polls are rare.
 */
static int wait_idle(struct edu *edu)
{
	uint64_t deadline = now_ms() + edu->timeout_ms;

	if (!(rd64(edu, EDU_REG_DMA_CMD) & EDU_DMA_RUN))
		return 0;
	usleep(EDU_DMA_LATENCY_MS * 1000);
	while (rd64(edu, EDU_REG_DMA_CMD) & EDU_DMA_RUN) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static int edu_dma(struct edu *edu, uint64_t src, uint64_t dst, uint32_t len, uint64_t cmd)
{
	int ret;

	ret = wait_idle(edu);
	if (ret)
		return ret;
	wr64(edu, EDU_REG_DMA_SRC, src);
	wr64(edu, EDU_REG_DMA_DST, dst);
	wr64(edu, EDU_REG_DMA_COUNT, len);
	wr64(edu, EDU_REG_DMA_CMD, cmd | EDU_DMA_RUN);
	return wait_idle(edu);
}

static int check_args(struct edu *edu, uint32_t dev_off, uint32_t len)
{
	if (!edu || !edu->bar0 || len == 0)
		return -EINVAL;
	if (dev_off >= EDU_BUF_USABLE || len > EDU_BUF_USABLE - dev_off)
		return -ERANGE;
	return 0;
}

int edu_dma_to_device(struct edu *edu, uint64_t bus_addr, uint32_t dev_off, uint32_t len)
{
	int ret = check_args(edu, dev_off, len);

	return ret ? ret : edu_dma(edu, bus_addr, EDU_BUF_ADDR + dev_off, len, 0);
}

int edu_dma_from_device(struct edu *edu, uint32_t dev_off, uint64_t bus_addr, uint32_t len)
{
	int ret = check_args(edu, dev_off, len);

	return ret ? ret : edu_dma(edu, EDU_BUF_ADDR + dev_off, bus_addr, len, EDU_DMA_FROM_DEVICE);
}

uint64_t pagemap_phys(const void *va)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t entry, pfn;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)va / psz * sizeof(entry))) !=
	    sizeof(entry))
		entry = 0;
	close(fd);
	pfn = entry & ((1ull << 55) - 1); /* bits 0-54; zero unless CAP_SYS_ADMIN */
	if (!(entry & (1ull << 63)) || pfn == 0)
		return 0;
	return pfn * (uint64_t)psz + (uintptr_t)va % psz;
}

int pagemap_frames(const void *va, size_t npages, uint64_t *out)
{
	uintptr_t first = (uintptr_t)va / (uintptr_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t want = (ssize_t)(npages * sizeof(*out));

	if (fd < 0)
		return -errno;
	if (pread(fd, out, want, (off_t)(first * sizeof(*out))) != want) {
		close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < npages; i++)
		/* Present pages only; bits 0-54 are the frame number. */
		out[i] = out[i] >> 63 ? out[i] & ((1ULL << 55) - 1) : 0;
	return 0;
}
