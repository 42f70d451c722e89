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
	for (unsigned int flags : {SGDMA_FROM_DEVICE, SGDMA_BIDIRECTIONAL}) {
		EXPECT_EQ(nullptr, sgdma_dev_register(d, p, 65536, flags)) << "flags " << flags;
		EXPECT_EQ(EFAULT, errno) << "flags " << flags;
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

} // namespace
