/* SPDX-License-Identifier: MIT */
/* Declarations the core's files share and no backend uses. */
#ifndef ZC_INTERNAL_H
#define ZC_INTERNAL_H

#include "backend.h"
#include "sys/deadline.h"

/* ------------------------------------------------------------------ */
/* backends/registry.c: the compiled-in backends, best first            */

/* the ops of backend b, NULL when it is not in this build */
const struct zc_backend_ops *zc_registry_ops(enum zc_backend b);
/* the i-th compiled-in backend in preference order, NULL past the end */
const struct zc_backend_ops *zc_registry_at(unsigned i);
/* the last of them: the floor that every registration can land on, and
 * the owner of the staging memory's fault step ("alloc") */
enum zc_backend zc_registry_floor(void);
/* why backend b is not in this build, in words a user can act on */
const char *zc_registry_not_built(enum zc_backend b);

/* ------------------------------------------------------------------ */
/* env.c: parsers of untrusted configuration strings                    */

/* "uring_fixed,bounce" or "^odp_mr,p2p_bar" or "all" -> allowed set.
 * On error returns -EINVAL and writes the offending token to err. */
int zc_parse_backends(const char *s, uint64_t *out, char *err, size_t errlen);
/* "error|warn|info|debug" (or 0..3) -> level, -EINVAL otherwise */
int zc_parse_log_level(const char *s);
/* enum from "uring_fixed" etc. (ZC_BACKEND_NONE if unknown) */
enum zc_backend zc_backend_from_name(const char *name, size_t len);
/* ZC_QUIRKS: "ignore:NAME[,ignore:NAME]" -> bit i set for quirks.c's
 * entry i. On error returns -EINVAL and writes the offending token to
 * err; *out is written only on success. */
int zc_parse_quirks(const char *s, uint64_t *out, char *err, size_t errlen);
/* errno from "ENOMEM" or "12"; 0 if not an errno */
int zc_parse_errno(const char *s, size_t len);
/* ------------------------------------------------------------------ */
/* events.c                                                             */

int zc_events_init(struct zc_ctx *ctx);
void zc_events_fini(struct zc_ctx *ctx);

/* ------------------------------------------------------------------ */
/* file.c                                                               */

uint64_t zc_file_serial_next(void);
/* forked child: the edge locks may have been held by threads that are gone */
void zc_edge_locks_reset(void);

/* ------------------------------------------------------------------ */
/* reg.c, select.c                                                      */

/* Every data path enters a registration through this gate so that a
 * revocation (lease break) never changes the backend under a running op. */
void zc_reg_wait_revocation(struct zc_reg *r);
static inline int zc_reg_enter(struct zc_reg *r, _Atomic int *counter)
{
	for (;;) {
		atomic_fetch_add(counter, 1);
		if (zc_likely(!atomic_load(&r->revoking)))
			break;
		atomic_fetch_sub(counter, 1);
		zc_reg_wait_revocation(r);
	}
	if (zc_unlikely(r->revoked)) {
		atomic_fetch_sub(counter, 1);
		return -EKEYREVOKED;
	}
	return 0;
}
static inline void zc_reg_exit(_Atomic int *counter)
{
	atomic_fetch_sub_explicit(counter, 1, memory_order_release);
}
int zc_select_and_register(struct zc_reg *r, uint64_t allowed);
void zc_attempts_revoked(struct zc_reg *r, enum zc_backend from,
			 enum zc_backend to, const char *what);
unsigned zc_attempts_view(const struct zc_reg *r, struct zc_attempt *out);

/* ------------------------------------------------------------------ */
/* io.c                                                                 */

/* v is a multiple of a, a power of two */
static inline bool zc_aligned(uint64_t v, uint64_t a)
{
	return (v & (a - 1)) == 0;
}
/* may [buf, +len) at file offset off go to an O_DIRECT fd as it is? */
static inline bool zc_direct_aligned(const struct zc_file *f, const void *buf,
				     uint64_t off, size_t len)
{
	return zc_aligned((uintptr_t)buf, f->info.dio_mem_align) &&
	       zc_aligned(off, f->info.dio_offset_align) &&
	       zc_aligned(len, f->info.dio_offset_align);
}
/* The memory alignment O_DIRECT on r's memory needs. PCIe peer memory
 * takes whole logical blocks: a read from one NVMe into another's CMB at
 * an address 4 bytes past a 512-byte boundary (what the queue's DMA
 * alignment allows) landed wrong after that boundary (qemu 7.2 NVMe,
 * kernel 7.3.4; tests/vm/p2pcheck.c prints it), while its own CMB and
 * block-aligned addresses were right. Staging the unaligned edges costs
 * one small copy. */
static inline uint32_t zc_reg_mem_align(const struct zc_reg *r)
{
	const struct zc_file_info *fi = &r->file->info;

	if (r->req.mem_type == ZC_MEM_P2P)
		return ZC_MAX(fi->dio_mem_align, fi->dio_offset_align);
	return fi->dio_mem_align;
}
/* may [buf, +len) of r's memory at file offset off go to an O_DIRECT fd
 * as it is? */
static inline bool zc_reg_direct_aligned(const struct zc_reg *r, const void *buf,
					 uint64_t off, size_t len)
{
	return zc_aligned((uintptr_t)buf, zc_reg_mem_align(r)) &&
	       zc_direct_aligned(r->file, buf, off, len);
}
/* checked I/O on a registration, through the O_DIRECT split; counts stats */
ssize_t zc_reg_rw(struct zc_reg *r, enum zc_dir dir, size_t reg_off,
		  uint64_t file_off, size_t len);
/* arguments of an I/O on r: 0, or -errno with a message (inline for the
 * data paths; the refusal is out of line) */
int zc_check_io_fail(struct zc_reg *r, const char *fn, enum zc_dir dir,
		     size_t reg_off, uint64_t file_off, size_t len)
	__attribute__((cold));
static inline int zc_check_io(struct zc_reg *r, const char *fn, enum zc_dir dir,
			      size_t reg_off, uint64_t file_off, size_t len)
{
	const unsigned need = dir == ZC_DIR_READ ? ZC_ACCESS_READ : ZC_ACCESS_WRITE;

	if (zc_likely(reg_off <= r->length && len <= r->length - reg_off &&
		      file_off <= (uint64_t)INT64_MAX &&
		      len <= (uint64_t)INT64_MAX - file_off &&
		      (r->io_access & need)))
		return 0;
	return zc_check_io_fail(r, fn, dir, reg_off, file_off, len);
}

/* ------------------------------------------------------------------ */
/* staging.c: bounded, NUMA-local staging memory                       */

struct zc_stage {
	void *buf;
	size_t size;
	int index;
};
int zc_staging_init(struct zc_ctx *ctx);
void zc_staging_fini(struct zc_ctx *ctx);
/* blocks while the cap is reached and every chunk is in use */
int zc_stage_get(struct zc_ctx *ctx, const struct zc_file *owner,
		 struct zc_stage *out);
void zc_stage_put(struct zc_ctx *ctx, const struct zc_stage *st);

#endif /* ZC_INTERNAL_H */
