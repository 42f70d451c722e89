// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fake sgdma module of the host unit tests (see fake_module.h).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "fake_module.h"

::testing::AssertionResult has_substr(const char *he, const char *ne, const std::string &h,
                                      const std::string &n)
{
	if (h.find(n) != std::string::npos)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << he << " (\"" << h << "\") does not contain " << ne << " (\"" << n << "\")";
}

void expect_syncs_refuse_bad_ranges(sgdma_region *r, size_t len)
{
	struct {
		size_t off, len;
	} bad[] = {{0, 0},       {len, 0},      {len, 1},      {len - 1, 2},
	           {0, len + 1}, {1, SIZE_MAX}, {SIZE_MAX, 1}, {SIZE_MAX, SIZE_MAX}};
	for (auto &b : bad) {
		errno = 0;
		EXPECT_EQ(sgdma_sync_for_device(r, b.off, b.len), -EINVAL) << b.off << "+" << b.len;
		EXPECT_EQ(errno, EINVAL);
		EXPECT_EQ(sgdma_sync_for_cpu(r, b.off, b.len), -EINVAL) << b.off << "+" << b.len;
		EXPECT_EQ(errno, EINVAL);
	}
}

namespace fake
{

std::mutex lock;

void Gate::pass()
{
	std::unique_lock<std::mutex> g(m);

	entered = true;
	cv.notify_all();
	cv.wait(g, [this] { return opened; });
}

void Gate::wait_entered()
{
	std::unique_lock<std::mutex> g(m);

	cv.wait(g, [this] { return entered; });
}

void Gate::open()
{
	std::lock_guard<std::mutex> g(m);

	opened = true;
	cv.notify_all();
}

namespace
{

/* Every device ever made: the library may hold a file of one until exit. */
std::vector<std::unique_ptr<Dev>> all;
/* The device behind each fake node's inode. */
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

int do_info(Dev &d, int fd, sgdma_ioc_info *i)
{
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
	/* A first-version module writes nothing past the name. */
	if (d.features) {
		i->features = d.features;
		i->dma_align = d.dma_align;
	}
	return 0;
}

int do_register(Dev &d, sgdma_ioc_register *r)
{
	bool v1 = !d.features;
	uint32_t known = SGDMA_REG_DIR_MASK | (v1 ? 0 : SGDMA_REG_REQUIRE_CONTIG);

	d.last_register = *r;
	if (d.reg_err)
		return d.reg_err;
	if (r->size != sizeof(*r))
		return EINVAL;
	if (v1 && (r->region_flags || r->inline_count || r->inline_segs))
		return E2BIG; /* a non-zero tail of a struct it does not know */
	if (!(r->flags & SGDMA_REG_DIR_MASK) || (r->flags & ~known) || !r->length || r->reserved ||
	    r->handle || r->nsegs || r->region_flags || (!r->inline_count && r->inline_segs))
		return EINVAL;
	uint32_t h = d.next_handle++;
	Region reg{r->flags & SGDMA_REG_DIR_MASK, r->addr, r->length,
	           make_segs(d, h, r->addr, r->length)};
	if (d.bad_tiling && reg.segs.size() > 1)
		reg.segs[1].offset++;
	if ((r->flags & SGDMA_REG_REQUIRE_CONTIG) && reg.segs.size() > 1) {
		r->nsegs = reg.segs.size();
		return E2BIG;
	}
	r->handle = h;
	r->nsegs = d.bad_nsegs ? 0 : reg.segs.size();
	if (!v1) {
		uint64_t n = std::min<uint64_t>(r->inline_count, r->nsegs);
		if (n)
			memcpy(reinterpret_cast<void *>(r->inline_segs), reg.segs.data(),
			       n * sizeof(sgdma_ioc_seg));
		r->inline_count = static_cast<uint32_t>(n);
		r->region_flags = (d.bounced ? SGDMA_REGION_BOUNCED : 0) |
		                  (d.needs_sync ? SGDMA_REGION_NEEDS_SYNC : 0) |
		                  (reg.segs.size() == 1 ? SGDMA_REGION_CONTIGUOUS : 0);
		r->region_flags ^= d.bad_region_flags;
	}
	if (d.features & SGDMA_FEAT_REGION_STATUS) {
		if (r->status_slot || r->reserved2)
			return EINVAL;
		r->status_slot = h - 1; /* byte h - 1 of the region status pages */
	}
	d.regions[h] = std::move(reg);
	return 0;
}

int do_get_segs(Dev &d, sgdma_ioc_get_segs *g)
{
	int call = d.calls[SGDMA_CMD_GET_SEGS] - 1; /* this one, 0-based */

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
	memcpy(reinterpret_cast<void *>(g->segs), &segs[g->first], n * sizeof(sgdma_ioc_seg));
	g->count = d.zero_count ? 0 : n;
	return 0;
}

int do_sync(Dev &d, sgdma_ioc_sync *s)
{
	d.last_sync = *s;
	if (d.sync_err)
		return d.sync_err;
	auto it = d.regions.find(s->handle);
	if (s->size != sizeof(*s) || s->reserved ||
	    (s->flags != SGDMA_SYNC_FOR_CPU && s->flags != SGDMA_SYNC_FOR_DEVICE))
		return EINVAL;
	if (it == d.regions.end())
		return ENOENT;
	if (!s->length || s->offset > it->second.len || s->length > it->second.len - s->offset)
		return EINVAL;
	return 0;
}

int do_unregister(Dev &d, sgdma_ioc_unregister *u)
{
	d.unregistered.push_back(u->handle);
	if (d.unreg_err)
		return d.unreg_err;
	if (u->size != sizeof(*u) || u->flags || u->reserved)
		return EINVAL;
	return d.regions.erase(u->handle) ? 0 : ENOENT;
}

/* One ioctl on @d.  Returns 0 or a positive errno. */
int handle(Dev &d, int fd, unsigned long req, void *arg)
{
	if (_IOC_TYPE(req) != SGDMA_IOCTL_TYPE)
		return ENOTTY;
	d.calls[_IOC_NR(req)]++;
	if (d.gone)
		return ENODEV;
	switch (req) {
	case SGDMA_IOC_INFO:
		return do_info(d, fd, static_cast<sgdma_ioc_info *>(arg));
	case SGDMA_IOC_REGISTER:
		return do_register(d, static_cast<sgdma_ioc_register *>(arg));
	case SGDMA_IOC_GET_SEGS:
		return do_get_segs(d, static_cast<sgdma_ioc_get_segs *>(arg));
	case SGDMA_IOC_SYNC:
		return do_sync(d, static_cast<sgdma_ioc_sync *>(arg));
	case SGDMA_IOC_UNREGISTER:
		return do_unregister(d, static_cast<sgdma_ioc_unregister *>(arg));
	default:
		return ENOTTY;
	}
}

} // namespace
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
	if (req == SGDMA_IOC_INFO) {
		fake::Gate *gate = nullptr;
		{
			std::lock_guard<std::mutex> g(fake::lock);
			fake::Dev *d = fake::lookup(fd);

			if (d)
				gate = d->info_gate;
		}
		if (gate)
			gate->pass();
	}
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

/* ---- DevDir ------------------------------------------------------------- */

void DevDir::SetUp()
{
	char tmpl[] = "/tmp/sgdma-test.XXXXXX";

	ASSERT_NE(mkdtemp(tmpl), nullptr);
	dir = tmpl;
	setenv("SGDMA_DEV_DIR", dir.c_str(), 1);
	unsetenv("SGDMA_DEVICE");
}

void DevDir::TearDown()
{
	for (auto &m : made)
		if (m.second)
			unplug(m.second);
	for (auto &m : made)
		unlink(m.first.c_str());
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

fake::Dev *DevDir::add(const std::string &name, bool plain)
{
	std::string path = dir + "/" + name;
	int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	struct stat st;

	EXPECT_GE(fd, 0);
	EXPECT_EQ(fstat(fd, &st), 0);
	if (!plain) { /* the status page, all zeroes: not revoked; and region status pages */
		EXPECT_EQ(ftruncate(fd, SGDMA_REGION_STATUS_OFFSET + 4 * sysconf(_SC_PAGESIZE)), 0);
	}
	close(fd);
	fake::Dev *d = nullptr;
	{
		std::lock_guard<std::mutex> g(fake::lock);
		/* An inode number may come back after a removed node's last close. */
		fake::devs.erase({st.st_dev, st.st_ino});
		if (!plain) {
			fake::all.push_back(std::make_unique<fake::Dev>());
			d = fake::all.back().get();
			d->name = name;
			fake::devs[{st.st_dev, st.st_ino}] = d;
		}
	}
	made.emplace_back(path, d);
	return d;
}

void DevDir::unplug(fake::Dev *d)
{
	std::lock_guard<std::mutex> g(fake::lock);

	if (d->gone)
		return;
	d->gone = true;
	d->regions.clear();
	for (auto &m : made) {
		if (m.second != d)
			continue;
		/* The status page says so, as the module's does. */
		int fd = open(m.first.c_str(), O_WRONLY | O_CLOEXEC);
		sgdma_status st = {};
		st.revoked = 1;
		if (fd >= 0) {
			EXPECT_EQ(pwrite(fd, &st, sizeof(st), 0), static_cast<ssize_t>(sizeof(st)));
			close(fd);
		}
		unlink(m.first.c_str());
	}
}

int DevDir::calls(const fake::Dev *d, unsigned int cmd)
{
	std::lock_guard<std::mutex> g(fake::lock);
	auto it = d->calls.find(cmd);

	return it == d->calls.end() ? 0 : it->second;
}

/* ---- Lib ---------------------------------------------------------------- */

void Lib::SetUp()
{
	DevDir::SetUp();
	fd_ = add("0000:00:03.0");
	dev = sgdma_open("0000:00:03.0");
	ASSERT_NE(dev, nullptr) << sgdma_last_error();
}

void Lib::TearDown()
{
	sgdma_close(dev);
	DevDir::TearDown();
}
