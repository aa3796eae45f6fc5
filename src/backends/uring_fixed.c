/* SPDX-License-Identifier: MIT */
/*
 * uring_fixed: the memory becomes io_uring fixed buffers (pinned once, at
 * registration) and the file a fixed file, so READ_FIXED/WRITE_FIXED skip
 * the per-I/O page pinning and file lookup. The fixed-buffer data path is
 * shared with pin_lease (src/fixed.c).
 */
#include <stdio.h>

#include "../backend.h"

static int uf_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	char facts[128];

	if (!ctx->rings) {
		snprintf(reason, len, "%s", ctx->uring_reason);
		return -ENOSYS;
	}
	zc_rings_describe(ctx->rings, facts, sizeof(facts));
	snprintf(reason, len, "io_uring fixed buffers (%u slots of up to 1 GiB; %s)",
		 ZC_MAX_SLOTS, facts);
	return 0;
}

static int uf_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		    char *reason, size_t len)
{
	const struct zc_file_info *fi = &req->file->info;

	if (req->mem_type != ZC_MEM_HOST) {
		snprintf(reason, len, "only host memory can be an io_uring fixed buffer");
		return -EOPNOTSUPP;
	}
	if (req->length > (size_t)ZC_MAX_SLOTS * ZC_MAX_SLOT_BYTES) {
		snprintf(reason, len, "%zu bytes exceed %u slots of 1 GiB",
			 req->length, ZC_MAX_SLOTS);
		return -E2BIG;
	}
	if (req->flags & ZC_REG_MAP_FILE) {
		int ret = zc_fixed_file_pinnable(fi, reason, len);

		return ret; /* 0 accepts; the registry's order decides the rest */
	}
	if (!(req->mem & ZC_MEM_WRITABLE)) {
		snprintf(reason, len, "memory is read-only: io_uring pins fixed "
			 "buffers for write (FOLL_WRITE)");
		return -EFAULT;
	}
	if (req->mem & ZC_MEM_PRIVATE_FILE) {
		snprintf(reason, len, "memory is a MAP_PRIVATE file mapping: a pin "
			 "would hold copy-on-write copies detached from the file");
		return -EFAULT;
	}
	return 0;
}

static int uf_reg(struct zc_reg *r, char *reason, size_t len)
{
	if (r->req.flags & ZC_REG_MAP_FILE)
		return zc_fixed_pin_file(r, ZC_BACKEND_URING_FIXED, reason, len);
	return zc_fixed_pin(r, ZC_BACKEND_URING_FIXED, reason, len);
}

static void uf_dereg(struct zc_reg *r)
{
	zc_fixed_unpin(r);
	zc_unmap(r);
}

static const char *const uf_fault_steps[] = { "register", "io", NULL };

const struct zc_backend_ops zc_uring_fixed_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = ZC_BACKEND_URING_FIXED,
	.name = "uring_fixed",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_URING,
	.fault_steps = uf_fault_steps,
	.probe = uf_probe,
	.score = uf_score,
	.reg = uf_reg,
	.dereg = uf_dereg,
	.io = zc_fixed_io,
	.prep = zc_fixed_prep,
	.sync = zc_map_sync,
	.buf_index = zc_fixed_buf_index,
};
