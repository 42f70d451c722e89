// SPDX-License-Identifier: GPL-2.0
// The registration cache (sgdma_cache_enable()) and the region status
// bytes behind sgdma_region_valid(): a cache hit is the same region with
// one more reference, and whatever the kernel does to the memory under a
// region (munmap and mmap at the same address, mremap, MADV_DONTNEED,
// fork), the cache hands out only a region whose pages are the ones the
// program sees: real edu DMA checks every byte.
#include "guest.h"

#include <sys/wait.h>

using namespace sgt;

namespace
{

constexpr size_t kPage = 4096;
constexpr size_t kLen = 2 * kPage;

class CacheTest : public SgdmaDmaTest
{
      protected:
	void SetUp() override
	{
		SgdmaDmaTest::SetUp();
		if (HasFatalFailure())
			return;
		ASSERT_EQ(0, sgdma_cache_enable(dev, 1)) << sgdma_last_error();
	}

	// Registered buffers, unregistered at the end whatever happened.
	std::vector<sgdma_region *> regions;
	void TearDown() override
	{
		for (sgdma_region *r : regions)
			EXPECT_EQ(0, sgdma_unregister(r)) << sgdma_last_error();
		SgdmaDmaTest::TearDown();
	}
	sgdma_region *reg(void *buf, size_t len, unsigned int dir)
	{
		sgdma_region *r = sgdma_dev_register(dev, buf, len, dir);
		EXPECT_NE(nullptr, r) << sgdma_last_error();
		if (r)
			regions.push_back(r);
		return r;
	}

	// The device copies @len bytes of pattern @seed from @src (a region the
	// cache returns for it) into @dst (likewise): they land exactly.
	void dma_check(uint8_t *src, uint8_t *dst, size_t len, uint32_t seed)
	{
		fill_pattern(src, len, seed);
		memset(dst, 0x5a, len);
		sgdma_region *rs = reg(src, len, SGDMA_TO_DEVICE);
		sgdma_region *rd = reg(dst, len, SGDMA_FROM_DEVICE);
		ASSERT_TRUE(rs && rd);
		ASSERT_EQ(1, sgdma_region_valid(rs));
		ASSERT_EQ(1, sgdma_region_valid(rd));
		ASSERT_EQ(src, sgdma_region_addr(rs)); // whole-buffer regions here
		ASSERT_EQ(dst, sgdma_region_addr(rd));
		EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
		EXPECT_EQ(0, sgdma_sync_for_device(rd, 0, len));
		ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
		EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
		std::vector<uint8_t> want(len);
		fill_pattern(want.data(), len, seed);
		EXPECT_EQ(-1, first_mismatch(want.data(), dst, len));
	}
};

uint8_t *map_at(void *addr, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED : 0);
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? nullptr : static_cast<uint8_t *>(p);
}

} // namespace

// Off (the default), every registration is the kernel's, as before.
TEST_F(SgdmaDmaTest, CacheOffRegistersAgain)
{
	Mapping m(kLen);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, kLen);
	sgdma_region *a = sgdma_dev_register(dev, m.bytes(), kLen, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	sgdma_region *b = sgdma_dev_register(dev, m.bytes(), kLen, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, b) << sgdma_last_error();
	EXPECT_NE(a, b);
	EXPECT_EQ(2, param("regions"));
	EXPECT_EQ(1, sgdma_region_valid(a)); // valid works without the cache
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(0, sgdma_unregister(b));
}

TEST_F(SgdmaDmaTest, CacheEnableBadArguments)
{
	EXPECT_EQ(-EINVAL, sgdma_cache_enable(nullptr, 1));
	EXPECT_EQ(-EINVAL, sgdma_region_valid(nullptr));
	EXPECT_EQ(0, sgdma_cache_enable(dev, 0));
}

// A covered range with the same direction is a hit: the same region, one
// more reference; the kernel keeps one region, and the cache keeps it
// registered after its last user unregistered it, until the cache is off.
TEST_F(CacheTest, HitIsTheSameRegionRefcounted)
{
	Mapping m(4 * kPage);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, 4 * kPage);
	long long before = param("pinned_pages");
	sgdma_region *a = sgdma_dev_register(dev, m.bytes(), 4 * kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	sgdma_region *b = sgdma_dev_register(dev, m.bytes() + 100, kPage, SGDMA_TO_DEVICE);
	EXPECT_EQ(a, b);
	EXPECT_EQ(m.bytes(), sgdma_region_addr(b)); // the segments count from here
	sgdma_region *c = sgdma_dev_register(dev, m.bytes(), 4 * kPage, SGDMA_TO_DEVICE);
	EXPECT_EQ(a, c);
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(before + 4, param("pinned_pages"));

	// Another direction, or a range not covered: a region of its own.
	sgdma_region *d = sgdma_dev_register(dev, m.bytes(), kPage, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, d) << sgdma_last_error();
	EXPECT_NE(a, d);
	Mapping n(kPage);
	ASSERT_TRUE(n.ok());
	memset(n.bytes(), 1, kPage);
	sgdma_region *e = sgdma_dev_register(dev, n.bytes(), kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, e) << sgdma_last_error();
	EXPECT_NE(a, e);
	EXPECT_EQ(3, param("regions"));

	// References dropped, the last ones too: still registered and usable.
	EXPECT_EQ(0, sgdma_unregister(b));
	EXPECT_EQ(0, sgdma_unregister(c));
	EXPECT_EQ(0, sgdma_sync_for_device(a, 0, 4 * kPage));
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(0, sgdma_unregister(d));
	EXPECT_EQ(0, sgdma_unregister(e));
	EXPECT_EQ(3, param("regions"));
	sgdma_region *again = sgdma_dev_register(dev, m.bytes() + kPage, kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, again) << sgdma_last_error();
	EXPECT_EQ(m.bytes(), sgdma_region_addr(again));
	EXPECT_EQ(4 * kPage, sgdma_region_len(again));
	EXPECT_EQ(3, param("regions"));
	EXPECT_EQ(0, sgdma_unregister(again));

	// Off: the cache lets go of them all.
	ASSERT_EQ(0, sgdma_cache_enable(dev, 0));
	EXPECT_EQ(0, param("regions"));
	EXPECT_EQ(before, param("pinned_pages"));
}

// Turning the cache off: no more hits; regions handed out keep counting.
TEST_F(CacheTest, OffKeepsReferences)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, kPage);
	sgdma_region *a = sgdma_dev_register(dev, m.bytes(), kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	sgdma_region *b = sgdma_dev_register(dev, m.bytes(), kPage, SGDMA_TO_DEVICE);
	EXPECT_EQ(a, b);
	ASSERT_EQ(0, sgdma_cache_enable(dev, 0));
	EXPECT_EQ(1, param("regions"));
	sgdma_region *c = sgdma_dev_register(dev, m.bytes(), kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, c) << sgdma_last_error();
	EXPECT_NE(a, c);
	EXPECT_EQ(2, param("regions"));
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(2, param("regions"));
	EXPECT_EQ(0, sgdma_unregister(b));
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(0, sgdma_unregister(c));
	EXPECT_EQ(0, param("regions"));
}

// Regions only the cache holds make room when the kernel refuses a new
// one (here: the file's max_regions_per_file), and closing the device
// releases them.
TEST_F(CacheTest, UnusedRegionsMakeRoom)
{
	struct Restore {
		long long max = param("max_regions_per_file");
		~Restore() { set_param("max_regions_per_file", max); }
	} restore;
	Mapping m(3 * kPage);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, 3 * kPage);
	ASSERT_EQ(0, set_param("max_regions_per_file", 2));
	for (size_t i = 0; i < 2; i++) {
		sgdma_region *r =
		    sgdma_dev_register(dev, m.bytes() + i * kPage, kPage, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		EXPECT_EQ(0, sgdma_unregister(r));
	}
	EXPECT_EQ(2, param("regions"));
	sgdma_region *r = reg(m.bytes() + 2 * kPage, kPage, SGDMA_TO_DEVICE);
	EXPECT_NE(nullptr, r);
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(0, set_param("max_regions_per_file", restore.max));

	sgdma_dev *other = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, other) << sgdma_last_error();
	ASSERT_EQ(0, sgdma_cache_enable(other, 1));
	sgdma_region *o = sgdma_dev_register(other, m.bytes(), kPage, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, o) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(o));
	EXPECT_EQ(2, param("regions"));
	sgdma_close(other);
	EXPECT_EQ(1, param("regions"));
}

// munmap and mmap at the same address: the old region's pages are not the
// program's any more; the cache registers the new memory.
TEST_F(CacheTest, MunmapMmapSameAddress)
{
	uint8_t *src = map_at(nullptr, kLen), *dst = map_at(nullptr, kLen);
	ASSERT_TRUE(src && dst);
	dma_check(src, dst, kLen, 1);
	sgdma_region *old_src = regions[0], *old_dst = regions[1];

	ASSERT_EQ(0, munmap(src, kLen));
	ASSERT_EQ(0, munmap(dst, kLen));
	EXPECT_EQ(0, sgdma_region_valid(old_src));
	EXPECT_EQ(0, sgdma_region_valid(old_dst));
	ASSERT_EQ(src, map_at(src, kLen));
	ASSERT_EQ(dst, map_at(dst, kLen));
	EXPECT_EQ(0, sgdma_region_valid(old_dst)); // for good

	// What the stale region still reaches is the old page, not this memory.
	memset(dst, 0x77, kLen);
	fill_pattern(src, kLen, 2);
	ASSERT_EQ(0, edu_copy(edu, old_src, old_dst, kLen));
	EXPECT_EQ(0, sgdma_sync_for_cpu(old_dst, 0, kLen));
	for (size_t i = 0; i < kLen; i++)
		ASSERT_EQ(0x77, dst[i]) << "byte " << i;

	dma_check(src, dst, kLen, 3);
	EXPECT_NE(old_src, regions[2]);
	EXPECT_NE(old_dst, regions[3]);
	EXPECT_EQ(4, param("regions"));

	munmap(src, kLen);
	munmap(dst, kLen);
}

// A stale region only the cache holds is unregistered by the next lookup.
TEST_F(CacheTest, StaleUnusedRegionIsReleased)
{
	uint8_t *buf = map_at(nullptr, kLen);
	ASSERT_TRUE(buf);
	memset(buf, 1, kLen);
	sgdma_region *r = sgdma_dev_register(dev, buf, kLen, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(1, param("regions"));
	long long pinned = param("pinned_pages");
	ASSERT_EQ(0, munmap(buf, kLen));
	ASSERT_EQ(buf, map_at(buf, kLen));
	memset(buf, 2, kLen);
	EXPECT_EQ(1, param("regions")); // nobody looked yet
	sgdma_region *fresh = reg(buf, kLen, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, fresh);
	EXPECT_EQ(1, sgdma_region_valid(fresh));
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(pinned, param("pinned_pages"));
	munmap(buf, kLen);
}

// mremap moves the pages away; new memory mapped at the old address is
// registered afresh.
TEST_F(CacheTest, Mremap)
{
	uint8_t *src = map_at(nullptr, kLen), *dst = map_at(nullptr, kLen);
	uint8_t *away = map_at(nullptr, kLen);
	ASSERT_TRUE(src && dst && away);
	dma_check(src, dst, kLen, 4);
	sgdma_region *old_dst = regions[1];

	void *moved = mremap(dst, kLen, kLen, MREMAP_MAYMOVE | MREMAP_FIXED, away);
	ASSERT_EQ(static_cast<void *>(away), moved) << strerror(errno);
	EXPECT_EQ(0, sgdma_region_valid(old_dst));
	EXPECT_EQ(1, sgdma_region_valid(regions[0])); // the other buffer's
	ASSERT_EQ(dst, map_at(dst, kLen));

	dma_check(src, dst, kLen, 5);
	EXPECT_EQ(regions[0], regions[2]); // src: a hit
	EXPECT_NE(old_dst, regions[3]);
	EXPECT_EQ(3, param("regions"));
	munmap(src, kLen);
	munmap(dst, kLen);
	munmap(away, kLen);
}

// MADV_DONTNEED on a private mapping throws the pages away: the next touch
// maps new zeroed ones.
TEST_F(CacheTest, MadvDontneedPrivate)
{
	Mapping s(kLen), d(kLen);
	ASSERT_TRUE(s.ok() && d.ok());
	dma_check(s.bytes(), d.bytes(), kLen, 6);
	sgdma_region *old_src = regions[0], *old_dst = regions[1];

	ASSERT_EQ(0, madvise(s.bytes(), kLen, MADV_DONTNEED));
	ASSERT_EQ(0, madvise(d.bytes() + kPage, kPage, MADV_DONTNEED)); // part of it
	EXPECT_EQ(0, sgdma_region_valid(old_src));
	EXPECT_EQ(0, sgdma_region_valid(old_dst));
	EXPECT_EQ(0, s.bytes()[0]);

	dma_check(s.bytes(), d.bytes(), kLen, 7);
	EXPECT_NE(old_src, regions[2]);
	EXPECT_NE(old_dst, regions[3]);
}

// Protection changes keep the pages: the region stays valid.  Writing the
// memory again afterwards may still replace a page: before 5.19 (no
// PageAnonExclusive) the write fault on a pinned page that mprotect() made
// read-only copies it, and the region must then be stale and not returned.
TEST_F(CacheTest, MprotectKeepsRegionValid)
{
	Mapping s(kLen), d(kLen);
	ASSERT_TRUE(s.ok() && d.ok());
	dma_check(s.bytes(), d.bytes(), kLen, 8);
	ASSERT_EQ(0, mprotect(d.bytes(), kLen, PROT_READ));
	ASSERT_EQ(0, mprotect(d.bytes(), kLen, PROT_NONE));
	ASSERT_EQ(0, mprotect(d.bytes(), kLen, PROT_READ | PROT_WRITE));
	EXPECT_EQ(1, sgdma_region_valid(regions[1]));
	dma_check(s.bytes(), d.bytes(), kLen, 9);
	EXPECT_EQ(regions[0], regions[2]);
	if (kernel_at_least(5, 19)) {
		EXPECT_EQ(regions[1], regions[3]);
	} else if (regions[1] != regions[3]) {
		EXPECT_EQ(0, sgdma_region_valid(regions[1])) << "a valid region was not returned";
	}
}

// fork() and the child's exit: fork write-protects the parent's private
// memory, but gives the child copies of pinned pages, so the parent keeps
// its pages, writes them without a copy-on-write, and its regions stay
// valid and cached.  In the child they are not valid (not its memory).
TEST_F(CacheTest, ForkThenChildExit)
{
	Mapping s(kLen), d(kLen);
	ASSERT_TRUE(s.ok() && d.ok());
	dma_check(s.bytes(), d.bytes(), kLen, 10);

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		s.bytes()[0] = 0x33; // the child's copy
		_exit(sgdma_region_valid(regions[1]) == 0 ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child saw its regions valid";

	EXPECT_EQ(1, sgdma_region_valid(regions[0]));
	EXPECT_EQ(1, sgdma_region_valid(regions[1]));
	dma_check(s.bytes(), d.bytes(), kLen, 11); // the parent's writes after the fork
	EXPECT_EQ(regions[0], regions[2]);
	EXPECT_EQ(regions[1], regions[3]);
}

// A registration whose own pin breaks copy-on-write (pages shared with a
// live child, or the zero page) is valid: the pages it kept are the ones
// mapped afterwards.
TEST_F(CacheTest, PinThatBreaksCopyOnWriteIsValid)
{
	Mapping s(kLen), d(kLen);
	ASSERT_TRUE(s.ok() && d.ok());
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < kLen; i += kPage)
		sink = sink + d.bytes()[i]; // the zero page, read-only
	memset(s.bytes(), 1, kLen);

	int pipefd[2];
	ASSERT_EQ(0, pipe(pipefd));
	pid_t pid = fork(); // s is shared copy-on-write while the child lives
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;
		close(pipefd[1]);
		_exit(read(pipefd[0], &c, 1) < 0);
	}
	close(pipefd[0]);
	sgdma_region *rs = reg(s.bytes(), kLen, SGDMA_BIDIRECTIONAL);
	sgdma_region *rd = reg(d.bytes(), kLen, SGDMA_FROM_DEVICE);
	ASSERT_TRUE(rs && rd);
	EXPECT_EQ(1, sgdma_region_valid(rs));
	EXPECT_EQ(1, sgdma_region_valid(rd));
	close(pipefd[1]);
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));

	dma_check(s.bytes(), d.bytes(), kLen, 12);
	EXPECT_EQ(rd, regions[3]); // a hit: same direction, same range
}
