/* SPDX-License-Identifier: MIT */
/* Restricted environments, each in a forked child:
 *   seccomp <tmpfs|ext4|ext4_direct>  io_uring blocked by a seccomp filter
 *   memlock   an unprivileged process (nobody, no CAP_IPC_LOCK) with
 *             RLIMIT_MEMLOCK 64 KiB: uring_fixed fails -ENOMEM, bounce works
 *   fault     ZC_FAULT injections: register, ring_setup, nth hit, statx, io */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ZT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ZT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define F_SIZE (4 * ZT_MiB + 77)
#define F_SEED 61u
#define NOBODY 65534

static const char *g_dir;
static int g_direct;
static char g_path[PATH_MAX];

static void reset_file(void)
{
	char p[PATH_MAX];
	int fd;

	unlink(g_path);
	fd = zt_make_file(g_dir, F_SIZE, F_SEED, O_RDONLY, p);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(chmod(p, 0666), 0);
	ck_assert_int_eq(rename(p, g_path), 0);
}

/* ------------------------------------------------------------------ */
/* shared checks for children                                            */

/* register len bytes of anonymous memory, expect backend want */
static struct zc_reg *child_reg(struct zc_file *f, uint8_t *mem, size_t len,
				enum zc_backend want)
{
	struct zc_reg *r;
	char ab[2048];
	int rc = zt_reg_mem(f, mem, len, 0, 0, 0, &r);

	ZT_CREQ_MSG(rc == 0, "zc_reg_create: %d", rc);
	ZT_CREQ_MSG(zc_reg_backend(r) == want, "backend %s, expected %s: %s",
		    zc_backend_name(zc_reg_backend(r)), zc_backend_name(want),
		    zt_attempts_str(r, ab, sizeof ab));
	return r;
}

/* the last attempt is want with 0, and uring_fixed has error uring_err
 * (0: any negative errno) */
static void child_check_attempts(struct zc_reg *r, enum zc_backend want, int uring_err)
{
	struct zc_attempt a[16], u;
	char ab[2048];
	int n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));

	ZT_CREQ(n >= 1 && n <= (int)ZT_ARRAY_SIZE(a));
	ZT_CREQ_MSG(a[n - 1].backend == want && a[n - 1].error == 0, "attempts %s",
		    zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ_MSG(zt_find_attempt(r, ZC_BACKEND_URING_FIXED, &u), "no uring_fixed attempt: %s",
		    zt_attempts_str(r, ab, sizeof ab));
	if (uring_err)
		ZT_CREQ_MSG(u.error == uring_err, "uring_fixed attempt %d, expected %d: %s",
			    u.error, uring_err, zt_attempts_str(r, ab, sizeof ab));
	else
		ZT_CREQ_MSG(u.error < 0, "uring_fixed attempt %d: %s", u.error,
			    zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ_MSG(u.reason[0] != 0, "uring_fixed attempt without a reason");
}

/* sync read of the whole file, a sync write checked with pread */
static void child_sync_io(struct zc_reg *r, uint8_t *mem, size_t len, uint32_t wseed)
{
	ssize_t n;
	uint8_t *chk;
	int fd;

	memset(mem, 0xEE, len);
	n = zc_read(r, 0, 0, len);
	ZT_CREQ_MSG(n == (ssize_t)(len < F_SIZE ? len : F_SIZE), "zc_read %zd", n);
	ZT_CREQ(zt_verify(mem, (size_t)n, F_SEED, 0) == -1);
	n = zc_read(r, 3, 4097, 10000);
	ZT_CREQ_MSG(n == 10000, "zc_read %zd", n);
	ZT_CREQ(zt_verify(mem + 3, 10000, F_SEED, 4097) == -1);
	zt_fill(mem + 1, 70001, wseed, 511);
	n = zc_write(r, 1, 511, 70001);
	ZT_CREQ_MSG(n == 70001, "zc_write %zd", n);
	chk = malloc(70001);
	fd = open(g_path, O_RDONLY | O_CLOEXEC);
	ZT_CREQ(chk && fd >= 0);
	ZT_CREQ(zt_pread_full(fd, chk, 70001, 511) == 70001);
	ZT_CREQ(memcmp(chk, mem + 1, 70001) == 0);
	ZT_CREQ(zt_verify_file(g_path, 0, 511, F_SEED) == -1);
	ZT_CREQ(zt_verify_file(g_path, 511 + 70001, F_SIZE - 511 - 70001, F_SEED) == -1);
	free(chk);
	close(fd);
}

/* 16 async reads then 16 async writes; every completion has must_flags */
static void child_async_io(struct zc_ctx *ctx, struct zc_reg *r, uint8_t *mem,
			   uint32_t must_flags, uint32_t wseed)
{
	struct zc_queue *q;
	struct zc_completion c[16];
	const size_t slot = 9000;
	int got = 0;

	ZT_CREQ(zc_queue_create(ctx, 16, 0, &q) == 0);
	memset(mem, 0xEE, 16 * slot);
	/* reads from 1 MiB on: child_sync_io wrote below */
	for (unsigned i = 0; i < 16; i++)
		ZT_CREQ(zc_prep_read(q, r, i * slot, ZT_MiB + (uint64_t)i * 123457 + 1, slot - 1,
				     i) == 0);
	ZT_CREQ_MSG(zc_submit(q) == 16, "zc_submit");
	while (got < 16) {
		int k = zc_reap(q, c, 16, 1, -1);
		ZT_CREQ_MSG(k >= 1, "zc_reap %d", k);
		for (int i = 0; i < k; i++) {
			ZT_CREQ(c[i].user_data < 16);
			ZT_CREQ_MSG(c[i].res == (int64_t)(slot - 1), "res %lld", (long long)c[i].res);
			ZT_CREQ(c[i].backend == (uint32_t)zc_reg_backend(r));
			ZT_CREQ_MSG((c[i].flags & must_flags) == must_flags, "flags 0x%x", c[i].flags);
		}
		got += k;
	}
	for (unsigned i = 0; i < 16; i++)
		ZT_CREQ_MSG(zt_verify(mem + i * slot, slot - 1, F_SEED,
				      ZT_MiB + (uint64_t)i * 123457 + 1) == -1,
			    "async read %u data", i);

	for (unsigned i = 0; i < 16; i++) {
		uint64_t off = (uint64_t)i * 200003 + 5;
		zt_fill(mem + i * slot, slot - 3, wseed + i, off);
		ZT_CREQ(zc_prep_write(q, r, i * slot, off, slot - 3, 100 + i) == 0);
	}
	ZT_CREQ(zc_submit(q) == 16);
	got = 0;
	while (got < 16) {
		int k = zc_reap(q, c, 16, 1, -1);
		ZT_CREQ(k >= 1);
		for (int i = 0; i < k; i++) {
			ZT_CREQ(c[i].user_data >= 100 && c[i].user_data < 116);
			ZT_CREQ(c[i].res == (int64_t)(slot - 3));
			ZT_CREQ_MSG((c[i].flags & must_flags) == must_flags, "flags 0x%x", c[i].flags);
		}
		got += k;
	}
	for (unsigned i = 0; i < 16; i++)
		ZT_CREQ_MSG(zt_verify_file(g_path, (uint64_t)i * 200003 + 5, slot - 3, wseed + i) == -1,
			    "async write %u not in the file", i);
	zc_queue_destroy(q);
}

/* ------------------------------------------------------------------ */
/* seccomp                                                               */

#ifdef ZT_AUDIT_ARCH
static int install_uring_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ZT_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* other ABIs: not ours */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = ZT_ARRAY_SIZE(f), .filter = f };
	struct io_uring_params p;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -errno;
	/* the filter really blocks io_uring */
	memset(&p, 0, sizeof p);
	if (syscall(__NR_io_uring_setup, 4, &p) >= 0 || errno != EPERM)
		return -ENOTRECOVERABLE;
	return 0;
}
#else
static int install_uring_filter(void)
{
	return -ENOSYS;
}
#endif

static int child_probe_seccomp(void *arg)
{
	(void)arg;
	return install_uring_filter() == 0 ? 0 : 1;
}

static int child_seccomp(void *arg)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	size_t len = F_SIZE + 4096;
	uint8_t *mem = zt_map_anon(len);
	int fd, rc;

	(void)arg;
	ZT_CREQ_MSG(install_uring_filter() == 0, "seccomp filter");
	rc = zc_ctx_create(NULL, &ctx);
	ZT_CREQ_MSG(rc == 0, "zc_ctx_create under seccomp: %d", rc);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	ZT_CREQ_MSG(bi.available == 0, "uring_fixed available under seccomp");
	ZT_CREQ_MSG(bi.reason[0] && strstr(bi.reason, "io_uring"),
		    "uring_fixed reason \"%s\" does not mention io_uring", bi.reason);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_BOUNCE, &bi) == 0);
	ZT_CREQ(bi.available == 1);

	fd = open(g_path, O_RDWR | O_CLOEXEC | (g_direct ? O_DIRECT : 0));
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r = child_reg(f, mem, len, ZC_BACKEND_BOUNCE);
	child_check_attempts(r, ZC_BACKEND_BOUNCE, 0);
	child_sync_io(r, mem, len, 71);
	child_async_io(ctx, r, mem, ZC_CQE_F_INLINE, 72);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_seccomp_blocked_io_uring_falls_back_to_bounce)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_seccomp, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* memlock                                                               */

static int drop_to_nobody(rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return -errno;
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return -errno;
	if (getuid() != NOBODY || geteuid() != NOBODY || zt_have_cap(14 /* CAP_IPC_LOCK */))
		return -EPERM;
	return 0;
}

static int child_probe_nobody_uring(void *arg)
{
	(void)arg;
	if (drop_to_nobody(64 * 1024) != 0)
		return 2;
	return zt_io_uring_works(NULL, 0) ? 0 : 3;
}

static int child_memlock(void *arg)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_stats s;
	size_t len = 4 * ZT_MiB;
	uint8_t *mem;
	int fd, rc;

	(void)arg;
	rc = drop_to_nobody(64 * 1024);
	ZT_CREQ_MSG(rc == 0, "dropping to nobody: %d", rc);
	mem = zt_map_anon(len);
	ZT_CREQ(mem);
	memset(mem, 1, len);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	ZT_CREQ_MSG(bi.available == 1, "uring_fixed unavailable for nobody: %s", bi.reason);
	fd = open(g_path, O_RDWR | O_CLOEXEC); /* as nobody: the file is 0666 */
	ZT_CREQ_MSG(fd >= 0, "open as nobody: %s", strerror(errno));
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r = child_reg(f, mem, len, ZC_BACKEND_BOUNCE);
	child_check_attempts(r, ZC_BACKEND_BOUNCE, -ENOMEM);
	child_sync_io(r, mem, len, 81);
	child_async_io(ctx, r, mem, 0, 82);
	ZT_CREQ(zc_ctx_stats(ctx, &s, sizeof s) == 0);
	ZT_CREQ_MSG(s.backend[ZC_BACKEND_URING_FIXED].reg_failures >= 1, "reg_failures %llu",
		    (unsigned long long)s.backend[ZC_BACKEND_URING_FIXED].reg_failures);
	ZT_CREQ_MSG(s.fallbacks == 1, "fallbacks %llu", (unsigned long long)s.fallbacks);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_unprivileged_memlock_64k_uring_enomem_falls_back_to_bounce)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_memlock, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* fault injection                                                       */

static int child_fault_register_enomem(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_stats s;
	size_t len = ZT_MiB;
	uint8_t *mem = zt_map_anon(len);
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	(void)arg;
	setenv("ZC_FAULT", "uring_fixed:register:ENOMEM", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r = child_reg(f, mem, len, ZC_BACKEND_BOUNCE);
	child_check_attempts(r, ZC_BACKEND_BOUNCE, -ENOMEM);
	child_sync_io(r, mem, len, 91);
	ZT_CREQ(zc_ctx_stats(ctx, &s, sizeof s) == 0);
	ZT_CREQ_MSG(s.backend[ZC_BACKEND_URING_FIXED].reg_failures == 1, "reg_failures %llu",
		    (unsigned long long)s.backend[ZC_BACKEND_URING_FIXED].reg_failures);
	ZT_CREQ(s.backend[ZC_BACKEND_URING_FIXED].regs == 0);
	ZT_CREQ(s.backend[ZC_BACKEND_BOUNCE].regs == 1);
	ZT_CREQ(s.fallbacks == 1);
	ZT_CREQ(zc_reg_destroy(r) == 0);

	/* REQUIRE_ZEROCOPY: the zero-copy attempt's errno, bounce not tried */
	{
		struct zc_reg *r2 = (struct zc_reg *)(uintptr_t)1;
		int fds = zt_fd_count();
		int rc = zt_reg_mem(f, mem, len, 0, ZC_REG_REQUIRE_ZEROCOPY, 0, &r2);
		ZT_CREQ_MSG(rc == -ENOMEM, "REQUIRE_ZEROCOPY with register fault: %d", rc);
		ZT_CREQ(r2 == (struct zc_reg *)(uintptr_t)1);
		ZT_CREQ(zt_fd_count() == fds);
		ZT_CREQ(zc_ctx_stats(ctx, &s, sizeof s) == 0);
		ZT_CREQ(s.backend[ZC_BACKEND_BOUNCE].regs == 1);
	}
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_fault_uring_register_enomem_falls_back_to_bounce)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_register_enomem, NULL));
}
END_TEST

static int child_fault_ring_setup_eperm(void *arg)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	size_t len = F_SIZE;
	uint8_t *mem = zt_map_anon(len);
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	(void)arg;
	setenv("ZC_FAULT", "core:ring_setup:EPERM", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_URING_FIXED, &bi) == 0);
	ZT_CREQ_MSG(bi.available == 0, "uring_fixed available despite ring_setup fault");
	ZT_CREQ(bi.reason[0] != 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r = child_reg(f, mem, len, ZC_BACKEND_BOUNCE);
	child_check_attempts(r, ZC_BACKEND_BOUNCE, 0);
	child_sync_io(r, mem, len, 101);
	child_async_io(ctx, r, mem, ZC_CQE_F_INLINE, 102);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_fault_ring_setup_eperm_makes_uring_unavailable)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_ring_setup_eperm, NULL));
}
END_TEST

static int child_fault_nth(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r[3];
	uint8_t *mem = zt_map_anon(ZT_MiB);
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	(void)arg;
	/* only the second hit of the backend entry step fails */
	setenv("ZC_FAULT", "uring_fixed:reg:ENOMEM:2", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r[0] = child_reg(f, mem, ZT_MiB, ZC_BACKEND_URING_FIXED);
	r[1] = child_reg(f, mem, ZT_MiB, ZC_BACKEND_BOUNCE);
	child_check_attempts(r[1], ZC_BACKEND_BOUNCE, -ENOMEM);
	r[2] = child_reg(f, mem, ZT_MiB, ZC_BACKEND_URING_FIXED);
	for (int i = 0; i < 3; i++) {
		ZT_CREQ(zc_read(r[i], 0, 1000, 5000) == 5000);
		ZT_CREQ(zt_verify(mem, 5000, F_SEED, 1000) == -1);
		ZT_CREQ(zc_reg_destroy(r[i]) == 0);
	}
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_fault_nth_hit_fails_only_that_registration)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_nth, NULL));
}
END_TEST

static int child_fault_statx(void *arg)
{
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_file_info fi;
	struct zc_reg *r;
	uint8_t *mem = zt_map_anon(65536);
	int fd = open(g_path, O_RDWR | O_CLOEXEC), rc;

	(void)arg;
	setenv("ZC_FAULT", "core:statx:EIO", 1);
	ZT_CREQ(fd >= 0 && mem);
	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	ZT_CREQ(zc_ctx_create(&p, &ctx) == 0);
	/* a failing statx degrades the probe; it is not fatal, and not silent */
	rc = zc_file_open(ctx, fd, 0, &f);
	ZT_CREQ_MSG(rc == 0, "zc_file_open with core:statx:EIO: %d", rc);
	ZT_CREQ_MSG(zt_log_has(&log, ZC_LOG_WARN, "statx") ||
			    zt_log_has(&log, ZC_LOG_ERROR, "statx"),
		    "statx failure not reported:\n%s", log.text);
	ZT_CREQ(zc_file_query(f, &fi, sizeof fi) == 0);
	ZT_CREQ(fi.flags & ZC_FILE_REGULAR);
	ZT_CREQ(fi.file_size == F_SIZE);
	ZT_CREQ(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r) == 0);
	ZT_CREQ(zc_read(r, 0, 5, 65536) == 65536);
	ZT_CREQ(zt_verify(mem, 65536, F_SEED, 5) == -1);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_fault_statx_degrades_file_probe_with_a_warning)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_statx, NULL));
}
END_TEST

static int child_fault_io(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c[4];
	struct zc_event ev[4];
	struct pollfd pfd;
	uint8_t *mem = zt_map_anon(ZT_MiB);
	int fd = open(g_path, O_RDWR | O_CLOEXEC), got = 0;

	(void)arg;
	setenv("ZC_FAULT", "uring_fixed:io:EIO", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	r = child_reg(f, mem, ZT_MiB, ZC_BACKEND_URING_FIXED);
	ZT_CREQ(zc_queue_create(ctx, 4, 0, &q) == 0);
	ZT_CREQ(zc_prep_read(q, r, 0, 3, 60000, 1) == 0);
	ZT_CREQ(zc_prep_read(q, r, 65536, 70000, 60000, 2) == 0);
	ZT_CREQ(zc_submit(q) == 2);
	while (got < 2) {
		int k = zc_reap(q, c + got, 4 - (unsigned)got, 1, -1);
		ZT_CREQ(k >= 1);
		got += k;
	}
	for (int i = 0; i < 2; i++) {
		/* the op ran on a fallback path: still correct, and flagged */
		ZT_CREQ_MSG(c[i].res == 60000, "res %lld", (long long)c[i].res);
		ZT_CREQ_MSG(c[i].flags & ZC_CQE_F_FALLBACK, "flags 0x%x", c[i].flags);
		ZT_CREQ(c[i].backend == ZC_BACKEND_URING_FIXED);
	}
	ZT_CREQ(zt_verify(mem, 60000, F_SEED, 3) == -1);
	ZT_CREQ(zt_verify(mem + 65536, 60000, F_SEED, 70000) == -1);
	/* one ZC_EVENT_FALLBACK for the registration, however many ops */
	pfd.fd = zc_ctx_event_fd(ctx);
	pfd.events = POLLIN;
	ZT_CREQ_MSG(poll(&pfd, 1, 0) == 1, "event fd not readable");
	ZT_CREQ(zc_ctx_events(ctx, ev, 4) == 1);
	ZT_CREQ(ev[0].type == ZC_EVENT_FALLBACK);
	ZT_CREQ(ev[0].reg == r);
	ZT_CREQ(zc_ctx_events(ctx, ev, 4) == 0);
	ZT_CREQ(poll(&pfd, 1, 0) == 0);
	zc_queue_destroy(q);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_restricted_fault_uring_io_takes_fallback_path_and_posts_one_event)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_io, NULL));
}
END_TEST

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";
	const char *fs = argc > 2 ? argv[2] : "";
	const char *why = "?";
	char reason[256];
	Suite *s = suite_create("restricted");
	TCase *tc;
	int fd, st;

	zt_init();
	if (strcmp(v, "seccomp") == 0) {
#ifndef ZT_AUDIT_ARCH
		zt_skip("restricted.seccomp: no seccomp arch value for this CPU in the test");
#endif
		if (strcmp(fs, "tmpfs") == 0) {
			g_dir = zt_tmpfs_dir(&why);
		} else if (strcmp(fs, "ext4") == 0 || strcmp(fs, "ext4_direct") == 0) {
			g_dir = zt_ext4_dir(&why);
			g_direct = strcmp(fs, "ext4_direct") == 0;
		} else {
			fprintf(stderr, "usage: %s seccomp tmpfs|ext4|ext4_direct\n", argv[0]);
			return 2;
		}
		if (!g_dir)
			zt_skip("restricted.seccomp.%s: %s", fs, why);
		if (!zt_liburing_built())
			zt_skip("restricted.seccomp.%s: library built without liburing, "
				"nothing to block", fs);
		if (g_direct && !zt_odirect_works(g_dir, reason, sizeof reason))
			zt_skip("restricted.seccomp.%s: %s", fs, reason);
		st = zt_fork_run(child_probe_seccomp, NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			zt_skip("restricted.seccomp: cannot install a seccomp filter that blocks io_uring here");
	} else if (strcmp(v, "memlock") == 0 || strcmp(v, "fault") == 0) {
		g_dir = zt_tmpfs_dir(&why);
		if (!g_dir)
			g_dir = zt_any_dir();
		if (!zt_liburing_built())
			zt_skip("restricted.%s: library built without liburing", v);
		if (!zt_io_uring_works(reason, sizeof reason))
			zt_skip("restricted.%s: io_uring unavailable: %s", v, reason);
		if (strcmp(v, "memlock") == 0) {
			if (geteuid() != 0)
				zt_skip("restricted.memlock: needs root to switch to nobody");
			st = zt_fork_run(child_probe_nobody_uring, NULL);
			if (!WIFEXITED(st) || WEXITSTATUS(st) == 2)
				zt_skip("restricted.memlock: cannot switch to uid %d", NOBODY);
			if (WEXITSTATUS(st) != 0)
				zt_skip("restricted.memlock: io_uring unavailable to uid %d", NOBODY);
			/* nobody must reach the file */
			if (chmod(g_dir, 0711) != 0)
				zt_skip("restricted.memlock: chmod %s: %s", g_dir, strerror(errno));
		}
	} else {
		fprintf(stderr, "usage: %s seccomp <fs> | memlock | fault\n", argv[0]);
		return 2;
	}
	fd = zt_make_file(g_dir, F_SIZE, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	close(fd);

	tc = zt_tcase(v);
	tcase_add_checked_fixture(tc, reset_file, NULL);
	if (strcmp(v, "seccomp") == 0) {
		tcase_add_test(tc, test_restricted_seccomp_blocked_io_uring_falls_back_to_bounce);
	} else if (strcmp(v, "memlock") == 0) {
		tcase_add_test(tc, test_restricted_unprivileged_memlock_64k_uring_enomem_falls_back_to_bounce);
	} else {
		tcase_add_test(tc, test_restricted_fault_uring_register_enomem_falls_back_to_bounce);
		tcase_add_test(tc, test_restricted_fault_ring_setup_eperm_makes_uring_unavailable);
		tcase_add_test(tc, test_restricted_fault_nth_hit_fails_only_that_registration);
		tcase_add_test(tc, test_restricted_fault_statx_degrades_file_probe_with_a_warning);
		tcase_add_test(tc, test_restricted_fault_uring_io_takes_fallback_path_and_posts_one_event);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
