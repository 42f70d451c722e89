// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fake sgdma module of the host unit tests: no kernel needed.
 *
 * Device nodes are regular files in a temporary directory named by
 * $SGDMA_DEV_DIR (the DevDir fixture): the file's first page is the
 * status page the library maps (struct sgdma_status, revoked when the
 * device is unplugged), and region status pages follow at
 * SGDMA_REGION_STATUS_OFFSET (handle h has byte h - 1 when the Dev's
 * features include SGDMA_FEAT_REGION_STATUS; a test writes the byte to
 * make the region stale).  fake_module.cc defines ioctl(),
 * which takes precedence over libc's for the library (whether linked in
 * statically or as libsgdma.so): on a file registered as a fake device it
 * plays the module; on any other fd it calls the real ioctl.  On an
 * unregistered regular file the real ioctl fails with ENOTTY, as on a file
 * that is not an sgdma device.
 *
 * The fake checks what the library must get right (exact struct sizes,
 * flags, reserved fields, handles, ranges) and records the calls; it does
 * not implement the module's rules for struct sizes other than the
 * current one (the in-VM suites check those against the real module),
 * except that a Dev with features 0 plays a module of the first interface
 * version: the new REGISTER fields must be zero (E2BIG otherwise), the
 * new flag is unknown (EINVAL) and nothing new is reported.
 */
#ifndef FAKE_MODULE_H
#define FAKE_MODULE_H

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <linux/sgdma.h>

#include <sgdma.h>

/* EXPECT_HAS(haystack, needle): a substring check that needs no gmock. */
::testing::AssertionResult has_substr(const char *he, const char *ne, const std::string &h,
                                      const std::string &n);
#define EXPECT_HAS(h, n) EXPECT_PRED_FORMAT2(has_substr, h, n)

/*
 * Both syncs of @r, a region of @len bytes, refuse with EINVAL every range
 * that is not inside it: empty, past the end, and ends that wrap.
 */
void expect_syncs_refuse_bad_ranges(sgdma_region *r, size_t len);

namespace fake
{

struct Region {
	uint32_t flags;
	uint64_t addr, len;
	std::vector<sgdma_ioc_seg> segs;
};

/* Where an ioctl waits until the test lets it through. */
struct Gate {
	std::mutex m;
	std::condition_variable cv;
	bool entered = false, opened = false;

	void pass();         /* in the ioctl: say so, wait for open() */
	void wait_entered(); /* in the test: until an ioctl waits here */
	void open();
};

struct Dev {
	/* INFO */
	uint32_t abi = SGDMA_ABI_VERSION;
	std::string name = "0000:00:03.0";
	int numa = 1;
	uint64_t dma_mask = 0xffffffffULL;
	uint64_t max_segment = 65536;
	uint64_t seg_boundary = 0xffffffffULL;
	uint32_t dev_flags = SGDMA_INFO_IOMMU | SGDMA_INFO_COHERENT;
	/* SGDMA_FEAT_*: 0 plays a module of the first interface version */
	uint32_t features = SGDMA_FEAT_REGION_FLAGS | SGDMA_FEAT_INLINE_SEGS |
	                    SGDMA_FEAT_COHERENCE | SGDMA_FEAT_STATUS;
	uint32_t dma_align = 64;
	/* behaviour */
	bool gone = false;         /* revoked: every ioctl answers ENODEV */
	Gate *info_gate = nullptr; /* INFO waits here, without the lock */
	int info_err = 0, reg_err = 0, segs_err = 0, sync_err = 0, unreg_err = 0;
	int segs_err_at_call = -1;       /* fail GET_SEGS call #n (0-based) */
	uint64_t seg_len = 4096;         /* segments end at multiples of this */
	uint64_t max_count = UINT64_MAX; /* GET_SEGS returns at most this */
	bool zero_count = false;         /* GET_SEGS returns count 0 */
	bool bad_nsegs = false;          /* REGISTER reports nsegs 0 */
	bool bad_tiling = false;         /* a segment's offset is off by one */
	bool needs_sync = true;          /* REGISTER reports SGDMA_REGION_NEEDS_SYNC */
	bool bounced = false;            /* REGISTER reports SGDMA_REGION_BOUNCED */
	uint32_t bad_region_flags = 0;   /* xor-ed into the reported region flags */
	/* state and records */
	std::map<uint32_t, Region> regions;
	uint32_t next_handle = 1;
	std::map<unsigned int, int> calls; /* per command (enum sgdma_cmd) */
	int last_fd = -1;
	sgdma_ioc_sync last_sync = {};
	sgdma_ioc_register last_register = {}; /* as the library passed it */
	std::vector<uint32_t> unregistered;
};

/* Held while reading or changing a Dev that the library may be using. */
extern std::mutex lock;

} // namespace fake

/*
 * A temporary device directory in $SGDMA_DEV_DIR; $SGDMA_DEVICE unset.
 * TearDown unplugs the fake devices (they answer ENODEV from then on, as a
 * revoked device does, for files the library still holds) and removes the
 * directory.
 */
class DevDir : public ::testing::Test
{
      protected:
	std::string dir;
	std::vector<std::pair<std::string, fake::Dev *>> made;

	void SetUp() override;
	void TearDown() override;

	/* A file in the directory; a fake device unless @plain. */
	fake::Dev *add(const std::string &name, bool plain = false);
	/* Revoke @d and remove its node, as unexposing the device does. */
	void unplug(fake::Dev *d);
	/* Calls of @cmd (SGDMA_CMD_*) that @d answered. */
	static int calls(const fake::Dev *d, unsigned int cmd);
};

/* A fake device "0000:00:03.0", opened with sgdma_open(). */
class Lib : public DevDir
{
      protected:
	fake::Dev *fd_ = nullptr;
	sgdma_dev *dev = nullptr;
	std::vector<char> buf = std::vector<char>(5 * 4096 + 100);

	void SetUp() override;
	void TearDown() override;
	int calls(unsigned int cmd) { return DevDir::calls(fd_, cmd); }
};

#endif /* FAKE_MODULE_H */
