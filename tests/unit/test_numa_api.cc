// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of sgdma_region_node_pages(): argument validation, and
 * the counting over regions registered with the fake module
 * (fake_module.h).  The host's pages are not pinned by the fake, so every
 * buffer here is touched before it is asked about, unless the test is about
 * pages that are not there.  Pages on several nodes, and a page beyond
 * max_nodes, need a NUMA machine: tests/guest/test_numa.cc checks them in
 * the numa VM.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sgdma.h>

#include "fake_module.h"

namespace
{

/* Validation must fail before this is dereferenced: any access is a bug. */
const sgdma_region *never_dereferenced()
{
	static const char dummy[1] = {0};
	return reinterpret_cast<const sgdma_region *>(dummy);
}

::testing::AssertionResult fails_with(int ret, int err, const char *needle)
{
	std::string msg = sgdma_last_error();

	if (ret != -err)
		return ::testing::AssertionFailure() << "returned " << ret << ", want " << -err;
	if (errno != err)
		return ::testing::AssertionFailure() << "errno " << errno << ", want " << err;
	if (msg.find("sgdma_region_node_pages: ") != 0 || msg.find(needle) == std::string::npos)
		return ::testing::AssertionFailure()
		       << "message \"" << msg << "\" does not name \"" << needle << "\"";
	return ::testing::AssertionSuccess();
}

} // namespace

TEST(NodePages, NullRegion)
{
	size_t pages[4] = {7, 7, 7, 7};

	errno = 0;
	EXPECT_TRUE(fails_with(sgdma_region_node_pages(nullptr, pages, 4), EINVAL, "region"));
	for (size_t p : pages)
		EXPECT_EQ(p, 7u) << "written on error";
}

TEST(NodePages, NullArray)
{
	errno = 0;
	EXPECT_TRUE(fails_with(sgdma_region_node_pages(never_dereferenced(), nullptr, 4), EINVAL,
	                       "pages_per_node"));
	EXPECT_TRUE(fails_with(sgdma_region_node_pages(never_dereferenced(), nullptr, 0), EINVAL,
	                       "pages_per_node"));
}

TEST(NodePages, MaxNodesBelowOne)
{
	size_t pages[1] = {7};

	for (int max : {0, -1, INT_MIN}) {
		errno = 0;
		EXPECT_TRUE(fails_with(sgdma_region_node_pages(never_dereferenced(), pages, max),
		                       EINVAL, "max_nodes"))
		    << "max_nodes " << max;
		EXPECT_EQ(pages[0], 7u) << "written on error";
	}
}

TEST(NodePages, NullRegionCheckedFirst)
{
	errno = 0;
	EXPECT_TRUE(fails_with(sgdma_region_node_pages(nullptr, nullptr, 0), EINVAL, "region"));
}

/* ---- counting, over regions of the fake module -------------------------- */

/* Room for every node a page can be on (MAX_NUMNODES is at most 1024). */
constexpr int kMaxNodes = 1024;

class NodeCount : public DevDir
{
      protected:
	sgdma_dev *dev = nullptr;
	size_t psz = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	char *map = nullptr;
	size_t map_len = 0;

	void SetUp() override
	{
		DevDir::SetUp();
		add("0000:00:03.0");
		dev = sgdma_open("0000:00:03.0");
		ASSERT_NE(dev, nullptr) << sgdma_last_error();
		if (syscall(SYS_move_pages, 0, 0UL, nullptr, nullptr, nullptr, 0) < 0 &&
		    errno == ENOSYS)
			GTEST_SKIP() << "the host kernel has no NUMA support";
	}

	void TearDown() override
	{
		if (map)
			munmap(map, map_len);
		sgdma_close(dev);
		DevDir::TearDown();
	}

	/* @pages fresh anonymous pages, not touched. */
	char *fresh(size_t pages)
	{
		map_len = pages * psz;
		void *p = mmap(nullptr, map_len, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		EXPECT_NE(p, MAP_FAILED);
		map = p == MAP_FAILED ? nullptr : static_cast<char *>(p);
		return map;
	}

	/* The node of the page at @addr, asked another way: get_mempolicy(2). */
	static int node_of(const void *addr)
	{
		const unsigned long mpol_f_node = 1, mpol_f_addr = 2;
		int node = -1;

		if (syscall(SYS_get_mempolicy, &node, nullptr, 0UL, addr,
		            mpol_f_node | mpol_f_addr) < 0)
			return -1;
		return node;
	}

	/* Per-node counts of the pages [@first, @first + @n * psz), by node_of(). */
	std::vector<size_t> expected(const char *first, size_t n)
	{
		std::vector<size_t> want(kMaxNodes);

		for (size_t i = 0; i < n; i++) {
			int node = node_of(first + i * psz);

			EXPECT_GE(node, 0);
			EXPECT_LT(node, kMaxNodes);
			if (node >= 0 && node < kMaxNodes)
				want[static_cast<size_t>(node)]++;
		}
		return want;
	}

	static int seen(const std::vector<size_t> &counts)
	{
		int s = 0;

		for (size_t i = 0; i < counts.size(); i++)
			if (counts[i])
				s = static_cast<int>(i) + 1;
		return s;
	}
};

TEST_F(NodeCount, EveryPageTheBufferTouches)
{
	/* 100 bytes into the first page, ending 1 byte into the third. */
	char *p = fresh(4);
	ASSERT_NE(p, nullptr);
	memset(p, 1, 4 * psz);
	sgdma_region *r = sgdma_dev_register(dev, p + 100, 2 * psz - 99, SGDMA_TO_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();

	std::vector<size_t> got(kMaxNodes, 7);
	int ret = sgdma_region_node_pages(r, got.data(), kMaxNodes);
	std::vector<size_t> want = expected(p, 3);
	EXPECT_EQ(ret, seen(want)) << sgdma_last_error();
	EXPECT_GE(ret, 1);
	EXPECT_EQ(std::accumulate(got.begin(), got.end(), size_t{0}), 3u);
	EXPECT_EQ(got, want); /* nodes without pages read 0, not 7 */
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(NodeCount, ManyPagesInBatches)
{
	const size_t n = 1500; /* several move_pages(2) calls */
	char *p = fresh(n);
	ASSERT_NE(p, nullptr);
	memset(p, 1, n * psz);
	sgdma_region *r = sgdma_dev_register(dev, p, n * psz, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(r, nullptr) << sgdma_last_error();

	std::vector<size_t> got(kMaxNodes);
	int ret = sgdma_region_node_pages(r, got.data(), kMaxNodes);
	std::vector<size_t> want = expected(p, n);
	EXPECT_EQ(ret, seen(want)) << sgdma_last_error();
	EXPECT_EQ(std::accumulate(got.begin(), got.end(), size_t{0}), n);
	EXPECT_EQ(got, want);
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(NodeCount, PagesNotThereAreNotCounted)
{
	char *p = fresh(8);
	ASSERT_NE(p, nullptr);
	sgdma_region *r = sgdma_dev_register(dev, p, 8 * psz, SGDMA_TO_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();

	std::vector<size_t> got(kMaxNodes, 7);
	EXPECT_EQ(sgdma_region_node_pages(r, got.data(), kMaxNodes), 0) << sgdma_last_error();
	EXPECT_EQ(got, std::vector<size_t>(kMaxNodes));

	p[5 * psz] = 1;
	int ret = sgdma_region_node_pages(r, got.data(), kMaxNodes);
	EXPECT_EQ(ret, seen(expected(p + 5 * psz, 1))) << sgdma_last_error();
	EXPECT_EQ(std::accumulate(got.begin(), got.end(), size_t{0}), 1u);
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(NodeCount, ForkedChildGetsEperm)
{
	char *p = fresh(1);
	ASSERT_NE(p, nullptr);
	p[0] = 1;
	sgdma_region *r = sgdma_dev_register(dev, p, psz, SGDMA_TO_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		size_t got[1] = {7};

		errno = 0;
		if (!fails_with(sgdma_region_node_pages(r, got, 1), EPERM, "forked child"))
			_exit(1);
		_exit(got[0] == 7 ? 0 : 2);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
	std::vector<size_t> got(kMaxNodes);
	EXPECT_EQ(sgdma_region_node_pages(r, got.data(), kMaxNodes), seen(expected(p, 1)))
	    << sgdma_last_error();
	EXPECT_EQ(sgdma_unregister(r), 0);
}
