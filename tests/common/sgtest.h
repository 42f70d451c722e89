/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small C helpers the in-VM test suites use around the public API: module
 * loading, sysfs and /proc counters, capabilities, page placement.
 */
#ifndef SGTEST_H
#define SGTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SGT_PARAM_DIR "/sys/module/sgdma/parameters"

/* $SGDMA_CONFIG: "iommu", "direct" or "bounce" ("" when unset). */
const char *sgt_config(void);
/* The edu device's PCI name, from $SGDMA_EDU_BDF or found in sysfs. */
const char *sgt_edu_bdf(void);
/* /sys/class/sgdma/<edu>/<attr>. */
const char *sgt_dev_attr_path(const char *attr, char *buf, size_t size);

/* Read a file holding one integer (decimal or 0x hex); 0 or -errno. */
int sgt_read_ll(const char *path, long long *value);
/* Write a string to a file (sysfs); 0 or -errno. */
int sgt_write_str(const char *path, const char *text);
/* A counter from /proc/vmstat, -1 when absent. */
long long sgt_vmstat(const char *key);

/* finit_module(2) / delete_module(2) of sgdma.ko; 0 or -errno. */
int sgt_load_module(const char *ko_path, const char *params);
int sgt_unload_module(void);
int sgt_module_loaded(void);

/* Expose the edu device and give it a DMA mask of @mask_bits; 0 or -errno. */
int sgt_expose_edu(int mask_bits);
int sgt_unexpose_edu(void);

/* Drop CAP_IPC_LOCK from the calling thread's effective set; 0 or -errno. */
int sgt_drop_cap_ipc_lock(void);

/* NUMA node of the page holding @addr (must be touched), or -errno. */
int sgt_page_node(void *addr);

/* debugfs views of what the kernel holds; each -1 when it cannot be read. */
#define SGT_DMABUF_BUFINFO "/sys/kernel/debug/dma_buf/bufinfo"
/* dma-bufs alive in the kernel (bufinfo's "Total N objects"). */
long sgt_dmabuf_total(void);
/* dma-bufs the device @name (a PCI name) is attached to. */
long sgt_dmabuf_attachments(const char *name);
/* Live DMA mappings of the device @name (DMA-API debugging's dump). */
long sgt_dma_api_mappings(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* SGTEST_H */
