/* SPDX-License-Identifier: MIT */
/* Context: parameters, environment, one probe of every backend, stats. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mr.h"
#include "sys/uring.h"

#define ZC_CTX_FIELDS_ALL                                                     \
	(ZC_CTX_FIELD_BACKENDS | ZC_CTX_FIELD_PD | ZC_CTX_FIELD_QUEUE_DEPTH |  \
	 ZC_CTX_FIELD_BOUNCE_BYTES | ZC_CTX_FIELD_NUMA_NODE |                  \
	 ZC_CTX_FIELD_FLAGS | ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL |    \
	 ZC_CTX_FIELD_LEASE_SIGNAL)
#define ZC_CTX_FLAGS_ALL ZC_CTX_NO_URING
#define ZC_MIN_BOUNCE_BYTES (64u << 10)
/* staging is a table of 1 MiB chunks: 64 GiB is 65536 of them */
#define ZC_MAX_BOUNCE_BYTES (UINT64_C(64) << 30)

_Atomic unsigned zc_fork_generation;
static pthread_once_t fork_hook_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void)
{
	atomic_fetch_add(&zc_fork_generation, 1);
	zc_edge_locks_reset();
}

static void install_fork_hook(void)
{
	pthread_atfork(NULL, NULL, after_fork_in_child);
}

int zc_fork_refuse(struct zc_ctx *ctx, const char *fn)
{
	zc_err(ctx, "%s: the object belongs to the parent process (used after "
	       "fork); a child must not use or destroy it", fn);
	return -ECHILD;
}

ZC_API unsigned zc_version(void)
{
	return ZC_VERSION_NUMBER;
}

ZC_API const char *zc_strerror(int neg_errno)
{
	/* INT_MIN has no positive counterpart: it is no errno anyway */
	if (neg_errno == INT_MIN)
		return "Unknown error";
	return strerror(neg_errno < 0 ? -neg_errno : neg_errno);
}

static int check_params(const struct zc_ctx_params *p, struct zc_log *log)
{
	const uint64_t m = p->field_mask;

	if (m & ~ZC_CTX_FIELDS_ALL) {
		zc_logf(log, ZC_LOG_ERROR,
			"zc_ctx_create: unknown field_mask bits 0x%llx",
			(unsigned long long)(m & ~ZC_CTX_FIELDS_ALL));
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_BACKENDS) && (p->backends & ~ZC_BACKENDS_ALL)) {
		zc_logf(log, ZC_LOG_ERROR,
			"zc_ctx_create: backends 0x%llx has unknown bits",
			(unsigned long long)p->backends);
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_QUEUE_DEPTH) &&
	    (!p->queue_depth || p->queue_depth > ZC_MAX_QUEUE_DEPTH)) {
		zc_logf(log, ZC_LOG_ERROR,
			"zc_ctx_create: queue_depth %u not in 1..%u",
			p->queue_depth, ZC_MAX_QUEUE_DEPTH);
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_BOUNCE_BYTES) &&
	    (p->bounce_bytes < ZC_MIN_BOUNCE_BYTES ||
	     p->bounce_bytes > ZC_MAX_BOUNCE_BYTES)) {
		zc_logf(log, ZC_LOG_ERROR,
			"zc_ctx_create: bounce_bytes %zu not in %u..%llu",
			p->bounce_bytes, ZC_MIN_BOUNCE_BYTES,
			(unsigned long long)ZC_MAX_BOUNCE_BYTES);
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_NUMA_NODE) && p->numa_node < -1) {
		zc_logf(log, ZC_LOG_ERROR, "zc_ctx_create: numa_node %d < -1",
			p->numa_node);
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_FLAGS) && (p->flags & ~ZC_CTX_FLAGS_ALL)) {
		zc_logf(log, ZC_LOG_ERROR, "zc_ctx_create: unknown flags 0x%x",
			p->flags & ~ZC_CTX_FLAGS_ALL);
		return -EINVAL;
	}
	if ((m & ZC_CTX_FIELD_LOG_LEVEL) &&
	    (p->log_level < ZC_LOG_ERROR || p->log_level > ZC_LOG_DEBUG)) {
		zc_logf(log, ZC_LOG_ERROR, "zc_ctx_create: log_level %d not in 0..3",
			p->log_level);
		return -EINVAL;
	}
	/* then the fields the backends own */
	for (unsigned i = 0; zc_registry_at(i); i++) {
		const struct zc_backend_ops *ops = zc_registry_at(i);
		int ret = ops->check_params ? ops->check_params(p, log) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

static void apply_params(struct zc_ctx *ctx, const struct zc_ctx_params *p)
{
	const uint64_t m = p ? p->field_mask : 0;

	ctx->backends = ZC_BACKENDS_ALL;
	ctx->queue_depth = ZC_DEFAULT_QUEUE_DEPTH;
	ctx->bounce_bytes = ZC_DEFAULT_BOUNCE_BYTES;
	ctx->numa_node = -1;
	if (p)
		ctx->params = *p;
	if (m & ZC_CTX_FIELD_BACKENDS)
		ctx->backends = p->backends;
	if (m & ZC_CTX_FIELD_PD)
		ctx->pd = p->pd;
	if (m & ZC_CTX_FIELD_QUEUE_DEPTH)
		ctx->queue_depth = p->queue_depth;
	if (m & ZC_CTX_FIELD_BOUNCE_BYTES)
		ctx->bounce_bytes = p->bounce_bytes;
	if (m & ZC_CTX_FIELD_NUMA_NODE)
		ctx->numa_node = p->numa_node;
	if (m & ZC_CTX_FIELD_FLAGS)
		ctx->flags = p->flags;
}

/* ZC_LOG, ZC_BACKENDS, ZC_QUIRKS and ZC_FAULT: a typo is an error, not a surprise. */
static int apply_env(struct zc_ctx *ctx, uint64_t *env_backends)
{
	const char *s;
	char bad[256];
	int ret;

	*env_backends = ZC_BACKENDS_ALL;
	s = getenv("ZC_LOG");
	if (s && *s && zc_parse_log_level(s) < 0) {
		zc_err(ctx, "zc_ctx_create: ZC_LOG=%.32s: expected error, warn, info or debug", s);
		return -EINVAL;
	}
	s = getenv("ZC_BACKENDS");
	if (s && *s && zc_parse_backends(s, env_backends, bad, sizeof(bad))) {
		char names[128] = "";

		for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names),
				 "%s%s", b > ZC_BACKEND_P2P_BAR ? ", " : "",
				 zc_backend_name((enum zc_backend)b));
		zc_err(ctx, "zc_ctx_create: ZC_BACKENDS: unknown backend '%s' "
		       "(expected %s or all, optionally after '^')", bad, names);
		return -EINVAL;
	}
	/* a lifted quirk changes what the library trusts a device with: a
	 * name it does not know is refused, never ignored */
	s = getenv("ZC_QUIRKS");
	if (s && *s && zc_parse_quirks(s, &ctx->quirks_ignored, bad, sizeof(bad))) {
		zc_err(ctx, "zc_ctx_create: ZC_QUIRKS: '%s' is not ignore:NAME with "
		       "a known quirk (zcinfo lists them)", bad);
		return -EINVAL;
	}
	s = getenv("ZC_FAULT");
	if (s && *s) {
		ret = zc_fault_parse(s, &ctx->faults, bad, sizeof(bad));
		if (ret) {
			if (ret == -EINVAL)
				zc_err(ctx, "zc_ctx_create: ZC_FAULT: %s", bad);
			return ret;
		}
		if (ctx->faults)
			zc_warn(ctx, "fault injection active: ZC_FAULT=%.128s", s);
	}
	return 0;
}

/* 0, or -ENOMEM when a probe ran out of memory */
static int probe_backends(struct zc_ctx *ctx, uint64_t env_backends)
{
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++) {
		struct zc_backend_state *st = &ctx->be[b];
		const struct zc_backend_ops *ops = zc_registry_ops((enum zc_backend)b);
		int ret;

		st->ops = ops;
		if (!ops) {
			snprintf(st->reason, sizeof(st->reason), "%s",
				 zc_registry_not_built((enum zc_backend)b));
			continue;
		}
		if (!(env_backends & ZC_BACKEND_BIT(b))) {
			snprintf(st->reason, sizeof(st->reason),
				 "excluded by ZC_BACKENDS");
			continue;
		}
		if (!(ctx->backends & ZC_BACKEND_BIT(b))) {
			snprintf(st->reason, sizeof(st->reason),
				 "excluded by zc_ctx_params.backends");
			continue;
		}
		ret = ops->probe(ctx, st->reason, sizeof(st->reason));
		if (ret == -ENOMEM)
			return ret;
		st->available = ret == 0;
		zc_dbg(ctx, "probe %s: %s: %s", ops->name,
		       st->available ? "available" : "unavailable", st->reason);
	}
	return 0;
}

/* sys/uring.c's fault injection, as the core's steps */
static int uring_fault(void *arg, const char *step)
{
	struct zc_ctx *ctx = arg;

	return zc_fault_hit(ctx->faults, ZC_BACKEND_NONE, step);
}

static void ctx_free(struct zc_ctx *ctx)
{
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (ctx->be[b].available && ctx->be[b].ops->cleanup)
			ctx->be[b].ops->cleanup(ctx);
	zc_mr_dev_close(ctx);
	zc_staging_fini(ctx);
	zc_rings_fini(ctx->rings);
	zc_events_fini(ctx);
	zc_fault_free(ctx->faults);
	free(ctx);
}

ZC_API int zc_ctx_create(const struct zc_ctx_params *p, struct zc_ctx **out)
{
	struct zc_ctx *ctx;
	uint64_t env_backends;
	int ret;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	zc_log_init(&ctx->log, p);
	ctx->events.fd = -1;
	pthread_once(&fork_hook_once, install_fork_hook);
	ctx->fork_generation = atomic_load(&zc_fork_generation);
	if (!out) {
		zc_err(ctx, "zc_ctx_create: out is NULL");
		free(ctx);
		return -EINVAL;
	}
	ret = p ? check_params(p, &ctx->log) : 0;
	if (ret) {
		free(ctx);
		return ret;
	}
	apply_params(ctx, p);
	ret = apply_env(ctx, &env_backends);
	if (!ret)
		ret = zc_events_init(ctx);
	if (!ret)
		ret = zc_staging_init(ctx);
	if (ret) {
		ctx_free(ctx);
		return ret;
	}
	if (ctx->flags & ZC_CTX_NO_URING)
		snprintf(ctx->uring_reason, sizeof(ctx->uring_reason),
			 "io_uring not used: ZC_CTX_NO_URING");
	else
		zc_rings_init(&ctx->rings, uring_fault, ctx, ctx->uring_reason,
			      sizeof(ctx->uring_reason));
	/* before the probes: the MR backends ask it for their device */
	ret = zc_mr_dev_open(ctx) == -ENOMEM ? -ENOMEM : 0;
	if (!ret)
		ret = probe_backends(ctx, env_backends);
	if (ret) {
		ctx_free(ctx);
		return ret;
	}
	ctx->backends &= env_backends; /* the set registrations start from */
	*out = ctx;
	return 0;
}

ZC_API void zc_ctx_destroy(struct zc_ctx *ctx)
{
	unsigned files, queues;

	if (!ctx || zc_forked(ctx))
		return; /* in a child: the parent's rings are not ours to close */
	files = atomic_load(&ctx->nr_files);
	queues = atomic_load(&ctx->nr_queues);
	if (files || queues) {
		zc_err(ctx, "zc_ctx_destroy: %u files and %u queues still open; "
		       "context left in place", files, queues);
		return;
	}
	ctx_free(ctx);
}

ZC_API int zc_ctx_query(struct zc_ctx *ctx, enum zc_backend b,
			struct zc_backend_info *info)
{
	const struct zc_backend_state *st;

	if (!ctx || !info || b < ZC_BACKEND_P2P_BAR || b > ZC_BACKEND_MAX) {
		if (ctx)
			zc_err(ctx, "zc_ctx_query: %s", !info ? "info is NULL" :
			       "backend out of range");
		return -EINVAL;
	}
	st = &ctx->be[b];
	info->available = st->available;
	info->caps = st->ops ? st->ops->caps : 0;
	memcpy(info->reason, st->reason, sizeof(info->reason));
	return 0;
}

ZC_API int zc_ctx_stats(struct zc_ctx *ctx, struct zc_stats *out,
			size_t out_size)
{
	struct zc_stats s;

	if (!ctx || !out || out_size < sizeof(s.size)) {
		if (ctx)
			zc_err(ctx, "zc_ctx_stats: %s", !out ? "out is NULL" :
			       "out_size smaller than 8");
		return -EINVAL;
	}
	memset(&s, 0, sizeof(s));
	s.size = ZC_MIN(out_size, sizeof(s));
	s.fallbacks = atomic_load(&ctx->stats.fallbacks);
	s.revocations = atomic_load(&ctx->stats.revocations);
	for (unsigned b = 0; b < ZC_ARRAY_SIZE(s.backend); b++) {
		s.backend[b].regs = atomic_load(&ctx->stats.backend[b].regs);
		s.backend[b].reg_failures =
			atomic_load(&ctx->stats.backend[b].reg_failures);
		s.backend[b].ops = atomic_load(&ctx->stats.backend[b].ops);
		s.backend[b].bytes = atomic_load(&ctx->stats.backend[b].bytes);
	}
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (ctx->be[b].ops && ctx->be[b].ops->stats)
			ctx->be[b].ops->stats(ctx, &s);
	memcpy(out, &s, s.size);
	return 0;
}
