/* SPDX-License-Identifier: MIT */
/*
 * RDMA memory regions, for every backend that gives a registration one:
 * odp_mr's on-demand-paging MR over the file's own pages, pin_lease's
 * normal (pinning) MR over the file's own pages for read-only remote
 * access, and bounce's normal MR over the memory it moves (the caller's,
 * or its copy of a ZC_REG_MAP_FILE range). The context holds one device and PD (the
 * caller's, or the first device with ODP, else the first that opens),
 * opened at zc_ctx_create through sys/verbs.h (libibverbs dlopen'd). A
 * registration holds at most one MR, in r->mr.
 *
 * Without the verbs headers at build time the calls below say so and
 * nothing has an MR.
 */
#ifndef ZC_MR_H
#define ZC_MR_H

#include <stdbool.h>

#include "core.h"

/* what the backends need to know about the context's device */
struct zc_mr_dev_info {
	char name[64];
	uint32_t vendor_id;
	uint64_t odp_caps;    /* odp_caps.general_caps (IBV_ODP_SUPPORT...) */
	uint32_t rc_odp_caps; /* odp_caps.per_transport_caps.rc_odp_caps */
	bool callers_pd;      /* the MRs go into zc_ctx_params.pd */
};

/* At zc_ctx_create: the device and PD, or ctx->mr_reason says why there
 * is none. -ENOMEM fails the context; other errors only leave it without. */
int zc_mr_dev_open(struct zc_ctx *ctx);
void zc_mr_dev_close(struct zc_ctx *ctx);
/* NULL when the context has no device (ctx->mr_reason) */
const struct zc_mr_dev_info *zc_mr_dev_info(const struct zc_ctx *ctx);
/* An MR over [r->addr, +r->length) with the access of r->req (ODP when
 * on_demand), in r->mr; EAGAIN retried a few times. The backend's
 * "reg_mr" fault step fails each try. 0, or -errno with a reason. */
int zc_mr_reg(struct zc_reg *r, bool on_demand, char *reason, size_t len);
/* An MR over bytes [0, +r->req.length) of the dma-buf r->req.dmabuf_fd
 * (ibv_reg_dmabuf_mr, I/O virtual address 0), in r->mr; likewise */
int zc_mr_reg_dmabuf(struct zc_reg *r, char *reason, size_t len);
/* ibv_advise_mr PREFETCH (_WRITE when write) of [off, +len) of r's MR,
 * waiting for it (IBV_ADVISE_MR_FLAG_FLUSH): 0 or -errno, -EOPNOTSUPP
 * where the device cannot */
int zc_mr_prefetch(struct zc_reg *r, size_t off, size_t len, bool write);
/* deregister r->mr, if any (before the memory goes) */
void zc_mr_dereg(struct zc_reg *r);

/* rdma_keys op for backends whose registrations may have an MR */
int zc_mr_keys(const struct zc_reg *r, struct zc_rdma_keys *keys);
/* May a backend give this request an MR? 0, or -errno with the reason:
 * no device, or remote writes into memory that is read-only. */
int zc_mr_possible(const struct zc_ctx *ctx, const struct zc_reg_req *req,
		   char *reason, size_t len);
/* May a normal (non-ODP) MR pin the file's own pages of this MAP_FILE
 * request? The kernel pins page-cache pages long-term only read-only: no
 * ZC_ACCESS_REMOTE_WRITE, no ZC_ACCESS_WRITE (stores into the mapping need
 * a writable pin), and never FS-DAX pages. Needs REMOTE_READ (nothing
 * else would use the MR) and a device. 0, or -errno with the reason. */
int zc_mr_file_pinnable(const struct zc_ctx *ctx, const struct zc_reg_req *req,
			char *reason, size_t len);

#endif /* ZC_MR_H */
