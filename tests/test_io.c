/* SPDX-License-Identifier: MIT */
/* Synchronous data movement: zc_read, zc_write, zc_sync.
 * Variants: args (argument errors) and <tmpfs|ext4|ext4_direct>.<uring_fixed|bounce>:
 * byte-exact reads and writes through that backend (forced with
 * zc_reg_params.backends), unaligned offsets, lengths and memory, EOF,
 * file extension. Every write is checked against an in-memory model of
 * the whole file, read back through a separate buffered fd. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define F_SIZE (4 * ZT_MiB + 1234)
#define F_SEED 41u
#define MEM_LEN (4 * ZT_MiB + 8192)
#define GUARD 0xEE

static struct zt_variant g_v;
static const char *g_dir;
static char g_path[PATH_MAX];

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	int fd;
	uint8_t *mem;
	uint8_t *model; /* expected file content */
	size_t model_cap;
	uint64_t model_size;
};

static void reset_file(void)
{
	ck_assert_int_eq(zt_remake_file(g_dir, F_SIZE, F_SEED, g_path), 0);
}

/* open the file as the variant says and register MEM_LEN bytes of
 * anonymous memory on the variant's backend (access 0: default) */
static void fx_open_access(struct fx *x, unsigned access, uint64_t backends)
{
	char ab[2048];
	int oflags = O_RDWR | O_CLOEXEC | (g_v.direct ? O_DIRECT : 0);

	memset(x, 0, sizeof *x);
	ck_assert_int_eq(zc_ctx_create(NULL, &x->ctx), 0);
	x->fd = open(g_path, oflags);
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
	x->mem = zt_map_anon(MEM_LEN);
	ck_assert_ptr_nonnull(x->mem);
	memset(x->mem, GUARD, MEM_LEN);
	ck_assert_int_eq(zt_reg_mem(x->f, x->mem, MEM_LEN, access, 0, backends, &x->r), 0);
	if (backends)
		ck_assert_msg(zc_reg_backend(x->r) == g_v.backend, "backend %s: %s",
			      zc_backend_name(zc_reg_backend(x->r)),
			      zt_attempts_str(x->r, ab, sizeof ab));
	x->model_cap = F_SIZE + 8 * ZT_MiB;
	x->model = calloc(1, x->model_cap);
	ck_assert_ptr_nonnull(x->model);
	zt_fill(x->model, F_SIZE, F_SEED, 0);
	x->model_size = F_SIZE;
}

static void fx_open(struct fx *x)
{
	fx_open_access(x, 0, ZC_BACKEND_BIT(g_v.backend));
}

static void fx_close(struct fx *x)
{
	ck_assert_int_eq(zc_reg_destroy(x->r), 0);
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	munmap(x->mem, MEM_LEN);
	free(x->model);
}

/* the whole file, read through a fresh buffered fd, equals the model */
static void check_file_matches_model(const struct fx *x, const char *when)
{
	int64_t size = zt_file_size(g_path);
	uint8_t *buf;
	int fd;

	ck_assert_msg(size == (int64_t)x->model_size, "%s: file size %lld, expected %llu", when,
		      (long long)size, (unsigned long long)x->model_size);
	buf = malloc(x->model_size);
	fd = open(g_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zt_pread_full(fd, buf, x->model_size, 0), (ssize_t)x->model_size);
	for (uint64_t i = 0; i < x->model_size; i++)
		if (buf[i] != x->model[i])
			ck_abort_msg("%s: file byte %llu is 0x%02x, expected 0x%02x", when,
				     (unsigned long long)i, buf[i], x->model[i]);
	free(buf);
	close(fd);
}

/* read and check the memory range and its neighbours */
static void do_read(struct fx *x, size_t reg_off, uint64_t file_off, size_t len)
{
	ssize_t want, n;
	char when[128];

	want = file_off >= x->model_size ? 0
		: (ssize_t)(len < x->model_size - file_off ? len : x->model_size - file_off);
	snprintf(when, sizeof when, "zc_read(reg_off %zu, file_off %llu, len %zu)", reg_off,
		 (unsigned long long)file_off, len);
	memset(x->mem, GUARD, MEM_LEN);
	n = zc_read(x->r, reg_off, file_off, len);
	ck_assert_msg(n == want, "%s returned %zd, expected %zd", when, n, want);
	if (want > 0)
		ck_assert_msg(memcmp(x->mem + reg_off, x->model + file_off, (size_t)want) == 0,
			      "%s: data differs from the file", when);
	/* bytes outside the range asked for are not touched (except the tail
	 * past EOF, which a short read may leave in any state) */
	for (size_t i = 0; i < reg_off; i++)
		if (x->mem[i] != GUARD)
			ck_abort_msg("%s: memory byte %zu before the range written", when, i);
	for (size_t i = reg_off + len; i < MEM_LEN && i < reg_off + len + 8192; i++)
		if (x->mem[i] != GUARD)
			ck_abort_msg("%s: memory byte %zu after the range written", when, i);
}

/* fill memory with pattern seed for the file range, write, update the model */
static void do_write(struct fx *x, size_t reg_off, uint64_t file_off, size_t len,
		     uint32_t seed)
{
	ssize_t n;

	zt_fill(x->mem + reg_off, len, seed, file_off);
	n = zc_write(x->r, reg_off, file_off, len);
	ck_assert_msg(n == (ssize_t)len, "zc_write(reg_off %zu, file_off %llu, len %zu) = %zd",
		      reg_off, (unsigned long long)file_off, len, n);
	ck_assert_uint_le(file_off + len, x->model_cap);
	memcpy(x->model + file_off, x->mem + reg_off, len);
	if (file_off + len > x->model_size)
		x->model_size = file_off + len; /* a hole in between reads as zeros */
}

/* offsets chosen to be unaligned for O_DIRECT in every way */
static const struct {
	size_t reg_off;
	uint64_t file_off;
	size_t len;
} k_unaligned[] = {
	{ 0, 1, 4095 },
	{ 0, 511, 9000 },
	{ 3, 0, 4096 },
	{ 3, 4097, 65536 + 13 },
	{ 4095, 12345, 1 },
	{ 1, 1, 1 },
	{ 100, 4096 * 7 + 5, ZT_MiB },
	{ 4096, 8192, 4096 },         /* aligned everywhere */
	{ 512, 4096 * 100, 512 * 3 }, /* 512-aligned */
	{ 7, 3 * ZT_MiB - 3, 2 * 4096 + 6 },
};

/* ------------------------------------------------------------------ */
/* variant tests                                                        */

START_TEST(test_io_read_whole_file_byte_exact)
{
	struct fx x;

	fx_open(&x);
	do_read(&x, 0, 0, F_SIZE);
	do_read(&x, 4096, 0, F_SIZE);
	fx_close(&x);
}
END_TEST

START_TEST(test_io_read_unaligned_offsets_lengths_and_memory)
{
	struct fx x;

	fx_open(&x);
	for (unsigned i = 0; i < ZT_ARRAY_SIZE(k_unaligned); i++)
		do_read(&x, k_unaligned[i].reg_off, k_unaligned[i].file_off, k_unaligned[i].len);
	fx_close(&x);
}
END_TEST

START_TEST(test_io_read_short_at_eof_returns_remaining_count)
{
	struct fx x;

	fx_open(&x);
	do_read(&x, 0, F_SIZE - 100, 4096);
	do_read(&x, 5, F_SIZE - 7, 9000);
	do_read(&x, 0, F_SIZE - 1234, 8192); /* from an aligned offset */
	do_read(&x, 3, 1, F_SIZE + 5000);    /* the whole file, more asked */
	fx_close(&x);
}
END_TEST

START_TEST(test_io_read_at_and_past_eof_returns_zero)
{
	struct fx x;

	fx_open(&x);
	ck_assert_int_eq(zc_read(x.r, 0, F_SIZE, 4096), 0);
	ck_assert_int_eq(zc_read(x.r, 3, F_SIZE, 1), 0);
	ck_assert_int_eq(zc_read(x.r, 0, F_SIZE + 4096, 4096), 0);
	ck_assert_int_eq(zc_read(x.r, 0, (uint64_t)1 << 40, 65536), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_io_write_unaligned_offsets_lengths_and_memory)
{
	struct fx x;
	char when[96];

	fx_open(&x);
	for (unsigned i = 0; i < ZT_ARRAY_SIZE(k_unaligned); i++) {
		do_write(&x, k_unaligned[i].reg_off, k_unaligned[i].file_off,
			 k_unaligned[i].len, 100 + i);
		snprintf(when, sizeof when, "after write case %u", i);
		check_file_matches_model(&x, when);
	}
	/* and read back through the library */
	for (unsigned i = 0; i < ZT_ARRAY_SIZE(k_unaligned); i++)
		do_read(&x, k_unaligned[i].reg_off + 1, k_unaligned[i].file_off,
			k_unaligned[i].len);
	fx_close(&x);
}
END_TEST

START_TEST(test_io_write_extends_file_to_exact_unaligned_size)
{
	struct fx x;

	fx_open(&x);
	do_write(&x, 0, F_SIZE, 777, 201); /* append at EOF */
	check_file_matches_model(&x, "after appending 777 bytes");
	do_write(&x, 3, F_SIZE + 777 + 5000, 3, 202); /* past EOF: a hole */
	check_file_matches_model(&x, "after writing 3 bytes past EOF");
	do_write(&x, 11, F_SIZE + 9001, 65536 + 1, 203);
	check_file_matches_model(&x, "after extending by 64 KiB + 1");
	do_read(&x, 1, F_SIZE - 10, 100000); /* reads the new tail, short */
	fx_close(&x);
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

START_TEST(test_io_random_reads_and_writes_match_model)
{
	struct fx x;
	uint64_t seed = 0x2545F4914F6CDD1DULL, s = seed;

	fx_open(&x);
	for (int i = 0; i < 200; i++) {
		size_t len = 1 + (size_t)(rng_next(&s) % (256 * 1024));
		size_t reg_off = (size_t)(rng_next(&s) % (MEM_LEN - len));
		uint64_t file_off = rng_next(&s) % (F_SIZE + 4096);

		if (rng_next(&s) & 1) {
			do_read(&x, reg_off, file_off, len);
		} else {
			if (file_off + len > x.model_cap)
				continue;
			do_write(&x, reg_off, file_off, len, 300 + (uint32_t)i);
		}
	}
	check_file_matches_model(&x, "after 200 random operations");
	fx_close(&x);
}
END_TEST

START_TEST(test_io_registration_at_unaligned_address)
{
	struct fx x;
	struct zc_reg *r2;
	uint8_t *m;

	fx_open(&x);
	m = x.mem + 3;
	ck_assert_int_eq(zt_reg_mem(x.f, m, ZT_MiB, 0, 0, ZC_BACKEND_BIT(g_v.backend), &r2), 0);
	ck_assert_int_eq(zc_reg_backend(r2), g_v.backend);
	ck_assert_int_eq(zc_read(r2, 0, 1, 70000), 70000);
	ck_assert_int_eq(zt_verify(m, 70000, F_SEED, 1), -1);
	zt_fill(m + 5, 10000, 401, 4096);
	ck_assert_int_eq(zc_write(r2, 5, 4096, 10000), 10000);
	memcpy(x.model + 4096, m + 5, 10000);
	check_file_matches_model(&x, "after a write from an unaligned registration");
	ck_assert_int_eq(zc_reg_destroy(r2), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_io_sync_on_plain_registration_returns_zero)
{
	struct fx x;

	fx_open(&x);
	do_write(&x, 0, 100, 5000, 501);
	ck_assert_int_eq(zc_sync(x.r, 0, 0), 0);
	ck_assert_int_eq(zc_sync(x.r, 100, 50), 0);
	check_file_matches_model(&x, "after zc_sync");
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* args                                                                 */

START_TEST(test_io_null_registration_is_einval)
{
	ck_assert_int_eq(zc_read(NULL, 0, 0, 1), -EINVAL);
	ck_assert_int_eq(zc_write(NULL, 0, 0, 1), -EINVAL);
	ck_assert_int_eq(zc_sync(NULL, 0, 0), -EINVAL);
}
END_TEST

START_TEST(test_io_zero_length_returns_zero)
{
	struct fx x;

	fx_open_access(&x, 0, 0);
	ck_assert_int_eq(zc_read(x.r, 0, 0, 0), 0);
	ck_assert_int_eq(zc_write(x.r, 0, 0, 0), 0);
	ck_assert_int_eq(zc_read(x.r, MEM_LEN, 0, 0), 0);
	check_file_matches_model(&x, "after zero-length calls");
	fx_close(&x);
}
END_TEST

/* every failing call: exact errno, memory and file untouched, no fd leak */
static void expect_io_fails(struct fx *x, int write, size_t reg_off, uint64_t file_off,
			    size_t len, int want)
{
	int fds = zt_fd_count();
	ssize_t n;

	memset(x->mem, GUARD, MEM_LEN);
	n = write ? zc_write(x->r, reg_off, file_off, len) : zc_read(x->r, reg_off, file_off, len);
	ck_assert_msg(n == want, "%s(reg_off %zu, file_off %llu, len %zu) = %zd, expected %d",
		      write ? "zc_write" : "zc_read", reg_off, (unsigned long long)file_off, len,
		      n, want);
	ck_assert_int_eq(zt_fd_count(), fds);
	for (size_t i = 0; i < MEM_LEN; i += 4093)
		ck_assert_msg(x->mem[i] == GUARD, "memory written by a failing call");
}

START_TEST(test_io_range_beyond_registration_is_einval)
{
	struct fx x;

	fx_open_access(&x, 0, 0);
	for (int w = 0; w <= 1; w++) {
		expect_io_fails(&x, w, 0, 0, MEM_LEN + 1, -EINVAL);
		expect_io_fails(&x, w, MEM_LEN, 0, 1, -EINVAL);
		expect_io_fails(&x, w, MEM_LEN - 10, 0, 11, -EINVAL);
		expect_io_fails(&x, w, SIZE_MAX, 0, 2, -EINVAL);
		expect_io_fails(&x, w, 1, 0, SIZE_MAX, -EINVAL);
	}
	check_file_matches_model(&x, "after failing calls");
	fx_close(&x);
}
END_TEST

START_TEST(test_io_file_range_past_int64_max_is_eoverflow)
{
	struct fx x;

	fx_open_access(&x, 0, 0);
	for (int w = 0; w <= 1; w++) {
		expect_io_fails(&x, w, 0, INT64_MAX, 1, -EOVERFLOW);
		expect_io_fails(&x, w, 0, (uint64_t)INT64_MAX - 10, 100, -EOVERFLOW);
		expect_io_fails(&x, w, 0, (uint64_t)INT64_MAX + 1, 1, -EOVERFLOW);
		expect_io_fails(&x, w, 0, UINT64_MAX, 1, -EOVERFLOW);
		expect_io_fails(&x, w, 0, UINT64_MAX - 10, 100, -EOVERFLOW); /* wraps */
	}
	/* ending exactly at INT64_MAX is allowed: past EOF, reads 0 */
	ck_assert_int_eq(zc_read(x.r, 0, (uint64_t)INT64_MAX - 100, 100), 0);
	check_file_matches_model(&x, "after failing calls");
	fx_close(&x);
}
END_TEST

START_TEST(test_io_direction_without_access_is_eacces)
{
	struct fx x;

	fx_open_access(&x, ZC_ACCESS_WRITE, 0);
	expect_io_fails(&x, 0, 0, 0, 4096, -EACCES);
	do_write(&x, 0, 10, 4096, 601);
	check_file_matches_model(&x, "write-only registration");
	fx_close(&x);
	reset_file();

	fx_open_access(&x, ZC_ACCESS_READ, 0);
	expect_io_fails(&x, 1, 0, 0, 4096, -EACCES);
	do_read(&x, 0, 10, 4096);
	check_file_matches_model(&x, "read-only registration");
	fx_close(&x);
}
END_TEST

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";
	Suite *s = suite_create("io");
	TCase *tc;
	int fd;

	zt_init();
	if (strcmp(v, "args") == 0) {
		g_dir = zt_any_dir();
		g_v.name = "args";
		g_v.backend = ZC_BACKEND_BOUNCE; /* unused: args registers by default */
	} else {
		zt_variant_require(v, &g_v);
		g_dir = g_v.dir;
	}
	fd = zt_make_file(g_dir, F_SIZE, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	close(fd);

	tc = zt_tcase(v);
	tcase_add_checked_fixture(tc, reset_file, NULL);
	if (strcmp(v, "args") == 0) {
		tcase_add_test(tc, test_io_null_registration_is_einval);
		tcase_add_test(tc, test_io_zero_length_returns_zero);
		tcase_add_test(tc, test_io_range_beyond_registration_is_einval);
		tcase_add_test(tc, test_io_file_range_past_int64_max_is_eoverflow);
		tcase_add_test(tc, test_io_direction_without_access_is_eacces);
	} else {
		tcase_add_test(tc, test_io_read_whole_file_byte_exact);
		tcase_add_test(tc, test_io_read_unaligned_offsets_lengths_and_memory);
		tcase_add_test(tc, test_io_read_short_at_eof_returns_remaining_count);
		tcase_add_test(tc, test_io_read_at_and_past_eof_returns_zero);
		tcase_add_test(tc, test_io_write_unaligned_offsets_lengths_and_memory);
		tcase_add_test(tc, test_io_write_extends_file_to_exact_unaligned_size);
		tcase_add_test(tc, test_io_random_reads_and_writes_match_model);
		tcase_add_test(tc, test_io_registration_at_unaligned_address);
		tcase_add_test(tc, test_io_sync_on_plain_registration_returns_zero);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
