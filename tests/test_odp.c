/* SPDX-License-Identifier: MIT */
/*
 * The odp_mr backend against tests/fake_verbs.c (loaded through
 * ZC_VERBS_LIB; this machine has no RDMA): selection and its reasons, the
 * refusal of remote access where no memory region can be had, ZC_FAULT
 * steps, EAGAIN retries, keys, leaks, the caller's PD, device quirks, and
 * I/O through zc_read/zc_write/zc_sync/queues on the memory of an odp_mr
 * registration over a real file. Where odp_mr does not apply, a
 * REMOTE_READ-only file registration lands on pin_lease's normal MR over
 * the file's pages under a lease: selection, its fault step, and real
 * lease breaks by a forked child, per file system.
 *
 *   test_odp core     everything but the file-system-specific parts
 *   test_odp tmpfs    I/O and pin_lease's MR on a tmpfs file (77 without tmpfs)
 *   test_odp ext4     the same on an ext4 file (77 without ext4)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "fake_verbs.h"
#include "helpers.h"

#undef ibv_get_device_list

#define SEED 0x0d9u
#define FSIZE (256 * ZT_KiB)
#define REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)
#define ODP_BIT ZC_BACKEND_BIT(ZC_BACKEND_ODP_MR)
#define EV_TIMEOUT_MS 10000

static const char *g_dir;

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd;
	char path[PATH_MAX];
};

static void fx_open_ctx(struct fx *x, const struct zc_ctx_params *p, int oflags)
{
	x->fd = zt_make_file(g_dir, FSIZE, SEED, oflags, x->path);
	ck_assert_msg(x->fd >= 0, "file in %s: %s", g_dir, strerror(-x->fd));
	ck_assert_int_eq(zc_ctx_create(p, &x->ctx), 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
}

static void fx_open(struct fx *x)
{
	fx_open_ctx(x, NULL, O_RDWR);
}

/* warnings, such as a failed zc_reg_create's attempts, go to *log */
static void fx_open_logged(struct fx *x, struct zt_log *log)
{
	struct zc_ctx_params p = { .field_mask = ZC_CTX_FIELD_LOG_FN |
				   ZC_CTX_FIELD_LOG_LEVEL,
				   .log_fn = zt_log_fn, .log_arg = log,
				   .log_level = ZC_LOG_WARN };

	fx_open_ctx(x, &p, O_RDWR);
}

static void fx_close(struct fx *x)
{
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	unlink(x->path);
}

static struct fake_verbs_live live(void)
{
	struct fake_verbs_live l;

	fake_verbs_live(&l);
	return l;
}

/* nothing of the fake's is left after the context is gone */
static void assert_nothing_live(void)
{
	struct fake_verbs_live l = live();

	ck_assert_msg(l.mrs == 0 && l.pds == 0 && l.contexts == 0,
		      "live after destroy: %d MRs, %d PDs, %d contexts", l.mrs,
		      l.pds, l.contexts);
}

static void query(struct zc_ctx *ctx, struct zc_backend_info *bi)
{
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_ODP_MR, bi), 0);
}

static void assert_attempt(const struct zc_reg *r, enum zc_backend b, int err,
			   const char *needle)
{
	struct zc_attempt a;
	char buf[1024];

	ck_assert_msg(zt_find_attempt(r, b, &a), "no %s attempt: %s",
		      zc_backend_name(b), zt_attempts_str(r, buf, sizeof buf));
	ck_assert_msg(a.error == err && strstr(a.reason, needle),
		      "%s attempt %d \"%s\", expected %d with \"%s\"",
		      zc_backend_name(b), a.error, a.reason, err, needle);
}

/* the attempts of a failed zc_reg_create are only in the log: a
 * registration that fails leaves no handle */
static int reg_remote_fails(struct fx *x, unsigned access)
{
	struct zc_reg *r = NULL;
	int ret;

	ret = zt_reg_map_file(x->f, 0, FSIZE, ZC_ACCESS_READ | access, 0, &r);
	ck_assert_ptr_null(r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* selection                                                            */

START_TEST(test_odp_chosen_when_device_has_odp)
{
	struct zc_backend_info bi;
	struct zc_rdma_keys k;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	query(x.ctx, &bi);
	ck_assert_msg(bi.available, "odp_mr unavailable: %s", bi.reason);
	ck_assert_msg(strstr(bi.reason, "fake0") && strstr(bi.reason, "general_caps 0x1"),
		      "reason \"%s\"", bi.reason);
	ck_assert(bi.caps & ZC_CAP_RDMA);
	ck_assert_int_eq(live().pds, 1);

	/* the file's own pages, read-only for the peer: no LOCAL_WRITE */
	ck_assert_int_eq(zt_reg_map_file(x.f, 4096, 65536, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	assert_attempt(r, ZC_BACKEND_ODP_MR, 0, "MAP_SHARED mapping of the file");
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_ON_DEMAND | IBV_ACCESS_REMOTE_READ);
	ck_assert_int_eq(zc_reg_rdma(r, &k), 0);
	ck_assert_uint_eq(k.addr, (uintptr_t)zc_reg_addr(r));
	ck_assert_uint_ne(k.lkey, 0);
	ck_assert_uint_ne(k.rkey, k.lkey);
	ck_assert_int_eq(zt_verify(zc_reg_addr(r), 65536, SEED, 4096), -1);
	ck_assert_int_eq(live().mrs, 1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(live().mrs, 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_access_bits_follow_zc_access)
{
	const size_t len = 65536;
	void *mem = zt_map_anon(len);
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	/* a peer writes: LOCAL_WRITE too, as verbs requires */
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_WRITE |
				    ZC_ACCESS_REMOTE_WRITE, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_ON_DEMAND |
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	/* the library reads into it: LOCAL_WRITE; the peer only reads */
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_READ |
				    ZC_ACCESS_REMOTE_READ, 0, 0, &r), 0);
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_ON_DEMAND |
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	/* memory -> file only, peer reads: nothing writes into it */
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_WRITE |
				    ZC_ACCESS_REMOTE_READ, 0, 0, &r), 0);
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_ON_DEMAND |
			  IBV_ACCESS_REMOTE_READ);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_not_applicable_without_remote_access)
{
	void *mem = zt_map_anon(65536);
	int calls = live().reg_calls;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, ZC_ACCESS_READ | ZC_ACCESS_WRITE,
				    0, 0, &r), 0);
	ck_assert_int_ne(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_msg(!zt_find_attempt(r, ZC_BACKEND_ODP_MR, NULL),
		      "odp_mr recorded for a local-only registration");
	ck_assert_int_eq(live().reg_calls, calls);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

/* Without a device: the reason odp_mr is unavailable, and a REMOTE
 * registration then fails with every backend's reason (bounce's is the
 * device's too) instead of landing without an MR. */
static void check_unavailable(const char *reason_part)
{
	struct zc_backend_info bi;
	struct zt_log log = { 0 };
	struct fx x;

	fx_open_logged(&x, &log);
	query(x.ctx, &bi);
	ck_assert_msg(!bi.available && strstr(bi.reason, reason_part),
		      "available %d, reason \"%s\", expected \"%s\"", bi.available,
		      bi.reason, reason_part);
	ck_assert_int_eq(live().pds, 0);
	ck_assert_int_eq(live().contexts, 0);
	ck_assert_int_eq(reg_remote_fails(&x, ZC_ACCESS_REMOTE_READ), -EOPNOTSUPP);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "odp_mr", reason_part, NULL, NULL),
		      "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "bounce", reason_part,
				      NULL, NULL), "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "uring_fixed",
				      "makes no RDMA memory region", NULL, NULL) ||
		      !zt_uring_expected(), "log: %s", log.text);
	fx_close(&x);
	assert_nothing_live();
}

/* a bounce registration with a normal MR: keys over its memory, the
 * access without ODP, odp_mr's attempt naming why not */
static struct zc_reg *reg_on_bounce_mr(struct fx *x, unsigned access,
				       const char *odp_reason)
{
	struct zc_rdma_keys k;
	struct zc_reg *r;
	int calls = live().reg_calls;

	ck_assert_int_eq(zt_reg_map_file(x->f, 0, FSIZE, access, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	assert_attempt(r, ZC_BACKEND_ODP_MR, -EOPNOTSUPP, odp_reason);
	assert_attempt(r, ZC_BACKEND_BOUNCE, 0, "; normal MR on ");
	ck_assert_int_eq(live().reg_calls - calls, 1);
	ck_assert_int_eq(live().mrs, 1);
	ck_assert(!(live().last_access & IBV_ACCESS_ON_DEMAND));
	ck_assert_int_eq(zc_reg_rdma(r, &k), 0);
	ck_assert_uint_eq(k.addr, (uintptr_t)zc_reg_addr(r));
	ck_assert_int_eq(zt_verify(zc_reg_addr(r), FSIZE, SEED, 0), -1);
	return r;
}

/* A REMOTE_READ-only file registration where odp_mr does not apply:
 * pin_lease's normal MR over the file's own pages, under a lease */
static struct zc_reg *reg_on_pin_mr(struct fx *x, const char *odp_reason)
{
	struct zc_rdma_keys k;
	struct zc_reg *r;
	int calls = live().reg_calls;

	ck_assert_int_eq(zt_reg_map_file(x->f, 0, FSIZE, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);
	assert_attempt(r, ZC_BACKEND_ODP_MR, -EOPNOTSUPP, odp_reason);
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, 0, "normal MR (remote read) over "
		       "the file's pages on ");
	ck_assert_int_eq(live().reg_calls - calls, 1);
	ck_assert_int_eq(live().mrs, 1);
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_REMOTE_READ);
	ck_assert_int_eq(zc_reg_rdma(r, &k), 0);
	ck_assert_uint_eq(k.addr, (uintptr_t)zc_reg_addr(r));
	ck_assert_int_eq(zt_verify(zc_reg_addr(r), FSIZE, SEED, 0), -1);
	return r;
}

/* ODP absent: a normal MR over bounce's copy; a peer's writes into it
 * reach the file with zc_sync; ZC_REG_REQUIRE_ZEROCOPY refuses the copy */
START_TEST(test_odp_absent_falls_back_to_normal_mr)
{
	struct zc_backend_info bi;
	struct zc_reg_params p = { .field_mask = ZC_REG_FIELD_LENGTH |
				   ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_ACCESS,
				   .length = FSIZE, .access = REMOTE,
				   .flags = ZC_REG_MAP_FILE | ZC_REG_REQUIRE_ZEROCOPY };
	struct zc_reg *r;
	struct fx x;
	char *m;
	uint8_t b;

	setenv("FAKE_VERBS_ODP", "none", 1);
	fx_open(&x);
	query(x.ctx, &bi);
	ck_assert_msg(!bi.available && strstr(bi.reason, "fake0 has no On-Demand "
					       "Paging (odp_caps.general_caps 0x0)"),
		      "reason \"%s\"", bi.reason);
	r = reg_on_bounce_mr(&x, ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE,
			     "has no On-Demand Paging");
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_LOCAL_WRITE |
			  IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
	m = zc_reg_addr(r);
	m[5000] = (char)0xee; /* as a peer's RDMA WRITE lands */
	ck_assert_int_eq(zt_pread_full(x.fd, &b, 1, 5000), 1);
	ck_assert_uint_eq(b, zt_pat(SEED, 5000)); /* a copy, until zc_sync */
	ck_assert_int_eq(zc_sync(r, 0, 0), 0);
	ck_assert_int_eq(zt_pread_full(x.fd, &b, 1, 5000), 1);
	ck_assert_uint_eq(b, 0xee);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(live().mrs, 0);
	r = NULL;
	ck_assert_int_eq(zc_reg_create(x.f, &p, &r), -EOPNOTSUPP);
	ck_assert_ptr_null(r);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_fault_bounce_reg_mr)
{
	struct zt_log log = { 0 };
	struct fx x;

	setenv("FAKE_VERBS_ODP", "none", 1);
	setenv("ZC_FAULT", "bounce:reg_mr:EIO", 1);
	fx_open_logged(&x, &log);
	ck_assert_int_eq(reg_remote_fails(&x, REMOTE), -EIO);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "bounce", "ibv_reg_mr on fake0",
				      "(injected by ZC_FAULT)", NULL), "log: %s", log.text);
	ck_assert_int_eq(live().mrs, 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_no_device_reason)
{
	setenv("FAKE_VERBS_LIST_ERRNO", "ENOSYS", 1);
	check_unavailable("no RDMA device: ibv_get_device_list: Function not implemented");
}
END_TEST

START_TEST(test_odp_no_libibverbs_reason)
{
	setenv("ZC_VERBS_LIB", "/nonexistent/libibverbs.so.1", 1);
	check_unavailable("rdma-core not loadable: dlopen /nonexistent/libibverbs.so.1");
}
END_TEST

START_TEST(test_odp_rc_caps_decide_per_access)
{
	struct zc_reg *r;
	struct fx x;

	setenv("FAKE_VERBS_RC_CAPS", "0x8", 1); /* READ only */
	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, 8192, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	r = reg_on_bounce_mr(&x, ZC_ACCESS_REMOTE_WRITE, "lacks RDMA WRITE "
			     "(IBV_ODP_SUPPORT_WRITE) (rc_odp_caps 0x8)");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* The backends that cannot make an MR do not count as lost when odp_mr
 * serves the registration: one attempt, no fallback. */
START_TEST(test_odp_success_is_not_a_fallback)
{
	const size_t len = 65536;
	void *mem = zt_map_anon(len);
	struct zc_attempt a[8];
	struct zc_stats st;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_READ | ZC_ACCESS_REMOTE_READ,
				    0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_attempts(r, a, 8), 1);
	ck_assert_int_eq(a[0].backend, ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(a[0].error, 0);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.fallbacks, 0);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* failures, retries, faults                                            */

START_TEST(test_odp_reg_mr_failure_leaks_nothing)
{
	struct zt_log log = { 0 };
	struct zc_stats st;
	struct fx x;
	int maps;

	setenv("FAKE_VERBS_REG_ERRNO", "ENOMEM", 1);
	fx_open_logged(&x, &log);
	/* the first lease starts pin_lease's monitor thread (its stack is
	 * mapped for the context's life) */
	ck_assert_int_eq(reg_remote_fails(&x, ZC_ACCESS_REMOTE_READ), -ENOMEM);
	maps = zt_map_count_noheap();
	/* odp_mr's ODP MR, pin_lease's and bounce's normal ones: the last error */
	ck_assert_int_eq(reg_remote_fails(&x, ZC_ACCESS_REMOTE_READ), -ENOMEM);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "pin_lease",
				      "normal MR (remote read) over the file's pages",
				      strerror(ENOMEM), NULL), "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "odp_mr",
				      "ibv_reg_mr IBV_ACCESS_ON_DEMAND on fake0",
				      strerror(ENOMEM), NULL), "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "bounce",
				      "ibv_reg_mr on fake0", strerror(ENOMEM), NULL),
		      "log: %s", log.text);
	ZT_CK_MAPS_EQ(zt_map_count_noheap(), maps); /* the file mapping went */
	ck_assert_int_eq(live().mrs, 0);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.backend[ZC_BACKEND_ODP_MR].reg_failures, 2);
	ck_assert_uint_eq(st.backend[ZC_BACKEND_PIN_LEASE].reg_failures, 2);
	ck_assert_uint_eq(st.backend[ZC_BACKEND_BOUNCE].reg_failures, 2);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_eagain_retried)
{
	struct zc_reg *r;
	struct zc_attempt a;
	struct fx x;
	int calls;

	setenv("FAKE_VERBS_REG_ERRNO", "EAGAIN:2", 1);
	fx_open(&x);
	calls = live().reg_calls;
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(live().reg_calls - calls, 3);
	ck_assert(zt_find_attempt(r, ZC_BACKEND_ODP_MR, &a));
	ck_assert_msg(strstr(a.reason, "after EAGAIN"), "reason \"%s\"", a.reason);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_eagain_bounded)
{
	struct zt_log log = { 0 };
	struct fx x;
	int calls;

	setenv("FAKE_VERBS_REG_ERRNO", "EAGAIN", 1); /* never clears */
	fx_open_logged(&x, &log);
	calls = live().reg_calls;
	ck_assert_int_eq(reg_remote_fails(&x, ZC_ACCESS_REMOTE_READ), -EAGAIN);
	/* 8 tries for odp_mr's MR, 8 for pin_lease's, 8 for bounce's */
	ck_assert_int_eq(live().reg_calls - calls, 24);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "odp_mr", "after 8 tries",
				      NULL, NULL), "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "pin_lease", "after 8 tries",
				      NULL, NULL), "log: %s", log.text);
	ck_assert_msg(zt_log_line_has(&log, ZC_LOG_WARN, "bounce", "after 8 tries",
				      NULL, NULL), "log: %s", log.text);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_fault_probe)
{
	struct zc_backend_info bi;
	struct zc_reg *r;
	struct fx x;

	setenv("ZC_FAULT", "odp_mr:probe:EIO", 1);
	fx_open(&x);
	query(x.ctx, &bi);
	ck_assert_msg(!bi.available && strstr(bi.reason, "(injected by ZC_FAULT)"),
		      "reason \"%s\"", bi.reason);
	/* the device is there for pin_lease's and bounce's normal MRs */
	r = reg_on_pin_mr(&x, "probe: Input/output error");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	r = reg_on_bounce_mr(&x, REMOTE, "probe: Input/output error");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* reg (the core's step) and reg_mr (each ibv_reg_mr try): pin_lease's
 * normal MR over the file's pages takes over */
START_TEST(test_odp_fault_reg_steps)
{
	static const char *const rules[] = { "odp_mr:reg:EIO", "odp_mr:reg_mr:EIO" };

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(rules); i++) {
		struct zc_reg *r;
		struct fx x;

		setenv("ZC_FAULT", rules[i], 1);
		fx_open(&x);
		ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ,
						 0, &r), 0);
		ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);
		assert_attempt(r, ZC_BACKEND_ODP_MR, -EIO, "injected by ZC_FAULT");
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		ck_assert_int_eq(live().mrs, 0);
		fx_close(&x);
	}
	assert_nothing_live();
}
END_TEST

/* an injected EAGAIN on the first try is retried like the device's */
START_TEST(test_odp_fault_reg_mr_eagain_once)
{
	struct zc_reg *r;
	struct fx x;

	setenv("ZC_FAULT", "odp_mr:reg_mr:EAGAIN:1", 1);
	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_odp_fault_io)
{
	void *mem = zt_map_anon(65536);
	struct zc_reg *r;
	struct fx x;

	setenv("ZC_FAULT", "odp_mr:io:EIO", 1);
	fx_open(&x);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, ZC_ACCESS_READ |
				    ZC_ACCESS_REMOTE_READ, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_read(r, 0, 0, 4096), -EIO);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* prefetch                                                             */

START_TEST(test_odp_prefetch)
{
	struct zc_rdma_keys k;
	struct fake_verbs_live l;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ |
					 ZC_ACCESS_REMOTE_WRITE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_rdma(r, &k), 0);
	ck_assert_int_eq(zc_reg_prefetch(r, 4096, 8192, ZC_PREFETCH_WRITE), 0);
	l = live();
	ck_assert_int_eq(l.advise_calls, 1);
	ck_assert_int_eq(l.last_advice, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE);
	ck_assert_uint_eq(l.last_advise_flags, IBV_ADVISE_MR_FLAG_FLUSH);
	ck_assert_uint_eq(l.last_sge_addr, k.addr + 4096);
	ck_assert_uint_eq(l.last_sge_length, 8192);
	ck_assert_uint_eq(l.last_sge_lkey, k.lkey);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, FSIZE, 0), 0);
	ck_assert_int_eq(live().last_advice, IBV_ADVISE_MR_ADVICE_PREFETCH);
	/* arguments: nothing reaches the device */
	ck_assert_int_eq(zc_reg_prefetch(r, 0, FSIZE + 1, 0), -EINVAL);
	ck_assert_int_eq(zc_reg_prefetch(r, FSIZE, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, 4096, 1u << 5), -EINVAL);
	ck_assert_int_eq(zc_reg_prefetch(NULL, 0, 4096, 0), -EINVAL);
	ck_assert_int_eq(live().advise_calls, 2);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

/* rxe: EOPNOTSUPP, reported as such; the registration stays usable */
START_TEST(test_odp_prefetch_not_supported_here)
{
	struct zc_reg *r;
	struct fx x;

	setenv("FAKE_VERBS_ADVISE_ERRNO", "EOPNOTSUPP", 1);
	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_READ | ZC_ACCESS_WRITE |
					 ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, FSIZE, 0), -EOPNOTSUPP);
	ck_assert_int_eq(zc_read(r, 0, 0, 4096), 4096);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
}
END_TEST

/* no on-demand-paging region: bounce's normal MR, and no MR at all */
START_TEST(test_odp_prefetch_without_odp_region)
{
	void *mem = zt_map_anon(65536);
	struct zc_reg *r;
	struct fx x;

	setenv("FAKE_VERBS_ODP", "none", 1);
	fx_open(&x);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, ZC_ACCESS_READ |
				    ZC_ACCESS_REMOTE_READ, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, 4096, 0), -ENODATA);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, ZC_ACCESS_READ, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_prefetch(r, 0, 4096, 0), -ENODATA);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(live().advise_calls, 0);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the caller's PD                                                      */

START_TEST(test_odp_callers_pd_honoured)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *dev;
	struct ibv_pd *pd;
	struct zc_ctx_params p = { .field_mask = ZC_CTX_FIELD_PD };
	struct zc_backend_info bi;
	struct zc_reg *r;
	struct fx x;

	ck_assert_ptr_nonnull(list);
	dev = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	ck_assert_ptr_nonnull(dev);
	pd = ibv_alloc_pd(dev);
	ck_assert_ptr_nonnull(pd);
	p.pd = pd;
	fx_open_ctx(&x, &p, O_RDWR);
	query(x.ctx, &bi);
	ck_assert_msg(bi.available && strstr(bi.reason, "in the caller's PD"),
		      "reason \"%s\"", bi.reason);
	ck_assert_int_eq(live().pds, 1); /* none of its own */
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, 8192, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_ptr_eq(live().last_pd, pd);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	/* the caller's PD and device stay the caller's */
	ck_assert_int_eq(live().pds, 1);
	ck_assert_int_eq(live().contexts, 1);
	ibv_dealloc_pd(pd);
	ibv_close_device(dev);
	assert_nothing_live();
}
END_TEST

/* ------------------------------------------------------------------ */
/* quirks                                                               */

/* on rxe, read-only remote access to a file gets pin_lease's normal MR
 * over its pages, remote writes bounce's over a copy, and the fallback
 * says why */
static void check_quirk_refuses(void)
{
	struct zc_backend_info bi;
	struct zc_stats st;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	query(x.ctx, &bi);
	ck_assert_msg(bi.available, "%s", bi.reason); /* ODP itself is there */
	r = reg_on_pin_mr(&x, "quirk rxe-odp-subpage on ");
	assert_attempt(r, ZC_BACKEND_ODP_MR, -EOPNOTSUPP,
		       "ZC_QUIRKS=ignore:rxe-odp-subpage");
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.fallbacks, 1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	r = reg_on_bounce_mr(&x, REMOTE, "quirk rxe-odp-subpage on ");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, -EOPNOTSUPP, "remote write: the "
		       "kernel refuses writable long-term pins of page-cache pages");
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.fallbacks, 2);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}

START_TEST(test_odp_quirk_rxe_by_name)
{
	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	check_quirk_refuses();
}
END_TEST

START_TEST(test_odp_quirk_rxe_by_vendor)
{
	setenv("FAKE_VERBS_DEVICE", "roce_eth1", 1);
	setenv("FAKE_VERBS_VENDOR", "0xffffff", 1);
	check_quirk_refuses();
}
END_TEST

START_TEST(test_odp_quirk_lifted)
{
	struct zc_reg *r;
	struct fx x;

	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	setenv("ZC_QUIRKS", "ignore:rxe-odp-subpage", 1);
	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_quirks_variable_strict)
{
	static const char *const bad[] = { "ignore:nosuch", "rxe-odp-subpage",
					   "ignore:", "ignore:rxe-odp-subpage,x",
					   "IGNORE:rxe-odp-subpage" };
	struct zc_ctx *ctx = NULL;

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(bad); i++) {
		setenv("ZC_QUIRKS", bad[i], 1);
		ck_assert_msg(zc_ctx_create(NULL, &ctx) == -EINVAL,
			      "ZC_QUIRKS=%s accepted", bad[i]);
		ck_assert_ptr_null(ctx);
	}
	setenv("ZC_QUIRKS", "ignore:rxe-odp-subpage, ignore:rxe-odp-subpage", 1);
	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* I/O on the memory of odp_mr registrations, per file system           */

START_TEST(test_odp_io_map_file)
{
	const size_t len = 64 * ZT_KiB, off = 8 * ZT_KiB;
	struct zc_reg *r;
	struct fx x;
	char *m, buf[100];

	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, off, len, ZC_ACCESS_READ | ZC_ACCESS_WRITE |
					 REMOTE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	m = zc_reg_addr(r);
	ck_assert_int_eq(zt_verify(m, len, SEED, off), -1);
	/* a store into the memory (as a peer's RDMA WRITE lands) reaches
	 * the file after zc_sync */
	memset(m + 100, 0xab, sizeof buf);
	ck_assert_int_eq(zc_sync(r, 0, 0), 0);
	ck_assert_int_eq(zt_pread_full(x.fd, buf, sizeof buf, off + 100), sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		ck_assert_uint_eq((uint8_t)buf[i], 0xab);
	/* zc_write/zc_read between the memory and another file range */
	ck_assert_int_eq(zc_write(r, 0, 128 * ZT_KiB, len), (ssize_t)len);
	ck_assert_int_eq(zt_pread_full(x.fd, buf, sizeof buf, 128 * ZT_KiB + 100),
			 sizeof buf);
	ck_assert_uint_eq((uint8_t)buf[0], 0xab);
	ck_assert_int_eq(zc_read(r, 0, 192 * ZT_KiB, len), (ssize_t)len);
	ck_assert_int_eq(zt_verify(m, len, SEED, 192 * ZT_KiB), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

START_TEST(test_odp_io_host_memory_and_queue)
{
	const size_t len = 64 * ZT_KiB;
	char *mem = zt_map_anon(len);
	struct zc_completion c;
	struct zc_queue *q;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_READ | ZC_ACCESS_WRITE |
				    REMOTE, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_read(r, 0, 0, len), (ssize_t)len);
	ck_assert_int_eq(zt_verify(mem, len, SEED, 0), -1);
	memset(mem, 0x5c, len);
	ck_assert_int_eq(zc_write(r, 0, 64 * ZT_KiB, len), (ssize_t)len);
	ck_assert_int_eq(zc_queue_create(x.ctx, 8, 0, &q), 0);
	ck_assert_int_eq(zc_prep_read(q, r, 0, 128 * ZT_KiB, len, 7), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_uint_eq(c.user_data, 7);
	ck_assert_int_eq(c.res, (int64_t)len);
	ck_assert_uint_eq(c.backend, ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zt_verify(mem, len, SEED, 128 * ZT_KiB), -1);
	ck_assert_int_eq(zt_pread_full(x.fd, mem, len, 64 * ZT_KiB), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq((uint8_t)mem[i], 0x5c);
	zc_queue_destroy(q);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* ------------------------------------------------------------------ */
/* pin_lease's normal MR over the file's pages, per file system         */

/* fs.leases-enable=0 turns pin_lease off: these tests then say so */
static void require_leases(void)
{
	if (!zt_leases_enabled())
		zt_skip("fs.leases-enable=0: pin_lease has no lease to pin under");
}

static int lease_of(int fd)
{
	return fcntl(fd, F_GETLEASE);
}

/* Where ODP does not apply (rxe's quirk): a REMOTE_READ-only file
 * registration is pinned by a normal MR under a read lease when the fd is
 * O_RDONLY, a write lease when it is O_RDWR; remote writes and local
 * stores into the file's pages go to bounce's MR over a copy. */
START_TEST(test_pinmr_selection)
{
	struct zc_reg_params p = { .field_mask = ZC_REG_FIELD_LENGTH |
				   ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_ACCESS,
				   .length = FSIZE, .access = ZC_ACCESS_READ |
				   ZC_ACCESS_REMOTE_READ,
				   .flags = ZC_REG_MAP_FILE | ZC_REG_REQUIRE_ZEROCOPY };
	struct zc_backend_info bi;
	struct zc_attempt a;
	struct zc_stats st;
	struct zc_reg *r;
	struct fx x;

	require_leases();
	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	fx_open_ctx(&x, NULL, O_RDONLY);
	ck_assert_int_eq(zc_ctx_query(x.ctx, ZC_BACKEND_PIN_LEASE, &bi), 0);
	ck_assert_msg(bi.available && strstr(bi.reason, "normal MRs on rxe0") &&
		      (bi.caps & ZC_CAP_RDMA), "pin_lease: %s", bi.reason);
	/* zero-copy: ZC_REG_REQUIRE_ZEROCOPY is satisfied */
	ck_assert_int_eq(zc_reg_create(x.f, &p, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);
	assert_attempt(r, ZC_BACKEND_ODP_MR, -EOPNOTSUPP, "quirk rxe-odp-subpage");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, 0, "normal MR (remote read) over the "
		       "file's pages on rxe0, pinned under a read lease");
	ck_assert_uint_eq(live().last_access, IBV_ACCESS_REMOTE_READ);
	ck_assert_int_eq(live().mrs, 1);
	ck_assert_int_eq(lease_of(x.fd), F_RDLCK);
	ck_assert_int_eq(zt_verify(zc_reg_addr(r), FSIZE, SEED, 0), -1);
	ck_assert_int_eq(zc_reg_buf_index(r, 0, 4096), -ENODATA);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.backend[ZC_BACKEND_PIN_LEASE].regs, 1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(live().mrs, 0);
	ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
	fx_close(&x);

	fx_open_ctx(&x, NULL, O_RDWR);
	r = reg_on_pin_mr(&x, "quirk rxe-odp-subpage");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, 0, "pinned under a write lease");
	ck_assert_int_eq(lease_of(x.fd), F_WRLCK);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
	/* remote writes: bounce's MR over a copy */
	r = reg_on_bounce_mr(&x, REMOTE, "quirk rxe-odp-subpage");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, -EOPNOTSUPP, "remote write: the "
		       "kernel refuses writable long-term pins of page-cache pages");
	ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	/* stores into the file's pages: a writable pin, refused likewise */
	r = reg_on_bounce_mr(&x, ZC_ACCESS_WRITE | ZC_ACCESS_REMOTE_READ,
			     "quirk rxe-odp-subpage");
	ck_assert(zt_find_attempt(r, ZC_BACKEND_PIN_LEASE, &a));
	ck_assert_msg(a.error == -EOPNOTSUPP && strstr(a.reason, "ZC_ACCESS_WRITE"),
		      "pin_lease attempt %d \"%s\"", a.error, a.reason);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* With ODP, odp_mr serves it and pin_lease's refusal of a remote write
 * (listed after it) is no fallback */
START_TEST(test_pinmr_odp_first)
{
	struct zc_stats st;
	struct zc_reg *r;
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, ZC_ACCESS_REMOTE_READ, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, FSIZE, REMOTE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_ODP_MR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.fallbacks, 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* pin_lease:reg_mr fails each ibv_reg_mr of the MR agent: bounce's MR over
 * a copy, the attempt recorded, the lease given back */
START_TEST(test_pinmr_fault_reg_mr)
{
	struct zc_stats st;
	struct zc_reg *r;
	struct fx x;

	require_leases();
	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	setenv("ZC_FAULT", "pin_lease:reg_mr:EIO", 1);
	fx_open_ctx(&x, NULL, O_RDONLY);
	r = reg_on_bounce_mr(&x, ZC_ACCESS_REMOTE_READ, "quirk rxe-odp-subpage");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, -EIO, "(injected by ZC_FAULT)");
	assert_attempt(r, ZC_BACKEND_PIN_LEASE, -EIO, "normal MR (remote read) over "
		       "the file's pages: ibv_reg_mr on rxe0");
	ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
	ck_assert_int_eq(zc_ctx_stats(x.ctx, &st, sizeof st), 0);
	ck_assert_uint_eq(st.backend[ZC_BACKEND_PIN_LEASE].reg_failures, 1);
	ck_assert_uint_eq(st.fallbacks, 1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(live().mrs, 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* Collect events until `want` arrived or EV_TIMEOUT_MS passed */
static int collect_events(struct zc_ctx *ctx, struct zc_event *ev, unsigned max,
			  unsigned want)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	unsigned n = 0;
	int got;

	ck_assert_int_ge(pfd.fd, 0);
	for (int waited = 0; n < want && waited < EV_TIMEOUT_MS; waited += 50) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		got = zc_ctx_events(ctx, ev + n, max - n);
		ck_assert_int_ge(got, 0);
		n += (unsigned)got;
	}
	got = zc_ctx_events(ctx, ev + n, max - n);
	ck_assert_int_ge(got, 0);
	return (int)(n + (unsigned)got);
}

/* the breaker: another process opens the file for writing (blocking until
 * the library lets the lease go) */
static int open_for_write_child(void *arg)
{
	int fd = open(arg, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	close(fd);
	return 0;
}

static struct zc_reg *reg_pinned_mr(struct fx *x, unsigned flags)
{
	struct zc_reg_params p = { .field_mask = ZC_REG_FIELD_LENGTH |
				   ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_ACCESS |
				   ZC_REG_FIELD_FILE_OFFSET,
				   .length = FSIZE - 4096 - 100, .file_offset = 4096 + 100,
				   .access = ZC_ACCESS_REMOTE_READ,
				   .flags = ZC_REG_MAP_FILE | flags };
	struct zc_reg *r;

	ck_assert_int_eq(zc_reg_create(x->f, &p, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);
	ck_assert_int_eq(lease_of(x->fd), F_RDLCK);
	return r;
}

/* A real break (a forked child opens the file for writing): the MR goes
 * before the lease, the registration moves to bounce at the same address
 * with a new MR over a copy (new keys, ZC_EVENT_BACKEND_CHANGED), and
 * nothing is left behind. */
START_TEST(test_pinmr_break_moves_to_bounce_with_new_keys)
{
	struct zc_rdma_keys k0, k1;
	struct zc_event ev[8];
	struct zc_stats s0, s1;
	struct zc_reg *r;
	struct fx x;
	void *addr;
	int n, fds = 0, maps = 0;

	require_leases();
	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	fx_open_ctx(&x, NULL, O_RDONLY);
	/* twice: the first round starts the lease monitor thread (and the
	 * malloc arena it uses); the second must give back all it takes */
	for (int round = 0; round < 2; round++) {
		if (round) {
			fds = zt_fd_count();
			maps = zt_map_count_noheap();
		}
		ck_assert_int_eq(zc_ctx_stats(x.ctx, &s0, sizeof s0), 0);
		r = reg_pinned_mr(&x, 0);
		addr = zc_reg_addr(r);
		ck_assert_int_eq(zc_reg_rdma(r, &k0), 0);
		ZT_CK_CHILD_OK(zt_fork_run(open_for_write_child, x.path));
		n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 2);
		ck_assert_int_eq(n, 2);
		ck_assert(ev[0].type == ZC_EVENT_REVOKED && ev[0].reg == r &&
			  ev[0].from == ZC_BACKEND_PIN_LEASE && ev[0].to == ZC_BACKEND_BOUNCE);
		ck_assert(ev[1].type == ZC_EVENT_BACKEND_CHANGED && ev[1].reg == r &&
			  ev[1].from == ZC_BACKEND_PIN_LEASE && ev[1].to == ZC_BACKEND_BOUNCE);
		ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
		ck_assert_ptr_eq(zc_reg_addr(r), addr);
		ck_assert_int_eq(zc_reg_rdma(r, &k1), 0);
		printf("pin_lease MR in %s: keys before the break lkey 0x%x rkey "
		       "0x%x, after 0x%x 0x%x\n", g_dir, k0.lkey, k0.rkey, k1.lkey, k1.rkey);
		ck_assert_uint_ne(k1.rkey, k0.rkey);
		ck_assert_uint_ne(k1.lkey, k0.lkey);
		ck_assert_uint_eq(k1.addr, (uintptr_t)addr);
		ck_assert_int_eq(live().mrs, 1);
		ck_assert_uint_eq(live().last_access, IBV_ACCESS_REMOTE_READ);
		ck_assert_int_eq(zt_verify(addr, FSIZE - 4096 - 100, SEED, 4096 + 100), -1);
		ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
		ck_assert_int_eq(zc_ctx_stats(x.ctx, &s1, sizeof s1), 0);
		ck_assert_uint_eq(s1.lease_breaks, s0.lease_breaks + 1);
		ck_assert_uint_eq(s1.revocations, s0.revocations + 1);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		ck_assert_int_eq(live().mrs, 0);
	}
	ck_assert_int_eq(zt_fd_count(), fds);
	ZT_CK_MAPS_EQ(zt_map_count_noheap(), maps);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

/* ZC_REG_NO_FALLBACK: the break deregisters the MR and the registration
 * stays revoked, without keys */
START_TEST(test_pinmr_break_no_fallback_stays_revoked)
{
	struct zc_rdma_keys k;
	struct zc_event ev[8];
	struct zc_reg *r;
	struct fx x;
	int n;

	require_leases();
	setenv("FAKE_VERBS_DEVICE", "rxe0", 1);
	fx_open_ctx(&x, NULL, O_RDONLY);
	r = reg_pinned_mr(&x, ZC_REG_NO_FALLBACK);
	ck_assert_int_eq(live().mrs, 1);
	ZT_CK_CHILD_OK(zt_fork_run(open_for_write_child, x.path));
	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 1);
	ck_assert_int_eq(n, 1);
	ck_assert(ev[0].type == ZC_EVENT_REVOKED && ev[0].reg == r &&
		  ev[0].to == ZC_BACKEND_NONE);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);
	ck_assert_int_eq(zc_reg_rdma(r, &k), -ENODATA);
	ck_assert_int_eq(live().mrs, 0);
	ck_assert_int_eq(lease_of(x.fd), F_UNLCK);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	assert_nothing_live();
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("odp");
	const char *why = NULL;
	TCase *tc;

	zt_init();
	if (argc < 2 || (strcmp(argv[1], "core") && strcmp(argv[1], "tmpfs") &&
			 strcmp(argv[1], "ext4"))) {
		fprintf(stderr, "usage: test_odp core|tmpfs|ext4\n");
		return 2;
	}
	/* the fake stands in for the hardware; a test that wants the real
	 * library or none changes it in its own forked process */
	setenv("ZC_VERBS_LIB", ZT_FAKE_VERBS_LIB, 1);
	unsetenv("ZC_QUIRKS");
	if (!strcmp(argv[1], "core")) {
		g_dir = zt_any_dir();
		tc = zt_tcase("selection");
		tcase_add_test(tc, test_odp_chosen_when_device_has_odp);
		tcase_add_test(tc, test_odp_access_bits_follow_zc_access);
		tcase_add_test(tc, test_odp_not_applicable_without_remote_access);
		tcase_add_test(tc, test_odp_absent_falls_back_to_normal_mr);
		tcase_add_test(tc, test_odp_no_device_reason);
		tcase_add_test(tc, test_odp_no_libibverbs_reason);
		tcase_add_test(tc, test_odp_rc_caps_decide_per_access);
		tcase_add_test(tc, test_odp_success_is_not_a_fallback);
		tcase_add_test(tc, test_odp_callers_pd_honoured);
		tcase_add_test(tc, test_odp_prefetch);
		tcase_add_test(tc, test_odp_prefetch_not_supported_here);
		tcase_add_test(tc, test_odp_prefetch_without_odp_region);
		suite_add_tcase(s, tc);
		tc = zt_tcase("failures");
		tcase_add_test(tc, test_odp_reg_mr_failure_leaks_nothing);
		tcase_add_test(tc, test_odp_eagain_retried);
		tcase_add_test(tc, test_odp_eagain_bounded);
		tcase_add_test(tc, test_odp_fault_probe);
		tcase_add_test(tc, test_odp_fault_reg_steps);
		tcase_add_test(tc, test_odp_fault_reg_mr_eagain_once);
		tcase_add_test(tc, test_odp_fault_io);
		tcase_add_test(tc, test_odp_fault_bounce_reg_mr);
		suite_add_tcase(s, tc);
		tc = zt_tcase("quirks");
		tcase_add_test(tc, test_odp_quirk_rxe_by_name);
		tcase_add_test(tc, test_odp_quirk_rxe_by_vendor);
		tcase_add_test(tc, test_odp_quirk_lifted);
		tcase_add_test(tc, test_odp_quirks_variable_strict);
		suite_add_tcase(s, tc);
	} else {
		g_dir = !strcmp(argv[1], "tmpfs") ? zt_tmpfs_dir(&why) : zt_ext4_dir(&why);
		if (!g_dir)
			zt_skip("%s", why);
		tc = zt_tcase(argv[1]);
		tcase_add_test(tc, test_odp_io_map_file);
		tcase_add_test(tc, test_odp_io_host_memory_and_queue);
		tcase_add_test(tc, test_pinmr_selection);
		tcase_add_test(tc, test_pinmr_odp_first);
		tcase_add_test(tc, test_pinmr_fault_reg_mr);
		tcase_add_test(tc, test_pinmr_break_moves_to_bounce_with_new_keys);
		tcase_add_test(tc, test_pinmr_break_no_fallback_stays_revoked);
		suite_add_tcase(s, tc);
	}
	return zt_run_suite(s);
}
