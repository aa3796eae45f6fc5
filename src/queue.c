/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous queues. With io_uring each queue owns a ring that shares the
 * context's fixed buffers and files; the registration's backend puts the
 * op on it. Without io_uring, or for an op the ring cannot take as it is
 * (O_DIRECT edges that need staging), the op runs synchronously inside
 * zc_submit and completes with ZC_CQE_F_INLINE.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ZC_MAX_QUEUE_DEPTH 4096u

enum op_state { OP_FREE, OP_INLINE, OP_RING, OP_DONE };

struct zc_op {
	enum op_state state;
	struct zc_reg *r;
	uint32_t flags;
	uint64_t user_data;
	struct zc_io io;
	int64_t res;          /* OP_DONE: result of an inline run */
	int prep_error;       /* OP_INLINE: complete with this instead */
	unsigned next_inline; /* index + 1 of the next inline op, 0 = end */
};

struct zc_queue {
	struct zc_ctx *ctx;
	struct zc_ring *ring; /* NULL: every op runs inline */
	unsigned depth;
	unsigned nr_free, *free_ops;
	unsigned ring_prepped;   /* on the ring, not yet submitted */
	unsigned ring_inflight;  /* submitted, not yet reaped */
	unsigned inline_head, inline_tail; /* waiting for zc_submit */
	unsigned done_head, done_count;    /* inline ops run, not yet reaped */
	unsigned *done;
	struct zc_op ops[];
};

struct zc_ring *zc_queue_ring(struct zc_queue *q)
{
	return q->ring;
}

ZC_API int zc_queue_create(struct zc_ctx *ctx, unsigned depth, unsigned flags,
			   struct zc_queue **out)
{
	struct zc_queue *q;

	if (!ctx || !out || flags || depth > ZC_MAX_QUEUE_DEPTH) {
		if (ctx)
			zc_err(ctx, "zc_queue_create: %s", !out ? "out is NULL" :
			       flags ? "flags must be 0" : "depth above 4096");
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(ctx, "zc_queue_create");
	if (!depth)
		depth = ctx->queue_depth;
	q = calloc(1, sizeof(*q) + depth * sizeof(q->ops[0]));
	if (!q)
		return -ENOMEM;
	q->free_ops = calloc(depth, sizeof(*q->free_ops));
	q->done = calloc(depth, sizeof(*q->done));
	if (!q->free_ops || !q->done) {
		free(q->free_ops);
		free(q->done);
		free(q);
		return -ENOMEM;
	}
	q->ctx = ctx;
	q->depth = depth;
	for (unsigned i = 0; i < depth; i++)
		q->free_ops[i] = depth - 1 - i;
	q->nr_free = depth;
	if (ctx->rings) {
		q->ring = zc_ring_new(ctx, depth);
		if (!q->ring)
			zc_warn(ctx, "zc_queue_create: no io_uring ring; "
				"operations will complete inline");
	}
	atomic_fetch_add(&ctx->nr_queues, 1);
	*out = q;
	return 0;
}

static void op_release(struct zc_queue *q, struct zc_op *op)
{
	zc_reg_exit(&op->r->queued);
	op->state = OP_FREE;
	q->free_ops[q->nr_free++] = (unsigned)(op - q->ops);
}

static int prep(struct zc_queue *q, const char *fn, enum zc_dir dir,
		struct zc_reg *r, size_t reg_off, uint64_t file_off, size_t len,
		uint64_t user_data)
{
	struct zc_op *op;
	unsigned idx;
	int ret;

	if (!q || !r) {
		if (q)
			zc_err(q->ctx, "%s: registration is NULL", fn);
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(q->ctx, fn);
	if (r->ctx != q->ctx) {
		zc_err(q->ctx, "%s: registration belongs to another context", fn);
		return -EXDEV;
	}
	ret = zc_check_io(r, fn, dir, reg_off, file_off, len);
	if (ret)
		return ret;
	if (!q->nr_free) {
		zc_dbg(q->ctx, "%s: queue full (%u operations pending)", fn, q->depth);
		return -EBUSY;
	}
	ret = zc_reg_enter(r, &r->queued);
	if (ret)
		return ret;
	idx = q->free_ops[--q->nr_free];
	op = &q->ops[idx];
	*op = (struct zc_op){
		.r = r, .user_data = user_data,
		.flags = r->fallback ? ZC_CQE_F_FALLBACK : 0,
		.io = { .dir = dir, .buf = (char *)r->addr + reg_off,
			.file_off = file_off, .len = len, .reg_off = reg_off },
	};
	ret = -EAGAIN;
	if (q->ring && len && len <= UINT32_MAX &&
	    (!zc_file_direct(r->file) || zc_direct_aligned(r->file, op->io.buf,
							  file_off, len)))
		ret = r->ops->prep(q, r, &op->io, idx);
	if (ret >= 0) {
		op->state = OP_RING;
		if (ret == ZC_PREP_FALLBACK)
			op->flags |= ZC_CQE_F_FALLBACK;
		q->ring_prepped++;
		return 0;
	}
	/* runs inside zc_submit, in the order prepared; a backend's refusal
	 * (an injected fault) becomes that op's result, as a ring error would */
	op->state = OP_INLINE;
	op->prep_error = ret == -EAGAIN ? 0 : ret;
	op->flags |= ZC_CQE_F_INLINE;
	if (q->inline_tail)
		q->ops[q->inline_tail - 1].next_inline = idx + 1;
	else
		q->inline_head = idx + 1;
	q->inline_tail = idx + 1;
	return 0;
}

ZC_API int zc_prep_read(struct zc_queue *q, struct zc_reg *r, size_t reg_off,
			uint64_t file_off, size_t len, uint64_t user_data)
{
	return prep(q, "zc_prep_read", ZC_DIR_READ, r, reg_off, file_off, len,
		    user_data);
}

ZC_API int zc_prep_write(struct zc_queue *q, struct zc_reg *r, size_t reg_off,
			 uint64_t file_off, size_t len, uint64_t user_data)
{
	return prep(q, "zc_prep_write", ZC_DIR_WRITE, r, reg_off, file_off, len,
		    user_data);
}

static void complete(struct zc_queue *q, struct zc_op *op, int64_t res,
		     struct zc_completion *out)
{
	struct zc_ctx *ctx = q->ctx;

	if (out)
		*out = (struct zc_completion){
			.user_data = op->user_data, .res = res,
			.backend = zc_reg_backend(op->r), .flags = op->flags,
		};
	if (op->state == OP_RING) {
		zc_count(&ctx->stats.backend[op->r->backend].ops, 1);
		if (res > 0)
			zc_count(&ctx->stats.backend[op->r->backend].bytes,
				 (uint64_t)res);
	}
	op_release(q, op);
}

static unsigned run_inline(struct zc_queue *q)
{
	unsigned n = 0;

	while (q->inline_head) {
		struct zc_op *op = &q->ops[q->inline_head - 1];
		unsigned slot = (q->done_head + q->done_count) % q->depth;
		ssize_t res = op->prep_error ? op->prep_error :
			      zc_reg_enter(op->r, &op->r->inflight);

		if (!res) {
			if (op->io.len)
				res = zc_reg_rw(op->r, op->io.dir, op->io.reg_off,
						op->io.file_off, op->io.len);
			zc_reg_exit(&op->r->inflight);
		}

		q->inline_head = op->next_inline;
		/* the op stays in flight (zc_reg_destroy says EBUSY) until reaped */
		op->res = res;
		op->state = OP_DONE;
		q->done[slot] = (unsigned)(op - q->ops);
		q->done_count++;
		n++;
	}
	q->inline_tail = 0;
	return n;
}

ZC_API int zc_submit(struct zc_queue *q)
{
	unsigned n;
	int ret;

	if (!q)
		return -EINVAL;
	ZC_REFUSE_IN_CHILD(q->ctx, "zc_submit");
	n = run_inline(q);
	if (!q->ring_prepped)
		return (int)n;
	ret = zc_ring_submit(q->ring);
	if (ret < 0)
		return n ? (int)n : ret;
	q->ring_prepped -= (unsigned)ret;
	q->ring_inflight += (unsigned)ret;
	return (int)n + ret;
}

struct reap_state {
	struct zc_queue *q;
	struct zc_completion *out;
	unsigned n;
};

static void reap_one(void *arg, uint64_t cookie, int res)
{
	struct reap_state *st = arg;
	struct zc_queue *q = st->q;

	q->ring_inflight--;
	complete(q, &q->ops[cookie], res, st->out ? &st->out[st->n] : NULL);
	st->n++;
}

ZC_API int zc_reap(struct zc_queue *q, struct zc_completion *out, unsigned max,
		   unsigned min, int timeout_ms)
{
	struct reap_state st = { .q = q, .out = out };
	struct timespec deadline;
	int ret;

	if (!q || (!out && max) || min > max) {
		if (q)
			zc_err(q->ctx, "zc_reap: %s", min > max ? "min > max" :
			       "out is NULL");
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(q->ctx, "zc_reap");
	while (st.n < max && q->done_count) {
		struct zc_op *op = &q->ops[q->done[q->done_head]];

		complete(q, op, op->res, &out[st.n++]);
		q->done_head = (q->done_head + 1) % q->depth;
		q->done_count--;
	}
	if (st.n == max || !q->ring || !q->ring_inflight)
		return (int)st.n;
	ret = zc_ring_reap(q->ring, max - st.n,
			   st.n >= min ? 0 : ZC_MIN(min - st.n, q->ring_inflight),
			   zc_deadline(timeout_ms, &deadline), reap_one, &st);
	if (ret < 0 && !st.n)
		return ret;
	return (int)st.n;
}

ZC_API void zc_queue_destroy(struct zc_queue *q)
{
	if (!q || zc_forked(q->ctx))
		return;
	/* ops waiting for zc_submit never started: just let them go */
	while (q->inline_head) {
		struct zc_op *op = &q->ops[q->inline_head - 1];

		q->inline_head = op->next_inline;
		op_release(q, op);
	}
	while (q->done_count) {
		op_release(q, &q->ops[q->done[q->done_head]]);
		q->done_head = (q->done_head + 1) % q->depth;
		q->done_count--;
	}
	if (q->ring_prepped)
		zc_submit(q);
	/* the kernel may still write into caller memory: wait for it */
	while (q->ring_inflight) {
		struct reap_state st = { .q = q, .out = NULL };

		if (zc_ring_reap(q->ring, q->ring_inflight, 1, NULL, reap_one, &st) < 0)
			break;
	}
	if (q->ring)
		zc_ring_free(q->ctx, q->ring);
	atomic_fetch_sub(&q->ctx->nr_queues, 1);
	free(q->free_ops);
	free(q->done);
	free(q);
}
