/* SPDX-License-Identifier: MIT */
/* RDMA memory regions shared by the backends (see mr.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mr.h"

#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

int zc_mr_possible(const struct zc_ctx *ctx, const struct zc_reg_req *req,
		   char *reason, size_t len)
{
	if (!zc_mr_dev_info(ctx)) {
		snprintf(reason, len, "%s", ctx->mr_reason);
		return -EOPNOTSUPP;
	}
	if (req->mem_type == ZC_MEM_HOST && !(req->flags & ZC_REG_MAP_FILE) &&
	    (req->access & ZC_ACCESS_REMOTE_WRITE) && !(req->mem & ZC_MEM_WRITABLE)) {
		snprintf(reason, len, "memory is read-only but "
			 "ZC_ACCESS_REMOTE_WRITE lets a peer store into it");
		return -EFAULT;
	}
	return 0;
}

int zc_mr_file_pinnable(const struct zc_ctx *ctx, const struct zc_reg_req *req,
			char *reason, size_t len)
{
	const struct zc_file_info *fi = &req->file->info;

	if (!(req->access & ZC_ACCESS_REMOTE_READ)) {
		snprintf(reason, len, "a pinned MR over the file's pages serves "
			 "ZC_ACCESS_REMOTE_READ only");
		return -EOPNOTSUPP;
	}
	if (req->access & ZC_ACCESS_REMOTE_WRITE) {
		snprintf(reason, len, "remote write: the kernel refuses writable "
			 "long-term pins of page-cache pages (a normal MR over the "
			 "file's pages may allow RDMA READ only)");
		return -EOPNOTSUPP;
	}
	if (req->access & ZC_ACCESS_WRITE) {
		snprintf(reason, len, "ZC_ACCESS_WRITE: stores into the file's pages "
			 "need a writable long-term pin, which the kernel refuses "
			 "for page-cache pages");
		return -EOPNOTSUPP;
	}
	if (fi->flags & ZC_FILE_DAX) {
		snprintf(reason, len, "FS-DAX file pages cannot be pinned long-term");
		return -EOPNOTSUPP;
	}
	return zc_mr_possible(ctx, req, reason, len);
}

#if ZC_HAVE_IBVERBS

#include <infiniband/verbs.h>

#include "sys/verbs.h"

/* ODP registration may fail with EAGAIN while the device's page tables
 * are busy (documented for ibv_reg_mr with ODP); a few tries, then the
 * next backend */
#define ZC_MR_REG_TRIES 8
#define ZC_STR_(x) #x
#define ZC_STR(x) ZC_STR_(x)

struct zc_mr_dev {
	struct zc_mr_dev_info info;
	struct zc_verbs v;
	struct ibv_context *dev; /* opened by us, NULL with the caller's PD */
	struct ibv_pd *pd;       /* the caller's or our own */
};

/* the device's name, vendor and ODP capabilities: 0 or -errno */
static int read_caps(struct zc_mr_dev *md, struct ibv_context *dev,
		     char *reason, size_t len)
{
	struct ibv_device_attr_ex attr;
	int err;

	snprintf(md->info.name, sizeof(md->info.name), "%s",
		 md->v.get_device_name(dev->device));
	memset(&attr, 0, sizeof(attr));
	err = zc_verbs_query_device_ex(&md->v, dev, &attr);
	if (err) {
		snprintf(reason, len, "%s: ibv_query_device_ex: %s",
			 md->info.name, strerror(err));
		return -err;
	}
	md->info.vendor_id = attr.orig_attr.vendor_id;
	md->info.odp_caps = attr.odp_caps.general_caps;
	md->info.rc_odp_caps = attr.odp_caps.per_transport_caps.rc_odp_caps;
	return 0;
}

/* device i of list, opened with its caps read: 0 or -errno */
static int open_one(struct zc_mr_dev *md, struct ibv_device *d,
		    struct ibv_context **out, char *reason, size_t len)
{
	struct ibv_context *dev;
	int ret;

	errno = 0;
	dev = md->v.open_device(d);
	if (!dev) {
		ret = errno ? -errno : -ENODEV;
		snprintf(reason, len, "%s: ibv_open_device: %s",
			 md->v.get_device_name(d), strerror(-ret));
		return ret;
	}
	ret = read_caps(md, dev, reason, len);
	if (ret)
		md->v.close_device(dev);
	else
		*out = dev;
	return ret;
}

/* The first device with ODP, else the first that opens: our own context
 * and PD. */
static int open_own_device(struct zc_mr_dev *md, char *reason, size_t len)
{
	struct ibv_device **list;
	int n, ret = -ENODEV, first = -1;

	n = zc_verbs_devices(&md->v, &list, reason, len);
	if (n < 0)
		return n;
	for (int i = 0; i < n && !md->dev; i++) {
		struct ibv_context *dev;

		ret = open_one(md, list[i], &dev, reason, len);
		if (ret)
			continue;
		if (first < 0)
			first = i;
		if (md->info.odp_caps & IBV_ODP_SUPPORT)
			md->dev = dev;
		else
			md->v.close_device(dev);
	}
	if (!md->dev && first >= 0)
		ret = open_one(md, list[first], &md->dev, reason, len);
	md->v.free_device_list(list);
	if (!md->dev)
		return ret;
	errno = 0;
	md->pd = md->v.alloc_pd(md->dev);
	if (!md->pd) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(reason, len, "%s: ibv_alloc_pd: %s", md->info.name,
			 strerror(-ret));
		md->v.close_device(md->dev);
		return ret;
	}
	return 0;
}

int zc_mr_dev_open(struct zc_ctx *ctx)
{
	char *reason = ctx->mr_reason;
	const size_t len = sizeof(ctx->mr_reason);
	struct zc_mr_dev *md = calloc(1, sizeof(*md));
	int ret;

	if (!md) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	ret = zc_verbs_open(&md->v, reason, len);
	if (!ret && ctx->pd) {
		md->pd = ctx->pd;
		md->info.callers_pd = true;
		ret = read_caps(md, ctx->pd->context, reason, len);
	} else if (!ret) {
		ret = open_own_device(md, reason, len);
	}
	if (ret) {
		zc_verbs_close(&md->v);
		free(md);
		return ret;
	}
	snprintf(reason, len, "%s%s", md->info.name,
		 md->info.callers_pd ? " (the caller's PD)" : "");
	ctx->mr_dev = md;
	return 0;
}

void zc_mr_dev_close(struct zc_ctx *ctx)
{
	struct zc_mr_dev *md = ctx->mr_dev;

	if (!md)
		return;
	if (md->dev) {
		md->v.dealloc_pd(md->pd);
		md->v.close_device(md->dev);
	}
	zc_verbs_close(&md->v);
	free(md);
	ctx->mr_dev = NULL;
}

const struct zc_mr_dev_info *zc_mr_dev_info(const struct zc_ctx *ctx)
{
	return ctx->mr_dev ? &ctx->mr_dev->info : NULL;
}

/* The verbs access of r's MR: LOCAL_WRITE wherever the memory is written
 * on this side (zc_read into it, stores into a writable MAP_FILE range)
 * and wherever a peer writes (verbs requires it with REMOTE_WRITE). */
static unsigned mr_access(const struct zc_reg *r, bool on_demand)
{
	const unsigned a = r->req.access;
	unsigned access = on_demand ? IBV_ACCESS_ON_DEMAND : 0;

	if ((r->io_access & ZC_ACCESS_READ) || (a & ZC_ACCESS_REMOTE_WRITE) ||
	    ((r->req.flags & ZC_REG_MAP_FILE) && (a & ZC_ACCESS_WRITE)))
		access |= IBV_ACCESS_LOCAL_WRITE;
	if (a & ZC_ACCESS_REMOTE_READ)
		access |= IBV_ACCESS_REMOTE_READ;
	if (a & ZC_ACCESS_REMOTE_WRITE)
		access |= IBV_ACCESS_REMOTE_WRITE;
	return access;
}

/* r->mr over r's memory (ODP when on_demand), or over bytes [0, +length)
 * of its dma-buf at I/O virtual address 0 (dmabuf) */
static int mr_reg(struct zc_reg *r, bool on_demand, bool dmabuf, char *reason,
		  size_t len)
{
	struct zc_mr_dev *md = r->ctx->mr_dev;
	const unsigned access = mr_access(r, on_demand);
	const char *call = dmabuf ? "ibv_reg_dmabuf_mr" : on_demand ?
			   "ibv_reg_mr IBV_ACCESS_ON_DEMAND" : "ibv_reg_mr";
	struct ibv_mr *mr = NULL;
	bool injected = false;
	int err = 0, tries;

	for (tries = 1; tries <= ZC_MR_REG_TRIES; tries++) {
		err = -zc_fault_hit(r->ctx->faults, r->backend, "reg_mr");
		injected = err != 0;
		if (!err) {
			errno = 0;
			if (dmabuf)
				mr = md->v.reg_dmabuf_mr(md->pd, 0, r->req.length, 0,
							 r->req.dmabuf_fd, (int)access);
			else
				mr = md->v.reg_mr_iova2(md->pd, r->addr, r->length,
						       (uintptr_t)r->addr, access);
			err = mr ? 0 : errno ? errno : EIO;
		}
		if (err != EAGAIN)
			break;
	}
	if (!mr) {
		snprintf(reason, len, "%s on %s: %s%s%s", call, md->info.name,
			 strerror(err), err == EAGAIN ?
			 " after " ZC_STR(ZC_MR_REG_TRIES) " tries" : "",
			 injected ? " (injected by ZC_FAULT)" : "");
		return -err;
	}
	r->mr = mr;
	snprintf(reason, len, "%sMR on %s (lkey 0x%x, rkey 0x%x%s)",
		 dmabuf ? "dma-buf " : on_demand ? "ODP " : "", md->info.name,
		 mr->lkey, mr->rkey, tries > 1 ? ", after EAGAIN" : "");
	return 0;
}

int zc_mr_reg(struct zc_reg *r, bool on_demand, char *reason, size_t len)
{
	return mr_reg(r, on_demand, false, reason, len);
}

int zc_mr_reg_dmabuf(struct zc_reg *r, char *reason, size_t len)
{
	return mr_reg(r, false, true, reason, len);
}

/* one scatter/gather entry holds at most 2^32 - 1 bytes */
#define ZC_MR_ADVISE_CHUNK (UINT32_C(1) << 30)

int zc_mr_prefetch(struct zc_reg *r, size_t off, size_t len, bool write)
{
	struct ibv_mr *mr = r->mr;
	int err = 0;

	while (len && !err) {
		size_t n = ZC_MIN(len, (size_t)ZC_MR_ADVISE_CHUNK);
		struct ibv_sge sge = { .addr = (uintptr_t)r->addr + off,
				       .length = (uint32_t)n, .lkey = mr->lkey };

		err = zc_verbs_advise_mr(mr->pd, write ?
					 IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE :
					 IBV_ADVISE_MR_ADVICE_PREFETCH,
					 IBV_ADVISE_MR_FLAG_FLUSH, &sge, 1);
		off += n;
		len -= n;
	}
	return -err;
}

void zc_mr_dereg(struct zc_reg *r)
{
	struct zc_mr_dev *md = r->ctx->mr_dev;
	int err;

	if (!r->mr)
		return;
	err = md->v.dereg_mr(r->mr);
	if (err)
		zc_warn(r->ctx, "ibv_dereg_mr on %s: %s", md->info.name,
			strerror(err));
	r->mr = NULL;
}

int zc_mr_keys(const struct zc_reg *r, struct zc_rdma_keys *keys)
{
	const struct ibv_mr *mr = r->mr;

	if (!mr)
		return -ENODATA;
	*keys = (struct zc_rdma_keys){ .lkey = mr->lkey, .rkey = mr->rkey,
				       .addr = (uintptr_t)mr->addr };
	return 0;
}

#else /* !ZC_HAVE_IBVERBS: no device, no MR */

int zc_mr_dev_open(struct zc_ctx *ctx)
{
	snprintf(ctx->mr_reason, sizeof(ctx->mr_reason), "no RDMA memory "
		 "regions in this build: %s", ZC_WHY_NO_IBVERBS);
	return -EOPNOTSUPP;
}

void zc_mr_dev_close(struct zc_ctx *ctx)
{
	(void)ctx;
}

const struct zc_mr_dev_info *zc_mr_dev_info(const struct zc_ctx *ctx)
{
	(void)ctx;
	return NULL;
}

/* unreachable: zc_mr_possible refuses every request first */
int zc_mr_reg(struct zc_reg *r, bool on_demand, char *reason, size_t len)
{
	(void)on_demand;
	snprintf(reason, len, "%s", r->ctx->mr_reason);
	return -EOPNOTSUPP;
}

int zc_mr_reg_dmabuf(struct zc_reg *r, char *reason, size_t len)
{
	return zc_mr_reg(r, false, reason, len);
}

int zc_mr_prefetch(struct zc_reg *r, size_t off, size_t len, bool write)
{
	(void)r, (void)off, (void)len, (void)write;
	return -ENODATA;
}

void zc_mr_dereg(struct zc_reg *r)
{
	(void)r;
}

int zc_mr_keys(const struct zc_reg *r, struct zc_rdma_keys *keys)
{
	(void)r;
	(void)keys;
	return -ENODATA;
}

#endif
