/* SPDX-License-Identifier: MIT */
/*
 * File leases (F_SETLEASE) and the thread that hears them break. The
 * kernel tells a lease holder that someone else wants the file with a
 * signal; so that the application's signal handling is never touched, the
 * signal is aimed (F_SETOWN_EX with F_OWNER_TID) at one thread per
 * monitor that keeps it blocked and reads it from a signalfd, and calls
 * the lease's on_break there. Knows nothing of the library's objects: the
 * holder embeds a struct zc_lease in its own state.
 */
#ifndef ZC_SYS_LEASE_H
#define ZC_SYS_LEASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct zc_lease_monitor;

struct zc_lease {
	int fd; /* set by the holder before zc_lease_take */
	/* on the monitor thread, when the kernel says the lease is being
	 * broken: the holder lets go of what the lease protected, then calls
	 * zc_lease_release */
	void (*on_break)(struct zc_lease *l);
	/* optional fault injection: -errno for F_SETLEASE to fail with now,
	 * else 0 */
	int (*inject)(struct zc_lease *l);

	/* the rest is sys/lease.c's */
	struct zc_lease *next; /* in the monitor's list while held */
	_Atomic int busy;      /* the monitor is calling on_break */
	int type;              /* F_RDLCK or F_WRLCK while held */
	int saved_sig;         /* the fd's F_GETSIG before the lease */
	int saved_owner_type, saved_owner_pid; /* and its F_GETOWN_EX */
};

/* a monitor whose thread (started with the first lease) listens for
 * signal signo; NULL when out of memory */
struct zc_lease_monitor *zc_lease_monitor_new(int signo);
void zc_lease_monitor_free(struct zc_lease_monitor *m);
/* take lease type (F_RDLCK, F_WRLCK) on l->fd: 0, or -errno with a
 * reason a user can act on */
int zc_lease_take(struct zc_lease_monitor *m, struct zc_lease *l, int type,
		  char *reason, size_t len);
/* give the lease up and restore the fd's owner and signal: 0, or the
 * -errno of F_SETLEASE F_UNLCK (the rest is done all the same) */
int zc_lease_release(struct zc_lease_monitor *m, struct zc_lease *l);
/* wait until no on_break of l runs (before freeing l) */
void zc_lease_quiesce(struct zc_lease *l);
/* fs.leases-enable: 1 or 0, or -errno when it cannot be read */
int zc_leases_enabled(void);

#endif /* ZC_SYS_LEASE_H */
