/* SPDX-License-Identifier: MIT */
/* pin_lease: MAP_FILE registrations pinned under a write lease, and what a
 * lease break (another open, a truncate) does to them. Everything is real:
 * the breaker is a forked child, the lease is the kernel's, the pins are
 * counted in /proc/vmstat and in VmPin. Variants:
 *   tmpfs   breaks by read-open, write-open and truncate; events, stats,
 *           I/O after the break and during it, ZC_REG_NO_FALLBACK, one
 *           lease shared by several registrations, a file already open
 *           elsewhere, leaks, first leases taken by many threads at once,
 *           a breaker racing registrations, a break after the holder's
 *           own ftruncate (the copy is read up to the new end, no SIGBUS),
 *           the lease released before the copy is made (the breaker finds
 *           the memory still the file's mapping), the copy of a registration
 *           without ZC_ACCESS_WRITE read-only, a lease monitor that could
 *           not start (EMFILE) started again by the next lease
 *   ext4    page-cache MAP_FILE: the pin is refused, the lease is dropped
 *   unpriv  (root) a process without CAP_LEASE on a file it does not own
 *   stale_signal (root, 2 CPUs) a break signal still queued for a lease the
 *           application already released must not revoke the next lease
 *           on the same fd number; SCHED_FIFO holds the lease monitor back
 *           so the interleaving is deterministic
 *
 * The only timing assertion: a breaker must get through well inside
 * fs.lease-break-time (the kernel's own forced break), which would mean
 * the library never released the lease. Blocking times are printed. One
 * check leans on time without measuring it: in at least one of three
 * breaks of a 128 MiB registration, the breaker reads /proc/PID/maps
 * before the library's copy (tens of milliseconds) is in place. */
#include "helpers.h"


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REG_OFF (8192 + 100) /* not page aligned on purpose */
#define REG_LEN (2 * ZT_MiB + 555)
#define F_SIZE (REG_OFF + REG_LEN + 3 * 4096 + 17)
#define SEED_FILE 41u
#define SEED_MAP 42u  /* stored through the mapping before the break */
#define SEED_W 43u    /* zc_write after the break */
#define SEED_S 44u    /* zc_sync after the break */
#define SEED_R 45u    /* pwrite on the original fd, then zc_read */
#define SEED_Q 46u    /* queue write after the break */
#define MAP_AT 1000u  /* registration offset of the stores */
#define MAP_LEN 300000u
#define EV_TIMEOUT_MS 5000
#define APP_SIG (SIGRTMIN + 2) /* what the "application" set on its fd */

static const char *g_dir;
static const char *g_variant;
static int g_lbt = -1;    /* fs.lease-break-time, seconds */
static double g_limit_s;  /* "well inside lease-break-time" */

/* ------------------------------------------------------------------ */
/* fixture                                                              */

struct plx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd;
	char path[PATH_MAX];
};

static void plx_open(struct plx *x, uint64_t size)
{
	ck_assert_int_eq(zc_ctx_create(NULL, &x->ctx), 0);
	x->fd = zt_make_lease_file(g_dir, "pl", size, SEED_FILE, x->path);
	ck_assert_msg(x->fd >= 0, "cannot create a file in %s: %s", g_dir,
		      strerror(-x->fd));
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
}

static void plx_close(struct plx *x)
{
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	unlink(x->path);
}

static int reg_map(struct plx *x, uint64_t off, size_t len, unsigned flags,
		   struct zc_reg **out)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS |
		       ZC_REG_FIELD_FILE_OFFSET;
	p.length = len;
	p.flags = ZC_REG_MAP_FILE | flags;
	p.file_offset = off;
	return zc_reg_create(x->f, &p, out);
}

/* register and insist on pin_lease */
static struct zc_reg *reg_pinned(struct plx *x, uint64_t off, size_t len,
				 unsigned flags)
{
	struct zc_reg *r = NULL;
	char ab[2048];
	int rc = reg_map(x, off, len, flags, &r);

	ck_assert_msg(rc == 0, "MAP_FILE registration: %d (%s)", rc, zc_strerror(rc));
	ck_assert_msg(zc_reg_backend(r) == ZC_BACKEND_PIN_LEASE,
		      "MAP_FILE O_RDWR on %s landed on %s, not pin_lease: %s", g_variant,
		      zc_backend_name(zc_reg_backend(r)), zt_attempts_str(r, ab, sizeof ab));
	ck_assert_int_eq(zc_reg_length(r), len);
	ck_assert_ptr_nonnull(zc_reg_addr(r));
	return r;
}

/* ------------------------------------------------------------------ */
/* pins                                                                 */

/* Back where they were (waiting up to three seconds for another
 * process's pins to go; a leaked pin stays): VmPin exactly, the
 * system-wide count within half the registration's pages. */
static void pins_back(const struct zt_pinsnap *s0, int64_t pages, const char *what)
{
	struct zt_pinsnap s = zt_pins_wait_back(s0, pages / 2);

	if (zt_pins_within(s0, &s, pages / 2))
		return;
	ck_abort_msg("%s: pins outstanding %lld before, %lld after (%lld -> %lld less "
		     "other processes' io_uring buffers; for %lld pages); VmPin %ld kB "
		     "before, %ld kB after", what, (long long)s0->sys, (long long)s.sys,
		     (long long)s0->adj, (long long)s.adj, (long long)pages, s0->vm_kb,
		     s.vm_kb);
}

/* a registration of `pages` pages is pinned: VmPin rose by about as much */
static void pins_raised(const struct zt_pinsnap *before, int64_t pages, const char *what)
{
	long kb = zt_vm_pin_kb();
	long want = (long)pages * (sysconf(_SC_PAGESIZE) / 1024);

	if (before->vm_kb < 0)
		return;
	ck_assert_msg(kb - before->vm_kb >= want / 2, "%s: VmPin %ld kB -> %ld kB, expected "
		      "+%ld kB", what, before->vm_kb, kb, want);
}

static struct zc_stats stats(struct zc_ctx *ctx)
{
	struct zc_stats s;

	ck_assert_int_eq(zc_ctx_stats(ctx, &s, sizeof s), 0);
	return s;
}


/* ------------------------------------------------------------------ */
/* the application's F_SETSIG / F_SETOWN_EX on its fd                   */

struct fdsig {
	int sig;
	struct f_owner_ex owner;
};

static struct fdsig fdsig_get(int fd)
{
	struct fdsig s;

	memset(&s, 0, sizeof s);
	s.sig = fcntl(fd, F_GETSIG);
	ck_assert_int_ge(s.sig, 0);
	ck_assert_int_eq(fcntl(fd, F_GETOWN_EX, &s.owner), 0);
	return s;
}

/* what an application using SIGIO-style notification might have set */
static struct fdsig fdsig_set_app(int fd)
{
	struct f_owner_ex o = { .type = F_OWNER_PID, .pid = getpid() };

	ck_assert_int_eq(fcntl(fd, F_SETSIG, APP_SIG), 0);
	ck_assert_int_eq(fcntl(fd, F_SETOWN_EX, &o), 0);
	return fdsig_get(fd);
}

static void fdsig_check(int fd, const struct fdsig *want, const char *when)
{
	struct fdsig now = fdsig_get(fd);

	ck_assert_msg(now.sig == want->sig, "%s: F_GETSIG is %d, the application had %d",
		      when, now.sig, want->sig);
	ck_assert_msg(now.owner.type == want->owner.type && now.owner.pid == want->owner.pid,
		      "%s: F_GETOWN_EX is {type %d, pid %d}, the application had "
		      "{type %d, pid %d}", when, now.owner.type, now.owner.pid,
		      want->owner.type, want->owner.pid);
}

static void lease_is(int fd, int want, const char *when)
{
	int l = fcntl(fd, F_GETLEASE);

	ck_assert_msg(l == want, "%s: F_GETLEASE is %d, expected %s", when, l,
		      want == F_WRLCK ? "F_WRLCK" : want == F_UNLCK ? "F_UNLCK" : "F_RDLCK");
}

/* ------------------------------------------------------------------ */
/* the breaker: a forked child                                          */

enum brk_kind { BRK_READ, BRK_WRITE, BRK_TRUNC };

static const char *brk_name(enum brk_kind k)
{
	return k == BRK_READ ? "open(O_RDONLY)" : k == BRK_WRITE ? "open(O_RDWR)" :
							  "truncate()";
}

struct chk_range {
	uint64_t off;
	uint64_t len;
	uint32_t seed;
};

struct brk_spec {
	enum brk_kind kind;
	const char *path;
	int64_t trunc_to;  /* BRK_TRUNC: new size */
	int64_t want_size; /* the size the child must see, -1: any */
	unsigned nchk;
	struct chk_range chk[4];
	/* "/proc/<holder>/maps" and "<start>-" of a registration's mapping
	 * there: what the holder's memory is right after the call returns */
	char maps_path[64];
	char map_start[32];
};

struct brk_report {
	double secs;     /* duration of the open/truncate call alone */
	int err;         /* errno of the call, 0 if it worked */
	int stage;       /* 0 ok, else which check failed */
	int64_t bad_off; /* first wrong byte's file offset, -1 */
	int64_t size;    /* st_size the child saw */
	int map_is_file; /* 1: map_start was still the file's mapping, 0: not */
};

/* Is the mapping at sp->map_start in the holder a mapping of a file (a
 * path ends its line in /proc/PID/maps)? 0 if not, or if it is gone. */
static int holder_map_is_file(const struct brk_spec *sp)
{
	static char m[1 << 20];
	size_t used = 0, plen = strlen(sp->map_start);
	ssize_t n;
	int fd = open(sp->maps_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (used < sizeof m - 1 && (n = read(fd, m + used, sizeof m - 1 - used)) > 0)
		used += (size_t)n;
	close(fd);
	m[used] = 0;
	for (char *line = m; *line;) {
		char *end = strchrnul(line, '\n');

		if (strncmp(line, sp->map_start, plen) == 0)
			return memchr(line, '/', (size_t)(end - line)) != NULL;
		line = *end ? end + 1 : end;
	}
	return 0;
}

/* runs in the child: no Check, no stdio, no malloc */
static void breaker_child(const struct brk_spec *sp, int wfd)
{
	struct brk_report rep = { .bad_off = -1 };
	struct stat st;
	double t0;
	int fd = -1;

	t0 = zt_now_s();
	if (sp->kind == BRK_READ) {
		fd = open(sp->path, O_RDONLY | O_CLOEXEC);
	} else if (sp->kind == BRK_WRITE) {
		fd = open(sp->path, O_RDWR | O_CLOEXEC);
	} else {
		if (truncate(sp->path, (off_t)sp->trunc_to) != 0)
			rep.err = errno;
	}
	rep.secs = zt_now_s() - t0;
	if (sp->kind != BRK_TRUNC && fd < 0)
		rep.err = errno;
	if (sp->map_start[0])
		rep.map_is_file = holder_map_is_file(sp);
	if (rep.err) {
		rep.stage = 1;
		goto out;
	}
	if (fd < 0)
		fd = open(sp->path, O_RDONLY | O_CLOEXEC); /* after the truncate */
	if (fd < 0 || fstat(fd, &st) != 0) {
		rep.err = errno;
		rep.stage = 2;
		goto out;
	}
	rep.size = st.st_size;
	if (sp->want_size >= 0 && st.st_size != sp->want_size) {
		rep.stage = 3;
		goto out;
	}
	for (unsigned i = 0; i < sp->nchk && !rep.stage; i++) {
		const struct chk_range *c = &sp->chk[i];
		int r = zt_check_range(fd, c->off, c->len, c->seed, &rep.err,
				       &rep.bad_off);

		rep.stage = r == ZT_RANGE_SHORT ? 4 : r == ZT_RANGE_WRONG ? 5 : 0;
	}
out:
	zt_breaker_exit(fd, wfd, &rep, sizeof rep, !rep.stage);
}

/* Fork the breaker, wait for its report (a hang guard well past
 * lease-break-time, never an assertion on time) and its exit. */
static void run_breaker(const struct brk_spec *sp, struct brk_report *rep)
{
	int p[2], st = 0;
	struct pollfd pfd;
	char sb[64];
	pid_t pid;
	ssize_t n;
	int guard_ms = (g_lbt > 0 ? g_lbt : 45) * 1000 + 30000;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		breaker_child(sp, p[1]);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, guard_ms) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(p[0]);
		ck_abort_msg("breaker %s still blocked after %d ms", brk_name(sp->kind),
			     guard_ms);
	}
	memset(rep, 0, sizeof *rep);
	n = read(p[0], rep, sizeof *rep);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	ck_assert_msg(n == (ssize_t)sizeof *rep, "breaker sent %zd bytes, %s", n,
		      zt_status_str(st, sb, sizeof sb));
	printf("pin_lease.%s: breaker %s blocked %.3f ms (fs.lease-break-time %d s)\n",
	       g_variant, brk_name(sp->kind), rep->secs * 1e3, g_lbt);
	ck_assert_msg(rep->stage == 0,
		      "breaker %s: check %d failed (errno %d: %s, file offset %lld, "
		      "size %lld); %s", brk_name(sp->kind), rep->stage, rep->err,
		      strerror(rep->err), (long long)rep->bad_off, (long long)rep->size,
		      zt_status_str(st, sb, sizeof sb));
	ZT_CK_CHILD_OK(st);
	ck_assert_msg(rep->secs < g_limit_s,
		      "breaker %s blocked %.3f s: not well inside fs.lease-break-time "
		      "(%d s), so the library did not release the lease itself",
		      brk_name(sp->kind), rep->secs, g_lbt);
}

/* ------------------------------------------------------------------ */
/* events                                                               */

/* Collect events until `want` arrived (poll with a timeout), then take
 * whatever else is already queued, so extra events are seen too. */
static int collect_events(struct zc_ctx *ctx, struct zc_event *ev, unsigned max,
			  unsigned want)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	double end = zt_now_s() + EV_TIMEOUT_MS / 1e3;
	unsigned n = 0;
	int got;

	ck_assert_int_ge(pfd.fd, 0);
	while (n < want && zt_now_s() < end) {
		int left = (int)((end - zt_now_s()) * 1e3) + 1;

		if (poll(&pfd, 1, left) <= 0)
			continue;
		got = zc_ctx_events(ctx, ev + n, max - n);
		ck_assert_int_ge(got, 0);
		n += (unsigned)got;
	}
	got = zc_ctx_events(ctx, ev + n, max - n);
	ck_assert_int_ge(got, 0);
	return (int)(n + (unsigned)got);
}

static const char *ev_name(uint32_t t)
{
	return t == ZC_EVENT_REVOKED ? "REVOKED" :
	       t == ZC_EVENT_BACKEND_CHANGED ? "BACKEND_CHANGED" :
	       t == ZC_EVENT_FALLBACK ? "FALLBACK" : "?";
}

static const char *events_str(const struct zc_event *ev, int n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (int i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s(%s->%s reg %p err %d)",
				 i ? " " : "", ev_name(ev[i].type),
				 zc_backend_name(ev[i].from), zc_backend_name(ev[i].to),
				 (void *)ev[i].reg, ev[i].error);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}

static void ev_check(const struct zc_event *e, uint32_t type, enum zc_backend to,
		     const struct zc_reg *r, const char *all)
{
	ck_assert_msg(e->type == type && e->from == ZC_BACKEND_PIN_LEASE && e->to == to &&
			      e->reg == r,
		      "expected %s(pin_lease->%s reg %p), events: %s", ev_name(type),
		      zc_backend_name(to), (const void *)r, all);
}

/* After a break zc_reg_attempts tells the story: pin_lease keeps its
 * place, revoked and why, each backend at most once, and the last entry
 * is the backend in use (to; none when the registration stays revoked). */
static void attempts_after_break(const struct zc_reg *r, enum zc_backend to)
{
	struct zc_attempt a[ZC_BACKEND_MAX];
	uint64_t seen = 0;
	int n, revoked = -1;
	char ab[2048];

	n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));
	zt_attempts_str(r, ab, sizeof ab);
	printf("pin_lease.%s: attempts after the break: %s\n", g_variant, ab);
	ck_assert_msg(n >= 1 && n <= (int)ZT_ARRAY_SIZE(a), "%d attempts: %s", n, ab);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(!(seen & ZC_BACKEND_BIT(a[i].backend)),
			      "%s listed twice: %s", zc_backend_name(a[i].backend), ab);
		seen |= ZC_BACKEND_BIT(a[i].backend);
		ck_assert_msg(a[i].error || i == n - 1,
			      "entry %d of %d has error 0: %s", i, n, ab);
		if (a[i].backend == ZC_BACKEND_PIN_LEASE)
			revoked = i;
	}
	ck_assert_msg(revoked >= 0 && a[revoked].error == -EKEYREVOKED &&
			      strstr(a[revoked].reason, "lease was broken"),
		      "pin_lease is not listed as revoked by the break: %s", ab);
	if (to == ZC_BACKEND_NONE) {
		ck_assert_msg(revoked == n - 1 && strstr(a[revoked].reason,
							 "ZC_REG_NO_FALLBACK"),
			      "a registration left revoked: %s", ab);
		return;
	}
	ck_assert_msg(a[n - 1].backend == to && a[n - 1].error == 0 &&
			      strstr(a[n - 1].reason, "took over when pin_lease was revoked"),
		      "the last entry is not %s in use: %s", zc_backend_name(to), ab);
	ck_assert_msg(revoked < n - 1, "pin_lease listed after %s: %s",
		      zc_backend_name(to), ab);
}

/* ------------------------------------------------------------------ */
/* tmpfs: one break of each kind                                        */

static void check_map_contents(const uint8_t *a, size_t len, const char *when)
{
	ssize_t bad;

	bad = zt_verify(a, MAP_AT, SEED_FILE, REG_OFF);
	ck_assert_msg(bad < 0, "%s: byte %zd of the registration lost", when, bad);
	bad = zt_verify(a + MAP_AT, MAP_LEN, SEED_MAP, REG_OFF + MAP_AT);
	ck_assert_msg(bad < 0, "%s: byte %zd stored through the mapping lost", when,
		      bad + (ssize_t)MAP_AT);
	bad = zt_verify(a + MAP_AT + MAP_LEN, len - MAP_AT - MAP_LEN, SEED_FILE,
			REG_OFF + MAP_AT + MAP_LEN);
	ck_assert_msg(bad < 0, "%s: byte %zd of the registration lost", when,
		      bad + (ssize_t)(MAP_AT + MAP_LEN));
}

static void pread_verify(int fd, uint64_t off, size_t len, uint32_t seed,
			 const char *what)
{
	uint8_t b[16384];

	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof b ? len - done : sizeof b;
		ssize_t got = zt_pread_full(fd, b, n, off + done);
		ssize_t bad;

		ck_assert_msg(got == (ssize_t)n, "%s: pread on the original fd at %llu: %zd",
			      what, (unsigned long long)(off + done), got);
		bad = zt_verify(b, n, seed, off + done);
		ck_assert_msg(bad < 0, "%s: file byte %llu is wrong (pread on the "
			      "original fd)", what,
			      (unsigned long long)(off + done + (uint64_t)bad));
		done += n;
	}
}

static void break_test(enum brk_kind kind, bool app_sig)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_stats s0, s1;
	struct zc_event ev[16];
	struct brk_spec sp;
	struct brk_report rep;
	struct fdsig sig0;
	struct zc_queue *q;
	struct zc_completion c;
	char eb[2048];
	uint8_t *a, *buf;
	struct zt_pinsnap pins0;
	const int64_t pages = (int64_t)(REG_LEN / 4096);
	const int64_t trunc_to = REG_OFF + REG_LEN / 2;
	const size_t valid = kind == BRK_TRUNC ? REG_LEN / 2 : REG_LEN;
	int n;

	plx_open(&x, F_SIZE);
	sig0 = app_sig ? fdsig_set_app(x.fd) : fdsig_get(x.fd);
	s0 = stats(x.ctx);
	pins0 = zt_pin_snap();
	r = reg_pinned(&x, REG_OFF, REG_LEN, 0);
	pins_raised(&pins0, pages, "pin_lease registration");
	lease_is(x.fd, F_WRLCK, "registered");
	ck_assert_int_ge(zc_reg_buf_index(r, 0, REG_LEN), 0);
	a = zc_reg_addr(r);
	ck_assert_int_eq(zt_verify(a, REG_LEN, SEED_FILE, REG_OFF), -1);
	zt_fill(a + MAP_AT, MAP_LEN, SEED_MAP, REG_OFF + MAP_AT);

	/* the child sees the stores: the mapping is the file */
	memset(&sp, 0, sizeof sp);
	sp.kind = kind;
	sp.path = x.path;
	sp.trunc_to = trunc_to;
	sp.want_size = kind == BRK_TRUNC ? trunc_to : (int64_t)F_SIZE;
	sp.chk[sp.nchk++] = (struct chk_range){ 0, REG_OFF + MAP_AT, SEED_FILE };
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + MAP_AT, MAP_LEN, SEED_MAP };
	sp.chk[sp.nchk++] = (struct chk_range){
		REG_OFF + MAP_AT + MAP_LEN,
		(uint64_t)sp.want_size - (REG_OFF + MAP_AT + MAP_LEN), SEED_FILE
	};
	run_breaker(&sp, &rep);

	/* the copy is made after the breaker was let go: the events say
	 * when it is in place */
	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 2);
	events_str(ev, n, eb, sizeof eb);
	printf("pin_lease.%s: events after %s: %s\n", g_variant, brk_name(kind), eb);
	ck_assert_msg(n == 2, "expected REVOKED then BACKEND_CHANGED, got %d: %s", n, eb);
	ev_check(&ev[0], ZC_EVENT_REVOKED, ZC_BACKEND_BOUNCE, r, eb);
	ev_check(&ev[1], ZC_EVENT_BACKEND_CHANGED, ZC_BACKEND_BOUNCE, r, eb);

	/* now on bounce, same pointer, the file's contents: past the end a
	 * truncating breaker made, zeros, or what was there where the copy
	 * was read before the truncate got through */
	ck_assert_msg(zc_reg_backend(r) == ZC_BACKEND_BOUNCE,
		      "after the break the registration is on %s",
		      zc_backend_name(zc_reg_backend(r)));
	ck_assert_ptr_eq(zc_reg_addr(r), a);
	ck_assert_int_eq(zc_reg_length(r), REG_LEN);
	attempts_after_break(r, ZC_BACKEND_BOUNCE);
	check_map_contents(a, valid, "after the break");
	for (size_t i = valid; i < REG_LEN; i++)
		if (a[i] && a[i] != zt_pat(SEED_FILE, REG_OFF + i))
			ck_abort_msg("after the break: byte %zu past the new end of "
				     "the file is %u: neither 0 nor the file's", i, a[i]);

	s1 = stats(x.ctx);
	ck_assert_msg(s1.lease_breaks == s0.lease_breaks + 1,
		      "lease_breaks %llu -> %llu", (unsigned long long)s0.lease_breaks,
		      (unsigned long long)s1.lease_breaks);
	ck_assert_msg(s1.revocations == s0.revocations + 1, "revocations %llu -> %llu",
		      (unsigned long long)s0.revocations,
		      (unsigned long long)s1.revocations);

	/* the lease is gone, the application's fd settings are back, the pin
	 * is released at the break (not only at destroy) */
	lease_is(x.fd, F_UNLCK, "after the break");
	fdsig_check(x.fd, &sig0, "after the break");
	ck_assert_int_eq(zc_reg_buf_index(r, 0, 4096), -ENODATA);
	pins_back(&pins0, pages, "after the break: the revoked registration is still pinned");

	/* I/O keeps working on bounce; checked with pread on the original fd */
	zt_fill(a + 4096, 65536, SEED_W, REG_OFF + 4096);
	ck_assert_int_eq(zc_write(r, 4096, REG_OFF + 4096, 65536), 65536);
	pread_verify(x.fd, REG_OFF + 4096, 65536, SEED_W, "zc_write after the break");

	zt_fill(a + 200000, 70000, SEED_S, REG_OFF + 200000);
	ck_assert_int_eq(zc_sync(r, 200000, 70000), 0);
	pread_verify(x.fd, REG_OFF + 200000, 70000, SEED_S, "zc_sync after the break");

	buf = malloc(100000);
	ck_assert_ptr_nonnull(buf);
	zt_fill(buf, 100000, SEED_R, REG_OFF + 500000);
	ck_assert_int_eq(pwrite(x.fd, buf, 100000, REG_OFF + 500000), 100000);
	free(buf);
	ck_assert_int_eq(zc_read(r, 500000, REG_OFF + 500000, 100000), 100000);
	ck_assert_int_eq(zt_verify(a + 500000, 100000, SEED_R, REG_OFF + 500000), -1);

	ck_assert_int_eq(zc_queue_create(x.ctx, 0, 0, &q), 0);
	zt_fill(a + 700000, 40000, SEED_Q, REG_OFF + 700000);
	ck_assert_int_eq(zc_prep_write(q, r, 700000, REG_OFF + 700000, 40000, 77), 0);
	ck_assert_int_eq(zc_submit(q), 1);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_msg(c.res == 40000 && c.user_data == 77 &&
			      c.backend == ZC_BACKEND_BOUNCE && (c.flags & ZC_CQE_F_FALLBACK),
		      "queue write after the break: res %lld ud %llu backend %s flags 0x%x",
		      (long long)c.res, (unsigned long long)c.user_data,
		      zc_backend_name((enum zc_backend)c.backend), c.flags);
	zc_queue_destroy(q);
	pread_verify(x.fd, REG_OFF + 700000, 40000, SEED_Q, "queue write after the break");

	/* the whole registration, short at the new end of file after a truncate */
	ck_assert_int_eq(zc_read(r, 0, REG_OFF, REG_LEN), (ssize_t)valid);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	lease_is(x.fd, F_UNLCK, "after destroy");
	fdsig_check(x.fd, &sig0, "after destroy");
	plx_close(&x);
}

START_TEST(test_pl_break_by_read_open_revokes_to_bounce)
{
	break_test(BRK_READ, true);
}
END_TEST

START_TEST(test_pl_break_by_write_open_revokes_to_bounce)
{
	break_test(BRK_WRITE, false);
}
END_TEST

START_TEST(test_pl_break_by_truncate_unpins_before_shrinking_and_revokes_to_bounce)
{
	break_test(BRK_TRUNC, true);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ZC_REG_NO_FALLBACK                                                   */

START_TEST(test_pl_no_fallback_stays_revoked_and_destroys)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_stats s0, s1;
	struct zc_event ev[16];
	struct brk_spec sp;
	struct brk_report rep;
	struct zc_queue *q;
	char eb[2048];
	uint8_t *a;
	int n, fds, maps;
	struct zt_pinsnap pins0;
	const int64_t pages = (int64_t)(REG_LEN / 4096);

	plx_open(&x, F_SIZE);
	ck_assert_int_eq(zc_queue_create(x.ctx, 0, 0, &q), 0);
	/* warm-up: the lease monitor thread starts with the first lease */
	r = reg_pinned(&x, REG_OFF, REG_LEN, ZC_REG_NO_FALLBACK);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fds = zt_fd_count();
	maps = zt_map_count_comparable();
	pins0 = zt_pin_snap();
	s0 = stats(x.ctx);

	r = reg_pinned(&x, REG_OFF, REG_LEN, ZC_REG_NO_FALLBACK);
	a = zc_reg_addr(r);
	zt_fill(a + MAP_AT, MAP_LEN, SEED_MAP, REG_OFF + MAP_AT);
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_READ;
	sp.path = x.path;
	sp.want_size = F_SIZE;
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF, MAP_AT, SEED_FILE };
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + MAP_AT, MAP_LEN, SEED_MAP };
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + MAP_AT + MAP_LEN, 4096, SEED_FILE };
	run_breaker(&sp, &rep);

	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 1);
	events_str(ev, n, eb, sizeof eb);
	printf("pin_lease.%s: events after a break with ZC_REG_NO_FALLBACK: %s\n",
	       g_variant, eb);
	ck_assert_msg(n == 1, "expected one REVOKED event, got %d: %s", n, eb);
	ev_check(&ev[0], ZC_EVENT_REVOKED, ZC_BACKEND_NONE, r, eb);
	s1 = stats(x.ctx);
	ck_assert_int_eq(s1.lease_breaks, s0.lease_breaks + 1);
	ck_assert_int_eq(s1.revocations, s0.revocations + 1);
	lease_is(x.fd, F_UNLCK, "after the break");
	ck_assert_msg(zc_reg_backend(r) != ZC_BACKEND_BOUNCE,
		      "ZC_REG_NO_FALLBACK registration moved to bounce");
	attempts_after_break(r, ZC_BACKEND_NONE);

	ck_assert_int_eq(zc_read(r, 0, REG_OFF, 4096), -EKEYREVOKED);
	ck_assert_int_eq(zc_write(r, 0, REG_OFF, 4096), -EKEYREVOKED);
	ck_assert_int_eq(zc_sync(r, 0, 0), -EKEYREVOKED);
	ck_assert_int_eq(zc_sync(r, MAP_AT, 4096), -EKEYREVOKED);
	ck_assert_int_eq(zc_prep_read(q, r, 0, REG_OFF, 4096, 1), -EKEYREVOKED);
	ck_assert_int_eq(zc_prep_write(q, r, 0, REG_OFF, 4096, 2), -EKEYREVOKED);
	ck_assert_int_eq(zc_submit(q), 0);
	ck_assert_int_eq(zc_reg_buf_index(r, 0, 4096), -ENODATA);
	pins_back(&pins0, pages, "after the break with ZC_REG_NO_FALLBACK: still pinned");
	/* nothing the break did reached the file */
	pread_verify(x.fd, REG_OFF + MAP_AT, MAP_LEN, SEED_MAP, "stores before the break");

	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zt_fd_count(), fds);
	ck_assert_int_eq(zt_map_count_comparable(), maps);
	lease_is(x.fd, F_UNLCK, "after destroy");
	zc_queue_destroy(q);
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* one lease per file, shared by its registrations                      */

START_TEST(test_pl_registrations_on_one_file_share_one_lease_and_break_together)
{
	struct plx x;
	struct zc_reg *r1, *r2, *r3;
	struct zc_stats s0, s1;
	struct zc_event ev[16];
	struct brk_spec sp;
	struct brk_report rep;
	char eb[2048];
	const size_t half = REG_LEN / 2;
	int n, rev1 = -1, chg1 = -1, rev2 = -1, chg2 = -1;

	plx_open(&x, F_SIZE);
	s0 = stats(x.ctx);
	r1 = reg_pinned(&x, REG_OFF, half, 0);
	r2 = reg_pinned(&x, REG_OFF + half, REG_LEN - half, 0);
	lease_is(x.fd, F_WRLCK, "two registrations");
	/* a third on an overlapping range comes and goes: the lease stays */
	r3 = reg_pinned(&x, REG_OFF + 4096, 65536, 0);
	ck_assert_int_eq(zc_reg_destroy(r3), 0);
	lease_is(x.fd, F_WRLCK, "one of three destroyed");

	zt_fill((uint8_t *)zc_reg_addr(r1) + MAP_AT, MAP_LEN, SEED_MAP, REG_OFF + MAP_AT);
	zt_fill(zc_reg_addr(r2), 8192, SEED_W, REG_OFF + half);

	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_WRITE;
	sp.path = x.path;
	sp.want_size = F_SIZE;
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + MAP_AT, MAP_LEN, SEED_MAP };
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + half, 8192, SEED_W };
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + half + 8192, 4096, SEED_FILE };
	run_breaker(&sp, &rep);

	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 4);
	ck_assert_int_eq(zc_reg_backend(r1), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_reg_backend(r2), ZC_BACKEND_BOUNCE);
	events_str(ev, n, eb, sizeof eb);
	printf("pin_lease.%s: events after breaking a lease shared by two "
	       "registrations: %s\n", g_variant, eb);
	ck_assert_msg(n == 4, "expected 4 events, got %d: %s", n, eb);
	for (int i = 0; i < n; i++) {
		int *slot = ev[i].reg == r1 ? (ev[i].type == ZC_EVENT_REVOKED ? &rev1 : &chg1)
			  : ev[i].reg == r2 ? (ev[i].type == ZC_EVENT_REVOKED ? &rev2 : &chg2)
					    : NULL;
		ck_assert_msg(slot && *slot < 0, "unexpected event %d: %s", i, eb);
		ck_assert_msg(ev[i].from == ZC_BACKEND_PIN_LEASE &&
				      ev[i].to == ZC_BACKEND_BOUNCE,
			      "event %d: %s", i, eb);
		*slot = i;
	}
	ck_assert_msg(rev1 >= 0 && chg1 > rev1 && rev2 >= 0 && chg2 > rev2,
		      "per registration REVOKED must come before BACKEND_CHANGED: %s", eb);
	s1 = stats(x.ctx);
	ck_assert_int_eq(s1.lease_breaks, s0.lease_breaks + 1);
	ck_assert_int_eq(s1.revocations, s0.revocations + 2);
	lease_is(x.fd, F_UNLCK, "after the break");
	ck_assert_int_eq(zt_verify((uint8_t *)zc_reg_addr(r1) + MAP_AT, MAP_LEN, SEED_MAP,
				   REG_OFF + MAP_AT), -1);
	ck_assert_int_eq(zt_verify(zc_reg_addr(r2), 8192, SEED_W, REG_OFF + half), -1);
	ck_assert_int_eq(zc_reg_destroy(r1), 0);
	ck_assert_int_eq(zc_reg_destroy(r2), 0);

	/* the breaker is gone: a new registration takes a new lease */
	r3 = reg_pinned(&x, REG_OFF, REG_LEN, 0);
	lease_is(x.fd, F_WRLCK, "registered again after the break");
	ck_assert_int_eq(zt_verify((uint8_t *)zc_reg_addr(r3) + MAP_AT, MAP_LEN, SEED_MAP,
				   REG_OFF + MAP_AT), -1);
	ck_assert_int_eq(zc_reg_destroy(r3), 0);
	lease_is(x.fd, F_UNLCK, "after destroy");
	plx_close(&x);
}
END_TEST

START_TEST(test_pl_lease_released_with_the_last_registration_only)
{
	struct plx x;
	struct zc_reg *r1, *r2;
	struct fdsig sig0;

	plx_open(&x, F_SIZE);
	sig0 = fdsig_set_app(x.fd);
	r1 = reg_pinned(&x, REG_OFF, 65536, 0);
	r2 = reg_pinned(&x, 0, 4096, 0);
	lease_is(x.fd, F_WRLCK, "two registrations");
	ck_assert_int_eq(zc_reg_destroy(r1), 0);
	lease_is(x.fd, F_WRLCK, "first of two destroyed");
	ck_assert_int_eq(zc_reg_destroy(r2), 0);
	lease_is(x.fd, F_UNLCK, "both destroyed");
	fdsig_check(x.fd, &sig0, "both destroyed");
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* two handles on one open file: the kernel keeps one lease per open file */
/* description, shared by every zc_file made from it (same fd, a dup, or  */
/* another context)                                                      */

static void two_handles(int mode)
{
	static const char *const what[] = { "one context, the same fd twice",
					    "two contexts, the same fd",
					    "one context, the fd and a dup of it" };
	struct plx x;
	struct zc_ctx *ctx2;
	struct zc_file *f2;
	struct zc_reg *r1, *r2;
	struct zc_reg_params p;
	struct brk_spec sp;
	struct brk_report rep;
	char ab[2048];
	bool leased2;
	int fd2;

	plx_open(&x, F_SIZE);
	if (mode == 1)
		ck_assert_int_eq(zc_ctx_create(NULL, &ctx2), 0);
	else
		ctx2 = x.ctx;
	fd2 = mode == 2 ? dup(x.fd) : x.fd;
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(zc_file_open(ctx2, fd2, 0, &f2), 0);
	r1 = reg_pinned(&x, 0, 65536, 0);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS;
	p.length = 65536;
	p.flags = ZC_REG_MAP_FILE;
	ck_assert_int_eq(zc_reg_create(f2, &p, &r2), 0);
	printf("pin_lease.%s: %s: second registration on %s: %s\n", g_variant, what[mode],
	       zc_backend_name(zc_reg_backend(r2)), zt_attempts_str(r2, ab, sizeof ab));
	ck_assert_int_eq(zc_reg_destroy(r1), 0);
	leased2 = zc_reg_backend(r2) == ZC_BACKEND_PIN_LEASE;
	if (leased2) {
		/* r2's pages are pinned: the lease that guards them must stay */
		lease_is(x.fd, F_WRLCK, "the other handle's registration destroyed, "
			 "this one still pinned");
	}
	/* a truncate elsewhere must find every pin_lease registration revoked */
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_TRUNC;
	sp.path = x.path;
	sp.trunc_to = 4096;
	sp.want_size = 4096;
	sp.chk[sp.nchk++] = (struct chk_range){ 0, 4096, SEED_FILE };
	run_breaker(&sp, &rep);
	if (leased2) { /* its revocation ends after the breaker got through */
		struct zc_event ev[8];

		ck_assert_int_ge(collect_events(ctx2, ev, ZT_ARRAY_SIZE(ev), 2), 1);
	}
	ck_assert_msg(zc_reg_backend(r2) != ZC_BACKEND_PIN_LEASE,
		      "%s: the file was truncated under a pin_lease registration "
		      "that was never revoked", what[mode]);
	ck_assert_int_eq(zc_reg_destroy(r2), 0);
	zc_file_close(f2);
	if (mode == 1)
		zc_ctx_destroy(ctx2);
	if (mode == 2)
		close(fd2);
	plx_close(&x);
}

START_TEST(test_pl_two_handles_on_one_open_file_keep_the_lease_while_either_is_pinned)
{
	two_handles(_i);
}
END_TEST

/* ------------------------------------------------------------------ */
/* a write lease needs the only open of the file                        */

START_TEST(test_pl_file_open_elsewhere_gives_eagain_and_uring_fixed)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_attempt at;
	struct fdsig sig0;
	char ab[2048];
	int fd2;

	plx_open(&x, F_SIZE);
	sig0 = fdsig_set_app(x.fd);
	fd2 = open(x.path, O_RDONLY | O_CLOEXEC); /* this process, a second open */
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(reg_map(&x, REG_OFF, REG_LEN, 0, &r), 0);
	zt_attempts_str(r, ab, sizeof ab);
	ck_assert_msg(zt_find_attempt(r, ZC_BACKEND_PIN_LEASE, &at) && at.error == -EAGAIN,
		      "no pin_lease -EAGAIN attempt: %s", ab);
	ck_assert_msg(zc_reg_backend(r) == ZC_BACKEND_URING_FIXED,
		      "landed on %s: %s", zc_backend_name(zc_reg_backend(r)), ab);
	lease_is(x.fd, F_UNLCK, "lease refused");
	fdsig_check(x.fd, &sig0, "lease refused");
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	close(fd2);
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* leaks                                                                */

static void cycle_with_break(struct plx *x, unsigned flags)
{
	struct zc_reg *r = reg_pinned(x, REG_OFF, REG_LEN, flags);
	struct zc_event ev[8];
	struct brk_spec sp;
	struct brk_report rep;

	zt_fill((uint8_t *)zc_reg_addr(r) + MAP_AT, MAP_LEN, SEED_MAP, REG_OFF + MAP_AT);
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_READ;
	sp.path = x->path;
	sp.want_size = F_SIZE;
	sp.chk[sp.nchk++] = (struct chk_range){ REG_OFF + MAP_AT, MAP_LEN, SEED_MAP };
	run_breaker(&sp, &rep);
	ck_assert_int_ge(collect_events(x->ctx, ev, ZT_ARRAY_SIZE(ev),
					flags & ZC_REG_NO_FALLBACK ? 1 : 2), 1);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
}

START_TEST(test_pl_destroy_and_break_leave_no_fd_mapping_pin_or_lease)
{
	struct plx x;
	struct zc_reg *r;
	struct fdsig sig0;
	int fds, maps, fds2, maps2;
	struct zt_pinsnap pins0;
	const int64_t pages = (int64_t)(REG_LEN / 4096);

	plx_open(&x, F_SIZE);
	sig0 = fdsig_set_app(x.fd);
	/* warm-up: the lease monitor thread, the queue of the context */
	r = reg_pinned(&x, REG_OFF, REG_LEN, 0);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	cycle_with_break(&x, 0);
	fds = zt_fd_count();
	maps = zt_map_count_comparable();
	pins0 = zt_pin_snap();

	for (int i = 0; i < 4; i++) {
		struct zt_pinsnap before = { 0, 0, zt_vm_pin_kb() };

		r = reg_pinned(&x, REG_OFF, REG_LEN, 0);
		pins_raised(&before, pages, "pin_lease registration");
		lease_is(x.fd, F_WRLCK, "registered");
		memset((char *)zc_reg_addr(r) + 4096, 0x5a, 8192);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		lease_is(x.fd, F_UNLCK, "after destroy");
		fdsig_check(x.fd, &sig0, "after destroy");
	}
	cycle_with_break(&x, 0);
	cycle_with_break(&x, 0);
	cycle_with_break(&x, ZC_REG_NO_FALLBACK);
	lease_is(x.fd, F_UNLCK, "after the breaks");
	fdsig_check(x.fd, &sig0, "after the breaks");
	ck_assert_msg(zt_fd_count() == fds, "fd count %d -> %d", fds, zt_fd_count());
	ck_assert_msg(zt_map_count_comparable() == maps, "mapping count %d -> %d", maps,
		      zt_map_count_comparable());
	pins_back(&pins0, pages, "4 destroys and 3 breaks");
	plx_close(&x);

	/* a whole context with its monitor thread, twice (the first warms
	 * libc's thread-stack cache): nothing stays behind */
	for (int round = 0; round < 2; round++) {
		fds = zt_fd_count();
		maps = zt_map_count_comparable();
		pins0 = zt_pin_snap();
		plx_open(&x, F_SIZE);
		cycle_with_break(&x, 0);
		r = reg_pinned(&x, REG_OFF, REG_LEN, 0);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		plx_close(&x);
		fds2 = zt_fd_count();
		maps2 = zt_map_count_comparable();
		ck_assert_msg(fds2 == fds, "round %d: fd count %d -> %d", round, fds, fds2);
		if (round == 1)
			ck_assert_msg(maps2 == maps, "round %d: mapping count %d -> %d",
				      round, maps, maps2);
		pins_back(&pins0, pages, "a whole context with a break");
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* ext4: the page-cache pin is refused and the lease dropped            */

START_TEST(test_pl_ext4_pin_refused_lease_dropped_lands_on_bounce)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_attempt a[16];
	struct zc_stats s0, s1;
	struct zc_event ev[8];
	struct brk_spec sp;
	struct brk_report rep;
	struct fdsig sig0;
	char ab[2048];
	int n, k = 0;
	static const enum zc_backend want[] = { ZC_BACKEND_PIN_LEASE,
						ZC_BACKEND_URING_FIXED,
						ZC_BACKEND_BOUNCE };
	static const int want_err[] = { -EFAULT, -EFAULT, 0 };

	plx_open(&x, F_SIZE);
	sig0 = fdsig_set_app(x.fd);
	s0 = stats(x.ctx);
	ck_assert_int_eq(reg_map(&x, REG_OFF, REG_LEN, 0, &r), 0);
	n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));
	zt_attempts_str(r, ab, sizeof ab);
	printf("pin_lease.%s: MAP_FILE O_RDWR attempts: %s\n", g_variant, ab);
	for (int i = 0; i < n && i < (int)ZT_ARRAY_SIZE(a); i++) {
		if (a[i].backend == ZC_BACKEND_P2P_BAR || a[i].backend == ZC_BACKEND_ODP_MR)
			continue; /* declined up front, not part of this story */
		ck_assert_msg(k < 3 && a[i].backend == want[k] && a[i].error == want_err[k],
			      "attempts are not [pin_lease -EFAULT, uring_fixed -EFAULT, "
			      "bounce 0]: %s", ab);
		k++;
	}
	ck_assert_msg(k == 3, "attempts are not [pin_lease -EFAULT, uring_fixed -EFAULT, "
		      "bounce 0]: %s", ab);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);

	/* the lease was dropped with the failed pin */
	lease_is(x.fd, F_UNLCK, "pin refused");
	fdsig_check(x.fd, &sig0, "pin refused");
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_READ;
	sp.path = x.path;
	sp.want_size = F_SIZE;
	sp.chk[sp.nchk++] = (struct chk_range){ 0, F_SIZE, SEED_FILE };
	run_breaker(&sp, &rep); /* prints how long the open took */
	sp.kind = BRK_WRITE;
	run_breaker(&sp, &rep);
	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 0);
	ck_assert_msg(n == 0, "events without a lease: %s", events_str(ev, n, ab, sizeof ab));
	s1 = stats(x.ctx);
	ck_assert_int_eq(s1.lease_breaks, s0.lease_breaks);
	ck_assert_int_eq(s1.revocations, s0.revocations);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fdsig_check(x.fd, &sig0, "after destroy");
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* unprivileged: not the owner, no CAP_LEASE                            */

struct unpriv_arg {
	const char *path;
};

static int unpriv_child(void *argp)
{
	const struct unpriv_arg *arg = argp;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_file_info fi;
	struct zc_reg_params p;
	struct zc_reg *r;
	struct zc_attempt at;
	char ab[2048];
	int fd, rc;

	ZT_CREQ(setgroups(0, NULL) == 0);
	ZT_CREQ(setgid(65534) == 0);
	ZT_CREQ(setuid(65534) == 0);
	ZT_CREQ_MSG(!zt_have_cap(28), "CAP_LEASE still effective after setuid");
	fd = open(arg->path, O_RDWR | O_CLOEXEC);
	ZT_CREQ_MSG(fd >= 0, "open O_RDWR as uid 65534: %s", strerror(errno));
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zc_file_query(f, &fi, sizeof fi) == 0);
	printf("pin_lease.%s: file info lease_reason: %s\n", "unpriv", fi.lease_reason);
	ZT_CREQ_MSG(!(fi.flags & ZC_FILE_LEASE_OK), "ZC_FILE_LEASE_OK without ownership "
		    "or CAP_LEASE (%s)", fi.lease_reason);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS;
	p.flags = ZC_REG_MAP_FILE;
	p.length = 65536;
	rc = zc_reg_create(f, &p, &r);
	ZT_CREQ_MSG(rc == 0, "MAP_FILE registration as uid 65534: %d (%s)", rc,
		    zc_strerror(rc));
	zt_attempts_str(r, ab, sizeof ab);
	printf("pin_lease.unpriv: attempts as uid 65534: %s\n", ab);
	ZT_CREQ_MSG(zt_find_attempt(r, ZC_BACKEND_PIN_LEASE, &at) && at.error == -EACCES,
		    "no pin_lease -EACCES attempt: %s", ab);
	ZT_CREQ_MSG(zc_reg_backend(r) == ZC_BACKEND_URING_FIXED,
		    "landed on %s, expected uring_fixed: %s",
		    zc_backend_name(zc_reg_backend(r)), ab);
	ZT_CREQ(fcntl(fd, F_GETLEASE) == F_UNLCK);
	ZT_CREQ(zt_verify(zc_reg_addr(r), 65536, SEED_FILE, 0) == -1);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}

START_TEST(test_pl_unprivileged_non_owner_gets_eacces_and_another_backend)
{
	char sub[PATH_MAX], path[PATH_MAX];
	struct unpriv_arg arg;
	int fd;

	/* the per-run directory is 0700: let uid 65534 through */
	ck_assert_int_eq(chmod(g_dir, 0711), 0);
	snprintf(sub, sizeof sub, "%s/unpriv", g_dir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	fd = zt_make_file(sub, 256 * ZT_KiB, SEED_FILE, O_RDONLY, path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(chmod(path, 0666), 0);
	arg.path = path;
	ZT_CK_CHILD_OK(zt_fork_run(unpriv_child, &arg));
	unlink(path);
	rmdir(sub);
}
END_TEST


/* ------------------------------------------------------------------ */
/* a break while another thread runs zc_read/zc_write on the registration */

#define IO_REG_LEN ZT_MiB
#define IO_SRC (ZT_MiB + 4096) /* file ranges outside the registration */
#define IO_DST (ZT_MiB + 512 * ZT_KiB)

struct io_arg {
	struct zc_reg *r;
	uint8_t *a;
	int fd;
	atomic_int stop;
	atomic_long ops, revoked;
	char bad[256]; /* the first wrong result, "" if none */
};

static void *io_main(void *p)
{
	struct io_arg *io = p;
	uint8_t chk[4096];

	for (long k = 0; !atomic_load(&io->stop) && !io->bad[0]; k++) {
		size_t y = (size_t)(k * 7 % 255) * 4096 + (size_t)(k % 3); /* reg_off */
		uint64_t x = IO_SRC + (uint64_t)(k % 64) * 4096;
		uint64_t d = IO_DST + (uint64_t)(k % 64) * 4096;
		ssize_t n = zc_read(io->r, y, x, 4096);

		if (n == -EKEYREVOKED) {
			io->revoked++;
			continue;
		}
		if (n != 4096) {
			snprintf(io->bad, sizeof io->bad, "zc_read #%ld: %zd", k, n);
			break;
		}
		/* the memory at y, file mapping or revocation copy, holds it */
		if (zt_verify(io->a + y, 4096, SEED_FILE, x) >= 0) {
			snprintf(io->bad, sizeof io->bad, "zc_read #%ld: wrong data", k);
			break;
		}
		n = zc_write(io->r, y, d, 4096);
		if (n == -EKEYREVOKED) {
			io->revoked++;
			continue;
		}
		if (n != 4096 || zt_pread_full(io->fd, chk, 4096, d) != 4096 ||
		    zt_verify(chk, 4096, SEED_FILE, x) >= 0) {
			snprintf(io->bad, sizeof io->bad, "zc_write #%ld: %zd or wrong data", k, n);
			break;
		}
		io->ops++;
	}
	return NULL;
}

static void break_during_io(unsigned flags)
{
	struct plx x;
	struct io_arg io;
	struct brk_spec sp;
	struct brk_report rep;
	struct zc_event ev[8];
	pthread_t t;
	long before, after;
	int n;

	plx_open(&x, 2 * ZT_MiB);
	memset(&io, 0, sizeof io);
	io.r = reg_pinned(&x, 0, IO_REG_LEN, flags);
	io.a = zc_reg_addr(io.r);
	io.fd = x.fd;
	ck_assert_int_eq(pthread_create(&t, NULL, io_main, &io), 0);
	/* a hang guard, not a timing assertion: wait for the I/O to run */
	for (double end = zt_now_s() + 10; io.ops < 200 && !io.bad[0] && zt_now_s() < end;)
		usleep(1000);
	before = io.ops;
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_WRITE;
	sp.path = x.path;
	sp.want_size = 2 * ZT_MiB;
	run_breaker(&sp, &rep);
	/* the breaker gets through before the revocation ends: its events
	 * say when it did */
	n = flags & ZC_REG_NO_FALLBACK ? 1 : 2;
	ck_assert_int_eq(collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), (unsigned)n), n);
	after = io.ops;
	for (double end = zt_now_s() + 10; !io.bad[0] && zt_now_s() < end &&
	     (flags & ZC_REG_NO_FALLBACK ? io.revoked < 200 : io.ops < after + 200);)
		usleep(1000);
	atomic_store(&io.stop, 1);
	pthread_join(t, NULL);
	printf("pin_lease.%s: I/O thread: %ld ops before the break, %ld when it was "
	       "over, %ld in all, %ld EKEYREVOKED\n", g_variant, before, after, io.ops,
	       io.revoked);
	ck_assert_msg(!io.bad[0], "I/O racing the break: %s", io.bad);
	ck_assert_msg(before > 0, "the I/O thread did not get going before the break");
	if (flags & ZC_REG_NO_FALLBACK) {
		ck_assert_msg(io.revoked > 0, "no EKEYREVOKED after the break");
	} else {
		ck_assert_int_eq(zc_reg_backend(io.r), ZC_BACKEND_BOUNCE);
		ck_assert_msg(io.revoked == 0, "EKEYREVOKED without ZC_REG_NO_FALLBACK");
		ck_assert_msg(io.ops > after, "no I/O after the break");
	}
	ck_assert_int_eq(zc_reg_destroy(io.r), 0);
	plx_close(&x);
}

START_TEST(test_pl_break_waits_for_sync_io_of_another_thread)
{
	break_during_io(0);
}
END_TEST

START_TEST(test_pl_break_during_sync_io_no_fallback_gives_ekeyrevoked_only)
{
	break_during_io(ZC_REG_NO_FALLBACK);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the first leases of a context, taken by several threads at once      */

#define MT_THREADS 8

struct mt_arg {
	struct zc_file *f;
	pid_t tid;
	int rc;
	struct zc_reg *r;
	pthread_barrier_t *start, *registered, *done;
};

/* no Check assertions off the main thread: results go back in the arg */
static void *mt_main(void *p)
{
	struct mt_arg *a = p;
	struct zc_reg_params rp;

	a->tid = gettid();
	memset(&rp, 0, sizeof rp);
	rp.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS;
	rp.length = 65536;
	rp.flags = ZC_REG_MAP_FILE;
	pthread_barrier_wait(a->start);
	a->rc = zc_reg_create(a->f, &rp, &a->r);
	pthread_barrier_wait(a->registered);
	/* stay alive while the leases are broken: a break signal aimed at the
	 * process instead of the library's thread would be delivered here */
	pthread_barrier_wait(a->done);
	return NULL;
}

START_TEST(test_pl_first_leases_from_many_threads_aim_the_signal_at_the_library)
{
	/* fresh contexts: the first leases of each start its monitor */
	for (int round = 0; round < 20; round++) {
		struct zc_ctx *ctx;
		struct zc_file *f[MT_THREADS];
		struct mt_arg a[MT_THREADS];
		pthread_t t[MT_THREADS];
		pthread_barrier_t b1, b2, b3;
		int fd[MT_THREADS];
		char path[MT_THREADS][PATH_MAX], ab[2048];
		struct zc_event ev[4 * MT_THREADS];
		pid_t monitor = 0;

		ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
		pthread_barrier_init(&b1, NULL, MT_THREADS);
		pthread_barrier_init(&b2, NULL, MT_THREADS + 1);
		pthread_barrier_init(&b3, NULL, MT_THREADS + 1);
		for (int i = 0; i < MT_THREADS; i++) {
			fd[i] = zt_make_lease_file(g_dir, "pl", 65536, SEED_FILE, path[i]);
			ck_assert_int_ge(fd[i], 0);
			ck_assert_int_eq(zc_file_open(ctx, fd[i], 0, &f[i]), 0);
			a[i] = (struct mt_arg){ .f = f[i], .rc = -1, .start = &b1,
						.registered = &b2, .done = &b3 };
			ck_assert_int_eq(pthread_create(&t[i], NULL, mt_main, &a[i]), 0);
		}
		pthread_barrier_wait(&b2);
		for (int i = 0; i < MT_THREADS; i++) {
			struct f_owner_ex o;

			ck_assert_msg(a[i].rc == 0, "round %d thread %d: zc_reg_create %d", round,
				      i, a[i].rc);
			ck_assert_msg(zc_reg_backend(a[i].r) == ZC_BACKEND_PIN_LEASE,
				      "round %d thread %d: on %s: %s", round, i,
				      zc_backend_name(zc_reg_backend(a[i].r)),
				      zt_attempts_str(a[i].r, ab, sizeof ab));
			lease_is(fd[i], F_WRLCK, "registered by a thread");
			/* documented: the break signal is aimed at a library thread */
			ck_assert_int_eq(fcntl(fd[i], F_GETOWN_EX, &o), 0);
			ck_assert_msg(o.type == F_OWNER_TID && o.pid > 0,
				      "round %d: the lease on fd %d signals {type %d, pid %d}, "
				      "not a thread: a break would go to the whole process",
				      round, fd[i], o.type, o.pid);
			ck_assert_msg(o.pid != getpid(), "lease signal aimed at the main thread");
			for (int k = 0; k < MT_THREADS; k++)
				ck_assert_msg(o.pid != a[k].tid, "lease signal aimed at an "
					      "application thread (%d)", o.pid);
			if (!monitor)
				monitor = o.pid;
			ck_assert_msg(o.pid == monitor, "leases of one context signal two "
				      "threads: %d and %d", monitor, o.pid);
		}
		/* and breaking them works, with every application thread alive */
		for (int i = 0; i < MT_THREADS; i++) {
			struct brk_spec sp;
			struct brk_report rep;

			memset(&sp, 0, sizeof sp);
			sp.kind = i % 2 ? BRK_WRITE : BRK_READ;
			sp.path = path[i];
			sp.want_size = 65536;
			sp.chk[sp.nchk++] = (struct chk_range){ 0, 65536, SEED_FILE };
			run_breaker(&sp, &rep);
		}
		ck_assert_int_eq(collect_events(ctx, ev, ZT_ARRAY_SIZE(ev), 2 * MT_THREADS),
				 2 * MT_THREADS);
		for (int i = 0; i < MT_THREADS; i++)
			ck_assert_int_eq(zc_reg_backend(a[i].r), ZC_BACKEND_BOUNCE);
		pthread_barrier_wait(&b3);
		for (int i = 0; i < MT_THREADS; i++) {
			pthread_join(t[i], NULL);
			ck_assert_int_eq(zc_reg_destroy(a[i].r), 0);
			zc_file_close(f[i]);
			close(fd[i]);
			unlink(path[i]);
		}
		zc_ctx_destroy(ctx);
		pthread_barrier_destroy(&b1);
		pthread_barrier_destroy(&b2);
		pthread_barrier_destroy(&b3);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* a breaker that keeps opening the file while registrations come and go */

START_TEST(test_pl_breaker_racing_registrations_never_crashes)
{
	struct plx x;
	struct zc_stats s0, s1;
	struct zc_event ev[64];
	unsigned long n_pin = 0, n_bounce = 0, n_uring = 0, revoked_ev = 0, iters = 0;
	double end;
	pid_t kid;
	int st, n;

	plx_open(&x, 65536);
	s0 = stats(x.ctx);
	fflush(stdout);
	fflush(stderr);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = open(x.path, O_RDONLY | O_CLOEXEC);

			if (c >= 0)
				close(c);
		}
	}
	end = zt_now_s() + 3.0;
	while (iters < 4000 && zt_now_s() < end) {
		struct zc_reg *r = NULL;
		enum zc_backend b;
		char ab[2048];
		int rc = reg_map(&x, 0, 65536, iters % 4 == 3 ? ZC_REG_NO_FALLBACK : 0, &r);

		iters++;
		if (rc) {
			kill(kid, SIGKILL);
			waitpid(kid, &st, 0);
			ck_abort_msg("zc_reg_create with a breaker around: %d (%s)", rc,
				     zc_strerror(rc));
		}
		b = zc_reg_backend(r);
		/* leased (maybe broken already), or the lease was refused because
		 * the breaker had the file open at that moment */
		if (b == ZC_BACKEND_PIN_LEASE)
			n_pin++;
		else if (b == ZC_BACKEND_BOUNCE)
			n_bounce++;
		else if (b == ZC_BACKEND_URING_FIXED)
			n_uring++;
		else
			ck_abort_msg("registration on %s: %s", zc_backend_name(b),
				     zt_attempts_str(r, ab, sizeof ab));
		/* the file mapping, or the copy a revocation left in its place */
		ck_assert_int_eq(zt_verify(zc_reg_addr(r), 65536, SEED_FILE, 0), -1);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
		while ((n = zc_ctx_events(x.ctx, ev, ZT_ARRAY_SIZE(ev))) > 0)
			for (int i = 0; i < n; i++)
				revoked_ev += ev[i].type == ZC_EVENT_REVOKED;
	}
	kill(kid, SIGKILL);
	waitpid(kid, &st, 0);
	while ((n = zc_ctx_events(x.ctx, ev, ZT_ARRAY_SIZE(ev))) > 0)
		for (int i = 0; i < n; i++)
			revoked_ev += ev[i].type == ZC_EVENT_REVOKED;
	s1 = stats(x.ctx);
	printf("pin_lease.%s: %lu registrations against a breaker: %lu pin_lease, "
	       "%lu bounce, %lu uring_fixed; %llu lease breaks, %llu revocations, "
	       "%lu REVOKED events\n", g_variant, iters, n_pin, n_bounce, n_uring,
	       (unsigned long long)(s1.lease_breaks - s0.lease_breaks),
	       (unsigned long long)(s1.revocations - s0.revocations), revoked_ev);
	ck_assert_int_eq(s1.revocations - s0.revocations, revoked_ev);
	ck_assert_int_eq(s1.lease_breaks - s0.lease_breaks, s1.revocations - s0.revocations);
	lease_is(x.fd, F_UNLCK, "after the race");
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* what a break leaves: the holder's own ftruncate, the order of the     */
/* lease release and the copy, read-only registrations                  */

#define SHRINK_LEN (256 * ZT_KiB)
#define SHRINK_TO (16 * ZT_KiB)

/* The holder's own ftruncate does not break its lease: the break comes
 * later, from another open, over a mapping that now reaches past the end
 * of the file. The copy must come from the file, not from that mapping
 * (which raises SIGBUS past the end), with zeros past the end. */
START_TEST(test_pl_break_after_the_holders_own_ftruncate_copies_to_eof_and_zero_fills)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_event ev[8];
	struct brk_spec sp;
	struct brk_report rep;
	char eb[1024];
	uint8_t *a;
	int n;

	plx_open(&x, SHRINK_LEN);
	r = reg_pinned(&x, 0, SHRINK_LEN, 0);
	a = zc_reg_addr(r);
	zt_fill(a + MAP_AT, 8000, SEED_MAP, MAP_AT);
	ck_assert_int_eq(ftruncate(x.fd, SHRINK_TO), 0);
	lease_is(x.fd, F_WRLCK, "after the holder's own ftruncate");
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_PIN_LEASE);

	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_READ;
	sp.path = x.path;
	sp.want_size = SHRINK_TO;
	sp.chk[sp.nchk++] = (struct chk_range){ 0, MAP_AT, SEED_FILE };
	sp.chk[sp.nchk++] = (struct chk_range){ MAP_AT, 8000, SEED_MAP };
	sp.chk[sp.nchk++] = (struct chk_range){ MAP_AT + 8000, SHRINK_TO - MAP_AT - 8000,
						 SEED_FILE };
	run_breaker(&sp, &rep);

	n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 2);
	events_str(ev, n, eb, sizeof eb);
	ck_assert_msg(n == 2, "expected REVOKED then BACKEND_CHANGED, got %d: %s", n, eb);
	ev_check(&ev[0], ZC_EVENT_REVOKED, ZC_BACKEND_BOUNCE, r, eb);
	ev_check(&ev[1], ZC_EVENT_BACKEND_CHANGED, ZC_BACKEND_BOUNCE, r, eb);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_ptr_eq(zc_reg_addr(r), a);
	ck_assert_int_eq(zt_verify(a, MAP_AT, SEED_FILE, 0), -1);
	ck_assert_int_eq(zt_verify(a + MAP_AT, 8000, SEED_MAP, MAP_AT), -1);
	ck_assert_int_eq(zt_verify(a + MAP_AT + 8000, SHRINK_TO - MAP_AT - 8000, SEED_FILE,
				   MAP_AT + 8000), -1);
	for (size_t i = SHRINK_TO; i < SHRINK_LEN; i++)
		ck_assert_msg(a[i] == 0, "byte %zu past the end of the file is %u, not 0", i,
			      a[i]);
	/* and the memory is the registration's own: stores past the end work */
	memset(a + SHRINK_LEN - 4096, 0x5a, 4096);
	ck_assert_int_eq(zc_read(r, 0, 0, SHRINK_LEN), SHRINK_TO);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	plx_close(&x);
}
END_TEST

#define BIG_LEN (128 * ZT_MiB)
#define BIG_ROUNDS 3

/* The breaker is let go before the copy of the registration is made, so
 * its wait does not grow with the size: right after its open() returns,
 * the memory is still the file's mapping in at least one of a few breaks
 * (never, if the lease were released after the copy). A destroy arriving
 * while the copy is being made waits for it. */
START_TEST(test_pl_lease_released_before_the_copy_is_made)
{
	struct plx x;
	struct zc_reg *r;
	struct zc_event ev[8];
	struct zt_pinsnap pins0;
	int still_file = 0, fds, maps;

	plx_open(&x, BIG_LEN);
	r = reg_pinned(&x, 0, 65536, 0); /* warm-up: the lease monitor thread */
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	fds = zt_fd_count();
	maps = zt_map_count_comparable();
	pins0 = zt_pin_snap();
	for (int round = 0; round < BIG_ROUNDS; round++) {
		const uint32_t seed = SEED_MAP + (uint32_t)round;
		struct brk_spec sp;
		struct brk_report rep;
		char eb[1024];
		uint8_t *a;
		int n;

		r = reg_pinned(&x, 0, BIG_LEN, 0);
		a = zc_reg_addr(r);
		zt_fill(a + MAP_AT, MAP_LEN, seed, MAP_AT);
		memset(&sp, 0, sizeof sp);
		sp.kind = BRK_READ;
		sp.path = x.path;
		sp.want_size = BIG_LEN;
		sp.chk[sp.nchk++] = (struct chk_range){ MAP_AT, MAP_LEN, seed };
		snprintf(sp.maps_path, sizeof sp.maps_path, "/proc/%d/maps", (int)getpid());
		/* as the kernel prints it: at least 8 digits */
		snprintf(sp.map_start, sizeof sp.map_start, "%08lx-", (unsigned long)(uintptr_t)a);
		run_breaker(&sp, &rep);
		still_file += rep.map_is_file;
		if (round == BIG_ROUNDS - 1) /* most likely while the copy is made */
			ck_assert_int_eq(zc_reg_destroy(r), 0);
		n = collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 2);
		events_str(ev, n, eb, sizeof eb);
		ck_assert_msg(n == 2, "expected REVOKED then BACKEND_CHANGED, got %d: %s", n, eb);
		ev_check(&ev[0], ZC_EVENT_REVOKED, ZC_BACKEND_BOUNCE, r, eb);
		ev_check(&ev[1], ZC_EVENT_BACKEND_CHANGED, ZC_BACKEND_BOUNCE, r, eb);
		if (round == BIG_ROUNDS - 1)
			break;
		ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
		ck_assert_ptr_eq(zc_reg_addr(r), a);
		ck_assert_int_eq(zt_verify(a, MAP_AT, SEED_FILE, 0), -1);
		ck_assert_int_eq(zt_verify(a + MAP_AT, MAP_LEN, seed, MAP_AT), -1);
		ck_assert_int_eq(zt_verify(a + BIG_LEN - 65536, 65536, SEED_FILE,
					   BIG_LEN - 65536), -1);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
	}
	printf("pin_lease.%s: %d of %d breakers found the registration still the "
	       "file's mapping when their open() returned\n", g_variant, still_file,
	       BIG_ROUNDS);
	ck_assert_msg(still_file > 0, "in none of %d breaks of a %llu MiB registration was "
		      "its memory still the file's mapping when the breaker's open() "
		      "returned: the lease is released only after the copy", BIG_ROUNDS,
		      (unsigned long long)(BIG_LEN / ZT_MiB));
	ck_assert_int_eq(zt_fd_count(), fds);
	ck_assert_int_eq(zt_map_count_comparable(), maps);
	pins_back(&pins0, (int64_t)(BIG_LEN / 4096), "three breaks of a large registration");
	plx_close(&x);
}
END_TEST

/* "r--p" from /proc/self/maps for the mapping holding addr */
static void map_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], p[5];
	unsigned long lo, hi;

	ck_assert_ptr_nonnull(f);
	strcpy(perms, "none");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			break;
		}
	fclose(f);
}

/* Without ZC_ACCESS_WRITE the memory is read-only, the copy too. */
START_TEST(test_pl_break_leaves_a_registration_without_write_access_read_only)
{
	struct plx x;
	struct zc_reg *r = NULL;
	struct zc_event ev[8];
	struct brk_spec sp;
	struct brk_report rep;
	char perms[5], ab[2048];

	plx_open(&x, F_SIZE);
	ck_assert_int_eq(zt_reg_map_file(x.f, REG_OFF, REG_LEN, ZC_ACCESS_READ, 0, &r), 0);
	ck_assert_msg(zc_reg_backend(r) == ZC_BACKEND_PIN_LEASE, "landed on %s: %s",
		      zc_backend_name(zc_reg_backend(r)), zt_attempts_str(r, ab, sizeof ab));
	memset(&sp, 0, sizeof sp);
	sp.kind = BRK_READ;
	sp.path = x.path;
	sp.want_size = F_SIZE;
	run_breaker(&sp, &rep);
	ck_assert_int_eq(collect_events(x.ctx, ev, ZT_ARRAY_SIZE(ev), 2), 2);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zt_verify(zc_reg_addr(r), REG_LEN, SEED_FILE, REG_OFF), -1);
	map_perms(zc_reg_addr(r), perms);
	ck_assert_msg(strcmp(perms, "r--p") == 0, "the copy of a registration without "
		      "ZC_ACCESS_WRITE is mapped %s, not r--p", perms);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	plx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* a lease monitor that could not start (EMFILE) is started again       */

/* in a forked child: its fd limit is lowered; no Check assertions */
static int emfile_child(void *arg)
{
	const char *dir = arg;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_attempt at;
	struct zc_event ev[8];
	struct rlimit rl0, rl;
	struct pollfd pfd;
	char path[PATH_MAX], ab[2048];
	int fd, fill[128], n = 0, c, got;
	unsigned nfill;

	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	fd = zt_make_lease_file(dir, "pl", 65536, SEED_FILE, path);
	ZT_CREQ(fd >= 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);

	/* fill the fd table but one: the monitor's eventfd takes that one,
	 * and the thread's signalfd gets EMFILE */
	ZT_CREQ(getrlimit(RLIMIT_NOFILE, &rl0) == 0);
	fill[0] = dup(0);
	ZT_CREQ(fill[0] >= 0);
	rl = rl0;
	rl.rlim_cur = (rlim_t)fill[0] + ZT_ARRAY_SIZE(fill) / 2;
	ZT_CREQ(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	for (nfill = 1; nfill < ZT_ARRAY_SIZE(fill) && (fill[nfill] = dup(0)) >= 0; nfill++)
		;
	ZT_CREQ_MSG(nfill < ZT_ARRAY_SIZE(fill) && errno == EMFILE, "dup: %s",
		    strerror(errno));
	close(fill[--nfill]);
	ZT_CREQ(zt_reg_map_file(f, 0, 65536, 0, 0, &r) == 0);
	zt_attempts_str(r, ab, sizeof ab);
	printf("pin_lease.tmpfs: with one fd free: %s\n", ab);
	ZT_CREQ_MSG(zc_reg_backend(r) != ZC_BACKEND_PIN_LEASE, "on pin_lease: %s", ab);
	ZT_CREQ_MSG(zt_find_attempt(r, ZC_BACKEND_PIN_LEASE, &at) && at.error == -EMFILE &&
			    strstr(at.reason, "lease monitor thread"),
		    "no pin_lease -EMFILE attempt naming the lease monitor: %s", ab);
	ZT_CREQ(zc_reg_destroy(r) == 0);

	/* fds free again: the next lease starts the monitor */
	while (nfill)
		close(fill[--nfill]);
	ZT_CREQ(setrlimit(RLIMIT_NOFILE, &rl0) == 0);
	ZT_CREQ(zt_reg_map_file(f, 0, 65536, 0, 0, &r) == 0);
	zt_attempts_str(r, ab, sizeof ab);
	ZT_CREQ_MSG(zc_reg_backend(r) == ZC_BACKEND_PIN_LEASE,
		    "with fds free again, landed on %s: %s",
		    zc_backend_name(zc_reg_backend(r)), ab);
	ZT_CREQ(fcntl(fd, F_GETLEASE) == F_WRLCK);

	/* and the monitor hears the break: this process's own second open
	 * breaks the lease, and returns once the library released it */
	c = open(path, O_RDONLY | O_CLOEXEC);
	ZT_CREQ_MSG(c >= 0, "open: %s", strerror(errno));
	close(c);
	pfd = (struct pollfd){ .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	while (n < 2 && poll(&pfd, 1, EV_TIMEOUT_MS) == 1) {
		got = zc_ctx_events(ctx, ev + n, ZT_ARRAY_SIZE(ev) - (unsigned)n);
		ZT_CREQ(got >= 0);
		n += got;
	}
	ZT_CREQ_MSG(n == 2 && ev[0].type == ZC_EVENT_REVOKED && ev[0].reg == r &&
			    ev[1].type == ZC_EVENT_BACKEND_CHANGED,
		    "%d events after the break", n);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_BOUNCE);
	ZT_CREQ(fcntl(fd, F_GETLEASE) == F_UNLCK);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	return 0;
}

START_TEST(test_pl_lease_monitor_that_failed_to_start_is_started_by_the_next_lease)
{
	ZT_CK_CHILD_OK(zt_fork_run(emfile_child, (void *)g_dir));
}
END_TEST

/* ------------------------------------------------------------------ */
/* stale_signal: a break signal for a lease the application already let  */
/* go must not hit the next lease that happens to get the same fd        */

static bool spin_until(bool (*cond)(void *), void *arg, double secs)
{
	double end = zt_now_s() + secs;

	while (!cond(arg))
		if (zt_now_s() > end)
			return false;
	return true;
}

static bool lease_not_whole(void *arg)
{
	return fcntl(*(int *)arg, F_GETLEASE) != F_WRLCK;
}

static bool child_gone(void *arg)
{
	int st;

	return waitpid(*(pid_t *)arg, &st, WNOHANG) != 0;
}

START_TEST(test_pl_stale_break_signal_does_not_revoke_a_new_lease_on_the_same_fd)
{
	struct sched_param fifo = { .sched_priority = 10 }, other = { 0 };
	cpu_set_t all, one, two;
	struct plx a, b;
	struct zc_reg *ra, *rb;
	struct zc_event ev[8];
	struct zc_stats s0, s1;
	char eb[1024];
	int cpu[2], ncpu = 0, n, fd_a;
	bool pending, gone;
	pid_t kid;

	ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
	for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
		if (CPU_ISSET(c, &all))
			cpu[ncpu++] = c;
	CPU_ZERO(&one);
	CPU_SET(cpu[0], &one);
	CPU_ZERO(&two);
	CPU_SET(cpu[1], &two);
	/* this thread and, created from it, the lease monitor share one CPU */
	ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
	plx_open(&a, 65536);
	b.ctx = a.ctx;
	ra = reg_pinned(&a, 0, 65536, 0);
	fd_a = a.fd;
	s0 = stats(a.ctx);

	/* the monitor cannot run from here until SCHED_OTHER again */
	ck_assert_int_eq(sched_setscheduler(0, SCHED_FIFO, &fifo), 0);
	fflush(stdout);
	fflush(stderr);
	kid = fork();
	if (kid == 0) {
		struct sched_param o = { 0 };
		int c;

		sched_setscheduler(0, SCHED_OTHER, &o);
		c = open(a.path, O_RDONLY | O_CLOEXEC); /* the break: signal queued */
		_exit(c < 0);
	}
	ck_assert_int_ge(kid, 0);
	sched_setaffinity(kid, sizeof two, &two);
	sched_setscheduler(kid, SCHED_OTHER, &other);
	pending = spin_until(lease_not_whole, &fd_a, 5.0);
	/* the application destroys first, which releases the lease ... */
	ck_assert_int_eq(zc_reg_destroy(ra), 0);
	gone = spin_until(child_gone, &kid, 5.0);
	/* ... closes the file, and leases another one on the same fd number */
	zc_file_close(a.f);
	close(a.fd);
	unlink(a.path);
	b.fd = zt_make_lease_file(g_dir, "pl", 65536, SEED_FILE, b.path);
	ck_assert_int_ge(b.fd, 0);
	ck_assert_int_eq(zc_file_open(b.ctx, b.fd, 0, &b.f), 0);
	rb = reg_pinned(&b, 0, 65536, 0);
	ck_assert_int_eq(sched_setscheduler(0, SCHED_OTHER, &other), 0);
	ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
	if (!gone) {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	ck_assert_msg(pending && gone, "the setup did not happen (break pending %d, "
		      "breaker done %d): is this machine too busy?", pending, gone);
	printf("pin_lease.%s: old fd %d, new fd %d\n", g_variant, fd_a, b.fd);
	if (b.fd != fd_a)
		printf("pin_lease.%s: the new file did not get the old fd number: the "
		       "check below cannot fail\n", g_variant);

	/* the monitor now gets to the queued signal of the old lease */
	usleep(300 * 1000);
	n = collect_events(b.ctx, ev, ZT_ARRAY_SIZE(ev), 0);
	s1 = stats(b.ctx);
	events_str(ev, n, eb, sizeof eb);
	ck_assert_msg(zc_reg_backend(rb) == ZC_BACKEND_PIN_LEASE,
		      "a lease nobody broke was revoked by the old lease's queued break "
		      "signal (same fd number %d): now on %s, events: %s",
		      b.fd, zc_backend_name(zc_reg_backend(rb)), eb);
	lease_is(b.fd, F_WRLCK, "after the old signal");
	ck_assert_int_eq(s1.revocations, s0.revocations);
	ck_assert_int_eq(zc_reg_destroy(rb), 0);
	plx_close(&b);
}
END_TEST

/* ------------------------------------------------------------------ */

static void require_pin_lease(void)
{
	struct zc_ctx *ctx;
	struct zc_backend_info bi;
	int rc = zc_ctx_create(NULL, &ctx);

	if (rc)
		zt_skip("pin_lease.%s: zc_ctx_create: %s", g_variant, zc_strerror(rc));
	rc = zc_ctx_query(ctx, ZC_BACKEND_PIN_LEASE, &bi);
	zc_ctx_destroy(ctx);
	if (rc)
		zt_skip("pin_lease.%s: zc_ctx_query: %s", g_variant, zc_strerror(rc));
	if (!bi.available)
		zt_skip("pin_lease.%s: pin_lease unavailable: %s", g_variant, bi.reason);
}

static void read_lease_break_time(void)
{
	g_lbt = zt_lease_break_time(&g_limit_s);
	if (g_lbt < 2)
		printf("pin_lease: fs.lease-break-time is %d: a breaker's blocking time "
		       "cannot show whether the library released the lease\n", g_lbt);
}

int main(int argc, char **argv)
{
	const char *why = "?";
	Suite *s = suite_create("pin_lease");
	TCase *tc;

	g_variant = argc > 1 ? argv[1] : "";
	zt_init();
	if (strcmp(g_variant, "tmpfs") == 0 || strcmp(g_variant, "unpriv") == 0 ||
	    strcmp(g_variant, "stale_signal") == 0) {
		g_dir = zt_tmpfs_dir(&why);
	} else if (strcmp(g_variant, "ext4") == 0) {
		g_dir = zt_ext4_dir(&why);
		if (g_dir && zt_fs_magic(g_dir) != ZT_EXT4_MAGIC)
			zt_skip("pin_lease.ext4: %s is not ext4", g_dir);
	} else {
		fprintf(stderr, "usage: %s tmpfs|ext4|unpriv|stale_signal\n", argv[0]);
		return 2;
	}
	if (!g_dir)
		zt_skip("pin_lease.%s: %s", g_variant, why);
	if (strcmp(g_variant, "unpriv") == 0 && geteuid() != 0)
		zt_skip("pin_lease.unpriv: needs root to create a file owned by another "
			"user and to setuid(65534)");
	if (strcmp(g_variant, "stale_signal") == 0) {
		cpu_set_t cs;
		struct sched_param sp = { .sched_priority = 1 };

		/* SCHED_FIFO keeps the lease monitor off the CPU at the right moment */
		if (sched_getaffinity(0, sizeof cs, &cs) != 0 || CPU_COUNT(&cs) < 2)
			zt_skip("pin_lease.stale_signal: needs two CPUs");
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			zt_skip("pin_lease.stale_signal: SCHED_FIFO not permitted: %s",
				strerror(errno));
		sp.sched_priority = 0;
		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	require_pin_lease();
	read_lease_break_time();

	tc = zt_tcase(g_variant);
	if (strcmp(g_variant, "tmpfs") == 0) {
		tcase_add_test(tc, test_pl_break_by_read_open_revokes_to_bounce);
		tcase_add_test(tc, test_pl_break_by_write_open_revokes_to_bounce);
		tcase_add_test(tc, test_pl_break_by_truncate_unpins_before_shrinking_and_revokes_to_bounce);
		tcase_add_test(tc, test_pl_no_fallback_stays_revoked_and_destroys);
		tcase_add_test(tc, test_pl_registrations_on_one_file_share_one_lease_and_break_together);
		tcase_add_test(tc, test_pl_lease_released_with_the_last_registration_only);
		tcase_add_test(tc, test_pl_file_open_elsewhere_gives_eagain_and_uring_fixed);
		tcase_add_loop_test(tc, test_pl_two_handles_on_one_open_file_keep_the_lease_while_either_is_pinned, 0, 3);
		tcase_add_test(tc, test_pl_destroy_and_break_leave_no_fd_mapping_pin_or_lease);
		tcase_add_test(tc, test_pl_break_waits_for_sync_io_of_another_thread);
		tcase_add_test(tc, test_pl_break_during_sync_io_no_fallback_gives_ekeyrevoked_only);
		tcase_add_test(tc, test_pl_first_leases_from_many_threads_aim_the_signal_at_the_library);
		tcase_add_test(tc, test_pl_breaker_racing_registrations_never_crashes);
		tcase_add_test(tc, test_pl_break_after_the_holders_own_ftruncate_copies_to_eof_and_zero_fills);
		tcase_add_test(tc, test_pl_lease_released_before_the_copy_is_made);
		tcase_add_test(tc, test_pl_break_leaves_a_registration_without_write_access_read_only);
		tcase_add_test(tc, test_pl_lease_monitor_that_failed_to_start_is_started_by_the_next_lease);
	} else if (strcmp(g_variant, "stale_signal") == 0) {
		tcase_add_test(tc, test_pl_stale_break_signal_does_not_revoke_a_new_lease_on_the_same_fd);
	} else if (strcmp(g_variant, "ext4") == 0) {
		tcase_add_test(tc, test_pl_ext4_pin_refused_lease_dropped_lands_on_bounce);
	} else {
		tcase_add_test(tc, test_pl_unprivileged_non_owner_gets_eacces_and_another_backend);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
