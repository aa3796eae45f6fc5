/* SPDX-License-Identifier: MIT */
/*
 * pin_lease: a ZC_REG_MAP_FILE registration whose memory is the file's own
 * MAP_SHARED pages, pinned long-term by a pinning agent while the library
 * holds a lease on the file. Two agents:
 *
 *  - local I/O: an io_uring fixed buffer (src/fixed.c) over a writable
 *    shared mapping (io_uring pins for write: tmpfs/shmem files only);
 *  - remote access (ZC_ACCESS_REMOTE_READ, and neither REMOTE_WRITE nor
 *    ZC_ACCESS_WRITE): a normal, non-ODP RDMA MR (src/mr.c) with remote
 *    read access over a read-only shared mapping. The kernel pins
 *    page-cache pages long-term read-only (ext4, xfs included), never for
 *    write. This is where a remote registration goes when odp_mr does not
 *    apply (no ODP, or a device quirk), before bounce's MR over a copy.
 *
 * The lease is the early warning that another open of the file (for
 * writing, under a read lease), or a truncate(2) of its path, is coming
 * (the holder's own ftruncate does not break it): the lease monitor
 * (src/sys/lease.c) then takes the pin away (the fixed buffer, or the MR
 * deregistered), releases the lease, and only then leaves a copy of the
 * contents at the same address for bounce, with a new MR over the copy
 * for a remote registration (new keys: ZC_EVENT_BACKEND_CHANGED).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../backend.h"
#include "../mr.h"
#include "../sys/lease.h"
#include "../sys/proc.h"

#define PL ZC_BACKEND_PIN_LEASE
#define ZC_CAP_LEASE 28 /* in the capability sets */
#define ZC_REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)

/* the pinning agent of a request: an MR for remote access, else io_uring */
static bool by_mr(const struct zc_reg_req *req)
{
	return req->access & ZC_REMOTE;
}

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
	const struct zc_mr_dev_info *di = zc_mr_dev_info(ctx);
	struct pl_ctx *pc;

	if (!ctx->rings && !di) {
		snprintf(reason, len, "no pinning agent: %s; %s", ctx->uring_reason,
			 ctx->mr_reason);
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
	if (ctx->rings && di)
		snprintf(reason, len, "file pages pinned as io_uring fixed buffers, "
			 "or by normal MRs on %s for read-only remote access, under "
			 "a file lease (break signal %d)", di->name, pc->signo);
	else if (ctx->rings)
		snprintf(reason, len, "file pages pinned as io_uring fixed buffers "
			 "under a file lease (break signal %d)", pc->signo);
	else
		snprintf(reason, len, "file pages pinned by normal MRs on %s for "
			 "read-only remote access under a file lease (break signal "
			 "%d; no io_uring: %s)", di->name, pc->signo, ctx->uring_reason);
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
			zc_reg_revoke_end(r, 0, "the file's lease was broken by another opener");
		}
	}
	pthread_mutex_unlock(&f->revoke_lock);
}

/*
 * Which lease: decided by the mode of f->fd, on which sys/lease.c takes
 * it. f->fd is the library's F_DUPFD_CLOEXEC duplicate of the caller's
 * fd, the same open file description, so its mode is the caller's. The
 * kernel grants F_RDLCK only on an fd open O_RDONLY while nobody has the
 * file open for writing, F_WRLCK only on the file's only open.
 *
 *  - fd O_RDONLY: a read lease. Other readers may open the file; an open
 *    for writing or a truncate breaks it. Only the MR agent (read-only
 *    pins) can be used on such an fd: io_uring pins need O_RDWR.
 *  - fd open for writing: a write lease, which any other open breaks. A
 *    read lease is out of reach on every fd: the caller's own writable
 *    open counts as a writer (i_writecount). A library-owned O_RDONLY
 *    open of the file would therefore not get one either, and that open
 *    would itself break a write lease held on the file, so the library
 *    never opens the file itself.
 *
 * Every registration of one zc_file thus wants the same lease type, and
 * they share one lease.
 */
static int lease_type(const struct zc_file *f)
{
	return (f->info.flags & ZC_FILE_WRITABLE) ? F_WRLCK : F_RDLCK;
}

/* With f->revoke_lock held: take (or share) the file's lease. */
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
	ret = zc_lease_take(pl_ctx_of(f->ctx)->mon, &pf->lease, lease_type(f),
			    reason, len);
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
	if (by_mr(req))
		return zc_mr_file_pinnable(ctx, req, reason, len);
	if (!ctx->rings) {
		snprintf(reason, len, "no io_uring to pin the file's pages for "
			 "local I/O (%s); normal MRs pin them for remote read only",
			 ctx->uring_reason);
		return -ENOSYS;
	}
	return zc_fixed_file_pinnable(fi, reason, len);
}

/* The MR agent: a normal MR with remote read access over a read-only
 * MAP_SHARED mapping of the file range; the kernel pins its pages. */
static int pin_by_mr(struct zc_reg *r, char *reason, size_t len)
{
	char mr_reason[ZC_REASON_LEN];
	int ret = zc_map_file(r, false, reason, len);

	if (ret)
		return ret;
	ret = zc_mr_reg(r, false, mr_reason, sizeof(mr_reason));
	if (ret) {
		snprintf(reason, len, "normal MR (remote read) over the file's "
			 "pages: %s%s", mr_reason, ret == -EFAULT ?
			 " (the kernel refused to pin the file's pages)" : "");
		zc_unmap(r);
	}
	return ret;
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
	ret = by_mr(&r->req) ? pin_by_mr(r, reason, len) :
			       zc_fixed_pin_file(r, PL, reason, len);
	if (ret) {
		lease_put(f); /* before the next backend is tried */
		goto out;
	}
	pf = f->priv[PL];
	r->priv = pf->regs;
	pf->regs = r;
	if (by_mr(&r->req)) {
		struct zc_rdma_keys k;

		zc_mr_keys(r, &k);
		snprintf(reason, len, "normal MR (remote read) over the file's pages "
			 "on %s, pinned under a %s lease (lkey 0x%x, rkey 0x%x)",
			 zc_mr_dev_info(r->ctx)->name,
			 lease_type(f) == F_RDLCK ? "read" : "write", k.lkey, k.rkey);
	} else {
		snprintf(reason + strlen(reason), len - strlen(reason),
			 " under a write lease");
	}
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
	zc_mr_dereg(r);
	zc_fixed_unpin(r);
	zc_unmap(r);
	if (unlink_leased(r))
		lease_put(r->file);
}

/* First step of a lease break, before the lease is released: the pin
 * goes (the MR is deregistered: its keys die with it), the memory stays
 * the file's mapping. */
static void pl_unpin(struct zc_reg *r)
{
	zc_mr_dereg(r);
	zc_rings_clear_buffer(r->ctx->rings, r->slot_first, r->slot_count, true);
}

/*
 * Second step, after the lease is released (the breaker is not waiting for
 * it): library memory at the same virtual address, so CPU users keep their
 * pointers. It is filled with pread, not copied from the mapping: the
 * holder's own ftruncate does not break the lease, so the mapping may
 * reach past the end of the file, where touching it raises SIGBUS. What
 * lies past the end reads as zeros. A remote registration gets what
 * bounce gives one: a normal MR over the copy, with new keys
 * (ZC_EVENT_BACKEND_CHANGED tells the application to fetch them).
 */
static int pl_privatize(struct zc_reg *r, char *reason, size_t len)
{
	const uint64_t base_off = r->req.file_offset & ~(uint64_t)(zc_page_size() - 1);
	char mr_reason[ZC_REASON_LEN];
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
	ret = zc_map_seal(r, reason, len);
	if (ret || !by_mr(&r->req))
		return ret;
	ret = zc_mr_reg(r, false, mr_reason, sizeof(mr_reason));
	if (ret)
		snprintf(reason, len, "normal MR over the copy: %s", mr_reason);
	return ret;
}

/* A lease break replaces the MR under the file's revoke lock: reading the
 * keys under it too gives the old MR's or the new one's, never those of
 * an MR being deregistered. */
static int pl_rdma_keys(const struct zc_reg *r, struct zc_rdma_keys *keys)
{
	struct zc_file *f = r->file;
	int ret;

	pthread_mutex_lock(&f->revoke_lock);
	ret = zc_mr_keys(r, keys);
	pthread_mutex_unlock(&f->revoke_lock);
	return ret;
}

/* register: the io_uring pin; reg_mr: each ibv_reg_mr try of the MR agent */
static const char *const pl_fault_steps[] = { "lease", "register", "reg_mr",
					      "io", NULL };

const struct zc_backend_ops zc_pin_lease_ops = {
	.size = sizeof(struct zc_backend_ops),
	.id = PL,
	.name = "pin_lease",
	.caps = ZC_CAP_ZEROCOPY | ZC_CAP_MAP_FILE | ZC_CAP_URING | ZC_CAP_RDMA |
		ZC_CAP_REVOCABLE,
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
	.rdma_keys = pl_rdma_keys,
	.buf_index = zc_fixed_buf_index,
	.unpin = pl_unpin,
	.privatize = pl_privatize,
	.revoke_to = ZC_BACKEND_BOUNCE,
};
