/* SPDX-License-Identifier: MIT */
/*
 * ZC_MEM_DMABUF registrations over a real dma-buf: a udmabuf made from a
 * sealed memfd (/dev/udmabuf, CONFIG_UDMABUF; the test guest of tests/vm
 * has it, this machine may not: 77). The memfd is the dma-buf's memory,
 * so what zc_read puts into the buffer is checked by reading the memfd.
 *
 *   test_dmabuf local   no remote access: bounce through the CPU mapping,
 *                       buffered and O_DIRECT, sync calls and a queue
 *   test_dmabuf fake    remote access with tests/fake_verbs.c: an MR by
 *                       ibv_reg_dmabuf_mr on p2p_bar where the device can
 *                       (FAKE_VERBS_DMABUF=ok), refused with the attempts
 *                       where it cannot (as rxe)
 *   test_dmabuf rdma    remote access on this machine's real RDMA device
 *                       (the guest's rxe: refused, and the attempt says
 *                       why); 77 without a device
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/udmabuf.h>

#include "fake_verbs.h"
#include "helpers.h"

#define SEED 0xdbfu
#define FSIZE (4 * ZT_MiB)
#define BUF (2 * ZT_MiB)

static const char *g_dir;

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd, memfd, dmabuf;
	char path[PATH_MAX];
	struct zt_log log;
};

/* a udmabuf over a sealed memfd of BUF bytes: 0, or -errno */
static int make_udmabuf(int *memfd, int *dmabuf)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = BUF };
	int dev, err = 0;

	*memfd = memfd_create("zt-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*memfd < 0)
		return -errno;
	if (ftruncate(*memfd, BUF) || fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		err = -errno;
	dev = err ? -1 : open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (!err && dev < 0)
		err = -errno;
	if (!err) {
		c.memfd = (uint32_t)*memfd;
		*dmabuf = ioctl(dev, UDMABUF_CREATE, &c);
		if (*dmabuf < 0)
			err = -errno;
		close(dev);
	}
	if (err)
		close(*memfd);
	return err;
}

static void fx_open(struct fx *x, int oflags)
{
	struct zc_ctx_params p = { .field_mask = ZC_CTX_FIELD_LOG_FN |
				   ZC_CTX_FIELD_LOG_LEVEL,
				   .log_fn = zt_log_fn, .log_arg = &x->log,
				   .log_level = ZC_LOG_DEBUG };

	memset(&x->log, 0, sizeof(x->log));
	x->fd = zt_make_file(g_dir, FSIZE, SEED, oflags, x->path);
	ck_assert_msg(x->fd >= 0, "file in %s: %s", g_dir, strerror(-x->fd));
	ck_assert_int_eq(make_udmabuf(&x->memfd, &x->dmabuf), 0);
	ck_assert_int_eq(zc_ctx_create(&p, &x->ctx), 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
}

static void fx_close(struct fx *x)
{
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->dmabuf);
	close(x->memfd);
	close(x->fd);
	unlink(x->path);
}

static int reg_dmabuf(struct fx *x, unsigned access, struct zc_reg **r)
{
	struct zc_reg_params p = {
		.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_ACCESS |
			      ZC_REG_FIELD_MEM_TYPE | ZC_REG_FIELD_DMABUF_FD,
		.length = BUF, .access = access, .mem_type = ZC_MEM_DMABUF,
		.dmabuf_fd = x->dmabuf,
	};

	return zc_reg_create(x->f, &p, r);
}

/* the buffer's bytes [off, +len), read from the memfd behind it */
static uint8_t *memfd_bytes(struct fx *x, size_t off, size_t len)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(pread(x->memfd, b, len, (off_t)off), (ssize_t)len);
	return b;
}

/* zc_read into the dma-buf and zc_write out of it, aligned and not, a
 * queued read too; the memfd and the file are the witnesses */
static void check_io(struct fx *x, struct zc_reg *r)
{
	struct zc_completion c;
	struct zc_queue *q;
	uint8_t *b, *fill;
	ssize_t n;

	ck_assert_int_eq(zc_read(r, 0, 0, ZT_MiB), ZT_MiB);
	b = memfd_bytes(x, 0, ZT_MiB);
	ck_assert_int_eq(zt_verify(b, ZT_MiB, SEED, 0), -1);
	free(b);
	ck_assert_int_eq(zc_read(r, ZT_MiB + 100, 1000, 70000), 70000);
	b = memfd_bytes(x, ZT_MiB + 100, 70000);
	ck_assert_int_eq(zt_verify(b, 70000, SEED, 1000), -1);
	free(b);
	/* the buffer's bytes, put there through the memfd, into the file */
	fill = malloc(ZT_MiB);
	ck_assert_ptr_nonnull(fill);
	zt_fill(fill, ZT_MiB, SEED + 1, 2 * ZT_MiB);
	ck_assert_int_eq(pwrite(x->memfd, fill, ZT_MiB, 0), ZT_MiB);
	free(fill);
	ck_assert_int_eq(zc_write(r, 0, 2 * ZT_MiB, ZT_MiB), ZT_MiB);
	n = zt_verify_file(x->path, 2 * ZT_MiB, ZT_MiB, SEED + 1);
	ck_assert_msg(n == -1, "byte %zd written from the dma-buf differs", n);
	/* a queued read */
	ck_assert_int_eq(zc_queue_create(x->ctx, 4, 0, &q), 0);
	ck_assert_int_eq(zc_prep_read(q, r, 4096, 3 * ZT_MiB + 5, 9000, 7), 0);
	ck_assert_int_ge(zc_submit(q), 0);
	ck_assert_int_eq(zc_reap(q, &c, 1, 1, 10000), 1);
	ck_assert_int_eq(c.res, 9000);
	ck_assert_uint_eq(c.backend, zc_reg_backend(r));
	zc_queue_destroy(q);
	b = memfd_bytes(x, 4096, 9000);
	ck_assert_int_eq(zt_verify(b, 9000, SEED, 3 * ZT_MiB + 5), -1);
	free(b);
}

static void local_run(int oflags)
{
	struct zc_attempt a;
	struct zc_reg *r;
	struct fx x;
	int fds;

	fx_open(&x, oflags);
	fds = zt_fd_count();
	ck_assert_int_eq(reg_dmabuf(&x, ZC_ACCESS_READ | ZC_ACCESS_WRITE, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	/* the registration keeps its own fd: the caller's may go at once */
	close(x.dmabuf);
	x.dmabuf = -1;
	ck_assert_ptr_nonnull(zc_reg_addr(r));
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_BOUNCE, &a), 1);
	ck_assert_msg(strstr(a.reason, "dma-buf"), "%s", a.reason);
	check_io(&x, r);
	{
		struct zc_rdma_keys k;

		ck_assert_int_eq(zc_reg_rdma(r, &k), -ENODATA);
	}
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	/* its duplicate went with it; the caller's was closed above */
	ck_assert_int_eq(zt_fd_count(), fds - 1);
	fx_close(&x);
}

START_TEST(test_dmabuf_local_buffered)
{
	local_run(O_RDWR);
}
END_TEST

START_TEST(test_dmabuf_local_direct)
{
	local_run(O_RDWR | O_DIRECT);
}
END_TEST

START_TEST(test_dmabuf_refusals)
{
	struct zc_reg_params p = {
		.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_MEM_TYPE |
			      ZC_REG_FIELD_DMABUF_FD,
		.length = BUF + 4096, .mem_type = ZC_MEM_DMABUF,
	};
	struct zc_reg *r = NULL;
	struct fx x;

	fx_open(&x, O_RDWR);
	p.dmabuf_fd = x.dmabuf;
	ck_assert_int_eq(zc_reg_create(x.f, &p, &r), -EINVAL); /* too long */
	ck_assert(zt_log_has(&x.log, ZC_LOG_ERROR, "dma-buf's"));
	p.length = BUF;
	p.dmabuf_fd = x.memfd; /* the memory behind it is no dma-buf */
	ck_assert_int_eq(zc_reg_create(x.f, &p, &r), -EINVAL);
	ck_assert(zt_log_has(&x.log, ZC_LOG_ERROR, "not a dma-buf"));
	ck_assert_ptr_null(r);
	fx_close(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* remote access: fake verbs                                            */

static int child_fake_mr(void *arg)
{
	struct fake_verbs_live l0, l;
	struct zc_rdma_keys k;
	struct zc_attempt a;
	struct zc_reg *r;
	struct fx x;

	(void)arg;
	setenv("ZC_VERBS_LIB", ZT_FAKE_VERBS_LIB, 1);
	setenv("FAKE_VERBS_DMABUF", "ok", 1);
	fx_open(&x, O_RDWR);
	fake_verbs_live(&l0);
	ZT_CREQ(reg_dmabuf(&x, ZC_ACCESS_READ | ZC_ACCESS_WRITE |
			   ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE, &r) == 0);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_P2P_BAR);
	ZT_CREQ(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a) == 1);
	ZT_CREQ_MSG(strstr(a.reason, "dma-buf MR on fake0"), "%s", a.reason);
	ZT_CREQ(zc_reg_rdma(r, &k) == 0 && k.rkey && k.addr == 0);
	fake_verbs_live(&l);
	ZT_CREQ(l.mrs == l0.mrs + 1);
	/* the registration's own duplicate of the caller's dma-buf */
	{
		struct stat sa, sb;

		ZT_CREQ(l.last_dmabuf_fd >= 0 && l.last_dmabuf_fd != x.dmabuf);
		ZT_CREQ(!fstat(l.last_dmabuf_fd, &sa) && !fstat(x.dmabuf, &sb) &&
			sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
	}
	ZT_CREQ(l.last_access & 0x1); /* IBV_ACCESS_LOCAL_WRITE for REMOTE_WRITE */
	ZT_CREQ(zc_read(r, 0, 0, 65536) == 65536); /* the CPU's mapping */
	ZT_CREQ(zc_reg_destroy(r) == 0);
	fake_verbs_live(&l);
	ZT_CREQ(l.mrs == l0.mrs);
	/* remote only: an MR and no CPU mapping */
	ZT_CREQ(reg_dmabuf(&x, ZC_ACCESS_REMOTE_READ, &r) == 0);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_P2P_BAR && !zc_reg_addr(r));
	ZT_CREQ(zc_reg_destroy(r) == 0);
	fx_close(&x);
	return 0;
}

START_TEST(test_dmabuf_fake_mr)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fake_mr, NULL));
}
END_TEST

/* the device cannot (EOPNOTSUPP, as rxe): remote access is not lost
 * silently, the registration fails and says why */
static void expect_refused(struct fx *x, const char *device)
{
	struct zc_reg *r = NULL;

	ck_assert_int_eq(reg_dmabuf(x, ZC_ACCESS_READ | ZC_ACCESS_REMOTE_READ, &r),
			 -EOPNOTSUPP);
	ck_assert_ptr_null(r);
	ck_assert_msg(zt_log_line_has(&x->log, ZC_LOG_WARN, "p2p_bar",
				      "ibv_reg_dmabuf_mr", device, NULL), "%s",
		      x->log.text);
	ck_assert_msg(zt_log_line_has(&x->log, ZC_LOG_WARN, "bounce", "dma-buf",
				      NULL, NULL), "%s", x->log.text);
}

static int child_fake_refused(void *arg)
{
	struct fx x;

	(void)arg;
	setenv("ZC_VERBS_LIB", ZT_FAKE_VERBS_LIB, 1);
	unsetenv("FAKE_VERBS_DMABUF");
	fx_open(&x, O_RDWR);
	expect_refused(&x, "fake0");
	fx_close(&x);
	return 0;
}

START_TEST(test_dmabuf_fake_refused)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fake_refused, NULL));
}
END_TEST

static int child_fake_fault(void *arg)
{
	struct zc_reg *r = NULL;
	struct fake_verbs_live l;
	struct fx x;

	(void)arg;
	setenv("ZC_VERBS_LIB", ZT_FAKE_VERBS_LIB, 1);
	setenv("FAKE_VERBS_DMABUF", "ok", 1);
	setenv("ZC_FAULT", "p2p_bar:reg_mr:EIO", 1);
	fx_open(&x, O_RDWR);
	ZT_CREQ(reg_dmabuf(&x, ZC_ACCESS_READ | ZC_ACCESS_REMOTE_READ, &r) < 0);
	ZT_CREQ(zt_log_line_has(&x.log, ZC_LOG_WARN, "p2p_bar", "injected",
				NULL, NULL));
	fake_verbs_live(&l);
	ZT_CREQ(l.mrs == 0);
	fx_close(&x);
	return 0;
}

START_TEST(test_dmabuf_fake_fault)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fake_fault, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* remote access: the real device                                       */

START_TEST(test_dmabuf_real_device)
{
	struct zc_backend_info bi;
	struct zc_reg *r = NULL;
	struct fx x;
	int ret;

	fx_open(&x, O_RDWR);
	ck_assert_int_eq(zc_ctx_query(x.ctx, ZC_BACKEND_P2P_BAR, &bi), 0);
	ret = reg_dmabuf(&x, ZC_ACCESS_READ | ZC_ACCESS_REMOTE_READ, &r);
	printf("dmabuf: REMOTE_READ registration on the real device: %d; %s",
	       ret, x.log.text);
	if (!ret) { /* a device that imports dma-bufs (mlx5, irdma) */
		struct zc_rdma_keys k;

		ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_P2P_BAR);
		ck_assert_int_eq(zc_reg_rdma(r, &k), 0);
		ck_assert_int_eq(zc_reg_destroy(r), 0);
	} else {
		ck_assert_int_eq(ret, -EOPNOTSUPP);
		ck_assert(zt_log_line_has(&x.log, ZC_LOG_WARN, "p2p_bar",
					  "ibv_reg_dmabuf_mr", NULL, NULL));
	}
	fx_close(&x);
}
END_TEST

static void require_udmabuf(void)
{
	int memfd, dmabuf, err = make_udmabuf(&memfd, &dmabuf);

	if (err)
		zt_skip("no udmabuf to stand in for device memory: %s "
			"(/dev/udmabuf, CONFIG_UDMABUF)", strerror(-err));
	close(dmabuf);
	close(memfd);
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("dmabuf");
	const char *mode = argc == 2 ? argv[1] : "";
	char why[256];
	TCase *tc;

	zt_init();
	if (strcmp(mode, "local") && strcmp(mode, "fake") && strcmp(mode, "rdma")) {
		fprintf(stderr, "usage: test_dmabuf local|fake|rdma\n");
		return 2;
	}
	g_dir = zt_any_dir();
	if (!zt_odirect_works(g_dir, why, sizeof(why)))
		zt_skip("O_DIRECT in %s: %s", g_dir, why);
	require_udmabuf();
	tc = zt_tcase(mode);
	if (!strcmp(mode, "local")) {
		tcase_add_test(tc, test_dmabuf_local_buffered);
		tcase_add_test(tc, test_dmabuf_local_direct);
		tcase_add_test(tc, test_dmabuf_refusals);
	} else if (!strcmp(mode, "fake")) {
		tcase_add_test(tc, test_dmabuf_fake_mr);
		tcase_add_test(tc, test_dmabuf_fake_refused);
		tcase_add_test(tc, test_dmabuf_fake_fault);
	} else {
		struct zc_backend_info bi;
		struct zc_ctx *ctx;

		if (zc_ctx_create(NULL, &ctx))
			return 1;
		zc_ctx_query(ctx, ZC_BACKEND_P2P_BAR, &bi);
		zc_ctx_destroy(ctx);
		if (!strstr(bi.reason, "dma-buf memory regions on"))
			zt_skip("no RDMA device: p2p_bar: %s", bi.reason);
		tcase_add_test(tc, test_dmabuf_real_device);
	}
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
