// SPDX-License-Identifier: GPL-2.0
// Revocation against whatever else is going on at that moment: a file being
// closed, an ioctl stuck in a page fault, a driver binding, an IOMMU domain
// changed by root. When revocation returns, nothing of the device is mapped.
#include "fixture.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/sgdma.h>

using namespace sgt;

namespace
{

constexpr uint32_t kBidi = SGDMA_REG_TO_DEVICE | SGDMA_REG_FROM_DEVICE;

// REGISTER on @fd; the errno, or 0.
int raw_register(int fd, const void *p, size_t len, uint32_t flags = kBidi)
{
	sgdma_ioc_register r = {};
	r.size = sizeof(r);
	r.flags = flags;
	r.addr = reinterpret_cast<uintptr_t>(p);
	r.length = len;
	return ioctl(fd, SGDMA_IOC_REGISTER, &r) ? errno : 0;
}

int open_node()
{
	return open(node_path().c_str(), O_RDWR | O_CLOEXEC);
}

std::string pci_path(const char *leaf)
{
	return std::string("/sys/bus/pci/devices/") + sgt_edu_bdf() + "/" + leaf;
}

std::string read_text(const std::string &path)
{
	std::ifstream f(path);
	std::string s;
	std::getline(f, s);
	return s;
}

// Runs @fn in a thread and waits at most @seconds for it: true if it
// returned in time. The thread is joined in any case, after @unblock.
template <typename F, typename U> bool returns_within(double seconds, F fn, U unblock)
{
	std::atomic<bool> done{false};
	std::thread t([&] {
		fn();
		done = true;
	});
	auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	while (!done && std::chrono::steady_clock::now() < until)
		usleep(10000);
	bool in_time = done;
	unblock();
	t.join();
	return in_time;
}

// Unexpose while another thread closes a file holding many regions: the
// close may be half done, but when unexpose returns none of them may still
// be mapped for the device. The file holds 128 MiB in 4 KiB pages, so that
// its release takes long enough to be caught in the middle, and both threads
// share one CPU, so that the scheduler switches to the unexposing thread
// while the other is in the middle of it.
TEST_F(SgdmaTest, RevocationWaitsForRegionsOfAClosingFile)
{
	// Bounced regions hold swiotlb slots: stay under max_bounce_bytes.
	const int kRegions = is_config("bounce") ? 12 : 64;
	constexpr size_t kRegionLen = 2 << 20;
	struct OnCpu0 {
		cpu_set_t old;
		OnCpu0()
		{
			cpu_set_t one;
			sched_getaffinity(0, sizeof(old), &old);
			CPU_ZERO(&one);
			CPU_SET(0, &one);
			EXPECT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
		}
		~OnCpu0() { sched_setaffinity(0, sizeof(old), &old); }
	} on_cpu0;
	for (int round = 0; round < 8; round++) {
		ASSERT_EQ(0, sgt_expose_edu(mask_bits()));
		size_t len = kRegions * kRegionLen;
		void *p =
		    mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, madvise(p, len, MADV_NOHUGEPAGE));
		memset(p, 1, len);
		int fd = open_node();
		ASSERT_GE(fd, 0);
		for (int i = 0; i < kRegions; i++)
			ASSERT_EQ(0, raw_register(fd, static_cast<char *>(p) + i * kRegionLen,
			                          kRegionLen));
		ASSERT_EQ(kRegions, param("regions"));

		std::atomic<bool> closing{false};
		auto start = std::chrono::steady_clock::now();
		std::chrono::steady_clock::time_point closed;
		std::thread closer([&] {
			closing = true;
			close(fd);
			closed = std::chrono::steady_clock::now();
		});
		while (!closing)
			sched_yield();
		usleep(1000 * (round + 1));
		ASSERT_EQ(0, sgt_unexpose_edu());
		long long mapped = param("regions");
		closer.join();
		printf("round %d: close took %.1f ms\n", round,
		       std::chrono::duration<double, std::milli>(closed - start).count());
		EXPECT_EQ(0, mapped) << "round " << round
		                     << ": unexpose returned with regions of a closing file mapped";
		munmap(p, len);
	}
}

// A registration stuck in a fault that only userspace can end
// (userfaultfd) holds nothing revocation needs: unexpose returns at once,
// and the registration fails once its fault is resolved. Kernels that
// cannot wait on userfaultfd in a long-term pin fail it with EFAULT.
TEST_F(SgdmaTest, StalledRegistrationDoesNotBlockRevocation)
{
	// Non-blocking: some kernels report POLLERR on a blocking one.
	int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
	ASSERT_GE(uffd, 0) << "userfaultfd: " << strerror(errno);
	uffdio_api api = {};
	api.api = UFFD_API;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	size_t len = 64 * 4096;
	void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	uffdio_register ureg = {};
	ureg.range.start = reinterpret_cast<uintptr_t>(p);
	ureg.range.len = len;
	ureg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &ureg));
	int fd = open_node();
	ASSERT_GE(fd, 0);

	std::atomic<int> result{-1};
	std::thread registrar([&] { result = raw_register(fd, p, len); });
	// Wait until the registration sits in the fault, or has given up.
	pollfd pfd = {uffd, POLLIN, 0};
	while (result == -1 && !(poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN)))
		;
	bool stalled = result == -1;
	RecordProperty("stalled", stalled);
	printf("registration %s in the page fault\n", stalled ? "waits" : "did not wait");

	bool prompt = returns_within(
	    20, [] { EXPECT_EQ(0, sgt_unexpose_edu()); },
	    [&] {
		    uffdio_zeropage zp = {};
		    zp.range.start = reinterpret_cast<uintptr_t>(p);
		    zp.range.len = len;
		    ioctl(uffd, UFFDIO_ZEROPAGE, &zp);
	    });
	registrar.join();
	EXPECT_TRUE(prompt) << "unexpose waited for a registration stuck in a page fault";
	if (stalled) {
		EXPECT_EQ(ENODEV, result) << "the registration went on after revocation";
	} else {
		EXPECT_EQ(EFAULT, result);
	}
	close(fd);
	close(uffd);
	munmap(p, len);
}

// A device exposed again while a file of its first exposure is open gets
// another device number, and the old number (as a stale node in a
// container's /dev would have it) opens nothing.
TEST_F(SgdmaTest, ReexposedDeviceGetsAnotherNumber)
{
	struct stat first, second;
	ASSERT_EQ(0, stat(node_path().c_str(), &first));
	int fd = open_node();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, sgt_unexpose_edu());
	ASSERT_EQ(0, sgt_expose_edu(mask_bits()));
	ASSERT_EQ(0, stat(node_path().c_str(), &second));
	EXPECT_NE(first.st_rdev, second.st_rdev);

	const char *stale = "/tmp/sgdma-stale-node";
	unlink(stale);
	ASSERT_EQ(0, mknod(stale, S_IFCHR | 0600, first.st_rdev)) << strerror(errno);
	int sfd = open(stale, O_RDWR | O_CLOEXEC);
	EXPECT_LT(sfd, 0) << "the old device number opened the new device";
	if (sfd >= 0)
		close(sfd);
	unlink(stale);
	close(fd);
}

// uio_pci_generic, bound or not, for the tests that need a driver.
class BoundDriverTest : public SgdmaTest
{
      protected:
	std::string drv = "/sys/bus/pci/drivers/uio_pci_generic/";
	std::string id = "1234 11e8";
	std::string old_list;
	void SetUp() override
	{
		SgdmaTest::SetUp();
		if (HasFatalFailure())
			return;
		ASSERT_EQ(0, system("modprobe uio_pci_generic"));
		old_list = read_text(SGT_PARAM_DIR "/dma_free_drivers");
	}
	void bind()
	{
		ASSERT_EQ(0, sgt_write_str((drv + "new_id").c_str(), id.c_str()));
		struct stat st;
		ASSERT_EQ(0, stat(pci_path("driver").c_str(), &st))
		    << "uio_pci_generic did not bind";
	}
	long long attr(const char *name)
	{
		char path[256];
		long long v = -1;
		EXPECT_EQ(0, sgt_read_ll(sgt_dev_attr_path(name, path, sizeof(path)), &v)) << name;
		return v;
	}
	void TearDown() override
	{
		sgt_write_str((drv + "unbind").c_str(), sgt_edu_bdf());
		sgt_write_str((drv + "remove_id").c_str(), id.c_str());
		sgt_write_str(SGT_PARAM_DIR "/dma_free_drivers", old_list.c_str());
		SgdmaTest::TearDown();
	}
};

// A bound driver that may map memory of its own keeps the DMA parameters
// it chose: exposing changes none of them, and sgdma lets no one else
// change them.
TEST_F(BoundDriverTest, DriverMakingMappingsKeepsItsDmaParameters)
{
	ASSERT_EQ(0, sgt_unexpose_edu());
	// Take uio_pci_generic off the list of drivers known to map nothing.
	ASSERT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/dma_free_drivers", "pci-stub"));
	ASSERT_NO_FATAL_FAILURE(bind());
	ASSERT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/expose", sgt_edu_bdf()));
	EXPECT_EQ(0, attr("owns_dma_params"));
	EXPECT_EQ(65536, attr("max_segment_size")) << "the PCI default, untouched";
	char path[256];
	EXPECT_EQ(-EBUSY,
	          sgt_write_str(sgt_dev_attr_path("dma_mask_bits", path, sizeof(path)), "40"));
	EXPECT_EQ(-EBUSY,
	          sgt_write_str(sgt_dev_attr_path("max_segment_size", path, sizeof(path)), "8192"));
}

// Such a driver binding to a device whose parameters sgdma set revokes the
// device first, and the driver finds the parameters the device had.
TEST_F(BoundDriverTest, DriverMakingMappingsBindingRevokesAndRestores)
{
	ASSERT_EQ(1, attr("owns_dma_params"));
	EXPECT_GT(attr("max_segment_size"), 65536);
	ASSERT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/dma_free_drivers", "pci-stub"));
	ASSERT_NO_FATAL_FAILURE(bind());
	struct stat st;
	EXPECT_NE(0, stat(node_path().c_str(), &st)) << "binding did not revoke";
	ASSERT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/expose", sgt_edu_bdf()));
	EXPECT_EQ(0, attr("owns_dma_params"));
	EXPECT_EQ(65536, attr("max_segment_size")) << "not restored before the driver bound";
}

// A driver known to map nothing (the UIO pairing) binds without revoking,
// and sgdma keeps setting the parameters.
TEST_F(BoundDriverTest, DmaFreeDriverBindsWithoutRevoking)
{
	ASSERT_NO_FATAL_FAILURE(bind());
	struct stat st;
	ASSERT_EQ(0, stat(node_path().c_str(), &st));
	EXPECT_EQ(1, attr("owns_dma_params"));
}

// Root may change the IOMMU domain type of a group no driver holds (from
// 5.11 on; the file is read-only before); the mappings made in the old
// domain went with it. sgdma maps nothing more until exposed again, and
// releases the old regions without touching the new domain (a WARNING from
// the IOMMU layer fails the VM). Under DMA-API debugging the region is
// released before the change: the mappings the kernel dropped with the old
// domain stay in its records, reported as leaked at the device's next
// driver unbind, and no unmap by anyone can remove them.
TEST_F(SgdmaTest, IommuDomainChangeRefusesNewMappings)
{
	if (!is_config("iommu"))
		GTEST_SKIP() << "needs the iommu configuration";
	char group[256];
	ssize_t n = readlink(pci_path("iommu_group").c_str(), group, sizeof(group) - 1);
	ASSERT_GT(n, 0);
	group[n] = '\0';
	std::string type = std::string("/sys/kernel/iommu_groups/") + strrchr(group, '/') + "/type";
	struct stat st;
	ASSERT_EQ(0, stat(type.c_str(), &st)) << type;
	if (!(st.st_mode & S_IWUSR))
		GTEST_SKIP() << type << " is read-only on this kernel";
	std::string old_type = read_text(type);
	const bool live_region = !dma_api_debugging();

	std::vector<uint8_t> buf(1 << 20, 1);
	int fd = open_node();
	ASSERT_GE(fd, 0);
	sgdma_ioc_register r = {};
	r.size = sizeof(r);
	r.flags = kBidi;
	r.addr = reinterpret_cast<uintptr_t>(buf.data());
	r.length = buf.size();
	ASSERT_EQ(0, ioctl(fd, SGDMA_IOC_REGISTER, &r));
	sgdma_ioc_unregister u = {};
	u.size = sizeof(u);
	u.handle = r.handle;
	if (!live_region) {
		EXPECT_EQ(0, ioctl(fd, SGDMA_IOC_UNREGISTER, &u));
	}

	EXPECT_EQ(0, sgt_write_str(type.c_str(), "identity")) << "changing " << type;
	EXPECT_EQ(EBUSY, raw_register(fd, buf.data(), 4096));
	if (live_region) {
		EXPECT_EQ(0, ioctl(fd, SGDMA_IOC_UNREGISTER, &u));
	}
	close(fd);
	// The type names differ from what the file reads ("DMA-FQ" both ways).
	EXPECT_EQ(0, sgt_write_str(type.c_str(), old_type.c_str())) << "restoring " << old_type;
	ASSERT_EQ(0, sgt_unexpose_edu());
	ASSERT_EQ(0, sgt_expose_edu(mask_bits()));
	fd = open_node();
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, raw_register(fd, buf.data(), 4096)) << "exposed again in the new domain";
	close(fd);
}

} // namespace
