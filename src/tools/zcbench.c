/* SPDX-License-Identifier: MIT */
/*
 * zcbench: measure libzerocopy the way fio measures a device.
 *
 *   zcbench [options] FILE
 *
 * One registration of a preallocated buffer (registered once, before the
 * clock starts), one zc_queue per thread for --mode async, zc_read or
 * zc_write for --mode sync. Offsets come from a per-thread generator with
 * a fixed seed, so two runs issue the same I/O. Latency goes into a
 * log-linear histogram per thread (no allocation per operation), CPU time
 * comes from getrusage, the backend from zc_reg_backend and the path of
 * every asynchronous operation from its completion flags.
 *
 * --memcpy replaces the I/O by memcpy from a MAP_SHARED mapping of the
 * same file into the same buffer: the ceiling a page-cache read can reach.
 *
 * Exit status: 0 on success, 1 on an error (setup, registration, or an
 * operation that failed or moved fewer bytes than asked), 2 on a usage
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

#define MAX_THREADS 256
#define MAX_QD 4096
#define MAX_RSS_SAMPLES 4096

/* ------------------------------------------------------------------ */
/* options                                                              */

enum rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE };
static const char *const rw_names[] = { "read", "write", "randread", "randwrite" };

struct opts {
	const char *file;
	uint64_t size;       /* bytes of the file used; 0: the file's size */
	size_t bs;
	enum rw rw;
	bool async;
	unsigned qd;
	unsigned batch;      /* async: submit every batch prepared operations */
	bool direct;
	unsigned threads;
	uint64_t backends;   /* 0: automatic choice */
	char backend_arg[64];
	double runtime;      /* seconds, when ops == 0 */
	double ramp;
	uint64_t ops;        /* ops per thread; 0: time based */
	uint64_t seed;
	size_t bounce_bytes; /* 0: library default */
	size_t misalign;     /* bytes added to every buffer offset */
	bool json;
	bool memcpy_probe;
	double rss_interval; /* 0: sample at start and end only */
	bool no_create;
	bool no_uring;       /* ZC_CTX_NO_URING */
	const char *label;
};

static struct opts o = {
	.bs = 4096, .rw = RW_RANDREAD, .qd = 32, .batch = 1, .threads = 1, .runtime = 5,
	.seed = 0x5eed, .label = "",
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: zcbench [options] FILE\n"
"  -s, --size SIZE        bytes of FILE to use (default: its size); a\n"
"                         missing or shorter file is created or extended\n"
"  -b, --bs SIZE          block size (default 4k)\n"
"  -r, --rw MODE          read, write, randread, randwrite (default randread)\n"
"  -m, --mode MODE        sync (zc_read/zc_write) or async (zc_queue)\n"
"  -q, --qd N             async queue depth per thread (default 32)\n"
"      --batch N          async: submit once per N prepared operations\n"
"                         (default 1, as fio's iodepth_batch_submit)\n"
"  -d, --direct           open FILE with O_DIRECT\n"
"  -t, --threads N        threads, each with its own part of the buffer\n"
"  -B, --backend LIST     allowed backends for the registration, e.g.\n"
"                         uring_fixed or bounce (default auto)\n"
"  -T, --runtime SECONDS  measured time (default 5)\n"
"      --ramp SECONDS     unmeasured warm-up before it (default 0)\n"
"  -n, --ops N            stop after N operations per thread instead\n"
"      --seed N           offset generator seed (default 0x5eed)\n"
"      --bounce-bytes SIZE  zc_ctx_params.bounce_bytes\n"
"      --misalign N       add N bytes to every buffer offset\n"
"      --memcpy           memcpy from a mapping of FILE instead of I/O\n"
"      --rss-interval S   sample the resident set every S seconds\n"
"      --no-create        fail instead of creating or extending FILE\n"
"      --no-uring         create the context with ZC_CTX_NO_URING\n"
"      --label TEXT       copied into the JSON report\n"
"  -j, --json             print one JSON object instead of the table\n"
"  -h, --help\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (mul > 1 && (*end == 'b' || *end == 'B'))
		end++;
	else if (mul == 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return -1;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (*end && strcmp(end, "s"))
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int parse_backends(const char *s, uint64_t *out)
{
	char buf[128], *tok, *save;

	if (strlen(s) >= sizeof(buf))
		return -1;
	if (!strcmp(s, "auto") || !strcmp(s, "all")) {
		*out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned b;

		for (b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
			if (!strcmp(tok, zc_backend_name((enum zc_backend)b)))
				break;
		if (b > ZC_BACKEND_MAX)
			return -1;
		*out |= ZC_BACKEND_BIT(b);
	}
	return *out ? 0 : -1;
}

static int parse_args(int argc, char **argv)
{
	enum { O_RAMP = 256, O_SEED, O_BOUNCE, O_MISALIGN, O_MEMCPY, O_RSS,
	       O_NOCREATE, O_LABEL, O_NOURING, O_BATCH };
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "bs", required_argument, NULL, 'b' },
		{ "rw", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "qd", required_argument, NULL, 'q' },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "direct", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'B' },
		{ "runtime", required_argument, NULL, 'T' },
		{ "ops", required_argument, NULL, 'n' },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "bounce-bytes", required_argument, NULL, O_BOUNCE },
		{ "misalign", required_argument, NULL, O_MISALIGN },
		{ "memcpy", no_argument, NULL, O_MEMCPY },
		{ "rss-interval", required_argument, NULL, O_RSS },
		{ "no-create", no_argument, NULL, O_NOCREATE },
		{ "no-uring", no_argument, NULL, O_NOURING },
		{ "label", required_argument, NULL, O_LABEL },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, bad = 0;

	snprintf(o.backend_arg, sizeof(o.backend_arg), "auto");
	while ((c = getopt_long(argc, argv, "s:b:r:m:q:dt:B:T:n:jh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			bad |= parse_size(optarg, &o.size);
			break;
		case 'b':
			bad |= parse_size(optarg, &v) || !v || v > (1ull << 30);
			o.bs = (size_t)v;
			break;
		case 'r': {
			unsigned i;

			for (i = 0; i < 4 && strcmp(optarg, rw_names[i]); i++)
				;
			bad |= i == 4;
			o.rw = (enum rw)(i & 3);
			break;
		}
		case 'm':
			bad |= strcmp(optarg, "sync") && strcmp(optarg, "async");
			o.async = !strcmp(optarg, "async");
			break;
		case 'q':
			bad |= parse_uint(optarg, &v) || !v || v > MAX_QD;
			o.qd = (unsigned)v;
			break;
		case O_BATCH:
			bad |= parse_uint(optarg, &v) || !v || v > MAX_QD;
			o.batch = (unsigned)v;
			break;
		case 'd':
			o.direct = true;
			break;
		case 't':
			bad |= parse_uint(optarg, &v) || !v || v > MAX_THREADS;
			o.threads = (unsigned)v;
			break;
		case 'B':
			bad |= parse_backends(optarg, &o.backends);
			snprintf(o.backend_arg, sizeof(o.backend_arg), "%s", optarg);
			break;
		case 'T':
			bad |= parse_seconds(optarg, &o.runtime);
			break;
		case 'n':
			bad |= parse_uint(optarg, &o.ops);
			break;
		case O_RAMP:
			bad |= parse_seconds(optarg, &o.ramp);
			break;
		case O_SEED:
			bad |= parse_uint(optarg, &o.seed);
			break;
		case O_BOUNCE:
			bad |= parse_size(optarg, &v);
			o.bounce_bytes = (size_t)v;
			break;
		case O_MISALIGN:
			bad |= parse_uint(optarg, &v) || v > 65536;
			o.misalign = (size_t)v;
			break;
		case O_MEMCPY:
			o.memcpy_probe = true;
			break;
		case O_RSS:
			bad |= parse_seconds(optarg, &o.rss_interval);
			break;
		case O_NOCREATE:
			o.no_create = true;
			break;
		case O_LABEL:
			o.label = optarg;
			break;
		case O_NOURING:
			o.no_uring = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "zcbench: bad value for option -%c: %s\n",
				c < 256 ? c : '-', optarg ? optarg : "");
			return -1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return -1;
	}
	o.file = argv[optind];
	if (!o.async)
		o.qd = 1;
	if (o.batch > o.qd)
		o.batch = o.qd;
	if (!o.ops && o.runtime <= 0) {
		fprintf(stderr, "zcbench: --runtime must be above 0\n");
		return -1;
	}
	return 0;
}

static bool is_write(void)
{
	return o.rw == RW_WRITE || o.rw == RW_RANDWRITE;
}

static bool is_random(void)
{
	return o.rw == RW_RANDREAD || o.rw == RW_RANDWRITE;
}

/* ------------------------------------------------------------------ */
/* time, histogram                                                      */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Log-linear buckets: values below 64 exactly, then 32 buckets per power
 * of two (at most 1/32 = 3.1% relative error), up to 2^47 ns. */
#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((48 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count, sum, min, max;
	uint64_t b[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS + 1 */
	if (e > 47)
		return HIST_BUCKETS - 1;
	return (e - HIST_SUB_BITS) * HIST_SUB +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* the middle of bucket i */
static double hist_value(unsigned i)
{
	unsigned e, sub;
	double lo, width;

	if (i < 2 * HIST_SUB)
		return i;
	e = i / HIST_SUB + HIST_SUB_BITS;
	sub = i % HIST_SUB;
	lo = ldexp((double)(HIST_SUB + sub), (int)(e - HIST_SUB_BITS));
	width = ldexp(1.0, (int)(e - HIST_SUB_BITS));
	return lo + width / 2;
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->b[hist_index(v)]++;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

static double hist_pct(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = hist_value(i);

			/* never report beyond what was seen */
			if (v > (double)h->max)
				v = (double)h->max;
			if (v < (double)h->min)
				v = (double)h->min;
			return v;
		}
	}
	return (double)h->max;
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
} g = { .fd = -1 };

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
		return (rng_next(&t->rng) % (g.size / o.bs)) * o.bs;
	off = t->region_off + t->seq_next;
	t->seq_next += o.bs;
	if (t->seq_next + o.bs > t->region_len)
		t->seq_next = 0;
	return off;
}

/* Has the measured part begun / ended? Time based unless --ops. */
static inline bool measuring(uint64_t t)
{
	return t >= g.t_ramp_end;
}

static inline bool finished(const struct thread *t, uint64_t now)
{
	if (o.ops)
		return t->ops >= o.ops;
	return now >= g.t_end;
}

static inline void note_result(struct thread *t, int64_t res)
{
	if (res == (int64_t)o.bs)
		return;
	t->errors++;
	if (!t->first_error)
		t->first_error = res < 0 ? (int)res : -EIO;
}

static void run_sync(struct thread *t)
{
	const size_t boff = t->buf_off;
	uint64_t t1 = now_ns();

	if (!o.ops) /* warm-up, not measured */
		while (t1 < g.t_ramp_end) {
			uint64_t off = next_off(t);
			ssize_t n = is_write() ? zc_write(g.reg, boff, off, o.bs) :
						 zc_read(g.reg, boff, off, o.bs);

			note_result(t, n);
			t1 = now_ns();
		}
	t->t_start = t1;
	while (!finished(t, t1)) {
		uint64_t off = next_off(t), t0 = t1;
		ssize_t n = is_write() ? zc_write(g.reg, boff, off, o.bs) :
					 zc_read(g.reg, boff, off, o.bs);

		t1 = now_ns();
		note_result(t, n);
		hist_add(&t->h, t1 - t0);
		t->ops++;
		if (n > 0)
			t->bytes += (uint64_t)n;
	}
	t->t_end = t1;
	t->path_sync = t->ops;
	t->backend_ops[zc_reg_backend(g.reg)] = t->ops;
}

static int prep_one(struct thread *t, unsigned slot)
{
	size_t boff = t->buf_off + (size_t)slot * (o.bs + o.misalign);
	uint64_t off = next_off(t);

	return is_write() ? zc_prep_write(t->q, g.reg, boff, off, o.bs, slot) :
			    zc_prep_read(t->q, g.reg, boff, off, o.bs, slot);
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
 * prepare a new operation in each freed slot and submit every o.batch of
 * them (1: each as soon as its slot is free, as fio does by default).
 */
static void run_async(struct thread *t)
{
	struct zc_completion comp[MAX_QD];
	unsigned inflight = 0, nprep = 0;
	unsigned *prepped = malloc(o.qd * sizeof(*prepped));
	bool measure = o.ops != 0, stopping = false;
	uint64_t tnow;
	int ret, got;

	if (!prepped) {
		t->first_error = -ENOMEM;
		return;
	}
	tnow = now_ns();
	if (measure)
		t->t_start = tnow;
	for (unsigned s = 0; s < o.qd; s++) {
		ret = prep_one(t, s);
		if (!ret) {
			prepped[nprep++] = s;
			if (nprep >= o.batch)
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
		ret = zc_reap(t->q, comp, o.qd, 1, -1);
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
				if (nprep >= o.batch)
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
	char *file = g.map + next_off(t);

	if (is_write())
		memcpy(file, mine, o.bs);
	else
		memcpy(mine, file, o.bs);
	/* keep the compiler from dropping a copy nobody reads */
	__asm__ volatile("" : : "r"(mine), "r"(file) : "memory");
}

static void run_memcpy(struct thread *t)
{
	char *mine = g.buf + t->buf_off;
	uint64_t t1 = now_ns();

	while (!o.ops && t1 < g.t_ramp_end) {
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
		t->bytes += o.bs;
	}
	t->t_end = t1;
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;

	pthread_barrier_wait(&g.start);
	if (o.memcpy_probe)
		run_memcpy(t);
	else if (o.async)
		run_async(t);
	else
		run_sync(t);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* setup                                                                */

static int prepare_file(void)
{
	int flags = (is_write() || !o.no_create ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	struct stat st;
	int fd;

	fd = open(o.file, flags | (o.no_create ? 0 : O_CREAT), 0644);
	if (fd < 0 && errno == EACCES && !is_write())
		fd = open(o.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "zcbench: %s: %s\n", o.file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "zcbench: fstat %s: %s\n", o.file, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode) && o.size > (uint64_t)st.st_size) {
		/* lay the file out with real data: no holes, no unwritten extents */
		size_t chunk = 1u << 20;
		char *p = malloc(chunk);
		uint64_t off = (uint64_t)st.st_size & ~(uint64_t)(chunk - 1);

		if (o.no_create) {
			fprintf(stderr, "zcbench: %s has %lld bytes, fewer than --size "
				"%" PRIu64 " (and --no-create)\n", o.file,
				(long long)st.st_size, o.size);
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
		for (; off < o.size; off += chunk) {
			size_t n = (size_t)(o.size - off < chunk ? o.size - off : chunk);

			if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n) {
				fprintf(stderr, "zcbench: laying out %s: %s\n", o.file,
					strerror(errno));
				free(p);
				close(fd);
				return -1;
			}
		}
		free(p);
		fsync(fd);
		st.st_size = (off_t)o.size;
	}
	if (!o.size)
		o.size = (uint64_t)st.st_size;
	if (o.direct) {
		close(fd);
		fd = open(o.file, (flags & O_ACCMODE) | O_CLOEXEC | O_DIRECT);
		if (fd < 0) {
			fprintf(stderr, "zcbench: %s with O_DIRECT: %s\n", o.file,
				strerror(errno));
			return -1;
		}
	}
	g.fd = fd;
	return 0;
}

static int setup(void)
{
	struct zc_ctx_params cp = { 0 };
	struct zc_reg_params rp = { 0 };
	size_t per_thread;
	int ret;

	if (prepare_file())
		return -1;
	if (o.bounce_bytes) {
		cp.field_mask |= ZC_CTX_FIELD_BOUNCE_BYTES;
		cp.bounce_bytes = o.bounce_bytes;
	}
	if (o.no_uring) {
		cp.field_mask |= ZC_CTX_FIELD_FLAGS;
		cp.flags = ZC_CTX_NO_URING;
	}
	ret = zc_ctx_create(cp.field_mask ? &cp : NULL, &g.ctx);
	if (ret) {
		fprintf(stderr, "zcbench: zc_ctx_create: %s\n", zc_strerror(ret));
		return -1;
	}
	ret = zc_file_open(g.ctx, g.fd, 0, &g.zf);
	if (ret) {
		fprintf(stderr, "zcbench: zc_file_open: %s\n", zc_strerror(ret));
		return -1;
	}
	g.fi.size = 0;
	ret = zc_file_query(g.zf, &g.fi, sizeof(g.fi));
	if (ret) {
		fprintf(stderr, "zcbench: zc_file_query: %s\n", zc_strerror(ret));
		return -1;
	}
	if (!o.size)
		o.size = g.fi.file_size;
	g.size = o.size;
	if (g.size < o.bs * (is_random() ? 1 : o.threads)) {
		fprintf(stderr, "zcbench: %s: %" PRIu64 " bytes are too few for "
			"bs %zu and %u threads\n", o.file, g.size, o.bs, o.threads);
		return -1;
	}

	/* one buffer, registered once; each thread owns qd blocks of it */
	per_thread = (size_t)o.qd * (o.bs + o.misalign);
	per_thread = (per_thread + 4095) & ~(size_t)4095;
	g.buf_len = per_thread * o.threads;
	g.buf = mmap(NULL, g.buf_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.buf == MAP_FAILED) {
		fprintf(stderr, "zcbench: mmap %zu bytes: %s\n", g.buf_len,
			strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < g.buf_len; i++)
		g.buf[i] = (char)(i * 31 + 1);

	if (o.memcpy_probe) {
		void *m = mmap(NULL, g.size, PROT_READ | (is_write() ? PROT_WRITE : 0),
			       MAP_SHARED | MAP_POPULATE, g.fd, 0);

		if (m == MAP_FAILED) {
			fprintf(stderr, "zcbench: --memcpy: mmap %s: %s\n", o.file,
				strerror(errno));
			return -1;
		}
		g.map = m;
	} else {
		rp.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
				ZC_REG_FIELD_ACCESS;
		rp.addr = g.buf;
		rp.length = g.buf_len;
		rp.access = is_write() ? ZC_ACCESS_WRITE : ZC_ACCESS_READ;
		if (o.backends) {
			rp.field_mask |= ZC_REG_FIELD_BACKENDS;
			rp.backends = o.backends;
		}
		ret = zc_reg_create(g.zf, &rp, &g.reg);
		if (ret) {
			fprintf(stderr, "zcbench: zc_reg_create (backends %s): %s\n",
				o.backend_arg, zc_strerror(ret));
			return -1;
		}
	}

	g.th = calloc(o.threads, sizeof(*g.th));
	if (!g.th)
		return -1;
	for (unsigned i = 0; i < o.threads; i++) {
		struct thread *t = &g.th[i];
		uint64_t blocks = g.size / o.bs;

		t->idx = i;
		t->buf_off = per_thread * i + o.misalign;
		t->rng = (o.seed + 1) * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
		if (!t->rng)
			t->rng = 1;
		t->region_off = blocks / o.threads * i * o.bs;
		t->region_len = blocks / o.threads * o.bs;
		t->h.min = UINT64_MAX;
		if (o.async && !o.memcpy_probe) {
			t->t_sub = calloc(o.qd, sizeof(*t->t_sub));
			if (!t->t_sub)
				return -1;
			ret = zc_queue_create(g.ctx, o.qd, 0, &t->q);
			if (ret) {
				fprintf(stderr, "zcbench: zc_queue_create: %s\n",
					zc_strerror(ret));
				return -1;
			}
		}
	}
	return 0;
}

static void teardown(void)
{
	if (g.th)
		for (unsigned i = 0; i < o.threads; i++) {
			zc_queue_destroy(g.th[i].q);
			free(g.th[i].t_sub);
		}
	free(g.th);
	if (g.reg)
		zc_reg_destroy(g.reg);
	if (g.zf)
		zc_file_close(g.zf);
	zc_ctx_destroy(g.ctx);
	if (g.map)
		munmap(g.map, g.size);
	if (g.buf && g.buf != MAP_FAILED)
		munmap(g.buf, g.buf_len);
	if (g.fd >= 0)
		close(g.fd);
}

/* ------------------------------------------------------------------ */
/* resident set                                                         */

struct rss {
	long rss_kib, anon_kib;
};

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

static struct rss rss_samples[MAX_RSS_SAMPLES];
static double rss_times[MAX_RSS_SAMPLES];
static unsigned nr_rss;

static void rss_sample(uint64_t t)
{
	if (nr_rss == MAX_RSS_SAMPLES)
		return;
	rss_times[nr_rss] = (double)(t - g.t0) / 1e9;
	rss_samples[nr_rss++] = rss_now();
}

static long rss_max(bool anon)
{
	long m = -1;

	for (unsigned i = 0; i < nr_rss; i++) {
		long v = anon ? rss_samples[i].anon_kib : rss_samples[i].rss_kib;

		if (v > m)
			m = v;
	}
	return m;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
			       .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* report                                                               */

struct result {
	struct hist h;
	uint64_t ops, bytes, errors;
	uint64_t path_ring, path_inline, path_fallback, path_sync;
	uint64_t backend_ops[ZC_BACKEND_MAX + 1];
	double elapsed, user_s, sys_s;
	int first_error;
	struct zc_stats stats;
	uint64_t fallbacks, events_fallback;
};

static double timeval_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void human_bytes(double v, char *out, size_t len, const char *suffix)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.*f %s%s", i ? 1 : 0, v, u[i], suffix);
}

static void human_ns(double ns, char *out, size_t len)
{
	if (ns < 1000)
		snprintf(out, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(out, len, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, len, "%.2f ms", ns / 1e6);
	else
		snprintf(out, len, "%.2f s", ns / 1e9);
}

static const char *path_name(const struct result *r)
{
	if (o.memcpy_probe)
		return "memcpy";
	if (!o.async)
		return "sync";
	if (r->path_inline && r->path_ring)
		return "mixed";
	return r->path_inline ? "inline" : "ring";
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct result *r)
{
	const double gib = (double)r->bytes / (double)(1u << 30);
	struct zc_attempt at[8];
	int na = g.reg ? zc_reg_attempts(g.reg, at, 8) : 0;

	printf("{\"tool\":\"zcbench\",\"version\":\"%u.%u.%u\",\"label\":",
	       zc_version() >> 16, zc_version() >> 8 & 0xff, zc_version() & 0xff);
	json_str(o.label);
	printf(",\"file\":");
	json_str(o.file);
	printf(",\"no_uring\":%d,\"fs\":", o.no_uring);
	json_str(g.fi.fs_name);
	printf(",\"size\":%" PRIu64 ",\"bs\":%zu,\"rw\":\"%s\",\"mode\":\"%s\","
	       "\"qd\":%u,\"batch\":%u,\"direct\":%d,\"threads\":%u,\"misalign\":%zu,"
	       "\"seed\":%" PRIu64 ",",
	       g.size, o.bs, rw_names[o.rw],
	       o.memcpy_probe ? "memcpy" : o.async ? "async" : "sync", o.qd,
	       o.batch, o.direct, o.threads, o.misalign, o.seed);
	printf("\"backend_requested\":");
	json_str(o.backend_arg);
	printf(",\"backend\":\"%s\",\"attempts\":[",
	       g.reg ? zc_backend_name(zc_reg_backend(g.reg)) : "none");
	for (int i = 0; i < na && i < 8; i++) {
		printf("%s{\"backend\":\"%s\",\"error\":%d,\"reason\":", i ? "," : "",
		       zc_backend_name(at[i].backend), at[i].error);
		json_str(at[i].reason);
		putchar('}');
	}
	printf("],\"runtime_s\":%.6f,\"ops\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"bw_bytes\":%.0f,\"bw_mib_s\":%.2f,\"iops\":%.1f,",
	       r->elapsed, r->ops, r->bytes,
	       r->elapsed > 0 ? (double)r->bytes / r->elapsed : 0,
	       r->elapsed > 0 ? (double)r->bytes / r->elapsed / 1048576.0 : 0,
	       r->elapsed > 0 ? (double)r->ops / r->elapsed : 0);
	printf("\"lat_ns\":{\"min\":%" PRIu64 ",\"mean\":%.1f,\"p50\":%.0f,"
	       "\"p90\":%.0f,\"p99\":%.0f,\"p99_9\":%.0f,\"max\":%" PRIu64 "},",
	       r->h.count ? r->h.min : 0,
	       r->h.count ? (double)r->h.sum / (double)r->h.count : 0,
	       hist_pct(&r->h, 50), hist_pct(&r->h, 90), hist_pct(&r->h, 99),
	       hist_pct(&r->h, 99.9), r->h.max);
	printf("\"cpu\":{\"user_s\":%.6f,\"sys_s\":%.6f,\"s_per_gib\":%.6f},",
	       r->user_s, r->sys_s, gib > 0 ? (r->user_s + r->sys_s) / gib : 0);
	printf("\"path\":\"%s\",\"paths\":{\"sync\":%" PRIu64 ",\"ring\":%" PRIu64
	       ",\"inline\":%" PRIu64 ",\"fallback\":%" PRIu64 "},",
	       path_name(r), r->path_sync, r->path_ring, r->path_inline,
	       r->path_fallback);
	printf("\"backend_ops\":{");
	for (unsigned b = ZC_BACKEND_P2P_BAR, first = 1; b <= ZC_BACKEND_MAX; b++) {
		if (!r->backend_ops[b])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",",
		       zc_backend_name((enum zc_backend)b), r->backend_ops[b]);
		first = 0;
	}
	printf("},\"stats\":{\"fallbacks\":%" PRIu64 ",\"fallback_events\":%" PRIu64,
	       r->stats.fallbacks, r->events_fallback);
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (r->stats.backend[b].ops)
			printf(",\"%s_ops\":%" PRIu64 ",\"%s_bytes\":%" PRIu64,
			       zc_backend_name((enum zc_backend)b), r->stats.backend[b].ops,
			       zc_backend_name((enum zc_backend)b), r->stats.backend[b].bytes);
	printf("},\"rss\":{\"start_kib\":%ld,\"end_kib\":%ld,\"max_kib\":%ld,"
	       "\"anon_start_kib\":%ld,\"anon_end_kib\":%ld,\"anon_max_kib\":%ld,"
	       "\"samples\":[",
	       rss_samples[0].rss_kib, rss_samples[nr_rss - 1].rss_kib,
	       rss_max(false), rss_samples[0].anon_kib,
	       rss_samples[nr_rss - 1].anon_kib, rss_max(true));
	for (unsigned i = 0; i < nr_rss; i++)
		printf("%s[%.2f,%ld,%ld]", i ? "," : "", rss_times[i],
		       rss_samples[i].rss_kib, rss_samples[i].anon_kib);
	printf("]},\"errors\":%" PRIu64 ",\"first_error\":", r->errors);
	json_str(r->first_error ? zc_strerror(r->first_error) : "");
	printf("}\n");
}

static void print_table(const struct result *r)
{
	char bw[32], sz[32], bsz[32], p50[16], p99[16], p999[16], mean[16], mx[16];
	char mode[32];
	const double gib = (double)r->bytes / (double)(1u << 30);
	struct zc_attempt at[8];
	int na = g.reg ? zc_reg_attempts(g.reg, at, 8) : 0;

	human_bytes((double)g.size, sz, sizeof(sz), "");
	human_bytes((double)o.bs, bsz, sizeof(bsz), "");
	human_bytes(r->elapsed > 0 ? (double)r->bytes / r->elapsed : 0, bw,
		    sizeof(bw), "/s");
	human_ns(hist_pct(&r->h, 50), p50, sizeof(p50));
	human_ns(hist_pct(&r->h, 99), p99, sizeof(p99));
	human_ns(hist_pct(&r->h, 99.9), p999, sizeof(p999));
	human_ns(r->h.count ? (double)r->h.sum / (double)r->h.count : 0, mean,
		 sizeof(mean));
	human_ns((double)r->h.max, mx, sizeof(mx));

	if (o.memcpy_probe)
		snprintf(mode, sizeof(mode), "memcpy probe");
	else if (o.async)
		snprintf(mode, sizeof(mode), "async qd %u", o.qd);
	else
		snprintf(mode, sizeof(mode), "sync");
	printf("zcbench %s (%s), %s used, %s bs=%s, %s, %s, %u thread%s, %.2f s\n",
	       o.file, g.fi.fs_name, sz, rw_names[o.rw], bsz, mode,
	       o.direct ? "O_DIRECT" : "buffered", o.threads,
	       o.threads == 1 ? "" : "s", r->elapsed);
	if (g.reg) {
		printf("backend   %s (requested %s)\n",
		       zc_backend_name(zc_reg_backend(g.reg)), o.backend_arg);
		for (int i = 0; i < na && i < 8; i++)
			printf("  %-12s %s%s%s\n", zc_backend_name(at[i].backend),
			       at[i].reason, at[i].error ? ": " : "",
			       at[i].error ? zc_strerror(at[i].error) : "");
		printf("path      %s: sync %" PRIu64 ", ring %" PRIu64 ", inline %"
		       PRIu64 ", fallback %" PRIu64 " (library fallbacks %" PRIu64 ")\n",
		       path_name(r), r->path_sync, r->path_ring, r->path_inline,
		       r->path_fallback, r->stats.fallbacks);
	}
	printf("\n%-10s %14s %12s %10s %10s %10s %10s %10s %10s\n", "",
	       "throughput", "IOPS", "lat mean", "p50", "p99", "p99.9", "max",
	       "CPU s/GiB");
	printf("%-10s %14s %12.0f %10s %10s %10s %10s %10s %10.4f\n",
	       o.memcpy_probe ? "memcpy" : is_write() ? "write" : "read", bw,
	       r->elapsed > 0 ? (double)r->ops / r->elapsed : 0, mean, p50, p99,
	       p999, mx, gib > 0 ? (r->user_s + r->sys_s) / gib : 0);
	printf("\nops %" PRIu64 ", errors %" PRIu64 "%s%s, CPU user %.3f s sys %.3f s, "
	       "RSS %ld -> %ld KiB (anon %ld -> %ld KiB)\n", r->ops, r->errors,
	       r->first_error ? " first: " : "",
	       r->first_error ? zc_strerror(r->first_error) : "", r->user_s,
	       r->sys_s, rss_samples[0].rss_kib, rss_samples[nr_rss - 1].rss_kib,
	       rss_samples[0].anon_kib, rss_samples[nr_rss - 1].anon_kib);
}

int main(int argc, char **argv)
{
	struct rusage ru0, ru1;
	struct result r;
	uint64_t t_first = UINT64_MAX, t_last = 0;
	int ret = 1;

	if (parse_args(argc, argv))
		return 2;
	if (setup())
		goto out;
	memset(&r, 0, sizeof(r));
	r.h.min = UINT64_MAX;
	if (pthread_barrier_init(&g.start, NULL, o.threads + 1))
		goto out;
	for (unsigned i = 0; i < o.threads; i++)
		if (pthread_create(&g.th[i].tid, NULL, thread_main, &g.th[i])) {
			fprintf(stderr, "zcbench: pthread_create failed\n");
			exit(1); /* the barrier would wait for ever */
		}
	/* the first sample: everything set up, threads waiting, no I/O yet */
	g.t0 = now_ns();
	rss_sample(g.t0);
	g.t0 = now_ns();
	g.t_ramp_end = g.t0 + (uint64_t)(o.ramp * 1e9);
	g.t_end = g.t_ramp_end + (uint64_t)(o.runtime * 1e9);
	pthread_barrier_wait(&g.start);
	if (o.ramp > 0 && !o.ops) {
		sleep_until(g.t_ramp_end);
		rss_sample(now_ns());
	}
	getrusage(RUSAGE_SELF, &ru0);
	if (!o.ops && o.rss_interval > 0) {
		for (uint64_t t = g.t_ramp_end + (uint64_t)(o.rss_interval * 1e9);
		     t < g.t_end; t += (uint64_t)(o.rss_interval * 1e9)) {
			sleep_until(t);
			rss_sample(t);
		}
	}
	for (unsigned i = 0; i < o.threads; i++)
		pthread_join(g.th[i].tid, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	rss_sample(now_ns());

	for (unsigned i = 0; i < o.threads; i++) {
		struct thread *t = &g.th[i];

		hist_merge(&r.h, &t->h);
		r.ops += t->ops;
		r.bytes += t->bytes;
		r.errors += t->errors;
		r.path_ring += t->path_ring;
		r.path_inline += t->path_inline;
		r.path_fallback += t->path_fallback;
		r.path_sync += t->path_sync;
		for (unsigned b = 0; b <= ZC_BACKEND_MAX; b++)
			r.backend_ops[b] += t->backend_ops[b];
		if (t->first_error && !r.first_error)
			r.first_error = t->first_error;
		if (t->t_start && t->t_start < t_first)
			t_first = t->t_start;
		if (t->t_end > t_last)
			t_last = t->t_end;
	}
	r.elapsed = t_last > t_first ? (double)(t_last - t_first) / 1e9 : 0;
	r.user_s = timeval_s(ru1.ru_utime) - timeval_s(ru0.ru_utime);
	r.sys_s = timeval_s(ru1.ru_stime) - timeval_s(ru0.ru_stime);
	if (g.ctx) {
		struct zc_event ev[64];
		int n;

		zc_ctx_stats(g.ctx, &r.stats, sizeof(r.stats));
		while ((n = zc_ctx_events(g.ctx, ev, 64)) > 0)
			for (int i = 0; i < n; i++)
				r.events_fallback += ev[i].type == ZC_EVENT_FALLBACK;
	}
	if (o.json)
		print_json(&r);
	else
		print_table(&r);
	fflush(stdout);
	ret = r.errors || r.first_error ? 1 : 0;
out:
	teardown();
	return ret;
}
