/* SPDX-License-Identifier: MIT */
/*
 * pin_lease under load: 8 threads share one context for ZT_STRESS_SECONDS
 * (default 10). Each loops: make its own tmpfs file (one fd), register it
 * MAP_FILE (pin_lease), store a per-iteration pattern through the mapping,
 * then at random
 *   wait        fork a child that opens (read or write) or truncates (to
 *               the same size) the file, breaking the lease, and checks
 *               every byte; wait for it, then check the registration
 *               (bounce, or revoked with ZC_REG_NO_FALLBACK), its memory
 *               and its I/O, after a zc_read that waits for the end of
 *               the revocation (the breaker is let go before the copy)
 *   destroy     destroy right away
 *   concurrent  fork the breaker and destroy at once (after a random
 *               0..200 us), racing the lease monitor, then wait for it
 * and close. Before the fork or destroy, the lease and the fixed buffer must
 * still be there (nobody opened this file). The main thread drains the
 * event fd meanwhile. At the end the events must match the stats, and fds,
 * mappings and pins (VmPin exactly, nr_foll_pin_* system wide) must be back
 * where they were after a warm-up round, whose first registrations race
 * to start the context's lease monitor. A lease-break signal that reaches
 * an application thread fails the run (it would otherwise kill it). The
 * whole run is under an alarm() watchdog: a deadlock fails the test instead
 * of hanging it.
 *
 * A plain program: exit 0 pass, 1 fail, 77 skip.
 * Environment: ZT_STRESS_SECONDS (duration), ZT_STRESS_SEED (random seed).
 */
#include "helpers.h"


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8
#define MIN_PAGES 64 /* 256 KiB: a leaked registration is >= 64 pinned pages */
#define MAX_EXTRA_PAGES 64

enum mode { M_WAIT, M_DESTROY, M_CONCURRENT, M_NMODES };
enum brk_kind { BRK_READ, BRK_WRITE, BRK_TRUNC, BRK_NKINDS };
static const char *const mode_name[M_NMODES] = { "wait", "destroy", "concurrent" };

struct worker {
	int id;
	pthread_t thread;
	unsigned rs; /* rand_r state */
	unsigned long iters, min_iters;
	unsigned long by_mode[M_NMODES];
	unsigned long no_fallback;
	unsigned long children;
	double max_block, sum_block;
};

static struct zc_ctx *g_ctx;
static const char *g_dir;
static double g_deadline;
static double g_limit_s = 10.0;
static int g_lbt = -1;
static atomic_int g_stop;
static atomic_int g_failed;
static atomic_int g_running;
static pthread_mutex_t g_outlock = PTHREAD_MUTEX_INITIALIZER;

static void st_fail(const struct worker *w, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void st_fail(const struct worker *w, int line, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g_outlock);
	if (w)
		fprintf(stderr, "FAIL: thread %d iteration %lu (line %d): ", w->id,
			w->iters, line);
	else
		fprintf(stderr, "FAIL: (line %d): ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&g_outlock);
	atomic_fetch_add(&g_failed, 1);
	atomic_store(&g_stop, 1);
}

#define TFAIL(...) st_fail(w, __LINE__, __VA_ARGS__)
#define MFAIL(...) st_fail(NULL, __LINE__, __VA_ARGS__)

/* The library aims lease-break signals at its own thread. One that reaches
 * an application thread would kill the process (the default action of a
 * real-time signal): caught here to fail with a reason instead. */
static int g_lease_signal;
static atomic_int g_misaimed;

static void on_lease_signal(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "FAIL: a lease-break signal reached an application "
				  "thread: the library aimed it at the process, not at "
				  "its own thread\n";
	(void)sig;
	(void)si;
	(void)uc;
	if (atomic_fetch_add(&g_misaimed, 1) == 0 && write(2, msg, sizeof msg - 1) < 0)
		_exit(1);
	atomic_store(&g_failed, 1);
	atomic_store(&g_stop, 1);
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL: watchdog: the stress run did not finish in "
				  "time (deadlock?)\nlease_stress: 0 passed, 1 failed\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}


/* ------------------------------------------------------------------ */
/* the breaker child: no stdio, no malloc, no library                   */

struct layout {
	const char *path;
	uint64_t off, len, fsize;
	uint32_t fseed, mseed;
};

struct report {
	double secs;
	int err;
	int stage;
	int64_t bad_off;
};

/* 0, or the stage the report gives a wrong range: 4 short, 5 wrong byte */
static int check_range(int fd, uint64_t off, uint64_t len, uint32_t seed,
		       struct report *rep)
{
	int r = zt_check_range(fd, off, len, seed, &rep->err, &rep->bad_off);

	return r == ZT_RANGE_SHORT ? 4 : r == ZT_RANGE_WRONG ? 5 : 0;
}

static void breaker(const struct layout *l, enum brk_kind kind, int wfd)
{
	struct report rep = { .bad_off = -1 };
	struct stat st;
	double t0 = zt_now_s();
	int fd = -1;

	if (kind == BRK_READ)
		fd = open(l->path, O_RDONLY);
	else if (kind == BRK_WRITE)
		fd = open(l->path, O_RDWR);
	else if (truncate(l->path, (off_t)l->fsize) != 0) /* same size: data kept */
		rep.err = errno;
	rep.secs = zt_now_s() - t0;
	if (kind != BRK_TRUNC && fd < 0)
		rep.err = errno;
	if (rep.err) {
		rep.stage = 1;
		goto out;
	}
	if (fd < 0)
		fd = open(l->path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rep.err = errno;
		rep.stage = 2;
		goto out;
	}
	if ((uint64_t)st.st_size != l->fsize) {
		rep.stage = 3;
		rep.bad_off = st.st_size;
		goto out;
	}
	rep.stage = check_range(fd, 0, l->off, l->fseed, &rep);
	if (!rep.stage)
		rep.stage = check_range(fd, l->off, l->len, l->mseed, &rep);
	if (!rep.stage)
		rep.stage = check_range(fd, l->off + l->len, l->fsize - l->off - l->len,
					l->fseed, &rep);
out:
	zt_breaker_exit(fd, wfd, &rep, sizeof rep, !rep.stage);
}

static pid_t spawn(const struct layout *l, enum brk_kind kind, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		breaker(l, kind, p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*rfd = p[0];
	return pid;
}

/* wait for the child and its report; 0 if it verified every byte */
static int reap_child(struct worker *w, pid_t pid, int rfd, enum brk_kind kind)
{
	struct report rep;
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char sb[64];
	ssize_t n = -1;
	int st = 0;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			TFAIL("waitpid: %s", strerror(errno));
			close(rfd);
			return -1;
		}
	}
	/* written before it exited; other threads' children may still hold
	 * the write end, so do not wait for EOF */
	if (poll(&pfd, 1, 1000) == 1)
		n = read(rfd, &rep, sizeof rep);
	close(rfd);
	w->children++;
	if (n != (ssize_t)sizeof rep) {
		TFAIL("breaker %d sent no report: %s", kind, zt_status_str(st, sb, sizeof sb));
		return -1;
	}
	if (rep.stage || !WIFEXITED(st) || WEXITSTATUS(st)) {
		TFAIL("breaker %s: check %d failed: errno %d (%s), file offset %lld; %s",
		      kind == BRK_READ ? "open(O_RDONLY)" : kind == BRK_WRITE ? "open(O_RDWR)" :
		      "truncate()", rep.stage, rep.err, strerror(rep.err),
		      (long long)rep.bad_off, zt_status_str(st, sb, sizeof sb));
		return -1;
	}
	if (rep.secs > w->max_block)
		w->max_block = rep.secs;
	w->sum_block += rep.secs;
	if (rep.secs >= g_limit_s) {
		TFAIL("breaker blocked %.3f s: not well inside fs.lease-break-time (%d s)",
		      rep.secs, g_lbt);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* one iteration                                                        */

static unsigned rnd(struct worker *w, unsigned n)
{
	return (unsigned)rand_r(&w->rs) % n;
}

static int iteration(struct worker *w)
{
	char path[PATH_MAX], ab[1024];
	struct layout l;
	struct zc_file *f = NULL;
	struct zc_reg *r = NULL;
	struct zc_reg_params p;
	enum mode m = (enum mode)rnd(w, M_NMODES);
	enum brk_kind kind = (enum brk_kind)rnd(w, BRK_NKINDS);
	bool nofb = rnd(w, 4) == 0;
	pid_t pid = -1;
	int fd, rfd = -1, rc, ret = -1;
	uint8_t *a;

	memset(&l, 0, sizeof l);
	l.path = path;
	l.len = (uint64_t)(MIN_PAGES + rnd(w, MAX_EXTRA_PAGES)) * 4096 - rnd(w, 4096);
	l.off = (uint64_t)rnd(w, 4) * 4096 + (rnd(w, 2) ? rnd(w, 4096) : 0);
	l.fsize = l.off + l.len + rnd(w, 8192);
	l.fseed = (uint32_t)w->id * 1000003u + (uint32_t)w->iters * 2u;
	l.mseed = l.fseed + 1;

	/* other threads' children inherit this fd, which shares its open
	 * file description and does not count as another open */
	fd = zt_make_lease_file(g_dir, "st", l.fsize, l.fseed, path);
	if (fd < 0) {
		TFAIL("cannot create a file in %s: %s", g_dir, strerror(-fd));
		return -1;
	}
	rc = zc_file_open(g_ctx, fd, 0, &f);
	if (rc) {
		TFAIL("zc_file_open: %s", zc_strerror(rc));
		goto out;
	}
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_FILE_OFFSET;
	p.length = l.len;
	p.flags = ZC_REG_MAP_FILE | (nofb ? ZC_REG_NO_FALLBACK : 0);
	p.file_offset = l.off;
	rc = zc_reg_create(f, &p, &r);
	if (rc) {
		TFAIL("MAP_FILE registration: %s", zc_strerror(rc));
		r = NULL;
		goto out;
	}
	if (zc_reg_backend(r) != ZC_BACKEND_PIN_LEASE) {
		TFAIL("registration on %s, not pin_lease: %s",
		      zc_backend_name(zc_reg_backend(r)), zt_attempts_str(r, ab, sizeof ab));
		goto out;
	}
	if (zc_reg_buf_index(r, 0, 4096) < 0) {
		TFAIL("pin_lease registration has no fixed buffer: %d",
		      zc_reg_buf_index(r, 0, 4096));
		goto out;
	}
	a = zc_reg_addr(r);
	zt_fill(a, l.len, l.mseed, l.off);
	/* nobody has opened this file: the lease and the pin must still be there */
	if (zc_reg_backend(r) != ZC_BACKEND_PIN_LEASE || fcntl(fd, F_GETLEASE) != F_WRLCK) {
		TFAIL("registration revoked without a breaker: backend %s, F_GETLEASE %d "
		      "(fd %d)", zc_backend_name(zc_reg_backend(r)), fcntl(fd, F_GETLEASE), fd);
		goto out;
	}
	/* nor may another registration's revocation have emptied our slot */
	if (zc_reg_buf_index(r, 0, 4096) < 0) {
		TFAIL("pin_lease registration lost its fixed buffer without a break: %d",
		      zc_reg_buf_index(r, 0, 4096));
		goto out;
	}
	w->by_mode[m]++;
	w->no_fallback += nofb;

	if (m == M_DESTROY) {
		rc = zc_reg_destroy(r);
		r = NULL;
		if (rc) {
			TFAIL("zc_reg_destroy: %d", rc);
			goto out;
		}
		if (fcntl(fd, F_GETLEASE) != F_UNLCK) {
			TFAIL("F_GETLEASE %d after destroy", fcntl(fd, F_GETLEASE));
			goto out;
		}
	} else if (m == M_CONCURRENT) {
		pid = spawn(&l, kind, &rfd);
		if (pid < 0) {
			TFAIL("fork: %s", strerror(errno));
			goto out;
		}
		if (rnd(w, 2)) {
			unsigned us = rnd(w, 200);
			struct timespec ts = { 0, (long)us * 1000 };

			nanosleep(&ts, NULL);
		}
		rc = zc_reg_destroy(r);
		r = NULL;
		if (rc) {
			TFAIL("zc_reg_destroy while the lease breaks: %d", rc);
			goto out;
		}
		rc = reap_child(w, pid, rfd, kind);
		pid = -1;
		if (rc)
			goto out;
	} else {
		uint8_t chk[4096];
		size_t at = (size_t)rnd(w, (unsigned)(l.len - sizeof chk));
		ssize_t n;

		pid = spawn(&l, kind, &rfd);
		if (pid < 0) {
			TFAIL("fork: %s", strerror(errno));
			goto out;
		}
		rc = reap_child(w, pid, rfd, kind);
		pid = -1;
		if (rc)
			goto out;
		/* the child got through; the copy may still be under way, and
		 * I/O on the registration waits until the revocation is over */
		n = zc_read(r, at, l.off + at, sizeof chk);
		if (n != (nofb ? -EKEYREVOKED : (ssize_t)sizeof chk)) {
			TFAIL("zc_read after the break%s: %zd",
			      nofb ? " (ZC_REG_NO_FALLBACK)" : "", n);
			goto out;
		}
		if (zc_reg_addr(r) != a || zc_reg_length(r) != l.len) {
			TFAIL("after the break addr %p length %zu, were %p %zu",
			      zc_reg_addr(r), zc_reg_length(r), (void *)a, (size_t)l.len);
			goto out;
		}
		if (zt_verify(a, l.len, l.mseed, l.off) >= 0) {
			TFAIL("registration memory changed by the break at byte %zd",
			      zt_verify(a, l.len, l.mseed, l.off));
			goto out;
		}
		if (fcntl(fd, F_GETLEASE) != F_UNLCK) {
			TFAIL("F_GETLEASE %d after the break", fcntl(fd, F_GETLEASE));
			goto out;
		}
		if (!nofb) {
			if (zc_reg_backend(r) != ZC_BACKEND_BOUNCE) {
				TFAIL("after the break on %s, not bounce",
				      zc_backend_name(zc_reg_backend(r)));
				goto out;
			}
			zt_fill(a + at, sizeof chk, l.mseed + 7, l.off + at);
			n = zc_write(r, at, l.off + at, sizeof chk);
			if (n != (ssize_t)sizeof chk ||
			    zt_pread_full(fd, chk, sizeof chk, l.off + at) != (ssize_t)sizeof chk ||
			    zt_verify(chk, sizeof chk, l.mseed + 7, l.off + at) >= 0) {
				TFAIL("zc_write after the break: %zd, or the data is wrong", n);
				goto out;
			}
		}
		rc = zc_reg_destroy(r);
		r = NULL;
		if (rc) {
			TFAIL("zc_reg_destroy after the break: %d", rc);
			goto out;
		}
	}
	ret = 0;
out:
	if (pid > 0)
		reap_child(w, pid, rfd, kind);
	if (r)
		zc_reg_destroy(r);
	if (f)
		zc_file_close(f);
	close(fd);
	unlink(path);
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&g_stop) &&
	       (w->iters < w->min_iters || zt_now_s() < g_deadline)) {
		if (iteration(w))
			break;
		w->iters++;
	}
	atomic_fetch_sub(&g_running, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* a round: threads plus the main thread draining events                 */

struct evcount {
	unsigned long revoked_bounce, revoked_none, changed, other;
};

static void drain(struct evcount *ec)
{
	struct zc_event ev[64];
	int n;

	while ((n = zc_ctx_events(g_ctx, ev, ZT_ARRAY_SIZE(ev))) > 0) {
		for (int i = 0; i < n; i++) {
			const struct zc_event *e = &ev[i];

			if (e->type == ZC_EVENT_REVOKED && e->from == ZC_BACKEND_PIN_LEASE &&
			    e->to == ZC_BACKEND_BOUNCE)
				ec->revoked_bounce++;
			else if (e->type == ZC_EVENT_REVOKED &&
				 e->from == ZC_BACKEND_PIN_LEASE && e->to == ZC_BACKEND_NONE)
				ec->revoked_none++;
			else if (e->type == ZC_EVENT_BACKEND_CHANGED &&
				 e->from == ZC_BACKEND_PIN_LEASE && e->to == ZC_BACKEND_BOUNCE)
				ec->changed++;
			else
				ec->other++;
		}
	}
}

static int run_round(struct worker *ws, double seconds, unsigned long min_iters,
		     struct evcount *ec)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(g_ctx), .events = POLLIN };
	pthread_attr_t attr;
	int started = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	g_deadline = zt_now_s() + seconds;
	for (int i = 0; i < NTHREADS; i++) {
		ws[i].min_iters = min_iters;
		atomic_fetch_add(&g_running, 1);
		if (pthread_create(&ws[i].thread, &attr, worker_main, &ws[i]) != 0) {
			atomic_fetch_sub(&g_running, 1);
			MFAIL("pthread_create failed");
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	while (atomic_load(&g_running) > 0) {
		poll(&pfd, 1, 100);
		drain(ec);
	}
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	drain(ec);
	return started == NTHREADS ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* pins                                                                 */

int main(void)
{
	struct worker ws[NTHREADS];
	struct zc_backend_info bi;
	struct zc_ctx_params cp;
	struct sigaction sa;
	struct zc_stats s0, s1;
	struct evcount ec0, ec;
	const char *why = "?", *e;
	double seconds = 10.0, t0;
	unsigned seed;
	int fds, maps, fds1, maps1, rc;
	struct zt_pinsnap pins0, pins1;
	unsigned long tot = 0, by_mode[M_NMODES] = { 0 }, nofb = 0, children = 0;
	unsigned long breaks, revs;
	double max_block = 0, sum_block = 0;

	zt_init();
	e = getenv("ZT_STRESS_SECONDS");
	if (e && *e) {
		seconds = strtod(e, NULL);
		if (seconds <= 0)
			seconds = 0.1;
	}
	e = getenv("ZT_STRESS_SEED");
	seed = e && *e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL);
	g_dir = zt_tmpfs_dir(&why);
	if (!g_dir)
		zt_skip("lease_stress: %s", why);
	memset(&cp, 0, sizeof cp);
	cp.field_mask = ZC_CTX_FIELD_LEASE_SIGNAL;
	cp.lease_signal = g_lease_signal = SIGRTMAX - 3; /* the default, made explicit */
	rc = zc_ctx_create(&cp, &g_ctx);
	if (rc)
		zt_skip("lease_stress: zc_ctx_create: %s", zc_strerror(rc));
	if (zc_ctx_query(g_ctx, ZC_BACKEND_PIN_LEASE, &bi) != 0 || !bi.available) {
		char reason[sizeof bi.reason + 1];

		snprintf(reason, sizeof reason, "%s", bi.reason);
		zc_ctx_destroy(g_ctx);
		zt_skip("lease_stress: pin_lease unavailable: %s", reason);
	}
	g_lbt = zt_lease_break_time(&g_limit_s);
	signal(SIGALRM, on_alarm);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_lease_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(g_lease_signal, &sa, NULL);
	sigaction(SIGIO, &sa, NULL); /* the kernel's fallback when the queue is full */
	alarm((unsigned)(seconds * 3) + 180);
	printf("lease_stress: %d threads, %.1f s, seed %u (ZT_STRESS_SEED), tmpfs %s, "
	       "fs.lease-break-time %d s\n", NTHREADS, seconds, seed, g_dir, g_lbt);

	memset(ws, 0, sizeof ws);
	for (int i = 0; i < NTHREADS; i++) {
		ws[i].id = i;
		ws[i].rs = seed + (unsigned)i * 7919u;
	}
	/* warm-up: the monitor thread, rings, thread stacks, malloc arenas */
	memset(&ec0, 0, sizeof ec0);
	rc = run_round(ws, 0, 6, &ec0);
	if (rc || atomic_load(&g_failed))
		goto done;
	fds = zt_fd_count();
	maps = zt_map_count_comparable();
	pins0 = zt_pin_snap();
	if (zc_ctx_stats(g_ctx, &s0, sizeof s0) != 0) {
		MFAIL("zc_ctx_stats failed");
		goto done;
	}
	for (int i = 0; i < NTHREADS; i++) {
		ws[i].iters = 0;
		memset(ws[i].by_mode, 0, sizeof ws[i].by_mode);
		ws[i].no_fallback = ws[i].children = 0;
		ws[i].max_block = ws[i].sum_block = 0;
	}

	memset(&ec, 0, sizeof ec);
	t0 = zt_now_s();
	rc = run_round(ws, seconds, 1, &ec);
	for (int i = 0; i < NTHREADS; i++) {
		tot += ws[i].iters;
		for (int k = 0; k < M_NMODES; k++)
			by_mode[k] += ws[i].by_mode[k];
		nofb += ws[i].no_fallback;
		children += ws[i].children;
		sum_block += ws[i].sum_block;
		if (ws[i].max_block > max_block)
			max_block = ws[i].max_block;
	}
	if (zc_ctx_stats(g_ctx, &s1, sizeof s1) != 0) {
		MFAIL("zc_ctx_stats failed");
		goto done;
	}
	breaks = (unsigned long)(s1.lease_breaks - s0.lease_breaks);
	revs = (unsigned long)(s1.revocations - s0.revocations);
	printf("lease_stress: %lu iterations in %.1f s (%s %lu, %s %lu, %s %lu; %lu with "
	       "ZC_REG_NO_FALLBACK), %lu breaker children\n", tot, zt_now_s() - t0,
	       mode_name[0], by_mode[0], mode_name[1], by_mode[1], mode_name[2],
	       by_mode[2], nofb, children);
	printf("lease_stress: lease_breaks %lu, revocations %lu; events REVOKED->bounce %lu, "
	       "REVOKED->none %lu, BACKEND_CHANGED %lu, other %lu\n", breaks, revs,
	       ec.revoked_bounce, ec.revoked_none, ec.changed, ec.other);
	printf("lease_stress: breaker blocking time max %.3f ms, mean %.3f ms\n",
	       max_block * 1e3, children ? sum_block * 1e3 / (double)children : 0.0);
	if (rc || atomic_load(&g_failed))
		goto done;

	/* every waited-for break was a break; a concurrent one may have lost
	 * the race to destroy */
	if (breaks < by_mode[M_WAIT] || breaks > by_mode[M_WAIT] + by_mode[M_CONCURRENT])
		MFAIL("lease_breaks %lu outside [%lu, %lu]", breaks,
		      by_mode[M_WAIT], by_mode[M_WAIT] + by_mode[M_CONCURRENT]);
	if (revs != breaks)
		MFAIL("revocations %lu != lease_breaks %lu (one "
		      "registration per file)", revs, breaks);
	if (ec.revoked_bounce + ec.revoked_none != revs || ec.changed != ec.revoked_bounce ||
	    ec.other)
		MFAIL("events do not match the revocations: REVOKED %lu+%lu, "
		      "BACKEND_CHANGED %lu, other %lu, revocations %lu", ec.revoked_bounce,
		      ec.revoked_none, ec.changed, ec.other, revs);

	/* no leaks */
	fds1 = zt_fd_count();
	maps1 = zt_map_count_comparable();
	/* a leaked registration would hold at least MIN_PAGES pins */
	pins1 = zt_pins_wait_back(&pins0, MIN_PAGES);
	printf("lease_stress: fds %d -> %d, mappings %d -> %d, pins %lld -> %lld (%lld -> "
	       "%lld less other processes' io_uring buffers), VmPin %ld -> %ld kB\n", fds,
	       fds1, maps, maps1, (long long)pins0.sys, (long long)pins1.sys,
	       (long long)pins0.adj, (long long)pins1.adj, pins0.vm_kb, pins1.vm_kb);
	if (fds1 != fds)
		MFAIL("fd count %d -> %d", fds, fds1);
	if (maps1 != maps && !zt_under_valgrind())
		MFAIL("mapping count %d -> %d", maps, maps1);
	if (!zt_pins_within(&pins0, &pins1, MIN_PAGES))
		MFAIL("pins not back: outstanding %lld -> %lld (%lld -> %lld less other "
		      "processes' io_uring buffers), VmPin %ld -> %ld kB",
		      (long long)pins0.sys, (long long)pins1.sys, (long long)pins0.adj,
		      (long long)pins1.adj, pins0.vm_kb, pins1.vm_kb);
done:
	zc_ctx_destroy(g_ctx);
	alarm(0);
	if (atomic_load(&g_failed)) {
		printf("lease_stress: 0 passed, 1 failed\n");
		return 1;
	}
	printf("lease_stress: 1 passed, 0 failed\n");
	return 0;
}
