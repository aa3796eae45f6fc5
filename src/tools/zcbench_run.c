/* SPDX-License-Identifier: MIT */
/*
 * zcbench: the run. One registration of a preallocated buffer
 * (registered once, before the clock starts), one zc_queue per thread for
 * --mode async, zc_read or zc_write for --mode sync, memcpy from a
 * mapping of the file for --memcpy. Offsets come from a per-thread
 * generator with a fixed seed, so two runs issue the same I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcbench.h"

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


/* ------------------------------------------------------------------ */
/* the run                                                              */

struct thread {
	pthread_t tid;
	unsigned idx;
	struct zc_queue *q;
	size_t buf_off;          /* this thread's part of the registration */
	uint64_t region_off, region_len; /* sequential: own part of the file */
	uint64_t rng, seq_next;
	uint64_t *t_sub;         /* async: submit time per slot */
	/* results */
	struct hist h;
	uint64_t ops, bytes, errors;
	uint64_t path_ring, path_inline, path_fallback, path_sync;
	uint64_t backend_ops[ZC_BACKEND_MAX + 1];
	uint64_t t_start, t_end; /* measured interval */
	int first_error;
};

static struct {
	int fd;
	struct zc_ctx *ctx;
	struct zc_file *zf;
	struct zc_reg *reg;
	char *buf;               /* registration memory */
	size_t buf_len;
	char *map;               /* --memcpy: the file, mapped */
	uint64_t size;
	struct zc_file_info fi;
	pthread_barrier_t start;
	uint64_t t0, t_ramp_end, t_end;
	atomic_bool stop;
	struct thread *th;
	int prefetch;            /* --remote: zc_reg_prefetch's result */
	bool p2p_mapped;         /* buf came from zc_p2p_alloc */
} bench = { .fd = -1 };

static inline uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t next_off(struct thread *t)
{
	uint64_t off;

	if (is_random())
		return (rng_next(&t->rng) % (bench.size / opt.bs)) * opt.bs;
	off = t->region_off + t->seq_next;
	t->seq_next += opt.bs;
	if (t->seq_next + opt.bs > t->region_len)
		t->seq_next = 0;
	return off;
}

/* Has the measured part begun / ended? Time based unless --ops. */
static inline bool measuring(uint64_t t)
{
	return t >= bench.t_ramp_end;
}

static inline bool finished(const struct thread *t, uint64_t now)
{
	if (opt.ops)
		return t->ops >= opt.ops;
	return now >= bench.t_end;
}

static inline void note_result(struct thread *t, int64_t res)
{
	if (res == (int64_t)opt.bs)
		return;
	t->errors++;
	if (!t->first_error)
		t->first_error = res < 0 ? (int)res : -EIO;
}

static void run_sync(struct thread *t)
{
	const size_t boff = t->buf_off;
	uint64_t t1 = now_ns();

	if (!opt.ops) /* warm-up, not measured */
		while (t1 < bench.t_ramp_end) {
			uint64_t off = next_off(t);
			ssize_t n = is_write() ? zc_write(bench.reg, boff, off, opt.bs) :
						 zc_read(bench.reg, boff, off, opt.bs);

			note_result(t, n);
			t1 = now_ns();
		}
	t->t_start = t1;
	while (!finished(t, t1)) {
		uint64_t off = next_off(t), t0 = t1;
		ssize_t n = is_write() ? zc_write(bench.reg, boff, off, opt.bs) :
					 zc_read(bench.reg, boff, off, opt.bs);

		t1 = now_ns();
		note_result(t, n);
		hist_add(&t->h, t1 - t0);
		t->ops++;
		if (n > 0)
			t->bytes += (uint64_t)n;
	}
	t->t_end = t1;
	t->path_sync = t->ops;
	t->backend_ops[zc_reg_backend(bench.reg)] = t->ops;
}

static int prep_one(struct thread *t, unsigned slot)
{
	size_t boff = t->buf_off + (size_t)slot * (opt.bs + opt.misalign);
	uint64_t off = next_off(t);

	return is_write() ? zc_prep_write(t->q, bench.reg, boff, off, opt.bs, slot) :
			    zc_prep_read(t->q, bench.reg, boff, off, opt.bs, slot);
}

/* Submit what is prepared; the latency of each op starts here. */
static int submit_prepped(struct thread *t, const unsigned *prepped,
			  unsigned *nprep, unsigned *inflight)
{
	uint64_t tnow = now_ns();
	int ret;

	for (unsigned i = 0; i < *nprep; i++)
		t->t_sub[prepped[i]] = tnow;
	ret = zc_submit(t->q);
	if (ret < 0)
		return ret;
	*inflight += *nprep;
	*nprep = 0;
	return 0;
}

/*
 * Keep qd operations in flight: reap what has completed (at least one),
 * prepare a new operation in each freed slot and submit every opt.batch of
 * them (1: each as soon as its slot is free, as fio does by default).
 */
static void run_async(struct thread *t)
{
	struct zc_completion comp[MAX_QD];
	unsigned inflight = 0, nprep = 0;
	unsigned *prepped = malloc(opt.qd * sizeof(*prepped));
	bool measure = opt.ops != 0, stopping = false;
	uint64_t tnow;
	int ret, got;

	if (!prepped) {
		t->first_error = -ENOMEM;
		return;
	}
	tnow = now_ns();
	if (measure)
		t->t_start = tnow;
	for (unsigned s = 0; s < opt.qd; s++) {
		ret = prep_one(t, s);
		if (!ret) {
			prepped[nprep++] = s;
			if (nprep >= opt.batch)
				ret = submit_prepped(t, prepped, &nprep, &inflight);
		}
		if (ret) {
			t->first_error = ret;
			goto out;
		}
	}
	for (;;) {
		if (nprep) {
			ret = submit_prepped(t, prepped, &nprep, &inflight);
			if (ret < 0) {
				t->first_error = ret;
				t->errors++;
				break;
			}
		}
		if (!inflight)
			break;
		ret = zc_reap(t->q, comp, opt.qd, 1, -1);
		if (ret < 0) {
			t->first_error = ret;
			t->errors++;
			break;
		}
		tnow = now_ns();
		if (!measure && measuring(tnow)) {
			measure = true;
			t->t_start = tnow;
		}
		got = ret;
		inflight -= (unsigned)got;
		for (int i = 0; i < got; i++) {
			const struct zc_completion *c = &comp[i];
			unsigned slot = (unsigned)c->user_data;

			note_result(t, c->res);
			if (measure && !stopping) {
				hist_add(&t->h, tnow - t->t_sub[slot]);
				t->ops++;
				if (c->res > 0)
					t->bytes += (uint64_t)c->res;
				if (c->flags & ZC_CQE_F_INLINE)
					t->path_inline++;
				else
					t->path_ring++;
				if (c->flags & ZC_CQE_F_FALLBACK)
					t->path_fallback++;
				if (c->backend <= ZC_BACKEND_MAX)
					t->backend_ops[c->backend]++;
			}
			if (!stopping && measure && finished(t, tnow)) {
				stopping = true;
				t->t_end = tnow;
			}
			if (stopping)
				continue;
			ret = prep_one(t, slot);
			if (!ret) {
				prepped[nprep++] = slot;
				if (nprep >= opt.batch)
					ret = submit_prepped(t, prepped, &nprep,
							     &inflight);
			}
			if (ret) {
				t->first_error = ret;
				t->errors++;
				stopping = true;
				t->t_end = tnow;
			}
		}
	}
out:
	if (!t->t_end)
		t->t_end = now_ns();
	free(prepped);
}

/* read: file mapping -> buffer, as a page-cache read copies; write: the
 * other way round */
static inline void copy_block(struct thread *t, char *mine)
{
	char *file = bench.map + next_off(t);

	if (is_write())
		memcpy(file, mine, opt.bs);
	else
		memcpy(mine, file, opt.bs);
	/* keep the compiler from dropping a copy nobody reads */
	__asm__ volatile("" : : "r"(mine), "r"(file) : "memory");
}

static void run_memcpy(struct thread *t)
{
	char *mine = bench.buf + t->buf_off;
	uint64_t t1 = now_ns();

	while (!opt.ops && t1 < bench.t_ramp_end) {
		copy_block(t, mine);
		t1 = now_ns();
	}
	t->t_start = t1;
	while (!finished(t, t1)) {
		uint64_t t0 = t1;

		copy_block(t, mine);
		t1 = now_ns();
		hist_add(&t->h, t1 - t0);
		t->ops++;
		t->bytes += opt.bs;
	}
	t->t_end = t1;
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;

	pthread_barrier_wait(&bench.start);
	if (opt.memcpy_probe)
		run_memcpy(t);
	else if (opt.async)
		run_async(t);
	else
		run_sync(t);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* setup                                                                */

static int prepare_file(void)
{
	int flags = (is_write() || !opt.no_create ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	struct stat st;
	int fd;

	fd = open(opt.file, flags | (opt.no_create ? 0 : O_CREAT), 0644);
	if (fd < 0 && errno == EACCES && !is_write())
		fd = open(opt.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "zcbench: %s: %s\n", opt.file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "zcbench: fstat %s: %s\n", opt.file, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode) && opt.size > (uint64_t)st.st_size) {
		/* lay the file out with real data: no holes, no unwritten extents */
		size_t chunk = 1u << 20;
		char *p = malloc(chunk);
		uint64_t off = (uint64_t)st.st_size & ~(uint64_t)(chunk - 1);

		if (opt.no_create) {
			fprintf(stderr, "zcbench: %s has %lld bytes, fewer than --size "
				"%" PRIu64 " (and --no-create)\n", opt.file,
				(long long)st.st_size, opt.size);
			free(p);
			close(fd);
			return -1;
		}
		if (!p) {
			close(fd);
			return -1;
		}
		for (size_t i = 0; i < chunk; i++)
			p[i] = (char)(i * 131 + 7);
		for (; off < opt.size; off += chunk) {
			size_t n = (size_t)(opt.size - off < chunk ? opt.size - off : chunk);

			if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n) {
				fprintf(stderr, "zcbench: laying out %s: %s\n", opt.file,
					strerror(errno));
				free(p);
				close(fd);
				return -1;
			}
		}
		free(p);
		fsync(fd);
		st.st_size = (off_t)opt.size;
	}
	if (!opt.size)
		opt.size = (uint64_t)st.st_size;
	if (opt.direct) {
		close(fd);
		fd = open(opt.file, (flags & O_ACCMODE) | O_CLOEXEC | O_DIRECT);
		if (fd < 0) {
			fprintf(stderr, "zcbench: %s with O_DIRECT: %s\n", opt.file,
				strerror(errno));
			return -1;
		}
	}
	bench.fd = fd;
	return 0;
}

/* The PCI function whose p2pmem/allocate file addr is a mapping of, from
 * /proc/self/maps (zc_p2p_alloc with no BDF names none): "" if unknown. */
static void mapping_publisher(const void *addr, char *bdf, size_t len)
{
	static const char tail[] = "/p2pmem/allocate";
	uintptr_t a = (uintptr_t)addr;
	char line[4352];
	FILE *f = fopen("/proc/self/maps", "re");

	bdf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *path, *end, *dev;
		size_t n;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || a < lo || a >= hi)
			continue;
		path = strchr(line, '/');
		if (!path)
			break;
		path[strcspn(path, "\n")] = '\0';
		n = strlen(path);
		if (n <= sizeof(tail) - 1 || strcmp(path + n - (sizeof(tail) - 1), tail))
			break;
		end = path + n - (sizeof(tail) - 1);
		*end = '\0';
		dev = strrchr(path, '/') + 1;
		snprintf(bdf, len, "%s", dev);
		break;
	}
	fclose(f);
}

/* the registration's memory: anonymous, or device memory near the file */
static int alloc_buffer(void)
{
	void *p;
	int ret;

	if (!opt.p2p) {
		p = mmap(NULL, bench.buf_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "zcbench: mmap %zu bytes: %s\n", bench.buf_len,
				strerror(errno));
			return -1;
		}
		bench.buf = p;
		return 0;
	}
	ret = zc_p2p_alloc(bench.zf, opt.p2p_bdf, bench.buf_len, &p);
	if (ret) {
		fprintf(stderr, "zcbench: --p2p: zc_p2p_alloc of %zu bytes from %s: "
			"%s%s\n", bench.buf_len, opt.p2p_bdf ? opt.p2p_bdf :
			"the nearest publisher", zc_strerror(ret),
			ret == -ENODEV ? " (no device publishes p2pmem here)" : "");
		return -1;
	}
	bench.buf = p;
	bench.p2p_mapped = true;
	if (!opt.direct)
		fprintf(stderr, "zcbench: --p2p without -d: p2p_bar needs an "
			"O_DIRECT file, the I/O is staged through host memory\n");
	return 0;
}

int bench_setup(void)
{
	struct zc_ctx_params cp = { 0 };
	struct zc_reg_params rp = { 0 };
	size_t per_thread;
	int ret;

	if (prepare_file())
		return -1;
	if (opt.bounce_bytes) {
		cp.field_mask |= ZC_CTX_FIELD_BOUNCE_BYTES;
		cp.bounce_bytes = opt.bounce_bytes;
	}
	if (opt.no_uring) {
		cp.field_mask |= ZC_CTX_FIELD_FLAGS;
		cp.flags = ZC_CTX_NO_URING;
	}
	ret = zc_ctx_create(cp.field_mask ? &cp : NULL, &bench.ctx);
	if (ret) {
		fprintf(stderr, "zcbench: zc_ctx_create: %s\n", zc_strerror(ret));
		return -1;
	}
	ret = zc_file_open(bench.ctx, bench.fd, 0, &bench.zf);
	if (ret) {
		fprintf(stderr, "zcbench: zc_file_open: %s\n", zc_strerror(ret));
		return -1;
	}
	bench.fi.size = 0;
	ret = zc_file_query(bench.zf, &bench.fi, sizeof(bench.fi));
	if (ret) {
		fprintf(stderr, "zcbench: zc_file_query: %s\n", zc_strerror(ret));
		return -1;
	}
	if (!opt.size)
		opt.size = bench.fi.file_size;
	bench.size = opt.size;
	if (bench.size < opt.bs * (is_random() ? 1 : opt.threads)) {
		fprintf(stderr, "zcbench: %s: %" PRIu64 " bytes are too few for "
			"bs %zu and %u threads\n", opt.file, bench.size, opt.bs, opt.threads);
		return -1;
	}

	/* one buffer, registered once; each thread owns qd blocks of it */
	per_thread = (size_t)opt.qd * (opt.bs + opt.misalign);
	per_thread = (per_thread + 4095) & ~(size_t)4095;
	bench.buf_len = per_thread * opt.threads;
	if (alloc_buffer())
		return -1;
	for (size_t i = 0; i < bench.buf_len; i++)
		bench.buf[i] = (char)(i * 31 + 1);

	if (opt.memcpy_probe) {
		void *m = mmap(NULL, bench.size, PROT_READ | (is_write() ? PROT_WRITE : 0),
			       MAP_SHARED | MAP_POPULATE, bench.fd, 0);

		if (m == MAP_FAILED) {
			fprintf(stderr, "zcbench: --memcpy: mmap %s: %s\n", opt.file,
				strerror(errno));
			return -1;
		}
		bench.map = m;
	} else {
		rp.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
				ZC_REG_FIELD_ACCESS;
		rp.addr = bench.buf;
		rp.length = bench.buf_len;
		rp.access = is_write() ? ZC_ACCESS_WRITE : ZC_ACCESS_READ;
		/* a peer reads what zcbench writes out, and writes what it
		 * reads in: the remote side of the same buffer */
		if (opt.remote)
			rp.access |= is_write() ? ZC_ACCESS_REMOTE_READ :
				     ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE;
		if (opt.backends) {
			rp.field_mask |= ZC_REG_FIELD_BACKENDS;
			rp.backends = opt.backends;
		}
		if (opt.p2p) {
			rp.field_mask |= ZC_REG_FIELD_MEM_TYPE;
			rp.mem_type = ZC_MEM_P2P;
		}
		ret = zc_reg_create(bench.zf, &rp, &bench.reg);
		if (ret) {
			fprintf(stderr, "zcbench: zc_reg_create (backends %s%s%s): %s%s\n",
				opt.backend_arg, opt.remote ? ", remote access" : "",
				opt.p2p ? ", p2pmem" : "", zc_strerror(ret),
				!opt.p2p && opt.backends == ZC_BACKEND_BIT(ZC_BACKEND_P2P_BAR) ?
				" (p2p_bar moves device memory only: add --p2p)" : "");
			return -1;
		}
		/* before the run, as a server would before a peer's first
		 * access: an ODP region's pages faulted in, or why not
		 * (-EOPNOTSUPP from the device, -ENODATA: no ODP region) */
		if (opt.remote)
			bench.prefetch = zc_reg_prefetch(bench.reg, 0, bench.buf_len,
							 is_write() ? 0 : ZC_PREFETCH_WRITE);
	}

	bench.th = calloc(opt.threads, sizeof(*bench.th));
	if (!bench.th)
		return -1;
	for (unsigned i = 0; i < opt.threads; i++) {
		struct thread *t = &bench.th[i];
		uint64_t blocks = bench.size / opt.bs;

		t->idx = i;
		t->buf_off = per_thread * i + opt.misalign;
		t->rng = (opt.seed + 1) * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
		if (!t->rng)
			t->rng = 1;
		t->region_off = blocks / opt.threads * i * opt.bs;
		t->region_len = blocks / opt.threads * opt.bs;
		t->h.min = UINT64_MAX;
		if (opt.async && !opt.memcpy_probe) {
			t->t_sub = calloc(opt.qd, sizeof(*t->t_sub));
			if (!t->t_sub)
				return -1;
			ret = zc_queue_create(bench.ctx, opt.qd, 0, &t->q);
			if (ret) {
				fprintf(stderr, "zcbench: zc_queue_create: %s\n",
					zc_strerror(ret));
				return -1;
			}
		}
	}
	return 0;
}

void bench_teardown(void)
{
	if (bench.th)
		for (unsigned i = 0; i < opt.threads; i++) {
			zc_queue_destroy(bench.th[i].q);
			free(bench.th[i].t_sub);
		}
	free(bench.th);
	if (bench.reg)
		zc_reg_destroy(bench.reg);
	if (bench.zf)
		zc_file_close(bench.zf);
	zc_ctx_destroy(bench.ctx);
	if (bench.map)
		munmap(bench.map, bench.size);
	if (bench.p2p_mapped)
		zc_p2p_free(bench.buf, bench.buf_len);
	else if (bench.buf)
		munmap(bench.buf, bench.buf_len);
	if (bench.fd >= 0)
		close(bench.fd);
}

/* ------------------------------------------------------------------ */
/* resident set                                                         */

static struct rss rss_now(void)
{
	struct rss r = { -1, -1 };
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return r;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			r.rss_kib = atol(line + 6);
		else if (!strncmp(line, "RssAnon:", 8))
			r.anon_kib = atol(line + 8);
	}
	fclose(f);
	return r;
}

static void rss_sample(struct rss_log *log, uint64_t t)
{
	if (log->n == MAX_RSS_SAMPLES)
		return;
	log->t[log->n] = (double)(t - bench.t0) / 1e9;
	log->s[log->n++] = rss_now();
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
			       .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* the measured part                                                    */

static double timeval_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* what the report says about the file and the registration */
static void describe_setup(struct result *r)
{
	snprintf(r->fs_name, sizeof r->fs_name, "%s", bench.fi.fs_name);
	r->size = bench.size;
	if (bench.p2p_mapped)
		mapping_publisher(bench.buf, r->p2p_bdf, sizeof(r->p2p_bdf));
	if (bench.p2p_mapped && !r->p2p_bdf[0] && opt.p2p_bdf)
		snprintf(r->p2p_bdf, sizeof(r->p2p_bdf), "%s", opt.p2p_bdf);
	if (!bench.reg)
		return;
	r->registered = true;
	r->backend = zc_reg_backend(bench.reg);
	r->nr_attempts = zc_reg_attempts(bench.reg, r->attempts, MAX_ATTEMPTS);
	if (r->nr_attempts < 0)
		r->nr_attempts = 0;
	if (r->nr_attempts > MAX_ATTEMPTS)
		r->nr_attempts = MAX_ATTEMPTS;
	if (!opt.remote)
		return;
	/* odp_mr says "quirk NAME on DEVICE: ..." when a quirk refused it */
	for (int i = 0; i < r->nr_attempts && r->nr_quirks < 4; i++) {
		const char *q = r->attempts[i].reason;

		if (r->attempts[i].error && !strncmp(q, "quirk ", 6))
			snprintf(r->quirks[r->nr_quirks++], sizeof r->quirks[0], "%.*s",
				 (int)strcspn(q + 6, " "), q + 6);
	}
	r->prefetch = bench.prefetch;
}

int bench_run(struct result *r)
{
	struct rusage ru0, ru1;
	uint64_t t_first = UINT64_MAX, t_last = 0;

	memset(r, 0, sizeof(*r));
	r->h.min = UINT64_MAX;
	if (pthread_barrier_init(&bench.start, NULL, opt.threads + 1))
		return -1;
	for (unsigned i = 0; i < opt.threads; i++)
		if (pthread_create(&bench.th[i].tid, NULL, thread_main, &bench.th[i])) {
			fprintf(stderr, "zcbench: pthread_create failed\n");
			exit(1); /* the barrier would wait for ever */
		}
	/* the first sample: everything set up, threads waiting, no I/O yet */
	bench.t0 = now_ns();
	rss_sample(&r->rss, bench.t0);
	bench.t0 = now_ns();
	bench.t_ramp_end = bench.t0 + (uint64_t)(opt.ramp * 1e9);
	bench.t_end = bench.t_ramp_end + (uint64_t)(opt.runtime * 1e9);
	pthread_barrier_wait(&bench.start);
	if (opt.ramp > 0 && !opt.ops) {
		sleep_until(bench.t_ramp_end);
		rss_sample(&r->rss, now_ns());
	}
	getrusage(RUSAGE_SELF, &ru0);
	if (!opt.ops && opt.rss_interval > 0) {
		for (uint64_t t = bench.t_ramp_end + (uint64_t)(opt.rss_interval * 1e9);
		     t < bench.t_end; t += (uint64_t)(opt.rss_interval * 1e9)) {
			sleep_until(t);
			rss_sample(&r->rss, t);
		}
	}
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_join(bench.th[i].tid, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	rss_sample(&r->rss, now_ns());

	for (unsigned i = 0; i < opt.threads; i++) {
		struct thread *t = &bench.th[i];

		hist_merge(&r->h, &t->h);
		r->ops += t->ops;
		r->bytes += t->bytes;
		r->errors += t->errors;
		r->path_ring += t->path_ring;
		r->path_inline += t->path_inline;
		r->path_fallback += t->path_fallback;
		r->path_sync += t->path_sync;
		for (unsigned b = 0; b <= ZC_BACKEND_MAX; b++)
			r->backend_ops[b] += t->backend_ops[b];
		if (t->first_error && !r->first_error)
			r->first_error = t->first_error;
		if (t->t_start && t->t_start < t_first)
			t_first = t->t_start;
		if (t->t_end > t_last)
			t_last = t->t_end;
	}
	r->elapsed = t_last > t_first ? (double)(t_last - t_first) / 1e9 : 0;
	r->user_s = timeval_s(ru1.ru_utime) - timeval_s(ru0.ru_utime);
	r->sys_s = timeval_s(ru1.ru_stime) - timeval_s(ru0.ru_stime);
	if (bench.ctx) {
		struct zc_event ev[64];
		int n;

		zc_ctx_stats(bench.ctx, &r->stats, sizeof(r->stats));
		while ((n = zc_ctx_events(bench.ctx, ev, 64)) > 0)
			for (int i = 0; i < n; i++)
				r->events_fallback += ev[i].type == ZC_EVENT_FALLBACK;
	}
	describe_setup(r);
	return 0;
}
