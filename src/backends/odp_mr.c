/* SPDX-License-Identifier: MIT */
/*
 * odp_mr: an RDMA On-Demand-Paging memory region (IBV_ACCESS_ON_DEMAND)
 * over the registration's memory, for registrations an RDMA peer may
 * access (ZC_ACCESS_REMOTE_*). A ZC_REG_MAP_FILE range is the file's own
 * MAP_SHARED mapping: the NIC faults its page-cache pages in as it goes
 * and the kernel's MMU notifier takes them back when the file system
 * needs them (truncation, reclaim), so nothing is pinned and no lease is
 * needed. Host memory is the caller's, as it is.
 *
 * The memory stays ordinary memory: zc_read/zc_write and queues use the
 * plain paths (io.c), zc_sync msyncs the mapping.
 *
 * The device, its PD and the MR itself are mr.c's, shared with bounce's
 * normal MRs: the caller's PD (ZC_CTX_FIELD_PD), else the first device
 * with ODP. This file decides when ODP applies.
 *
 * Without a REMOTE bit this backend does not apply: nothing would use the
 * MR, and pin_lease/uring_fixed serve local I/O better.
 */
#include <stdio.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "../backend.h"
#include "../mr.h"
#include "../quirks.h"

#define ODP ZC_BACKEND_ODP_MR
#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

static int odp_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	const struct zc_mr_dev_info *di = zc_mr_dev_info(ctx);
	int ret = zc_fault_hit(ctx->faults, ODP, "probe");

	if (ret) {
		snprintf(reason, len, "probe: %s (injected by ZC_FAULT)",
			 strerror(-ret));
		return ret;
	}
	if (!di) {
		snprintf(reason, len, "%s", ctx->mr_reason);
		return -ENODEV;
	}
	if (!(di->odp_caps & IBV_ODP_SUPPORT)) {
		snprintf(reason, len, "%s has no On-Demand Paging "
			 "(odp_caps.general_caps 0x%llx)", di->name,
			 (unsigned long long)di->odp_caps);
		return -EOPNOTSUPP;
	}
	snprintf(reason, len, "ODP MRs on %s%s (general_caps 0x%llx, rc_odp_caps "
		 "0x%x)", di->name, di->callers_pd ? " in the caller's PD" : "",
		 (unsigned long long)di->odp_caps, di->rc_odp_caps);
	return 0;
}

/* the RC ODP capability a peer's access needs and lacks, NULL if none */
static const char *rc_cap_missing(const struct zc_mr_dev_info *di,
				  unsigned access)
{
	if ((access & ZC_ACCESS_REMOTE_READ) &&
	    !(di->rc_odp_caps & IBV_ODP_SUPPORT_READ))
		return "RDMA READ (IBV_ODP_SUPPORT_READ)";
	if ((access & ZC_ACCESS_REMOTE_WRITE) &&
	    !(di->rc_odp_caps & IBV_ODP_SUPPORT_WRITE))
		return "RDMA WRITE (IBV_ODP_SUPPORT_WRITE)";
	return NULL;
}

static int odp_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		     char *reason, size_t len)
{
	const struct zc_mr_dev_info *di = zc_mr_dev_info(ctx);
	const struct zc_quirk *q;
	const char *missing;

	if (req->mem_type != ZC_MEM_HOST) {
		snprintf(reason, len, "odp_mr registers host memory only");
		return -EOPNOTSUPP;
	}
	missing = rc_cap_missing(di, req->access);
	if (missing) {
		snprintf(reason, len, "%s: ODP on RC QPs lacks %s (rc_odp_caps 0x%x)",
			 di->name, missing, di->rc_odp_caps);
		return -EOPNOTSUPP;
	}
	q = zc_quirk_match(di->name, di->vendor_id, ZC_QUIRK_ODP_REMOTE,
			   ctx->quirks_ignored);
	if (q) {
		snprintf(reason, len, "quirk %s on %s: %s", q->name, di->name,
			 q->reason);
		return -EOPNOTSUPP;
	}
	if ((req->flags & ZC_REG_MAP_FILE) && (req->access & ZC_ACCESS_REMOTE_WRITE) &&
	    !(req->file->info.flags & ZC_FILE_WRITABLE)) {
		snprintf(reason, len, "ZC_ACCESS_REMOTE_WRITE into the file "
			 "needs a writable mapping: open the file O_RDWR");
		return -EACCES;
	}
	return zc_mr_possible(ctx, req, reason, len);
}

static int odp_reg(struct zc_reg *r, char *reason, size_t len)
{
	const bool map_file = r->req.flags & ZC_REG_MAP_FILE;
	size_t used;
	int ret;

	/* a peer's writes fault pages in for write: the mapping must allow it */
	if (map_file) {
		ret = zc_map_file(r, r->req.access & (ZC_ACCESS_WRITE |
						      ZC_ACCESS_REMOTE_WRITE),
				  reason, len);
		if (ret)
			return ret;
	}
	ret = zc_mr_reg(r, true, reason, len);
	if (ret) {
		zc_unmap(r);
		return ret;
	}
	used = strlen(reason);
	snprintf(reason + used, len - used, " over %s: no pin",
		 map_file ? "a MAP_SHARED mapping of the file" : "the caller's memory");
	return 0;
}

/* the MR first: the NIC may not fault in a range that is gone */
static void odp_dereg(struct zc_reg *r)
{
	zc_mr_dereg(r);
	zc_unmap(r);
}

static int odp_prefetch(struct zc_reg *r, size_t reg_off, size_t len,
			unsigned flags)
{
	return zc_mr_prefetch(r, reg_off, len, flags & ZC_PREFETCH_WRITE);
}

static const char *const odp_fault_steps[] = { "probe", "reg_mr", "io", NULL };

const struct zc_backend_ops zc_odp_mr_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = ODP,
	.name = "odp_mr",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_RDMA,
	.fault_steps = odp_fault_steps,
	.serves_access = ZC_REMOTE,
	.probe = odp_probe,
	.score = odp_score,
	.reg = odp_reg,
	.dereg = odp_dereg,
	.io = zc_plain_io,
	.prep = zc_plain_prep,
	.sync = zc_map_sync,
	.rdma_keys = zc_mr_keys,
	.prefetch = odp_prefetch,
};
