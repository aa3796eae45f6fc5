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
#include "sys/uring.h"

/* times an op io_uring cancelled goes to the ring again before its
 * -ECANCELED is passed on (see resubmit) */
#define ZC_MAX_RESUBMITS 8u

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
	unsigned resubmits;   /* OP_RING: times it went to the ring again */
};

struct zc_queue {
	struct zc_ctx *ctx;
	struct zc_ring *ring; /* NULL: every op runs inline */
	unsigned depth;
	unsigned nr_free, *free_ops;
	/* ops whose SQE the kernel has not taken yet, in the order of their
	 * SQEs: the caller's new ones and resubmissions, which zc_reap may
	 * hand over together */
	unsigned *sq, sq_head, sq_count;
	unsigned sq_resubmits;   /* how many of them are resubmissions */
	unsigned started;        /* caller's ops taken outside zc_submit, for
				    its count */
	unsigned ring_inflight;  /* taken by the kernel, not yet reaped */
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
	q->sq = calloc(depth, sizeof(*q->sq));
	if (!q->free_ops || !q->done || !q->sq) {
		free(q->free_ops);
		free(q->done);
		free(q->sq);
		free(q);
		return -ENOMEM;
	}
	q->ctx = ctx;
	q->depth = depth;
	for (unsigned i = 0; i < depth; i++)
		q->free_ops[i] = depth - 1 - i;
	q->nr_free = depth;
	if (ctx->rings) {
		bool no_table = false;

		q->ring = zc_ring_new(ctx->rings, depth, &no_table);
		if (no_table)
			zc_dbg(ctx, "io_uring: no buffer table on a new ring");
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

/* Put op on the ring through its registration's backend, behind the SQEs
 * already there: 0, or the backend's -errno (-EAGAIN: run it inline). */
static int ring_prep(struct zc_queue *q, struct zc_op *op)
{
	const unsigned idx = (unsigned)(op - q->ops);
	int ret = op->r->ops->prep(q, op->r, &op->io, idx);

	if (ret < 0)
		return ret;
	if (ret == ZC_PREP_FALLBACK)
		op->flags |= ZC_CQE_F_FALLBACK;
	op->state = OP_RING;
	q->sq[(q->sq_head + q->sq_count++) % q->depth] = idx;
	if (op->resubmits)
		q->sq_resubmits++;
	return 0;
}

/* the op of the oldest SQE the kernel has not taken */
static struct zc_op *sq_pop(struct zc_queue *q)
{
	struct zc_op *op = &q->ops[q->sq[q->sq_head]];

	q->sq_head = (q->sq_head + 1) % q->depth;
	q->sq_count--;
	if (op->resubmits)
		q->sq_resubmits--;
	return op;
}

/* Hand the ring's SQEs to the kernel, resubmissions with signals held.
 * It takes them in order; the caller's ops among them are counted for
 * zc_submit to report. Returns how many it took, or -errno. */
static int ring_flush(struct zc_queue *q)
{
	int ret = zc_ring_submit(q->ring, q->sq_resubmits > 0);

	for (int i = 0; i < ret && q->sq_count; i++)
		if (!sq_pop(q)->resubmits)
			q->started++;
	if (ret > 0)
		q->ring_inflight += (unsigned)ret;
	return ret;
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
	    (!zc_file_direct(r->file) || zc_reg_direct_aligned(r, op->io.buf,
							      file_off, len)))
		ret = ring_prep(q, op);
	if (!ret)
		return 0;
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
	int ret = 0;

	if (!q)
		return -EINVAL;
	ZC_REFUSE_IN_CHILD(q->ctx, "zc_submit");
	n = run_inline(q);
	if (q->sq_count)
		ret = ring_flush(q);
	n += q->started;
	q->started = 0;
	return ret < 0 && !n ? ret : (int)n;
}

/*
 * io_uring cancels an op it cannot start an io-wq worker for while a
 * signal is pending (see zc_ring_submit). The library never cancels an op
 * itself, so such a -ECANCELED is no answer to the caller's request: put
 * the op on the ring again, to be submitted with signals held, up to
 * ZC_MAX_RESUBMITS times. true if it is back on the ring.
 */
static bool resubmit(struct zc_queue *q, struct zc_op *op)
{
	struct zc_reg *r = op->r;
	int ret;

	if (op->resubmits == ZC_MAX_RESUBMITS)
		return false;
	/* as a synchronous call does: a lease break that is moving r to
	 * another backend finishes first, and a revoked r takes no I/O */
	if (zc_reg_enter(r, &r->inflight))
		return false;
	op->resubmits++;
	ret = ring_prep(q, op);
	zc_reg_exit(&r->inflight);
	return ret == 0;
}

struct reap_state {
	struct zc_queue *q;
	struct zc_completion *out;
	unsigned n;
	bool may_resubmit;
	unsigned resubmitted;
};

static bool reap_one(void *arg, uint64_t cookie, int res)
{
	struct reap_state *st = arg;
	struct zc_queue *q = st->q;
	struct zc_op *op = &q->ops[cookie];
	const int injected = zc_fault_hit(q->ctx->faults, ZC_BACKEND_NONE, "complete");

	q->ring_inflight--;
	if (injected)
		res = injected; /* as if the kernel had said so */
	if (res == -ECANCELED && st->may_resubmit && resubmit(q, op)) {
		st->resubmitted++;
		return false;
	}
	complete(q, op, res, st->out ? &st->out[st->n] : NULL);
	st->n++;
	return true;
}

/* Completions from the ring until min are in out or the deadline passes;
 * resubmitted ops are waited for again while time is left. */
static int reap_ring(struct zc_queue *q, struct reap_state *st, unsigned max,
		     unsigned min, const struct timespec *deadline)
{
	bool again = true;
	int ret = 0;

	while (again) {
		unsigned want, before = st->resubmitted;

		if (q->sq_resubmits) {
			ret = ring_flush(q);
			if (ret < 0)
				break;
		}
		if (st->n == max || !q->ring_inflight)
			break;
		want = st->n >= min ? 0 : ZC_MIN(min - st->n, q->ring_inflight);
		ret = zc_ring_reap(q->ring, max - st->n, want, deadline, reap_one, st);
		if (ret < 0)
			break;
		again = st->resubmitted != before && want &&
			(!deadline || zc_ns_left(deadline));
	}
	/* the last round's resubmissions go now, not at the next call */
	if (q->sq_resubmits && ret >= 0)
		ret = ring_flush(q);
	if (st->resubmitted)
		zc_dbg(q->ctx, "zc_reap: io_uring cancelled %u operations it could "
		       "not start a worker thread for (a signal was pending); "
		       "submitted them again", st->resubmitted);
	return ret < 0 ? ret : 0;
}

ZC_API int zc_reap(struct zc_queue *q, struct zc_completion *out, unsigned max,
		   unsigned min, int timeout_ms)
{
	struct reap_state st = { .q = q, .out = out, .may_resubmit = true };
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
	if (st.n == max || !q->ring || (!q->ring_inflight && !q->sq_resubmits))
		return (int)st.n;
	ret = reap_ring(q, &st, max, min, zc_deadline(timeout_ms, &deadline));
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
	if (q->sq_count)
		ring_flush(q);
	/* the kernel may still write into caller memory: wait for it */
	while (q->ring_inflight) {
		struct reap_state st = { .q = q, .out = NULL };

		if (zc_ring_reap(q->ring, q->ring_inflight, 1, NULL, reap_one, &st) < 0)
			break;
	}
	/* SQEs the kernel did not take: those ops never started */
	while (q->sq_count)
		op_release(q, sq_pop(q));
	if (q->ring)
		zc_ring_free(q->ctx->rings, q->ring);
	atomic_fetch_sub(&q->ctx->nr_queues, 1);
	free(q->free_ops);
	free(q->done);
	free(q->sq);
	free(q);
}
