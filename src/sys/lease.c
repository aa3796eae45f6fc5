/* SPDX-License-Identifier: MIT */
/*
 * File leases and the thread that hears them break (see sys/lease.h). The
 * thread only finds the lease a signal is about and calls its on_break;
 * what a break means is the holder's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "sys/lease.h"
#include "sys/proc.h"

#define ZC_MAX_BREAKS_AT_ONCE 64

struct zc_lease_monitor {
	int signo;
	pthread_mutex_t lock; /* leases, started; taken inside the holders' locks */
	pthread_cond_t ready;
	pthread_t thread;
	bool started;
	pid_t tid;   /* 0 until the thread runs, -errno if it failed (and exited) */
	int wake_fd; /* tells the thread to stop */
	struct zc_lease *leases;
};

int zc_leases_enabled(void)
{
	int on, ret = zc_proc_read_int("/proc/sys/fs/leases-enable", &on);

	return ret ? ret : on != 0;
}

struct zc_lease_monitor *zc_lease_monitor_new(int signo)
{
	struct zc_lease_monitor *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->signo = signo;
	m->wake_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->ready, NULL);
	return m;
}

void zc_lease_monitor_free(struct zc_lease_monitor *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (m->started) {
		/* adding 1 to an eventfd at 0 cannot fail */
		ssize_t n = write(m->wake_fd, &one, sizeof(one));

		(void)n;
		pthread_join(m->thread, NULL);
	}
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	pthread_cond_destroy(&m->ready);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int zc_lease_release(struct zc_lease_monitor *m, struct zc_lease *l)
{
	struct f_owner_ex owner = {
		.type = l->saved_owner_type, .pid = l->saved_owner_pid,
	};
	int ret = 0;

	if (fcntl(l->fd, F_SETLEASE, F_UNLCK) < 0)
		ret = -errno;
	/* what the application had on its fd before the lease */
	fcntl(l->fd, F_SETSIG, l->saved_sig);
	fcntl(l->fd, F_SETOWN_EX, &owner);
	pthread_mutex_lock(&m->lock);
	for (struct zc_lease **p = &m->leases; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void zc_lease_quiesce(struct zc_lease *l)
{
	while (atomic_load(&l->busy))
		usleep(50);
}

/* A queue overflow of real-time signals arrives as a plain SIGIO without
 * the fd: then every lease that is no longer whole is being broken. */
static bool lease_breaking(const struct zc_lease *l)
{
	return fcntl(l->fd, F_GETLEASE) != l->type;
}

static void on_signal(struct zc_lease_monitor *m, int fd, bool overflow)
{
	struct zc_lease *hit[ZC_MAX_BREAKS_AT_ONCE];
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (struct zc_lease *l = m->leases; l && n < ZC_MAX_BREAKS_AT_ONCE;
	     l = l->next) {
		/* an fd number can be reused: a signal queued for an earlier
		 * lease on this number must not break a new one */
		if ((overflow || l->fd == fd) && lease_breaking(l)) {
			atomic_fetch_add(&l->busy, 1); /* zc_lease_quiesce waits */
			hit[n++] = l;
		}
	}
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < n; i++) {
		hit[i]->on_break(hit[i]);
		atomic_fetch_sub(&hit[i]->busy, 1);
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
	sigaddset(&set, m->signo);
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

int zc_lease_take(struct zc_lease_monitor *m, struct zc_lease *l, int type,
		  char *reason, size_t len)
{
	struct f_owner_ex owner, saved;
	int ret;

	/* one lease per open file description: another holder on this fd
	 * (or a dup of it) already has it */
	if (fcntl(l->fd, F_GETLEASE) != F_UNLCK) {
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
	if (fcntl(l->fd, F_GETOWN_EX, &saved) < 0)
		saved = (struct f_owner_ex){ .type = F_OWNER_PID, .pid = 0 };
	l->saved_owner_type = saved.type;
	l->saved_owner_pid = saved.pid;
	l->saved_sig = fcntl(l->fd, F_GETSIG);
	if (l->saved_sig < 0)
		l->saved_sig = 0;
	ret = l->inject ? l->inject(l) : 0;
	if (!ret && (fcntl(l->fd, F_SETOWN_EX, &owner) < 0 ||
		     fcntl(l->fd, F_SETSIG, m->signo) < 0 ||
		     fcntl(l->fd, F_SETLEASE, type) < 0))
		ret = -errno;
	if (ret) {
		explain_lease_error(ret, type, reason, len);
		fcntl(l->fd, F_SETSIG, l->saved_sig);
		fcntl(l->fd, F_SETOWN_EX, &saved);
		return ret;
	}
	l->type = type;
	pthread_mutex_lock(&m->lock);
	l->next = m->leases;
	m->leases = l;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
