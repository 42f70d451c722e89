/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the command-line tools share: errors and sizes with units. */
#ifndef SGDMA_CLI_H
#define SGDMA_CLI_H

#include <stdint.h>

/* "<program>: <message>" on stderr (after flushing stdout), then exit(@status). */
__attribute__((format(printf, 2, 3), noreturn)) void die(int status, const char *fmt, ...);

/*
 * "64M", "4KiB", "1MB", "4096" to bytes in *out: 0, or -1 when malformed or
 * too big. K/KiB are powers of 1024, KB powers of 1000 (as util-linux does).
 */
int parse_size(const char *s, uint64_t *out);

#endif
