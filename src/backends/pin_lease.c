/* SPDX-License-Identifier: MIT */
/*
 * pin_lease: a ZC_REG_MAP_FILE registration whose memory is the file's own
 * MAP_SHARED pages, pinned long-term by a pinning agent (an io_uring fixed
 * buffer, through src/fixed.c) while the library holds a write lease on
 * the file. The lease is the early warning that another open of the file,
 * or a truncate(2) of its path, is coming (the holder's own ftruncate
 * does not break it): the lease monitor (src/sys/lease.c) then takes the
 * pin away, releases the lease, and only then leaves a copy of the
 * contents at the same address for bounce.
 *
 * The lease is always F_WRLCK: the io_uring pin needs a writable shared
 * mapping, hence an fd open for writing, and a read lease cannot be held
 * while the file is open for writing anywhere, ourselves included.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../internal.h"

static int pl_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	const char *off = zc_leases_disabled();

	if (!ctx->rings) {
		snprintf(reason, len, "no pinning agent: %s", ctx->uring_reason);
		return -ENOSYS;
	}
	if (off) {
		snprintf(reason, len, "file leases disabled by %s", off);
		return -EOPNOTSUPP;
	}
	snprintf(reason, len, "file pages pinned as io_uring fixed buffers under "
		 "a file lease (break signal %d)", ctx->lease_signal);
	return 0;
}

static int pl_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		    char *reason, size_t len)
{
	const struct zc_file_info *fi = &req->file->info;
	int ret;

	if (!(req->flags & ZC_REG_MAP_FILE))
		return ZC_SCORE_NOT_APPLICABLE; /* it pins the file's own pages */
	if (req->mem_type != ZC_MEM_HOST || !(fi->flags & ZC_FILE_REGULAR)) {
		snprintf(reason, len, "leases exist for regular files only");
		return -EOPNOTSUPP;
	}
	ret = zc_fixed_file_pinnable(fi, reason, len);
	if (ret)
		return ret;
	return fi->flags & ZC_FILE_SHMEM ? 200 : 20;
}

static int pl_reg(struct zc_reg *r, char *reason, size_t len)
{
	struct zc_file *f = r->file;
	int ret;

	pthread_mutex_lock(&f->lease_lock);
	ret = zc_lease_take(f, F_WRLCK, reason, len);
	if (ret)
		goto out;
	ret = zc_fixed_pin_file(r, ZC_BACKEND_PIN_LEASE, reason, len);
	if (ret) {
		zc_lease_put(f); /* before the next backend is tried */
		goto out;
	}
	r->lease_next = f->lease_regs;
	f->lease_regs = r;
	snprintf(reason + strlen(reason), len - strlen(reason),
		 " under a write lease");
out:
	pthread_mutex_unlock(&f->lease_lock);
	return ret;
}

/* Unlink r from its file; false if a lease break already took it. */
static bool unlink_leased(struct zc_reg *r)
{
	for (struct zc_reg **p = &r->file->lease_regs; *p; p = &(*p)->lease_next) {
		if (*p == r) {
			*p = r->lease_next;
			return true;
		}
	}
	return false;
}

/* Pin, then mapping, then lease; zc_reg_destroy holds the lease lock, so a
 * break handled on the monitor thread has finished with r or not begun. */
static void pl_dereg(struct zc_reg *r)
{
	zc_fixed_unpin(r);
	zc_unmap(r);
	if (unlink_leased(r))
		zc_lease_put(r->file);
}

/* First step of a lease break, before the lease is released: the pin
 * goes, the memory stays the file's mapping. */
static void pl_unpin(struct zc_reg *r)
{
	zc_rings_clear_buffer(r->ctx, r->slot_first, r->slot_count, true);
}

/*
 * Second step, after the lease is released (the breaker is not waiting for
 * it): library memory at the same virtual address, so CPU users keep their
 * pointers. It is filled with pread, not copied from the mapping: the
 * holder's own ftruncate does not break the lease, so the mapping may
 * reach past the end of the file, where touching it raises SIGBUS. What
 * lies past the end reads as zeros. RDMA users get new keys
 * (ZC_EVENT_BACKEND_CHANGED).
 */
static int pl_privatize(struct zc_reg *r, char *reason, size_t len)
{
	const uint64_t base_off = r->req.file_offset & ~(uint64_t)(zc_page_size() - 1);
	void *copy;
	int ret;

	ret = zc_file_snapshot(r, base_off, r->map.size, r->map.size, &copy,
			       reason, len);
	if (ret)
		return ret;
	if (mremap(copy, r->map.size, r->map.size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   r->map.base) == MAP_FAILED) {
		ret = -errno;
		snprintf(reason, len, "mremap of the copy over the file mapping: %s",
			 strerror(errno));
		zc_mem_free(copy, r->map.size);
		return ret;
	}
	r->map.is_file_map = false;
	r->map.is_alloc = true;
	/* read-only stays read-only, whichever backend it is on */
	return zc_map_seal(r, reason, len);
}

const struct zc_backend_ops zc_pin_lease_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = ZC_BACKEND_PIN_LEASE,
	.name = "pin_lease",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_URING | ZC_CAP_REVOCABLE,
	.probe = pl_probe,
	.score = pl_score,
	.reg = pl_reg,
	.dereg = pl_dereg,
	.io = zc_fixed_io,
	.prep = zc_fixed_prep,
	.sync = zc_fixed_sync,
	.unpin = pl_unpin,
	.privatize = pl_privatize,
};
