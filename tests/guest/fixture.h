// SPDX-License-Identifier: GPL-2.0
// The base fixture of the in-VM suites: module loaded, edu device exposed,
// nothing left pinned afterwards. Needs only the C test helpers, so suites
// that speak raw uapi (and so must not include sgdma.h) can use it too.
#ifndef SGDMA_FIXTURE_H
#define SGDMA_FIXTURE_H

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/utsname.h>
#include <unistd.h>

extern "C" {
#include "sgtest.h"
}

namespace sgt
{

inline std::string config()
{
	return sgt_config();
}
// @c is the configuration's DMA path ($SGDMA_CONFIG: iommu, direct, bounce,
// numa) or the machine's own name ($SGDMA_MACHINE: arm64's smmuv3 is an
// iommu configuration, its noncoherent a direct one).
inline bool is_config(const char *c)
{
	const char *machine = getenv("SGDMA_MACHINE");
	return config() == c || (machine && !strcmp(machine, c));
}
inline int mask_bits()
{
	return is_config("bounce") ? 28 : 64;
}
// The running kernel is @major.@minor or newer.
inline bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;
	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

// The kernel checks every DMA-API call (CONFIG_DMA_API_DEBUG, the debug
// kernel of the matrix); run-suite.sh mounts debugfs.
inline bool dma_api_debugging()
{
	return access("/sys/kernel/debug/dma-api", F_OK) == 0;
}

// Bus addresses keep the buffer's offset in the page: always without
// bouncing; through swiotlb from 6.9 on (module/sgdma_compat.h says why).
inline bool keeps_page_offset()
{
	return !is_config("bounce") || kernel_at_least(6, 9);
}

inline std::string node_path()
{
	return std::string("/dev/sgdma/") + sgt_edu_bdf();
}

inline long long param(const char *name)
{
	long long v = -1;
	std::string path = std::string(SGT_PARAM_DIR "/") + name;
	EXPECT_EQ(0, sgt_read_ll(path.c_str(), &v)) << path;
	return v;
}

inline int set_param(const char *name, long long value)
{
	std::string path = std::string(SGT_PARAM_DIR "/") + name;
	return sgt_write_str(path.c_str(), std::to_string(value).c_str());
}

// Pins the kernel holds beyond the ones it released, from /proc/vmstat.
inline long long foll_pins_outstanding()
{
	return sgt_vmstat("nr_foll_pin_acquired") - sgt_vmstat("nr_foll_pin_released");
}

// Every test starts with the module loaded and the edu device exposed, and
// ends with nothing pinned: the module's counters and the kernel's FOLL_PIN
// counters both return to balance.
class SgdmaTest : public ::testing::Test
{
      protected:
	void SetUp() override
	{
		if (!sgt_module_loaded()) {
			const char *ko = getenv("SGDMA_KO");
			ASSERT_NE(nullptr, ko) << "SGDMA_KO not set and sgdma not loaded";
			ASSERT_EQ(0, sgt_load_module(ko, ""));
		}
		ASSERT_EQ(0, sgt_expose_edu(mask_bits())) << "exposing " << sgt_edu_bdf();
	}
	void TearDown() override
	{
		EXPECT_EQ(0, param("regions"));
		EXPECT_EQ(0, param("pinned_pages"));
		long long outstanding = foll_pins_outstanding();
		for (int i = 0; i < 50 && outstanding; i++) {
			usleep(20000); // let unrelated in-flight I/O finish
			outstanding = foll_pins_outstanding();
		}
		EXPECT_EQ(0, outstanding) << "nr_foll_pin_acquired != nr_foll_pin_released";
	}
};

} // namespace sgt

#endif
