// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of what a registration reports beyond its segments and
 * of the fast paths built on it, against the fake module (fake_module.h):
 * segments returned with the REGISTER reply, the region flags, the sync
 * that skips the kernel when there is nothing to sync, SGDMA_REQUIRE_CONTIG,
 * coherence and the cache-line warning, and a module of the first
 * interface version that knows none of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#include "fake_module.h"

namespace
{

/* Page-aligned memory, freed with the test. */
struct Pages {
	char *p;
	explicit Pages(size_t n) : p(static_cast<char *>(aligned_alloc(4096, n * 4096))) {}
	~Pages() { free(p); }
};

class Flags : public Lib
{
      protected:
	Pages mem{8};

	/* Reopen the device after changing what the fake reports at INFO. */
	void reopen()
	{
		sgdma_close(dev);
		dev = sgdma_open("0000:00:03.0");
		ASSERT_NE(dev, nullptr) << sgdma_last_error();
	}
	/* Every ioctl the fake answered. */
	int all_calls()
	{
		int n = 0;
		for (unsigned int c = SGDMA_CMD_INFO; c <= SGDMA_CMD_UNREGISTER; c++)
			n += calls(c);
		return n;
	}
	std::vector<sgdma_ioc_seg> fake_segs()
	{
		std::lock_guard<std::mutex> g(fake::lock);
		return fd_->regions.begin()->second.segs;
	}
	static void expect_segs(const sgdma_region *r, const std::vector<sgdma_ioc_seg> &want)
	{
		ASSERT_EQ(sgdma_region_nsegs(r), want.size());
		EXPECT_EQ(memcmp(sgdma_region_segs(r), want.data(), want.size() * sizeof(want[0])),
		          0);
	}
};

/* ---- one ioctl for a small registration --------------------------------- */

TEST_F(Flags, SmallRegistrationIsOneIoctl)
{
	for (size_t off : {size_t(0), size_t(100)}) {
		SCOPED_TRACE("offset " + std::to_string(off));
		int before = all_calls();
		sgdma_region *r = sgdma_dev_register(dev, mem.p + off, 4096, SGDMA_BIDIRECTIONAL);
		ASSERT_NE(r, nullptr) << sgdma_last_error();
		EXPECT_EQ(all_calls() - before, 1) << "REGISTER alone";
		EXPECT_EQ(calls(SGDMA_CMD_GET_SEGS), 0);
		EXPECT_GT(fd_->last_register.inline_count, 0u);
		expect_segs(r, fake_segs());
		EXPECT_EQ(sgdma_region_nsegs(r), off ? 2u : 1u);
		EXPECT_EQ(sgdma_unregister(r), 0);
		EXPECT_EQ(all_calls() - before, 2) << "and UNREGISTER";
	}
}

TEST_F(Flags, InlineSegmentsThenGetSegsForTheRest)
{
	fd_->seg_len = 16;
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 300 * 16, SGDMA_TO_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	uint32_t room = fd_->last_register.inline_count;
	EXPECT_GT(room, 0u);
	EXPECT_LT(room, 300u);
	EXPECT_EQ(calls(SGDMA_CMD_GET_SEGS), 1);
	expect_segs(r, fake_segs());
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(Flags, ZeroSegmentsIsAProtocolError)
{
	fd_->bad_nsegs = true;
	errno = 0;
	EXPECT_EQ(sgdma_dev_register(dev, mem.p, 4096, SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, EPROTO);
	EXPECT_HAS(sgdma_last_error(), "the module reported 0 segments");
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_EQ(fd_->unregistered.size(), 1u);
}

/* ---- region flags -------------------------------------------------------- */

TEST_F(Flags, RegionFlagsAsReported)
{
	struct {
		bool bounced, needs_sync;
		size_t len;
		unsigned int want;
	} cases[] = {
	    {false, false, 4096, SGDMA_CONTIGUOUS},
	    {false, true, 4096, SGDMA_NEEDS_SYNC | SGDMA_CONTIGUOUS},
	    {true, true, 4096, SGDMA_BOUNCED | SGDMA_NEEDS_SYNC | SGDMA_CONTIGUOUS},
	    {true, true, 3 * 4096, SGDMA_BOUNCED | SGDMA_NEEDS_SYNC},
	    {false, false, 3 * 4096, 0},
	};
	for (auto &c : cases) {
		fd_->bounced = c.bounced;
		fd_->needs_sync = c.needs_sync;
		sgdma_region *r = sgdma_dev_register(dev, mem.p, c.len, SGDMA_BIDIRECTIONAL);
		ASSERT_NE(r, nullptr) << sgdma_last_error();
		EXPECT_EQ(sgdma_region_flags(r), c.want);
		EXPECT_EQ(sgdma_unregister(r), 0);
	}
	EXPECT_EQ(sgdma_region_flags(nullptr), 0u);
}

TEST_F(Flags, ContiguousFlagMustMatchTheSegments)
{
	fd_->bad_region_flags = SGDMA_REGION_CONTIGUOUS;
	for (size_t len : {size_t(4096), size_t(2 * 4096)}) {
		errno = 0;
		EXPECT_EQ(sgdma_dev_register(dev, mem.p, len, SGDMA_TO_DEVICE), nullptr);
		EXPECT_EQ(errno, EPROTO);
		EXPECT_HAS(sgdma_last_error(), "contiguous");
	}
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_EQ(fd_->unregistered.size(), 2u);
	EXPECT_TRUE(fd_->regions.empty());
}

/* ---- the sync fast path -------------------------------------------------- */

TEST_F(Flags, SyncSkipsTheKernelWhenNothingNeedsSyncing)
{
	fd_->needs_sync = false;
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 1000, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	ASSERT_FALSE(sgdma_region_flags(r) & SGDMA_NEEDS_SYNC);
	for (int i = 0; i < 100; i++) {
		EXPECT_EQ(sgdma_sync_for_device(r, 0, 1000), 0);
		EXPECT_EQ(sgdma_sync_for_cpu(r, 999, 1), 0);
	}
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 0);
	/* The arguments are checked all the same, wrapping ends included. */
	EXPECT_EQ(sgdma_sync_for_cpu(r, 999, 2), -EINVAL);
	EXPECT_HAS(sgdma_last_error(), "outside the region");
	EXPECT_EQ(sgdma_sync_for_device(nullptr, 0, 1), -EINVAL);
	expect_syncs_refuse_bad_ranges(r, 1000);

	/* A region that needs syncs still gets every one. */
	fd_->needs_sync = true;
	sgdma_region *s = sgdma_dev_register(dev, mem.p + 4096, 1000, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(s, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_sync_for_cpu(s, 10, 20), 0);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 1);
	EXPECT_EQ(fd_->last_sync.offset, 10u);
	EXPECT_EQ(fd_->last_sync.length, 20u);
	EXPECT_EQ(sgdma_unregister(s), 0);
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(Flags, SkippedSyncSeesRevocationOnTheStatusPage)
{
	fd_->needs_sync = false;
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 4096, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 4096), 0);
	unplug(fd_); /* the status page says revoked */
	errno = 0;
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 4096), -ENODEV);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "sgdma_sync_for_cpu: device 0000:00:03.0 was revoked");
	EXPECT_EQ(sgdma_sync_for_device(r, 0, 1), -ENODEV);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 0);
	EXPECT_EQ(sgdma_unregister(r), -ENODEV);
}

/* Without a status page a revocation would go unseen: every sync is a call. */
TEST_F(Flags, NoStatusPageNoSkippedSync)
{
	fd_->features &= ~SGDMA_FEAT_STATUS;
	fd_->needs_sync = false;
	reopen();
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 4096, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_FALSE(sgdma_region_flags(r) & SGDMA_NEEDS_SYNC);
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 4096), 0);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 1);
	unplug(fd_);
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 4096), -ENODEV);
	EXPECT_EQ(sgdma_unregister(r), -ENODEV);
}

TEST_F(Flags, SkippedSyncRefusesAForkedChild)
{
	fd_->needs_sync = false;
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 4096, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ret = sgdma_sync_for_device(r, 0, 4096);
		bool msg = strstr(sgdma_last_error(), "forked child") != nullptr;
		_exit(ret == -EPERM && errno == EPERM && msg ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(sgdma_sync_for_device(r, 0, 4096), 0) << "the parent may";
	EXPECT_EQ(sgdma_unregister(r), 0);
}

/* ---- SGDMA_REQUIRE_CONTIG ------------------------------------------------ */

TEST_F(Flags, RequireContig)
{
	const unsigned int f = SGDMA_BIDIRECTIONAL | SGDMA_REQUIRE_CONTIG;
	sgdma_region *r = sgdma_dev_register(dev, mem.p + 100, 3000, f);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_region_nsegs(r), 1u);
	EXPECT_TRUE(sgdma_region_flags(r) & SGDMA_CONTIGUOUS);
	EXPECT_EQ(fd_->last_register.flags, f) << "the module checks it";
	EXPECT_EQ(sgdma_unregister(r), 0);

	errno = 0;
	EXPECT_EQ(sgdma_dev_register(dev, mem.p + 100, 3 * 4096, f), nullptr);
	EXPECT_EQ(errno, E2BIG);
	EXPECT_HAS(sgdma_last_error(), "sgdma_dev_register: SGDMA_REQUIRE_CONTIG: the buffer of "
	                               "12 KiB would be 4 DMA segments on 0000:00:03.0");
	EXPECT_HAS(sgdma_last_error(), "hugetlb");
	EXPECT_HAS(sgdma_last_error(), "IOMMU");
	/* The module refused it: nothing to unregister but the first region. */
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_TRUE(fd_->regions.empty());
	EXPECT_EQ(fd_->unregistered.size(), 1u);
}

TEST_F(Flags, RequireContigLongerThanTheMaxSegment)
{
	fd_->max_segment = 8192;
	reopen();
	errno = 0;
	EXPECT_EQ(sgdma_dev_register(dev, mem.p, 3 * 4096, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG),
	          nullptr);
	EXPECT_EQ(errno, E2BIG);
	EXPECT_HAS(sgdma_last_error(), "whose longest segment is 8 KiB");
}

TEST_F(Flags, RequireContigNeedsADirection)
{
	for (unsigned int f : {SGDMA_REQUIRE_CONTIG, 8u, SGDMA_TO_DEVICE | 8u}) {
		errno = 0;
		EXPECT_EQ(sgdma_dev_register(dev, mem.p, 4096, f), nullptr);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_HAS(sgdma_last_error(), "invalid flags");
	}
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER), 0);
}

/* ---- coherence ----------------------------------------------------------- */

TEST_F(Flags, CoherentDevice)
{
	EXPECT_EQ(sgdma_dev_coherent(dev), 1);
	EXPECT_EQ(sgdma_dev_dma_align(dev), 64u);
	sgdma_region *r = sgdma_dev_register(dev, mem.p + 1, 100, SGDMA_FROM_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_FALSE(sgdma_region_flags(r) & SGDMA_CACHELINE_SHARED);
	EXPECT_EQ(sgdma_unregister(r), 0);
	errno = 0;
	EXPECT_EQ(sgdma_dev_coherent(nullptr), -EINVAL);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(sgdma_dev_dma_align(nullptr), 0u);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Flags, NonCoherentDeviceWarnsAboutSharedCacheLines)
{
	fd_->dev_flags &= ~SGDMA_INFO_COHERENT;
	fd_->dma_align = 128;
	reopen();
	EXPECT_EQ(sgdma_dev_coherent(dev), 0);
	EXPECT_EQ(sgdma_dev_dma_align(dev), 128u);

	struct {
		size_t off, len;
		unsigned int dir;
		bool shared;
	} cases[] = {
	    {0, 4096, SGDMA_FROM_DEVICE, false}, {128, 256, SGDMA_BIDIRECTIONAL, false},
	    {64, 4096, SGDMA_FROM_DEVICE, true}, {0, 4000, SGDMA_BIDIRECTIONAL, true},
	    {100, 28, SGDMA_FROM_DEVICE, true},  {64, 4096, SGDMA_TO_DEVICE, false},
	    {1, 10, SGDMA_TO_DEVICE, false},
	};
	int warnings = 0;
	for (auto &c : cases) {
		SCOPED_TRACE("offset " + std::to_string(c.off) + " len " + std::to_string(c.len) +
		             " dir " + std::to_string(c.dir));
		testing::internal::CaptureStderr();
		sgdma_region *r = sgdma_dev_register(dev, mem.p + c.off, c.len, c.dir);
		std::string err = testing::internal::GetCapturedStderr();
		ASSERT_NE(r, nullptr) << sgdma_last_error();
		EXPECT_EQ(!!(sgdma_region_flags(r) & SGDMA_CACHELINE_SHARED), c.shared);
		if (!err.empty()) {
			warnings++;
			EXPECT_TRUE(c.shared);
			EXPECT_HAS(err,
			           "libsgdma: warning: sgdma_dev_register: 0000:00:03.0 does not "
			           "keep its DMA coherent with the CPU caches");
			EXPECT_HAS(err, "align the buffer's start and end to 128 bytes");
			EXPECT_HAS(err, "shares its first and last cache lines");
		}
		EXPECT_EQ(sgdma_unregister(r), 0);
	}
	EXPECT_EQ(warnings, 1) << "once per device handle";

	/* Another handle warns again. */
	reopen();
	testing::internal::CaptureStderr();
	sgdma_region *r = sgdma_dev_register(dev, mem.p, 100, SGDMA_FROM_DEVICE);
	std::string err = testing::internal::GetCapturedStderr();
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_HAS(err, "shares its last cache line");
	EXPECT_EQ(sgdma_unregister(r), 0);
}

/* ---- a module of the first interface version ----------------------------- */

TEST_F(Flags, FirstVersionModule)
{
	fd_->features = 0;
	fd_->dev_flags = SGDMA_INFO_IOMMU;
	fd_->needs_sync = false; /* it cannot say so */
	reopen();
	errno = 0;
	EXPECT_EQ(sgdma_dev_coherent(dev), -EOPNOTSUPP);
	EXPECT_EQ(errno, EOPNOTSUPP);
	EXPECT_HAS(sgdma_last_error(), "older than this libsgdma");
	errno = 0;
	EXPECT_EQ(sgdma_dev_dma_align(dev), 0u);
	EXPECT_EQ(errno, EOPNOTSUPP);

	sgdma_region *r = sgdma_dev_register(dev, mem.p + 100, 4096, SGDMA_FROM_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(fd_->last_register.inline_count, 0u);
	EXPECT_EQ(calls(SGDMA_CMD_GET_SEGS), 1);
	expect_segs(r, fake_segs());
	EXPECT_EQ(sgdma_region_flags(r), SGDMA_NEEDS_SYNC) << "unknown: always sync";
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 4096), 0);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 1);
	EXPECT_EQ(sgdma_unregister(r), 0);

	r = sgdma_dev_register(dev, mem.p, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_region_flags(r), SGDMA_NEEDS_SYNC | SGDMA_CONTIGUOUS);
	EXPECT_EQ(sgdma_unregister(r), 0);

	/* SGDMA_REQUIRE_CONTIG is the library's to check there. */
	r = sgdma_dev_register(dev, mem.p, 4096, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(fd_->last_register.flags, SGDMA_TO_DEVICE);
	EXPECT_EQ(sgdma_unregister(r), 0);
	errno = 0;
	EXPECT_EQ(sgdma_dev_register(dev, mem.p, 2 * 4096, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG),
	          nullptr);
	EXPECT_EQ(errno, E2BIG);
	EXPECT_HAS(sgdma_last_error(), "would be 2 DMA segments");
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_EQ(fd_->unregistered.size(), 4u) << "the mapped one is released";
	EXPECT_TRUE(fd_->regions.empty());
}

} // namespace
