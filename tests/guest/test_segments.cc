// SPDX-License-Identifier: GPL-2.0
// What sgdma reports: the node, the device info, and segments that cover the
// buffer exactly, checked against ground truth for each DMA configuration.
#include "guest.h"

#include <sys/stat.h>

using namespace sgt;

TEST_F(SgdmaTest, NodeAppearsAndInfoDescribesDevice)
{
	struct stat st;
	ASSERT_EQ(0, stat(node_path().c_str(), &st)) << node_path();
	EXPECT_TRUE(S_ISCHR(st.st_mode));

	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	struct sgdma_dev_info info;
	ASSERT_EQ(0, sgdma_dev_info(dev, &info));
	EXPECT_STREQ(sgt_edu_bdf(), info.name);
	EXPECT_EQ(is_config("iommu"), info.iommu);
	uint64_t want_mask = mask_bits() == 64 ? ~0ULL : (1ULL << mask_bits()) - 1;
	EXPECT_EQ(want_mask, info.dma_mask);
	// Exposing lifts the PCI default of 64 KiB so huge pages stay whole.
	EXPECT_GE(info.max_segment, 1ULL << 30);
	EXPECT_EQ(0xffffffffULL, info.seg_boundary);

	char path[256];
	long long v;
	ASSERT_EQ(0, sgt_read_ll(sgt_dev_attr_path("iommu", path, sizeof(path)), &v));
	EXPECT_EQ(is_config("iommu"), v);
	ASSERT_EQ(0, sgt_read_ll(sgt_dev_attr_path("dma_mask_bits", path, sizeof(path)), &v));
	EXPECT_EQ(mask_bits(), v);
	ASSERT_EQ(0, sgt_read_ll(sgt_dev_attr_path("numa_node", path, sizeof(path)), &v));
	EXPECT_EQ(info.numa_node, v);
	sgdma_close(dev);
}

// Segments are in order, without gaps, offsets are prefix sums, lengths sum
// to the buffer's, and the first address keeps the buffer's page offset.
// Neighbours on the bus are one segment unless a limit cut them.
static void expect_exact_cover(const sgdma_region *r, const void *buf, size_t len,
                               uint64_t max_seg = 0xfffff000ULL, uint64_t boundary = 0xffffffffULL)
{
	size_t n = sgdma_region_nsegs(r);
	const sgdma_seg *s = sgdma_region_segs(r);
	ASSERT_GT(n, 0u);
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(off, s[i].offset) << "segment " << i;
		EXPECT_GT(s[i].len, 0u) << "segment " << i;
		off += s[i].len;
		if (i > 0 && s[i - 1].addr + s[i - 1].len == s[i].addr) {
			EXPECT_TRUE(s[i - 1].len == max_seg || (s[i].addr & boundary) == 0)
			    << "segments " << i - 1 << " and " << i << " are contiguous on the bus";
		}
	}
	EXPECT_EQ(len, off);
	uintptr_t page_off = reinterpret_cast<uintptr_t>(buf) & 4095;
	if (keeps_page_offset()) {
		EXPECT_EQ(page_off, s[0].addr & 4095);
	}
}

TEST_F(SgdmaTest, SegmentsCoverBufferExactly)
{
	struct Case {
		size_t map, off, len;
	} cases[] = {
	    {4096, 0, 1},           {4096, 4095, 1},       {4096, 0, 4096},
	    {5 * 4096, 100, 12345}, {1 << 20, 0, 1 << 20}, {(4 << 20) + 4096, 777, 4 << 20},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE("off " + std::to_string(c.off) + " len " + std::to_string(c.len));
		Mapping m(c.map);
		ASSERT_TRUE(m.ok());
		memset(m.bytes(), 1, c.map);
		sgdma_region *r = sgdma_register(m.bytes() + c.off, c.len);
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		expect_exact_cover(r, m.bytes() + c.off, c.len);
		EXPECT_EQ(c.len, sgdma_region_len(r));
		EXPECT_EQ(0, sgdma_unregister(r));
	}
}

TEST_F(SgdmaTest, GroundTruthForConfiguration)
{
	const size_t pages = 64, len = pages * 4096;
	Mapping m(len);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, len);
	sgdma_region *r = sgdma_register(m.bytes(), len);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	size_t n = sgdma_region_nsegs(r);

	if (is_config("direct") || is_config("numa")) {
		// Without an IOMMU or bouncing, a bus address is the physical one.
		for (size_t p = 0; p < pages; p++) {
			size_t contig;
			uint64_t bus = bus_at(r, p * 4096, &contig);
			EXPECT_EQ(pagemap_phys(m.bytes() + p * 4096), bus) << "page " << p;
		}
	} else if (is_config("iommu")) {
		// The IOMMU maps the scattered pages to one contiguous IOVA range.
		EXPECT_LT(n, pages);
		EXPECT_EQ(1u, n);
	} else if (is_config("bounce")) {
		for (size_t i = 0; i < n; i++) {
			const sgdma_seg &s = sgdma_region_segs(r)[i];
			EXPECT_LE(s.addr + s.len - 1, 0x0fffffffULL) << "segment " << i;
		}
	} else {
		ADD_FAILURE() << "unknown SGDMA_CONFIG '" << config() << "'";
	}
	EXPECT_EQ(0, sgdma_unregister(r));
}

// A large region (the library pages through GET_SEGS) and the split helper
// cutting its segments to a descriptor limit: 2 KiB, not crossing 4 KiB.
TEST_F(SgdmaTest, LargeRegionAndDescriptorSplit)
{
	const size_t pages = 5000, len = pages * 4096;
	Mapping m(len);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, len);
	sgdma_region *r = sgdma_register(m.bytes(), len);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	expect_exact_cover(r, m.bytes(), len);

	size_t need =
	    sgdma_split_segs(sgdma_region_segs(r), sgdma_region_nsegs(r), 2048, 4096, nullptr, 0);
	EXPECT_EQ(len / 2048, need);
	std::vector<sgdma_seg> out(need);
	ASSERT_EQ(need, sgdma_split_segs(sgdma_region_segs(r), sgdma_region_nsegs(r), 2048, 4096,
	                                 out.data(), out.size()));
	uint64_t off = 0;
	for (const sgdma_seg &s : out) {
		EXPECT_EQ(off, s.offset);
		EXPECT_LE(s.len, 2048u);
		EXPECT_EQ(s.addr / 4096, (s.addr + s.len - 1) / 4096);
		off += s.len;
	}
	EXPECT_EQ(len, off);
	EXPECT_EQ(0, sgdma_unregister(r));
}

// Admin-set limits shape what GET_SEGS reports.
TEST_F(SgdmaTest, MaxSegmentAndBoundaryLimitsApply)
{
	char seg_path[256], bnd_path[256];
	sgt_dev_attr_path("max_segment_size", seg_path, sizeof(seg_path));
	sgt_dev_attr_path("segment_boundary", bnd_path, sizeof(bnd_path));
	long long old_seg, old_bnd;
	ASSERT_EQ(0, sgt_read_ll(seg_path, &old_seg));
	ASSERT_EQ(0, sgt_read_ll(bnd_path, &old_bnd));
	ASSERT_EQ(0, sgt_write_str(seg_path, "8192"));
	ASSERT_EQ(0, sgt_write_str(bnd_path, "0x3fff"));
	EXPECT_EQ(-EINVAL, sgt_write_str(seg_path, "100"));
	EXPECT_EQ(-EINVAL, sgt_write_str(bnd_path, "0x3000"));

	const size_t len = 64 * 4096;
	Mapping m(len + 4096);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, len + 4096);
	sgdma_region *r = sgdma_register(m.bytes() + 512, len);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	expect_exact_cover(r, m.bytes() + 512, len, 8192, 0x3fff);
	for (size_t i = 0; i < sgdma_region_nsegs(r); i++) {
		const sgdma_seg &s = sgdma_region_segs(r)[i];
		EXPECT_LE(s.len, 8192u) << "segment " << i;
		EXPECT_EQ(s.addr >> 14, (s.addr + s.len - 1) >> 14) << "segment " << i;
	}
	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(0, sgt_write_str(seg_path, std::to_string(old_seg).c_str()));
	EXPECT_EQ(0, sgt_write_str(bnd_path, std::to_string(old_bnd).c_str()));
}

// A transparent huge page is physically contiguous: one segment (direct),
// or merged by the IOMMU; in bounce mode swiotlb cuts it into pieces.
TEST_F(SgdmaTest, TransparentHugePageIsFewSegments)
{
	const size_t huge = 2 << 20;
	Mapping m(2 * huge);
	ASSERT_TRUE(m.ok());
	uint8_t *p = reinterpret_cast<uint8_t *>(
	    (reinterpret_cast<uintptr_t>(m.bytes()) + huge - 1) & ~(uintptr_t)(huge - 1));
	ASSERT_EQ(0, madvise(p, huge, MADV_HUGEPAGE));
	memset(p, 1, huge);
	uint64_t first = pagemap_phys(p), last = pagemap_phys(p + huge - 4096);
	if (last != first + huge - 4096)
		GTEST_SKIP() << "kernel gave no transparent huge page";
	sgdma_region *r = sgdma_register(p, huge);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	if (is_config("bounce"))
		EXPECT_LE(sgdma_region_nsegs(r), 16u); // swiotlb maps at most 252 KiB at once
	else
		EXPECT_EQ(1u, sgdma_region_nsegs(r));
	EXPECT_EQ(0, sgdma_unregister(r));
}
