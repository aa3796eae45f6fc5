/* SPDX-License-Identifier: MIT */
/*
 * bounce: the floor. Caller memory is used with ordinary I/O (pread/pwrite,
 * or plain io_uring reads and writes in queues); the core stages through
 * library memory only where O_DIRECT alignment demands it. A MAP_FILE
 * registration gets a library-owned copy of the file range, filled at
 * registration and written back by zc_sync.
 *
 * Remote access (ZC_ACCESS_REMOTE_*) gets a normal, pinned RDMA memory
 * region over that same memory (mr.c), where the context has a device:
 * the fallback when odp_mr does not apply, so that remote access is never
 * lost. A peer's writes into a copy reach the file with zc_sync.
 *
 * Device memory: PCIe peer memory (ZC_MEM_P2P) that p2p_bar could not
 * take, and a dma-buf (ZC_MEM_DMABUF) through its CPU mapping. On an
 * O_DIRECT file every byte goes through the core's staging memory and is
 * copied in and out of the device memory with the CPU, because the
 * kernel would refuse the device's DMA into it (zc_devmem_io); on a
 * buffered file the kernel's own copy does the same.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../backend.h"
#include "../mr.h"

#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

static int bounce_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	if (ctx->rings)
		snprintf(reason, len, "normal buffers: pread/pwrite for synchronous "
			 "I/O, io_uring for queues");
	else
		snprintf(reason, len, "normal buffers through pread/pwrite (no "
			 "io_uring: %s)", ctx->uring_reason);
	return 0;
}

static int bounce_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
			char *reason, size_t len)
{
	if (req->mem_type != ZC_MEM_HOST) {
		if (req->access & ZC_REMOTE) {
			snprintf(reason, len, "no memory region over device memory "
				 "through its CPU mapping: %s",
				 req->mem_type == ZC_MEM_P2P ?
				 "the kernel refuses to pin p2p pages long-term" :
				 "a dma-buf's MR is ibv_reg_dmabuf_mr's (p2p_bar)");
			return -EOPNOTSUPP;
		}
		return 0;
	}
	if (req->access & ZC_REMOTE) {
		int ret = zc_mr_possible(ctx, req, reason, len);

		if (ret)
			return ret;
	}
	if (req->flags & ZC_REG_MAP_FILE)
		return 0; /* last in the registry: tried when nothing else took it */
	if ((req->access & ZC_ACCESS_READ) && !(req->mem & ZC_MEM_WRITABLE)) {
		snprintf(reason, len, "memory is read-only but ZC_ACCESS_READ "
			 "stores file data into it");
		return -EFAULT;
	}
	if ((req->access & ZC_ACCESS_WRITE) && !(req->mem & ZC_MEM_READABLE)) {
		snprintf(reason, len, "memory is not readable but ZC_ACCESS_WRITE "
			 "reads it");
		return -EFAULT;
	}
	return 0;
}

/* the memory to move: the caller's, or a copy of the file range */
static int bounce_memory(struct zc_reg *r, char *reason, size_t len)
{
	int ret;

	if (r->req.mem_type == ZC_MEM_DMABUF) {
		ret = zc_map_dmabuf(r, reason, len);
		if (ret)
			return ret;
	}
	if (r->req.mem_type != ZC_MEM_HOST) {
		r->cpu_only = true;
		snprintf(reason, len, "%s%s through host memory: %s",
			 r->req.mem_type == ZC_MEM_P2P ? "p2pmem of " : "the dma-buf's "
			 "CPU mapping", r->req.p2p_bdf, zc_file_direct(r->file) ?
			 "O_DIRECT into staging, copied with the CPU" :
			 "the kernel's copy of buffered I/O");
		return 0;
	}
	if (!(r->req.flags & ZC_REG_MAP_FILE)) {
		snprintf(reason, len, "caller memory with normal I/O%s",
			 zc_file_direct(r->file) ? " (O_DIRECT edges staged)" : "");
		return 0;
	}
	ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_BOUNCE, "alloc");
	if (ret) {
		snprintf(reason, len, "copy of the file range: %s (injected)",
			 strerror(-ret));
		return ret;
	}
	ret = zc_copy_file(r, reason, len);
	if (!ret)
		snprintf(reason, len, "library-owned copy of the file range, "
			 "written back by zc_sync");
	return ret;
}

static int bounce_reg(struct zc_reg *r, char *reason, size_t len)
{
	char mr_reason[ZC_REASON_LEN];
	int ret = bounce_memory(r, reason, len);

	if (ret || !(r->req.access & ZC_REMOTE))
		return ret;
	ret = zc_mr_reg(r, false, mr_reason, sizeof(mr_reason));
	if (ret) {
		snprintf(reason, len, "%s", mr_reason);
		zc_unmap(r);
		return ret;
	}
	snprintf(reason + strlen(reason), len - strlen(reason), "; normal %s",
		 mr_reason);
	return 0;
}

static void bounce_dereg(struct zc_reg *r)
{
	zc_mr_dereg(r);
	zc_unmap(r);
}

static int bounce_sync(struct zc_reg *r, size_t reg_off, size_t len)
{
	ssize_t n;

	n = zc_file_rw(r->file, ZC_DIR_WRITE, (char *)r->addr + reg_off, len,
		       r->req.file_offset + reg_off);
	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return -EIO;
	return fdatasync(r->file->fd) ? -errno : 0;
}

/* alloc: its MAP_FILE copies here, and the core's staging memory, which
 * serves the floor (registry.c) */
static const char *const bounce_fault_steps[] = { "alloc", "reg_mr", "io", NULL };

const struct zc_backend_ops zc_bounce_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = ZC_BACKEND_BOUNCE,
	.name = "bounce",
	.caps = 0,
	.fault_steps = bounce_fault_steps,
	.probe = bounce_probe,
	.score = bounce_score,
	.reg = bounce_reg,
	.dereg = bounce_dereg,
	.io = zc_devmem_io,
	.prep = zc_devmem_prep,
	.sync = bounce_sync,
	.rdma_keys = zc_mr_keys,
};
