// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgdump: the buffer it registers (anonymous, THP, hugetlb or file memory,
 * or a dma-buf from udmabuf or the system DMA heap).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgdump.h"

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

const char *const mem_names[] = {
    [MEM_ANON] = "anonymous", [MEM_THP] = "thp",         [MEM_HUGETLB] = "hugetlb",
    [MEM_FILE] = "file",      [MEM_UDMABUF] = "udmabuf", [MEM_HEAP] = "dma-heap",
};

#define UDMABUF_DEV "/dev/udmabuf"
#define HEAP_DEV    "/dev/dma_heap/system"

/* The number after "@key:" in /proc/meminfo, -1 when there is none. */
static long meminfo_value(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t klen = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Huge page size from /proc/meminfo, default 2 MiB. */
static size_t hugetlb_size(void)
{
	long kb = meminfo_value("Hugepagesize");

	return kb > 0 ? (size_t)kb * 1024 : THP_SIZE;
}

static void thp_check(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char line[128];

	if (!f) {
		warnmsg("transparent huge pages are not available in this kernel: --thp gives base "
		        "pages");
		return;
	}
	if (fgets(line, sizeof(line), f) && strstr(line, "[never]"))
		warnmsg("transparent huge pages are disabled "
		        "(/sys/kernel/mm/transparent_hugepage/enabled is never): --thp gives base "
		        "pages");
	fclose(f);
}

void check_node(int node)
{
	int max;

	if (numa_available() < 0)
		die(EX_MEMORY, "--node %d: NUMA is not available on this system", node);
	max = numa_max_node();
	if (node > max || !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)node))
		die(EX_USAGE,
		    "--node %d: no such NUMA node with memory (this system has nodes 0-%d; see "
		    "numactl --hardware)",
		    node, max);
}

static void bind_node(const struct buffer *b, int node)
{
	unsigned long mask[(node / (8 * (int)sizeof(unsigned long))) + 1];
	int i = node / (8 * (int)sizeof(unsigned long));

	memset(mask, 0, sizeof(mask));
	mask[i] = 1UL << (node % (8 * sizeof(unsigned long)));
	if (mbind(b->map, b->map_len, MPOL_BIND, mask, sizeof(mask) * 8 + 1,
	          MPOL_MF_MOVE | MPOL_MF_STRICT) < 0)
		die(EX_MEMORY, "cannot bind the buffer to NUMA node %d: mbind: %s", node,
		    strerror(errno));
}

/* The page size of the buffer's memory: the limit of --offset. */
static size_t mem_align(const struct opts *o)
{
	return o->mem == MEM_THP       ? THP_SIZE
	       : o->mem == MEM_HUGETLB ? hugetlb_size()
	                               : (size_t)sysconf(_SC_PAGESIZE);
}

void check_offset(const struct opts *o)
{
	size_t align = mem_align(o);
	char h[32];

	if (o->offset >= align)
		die(EX_USAGE, "invalid offset %zu: must be less than the page size (%s)", o->offset,
		    human(align, h, sizeof(h)));
}

/* Anonymous private memory, of base pages or (--hugetlb) MAP_HUGETLB pages. */
static void map_anon(const struct opts *o, struct buffer *b, size_t align)
{
	char h[32], each[32];
	long total, freep;
	int err;

	b->map_len = round_up((uint64_t)o->offset + b->len, align);
	b->map =
	    mmap(NULL, b->map_len, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | (o->mem == MEM_HUGETLB ? MAP_HUGETLB : 0), -1, 0);
	if (b->map != MAP_FAILED)
		return;
	err = errno;
	if (o->mem != MEM_HUGETLB || (err != ENOMEM && err != EINVAL))
		die(EX_MEMORY, "cannot allocate %s: mmap: %s", human(b->map_len, h, sizeof(h)),
		    strerror(err));
	total = meminfo_value("HugePages_Total");
	freep = meminfo_value("HugePages_Free");
	if (total == 0)
		die(EX_MEMORY,
		    "--hugetlb: no huge pages are reserved: reserve some, e.g. echo %zu > "
		    "/proc/sys/vm/nr_hugepages (as root)",
		    (size_t)(b->map_len / align));
	die(EX_MEMORY,
	    "--hugetlb: cannot map %s of huge pages (%ld of %ld free, %s each): reserve more in "
	    "/proc/sys/vm/nr_hugepages",
	    human(b->map_len, h, sizeof(h)), freep, total, human(align, each, sizeof(each)));
}

/* Anonymous memory in 2 MiB aligned huge pages, with MADV_HUGEPAGE. */
static void map_thp(const struct opts *o, struct buffer *b)
{
	char h[32];

	b->map_len = round_up((uint64_t)o->offset + b->len, THP_SIZE);
	b->map = mmap_aligned(b->map_len, THP_SIZE);
	if (!b->map)
		die(EX_MEMORY, "cannot allocate %s: mmap: %s", human(b->map_len, h, sizeof(h)),
		    strerror(errno));
	thp_check();
	if (madvise(b->map, b->map_len, MADV_HUGEPAGE) < 0)
		die(EX_MEMORY,
		    "--thp: madvise(MADV_HUGEPAGE): %s (is transparent huge page support built "
		    "in?)",
		    strerror(errno));
}

/* A MAP_SHARED mapping of --file from file offset 0; read-only for --dir to. */
static void map_file(const struct opts *o, struct buffer *b)
{
	int prot = o->dir == SGDMA_TO_DEVICE ? PROT_READ : PROT_READ | PROT_WRITE;
	struct stat st;
	size_t need;

	b->fd = open(o->file, (prot & PROT_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (b->fd < 0)
		die(EX_MEMORY, "cannot open %s%s: %s", o->file,
		    prot & PROT_WRITE
		        ? " for writing (the device writes it: use --dir to for a read-only file)"
		        : "",
		    strerror(errno));
	if (fstat(b->fd, &st) < 0)
		die(EX_MEMORY, "cannot stat %s: %s", o->file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die(EX_MEMORY, "%s is a directory", o->file);
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size <= o->offset && !o->size_set)
			die(EX_MEMORY, "%s has %lld bytes: nothing to map after offset %zu",
			    o->file, (long long)st.st_size, o->offset);
		if (!o->size_set)
			b->len = (size_t)st.st_size - o->offset;
		need = o->offset + b->len;
		if ((uint64_t)st.st_size < need)
			die(EX_MEMORY,
			    "%s is too small: %lld bytes, the buffer needs %zu (offset + size)",
			    o->file, (long long)st.st_size, need);
	}
	b->map_len = round_up((uint64_t)o->offset + b->len, b->page);
	b->map = mmap(NULL, b->map_len, prot, MAP_SHARED, b->fd, 0);
	if (b->map == MAP_FAILED)
		die(EX_MEMORY, "cannot map %s: mmap: %s", o->file, strerror(errno));
}

/* An exporter's device node, or death with what is missing. */
static int open_exporter(const char *path, const char *what)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		die(EX_MEMORY, "--dmabuf %s: %s does not exist: this kernel has no %s", what, path,
		    !strcmp(what, "udmabuf") ? "udmabuf (CONFIG_UDMABUF)"
		                             : "system DMA heap (CONFIG_DMABUF_HEAPS_SYSTEM)");
	if (fd < 0)
		die(EX_MEMORY, "--dmabuf %s: cannot open %s: %s", what, path, strerror(errno));
	return fd;
}

/*
 * --dmabuf udmabuf: a memfd (sealed against shrinking, as udmabuf wants)
 * made a dma-buf by UDMABUF_CREATE; the memfd is mapped for the report.
 */
static void map_udmabuf(struct buffer *b)
{
	struct udmabuf_create create = {.flags = UDMABUF_FLAGS_CLOEXEC};
	int dev = open_exporter(UDMABUF_DEV, "udmabuf");
	char h[32];

	b->fd = memfd_create("sgdump", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (b->fd < 0 || ftruncate(b->fd, (off_t)b->map_len) < 0 ||
	    fcntl(b->fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		die(EX_MEMORY, "--dmabuf udmabuf: a sealed memfd of %s: %s",
		    human(b->map_len, h, sizeof(h)), strerror(errno));
	create.memfd = (uint32_t)b->fd;
	create.size = b->map_len;
	b->dmabuf = ioctl(dev, UDMABUF_CREATE, &create);
	if (b->dmabuf < 0)
		die(EX_MEMORY,
		    "--dmabuf udmabuf: UDMABUF_CREATE of %s: %s (udmabuf's size_limit_mib "
		    "parameter caps a buffer, 64 MiB by default)",
		    human(b->map_len, h, sizeof(h)), strerror(errno));
	close(dev);
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->map == MAP_FAILED)
		die(EX_MEMORY, "--dmabuf udmabuf: cannot map the memfd: %s", strerror(errno));
}

/* --dmabuf heap: a buffer of the system DMA heap, mapped through the dma-buf. */
static void map_heap(struct buffer *b)
{
	struct dma_heap_allocation_data alloc = {.len = b->map_len, .fd_flags = O_RDWR | O_CLOEXEC};
	int heap = open_exporter(HEAP_DEV, "heap");
	char h[32];

	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0)
		die(EX_MEMORY, "--dmabuf heap: cannot allocate %s from " HEAP_DEV ": %s",
		    human(b->map_len, h, sizeof(h)), strerror(errno));
	close(heap);
	b->dmabuf = (int)alloc.fd;
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->dmabuf, 0);
	if (b->map == MAP_FAILED)
		die(EX_MEMORY, "--dmabuf heap: cannot map the dma-buf: %s", strerror(errno));
}

/* Fault in every page: write anonymous memory, read file mappings. */
static void touch_buffer(const struct opts *o, const struct buffer *b)
{
	volatile char *p = (volatile char *)b->map;

	for (size_t i = 0; i < b->map_len; i += b->page) {
		if (o->mem == MEM_FILE)
			(void)p[i];
		else
			p[i] = (char)0x5a;
	}
}

void alloc_buffer(const struct opts *o, struct buffer *b)
{
	*b = (struct buffer){
	    .page = (size_t)sysconf(_SC_PAGESIZE), .len = o->size, .fd = -1, .dmabuf = -1};
	switch (o->mem) {
	case MEM_ANON:
	case MEM_HUGETLB:
		map_anon(o, b, mem_align(o));
		break;
	case MEM_THP:
		map_thp(o, b);
		break;
	case MEM_FILE:
		map_file(o, b);
		break;
	case MEM_UDMABUF:
	case MEM_HEAP:
		b->map_len = round_up((uint64_t)o->offset + b->len, b->page);
		if (o->mem == MEM_UDMABUF)
			map_udmabuf(b);
		else
			map_heap(b);
		break;
	}
	b->buf = b->map + o->offset;
	b->npages = ((uintptr_t)b->buf + b->len - 1) / b->page - (uintptr_t)b->buf / b->page + 1;

	if (o->node >= 0)
		bind_node(b, o->node);
	touch_buffer(o, b);
}

void free_buffer(struct buffer *b)
{
	munmap(b->map, b->map_len);
	if (b->fd >= 0)
		close(b->fd);
	if (b->dmabuf >= 0)
		close(b->dmabuf);
}
