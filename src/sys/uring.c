/* SPDX-License-Identifier: MIT */
/*
 * io_uring rings of a context. One registration ring holds the context's
 * sparse fixed-buffer table; every I/O ring (one per queue, and the
 * application's rings attached with zc_ctx_uring_attach) gets the same
 * slots: cloned from the registration ring where the kernel has
 * IORING_REGISTER_CLONE_BUFFERS (no second pin, no second memlock
 * charge), else registered again. Files get the same index in every
 * ring's fixed-file table. Synchronous calls use no ring (src/fixed.c).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "sys/deadline.h"
#include "sys/proc.h"
#include "sys/uring.h"

#if ZC_HAVE_LIBURING
#include <liburing.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define SLOT_WORDS (ZC_MAX_SLOTS / 64)

struct zc_ring {
	struct io_uring ring; /* only ring_fd is set for an attached ring */
	bool external;        /* the application's ring: never exited here */
	struct zc_ring *next;      /* all I/O rings of the context */
	bool files_ok;             /* fixed-file table usable */
	unsigned nr_files;         /* its size: files at higher indices go by fd */
	uint64_t slot_ok[SLOT_WORDS];
};

enum clone_support { CLONE_UNKNOWN, CLONE_YES, CLONE_NO };

struct zc_ringset {
	pthread_mutex_t lock;
	/* the caller's fault injection: "clone" forces the re-register path */
	zc_uring_fault_fn fault;
	void *fault_arg;
	struct io_uring reg_ring; /* holds the table, runs no I/O */
	unsigned features;
	enum clone_support clone;
	struct zc_ring *all;
	uint64_t slot_used[SLOT_WORDS];
	/* emptied in every I/O ring, still pinned by reg_ring until
	 * zc_rings_drop_pin: a revocation that lets a lease go first */
	uint64_t slot_pending[SLOT_WORDS];
	struct iovec slot_iov[ZC_MAX_SLOTS]; /* to re-register without clone */
	int file_fd[ZC_MAX_FIXED_FILES];     /* -1: free */
};

/* Atomic: a queue's owner reads its ring's bits without the ring set's
 * lock while registrations and revocations change them; either value of
 * a changing bit is handled (a missing slot takes the plain path). */
static bool bit_get(const uint64_t *w, unsigned i)
{
	return __atomic_load_n(&w[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1;
}

static void bit_set(uint64_t *w, unsigned i, bool v)
{
	if (v)
		__atomic_fetch_or(&w[i / 64], UINT64_C(1) << (i % 64), __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&w[i / 64], ~(UINT64_C(1) << (i % 64)),
				   __ATOMIC_RELAXED);
}

static bool seccomp_active(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	bool active = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			active = atoi(line + 8) != 0;
	fclose(f);
	return active;
}

/* Turn an io_uring_setup failure into something a user can act on. */
static void explain_setup_error(int err, char *reason, size_t len)
{
	int disabled = 0;

	if (err == -ENOSYS) {
		snprintf(reason, len, "io_uring_setup: %s (kernel without io_uring%s)",
			 strerror(-err), seccomp_active() ? " or a seccomp filter" : "");
	} else if (err == -EPERM &&
		   !zc_proc_read_int("/proc/sys/kernel/io_uring_disabled", &disabled) &&
		   disabled == 2) {
		snprintf(reason, len, "io_uring disabled by kernel.io_uring_disabled=2");
	} else if (err == -EPERM && disabled == 1) {
		snprintf(reason, len, "io_uring restricted by kernel.io_uring_disabled=1 "
			 "and this process is not in kernel.io_uring_group");
	} else if (err == -EPERM && seccomp_active()) {
		snprintf(reason, len, "io_uring_setup: %s (blocked by a seccomp filter)",
			 strerror(-err));
	} else {
		snprintf(reason, len, "io_uring_setup: %s", strerror(-err));
	}
}

static int ring_setup(struct io_uring *ring, unsigned depth, unsigned *features)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	/* completions are reaped by the submitting thread: no IPI needed;
	 * TASKRUN_FLAG says in the SQ ring when completions wait for us to
	 * enter the kernel, so a non-blocking zc_reap knows to */
	p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	ret = io_uring_queue_init_params(depth, ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(depth, ring, &p);
	}
	if (!ret && features)
		*features = p.features;
	return ret;
}

int zc_rings_init(struct zc_ringset **out, zc_uring_fault_fn fault,
		  void *fault_arg, char *reason, size_t len)
{
	struct zc_ringset *rs;
	int ret;

	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	ret = fault ? fault(fault_arg, "ring_setup") : 0;
	if (!ret)
		ret = ring_setup(&rs->reg_ring, 1, &rs->features);
	if (ret) {
		explain_setup_error(ret, reason, len);
		free(rs);
		return ret;
	}
	ret = io_uring_register_buffers_sparse(&rs->reg_ring, ZC_MAX_SLOTS);
	if (ret) {
		snprintf(reason, len, "io_uring sparse buffer table: %s",
			 strerror(-ret));
		io_uring_queue_exit(&rs->reg_ring);
		free(rs);
		return ret;
	}
	for (unsigned i = 0; i < ZC_MAX_FIXED_FILES; i++)
		rs->file_fd[i] = -1;
	rs->fault = fault;
	rs->fault_arg = fault_arg;
	pthread_mutex_init(&rs->lock, NULL);
	snprintf(reason, len, "io_uring available (features 0x%x)", rs->features);
	*out = rs;
	return 0;
}

void zc_rings_fini(struct zc_ringset *rs)
{

	if (!rs)
		return;
	io_uring_queue_exit(&rs->reg_ring);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}

static int clone_slots(struct zc_ringset *rs, struct zc_ring *r, unsigned off,
		       unsigned nr, bool replace)
{
	int ret = rs->fault ? rs->fault(rs->fault_arg, "clone") : 0;
	struct zc_clone_buffers arg = {
		.src_fd = (uint32_t)rs->reg_ring.ring_fd,
		.flags = replace ? ZC_IORING_REGISTER_DST_REPLACE : 0,
		.src_off = off, .dst_off = off, .nr = nr,
	};
	if (ret)
		return ret;
	ret = (int)syscall(__NR_io_uring_register, r->ring.ring_fd,
			   ZC_IORING_REGISTER_CLONE_BUFFERS, &arg, 1);
	return ret < 0 ? -errno : 0;
}

static void clear_slots(struct zc_ringset *rs, struct io_uring *ring,
			unsigned first, unsigned n)
{
	struct iovec empty = { 0 };

	for (unsigned i = first; i < first + n; i++)
		io_uring_register_buffers_update_tag(ring, i, &empty, NULL, 1);
	(void)rs;
}

/* Give new ring r the whole table by cloning it; false if the kernel
 * cannot. Slots that only await their unpin stay empty in r. */
static bool clone_whole_table(struct zc_ringset *rs, struct zc_ring *r)
{
	if (rs->clone == CLONE_NO || clone_slots(rs, r, 0, 0, false))
		return false;
	rs->clone = CLONE_YES;
	for (unsigned w = 0; w < SLOT_WORDS; w++) {
		r->slot_ok[w] = rs->slot_used[w] & ~rs->slot_pending[w];
		for (unsigned b = 0; rs->slot_pending[w] && b < 64; b++)
			if (rs->slot_pending[w] >> b & 1)
				clear_slots(rs, &r->ring, w * 64 + b, 1);
	}
	return true;
}

/* Give ring r slots [first, first+n) as they are in the table now. */
static void ring_load_slots(struct zc_ringset *rs, struct zc_ring *r,
			    unsigned first, unsigned n, bool replace)
{
	if (rs->clone != CLONE_NO) {
		int ret = clone_slots(rs, r, first, n, replace);

		if (!ret) {
			rs->clone = CLONE_YES;
			for (unsigned i = first; i < first + n; i++)
				bit_set(r->slot_ok, i, bit_get(rs->slot_used, i));
			return;
		}
		/* unknown opcode or no offset/replace support: re-register */
		if (ret == -EINVAL || ret == -EOPNOTSUPP)
			rs->clone = CLONE_NO;
	}
	for (unsigned i = first; i < first + n; i++) {
		if (!bit_get(rs->slot_used, i))
			continue;
		bit_set(r->slot_ok, i,
			io_uring_register_buffers_update_tag(&r->ring, i,
				&rs->slot_iov[i], NULL, 1) == 1);
	}
}

/*
 * A sparse fixed-file table for ring, as large as the process's soft
 * RLIMIT_NOFILE allows; returns its size, 0 if it has none. The kernel
 * refuses a table larger than that limit, and liburing 2.3's
 * io_uring_register_files_sparse() then raises the limit for the whole
 * process (312 became 1336), which is not a library's to change: register
 * it directly, and let the files whose index does not fit go by fd.
 */
static unsigned register_file_table(struct io_uring *ring)
{
	struct io_uring_rsrc_register reg = {
		.flags = IORING_RSRC_REGISTER_SPARSE,
		.nr = ZC_MAX_FIXED_FILES,
	};
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < reg.nr)
		reg.nr = (unsigned)rl.rlim_cur;
	if (!reg.nr || syscall(__NR_io_uring_register, ring->ring_fd,
			       IORING_REGISTER_FILES2, &reg, sizeof(reg)) < 0)
		return 0;
	return reg.nr;
}

/* does ring's fixed-file table have index idx? */
static bool ring_has_file_index(const struct zc_ring *r, int idx)
{
	return r->files_ok && idx >= 0 && (unsigned)idx < r->nr_files;
}

struct zc_ring *zc_ring_new(struct zc_ringset *rs, unsigned depth,
			    bool *no_table)
{
	struct zc_ring *r;
	bool have_slots = false;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (ring_setup(&r->ring, depth, NULL)) {
		free(r);
		return NULL;
	}
	r->nr_files = register_file_table(&r->ring);
	r->files_ok = r->nr_files > 0;
	pthread_mutex_lock(&rs->lock);
	for (unsigned i = 0; i < r->nr_files && r->files_ok; i++)
		if (rs->file_fd[i] >= 0 &&
		    io_uring_register_files_update(&r->ring, i, &rs->file_fd[i], 1) != 1)
			r->files_ok = false;
	for (unsigned w = 0; w < SLOT_WORDS && !have_slots; w++)
		have_slots = rs->slot_used[w] != 0;
	/* a whole-table clone needs no table in the new ring */
	if (!clone_whole_table(rs, r)) {
		*no_table = io_uring_register_buffers_sparse(&r->ring,
							     ZC_MAX_SLOTS) != 0;
		if (!*no_table && have_slots)
			ring_load_slots(rs, r, 0, ZC_MAX_SLOTS, true);
	}
	r->next = rs->all;
	rs->all = r;
	pthread_mutex_unlock(&rs->lock);
	return r;
}

void zc_ring_free(struct zc_ringset *rs, struct zc_ring *ring)
{

	pthread_mutex_lock(&rs->lock);
	for (struct zc_ring **p = &rs->all; *p; p = &(*p)->next) {
		if (*p == ring) {
			*p = ring->next;
			break;
		}
	}
	pthread_mutex_unlock(&rs->lock);
	if (!ring->external)
		io_uring_queue_exit(&ring->ring);
	free(ring);
}

int zc_rings_attach(struct zc_ringset *rs, int ring_fd)
{
	struct zc_ring *r;
	int ret = 0;

	if (!rs)
		return -ENOSYS;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->external = true;
	r->ring.ring_fd = r->ring.enter_ring_fd = ring_fd;
	pthread_mutex_lock(&rs->lock);
	for (struct zc_ring *o = rs->all; o; o = o->next)
		if (o->external && o->ring.ring_fd == ring_fd)
			ret = -EEXIST;
	if (!ret) {
		/* drop whatever table the ring had, then take ours */
		io_uring_unregister_buffers(&r->ring);
		if (!clone_whole_table(rs, r)) {
			ret = io_uring_register_buffers_sparse(&r->ring, ZC_MAX_SLOTS);
			if (!ret)
				ring_load_slots(rs, r, 0, ZC_MAX_SLOTS, true);
		}
	}
	if (!ret) {
		r->next = rs->all;
		rs->all = r;
	}
	pthread_mutex_unlock(&rs->lock);
	if (ret)
		free(r);
	return ret;
}

int zc_rings_detach(struct zc_ringset *rs, int ring_fd)
{
	struct zc_ring *found = NULL;

	if (!rs)
		return -ENOSYS;
	pthread_mutex_lock(&rs->lock);
	for (struct zc_ring **p = &rs->all; *p; p = &(*p)->next) {
		if ((*p)->external && (*p)->ring.ring_fd == ring_fd) {
			found = *p;
			*p = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&rs->lock);
	if (!found)
		return -ENOENT;
	/* the application's ring must not keep our pins alive */
	io_uring_unregister_buffers(&found->ring);
	free(found);
	return 0;
}

bool zc_rings_slot_live(struct zc_ringset *rs, int slot)
{
	bool live;

	if (!rs || slot < 0)
		return false;
	pthread_mutex_lock(&rs->lock);
	live = rs->slot_iov[slot].iov_base != NULL;
	pthread_mutex_unlock(&rs->lock);
	return live;
}

bool zc_ring_has_slot(const struct zc_ring *ring, int slot)
{
	return slot >= 0 && bit_get(ring->slot_ok, (unsigned)slot);
}

/* first fit of n consecutive free slots, or -ENOSPC */
static int find_slots(const struct zc_ringset *rs, unsigned n)
{
	unsigned run = 0;

	for (unsigned i = 0; i < ZC_MAX_SLOTS; i++) {
		run = bit_get(rs->slot_used, i) ? 0 : run + 1;
		if (run == n)
			return (int)(i + 1 - n);
	}
	return -ENOSPC;
}

int zc_rings_add_buffer(struct zc_ringset *rs, void *addr, size_t len,
			int *slot_first, unsigned *slot_count)
{
	unsigned n = (unsigned)((len + ZC_MAX_SLOT_BYTES - 1) / ZC_MAX_SLOT_BYTES);
	int first, ret;

	if (!rs)
		return -ENOSYS;
	if (len > (size_t)ZC_MAX_SLOTS * ZC_MAX_SLOT_BYTES)
		return -E2BIG;
	pthread_mutex_lock(&rs->lock);
	first = find_slots(rs, n);
	if (first < 0) {
		pthread_mutex_unlock(&rs->lock);
		return first;
	}
	for (unsigned i = 0; i < n; i++) {
		size_t off = (size_t)i * ZC_MAX_SLOT_BYTES;

		rs->slot_iov[first + i] = (struct iovec){
			.iov_base = (char *)addr + off,
			.iov_len = len - off < ZC_MAX_SLOT_BYTES ? len - off : ZC_MAX_SLOT_BYTES,
		};
	}
	/* one call: the kernel pins every slot or none */
	ret = io_uring_register_buffers_update_tag(&rs->reg_ring, (unsigned)first,
						   &rs->slot_iov[first], NULL, n);
	if (ret != (int)n) {
		if (ret > 0)
			clear_slots(rs, &rs->reg_ring, (unsigned)first, (unsigned)ret);
		pthread_mutex_unlock(&rs->lock);
		return ret < 0 ? ret : -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++)
		bit_set(rs->slot_used, (unsigned)first + i, true);
	for (struct zc_ring *r = rs->all; r; r = r->next)
		ring_load_slots(rs, r, (unsigned)first, n, true);
	pthread_mutex_unlock(&rs->lock);
	*slot_first = first;
	*slot_count = n;
	return 0;
}

void zc_rings_clear_buffer(struct zc_ringset *rs, int slot_first,
			   unsigned slot_count, bool keep_pin)
{
	unsigned first = (unsigned)slot_first;

	if (!rs || slot_first < 0 || !slot_count)
		return;
	pthread_mutex_lock(&rs->lock);
	for (struct zc_ring *r = rs->all; r; r = r->next) {
		clear_slots(rs, &r->ring, first, slot_count);
		for (unsigned i = first; i < first + slot_count; i++)
			bit_set(r->slot_ok, i, false);
	}
	/* with clone-buffers the I/O rings shared reg_ring's pin: emptying
	 * them took no time, and the pages stay pinned, reachable by no I/O,
	 * until reg_ring lets go too */
	for (unsigned i = first; i < first + slot_count; i++)
		bit_set(rs->slot_pending, i, keep_pin);
	if (!keep_pin)
		clear_slots(rs, &rs->reg_ring, first, slot_count);
	/* reserved but empty: rings made from now on get nothing there */
	for (unsigned i = first; i < first + slot_count; i++)
		rs->slot_iov[i] = (struct iovec){ 0 };
	pthread_mutex_unlock(&rs->lock);
}

void zc_rings_drop_pin(struct zc_ringset *rs, int slot_first, unsigned slot_count)
{
	unsigned first = (unsigned)slot_first;

	if (!rs || slot_first < 0 || !slot_count)
		return;
	pthread_mutex_lock(&rs->lock);
	for (unsigned i = first; i < first + slot_count; i++) {
		if (bit_get(rs->slot_pending, i))
			clear_slots(rs, &rs->reg_ring, i, 1);
		bit_set(rs->slot_pending, i, false);
	}
	pthread_mutex_unlock(&rs->lock);
}

void zc_rings_del_buffer(struct zc_ringset *rs, int slot_first, unsigned slot_count)
{

	if (!rs || slot_first < 0 || !slot_count)
		return;
	zc_rings_clear_buffer(rs, slot_first, slot_count, false);
	pthread_mutex_lock(&rs->lock);
	for (unsigned i = (unsigned)slot_first; i < (unsigned)slot_first + slot_count; i++)
		bit_set(rs->slot_used, i, false);
	pthread_mutex_unlock(&rs->lock);
}

int zc_rings_add_file(struct zc_ringset *rs, int fd)
{
	int idx = -ENFILE;

	if (!rs)
		return -ENOSYS;
	pthread_mutex_lock(&rs->lock);
	for (unsigned i = 0; i < ZC_MAX_FIXED_FILES; i++) {
		if (rs->file_fd[i] < 0) {
			idx = (int)i;
			break;
		}
	}
	if (idx >= 0) {
		rs->file_fd[idx] = fd;
		for (struct zc_ring *r = rs->all; r; r = r->next)
			if (ring_has_file_index(r, idx) &&
			    io_uring_register_files_update(&r->ring, (unsigned)idx,
							   &fd, 1) != 1)
				r->files_ok = false;
	}
	pthread_mutex_unlock(&rs->lock);
	return idx;
}

void zc_rings_del_file(struct zc_ringset *rs, int idx)
{
	int none = -1;

	if (!rs || idx < 0)
		return;
	pthread_mutex_lock(&rs->lock);
	for (struct zc_ring *r = rs->all; r; r = r->next)
		if (ring_has_file_index(r, idx))
			io_uring_register_files_update(&r->ring, (unsigned)idx,
						       &none, 1);
	rs->file_fd[idx] = -1;
	pthread_mutex_unlock(&rs->lock);
}

int zc_ring_prep(struct zc_ring *ring, const struct zc_ring_file *f, bool write,
		 void *buf, size_t len, uint64_t off, int slot, uint64_t cookie)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
	bool fixed_file = ring_has_file_index(ring, f->fixed_idx);
	int fd = fixed_file ? f->fixed_idx : f->fd;

	if (!sqe)
		return -EBUSY;
	if (slot >= 0 && !write)
		io_uring_prep_read_fixed(sqe, fd, buf, (unsigned)len, off, slot);
	else if (slot >= 0)
		io_uring_prep_write_fixed(sqe, fd, buf, (unsigned)len, off, slot);
	else if (!write)
		io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
	else
		io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
	if (write)
		sqe->rw_flags = f->write_flags; /* at off, also on O_APPEND */
	if (fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, cookie);
	return 0;
}

/*
 * io_uring runs an op that would block (a write that extends a file on
 * ext4, for one) on an io-wq worker thread, which it starts on demand from
 * the submitting thread; the kernel refuses to create a thread while a
 * signal is pending for its creator, and after a few tries io_uring
 * cancels the op with -ECANCELED (every pending op, when the first worker
 * of the thread fails): with a signal every 20 us, in about half of the
 * processes measured. zc_reap resubmits such ops with hold_signals: the
 * thread's signals are blocked for the length of this one call, so the
 * worker can start; they are delivered as soon as the mask is restored,
 * and no disposition changes. First submissions do without, for the cost
 * of two more system calls.
 */
int zc_ring_submit(struct zc_ring *ring, bool hold_signals)
{
	sigset_t all, saved;
	int ret;

	if (hold_signals) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &saved);
	}
	do
		ret = io_uring_submit(&ring->ring);
	while (ret == -EINTR);
	if (hold_signals)
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return ret;
}

/*
 * Wait for min CQEs until deadline (NULL: none). A signal ends one wait;
 * the next is only for the time that is left, so an application's
 * interval timer cannot stretch the caller's timeout without end.
 *
 * A wait that a signal ended is followed by one of at most
 * ZC_HELD_WAIT_NS with the thread's signals blocked by the kernel for its
 * length (io_uring_enter's sigmask), then by a plain one again. An op
 * that needs an io-wq worker the ring has not started yet waits for the
 * kernel to start one from this thread, which it cannot do while a signal
 * is pending: under a dense enough storm (a 50 us timer in an emulated
 * guest) it retries until the storm ends, and nothing completes. Under a
 * storm most of the wait is held, so the worker starts; a handler runs at
 * most one held slice late, and a rare signal costs one short wait more.
 */
#define ZC_HELD_WAIT_NS 500000

static int wait_cqes(struct zc_ring *ring, unsigned min,
		     const struct timespec *deadline)
{
	struct io_uring_cqe *cqe;
	bool hold = false;
	sigset_t all;
	int ret;

	sigfillset(&all);
	for (;;) {
		int64_t left = deadline ? zc_ns_left(deadline) : INT64_MAX;
		int64_t wait = hold && left > ZC_HELD_WAIT_NS ? ZC_HELD_WAIT_NS : left;
		struct __kernel_timespec ts = {
			.tv_sec = wait / 1000000000,
			.tv_nsec = wait % 1000000000,
		};

		/* always entered once, also with no time left: that posts the
		 * completions the kernel holds for this thread */
		ret = io_uring_wait_cqes(&ring->ring, &cqe, min,
					 deadline || hold ? &ts : NULL,
					 hold ? &all : NULL);
		if (ret == -EINTR && deadline && !zc_ns_left(deadline))
			return -ETIME;
		if (ret == -EINTR)
			hold = true;
		else if (ret == -ETIME && wait != left)
			hold = false; /* the held slice is over */
		else
			return ret;
	}
}

int zc_ring_reap(struct zc_ring *ring, unsigned max, unsigned min,
		 const struct timespec *deadline,
		 bool (*fn)(void *arg, uint64_t cookie, int res), void *arg)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0, seen = 0, head;

	if (min) {
		int ret = wait_cqes(ring, min, deadline);

		if (ret && ret != -ETIME && ret != -EAGAIN)
			return ret;
	} else {
		/* non-blocking: with COOP_TASKRUN, completions of I/O that
		 * finished elsewhere are posted only when this thread enters
		 * the kernel; peek does that when the kernel flags it */
		io_uring_peek_cqe(&ring->ring, &cqe);
	}
	io_uring_for_each_cqe(&ring->ring, head, cqe) {
		if (n == max)
			break;
		seen++;
		if (fn(arg, io_uring_cqe_get_data64(cqe), cqe->res))
			n++;
	}
	io_uring_cq_advance(&ring->ring, seen);
	return (int)n;
}

void zc_rings_describe(struct zc_ringset *rs, char *buf, size_t len)
{
	snprintf(buf, len, "features 0x%x, clone-buffers %s", rs->features,
		 rs->clone == CLONE_YES ? "yes" :
		 rs->clone == CLONE_NO ? "no (re-register per ring)" : "not tried yet");
}

#else /* !ZC_HAVE_LIBURING: every caller checks for a ring set first */

int zc_rings_init(struct zc_ringset **out, zc_uring_fault_fn fault,
		  void *fault_arg, char *reason, size_t len)
{
	snprintf(reason, len, "not built: %s", ZC_WHY_NO_LIBURING);
	return -ENOSYS;
}
void zc_rings_fini(struct zc_ringset *rs) { (void)rs; }
int zc_rings_add_buffer(struct zc_ringset *rs, void *addr, size_t len,
			int *slot_first, unsigned *slot_count)
{
	return -ENOSYS;
}
void zc_rings_del_buffer(struct zc_ringset *rs, int slot_first, unsigned slot_count) {}
void zc_rings_clear_buffer(struct zc_ringset *rs, int slot_first, unsigned slot_count,
			   bool keep_pin) {}
void zc_rings_drop_pin(struct zc_ringset *rs, int slot_first, unsigned slot_count) {}
int zc_rings_add_file(struct zc_ringset *rs, int fd) { return -ENOSYS; }
void zc_rings_del_file(struct zc_ringset *rs, int idx) {}
struct zc_ring *zc_ring_new(struct zc_ringset *rs, unsigned depth, bool *no_table)
{
	return NULL;
}
void zc_ring_free(struct zc_ringset *rs, struct zc_ring *ring) {}
int zc_rings_attach(struct zc_ringset *rs, int ring_fd) { return -ENOSYS; }
int zc_rings_detach(struct zc_ringset *rs, int ring_fd) { return -ENOSYS; }
bool zc_rings_slot_live(struct zc_ringset *rs, int slot) { return false; }
bool zc_ring_has_slot(const struct zc_ring *ring, int slot) { return false; }
int zc_ring_prep(struct zc_ring *ring, const struct zc_ring_file *f, bool write,
		 void *buf, size_t len, uint64_t off, int slot, uint64_t cookie)
{
	return -ENOSYS;
}
int zc_ring_submit(struct zc_ring *ring, bool hold_signals) { return -ENOSYS; }
int zc_ring_reap(struct zc_ring *ring, unsigned max, unsigned min,
		 const struct timespec *deadline,
		 bool (*fn)(void *arg, uint64_t cookie, int res), void *arg)
{
	return -ENOSYS;
}
void zc_rings_describe(struct zc_ringset *rs, char *buf, size_t len)
{
	snprintf(buf, len, "not built: %s", ZC_WHY_NO_LIBURING);
}
#endif
