// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of the registration cache (sgdma_cache_enable()) and of
 * sgdma_region_valid(), against the fake module (fake_module.h), whose
 * region status bytes the tests set as the kernel's MMU notifier would:
 * hits make no ioctl, references count, a stale, revoked or inherited
 * region is never handed out, and many threads at once leave the counts
 * right.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#include "fake_module.h"

namespace
{

class Cache : public Lib
{
      protected:
	void SetUp() override
	{
		Lib::SetUp();
		if (HasFatalFailure())
			return;
		{
			std::lock_guard<std::mutex> g(fake::lock);
			fd_->features |= SGDMA_FEAT_REGION_STATUS;
		}
		sgdma_close(dev); /* features are read at open */
		dev = sgdma_open("0000:00:03.0");
		ASSERT_NE(dev, nullptr) << sgdma_last_error();
		ASSERT_EQ(0, sgdma_cache_enable(dev, 1)) << sgdma_last_error();
	}
	/* What the kernel does when the memory of handle @h's region changes. */
	void make_stale(uint32_t h)
	{
		std::string path = dir + "/0000:00:03.0";
		int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
		uint8_t one = SGDMA_REGION_STALE;

		ASSERT_GE(fd, 0);
		EXPECT_EQ(1, pwrite(fd, &one, 1, SGDMA_REGION_STATUS_OFFSET + h - 1));
		close(fd);
	}
	size_t live()
	{
		std::lock_guard<std::mutex> g(fake::lock);
		return fd_->regions.size();
	}
	uint32_t last_handle()
	{
		std::lock_guard<std::mutex> g(fake::lock);
		return fd_->next_handle - 1;
	}
};

TEST_F(Lib, CacheNeedsRegionStatus)
{
	EXPECT_EQ(-EOPNOTSUPP, sgdma_cache_enable(dev, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_HAS(sgdma_last_error(), "does not report stale regions");
	EXPECT_EQ(0, sgdma_cache_enable(dev, 0));
	sgdma_region *r = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(-EOPNOTSUPP, sgdma_region_valid(r));
	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(-EINVAL, sgdma_cache_enable(nullptr, 1));
	EXPECT_EQ(-EINVAL, sgdma_region_valid(nullptr));
}

TEST_F(Cache, HitMakesNoIoctlAndCounts)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 3 * 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	EXPECT_EQ(1, sgdma_region_valid(a));
	sgdma_region *b = sgdma_dev_register(dev, buf.data() + 10, 4096, SGDMA_TO_DEVICE);
	EXPECT_EQ(a, b);
	EXPECT_EQ(1, calls(SGDMA_CMD_REGISTER));
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(0, sgdma_unregister(b));
	EXPECT_EQ(0, calls(SGDMA_CMD_UNREGISTER)); /* the cache holds it */
	EXPECT_EQ(1u, live());
	sgdma_region *c = sgdma_dev_register(dev, buf.data() + 4096, 2 * 4096, SGDMA_TO_DEVICE);
	EXPECT_EQ(a, c);
	EXPECT_EQ(1, calls(SGDMA_CMD_REGISTER));
	EXPECT_EQ(0, sgdma_unregister(c));
	EXPECT_EQ(0, sgdma_cache_enable(dev, 0));
	EXPECT_EQ(1, calls(SGDMA_CMD_UNREGISTER));
	EXPECT_EQ(0u, live());
}

TEST_F(Cache, OnlyCoveringSameDirection)
{
	/* Page-aligned: the fake's segments end at multiples of 4 KiB. */
	char *p = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(buf.data()) + 4095) &
	                                   ~static_cast<uintptr_t>(4095));
	sgdma_region *a = sgdma_dev_register(dev, p + 4096, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	sgdma_region *longer = sgdma_dev_register(dev, p + 4096, 4097, SGDMA_TO_DEVICE);
	sgdma_region *before = sgdma_dev_register(dev, p + 4095, 10, SGDMA_TO_DEVICE);
	sgdma_region *other = sgdma_dev_register(dev, p + 4096, 4096, SGDMA_FROM_DEVICE);
	sgdma_region *bidi = sgdma_dev_register(dev, p + 4096, 4096, SGDMA_BIDIRECTIONAL);
	for (sgdma_region *r : {longer, before, other, bidi}) {
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		EXPECT_NE(a, r);
	}
	EXPECT_EQ(5, calls(SGDMA_CMD_REGISTER));
	/* One segment: a hit with SGDMA_REQUIRE_CONTIG too. */
	sgdma_region *contig =
	    sgdma_dev_register(dev, p + 4096, 100, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG);
	EXPECT_EQ(a, contig);
	/* Two segments (the fake cuts at 4 KiB): refused by the module, not the cache. */
	EXPECT_EQ(nullptr,
	          sgdma_dev_register(dev, p + 4096, 4097, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(6, calls(SGDMA_CMD_REGISTER));
	for (sgdma_region *r : {a, longer, before, other, bidi, contig})
		EXPECT_EQ(0, sgdma_unregister(r));
}

TEST_F(Cache, StaleIsNeverReturned)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	uint32_t h = last_handle();
	make_stale(h);
	EXPECT_EQ(0, sgdma_region_valid(a));
	sgdma_region *b = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, b) << sgdma_last_error();
	EXPECT_NE(a, b);
	EXPECT_EQ(1, sgdma_region_valid(b));
	EXPECT_EQ(2, calls(SGDMA_CMD_REGISTER));
	EXPECT_EQ(2u, live()); /* the stale one is a's user's to unregister */
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(1, calls(SGDMA_CMD_UNREGISTER));
	EXPECT_EQ(0, sgdma_unregister(b));
	EXPECT_EQ(1u, live());
}

TEST_F(Cache, StaleUnusedIsUnregisteredByALookup)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(a));
	make_stale(last_handle());
	EXPECT_EQ(0, calls(SGDMA_CMD_UNREGISTER));
	sgdma_region *b = sgdma_dev_register(dev, buf.data() + 3 * 4096, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, b) << sgdma_last_error();
	EXPECT_EQ(1, calls(SGDMA_CMD_UNREGISTER));
	EXPECT_EQ(0, sgdma_unregister(b));
}

TEST_F(Cache, RevokedIsNotValid)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	unplug(fd_);
	EXPECT_EQ(0, sgdma_region_valid(a));
	EXPECT_EQ(nullptr, sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE));
	EXPECT_EQ(ENODEV, errno);
	/* A reference dropped: the cache lets go of the region with the device. */
	EXPECT_EQ(0, sgdma_unregister(a));
}

TEST_F(Cache, ForkedChildGetsNoHit)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		bool ok = sgdma_region_valid(a) == 0 &&
		          sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE) != a;
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(1, sgdma_region_valid(a));
	EXPECT_EQ(0, sgdma_unregister(a));
}

TEST_F(Cache, CloseReleasesWhatTheCacheHolds)
{
	sgdma_region *a = sgdma_dev_register(dev, buf.data(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(1u, live());
	sgdma_close(dev);
	dev = nullptr;
	EXPECT_EQ(0u, live());
	EXPECT_EQ(1, calls(SGDMA_CMD_UNREGISTER));
}

TEST_F(Cache, ThreadsShareOneRegistration)
{
	std::vector<std::thread> threads;
	std::atomic<int> failures{0};
	for (int t = 0; t < 4; t++)
		threads.emplace_back([&] {
			for (int i = 0; i < 500; i++) {
				sgdma_region *r = sgdma_dev_register(dev, buf.data() + 4096, 4096,
				                                     SGDMA_FROM_DEVICE);
				if (!r || sgdma_region_valid(r) != 1 || sgdma_unregister(r))
					failures++;
			}
		});
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(0, failures.load());
	EXPECT_LE(calls(SGDMA_CMD_REGISTER), 4); /* racing misses at most */
	EXPECT_EQ(0, sgdma_cache_enable(dev, 0));
	EXPECT_EQ(0u, live());
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER), calls(SGDMA_CMD_UNREGISTER));
}

} // namespace
