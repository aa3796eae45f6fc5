/* SPDX-License-Identifier: MIT */
/* Allocation failures, in the manner of SQLite's OOM tests. This binary
 * defines malloc, calloc, realloc, free and the aligned allocators itself
 * (forwarding to glibc's __libc_* functions), so they serve the library,
 * libnuma, liburing and glibc's own internal allocations (fopen,
 * pthread_create) alike. While armed, a countdown makes the Nth allocation
 * fail; "once" fails only that one, "persist" every one after it too.
 *
 * argv[1] names a call sequence: ctx, file, reg, reg_map, queue, async,
 * read, events, stats, or all (every call from zc_ctx_create to
 * zc_ctx_destroy). In a forked child, for N = 1, 2, ...: the sequence's
 * prerequisites are made unarmed; the countdown is armed with N; the
 * calls run; the countdown is disarmed. Each call must succeed or return
 * a negative errno, -ENOMEM, leaving its out-parameter alone and nothing
 * behind; a sequence that failed is resumed unarmed and must then
 * complete. What was done is checked byte for byte, everything is torn
 * down, and the open fds, /proc/self/maps lines, VmPin and live heap
 * blocks must be what they were before the iteration (the system-wide
 * pin count at the end of the loop). The loop ends with the first N at
 * which the sequence completed without the countdown firing.
 *
 * Under valgrind the same binary checks heap leaks (the countdown still
 * works: valgrind replaces glibc's allocator underneath this one). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* the allocator                                                         */

/* A sanitizer's runtime owns malloc and frees what its interceptors
 * allocated: this allocator cannot sit in front of it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZT_OWN_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ZT_OWN_MALLOC 0
#endif
#endif
#ifndef ZT_OWN_MALLOC
#define ZT_OWN_MALLOC 1
#endif

static _Atomic int g_armed;
static _Atomic int g_persist;
static _Atomic long g_countdown; /* the allocation that fails when it reaches 0 */
static _Atomic long g_fired;     /* failures injected while armed */
static _Atomic long g_seen;      /* allocations while armed */
static _Atomic long g_live;      /* blocks allocated and not yet freed */

#if ZT_OWN_MALLOC
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static int oom_now(void)
{
	long left;

	if (!atomic_load_explicit(&g_armed, memory_order_relaxed))
		return 0;
	atomic_fetch_add(&g_seen, 1);
	if (atomic_load(&g_persist) && atomic_load(&g_fired)) {
		atomic_fetch_add(&g_fired, 1);
		return 1;
	}
	left = atomic_fetch_sub(&g_countdown, 1) - 1;
	if (left == 0) {
		atomic_fetch_add(&g_fired, 1);
		return 1;
	}
	return 0;
}

void *malloc(size_t n)
{
	void *p;

	if (oom_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_malloc(n);
	if (p)
		atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
	return p;
}

void *calloc(size_t n, size_t m)
{
	void *p;

	if (oom_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_calloc(n, m);
	if (p)
		atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	if (old && n == 0) { /* glibc frees and returns NULL */
		atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
		return __libc_realloc(old, 0);
	}
	if (oom_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_realloc(old, n);
	if (p && !old)
		atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
	return p;
}

void free(void *p)
{
	if (p)
		atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	void *p;

	if (oom_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_memalign(align, n);
	if (p)
		atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
	return p;
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

#endif /* ZT_OWN_MALLOC */

static void arm(long n, int persist)
{
	atomic_store(&g_fired, 0);
	atomic_store(&g_seen, 0);
	atomic_store(&g_persist, persist);
	atomic_store(&g_countdown, n);
	atomic_store(&g_armed, 1);
}

/* returns how many allocations failed */
static long disarm(void)
{
	atomic_store(&g_armed, 0);
	return atomic_load(&g_fired);
}

/* ------------------------------------------------------------------ */
/* files and data                                                        */

#define F_SIZE (512 * 1024 + 1000)
#define HALF (256 * 1024)
#define SEED 7u
#define MEM_LEN (256 * 1024)
#define NOT_OUT ((void *)(uintptr_t)0x5a5a)

/* file ranges: reads in [0, HALF), writes in [HALF, F_SIZE) */
#define RD_OFF 1111u
#define RD_LEN 20000u
#define WR_OFF (HALF + 3333u)
#define WR_LEN 30000u
#define RW_WR_OFF (HALF + 40001u) /* zc_write (queued ones: WR_OFF) */
#define RW_RD_AT 150000u /* memory of zc_read (queued ops use [0, 130000)) */
#define MAP_RD_OFF 100000u
#define MAP_WR_OFF (HALF + 100000u)

enum { T_TMPFS, T_DIRECT, T_EXT4, T_MAX };

struct tfile {
	const char *dir;
	int oflags;
	char path[PATH_MAX];
	int fd;
	struct zc_file *f;
};

struct st {
	struct zc_ctx *ctx;
	struct tfile t[T_MAX];
	struct zc_reg *plain[T_MAX];
	struct zc_reg *map[T_MAX];
	uint8_t *mem[T_MAX];
	struct zc_queue *q;
	unsigned ops_prepped, ops_submitted, ops_reaped;
	struct zc_completion c[8];
	int read_done[T_MAX], write_done[T_MAX];
	int events_done, stats_done;
	int events_seen;
	unsigned ctx_flags;
	int numa0; /* ctx numa_node 0: staging and copies go through libnuma */
};

static struct st g;
static struct zt_log g_log;
static const char *g_seq;
static long *g_iter; /* shared with the parent: the N being run */

/* fixed for the process: which files exist */
static struct tfile g_files[T_MAX];

static void files_make(void)
{
	const char *why;
	char r[256];

	g_files[T_TMPFS].dir = zt_tmpfs_dir(&why);
	g_files[T_TMPFS].oflags = O_RDWR;
	g_files[T_EXT4].dir = zt_ext4_dir(&why);
	g_files[T_EXT4].oflags = O_RDWR;
	if (g_files[T_EXT4].dir && zt_odirect_works(g_files[T_EXT4].dir, r, sizeof r)) {
		g_files[T_DIRECT].dir = g_files[T_EXT4].dir;
		g_files[T_DIRECT].oflags = O_RDWR | O_DIRECT;
	}
	for (int i = 0; i < T_MAX; i++) {
		int fd;

		if (!g_files[i].dir)
			continue;
		fd = zt_make_file(g_files[i].dir, F_SIZE, SEED, O_RDONLY, g_files[i].path);
		if (fd < 0)
			zt_skip("oom: cannot make a file in %s: %s", g_files[i].dir, strerror(-fd));
		close(fd);
	}
}

static void files_remove(void)
{
	for (int i = 0; i < T_MAX; i++)
		if (g_files[i].dir)
			unlink(g_files[i].path);
}

/* the file's bytes at [off, off+len) equal want (a fresh buffered fd,
 * except for tmpfs, whose only open must stay the library's: pread on it) */
static void file_eq(int i, uint64_t off, const void *want, size_t len, const char *what)
{
	uint8_t *buf = malloc(len);
	int fd = i == T_TMPFS ? g.t[i].fd : open(g_files[i].path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ZT_CREQ(buf && fd >= 0);
	n = zt_pread_full(fd, buf, len, off);
	ZT_CREQ_MSG(n == (ssize_t)len && !memcmp(buf, want, len), "%s: file bytes differ (%zd)",
		    what, n);
	if (fd != g.t[i].fd)
		close(fd);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* resumable steps: each returns 0 or the library's negative errno, and
 * does nothing when already done                                        */

static int chk_rc(long rc, const char *what)
{
	ZT_CREQ_MSG(rc <= 0, "%s returned %ld", what, rc);
	if (rc < 0) {
		ZT_CREQ_MSG(rc > -4096, "%s returned %ld, not a negative errno", what, rc);
		ZT_CREQ_MSG(atomic_load(&g_fired) > 0 || !atomic_load(&g_armed),
			    "%s failed (%ld: %s) without an injected allocation failure", what, rc,
			    strerror((int)-rc));
		ZT_CREQ_MSG(rc == -ENOMEM, "%s failed with %ld (%s) on an allocation failure, "
			    "expected -ENOMEM", what, rc, strerror((int)-rc));
	}
	return (int)rc;
}

static int do_ctx(void)
{
	struct zc_ctx_params p;
	struct zc_ctx *ctx = NOT_OUT;
	int rc;

	if (g.ctx)
		return 0;
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_ERROR;
	if (g.ctx_flags) {
		p.field_mask |= ZC_CTX_FIELD_FLAGS;
		p.flags = g.ctx_flags;
	}
	if (g.numa0) {
		p.field_mask |= ZC_CTX_FIELD_NUMA_NODE;
		p.numa_node = 0;
	}
	rc = chk_rc(zc_ctx_create(&p, &ctx), "zc_ctx_create");
	if (rc) {
		ZT_CREQ_MSG(ctx == NOT_OUT, "failed zc_ctx_create wrote *out");
		return rc;
	}
	g.ctx = ctx;
	return 0;
}

static int do_file(int i)
{
	struct zc_file *f = NOT_OUT;
	int rc;

	if (!g_files[i].dir || g.t[i].f)
		return 0;
	if (g.t[i].fd <= 0) {
		g.t[i].fd = open(g_files[i].path, g_files[i].oflags | O_CLOEXEC);
		ZT_CREQ(g.t[i].fd > 0);
	}
	rc = chk_rc(zc_file_open(g.ctx, g.t[i].fd, 0, &f), "zc_file_open");
	if (rc) {
		ZT_CREQ_MSG(f == NOT_OUT, "failed zc_file_open wrote *out");
		return rc;
	}
	g.t[i].f = f;
	return 0;
}

static int do_files(void)
{
	for (int i = 0; i < T_MAX; i++) {
		int rc = do_file(i);

		if (rc)
			return rc;
	}
	return 0;
}

static int do_plain(int i)
{
	struct zc_reg *r = NOT_OUT;
	int rc;

	if (!g.t[i].f || g.plain[i])
		return 0;
	if (!g.mem[i]) {
		g.mem[i] = zt_map_anon(MEM_LEN);
		ZT_CREQ(g.mem[i]);
	}
	rc = chk_rc(zt_reg_mem(g.t[i].f, g.mem[i], MEM_LEN, 0, 0, 0, &r), "zc_reg_create");
	if (rc) {
		ZT_CREQ_MSG(r == NOT_OUT, "failed zc_reg_create wrote *out");
		return rc;
	}
	g.plain[i] = r;
	return 0;
}

static int do_plains(void)
{
	for (int i = 0; i < T_MAX; i++) {
		int rc = do_plain(i);

		if (rc)
			return rc;
	}
	return 0;
}

/* MAP_FILE: tmpfs (pin_lease, whose lease thread is made here) and ext4
 * (a library-owned copy) */
static int do_maps(void)
{
	static const int which[] = { T_TMPFS, T_EXT4 };

	for (size_t k = 0; k < ZT_ARRAY_SIZE(which); k++) {
		int i = which[k];
		struct zc_reg *r = NOT_OUT;
		int rc;

		if (!g.t[i].f || g.map[i])
			continue;
		rc = chk_rc(zt_reg_map_file(g.t[i].f, 0, HALF, 0, 0, &r), "zc_reg_create MAP_FILE");
		if (rc) {
			ZT_CREQ_MSG(r == NOT_OUT, "failed zc_reg_create wrote *out");
			return rc;
		}
		g.map[i] = r;
	}
	return 0;
}

static int do_queue(void)
{
	struct zc_queue *q = NOT_OUT;
	int rc;

	if (g.q)
		return 0;
	rc = chk_rc(zc_queue_create(g.ctx, 8, 0, &q), "zc_queue_create");
	if (rc) {
		ZT_CREQ_MSG(q == NOT_OUT, "failed zc_queue_create wrote *out");
		return rc;
	}
	g.q = q;
	return 0;
}

/* async: a read per plain registration (O_DIRECT unaligned: inline,
 * staged) and a write on tmpfs; the ops are prepared once, then submitted
 * and reaped; an op whose res is an error is run again on resumption */
struct aop {
	int file;
	int write;
	size_t reg_off;
	uint64_t off;
	size_t len;
};
static const struct aop g_aops[] = {
	{ T_TMPFS, 0, 0, RD_OFF, RD_LEN },
	{ T_DIRECT, 0, 1, RD_OFF + 3, RD_LEN + 5 },
	{ T_EXT4, 0, 0, RD_OFF, RD_LEN },
	{ T_TMPFS, 1, 100000, WR_OFF, WR_LEN },
	{ T_DIRECT, 1, 100001, WR_OFF + 1, WR_LEN - 3 },
};

static int do_async(void)
{
	unsigned want = 0;
	int rc;

	for (size_t k = 0; k < ZT_ARRAY_SIZE(g_aops); k++)
		if (g.plain[g_aops[k].file])
			want |= 1u << k;
	/* prepared and not yet reaped ops of an earlier, failed pass stay */
	for (size_t k = 0; k < ZT_ARRAY_SIZE(g_aops); k++) {
		const struct aop *o = &g_aops[k];

		if (!(want & (1u << k)) || (g.ops_prepped & (1u << k)))
			continue;
		if (o->write)
			zt_fill(g.mem[o->file] + o->reg_off, o->len, 50 + (uint32_t)k, 0);
		rc = o->write ? zc_prep_write(g.q, g.plain[o->file], o->reg_off, o->off, o->len, k)
			      : zc_prep_read(g.q, g.plain[o->file], o->reg_off, o->off, o->len, k);
		if ((rc = chk_rc(rc, o->write ? "zc_prep_write" : "zc_prep_read")))
			return rc;
		g.ops_prepped |= 1u << k;
	}
	if (g.ops_prepped & ~g.ops_submitted) {
		rc = zc_submit(g.q);
		if (rc < 0)
			return chk_rc(rc, "zc_submit");
		g.ops_submitted = g.ops_prepped;
	}
	while (g.ops_reaped != g.ops_submitted) {
		struct zc_completion c[8];
		int n = zc_reap(g.q, c, 8, 1, 10000);

		if (n < 0)
			return chk_rc(n, "zc_reap");
		ZT_CREQ_MSG(n > 0, "zc_reap timed out");
		for (int j = 0; j < n; j++) {
			unsigned k = (unsigned)c[j].user_data;

			ZT_CREQ(k < ZT_ARRAY_SIZE(g_aops));
			if (c[j].res < 0) {
				/* the op failed: run it again on resumption */
				chk_rc(c[j].res, "a queued operation");
				g.ops_prepped &= ~(1u << k);
				g.ops_submitted &= ~(1u << k);
				rc = (int)c[j].res;
			} else {
				g.c[k] = c[j];
				g.ops_reaped |= 1u << k;
			}
		}
	}
	for (size_t k = 0; k < ZT_ARRAY_SIZE(g_aops); k++)
		if ((want & (1u << k)) && !(g.ops_reaped & (1u << k)))
			return -ENOMEM; /* one failed (checked above); resume */
	return 0;
}

static void check_async(void)
{
	for (size_t k = 0; k < ZT_ARRAY_SIZE(g_aops); k++) {
		const struct aop *o = &g_aops[k];

		if (!(g.ops_reaped & (1u << k)))
			continue;
		ZT_CREQ_MSG(g.c[k].res == (int64_t)o->len, "op %zu res %lld", k,
			    (long long)g.c[k].res);
		if (o->write)
			file_eq(o->file, o->off, g.mem[o->file] + o->reg_off, o->len, "queued write");
		else
			ZT_CREQ_MSG(zt_verify(g.mem[o->file] + o->reg_off, o->len, SEED, o->off) == -1,
				    "queued read %zu data", k);
	}
}

/* sync: a read and a write per plain registration (unaligned on O_DIRECT) */
static int do_rw(void)
{
	for (int i = 0; i < T_MAX; i++) {
		ssize_t n;

		if (!g.plain[i])
			continue;
		if (!g.read_done[i]) {
			memset(g.mem[i] + RW_RD_AT, 0xEE, RD_LEN + 8);
			n = zc_read(g.plain[i], RW_RD_AT + 5, RD_OFF + 1, RD_LEN);
			if (n < 0)
				return chk_rc(n, "zc_read");
			ZT_CREQ_MSG(n == RD_LEN, "zc_read %zd", n);
			ZT_CREQ_MSG(zt_verify(g.mem[i] + RW_RD_AT + 5, RD_LEN, SEED, RD_OFF + 1) == -1,
				    "zc_read data");
			g.read_done[i] = 1;
		}
		if (!g.write_done[i]) {
			zt_fill(g.mem[i] + 50001, WR_LEN, 60 + (uint32_t)i, 0);
			n = zc_write(g.plain[i], 50001, RW_WR_OFF, WR_LEN);
			if (n < 0)
				return chk_rc(n, "zc_write");
			ZT_CREQ_MSG(n == WR_LEN, "zc_write %zd", n);
			g.write_done[i] = 1;
		}
	}
	return 0;
}

static void check_rw(void)
{
	for (int i = 0; i < T_MAX; i++)
		if (g.write_done[i])
			file_eq(i, RW_WR_OFF, g.mem[i] + 50001, WR_LEN, "zc_write");
}

static void check_maps(void)
{
	for (int i = 0; i < T_MAX; i++) {
		uint8_t *a;
		ssize_t n;

		if (!g.map[i])
			continue;
		a = zc_reg_addr(g.map[i]);
		ZT_CREQ(a && zc_reg_length(g.map[i]) == HALF);
		ZT_CREQ_MSG(zt_verify(a + MAP_RD_OFF, 50000, SEED, MAP_RD_OFF) == -1,
			    "MAP_FILE memory does not hold the file");
		n = zc_write(g.map[i], MAP_RD_OFF, MAP_WR_OFF, 50000);
		ZT_CREQ_MSG(n == 50000, "zc_write from MAP_FILE memory %zd", n);
		file_eq(i, MAP_WR_OFF, a + MAP_RD_OFF, 50000, "zc_write from MAP_FILE memory");
	}
}

static int do_events(void)
{
	struct zc_event ev[4];
	int n;

	if (g.events_done)
		return 0;
	n = zc_ctx_event_fd(g.ctx);
	ZT_CREQ_MSG(n >= 0, "zc_ctx_event_fd %d", n);
	n = zc_ctx_events(g.ctx, ev, 4);
	if (n < 0)
		return chk_rc(n, "zc_ctx_events");
	g.events_seen += n;
	g.events_done = 1;
	return 0;
}

static int do_stats(void)
{
	struct zc_stats s;
	int rc;

	if (g.stats_done)
		return 0;
	rc = zc_ctx_stats(g.ctx, &s, sizeof s);
	if (rc)
		return chk_rc(rc, "zc_ctx_stats");
	ZT_CREQ(s.size == sizeof s);
	g.stats_done = 1;
	return 0;
}

static void teardown(void)
{
	if (g.q)
		zc_queue_destroy(g.q);
	for (int i = 0; i < T_MAX; i++) {
		if (g.map[i])
			ZT_CREQ(zc_reg_destroy(g.map[i]) == 0);
		if (g.plain[i])
			ZT_CREQ(zc_reg_destroy(g.plain[i]) == 0);
		if (g.t[i].f)
			zc_file_close(g.t[i].f);
		if (g.t[i].fd > 0) {
			int l = fcntl(g.t[i].fd, F_GETLEASE);

			ZT_CREQ_MSG(l == F_UNLCK, "lease %d still held after teardown", l);
			close(g.t[i].fd);
		}
		if (g.mem[i])
			munmap(g.mem[i], MEM_LEN);
	}
	if (g.ctx)
		zc_ctx_destroy(g.ctx);
	{
		unsigned flags = g.ctx_flags;
		int numa0 = g.numa0;

		memset(&g, 0, sizeof g);
		g.ctx_flags = flags;
		g.numa0 = numa0;
	}
}

/* ------------------------------------------------------------------ */
/* the sequences                                                         */

struct seq {
	const char *name;
	void (*setup)(void);  /* unarmed */
	int (*call)(void);    /* armed: the calls under test */
	void (*check)(void);  /* unarmed, after the calls completed */
};

static void need_ok(int rc)
{
	ZT_CREQ_MSG(rc == 0, "setup (unarmed) failed: %d", rc);
}

static void setup_none(void)
{
}

/* a rule that never fires (p2p_bar is not built): zc_ctx_create parses it */
static void setup_fault_env(void)
{
	ZT_CREQ(setenv("ZC_FAULT", "p2p_bar:reg:EIO", 1) == 0);
}

static void setup_ctx(void)
{
	need_ok(do_ctx());
}

static void setup_files(void)
{
	setup_ctx();
	need_ok(do_files());
}

static void setup_regs(void)
{
	setup_files();
	need_ok(do_plains());
}

static void setup_queue(void)
{
	setup_regs();
	need_ok(do_queue());
}

static void setup_events(void)
{
	ZT_CREQ(setenv("ZC_FAULT", "uring_fixed:io:EIO", 1) == 0);
	setup_regs();
	unsetenv("ZC_FAULT");
	/* an io fault on uring_fixed posts ZC_EVENT_FALLBACK */
	g.read_done[T_TMPFS] = 0;
	need_ok(do_rw());
	memset(g.read_done, 0, sizeof g.read_done);
	memset(g.write_done, 0, sizeof g.write_done);
}

static int call_ctx(void)
{
	return do_ctx();
}

static void check_ctx(void)
{
	struct zc_backend_info bi;

	ZT_CREQ(zc_ctx_query(g.ctx, ZC_BACKEND_BOUNCE, &bi) == 0 && bi.available);
	ZT_CREQ(zc_ctx_query(g.ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	/* an allocation failure may leave io_uring unused by this context;
	 * it must say why */
	if (zt_uring_expected() && !(g.ctx_flags & ZC_CTX_NO_URING) && !bi.available)
		ZT_CREQ_MSG(strstr(bi.reason, "memory"), "uring_fixed unavailable after an "
			    "allocation failure, reason \"%s\"", bi.reason);
	setup_regs();
	need_ok(do_rw());
	check_rw();
}

static int call_files(void)
{
	return do_files();
}

static void check_files(void)
{
	for (int i = 0; i < T_MAX; i++) {
		struct zc_file_info fi;

		if (!g.t[i].f)
			continue;
		ZT_CREQ(zc_file_query(g.t[i].f, &fi, sizeof fi) == 0);
		ZT_CREQ(fi.file_size == F_SIZE && (fi.flags & ZC_FILE_REGULAR));
	}
	need_ok(do_plains());
	need_ok(do_rw());
	check_rw();
}

static int call_plains(void)
{
	return do_plains();
}

static void check_plains(void)
{
	need_ok(do_rw());
	check_rw();
}

static int call_maps(void)
{
	return do_maps();
}

static void check_map_regs(void)
{
	check_maps();
}

static int call_queue(void)
{
	return do_queue();
}

static void check_queue(void)
{
	need_ok(do_async());
	check_async();
}

static int call_async(void)
{
	return do_async();
}

static int call_rw(void)
{
	return do_rw();
}

static int call_events(void)
{
	return do_events();
}

/* whether an O_DIRECT transfer of len bytes between file offset off and
 * g.mem[i] + mem_off has a middle aligned for the file's device, which the
 * library moves with the registration's own buffer: on a virtio disk (512
 * byte memory alignment) do_rw's transfers have none, on NVMe (4 bytes)
 * its write has */
static bool direct_middle(int i, uint64_t off, uint64_t mem_off, uint64_t len)
{
	struct zc_file_info fi;
	uint64_t start, end;

	ZT_CREQ(zc_file_query(g.t[i].f, &fi, sizeof fi) == 0);
	ZT_CREQ(fi.dio_offset_align && fi.dio_mem_align);
	start = (off + fi.dio_offset_align - 1) / fi.dio_offset_align * fi.dio_offset_align;
	end = (off + len) / fi.dio_offset_align * fi.dio_offset_align;
	return end > start && (mem_off + (start - off)) % fi.dio_mem_align == 0;
}

static void check_events(void)
{
	int want = 0;

	/* one ZC_EVENT_FALLBACK per registration whose I/O left its fixed
	 * buffer in setup_events (on O_DIRECT only where part of do_rw's
	 * unaligned I/O was not staged) */
	for (int i = 0; i < T_MAX; i++) {
		if (!g.plain[i] || zc_reg_backend(g.plain[i]) != ZC_BACKEND_URING_FIXED)
			continue;
		if (i == T_DIRECT && !direct_middle(i, RD_OFF + 1, RW_RD_AT + 5, RD_LEN) &&
		    !direct_middle(i, RW_WR_OFF, 50001, WR_LEN))
			continue;
		want++;
	}
	ZT_CREQ_MSG(g.events_seen == want, "%d events, expected %d ZC_EVENT_FALLBACK",
		    g.events_seen, want);
}

static int call_stats(void)
{
	return do_stats();
}

static void check_nothing(void)
{
}

/* everything, from zc_ctx_create to zc_ctx_destroy */
static int call_all(void)
{
	int rc;

	if ((rc = do_ctx()) || (rc = do_files()) || (rc = do_plains()) || (rc = do_maps()) ||
	    (rc = do_queue()) || (rc = do_async()) || (rc = do_rw()) || (rc = do_events()) ||
	    (rc = do_stats()))
		return rc;
	return 0;
}

static void check_all(void)
{
	check_async();
	check_rw();
	check_maps();
}

static const struct seq g_seqs[] = {
	{ "ctx", setup_fault_env, call_ctx, check_ctx },
	{ "file", setup_ctx, call_files, check_files },
	{ "reg", setup_files, call_plains, check_plains },
	{ "reg_map", setup_files, call_maps, check_map_regs },
	{ "queue", setup_regs, call_queue, check_queue },
	{ "async", setup_queue, call_async, check_async },
	{ "read", setup_regs, call_rw, check_rw },
	{ "events", setup_events, call_events, check_events },
	{ "stats", setup_ctx, call_stats, check_nothing },
	{ "all", setup_none, call_all, check_all },
};
static const struct seq *g_s;

/* ------------------------------------------------------------------ */
/* the loop                                                              */

struct counts {
	int fds, maps;
	int64_t vm_pin_kb;
	long live;
};

static void counts_take(struct counts *c)
{
	c->fds = zt_fd_count();
	c->maps = zt_map_count_noheap();
	c->vm_pin_kb = zt_vm_pin_kb();
	c->live = atomic_load(&g_live);
}

/* valgrind's own allocator maps memory at will: mapping counts then say
 * nothing about the library (its leak check covers the heap) */
static int under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

/* is libibverbs mapped into this process? */
static bool verbs_loaded(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "/libibverbs.so") != NULL;
	fclose(f);
	return found;
}

static void counts_same(const struct counts *a, long n, const char *mode)
{
	struct counts b;

	counts_take(&b);
	/* the kernel unpins a ring's buffers in a work item after its close */
	for (int i = 0; i < 300 && b.vm_pin_kb != a->vm_pin_kb; i++) {
		usleep(10000);
		b.vm_pin_kb = zt_vm_pin_kb();
	}
	ZT_CREQ_MSG(b.fds == a->fds, "%s N=%ld: open fds %d -> %d", mode, n, a->fds, b.fds);
	if (zt_maps_meaningful() && !under_valgrind())
		ZT_CREQ_MSG(b.maps == a->maps, "%s N=%ld: /proc/self/maps lines %d -> %d", mode, n,
			    a->maps, b.maps);
	ZT_CREQ_MSG(b.vm_pin_kb == a->vm_pin_kb, "%s N=%ld: VmPin %lld -> %lld kB", mode, n,
		    (long long)a->vm_pin_kb, (long long)b.vm_pin_kb);
	/* With an RDMA device present (the tests/vm guest), libibverbs keeps
	 * a process-wide cache of its devices; an allocation failing inside
	 * ibv_get_device_list's rescan drops cached devices allocated before
	 * the count was taken, so fewer blocks are live, never more. */
	if (b.live < a->live && verbs_loaded())
		printf("oom.%s N=%ld: libibverbs freed %ld cached blocks\n", mode, n,
		       a->live - b.live);
	else
		ZT_CREQ_MSG(b.live == a->live, "%s N=%ld: %ld heap blocks leaked", mode, n,
			    b.live - a->live);
}

static const char *g_mode = "?";

static void exit_hook(void)
{
	/* our own failures use _exit(); exit() here came from inside the
	 * process's libraries while an allocation failed */
	fprintf(stderr, "oom.%s: exit() called during %s N=%ld (allocation #%ld failed): a "
		"library ended the process on an allocation failure\n", g_seq, g_mode,
		g_iter ? *g_iter : -1L, g_iter ? *g_iter : -1L);
}

/* one full pass of the sequence; returns how many allocations failed */
static long pass(long n, int persist)
{
	long fired;
	int rc;

	g_s->setup();
	if (n)
		arm(n, persist);
	rc = g_s->call();
	fired = disarm();
	if (rc) {
		ZT_CREQ_MSG(fired, "%s failed (%d) with no allocation failure", g_seq, rc);
		/* resume unarmed: the library state must let it complete */
		rc = g_s->call();
		ZT_CREQ_MSG(rc == 0, "%s N=%ld: resuming the sequence unarmed failed: %d (%s)",
			    g_mode, n, rc, strerror(-rc));
	}
	g_s->check();
	teardown();
	return fired;
}

static long loop(int persist, const char *mode)
{
	struct counts c0;
	struct zt_res r0;
	long n, max_seen;

	g_mode = mode;
	/* a pass without failures: what glibc keeps after first use is made
	 * now, and the number of allocations the calls make is counted */
	pass(0, 0);
	g_s->setup();
	arm(LONG_MAX, 0);
	ZT_CREQ_MSG(g_s->call() == 0, "%s: the calls fail without an allocation failure", g_seq);
	max_seen = atomic_load(&g_seen);
	disarm();
	g_s->check();
	teardown();
	zt_res_snap(&r0);
	counts_take(&c0);
	for (n = 1;; n++) {
		long fired;

		*g_iter = n;
		fired = pass(n, persist);
		counts_same(&c0, n, g_mode);
		if (!fired)
			break;
		ZT_CREQ_MSG(n < 100000, "no end to the allocations");
	}
	if (under_valgrind()) {
		/* no mapping counts (see under_valgrind) */
		char why[512];
		struct zt_res r1 = r0;

		r1.maps = zt_map_count_noheap();
		if (zt_res_check(&r1, 3000, why, sizeof why) && !strstr(why, "maps lines"))
			zt_child_fail(__FILE__, __LINE__, "leak: %s", why);
	} else {
		ZT_CREQ_NO_LEAK(&r0);
	}
	printf("oom.%s: %s: %ld allocations in the calls; passes 1..%ld failed the Nth, all "
	       "succeeded or returned -ENOMEM and were resumed; nothing leaked\n", g_seq, g_mode,
	       max_seen, n - 1);
	return n;
}

static int child_once(void *arg)
{
	(void)arg;
	atexit(exit_hook);
	loop(0, "once");
	return 0;
}

static int child_persist(void *arg)
{
	(void)arg;
	atexit(exit_hook);
	loop(1, "persist");
	return 0;
}

/* the plain-syscall paths, and staging and copies placed with libnuma */
static int child_numa(void *arg)
{
	(void)arg;
	atexit(exit_hook);
	g.ctx_flags = ZC_CTX_NO_URING;
	g.numa0 = 1;
	loop(0, "once, ZC_CTX_NO_URING, numa_node 0");
	return 0;
}

START_TEST(test_oom_nth_allocation_fails)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_once, NULL));
}
END_TEST

START_TEST(test_oom_nth_and_later_allocations_fail)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_persist, NULL));
}
END_TEST

START_TEST(test_oom_nth_allocation_fails_no_uring_numa_node_0)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_numa, NULL));
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;
	int ret;

	g_seq = argc > 1 ? argv[1] : "";
	for (size_t i = 0; i < ZT_ARRAY_SIZE(g_seqs); i++)
		if (!strcmp(g_seqs[i].name, g_seq))
			g_s = &g_seqs[i];
	if (!g_s) {
		fprintf(stderr, "usage: %s <sequence>, one of:", argv[0]);
		for (size_t i = 0; i < ZT_ARRAY_SIZE(g_seqs); i++)
			fprintf(stderr, " %s", g_seqs[i].name);
		fputc('\n', stderr);
		return 2;
	}
	zt_init();
	if (!ZT_OWN_MALLOC)
		zt_skip("oom.%s: built with a sanitizer, whose runtime owns malloc; run this "
			"suite in a build without ZC_SANITIZE (and under valgrind for leaks)", g_seq);
	g_iter = mmap(NULL, sizeof *g_iter, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (g_iter == MAP_FAILED)
		zt_skip("oom: no shared mapping");
	files_make();
	if (!g_files[T_TMPFS].dir && !g_files[T_EXT4].dir)
		zt_skip("oom.%s: neither tmpfs nor ext4 here", g_seq);
	s = suite_create("oom");
	tc = zt_tcase(g_seq);
	tcase_add_test(tc, test_oom_nth_allocation_fails);
	tcase_add_test(tc, test_oom_nth_and_later_allocations_fail);
	tcase_add_test(tc, test_oom_nth_allocation_fails_no_uring_numa_node_0);
	suite_add_tcase(s, tc);
	ret = zt_run_suite(s);
	files_remove();
	return ret;
}
