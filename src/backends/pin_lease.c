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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../backend.h"
#include "../sys/lease.h"
#include "../sys/proc.h"

#define PL ZC_BACKEND_PIN_LEASE
#define ZC_CAP_LEASE 28 /* in the capability sets */

/* per context: ctx->be[PL].priv */
struct pl_ctx {
	struct zc_lease_monitor *mon;
	int signo;              /* the lease-break signal */
	_Atomic uint64_t breaks; /* zc_stats.lease_breaks */
};

/* per file: f->priv[PL], made with its first registration and guarded by
 * f->revoke_lock; one lease per file, shared by its registrations */
struct pl_file {
	struct zc_lease lease;
	struct zc_file *file;
	unsigned refs;       /* registrations under the lease; 0: none held */
	struct zc_reg *regs; /* the leased registrations, linked by r->priv */
};

static struct pl_ctx *pl_ctx_of(struct zc_ctx *ctx)
{
	return ctx->be[PL].priv;
}

/* the next registration in the file's list: r->priv is only the link */
static struct zc_reg *next_of(const struct zc_reg *r)
{
	return r->priv;
}

static int pl_check_params(const struct zc_ctx_params *p, const struct zc_log *log)
{
	if ((p->field_mask & ZC_CTX_FIELD_LEASE_SIGNAL) &&
	    (p->lease_signal < SIGRTMIN || p->lease_signal > SIGRTMAX)) {
		zc_logf(log, ZC_LOG_ERROR, "zc_ctx_create: lease_signal %d is not a "
			"real-time signal (%d..%d)", p->lease_signal, SIGRTMIN, SIGRTMAX);
		return -EINVAL;
	}
	return 0;
}

static int pl_probe(struct zc_ctx *ctx, char *reason, size_t len)
{
	struct pl_ctx *pc;

	if (!ctx->rings) {
		snprintf(reason, len, "no pinning agent: %s", ctx->uring_reason);
		return -ENOSYS;
	}
	/* unreadable counts as enabled: F_SETLEASE will say if it is not */
	if (zc_leases_enabled() == 0) {
		snprintf(reason, len, "file leases disabled by fs.leases-enable=0");
		return -EOPNOTSUPP;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc) {
		pc->signo = SIGRTMAX - 3;
		if (ctx->params.field_mask & ZC_CTX_FIELD_LEASE_SIGNAL)
			pc->signo = ctx->params.lease_signal;
		pc->mon = zc_lease_monitor_new(pc->signo);
	}
	if (!pc || !pc->mon) {
		free(pc);
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	ctx->be[PL].priv = pc;
	snprintf(reason, len, "file pages pinned as io_uring fixed buffers under "
		 "a file lease (break signal %d)", pc->signo);
	return 0;
}

static void pl_cleanup(struct zc_ctx *ctx)
{
	struct pl_ctx *pc = pl_ctx_of(ctx);

	zc_lease_monitor_free(pc->mon);
	free(pc);
	ctx->be[PL].priv = NULL;
}

static void pl_stats(struct zc_ctx *ctx, struct zc_stats *s)
{
	struct pl_ctx *pc = pl_ctx_of(ctx);

	if (pc)
		s->lease_breaks = atomic_load(&pc->breaks);
}

/* The kernel's F_SETLEASE rules, minus the ones that depend on who else
 * has the file open (those are only known when the lease is taken), for
 * zc_file_query. */
static void pl_file_open(struct zc_file *f)
{
	struct zc_file_info *info = &f->info;
	struct stat st;
	const char *why;
	int en;

	if (fstat(f->fd, &st) || !S_ISREG(st.st_mode)) {
		why = "no lease: not a regular file";
	} else if ((en = zc_leases_enabled()) != 1) {
		why = en < 0 ? "no lease: fs.leases-enable unreadable"
			     : "no lease: fs.leases-enable=0";
	} else if (geteuid() == st.st_uid) {
		why = "lease possible (file owner)";
		info->flags |= ZC_FILE_LEASE_OK;
	} else if (zc_proc_has_cap(ZC_CAP_LEASE)) {
		why = "lease possible (CAP_LEASE)";
		info->flags |= ZC_FILE_LEASE_OK;
	} else {
		why = "no lease: not the file owner and no CAP_LEASE";
	}
	snprintf(info->lease_reason, sizeof info->lease_reason, "%s", why);
	zc_dbg(f->ctx, "zc_file_open: fd %d: %s", f->user_fd, why);
}

static void pl_file_close(struct zc_file *f)
{
	struct pl_file *pf = f->priv[PL];

	if (!pf)
		return;
	zc_lease_quiesce(&pf->lease); /* a break being handled finishes first */
	free(pf);
	f->priv[PL] = NULL;
}

static int pl_inject(struct zc_lease *l)
{
	const struct pl_file *pf = zc_container_of(l, struct pl_file, lease);

	return zc_fault_hit(pf->file->ctx->faults, PL, "lease");
}

/* With f->revoke_lock held: the lease has gone, from a break or from its
 * last registration. */
static void lease_release(struct pl_file *pf)
{
	struct zc_file *f = pf->file;
	int ret = zc_lease_release(pl_ctx_of(f->ctx)->mon, &pf->lease);

	if (ret)
		zc_warn(f->ctx, "F_SETLEASE F_UNLCK on fd %d: %s", f->fd,
			strerror(-ret));
	pf->refs = 0;
}

/*
 * A break, on the monitor thread: unpin every registration on the file,
 * let the breaker go, then give each its copy: the breaker's wait does
 * not grow with the registrations' size. The revoke lock is held
 * throughout, so zc_reg_destroy waits for the copies too, and I/O on the
 * registrations waits while r->revoking is set.
 */
static void pl_on_break(struct zc_lease *l)
{
	struct pl_file *pf = zc_container_of(l, struct pl_file, lease);
	struct zc_file *f = pf->file;
	struct zc_reg *regs;

	pthread_mutex_lock(&f->revoke_lock);
	if (pf->refs) {
		atomic_fetch_add(&pl_ctx_of(f->ctx)->breaks, 1);
		zc_info(f->ctx, "lease on fd %d broken: revoking its registrations",
			f->fd);
		regs = pf->regs;
		pf->regs = NULL;
		for (struct zc_reg *r = regs; r; r = next_of(r))
			zc_reg_revoke_begin(r);
		lease_release(pf);
		while (regs) {
			struct zc_reg *r = regs;

			regs = next_of(r);
			r->priv = NULL;
			zc_reg_revoke_end(r, 0);
		}
	}
	pthread_mutex_unlock(&f->revoke_lock);
}

/* With f->revoke_lock held: take (or share) the file's write lease. */
static int lease_get(struct zc_file *f, char *reason, size_t len)
{
	struct pl_file *pf = f->priv[PL];
	int ret;

	if (!pf) {
		pf = calloc(1, sizeof(*pf));
		if (!pf) {
			snprintf(reason, len, "out of memory");
			return -ENOMEM;
		}
		pf->file = f;
		pf->lease = (struct zc_lease){ .fd = f->fd, .on_break = pl_on_break,
					       .inject = pl_inject };
		f->priv[PL] = pf;
	}
	if (pf->refs) {
		pf->refs++;
		return 0;
	}
	ret = zc_lease_take(pl_ctx_of(f->ctx)->mon, &pf->lease, F_WRLCK, reason,
			    len);
	if (!ret)
		pf->refs = 1;
	return ret;
}

/* With f->revoke_lock held: drop one user; the last one releases it. */
static void lease_put(struct zc_file *f)
{
	struct pl_file *pf = f->priv[PL];

	if (pf->refs && --pf->refs == 0)
		lease_release(pf);
}

static int pl_score(struct zc_ctx *ctx, const struct zc_reg_req *req,
		    char *reason, size_t len)
{
	const struct zc_file_info *fi = &req->file->info;

	if (!(req->flags & ZC_REG_MAP_FILE))
		return ZC_SCORE_NOT_APPLICABLE; /* it pins the file's own pages */
	if (req->mem_type != ZC_MEM_HOST || !(fi->flags & ZC_FILE_REGULAR)) {
		snprintf(reason, len, "leases exist for regular files only");
		return -EOPNOTSUPP;
	}
	return zc_fixed_file_pinnable(fi, reason, len);
}

static int pl_reg(struct zc_reg *r, char *reason, size_t len)
{
	struct zc_file *f = r->file;
	struct pl_file *pf;
	int ret;

	pthread_mutex_lock(&f->revoke_lock);
	ret = lease_get(f, reason, len);
	if (ret)
		goto out;
	ret = zc_fixed_pin_file(r, PL, reason, len);
	if (ret) {
		lease_put(f); /* before the next backend is tried */
		goto out;
	}
	pf = f->priv[PL];
	r->priv = pf->regs;
	pf->regs = r;
	snprintf(reason + strlen(reason), len - strlen(reason),
		 " under a write lease");
out:
	pthread_mutex_unlock(&f->revoke_lock);
	return ret;
}

/* Unlink r from its file; false if a lease break already took it. */
static bool unlink_leased(struct zc_reg *r)
{
	struct pl_file *pf = r->file->priv[PL];

	struct zc_reg *prev = NULL;

	for (struct zc_reg *it = pf->regs; it; prev = it, it = next_of(it)) {
		if (it != r)
			continue;
		if (prev)
			prev->priv = r->priv;
		else
			pf->regs = r->priv;
		return true;
	}
	return false;
}

/* Pin, then mapping, then lease; zc_reg_destroy holds the revoke lock, so
 * a break handled on the monitor thread has finished with r or not begun. */
static void pl_dereg(struct zc_reg *r)
{
	zc_fixed_unpin(r);
	zc_unmap(r);
	if (unlink_leased(r))
		lease_put(r->file);
}

/* First step of a lease break, before the lease is released: the pin
 * goes, the memory stays the file's mapping. */
static void pl_unpin(struct zc_reg *r)
{
	zc_rings_clear_buffer(r->ctx->rings, r->slot_first, r->slot_count, true);
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

static const char *const pl_fault_steps[] = { "lease", "register", "io", NULL };

const struct zc_backend_ops zc_pin_lease_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = PL,
	.name = "pin_lease",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_URING | ZC_CAP_REVOCABLE,
	.fault_steps = pl_fault_steps,
	.check_params = pl_check_params,
	.probe = pl_probe,
	.cleanup = pl_cleanup,
	.file_open = pl_file_open,
	.file_close = pl_file_close,
	.stats = pl_stats,
	.score = pl_score,
	.reg = pl_reg,
	.dereg = pl_dereg,
	.io = zc_fixed_io,
	.prep = zc_fixed_prep,
	.sync = zc_map_sync,
	.buf_index = zc_fixed_buf_index,
	.unpin = pl_unpin,
	.privatize = pl_privatize,
	.revoke_to = ZC_BACKEND_BOUNCE,
};
