/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the libzerocopy test suites.
 *
 * Everything here is real: files on tmpfs and ext4, counts read from
 * /proc, io_uring probed with the raw syscall, children made with fork().
 * Nothing in this file uses Check's assertions, so the helpers are safe in
 * forked children; the ZT_CK_* macros at the end are for the test bodies.
 */
#ifndef ZT_HELPERS_H
#define ZT_HELPERS_H

#include <check.h>
#include <stdbool.h>

#include "procfs.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <zerocopy.h>

#define ZT_SKIP 77
#define ZT_TMPFS_MAGIC 0x01021994u
#define ZT_EXT4_MAGIC 0xEF53u
#define ZT_KiB (UINT64_C(1) << 10)
#define ZT_MiB (UINT64_C(1) << 20)
#define ZT_GiB (UINT64_C(1) << 30)
#define ZT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* process setup                                                        */

/* Unset the variables that change the library's behaviour (ZC_BACKENDS,
 * ZC_FAULT, ZC_SYSFS_ROOT), create the per-run temporary directories on
 * tmpfs and on ext4 (when this machine has them) and remove them at exit
 * of this process (not of its forked children). */
void zt_init(void);

/* print "SKIP: <reason>" and exit 77 */
void zt_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The per-run directory on tmpfs / ext4, or NULL (then *why says why). */
const char *zt_tmpfs_dir(const char **why);
const char *zt_ext4_dir(const char **why);
/* a directory for tests that do not care about the file system */
const char *zt_any_dir(void);
/* statfs f_type of path, 0 on error */
unsigned long zt_fs_magic(const char *path);
/* 1 if an O_DIRECT pread of one aligned block works in dir, else 0 + why */
int zt_odirect_works(const char *dir, char *why, size_t len);

/* ------------------------------------------------------------------ */
/* files with a known pattern                                           */

/* byte of the pattern `seed` at file offset off (not periodic in 256) */
uint8_t zt_pat(uint32_t seed, uint64_t off);
/* buf[i] = zt_pat(seed, off + i) */
void zt_fill(void *buf, size_t len, uint32_t seed, uint64_t off);
/* index of the first byte differing from the pattern, or -1 */
ssize_t zt_verify(const void *buf, size_t len, uint32_t seed, uint64_t off);

/* Create a new file in dir holding `size` bytes of pattern `seed`,
 * write its name to path (PATH_MAX) and return it opened with oflags
 * (e.g. O_RDWR, O_RDONLY | O_DIRECT), or -errno. */
int zt_make_file(const char *dir, uint64_t size, uint32_t seed, int oflags,
		 char *path);
/* Replace the file at path (in dir) by a new one holding `size` bytes of
 * pattern `seed`, made aside and renamed over it: 0 or -errno. */
int zt_remake_file(const char *dir, uint64_t size, uint32_t seed, const char *path);
/* pread exactly len bytes (loop); returns bytes read (short at EOF) or -errno */
ssize_t zt_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* Verify [off, off+len) of the file at path holds pattern seed at the
 * same offsets, reading through a fresh buffered fd. Returns -1 when it
 * does, the index of the first bad byte, or -2 on an I/O error or when the
 * file is shorter. */
ssize_t zt_verify_file(const char *path, uint64_t off, size_t len,
		       uint32_t seed);
/* st_size of the file at path, or -errno */
int64_t zt_file_size(const char *path);

/* anonymous private read/write mapping (MAP_FAILED -> NULL) */
void *zt_map_anon(size_t len);

/* ------------------------------------------------------------------ */
/* process accounting                                                    */

/* open fds (entries of /proc/self/fd, not counting the one used to read it) */
int zt_fd_count(void);
/* lines of /proc/self/maps */
int zt_map_count(void);
/* 0 under AddressSanitizer, whose allocator maps memory at will: mapping
 * counts then say nothing about the library (LeakSanitizer covers it) */
int zt_maps_meaningful(void);
#define ZT_CK_MAPS_EQ(now, before)                                        \
	do {                                                              \
		if (zt_maps_meaningful())                                 \
			ck_assert_int_eq((now), (before));                \
	} while (0)
/* 1 when running under valgrind, which delivers signals in its own time
 * and slows everything: no assertion on timing or signal counts there */
int zt_under_valgrind(void);
/* smallest zt_pins_outstanding() seen over a few samples: other processes
 * (O_DIRECT I/O elsewhere) hold pins only briefly, leaked ones stay */
int64_t zt_pins_settled(void);
/* VmPin of this process in kB (pages pinned and accounted to this mm,
 * e.g. io_uring fixed buffers), -1 if not reported or if the kernel does
 * not account this process's io_uring buffers there (7.3 with
 * CAP_IPC_LOCK): then the system-wide counters are the witness */
int64_t zt_vm_pin_kb(void);
/* 1 if CAP number cap is in this process's effective set */
int zt_have_cap(int cap);

/* ------------------------------------------------------------------ */
/* io_uring, independently of the library                                */

/* 1 if io_uring_setup works for this process (raw syscall), else 0 and
 * a reason in why */
int zt_io_uring_works(char *why, size_t len);
/* 1 if the library was built with liburing (from CMake) */
int zt_liburing_built(void);
/* the library should offer uring_fixed: built with liburing and io_uring works */
int zt_uring_expected(void);
/* the library should offer pin_lease: uring_fixed expected (its pinning
 * agent) and file leases enabled (fs.leases-enable) */
int zt_pin_lease_expected(void);
/* 0 when fs.leases-enable is 0 (no lease can be taken), else 1 */
int zt_leases_enabled(void);

/* ------------------------------------------------------------------ */
/* forked children                                                       */

/* Run fn(arg) in a forked child; its return value is the exit status.
 * Returns the wait status, or -1 if fork failed. */
int zt_fork_run(int (*fn)(void *arg), void *arg);
/* "exited 0", "exited 3", "killed by signal 11" */
const char *zt_status_str(int status, char *buf, size_t len);
void zt_child_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* assertions for forked children: print and _exit(1) */
#define ZT_CREQ(cond)                                                     \
	do {                                                              \
		if (!(cond))                                              \
			zt_child_fail(__FILE__, __LINE__, "%s", #cond);   \
	} while (0)
#define ZT_CREQ_MSG(cond, ...)                                            \
	do {                                                              \
		if (!(cond))                                              \
			zt_child_fail(__FILE__, __LINE__, __VA_ARGS__);   \
	} while (0)

/* ------------------------------------------------------------------ */
/* library conveniences (return codes are the library's)                 */

/* log callback collecting messages */
struct zt_log {
	unsigned count[4];  /* messages per level */
	unsigned bad_level; /* messages with a level outside 0..3 */
	char text[16384];   /* "<level>: <msg>\n" lines, truncated */
	size_t used;
};
void zt_log_fn(void *arg, int level, const char *msg);
/* 1 if a message of `level` containing needle was logged */
int zt_log_has(const struct zt_log *l, int level, const char *needle);

/* context with backends (0: field not set) and flags (0: not set) */
int zt_ctx(uint64_t backends, unsigned flags, struct zc_ctx **out);
/* registration of caller memory; access 0 / backends 0: field not set */
int zt_reg_mem(struct zc_file *f, void *addr, size_t len, unsigned access,
	       unsigned flags, uint64_t backends, struct zc_reg **out);
/* MAP_FILE registration of [file_off, file_off + len) */
int zt_reg_map_file(struct zc_file *f, uint64_t file_off, size_t len,
		    unsigned access, uint64_t backends, struct zc_reg **out);
/* "uring_fixed:-14(memory is read-only) bounce:0()" for messages */
const char *zt_attempts_str(const struct zc_reg *r, char *buf, size_t len);
/* the attempt of backend b, or NULL (copied into *a) */
int zt_find_attempt(const struct zc_reg *r, enum zc_backend b,
		    struct zc_attempt *a);

/* ------------------------------------------------------------------ */
/* what a stretch of code must give back (reliability suites)            */

struct zt_res {
	int fds;           /* zt_fd_count() */
	int maps;          /* lines of /proc/self/maps, [heap] not counted */
	int64_t pins;      /* zt_pins_settled(), INT64_MIN if not reported */
	int64_t vm_pin_kb; /* zt_vm_pin_kb(), -1 if not reported */
};
/* lines of /proc/self/maps except [heap], which glibc's brk heap makes
 * appear and disappear as it grows and trims */
int zt_map_count_noheap(void);
/* take a snapshot of the counts above */
void zt_res_snap(struct zt_res *r);
/* 0 if the open fds, the mappings (where zt_maps_meaningful()) and VmPin
 * are what they were in *before, and the system-wide pin count came back
 * to at most its earlier value (plus $ZT_PIN_SLACK, default 0) within
 * wait_ms (other processes' pins come and go; a leaked one stays). Else
 * -1, with what differs in why. Safe in forked children: no Check
 * assertions. */
int zt_res_check(const struct zt_res *before, int wait_ms, char *why, size_t len);
/* the same as a child assertion: print what leaked and _exit(1) */
#define ZT_CREQ_NO_LEAK(before)                                           \
	do {                                                              \
		char zt_lw_[512];                                         \
		if (zt_res_check((before), 3000, zt_lw_, sizeof zt_lw_))  \
			zt_child_fail(__FILE__, __LINE__, "leak: %s", zt_lw_); \
	} while (0)

/* 1 if one line logged at `level` contains every one of the (up to 4)
 * non-NULL needles */
int zt_log_line_has(const struct zt_log *l, int level, const char *n1,
		    const char *n2, const char *n3, const char *n4);
/* a positive integer from the environment, else def */
long zt_env_long(const char *name, long def);

/* ------------------------------------------------------------------ */
/* variants: one CTest entry per (file system, O_DIRECT, backend)        */

struct zt_variant {
	const char *name;      /* "tmpfs.bounce" as given */
	const char *fs;        /* "tmpfs" or "ext4" */
	const char *dir;       /* the per-run directory on that fs */
	int direct;            /* open the file with O_DIRECT */
	enum zc_backend backend; /* BOUNCE or URING_FIXED */
};
/* Parse "<tmpfs|ext4|ext4_direct>.<uring_fixed|bounce>" and check what it
 * needs; exits 77 with a reason when this machine lacks it, exits 2 on a
 * name it does not know. */
void zt_variant_require(const char *name, struct zt_variant *v);

/* ------------------------------------------------------------------ */
/* Check runner                                                          */

/* Run the suite; prints the counts; returns the process exit status. */
int zt_run_suite(Suite *s);
/* new tcase with a hang guard (not an assertion on time) */
TCase *zt_tcase(const char *name);

#define ZT_CK_CHILD_OK(st)                                                \
	do {                                                              \
		char zt_sb_[64];                                          \
		int zt_st_ = (st); /* evaluated once: it may fork */      \
		ck_assert_msg(WIFEXITED(zt_st_) && WEXITSTATUS(zt_st_) == 0, \
			      "forked child failed: %s",                  \
			      zt_status_str(zt_st_, zt_sb_, sizeof zt_sb_)); \
	} while (0)

/*
 * Pins, three ways. vm_kb: this process's VmPin, exact for io_uring
 * buffers. sys: FOLL_PIN pins outstanding system wide, the smallest of a
 * few samples. adj: sys less the io_uring buffers of other processes. An
 * excess counts only when both system-wide figures show it.
 */
struct zt_pinsnap {
	int64_t sys, adj; /* INT64_MIN: the kernel does not report pins */
	long vm_kb;       /* -1: no VmPin */
};
struct zt_pinsnap zt_pin_snap(void);
/* /proc/self/maps lines, made comparable under ASan (quarantine emptied,
 * allocator space left out); 0 where nothing can be compared (TSan,
 * valgrind) */
int zt_map_count_comparable(void);
/* no more than tol pins more than at s0, and VmPin exactly as at s0 */
bool zt_pins_within(const struct zt_pinsnap *s0, const struct zt_pinsnap *s, int64_t tol);

/* wait up to three seconds for zt_pins_within(s0, now, tol) (another
 * process's pins may sit on top of ours for a moment; a leaked one
 * stays); returns the last snapshot, for the caller to judge and print */
struct zt_pinsnap zt_pins_wait_back(const struct zt_pinsnap *s0, int64_t tol);

/* ------------------------------------------------------------------ */
/* file leases (pin_lease, lease_stress)                                 */

/* CLOCK_MONOTONIC in seconds */
double zt_now_s(void);
/* A new file "<dir>/<prefix>.XXXXXX" (name written to path, PATH_MAX)
 * holding `size` bytes of pattern `seed`, written with pwrite on the one
 * O_CLOEXEC fd returned: the only open of the file, as a write lease
 * needs. -errno on failure. No large malloc: sanitizer allocators keep
 * those mapped, which would blur counts of mappings. */
int zt_make_lease_file(const char *dir, const char *prefix, uint64_t size,
		       uint32_t seed, char *path);
/* fs.lease-break-time in seconds, -1 if unreadable; *limit_s is "well
 * inside" it: half of it, at most 10 s (10 s when it is below 2 s, where
 * the kernel's forced break cannot be told apart anyway) */
int zt_lease_break_time(double *limit_s);
/* Does [off, off+len) of fd hold pattern seed? 0 if so; ZT_RANGE_SHORT
 * when a pread failed or came up short (*err: its errno, or 0);
 * ZT_RANGE_WRONG at a wrong byte. *bad_off: the file offset where it went
 * wrong. For breaker children: no stdio, no malloc, no Check. */
/* The end of a breaker child: close fd (when >= 0), write the len bytes
 * of the report to wfd and _exit: 0 when ok, 1 when not, 3 when the
 * report could not be written. */
void zt_breaker_exit(int fd, int wfd, const void *report, size_t len, bool ok)
	__attribute__((noreturn));
#define ZT_RANGE_SHORT 1
#define ZT_RANGE_WRONG 2
int zt_check_range(int fd, uint64_t off, uint64_t len, uint32_t seed, int *err,
		   int64_t *bad_off);

#endif /* ZT_HELPERS_H */
