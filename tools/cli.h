/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the command-line programs (sgdump, the experiments) share: errors,
 * option parsing, sizes with units, aligned memory and the clock.
 */
#ifndef SGDMA_CLI_H
#define SGDMA_CLI_H

#include <stddef.h>
#include <stdint.h>

/* The exit status of a usage error, in every program. */
#define CLI_EX_USAGE 1

/* "<program>: <message>" on stderr (after flushing stdout), then exit(@status). */
__attribute__((format(printf, 2, 3), noreturn)) void die(int status, const char *fmt, ...);

/* "<program>: warning: <message>" on stderr. */
__attribute__((format(printf, 1, 2))) void warnmsg(const char *fmt, ...);

/* "Try '<program> --help' for more information." on stderr, exit(CLI_EX_USAGE). */
__attribute__((noreturn)) void bad_usage(void);

struct option;

/*
 * getopt_long() with what every program's options share: 'h' (--help)
 * calls @usage, 'V' (--version) prints "<program> from sgdma <version>"
 * and exits 0, a missing argument or an unknown option is reported and
 * ends in bad_usage(), and so do operands after the options (none are
 * taken). @optstring starts with ':'. Returns the next other option, or
 * -1 at the end.
 */
int cli_getopt(int argc, char *const argv[], const char *optstring, const struct option *longopts,
               void (*usage)(void));

/*
 * "64M", "4KiB", "1MB", "4096" to bytes in *out: 0, or -1 when malformed or
 * too big. K/KiB are powers of 1024, KB powers of 1000 (as util-linux does).
 */
int parse_size(const char *s, uint64_t *out);

/* A decimal number from 0 to @max, nothing else, in *out: 0, or -1. */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);

/* @n rounded up to a multiple of @a (> 0). */
static inline uint64_t round_up(uint64_t n, uint64_t a)
{
	return (n + a - 1) / a * a;
}

/*
 * Anonymous private memory of @len bytes rounded up to @align (a power of
 * two, at least the page size), starting on an @align boundary: for
 * transparent huge pages, which need 2 MiB aligned ranges. Nothing is
 * touched. Returns NULL with errno set when mmap(2) fails; release with
 * munmap(p, round_up(len, align)).
 */
void *mmap_aligned(size_t len, size_t align);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
