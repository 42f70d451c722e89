// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime scenarios: threads sharing a file, processes with files of their
 * own, a file passed over a unix socket, fork and exec with live regions,
 * and SIGKILL in the middle of large registrations.
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sgdma.h>

#include "sgtest.h"

/* Bounced regions hold swiotlb slots, at most max_bounce_bytes per user. */
static size_t len_cap(size_t len)
{
	size_t cap = is_config("bounce") ? 1 * MiB : 4 * MiB;

	return len < cap ? len : cap;
}

/* A random [off, off + len) inside a buffer of @size bytes. */
static void pick_range(struct rng *r, size_t size, size_t *off, size_t *len)
{
	unsigned int kind = (unsigned int)below(r, 100);

	if (kind < 60)
		*len = 1 + below(r, 64 * KiB);
	else if (kind < 90)
		*len = 64 * KiB + below(r, 448 * KiB);
	else
		*len = 1 * MiB + below(r, 3 * MiB);
	*len = len_cap(*len);
	if (*len > size)
		*len = size;
	*off = below(r, size - *len + 1);
}

/* Errors a registration may meet under load in this configuration. */
static bool register_may_fail(int err)
{
	return err == EIO && is_config("bounce"); /* swiotlb or max_bounce_bytes */
}

/* ================================================================ threads */

#define T_SLOTS    48
#define T_HANDLES  (1u << 20)
#define T_RESERVED (1ULL << 63) /* a slot whose region is being registered */

/*
 * A table of live regions the threads share. Slot i holds regions of
 * direction i % 3 + 1, in buffer i % 3, in cell i / 3 of it when regions
 * may not overlap (may_overlap()).
 */
struct tshare {
	int fd;
	uint8_t *buf[3]; /* SGDMA_REG_TO_DEVICE, _FROM_DEVICE, both */
	size_t size, cell;
	double until;
	/* A live region: handle in the low 32 bits, length in the high 32. */
	_Atomic uint64_t slot[T_SLOTS];
	/*
	 * Unregistrations in place of slot i's handle under way: the region
	 * leaves the file's table before it is unmapped, so an UNREGISTER that
	 * lost the race returns before the winner's unmap is done, and the
	 * cell is free only when that is over.
	 */
	atomic_uint unregistering[T_SLOTS];
	atomic_uchar *given, *gone; /* per handle: registered, unregistered */
	atomic_ulong ops[5];
};

enum { OP_REG, OP_SEGS, OP_SYNC, OP_UNREG, OP_RACED };

static void mark(atomic_uchar *table, uint32_t h, const char *what)
{
	if (h < T_HANDLES && atomic_exchange(&table[h], 1))
		fail("handle %u %s twice", h, what);
}

static int t_unregister(struct tshare *s, uint32_t h)
{
	int ret = sg_unregister(s->fd, h);

	if (!ret)
		mark(s->gone, h, "unregistered");
	else if (ret != ENOENT)
		fail("UNREGISTER of handle %u: %s", h, errname(ret));
	else
		atomic_fetch_add(&s->ops[OP_RACED], 1);
	atomic_fetch_add(&s->ops[OP_UNREG], 1);
	return ret;
}

static void t_register(struct tshare *s, struct rng *r, unsigned int i)
{
	uint64_t expect = 0, nsegs;
	uint32_t flags = i % 3 + 1, h;
	uint8_t *base = s->buf[i % 3];
	size_t off, len;
	int ret;

	if (!atomic_compare_exchange_strong(&s->slot[i], &expect, T_RESERVED))
		return;
	if (may_overlap()) {
		pick_range(r, s->size, &off, &len);
	} else {
		pick_range(r, s->cell, &off, &len);
		off += i / 3 * s->cell;
	}
	ret = sg_register(s->fd, base + off, len, flags, &h, &nsegs);
	atomic_fetch_add(&s->ops[OP_REG], 1);
	if (ret) {
		atomic_store(&s->slot[i], 0);
		if (!register_may_fail(ret))
			fail("REGISTER of %zu bytes: %s", len, errname(ret));
		return;
	}
	mark(s->given, h, "given out");
	atomic_store(&s->slot[i], (uint64_t)len << 32 | h);
}

static void *t_worker(void *arg)
{
	struct tshare *s = arg;
	static atomic_uint stream;
	struct rng r;

	rng_init(&r, 100 + atomic_fetch_add(&stream, 1));
	for (unsigned int n = 0; n < 20000 && now_s() < s->until; n++) {
		unsigned int op = (unsigned int)below(&r, 100),
		             i = (unsigned int)below(&r, T_SLOTS);
		uint64_t v = atomic_load(&s->slot[i]);
		uint32_t h = (uint32_t)v, len = (uint32_t)(v >> 32);
		int ret;

		if (op < 35) {
			t_register(s, &r, i);
			continue;
		}
		if (!v || v == T_RESERVED)
			continue;
		if (op < 55) {
			ret = check_tiling(s->fd, h, len, 0, NULL, 0, NULL);
			if (ret && ret != ENOENT)
				fail("GET_SEGS of handle %u: %s", h, errname(ret));
			atomic_fetch_add(&s->ops[OP_SEGS], 1);
		} else if (op < 75) {
			uint64_t off = below(&r, len), slen = 1 + below(&r, len - off);

			ret = sg_sync(s->fd, h, off, slen, chance(&r, 50));
			if (ret && ret != ENOENT)
				fail("SYNC of handle %u [%llu, +%llu) of %u bytes: %s", h,
				     (unsigned long long)off, (unsigned long long)slen, len,
				     errname(ret));
			atomic_fetch_add(&s->ops[OP_SYNC], 1);
		} else if (op < 90) {
			/*
			 * Take the slot: nobody else unregisters it through the
			 * table, and nobody registers in its cell until it is free.
			 */
			if (atomic_compare_exchange_strong(&s->slot[i], &v, T_RESERVED)) {
				t_unregister(s, h);
				while (atomic_load(&s->unregistering[i]))
					sched_yield();
				atomic_store(&s->slot[i], 0);
			}
		} else {
			/*
			 * Unregister in place: another thread may be using it.
			 * Only the winner frees the slot, when its unmap is done.
			 */
			atomic_fetch_add(&s->unregistering[i], 1);
			ret = t_unregister(s, h);
			atomic_fetch_sub(&s->unregistering[i], 1);
			if (!ret)
				atomic_compare_exchange_strong(&s->slot[i], &v, 0);
		}
	}
	return NULL;
}

/* One big region synced and read by two threads while two others unregister it. */
struct race {
	int fd;
	uint32_t h;
	uint64_t len;
	atomic_int started, wins;
	int sync_end, segs_end;
	unsigned long syncs;
};

static void *race_syncer(void *arg)
{
	struct race *rc = arg;
	int ret;

	atomic_fetch_add(&rc->started, 1);
	while (!(ret = sg_sync(rc->fd, rc->h, 0, rc->len, rc->syncs & 1)))
		rc->syncs++;
	rc->sync_end = ret;
	return NULL;
}

static void *race_reader(void *arg)
{
	struct race *rc = arg;
	int ret;

	atomic_fetch_add(&rc->started, 1);
	while (!(ret = check_tiling(rc->fd, rc->h, rc->len, 0, NULL, 0, NULL)))
		;
	rc->segs_end = ret;
	return NULL;
}

static void *race_unregister(void *arg)
{
	struct race *rc = arg;
	int ret = sg_unregister(rc->fd, rc->h);

	if (!ret)
		atomic_fetch_add(&rc->wins, 1);
	else if (ret != ENOENT)
		fail("UNREGISTER racing another: %s", errname(ret));
	return NULL;
}

static unsigned int unregister_while_syncing(int fd, uint8_t *buf, size_t size, double until)
{
	struct rng r;
	unsigned int rounds = 0;

	rng_init(&r, 7);
	while (rounds < 40 && now_s() < until) {
		struct race rc = {.fd = fd, .len = size};
		pthread_t sy, rd, un;
		uint64_t nsegs;
		int ret = sg_register(fd, buf, size, BIDI, &rc.h, &nsegs);

		if (ret) {
			if (!register_may_fail(ret))
				fail("REGISTER of %zu bytes: %s", size, errname(ret));
			break;
		}
		pthread_create(&sy, NULL, race_syncer, &rc);
		pthread_create(&rd, NULL, race_reader, &rc);
		while (atomic_load(&rc.started) < 2)
			sleep_us(100);
		sleep_us(below(&r, 3000));
		pthread_create(&un, NULL, race_unregister, &rc);
		race_unregister(&rc);
		pthread_join(un, NULL);
		pthread_join(sy, NULL);
		pthread_join(rd, NULL);
		if (atomic_load(&rc.wins) != 1)
			fail("two threads unregistering one handle: %d succeeded",
			     atomic_load(&rc.wins));
		if (rc.sync_end != ENOENT)
			fail("SYNC of a handle being unregistered ended with %s, not ENOENT",
			     errname(rc.sync_end));
		if (rc.segs_end != ENOENT)
			fail("GET_SEGS of a handle being unregistered ended with %s, not ENOENT",
			     errname(rc.segs_end));
		rounds++;
	}
	return rounds;
}

void sc_threads(void)
{
	const size_t size = 6 * MiB, race_size = is_config("bounce") ? 2 * MiB : 6 * MiB;
	struct tshare *s = calloc(1, sizeof(*s));
	pthread_t th[32];
	int nthreads = opt.threads + 2;
	unsigned int rounds;
	uint8_t *race_buf = map_buffer(race_size, false);

	check_begin("threads");
	for (int i = 0; i < 3; i++)
		s->buf[i] = map_mixed(size);
	s->size = size;
	s->cell = size / (T_SLOTS / 3);
	s->given = calloc(T_HANDLES, 1);
	s->gone = calloc(T_HANDLES, 1);
	s->fd = open_node();
	if (!s->buf[0] || !s->buf[1] || !s->buf[2] || !race_buf || !s->given || !s->gone ||
	    s->fd < 0) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	unloader_start();
	s->until = deadline(0.7);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, t_worker, s);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < T_SLOTS; i++) {
		uint64_t v = atomic_exchange(&s->slot[i], 0);

		if (v == T_RESERVED)
			fail("slot %d still reserved after every thread ended", i);
		else if (v)
			t_unregister(s, (uint32_t)v);
	}
	if (param("regions"))
		fail("%lld regions left after unregistering every handle", param("regions"));
	/* Bounced: a bigger buffer would not fit in max_bounce_bytes. */
	rounds = unregister_while_syncing(s->fd, race_buf, race_size, deadline(0.3));
	close(s->fd);
	unloader_stop();
	for (int i = 0; i < 3; i++)
		unmap_buffer(s->buf[i], size);
	unmap_buffer(race_buf, race_size);
	check_end("%d threads on one file: %lu registrations, %lu GET_SEGS, %lu syncs, "
	          "%lu unregistrations (%lu lost a race); %u rounds of unregistering "
	          "while syncing",
	          nthreads, atomic_load(&s->ops[OP_REG]), atomic_load(&s->ops[OP_SEGS]),
	          atomic_load(&s->ops[OP_SYNC]), atomic_load(&s->ops[OP_UNREG]),
	          atomic_load(&s->ops[OP_RACED]), rounds);
	free(s->given);
	free(s->gone);
	free(s);
}

/* ================================================================ procs */

struct pthread_arg {
	struct sgdma_dev *dev;
	uint8_t *buf;
	size_t size;
	unsigned int ops;
	uint64_t stream;
	unsigned int flags; /* one direction (see may_overlap()) */
};

/* Through the library: its segments must tile the buffer too. */
static void lib_check_segs(struct sgdma_region *reg, size_t len)
{
	const struct sgdma_seg *seg = sgdma_region_segs(reg);
	size_t n = sgdma_region_nsegs(reg);
	uint64_t off = 0;

	for (size_t i = 0; i < n; i++) {
		if (seg[i].offset != off || !seg[i].len) {
			fail("libsgdma segment %zu: offset %llu len %llu, expected offset %llu", i,
			     (unsigned long long)seg[i].offset, (unsigned long long)seg[i].len,
			     (unsigned long long)off);
			return;
		}
		off += seg[i].len;
	}
	if (!n || off != len)
		fail("libsgdma: %zu segments cover %llu of %zu bytes", n, (unsigned long long)off,
		     len);
}

static void *proc_thread(void *arg)
{
	struct pthread_arg *a = arg;
	struct sgdma_region *live[8] = {0};
	size_t lens[8] = {0};
	struct rng r;

	rng_init(&r, a->stream);
	for (unsigned int n = 0; n < a->ops; n++) {
		unsigned int i = (unsigned int)below(&r, ARRAY_LEN(live));

		if (!live[i]) {
			size_t cell = a->size / ARRAY_LEN(live), off, len;

			if (may_overlap()) {
				pick_range(&r, a->size, &off, &len);
			} else {
				pick_range(&r, cell, &off, &len);
				off += i * cell;
			}
			live[i] = sgdma_dev_register(a->dev, a->buf + off, len, a->flags);
			if (!live[i]) {
				if (!register_may_fail(errno))
					fail("sgdma_dev_register of %zu bytes: %s", len,
					     sgdma_last_error());
				continue;
			}
			lens[i] = len;
			lib_check_segs(live[i], len);
		} else if (chance(&r, 60)) {
			size_t off = below(&r, lens[i]), len = 1 + below(&r, lens[i] - off);
			int ret = chance(&r, 50) ? sgdma_sync_for_cpu(live[i], off, len)
			                         : sgdma_sync_for_device(live[i], off, len);

			if (ret)
				fail("libsgdma sync: %s", sgdma_last_error());
		} else {
			if (sgdma_unregister(live[i]))
				fail("sgdma_unregister: %s", sgdma_last_error());
			live[i] = NULL;
		}
	}
	/* Half the time the regions are left to the exit. */
	if (chance(&r, 50))
		for (size_t i = 0; i < ARRAY_LEN(live); i++)
			if (live[i] && sgdma_unregister(live[i]))
				fail("sgdma_unregister: %s", sgdma_last_error());
	return NULL;
}

static void proc_child(uint64_t stream)
{
	const size_t size = 4 * MiB;
	struct pthread_arg a[2];
	pthread_t th[2];
	struct rng r;
	struct sgdma_dev *dev;
	uint8_t *buf = map_mixed(size);

	rng_init(&r, stream);
	dev = sgdma_open(sgt_edu_bdf());
	if (!buf || !dev) {
		fail("child: sgdma_open: %s", sgdma_last_error());
		_exit(1);
	}
	for (int i = 0; i < 2; i++) {
		a[i] = (struct pthread_arg){.dev = dev,
		                            .buf = buf + i * size / 2,
		                            .size = size / 2,
		                            .ops = 10 + (unsigned int)below(&r, 120),
		                            .stream = stream * 2 + i,
		                            .flags = 1 + (unsigned int)below(&r, 3)};
		pthread_create(&th[i], NULL, proc_thread, &a[i]);
	}
	/* Now and then the process dies in the middle of it all. */
	if (chance(&r, 25)) {
		sleep_us(below(&r, 20000));
		raise(SIGKILL);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (chance(&r, 50))
		sgdma_close(dev);
	_exit(0);
}

void sc_procs(void)
{
	const int nprocs = opt.threads;
	double until;
	unsigned long spawned = 0, killed = 0;
	int alive = 0;

	check_begin("procs");
	unloader_start();
	until = deadline(0.9);
	while (now_s() < until || alive) {
		int status;
		pid_t pid;

		while (alive < nprocs && now_s() < until && spawned < 2000) {
			pid = fork();
			if (pid == 0)
				proc_child(1000 + spawned);
			if (pid < 0) {
				fail("fork: %s", strerror(errno));
				break;
			}
			spawned++;
			alive++;
		}
		if (!alive)
			break;
		pid = wait(&status);
		if (pid < 0)
			break;
		alive--;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("child %d ended with status 0x%x", (int)pid, status);
	}
	unloader_stop();
	check_end("%lu processes through libsgdma, %d at a time, %lu killed themselves", spawned,
	          nprocs, killed);
}

/* ================================================================ fdpass */

static int send_fd(int sock, int fd)
{
	char byte = 'f';
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	int fd;

	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static char get_byte(int sock)
{
	char c = 0;

	return read(sock, &c, 1) == 1 ? c : 0;
}

static void put_byte(int sock, char c)
{
	if (write(sock, &c, 1) != 1)
		fail("write to the socket: %s", strerror(errno));
}

/* What a process that is not the opener may do with the file: only INFO. */
static void receiver_checks(int fd, const uint8_t *buf, uint32_t h)
{
	struct sgdma_ioc_info info;
	struct sgdma_ioc_seg seg;
	uint64_t count = 1;
	uint32_t nh;
	int ret;

	if ((ret = sg_info(fd, &info)))
		fail("receiver: INFO: %s", errname(ret));
	if ((ret = sg_register(fd, buf, 4096, BIDI, &nh, NULL)) != EPERM)
		fail("receiver: REGISTER: %s, expected EPERM", errname(ret));
	if ((ret = sg_sync(fd, h, 0, 1, true)) != EPERM)
		fail("receiver: SYNC: %s, expected EPERM", errname(ret));
	if ((ret = sg_get_segs(fd, h, 0, &count, &seg)) != EPERM)
		fail("receiver: GET_SEGS: %s, expected EPERM", errname(ret));
	if ((ret = sg_unregister(fd, h)) != EPERM)
		fail("receiver: UNREGISTER: %s, expected EPERM", errname(ret));
}

enum { PASS_CLOSE, PASS_HOLD, PASS_BACK, PASS_ON, PASS_INFLIGHT, NPASS };

static void receiver(int sock, int mode, const uint8_t *buf, uint32_t h)
{
	int fd = recv_fd(sock);

	if (fd < 0) {
		fail("receiver: no descriptor: %s", strerror(errno));
		_exit(1);
	}
	receiver_checks(fd, buf, h);
	switch (mode) {
	case PASS_CLOSE:
		close(fd);
		put_byte(sock, 'c');
		break;
	case PASS_HOLD:
		put_byte(sock, 'h');
		get_byte(sock); /* exit closes it */
		break;
	case PASS_BACK:
		if (send_fd(sock, fd))
			fail("receiver: sending it back: %s", strerror(errno));
		close(fd);
		get_byte(sock);
		break;
	case PASS_ON: {
		/* A child of the receiver inherits it and outlives the receiver. */
		pid_t pid = fork();

		if (pid == 0) {
			get_byte(sock);
			receiver_checks(fd, buf, h);
			_exit(0);
		}
		put_byte(sock, 'o');
		break;
	}
	}
	_exit(0);
}

static void fdpass_round(int mode, uint8_t *buf, struct rng *r)
{
	uint32_t h[4];
	size_t lens[4];
	int nregions = 1 + (int)below(r, 4), sv[2], fd, ret;
	pid_t pid = -1;
	char why[256];

	fd = open_node();
	if (fd < 0) {
		fail("open: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < nregions; i++) {
		lens[i] = 16 * KiB + below(r, 48 * KiB);
		if ((ret = sg_register(fd, buf + i * 64 * KiB, lens[i], BIDI, &h[i], NULL)))
			fail("REGISTER: %s", errname(ret));
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		fail("socketpair: %s", strerror(errno));
		close(fd);
		return;
	}
	if (mode != PASS_INFLIGHT) {
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			receiver(sv[1], mode, buf, h[0]);
		}
		close(sv[1]);
	}
	if (send_fd(sv[0], fd))
		fail("sending the descriptor: %s", strerror(errno));

	switch (mode) {
	case PASS_CLOSE:
		/* The sender goes on using it while the receiver closes its copy. */
		for (int i = 0; i < nregions; i++)
			if ((ret = sg_sync(fd, h[i], 0, 1, true)))
				fail("sender: SYNC: %s", errname(ret));
		get_byte(sv[0]);
		if ((ret = check_tiling(fd, h[0], lens[0], 0, NULL, 0, NULL)))
			fail("sender: GET_SEGS after the receiver closed: %s", errname(ret));
		if ((ret = sg_unregister(fd, h[0])))
			fail("sender: UNREGISTER after the receiver closed: %s", errname(ret));
		close(fd);
		break;
	case PASS_HOLD:
		/* The receiver holds the last reference: the regions live on. */
		close(fd);
		get_byte(sv[0]);
		if (param("regions") != nregions)
			fail("the receiver holds the file, yet %lld regions of %d are left",
			     param("regions"), nregions);
		put_byte(sv[0], 'x');
		break;
	case PASS_BACK: {
		int back = recv_fd(sv[0]);
		uint64_t count = 1;
		struct sgdma_ioc_seg seg;

		close(fd);
		if (back < 0) {
			fail("no descriptor back: %s", strerror(errno));
		} else {
			/* Back in the opener's mm: usable again. */
			if ((ret = sg_get_segs(back, h[0], 0, &count, &seg)))
				fail("GET_SEGS through the returned descriptor: %s", errname(ret));
			if ((ret = sg_unregister(back, h[0])))
				fail("UNREGISTER through the returned descriptor: %s",
				     errname(ret));
			close(back);
		}
		put_byte(sv[0], 'x');
		break;
	}
	case PASS_ON:
		close(fd);
		get_byte(sv[0]);
		put_byte(sv[0], 'x'); /* the grandchild checks and exits */
		break;
	case PASS_INFLIGHT:
		/* Never received: closing the socket drops the file in flight. */
		close(fd);
		break;
	}
	close(sv[0]);
	if (mode == PASS_INFLIGHT)
		close(sv[1]);
	if (pid > 0) {
		int status;

		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("receiver ended with status 0x%x", status);
	}
	/* An orphaned grandchild (PASS_ON) comes back to us: we are its reaper. */
	while (waitpid(-1, NULL, mode == PASS_ON ? 0 : WNOHANG) > 0)
		;
	if (!wait_clean(5, why, sizeof(why)))
		fail("after passing a file (mode %d) and closing every copy: %s", mode, why);
}

void sc_fdpass(void)
{
	uint8_t *buf = map_buffer(256 * KiB, false);
	unsigned long rounds[NPASS] = {0}, n = 0;
	struct rng r;
	double until;

	check_begin("fdpass");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rng_init(&r, 3);
	unloader_start();
	until = deadline(0.9);
	while (now_s() < until && n < 400) {
		int mode = (int)(n++ % NPASS);

		fdpass_round(mode, buf, &r);
		rounds[mode]++;
	}
	unloader_stop();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	unmap_buffer(buf, 256 * KiB);
	check_end("%lu rounds: receiver closes %lu, holds the last reference %lu, sends it "
	          "back %lu, hands it to its child %lu, never received %lu",
	          n, rounds[PASS_CLOSE], rounds[PASS_HOLD], rounds[PASS_BACK], rounds[PASS_ON],
	          rounds[PASS_INFLIGHT]);
}

/* ================================================================ fork */

enum { FORK_CHILD_FIRST, FORK_PARENT_FIRST, FORK_EXEC, FORK_KILL_BOTH, NFORK };

#define FORK_LEN (4 * MiB)

/*
 * The registering process P: registers parts of a buffer of huge and small
 * pages, forks C, which writes its copies and may only query; P's data
 * must stay P's.
 */
static void fork_parent(int mode, int go_fd, int report_fd)
{
	uint8_t *buf = map_mixed(FORK_LEN);
	uint32_t h[3];
	int fd = open(node_path(), O_RDWR); /* inherited across exec on purpose */
	int ready[2], ret, nregions = 0;
	pid_t child;

	fill(buf, FORK_LEN, (uint32_t)mode);
	if (fd < 0 || pipe(ready)) {
		fail("P: open: %s", strerror(errno));
		_exit(1);
	}
	if ((ret = sg_register(fd, buf, 1 * MiB, BIDI, &h[nregions++], NULL)) ||
	    (ret = sg_register(fd, buf + 2 * MiB + 100, MiB - 200, SGDMA_REG_TO_DEVICE,
	                       &h[nregions++], NULL)) ||
	    (ret = sg_register(fd, buf + 1 * MiB, 1 * MiB, SGDMA_REG_FROM_DEVICE, &h[nregions++],
	                       NULL))) {
		if (!register_may_fail(ret))
			fail("P: REGISTER: %s", errname(ret));
		nregions--;
	}
	child = fork();
	if (child == 0) {
		/* C: a copy of everything, a file it may only query. */
		struct sgdma_ioc_info info;

		if ((ret = sg_info(fd, &info)))
			fail("C: INFO: %s", errname(ret));
		if ((ret = sg_register(fd, buf, 4096, BIDI, &h[0], NULL)) != EPERM)
			fail("C: REGISTER: %s, expected EPERM", errname(ret));
		if (nregions && (ret = sg_sync(fd, h[0], 0, 4096, true)) != EPERM)
			fail("C: SYNC: %s, expected EPERM", errname(ret));
		if (nregions && (ret = sg_unregister(fd, h[0])) != EPERM)
			fail("C: UNREGISTER: %s, expected EPERM", errname(ret));
		memset(buf, 0xee, FORK_LEN);
		if (write(ready[1], "w", 1) != 1)
			_exit(1);
		if (mode == FORK_PARENT_FIRST || mode == FORK_KILL_BOTH) {
			char c;

			if (read(go_fd, &c, 1) < 0)
				_exit(1);
		}
		if (mode == FORK_EXEC) {
			execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
			_exit(1);
		}
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		fail("P: the child did not report");
	/* The child's writes went to its copies, never to P's pinned pages. */
	for (size_t i = 0; i < FORK_LEN; i += 4096 - 7) {
		uint8_t want = pattern_at(i, (uint32_t)mode);

		if (buf[i] != want) {
			fail(
			    "P: byte %zu is 0x%02x after the child wrote its copy, expected 0x%02x",
			    i, buf[i], want);
			break;
		}
	}
	for (int i = 0; i < nregions; i++)
		if ((ret = sg_sync(fd, h[i], 0, 4096, true)))
			fail("P: SYNC after fork: %s", errname(ret));
	int report[2] = {nregions, (int)child};
	if (write(report_fd, report, sizeof(report)) != sizeof(report))
		fail("P: report: %s", strerror(errno));
	if (mode == FORK_CHILD_FIRST || mode == FORK_EXEC) {
		waitpid(child, NULL, 0);
		if (nregions && (ret = sg_unregister(fd, h[0])))
			fail("P: UNREGISTER after the child ended: %s", errname(ret));
	}
	if (mode == FORK_KILL_BOTH)
		pause();
	_exit(0); /* the remaining regions go with the last reference to the file */
}

void sc_fork(void)
{
	unsigned long rounds[NFORK] = {0}, n = 0;
	double until;
	char why[256];
	struct rng r;

	check_begin("fork");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rng_init(&r, 4);
	unloader_start();
	until = deadline(0.9);
	while (now_s() < until && n < 300) {
		int mode = (int)(n++ % NFORK), go[2], report[2], got[2] = {-1, -1}, status;
		pid_t p;

		if (pipe(go) || pipe(report)) {
			fail("pipe: %s", strerror(errno));
			break;
		}
		p = fork();
		if (p == 0) {
			close(go[1]);
			close(report[0]);
			fork_parent(mode, go[0], report[1]);
		}
		close(go[0]);
		close(report[1]);
		if (read(report[0], got, sizeof(got)) != sizeof(got))
			fail("P ended before reporting (mode %d)", mode);
		if (mode == FORK_PARENT_FIRST) {
			/* P is gone; C holds the file: its regions stay until C ends. */
			waitpid(p, &status, 0);
			if (param("regions") != got[0])
				fail("P exited, C holds the file: %lld regions left, expected %d",
				     param("regions"), got[0]);
		} else if (mode == FORK_KILL_BOTH) {
			sleep_us(below(&r, 2000));
			kill(p, SIGKILL);
			if (got[1] > 0)
				kill(got[1], SIGKILL);
		}
		close(go[1]); /* C goes on */
		close(report[0]);
		while (waitpid(-1, &status, 0) > 0)
			if (WIFEXITED(status) && WEXITSTATUS(status))
				fail("a process of round %lu (mode %d) exited %d", n, mode,
				     WEXITSTATUS(status));
		if (!wait_clean(5, why, sizeof(why)))
			fail("after round %lu (mode %d), every process gone: %s", n, mode, why);
		rounds[mode]++;
	}
	unloader_stop();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	check_end("%lu rounds: child ends first %lu, parent first %lu, child execs %lu, both "
	          "killed %lu",
	          n, rounds[FORK_CHILD_FIRST], rounds[FORK_PARENT_FIRST], rounds[FORK_EXEC],
	          rounds[FORK_KILL_BOTH]);
}

/* ================================================================ kill */

struct kill_stats {
	unsigned long during, after;
};

/*
 * The child registers @len bytes in one call (or in three threads, a third
 * each), again and again, and tells the parent over @pipe_fd when each
 * registration starts ('r') and ends ('d').
 */
struct kchild {
	int fd, pipe_fd;
	uint8_t *buf;
	size_t len;
};

static void *kill_registrar(void *arg)
{
	struct kchild *k = arg;

	for (;;) {
		uint32_t h;
		int ret;

		if (write(k->pipe_fd, "r", 1) != 1)
			_exit(1);
		ret = sg_register(k->fd, k->buf, k->len, BIDI, &h, NULL);
		if (ret && ret != EINTR && !register_may_fail(ret))
			fail("REGISTER of %zu bytes: %s", k->len, errname(ret));
		if (write(k->pipe_fd, "d", 1) != 1)
			_exit(1);
		if (!ret && (ret = sg_unregister(k->fd, h)))
			fail("UNREGISTER: %s", errname(ret));
	}
	return NULL;
}

static void kill_child(uint8_t *inherited, size_t len, bool threads, int pipe_fd)
{
	uint8_t *buf = inherited;
	struct kchild k[3];
	pthread_t th[3];
	int fd = open_node();

	/* Inherited memory is shared copy-on-write: pinning it copies. */
	if (!buf)
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || buf == MAP_FAILED)
		_exit(1);
	if (!threads) {
		k[0] = (struct kchild){fd, pipe_fd, buf, len};
		kill_registrar(&k[0]);
	}
	for (int i = 0; i < 3; i++) {
		k[i] = (struct kchild){fd, pipe_fd, buf + i * (len / 3 & ~(PAGE_SZ - 1)),
		                       len / 3 & ~(PAGE_SZ - 1)};
		pthread_create(&th[i], NULL, kill_registrar, &k[i]);
	}
	pause();
	_exit(0);
}

void sc_kill(void)
{
	size_t len = is_config("bounce") ? 8 * MiB : 16 * MiB;
	uint8_t *buf = map_buffer(len, false);
	struct kill_stats st = {0};
	double t0, t_reg, t_reap, until;
	unsigned long n = 0;
	uint32_t h;
	int fd, ret;
	char why[256];
	struct rng r;

	check_begin("kill");
	rng_init(&r, 5);
	fd = open_node();
	if (!buf || fd < 0) {
		fail("setup: %s", strerror(errno));
		check_end(NULL);
		return;
	}
	/* How long one registration takes here sets where the kills land. */
	t0 = now_s();
	ret = sg_register(fd, buf, len, BIDI, &h, NULL);
	t_reg = now_s() - t0;
	if (ret)
		fail("REGISTER of %zu bytes: %s", len, errname(ret));
	else if ((ret = sg_unregister(fd, h)))
		fail("UNREGISTER: %s", errname(ret));
	close(fd);
	unloader_start();
	until = deadline(0.9);
	while (now_s() < until && n < 200) {
		bool threads = n % 3 == 2, fresh = n % 2;
		int p[2], status;
		char c = 0, last = 0;
		pid_t pid;

		if (pipe(p)) {
			fail("pipe: %s", strerror(errno));
			break;
		}
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			kill_child(fresh ? NULL : buf, len, threads, p[1]);
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			fail("the child did not start");
		last = c;
		sleep_us(below(&r, (unsigned long)(t_reg * 1.5e6) + 1));
		t0 = now_s();
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		t_reap = now_s();
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		while (read(p[0], &c, 1) == 1)
			last = c;
		close(p[0]);
		if (!WIFSIGNALED(status))
			fail("the child ended with status 0x%x before the kill", status);
		if (last == 'r')
			st.during++;
		else
			st.after++;
		if (!wait_clean(5, why, sizeof(why)))
			fail("after killing registration %lu: %s", n, why);
		if (opt.verbose)
			note("kill %lu: reaped in %.3f s, clean %.3f s later", n, t_reap - t0,
			     now_s() - t_reap);
		n++;
	}
	unloader_stop();
	unmap_buffer(buf, len);
	check_end("%lu kills of %zu MiB registrations (%.0f ms each here): %lu while "
	          "registering, %lu between",
	          n, len / MiB, t_reg * 1e3, st.during, st.after);
}
