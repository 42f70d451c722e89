// SPDX-License-Identifier: GPL-2.0
// Shared fixture and helpers of the in-VM suites. The tests call only the
// public C API (sgdma.h), the uapi for raw-ioctl checks, and the C helpers
// in tests/common.
#ifndef SGDMA_GUEST_H
#define SGDMA_GUEST_H

#include "fixture.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

extern "C" {
#include <sgdma.h>
#include "edu.h"
}

namespace sgt
{

// Anonymous mapping owned by the test; unmapped on destruction.
struct Mapping {
	void *base = MAP_FAILED;
	size_t size = 0;
	Mapping(size_t len, int prot = PROT_READ | PROT_WRITE,
	        int flags = MAP_PRIVATE | MAP_ANONYMOUS)
	    : size(len)
	{
		base = mmap(nullptr, len, prot, flags, -1, 0);
	}
	~Mapping()
	{
		if (base != MAP_FAILED)
			munmap(base, size);
	}
	uint8_t *bytes() const { return static_cast<uint8_t *>(base); }
	bool ok() const { return base != MAP_FAILED; }
};

// Free pages of one zone of one node, from /proc/zoneinfo; -1 if absent.
inline long zone_free_pages(int node, const std::string &zone)
{
	std::ifstream in("/proc/zoneinfo");
	std::string line, want = "Node " + std::to_string(node) + ", zone";
	bool in_zone = false;
	while (std::getline(in, line)) {
		if (line.rfind("Node ", 0) == 0) {
			std::string name;
			if (line.rfind(want, 0) == 0)
				std::istringstream(line.substr(want.size())) >> name;
			in_zone = name == zone;
		} else if (in_zone && line.find("pages free") != std::string::npos) {
			return std::stol(line.substr(line.find("free") + 4));
		}
	}
	return -1;
}

inline void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = static_cast<uint8_t>((i * 131u + seed * 7u + (i >> 8)) ^ (i >> 16));
}

// Index of the first differing byte, or -1 when equal.
inline long first_mismatch(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return static_cast<long>(i);
	return -1;
}

// Bus address of byte @off of @r and how many bytes stay contiguous from it.
inline uint64_t bus_at(const sgdma_region *r, size_t off, size_t *contig)
{
	const sgdma_seg *s = sgdma_region_segs(r);
	for (size_t i = 0; i < sgdma_region_nsegs(r); i++)
		if (off >= s[i].offset && off < s[i].offset + s[i].len) {
			*contig = s[i].offset + s[i].len - off;
			return s[i].addr + (off - s[i].offset);
		}
	*contig = 0;
	return 0;
}

// The edu device moves at most this much per transfer here.
constexpr size_t kEduChunk = 2048;

// Copy @len bytes from region @src to region @dst through the edu device's
// internal buffer, using only bus addresses sgdma returned. 0 or -errno.
inline int edu_copy(struct edu *e, const sgdma_region *src, const sgdma_region *dst, size_t len)
{
	for (size_t off = 0; off < len;) {
		size_t sc, dc;
		uint64_t sa = bus_at(src, off, &sc), da = bus_at(dst, off, &dc);
		if (!sc || !dc)
			return -ERANGE;
		size_t n = std::min({len - off, sc, dc, kEduChunk});
		int ret = edu_dma_to_device(e, sa, 0, n);
		if (!ret)
			ret = edu_dma_from_device(e, 0, da, n);
		if (ret)
			return ret;
		off += n;
	}
	return 0;
}

// Also holds an open edu device for DMA.
class SgdmaDmaTest : public SgdmaTest
{
      protected:
	struct edu edu_state = {};
	struct edu *edu = nullptr;
	sgdma_dev *dev = nullptr;
	void SetUp() override
	{
		SgdmaTest::SetUp();
		if (HasFatalFailure())
			return;
		int ret = edu_open(&edu_state, sgt_edu_bdf());
		ASSERT_EQ(0, ret) << "edu_open: " << strerror(-ret);
		edu = &edu_state;
		dev = sgdma_open(sgt_edu_bdf());
		ASSERT_NE(nullptr, dev) << sgdma_last_error();
	}
	void TearDown() override
	{
		sgdma_close(dev);
		if (edu)
			edu_close(edu);
		SgdmaTest::TearDown();
	}

	// src -> edu -> dst round trip of @len bytes at offset @off in two fresh
	// buffers of @map_len bytes each, verifying every byte.
	void round_trip(size_t map_len, size_t off, size_t len, int extra_map_flags = 0)
	{
		Mapping a(map_len, PROT_READ | PROT_WRITE,
		          MAP_PRIVATE | MAP_ANONYMOUS | extra_map_flags);
		Mapping b(map_len, PROT_READ | PROT_WRITE,
		          MAP_PRIVATE | MAP_ANONYMOUS | extra_map_flags);
		ASSERT_TRUE(a.ok() && b.ok());
		check_round_trip(a.bytes() + off, b.bytes() + off, len);
	}

	// One page the device reads (holding pattern @seed) and one it writes
	// (holding 0x5a), both registered.
	struct PagePair {
		Mapping src{4096}, dst{4096};
		sgdma_region *rs = nullptr, *rd = nullptr;
		// A failed assertion returns early: leave nothing registered
		// for the tests after it.
		~PagePair()
		{
			if (rs)
				sgdma_unregister(rs);
			if (rd)
				sgdma_unregister(rd);
		}
	};
	void register_pages(PagePair &p, uint32_t seed)
	{
		ASSERT_TRUE(p.src.ok() && p.dst.ok());
		fill_pattern(p.src.bytes(), 4096, seed);
		memset(p.dst.bytes(), 0x5a, 4096);
		p.rs = sgdma_dev_register(dev, p.src.bytes(), 4096, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, p.rs) << sgdma_last_error();
		p.rd = sgdma_dev_register(dev, p.dst.bytes(), 4096, SGDMA_FROM_DEVICE);
		ASSERT_NE(nullptr, p.rd) << sgdma_last_error();
	}
	void unregister_pages(PagePair &p)
	{
		EXPECT_EQ(0, sgdma_unregister(p.rs));
		EXPECT_EQ(0, sgdma_unregister(p.rd));
		p.rs = p.rd = nullptr;
	}

	void check_round_trip(uint8_t *src, uint8_t *dst, size_t len)
	{
		fill_pattern(src, len, static_cast<uint32_t>(len));
		memset(dst, 0x5a, len);
		sgdma_region *rs = sgdma_dev_register(dev, src, len, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, rs) << sgdma_last_error();
		sgdma_region *rd = sgdma_dev_register(dev, dst, len, SGDMA_FROM_DEVICE);
		ASSERT_NE(nullptr, rd) << sgdma_last_error();
		EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
		EXPECT_EQ(0, sgdma_sync_for_device(rd, 0, len));
		EXPECT_EQ(0, edu_copy(edu, rs, rd, len));
		EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
		std::vector<uint8_t> want(len);
		fill_pattern(want.data(), len, static_cast<uint32_t>(len));
		EXPECT_EQ(-1, first_mismatch(want.data(), dst, len)) << "len " << len;
		EXPECT_EQ(0, sgdma_unregister(rs));
		EXPECT_EQ(0, sgdma_unregister(rd));
	}
};

} // namespace sgt

#endif
