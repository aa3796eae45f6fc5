/* SPDX-License-Identifier: MIT */
/*
 * ODP MR against a pinned MR over a file range, on raw verbs: the two
 * measurements of the odp_mr issue, side by side in one run.
 *
 *   odp_bench [DIR]      DIR: where the file goes (default $ZC_TEST_EXT4_DIR)
 *
 * (a) registration of the file's whole range (default 1 GiB, written first
 *     so that it is in the page cache): the time of mmap + ibv_reg_mr, and
 *     VmPin and the system-wide FOLL_PIN count after it, for an ODP MR and
 *     for a non-ODP MR with REMOTE_READ only (the pinned MR a user would
 *     otherwise register: the kernel refuses a writable one over page
 *     cache);
 * (b) RDMA READ by the peer (tests/rdma_peer.c) of 1 MiB messages from
 *     each MR after a first pass has touched the range: throughput.
 * The columns take turns in each repetition (the order alternating), so
 * that drift of a shared, emulated machine hits both alike; medians are
 * reported, with the ratios odp/pinned.
 *
 * A column is a registration method (struct column). The third is odp_mr
 * through libzerocopy: zc_reg_create with ZC_REG_MAP_FILE and
 * ZC_ACCESS_REMOTE_READ in a context given the peer's target PD (the
 * application's PD), keys from zc_reg_rdma, with
 * ZC_QUIRKS=ignore:rxe-odp-subpage so that on rxe it is really an ODP MR
 * (the peer's READs are page-aligned 1 MiB at MTU 4096: what rxe's ODP
 * gets right). Its registration time includes the library's own mmap and
 * choice of backend, as the raw columns' includes their mmap; the
 * zc_file_open of the file is done once, outside, as the raw columns'
 * open is.
 *
 * The ratios are the medians of the ratios of each repetition's pair,
 * which a machine shared with other work disturbs less than a ratio of
 * medians (printed too): READ passes of one guest run varied from 24 to
 * 44 MB/s, in step for both columns.
 *
 * Environment: ZT_BENCH_SIZE_MB (1024), ZT_BENCH_READ_MB (bytes read per
 * pass, 64), ZT_BENCH_REPS (9, at most 15). Exit 0 with the table printed (the goals
 * are reported, not asserted: figures under emulation), 1 when a
 * registration or a transfer fails or moves wrong bytes, 77 without an
 * RDMA device with ODP or an ext4 directory with room.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <zerocopy.h>

#include "../rdma_peer.h"

#define MSG (1u << 20)
#define MAXREPS 15
#define OP_MS 60000
#define EXT4_MAGIC 0xEF53u

struct bench {
	int fd;
	size_t size;      /* of the file, all of it registered */
	size_t read_len;  /* read per pass */
	struct zt_rdma_peer *peer;
	uint8_t *buf;     /* the peer's 1 MiB */
	struct ibv_mr *bmr;
	uint8_t *ref;     /* 1 MiB of what the file should hold */
	struct zc_ctx *ctx;  /* the library's, in the peer's target PD */
	struct zc_file *zf;
};

struct column {
	const char *name;
	/* map and register the file's whole range: 0 or -errno with err */
	int (*reg)(struct column *c, struct bench *b, char *err, size_t len);
	void (*dereg)(struct column *c, struct bench *b);
	/* set by reg */
	uint64_t addr;
	uint32_t rkey;
	void *map;
	struct ibv_mr *mr;
	struct zc_reg *zreg;
	unsigned access;
	/* results */
	double reg_ms[MAXREPS];
	long pin_kb[MAXREPS];      /* VmPin change with the registration */
	int64_t foll[MAXREPS];     /* FOLL_PIN pages change, system-wide */
	double touch_mbs;
	long touch_pin_kb;         /* VmPin change after the first touch */
	double read_mbs[MAXREPS];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The file's bytes at off (a multiple of 8): 64-bit words that differ
 * from each other, so a READ from the wrong offset shows. Words, not
 * bytes: 1 GiB of it is made under emulation too. */
static void fill(uint8_t *p, uint64_t off, size_t len)
{
	uint64_t *w = (uint64_t *)(void *)p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = (off / 8 + i + 1) * UINT64_C(0x9E3779B97F4A7C15);
}

static int map_file(struct column *c, struct bench *b, char *err, size_t len)
{
	c->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		snprintf(err, len, "mmap of %zu bytes: %s", b->size, strerror(errno));
		return -errno;
	}
	c->addr = (uintptr_t)c->map;
	return 0;
}

static void raw_dereg(struct column *c, struct bench *b)
{
	if (c->mr)
		ibv_dereg_mr(c->mr);
	if (c->map)
		munmap(c->map, b->size);
	c->mr = NULL;
	c->map = NULL;
}

static int raw_reg(struct column *c, struct bench *b, unsigned access, char *err,
		   size_t len)
{
	int ret = map_file(c, b, err, len);

	if (ret)
		return ret;
	c->mr = ibv_reg_mr(zt_rdma_peer_target_pd(b->peer), c->map, b->size, access);
	if (!c->mr) {
		ret = -errno;
		snprintf(err, len, "ibv_reg_mr(0x%x) of %zu bytes: %s", access, b->size,
			 strerror(errno));
		raw_dereg(c, b);
		return ret;
	}
	c->access = access;
	c->rkey = c->mr->rkey;
	return 0;
}

/* the ODP MR with the peer's access only, as the pinned one has */
static int odp_reg(struct column *c, struct bench *b, char *err, size_t len)
{
	return raw_reg(c, b, IBV_ACCESS_ON_DEMAND | IBV_ACCESS_REMOTE_READ, err, len);
}

static int pinned_reg(struct column *c, struct bench *b, char *err, size_t len)
{
	return raw_reg(c, b, IBV_ACCESS_REMOTE_READ, err, len);
}

/* odp_mr through the library; anything else than odp_mr is an error:
 * the column would measure another backend under odp_mr's name */
static int lib_reg(struct column *c, struct bench *b, char *err, size_t len)
{
	struct zc_reg_params rp = {
		.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FILE_OFFSET |
			      ZC_REG_FIELD_ACCESS | ZC_REG_FIELD_FLAGS,
		.length = b->size,
		.file_offset = 0,
		.access = ZC_ACCESS_REMOTE_READ,
		.flags = ZC_REG_MAP_FILE,
	};
	struct zc_rdma_keys k;
	int ret = zc_reg_create(b->zf, &rp, &c->zreg);

	if (ret) {
		snprintf(err, len, "zc_reg_create(MAP_FILE, REMOTE_READ) of %zu bytes: %s",
			 b->size, zc_strerror(ret));
		return ret;
	}
	if (zc_reg_backend(c->zreg) != ZC_BACKEND_ODP_MR) {
		struct zc_attempt a;

		zc_reg_attempts(c->zreg, &a, 1);
		snprintf(err, len, "registered on %s, not odp_mr (%s: %s)",
			 zc_backend_name(zc_reg_backend(c->zreg)),
			 zc_backend_name(a.backend), a.reason);
		zc_reg_destroy(c->zreg);
		c->zreg = NULL;
		return -EOPNOTSUPP;
	}
	if ((ret = zc_reg_rdma(c->zreg, &k))) {
		snprintf(err, len, "zc_reg_rdma: %s", zc_strerror(ret));
		zc_reg_destroy(c->zreg);
		c->zreg = NULL;
		return ret;
	}
	c->addr = k.addr;
	c->rkey = k.rkey;
	return 0;
}

static void lib_dereg(struct column *c, struct bench *b)
{
	(void)b;
	if (c->zreg)
		zc_reg_destroy(c->zreg);
	c->zreg = NULL;
}

static struct column columns[] = {
	{ .name = "odp MR (raw verbs)", .reg = odp_reg, .dereg = raw_dereg },
	{ .name = "pinned MR (raw verbs)", .reg = pinned_reg, .dereg = raw_dereg },
	{ .name = "odp_mr (libzerocopy)", .reg = lib_reg, .dereg = lib_dereg },
};
#define NCOL (sizeof columns / sizeof columns[0])
#define ODP 0
#define PINNED 1
#define LIB 2

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAXREPS];

	memcpy(s, v, sizeof *v * (size_t)n);
	qsort(s, (size_t)n, sizeof *s, cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* the median of per-repetition ratios, and their range */
static double paired(const double *ratio, int n, double *lo, double *hi)
{
	*lo = *hi = ratio[0];
	for (int i = 1; i < n; i++) {
		*lo = ratio[i] < *lo ? ratio[i] : *lo;
		*hi = ratio[i] > *hi ? ratio[i] : *hi;
	}
	return median(ratio, n);
}

/* one pass of READs of read_len bytes in 1 MiB messages; the first and
 * last message are checked byte by byte. MB/s, or < 0 on failure. */
static double read_pass(struct bench *b, struct column *c)
{
	char err[256];
	double t0 = now_s(), dt;

	for (size_t off = 0; off < b->read_len; off += MSG) {
		int st = zt_rdma_peer_read(b->peer, b->buf, b->bmr->lkey, MSG,
					   c->addr + off, c->rkey, OP_MS, err, sizeof err);
		if (st) {
			printf("FAIL: %s: %s\n", c->name, err);
			return -1;
		}
		if (off == 0 || off + MSG >= b->read_len) {
			fill(b->ref, off, MSG);
			if (memcmp(b->buf, b->ref, MSG)) {
				printf("FAIL: %s: READ at %zu: wrong bytes\n", c->name, off);
				return -1;
			}
		}
	}
	dt = now_s() - t0;
	return (double)b->read_len / (1 << 20) / dt;
}

static const char *dir_arg(int argc, char **argv)
{
	const char *d = argc > 1 ? argv[1] : getenv("ZC_TEST_EXT4_DIR");
	struct statfs s;

	if (!d)
		zt_rdma_skip("no directory: give one or set ZC_TEST_EXT4_DIR (ext4 in the test guest)");
	if (statfs(d, &s))
		zt_rdma_skip("statfs(%s): %s", d, strerror(errno));
	if ((unsigned long)s.f_type != EXT4_MAGIC)
		printf("note: %s is not ext4 (f_type 0x%lx)\n", d, (unsigned long)s.f_type);
	return d;
}

static size_t env_mb(const char *name, size_t def)
{
	const char *v = getenv(name);
	long n = v ? atol(v) : 0;

	return n > 0 ? (size_t)n : def;
}

/* e.g. "QEMU Virtual CPU version 2.5+" under TCG */
static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			char *v = strchr(line, ':') + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(out, len, "%s", v);
			break;
		}
	fclose(f);
}

static int make_file(struct bench *b, const char *dir, char *path, size_t plen)
{
	uint8_t *chunk = malloc(MSG);
	double t0 = now_s();
	int ret;

	snprintf(path, plen, "%s/zt-odp-bench-XXXXXX", dir);
	b->fd = mkostemp(path, O_CLOEXEC);
	if (b->fd < 0 || !chunk) {
		printf("FAIL: mkostemp(%s): %s\n", path, strerror(errno));
		free(chunk);
		return -1;
	}
	/* reserved first: a full disk shows here, not as a SIGBUS later */
	if ((ret = posix_fallocate(b->fd, 0, (off_t)b->size))) {
		printf("FAIL: posix_fallocate(%zu bytes in %s): %s\n", b->size, dir,
		       strerror(ret));
		free(chunk);
		return -1;
	}
	for (size_t off = 0; off < b->size; off += MSG) {
		fill(chunk, off, MSG);
		if (pwrite(b->fd, chunk, MSG, (off_t)off) != MSG) {
			printf("FAIL: pwrite(%s): %s\n", path, strerror(errno));
			free(chunk);
			return -1;
		}
	}
	free(chunk);
	/* written back now: writeback during the measurements would add
	 * noise, and clean pages are what a server serves */
	if (fsync(b->fd)) {
		printf("FAIL: fsync: %s\n", strerror(errno));
		return -1;
	}
	printf("odp-bench: file of %zu MiB written and synced in %.1f s\n",
	       b->size >> 20, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = { .fd = -1 };
	struct utsname uts;
	struct statvfs sv;
	const char *dir;
	char why[256], path[4096] = "", cpu[128];
	int reps = (int)env_mb("ZT_BENCH_REPS", 9), ret = 1;
	double reg_ratio, read_ratio, rr[MAXREPS], lo, hi;

	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&uts);
	b.size = env_mb("ZT_BENCH_SIZE_MB", 1024) << 20;
	b.read_len = env_mb("ZT_BENCH_READ_MB", 64) << 20;
	if (b.read_len > b.size)
		b.read_len = b.size;
	if (reps > MAXREPS)
		reps = MAXREPS;
	if (zt_rdma_peer_available(why, sizeof why))
		zt_rdma_skip("%s", why);
	dir = dir_arg(argc, argv);
	if (statvfs(dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < b.size + (64u << 20))
		zt_rdma_skip("%s has %llu MiB free, the file needs %zu MiB", dir,
		     (unsigned long long)sv.f_bavail * sv.f_frsize >> 20, b.size >> 20);
	if (zt_rdma_peer_open(&b.peer, NULL, why, sizeof why))
		zt_rdma_skip("no RDMA peer: %s", why);
	cpu_model(cpu, sizeof cpu);
	printf("odp-bench: kernel %s, cpu \"%s\", rdma-peer: %s\n", uts.release, cpu,
	       zt_rdma_peer_describe(b.peer));
	{
		struct ibv_device_attr_ex dx;

		memset(&dx, 0, sizeof dx);
		if (ibv_query_device_ex(zt_rdma_peer_target_pd(b.peer)->context, NULL, &dx) ||
		    !(dx.odp_caps.general_caps & IBV_ODP_SUPPORT) ||
		    !(dx.odp_caps.per_transport_caps.rc_odp_caps & IBV_ODP_SUPPORT_READ)) {
			zt_rdma_peer_close(b.peer);
			zt_rdma_skip("the RDMA device has no ODP for RC READ");
		}
	}
	b.buf = mmap(NULL, MSG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b.ref = malloc(MSG);
	if (b.buf == MAP_FAILED || !b.ref ||
	    !(b.bmr = ibv_reg_mr(zt_rdma_peer_local_pd(b.peer), b.buf, MSG,
				 IBV_ACCESS_LOCAL_WRITE))) {
		printf("FAIL: the peer's buffer: %s\n", strerror(errno));
		goto out;
	}
	if (make_file(&b, dir, path, sizeof path))
		goto out;
	/* the library reads ZC_QUIRKS at zc_ctx_create */
	setenv("ZC_QUIRKS", "ignore:rxe-odp-subpage", 1);
	{
		struct zc_ctx_params cp = { .field_mask = ZC_CTX_FIELD_PD,
					    .pd = zt_rdma_peer_target_pd(b.peer) };
		int err = zc_ctx_create(&cp, &b.ctx);

		if (!err)
			err = zc_file_open(b.ctx, b.fd, 0, &b.zf);
		if (err) {
			printf("FAIL: libzerocopy: zc_ctx_create/zc_file_open: %s\n",
			       zc_strerror(err));
			goto out;
		}
	}

	/* (a) registration, columns taking turns; the last repetition's
	 * registrations stay for (b) */
	for (int r = 0; r < reps; r++)
		for (unsigned k = 0; k < NCOL; k++) {
			struct column *c = &columns[r % 2 ? NCOL - 1 - k : k];
			long v0 = zt_rdma_vm_pin_kb();
			int64_t p0 = zt_rdma_foll_pins(), p1;
			double t0 = now_s();

			if (c->reg(c, &b, why, sizeof why)) {
				printf("FAIL: %s: %s\n", c->name, why);
				goto out;
			}
			c->reg_ms[r] = (now_s() - t0) * 1e3;
			c->pin_kb[r] = zt_rdma_vm_pin_kb() - v0;
			p1 = zt_rdma_foll_pins();
			c->foll[r] = p0 == INT64_MIN ? 0 : p1 - p0;
			printf("odp-bench: rep %d %s: registered in %.1f ms, VmPin %+ld kB, "
			       "FOLL_PIN %+" PRId64 " pages\n",
			       r, c->name, c->reg_ms[r], c->pin_kb[r], c->foll[r]);
			if (r < reps - 1)
				c->dereg(c, &b);
		}

	/* (b) the first touch of each, then READ passes taking turns */
	for (unsigned k = 0; k < NCOL; k++) {
		struct column *c = &columns[k];
		long v0 = zt_rdma_vm_pin_kb();

		c->touch_mbs = read_pass(&b, c);
		if (c->touch_mbs < 0)
			goto out;
		c->touch_pin_kb = zt_rdma_vm_pin_kb() - v0;
		printf("odp-bench: %s: first touch of %zu MiB at %.1f MB/s, VmPin %+ld kB\n",
		       c->name, b.read_len >> 20, c->touch_mbs, c->touch_pin_kb);
	}
	for (int r = 0; r < reps; r++)
		for (unsigned k = 0; k < NCOL; k++) {
			struct column *c = &columns[r % 2 ? NCOL - 1 - k : k];

			c->read_mbs[r] = read_pass(&b, c);
			if (c->read_mbs[r] < 0)
				goto out;
			printf("odp-bench: rep %d %s: READ %zu MiB in 1 MiB messages at %.1f MB/s\n",
			       r, c->name, b.read_len >> 20, c->read_mbs[r]);
		}

	printf("\nodp-bench: %zu MiB file range on %s, kernel %s, %d repetitions, medians\n",
	       b.size >> 20, dir, uts.release, reps);
	printf("| %-22s | %12s | %14s | %15s | %15s | %14s |\n", "MR", "register ms",
	       "VmPin kB after", "FOLL_PIN pages", "1st touch MB/s", "READ 1MiB MB/s");
	printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------", "--------------",
	       "----------------", "-----------------", "-----------------",
	       "----------------");
	for (unsigned k = 0; k < NCOL; k++) {
		struct column *c = &columns[k];

		printf("| %-22s | %12.1f | %+14ld | %+15" PRId64 " | %15.1f | %14.1f |\n",
		       c->name, median(c->reg_ms, reps), c->pin_kb[reps - 1],
		       c->foll[reps - 1], c->touch_mbs, median(c->read_mbs, reps));
	}
	for (int r = 0; r < reps; r++)
		rr[r] = columns[PINNED].reg_ms[r] / columns[ODP].reg_ms[r];
	reg_ratio = paired(rr, reps, &lo, &hi);
	printf("\nodp-bench: ratio registration time pinned/odp = %.1f (goal >= 10: %s); "
	       "per repetition %.1f-%.1f, ratio of medians %.1f\n",
	       reg_ratio, reg_ratio >= 10 ? "met" : "not met", lo, hi,
	       median(columns[PINNED].reg_ms, reps) / median(columns[ODP].reg_ms, reps));
	for (int r = 0; r < reps; r++)
		rr[r] = columns[ODP].read_mbs[r] / columns[PINNED].read_mbs[r];
	read_ratio = paired(rr, reps, &lo, &hi);
	printf("odp-bench: ratio READ throughput odp/pinned = %.2f (goal >= 0.9: %s); "
	       "per repetition %.2f-%.2f, ratio of medians %.2f\n",
	       read_ratio, read_ratio >= 0.9 ? "met" : "not met", lo, hi,
	       median(columns[ODP].read_mbs, reps) / median(columns[PINNED].read_mbs, reps));
	for (int r = 0; r < reps; r++)
		rr[r] = columns[PINNED].reg_ms[r] / columns[LIB].reg_ms[r];
	reg_ratio = paired(rr, reps, &lo, &hi);
	printf("odp-bench: ratio registration time pinned/libzerocopy odp_mr = %.1f "
	       "(goal >= 10: %s); per repetition %.1f-%.1f, ratio of medians %.1f\n",
	       reg_ratio, reg_ratio >= 10 ? "met" : "not met", lo, hi,
	       median(columns[PINNED].reg_ms, reps) / median(columns[LIB].reg_ms, reps));
	for (int r = 0; r < reps; r++)
		rr[r] = columns[LIB].read_mbs[r] / columns[PINNED].read_mbs[r];
	read_ratio = paired(rr, reps, &lo, &hi);
	printf("odp-bench: ratio READ throughput libzerocopy odp_mr/pinned = %.2f "
	       "(goal >= 0.9: %s); per repetition %.2f-%.2f, ratio of medians %.2f\n",
	       read_ratio, read_ratio >= 0.9 ? "met" : "not met", lo, hi,
	       median(columns[LIB].read_mbs, reps) / median(columns[PINNED].read_mbs, reps));
	ret = 0;
out:
	for (unsigned k = 0; k < NCOL; k++)
		columns[k].dereg(&columns[k], &b);
	if (b.zf)
		zc_file_close(b.zf);
	if (b.ctx)
		zc_ctx_destroy(b.ctx);
	if (b.bmr)
		ibv_dereg_mr(b.bmr);
	if (b.buf && b.buf != MAP_FAILED)
		munmap(b.buf, MSG);
	free(b.ref);
	if (b.fd >= 0)
		close(b.fd);
	if (path[0] && b.fd >= 0)
		unlink(path);
	zt_rdma_peer_close(b.peer);
	return ret;
}
