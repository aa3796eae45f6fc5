/* SPDX-License-Identifier: MIT */
/*
 * zc-copy: copy SRC to DST through one registered buffer.
 *
 *   zc-copy SRC DST
 *
 * A registration ties memory to one file, so the same buffer is registered
 * twice: against SRC for reading (file -> memory) and against DST for
 * writing (memory -> file). Each chunk is then moved with zc_read() into
 * the buffer and zc_write() out of it; on the best backend neither call
 * copies the data inside the library.
 *
 * Build against the installed library:
 *   cc -o zc-copy copy.c $(pkg-config --cflags --libs libzerocopy)
 * (this file also compiles as C++).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zerocopy.h>

#define CHUNK (1u << 20) /* bytes moved per zc_read()/zc_write() */

/* Which backend a registration landed on, and every backend tried first. */
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

/* Register buf against f for one direction of data flow. */
static int register_buffer(struct zc_file *f, void *buf, unsigned access,
			   struct zc_reg **out)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
		       ZC_REG_FIELD_ACCESS;
	p.addr = buf;
	p.length = CHUNK;
	p.access = access;
	return zc_reg_create(f, &p, out);
}

int main(int argc, char **argv)
{
	struct zc_ctx *ctx = NULL;
	struct zc_file *src = NULL, *dst = NULL;
	struct zc_reg *rd = NULL, *wr = NULL;
	void *buf = MAP_FAILED;
	int sfd = -1, dfd = -1, ret, status = 1;
	unsigned long long off = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
		return 2;
	}
	sfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	dfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (dfd < 0) {
		fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno));
		goto out;
	}

	/* NULL params: every default (all backends, ZC_LOG for logging) */
	ret = zc_ctx_create(NULL, &ctx);
	if (ret < 0) {
		fprintf(stderr, "zc_ctx_create: %s\n", zc_strerror(ret));
		goto out;
	}
	ret = zc_file_open(ctx, sfd, 0, &src);
	if (ret < 0) {
		fprintf(stderr, "zc_file_open %s: %s\n", argv[1],
			zc_strerror(ret));
		goto out;
	}
	ret = zc_file_open(ctx, dfd, 0, &dst);
	if (ret < 0) {
		fprintf(stderr, "zc_file_open %s: %s\n", argv[2],
			zc_strerror(ret));
		goto out;
	}

	/* Anonymous memory suits every backend (page-aligned, pinnable). */
	buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		goto out;
	}
	ret = register_buffer(src, buf, ZC_ACCESS_READ, &rd);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create (source): %s\n", zc_strerror(ret));
		goto out;
	}
	ret = register_buffer(dst, buf, ZC_ACCESS_WRITE, &wr);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create (destination): %s\n",
			zc_strerror(ret));
		goto out;
	}
	print_reg("read side", rd);
	print_reg("write side", wr);

	for (;;) {
		ssize_t got, put;

		got = zc_read(rd, 0, off, CHUNK); /* short only at EOF */
		if (got < 0) {
			fprintf(stderr, "zc_read at %llu: %s\n", off,
				zc_strerror((int)got));
			goto out;
		}
		if (got == 0)
			break;
		put = zc_write(wr, 0, off, (size_t)got);
		if (put < 0) {
			fprintf(stderr, "zc_write at %llu: %s\n", off,
				zc_strerror((int)put));
			goto out;
		}
		off += (unsigned long long)got;
	}
	/* make the copy durable, like cp --sync would */
	ret = zc_sync(wr, 0, 0);
	if (ret < 0) {
		fprintf(stderr, "zc_sync: %s\n", zc_strerror(ret));
		goto out;
	}
	printf("copied %llu bytes\n", off);
	status = 0;
out:
	/* registrations first, then files, then the context */
	if (wr && (ret = zc_reg_destroy(wr)) < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	if (rd && (ret = zc_reg_destroy(rd)) < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	zc_file_close(dst);
	zc_file_close(src);
	zc_ctx_destroy(ctx);
	if (buf != MAP_FAILED)
		munmap(buf, CHUNK);
	/* the library never closes the caller's descriptors */
	if (dfd >= 0 && close(dfd) < 0) {
		fprintf(stderr, "close %s: %s\n", argv[2], strerror(errno));
		status = 1;
	}
	if (sfd >= 0)
		close(sfd);
	return status;
}
