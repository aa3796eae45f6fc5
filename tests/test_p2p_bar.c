/* SPDX-License-Identifier: MIT */
/*
 * The p2p_bar backend and the zc_p2p_* calls on this machine, which has
 * no PCI peer memory: a fake sysfs tree ($ZC_SYSFS_ROOT) puts the test
 * file's disk on an NVMe function 0000:03:00.0 and gives four p2pmem
 * publishers, and tests/data/p2p-backend.dump ($ZC_PCI_DUMP) is the PCI
 * topology:
 *
 *   root port 00:01.0 - switch 01:00.0 - 02:00.0 - 03:00.0 (the file's disk, publisher)
 *                                      - 02:01.0 - 04:00.0 (publisher, 2 + 2 hops)
 *   root port 00:02.0 - 05:00.0 (publisher, only through the host bridge)
 *   0000:07:00.0: a publisher the topology does not know
 *
 * Each publisher's p2pmem/allocate is a regular file, so the data really
 * moves: O_DIRECT reads and writes of a real file into and out of its
 * MAP_SHARED mapping, which the test checks byte for byte against pread
 * and against the allocate file itself.
 *
 *   test_p2p_bar DUMP    the seam suite above
 *   test_p2p_bar real    the same I/O on this machine's real p2pmem (the
 *                        test guest of tests/vm: a file on ext4 on one
 *                        NVMe, its own CMB and the peer's behind the
 *                        switch); 77 where there is none, or not as root
 *   test_p2p_bar tree DIR
 *                        only build the fake tree for DIR's disk (inside
 *                        DIR) and print its root, for the tools' tests
 *                        (tests/p2p_tools_test.sh) to set ZC_SYSFS_ROOT to
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helpers.h"

#define SEED 0x9b2u
#define FSIZE (4 * ZT_MiB)
#define POOL (8 * ZT_MiB)
#define CHUNK ZT_MiB
#define ZC_P2P_BDF_LEN_T 16

static const char *g_dir;
static char g_root[512];
static const char *g_disk = "nvme0n1"; /* the test directory's disk */

/* ------------------------------------------------------------------ */
/* the fake sysfs tree                                                  */

static void put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	if (mkdir(tmp, 0755) && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", tmp, strerror(errno));
		exit(1);
	}
}

static void link_to(const char *target, const char *link)
{
	if (symlink(target, link)) {
		fprintf(stderr, "symlink %s -> %s: %s\n", link, target, strerror(errno));
		exit(1);
	}
}

/* <root>/devices/<path> with p2pmem/ (pool bytes, an allocate file) when
 * pool is nonzero, and the bus/pci/devices link to it */
static void function(const char *path, uint64_t pool)
{
	char dir[PATH_MAX], sub[PATH_MAX + 16], bus[PATH_MAX], num[32];
	const char *bdf = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int fd;

	snprintf(dir, sizeof(dir), "%s/devices/%s", g_root, path);
	mkdirs(dir);
	snprintf(bus, sizeof(bus), "%s/bus/pci/devices/%s", g_root, bdf);
	link_to(dir, bus);
	if (!pool)
		return;
	snprintf(sub, sizeof(sub), "%s/p2pmem", dir);
	mkdirs(sub);
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)pool);
	put(sub, "size", num);
	put(sub, "available", num);
	put(sub, "published", "1\n");
	snprintf(sub, sizeof(sub), "%s/p2pmem/allocate", dir);
	fd = open(sub, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)pool) || close(fd)) {
		fprintf(stderr, "%s: %s\n", sub, strerror(errno));
		exit(1);
	}
}

static void make_tree(void)
{
	const char *nvme = "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0";
	char disk[PATH_MAX], link[PATH_MAX + 64], sub[PATH_MAX + 16];
	struct stat st;

	snprintf(g_root, sizeof(g_root), "%s/p2psys.XXXXXX", g_dir);
	if (!mkdtemp(g_root)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(sub, sizeof(sub), "%s/bus/pci/devices", g_root);
	mkdirs(sub);
	function("pci0000:00/0000:00:01.0", 0);
	function("pci0000:00/0000:00:01.0/0000:01:00.0", 0);
	function("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0", 0);
	function("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0", 0);
	function(nvme, POOL);
	function("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:04:00.0", POOL);
	function("pci0000:00/0000:00:02.0/0000:05:00.0", POOL);
	function("pci0000:00/0000:07:00.0", POOL);

	/* the test directory's disk hangs off 03:00.0 */
	snprintf(disk, sizeof(disk), "%s/devices/%s/nvme/nvme0/%s", g_root, nvme,
		 g_disk);
	snprintf(sub, sizeof(sub), "%s/queue", disk);
	mkdirs(sub);
	put(sub, "logical_block_size", "512\n");
	put(sub, "max_segments", "33\n");
	snprintf(sub, sizeof(sub), "%s/device", disk);
	link_to("..", sub); /* nvme0 */
	if (stat(g_dir, &st)) {
		fprintf(stderr, "stat %s: %s\n", g_dir, strerror(errno));
		exit(1);
	}
	snprintf(sub, sizeof(sub), "%s/dev/block", g_root);
	mkdirs(sub);
	snprintf(link, sizeof(link), "%s/%u:%u", sub, major(st.st_dev), minor(st.st_dev));
	link_to(disk, link);
}

static void allocate_path(const char *bdf, char *out, size_t len)
{
	snprintf(out, len, "%s/bus/pci/devices/%s/p2pmem/allocate", g_root, bdf);
}

/* a chunk of bdf's pool as an application would map it itself */
static void *map_pool(const char *bdf)
{
	char path[PATH_MAX];
	void *p;
	int fd;

	allocate_path(bdf, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED);
	close(fd);
	return p;
}

/* ------------------------------------------------------------------ */
/* fixture                                                              */

struct fx {
	struct zc_ctx *ctx;
	struct zc_file *f;
	int fd;
	char path[PATH_MAX];
	struct zt_log log;
};

static void fx_open(struct fx *x, int oflags)
{
	struct zc_ctx_params p = { .field_mask = ZC_CTX_FIELD_LOG_FN |
				   ZC_CTX_FIELD_LOG_LEVEL,
				   .log_fn = zt_log_fn, .log_arg = &x->log,
				   .log_level = ZC_LOG_DEBUG };

	memset(&x->log, 0, sizeof(x->log));
	x->fd = zt_make_file(g_dir, FSIZE, SEED, oflags, x->path);
	ck_assert_msg(x->fd >= 0, "file in %s: %s", g_dir, strerror(-x->fd));
	ck_assert_int_eq(zc_ctx_create(&p, &x->ctx), 0);
	ck_assert_int_eq(zc_file_open(x->ctx, x->fd, 0, &x->f), 0);
}

static void fx_close(struct fx *x)
{
	zc_file_close(x->f);
	zc_ctx_destroy(x->ctx);
	close(x->fd);
	unlink(x->path);
}

/* Snapshot for a leak check around a whole context: one context made
 * and destroyed first, so that what stays loaded for the process's life
 * (libibverbs and its provider, where the machine has an RDMA device) is
 * already in the snapshot. */
static void snap_warm(struct zt_res *before)
{
	struct zc_ctx *ctx;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	zc_ctx_destroy(ctx);
	zt_res_snap(before);
}

static int reg_p2p(struct fx *x, void *mem, unsigned access, unsigned flags,
		   struct zc_reg **r)
{
	struct zc_reg_params p = {
		.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
			      ZC_REG_FIELD_ACCESS | ZC_REG_FIELD_FLAGS |
			      ZC_REG_FIELD_MEM_TYPE,
		.addr = mem, .length = CHUNK, .access = access, .flags = flags,
		.mem_type = ZC_MEM_P2P,
	};

	return zc_reg_create(x->f, &p, r);
}

/* zc_read/zc_write through r, aligned and not, against the file itself */
static void check_io(struct fx *x, struct zc_reg *r, uint8_t *mem)
{
	ssize_t n;

	memset(mem, 0, CHUNK);
	ck_assert_int_eq(zc_read(r, 0, 0, CHUNK), CHUNK);
	ck_assert_int_eq(zt_verify(mem, CHUNK, SEED, 0), -1);
	/* sub-block offsets: the edges go through staging */
	memset(mem, 0, CHUNK);
	ck_assert_int_eq(zc_read(r, 100, 1000, 70000), 70000);
	ck_assert_int_eq(zt_verify(mem + 100, 70000, SEED, 1000), -1);
	ck_assert_int_eq(mem[99], 0);
	ck_assert_int_eq(mem[100 + 70000], 0);
	/* memory -> file, seen by a buffered pread of another fd */
	zt_fill(mem, CHUNK, SEED + 1, 2 * ZT_MiB);
	ck_assert_int_eq(zc_write(r, 0, 2 * ZT_MiB, CHUNK), CHUNK);
	n = zt_verify_file(x->path, 2 * ZT_MiB, CHUNK, SEED + 1);
	ck_assert_msg(n == -1, "byte %zd of the written MiB differs", n);
	zt_fill(mem + 4096, 5000, SEED + 2, 777);
	ck_assert_int_eq(zc_write(r, 4096, 777, 5000), 5000);
	n = zt_verify_file(x->path, 777, 5000, SEED + 2);
	ck_assert_msg(n == -1, "byte %zd of the unaligned write differs", n);
	n = zt_verify_file(x->path, 0, 777, SEED);
	ck_assert_msg(n == -1, "byte %zd before the unaligned write changed", n);
	n = zt_verify_file(x->path, 5777, 8192, SEED);
	ck_assert_msg(n == -1, "byte %zd after the unaligned write changed", n);
}

/* two queued reads, one aligned and one not, completed by the backend */
static void check_queue(struct fx *x, struct zc_reg *r, uint8_t *mem,
			enum zc_backend expect)
{
	struct zc_completion c[2];
	struct zc_queue *q;
	int got = 0;

	ck_assert_int_eq(zc_queue_create(x->ctx, 8, 0, &q), 0);
	memset(mem, 0, CHUNK);
	ck_assert_int_eq(zc_prep_read(q, r, 0, ZT_MiB, 64 * 1024, 1), 0);
	ck_assert_int_eq(zc_prep_read(q, r, 65536 + 3, ZT_MiB + 3, 9000, 2), 0);
	ck_assert_int_ge(zc_submit(q), 0);
	while (got < 2) {
		int n = zc_reap(q, c + got, 2 - (unsigned)got, 1, 10000);

		ck_assert_int_gt(n, 0);
		got += n;
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(c[i].res, c[i].user_data == 1 ? 65536 : 9000);
		ck_assert_uint_eq(c[i].backend, expect);
	}
	ck_assert_int_eq(zt_verify(mem, 65536, SEED, ZT_MiB), -1);
	ck_assert_int_eq(zt_verify(mem + 65536 + 3, 9000, SEED, ZT_MiB + 3), -1);
	zc_queue_destroy(q);
}

/* ------------------------------------------------------------------ */
/* discovery and allocation                                             */

START_TEST(test_p2p_providers_by_reach)
{
	struct zc_p2p_provider pv[8];
	struct zc_file_info fi;
	struct fx x;
	int n;

	fx_open(&x, O_RDWR | O_DIRECT);
	ck_assert_int_eq(zc_file_query(x.f, &fi, sizeof(fi)), 0);
	ck_assert_str_eq(fi.pci_bdf, "0000:03:00.0");
	n = zc_p2p_providers(x.ctx, x.f, pv, 8, sizeof(pv[0]));
	ck_assert_int_eq(n, 4);
	/* nearest first: its own device, then the peer behind the switch */
	ck_assert_str_eq(pv[0].pci_bdf, "0000:03:00.0");
	ck_assert_int_eq(pv[0].distance, 0);
	ck_assert_uint_eq(pv[0].reachable, 1);
	ck_assert_str_eq(pv[1].pci_bdf, "0000:04:00.0");
	ck_assert_int_eq(pv[1].distance, 4);
	ck_assert_uint_eq(pv[1].reachable, 1);
	ck_assert_msg(strstr(pv[1].reason, "0000:01:00.0"), "%s", pv[1].reason);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(pv[i].size, POOL);
		ck_assert_uint_eq(pv[i].available, POOL);
		ck_assert_uint_eq(pv[i].published, 1);
		ck_assert_msg(pv[i].reason[0], "%s has no reason", pv[i].pci_bdf);
		/* the function the topology lacks is never reachable */
		if (!strcmp(pv[i].pci_bdf, "0000:07:00.0"))
			ck_assert_uint_eq(pv[i].reachable, 0);
	}
	/* fewer slots than publishers: the count stays, the rest untouched */
	memset(pv, 0xa5, sizeof(pv));
	ck_assert_int_eq(zc_p2p_providers(x.ctx, x.f, pv, 1, sizeof(pv[0])), 4);
	ck_assert_str_eq(pv[0].pci_bdf, "0000:03:00.0");
	ck_assert_uint_eq((uint8_t)pv[1].pci_bdf[0], 0xa5);
	/* without a file: by address, reach unknown */
	ck_assert_int_eq(zc_p2p_providers(x.ctx, NULL, pv, 8, sizeof(pv[0])), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pv[i].distance, -1);
		ck_assert_uint_eq(pv[i].reachable, 0);
	}
	ck_assert_int_eq(zc_p2p_providers(NULL, x.f, pv, 8, sizeof(pv[0])), -EINVAL);
	ck_assert_int_eq(zc_p2p_providers(x.ctx, x.f, NULL, 8, sizeof(pv[0])), -EINVAL);
	ck_assert_int_eq(zc_p2p_providers(x.ctx, x.f, NULL, 0, 0), 4);
	/* a caller built with a later, larger struct: stride kept, the
	 * fields this library lacks zeroed */
	{
		struct later {
			struct zc_p2p_provider p;
			uint64_t added;
		} lt[4];

		memset(lt, 0xa5, sizeof(lt));
		ck_assert_int_eq(zc_p2p_providers(x.ctx, x.f, &lt[0].p, 4,
						  sizeof(lt[0])), 4);
		ck_assert_str_eq(lt[1].p.pci_bdf, "0000:04:00.0");
		ck_assert_uint_eq(lt[1].added, 0);
		ck_assert_int_eq(zc_p2p_providers(x.ctx, x.f, pv, 8, 16), -EINVAL);
	}
	fx_close(&x);
}
END_TEST

/* what the chunk at p holds is what bdf's allocate file holds */
static void check_backed_by(void *p, const char *bdf)
{
	char path[PATH_MAX];
	uint8_t byte = 0;
	int fd;

	allocate_path(bdf, path, sizeof(path));
	zt_fill(p, CHUNK, SEED + 7, 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, 12345), 1);
	close(fd);
	ck_assert_uint_eq(byte, zt_pat(SEED + 7, 12345));
}

START_TEST(test_p2p_alloc_nearest_and_named)
{
	struct zt_res before;
	void *p = NULL;
	struct fx x;

	fx_open(&x, O_RDWR | O_DIRECT);
	zt_res_snap(&before);
	ck_assert_int_eq(zc_p2p_alloc(x.f, NULL, CHUNK, &p), 0);
	check_backed_by(p, "0000:03:00.0"); /* its own device: distance 0 */
	ck_assert_int_eq(zc_p2p_free(p, CHUNK), 0);
	ck_assert_int_eq(zc_p2p_alloc(x.f, "0000:04:00.0", CHUNK, &p), 0);
	check_backed_by(p, "0000:04:00.0");
	ck_assert_int_eq(zc_p2p_free(p, CHUNK), 0);
	{
		char why[256];

		ck_assert_msg(!zt_res_check(&before, 0, why, sizeof(why)), "%s", why);
	}
	fx_close(&x);
}
END_TEST

START_TEST(test_p2p_alloc_refusals)
{
	void *p = NULL, *anon = zt_map_anon(CHUNK);
	struct fx x;

	fx_open(&x, O_RDWR | O_DIRECT);
	ck_assert_int_eq(zc_p2p_alloc(NULL, NULL, CHUNK, &p), -EINVAL);
	ck_assert_int_eq(zc_p2p_alloc(x.f, NULL, 0, &p), -EINVAL);
	ck_assert_int_eq(zc_p2p_alloc(x.f, NULL, CHUNK, NULL), -EINVAL);
	/* a name that is no PCI address never reaches a path */
	ck_assert_int_eq(zc_p2p_alloc(x.f, "../../../etc", CHUNK, &p), -EINVAL);
	ck_assert_int_eq(zc_p2p_alloc(x.f, "0000:03:00.0/..", CHUNK, &p), -EINVAL);
	ck_assert(zt_log_has(&x.log, ZC_LOG_ERROR, "not a PCI address"));
	ck_assert_int_eq(zc_p2p_alloc(x.f, "0000:09:00.0", CHUNK, &p), -ENODEV);
	/* more than any reachable publisher has */
	ck_assert_int_eq(zc_p2p_alloc(x.f, NULL, 2 * POOL, &p), -ENOMEM);
	ck_assert(zt_log_has(&x.log, ZC_LOG_ERROR, "bytes available"));
	ck_assert_ptr_null(p);
	/* zc_p2p_free takes p2pmem mappings only */
	ck_assert_int_eq(zc_p2p_free(anon, CHUNK), -EINVAL);
	ck_assert_int_eq(zc_p2p_free(NULL, CHUNK), -EINVAL);
	munmap(anon, CHUNK);
	fx_close(&x);
}
END_TEST

static int child_fault_alloc(void *arg)
{
	void *p = NULL;
	struct fx x;

	(void)arg;
	setenv("ZC_FAULT", "core:p2p_alloc:EIO", 1);
	fx_open(&x, O_RDWR | O_DIRECT);
	ZT_CREQ(zc_p2p_alloc(x.f, NULL, CHUNK, &p) == -EIO);
	ZT_CREQ(zt_log_has(&x.log, ZC_LOG_ERROR, "injected"));
	fx_close(&x);
	return 0;
}

START_TEST(test_p2p_alloc_fault)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_alloc, NULL));
}
END_TEST

/* ------------------------------------------------------------------ */
/* registrations                                                        */

START_TEST(test_p2p_bar_peer_cmb)
{
	struct zc_attempt a;
	struct zt_res before;
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	snap_warm(&before);
	fx_open(&x, O_RDWR | O_DIRECT);
	mem = map_pool("0000:04:00.0");
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE,
				 ZC_REG_REQUIRE_ZEROCOPY, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_P2P_BAR);
	ck_assert_ptr_eq(zc_reg_addr(r), mem);
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a), 1);
	ck_assert_int_eq(a.error, 0);
	ck_assert_msg(strstr(a.reason, "0000:04:00.0") &&
		      strstr(a.reason, "O_DIRECT"), "%s", a.reason);
	check_io(&x, r, mem);
	check_queue(&x, r, mem, ZC_BACKEND_P2P_BAR);
	{
		struct zc_rdma_keys k;

		ck_assert_int_eq(zc_reg_rdma(r, &k), -ENODATA);
	}
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	munmap(mem, CHUNK);
	fx_close(&x);
	{
		char why[256];

		ck_assert_msg(!zt_res_check(&before, 0, why, sizeof(why)), "%s", why);
	}
}
END_TEST

START_TEST(test_p2p_bar_own_cmb)
{
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	fx_open(&x, O_RDWR | O_DIRECT);
	ck_assert_int_eq(zc_p2p_alloc(x.f, NULL, CHUNK, (void **)&mem), 0);
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_P2P_BAR);
	check_io(&x, r, mem);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zc_p2p_free(mem, CHUNK), 0);
	fx_close(&x);
}
END_TEST

/* memory the file's device may not reach: bounce, through host memory */
START_TEST(test_p2p_unreachable_falls_back)
{
	struct zc_attempt a;
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	fx_open(&x, O_RDWR | O_DIRECT);
	mem = map_pool("0000:07:00.0");
	ck_assert_int_lt(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE,
				 ZC_REG_REQUIRE_ZEROCOPY, &r), 0);
	ck_assert(zt_log_has(&x.log, ZC_LOG_WARN, "0000:07:00.0"));
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a), 1);
	ck_assert_int_eq(a.error, -EREMOTEIO);
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_BOUNCE, &a), 1);
	ck_assert_msg(strstr(a.reason, "through host memory"), "%s", a.reason);
	check_io(&x, r, mem);
	check_queue(&x, r, mem, ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	munmap(mem, CHUNK);
	fx_close(&x);
}
END_TEST

START_TEST(test_p2p_buffered_file_falls_back)
{
	struct zc_attempt a;
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	fx_open(&x, O_RDWR);
	mem = map_pool("0000:04:00.0");
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a), 1);
	ck_assert_int_eq(a.error, -EOPNOTSUPP);
	ck_assert_msg(strstr(a.reason, "O_DIRECT"), "%s", a.reason);
	check_io(&x, r, mem);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	munmap(mem, CHUNK);
	fx_close(&x);
}
END_TEST

START_TEST(test_p2p_refusals)
{
	void *anon = zt_map_anon(CHUNK);
	struct zc_reg *r = NULL;
	uint8_t *mem;
	struct fx x;

	fx_open(&x, O_RDWR | O_DIRECT);
	mem = map_pool("0000:04:00.0");
	/* remote access: no backend can give p2pmem a memory region */
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_REMOTE_READ,
				 0, &r), -EOPNOTSUPP);
	ck_assert_msg(zt_log_has(&x.log, ZC_LOG_WARN, "p2p_bar"), "%s", x.log.text);
	/* ZC_MEM_P2P that is not p2pmem */
	ck_assert_int_eq(reg_p2p(&x, anon, ZC_ACCESS_READ, 0, &r), -EINVAL);
	ck_assert(zt_log_has(&x.log, ZC_LOG_ERROR, "ZC_MEM_P2P"));
	/* part of it only: the range runs past the chunk's end */
	{
		struct zc_reg_params p = {
			.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
				      ZC_REG_FIELD_MEM_TYPE,
			.addr = mem + 4096, .length = CHUNK, .mem_type = ZC_MEM_P2P,
		};

		ck_assert_int_eq(zc_reg_create(x.f, &p, &r), -EINVAL);
		p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_MEM_TYPE |
			       ZC_REG_FIELD_FLAGS;
		p.flags = ZC_REG_MAP_FILE;
		ck_assert_int_eq(zc_reg_create(x.f, &p, &r), -EINVAL);
	}
	ck_assert_ptr_null(r);
	munmap(mem, CHUNK);
	munmap(anon, CHUNK);
	fx_close(&x);
}
END_TEST

/* the same machine with the file's disk not NVMe (a SCSI disk on the
 * same function): its queue takes no p2p pages, bounce it is */
static int child_not_nvme(void *arg)
{
	struct zc_attempt a;
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	(void)arg;
	g_disk = "sda";
	make_tree();
	setenv("ZC_SYSFS_ROOT", g_root, 1);
	fx_open(&x, O_RDWR | O_DIRECT);
	mem = map_pool("0000:04:00.0");
	ZT_CREQ(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0, &r) == 0);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_BOUNCE);
	ZT_CREQ(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a) == 1);
	ZT_CREQ_MSG(a.error == -EOPNOTSUPP && strstr(a.reason, "not NVMe"), "%s",
		    a.reason);
	ZT_CREQ(zc_read(r, 0, 4096, 65536) == 65536);
	ZT_CREQ(zt_verify(mem, 65536, SEED, 4096) == -1);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	munmap(mem, CHUNK);
	fx_close(&x);
	return 0;
}

START_TEST(test_p2p_not_nvme_falls_back)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_not_nvme, NULL));
}
END_TEST

static int child_fault_io(void *arg)
{
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	(void)arg;
	setenv("ZC_FAULT", "p2p_bar:io:EIO", 1);
	fx_open(&x, O_RDWR | O_DIRECT);
	mem = map_pool("0000:04:00.0");
	ZT_CREQ(reg_p2p(&x, mem, ZC_ACCESS_READ, 0, &r) == 0);
	ZT_CREQ(zc_reg_backend(r) == ZC_BACKEND_P2P_BAR);
	ZT_CREQ(zc_read(r, 0, 0, 65536) == -EIO);
	ZT_CREQ(zc_reg_destroy(r) == 0);
	munmap(mem, CHUNK);
	fx_close(&x);
	return 0;
}

START_TEST(test_p2p_fault_io)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_fault_io, NULL));
}
END_TEST

/* a tree without publishers: unavailable, with the reason */
static int child_no_publisher(void *arg)
{
	char root[PATH_MAX], sub[PATH_MAX + 32];
	struct zc_backend_info bi;
	struct zc_ctx *ctx;
	void *p = NULL;
	struct fx x;

	(void)arg;
	snprintf(root, sizeof(root), "%s/empty.XXXXXX", g_root);
	ZT_CREQ(mkdtemp(root) != NULL);
	snprintf(sub, sizeof(sub), "%s/bus/pci/devices", root);
	mkdirs(sub);
	setenv("ZC_SYSFS_ROOT", root, 1);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_P2P_BAR, &bi) == 0);
	/* still there for dma-buf memory regions where an RDMA device is */
	ZT_CREQ(strstr(bi.reason, "no p2pmem publisher") != NULL);
	ZT_CREQ(bi.available == !!strstr(bi.reason, "dma-buf memory regions on"));
	zc_ctx_destroy(ctx);
	fx_open(&x, O_RDWR | O_DIRECT);
	ZT_CREQ(zc_p2p_providers(x.ctx, x.f, NULL, 0, 0) == 0);
	ZT_CREQ(zc_p2p_alloc(x.f, NULL, CHUNK, &p) == -ENODEV);
	fx_close(&x);
	return 0;
}

START_TEST(test_p2p_no_publisher)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_no_publisher, NULL));
}
END_TEST

static int child_probe_fault(void *arg)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;

	(void)arg;
	setenv("ZC_FAULT", "p2p_bar:probe:EIO", 1);
	ZT_CREQ(zc_ctx_create(NULL, &ctx) == 0);
	ZT_CREQ(zc_ctx_query(ctx, ZC_BACKEND_P2P_BAR, &bi) == 0);
	ZT_CREQ(!bi.available && strstr(bi.reason, "injected"));
	zc_ctx_destroy(ctx);
	return 0;
}

START_TEST(test_p2p_fault_probe)
{
	ZT_CK_CHILD_OK(zt_fork_run(child_probe_fault, NULL));
}
END_TEST

START_TEST(test_p2p_available_here)
{
	struct zc_backend_info bi;
	struct zc_ctx *ctx;

	ck_assert_int_eq(zc_ctx_create(NULL, &ctx), 0);
	ck_assert_int_eq(zc_ctx_query(ctx, ZC_BACKEND_P2P_BAR, &bi), 0);
	ck_assert_msg(bi.available, "%s", bi.reason);
	ck_assert_msg(strstr(bi.reason, "4 p2pmem publishers"), "%s", bi.reason);
	zc_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* real p2pmem (the guest)                                              */

/* the reachable publisher at distance 0 (own) or > 0 (peer), else skip */
static void real_pick(struct fx *x, bool own, char *bdf)
{
	struct zc_p2p_provider pv[8];
	int n = zc_p2p_providers(x->ctx, x->f, pv, 8, sizeof(pv[0]));

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n && i < 8; i++) {
		printf("p2p: %s size %llu available %llu published %u reachable %u "
		       "distance %d: %s\n", pv[i].pci_bdf,
		       (unsigned long long)pv[i].size,
		       (unsigned long long)pv[i].available, pv[i].published,
		       pv[i].reachable, pv[i].distance, pv[i].reason);
		if (pv[i].reachable && (pv[i].distance == 0) == own) {
			memcpy(bdf, pv[i].pci_bdf, ZC_P2P_BDF_LEN_T);
			bdf[ZC_P2P_BDF_LEN_T - 1] = 0;
			return;
		}
	}
	ck_abort_msg("no reachable %s p2pmem among %d publishers",
		     own ? "own" : "peer", n);
}

static void real_run(bool own)
{
	char bdf[ZC_P2P_BDF_LEN_T], ab[1024];
	struct zc_attempt a;
	struct zt_res before;
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	snap_warm(&before);
	fx_open(&x, O_RDWR | O_DIRECT);
	real_pick(&x, own, bdf);
	ck_assert_int_eq(zc_p2p_alloc(x.f, bdf, CHUNK, (void **)&mem), 0);
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE,
				 ZC_REG_REQUIRE_ZEROCOPY, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_P2P_BAR);
	ck_assert_int_eq(zt_find_attempt(r, ZC_BACKEND_P2P_BAR, &a), 1);
	printf("p2p: %s CMB %s: %s\n", own ? "own" : "peer", bdf,
	       zt_attempts_str(r, ab, sizeof(ab)));
	check_io(&x, r, mem);
	check_queue(&x, r, mem, ZC_BACKEND_P2P_BAR);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zc_p2p_free(mem, CHUNK), 0);
	fx_close(&x);
	{
		char why[256];

		ck_assert_msg(!zt_res_check(&before, 0, why, sizeof(why)), "%s", why);
	}
}

START_TEST(test_p2p_real_own_cmb)
{
	real_run(true);
}
END_TEST

START_TEST(test_p2p_real_peer_cmb)
{
	real_run(false);
}
END_TEST

/* a buffered file: the same memory through host staging */
START_TEST(test_p2p_real_buffered_falls_back)
{
	char bdf[ZC_P2P_BDF_LEN_T];
	struct zc_reg *r;
	uint8_t *mem;
	struct fx x;

	fx_open(&x, O_RDWR);
	real_pick(&x, false, bdf);
	ck_assert_int_eq(zc_p2p_alloc(x.f, bdf, CHUNK, (void **)&mem), 0);
	ck_assert_int_eq(reg_p2p(&x, mem, ZC_ACCESS_READ | ZC_ACCESS_WRITE, 0, &r), 0);
	ck_assert_int_eq(zc_reg_backend(r), ZC_BACKEND_BOUNCE);
	check_io(&x, r, mem);
	ck_assert_int_eq(zc_reg_destroy(r), 0);
	ck_assert_int_eq(zc_p2p_free(mem, CHUNK), 0);
	fx_close(&x);
}
END_TEST

/* p2pmem here at all, and may this process map it? (before the suite:
 * no Check assertions) */
static void real_require(void)
{
	struct zc_p2p_provider pv[8];
	char path[PATH_MAX];
	struct zc_ctx *ctx;
	int n, fd;

	if (zc_ctx_create(NULL, &ctx)) {
		fprintf(stderr, "zc_ctx_create failed\n");
		exit(1);
	}
	n = zc_p2p_providers(ctx, NULL, pv, 8, sizeof(pv[0]));
	zc_ctx_destroy(ctx);
	if (n <= 0)
		zt_skip("no p2pmem publisher in /sys/bus/pci/devices");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate",
		 pv[0].pci_bdf);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		zt_skip("%s: %s", path, strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	const char *no_ext4 = NULL;
	Suite *s;
	char why[256];
	TCase *tc;

	if (argc == 3 && !strcmp(argv[1], "tree")) {
		g_dir = argv[2];
		make_tree();
		printf("%s\n", g_root);
		return 0;
	}
	zt_init();
	if (argc != 2) {
		fprintf(stderr, "usage: test_p2p_bar DUMP|real|tree DIR\n");
		return 2;
	}
	s = suite_create("p2p_bar");
	/* a file system on a block device, for the fake tree to put on NVMe */
	g_dir = zt_ext4_dir(&no_ext4);
	if (!g_dir)
		zt_skip("%s", no_ext4);
	if (!zt_odirect_works(g_dir, why, sizeof(why)))
		zt_skip("O_DIRECT in %s: %s", g_dir, why);
	if (!strcmp(argv[1], "real")) {
		real_require();
		tc = zt_tcase("real");
		tcase_add_test(tc, test_p2p_real_own_cmb);
		tcase_add_test(tc, test_p2p_real_peer_cmb);
		tcase_add_test(tc, test_p2p_real_buffered_falls_back);
		suite_add_tcase(s, tc);
		return zt_run_suite(s);
	}
	make_tree();
	setenv("ZC_SYSFS_ROOT", g_root, 1);
	setenv("ZC_PCI_DUMP", argv[1], 1);
	unsetenv("ZC_FAULT");
	tc = zt_tcase("discovery");
	tcase_add_test(tc, test_p2p_available_here);
	tcase_add_test(tc, test_p2p_providers_by_reach);
	tcase_add_test(tc, test_p2p_alloc_nearest_and_named);
	tcase_add_test(tc, test_p2p_alloc_refusals);
	tcase_add_test(tc, test_p2p_alloc_fault);
	tcase_add_test(tc, test_p2p_no_publisher);
	tcase_add_test(tc, test_p2p_fault_probe);
	suite_add_tcase(s, tc);
	tc = zt_tcase("registration");
	tcase_add_test(tc, test_p2p_bar_peer_cmb);
	tcase_add_test(tc, test_p2p_bar_own_cmb);
	tcase_add_test(tc, test_p2p_unreachable_falls_back);
	tcase_add_test(tc, test_p2p_buffered_file_falls_back);
	tcase_add_test(tc, test_p2p_refusals);
	tcase_add_test(tc, test_p2p_not_nvme_falls_back);
	tcase_add_test(tc, test_p2p_fault_io);
	suite_add_tcase(s, tc);
	return zt_run_suite(s);
}
