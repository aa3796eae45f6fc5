/* SPDX-License-Identifier: MIT */
/*
 * Staging memory for transfers that cannot use the caller's memory as it
 * is (O_DIRECT alignment). Chunks are allocated on demand on the wanted
 * NUMA node, never more than bounce_bytes in all, and wiped before they
 * serve another file. They are not io_uring fixed buffers: staged
 * transfers are synchronous, and synchronous I/O is pread/pwrite (see
 * src/fixed.c), so a pin would only charge RLIMIT_MEMLOCK.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sys/mem.h"

struct chunk {
	void *buf;
	int node;
	uint64_t owner; /* serial of the file whose data the chunk last held */
	bool busy;
};

struct zc_staging {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	size_t chunk_size;
	unsigned max, count;
	struct chunk chunk[];
};

int zc_staging_init(struct zc_ctx *ctx)
{
	size_t chunk_size = ZC_MIN((size_t)ZC_STAGING_CHUNK, ctx->bounce_bytes);
	unsigned max = (unsigned)(ctx->bounce_bytes / chunk_size);
	struct zc_staging *s;

	s = calloc(1, sizeof(*s) + max * sizeof(s->chunk[0]));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	s->chunk_size = chunk_size;
	s->max = max;
	ctx->staging = s;
	return 0;
}

void zc_staging_fini(struct zc_ctx *ctx)
{
	struct zc_staging *s = ctx->staging;

	if (!s)
		return;
	for (unsigned i = 0; i < s->count; i++)
		zc_mem_free(s->chunk[i].buf, s->chunk_size);
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
	free(s);
	ctx->staging = NULL;
}

static int chunk_new(struct zc_ctx *ctx, struct zc_staging *s, int node)
{
	struct chunk *c = &s->chunk[s->count];
	int ret;

	ret = zc_fault_hit(ctx->faults, zc_registry_floor(), "alloc");
	if (ret)
		return ret;
	c->buf = zc_mem_alloc(s->chunk_size, node);
	if (!c->buf)
		return -ENOMEM;
	c->node = node;
	return (int)s->count++;
}

/* A free chunk on node, else a new one, else any free one. */
static int chunk_pick(struct zc_ctx *ctx, struct zc_staging *s, int node)
{
	int any = -1;

	for (unsigned i = 0; i < s->count; i++) {
		if (s->chunk[i].busy)
			continue;
		if (s->chunk[i].node == node)
			return (int)i;
		any = (int)i;
	}
	if (s->count < s->max) {
		int ret = chunk_new(ctx, s, node);

		if (ret >= 0 || any < 0)
			return ret;
	}
	return any < 0 ? -EAGAIN : any;
}

int zc_stage_get(struct zc_ctx *ctx, const struct zc_file *owner,
		 struct zc_stage *out)
{
	struct zc_staging *s = ctx->staging;
	int node = zc_file_numa_node(owner);
	struct chunk *c;
	int i;

	pthread_mutex_lock(&s->lock);
	while ((i = chunk_pick(ctx, s, node)) == -EAGAIN)
		pthread_cond_wait(&s->freed, &s->lock);
	if (i < 0) {
		pthread_mutex_unlock(&s->lock);
		return i;
	}
	c = &s->chunk[i];
	c->busy = true;
	pthread_mutex_unlock(&s->lock);
	/* never show one file's bytes to a transfer of another */
	if (c->owner && c->owner != owner->serial)
		memset(c->buf, 0, s->chunk_size);
	c->owner = owner->serial;
	*out = (struct zc_stage){ .buf = c->buf, .size = s->chunk_size, .index = i };
	return 0;
}

void zc_stage_put(struct zc_ctx *ctx, const struct zc_stage *st)
{
	struct zc_staging *s = ctx->staging;

	pthread_mutex_lock(&s->lock);
	s->chunk[st->index].busy = false;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}
