/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel API differences between the kernels sgdma supports (6.1 and
 * later), in one place.
 */
#ifndef SGDMA_COMPAT_H
#define SGDMA_COMPAT_H

#include <linux/version.h>

/* struct class.devnode takes a const device since 6.2. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define SGDMA_DEVNODE_CONST const
#else
#define SGDMA_DEVNODE_CONST
#endif

/* The bus API takes const struct bus_type since 6.4. */
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
#define SGDMA_BUS_CONST const
#else
#define SGDMA_BUS_CONST
#endif

#endif /* SGDMA_COMPAT_H */
