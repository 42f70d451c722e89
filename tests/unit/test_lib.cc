// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of libsgdma: no module needed.
 *
 * Device nodes are regular files in a temporary directory named by
 * $SGDMA_DEV_DIR.  This file defines ioctl(), which takes precedence over
 * libc's for the library (whether linked in statically or as libsgdma.so):
 * on a file registered as a fake device it plays the module; on any other
 * fd it calls the real ioctl.  On an unregistered regular file the real
 * ioctl fails with ENOTTY, as on a file that is not an sgdma device.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

/* EXPECT_HAS(haystack, needle): a substring check that needs no gmock. */
static ::testing::AssertionResult has_substr(const char *he, const char *ne, const std::string &h,
                                             const std::string &n)
{
	if (h.find(n) != std::string::npos)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << he << " (\"" << h << "\") does not contain " << ne << " (\"" << n << "\")";
}
#define EXPECT_HAS(h, n) EXPECT_PRED_FORMAT2(has_substr, h, n)

/* ---- fake module ------------------------------------------------------- */

namespace fake
{

struct Region {
	uint32_t flags;
	uint64_t addr, len;
	std::vector<sgdma_ioc_seg> segs;
};

struct Dev {
	/* INFO */
	uint32_t abi = SGDMA_ABI_VERSION;
	std::string name = "0000:00:03.0";
	int numa = 1;
	uint64_t dma_mask = 0xffffffffULL;
	uint64_t max_segment = 65536;
	uint64_t seg_boundary = 0xffffffffULL;
	uint32_t dev_flags = SGDMA_INFO_IOMMU;
	/* behaviour */
	int info_err = 0, reg_err = 0, segs_err = 0, sync_err = 0, unreg_err = 0;
	int segs_err_at_call = -1;       /* fail GET_SEGS call #n (0-based) */
	uint64_t seg_len = 4096;         /* segments end at multiples of this */
	uint64_t max_count = UINT64_MAX; /* GET_SEGS returns at most this */
	bool zero_count = false;         /* GET_SEGS returns count 0 */
	bool bad_nsegs = false;          /* REGISTER reports nsegs 0 */
	bool bad_tiling = false;         /* a segment's offset is off by one */
	/* state and records */
	std::map<uint32_t, Region> regions;
	uint32_t next_handle = 1;
	int calls[5] = {}; /* per command, INFO..UNREGISTER */
	int last_fd = -1;
	sgdma_ioc_sync last_sync = {};
	std::vector<uint32_t> unregistered;
};

std::mutex lock;
std::map<std::pair<dev_t, ino_t>, Dev *> devs;

Dev *lookup(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return nullptr;
	auto it = devs.find({st.st_dev, st.st_ino});
	return it == devs.end() ? nullptr : it->second;
}

std::vector<sgdma_ioc_seg> make_segs(const Dev &d, uint32_t handle, uint64_t addr, uint64_t len)
{
	std::vector<sgdma_ioc_seg> v;
	uint64_t off = 0;

	while (off < len) {
		uint64_t a = addr + off;
		uint64_t n = std::min(len - off, d.seg_len - a % d.seg_len);
		sgdma_ioc_seg s;

		s.addr = 0x100000000ULL * handle + 2 * a; /* discontiguous */
		s.len = n;
		s.offset = off;
		v.push_back(s);
		off += n;
	}
	return v;
}

/* Returns 0 or a positive errno. */
int handle(Dev &d, int fd, unsigned long req, void *arg)
{
	switch (req) {
	case SGDMA_IOC_INFO: {
		auto *i = static_cast<sgdma_ioc_info *>(arg);

		d.calls[0]++;
		d.last_fd = fd;
		if (d.info_err)
			return d.info_err;
		if (i->size != sizeof(*i) || i->flags)
			return EINVAL;
		i->abi_version = d.abi;
		i->numa_node = d.numa;
		i->dma_mask = d.dma_mask;
		i->max_segment = d.max_segment;
		i->seg_boundary = d.seg_boundary;
		i->dev_flags = d.dev_flags;
		snprintf(i->name, sizeof(i->name), "%s", d.name.c_str());
		return 0;
	}
	case SGDMA_IOC_REGISTER: {
		auto *r = static_cast<struct sgdma_ioc_register *>(arg);

		d.calls[1]++;
		if (d.reg_err)
			return d.reg_err;
		if (r->size != sizeof(*r) || !r->flags || (r->flags & ~SGDMA_REG_DIR_MASK) ||
		    !r->length || r->reserved)
			return EINVAL;
		uint32_t h = d.next_handle++;
		Region reg{r->flags, r->addr, r->length, make_segs(d, h, r->addr, r->length)};
		if (d.bad_tiling && reg.segs.size() > 1)
			reg.segs[1].offset++;
		r->handle = h;
		r->nsegs = d.bad_nsegs ? 0 : reg.segs.size();
		d.regions[h] = std::move(reg);
		return 0;
	}
	case SGDMA_IOC_GET_SEGS: {
		auto *g = static_cast<sgdma_ioc_get_segs *>(arg);
		int call = d.calls[2]++;

		if (d.segs_err && (d.segs_err_at_call < 0 || d.segs_err_at_call == call))
			return d.segs_err;
		auto it = d.regions.find(g->handle);
		if (g->size != sizeof(*g) || g->flags || g->reserved)
			return EINVAL;
		if (it == d.regions.end())
			return ENOENT;
		auto &segs = it->second.segs;
		if (g->first >= segs.size() || !g->count)
			return EINVAL;
		uint64_t n = std::min<uint64_t>({g->count, segs.size() - g->first, d.max_count});
		memcpy(reinterpret_cast<void *>(g->segs), &segs[g->first],
		       n * sizeof(sgdma_ioc_seg));
		g->count = d.zero_count ? 0 : n;
		return 0;
	}
	case SGDMA_IOC_SYNC: {
		auto *s = static_cast<sgdma_ioc_sync *>(arg);

		d.calls[3]++;
		d.last_sync = *s;
		if (d.sync_err)
			return d.sync_err;
		auto it = d.regions.find(s->handle);
		if (s->size != sizeof(*s) || s->reserved ||
		    (s->flags != SGDMA_SYNC_FOR_CPU && s->flags != SGDMA_SYNC_FOR_DEVICE))
			return EINVAL;
		if (it == d.regions.end())
			return ENOENT;
		if (!s->length || s->offset > it->second.len ||
		    s->length > it->second.len - s->offset)
			return EINVAL;
		return 0;
	}
	case SGDMA_IOC_UNREGISTER: {
		auto *u = static_cast<struct sgdma_ioc_unregister *>(arg);

		d.calls[4]++;
		d.unregistered.push_back(u->handle);
		if (d.unreg_err)
			return d.unreg_err;
		if (u->size != sizeof(*u) || u->flags || u->reserved)
			return EINVAL;
		return d.regions.erase(u->handle) ? 0 : ENOENT;
	}
	default:
		break;
	}
	return ENOTTY;
}

} // namespace fake

extern "C" int ioctl(int fd, unsigned long req, ...) noexcept
{
	using real_t = int (*)(int, unsigned long, ...);
	static real_t real = reinterpret_cast<real_t>(dlsym(RTLD_NEXT, "ioctl"));
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	{
		std::lock_guard<std::mutex> g(fake::lock);
		fake::Dev *d = fake::lookup(fd);

		if (d) {
			int err = fake::handle(*d, fd, req, arg);

			if (err) {
				errno = err;
				return -1;
			}
			return 0;
		}
	}
	return real(fd, req, arg);
}

/* ---- fixtures ---------------------------------------------------------- */

/* A temporary device directory in $SGDMA_DEV_DIR; $SGDMA_DEVICE unset. */
class DevDir : public ::testing::Test
{
      protected:
	std::string dir;
	std::vector<std::pair<std::string, fake::Dev *>> made;

	void SetUp() override
	{
		char tmpl[] = "/tmp/sgdma-test.XXXXXX";

		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir = tmpl;
		setenv("SGDMA_DEV_DIR", dir.c_str(), 1);
		unsetenv("SGDMA_DEVICE");
	}

	void TearDown() override
	{
		std::lock_guard<std::mutex> g(fake::lock);

		for (auto &m : made) {
			struct stat st;

			if (m.second && stat(m.first.c_str(), &st) == 0)
				fake::devs.erase({st.st_dev, st.st_ino});
			unlink(m.first.c_str());
			delete m.second;
		}
		/* leftovers, e.g. hidden files */
		if (DIR *d = opendir(dir.c_str())) {
			while (struct dirent *e = readdir(d))
				if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
					unlink((dir + "/" + e->d_name).c_str());
			closedir(d);
		}
		rmdir(dir.c_str());
		unsetenv("SGDMA_DEV_DIR");
		unsetenv("SGDMA_DEVICE");
	}

	/* A file in the directory; a fake device unless @plain. */
	fake::Dev *add(const std::string &name, bool plain = false)
	{
		std::string path = dir + "/" + name;
		int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		struct stat st;

		EXPECT_GE(fd, 0);
		EXPECT_EQ(fstat(fd, &st), 0);
		close(fd);
		fake::Dev *d = plain ? nullptr : new fake::Dev;
		if (d) {
			d->name = name;
			std::lock_guard<std::mutex> g(fake::lock);
			fake::devs[{st.st_dev, st.st_ino}] = d;
		}
		made.emplace_back(path, d);
		return d;
	}
};

class Lib : public DevDir
{
      protected:
	fake::Dev *fd_ = nullptr;
	sgdma_dev *dev = nullptr;
	std::vector<char> buf = std::vector<char>(5 * 4096 + 100);

	void SetUp() override
	{
		DevDir::SetUp();
		fd_ = add("0000:00:03.0");
		dev = sgdma_open("0000:00:03.0");
		ASSERT_NE(dev, nullptr) << sgdma_last_error();
	}

	void TearDown() override
	{
		sgdma_close(dev);
		DevDir::TearDown();
	}

	int calls(int cmd)
	{
		std::lock_guard<std::mutex> g(fake::lock);
		return fd_->calls[cmd];
	}
};

enum { C_INFO, C_REG, C_SEGS, C_SYNC, C_UNREG };

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
	EXPECT_EQ(b->calls[C_INFO], 1);
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
	EXPECT_EQ(b->calls[C_INFO], 1);
	sgdma_close(d);
}

TEST_F(DevDir, DefaultEmptyEnvIgnored)
{
	fake::Dev *a = add("0000:00:03.0");
	setenv("SGDMA_DEVICE", "", 1);
	sgdma_dev *d = sgdma_open(nullptr);
	ASSERT_NE(d, nullptr) << sgdma_last_error();
	EXPECT_EQ(a->calls[C_INFO], 1);
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
	EXPECT_EQ(a->calls[C_INFO], 2);

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
	for (unsigned f : {0u, 4u, 7u, 0x80000001u}) {
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
	EXPECT_EQ(calls(C_REG), 0);
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
	EXPECT_EQ(calls(C_SEGS), static_cast<int>((n + 4095) / 4096));
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
	EXPECT_EQ(calls(C_SEGS), static_cast<int>((n + 999) / 1000));
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
	             "or read-only while the device writes"},
	    {ENOMEM, "over the locked-memory limit (RLIMIT_MEMLOCK "},
	    {ENOMEM, "raise `ulimit -l` or grant CAP_IPC_LOCK"},
	    {E2BIG, "max_region_bytes"},
	    {ENOSPC, "max_regions_per_file"},
	    {ENODEV, "device 0000:00:03.0 was revoked (un-exposed, unbound "
	             "or removed)"},
	    {EPERM, "called from a forked child: regions belong to the "
	            "process that opened the device"},
	    {EIO, "DMA mapping"},
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
	EXPECT_EQ(calls(C_UNREG), 0);
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
		EXPECT_HAS(sgdma_last_error(),
		           "(RLIMIT_MEMLOCK " + std::to_string(rl.rlim_cur / 1024) + " KiB)");
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
	    {[](fake::Dev *d) { d->segs_err = ENODEV; }, ENODEV},
	    {[](fake::Dev *d) { d->segs_err = EPERM; }, EPERM},
	    {[](fake::Dev *d) {
		     d->seg_len = 16;
		     d->segs_err = EFAULT;
		     d->segs_err_at_call = 1; /* second batch */
	     },
	     EFAULT},
	    {[](fake::Dev *d) { d->zero_count = true; }, EPROTO},
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
	EXPECT_EQ(calls(C_SYNC), 3);

	struct {
		size_t off, len;
	} bad[] = {{0, 0},    {1000, 0},     {1000, 1},     {999, 2},
	           {0, 1001}, {1, SIZE_MAX}, {SIZE_MAX, 1}, {SIZE_MAX, SIZE_MAX}};
	for (auto &b : bad) {
		errno = 0;
		EXPECT_EQ(sgdma_sync_for_device(r, b.off, b.len), -EINVAL);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_EQ(sgdma_sync_for_cpu(r, b.off, b.len), -EINVAL);
		EXPECT_EQ(errno, EINVAL);
	}
	EXPECT_EQ(sgdma_sync_for_device(nullptr, 0, 1), -EINVAL);
	EXPECT_EQ(sgdma_sync_for_cpu(nullptr, 0, 1), -EINVAL);
	EXPECT_EQ(calls(C_SYNC), 3);

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
	std::lock_guard<std::mutex> g(fake::lock);
	EXPECT_TRUE(fd_->regions.empty());
	EXPECT_EQ(fd_->calls[C_REG], 8 * 200);
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

/* ---- default device (cached for the process: only this test opens it) - */

TEST_F(DevDir, DefaultDeviceCachedAndRetried)
{
	static bool ran;

	if (ran)
		GTEST_SKIP() << "the default device is opened once per process";
	ran = true;

	/* nothing exposed yet: fails, and the failure is not cached */
	errno = 0;
	EXPECT_EQ(sgdma_default_dev(), nullptr);
	EXPECT_EQ(errno, ENODEV);
	std::vector<char> b(100);
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
	EXPECT_EQ(a->calls[C_INFO], 1); /* opened once */

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

	/* errors through sgdma_ioc_register are prefixed with its name */
	a->reg_err = ENODEV;
	EXPECT_EQ(sgdma_register(b.data(), b.size()), nullptr);
	EXPECT_HAS(sgdma_last_error(), "sgdma_register: device 0000:00:03.0 was revoked");
	/* the fake device goes away in TearDown; the cached fd stays open
	 * on the unlinked file, which is no longer a fake: leave it be. */
}

/* ---- split helper ------------------------------------------------------ */

namespace
{

std::vector<sgdma_seg> split(const std::vector<sgdma_seg> &in, uint64_t max_len, uint64_t boundary)
{
	size_t n = sgdma_split_segs(in.data(), in.size(), max_len, boundary, nullptr, 0);
	EXPECT_NE(n, SIZE_MAX);
	std::vector<sgdma_seg> out(n + 1);
	out[n] = {0xdead, 0xbeef, 0xcafe}; /* canary */
	EXPECT_EQ(sgdma_split_segs(in.data(), in.size(), max_len, boundary, out.data(), n), n);
	EXPECT_EQ(out[n].addr, 0xdeadu);
	EXPECT_EQ(out[n].len, 0xbeefu);
	EXPECT_EQ(out[n].offset, 0xcafeu);
	out.pop_back();
	return out;
}

/* Naive byte-by-byte reference: cut where the limits force it. */
std::vector<sgdma_seg> reference(const std::vector<sgdma_seg> &in, uint64_t max_len,
                                 uint64_t boundary)
{
	std::vector<sgdma_seg> out;

	for (const auto &s : in) {
		uint64_t start = 0;

		for (uint64_t p = 1; p <= s.len; p++) {
			uint64_t a = s.addr + p; /* next byte's address */
			bool cut = p == s.len || (max_len && p - start == max_len) ||
			           (boundary && a % boundary == 0);
			if (cut) {
				out.push_back({s.addr + start, p - start, s.offset + start});
				start = p;
			}
		}
	}
	return out;
}

/* Invariants any correct output satisfies. */
void check_invariants(const std::vector<sgdma_seg> &in, const std::vector<sgdma_seg> &out,
                      uint64_t max_len, uint64_t boundary)
{
	size_t k = 0;

	for (const auto &s : in) {
		uint64_t covered = 0;

		while (covered < s.len) {
			ASSERT_LT(k, out.size());
			const sgdma_seg &p = out[k++];

			ASSERT_GT(p.len, 0u);
			ASSERT_EQ(p.addr, s.addr + covered);
			ASSERT_EQ(p.offset, s.offset + covered);
			ASSERT_LE(p.len, s.len - covered);
			if (max_len) {
				ASSERT_LE(p.len, max_len);
			}
			if (boundary) {
				/* [addr, addr + len) holds no multiple of
				 * boundary after its start */
				uint64_t to_b = boundary - (p.addr & (boundary - 1));
				ASSERT_LE(p.len, to_b);
			}
			covered += p.len;
			/* minimal: a piece ends only where it must */
			if (covered < s.len) {
				uint64_t next = s.addr + covered;
				bool forced = (max_len && p.len == max_len) ||
				              (boundary && (next & (boundary - 1)) == 0);
				ASSERT_TRUE(forced);
			}
		}
	}
	ASSERT_EQ(k, out.size());
}

} // namespace

TEST(Split, Empty)
{
	EXPECT_EQ(sgdma_split_segs(nullptr, 0, 0, 0, nullptr, 0), 0u);
	EXPECT_EQ(sgdma_split_segs(nullptr, 0, 4096, 4096, nullptr, 0), 0u);
	sgdma_seg zero = {100, 0, 0};
	sgdma_seg out = {1, 2, 3};
	EXPECT_EQ(sgdma_split_segs(&zero, 1, 1, 2, &out, 1), 0u);
	EXPECT_EQ(out.addr, 1u); /* untouched */
}

TEST(Split, NoLimitsIsIdentity)
{
	std::vector<sgdma_seg> in = {
	    {0x1000, 0x3000, 0}, {0x9000, 5, 0x3000}, {UINT64_MAX, 1, 0x3005}};
	auto out = split(in, 0, 0);
	ASSERT_EQ(out.size(), 3u);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(out[i].addr, in[i].addr);
		EXPECT_EQ(out[i].len, in[i].len);
		EXPECT_EQ(out[i].offset, in[i].offset);
	}
}

TEST(Split, MaxLen)
{
	std::vector<sgdma_seg> in = {{0x1000, 10000, 7}};
	auto out = split(in, 4096, 0);
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out[0].addr, 0x1000u);
	EXPECT_EQ(out[0].len, 4096u);
	EXPECT_EQ(out[0].offset, 7u);
	EXPECT_EQ(out[1].addr, 0x2000u);
	EXPECT_EQ(out[1].offset, 7u + 4096);
	EXPECT_EQ(out[2].addr, 0x3000u);
	EXPECT_EQ(out[2].len, 10000u - 8192);
	EXPECT_EQ(out[2].offset, 7u + 8192);
}

TEST(Split, Boundary)
{
	/* [0xff0, 0x2010) across 4 KiB boundaries */
	std::vector<sgdma_seg> in = {{0xff0, 0x1020, 0}};
	auto out = split(in, 0, 0x1000);
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out[0].len, 0x10u);
	EXPECT_EQ(out[1].addr, 0x1000u);
	EXPECT_EQ(out[1].len, 0x1000u);
	EXPECT_EQ(out[1].offset, 0x10u);
	EXPECT_EQ(out[2].addr, 0x2000u);
	EXPECT_EQ(out[2].len, 0x10u);
	/* ending exactly on a boundary does not cross it */
	in = {{0x1000, 0x1000, 0}};
	EXPECT_EQ(split(in, 0, 0x1000).size(), 1u);
	/* boundary 1: one byte per piece */
	in = {{5, 7, 0}};
	EXPECT_EQ(split(in, 0, 1).size(), 7u);
	/* kernel-style all-ones mask + 1 wraps to "no boundary" */
	EXPECT_EQ(split(in, 0, UINT64_MAX + 1ULL).size(), 1u);
}

TEST(Split, TopOfAddressSpace)
{
	/* ends exactly at 2^64 */
	std::vector<sgdma_seg> in = {{UINT64_MAX - 9, 10, UINT64_MAX - 9}};
	auto out = split(in, 3, 0);
	ASSERT_EQ(out.size(), 4u);
	EXPECT_EQ(out[3].addr, UINT64_MAX);
	EXPECT_EQ(out[3].len, 1u);
	EXPECT_EQ(out[3].offset, UINT64_MAX);
	/* crossing 2^63 with the largest boundary */
	in = {{(1ULL << 63) - 2, 4, 0}};
	out = split(in, 0, 1ULL << 63);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[1].addr, 1ULL << 63);
	EXPECT_EQ(out[1].offset, 2u);
	/* whole address space, 2^63 boundary */
	in = {{0, UINT64_MAX, 0}};
	out = split(in, 0, 1ULL << 63);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0].len, 1ULL << 63);
	EXPECT_EQ(out[1].len, (1ULL << 63) - 1);
}

TEST(Split, Errors)
{
	sgdma_seg s = {0, 10, 0}, o;

	for (uint64_t b :
	     std::initializer_list<uint64_t>{3ULL, 6ULL, 0x1001ULL, UINT64_MAX, (1ULL << 63) + 1}) {
		errno = 0;
		EXPECT_EQ(sgdma_split_segs(&s, 1, 0, b, &o, 1), SIZE_MAX);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_HAS(sgdma_last_error(), "power of two");
	}
	EXPECT_EQ(sgdma_split_segs(nullptr, 1, 0, 0, &o, 1), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 0, 0, nullptr, 1), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);

	/* addr or offset + len past 2^64; nothing written */
	std::vector<sgdma_seg> in = {{0, 10, 0}, {UINT64_MAX, 2, 0}};
	std::vector<sgdma_seg> out(4, sgdma_seg{7, 7, 7});
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 0, 0, out.data(), 4), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(out[0].addr, 7u);
	in[1] = {0, 2, UINT64_MAX};
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 0, 0, out.data(), 4), SIZE_MAX);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(out[0].addr, 7u);
}

TEST(Split, Overflow)
{
	if (SIZE_MAX != UINT64_MAX)
		GTEST_SKIP() << "64-bit size_t only";
	/* UINT64_MAX pieces == SIZE_MAX: not representable */
	sgdma_seg s = {0, UINT64_MAX, 0};
	errno = 0;
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), SIZE_MAX);
	EXPECT_EQ(errno, EOVERFLOW);
	/* one fewer is fine */
	s.len = UINT64_MAX - 1;
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), SIZE_MAX - 1);
	/* sum over segments overflows */
	std::vector<sgdma_seg> in = {{0, 1ULL << 63, 0}, {0, 1ULL << 63, 0}};
	EXPECT_EQ(sgdma_split_segs(in.data(), 2, 1, 0, nullptr, 0), SIZE_MAX);
	EXPECT_EQ(errno, EOVERFLOW);
	/* via boundary chunks: 2^62 chunks of 2 pieces each + head */
	s = {1, UINT64_MAX - 1, 0};
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 2, nullptr, 0), UINT64_MAX - 1);
	/* [1, 2^64 - 1): head [1, 4) 2 pieces, 2^62 - 2 chunks of 2, tail
	 * [2^64 - 4, 2^64 - 1) 2 pieces */
	EXPECT_EQ(sgdma_split_segs(&s, 1, 2, 4, nullptr, 0), 1ULL << 63);
}

TEST(Split, LargeCountsWithoutOutput)
{
	/* count arithmetically, check against a chunk-by-chunk walk */
	std::mt19937_64 rng(42);
	for (int it = 0; it < 200; it++) {
		uint64_t b = 1ULL << (12 + rng() % 10);
		uint64_t m = rng() % 3 ? 1 + rng() % (2 * b) : 0;
		uint64_t a = rng() >> (rng() % 64);
		uint64_t len = 1 + rng() % (b * 1000);
		if (len - 1 > UINT64_MAX - a)
			a = UINT64_MAX - (len - 1);
		sgdma_seg s = {a, len, 0};
		uint64_t want = 0, pos = 0;
		while (pos < len) {
			uint64_t to_b = b - ((a + pos) & (b - 1));
			uint64_t chunk = std::min(to_b, len - pos);
			want += m ? (chunk + m - 1) / m : 1;
			pos += chunk;
		}
		ASSERT_EQ(sgdma_split_segs(&s, 1, m, b, nullptr, 0), want)
		    << "a=" << a << " len=" << len << " m=" << m << " b=" << b;
	}
	sgdma_seg s = {0, 1ULL << 40, 0};
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1, 0, nullptr, 0), 1ULL << 40);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 0, 1ULL << 12, nullptr, 0), 1ULL << 28);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1ULL << 13, 1ULL << 12, nullptr, 0), 1ULL << 28);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 1ULL << 11, 1ULL << 12, nullptr, 0), 1ULL << 29);
	EXPECT_EQ(sgdma_split_segs(&s, 1, 3000, 1ULL << 12, nullptr, 0), 1ULL << 29);
}

TEST(Split, SnprintfSemantics)
{
	std::vector<sgdma_seg> in = {{0xff0, 0x1020, 0}, {0x10000, 0x2800, 0x1020}};
	auto full = split(in, 0x800, 0x1000);
	ASSERT_GT(full.size(), 5u);
	for (size_t cap = 0; cap <= full.size() + 2; cap++) {
		std::vector<sgdma_seg> out(cap + 1, sgdma_seg{9, 9, 9});
		EXPECT_EQ(sgdma_split_segs(in.data(), in.size(), 0x800, 0x1000,
		                           cap ? out.data() : nullptr, cap),
		          full.size());
		size_t w = std::min(cap, full.size());
		for (size_t i = 0; i < w; i++) {
			EXPECT_EQ(out[i].addr, full[i].addr);
			EXPECT_EQ(out[i].len, full[i].len);
			EXPECT_EQ(out[i].offset, full[i].offset);
		}
		for (size_t i = w; i <= cap; i++)
			EXPECT_EQ(out[i].addr, 9u);
	}
}

TEST(Split, RandomAgainstReference)
{
	std::mt19937_64 rng(12345);
	const uint64_t near_top[] = {
	    0, 1, 4095, 4096, 1ULL << 32, (1ULL << 63) - 100, UINT64_MAX - 3000};

	for (int it = 0; it < 20000; it++) {
		size_t nin = rng() % 5;
		std::vector<sgdma_seg> in;
		uint64_t off = rng() % 3 ? 0 : rng() % 100000;

		for (size_t i = 0; i < nin; i++) {
			uint64_t len = rng() % 8 ? rng() % 1500 : rng() % 4;
			uint64_t base = near_top[rng() % 7];
			uint64_t a = base + rng() % 2000;
			if (len && len - 1 > UINT64_MAX - a)
				a = UINT64_MAX - (len - 1);
			in.push_back({a, len, off});
			off += len;
		}
		uint64_t max_len = rng() % 4 ? 0 : 1 + rng() % 600;
		if (rng() % 4 == 0)
			max_len = 1 + rng() % 8;
		uint64_t boundary = rng() % 3 ? 0 : 1ULL << (rng() % 11);
		if (rng() % 20 == 0)
			boundary = 1ULL << 63;

		auto got = split(in, max_len, boundary);
		auto want = reference(in, max_len, boundary);
		ASSERT_EQ(got.size(), want.size())
		    << "it=" << it << " max_len=" << max_len << " boundary=" << boundary;
		for (size_t i = 0; i < got.size(); i++) {
			ASSERT_EQ(got[i].addr, want[i].addr) << "it=" << it;
			ASSERT_EQ(got[i].len, want[i].len) << "it=" << it;
			ASSERT_EQ(got[i].offset, want[i].offset) << "it=" << it;
		}
		check_invariants(in, got, max_len, boundary);
		if (::testing::Test::HasFatalFailure())
			FAIL() << "it=" << it;
	}
}

TEST(Split, RandomLargeInvariants)
{
	/* big values the byte-walk reference cannot handle */
	std::mt19937_64 rng(777);

	for (int it = 0; it < 5000; it++) {
		size_t nin = 1 + rng() % 4;
		std::vector<sgdma_seg> in;
		uint64_t b = rng() % 4 ? 1ULL << (12 + rng() % 20) : 0;
		uint64_t m = rng() % 4 ? 0 : (1ULL << (12 + rng() % 20)) + rng() % 4096;
		uint64_t off = 0;

		for (size_t i = 0; i < nin; i++) {
			uint64_t a = rng();
			uint64_t len = 1 + rng() % (1ULL << 24);
			if (len - 1 > UINT64_MAX - a)
				a = UINT64_MAX - (len - 1);
			in.push_back({a, len, off});
			off += len;
		}
		size_t n = sgdma_split_segs(in.data(), in.size(), m, b, nullptr, 0);
		if (n > 100000)
			continue;
		auto got = split(in, m, b);
		check_invariants(in, got, m, b);
		if (::testing::Test::HasFatalFailure())
			FAIL() << "it=" << it;
	}
}
