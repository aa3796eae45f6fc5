/* SPDX-License-Identifier: MIT */
/* The library at the edges of what the process allows (issue #14, items
 * 11-15). Every case that changes a limit or a signal disposition runs in
 * a forked child, so the test process keeps its own. argv[1]:
 *   config   ZC_FAULT with an unknown step is -EINVAL naming the step;
 *            log lines never carry control characters; zc_reg_buf_index
 *            does not log
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SENT ((void *)(uintptr_t)0x5a5a5a5a)
#define MEM_LEN (256 * 1024)

static const char *g_variant;
static const char *g_dir; /* tmpfs if any, else ext4 */
static struct zt_log g_log;

/* a context that logs every level into g_log (emptied first) */
static int ctx_logged(struct zc_ctx **out)
{
	struct zc_ctx_params p;

	memset(&g_log, 0, sizeof g_log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_DEBUG;
	return zc_ctx_create(&p, out);
}

/* ------------------------------------------------------------------ */
/* config: ZC_FAULT steps                                               */

/* Every step the library can fail on purpose, as libzerocopy(7) lists
 * them: each is accepted. */
static const char *const known_steps[] = {
	"core:ring_setup", "core:clone", "core:statx", "core:mmap",
	"p2p_bar:reg", "odp_mr:reg",
	"pin_lease:reg", "pin_lease:lease", "pin_lease:register", "pin_lease:io",
	"uring_fixed:reg", "uring_fixed:register", "uring_fixed:io",
	"bounce:reg", "bounce:alloc", "bounce:io",
};

/* well-formed rules whose step the site never reaches: a typo that would
 * otherwise inject nothing and let a rehearsal pass without its fault */
static const struct {
	const char *value, *step;
} unknown_steps[] = {
	{ "bounce:nosuchstep:EIO", "nosuchstep" },
	{ "uring_fixed:regster:ENOMEM", "regster" },
	{ "core:reg:EIO", "reg" },            /* reg is a backend's step */
	{ "core:io:EIO", "io" },
	{ "bounce:register:ENOMEM", "register" }, /* bounce pins nothing */
	{ "uring_fixed:lease:EAGAIN", "lease" },
	{ "pin_lease:alloc:ENOMEM", "alloc" },
	{ "bounce:io:EIO,uring_fixed:IO:EIO", "IO" }, /* steps are lower case */
};

static int child_fault_steps(void *arg)
{
	struct zc_ctx *ctx;
	char v[64];
	int rc;

	(void)arg;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(unknown_steps); i++) {
		ctx = SENT;
		ZT_CREQ(setenv("ZC_FAULT", unknown_steps[i].value, 1) == 0);
		rc = ctx_logged(&ctx);
		ZT_CREQ_MSG(rc == -EINVAL && ctx == SENT, "ZC_FAULT=%s: %d, expected -EINVAL",
			    unknown_steps[i].value, rc);
		ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_ERROR, "ZC_FAULT",
					    "unknown step", unknown_steps[i].step, NULL),
			    "ZC_FAULT=%s: no error line naming the unknown step '%s':\n%s",
			    unknown_steps[i].value, unknown_steps[i].step, g_log.text);
	}
	for (size_t i = 0; i < ZT_ARRAY_SIZE(known_steps); i++) {
		snprintf(v, sizeof v, "%s:EIO:1000000", known_steps[i]);
		ZT_CREQ(setenv("ZC_FAULT", v, 1) == 0);
		rc = ctx_logged(&ctx);
		ZT_CREQ_MSG(rc == 0, "ZC_FAULT=%s: %d (%s)\n%s", v, rc, zc_strerror(rc), g_log.text);
		zc_ctx_destroy(ctx);
	}
	unsetenv("ZC_FAULT");
	return 0;
}

START_TEST(test_limits_fault_unknown_step_is_einval_naming_the_step)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_steps, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* config: log lines                                                    */

struct ctl_log {
	unsigned count, bad;
	char first_bad[160]; /* the first offending message, escaped */
	struct zt_log all;
};

static void ctl_log_fn(void *arg, int level, const char *msg)
{
	struct ctl_log *l = arg;
	size_t o = 0;
	int bad = 0;

	zt_log_fn(&l->all, level, msg);
	l->count++;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			bad = 1;
	if (!bad)
		return;
	if (!l->bad++)
		for (const unsigned char *p = (const unsigned char *)msg;
		     *p && o + 5 < sizeof l->first_bad; p++)
			o += (size_t)snprintf(l->first_bad + o, sizeof l->first_bad - o,
					      *p < 0x20 || *p == 0x7f ? "<%02x>" : "%c", *p);
}

/* values that reach a log line: accepted ones are quoted by the warning
 * that fault injection is on, rejected ones by the error */
static const struct {
	const char *var, *value;
	int want;
} ctl_values[] = {
	{ "ZC_FAULT", "bounce:io:EIO\n", 0 },
	{ "ZC_FAULT", "bounce:io:EIO\r\n", -EINVAL },
	{ "ZC_FAULT", "bounce:io:EIO,\n\turing_fixed:io:EIO\n", 0 },
	{ "ZC_FAULT", "bounce:i\x1bo:EIO", -EINVAL },
	{ "ZC_FAULT", "bounce:io:EIO:1\x7f", -EINVAL },
	{ "ZC_LOG", "debug\n", -EINVAL },
	{ "ZC_LOG", "\twarn", -EINVAL },
	{ "ZC_BACKENDS", "bounce\r", -EINVAL },
};

static int child_log_control_chars(void *arg)
{
	struct ctl_log l;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	int rc;

	(void)arg;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(ctl_values); i++) {
		memset(&l, 0, sizeof l);
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_CTX_FIELD_LOG_FN;
		p.log_fn = ctl_log_fn;
		p.log_arg = &l;
		ZT_CREQ(setenv(ctl_values[i].var, ctl_values[i].value, 1) == 0);
		rc = zc_ctx_create(&p, &ctx);
		unsetenv(ctl_values[i].var);
		ZT_CREQ_MSG(rc == ctl_values[i].want, "%s=\"%s\": %d, expected %d",
			    ctl_values[i].var, ctl_values[i].value, rc, ctl_values[i].want);
		if (!rc)
			zc_ctx_destroy(ctx);
		ZT_CREQ_MSG(l.count > 0, "%s: nothing logged", ctl_values[i].var);
		ZT_CREQ_MSG(!l.bad, "%s: %u of %u log lines carry control characters, "
			    "the first: \"%s\"", ctl_values[i].var, l.bad, l.count, l.first_bad);
		/* the value is still recognisable in the line */
		ZT_CREQ_MSG(zt_log_has(&l.all, rc ? ZC_LOG_ERROR : ZC_LOG_WARN, ctl_values[i].var),
			    "%s: not named in the log:\n%s", ctl_values[i].var, l.all.text);
	}
	return 0;
}

START_TEST(test_limits_log_lines_carry_no_control_characters)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_log_control_chars, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* config: zc_reg_buf_index is silent                                   */

START_TEST(test_limits_reg_buf_index_does_not_log)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r[2];
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(MEM_LEN);
	int fd;

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(ctx_logged(&ctx), 0);
	fd = zt_make_file(g_dir, MEM_LEN, 3, O_RDWR, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, MEM_LEN / 2, 0, 0, 0, &r[0]), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem + MEM_LEN / 2, MEM_LEN / 2, 0, 0,
				    ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &r[1]), 0);
	memset(&g_log, 0, sizeof g_log);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(zc_reg_buf_index(r[i], 0, 0), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], MEM_LEN / 2, 1), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], 1, MEM_LEN / 2), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], SIZE_MAX, 1), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], 1, SIZE_MAX), -EINVAL);
	}
	ck_assert_int_eq(zc_reg_buf_index(r[1], 0, 4096), -ENODATA);
	if (zc_reg_backend(r[0]) == ZC_BACKEND_URING_FIXED)
		ck_assert_int_ge(zc_reg_buf_index(r[0], 0, 4096), 0);
	ck_assert_int_eq(zc_reg_buf_index(NULL, 0, 1), -EINVAL);
	ck_assert_msg(g_log.used == 0, "zc_reg_buf_index logged:\n%s", g_log.text);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(zc_reg_destroy(r[i]), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	munmap(mem, MEM_LEN);
}
END_TEST

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const char *why = NULL, *why4 = NULL;
	Suite *s;
	TCase *tc;

	g_variant = argc > 1 ? argv[1] : "";
	zt_init();
	g_dir = zt_tmpfs_dir(&why);
	if (!g_dir)
		g_dir = zt_ext4_dir(&why4);
	if (!g_dir)
		zt_skip("limits.%s: neither tmpfs (%s) nor ext4 (%s)", g_variant, why, why4);
	s = suite_create("limits");
	tc = zt_tcase(g_variant);
	if (!strcmp(g_variant, "config")) {
		tcase_add_test(tc, test_limits_fault_unknown_step_is_einval_naming_the_step);
		tcase_add_test(tc, test_limits_log_lines_carry_no_control_characters);
		tcase_add_test(tc, test_limits_reg_buf_index_does_not_log);
	} else {
		fprintf(stderr, "usage: %s config\n", argv[0]);
		return 2;
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
