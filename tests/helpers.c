/* SPDX-License-Identifier: MIT */
#include "helpers.h"
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef ZT_HAVE_LIBURING
#define ZT_HAVE_LIBURING 0
#endif
#ifndef ZT_BUILD_DIR
#define ZT_BUILD_DIR "."
#endif

/* ------------------------------------------------------------------ */
/* process setup                                                        */

static pid_t zt_owner;
static char zt_dir_tmpfs[PATH_MAX];
static char zt_dir_ext4[PATH_MAX];
static char zt_dir_other[PATH_MAX];
static const char *zt_why_tmpfs = "not initialised";
static const char *zt_why_ext4 = "not initialised";
static char zt_why_ext4_buf[512];

void zt_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(ZT_SKIP);
}

static int zt_rm_one(const char *p, const struct stat *sb, int type,
		     struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

static void zt_rm_rf(const char *dir)
{
	if (dir[0])
		nftw(dir, zt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void zt_cleanup(void)
{
	if (getpid() != zt_owner)
		return; /* a forked child (Check runs each test in one) */
	zt_rm_rf(zt_dir_tmpfs);
	zt_rm_rf(zt_dir_ext4);
	zt_rm_rf(zt_dir_other);
}

unsigned long zt_fs_magic(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return 0;
	return (unsigned long)sf.f_type;
}

static int zt_mkdtemp_in(const char *parent, char *out)
{
	snprintf(out, PATH_MAX, "%s/zctest.XXXXXX", parent);
	if (!mkdtemp(out)) {
		out[0] = 0;
		return -errno;
	}
	return 0;
}

void zt_init(void)
{
	const char *cand[4];
	unsigned n = 0;

	unsetenv("ZC_BACKENDS");
	unsetenv("ZC_FAULT");
	unsetenv("ZC_SYSFS_ROOT");
	unsetenv("ZC_PCI_DUMP");
	setvbuf(stdout, NULL, _IOLBF, 0);
	zt_owner = getpid();
	atexit(zt_cleanup);

	if (zt_fs_magic("/dev/shm") == ZT_TMPFS_MAGIC) {
		if (zt_mkdtemp_in("/dev/shm", zt_dir_tmpfs) == 0)
			zt_why_tmpfs = NULL;
		else
			zt_why_tmpfs = "cannot create a directory in /dev/shm";
	} else {
		zt_why_tmpfs = "/dev/shm is not tmpfs";
	}

	/* ext4: $ZC_TEST_EXT4_DIR, the build directory, /var/tmp, /tmp */
	if (getenv("ZC_TEST_EXT4_DIR"))
		cand[n++] = getenv("ZC_TEST_EXT4_DIR");
	cand[n++] = ZT_BUILD_DIR;
	cand[n++] = "/var/tmp";
	cand[n++] = "/tmp";
	zt_why_ext4 = zt_why_ext4_buf;
	snprintf(zt_why_ext4_buf, sizeof zt_why_ext4_buf,
		 "no ext4 directory (tried $ZC_TEST_EXT4_DIR, %s, /var/tmp, /tmp)",
		 ZT_BUILD_DIR);
	for (unsigned i = 0; i < n; i++) {
		if (zt_fs_magic(cand[i]) != ZT_EXT4_MAGIC)
			continue;
		if (zt_mkdtemp_in(cand[i], zt_dir_ext4) == 0) {
			zt_why_ext4 = NULL;
			break;
		}
	}
	if (!zt_dir_tmpfs[0] && !zt_dir_ext4[0]) {
		const char *t = getenv("TMPDIR");
		if (zt_mkdtemp_in(t ? t : "/tmp", zt_dir_other) != 0)
			zt_skip("cannot create any temporary directory");
	}
}

const char *zt_tmpfs_dir(const char **why)
{
	if (why)
		*why = zt_why_tmpfs;
	return zt_dir_tmpfs[0] ? zt_dir_tmpfs : NULL;
}

const char *zt_ext4_dir(const char **why)
{
	if (why)
		*why = zt_why_ext4;
	return zt_dir_ext4[0] ? zt_dir_ext4 : NULL;
}

const char *zt_any_dir(void)
{
	if (zt_dir_tmpfs[0])
		return zt_dir_tmpfs;
	if (zt_dir_ext4[0])
		return zt_dir_ext4;
	return zt_dir_other;
}

int zt_odirect_works(const char *dir, char *why, size_t len)
{
	char path[PATH_MAX];
	void *buf = NULL;
	int fd, ok = 0;
	ssize_t n;

	fd = zt_make_file(dir, 64 * ZT_KiB, 7, O_RDONLY | O_DIRECT, path);
	if (fd < 0) {
		snprintf(why, len, "open(O_DIRECT) in %s: %s", dir, strerror(-fd));
		if (path[0])
			unlink(path);
		return 0;
	}
	if (posix_memalign(&buf, 4096, 4096) == 0) {
		n = pread(fd, buf, 4096, 0);
		if (n == 4096)
			ok = 1;
		else
			snprintf(why, len, "O_DIRECT pread in %s: %s", dir,
				 n < 0 ? strerror(errno) : "short read");
	}
	free(buf);
	close(fd);
	unlink(path);
	return ok;
}

/* ------------------------------------------------------------------ */
/* patterns and files                                                   */

uint8_t zt_pat(uint32_t seed, uint64_t off)
{
	uint64_t x = off + (uint64_t)seed * UINT64_C(0x9E3779B97F4A7C15);

	x ^= x >> 31;
	x *= UINT64_C(0xBF58476D1CE4E5B9);
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 40));
}

void zt_fill(void *buf, size_t len, uint32_t seed, uint64_t off)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = zt_pat(seed, off + i);
}

ssize_t zt_verify(const void *buf, size_t len, uint32_t seed, uint64_t off)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != zt_pat(seed, off + i))
			return (ssize_t)i;
	return -1;
}

int zt_make_file(const char *dir, uint64_t size, uint32_t seed, int oflags,
		 char *path)
{
	size_t chunk = ZT_MiB;
	uint8_t *buf;
	int fd, err = 0;

	snprintf(path, PATH_MAX, "%s/f.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		path[0] = 0;
		return -errno;
	}
	buf = malloc(chunk);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < size;) {
		size_t n = (size_t)(size - off < chunk ? size - off : chunk);
		ssize_t w;

		zt_fill(buf, n, seed, off);
		w = pwrite(fd, buf, n, (off_t)off);
		if (w < 0) {
			err = -errno;
			break;
		}
		off += (uint64_t)w;
	}
	free(buf);
	if (!err && fsync(fd) != 0)
		err = -errno;
out:
	close(fd);
	if (err)
		return err;
	fd = open(path, oflags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int zt_remake_file(const char *dir, uint64_t size, uint32_t seed, const char *path)
{
	char tmp[PATH_MAX];
	int fd;

	unlink(path);
	fd = zt_make_file(dir, size, seed, O_RDONLY, tmp);
	if (fd < 0)
		return fd;
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
	fd = -errno;
	unlink(tmp);
	return fd;
}

ssize_t zt_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t zt_verify_file(const char *path, uint64_t off, size_t len,
		       uint32_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);
	ssize_t n, bad = -2;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && buf) {
		n = zt_pread_full(fd, buf, len, off);
		if (n == (ssize_t)len)
			bad = zt_verify(buf, len, seed, off);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return bad;
}

int64_t zt_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	return st.st_size;
}

void *zt_map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------------ */
/* accounting                                                           */

int zt_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int zt_map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0, c;

	if (!f)
		return -1;
	/* fopen's buffer is malloc'd before the file is read; a large malloc
	 * could add a mapping, so read with getc over a static buffer */
	static char buf[1 << 16];
	setvbuf(f, buf, _IOFBF, sizeof buf);
	while ((c = getc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ZT_ASAN 1
#endif

/* ThreadSanitizer's runtime maps memory at will too */
#if defined(__SANITIZE_THREAD__)
#define ZT_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZT_TSAN 1
#endif
#endif

#ifdef ZT_ASAN
void __sanitizer_purge_allocator(void); /* sanitizer/allocator_interface.h */
#endif

/* Lines of /proc/self/maps. Built with AddressSanitizer: its quarantine
 * keeps freed large blocks mapped, so it is emptied first, and its
 * allocator's own space (x86_64: [0x600000000000, 0x640000000000)) is
 * left out, where it maps a region the first time a size class is used;
 * neither says anything about the library. */
int zt_map_count_comparable(void)
{
#if defined(ZT_ASAN) && defined(__x86_64__)
	static char line[4096];
	FILE *f;
	unsigned long long start;
	int n = 0;

	__sanitizer_purge_allocator();
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%llx-", &start) != 1 || start < 0x600000000000ull ||
		    start >= 0x640000000000ull)
			n++;
	fclose(f);
	return n;
#else
	/* TSan and valgrind map at will: no count to compare (0 == 0) */
	return zt_maps_meaningful() ? zt_map_count() : 0;
#endif
}

int zt_under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload") != NULL;
}

/* The sanitizers' allocators and valgrind's own mappings come and go in
 * /proc/self/maps: line counts mean nothing there. */
int zt_maps_meaningful(void)
{
#if defined(ZT_ASAN) || defined(ZT_TSAN)
	return 0;
#else
	const char *pre = getenv("LD_PRELOAD");

	return !(pre && strstr(pre, "vgpreload"));
#endif
}




int64_t zt_pins_settled(void)
{
	int64_t best = INT64_MAX;
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	for (int i = 0; i < 20; i++) {
		int64_t v = zt_pins_outstanding();
		if (v == INT64_MIN)
			return v;
		if (v < best)
			best = v;
		nanosleep(&ts, NULL);
	}
	return best;
}


/*
 * Whether this process's io_uring fixed buffers show in its VmPin. Linux
 * 6.18 accounts them there for every ring; 7.3.4 (seen in the test guest
 * of tests/vm) does not for a ring created with CAP_IPC_LOCK. Where they
 * do not show, VmPin says nothing about our pins and the system-wide
 * counters are the witness. Probed with a raw ring, once per process and
 * capability state; where no ring can be had nothing is pinned by one, so
 * VmPin keeps its meaning.
 */
static bool vm_pin_counts_uring(void)
{
	static pid_t probed_pid;
	static int probed_cap = -1;
	static bool counts = true;
	struct io_uring_params p;
	size_t len = 256 << 10;
	struct iovec iov;
	long before, after;
	void *buf;
	int fd, cap = zt_have_cap(14 /* CAP_IPC_LOCK */);

	if (probed_pid == getpid() && probed_cap == cap)
		return counts;
	probed_pid = getpid();
	probed_cap = cap;
	counts = true;
	memset(&p, 0, sizeof p);
	fd = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (fd < 0)
		return counts;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf != MAP_FAILED) {
		memset(buf, 1, len);
		iov.iov_base = buf;
		iov.iov_len = len;
		before = zt_vm_pin_kb_of("/proc/self/status");
		if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &iov, 1) == 0) {
			after = zt_vm_pin_kb_of("/proc/self/status");
			counts = before >= 0 && after - before >= (long)(len >> 11);
			syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
		}
		munmap(buf, len);
	}
	close(fd);
	return counts;
}

int64_t zt_vm_pin_kb(void)
{
	return vm_pin_counts_uring() ? zt_vm_pin_kb_of("/proc/self/status") : -1;
}

int zt_have_cap(int cap)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	return found && (eff >> cap) & 1;
}

/* ------------------------------------------------------------------ */
/* io_uring                                                             */

int zt_io_uring_works(char *why, size_t len)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof p);
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		int e = errno;
		FILE *f;
		int dis = -1;

		f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
		if (f) {
			if (fscanf(f, "%d", &dis) != 1)
				dis = -1;
			fclose(f);
		}
		if (why)
			snprintf(why, len,
				 "io_uring_setup: %s (kernel.io_uring_disabled=%d)",
				 strerror(e), dis);
		return 0;
	}
	close((int)fd);
	if (why)
		snprintf(why, len, "io_uring_setup works");
	return 1;
}

int zt_liburing_built(void)
{
	return ZT_HAVE_LIBURING;
}

int zt_uring_expected(void)
{
	return zt_liburing_built() && zt_io_uring_works(NULL, 0);
}

int zt_leases_enabled(void)
{
	FILE *f = fopen("/proc/sys/fs/leases-enable", "re");
	int on = 1;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 1;
		fclose(f);
	}
	return on;
}

int zt_pin_lease_expected(void)
{
	return zt_leases_enabled() && zt_uring_expected();
}

/* ------------------------------------------------------------------ */
/* forked children                                                      */

int zt_fork_run(int (*fn)(void *arg), void *arg)
{
	int st;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int rc = fn(arg);
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

const char *zt_status_str(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "fork/wait failed");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

void zt_child_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: child check failed: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

/* ------------------------------------------------------------------ */
/* library conveniences                                                 */

void zt_log_fn(void *arg, int level, const char *msg)
{
	struct zt_log *l = arg;
	int n;

	if (level < 0 || level > 3) {
		l->bad_level++;
		return;
	}
	l->count[level]++;
	if (l->used + 1 >= sizeof l->text)
		return;
	n = snprintf(l->text + l->used, sizeof l->text - l->used, "%d: %s\n",
		     level, msg ? msg : "(null)");
	if (n > 0)
		l->used += (size_t)n;
	if (l->used >= sizeof l->text)
		l->used = sizeof l->text - 1;
}

int zt_log_has(const struct zt_log *l, int level, const char *needle)
{
	char prefix[8];
	const char *p = l->text;

	snprintf(prefix, sizeof prefix, "%d: ", level);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			char line[2048];
			size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
			memcpy(line, p, m);
			line[m] = 0;
			if (strstr(line + strlen(prefix), needle))
				return 1;
		}
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

int zt_ctx(uint64_t backends, unsigned flags, struct zc_ctx **out)
{
	struct zc_ctx_params p;

	memset(&p, 0, sizeof p);
	if (backends) {
		p.field_mask |= ZC_CTX_FIELD_BACKENDS;
		p.backends = backends;
	}
	if (flags) {
		p.field_mask |= ZC_CTX_FIELD_FLAGS;
		p.flags = flags;
	}
	return zc_ctx_create(&p, out);
}

int zt_reg_mem(struct zc_file *f, void *addr, size_t len, unsigned access,
	       unsigned flags, uint64_t backends, struct zc_reg **out)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH;
	p.addr = addr;
	p.length = len;
	if (access) {
		p.field_mask |= ZC_REG_FIELD_ACCESS;
		p.access = access;
	}
	if (flags) {
		p.field_mask |= ZC_REG_FIELD_FLAGS;
		p.flags = flags;
	}
	if (backends) {
		p.field_mask |= ZC_REG_FIELD_BACKENDS;
		p.backends = backends;
	}
	return zc_reg_create(f, &p, out);
}

int zt_reg_map_file(struct zc_file *f, uint64_t file_off, size_t len,
		    unsigned access, uint64_t backends, struct zc_reg **out)
{
	struct zc_reg_params p;

	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS |
		       ZC_REG_FIELD_FILE_OFFSET;
	p.length = len;
	p.flags = ZC_REG_MAP_FILE;
	p.file_offset = file_off;
	if (access) {
		p.field_mask |= ZC_REG_FIELD_ACCESS;
		p.access = access;
	}
	if (backends) {
		p.field_mask |= ZC_REG_FIELD_BACKENDS;
		p.backends = backends;
	}
	return zc_reg_create(f, &p, out);
}

const char *zt_attempts_str(const struct zc_reg *r, char *buf, size_t len)
{
	struct zc_attempt a[16];
	int n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));
	size_t used = 0;

	buf[0] = 0;
	if (n < 0) {
		snprintf(buf, len, "(zc_reg_attempts: %d)", n);
		return buf;
	}
	for (int i = 0; i < n && i < (int)ZT_ARRAY_SIZE(a) && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s:%d(%.*s)",
				 i ? " " : "", zc_backend_name(a[i].backend),
				 a[i].error, (int)sizeof a[i].reason,
				 a[i].reason);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}

int zt_find_attempt(const struct zc_reg *r, enum zc_backend b,
		    struct zc_attempt *out)
{
	struct zc_attempt a[16];
	int n = zc_reg_attempts(r, a, ZT_ARRAY_SIZE(a));

	for (int i = 0; i < n && i < (int)ZT_ARRAY_SIZE(a); i++)
		if (a[i].backend == b) {
			*out = a[i];
			return 1;
		}
	return 0;
}

/* ------------------------------------------------------------------ */
/* resources a stretch of code must give back                            */

/* lines of /proc/self/maps but [heap]: glibc grows the brk heap on the
 * first small allocation and trims it away again when the top is free,
 * which says nothing about the code under test */
int zt_map_count_noheap(void)
{
	static char buf[1 << 16];
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0;

	if (!f)
		return -1;
	setvbuf(f, buf, _IOFBF, sizeof buf);
	while (fgets(line, sizeof line, f)) {
		size_t l = strlen(line);

		if (!strstr(line, "[heap]"))
			n++;
		/* a line longer than line[]: skip the rest of it */
		while (l && line[l - 1] != '\n' && fgets(line, sizeof line, f))
			l = strlen(line);
	}
	fclose(f);
	return n;
}

void zt_res_snap(struct zt_res *r)
{
	r->fds = zt_fd_count();
	r->maps = zt_map_count_noheap();
	r->pins = zt_pins_settled();
	r->vm_pin_kb = zt_vm_pin_kb();
}

int zt_res_check(const struct zt_res *before, int wait_ms, char *why, size_t len)
{
	struct zt_res now;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	size_t used = 0;
	int64_t slack;
	int bad = 0;

	if (len)
		why[0] = 0;
	zt_res_snap(&now);
	/* The kernel unpins a ring's buffers in a work item after the ring's
	 * last close: give both counts time. $ZT_PIN_SLACK: pins that other
	 * processes may hold meanwhile (a machine shared with other pinning
	 * work); 0 unless set. */
	slack = getenv("ZT_PIN_SLACK") ? atoll(getenv("ZT_PIN_SLACK")) : 0;
	for (int waited = 0; before->pins != INT64_MIN && before->vm_pin_kb < 0 &&
	     now.pins > before->pins + slack && waited < wait_ms; waited += 20) {
		nanosleep(&ts, NULL);
		now.pins = zt_pins_settled();
	}
	for (int waited = 0; now.vm_pin_kb != before->vm_pin_kb && waited < wait_ms;
	     waited += 20) {
		nanosleep(&ts, NULL);
		now.vm_pin_kb = zt_vm_pin_kb();
	}
#define ZT_RES_SAY(...)                                                    \
	do {                                                               \
		int w_ = snprintf(why + used, len > used ? len - used : 0, __VA_ARGS__); \
		if (w_ > 0)                                                \
			used += (size_t)w_;                                \
		bad = 1;                                                   \
	} while (0)
	if (now.fds != before->fds)
		ZT_RES_SAY("open fds %d -> %d; ", before->fds, now.fds);
	if (zt_maps_meaningful() && now.maps != before->maps)
		ZT_RES_SAY("/proc/self/maps lines %d -> %d; ", before->maps, now.maps);
	/* VmPin counts this process's long-term pins (io_uring buffers) exactly;
	 * the system-wide counter, which other processes move too, is the
	 * judge only where VmPin is missing */
	if (before->pins != INT64_MIN && before->vm_pin_kb < 0 &&
	    now.pins > before->pins + slack)
		ZT_RES_SAY("pins outstanding (nr_foll_pin_acquired - released, system-wide) "
			   "%lld -> %lld after %d ms; ", (long long)before->pins,
			   (long long)now.pins, wait_ms);
	if (now.vm_pin_kb != before->vm_pin_kb)
		ZT_RES_SAY("VmPin %lld kB -> %lld kB; ", (long long)before->vm_pin_kb,
			   (long long)now.vm_pin_kb);
#undef ZT_RES_SAY
	return bad ? -1 : 0;
}

int zt_log_line_has(const struct zt_log *l, int level, const char *n1,
		    const char *n2, const char *n3, const char *n4)
{
	const char *need[4] = { n1, n2, n3, n4 };
	char prefix[8];
	const char *p = l->text;

	snprintf(prefix, sizeof prefix, "%d: ", level);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[2048];
		size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
		int ok = 1;

		memcpy(line, p, m);
		line[m] = 0;
		if (strncmp(line, prefix, strlen(prefix)) != 0)
			ok = 0;
		for (int i = 0; ok && i < 4; i++)
			if (need[i] && !strstr(line + strlen(prefix), need[i]))
				ok = 0;
		if (ok)
			return 1;
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

long zt_env_long(const char *name, long def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0)
		return def;
	return v;
}

/* ------------------------------------------------------------------ */
/* variants                                                             */

void zt_variant_require(const char *name, struct zt_variant *v)
{
	char fs[32], be[32], why[256];
	const char *dot = name ? strchr(name, '.') : NULL;
	const char *reason;

	if (!dot || (size_t)(dot - name) >= sizeof fs || strlen(dot + 1) >= sizeof be) {
		fprintf(stderr, "unknown variant '%s'\n", name ? name : "(none)");
		exit(2);
	}
	memcpy(fs, name, (size_t)(dot - name));
	fs[dot - name] = 0;
	strcpy(be, dot + 1);
	memset(v, 0, sizeof *v);
	v->name = name;

	if (strcmp(be, "bounce") == 0) {
		v->backend = ZC_BACKEND_BOUNCE;
	} else if (strcmp(be, "uring_fixed") == 0) {
		v->backend = ZC_BACKEND_URING_FIXED;
	} else {
		fprintf(stderr, "unknown backend in variant '%s'\n", name);
		exit(2);
	}
	if (strcmp(fs, "tmpfs") == 0) {
		v->fs = "tmpfs";
		v->dir = zt_tmpfs_dir(&reason);
	} else if (strcmp(fs, "ext4") == 0 || strcmp(fs, "ext4_direct") == 0) {
		v->fs = "ext4";
		v->direct = strcmp(fs, "ext4_direct") == 0;
		v->dir = zt_ext4_dir(&reason);
	} else {
		fprintf(stderr, "unknown file system in variant '%s'\n", name);
		exit(2);
	}
	if (!v->dir)
		zt_skip("%s: %s", name, reason);
	if (v->direct && !zt_odirect_works(v->dir, why, sizeof why))
		zt_skip("%s: O_DIRECT not supported: %s", name, why);
	if (v->backend == ZC_BACKEND_URING_FIXED) {
		if (!zt_liburing_built())
			zt_skip("%s: library built without liburing", name);
		if (!zt_io_uring_works(why, sizeof why))
			zt_skip("%s: io_uring unavailable: %s", name, why);
	}
}

/* ------------------------------------------------------------------ */
/* runner                                                               */

TCase *zt_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	/* guards against hangs only; no test asserts on elapsed time */
	tcase_set_timeout(tc, 240);
	return tc;
}

int zt_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int run, failed;

	srunner_run_all(sr, CK_ENV);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("%d tests run, %d failed\n", run, failed);
	if (run == 0)
		return 1; /* a suite that ran nothing must not pass */
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* pins, judged so that other processes' pinning does not count          */


/* pages other processes keep registered with io_uring (their VmPin) */
static int64_t foreign_vm_pin_pages(void)
{
	const long page_kb = sysconf(_SC_PAGESIZE) / 1024;
	char self[32], status[64];
	int64_t pages = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	snprintf(self, sizeof self, "%d", (int)getpid());
	while ((e = readdir(d))) {
		long kb;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !strcmp(e->d_name, self))
			continue;
		snprintf(status, sizeof status, "/proc/%.32s/status", e->d_name);
		kb = zt_vm_pin_kb_of(status);
		if (kb > 0)
			pages += kb / page_kb;
	}
	closedir(d);
	return pages;
}

/*
 * Pins, three ways. vm_kb: this process's VmPin, exact for io_uring
 * buffers, the only pins this build's backends take. sys: FOLL_PIN pins
 * outstanding system wide (nr_foll_pin_acquired - nr_foll_pin_released),
 * the smallest of a few samples (O_DIRECT elsewhere pins briefly). adj:
 * sys less the io_uring buffers of other processes, so that a benchmark
 * holding fixed buffers elsewhere does not count against us. Other
 * processes can move either system-wide figure, never both the same way
 * unless the pins are ours: an excess counts only when both show it.
 */

struct zt_pinsnap zt_pin_snap(void)
{
	struct zt_pinsnap s = { INT64_MAX, INT64_MAX, zt_vm_pin_kb() };

	for (int i = 0; i < 10; i++) {
		int64_t sys = zt_pins_outstanding(), adj;

		if (sys == INT64_MIN) {
			s.sys = s.adj = INT64_MIN;
			break;
		}
		adj = sys - foreign_vm_pin_pages();
		s.sys = sys < s.sys ? sys : s.sys;
		s.adj = adj < s.adj ? adj : s.adj;
		usleep(2000);
	}
	return s;
}

/* no more than tol pins more than at s0, and VmPin exactly as at s0 */
bool zt_pins_within(const struct zt_pinsnap *s0, const struct zt_pinsnap *s, int64_t tol)
{
	bool sys_ok = s0->sys == INT64_MIN || s->sys - s0->sys < tol ||
		      s->adj - s0->adj < tol;

	return sys_ok && s->vm_kb == s0->vm_kb;
}

struct zt_pinsnap zt_pins_wait_back(const struct zt_pinsnap *s0, int64_t tol)
{
	struct zt_pinsnap s = zt_pin_snap();

	for (int i = 0; i < 60 && !zt_pins_within(s0, &s, tol); i++) {
		usleep(50000);
		s = zt_pin_snap();
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* file leases                                                          */

double zt_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int zt_make_lease_file(const char *dir, const char *prefix, uint64_t size,
		       uint32_t seed, char *path)
{
	uint8_t buf[16384];
	int fd;

	snprintf(path, PATH_MAX, "%s/%s.XXXXXX", dir, prefix);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		ssize_t w;

		zt_fill(buf, n, seed, off);
		w = pwrite(fd, buf, n, (off_t)off);
		if (w <= 0) {
			int err = w < 0 ? -errno : -EIO;

			close(fd);
			unlink(path);
			return err;
		}
		off += (uint64_t)w;
	}
	return fd;
}

int zt_lease_break_time(double *limit_s)
{
	FILE *f = fopen("/proc/sys/fs/lease-break-time", "re");
	int lbt = -1;

	if (f) {
		if (fscanf(f, "%d", &lbt) != 1)
			lbt = -1;
		fclose(f);
	}
	*limit_s = lbt >= 2 ? (lbt / 2.0 < 10.0 ? lbt / 2.0 : 10.0) : 10.0;
	return lbt;
}

int zt_check_range(int fd, uint64_t off, uint64_t len, uint32_t seed, int *err,
		   int64_t *bad_off)
{
	uint8_t buf[65536]; /* on the stack: breakers of several threads */

	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
		ssize_t got = zt_pread_full(fd, buf, n, off + done);
		ssize_t bad;

		if (got != (ssize_t)n) {
			*err = got < 0 ? (int)-got : 0;
			*bad_off = (int64_t)(off + done);
			return ZT_RANGE_SHORT;
		}
		bad = zt_verify(buf, n, seed, off + done);
		if (bad >= 0) {
			*bad_off = (int64_t)(off + done) + bad;
			return ZT_RANGE_WRONG;
		}
		done += n;
	}
	return 0;
}

void zt_breaker_exit(int fd, int wfd, const void *report, size_t len, bool ok)
{
	if (fd >= 0)
		close(fd);
	if (write(wfd, report, len) != (ssize_t)len)
		_exit(3);
	_exit(ok ? 0 : 1);
}
