/* SPDX-License-Identifier: MIT */
/*
 * Backend selection for one registration: every allowed backend scores the
 * request or declines with a reason; candidates are tried in the
 * registry's order of preference (src/backends/registry.c); every refusal
 * and every try is recorded as an attempt.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void record(struct zc_reg *r, enum zc_backend b, int error,
		   const char *reason)
{
	struct zc_attempt *a;

	if (r->nr_attempts == ZC_MAX_ATTEMPTS)
		return;
	a = &r->attempts[r->nr_attempts++];
	a->backend = b;
	a->error = error;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	if (error)
		zc_dbg(r->ctx, "attempt %s: %s (%s)", zc_backend_name(b), reason,
		       strerror(-error));
	else
		zc_dbg(r->ctx, "attempt %s: %s", zc_backend_name(b), reason);
}

#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

/* Remote access is never lost: a backend that cannot give the
 * registration a memory region refuses a request a peer must reach. */
static void refuse_remote(struct zc_reg *r, uint64_t no_mr)
{
	const unsigned access = r->req.access;
	char reason[ZC_REASON_LEN];
	const struct zc_backend_ops *ops;

	for (unsigned k = 0; (ops = zc_registry_at(k)); k++) {
		if (!(no_mr & ZC_BACKEND_BIT(ops->id)))
			continue;
		snprintf(reason, sizeof(reason), "%s makes no RDMA memory region, "
			 "and ZC_ACCESS_REMOTE_%s asks for one", ops->name,
			 (access & ZC_REMOTE) == ZC_REMOTE ? "READ|WRITE" :
			 access & ZC_ACCESS_REMOTE_READ ? "READ" : "WRITE");
		record(r, ops->id, -EOPNOTSUPP, reason);
	}
}

struct candidate {
	enum zc_backend b;
	int score;
};

/* Score every allowed backend; refusals are recorded in registry order,
 * except those of backends that only lack an MR for a REMOTE request
 * (*no_mr): they are recorded only if no backend serves it, since they
 * are worse than any that can, not a fallback from it. */
static unsigned score_all(struct zc_reg *r, uint64_t allowed,
			  struct candidate *c, int *last_refusal,
			  uint64_t *no_mr)
{
	struct zc_ctx *ctx = r->ctx;
	char reason[ZC_REASON_LEN];
	const struct zc_backend_ops *ops;
	unsigned n = 0;

	/* backends absent from the build are zc_ctx_query's business */
	for (unsigned k = 0; (ops = zc_registry_at(k)); k++) {
		const enum zc_backend b = ops->id;
		const struct zc_backend_state *st = &ctx->be[b];
		int score;

		if (!(allowed & ZC_BACKEND_BIT(b)))
			continue;
		if (ops->serves_access && !(r->req.access & ops->serves_access))
			continue;
		if (ops->serves_mem && !(ops->serves_mem & (1u << r->req.mem_type)))
			continue;
		if (!st->available) {
			record(r, b, -EOPNOTSUPP, st->reason);
			*last_refusal = -EOPNOTSUPP;
			continue;
		}
		reason[0] = '\0';
		score = st->ops->score(ctx, &r->req, reason, sizeof(reason));
		if (score == ZC_SCORE_NOT_APPLICABLE)
			continue;
		if (score >= 0 && (r->req.access & ZC_REMOTE) && !st->ops->rdma_keys) {
			*no_mr |= ZC_BACKEND_BIT(b);
			*last_refusal = -EOPNOTSUPP;
			continue;
		}
		if (score < 0) {
			record(r, b, score, reason);
			*last_refusal = score;
			continue;
		}
		/* insertion sort, stable: equal scores keep registry order */
		unsigned i = n++;
		for (; i > 0 && c[i - 1].score < score; i--)
			c[i] = c[i - 1];
		c[i] = (struct candidate){ b, score };
	}
	return n;
}

static int try_backend(struct zc_reg *r, enum zc_backend b)
{
	const struct zc_backend_ops *ops = r->ctx->be[b].ops;
	char reason[ZC_REASON_LEN] = "";
	int ret;

	/* set before reg: a revocable backend may be revoked (by the lease
	 * monitor) as soon as its reg has published r */
	r->backend = b;
	r->ops = ops;
	ret = zc_fault_hit(r->ctx->faults, b, "reg");
	if (ret)
		snprintf(reason, sizeof(reason), "%s registration: %s (injected by ZC_FAULT)",
			 ops->name, strerror(-ret));
	else
		ret = ops->reg(r, reason, sizeof(reason));
	record(r, b, ret, reason);
	if (ret)
		r->cpu_only = false; /* what the failed backend decided */
	if (ret) {
		zc_count(&r->ctx->stats.backend[b].reg_failures, 1);
		r->backend = ZC_BACKEND_NONE;
		r->ops = NULL;
		return ret;
	}
	zc_count(&r->ctx->stats.backend[b].regs, 1);
	return 0;
}

/* position of b in the registry's order of preference */
static unsigned registry_pos(enum zc_backend b)
{
	unsigned k = 0;

	while (zc_registry_at(k) && zc_registry_at(k)->id != b)
		k++;
	return k;
}

/* The first backend usable on this system, preferred to the one in use,
 * that declined or failed: the registration runs on a fallback when there
 * is one. A refusal by a backend listed after the one in use is no loss.
 * -1 if none. The backend is the one the registration landed on, passed
 * in: once registered, a lease break may already be moving it elsewhere
 * (r->backend is the break's to write). */
static int first_lost(const struct zc_reg *r, enum zc_backend landed)
{
	const unsigned used = registry_pos(landed);

	for (unsigned i = 0; i + 1 < r->nr_attempts; i++)
		if (r->attempts[i].error &&
		    r->ctx->be[r->attempts[i].backend].available &&
		    registry_pos(r->attempts[i].backend) < used)
			return (int)i;
	return -1;
}

static void log_failure(const struct zc_reg *r, int ret)
{
	zc_warn(r->ctx, "zc_reg_create: no backend could register %zu bytes: %s",
		r->req.length, strerror(-ret));
	for (unsigned i = 0; i < r->nr_attempts; i++)
		zc_warn(r->ctx, "  %s: %s (%s)",
			zc_backend_name(r->attempts[i].backend),
			r->attempts[i].reason, strerror(-r->attempts[i].error));
}

int zc_select_and_register(struct zc_reg *r, uint64_t allowed)
{
	struct candidate c[ZC_BACKEND_MAX];
	enum zc_backend landed = ZC_BACKEND_NONE;
	int ret = -EOPNOTSUPP, lost;
	uint64_t no_mr = 0;
	unsigned n;

	if (r->req.flags & ZC_REG_REQUIRE_ZEROCOPY)
		for (unsigned i = 0; zc_registry_at(i); i++)
			if (!(zc_registry_at(i)->caps & ZC_CAP_ZEROCOPY))
				allowed &= ~ZC_BACKEND_BIT(zc_registry_at(i)->id);
	n = score_all(r, allowed, c, &ret, &no_mr);
	for (unsigned i = 0; i < n; i++) {
		ret = try_backend(r, c[i].b);
		if (!ret) {
			landed = c[i].b;
			break;
		}
	}
	if (ret) {
		refuse_remote(r, no_mr);
		log_failure(r, ret);
		return ret;
	}
	lost = first_lost(r, landed);
	if (lost >= 0) {
		r->fallback = true;
		zc_count(&r->ctx->stats.fallbacks, 1);
		zc_info(r->ctx, "registration of %zu bytes fell back to %s: %s: %s",
			r->length, zc_backend_name(landed),
			zc_backend_name(r->attempts[lost].backend),
			r->attempts[lost].reason);
	}
	return 0;
}

/* Note a revocation for zc_reg_attempts (with the file's revoke lock
 * held): what happened to from, and to that took over (ZC_BACKEND_NONE:
 * the registration stays revoked). */
void zc_attempts_revoked(struct zc_reg *r, enum zc_backend from,
			 enum zc_backend to, const char *what)
{
	r->revocation.happened = true;
	r->revocation.from = from;
	r->revocation.to = to;
	snprintf(r->revocation.what, sizeof(r->revocation.what), "%s", what);
}

/* The record as zc_reg_attempts shows it: after a revocation it still
 * ends with the backend in use. The revoked one keeps its place with
 * -EKEYREVOKED and what happened, and the one that took over moves to the
 * end with error 0. out holds ZC_MAX_ATTEMPTS + 1. */
unsigned zc_attempts_view(const struct zc_reg *r, struct zc_attempt *out)
{
	struct zc_file *f = r->file;
	struct zc_revocation rev;
	unsigned n = 0;

	pthread_mutex_lock(&f->revoke_lock);
	rev = r->revocation;
	pthread_mutex_unlock(&f->revoke_lock);
	for (unsigned i = 0; i < r->nr_attempts; i++) {
		const struct zc_attempt *a = &r->attempts[i];

		if (rev.happened && a->backend == rev.to)
			continue;
		out[n] = *a;
		if (rev.happened && a->backend == rev.from && !a->error) {
			out[n].error = -EKEYREVOKED;
			snprintf(out[n].reason, sizeof(out[n].reason), "%s", rev.what);
		}
		n++;
	}
	if (rev.happened && rev.to != ZC_BACKEND_NONE) {
		out[n] = (struct zc_attempt){ .backend = rev.to };
		snprintf(out[n].reason, sizeof(out[n].reason), "took over when %s "
			 "was revoked: library memory holding the file's bytes, at "
			 "the same address", zc_backend_name(rev.from));
		n++;
	}
	return n;
}
