/* SPDX-License-Identifier: MIT */
/*
 * zc-randread: asynchronous random 4 KiB reads over a file, 32 in flight.
 *
 *   zc-randread [-d] FILE [OPS]
 *
 * One registration covers 32 blocks of memory, one per in-flight read.
 * Reads are prepared on a zc_queue, submitted in batches and reaped as
 * they complete; each completion says which backend ran it and whether it
 * took a fallback path. Every block is checked against pread(2) of the
 * same range (outside the timed part), then the slot is reused.
 * -d opens the file with O_DIRECT; OPS defaults to 100000.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zerocopy.h>

#define DEPTH 32
#define BS 4096u

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: good enough to scatter offsets */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_reg(const struct zc_reg *r)
{
	struct zc_attempt a[8];
	int i, n = zc_reg_attempts(r, a, 8);

	printf("registration: backend %s\n",
	       zc_backend_name(zc_reg_backend(r)));
	for (i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use",
		       a[i].reason);
}

int main(int argc, char **argv)
{
	struct zc_ctx *ctx = NULL;
	struct zc_file *f = NULL;
	struct zc_reg *r = NULL;
	struct zc_queue *q = NULL;
	struct zc_reg_params p;
	struct zc_completion cqe[DEPTH];
	uint64_t slot_off[DEPTH], nblocks;
	/* completions counted by the backend that ran them and by flag */
	unsigned long long by_backend[ZC_BACKEND_MAX + 1] = { 0 };
	unsigned long long fallback = 0, inlined = 0;
	unsigned long long ops = 100000, issued = 0, done = 0;
	unsigned char *mem, *check = NULL;
	double t0, verify_time = 0, elapsed;
	int fd, ret, i, argi = 1, flags = O_RDONLY | O_CLOEXEC, status = 1;
	struct stat st;

	if (argi < argc && !strcmp(argv[argi], "-d")) {
		flags |= O_DIRECT;
		argi++;
	}
	if (argi >= argc || argc - argi > 2 ||
	    (argc - argi == 2 && (ops = strtoull(argv[argi + 1], NULL, 0)) == 0)) {
		fprintf(stderr, "usage: %s [-d] FILE [OPS]\n", argv[0]);
		return 2;
	}
	fd = open(argv[argi], flags);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", argv[argi], strerror(errno));
		return 1;
	}
	nblocks = (uint64_t)st.st_size / BS;
	if (nblocks == 0) {
		fprintf(stderr, "%s: smaller than one %u-byte block\n",
			argv[argi], BS);
		close(fd);
		return 1;
	}
	/* pread for the check; O_DIRECT-safe alignment for either fd */
	if (posix_memalign((void **)&check, BS, BS)) {
		fprintf(stderr, "posix_memalign: out of memory\n");
		close(fd);
		return 1;
	}

	ret = zc_ctx_create(NULL, &ctx);
	if (ret < 0) {
		fprintf(stderr, "zc_ctx_create: %s\n", zc_strerror(ret));
		goto out;
	}
	ret = zc_file_open(ctx, fd, 0, &f);
	if (ret < 0) {
		fprintf(stderr, "zc_file_open: %s\n", zc_strerror(ret));
		goto out;
	}
	mem = mmap(NULL, DEPTH * BS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		goto out;
	}
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
		       ZC_REG_FIELD_ACCESS;
	p.addr = mem;
	p.length = DEPTH * BS;
	p.access = ZC_ACCESS_READ;
	ret = zc_reg_create(f, &p, &r);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create: %s\n", zc_strerror(ret));
		munmap(mem, DEPTH * BS);
		goto out;
	}
	print_reg(r);

	ret = zc_queue_create(ctx, DEPTH, 0, &q);
	if (ret < 0) {
		fprintf(stderr, "zc_queue_create: %s\n", zc_strerror(ret));
		goto out;
	}

	/* fill the queue: slot i of the registration holds read i */
	t0 = now();
	for (i = 0; i < DEPTH && issued < ops; i++, issued++) {
		slot_off[i] = (rng() % nblocks) * BS;
		ret = zc_prep_read(q, r, (size_t)i * BS, slot_off[i], BS,
				   (uint64_t)i);
		if (ret < 0) {
			fprintf(stderr, "zc_prep_read: %s\n", zc_strerror(ret));
			goto out;
		}
	}
	while (done < ops) {
		int n, k;

		ret = zc_submit(q);
		if (ret < 0) {
			fprintf(stderr, "zc_submit: %s\n", zc_strerror(ret));
			goto out;
		}
		n = zc_reap(q, cqe, DEPTH, 1, -1);
		if (n < 0) {
			fprintf(stderr, "zc_reap: %s\n", zc_strerror(n));
			goto out;
		}
		for (k = 0; k < n; k++) {
			int s = (int)cqe[k].user_data;
			double v0 = now();

			if (cqe[k].res != BS) {
				fprintf(stderr, "read at %llu: %s\n",
					(unsigned long long)slot_off[s],
					cqe[k].res < 0 ?
						zc_strerror((int)cqe[k].res) :
						"short read");
				goto out;
			}
			if (pread(fd, check, BS, (off_t)slot_off[s]) != BS ||
			    memcmp(check, mem + (size_t)s * BS, BS)) {
				fprintf(stderr, "data mismatch at offset %llu\n",
					(unsigned long long)slot_off[s]);
				goto out;
			}
			verify_time += now() - v0;
			if (cqe[k].backend <= ZC_BACKEND_MAX)
				by_backend[cqe[k].backend]++;
			fallback += !!(cqe[k].flags & ZC_CQE_F_FALLBACK);
			inlined += !!(cqe[k].flags & ZC_CQE_F_INLINE);
			done++;

			/* reuse the slot for the next random block */
			if (issued < ops) {
				slot_off[s] = (rng() % nblocks) * BS;
				ret = zc_prep_read(q, r, (size_t)s * BS,
						   slot_off[s], BS, (uint64_t)s);
				if (ret < 0) {
					fprintf(stderr, "zc_prep_read: %s\n",
						zc_strerror(ret));
					goto out;
				}
				issued++;
			}
		}
	}
	elapsed = now() - t0 - verify_time;

	printf("%llu reads of %u bytes, depth %d%s: %.0f IOPS "
	       "(verification excluded), all matched pread\n",
	       done, BS, DEPTH, flags & O_DIRECT ? ", O_DIRECT" : "",
	       elapsed > 0 ? (double)done / elapsed : 0.0);
	for (i = 0; i <= ZC_BACKEND_MAX; i++)
		if (by_backend[i])
			printf("  ran on %s: %llu\n",
			       zc_backend_name((enum zc_backend)i), by_backend[i]);
	printf("  ZC_CQE_F_FALLBACK: %llu, ZC_CQE_F_INLINE: %llu\n", fallback,
	       inlined);
	status = 0;
out:
	/* a queue with reads in flight waits for them and drops them */
	if (q)
		zc_queue_destroy(q);
	if (r) {
		mem = zc_reg_addr(r);
		if ((ret = zc_reg_destroy(r)) < 0)
			fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
		else
			munmap(mem, DEPTH * BS);
	}
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	free(check);
	close(fd);
	return status;
}
