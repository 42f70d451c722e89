// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of sgdma_split_segs(): pure arithmetic, no device.
 */
#include <errno.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <sgdma.h>

#include "fake_module.h"

namespace
{

std::vector<sgdma_seg> split(const std::vector<sgdma_seg> &in, uint64_t max_len, uint64_t boundary)
{
	size_t n = sgdma_split_segs(in.data(), in.size(), max_len, boundary, nullptr, 0);
	EXPECT_NE(n, SIZE_MAX);
	std::vector<sgdma_seg> out(n + 1);
	out[n] = {0xdead, 0xbeef, 0xcafe}; /* canary */
	EXPECT_EQ(sgdma_split_segs(in.data(), in.size(), max_len, boundary, out.data(), n), n);
	EXPECT_EQ(out[n].addr, 0xdeadu);
	EXPECT_EQ(out[n].len, 0xbeefu);
	EXPECT_EQ(out[n].offset, 0xcafeu);
	out.pop_back();
	return out;
}

/* Naive byte-by-byte reference: cut where the limits force it. */
std::vector<sgdma_seg> reference(const std::vector<sgdma_seg> &in, uint64_t max_len,
                                 uint64_t boundary)
{
	std::vector<sgdma_seg> out;

	for (const auto &s : in) {
		uint64_t start = 0;

		for (uint64_t p = 1; p <= s.len; p++) {
			uint64_t a = s.addr + p; /* next byte's address */
			bool cut = p == s.len || (max_len && p - start == max_len) ||
			           (boundary && a % boundary == 0);
			if (cut) {
				out.push_back({s.addr + start, p - start, s.offset + start});
				start = p;
			}
		}
	}
	return out;
}

/* Invariants any correct output satisfies. */
void check_invariants(const std::vector<sgdma_seg> &in, const std::vector<sgdma_seg> &out,
                      uint64_t max_len, uint64_t boundary)
{
	size_t k = 0;

	for (const auto &s : in) {
		uint64_t covered = 0;

		while (covered < s.len) {
			ASSERT_LT(k, out.size());
			const sgdma_seg &p = out[k++];

			ASSERT_GT(p.len, 0u);
			ASSERT_EQ(p.addr, s.addr + covered);
			ASSERT_EQ(p.offset, s.offset + covered);
			ASSERT_LE(p.len, s.len - covered);
			if (max_len) {
				ASSERT_LE(p.len, max_len);
			}
			if (boundary) {
				/* [addr, addr + len) holds no multiple of
				 * boundary after its start */
				uint64_t to_b = boundary - (p.addr & (boundary - 1));
				ASSERT_LE(p.len, to_b);
			}
			covered += p.len;
			/* minimal: a piece ends only where it must */
			if (covered < s.len) {
				uint64_t next = s.addr + covered;
				bool forced = (max_len && p.len == max_len) ||
				              (boundary && (next & (boundary - 1)) == 0);
				ASSERT_TRUE(forced);
			}
		}
	}
	ASSERT_EQ(k, out.size());
}

} // namespace

TEST(Split, Empty)
{
	EXPECT_EQ(sgdma_split_segs(nullptr, 0, 0, 0, nullptr, 0), 0u);
	EXPECT_EQ(sgdma_split_segs(nullptr, 0, 4096, 4096, nullptr, 0), 0u);
	sgdma_seg zero = {100, 0, 0};
	sgdma_seg out = {1, 2, 3};
	EXPECT_EQ(sgdma_split_segs(&zero, 1, 1, 2, &out, 1), 0u);
	EXPECT_EQ(out.addr, 1u); /* untouched */
}

TEST(Split, NoLimitsIsIdentity)
{
	std::vector<sgdma_seg> in = {
	    {0x1000, 0x3000, 0}, {0x9000, 5, 0x3000}, {UINT64_MAX, 1, 0x3005}};
	auto out = split(in, 0, 0);
	ASSERT_EQ(out.size(), 3u);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(out[i].addr, in[i].addr);
		EXPECT_EQ(out[i].len, in[i].len);
		EXPECT_EQ(out[i].offset, in[i].offset);
	}
}

TEST(Split, MaxLen)
{
	std::vector<sgdma_seg> in = {{0x1000, 10000, 7}};
	auto out = split(in, 4096, 0);
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out[0].addr, 0x1000u);
	EXPECT_EQ(out[0].len, 4096u);
	EXPECT_EQ(out[0].offset, 7u);
	EXPECT_EQ(out[1].addr, 0x2000u);
	EXPECT_EQ(out[1].offset, 7u + 4096);
	EXPECT_EQ(out[2].addr, 0x3000u);
	EXPECT_EQ(out[2].len, 10000u - 8192);
	EXPECT_EQ(out[2].offset, 7u + 8192);
}

TEST(Split, Boundary)
{
	/* [0xff0, 0x2010) across 4 KiB boundaries */
	std::vector<sgdma_seg> in = {{0xff0, 0x1020, 0}};
	auto out = split(in, 0, 0x1000);
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out[0].len, 0x10u);
	EXPECT_EQ(out[1].addr, 0x1000u);
	EXPECT_EQ(out[1].len, 0x1000u);
	EXPECT_EQ(out[1].offset, 0x10u);
	EXPECT_EQ(out[2].addr, 0x2000u);
	EXPECT_EQ(out[2].len, 0x10u);
	/* ending exactly on a boundary does not cross it */
	in = {{0x1000, 0x1000, 0}};
	EXPECT_EQ(split(in, 0, 0x1000).size(), 1u);
	/* boundary 1: one byte per piece */
	in = {{5, 7, 0}};
	EXPECT_EQ(split(in, 0, 1).size(), 7u);
	/* kernel-style all-ones mask + 1 wraps to "no boundary" */
	EXPECT_EQ(split(in, 0, UINT64_MAX + 1ULL).size(), 1u);
}

TEST(Split, TopOfAddressSpace)
{
	/* ends exactly at 2^64 */
	std::vector<sgdma_seg> in = {{UINT64_MAX - 9, 10, UINT64_MAX - 9}};
	auto out = split(in, 3, 0);
	ASSERT_EQ(out.size(), 4u);
	EXPECT_EQ(out[3].addr, UINT64_MAX);
	EXPECT_EQ(out[3].len, 1u);
	EXPECT_EQ(out[3].offset, UINT64_MAX);
	/* crossing 2^63 with the largest boundary */
	in = {{(1ULL << 63) - 2, 4, 0}};
	out = split(in, 0, 1ULL << 63);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[1].addr, 1ULL << 63);
	EXPECT_EQ(out[1].offset, 2u);
	/* whole address space, 2^63 boundary */
	in = {{0, UINT64_MAX, 0}};
	out = split(in, 0, 1ULL << 63);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0].len, 1ULL << 63);
	EXPECT_EQ(out[1].len, (1ULL << 63) - 1);
}

TEST(Split, Errors)
{
	sgdma_seg s = {0, 10, 0}, o;

	for (uint64_t b :
	     std::initializer_list<uint64_t>{3ULL, 6ULL, 0x1001ULL, UINT64_MAX, (1ULL << 63) + 1}) {
		errno = 0;
		EXPECT_EQ(sgdma_split_segs(&s, 1, 0, b, &o, 1), SIZE_MAX);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_HAS(sgdma_last_error(), "power of two");
	}
	EXPECT_EQ(sgdma_split_segs(nullptr, 1, 0, 0, &o, 1), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 0, 0, nullptr, 1), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);

	/* addr or offset + len past 2^64; nothing written */
	std::vector<sgdma_seg> in = {{0, 10, 0}, {UINT64_MAX, 2, 0}};
	std::vector<sgdma_seg> out(4, sgdma_seg{7, 7, 7});
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 0, 0, out.data(), 4), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(out[0].addr, 7u);
	in[1] = {0, 2, UINT64_MAX};
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 0, 0, out.data(), 4), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(out[0].addr, 7u);
}

TEST(Split, Overflow)
{
	if (SIZE_MAX != UINT64_MAX)
		GTEST_SKIP() << "64-bit size_t only";
	/* UINT64_MAX pieces == SIZE_MAX: not representable */
	sgdma_seg s = {0, UINT64_MAX, 0};
	errno = 0;
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), SIZE_MAX);
	EXPECT_EQ(errno, EOVERFLOW);
	/* one fewer is fine */
	s.len = UINT64_MAX - 1;
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), SIZE_MAX - 1);
	/* sum over segments overflows */
	std::vector<sgdma_seg> in = {{0, 1ULL << 63, 0}, {0, 1ULL << 63, 0}};
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 1, 0, nullptr, 0), SIZE_MAX);
	EXPECT_EQ(errno, EOVERFLOW);
	/* via boundary chunks: 2^62 chunks of 2 pieces each + head */
	s = {1, UINT64_MAX - 1, 0};
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 2, nullptr, 0), UINT64_MAX - 1);
	/* [1, 2^64 - 1): head [1, 4) 2 pieces, 2^62 - 2 chunks of 2, tail
	 * [2^64 - 4, 2^64 - 1) 2 pieces */
	EXPECT_EQ(sgdma_split_segs(&s, 1, 2, 4, nullptr, 0), 1ULL << 63);
}

TEST(Split, LargeCountsWithoutOutput)
{
	/* count arithmetically, check against a chunk-by-chunk walk */
	std::mt19937_64 rng(42);
	for (int it = 0; it < 200; it++) {
		uint64_t b = 1ULL << (12 + rng() % 10);
		uint64_t m = rng() % 3 ? 1 + rng() % (2 * b) : 0;
		uint64_t a = rng() >> (rng() % 64);
		uint64_t len = 1 + rng() % (b * 1000);
		if (len - 1 > UINT64_MAX - a)
			a = UINT64_MAX - (len - 1);
		sgdma_seg s = {a, len, 0};
		uint64_t want = 0, pos = 0;
		while (pos < len) {
			uint64_t to_b = b - ((a + pos) & (b - 1));
			uint64_t chunk = std::min(to_b, len - pos);
			want += m ? (chunk + m - 1) / m : 1;
			pos += chunk;
		}
		ASSERT_EQ(sgdma_split_segs(&s, 1, m, b, nullptr, 0), want)
		    << "a=" << a << " len=" << len << " m=" << m << " b=" << b;
	}
	sgdma_seg s = {0, 1ULL << 40, 0};
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), 1ULL << 40);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 0, 1ULL << 12, nullptr, 0), 1ULL << 28);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1ULL << 13, 1ULL << 12, nullptr, 0), 1ULL << 28);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1ULL << 11, 1ULL << 12, nullptr, 0), 1ULL << 29);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 3000, 1ULL << 12, nullptr, 0), 1ULL << 29);
}

TEST(Split, SnprintfSemantics)
{
	std::vector<sgdma_seg> in = {{0xff0, 0x1020, 0}, {0x10000, 0x2800, 0x1020}};
	auto full = split(in, 0x800, 0x1000);
	ASSERT_GT(full.size(), 5u);
	for (size_t cap = 0; cap <= full.size() + 2; cap++) {
		std::vector<sgdma_seg> out(cap + 1, sgdma_seg{9, 9, 9});
		EXPECT_EQ(sgdma_split_segs(in.data(), in.size(), 0x800, 0x1000,
		                           cap ? out.data() : nullptr, cap),
		          full.size());
		size_t w = std::min(cap, full.size());
		for (size_t i = 0; i < w; i++) {
			EXPECT_EQ(out[i].addr, full[i].addr);
			EXPECT_EQ(out[i].len, full[i].len);
			EXPECT_EQ(out[i].offset, full[i].offset);
		}
		for (size_t i = w; i <= cap; i++)
			EXPECT_EQ(out[i].addr, 9u);
	}
}

TEST(Split, RandomAgainstReference)
{
	std::mt19937_64 rng(12345);
	const uint64_t near_top[] = {
	    0, 1, 4095, 4096, 1ULL << 32, (1ULL << 63) - 100, UINT64_MAX - 3000};

	for (int it = 0; it < 20000; it++) {
		size_t nin = rng() % 5;
		std::vector<sgdma_seg> in;
		uint64_t off = rng() % 3 ? 0 : rng() % 100000;

		for (size_t i = 0; i < nin; i++) {
			uint64_t len = rng() % 8 ? rng() % 1500 : rng() % 4;
			uint64_t base = near_top[rng() % 7];
			uint64_t a = base + rng() % 2000;
			if (len && len - 1 > UINT64_MAX - a)
				a = UINT64_MAX - (len - 1);
			in.push_back({a, len, off});
			off += len;
		}
		uint64_t max_len = rng() % 4 ? 0 : 1 + rng() % 600;
		if (rng() % 4 == 0)
			max_len = 1 + rng() % 8;
		uint64_t boundary = rng() % 3 ? 0 : 1ULL << (rng() % 11);
		if (rng() % 20 == 0)
			boundary = 1ULL << 63;

		auto got = split(in, max_len, boundary);
		auto want = reference(in, max_len, boundary);
		ASSERT_EQ(got.size(), want.size())
		    << "it=" << it << " max_len=" << max_len << " boundary=" << boundary;
		for (size_t i = 0; i < got.size(); i++) {
			ASSERT_EQ(got[i].addr, want[i].addr) << "it=" << it;
			ASSERT_EQ(got[i].len, want[i].len) << "it=" << it;
			ASSERT_EQ(got[i].offset, want[i].offset) << "it=" << it;
		}
		check_invariants(in, got, max_len, boundary);
		if (::testing::Test::HasFatalFailure())
			FAIL() << "it=" << it;
	}
}

TEST(Split, RandomLargeInvariants)
{
	/* big values the byte-walk reference cannot handle */
	std::mt19937_64 rng(777);

	for (int it = 0; it < 5000; it++) {
		size_t nin = 1 + rng() % 4;
		std::vector<sgdma_seg> in;
		uint64_t b = rng() % 4 ? 1ULL << (12 + rng() % 20) : 0;
		uint64_t m = rng() % 4 ? 0 : (1ULL << (12 + rng() % 20)) + rng() % 4096;
		uint64_t off = 0;

		for (size_t i = 0; i < nin; i++) {
			uint64_t a = rng();
			uint64_t len = 1 + rng() % (1ULL << 24);
			if (len - 1 > UINT64_MAX - a)
				a = UINT64_MAX - (len - 1);
			in.push_back({a, len, off});
			off += len;
		}
		size_t n = sgdma_split_segs(in.data(), in.size(), m, b, nullptr, 0);
		if (n > 100000)
			continue;
		auto got = split(in, m, b);
		check_invariants(in, got, m, b);
		if (::testing::Test::HasFatalFailure())
			FAIL() << "it=" << it;
	}
}
