// SPDX-License-Identifier: GPL-2.0
// dma-buf import: udmabuf (a memfd's pages) and system-heap dma-bufs
// registered with sgdma_register_dmabuf(), real edu DMA through their bus
// addresses with every byte checked, bad descriptors and ranges, the
// exporter's descriptor closed while registered, close and revocation.
// Kernels without udmabuf or DMA heaps (5.10, 6.1) skip what needs them.
#include "guest.h"

#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sgdma.h>
#include <linux/udmabuf.h>
#include <numaif.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

using namespace sgt;

namespace
{

constexpr const char *kUdmabuf = "/dev/udmabuf";
constexpr const char *kHeap = "/dev/dma_heap/system";

bool have(const char *path)
{
	return access(path, F_OK) == 0;
}

// sgvm keeps user pages out of node 0's zones below 256 MiB in the bounce
// configuration (vm.lowmem_reserve_ratio 1 for DMA and DMA32); while one of
// these lives they take user pages again, as by the kernel's default (256).
struct LowZonesOpen {
	static constexpr const char *path = "/proc/sys/vm/lowmem_reserve_ratio";
	std::string saved;
	bool ok = false;
	LowZonesOpen()
	{
		std::ifstream in(path);
		std::getline(in, saved);
		std::istringstream words(saved);
		std::string dma, dma32, rest;
		words >> dma >> dma32;
		std::getline(words, rest);
		ok = !saved.empty() && std::ofstream(path) << "256 256" << rest << std::endl;
	}
	~LowZonesOpen()
	{
		if (ok)
			std::ofstream(path) << saved << std::endl;
	}
};

// A sealed memfd's pages as a dma-buf; the memfd stays mapped for the CPU.
struct Udmabuf {
	int memfd = -1, fd = -1;
	uint8_t *map = nullptr;
	size_t size;
	std::string err;
	explicit Udmabuf(size_t len) : size(len)
	{
		int dev = open(kUdmabuf, O_RDWR | O_CLOEXEC);
		if (dev < 0) {
			err = std::string("open /dev/udmabuf: ") + strerror(errno);
			return;
		}
		memfd = memfd_create("test_dmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, static_cast<off_t>(len)) < 0 ||
		    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
			err = std::string("memfd: ") + strerror(errno);
			close(dev);
			return;
		}
		udmabuf_create c = {};
		c.memfd = static_cast<uint32_t>(memfd);
		c.flags = UDMABUF_FLAGS_CLOEXEC;
		c.size = len;
		fd = ioctl(dev, UDMABUF_CREATE, &c);
		if (fd < 0)
			err = std::string("UDMABUF_CREATE: ") + strerror(errno);
		close(dev);
		void *m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		if (m == MAP_FAILED)
			err = std::string("mmap memfd: ") + strerror(errno);
		else
			map = static_cast<uint8_t *>(m);
	}
	~Udmabuf()
	{
		if (map)
			munmap(map, size);
		close_fds();
	}
	void close_fds()
	{
		if (fd >= 0)
			close(fd);
		if (memfd >= 0)
			close(memfd);
		fd = memfd = -1;
	}
	bool ok() const { return fd >= 0 && map; }
};

// A system-heap dma-buf, mapped through the dma-buf itself.
struct HeapBuf {
	int fd = -1;
	uint8_t *map = nullptr;
	size_t size;
	std::string err;
	HeapBuf(size_t len, unsigned int fd_flags = O_RDWR | O_CLOEXEC) : size(len)
	{
		int heap = open(kHeap, O_RDONLY | O_CLOEXEC);
		if (heap < 0) {
			err = std::string("open /dev/dma_heap/system: ") + strerror(errno);
			return;
		}
		dma_heap_allocation_data a = {};
		a.len = len;
		a.fd_flags = fd_flags;
		if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0) {
			err = std::string("DMA_HEAP_IOCTL_ALLOC: ") + strerror(errno);
			close(heap);
			return;
		}
		close(heap);
		fd = static_cast<int>(a.fd);
		int prot = (fd_flags & O_ACCMODE) == O_RDWR ? PROT_READ | PROT_WRITE : PROT_READ;
		void *m = mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			err = std::string("mmap dma-buf: ") + strerror(errno);
		else
			map = static_cast<uint8_t *>(m);
	}
	~HeapBuf()
	{
		unmap();
		close_fd();
	}
	void unmap()
	{
		if (map)
			munmap(map, size);
		map = nullptr;
	}
	void close_fd()
	{
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	bool ok() const { return fd >= 0 && map; }
	// CPU access to a dma-buf's mapping is bracketed as the exporter asks.
	void cpu_access(bool begin, bool write)
	{
		dma_buf_sync s = {};
		s.flags = (begin ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END) |
		          (write ? DMA_BUF_SYNC_RW : DMA_BUF_SYNC_READ);
		EXPECT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &s)) << strerror(errno);
	}
};

// How many dma-bufs have the edu device attached (-1 without debugfs).
long edu_attachments()
{
	return sgt_dmabuf_attachments(sgt_edu_bdf());
}

} // namespace

// Skip the test (counted, with the reason) on a kernel without the exporter.
#define NEED_UDMABUF()                                                                             \
	do {                                                                                       \
		if (!have(kUdmabuf))                                                               \
			GTEST_SKIP() << "no /dev/udmabuf: the kernel has no CONFIG_UDMABUF";       \
	} while (0)
#define NEED_HEAP()                                                                                \
	do {                                                                                       \
		if (!have(kHeap))                                                                  \
			GTEST_SKIP() << "no /dev/dma_heap/system: no system DMA heap";             \
	} while (0)

class DmabufTest : public SgdmaDmaTest
{
      protected:
	long baseline = -1;
	void SetUp() override
	{
		SgdmaDmaTest::SetUp();
		baseline = sgt_dmabuf_total();
	}
	void TearDown() override
	{
		// Every dma-buf of the test is gone: no region kept a reference.
		if (baseline >= 0) {
			EXPECT_EQ(baseline, sgt_dmabuf_total()) << "a dma-buf outlived its test";
		}
		SgdmaDmaTest::TearDown();
	}
	sgdma_region *reg(int fd, size_t off, size_t len, unsigned int flags)
	{
		return sgdma_register_dmabuf(dev, fd, off, len, flags);
	}
	// Checks a region of @len bytes looks like one of user memory.
	void check_region(const sgdma_region *r, size_t len)
	{
		EXPECT_EQ(len, sgdma_region_len(r));
		EXPECT_EQ(nullptr, sgdma_region_addr(r));
		EXPECT_EQ(dev, sgdma_region_dev(r));
		ASSERT_GE(sgdma_region_nsegs(r), 1u);
		uint64_t off = 0;
		for (size_t i = 0; i < sgdma_region_nsegs(r); i++) {
			EXPECT_EQ(off, sgdma_region_segs(r)[i].offset);
			off += sgdma_region_segs(r)[i].len;
		}
		EXPECT_EQ(len, off);
		EXPECT_EQ(sgdma_region_nsegs(r) == 1,
		          (sgdma_region_flags(r) & SGDMA_CONTIGUOUS) != 0);
	}
};

TEST_F(DmabufTest, ModuleReportsTheFeature)
{
	int fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	sgdma_ioc_info info = {};
	info.size = sizeof(info);
	ASSERT_EQ(0, ioctl(fd, SGDMA_IOC_INFO, &info));
	EXPECT_TRUE(info.features & SGDMA_FEAT_DMABUF);
	close(fd);
}

// udmabuf to udmabuf through the device: it reads one, writes the other.
TEST_F(DmabufTest, UdmabufDmaBothDirections)
{
	NEED_UDMABUF();
	const size_t len = 3 * 4096;
	Udmabuf a(len), b(len);
	ASSERT_TRUE(a.ok()) << a.err;
	ASSERT_TRUE(b.ok()) << b.err;
	fill_pattern(a.map, len, 11);
	memset(b.map, 0x5a, len);
	sgdma_region *rs = reg(a.fd, 0, len, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	sgdma_region *rd = reg(b.fd, 0, len, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	check_region(rs, len);
	check_region(rd, len);
	if (edu_attachments() >= 0) {
		EXPECT_EQ(2, edu_attachments()) << "each region attaches the device once";
	}

	EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
	ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
	EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	EXPECT_EQ(-1, first_mismatch(a.map, b.map, len));

	// And again, the CPU having written new data: sync, DMA, sync.
	fill_pattern(a.map, len, 12);
	EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
	ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
	EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	EXPECT_EQ(-1, first_mismatch(a.map, b.map, len));

	EXPECT_EQ(0, sgdma_unregister(rs));
	EXPECT_EQ(0, sgdma_unregister(rd));
	if (edu_attachments() >= 0) {
		EXPECT_EQ(0, edu_attachments()) << "unregister detaches the device";
	}
}

// Two registrations of one range of a dma-buf: two attachments, whose
// mappings are equal where nothing translates or bounces the page.
// Registering syncs for the device, and DMA-API debugging (the debug
// kernel, bounce configuration: syncs are real there) must be able to tell
// which mapping a sync is for, or it warns. In the bounce configuration the
// page is one below the device's 28-bit mask, which swiotlb leaves alone:
// the buffer comes from node 0 once a filler has taken node 0's memory
// above 4 GiB (there are 256 MiB of it, most used at boot), so that it lies
// below 256 MiB (LowZonesOpen lets it).
TEST_F(DmabufTest, EqualRangeTwice)
{
	NEED_UDMABUF();
	const size_t pages = 16, len = 100;
	size_t filler_len = 0;
	unsigned long node0 = 1;
	void *filler = MAP_FAILED;
	std::unique_ptr<LowZonesOpen> low_zones;
	if (is_config("bounce")) {
		low_zones = std::make_unique<LowZonesOpen>();
		ASSERT_TRUE(low_zones->ok) << "cannot write " << LowZonesOpen::path;
		// What node 0 has free above 4 GiB, and 16 MiB more.
		const long free_pages = zone_free_pages(0, "Normal");
		ASSERT_LE(0, free_pages) << "no node 0 Normal zone in /proc/zoneinfo";
		filler_len = (static_cast<size_t>(free_pages) + 4096) * 4096;
		filler = mmap(nullptr, filler_len, PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, filler) << strerror(errno);
		ASSERT_EQ(0, mbind(filler, filler_len, MPOL_BIND, &node0, 2, 0)) << strerror(errno);
		// Small pages: huge ones would leave the zone's scattered free pages.
		ASSERT_EQ(0, madvise(filler, filler_len, MADV_NOHUGEPAGE)) << strerror(errno);
		memset(filler, 1, filler_len);
	}
	ASSERT_EQ(0, set_mempolicy(MPOL_BIND, &node0, 2)) << strerror(errno);
	Udmabuf a(pages * 4096); // the pages are allocated (and pinned) here
	ASSERT_EQ(0, set_mempolicy(MPOL_DEFAULT, nullptr, 0)) << strerror(errno);
	low_zones.reset();
	if (filler != MAP_FAILED)
		munmap(filler, filler_len);
	Udmabuf b(4096);
	ASSERT_TRUE(a.ok()) << a.err;
	ASSERT_TRUE(b.ok()) << b.err;
	fill_pattern(a.map, pages * 4096, 21);
	std::vector<size_t> chosen = {0, pages - 1};
	if (is_config("bounce")) {
		chosen.clear();
		for (size_t p = 0; p < pages && chosen.empty(); p++) {
			uint64_t phys = pagemap_phys(a.map + p * 4096);
			if (phys && phys < (1ull << 28))
				chosen.push_back(p);
		}
		if (chosen.empty())
			GTEST_SKIP() << "no page of the udmabuf below 256 MiB: node 0 had memory "
			                "above 4 GiB left";
	}
	sgdma_region *rd = reg(b.fd, 0, len, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	for (size_t p : chosen) {
		sgdma_region *r1 = reg(a.fd, p * 4096, len, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, r1) << "page " << p << ": " << sgdma_last_error();
		sgdma_region *r2 = reg(a.fd, p * 4096, len, SGDMA_TO_DEVICE);
		ASSERT_NE(nullptr, r2) << "page " << p << ": " << sgdma_last_error();
		check_region(r2, len);
		memset(b.map, 0x5a, len);
		ASSERT_EQ(0, edu_copy(edu, r2, rd, len));
		EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
		EXPECT_EQ(-1, first_mismatch(a.map + p * 4096, b.map, len)) << "page " << p;
		EXPECT_EQ(0, sgdma_unregister(r1));
		EXPECT_EQ(0, sgdma_unregister(r2));
	}
	EXPECT_EQ(0, sgdma_unregister(rd));
}

// A system-heap buffer, read and written by the CPU through its mmap().
TEST_F(DmabufTest, HeapDmaBothDirections)
{
	NEED_HEAP();
	const size_t len = 16 * 4096;
	HeapBuf a(len), b(len);
	ASSERT_TRUE(a.ok()) << a.err;
	ASSERT_TRUE(b.ok()) << b.err;
	a.cpu_access(true, true);
	fill_pattern(a.map, len, 21);
	a.cpu_access(false, true);
	b.cpu_access(true, true);
	memset(b.map, 0x5a, len);
	b.cpu_access(false, true);

	sgdma_region *rs = reg(a.fd, 0, len, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	sgdma_region *rd = reg(b.fd, 0, len, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	check_region(rs, len);
	check_region(rd, len);
	const size_t n = 5 * 4096 + 300; // fewer edu transfers: part of it
	EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
	ASSERT_EQ(0, edu_copy(edu, rs, rd, n));
	EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));

	std::vector<uint8_t> want(len);
	fill_pattern(want.data(), len, 21);
	memset(want.data() + n, 0x5a, len - n);
	b.cpu_access(true, false);
	EXPECT_EQ(-1, first_mismatch(want.data(), b.map, len));
	b.cpu_access(false, false);
	EXPECT_EQ(0, sgdma_unregister(rs));
	EXPECT_EQ(0, sgdma_unregister(rd));
}

// dma-bufs and user memory mix: user -> heap -> udmabuf -> user.
TEST_F(DmabufTest, UserMemoryAndDmabufsMix)
{
	NEED_UDMABUF();
	NEED_HEAP();
	const size_t len = 4096 + 1000;
	Mapping src(2 * 4096), dst(2 * 4096);
	HeapBuf h(2 * 4096);
	Udmabuf u(2 * 4096);
	ASSERT_TRUE(src.ok() && dst.ok());
	ASSERT_TRUE(h.ok()) << h.err;
	ASSERT_TRUE(u.ok()) << u.err;
	fill_pattern(src.bytes(), len, 31);
	memset(dst.bytes(), 0x5a, len);
	sgdma_region *rs = sgdma_dev_register(dev, src.bytes(), len, SGDMA_TO_DEVICE);
	sgdma_region *rh = reg(h.fd, 0, len, SGDMA_BIDIRECTIONAL);
	sgdma_region *ru = reg(u.fd, 0, len, SGDMA_BIDIRECTIONAL);
	sgdma_region *rd = sgdma_dev_register(dev, dst.bytes(), len, SGDMA_FROM_DEVICE);
	ASSERT_TRUE(rs && rh && ru && rd) << sgdma_last_error();
	ASSERT_EQ(0, edu_copy(edu, rs, rh, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rh, 0, len));
	ASSERT_EQ(0, sgdma_sync_for_device(rh, 0, len));
	ASSERT_EQ(0, edu_copy(edu, rh, ru, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(ru, 0, len));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), u.map, len));
	ASSERT_EQ(0, sgdma_sync_for_device(ru, 0, len));
	ASSERT_EQ(0, edu_copy(edu, ru, rd, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), len));
	for (sgdma_region *r : {rs, rh, ru, rd})
		EXPECT_EQ(0, sgdma_unregister(r));
}

// A range that starts inside a page: segment 0 is byte @off of the dma-buf,
// and the device writes exactly the range.
TEST_F(DmabufTest, UnalignedRange)
{
	NEED_UDMABUF();
	const size_t size = 4 * 4096, off = 100, len = 2 * 4096 + 77;
	Udmabuf a(size), b(size);
	ASSERT_TRUE(a.ok()) << a.err;
	ASSERT_TRUE(b.ok()) << b.err;
	fill_pattern(a.map, size, 41);
	memset(b.map, 0x5a, size);
	sgdma_region *rs = reg(a.fd, off, len, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	sgdma_region *rd = reg(b.fd, off, len, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	check_region(rd, len);
	if (keeps_page_offset()) {
		EXPECT_EQ(off, sgdma_region_segs(rd)[0].addr % 4096);
	}
	ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	std::vector<uint8_t> want(size, 0x5a);
	memcpy(want.data() + off, a.map + off, len);
	EXPECT_EQ(-1, first_mismatch(want.data(), b.map, size));
	EXPECT_EQ(0, sgdma_unregister(rs));
	EXPECT_EQ(0, sgdma_unregister(rd));
}

// Not a dma-buf, not open, closed: each refused with its own errno.
TEST_F(DmabufTest, BadDescriptors)
{
	int p[2];
	ASSERT_EQ(0, pipe(p));
	errno = 0;
	EXPECT_EQ(nullptr, reg(p[0], 0, 4096, SGDMA_TO_DEVICE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_NE(nullptr, strstr(sgdma_last_error(), "not a dma-buf")) << sgdma_last_error();
	close(p[0]);
	close(p[1]);

	int file = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(file, 0);
	EXPECT_EQ(nullptr, reg(file, 0, 16, SGDMA_TO_DEVICE));
	EXPECT_EQ(EINVAL, errno);
	int memfd = memfd_create("notdmabuf", MFD_CLOEXEC);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, 4096));
	EXPECT_EQ(nullptr, reg(memfd, 0, 4096, SGDMA_BIDIRECTIONAL));
	EXPECT_EQ(EINVAL, errno);
	close(memfd);

	EXPECT_EQ(nullptr, reg(-1, 0, 4096, SGDMA_TO_DEVICE));
	EXPECT_EQ(EBADF, errno);
	EXPECT_NE(nullptr, strstr(sgdma_last_error(), "not an open file")) << sgdma_last_error();
	close(file); // now a closed descriptor
	EXPECT_EQ(nullptr, reg(file, 0, 16, SGDMA_TO_DEVICE));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(nullptr, sgdma_register_dmabuf(nullptr, 0, 0, 16, SGDMA_TO_DEVICE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, param("regions"));
}

// Ranges past the end, empty or overflowing; flags the library refuses.
TEST_F(DmabufTest, BadRanges)
{
	NEED_UDMABUF();
	const size_t size = 2 * 4096;
	Udmabuf u(size);
	ASSERT_TRUE(u.ok()) << u.err;
	struct {
		size_t off, len;
	} bad[] = {{0, size + 1},         {size, 1},     {1, size},
	           {size - 1, 2},         {SIZE_MAX, 1}, {1ULL << 40, 4096},
	           {4096, SIZE_MAX - 100}};
	for (auto &b : bad) {
		SCOPED_TRACE("offset " + std::to_string(b.off) + " len " + std::to_string(b.len));
		errno = 0;
		EXPECT_EQ(nullptr, reg(u.fd, b.off, b.len, SGDMA_BIDIRECTIONAL));
		EXPECT_EQ(EINVAL, errno) << sgdma_last_error();
	}
	EXPECT_EQ(nullptr, reg(u.fd, 0, size + 1, SGDMA_TO_DEVICE));
	EXPECT_NE(nullptr, strstr(sgdma_last_error(), "outside the dma-buf")) << sgdma_last_error();
	EXPECT_EQ(nullptr, reg(u.fd, 0, 0, SGDMA_TO_DEVICE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, reg(u.fd, 0, 16, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, reg(u.fd, 0, 16, 8 | SGDMA_TO_DEVICE));
	EXPECT_EQ(EINVAL, errno);
	// The last byte alone and the whole buffer are fine.
	sgdma_region *r = reg(u.fd, size - 1, 1, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(1u, sgdma_region_nsegs(r));
	EXPECT_EQ(0, sgdma_unregister(r));
	r = reg(u.fd, 0, size, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(r));
}

// A dma-buf the heap handed out read-only may be read by the device only.
TEST_F(DmabufTest, ReadOnlyDmabufIsNotWritten)
{
	NEED_HEAP();
	HeapBuf h(4096, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(h.ok()) << h.err;
	EXPECT_EQ(nullptr, reg(h.fd, 0, 4096, SGDMA_FROM_DEVICE));
	EXPECT_EQ(EACCES, errno) << sgdma_last_error();
	EXPECT_EQ(nullptr, reg(h.fd, 0, 4096, SGDMA_BIDIRECTIONAL));
	EXPECT_EQ(EACCES, errno);
	sgdma_region *r = reg(h.fd, 0, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(r));
}

TEST_F(DmabufTest, NodePagesIsNotForDmabufs)
{
	NEED_UDMABUF();
	Udmabuf u(4096);
	ASSERT_TRUE(u.ok()) << u.err;
	sgdma_region *r = reg(u.fd, 0, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	size_t pages[4];
	EXPECT_EQ(-EOPNOTSUPP, sgdma_region_node_pages(r, pages, 4));
	EXPECT_EQ(0, sgdma_unregister(r));
}

// A dma-buf region has no process addresses that munmap could take away:
// asking whether it went stale is answered as a question that does not apply.
TEST_F(DmabufTest, ValidIsNotForDmabufs)
{
	NEED_UDMABUF();
	Udmabuf u(4096);
	ASSERT_TRUE(u.ok()) << u.err;
	sgdma_region *r = reg(u.fd, 0, 4096, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(-EOPNOTSUPP, sgdma_region_valid(r));
	EXPECT_NE(nullptr, strstr(sgdma_last_error(), "dma-buf region")) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(r));
}

// The region holds the dma-buf: the exporter's descriptors may be closed at
// once, the buffer lives on (DMA still lands in its pages) until unregister.
TEST_F(DmabufTest, ExporterClosedWhileRegistered)
{
	NEED_UDMABUF();
	const size_t len = 2 * 4096;
	Mapping src(len);
	ASSERT_TRUE(src.ok());
	fill_pattern(src.bytes(), len, 51);
	Udmabuf u(len);
	ASSERT_TRUE(u.ok()) << u.err;
	memset(u.map, 0x5a, len);
	long before = sgt_dmabuf_total();
	sgdma_region *rd = reg(u.fd, 0, len, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	u.close_fds(); // the memfd's pages stay mapped in u.map
	if (before >= 0) {
		EXPECT_EQ(before, sgt_dmabuf_total()) << "the region lost its dma-buf";
	}

	sgdma_region *rs = sgdma_dev_register(dev, src.bytes(), len, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), u.map, len));
	EXPECT_EQ(0, sgdma_unregister(rs));
	EXPECT_EQ(0, sgdma_unregister(rd));
	if (before >= 0) {
		EXPECT_EQ(before - 1, sgt_dmabuf_total()) << "unregister kept the dma-buf";
	}
}

// Same with a heap buffer, unmapped and closed: only the region holds it,
// and the device still reads what the CPU wrote before.
TEST_F(DmabufTest, HeapClosedWhileRegistered)
{
	NEED_HEAP();
	const size_t len = 4096 + 512;
	HeapBuf h(2 * 4096);
	ASSERT_TRUE(h.ok()) << h.err;
	h.cpu_access(true, true);
	fill_pattern(h.map, len, 61);
	h.cpu_access(false, true);
	sgdma_region *rs = reg(h.fd, 0, len, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, rs) << sgdma_last_error();
	h.unmap();
	h.close_fd();
	Mapping dst(len);
	ASSERT_TRUE(dst.ok());
	memset(dst.bytes(), 0x5a, len);
	sgdma_region *rd = sgdma_dev_register(dev, dst.bytes(), len, SGDMA_FROM_DEVICE);
	ASSERT_NE(nullptr, rd) << sgdma_last_error();
	ASSERT_EQ(0, edu_copy(edu, rs, rd, len));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
	std::vector<uint8_t> want(len);
	fill_pattern(want.data(), len, 61);
	EXPECT_EQ(-1, first_mismatch(want.data(), dst.bytes(), len));
	EXPECT_EQ(0, sgdma_unregister(rd));
	EXPECT_EQ(0, sgdma_unregister(rs));
}

// A process that dies with dma-buf regions leaves no region, attachment
// or dma-buf behind.
TEST_F(DmabufTest, DeathReleasesDmabufs)
{
	NEED_UDMABUF();
	long before = sgt_dmabuf_total();
	int pipefd[2];
	ASSERT_EQ(0, pipe(pipefd));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		sgdma_dev *d = sgdma_open(sgt_edu_bdf());
		Udmabuf u(8 * 4096);
		char ok = d && u.ok() && sgdma_register_dmabuf(d, u.fd, 0, u.size, 3) ? 'y' : 'n';
		u.close_fds();
		if (write(pipefd[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char ok = 0;
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	EXPECT_EQ('y', ok);
	EXPECT_EQ(1, param("regions"));
	if (before >= 0) {
		EXPECT_EQ(before + 1, sgt_dmabuf_total());
	}
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, nullptr, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, param("regions"));
	if (before >= 0) {
		EXPECT_EQ(before, sgt_dmabuf_total());
	}
	if (edu_attachments() >= 0) {
		EXPECT_EQ(0, edu_attachments());
	}
}

// Revocation unmaps and detaches at once; the region answers ENODEV.
TEST_F(DmabufTest, RevocationReleasesDmabufs)
{
	NEED_UDMABUF();
	Udmabuf u(4 * 4096);
	ASSERT_TRUE(u.ok()) << u.err;
	sgdma_dev *d = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, d) << sgdma_last_error();
	long before = sgt_dmabuf_total();
	sgdma_region *r = sgdma_register_dmabuf(d, u.fd, 0, u.size, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	u.close_fds();
	EXPECT_EQ(1, param("regions"));
	ASSERT_EQ(0, sgt_unexpose_edu());
	EXPECT_EQ(0, param("regions"));
	if (before >= 0) {
		EXPECT_EQ(before - 1, sgt_dmabuf_total()) << "revocation kept the dma-buf";
	}
	if (edu_attachments() >= 0) {
		EXPECT_EQ(0, edu_attachments());
	}
	EXPECT_EQ(-ENODEV, sgdma_sync_for_cpu(r, 0, 4096));
	EXPECT_EQ(-ENODEV, sgdma_unregister(r));
	sgdma_close(d);
	ASSERT_EQ(0, sgt_expose_edu(mask_bits()));
}

// The uapi rules: unknown flags, reserved words, output fields, sizes.
TEST_F(DmabufTest, UapiChecksItsArguments)
{
	int fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	int p[2];
	ASSERT_EQ(0, pipe(p));
	auto call = [&](sgdma_ioc_register_dmabuf a) {
		return ioctl(fd, SGDMA_IOC_REGISTER_DMABUF, &a) ? errno : 0;
	};
	sgdma_ioc_register_dmabuf a = {};
	a.size = sizeof(a);
	a.flags = SGDMA_REG_TO_DEVICE;
	a.fd = p[0];
	a.length = 4096;
	EXPECT_EQ(64u, sizeof(a));
	EXPECT_EQ(EINVAL, call(a)); // a pipe
	auto b = a;
	b.flags |= 0x100;
	b.fd = -1; // the flags are checked first: EINVAL, not EBADF
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.flags = 0, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.reserved = 1, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.reserved2 = 1, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.handle = 1, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.nsegs = 1, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.region_flags = 1, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.inline_segs = 8, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	b = a, b.fd = -1;
	EXPECT_EQ(EBADF, call(b));
	b = a, b.size = 63, b.fd = -1;
	EXPECT_EQ(EINVAL, call(b));
	// A larger struct with a zero tail is the same call.
	struct {
		sgdma_ioc_register_dmabuf a;
		uint64_t tail;
	} big = {a, 0};
	big.a.size = sizeof(big);
	big.a.fd = -1;
	EXPECT_EQ(EBADF, ioctl(fd, SGDMA_IOC_REGISTER_DMABUF, &big) ? errno : 0);
	big.tail = 1;
	EXPECT_EQ(E2BIG, ioctl(fd, SGDMA_IOC_REGISTER_DMABUF, &big) ? errno : 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

// REQUIRE_CONTIG: a one-page range is one segment; the answer for more
// pages is the mapping's, and a refusal says how many segments it was.
TEST_F(DmabufTest, RequireContig)
{
	NEED_UDMABUF();
	Udmabuf u(8 * 4096);
	ASSERT_TRUE(u.ok()) << u.err;
	sgdma_region *r = reg(u.fd, 4096, 4096, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_TRUE(sgdma_region_flags(r) & SGDMA_CONTIGUOUS);
	EXPECT_EQ(0, sgdma_unregister(r));
	sgdma_region *all = reg(u.fd, 0, u.size, SGDMA_TO_DEVICE);
	ASSERT_NE(nullptr, all) << sgdma_last_error();
	size_t n = sgdma_region_nsegs(all);
	EXPECT_EQ(0, sgdma_unregister(all));
	r = reg(u.fd, 0, u.size, SGDMA_TO_DEVICE | SGDMA_REQUIRE_CONTIG);
	if (n == 1) {
		ASSERT_NE(nullptr, r) << sgdma_last_error();
		EXPECT_EQ(0, sgdma_unregister(r));
	} else {
		EXPECT_EQ(nullptr, r);
		EXPECT_EQ(E2BIG, errno);
		EXPECT_NE(nullptr, strstr(sgdma_last_error(), std::to_string(n).c_str()))
		    << sgdma_last_error();
	}
}
