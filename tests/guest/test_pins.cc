// SPDX-License-Identifier: GPL-2.0
// What a pin must guarantee: the device works on the pages the application
// reads and writes, whatever the mapping and whatever other regions of the
// same memory do, and swiotlb stays a shared resource.
#include "guest.h"

#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>

using namespace sgt;

namespace
{

// Device reads @src (registered before the CPU wrote it) into a fresh
// buffer; every byte must be what the CPU wrote after registering.
void expect_device_reads_later_writes(sgdma_dev *dev, struct edu *edu, uint8_t *src, uint32_t seed)
{
	sgdma_region *rs = sgdma_dev_register(dev, src, 2048, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	fill_pattern(src, 2048, seed); // the first write, after the pin
	ASSERT_EQ(0, sgdma_sync_for_device(rs, 0, 2048));
	Mapping dst(4096);
	memset(dst.bytes(), 0x5a, 4096);
	sgdma_region *rd = sgdma_dev_register(dev, dst.bytes(), 2048, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	ASSERT_EQ(0, edu_copy(edu, rs, rd, 2048));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 2048));
	std::vector<uint8_t> want(2048);
	fill_pattern(want.data(), 2048, seed);
	EXPECT_EQ(-1, first_mismatch(want.data(), dst.bytes(), 2048))
	    << "the device read a page the CPU no longer uses";
	EXPECT_EQ(0, sgdma_unregister(rs));
	EXPECT_EQ(0, sgdma_unregister(rd));
}

// Never-written private memory reads as the shared zero page: a read pin
// must not keep that page, which the CPU's first write replaces.
TEST_F(SgdmaDmaTest, DeviceReadsAnonymousMemoryWrittenAfterRegistering)
{
	Mapping src(2 * 4096);
	ASSERT_TRUE(src.ok());
	expect_device_reads_later_writes(dev, edu, src.bytes(), 21);
}

// The same for a private mapping of a file: the pin must not keep the page
// cache page that copy-on-write replaces.
TEST_F(SgdmaDmaTest, DeviceReadsPrivateFileMappingWrittenAfterRegistering)
{
	char path[] = "/tmp/sgdma-private-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	std::vector<uint8_t> zeros(8192, 0x11);
	ASSERT_EQ(8192, write(fd, zeros.data(), zeros.size()));
	void *p = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	volatile uint8_t sink = static_cast<uint8_t *>(p)[0]; // map the page cache page
	(void)sink;
	expect_device_reads_later_writes(dev, edu, static_cast<uint8_t *>(p), 22);
	munmap(p, 8192);
	close(fd);
	unlink(path);
}

// The same for a huge page of a file (a memfd's, after MADV_COLLAPSE): the
// kernel's own unsharing of such a page never finishes, so the pin must
// not leave it to the kernel. Runs in a child, which is killed if the
// registration hangs.
TEST_F(SgdmaDmaTest, DeviceReadsPrivateMappingOfAFileHugePage)
{
	constexpr size_t kHuge = 2 << 20;
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int mfd = memfd_create("sgdma-thp", 0);
		if (mfd < 0 || ftruncate(mfd, kHuge))
			_exit(10);
		std::vector<uint8_t> old(kHuge, 0x11);
		if (write(mfd, old.data(), kHuge) != (ssize_t)kHuge)
			_exit(11);
		// A 2 MiB aligned place for the mapping.
		auto *area = static_cast<uint8_t *>(
		    mmap(nullptr, 2 * kHuge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
		auto *p = reinterpret_cast<uint8_t *>(
		    (reinterpret_cast<uintptr_t>(area) + kHuge - 1) & ~(kHuge - 1));
		if (mmap(p, kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, mfd, 0) != p)
			_exit(12);
		madvise(p, kHuge, 25 /* MADV_COLLAPSE, 6.1 and later */);
		volatile uint8_t sink = p[0];
		(void)sink;
		// Regions belong to the process that opened the device.
		sgdma_dev *mine = sgdma_open(sgt_edu_bdf());
		if (!mine)
			_exit(13);
		expect_device_reads_later_writes(mine, edu, p, 25);
		_exit(::testing::Test::HasFailure() ? 1 : 0);
	}
	int status = -1;
	for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100000);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		FAIL() << "the registration did not return in 60 s";
	}
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

// A filesystem that tracks dirty pages (ext4) must see every write: a
// shared mapping of its file cannot be pinned for the device to write.
TEST_F(SgdmaTest, DeviceWritableSharedFileMappingIsRefused)
{
	const char *img = "/tmp/sgdma-ext4.img", *dir = "/tmp/sgdma-ext4";
	ASSERT_EQ(0, system("modprobe -q loop 2>/dev/null; "
	                    "truncate -s 16M /tmp/sgdma-ext4.img && "
	                    "mkfs.ext4 -q -F /tmp/sgdma-ext4.img && mkdir -p /tmp/sgdma-ext4 && "
	                    "mount -o loop /tmp/sgdma-ext4.img /tmp/sgdma-ext4"))
	    << "an ext4 filesystem on a loop device";
	std::string file = std::string(dir) + "/f";
	int fd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 65536));
	void *p = mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 65536);

	sgdma_dev *d = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, d) << sgdma_last_error();
	// Also one page: a few pages are pinned before their VMA is checked.
	for (size_t len : {65536, 4096}) {
		for (unsigned int flags : {SGDMA_FROM_DEVICE, SGDMA_BIDIRECTIONAL}) {
			EXPECT_EQ(nullptr, sgdma_dev_register(d, p, len, flags))
			    << "flags " << flags << ", " << len << " bytes";
			EXPECT_EQ(EFAULT, errno) << "flags " << flags << ", " << len << " bytes";
		}
	}
	sgdma_region *r = sgdma_dev_register(d, p, 65536, SGDMA_TO_DEVICE);
	EXPECT_NE(nullptr, r) << "the device may read it: " << sgdma_last_error();
	if (r) {
		EXPECT_EQ(0, sgdma_unregister(r));
	}
	sgdma_close(d);
	munmap(p, 65536);
	close(fd);
	EXPECT_EQ(0, umount(dir));
	unlink(img);
}

// Two regions of one buffer, both written by the device: releasing one must
// not copy its bounce buffer (still holding the old contents) over what the
// device wrote through the other.
//
// Without an IOMMU or bouncing both regions have the same bus addresses, and
// DMA-API debugging cannot tell two equal mappings apart: its lookup for a
// sync gives up when more than one mapping contains the range and none
// matches the call exactly (kernel/dma/debug.c, __hash_bucket_find), so any
// sync of such memory is reported as a sync of memory never mapped.
TEST_F(SgdmaDmaTest, UnregisteringOverlappingRegionKeepsDataOfTheOther)
{
	if (dma_api_debugging() && (is_config("direct") || is_config("numa")))
		GTEST_SKIP() << "DMA-API debugging cannot tell equal mappings apart";
	Mapping src(4096), buf(4096);
	ASSERT_TRUE(src.ok() && buf.ok());
	fill_pattern(src.bytes(), 4096, 23);
	memset(buf.bytes(), 0x5a, 4096);
	sgdma_region *rs = sgdma_dev_register(dev, src.bytes(), 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	sgdma_region *a = sgdma_dev_register(dev, buf.bytes(), 4096, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, a) << sgdma_last_error();
	sgdma_region *b = sgdma_dev_register(dev, buf.bytes(), 4096, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, b) << sgdma_last_error();

	ASSERT_EQ(0, edu_copy(edu, rs, b, 2048));
	ASSERT_EQ(0, sgdma_sync_for_cpu(b, 0, 2048));
	ASSERT_EQ(-1, first_mismatch(src.bytes(), buf.bytes(), 2048));
	EXPECT_EQ(0, sgdma_unregister(a));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), buf.bytes(), 2048))
	    << "releasing the other region overwrote what the device wrote";
	EXPECT_EQ(0, sgdma_unregister(b));
	EXPECT_EQ(0, sgdma_unregister(rs));
}

// Unregister does not sync: what the device wrote reaches the CPU through
// sgdma_sync_for_cpu only, never behind the application's back.
TEST_F(SgdmaDmaTest, UnregisterDoesNotSync)
{
	if (!is_config("bounce"))
		GTEST_SKIP() << "needs the bounce configuration";
	PagePair p;
	ASSERT_NO_FATAL_FAILURE(register_pages(p, 24));
	ASSERT_EQ(0, edu_copy(edu, p.rs, p.rd, 2048));
	unregister_pages(p);
	for (size_t i = 0; i < 2048; i++)
		ASSERT_EQ(0x5a, p.dst.bytes()[i]) << "byte " << i << " arrived without a sync";
}

// swiotlb's pool serves every device of the machine: one user's regions
// may hold at most max_bounce_bytes of it.
TEST_F(SgdmaTest, BounceBuffersPerUserAreBounded)
{
	long long old = param("max_bounce_bytes");
	ASSERT_EQ(0, set_param("max_bounce_bytes", 256 << 10));
	sgdma_dev *d = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, d) << sgdma_last_error();
	Mapping m(1 << 20);
	memset(m.bytes(), 1, m.size);
	sgdma_region *big = sgdma_dev_register(d, m.bytes(), 512 << 10, SGDMA_BIDIRECTIONAL);
	if (is_config("bounce")) {
		EXPECT_EQ(nullptr, big);
		EXPECT_EQ(EIO, errno);
		sgdma_region *a = sgdma_dev_register(d, m.bytes(), 128 << 10, SGDMA_BIDIRECTIONAL);
		ASSERT_NE(nullptr, a) << sgdma_last_error();
		EXPECT_EQ(nullptr, sgdma_dev_register(d, m.bytes() + (128 << 10),
		                                      (128 << 10) + 4096, SGDMA_BIDIRECTIONAL));
		EXPECT_EQ(0, sgdma_unregister(a));
		big = sgdma_dev_register(d, m.bytes(), 256 << 10, SGDMA_BIDIRECTIONAL);
		EXPECT_NE(nullptr, big) << "the limit came back with the unregister";
	} else {
		EXPECT_NE(nullptr, big) << "nothing is bounced here: " << sgdma_last_error();
	}
	if (big) {
		EXPECT_EQ(0, sgdma_unregister(big));
	}
	sgdma_close(d);
	ASSERT_EQ(0, set_param("max_bounce_bytes", old));
}

// Pins the kernel holds beyond its releases reach @want, allowing
// unrelated pins in flight to end; returns the last count seen.
long long settle_pins(long long want)
{
	long long now = foll_pins_outstanding();
	for (int i = 0; i < 50 && now != want; i++) {
		usleep(20000);
		now = foll_pins_outstanding();
	}
	return now;
}

// 2 MiB-aligned memory of @n huge pages of @kind ("thp" or "hugetlb"),
// faulted in; nullptr (and why) when the kernel gives no huge pages.
struct HugeBuffer {
	static constexpr size_t kHuge = 2 << 20;
	void *map = MAP_FAILED;
	size_t map_len = 0;
	uint8_t *p = nullptr;
	long long reserved = -1; // nr_hugepages before, when we raised it
	std::string why;

	HugeBuffer(const char *kind, size_t n)
	{
		if (!strcmp(kind, "hugetlb")) {
			map_len = n * kHuge;
			map = mmap(nullptr, map_len, PROT_READ | PROT_WRITE,
			           MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
			long long have = 0;
			sgt_read_ll("/proc/sys/vm/nr_hugepages", &have);
			if (map == MAP_FAILED &&
			    sgt_write_str("/proc/sys/vm/nr_hugepages",
			                  std::to_string(have + n).c_str()) == 0) {
				reserved = have;
				map = mmap(nullptr, map_len, PROT_READ | PROT_WRITE,
				           MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
			}
			if (map == MAP_FAILED) {
				why = std::string("no hugetlb pages: ") + strerror(errno);
				return;
			}
			p = static_cast<uint8_t *>(map);
		} else {
			map_len = (n + 1) * kHuge;
			map = mmap(nullptr, map_len, PROT_READ | PROT_WRITE,
			           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (map == MAP_FAILED) {
				why = strerror(errno);
				return;
			}
			p = reinterpret_cast<uint8_t *>(
			    (reinterpret_cast<uintptr_t>(map) + kHuge - 1) &
			    ~(uintptr_t)(kHuge - 1));
			if (madvise(p, n * kHuge, MADV_HUGEPAGE)) {
				why = std::string("MADV_HUGEPAGE: ") + strerror(errno);
				p = nullptr;
				return;
			}
		}
		memset(p, 0x3c, n * kHuge);
		for (size_t i = 0; i < n; i++)
			if (pagemap_phys(p + i * kHuge + kHuge - 4096) !=
			    pagemap_phys(p + i * kHuge) + kHuge - 4096) {
				why = "the kernel gave no huge page";
				p = nullptr;
				return;
			}
	}
	~HugeBuffer()
	{
		if (map != MAP_FAILED)
			munmap(map, map_len);
		if (reserved >= 0)
			sgt_write_str("/proc/sys/vm/nr_hugepages",
			              std::to_string(reserved).c_str());
	}
};

// A buffer that starts and ends inside huge pages pins exactly its own
// pages of each: the kernel's count of pins rises by the pages the buffer
// touches and falls back by as many, not by whole huge pages.  The device
// reads the buffer from its first byte, in the middle of a huge page.
void expect_exact_pins_of_partial_huge_pages(sgdma_dev *dev, struct edu *edu, const char *kind)
{
	HugeBuffer h(kind, 2);
	if (!h.p)
		GTEST_SKIP() << h.why;
	// From 3 pages and 100 bytes into the first huge page to 5 pages and
	// 1000 bytes into the second.
	uint8_t *buf = h.p + 3 * 4096 + 100;
	size_t len = HugeBuffer::kHuge - 3 * 4096 - 100 + 5 * 4096 + 1000;
	long long pages = (HugeBuffer::kHuge - 3 * 4096) / 4096 + 6;
	fill_pattern(buf, 2048, 41);
	long long before = settle_pins(0);
	long long pinned_before = param("pinned_pages");
	sgdma_region *r = sgdma_dev_register(dev, buf, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(pinned_before + pages, param("pinned_pages"));
	EXPECT_EQ(before + pages, settle_pins(before + pages)) << kind;

	Mapping dst(4096);
	memset(dst.bytes(), 0x5a, 4096);
	sgdma_region *rd = sgdma_dev_register(dev, dst.bytes(), 2048, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	EXPECT_EQ(0, edu_copy(edu, r, rd, 2048));
	EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, 2048));
	EXPECT_EQ(-1, first_mismatch(buf, dst.bytes(), 2048)) << "the device read other memory";
	EXPECT_EQ(0, sgdma_unregister(rd));

	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(before, settle_pins(before)) << kind << ": unpinned other than pinned";
}

TEST_F(SgdmaDmaTest, PinsOfPartialTransparentHugePagesAreExact)
{
	expect_exact_pins_of_partial_huge_pages(dev, edu, "thp");
}

TEST_F(SgdmaDmaTest, PinsOfPartialHugetlbPagesAreExact)
{
	expect_exact_pins_of_partial_huge_pages(dev, edu, "hugetlb");
}

// A transparent huge page whose mapping is split after registering (a
// page of it made read-only, another unmapped): the folio stays pinned as
// it was, and unregistering releases exactly the pins taken.
TEST_F(SgdmaDmaTest, PinsOfATransparentHugePageSplitAfterRegisteringAreExact)
{
	HugeBuffer h("thp", 1);
	if (!h.p)
		GTEST_SKIP() << h.why;
	uint8_t *buf = h.p + 4096;
	size_t len = HugeBuffer::kHuge - 3 * 4096;
	long long pages = len / 4096;
	long long before = settle_pins(0);
	// Its own device, not the default one a later revocation would leave stale.
	sgdma_region *r = sgdma_dev_register(dev, buf, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(before + pages, settle_pins(before + pages));
	ASSERT_EQ(0, mprotect(h.p + 64 * 4096, 4096, PROT_READ));
	ASSERT_EQ(0, madvise(h.p + 100 * 4096, 4096, MADV_DONTNEED));
	ASSERT_EQ(0, madvise(h.p + HugeBuffer::kHuge - 4096, 4096, MADV_DONTNEED));
	EXPECT_EQ(before + pages, settle_pins(before + pages)) << "splitting changed the pins";
	EXPECT_EQ(0, sgdma_unregister(r));
	EXPECT_EQ(before, settle_pins(before)) << "unpinned other than pinned";
}

} // namespace
