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
 * libibverbs is reached only through sys/verbs.h (dlopen'd); its header
 * is used for struct layouts and constants. The MRs go into the caller's
 * PD (ZC_CTX_FIELD_PD) or into a PD of the first device that has ODP.
 * Without a REMOTE bit this backend does not apply: nothing would use the
 * MR, and pin_lease/uring_fixed serve local I/O better.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "../backend.h"
#include "../quirks.h"
#include "../sys/verbs.h"

#define ODP ZC_BACKEND_ODP_MR
#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)
/* ODP registration may fail with EAGAIN while the device's page tables
 * are busy (documented for ibv_reg_mr with ODP); a few tries, then the
 * next backend */
#define ODP_REG_TRIES 8
#define ZC_STR_(x) #x
#define ZC_STR(x) ZC_STR_(x)

/* per context: ctx->be[ODP].priv */
struct odp_ctx {
	struct zc_verbs v;
	struct ibv_context *dev; /* opened by us, NULL with the caller's PD */
	struct ibv_pd *pd;       /* the caller's or our own */
	bool own_pd;
	char name[64];           /* the device's name */
	uint32_t vendor_id;
	struct ibv_odp_caps odp;
};

static struct odp_ctx *odp_ctx_of(struct zc_ctx *ctx)
{
	return ctx->be[ODP].priv;
}

/* 0 when dev can register ODP MRs; else -errno with a reason */
static int read_odp_caps(struct odp_ctx *oc, struct ibv_context *dev,
			 char *reason, size_t len)
{
	struct ibv_device_attr_ex attr;
	int err;

	snprintf(oc->name, sizeof(oc->name), "%s",
		 oc->v.get_device_name(dev->device));
	memset(&attr, 0, sizeof(attr));
	err = zc_verbs_query_device_ex(&oc->v, dev, &attr);
	if (err) {
		snprintf(reason, len, "%s: ibv_query_device_ex: %s", oc->name,
			 strerror(err));
		return -err;
	}
	oc->vendor_id = attr.orig_attr.vendor_id;
	oc->odp = attr.odp_caps;
	if (!(oc->odp.general_caps & IBV_ODP_SUPPORT)) {
		snprintf(reason, len, "%s has no On-Demand Paging "
			 "(odp_caps.general_caps 0x%llx)", oc->name,
			 (unsigned long long)oc->odp.general_caps);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The first device that opens and has ODP: our own context and PD. */
static int open_own_device(struct odp_ctx *oc, char *reason, size_t len)
{
	struct ibv_device **list;
	int n, ret;

	n = zc_verbs_devices(&oc->v, &list, reason, len);
	if (n < 0)
		return n;
	ret = -ENODEV;
	for (int i = 0; i < n && ret; i++) {
		struct ibv_context *dev = oc->v.open_device(list[i]);

		if (!dev) {
			ret = errno ? -errno : -ENODEV;
			snprintf(reason, len, "%s: ibv_open_device: %s",
				 oc->v.get_device_name(list[i]), strerror(-ret));
			continue;
		}
		ret = read_odp_caps(oc, dev, reason, len);
		if (!ret) {
			oc->pd = oc->v.alloc_pd(dev);
			if (!oc->pd) {
				ret = errno ? -errno : -ENOMEM;
				snprintf(reason, len, "%s: ibv_alloc_pd: %s",
					 oc->name, strerror(-ret));
			}
		}
		if (ret)
			oc->v.close_device(dev);
		else
			oc->dev = dev;
	}
	oc->v.free_device_list(list);
	oc->own_pd = !ret;
	return ret;
}

static int odp_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	struct odp_ctx *oc;
	int ret = zc_fault_hit(ctx->faults, ODP, "probe");

	if (ret) {
		snprintf(reason, len, "probe: %s (injected by ZC_FAULT)",
			 strerror(-ret));
		return ret;
	}
	oc = calloc(1, sizeof(*oc));
	if (!oc) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	ret = zc_verbs_open(&oc->v, reason, len);
	if (!ret && ctx->pd) {
		oc->pd = ctx->pd;
		ret = read_odp_caps(oc, ctx->pd->context, reason, len);
	} else if (!ret) {
		ret = open_own_device(oc, reason, len);
	}
	if (ret) {
		zc_verbs_close(&oc->v);
		free(oc);
		return ret;
	}
	ctx->be[ODP].priv = oc;
	snprintf(reason, len, "ODP MRs on %s%s (general_caps 0x%llx, rc_odp_caps "
		 "0x%x)", oc->name, oc->own_pd ? "" : " in the caller's PD",
		 (unsigned long long)oc->odp.general_caps,
		 oc->odp.per_transport_caps.rc_odp_caps);
	return 0;
}

static void odp_cleanup(struct zc_ctx *ctx)
{
	struct odp_ctx *oc = odp_ctx_of(ctx);

	if (oc->own_pd) {
		oc->v.dealloc_pd(oc->pd);
		oc->v.close_device(oc->dev);
	}
	zc_verbs_close(&oc->v);
	free(oc);
	ctx->be[ODP].priv = NULL;
}

/* the RC ODP capability a peer's access needs, and its name */
static int rc_cap_missing(const struct odp_ctx *oc, unsigned access,
			  const char **what)
{
	const uint32_t rc = oc->odp.per_transport_caps.rc_odp_caps;

	if ((access & ZC_ACCESS_REMOTE_READ) && !(rc & IBV_ODP_SUPPORT_READ)) {
		*what = "RDMA READ (IBV_ODP_SUPPORT_READ)";
		return 1;
	}
	if ((access & ZC_ACCESS_REMOTE_WRITE) && !(rc & IBV_ODP_SUPPORT_WRITE)) {
		*what = "RDMA WRITE (IBV_ODP_SUPPORT_WRITE)";
		return 1;
	}
	return 0;
}

static int odp_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		     char *reason, size_t len)
{
	const struct odp_ctx *oc = odp_ctx_of(ctx);
	const struct zc_quirk *q;
	const char *what;

	if (req->mem_type != ZC_MEM_HOST) {
		snprintf(reason, len, "odp_mr registers host memory only");
		return -EOPNOTSUPP;
	}
	if (rc_cap_missing(oc, req->access, &what)) {
		snprintf(reason, len, "%s: ODP on RC QPs lacks %s (rc_odp_caps 0x%x)",
			 oc->name, what, oc->odp.per_transport_caps.rc_odp_caps);
		return -EOPNOTSUPP;
	}
	q = zc_quirk_match(oc->name, oc->vendor_id, ZC_QUIRK_ODP_REMOTE,
			   ctx->quirks_ignored);
	if (q) {
		snprintf(reason, len, "quirk %s on %s: %s", q->name, oc->name,
			 q->reason);
		return -EOPNOTSUPP;
	}
	if (req->flags & ZC_REG_MAP_FILE) {
		if ((req->access & ZC_ACCESS_REMOTE_WRITE) &&
		    !(req->file->info.flags & ZC_FILE_WRITABLE)) {
			snprintf(reason, len, "ZC_ACCESS_REMOTE_WRITE into the file "
				 "needs a writable mapping: open the file O_RDWR");
			return -EACCES;
		}
		return 0;
	}
	if ((req->access & ZC_ACCESS_REMOTE_WRITE) && !(req->mem & ZC_MEM_WRITABLE)) {
		snprintf(reason, len, "memory is read-only but "
			 "ZC_ACCESS_REMOTE_WRITE lets a peer store into it");
		return -EFAULT;
	}
	return 0;
}

/* The verbs access of r's MR: LOCAL_WRITE wherever the memory is written
 * on this side (zc_read into it, stores into a writable file mapping) and
 * wherever a peer writes (verbs requires it with REMOTE_WRITE). */
static unsigned mr_access(const struct zc_reg *r)
{
	const unsigned a = r->req.access;
	unsigned access = IBV_ACCESS_ON_DEMAND;

	if ((r->io_access & ZC_ACCESS_READ) || (a & ZC_ACCESS_REMOTE_WRITE) ||
	    ((r->req.flags & ZC_REG_MAP_FILE) && (a & ZC_ACCESS_WRITE)))
		access |= IBV_ACCESS_LOCAL_WRITE;
	if (a & ZC_ACCESS_REMOTE_READ)
		access |= IBV_ACCESS_REMOTE_READ;
	if (a & ZC_ACCESS_REMOTE_WRITE)
		access |= IBV_ACCESS_REMOTE_WRITE;
	return access;
}

/* ibv_reg_mr with ODP, EAGAIN retried a bounded number of times */
static struct ibv_mr *reg_odp_mr(struct zc_reg *r, unsigned access, int *err,
				 int *tries, bool *injected)
{
	struct odp_ctx *oc = odp_ctx_of(r->ctx);
	struct ibv_mr *mr = NULL;

	for (*tries = 1; *tries <= ODP_REG_TRIES; ++*tries) {
		*err = -zc_fault_hit(r->ctx->faults, ODP, "reg_mr");
		*injected = *err != 0;
		if (!*err) {
			errno = 0;
			mr = oc->v.reg_mr_iova2(oc->pd, r->addr, r->length,
						(uintptr_t)r->addr, access);
			*err = mr ? 0 : errno ? errno : EIO;
		}
		if (*err != EAGAIN)
			break;
	}
	return mr;
}

static int odp_reg(struct zc_reg *r, char *reason, size_t len)
{
	const bool map_file = r->req.flags & ZC_REG_MAP_FILE;
	const unsigned a = r->req.access;
	struct ibv_mr *mr;
	int ret, err, tries;
	bool injected;

	if (map_file) {
		ret = zc_map_file(r, a & (ZC_ACCESS_WRITE | ZC_ACCESS_REMOTE_WRITE),
				  reason, len);
		if (ret)
			return ret;
	}
	mr = reg_odp_mr(r, mr_access(r), &err, &tries, &injected);
	if (!mr) {
		snprintf(reason, len, "ibv_reg_mr IBV_ACCESS_ON_DEMAND on %s: %s%s%s",
			 odp_ctx_of(r->ctx)->name, strerror(err),
			 err == EAGAIN ? " after " ZC_STR(ODP_REG_TRIES) " tries" : "",
			 injected ? " (injected by ZC_FAULT)" : "");
		zc_unmap(r);
		return -err;
	}
	r->priv = mr;
	snprintf(reason, len, "ODP MR on %s over %s (lkey 0x%x, rkey 0x%x%s): no pin",
		 odp_ctx_of(r->ctx)->name,
		 map_file ? "a MAP_SHARED mapping of the file" : "the caller's memory",
		 mr->lkey, mr->rkey, tries > 1 ? ", after EAGAIN" : "");
	return 0;
}

static void odp_dereg(struct zc_reg *r)
{
	struct odp_ctx *oc = odp_ctx_of(r->ctx);
	int err = oc->v.dereg_mr(r->priv);

	if (err)
		zc_warn(r->ctx, "ibv_dereg_mr on %s: %s", oc->name, strerror(err));
	r->priv = NULL;
	zc_unmap(r); /* after the MR: the NIC may not fault in an unmapped range */
}

static int odp_rdma_keys(const struct zc_reg *r, struct zc_rdma_keys *keys)
{
	const struct ibv_mr *mr = r->priv;

	*keys = (struct zc_rdma_keys){ .lkey = mr->lkey, .rkey = mr->rkey,
				       .addr = (uintptr_t)mr->addr };
	return 0;
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
	.cleanup = odp_cleanup,
	.score = odp_score,
	.reg = odp_reg,
	.dereg = odp_dereg,
	.io = zc_plain_io,
	.prep = zc_plain_prep,
	.sync = zc_map_sync,
	.rdma_keys = odp_rdma_keys,
};
