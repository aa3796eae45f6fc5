/* SPDX-License-Identifier: MIT */
/* Private declarations shared by the core, the backends and src/sys. */
#ifndef ZC_INTERNAL_H
#define ZC_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"
#include "config.h"

#define ZC_REASON_LEN 192
#define ZC_MAX_ATTEMPTS 8
#define ZC_DEFAULT_QUEUE_DEPTH 64u
#define ZC_DEFAULT_BOUNCE_BYTES (64u << 20)
#define ZC_STAGING_CHUNK (1u << 20)

#define ZC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ZC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define zc_likely(x) __builtin_expect(!!(x), 1)
#define zc_unlikely(x) __builtin_expect(!!(x), 0)

struct zc_ring;
struct zc_ringset;
struct zc_fault;
struct zc_staging;

/* ------------------------------------------------------------------ */
/* log.c                                                                */

struct zc_log {
	zc_log_fn fn;
	void *arg;
	int level;
};

void zc_log_init(struct zc_log *log, const struct zc_ctx_params *p);
void zc_logf(const struct zc_log *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define zc_err(ctx, ...) zc_logf(&(ctx)->log, ZC_LOG_ERROR, __VA_ARGS__)
#define zc_warn(ctx, ...) zc_logf(&(ctx)->log, ZC_LOG_WARN, __VA_ARGS__)
#define zc_info(ctx, ...) zc_logf(&(ctx)->log, ZC_LOG_INFO, __VA_ARGS__)
#define zc_dbg(ctx, ...)                                                 \
	do {                                                               \
		if ((ctx)->log.level >= ZC_LOG_DEBUG)                      \
			zc_logf(&(ctx)->log, ZC_LOG_DEBUG, __VA_ARGS__);   \
	} while (0)

/* ------------------------------------------------------------------ */
/* env.c: parsers of untrusted configuration strings                    */

/* "uring_fixed,bounce" or "^odp_mr,p2p_bar" or "all" -> allowed set.
 * On error returns -EINVAL and writes the offending token to err. */
int zc_parse_backends(const char *s, uint64_t *out, char *err, size_t errlen);
/* "error|warn|info|debug" (or 0..3) -> level, -EINVAL otherwise */
int zc_parse_log_level(const char *s);
/* enum from "uring_fixed" etc. (ZC_BACKEND_NONE if unknown) */
enum zc_backend zc_backend_from_name(const char *name, size_t len);
/* errno from "ENOMEM" or "12"; 0 if not an errno */
int zc_parse_errno(const char *s, size_t len);
/* ZC_FAULT=<backend|core>:<step>:<errno>[:<nth>][,...]; a step the site
 * never passes to zc_fault_hit is an error. On error returns -EINVAL and
 * writes what is wrong (the rule, the unknown step) to err. */
int zc_fault_parse(const char *s, struct zc_fault **out, char *err,
		   size_t errlen);
void zc_fault_free(struct zc_fault *f);
/* -errno if the named step must fail now, else 0; counts hits. Inline
 * test first: data paths call it once per operation, and the rules are
 * almost always absent. */
int zc_fault_hit_rules(struct zc_fault *f, enum zc_backend b, const char *step);
static inline int zc_fault_hit(struct zc_fault *f, enum zc_backend b,
			       const char *step)
{
	return __builtin_expect(f == NULL, 1) ? 0 : zc_fault_hit_rules(f, b, step);
}

/* ------------------------------------------------------------------ */
/* context                                                              */

struct zc_backend_ops;

struct zc_backend_state {
	const struct zc_backend_ops *ops; /* NULL: not compiled in */
	bool available;
	char reason[ZC_REASON_LEN];
	void *priv; /* backend-private context state */
};

struct zc_event_ring {
	pthread_mutex_t lock;
	int fd; /* eventfd, semaphore-free: one count per batch */
	unsigned head, count;
	uint64_t dropped;
	struct zc_event ev[256];
};

struct zc_counters {
	_Atomic uint64_t fallbacks, lease_breaks, revocations;
	struct {
		_Atomic uint64_t regs, reg_failures, ops, bytes;
	} backend[8];
};

struct zc_ctx {
	struct zc_log log;
	uint64_t backends; /* params & ZC_BACKENDS & build */
	struct ibv_pd *pd;
	unsigned queue_depth;
	size_t bounce_bytes;
	int numa_node;
	unsigned flags;
	struct zc_fault *faults; /* NULL unless ZC_FAULT is set */

	struct zc_backend_state be[ZC_BACKEND_MAX + 1];

	/* io_uring resources shared by every ring of this context; NULL
	 * when io_uring is unavailable (see uring_reason) */
	struct zc_ringset *rings;
	char uring_reason[ZC_REASON_LEN];

	unsigned fork_generation; /* zc_fork_generation when created */
	struct zc_staging *staging;
	struct zc_lease_monitor *lease_mon; /* started with the first lease */
	int lease_signal;
	struct zc_event_ring events;
	_Atomic unsigned nr_files, nr_queues; /* live children */
	struct zc_counters stats;
};

/* Objects belong to the process that made them: a forked child shares the
 * parent's rings and leases, so every entry point refuses it (-ECHILD). */
extern _Atomic unsigned zc_fork_generation;
static inline bool zc_forked(const struct zc_ctx *ctx)
{
	return zc_unlikely(ctx->fork_generation !=
			   atomic_load_explicit(&zc_fork_generation,
						memory_order_relaxed));
}
int zc_fork_refuse(struct zc_ctx *ctx, const char *fn);
#define ZC_REFUSE_IN_CHILD(ctx, fn)                                        \
	do {                                                               \
		if (zc_forked(ctx))                                        \
			return zc_fork_refuse(ctx, fn);                    \
	} while (0)

int zc_events_init(struct zc_ctx *ctx);
void zc_events_fini(struct zc_ctx *ctx);
/* post an event and wake the event fd */
void zc_event_post(struct zc_ctx *ctx, uint32_t type, enum zc_backend from,
		   enum zc_backend to, struct zc_reg *reg, int error);
void zc_note_fallback(struct zc_reg *r, enum zc_backend to, int error);
static inline void zc_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* file.c                                                               */

struct zc_file {
	struct zc_ctx *ctx;
	int fd;         /* library-owned F_DUPFD_CLOEXEC duplicate of the caller's fd */
	int user_fd;    /* the caller's number, for messages only */
	int fixed_idx;  /* index in every ring's file table, -1 if none */
	int open_flags; /* fcntl(F_GETFL) */
	int write_flags; /* RWF_NOAPPEND on an O_APPEND file, else 0 */
	struct zc_file_info info;
	pthread_mutex_t *edge_lock; /* the file's O_DIRECT read-modify-write lock */
	_Atomic unsigned refs;     /* registrations holding the file */
	uint64_t serial;           /* unique per process: staging owner tag */

	/* pin_lease: one lease per file, shared by its registrations */
	pthread_mutex_t lease_lock;
	unsigned lease_refs;
	struct zc_reg *lease_regs;    /* linked by zc_reg.lease_next */
	struct zc_file *lease_next;   /* in the context's lease monitor */
	_Atomic int monitor_busy;     /* the lease monitor is using the file */
	int saved_sig;                /* the fd's F_GETSIG before the lease */
	int saved_owner_type, saved_owner_pid; /* and its F_GETOWN_EX */
};
uint64_t zc_file_serial_next(void);
/* forked child: the edge locks may have been held by threads that are gone */
void zc_edge_locks_reset(void);

static inline bool zc_file_direct(const struct zc_file *f)
{
	return f->info.flags & ZC_FILE_DIRECT;
}

/*
 * Do queued operations on f run best inside zc_submit? Yes on tmpfs,
 * ramfs and hugetlbfs: io_uring has no non-blocking read/write path for
 * them and sends every operation to an io-wq worker thread (a wake-up and
 * a context switch each way), while the data is always in memory and the
 * copy pread does is all the work there is.
 */
static inline bool zc_file_queue_inline(const struct zc_file *f)
{
	return f->info.flags & ZC_FILE_SHMEM;
}

/* ------------------------------------------------------------------ */
/* registrations                                                        */

enum zc_dir { ZC_DIR_READ = 0, ZC_DIR_WRITE = 1 };

/* what a backend is asked to register */
struct zc_reg_req {
	struct zc_file *file;
	void *addr;  /* caller memory, or NULL for MAP_FILE */
	size_t length;
	uint64_t file_offset;
	unsigned access;
	unsigned flags;
	enum zc_mem_type mem_type;
	int dmabuf_fd;
	unsigned mem; /* ZC_MEM_* from zc_mem_inspect (caller memory only) */
};

/* memory the library mapped or allocated for a registration */
struct zc_mapping {
	void *base;  /* what to munmap/free */
	size_t size;
	bool is_file_map; /* MAP_SHARED mapping of the file */
	bool is_alloc;    /* library-owned copy (zc_mem_free) */
};

struct zc_reg {
	struct zc_ctx *ctx;
	struct zc_file *file;
	struct zc_reg_req req;
	enum zc_backend backend;
	const struct zc_backend_ops *ops;
	void *addr; /* what zc_reg_addr returns */
	size_t length;
	/* ZC_ACCESS_READ/WRITE that zc_read/zc_write may use: a MAP_FILE
	 * registration without ZC_ACCESS_WRITE is read-only memory, so
	 * nothing may be read into it either */
	unsigned io_access;
	bool fallback; /* a better backend was tried and failed */
	_Atomic bool fallback_reported;
	struct zc_mapping map;

	/* fixed buffer slots in the context's ring set; slot_count 0 if none */
	int slot_first;
	unsigned slot_count;

	void *priv; /* backend-private */
	_Atomic int inflight;  /* synchronous calls running (and inline ops) */
	_Atomic int queued;    /* queue ops prepared and not yet reaped */
	_Atomic bool revoking; /* a revocation waits for inflight to drain */
	bool revoked;          /* ZC_REG_NO_FALLBACK registration after a break */
	struct zc_reg *lease_next; /* in the file's list of leased registrations */

	unsigned nr_attempts;
	struct zc_attempt attempts[ZC_MAX_ATTEMPTS];
};

/* One I/O as the core hands it to a backend: file already validated,
 * O_DIRECT requirements already met (aligned offset, length, memory). */
struct zc_io {
	enum zc_dir dir;
	void *buf;
	uint64_t file_off;
	size_t len;
	size_t reg_off;
};

/* ------------------------------------------------------------------ */
/* backend ops table: one per file in src/backends/                    */

struct zc_backend_ops {
	size_t size; /* sizeof(struct zc_backend_ops) the backend was built with */
	enum zc_backend id;
	const char *name;
	uint64_t caps;
	/* once per context: 0 if usable, else -errno with a reason */
	int (*probe)(struct zc_ctx *ctx, char *reason, size_t len);
	void (*cleanup)(struct zc_ctx *ctx);
	/* >= 0: how well it fits (higher first); < 0: refusal -errno, or
	 * ZC_SCORE_NOT_APPLICABLE for requests of a kind it never serves
	 * (not recorded as an attempt, not a reason for a fallback) */
	int (*score)(struct zc_ctx *ctx, const struct zc_reg_req *req,
		     char *reason, size_t len);
	/* fill r->addr/length (or keep the caller's), slots, priv */
	int (*reg)(struct zc_reg *r, char *reason, size_t len);
	void (*dereg)(struct zc_reg *r);
	/* synchronous I/O; returns bytes moved (short only at EOF) or -errno */
	ssize_t (*io)(struct zc_reg *r, const struct zc_io *io);
	/* async: put the op on q's ring (0, or ZC_PREP_FALLBACK when it took
	 * a fallback path), or -EAGAIN to run it inline */
	int (*prep)(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		    uint64_t cookie);
	/* MAP_FILE: make memory stores reach the file */
	int (*sync)(struct zc_reg *r, size_t reg_off, size_t len);
	/* take the zero-copy path away (lease break), in two steps so that
	 * the lease can be released between them; NULL if not revocable.
	 * unpin: drop the pin and nothing else, the memory stays as it is.
	 * privatize: put library memory holding the file's current bytes at
	 * the same address, for the bounce backend to take over (not called
	 * for a registration that stays revoked). */
	void (*unpin)(struct zc_reg *r);
	int (*privatize)(struct zc_reg *r, char *reason, size_t len);
};

#define ZC_PREP_FALLBACK 1
#define ZC_SCORE_NOT_APPLICABLE INT_MIN

extern const struct zc_backend_ops zc_uring_fixed_ops;
extern const struct zc_backend_ops zc_bounce_ops;
extern const struct zc_backend_ops zc_pin_lease_ops;

/* Every data path enters a registration through this gate so that a
 * revocation (lease break) never changes the backend under a running op. */
void zc_reg_wait_revocation(struct zc_reg *r);
static inline int zc_reg_enter(struct zc_reg *r, _Atomic int *counter)
{
	for (;;) {
		atomic_fetch_add(counter, 1);
		if (zc_likely(!atomic_load(&r->revoking)))
			break;
		atomic_fetch_sub(counter, 1);
		zc_reg_wait_revocation(r);
	}
	if (zc_unlikely(r->revoked)) {
		atomic_fetch_sub(counter, 1);
		return -EKEYREVOKED;
	}
	return 0;
}
static inline void zc_reg_exit(_Atomic int *counter)
{
	atomic_fetch_sub_explicit(counter, 1, memory_order_release);
}
/* Take the zero-copy path away from r, in two steps with the file's
 * lease_lock held across both. begin: drain, unpin; r->revoking stays
 * set, so every data path waits. end: private memory, bounce (or revoked
 * with ZC_REG_NO_FALLBACK), events, and revoking cleared. */
void zc_reg_revoke_begin(struct zc_reg *r);
void zc_reg_revoke_end(struct zc_reg *r, int error);

/* fixed.c: memory that is an io_uring fixed buffer (uring_fixed, pin_lease) */
int zc_fixed_pin(struct zc_reg *r, enum zc_backend b, char *reason, size_t len);
int zc_fixed_pin_file(struct zc_reg *r, enum zc_backend b, char *reason,
		      size_t len);
void zc_fixed_unpin(struct zc_reg *r);
int zc_fixed_file_pinnable(const struct zc_file_info *fi, char *reason,
			   size_t len);
ssize_t zc_fixed_io(struct zc_reg *r, const struct zc_io *io);
int zc_fixed_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		  uint64_t cookie);
int zc_fixed_sync(struct zc_reg *r, size_t reg_off, size_t len);

/* select.c */
int zc_select_and_register(struct zc_reg *r, uint64_t allowed);

/* ------------------------------------------------------------------ */
/* io.c: paths shared by every backend                                  */

/* RWF_NOAPPEND (Linux 6.9), for headers that predate it */
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

/* pwrite at off even on an O_APPEND file (f->write_flags), where pwrite(2)
 * would append: the registration names the offset, not the end */
static inline ssize_t zc_pwrite(const struct zc_file *f, const void *buf,
				size_t len, uint64_t off)
{
	struct iovec iov = { (void *)buf, len };

	if (zc_likely(!f->write_flags))
		return pwrite(f->fd, buf, len, (off_t)off);
	return pwritev2(f->fd, &iov, 1, (off_t)off, f->write_flags);
}

/* pread/pwrite loop: EINTR/EAGAIN retried, short only at EOF. Inline:
 * the synchronous page-cache path is one call, and a frame costs about
 * as much as the rest of the library's work there. */
ssize_t zc_sys_rw_rest(const struct zc_file *f, enum zc_dir dir, void *buf,
		       size_t len, uint64_t off, ssize_t n);
static inline ssize_t zc_sys_rw(const struct zc_file *f, enum zc_dir dir,
				void *buf, size_t len, uint64_t off)
{
	ssize_t n = dir == ZC_DIR_READ ? pread(f->fd, buf, len, (off_t)off) :
					 zc_pwrite(f, buf, len, off);

	if (zc_likely(n == (ssize_t)len))
		return n;
	return zc_sys_rw_rest(f, dir, buf, len, off, n);
}
/* v is a multiple of a, a power of two */
static inline bool zc_aligned(uint64_t v, uint64_t a)
{
	return (v & (a - 1)) == 0;
}
/* may [buf, +len) at file offset off go to an O_DIRECT fd as it is? */
static inline bool zc_direct_aligned(const struct zc_file *f, const void *buf,
				     uint64_t off, size_t len)
{
	return zc_aligned((uintptr_t)buf, f->info.dio_mem_align) &&
	       zc_aligned(off, f->info.dio_offset_align) &&
	       zc_aligned(len, f->info.dio_offset_align);
}
/* full-range I/O on f with any alignment (edges staged for O_DIRECT) */
ssize_t zc_file_rw(struct zc_file *f, enum zc_dir dir, void *buf, size_t len,
		   uint64_t off);
/* checked I/O on a registration, through the O_DIRECT split; counts stats */
ssize_t zc_reg_rw(struct zc_reg *r, enum zc_dir dir, size_t reg_off,
		  uint64_t file_off, size_t len);
/* arguments of an I/O on r: 0, or -errno with a message (inline for the
 * data paths; the refusal is out of line) */
int zc_check_io_fail(struct zc_reg *r, const char *fn, enum zc_dir dir,
		     size_t reg_off, uint64_t file_off, size_t len)
	__attribute__((cold));
static inline int zc_check_io(struct zc_reg *r, const char *fn, enum zc_dir dir,
			      size_t reg_off, uint64_t file_off, size_t len)
{
	const unsigned need = dir == ZC_DIR_READ ? ZC_ACCESS_READ : ZC_ACCESS_WRITE;

	if (zc_likely(reg_off <= r->length && len <= r->length - reg_off &&
		      file_off <= (uint64_t)INT64_MAX &&
		      len <= (uint64_t)INT64_MAX - file_off &&
		      (r->io_access & need)))
		return 0;
	return zc_check_io_fail(r, fn, dir, reg_off, file_off, len);
}
/* MAP_FILE helpers used by more than one backend */
int zc_map_file(struct zc_reg *r, bool writable, char *reason, size_t len);
int zc_copy_file(struct zc_reg *r, char *reason, size_t len);
/* read-only memory for a MAP_FILE registration without ZC_ACCESS_WRITE */
int zc_map_seal(struct zc_reg *r, char *reason, size_t len);
/* library memory of `size` bytes holding `fill` bytes of the file from
 * `off`, read with pread (zeros past the end of the file): 0, or -errno
 * with a reason */
int zc_file_snapshot(struct zc_reg *r, uint64_t off, size_t fill, size_t size,
		     void **out, char *reason, size_t len);
void zc_unmap(struct zc_reg *r);

/* ------------------------------------------------------------------ */
/* staging.c: bounded, NUMA-local staging memory                       */

struct zc_stage {
	void *buf;
	size_t size;
	int index;
};
int zc_staging_init(struct zc_ctx *ctx);
void zc_staging_fini(struct zc_ctx *ctx);
/* blocks while the cap is reached and every chunk is in use */
int zc_stage_get(struct zc_ctx *ctx, const struct zc_file *owner,
		 struct zc_stage *out);
void zc_stage_put(struct zc_ctx *ctx, const struct zc_stage *st);

/* ------------------------------------------------------------------ */
/* sys/lease.c: file leases and the thread that hears them break        */

int zc_lease_monitor_init(struct zc_ctx *ctx);
void zc_lease_monitor_fini(struct zc_ctx *ctx);
/* with f->lease_lock held: take (or share) the file's lease */
int zc_lease_take(struct zc_file *f, int type, char *reason, size_t len);
/* with f->lease_lock held: drop one user; the last one releases it */
void zc_lease_put(struct zc_file *f);
/* "fs.leases-enable=0", or NULL when leases can be used */
const char *zc_leases_disabled(void);

/* ------------------------------------------------------------------ */
/* sys/mem.c: memory inspection and NUMA-local allocation              */

#define ZC_MEM_MAPPED (1u << 0)       /* the whole range is mapped */
#define ZC_MEM_READABLE (1u << 1)
#define ZC_MEM_WRITABLE (1u << 2)
#define ZC_MEM_PRIVATE_FILE (1u << 3) /* some part is a MAP_PRIVATE file mapping */
#define ZC_MEM_SHARED_FILE (1u << 4)  /* some part is a MAP_SHARED file mapping */
/* 0 with ZC_MEM_* in *flags, or -errno when the memory cannot be
 * inspected (/proc/self/maps unreadable: no fd left, no procfs) */
int zc_mem_inspect(const void *addr, size_t len, unsigned *flags);
void *zc_mem_alloc(struct zc_ctx *ctx, size_t len, int node);
void zc_mem_free(void *p, size_t len);
size_t zc_page_size(void);

/* ------------------------------------------------------------------ */
/* deadlines on CLOCK_MONOTONIC: a wait that a signal interrupts resumes
 * for what is left of its timeout, not for all of it again             */

/* the deadline timeout_ms from now in *ts, or NULL for a negative one */
static inline const struct timespec *zc_deadline(int timeout_ms,
						 struct timespec *ts)
{
	if (timeout_ms < 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return ts;
}

/* nanoseconds left until deadline, 0 once it has passed */
static inline int64_t zc_ns_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
	     (deadline->tv_nsec - now.tv_nsec);
	return ns > 0 ? ns : 0;
}

/* ------------------------------------------------------------------ */
/* sys/uring.c: rings that share one fixed-buffer and fixed-file table */

#define ZC_MAX_SLOTS 16384u
#define ZC_MAX_SLOT_BYTES (1ul << 30)
#define ZC_MAX_FIXED_FILES 1024u

/* create the registration ring; -errno + reason if io_uring is unusable */
int zc_rings_init(struct zc_ctx *ctx, char *reason, size_t len);
void zc_rings_fini(struct zc_ctx *ctx);
/* register [addr, addr+len) in consecutive slots of every ring */
int zc_rings_add_buffer(struct zc_ctx *ctx, void *addr, size_t len,
			int *slot_first, unsigned *slot_count);
void zc_rings_del_buffer(struct zc_ctx *ctx, int slot_first,
			 unsigned slot_count);
/* unpin: empty the slots in every ring but keep them reserved, so a late
 * submission naming them fails rather than reaching other memory. With
 * keep_pin the registration ring keeps its reference (no I/O runs there)
 * until zc_rings_drop_pin: unpinning takes time in proportion to the
 * pages, and a lease break lets the breaker go in between. */
void zc_rings_clear_buffer(struct zc_ctx *ctx, int slot_first,
			   unsigned slot_count, bool keep_pin);
void zc_rings_drop_pin(struct zc_ctx *ctx, int slot_first, unsigned slot_count);
int zc_rings_add_file(struct zc_ctx *ctx, int fd);
void zc_rings_del_file(struct zc_ctx *ctx, int idx);
struct zc_ring *zc_ring_new(struct zc_ctx *ctx, unsigned depth);
void zc_ring_free(struct zc_ctx *ctx, struct zc_ring *ring);
int zc_rings_attach(struct zc_ctx *ctx, int ring_fd);
int zc_rings_detach(struct zc_ctx *ctx, int ring_fd);
/* is the slot reserved and holding memory (not cleared by a revocation)? */
bool zc_rings_slot_live(struct zc_ctx *ctx, int slot);
/* does ring carry slot? (registration may have failed on a ring) */
bool zc_ring_has_slot(const struct zc_ring *ring, int slot);
/* queue.c access to the raw ring */
int zc_ring_prep(struct zc_ring *ring, struct zc_file *f, enum zc_dir dir,
		 void *buf, size_t len, uint64_t off, int slot,
		 uint64_t cookie);
/* hand the prepared SQEs to the kernel: how many it took, or -errno.
 * hold_signals: with the thread's signals blocked for the call (see
 * uring.c: io_uring cancels what it cannot start a worker for) */
int zc_ring_submit(struct zc_ring *ring, bool hold_signals);
/* Wait until min CQEs are ready or the deadline passes (NULL: no
 * deadline; signals do not end the wait), then pass ready CQEs to fn
 * until it has returned true (made a completion) max times. Returns that
 * count, or -errno. */
int zc_ring_reap(struct zc_ring *ring, unsigned max, unsigned min,
		 const struct timespec *deadline,
		 bool (*fn)(void *arg, uint64_t cookie, int res), void *arg);
/* facts for zcinfo-like reporting */
void zc_rings_describe(struct zc_ctx *ctx, char *buf, size_t len);

/* the slot in which byte reg_off of r lies, and whether [reg_off,
 * reg_off+len) stays inside that one slot */
static inline int zc_reg_slot(const struct zc_reg *r, size_t reg_off,
			      size_t len)
{
	size_t first, last;

	if (!r->slot_count)
		return -1;
	first = reg_off / ZC_MAX_SLOT_BYTES;
	last = (reg_off + len - 1) / ZC_MAX_SLOT_BYTES;
	return first == last ? r->slot_first + (int)first : -1;
}

/* queue.c */
struct zc_ring *zc_queue_ring(struct zc_queue *q);

#endif /* ZC_INTERNAL_H */
