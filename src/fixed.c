/* SPDX-License-Identifier: MIT */
/*
 * Memory that is an io_uring fixed buffer: shared by every backend whose
 * registration pins memory into the context's buffer table (uring_fixed,
 * pin_lease). Pinning happens once at registration, and queued O_DIRECT
 * operations name the fixed buffer (READ_FIXED/WRITE_FIXED: no pinning per
 * I/O). Synchronous calls are pread/pwrite on the same memory: for cached
 * data a plain copy beats a ring round trip and lands in the same place,
 * and for O_DIRECT a ring at queue depth 1 only adds to each operation's
 * latency (a write's completion goes through a kernel worker before the
 * ring posts it; measured on ext4 over virtio-blk: 4 KiB reads 0.95x,
 * 4 KiB writes 0.91x and 128 KiB writes down to 0.5x of pread/pwrite).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "backend.h"
#include "sys/proc.h"

#define ZC_CAP_IPC_LOCK 14 /* in the capability sets */

static void explain_pin_error(const struct zc_reg *r, int err, char *reason,
			      size_t len)
{
	struct rlimit rl = { 0, 0 };

	if (err == -ENOMEM) {
		getrlimit(RLIMIT_MEMLOCK, &rl);
		snprintf(reason, len, "io_uring buffer registration: %s (RLIMIT_MEMLOCK "
			 "%llu KiB, %s CAP_IPC_LOCK)", strerror(-err),
			 (unsigned long long)rl.rlim_cur / 1024,
			 zc_proc_has_cap(ZC_CAP_IPC_LOCK) ? "with" : "no");
	} else if ((err == -EFAULT || err == -EOPNOTSUPP) &&
		   (r->req.flags & ZC_REG_MAP_FILE)) {
		snprintf(reason, len, "pin refused: %s page-cache mapping cannot be "
			 "pinned long-term for write (%s)", r->file->info.fs_name,
			 strerror(-err));
	} else {
		snprintf(reason, len, "io_uring buffer registration: %s",
			 strerror(-err));
	}
}

int zc_fixed_pin(struct zc_reg *r, enum zc_backend b, char *reason, size_t len)
{
	int ret = zc_fault_hit(r->ctx->faults, b, "register");

	if (ret) {
		snprintf(reason, len, "io_uring buffer registration: %s (injected "
			 "by ZC_FAULT)", strerror(-ret));
		return ret;
	}
	ret = zc_rings_add_buffer(r->ctx->rings, r->addr, r->length, &r->slot_first,
				  &r->slot_count);
	if (ret) {
		explain_pin_error(r, ret, reason, len);
		r->slot_first = -1;
		r->slot_count = 0;
		return ret;
	}
	snprintf(reason, len, "io_uring fixed buffer in slot%s %d..%d%s",
		 r->slot_count > 1 ? "s" : "", r->slot_first,
		 r->slot_first + (int)r->slot_count - 1,
		 (r->req.flags & ZC_REG_MAP_FILE) ?
			" over a MAP_SHARED mapping of the file" : "");
	return 0;
}

/* MAP_FILE: the file range mapped shared and writable (io_uring pins for
 * write), pinned, then sealed read-only if the registration may not write */
int zc_fixed_pin_file(struct zc_reg *r, enum zc_backend b, char *reason,
		      size_t len)
{
	int ret = zc_map_file(r, true, reason, len);

	if (ret)
		return ret;
	ret = zc_fixed_pin(r, b, reason, len);
	if (!ret) {
		ret = zc_map_seal(r, reason, len);
		if (ret)
			zc_fixed_unpin(r);
	}
	if (ret)
		zc_unmap(r);
	return ret;
}

void zc_fixed_unpin(struct zc_reg *r)
{
	zc_rings_del_buffer(r->ctx->rings, r->slot_first, r->slot_count);
	r->slot_first = -1;
	r->slot_count = 0;
}

/* Can the file's own pages (ZC_REG_MAP_FILE) become a fixed buffer?
 * Page-cache files pass: the kernel's refusal is what gets recorded. */
int zc_fixed_file_pinnable(const struct zc_file_info *fi, char *reason,
			   size_t len)
{
	if (!(fi->flags & ZC_FILE_WRITABLE)) {
		snprintf(reason, len, "the pin needs a writable shared mapping: "
			 "open the file O_RDWR (io_uring pins for write)");
		return -EACCES;
	}
	if (fi->flags & ZC_FILE_DAX) {
		snprintf(reason, len, "FS-DAX file pages cannot be pinned long-term");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* An op that cannot use its fixed buffer: plain I/O, reported once. */
static ssize_t plain_rw(struct zc_reg *r, const struct zc_io *io, int why)
{
	zc_note_fallback(r, r->backend, why);
	return zc_sys_rw(r->file, io->dir, io->buf, io->len, io->file_off);
}

/*
 * Would the block layer split this op if it named the fixed buffer? The
 * kernel hands a fixed buffer of small pages to it as one segment per
 * page and never merges them, so an O_DIRECT request over more pages than
 * the disk takes segments in one request (queue/max_segments: 254 on
 * virtio-blk, 127 or fewer on many NVMe drives) goes down as two requests
 * and cannot merge with its neighbours. A plain READ/WRITE of the same
 * memory pins its pages for the one I/O and merges the physically
 * adjacent ones, so it goes down whole (1 MiB O_DIRECT reads on
 * virtio-blk: 2 requests per MiB from the fixed buffer, 1 as plain reads,
 * 0.3 at queue depth 32 where neighbours merge). Both move the data
 * without a copy.
 */
static bool fixed_would_split(const struct zc_reg *r, const struct zc_io *io)
{
	const unsigned max = r->file->info.max_segments;
	const size_t page = zc_page_size();
	size_t pages;

	if (!max || !zc_file_direct(r->file))
		return false;
	pages = ((uintptr_t)io->buf % page + io->len + page - 1) / page;
	return pages > max;
}

ssize_t zc_fixed_io(struct zc_reg *r, const struct zc_io *io)
{
	int ret = zc_fault_hit(r->ctx->faults, r->backend, "io");

	if (ret)
		return plain_rw(r, io, ret);
	return zc_sys_rw(r->file, io->dir, io->buf, io->len, io->file_off);
}

int zc_fixed_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		  uint64_t cookie)
{
	struct zc_ring *ring = zc_queue_ring(q);
	int slot = zc_reg_slot(r, io->reg_off, io->len);
	int ret;

	ret = zc_fault_hit(r->ctx->faults, r->backend, "io");
	if (!ret && zc_file_queue_inline(r->file))
		return -EAGAIN; /* run inside zc_submit */
	if (!ret && fixed_would_split(r, io))
		return zc_ring_prep_io(ring, r->file, io, -1, cookie);
	if (!ret && zc_ring_has_slot(ring, slot))
		return zc_ring_prep_io(ring, r->file, io, slot, cookie);
	/* the slot is missing on this ring (or a fault was injected) */
	zc_note_fallback(r, r->backend, ret ? ret : -ENOENT);
	ret = zc_ring_prep_io(ring, r->file, io, -1, cookie);
	return ret ? ret : ZC_PREP_FALLBACK;
}

/*
 * zc_reg_buf_index for memory in the ring set's slots. No gate: a
 * revocation may be taking the slots away right now, so the revoked flag
 * is read atomically and the ring set's lock decides whether the slot is
 * still live.
 */
int zc_fixed_buf_index(const struct zc_reg *r, size_t reg_off, size_t len)
{
	int slot;

	if (__atomic_load_n(&r->revoked, __ATOMIC_RELAXED) || !r->slot_count)
		return -ENODATA;
	slot = zc_reg_slot(r, reg_off, len);
	if (slot < 0)
		return -ERANGE;
	return zc_rings_slot_live(r->ctx->rings, slot) ? slot : -ENODATA;
}
