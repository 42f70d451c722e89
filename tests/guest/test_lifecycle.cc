// SPDX-License-Identifier: GPL-2.0
// Lifetimes: close and death release everything, fork leaves the parent's
// DMA intact, and a device that goes away revokes its regions.
#include "guest.h"

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace sgt;

namespace
{

std::string pci_path(const char *leaf)
{
	return std::string("/sys/bus/pci/devices/") + sgt_edu_bdf() + "/" + leaf;
}

// Opens the edu device and registers the whole of @m (1 MiB) with it.
void open_and_register(Mapping &m, sgdma_dev **dev, sgdma_region **r)
{
	*dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, *dev) << sgdma_last_error();
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, m.size);
	*r = sgdma_dev_register(*dev, m.bytes(), m.size, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, *r) << sgdma_last_error();
}

TEST_F(SgdmaTest, CloseReleasesEverything)
{
	Mapping m(1 << 20);
	sgdma_dev *dev;
	sgdma_region *r;
	ASSERT_NO_FATAL_FAILURE(open_and_register(m, &dev, &r));
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(256, param("pinned_pages"));
	sgdma_close(dev); // the region keeps the file open
	EXPECT_EQ(1, param("regions"));
	EXPECT_EQ(0, sgdma_unregister(r)); // last reference: file closed
}

TEST_F(SgdmaTest, KilledProcessLeavesNothingPinned)
{
	int pipefd[2];
	ASSERT_EQ(0, pipe(pipefd));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		Mapping m(8 << 20);
		memset(m.bytes(), 1, m.size);
		sgdma_region *r = sgdma_register(m.bytes(), m.size);
		char ok = r ? 'y' : 'n';
		if (write(pipefd[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char ok = 0;
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	EXPECT_EQ('y', ok);
	EXPECT_EQ(2048, param("pinned_pages"));
	kill(pid, SIGKILL);
	int status;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	// TearDown asserts the module and the kernel pin counters are back to 0.
}

// Pinned anonymous pages stay with the parent across fork (the child gets
// copies), so the device keeps writing where the parent reads.
TEST_F(SgdmaDmaTest, ForkKeepsParentsPagesForDma)
{
	PagePair p;
	ASSERT_NO_FATAL_FAILURE(register_pages(p, 3));
	Mapping &src = p.src, &dst = p.dst;
	sgdma_region *rs = p.rs, *rd = p.rd;

	int pipefd[2];
	ASSERT_EQ(0, pipe(pipefd));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		memset(dst.bytes(), 0xee, 4096); // the child's own copy
		char c = 'w';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	ASSERT_EQ(0, edu_copy(edu, rs, rd, 2048));
	ASSERT_EQ(0, sgdma_sync_for_cpu(rd, 0, 2048));
	EXPECT_EQ(-1, first_mismatch(src.bytes(), dst.bytes(), 2048));
	kill(pid, SIGKILL);
	waitpid(pid, nullptr, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	unregister_pages(p);
}

// Registers a region, makes the device go away with @revoke, and checks the
// region was released and the file answers ENODEV.
template <typename F> void expect_revocation(F revoke)
{
	Mapping m(1 << 20);
	sgdma_dev *dev;
	sgdma_region *r;
	ASSERT_NO_FATAL_FAILURE(open_and_register(m, &dev, &r));
	ASSERT_EQ(256, param("pinned_pages"));

	revoke();

	EXPECT_EQ(0, param("regions"));
	EXPECT_EQ(0, param("pinned_pages"));
	EXPECT_EQ(-ENODEV, sgdma_sync_for_cpu(r, 0, 4096));
	EXPECT_EQ(nullptr, sgdma_dev_register(dev, m.bytes(), 4096, SGDMA_BIDIRECTIONAL));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, sgdma_unregister(r));
	sgdma_close(dev);
	struct stat st;
	EXPECT_NE(0, stat(node_path().c_str(), &st)) << "node still there";
}

TEST_F(SgdmaTest, UnexposeRevokes)
{
	expect_revocation([] { ASSERT_EQ(0, sgt_unexpose_edu()); });
	EXPECT_EQ(-ENODEV, sgt_unexpose_edu()) << "not exposed any more";
}

TEST_F(SgdmaTest, PciRemoveRevokes)
{
	expect_revocation([] { ASSERT_EQ(0, sgt_write_str(pci_path("remove").c_str(), "1")); });
	ASSERT_EQ(0, sgt_write_str("/sys/bus/pci/rescan", "1"));
	struct stat st;
	ASSERT_EQ(0, stat(pci_path("config").c_str(), &st)) << "device back after rescan";
}

TEST_F(SgdmaTest, DriverUnbindRevokes)
{
	ASSERT_EQ(0, system("modprobe uio_pci_generic")) << "modprobe uio_pci_generic";
	std::string drv = "/sys/bus/pci/drivers/uio_pci_generic/";
	std::string id = "1234 11e8";
	ASSERT_EQ(0, sgt_write_str((drv + "new_id").c_str(), id.c_str()));
	struct stat st;
	ASSERT_EQ(0, stat(pci_path("driver").c_str(), &st)) << "uio_pci_generic did not bind";
	// Re-expose: binding a driver does not revoke, so the node is still here.
	ASSERT_EQ(0, stat(node_path().c_str(), &st));
	expect_revocation(
	    [&] { ASSERT_EQ(0, sgt_write_str((drv + "unbind").c_str(), sgt_edu_bdf())); });
	EXPECT_EQ(0, sgt_write_str((drv + "remove_id").c_str(), id.c_str()));
}

// The default device of sgdma_register() is replaced once the module says
// (in its status page) that the device was revoked: the first registration
// after a re-exposure succeeds, with no failed call needed to notice.
TEST_F(SgdmaTest, DefaultDeviceFollowsReexposure)
{
	Mapping m(1 << 20);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, m.size);
	sgdma_region *r = sgdma_register(m.bytes(), m.size);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(0, sgdma_unregister(r));

	ASSERT_EQ(0, sgt_unexpose_edu());
	ASSERT_EQ(0, sgt_expose_edu(mask_bits()));

	r = sgdma_register(m.bytes(), m.size);
	ASSERT_NE(nullptr, r) << "the revoked default device was used: " << sgdma_last_error();
	EXPECT_EQ(256, param("pinned_pages"));
	EXPECT_EQ(0, sgdma_unregister(r));
}

class ModuleLifecycle : public SgdmaTest
{
};

TEST_F(ModuleLifecycle, UnloadsAndReloads)
{
	const char *ko = getenv("SGDMA_KO");
	ASSERT_NE(nullptr, ko);
	int fd = open(node_path().c_str(), O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EWOULDBLOCK, sgt_unload_module()) << "unloaded with a file open";
	close(fd);
	ASSERT_EQ(0, sgt_unload_module());
	EXPECT_FALSE(sgt_module_loaded());
	struct stat st;
	EXPECT_NE(0, stat(node_path().c_str(), &st));
	std::string params = std::string("expose=") + sgt_edu_bdf();
	ASSERT_EQ(0, sgt_load_module(ko, params.c_str()));
	ASSERT_EQ(0, stat(node_path().c_str(), &st)) << "expose= at load time";
}

// expose= given twice at load exposes the devices of both. The second one is
// the guest's 9p root: its driver maps memory, so sgdma leaves it as it is.
TEST_F(ModuleLifecycle, ExposeGivenTwiceAtLoadExposesBoth)
{
	const char *ko = getenv("SGDMA_KO");
	ASSERT_NE(nullptr, ko);
	ASSERT_EQ(0, sgt_unload_module());
	const char *other = "0000:00:05.0";
	std::string params = std::string("expose=") + sgt_edu_bdf() + " expose=" + other;
	ASSERT_EQ(0, sgt_load_module(ko, params.c_str()));
	struct stat st;
	EXPECT_EQ(0, stat(node_path().c_str(), &st)) << "the first expose=";
	EXPECT_EQ(0, stat((std::string("/dev/sgdma/") + other).c_str(), &st)) << "the second";
	long long owns = -1;
	EXPECT_EQ(
	    0, sgt_read_ll((std::string("/sys/class/sgdma/") + other + "/owns_dma_params").c_str(),
	                   &owns));
	EXPECT_EQ(0, owns);
	EXPECT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/unexpose", other));
}

} // namespace
