/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny userspace driver for QEMU's "edu" PCI device, the DMA engine the
 * sgdma tests point at registered buffers. The device has no kernel driver:
 * we enable it and drive BAR0 through sysfs, so this needs root.
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef SGDMA_TESTS_EDU_H
#define SGDMA_TESTS_EDU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/*
 * The device buffer is 4 KiB at device address 0x40000, but QEMU 7.2 aborts
 * the whole VM on a transfer that ends exactly at its end: we allow the
 * first 2 KiB only.
 */
#define EDU_BUF_ADDR   0x40000u
#define EDU_BUF_USABLE 2048u

/* QEMU's edu finishes a transfer this long after the start command. */
#define EDU_DMA_LATENCY_MS 100u

struct edu {
	char bdf[32];           /* e.g. "0000:00:04.0" */
	volatile uint8_t *bar0; /* 1 MiB MMIO */
	size_t bar0_len;
	unsigned int timeout_ms; /* per transfer; each takes ~100 ms of virtual time */
};

/* Find the first edu device in /sys/bus/pci/devices; bdf gets its address. */
int edu_find(char *bdf, size_t len);

/* Enable memory decoding and bus mastering, map BAR0. bdf NULL: edu_find(). */
int edu_open(struct edu *edu, const char *bdf);
void edu_close(struct edu *edu);

/* Register 0x04 returns the inverse of what was written: -EIO if not. */
int edu_liveness(struct edu *edu);

/* RAM at bus_addr -> device buffer at EDU_BUF_ADDR + dev_off. */
int edu_dma_to_device(struct edu *edu, uint64_t bus_addr, uint32_t dev_off, uint32_t len);
/* Device buffer at EDU_BUF_ADDR + dev_off -> RAM at bus_addr. */
int edu_dma_from_device(struct edu *edu, uint32_t dev_off, uint64_t bus_addr, uint32_t len);

/* Physical address of the byte at va (page must be present), 0 if unknown. */
uint64_t pagemap_phys(const void *va);
/*
 * Frame numbers of the @npages pages from @va's in *@out (0 for a page not
 * present), in one read of /proc/self/pagemap: 0, or a negative errno.
 */
int pagemap_frames(const void *va, size_t npages, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif
