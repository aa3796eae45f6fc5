/* SPDX-License-Identifier: MIT */
/*
 * File leases for pin_lease. The kernel tells a lease holder that someone
 * else wants the file with a signal; the library must not touch the
 * application's signal handling, so the signal is aimed (F_SETOWN_EX with
 * F_OWNER_TID) at one library-owned thread per context that keeps it
 * blocked and reads it from a signalfd. That thread unpins the file's
 * registrations, releases the lease, which unblocks the other process,
 * and only then gives the registrations their copies of the file.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../internal.h"

#define ZC_MAX_BREAKS_AT_ONCE 64

struct zc_lease_monitor {
	struct zc_ctx *ctx;
	pthread_mutex_t lock; /* files, started; taken after a file's lease_lock */
	pthread_cond_t ready;
	pthread_t thread;
	bool started;
	pid_t tid;   /* 0 until the thread runs, -errno if it failed (and exited) */
	int wake_fd; /* tells the thread to stop */
	struct zc_file *files;
};

const char *zc_leases_disabled(void)
{
	FILE *f = fopen("/proc/sys/fs/leases-enable", "re");
	int on = 1;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 1;
		fclose(f);
	}
	return on ? NULL : "fs.leases-enable=0";
}

int zc_lease_monitor_init(struct zc_ctx *ctx)
{
	struct zc_lease_monitor *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->ctx = ctx;
	m->wake_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->ready, NULL);
	ctx->lease_mon = m;
	return 0;
}

void zc_lease_monitor_fini(struct zc_ctx *ctx)
{
	struct zc_lease_monitor *m = ctx->lease_mon;
	uint64_t one = 1;

	if (!m)
		return;
	if (m->started) {
		if (write(m->wake_fd, &one, sizeof(one)) < 0)
			zc_warn(ctx, "lease monitor: wake: %s", strerror(errno));
		pthread_join(m->thread, NULL);
	}
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	pthread_cond_destroy(&m->ready);
	pthread_mutex_destroy(&m->lock);
	free(m);
	ctx->lease_mon = NULL;
}

/* Restore what the application had on its fd before the lease. */
static void lease_release(struct zc_lease_monitor *m, struct zc_file *f)
{
	struct f_owner_ex owner = {
		.type = f->saved_owner_type, .pid = f->saved_owner_pid,
	};

	if (fcntl(f->fd, F_SETLEASE, F_UNLCK) < 0)
		zc_warn(f->ctx, "F_SETLEASE F_UNLCK on fd %d: %s", f->fd,
			strerror(errno));
	fcntl(f->fd, F_SETSIG, f->saved_sig);
	fcntl(f->fd, F_SETOWN_EX, &owner);
	f->lease_refs = 0;
	pthread_mutex_lock(&m->lock);
	for (struct zc_file **p = &m->files; *p; p = &(*p)->lease_next) {
		if (*p == f) {
			*p = f->lease_next;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

/*
 * Unpin every registration on f, let the breaker go, then give each its
 * copy: the breaker's wait does not grow with the registrations' size.
 * The lease lock is held throughout, so zc_reg_destroy waits for the
 * copies too, and I/O on the registrations waits while r->revoking is set.
 */
static void break_file(struct zc_lease_monitor *m, struct zc_file *f)
{
	struct zc_reg *regs;

	pthread_mutex_lock(&f->lease_lock);
	if (f->lease_refs) {
		zc_count(&m->ctx->stats.lease_breaks, 1);
		zc_info(m->ctx, "lease on fd %d broken: revoking its registrations",
			f->fd);
		regs = f->lease_regs;
		f->lease_regs = NULL;
		for (struct zc_reg *r = regs; r; r = r->lease_next)
			zc_reg_revoke_begin(r);
		lease_release(m, f);
		while (regs) {
			struct zc_reg *r = regs;

			regs = r->lease_next;
			r->lease_next = NULL;
			zc_reg_revoke_end(r, 0);
		}
	}
	pthread_mutex_unlock(&f->lease_lock);
}

/* A queue overflow of real-time signals arrives as a plain SIGIO without
 * the fd: then every lease that is no longer whole is being broken. */
static bool lease_breaking(const struct zc_file *f)
{
	return fcntl(f->fd, F_GETLEASE) != F_WRLCK;
}

static void on_signal(struct zc_lease_monitor *m, int fd, bool overflow)
{
	struct zc_file *hit[ZC_MAX_BREAKS_AT_ONCE];
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (struct zc_file *f = m->files; f && n < ZC_MAX_BREAKS_AT_ONCE;
	     f = f->lease_next) {
		/* an fd number can be reused: a signal queued for an earlier
		 * lease on this number must not break a new one */
		if ((overflow || f->fd == fd) && lease_breaking(f)) {
			atomic_fetch_add(&f->monitor_busy, 1); /* zc_file_close waits */
			hit[n++] = f;
		}
	}
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < n; i++) {
		break_file(m, hit[i]);
		atomic_fetch_sub(&hit[i]->monitor_busy, 1);
	}
}

static void *monitor_main(void *arg)
{
	struct zc_lease_monitor *m = arg;
	struct signalfd_siginfo si[8];
	struct pollfd pfd[2];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, m->ctx->lease_signal);
	sigaddset(&set, SIGIO);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	pthread_mutex_lock(&m->lock);
	m->tid = sfd < 0 ? -errno : gettid();
	pthread_cond_broadcast(&m->ready);
	pthread_mutex_unlock(&m->lock);
	if (sfd < 0)
		return NULL;
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = m->wake_fd, .events = POLLIN };
	for (;;) {
		ssize_t len;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		while ((len = read(sfd, si, sizeof(si))) > 0)
			for (size_t i = 0; i < (size_t)len / sizeof(si[0]); i++)
				on_signal(m, si[i].ssi_fd, si[i].ssi_signo == SIGIO);
	}
	close(sfd);
	return NULL;
}

/* A thread that could not set itself up (its signalfd failed: a full fd
 * table, no memory) has exited. Joining it lets the next lease start a
 * new one: one bad moment must not turn pin_lease off for the context. */
static void monitor_reap_failed(struct zc_lease_monitor *m)
{
	pthread_join(m->thread, NULL);
	close(m->wake_fd);
	m->wake_fd = -1;
	m->started = false;
	m->tid = 0;
}

/* Start the thread with every signal blocked, so the lease signal can
 * only ever be read from its signalfd. Called with m->lock held. */
static int monitor_start(struct zc_lease_monitor *m)
{
	pthread_attr_t attr;
	sigset_t all;
	int ret;

	if (m->started && m->tid < 0)
		monitor_reap_failed(m);
	if (m->started) {
		/* another caller may be starting it: an owner tid of 0 would
		 * make the lease signal process-directed */
		while (!m->tid)
			pthread_cond_wait(&m->ready, &m->lock);
		return m->tid < 0 ? m->tid : 0;
	}
	m->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (m->wake_fd < 0)
		return -errno;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setsigmask_np(&attr, &all);
	ret = -pthread_create(&m->thread, &attr, monitor_main, m);
	pthread_attr_destroy(&attr);
	if (ret) {
		close(m->wake_fd);
		m->wake_fd = -1;
		return ret;
	}
	m->started = true;
	while (!m->tid)
		pthread_cond_wait(&m->ready, &m->lock);
	return m->tid < 0 ? m->tid : 0;
}

static void explain_lease_error(int err, int type, char *reason, size_t len)
{
	const char *why = "";

	if (err == -EAGAIN)
		why = type == F_WRLCK ?
			" (the file is open elsewhere: a write lease needs the only open)" :
			" (the file is open for writing elsewhere)";
	else if (err == -EACCES)
		why = " (not the file owner and no CAP_LEASE)";
	else if (err == -EINVAL)
		why = " (the file system does not support leases)";
	snprintf(reason, len, "F_SETLEASE %s: %s%s",
		 type == F_WRLCK ? "F_WRLCK" : "F_RDLCK", strerror(-err), why);
}

int zc_lease_take(struct zc_file *f, int type, char *reason, size_t len)
{
	struct zc_lease_monitor *m = f->ctx->lease_mon;
	struct f_owner_ex owner, saved;
	int ret;

	if (f->lease_refs) {
		f->lease_refs++;
		return 0;
	}
	/* one lease per open file description: another zc_file on this fd
	 * (or a dup of it, or another context) already holds it */
	if (fcntl(f->fd, F_GETLEASE) != F_UNLCK) {
		snprintf(reason, len, "the open file already carries a lease "
			 "(another zc_file on this fd or a dup of it)");
		return -EBUSY;
	}
	pthread_mutex_lock(&m->lock);
	ret = monitor_start(m);
	owner = (struct f_owner_ex){ .type = F_OWNER_TID, .pid = m->tid };
	pthread_mutex_unlock(&m->lock);
	if (ret) {
		snprintf(reason, len, "lease monitor thread: %s", strerror(-ret));
		return ret;
	}
	if (fcntl(f->fd, F_GETOWN_EX, &saved) < 0)
		saved = (struct f_owner_ex){ .type = F_OWNER_PID, .pid = 0 };
	f->saved_owner_type = saved.type;
	f->saved_owner_pid = saved.pid;
	f->saved_sig = fcntl(f->fd, F_GETSIG);
	if (f->saved_sig < 0)
		f->saved_sig = 0;
	ret = zc_fault_hit(f->ctx->faults, ZC_BACKEND_PIN_LEASE, "lease");
	if (!ret && (fcntl(f->fd, F_SETOWN_EX, &owner) < 0 ||
		     fcntl(f->fd, F_SETSIG, f->ctx->lease_signal) < 0 ||
		     fcntl(f->fd, F_SETLEASE, type) < 0))
		ret = -errno;
	if (ret) {
		explain_lease_error(ret, type, reason, len);
		fcntl(f->fd, F_SETSIG, f->saved_sig);
		fcntl(f->fd, F_SETOWN_EX, &saved);
		return ret;
	}
	f->lease_refs = 1;
	pthread_mutex_lock(&m->lock);
	f->lease_next = m->files;
	m->files = f;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void zc_lease_put(struct zc_file *f)
{
	if (f->lease_refs && --f->lease_refs == 0)
		lease_release(f->ctx->lease_mon, f);
}
