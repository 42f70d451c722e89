// SPDX-License-Identifier: GPL-2.0
#include "sgtest.h"
#include "edu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *sgt_config(void)
{
	const char *c = getenv("SGDMA_CONFIG");

	return c ? c : "";
}

const char *sgt_edu_bdf(void)
{
	static char found[64];
	const char *env = getenv("SGDMA_EDU_BDF");

	if (env && *env)
		return env;
	if (!found[0] && edu_find(found, sizeof(found)))
		found[0] = '\0';
	return found;
}

const char *sgt_dev_attr_path(const char *attr, char *buf, size_t size)
{
	snprintf(buf, size, "/sys/class/sgdma/%s/%s", sgt_edu_bdf(), attr);
	return buf;
}

int sgt_read_ll(const char *path, long long *value)
{
	char text[64];
	char *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENODATA;
	text[n] = '\0';
	errno = 0;
	*value = strtoll(text, &end, 0);
	if (errno || end == text)
		return -EINVAL;
	return 0;
}

int sgt_write_str(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

long long sgt_vmstat(const char *key)
{
	FILE *f;
	char name[128];
	long long value, result = -1;

	/* Fold the per-CPU deltas first: /proc/vmstat alone lags behind. */
	sgt_write_str("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", name, &value) == 2)
		if (!strcmp(name, key)) {
			result = value;
			break;
		}
	fclose(f);
	return result;
}

int sgt_load_module(const char *ko_path, const char *params)
{
	int fd = open(ko_path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = (int)syscall(SYS_finit_module, fd, params ? params : "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int sgt_unload_module(void)
{
	return syscall(SYS_delete_module, "sgdma", O_NONBLOCK) ? -errno : 0;
}

int sgt_module_loaded(void)
{
	return access("/sys/module/sgdma", F_OK) == 0;
}

int sgt_expose_edu(int mask_bits)
{
	char path[256], bits[16];
	int ret;

	if (access(sgt_dev_attr_path("dma_mask_bits", path, sizeof(path)), F_OK)) {
		ret = sgt_write_str(SGT_PARAM_DIR "/expose", sgt_edu_bdf());
		if (ret)
			return ret;
	}
	snprintf(bits, sizeof(bits), "%d", mask_bits);
	return sgt_write_str(path, bits);
}

int sgt_unexpose_edu(void)
{
	return sgt_write_str(SGT_PARAM_DIR "/unexpose", sgt_edu_bdf());
}

int sgt_drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

int sgt_page_node(void *addr)
{
	int status = -1;

	if (move_pages(0, 1, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

/* Lines of @path that contain @text, -1 when @path cannot be read. */
static long count_lines_with(const char *path, const char *text)
{
	FILE *f = fopen(path, "re");
	char line[512];
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

long sgt_dmabuf_total(void)
{
	FILE *f = fopen(SGT_DMABUF_BUFINFO, "re");
	char line[512];
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " objects") && sscanf(line, "Total %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

long sgt_dmabuf_attachments(const char *name)
{
	return count_lines_with(SGT_DMABUF_BUFINFO, name);
}

long sgt_dma_api_mappings(const char *name)
{
	return count_lines_with("/sys/kernel/debug/dma-api/dump", name);
}
