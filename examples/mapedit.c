/* SPDX-License-Identifier: MIT */
/*
 * zc-mapedit: edit a range of a file in place through its registered
 * mapping; here the edit upper-cases ASCII letters (like tr a-z A-Z).
 *
 *   zc-mapedit FILE [OFFSET [LENGTH]]
 *
 * With ZC_REG_MAP_FILE the library maps the file range itself; the memory
 * at zc_reg_addr() *is* the file when the backend can pin the page cache
 * (tmpfs, hugetlbfs), or a library-owned copy filled from the file when it
 * cannot (ext4, xfs: bounce). Either way, stores become file contents once
 * zc_sync() returns, so the program is the same on every file system.
 * OFFSET defaults to 0 and LENGTH to the rest of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zerocopy.h>

static void print_reg(const struct zc_reg *r)
{
	struct zc_attempt a[8];
	int i, n = zc_reg_attempts(r, a, 8);

	printf("backend %s, because:\n", zc_backend_name(zc_reg_backend(r)));
	for (i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use",
		       a[i].reason);
}

static int parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct zc_ctx *ctx = NULL;
	struct zc_file *f = NULL;
	struct zc_reg *r = NULL;
	struct zc_reg_params p;
	unsigned long long off = 0, len = 0, changed = 0, i;
	unsigned char *mem;
	struct stat st;
	int fd, ret, status = 1;

	if (argc < 2 || argc > 4 || (argc > 2 && parse_u64(argv[2], &off)) ||
	    (argc > 3 && parse_u64(argv[3], &len))) {
		fprintf(stderr, "usage: %s FILE [OFFSET [LENGTH]]\n", argv[0]);
		return 2;
	}
	/* the mapping is written to, so the descriptor must be writable */
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (argc < 4)
		len = (unsigned long long)st.st_size > off ?
			      (unsigned long long)st.st_size - off : 0;
	if (len == 0) {
		fprintf(stderr, "%s: nothing to edit at offset %llu\n",
			argv[1], off);
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

	/* No ADDR: the library provides the memory, which is the file range. */
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FILE_OFFSET |
		       ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_ACCESS;
	p.length = len;
	p.file_offset = off;
	p.flags = ZC_REG_MAP_FILE;
	p.access = ZC_ACCESS_READ | ZC_ACCESS_WRITE;
	ret = zc_reg_create(f, &p, &r);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create [%llu, +%llu): %s\n", off, len,
			zc_strerror(ret));
		goto out;
	}
	print_reg(r);

	/* edit in place: plain loads and stores, no read or write calls */
	mem = zc_reg_addr(r);
	for (i = 0; i < len; i++) {
		if (mem[i] >= 'a' && mem[i] <= 'z') {
			mem[i] = (unsigned char)(mem[i] - 'a' + 'A');
			changed++;
		}
	}

	/* len 0 = the whole registration: stores reach the file and storage */
	ret = zc_sync(r, 0, 0);
	if (ret < 0) {
		fprintf(stderr, "zc_sync: %s\n", zc_strerror(ret));
		goto out;
	}
	printf("upper-cased %llu of %llu bytes at offset %llu of %s\n",
	       changed, len, off, argv[1]);
	status = 0;
out:
	if (r && (ret = zc_reg_destroy(r)) < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return status;
}
