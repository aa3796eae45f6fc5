/* SPDX-License-Identifier: MIT */
/*
 * Events for event loops: a bounded ring of struct zc_event behind an
 * eventfd that is readable exactly while the ring is non-empty.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

int zc_events_init(struct zc_ctx *ctx)
{
	struct zc_event_ring *er = &ctx->events;

	er->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (er->fd < 0) {
		int err = -errno;

		zc_err(ctx, "zc_ctx_create: eventfd: %s", strerror(-err));
		return err;
	}
	pthread_mutex_init(&er->lock, NULL);
	return 0;
}

void zc_events_fini(struct zc_ctx *ctx)
{
	if (ctx->events.fd < 0)
		return;
	close(ctx->events.fd);
	pthread_mutex_destroy(&ctx->events.lock);
}

void zc_event_post(struct zc_ctx *ctx, uint32_t type, enum zc_backend from,
		   enum zc_backend to, struct zc_reg *reg, int error)
{
	struct zc_event_ring *er = &ctx->events;
	const unsigned cap = ZC_ARRAY_SIZE(er->ev);
	uint64_t one = 1;

	pthread_mutex_lock(&er->lock);
	if (er->count == cap) {
		/* keep the newest: an event loop cares about the present */
		er->head = (er->head + 1) % cap;
		er->count--;
		er->dropped++;
		zc_warn(ctx, "event queue full: oldest event dropped (%llu so far)",
			(unsigned long long)er->dropped);
	}
	er->ev[(er->head + er->count) % cap] = (struct zc_event){
		.type = type, .from = from, .to = to, .reg = reg, .error = error,
	};
	if (er->count++ == 0 && write(er->fd, &one, sizeof(one)) < 0)
		zc_warn(ctx, "event fd write: %s", strerror(errno));
	pthread_mutex_unlock(&er->lock);
}

ZC_API int zc_ctx_event_fd(struct zc_ctx *ctx)
{
	return ctx ? ctx->events.fd : -EINVAL;
}

ZC_API int zc_ctx_events(struct zc_ctx *ctx, struct zc_event *out,
			 unsigned max)
{
	struct zc_event_ring *er;
	const unsigned cap = ZC_ARRAY_SIZE(ctx->events.ev);
	unsigned n;
	uint64_t val;

	if (!ctx || (!out && max)) {
		if (ctx)
			zc_err(ctx, "zc_ctx_events: out is NULL");
		return -EINVAL;
	}
	/* the event fd is shared with the parent: draining it would hide the
	 * parent's events */
	ZC_REFUSE_IN_CHILD(ctx, "zc_ctx_events");
	er = &ctx->events;
	pthread_mutex_lock(&er->lock);
	n = ZC_MIN(max, er->count);
	for (unsigned i = 0; i < n; i++)
		out[i] = er->ev[(er->head + i) % cap];
	er->head = (er->head + n) % cap;
	er->count -= n;
	/* drain the counter once empty, so POLLIN means "events pending" */
	if (n && !er->count && read(er->fd, &val, sizeof(val)) < 0 &&
	    errno != EAGAIN)
		zc_warn(ctx, "event fd read: %s", strerror(errno));
	pthread_mutex_unlock(&er->lock);
	return (int)n;
}

/* A registration posts ZC_EVENT_FALLBACK once, the first time one of its
 * operations leaves the path it was registered for. */
void zc_note_fallback(struct zc_reg *r, enum zc_backend to, int error)
{
	bool expected = false;

	if (atomic_compare_exchange_strong(&r->fallback_reported, &expected,
					   true))
		zc_event_post(r->ctx, ZC_EVENT_FALLBACK, r->backend, to, r,
			      error);
}
