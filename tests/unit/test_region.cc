// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of libsgdma's regions: registering, the segments, sync,
 * unregister and the device references regions hold, against the fake
 * module (fake_module.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#include "fake_module.h"

/* ---- register ---------------------------------------------------------- */

TEST_F(Lib, RegisterValidation)
{
	errno = 0;
	EXPECT_EQ(sgdma_dev_register(nullptr, buf.data(), 1, 3), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(sgdma_dev_register(dev, nullptr, 1, 3), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_HAS(sgdma_last_error(), "sgdma_dev_register: buf");
	EXPECT_EQ(sgdma_dev_register(dev, buf.data(), 0, 3), nullptr);
	EXPECT_EQ(errno, EINVAL);
	for (unsigned f : {0u, 4u, 8u | 3u, 0x80000001u}) {
		EXPECT_EQ(sgdma_dev_register(dev, buf.data(), 1, f), nullptr);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_HAS(sgdma_last_error(), "flags");
	}
	EXPECT_EQ(sgdma_dev_register(dev, reinterpret_cast<void *>(UINTPTR_MAX - 10), 12, 3),
	          nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(sgdma_register(nullptr, 1), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_HAS(sgdma_last_error(), "sgdma_register: buf");
	EXPECT_EQ(sgdma_register(buf.data(), 0), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER), 0);
}

TEST_F(Lib, RegisterSuccess)
{
	for (unsigned f : {SGDMA_TO_DEVICE, SGDMA_FROM_DEVICE, SGDMA_BIDIRECTIONAL}) {
		sgdma_region *r = sgdma_dev_register(dev, buf.data() + 1, buf.size() - 1, f);
		ASSERT_NE(r, nullptr) << sgdma_last_error();
		std::vector<sgdma_ioc_seg> want;
		{
			std::lock_guard<std::mutex> g(fake::lock);
			ASSERT_EQ(fd_->regions.size(), 1u);
			auto &reg = fd_->regions.begin()->second;
			EXPECT_EQ(reg.flags, f);
			EXPECT_EQ(reg.addr, reinterpret_cast<uintptr_t>(buf.data() + 1));
			EXPECT_EQ(reg.len, buf.size() - 1);
			want = reg.segs;
		}
		ASSERT_EQ(sgdma_region_nsegs(r), want.size());
		EXPECT_GE(want.size(), 6u);
		const sgdma_seg *s = sgdma_region_segs(r);
		for (size_t i = 0; i < want.size(); i++) {
			EXPECT_EQ(s[i].addr, want[i].addr);
			EXPECT_EQ(s[i].len, want[i].len);
			EXPECT_EQ(s[i].offset, want[i].offset);
		}
		EXPECT_EQ(sgdma_region_dev(r), dev);
		EXPECT_EQ(sgdma_region_len(r), buf.size() - 1);
		EXPECT_EQ(sgdma_region_addr(r), buf.data() + 1);
		EXPECT_EQ(sgdma_unregister(r), 0);
		std::lock_guard<std::mutex> g(fake::lock);
		EXPECT_TRUE(fd_->regions.empty());
	}
}

TEST_F(Lib, RegisterBatches)
{
	/* 3 * 4096 + 5 segments of 16 bytes: 4 GET_SEGS calls */
	fd_->seg_len = 16;
	std::vector<char> big((3 * 4096 + 5) * 16);
	sgdma_region *r = sgdma_dev_register(dev, big.data(), big.size(), 3);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	size_t n = sgdma_region_nsegs(r);
	EXPECT_GE(n, 3u * 4096 + 5);
	/* the first ones came with the REGISTER reply */
	size_t inl = std::min<size_t>(fd_->last_register.inline_count, n);
	EXPECT_GT(inl, 0u);
	EXPECT_EQ(calls(SGDMA_CMD_GET_SEGS), static_cast<int>((n - inl + 4095) / 4096));
	const sgdma_seg *s = sgdma_region_segs(r);
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(s[i].offset, off);
		off += s[i].len;
	}
	EXPECT_EQ(off, big.size());
	EXPECT_EQ(sgdma_unregister(r), 0);
}

TEST_F(Lib, RegisterPartialGetSegs)
{
	/* the module may return fewer entries than asked */
	fd_->seg_len = 16;
	fd_->max_count = 1000;
	std::vector<char> big(10000 * 16);
	sgdma_region *r = sgdma_dev_register(dev, big.data(), big.size(), 3);
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	size_t n = sgdma_region_nsegs(r);
	size_t inl = std::min<size_t>(fd_->last_register.inline_count, n);
	EXPECT_EQ(calls(SGDMA_CMD_GET_SEGS), static_cast<int>((n - inl + 999) / 1000));
	std::vector<sgdma_ioc_seg> want = fd_->regions.begin()->second.segs;
	ASSERT_EQ(want.size(), n);
	EXPECT_EQ(memcmp(sgdma_region_segs(r), want.data(), n * sizeof(sgdma_seg)), 0);
	EXPECT_EQ(sgdma_unregister(r), 0);
}

struct ErrCase {
	int err;
	const char *msg;
};

TEST_F(Lib, RegisterErrors)
{
	const ErrCase cases[] = {
	    {EFAULT, "buffer is not fully mapped, is PROT_NONE, I/O memory, "
	             "read-only while the device writes"},
	    {EFAULT, "a shared mapping of a file whose filesystem tracks writes"},
	    {ENOMEM, "over the locked-memory limit (RLIMIT_MEMLOCK "},
	    {ENOMEM, "raise `ulimit -l` or grant CAP_IPC_LOCK"},
	    {E2BIG, "max_region_bytes"},
	    {ENOSPC, "max_regions_per_file"},
	    {ENODEV, "device 0000:00:03.0 was revoked (un-exposed, unbound "
	             "or removed)"},
	    {EPERM, "called from a forked child: regions belong to the "
	            "process that opened the device"},
	    {EIO, "DMA mapping"},
	    {EIO, "max_bounce_bytes"},
	    {EBUSY, "the IOMMU setup of 0000:00:03.0 changed since it was exposed"},
	    {EINVAL, "REGISTER ioctl on 0000:00:03.0 failed"},
	};
	for (const auto &c : cases) {
		fd_->reg_err = c.err;
		errno = 0;
		EXPECT_EQ(sgdma_dev_register(dev, buf.data(), buf.size(), 3), nullptr);
		EXPECT_EQ(errno, c.err);
		EXPECT_HAS(sgdma_last_error(), c.msg);
		EXPECT_HAS(sgdma_last_error(), "sgdma_dev_register: ");
	}
	EXPECT_EQ(calls(SGDMA_CMD_UNREGISTER), 0);
}

TEST_F(Lib, RegisterEnomemMessageSizes)
{
	fd_->reg_err = ENOMEM;
	std::vector<char> b(8 << 20);
	EXPECT_EQ(sgdma_dev_register(dev, b.data(), b.size(), 3), nullptr);
	EXPECT_HAS(sgdma_last_error(), ": 8 MiB over the ");
	struct rlimit rl;
	ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY)
		EXPECT_HAS(sgdma_last_error(), "(RLIMIT_MEMLOCK unlimited)");
	else
		EXPECT_HAS(sgdma_last_error(), "(RLIMIT_MEMLOCK " +
		                                   std::to_string(rl.rlim_cur / 1024) +
		                                   " KiB, counted");
	EXPECT_EQ(sgdma_dev_register(dev, b.data(), 4097, 3), nullptr);
	EXPECT_HAS(sgdma_last_error(), ": 4097 bytes over the ");
}

/* Failures after REGISTER: the region is unregistered, errno preserved. */
TEST_F(Lib, RegisterCleanupAfterFailure)
{
	struct {
		void (*setup)(fake::Dev *);
		int err;
	} cases[] = {
	    {[](fake::Dev *d) {
		     d->seg_len = 16; /* more than the REGISTER reply holds */
		     d->segs_err = ENODEV;
	     },
	     ENODEV},
	    {[](fake::Dev *d) {
		     d->seg_len = 16;
		     d->segs_err = EPERM;
	     },
	     EPERM},
	    {[](fake::Dev *d) {
		     d->seg_len = 16;
		     d->segs_err = EFAULT;
		     d->segs_err_at_call = 1; /* second batch */
	     },
	     EFAULT},
	    {[](fake::Dev *d) {
		     d->seg_len = 16;
		     d->zero_count = true;
	     },
	     EPROTO},
	    {[](fake::Dev *d) { d->bad_nsegs = true; }, EPROTO},
	    {[](fake::Dev *d) { d->bad_tiling = true; }, EPROTO},
	};
	std::vector<char> big(5000 * 16);
	for (auto &c : cases) {
		{
			std::lock_guard<std::mutex> g(fake::lock);
			*fd_ = fake::Dev();
			c.setup(fd_);
			fd_->unreg_err = EBADMSG; /* must not clobber errno */
		}
		errno = 0;
		EXPECT_EQ(sgdma_dev_register(dev, big.data(), big.size(), 3), nullptr);
		EXPECT_EQ(errno, c.err) << sgdma_last_error();
		std::lock_guard<std::mutex> g(fake::lock);
		ASSERT_EQ(fd_->unregistered.size(), 1u);
		EXPECT_EQ(fd_->unregistered[0], 1u);
	}
}

/* ---- sync -------------------------------------------------------------- */

TEST_F(Lib, Sync)
{
	sgdma_region *r = sgdma_dev_register(dev, buf.data(), 1000, 3);
	ASSERT_NE(r, nullptr) << sgdma_last_error();

	EXPECT_EQ(sgdma_sync_for_device(r, 10, 20), 0);
	EXPECT_EQ(fd_->last_sync.flags, SGDMA_SYNC_FOR_DEVICE);
	EXPECT_EQ(fd_->last_sync.handle, 1u);
	EXPECT_EQ(fd_->last_sync.offset, 10u);
	EXPECT_EQ(fd_->last_sync.length, 20u);
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 1000), 0);
	EXPECT_EQ(fd_->last_sync.flags, SGDMA_SYNC_FOR_CPU);
	EXPECT_EQ(fd_->last_sync.offset, 0u);
	EXPECT_EQ(fd_->last_sync.length, 1000u);
	EXPECT_EQ(sgdma_sync_for_cpu(r, 999, 1), 0);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 3);

	expect_syncs_refuse_bad_ranges(r, 1000);
	EXPECT_EQ(sgdma_sync_for_device(nullptr, 0, 1), -EINVAL);
	EXPECT_EQ(sgdma_sync_for_cpu(nullptr, 0, 1), -EINVAL);
	EXPECT_EQ(calls(SGDMA_CMD_SYNC), 3);

	fd_->sync_err = ENODEV;
	EXPECT_EQ(sgdma_sync_for_cpu(r, 0, 1), -ENODEV);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "sgdma_sync_for_cpu: device 0000:00:03.0 was revoked");
	fd_->sync_err = EPERM;
	EXPECT_EQ(sgdma_sync_for_device(r, 0, 1), -EPERM);
	EXPECT_HAS(sgdma_last_error(), "forked child");
	fd_->sync_err = ENOENT;
	EXPECT_EQ(sgdma_sync_for_device(r, 0, 1), -ENOENT);
	EXPECT_HAS(sgdma_last_error(), "does not know this region");
	fd_->sync_err = 0;
	EXPECT_EQ(sgdma_unregister(r), 0);
}

/* ---- unregister and reference counting --------------------------------- */

TEST_F(Lib, UnregisterNull)
{
	errno = 0;
	EXPECT_EQ(sgdma_unregister(nullptr), -EINVAL);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Lib, UnregisterErrorStillFrees)
{
	sgdma_region *r = sgdma_dev_register(dev, buf.data(), 100, 2);
	ASSERT_NE(r, nullptr);
	fd_->unreg_err = ENODEV;
	errno = 0;
	EXPECT_EQ(sgdma_unregister(r), -ENODEV); /* LSan: no leak */
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "sgdma_unregister: device");
	EXPECT_HAS(sgdma_last_error(), "was revoked");
}

TEST_F(Lib, CloseWithLiveRegions)
{
	sgdma_region *r1 = sgdma_dev_register(dev, buf.data(), 100, 1);
	sgdma_region *r2 = sgdma_dev_register(dev, buf.data() + 100, 100, 1);
	ASSERT_NE(r1, nullptr);
	ASSERT_NE(r2, nullptr);
	int fd = fd_->last_fd;
	ASSERT_GE(fd, 0);

	sgdma_close(dev);
	dev = nullptr;
	EXPECT_GE(fcntl(fd, F_GETFD), 0); /* still open */
	EXPECT_EQ(sgdma_sync_for_device(r1, 0, 100), 0);
	struct sgdma_dev_info info;
	EXPECT_EQ(sgdma_dev_info(sgdma_region_dev(r2), &info), 0);
	EXPECT_EQ(sgdma_unregister(r1), 0);
	EXPECT_GE(fcntl(fd, F_GETFD), 0); /* r2 holds it */
	EXPECT_EQ(sgdma_unregister(r2), 0);
	errno = 0;
	EXPECT_EQ(fcntl(fd, F_GETFD), -1); /* closed */
	EXPECT_EQ(errno, EBADF);
}

TEST_F(Lib, CloseClosesFd)
{
	int fd = fd_->last_fd;
	EXPECT_GE(fcntl(fd, F_GETFD), 0);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	sgdma_close(dev);
	dev = nullptr;
	EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST_F(Lib, Threads)
{
	std::vector<std::thread> t;
	std::atomic<int> failures{0};
	char *big = static_cast<char *>(aligned_alloc(4096, 64 * 4096));

	ASSERT_NE(big, nullptr);
	for (int i = 0; i < 8; i++)
		t.emplace_back([&, i] {
			for (int j = 0; j < 200; j++) {
				size_t off = (size_t)(i * 8 + j % 8) * 4096;
				sgdma_region *r =
				    sgdma_dev_register(dev, big + off, 4096 + j + 1, 3);
				if (!r) {
					failures++;
					continue;
				}
				if (sgdma_sync_for_device(r, 0, 4096) || sgdma_region_nsegs(r) != 2)
					failures++;
				if (sgdma_unregister(r))
					failures++;
			}
		});
	for (auto &th : t)
		th.join();
	free(big);
	EXPECT_EQ(failures.load(), 0);
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER), 8 * 200);
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_TRUE(fd_->regions.empty());
}

/* ---- dma-bufs ----------------------------------------------------------- */

/* The arguments are checked first; a module without dma-buf import is told apart. */
TEST_F(Lib, RegisterDmabufValidationAndOldModule)
{
	errno = 0;
	EXPECT_EQ(sgdma_register_dmabuf(nullptr, 3, 0, 4096, SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_HAS(sgdma_last_error(), "dev is NULL");
	EXPECT_EQ(sgdma_register_dmabuf(dev, 3, 0, 0, SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_HAS(sgdma_last_error(), "len is 0");
	EXPECT_EQ(sgdma_register_dmabuf(dev, 3, SIZE_MAX, 2, SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_HAS(sgdma_last_error(), "overflows");
	for (unsigned f : {0u, 4u, 8u | 3u}) {
		EXPECT_EQ(sgdma_register_dmabuf(dev, 3, 0, 4096, f), nullptr);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_HAS(sgdma_last_error(), "flags");
	}
	/* The fake plays a module without SGDMA_FEAT_DMABUF: no ioctl is made. */
	ASSERT_FALSE(fd_->features & SGDMA_FEAT_DMABUF);
	EXPECT_EQ(sgdma_register_dmabuf(dev, 3, 0, 4096, SGDMA_BIDIRECTIONAL), nullptr);
	EXPECT_EQ(errno, EOPNOTSUPP);
	EXPECT_HAS(sgdma_last_error(), "older than this libsgdma");
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER_DMABUF), 0);
	EXPECT_EQ(calls(SGDMA_CMD_REGISTER), 0);
}
