/* SPDX-License-Identifier: MIT */
/*
 * zcbench's parts and what they hand each other: the options
 * (zcbench_opts.c) drive the run (zcbench_run.c), which fills a result
 * that the report (zcbench_report.c) prints; the latency histogram is
 * zcbench_hist.c. Private to zcbench.
 */
#ifndef ZC_TOOLS_ZCBENCH_H
#define ZC_TOOLS_ZCBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zerocopy.h"

#define MAX_THREADS 256
#define MAX_QD 4096
#define MAX_RSS_SAMPLES 4096
#define MAX_ATTEMPTS 8

/* ------------------------------------------------------------------ */
/* options                                                              */

enum rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE };
extern const char *const rw_names[4];

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
	bool remote;         /* ZC_ACCESS_REMOTE_* on the registration */
	bool p2p;            /* the buffer is PCIe peer memory (zc_p2p_alloc) */
	const char *p2p_bdf; /* --p2p=BDF: that publisher; NULL: the nearest */
	const char *label;
};

/* set once by opts_parse(), read by every part (and every thread) */
extern struct opts opt;

/* Fill opt from the command line: 0, or -1 after printing why (a usage
 * error). Exits 0 after --help. */
int opts_parse(int argc, char **argv);

static inline bool is_write(void)
{
	return opt.rw == RW_WRITE || opt.rw == RW_RANDWRITE;
}

static inline bool is_random(void)
{
	return opt.rw == RW_RANDREAD || opt.rw == RW_RANDWRITE;
}

/* ------------------------------------------------------------------ */
/* latency histogram                                                    */

/* Log-linear buckets: values below 64 exactly, then 32 buckets per power
 * of two (at most 1/32 = 3.1% relative error), up to 2^47 ns. */
#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((48 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count, sum, min, max;
	uint64_t b[HIST_BUCKETS];
};

/* inline: it is on the path of every operation */
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

void hist_merge(struct hist *dst, const struct hist *src);
/* the pct-th percentile, within what was seen */
double hist_pct(const struct hist *h, double pct);

/* ------------------------------------------------------------------ */
/* the run and its result                                               */

struct rss {
	long rss_kib, anon_kib;
};

struct rss_log {
	struct rss s[MAX_RSS_SAMPLES];
	double t[MAX_RSS_SAMPLES]; /* seconds since the threads were set up */
	unsigned n;                /* at least 2: set up, and the end */
};

struct result {
	/* the file and the registration */
	char fs_name[32];
	uint64_t size;
	bool registered;      /* false for --memcpy */
	char p2p_bdf[16];     /* --p2p: the publisher the buffer came from */
	enum zc_backend backend;
	struct zc_attempt attempts[MAX_ATTEMPTS];
	int nr_attempts;
	/* --remote: what decided the memory region */
	char quirks[4][32];   /* quirks named by a refused attempt */
	int nr_quirks;
	int prefetch;         /* zc_reg_prefetch of the whole buffer: 0 or -errno */
	/* the measured operations, all threads together */
	struct hist h;
	uint64_t ops, bytes, errors;
	uint64_t path_ring, path_inline, path_fallback, path_sync;
	uint64_t backend_ops[ZC_BACKEND_MAX + 1];
	double elapsed, user_s, sys_s;
	int first_error;
	struct zc_stats stats;
	uint64_t fallbacks, events_fallback;
	struct rss_log rss;
};

/* Open (or lay out) the file, create the context, the registration and
 * the queues: 0, or -1 after printing why. */
int bench_setup(void);
/* Run the threads and fill r: 0, or -1 after printing why. */
int bench_run(struct result *r);
/* Give back what bench_setup() took, also after it failed half way. */
void bench_teardown(void);

void report_json(const struct result *r);
void report_table(const struct result *r);

#endif
