// SPDX-License-Identifier: GPL-2.0
// Exposure that survives: ids= exposes PCI devices by vendor:device, and a
// device named by ids= or expose= is exposed again whenever it appears (a
// PCI remove and rescan here, as after a hot-plug or an FPGA reload), ready
// for real DMA through the library.
#include "guest.h"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace sgt;

namespace
{

std::string pci_path(const char *leaf)
{
	return std::string("/sys/bus/pci/devices/") + sgt_edu_bdf() + "/" + leaf;
}

bool exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

int pci_remove()
{
	return sgt_write_str(pci_path("remove").c_str(), "1");
}

int pci_rescan()
{
	return sgt_write_str("/sys/bus/pci/rescan", "1");
}

std::string read_text(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream s;
	s << f.rdbuf();
	return s.str();
}

// Copies 4000 bytes at odd offsets from one registered buffer to another
// through the edu device and checks every byte: the device is exposed and
// DMA through the bus addresses sgdma hands out works.
void expect_dma_works()
{
	ASSERT_TRUE(exists(node_path())) << node_path() << " not exposed";
	ASSERT_EQ(0, sgt_expose_edu(mask_bits())); // the mask this configuration tests
	struct edu e = {};
	int ret = edu_open(&e, sgt_edu_bdf());
	ASSERT_EQ(0, ret) << "edu_open: " << strerror(-ret);
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	EXPECT_NE(nullptr, dev) << sgdma_last_error();
	Mapping a(8192), b(8192);
	ASSERT_TRUE(a.ok() && b.ok());
	const size_t len = 4000;
	uint8_t *src = a.bytes() + 100, *dst = b.bytes() + 3000;
	fill_pattern(src, len, 11);
	memset(dst, 0x5a, len);
	sgdma_region *rs = dev ? sgdma_dev_register(dev, src, len, SGDMA_TO_DEVICE) : nullptr;
	sgdma_region *rd = dev ? sgdma_dev_register(dev, dst, len, SGDMA_FROM_DEVICE) : nullptr;
	EXPECT_NE(nullptr, rs) << sgdma_last_error();
	EXPECT_NE(nullptr, rd) << sgdma_last_error();
	if (rs && rd) {
		EXPECT_EQ(0, sgdma_sync_for_device(rs, 0, len));
		EXPECT_EQ(0, edu_copy(&e, rs, rd, len));
		EXPECT_EQ(0, sgdma_sync_for_cpu(rd, 0, len));
		EXPECT_EQ(-1, first_mismatch(src, dst, len));
	}
	if (rs) {
		EXPECT_EQ(0, sgdma_unregister(rs));
	}
	if (rd) {
		EXPECT_EQ(0, sgdma_unregister(rd));
	}
	sgdma_close(dev);
	edu_close(&e);
}

// Reloads the module with the parameters each test names; leaves it loaded
// without any, the edu device present, as the other suites expect.
class ModuleExposure : public SgdmaTest
{
      protected:
	const char *ko = nullptr;
	void SetUp() override
	{
		SgdmaTest::SetUp();
		if (HasFatalFailure())
			return;
		ko = getenv("SGDMA_KO");
		ASSERT_NE(nullptr, ko) << "SGDMA_KO not set";
	}
	void reload(const std::string &params)
	{
		if (sgt_module_loaded()) {
			ASSERT_EQ(0, sgt_unload_module());
		}
		ASSERT_EQ(0, sgt_load_module(ko, params.c_str())) << params;
	}
	void TearDown() override
	{
		if (!exists(pci_path("config"))) {
			EXPECT_EQ(0, pci_rescan());
		}
		if (ko)
			reload("");
		SgdmaTest::TearDown();
	}
};

TEST_F(ModuleExposure, IdsExposesPresentDevices)
{
	ASSERT_NO_FATAL_FAILURE(reload("ids=1234:11e8"));
	EXPECT_TRUE(exists(node_path())) << "ids= did not expose " << sgt_edu_bdf();
	EXPECT_EQ("1234:11e8\n", read_text(SGT_PARAM_DIR "/ids"));
	EXPECT_EQ(std::string(sgt_edu_bdf()) + "\n", read_text(SGT_PARAM_DIR "/expose"));
	expect_dma_works();
}

TEST_F(ModuleExposure, IdsOfOtherDevicesExposeNothing)
{
	// Several ids, none of them the edu's: the list is kept, nothing exposed.
	ASSERT_NO_FATAL_FAILURE(reload("ids=1234:11e9,0x8086:0x10d3 ids=1af4:0"));
	EXPECT_EQ("1234:11e9,8086:10d3,1af4:0000\n", read_text(SGT_PARAM_DIR "/ids"));
	EXPECT_FALSE(exists(node_path()));
}

TEST_F(ModuleExposure, IdsExposesAgainAfterRemoveAndRescan)
{
	ASSERT_NO_FATAL_FAILURE(reload("ids=1234:11e8"));
	ASSERT_TRUE(exists(node_path()));
	sgdma_dev *dev = sgdma_open(sgt_edu_bdf());
	ASSERT_NE(nullptr, dev) << sgdma_last_error();
	Mapping m(1 << 20);
	ASSERT_TRUE(m.ok());
	memset(m.bytes(), 1, m.size);
	sgdma_region *r = sgdma_dev_register(dev, m.bytes(), m.size, SGDMA_BIDIRECTIONAL);
	ASSERT_NE(nullptr, r) << sgdma_last_error();
	EXPECT_EQ(256, param("pinned_pages"));

	ASSERT_EQ(0, pci_remove());
	EXPECT_FALSE(exists(node_path())) << "node left after remove";
	EXPECT_EQ(0, param("pinned_pages")) << "removal did not revoke";
	EXPECT_EQ(-ENODEV, sgdma_sync_for_cpu(r, 0, 4096));

	ASSERT_EQ(0, pci_rescan());
	ASSERT_TRUE(exists(pci_path("config"))) << "device back after rescan";
	EXPECT_TRUE(exists(node_path())) << "not exposed again after rescan";
	// The old file stays revoked; a new one works.
	EXPECT_EQ(-ENODEV, sgdma_sync_for_cpu(r, 0, 4096));
	EXPECT_EQ(-ENODEV, sgdma_unregister(r));
	sgdma_close(dev);
	expect_dma_works();

	// And again: nothing is used up by a reappearance.
	ASSERT_EQ(0, pci_remove());
	ASSERT_EQ(0, pci_rescan());
	expect_dma_works();
}

// expose= given at load for a device that is not there yet (an FPGA not yet
// programmed) is kept, and the device exposed once it appears.
TEST_F(ModuleExposure, ExposeAtLoadWaitsForTheDevice)
{
	ASSERT_EQ(0, pci_remove());
	ASSERT_FALSE(exists(pci_path("config")));
	ASSERT_NO_FATAL_FAILURE(reload(std::string("expose=") + sgt_edu_bdf()));
	EXPECT_FALSE(exists(node_path()));
	EXPECT_EQ("\n", read_text(SGT_PARAM_DIR "/expose"));
	ASSERT_EQ(0, pci_rescan());
	ASSERT_TRUE(exists(pci_path("config")));
	expect_dma_works();
}

// expose= written at run time survives a rescan too; unexpose= forgets the
// device, which then stays un-exposed when it comes back.
TEST_F(ModuleExposure, UnexposeForgetsTheDevice)
{
	ASSERT_NO_FATAL_FAILURE(reload(""));
	EXPECT_FALSE(exists(node_path()));
	EXPECT_EQ(-ENODEV, sgt_write_str(SGT_PARAM_DIR "/expose", "0000:ff:1f.7"))
	    << "a missing device at run time";
	ASSERT_EQ(0, sgt_write_str(SGT_PARAM_DIR "/expose",
	                           (std::string("pci:") + sgt_edu_bdf()).c_str()));
	ASSERT_EQ(0, pci_remove());
	ASSERT_EQ(0, pci_rescan());
	expect_dma_works();

	ASSERT_EQ(0, sgt_unexpose_edu());
	EXPECT_FALSE(exists(node_path()));
	ASSERT_EQ(0, pci_remove());
	ASSERT_EQ(0, pci_rescan());
	ASSERT_TRUE(exists(pci_path("config")));
	EXPECT_FALSE(exists(node_path())) << "exposed again after unexpose";
	EXPECT_EQ(-ENODEV, sgt_unexpose_edu()) << "nothing left to forget";
}

TEST_F(ModuleExposure, BadIdsAreRefused)
{
	ASSERT_EQ(0, sgt_unload_module());
	for (const char *bad : {"ids=1234", "ids=1234:", "ids=:11e8", "ids=1234:11e8:0",
	                        "ids=12345:11e8", "ids=1234:1g", "ids=-1:11e8"})
		EXPECT_EQ(-EINVAL, sgt_load_module(ko, bad)) << bad;
	std::string many = "ids=";
	for (int i = 0; i < 17; i++)
		many += (i ? "," : "") + std::to_string(1000 + i) + ":1";
	EXPECT_EQ(-ENOSPC, sgt_load_module(ko, many.c_str())) << "more ids than the module keeps";
	EXPECT_FALSE(sgt_module_loaded());
}

} // namespace
