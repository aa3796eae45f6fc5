/* SPDX-License-Identifier: MIT */
/* Bad input and misuse of every public call. argv[1]:
 *   args     NULL handles and out-parameters, bad fields, overflowing
 *            ranges, lengths above the limits: the exact errno of the
 *            call's ERRORS section, out-parameters left alone, the log
 *            message the conventions of libzerocopy(7) promise
 *   direct   unaligned O_DIRECT requests (memory, offset, length, EOF,
 *            file growth; sync, queued, MAP_FILE): right bytes, never EINVAL
 *   fd       the caller's fd closed, or replaced with dup2() by another
 *            file, after zc_file_open(): the library keeps acting on the
 *            file it was given (its own duplicate of the fd), never on
 *            the other one
 *   destroy  zc_reg_destroy() with I/O in flight (-EBUSY, then fine),
 *            zc_file_close() and zc_ctx_destroy() with children alive
 *            (refused, logged, still usable)
 *   fork     the parent's objects in a forked child: -ECHILD, void
 *            destroys do nothing, the parent works on afterwards
 * Where a man page and the code disagree this suite asserts what is safe
 * for the caller; /tmp/zc/misuse-findings.md has the details. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

#define F_SIZE (256 * 1024 + 123)
#define SEED 11u
#define SEED_B 12u
#define MEM_LEN (256 * 1024)
#define SENT ((void *)(uintptr_t)0x5a5a5a5a)

static const char *g_variant;
static const char *g_dir;  /* tmpfs if any, else ext4 */
static const char *g_ext4; /* for O_DIRECT */
static struct zt_log g_log;

/* ------------------------------------------------------------------ */
/* fixture                                                              */

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	int fd;
	char path[PATH_MAX];
	uint8_t *mem;
	struct zt_res res0;
};

static struct zc_ctx *ctx_logged(unsigned flags)
{
	struct zc_ctx_params p;
	struct zc_ctx *ctx;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_INFO;
	if (flags) {
		p.field_mask |= ZC_CTX_FIELD_FLAGS;
		p.flags = flags;
	}
	ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
	return ctx;
}

/* context with a log, a file of F_SIZE bytes of SEED opened O_RDWR, and
 * (backends != ~0) a registration of MEM_LEN bytes of anonymous memory */
static void fx_open(struct fx *x, const char *dir, int oflags, uint64_t backends)
{
	memset(x, 0, sizeof *x);
	memset(&g_log, 0, sizeof g_log);
	zt_res_snap(&x->res0);
	x->ctx = ctx_logged(0);
	x->fd = zt_make_file(dir, F_SIZE, SEED, O_RDWR | oflags, x->path);
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
	x->mem = zt_map_anon(MEM_LEN);
	ck_assert_ptr_nonnull(x->mem);
	if (backends != ~UINT64_C(0))
		ck_assert_int_eq(zt_reg_mem(x->f, x->mem, MEM_LEN, 0, 0, backends, &x->r), 0);
}

static void fx_close(struct fx *x)
{
	char why[512];

	if (x->r)
		ck_assert_int_eq(zc_reg_destroy(x->r), 0);
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	if (x->fd >= 0)
		close(x->fd);
	unlink(x->path);
	munmap(x->mem, MEM_LEN);
	ck_assert_msg(zt_res_check(&x->res0, 3000, why, sizeof why) == 0, "leak: %s", why);
}

/* an error was logged at ZC_LOG_ERROR naming fn, since the last reset */
static void logged(const char *fn)
{
	ck_assert_msg(zt_log_line_has(&g_log, ZC_LOG_ERROR, fn, NULL, NULL, NULL),
		      "invalid arguments to %s not logged at error:\n%s", fn, g_log.text);
	memset(&g_log, 0, sizeof g_log);
}

/* ------------------------------------------------------------------ */
/* args: version, names, strings                                        */

START_TEST(test_misuse_version_names_strerror_never_fail)
{
	static const int bs[] = { -1, 0, 1, 2, 3, 4, 5, 6, 7, 100, INT_MAX, INT_MIN };
	static const int es[] = { 0, -1, 1, -ENOMEM, ENOMEM, -4095, -4096, -100000, 100000,
				  INT_MIN, INT_MAX };

	ck_assert_uint_eq(zc_version(), ZC_VERSION_NUMBER);
	for (size_t i = 0; i < ZT_ARRAY_SIZE(bs); i++) {
		const char *n = zc_backend_name((enum zc_backend)bs[i]);

		ck_assert_ptr_nonnull(n);
		if (bs[i] < 0 || bs[i] > ZC_BACKEND_MAX)
			ck_assert_str_eq(n, "unknown");
	}
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_NONE), "none");
	for (size_t i = 0; i < ZT_ARRAY_SIZE(es); i++)
		ck_assert_ptr_nonnull(zc_strerror(es[i]));
	ck_assert_str_eq(zc_strerror(-ENOMEM), strerror(ENOMEM));
}
END_TEST

/* ------------------------------------------------------------------ */
/* args: zc_ctx_create                                                  */

static void ctx_bad(struct zc_ctx_params *p, const char *what)
{
	struct zc_ctx *ctx = SENT;
	int rc;

	p->field_mask |= ZC_CTX_FIELD_LOG_FN;
	p->log_fn = zt_log_fn;
	p->log_arg = &g_log;
	memset(&g_log, 0, sizeof g_log);
	rc = zc_ctx_create(p, &ctx);
	ck_assert_msg(rc == -EINVAL, "zc_ctx_create with %s: %d, expected -EINVAL", what, rc);
	ck_assert_msg(ctx == SENT, "failed zc_ctx_create wrote *out (%s)", what);
	logged("zc_ctx_create");
}

static void ctx_good(struct zc_ctx_params *p, const char *what)
{
	struct zc_ctx *ctx = NULL;
	int rc;

	p->field_mask |= ZC_CTX_FIELD_LOG_FN;
	p->log_fn = zt_log_fn;
	p->log_arg = &g_log;
	rc = zc_ctx_create(p, &ctx);

	ck_assert_msg(rc == 0, "zc_ctx_create with %s: %d", what, rc);
	zc_ctx_destroy(ctx);
}

START_TEST(test_misuse_ctx_create_bad_params_einval)
{
	struct zc_ctx_params p;
	struct zc_ctx *ctx = SENT;

	ck_assert_int_eq(zc_ctx_create(NULL, NULL), -EINVAL);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	memset(&g_log, 0, sizeof g_log);
	ck_assert_int_eq(zc_ctx_create(&p, NULL), -EINVAL);
	logged("zc_ctx_create");
	zc_ctx_destroy(NULL);

#define BAD(field_bit, assign, what)                                      \
	do {                                                              \
		memset(&p, 0, sizeof p);                                  \
		p.field_mask = (field_bit);                               \
		assign;                                                   \
		ctx_bad(&p, what);                                        \
	} while (0)
	BAD(UINT64_C(1) << 40, (void)0, "an unknown field_mask bit");
	BAD(UINT64_C(1) << 9, (void)0, "the first undefined field_mask bit");
	BAD(ZC_CTX_FIELD_BACKENDS, p.backends = UINT64_C(1) << 6, "backends bit 6");
	BAD(ZC_CTX_FIELD_BACKENDS, p.backends = 1, "backends bit 0 (none)");
	BAD(ZC_CTX_FIELD_QUEUE_DEPTH, p.queue_depth = 0, "queue_depth 0");
	BAD(ZC_CTX_FIELD_QUEUE_DEPTH, p.queue_depth = 4097, "queue_depth 4097");
	BAD(ZC_CTX_FIELD_QUEUE_DEPTH, p.queue_depth = UINT_MAX, "queue_depth UINT_MAX");
	BAD(ZC_CTX_FIELD_BOUNCE_BYTES, p.bounce_bytes = 65535, "bounce_bytes 65535");
	BAD(ZC_CTX_FIELD_BOUNCE_BYTES, p.bounce_bytes = 0, "bounce_bytes 0");
	BAD(ZC_CTX_FIELD_NUMA_NODE, p.numa_node = -2, "numa_node -2");
	BAD(ZC_CTX_FIELD_NUMA_NODE, p.numa_node = INT_MIN, "numa_node INT_MIN");
	BAD(ZC_CTX_FIELD_FLAGS, p.flags = 1u << 1, "flags bit 1");
	BAD(ZC_CTX_FIELD_FLAGS, p.flags = UINT_MAX, "flags UINT_MAX");
	BAD(ZC_CTX_FIELD_LOG_LEVEL, p.log_level = -1, "log_level -1");
	BAD(ZC_CTX_FIELD_LOG_LEVEL, p.log_level = 4, "log_level 4");
	BAD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = 0, "lease_signal 0");
	BAD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = SIGIO, "lease_signal SIGIO");
	BAD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = SIGRTMIN - 1, "lease_signal SIGRTMIN-1");
	BAD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = SIGRTMAX + 1, "lease_signal SIGRTMAX+1");
#undef BAD
	/* the edges are valid */
#define GOOD(field_bit, assign, what)                                     \
	do {                                                              \
		memset(&p, 0, sizeof p);                                  \
		p.field_mask = (field_bit);                               \
		assign;                                                   \
		ctx_good(&p, what);                                       \
	} while (0)
	GOOD(ZC_CTX_FIELD_QUEUE_DEPTH, p.queue_depth = 1, "queue_depth 1");
	GOOD(ZC_CTX_FIELD_QUEUE_DEPTH, p.queue_depth = 4096, "queue_depth 4096");
	GOOD(ZC_CTX_FIELD_BOUNCE_BYTES, p.bounce_bytes = 65536, "bounce_bytes 65536");
	GOOD(ZC_CTX_FIELD_NUMA_NODE, p.numa_node = -1, "numa_node -1");
	GOOD(ZC_CTX_FIELD_LOG_LEVEL, p.log_level = 0, "log_level 0");
	GOOD(ZC_CTX_FIELD_LOG_LEVEL, p.log_level = 3, "log_level 3");
	GOOD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = SIGRTMIN, "lease_signal SIGRTMIN");
	GOOD(ZC_CTX_FIELD_LEASE_SIGNAL, p.lease_signal = SIGRTMAX, "lease_signal SIGRTMAX");
	GOOD(ZC_CTX_FIELD_BACKENDS, p.backends = 0, "backends 0");
	/* a field whose bit is clear is not read */
	memset(&p, 0xff, sizeof p);
	p.field_mask = 0;
	ctx_good(&p, "garbage in every field, field_mask 0");
#undef GOOD
	ck_assert_ptr_eq(ctx, SENT);
}
END_TEST

/* ZC_FAULT, ZC_BACKENDS and ZC_LOG are parsed from untrusted bytes */
static int child_env(void *arg)
{
	static const char *const bad_fault[] = {
		"x", "core", "core:statx", "core:statx:", "core:statx:ENOTANERRNO",
		"core:statx:EIO:0", "core:statx:EIO:x", "core:statx:EIO:1:2", "nosuch:reg:EIO",
		"none:reg:EIO", "core:st-x:EIO", "core:statx:0", "core:statx:4096",
		"core:statx:123456", "core::EIO", ":statx:EIO", "core:statx:EIO:",
		"core:statx:EIO:1234567890", "core:aaaaaaaaaaaaaaaaaaaaaaaa:EIO",
		"core:statx:-5", "core:statx:EIO,bogus",
		/* a step its site does not have */
		"core:aaaaaaaaaaaaaaaaaaaaaaa:EIO", "bounce:nosuchstep:EIO",
		/* 17 rules: one more than the library keeps */
		"core:statx:EIO:1,core:statx:EIO:2,core:statx:EIO:3,core:statx:EIO:4,"
		"core:statx:EIO:5,core:statx:EIO:6,core:statx:EIO:7,core:statx:EIO:8,"
		"core:statx:EIO:9,core:statx:EIO:10,core:statx:EIO:11,core:statx:EIO:12,"
		"core:statx:EIO:13,core:statx:EIO:14,core:statx:EIO:15,core:statx:EIO:16,"
		"core:statx:EIO:17",
	};
	static const char *const good_fault[] = {
		"", " ", "core:statx:EIO", "core:statx:5", "core:statx:EIO:999999999",
		"bounce:io:ENOMEM:1, uring_fixed:io:EIO",
		/* 16 rules: as many as the library keeps */
		"core:statx:EIO:1,core:statx:EIO:2,core:statx:EIO:3,core:statx:EIO:4,"
		"core:statx:EIO:5,core:statx:EIO:6,core:statx:EIO:7,core:statx:EIO:8,"
		"core:statx:EIO:9,core:statx:EIO:10,core:statx:EIO:11,core:statx:EIO:12,"
		"core:statx:EIO:13,core:statx:EIO:14,core:statx:EIO:15,core:statx:EIO:16",
	};
	static const char *const bad_backends[] = { "nosuch", "^", "uring_fixed,nosuch", "none",
						    ",", "^none" };
	static const char *const bad_log[] = { "loud", "4", "-1", "debugx", "00" };
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	int rc;

	(void)arg;
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_ERROR;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(bad_fault); i++) {
		ctx = SENT;
		setenv("ZC_FAULT", bad_fault[i], 1);
		rc = zc_ctx_create(&p, &ctx);
		ZT_CREQ_MSG(rc == -EINVAL && ctx == SENT, "ZC_FAULT=\"%s\": %d", bad_fault[i], rc);
	}
	for (size_t i = 0; i < ZT_ARRAY_SIZE(good_fault); i++) {
		setenv("ZC_FAULT", good_fault[i], 1);
		rc = zc_ctx_create(&p, &ctx);
		ZT_CREQ_MSG(rc == 0, "ZC_FAULT=\"%s\": %d", good_fault[i], rc);
		zc_ctx_destroy(ctx);
	}
	unsetenv("ZC_FAULT");
	for (size_t i = 0; i < ZT_ARRAY_SIZE(bad_backends); i++) {
		ctx = SENT;
		setenv("ZC_BACKENDS", bad_backends[i], 1);
		rc = zc_ctx_create(&p, &ctx);
		ZT_CREQ_MSG(rc == -EINVAL && ctx == SENT, "ZC_BACKENDS=\"%s\": %d", bad_backends[i],
			    rc);
	}
	unsetenv("ZC_BACKENDS");
	/* a malformed ZC_LOG is an error even with log_level set */
	for (size_t i = 0; i < ZT_ARRAY_SIZE(bad_log); i++) {
		ctx = SENT;
		setenv("ZC_LOG", bad_log[i], 1);
		rc = zc_ctx_create(&p, &ctx);
		ZT_CREQ_MSG(rc == -EINVAL && ctx == SENT, "ZC_LOG=\"%s\": %d", bad_log[i], rc);
	}
	unsetenv("ZC_LOG");
	return 0;
}

START_TEST(test_misuse_malformed_environment_einval)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_env, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* args: context queries, events, stats, rings                           */

START_TEST(test_misuse_ctx_queries_null_and_ranges)
{
	struct zc_ctx *ctx = ctx_logged(0);
	struct zc_backend_info bi, bi0;
	struct zc_stats st;
	struct zc_event ev[2];
	uint8_t raw[sizeof(struct zc_stats) + 64];
	static const int bad_b[] = { 0, 6, -1, 7, INT_MAX, INT_MIN };

	memset(&bi, 0x77, sizeof bi);
	bi0 = bi;
	ck_assert_int_eq(zc_ctx_query(NULL, ZC_BACKEND_BOUNCE, &bi), -EINVAL);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, NULL), -EINVAL);
	logged("zc_ctx_query");
	for (size_t i = 0; i < ZT_ARRAY_SIZE(bad_b); i++) {
		ck_assert_int_eq(zc_ctx_query(ctx, (enum zc_backend)bad_b[i], &bi), -EINVAL);
		logged("zc_ctx_query");
	}
	ck_assert(!memcmp(&bi, &bi0, sizeof bi));

	ck_assert_int_eq(zc_ctx_stats(NULL, &st, sizeof st), -EINVAL);
	ck_assert_int_eq(zc_ctx_stats(ctx, NULL, sizeof st), -EINVAL);
	logged("zc_ctx_stats");
	for (size_t n = 0; n < 8; n++) {
		memset(raw, 0xAB, sizeof raw);
		ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)raw, n), -EINVAL);
		logged("zc_ctx_stats");
		for (size_t i = 0; i < sizeof raw; i++)
			ck_assert_uint_eq(raw[i], 0xAB);
	}
	/* filled up to out_size, size says how much */
	memset(raw, 0xAB, sizeof raw);
	ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)raw, 8), 0);
	ck_assert_uint_eq(((struct zc_stats *)raw)->size, 8);
	for (size_t i = 8; i < sizeof raw; i++)
		ck_assert_uint_eq(raw[i], 0xAB);
	memset(raw, 0xAB, sizeof raw);
	ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)raw, sizeof raw), 0);
	ck_assert_uint_eq(((struct zc_stats *)raw)->size, sizeof(struct zc_stats));
	for (size_t i = sizeof(struct zc_stats); i < sizeof raw; i++)
		ck_assert_uint_eq(raw[i], 0xAB);

	ck_assert_int_eq(zc_ctx_event_fd(NULL), -EINVAL);
	ck_assert_int_ge(zc_ctx_event_fd(ctx), 0);
	ck_assert_int_eq(zc_ctx_events(NULL, ev, 2), -EINVAL);
	ck_assert_int_eq(zc_ctx_events(ctx, NULL, 2), -EINVAL);
	logged("zc_ctx_events");
	ck_assert_int_eq(zc_ctx_events(ctx, NULL, 0), 0);
	ck_assert_int_eq(zc_ctx_events(ctx, ev, 0), 0);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_misuse_uring_attach_detach_errors)
{
	struct zc_ctx *ctx = ctx_logged(0), *plain = ctx_logged(ZC_CTX_NO_URING);
	struct io_uring_params up;
	char path[PATH_MAX];
	int fd, ring;

	ck_assert_int_eq(zc_ctx_uring_attach(NULL, 3), -EINVAL);
	ck_assert_int_eq(zc_ctx_uring_attach(ctx, -1), -EINVAL);
	ck_assert_int_eq(zc_ctx_uring_detach(NULL, 3), -EINVAL);
	ck_assert_int_eq(zc_ctx_uring_detach(ctx, -1), -EINVAL);
	/* ENOSYS: the context does not use io_uring */
	ck_assert_int_eq(zc_ctx_uring_attach(plain, 0), -ENOSYS);
	ck_assert_int_eq(zc_ctx_uring_detach(plain, 0), -ENOSYS);
	if (zt_uring_expected()) {
		fd = zt_make_file(g_dir, 4096, SEED, O_RDWR, path);
		ck_assert_int_ge(fd, 0);
		/* not an io_uring instance, not open */
		ck_assert_int_eq(zc_ctx_uring_attach(ctx, fd), -EOPNOTSUPP);
		ck_assert_int_eq(zc_ctx_uring_attach(ctx, 1000000), -EBADF);
		ck_assert_int_eq(zc_ctx_uring_detach(ctx, fd), -ENOENT);
		memset(&up, 0, sizeof up);
		ring = (int)syscall(__NR_io_uring_setup, 4, &up);
		ck_assert_int_ge(ring, 0);
		ck_assert_int_eq(zc_ctx_uring_attach(ctx, ring), 0);
		ck_assert_int_eq(zc_ctx_uring_attach(ctx, ring), -EEXIST);
		ck_assert_int_eq(zc_ctx_uring_detach(ctx, ring), 0);
		ck_assert_int_eq(zc_ctx_uring_detach(ctx, ring), -ENOENT);
		close(ring);
		close(fd);
		unlink(path);
	}
	zc_ctx_destroy(plain);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* args: files                                                          */

static void file_bad(struct zc_ctx *ctx, int fd, unsigned flags, int want, const char *what)
{
	struct zc_file *f = SENT;
	int rc = zc_file_open(ctx, fd, flags, &f);

	ck_assert_msg(rc == want, "zc_file_open on %s: %d, expected %d", what, rc, want);
	ck_assert_msg(f == SENT, "failed zc_file_open wrote *out (%s)", what);
	if (ctx)
		logged("zc_file_open");
}

START_TEST(test_misuse_file_open_bad_descriptors)
{
	struct zc_ctx *ctx = ctx_logged(0);
	struct zc_file_info fi;
	struct zc_file *f;
	uint8_t raw[sizeof(struct zc_file_info) + 32];
	char path[PATH_MAX];
	int fd, opath, dir, p[2], sv[2], nul, wr, closed;

	fd = zt_make_file(g_dir, 8192, SEED, O_RDWR, path);
	ck_assert_int_ge(fd, 0);
	file_bad(NULL, fd, 0, -EINVAL, "a NULL context");
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, NULL), -EINVAL);
	logged("zc_file_open");
	file_bad(ctx, fd, 1, -EINVAL, "flags 1");
	file_bad(ctx, fd, 0x80000000u, -EINVAL, "flags bit 31");
	file_bad(ctx, -1, 0, -EBADF, "fd -1");
	file_bad(ctx, INT_MIN, 0, -EBADF, "fd INT_MIN");
	closed = dup(fd);
	close(closed);
	file_bad(ctx, closed, 0, -EBADF, "a closed fd");
	opath = open(path, O_PATH | O_CLOEXEC);
	ck_assert_int_ge(opath, 0);
	file_bad(ctx, opath, 0, -EBADF, "an O_PATH fd");
	dir = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dir, 0);
	file_bad(ctx, dir, 0, -EISDIR, "a directory");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	file_bad(ctx, p[0], 0, -ESPIPE, "a pipe");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	file_bad(ctx, sv[0], 0, -ESPIPE, "a socket");
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(nul, 0);
	file_bad(ctx, nul, 0, -ENODEV, "/dev/null");
	close(opath);
	close(dir);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(nul);
	zc_file_close(NULL);

	/* query */
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zc_file_query(NULL, &fi, sizeof fi), -EINVAL);
	ck_assert_int_eq(zc_file_query(f, NULL, sizeof fi), -EINVAL);
	logged("zc_file_query");
	for (size_t n = 0; n < 8; n++) {
		memset(raw, 0xAB, sizeof raw);
		ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)raw, n), -EINVAL);
		logged("zc_file_query");
		for (size_t i = 0; i < sizeof raw; i++)
			ck_assert_uint_eq(raw[i], 0xAB);
	}
	memset(raw, 0xAB, sizeof raw);
	ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)raw, 8), 0);
	ck_assert_uint_eq(((struct zc_file_info *)raw)->size, 8);
	for (size_t i = 8; i < sizeof raw; i++)
		ck_assert_uint_eq(raw[i], 0xAB);
	memset(raw, 0xAB, sizeof raw);
	ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)raw, sizeof raw), 0);
	ck_assert_uint_eq(((struct zc_file_info *)raw)->size, sizeof(struct zc_file_info));
	for (size_t i = sizeof(struct zc_file_info); i < sizeof raw; i++)
		ck_assert_uint_eq(raw[i], 0xAB);
	zc_file_close(f);

	/* a write-only fd opens; registrations that read from it do not */
	wr = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(wr, 0);
	ck_assert_int_eq(zc_file_open(ctx, wr, 0, &f), 0);
	{
		struct zc_reg *r = SENT;
		uint8_t *mem = zt_map_anon(65536);

		ck_assert_int_eq(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r), -EBADF);
		logged("zc_reg_create");
		ck_assert_int_eq(zt_reg_mem(f, mem, 65536, ZC_ACCESS_READ, 0, 0, &r), -EBADF);
		ck_assert_int_eq(zt_reg_map_file(f, 0, 4096, ZC_ACCESS_WRITE, 0, &r), -EBADF);
		ck_assert_ptr_eq(r, SENT);
		ck_assert_int_eq(zt_reg_mem(f, mem, 65536, ZC_ACCESS_WRITE, 0, 0, &r), 0);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		munmap(mem, 65536);
	}
	zc_file_close(f);
	close(wr);
	/* and a read-only one refuses ZC_ACCESS_WRITE */
	wr = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(zc_file_open(ctx, wr, 0, &f), 0);
	{
		struct zc_reg *r = SENT;
		uint8_t *mem = zt_map_anon(65536);

		ck_assert_int_eq(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r), -EBADF);
		ck_assert_int_eq(zt_reg_mem(f, mem, 65536, ZC_ACCESS_WRITE, 0, 0, &r), -EBADF);
		ck_assert_ptr_eq(r, SENT);
		munmap(mem, 65536);
	}
	zc_file_close(f);
	close(wr);
	close(fd);
	unlink(path);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* args: zc_reg_create                                                  */

struct regcase {
	const char *what;
	int want;
	struct zc_reg_params p;
};

START_TEST(test_misuse_reg_create_bad_params)
{
	struct fx x;
	struct zc_reg *r = SENT;
	struct zc_reg_params p;
	uint8_t *ro, *hole;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	int rc;

	fx_open(&x, g_dir, 0, ~UINT64_C(0));
	ro = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(ro != MAP_FAILED && hole != MAP_FAILED);
	ck_assert_int_eq(munmap(hole + pg, pg), 0);

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
	p.addr = x.mem;
	p.length = 4096;
	ck_assert_int_eq(zc_reg_create(NULL, &p, &r), -EINVAL);
	ck_assert_int_eq(zc_reg_create(x.f, NULL, &r), -EINVAL);
	logged("zc_reg_create");
	ck_assert_int_eq(zc_reg_create(x.f, &p, NULL), -EINVAL);
	logged("zc_reg_create");

	{
		const uint64_t AL = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
		const uint64_t MF = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS |
				    ZC_REG_FIELD_FILE_OFFSET;
		struct regcase c[] = {
			{ "an unknown field_mask bit", -EINVAL,
			  { .field_mask = AL | (UINT64_C(1) << 30), .addr = x.mem, .length = 4096 } },
			{ "the first undefined field_mask bit", -EINVAL,
			  { .field_mask = AL | (UINT64_C(1) << 8), .addr = x.mem, .length = 4096 } },
			{ "no length field", -EINVAL,
			  { .field_mask = ZC_REG_FIELD_ADDR, .addr = x.mem, .length = 4096 } },
			{ "length 0", -EINVAL, { .field_mask = AL, .addr = x.mem, .length = 0 } },
			{ "no addr field", -EINVAL,
			  { .field_mask = ZC_REG_FIELD_LENGTH, .addr = x.mem, .length = 4096 } },
			{ "addr NULL", -EINVAL, { .field_mask = AL, .addr = NULL, .length = 4096 } },
			{ "MAP_FILE with addr", -EINVAL,
			  { .field_mask = MF | ZC_REG_FIELD_ADDR, .addr = x.mem, .length = 4096,
			    .flags = ZC_REG_MAP_FILE } },
			{ "file_offset without MAP_FILE", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_FILE_OFFSET, .addr = x.mem,
			    .length = 4096 } },
			{ "MAP_FILE range past the end", -EINVAL,
			  { .field_mask = MF, .length = F_SIZE + 1, .flags = ZC_REG_MAP_FILE } },
			{ "MAP_FILE offset + length past the end", -EINVAL,
			  { .field_mask = MF, .length = 4096, .file_offset = F_SIZE - 4095,
			    .flags = ZC_REG_MAP_FILE } },
			{ "MAP_FILE at the end", -EINVAL,
			  { .field_mask = MF, .length = 1, .file_offset = F_SIZE,
			    .flags = ZC_REG_MAP_FILE } },
			{ "MAP_FILE offset UINT64_MAX", -EINVAL,
			  { .field_mask = MF, .length = 1, .file_offset = UINT64_MAX,
			    .flags = ZC_REG_MAP_FILE } },
			{ "MAP_FILE offset + length wrapping", -EINVAL,
			  { .field_mask = MF, .length = SIZE_MAX, .file_offset = 2,
			    .flags = ZC_REG_MAP_FILE } },
			{ "access 0", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_ACCESS, .addr = x.mem, .length = 4096 } },
			{ "an unknown access bit", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_ACCESS, .addr = x.mem, .length = 4096,
			    .access = ZC_ACCESS_READ | (1u << 4) } },
			{ "an unknown flag", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_FLAGS, .addr = x.mem, .length = 4096,
			    .flags = 1u << 3 } },
			{ "backends bit 0", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_BACKENDS, .addr = x.mem, .length = 4096,
			    .backends = 1 } },
			{ "backends bit 6", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_BACKENDS, .addr = x.mem, .length = 4096,
			    .backends = UINT64_C(1) << 6 } },
			{ "mem_type 3", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_MEM_TYPE, .addr = x.mem, .length = 4096,
			    .mem_type = (enum zc_mem_type)3 } },
			{ "mem_type -1", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_MEM_TYPE, .addr = x.mem, .length = 4096,
			    .mem_type = (enum zc_mem_type)-1 } },
			{ "dmabuf_fd without ZC_MEM_DMABUF", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_DMABUF_FD, .addr = x.mem, .length = 4096,
			    .dmabuf_fd = 0 } },
			{ "addr + length wrapping", -EINVAL,
			  { .field_mask = AL, .addr = (void *)(UINTPTR_MAX - 100), .length = 200 } },
			{ "length SIZE_MAX", -EINVAL,
			  { .field_mask = AL, .addr = x.mem, .length = SIZE_MAX } },
			{ "an unmapped range", -EFAULT,
			  { .field_mask = AL, .addr = hole + pg, .length = pg } },
			{ "a range with a hole", -EFAULT,
			  { .field_mask = AL, .addr = hole, .length = 3 * pg } },
			{ "length 2^50 (above any limit, unmapped)", -EFAULT,
			  { .field_mask = AL, .addr = x.mem, .length = (size_t)1 << 50 } },
			{ "read-only memory for ZC_ACCESS_READ", -EFAULT,
			  { .field_mask = AL, .addr = ro, .length = 4 * pg } },
			{ "backends 0", -EOPNOTSUPP,
			  { .field_mask = AL | ZC_REG_FIELD_BACKENDS, .addr = x.mem, .length = 4096,
			    .backends = 0 } },
			{ "ZC_MEM_DMABUF without dmabuf_fd", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_MEM_TYPE, .addr = x.mem, .length = 4096,
			    .mem_type = ZC_MEM_DMABUF } },
			{ "ZC_MEM_P2P over host memory", -EINVAL,
			  { .field_mask = AL | ZC_REG_FIELD_MEM_TYPE, .addr = x.mem, .length = 4096,
			    .mem_type = ZC_MEM_P2P } },
			{ "REQUIRE_ZEROCOPY with bounce only", -EOPNOTSUPP,
			  { .field_mask = AL | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_BACKENDS,
			    .addr = x.mem, .length = 4096, .flags = ZC_REG_REQUIRE_ZEROCOPY,
			    .backends = ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE) } },
		};

		for (size_t i = 0; i < ZT_ARRAY_SIZE(c); i++) {
			memset(&g_log, 0, sizeof g_log);
			r = SENT;
			rc = zc_reg_create(x.f, &c[i].p, &r);
			ck_assert_msg(rc == c[i].want, "zc_reg_create with %s: %d (%s), expected %d",
				      c[i].what, rc, zc_strerror(rc), c[i].want);
			ck_assert_msg(r == SENT, "failed zc_reg_create wrote *out (%s)", c[i].what);
			if (rc == -EINVAL)
				logged("zc_reg_create");
		}
	}
	/* the last byte of the file is a valid MAP_FILE range; read-only
	 * memory is fine for ZC_ACCESS_WRITE (bounce reads it) */
	ck_assert_int_eq(zt_reg_map_file(x.f, F_SIZE - 1, 1, 0, 0, &r), 0);
	ck_assert_uint_eq(((uint8_t *)zc_reg_addr(r))[0], zt_pat(SEED, F_SIZE - 1));
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, ro, 4 * pg, ZC_ACCESS_WRITE, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	munmap(ro, 4 * pg);
	munmap(hole, pg);
	munmap(hole + 2 * pg, pg);
	fx_close(&x);
}
END_TEST

START_TEST(test_misuse_reg_accessors_null_and_ranges)
{
	struct fx x;
	struct zc_attempt a[8];
	struct zc_rdma_keys k, k0;
	int n;

	fx_open(&x, g_dir, 0, 0);
	ck_assert_int_eq(zc_reg_destroy(NULL), -EINVAL);
	ck_assert_int_eq(zc_reg_backend(NULL), ZC_BACKEND_NONE);
	ck_assert_ptr_null(zc_reg_addr(NULL));
	ck_assert_uint_eq(zc_reg_length(NULL), 0);
	ck_assert_int_eq(zc_reg_attempts(NULL, a, 8), -EINVAL);
	ck_assert_int_eq(zc_reg_attempts(x.r, NULL, 1), -EINVAL);
	n = zc_reg_attempts(x.r, NULL, 0);
	ck_assert_int_ge(n, 1);
	memset(a, 0x77, sizeof a);
	ck_assert_int_eq(zc_reg_attempts(x.r, a, 1), n);
	for (size_t i = sizeof a[0]; i < sizeof a; i++)
		ck_assert_uint_eq(((uint8_t *)a)[i], 0x77);
	memset(&k, 0x55, sizeof k);
	k0 = k;
	ck_assert_int_eq(zc_reg_rdma(NULL, &k), -EINVAL);
	ck_assert_int_eq(zc_reg_rdma(x.r, NULL), -EINVAL);
	ck_assert_int_eq(zc_reg_rdma(x.r, &k), -ENODATA);
	ck_assert(!memcmp(&k, &k0, sizeof k));
	ck_assert_int_eq(zc_reg_buf_index(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, 0, 0), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, MEM_LEN, 1), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, MEM_LEN + 1, 1), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, 1, MEM_LEN), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, SIZE_MAX, 1), -EINVAL);
	ck_assert_int_eq(zc_reg_buf_index(x.r, 1, SIZE_MAX), -EINVAL);
	if (zc_reg_backend(x.r) == ZC_BACKEND_URING_FIXED)
		ck_assert_int_ge(zc_reg_buf_index(x.r, 0, MEM_LEN), 0);
	else
		ck_assert_int_eq(zc_reg_buf_index(x.r, 0, MEM_LEN), -ENODATA);
	ck_assert_int_eq(zc_reg_destroy(x.r), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE),
				    &x.r), 0);
	ck_assert_int_eq(zc_reg_buf_index(x.r, 0, 4096), -ENODATA);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* args: data movement                                                  */

static void io_bad(struct fx *x, int write, size_t reg_off, uint64_t file_off, size_t len,
		   int want, const char *what)
{
	ssize_t n = write ? zc_write(x->r, reg_off, file_off, len)
			  : zc_read(x->r, reg_off, file_off, len);

	ck_assert_msg(n == want, "%s %s: %zd, expected %d", write ? "zc_write" : "zc_read", what,
		      n, want);
	if (x->r && want < 0)
		logged(write ? "zc_write" : "zc_read");
}

START_TEST(test_misuse_io_ranges_overflow_access)
{
	struct fx x;
	struct zc_reg *ro, *wo;
	ssize_t n;

	fx_open(&x, g_dir, 0, 0);
	for (int w = 0; w < 2; w++) {
		struct fx y = x;

		y.r = NULL;
		io_bad(&y, w, 0, 0, 1, -EINVAL, "on NULL");
		io_bad(&x, w, 0, 0, MEM_LEN + 1, -EINVAL, "past the registration");
		io_bad(&x, w, MEM_LEN, 0, 1, -EINVAL, "at the end of the registration");
		io_bad(&x, w, MEM_LEN + 1, 0, 0, -EINVAL, "offset past the registration");
		io_bad(&x, w, 1, 0, SIZE_MAX, -EINVAL, "reg_off + len wrapping");
		io_bad(&x, w, SIZE_MAX, 0, 1, -EINVAL, "reg_off SIZE_MAX");
		io_bad(&x, w, 0, (uint64_t)INT64_MAX, 1, -EOVERFLOW, "file_off INT64_MAX, len 1");
		io_bad(&x, w, 0, UINT64_MAX, 1, -EOVERFLOW, "file_off UINT64_MAX");
		io_bad(&x, w, 0, UINT64_MAX - 10, 100, -EOVERFLOW, "file_off + len wrapping");
		io_bad(&x, w, 0, (uint64_t)INT64_MAX - 10, 11, -EOVERFLOW,
		       "file_off + len = INT64_MAX + 1");
		/* a length of 0 moves nothing */
		io_bad(&x, w, 0, 0, 0, 0, "len 0");
		io_bad(&x, w, MEM_LEN, 0, 0, 0, "len 0 at the end");
	}
	/* at the edge of INT64_MAX the system call decides */
	n = zc_read(x.r, 0, (uint64_t)INT64_MAX - 10, 10);
	ck_assert_msg(n == 0, "zc_read at INT64_MAX - 10: %zd", n);
	n = zc_write(x.r, 0, (uint64_t)INT64_MAX - 10, 10);
	ck_assert_msg(n == 10 || (n < 0 && n > -4096), "zc_write at INT64_MAX - 10: %zd", n);
	ck_assert_int_eq(ftruncate(x.fd, F_SIZE), 0);
	/* direction without access */
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, 65536, ZC_ACCESS_READ, 0, 0, &ro), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem + 65536, 65536, ZC_ACCESS_WRITE, 0, 0, &wo), 0);
	memset(&g_log, 0, sizeof g_log);
	ck_assert_int_eq(zc_write(ro, 0, 0, 10), -EACCES);
	logged("zc_write");
	ck_assert_int_eq(zc_read(wo, 0, 0, 10), -EACCES);
	logged("zc_read");
	ck_assert_int_eq(zc_read(ro, 0, 0, 10), 10);
	ck_assert_int_eq(zc_write(wo, 0, F_SIZE - 10, 10), 10);
	ck_assert_int_eq(zc_reg_destroy(ro), 0);
	ck_assert_int_eq(zc_reg_destroy(wo), 0);
	/* zc_sync */
	ck_assert_int_eq(zc_sync(NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(zc_sync(x.r, MEM_LEN + 1, 0), -EINVAL);
	logged("zc_sync");
	ck_assert_int_eq(zc_sync(x.r, 1, MEM_LEN), -EINVAL);
	ck_assert_int_eq(zc_sync(x.r, 1, SIZE_MAX), -EINVAL);
	ck_assert_int_eq(zc_sync(x.r, MEM_LEN, 0), 0);
	ck_assert_int_eq(zc_sync(x.r, 0, 0), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_misuse_queue_null_ranges_full_other_context)
{
	struct fx x;
	struct zc_queue *q = SENT, *q2;
	struct zc_completion c[4];
	struct zc_ctx *other;
	struct zc_file *of;
	struct zc_reg *oreg, *ro;
	int got = 0, rc;

	fx_open(&x, g_dir, 0, 0);
	other = ctx_logged(0);
	ck_assert_int_eq(zc_queue_create(NULL, 0, 0, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(x.ctx, 0, 0, NULL), -EINVAL);
	logged("zc_queue_create");
	ck_assert_int_eq(zc_queue_create(x.ctx, 0, 1, &q), -EINVAL);
	logged("zc_queue_create");
	ck_assert_int_eq(zc_queue_create(x.ctx, 4097, 0, &q), -EINVAL);
	logged("zc_queue_create");
	ck_assert_int_eq(zc_queue_create(x.ctx, UINT_MAX, 0, &q), -EINVAL);
	ck_assert_ptr_eq(q, SENT);
	zc_queue_destroy(NULL);
	ck_assert_int_eq(zc_queue_create(x.ctx, 2, 0, &q), 0);

	ck_assert_int_eq(zc_prep_read(NULL, x.r, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_write(NULL, x.r, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(q, NULL, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_write(q, NULL, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, MEM_LEN + 1, 0), -EINVAL);
	logged("zc_prep_read");
	ck_assert_int_eq(zc_prep_write(q, x.r, 1, 0, SIZE_MAX, 0), -EINVAL);
	logged("zc_prep_write");
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, UINT64_MAX, 1, 0), -EOVERFLOW);
	ck_assert_int_eq(zc_prep_write(q, x.r, 0, (uint64_t)INT64_MAX, 1, 0), -EOVERFLOW);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, 4096, ZC_ACCESS_READ, 0, 0, &ro), 0);
	ck_assert_int_eq(zc_prep_write(q, ro, 0, 0, 10, 0), -EACCES);
	/* another context's registration */
	ck_assert_int_eq(zc_file_open(other, x.fd, 0, &of), 0);
	ck_assert_int_eq(zt_reg_mem(of, x.mem + 8192, 4096, 0, 0, 0, &oreg), 0);
	ck_assert_int_eq(zc_prep_read(q, oreg, 0, 0, 10, 0), -EXDEV);
	/* full: depth 2 */
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, 100, 1), 0);
	ck_assert_int_eq(zc_prep_read(q, x.r, 100, 100, 100, 2), 0);
	ck_assert_int_eq(zc_prep_read(q, x.r, 200, 200, 100, 3), -EBUSY);
	ck_assert_int_eq(zc_submit(NULL), -EINVAL);
	ck_assert_int_eq(zc_submit(q), 2);
	/* still full until reaped */
	ck_assert_int_eq(zc_prep_read(q, x.r, 200, 200, 100, 3), -EBUSY);
	ck_assert_int_eq(zc_reap(NULL, c, 4, 0, 0), -EINVAL);
	ck_assert_int_eq(zc_reap(q, NULL, 4, 0, 0), -EINVAL);
	logged("zc_reap");
	ck_assert_int_eq(zc_reap(q, c, 1, 2, 0), -EINVAL);
	logged("zc_reap");
	ck_assert_int_eq(zc_reap(q, NULL, 0, 0, 0), 0);
	while (got < 2) {
		rc = zc_reap(q, c + got, 4 - (unsigned)got, 1, 10000);
		ck_assert_int_ge(rc, 1);
		got += rc;
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(c[i].res, 100);
	ck_assert_int_eq(zc_reap(q, c, 4, 0, 0), 0);
	/* an empty queue with min > 0 returns at its timeout with 0 */
	ck_assert_int_eq(zc_reap(q, c, 4, 1, 10), 0);
	/* depth 0: the context's default */
	ck_assert_int_eq(zc_queue_create(x.ctx, 0, 0, &q2), 0);
	zc_queue_destroy(q2);
	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(ro), 0);
	ck_assert_int_eq(zc_reg_destroy(oreg), 0);
	zc_file_close(of);
	zc_ctx_destroy(other);
	fx_close(&x);
}
END_TEST

/* above 4 GiB in one call: a sparse reservation registered on bounce (no
 * pin); reads stop at EOF, a queued op above UINT32_MAX bytes runs inline */
START_TEST(test_misuse_lengths_above_4gib)
{
	struct fx x;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c;
	const size_t big = ((size_t)4 << 30) + 8192;
	uint8_t *mem;
	ssize_t n;

	if (sizeof(size_t) < 8)
		return;
	fx_open(&x, g_dir, 0, ~UINT64_C(0));
	mem = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED) {
		printf("misuse.args: no 4 GiB reservation here (%s): skipped\n", strerror(errno));
		fx_close(&x);
		return;
	}
	ck_assert_int_eq(zt_reg_mem(x.f, mem, big, 0, 0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &r), 0);
	n = zc_read(r, 0, 0, big - 4096);
	ck_assert_msg(n == F_SIZE, "zc_read of 4 GiB from a file of %d bytes: %zd", F_SIZE, n);
	ck_assert_int_eq(zt_verify(mem, F_SIZE, SEED, 0), -1);
	ck_assert_int_eq(zc_queue_create(x.ctx, 2, 0, &q), 0);
	ck_assert_int_eq(zc_prep_read(q, r, 4096, 1, big - 4096, 7), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_msg(c.res == F_SIZE - 1, "queued read of 4 GiB: res %lld", (long long)c.res);
	ck_assert_int_eq(zt_verify(mem + 4096, F_SIZE - 1, SEED, 1), -1);
	zc_queue_destroy(q);
	/* a registration that large cannot be pinned here: uring_fixed and
	 * the default selection land on bounce or fail cleanly */
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	munmap(mem, big);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* direct: unaligned O_DIRECT                                            */

/* model of the file's bytes */
static uint8_t *g_model;
static size_t g_model_size;

static void model_reset(void)
{
	free(g_model);
	g_model = malloc(4 * F_SIZE);
	ck_assert_ptr_nonnull(g_model);
	zt_fill(g_model, F_SIZE, SEED, 0);
	g_model_size = F_SIZE;
}

static void model_check(const char *path)
{
	uint8_t *buf = malloc(g_model_size + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert(buf && fd >= 0);
	ck_assert_int_eq(zt_file_size(path), (int64_t)g_model_size);
	n = zt_pread_full(fd, buf, g_model_size, 0);
	ck_assert_int_eq(n, (ssize_t)g_model_size);
	for (size_t i = 0; i < g_model_size; i++)
		ck_assert_msg(buf[i] == g_model[i], "file byte %zu is 0x%02x, expected 0x%02x", i,
			      buf[i], g_model[i]);
	close(fd);
	free(buf);
}

static void direct_matrix(uint64_t backends)
{
	static const size_t moffs[] = { 0, 1, 511, 4095 };
	static const uint64_t foffs[] = { 0, 1, 511, 512, 4095, 4096 + 7, F_SIZE - 3 };
	static const size_t lens[] = { 1, 511, 512, 4096, 4097, 65536 + 3 };
	struct fx x;
	struct zc_file_info fi;
	uint32_t wseed = 100;

	fx_open(&x, g_ext4, O_DIRECT, backends);
	ck_assert_int_eq(zc_file_query(x.f, &fi, sizeof fi), 0);
	ck_assert(fi.flags & ZC_FILE_DIRECT);
	model_reset();
	for (size_t a = 0; a < ZT_ARRAY_SIZE(moffs); a++)
		for (size_t b = 0; b < ZT_ARRAY_SIZE(foffs); b++)
			for (size_t c = 0; c < ZT_ARRAY_SIZE(lens); c++) {
				size_t mo = moffs[a], len = lens[c];
				uint64_t fo = foffs[b];
				size_t want = fo >= g_model_size ? 0 :
					      (size_t)(g_model_size - fo < len ? g_model_size - fo : len);
				ssize_t n;

				memset(x.mem + mo, 0xEE, len);
				n = zc_read(x.r, mo, fo, len);
				ck_assert_msg(n == (ssize_t)want,
					      "O_DIRECT zc_read mem+%zu off %llu len %zu: %zd, "
					      "expected %zu", mo, (unsigned long long)fo, len, n, want);
				ck_assert_msg(!memcmp(x.mem + mo, g_model + fo, want),
					      "O_DIRECT zc_read mem+%zu off %llu len %zu: wrong bytes",
					      mo, (unsigned long long)fo, len);
				ck_assert_msg(x.mem[mo + want] == 0xEE || want == len,
					      "zc_read wrote past what it returned");
			}
	/* writes: inside, across the end (the file grows to an unaligned
	 * size), far past the end (a hole) */
	for (size_t a = 0; a < ZT_ARRAY_SIZE(moffs); a++)
		for (size_t b = 0; b < ZT_ARRAY_SIZE(foffs); b++) {
			size_t mo = moffs[a], len = lens[(a + b) % ZT_ARRAY_SIZE(lens)];
			uint64_t fo = foffs[b];
			ssize_t n;

			zt_fill(x.mem + mo, len, wseed++, 0);
			n = zc_write(x.r, mo, fo, len);
			ck_assert_msg(n == (ssize_t)len, "O_DIRECT zc_write mem+%zu off %llu len %zu: "
				      "%zd", mo, (unsigned long long)fo, len, n);
			memcpy(g_model + fo, x.mem + mo, len);
			if (fo + len > g_model_size)
				g_model_size = fo + len;
		}
	{
		uint64_t fo = g_model_size + 5000;
		size_t len = 777;

		zt_fill(x.mem + 3, len, wseed++, 0);
		ck_assert_int_eq(zc_write(x.r, 3, fo, len), (ssize_t)len);
		memset(g_model + g_model_size, 0, fo - g_model_size);
		memcpy(g_model + fo, x.mem + 3, len);
		g_model_size = fo + len;
	}
	model_check(x.path);
	/* queued unaligned ops run inline, with the same bytes */
	{
		struct zc_queue *q;
		struct zc_completion c[3];
		int got = 0;

		ck_assert_int_eq(zc_queue_create(x.ctx, 4, 0, &q), 0);
		memset(x.mem, 0xEE, 3 * 65536);
		ck_assert_int_eq(zc_prep_read(q, x.r, 1, 3, 10000, 1), 0);
		ck_assert_int_eq(zc_prep_read(q, x.r, 65536, 4096, 8192, 2), 0); /* aligned */
		zt_fill(x.mem + 131073, 5555, wseed, 0);
		ck_assert_int_eq(zc_prep_write(q, x.r, 131073, 70001, 5555, 3), 0);
		ck_assert_int_eq(zc_submit(q), 3);
		while (got < 3) {
			int k = zc_reap(q, c + got, 3 - (unsigned)got, 1, 10000);

			ck_assert_int_ge(k, 1);
			got += k;
		}
		for (int i = 0; i < 3; i++) {
			ck_assert_msg(c[i].res == (c[i].user_data == 1 ? 10000 :
						   c[i].user_data == 2 ? 8192 : 5555),
				      "op %llu res %lld", (unsigned long long)c[i].user_data,
				      (long long)c[i].res);
			if (c[i].user_data != 2)
				ck_assert_msg(c[i].flags & ZC_CQE_F_INLINE, "unaligned op not inline");
		}
		ck_assert(!memcmp(x.mem + 1, g_model + 3, 10000));
		ck_assert(!memcmp(x.mem + 65536, g_model + 4096, 8192));
		memcpy(g_model + 70001, x.mem + 131073, 5555);
		zc_queue_destroy(q);
		model_check(x.path);
	}
	free(g_model);
	g_model = NULL;
	fx_close(&x);
}

START_TEST(test_misuse_direct_unaligned_uring_fixed)
{
	if (!zt_uring_expected()) {
		printf("misuse.direct: io_uring unavailable: uring_fixed part skipped\n");
		return;
	}
	direct_matrix(ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED));
}
END_TEST

START_TEST(test_misuse_direct_unaligned_bounce)
{
	direct_matrix(ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE));
}
END_TEST

/* MAP_FILE of an O_DIRECT descriptor at an unaligned offset: the copy is
 * filled through staging, zc_sync writes it back the same way */
START_TEST(test_misuse_direct_map_file_unaligned_offset)
{
	struct fx x;
	struct zc_reg *r;
	uint8_t *a;

	fx_open(&x, g_ext4, O_DIRECT, ~UINT64_C(0));
	model_reset();
	ck_assert_int_eq(zt_reg_map_file(x.f, 1000, 10001, 0, 0, &r), 0);
	a = zc_reg_addr(r);
	ck_assert(!memcmp(a, g_model + 1000, 10001));
	zt_fill(a + 17, 3000, 200, 0);
	memcpy(g_model + 1017, a + 17, 3000);
	ck_assert_int_eq(zc_sync(r, 17, 3000), 0);
	model_check(x.path);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	free(g_model);
	g_model = NULL;
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* fd: closed, or replaced by dup2, after zc_file_open                   */

/* 1 if buf holds file A's bytes at off, 2 if file B's, 0 otherwise */
static int whose(const uint8_t *buf, size_t len, uint64_t off)
{
	if (zt_verify(buf, len, SEED, off) == -1)
		return 1;
	if (zt_verify(buf, len, SEED_B, off) == -1)
		return 2;
	return 0;
}

static const char *whose_name(int w)
{
	return w == 1 ? "the original file's bytes" : w == 2 ? "the other file's bytes" :
							       "bytes of neither file";
}

/* a sync read and a queued read after the fd changed: both give the
 * original file's bytes */
static void reads_after(struct fx *x, struct zc_reg *r, struct zc_queue *q, const char *how,
			const char *be)
{
	struct zc_completion c;
	int w;

	memset(x->mem, 0xEE, 8192);
	ck_assert_int_eq(zc_read(r, 0, 4096, 4096), 4096);
	w = whose(x->mem, 4096, 4096);
	ck_assert_msg(w == 1, "zc_read after the fd was %s (%s) returned %s", how, be,
		      whose_name(w));
	memset(x->mem, 0xEE, 8192);
	ck_assert_int_eq(zc_prep_read(q, r, 0, 4096, 4096, 1), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, 4096);
	w = whose(x->mem, 4096, 4096);
	ck_assert_msg(w == 1, "queued read after the fd was %s (%s) returned %s", how, be,
		      whose_name(w));
}

static void fd_case(int replace, uint64_t backends, const char *be)
{
	struct fx x;
	struct zc_reg *r = NULL, *m;
	struct zc_queue *q;
	char pb[PATH_MAX];
	const char *how = replace ? "replaced by dup2 of another file" : "closed";
	int b;

	fx_open(&x, g_dir, 0, ~UINT64_C(0));
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, backends, &r), 0);
	/* made first: a ring made after the close would get the closed fd's
	 * number, and the queued read would go to the ring itself (see
	 * misuse-findings.md) */
	ck_assert_int_eq(zc_queue_create(x.ctx, 2, 0, &q), 0);
	b = zt_make_file(g_dir, F_SIZE, SEED_B, O_RDWR, pb);
	ck_assert_int_ge(b, 0);
	if (replace) {
		ck_assert_int_eq(dup2(b, x.fd), x.fd);
	} else {
		close(x.fd);
	}
	close(b);
	reads_after(&x, r, q, how, be);
	zc_queue_destroy(q);
	/* a write reaches the original file; the other one is untouched */
	zt_fill(x.mem, 1000, 77, 100000);
	ck_assert_int_eq(zc_write(r, 0, 100000, 1000), 1000);
	ck_assert_int_eq(zt_verify_file(x.path, 100000, 1000, 77), -1);
	ck_assert_int_eq(zt_verify_file(pb, 0, F_SIZE, SEED_B), -1);
	/* a new MAP_FILE registration maps the original file */
	m = NULL;
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, 8192, 0, 0, &m), 0);
	ck_assert_msg(whose(zc_reg_addr(m), 8192, 0) == 1,
		      "a new MAP_FILE registration after the fd was %s holds %s", how,
		      whose_name(whose(zc_reg_addr(m), 8192, 0)));
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(x.f);
	zc_ctx_destroy(x.ctx);
	if (replace)
		close(x.fd);
	unlink(x.path);
	unlink(pb);
	munmap(x.mem, MEM_LEN);
	{
		char why[512];

		ck_assert_msg(zt_res_check(&x.res0, 3000, why, sizeof why) == 0, "leak: %s", why);
	}
}

START_TEST(test_misuse_fd_closed_after_open)
{
	fd_case(0, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), "bounce");
	if (zt_uring_expected())
		fd_case(0, ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED), "uring_fixed");
}
END_TEST

START_TEST(test_misuse_fd_replaced_by_dup2_after_open)
{
	fd_case(1, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), "bounce");
	if (zt_uring_expected())
		fd_case(1, ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED), "uring_fixed");
}
END_TEST

/* pin_lease: the leased fd is closed, then destroyed; the lease must go
 * (the kernel drops it with the last reference), nothing may hang */
START_TEST(test_misuse_fd_closed_under_a_lease)
{
	struct fx x;
	struct zc_reg *m;
	char why[512];
	int fd;

	if (!zt_pin_lease_expected() || !zt_tmpfs_dir(NULL)) {
		printf("misuse.fd: no pin_lease here: lease case skipped\n");
		return;
	}
	fx_open(&x, zt_tmpfs_dir(NULL), 0, ~UINT64_C(0));
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, 65536, 0, 0, &m), 0);
	ck_assert_int_eq(zc_reg_backend(m), ZC_BACKEND_PIN_LEASE);
	close(x.fd);
	/* the library's own reference still reads the file */
	ck_assert_int_eq(zc_read(m, 0, 100000, 4096), 4096);
	ck_assert_int_eq(zt_verify(zc_reg_addr(m), 4096, SEED, 100000), -1);
	ck_assert_int_eq(zc_reg_destroy(m), 0);
	zc_file_close(x.f);
	zc_ctx_destroy(x.ctx);
	/* nobody holds a lease: an open does not block */
	fd = open(x.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open after the leased fd was closed: %s", strerror(errno));
	close(fd);
	unlink(x.path);
	munmap(x.mem, MEM_LEN);
	ck_assert_msg(zt_res_check(&x.res0, 3000, why, sizeof why) == 0, "leak: %s", why);
}
END_TEST

/* ------------------------------------------------------------------ */
/* destroy: in-flight I/O, children alive                                */

static void busy_case(unsigned ctx_flags, const char *what)
{
	struct fx x;
	struct zc_queue *q;
	struct zc_completion c;
	int rc;

	fx_open(&x, g_dir, 0, ~UINT64_C(0));
	if (ctx_flags) {
		zc_file_close(x.f);
		zc_ctx_destroy(x.ctx);
		x.ctx = ctx_logged(ctx_flags);
		ck_assert_int_eq(zc_file_open(x.ctx, x.fd, 0, &x.f), 0);
	}
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, 0, &x.r), 0);
	ck_assert_int_eq(zc_queue_create(x.ctx, 4, 0, &q), 0);
	/* prepared */
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, 4096, 1), 0);
	memset(&g_log, 0, sizeof g_log);
	rc = zc_reg_destroy(x.r);
	ck_assert_msg(rc == -EBUSY, "%s: zc_reg_destroy with an op prepared: %d", what, rc);
	logged("zc_reg_destroy");
	/* still usable */
	ck_assert_int_eq(zc_read(x.r, 8192, 8192, 4096), 4096);
	ck_assert_int_eq(zt_verify(x.mem + 8192, 4096, SEED, 8192), -1);
	/* submitted, not reaped (inline ops too) */
	ck_assert_int_eq(zc_submit(q), 1);
	rc = zc_reg_destroy(x.r);
	ck_assert_msg(rc == -EBUSY, "%s: zc_reg_destroy with an op submitted: %d", what, rc);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, 4096);
	ck_assert_int_eq(zt_verify(x.mem, 4096, SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(x.r), 0);
	/* destroying the queue lets its ops go */
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, 0, &x.r), 0);
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, 4096, 1), 0);
	ck_assert_int_eq(zc_prep_write(q, x.r, 0, F_SIZE, 100, 2), 0);
	ck_assert_int_eq(zc_submit(q), 2);
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, 4096, 3), 0);
	ck_assert_int_eq(zc_reg_destroy(x.r), -EBUSY);
	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(x.r), 0);
	x.r = NULL;
	fx_close(&x);
}

START_TEST(test_misuse_reg_destroy_with_io_in_flight)
{
	busy_case(0, "io_uring");
	busy_case(ZC_CTX_NO_URING, "ZC_CTX_NO_URING");
}
END_TEST

START_TEST(test_misuse_close_and_destroy_with_children_alive)
{
	struct fx x;
	struct zc_queue *q;
	struct zc_file *f2;
	struct zc_stats s;
	struct zc_reg *r2;

	fx_open(&x, g_dir, 0, 0);
	/* a file with a registration */
	memset(&g_log, 0, sizeof g_log);
	zc_file_close(x.f);
	ck_assert_msg(zt_log_line_has(&g_log, ZC_LOG_ERROR, "zc_file_close", NULL, NULL, NULL),
		      "refused zc_file_close not logged:\n%s", g_log.text);
	ck_assert_int_eq(zc_read(x.r, 0, 0, 4096), 4096);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem + 65536, 65536, 0, 0, 0, &r2), 0);
	ck_assert_int_eq(zc_reg_destroy(r2), 0);
	/* a context with a file */
	memset(&g_log, 0, sizeof g_log);
	zc_ctx_destroy(x.ctx);
	ck_assert_msg(zt_log_line_has(&g_log, ZC_LOG_ERROR, "zc_ctx_destroy", NULL, NULL, NULL),
		      "refused zc_ctx_destroy not logged:\n%s", g_log.text);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &s, sizeof s), 0);
	ck_assert_int_eq(zc_file_open(x.ctx, x.fd, 0, &f2), 0);
	ck_assert_int_eq(zc_reg_destroy(x.r), 0);
	x.r = NULL;
	zc_file_close(x.f);
	/* a context with a queue (and another file) */
	ck_assert_int_eq(zc_queue_create(x.ctx, 2, 0, &q), 0);
	zc_file_close(f2);
	memset(&g_log, 0, sizeof g_log);
	zc_ctx_destroy(x.ctx);
	ck_assert_msg(zt_log_line_has(&g_log, ZC_LOG_ERROR, "zc_ctx_destroy", NULL, NULL, NULL),
		      "refused zc_ctx_destroy not logged:\n%s", g_log.text);
	ck_assert_int_eq(zc_file_open(x.ctx, x.fd, 0, &x.f), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, 0, &x.r), 0);
	ck_assert_int_eq(zc_prep_read(q, x.r, 0, 0, 100, 1), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	{
		struct zc_completion c;

		ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
		ck_assert_int_eq(c.res, 100);
	}
	zc_queue_destroy(q);
	/* now everything goes, and nothing stays (fx_close checks) */
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* fork                                                                 */

struct forkst {
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r, *m;
	struct zc_queue *q;
	uint8_t *mem;
	int fd;
	char path[PATH_MAX];
};
static struct forkst g_fk;

static int child_echild(void *arg)
{
	struct forkst *s = &g_fk;
	struct zc_reg_params p;
	struct zc_reg *r = SENT;
	struct zc_queue *q = SENT;
	struct zc_file *f = SENT;
	struct zc_completion c;
	int fds = zt_fd_count(), rc;

	(void)arg;
#define ECHILD_OK(call)                                                   \
	do {                                                              \
		long rc_ = (long)(call);                                  \
		ZT_CREQ_MSG(rc_ == -ECHILD, "%s in a forked child: %ld", #call, rc_); \
	} while (0)
	ECHILD_OK(zc_file_open(s->ctx, s->fd, 0, &f));
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
	p.addr = s->mem + 65536;
	p.length = 4096;
	ECHILD_OK(zc_reg_create(s->f, &p, &r));
	ECHILD_OK(zc_read(s->r, 0, 0, 100));
	ECHILD_OK(zc_write(s->r, 0, 0, 100));
	ECHILD_OK(zc_sync(s->r, 0, 0));
	ECHILD_OK(zc_queue_create(s->ctx, 2, 0, &q));
	ECHILD_OK(zc_prep_read(s->q, s->r, 0, 0, 100, 1));
	ECHILD_OK(zc_prep_write(s->q, s->r, 0, 0, 100, 1));
	ECHILD_OK(zc_submit(s->q));
	ECHILD_OK(zc_reap(s->q, &c, 1, 0, 0));
	ECHILD_OK(zc_ctx_uring_attach(s->ctx, 0));
	ECHILD_OK(zc_ctx_uring_detach(s->ctx, 0));
	ECHILD_OK(zc_reg_destroy(s->r));
	if (s->m) {
		ECHILD_OK(zc_read(s->m, 0, 0, 100));
		ECHILD_OK(zc_sync(s->m, 0, 0));
		ECHILD_OK(zc_reg_destroy(s->m));
	}
	ZT_CREQ(f == SENT && r == SENT && q == SENT);
	/* void destroys do nothing */
	zc_queue_destroy(s->q);
	zc_file_close(s->f);
	zc_ctx_destroy(s->ctx);
	ZT_CREQ_MSG(zt_fd_count() == fds, "a destroy in the child closed descriptors: %d -> %d",
		    fds, zt_fd_count());
	/* the objects are still there (the calls did not free them) */
	ECHILD_OK(zc_read(s->r, 0, 0, 100));
	ECHILD_OK(zc_submit(s->q));
	/* the child's own context works */
	{
		struct zc_ctx *ctx;
		struct zc_file *cf;
		struct zc_reg *cr;
		char cp[PATH_MAX];
		int cfd;
		uint8_t *mem = zt_map_anon(65536);

		ZT_CREQ(mem);
		ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
		cfd = zt_make_file(g_dir, 65536, SEED_B, O_RDWR, cp);
		ZT_CREQ(cfd >= 0);
		ZT_CREQ(zc_file_open(ctx, cfd, 0, &cf) == 0);
		ZT_CREQ(zt_reg_mem(cf, mem, 65536, 0, 0, 0, &cr) == 0);
		rc = (int)zc_read(cr, 0, 0, 65536);
		ZT_CREQ_MSG(rc == 65536 && zt_verify(mem, 65536, SEED_B, 0) == -1,
			    "the child's own context: zc_read %d", rc);
		ZT_CREQ(zc_reg_destroy(cr) == 0);
		zc_file_close(cf);
		zc_ctx_destroy(ctx);
		close(cfd);
		unlink(cp);
	}
#undef ECHILD_OK
	return 0;
}

static void fork_setup(unsigned extra_fault)
{
	struct forkst *s = &g_fk;
	const char *dir = zt_tmpfs_dir(NULL) ? zt_tmpfs_dir(NULL) : g_dir;

	memset(s, 0, sizeof *s);
	if (extra_fault)
		setenv("ZC_FAULT", "uring_fixed:io:EIO", 1);
	s->ctx = ctx_logged(0);
	unsetenv("ZC_FAULT");
	s->fd = zt_make_file(dir, F_SIZE, SEED, O_RDWR, s->path);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(zc_file_open(s->ctx, s->fd, 0, &s->f), 0);
	s->mem = zt_map_anon(MEM_LEN);
	ck_assert_int_eq(zt_reg_mem(s->f, s->mem, MEM_LEN, 0, 0, 0, &s->r), 0);
	if (zt_pin_lease_expected() && zt_tmpfs_dir(NULL)) {
		ck_assert_int_eq(zt_reg_map_file(s->f, 0, 65536, 0, 0, &s->m), 0);
		ck_assert_int_eq(zc_reg_backend(s->m), ZC_BACKEND_PIN_LEASE);
	}
	ck_assert_int_eq(zc_queue_create(s->ctx, 4, 0, &s->q), 0);
	/* an op prepared before the fork, run after it */
	ck_assert_int_eq(zc_prep_read(s->q, s->r, 0, 1000, 5000, 42), 0);
}

static void fork_teardown(void)
{
	struct forkst *s = &g_fk;

	zc_queue_destroy(s->q);
	if (s->m)
		ck_assert_int_eq(zc_reg_destroy(s->m), 0);
	ck_assert_int_eq(zc_reg_destroy(s->r), 0);
	zc_file_close(s->f);
	zc_ctx_destroy(s->ctx);
	close(s->fd);
	unlink(s->path);
	munmap(s->mem, MEM_LEN);
}

START_TEST(test_misuse_fork_child_gets_echild_parent_carries_on)
{
	struct forkst *s = &g_fk;
	struct zc_completion c;
	struct zt_res r0;
	char why[512];

	zt_res_snap(&r0);
	fork_setup(0);
	ZT_CK_CHILD_OK(zt_fork_run(child_echild, NULL));
	/* the parent: the op prepared before the fork, its lease, its I/O */
	ck_assert_int_eq(zc_submit(s->q), 1);
	ck_assert_int_eq(zc_reap(s->q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.user_data, 42);
	ck_assert_int_eq(c.res, 5000);
	ck_assert_int_eq(zt_verify(s->mem, 5000, SEED, 1000), -1);
	ck_assert_int_eq(zc_read(s->r, 100, 2000, 3000), 3000);
	ck_assert_int_eq(zt_verify(s->mem + 100, 3000, SEED, 2000), -1);
	if (s->m) {
		ck_assert_int_eq(fcntl(s->fd, F_GETLEASE), F_WRLCK);
		ck_assert_int_eq(zc_read(s->m, 0, 100000, 4096), 4096);
		ck_assert_int_eq(zc_reg_backend(s->m), ZC_BACKEND_PIN_LEASE);
	}
	fork_teardown();
	ck_assert_msg(zt_res_check(&r0, 3000, why, sizeof why) == 0, "leak: %s", why);
}
END_TEST

/* the read-only entry points in a child: -ECHILD as the rest, or at
 * least the parent's values; printed, see misuse-findings.md */
static int child_queries(void *arg)
{
	struct forkst *s = &g_fk;
	struct zc_backend_info bi;
	struct zc_stats st;
	struct zc_file_info fi;
	struct zc_attempt a[8];
	struct zc_rdma_keys k;
	struct {
		const char *call;
		long rc;
	} q[] = {
		{ "zc_ctx_query", zc_ctx_query(s->ctx, ZC_BACKEND_BOUNCE, &bi) },
		{ "zc_ctx_stats", zc_ctx_stats(s->ctx, &st, sizeof st) },
		{ "zc_file_query", zc_file_query(s->f, &fi, sizeof fi) },
		{ "zc_reg_attempts", zc_reg_attempts(s->r, a, 8) },
		{ "zc_reg_rdma", zc_reg_rdma(s->r, &k) },
		{ "zc_reg_buf_index", zc_reg_buf_index(s->r, 0, 4096) },
		{ "zc_ctx_event_fd", zc_ctx_event_fd(s->ctx) },
	};

	(void)arg;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(q); i++) {
		printf("misuse.fork: %s in a forked child returns %ld%s\n", q[i].call, q[i].rc,
		       q[i].rc == -ECHILD ? " (-ECHILD)" : "");
		ZT_CREQ(q[i].rc == -ECHILD || q[i].rc >= 0 || q[i].rc == -ENODATA);
	}
	return 0;
}

START_TEST(test_misuse_fork_child_queries_do_not_crash)
{
	fork_setup(0);
	ZT_CK_CHILD_OK(zt_fork_run(child_queries, NULL));
	ck_assert_int_eq(zc_submit(g_fk.q), 1);
	{
		struct zc_completion c;

		ck_assert_int_eq(zc_reap(g_fk.q, &c, 1, 1, 10000), 1);
	}
	fork_teardown();
}
END_TEST

static int child_events(void *arg)
{
	struct zc_event ev[4];
	int n = zc_ctx_events(g_fk.ctx, ev, 4);

	(void)arg;
	printf("misuse.fork: zc_ctx_events in a forked child returns %d\n", n);
	ZT_CREQ_MSG(n == -ECHILD, "zc_ctx_events in a forked child: %d, expected -ECHILD (it "
		    "reads the event fd it shares with the parent)", n);
	return 0;
}

/* The event fd is shared with the parent: a child taking "its" events
 * would drain the parent's fd while the parent's events stay queued. */
START_TEST(test_misuse_fork_child_leaves_the_parents_events_alone)
{
	struct forkst *s = &g_fk;
	struct pollfd pfd;
	struct zc_event ev[4];
	int st;

	if (!zt_uring_expected()) {
		printf("misuse.fork: io_uring unavailable: no io fault to post an event\n");
		return;
	}
	fork_setup(1);
	/* the io fault posts ZC_EVENT_FALLBACK */
	ck_assert_int_eq(zc_read(s->r, 0, 0, 4096), 4096);
	pfd = (struct pollfd){ .fd = zc_ctx_event_fd(s->ctx), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	st = zt_fork_run(child_events, NULL);
	/* the parent still sees its event, on the fd and in the queue */
	ck_assert_msg(poll(&pfd, 1, 0) == 1, "the parent's event fd went quiet after a child "
		      "called zc_ctx_events, with the event still queued");
	ck_assert_int_eq(zc_ctx_events(s->ctx, ev, 4), 1);
	ck_assert_int_eq(ev[0].type, ZC_EVENT_FALLBACK);
	ZT_CK_CHILD_OK(st);
	ck_assert_int_eq(zc_submit(s->q), 1);
	{
		struct zc_completion c;

		ck_assert_int_eq(zc_reap(s->q, &c, 1, 1, 10000), 1);
	}
	fork_teardown();
}
END_TEST

/* ------------------------------------------------------------------ */

/* Run once what the tests do, before Check forks them, so that what glibc
 * keeps after first use (a thread's stack, a malloc arena, stdio buffers,
 * the heap's first mapping) is there before any test counts mappings. */
static void warm_up(void)
{
	const char *dirs[2] = { zt_tmpfs_dir(NULL), g_ext4 };
	struct zc_ctx *ctx;

	if (zc_ctx_create(NULL, &ctx))
		return;
	for (int d = 0; d < 2; d++) {
		char path[PATH_MAX], why[128];
		struct zc_file *f;
		struct zc_reg *r, *m = NULL;
		struct zc_queue *q;
		struct zc_completion c;
		uint8_t *mem = zt_map_anon(MEM_LEN), *big = malloc(4 * F_SIZE);
		int direct = d == 1 && g_ext4 && zt_odirect_works(g_ext4, why, sizeof why);
		int fd;

		if (!dirs[d] || !mem)
			continue;
		fd = zt_make_file(dirs[d], F_SIZE, SEED, O_RDWR | (direct ? O_DIRECT : 0), path);
		if (fd < 0 || zc_file_open(ctx, fd, 0, &f))
			continue;
		if (!zt_reg_mem(f, mem, MEM_LEN, 0, 0, 0, &r)) {
			zc_read(r, 1, 3, 10000);
			if (!zc_queue_create(ctx, 4, 0, &q)) {
				if (!zc_prep_read(q, r, 1, 3, 10000, 1) && zc_submit(q) == 1)
					zc_reap(q, &c, 1, 1, 10000);
				zc_queue_destroy(q);
			}
			zc_reg_destroy(r);
		}
		if (!zt_reg_map_file(f, 0, 65536, 0, 0, &m))
			zc_reg_destroy(m);
		zc_file_close(f);
		close(fd);
		unlink(path);
		free(big);
		munmap(mem, MEM_LEN);
	}
	zc_ctx_destroy(ctx);
	/* the kernel unpins a ring's buffers a moment after the last close */
	for (int i = 0; i < 300 && zt_vm_pin_kb() > 0; i++)
		usleep(10000);
}

int main(int argc, char **argv)
{
	const char *why = NULL, *why4 = NULL;
	char reason[256];
	Suite *s;
	TCase *tc;

	g_variant = argc > 1 ? argv[1] : "";
	zt_init();
	g_dir = zt_tmpfs_dir(&why);
	g_ext4 = zt_ext4_dir(&why4);
	if (!g_dir)
		g_dir = g_ext4;
	if (!g_dir)
		zt_skip("misuse.%s: neither tmpfs (%s) nor ext4 (%s)", g_variant, why, why4);
	warm_up();
	s = suite_create("misuse");
	tc = zt_tcase(g_variant);
	if (!strcmp(g_variant, "args")) {
		tcase_add_test(tc, test_misuse_version_names_strerror_never_fail);
		tcase_add_test(tc, test_misuse_ctx_create_bad_params_einval);
		tcase_add_test(tc, test_misuse_malformed_environment_einval);
		tcase_add_test(tc, test_misuse_ctx_queries_null_and_ranges);
		tcase_add_test(tc, test_misuse_uring_attach_detach_errors);
		tcase_add_test(tc, test_misuse_file_open_bad_descriptors);
		tcase_add_test(tc, test_misuse_reg_create_bad_params);
		tcase_add_test(tc, test_misuse_reg_accessors_null_and_ranges);
		tcase_add_test(tc, test_misuse_io_ranges_overflow_access);
		tcase_add_test(tc, test_misuse_queue_null_ranges_full_other_context);
		tcase_add_test(tc, test_misuse_lengths_above_4gib);
	} else if (!strcmp(g_variant, "direct")) {
		if (!g_ext4)
			zt_skip("misuse.direct: needs ext4: %s", why4);
		if (!zt_odirect_works(g_ext4, reason, sizeof reason))
			zt_skip("misuse.direct: O_DIRECT does not work on ext4 here: %s", reason);
		tcase_add_test(tc, test_misuse_direct_unaligned_uring_fixed);
		tcase_add_test(tc, test_misuse_direct_unaligned_bounce);
		tcase_add_test(tc, test_misuse_direct_map_file_unaligned_offset);
	} else if (!strcmp(g_variant, "fd")) {
		tcase_add_test(tc, test_misuse_fd_closed_after_open);
		tcase_add_test(tc, test_misuse_fd_replaced_by_dup2_after_open);
		tcase_add_test(tc, test_misuse_fd_closed_under_a_lease);
	} else if (!strcmp(g_variant, "destroy")) {
		tcase_add_test(tc, test_misuse_reg_destroy_with_io_in_flight);
		tcase_add_test(tc, test_misuse_close_and_destroy_with_children_alive);
	} else if (!strcmp(g_variant, "fork")) {
		tcase_add_test(tc, test_misuse_fork_child_gets_echild_parent_carries_on);
		tcase_add_test(tc, test_misuse_fork_child_queries_do_not_crash);
		tcase_add_test(tc, test_misuse_fork_child_leaves_the_parents_events_alone);
	} else {
		fprintf(stderr, "usage: %s args|direct|fd|destroy|fork\n", argv[0]);
		return 2;
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
