// SPDX-License-Identifier: GPL-2.0
// Real DMA by QEMU's edu device to and from registered buffers, using only
// the bus addresses sgdma returned; every byte is checked.
#include "guest.h"

#include <numa.h>
#include <numaif.h>

using namespace sgt;

TEST_F(SgdmaDmaTest, OneByte)
{
	round_trip(4096, 0, 1);
}

TEST_F(SgdmaDmaTest, OnePage)
{
	round_trip(4096, 0, 4096);
}

TEST_F(SgdmaDmaTest, UnalignedAcrossPages)
{
	round_trip(4 * 4096, 1000, 2 * 4096 + 1234);
}

TEST_F(SgdmaDmaTest, RoundTripAcrossManyPages)
{
	round_trip(12 * 4096, 4096 - 64, 8 * 4096 + 100);
}

// Each edu transfer takes 100 ms here: this is the long one (about 7 min).
TEST_F(SgdmaDmaTest, FourMiB)
{
	round_trip((4 << 20) + 4096, 4096 - 64, 4 << 20);
}

TEST_F(SgdmaDmaTest, TransparentHugePages)
{
	const size_t huge = 2 << 20;
	Mapping a(2 * huge), b(2 * huge);
	ASSERT_TRUE(a.ok() && b.ok());
	auto align = [&](uint8_t *p) {
		return reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(p) + huge - 1) &
		                                   ~(uintptr_t)(huge - 1));
	};
	uint8_t *src = align(a.bytes()), *dst = align(b.bytes());
	ASSERT_EQ(0, madvise(src, huge, MADV_HUGEPAGE));
	ASSERT_EQ(0, madvise(dst, huge, MADV_HUGEPAGE));
	memset(src, 0, huge);
	memset(dst, 0, huge);
	if (pagemap_phys(src + huge - 4096) != pagemap_phys(src) + huge - 4096 ||
	    pagemap_phys(dst + huge - 4096) != pagemap_phys(dst) + huge - 4096)
		GTEST_SKIP() << "kernel gave no transparent huge page";
	check_round_trip(src, dst, huge);
}

// A buffer bound to each NUMA node: the pages are there, and DMA works.
TEST_F(SgdmaDmaTest, BufferOnEachNumaNode)
{
	ASSERT_EQ(0, numa_available() < 0 ? -1 : 0) << "no NUMA in this VM";
	ASSERT_EQ(2, numa_num_configured_nodes());
	const size_t len = 4 * 4096;
	for (int node = 0; node < 2; node++) {
		SCOPED_TRACE("node " + std::to_string(node));
		auto *src = static_cast<uint8_t *>(numa_alloc_onnode(len, node));
		auto *dst = static_cast<uint8_t *>(numa_alloc_onnode(len, node));
		ASSERT_TRUE(src && dst);
		memset(src, 0, len);
		memset(dst, 0, len);
		for (size_t off = 0; off < len; off += 4096) {
			EXPECT_EQ(node, sgt_page_node(src + off));
			EXPECT_EQ(node, sgt_page_node(dst + off));
		}
		check_round_trip(src, dst, len);
		numa_free(src, len);
		numa_free(dst, len);
	}
}

// Under the IOMMU, a raw physical address is not a bus address: the device's
// write faults and does not land, while sgdma's address for the same page works.
TEST_F(SgdmaDmaTest, IommuBlocksRawPhysicalAddress)
{
	if (!is_config("iommu"))
		GTEST_SKIP() << "needs the iommu configuration";
	PagePair p;
	ASSERT_NO_FATAL_FAILURE(register_pages(p, 99));
	Mapping &src = p.src, &dst = p.dst;
	sgdma_region *rs = p.rs, *rd = p.rd;
	uint64_t phys = pagemap_phys(dst.bytes());
	ASSERT_NE(0u, phys);
	ASSERT_NE(phys, sgdma_region_segs(rd)[0].addr);

	ASSERT_EQ(0, edu_dma_to_device(edu, sgdma_region_segs(rs)[0].addr, 0, 1024));
	ASSERT_EQ(0, edu_dma_from_device(edu, 0, phys, 1024)); // faults in the IOMMU
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 4096));
	for (size_t i = 0; i < 1024; i++)
		ASSERT_EQ(0x5a, dst.bytes()[i]) << "raw physical DMA landed at byte " << i;

	ASSERT_EQ(0, edu_dma_from_device(edu, 0, sgdma_region_segs(rd)[0].addr, 1024));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 4096));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), 1024));
	unregister_pages(p);
}

// The bounce configuration's premise: user pages lie beyond the device's
// 28-bit reach. Node 0 also holds the memory below 256 MiB, and when its
// Normal zone runs out (a debug kernel's KASAN shadow lives there) the
// allocator would fall back to node 0's low zones before node 1; sgvm's
// lowmem reserve keeps user pages out of them. Prefer node 0 for more than
// its Normal zone has free, so that the fallback is taken.
TEST_F(SgdmaDmaTest, BounceUserPagesLieBeyondDeviceReach)
{
	if (!is_config("bounce"))
		GTEST_SKIP() << "needs the bounce configuration";
	const long free_pages = zone_free_pages(0, "Normal");
	ASSERT_GT(free_pages, 0) << "no Normal zone on node 0 in /proc/zoneinfo";
	const size_t len = (static_cast<size_t>(free_pages) + (32 << 20) / 4096) * 4096;
	Mapping m(len);
	ASSERT_TRUE(m.ok());
	unsigned long node0 = 1;
	ASSERT_EQ(0, mbind(m.base, len, MPOL_PREFERRED, &node0, 2, 0)) << strerror(errno);
	for (size_t off = 0; off < len; off += 4096)
		m.bytes()[off] = 1;

	// All pages at once: a system call per page is slow on the debug kernel.
	const size_t n = len / 4096;
	std::vector<uint64_t> frame(n);
	std::vector<void *> pages(n);
	std::vector<int> node(n, -1);
	ASSERT_EQ(0, pagemap_frames(m.base, n, frame.data()));
	for (size_t i = 0; i < n; i++)
		pages[i] = m.bytes() + i * 4096;
	ASSERT_EQ(0, move_pages(0, n, pages.data(), nullptr, node.data(), 0)) << strerror(errno);

	size_t low = 0, elsewhere = 0;
	uint64_t first_low = 0;
	for (size_t i = 0; i < n; i++) {
		ASSERT_NE(0u, frame[i]) << "no physical address for page " << i;
		if (frame[i] * 4096 < (1ull << 28) && !low++)
			first_low = frame[i] * 4096;
		elsewhere += node[i] != 0;
	}
	EXPECT_GT(elsewhere, 0u) << "node 0 held it all: the fallback was not taken";
	EXPECT_EQ(0u, low) << "user pages within the device's reach, the first at physical 0x"
	                   << std::hex << first_low;
}

// With bounce buffers the device writes the bounce page; the data reaches the
// user's page only through sync_for_cpu (or unregister).
TEST_F(SgdmaDmaTest, BounceDataArrivesOnlyThroughSync)
{
	if (!is_config("bounce"))
		GTEST_SKIP() << "needs the bounce configuration";
	PagePair p;
	ASSERT_NO_FATAL_FAILURE(register_pages(p, 7));
	Mapping &src = p.src, &dst = p.dst;
	sgdma_region *rs = p.rs, *rd = p.rd;
	uint64_t bus = sgdma_region_segs(rd)[0].addr;
	ASSERT_NE(pagemap_phys(dst.bytes()), bus) << "page was not bounced";
	ASSERT_NE(pagemap_phys(src.bytes()), sgdma_region_segs(rs)[0].addr)
	    << "page was not bounced";

	ASSERT_EQ(0, edu_copy(edu, rs, rd, 2048));
	for (size_t i = 0; i < 2048; i++)
		ASSERT_EQ(0x5a, dst.bytes()[i]) << "data arrived before sync at byte " << i;
	// A partial sync brings exactly its bytes, no more.
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 1000));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), 1000));
	for (size_t i = 1000; i < 2048; i++)
		ASSERT_EQ(0x5a, dst.bytes()[i]) << "byte " << i << " synced without being asked";
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 1000, 1048));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), 2048));

	// And the other way: CPU writes reach the device only after sync_for_device.
	fill_pattern(src.bytes(), 4096, 8);
	ASSERT_EQ(0, edu_copy(edu, rs, rd, 2048));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 2048));
	std::vector<uint8_t> old(4096);
	fill_pattern(old.data(), 4096, 7);
	EXPECT_EQ(-1, first_mismatch(old.data(), dst.bytes(), 2048))
	    << "device saw the CPU's write before sync_for_device";
	ASSERT_EQ(0, sgdma_sync_for_device(rs, 0, 4096));
	ASSERT_EQ(0, edu_copy(edu, rs, rd, 2048));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 2048));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), 2048));

	unregister_pages(p);
}
