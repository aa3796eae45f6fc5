/* SPDX-License-Identifier: MIT */
/*
 * overhead: what zc_read costs above pread on the synchronous page-cache
 * path, in instructions (repeatable, from callgrind) and in nanoseconds.
 *
 *   gcc -O2 -I include -o overhead tests/bench/overhead.c \
 *       -L BUILD -lzerocopy -Wl,-rpath,BUILD
 *   overhead zc|pread N FILE        N reads of 4 KiB, nothing printed;
 *                                   run under callgrind with
 *                                   --toggle-collect=bench_loop
 *   overhead zc-stub|pread-stub N FILE   the same with the stub pread
 *   overhead time N FILE [ROUNDS]   wall clock: ROUNDS (201) rounds of
 *                                   N ops of each loop back to back, with
 *                                   the real pread and with a stub pread
 *                                   that returns at once (the library's
 *                                   own user-space cost, no kernel in
 *                                   it); the median of the per-round
 *                                   differences and the difference of
 *                                   the fastest rounds; the clock
 *                                   from a dependent-add chain; JSON
 *
 * FILE must be on tmpfs (or otherwise cached) and at least 64 MiB: the
 * reads walk 4 KiB blocks of the first 64 MiB, so both loops copy the same
 * cached pages. The registration is 4 KiB of anonymous memory, forced to
 * nothing: the library picks its backend as it would for an application.
 *
 * The stub: this executable defines pread(), which the library's call
 * binds to (symbol interposition); while stub_on is false it makes the
 * real system call, so the "zc" and "pread" loops pay the same wrapper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

#define BS 4096u
#define SPAN (64u << 20)

static volatile bool stub_on;

/* interposes glibc's pread for this program and for libzerocopy */
ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	if (stub_on)
		return (ssize_t)len;
	return syscall(SYS_pread64, fd, buf, len, off);
}

static char *buf;
static int fd;
static struct zc_reg *reg;

__attribute__((noinline)) static uint64_t bench_loop(bool zc, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = (i * BS) % SPAN;
		ssize_t r = zc ? zc_read(reg, 0, off, BS) : pread(fd, buf, BS, (off_t)off);

		sum += (uint64_t)r;
	}
	return sum;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per op of one loop */
static double time_loop(bool zc, uint64_t n)
{
	uint64_t t0 = now_ns(), sum = bench_loop(zc, n);

	if (sum != n * BS) {
		fprintf(stderr, "overhead: short read (%" PRIu64 " of %" PRIu64 ")\n",
			sum, n * BS);
		exit(1);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* cycles per ns: a chain of dependent adds retires one per cycle (the
 * loop's own increment and branch run beside it); the fastest of 51 short
 * tries, so time the CPU spent on other tasks does not count */
static double clock_ghz(void)
{
	const uint64_t n = 4000000;
	double best = 0;

	for (int k = 0; k < 51; k++) {
		uint64_t x = 0, t0 = now_ns();
		double ghz;

		for (uint64_t i = 0; i < n; i += 8)
			__asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
					 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
					 "add $1, %0\n\tadd $1, %0"
					 : "+r"(x));
		ghz = (double)n / (double)(now_ns() - t0);
		if (ghz > best)
			best = ghz;
	}
	return best;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct zc_reg_params rp = { 0 };
	struct zc_ctx *ctx;
	struct zc_file *zf;
	uint64_t n;
	int ret;

	if (argc < 4) {
		fprintf(stderr, "usage: overhead zc|pread|zc-stub|pread-stub|time N FILE [ROUNDS]\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 0);
	fd = open(argv[3], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[3]);
		return 1;
	}
	buf = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	memset(buf, 1, BS);
	ret = zc_ctx_create(NULL, &ctx);
	if (!ret)
		ret = zc_file_open(ctx, fd, 0, &zf);
	rp.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_ACCESS;
	rp.addr = buf;
	rp.length = BS;
	rp.access = ZC_ACCESS_READ;
	if (!ret)
		ret = zc_reg_create(zf, &rp, &reg);
	if (ret) {
		fprintf(stderr, "overhead: setup: %s\n", zc_strerror(ret));
		return 1;
	}
	/* warm: page tables, the file's pages, the code */
	bench_loop(true, SPAN / BS);
	bench_loop(false, SPAN / BS);

	if (!strncmp(argv[1], "zc", 2) || !strncmp(argv[1], "pread", 5)) {
		uint64_t sum;

		stub_on = strstr(argv[1], "-stub") != NULL;
		sum = bench_loop(argv[1][0] == 'z', n);
		stub_on = false;

		ret = sum == n * BS ? 0 : 1;
	} else if (!strcmp(argv[1], "time")) {
		/* many short rounds, the four loops back to back in each: a
		 * round that another task interrupted is an outlier, which
		 * the median of the per-round differences and the difference
		 * of the fastest rounds leave out */
		unsigned rounds = argc > 4 ? (unsigned)atoi(argv[4]) : 201;
		double *v[4], *d[2], q[4][3], dq[2][3], ghz;

		for (int k = 0; k < 4; k++)
			v[k] = calloc(rounds, sizeof(double));
		d[0] = calloc(rounds, sizeof(double));
		d[1] = calloc(rounds, sizeof(double));
		for (unsigned i = 0; i < rounds; i++) {
			stub_on = false;
			v[0][i] = time_loop(true, n);
			v[1][i] = time_loop(false, n);
			stub_on = true;
			v[2][i] = time_loop(true, n);
			v[3][i] = time_loop(false, n);
			stub_on = false;
			d[0][i] = v[0][i] - v[1][i];
			d[1][i] = v[2][i] - v[3][i];
		}
		ghz = clock_ghz();
		for (int k = 0; k < 4; k++) {
			qsort(v[k], rounds, sizeof(double), cmp_double);
			q[k][0] = v[k][0];
			q[k][1] = v[k][rounds / 4];
			q[k][2] = v[k][rounds / 2];
		}
		for (int k = 0; k < 2; k++) {
			qsort(d[k], rounds, sizeof(double), cmp_double);
			dq[k][0] = d[k][0];
			dq[k][1] = d[k][rounds / 4];
			dq[k][2] = d[k][rounds / 2];
		}
		printf("{\"n\":%" PRIu64 ",\"rounds\":%u,\"backend\":\"%s\",\"clock_ghz\":%.3f,"
		       "\"real\":{\"zc_ns_min\":%.1f,\"zc_ns_q1\":%.1f,\"zc_ns_median\":%.1f,"
		       "\"pread_ns_min\":%.1f,\"pread_ns_q1\":%.1f,\"pread_ns_median\":%.1f,"
		       "\"diff_ns_min\":%.1f,\"diff_ns_median\":%.1f},"
		       "\"stub\":{\"zc_ns_min\":%.2f,\"zc_ns_median\":%.2f,"
		       "\"pread_ns_min\":%.2f,\"pread_ns_median\":%.2f,"
		       "\"diff_ns_min\":%.2f,\"diff_ns_median\":%.2f}}\n",
		       n, rounds, zc_backend_name(zc_reg_backend(reg)), ghz,
		       q[0][0], q[0][1], q[0][2], q[1][0], q[1][1], q[1][2],
		       q[0][0] - q[1][0], dq[0][2], q[2][0], q[2][2], q[3][0], q[3][2],
		       q[2][0] - q[3][0], dq[1][2]);
		for (int k = 0; k < 4; k++)
			free(v[k]);
		free(d[0]);
		free(d[1]);
	} else {
		fprintf(stderr, "overhead: unknown mode %s\n", argv[1]);
		ret = 2;
	}
	zc_reg_destroy(reg);
	zc_file_close(zf);
	zc_ctx_destroy(ctx);
	close(fd);
	return ret;
}
