/* SPDX-License-Identifier: MIT */
/* Asynchronous data movement: queues.
 * Variants:
 *   args      argument errors, depth and -EBUSY, -EXDEV, reap min/max/timeout,
 *             destroy with ops in flight, env-forced bounce in a child
 *   no_uring  ZC_CTX_NO_URING: completions inline, data correct
 *   <tmpfs|ext4|ext4_direct>.<uring_fixed|bounce>  depth-32 random reads and
 *             writes through that backend, checked against pread */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define F_SIZE (4 * ZT_MiB + 555)
#define F_SEED 51u
#define DEPTH 32
#define SLOT (64 * 1024 + 64) /* memory per op */
#define MEM_LEN ((size_t)DEPTH * SLOT + 4096)

static struct zt_variant g_v;
static const char *g_dir;
static char g_path[PATH_MAX];

static void reset_file(void)
{
	ck_assert_int_eq(zt_remake_file(g_dir, F_SIZE, F_SEED, g_path), 0);
}

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	int fd;
	uint8_t *mem;
};

/* ctx_flags: zc_ctx_params.flags; backends 0: not forced; depth for the queue */
static void fx_open(struct fx *x, unsigned ctx_flags, uint64_t backends, int direct,
		    unsigned depth)
{
	char ab[2048];

	memset(x, 0, sizeof *x);
	ck_assert_int_eq(zt_ctx(0, ctx_flags, &x->ctx), 0);
	x->fd = open(g_path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
	x->mem = zt_map_anon(MEM_LEN);
	ck_assert_ptr_nonnull(x->mem);
	ck_assert_int_eq(zt_reg_mem(x->f, x->mem, MEM_LEN, 0, 0, backends, &x->r), 0);
	if (backends == ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED) ||
	    backends == ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE))
		ck_assert_msg(zc_reg_backend(x->r) == (enum zc_backend)__builtin_ctzll(backends),
			      "backend %s: %s", zc_backend_name(zc_reg_backend(x->r)),
			      zt_attempts_str(x->r, ab, sizeof ab));
	ck_assert_int_eq(zc_queue_create(x->ctx, depth, 0, &x->q), 0);
}

static void fx_close(struct fx *x)
{
	if (x->q)
		zc_queue_destroy(x->q);
	ck_assert_int_eq(zc_reg_destroy(x->r), 0);
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	munmap(x->mem, MEM_LEN);
}

struct op {
	int write;
	size_t reg_off;
	uint64_t file_off;
	size_t len;
	uint64_t ud;
	int64_t expect;
	int seen;
};

/* reap exactly n completions (blocking), match them to ops by user_data
 * and check res, backend and flags */
static void reap_all(struct fx *x, struct op *ops, unsigned n, uint32_t must_flags)
{
	struct zc_completion c[64];
	unsigned got = 0;

	while (got < n) {
		int k = zc_reap(x->q, c, ZT_ARRAY_SIZE(c), 1, -1);
		ck_assert_msg(k >= 1, "zc_reap(min 1, no timeout) returned %d with %u pending", k,
			      n - got);
		for (int i = 0; i < k; i++) {
			unsigned j;
			for (j = 0; j < n; j++)
				if (ops[j].ud == c[i].user_data)
					break;
			ck_assert_msg(j < n, "completion with unknown user_data 0x%llx",
				      (unsigned long long)c[i].user_data);
			ck_assert_msg(!ops[j].seen, "user_data 0x%llx completed twice",
				      (unsigned long long)c[i].user_data);
			ops[j].seen = 1;
			ck_assert_msg(c[i].res == ops[j].expect,
				      "%s op %u (reg_off %zu file_off %llu len %zu): res %lld, expected %lld",
				      ops[j].write ? "write" : "read", j, ops[j].reg_off,
				      (unsigned long long)ops[j].file_off, ops[j].len,
				      (long long)c[i].res, (long long)ops[j].expect);
			ck_assert_msg(c[i].backend == (uint32_t)zc_reg_backend(x->r),
				      "completion backend %u, registration on %s", c[i].backend,
				      zc_backend_name(zc_reg_backend(x->r)));
			ck_assert_msg((c[i].flags & must_flags) == must_flags,
				      "completion flags 0x%x lack 0x%x", c[i].flags, must_flags);
			ck_assert_msg(!(c[i].flags & ~(ZC_CQE_F_FALLBACK | ZC_CQE_F_INLINE)),
				      "unknown completion flags 0x%x", c[i].flags);
		}
		got += (unsigned)k;
	}
	ck_assert_uint_eq(got, n);
	/* nothing more */
	ck_assert_int_eq(zc_reap(x->q, c, ZT_ARRAY_SIZE(c), 0, 0), 0);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t v = *s;

	v ^= v << 13;
	v ^= v >> 7;
	v ^= v << 17;
	*s = v;
	return v;
}

/* rounds of DEPTH random reads, each checked against pread of the file */
static void random_reads(struct fx *x, unsigned rounds, uint32_t must_flags)
{
	struct op ops[DEPTH];
	uint64_t s = 0x9E3779B97F4A7C15ULL;
	uint8_t *chk = malloc(SLOT);
	int vfd = open(g_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(vfd, 0);
	for (unsigned round = 0; round < rounds; round++) {
		memset(x->mem, 0xEE, MEM_LEN);
		for (unsigned i = 0; i < DEPTH; i++) {
			struct op *o = &ops[i];
			memset(o, 0, sizeof *o);
			o->reg_off = (size_t)i * SLOT + (rng_next(&s) % 64);
			o->len = 1 + (size_t)(rng_next(&s) % (64 * 1024));
			o->file_off = rng_next(&s) % (F_SIZE + 2000);
			if (i == 0)
				o->file_off = F_SIZE; /* at EOF */
			if (i == 1)
				o->file_off = F_SIZE - 10; /* short */
			o->expect = o->file_off >= F_SIZE ? 0
				    : (int64_t)(o->len < F_SIZE - o->file_off ? o->len
									      : F_SIZE - o->file_off);
			o->ud = 0xAB000000ULL | ((uint64_t)round << 8) | i;
			ck_assert_int_eq(zc_prep_read(x->q, x->r, o->reg_off, o->file_off, o->len,
						      o->ud),
					 0);
		}
		ck_assert_int_eq(zc_submit(x->q), DEPTH);
		reap_all(x, ops, DEPTH, must_flags);
		for (unsigned i = 0; i < DEPTH; i++) {
			struct op *o = &ops[i];
			ssize_t n = zt_pread_full(vfd, chk, o->len, o->file_off);
			ck_assert_int_eq(n, o->expect);
			ck_assert_msg(memcmp(x->mem + o->reg_off, chk, (size_t)n) == 0,
				      "round %u op %u: data differs from pread", round, i);
		}
	}
	close(vfd);
	free(chk);
}

/* rounds of DEPTH random writes into separate zones of the file, then the
 * whole file is compared with a model */
static void random_writes(struct fx *x, unsigned rounds, uint32_t must_flags)
{
	struct op ops[DEPTH];
	uint64_t s = 0xD1B54A32D192ED03ULL;
	const uint64_t zone = F_SIZE / DEPTH;
	uint8_t *model = malloc(F_SIZE), *buf = malloc(F_SIZE);
	int vfd = open(g_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(vfd, 0);
	zt_fill(model, F_SIZE, F_SEED, 0);
	for (unsigned round = 0; round < rounds; round++) {
		for (unsigned i = 0; i < DEPTH; i++) {
			struct op *o = &ops[i];
			memset(o, 0, sizeof *o);
			o->write = 1;
			o->reg_off = (size_t)i * SLOT + (rng_next(&s) % 64);
			o->len = 1 + (size_t)(rng_next(&s) % (zone < 65536 ? zone : 65536));
			o->file_off = i * zone + rng_next(&s) % (zone - o->len + 1);
			o->expect = (int64_t)o->len;
			o->ud = 0xCD000000ULL | ((uint64_t)round << 8) | i;
			zt_fill(x->mem + o->reg_off, o->len, 1000 + round * DEPTH + i, o->file_off);
			memcpy(model + o->file_off, x->mem + o->reg_off, o->len);
			ck_assert_int_eq(zc_prep_write(x->q, x->r, o->reg_off, o->file_off, o->len,
						       o->ud),
					 0);
		}
		ck_assert_int_eq(zc_submit(x->q), DEPTH);
		reap_all(x, ops, DEPTH, must_flags);
		ck_assert_int_eq(zt_file_size(g_path), F_SIZE);
		ck_assert_int_eq(zt_pread_full(vfd, buf, F_SIZE, 0), F_SIZE);
		for (uint64_t i = 0; i < F_SIZE; i++)
			if (buf[i] != model[i])
				ck_abort_msg("round %u: file byte %llu is 0x%02x, expected 0x%02x",
					     round, (unsigned long long)i, buf[i], model[i]);
	}
	close(vfd);
	free(model);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* variant tests                                                        */

START_TEST(test_queue_depth32_random_reads_match_pread)
{
	struct fx x;

	fx_open(&x, 0, ZC_BACKEND_BIT(g_v.backend), g_v.direct, DEPTH);
	random_reads(&x, 4, 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_depth32_random_writes_match_model)
{
	struct fx x;

	fx_open(&x, 0, ZC_BACKEND_BIT(g_v.backend), g_v.direct, DEPTH);
	random_writes(&x, 3, 0);
	fx_close(&x);
}
END_TEST

/* Without IORING_REGISTER_CLONE_BUFFERS (forced by ZC_FAULT=core:clone)
 * the queue's ring must get the slots by registering them again: every
 * completion then still runs on the fixed buffer, with no fallback flag. */
static int child_no_clone_queue(void *arg)
{
	struct fx x;
	struct op ops[DEPTH];
	struct zc_completion c[DEPTH];
	unsigned got = 0;

	(void)arg;
	setenv("ZC_FAULT", "core:clone:EINVAL", 1);
	fx_open(&x, 0, ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED), g_v.direct, DEPTH);
	memset(x.mem, 0, MEM_LEN);
	for (unsigned i = 0; i < DEPTH; i++) {
		ops[i] = (struct op){ .reg_off = (size_t)i * SLOT, .file_off = (uint64_t)i * 4096,
				      .len = 4096, .expect = 4096, .ud = i };
		ck_assert_int_eq(zc_prep_read(x.q, x.r, ops[i].reg_off, ops[i].file_off, 4096, i), 0);
	}
	ck_assert_int_eq(zc_submit(x.q), DEPTH);
	while (got < DEPTH) {
		int k = zc_reap(x.q, c, DEPTH, 1, -1);

		ck_assert_int_ge(k, 1);
		for (int i = 0; i < k; i++) {
			ck_assert_int_eq(c[i].res, 4096);
			ck_assert_msg(!(c[i].flags & ZC_CQE_F_FALLBACK),
				      "op %llu left the fixed buffer (flags 0x%x): the re-registered "
				      "slot is missing on the queue's ring",
				      (unsigned long long)c[i].user_data, c[i].flags);
			ck_assert_int_eq(zt_verify(x.mem + c[i].user_data * SLOT, 4096, F_SEED,
						   c[i].user_data * 4096), -1);
		}
		got += (unsigned)k;
	}
	fx_close(&x);
	return 0;
}

START_TEST(test_queue_without_clone_buffers_reregisters_slots)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_no_clone_queue, NULL));
}
END_TEST

START_TEST(test_queue_reap_max_caps_the_count)
{
	struct fx x;
	struct op ops[8];
	struct zc_completion c[8];
	int k;

	fx_open(&x, 0, ZC_BACKEND_BIT(g_v.backend), g_v.direct, DEPTH);
	for (unsigned i = 0; i < 8; i++) {
		memset(&ops[i], 0, sizeof ops[i]);
		ops[i].reg_off = i * SLOT;
		ops[i].file_off = i * 100000 + 3;
		ops[i].len = 5000;
		ops[i].expect = 5000;
		ops[i].ud = 500 + i;
		ck_assert_int_eq(zc_prep_read(x.q, x.r, ops[i].reg_off, ops[i].file_off,
					      ops[i].len, ops[i].ud),
				 0);
	}
	ck_assert_int_eq(zc_submit(x.q), 8);
	k = zc_reap(x.q, c, 3, 3, -1);
	ck_assert_int_eq(k, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_ge(c[i].user_data, 500);
		ck_assert_uint_lt(c[i].user_data, 508);
		ops[c[i].user_data - 500].seen = 1;
		ck_assert_int_eq(c[i].res, 5000);
	}
	/* the other five */
	{
		struct op rest[5];
		unsigned n = 0;
		for (unsigned i = 0; i < 8; i++)
			if (!ops[i].seen)
				rest[n++] = ops[i];
		ck_assert_uint_eq(n, 5);
		reap_all(&x, rest, 5, 0);
	}
	for (unsigned i = 0; i < 8; i++)
		ck_assert_int_eq(zt_verify(x.mem + ops[i].reg_off, 5000, F_SEED, ops[i].file_off),
				 -1);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_reap_with_unmet_min_returns_what_is_ready_at_timeout)
{
	struct fx x;
	struct zc_completion c[4];
	int k, total = 0;

	fx_open(&x, 0, ZC_BACKEND_BIT(g_v.backend), g_v.direct, DEPTH);
	ck_assert_int_eq(zc_prep_read(x.q, x.r, 0, 0, 4096, 77), 0);
	ck_assert_int_eq(zc_submit(x.q), 1);
	/* min 2 can never be met: returns the count ready when the timeout
	 * passes (0 or 1), never 2, never an error */
	k = zc_reap(x.q, c, 4, 2, 50);
	ck_assert_msg(k == 0 || k == 1, "zc_reap(min 2, 50 ms) with one op = %d", k);
	total += k;
	while (total < 1) {
		k = zc_reap(x.q, c, 4, 1, -1);
		ck_assert_int_ge(k, 0);
		total += k;
	}
	ck_assert_int_eq(total, 1);
	ck_assert_uint_eq(c[0].user_data, 77);
	ck_assert_int_eq(c[0].res, 4096);
	ck_assert_int_eq(zt_verify(x.mem, 4096, F_SEED, 0), -1);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* no_uring                                                             */

START_TEST(test_queue_no_uring_ctx_completes_inline_with_correct_data)
{
	struct fx x;
	struct zc_backend_info bi;

	fx_open(&x, ZC_CTX_NO_URING, 0, 0, DEPTH);
	ck_assert_int_eq(zc_ctx_query(x.ctx, ZC_BACKEND_URING_FIXED, &bi), 0);
	ck_assert_int_eq(bi.available, 0);
	ck_assert_int_eq(zc_reg_backend(x.r), ZC_BACKEND_BOUNCE);
	random_reads(&x, 2, ZC_CQE_F_INLINE);
	random_writes(&x, 2, ZC_CQE_F_INLINE);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* args                                                                 */

static struct zc_queue *const SENTINEL_Q = (struct zc_queue *)(uintptr_t)0x1d1d1d1d;

START_TEST(test_queue_create_invalid_arguments_are_einval)
{
	struct zc_ctx *ctx;
	struct zc_queue *q = SENTINEL_Q;
	int fds;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	fds = zt_fd_count();
	ck_assert_int_eq(zc_queue_create(NULL, 4, 0, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(ctx, 4, 1, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(ctx, 4, 1u << 31, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(ctx, 4097, 0, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(ctx, UINT_MAX, 0, &q), -EINVAL);
	ck_assert_int_eq(zc_queue_create(ctx, 4, 0, NULL), -EINVAL);
	ck_assert_ptr_eq(q, SENTINEL_Q);
	ck_assert_int_eq(zt_fd_count(), fds);
	ck_assert_int_eq(zc_queue_create(ctx, 4096, 0, &q), 0);
	zc_queue_destroy(q);
	zc_queue_destroy(NULL); /* no-op */
	ck_assert_int_eq(zt_fd_count(), fds);
	zc_ctx_destroy(ctx);
}
END_TEST

/* prepare reads until -EBUSY; returns how many were accepted */
static unsigned fill_queue(struct fx *x, unsigned limit)
{
	unsigned n = 0;
	int rc;

	while (n <= limit) {
		rc = zc_prep_read(x->q, x->r, (n % 64) * 1024, n * 4096, 1024, 1000 + n);
		if (rc == -EBUSY)
			break;
		ck_assert_msg(rc == 0, "zc_prep_read #%u: %d", n, rc);
		n++;
	}
	return n;
}

static void drain(struct fx *x, unsigned n)
{
	struct zc_completion c[64];
	unsigned got = 0;

	while (got < n) {
		int k = zc_reap(x->q, c, ZT_ARRAY_SIZE(c), 1, -1);
		ck_assert_int_ge(k, 1);
		for (int i = 0; i < k; i++)
			ck_assert_int_eq(c[i].res, 1024);
		got += (unsigned)k;
	}
	ck_assert_uint_eq(got, n);
}

START_TEST(test_queue_more_than_depth_pending_is_ebusy)
{
	struct fx x;

	fx_open(&x, 0, 0, 0, 4);
	ck_assert_uint_eq(fill_queue(&x, 100), 4);
	ck_assert_int_eq(zc_submit(x.q), 4);
	/* submitted but not reaped: still pending */
	ck_assert_int_eq(zc_prep_read(x.q, x.r, 0, 0, 10, 1), -EBUSY);
	ck_assert_int_eq(zc_prep_write(x.q, x.r, 0, 0, 10, 1), -EBUSY);
	drain(&x, 4);
	ck_assert_uint_eq(fill_queue(&x, 100), 4);
	ck_assert_int_eq(zc_submit(x.q), 4);
	drain(&x, 4);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_depth_0_takes_context_queue_depth)
{
	struct fx x;
	struct zc_ctx_params p;
	struct zc_ctx *ctx8;
	struct zc_queue *q8;

	/* default context: 64 */
	fx_open(&x, 0, 0, 0, 0);
	ck_assert_uint_eq(fill_queue(&x, 1000), 64);
	ck_assert_int_eq(zc_submit(x.q), 64);
	drain(&x, 64);

	/* a context with queue_depth 8 */
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_QUEUE_DEPTH;
	p.queue_depth = 8;
	ck_assert_int_eq(zc_ctx_create(&p, &ctx8), 0);
	ck_assert_int_eq(zc_queue_create(ctx8, 0, 0, &q8), 0);
	{
		struct zc_file *f8;
		struct zc_reg *r8;
		unsigned n = 0;
		ck_assert_int_eq(zc_file_open(ctx8, x.fd, 0, &f8), 0);
		ck_assert_int_eq(zt_reg_mem(f8, x.mem, MEM_LEN, 0, 0, 0, &r8), 0);
		while (zc_prep_read(q8, r8, 0, 0, 100, n) == 0 && n < 100)
			n++;
		ck_assert_uint_eq(n, 8);
		ck_assert_int_eq(zc_submit(q8), 8);
		while (n > 0) {
			struct zc_completion c[8];
			int k = zc_reap(q8, c, 8, 1, -1);
			ck_assert_int_ge(k, 1);
			n -= (unsigned)k;
		}
		ck_assert_int_eq(zc_reg_destroy(r8), 0);
		zc_file_close(f8);
	}
	zc_queue_destroy(q8);
	zc_ctx_destroy(ctx8);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_registration_of_another_context_is_exdev)
{
	struct fx x, y;

	fx_open(&x, 0, 0, 0, 4);
	fx_open(&y, 0, 0, 0, 4);
	ck_assert_int_eq(zc_prep_read(x.q, y.r, 0, 0, 100, 1), -EXDEV);
	ck_assert_int_eq(zc_prep_write(x.q, y.r, 0, 0, 100, 1), -EXDEV);
	/* nothing was queued: the other registration can be destroyed */
	ck_assert_int_eq(zc_submit(x.q), 0);
	fx_close(&y);
	ck_assert_uint_eq(fill_queue(&x, 100), 4);
	ck_assert_int_eq(zc_submit(x.q), 4);
	drain(&x, 4);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_prep_argument_errors_match_sync_io)
{
	struct fx x;
	struct zc_reg *rw, *ro;
	int fds;

	fx_open(&x, 0, 0, 0, 4);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, 4096, ZC_ACCESS_WRITE, 0, 0, &rw), 0);
	ck_assert_int_eq(zt_reg_mem(x.f, x.mem, 4096, ZC_ACCESS_READ, 0, 0, &ro), 0);
	fds = zt_fd_count();
	ck_assert_int_eq(zc_prep_read(NULL, x.r, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(x.q, NULL, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_write(NULL, x.r, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_write(x.q, NULL, 0, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(x.q, x.r, MEM_LEN, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_write(x.q, x.r, 1, 0, MEM_LEN, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(x.q, x.r, SIZE_MAX, 0, 2, 0), -EINVAL);
	ck_assert_int_eq(zc_prep_read(x.q, x.r, 0, INT64_MAX, 1, 0), -EOVERFLOW);
	ck_assert_int_eq(zc_prep_write(x.q, x.r, 0, UINT64_MAX - 5, 10, 0), -EOVERFLOW);
	ck_assert_int_eq(zc_prep_read(x.q, rw, 0, 0, 100, 0), -EACCES);
	ck_assert_int_eq(zc_prep_write(x.q, ro, 0, 0, 100, 0), -EACCES);
	ck_assert_int_eq(zt_fd_count(), fds);
	/* none of them took a slot or holds a registration */
	ck_assert_int_eq(zc_reg_destroy(rw), 0);
	ck_assert_int_eq(zc_reg_destroy(ro), 0);
	ck_assert_uint_eq(fill_queue(&x, 100), 4);
	ck_assert_int_eq(zc_submit(x.q), 4);
	drain(&x, 4);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_submit_and_reap_arguments)
{
	struct fx x;
	struct zc_completion c[4];

	fx_open(&x, 0, 0, 0, 4);
	ck_assert_int_eq(zc_submit(NULL), -EINVAL);
	ck_assert_int_eq(zc_submit(x.q), 0); /* nothing prepared */
	ck_assert_int_eq(zc_reap(NULL, c, 4, 1, 0), -EINVAL);
	ck_assert_int_eq(zc_reap(x.q, c, 2, 3, 0), -EINVAL); /* min > max */
	/* nothing pending: polls and timeouts return 0 */
	ck_assert_int_eq(zc_reap(x.q, c, 4, 0, 0), 0);
	ck_assert_int_eq(zc_reap(x.q, c, 4, 1, 0), 0);
	ck_assert_int_eq(zc_reap(x.q, c, 4, 1, 20), 0);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_destroy_with_ops_in_flight_leaks_nothing)
{
	struct fx x;
	int fds, maps;

	fx_open(&x, 0, 0, 0, DEPTH);
	/* warm-up */
	ck_assert_uint_eq(fill_queue(&x, 100), DEPTH);
	ck_assert_int_eq(zc_submit(x.q), DEPTH);
	drain(&x, DEPTH);
	zc_queue_destroy(x.q);
	x.q = NULL;
	fds = zt_fd_count();
	maps = zt_map_count();

	for (int i = 0; i < 20; i++) {
		struct zc_queue *q;
		ck_assert_int_eq(zc_queue_create(x.ctx, DEPTH, 0, &q), 0);
		for (unsigned k = 0; k < DEPTH; k++) {
			ck_assert_int_eq(zc_prep_read(q, x.r, k * SLOT, (uint64_t)k * 100000, 65536,
						      k),
					 0);
			if (k == DEPTH / 2)
				ck_assert_int_eq(zc_submit(q), DEPTH / 2 + 1);
		}
		/* half submitted, half only prepared */
		zc_queue_destroy(q);
		/* nothing is in flight on the registration any more */
		ck_assert_int_eq(zc_reg_destroy(x.r), 0);
		ck_assert_int_eq(zt_reg_mem(x.f, x.mem, MEM_LEN, 0, 0, 0, &x.r), 0);
	}
	ck_assert_int_eq(zt_fd_count(), fds);
	ZT_CK_MAPS_EQ(zt_map_count(), maps);
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_ctx_destroy_with_open_queue_is_refused)
{
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_queue *q;
	struct zc_completion c;

	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
	ck_assert_int_eq(zc_queue_create(ctx, 4, 0, &q), 0);
	zc_ctx_destroy(ctx); /* refused */
	ck_assert_msg(log.count[ZC_LOG_ERROR] >= 1, "no error logged:\n%s", log.text);
	ck_assert_int_eq(zc_reap(q, &c, 1, 0, 0), 0); /* the queue still works */
	zc_queue_destroy(q);
	zc_ctx_destroy(ctx);
}
END_TEST

static int child_env_bounce_queue(void *arg)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c[16];
	uint8_t *mem = zt_map_anon(16 * 8192);
	int fd = open(g_path, O_RDWR | O_CLOEXEC), got = 0;

	(void)arg;
	setenv("ZC_BACKENDS", "bounce", 1);
	ZT_CREQ(fd >= 0 && mem);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zt_reg_mem(f, mem, 16 * 8192, 0, 0, 0, &r) == 0);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_BOUNCE);
	ZT_CREQ(zc_queue_create(ctx, 16, 0, &q) == 0);
	for (unsigned i = 0; i < 16; i++)
		ZT_CREQ(zc_prep_read(q, r, i * 8192, i * 77777 + 1, 8000, i) == 0);
	ZT_CREQ(zc_submit(q) == 16);
	while (got < 16) {
		int k = zc_reap(q, c, 16, 1, -1);
		ZT_CREQ_MSG(k >= 1, "zc_reap %d", k);
		for (int i = 0; i < k; i++) {
			ZT_CREQ(c[i].user_data < 16);
			ZT_CREQ(c[i].res == 8000);
			ZT_CREQ(c[i].backend == ZC_BACKEND_BOUNCE);
		}
		got += k;
	}
	for (unsigned i = 0; i < 16; i++)
		ZT_CREQ_MSG(zt_verify(mem + i * 8192, 8000, F_SEED, i * 77777 + 1) == -1,
			    "op %u data", i);
	zc_queue_destroy(q);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	return 0;
}

START_TEST(test_queue_env_forced_bounce_reads_correctly)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_env_bounce_queue, NULL));
}
END_TEST

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";
	Suite *s = suite_create("queue");
	TCase *tc;
	int fd;

	zt_init();
	if (strcmp(v, "args") == 0 || strcmp(v, "no_uring") == 0) {
		g_dir = zt_any_dir();
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
		tcase_add_test(tc, test_queue_create_invalid_arguments_are_einval);
		tcase_add_test(tc, test_queue_more_than_depth_pending_is_ebusy);
		tcase_add_test(tc, test_queue_depth_0_takes_context_queue_depth);
		tcase_add_test(tc, test_queue_registration_of_another_context_is_exdev);
		tcase_add_test(tc, test_queue_prep_argument_errors_match_sync_io);
		tcase_add_test(tc, test_queue_submit_and_reap_arguments);
		tcase_add_test(tc, test_queue_destroy_with_ops_in_flight_leaks_nothing);
		tcase_add_test(tc, test_queue_ctx_destroy_with_open_queue_is_refused);
		tcase_add_test(tc, test_queue_env_forced_bounce_reads_correctly);
	} else if (strcmp(v, "no_uring") == 0) {
		tcase_add_test(tc, test_queue_no_uring_ctx_completes_inline_with_correct_data);
	} else {
		tcase_add_test(tc, test_queue_depth32_random_reads_match_pread);
		tcase_add_test(tc, test_queue_depth32_random_writes_match_model);
		tcase_add_test(tc, test_queue_reap_max_caps_the_count);
		tcase_add_test(tc, test_queue_reap_with_unmet_min_returns_what_is_ready_at_timeout);
		if (g_v.backend == ZC_BACKEND_URING_FIXED)
			tcase_add_test(tc, test_queue_without_clone_buffers_reregisters_slots);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
