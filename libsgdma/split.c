// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsgdma descriptor splitter: cut DMA segments to a device's descriptor
 * limits (longest piece, boundary no piece crosses), counting arithmetically
 * so that sizing the output costs O(segments), not O(pieces).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* Pieces of at most @m bytes (0: no limit) needed for @x > 0 bytes. */
static uint64_t cdiv(uint64_t x, uint64_t m)
{
	return m == 0 ? 1 : x / m + (x % m != 0);
}

/*
 * Pieces needed for [@a, @a + @rem), @rem > 0, not crossing multiples of
 * @b (power of two, 0: none).  Returns false on overflow of uint64_t.
 */
static bool count_range(uint64_t a, uint64_t rem, uint64_t m, uint64_t b, uint64_t *n)
{
	uint64_t head, full, tail, per, cnt;

	if (!b) {
		*n = cdiv(rem, m);
		return true;
	}
	head = b - (a & (b - 1)); /* bytes up to the next multiple */
	if (rem <= head) {
		*n = cdiv(rem, m);
		return true;
	}
	cnt = cdiv(head, m);
	rem -= head;
	full = rem / b;
	tail = rem & (b - 1);
	per = cdiv(b, m);
	if (__builtin_mul_overflow(full, per, &full) || __builtin_add_overflow(cnt, full, &cnt))
		return false;
	if (tail && __builtin_add_overflow(cnt, cdiv(tail, m), &cnt))
		return false;
	*n = cnt;
	return true;
}

SGDMA_EXPORT size_t sgdma_split_segs(const struct sgdma_seg *in, size_t nin, uint64_t max_len,
                                     uint64_t boundary, struct sgdma_seg *out, size_t out_cap)
{
	const char *fn = "sgdma_split_segs";
	uint64_t total = 0;
	size_t n = 0;

	if (boundary & (boundary - 1)) {
		sgdma__fail(EINVAL, "%s: boundary 0x%llx is not a power of two", fn,
		            (unsigned long long)boundary);
		return SIZE_MAX;
	}
	if (!in && nin) {
		sgdma__fail(EINVAL, "%s: in is NULL", fn);
		return SIZE_MAX;
	}
	if (!out && out_cap) {
		sgdma__fail(EINVAL, "%s: out is NULL", fn);
		return SIZE_MAX;
	}

	/* Validate and count first, so that nothing is written on error. */
	for (size_t i = 0; i < nin; i++) {
		uint64_t cnt;

		if (!in[i].len)
			continue;
		if (in[i].len - 1 > UINT64_MAX - in[i].addr ||
		    in[i].len - 1 > UINT64_MAX - in[i].offset) {
			sgdma__fail(EINVAL, "%s: segment %zu wraps past 2^64", fn, i);
			return SIZE_MAX;
		}
		if (!count_range(in[i].addr, in[i].len, max_len, boundary, &cnt) ||
		    __builtin_add_overflow(total, cnt, &total) || total >= SIZE_MAX) {
			sgdma__fail(EOVERFLOW, "%s: too many pieces", fn);
			return SIZE_MAX;
		}
	}

	for (size_t i = 0; i < nin && n < out_cap; i++) {
		uint64_t a = in[i].addr, off = in[i].offset, rem = in[i].len;

		while (rem && n < out_cap) {
			uint64_t piece = rem;

			if (max_len && piece > max_len)
				piece = max_len;
			if (boundary) {
				uint64_t to_b = boundary - (a & (boundary - 1));

				if (piece > to_b)
					piece = to_b;
			}
			out[n].addr = a;
			out[n].len = piece;
			out[n].offset = off;
			n++;
			rem -= piece;
			/* May wrap to 0 only when rem is now 0. */
			a += piece;
			off += piece;
		}
	}
	return (size_t)total;
}
