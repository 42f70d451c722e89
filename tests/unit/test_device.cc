// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of libsgdma's devices: the public header, opening and
 * resolving devices, sgdma_dev_info(), sgdma_last_error() and the default
 * device, against the fake module (fake_module.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

#include "fake_module.h"

/* ---- header ------------------------------------------------------------ */

TEST(Header, FlagsAndLayout)
{
	EXPECT_EQ(SGDMA_TO_DEVICE, 1u);
	EXPECT_EQ(SGDMA_FROM_DEVICE, 2u);
	EXPECT_EQ(SGDMA_BIDIRECTIONAL, 3u);
	EXPECT_EQ(sizeof(struct sgdma_seg), 24u);
	EXPECT_STREQ(SGDMA_DEV_DIR_DEFAULT, "/dev/sgdma");
}

TEST(Header, NullAccessors)
{
	EXPECT_EQ(sgdma_region_nsegs(nullptr), 0u);
	EXPECT_EQ(sgdma_region_segs(nullptr), nullptr);
	EXPECT_EQ(sgdma_region_dev(nullptr), nullptr);
	EXPECT_EQ(sgdma_region_len(nullptr), 0u);
	EXPECT_EQ(sgdma_region_addr(nullptr), nullptr);
	sgdma_close(nullptr);
}

/* ---- open and default-device resolution -------------------------------- */

TEST_F(DevDir, DefaultNoDevice)
{
	errno = 0;
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "no sgdma device exposed");
	EXPECT_HAS(sgdma_last_error(), "expose");
	EXPECT_HAS(sgdma_last_error(), "sgdma_open: ");
}

TEST_F(DevDir, DefaultMissingDir)
{
	setenv("SGDMA_DEV_DIR", (dir + "/nonexistent").c_str(), 1);
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENODEV);
	/* not a directory: same */
	add("file", true);
	setenv("SGDMA_DEV_DIR", (dir + "/file").c_str(), 1);
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENODEV);
}

TEST_F(DevDir, DefaultHiddenEntriesIgnored)
{
	add(".hidden", true);
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENODEV);
	add("0000:00:03.0");
	sgdma_dev *d = sgdma_open(nullptr);
	ASSERT_NE(d, nullptr) << sgdma_last_error();
	sgdma_close(d);
}

TEST_F(DevDir, DefaultSeveral)
{
	add("0000:00:04.0");
	add("0000:00:03.0");
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENOTUNIQ);
	std::string m = sgdma_last_error();
	EXPECT_HAS(m, "2 sgdma devices exposed");
	EXPECT_HAS(m, "0000:00:03.0, 0000:00:04.0"); /* sorted */
	EXPECT_HAS(m, "SGDMA_DEVICE");
}

TEST_F(DevDir, DefaultSeveralLongListTruncated)
{
	for (int i = 0; i < 40; i++) {
		char n[32];

		snprintf(n, sizeof(n), "0000:00:%02x.0", i);
		add(n, true);
	}
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENOTUNIQ);
	std::string m = sgdma_last_error();
	EXPECT_HAS(m, "40 sgdma devices");
	EXPECT_HAS(m, "...");
	EXPECT_HAS(m, "SGDMA_DEVICE");
}

TEST_F(DevDir, DefaultFromEnvName)
{
	add("0000:00:03.0");
	fake::Dev *b = add("0000:00:04.0");
	setenv("SGDMA_DEVICE", "0000:00:04.0", 1);
	sgdma_dev *d = sgdma_open(nullptr);
	ASSERT_NE(d, nullptr) << sgdma_last_error();
	EXPECT_EQ(calls(b, SGDMA_CMD_INFO), 1);
	struct sgdma_dev_info info;
	ASSERT_EQ(sgdma_dev_info(d, &info), 0);
	EXPECT_STREQ(info.name, "0000:00:04.0");
	sgdma_close(d);
}

TEST_F(DevDir, DefaultFromEnvPath)
{
	add("0000:00:03.0");
	fake::Dev *b = add("0000:00:04.0");
	setenv("SGDMA_DEVICE", (dir + "/0000:00:04.0").c_str(), 1);
	sgdma_dev *d = sgdma_open(nullptr);
	ASSERT_NE(d, nullptr) << sgdma_last_error();
	EXPECT_EQ(calls(b, SGDMA_CMD_INFO), 1);
	sgdma_close(d);
}

TEST_F(DevDir, DefaultEmptyEnvIgnored)
{
	fake::Dev *a = add("0000:00:03.0");
	setenv("SGDMA_DEVICE", "", 1);
	sgdma_dev *d = sgdma_open(nullptr);
	ASSERT_NE(d, nullptr) << sgdma_last_error();
	EXPECT_EQ(calls(a, SGDMA_CMD_INFO), 1);
	sgdma_close(d);
}

TEST_F(DevDir, DefaultEnvNamesMissingDevice)
{
	add("0000:00:03.0");
	setenv("SGDMA_DEVICE", "0000:00:09.0", 1);
	EXPECT_EQ(sgdma_open(nullptr), nullptr);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_HAS(sgdma_last_error(), dir + "/0000:00:09.0");
}

TEST_F(DevDir, OpenByNameAndPath)
{
	fake::Dev *a = add("0000:00:03.0");
	a->numa = 3;
	a->dma_mask = 0xffffffffffULL;
	a->max_segment = 1u << 20;
	a->seg_boundary = 0xffff;
	a->dev_flags = 0;
	sgdma_dev *d1 = sgdma_open("0000:00:03.0");
	ASSERT_NE(d1, nullptr) << sgdma_last_error();
	sgdma_dev *d2 = sgdma_open((dir + "/0000:00:03.0").c_str());
	ASSERT_NE(d2, nullptr) << sgdma_last_error();
	EXPECT_NE(d1, d2);
	EXPECT_EQ(calls(a, SGDMA_CMD_INFO), 2);

	struct sgdma_dev_info info;
	memset(&info, 0x5a, sizeof(info));
	ASSERT_EQ(sgdma_dev_info(d2, &info), 0);
	EXPECT_STREQ(info.name, "0000:00:03.0");
	EXPECT_EQ(info.numa_node, 3);
	EXPECT_EQ(info.dma_mask, 0xffffffffffULL);
	EXPECT_EQ(info.max_segment, 1u << 20);
	EXPECT_EQ(info.seg_boundary, 0xffffu);
	EXPECT_FALSE(info.iommu);
	a->dev_flags = SGDMA_INFO_IOMMU;
	sgdma_close(d2);
	d2 = sgdma_open("0000:00:03.0");
	ASSERT_NE(d2, nullptr);
	ASSERT_EQ(sgdma_dev_info(d2, &info), 0);
	EXPECT_TRUE(info.iommu);
	sgdma_close(d1);
	sgdma_close(d2);
}

TEST_F(DevDir, OpenErrors)
{
	EXPECT_EQ(sgdma_open(""), nullptr);
	EXPECT_EQ(errno, EINVAL);

	EXPECT_EQ(sgdma_open("0000:00:07.0"), nullptr);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_HAS(sgdma_last_error(), "0000:00:07.0");

	std::string longname(PATH_MAX, 'x');
	EXPECT_EQ(sgdma_open(longname.c_str()), nullptr);
	EXPECT_EQ(errno, ENAMETOOLONG);
	std::string longpath = "/" + longname;
	EXPECT_EQ(sgdma_open(longpath.c_str()), nullptr);
	EXPECT_EQ(errno, ENAMETOOLONG);

	/* a file that is not an sgdma device */
	add("notadev", true);
	EXPECT_EQ(sgdma_open("notadev"), nullptr);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_HAS(sgdma_last_error(), "is not an sgdma device");

	/* a directory */
	EXPECT_EQ(sgdma_open(dir.c_str()), nullptr);
	EXPECT_EQ(errno, EISDIR);
}

TEST_F(DevDir, OpenAbiMismatch)
{
	fake::Dev *a = add("0000:00:03.0");
	a->abi = SGDMA_ABI_VERSION + 1;
	EXPECT_EQ(sgdma_open("0000:00:03.0"), nullptr);
	EXPECT_EQ(errno, EPROTO);
	EXPECT_HAS(sgdma_last_error(), "ABI version");
}

TEST_F(DevDir, OpenRevoked)
{
	fake::Dev *a = add("0000:00:03.0");
	a->info_err = ENODEV;
	EXPECT_EQ(sgdma_open("0000:00:03.0"), nullptr);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "was revoked");
}

TEST_F(DevDir, OpenPermissionDenied)
{
	if (geteuid() == 0)
		GTEST_SKIP() << "root bypasses file permissions";
	add("0000:00:03.0");
	chmod((dir + "/0000:00:03.0").c_str(), 0);
	EXPECT_EQ(sgdma_open("0000:00:03.0"), nullptr);
	EXPECT_EQ(errno, EACCES);
	EXPECT_HAS(sgdma_last_error(), "permission denied on " + dir + "/0000:00:03.0");
	EXPECT_HAS(sgdma_last_error(), "udev rule");
}

TEST(DevInfo, Errors)
{
	struct sgdma_dev_info info;

	EXPECT_EQ(sgdma_dev_info(nullptr, &info), -EINVAL);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Lib, DevInfoNullInfo)
{
	EXPECT_EQ(sgdma_dev_info(dev, nullptr), -EINVAL);
	EXPECT_EQ(errno, EINVAL);
}

/* ---- last_error -------------------------------------------------------- */

TEST(LastError, ThreadLocal)
{
	EXPECT_EQ(sgdma_unregister(nullptr), -EINVAL);
	std::string mine = sgdma_last_error();
	std::string theirs;
	std::thread([&] {
		theirs = sgdma_last_error(); /* fresh thread */
		sgdma_sync_for_cpu(nullptr, 0, 1);
	}).join();
	EXPECT_EQ(theirs, "no error");
	EXPECT_EQ(sgdma_last_error(), mine);
	EXPECT_HAS(mine, "sgdma_unregister: region is NULL");
}

TEST_F(Lib, LastErrorKeptOnSuccess)
{
	EXPECT_EQ(sgdma_unregister(nullptr), -EINVAL);
	std::string m = sgdma_last_error();
	sgdma_region *r = sgdma_dev_register(dev, buf.data(), 10, 3);
	ASSERT_NE(r, nullptr);
	EXPECT_EQ(sgdma_unregister(r), 0);
	EXPECT_EQ(sgdma_last_error(), m);
}

/* ---- default device ---------------------------------------------------- */

/*
 * The default device is cached for the process, across tests.  SetUp
 * leaves no usable one behind: a default cached by an earlier test is a
 * file of a device that test unplugged, so a registration through it
 * answers ENODEV, and the next call opens the default afresh.
 */
class DefaultDev : public DevDir
{
      protected:
	std::vector<char> b = std::vector<char>(100);

	void SetUp() override
	{
		DevDir::SetUp();
		/* The directory is empty: nothing new can be opened. */
		sgdma_dev *stale = sgdma_default_dev();
		if (stale) {
			EXPECT_EQ(sgdma_dev_register(stale, b.data(), b.size(), SGDMA_TO_DEVICE),
			          nullptr);
			ASSERT_EQ(errno, ENODEV) << sgdma_last_error();
		}
	}
};

TEST_F(DefaultDev, CachedAndRetried)
{
	/* nothing exposed yet: fails, and the failure is not cached */
	errno = 0;
	EXPECT_EQ(sgdma_default_dev(), nullptr);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_EQ(sgdma_register(b.data(), b.size()), nullptr);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "sgdma_register: no sgdma device exposed");

	fake::Dev *a = add("0000:00:03.0");
	std::vector<sgdma_dev *> got(8);
	std::vector<std::thread> t;
	for (int i = 0; i < 8; i++)
		t.emplace_back([&, i] { got[i] = sgdma_default_dev(); });
	for (auto &th : t)
		th.join();
	ASSERT_NE(got[0], nullptr) << sgdma_last_error();
	for (auto *g : got)
		EXPECT_EQ(g, got[0]);
	EXPECT_EQ(calls(a, SGDMA_CMD_INFO), 1); /* opened once */

	sgdma_region *r = sgdma_register(b.data(), b.size());
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_region_dev(r), got[0]);
	EXPECT_EQ(a->regions.begin()->second.flags, SGDMA_REG_DIR_MASK);

	/* closing the default device is a no-op */
	sgdma_close(got[0]);
	sgdma_close(sgdma_default_dev());
	EXPECT_EQ(sgdma_sync_for_device(r, 0, 100), 0);
	EXPECT_EQ(sgdma_unregister(r), 0);
	EXPECT_EQ(sgdma_default_dev(), got[0]);
	EXPECT_GE(fcntl(a->last_fd, F_GETFD), 0);

	/* errors through sgdma_register are prefixed with its name */
	a->reg_err = ENODEV;
	EXPECT_EQ(sgdma_register(b.data(), b.size()), nullptr);
	EXPECT_HAS(sgdma_last_error(), "sgdma_register: device 0000:00:03.0 was revoked");
}

/* A default device sgdma_default_dev() gave out stays valid when replaced. */
TEST_F(DefaultDev, HandedOutOutlivesRevocation)
{
	fake::Dev *a = add("0000:00:03.0");
	sgdma_dev *p = sgdma_default_dev();
	ASSERT_NE(p, nullptr) << sgdma_last_error();

	/* un-exposed and exposed again: a new node, the old file revoked */
	unplug(a);
	fake::Dev *a2 = add("0000:00:03.0");

	/* the status page says revoked: the next call replaces the default... */
	sgdma_region *r = sgdma_register(b.data(), b.size());
	ASSERT_NE(r, nullptr) << sgdma_last_error();
	sgdma_dev *q = sgdma_default_dev();
	EXPECT_EQ(sgdma_region_dev(r), q);
	EXPECT_NE(q, p);
	EXPECT_EQ(calls(a2, SGDMA_CMD_INFO), 1);

	/* ...and the handle given out before stays valid, revoked */
	struct sgdma_dev_info info;
	ASSERT_EQ(sgdma_dev_info(p, &info), 0);
	EXPECT_STREQ(info.name, "0000:00:03.0");
	EXPECT_EQ(sgdma_dev_register(p, b.data(), b.size(), SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, ENODEV);
	EXPECT_HAS(sgdma_last_error(), "sgdma_dev_register: device 0000:00:03.0 was revoked");
	sgdma_close(p); /* a no-op, as on every default device */
	EXPECT_EQ(sgdma_dev_info(p, &info), 0);
	EXPECT_EQ(sgdma_dev_register(p, b.data(), b.size(), SGDMA_TO_DEVICE), nullptr);
	EXPECT_EQ(errno, ENODEV);

	EXPECT_EQ(sgdma_unregister(r), 0);
	sgdma_close(q);
	EXPECT_EQ(sgdma_default_dev(), q);
}

TEST_F(DefaultDev, HandedOutOutlivesFork)
{
	add("0000:00:03.0");
	sgdma_dev *p = sgdma_default_dev();
	ASSERT_NE(p, nullptr) << sgdma_last_error();

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* the child opens its own default; the parent's stays valid */
		sgdma_dev *q = sgdma_default_dev();
		struct sgdma_dev_info info;

		if (!q || q == p)
			_exit(10);
		if (sgdma_dev_info(p, &info) != 0 || strcmp(info.name, "0000:00:03.0") != 0)
			_exit(11);
		sgdma_close(p);
		if (sgdma_dev_info(p, &info) != 0 || sgdma_default_dev() != q)
			_exit(12);
		_exit(0);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
	EXPECT_EQ(sgdma_default_dev(), p); /* the parent's default is unchanged */
}

/*
 * A fork while another thread opens the default device: the child must not
 * inherit the library's lock held by a thread it does not have.
 */
TEST_F(DefaultDev, ForkWhileOpening)
{
	fake::Dev *a = add("0000:00:03.0");
	fake::Gate gate;
	{
		std::lock_guard<std::mutex> g(fake::lock);
		a->info_gate = &gate;
	}
	sgdma_dev *p = nullptr;
	std::thread opener([&p] { p = sgdma_default_dev(); });
	gate.wait_entered(); /* the opener is inside sgdma_default_dev() */
	std::thread later([&gate] {
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		gate.open();
	});

	pid_t pid = fork();
	if (pid == 0) {
		alarm(5); /* a deadlock ends here */
		_exit(sgdma_default_dev() ? 0 : 10);
	}
	later.join();
	opener.join();
	{
		std::lock_guard<std::mutex> g(fake::lock);
		a->info_gate = nullptr;
	}
	ASSERT_GE(pid, 0);
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
	    << "child status " << status << (WIFSIGNALED(status) ? " (killed: deadlock)" : "");
	EXPECT_NE(p, nullptr) << sgdma_last_error();
	EXPECT_EQ(sgdma_default_dev(), p);
}

/* A replaced default nobody was given is closed with its last region. */
TEST_F(DefaultDev, ReplacedClosedWithItsLastRegion)
{
	fake::Dev *a = add("0000:00:03.0");
	sgdma_region *r1 = sgdma_register(b.data(), b.size());
	ASSERT_NE(r1, nullptr) << sgdma_last_error();
	int fd1 = a->last_fd;

	unplug(a);
	add("0000:00:03.0");
	EXPECT_EQ(sgdma_sync_for_cpu(r1, 0, 1), -ENODEV);
	sgdma_region *r2 = sgdma_register(b.data(), b.size());
	ASSERT_NE(r2, nullptr) << sgdma_last_error();
	EXPECT_NE(sgdma_region_dev(r2), sgdma_region_dev(r1));

	EXPECT_GE(fcntl(fd1, F_GETFD), 0); /* r1 holds it */
	EXPECT_EQ(sgdma_unregister(r1), -ENODEV);
	errno = 0;
	EXPECT_EQ(fcntl(fd1, F_GETFD), -1); /* closed: no leak */
	EXPECT_EQ(errno, EBADF);
	EXPECT_EQ(sgdma_unregister(r2), 0);
}
