// SPDX-License-Identifier: GPL-2.0
// What a registration reports beside its segments (bounced, needs sync,
// contiguous; the device's coherence), checked against ground truth from
// /proc/self/pagemap in each DMA configuration, and the fast paths built on
// it: a sync that skips the kernel only where nothing needs syncing (real
// edu DMA proves the data arrives all the same), a small registration in
// one ioctl, and SGDMA_REQUIRE_CONTIG.
#include "guest.h"

#include <atomic>
#include <cstdarg>

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <linux/sgdma.h>

namespace
{

// sgdma ioctls made by this process, by command, counted in ioctl() below.
std::atomic<long> sgdma_calls[SGDMA_CMD_UNREGISTER - SGDMA_CMD_BASE + 1];

long calls(unsigned int cmd)
{
	return sgdma_calls[cmd - SGDMA_CMD_BASE].load();
}

long all_calls()
{
	long n = 0;
	for (auto &c : sgdma_calls)
		n += c.load();
	return n;
}

} // namespace

// Takes precedence over libc's for this program, the statically linked
// libsgdma included: counts the sgdma commands, then makes the system call.
extern "C" int ioctl(int fd, unsigned long req, ...) noexcept
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	unsigned int nr = _IOC_NR(req);
	if (_IOC_TYPE(req) == SGDMA_IOCTL_TYPE && nr >= SGDMA_CMD_BASE &&
	    nr <= SGDMA_CMD_UNREGISTER)
		sgdma_calls[nr - SGDMA_CMD_BASE]++;
	return static_cast<int>(syscall(SYS_ioctl, fd, req, arg));
}

using namespace sgt;

namespace
{

// Whether the device reaches some byte of @r only through a bounce buffer:
// without an IOMMU a segment's bus address is the physical address of its
// first byte unless swiotlb moved it.
bool bounced_by_pagemap(const sgdma_region *r)
{
	struct sgdma_dev_info info;
	if (sgdma_dev_info(sgdma_region_dev(r), &info) || info.iommu)
		return false; // nothing bounces a trusted device behind the IOMMU
	const auto *buf = static_cast<const uint8_t *>(sgdma_region_addr(r));
	const sgdma_seg *s = sgdma_region_segs(r);
	for (size_t i = 0; i < sgdma_region_nsegs(r); i++) {
		if (s[i].addr != pagemap_phys(buf + s[i].offset))
			return true;
	}
	return false;
}

// Physically contiguous runs of the pages of [p, p + len), from pagemap.
size_t phys_runs(const uint8_t *p, size_t len)
{
	uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(4095);
	uintptr_t end = reinterpret_cast<uintptr_t>(p) + len;
	size_t runs = 0;
	uint64_t prev = 0;
	for (uintptr_t a = first; a < end; a += 4096) {
		uint64_t phys = pagemap_phys(reinterpret_cast<const void *>(a));
		if (a == first || phys != prev + 4096)
			runs++;
		prev = phys;
	}
	return runs;
}

// @pages pages of anonymous memory without huge pages, every page touched.
struct Scattered : Mapping {
	explicit Scattered(size_t pages) : Mapping(pages * 4096)
	{
		if (ok()) {
			madvise(base, size, MADV_NOHUGEPAGE);
			memset(base, 1, size);
		}
	}
};

// One transparent huge page, or !ok() when the kernel gave none.
struct Thp {
	static constexpr size_t kHuge = 2 << 20;
	Mapping m{2 * kHuge};
	uint8_t *p = nullptr;
	Thp()
	{
		if (!m.ok())
			return;
		auto *a = reinterpret_cast<uint8_t *>(
		    (reinterpret_cast<uintptr_t>(m.bytes()) + kHuge - 1) & ~(uintptr_t)(kHuge - 1));
		if (madvise(a, kHuge, MADV_HUGEPAGE))
			return;
		memset(a, 1, kHuge);
		if (pagemap_phys(a + kHuge - 4096) == pagemap_phys(a) + kHuge - 4096)
			p = a;
	}
	bool ok() const { return p != nullptr; }
};

} // namespace

TEST_F(SgdmaTest, CoherenceIsReported)
{
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	int coherent = sgdma_dev_coherent(dev);
	ASSERT_GE(coherent, 0) << sgdma_last_error();
#if defined(__x86_64__) || defined(__i386__)
	EXPECT_EQ(1, coherent) << "x86 DMA is always coherent";
#endif
	EXPECT_EQ(!is_config("noncoherent"), coherent);
	char path[256];
	long long v = -1;
	ASSERT_EQ(0, sgt_read_ll(sgt_dev_attr_path("coherent", path, sizeof(path)), &v));
	EXPECT_EQ(coherent, v);
	sgdma_close(dev);
}

// The flags against ground truth, for a scattered buffer, a single page
// and a piece of a huge page, in every direction.
TEST_F(SgdmaTest, RegionFlagsMatchTheConfiguration)
{
	Scattered scattered(64);
	ASSERT_TRUE(scattered.ok());
	Thp thp;
	struct Case {
		const char *what;
		uint8_t *p;
		size_t len;
	} cases[] = {
	    {"64 scattered pages", scattered.bytes(), scattered.size},
	    {"one page", scattered.bytes() + 4096, 4096},
	    {"bytes in a page", scattered.bytes() + 100, 1000},
	    {"64 KiB of a huge page", thp.ok() ? thp.p + 8192 : nullptr, 64 << 10},
	};
	for (const Case &c : cases) {
		if (!c.p)
			continue; // no transparent huge page
		for (unsigned int dir : {SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE, SGDMA_BIDIRECTIONAL}) {
			SCOPED_TRACE(std::string(c.what) + ", dir " + std::to_string(dir));
			sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
			ASSERT_NE(nullptr, dev) << sgdma_last_error();
			sgdma_region *r = sgdma_dev_register(dev, c.p, c.len, dir);
			ASSERT_NE(nullptr, r) << sgdma_last_error();
			unsigned int f = sgdma_region_flags(r);
			bool bounced = bounced_by_pagemap(r);
			EXPECT_EQ(bounced, !!(f & SGDMA_BOUNCED));
			// A coherent device needs syncs only for what was bounced.
			// Syncs are needed for what was bounced, and for the caches of a
			// device that is not coherent.
			bool coherent = sgdma_dev_coherent(dev) == 1;
			EXPECT_EQ(bounced || !coherent, !!(f & SGDMA_NEEDS_SYNC));
			EXPECT_EQ(sgdma_region_nsegs(r) == 1, !!(f & SGDMA_CONTIGUOUS));
			// A device that is not coherent and writes: is either end partial?
			uintptr_t a = reinterpret_cast<uintptr_t>(c.p), align = 1;
			struct sgdma_dev_info info;
			ASSERT_EQ(0, sgdma_dev_info(dev, &info));
			if (!coherent && (dir & SGDMA_FROM_DEVICE))
				align = 64; // the cases are aligned to a page, or off by 100 bytes
			EXPECT_EQ(a % align != 0 || (a + c.len) % align != 0,
			          !!(f & SGDMA_CACHELINE_SHARED));
			if (info.iommu) {
				EXPECT_EQ(SGDMA_CONTIGUOUS, f & ~SGDMA_NEEDS_SYNC)
				    << "the IOMMU merges every page";
			}
			if (is_config("direct") || is_config("numa")) {
				EXPECT_EQ(0u, f & SGDMA_BOUNCED);
			}
			EXPECT_EQ(0, sgdma_unregister(r));
			sgdma_close(dev);
		}
	}
	// The bounce configuration bounces memory above 256 MiB: find some.
	// (Not through the default device: a later test revokes the device,
	// and a default cached here would be stale for the tests after it.)
	if (is_config("bounce")) {
		sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
		ASSERT_NE(nullptr, dev) << sgdma_last_error();
		bool seen = false;
		for (int i = 0; i < 8 && !seen; i++) {
			Scattered m(16);
			ASSERT_TRUE(m.ok());
			sgdma_region *r =
			    sgdma_dev_register(dev, m.bytes(), m.size, SGDMA_BIDIRECTIONAL);
			ASSERT_NE(nullptr, r) << sgdma_last_error();
			if (pagemap_phys(m.bytes()) >= (1ULL << 28)) {
				seen = true;
				EXPECT_EQ(SGDMA_BOUNCED | SGDMA_NEEDS_SYNC,
				          sgdma_region_flags(r) &
				              (SGDMA_BOUNCED | SGDMA_NEEDS_SYNC));
			}
			EXPECT_EQ(0, sgdma_unregister(r));
		}
		EXPECT_TRUE(seen) << "no page above 256 MiB in 8 tries";
		sgdma_close(dev);
	}
}

// Real DMA through the library's syncs: skipped where the region needs
// none, made where it does (bounce), and the device's bytes arrive in
// both cases.
TEST_F(SgdmaDmaTest, SyncFastPathCarriesRealDma)
{
	for (size_t off : {size_t(0), size_t(300)}) {
		SCOPED_TRACE("offset " + std::to_string(off));
		Mapping src(2 * 4096), dst(2 * 4096);
		ASSERT_TRUE(src.ok() && dst.ok());
		const size_t len = 2048;
		fill_pattern(src.bytes() + off, len, 11 + off);
		memset(dst.bytes(), 0x5a, 2 * 4096);
		sgdma_region *rs = sgdma_dev_register(dev, src.bytes() + off, len, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, rs) << sgdma_last_error();
		sgdma_region *rd =
		    sgdma_dev_register(dev, dst.bytes() + off, len, SGDMA_FROM_DEVICE);
		ASSERT_NE(nullptr, rd) << sgdma_last_error();
		bool need_s = sgdma_region_flags(rs) & SGDMA_NEEDS_SYNC;
		bool need_d = sgdma_region_flags(rd) & SGDMA_NEEDS_SYNC;
		bool coherent = sgdma_dev_coherent(dev) == 1;
		EXPECT_EQ(bounced_by_pagemap(rs) || !coherent, need_s);
		EXPECT_EQ(bounced_by_pagemap(rd) || !coherent, need_d);
		if (sgdma_dev_coherent(dev) == 0) {
			EXPECT_TRUE(need_s && need_d) << "caches to maintain";
		} else if (!is_config("bounce")) {
			EXPECT_FALSE(need_s || need_d);
		}

		long before = calls(SGDMA_CMD_SYNC);
		fill_pattern(src.bytes() + off, len, 12 + off); // written after registering
		ASSERT_EQ(0, sgdma_sync_for_device(rs, 0, len));
		ASSERT_EQ(0, sgdma_sync_for_device(rd, 0, len));
		ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
		ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
		EXPECT_EQ(need_s + 2 * need_d, calls(SGDMA_CMD_SYNC) - before)
		    << "one SYNC ioctl per sync of a region that needs it, none otherwise";
		EXPECT_EQ(-1, first_mismatch(src.bytes() + off, dst.bytes() + off, len));
		EXPECT_EQ(0x5a, dst.bytes()[off + len]) << "past the region";
		EXPECT_EQ(0, sgdma_unregister(rs));
		EXPECT_EQ(0, sgdma_unregister(rd));
	}
}

// REGISTER returns a small region's segments with its reply.
TEST_F(SgdmaTest, SmallRegistrationIsOneIoctlAndUnregisterOne)
{
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	Scattered m(4);
	ASSERT_TRUE(m.ok());
	for (size_t off : {size_t(0), size_t(100)}) {
		SCOPED_TRACE("offset " + std::to_string(off));
		long before = all_calls();
		sgdma_region *r =
		    sgdma_dev_register(dev, m.bytes() + off, 4096, SGDMA_BIDIRECTIONAL);
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		EXPECT_EQ(1, all_calls() - before) << "REGISTER and nothing else";
		EXPECT_GE(sgdma_region_nsegs(r), 1u);
		EXPECT_EQ(0, sgdma_unregister(r));
		EXPECT_EQ(2, all_calls() - before) << "then UNREGISTER";
	}
	sgdma_close(dev);
}

// A scattered buffer is refused with the count; a physically contiguous
// one (a huge page), or any under the IOMMU, is one segment.
TEST_F(SgdmaTest, RequireContig)
{
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	const unsigned int f = SGDMA_BIDIRECTIONAL | SGDMA_REQUIRE_CONTIG;

	Scattered m(64);
	ASSERT_TRUE(m.ok());
	sgdma_region *plain = sgdma_dev_register(dev, m.bytes(), m.size, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, plain) << sgdma_last_error();
	size_t n = sgdma_region_nsegs(plain);
	EXPECT_EQ(0, sgdma_unregister(plain));
	struct sgdma_dev_info info;
	ASSERT_EQ(0, sgdma_dev_info(dev, &info));
	if (info.iommu) {
		EXPECT_EQ(1u, n);
	} else if (!is_config("bounce")) {
		EXPECT_EQ(phys_runs(m.bytes(), m.size), n);
	}

	errno = 0;
	sgdma_region *r = sgdma_dev_register(dev, m.bytes(), m.size, f);
	if (r) {
		// Bounce slots are new at each mapping: they may be one range now.
		EXPECT_TRUE(n == 1 || is_config("bounce")) << n << " segments before";
		EXPECT_EQ(1u, sgdma_region_nsegs(r));
		EXPECT_EQ(0, sgdma_unregister(r));
	} else {
		EXPECT_LT(1u, n);
		EXPECT_EQ(E2BIG, errno);
		std::string msg = sgdma_last_error();
		EXPECT_NE(std::string::npos, msg.find("SGDMA_REQUIRE_CONTIG")) << msg;
		if (!is_config("bounce")) {
			EXPECT_NE(std::string::npos,
			          msg.find("would be " + std::to_string(n) + " DMA segments"))
			    << msg;
		}
		EXPECT_EQ(0, param("pinned_pages")) << "nothing stays pinned";
	}

	// A transparent huge page: whole (without bouncing), or 64 KiB of it.
	Thp thp;
	if (!thp.ok()) {
		sgdma_close(dev);
		GTEST_SKIP() << "kernel gave no transparent huge page";
	}
	size_t len = is_config("bounce") ? 64 << 10 : Thp::kHuge;
	r = sgdma_dev_register(dev, thp.p, len, f);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(1u, sgdma_region_nsegs(r));
	EXPECT_TRUE(sgdma_region_flags(r) & SGDMA_CONTIGUOUS);
	EXPECT_EQ(len, sgdma_region_segs(r)[0].len);
	EXPECT_EQ(0, sgdma_unregister(r));
	sgdma_close(dev);
}

// The same with a hugetlb page, reserving one when none is.
TEST_F(SgdmaTest, RequireContigHugetlb)
{
	const size_t huge = 2 << 20;
	long long reserved = 0;
	sgt_read_ll("/proc/sys/vm/nr_hugepages", &reserved);
	void *p = mmap(nullptr, huge, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED && reserved == 0 &&
	    sgt_write_str("/proc/sys/vm/nr_hugepages", "2") == 0)
		p = mmap(nullptr, huge, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		if (reserved == 0)
			sgt_write_str("/proc/sys/vm/nr_hugepages", "0");
		GTEST_SKIP() << "no 2 MiB hugetlb page: " << strerror(errno);
	}
	memset(p, 1, huge);
	size_t len = is_config("bounce") ? 64 << 10 : huge;
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	sgdma_region *r = sgdma_dev_register(dev, p, len, SGDMA_FROM_DEVICE | SGDMA_REQUIRE_CONTIG);
	EXPECT_NE(nullptr, r) << sgdma_last_error();
	if (r) {
		EXPECT_EQ(1u, sgdma_region_nsegs(r));
		EXPECT_EQ(0, sgdma_unregister(r));
	}
	sgdma_close(dev);
	munmap(p, huge);
	if (reserved == 0)
		sgt_write_str("/proc/sys/vm/nr_hugepages", "0");
}
