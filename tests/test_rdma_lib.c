/* SPDX-License-Identifier: MIT */
/*
 * libzerocopy's remote registrations on a real RDMA device (rxe in the
 * test guest of tests/vm), through the public API only; the remote side
 * is tests/rdma_peer.c on raw verbs, so the library is judged by code
 * that does not share its mistakes.
 *
 * The application owns the PD (ibv_alloc_pd on the peer's target device,
 * given to zc_ctx_create as ZC_CTX_FIELD_PD and to the peer), as a real
 * server would.
 *
 *   test_rdma_lib default   the quirk in force: a REMOTE_READ|REMOTE_WRITE
 *                           registration of an ext4 file range and of host
 *                           memory lands on bounce with a normal MR, the
 *                           odp_mr attempt naming rxe-odp-subpage; the
 *                           peer's READ and WRITE at sub-page offsets are
 *                           right and touch nothing else; a REMOTE_READ
 *                           registration of the ext4 file (fd O_RDONLY)
 *                           lands on pin_lease: a normal MR over the
 *                           file's pages under a read lease (VmPin grows
 *                           by the range, and comes back at destroy), the
 *                           peer's READs at sub-page offsets bring the
 *                           file's bytes, and another opener's open for
 *                           writing moves it to bounce with new keys that
 *                           read right
 *   test_rdma_lib odp       ZC_QUIRKS=ignore:rxe-odp-subpage at path MTU
 *                           4096: a real ODP MR, no pin, page-aligned
 *                           accesses right, truncation by another opener
 *                           refused to the peer, zc_reg_prefetch
 *                           EOPNOTSUPP on rxe without harm
 *
 * Exit status 0 pass, 1 fail, 77 skip (no RDMA device, no ext4, MTU below
 * 4096 for odp) with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <zerocopy.h>

#include "rdma_peer.h"

#define PAGE 4096u
#define REGION (2u << 20) /* registered: room for a 1 MiB access */
#define FOFF PAGE         /* the file range starts a page in: the page
			     before it and after it must never change */
#define FSIZE (FOFF + REGION + PAGE)
#define OP_MS 20000       /* one transfer; ODP faults under TCG are slow */
#define REMOTE (ZC_ACCESS_REMOTE_READ | ZC_ACCESS_REMOTE_WRITE)
#define QUIRK "rxe-odp-subpage"
#define SENTINEL 0xA5

static bool odp_mode;
static struct zt_rdma_peer *peer;
static struct zc_ctx *ctx;
static uint8_t *pbuf; /* the peer's: REGION + a page of sentinels */
static struct ibv_mr *pmr;
static char dir_path[2048];
static char file_path[4096];





static void reset_peer(void)
{
	char err[256];

	if (zt_rdma_peer_reset(peer, err, sizeof err)) {
		zt_rdma_fail("the peer's QPs do not come back: %s", err);
		exit(1);
	}
}

/* ---- what the peer accesses ------------------------------------------- */

struct target {
	const char *name;
	struct zc_file *f;
	struct zc_reg *reg;
	struct zc_rdma_keys k;
	uint8_t *mem;     /* zc_reg_addr: the mapping, the copy or ours */
	uint8_t *host;    /* host memory: PAGE + REGION + PAGE, guards ours */
	int fd;
	const char *path; /* the file's, NULL for host memory */
};

/* a file of FSIZE bytes of pattern 9 in dir, opened O_RDWR */
static int make_file(const char *tag, size_t size)
{
	uint8_t *buf = malloc(size);
	int fd;

	snprintf(file_path, sizeof file_path, "%s/zt-rdma-lib-%s-XXXXXX", dir_path, tag);
	fd = mkostemp(file_path, O_CLOEXEC);
	if (fd < 0 || !buf) {
		zt_rdma_fail("mkostemp(%s): %s", file_path, strerror(errno));
		free(buf);
		return -1;
	}
	zt_rdma_fill(buf, size, 9, 0);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size || fsync(fd)) {
		zt_rdma_fail("pwrite(%s): %s", file_path, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

static void print_attempts(const struct target *t)
{
	struct zc_attempt a[8];
	int n = zc_reg_attempts(t->reg, a, 8);

	for (int i = 0; i < n && i < 8; i++)
		printf("  %s: attempt %s: %s: %s\n", t->name, zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use", a[i].reason);
}

/* the attempt of backend b, or NULL */
static const struct zc_attempt *attempt_of(const struct target *t, enum zc_backend b,
					   struct zc_attempt *buf, unsigned max)
{
	int n = zc_reg_attempts(t->reg, buf, max);

	for (int i = 0; i < n && i < (int)max; i++)
		if (buf[i].backend == b)
			return &buf[i];
	return NULL;
}

/* access: REMOTE, or REMOTE_READ alone (then the file is opened O_RDONLY,
 * as a server exposing it read-only would) */
static int target_open(struct target *t, const char *name, bool file,
		       unsigned access)
{
	struct zc_reg_params rp = {
		.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_ACCESS,
		.length = REGION,
		.access = access,
	};
	int ret;

	memset(t, 0, sizeof *t);
	t->name = name;
	t->fd = -1;
	/* host memory still needs a file to move data to; the registration's
	 * file here is only that */
	t->fd = make_file(file ? "file" : "mem", FSIZE);
	if (t->fd < 0)
		return -1;
	t->path = file ? strdup(file_path) : NULL;
	if (!file)
		unlink(file_path);
	if (file && !(access & ZC_ACCESS_REMOTE_WRITE)) {
		int ro = open(file_path, O_RDONLY | O_CLOEXEC);

		if (ro < 0) {
			zt_rdma_fail("%s: open O_RDONLY: %s", name, strerror(errno));
			return -1;
		}
		close(t->fd);
		t->fd = ro;
	}
	if ((ret = zc_file_open(ctx, t->fd, 0, &t->f))) {
		zt_rdma_fail("%s: zc_file_open: %s", name, zc_strerror(ret));
		return -1;
	}
	if (file) {
		rp.field_mask |= ZC_REG_FIELD_FILE_OFFSET | ZC_REG_FIELD_FLAGS;
		rp.file_offset = FOFF;
		rp.flags = ZC_REG_MAP_FILE;
	} else {
		t->host = mmap(NULL, PAGE + REGION + PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->host == MAP_FAILED) {
			t->host = NULL;
			zt_rdma_fail("%s: mmap: %s", name, strerror(errno));
			return -1;
		}
		memset(t->host, 0x11, PAGE + REGION + PAGE);
		rp.field_mask |= ZC_REG_FIELD_ADDR;
		rp.addr = t->host + PAGE;
	}
	if ((ret = zc_reg_create(t->f, &rp, &t->reg))) {
		zt_rdma_fail("%s: zc_reg_create(access 0x%x): %s", name, access,
		     zc_strerror(ret));
		return -1;
	}
	t->mem = zc_reg_addr(t->reg);
	printf("%s: registered on %s\n", name, zc_backend_name(zc_reg_backend(t->reg)));
	print_attempts(t);
	if ((ret = zc_reg_rdma(t->reg, &t->k))) {
		zt_rdma_fail("%s: zc_reg_rdma: %s: a remote registration without keys", name,
		     zc_strerror(ret));
		return -1;
	}
	printf("  %s: keys lkey 0x%x rkey 0x%x addr 0x%" PRIx64 "\n", name, t->k.lkey,
	       t->k.rkey, t->k.addr);
	if (t->k.addr != (uintptr_t)t->mem)
		zt_rdma_fail("%s: zc_reg_rdma's addr 0x%" PRIx64 " is not zc_reg_addr %p", name,
		     t->k.addr, (void *)t->mem);
	if (!file && t->mem != t->host + PAGE)
		zt_rdma_fail("%s: zc_reg_addr %p is not the caller's memory %p", name,
		     (void *)t->mem, (void *)(t->host + PAGE));
	return 0;
}

static void target_close(struct target *t)
{
	int ret;

	if (t->reg && (ret = zc_reg_destroy(t->reg)))
		zt_rdma_fail("%s: zc_reg_destroy: %s", t->name, zc_strerror(ret));
	if (t->f)
		zc_file_close(t->f);
	if (t->host)
		munmap(t->host, PAGE + REGION + PAGE);
	if (t->fd >= 0)
		close(t->fd);
	if (t->path) {
		unlink(t->path);
		free((void *)t->path);
	}
	memset(t, 0, sizeof *t);
	t->fd = -1;
}

/* The whole file must hold, outside the registered range, what it was
 * made with, and in it want (REGION bytes). */
static bool file_is(const struct target *t, const uint8_t *want, char *what, size_t len)
{
	uint8_t *back = malloc(FSIZE);
	size_t bad = 0;
	ssize_t first = -1;
	ssize_t n;

	if (!back) {
		snprintf(what, len, "out of memory");
		return false;
	}
	n = pread(t->fd, back, FSIZE, 0);
	if (n != (ssize_t)FSIZE) {
		snprintf(what, len, "pread of the file: %zd of %u bytes", n, FSIZE);
		free(back);
		return false;
	}
	for (size_t x = 0; x < FSIZE; x++) {
		bool in = x >= FOFF && x < FOFF + REGION;

		if (back[x] != (in ? want[x - FOFF] : zt_rdma_pat(9, x))) {
			bad++;
			if (first < 0)
				first = (ssize_t)x - FOFF;
		}
	}
	free(back);
	if (bad)
		snprintf(what, len, "pread after zc_sync: %zu bytes of the file differ from "
			 "the registration's (first at range offset %zd)", bad, first);
	return !bad;
}

/* The peer WRITEs len bytes of pattern 2 at off; every other byte of the
 * registration (and of our guard pages, or of the file around it) keeps
 * pattern 1; for the file, pread sees the write after zc_sync of its
 * range. */
static bool check_write(struct target *t, size_t off, size_t len, char *what, size_t wl)
{
	uint8_t *want = malloc(REGION);
	size_t bad_in = 0, bad_out = 0;
	ssize_t first_in = -1, first_out = -1;
	char err[256];
	bool ok = false;
	int st, ret;

	if (!want) {
		snprintf(what, wl, "out of memory");
		return false;
	}
	zt_rdma_fill(t->mem, REGION, 1, 0);
	if (t->path && (ret = zc_sync(t->reg, 0, REGION))) {
		snprintf(what, wl, "zc_sync of the baseline: %s", zc_strerror(ret));
		goto out;
	}
	zt_rdma_fill(pbuf, len, 2, off);
	st = zt_rdma_peer_write(peer, pbuf, pmr->lkey, len, t->k.addr + off, t->k.rkey,
				OP_MS, err, sizeof err);
	if (st) {
		snprintf(what, wl, "%s", err);
		reset_peer();
		goto out;
	}
	zt_rdma_fill(want, REGION, 1, 0);
	zt_rdma_fill(want + off, len, 2, off);
	for (size_t x = 0; x < REGION; x++) {
		if (t->mem[x] == want[x])
			continue;
		if (x >= off && x < off + len) {
			if (!bad_in++)
				first_in = (ssize_t)(x - off);
		} else if (!bad_out++) {
			first_out = (ssize_t)x;
		}
	}
	if (t->host)
		for (size_t x = 0; x < PAGE; x++)
			bad_out += (t->host[x] != 0x11) + (t->host[PAGE + REGION + x] != 0x11);
	if (bad_in || bad_out) {
		snprintf(what, wl, "%zu of %zu bytes wrong in range (first at +%zd), %zu "
			 "changed outside it (first at %zd)", bad_in, len, first_in,
			 bad_out, first_out);
		goto out;
	}
	if (t->path) {
		/* only the written range: zc_sync of it must be enough */
		if ((ret = zc_sync(t->reg, off, len))) {
			snprintf(what, wl, "zc_sync(%zu, %zu): %s", off, len, zc_strerror(ret));
			goto out;
		}
		if (!file_is(t, want, what, wl))
			goto out;
	}
	ok = true;
out:
	free(want);
	return ok;
}

/* The peer READs len bytes at off into sentinels: pattern seed from
 * pat_off + off, and nothing past len changes. */
static bool peer_read_is(struct target *t, size_t off, size_t len, uint32_t seed,
			 size_t pat_off, char *what, size_t wl)
{
	size_t bad = 0, past = 0;
	ssize_t first = -1;
	char err[256];
	int st;

	memset(pbuf, SENTINEL, len + PAGE);
	st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, len, t->k.addr + off, t->k.rkey,
			       OP_MS, err, sizeof err);
	if (st) {
		snprintf(what, wl, "%s", err);
		reset_peer();
		return false;
	}
	for (size_t i = 0; i < len; i++)
		if (pbuf[i] != zt_rdma_pat(seed, pat_off + off + i) && !bad++)
			first = (ssize_t)i;
	for (size_t i = len; i < len + PAGE; i++)
		past += pbuf[i] != SENTINEL;
	if (bad || past) {
		snprintf(what, wl, "%zu of %zu bytes wrong (first at +%zd), %zu written "
			 "past the length", bad, len, first, past);
		return false;
	}
	return true;
}

/* the registration's bytes, filled with pattern 3 first */
static bool check_read(struct target *t, size_t off, size_t len, char *what, size_t wl)
{
	zt_rdma_fill(t->mem, REGION, 3, 0);
	return peer_read_is(t, off, len, 3, 0, what, wl);
}

struct access {
	size_t off, len;
};

static void run_accesses(struct target *t, const struct access *a, unsigned n)
{
	char what[320];

	for (unsigned i = 0; i < n; i++) {
		bool w = check_write(t, a[i].off, a[i].len, what, sizeof what);

		printf("  %s WRITE off %zu len %zu: %s%s\n", t->name, a[i].off, a[i].len,
		       w ? "right" : "WRONG: ", w ? "" : what);
		if (!w)
			zt_rdma_fail("%s: WRITE at %zu, %zu bytes: %s", t->name, a[i].off, a[i].len, what);
		w = check_read(t, a[i].off, a[i].len, what, sizeof what);
		printf("  %s READ  off %zu len %zu: %s%s\n", t->name, a[i].off, a[i].len,
		       w ? "right" : "WRONG: ", w ? "" : what);
		if (!w)
			zt_rdma_fail("%s: READ at %zu, %zu bytes: %s", t->name, a[i].off, a[i].len, what);
	}
}

/* the offsets rxe's ODP gets wrong (VM-NOTES), short and page-crossing */
static const struct access subpage[] = {
	{ 100, 64 },   { 100, 5000 },  { 1000, 64 }, { 1000, 5000 },
	{ 4000, 64 },  { 4000, 5000 }, { 4608, 64 }, { 4608, 5000 },
};
static const struct access aligned[] = {
	{ 0, PAGE }, { 2 * PAGE, 3 * PAGE }, { 1u << 20, 1u << 20 },
};

/* ---- (1) the quirk in force ------------------------------------------ */

static void expect_bounce(struct target *t, bool rxe)
{
	struct zc_attempt a[8];
	const struct zc_attempt *odp = attempt_of(t, ZC_BACKEND_ODP_MR, a, 8);

	if (zc_reg_backend(t->reg) != ZC_BACKEND_BOUNCE)
		zt_rdma_fail("%s: on %s, not bounce", t->name, zc_backend_name(zc_reg_backend(t->reg)));
	if (!rxe)
		return; /* the quirk is rxe's: elsewhere odp_mr may rightly win */
	if (!odp)
		zt_rdma_fail("%s: no attempt for odp_mr", t->name);
	else if (odp->error != -EOPNOTSUPP || !strstr(odp->reason, QUIRK))
		zt_rdma_fail("%s: odp_mr's attempt is %s '%s', not EOPNOTSUPP naming %s", t->name,
		     zc_strerror(odp->error), odp->reason, QUIRK);
}

/* ---- (1b) read-only remote access: pin_lease's MR over the file ------- */

/* The peer READs len bytes at off of the file registration (its memory
 * is read-only: the file's own bytes, pattern 9 from FOFF) */
static bool check_read_file(struct target *t, size_t off, size_t len, char *what,
			    size_t wl)
{
	return peer_read_is(t, off, len, 9, FOFF, what, wl);
}

static void run_file_reads(struct target *t, const char *when)
{
	static const struct access reads[] = {
		{ 100, 64 }, { 1000, 5000 }, { 4000, 64 }, { 4608, 5000 },
		{ 0, PAGE }, { 1u << 20, 1u << 20 },
	};
	char what[320];

	for (unsigned i = 0; i < sizeof reads / sizeof reads[0]; i++) {
		bool ok = check_read_file(t, reads[i].off, reads[i].len, what, sizeof what);

		printf("  %s READ  off %zu len %zu %s: %s%s\n", t->name, reads[i].off,
		       reads[i].len, when, ok ? "right" : "WRONG: ", ok ? "" : what);
		if (!ok)
			zt_rdma_fail("%s: READ at %zu, %zu bytes %s: %s", t->name,
				     reads[i].off, reads[i].len, when, what);
	}
}

/* events until REVOKED and BACKEND_CHANGED for r arrived (10 s at most) */
static bool wait_backend_changed(struct zc_reg *r, enum zc_backend *to)
{
	struct pollfd pfd = { .fd = zc_ctx_event_fd(ctx), .events = POLLIN };
	bool revoked = false, changed = false;

	for (int waited = 0; !changed && waited < 10000; waited += 50) {
		struct zc_event ev[8];
		int n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = zc_ctx_events(ctx, ev, 8);
		for (int i = 0; i < n; i++) {
			if (ev[i].reg != r)
				continue;
			printf("  event %s: %s -> %s\n", ev[i].type == ZC_EVENT_REVOKED ?
			       "REVOKED" : ev[i].type == ZC_EVENT_BACKEND_CHANGED ?
			       "BACKEND_CHANGED" : "other", zc_backend_name(ev[i].from),
			       zc_backend_name(ev[i].to));
			revoked |= ev[i].type == ZC_EVENT_REVOKED;
			if (ev[i].type == ZC_EVENT_BACKEND_CHANGED) {
				changed = true;
				*to = ev[i].to;
			}
		}
	}
	return revoked && changed;
}

static void run_pinned_read(bool rxe)
{
	struct zc_attempt a[8];
	const struct zc_attempt *pl;
	struct zc_rdma_keys k0;
	enum zc_backend to = ZC_BACKEND_NONE;
	struct target t;
	long v0, v1, v2, v3;
	int fd2, ret;

	printf("quirk in force: a REMOTE_READ registration of an ext4 file (fd O_RDONLY)\n");
	v0 = zt_rdma_vm_pin_kb();
	if (target_open(&t, "read-only file range", true, ZC_ACCESS_REMOTE_READ))
		goto out;
	v1 = zt_rdma_vm_pin_kb();
	printf("  read-only file range: VmPin %ld kB before, %ld kB registered\n", v0, v1);
	pl = attempt_of(&t, ZC_BACKEND_PIN_LEASE, a, 8);
	if (zc_reg_backend(t.reg) != ZC_BACKEND_PIN_LEASE || !pl || pl->error ||
	    !strstr(pl->reason, "pinned under a read lease")) {
		zt_rdma_fail("read-only file range: on %s, not pin_lease's MR under a read "
			     "lease", zc_backend_name(zc_reg_backend(t.reg)));
		goto out;
	}
	if (rxe) {
		const struct zc_attempt *odp = attempt_of(&t, ZC_BACKEND_ODP_MR, a, 8);

		if (!odp || odp->error != -EOPNOTSUPP || !strstr(odp->reason, QUIRK))
			zt_rdma_fail("read-only file range: odp_mr's attempt does not name %s",
				     QUIRK);
	}
	if (v0 < 0 || v1 - v0 < (long)(REGION >> 10))
		zt_rdma_fail("read-only file range: the pinned MR of %u kB moved VmPin "
			     "%ld -> %ld kB", REGION >> 10, v0, v1);
	run_file_reads(&t, "pinned");

	/* another opener, for writing: the read lease breaks */
	k0 = t.k;
	fd2 = open(t.path, O_WRONLY | O_CLOEXEC);
	if (fd2 < 0) {
		zt_rdma_fail("read-only file range: open O_WRONLY by another opener: %s",
			     strerror(errno));
		goto out;
	}
	close(fd2);
	if (!wait_backend_changed(t.reg, &to) || to != ZC_BACKEND_BOUNCE ||
	    zc_reg_backend(t.reg) != ZC_BACKEND_BOUNCE) {
		zt_rdma_fail("read-only file range: after a lease break on %s, events "
			     "to %s", zc_backend_name(zc_reg_backend(t.reg)),
			     zc_backend_name(to));
		goto out;
	}
	if ((ret = zc_reg_rdma(t.reg, &t.k))) {
		zt_rdma_fail("read-only file range: zc_reg_rdma after the break: %s",
			     zc_strerror(ret));
		goto out;
	}
	v2 = zt_rdma_vm_pin_kb();
	printf("  read-only file range: keys before the break lkey 0x%x rkey 0x%x addr "
	       "0x%" PRIx64 ", after lkey 0x%x rkey 0x%x addr 0x%" PRIx64 "; VmPin %ld kB\n",
	       k0.lkey, k0.rkey, k0.addr, t.k.lkey, t.k.rkey, t.k.addr, v2);
	print_attempts(&t);
	if (t.k.rkey == k0.rkey || t.k.addr != (uintptr_t)t.mem)
		zt_rdma_fail("read-only file range: keys after the break: rkey 0x%x (was "
			     "0x%x), addr 0x%" PRIx64 " for memory %p", t.k.rkey, k0.rkey,
			     t.k.addr, (void *)t.mem);
	run_file_reads(&t, "after the break (bounce)");
	/* the old rkey is gone: the peer's READ with it must fail */
	{
		char err[256];
		int st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, 64, k0.addr, k0.rkey,
					   OP_MS, err, sizeof err);

		printf("  read-only file range: READ with the old rkey: %s\n",
		       st ? (st > 0 ? ibv_wc_status_str((enum ibv_wc_status)st) : err) :
			    "SUCCEEDED");
		if (!st)
			zt_rdma_fail("read-only file range: the old rkey still reads");
		else
			reset_peer();
	}
out:
	target_close(&t);
	v3 = zt_rdma_vm_pin_kb();
	printf("  read-only file range: VmPin %ld kB after zc_reg_destroy\n", v3);
	if (v3 != v0)
		zt_rdma_fail("read-only file range: VmPin %ld kB after destroy, %ld kB before",
			     v3, v0);
}

static void run_default(bool rxe)
{
	struct target file, mem;
	long v0, v1;

	printf("quirk in force: REMOTE_READ|REMOTE_WRITE registrations\n");
	v0 = zt_rdma_vm_pin_kb();
	if (!target_open(&file, "ext4 file range", true, REMOTE)) {
		expect_bounce(&file, rxe);
		run_accesses(&file, subpage, 8);
		run_accesses(&file, aligned, 3);
	}
	target_close(&file);
	if (!target_open(&mem, "host memory", false, REMOTE)) {
		/* a normal MR pins: the witness the odp variant relies on */
		v1 = zt_rdma_vm_pin_kb();
		printf("  host memory: VmPin %ld kB before, %ld kB with the normal MR\n", v0, v1);
		if (v0 >= 0 && v1 - v0 < (long)(REGION >> 10))
			zt_rdma_fail("host memory: the normal MR of %u kB moved VmPin only %ld kB",
			     REGION >> 10, v1 - v0);
		expect_bounce(&mem, rxe);
		run_accesses(&mem, subpage, 8);
		run_accesses(&mem, aligned, 3);
	}
	target_close(&mem);
	run_pinned_read(rxe);
}

/* ---- (2) the quirk lifted: a real ODP MR ------------------------------ */

static void expect_odp(struct target *t)
{
	struct zc_attempt a[8];
	const struct zc_attempt *odp = attempt_of(t, ZC_BACKEND_ODP_MR, a, 8);

	if (zc_reg_backend(t->reg) != ZC_BACKEND_ODP_MR || !odp || odp->error)
		zt_rdma_fail("%s: on %s, not odp_mr, with ZC_QUIRKS=ignore:%s", t->name,
		     zc_backend_name(zc_reg_backend(t->reg)), QUIRK);
}

/* another opener truncates the file to half the range: the peer's READ of
 * the lost half fails with REM_ACCESS_ERR and brings no stale byte; the
 * kept half still reads right */
static void truncation(bool rxe)
{
	struct target t;
	const size_t keep = REGION / 2, lost = 64 * 1024;
	uint8_t *old = malloc(lost);
	size_t changed = 0;
	char err[256];
	int fd2, st;

	if (target_open(&t, "truncated file", true, REMOTE) || !old)
		goto out;
	expect_odp(&t);
	zt_rdma_fill(t.mem, REGION, 4, 0);
	memcpy(old, t.mem + keep, lost);
	st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, REGION, t.k.addr, t.k.rkey, OP_MS,
			       err, sizeof err);
	if (st || memcmp(pbuf, t.mem, REGION)) {
		zt_rdma_fail("truncation: READ before it: %s", st ? err : "wrong bytes");
		if (st)
			reset_peer();
		goto out;
	}
	fd2 = open(t.path, O_WRONLY | O_CLOEXEC);
	if (fd2 < 0 || ftruncate(fd2, (off_t)(FOFF + keep))) {
		zt_rdma_fail("truncation: open/ftruncate of a second fd: %s", strerror(errno));
		if (fd2 >= 0)
			close(fd2);
		goto out;
	}
	close(fd2);
	memset(pbuf, SENTINEL, lost);
	st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, lost, t.k.addr + keep, t.k.rkey,
			       OP_MS, err, sizeof err);
	for (size_t i = 0; i < lost; i++)
		changed += pbuf[i] != SENTINEL;
	printf("truncation: READ of %zu bytes past the new EOF after another opener's "
	       "ftruncate: %s (%d), %zu bytes of the peer's buffer changed\n", lost,
	       st >= 0 ? ibv_wc_status_str((enum ibv_wc_status)st) : err, st, changed);
	if (rxe ? st != IBV_WC_REM_ACCESS_ERR : st == IBV_WC_SUCCESS)
		zt_rdma_fail("truncation: the READ of the lost range %s", st == IBV_WC_SUCCESS ?
		     "succeeded" : "did not complete with IBV_WC_REM_ACCESS_ERR");
	if (changed)
		zt_rdma_fail("truncation: %zu bytes reached the peer from the truncated range",
		     changed);
	if (st)
		reset_peer();
	memset(pbuf, SENTINEL, keep);
	st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, keep, t.k.addr, t.k.rkey, OP_MS,
			       err, sizeof err);
	printf("truncation: READ of the %zu bytes kept, same registration: %s\n", keep,
	       st ? err : memcmp(pbuf, t.mem, keep) ? "wrong bytes" : "right");
	if (st || memcmp(pbuf, t.mem, keep))
		zt_rdma_fail("truncation: the kept range no longer reads right");
	if (st)
		reset_peer();
out:
	target_close(&t);
	free(old);
}

static void run_odp(bool rxe)
{
	struct target file, mem;
	long v0, v_reg, v_touch, v_end;
	char err[256];
	int ret, st = 0;

	printf("ZC_QUIRKS=ignore:%s, path MTU %u\n", QUIRK, zt_rdma_peer_mtu(peer));
	v0 = zt_rdma_vm_pin_kb();
	if (!target_open(&file, "ext4 file range", true, REMOTE)) {
		expect_odp(&file);
		v_reg = zt_rdma_vm_pin_kb();
		/* the peer faults every page in: still nothing pinned */
		st = zt_rdma_peer_read(peer, pbuf, pmr->lkey, REGION, file.k.addr,
				       file.k.rkey, OP_MS, err, sizeof err);
		if (st) {
			zt_rdma_fail("odp: READ of the whole range: %s", err);
			reset_peer();
		}
		v_touch = zt_rdma_vm_pin_kb();
		printf("  ext4 file range: VmPin %ld kB before, %ld kB registered, %ld kB "
		       "after the peer read all of it\n", v0, v_reg, v_touch);
		if (v0 < 0 || v_reg != v0 || v_touch != v0)
			zt_rdma_fail("odp: VmPin moved (or is not reported): %ld -> %ld -> %ld kB",
			     v0, v_reg, v_touch);
		run_accesses(&file, aligned, 3);
		/* on rxe ibv_advise_mr is EOPNOTSUPP: not a failure of the MR */
		ret = zc_reg_prefetch(file.reg, 0, REGION, ZC_PREFETCH_WRITE);
		printf("  ext4 file range: zc_reg_prefetch: %s\n",
		       ret ? zc_strerror(ret) : "done");
		if (rxe ? ret != -EOPNOTSUPP : ret && ret != -EOPNOTSUPP)
			zt_rdma_fail("odp: zc_reg_prefetch: %s, want %s", zc_strerror(ret),
			     rxe ? "EOPNOTSUPP on rxe" : "0 or EOPNOTSUPP");
		run_accesses(&file, aligned, 2);
	}
	target_close(&file);
	v_end = zt_rdma_vm_pin_kb();
	if (v_end != v0)
		zt_rdma_fail("odp: VmPin %ld kB after zc_reg_destroy, %ld kB before", v_end, v0);
	if (!target_open(&mem, "host memory", false, REMOTE)) {
		expect_odp(&mem);
		run_accesses(&mem, aligned, 3);
	}
	target_close(&mem);
	truncation(rxe);
}

/* ---- main ------------------------------------------------------------- */

/* the application's PD, on the device the peer's target side uses */
static struct ibv_pd *app_pd(char *why, size_t len)
{
	const char *want = getenv("ZT_RDMA_DEV");
	struct ibv_device **list;
	struct ibv_context *dev = NULL;
	struct ibv_pd *pd;
	int n;

	list = ibv_get_device_list(&n);
	for (int i = 0; list && i < n && !dev; i++)
		if (!want || !strcmp(ibv_get_device_name(list[i]), want))
			dev = ibv_open_device(list[i]);
	if (list)
		ibv_free_device_list(list);
	if (!dev) {
		snprintf(why, len, "ibv_open_device: %s", strerror(errno));
		return NULL;
	}
	pd = ibv_alloc_pd(dev);
	if (!pd) {
		snprintf(why, len, "ibv_alloc_pd: %s", strerror(errno));
		ibv_close_device(dev);
	}
	return pd;
}

int main(int argc, char **argv)
{
	struct zc_ctx_params cp = { .field_mask = ZC_CTX_FIELD_PD };
	struct ibv_device_attr da;
	struct zc_backend_info bi;
	struct ibv_context *dev;
	struct ibv_pd *pd;
	const char *dir;
	char why[256];
	bool rxe;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || (strcmp(argv[1], "default") && strcmp(argv[1], "odp"))) {
		fprintf(stderr, "usage: test_rdma_lib default|odp\n");
		return 2;
	}
	odp_mode = !strcmp(argv[1], "odp");
	if (zt_rdma_peer_available(why, sizeof why))
		zt_rdma_skip("%s", why);
	dir = zt_rdma_ext4_dir();
	if (!dir)
		zt_rdma_skip("no ext4 directory (tried $ZC_TEST_EXT4_DIR, /var/tmp, /tmp)");
	snprintf(dir_path, sizeof dir_path, "%s", dir);
	pd = app_pd(why, sizeof why);
	if (!pd)
		zt_rdma_skip("no PD: %s", why);
	dev = pd->context;
	if ((ret = zt_rdma_peer_open(&peer, pd, why, sizeof why)))
		zt_rdma_skip("no RDMA peer: %s", why);
	printf("rdma-peer: %s\n", zt_rdma_peer_describe(peer));
	rxe = !ibv_query_device(dev, &da) && da.vendor_id == 0xFFFFFF;
	if (odp_mode && zt_rdma_peer_mtu(peer) < 4096) {
		unsigned mtu = zt_rdma_peer_mtu(peer);

		zt_rdma_peer_close(peer);
		zt_rdma_skip("active_mtu %u: ODP on rxe needs path MTU 4096", mtu);
	}
	/* the library reads ZC_QUIRKS at zc_ctx_create */
	if (odp_mode && setenv("ZC_QUIRKS", "ignore:" QUIRK, 1))
		zt_rdma_skip("setenv: %s", strerror(errno));
	cp.pd = pd;
	if ((ret = zc_ctx_create(&cp, &ctx))) {
		zt_rdma_fail("zc_ctx_create with the application's PD: %s", zc_strerror(ret));
		goto out;
	}
	if ((ret = zc_ctx_query(ctx, ZC_BACKEND_ODP_MR, &bi)) || !bi.available) {
		zc_ctx_destroy(ctx);
		ctx = NULL;
		zt_rdma_peer_close(peer);
		zt_rdma_skip("odp_mr unavailable on %s: %s", ibv_get_device_name(dev->device),
		     ret ? zc_strerror(ret) : bi.reason);
	}
	printf("odp_mr: %s\n", bi.reason);
	if (!strstr(bi.reason, "caller's PD"))
		zt_rdma_fail("odp_mr does not use the application's PD: %s", bi.reason);

	pbuf = mmap(NULL, REGION + PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pbuf == MAP_FAILED ||
	    !(pmr = ibv_reg_mr(zt_rdma_peer_local_pd(peer), pbuf, REGION + PAGE,
			       IBV_ACCESS_LOCAL_WRITE))) {
		zt_rdma_fail("the peer's buffer: %s", strerror(errno));
		goto out;
	}
	if (odp_mode)
		run_odp(rxe);
	else
		run_default(rxe);
out:
	if (ctx)
		zc_ctx_destroy(ctx);
	if (pmr)
		ibv_dereg_mr(pmr);
	if (pbuf && pbuf != MAP_FAILED)
		munmap(pbuf, REGION + PAGE);
	zt_rdma_peer_close(peer);
	ibv_dealloc_pd(pd);
	ibv_close_device(dev);
	printf("%s\n", zt_rdma_failed ? "FAIL" : "PASS");
	return zt_rdma_failed;
}
