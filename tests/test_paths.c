/* SPDX-License-Identifier: MIT */
/*
 * Which request an operation became, as the kernel saw it. The io_uring
 * tracepoint io_uring:io_uring_submit_req names the opcode of every
 * request a ring submits; a private tracefs mount and instance, filtered
 * on the calling thread, show whether an O_DIRECT read went down as
 * READ_FIXED (the registration's fixed buffer), as READ (the same memory,
 * pinned by the kernel for that one I/O), or not through a ring at all.
 *
 * Variant: segments, on a uring_fixed registration of an O_DIRECT file.
 * Synchronous calls are pread/pwrite, whatever their size: no ring
 * request. A queued operation over more pages than the disk takes
 * segments in one request must not name the fixed buffer (the block layer
 * would split it); one within the limit must. Needs root (tracefs),
 * io_uring and an ext4 directory on a disk that reports
 * queue/max_segments; exits 77 with the reason otherwise.
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define F_SEED 77u
#define PAGE 4096u

static const char *g_dir;
static char g_path[PATH_MAX];
static char g_tracefs[PATH_MAX]; /* our own mount of tracefs */
static pid_t g_mounter;          /* Check's forked children leave it alone */
static unsigned g_max_segs;
static size_t g_file_size;

/* ------------------------------------------------------------------ */
/* a tracefs instance that records io_uring_submit_req of one thread    */

struct trace {
	char dir[PATH_MAX + 64];
};

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static void trace_start(struct trace *t)
{
	char p[PATH_MAX + 128], filter[64];

	snprintf(t->dir, sizeof t->dir, "%s/instances/zt-paths-%d", g_tracefs,
		 (int)getpid());
	ck_assert_msg(mkdir(t->dir, 0700) == 0, "mkdir %s: %s", t->dir, strerror(errno));
	snprintf(filter, sizeof filter, "common_pid == %d", (int)gettid());
	snprintf(p, sizeof p, "%s/events/io_uring/io_uring_submit_req/filter", t->dir);
	ck_assert_int_eq(write_str(p, filter), 0);
	snprintf(p, sizeof p, "%s/events/io_uring/io_uring_submit_req/enable", t->dir);
	ck_assert_int_eq(write_str(p, "1"), 0);
}

/* stop, count the requests of each opcode, remove the instance */
static void trace_stop(struct trace *t, unsigned *read_fixed, unsigned *read_plain,
		       unsigned *write_fixed, unsigned *write_plain)
{
	char p[PATH_MAX + 128], line[512];
	FILE *f;

	snprintf(p, sizeof p, "%s/events/io_uring/io_uring_submit_req/enable", t->dir);
	ck_assert_int_eq(write_str(p, "0"), 0);
	snprintf(p, sizeof p, "%s/trace", t->dir);
	f = fopen(p, "re");
	ck_assert_ptr_nonnull(f);
	*read_fixed = *read_plain = *write_fixed = *write_plain = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
		if (strstr(line, "opcode READ_FIXED,"))
			++*read_fixed;
		else if (strstr(line, "opcode READ,"))
			++*read_plain;
		else if (strstr(line, "opcode WRITE_FIXED,"))
			++*write_fixed;
		else if (strstr(line, "opcode WRITE,"))
			++*write_plain;
	}
	fclose(f);
	ck_assert_msg(rmdir(t->dir) == 0, "rmdir %s: %s", t->dir, strerror(errno));
}

/* ------------------------------------------------------------------ */
/* fixture: an O_DIRECT file and a uring_fixed registration             */

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	int fd;
	uint8_t *mem;
	size_t len;
};

static void fx_open(struct fx *x)
{
	char ab[1024];

	memset(x, 0, sizeof *x);
	x->len = (size_t)(g_max_segs + 1) * PAGE * 2;
	ck_assert_int_eq(zc_ctx_create(NULL, &x->ctx), 0);
	x->fd = open(g_path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
	x->mem = zt_map_anon(x->len);
	ck_assert_ptr_nonnull(x->mem);
	memset(x->mem, 0xEE, x->len);
	ck_assert_int_eq(zt_reg_mem(x->f, x->mem, x->len, 0, 0,
				    ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED), &x->r), 0);
	ck_assert_msg(zc_reg_backend(x->r) == ZC_BACKEND_URING_FIXED, "backend %s: %s",
		      zc_backend_name(zc_reg_backend(x->r)),
		      zt_attempts_str(x->r, ab, sizeof ab));
}

static void fx_close(struct fx *x)
{
	ck_assert_int_eq(zc_reg_destroy(x->r), 0);
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	munmap(x->mem, x->len);
}

static void reset_file(void)
{
	ck_assert_int_eq(zt_remake_file(g_dir, g_file_size, F_SEED, g_path), 0);
}

/* ------------------------------------------------------------------ */
/* tests                                                                */

START_TEST(test_paths_sync_calls_make_no_ring_requests)
{
	const size_t small = (size_t)g_max_segs * PAGE;
	const size_t big = (size_t)(g_max_segs + 1) * PAGE;
	unsigned rf, rp, wf, wp;
	struct trace t;
	struct fx x;

	fx_open(&x);
	trace_start(&t);
	ck_assert_int_eq(zc_read(x.r, 0, PAGE, small), (ssize_t)small);
	ck_assert_int_eq(zc_read(x.r, small, 0, big), (ssize_t)big);
	trace_stop(&t, &rf, &rp, &wf, &wp);
	ck_assert_int_eq(zt_verify(x.mem, small, F_SEED, PAGE), -1);
	ck_assert_int_eq(zt_verify(x.mem + small, big, F_SEED, 0), -1);
	zt_fill(x.mem, big, F_SEED + 1, 0);
	trace_start(&t);
	ck_assert_int_eq(zc_write(x.r, 0, 0, big), (ssize_t)big);
	ck_assert_int_eq(zc_write(x.r, 0, 0, PAGE), (ssize_t)PAGE);
	trace_stop(&t, &rf, &rp, &wf, &wp);
	ck_assert_msg(rf + rp + wf + wp == 0, "synchronous calls made ring requests: "
		      "%u READ_FIXED, %u READ, %u WRITE_FIXED, %u WRITE", rf, rp, wf, wp);
	fx_close(&x);
	ck_assert_int_eq(zt_verify_file(g_path, 0, big, F_SEED + 1), -1);
}
END_TEST

enum dir { RD, WR };

/* one queued operation of each size, both completed; the requests seen */
static void queue_pair(struct fx *x, enum dir dir, unsigned *fixed, unsigned *plain)
{
	const size_t small = (size_t)g_max_segs * PAGE;
	const size_t big = (size_t)(g_max_segs + 1) * PAGE;
	struct zc_completion c[2];
	struct zc_queue *q;
	unsigned rf, rp, wf, wp;
	struct trace t;
	int n = 0;

	ck_assert_int_eq(zc_queue_create(x->ctx, 4, 0, &q), 0);
	trace_start(&t);
	if (dir == RD) {
		ck_assert_int_eq(zc_prep_read(q, x->r, 0, 0, small, 1), 0);
		ck_assert_int_eq(zc_prep_read(q, x->r, small, PAGE, big, 2), 0);
	} else {
		ck_assert_int_eq(zc_prep_write(q, x->r, 0, 0, small, 1), 0);
		ck_assert_int_eq(zc_prep_write(q, x->r, small, small, big, 2), 0);
	}
	ck_assert_int_eq(zc_submit(q), 2);
	while (n < 2) {
		int got = zc_reap(q, c + n, (unsigned)(2 - n), 1, -1);

		ck_assert_int_gt(got, 0);
		n += got;
	}
	trace_stop(&t, &rf, &rp, &wf, &wp);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(c[i].res, (int64_t)(c[i].user_data == 1 ? small : big));
		ck_assert_uint_eq(c[i].backend, ZC_BACKEND_URING_FIXED);
		ck_assert_msg(!(c[i].flags & (ZC_CQE_F_FALLBACK | ZC_CQE_F_INLINE)),
			      "op %llu flags 0x%x", (unsigned long long)c[i].user_data,
			      c[i].flags);
	}
	zc_queue_destroy(q);
	*fixed = dir == RD ? rf : wf;
	*plain = dir == RD ? rp : wp;
	ck_assert_int_eq(dir == RD ? wf + wp : rf + rp, 0);
}

START_TEST(test_paths_queued_reads_pick_the_request_per_size)
{
	const size_t small = (size_t)g_max_segs * PAGE;
	unsigned fixed, plain;
	struct fx x;

	fx_open(&x);
	queue_pair(&x, RD, &fixed, &plain);
	ck_assert_int_eq(zt_verify(x.mem, small, F_SEED, 0), -1);
	ck_assert_int_eq(zt_verify(x.mem + small, small + PAGE, F_SEED, PAGE), -1);
	ck_assert_msg(fixed == 1 && plain == 1, "queued reads of %u and %u pages: %u READ_FIXED, "
		      "%u READ requests", g_max_segs, g_max_segs + 1, fixed, plain);
	fx_close(&x);
}
END_TEST

START_TEST(test_paths_queued_writes_pick_the_request_per_size)
{
	const size_t small = (size_t)g_max_segs * PAGE;
	const size_t big = (size_t)(g_max_segs + 1) * PAGE;
	unsigned fixed, plain;
	struct fx x;

	fx_open(&x);
	zt_fill(x.mem, small + big, F_SEED + 2, 0);
	queue_pair(&x, WR, &fixed, &plain);
	ck_assert_msg(fixed == 1 && plain == 1, "queued writes of %u and %u pages: %u "
		      "WRITE_FIXED, %u WRITE requests", g_max_segs, g_max_segs + 1, fixed, plain);
	fx_close(&x);
	ck_assert_int_eq(zt_verify_file(g_path, 0, small + big, F_SEED + 2), -1);
}
END_TEST

/* ------------------------------------------------------------------ */

/* Instances are the kernel's, not the mount's: take away any that a
 * failed test (its assertion ended the forked child) left behind. */
static void remove_instances(void)
{
	char dir[PATH_MAX + 16], p[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/instances", g_tracefs);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "zt-paths-", 9)) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			rmdir(p);
		}
	closedir(d);
}

static void unmount_tracefs(void)
{
	if (g_tracefs[0] && getpid() == g_mounter) {
		remove_instances();
		umount2(g_tracefs, MNT_DETACH);
		rmdir(g_tracefs);
	}
}

int main(int argc, char **argv)
{
	struct zc_file_info fi = { 0 };
	struct zc_ctx *ctx;
	struct zc_file *zf;
	char why[256], ev[PATH_MAX + 64];
	const char *reason;
	Suite *s = suite_create("paths");
	TCase *tc;
	int fd, ret;

	zt_init();
	if (argc < 2 || strcmp(argv[1], "segments")) {
		fprintf(stderr, "usage: test_paths segments\n");
		return 2;
	}
	if (!zt_liburing_built())
		zt_skip("library built without liburing");
	if (!zt_io_uring_works(why, sizeof why))
		zt_skip("io_uring unavailable: %s", why);
	g_dir = zt_ext4_dir(&reason);
	if (!g_dir)
		zt_skip("no ext4 directory: %s", reason);
	if (!zt_odirect_works(g_dir, why, sizeof why))
		zt_skip("O_DIRECT not supported in %s: %s", g_dir, why);

	/* the disk's limit, as the library sees it */
	fd = zt_make_file(g_dir, PAGE, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	if (zc_ctx_create(NULL, &ctx) || zc_file_open(ctx, fd, 0, &zf))
		return 1;
	ret = zc_file_query(zf, &fi, sizeof fi);
	zc_file_close(zf);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(g_path);
	if (ret || fi.size < offsetof(struct zc_file_info, max_segments) + sizeof fi.max_segments)
		return 1;
	if (!fi.max_segments)
		zt_skip("the disk behind %s reports no queue/max_segments", g_dir);
	if (fi.max_segments > 4096)
		zt_skip("the disk takes %u segments per request: no fixed-buffer "
			"request of a test's size is split", fi.max_segments);
	g_max_segs = fi.max_segments;
	g_file_size = (size_t)(g_max_segs + 2) * PAGE * 2;

	/* a tracefs of our own: nothing of the system's tracing is touched */
	if (geteuid() != 0)
		zt_skip("tracefs needs root");
	snprintf(g_tracefs, sizeof g_tracefs, "/tmp/zt-tracefs-%d", (int)getpid());
	if (mkdir(g_tracefs, 0700) || mount("nodev", g_tracefs, "tracefs", 0, NULL)) {
		int err = errno;

		rmdir(g_tracefs);
		zt_skip("cannot mount tracefs: %s", strerror(err));
	}
	g_mounter = getpid();
	atexit(unmount_tracefs);
	snprintf(ev, sizeof ev, "%s/events/io_uring/io_uring_submit_req", g_tracefs);
	if (access(ev, F_OK))
		zt_skip("the kernel has no io_uring:io_uring_submit_req tracepoint");

	fd = zt_make_file(g_dir, g_file_size, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	close(fd);
	printf("disk limit: %u segments per request\n", g_max_segs);

	tc = zt_tcase("segments");
	tcase_add_checked_fixture(tc, reset_file, NULL);
	tcase_add_test(tc, test_paths_sync_calls_make_no_ring_requests);
	tcase_add_test(tc, test_paths_queued_reads_pick_the_request_per_size);
	tcase_add_test(tc, test_paths_queued_writes_pick_the_request_per_size);
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
