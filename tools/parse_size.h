/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sizes with units on the command lines of the tools. */
#ifndef SGDMA_PARSE_SIZE_H
#define SGDMA_PARSE_SIZE_H

#include <stdint.h>

/*
 * "64M", "4KiB", "1MB", "4096" to bytes in *out: 0, or -1 when malformed or
 * too big. K/KiB are powers of 1024, KB powers of 1000 (as util-linux does).
 */
int parse_size(const char *s, uint64_t *out);

#endif
