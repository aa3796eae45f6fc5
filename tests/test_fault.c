/* SPDX-License-Identifier: MIT */
/* ZC_FAULT, one step per run: argv[1] names it as ZC_FAULT does,
 * "<site>:<step>" (bounce:alloc comes as bounce:alloc.staging, an O_DIRECT
 * ext4 file with unaligned I/O, and bounce:alloc.copy, a ZC_REG_MAP_FILE
 * registration of an ext4 file). The steps are those the library calls
 * zc_fault_hit() for:
 *   core:ring_setup core:clone core:statx core:mmap core:complete
 *   uring_fixed:reg uring_fixed:register uring_fixed:io
 *   pin_lease:reg pin_lease:lease pin_lease:register pin_lease:io
 *   bounce:reg bounce:alloc bounce:io
 * Every case runs in a forked child that sets ZC_FAULT before
 * zc_ctx_create and checks, as the step calls for:
 *   - the registration falls back, and zc_reg_attempts names the step's
 *     backend with the injected errno (and a reason that says "injected"
 *     where the library's reason does), or, with ZC_REG_REQUIRE_ZEROCOPY or
 *     only the faulty backend allowed, it fails with the injected errno and
 *     the warning lists that attempt;
 *   - data stays right: writes land in the file byte for byte, reads bring
 *     the file's bytes; an io fault on uring_fixed or pin_lease runs the op
 *     on the plain path (ZC_CQE_F_FALLBACK, one ZC_EVENT_FALLBACK per
 *     registration), an io or alloc fault on bounce fails the op with the
 *     errno and leaves the file as it was;
 *   - with :1 only the first hit fails: the next registration or op works
 *     on the backend it would have had;
 *   - nothing leaks: open fds, /proc/self/maps lines, VmPin and the
 *     system-wide nr_foll_pin_acquired - nr_foll_pin_released come back to
 *     what they were before the context was created, and no lease is held.
 * Cases that need io_uring, file leases, tmpfs, ext4 or O_DIRECT exit 77
 * with the reason when this machine lacks them. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

#define HALF (256 * 1024)         /* MAP_FILE registrations cover [0, HALF) */
#define F_SIZE (2 * HALF + 1000)  /* the file; I/O targets [HALF, F_SIZE) */
#define SEED 23u                  /* the file's first contents */
#define MEM_LEN (1024 * 1024)     /* plain registrations */
#define UNTOUCHED_MAP 130000      /* [UNTOUCHED_MAP, HALF) keeps SEED */
#define NOT_OUT ((struct zc_reg *)(uintptr_t)0x5a5a)

/* file ranges each check uses, disjoint so that the checks compose */
#define PLAIN_RD_OFF (UNTOUCHED_MAP + 5000u) /* read, SEED */
#define PLAIN_WR_OFF (HALF + 77u)         /* write */
#define MAP_WR_OFF (HALF + 60000u)        /* write from the map's memory */
#define ASYNC_RD1_OFF (HALF + 110001u)    /* read, SEED */
#define ASYNC_RD2_OFF (HALF + 150001u)    /* read, SEED */
#define ASYNC_WR_OFF (HALF + 180000u)     /* write */
#define MAP_RD_OFF (HALF + 210000u)       /* read, SEED */

enum {
	NEED_URING = 1 << 0,   /* uring_fixed expected */
	NEED_LEASE = 1 << 1,   /* pin_lease expected */
	NEED_TMPFS = 1 << 2,
	NEED_EXT4 = 1 << 3,
	NEED_DIRECT = 1 << 4,  /* O_DIRECT on the ext4 directory */
	NEED_LIBURING = 1 << 5 /* built with liburing (the fault is hit first) */
};

struct carg {
	const char *err_txt; /* as written in ZC_FAULT */
	int err;             /* positive errno */
	unsigned nth;        /* 0: every hit */
};

static const char *g_step;   /* "uring_fixed:reg"; for bounce:alloc.* the
				site:step part is "bounce:alloc" */
static char g_site_step[64];
static enum zc_backend g_backend; /* the step's backend, NONE for core */
static const char *g_tmpfs, *g_ext4;
static int g_direct_ok;
static struct zt_log g_log;

/* ------------------------------------------------------------------ */
/* small pieces for the children (no Check assertions there)            */

static void set_fault(const struct carg *a)
{
	char v[128];

	if (a->nth)
		snprintf(v, sizeof v, "%s:%s:%u", g_site_step, a->err_txt, a->nth);
	else
		snprintf(v, sizeof v, "%s:%s", g_site_step, a->err_txt);
	ZT_CREQ(setenv("ZC_FAULT", v, 1) == 0);
}

static struct zc_ctx *new_ctx(unsigned flags)
{
	struct zc_ctx_params p;
	struct zc_ctx *ctx = NULL;
	int rc;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_INFO;
	if (flags) {
		p.field_mask |= ZC_CTX_FIELD_FLAGS;
		p.flags = flags;
	}
	rc = zc_ctx_create(&p, &ctx);
	ZT_CREQ_MSG(rc == 0, "zc_ctx_create with ZC_FAULT=%s: %d", getenv("ZC_FAULT"), rc);
	return ctx;
}

struct tfile {
	int fd;
	int direct;
	char path[PATH_MAX];
	struct zc_file *f;
};

/* a new file of F_SIZE bytes of SEED, opened O_RDWR (the only open, as a
 * write lease needs) and made known to ctx */
static void tfile_open(struct tfile *t, struct zc_ctx *ctx, const char *dir, int direct)
{
	int rc;

	memset(t, 0, sizeof *t);
	t->direct = direct;
	t->fd = zt_make_file(dir, F_SIZE, SEED, O_RDWR | (direct ? O_DIRECT : 0), t->path);
	ZT_CREQ_MSG(t->fd >= 0, "file in %s: %s", dir, strerror(-t->fd));
	rc = zc_file_open(ctx, t->fd, 0, &t->f);
	ZT_CREQ_MSG(rc == 0, "zc_file_open: %d", rc);
}

static void tfile_close(struct tfile *t)
{
	int l = fcntl(t->fd, F_GETLEASE);

	zc_file_close(t->f);
	ZT_CREQ_MSG(l == F_UNLCK, "a lease (%d) is still held once every registration is gone", l);
	close(t->fd);
	unlink(t->path);
}

/* the file's [off, off+len) equals want; read on the registered fd (a
 * second open would break a pin_lease lease), or, O_DIRECT, through a
 * new buffered fd */
static void file_eq(const struct tfile *t, uint64_t off, const void *want, size_t len,
		    const char *what)
{
	uint8_t *buf = malloc(len);
	ssize_t n;
	int fd = t->fd;

	ZT_CREQ(buf);
	if (t->direct)
		fd = open(t->path, O_RDONLY | O_CLOEXEC);
	ZT_CREQ(fd >= 0);
	n = zt_pread_full(fd, buf, len, off);
	ZT_CREQ_MSG(n == (ssize_t)len, "%s: pread %zd", what, n);
	for (size_t i = 0; i < len; i++)
		ZT_CREQ_MSG(buf[i] == ((const uint8_t *)want)[i],
			    "%s: file byte %llu is 0x%02x, expected 0x%02x", what,
			    (unsigned long long)(off + i), buf[i], ((const uint8_t *)want)[i]);
	if (fd != t->fd)
		close(fd);
	free(buf);
}

static void file_is_seed(const struct tfile *t, uint64_t off, size_t len, const char *what)
{
	uint8_t *want = malloc(len);

	ZT_CREQ(want);
	zt_fill(want, len, SEED, off);
	file_eq(t, off, want, len, what);
	free(want);
}

static struct zc_reg *reg_plain(struct zc_file *f, void *mem, size_t len, unsigned flags,
				uint64_t backends, int *rc)
{
	struct zc_reg *r = NOT_OUT;

	*rc = zt_reg_mem(f, mem, len, 0, flags, backends, &r);
	if (*rc)
		ZT_CREQ_MSG(r == NOT_OUT, "failed zc_reg_create wrote *out");
	return *rc ? NULL : r;
}

static struct zc_reg *reg_map(struct zc_file *f, unsigned flags, uint64_t backends, int *rc)
{
	struct zc_reg_params p;
	struct zc_reg *r = NOT_OUT;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_FILE_OFFSET;
	p.length = HALF;
	p.file_offset = 0;
	p.flags = ZC_REG_MAP_FILE | flags;
	if (backends) {
		p.field_mask |= ZC_REG_FIELD_BACKENDS;
		p.backends = backends;
	}
	*rc = zc_reg_create(f, &p, &r);
	if (*rc)
		ZT_CREQ_MSG(r == NOT_OUT, "failed zc_reg_create wrote *out");
	return *rc ? NULL : r;
}

static void want_backend(struct zc_reg *r, enum zc_backend b)
{
	char ab[2048];

	ZT_CREQ_MSG(zc_reg_backend(r) == b, "registration on %s, expected %s: %s",
		    zc_backend_name(zc_reg_backend(r)), zc_backend_name(b),
		    zt_attempts_str(r, ab, sizeof ab));
}

/* the attempt of b has error -err (and, with injected, says so); the last
 * attempt is the backend in use, with 0 */
static void want_attempt(struct zc_reg *r, enum zc_backend b, int err, int injected)
{
	struct zc_attempt a[16], x;
	char ab[2048];
	int n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));

	ZT_CREQ(n >= 1 && n <= (int)ZT_ARRAY_SIZE(a));
	ZT_CREQ_MSG(a[n - 1].error == 0 && a[n - 1].backend == zc_reg_backend(r),
		    "last attempt is not the backend in use: %s", zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ_MSG(zt_find_attempt(r, b, &x), "no %s attempt: %s", zc_backend_name(b),
		    zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ_MSG(x.error == -err, "%s attempt has %d, expected %d: %s", zc_backend_name(b),
		    x.error, -err, zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ_MSG(x.reason[0], "%s attempt without a reason", zc_backend_name(b));
	if (injected)
		ZT_CREQ_MSG(strstr(x.reason, "inject"), "%s attempt's reason does not say the "
			    "failure was injected: \"%s\"", zc_backend_name(b), x.reason);
}

/* a failed zc_reg_create logs its attempts at warn: "  <backend>: <reason>
 * (<strerror>)" */
static void want_logged_attempt(enum zc_backend b, int err, int injected)
{
	char name[40];

	snprintf(name, sizeof name, "  %s: ", zc_backend_name(b));
	ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_WARN, name, strerror(err),
				    injected ? "inject" : NULL, NULL),
		    "no warning lists the %s attempt with %s%s:\n%s", zc_backend_name(b),
		    strerror(err), injected ? " as injected" : "", g_log.text);
}

static struct zc_stats stats(struct zc_ctx *ctx)
{
	struct zc_stats s;

	ZT_CREQ(zc_ctx_stats(ctx, &s, sizeof s) == 0);
	return s;
}

static int take_events(struct zc_ctx *ctx, struct zc_event *ev, unsigned max)
{
	int n = zc_ctx_events(ctx, ev, max);

	ZT_CREQ_MSG(n >= 0, "zc_ctx_events %d", n);
	return n;
}

/* exactly one ZC_EVENT_FALLBACK for r, from and to its backend, error
 * -err, and the event fd readable before and quiet after */
static void want_one_fallback_event(struct zc_ctx *ctx, struct zc_reg *r, int err)
{
	struct zc_event ev[8];
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	int n;

	ZT_CREQ_MSG(poll(&pfd, 1, 0) == 1, "event fd not readable after an io fault");
	n = take_events(ctx, ev, 8);
	ZT_CREQ_MSG(n == 1, "%d events, expected one ZC_EVENT_FALLBACK", n);
	ZT_CREQ_MSG(ev[0].type == ZC_EVENT_FALLBACK, "event type %u", ev[0].type);
	ZT_CREQ(ev[0].reg == r);
	ZT_CREQ_MSG(ev[0].from == zc_reg_backend(r) && ev[0].to == zc_reg_backend(r),
		    "event %s -> %s", zc_backend_name(ev[0].from), zc_backend_name(ev[0].to));
	ZT_CREQ_MSG(ev[0].error == -err, "event error %d, expected %d", ev[0].error, -err);
	ZT_CREQ(poll(&pfd, 1, 0) == 0);
}

static void want_no_events(struct zc_ctx *ctx)
{
	struct zc_event ev[8];
	int n = take_events(ctx, ev, 8);

	ZT_CREQ_MSG(n == 0, "%d unexpected events (first type %u)", n, n ? ev[0].type : 0);
}

/* ------------------------------------------------------------------ */
/* data checks                                                          */

/* plain registration of mem: a read of SEED, a write of new bytes and
 * their read back */
static void io_plain(struct zc_reg *r, uint8_t *mem, const struct tfile *t, uint32_t wseed)
{
	ssize_t n;

	memset(mem, 0xEE, 70000);
	n = zc_read(r, 7, PLAIN_RD_OFF, 60001);
	ZT_CREQ_MSG(n == 60001, "zc_read %zd", n);
	ZT_CREQ_MSG(zt_verify(mem + 7, 60001, SEED, PLAIN_RD_OFF) == -1, "zc_read data");
	zt_fill(mem + 100, 50000, wseed, 0);
	n = zc_write(r, 100, PLAIN_WR_OFF, 50000);
	ZT_CREQ_MSG(n == 50000, "zc_write %zd", n);
	file_eq(t, PLAIN_WR_OFF, mem + 100, 50000, "zc_write");
	memset(mem, 0xEE, 60000);
	n = zc_read(r, 3, PLAIN_WR_OFF, 50000);
	ZT_CREQ_MSG(n == 50000, "zc_read back %zd", n);
	ZT_CREQ_MSG(zt_verify(mem + 3, 50000, wseed, 0) == -1, "zc_read back data");
}

/* MAP_FILE registration of [0, HALF): the memory holds the file, a write
 * from it, a read into it, zc_sync makes the memory the file's */
static void io_map(struct zc_reg *r, const struct tfile *t)
{
	uint8_t *a = zc_reg_addr(r);
	uint8_t *snap = malloc(40000);
	ssize_t n;
	int rc;

	ZT_CREQ(a && snap);
	ZT_CREQ(zc_reg_length(r) == HALF);
	ZT_CREQ_MSG(zt_verify(a + UNTOUCHED_MAP, HALF - UNTOUCHED_MAP, SEED, UNTOUCHED_MAP) == -1,
		    "the memory of a MAP_FILE registration does not hold the file");
	memcpy(snap, a + 1000, 40000);
	n = zc_write(r, 1000, MAP_WR_OFF, 40000);
	ZT_CREQ_MSG(n == 40000, "zc_write %zd", n);
	file_eq(t, MAP_WR_OFF, snap, 40000, "zc_write from MAP_FILE memory");
	n = zc_read(r, 2000, MAP_RD_OFF, 30000);
	ZT_CREQ_MSG(n == 30000, "zc_read %zd", n);
	ZT_CREQ_MSG(zt_verify(a + 2000, 30000, SEED, MAP_RD_OFF) == -1, "zc_read data");
	rc = zc_sync(r, 0, 0);
	ZT_CREQ_MSG(rc == 0, "zc_sync %d", rc);
	file_eq(t, 2000, a + 2000, 30000, "zc_sync");
	free(snap);
}

static int cmp_cqe(const void *x, const void *y)
{
	const struct zc_completion *a = x, *b = y;

	return a->user_data < b->user_data ? -1 : a->user_data > b->user_data;
}

/* Two reads and a write queued (on ext4 buffered they go to the ring,
 * where tmpfs would run them inline); their completions sorted by
 * user_data 1..3 into c. The memory ranges stay below UNTOUCHED_MAP. */
static void complete_three(struct zc_ctx *ctx, struct zc_reg *r, struct zc_completion c[3])
{
	struct zc_queue *q;
	int got = 0;

	ZT_CREQ(zc_queue_create(ctx, 8, 0, &q) == 0);
	ZT_CREQ(zc_prep_read(q, r, 0, ASYNC_RD1_OFF, 30000, 1) == 0);
	ZT_CREQ(zc_prep_read(q, r, 40000, ASYNC_RD2_OFF, 20000, 2) == 0);
	ZT_CREQ(zc_prep_write(q, r, 100000, ASYNC_WR_OFF, 25000, 3) == 0);
	ZT_CREQ(zc_submit(q) == 3);
	while (got < 3) {
		int k = zc_reap(q, c + got, 3 - (unsigned)got, 1, 10000);

		ZT_CREQ_MSG(k >= 1, "zc_reap %d", k);
		got += k;
	}
	zc_queue_destroy(q);
	qsort(c, 3, sizeof c[0], cmp_cqe);
}

/* complete_three with the write's data seeded by wseed: every op right */
static void io_async(struct zc_ctx *ctx, struct zc_reg *r, const struct tfile *t,
		     uint32_t wseed, struct zc_completion c[3])
{
	uint8_t *a = zc_reg_addr(r);

	zt_fill(a + 100000, 25000, wseed, 7);
	complete_three(ctx, r, c);
	ZT_CREQ(c[0].user_data == 1 && c[1].user_data == 2 && c[2].user_data == 3);
	ZT_CREQ_MSG(c[0].res == 30000 && c[1].res == 20000 && c[2].res == 25000,
		    "results %lld %lld %lld", (long long)c[0].res, (long long)c[1].res,
		    (long long)c[2].res);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(c[i].backend == (uint32_t)zc_reg_backend(r), "completion backend %u",
			    c[i].backend);
	ZT_CREQ_MSG(zt_verify(a, 30000, SEED, ASYNC_RD1_OFF) == -1, "async read 1 data");
	ZT_CREQ_MSG(zt_verify(a + 40000, 20000, SEED, ASYNC_RD2_OFF) == -1, "async read 2 data");
	file_eq(t, ASYNC_WR_OFF, a + 100000, 25000, "async write");
}

/* ------------------------------------------------------------------ */
/* setup shared by every case                                           */

/* Run once what the cases do, without ZC_FAULT, so that what glibc keeps
 * after first use (a thread stack, a malloc arena, stdio buffers) is there
 * before the counts are taken. */
static void warm_up(void)
{
	struct zc_ctx *ctx;
	struct tfile t;
	struct zc_completion c[3];
	struct zc_reg *r;
	uint8_t *mem = zt_map_anon(MEM_LEN);
	int rc;

	ZT_CREQ(mem);
	unsetenv("ZC_FAULT");
	ctx = new_ctx(0);
	if (g_tmpfs) {
		tfile_open(&t, ctx, g_tmpfs, 0);
		r = reg_map(t.f, 0, 0, &rc);
		ZT_CREQ_MSG(r, "warm-up MAP_FILE registration: %d", rc);
		io_map(r, &t);
		io_async(ctx, r, &t, 3, c);
		ZT_CREQ(zc_reg_destroy(r) == 0);
		r = reg_plain(t.f, mem, MEM_LEN, 0, 0, &rc);
		ZT_CREQ(r);
		io_plain(r, mem, &t, 4);
		ZT_CREQ(zc_reg_destroy(r) == 0);
		tfile_close(&t);
	}
	if (g_ext4 && g_direct_ok) {
		tfile_open(&t, ctx, g_ext4, 1);
		r = reg_plain(t.f, mem, MEM_LEN, 0, 0, &rc);
		ZT_CREQ(r);
		io_plain(r, mem, &t, 5);
		io_async(ctx, r, &t, 6, c);
		ZT_CREQ(zc_reg_destroy(r) == 0);
		tfile_close(&t);
	}
	zc_ctx_destroy(ctx);
	munmap(mem, MEM_LEN);
	memset(&g_log, 0, sizeof g_log);
}

struct run {
	struct zt_res res0;
	struct zc_ctx *ctx;
	struct tfile t;
	uint8_t *mem;
};

/* warm up, count, set ZC_FAULT, make a context and a file in dir */
static void run_begin(struct run *x, const struct carg *a, const char *dir, int direct,
		      unsigned ctx_flags)
{
	int64_t vm_pin = zt_vm_pin_kb();

	memset(x, 0, sizeof *x);
	warm_up();
	/* the kernel tears a ring down (and unpins its buffers) in a work
	 * item after the last close: let the warm-up's go first */
	for (int i = 0; i < 300 && zt_vm_pin_kb() != vm_pin; i++)
		usleep(10000);
	zt_res_snap(&x->res0);
	set_fault(a);
	x->ctx = new_ctx(ctx_flags);
	ZT_CREQ_MSG(zt_log_has(&g_log, ZC_LOG_WARN, "fault injection active"),
		    "ZC_FAULT not announced:\n%s", g_log.text);
	if (dir)
		tfile_open(&x->t, x->ctx, dir, direct);
	x->mem = zt_map_anon(MEM_LEN);
	ZT_CREQ(x->mem);
}

static void run_end(struct run *x)
{
	if (x->t.f)
		tfile_close(&x->t);
	zc_ctx_destroy(x->ctx);
	munmap(x->mem, MEM_LEN);
	unsetenv("ZC_FAULT");
	ZT_CREQ_NO_LEAK(&x->res0);
}

static void lease_is(const struct tfile *t, int want, const char *when)
{
	int l = fcntl(t->fd, F_GETLEASE);

	ZT_CREQ_MSG(l == want, "%s: F_GETLEASE %d, expected %d", when, l, want);
}

/* a pin_lease attempt that failed gave back F_SETSIG and the lease */
static void lease_gone(const struct tfile *t, const char *when)
{
	lease_is(t, F_UNLCK, when);
	ZT_CREQ_MSG(fcntl(t->fd, F_GETSIG) == 0, "%s: F_GETSIG %d not restored", when,
		    fcntl(t->fd, F_GETSIG));
}

/* ------------------------------------------------------------------ */
/* uring_fixed:reg, uring_fixed:register: plain memory on tmpfs          */

static void uf_fallback_checks(struct run *x, struct zc_reg *r, int err, uint32_t seed)
{
	struct zc_completion c[3];

	want_backend(r, ZC_BACKEND_BOUNCE);
	want_attempt(r, ZC_BACKEND_URING_FIXED, err, 1);
	ZT_CREQ_MSG(zc_reg_buf_index(r, 0, 4096) == -ENODATA, "bounce registration has a slot");
	io_plain(r, x->mem, &x->t, seed);
	io_async(x->ctx, r, &x->t, seed + 1, c);
	/* a registration on a fallback flags every completion */
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(c[i].flags & ZC_CQE_F_FALLBACK, "completion %d flags 0x%x", i,
			    c[i].flags);
}

static int uf_reg_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_stats s;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r, "zc_reg_create with %s: %d (expected a fallback)", getenv("ZC_FAULT"), rc);
	uf_fallback_checks(&x, r, a->err, 31);
	s = stats(x.ctx);
	ZT_CREQ(s.backend[ZC_BACKEND_URING_FIXED].reg_failures == 1);
	ZT_CREQ(s.backend[ZC_BACKEND_URING_FIXED].regs == 0);
	ZT_CREQ(s.backend[ZC_BACKEND_BOUNCE].regs == 1);
	ZT_CREQ(s.fallbacks == 1);
	ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_INFO, "fell back to bounce", "uring_fixed",
				    NULL, NULL), "fallback not logged at info:\n%s", g_log.text);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* every hit: the next registration falls back too */
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	want_backend(r, ZC_BACKEND_BOUNCE);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int uf_reg_require(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_stats s;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, ZC_REG_REQUIRE_ZEROCOPY, 0, &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "REQUIRE_ZEROCOPY with %s: %d, expected %d",
		    getenv("ZC_FAULT"), rc, -a->err);
	want_logged_attempt(ZC_BACKEND_URING_FIXED, a->err, 1);
	s = stats(x.ctx);
	ZT_CREQ(s.backend[ZC_BACKEND_BOUNCE].regs == 0);
	ZT_CREQ(s.backend[ZC_BACKEND_URING_FIXED].reg_failures == 1);
	/* the refusal left nothing behind that stops a plain registration */
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	uf_fallback_checks(&x, r, a->err, 33);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int uf_reg_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r1, *r2;
	struct zc_attempt at[8];
	struct zc_completion c[3];
	uint8_t *mem2;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	mem2 = zt_map_anon(MEM_LEN);
	ZT_CREQ(mem2);
	r1 = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r1);
	uf_fallback_checks(&x, r1, a->err, 35);
	/* the first hit is past: the next registration is zero-copy again */
	r2 = reg_plain(x.t.f, mem2, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r2, "second registration: %d", rc);
	want_backend(r2, ZC_BACKEND_URING_FIXED);
	ZT_CREQ(zc_reg_attempts(r2, at, 8) == 1 && at[0].error == 0);
	ZT_CREQ_MSG(zc_reg_buf_index(r2, 0, 4096) >= 0, "uring_fixed registration has no slot");
	io_plain(r2, mem2, &x.t, 37);
	io_async(x.ctx, r2, &x.t, 38, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(!(c[i].flags & ZC_CQE_F_FALLBACK), "completion %d flags 0x%x", i,
			    c[i].flags);
	ZT_CREQ(stats(x.ctx).fallbacks == 1);
	ZT_CREQ(zc_reg_destroy(r1) == 0);
	ZT_CREQ(zc_reg_destroy(r2) == 0);
	munmap(mem2, MEM_LEN);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* uring_fixed:io (plain memory) and pin_lease:io (MAP_FILE): the op
 * leaves its fixed buffer and runs as plain I/O                         */

static struct zc_reg *io_step_reg(struct run *x, unsigned flags, uint64_t backends)
{
	struct zc_reg *r;
	int rc;

	if (g_backend == ZC_BACKEND_PIN_LEASE)
		r = reg_map(x->t.f, flags, backends, &rc);
	else
		r = reg_plain(x->t.f, x->mem, MEM_LEN, flags, backends, &rc);
	ZT_CREQ_MSG(r, "zc_reg_create with %s: %d", getenv("ZC_FAULT"), rc);
	want_backend(r, g_backend);
	if (g_backend == ZC_BACKEND_PIN_LEASE)
		lease_is(&x->t, F_WRLCK, "pin_lease registration");
	return r;
}

static void io_step_sync(struct run *x, struct zc_reg *r, uint32_t seed)
{
	if (g_backend == ZC_BACKEND_PIN_LEASE)
		io_map(r, &x->t);
	else
		io_plain(r, x->mem, &x->t, seed);
}

static int fixed_io_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	struct zc_stats s0, s1;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = io_step_reg(&x, 0, 0);
	want_no_events(x.ctx);
	s0 = stats(x.ctx);
	/* synchronous calls: right data, one event for the registration */
	io_step_sync(&x, r, 41);
	want_one_fallback_event(x.ctx, r, a->err);
	/* queued ops: each one flagged, no second event */
	io_async(x.ctx, r, &x.t, 42, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(c[i].flags & ZC_CQE_F_FALLBACK, "completion %d flags 0x%x", i,
			    c[i].flags);
	want_no_events(x.ctx);
	s1 = stats(x.ctx);
	ZT_CREQ_MSG(s1.backend[g_backend].ops >= s0.backend[g_backend].ops + 5,
		    "ops %llu -> %llu", (unsigned long long)s0.backend[g_backend].ops,
		    (unsigned long long)s1.backend[g_backend].ops);
	ZT_CREQ(s1.fallbacks == 0); /* the registration itself is not a fallback */
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* the event is per registration: a new one reports again */
	r = io_step_reg(&x, 0, 0);
	io_step_sync(&x, r, 43);
	want_one_fallback_event(x.ctx, r, a->err);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int fixed_io_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = io_step_reg(&x, 0, 0);
	/* the first op (a queued read) takes the plain path, the others not */
	io_async(x.ctx, r, &x.t, 44, c);
	ZT_CREQ_MSG(c[0].flags & ZC_CQE_F_FALLBACK, "first op flags 0x%x", c[0].flags);
	ZT_CREQ_MSG(!(c[1].flags & ZC_CQE_F_FALLBACK) && !(c[2].flags & ZC_CQE_F_FALLBACK),
		    "later ops flags 0x%x 0x%x", c[1].flags, c[2].flags);
	want_one_fallback_event(x.ctx, r, a->err);
	io_step_sync(&x, r, 45);
	want_no_events(x.ctx);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int fixed_io_require(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;

	run_begin(&x, a, g_tmpfs, 0, 0);
	/* an io fault does not touch the registration */
	r = io_step_reg(&x, ZC_REG_REQUIRE_ZEROCOPY,
			ZC_BACKEND_BIT(g_backend));
	io_step_sync(&x, r, 46);
	want_one_fallback_event(x.ctx, r, a->err);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* pin_lease:reg, pin_lease:lease, pin_lease:register and core:mmap:
 * ZC_REG_MAP_FILE of a tmpfs file                                       */

static int map_injected_reason(void)
{
	/* the reason of a failed F_SETLEASE is the kernel's words for the
	 * errno; the other steps say that the failure was injected */
	return strcmp(g_site_step, "pin_lease:lease") != 0;
}

static void pl_fallback_checks(struct run *x, struct zc_reg *r, int err, int fresh)
{
	struct zc_completion c[3];
	enum zc_backend want = g_backend == ZC_BACKEND_NONE ? ZC_BACKEND_BOUNCE
							    : ZC_BACKEND_URING_FIXED;

	want_backend(r, want);
	want_attempt(r, ZC_BACKEND_PIN_LEASE, err, map_injected_reason());
	if (g_backend == ZC_BACKEND_NONE) /* core:mmap: uring_fixed maps too */
		want_attempt(r, ZC_BACKEND_URING_FIXED, err, 1);
	lease_gone(&x->t, "after the pin_lease attempt failed");
	if (fresh) {
		io_map(r, &x->t);
		io_async(x->ctx, r, &x->t, 51, c);
		for (int i = 0; i < 3; i++)
			ZT_CREQ_MSG(c[i].flags & ZC_CQE_F_FALLBACK, "completion %d flags 0x%x", i,
				    c[i].flags);
	}
}

static int map_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_stats s;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ_MSG(r, "MAP_FILE registration with %s: %d (expected a fallback)",
		    getenv("ZC_FAULT"), rc);
	pl_fallback_checks(&x, r, a->err, 1);
	s = stats(x.ctx);
	ZT_CREQ(s.fallbacks == 1);
	ZT_CREQ(s.backend[ZC_BACKEND_PIN_LEASE].reg_failures == 1);
	ZT_CREQ(s.backend[ZC_BACKEND_PIN_LEASE].regs == 0);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ(r);
	pl_fallback_checks(&x, r, a->err, 0);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int map_require(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	uint64_t only = g_backend == ZC_BACKEND_NONE ? 0 : ZC_BACKEND_BIT(ZC_BACKEND_PIN_LEASE);
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	/* pin_lease steps: only pin_lease allowed; core:mmap: every zero-copy
	 * backend maps the file, so all of them fail */
	r = reg_map(x.t.f, ZC_REG_REQUIRE_ZEROCOPY, only, &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "REQUIRE_ZEROCOPY with %s: %d, expected %d",
		    getenv("ZC_FAULT"), rc, -a->err);
	want_logged_attempt(ZC_BACKEND_PIN_LEASE, a->err, map_injected_reason());
	if (g_backend == ZC_BACKEND_NONE)
		want_logged_attempt(ZC_BACKEND_URING_FIXED, a->err, 1);
	lease_gone(&x.t, "after a refused REQUIRE_ZEROCOPY registration");
	ZT_CREQ(stats(x.ctx).backend[ZC_BACKEND_BOUNCE].regs == 0);
	if (g_backend != ZC_BACKEND_NONE) {
		/* with uring_fixed allowed it stays zero-copy */
		r = reg_map(x.t.f, ZC_REG_REQUIRE_ZEROCOPY, 0, &rc);
		ZT_CREQ_MSG(r, "REQUIRE_ZEROCOPY, all backends: %d", rc);
		want_backend(r, ZC_BACKEND_URING_FIXED);
		io_map(r, &x.t);
		ZT_CREQ(zc_reg_destroy(r) == 0);
	}
	run_end(&x);
	return 0;
}

static int map_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r1, *r2;
	struct zc_attempt at[8];
	char ab[2048];
	int rc, n;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r1 = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ(r1);
	/* the one hit fails pin_lease; uring_fixed (core:mmap: its mapping is
	 * the second hit) works */
	want_backend(r1, ZC_BACKEND_URING_FIXED);
	want_attempt(r1, ZC_BACKEND_PIN_LEASE, a->err, map_injected_reason());
	lease_gone(&x.t, "uring_fixed registration after the pin_lease attempt failed");
	io_map(r1, &x.t);
	r2 = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ_MSG(r2, "second registration: %d", rc);
	want_backend(r2, ZC_BACKEND_PIN_LEASE);
	n = zc_reg_attempts(r2, at, 8);
	ZT_CREQ_MSG(n == 1 && at[0].error == 0, "attempts %s", zt_attempts_str(r2, ab, sizeof ab));
	lease_is(&x.t, F_WRLCK, "pin_lease registration");
	io_map(r2, &x.t);
	ZT_CREQ(zc_reg_destroy(r2) == 0);
	lease_gone(&x.t, "after the pin_lease registration was destroyed");
	ZT_CREQ(zc_reg_destroy(r1) == 0);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* bounce:reg                                                            */

static int breg_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "bounce-only registration with %s: %d, expected %d",
		    getenv("ZC_FAULT"), rc, -a->err);
	want_logged_attempt(ZC_BACKEND_BOUNCE, a->err, 1);
	memset(&g_log, 0, sizeof g_log);
	r = reg_map(x.t.f, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "bounce-only MAP_FILE registration: %d", rc);
	want_logged_attempt(ZC_BACKEND_BOUNCE, a->err, 1);
	ZT_CREQ(stats(x.ctx).backend[ZC_BACKEND_BOUNCE].reg_failures == 2);
	if (zt_uring_expected()) {
		/* bounce is never reached when uring_fixed works */
		r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
		ZT_CREQ_MSG(r, "default registration: %d", rc);
		want_backend(r, ZC_BACKEND_URING_FIXED);
		io_plain(r, x.mem, &x.t, 61);
		ZT_CREQ(zc_reg_destroy(r) == 0);
	}
	run_end(&x);
	return 0;
}

static int breg_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "first registration: %d, expected %d", rc, -a->err);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ_MSG(r, "second registration: %d", rc);
	want_backend(r, ZC_BACKEND_BOUNCE);
	io_plain(r, x.mem, &x.t, 62);
	io_async(x.ctx, r, &x.t, 63, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* REQUIRE_ZEROCOPY never reaches bounce: its fault does not matter */
static int bounce_require(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, ZC_REG_REQUIRE_ZEROCOPY, 0, &rc);
	if (zt_uring_expected()) {
		ZT_CREQ_MSG(r, "REQUIRE_ZEROCOPY: %d", rc);
		want_backend(r, ZC_BACKEND_URING_FIXED);
		io_plain(r, x.mem, &x.t, 64);
		ZT_CREQ(zc_reg_destroy(r) == 0);
	} else {
		ZT_CREQ_MSG(!r && rc == -EOPNOTSUPP, "REQUIRE_ZEROCOPY without io_uring: %d", rc);
	}
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* bounce:io: plain memory registered on bounce                          */

static void bio_fails(struct run *x, struct zc_reg *r, int err)
{
	ssize_t n;

	memset(x->mem, 0xEE, 4096);
	n = zc_read(r, 0, PLAIN_RD_OFF, 4096);
	ZT_CREQ_MSG(n == -err, "zc_read with %s: %zd, expected %d", getenv("ZC_FAULT"), n, -err);
	zt_fill(x->mem + 8192, 3000, 71, 0);
	n = zc_write(r, 8192, PLAIN_WR_OFF, 3000);
	ZT_CREQ_MSG(n == -err, "zc_write with %s: %zd, expected %d", getenv("ZC_FAULT"), n, -err);
	file_is_seed(&x->t, PLAIN_WR_OFF - 10, 3020, "file after a failed zc_write");
}

/* a queued op: the errno in its completion (zc_reap(3)), or, as the
 * library does today for ops that go to a ring, from zc_prep_* itself */
static void bio_queue_fails(struct run *x, struct zc_reg *r, int err, int must_be_inline)
{
	struct zc_queue *q;
	struct zc_completion c;
	int rc;

	ZT_CREQ(zc_queue_create(x->ctx, 4, 0, &q) == 0);
	rc = zc_prep_read(q, r, 0, ASYNC_RD1_OFF, 5000, 9);
	if (rc == 0) {
		ZT_CREQ(zc_submit(q) == 1);
		ZT_CREQ(zc_reap(q, &c, 1, 1, 10000) == 1);
		ZT_CREQ_MSG(c.user_data == 9 && c.res == -err, "queued read res %lld, expected %d",
			    (long long)c.res, -err);
		if (must_be_inline)
			ZT_CREQ_MSG(c.flags & ZC_CQE_F_INLINE, "flags 0x%x", c.flags);
	} else {
		ZT_CREQ_MSG(!must_be_inline && rc == -err, "zc_prep_read with %s: %d",
			    getenv("ZC_FAULT"), rc);
		/* not queued: nothing keeps the registration busy */
		ZT_CREQ(zc_submit(q) == 0);
	}
	zc_queue_destroy(q);
}

static int bio_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_ctx *ctx2;
	struct zc_file *f2;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ_MSG(r, "bounce registration: %d", rc);
	bio_fails(&x, r, a->err);
	bio_queue_fails(&x, r, a->err, 0);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* without io_uring the queue runs ops inline: the errno is in res */
	ctx2 = new_ctx(ZC_CTX_NO_URING);
	ZT_CREQ(zc_file_open(ctx2, x.t.fd, 0, &f2) == 0);
	r = reg_plain(f2, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	want_backend(r, ZC_BACKEND_BOUNCE);
	{
		struct run y = x;

		y.ctx = ctx2;
		bio_fails(&y, r, a->err);
		bio_queue_fails(&y, r, a->err, 1);
	}
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f2);
	zc_ctx_destroy(ctx2);
	run_end(&x);
	return 0;
}

/* O_DIRECT: an unaligned head is staged, the aligned middle goes to the
 * backend. When the middle fails, zc_read must fail, not return the head
 * alone: "fewer bytes than len only when it reaches the end of the file". */
static int bio_direct(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_file_info fi;
	ssize_t n;
	int rc;

	run_begin(&x, a, g_ext4, 1, 0);
	ZT_CREQ(zc_file_query(x.t.f, &fi, sizeof fi) == 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ(r);
	/* aligned: the backend alone */
	n = zc_read(r, 0, 0, 65536);
	ZT_CREQ_MSG(n == -a->err, "aligned O_DIRECT zc_read: %zd, expected %d", n, -a->err);
	/* head staged, middle on the backend */
	n = zc_read(r, 100, 100, 3 * 65536);
	ZT_CREQ_MSG(n == -a->err, "O_DIRECT zc_read with an unaligned head (dio_offset_align %u) "
		    "whose aligned middle fails: %zd, expected %d", fi.dio_offset_align, n, -a->err);
	zt_fill(x.mem + 100, 3 * 65536, 72, 0);
	n = zc_write(r, 100, 100, 3 * 65536);
	ZT_CREQ_MSG(n == -a->err, "O_DIRECT zc_write with an unaligned head whose aligned middle "
		    "fails: %zd, expected %d", n, -a->err);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int bio_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	ssize_t n;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &rc);
	ZT_CREQ(r);
	n = zc_read(r, 0, PLAIN_RD_OFF, 4096);
	ZT_CREQ_MSG(n == -a->err, "first zc_read: %zd, expected %d", n, -a->err);
	io_plain(r, x.mem, &x.t, 73);
	io_async(x.ctx, r, &x.t, 74, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* bounce:alloc: staging (O_DIRECT ext4, unaligned) and the MAP_FILE copy */

static int stage_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c;
	ssize_t n;
	int rc;

	run_begin(&x, a, g_ext4, 1, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r, "registration: %d", rc);
	/* aligned memory, offset and length: no staging, works */
	n = zc_read(r, 0, 0, 65536);
	ZT_CREQ_MSG(n == 65536, "aligned O_DIRECT zc_read: %zd", n);
	ZT_CREQ(zt_verify(x.mem, 65536, SEED, 0) == -1);
	/* unaligned: the staging chunk cannot be had */
	n = zc_read(r, 1, 100, 10000);
	ZT_CREQ_MSG(n == -a->err, "unaligned O_DIRECT zc_read with %s: %zd, expected %d",
		    getenv("ZC_FAULT"), n, -a->err);
	zt_fill(x.mem + 1, 5000, 81, 0);
	n = zc_write(r, 1, HALF + 100, 5000);
	ZT_CREQ_MSG(n == -a->err, "unaligned O_DIRECT zc_write: %zd, expected %d", n, -a->err);
	file_is_seed(&x.t, HALF, 8192, "file after a failed unaligned zc_write");
	/* queued: needs staging, so it runs inline and fails there */
	ZT_CREQ(zc_queue_create(x.ctx, 4, 0, &q) == 0);
	ZT_CREQ(zc_prep_read(q, r, 3, 333, 7000, 5) == 0);
	ZT_CREQ(zc_submit(q) == 1);
	ZT_CREQ(zc_reap(q, &c, 1, 1, 10000) == 1);
	ZT_CREQ_MSG(c.res == -a->err && (c.flags & ZC_CQE_F_INLINE),
		    "queued unaligned read: res %lld flags 0x%x", (long long)c.res, c.flags);
	zc_queue_destroy(q);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* aligned start and an unaligned tail: the middle moves, the tail's
 * staging fails; the call must fail (or move everything), not return the
 * middle alone as if the file ended there */
static int stage_tail(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	ssize_t n;
	int rc;

	run_begin(&x, a, g_ext4, 1, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	n = zc_read(r, 0, 0, 65536 + 100);
	ZT_CREQ_MSG(n == -a->err, "O_DIRECT zc_read of 65536 + 100 bytes from offset 0 (file "
		    "of %u bytes) whose tail staging fails: %zd, expected %d", F_SIZE, n, -a->err);
	zt_fill(x.mem, 65536 + 100, 82, 0);
	n = zc_write(r, 0, HALF, 65536 + 100);
	ZT_CREQ_MSG(n == -a->err, "O_DIRECT zc_write of 65536 + 100 bytes whose tail staging "
		    "fails: %zd, expected %d", n, -a->err);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int stage_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	ssize_t n;
	int rc;

	run_begin(&x, a, g_ext4, 1, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	n = zc_read(r, 1, 100, 10000);
	ZT_CREQ_MSG(n == -a->err, "first unaligned zc_read: %zd, expected %d", n, -a->err);
	/* the next chunk allocation works: unaligned I/O is right again */
	memset(x.mem, 0xEE, 20000);
	n = zc_read(r, 1, 100, 10000);
	ZT_CREQ_MSG(n == 10000, "second unaligned zc_read: %zd", n);
	ZT_CREQ(zt_verify(x.mem + 1, 10000, SEED, 100) == -1);
	io_plain(r, x.mem, &x.t, 83);
	io_async(x.ctx, r, &x.t, 84, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* and a later registration works as well */
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	io_plain(r, x.mem, &x.t, 85);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int copy_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	int rc;

	run_begin(&x, a, g_ext4, 0, 0);
	/* ext4: pin_lease and uring_fixed cannot pin page-cache pages, bounce
	 * needs its copy, which cannot be had */
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "ext4 MAP_FILE registration with %s: %d, expected %d",
		    getenv("ZC_FAULT"), rc, -a->err);
	want_logged_attempt(ZC_BACKEND_BOUNCE, a->err, 1);
	if (zt_pin_lease_expected())
		ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_WARN, "  pin_lease: ", NULL, NULL, NULL),
			    "pin_lease attempt not listed:\n%s", g_log.text);
	if (zt_uring_expected())
		ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_WARN, "  uring_fixed: ", NULL, NULL, NULL),
			    "uring_fixed attempt not listed:\n%s", g_log.text);
	lease_gone(&x.t, "after the failed MAP_FILE registration");
	file_is_seed(&x.t, 0, F_SIZE, "file after the failed MAP_FILE registration");
	run_end(&x);
	return 0;
}

static int copy_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	int rc;

	run_begin(&x, a, g_ext4, 0, 0);
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ_MSG(!r && rc == -a->err, "first MAP_FILE registration: %d, expected %d", rc,
		    -a->err);
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ_MSG(r, "second MAP_FILE registration: %d", rc);
	want_backend(r, ZC_BACKEND_BOUNCE);
	io_map(r, &x.t);
	io_async(x.ctx, r, &x.t, 86, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* core:ring_setup                                                       */

static void no_uring_checks(struct zc_ctx *ctx, int err)
{
	struct zc_backend_info bi;

	(void)err;
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	ZT_CREQ_MSG(!bi.available, "uring_fixed available although ring setup failed");
	ZT_CREQ(bi.reason[0]);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_PIN_LEASE, &bi) == 0);
	ZT_CREQ_MSG(!bi.available || strstr(bi.reason, "normal MRs on "),
		    "pin_lease available although ring setup failed: %s", bi.reason);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi) == 0);
	ZT_CREQ(bi.available);
}

static int ring_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	struct zc_completion c[3];
	int rc, p[2];

	run_begin(&x, a, g_tmpfs, 0, 0);
	no_uring_checks(x.ctx, a->err);
	ZT_CREQ(pipe(p) == 0);
	ZT_CREQ_MSG(zc_ctx_uring_attach(x.ctx, p[0]) == -ENOSYS, "attach without io_uring");
	close(p[0]);
	close(p[1]);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	want_backend(r, ZC_BACKEND_BOUNCE);
	want_attempt(r, ZC_BACKEND_URING_FIXED, EOPNOTSUPP, 0);
	io_plain(r, x.mem, &x.t, 91);
	io_async(x.ctx, r, &x.t, 92, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG((c[i].flags & ZC_CQE_F_INLINE) && !(c[i].flags & ZC_CQE_F_FALLBACK),
			    "completion %d flags 0x%x (inline, not a fallback)", i, c[i].flags);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* an unavailable backend is no fallback */
	ZT_CREQ(stats(x.ctx).fallbacks == 0);
	r = reg_map(x.t.f, 0, 0, &rc);
	ZT_CREQ(r);
	want_backend(r, ZC_BACKEND_BOUNCE);
	io_map(r, &x.t);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

static int ring_require(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_reg *r;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	r = reg_plain(x.t.f, x.mem, MEM_LEN, ZC_REG_REQUIRE_ZEROCOPY, 0, &rc);
	ZT_CREQ_MSG(!r && rc == -EOPNOTSUPP, "REQUIRE_ZEROCOPY without io_uring: %d", rc);
	r = reg_map(x.t.f, ZC_REG_REQUIRE_ZEROCOPY, 0, &rc);
	ZT_CREQ_MSG(!r && rc == -EOPNOTSUPP, "MAP_FILE REQUIRE_ZEROCOPY without io_uring: %d", rc);
	run_end(&x);
	return 0;
}

static int ring_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_ctx *ctx2;
	struct zc_backend_info bi;
	struct zc_file *f2;
	struct zc_reg *r;
	int rc;

	run_begin(&x, a, g_tmpfs, 0, 0);
	no_uring_checks(x.ctx, a->err);
	/* ZC_FAULT is read per context, and its hits counted per context */
	ctx2 = new_ctx(0);
	ZT_CREQ(zc_ctx_query(ctx2, ZC_BACKEND_URING_FIXED, &bi) == 0);
	printf("fault.%s: a second context under the same ZC_FAULT=%s: uring_fixed %s\n",
	       g_step, getenv("ZC_FAULT"), bi.available ? "available" : "unavailable");
	zc_ctx_destroy(ctx2);
	unsetenv("ZC_FAULT");
	ctx2 = new_ctx(0);
	ZT_CREQ(zc_ctx_query(ctx2, ZC_BACKEND_URING_FIXED, &bi) == 0);
	if (zt_uring_expected()) {
		ZT_CREQ_MSG(bi.available, "uring_fixed unavailable without ZC_FAULT: %s", bi.reason);
		ZT_CREQ(zc_file_open(ctx2, x.t.fd, 0, &f2) == 0);
		r = reg_plain(f2, x.mem, MEM_LEN, 0, 0, &rc);
		ZT_CREQ(r);
		want_backend(r, ZC_BACKEND_URING_FIXED);
		io_plain(r, x.mem, &x.t, 93);
		ZT_CREQ(zc_reg_destroy(r) == 0);
		zc_file_close(f2);
	}
	zc_ctx_destroy(ctx2);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* core:clone: a ring gets the context's fixed buffers by registering them
 * again instead of cloning them; nothing may leave the fixed buffer      */

static void clone_checks(struct run *x, int err, uint32_t seed)
{
	struct zc_reg *r1, *r2;
	struct zc_queue *q;
	struct zc_completion c[3];
	struct io_uring_params up;
	uint8_t *mem2 = zt_map_anon(MEM_LEN);
	int rc, ring;

	(void)err;
	ZT_CREQ(mem2);
	r1 = reg_plain(x->t.f, x->mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r1, "registration: %d", rc);
	want_backend(r1, ZC_BACKEND_URING_FIXED);
	/* a queue made after the registration: its ring needs the slot */
	io_async(x->ctx, r1, &x->t, seed, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(!(c[i].flags & ZC_CQE_F_FALLBACK), "completion %d flags 0x%x: the "
			    "slot is missing on the queue's ring", i, c[i].flags);
	/* a registration made while a queue's ring exists: the slot must
	 * reach that ring too */
	ZT_CREQ(zc_queue_create(x->ctx, 4, 0, &q) == 0);
	r2 = reg_plain(x->t.f, mem2, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r2, "second registration: %d", rc);
	want_backend(r2, ZC_BACKEND_URING_FIXED);
	ZT_CREQ(zc_prep_read(q, r2, 0, ASYNC_RD1_OFF, 30000, 1) == 0);
	ZT_CREQ(zc_submit(q) == 1);
	ZT_CREQ(zc_reap(q, c, 1, 1, 10000) == 1);
	ZT_CREQ_MSG(c[0].res == 30000 && !(c[0].flags & ZC_CQE_F_FALLBACK),
		    "res %lld flags 0x%x", (long long)c[0].res, c[0].flags);
	ZT_CREQ(zt_verify(mem2, 30000, SEED, ASYNC_RD1_OFF) == -1);
	zc_queue_destroy(q);
	want_no_events(x->ctx);
	/* an application ring gets the table too */
	memset(&up, 0, sizeof up);
	ring = (int)syscall(__NR_io_uring_setup, 4, &up);
	ZT_CREQ(ring >= 0);
	rc = zc_ctx_uring_attach(x->ctx, ring);
	ZT_CREQ_MSG(rc == 0, "zc_ctx_uring_attach: %d", rc);
	ZT_CREQ(zc_reg_buf_index(r2, 0, 4096) >= 0);
	ZT_CREQ(zc_ctx_uring_detach(x->ctx, ring) == 0);
	close(ring);
	io_plain(r2, mem2, &x->t, seed + 1);
	ZT_CREQ(zc_reg_destroy(r2) == 0);
	ZT_CREQ(zc_reg_destroy(r1) == 0);
	munmap(mem2, MEM_LEN);
}

static int clone_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;

	run_begin(&x, a, g_tmpfs, 0, 0);
	clone_checks(&x, a->err, 111);
	run_end(&x);
	/* O_DIRECT: queued fixed-buffer I/O reaches the device from the
	 * queue's ring, which got the slot by registering it again */
	if (g_ext4 && g_direct_ok) {
		struct zc_completion c[1];
		struct zc_queue *q;
		struct zc_reg *r;
		int rc;

		run_begin(&x, a, g_ext4, 1, 0);
		r = reg_plain(x.t.f, x.mem, MEM_LEN, 0, 0, &rc);
		ZT_CREQ(r);
		want_backend(r, ZC_BACKEND_URING_FIXED);
		ZT_CREQ(zc_queue_create(x.ctx, 4, 0, &q) == 0);
		ZT_CREQ(zc_prep_read(q, r, 0, 0, 65536, 1) == 0);
		ZT_CREQ(zc_submit(q) == 1);
		ZT_CREQ(zc_reap(q, c, 1, 1, 10000) == 1);
		ZT_CREQ_MSG(c[0].res == 65536 && !(c[0].flags & (ZC_CQE_F_FALLBACK |
								  ZC_CQE_F_INLINE)),
			    "O_DIRECT read res %lld flags 0x%x: the slot is missing on the "
			    "queue's ring", (long long)c[0].res, c[0].flags);
		ZT_CREQ(zt_verify(x.mem, 65536, SEED, 0) == -1);
		zc_queue_destroy(q);
		io_plain(r, x.mem, &x.t, 114);
		/* an aligned op that left the fixed buffer would post this */
		want_no_events(x.ctx);
		ZT_CREQ(zc_reg_destroy(r) == 0);
		run_end(&x);
	}
	return 0;
}

static int clone_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;

	run_begin(&x, a, g_tmpfs, 0, 0);
	clone_checks(&x, a->err, 115);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* core:statx                                                            */

/* a failing statx must not make the file unusable: either zc_file_open
 * fails with the injected errno (as zc_file_open(3) says), or it works
 * with a warning and guessed O_DIRECT alignment (as the code does) */
static int statx_open(struct zc_ctx *ctx, int fd, int err, struct zc_file **f)
{
	unsigned warns = g_log.count[ZC_LOG_WARN];
	int rc = zc_file_open(ctx, fd, 0, f);

	ZT_CREQ_MSG(rc == 0 || rc == -err, "zc_file_open with %s: %d", getenv("ZC_FAULT"), rc);
	if (rc == 0)
		ZT_CREQ_MSG(g_log.count[ZC_LOG_WARN] > warns &&
				    zt_log_line_has(&g_log, ZC_LOG_WARN, "statx", strerror(err),
						    NULL, NULL),
			    "a failed statx went unreported:\n%s", g_log.text);
	return rc;
}

static void statx_use(struct run *x, const struct tfile *t, struct zc_file *f, uint32_t seed)
{
	struct zc_file_info fi;
	struct zc_reg *r;
	struct zc_completion c[3];
	ssize_t n;
	int rc;

	ZT_CREQ(zc_file_query(f, &fi, sizeof fi) == 0);
	ZT_CREQ(fi.flags & ZC_FILE_REGULAR);
	ZT_CREQ(fi.file_size == F_SIZE);
	ZT_CREQ_MSG(fi.dio_mem_align && !(fi.dio_mem_align & (fi.dio_mem_align - 1)) &&
			    fi.dio_offset_align && !(fi.dio_offset_align & (fi.dio_offset_align - 1)),
		    "O_DIRECT alignment %u/%u", fi.dio_mem_align, fi.dio_offset_align);
	r = reg_plain(f, x->mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ(r);
	io_plain(r, x->mem, t, seed);
	io_async(x->ctx, r, t, seed + 1, c);
	memset(x->mem, 0, 20000);
	n = zc_read(r, 1, 100, 10000);
	ZT_CREQ(n == 10000 && zt_verify(x->mem + 1, 10000, SEED, 100) == -1);
	ZT_CREQ(zc_reg_destroy(r) == 0);
}

static int statx_every(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_file *f;
	struct tfile t;

	run_begin(&x, a, NULL, 0, 0);
	for (int direct = 0; direct < 2; direct++) {
		const char *dir = direct ? g_ext4 : (g_tmpfs ? g_tmpfs : g_ext4);

		/* O_DIRECT with a guessed alignment must still move the right bytes */
		if (direct && !(g_ext4 && g_direct_ok))
			break;
		memset(&t, 0, sizeof t);
		t.direct = direct;
		t.fd = zt_make_file(dir, F_SIZE, SEED, O_RDWR | (direct ? O_DIRECT : 0), t.path);
		ZT_CREQ(t.fd >= 0);
		if (statx_open(x.ctx, t.fd, a->err, &f) == 0) {
			statx_use(&x, &t, f, 101 + 2 * (uint32_t)direct);
			zc_file_close(f);
		}
		close(t.fd);
		unlink(t.path);
	}
	run_end(&x);
	return 0;
}

static int statx_nth(void *arg)
{
	const struct carg *a = arg;
	struct run x;
	struct zc_file *f1, *f2;
	unsigned warns;
	int rc1, rc2;

	run_begin(&x, a, NULL, 0, 0);
	memset(&x.t, 0, sizeof x.t);
	x.t.fd = zt_make_file(g_tmpfs ? g_tmpfs : g_ext4, F_SIZE, SEED, O_RDWR, x.t.path);
	ZT_CREQ(x.t.fd >= 0);
	rc1 = statx_open(x.ctx, x.t.fd, a->err, &f1);
	warns = g_log.count[ZC_LOG_WARN];
	rc2 = zc_file_open(x.ctx, x.t.fd, 0, &f2);
	ZT_CREQ_MSG(rc2 == 0, "second zc_file_open: %d", rc2);
	ZT_CREQ_MSG(g_log.count[ZC_LOG_WARN] == warns, "second open warned:\n%s", g_log.text);
	statx_use(&x, &x.t, f2, 105);
	if (rc1 == 0) {
		statx_use(&x, &x.t, f1, 107);
		zc_file_close(f1);
	}
	zc_file_close(f2);
	close(x.t.fd);
	unlink(x.t.path);
	memset(&x.t, 0, sizeof x.t);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* core:complete                                                         */

static struct zc_reg *complete_reg(struct run *x)
{
	struct zc_reg *r;
	int rc;

	r = reg_plain(x->t.f, x->mem, MEM_LEN, 0, 0, &rc);
	ZT_CREQ_MSG(r, "registration: %d", rc);
	return r;
}

/* every completion carries the error; synchronous calls, which do not go
 * through a queue's ring, are not touched */
static int complete_every(void *arg)
{
	const struct carg *a = arg;
	struct zc_completion c[3];
	struct run x;
	struct zc_reg *r;

	run_begin(&x, a, g_ext4, 0, 0);
	r = complete_reg(&x);
	complete_three(x.ctx, r, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(c[i].user_data == (uint64_t)i + 1 && c[i].res == -a->err,
			    "completion %d: user_data %llu res %lld, expected %d", i,
			    (unsigned long long)c[i].user_data, (long long)c[i].res, -a->err);
	ZT_CREQ(zc_read(r, 0, ASYNC_RD1_OFF, 30000) == 30000);
	ZT_CREQ_MSG(zt_verify(x.mem, 30000, SEED, ASYNC_RD1_OFF) == -1, "zc_read data");
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* the first completion carries the error, the others their results */
static int complete_nth(void *arg)
{
	const struct carg *a = arg;
	struct zc_completion c[3];
	const long long want[3] = { 30000, 20000, 25000 };
	struct run x;
	struct zc_reg *r;
	int failed = 0;

	run_begin(&x, a, g_ext4, 0, 0);
	r = complete_reg(&x);
	complete_three(x.ctx, r, c);
	for (int i = 0; i < 3; i++) {
		if (c[i].res == -a->err) {
			failed++;
			continue;
		}
		ZT_CREQ_MSG(c[i].res == want[i], "completion %d: res %lld, expected %lld", i,
			    (long long)c[i].res, want[i]);
	}
	ZT_CREQ_MSG(failed == 1, "%d completions carry the error, expected 1", failed);
	io_async(x.ctx, r, &x.t, 47, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* ECANCELED: io_uring's word for an op it could not start a worker for.
 * zc_reap submits such an op again: after a single one every op completes
 * right; when every completion is a cancellation the caller gets
 * -ECANCELED (after 8 resubmissions; without the bound zc_reap would
 * never return). */
static int complete_ecanceled(void *arg)
{
	static const struct carg once = { "ECANCELED", ECANCELED, 1 };
	static const struct carg always = { "ECANCELED", ECANCELED, 0 };
	struct zc_completion c[3];
	struct run x;
	struct zc_reg *r;

	(void)arg;
	run_begin(&x, &once, g_ext4, 0, 0);
	r = complete_reg(&x);
	io_async(x.ctx, r, &x.t, 48, c);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);

	run_begin(&x, &always, g_ext4, 0, 0);
	r = complete_reg(&x);
	complete_three(x.ctx, r, c);
	for (int i = 0; i < 3; i++)
		ZT_CREQ_MSG(c[i].res == -ECANCELED, "completion %d: res %lld, expected "
			    "-ECANCELED after the resubmissions", i, (long long)c[i].res);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	run_end(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the table                                                            */

struct step {
	const char *name;
	unsigned need;
	int (*every)(void *);
	int (*nth)(void *);
	int (*require)(void *);
	int (*extra)(void *); /* another every-hit case */
	const char *extra_name;
};

static const struct step steps[] = {
	{ "core:ring_setup", NEED_LIBURING | NEED_TMPFS, ring_every, ring_nth, ring_require,
	  NULL, NULL },
	{ "core:clone", NEED_URING | NEED_TMPFS, clone_every, clone_nth, NULL, NULL, NULL },
	{ "core:statx", 0, statx_every, statx_nth, NULL, NULL, NULL },
	{ "core:mmap", NEED_URING | NEED_LEASE | NEED_TMPFS, map_every, map_nth, map_require,
	  NULL, NULL },
	{ "core:complete", NEED_URING | NEED_EXT4, complete_every, complete_nth, NULL,
	  complete_ecanceled, "ecanceled_resubmitted" },
	{ "uring_fixed:reg", NEED_URING | NEED_TMPFS, uf_reg_every, uf_reg_nth, uf_reg_require,
	  NULL, NULL },
	{ "uring_fixed:register", NEED_URING | NEED_TMPFS, uf_reg_every, uf_reg_nth,
	  uf_reg_require, NULL, NULL },
	{ "uring_fixed:io", NEED_URING | NEED_TMPFS, fixed_io_every, fixed_io_nth,
	  fixed_io_require, NULL, NULL },
	{ "pin_lease:reg", NEED_LEASE | NEED_TMPFS, map_every, map_nth, map_require, NULL, NULL },
	{ "pin_lease:lease", NEED_LEASE | NEED_TMPFS, map_every, map_nth, map_require, NULL,
	  NULL },
	{ "pin_lease:register", NEED_LEASE | NEED_TMPFS, map_every, map_nth, map_require, NULL,
	  NULL },
	{ "pin_lease:io", NEED_LEASE | NEED_TMPFS, fixed_io_every, fixed_io_nth,
	  fixed_io_require, NULL, NULL },
	{ "bounce:reg", NEED_TMPFS, breg_every, breg_nth, bounce_require, NULL, NULL },
	{ "bounce:alloc.staging", NEED_EXT4 | NEED_DIRECT, stage_every, stage_nth, NULL,
	  stage_tail, "unaligned_tail" },
	{ "bounce:alloc.copy", NEED_EXT4, copy_every, copy_nth, NULL, NULL, NULL },
	{ "bounce:io", NEED_TMPFS, bio_every, bio_nth, bounce_require, bio_direct,
	  "o_direct_unaligned_head" },
};

static const struct step *g_s;

/* "pin_lease:io" -> ZC_BACKEND_PIN_LEASE; "core:..." -> ZC_BACKEND_NONE */
static enum zc_backend site_backend(const char *site_step)
{
	size_t n = strcspn(site_step, ":");

	for (int b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (strlen(zc_backend_name((enum zc_backend)b)) == n &&
		    !strncmp(zc_backend_name((enum zc_backend)b), site_step, n))
			return (enum zc_backend)b;
	return ZC_BACKEND_NONE;
}

/* named errno, numeric errno, :1 */
static const struct carg A_NAMED = { "EIO", EIO, 0 };
static const struct carg A_NUMERIC = { "12", ENOMEM, 0 };
static const struct carg A_NTH = { "ENOSPC", ENOSPC, 1 };

static void run_child(int (*fn)(void *), const struct carg *a)
{
	ZT_CK_CHILD_OK(zt_fork_run(fn, (void *)a));
}

START_TEST(test_fault_every_hit_named_errno)
{
	run_child(g_s->every, &A_NAMED);
}
END_TEST

START_TEST(test_fault_every_hit_numeric_errno)
{
	run_child(g_s->every, &A_NUMERIC);
}
END_TEST

START_TEST(test_fault_first_hit_only_later_ones_work)
{
	run_child(g_s->nth, &A_NTH);
}
END_TEST

START_TEST(test_fault_require_zerocopy)
{
	run_child(g_s->require, &A_NAMED);
}
END_TEST

START_TEST(test_fault_extra_case)
{
	printf("fault.%s: %s\n", g_step, g_s->extra_name);
	run_child(g_s->extra, &A_NAMED);
}
END_TEST

int main(int argc, char **argv)
{
	const char *arg = argc > 1 ? argv[1] : "";
	const char *why = NULL;
	char reason[256];
	Suite *s;
	TCase *tc;

	zt_init();
	for (size_t i = 0; i < ZT_ARRAY_SIZE(steps); i++)
		if (!strcmp(steps[i].name, arg))
			g_s = &steps[i];
	if (!g_s) {
		fprintf(stderr, "usage: %s <step>, one of:", argv[0]);
		for (size_t i = 0; i < ZT_ARRAY_SIZE(steps); i++)
			fprintf(stderr, " %s", steps[i].name);
		fputc('\n', stderr);
		return 2;
	}
	g_step = g_s->name;
	snprintf(g_site_step, sizeof g_site_step, "%.*s", (int)strcspn(g_step, "."), g_step);
	g_backend = site_backend(g_site_step);
	g_tmpfs = zt_tmpfs_dir(&why);
	if ((g_s->need & NEED_TMPFS) && !g_tmpfs)
		zt_skip("fault.%s: needs tmpfs: %s", g_step, why);
	g_ext4 = zt_ext4_dir(&why);
	if ((g_s->need & NEED_EXT4) && !g_ext4)
		zt_skip("fault.%s: needs ext4: %s", g_step, why);
	if (!g_tmpfs && !g_ext4)
		zt_skip("fault.%s: neither tmpfs nor ext4 here", g_step);
	g_direct_ok = g_ext4 && zt_odirect_works(g_ext4, reason, sizeof reason);
	if ((g_s->need & NEED_DIRECT) && !g_direct_ok)
		zt_skip("fault.%s: O_DIRECT does not work on ext4 here: %s", g_step, reason);
	if ((g_s->need & NEED_LIBURING) && !zt_liburing_built())
		zt_skip("fault.%s: library built without liburing: no ring to fail", g_step);
	if ((g_s->need & (NEED_URING | NEED_LEASE)) && !zt_liburing_built())
		zt_skip("fault.%s: library built without liburing", g_step);
	if ((g_s->need & (NEED_URING | NEED_LEASE)) && !zt_io_uring_works(reason, sizeof reason))
		zt_skip("fault.%s: io_uring unavailable: %s", g_step, reason);
	if ((g_s->need & NEED_LEASE) && !zt_pin_lease_expected())
		zt_skip("fault.%s: file leases disabled (fs.leases-enable=0)", g_step);

	s = suite_create("fault");
	tc = zt_tcase(g_step);
	tcase_add_test(tc, test_fault_every_hit_named_errno);
	tcase_add_test(tc, test_fault_every_hit_numeric_errno);
	tcase_add_test(tc, test_fault_first_hit_only_later_ones_work);
	if (g_s->require)
		tcase_add_test(tc, test_fault_require_zerocopy);
	if (g_s->extra)
		tcase_add_test(tc, test_fault_extra_case);
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
