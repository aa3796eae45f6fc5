/* SPDX-License-Identifier: MIT */
/* Registrations: argument checks, selection, accessors, destruction. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "p2p.h"
#include "sys/dmabuf.h"
#include "sys/mem.h"
#include "sys/uring.h"

#define ZC_REG_FIELDS_ALL                                                   \
	(ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FILE_OFFSET |  \
	 ZC_REG_FIELD_ACCESS | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_MEM_TYPE |    \
	 ZC_REG_FIELD_DMABUF_FD | ZC_REG_FIELD_BACKENDS)
#define ZC_ACCESS_ALL                                                       \
	(ZC_ACCESS_READ | ZC_ACCESS_WRITE | ZC_ACCESS_REMOTE_READ |            \
	 ZC_ACCESS_REMOTE_WRITE)
#define ZC_REG_FLAGS_ALL \
	(ZC_REG_MAP_FILE | ZC_REG_REQUIRE_ZEROCOPY | ZC_REG_NO_FALLBACK)

#define reject(ctx, err, ...)                                              \
	({                                                                 \
		zc_err(ctx, "zc_reg_create: " __VA_ARGS__);               \
		(err);                                                     \
	})

static int fill_req(struct zc_file *f, const struct zc_reg_params *p,
		    struct zc_reg_req *req, uint64_t *backends)
{
	struct zc_ctx *ctx = f->ctx;
	const uint64_t m = p->field_mask;

	memset(req, 0, sizeof(*req));
	req->file = f;
	req->access = ZC_ACCESS_READ | ZC_ACCESS_WRITE;
	req->dmabuf_fd = -1;
	*backends = ZC_BACKENDS_ALL;
	if (m & ~ZC_REG_FIELDS_ALL)
		return reject(ctx, -EINVAL, "unknown field_mask bits 0x%llx",
			      (unsigned long long)(m & ~ZC_REG_FIELDS_ALL));
	if (m & ZC_REG_FIELD_ADDR)
		req->addr = p->addr;
	if (m & ZC_REG_FIELD_LENGTH)
		req->length = p->length;
	if (m & ZC_REG_FIELD_FILE_OFFSET)
		req->file_offset = p->file_offset;
	if (m & ZC_REG_FIELD_ACCESS)
		req->access = p->access;
	if (m & ZC_REG_FIELD_FLAGS)
		req->flags = p->flags;
	if (m & ZC_REG_FIELD_MEM_TYPE)
		req->mem_type = p->mem_type;
	if (m & ZC_REG_FIELD_DMABUF_FD)
		req->dmabuf_fd = p->dmabuf_fd;
	if (m & ZC_REG_FIELD_BACKENDS)
		*backends = p->backends;

	if (!req->length)
		return reject(ctx, -EINVAL, "length is missing or 0");
	if (!req->access || (req->access & ~ZC_ACCESS_ALL))
		return reject(ctx, -EINVAL, "access 0x%x is empty or has unknown bits",
			      req->access);
	if (req->flags & ~ZC_REG_FLAGS_ALL)
		return reject(ctx, -EINVAL, "unknown flags 0x%x",
			      req->flags & ~ZC_REG_FLAGS_ALL);
	if (*backends & ~ZC_BACKENDS_ALL)
		return reject(ctx, -EINVAL, "backends 0x%llx has unknown bits",
			      (unsigned long long)*backends);
	if ((unsigned)req->mem_type > ZC_MEM_P2P)
		return reject(ctx, -EINVAL, "unknown mem_type %d", req->mem_type);
	if ((m & ZC_REG_FIELD_DMABUF_FD) && req->mem_type != ZC_MEM_DMABUF)
		return reject(ctx, -EINVAL, "dmabuf_fd set without ZC_MEM_DMABUF");
	return 0;
}

static int check_file_access(struct zc_file *f, const struct zc_reg_req *req)
{
	if ((req->access & ZC_ACCESS_READ) && !(f->info.flags & ZC_FILE_READABLE))
		return reject(f->ctx, -EBADF, "ZC_ACCESS_READ on an fd not open for reading");
	if ((req->access & ZC_ACCESS_WRITE) && !(f->info.flags & ZC_FILE_WRITABLE))
		return reject(f->ctx, -EBADF, "ZC_ACCESS_WRITE on an fd not open for writing");
	return 0;
}

/* The file's current size: it may have changed since zc_file_open. */
static uint64_t current_size(const struct zc_file *f)
{
	struct stat st;

	if ((f->info.flags & ZC_FILE_REGULAR) && !fstat(f->fd, &st))
		return (uint64_t)st.st_size;
	return f->info.file_size;
}

static int check_memory(struct zc_file *f, struct zc_reg_req *req,
			uint64_t mask)
{
	const bool has_addr = mask & ZC_REG_FIELD_ADDR;
	int ret;

	if ((req->flags & ZC_REG_MAP_FILE) && req->mem_type != ZC_MEM_HOST)
		return reject(f->ctx, -EINVAL, "ZC_REG_MAP_FILE maps the file's "
			      "pages, which are host memory: mem_type must be "
			      "ZC_MEM_HOST");
	if (req->flags & ZC_REG_MAP_FILE) {
		if (has_addr)
			return reject(f->ctx, -EINVAL, "addr given with ZC_REG_MAP_FILE "
				      "(the library maps the file range itself)");
		if (!(f->info.flags & ZC_FILE_READABLE))
			return reject(f->ctx, -EBADF, "ZC_REG_MAP_FILE needs an fd open "
				      "for reading (mmap requires it)");
		if (req->file_offset > current_size(f) ||
		    req->length > current_size(f) - req->file_offset)
			return reject(f->ctx, -EINVAL, "file range [%llu, +%zu) "
				      "reaches past the end of the file (%llu bytes)",
				      (unsigned long long)req->file_offset,
				      req->length, (unsigned long long)current_size(f));
		return 0;
	}
	if (mask & ZC_REG_FIELD_FILE_OFFSET)
		return reject(f->ctx, -EINVAL, "file_offset is only meaningful "
			      "with ZC_REG_MAP_FILE");
	if (req->mem_type == ZC_MEM_DMABUF) {
		char why[ZC_REASON_LEN];
		uint64_t size;

		if (!(mask & ZC_REG_FIELD_DMABUF_FD))
			return reject(f->ctx, -EINVAL, "ZC_MEM_DMABUF needs "
				      "dmabuf_fd (ZC_REG_FIELD_DMABUF_FD)");
		if (has_addr)
			return reject(f->ctx, -EINVAL, "addr given with "
				      "ZC_MEM_DMABUF: the registration is bytes "
				      "[0, length) of the dma-buf, mapped by the "
				      "library where it needs to");
		ret = zc_dmabuf_inspect(req->dmabuf_fd, &size, why, sizeof(why));
		if (ret)
			return reject(f->ctx, ret, "%s", why);
		if (req->length > size)
			return reject(f->ctx, -EINVAL, "length %zu is more than the "
				      "dma-buf's %llu bytes", req->length,
				      (unsigned long long)size);
		/* the registration's own fd: I/O brackets CPU access with it,
		 * and the caller may close theirs (or reuse the number) */
		ret = fcntl(req->dmabuf_fd, F_DUPFD_CLOEXEC, 3);
		if (ret < 0)
			return reject(f->ctx, -errno, "dmabuf_fd %d: dup: %s",
				      req->dmabuf_fd, strerror(errno));
		req->dmabuf_fd = ret;
		return 0;
	}
	if (!req->addr)
		return reject(f->ctx, -EINVAL, "addr is missing or NULL");
	if ((uintptr_t)req->addr + req->length < (uintptr_t)req->addr)
		return reject(f->ctx, -EINVAL, "addr + length wraps around");
	if (req->mem_type == ZC_MEM_P2P) {
		char why[ZC_REASON_LEN];

		ret = zc_p2p_mem_publisher(req->addr, req->length, req->p2p_bdf,
					   why, sizeof(why));
		if (ret == -ENOENT)
			return reject(f->ctx, -EINVAL, "ZC_MEM_P2P: %s", why);
		if (ret)
			return reject(f->ctx, ret, "ZC_MEM_P2P: cannot tell whose "
				      "memory [%p, +%zu) is: %s", req->addr,
				      req->length, why);
		return 0;
	}
	if (req->mem_type != ZC_MEM_HOST)
		return 0;
	ret = zc_mem_inspect(req->addr, req->length, &req->mem);
	if (ret)
		return reject(f->ctx, ret, "cannot check the memory [%p, +%zu): "
			      "/proc/self/maps: %s", req->addr, req->length,
			      strerror(-ret));
	if (!(req->mem & ZC_MEM_MAPPED))
		return reject(f->ctx, -EFAULT, "[%p, +%zu) is not entirely mapped",
			      req->addr, req->length);
	return 0;
}

/* the registration's duplicate of its dma-buf fd (check_memory) */
static void release_dmabuf(struct zc_reg *r)
{
	if (r->req.mem_type == ZC_MEM_DMABUF && r->req.dmabuf_fd >= 0)
		close(r->req.dmabuf_fd);
}

ZC_API int zc_reg_create(struct zc_file *f, const struct zc_reg_params *p,
			 struct zc_reg **out)
{
	uint64_t backends;
	struct zc_reg *r;
	int ret;

	if (!f || !p || !out) {
		if (f)
			zc_err(f->ctx, "zc_reg_create: %s is NULL", !p ? "params" : "out");
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(f->ctx, "zc_reg_create");
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = fill_req(f, p, &r->req, &backends);
	if (!ret)
		ret = check_file_access(f, &r->req);
	if (!ret)
		ret = check_memory(f, &r->req, p->field_mask);
	if (ret) {
		free(r);
		return ret;
	}
	r->ctx = f->ctx;
	r->file = f;
	r->addr = r->req.addr;
	r->length = r->req.length;
	r->io_access = r->req.access;
	if ((r->req.flags & ZC_REG_MAP_FILE) && !(r->req.access & ZC_ACCESS_WRITE))
		r->io_access = 0;
	r->slot_first = -1;
	ret = zc_select_and_register(r, backends & f->ctx->backends);
	if (ret) {
		release_dmabuf(r);
		free(r);
		return ret;
	}
	atomic_fetch_add(&f->refs, 1);
	*out = r;
	return 0;
}

ZC_API int zc_reg_destroy(struct zc_reg *r)
{
	int inflight, queued;
	struct zc_file *f;

	if (!r)
		return -EINVAL;
	f = r->file;
	ZC_REFUSE_IN_CHILD(r->ctx, "zc_reg_destroy");
	/* revocations happen under this lock: holding it, destroy sees the
	 * registration either before a revocation or after it, never inside */
	pthread_mutex_lock(&f->revoke_lock);
	inflight = atomic_load(&r->inflight);
	queued = atomic_load(&r->queued);
	if (inflight || queued) {
		pthread_mutex_unlock(&f->revoke_lock);
		zc_err(r->ctx, "zc_reg_destroy: %d operations still in flight",
		       inflight + queued);
		return -EBUSY;
	}
	r->ops->dereg(r);
	/* slots outlive a revocation: a revoked registration's are released
	 * here (the backend that pinned them releases its own first) */
	zc_rings_del_buffer(r->ctx->rings, r->slot_first, r->slot_count);
	pthread_mutex_unlock(&f->revoke_lock);
	release_dmabuf(r);
	atomic_fetch_sub(&r->file->refs, 1);
	free(r);
	return 0;
}

ZC_API enum zc_backend zc_reg_backend(const struct zc_reg *r)
{
	/* a revocation on another thread may change it at any time */
	return r ? __atomic_load_n(&r->backend, __ATOMIC_RELAXED) : ZC_BACKEND_NONE;
}

ZC_API void *zc_reg_addr(const struct zc_reg *r)
{
	return r ? r->addr : NULL;
}

ZC_API size_t zc_reg_length(const struct zc_reg *r)
{
	return r ? r->length : 0;
}

ZC_API int zc_reg_attempts(const struct zc_reg *r, struct zc_attempt *out,
			   unsigned max)
{
	struct zc_attempt view[ZC_MAX_ATTEMPTS + 1];
	unsigned n;

	if (!r || (!out && max)) {
		if (r)
			zc_err(r->ctx, "zc_reg_attempts: out is NULL with max %u", max);
		return -EINVAL;
	}
	n = zc_attempts_view(r, view);
	if (max)
		memcpy(out, view, ZC_MIN(max, n) * sizeof(*out));
	return (int)n;
}

/* r's ops, which a revocation on another thread may be replacing */
static const struct zc_backend_ops *reg_ops(const struct zc_reg *r)
{
	return __atomic_load_n(&r->ops, __ATOMIC_RELAXED);
}

ZC_API int zc_reg_rdma(const struct zc_reg *r, struct zc_rdma_keys *keys)
{
	const struct zc_backend_ops *ops;

	if (!r || !keys) {
		if (r)
			zc_err(r->ctx, "zc_reg_rdma: keys is NULL");
		return -EINVAL;
	}
	/* only a backend that made a memory region can answer */
	ops = reg_ops(r);
	return ops->rdma_keys ? ops->rdma_keys(r, keys) : -ENODATA;
}

ZC_API int zc_reg_prefetch(struct zc_reg *r, size_t off, size_t len,
			   unsigned flags)
{
	const struct zc_backend_ops *ops;
	int ret;

	if (!r)
		return -EINVAL;
	if (!len || off > r->length || len > r->length - off ||
	    (flags & ~ZC_PREFETCH_WRITE)) {
		zc_err(r->ctx, "zc_reg_prefetch: [%zu, +%zu) of a registration of "
		       "%zu bytes, flags 0x%x", off, len, r->length, flags);
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(r->ctx, "zc_reg_prefetch");
	ret = zc_reg_enter(r, &r->inflight);
	if (ret)
		return ret;
	ops = reg_ops(r);
	ret = ops->prefetch ? ops->prefetch(r, off, len, flags) : -ENODATA;
	zc_reg_exit(&r->inflight);
	if (ret == -EOPNOTSUPP)
		zc_dbg(r->ctx, "zc_reg_prefetch: not supported here (the device "
		       "faults pages in on access)");
	return ret;
}

/* ------------------------------------------------------------------ */
/* revocation                                                           */

#define ZC_REVOKE_QUEUE_WAIT_US 10000

void zc_reg_wait_revocation(struct zc_reg *r)
{
	while (atomic_load(&r->revoking))
		usleep(50);
}

static void wait_for_zero(_Atomic int *counter, long max_us)
{
	for (long waited = 0; atomic_load(counter) && (max_us < 0 || waited < max_us);
	     waited += 50)
		usleep(50);
}

void zc_reg_revoke_begin(struct zc_reg *r)
{
	if (r->revoked || !r->ops->unpin)
		return;
	atomic_store(&r->revoking, true);
	/* synchronous calls finish in a system call's time; queued ops are
	 * given a moment, then their slots stay reserved (never reused) until
	 * zc_reg_destroy, so a late submission fails instead of hitting
	 * another registration's memory */
	wait_for_zero(&r->inflight, -1);
	wait_for_zero(&r->queued, ZC_REVOKE_QUEUE_WAIT_US);
	r->ops->unpin(r);
}

void zc_reg_revoke_end(struct zc_reg *r, int error, const char *why)
{
	struct zc_ctx *ctx = r->ctx;
	enum zc_backend from = r->backend, to = r->ops->revoke_to;
	bool stay_revoked = r->req.flags & ZC_REG_NO_FALLBACK;
	char reason[ZC_REASON_LEN] = "", what[ZC_REASON_LEN];
	int ret = 0;

	if (!atomic_load(&r->revoking))
		return; /* zc_reg_revoke_begin found nothing to revoke */
	/* what caused the revocation has been let go: now the kernel may
	 * spend its time unpinning */
	zc_rings_drop_pin(ctx->rings, r->slot_first, r->slot_count);
	if (to == ZC_BACKEND_NONE)
		stay_revoked = true; /* the backend has nowhere to go */
	if (!stay_revoked)
		ret = r->ops->privatize(r, reason, sizeof(reason));
	if (ret || stay_revoked) {
		__atomic_store_n(&r->revoked, true, __ATOMIC_RELAXED);
		to = ZC_BACKEND_NONE;
		if (ret)
			zc_err(ctx, "revocation of a %s registration could not keep "
			       "its memory: %s; the registration is left revoked",
			       zc_backend_name(from), reason);
		snprintf(what, sizeof(what), "revoked (%s); %s%s: I/O fails with "
			 "EKEYREVOKED", why,
			 ret ? "its memory could not be kept: " :
			 r->req.flags & ZC_REG_NO_FALLBACK ? "ZC_REG_NO_FALLBACK" :
			 "no backend takes over", reason);
	} else {
		__atomic_store_n(&r->ops, zc_registry_ops(to), __ATOMIC_RELAXED);
		__atomic_store_n(&r->backend, to, __ATOMIC_RELAXED);
		r->fallback = true;
		zc_count(&ctx->stats.fallbacks, 1);
		snprintf(what, sizeof(what), "revoked (%s); %s took over", why,
			 zc_backend_name(to));
	}
	zc_attempts_revoked(r, from, to, what);
	zc_count(&ctx->stats.revocations, 1);
	zc_info(ctx, "%s registration of %zu bytes revoked (%s); now %s%s",
		zc_backend_name(from), r->length, why,
		to == ZC_BACKEND_NONE ? "revoked: I/O fails with EKEYREVOKED" : "on ",
		to == ZC_BACKEND_NONE ? "" : zc_backend_name(to));
	zc_event_post(ctx, ZC_EVENT_REVOKED, from, to, r, error);
	if (to != ZC_BACKEND_NONE)
		zc_event_post(ctx, ZC_EVENT_BACKEND_CHANGED, from, to, r, error);
	/* the last touch of r: zc_reg_destroy waits for it */
	atomic_store(&r->revoking, false);
}

/* ------------------------------------------------------------------ */
/* fixed buffers for the application's rings                            */

ZC_API int zc_ctx_uring_attach(struct zc_ctx *ctx, int ring_fd)
{
	int ret;

	if (!ctx || ring_fd < 0) {
		if (ctx)
			zc_err(ctx, "zc_ctx_uring_attach: ring fd %d", ring_fd);
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(ctx, "zc_ctx_uring_attach");
	ret = zc_rings_attach(ctx->rings, ring_fd);
	if (ret)
		zc_err(ctx, "zc_ctx_uring_attach: ring fd %d: %s", ring_fd,
		       ret == -ENOSYS ? ctx->uring_reason : strerror(-ret));
	return ret;
}

ZC_API int zc_ctx_uring_detach(struct zc_ctx *ctx, int ring_fd)
{
	int ret;

	if (!ctx || ring_fd < 0) {
		if (ctx)
			zc_err(ctx, "zc_ctx_uring_detach: ring fd %d", ring_fd);
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(ctx, "zc_ctx_uring_detach");
	ret = zc_rings_detach(ctx->rings, ring_fd);
	if (ret)
		zc_err(ctx, "zc_ctx_uring_detach: ring fd %d: %s", ring_fd,
		       strerror(-ret));
	return ret;
}

ZC_API int zc_reg_buf_index(const struct zc_reg *r, size_t reg_off, size_t len)
{
	const struct zc_backend_ops *ops;

	/* silent, unlike the other calls: applications ask once per I/O, and
	 * a refusal here is an answer (use the plain path), not a mistake */
	if (!r || !len || reg_off > r->length || len > r->length - reg_off)
		return -EINVAL;
	/* no gate here: a revocation may be moving r to another backend
	 * right now; the backend's answer takes that into account */
	ops = reg_ops(r);
	return ops->buf_index ? ops->buf_index(r, reg_off, len) : -ENODATA;
}
