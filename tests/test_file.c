/* SPDX-License-Identifier: MIT */
/* File probing. Variants: args (argument and fd-type errors), tmpfs, ext4
 * (block device facts, O_DIRECT alignment). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define F_SIZE (3 * ZT_MiB + 1234)
#define F_SEED 21u

static const char *g_dir;
static char g_path[PATH_MAX];
static struct zc_file *const SENTINEL_FILE = (struct zc_file *)(uintptr_t)0x6b6b6b6b;

static struct zc_ctx *new_ctx(void)
{
	struct zc_ctx *ctx = NULL;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	return ctx;
}

/* zc_file_open must fail with want, leave *out alone and leak no fd */
static void expect_open_fails(struct zc_ctx *ctx, int fd, unsigned flags, int want,
			      const char *what)
{
	struct zc_file *f = SENTINEL_FILE;
	int before = zt_fd_count();
	int rc = zc_file_open(ctx, fd, flags, &f);

	ck_assert_msg(rc == want, "%s: zc_file_open returned %d (%s), expected %d (%s)",
		      what, rc, zc_strerror(rc), want, zc_strerror(want));
	ck_assert_msg(f == SENTINEL_FILE, "%s: out written on failure", what);
	ck_assert_msg(zt_fd_count() == before, "%s: fd count %d -> %d", what, before,
		      zt_fd_count());
}

static struct zc_file *open_ok(struct zc_ctx *ctx, int fd, struct zc_file_info *fi)
{
	struct zc_file *f = NULL;
	int rc = zc_file_open(ctx, fd, 0, &f);

	ck_assert_msg(rc == 0, "zc_file_open: %d (%s)", rc, zc_strerror(rc));
	ck_assert_ptr_nonnull(f);
	memset(fi, 0, sizeof *fi);
	ck_assert_int_eq(zc_file_query(f, fi, sizeof *fi), 0);
	ck_assert_uint_eq(fi->size, sizeof *fi);
	ck_assert_msg(memchr(fi->fs_name, 0, sizeof fi->fs_name), "fs_name unterminated");
	ck_assert_msg(memchr(fi->blockdev, 0, sizeof fi->blockdev), "blockdev unterminated");
	ck_assert_msg(memchr(fi->pci_bdf, 0, sizeof fi->pci_bdf), "pci_bdf unterminated");
	return f;
}

/* ------------------------------------------------------------------ */
/* args                                                                 */

START_TEST(test_file_directory_is_eisdir)
{
	struct zc_ctx *ctx = new_ctx();
	int fd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	expect_open_fails(ctx, fd, 0, -EISDIR, "directory");
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_pipe_ends_are_espipe)
{
	struct zc_ctx *ctx = new_ctx();
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	expect_open_fails(ctx, p[0], 0, -ESPIPE, "pipe read end");
	expect_open_fails(ctx, p[1], 0, -ESPIPE, "pipe write end");
	close(p[0]);
	close(p[1]);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_fifo_is_espipe)
{
	struct zc_ctx *ctx = new_ctx();
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/fifo", g_dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	fd = open(path, O_RDWR | O_CLOEXEC); /* RDWR: does not block */
	ck_assert_int_ge(fd, 0);
	expect_open_fails(ctx, fd, 0, -ESPIPE, "fifo");
	close(fd);
	unlink(path);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_socket_is_espipe)
{
	struct zc_ctx *ctx = new_ctx();
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	expect_open_fails(ctx, sv[0], 0, -ESPIPE, "unix socket");
	close(sv[0]);
	close(sv[1]);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_dev_null_is_enodev)
{
	struct zc_ctx *ctx = new_ctx();
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	expect_open_fails(ctx, fd, 0, -ENODEV, "/dev/null");
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_bad_fds_are_ebadf)
{
	struct zc_ctx *ctx = new_ctx();
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd); /* now a closed descriptor number */
	expect_open_fails(ctx, fd, 0, -EBADF, "closed fd");
	expect_open_fails(ctx, -1, 0, -EBADF, "fd -1");
	expect_open_fails(ctx, INT_MIN, 0, -EBADF, "fd INT_MIN");
	expect_open_fails(ctx, 1000000, 0, -EBADF, "fd 1000000");
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_o_path_fd_is_ebadf)
{
	struct zc_ctx *ctx = new_ctx();
	int fd = open(g_path, O_PATH | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	expect_open_fails(ctx, fd, 0, -EBADF, "O_PATH fd");
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_nonzero_flags_null_ctx_null_out_are_einval)
{
	struct zc_ctx *ctx = new_ctx();
	int fd = open(g_path, O_RDWR | O_CLOEXEC);
	int before;

	ck_assert_int_ge(fd, 0);
	expect_open_fails(ctx, fd, 1, -EINVAL, "flags 1");
	expect_open_fails(ctx, fd, 0x80000000u, -EINVAL, "flags 0x80000000");
	expect_open_fails(NULL, fd, 0, -EINVAL, "ctx NULL");
	before = zt_fd_count();
	ck_assert_int_eq(zc_file_open(ctx, fd, 0, NULL), -EINVAL);
	ck_assert_int_eq(zt_fd_count(), before);
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_close_keeps_callers_fd_open_and_leaks_nothing)
{
	struct zc_ctx *ctx = new_ctx();
	struct zc_file_info fi;
	struct zc_file *f;
	uint8_t buf[512];
	int fd = open(g_path, O_RDWR | O_CLOEXEC);
	int fds;

	ck_assert_int_ge(fd, 0);
	fds = zt_fd_count();
	for (int i = 0; i < 16; i++) {
		f = open_ok(ctx, fd, &fi);
		zc_file_close(f);
		ck_assert_int_eq(zt_fd_count(), fds);
	}
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	ck_assert_int_eq(zt_pread_full(fd, buf, sizeof buf, 1000), (ssize_t)sizeof buf);
	ck_assert_int_eq(zt_verify(buf, sizeof buf, F_SEED, 1000), -1);
	zc_file_close(NULL); /* no-op */
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_access_mode_sets_readable_writable)
{
	static const struct {
		int mode;
		uint32_t want;
	} c[] = {
		{ O_RDONLY, ZC_FILE_READABLE },
		{ O_WRONLY, ZC_FILE_WRITABLE },
		{ O_RDWR, ZC_FILE_READABLE | ZC_FILE_WRITABLE },
	};
	struct zc_ctx *ctx = new_ctx();

	for (unsigned i = 0; i < ZT_ARRAY_SIZE(c); i++) {
		struct zc_file_info fi;
		struct zc_file *f;
		int fd = open(g_path, c[i].mode | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		f = open_ok(ctx, fd, &fi);
		ck_assert_msg((fi.flags & (ZC_FILE_READABLE | ZC_FILE_WRITABLE)) == c[i].want,
			      "mode %d: flags 0x%x", c[i].mode, fi.flags);
		ck_assert_msg(fi.flags & ZC_FILE_REGULAR, "regular file not flagged");
		ck_assert_msg(!(fi.flags & ZC_FILE_DIRECT), "DIRECT without O_DIRECT");
		ck_assert_uint_eq(fi.file_size, F_SIZE);
		zc_file_close(f);
		close(fd);
	}
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_query_size_rules)
{
	struct zc_ctx *ctx = new_ctx();
	unsigned char buf[sizeof(struct zc_file_info) + 64];
	struct zc_file_info fi;
	struct zc_file *f;
	uint64_t size;
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_int_eq(zc_file_query(NULL, &fi, sizeof fi), -EINVAL);
	ck_assert_int_eq(zc_file_query(f, NULL, sizeof fi), -EINVAL);
	ck_assert_int_eq(zc_file_query(f, &fi, 0), -EINVAL);
	ck_assert_int_eq(zc_file_query(f, &fi, 7), -EINVAL);

	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)buf, 8), 0);
	memcpy(&size, buf, 8);
	ck_assert_uint_eq(size, 8);
	for (size_t i = 8; i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu written with out_size 8", i);

	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)buf, 13), 0);
	memcpy(&size, buf, 8);
	ck_assert_uint_ge(size, 8);
	ck_assert_uint_le(size, 13);
	for (size_t i = 13; i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu written with out_size 13", i);

	memset(buf, 0xa5, sizeof buf);
	ck_assert_int_eq(zc_file_query(f, (struct zc_file_info *)buf, sizeof buf), 0);
	memcpy(&size, buf, 8);
	ck_assert_uint_eq(size, sizeof(struct zc_file_info));
	for (size_t i = sizeof(struct zc_file_info); i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %zu beyond the struct written", i);
	zc_file_close(f);
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_close_with_live_registration_logs_error_and_does_nothing)
{
	struct zt_log log;
	struct zc_ctx_params p;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_file_info fi;
	struct zc_reg *r;
	void *mem = zt_map_anon(65536);
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(&log, 0, sizeof log);
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_CTX_FIELD_LOG_FN;
	p.log_fn = zt_log_fn;
	p.log_arg = &log;
	ck_assert_int_eq(zc_ctx_create(&p, &ctx), 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_int_eq(zt_reg_mem(f, mem, 65536, 0, 0, 0, &r), 0);
	zc_file_close(f); /* refused */
	ck_assert_msg(log.count[ZC_LOG_ERROR] >= 1, "no error logged:\n%s", log.text);
	ck_assert_int_eq(zc_read(r, 0, 4096, 65536), 65536);
	ck_assert_int_eq(zt_verify(mem, 65536, F_SEED, 4096), -1);
	ck_assert_int_eq(zc_file_query(f, &fi, sizeof fi), 0);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ */
/* tmpfs                                                                */

START_TEST(test_file_tmpfs_is_shmem_without_blockdev)
{
	struct zc_ctx *ctx = new_ctx();
	struct zc_file_info fi;
	struct zc_file *f;
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_str_eq(fi.fs_name, "tmpfs");
	ck_assert_uint_eq(fi.fs_magic, ZT_TMPFS_MAGIC);
	ck_assert_msg(fi.flags & ZC_FILE_SHMEM, "tmpfs file without SHMEM: 0x%x", fi.flags);
	ck_assert_msg(fi.flags & ZC_FILE_REGULAR, "flags 0x%x", fi.flags);
	ck_assert_msg(!(fi.flags & ZC_FILE_BLOCKDEV), "flags 0x%x", fi.flags);
	ck_assert_msg(!(fi.flags & ZC_FILE_DAX), "flags 0x%x", fi.flags);
	ck_assert_str_eq(fi.blockdev, "");
	ck_assert_str_eq(fi.pci_bdf, "");
	ck_assert_uint_eq(fi.dev_major, 0);
	ck_assert_uint_eq(fi.dev_minor, 0);
	ck_assert_uint_eq(fi.file_size, F_SIZE);
	ck_assert_int_ge(fi.numa_node, -1);
	zc_file_close(f);
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_file_tmpfs_empty_file_has_size_zero)
{
	struct zc_ctx *ctx = new_ctx();
	struct zc_file_info fi;
	struct zc_file *f;
	char path[PATH_MAX];
	int fd = zt_make_file(g_dir, 0, 1, O_RDWR, path);

	ck_assert_int_ge(fd, 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_uint_eq(fi.file_size, 0);
	zc_file_close(f);
	close(fd);
	unlink(path);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ext4                                                                 */

START_TEST(test_file_ext4_reports_backing_block_device)
{
	struct zc_ctx *ctx = new_ctx();
	struct zc_file_info fi;
	struct zc_file *f;
	struct stat st;
	char sys[PATH_MAX];
	int fd = open(g_path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_str_eq(fi.fs_name, "ext4");
	ck_assert_uint_eq(fi.fs_magic, ZT_EXT4_MAGIC);
	ck_assert_msg(!(fi.flags & ZC_FILE_SHMEM), "ext4 flagged SHMEM");
	ck_assert_msg(!(fi.flags & ZC_FILE_DIRECT), "DIRECT without O_DIRECT");
	ck_assert_msg(fi.flags & ZC_FILE_REGULAR, "flags 0x%x", fi.flags);
	ck_assert_msg(fi.blockdev[0] != 0, "no block device name");
	ck_assert_uint_ne(fi.dev_major, 0);
	ck_assert_uint_eq(fi.dev_major, major(st.st_dev));
	snprintf(sys, sizeof sys, "/sys/class/block/%s", fi.blockdev);
	ck_assert_msg(access(sys, F_OK) == 0, "block device \"%s\" not in /sys/class/block",
		      fi.blockdev);
	ck_assert_uint_eq(fi.file_size, F_SIZE);
	ck_assert_int_ge(fi.numa_node, -1);
	zc_file_close(f);
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

START_TEST(test_file_ext4_o_direct_reports_direct_and_dio_alignment)
{
	struct zc_ctx *ctx = new_ctx();
	struct zc_file_info fi;
	struct zc_file *f;
	struct statx sx;
	int fd = open(g_path, O_RDWR | O_DIRECT | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	f = open_ok(ctx, fd, &fi);
	ck_assert_msg(fi.flags & ZC_FILE_DIRECT, "O_DIRECT fd without DIRECT: 0x%x", fi.flags);
	ck_assert_msg(is_pow2(fi.dio_mem_align), "dio_mem_align %u", fi.dio_mem_align);
	ck_assert_msg(is_pow2(fi.dio_offset_align), "dio_offset_align %u",
		      fi.dio_offset_align);
	memset(&sx, 0, sizeof sx);
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
		ck_assert_uint_eq(fi.dio_mem_align, sx.stx_dio_mem_align);
		ck_assert_uint_eq(fi.dio_offset_align, sx.stx_dio_offset_align);
	}
	zc_file_close(f);
	close(fd);
	zc_ctx_destroy(ctx);
}
END_TEST

int main(int argc, char **argv)
{
	const char *v = argc > 1 ? argv[1] : "";
	const char *why = NULL;
	Suite *s = suite_create("file");
	TCase *tc;
	int fd;
	char reason[256];

	zt_init();
	if (strcmp(v, "args") == 0) {
		g_dir = zt_any_dir();
	} else if (strcmp(v, "tmpfs") == 0) {
		g_dir = zt_tmpfs_dir(&why);
	} else if (strcmp(v, "ext4") == 0) {
		g_dir = zt_ext4_dir(&why);
		if (g_dir && !zt_odirect_works(g_dir, reason, sizeof reason))
			zt_skip("file.ext4: O_DIRECT not supported: %s", reason);
	} else {
		fprintf(stderr, "usage: %s args|tmpfs|ext4\n", argv[0]);
		return 2;
	}
	if (!g_dir)
		zt_skip("file.%s: %s", v, why);
	fd = zt_make_file(g_dir, F_SIZE, F_SEED, O_RDONLY, g_path);
	if (fd < 0)
		zt_skip("cannot create a file in %s: %s", g_dir, strerror(-fd));
	close(fd);

	tc = zt_tcase(v);
	if (strcmp(v, "args") == 0) {
		tcase_add_test(tc, test_file_directory_is_eisdir);
		tcase_add_test(tc, test_file_pipe_ends_are_espipe);
		tcase_add_test(tc, test_file_fifo_is_espipe);
		tcase_add_test(tc, test_file_socket_is_espipe);
		tcase_add_test(tc, test_file_dev_null_is_enodev);
		tcase_add_test(tc, test_file_bad_fds_are_ebadf);
		tcase_add_test(tc, test_file_o_path_fd_is_ebadf);
		tcase_add_test(tc, test_file_nonzero_flags_null_ctx_null_out_are_einval);
		tcase_add_test(tc, test_file_close_keeps_callers_fd_open_and_leaks_nothing);
		tcase_add_test(tc, test_file_access_mode_sets_readable_writable);
		tcase_add_test(tc, test_file_query_size_rules);
		tcase_add_test(tc, test_file_close_with_live_registration_logs_error_and_does_nothing);
	} else if (strcmp(v, "tmpfs") == 0) {
		tcase_add_test(tc, test_file_tmpfs_is_shmem_without_blockdev);
		tcase_add_test(tc, test_file_tmpfs_empty_file_has_size_zero);
		tcase_add_test(tc, test_file_close_keeps_callers_fd_open_and_leaks_nothing);
	} else {
		tcase_add_test(tc, test_file_ext4_reports_backing_block_device);
		tcase_add_test(tc, test_file_ext4_o_direct_reports_direct_and_dio_alignment);
		tcase_add_test(tc, test_file_close_keeps_callers_fd_open_and_leaks_nothing);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
