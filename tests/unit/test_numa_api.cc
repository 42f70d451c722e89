// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of sgdma_region_node_pages(): argument validation, which
 * happens before the region is looked at, so a region that is never
 * dereferenced stands in for a real one.  The page counts themselves need
 * pinned pages and are checked in the VM (tests/guest/test_numa.cc).
 *
 * Built into the same binary as test_lib.cc.
 */
#include <errno.h>

#include <climits>
#include <cstddef>
#include <string>

#include <gtest/gtest.h>

#include <sgdma.h>

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
