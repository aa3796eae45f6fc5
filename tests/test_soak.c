/* SPDX-License-Identifier: MIT */
/* Soak: for $ZT_SOAK_SECONDS (default 20) seconds, $ZT_SOAK_THREADS
 * (default two per core, at most 16) threads share one context and
 * register, move data and destroy, at random, across four files:
 *   lease   tmpfs, one fd for everyone: MAP_FILE lands on pin_lease, and
 *           forked children open the file at random to break the lease
 *   tmpfs   tmpfs, an fd per thread (reopened now and then): MAP_FILE on
 *           uring_fixed (another open stops the lease), plain on uring_fixed
 *   ext4    buffered, an fd per thread: MAP_FILE on bounce (a copy)
 *   direct  ext4 O_DIRECT, an fd per thread: unaligned I/O through staging
 * with plain registrations forced to uring_fixed, to bounce or left to
 * choose, synchronous and queued I/O, and zc_sync. Every file has a
 * read-only head of a known pattern that everyone reads, and per thread a
 * region only that thread writes, of which it keeps a copy: every byte
 * read is checked against the pattern or the copy, every byte written is
 * read back. The breakers check the head too, and that the library let
 * them in well within fs.lease-break-time.
 *
 * At the end everything is destroyed and the open fds, the mappings,
 * VmPin and the system-wide pin count must be back where they were. The
 * last line says "N passed, N failed". */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RO_LEN (1024 * 1024)      /* read-only head of every file */
#define OWN_LEN (512 * 1024)      /* per thread: [A | B] */
#define A_LEN (OWN_LEN / 2)       /* MAP_FILE target */
#define B_LEN (OWN_LEN / 2)       /* write target, shadowed */
#define BUF_LEN (512 * 1024)      /* per thread memory for plain regs */
#define MAX_THREADS 16
#define MAX_IO (64 * 1024)
#define BREAK_GUARD_MS 15000      /* a breaker must report within this */

enum { F_LEASE, F_TMPFS, F_EXT4, F_DIRECT, F_MAX };
static const char *const fname[F_MAX] = { "lease", "tmpfs", "ext4", "direct" };

struct sfile {
	int present;
	char path[PATH_MAX];
	uint32_t seed;
	int oflags;
};

struct tfile {
	int fd;
	struct zc_file *f;
};

struct worker {
	pthread_t th;
	int id;
	uint64_t rng;
	struct zc_reg *holder;  /* long-lived MAP_FILE of the lease file's A:
				   keeps the lease taken for the breakers */
	uint8_t *buf;           /* plain registrations' memory */
	uint8_t *shadow[F_MAX]; /* what B holds */
	struct tfile tf[F_MAX]; /* F_LEASE: unused, the shared one is used */
};

static struct {
	struct zc_ctx *ctx;
	struct sfile sf[F_MAX];
	struct tfile lease; /* the one open of the lease file */
	int nthreads;
	double deadline;
	_Atomic int stop;
	struct worker w[MAX_THREADS];
	/* counts */
	_Atomic uint64_t passed, failed, reads, writes, queued, syncs, regs, map_regs,
		reopen, bytes, breaks, breaker_fail, ev_revoked, ev_changed, ev_fallback;
	_Atomic uint64_t on[ZC_BACKEND_MAX + 1];     /* plain regs per backend */
	_Atomic uint64_t map_on[ZC_BACKEND_MAX + 1]; /* MAP_FILE regs per backend */
	double max_block_s;
	pthread_mutex_t msg_lock;
	char msgs[4096];
	size_t msgs_used;
	_Atomic unsigned log_errors;
	char log_first[512];
} S;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(struct worker *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return w->rng = x;
}

static uint64_t rnd_in(struct worker *w, uint64_t lo, uint64_t hi) /* [lo, hi] */
{
	return lo + rnd(w) % (hi - lo + 1);
}

static void soak_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void soak_fail(const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	atomic_fetch_add(&S.failed, 1);
	pthread_mutex_lock(&S.msg_lock);
	if (S.msgs_used + strlen(line) + 2 < sizeof S.msgs) {
		S.msgs_used += (size_t)snprintf(S.msgs + S.msgs_used, sizeof S.msgs - S.msgs_used,
						"%s\n", line);
	}
	pthread_mutex_unlock(&S.msg_lock);
}

static void ok(size_t bytes)
{
	atomic_fetch_add(&S.passed, 1);
	atomic_fetch_add(&S.bytes, bytes);
}

static void log_fn(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level != ZC_LOG_ERROR)
		return;
	if (atomic_fetch_add(&S.log_errors, 1) == 0)
		snprintf(S.log_first, sizeof S.log_first, "%s", msg);
}

static uint64_t own_off(int t)
{
	return RO_LEN + (uint64_t)t * OWN_LEN;
}

static uint64_t file_size(void)
{
	return RO_LEN + (uint64_t)S.nthreads * OWN_LEN;
}

static struct zc_file *wfile(struct worker *w, int fi)
{
	return fi == F_LEASE ? S.lease.f : w->tf[fi].f;
}

/* ------------------------------------------------------------------ */
/* checks                                                                */

/* mem holds the file's bytes at [off, off+len): the pattern in the head,
 * the shadow in this thread's B */
static int bytes_right(struct worker *w, int fi, const uint8_t *mem, uint64_t off, size_t len)
{
	const uint64_t b = own_off(w->id) + A_LEN;

	if (off + len <= RO_LEN)
		return zt_verify(mem, len, S.sf[fi].seed, off) == -1;
	if (off >= b && off + len <= b + B_LEN)
		return !memcmp(mem, w->shadow[fi] + (off - b), len);
	return 0;
}

/* a random range of the head or of B; *to_b says which */
static uint64_t pick_range(struct worker *w, size_t *len, int *to_b, size_t max)
{
	*len = (size_t)rnd_in(w, 1, max);
	*to_b = rnd(w) & 1;
	if (*to_b) {
		if (*len > B_LEN)
			*len = B_LEN;
		return own_off(w->id) + A_LEN + rnd_in(w, 0, B_LEN - *len);
	}
	return rnd_in(w, 0, RO_LEN - *len);
}

/* ------------------------------------------------------------------ */
/* plain registrations                                                  */

static void do_read(struct worker *w, int fi, struct zc_reg *r, uint8_t *mem, size_t mem_len)
{
	size_t len;
	int to_b;
	uint64_t off = pick_range(w, &len, &to_b, MAX_IO < mem_len ? MAX_IO : mem_len);
	size_t at = (size_t)rnd_in(w, 0, mem_len - len);
	ssize_t n;

	n = zc_read(r, at, off, len);
	atomic_fetch_add(&S.reads, 1);
	if (n != (ssize_t)len)
		soak_fail("%s: zc_read(%s) at %llu len %zu: %zd", fname[fi],
		     zc_backend_name(zc_reg_backend(r)), (unsigned long long)off, len, n);
	else if (!bytes_right(w, fi, mem + at, off, len))
		soak_fail("%s: zc_read(%s) at %llu len %zu: wrong bytes", fname[fi],
		     zc_backend_name(zc_reg_backend(r)), (unsigned long long)off, len);
	else
		ok(len);
}

static void do_write(struct worker *w, int fi, struct zc_reg *r, uint8_t *mem, size_t mem_len,
		     int fill)
{
	const uint64_t b = own_off(w->id) + A_LEN;
	size_t len = (size_t)rnd_in(w, 1, MAX_IO < mem_len ? MAX_IO : mem_len);
	uint64_t off = b + rnd_in(w, 0, B_LEN - len);
	size_t at = (size_t)rnd_in(w, 0, mem_len - len);
	ssize_t n;

	if (fill)
		zt_fill(mem + at, len, (uint32_t)rnd(w), 0);
	n = zc_write(r, at, off, len);
	atomic_fetch_add(&S.writes, 1);
	if (n != (ssize_t)len) {
		soak_fail("%s: zc_write(%s) at %llu len %zu: %zd", fname[fi],
		     zc_backend_name(zc_reg_backend(r)), (unsigned long long)off, len, n);
		return;
	}
	memcpy(w->shadow[fi] + (off - b), mem + at, len);
	ok(len);
}

/* up to 4 queued ops: reads of the head and of B, or writes to disjoint
 * parts of B (never both in one batch: their order is not defined).
 * Returns 1 when the queue is in an unknown state and must be remade. */
static int do_batch(struct worker *w, int fi, struct zc_queue *q, struct zc_reg *r,
		     uint8_t *mem, size_t mem_len)
{
	const uint64_t b = own_off(w->id) + A_LEN;
	struct {
		uint64_t off;
		size_t at, len;
	} op[4];
	struct zc_completion c[4];
	int n = (int)rnd_in(w, 1, 4), writes = rnd(w) & 1, got = 0, rc;
	size_t slice = mem_len / 4, bslice = B_LEN / 4;

	for (int i = 0; i < n; i++) {
		int to_b;

		op[i].len = (size_t)rnd_in(w, 1, slice < MAX_IO ? slice : MAX_IO);
		op[i].at = (size_t)i * slice + (size_t)rnd_in(w, 0, slice - op[i].len);
		if (writes) {
			if (op[i].len > bslice)
				op[i].len = bslice;
			op[i].off = b + (uint64_t)i * bslice + rnd_in(w, 0, bslice - op[i].len);
			zt_fill(mem + op[i].at, op[i].len, (uint32_t)rnd(w), 0);
			rc = zc_prep_write(q, r, op[i].at, op[i].off, op[i].len, (uint64_t)i);
		} else {
			size_t l;

			op[i].off = pick_range(w, &l, &to_b, op[i].len);
			op[i].len = l;
			rc = zc_prep_read(q, r, op[i].at, op[i].off, op[i].len, (uint64_t)i);
		}
		if (rc) {
			soak_fail("%s: zc_prep_%s(%s): %d", fname[fi], writes ? "write" : "read",
			     zc_backend_name(zc_reg_backend(r)), rc);
			n = i;
			break;
		}
	}
	if (!n)
		return 0;
	rc = zc_submit(q);
	if (rc != n) {
		soak_fail("%s: zc_submit: %d of %d", fname[fi], rc, n);
		return 1;
	}
	while (got < n) {
		int k = zc_reap(q, c + got, (unsigned)(n - got), 1, 10000);

		if (k <= 0) {
			soak_fail("%s: zc_reap: %d with %d of %d ops out", fname[fi], k, n - got, n);
			return 1;
		}
		got += k;
	}
	atomic_fetch_add(&S.queued, (uint64_t)n);
	for (int j = 0; j < n; j++) {
		unsigned i = (unsigned)c[j].user_data;

		if (i >= (unsigned)n || c[j].res != (int64_t)op[i].len) {
			soak_fail("%s: queued %s(%s) op %u: res %lld, expected %zu", fname[fi],
			     writes ? "write" : "read", zc_backend_name(zc_reg_backend(r)), i,
			     (long long)c[j].res, i < (unsigned)n ? op[i].len : 0);
			continue;
		}
		if (writes) {
			memcpy(w->shadow[fi] + (op[i].off - b), mem + op[i].at, op[i].len);
			ok(op[i].len);
		} else if (!bytes_right(w, fi, mem + op[i].at, op[i].off, op[i].len)) {
			soak_fail("%s: queued read(%s) at %llu len %zu: wrong bytes", fname[fi],
			     zc_backend_name(zc_reg_backend(r)), (unsigned long long)op[i].off,
			     op[i].len);
		} else {
			ok(op[i].len);
		}
	}
	return 0;
}

static void plain_cycle(struct worker *w)
{
	static const uint64_t choice[3] = { 0, ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED),
					    ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE) };
	int fi = (int)rnd_in(w, 0, F_MAX - 1);
	uint64_t be = choice[rnd_in(w, 0, 2)];
	size_t at = (size_t)rnd_in(w, 0, 8191);
	size_t len = BUF_LEN - at - (size_t)rnd_in(w, 0, 8191);
	struct zc_queue *q = NULL;
	struct zc_reg *r;
	int rc, ops;

	if (!S.sf[fi].present || !wfile(w, fi))
		return;
	if (be == ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED) && !zt_uring_expected())
		be = 0;
	rc = zt_reg_mem(wfile(w, fi), w->buf + at, len, 0, 0, be, &r);
	if (rc) {
		soak_fail("%s: plain zc_reg_create (backends 0x%llx): %d", fname[fi],
		     (unsigned long long)be, rc);
		return;
	}
	atomic_fetch_add(&S.regs, 1);
	atomic_fetch_add(&S.on[zc_reg_backend(r)], 1);
	ops = (int)rnd_in(w, 1, 8);
	for (int i = 0; i < ops; i++) {
		switch (rnd_in(w, 0, 3)) {
		case 0:
			do_read(w, fi, r, w->buf + at, len);
			break;
		case 1:
			do_write(w, fi, r, w->buf + at, len, 1);
			break;
		default:
			if (!q && (rc = zc_queue_create(S.ctx, 4, 0, &q))) {
				soak_fail("zc_queue_create: %d", rc);
				q = NULL;
				break;
			}
			if (do_batch(w, fi, q, r, w->buf + at, len)) {
				zc_queue_destroy(q);
				q = NULL;
			}
			break;
		}
	}
	if (q)
		zc_queue_destroy(q);
	rc = zc_reg_destroy(r);
	if (rc)
		soak_fail("%s: zc_reg_destroy: %d", fname[fi], rc);
}

/* ------------------------------------------------------------------ */
/* MAP_FILE registrations of the thread's A                              */

static void map_cycle(struct worker *w)
{
	static const int files[] = { F_LEASE, F_LEASE, F_TMPFS, F_EXT4, F_DIRECT };
	int fi = files[rnd_in(w, 0, ZT_ARRAY_SIZE(files) - 1)];
	uint64_t skip = rnd_in(w, 0, 5000);
	size_t len = A_LEN - (size_t)skip - (size_t)rnd_in(w, 0, 5000);
	struct zc_reg *r;
	uint8_t *mem;
	int rc, ops;

	if (!S.sf[fi].present || !wfile(w, fi))
		return;
	rc = zt_reg_map_file(wfile(w, fi), own_off(w->id) + skip, len, 0, 0, &r);
	if (rc) {
		soak_fail("%s: MAP_FILE zc_reg_create: %d", fname[fi], rc);
		return;
	}
	atomic_fetch_add(&S.map_regs, 1);
	atomic_fetch_add(&S.map_on[zc_reg_backend(r)], 1);
	mem = zc_reg_addr(r);
	ops = (int)rnd_in(w, 1, 10);
	for (int i = 0; i < ops; i++) {
		switch (rnd_in(w, 0, 4)) {
		case 0:
		case 1:
			/* memory = file bytes of the head or of B: never stored
			 * into directly (a lease break copies it meanwhile) */
			do_read(w, fi, r, mem, len);
			break;
		case 2:
		case 3:
			do_write(w, fi, r, mem, len, 0);
			break;
		default:
			rc = zc_sync(r, (size_t)rnd_in(w, 0, len - 1), 0);
			atomic_fetch_add(&S.syncs, 1);
			if (rc)
				soak_fail("%s: zc_sync(%s): %d", fname[fi], zc_backend_name(zc_reg_backend(r)),
				     rc);
			else
				ok(0);
			break;
		}
	}
	rc = zc_reg_destroy(r);
	if (rc)
		soak_fail("%s: MAP_FILE zc_reg_destroy: %d", fname[fi], rc);
}

/* ------------------------------------------------------------------ */
/* per-thread files                                                      */

static int tfile_open(struct worker *w, int fi)
{
	struct tfile *t = &w->tf[fi];
	int rc;

	t->fd = open(S.sf[fi].path, S.sf[fi].oflags | O_CLOEXEC);
	if (t->fd < 0) {
		soak_fail("%s: open: %s", fname[fi], strerror(errno));
		return -1;
	}
	rc = zc_file_open(S.ctx, t->fd, 0, &t->f);
	if (rc) {
		soak_fail("%s: zc_file_open: %d", fname[fi], rc);
		close(t->fd);
		t->fd = -1;
		t->f = NULL;
		return -1;
	}
	return 0;
}

static void tfile_close(struct worker *w, int fi)
{
	struct tfile *t = &w->tf[fi];

	if (!t->f)
		return;
	zc_file_close(t->f);
	close(t->fd);
	t->f = NULL;
	t->fd = -1;
}

/* the holder: made again when a break moved it to bounce or at random;
 * between cycles a read or a write through it */
static void holder_step(struct worker *w)
{
	int rc;

	if (!S.sf[F_LEASE].present)
		return;
	if (w->holder && (zc_reg_backend(w->holder) != ZC_BACKEND_PIN_LEASE ||
			  rnd_in(w, 0, 99) == 0)) {
		rc = zc_reg_destroy(w->holder);
		if (rc)
			soak_fail("lease: holder zc_reg_destroy: %d", rc);
		w->holder = NULL;
	}
	if (!w->holder) {
		rc = zt_reg_map_file(S.lease.f, own_off(w->id), A_LEN, 0, 0, &w->holder);
		if (rc) {
			soak_fail("lease: holder zc_reg_create: %d", rc);
			w->holder = NULL;
			return;
		}
		atomic_fetch_add(&S.map_regs, 1);
		atomic_fetch_add(&S.map_on[zc_reg_backend(w->holder)], 1);
	}
	if (rnd(w) & 1)
		do_read(w, F_LEASE, w->holder, zc_reg_addr(w->holder), A_LEN);
	else
		do_write(w, F_LEASE, w->holder, zc_reg_addr(w->holder), A_LEN, 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int fi = F_TMPFS; fi < F_MAX; fi++)
		if (S.sf[fi].present)
			tfile_open(w, fi);
	while (!atomic_load(&S.stop) && now_s() < S.deadline) {
		uint64_t k = rnd_in(w, 0, 19);

		holder_step(w);
		if (k < 10) {
			plain_cycle(w);
		} else if (k < 19) {
			map_cycle(w);
		} else {
			/* a new fd and zc_file for one of the thread's files */
			int fi = (int)rnd_in(w, F_TMPFS, F_MAX - 1);

			if (S.sf[fi].present) {
				tfile_close(w, fi);
				tfile_open(w, fi);
				atomic_fetch_add(&S.reopen, 1);
			}
		}
	}
	if (w->holder) {
		int rc = zc_reg_destroy(w->holder);

		if (rc)
			soak_fail("lease: holder zc_reg_destroy: %d", rc);
		w->holder = NULL;
	}
	for (int fi = F_TMPFS; fi < F_MAX; fi++)
		tfile_close(w, fi);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* lease breakers                                                        */

struct brk_report {
	double blocked_s;
	int err;
	int bad; /* the head did not hold the pattern */
};

static void breaker_child(int wfd, int writable)
{
	static uint8_t buf[65536];
	struct brk_report rep = { 0, 0, 0 };
	double t0 = now_s();
	int fd = open(S.sf[F_LEASE].path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	rep.blocked_s = now_s() - t0;
	if (fd < 0) {
		rep.err = errno;
	} else {
		uint64_t off = (uint64_t)(t0 * 1e6) % (RO_LEN - sizeof buf);
		ssize_t n = zt_pread_full(fd, buf, sizeof buf, off);

		if (n != (ssize_t)sizeof buf || zt_verify(buf, sizeof buf, S.sf[F_LEASE].seed, off) != -1)
			rep.bad = 1;
		close(fd);
	}
	if (write(wfd, &rep, sizeof rep) != (ssize_t)sizeof rep)
		_exit(3);
	_exit(0);
}

static void *breaker_main(void *arg)
{
	struct worker rw = { .rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() };

	(void)arg;
	while (!atomic_load(&S.stop) && now_s() < S.deadline) {
		struct brk_report rep;
		struct pollfd pfd;
		int p[2], st;
		pid_t pid;

		usleep((useconds_t)rnd_in(&rw, 100000, 400000));
		if (atomic_load(&S.stop) || now_s() >= S.deadline)
			break;
		if (pipe2(p, O_CLOEXEC)) {
			soak_fail("breaker: pipe: %s", strerror(errno));
			break;
		}
		pid = fork();
		if (pid < 0) {
			soak_fail("breaker: fork: %s", strerror(errno));
			close(p[0]);
			close(p[1]);
			break;
		}
		if (pid == 0) {
			close(p[0]);
			breaker_child(p[1], (int)(rnd(&rw) & 1));
		}
		close(p[1]);
		pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
		if (poll(&pfd, 1, BREAK_GUARD_MS) != 1 || read(p[0], &rep, sizeof rep) != sizeof rep) {
			soak_fail("breaker: no report within %d ms: the lease was not released",
			     BREAK_GUARD_MS);
			kill(pid, SIGKILL);
			atomic_fetch_add(&S.breaker_fail, 1);
		} else if (rep.err || rep.bad) {
			soak_fail("breaker: open: %s; head %s", strerror(rep.err),
			     rep.bad ? "WRONG" : "right");
			atomic_fetch_add(&S.breaker_fail, 1);
		} else {
			atomic_fetch_add(&S.breaks, 1);
			if (rep.blocked_s > S.max_block_s)
				S.max_block_s = rep.blocked_s;
			ok(65536);
		}
		close(p[0]);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* one round                                                              */

static void drain_events(void)
{
	struct zc_event ev[64];
	int n;

	while ((n = zc_ctx_events(S.ctx, ev, 64)) > 0)
		for (int i = 0; i < n; i++) {
			if (ev[i].type == ZC_EVENT_REVOKED)
				atomic_fetch_add(&S.ev_revoked, 1);
			else if (ev[i].type == ZC_EVENT_BACKEND_CHANGED)
				atomic_fetch_add(&S.ev_changed, 1);
			else if (ev[i].type == ZC_EVENT_FALLBACK)
				atomic_fetch_add(&S.ev_fallback, 1);
		}
}

/* files, a context, the threads and the breaker for `seconds`; then
 * everything is destroyed */
static void round_run(double seconds, int breakers)
{
	struct zc_ctx_params p;
	pthread_attr_t attr;
	pthread_t brk;
	int rc;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = log_fn;
	p.log_level = ZC_LOG_WARN;
	ck_assert_int_eq(zc_ctx_create(&p, &S.ctx), 0);
	if (S.sf[F_LEASE].present) {
		S.lease.fd = open(S.sf[F_LEASE].path, O_RDWR | O_CLOEXEC);
		ck_assert_int_ge(S.lease.fd, 0);
		ck_assert_int_eq(zc_file_open(S.ctx, S.lease.fd, 0, &S.lease.f), 0);
	}
	atomic_store(&S.stop, 0);
	S.deadline = now_s() + seconds;
	/* small stacks: glibc keeps them all cached between rounds */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < S.nthreads; i++) {
		rc = pthread_create(&S.w[i].th, &attr, worker_main, &S.w[i]);
		ck_assert_int_eq(rc, 0);
	}
	if (breakers) {
		rc = pthread_create(&brk, &attr, breaker_main, NULL);
		ck_assert_int_eq(rc, 0);
	}
	while (now_s() < S.deadline) {
		usleep(50000);
		drain_events();
	}
	for (int i = 0; i < S.nthreads; i++)
		pthread_join(S.w[i].th, NULL);
	if (breakers)
		pthread_join(brk, NULL);
	pthread_attr_destroy(&attr);
	drain_events();
	if (S.lease.f) {
		zc_file_close(S.lease.f);
		ck_assert_int_eq(fcntl(S.lease.fd, F_GETLEASE), F_UNLCK);
		close(S.lease.fd);
		S.lease.f = NULL;
	}
	zc_ctx_destroy(S.ctx);
	S.ctx = NULL;
}

static void files_make(void)
{
	const char *tmp = zt_tmpfs_dir(NULL), *ext4 = zt_ext4_dir(NULL);
	char why[256];
	uint64_t size = file_size();

	if (tmp && zt_pin_lease_expected())
		S.sf[F_LEASE].present = 1;
	S.sf[F_TMPFS].present = tmp != NULL;
	S.sf[F_EXT4].present = ext4 != NULL;
	S.sf[F_DIRECT].present = ext4 && zt_odirect_works(ext4, why, sizeof why);
	for (int fi = 0; fi < F_MAX; fi++) {
		const char *dir = fi <= F_TMPFS ? tmp : ext4;
		int fd;

		if (!S.sf[fi].present)
			continue;
		S.sf[fi].seed = 1000u + (uint32_t)fi;
		S.sf[fi].oflags = O_RDWR | (fi == F_DIRECT ? O_DIRECT : 0);
		fd = zt_make_file(dir, size, S.sf[fi].seed, O_RDONLY, S.sf[fi].path);
		ck_assert_msg(fd >= 0, "file in %s: %s", dir, strerror(-fd));
		close(fd);
	}
	for (int i = 0; i < S.nthreads; i++) {
		struct worker *w = &S.w[i];

		w->id = i;
		w->rng = 0x2545F4914F6CDD1Dull * (uint64_t)(i + 1) ^ (uint64_t)time(NULL);
		for (int fi = 0; fi < F_MAX; fi++) {
			w->tf[fi].fd = -1;
			if (!S.sf[fi].present)
				continue;
			w->shadow[fi] = malloc(B_LEN);
			ck_assert_ptr_nonnull(w->shadow[fi]);
			zt_fill(w->shadow[fi], B_LEN, S.sf[fi].seed, own_off(i) + A_LEN);
		}
		w->buf = zt_map_anon(BUF_LEN);
		ck_assert_ptr_nonnull(w->buf);
	}
}

/* what the files hold at the end: the head and every B as checked */
static void files_check(void)
{
	for (int fi = 0; fi < F_MAX; fi++) {
		ssize_t bad;

		if (!S.sf[fi].present)
			continue;
		bad = zt_verify_file(S.sf[fi].path, 0, RO_LEN, S.sf[fi].seed);
		ck_assert_msg(bad == -1, "%s: the read-only head changed at %zd", fname[fi], bad);
		for (int i = 0; i < S.nthreads; i++) {
			uint8_t *buf = malloc(B_LEN);
			int fd = open(S.sf[fi].path, O_RDONLY | O_CLOEXEC);

			ck_assert(buf && fd >= 0);
			ck_assert_int_eq(zt_pread_full(fd, buf, B_LEN, own_off(i) + A_LEN), B_LEN);
			ck_assert_msg(!memcmp(buf, S.w[i].shadow[fi], B_LEN),
				      "%s: thread %d's region does not hold what it wrote", fname[fi], i);
			close(fd);
			free(buf);
		}
	}
}

static void reset_counts(void)
{
	atomic_store(&S.passed, 0);
	atomic_store(&S.failed, 0);
	atomic_store(&S.reads, 0);
	atomic_store(&S.writes, 0);
	atomic_store(&S.queued, 0);
	atomic_store(&S.syncs, 0);
	atomic_store(&S.regs, 0);
	atomic_store(&S.map_regs, 0);
	atomic_store(&S.reopen, 0);
	atomic_store(&S.bytes, 0);
	atomic_store(&S.breaks, 0);
	atomic_store(&S.breaker_fail, 0);
	atomic_store(&S.ev_revoked, 0);
	atomic_store(&S.ev_changed, 0);
	atomic_store(&S.ev_fallback, 0);
	for (int b = 0; b <= ZC_BACKEND_MAX; b++) {
		atomic_store(&S.on[b], 0);
		atomic_store(&S.map_on[b], 0);
	}
	S.msgs_used = 0;
	S.msgs[0] = 0;
	S.max_block_s = 0;
}

START_TEST(test_soak_mixed_register_io_destroy_with_lease_breaks)
{
	long secs = zt_env_long("ZT_SOAK_SECONDS", 20);
	struct zt_res r0;
	char why[512];
	int lbt = -1;

	{
		FILE *f = fopen("/proc/sys/fs/lease-break-time", "re");

		if (f) {
			if (fscanf(f, "%d", &lbt) != 1)
				lbt = -1;
			fclose(f);
		}
	}
	files_make();
	/* a short round first: what glibc keeps after first use (thread
	 * stacks, arenas) and the kernel's first-use state are made then */
	round_run(0.5, S.sf[F_LEASE].present);
	reset_counts();
	for (int i = 0; i < 300 && zt_vm_pin_kb() > 0; i++)
		usleep(10000);
	zt_res_snap(&r0);
	round_run((double)secs, S.sf[F_LEASE].present);
	files_check();
	printf("soak: %ld s, %d threads, files:%s%s%s%s\n", secs, S.nthreads,
	       S.sf[F_LEASE].present ? " lease(tmpfs)" : "", S.sf[F_TMPFS].present ? " tmpfs" : "",
	       S.sf[F_EXT4].present ? " ext4" : "", S.sf[F_DIRECT].present ? " ext4-O_DIRECT" : "");
	printf("soak: ops: %llu reads, %llu writes, %llu queued, %llu syncs; %llu MiB checked; "
	       "%llu fd reopens\n", (unsigned long long)S.reads, (unsigned long long)S.writes,
	       (unsigned long long)S.queued, (unsigned long long)S.syncs,
	       (unsigned long long)(S.bytes >> 20), (unsigned long long)S.reopen);
	printf("soak: registrations: %llu plain (uring_fixed %llu, bounce %llu), %llu MAP_FILE "
	       "(pin_lease %llu, uring_fixed %llu, bounce %llu)\n", (unsigned long long)S.regs,
	       (unsigned long long)S.on[ZC_BACKEND_URING_FIXED],
	       (unsigned long long)S.on[ZC_BACKEND_BOUNCE], (unsigned long long)S.map_regs,
	       (unsigned long long)S.map_on[ZC_BACKEND_PIN_LEASE],
	       (unsigned long long)S.map_on[ZC_BACKEND_URING_FIXED],
	       (unsigned long long)S.map_on[ZC_BACKEND_BOUNCE]);
	printf("soak: lease breaks by forked children: %llu (slowest let in after %.1f ms, "
	       "fs.lease-break-time %d s); events: %llu revoked, %llu backend changed, %llu "
	       "fallback\n", (unsigned long long)S.breaks, S.max_block_s * 1e3, lbt,
	       (unsigned long long)S.ev_revoked, (unsigned long long)S.ev_changed,
	       (unsigned long long)S.ev_fallback);
	printf("soak: %llu passed, %llu failed\n", (unsigned long long)S.passed,
	       (unsigned long long)S.failed);
	if (S.msgs_used)
		printf("soak: failures:\n%s", S.msgs);
	ck_assert_msg(S.failed == 0, "%llu checks failed, first: %.300s",
		      (unsigned long long)S.failed, S.msgs);
	ck_assert_msg(S.passed > 0, "nothing was checked");
	ck_assert_msg(S.log_errors == 0, "%u errors logged, first: %s", S.log_errors, S.log_first);
	/* the soak did what it says */
	ck_assert(S.on[ZC_BACKEND_BOUNCE] > 0 && S.map_regs > 0);
	if (zt_uring_expected())
		ck_assert_msg(S.on[ZC_BACKEND_URING_FIXED] > 0, "no uring_fixed registration");
	if (S.sf[F_LEASE].present && secs >= 3) {
		ck_assert_msg(S.map_on[ZC_BACKEND_PIN_LEASE] > 0, "no pin_lease registration");
		ck_assert_msg(S.breaks > 0, "no lease was broken");
		ck_assert_msg(S.ev_revoked > 0, "no registration was revoked by a break");
		ck_assert_msg(S.max_block_s < (lbt > 0 ? lbt : 45) / 2.0,
			      "a breaker waited %.1f s: the library did not release the lease",
			      S.max_block_s);
	}
	ck_assert_msg(zt_res_check(&r0, 5000, why, sizeof why) == 0, "leak: %s", why);
	for (int i = 0; i < S.nthreads; i++) {
		munmap(S.w[i].buf, BUF_LEN);
		for (int fi = 0; fi < F_MAX; fi++)
			free(S.w[i].shadow[fi]);
	}
	for (int fi = 0; fi < F_MAX; fi++)
		if (S.sf[fi].present)
			unlink(S.sf[fi].path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* lease breaks racing zc_reg_create                                     */

/* A child opens the file again and again, each open breaking the lease,
 * while the parent creates and destroys pin_lease registrations as fast
 * as it can: a break can land at any point of zc_reg_create. Every
 * registration must come back whole (on pin_lease, or moved to bounce by
 * the break, or on uring_fixed when the lease could not be had), hold the
 * file's bytes, read right and be destroyed. */
static int child_race(void *arg)
{
	double secs = *(const double *)arg, end;
	char path[PATH_MAX];
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	uint8_t buf[4096];
	long n = 0, on[ZC_BACKEND_MAX + 1] = { 0 };
	pid_t breaker, parent;
	int fd, rc;

	fd = zt_make_file(zt_tmpfs_dir(NULL), 1 << 20, 77, O_RDWR, path);
	ZT_CREQ(fd >= 0);
	parent = getpid();
	breaker = fork();
	ZT_CREQ(breaker >= 0);
	if (breaker == 0) {
		/* dies with the parent, should the library crash it */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(0);
		for (;;) {
			int b = open(path, O_RDONLY | O_CLOEXEC);

			if (b >= 0)
				close(b);
		}
	}
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	end = now_s() + secs;
	while (now_s() < end) {
		uint8_t *a;

		rc = zt_reg_map_file(f, 4096, 1 << 19, 0, 0, &r);
		ZT_CREQ_MSG(rc == 0, "MAP_FILE registration under lease breaks: %d", rc);
		a = zc_reg_addr(r);
		ZT_CREQ_MSG(zt_verify(a, 1 << 19, 77, 4096) == -1,
			    "registration on %s does not hold the file's bytes",
			    zc_backend_name(zc_reg_backend(r)));
		rc = (int)zc_read(r, 0, 700000, sizeof buf);
		ZT_CREQ_MSG(rc == (int)sizeof buf, "zc_read on %s: %d",
			    zc_backend_name(zc_reg_backend(r)), rc);
		ZT_CREQ(zt_verify(a, sizeof buf, 77, 700000) == -1);
		on[zc_reg_backend(r)]++;
		ZT_CREQ(zc_reg_destroy(r) == 0);
		/* the read wrote into the file range (pin_lease maps the
		 * file): put the bytes back */
		zt_fill(buf, sizeof buf, 77, 4096);
		ZT_CREQ(pwrite(fd, buf, sizeof buf, 4096) == (ssize_t)sizeof buf);
		n++;
	}
	kill(breaker, SIGKILL);
	waitpid(breaker, NULL, 0);
	printf("soak.race: %ld registrations under lease breaks (pin_lease %ld, uring_fixed %ld, "
	       "bounce %ld)\n", n, on[ZC_BACKEND_PIN_LEASE], on[ZC_BACKEND_URING_FIXED],
	       on[ZC_BACKEND_BOUNCE]);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	return 0;
}

START_TEST(test_soak_lease_breaks_racing_registration)
{
	double secs = (double)zt_env_long("ZT_SOAK_RACE_SECONDS", 3);

	if (!zt_tmpfs_dir(NULL) || !zt_pin_lease_expected()) {
		printf("soak.race: no pin_lease here (tmpfs, io_uring, leases): skipped\n");
		return;
	}
	ZT_CK_CHILD_OK(zt_fork_run(child_race, &secs));
}
END_TEST

int main(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long secs = zt_env_long("ZT_SOAK_SECONDS", 20);
	Suite *s;
	TCase *tc;

	zt_init();
	if (!zt_tmpfs_dir(NULL) && !zt_ext4_dir(NULL))
		zt_skip("soak: neither tmpfs nor ext4 here");
	S.nthreads = (int)zt_env_long("ZT_SOAK_THREADS", 2 * (cores > 0 ? cores : 1));
	if (S.nthreads > MAX_THREADS)
		S.nthreads = MAX_THREADS;
	pthread_mutex_init(&S.msg_lock, NULL);
	s = suite_create("soak");
	tc = zt_tcase("soak");
	tcase_set_timeout(tc, (double)secs + 240);
	tcase_add_test(tc, test_soak_lease_breaks_racing_registration);
	tcase_add_test(tc, test_soak_mixed_register_io_destroy_with_lease_breaks);
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
