/* SPDX-License-Identifier: MIT */
/*
 * Parameter validation end to end: zc_ctx_create() with fuzzed
 * zc_ctx_params and environment (ZC_BACKENDS, ZC_LOG, ZC_FAULT), then
 * zc_file_open() on a small file (on tmpfs when /dev/shm is there, so
 * pin_lease and uring_fixed get their chance, or on a disk file system,
 * where O_DIRECT needs alignment and staging) and zc_reg_create() with
 * fuzzed zc_reg_params, optionally one zc_read()/zc_write(), and every
 * object that was created is destroyed again (LeakSanitizer watches).
 *
 * Input, in this order (missing bytes read as zero):
 *   struct zc_ctx_params   raw bytes
 *   struct zc_reg_params   raw bytes
 *   4 selector bytes       addr kind; dmabuf_fd kind; open mode (bits
 *                          0-1 O_RDWR/O_RDONLY/O_WRONLY, bit 2 O_DIRECT,
 *                          bit 3 the disk file); I/O (bit 0 zc_read,
 *                          bit 1 zc_write, bits 2-7 file offset / 97)
 *   text                   "ZC_BACKENDS\nZC_LOG\nZC_FAULT": each line
 *                          present sets the variable, absent unsets it
 *
 * Pointers cannot come from the input: the harness replaces them. The
 * log function is always a quiet sink; pd is NULL (0.1 only stores it);
 * addr is NULL, a place inside the harness's buffer, a place in the
 * PROT_NONE guard after it, or an address at the top of the address space
 * (never mapped; with a large length addr + length wraps); dmabuf_fd is
 * -1, /dev/null or the file (never a descriptor the fuzzer itself uses).
 * Lengths, offsets, masks and flags are the input's own. I/O is done only
 * where it cannot reach memory that is not the harness's buffer or the
 * library's own mapping (a registration may extend past the buffer: what
 * lies beyond the guard belongs to someone else).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUF_LEN (256u << 10)
#define GUARD_LEN (64u << 10)
#define FILE_LEN ((64u << 10) + 123)

static char g_dir[64], g_path[96], g_disk_path[PATH_MAX];
static uint8_t *g_buf; /* BUF_LEN bytes, then GUARD_LEN of PROT_NONE */
static int g_null_fd = -1;
static size_t g_logged;

static void sink(void *arg, int level, const char *msg)
{
	(void)arg;
	FUZZ_CHECK(level >= ZC_LOG_ERROR && level <= ZC_LOG_DEBUG);
	g_logged += strlen(msg);
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f); /* one line each */
}

static void cleanup(void)
{
	unlink(g_path);
	rmdir(g_dir);
	if (g_disk_path[0])
		unlink(g_disk_path);
}

static int make_file(const char *path, int excl)
{
	static uint8_t block[4096];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : 0), 0600);

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (uint8_t)(i * 7 + 1);
	for (size_t off = 0; off < FILE_LEN; off += sizeof block)
		if (pwrite(fd, block, ZC_MIN(sizeof block, FILE_LEN - off), (off_t)off) < 0) {
			close(fd);
			return -1;
		}
	close(fd);
	return 0;
}

/* the second file on a disk file system: $ZC_FUZZ_FILE_DIR, /var/tmp or
 * the current directory; the tmpfs file stands in when none works */
static void make_disk_file(void)
{
	const char *dirs[] = { getenv("ZC_FUZZ_FILE_DIR"), "/var/tmp", "." };
	int fd;

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!dirs[i])
			continue;
		snprintf(g_disk_path, sizeof g_disk_path, "%s/zc-fuzz-params.XXXXXX", dirs[i]);
		fd = mkostemp(g_disk_path, O_CLOEXEC);
		if (fd < 0)
			continue;
		close(fd);
		if (make_file(g_disk_path, 0) == 0)
			return;
		unlink(g_disk_path);
	}
	g_disk_path[0] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_dir, sizeof g_dir, "/dev/shm/zc-fuzz-params.XXXXXX");
	if (!mkdtemp(g_dir)) {
		snprintf(g_dir, sizeof g_dir, "/tmp/zc-fuzz-params.XXXXXX");
		if (!mkdtemp(g_dir)) {
			perror("fuzz_params: mkdtemp");
			exit(1);
		}
	}
	snprintf(g_path, sizeof g_path, "%s/file", g_dir);
	atexit(cleanup);
	if (make_file(g_path, 1)) {
		perror("fuzz_params: create");
		exit(1);
	}
	make_disk_file();

	/* a guard that stays mapped: a hole could be filled by any later
	 * mmap (the library's, the sanitizer's) and then be written to */
	g_buf = mmap(NULL, BUF_LEN + GUARD_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_buf == MAP_FAILED || mprotect(g_buf + BUF_LEN, GUARD_LEN, PROT_NONE)) {
		perror("fuzz_params: mmap");
		exit(1);
	}
	memset(g_buf, 0xa5, BUF_LEN);
	g_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return 0;
}

/* copy n bytes of the input into dst, zero-filling what is missing */
static void take(void *dst, size_t n, const uint8_t **data, size_t *size)
{
	size_t k = ZC_MIN(n, *size);

	memset(dst, 0, n);
	memcpy(dst, *data, k);
	*data += k;
	*size -= k;
}

/* ZC_BACKENDS, ZC_LOG and ZC_FAULT from the lines of the text */
static void set_env(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "ZC_BACKENDS", "ZC_LOG", "ZC_FAULT" };
	char *text = fuzz_strndup(data, size), *p = size ? text : NULL;

	for (unsigned i = 0; i < 3; i++) {
		char *nl;

		if (!p) {
			unsetenv(names[i]);
			continue;
		}
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		setenv(names[i], p, 1);
		p = nl ? nl + 1 : NULL;
	}
	free(text);
}

static void *pick_addr(uint8_t kind, uintptr_t raw)
{
	switch (kind % 4) {
	case 0:
		return NULL;
	case 1:
		return g_buf + raw % BUF_LEN;
	case 2:
		return g_buf + BUF_LEN + raw % GUARD_LEN; /* mapped, no access */
	default:
		return (void *)(UINTPTR_MAX - raw % 8192);
	}
}

static void use_registration(struct zc_reg *r, const struct zc_reg_params *rp,
			     uint8_t io, int writable)
{
	const uint8_t *a0 = zc_reg_addr(r);
	int own_memory = (rp->field_mask & ZC_REG_FIELD_FLAGS) &&
			 (rp->flags & ZC_REG_MAP_FILE);
	struct zc_attempt a[ZC_MAX_ATTEMPTS + 1];
	size_t len = zc_reg_length(r), n = ZC_MIN(len, 4096);
	uint64_t off = (uint64_t)(io >> 2) * 97;
	enum zc_backend b = zc_reg_backend(r);
	int na = zc_reg_attempts(r, a, ZC_MAX_ATTEMPTS + 1);
	ssize_t got;

	FUZZ_CHECK(b >= ZC_BACKEND_P2P_BAR && b <= ZC_BACKEND_MAX);
	FUZZ_CHECK(na >= 1 && na <= ZC_MAX_ATTEMPTS);
	for (int i = 0; i < na; i++)
		FUZZ_CHECK(memchr(a[i].reason, '\0', sizeof a[i].reason) != NULL);
	if (rp->field_mask & ZC_REG_FIELD_LENGTH)
		FUZZ_CHECK(len == rp->length);
	FUZZ_CHECK(a0 != NULL);
	if (!own_memory && (a0 < g_buf || a0 + n > g_buf + BUF_LEN))
		return; /* the first n bytes are not all the harness's */
	if ((io & 1) && n) {
		got = zc_read(r, 0, off, n);
		FUZZ_CHECK(got >= 0 ? (size_t)got <= n : fuzz_is_errno(got));
	}
	if ((io & 2) && n && writable) {
		got = zc_write(r, 0, off, n);
		FUZZ_CHECK(got >= 0 ? (size_t)got <= n : fuzz_is_errno(got));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	struct zc_ctx *const ctx_none = (struct zc_ctx *)&g_dir;
	struct zc_reg *const reg_none = (struct zc_reg *)&g_path;
	struct zc_ctx_params cp;
	struct zc_reg_params rp;
	struct zc_ctx *ctx = ctx_none;
	struct zc_file *f = NULL;
	struct zc_reg *r = reg_none;
	uint8_t sel[4];
	const char *path;
	int rc, fd, mode;

	take(&cp, sizeof cp, &data, &size);
	take(&rp, sizeof rp, &data, &size);
	take(sel, sizeof sel, &data, &size);
	set_env(data, size);

	cp.field_mask |= ZC_CTX_FIELD_LOG_FN;
	cp.log_fn = sink;
	cp.log_arg = NULL;
	cp.pd = NULL;
	rp.addr = pick_addr(sel[0], (uintptr_t)rp.addr);
	rp.dmabuf_fd = sel[1] % 3 == 0 ? -1 : sel[1] % 3 == 1 ? g_null_fd : -2;

	rc = zc_ctx_create(&cp, &ctx);
	if (rc) {
		FUZZ_CHECK(rc < 0 && fuzz_is_errno(rc));
		FUZZ_CHECK(ctx == ctx_none);
		return 0;
	}
	FUZZ_CHECK(ctx != ctx_none && ctx != NULL);

	mode = modes[(sel[2] & 3) % 3];
	path = (sel[2] & 8) && g_disk_path[0] ? g_disk_path : g_path;
	fd = open(path, mode | O_CLOEXEC | ((sel[2] & 4) ? O_DIRECT : 0));
	if (fd < 0)
		fd = open(path, mode | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	if (rp.dmabuf_fd == -2)
		rp.dmabuf_fd = fd;

	rc = zc_file_open(ctx, fd, 0, &f);
	FUZZ_CHECK(rc == 0);
	rc = zc_reg_create(f, &rp, &r);
	if (rc) {
		FUZZ_CHECK(rc < 0 && fuzz_is_errno(rc));
		FUZZ_CHECK(r == reg_none);
	} else {
		use_registration(r, &rp, sel[3], mode != O_RDONLY);
		FUZZ_CHECK(zc_reg_destroy(r) == 0);
	}
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	close(fd);
	return 0;
}
