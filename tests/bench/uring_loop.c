/* SPDX-License-Identifier: MIT */
/*
 * uring_loop: the raw liburing reference that zcbench is held against.
 *
 *   gcc -O2 -o uring_loop uring_loop.c -luring -lm
 *   uring_loop [-w] [-r] [-d] [-p] [-q QD] [-B BATCH] [-b BS] [-s SIZE]
 *              [-T SECONDS] [-n OPS] [-S SEED] [-f FLAGS] FILE
 *
 * One thread, one ring, the buffer registered once as a fixed buffer and
 * the file as a fixed file; READ_FIXED/WRITE_FIXED at queue depth QD.
 * Each completion frees a slot that gets a new operation; every BATCH new
 * operations are submitted together (default 1, as fio and zcbench do);
 * the submission that fills the queue (at QD 1 every one) waits for the
 * next completion in the same io_uring_enter. Offsets: random (-r) or
 * sequential, in whole blocks, with the same generator and seed as
 * zcbench. Latency is taken the way zcbench takes it (one clock read per
 * submitted batch and per reaped batch) so the two are comparable.
 * -f picks the ring setup flags: coop (IORING_SETUP_COOP_TASKRUN, what
 * libzerocopy uses), defer (SINGLE_ISSUER|DEFER_TASKRUN) or none.
 * -n stops after OPS operations instead of after -T seconds.
 * -p replaces the ring by plain pread/pwrite, one at a time, into the QD
 * blocks of the buffer in turn: a synchronous loop with the memory
 * footprint of QD operations in flight (fio's psync engine has one block).
 * Prints one JSON object in the shape of zcbench --json (the fields
 * compare.sh reads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <math.h>
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

#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((48 - HIST_SUB_BITS) * HIST_SUB)

static uint64_t hist[HIST_BUCKETS], h_count, h_sum, h_min = UINT64_MAX, h_max;

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void hist_add(uint64_t v)
{
	unsigned e, i;

	h_count++;
	h_sum += v;
	if (v < h_min)
		h_min = v;
	if (v > h_max)
		h_max = v;
	if (v < 2 * HIST_SUB) {
		i = (unsigned)v;
	} else {
		e = 63u - (unsigned)__builtin_clzll(v);
		i = e > 47 ? HIST_BUCKETS - 1 :
		    (e - HIST_SUB_BITS) * HIST_SUB +
		    (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
	}
	hist[i]++;
}

static double hist_pct(double pct)
{
	uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h_count), seen = 0;

	if (!h_count)
		return 0;
	if (!want)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want) {
			double v;

			if (i < 2 * HIST_SUB) {
				v = i;
			} else {
				unsigned e = i / HIST_SUB + HIST_SUB_BITS;

				v = ldexp((double)(HIST_SUB + i % HIST_SUB),
					  (int)(e - HIST_SUB_BITS)) +
				    ldexp(1.0, (int)(e - HIST_SUB_BITS)) / 2;
			}
			return v > (double)h_max ? (double)h_max :
			       v < (double)h_min ? (double)h_min : v;
		}
	}
	return (double)h_max;
}

/* 4096, 4k, 128K, 1M, 1G (powers of 1024) */
static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

static uint64_t rng;
static inline uint64_t rng_next(void)
{
	uint64_t x = rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* the next offset: random (-r) or sequential, in whole blocks */
static bool wr, rnd;
static size_t bs = 4096;
static uint64_t size, seq;

static uint64_t next_off(void)
{
	uint64_t off;

	if (rnd)
		return (rng_next() % (size / bs)) * bs;
	off = seq;
	seq += bs;
	if (seq + bs > size / bs * bs)
		seq = 0;
	return off;
}

static void prep(struct io_uring *ring, char *buf, unsigned s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	uint64_t off = next_off();

	if (wr)
		io_uring_prep_write_fixed(sqe, 0, buf + (size_t)s * bs, (unsigned)bs,
					  off, 0);
	else
		io_uring_prep_read_fixed(sqe, 0, buf + (size_t)s * bs, (unsigned)bs,
					 off, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, s);
}

static int fail_enter(int ret)
{
	fprintf(stderr, "io_uring_enter: %s\n", strerror(-ret));
	return 1;
}

/* what a run counts; limit: stop after that many operations (0: time) */
static uint64_t ops, bytes, errors, max_ops;
static uint64_t t_start, t_end, deadline, *t_sub;
static unsigned *pending;

static bool run_over(uint64_t t)
{
	return max_ops ? ops >= max_ops : t >= deadline;
}

/* pread/pwrite one block at a time into the qd blocks of buf in turn */
__attribute__((noinline)) static void run_plain(int fd, char *buf, unsigned qd)
{
	uint64_t tnow = t_start = now_ns();

	for (unsigned s = 0; !run_over(tnow); s = (s + 1) % qd) {
		uint64_t t0 = tnow, off = next_off();
		char *b = buf + (size_t)s * bs;
		ssize_t n = wr ? pwrite(fd, b, bs, (off_t)off) : pread(fd, b, bs, (off_t)off);

		tnow = now_ns();
		if (n != (ssize_t)bs)
			errors++;
		hist_add(tnow - t0);
		ops++;
		if (n > 0)
			bytes += (uint64_t)n;
	}
	t_end = tnow;
}

/* stamp the pending operations' submission time and submit them */
static int submit_pending(struct io_uring *ring, unsigned *npend,
			  unsigned *inflight, bool and_wait, uint64_t *tnow)
{
	int ret;

	*tnow = now_ns();
	for (unsigned i = 0; i < *npend; i++)
		t_sub[pending[i]] = *tnow;
	*inflight += *npend;
	*npend = 0;
	do
		ret = and_wait ? io_uring_submit_and_wait(ring, 1) : io_uring_submit(ring);
	while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

/*
 * qd operations in flight; every completion's slot gets a new operation.
 * The completions seen are taken off the ring first, as zc_reap does;
 * every batch of new operations is submitted, and the submission that
 * fills the queue again also waits for the next completion, in the same
 * io_uring_enter, as a hand-written loop would.
 */
__attribute__((noinline)) static int run_ring(struct io_uring *ring, char *buf,
					      unsigned qd, unsigned batch)
{
	unsigned npend = 0, inflight = 0, *done = calloc(qd, sizeof(*done));
	int *res = calloc(qd, sizeof(*res));
	bool stopping = false;
	uint64_t tnow;
	int ret;

	if (!done || !res)
		return 1;
	t_start = now_ns();
	for (unsigned s = 0; s < qd; s++) {
		prep(ring, buf, s);
		pending[npend++] = s;
		if (npend == batch || s + 1 == qd) {
			ret = submit_pending(ring, &npend, &inflight, s + 1 == qd, &tnow);
			if (ret)
				return fail_enter(ret);
		}
	}
	while (inflight) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret < 0 && ret != -EINTR)
			return fail_enter(ret);
		tnow = now_ns();
		io_uring_for_each_cqe(ring, head, cqe) {
			unsigned s = (unsigned)io_uring_cqe_get_data64(cqe);

			if (cqe->res != (int)bs)
				errors++;
			res[n] = cqe->res;
			done[n++] = s;
			if (n == qd)
				break;
		}
		io_uring_cq_advance(ring, n);
		inflight -= n;
		for (unsigned i = 0; i < n; i++) {
			unsigned s = done[i];

			if (stopping)
				continue;
			hist_add(tnow - t_sub[s]);
			ops++;
			if (res[i] > 0)
				bytes += (uint64_t)res[i];
			if (run_over(tnow)) {
				stopping = true;
				t_end = tnow;
				continue;
			}
			prep(ring, buf, s);
			pending[npend++] = s;
			if (npend == batch) {
				ret = submit_pending(ring, &npend, &inflight,
						     inflight + npend == qd, &tnow);
				if (ret)
					return fail_enter(ret);
			}
		}
		/* the rest of a batch, with the wait for the next completion */
		if (npend && (ret = submit_pending(ring, &npend, &inflight, true, &tnow)))
			return fail_enter(ret);
	}
	free(done);
	free(res);
	return 0;
}

int main(int argc, char **argv)
{
	bool direct = false, plain = false;
	unsigned qd = 1, batch = 1, setup_flags = IORING_SETUP_COOP_TASKRUN;
	const char *flags_name = "coop";
	uint64_t seed = 0x5eed;
	double runtime = 5;
	struct io_uring ring;
	struct io_uring_params p;
	struct iovec iov;
	struct rusage ru0, ru1;
	char *buf;
	int c, fd, ret;

	while ((c = getopt(argc, argv, "wrdpq:B:b:s:T:n:S:f:")) != -1) {
		switch (c) {
		case 'w': wr = true; break;
		case 'r': rnd = true; break;
		case 'd': direct = true; break;
		case 'p': plain = true; flags_name = "plain"; break;
		case 'q': qd = (unsigned)atoi(optarg); break;
		case 'B': batch = (unsigned)atoi(optarg); break;
		case 'b': bs = (size_t)parse_size(optarg); break;
		case 's': size = parse_size(optarg); break;
		case 'T': runtime = atof(optarg); break;
		case 'n': max_ops = strtoull(optarg, NULL, 0); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'f':
			flags_name = optarg;
			if (!strcmp(optarg, "coop"))
				setup_flags = IORING_SETUP_COOP_TASKRUN;
			else if (!strcmp(optarg, "defer"))
				setup_flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN;
			else if (!strcmp(optarg, "none"))
				setup_flags = 0;
			else
				return 2;
			break;
		default:
			fprintf(stderr, "usage: uring_loop [-w] [-r] [-d] [-p] [-q QD] [-B BATCH] "
				"[-b BS] [-s SIZE] [-T SECONDS] [-n OPS] [-S SEED] "
				"[-f coop|defer|none] FILE\n");
			return 2;
		}
	}
	if (optind + 1 != argc || !qd || qd > 4096 || !bs || !batch)
		return 2;
	if (batch > qd)
		batch = qd;
	fd = open(argv[optind], (wr ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	if (!size) {
		struct stat st;

		fstat(fd, &st);
		size = (uint64_t)st.st_size;
	}
	if (size < bs)
		return 1;
	buf = mmap(NULL, (size_t)qd * bs, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < (size_t)qd * bs; i++)
		buf[i] = (char)(i * 31 + 1);
	t_sub = calloc(qd, sizeof(*t_sub));
	pending = calloc(qd, sizeof(*pending));
	rng = (seed + 1) * 0x9E3779B97F4A7C15ull;
	if (!rng)
		rng = 1;
	if (plain) {
		getrusage(RUSAGE_SELF, &ru0);
		deadline = now_ns() + (uint64_t)(runtime * 1e9);
		run_plain(fd, buf, qd);
		goto report;
	}
	memset(&p, 0, sizeof(p));
	p.flags = setup_flags;
	ret = io_uring_queue_init_params(qd, &ring, &p);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	iov = (struct iovec){ buf, (size_t)qd * bs };
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (!ret)
		ret = io_uring_register_files(&ring, &fd, 1);
	if (ret) {
		fprintf(stderr, "io_uring_register: %s\n", strerror(-ret));
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru0);
	deadline = now_ns() + (uint64_t)(runtime * 1e9);
	if (run_ring(&ring, buf, qd, batch))
		return 1;
report:
	getrusage(RUSAGE_SELF, &ru1);
	{
		double el = (double)(t_end - t_start) / 1e9;
		double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
			     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
			     (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			     (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
		double gib = (double)bytes / (double)(1u << 30);

		printf("{\"tool\":\"uring_loop\",\"flags\":\"%s\",\"batch\":%u,\"file\":\"%s\","
		       "\"size\":%" PRIu64 ",\"bs\":%zu,\"rw\":\"%s%s\",\"qd\":%u,"
		       "\"direct\":%d,\"runtime_s\":%.6f,\"ops\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"bw_bytes\":%.0f,\"iops\":%.1f,"
		       "\"lat_ns\":{\"mean\":%.1f,\"p50\":%.0f,\"p99\":%.0f,"
		       "\"p99_9\":%.0f,\"max\":%" PRIu64 "},\"cpu\":{\"s_per_gib\":%.6f},"
		       "\"errors\":%" PRIu64 "}\n",
		       flags_name, batch, argv[optind], size, bs, rnd ? "rand" : "",
		       wr ? "write" : "read", qd, direct, el, ops, bytes,
		       (double)bytes / el, (double)ops / el,
		       h_count ? (double)h_sum / (double)h_count : 0, hist_pct(50),
		       hist_pct(99), hist_pct(99.9), h_max, gib > 0 ? cpu / gib : 0,
		       errors);
	}
	if (!plain)
		io_uring_queue_exit(&ring);
	return errors ? 1 : 0;
}
