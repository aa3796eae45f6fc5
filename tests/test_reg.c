/* SPDX-License-Identifier: MIT */
/* Registration. Variants:
 *   args   every invalid input -> exact errno, getters, attempts rules
 *   tmpfs  selection, forced bounce, MAP_FILE, EBUSY, leaks, stats on tmpfs
 *   ext4   the same on ext4, plus MAP_FILE on page cache (bounce copy)
 *   uring  needs io_uring: uring_fixed refusals, MAP_FILE pin, pin counts
 *   large  needs io_uring and >1 GiB lockable: registration over 1 GiB */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define F_SIZE (4 * ZT_MiB + 333)
#define F_SEED 31u
#define BIT_B ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE)
#define BIT_U ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED)

static const char *g_dir;
static const char *g_fs; /* "tmpfs", "ext4" or "any" */
static char g_path[PATH_MAX];
static struct zc_reg *const SENTINEL_REG = (struct zc_reg *)(uintptr_t)0x7c7c7c7c;

/* what a registration of anonymous memory lands on by default here */
static enum zc_backend default_backend(void)
{
	return zt_uring_expected() ? ZC_BACKEND_URING_FIXED : ZC_BACKEND_BOUNCE;
}

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd;
};

static void fx_open(struct fx *x, uint64_t ctx_backends, int oflags)
{
	ck_assert_int_eq(zt_ctx(ctx_backends, 0, &x->ctx), 0);
	x->fd = open(g_path, oflags | O_CLOEXEC);
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
}

static void fx_close(struct fx *x)
{
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
}

/* restore the test file to pattern F_SEED (tests that write change it) */
static void reset_file(void)
{
	ck_assert_int_eq(zt_remake_file(g_dir, F_SIZE, F_SEED, g_path), 0);
}

static void check_attempts_end_on(const struct zc_reg *r, enum zc_backend b)
{
	struct zc_attempt a[16];
	char ab[2048];
	int n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));

	ck_assert_msg(n >= 1 && n <= (int)ZT_ARRAY_SIZE(a), "zc_reg_attempts: %d", n);
	ck_assert_msg(a[n - 1].backend == b && a[n - 1].error == 0,
		      "last attempt is not %s with error 0: %s", zc_backend_name(b),
		      zt_attempts_str(r, ab, sizeof ab));
	for (int i = 0; i < n - 1; i++) {
		ck_assert_msg(a[i].error < 0, "attempt %d has error %d: %s", i, a[i].error,
			      zt_attempts_str(r, ab, sizeof ab));
		ck_assert_msg(a[i].backend != b, "backend in use also failed: %s",
			      zt_attempts_str(r, ab, sizeof ab));
		ck_assert_msg(memchr(a[i].reason, 0, sizeof a[i].reason) && a[i].reason[0],
			      "attempt %d without a reason", i);
	}
}

static void check_backend(const struct zc_reg *r, enum zc_backend want)
{
	char ab[2048];

	ck_assert_msg(zc_reg_backend(r) == want, "backend %s, expected %s; attempts: %s",
		      zc_backend_name(zc_reg_backend(r)), zc_backend_name(want),
		      zt_attempts_str(r, ab, sizeof ab));
	check_attempts_end_on(r, want);
}

static void get_stats(struct zc_ctx *ctx, struct zc_stats *s)
{
	ck_assert_int_eq(zc_ctx_stats(ctx, s, sizeof *s), 0);
}

/* ------------------------------------------------------------------ */
/* args                                                                 */

/* zc_reg_create must return want, leave *out alone, leak no fd, no mapping */
static void expect_reg_fails(struct zc_file *f, const struct zc_reg_params *p, int want,
			     const char *what)
{
	struct zc_reg *r = SENTINEL_REG;
	int fds = zt_fd_count(), maps = zt_map_count();
	int rc = zc_reg_create(f, p, &r);

	if (rc == 0 && r != SENTINEL_REG)
		zc_reg_destroy(r);
	ck_assert_msg(rc == want, "%s: zc_reg_create returned %d (%s), expected %d (%s)", what,
		      rc, zc_strerror(rc), want, zc_strerror(want));
	ck_assert_msg(r == SENTINEL_REG, "%s: out written on failure", what);
	ck_assert_msg(zt_fd_count() == fds, "%s: fd count %d -> %d", what, fds, zt_fd_count());
	ck_assert_msg(!zt_maps_meaningful() || zt_map_count() == maps,
		      "%s: mapping count %d -> %d", what, maps, zt_map_count());
}

static struct zc_reg_params mem_params(void *addr, size_t len)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
	p.addr = addr;
	p.length = len;
	return p;
}

static struct zc_reg_params mapfile_params(uint64_t off, size_t len)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_FILE_OFFSET;
	p.flags = ZC_REG_MAP_FILE;
	p.file_offset = off;
	p.length = len;
	return p;
}

START_TEST(test_reg_null_file_params_out_are_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p = mem_params(mem, 65536);
	struct zc_reg *r = SENTINEL_REG;

	fx_open(&x, 0, O_RDWR);
	expect_reg_fails(NULL, &p, -EINVAL, "file NULL");
	expect_reg_fails(x.f, NULL, -EINVAL, "params NULL");
	ck_assert_int_eq(zc_reg_create(x.f, &p, NULL), -EINVAL);
	ck_assert_ptr_eq(r, SENTINEL_REG);
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_length_missing_or_zero_is_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask &= ~ZC_REG_FIELD_LENGTH;
	expect_reg_fails(x.f, &p, -EINVAL, "no LENGTH field");
	p = mem_params(mem, 0);
	expect_reg_fails(x.f, &p, -EINVAL, "length 0");
	p = mapfile_params(0, 0);
	expect_reg_fails(x.f, &p, -EINVAL, "MAP_FILE length 0");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_addr_missing_or_null_without_map_file_is_einval)
{
	struct fx x;
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params(NULL, 65536);
	expect_reg_fails(x.f, &p, -EINVAL, "addr NULL");
	p.field_mask &= ~ZC_REG_FIELD_ADDR;
	expect_reg_fails(x.f, &p, -EINVAL, "no ADDR field");
	fx_close(&x);
}
END_TEST

START_TEST(test_reg_map_file_with_addr_is_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mapfile_params(0, 65536);
	p.field_mask |= ZC_REG_FIELD_ADDR;
	p.addr = mem;
	expect_reg_fails(x.f, &p, -EINVAL, "MAP_FILE with ADDR");
	p.addr = NULL;
	expect_reg_fails(x.f, &p, -EINVAL, "MAP_FILE with ADDR field set to NULL");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_file_offset_without_map_file_is_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_FILE_OFFSET;
	p.file_offset = 0;
	expect_reg_fails(x.f, &p, -EINVAL, "FILE_OFFSET without MAP_FILE");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_map_file_range_beyond_eof_is_einval)
{
	static const struct {
		uint64_t off;
		size_t len;
	} c[] = {
		{ 0, F_SIZE + 1 },
		{ 4096, F_SIZE },
		{ F_SIZE, 1 },
		{ (uint64_t)F_SIZE + 4096, 4096 },
		{ UINT64_MAX - 4095, 8192 },
	};
	struct fx x;

	fx_open(&x, 0, O_RDWR);
	for (unsigned i = 0; i < ZT_ARRAY_SIZE(c); i++) {
		struct zc_reg_params p = mapfile_params(c[i].off, c[i].len);
		char what[96];
		snprintf(what, sizeof what, "MAP_FILE off %llu len %zu (size %llu)",
			 (unsigned long long)c[i].off, c[i].len, (unsigned long long)F_SIZE);
		expect_reg_fails(x.f, &p, -EINVAL, what);
	}
	fx_close(&x);
}
END_TEST

START_TEST(test_reg_access_zero_or_unknown_bits_is_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_ACCESS;
	p.access = 0;
	expect_reg_fails(x.f, &p, -EINVAL, "access 0");
	p.access = ZC_ACCESS_READ | (1u << 4);
	expect_reg_fails(x.f, &p, -EINVAL, "access bit 4");
	p.access = 1u << 31;
	expect_reg_fails(x.f, &p, -EINVAL, "access bit 31");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_unknown_flags_field_bits_backend_bits_are_einval)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_FLAGS;
	p.flags = 1u << 10;
	expect_reg_fails(x.f, &p, -EINVAL, "flags bit 10");
	p.flags = 1u << 31;
	expect_reg_fails(x.f, &p, -EINVAL, "flags bit 31");

	p = mem_params(mem, 65536);
	p.field_mask |= UINT64_C(1) << 20;
	expect_reg_fails(x.f, &p, -EINVAL, "field_mask bit 20");
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH | (UINT64_C(1) << 63);
	expect_reg_fails(x.f, &p, -EINVAL, "field_mask bit 63");

	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_BACKENDS;
	p.backends = ZC_BACKEND_BIT(ZC_BACKEND_MAX + 1);
	expect_reg_fails(x.f, &p, -EINVAL, "backends bit 6");
	p.backends = BIT_B | (UINT64_C(1) << 63);
	expect_reg_fails(x.f, &p, -EINVAL, "backends bit 63");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_device_memory_checked)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;
	int mfd = memfd_create("zt-dmabuf-standin", MFD_CLOEXEC);

	ck_assert_int_ge(mfd, 0);
	fx_open(&x, 0, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_MEM_TYPE;
	/* ZC_MEM_P2P must be p2pmem: anonymous memory is a caller's error */
	p.mem_type = ZC_MEM_P2P;
	expect_reg_fails(x.f, &p, -EINVAL, "mem_type P2P over anonymous memory");
	p.mem_type = ZC_MEM_DMABUF;
	p.field_mask |= ZC_REG_FIELD_DMABUF_FD;
	p.dmabuf_fd = mfd;
	/* the registration is the dma-buf's bytes: no addr */
	expect_reg_fails(x.f, &p, -EINVAL, "mem_type DMABUF with an addr");
	p.field_mask &= ~ZC_REG_FIELD_ADDR;
	/* a memfd is no dma-buf; fd -1 none at all */
	expect_reg_fails(x.f, &p, -EINVAL, "mem_type DMABUF over a memfd");
	p.dmabuf_fd = -1;
	expect_reg_fails(x.f, &p, -EBADF, "mem_type DMABUF with fd -1");
	p.field_mask &= ~ZC_REG_FIELD_DMABUF_FD;
	expect_reg_fails(x.f, &p, -EINVAL, "mem_type DMABUF without dmabuf_fd");
	fx_close(&x);
	close(mfd);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_addr_length_overflow_is_einval)
{
	struct fx x;
	struct zc_reg_params p;

	fx_open(&x, 0, O_RDWR);
	p = mem_params((void *)(UINTPTR_MAX - 4095), 8192);
	expect_reg_fails(x.f, &p, -EINVAL, "addr+length wraps");
	p = mem_params((void *)(uintptr_t)4096, SIZE_MAX);
	expect_reg_fails(x.f, &p, -EINVAL, "length SIZE_MAX");
	fx_close(&x);
}
END_TEST

START_TEST(test_reg_unmapped_memory_is_efault)
{
	struct fx x;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *mem = zt_map_anon(4 * pg);
	struct zc_reg_params p;

	ck_assert_ptr_nonnull(mem);
	fx_open(&x, 0, O_RDWR);
	/* pages 0 and 2 mapped, 1 and 3 not */
	ck_assert_int_eq(munmap(mem + pg, pg), 0);
	ck_assert_int_eq(munmap(mem + 3 * pg, pg), 0);
	p = mem_params(mem, 3 * pg);
	expect_reg_fails(x.f, &p, -EFAULT, "hole in the range");
	p = mem_params(mem + pg, pg);
	expect_reg_fails(x.f, &p, -EFAULT, "entirely unmapped");
	p = mem_params(mem + 2 * pg, 2 * pg);
	expect_reg_fails(x.f, &p, -EFAULT, "runs past the mapping");
	fx_close(&x);
	munmap(mem, pg);
	munmap(mem + 2 * pg, pg);
}
END_TEST

START_TEST(test_reg_access_needs_matching_fd_mode_ebadf)
{
	static const struct {
		int mode;
		unsigned access; /* 0: default READ|WRITE */
		const char *what;
	} c[] = {
		{ O_WRONLY, ZC_ACCESS_READ, "ACCESS_READ on O_WRONLY" },
		{ O_RDONLY, ZC_ACCESS_WRITE, "ACCESS_WRITE on O_RDONLY" },
		{ O_RDONLY, 0, "default READ|WRITE on O_RDONLY" },
		{ O_WRONLY, 0, "default READ|WRITE on O_WRONLY" },
	};
	void *mem = zt_map_anon(65536);

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(c); i++) {
		struct fx x;
		struct zc_reg_params p = mem_params(mem, 65536);

		fx_open(&x, 0, c[i].mode);
		if (c[i].access) {
			p.field_mask |= ZC_REG_FIELD_ACCESS;
			p.access = c[i].access;
		}
		expect_reg_fails(x.f, &p, -EBADF, c[i].what);
		fx_close(&x);
	}
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_require_zerocopy_with_only_bounce_is_eopnotsupp)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_reg_params p;
	struct zc_stats s0, s1;

	/* bounce only by zc_reg_params.backends */
	fx_open(&x, 0, O_RDWR);
	get_stats(x.ctx, &s0);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_BACKENDS;
	p.flags = ZC_REG_REQUIRE_ZEROCOPY;
	p.backends = BIT_B;
	expect_reg_fails(x.f, &p, -EOPNOTSUPP, "REQUIRE_ZEROCOPY, reg backends=bounce");
	get_stats(x.ctx, &s1);
	ck_assert_msg(s1.backend[ZC_BACKEND_BOUNCE].regs == s0.backend[ZC_BACKEND_BOUNCE].regs,
		      "bounce was tried despite REQUIRE_ZEROCOPY");
	fx_close(&x);

	/* bounce only by zc_ctx_params.backends */
	fx_open(&x, BIT_B, O_RDWR);
	p = mem_params(mem, 65536);
	p.field_mask |= ZC_REG_FIELD_FLAGS;
	p.flags = ZC_REG_REQUIRE_ZEROCOPY;
	expect_reg_fails(x.f, &p, -EOPNOTSUPP, "REQUIRE_ZEROCOPY, ctx backends=bounce");
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_null_handles_and_getters)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_rdma_keys k, kref;
	struct zc_attempt a[4];
	struct zc_reg *r;

	ck_assert_int_eq(zc_reg_destroy(NULL), -EINVAL);
	ck_assert_int_eq(zc_reg_backend(NULL), ZC_BACKEND_NONE);
	ck_assert_ptr_null(zc_reg_addr(NULL));
	ck_assert_uint_eq(zc_reg_length(NULL), 0);
	ck_assert_int_eq(zc_reg_attempts(NULL, a, 4), -EINVAL);
	ck_assert_int_eq(zc_reg_rdma(NULL, &k), -EINVAL);

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, 0, 0, 0, &r), 0);
	ck_assert_ptr_eq(zc_reg_addr(r), mem);
	ck_assert_uint_eq(zc_reg_length(r), 65536);
	ck_assert_int_eq(zc_reg_attempts(r, NULL, 1), -EINVAL);
	memset(&k, 0x33, sizeof k);
	kref = k;
	ck_assert_int_eq(zc_reg_rdma(r, &k), -ENODATA);
	ck_assert_msg(memcmp(&k, &kref, sizeof k) == 0, "keys written on failure");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

START_TEST(test_reg_attempts_returns_total_and_copies_at_most_max)
{
	struct fx x;
	void *mem = zt_map_anon(65536);
	struct zc_attempt a[16], one[2];
	struct zc_reg *r;
	int n;

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, 65536, 0, 0, 0, &r), 0);
	n = zc_reg_attempts(r, NULL, 0);
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a)), n);
	memset(one, 0xee, sizeof one);
	ck_assert_int_eq(zc_reg_attempts(r, one, 1), n);
	ck_assert_int_eq(one[0].backend, a[0].backend);
	ck_assert_int_eq(one[0].error, a[0].error);
	for (size_t i = 0; i < sizeof one[1]; i++)
		ck_assert_msg(((unsigned char *)&one[1])[i] == 0xee, "copied past max");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, 65536);
}
END_TEST

/* ------------------------------------------------------------------ */
/* tmpfs / ext4                                                         */

START_TEST(test_reg_default_backend_is_uring_fixed_iff_io_uring_works)
{
	struct fx x;
	uint8_t *mem = zt_map_anon(F_SIZE);
	struct zc_reg *r;

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, F_SIZE, 0, 0, 0, &r), 0);
	check_backend(r, default_backend());
	ck_assert_ptr_eq(zc_reg_addr(r), mem);
	ck_assert_uint_eq(zc_reg_length(r), F_SIZE);
	ck_assert_int_eq(zc_read(r, 0, 0, F_SIZE), F_SIZE);
	ck_assert_int_eq(zt_verify(mem, F_SIZE, F_SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, F_SIZE);
}
END_TEST

/* register with the given ctx/reg backends, expect bounce, move data both
 * ways and check the file */
static void forced_bounce_roundtrip(uint64_t ctx_backends, uint64_t reg_backends)
{
	struct fx x;
	size_t len = 2 * ZT_MiB;
	uint8_t *mem = zt_map_anon(len);
	struct zc_reg *r;
	struct zc_stats s;

	fx_open(&x, ctx_backends, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, 0, 0, reg_backends, &r), 0);
	check_backend(r, ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_read(r, 0, 12345, len), len);
	ck_assert_int_eq(zt_verify(mem, len, F_SEED, 12345), -1);
	zt_fill(mem, len, 77, 0);
	ck_assert_int_eq(zc_write(r, 100, 4097, len - 100), len - 100);
	/* memory byte 100 went to file offset 4097 */
	{
		uint8_t *chk = malloc(len - 100);
		int fd = open(g_path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_eq(zt_pread_full(fd, chk, len - 100, 4097), len - 100);
		ck_assert_int_eq(memcmp(chk, mem + 100, len - 100), 0);
		ck_assert_int_eq(zt_verify_file(g_path, 0, 4097, F_SEED), -1);
		ck_assert_int_eq(zt_verify_file(g_path, 4097 + len - 100,
						F_SIZE - (4097 + len - 100), F_SEED), -1);
		free(chk);
		close(fd);
	}
	get_stats(x.ctx, &s);
	ck_assert_uint_eq(s.backend[ZC_BACKEND_BOUNCE].regs, 1);
	ck_assert_uint_eq(s.backend[ZC_BACKEND_URING_FIXED].regs, 0);
	ck_assert_uint_eq(s.fallbacks, 0); /* bounce was the first candidate */
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, len);
	reset_file();
}

START_TEST(test_reg_forced_bounce_by_reg_params_moves_data)
{
	forced_bounce_roundtrip(0, BIT_B);
}
END_TEST

START_TEST(test_reg_forced_bounce_by_ctx_params_moves_data)
{
	forced_bounce_roundtrip(BIT_B, 0);
}
END_TEST

static int child_forced_bounce_env(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	size_t len = ZT_MiB;
	uint8_t *mem = zt_map_anon(len);
	char ab[1024];
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	(void)arg;
	setenv("ZC_BACKENDS", "bounce", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zt_reg_mem(f, mem, len, 0, 0, 0, &r) == 0);
	ZT_CREQ_MSG(zc_reg_backend(r) == ZC_BACKEND_BOUNCE, "backend %s: %s",
		    zc_backend_name(zc_reg_backend(r)), zt_attempts_str(r, ab, sizeof ab));
	ZT_CREQ(zc_read(r, 0, 999, len) == (ssize_t)len);
	ZT_CREQ(zt_verify(mem, len, F_SEED, 999) == -1);
	zt_fill(mem, 5000, 78, 3);
	ZT_CREQ(zc_write(r, 0, 3, 5000) == 5000);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	ZT_CREQ(zt_verify_file(g_path, 3, 5000, 78) == -1);
	return 0;
}

START_TEST(test_reg_forced_bounce_by_zc_backends_env_moves_data)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_forced_bounce_env, NULL));
	reset_file();
}
END_TEST

/* with io_uring (default context) and with every op run inline inside
 * zc_submit (ZC_CTX_NO_URING): the contract is the same */
START_TEST(test_reg_destroy_with_pending_queue_op_is_ebusy_until_reaped)
{
	static const unsigned flags[] = { 0, ZC_CTX_NO_URING };

	for (unsigned v = 0; v < ZT_ARRAY_SIZE(flags); v++) {
		const char *ctxname = flags[v] ? "ZC_CTX_NO_URING context" : "default context";
		struct zc_ctx *ctx;
		struct zc_file *f;
		uint8_t *mem = zt_map_anon(ZT_MiB);
		struct zc_queue *q;
		struct zc_completion c[4];
		struct zc_reg *r;
		int n = 0, rc, fd = open(g_path, O_RDWR | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(zt_ctx(0, flags[v], &ctx), 0);
		ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
		ck_assert_int_eq(zt_reg_mem(f, mem, ZT_MiB, 0, 0, 0, &r), 0);
		ck_assert_int_eq(zc_queue_create(ctx, 4, 0, &q), 0);
		ck_assert_int_eq(zc_prep_read(q, r, 0, 0, 65536, 42), 0);
		rc = zc_reg_destroy(r);
		ck_assert_msg(rc == -EBUSY, "%s: destroy with a prepared op: %d", ctxname, rc);
		/* the registration is left intact */
		ck_assert_int_eq(zc_reg_backend(r), flags[v] ? ZC_BACKEND_BOUNCE : default_backend());
		ck_assert_int_eq(zc_read(r, 65536, 65536, 4096), 4096);
		ck_assert_int_eq(zt_verify(mem + 65536, 4096, F_SEED, 65536), -1);
		ck_assert_int_eq(zc_submit(q), 1);
		rc = zc_reg_destroy(r);
		ck_assert_msg(rc == -EBUSY, "%s: destroy with a submitted, unreaped op: %d", ctxname,
			      rc);
		while (n < 1) {
			int k = zc_reap(q, c, 4, 1, -1);
			ck_assert_int_ge(k, 0);
			n += k;
		}
		ck_assert_int_eq(n, 1);
		ck_assert_uint_eq(c[0].user_data, 42);
		ck_assert_int_eq(c[0].res, 65536);
		ck_assert_int_eq(zt_verify(mem, 65536, F_SEED, 0), -1);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		zc_queue_destroy(q);
		zc_file_close(f);
		zc_ctx_destroy(ctx);
		close(fd);
		munmap(mem, ZT_MiB);
	}
}
END_TEST

START_TEST(test_reg_create_destroy_leaves_no_fd_mapping_or_pin)
{
	struct fx x;
	size_t len = 64 * ZT_MiB;
	const int64_t pages = (int64_t)(len / 4096);
	uint8_t *mem = zt_map_anon(len);
	struct zc_reg *r;
	int fds, maps;
	int64_t pins0, pins1, vmpin0;
	enum zc_backend b = default_backend();

	/* small pages: io_uring keeps one pin per folio of a registered
	 * buffer (7.3 in tests/vm, where THP is on: 32 pins for these 64 MiB) */
	ck_assert_int_eq(madvise(mem, len, MADV_NOHUGEPAGE), 0);
	memset(mem, 1, len); /* populated: pins count pages */
	fx_open(&x, 0, O_RDWR);
	/* warm-up cycle: one-time allocations (staging, libc caches) */
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, 0, 0, 0, &r), 0);
	ck_assert_int_eq(zc_read(r, 0, 0, 4096), 4096);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fds = zt_fd_count();
	maps = zt_map_count();
	vmpin0 = zt_vm_pin_kb();
	pins0 = zt_pins_settled();

	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(zt_reg_mem(x.f, mem, len, 0, 0, 0, &r), 0);
		check_backend(r, b);
		if (i == 0 && b == ZC_BACKEND_URING_FIXED) {
			/* the registration really pins: per process (VmPin) and
			 * system wide (nr_foll_pin_*) */
			if (vmpin0 >= 0)
				ck_assert_msg(zt_vm_pin_kb() - vmpin0 >= (int64_t)(len / 1024),
					      "VmPin %lld -> %lld kB for a %zu-byte registration",
					      (long long)vmpin0, (long long)zt_vm_pin_kb(), len);
			if (pins0 != INT64_MIN)
				ck_assert_msg(zt_pins_outstanding() - pins0 >= pages / 2,
					      "nr_foll_pin outstanding rose by %lld for %lld pages",
					      (long long)(zt_pins_outstanding() - pins0),
					      (long long)pages);
		}
		ck_assert_int_eq(zc_read(r, 0, 8192, 65536), 65536);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
	}
	ck_assert_int_eq(zt_fd_count(), fds);
	ZT_CK_MAPS_EQ(zt_map_count(), maps);
	ck_assert_int_eq(zt_vm_pin_kb(), vmpin0);
	if (pins0 != INT64_MIN && vmpin0 < 0) {
		/* without VmPin only: system wide, so other processes add noise; a leak here would
		 * be 8 x 16384 pages */
		pins1 = zt_pins_settled();
		ck_assert_msg(pins1 - pins0 < pages / 2,
			      "pins outstanding %lld before, %lld after 8 cycles of %lld pages",
			      (long long)pins0, (long long)pins1, (long long)pages);
	}
	fx_close(&x);
	munmap(mem, len);
}
END_TEST

START_TEST(test_reg_stats_count_regs_ops_and_bytes)
{
	struct fx x;
	uint8_t *mem = zt_map_anon(ZT_MiB);
	struct zc_reg *r1, *r2;
	struct zc_stats s0, s1, s2;
	enum zc_backend b = default_backend();

	fx_open(&x, 0, O_RDWR);
	get_stats(x.ctx, &s0);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, ZT_MiB, 0, 0, 0, &r1), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, ZT_MiB, 0, 0, BIT_B, &r2), 0);
	get_stats(x.ctx, &s1);
	if (b == ZC_BACKEND_URING_FIXED) {
		ck_assert_uint_eq(s1.backend[b].regs - s0.backend[b].regs, 1);
		ck_assert_uint_eq(s1.backend[ZC_BACKEND_BOUNCE].regs -
					  s0.backend[ZC_BACKEND_BOUNCE].regs,
				  1);
	} else {
		ck_assert_uint_eq(s1.backend[b].regs - s0.backend[b].regs, 2);
	}
	ck_assert_uint_eq(s1.fallbacks, s0.fallbacks);

	ck_assert_int_eq(zc_read(r1, 0, 100, 300000), 300000);
	get_stats(x.ctx, &s2);
	ck_assert_uint_ge(s2.backend[b].ops - s1.backend[b].ops, 1);
	ck_assert_uint_eq(s2.backend[b].bytes - s1.backend[b].bytes, 300000);
	s1 = s2;
	ck_assert_int_eq(zc_write(r2, 0, 100, 70000), 70000);
	get_stats(x.ctx, &s2);
	ck_assert_uint_ge(s2.backend[ZC_BACKEND_BOUNCE].ops - s1.backend[ZC_BACKEND_BOUNCE].ops,
			  1);
	ck_assert_uint_eq(s2.backend[ZC_BACKEND_BOUNCE].bytes -
				  s1.backend[ZC_BACKEND_BOUNCE].bytes,
			  70000);
	ck_assert_int_eq(zc_reg_destroy(r1), 0);
	ck_assert_int_eq(zc_reg_destroy(r2), 0);
	fx_close(&x);
	munmap(mem, ZT_MiB);
	reset_file();
}
END_TEST

/* where a MAP_FILE registration of this file system lands by default */
static enum zc_backend map_file_backend(void)
{
	if (strcmp(g_fs, "tmpfs") != 0)
		return ZC_BACKEND_BOUNCE; /* page cache: no writable long-term pin */
	if (zt_pin_lease_expected())
		return ZC_BACKEND_PIN_LEASE;
	return default_backend();
}

START_TEST(test_reg_map_file_stores_reach_file_after_sync)
{
	struct fx x;
	struct zc_reg *r;
	uint8_t *a;
	size_t len = 256 * 1024;
	uint64_t off = 64 * 1024;
	int maps, fds;

	fx_open(&x, 0, O_RDWR);
	/* warm-up: the first MAP_FILE registration may start per-context
	 * machinery (the lease monitor) that lives as long as the context */
	ck_assert_int_eq(zt_reg_map_file(x.f, 0, 4096, 0, 0, &r), 0);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	maps = zt_map_count();
	fds = zt_fd_count();
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(zt_reg_map_file(x.f, off, len, 0, 0, &r), 0);
		check_backend(r, map_file_backend());
		a = zc_reg_addr(r);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(zc_reg_length(r), len);
		if (round == 0)
			ck_assert_int_eq(zt_verify(a, len, F_SEED, off), -1);
		zt_fill(a + 1000, 50000, 91 + round, 0);
		ck_assert_int_eq(zc_sync(r, 0, 0), 0);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		{
			uint8_t *chk = malloc(50000);
			int fd = open(g_path, O_RDONLY | O_CLOEXEC);
			ck_assert_int_eq(zt_pread_full(fd, chk, 50000, off + 1000), 50000);
			ck_assert_int_eq(zt_verify(chk, 50000, 91 + round, 0), -1);
			free(chk);
			close(fd);
		}
		ck_assert_int_eq(zt_verify_file(g_path, 0, off + 1000, F_SEED), -1);
	}
	ZT_CK_MAPS_EQ(zt_map_count(), maps);
	ck_assert_int_eq(zt_fd_count(), fds);
	fx_close(&x);
}
END_TEST

/* ext4 only: the page cache cannot be pinned for writing */
START_TEST(test_reg_map_file_ext4_falls_to_bounce_copy_and_needs_sync)
{
	struct fx x;
	struct zc_reg *r;
	struct zc_attempt at;
	char ab[2048];
	uint8_t *a;
	size_t len = ZT_MiB;
	uint64_t off = 8192;

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_map_file(x.f, off, len, 0, 0, &r), 0);
	check_backend(r, ZC_BACKEND_BOUNCE);
	ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_URING_FIXED, &at),
		      "no uring_fixed attempt: %s", zt_attempts_str(r, ab, sizeof ab));
	if (zt_uring_expected())
		ck_assert_msg(at.error == -EFAULT, "uring_fixed attempt %d (%s), expected -EFAULT",
			      at.error, at.reason);
	else
		ck_assert_int_lt(at.error, 0);
	if (zt_pin_lease_expected()) {
		ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_PIN_LEASE, &at),
			      "no pin_lease attempt: %s", zt_attempts_str(r, ab, sizeof ab));
		ck_assert_msg(at.error < 0, "pin_lease attempt %d", at.error);
	}
	a = zc_reg_addr(r);
	ck_assert_int_eq(zt_verify(a, len, F_SEED, off), -1);
	zt_fill(a, len, 92, 0);
	/* a library-owned copy: without zc_sync the file is unchanged */
	ck_assert_int_eq(zt_verify_file(g_path, 0, F_SIZE, F_SEED), -1);
	/* a partial sync writes back at least its range */
	ck_assert_int_eq(zc_sync(r, 4096, 10000), 0);
	{
		uint8_t *chk = malloc(len);
		int fd = open(g_path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_eq(zt_pread_full(fd, chk, 10000, off + 4096), 10000);
		ck_assert_int_eq(memcmp(chk, a + 4096, 10000), 0);
		ck_assert_int_eq(zc_sync(r, 0, 0), 0);
		ck_assert_int_eq(zt_pread_full(fd, chk, len, off), (ssize_t)len);
		ck_assert_int_eq(zt_verify(chk, len, 92, 0), -1);
		free(chk);
		close(fd);
	}
	ck_assert_int_eq(zt_verify_file(g_path, 0, off, F_SEED), -1);
	ck_assert_int_eq(zt_verify_file(g_path, off + len, F_SIZE - off - len, F_SEED), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	reset_file();
}
END_TEST

/* caller memory that is a MAP_SHARED mapping of a page-cache file */
START_TEST(test_reg_ext4_shared_file_mapping_as_memory_lands_on_bounce)
{
	struct fx x;
	struct zc_reg *r;
	struct zc_attempt at;
	char ab[2048], p2[PATH_MAX];
	size_t len = ZT_MiB;
	int mfd = zt_make_file(g_dir, len, 5, O_RDWR, p2);
	uint8_t *m;

	ck_assert_int_ge(mfd, 0);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, m, len, 0, 0, 0, &r), 0);
	check_backend(r, ZC_BACKEND_BOUNCE);
	ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_URING_FIXED, &at), "%s",
		      zt_attempts_str(r, ab, sizeof ab));
	if (zt_uring_expected())
		ck_assert_msg(at.error == -EFAULT, "uring_fixed attempt %d (%s)", at.error,
			      at.reason);
	ck_assert_int_eq(zc_read(r, 0, 4096, len), len);
	ck_assert_int_eq(zt_verify(m, len, F_SEED, 4096), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(m, len);
	close(mfd);
	/* the memory was the other file's page cache: the data reached it */
	{
		uint8_t *chk = malloc(len);
		int fd = open(p2, O_RDONLY | O_CLOEXEC);
		ck_assert_int_eq(zt_pread_full(fd, chk, len, 0), (ssize_t)len);
		ck_assert_int_eq(zt_verify(chk, len, F_SEED, 4096), -1);
		free(chk);
		close(fd);
	}
	unlink(p2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* uring: needs io_uring                                                */

START_TEST(test_reg_require_zerocopy_lands_on_uring_fixed)
{
	struct fx x;
	uint8_t *mem = zt_map_anon(ZT_MiB);
	struct zc_reg *r;

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, ZT_MiB, 0, ZC_REG_REQUIRE_ZEROCOPY, 0, &r), 0);
	check_backend(r, ZC_BACKEND_URING_FIXED);
	ck_assert_int_eq(zc_read(r, 0, 0, ZT_MiB), ZT_MiB);
	ck_assert_int_eq(zt_verify(mem, ZT_MiB, F_SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, ZT_MiB);
}
END_TEST

START_TEST(test_reg_read_only_memory_write_access_refused_by_uring_lands_on_bounce)
{
	struct fx x;
	size_t len = ZT_MiB;
	uint8_t *mem = zt_map_anon(len);
	struct zc_reg *r;
	struct zc_attempt at;
	struct zc_stats s0, s1;
	char ab[2048];
	int n;

	zt_fill(mem, len, 93, 5); /* destined for file offset 5 */
	ck_assert_int_eq(mprotect(mem, len, PROT_READ), 0);
	fx_open(&x, 0, O_RDWR);
	get_stats(x.ctx, &s0);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, ZC_ACCESS_WRITE, 0, 0, &r), 0);
	check_backend(r, ZC_BACKEND_BOUNCE);
	ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_URING_FIXED, &at), "%s",
		      zt_attempts_str(r, ab, sizeof ab));
	ck_assert_msg(at.error == -EFAULT, "uring_fixed attempt %d (%s)", at.error, at.reason);
	ck_assert_msg(strstr(at.reason, "read-only"), "reason \"%s\"", at.reason);
	get_stats(x.ctx, &s1);
	ck_assert_uint_eq(s1.fallbacks - s0.fallbacks, 1);
	ck_assert_uint_eq(s1.backend[ZC_BACKEND_BOUNCE].regs - s0.backend[ZC_BACKEND_BOUNCE].regs,
			  1);

	ck_assert_int_eq(zc_write(r, 0, 5, len), len);
	ck_assert_int_eq(zt_verify_file(g_path, 5, len, 93), -1);
	ck_assert_int_eq(zt_verify_file(g_path, 0, 5, F_SEED), -1);
	/* reading into read-only memory is not allowed by the access mode */
	ck_assert_int_eq(zc_read(r, 0, 0, 4096), -EACCES);

	/* a registration on a fallback backend flags its completions */
	{
		struct zc_queue *q;
		struct zc_completion c;
		int got = 0;

		ck_assert_int_eq(zc_queue_create(x.ctx, 2, 0, &q), 0);
		ck_assert_int_eq(zc_prep_write(q, r, 4096, 4096 + 5, 8192, 7), 0);
		ck_assert_int_eq(zc_submit(q), 1);
		while (got == 0) {
			n = zc_reap(q, &c, 1, 1, -1);
			ck_assert_int_ge(n, 0);
			got += n;
		}
		ck_assert_uint_eq(c.user_data, 7);
		ck_assert_int_eq(c.res, 8192);
		ck_assert_uint_eq(c.backend, ZC_BACKEND_BOUNCE);
		ck_assert_msg(c.flags & ZC_CQE_F_FALLBACK, "completion flags 0x%x", c.flags);
		zc_queue_destroy(q);
	}
	ck_assert_int_eq(zt_verify_file(g_path, 5, len, 93), -1);

	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, len);
	reset_file();
}
END_TEST

START_TEST(test_reg_map_private_file_mapping_refused_by_uring_lands_on_bounce)
{
	struct fx x;
	size_t len = ZT_MiB;
	char p2[PATH_MAX], ab[2048];
	int mfd = zt_make_file(g_dir, len, 6, O_RDWR, p2);
	uint8_t *m;
	struct zc_reg *r;
	struct zc_attempt at;

	ck_assert_int_ge(mfd, 0);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, m, len, 0, 0, 0, &r), 0);
	check_backend(r, ZC_BACKEND_BOUNCE);
	ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_URING_FIXED, &at), "%s",
		      zt_attempts_str(r, ab, sizeof ab));
	ck_assert_msg(at.error == -EFAULT, "uring_fixed attempt %d (%s)", at.error, at.reason);
	ck_assert_msg(strstr(at.reason, "MAP_PRIVATE"), "reason \"%s\"", at.reason);
	ck_assert_int_eq(zc_read(r, 0, 0, len), len);
	ck_assert_int_eq(zt_verify(m, len, F_SEED, 0), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(m, len);
	close(mfd);
	/* a private mapping: the mapped file itself is unchanged */
	ck_assert_int_eq(zt_verify_file(p2, 0, len, 6), -1);
	unlink(p2);
}
END_TEST

START_TEST(test_reg_map_file_tmpfs_limited_to_uring_fixed_pins_file_pages)
{
	struct fx x;
	struct zc_reg *r;
	uint8_t *a;
	size_t len = ZT_MiB;
	uint64_t off = 3 * 4096;
	int64_t vmpin0 = zt_vm_pin_kb();

	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_map_file(x.f, off, len, 0, BIT_U | BIT_B, &r), 0);
	check_backend(r, ZC_BACKEND_URING_FIXED);
	if (vmpin0 >= 0)
		ck_assert_msg(zt_vm_pin_kb() - vmpin0 >= (int64_t)(len / 1024),
			      "MAP_FILE on uring_fixed: VmPin %lld -> %lld kB", (long long)vmpin0,
			      (long long)zt_vm_pin_kb());
	a = zc_reg_addr(r);
	ck_assert_int_eq(zt_verify(a, len, F_SEED, off), -1);
	zt_fill(a + 7, 9000, 94, 0);
	ck_assert_int_eq(zc_sync(r, 0, 0), 0);
	{
		uint8_t chk[9000];
		int fd = open(g_path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_eq(zt_pread_full(fd, chk, sizeof chk, off + 7), (ssize_t)sizeof chk);
		ck_assert_int_eq(zt_verify(chk, sizeof chk, 94, 0), -1);
		close(fd);
	}
	/* the file's own pages: a pwrite through another fd shows in the memory */
	{
		uint8_t w[100];
		int fd = open(g_path, O_RDWR | O_CLOEXEC);
		zt_fill(w, sizeof w, 95, 0);
		ck_assert_int_eq(pwrite(fd, w, sizeof w, (off_t)(off + 20000)), (ssize_t)sizeof w);
		ck_assert_int_eq(memcmp(a + 20000, w, sizeof w), 0);
		close(fd);
	}
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_msg(zt_vm_pin_kb() == vmpin0, "MAP_FILE pins not released: VmPin %lld -> %lld kB",
		      (long long)vmpin0, (long long)zt_vm_pin_kb());
	fx_close(&x);
	reset_file();
}
END_TEST

/* ------------------------------------------------------------------ */
/* large                                                                */

START_TEST(test_reg_over_1gib_registers_on_uring_fixed_and_io_past_1gib_works)
{
	struct fx x;
	size_t len = ZT_GiB + 2 * ZT_MiB;
	uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct zc_reg *r;

	ck_assert_ptr_ne(mem, MAP_FAILED);
	fx_open(&x, 0, O_RDWR);
	ck_assert_int_eq(zt_reg_mem(x.f, mem, len, 0, 0, 0, &r), 0);
	check_backend(r, ZC_BACKEND_URING_FIXED);
	ck_assert_uint_eq(zc_reg_length(r), len);
	/* entirely past 1 GiB */
	ck_assert_int_eq(zc_read(r, ZT_GiB + 4096, 777, 65536), 65536);
	ck_assert_int_eq(zt_verify(mem + ZT_GiB + 4096, 65536, F_SEED, 777), -1);
	/* across the 1 GiB boundary (two fixed-buffer slots) */
	ck_assert_int_eq(zc_read(r, ZT_GiB - 100, 50000, 8192), 8192);
	ck_assert_int_eq(zt_verify(mem + ZT_GiB - 100, 8192, F_SEED, 50000), -1);
	/* the last byte of the registration */
	ck_assert_int_eq(zc_read(r, len - 1, 3, 1), 1);
	ck_assert_int_eq(mem[len - 1], zt_pat(F_SEED, 3));
	/* write from past 1 GiB */
	zt_fill(mem + ZT_GiB + ZT_MiB, 30000, 96, 123);
	ck_assert_int_eq(zc_write(r, ZT_GiB + ZT_MiB, 123, 30000), 30000);
	ck_assert_int_eq(zt_verify_file(g_path, 123, 30000, 96), -1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fx_close(&x);
	munmap(mem, len);
	reset_file();
}
END_TEST

static void require_large(void)
{
	struct rlimit rl;
	char why[256];
	long avail_kb = -1;
	FILE *f;
	char line[256];

	if (!zt_liburing_built())
		zt_skip("reg.large: library built without liburing");
	if (!zt_io_uring_works(why, sizeof why))
		zt_skip("reg.large: io_uring unavailable: %s", why);
	if (!zt_have_cap(14 /* CAP_IPC_LOCK */) &&
	    (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 ||
	     (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < ZT_GiB + 4 * ZT_MiB)))
		zt_skip("reg.large: no CAP_IPC_LOCK and RLIMIT_MEMLOCK below 1 GiB");
	f = fopen("/proc/meminfo", "re");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %ld kB", &avail_kb) == 1)
			break;
	if (f)
		fclose(f);
	if (avail_kb >= 0 && avail_kb < 3L * 1024 * 1024)
		zt_skip("reg.large: less than 3 GiB of memory available (%ld kB)", avail_kb);
}

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";
	const char *why = "?";
	Suite *s = suite_create("reg");
	TCase *tc;
	char reason[256];
	int fd;

	zt_init();
	if (strcmp(v, "args") == 0) {
		g_dir = zt_any_dir();
		g_fs = "any";
	} else if (strcmp(v, "tmpfs") == 0 || strcmp(v, "uring") == 0 ||
		   strcmp(v, "large") == 0) {
		g_dir = zt_tmpfs_dir(&why);
		g_fs = "tmpfs";
	} else if (strcmp(v, "ext4") == 0) {
		g_dir = zt_ext4_dir(&why);
		g_fs = "ext4";
	} else {
		fprintf(stderr, "usage: %s args|tmpfs|ext4|uring|large\n", argv[0]);
		return 2;
	}
	if (!g_dir)
		zt_skip("reg.%s: %s", v, why);
	if (strcmp(v, "uring") == 0) {
		if (!zt_liburing_built())
			zt_skip("reg.uring: library built without liburing");
		if (!zt_io_uring_works(reason, sizeof reason))
			zt_skip("reg.uring: io_uring unavailable: %s", reason);
	}
	if (strcmp(v, "large") == 0)
		require_large();
	fd = zt_make_file(g_dir, F_SIZE, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	close(fd);

	tc = zt_tcase(v);
	/* every test starts from the pristine pattern file */
	tcase_add_checked_fixture(tc, reset_file, NULL);
	if (strcmp(v, "args") == 0) {
		tcase_add_test(tc, test_reg_null_file_params_out_are_einval);
		tcase_add_test(tc, test_reg_length_missing_or_zero_is_einval);
		tcase_add_test(tc, test_reg_addr_missing_or_null_without_map_file_is_einval);
		tcase_add_test(tc, test_reg_map_file_with_addr_is_einval);
		tcase_add_test(tc, test_reg_file_offset_without_map_file_is_einval);
		tcase_add_test(tc, test_reg_map_file_range_beyond_eof_is_einval);
		tcase_add_test(tc, test_reg_access_zero_or_unknown_bits_is_einval);
		tcase_add_test(tc, test_reg_unknown_flags_field_bits_backend_bits_are_einval);
		tcase_add_test(tc, test_reg_device_memory_checked);
		tcase_add_test(tc, test_reg_addr_length_overflow_is_einval);
		tcase_add_test(tc, test_reg_unmapped_memory_is_efault);
		tcase_add_test(tc, test_reg_access_needs_matching_fd_mode_ebadf);
		tcase_add_test(tc, test_reg_require_zerocopy_with_only_bounce_is_eopnotsupp);
		tcase_add_test(tc, test_reg_null_handles_and_getters);
		tcase_add_test(tc, test_reg_attempts_returns_total_and_copies_at_most_max);
	} else if (strcmp(v, "tmpfs") == 0 || strcmp(v, "ext4") == 0) {
		tcase_add_test(tc, test_reg_default_backend_is_uring_fixed_iff_io_uring_works);
		tcase_add_test(tc, test_reg_forced_bounce_by_reg_params_moves_data);
		tcase_add_test(tc, test_reg_forced_bounce_by_ctx_params_moves_data);
		tcase_add_test(tc, test_reg_forced_bounce_by_zc_backends_env_moves_data);
		tcase_add_test(tc, test_reg_destroy_with_pending_queue_op_is_ebusy_until_reaped);
		tcase_add_test(tc, test_reg_create_destroy_leaves_no_fd_mapping_or_pin);
		tcase_add_test(tc, test_reg_stats_count_regs_ops_and_bytes);
		tcase_add_test(tc, test_reg_map_file_stores_reach_file_after_sync);
		if (strcmp(v, "ext4") == 0) {
			tcase_add_test(tc, test_reg_map_file_ext4_falls_to_bounce_copy_and_needs_sync);
			tcase_add_test(tc, test_reg_ext4_shared_file_mapping_as_memory_lands_on_bounce);
		}
	} else if (strcmp(v, "uring") == 0) {
		tcase_add_test(tc, test_reg_require_zerocopy_lands_on_uring_fixed);
		tcase_add_test(tc, test_reg_read_only_memory_write_access_refused_by_uring_lands_on_bounce);
		tcase_add_test(tc, test_reg_map_private_file_mapping_refused_by_uring_lands_on_bounce);
		tcase_add_test(tc, test_reg_map_file_tmpfs_limited_to_uring_fixed_pins_file_pages);
	} else {
		tcase_add_test(tc, test_reg_over_1gib_registers_on_uring_fixed_and_io_past_1gib_works);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
