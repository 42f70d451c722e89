// SPDX-License-Identifier: GPL-2.0
// Bad input straight at the ioctls: every case gets its exact errno and
// leaves nothing pinned (the fixture checks the counters after each test).
#include "fixture.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/sgdma.h>

using namespace sgt;

namespace
{

class UapiTest : public SgdmaTest
{
      protected:
	int fd = -1;
	void SetUp() override
	{
		SgdmaTest::SetUp();
		if (HasFatalFailure())
			return;
		fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
		ASSERT_GE(fd, 0) << node_path() << ": " << strerror(errno);
	}
	void TearDown() override
	{
		if (fd >= 0)
			close(fd);
		SgdmaTest::TearDown();
	}

	// The ioctl's errno, or 0 on success.
	template <typename T> int call(unsigned long cmd, T *arg)
	{
		return ioctl(fd, cmd, arg) ? errno : 0;
	}

	int reg_at(uint64_t addr, uint64_t len, uint32_t flags, sgdma_ioc_register *out = nullptr)
	{
		sgdma_ioc_register r = {};
		r.size = sizeof(r);
		r.flags = flags;
		r.addr = addr;
		r.length = len;
		int err = call(SGDMA_IOC_REGISTER, &r);
		if (out)
			*out = r;
		return err;
	}
	int reg(const void *p, uint64_t len, uint32_t flags, sgdma_ioc_register *out = nullptr)
	{
		return reg_at(reinterpret_cast<uintptr_t>(p), len, flags, out);
	}

	int unreg(uint32_t handle)
	{
		sgdma_ioc_unregister u = {};
		u.size = sizeof(u);
		u.handle = handle;
		return call(SGDMA_IOC_UNREGISTER, &u);
	}
};

constexpr uint32_t kBidi = SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE;

// The size of a struct's first published version: up to and with @last.
#define FIRST_SIZE(type, last) (offsetof(type, last) + sizeof(((type *)nullptr)->last))

// The first published size of each command's struct.
size_t first_size(unsigned int nr)
{
	switch (nr) {
	case SGDMA_CMD_INFO:
		return FIRST_SIZE(sgdma_ioc_info, name);
	case SGDMA_CMD_REGISTER:
		return FIRST_SIZE(sgdma_ioc_register, nsegs);
	case SGDMA_CMD_GET_SEGS:
		return sizeof(sgdma_ioc_get_segs);
	case SGDMA_CMD_SYNC:
		return sizeof(sgdma_ioc_sync);
	default:
		return sizeof(sgdma_ioc_unregister);
	}
}

TEST_F(UapiTest, InfoReportsAbiAndName)
{
	sgdma_ioc_info info = {};
	info.size = sizeof(info);
	ASSERT_EQ(0, call(SGDMA_IOC_INFO, &info));
	EXPECT_EQ(SGDMA_ABI_VERSION, info.abi_version);
	EXPECT_STREQ(sgt_edu_bdf(), info.name);
	info.flags = 1;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_INFO, &info));
}

TEST_F(UapiTest, InfoReportsFeaturesAndCoherence)
{
	sgdma_ioc_info info = {};
	info.size = sizeof(info);
	ASSERT_EQ(0, call(SGDMA_IOC_INFO, &info));
	EXPECT_EQ(SGDMA_FEAT_REGION_FLAGS | SGDMA_FEAT_INLINE_SEGS | SGDMA_FEAT_COHERENCE |
	              SGDMA_FEAT_STATUS | SGDMA_FEAT_REGION_STATUS | SGDMA_FEAT_DMABUF,
	          info.features);
	EXPECT_GE(info.dma_align, 1u);
	EXPECT_EQ(0u, info.dma_align & (info.dma_align - 1)) << "a power of two";
	EXPECT_EQ(0u, info.dev_flags & ~(SGDMA_INFO_IOMMU | SGDMA_INFO_COHERENT));
#if defined(__x86_64__) || defined(__i386__)
	EXPECT_TRUE(info.dev_flags & SGDMA_INFO_COHERENT);
#endif
	EXPECT_EQ(!is_config("noncoherent"), !!(info.dev_flags & SGDMA_INFO_COHERENT));

	// A caller of the first version gets no more than it asked for.
	sgdma_ioc_info old;
	memset(&old, 0xee, sizeof(old));
	memset(&old, 0, FIRST_SIZE(sgdma_ioc_info, name));
	old.size = FIRST_SIZE(sgdma_ioc_info, name);
	ASSERT_EQ(0, call(SGDMA_IOC_INFO, &old));
	EXPECT_EQ(0xeeeeeeeeu, old.features);
	EXPECT_EQ(0xeeeeeeeeu, old.dma_align);
	EXPECT_EQ(info.dev_flags, old.dev_flags);
}

// The segments REGISTER returns inline are GET_SEGS's first ones, exactly
// as many as there is room for and no more.
TEST_F(UapiTest, InlineSegmentsEqualGetSegs)
{
	const size_t map_len = 6 * 4096;
	auto *m = static_cast<uint8_t *>(
	    mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	ASSERT_NE(MAP_FAILED, m);
	madvise(m, map_len, MADV_NOHUGEPAGE);
	memset(m, 1, map_len);
	const uint64_t len = 5 * 4096;
	for (uint32_t room : {1u, 2u, 64u}) {
		SCOPED_TRACE("room " + std::to_string(room));
		std::vector<sgdma_ioc_seg> inl(room + 2);
		memset(inl.data(), 0xcd, inl.size() * sizeof(inl[0]));
		sgdma_ioc_register r = {};
		r.size = sizeof(r);
		r.flags = kBidi;
		r.addr = reinterpret_cast<uintptr_t>(m + 100);
		r.length = len;
		r.inline_count = room;
		r.inline_segs = reinterpret_cast<uintptr_t>(inl.data());
		ASSERT_EQ(0, call(SGDMA_IOC_REGISTER, &r));
		uint64_t n = std::min<uint64_t>(room, r.nsegs);
		EXPECT_EQ(n, r.inline_count);
		EXPECT_EQ(r.nsegs == 1, !!(r.region_flags & SGDMA_REGION_CONTIGUOUS));

		std::vector<sgdma_ioc_seg> all(r.nsegs);
		sgdma_ioc_get_segs g = {};
		g.size = sizeof(g);
		g.handle = r.handle;
		g.count = all.size();
		g.segs = reinterpret_cast<uintptr_t>(all.data());
		ASSERT_EQ(0, call(SGDMA_IOC_GET_SEGS, &g));
		ASSERT_EQ(r.nsegs, g.count);
		EXPECT_EQ(0, memcmp(inl.data(), all.data(), n * sizeof(all[0])));
		const uint8_t *past = reinterpret_cast<const uint8_t *>(inl.data() + n);
		for (size_t i = 0; i < (inl.size() - n) * sizeof(inl[0]); i++)
			ASSERT_EQ(0xcd, past[i]) << "written past the inline segments";
		// And the rest reads on from where the inline ones stopped.
		if (n < r.nsegs) {
			sgdma_ioc_seg next;
			g.first = n;
			g.count = 1;
			g.segs = reinterpret_cast<uintptr_t>(&next);
			ASSERT_EQ(0, call(SGDMA_IOC_GET_SEGS, &g));
			EXPECT_EQ(0, memcmp(&next, &all[n], sizeof(next)));
		}
		EXPECT_EQ(0, unreg(r.handle));
	}
	munmap(m, map_len);
}

TEST_F(UapiTest, NewRegisterFieldsAreChecked)
{
	std::vector<uint8_t> buf(2 * 4096, 1);
	auto base = [&] {
		sgdma_ioc_register r = {};
		r.size = sizeof(r);
		r.flags = kBidi;
		r.addr = reinterpret_cast<uintptr_t>(buf.data());
		r.length = buf.size();
		return r;
	};
	sgdma_ioc_register r = base();
	r.region_flags = SGDMA_REGION_CONTIGUOUS;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_REGISTER, &r)) << "an output field on input";
	r = base();
	sgdma_ioc_seg seg;
	r.inline_segs = reinterpret_cast<uintptr_t>(&seg);
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_REGISTER, &r)) << "inline_segs without inline_count";
	r = base();
	r.flags = kBidi | (SGDMA_REG_REQUIRE_CONTIG << 1);
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_REGISTER, &r)) << "the next flag bit";

	// Nowhere to write the segments: the region is released again.
	for (uint64_t bad : {0xffff888000000000ULL, 0x10ULL}) {
		r = base();
		r.inline_count = 4;
		r.inline_segs = bad;
		EXPECT_EQ(EFAULT, call(SGDMA_IOC_REGISTER, &r));
		EXPECT_EQ(0, param("regions"));
		EXPECT_EQ(0, param("pinned_pages"));
	}

	// A caller of the first version: whatever lies past its size is not read.
	r = base();
	r.size = FIRST_SIZE(sgdma_ioc_register, nsegs);
	r.region_flags = 7;
	r.inline_count = 4;
	r.inline_segs = 0x10;
	ASSERT_EQ(0, call(SGDMA_IOC_REGISTER, &r));
	EXPECT_EQ(7u, r.region_flags) << "no reply past its size";
	EXPECT_EQ(4u, r.inline_count);
	EXPECT_EQ(0, unreg(r.handle));
}

// SGDMA_REG_REQUIRE_CONTIG fails with E2BIG and says how many segments the
// region would have had; a device limit of 4 KiB makes two pages two
// segments in every configuration.
TEST_F(UapiTest, RequireContigReportsTheCount)
{
	char path[256];
	sgt_dev_attr_path("max_segment_size", path, sizeof(path));
	long long old_seg;
	ASSERT_EQ(0, sgt_read_ll(path, &old_seg));
	ASSERT_EQ(0, sgt_write_str(path, "4096"));
	std::vector<uint8_t> buf(4 * 4096, 1);
	uint8_t *p = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(buf.data()) + 4095) &
	                                         ~uintptr_t(4095));

	sgdma_ioc_register plain;
	ASSERT_EQ(0, reg(p, 2 * 4096, kBidi, &plain));
	EXPECT_EQ(2u, plain.nsegs);
	EXPECT_EQ(0u, plain.region_flags & SGDMA_REGION_CONTIGUOUS);
	EXPECT_EQ(0, unreg(plain.handle));

	sgdma_ioc_register r;
	EXPECT_EQ(E2BIG, reg(p, 2 * 4096, kBidi | SGDMA_REG_REQUIRE_CONTIG, &r));
	EXPECT_EQ(2u, r.nsegs) << "the count it would have had";
	EXPECT_EQ(0u, r.handle);
	EXPECT_EQ(0, param("regions"));
	EXPECT_EQ(0, param("pinned_pages"));

	ASSERT_EQ(0, reg(p + 100, 3000, SGDMA_REG_TO_DEVICE | SGDMA_REG_REQUIRE_CONTIG, &r));
	EXPECT_EQ(1u, r.nsegs);
	EXPECT_TRUE(r.region_flags & SGDMA_REGION_CONTIGUOUS);
	EXPECT_EQ(0, unreg(r.handle));
	EXPECT_EQ(0, sgt_write_str(path, std::to_string(old_seg).c_str()));
}

// The status page: read-only, shared, one page at offset 0; it says
// "revoked" as soon as the device is, with no call made.
TEST_F(UapiTest, StatusPage)
{
	const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno) << "writable";
	EXPECT_EQ(MAP_FAILED, mmap(nullptr, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno) << "executable";
	EXPECT_EQ(MAP_FAILED, mmap(nullptr, page, PROT_READ, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno) << "private";
	EXPECT_EQ(MAP_FAILED, mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, page));
	EXPECT_EQ(EINVAL, errno) << "offset";
	EXPECT_EQ(MAP_FAILED, mmap(nullptr, 2 * page, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno) << "two pages";

	auto *st = static_cast<const volatile sgdma_status *>(
	    mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, 0));
	ASSERT_NE(MAP_FAILED, st) << strerror(errno);
	EXPECT_EQ(0u, st->revoked);
	EXPECT_EQ(0u, st->reserved);
	void *p = const_cast<sgdma_status *>(st);
	EXPECT_EQ(-1, mprotect(p, page, PROT_READ | PROT_WRITE)) << "made writable";
	// A read-only open may map it too.
	int ro = open(node_path().c_str(), O_RDONLY | O_CLOEXEC);
	ASSERT_GE(ro, 0);
	void *q = mmap(nullptr, page, PROT_READ, MAP_SHARED, ro, 0);
	close(ro);
	ASSERT_NE(MAP_FAILED, q) << strerror(errno);

	ASSERT_EQ(0, sgt_unexpose_edu());
	EXPECT_EQ(1u, st->revoked) << "revoked, and the page says so";
	EXPECT_EQ(1u, static_cast<const sgdma_status *>(q)->revoked);
	close(fd);
	fd = -1;
	EXPECT_EQ(1u, st->revoked) << "the mapping outlives the file";
	munmap(p, page);
	munmap(q, page);
	ASSERT_EQ(0, sgt_expose_edu(mask_bits()));
}

TEST_F(UapiTest, ReadOnlyOpenMayOnlyQuery)
{
	int ro = open(node_path().c_str(), O_RDONLY | O_CLOEXEC);
	ASSERT_GE(ro, 0);
	sgdma_ioc_info info = {};
	info.size = sizeof(info);
	EXPECT_EQ(0, ioctl(ro, SGDMA_IOC_INFO, &info));
	std::vector<uint8_t> buf(4096);
	sgdma_ioc_register r = {};
	r.size = sizeof(r);
	r.flags = SGDMA_REG_TO_DEVICE;
	r.addr = reinterpret_cast<uintptr_t>(buf.data());
	r.length = buf.size();
	EXPECT_EQ(-1, ioctl(ro, SGDMA_IOC_REGISTER, &r));
	EXPECT_EQ(EBADF, errno);
	close(ro);
}

TEST_F(UapiTest, LengthZeroAndOverflow)
{
	std::vector<uint8_t> buf(4096);
	EXPECT_EQ(EINVAL, reg(buf.data(), 0, kBidi));
	EXPECT_EQ(EINVAL, reg_at(~0ULL - 100, 4096, kBidi));
	EXPECT_EQ(EINVAL, reg(buf.data(), ~0ULL, kBidi));
}

TEST_F(UapiTest, BadAddresses)
{
	EXPECT_EQ(EFAULT, reg_at(0xffff888000000000ULL, 4096, kBidi)) << "kernel address";
	EXPECT_EQ(EFAULT, reg_at(0, 4096, kBidi)) << "NULL page";

	void *gone =
	    mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, 8192));
	EXPECT_EQ(EFAULT, reg(gone, 8192, kBidi)) << "unmapped";

	void *none = mmap(nullptr, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(EFAULT, reg(none, 8192, SGDMA_REG_TO_DEVICE)) << "PROT_NONE";
	munmap(none, 8192);

	// Half mapped: the pages pinned before the hole are released.
	uint8_t *half = static_cast<uint8_t *>(
	    mmap(nullptr, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	ASSERT_NE(MAP_FAILED, half);
	memset(half, 1, 16 * 4096);
	ASSERT_EQ(0, munmap(half + 8 * 4096, 8 * 4096));
	EXPECT_EQ(EFAULT, reg(half, 16 * 4096, kBidi)) << "partly mapped";
	munmap(half, 8 * 4096);
}

TEST_F(UapiTest, ReadOnlyMappingOnlyForDeviceReads)
{
	void *ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(EFAULT, reg(ro, 4096, SGDMA_REG_FROM_DEVICE));
	EXPECT_EQ(EFAULT, reg(ro, 4096, kBidi));
	sgdma_ioc_register out;
	EXPECT_EQ(0, reg(ro, 4096, SGDMA_REG_TO_DEVICE, &out));
	EXPECT_EQ(0, unreg(out.handle));
	munmap(ro, 4096);
}

TEST_F(UapiTest, IoMemoryIsRefused)
{
	std::string bar = std::string("/sys/bus/pci/devices/") + sgt_edu_bdf() + "/resource0";
	int bfd = open(bar.c_str(), O_RDWR | O_SYNC | O_CLOEXEC);
	ASSERT_GE(bfd, 0) << bar;
	void *regs = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	ASSERT_NE(MAP_FAILED, regs);
	EXPECT_EQ(EFAULT, reg(regs, 4096, kBidi));
	munmap(regs, 4096);
	close(bfd);
}

// The size rule, for every ioctl of the uapi's command list: shorter than
// the first version is EINVAL, the first version and every size up to this
// header's are the same call, longer with a zero tail is the same call,
// longer with a non-zero tail is E2BIG. Each argument is a valid call.
TEST_F(UapiTest, SizeRuleForEveryIoctl)
{
	std::vector<uint8_t> buf(3 * 4096);
	sgdma_ioc_register live;
	ASSERT_EQ(0, reg(buf.data(), buf.size(), kBidi, &live));
	std::vector<sgdma_ioc_seg> segs(8);

	// Fills @arg with a valid argument of command @nr; returns its size.
	auto valid = [&](unsigned int nr, void *arg) -> size_t {
		switch (nr) {
		case SGDMA_CMD_INFO: {
			auto *a = static_cast<sgdma_ioc_info *>(arg);
			a->size = sizeof(*a);
			return sizeof(*a);
		}
		case SGDMA_CMD_REGISTER: {
			auto *a = static_cast<sgdma_ioc_register *>(arg);
			a->size = sizeof(*a);
			a->flags = kBidi;
			a->addr = reinterpret_cast<uintptr_t>(buf.data());
			a->length = 4096;
			return sizeof(*a);
		}
		case SGDMA_CMD_GET_SEGS: {
			auto *a = static_cast<sgdma_ioc_get_segs *>(arg);
			a->size = sizeof(*a);
			a->handle = live.handle;
			a->count = segs.size();
			a->segs = reinterpret_cast<uintptr_t>(segs.data());
			return sizeof(*a);
		}
		case SGDMA_CMD_SYNC: {
			auto *a = static_cast<sgdma_ioc_sync *>(arg);
			a->size = sizeof(*a);
			a->flags = SGDMA_SYNC_FOR_CPU;
			a->handle = live.handle;
			a->length = 4096;
			return sizeof(*a);
		}
		case SGDMA_CMD_UNREGISTER:
			return 0; // needs a handle of its own: below
		}
		return 0;
	};
	const unsigned long cmds[] = {SGDMA_IOC_INFO, SGDMA_IOC_REGISTER, SGDMA_IOC_GET_SEGS,
	                              SGDMA_IOC_SYNC, SGDMA_IOC_UNREGISTER};
	for (unsigned long cmd : cmds) {
		unsigned int nr = _IOC_NR(cmd);
		for (int variant = 0; variant < 5; variant++) {
			alignas(8) uint8_t arg[512] = {};
			size_t size = valid(nr, arg);
			uint32_t own_handle = 0;
			if (nr == SGDMA_CMD_UNREGISTER) {
				sgdma_ioc_register r;
				ASSERT_EQ(0, reg(buf.data() + 4096, 4096, kBidi, &r));
				auto *a = reinterpret_cast<sgdma_ioc_unregister *>(arg);
				a->size = size = sizeof(*a);
				a->handle = own_handle = r.handle;
			}
			ASSERT_GT(size, 8u);
			uint32_t sz;
			int want;
			if (variant == 0) {
				sz = static_cast<uint32_t>(first_size(nr) - 1);
				want = EINVAL;
			} else if (variant == 3) {
				sz = static_cast<uint32_t>(first_size(nr));
				want = 0;
			} else if (variant == 4) {
				sz = static_cast<uint32_t>((first_size(nr) + size) / 2);
				want = 0;
			} else if (variant == 1) {
				sz = static_cast<uint32_t>(size + 16);
				want = 0;
			} else {
				sz = static_cast<uint32_t>(size + 16);
				arg[size + 9] = 1;
				want = E2BIG;
			}
			memcpy(arg, &sz, sizeof(sz));
			std::vector<uint8_t> sent(arg, arg + sizeof(arg));
			int err = call(cmd, arg);
			// The reply covers at most the caller's size.
			if (sz < size && !err) {
				EXPECT_EQ(0, memcmp(arg + sz, sent.data() + sz, sizeof(arg) - sz))
				    << "ioctl nr 0x" << std::hex << nr << std::dec
				    << ": reply written past size " << sz;
			}
			EXPECT_EQ(want, err) << "ioctl nr 0x" << std::hex << nr << std::dec
			                     << ", size " << sz << " (struct " << size << ")";
			if (nr == SGDMA_CMD_REGISTER && err == 0) {
				auto *done = reinterpret_cast<sgdma_ioc_register *>(arg);
				EXPECT_EQ(0, unreg(done->handle));
			}
			if (own_handle && err) {
				EXPECT_EQ(0, unreg(own_handle));
			}
		}
	}
	EXPECT_EQ(0, unreg(live.handle));
}

TEST_F(UapiTest, FlagsReservedAndSizes)
{
	std::vector<uint8_t> buf(4096);
	EXPECT_EQ(EINVAL, reg(buf.data(), 4096, 0)) << "no direction";
	EXPECT_EQ(EINVAL, reg(buf.data(), 4096, kBidi | (1u << 5))) << "unknown flag";

	sgdma_ioc_register r = {};
	r.size = sizeof(r);
	r.flags = kBidi;
	r.addr = reinterpret_cast<uintptr_t>(buf.data());
	r.length = 4096;
	r.reserved = 1;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_REGISTER, &r));
	r.reserved = 0;
	r.size = 8;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_REGISTER, &r)) << "size below the first version";

	// A newer, larger struct: zero tail accepted, non-zero tail refused.
	struct {
		sgdma_ioc_register r;
		uint64_t extension;
	} big = {};
	big.r = r;
	big.r.size = sizeof(big);
	big.extension = 1;
	EXPECT_EQ(E2BIG, call(SGDMA_IOC_REGISTER, &big));
	big.extension = 0;
	ASSERT_EQ(0, call(SGDMA_IOC_REGISTER, &big));
	EXPECT_NE(0u, big.r.handle);
	EXPECT_EQ(0, unreg(big.r.handle));

	sgdma_ioc_unregister u = {};
	u.size = sizeof(u);
	u.flags = 1;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_UNREGISTER, &u));

	// A struct is at most a page: the kernel checks no longer zero tail.
	std::vector<uint8_t> page(8192, 0);
	auto *info = reinterpret_cast<sgdma_ioc_info *>(page.data());
	info->size = 4096;
	EXPECT_EQ(0, call(SGDMA_IOC_INFO, info));
	info->size = 4097;
	EXPECT_EQ(E2BIG, call(SGDMA_IOC_INFO, info));

	int dummy = 0;
	EXPECT_EQ(ENOTTY, call(_IOWR(SGDMA_IOCTL_TYPE, 0x7f, int), &dummy));
	EXPECT_EQ(ENOTTY, call(_IOWR('x', SGDMA_CMD_INFO, int), &dummy));
	EXPECT_EQ(EFAULT, ioctl(fd, SGDMA_IOC_INFO, nullptr) ? errno : 0);
}

TEST_F(UapiTest, HandlesGetSegsAndSync)
{
	std::vector<uint8_t> buf(3 * 4096);
	sgdma_ioc_register r;
	ASSERT_EQ(0, reg(buf.data(), buf.size(), kBidi, &r));
	ASSERT_GT(r.nsegs, 0u);

	std::vector<sgdma_ioc_seg> segs(r.nsegs + 4);
	sgdma_ioc_get_segs g = {};
	g.size = sizeof(g);
	g.handle = r.handle;
	g.count = segs.size();
	g.segs = reinterpret_cast<uintptr_t>(segs.data());
	ASSERT_EQ(0, call(SGDMA_IOC_GET_SEGS, &g));
	EXPECT_EQ(r.nsegs, g.count);
	uint64_t total = 0;
	for (size_t i = 0; i < g.count; i++)
		total += segs[i].len;
	EXPECT_EQ(buf.size(), total);

	g.count = 1;
	g.first = r.nsegs;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_GET_SEGS, &g)) << "first past the end";
	g.first = 0;
	g.count = 0;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_GET_SEGS, &g)) << "count 0";
	g.count = 1;
	g.segs = 0xffff888000000000ULL;
	EXPECT_EQ(EFAULT, call(SGDMA_IOC_GET_SEGS, &g)) << "kernel pointer";
	{
		// A segment that starts in writable memory and ends in a read-only page.
		const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
		auto *two = static_cast<uint8_t *>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
		                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
		ASSERT_NE(MAP_FAILED, two) << strerror(errno);
		ASSERT_EQ(0, mprotect(two + page, page, PROT_READ)) << strerror(errno);
		g.segs = reinterpret_cast<uintptr_t>(two + page - sizeof(uint64_t));
		EXPECT_EQ(EFAULT, call(SGDMA_IOC_GET_SEGS, &g))
		    << "segment across a read-only page";
		munmap(two, 2 * page);
	}
	g.segs = reinterpret_cast<uintptr_t>(segs.data());
	g.handle = 12345;
	EXPECT_EQ(ENOENT, call(SGDMA_IOC_GET_SEGS, &g)) << "bad handle";

	sgdma_ioc_sync s = {};
	s.size = sizeof(s);
	s.handle = r.handle;
	s.flags = SGDMA_SYNC_FOR_CPU;
	s.offset = 4096;
	s.length = 4096;
	EXPECT_EQ(0, call(SGDMA_IOC_SYNC, &s));
	s.flags = SGDMA_SYNC_FOR_DEVICE;
	EXPECT_EQ(0, call(SGDMA_IOC_SYNC, &s));
	s.flags = SGDMA_SYNC_FOR_CPU | SGDMA_SYNC_FOR_DEVICE;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_SYNC, &s)) << "both directions";
	s.flags = SGDMA_SYNC_FOR_CPU;
	s.length = 2 * 4096 + 1;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_SYNC, &s)) << "past the end";
	s.length = 0;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_SYNC, &s)) << "empty";
	s.length = ~0ULL;
	EXPECT_EQ(EINVAL, call(SGDMA_IOC_SYNC, &s)) << "overflow";

	EXPECT_EQ(0, unreg(r.handle));
	EXPECT_EQ(ENOENT, unreg(r.handle)) << "double unregister";
	EXPECT_EQ(ENOENT, unreg(0)) << "handle 0";

	// A stale handle does not name the next region.
	sgdma_ioc_register r2;
	ASSERT_EQ(0, reg(buf.data(), buf.size(), kBidi, &r2));
	EXPECT_NE(r.handle, r2.handle);
	g.handle = r.handle;
	g.count = 1;
	EXPECT_EQ(ENOENT, call(SGDMA_IOC_GET_SEGS, &g)) << "reused handle";
	EXPECT_EQ(0, unreg(r2.handle));
}

// Handles count up from 1 in a fresh file and each names its own region,
// through every growth of the file's handle table; an unregistered handle
// is not given out again, and closing releases what is left. Status slots
// go from 0, the lowest free one first, and are given again.
TEST_F(UapiTest, HandlesCountUpAndNameTheirOwnRegion)
{
	constexpr size_t kRegions = 300;
	std::unique_ptr<uint8_t, decltype(&free)> buf(
	    static_cast<uint8_t *>(aligned_alloc(4096, kRegions * 4096)), free);
	ASSERT_TRUE(buf);
	memset(buf.get(), 1, kRegions * 4096);
	long long pinned = param("pinned_pages");
	std::vector<uint32_t> handle(kRegions);
	std::vector<sgdma_ioc_seg> seg(kRegions);

	for (size_t i = 0; i < kRegions; i++) {
		sgdma_ioc_register r = {};
		r.size = sizeof(r);
		r.flags = kBidi;
		r.addr = reinterpret_cast<uintptr_t>(buf.get() + i * 4096);
		r.length = 4096;
		r.inline_count = 1;
		r.inline_segs = reinterpret_cast<uintptr_t>(&seg[i]);
		ASSERT_EQ(0, call(SGDMA_IOC_REGISTER, &r)) << "region " << i;
		ASSERT_EQ(1u, r.inline_count);
		handle[i] = r.handle;
		EXPECT_EQ(i + 1, r.handle) << "region " << i;
		EXPECT_EQ(i, r.status_slot) << "region " << i;
	}
	EXPECT_EQ(pinned + (long long)kRegions, param("pinned_pages"));

	// Every second one goes; the rest still answer with their own segment.
	for (size_t i = 1; i < kRegions; i += 2)
		ASSERT_EQ(0, unreg(handle[i]));
	for (size_t i = 0; i < kRegions; i++) {
		sgdma_ioc_seg got = {};
		sgdma_ioc_get_segs g = {};
		g.size = sizeof(g);
		g.handle = handle[i];
		g.count = 1;
		g.segs = reinterpret_cast<uintptr_t>(&got);
		if (i % 2) {
			EXPECT_EQ(ENOENT, call(SGDMA_IOC_GET_SEGS, &g)) << "handle " << handle[i];
			continue;
		}
		ASSERT_EQ(0, call(SGDMA_IOC_GET_SEGS, &g)) << "handle " << handle[i];
		EXPECT_EQ(seg[i].addr, got.addr) << "handle " << handle[i];
		EXPECT_EQ(4096u, got.len) << "handle " << handle[i];
	}

	sgdma_ioc_register again;
	ASSERT_EQ(0, reg(buf.get() + 4096, 4096, kBidi, &again));
	EXPECT_EQ(kRegions + 1, again.handle) << "a freed handle was given out again";
	EXPECT_EQ(1u, again.status_slot) << "not the lowest free slot";

	ASSERT_EQ(0, close(fd));
	fd = -1;
	EXPECT_EQ(pinned, param("pinned_pages")) << "closing left pages pinned";
}

TEST_F(UapiTest, ModuleLimits)
{
	std::vector<uint8_t> buf(4 * 4096);
	long long old_bytes = param("max_region_bytes");
	long long old_regions = param("max_regions_per_file");

	// The scatterlist API counts a region's pages in 32 bits.
	EXPECT_EQ(-ERANGE, set_param("max_region_bytes", 1LL << 50));
	EXPECT_EQ(old_bytes, param("max_region_bytes"));
	ASSERT_EQ(0, set_param("max_region_bytes", 8192));
	EXPECT_EQ(E2BIG, reg(buf.data(), 8193, kBidi));
	sgdma_ioc_register r;
	EXPECT_EQ(0, reg(buf.data(), 8192, kBidi, &r));
	EXPECT_EQ(0, unreg(r.handle));
	ASSERT_EQ(0, set_param("max_region_bytes", old_bytes));

	ASSERT_EQ(0, set_param("max_regions_per_file", 2));
	sgdma_ioc_register a, b;
	ASSERT_EQ(0, reg(buf.data(), 4096, kBidi, &a));
	ASSERT_EQ(0, reg(buf.data() + 4096, 4096, kBidi, &b));
	EXPECT_EQ(ENOSPC, reg(buf.data() + 8192, 4096, kBidi));
	EXPECT_EQ(0, unreg(a.handle));
	EXPECT_EQ(0, unreg(b.handle));
	ASSERT_EQ(0, set_param("max_regions_per_file", old_regions));
}

// More than swiotlb's 64 MiB pool cannot be bounced: the mapping fails
// after every page was pinned, and all of them are released again.
TEST_F(UapiTest, MappingFailureUnwinds)
{
	if (!is_config("bounce"))
		GTEST_SKIP() << "needs the bounce configuration";
	const size_t len = 96 << 20;
	void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, len);
	EXPECT_EQ(EIO, reg(p, len, kBidi));
	EXPECT_EQ(0, param("pinned_pages"));
	munmap(p, len);
}

// Runs @body in a child process; returns its exit status (0 = success).
template <typename F> int in_child(F body)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(body());
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(UapiTest, MemlockLimitWithoutCapIpcLock)
{
	int status = in_child([&] {
		// A new process has its own mm and so needs its own file.
		fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return 9;
		if (sgt_drop_cap_ipc_lock())
			return 10;
		struct rlimit lim = {64 * 1024, 64 * 1024};
		if (setrlimit(RLIMIT_MEMLOCK, &lim))
			return 11;
		std::vector<uint8_t> big(1 << 20), small(4 * 4096);
		if (reg(big.data(), big.size(), kBidi) != ENOMEM)
			return 12;
		sgdma_ioc_register r;
		if (reg(small.data(), small.size(), kBidi, &r))
			return 13;
		// The 16 KiB charge stays until unregister: 60 KiB more is over.
		if (reg(big.data(), 60 * 1024, kBidi) != ENOMEM)
			return 14;
		return unreg(r.handle) ? 15 : 0;
	});
	EXPECT_EQ(0, status);
}

// Sends @fd over the unix socket @sock; 0 or -errno.
int send_fd(int sock, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))] = {};
	iovec iov = {&byte, 1};
	msghdr msg = {};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof(ctl);
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))] = {};
	iovec iov = {&byte, 1};
	msghdr msg = {};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof(ctl);
	if (recvmsg(sock, &msg, 0) != 1)
		return -errno;
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

// The memlock charge stays with the pinned pages, not with the process
// that pinned them: passing the file on and exiting (or execve, or a fork
// chain) does not let the same user pin more than RLIMIT_MEMLOCK.
TEST_F(UapiTest, MemlockChargeFollowsThePagesNotTheProcess)
{
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	// Each child: a new mm, no CAP_IPC_LOCK, 64 KiB of RLIMIT_MEMLOCK.
	auto limited_child = [&](bool pass_on) {
		return in_child([&] {
			fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
			if (fd < 0)
				return 9;
			struct rlimit lim = {64 * 1024, 64 * 1024};
			if (sgt_drop_cap_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &lim))
				return 10;
			void *buf = mmap(nullptr, 48 * 1024, PROT_READ | PROT_WRITE,
			                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (buf == MAP_FAILED)
				return 14;
			int err = reg(buf, 48 * 1024, kBidi);
			if (err)
				return err == ENOMEM ? 11 : 12;
			if (pass_on && send_fd(sv[1], fd))
				return 13;
			return 0;
		});
	};
	ASSERT_EQ(0, limited_child(true)) << "48 KiB under a 64 KiB limit";
	int passed = recv_fd(sv[0]);
	ASSERT_GE(passed, 0);
	EXPECT_EQ(12, param("pinned_pages")) << "the passed file keeps its region";
	EXPECT_EQ(11, limited_child(false)) << "the same user pinned beyond its limit";
	close(passed);
	EXPECT_EQ(0, limited_child(false)) << "the charge went with the region";
	close(sv[0]);
	close(sv[1]);
}

TEST_F(UapiTest, ForkedChildMayOnlyQuery)
{
	std::vector<uint8_t> buf(4096);
	sgdma_ioc_register r;
	ASSERT_EQ(0, reg(buf.data(), buf.size(), kBidi, &r));
	int status = in_child([&] {
		sgdma_ioc_info info = {};
		info.size = sizeof(info);
		if (call(SGDMA_IOC_INFO, &info))
			return 20;
		if (reg(buf.data(), buf.size(), kBidi) != EPERM)
			return 21;
		if (unreg(r.handle) != EPERM)
			return 22;
		return 0;
	});
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, unreg(r.handle)) << "the parent's region survived the child";
}

} // namespace
