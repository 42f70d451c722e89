// SPDX-License-Identifier: GPL-2.0
// NUMA placement of registered buffers (sgdma_region_node_pages()), what the
// kernel does when asked to migrate pinned pages, and DMA into buffers on
// each node. Every VM configuration has two nodes, so all of this runs
// everywhere; only the device's own node is specific to the numa
// configuration (edu behind a PCI expander bridge on node 1).
#include "guest.h"

#include <climits>
#include <fstream>

#include <numa.h>
#include <numaif.h>
#include <sys/wait.h>

using namespace sgt;

namespace
{

constexpr size_t kPage = 4096;
constexpr int kNodes = 2;
// move_pages(2) leaves the status of pages it did not migrate unwritten.
constexpr int kUnwritten = INT_MIN;

class NumaTest : public SgdmaDmaTest
{
      protected:
	void SetUp() override
	{
		SgdmaDmaTest::SetUp();
		if (HasFatalFailure())
			return;
		ASSERT_GE(numa_available(), 0) << "no NUMA in this VM";
		ASSERT_EQ(kNodes, numa_num_configured_nodes());
	}

	// Small pages bound to @node (or interleaved when @node < 0), touched.
	static uint8_t *alloc(size_t len, int node)
	{
		void *p =
		    mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return nullptr;
		madvise(p, len, MADV_NOHUGEPAGE);
		if (node >= 0)
			numa_tonode_memory(p, len, node);
		else
			numa_interleave_memory(p, len, numa_all_nodes_ptr);
		memset(p, 0x5a, len);
		return static_cast<uint8_t *>(p);
	}

	// Pages per node of @r; the return value of the call in @ret.
	static std::vector<size_t> node_pages(const sgdma_region *r, int *ret)
	{
		std::vector<size_t> pages(numa_num_possible_nodes());
		*ret = sgdma_region_node_pages(r, pages.data(), static_cast<int>(pages.size()));
		return pages;
	}

	// move_pages(2) of @n pages at @p to @node: its return value, statuses in @status.
	static long move(uint8_t *p, size_t n, int node, std::vector<int> *status)
	{
		std::vector<void *> pages(n);
		std::vector<int> nodes(n, node);
		status->assign(n, kUnwritten);
		for (size_t i = 0; i < n; i++)
			pages[i] = p + i * kPage;
		return move_pages(0, n, pages.data(), nodes.data(), status->data(), MPOL_MF_MOVE);
	}

	// Every page of [p, p + n pages) is on @node, by the kernel's word.
	static ::testing::AssertionResult all_on(uint8_t *p, size_t n, int node)
	{
		for (size_t i = 0; i < n; i++) {
			int got = sgt_page_node(p + i * kPage);
			if (got != node)
				return ::testing::AssertionFailure()
				       << "page " << i << " on node " << got << ", want " << node;
		}
		return ::testing::AssertionSuccess();
	}
};

} // namespace

// sgdma_dev_info() reports the node sysfs shows; in the numa configuration
// that is node 1.
TEST_F(NumaTest, DeviceNodeMatchesSysfs)
{
	struct sgdma_dev_info info;
	ASSERT_EQ(0, sgdma_dev_info(dev, &info));
	std::ifstream f(std::string("/sys/bus/pci/devices/") + sgt_edu_bdf() + "/numa_node");
	int sysfs = -2;
	ASSERT_TRUE(f >> sysfs);
	EXPECT_EQ(sysfs, info.numa_node);
}

TEST_F(NumaTest, DeviceOnNodeOne)
{
	if (!is_config("numa"))
		GTEST_SKIP()
		    << "needs the numa configuration (edu behind a node-1 expander bridge)";
	struct sgdma_dev_info info;
	ASSERT_EQ(0, sgdma_dev_info(dev, &info));
	EXPECT_EQ(1, info.numa_node);
}

TEST_F(NumaTest, BindToEachNode)
{
	const size_t n = 32, len = n * kPage;
	for (int node = 0; node < kNodes; node++) {
		SCOPED_TRACE("node " + std::to_string(node));
		uint8_t *p = alloc(len, node);
		ASSERT_NE(nullptr, p);
		sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		int ret;
		std::vector<size_t> pages = node_pages(r, &ret);
		EXPECT_EQ(node + 1, ret) << sgdma_last_error();
		EXPECT_EQ(n, pages[node]);
		EXPECT_EQ(0u, pages[1 - node]);
		EXPECT_EQ(0, sgdma_unregister(r));
		munmap(p, len);
	}
}

TEST_F(NumaTest, InterleaveSplitsAboutEvenly)
{
	const size_t n = 64, len = n * kPage;
	uint8_t *p = alloc(len, -1);
	ASSERT_NE(nullptr, p);
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	int ret;
	std::vector<size_t> pages = node_pages(r, &ret);
	EXPECT_EQ(2, ret) << sgdma_last_error();
	EXPECT_EQ(n, pages[0] + pages[1]);
	EXPECT_GE(pages[0], n * 4 / 10);
	EXPECT_GE(pages[1], n * 4 / 10);
	EXPECT_EQ(0, sgdma_unregister(r));
	munmap(p, len);
}

// Pages are counted per page the buffer touches, unaligned ends included.
TEST_F(NumaTest, CountsEveryPageTouched)
{
	const size_t len = 4 * kPage;
	uint8_t *p = alloc(len, 1);
	ASSERT_NE(nullptr, p);
	sgdma_region *r = sgdma_dev_register(dev, p + 100, 2 * kPage, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	int ret;
	std::vector<size_t> pages = node_pages(r, &ret);
	EXPECT_EQ(2, ret);
	EXPECT_EQ(3u, pages[1]); // [100, 100 + 8192) spans three pages
	EXPECT_EQ(0u, pages[0]);
	EXPECT_EQ(0, sgdma_unregister(r));
	munmap(p, len);
}

// An array too short for the node a page is on: -ERANGE, and the entries
// it has are still filled in.
TEST_F(NumaTest, ArrayTooShortIsErange)
{
	const size_t len = 4 * kPage;
	uint8_t *p = alloc(len, 1);
	ASSERT_NE(nullptr, p);
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	size_t one = 99;
	errno = 0;
	EXPECT_EQ(-ERANGE, sgdma_region_node_pages(r, &one, 1));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_NE(nullptr, strstr(sgdma_last_error(), "node 1")) << sgdma_last_error();
	EXPECT_EQ(0u, one);
	size_t two[2] = {99, 99};
	EXPECT_EQ(2, sgdma_region_node_pages(r, two, 2)) << sgdma_last_error();
	EXPECT_EQ(4u, two[1]);
	EXPECT_EQ(-EINVAL, sgdma_region_node_pages(r, two, 0));
	EXPECT_EQ(-EINVAL, sgdma_region_node_pages(r, nullptr, 2));
	EXPECT_EQ(0, sgdma_unregister(r));
	munmap(p, len);
}

// Regions belong to the process that opened the device.
TEST_F(NumaTest, ForkedChildGetsEperm)
{
	const size_t len = 4 * kPage;
	uint8_t *p = alloc(len, 0);
	ASSERT_NE(nullptr, p);
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		size_t pages[2];
		_exit(sgdma_region_node_pages(r, pages, 2) == -EPERM && errno == EPERM ? 0 : 1);
	}
	int st = 0;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
	EXPECT_EQ(0, sgdma_unregister(r));
	munmap(p, len);
}

// What the kernel does with FOLL_LONGTERM-pinned pages asked to move:
// move_pages(2) migrates none of them, returns a positive count of pages
// not migrated (all of them from 6.1 on; 5.10 counts one fewer) and leaves
// their status entries unwritten; the pages stay put.  An unregistered
// buffer moves (the control), and so does the same buffer once
// unregistered.
TEST_F(NumaTest, PinnedPagesDoNotMoveWithMovePages)
{
	const size_t n = 16, len = n * kPage;
	uint8_t *p = alloc(len, 0), *control = alloc(len, 0);
	ASSERT_TRUE(p && control);
	numa_setlocal_memory(p, len); // only the pin may hold the pages
	numa_setlocal_memory(control, len);
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	std::vector<int> status;

	long not_moved = move(p, n, 1, &status);
	if (kernel_at_least(6, 1)) {
		EXPECT_EQ(static_cast<long>(n), not_moved) << strerror(errno);
	} else {
		EXPECT_GE(not_moved, static_cast<long>(n) - 1) << strerror(errno);
	}
	for (size_t i = 0; i < n; i++)
		EXPECT_EQ(kUnwritten, status[i]) << "page " << i;
	int ret;
	std::vector<size_t> pages = node_pages(r, &ret);
	EXPECT_EQ(n, pages[0]);
	EXPECT_EQ(0u, pages[1]);

	EXPECT_EQ(0, move(control, n, 1, &status)) << strerror(errno);
	for (size_t i = 0; i < n; i++)
		EXPECT_EQ(1, status[i]) << "control page " << i;
	EXPECT_TRUE(all_on(control, n, 1));

	// The data still lands where the application reads it.
	fill_pattern(control, 2048, 5);
	sgdma_region *rs = sgdma_dev_register(dev, control, 2048, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	EXPECT_EQ(0, edu_copy(edu, rs, r, 2048));
	EXPECT_EQ(0, sgdma_sync_for_cpu(r, 0, 2048));
	EXPECT_EQ(-1, first_mismatch(control, p, 2048));
	EXPECT_EQ(0, sgdma_unregister(rs));

	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(0, move(p, n, 1, &status)) << strerror(errno);
	EXPECT_TRUE(all_on(p, n, 1)) << "after unregister the pages move";
	munmap(p, len);
	munmap(control, len);
}

// migrate_pages(2) of the whole process from node 0 to node 1 moves the
// unregistered buffer and leaves the registered one (and counts it as not
// moved).
TEST_F(NumaTest, PinnedPagesDoNotMoveWithMigratePages)
{
	const size_t n = 16, len = n * kPage;
	uint8_t *p = alloc(len, 0), *control = alloc(len, 0);
	ASSERT_TRUE(p && control);
	numa_setlocal_memory(p, len);
	numa_setlocal_memory(control, len);
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();

	struct bitmask *from = numa_allocate_nodemask(), *to = numa_allocate_nodemask();
	numa_bitmask_setbit(from, 0);
	numa_bitmask_setbit(to, 1);
	int not_moved = numa_migrate_pages(0, from, to);
	numa_free_nodemask(from);
	numa_free_nodemask(to);
	EXPECT_GE(not_moved, static_cast<int>(n)) << strerror(errno);
	EXPECT_TRUE(all_on(p, n, 0));
	EXPECT_TRUE(all_on(control, n, 1));

	EXPECT_EQ(0, sgdma_unregister(r));
	munmap(p, len);
	munmap(control, len);
}

// DMA into a buffer on the device's node (node 1 in the numa configuration)
// and on the other node: every byte arrives.
TEST_F(NumaTest, DmaIntoBufferOnEachNodeLands)
{
	const size_t len = 2 * kPage;
	for (int node = 1; node >= 0; node--) {
		SCOPED_TRACE("node " + std::to_string(node));
		uint8_t *src = alloc(len, node), *dst = alloc(len, node);
		ASSERT_TRUE(src && dst);
		EXPECT_TRUE(all_on(dst, 2, node));
		check_round_trip(src, dst, len);
		munmap(src, len);
		munmap(dst, len);
	}
}
