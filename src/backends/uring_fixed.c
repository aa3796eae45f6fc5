/* SPDX-License-Identifier: MIT */
/*
 * uring_fixed: the memory becomes io_uring fixed buffers (pinned once, at
 * registration) and the file a fixed file, so READ_FIXED/WRITE_FIXED skip
 * the per-I/O page pinning and file lookup. Synchronous page-cache I/O
 * still uses pread/pwrite into the same memory: for cached data a plain
 * copy beats a ring round trip, and the data lands in the same place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "../internal.h"

static int uf_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	char facts[128];

	if (!ctx->rings) {
		snprintf(reason, len, "%s", ctx->uring_reason);
		return -ENOSYS;
	}
	zc_rings_describe(ctx, facts, sizeof(facts));
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
		if (!(fi->flags & ZC_FILE_WRITABLE)) {
			snprintf(reason, len, "MAP_FILE pin needs an fd open for "
				 "writing: io_uring pins fixed buffers for write");
			return -EACCES;
		}
		if (fi->flags & ZC_FILE_DAX) {
			snprintf(reason, len, "FS-DAX file pages cannot be pinned long-term");
			return -EOPNOTSUPP;
		}
		/* page-cache files are tried too: the kernel's answer is the record */
		return fi->flags & ZC_FILE_SHMEM ? 100 : 10;
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
	return 100;
}

static bool has_cap_ipc_lock(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long caps = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			caps = strtoull(line + 7, NULL, 16);
	fclose(f);
	return caps >> 14 & 1; /* CAP_IPC_LOCK */
}

static void explain_register_error(const struct zc_reg *r, int err,
				   char *reason, size_t len)
{
	const struct zc_file_info *fi = &r->file->info;
	struct rlimit rl = { 0, 0 };

	if (err == -ENOMEM) {
		getrlimit(RLIMIT_MEMLOCK, &rl);
		snprintf(reason, len, "io_uring buffer registration: %s (RLIMIT_MEMLOCK "
			 "%llu KiB, %s CAP_IPC_LOCK)", strerror(-err),
			 (unsigned long long)rl.rlim_cur / 1024,
			 has_cap_ipc_lock() ? "with" : "no");
	} else if ((err == -EFAULT || err == -EOPNOTSUPP) &&
		   (r->req.flags & ZC_REG_MAP_FILE)) {
		snprintf(reason, len, "pin refused: %s page-cache mapping cannot be "
			 "pinned long-term for write (%s)", fi->fs_name,
			 strerror(-err));
	} else {
		snprintf(reason, len, "io_uring buffer registration: %s",
			 strerror(-err));
	}
}

static int uf_reg(struct zc_reg *r, char *reason, size_t len)
{
	bool map_file = r->req.flags & ZC_REG_MAP_FILE;
	int ret;

	if (map_file) {
		ret = zc_map_file(r, true, reason, len);
		if (ret)
			return ret;
	}
	ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_URING_FIXED, "register");
	if (!ret)
		ret = zc_rings_add_buffer(r->ctx, r->addr, r->length,
					  &r->slot_first, &r->slot_count);
	if (ret) {
		explain_register_error(r, ret, reason, len);
		if (map_file)
			zc_unmap(r);
		r->addr = r->req.addr;
		r->slot_first = -1;
		r->slot_count = 0;
		return ret;
	}
	snprintf(reason, len, "io_uring fixed buffer in slot%s %d..%d%s",
		 r->slot_count > 1 ? "s" : "", r->slot_first,
		 r->slot_first + (int)r->slot_count - 1,
		 map_file ? " over a MAP_SHARED mapping of the file" : "");
	return 0;
}

static void uf_dereg(struct zc_reg *r)
{
	zc_rings_del_buffer(r->ctx, r->slot_first, r->slot_count);
	zc_unmap(r);
}

/* An op that cannot use its fixed buffer: plain I/O, reported once. */
static ssize_t uf_plain_rw(struct zc_reg *r, const struct zc_io *io, int why)
{
	zc_note_fallback(r, ZC_BACKEND_URING_FIXED, why);
	return zc_sys_rw(r->file->fd, io->dir, io->buf, io->len, io->file_off);
}

static ssize_t uf_io(struct zc_reg *r, const struct zc_io *io)
{
	int slot = zc_reg_slot(r, io->reg_off, io->len);
	struct zc_ring *ring;
	ssize_t n;
	int ret;

	ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_URING_FIXED, "io");
	if (ret)
		return uf_plain_rw(r, io, ret);
	if (!zc_file_direct(r->file))
		return zc_sys_rw(r->file->fd, io->dir, io->buf, io->len, io->file_off);
	ring = zc_ring_get(r->ctx);
	if (!ring)
		return uf_plain_rw(r, io, -ENOMEM);
	if (!zc_ring_has_slot(ring, slot)) {
		zc_ring_put(r->ctx, ring);
		return uf_plain_rw(r, io, -ENOENT);
	}
	n = zc_ring_rw(ring, r->file, io->dir, io->buf, io->len, io->file_off, slot);
	zc_ring_put(r->ctx, ring);
	return n;
}

static int uf_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		   uint64_t cookie)
{
	struct zc_ring *ring = zc_queue_ring(q);
	int slot = zc_reg_slot(r, io->reg_off, io->len);
	int ret;

	ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_URING_FIXED, "io");
	if (!ret && zc_ring_has_slot(ring, slot))
		return zc_ring_prep(ring, r->file, io->dir, io->buf, io->len,
				    io->file_off, slot, cookie);
	/* the slot is missing on this ring (or a fault was injected) */
	zc_note_fallback(r, ZC_BACKEND_URING_FIXED, ret ? ret : -ENOENT);
	ret = zc_ring_prep(ring, r->file, io->dir, io->buf, io->len, io->file_off,
			   -1, cookie);
	return ret ? ret : ZC_PREP_FALLBACK;
}

/* The mapping is the file: msync makes the stores durable. */
static int uf_sync(struct zc_reg *r, size_t reg_off, size_t len)
{
	const size_t page = zc_page_size();
	uintptr_t start = (uintptr_t)r->addr + reg_off;
	uintptr_t base = start & ~(uintptr_t)(page - 1);

	return msync((void *)base, len + (start - base), MS_SYNC) ? -errno : 0;
}

const struct zc_backend_ops zc_uring_fixed_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = ZC_BACKEND_URING_FIXED,
	.name = "uring_fixed",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_URING,
	.probe = uf_probe,
	.score = uf_score,
	.reg = uf_reg,
	.dereg = uf_dereg,
	.io = uf_io,
	.prep = uf_prep,
	.sync = uf_sync,
};
