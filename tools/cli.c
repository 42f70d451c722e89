// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

#ifndef SGDMA_VERSION
#define SGDMA_VERSION "unknown"
#endif

/* "<program>: <what><message>" on stderr. */
static void message(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", program_invocation_short_name, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	message("", fmt, ap);
	va_end(ap);
	exit(status);
}

void warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("warning: ", fmt, ap);
	va_end(ap);
}

void bad_usage(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", program_invocation_short_name);
	exit(CLI_EX_USAGE);
}

/* After getopt_long() returned ':' or '?': which option, then bad_usage(). */
__attribute__((noreturn)) static void option_error(int c, char *const argv[])
{
	const char *prog = program_invocation_short_name;

	/* optopt is 0 for a long option: getopt_long() left it in argv[optind - 1]. */
	if (c == ':' && optopt)
		fprintf(stderr, "%s: option requires an argument -- '%c'\n", prog, optopt);
	else if (c == ':')
		fprintf(stderr, "%s: option '%s' requires an argument\n", prog, argv[optind - 1]);
	else if (optopt)
		fprintf(stderr, "%s: invalid option -- '%c'\n", prog, optopt);
	else
		fprintf(stderr, "%s: unrecognized option '%s'\n", prog, argv[optind - 1]);
	bad_usage();
}

int cli_getopt(int argc, char *const argv[], const char *optstring, const struct option *longopts,
               void (*usage)(void))
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, optstring, longopts, NULL);
	switch (c) {
	case 'h':
		usage();
		exit(0);
	case 'V':
		printf("%s from sgdma %s\n", program_invocation_short_name, SGDMA_VERSION);
		exit(0);
	case ':':
	case '?':
		option_error(c, argv);
	case -1:
		if (optind < argc) {
			fprintf(stderr, "%s: unexpected argument '%s'\n",
			        program_invocation_short_name, argv[optind]);
			bad_usage();
		}
		break;
	}
	return c;
}

/*
 * The decimal number at the start of @s in *@n, *@end after it: 0, or -1
 * when there is none (no digits, a sign or a space first) or it overflows.
 */
static int leading_number(const char *s, unsigned long long *n, char **end)
{
	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -1;
	errno = 0;
	*n = strtoull(s, end, 10);
	return errno || *end == s ? -1 : 0;
}

int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long n;
	char *end;

	if (leading_number(s, &n, &end) || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

/*
 * "64M", "4KiB", "1MB", "4096": bytes, or -1 when malformed or too big.
 * K/KiB are powers of 1024, KB powers of 1000 (as util-linux does).
 */
int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	unsigned long long n;
	const char *u;
	char *end;
	uint64_t mul = 1, base = 1024;
	int i;

	if (leading_number(s, &n, &end))
		return -1;
	u = end;
	if (*u) {
		const char *p = strchr(units, (char)(*u & ~0x20));

		if (!p || !*p) {
			if (!strcasecmp(u, "b"))
				goto done;
			return -1;
		}
		u++;
		if (!*u)
			;
		else if (!strcasecmp(u, "iB"))
			;
		else if (!strcasecmp(u, "B"))
			base = 1000;
		else
			return -1;
		for (i = 0; i <= p - units; i++) {
			if (mul > UINT64_MAX / base)
				return -1;
			mul *= base;
		}
	}
done:
	if (n > UINT64_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

void *mmap_aligned(size_t len, size_t align)
{
	size_t need = (size_t)round_up(len, align), raw_len = need + align;
	char *raw, *start;

	if (need < len || raw_len < need) {
		errno = ENOMEM;
		return NULL;
	}
	/* Over-allocate by one @align, then give back the ends around the aligned part. */
	raw = mmap(NULL, raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	start = (char *)round_up((uintptr_t)raw, align);
	if (start > raw)
		munmap(raw, (size_t)(start - raw));
	if (raw + raw_len > start + need)
		munmap(start + need, (size_t)(raw + raw_len - (start + need)));
	return start;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
