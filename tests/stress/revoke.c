// SPDX-License-Identifier: GPL-2.0
/*
 * The device and its configuration changing under load: revocation by
 * unexpose, PCI remove, driver unbind and a DMA-managing driver binding,
 * and the admin rewriting the DMA mask, the segment limits and
 * max_region_bytes while registrations run.
 */
#include "stress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgtest.h"

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static const char *pci_path(const char *leaf, char *buf, size_t size)
{
	snprintf(buf, size, "/sys/bus/pci/devices/%s/%s", sgt_edu_bdf(), leaf);
	return buf;
}

static int pci_write(const char *leaf, const char *text)
{
	char path[256];

	return sgt_write_str(pci_path(leaf, path, sizeof(path)), text);
}

static int driver_write(const char *driver, const char *leaf, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", driver, leaf);
	return sgt_write_str(path, text);
}

/* ================================================================ revoke */

struct rworker {
	uint8_t *buf;
	size_t size;
	uint64_t stream;
	bool closer; /* registers a lot and closes, racing revocation */
	atomic_bool *stop;
	atomic_bool *ready; /* exposed and configured: keep what opens */
	unsigned long ops, revoked, refused_opens;
};

static bool open_may_fail(int err)
{
	/* The node is gone (ENOENT), or going (ENODEV, ENXIO). */
	return err == ENOENT || err == ENODEV || err == ENXIO;
}

static bool revoked_register_may_fail(int err)
{
	return (err == EBUSY && is_config("iommu")) || /* a domain or group owner changed */
	       (err == EIO && is_config("bounce"));
}

/* Many regions at once, then close: closing races revocation. */
static int closer_round(struct rworker *w, int fd)
{
	size_t each = is_config("bounce") ? 16 * KiB : 64 * KiB;
	uint32_t h;
	int ret = 0;

	for (int k = 0; k < 16 && !ret; k++) {
		ret = sg_register(fd, w->buf + k * each, each, BIDI, &h, NULL);
		if (ret && ret != ENODEV && !revoked_register_may_fail(ret))
			fail("REGISTER: %s", errname(ret));
	}
	close(fd);
	return -1;
}

static void *revoke_worker(void *arg)
{
	struct rworker *w = arg;
	size_t cell = w->size / 8, maxlen = is_config("bounce") ? 64 * KiB : 256 * KiB;
	uint32_t h[8] = {0};
	uint64_t lens[8];
	int fd = -1;
	struct rng r;

	rng_init(&r, w->stream);
	if (maxlen > cell)
		maxlen = cell;
	while (!atomic_load(w->stop)) {
		unsigned int op = (unsigned int)below(&r, 100);
		int i = (int)below(&r, 8), ret = 0;

		if (fd < 0) {
			fd = open_node();
			if (fd < 0) {
				if (!open_may_fail(errno))
					fail("open %s: %s", node_path(), strerror(errno));
				w->refused_opens++;
				sleep_us(1000);
				continue;
			}
			if (!atomic_load(w->ready)) {
				/* Exposed again but not configured yet: only the open. */
				close(fd);
				fd = -1;
				sleep_us(500);
				continue;
			}
			memset(h, 0, sizeof(h));
		}
		w->ops++;
		if (w->closer) {
			fd = closer_round(w, fd);
			continue;
		}
		if (!h[i]) {
			size_t len = 1 + below(&r, maxlen);
			size_t off = may_overlap() ? below(&r, w->size - len)
			                           : i * cell + below(&r, cell - len + 1);

			ret = sg_register(fd, w->buf + off, len, BIDI, &h[i], NULL);
			if (!ret)
				lens[i] = len;
			else if (revoked_register_may_fail(ret))
				ret = 0;
		} else if (op < 40) {
			ret = sg_sync(fd, h[i], 0, lens[i], chance(&r, 50));
		} else if (op < 75) {
			ret = check_tiling(fd, h[i], lens[i], 0, NULL, 0, NULL);
		} else {
			ret = sg_unregister(fd, h[i]);
			h[i] = 0;
		}
		if (ret == ENODEV) {
			/* Revoked: the regions went with the device; start again. */
			w->revoked++;
			close(fd);
			fd = -1;
		} else if (ret) {
			fail("op %u on a live file: %s", op, errname(ret));
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

enum { ACT_UNEXPOSE, ACT_REMOVE, ACT_UIO, ACT_VFIO, NACT };
static const char *const act_name[NACT] = {"unexpose", "PCI remove", "uio_pci_generic unbind",
                                           "vfio-pci bind"};

/* Makes the device go away by @act; 0, or why it could not. */
static int revoke_by(int act)
{
	int ret;

	switch (act) {
	case ACT_UNEXPOSE:
		return sgt_unexpose_edu();
	case ACT_REMOVE:
		return pci_write("remove", "1");
	case ACT_UIO:
		/* A driver that maps nothing binds without revoking ... */
		if ((ret = pci_write("driver_override", "uio_pci_generic")) ||
		    (ret = driver_write("uio_pci_generic", "bind", sgt_edu_bdf())))
			return ret;
		if (!path_exists(node_path()))
			fail("binding uio_pci_generic revoked the device");
		sleep_us(2000);
		/* ... and unbinding it revokes. */
		return driver_write("uio_pci_generic", "unbind", sgt_edu_bdf());
	case ACT_VFIO:
		if ((ret = pci_write("driver_override", "vfio-pci")))
			return ret;
		return driver_write("vfio-pci", "bind", sgt_edu_bdf());
	}
	return -EINVAL;
}

/* Undo what revoke_by(@act) left and expose the device again. */
static void restore_device(int act)
{
	char path[256];
	double until;
	int ret;

	if (act == ACT_VFIO) {
		/* The group belongs to vfio now: nothing may be exposed. */
		ret = sgt_write_str(SGT_PARAM_DIR "/expose", sgt_edu_bdf());
		if (ret != -EBUSY)
			fail("exposing a device vfio-pci owns: %s, expected EBUSY", errname(-ret));
		if ((ret = driver_write("vfio-pci", "unbind", sgt_edu_bdf())))
			fail("unbinding vfio-pci: %s", errname(-ret));
	}
	if (act == ACT_REMOVE) {
		if ((ret = sgt_write_str("/sys/bus/pci/rescan", "1")))
			fail("PCI rescan: %s", errname(-ret));
		until = now_s() + 5;
		while (!path_exists(pci_path("config", path, sizeof(path))) && now_s() < until)
			sleep_us(10000);
	}
	if (act == ACT_UIO || act == ACT_VFIO)
		pci_write("driver_override", "\n");
	until = now_s() + 5;
	while ((ret = ensure_exposed(mask_bits())) && now_s() < until)
		sleep_us(10000);
	if (ret)
		fail("exposing %s again after %s: %s", sgt_edu_bdf(), act_name[act], errname(-ret));
}

void sc_revoke(void)
{
	const size_t size = 4 * MiB;
	int nworkers = opt.threads;
	struct rworker w[33];
	pthread_t th[33];
	atomic_bool stop = false, ready = true;
	bool can[NACT] = {true, true, false, false};
	unsigned long rounds[NACT] = {0}, loaded = 0, pinned_after = 0, n = 0;
	uint8_t *buf = map_buffer(size * (nworkers + 1), true);
	double until;
	struct rng r;

	check_begin("revoke");
	rng_init(&r, 6);
	/* Built in on the debug kernel: a modprobe there is seconds for nothing. */
	if ((!path_exists("/sys/bus/pci/drivers/uio_pci_generic") ||
	     !path_exists("/sys/bus/pci/drivers/vfio-pci")) &&
	    system("modprobe uio_pci_generic 2>/dev/null; modprobe vfio-pci 2>/dev/null") < 0)
		note("revoke: modprobe did not run");
	/*
	 * Enabling the device for uio_pci_generic evaluates ACPI's interrupt
	 * routing, which under the numa configuration's PCI expander bridge
	 * loops until the interpreter's timeout (about 40 s).
	 */
	can[ACT_UIO] = path_exists("/sys/bus/pci/drivers/uio_pci_generic") && !is_config("numa");
	/* Without an IOMMU, vfio-pci would need its unsafe no-IOMMU mode. */
	can[ACT_VFIO] = is_config("iommu") && path_exists("/sys/bus/pci/drivers/vfio-pci");
	if (!can[ACT_UIO])
		note("revoke: not binding uio_pci_generic (%s)",
		     is_config("numa") ? "ACPI times out on the expander bridge" : "not here");
	if (!can[ACT_VFIO])
		note("revoke: vfio-pci only in the iommu configuration, not binding it");
	if (!buf) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	if (opt.verbose)
		note("revoke: workers start at %.2f", now_s());
	unloader_start();
	for (int i = 0; i <= nworkers; i++) {
		w[i] = (struct rworker){.buf = buf + i * size,
		                        .size = size,
		                        .stream = 200 + i,
		                        .closer = i == nworkers,
		                        .stop = &stop,
		                        .ready = &ready};
		pthread_create(&th[i], NULL, revoke_worker, &w[i]);
	}
	/*
	 * Every way this machine has, once, the quicker first: a vfio-pci
	 * bind and unbind takes about a second on a debug kernel, a PCI
	 * remove and rescan a few, and uio_pci_generic from several to tens
	 * (ACPI's interrupt routing is evaluated at enable and at disable).
	 * The first round of each runs whatever the budget; then the quick
	 * ones round and round until the budget is spent.
	 */
	static const int order[] = {ACT_UNEXPOSE, ACT_VFIO, ACT_REMOVE,   ACT_UIO,
	                            ACT_UNEXPOSE, ACT_VFIO, ACT_UNEXPOSE, ACT_VFIO,
	                            ACT_UNEXPOSE, ACT_VFIO};
	const size_t first_pass = NACT;

	until = deadline(0.9);
	while ((n < first_pass || now_s() < until) && n < ARRAY_LEN(order)) {
		int act = order[n], ret;
		long long regions, pinned;
		double t0, t1;

		n++;
		if (!can[act])
			continue;
		sleep_us(2000 + below(&r, 40000)); /* let regions build up */
		loaded += param("regions") > 0;
		atomic_store(&ready, false);
		t0 = now_s();
		ret = revoke_by(act);
		t1 = now_s();
		if (ret) {
			fail("%s: %s", act_name[act], errname(-ret));
		} else {
			/* When revocation returns, nothing of the device is mapped. */
			regions = param("regions");
			pinned = param("pinned_pages");
			if (regions)
				fail("%s returned with %lld regions still mapped", act_name[act],
				     regions);
			if (pinned) {
				pinned_after++;
				for (int k = 0; k < 100 && param("pinned_pages"); k++)
					sleep_us(10000);
				if (param("pinned_pages"))
					fail("%s: %lld pages still pinned a second later",
					     act_name[act], param("pinned_pages"));
			}
		}
		restore_device(act);
		atomic_store(&ready, true);
		if (opt.verbose)
			note("revoke: %s took %.3f s, exposing again %.3f s", act_name[act],
			     t1 - t0, now_s() - t1);
		rounds[act]++;
	}
	atomic_store(&stop, true);
	for (int i = 0; i <= nworkers; i++)
		pthread_join(th[i], NULL);
	if (opt.verbose)
		note("revoke: workers joined at %.2f", now_s());
	unloader_stop();
	unmap_buffer(buf, size * (nworkers + 1));
	unsigned long ops = 0, revoked = 0;
	for (int i = 0; i <= nworkers; i++) {
		ops += w[i].ops;
		revoked += w[i].revoked;
	}
	if (pinned_after)
		note("revoke: %lu times pages of a region being released were still pinned when "
		     "revocation returned (nothing was mapped)",
		     pinned_after);
	check_end("%lu unexpose, %lu PCI remove, %lu uio_pci_generic bind+unbind, %lu vfio-pci "
	          "bind, %lu of them with regions mapped; %d threads, %lu calls, %lu ENODEV",
	          rounds[ACT_UNEXPOSE], rounds[ACT_REMOVE], rounds[ACT_UIO], rounds[ACT_VFIO],
	          loaded, nworkers + 1, ops, revoked);
}

/* ================================================================ admin */

/* A DMA configuration the device was in, or was about to be in. */
struct cfg {
	int mask;
	uint64_t maxseg, boundary, maxreg;
};

#define NCFG 16384
static struct cfg cfglog[NCFG];
static atomic_int ncfg;

static void cfg_push(const struct cfg *c)
{
	int k = atomic_load(&ncfg);

	if (k < NCFG) {
		cfglog[k] = *c;
		atomic_store(&ncfg, k + 1);
	}
}

static bool seg_fits(const struct sgdma_ioc_seg *s, const struct cfg *c)
{
	uint64_t last = s->addr + s->len - 1;
	uint64_t dmask = c->mask >= 64 ? ~0ULL : (1ULL << c->mask) - 1;

	return s->len <= c->maxseg && (s->addr | c->boundary) == (last | c->boundary) &&
	       last <= dmask;
}

struct aworker {
	uint8_t *buf;
	size_t size;
	uint64_t stream;
	atomic_bool *stop;
	atomic_int *pause, *parked;
	unsigned long regs, too_big, checked;
	struct sgdma_ioc_seg segs[1024];
};

/*
 * The region's segments must obey one of the configurations the device
 * was in while it was registered: from the one before @g0 (a change
 * logged but not yet written) to the last logged by @g1.
 */
static void admin_check(struct aworker *w, int fd, uint32_t h, size_t len, uint64_t nsegs, int g0,
                        int g1)
{
	size_t got = 0;
	int ret = check_tiling(fd, h, len, nsegs, w->segs, ARRAY_LEN(w->segs), &got);

	if (ret) {
		fail("GET_SEGS: %s", errname(ret));
		return;
	}
	for (int k = g0 > 1 ? g0 - 2 : 0; k < g1; k++) {
		size_t i = 0;

		while (i < got && seg_fits(&w->segs[i], &cfglog[k]))
			i++;
		if (i == got) {
			w->checked++;
			return;
		}
	}
	const struct cfg *c = &cfglog[g1 - 1];
	for (size_t i = 0; i < got; i++)
		if (!seg_fits(&w->segs[i], c)) {
			fail("segment %zu (%#llx, %llu bytes) of a %zu-byte region fits none of "
			     "configurations %d..%d (the last: mask %d bits, max segment %llu, "
			     "boundary %#llx)",
			     i, (unsigned long long)w->segs[i].addr,
			     (unsigned long long)w->segs[i].len, len, g0, g1 - 1, c->mask,
			     (unsigned long long)c->maxseg, (unsigned long long)c->boundary);
			return;
		}
}

#define A_CELLS 6

static void *admin_worker(void *arg)
{
	struct aworker *w = arg;
	size_t cell = (w->size / A_CELLS) & ~(PAGE_SZ - 1);
	size_t maxlen = may_overlap() ? 1536 * KiB : cell;
	uint32_t h[A_CELLS] = {0};
	int fd = open_node();
	struct rng r;

	rng_init(&r, w->stream);
	if (is_config("bounce") && maxlen > 512 * KiB)
		maxlen = 512 * KiB; /* max_bounce_bytes */
	if (fd < 0) {
		fail("open: %s", strerror(errno));
		return NULL;
	}
	while (!atomic_load(w->stop)) {
		int i = (int)below(&r, A_CELLS), ret;

		if (atomic_load(w->pause)) {
			for (int k = 0; k < A_CELLS; k++)
				if (h[k] && (ret = sg_unregister(fd, h[k])))
					fail("UNREGISTER: %s", errname(ret));
			memset(h, 0, sizeof(h));
			atomic_fetch_add(w->parked, 1);
			while (atomic_load(w->pause))
				sleep_us(500);
			atomic_fetch_sub(w->parked, 1);
			continue;
		}
		if (!h[i]) {
			size_t len = 1 + below(&r, maxlen);
			size_t off = may_overlap() ? below(&r, w->size - len)
			                           : i * cell + below(&r, cell - len + 1);
			uint64_t nsegs, minreg = ~0ULL, maxreg = 0;
			int g0 = atomic_load(&ncfg), g1;

			ret = sg_register(fd, w->buf + off, len, BIDI, &h[i], &nsegs);
			g1 = atomic_load(&ncfg);
			for (int k = g0 > 1 ? g0 - 2 : 0; k < g1; k++) {
				minreg = cfglog[k].maxreg < minreg ? cfglog[k].maxreg : minreg;
				maxreg = cfglog[k].maxreg > maxreg ? cfglog[k].maxreg : maxreg;
			}
			if (!ret) {
				w->regs++;
				if (len > maxreg)
					fail("a %zu-byte region registered while max_region_bytes "
					     "was at most %llu",
					     len, (unsigned long long)maxreg);
				admin_check(w, fd, h[i], len, nsegs, g0, g1);
			} else if (ret == E2BIG && len > minreg) {
				w->too_big++;
			} else if (!(ret == EIO && is_config("bounce"))) {
				fail("REGISTER of %zu bytes: %s (max_region_bytes %llu..%llu)", len,
				     errname(ret), (unsigned long long)minreg,
				     (unsigned long long)maxreg);
			}
		} else if (chance(&r, 50)) {
			if ((ret = sg_sync(fd, h[i], 0, 1, chance(&r, 50))))
				fail("SYNC: %s", errname(ret));
		} else {
			if ((ret = sg_unregister(fd, h[i])))
				fail("UNREGISTER: %s", errname(ret));
			h[i] = 0;
		}
	}
	for (int k = 0; k < A_CELLS; k++)
		if (h[k])
			sg_unregister(fd, h[k]);
	close(fd);
	return NULL;
}

static int read_dev_u64(const char *name, uint64_t *v)
{
	char path[256], text[64];
	FILE *f = fopen(sgt_dev_attr_path(name, path, sizeof(path)), "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(text, sizeof(text), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = strtoull(text, NULL, 0);
	return 0;
}

static int write_dev_u64(const char *name, uint64_t v, bool hex)
{
	char text[32];

	snprintf(text, sizeof(text), hex ? "%#llx" : "%llu", (unsigned long long)v);
	return write_dev_attr(name, text);
}

static int write_mask(int bits)
{
	char text[16];

	snprintf(text, sizeof(text), "%d", bits);
	return write_dev_attr("dma_mask_bits", text);
}

void sc_admin(void)
{
	static const uint64_t maxsegs[] = {4096, 65536, 1 * MiB, 0xfffff000};
	static const uint64_t boundaries[] = {0xffff, 0x1fffff, 0xffffffff, ~0ULL};
	static const uint64_t maxregs[] = {128 * KiB, 512 * KiB, 64ULL << 30};
	int masks[2] = {64, 40};
	const size_t size = 4 * MiB;
	int nworkers = opt.threads, fd, ret, quiesces = 0;
	struct aworker *w = calloc(nworkers, sizeof(*w));
	pthread_t th[32];
	atomic_bool stop = false;
	atomic_int pause = 0, parked = 0;
	uint8_t *buf = map_buffer(size * nworkers + PAGE_SZ, true);
	struct cfg cur, saved;
	unsigned long writes = 0, busy = 0;
	double until, next_quiesce;
	uint32_t anchor = 0;
	struct rng r;

	check_begin("admin");
	rng_init(&r, 8);
	if (is_config("bounce")) {
		masks[0] = 28;
		masks[1] = 30;
	} else if (is_config("iommu")) {
		masks[1] = 32;
	}
	fd = open_node();
	cur.mask = mask_bits();
	cur.maxreg = (uint64_t)param("max_region_bytes");
	if (!w || !buf || fd < 0 || read_dev_u64("max_segment_size", &cur.maxseg) ||
	    read_dev_u64("segment_boundary", &cur.boundary)) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	saved = cur;
	atomic_store(&ncfg, 0);
	cfg_push(&cur);
	/* While the admin's own region is mapped, the mask must not change. */
	uint8_t *anchor_buf = buf + size * nworkers;
	if ((ret = sg_register(fd, anchor_buf, PAGE_SZ, BIDI, &anchor, NULL)))
		fail("REGISTER: %s", errname(ret));
	for (int i = 0; i < nworkers; i++) {
		w[i].buf = buf + i * size;
		w[i].size = size;
		w[i].stream = 300 + i;
		w[i].stop = &stop;
		w[i].pause = &pause;
		w[i].parked = &parked;
		pthread_create(&th[i], NULL, admin_worker, &w[i]);
	}
	until = deadline(0.9);
	next_quiesce = now_s() + 0.5;
	while (now_s() < until && writes < 20000) {
		struct cfg next = cur;
		unsigned int what = (unsigned int)below(&r, 4);

		sleep_us(500 + below(&r, 3000));
		if (now_s() >= next_quiesce) {
			/* Everyone idle: the mask must change now. */
			atomic_store(&pause, 1);
			for (int k = 0; k < 500 && atomic_load(&parked) < nworkers; k++)
				sleep_us(10000);
			if (atomic_load(&parked) < nworkers)
				fail("workers did not park");
			if ((ret = sg_unregister(fd, anchor)))
				fail("UNREGISTER: %s", errname(ret));
			next.mask = cur.mask == masks[0] ? masks[1] : masks[0];
			next.maxseg = maxsegs[below(&r, ARRAY_LEN(maxsegs))];
			cfg_push(&next);
			if ((ret = write_mask(next.mask)))
				fail("dma_mask_bits %d with nothing mapped: %s", next.mask,
				     errname(-ret));
			if ((ret = write_dev_u64("max_segment_size", next.maxseg, false)))
				fail("max_segment_size %llu with nothing in flight: %s",
				     (unsigned long long)next.maxseg, errname(-ret));
			if (ret)
				cfg_push(&cur);
			else
				cur = next;
			if ((ret = sg_register(fd, anchor_buf, PAGE_SZ, BIDI, &anchor, NULL)))
				fail("REGISTER: %s", errname(ret));
			atomic_store(&pause, 0);
			quiesces++;
			next_quiesce = now_s() + 0.5;
			continue;
		}
		writes++;
		switch (what) {
		case 0:
			next.maxseg = maxsegs[below(&r, ARRAY_LEN(maxsegs))];
			cfg_push(&next);
			ret = write_dev_u64("max_segment_size", next.maxseg, false);
			break;
		case 1:
			next.boundary = boundaries[below(&r, ARRAY_LEN(boundaries))];
			cfg_push(&next);
			ret = write_dev_u64("segment_boundary", next.boundary, true);
			break;
		case 2:
			next.maxreg = maxregs[below(&r, ARRAY_LEN(maxregs))];
			cfg_push(&next);
			ret = set_param("max_region_bytes", (long long)next.maxreg);
			if (ret)
				fail("max_region_bytes %llu: %s", (unsigned long long)next.maxreg,
				     errname(-ret));
			break;
		default:
			/* A region is mapped: the mask stays. */
			next.mask = cur.mask == masks[0] ? masks[1] : masks[0];
			ret = write_mask(next.mask);
			if (ret != -EBUSY) {
				fail("dma_mask_bits %d with a region mapped: %s, expected EBUSY",
				     next.mask, errname(-ret));
				if (!ret)
					cfg_push(&next);
			}
			if (!ret)
				cur = next;
			continue;
		}
		if (ret == -EBUSY) {
			busy++;
			cfg_push(&cur); /* a registration was in flight: unchanged */
		} else if (ret) {
			fail("admin write %u: %s", what, errname(-ret));
			cfg_push(&cur);
		} else {
			cur = next;
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nworkers; i++)
		pthread_join(th[i], NULL);
	if (anchor && (ret = sg_unregister(fd, anchor)))
		fail("UNREGISTER: %s", errname(ret));
	close(fd);
	if ((ret = write_mask(mask_bits())) ||
	    (ret = write_dev_u64("max_segment_size", saved.maxseg, false)) ||
	    (ret = write_dev_u64("segment_boundary", saved.boundary, true)) ||
	    (ret = set_param("max_region_bytes", (long long)saved.maxreg)))
		fail("restoring the configuration: %s", errname(-ret));
	unmap_buffer(buf, size * nworkers + PAGE_SZ);
	unsigned long regs = 0, too_big = 0, checked = 0;
	for (int i = 0; i < nworkers; i++) {
		regs += w[i].regs;
		too_big += w[i].too_big;
		checked += w[i].checked;
	}
	free(w);
	check_end("%lu configuration writes (%lu EBUSY), %d mask changes while idle, %d "
	          "configurations; %lu registrations checked against them, %lu E2BIG",
	          writes, busy, quiesces, atomic_load(&ncfg), checked, too_big);
	(void)regs;
}
