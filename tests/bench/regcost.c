/* SPDX-License-Identifier: MIT */
/*
 * regcost: what registration and context creation cost.
 *
 *   gcc -O2 -I include -o regcost tests/bench/regcost.c \
 *       -L BUILD -lzerocopy -luring -Wl,-rpath,BUILD
 *   regcost FILE [SIZE_MIB] [ROUNDS]
 *
 * 1. zc_ctx_create + zc_ctx_destroy of a default context, ROUNDS*5 times:
 *    the time of zc_ctx_create alone (median, min, max).
 * 2. SIZE_MIB (default 1024) of anonymous memory, faulted in once, then
 *    alternately (a) zc_reg_create + zc_reg_destroy through the library,
 *    with a file on FILE, and (b) io_uring_register_buffers +
 *    io_uring_unregister_buffers of the same memory on a raw ring of the
 *    same setup (one iovec per GiB, as the library splits): ROUNDS each.
 *    Reports the medians and their ratio, and the median of the per-round
 *    ratios (the two sides of a round are adjacent in time, and take turns
 *    going first), registration only (destroy and unregister timed apart).
 * Prints one JSON object.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* one zc_reg_create + zc_reg_destroy of the memory: times in us */
static int reg_zc(struct zc_file *zf, void *mem, size_t len, double *t_reg,
		  double *t_del)
{
	struct zc_reg_params rp = {
		.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH,
		.addr = mem, .length = len,
	};
	struct zc_reg *reg;
	double t = now_us();
	int ret = zc_reg_create(zf, &rp, &reg);

	*t_reg = now_us() - t;
	if (ret) {
		fprintf(stderr, "regcost: zc_reg_create: %s\n", zc_strerror(ret));
		return 1;
	}
	if (zc_reg_backend(reg) != ZC_BACKEND_URING_FIXED)
		fprintf(stderr, "regcost: note: registration landed on %s\n",
			zc_backend_name(zc_reg_backend(reg)));
	t = now_us();
	zc_reg_destroy(reg);
	*t_del = now_us() - t;
	return 0;
}

/* the same with io_uring_register_buffers on a raw ring */
static int reg_raw(struct io_uring *ring, const struct iovec *iov, unsigned niov,
		   double *t_reg, double *t_del)
{
	double t = now_us();
	int ret = io_uring_register_buffers(ring, iov, niov);

	*t_reg = now_us() - t;
	if (ret) {
		fprintf(stderr, "regcost: io_uring_register_buffers: %s\n", strerror(-ret));
		return 1;
	}
	t = now_us();
	io_uring_unregister_buffers(ring);
	*t_del = now_us() - t;
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 2 ? strtoull(argv[2], NULL, 0) : 1024;
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 7;
	unsigned nctx = rounds * 5;
	size_t len = mib << 20;
	double *ctx_us, *zc_us, *zc_del_us, *raw_us, *raw_del_us, *pair, t;
	struct io_uring_params p;
	struct io_uring ring;
	struct zc_ctx *ctx;
	struct zc_file *zf;
	struct iovec iov[64];
	unsigned niov = 0;
	char *mem;
	int fd, ret;

	if (argc < 2 || !mib || !rounds) {
		fprintf(stderr, "usage: regcost FILE [SIZE_MIB] [ROUNDS]\n");
		return 2;
	}
	ctx_us = calloc(nctx, sizeof(double));
	zc_us = calloc(rounds, sizeof(double));
	zc_del_us = calloc(rounds, sizeof(double));
	raw_us = calloc(rounds, sizeof(double));
	raw_del_us = calloc(rounds, sizeof(double));
	pair = calloc(rounds, sizeof(double));

	/* 1. context creation */
	for (unsigned i = 0; i < nctx; i++) {
		t = now_us();
		ret = zc_ctx_create(NULL, &ctx);
		ctx_us[i] = now_us() - t;
		if (ret) {
			fprintf(stderr, "regcost: zc_ctx_create: %s\n", zc_strerror(ret));
			return 1;
		}
		zc_ctx_destroy(ctx);
	}

	/* 2. registration */
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(mem, 1, len);
	for (size_t off = 0; off < len && niov < 64; off += (size_t)1 << 30)
		iov[niov++] = (struct iovec){ mem + off,
			len - off < ((size_t)1 << 30) ? len - off : (size_t)1 << 30 };
	fd = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	ret = zc_ctx_create(NULL, &ctx);
	if (!ret)
		ret = zc_file_open(ctx, fd, 0, &zf);
	if (ret) {
		fprintf(stderr, "regcost: setup: %s\n", zc_strerror(ret));
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_COOP_TASKRUN;
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret) {
		fprintf(stderr, "regcost: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	for (unsigned i = 0; i < rounds; i++) {
		/* every other round the raw registration goes first, so that
		 * neither side always follows the other's unpin */
		for (unsigned k = 0; k < 2; k++) {
			if ((k == 0) == (i % 2 == 0)) {
				if (reg_zc(zf, mem, len, &zc_us[i], &zc_del_us[i]))
					return 1;
			} else if (reg_raw(&ring, iov, niov, &raw_us[i], &raw_del_us[i])) {
				return 1;
			}
		}
		pair[i] = zc_us[i] / raw_us[i];
	}
	{
		double cmin = ctx_us[0], cmax = ctx_us[0];
		double zmin = zc_us[0], rmin = raw_us[0];

		for (unsigned i = 0; i < nctx; i++) {
			cmin = ctx_us[i] < cmin ? ctx_us[i] : cmin;
			cmax = ctx_us[i] > cmax ? ctx_us[i] : cmax;
		}
		for (unsigned i = 0; i < rounds; i++) {
			zmin = zc_us[i] < zmin ? zc_us[i] : zmin;
			rmin = raw_us[i] < rmin ? raw_us[i] : rmin;
		}
		double cmed = median(ctx_us, nctx), zmed = median(zc_us, rounds);
		double rmed = median(raw_us, rounds);

		printf("{\"ctx_create_us\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,"
		       "\"n\":%u},\"reg_bytes\":%zu,\"rounds\":%u,"
		       "\"zc_reg_create_us\":{\"median\":%.1f,\"min\":%.1f},"
		       "\"zc_reg_destroy_us\":{\"median\":%.1f},"
		       "\"io_uring_register_buffers_us\":{\"median\":%.1f,\"min\":%.1f},"
		       "\"io_uring_unregister_buffers_us\":{\"median\":%.1f},"
		       "\"ratio_median\":%.4f,\"ratio_min\":%.4f,"
		       "\"ratio_paired_median\":%.4f}\n",
		       cmed, cmin, cmax, nctx, len, rounds, zmed, zmin,
		       median(zc_del_us, rounds), rmed, rmin,
		       median(raw_del_us, rounds), zmed / rmed, zmin / rmin,
		       median(pair, rounds));
	}
	io_uring_queue_exit(&ring);
	zc_file_close(zf);
	zc_ctx_destroy(ctx);
	close(fd);
	munmap(mem, len);
	return 0;
}
