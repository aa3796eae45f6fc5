/* SPDX-License-Identifier: MIT */
/*
 * What a backend may use: the ops table it fills, the I/O the core hands
 * it, and the helpers shared by more than one backend. A backend file
 * (src/backends/NAME.c) includes this header and the src/sys/ headers it
 * needs, nothing else; it keeps its own state in the priv slots of the
 * context, the file and the registration, and is listed once in
 * src/backends/registry.c.
 */
#ifndef ZC_BACKEND_H
#define ZC_BACKEND_H

#include <sys/uio.h>

#include "core.h"
#include "sys/mem.h"
#include "sys/uring.h"

struct zc_queue;
struct zc_ring;

/* One I/O as the core hands it to a backend: file already validated,
 * O_DIRECT requirements already met (aligned offset, length, memory). */
struct zc_io {
	enum zc_dir dir;
	void *buf;
	uint64_t file_off;
	size_t len;
	size_t reg_off;
};

/* ------------------------------------------------------------------ */
/* the ops table: one per file in src/backends/                         */

struct zc_backend_ops {
	size_t size; /* sizeof(struct zc_backend_ops) the backend was built with */
	enum zc_backend id;
	const char *name;
	uint64_t caps;
	/* ZC_FAULT steps this backend passes to zc_fault_hit() besides "reg"
	 * (which every backend passes, in select.c), NULL-terminated; a rule
	 * naming any other step is refused */
	const char *const *fault_steps;
	/* Optional: nonzero when the backend serves only requests with one
	 * of these ZC_ACCESS_* bits (an MR backend: the remote ones); to any
	 * other it does not apply, available or not, and is not recorded */
	unsigned serves_access;
	/* Optional: nonzero when the backend serves only memory of these
	 * types (bit 1u << enum zc_mem_type), likewise */
	unsigned serves_mem;

	/* Optional: check the zc_ctx_params fields this backend owns; called
	 * for every compiled-in backend before any probe. 0 or -EINVAL, the
	 * reason logged through log. */
	int (*check_params)(const struct zc_ctx_params *p, const struct zc_log *log);
	/* once per context: 0 if usable, else -errno with a reason; may set
	 * ctx->be[id].priv. -ENOMEM fails zc_ctx_create. */
	int (*probe)(struct zc_ctx *ctx, char *reason, size_t len);
	/* after a successful probe, at zc_ctx_destroy */
	void (*cleanup)(struct zc_ctx *ctx);
	/* Optional, for every compiled-in backend, available or not: add
	 * what this backend knows about the file to f->info, set up
	 * f->priv[id] if it wants to; file_close undoes it. */
	void (*file_open)(struct zc_file *f);
	void (*file_close)(struct zc_file *f);
	/* Optional: add this backend's counters to a zc_ctx_stats answer */
	void (*stats)(struct zc_ctx *ctx, struct zc_stats *s);

	/* >= 0: accepted; candidates are tried in the registry's order (a
	 * higher score only moves one ahead of those listed before it);
	 * < 0: refusal -errno, or ZC_SCORE_NOT_APPLICABLE for requests of a
	 * kind it never serves (not recorded as an attempt, not a reason for
	 * a fallback) */
	int (*score)(struct zc_ctx *ctx, const struct zc_reg_req *req,
		     char *reason, size_t len);
	/* fill r->addr/length (or keep the caller's), slots, priv */
	int (*reg)(struct zc_reg *r, char *reason, size_t len);
	void (*dereg)(struct zc_reg *r);
	/* synchronous I/O; returns bytes moved (short only at EOF) or -errno */
	ssize_t (*io)(struct zc_reg *r, const struct zc_io *io);
	/* async: put the op on q's ring (0, or ZC_PREP_FALLBACK when it took
	 * a fallback path), or -EAGAIN to run it inline */
	int (*prep)(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		    uint64_t cookie);
	/* MAP_FILE: make memory stores reach the file */
	int (*sync)(struct zc_reg *r, size_t reg_off, size_t len);

	/* Optional: the registration's MR (zc_reg_rdma); absent: -ENODATA */
	int (*rdma_keys)(const struct zc_reg *r, struct zc_rdma_keys *keys);
	/* Optional: zc_reg_prefetch of [reg_off, +len) (arguments checked);
	 * absent: -ENODATA (no on-demand paging to fault in ahead) */
	int (*prefetch)(struct zc_reg *r, size_t reg_off, size_t len,
			unsigned flags);
	/* Optional: the fixed buffer index of [reg_off, +len) for the
	 * application's rings (zc_reg_buf_index, arguments checked);
	 * absent: -ENODATA */
	int (*buf_index)(const struct zc_reg *r, size_t reg_off, size_t len);

	/* Optional: take the zero-copy path away (the backend calls
	 * zc_reg_revoke_begin/end), in two steps so that what caused it can
	 * be let go between them.
	 * unpin: drop the pin and nothing else, the memory stays as it is.
	 * privatize: put library memory holding the file's current bytes at
	 * the same address, for backend revoke_to to take over (not called
	 * for a registration that stays revoked). */
	void (*unpin)(struct zc_reg *r);
	int (*privatize)(struct zc_reg *r, char *reason, size_t len);
	enum zc_backend revoke_to;
};

#define ZC_PREP_FALLBACK 1
#define ZC_SCORE_NOT_APPLICABLE INT_MIN

/* Take the zero-copy path away from r, in two steps with the file's
 * revoke_lock held across both. begin: drain, unpin; r->revoking stays
 * set, so every data path waits. end: private memory, the backend's
 * revoke_to (or revoked with ZC_REG_NO_FALLBACK), the attempts rewritten
 * (zc_reg_attempts), events, and revoking cleared. why: what caused it,
 * for the attempts and the log. */
void zc_reg_revoke_begin(struct zc_reg *r);
void zc_reg_revoke_end(struct zc_reg *r, int error, const char *why);

/* fixed.c: memory that is an io_uring fixed buffer (uring_fixed, pin_lease) */
int zc_fixed_pin(struct zc_reg *r, enum zc_backend b, char *reason, size_t len);
int zc_fixed_pin_file(struct zc_reg *r, enum zc_backend b, char *reason,
		      size_t len);
void zc_fixed_unpin(struct zc_reg *r);
int zc_fixed_file_pinnable(const struct zc_file_info *fi, char *reason,
			   size_t len);
ssize_t zc_fixed_io(struct zc_reg *r, const struct zc_io *io);
int zc_fixed_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		  uint64_t cookie);

int zc_fixed_buf_index(const struct zc_reg *r, size_t reg_off, size_t len);

/* the slot in which byte reg_off of r lies, and whether [reg_off,
 * reg_off+len) stays inside that one slot */
static inline int zc_reg_slot(const struct zc_reg *r, size_t reg_off,
			      size_t len)
{
	size_t first, last;

	if (!r->slot_count)
		return -1;
	first = reg_off / ZC_MAX_SLOT_BYTES;
	last = (reg_off + len - 1) / ZC_MAX_SLOT_BYTES;
	return first == last ? r->slot_first + (int)first : -1;
}

/* the ring of a queue, for prep */
struct zc_ring *zc_queue_ring(struct zc_queue *q);

/* one op of f on ring; slot >= 0 names a fixed buffer */
static inline int zc_ring_prep_io(struct zc_ring *ring, const struct zc_file *f,
				  const struct zc_io *io, int slot,
				  uint64_t cookie)
{
	const struct zc_ring_file rf = { f->fd, f->fixed_idx, f->write_flags };

	return zc_ring_prep(ring, &rf, io->dir == ZC_DIR_WRITE, io->buf, io->len,
			    io->file_off, slot, cookie);
}

/* ------------------------------------------------------------------ */
/* io.c: paths shared by every backend                                  */

/* RWF_NOAPPEND (Linux 6.9), for headers that predate it */
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

/* pwrite at off even on an O_APPEND file (f->write_flags), where pwrite(2)
 * would append: the registration names the offset, not the end */
static inline ssize_t zc_pwrite(const struct zc_file *f, const void *buf,
				size_t len, uint64_t off)
{
	struct iovec iov = { (void *)buf, len };

	if (zc_likely(!f->write_flags))
		return pwrite(f->fd, buf, len, (off_t)off);
	return pwritev2(f->fd, &iov, 1, (off_t)off, f->write_flags);
}

/* pread/pwrite loop: EINTR/EAGAIN retried, short only at EOF. Inline:
 * the synchronous page-cache path is one call, and a frame costs about
 * as much as the rest of the library's work there. */
ssize_t zc_sys_rw_rest(const struct zc_file *f, enum zc_dir dir, void *buf,
		       size_t len, uint64_t off, ssize_t n);
static inline ssize_t zc_sys_rw(const struct zc_file *f, enum zc_dir dir,
				void *buf, size_t len, uint64_t off)
{
	ssize_t n = dir == ZC_DIR_READ ? pread(f->fd, buf, len, (off_t)off) :
					 zc_pwrite(f, buf, len, off);

	if (zc_likely(n == (ssize_t)len))
		return n;
	return zc_sys_rw_rest(f, dir, buf, len, off, n);
}
/* Ordinary I/O on a registration's memory, for backends whose memory
 * needs no special path (bounce, odp_mr): pread/pwrite, and plain ring
 * operations in queues (inline on shmem files). Both pass the backend's
 * "io" fault step. */
ssize_t zc_plain_io(struct zc_reg *r, const struct zc_io *io);
int zc_plain_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		  uint64_t cookie);
/* I/O on an O_DIRECT file all through library memory, whatever the
 * alignment; the caller's memory is copied by the kernel, or with memcpy
 * where cpu (PCIe peer memory, which the kernel's copy cannot reach) */
ssize_t zc_staged_rw(struct zc_file *f, enum zc_dir dir, void *buf, size_t len,
		     uint64_t off, bool cpu);
/* The io and prep ops of a backend whose memory may be memory the file's
 * device does not DMA into (r->cpu_only): then copied by the CPU, through
 * staging on O_DIRECT, a dma-buf's CPU access bracketed with
 * DMA_BUF_IOCTL_SYNC, queued ops run inline; otherwise zc_plain_io and
 * zc_plain_prep. Both pass the "io" fault step. */
ssize_t zc_devmem_io(struct zc_reg *r, const struct zc_io *io);
int zc_devmem_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		   uint64_t cookie);
/* the CPU's mapping of bytes [0, +length) of the request's dma-buf as
 * r->addr, r->cpu_only set */
int zc_map_dmabuf(struct zc_reg *r, char *reason, size_t len);
/* full-range I/O on f with any alignment (edges staged for O_DIRECT) */
ssize_t zc_file_rw(struct zc_file *f, enum zc_dir dir, void *buf, size_t len,
		   uint64_t off);
/* MAP_FILE helpers used by more than one backend */
int zc_map_file(struct zc_reg *r, bool writable, char *reason, size_t len);
int zc_copy_file(struct zc_reg *r, char *reason, size_t len);
/* read-only memory for a MAP_FILE registration without ZC_ACCESS_WRITE */
int zc_map_seal(struct zc_reg *r, char *reason, size_t len);
/* library memory of `size` bytes holding `fill` bytes of the file from
 * `off`, read with pread (zeros past the end of the file): 0, or -errno
 * with a reason */
int zc_file_snapshot(struct zc_reg *r, uint64_t off, size_t fill, size_t size,
		     void **out, char *reason, size_t len);
void zc_unmap(struct zc_reg *r);
/* MAP_FILE over the file's own mapping: msync makes the stores durable */
int zc_map_sync(struct zc_reg *r, size_t reg_off, size_t len);

#endif /* ZC_BACKEND_H */
