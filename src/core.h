/* SPDX-License-Identifier: MIT */
/*
 * The library's objects as the core and the backends both see them: the
 * context, the file, the registration and what was asked of it, logging
 * and fault injection. Nothing here knows any one backend: what a backend
 * keeps for itself hangs off the priv slots.
 */
#ifndef ZC_CORE_H
#define ZC_CORE_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "zerocopy.h"
#include "config.h"

#define ZC_REASON_LEN 192
#define ZC_MAX_ATTEMPTS 8
#define ZC_DEFAULT_QUEUE_DEPTH 64u
#define ZC_MAX_QUEUE_DEPTH 4096u /* zc_ctx_params.queue_depth and zc_queue_create */
#define ZC_DEFAULT_BOUNCE_BYTES (64u << 20)
#define ZC_STAGING_CHUNK (1u << 20)

#define ZC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ZC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define zc_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define zc_likely(x) __builtin_expect(!!(x), 1)
#define zc_unlikely(x) __builtin_expect(!!(x), 0)

struct zc_ringset;
struct zc_fault;
struct zc_staging;
struct zc_backend_ops;
struct zc_mr_dev;

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
/* env.c: fault injection (ZC_FAULT)                                    */

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

struct zc_backend_state {
	const struct zc_backend_ops *ops; /* NULL: not compiled in */
	bool available;
	char reason[ZC_REASON_LEN];
	void *priv; /* backend-private context state, set by its probe */
};

struct zc_event_ring {
	pthread_mutex_t lock;
	int fd; /* eventfd, semaphore-free: one count per batch */
	unsigned head, count;
	uint64_t dropped;
	struct zc_event ev[256];
};

struct zc_counters {
	_Atomic uint64_t fallbacks, revocations;
	struct {
		_Atomic uint64_t regs, reg_failures, ops, bytes;
	} backend[8];
};

struct zc_ctx {
	struct zc_log log;
	/* as the caller gave them (zeroed for NULL): backends read the
	 * fields they own from here */
	struct zc_ctx_params params;
	uint64_t backends; /* params & ZC_BACKENDS & build */
	struct ibv_pd *pd;
	unsigned queue_depth;
	size_t bounce_bytes;
	int numa_node;
	unsigned flags;
	struct zc_fault *faults; /* NULL unless ZC_FAULT is set */
	uint64_t quirks_ignored; /* ZC_QUIRKS: bit i lifts quirks.c's entry i */

	struct zc_backend_state be[ZC_BACKEND_MAX + 1];

	/* io_uring resources shared by every ring of this context; NULL
	 * when io_uring is unavailable (see uring_reason) */
	struct zc_ringset *rings;
	char uring_reason[ZC_REASON_LEN];

	/* the RDMA device and PD for memory regions (mr.c); NULL: none, see
	 * mr_reason */
	struct zc_mr_dev *mr_dev;
	char mr_reason[ZC_REASON_LEN];

	unsigned fork_generation; /* zc_fork_generation when created */
	struct zc_staging *staging;
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
	/* A revocation of one of the file's registrations and zc_reg_destroy
	 * of any of them take this lock, so that destroy sees a registration
	 * before a revocation or after it, never inside. A revocable backend
	 * may guard its per-file state with it. */
	pthread_mutex_t revoke_lock;
	void *priv[ZC_BACKEND_MAX + 1]; /* per backend: its per-file state */
};

/* the NUMA node for memory that serves f: the context's choice, else
 * the node of the file's device (-1: anywhere) */
static inline int zc_file_numa_node(const struct zc_file *f)
{
	return f->ctx->numa_node >= 0 ? f->ctx->numa_node : f->info.numa_node;
}

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
	/* ZC_MEM_P2P: the PCI function whose p2pmem the memory was mapped
	 * from ("dddd:bb:dd.f", p2p.h) */
	char p2p_bdf[16];
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
	/* the backend's ops; a revocation may replace them (read them with
	 * __atomic_load_n where no gate or lock keeps that away) */
	const struct zc_backend_ops *ops;
	void *addr; /* what zc_reg_addr returns */
	size_t length;
	/* ZC_ACCESS_READ/WRITE that zc_read/zc_write may use: a MAP_FILE
	 * registration without ZC_ACCESS_WRITE is read-only memory, so
	 * nothing may be read into it either */
	unsigned io_access;
	bool fallback; /* a better backend was tried and failed */
	/* the file's device never DMAs into this memory (device memory it
	 * does not reach, a dma-buf): the CPU copies every byte, O_DIRECT
	 * through staging (zc_devmem_io) */
	bool cpu_only;
	_Atomic bool fallback_reported;
	struct zc_mapping map;

	/* fixed buffer slots in the context's ring set; slot_count 0 if none */
	int slot_first;
	unsigned slot_count;

	void *priv; /* backend-private */
	void *mr;   /* its RDMA memory region (mr.c), NULL if none */
	_Atomic int inflight;  /* synchronous calls running (and inline ops) */
	_Atomic int queued;    /* queue ops prepared and not yet reaped */
	_Atomic bool revoking; /* a revocation waits for inflight to drain */
	bool revoked;          /* ZC_REG_NO_FALLBACK registration after a break */

	/* selection's record, written by zc_reg_create only */
	unsigned nr_attempts;
	struct zc_attempt attempts[ZC_MAX_ATTEMPTS];
	/* a revocation's, under the file's revoke_lock: zc_reg_attempts
	 * shows the record with it applied (select.c). A revocation may
	 * come before selection has recorded its success. */
	struct zc_revocation {
		bool happened;
		enum zc_backend from, to;
		char what[ZC_REASON_LEN];
	} revocation;
};

#endif /* ZC_CORE_H */
