/* SPDX-License-Identifier: MIT */
/*
 * zc-demo: what libzerocopy does on this machine, on two kinds of file.
 *
 *   zc-demo [DIR...]
 *
 * For each directory (default: /dev/shm, normally tmpfs, and the current
 * directory, normally ext4 or xfs) it creates an 8 MiB file and
 *  1. registers 8 MiB of anonymous memory against it, writes a pattern
 *     with zc_write(), reads it back with zc_read() and checks every byte;
 *  2. registers the file's own 8 MiB with ZC_REG_MAP_FILE, checks that the
 *     mapping shows what step 1 wrote, stores a new pattern through
 *     zc_reg_addr(), zc_sync()s it and reads it back through step 1's
 *     registration, checking every byte;
 * and prints which backend each registration took and why, then deletes
 * the file. The same code runs on every machine; only the backends differ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zerocopy.h>

#define SIZE (8u << 20)

/* what happened in one directory, for the summary */
struct outcome {
	const char *dir;
	char fs[32];
	enum zc_backend buffer, map_file;
	int ran; /* 0: skipped (could not create the file) */
	int ok;
};

/* A different byte at every offset, so a misplaced page cannot pass. */
static unsigned char pattern(uint64_t off, unsigned seed)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + seed;

	x ^= x >> 29;
	return (unsigned char)(x >> (8 * (off & 7)));
}

static void fill(unsigned char *p, unsigned seed)
{
	uint64_t i;

	for (i = 0; i < SIZE; i++)
		p[i] = pattern(i, seed);
}

static int verify(const unsigned char *p, unsigned seed, const char *what)
{
	uint64_t i;

	for (i = 0; i < SIZE; i++) {
		if (p[i] != pattern(i, seed)) {
			printf("  %s: MISMATCH at offset %llu: 0x%02x, expected 0x%02x\n",
			       what, (unsigned long long)i, p[i],
			       pattern(i, seed));
			return -1;
		}
	}
	printf("  %s: all %u bytes match\n", what, SIZE);
	return 0;
}

/* Which backend a registration took, and every backend considered. */
static void print_reg(const char *what, const struct zc_reg *r)
{
	struct zc_attempt a[8];
	int i, n = zc_reg_attempts(r, a, 8);

	printf("%s: backend %s\n", what, zc_backend_name(zc_reg_backend(r)));
	for (i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use",
		       a[i].reason);
}

/* Move all SIZE bytes one way; the library loops internally, so anything
 * but SIZE is an error. */
static int move_all(struct zc_reg *r, int to_file)
{
	ssize_t n = to_file ? zc_write(r, 0, 0, SIZE) : zc_read(r, 0, 0, SIZE);

	if (n == (ssize_t)SIZE)
		return 0;
	printf("  %s: %s\n", to_file ? "zc_write" : "zc_read",
	       n < 0 ? zc_strerror((int)n) : "short transfer");
	return -1;
}

static int demo_file(struct zc_ctx *ctx, int fd, struct outcome *res)
{
	struct zc_file *f = NULL;
	struct zc_reg *buf_reg = NULL, *map_reg = NULL;
	struct zc_file_info info;
	struct zc_reg_params p;
	unsigned char *buf = MAP_FAILED, *map;
	int ret, status = -1;

	/* probe the file once: file system, O_DIRECT, device, leases */
	ret = zc_file_open(ctx, fd, 0, &f);
	if (ret < 0) {
		printf("zc_file_open: %s\n", zc_strerror(ret));
		return -1;
	}
	ret = zc_file_query(f, &info, sizeof info);
	if (ret < 0) {
		printf("zc_file_query: %s\n", zc_strerror(ret));
		goto out;
	}
	snprintf(res->fs, sizeof res->fs, "%s", info.fs_name);
	printf("file system: %s%s%s\n", info.fs_name,
	       info.blockdev[0] ? " on " : "", info.blockdev);

	/* 1. the application's own memory, registered against the file */
	buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		goto out;
	}
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
	p.addr = buf;
	p.length = SIZE; /* access defaults to READ|WRITE */
	ret = zc_reg_create(f, &p, &buf_reg);
	if (ret < 0) {
		printf("zc_reg_create (buffer): %s\n", zc_strerror(ret));
		goto out;
	}
	res->buffer = zc_reg_backend(buf_reg);
	print_reg("buffer registration (8 MiB of anonymous memory)", buf_reg);

	fill(buf, 1);
	if (move_all(buf_reg, 1))
		goto out;
	memset(buf, 0, SIZE);
	if (move_all(buf_reg, 0) || verify(buf, 1, "zc_write then zc_read"))
		goto out;

	/* 2. the file's own pages: no ADDR, the library maps the range */
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS;
	p.length = SIZE;
	p.flags = ZC_REG_MAP_FILE;
	ret = zc_reg_create(f, &p, &map_reg);
	if (ret < 0) {
		printf("zc_reg_create (MAP_FILE): %s\n", zc_strerror(ret));
		goto out;
	}
	res->map_file = zc_reg_backend(map_reg);
	print_reg("MAP_FILE registration (the file's 8 MiB)", map_reg);

	map = zc_reg_addr(map_reg);
	if (verify(map, 1, "mapping shows the file"))
		goto out;
	fill(map, 2); /* plain stores into the file range */
	ret = zc_sync(map_reg, 0, 0);
	if (ret < 0) {
		printf("  zc_sync: %s\n", zc_strerror(ret));
		goto out;
	}
	memset(buf, 0, SIZE);
	if (move_all(buf_reg, 0) ||
	    verify(buf, 2, "stores + zc_sync, read back with zc_read"))
		goto out;
	status = 0;
out:
	/* registrations before their file, the file before the context */
	if (map_reg && (ret = zc_reg_destroy(map_reg)) < 0) {
		printf("zc_reg_destroy: %s\n", zc_strerror(ret));
		status = -1;
	}
	if (buf_reg && (ret = zc_reg_destroy(buf_reg)) < 0) {
		printf("zc_reg_destroy: %s\n", zc_strerror(ret));
		status = -1;
	}
	zc_file_close(f);
	if (buf != MAP_FAILED)
		munmap(buf, SIZE);
	return status;
}

static void demo_dir(struct zc_ctx *ctx, struct outcome *res)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/zc-demo.%ld.tmp", res->dir,
		 (long)getpid());
	printf("\n== %s ==\n", path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		printf("skipped: cannot create %s: %s\n", path, strerror(errno));
		return;
	}
	res->ran = 1;
	if (ftruncate(fd, SIZE) < 0)
		printf("ftruncate: %s\n", strerror(errno));
	else
		res->ok = demo_file(ctx, fd, res) == 0;
	close(fd);
	if (unlink(path) < 0) {
		printf("unlink %s: %s\n", path, strerror(errno));
		res->ok = 0;
	}
}

int main(int argc, char **argv)
{
	static const char *const default_dirs[] = { "/dev/shm", "." };
	struct outcome *res;
	struct zc_ctx *ctx;
	unsigned v = zc_version();
	int i, n, ret, ran = 0, failed = 0;

	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: %s [DIR...]\n", argv[0]);
		return 2;
	}
	n = argc > 1 ? argc - 1 : 2;
	res = calloc((size_t)n, sizeof *res);
	if (!res)
		return 1;
	for (i = 0; i < n; i++)
		res[i].dir = argc > 1 ? argv[i + 1] : default_dirs[i];

	printf("libzerocopy %u.%u.%u demo: one registered buffer and one "
	       "mapped file range per file\n",
	       v >> 16, (v >> 8) & 0xff, v & 0xff);
	/* one context for the whole program; NULL takes every default */
	ret = zc_ctx_create(NULL, &ctx);
	if (ret < 0) {
		fprintf(stderr, "zc_ctx_create: %s\n", zc_strerror(ret));
		free(res);
		return 1;
	}
	for (i = 0; i < n; i++)
		demo_dir(ctx, &res[i]);
	zc_ctx_destroy(ctx);

	printf("\nsummary:\n");
	for (i = 0; i < n; i++) {
		if (!res[i].ran) {
			printf("  %-10s skipped\n", res[i].dir);
			continue;
		}
		ran++;
		failed += !res[i].ok;
		printf("  %-10s %-8s buffer: %-12s MAP_FILE: %-12s %s\n",
		       res[i].dir, res[i].fs, zc_backend_name(res[i].buffer),
		       zc_backend_name(res[i].map_file),
		       res[i].ok ? "verified" : "FAILED");
	}
	printf("ZC_LOG=debug shows every decision; ZC_BACKENDS=bounce forces "
	       "the fallback path.\n");
	free(res);
	return ran && !failed ? 0 : 1;
}
