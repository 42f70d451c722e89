// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
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

	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s)
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
