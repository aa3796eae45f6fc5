/* SPDX-License-Identifier: MIT */
/*
 * leasebreak: how long a process that breaks a pin_lease lease waits.
 *
 *   gcc -O2 -Wall -I include -o leasebreak tests/bench/leasebreak.c \
 *       -L BUILD -lzerocopy -lpthread -Wl,-rpath,BUILD
 *   leasebreak [-d DIR] [-n BREAKS] [-w WARMUP] [-t THREADS] SIZE_MIB...
 *
 * For each SIZE_MIB, a file of that size in DIR (default /dev/shm, a
 * tmpfs) is registered whole with ZC_REG_MAP_FILE and must land on
 * pin_lease. A breaker process, forked once before the library is used,
 * then open()s the file O_RDONLY, which breaks the lease, and times that
 * open() alone with CLOCK_MONOTONIC: the wait the library imposes on it.
 * The breaker closes the file and reports; the benchmark waits for the
 * registration's ZC_EVENT_BACKEND_CHANGED (the library's copy in place),
 * destroys the registration and registers the file again. WARMUP breaks
 * (default 2) are not counted, BREAKS (default 60) are.
 *
 * Meanwhile THREADS threads (default 4) of the same context do
 * synchronous I/O: each alternates zc_read and zc_write of 64 KiB at
 * random offsets between its own 1 MiB anonymous buffer (registered
 * without MAP_FILE: uring_fixed where io_uring works) and a separate
 * 64 MiB file in DIR. The breaks compete with them for the CPUs and for
 * the context.
 *
 * Prints one JSON object: per size, the breaker's wait (p50, p99, max
 * and every sample, ms), the time from the breaker's open() to the
 * BACKEND_CHANGED event (p50, max), and the I/O operations done. p50 and
 * p99 interpolate linearly between the two nearest samples.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

#define IO_FILE_SIZE (64u << 20)
#define IO_BUF_SIZE (1u << 20)
#define IO_LEN (64u << 10)
#define EVENT_TIMEOUT_MS 60000
#define MAX_SIZES 8

struct brk_cmd {
	char path[PATH_MAX]; /* "" ends the breaker */
};

struct brk_res {
	double t0, t1; /* CLOCK_MONOTONIC seconds around open() */
	int err;
};

struct io_thread {
	pthread_t tid;
	struct zc_reg *r;
	unsigned seed;
	atomic_ulong ops; /* read by the main thread between sizes */
	ssize_t bad; /* first unexpected result, 0 if none */
};

static atomic_int g_stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "leasebreak: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* the breaker: a process of its own, as another program would be */
static void breaker_main(int cmd_fd, int res_fd)
{
	struct brk_cmd c;
	struct brk_res r;

	while (read(cmd_fd, &c, sizeof(c)) == (ssize_t)sizeof(c) && c.path[0]) {
		int fd;

		r.t0 = now_s();
		fd = open(c.path, O_RDONLY | O_CLOEXEC);
		r.t1 = now_s();
		r.err = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (write(res_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
	}
	_exit(0);
}

/* a file of size bytes of a non-zero pattern, its only open returned */
static int make_file(const char *dir, size_t size, char *path)
{
	static char buf[1 << 20];
	int fd;

	snprintf(path, PATH_MAX, "%s/leasebreak.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		die("mkostemp", errno);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	for (size_t off = 0; off < size; off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			die("pwrite", errno);
	return fd;
}

static void *io_main(void *arg)
{
	struct io_thread *t = arg;

	while (!atomic_load(&g_stop)) {
		uint64_t off = (uint64_t)(rand_r(&t->seed) % (IO_FILE_SIZE / IO_LEN)) * IO_LEN;
		ssize_t n = atomic_load(&t->ops) % 2 ? zc_write(t->r, 0, off, IO_LEN) :
						       zc_read(t->r, 0, off, IO_LEN);

		if (n != IO_LEN) {
			t->bad = n;
			break;
		}
		atomic_fetch_add(&t->ops, 1);
	}
	return NULL;
}

/* wait for r's BACKEND_CHANGED (or, left revoked, REVOKED); its time */
static double wait_revoked(struct zc_ctx *ctx, struct zc_reg *r)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	struct zc_event ev[16];

	for (;;) {
		int n;

		if (poll(&pfd, 1, EVENT_TIMEOUT_MS) != 1)
			die("no ZC_EVENT_BACKEND_CHANGED within 60 s", ETIMEDOUT);
		n = zc_ctx_events(ctx, ev, 16);
		if (n < 0)
			die("zc_ctx_events", n);
		for (int i = 0; i < n; i++)
			if (ev[i].reg == r && (ev[i].type == ZC_EVENT_BACKEND_CHANGED ||
					       (ev[i].type == ZC_EVENT_REVOKED &&
						ev[i].to == ZC_BACKEND_NONE)))
				return now_s();
	}
}

static struct zc_reg *register_file(struct zc_file *f, size_t size)
{
	struct zc_reg_params p = {
		.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS,
		.length = size,
		.flags = ZC_REG_MAP_FILE,
	};
	struct zc_attempt a[8];
	struct zc_reg *r;
	int ret = zc_reg_create(f, &p, &r);

	if (ret)
		die("zc_reg_create MAP_FILE", ret);
	if (zc_reg_backend(r) != ZC_BACKEND_PIN_LEASE) {
		int n = zc_reg_attempts(r, a, 8);

		fprintf(stderr, "leasebreak: the registration landed on %s:\n",
			zc_backend_name(zc_reg_backend(r)));
		for (int i = 0; i < n && i < 8; i++)
			fprintf(stderr, "  %s %d %s\n", zc_backend_name(a[i].backend),
				a[i].error, a[i].reason);
		exit(1);
	}
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* q-quantile of sorted v, interpolated between the nearest two */
static double quantile(const double *v, unsigned n, double q)
{
	double pos = q * (n - 1);
	unsigned lo = (unsigned)pos;

	return lo + 1 < n ? v[lo] + (v[lo + 1] - v[lo]) * (pos - lo) : v[n - 1];
}

struct size_result {
	unsigned mib;
	double *wait_ms, *done_ms; /* sorted after the run; done_ms sorted apart */
	double *order_ms;          /* waits in the order measured */
	unsigned long ops;
};

static void run_size(struct zc_ctx *ctx, const char *dir, int cmd_fd, int res_fd,
		     unsigned warmup, unsigned breaks, struct size_result *res)
{
	const size_t size = (size_t)res->mib << 20;
	struct zc_file *f;
	char path[PATH_MAX];
	int fd = make_file(dir, size, path), ret;

	ret = zc_file_open(ctx, fd, 0, &f);
	if (ret)
		die("zc_file_open", ret);
	for (unsigned i = 0; i < warmup + breaks; i++) {
		struct zc_reg *r = register_file(f, size);
		struct brk_cmd c;
		struct brk_res br;
		double done;

		memset(&c, 0, sizeof(c));
		snprintf(c.path, sizeof(c.path), "%s", path);
		if (write(cmd_fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
			die("write to the breaker", errno);
		done = wait_revoked(ctx, r);
		if (read(res_fd, &br, sizeof(br)) != (ssize_t)sizeof(br))
			die("read from the breaker", errno);
		if (br.err)
			die("the breaker's open", br.err);
		ret = zc_reg_destroy(r);
		if (ret)
			die("zc_reg_destroy", ret);
		if (i < warmup)
			continue;
		res->wait_ms[i - warmup] = (br.t1 - br.t0) * 1e3;
		res->done_ms[i - warmup] = (done - br.t0) * 1e3;
	}
	memcpy(res->order_ms, res->wait_ms, breaks * sizeof(double));
	qsort(res->wait_ms, breaks, sizeof(double), cmp_double);
	qsort(res->done_ms, breaks, sizeof(double), cmp_double);
	zc_file_close(f);
	close(fd);
	unlink(path);
}

static void print_size(const struct size_result *s, unsigned n, bool last)
{
	printf("  {\"size_mib\": %u, \"breaks\": %u,\n", s->mib, n);
	printf("   \"wait_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"min\": %.3f},\n",
	       quantile(s->wait_ms, n, 0.5), quantile(s->wait_ms, n, 0.99),
	       s->wait_ms[n - 1], s->wait_ms[0]);
	printf("   \"revocation_done_ms\": {\"p50\": %.3f, \"max\": %.3f},\n",
	       quantile(s->done_ms, n, 0.5), s->done_ms[n - 1]);
	printf("   \"io_ops\": %lu,\n   \"wait_ms_samples\": [", s->ops);
	for (unsigned i = 0; i < n; i++)
		printf("%s%.3f", i ? ", " : "", s->order_ms[i]);
	printf("]}%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
	const char *dir = "/dev/shm";
	unsigned breaks = 60, warmup = 2, nthreads = 4, nsizes = 0;
	struct size_result sizes[MAX_SIZES];
	struct io_thread *th;
	int cmd[2], res[2], io_fd, opt, ret;
	char io_path[PATH_MAX];
	struct zc_file *io_f;
	struct zc_ctx *ctx;
	pid_t kid;

	while ((opt = getopt(argc, argv, "d:n:w:t:")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'n': breaks = (unsigned)atoi(optarg); break;
		case 'w': warmup = (unsigned)atoi(optarg); break;
		case 't': nthreads = (unsigned)atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind >= argc || argc - optind > MAX_SIZES || breaks < 2)
		goto usage;
	for (int i = optind; i < argc; i++) {
		struct size_result *s = &sizes[nsizes++];

		memset(s, 0, sizeof(*s));
		s->mib = (unsigned)atoi(argv[i]);
		s->wait_ms = calloc(breaks, sizeof(double));
		s->done_ms = calloc(breaks, sizeof(double));
		s->order_ms = calloc(breaks, sizeof(double));
		if (!s->mib || !s->wait_ms || !s->done_ms || !s->order_ms)
			goto usage;
	}

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		die("pipe2", errno);
	kid = fork();
	if (kid < 0)
		die("fork", errno);
	if (kid == 0) {
		close(cmd[1]);
		close(res[0]);
		breaker_main(cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);

	ret = zc_ctx_create(NULL, &ctx);
	if (ret)
		die("zc_ctx_create", ret);
	io_fd = make_file(dir, IO_FILE_SIZE, io_path);
	ret = zc_file_open(ctx, io_fd, 0, &io_f);
	if (ret)
		die("zc_file_open (I/O file)", ret);
	th = calloc(nthreads ? nthreads : 1, sizeof(*th));
	if (!th)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i < nthreads; i++) {
		void *buf = mmap(NULL, IO_BUF_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		struct zc_reg_params p = {
			.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH,
			.addr = buf, .length = IO_BUF_SIZE,
		};

		if (buf == MAP_FAILED)
			die("mmap", errno);
		ret = zc_reg_create(io_f, &p, &th[i].r);
		if (ret)
			die("zc_reg_create (I/O buffer)", ret);
		th[i].seed = i + 1;
		if ((ret = pthread_create(&th[i].tid, NULL, io_main, &th[i])))
			die("pthread_create", ret);
	}

	for (unsigned s = 0; s < nsizes; s++) {
		unsigned long before = 0;

		for (unsigned i = 0; i < nthreads; i++)
			before += atomic_load(&th[i].ops);
		run_size(ctx, dir, cmd[1], res[0], warmup, breaks, &sizes[s]);
		for (unsigned i = 0; i < nthreads; i++)
			sizes[s].ops += atomic_load(&th[i].ops);
		sizes[s].ops -= before;
	}

	atomic_store(&g_stop, 1);
	printf("{\"library_version\": \"%u.%u.%u\", \"dir\": \"%s\", \"io_threads\": %u,\n"
	       " \"io_backend\": \"%s\", \"warmup\": %u,\n \"sizes\": [\n",
	       zc_version() >> 16, (zc_version() >> 8) & 0xff, zc_version() & 0xff, dir,
	       nthreads, nthreads ? zc_backend_name(zc_reg_backend(th[0].r)) : "none",
	       warmup);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].bad) {
			fprintf(stderr, "leasebreak: I/O thread %u: %zd\n", i, th[i].bad);
			return 1;
		}
		zc_reg_destroy(th[i].r);
	}
	for (unsigned s = 0; s < nsizes; s++)
		print_size(&sizes[s], breaks, s + 1 == nsizes);
	printf(" ]}\n");

	zc_file_close(io_f);
	close(io_fd);
	unlink(io_path);
	zc_ctx_destroy(ctx);
	{
		struct brk_cmd end;

		memset(&end, 0, sizeof(end));
		if (write(cmd[1], &end, sizeof(end)) != (ssize_t)sizeof(end))
			kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	return 0;
usage:
	fprintf(stderr, "usage: %s [-d DIR] [-n BREAKS>=2] [-w WARMUP] [-t THREADS] "
		"SIZE_MIB... (at most %d sizes)\n", argv[0], MAX_SIZES);
	return 2;
}
