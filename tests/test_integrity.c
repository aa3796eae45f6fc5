/* SPDX-License-Identifier: MIT */
/* No byte lost, no foreign file touched, no crash inside the library.
 * argv[1]:
 *   writers   threads zc_write their own chunks (lengths not a multiple
 *             of the block size) of a new O_DIRECT ext4 file: every chunk
 *             reads back, the file ends where the last chunk does
 *   fd        the caller closes its fd and the number is reused by another
 *             file or a pipe: the library keeps acting on the file it was
 *             given (reads, writes, MAP_FILE, queued I/O, queue destroy,
 *             lease release)
 *   append.<tmpfs|ext4|ext4_direct>
 *             an fd opened O_APPEND: writes (sync, queued, staged, zc_sync
 *             of a MAP_FILE copy) land at the offset asked, or fail with
 *             EOPNOTSUPP where the kernel lacks RWF_NOAPPEND
 *   readonly  a MAP_FILE registration without ZC_ACCESS_WRITE, on every
 *             backend: read-only memory, zc_sync/zc_read/zc_prep_read say
 *             EACCES, the file is never written
 *   unmapped  registered memory unmapped or made inaccessible, then
 *             unaligned O_DIRECT I/O (sync and queued): EFAULT, no crash
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define F_SIZE (256 * 1024 + 123)
#define SEED 31u
#define SEED_B 32u
#define SEED_W 33u

static const char *g_variant;
static const char *g_dir;

static struct zc_ctx *ctx_with(unsigned flags)
{
	struct zc_ctx *ctx;

	ck_assert_int_eq(zt_ctx(0, flags, &ctx), 0);
	return ctx;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the backends a caller-memory registration can land on here */
static unsigned mem_backends(enum zc_backend *out)
{
	unsigned n = 0;

	out[n++] = ZC_BACKEND_BOUNCE;
	if (zt_uring_expected())
		out[n++] = ZC_BACKEND_URING_FIXED;
	return n;
}

/* ------------------------------------------------------------------ */
/* writers: concurrent O_DIRECT writes with staged edges                 */

#define W_CHUNK 5000u /* not a multiple of any block size */
#define W_CHUNKS 400u
#define W_THREADS 4u

struct writer {
	pthread_t tid;
	struct zc_reg *r;
	unsigned first;
	unsigned bad;
	ssize_t last_bad;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	/* each thread its own chunks, every n-th one in file order: the file
	 * grows under all of them at once, and every chunk has a staged head
	 * and tail in a block it shares with another thread's chunk */
	for (unsigned i = w->first; i < W_CHUNKS; i += W_THREADS) {
		ssize_t n = zc_write(w->r, (size_t)i * W_CHUNK, (uint64_t)i * W_CHUNK,
				     W_CHUNK);

		if (n != (ssize_t)W_CHUNK) {
			w->bad++;
			w->last_bad = n;
		}
	}
	return NULL;
}

/* own_files: every thread opens the file itself (its own descriptor and
 * zc_file), as independent parts of a program would */
static void writers_round(enum zc_backend be, bool own_files, unsigned round)
{
	const size_t total = (size_t)W_CHUNK * W_CHUNKS;
	struct writer w[W_THREADS];
	struct zc_file *f[W_THREADS];
	int fd[W_THREADS];
	struct zc_ctx *ctx = ctx_with(0);
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(total);
	ssize_t bad;

	ck_assert_ptr_nonnull(mem);
	zt_fill(mem, total, SEED_W + round, 0);
	fd[0] = zt_make_file(g_dir, 0, SEED, O_RDWR | O_DIRECT, path);
	ck_assert_int_ge(fd[0], 0);
	for (unsigned t = 0; t < W_THREADS; t++) {
		if (t && own_files) {
			fd[t] = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
			ck_assert_int_ge(fd[t], 0);
		}
		if (!t || own_files)
			ck_assert_int_eq(zc_file_open(ctx, fd[t], 0, &f[t]), 0);
		w[t] = (struct writer){ .first = t };
		ck_assert_int_eq(zt_reg_mem(own_files ? f[t] : f[0], mem, total, 0, 0,
					    ZC_BACKEND_BIT(be), &w[t].r), 0);
		ck_assert_int_eq(zc_reg_backend(w[t].r), be);
	}
	for (unsigned t = 0; t < W_THREADS; t++)
		ck_assert_int_eq(pthread_create(&w[t].tid, NULL, writer_main, &w[t]), 0);
	for (unsigned t = 0; t < W_THREADS; t++) {
		pthread_join(w[t].tid, NULL);
		ck_assert_msg(!w[t].bad, "%s, %s: thread %u: %u writes short or failed (%zd)",
			      zc_backend_name(be),
			      own_files ? "a zc_file per thread" : "one zc_file", t, w[t].bad,
			      w[t].last_bad);
	}
	for (unsigned t = 0; t < W_THREADS; t++)
		ck_assert_int_eq(zc_reg_destroy(w[t].r), 0);
	for (unsigned t = 0; t < W_THREADS; t++) {
		if (!t || own_files) {
			zc_file_close(f[t]);
			close(fd[t]);
		}
	}
	zc_ctx_destroy(ctx);
	ck_assert_int_eq(zt_file_size(path), (int64_t)total);
	bad = zt_verify_file(path, 0, total, SEED_W + round);
	ck_assert_msg(bad == -1, "%s, %s, round %u: byte %zd (chunk %zd) does not hold "
		      "what was written there", zc_backend_name(be),
		      own_files ? "a zc_file per thread" : "one zc_file", round, bad,
		      bad >= 0 ? bad / (ssize_t)W_CHUNK : -1);
	unlink(path);
	munmap(mem, total);
}

START_TEST(test_concurrent_direct_writers_lose_no_chunk)
{
	enum zc_backend be[2];
	unsigned n = mem_backends(be);
	struct zt_res res0;
	char why[512];

	/* the first round warms what stays (the threads' cached stacks) */
	writers_round(be[0], false, 0);
	zt_res_snap(&res0);
	for (unsigned i = 0; i < n; i++)
		for (unsigned round = i ? 0 : 1; round < 4; round++)
			writers_round(be[i], round % 2, round);
	ck_assert_msg(zt_res_check(&res0, 3000, why, sizeof why) == 0, "leak: %s", why);
}
END_TEST

/* single thread: unaligned appends, each past the end of the file, and
 * rewrites of the last partial block: the size is exactly the end */
START_TEST(test_unaligned_appends_end_where_the_write_ends)
{
	const size_t total = 64 * 1024;
	struct zc_ctx *ctx = ctx_with(0);
	struct zc_file *f;
	struct zc_reg *r;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(total);
	uint64_t end = 0;
	int fd;

	zt_fill(mem, total, SEED_W, 0);
	fd = zt_make_file(g_dir, 0, SEED, O_RDWR | O_DIRECT, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, total, 0, 0, 0, &r), 0);
	for (size_t len = 1; end + len <= total; len = len * 3 + 7) {
		ck_assert_int_eq(zc_write(r, end, end, len), (ssize_t)len);
		end += len;
		ck_assert_int_eq(zt_file_size(path), (int64_t)end);
		/* again, from a few bytes before the end: no growth */
		ck_assert_int_eq(zc_write(r, end - len / 2, end - len / 2, len / 2),
				 (ssize_t)(len / 2));
		ck_assert_int_eq(zt_file_size(path), (int64_t)end);
	}
	/* O_DIRECT reads see the page-cache writes */
	memset(mem, 0, total);
	ck_assert_int_eq(zc_read(r, 0, 0, end), (ssize_t)end);
	ck_assert_int_eq(zt_verify(mem, end, SEED_W, 0), -1);
	ck_assert_int_eq(zt_verify_file(path, 0, end, SEED_W), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	munmap(mem, total);
}
END_TEST

/* ------------------------------------------------------------------ */
/* fd: the caller's number reused                                        */

/* after the caller closed fd and another file took the number: reads,
 * writes, MAP_FILE and queued I/O act on the original file only */
static void reused_by_file(const char *dir, unsigned ctx_flags, enum zc_backend be)
{
	struct zc_ctx *ctx = ctx_with(ctx_flags);
	struct zc_file *f;
	struct zc_reg *r, *m;
	struct zc_queue *q;
	struct zc_completion c;
	char pa[PATH_MAX], pb[PATH_MAX];
	uint8_t *mem = zt_map_anon(65536);
	int fa, fb;

	fa = zt_make_file(dir, F_SIZE, SEED, O_RDWR, pa);
	ck_assert_int_ge(fa, 0);
	ck_assert_int_eq(zc_file_open(ctx, fa, 0, &f), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, 65536, 0, 0, ZC_BACKEND_BIT(be), &r), 0);
	ck_assert_int_eq(zc_queue_create(ctx, 4, 0, &q), 0);
	close(fa);
	fb = zt_make_file(dir, F_SIZE, SEED_B, O_RDWR, pb);
	ck_assert_msg(fb == fa, "precondition: the other file got fd %d, not %d", fb, fa);

	ck_assert_int_eq(zc_read(r, 0, 4096, 8192), 8192);
	ck_assert_int_eq(zt_verify(mem, 8192, SEED, 4096), -1);
	zt_fill(mem, 5000, SEED_W, 70000);
	ck_assert_int_eq(zc_write(r, 0, 70000, 5000), 5000);
	ck_assert_int_eq(zt_verify_file(pa, 70000, 5000, SEED_W), -1);
	memset(mem, 0, 8192);
	ck_assert_int_eq(zc_prep_read(q, r, 0, 8192, 8192, 7), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, 8192);
	ck_assert_int_eq(zt_verify(mem, 8192, SEED, 8192), -1);
	zt_fill(mem, 4096, SEED_W, 120000);
	ck_assert_int_eq(zc_prep_write(q, r, 0, 120000, 4096, 8), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, 4096);
	ck_assert_int_eq(zt_verify_file(pa, 120000, 4096, SEED_W), -1);
	ck_assert_int_eq(zt_reg_map_file(f, 0, 8192, 0, 0, &m), 0);
	ck_assert_int_eq(zt_verify(zc_reg_addr(m), 8192, SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	/* the other file was never touched */
	ck_assert_int_eq(zt_verify_file(pb, 0, F_SIZE, SEED_B), -1);
	ck_assert_int_eq(zt_file_size(pb), F_SIZE);

	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fb);
	/* the descriptor the library kept is gone with zc_file_close: the
	 * file's last reference, so its lease state is clean */
	unlink(pa);
	unlink(pb);
	munmap(mem, 65536);
}

/* what the library keeps for the process once used (a cached thread
 * stack of the lease monitor, lazily loaded code): there before a check */
static void warm_up(void)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *m;
	char path[PATH_MAX];
	int fd;

	if (zt_ctx(0, 0, &ctx))
		return;
	fd = zt_make_file(g_dir, F_SIZE, SEED, O_RDWR, path);
	if (fd >= 0 && !zc_file_open(ctx, fd, 0, &f)) {
		if (!zt_reg_map_file(f, 0, 65536, 0, 0, &m))
			zc_reg_destroy(m);
		zc_file_close(f);
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	zc_ctx_destroy(ctx);
}

START_TEST(test_closed_fd_reused_by_another_file)
{
	const char *dirs[2] = { zt_tmpfs_dir(NULL), zt_ext4_dir(NULL) };
	enum zc_backend be[2];
	unsigned n = mem_backends(be);
	struct zt_res res0;
	char why[512];

	zt_res_snap(&res0);
	for (unsigned d = 0; d < 2; d++) {
		if (!dirs[d])
			continue;
		reused_by_file(dirs[d], ZC_CTX_NO_URING, ZC_BACKEND_BOUNCE);
		for (unsigned i = 0; i < n; i++)
			reused_by_file(dirs[d], 0, be[i]);
	}
	ck_assert_msg(zt_res_check(&res0, 3000, why, sizeof why) == 0, "leak: %s", why);
}
END_TEST

/* A process whose fd limit is below the fixed-file table: queued ops name
 * the file by number. The caller closes its fd, a pipe takes the number;
 * a queued read must still read the file, and the queue destroy return. */
static int pipe_reuse_child(void *arg)
{
	const bool reap_first = arg != NULL;
	struct rlimit rl = { 256, 256 };
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(65536);
	int fd, p[2];

	alarm(60); /* a hang is a failure, reported as SIGALRM */
	/* valgrind keeps descriptors of its own at the top of the table and
	 * refuses a limit below them: the case then runs at the usual limit */
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		printf("integrity.fd: setrlimit(RLIMIT_NOFILE, 256): %s; pipe case at "
		       "the usual limit\n", strerror(errno));
	ZT_CREQ(zt_ctx(0, 0, &ctx) == 0);
	fd = zt_make_file(g_dir, F_SIZE, SEED, O_RDWR, path);
	ZT_CREQ(fd >= 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r) == 0);
	ZT_CREQ(zc_queue_create(ctx, 4, 0, &q) == 0);
	close(fd);
	ZT_CREQ(pipe(p) == 0);
	ZT_CREQ_MSG(p[0] == fd || p[1] == fd, "precondition: pipe got %d,%d not %d",
		    p[0], p[1], fd);
	ZT_CREQ(zc_prep_read(q, r, 0, 0, 4096, 1) == 0);
	ZT_CREQ(zc_submit(q) == 1);
	if (reap_first) {
		ZT_CREQ_MSG(zc_reap(q, &c, 1, 1, 10000) == 1,
			    "the queued read did not complete in 10 s");
		ZT_CREQ_MSG(c.res == 4096, "queued read: %lld", (long long)c.res);
		ZT_CREQ(zt_verify(mem, 4096, SEED, 0) == -1);
	}
	zc_queue_destroy(q); /* must return: nothing reads the pipe */
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	unlink(path);
	return 0;
}

START_TEST(test_fd_reused_by_a_pipe_queued_read_and_destroy_return)
{
	ZT_CK_CHILD_OK(zt_fork_run(pipe_reuse_child, (void *)1));
	ZT_CK_CHILD_OK(zt_fork_run(pipe_reuse_child, NULL));
}
END_TEST

static long lease_break_time(void)
{
	FILE *fp = fopen("/proc/sys/fs/lease-break-time", "re");
	long v = -1;

	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

/* open(path) in a child; the child's exit status says whether it took
 * under `limit` seconds */
static const char *g_open_path;
static double g_open_limit;
static int timed_open_child(void *arg)
{
	double t0 = now_s(), dt;
	int fd;

	(void)arg;
	fd = open(g_open_path, O_RDWR | O_CLOEXEC);
	dt = now_s() - t0;
	ZT_CREQ_MSG(fd >= 0, "open: %s", strerror(errno));
	printf("integrity.fd: the breaker's open took %.1f ms\n", dt * 1e3);
	ZT_CREQ_MSG(dt < g_open_limit, "the breaker's open waited %.1f s: the lease was "
		    "not released", dt);
	close(fd);
	return 0;
}

/* the revocation of r finished (its ZC_EVENT_REVOKED is posted) */
static void wait_revoked(struct zc_ctx *ctx, const struct zc_reg *r)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	double until = now_s() + 30;

	ck_assert_int_ge(pfd.fd, 0);
	while (now_s() < until) {
		struct zc_event ev[8];
		int n;

		poll(&pfd, 1, 100);
		n = zc_ctx_events(ctx, ev, 8);
		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n; i++)
			if (ev[i].type == ZC_EVENT_REVOKED && ev[i].reg == r)
				return;
	}
	ck_abort_msg("no ZC_EVENT_REVOKED within 30 s of the break");
}

/* pin_lease, the caller closes its fd, another process opens the file:
 * the lease is released at once through the library's own reference */
START_TEST(test_lease_released_after_the_caller_closed_its_fd)
{
	const char *tmp = zt_tmpfs_dir(NULL);
	long lbt = lease_break_time();
	struct zt_res res0;
	char why[512];

	if (!tmp || !zt_pin_lease_expected()) {
		printf("integrity.fd: no tmpfs or no pin_lease here: lease case skipped\n");
		return;
	}
	if (lbt < 6) {
		printf("integrity.fd: fs.lease-break-time is %ld s: a held lease cannot be "
		       "told from a released one; lease case skipped\n", lbt);
		return;
	}
	zt_res_snap(&res0);
	for (unsigned flags = 0; flags < 2; flags++) {
		struct zc_reg_params p;
		struct zc_ctx *ctx = ctx_with(0);
		struct zc_file *f;
		struct zc_reg *m;
		char path[PATH_MAX];
		int fd = zt_make_file(tmp, F_SIZE, SEED, O_RDWR, path);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_BACKENDS;
		p.length = 65536;
		p.flags = ZC_REG_MAP_FILE | (flags ? ZC_REG_NO_FALLBACK : 0);
		p.backends = ZC_BACKEND_BIT(ZC_BACKEND_PIN_LEASE) |
			     ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE);
		ck_assert_int_eq(zc_reg_create(f, &p, &m), 0);
		ck_assert_int_eq(zc_reg_backend(m), ZC_BACKEND_PIN_LEASE);
		close(fd);
		g_open_path = path;
		g_open_limit = lbt / 2.0 < 5.0 ? lbt / 2.0 : 5.0;
		ZT_CK_CHILD_OK(zt_fork_run(timed_open_child, NULL));
		/* the lease goes first, the copy and the backend switch after */
		wait_revoked(ctx, m);
		if (flags) {
			ck_assert_int_eq(zc_read(m, 0, 0, 4096), -EKEYREVOKED);
		} else {
			ck_assert_int_eq(zc_reg_backend(m), ZC_BACKEND_BOUNCE);
			ck_assert_int_eq(zt_verify(zc_reg_addr(m), 65536, SEED, 0), -1);
		}
		ck_assert_int_eq(zc_reg_destroy(m), 0);
		zc_file_close(f);
		zc_ctx_destroy(ctx);
		unlink(path);
	}
	ck_assert_msg(zt_res_check(&res0, 3000, why, sizeof why) == 0, "leak: %s", why);
}
END_TEST

/* ------------------------------------------------------------------ */
/* append: O_APPEND descriptors                                          */

static int g_append_direct;

/* the file still F_SIZE long, holding SEED except [off, off+len) of w */
static void expect_written(const char *path, uint64_t off, size_t len)
{
	ck_assert_int_eq(zt_file_size(path), F_SIZE);
	ck_assert_int_eq(zt_verify_file(path, 0, off, SEED), -1);
	ck_assert_int_eq(zt_verify_file(path, off, len, SEED_W), -1);
	ck_assert_int_eq(zt_verify_file(path, off + len, F_SIZE - off - len, SEED), -1);
}

/* a write at off: written there (true), or refused with EOPNOTSUPP with
 * the file as it was (false, a kernel without RWF_NOAPPEND) */
static bool append_case(const char *path, ssize_t n, uint64_t off, size_t len,
			const char *what)
{
	if (n == -EOPNOTSUPP) {
		printf("integrity.append: %s: EOPNOTSUPP (no RWF_NOAPPEND here)\n", what);
		ck_assert_int_eq(zt_file_size(path), F_SIZE);
		ck_assert_int_eq(zt_verify_file(path, 0, F_SIZE, SEED), -1);
		return false;
	}
	ck_assert_msg(n == (ssize_t)len, "%s: %zd", what, n);
	expect_written(path, off, len);
	return true;
}

static void append_backend(enum zc_backend be)
{
	const int oflags = O_RDWR | O_APPEND | (g_append_direct ? O_DIRECT : 0);
	struct { uint64_t off; size_t len; } cases[] = {
		{ 0, 4096 }, { 1000, 3000 }, { 8192, 65536 }, { 4095, 2 },
	};
	struct zc_ctx *ctx = ctx_with(0);
	struct zc_file *f;
	struct zc_reg *r, *m;
	struct zc_queue *q;
	struct zc_completion c;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(F_SIZE);
	int fd;

	ck_assert_int_eq(zc_queue_create(ctx, 4, 0, &q), 0);
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const uint64_t off = cases[i].off;
		const size_t len = cases[i].len;

		for (unsigned queued = 0; queued < 2; queued++) {
			ssize_t n;

			fd = zt_make_file(g_dir, F_SIZE, SEED, oflags, path);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
			ck_assert_int_eq(zt_reg_mem(f, mem, F_SIZE, 0, 0, ZC_BACKEND_BIT(be),
						    &r), 0);
			zt_fill(mem + off, len, SEED_W, off);
			if (queued) {
				ck_assert_int_eq(zc_prep_write(q, r, off, off, len, 1), 0);
				ck_assert_int_eq(zc_submit(q), 1);
				ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
				n = (ssize_t)c.res;
			} else {
				n = zc_write(r, off, off, len);
			}
			append_case(path, n, off, len, queued ? "zc_prep_write" : "zc_write");
			ck_assert_int_eq(zc_reg_destroy(r), 0);
			zc_file_close(f);
			close(fd);
			unlink(path);
		}
	}
	/* a MAP_FILE copy written back by zc_sync */
	fd = zt_make_file(g_dir, F_SIZE, SEED, oflags, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_map_file(f, 0, 65536, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE),
					 &m), 0);
	zt_fill((uint8_t *)zc_reg_addr(m) + 1000, 5000, SEED_W, 1000);
	append_case(path, zc_sync(m, 1000, 5000) ? -EOPNOTSUPP : 5000, 1000, 5000,
		    "zc_sync of a MAP_FILE copy");
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	zc_file_close(f);
	close(fd);
	unlink(path);
	zc_queue_destroy(q);
	zc_ctx_destroy(ctx);
	munmap(mem, F_SIZE);
}

START_TEST(test_append_fd_writes_land_at_the_offset_asked)
{
	enum zc_backend be[2];
	unsigned n = mem_backends(be);

	for (unsigned i = 0; i < n; i++)
		append_backend(be[i]);
}
END_TEST

/* ------------------------------------------------------------------ */
/* readonly: MAP_FILE without ZC_ACCESS_WRITE                            */

/* the permissions of the mapping holding addr in /proc/self/maps */
static void maps_perms(const void *addr, char perms[5])
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[512];

	strcpy(perms, "????");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			strcpy(perms, p);
			break;
		}
	}
	fclose(fp);
}

static void *g_store_at;
static int store_child(void *arg)
{
	(void)arg;
	signal(SIGSEGV, SIG_DFL); /* a sanitizer's handler would exit instead */
	*(volatile uint8_t *)g_store_at = 0x5a;
	return 0; /* the store went through: the parent reports it */
}

static void readonly_backend(enum zc_backend be)
{
	struct zc_ctx *ctx = ctx_with(0);
	struct zc_file *f;
	struct zc_reg *m;
	struct zc_queue *q;
	char path[PATH_MAX], perms[5], sb[64];
	int fd, st;

	fd = zt_make_file(g_dir, F_SIZE, SEED, O_RDWR, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_map_file(f, 4096, 65536, ZC_ACCESS_READ, ZC_BACKEND_BIT(be),
					 &m), 0);
	ck_assert_int_eq(zc_reg_backend(m), be);
	ck_assert_int_eq(zt_verify(zc_reg_addr(m), 65536, SEED, 4096), -1);
	maps_perms(zc_reg_addr(m), perms);
	ck_assert_msg(perms[1] == '-', "%s: a read-only registration is mapped %s",
		      zc_backend_name(be), perms);
	g_store_at = (uint8_t *)zc_reg_addr(m) + 100;
	st = zt_fork_run(store_child, NULL);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "%s: a store into a read-only registration: %s", zc_backend_name(be),
		      zt_status_str(st, sb, sizeof sb));
	ck_assert_int_eq(zc_sync(m, 0, 0), -EACCES);
	ck_assert_int_eq(zc_sync(m, 100, 200), -EACCES);
	ck_assert_int_eq(zc_read(m, 0, 8192, 4096), -EACCES);
	ck_assert_int_eq(zc_write(m, 0, 8192, 4096), -EACCES);
	ck_assert_int_eq(zc_queue_create(ctx, 2, 0, &q), 0);
	ck_assert_int_eq(zc_prep_read(q, m, 0, 8192, 4096, 1), -EACCES);
	ck_assert_int_eq(zc_prep_write(q, m, 0, 8192, 4096, 2), -EACCES);
	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	ck_assert_int_eq(zt_verify_file(path, 0, F_SIZE, SEED), -1);
	unlink(path);
}

START_TEST(test_readonly_map_file_is_read_only_on_every_backend)
{
	readonly_backend(ZC_BACKEND_BOUNCE);
	if (zt_uring_expected() && zt_fs_magic(g_dir) == 0x01021994ul)
		readonly_backend(ZC_BACKEND_URING_FIXED);
	if (zt_pin_lease_expected() && zt_fs_magic(g_dir) == 0x01021994ul)
		readonly_backend(ZC_BACKEND_PIN_LEASE);
}
END_TEST

/* with ZC_ACCESS_WRITE the memory stays writable and zc_sync works */
START_TEST(test_writable_map_file_still_writes_back)
{
	struct zc_ctx *ctx = ctx_with(0);
	struct zc_file *f;
	struct zc_reg *m;
	char path[PATH_MAX], perms[5];
	int fd = zt_make_file(g_dir, F_SIZE, SEED, O_RDWR, path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_map_file(f, 0, 65536, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0,
					 &m), 0);
	maps_perms(zc_reg_addr(m), perms);
	ck_assert_msg(perms[1] == 'w', "a writable registration is mapped %s", perms);
	zt_fill((uint8_t *)zc_reg_addr(m) + 100, 1000, SEED_W, 100);
	ck_assert_int_eq(zc_sync(m, 100, 1000), 0);
	ck_assert_int_eq(zt_verify_file(path, 100, 1000, SEED_W), -1);
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* unmapped: caller memory gone under a registration                     */

static void unmapped_backend(enum zc_backend be, bool really_unmap)
{
	const size_t len = 256 * 1024;
	struct zc_ctx *ctx = ctx_with(0);
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(len);
	int fd = zt_make_file(g_dir, F_SIZE, SEED, O_RDWR | O_DIRECT, path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, len, 0, 0, ZC_BACKEND_BIT(be), &r), 0);
	ck_assert_int_eq(zc_queue_create(ctx, 2, 0, &q), 0);
	/* staging memory exists before the caller's goes away, so that the
	 * library's own mappings cannot take its place */
	ck_assert_int_eq(zc_read(r, 1, 1, 4096), 4096);
	if (really_unmap) {
		unsigned char v;

		ck_assert_int_eq(munmap(mem, len), 0);
		/* any mapping made from now on (an allocator's, a sanitizer's)
		 * may land in the hole: judge only while it is still a hole,
		 * then keep it one, inaccessible, for the calls below */
		if (mincore(mem, 4096, &v) < 0 && errno == ENOMEM)
			ck_assert_int_eq(zc_read(r, 1, 1, 4096), -EFAULT);
		if (mmap(mem, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0) != mem) {
			printf("integrity.unmapped: another mapping took the unmapped range; "
			       "the rest of this case is not judged\n");
			zc_queue_destroy(q);
			ck_assert_int_eq(zc_reg_destroy(r), 0);
			zc_file_close(f);
			zc_ctx_destroy(ctx);
			close(fd);
			unlink(path);
			return;
		}
	} else {
		ck_assert_ptr_eq(mmap(mem, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				      MAP_FIXED, -1, 0), mem);
	}

	ck_assert_int_eq(zc_read(r, 1, 1, 4096), -EFAULT);
	ck_assert_int_eq(zc_read(r, 0, 100, 8192), -EFAULT);
	ck_assert_int_eq(zc_write(r, 1, 1, 4096), -EFAULT);
	ck_assert_int_eq(zc_write(r, 512, 4196, 9000), -EFAULT);
	/* a partial last block past the end: the page-cache path */
	ck_assert_int_eq(zc_write(r, 0, F_SIZE + 10, 100), -EFAULT);
	ck_assert_int_eq(zc_prep_read(q, r, 1, 1, 4096, 1), 0);
	ck_assert_int_eq(zc_prep_write(q, r, 3, 3, 4096, 2), 0);
	ck_assert_int_eq(zc_submit(q), 2);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, -EFAULT);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, -EFAULT);
	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	ck_assert_int_eq(zt_file_size(path), F_SIZE);
	ck_assert_int_eq(zt_verify_file(path, 0, F_SIZE, SEED), -1);
	unlink(path);
	munmap(mem, len);
}

START_TEST(test_unmapped_memory_gives_efault_on_staged_io)
{
	enum zc_backend be[2];
	unsigned n = mem_backends(be);

	for (unsigned i = 0; i < n; i++) {
		unmapped_backend(be[i], false);
		unmapped_backend(be[i], true);
	}
}
END_TEST

/* ------------------------------------------------------------------ */

static void need_direct(const char *what)
{
	const char *why = NULL;
	char reason[256];

	g_dir = zt_ext4_dir(&why);
	if (!g_dir)
		zt_skip("integrity.%s: needs ext4: %s", what, why);
	if (!zt_odirect_works(g_dir, reason, sizeof reason))
		zt_skip("integrity.%s: O_DIRECT does not work on ext4 here: %s", what, reason);
}

/* tmpfs where there is one (pin_lease needs it), else ext4 */
static void need_any_dir(const char *what)
{
	const char *why = NULL, *why4 = NULL;

	g_dir = zt_tmpfs_dir(&why);
	if (!g_dir)
		g_dir = zt_ext4_dir(&why4);
	if (!g_dir)
		zt_skip("integrity.%s: neither tmpfs (%s) nor ext4 (%s)", what, why, why4);
}

int main(int argc, char **argv)
{
	const char *why = NULL;
	Suite *s;
	TCase *tc;

	g_variant = argc > 1 ? argv[1] : "";
	zt_init();
	s = suite_create("integrity");
	tc = zt_tcase(g_variant);
	if (!strcmp(g_variant, "writers")) {
		need_direct(g_variant);
		tcase_add_test(tc, test_concurrent_direct_writers_lose_no_chunk);
		tcase_add_test(tc, test_unaligned_appends_end_where_the_write_ends);
	} else if (!strcmp(g_variant, "fd")) {
		need_any_dir(g_variant);
		warm_up();
		tcase_add_test(tc, test_closed_fd_reused_by_another_file);
		tcase_add_test(tc, test_fd_reused_by_a_pipe_queued_read_and_destroy_return);
		tcase_add_test(tc, test_lease_released_after_the_caller_closed_its_fd);
	} else if (!strncmp(g_variant, "append.", 7)) {
		const char *fs = g_variant + 7;

		if (!strcmp(fs, "tmpfs")) {
			g_dir = zt_tmpfs_dir(&why);
			if (!g_dir)
				zt_skip("integrity.%s: no tmpfs: %s", g_variant, why);
		} else if (!strcmp(fs, "ext4")) {
			g_dir = zt_ext4_dir(&why);
			if (!g_dir)
				zt_skip("integrity.%s: no ext4: %s", g_variant, why);
		} else if (!strcmp(fs, "ext4_direct")) {
			need_direct(g_variant);
			g_append_direct = 1;
		} else {
			fprintf(stderr, "unknown variant %s\n", g_variant);
			return 2;
		}
		tcase_add_test(tc, test_append_fd_writes_land_at_the_offset_asked);
	} else if (!strcmp(g_variant, "readonly")) {
		need_any_dir(g_variant);
		tcase_add_test(tc, test_readonly_map_file_is_read_only_on_every_backend);
		tcase_add_test(tc, test_writable_map_file_still_writes_back);
	} else if (!strcmp(g_variant, "unmapped")) {
		need_direct(g_variant);
		tcase_add_test(tc, test_unmapped_memory_gives_efault_on_staged_io);
	} else {
		fprintf(stderr, "usage: %s writers|fd|append.<tmpfs|ext4|ext4_direct>|"
			"readonly|unmapped\n", argv[0]);
		return 2;
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
