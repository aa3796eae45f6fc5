/* SPDX-License-Identifier: MIT */
/* The library at the edges of what the process allows (issue #14, items
 * 11-15). Every case that changes a limit or a signal disposition runs in
 * a forked child, so the test process keeps its own. argv[1]:
 *   fds      with the fd table full, zc_reg_create of caller memory fails
 *            with -EMFILE instead of guessing what the memory is (a hole,
 *            a MAP_PRIVATE file mapping); queues leave a low RLIMIT_NOFILE
 *            as it is and still do I/O, also on files whose index does
 *            not fit the smaller fixed-file table
 *   signals  a storm of signals without SA_RESTART: zc_reap's timeout is a
 *            deadline, not restarted by each interrupted wait; queued
 *            writes complete in full although io_uring cancels what it
 *            cannot hand to a worker thread while a signal is pending, or
 *            (Linux 7.3 in the emulated guest) retries starting the worker
 *            until no signal is pending; $ZT_STORM_US sets a denser storm
 *   config   ZC_FAULT with an unknown step is -EINVAL naming the step;
 *            log lines never carry control characters; zc_reg_buf_index
 *            does not log
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SENT ((void *)(uintptr_t)0x5a5a5a5a)
#define MEM_LEN (256 * 1024)

static const char *g_variant;
static const char *g_dir;  /* tmpfs if any, else ext4 */
static const char *g_ext4; /* queued I/O on tmpfs runs inline, not on a ring */
static struct zt_log g_log;

/* a context that logs every level into g_log (emptied first) */
static int ctx_logged(struct zc_ctx **out)
{
	struct zc_ctx_params p;

	memset(&g_log, 0, sizeof g_log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN | ZC_CTX_FIELD_LOG_LEVEL;
	p.log_fn = zt_log_fn;
	p.log_arg = &g_log;
	p.log_level = ZC_LOG_DEBUG;
	return zc_ctx_create(&p, out);
}

/* ------------------------------------------------------------------ */
/* fds: a full fd table                                                 */

/* the highest fd open in this process (test harnesses leave some high) */
static int top_fd(void)
{
	struct rlimit rl;
	rlim_t end;
	int top = 2;

	ZT_CREQ(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	end = rl.rlim_cur < (1u << 20) ? rl.rlim_cur : (1u << 20);
	for (int fd = 0; fd < (int)end; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			top = fd;
	return top;
}

/* a soft RLIMIT_NOFILE of at least want that leaves room above every fd
 * open now for the few the test itself opens */
static rlim_t soft_at_least(rlim_t want)
{
	rlim_t room = (rlim_t)top_fd() + 17;

	return want > room ? want : room;
}

/* lower the soft RLIMIT_NOFILE of this (child) process */
static void set_soft_nofile(rlim_t soft)
{
	struct rlimit rl;

	ZT_CREQ(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	ZT_CREQ_MSG(rl.rlim_max >= soft, "hard RLIMIT_NOFILE %lu < %lu",
		    (unsigned long)rl.rlim_max, (unsigned long)soft);
	rl.rlim_cur = soft;
	ZT_CREQ(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

static rlim_t soft_nofile(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) ? 0 : rl.rlim_cur;
}

/* dup until EMFILE; returns the first dup, -1 if none was made */
static int fill_fd_table(int *last)
{
	int first = -1, fd;

	while ((fd = dup(0)) >= 0) {
		if (first < 0)
			first = fd;
		*last = fd;
	}
	ZT_CREQ_MSG(errno == EMFILE, "dup: %s, expected EMFILE", strerror(errno));
	return first;
}

struct reg_case {
	const char *what;
	void *addr;
	size_t len;
	unsigned flags;
	uint64_t backends;
	int want_free; /* the result once fds are free again */
};

static void reg_expect(struct zc_file *f, const struct reg_case *c, int want,
		       const char *needle)
{
	struct zc_reg *r = SENT;
	int rc;

	memset(&g_log, 0, sizeof g_log);
	rc = zt_reg_mem(f, c->addr, c->len, 0, c->flags, c->backends, &r);
	if (rc == 0 && want != 0) {
		char ab[512];

		zt_attempts_str(r, ab, sizeof ab);
		zt_child_fail(__FILE__, __LINE__, "%s: registered on %s (%s), expected %d (%s)",
			      c->what, zc_backend_name(zc_reg_backend(r)), ab, want,
			      zc_strerror(want));
	}
	ZT_CREQ_MSG(rc == want, "%s: %d (%s), expected %d (%s)\n%s", c->what, rc,
		    zc_strerror(rc), want, zc_strerror(want), g_log.text);
	if (!rc) {
		ZT_CREQ(zc_reg_destroy(r) == 0);
		return;
	}
	ZT_CREQ_MSG(r == SENT, "%s: failed zc_reg_create wrote *out", c->what);
	if (needle)
		ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_ERROR, "zc_reg_create", needle,
					    NULL, NULL),
			    "%s: no error line with \"%s\":\n%s", c->what, needle, g_log.text);
}

static int child_full_fd_table(void *arg)
{
	const size_t hole_len = 192 * 1024;
	const uint64_t uf = ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED);
	char path[PATH_MAX], needle[128];
	struct zc_ctx *ctx;
	struct zc_file *f;
	uint8_t *hole, *priv, *anon;
	int fd, first, last = -1;

	(void)arg;
	ZT_CREQ(ctx_logged(&ctx) == 0);
	fd = zt_make_file(g_dir, MEM_LEN, 5, O_RDWR, path);
	ZT_CREQ(fd >= 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	/* 192 KiB with the middle 64 KiB unmapped */
	hole = zt_map_anon(hole_len);
	ZT_CREQ(hole && munmap(hole + 64 * 1024, 64 * 1024) == 0);
	/* a MAP_PRIVATE mapping of the file: pinning it would pin copies */
	priv = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ZT_CREQ(priv != MAP_FAILED);
	anon = zt_map_anon(MEM_LEN);
	ZT_CREQ(anon);
	{
		const struct reg_case cases[] = {
			{ "a range with a 64 KiB hole", hole, hole_len, 0, 0, -EFAULT },
			{ "a MAP_PRIVATE file mapping, uring_fixed only", priv, MEM_LEN,
			  ZC_REG_REQUIRE_ZEROCOPY, uf, -EFAULT },
			{ "a MAP_PRIVATE file mapping", priv, MEM_LEN, 0, 0, 0 },
			{ "anonymous memory", anon, MEM_LEN, 0, 0, 0 },
		};
		const size_t n = zt_uring_expected() ? ZT_ARRAY_SIZE(cases) : 1;

		/* a low limit: the table fills after a few dups */
		set_soft_nofile(soft_at_least(64));
		first = fill_fd_table(&last);
		/* the memory cannot be looked at: no guess, the real reason */
		snprintf(needle, sizeof needle, "/proc/self/maps: %s", strerror(EMFILE));
		for (size_t i = 0; i < n; i++)
			reg_expect(f, &cases[i], -EMFILE, needle);
		for (int d = first; d >= 0 && d <= last; d++)
			close(d);
		/* with fds free the same requests get their usual answers */
		for (size_t i = 0; i < n; i++)
			reg_expect(f, &cases[i], cases[i].want_free, NULL);
	}
	munmap(hole, 64 * 1024);
	munmap(hole + 128 * 1024, 64 * 1024);
	munmap(priv, MEM_LEN);
	munmap(anon, MEM_LEN);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	return 0;
}

START_TEST(test_limits_reg_with_full_fd_table_is_emfile_not_a_guess)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_full_fd_table, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* fds: RLIMIT_NOFILE below the fixed-file table                        */

#define NF_FILE_LEN (64 * 1024)
#define NF_OPS 8

/* queued writes of pattern seed through r, then queued reads back into the
 * other half of its memory; every op must complete in full */
static void queued_write_read(struct zc_queue *q, struct zc_reg *r, uint32_t seed,
			      const char *what)
{
	const size_t op = NF_FILE_LEN / NF_OPS;
	uint8_t *mem = zc_reg_addr(r);
	struct zc_completion c[2 * NF_OPS];
	int got = 0, n;

	zt_fill(mem, NF_FILE_LEN, seed, 0);
	memset(mem + NF_FILE_LEN, 0, NF_FILE_LEN);
	for (int i = 0; i < NF_OPS; i++)
		ZT_CREQ(zc_prep_write(q, r, i * op, i * op, op, (uint64_t)i) == 0);
	ZT_CREQ(zc_submit(q) == NF_OPS);
	while (got < NF_OPS) {
		n = zc_reap(q, c + got, NF_OPS, 1, 10000);
		ZT_CREQ_MSG(n > 0, "%s: zc_reap: %d", what, n);
		got += n;
	}
	for (int i = NF_OPS; i < 2 * NF_OPS; i++)
		ZT_CREQ(zc_prep_read(q, r, NF_FILE_LEN + (i - NF_OPS) * op, (i - NF_OPS) * op,
				     op, (uint64_t)i) == 0);
	ZT_CREQ(zc_submit(q) == NF_OPS);
	while (got < 2 * NF_OPS) {
		n = zc_reap(q, c + got, NF_OPS, 1, 10000);
		ZT_CREQ_MSG(n > 0, "%s: zc_reap: %d", what, n);
		got += n;
	}
	for (int i = 0; i < 2 * NF_OPS; i++)
		ZT_CREQ_MSG(c[i].res == (int64_t)op, "%s: op %llu: res %lld (%s)", what,
			    (unsigned long long)c[i].user_data, (long long)c[i].res,
			    zc_strerror((int)c[i].res));
	ZT_CREQ_MSG(zt_verify(mem + NF_FILE_LEN, NF_FILE_LEN, seed, 0) == -1,
		    "%s: read back other bytes", what);
}

/* soft RLIMIT_NOFILE at least soft_min; files: zc_files opened around the
 * queue's creation, 0 for one before and one after it, else that many past
 * the limit, so that the last ones find no slot in the ring's smaller
 * fixed-file table. Every zc_file holds a descriptor (the library's own
 * duplicate), so for those the soft limit is raised after the queue is
 * made, as a program that raises its limit later would. */
struct nofile_case {
	rlim_t soft_min;
	unsigned past_limit;
};

static int child_low_nofile(void *arg)
{
	const struct nofile_case *c = arg;
	const rlim_t soft = soft_at_least(c->soft_min);
	const unsigned nf = c->past_limit ? (unsigned)soft + c->past_limit : 2;
	const unsigned before = c->past_limit ? 4 : 1;
	const rlim_t raised = c->past_limit ? soft + 2 * c->past_limit + 32 : soft;
	struct zc_file **f = calloc(nf, sizeof(*f));
	struct zc_reg *r;
	struct zc_ctx *ctx;
	struct zc_queue *q;
	char path[PATH_MAX], what[96];
	uint8_t *mem;
	int fd;

	ZT_CREQ(f);
	set_soft_nofile(soft);
	ZT_CREQ(ctx_logged(&ctx) == 0);
	fd = zt_make_file(g_ext4, NF_FILE_LEN, 7, O_RDWR, path);
	ZT_CREQ(fd >= 0);
	mem = zt_map_anon(2 * NF_FILE_LEN);
	ZT_CREQ(mem);
	/* one zc_file each, all on the same fd: each takes the next index of
	 * the context's fixed-file table */
	for (unsigned i = 0; i < before; i++)
		ZT_CREQ(zc_file_open(ctx, fd, 0, &f[i]) == 0);
	ZT_CREQ(zc_queue_create(ctx, 2 * NF_OPS, 0, &q) == 0);
	ZT_CREQ_MSG(soft_nofile() == soft, "zc_queue_create changed the soft "
		    "RLIMIT_NOFILE from %lu to %lu", (unsigned long)soft,
		    (unsigned long)soft_nofile());
	set_soft_nofile(raised);
	for (unsigned i = before; i < nf; i++)
		ZT_CREQ(zc_file_open(ctx, fd, 0, &f[i]) == 0);
	/* the first file, the first opened after the queue, the last */
	for (unsigned i = 0; i < nf; i++) {
		if (i != 0 && i != before && i != nf - 1)
			continue;
		ZT_CREQ(zt_reg_mem(f[i], mem, 2 * NF_FILE_LEN, 0, 0, 0, &r) == 0);
		snprintf(what, sizeof what, "zc_file %u of %u, soft RLIMIT_NOFILE %lu", i + 1,
			 nf, (unsigned long)soft);
		queued_write_read(q, r, 100 + i, what);
		ZT_CREQ(zc_reg_destroy(r) == 0);
	}
	zc_queue_destroy(q);
	for (unsigned i = 0; i < nf; i++)
		zc_file_close(f[i]);
	zc_ctx_destroy(ctx);
	ZT_CREQ_MSG(soft_nofile() == raised, "the soft RLIMIT_NOFILE is %lu, was %lu",
		    (unsigned long)soft_nofile(), (unsigned long)raised);
	close(fd);
	unlink(path);
	munmap(mem, 2 * NF_FILE_LEN);
	free(f);
	return 0;
}

START_TEST(test_limits_queue_keeps_rlimit_nofile_and_works_below_it)
{
	/* 312: the misuse run's value */
	static const struct nofile_case cases[] = { { 312, 0 }, { 32, 8 } };

	if (!zt_uring_expected()) {
		printf("limits.fds: io_uring unavailable: no fixed-file table to size\n");
		return;
	}
	for (size_t i = 0; i < ZT_ARRAY_SIZE(cases); i++)
		ZT_CK_CHILD_OK(zt_fork_run(child_low_nofile, (void *)&cases[i]));
}
END_TEST

/* ------------------------------------------------------------------ */
/* signals                                                              */

static volatile sig_atomic_t g_signals;
static long g_signal_cap; /* the timer stops after this many */

static void on_alarm(int sig)
{
	(void)sig;
	/* a bound, so that a wait that restarts forever still ends (and the
	 * test then fails on its duration instead of hanging) */
	if (++g_signals == g_signal_cap) {
		const struct itimerval off = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &off, NULL);
	}
}

/* SIGALRM every usec microseconds to a handler installed without
 * SA_RESTART, as an application with a profiling or watchdog timer has */
static void signal_storm(long usec, long cap)
{
	const struct itimerval it = { { 0, usec }, { 0, usec } };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	g_signals = 0;
	g_signal_cap = cap;
	ZT_CREQ(sigaction(SIGALRM, &sa, NULL) == 0);
	ZT_CREQ(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static void signal_storm_end(void)
{
	const struct itimerval off = { { 0, 0 }, { 0, 0 } };

	ZT_CREQ(setitimer(ITIMER_REAL, &off, NULL) == 0);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int child_reap_deadline(void *arg)
{
	const int timed = !zt_under_valgrind();
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	struct zc_completion c;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(4096);
	double t0, ms;
	int fd, lib_fd, p[2], n;
	long sigs = 0;

	(void)arg;
	ZT_CREQ(mem && ctx_logged(&ctx) == 0);
	/* ext4: on tmpfs a queued op runs inside zc_submit, not on the ring */
	fd = zt_make_file(g_ext4, 4096, 9, O_RDWR, path);
	ZT_CREQ(fd >= 0);
	/* An op whose completion the test controls: a read from an empty
	 * pipe completes when the test writes a byte. zc_file_open refuses
	 * pipes and acts through its own duplicate of fd, which takes the
	 * lowest free number: the test swaps the pipe in over that one, and
	 * the queue's ring, made after, takes the number as it is then. */
	lib_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ZT_CREQ(lib_fd >= 0 && close(lib_fd) == 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ_MSG(fcntl(lib_fd, F_GETFD) >= 0, "the library's duplicate is not fd %d",
		    lib_fd);
	ZT_CREQ(zt_reg_mem(f, mem, 4096, 0, 0, 0, &r) == 0);
	ZT_CREQ(pipe2(p, O_CLOEXEC) == 0);
	ZT_CREQ(dup2(p[0], lib_fd) == lib_fd);
	ZT_CREQ(zc_queue_create(ctx, 4, 0, &q) == 0);
	ZT_CREQ(zc_prep_read(q, r, 0, 0, 1, 77) == 0);
	ZT_CREQ(zc_submit(q) == 1);
	ZT_CREQ_MSG(zc_reap(q, &c, 1, 0, 0) == 0, "the pipe read completed early");

	/* 10 kHz, for at most half a second each. The signals' pace depends
	 * on the machine's load: measure until one wait saw enough of them
	 * to mean something, and hold every wait to the bound. */
	for (int k = 0; k < 5 && sigs < 10; k++) {
		signal_storm(100, 5000);
		t0 = now_ms();
		n = zc_reap(q, &c, 1, 1, 10);
		ms = now_ms() - t0;
		sigs = g_signals;
		signal_storm_end();
		ZT_CREQ_MSG(n == 0, "zc_reap: %d, expected 0 (nothing completes)", n);
		if (!timed) {
			printf("limits.signals: under valgrind: zc_reap took %.1f ms with "
			       "%ld signals, not judged\n", ms, sigs);
			break;
		}
		/* a correctness bound, not a speed target: each interrupted
		 * wait that starts the 10 ms again takes until the storm ends */
		ZT_CREQ_MSG(ms >= 9.5 && ms < 40, "zc_reap with a 10 ms timeout under %ld "
			    "signals returned after %.1f ms", sigs, ms);
	}
	ZT_CREQ_MSG(sigs >= 10 || !timed, "only %ld signals during the wait", sigs);

	/* One signal in a long wait: the signals are held for one short wait
	 * after it, not for the rest, which would wake the thread every half
	 * millisecond until the 200 ms are over. */
	if (timed) {
		struct rusage ru0, ru1;
		long woke;

		signal_storm(10000, 1);
		ZT_CREQ(getrusage(RUSAGE_THREAD, &ru0) == 0);
		n = zc_reap(q, &c, 1, 1, 200);
		ZT_CREQ(getrusage(RUSAGE_THREAD, &ru1) == 0);
		signal_storm_end();
		ZT_CREQ_MSG(n == 0, "zc_reap: %d, expected 0 (nothing completes)", n);
		woke = ru1.ru_nvcsw - ru0.ru_nvcsw;
		printf("limits.signals: a 200 ms zc_reap with %ld signal slept %ld times\n",
		       (long)g_signals, woke);
		ZT_CREQ_MSG(g_signals == 1, "%ld signals, expected 1", (long)g_signals);
		ZT_CREQ_MSG(woke < 20, "a 200 ms zc_reap with one signal in it slept %ld "
			    "times: it kept waking up after the signal", woke);
	}

	ZT_CREQ(write(p[1], "x", 1) == 1);
	ZT_CREQ(zc_reap(q, &c, 1, 1, 10000) == 1);
	ZT_CREQ_MSG(c.user_data == 77 && c.res == 1, "pipe read: user_data %llu res %lld",
		    (unsigned long long)c.user_data, (long long)c.res);
	zc_queue_destroy(q);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(p[0]);
	close(p[1]);
	close(fd);
	unlink(path);
	munmap(mem, 4096);
	return 0;
}

START_TEST(test_limits_reap_timeout_is_a_deadline_across_signals)
{
	if (!zt_uring_expected()) {
		printf("limits.signals: io_uring unavailable: zc_reap does not wait\n");
		return;
	}
	ZT_CK_CHILD_OK(zt_fork_run(child_reap_deadline, NULL));
}
END_TEST

#define SW_OPS 32
#define SW_OP_LEN 4096

struct storm_case {
	long usec;          /* signal interval */
	int direct;         /* O_DIRECT */
	uint64_t backends;  /* 0: the library's choice */
	unsigned reap_max;  /* completions taken per zc_reap */
};

/* What a stalled storm round looks like from inside: the signals taken,
 * the threads (is there an io-wq worker, where does each wait), the
 * pending signals and the rings' heads and tails. */
static void print_proc_file(const char *path, const char *only)
{
	char line[512];
	FILE *fp = fopen(path, "r");

	if (!fp)
		return;
	while (fgets(line, sizeof line, fp))
		if (!only || strstr(line, only))
			printf("    %s: %s", path, line);
	fclose(fp);
}

static void dump_stall(void)
{
	char path[PATH_MAX], buf[256];
	struct dirent *d;
	DIR *dir;

	printf("  stall: %ld signals so far\n", (long)g_signals);
	print_proc_file("/proc/self/status", "Sig");
	print_proc_file("/proc/self/status", "ShdPnd");
	if ((dir = opendir("/proc/self/task"))) {
		while ((d = readdir(dir))) {
			if (d->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/self/task/%s/comm", d->d_name);
			print_proc_file(path, NULL);
			snprintf(path, sizeof path, "/proc/self/task/%s/wchan", d->d_name);
			print_proc_file(path, NULL);
			printf("\n");
			snprintf(path, sizeof path, "/proc/self/task/%s/stack", d->d_name);
			print_proc_file(path, NULL);
		}
		closedir(dir);
	}
	if ((dir = opendir("/proc/self/fd"))) {
		while ((d = readdir(dir))) {
			ssize_t n;

			snprintf(path, sizeof path, "/proc/self/fd/%s", d->d_name);
			n = readlink(path, buf, sizeof buf - 1);
			if (n <= 0)
				continue;
			buf[n] = 0;
			if (!strstr(buf, "io_uring"))
				continue;
			snprintf(path, sizeof path, "/proc/self/fdinfo/%s", d->d_name);
			print_proc_file(path, "Sq");
			print_proc_file(path, "Cq");
		}
		closedir(dir);
	}
	fflush(stdout);
}

/* Queued writes that extend a file on ext4: io_uring cannot do them
 * without blocking, so it hands them to an io-wq worker thread, which it
 * starts on demand; the kernel refuses to start a thread while a signal
 * is pending for the submitter, and io_uring then cancels the writes
 * (-ECANCELED, all of them when the first worker fails). The library did
 * not ask for that: every write must complete in full. */
static int child_storm_writes(void *arg)
{
	const struct storm_case *sc = arg;
	const size_t len = (size_t)SW_OPS * SW_OP_LEN;
	struct zc_completion c[SW_OPS];
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	struct zc_queue *q;
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(len);
	int fd, got = 0, n;
	ssize_t bad;
	double t0;

	ZT_CREQ(mem && ctx_logged(&ctx) == 0);
	fd = zt_make_file(g_ext4, 0, 0, O_RDWR | (sc->direct ? O_DIRECT : 0), path);
	ZT_CREQ(fd >= 0);
	ZT_CREQ(zc_file_open(ctx, fd, 0, &f) == 0);
	ZT_CREQ(zt_reg_mem(f, mem, len, 0, 0, sc->backends, &r) == 0);
	ZT_CREQ(zc_queue_create(ctx, SW_OPS, 0, &q) == 0);
	zt_fill(mem, len, 21, 0);
	t0 = now_ms();
	signal_storm(sc->usec, 1000000);
	for (int i = 0; i < SW_OPS; i++)
		ZT_CREQ(zc_prep_write(q, r, (size_t)i * SW_OP_LEN, (uint64_t)i * SW_OP_LEN,
				      SW_OP_LEN, (uint64_t)i) == 0);
	ZT_CREQ((n = zc_submit(q)) == SW_OPS);
	while (got < SW_OPS) {
		n = zc_reap(q, c + got, sc->reap_max, 1, 10000);
		if (n <= 0) {
			/* a stall: say what it looks like, then whether the
			 * writes complete once the signals stop */
			const int stalled_at = got;

			printf("limits.signals: %s writes, signals every %ld us, %s: "
			       "zc_reap %d after %d of %d completions in 10 s\n",
			       sc->direct ? "O_DIRECT" : "buffered", sc->usec,
			       zc_backend_name(zc_reg_backend(r)), n, got, SW_OPS);
			dump_stall();
			signal_storm_end();
			while (got < SW_OPS && (n = zc_reap(q, c + got, SW_OPS - got, 1,
							    20000)) > 0)
				got += n;
			printf("  after the signals stopped: %d more completions (zc_reap %d)\n",
			       got - stalled_at, n);
			dump_stall();
			ZT_CREQ_MSG(0, "queued writes stalled under the storm (%d of %d "
				    "done; %d more after it stopped)", stalled_at, SW_OPS,
				    got - stalled_at);
		}
		got += n;
	}
	signal_storm_end();
	printf("limits.signals: %d %s writes under signals every %ld us: %.1f ms, "
	       "%ld signals\n", SW_OPS, sc->direct ? "O_DIRECT" : "buffered", sc->usec,
	       now_ms() - t0, (long)g_signals);
	for (int i = 0; i < SW_OPS; i++)
		ZT_CREQ_MSG(c[i].res == SW_OP_LEN, "%s write %llu (of %d, signals every %ld us, "
			    "%s): res %lld (%s)", sc->direct ? "O_DIRECT" : "buffered",
			    (unsigned long long)c[i].user_data, SW_OPS, sc->usec,
			    zc_backend_name(zc_reg_backend(r)), (long long)c[i].res,
			    zc_strerror((int)c[i].res));
	ZT_CREQ(zc_reap(q, c, SW_OPS, 0, 0) == 0);
	zc_queue_destroy(q);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	bad = zt_verify_file(path, 0, len, 21);
	ZT_CREQ_MSG(bad == -1, "file content wrong at %zd", bad);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	munmap(mem, len);
	return 0;
}

START_TEST(test_limits_queued_writes_complete_under_a_signal_storm)
{
	char why[256];
	int direct_ok;

	if (!zt_uring_expected()) {
		printf("limits.signals: io_uring unavailable: no io-wq to cancel anything\n");
		return;
	}
	direct_ok = zt_odirect_works(g_ext4, why, sizeof why);
	if (!direct_ok)
		printf("limits.signals: O_DIRECT does not work on ext4 here (%s): "
		       "buffered writes only\n", why);
	/* A fresh process each round: once a worker runs, later writes reuse
	 * it, and only a new one is refused. Where writes are cancelled, about
	 * every second round is, so 24 rounds do not all pass by chance. */
	for (int k = 0; k < 24; k++) {
		const struct storm_case sc = {
			.usec = getenv("ZT_STORM_US") ? atol(getenv("ZT_STORM_US")) : 20 + 10 * (k % 4),
			.direct = direct_ok && (k / 4) % 2,
			.backends = k % 3 == 2 ? ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE) : 0,
			.reap_max = k % 2 ? 1 : SW_OPS,
		};

		ZT_CK_CHILD_OK(zt_fork_run(child_storm_writes, (void *)&sc));
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* config: ZC_FAULT steps                                               */

/* Every step the library can fail on purpose, as libzerocopy(7) lists
 * them: each is accepted. */
static const char *const known_steps[] = {
	"core:ring_setup", "core:clone", "core:statx", "core:mmap", "core:complete",
	"core:p2p_alloc",
	"p2p_bar:reg", "odp_mr:reg",
	"pin_lease:reg", "pin_lease:lease", "pin_lease:register", "pin_lease:io",
	"uring_fixed:reg", "uring_fixed:register", "uring_fixed:io",
	"bounce:reg", "bounce:alloc", "bounce:reg_mr", "bounce:io",
};

/* well-formed rules whose step the site never reaches: a typo that would
 * otherwise inject nothing and let a rehearsal pass without its fault */
static const struct {
	const char *value, *step;
} unknown_steps[] = {
	{ "bounce:nosuchstep:EIO", "nosuchstep" },
	{ "uring_fixed:regster:ENOMEM", "regster" },
	{ "core:reg:EIO", "reg" },            /* reg is a backend's step */
	{ "core:io:EIO", "io" },
	{ "bounce:register:ENOMEM", "register" }, /* bounce pins nothing */
	{ "uring_fixed:lease:EAGAIN", "lease" },
	{ "pin_lease:alloc:ENOMEM", "alloc" },
	{ "bounce:io:EIO,uring_fixed:IO:EIO", "IO" }, /* steps are lower case */
};

static int child_fault_steps(void *arg)
{
	struct zc_ctx *ctx;
	char v[64];
	int rc;

	(void)arg;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(unknown_steps); i++) {
		ctx = SENT;
		ZT_CREQ(setenv("ZC_FAULT", unknown_steps[i].value, 1) == 0);
		rc = ctx_logged(&ctx);
		ZT_CREQ_MSG(rc == -EINVAL && ctx == SENT, "ZC_FAULT=%s: %d, expected -EINVAL",
			    unknown_steps[i].value, rc);
		ZT_CREQ_MSG(zt_log_line_has(&g_log, ZC_LOG_ERROR, "ZC_FAULT",
					    "unknown step", unknown_steps[i].step, NULL),
			    "ZC_FAULT=%s: no error line naming the unknown step '%s':\n%s",
			    unknown_steps[i].value, unknown_steps[i].step, g_log.text);
	}
	for (size_t i = 0; i < ZT_ARRAY_SIZE(known_steps); i++) {
		snprintf(v, sizeof v, "%s:EIO:1000000", known_steps[i]);
		ZT_CREQ(setenv("ZC_FAULT", v, 1) == 0);
		rc = ctx_logged(&ctx);
		ZT_CREQ_MSG(rc == 0, "ZC_FAULT=%s: %d (%s)\n%s", v, rc, zc_strerror(rc), g_log.text);
		zc_ctx_destroy(ctx);
	}
	unsetenv("ZC_FAULT");
	return 0;
}

START_TEST(test_limits_fault_unknown_step_is_einval_naming_the_step)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_steps, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* config: log lines                                                    */

struct ctl_log {
	unsigned count, bad;
	char first_bad[160]; /* the first offending message, escaped */
	struct zt_log all;
};

static void ctl_log_fn(void *arg, int level, const char *msg)
{
	struct ctl_log *l = arg;
	size_t o = 0;
	int bad = 0;

	zt_log_fn(&l->all, level, msg);
	l->count++;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			bad = 1;
	if (!bad)
		return;
	if (!l->bad++)
		for (const unsigned char *p = (const unsigned char *)msg;
		     *p && o + 5 < sizeof l->first_bad; p++)
			o += (size_t)snprintf(l->first_bad + o, sizeof l->first_bad - o,
					      *p < 0x20 || *p == 0x7f ? "<%02x>" : "%c", *p);
}

/* values that reach a log line: accepted ones are quoted by the warning
 * that fault injection is on, rejected ones by the error */
static const struct {
	const char *var, *value;
	int want;
} ctl_values[] = {
	{ "ZC_FAULT", "bounce:io:EIO\n", 0 },
	{ "ZC_FAULT", "bounce:io:EIO\r\n", -EINVAL },
	{ "ZC_FAULT", "bounce:io:EIO,\n\turing_fixed:io:EIO\n", 0 },
	{ "ZC_FAULT", "bounce:i\x1bo:EIO", -EINVAL },
	{ "ZC_FAULT", "bounce:io:EIO:1\x7f", -EINVAL },
	{ "ZC_LOG", "debug\n", -EINVAL },
	{ "ZC_LOG", "\twarn", -EINVAL },
	{ "ZC_BACKENDS", "bounce\r", -EINVAL },
};

static int child_log_control_chars(void *arg)
{
	struct ctl_log l;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	int rc;

	(void)arg;
	for (size_t i = 0; i < ZT_ARRAY_SIZE(ctl_values); i++) {
		memset(&l, 0, sizeof l);
		memset(&p, 0, sizeof p);
		p.field_mask = ZC_CTX_FIELD_LOG_FN;
		p.log_fn = ctl_log_fn;
		p.log_arg = &l;
		ZT_CREQ(setenv(ctl_values[i].var, ctl_values[i].value, 1) == 0);
		rc = zc_ctx_create(&p, &ctx);
		unsetenv(ctl_values[i].var);
		ZT_CREQ_MSG(rc == ctl_values[i].want, "%s=\"%s\": %d, expected %d",
			    ctl_values[i].var, ctl_values[i].value, rc, ctl_values[i].want);
		if (!rc)
			zc_ctx_destroy(ctx);
		ZT_CREQ_MSG(l.count > 0, "%s: nothing logged", ctl_values[i].var);
		ZT_CREQ_MSG(!l.bad, "%s: %u of %u log lines carry control characters, "
			    "the first: \"%s\"", ctl_values[i].var, l.bad, l.count, l.first_bad);
		/* the value is still recognisable in the line */
		ZT_CREQ_MSG(zt_log_has(&l.all, rc ? ZC_LOG_ERROR : ZC_LOG_WARN, ctl_values[i].var),
			    "%s: not named in the log:\n%s", ctl_values[i].var, l.all.text);
	}
	return 0;
}

START_TEST(test_limits_log_lines_carry_no_control_characters)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_log_control_chars, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* config: zc_reg_buf_index is silent                                   */

START_TEST(test_limits_reg_buf_index_does_not_log)
{
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r[2];
	char path[PATH_MAX];
	uint8_t *mem = zt_map_anon(MEM_LEN);
	int fd;

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(ctx_logged(&ctx), 0);
	fd = zt_make_file(g_dir, MEM_LEN, 3, O_RDWR, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, &f), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem, MEM_LEN / 2, 0, 0, 0, &r[0]), 0);
	ck_assert_int_eq(zt_reg_mem(f, mem + MEM_LEN / 2, MEM_LEN / 2, 0, 0,
				    ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE), &r[1]), 0);
	memset(&g_log, 0, sizeof g_log);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(zc_reg_buf_index(r[i], 0, 0), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], MEM_LEN / 2, 1), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], 1, MEM_LEN / 2), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], SIZE_MAX, 1), -EINVAL);
		ck_assert_int_eq(zc_reg_buf_index(r[i], 1, SIZE_MAX), -EINVAL);
	}
	ck_assert_int_eq(zc_reg_buf_index(r[1], 0, 4096), -ENODATA);
	if (zc_reg_backend(r[0]) == ZC_BACKEND_URING_FIXED)
		ck_assert_int_ge(zc_reg_buf_index(r[0], 0, 4096), 0);
	ck_assert_int_eq(zc_reg_buf_index(NULL, 0, 1), -EINVAL);
	ck_assert_msg(g_log.used == 0, "zc_reg_buf_index logged:\n%s", g_log.text);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(zc_reg_destroy(r[i]), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	unlink(path);
	munmap(mem, MEM_LEN);
}
END_TEST

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const char *why = NULL, *why4 = NULL;
	Suite *s;
	TCase *tc;

	g_variant = argc > 1 ? argv[1] : "";
	zt_init();
	g_dir = zt_tmpfs_dir(&why);
	g_ext4 = zt_ext4_dir(&why4);
	if (!g_dir)
		g_dir = g_ext4;
	if (!g_dir)
		zt_skip("limits.%s: neither tmpfs (%s) nor ext4 (%s)", g_variant, why, why4);
	s = suite_create("limits");
	tc = zt_tcase(g_variant);
	if (!strcmp(g_variant, "fds")) {
		tcase_add_test(tc, test_limits_reg_with_full_fd_table_is_emfile_not_a_guess);
		if (g_ext4)
			tcase_add_test(tc, test_limits_queue_keeps_rlimit_nofile_and_works_below_it);
		else
			printf("limits.fds: no ext4 directory (%s): RLIMIT_NOFILE case "
			       "skipped\n", why4);
	} else if (!strcmp(g_variant, "signals")) {
		if (!g_ext4)
			zt_skip("limits.signals: needs ext4 (queued ops on tmpfs do not use "
				"the ring): %s", why4);
		tcase_add_test(tc, test_limits_reap_timeout_is_a_deadline_across_signals);
		tcase_add_test(tc, test_limits_queued_writes_complete_under_a_signal_storm);
	} else if (!strcmp(g_variant, "config")) {
		tcase_add_test(tc, test_limits_fault_unknown_step_is_einval_naming_the_step);
		tcase_add_test(tc, test_limits_log_lines_carry_no_control_characters);
		tcase_add_test(tc, test_limits_reg_buf_index_does_not_log);
	} else {
		fprintf(stderr, "usage: %s fds|signals|config\n", argv[0]);
		return 2;
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
