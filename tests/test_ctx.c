/* SPDX-License-Identifier: MIT */
/* Context: parameters, environment (ZC_BACKENDS, ZC_LOG, ZC_FAULT),
 * backend queries, logging, stats, events, version and names. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char g_file[PATH_MAX]; /* 1 MiB + 17 bytes of pattern 11 */
#define G_SIZE (ZT_MiB + 17)
#define G_SEED 11u

static struct zc_ctx *const SENTINEL_CTX = (struct zc_ctx *)(uintptr_t)0x5a5a5a5a;

/* create with p; on failure also check that *out is untouched and that
 * no fd was leaked */
static int create_expect_fail(const struct zc_ctx_params *p)
{
	struct zc_ctx *ctx = SENTINEL_CTX;
	int before = zt_fd_count();
	int rc = zc_ctx_create(p, &ctx);

	if (rc == 0) {
		zc_ctx_destroy(ctx);
		return 0;
	}
	ck_assert_ptr_eq(ctx, SENTINEL_CTX);
	ck_assert_int_eq(zt_fd_count(), before);
	return rc;
}

static void create_expect_ok(const struct zc_ctx_params *p)
{
	struct zc_ctx *ctx = NULL;
	int rc = zc_ctx_create(p, &ctx);

	ck_assert_msg(rc == 0, "zc_ctx_create: %d (%s)", rc, zc_strerror(rc));
	ck_assert_ptr_nonnull(ctx);
	zc_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ */

START_TEST(test_ctx_create_null_params_uses_defaults)
{
	struct zc_ctx *ctx = NULL;
	struct zc_backend_info bi;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi), 0);
	ck_assert_int_eq(bi.available, 1);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_unset_fields_are_not_read)
{
	/* every field holds a value that would be rejected; none is marked */
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	p.backends = UINT64_C(1) << 60;
	p.queue_depth = 0;
	p.bounce_bytes = 1;
	p.numa_node = -7;
	p.flags = 0xffff0000u;
	p.log_level = 99;
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_create_null_out_is_einval)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	ck_assert_int_eq(zc_ctx_create(NULL, NULL), -EINVAL);
	ck_assert_int_eq(zc_ctx_create(&p, NULL), -EINVAL);
}
END_TEST

START_TEST(test_ctx_unknown_field_mask_bits_are_einval)
{
	static const uint64_t bad[] = { UINT64_C(1) << 20, UINT64_C(1) << 31,
					UINT64_C(1) << 63, ~UINT64_C(0) };
	struct zc_ctx_params p;

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(bad); i++) {
		memset(&p, 0, sizeof p);
		p.field_mask = bad[i];
		p.queue_depth = 64;
		p.bounce_bytes = 64 * ZT_MiB;
		p.numa_node = -1;
		p.backends = ZC_BACKENDS_ALL;
		ck_assert_msg(create_expect_fail(&p) == -EINVAL,
			      "field_mask 0x%llx not refused with -EINVAL",
			      (unsigned long long)bad[i]);
	}
}
END_TEST

START_TEST(test_ctx_unknown_flags_are_einval)
{
	static const unsigned bad[] = { 1u << 1, 1u << 7, 1u << 31,
					ZC_CTX_NO_URING | (1u << 2) };
	struct zc_ctx_params p;

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(bad); i++) {
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_CTX_FIELD_FLAGS;
		p.flags = bad[i];
		ck_assert_msg(create_expect_fail(&p) == -EINVAL,
			      "flags 0x%x not refused", bad[i]);
	}
	p.flags = ZC_CTX_NO_URING;
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_backends_outside_all_are_einval)
{
	static const uint64_t bad[] = {
		ZC_BACKEND_BIT(ZC_BACKEND_NONE),
		ZC_BACKEND_BIT(ZC_BACKEND_MAX + 1),
		ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE) | ZC_BACKEND_BIT(7),
		UINT64_C(1) << 63,
		~UINT64_C(0),
	};
	struct zc_ctx_params p;

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(bad); i++) {
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_CTX_FIELD_BACKENDS;
		p.backends = bad[i];
		ck_assert_msg(create_expect_fail(&p) == -EINVAL,
			      "backends 0x%llx not refused",
			      (unsigned long long)bad[i]);
	}
	p.backends = ZC_BACKENDS_ALL;
	create_expect_ok(&p);
	p.backends = ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE);
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_queue_depth_0_and_above_4096_are_einval)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_QUEUE_DEPTH;
	p.queue_depth = 0;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.queue_depth = 4097;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.queue_depth = UINT_MAX;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.queue_depth = 1;
	create_expect_ok(&p);
	p.queue_depth = 4096;
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_bounce_bytes_below_64k_are_einval)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_BOUNCE_BYTES;
	p.bounce_bytes = 0;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.bounce_bytes = 64 * 1024 - 1;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.bounce_bytes = 64 * 1024;
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_numa_node_below_minus1_is_einval)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_NUMA_NODE;
	p.numa_node = -2;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.numa_node = INT_MIN;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.numa_node = -1;
	create_expect_ok(&p);
}
END_TEST

START_TEST(test_ctx_log_level_outside_0_to_3_is_einval)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_LEVEL;
	p.log_level = 4;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	p.log_level = -1;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	for (int l = ZC_LOG_ERROR; l <= ZC_LOG_DEBUG; l++) {
		p.log_level = l;
		create_expect_ok(&p);
	}
}
END_TEST

START_TEST(test_ctx_invalid_params_log_an_error_naming_the_call)
{
	struct zt_log log;
	struct zc_ctx_params p;

	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_QUEUE_DEPTH;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	p.queue_depth = 0;
	ck_assert_int_eq(create_expect_fail(&p), -EINVAL);
	ck_assert_msg(log.count[ZC_LOG_ERROR] >= 1,
		      "no error-level message for a bad queue_depth; log:\n%s",
		      log.text);
	ck_assert_msg(zt_log_has(&log, ZC_LOG_ERROR, "zc_ctx_create"),
		      "error message does not name zc_ctx_create:\n%s", log.text);
	ck_assert_uint_eq(log.bad_level, 0);
}
END_TEST

START_TEST(test_ctx_bad_call_logs_error_through_callback)
{
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_file *f = NULL;
	char path[PATH_MAX];
	int fd;

	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	p.log_level = ZC_LOG_ERROR;
	ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
	fd = zt_make_file(zt_any_dir(), 4096, 1, O_RDWR, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 1, &f), -EINVAL);
	ck_assert_msg(zt_log_has(&log, ZC_LOG_ERROR, "zc_file_open"),
		      "no error message naming zc_file_open; log:\n%s", log.text);
	/* level ERROR: nothing above it reaches the callback */
	ck_assert_uint_eq(log.count[ZC_LOG_WARN] + log.count[ZC_LOG_INFO] +
				  log.count[ZC_LOG_DEBUG],
			  0);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_ctx_log_level_debug_delivers_attempts_and_filters_by_level)
{
	/* debug: a registration logs its attempts at debug level */
	for (int level = ZC_LOG_ERROR; level <= ZC_LOG_DEBUG; level++) {
		struct zt_log log;
		struct zc_ctx_params p;
		struct zc_ctx *ctx;
		struct zc_file *f;
		struct zc_reg *r;
		void *mem = zt_map_anon(ZT_MiB);
		int fd = open(g_file, O_RDWR | O_CLOEXEC);

		ck_assert_ptr_nonnull(mem);
		ck_assert_int_ge(fd, 0);
		memset(&log, 0, sizeof log);
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
		p.log_fn = zt_log_fn;
		p.log_arg = &log;
		p.log_level = level;
		ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
		ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
		ck_assert_int_eq(zt_reg_mem(f, mem, ZT_MiB, 0, 0, 0, &r), 0);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		zc_file_close(f);
		zc_ctx_destroy(ctx);
		for (int l = level + 1; l <= ZC_LOG_DEBUG; l++)
			ck_assert_msg(log.count[l] == 0,
				      "level %d set, got %u messages of level %d:\n%s",
				      level, log.count[l], l, log.text);
		if (level == ZC_LOG_DEBUG)
			ck_assert_msg(log.count[ZC_LOG_DEBUG] > 0,
				      "debug level: a registration logged no debug message");
		ck_assert_uint_eq(log.bad_level, 0);
		close(fd);
		munmap(mem, ZT_MiB);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* environment variables: each case in a forked child                  */

struct env_case {
	const char *var, *val;
	int expect_rc;
};

static int child_env_create(void *arg)
{
	const struct env_case *c = arg;
	struct zc_ctx *ctx = SENTINEL_CTX;
	int before = zt_fd_count(), rc;

	setenv(c->var, c->val, 1);
	rc = zc_ctx_create(NULL, &ctx);
	ZT_CREQ_MSG(rc == c->expect_rc, "%s=\"%s\": zc_ctx_create returned %d, expected %d",
		    c->var, c->val, rc, c->expect_rc);
	if (rc == 0) {
		zc_ctx_destroy(ctx);
	} else {
		ZT_CREQ(ctx == SENTINEL_CTX);
		ZT_CREQ(zt_fd_count() == before);
	}
	return 0;
}

static void run_env_cases(const struct env_case *cases, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int st = zt_fork_run(child_env_create, (void *)&cases[i]);
		char sb[64];
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "%s=\"%s\": child %s", cases[i].var, cases[i].val,
			      zt_status_str(st, sb, sizeof sb));
	}
}

START_TEST(test_ctx_zc_fault_malformed_is_einval)
{
	static const struct env_case c[] = {
		{ "ZC_FAULT", "bogus", -EINVAL },
		{ "ZC_FAULT", "uring_fixed", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:", -EINVAL },
		{ "ZC_FAULT", "nosuch:register:ENOMEM", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:ENOTANERRNO", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:0", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:ENOMEM:0", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:ENOMEM:x", -EINVAL },
		{ "ZC_FAULT", "uring_fixed:register:ENOMEM,bogus", -EINVAL },
	};
	run_env_cases(c, ZT_ARRAY_SIZE(c));
}
END_TEST

START_TEST(test_ctx_zc_fault_wellformed_is_accepted)
{
	static const struct env_case c[] = {
		{ "ZC_FAULT", "uring_fixed:register:ENOMEM", 0 },
		{ "ZC_FAULT", "uring_fixed:register:12", 0 },
		{ "ZC_FAULT", "core:statx:EIO:2", 0 },
		{ "ZC_FAULT", "bounce:alloc:ENOMEM,uring_fixed:io:EIO:3", 0 },
	};
	run_env_cases(c, ZT_ARRAY_SIZE(c));
}
END_TEST

START_TEST(test_ctx_zc_log_values)
{
	static const struct env_case c[] = {
		{ "ZC_LOG", "error", 0 }, { "ZC_LOG", "warn", 0 },
		{ "ZC_LOG", "info", 0 },  { "ZC_LOG", "debug", 0 },
		{ "ZC_LOG", "0", 0 },     { "ZC_LOG", "3", 0 },
		{ "ZC_LOG", "4", -EINVAL }, { "ZC_LOG", "bogus", -EINVAL },
	};
	run_env_cases(c, ZT_ARRAY_SIZE(c));
}
END_TEST

START_TEST(test_ctx_zc_backends_unknown_name_is_einval)
{
	static const struct env_case c[] = {
		{ "ZC_BACKENDS", "bogus", -EINVAL },
		{ "ZC_BACKENDS", "bounce,bogus", -EINVAL },
		{ "ZC_BACKENDS", "^bogus", -EINVAL },
	};
	run_env_cases(c, ZT_ARRAY_SIZE(c));
}
END_TEST

/* ZC_BACKENDS=<val>: which backends are excluded, and where a registration
 * of anonymous memory against the test file lands */
struct be_case {
	const char *val;
	uint64_t excluded; /* must be reported "excluded by ZC_BACKENDS" */
};

static int child_zc_backends(void *arg)
{
	const struct be_case *c = arg;
	struct zc_backend_info bi;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_attempt last[16];
	enum zc_backend want;
	int uring = zt_uring_expected(), fd, rc, n;
	void *mem = zt_map_anon(G_SIZE);
	char ab[1024];

	setenv("ZC_BACKENDS", c->val, 1);
	rc = zc_ctx_create(NULL, &ctx);
	ZT_CREQ_MSG(rc == 0, "ZC_BACKENDS=%s: zc_ctx_create %d", c->val, rc);

	for (int b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++) {
		ZT_CREQ(zc_ctx_query(ctx, (enum zc_backend)b, &bi) == 0);
		if (c->excluded & ZC_BACKEND_BIT(b)) {
			ZT_CREQ_MSG(bi.available == 0, "%s: %s available",
				    c->val, zc_backend_name((enum zc_backend)b));
			/* a backend that is not built may say so instead */
			if (b >= ZC_BACKEND_PIN_LEASE &&
			    (b == ZC_BACKEND_BOUNCE || zt_liburing_built()))
				ZT_CREQ_MSG(strstr(bi.reason, "excluded by ZC_BACKENDS"),
					    "%s: %s reason \"%s\"", c->val,
					    zc_backend_name((enum zc_backend)b), bi.reason);
		}
	}
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	if (!(c->excluded & ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED)))
		ZT_CREQ_MSG(bi.available == uring, "%s: uring_fixed available=%d, expected %d (%s)",
			    c->val, bi.available, uring, bi.reason);
	want = uring && !(c->excluded & ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED))
		       ? ZC_BACKEND_URING_FIXED
		       : ZC_BACKEND_BOUNCE;

	fd = open(g_file, O_RDWR | O_CLOEXEC);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	rc = zt_reg_mem(f, mem, G_SIZE, 0, 0, 0, &r);
	ZT_CREQ_MSG(rc == 0, "%s: zc_reg_create %d", c->val, rc);
	ZT_CREQ_MSG(zc_reg_backend(r) == want, "%s: backend %s, expected %s; attempts %s",
		    c->val, zc_backend_name(zc_reg_backend(r)), zc_backend_name(want),
		    zt_attempts_str(r, ab, sizeof ab));
	n = zc_reg_attempts(r, last, ZT_ARRAY_SIZE(last));
	ZT_CREQ(n >= 1 && n <= (int)ZT_ARRAY_SIZE(last));
	ZT_CREQ(last[n - 1].backend == want && last[n - 1].error == 0);
	for (int i = 0; i < n; i++)
		ZT_CREQ_MSG(!(c->excluded & ZC_BACKEND_BIT(last[i].backend)) ||
				    last[i].error != 0,
			    "%s: excluded backend %s was used", c->val,
			    zc_backend_name(last[i].backend));
	ZT_CREQ(zc_read(r, 0, 0, G_SIZE) == (ssize_t)G_SIZE);
	ZT_CREQ(zt_verify(mem, G_SIZE, G_SEED, 0) == -1);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_ctx_zc_backends_selects_allowed_set)
{
	const uint64_t U = ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED);
	const uint64_t B = ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE);
	const uint64_t OTHERS = ZC_BACKENDS_ALL & ~(U | B);
	const struct be_case c[] = {
		{ "bounce", OTHERS | U },
		{ "uring_fixed,bounce", OTHERS },
		{ "^uring_fixed", U },
		{ "all", 0 },
		{ "^odp_mr,p2p_bar", ZC_BACKEND_BIT(ZC_BACKEND_ODP_MR) |
					     ZC_BACKEND_BIT(ZC_BACKEND_P2P_BAR) },
	};

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(c); i++) {
		int st = zt_fork_run(child_zc_backends, (void *)&c[i]);
		char sb[64];
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "ZC_BACKENDS=%s: child %s", c[i].val,
			      zt_status_str(st, sb, sizeof sb));
	}
}
END_TEST

static int child_exclude_bounce(void *arg)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;

	(void)arg;
	setenv("ZC_BACKENDS", "^bounce", 1);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi) == 0);
	ZT_CREQ(bi.available == 0);
	ZT_CREQ_MSG(strstr(bi.reason, "excluded by ZC_BACKENDS"), "reason \"%s\"", bi.reason);
	zc_ctx_destroy(ctx);
	return 0;
}

START_TEST(test_ctx_zc_backends_can_exclude_bounce)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_exclude_bounce, NULL));
}
END_TEST

/* ZC_LOG sets the level when the params do not */
struct log_case {
	const char *env;   /* NULL: unset */
	int param_level;   /* -1: not set */
	int expect_debug;  /* 1: debug messages must arrive, 0: none may */
};

static int child_zc_log(void *arg)
{
	const struct log_case *c = arg;
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	void *mem = zt_map_anon(65536);
	int fd = open(g_file, O_RDWR | O_CLOEXEC);

	if (c->env)
		setenv("ZC_LOG", c->env, 1);
	else
		unsetenv("ZC_LOG");
	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	if (c->param_level >= 0) {
		p.field_mask |= ZC_CTX_FIELD_LOG_LEVEL;
		p.log_level = c->param_level;
	}
	ZT_CREQ(zc_ctx_create(&p, &ctx) == 0);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r) == 0);
	ZT_CREQ(zc_read(r, 0, 0, 4096) == 4096);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	/* a bad call: error level, delivered at every level */
	ZT_CREQ(zc_file_open(ctx, fd, 2, &f) == -EINVAL);
	ZT_CREQ_MSG(log.count[ZC_LOG_ERROR] >= 1, "no error message; log:\n%s", log.text);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	if (c->expect_debug)
		ZT_CREQ_MSG(log.count[ZC_LOG_DEBUG] > 0,
			    "ZC_LOG=%s level %d: no debug message", c->env ? c->env : "(unset)",
			    c->param_level);
	else
		ZT_CREQ_MSG(log.count[ZC_LOG_DEBUG] == 0,
			    "ZC_LOG=%s level %d: %u debug messages:\n%s",
			    c->env ? c->env : "(unset)", c->param_level,
			    log.count[ZC_LOG_DEBUG], log.text);
	if (!c->env && c->param_level < 0) /* default: warn */
		ZT_CREQ_MSG(log.count[ZC_LOG_INFO] == 0, "default level delivered info:\n%s",
			    log.text);
	if (c->env && (strcmp(c->env, "error") == 0 || strcmp(c->env, "0") == 0) &&
	    c->param_level < 0)
		ZT_CREQ_MSG(log.count[ZC_LOG_WARN] + log.count[ZC_LOG_INFO] == 0,
			    "ZC_LOG=error delivered warn/info:\n%s", log.text);
	close(fd);
	return 0;
}

START_TEST(test_ctx_zc_log_env_sets_level_and_params_override_it)
{
	static const struct log_case c[] = {
		{ "debug", -1, 1 },
		{ "3", -1, 1 },
		{ "error", -1, 0 },
		{ "0", -1, 0 },
		{ NULL, -1, 0 },
		{ "debug", ZC_LOG_ERROR, 0 }, /* params override the env */
		{ "error", ZC_LOG_DEBUG, 1 },
	};

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(c); i++) {
		int st = zt_fork_run(child_zc_log, (void *)&c[i]);
		char sb[64];
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "ZC_LOG=%s param %d: child %s", c[i].env ? c[i].env : "(unset)",
			      c[i].param_level, zt_status_str(st, sb, sizeof sb));
	}
}
END_TEST

static char g_stderr_path[PATH_MAX];

static int child_default_sink(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd, efd;

	(void)arg;
	unsetenv("ZC_LOG");
	efd = open(g_stderr_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ZT_CREQ(efd >= 0);
	fd = open(g_file, O_RDWR | O_CLOEXEC);
	ZT_CREQ(fd >= 0);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	/* the library writes to fd 2 from here on */
	ZT_CREQ(dup2(efd, 2) == 2);
	ZT_CREQ(zc_file_open(ctx, fd, 4, &f) == -EINVAL);
	zc_ctx_destroy(ctx);
	return 0;
}

START_TEST(test_ctx_default_log_sink_writes_prefixed_lines_to_stderr)
{
	char buf[8192];
	ssize_t n;
	int fd;

	snprintf(g_stderr_path, sizeof g_stderr_path, "%s/stderr.XXXXXX", zt_any_dir());
	fd = mkstemp(g_stderr_path);
	ck_assert_int_ge(fd, 0);
	ZT_CK_CHILD_OK(zt_fork_run(child_default_sink, NULL));
	n = pread(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_msg(strstr(buf, "libzerocopy: error: "), "stderr was:\n%s", buf);
	ck_assert_msg(strstr(buf, "zc_file_open"), "stderr was:\n%s", buf);
	close(fd);
	unlink(g_stderr_path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* queries                                                              */

START_TEST(test_ctx_query_bounce_is_available_without_zerocopy_cap)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	memset(&bi, 0x5a, sizeof bi);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi), 0);
	ck_assert_int_eq(bi.available, 1);
	ck_assert_msg(memchr(bi.reason, 0, sizeof bi.reason), "reason not terminated");
	ck_assert_msg(bi.reason[0] != 0, "bounce has no reason text");
	ck_assert_msg(!(bi.caps & ZC_CAP_ZEROCOPY), "bounce claims ZC_CAP_ZEROCOPY");
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_query_unbuilt_backends_say_not_built)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	/* p2p_bar is always built (libpci only reads the tests' dumps): its
	 * reason is the probe's (no publisher on this machine), never "not
	 * built" */
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_P2P_BAR, &bi), 0);
	ck_assert_msg(bi.reason[0] != 0, "p2p_bar has no reason");
	ck_assert_msg(strncmp(bi.reason, "not built", 9) != 0,
		      "p2p_bar reason \"%s\" in a build %s libpci", bi.reason,
		      ZT_HAVE_LIBPCI ? "with" : "without");
	/* odp_mr is built with the verbs headers; then its reason is the
	 * probe's (libibverbs, the device, ODP), never "not built" */
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_ODP_MR, &bi), 0);
	ck_assert_msg(bi.reason[0] != 0, "odp_mr has no reason");
	ck_assert_msg((strncmp(bi.reason, "not built", 9) == 0) == !ZT_HAVE_IBVERBS,
		      "odp_mr reason \"%s\" in a build %s libibverbs", bi.reason,
		      ZT_HAVE_IBVERBS ? "with" : "without");
	if (!ZT_HAVE_IBVERBS)
		ck_assert_int_eq(bi.available, 0);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_query_pin_lease_available_iff_io_uring_and_leases_work)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;
	int want = zt_pin_lease_expected();

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_PIN_LEASE, &bi), 0);
	ck_assert_msg(bi.available == want, "pin_lease available=%d, expected %d (%s)",
		      bi.available, want, bi.reason);
	ck_assert_msg(bi.reason[0] != 0, "no reason text");
	if (want)
		ck_assert_msg((bi.caps & (ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_REVOCABLE)) ==
				      (ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_REVOCABLE),
			      "pin_lease caps 0x%llx", (unsigned long long)bi.caps);
	zc_ctx_destroy(ctx);
	/* without io_uring it has no pinning agent, unless an RDMA device
	 * pins with normal MRs (remote read only) */
	ck_assert_int_eq(zt_ctx(0, ZC_CTX_NO_URING, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_PIN_LEASE, &bi), 0);
	ck_assert_msg(!bi.available || strstr(bi.reason, "normal MRs on "),
		      "pin_lease without io_uring: %s", bi.reason);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_query_uring_fixed_matches_raw_io_uring_probe)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;
	char why[256];
	int works = zt_io_uring_works(why, sizeof why);

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi), 0);
	if (!zt_liburing_built()) {
		ck_assert_int_eq(bi.available, 0);
		ck_assert_msg(strncmp(bi.reason, "not built", 9) == 0, "reason \"%s\"", bi.reason);
	} else {
		ck_assert_msg(bi.available == works,
			      "uring_fixed available=%d but raw probe says: %s (reason \"%s\")",
			      bi.available, why, bi.reason);
		ck_assert_msg(bi.reason[0] != 0, "no reason text");
		if (works)
			ck_assert_msg((bi.caps & (ZC_CAP_URING | ZC_CAP_ZEROCOPY)) ==
					      (ZC_CAP_URING | ZC_CAP_ZEROCOPY),
				      "uring_fixed caps 0x%llx", (unsigned long long)bi.caps);
	}
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_query_invalid_arguments_are_einval)
{
	static const int bad[] = { ZC_BACKEND_NONE, ZC_BACKEND_MAX + 1, -1, 100 };
	struct zc_ctx *ctx;
	struct zc_backend_info bi, ref;

	int fds;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	fds = zt_fd_count();
	memset(&bi, 0x77, sizeof bi);
	ref = bi;
	for (unsigned i = 0; i < ZT_ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(zc_ctx_query(ctx, (enum zc_backend)bad[i], &bi), -EINVAL);
		ck_assert_msg(memcmp(&bi, &ref, sizeof bi) == 0,
			      "info written on failure for b=%d", bad[i]);
	}
	ck_assert_int_eq(zc_ctx_query(NULL, ZC_BACKEND_BOUNCE, &bi), -EINVAL);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, NULL), -EINVAL);
	ck_assert_int_eq(zt_fd_count(), fds);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_query_reports_params_exclusion)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;

	ck_assert_int_eq(zt_ctx(ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), 0, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi), 0);
	ck_assert_int_eq(bi.available, 0);
	if (zt_liburing_built())
		ck_assert_msg(strstr(bi.reason, "excluded by zc_ctx_params.backends"),
			      "reason \"%s\"", bi.reason);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi), 0);
	ck_assert_int_eq(bi.available, 1);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_no_uring_flag_makes_uring_fixed_unavailable)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;

	ck_assert_int_eq(zt_ctx(0, ZC_CTX_NO_URING, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi), 0);
	ck_assert_int_eq(bi.available, 0);
	ck_assert_msg(bi.reason[0], "no reason");
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi), 0);
	ck_assert_int_eq(bi.available, 1);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* stats, events                                                        */

START_TEST(test_ctx_stats_size_rules)
{
	struct zc_ctx *ctx;
	unsigned char buf[sizeof(struct zc_stats) + 64];
	struct zc_stats s;

	int fds;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	fds = zt_fd_count();
	ck_assert_int_eq(zc_ctx_stats(NULL, &s, sizeof s), -EINVAL);
	ck_assert_int_eq(zc_ctx_stats(ctx, NULL, sizeof s), -EINVAL);
	ck_assert_int_eq(zc_ctx_stats(ctx, &s, 0), -EINVAL);
	ck_assert_int_eq(zc_ctx_stats(ctx, &s, 7), -EINVAL);
	ck_assert_int_eq(zt_fd_count(), fds);

	/* exactly the size field */
	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)buf, 8), 0);
	memcpy(&s.size, buf, 8);
	ck_assert_uint_eq(s.size, 8);
	for (size_t i = 8; i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu written with out_size 8", i);

	/* a partial field: at most out_size, never beyond */
	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)buf, 20), 0);
	memcpy(&s.size, buf, 8);
	ck_assert_uint_ge(s.size, 8);
	ck_assert_uint_le(s.size, 20);
	for (size_t i = 20; i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu written with out_size 20", i);

	/* exact */
	memset(&s, 0xa5, sizeof s);
	ck_assert_int_eq(zc_ctx_stats(ctx, &s, sizeof s), 0);
	ck_assert_uint_eq(s.size, sizeof s);
	/* a fresh context has counted nothing */
	ck_assert_uint_eq(s.fallbacks, 0);
	ck_assert_uint_eq(s.lease_breaks, 0);
	ck_assert_uint_eq(s.revocations, 0);
	for (int b = 0; b < 8; b++) {
		ck_assert_uint_eq(s.backend[b].regs, 0);
		ck_assert_uint_eq(s.backend[b].reg_failures, 0);
		ck_assert_uint_eq(s.backend[b].ops, 0);
		ck_assert_uint_eq(s.backend[b].bytes, 0);
	}

	/* larger than the library knows: fills its own size only */
	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_ctx_stats(ctx, (struct zc_stats *)buf, sizeof buf), 0);
	memcpy(&s.size, buf, 8);
	ck_assert_uint_eq(s.size, sizeof(struct zc_stats));
	for (size_t i = sizeof(struct zc_stats); i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu beyond the struct written", i);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_ctx_event_fd_is_valid_cloexec_and_idle)
{
	struct zc_ctx *ctx;
	struct zc_event ev[4];
	struct pollfd pfd;
	int efd, fl;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	efd = zc_ctx_event_fd(ctx);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(zc_ctx_event_fd(ctx), efd);
	fl = fcntl(efd, F_GETFD);
	ck_assert_int_ge(fl, 0);
	ck_assert_msg(fl & FD_CLOEXEC, "event fd is not close-on-exec");
	pfd.fd = efd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(zc_ctx_events(ctx, ev, ZT_ARRAY_SIZE(ev)), 0);
	ck_assert_int_eq(zc_ctx_event_fd(NULL), -EINVAL);
	ck_assert_int_eq(zc_ctx_events(NULL, ev, 4), -EINVAL);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* lifetime                                                             */

START_TEST(test_ctx_create_destroy_leaves_no_fd_mapping_or_pin)
{
	struct zc_ctx *warm;
	int fds, maps;
	int64_t pins, vmpin;

	/* one cycle first: libc caches (thread stacks, malloc arenas) that
	 * the first context creates are kept by libc, not leaked; a leak
	 * grows with the number of cycles below */
	ck_assert_int_eq(zc_ctx_create(NULL, &warm), 0);
	zc_ctx_destroy(warm);
	fds = zt_fd_count();
	maps = zt_map_count();
	vmpin = zt_vm_pin_kb();
	pins = zt_pins_settled();

	for (int i = 0; i < 32; i++) {
		struct zc_ctx *ctx;
		ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
		zc_ctx_destroy(ctx);
	}
	ck_assert_int_eq(zt_fd_count(), fds);
	ZT_CK_MAPS_EQ(zt_map_count(), maps);
	ck_assert_int_eq(zt_vm_pin_kb(), vmpin);
	if (pins != INT64_MIN && vmpin < 0) {
		/* without VmPin only; system wide: allow other processes' short-lived pins; each
		 * context pins its staging memory (1 MiB and more) */
		int64_t after = zt_pins_settled();
		ck_assert_msg(after - pins < 128, "pins outstanding %lld -> %lld",
			      (long long)pins, (long long)after);
	}
	zc_ctx_destroy(NULL); /* no-op */
}
END_TEST

START_TEST(test_ctx_destroy_with_open_file_logs_error_and_keeps_ctx)
{
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_file_info fi;
	struct zc_reg *r;
	void *mem = zt_map_anon(65536);
	int fd = open(g_file, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	zc_ctx_destroy(ctx); /* refused: a file is open */
	ck_assert_msg(log.count[ZC_LOG_ERROR] >= 1, "no error logged; log:\n%s", log.text);
	/* the context and the file still work */
	ck_assert_int_eq(zc_file_query(f, &fi, sizeof fi), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r), 0);
	ck_assert_int_eq(zc_read(r, 0, 0, 65536), 65536);
	ck_assert_int_eq(zt_verify(mem, 65536, G_SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	munmap(mem, 65536);
}
END_TEST

/* ------------------------------------------------------------------ */
/* version, names                                                       */

START_TEST(test_version_matches_header)
{
	unsigned v = zc_version();

	ck_assert_uint_eq(v, ZC_VERSION_NUMBER);
	ck_assert_uint_eq(v >> 16, ZC_VERSION_MAJOR);
	ck_assert_uint_eq((v >> 8) & 0xff, ZC_VERSION_MINOR);
	ck_assert_uint_eq(v & 0xff, ZC_VERSION_PATCH);
}
END_TEST

START_TEST(test_backend_name_for_every_value)
{
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_NONE), "none");
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_P2P_BAR), "p2p_bar");
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_ODP_MR), "odp_mr");
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_PIN_LEASE), "pin_lease");
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_URING_FIXED), "uring_fixed");
	ck_assert_str_eq(zc_backend_name(ZC_BACKEND_BOUNCE), "bounce");
	ck_assert_str_eq(zc_backend_name((enum zc_backend)(ZC_BACKEND_MAX + 1)), "unknown");
	ck_assert_str_eq(zc_backend_name((enum zc_backend)-1), "unknown");
	ck_assert_str_eq(zc_backend_name((enum zc_backend)1000), "unknown");
}
END_TEST

START_TEST(test_cap_and_file_flag_names_for_every_bit)
{
	ck_assert_str_eq(zc_cap_name(ZC_CAP_ZEROCOPY), "zerocopy");
	ck_assert_str_eq(zc_cap_name(ZC_CAP_MAP_FILE), "map_file");
	ck_assert_str_eq(zc_cap_name(ZC_CAP_RDMA), "rdma");
	ck_assert_str_eq(zc_cap_name(ZC_CAP_URING), "uring");
	ck_assert_str_eq(zc_cap_name(ZC_CAP_REVOCABLE), "revocable");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_REGULAR), "regular");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_BLOCKDEV), "blockdev");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_READABLE), "readable");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_WRITABLE), "writable");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_DIRECT), "direct");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_DAX), "dax");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_SHMEM), "shmem");
	ck_assert_str_eq(zc_file_flag_name(ZC_FILE_LEASE_OK), "lease_ok");

	/* no name for nothing, for a combination, or for an unknown bit */
	ck_assert_ptr_null(zc_cap_name(0));
	ck_assert_ptr_null(zc_cap_name(ZC_CAP_ZEROCOPY | ZC_CAP_URING));
	ck_assert_ptr_null(zc_cap_name(ZC_CAP_REVOCABLE << 1));
	ck_assert_ptr_null(zc_cap_name(UINT64_C(1) << 63));
	ck_assert_ptr_null(zc_cap_name(UINT64_MAX));
	ck_assert_ptr_null(zc_file_flag_name(0));
	ck_assert_ptr_null(zc_file_flag_name(ZC_FILE_REGULAR | ZC_FILE_SHMEM));
	ck_assert_ptr_null(zc_file_flag_name(ZC_FILE_LEASE_OK << 1));
	ck_assert_ptr_null(zc_file_flag_name(UINT32_C(1) << 31));
	ck_assert_ptr_null(zc_file_flag_name(UINT32_MAX));
}
END_TEST

/* what a context reports, a program can name: every cap bit of every
 * backend, in either state */
START_TEST(test_cap_name_covers_every_cap_a_context_reports)
{
	struct zc_ctx *ctx;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	for (int b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++) {
		struct zc_backend_info bi;

		ck_assert_int_eq(zc_ctx_query(ctx, (enum zc_backend)b, &bi), 0);
		for (int i = 0; i < 64; i++) {
			uint64_t bit = UINT64_C(1) << i;

			ck_assert_msg(!(bi.caps & bit) || zc_cap_name(bit),
				      "%s reports cap bit %d, which has no name",
				      zc_backend_name((enum zc_backend)b), i);
		}
	}
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_strerror_never_null_and_distinguishes_errnos)
{
	static const int v[] = { 0, -EINVAL, -ENOMEM, -EOPNOTSUPP, -EXDEV, -EBUSY,
				 -EFAULT, -9999, 1, INT_MIN, INT_MAX };

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(v); i++) {
		const char *s = zc_strerror(v[i]);
		ck_assert_msg(s != NULL, "zc_strerror(%d) is NULL", v[i]);
		ck_assert_msg(s[0] != 0, "zc_strerror(%d) is empty", v[i]);
	}
	ck_assert_str_ne(zc_strerror(-EINVAL), zc_strerror(-ENOMEM));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctx");
	TCase *tc;
	int fd;

	zt_init();
	fd = zt_make_file(zt_any_dir(), G_SIZE, G_SEED, O_RDONLY, g_file);
	if (fd < 0)
		zt_skip("cannot create a test file in %s", zt_any_dir());
	close(fd);

	tc = zt_tcase("params");
	tcase_add_test(tc, test_ctx_create_null_params_uses_defaults);
	tcase_add_test(tc, test_ctx_unset_fields_are_not_read);
	tcase_add_test(tc, test_ctx_create_null_out_is_einval);
	tcase_add_test(tc, test_ctx_unknown_field_mask_bits_are_einval);
	tcase_add_test(tc, test_ctx_unknown_flags_are_einval);
	tcase_add_test(tc, test_ctx_backends_outside_all_are_einval);
	tcase_add_test(tc, test_ctx_queue_depth_0_and_above_4096_are_einval);
	tcase_add_test(tc, test_ctx_bounce_bytes_below_64k_are_einval);
	tcase_add_test(tc, test_ctx_numa_node_below_minus1_is_einval);
	tcase_add_test(tc, test_ctx_log_level_outside_0_to_3_is_einval);
	suite_add_tcase(s, tc);

	tc = zt_tcase("log");
	tcase_add_test(tc, test_ctx_invalid_params_log_an_error_naming_the_call);
	tcase_add_test(tc, test_ctx_bad_call_logs_error_through_callback);
	tcase_add_test(tc, test_ctx_log_level_debug_delivers_attempts_and_filters_by_level);
	tcase_add_test(tc, test_ctx_default_log_sink_writes_prefixed_lines_to_stderr);
	suite_add_tcase(s, tc);

	tc = zt_tcase("env");
	tcase_add_test(tc, test_ctx_zc_fault_malformed_is_einval);
	tcase_add_test(tc, test_ctx_zc_fault_wellformed_is_accepted);
	tcase_add_test(tc, test_ctx_zc_log_values);
	tcase_add_test(tc, test_ctx_zc_log_env_sets_level_and_params_override_it);
	tcase_add_test(tc, test_ctx_zc_backends_unknown_name_is_einval);
	tcase_add_test(tc, test_ctx_zc_backends_selects_allowed_set);
	tcase_add_test(tc, test_ctx_zc_backends_can_exclude_bounce);
	suite_add_tcase(s, tc);

	tc = zt_tcase("query");
	tcase_add_test(tc, test_ctx_query_bounce_is_available_without_zerocopy_cap);
	tcase_add_test(tc, test_ctx_query_unbuilt_backends_say_not_built);
	tcase_add_test(tc, test_ctx_query_pin_lease_available_iff_io_uring_and_leases_work);
	tcase_add_test(tc, test_ctx_query_uring_fixed_matches_raw_io_uring_probe);
	tcase_add_test(tc, test_ctx_query_invalid_arguments_are_einval);
	tcase_add_test(tc, test_ctx_query_reports_params_exclusion);
	tcase_add_test(tc, test_ctx_no_uring_flag_makes_uring_fixed_unavailable);
	suite_add_tcase(s, tc);

	tc = zt_tcase("stats_events_lifetime");
	tcase_add_test(tc, test_ctx_stats_size_rules);
	tcase_add_test(tc, test_ctx_event_fd_is_valid_cloexec_and_idle);
	tcase_add_test(tc, test_ctx_create_destroy_leaves_no_fd_mapping_or_pin);
	tcase_add_test(tc, test_ctx_destroy_with_open_file_logs_error_and_keeps_ctx);
	suite_add_tcase(s, tc);

	tc = zt_tcase("misc");
	tcase_add_test(tc, test_version_matches_header);
	tcase_add_test(tc, test_backend_name_for_every_value);
	tcase_add_test(tc, test_cap_and_file_flag_names_for_every_bit);
	tcase_add_test(tc, test_cap_name_covers_every_cap_a_context_reports);
	tcase_add_test(tc, test_strerror_never_null_and_distinguishes_errnos);
	suite_add_tcase(s, tc);

	return zt_run_suite(s);
}
