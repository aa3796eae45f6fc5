/* SPDX-License-Identifier: MIT */
/*
 * p2p_bar: file I/O straight between the file's block device and PCIe
 * peer memory (p2pmem: an NVMe controller memory buffer, or any BAR a
 * driver publishes under /sys/bus/pci/devices/<bdf>/p2pmem), for
 * registrations of such memory (ZC_MEM_P2P; zc_p2p_alloc maps it).
 *
 * The kernel moves p2p pages only with direct I/O, and only between
 * devices it judges close enough (pci_p2pdma_distance): so the file must
 * be open with O_DIRECT and its device must reach the memory's provider
 * by that rule (p2p.c mirrors it: a common upstream bridge without ACS
 * redirection, or a host bridge the kernel knows). Data then moves with
 * ordinary O_DIRECT pread/pwrite and io_uring reads and writes; never as
 * an io_uring fixed buffer, which pins long-term and for writing, what
 * p2p pages refuse (-EFAULT on 7.3, DESIGN.md). Nothing is pinned or
 * copied by the library: there is nothing to revoke.
 *
 * Where it does not apply, bounce takes the registration and stages the
 * data through host memory, copying it in and out of the device memory
 * with the CPU.
 *
 * A dma-buf (ZC_MEM_DMABUF: a GPU's memory, a udmabuf) gets an RDMA
 * memory region with ibv_reg_dmabuf_mr where the context has a device
 * (mr.c), for registrations a peer accesses (ZC_ACCESS_REMOTE_*): the
 * NIC then reads and writes the device memory itself. File I/O straight
 * into a dma-buf has no kernel interface (Linux 7.3), so zc_read and
 * zc_write on it go through the CPU's mapping of the buffer, staged; a
 * dma-buf without remote access is bounce's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../mr.h"
#include "../p2p.h"
#include "../sys/sysfs.h"

#define P2P ZC_BACKEND_P2P_BAR
#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

/* per context: ctx->be[P2P].priv, the PCI topology */
struct p2p_ctx {
	struct zc_pci *pci;
};

static int p2p_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	const struct zc_mr_dev_info *di = zc_mr_dev_info(ctx);
	struct zc_p2p_pub pubs[8];
	struct p2p_ctx *pc;
	int n, used, ret = zc_fault_hit(ctx->faults, P2P, "probe");

	if (ret) {
		snprintf(reason, len, "probe: %s (injected by ZC_FAULT)",
			 strerror(-ret));
		return ret;
	}
	n = zc_p2p_publishers(pubs, ZC_ARRAY_SIZE(pubs), reason, len);
	if (n < 0)
		return n;
	if (n == 0 && !di) {
		snprintf(reason, len, "no p2pmem publisher in %s/bus/pci/devices, "
			 "and no RDMA device for dma-buf memory regions",
			 zc_sysfs_root());
		return -ENODEV;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	if (n > 0 && (ret = zc_p2p_pci_open(&pc->pci, reason, len))) {
		free(pc);
		return ret;
	}
	ctx->be[P2P].priv = pc;
	if (n > 0)
		used = snprintf(reason, len, "%d p2pmem publisher%s (first %s, "
				"%llu bytes available): O_DIRECT I/O into device "
				"memory", n, n == 1 ? "" : "s", pubs[0].bdf,
				(unsigned long long)pubs[0].available);
	else
		used = snprintf(reason, len, "no p2pmem publisher");
	if (di && used > 0 && (size_t)used < len)
		snprintf(reason + used, len - (size_t)used, "; dma-buf memory "
			 "regions on %s", di->name);
	return 0;
}

static void p2p_cleanup(struct zc_ctx *ctx)
{
	struct p2p_ctx *pc = ctx->be[P2P].priv;

	zc_p2p_pci_close(pc->pci);
	free(pc);
	ctx->be[P2P].priv = NULL;
}

static int p2p_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		     char *reason, size_t len)
{
	const struct p2p_ctx *pc = ctx->be[P2P].priv;
	const struct zc_file_info *fi = &req->file->info;
	int dist, used;

	if (req->mem_type == ZC_MEM_DMABUF) {
		/* no kernel interface moves file data straight into a dma-buf
		 * (Linux 7.3): local I/O on one is bounce's, by design */
		if (!(req->access & ZC_REMOTE))
			return ZC_SCORE_NOT_APPLICABLE;
		return zc_mr_possible(ctx, req, reason, len);
	}
	if (req->access & ZC_REMOTE) {
		snprintf(reason, len, "RDMA access to p2pmem: memory regions pin "
			 "long-term, which p2p pages refuse; export the device "
			 "memory as a dma-buf instead");
		return -EOPNOTSUPP;
	}
	if (!(fi->flags & ZC_FILE_DIRECT)) {
		snprintf(reason, len, "the file is not open with O_DIRECT: the "
			 "kernel moves p2pmem pages with direct I/O only");
		return -EOPNOTSUPP;
	}
	if (!pc->pci) {
		snprintf(reason, len, "no p2pmem publisher was found when the "
			 "context was made: no PCI topology to judge %s by",
			 req->p2p_bdf);
		return -ENODEV;
	}
	/* the block layer takes p2p pages only from queues that say they
	 * can (BLK_FEAT_PCI_P2PDMA): NVMe's; elsewhere GUP refuses them */
	if (strncmp(fi->blockdev, "nvme", 4)) {
		snprintf(reason, len, "the file's disk %s is not NVMe: only NVMe "
			 "queues take PCI peer-to-peer pages", fi->blockdev[0] ?
			 fi->blockdev : "(none)");
		return -EOPNOTSUPP;
	}
	if (!fi->pci_bdf[0]) {
		snprintf(reason, len, "the file's device%s%s is not a PCI "
			 "function: nothing to reach %s from",
			 fi->blockdev[0] ? " " : "", fi->blockdev, req->p2p_bdf);
		return -ENODEV;
	}
	used = snprintf(reason, len, "p2pmem of %s, file on %s (%s): ",
			req->p2p_bdf, fi->blockdev, fi->pci_bdf);
	if (used < 0 || (size_t)used >= len)
		used = 0;
	if (!zc_p2p_reachable(pc->pci, req->p2p_bdf, fi->pci_bdf, &dist,
			      reason + used, len - (size_t)used))
		return -EREMOTEIO; /* what the kernel's DMA mapping would say */
	return 0;
}

/* an MR over the dma-buf, and the CPU's mapping for zc_read/zc_write */
static int dmabuf_reg(struct zc_reg *r, char *reason, size_t len)
{
	char mr_reason[ZC_REASON_LEN];
	int ret;

	r->addr = NULL; /* no CPU address unless mapped below */
	if (r->io_access & (ZC_ACCESS_READ | ZC_ACCESS_WRITE)) {
		ret = zc_map_dmabuf(r, reason, len);
		if (ret)
			return ret;
	}
	ret = zc_mr_reg_dmabuf(r, mr_reason, sizeof(mr_reason));
	if (ret) {
		snprintf(reason, len, "%s", mr_reason);
		zc_unmap(r);
		return ret;
	}
	snprintf(reason, len, "%s: the NIC moves the device memory itself%s",
		 mr_reason, r->addr ? "; zc_read/zc_write copy through the "
		 "CPU's mapping" : "");
	return 0;
}

static int p2p_reg(struct zc_reg *r, char *reason, size_t len)
{
	const struct p2p_ctx *pc = r->ctx->be[P2P].priv;
	const struct zc_file_info *fi = &r->file->info;
	int dist;

	if (r->req.mem_type == ZC_MEM_DMABUF)
		return dmabuf_reg(r, reason, len);
	zc_p2p_reachable(pc->pci, r->req.p2p_bdf, fi->pci_bdf, &dist, reason, len);
	snprintf(reason + strlen(reason), len - strlen(reason),
		 "; O_DIRECT between %s and the p2pmem of %s, no copy, no pin",
		 fi->blockdev, r->req.p2p_bdf);
	return 0;
}

/* the MR before the mapping; p2pmem is the caller's, as it was */
static void p2p_dereg(struct zc_reg *r)
{
	zc_mr_dereg(r);
	zc_unmap(r);
}

static const char *const p2p_fault_steps[] = { "probe", "reg_mr", "io", NULL };

const struct zc_backend_ops zc_p2p_bar_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = P2P,
	.name = "p2p_bar",
	.caps = ZC_CAP_ZEROCOPY,
	.fault_steps = p2p_fault_steps,
	/* device memory only */
	.serves_mem = 1u << ZC_MEM_P2P | 1u << ZC_MEM_DMABUF,
	.probe = p2p_probe,
	.cleanup = p2p_cleanup,
	.score = p2p_score,
	.reg = p2p_reg,
	.dereg = p2p_dereg,
	.io = zc_devmem_io,
	.prep = zc_devmem_prep,
	.rdma_keys = zc_mr_keys,
};
