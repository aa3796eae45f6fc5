/* SPDX-License-Identifier: MIT */
/*
 * libzerocopy: register memory against a file with the best zero-copy
 * mechanism the running system offers, fall back visibly when it cannot,
 * and move data between the two.
 *
 * Conventions (see libzerocopy(7)):
 *  - every function returns 0 or a count on success and a negative errno
 *    on failure; errno is never the only report;
 *  - out-parameters are written only on success;
 *  - input structs carry a field_mask: a field is read only when its bit is
 *    set, unset fields take their documented default, unknown bits give
 *    -EINVAL; output structs are filled up to a caller-given size.
 */
#ifndef LIBZEROCOPY_ZEROCOPY_H
#define LIBZEROCOPY_ZEROCOPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(ZC_API)
#define ZC_API __attribute__((visibility("default")))
#elif !defined(ZC_API)
#define ZC_API
#endif

/* ------------------------------------------------------------------ */
/* version                                                              */

#define ZC_VERSION_MAJOR 0
#define ZC_VERSION_MINOR 2
#define ZC_VERSION_PATCH 0
#define ZC_VERSION_NUMBER \
	((ZC_VERSION_MAJOR << 16) | (ZC_VERSION_MINOR << 8) | ZC_VERSION_PATCH)

/* (major << 16) | (minor << 8) | patch of the library actually loaded */
ZC_API unsigned zc_version(void);

/* ------------------------------------------------------------------ */
/* backends                                                             */

enum zc_backend {
	ZC_BACKEND_NONE = 0,
	ZC_BACKEND_P2P_BAR = 1,     /* PCIe peer-to-peer (BAR) memory */
	ZC_BACKEND_ODP_MR = 2,      /* RDMA on-demand-paging memory region */
	ZC_BACKEND_PIN_LEASE = 3,   /* file pages pinned under a file lease */
	ZC_BACKEND_URING_FIXED = 4, /* io_uring fixed buffer + fixed file */
	ZC_BACKEND_BOUNCE = 5,      /* normal buffers; the floor */
};
#define ZC_BACKEND_MAX 5

#define ZC_BACKEND_BIT(b) (UINT64_C(1) << (b))
#define ZC_BACKENDS_ALL                                                    \
	(ZC_BACKEND_BIT(ZC_BACKEND_P2P_BAR) | ZC_BACKEND_BIT(ZC_BACKEND_ODP_MR) | \
	 ZC_BACKEND_BIT(ZC_BACKEND_PIN_LEASE) |                               \
	 ZC_BACKEND_BIT(ZC_BACKEND_URING_FIXED) |                             \
	 ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE))

/* "p2p_bar", "odp_mr", "pin_lease", "uring_fixed", "bounce"; "none" for
 * ZC_BACKEND_NONE and "unknown" for anything else. Never NULL. */
ZC_API const char *zc_backend_name(enum zc_backend b);
/* Message for a negative errno returned by this library. Never NULL. */
ZC_API const char *zc_strerror(int neg_errno);

/* ------------------------------------------------------------------ */
/* context                                                              */

struct zc_ctx;
struct zc_file;
struct zc_reg;
struct zc_queue;
struct ibv_pd;

/* log levels, as in ZC_LOG=error|warn|info|debug */
#define ZC_LOG_ERROR 0
#define ZC_LOG_WARN 1
#define ZC_LOG_INFO 2
#define ZC_LOG_DEBUG 3

typedef void (*zc_log_fn)(void *arg, int level, const char *msg);

#define ZC_CTX_FIELD_BACKENDS (UINT64_C(1) << 0)
#define ZC_CTX_FIELD_PD (UINT64_C(1) << 1)
#define ZC_CTX_FIELD_QUEUE_DEPTH (UINT64_C(1) << 2)
#define ZC_CTX_FIELD_BOUNCE_BYTES (UINT64_C(1) << 3)
#define ZC_CTX_FIELD_NUMA_NODE (UINT64_C(1) << 4)
#define ZC_CTX_FIELD_FLAGS (UINT64_C(1) << 5)
#define ZC_CTX_FIELD_LOG_FN (UINT64_C(1) << 6)    /* log_fn and log_arg */
#define ZC_CTX_FIELD_LOG_LEVEL (UINT64_C(1) << 7)
#define ZC_CTX_FIELD_LEASE_SIGNAL (UINT64_C(1) << 8)

/* zc_ctx_params.flags */
#define ZC_CTX_NO_URING (1u << 0) /* never use io_uring (plain syscalls only) */

struct zc_ctx_params {
	uint64_t field_mask;  /* ZC_CTX_FIELD_* bits say which fields are set */
	uint64_t backends;    /* allowed set; default ZC_BACKENDS_ALL */
	struct ibv_pd *pd;    /* register MRs in this PD; default: own PD */
	unsigned queue_depth; /* default depth of queues; default 64 */
	size_t bounce_bytes;  /* cap on staging memory; default 64 MiB */
	int numa_node;        /* -1 (default): the file's device node */
	unsigned flags;       /* ZC_CTX_* flags; default 0 */
	/* appended in 0.1 */
	zc_log_fn log_fn;     /* default: lines on stderr */
	void *log_arg;
	int log_level;        /* default: ZC_LOG, else ZC_LOG_WARN */
	int lease_signal;     /* real-time signal for lease breaks, aimed at a
				 library thread; default SIGRTMAX - 3 */
};

ZC_API int zc_ctx_create(const struct zc_ctx_params *p, struct zc_ctx **out);
ZC_API void zc_ctx_destroy(struct zc_ctx *ctx);

/* zc_backend_info.caps */
#define ZC_CAP_ZEROCOPY (UINT64_C(1) << 0)  /* no library copy of the data */
#define ZC_CAP_MAP_FILE (UINT64_C(1) << 1)  /* can register the file's own pages */
#define ZC_CAP_RDMA (UINT64_C(1) << 2)      /* provides RDMA keys */
#define ZC_CAP_URING (UINT64_C(1) << 3)     /* I/O runs through io_uring */
#define ZC_CAP_REVOCABLE (UINT64_C(1) << 4) /* may be revoked after creation */

struct zc_backend_info {
	int available;    /* 1 if the backend can be tried on this system */
	uint64_t caps;    /* ZC_CAP_* */
	char reason[192]; /* why (un)available, in words a user can act on */
};
ZC_API int zc_ctx_query(struct zc_ctx *ctx, enum zc_backend b,
			struct zc_backend_info *info);
/* "zerocopy", "map_file", "rdma", "uring", "revocable" for one ZC_CAP_*
 * bit; NULL for 0, for several bits and for a bit this library does not
 * know (added in 0.2). */
ZC_API const char *zc_cap_name(uint64_t cap);

/* ------------------------------------------------------------------ */
/* file                                                                 */

/* Probe fd once. Does not take ownership of fd: the caller closes it
 * after zc_file_close(). flags must be 0. */
ZC_API int zc_file_open(struct zc_ctx *ctx, int fd, unsigned flags,
			struct zc_file **out);
ZC_API void zc_file_close(struct zc_file *f);

/* zc_file_info.flags */
#define ZC_FILE_REGULAR (1u << 0)
#define ZC_FILE_BLOCKDEV (1u << 1)
#define ZC_FILE_READABLE (1u << 2)
#define ZC_FILE_WRITABLE (1u << 3)
#define ZC_FILE_DIRECT (1u << 4)   /* O_DIRECT in effect on the fd */
#define ZC_FILE_DAX (1u << 5)      /* statx reports the DAX attribute */
#define ZC_FILE_SHMEM (1u << 6)    /* tmpfs/shmem/hugetlbfs: pages can be pinned */
#define ZC_FILE_LEASE_OK (1u << 7) /* a file lease could be taken */

struct zc_file_info {
	uint64_t size;             /* bytes of this struct the library filled */
	uint32_t flags;            /* ZC_FILE_* */
	uint32_t fs_magic;         /* statfs f_type */
	char fs_name[32];          /* "ext4", "tmpfs", ... or "0x..." */
	uint64_t file_size;        /* st_size, or the block device size */
	uint32_t dio_mem_align;    /* O_DIRECT buffer alignment in bytes */
	uint32_t dio_offset_align; /* O_DIRECT offset/length alignment */
	uint32_t dev_major, dev_minor; /* backing block device, 0:0 if none */
	char blockdev[32];         /* "vda", "nvme0n1", "" if none */
	char pci_bdf[16];          /* "0000:00:05.0", "" if none */
	int numa_node;             /* -1 if unknown */
	char lease_reason[96];     /* why a lease can or cannot be taken */
	/* appended after 0.1.0 */
	uint32_t max_segments;     /* segments the disk takes in one request
				      (queue/max_segments), 0 if unknown */
};
ZC_API int zc_file_query(const struct zc_file *f, struct zc_file_info *out,
			 size_t out_size);
/* "regular", "blockdev", "readable", "writable", "direct", "dax", "shmem",
 * "lease_ok" for one ZC_FILE_* bit; NULL for 0, for several bits and for a
 * bit this library does not know (added in 0.2). */
ZC_API const char *zc_file_flag_name(uint32_t flag);

/* ------------------------------------------------------------------ */
/* registration                                                         */

enum zc_mem_type { ZC_MEM_HOST = 0, ZC_MEM_DMABUF = 1, ZC_MEM_P2P = 2 };

#define ZC_ACCESS_READ (1u << 0)  /* file -> memory (zc_read) */
#define ZC_ACCESS_WRITE (1u << 1) /* memory -> file (zc_write, MAP_FILE stores) */
#define ZC_ACCESS_REMOTE_READ (1u << 2)
#define ZC_ACCESS_REMOTE_WRITE (1u << 3)

#define ZC_REG_MAP_FILE (1u << 0)         /* memory is the file range itself */
#define ZC_REG_REQUIRE_ZEROCOPY (1u << 1) /* fail rather than land on bounce */
#define ZC_REG_NO_FALLBACK (1u << 2) /* on revocation stay revoked (I/O fails
					with -EKEYREVOKED) instead of moving
					to bounce */

#define ZC_REG_FIELD_ADDR (UINT64_C(1) << 0)
#define ZC_REG_FIELD_LENGTH (UINT64_C(1) << 1)
#define ZC_REG_FIELD_FILE_OFFSET (UINT64_C(1) << 2)
#define ZC_REG_FIELD_ACCESS (UINT64_C(1) << 3)
#define ZC_REG_FIELD_FLAGS (UINT64_C(1) << 4)
#define ZC_REG_FIELD_MEM_TYPE (UINT64_C(1) << 5)
#define ZC_REG_FIELD_DMABUF_FD (UINT64_C(1) << 6)
#define ZC_REG_FIELD_BACKENDS (UINT64_C(1) << 7)

struct zc_reg_params {
	uint64_t field_mask;
	void *addr;           /* caller memory; not with ZC_REG_MAP_FILE */
	size_t length;        /* required */
	uint64_t file_offset; /* ZC_REG_MAP_FILE: start of the file range */
	unsigned access;      /* ZC_ACCESS_*; default READ|WRITE */
	unsigned flags;       /* ZC_REG_*; default 0 */
	enum zc_mem_type mem_type; /* default ZC_MEM_HOST */
	int dmabuf_fd;
	uint64_t backends;    /* allowed set; default ZC_BACKENDS_ALL */
};

ZC_API int zc_reg_create(struct zc_file *f, const struct zc_reg_params *p,
			 struct zc_reg **out);
/* -EBUSY while I/O is in flight; the registration is then left intact. */
ZC_API int zc_reg_destroy(struct zc_reg *r);
ZC_API enum zc_backend zc_reg_backend(const struct zc_reg *r);
ZC_API void *zc_reg_addr(const struct zc_reg *r);
ZC_API size_t zc_reg_length(const struct zc_reg *r);

struct zc_attempt {
	enum zc_backend backend;
	int error;        /* 0 for the backend in use, else a negative errno */
	char reason[192];
};
/* Copies up to max attempts; returns how many there are in all. */
ZC_API int zc_reg_attempts(const struct zc_reg *r, struct zc_attempt *out,
			   unsigned max);

struct zc_rdma_keys {
	uint32_t lkey, rkey;
	uint64_t addr;
};
/* -ENODATA when the registration has no memory region */
ZC_API int zc_reg_rdma(const struct zc_reg *r, struct zc_rdma_keys *keys);

#define ZC_PREFETCH_WRITE (1u << 0) /* make the pages writable too */
/* (0.2) Fault [off, +len) of an on-demand-paging memory region in ahead
 * of a peer's access, and wait for it. -EOPNOTSUPP: the device cannot
 * (not a failure of the registration: the first access faults instead);
 * -ENODATA: the registration has no on-demand-paging region. */
ZC_API int zc_reg_prefetch(struct zc_reg *r, size_t off, size_t len,
			   unsigned flags);

/* ------------------------------------------------------------------ */
/* PCIe peer-to-peer memory (0.2)                                       */

/* A publisher of p2pmem (/sys/bus/pci/devices/<bdf>/p2pmem: an NVMe
 * controller memory buffer, a device BAR) and how a file's device
 * reaches it by the kernel's rule. */
struct zc_p2p_provider {
	char pci_bdf[16];   /* "0000:04:00.0" */
	uint64_t size;      /* p2pmem/size, bytes */
	uint64_t available; /* p2pmem/available, bytes */
	uint32_t published; /* 1: offered to any user (p2pmem/published) */
	uint32_t reachable; /* 1: the file's O_DIRECT I/O can move data to
			       and from it (registrations land on p2p_bar) */
	int32_t distance;   /* PCI hops between the two, as the kernel counts
			       them (0: the file's own device); -1 unknown */
	char reason[164];   /* the path between them, or why it is refused */
};
/* The p2pmem publishers of this machine into out[0..max), nearest to f's
 * device first (f may be NULL: reach unknown, by PCI address): how many
 * there are (may exceed max), or -errno. entry_size is the caller's
 * sizeof(struct zc_p2p_provider), the stride of out: a later library
 * fills only the fields the caller knows, an older one leaves the rest. */
ZC_API int zc_p2p_providers(struct zc_ctx *ctx, const struct zc_file *f,
			    struct zc_p2p_provider *out, unsigned max,
			    size_t entry_size);
/* Map length bytes of device memory from the publisher pci_bdf names, or
 * (NULL) from the nearest published one that f's device reaches and that
 * has room. Register it with ZC_MEM_P2P. -ENODEV: no publisher;
 * -EREMOTEIO: none f's device reaches; -ENOMEM: none with room; -EACCES:
 * p2pmem/allocate is root's (0600). Free with zc_p2p_free. */
ZC_API int zc_p2p_alloc(struct zc_file *f, const char *pci_bdf, size_t length,
			void **addr);
/* Unmap what zc_p2p_alloc gave; -EINVAL when [addr, +length) is not inside
 * one p2pmem mapping. */
ZC_API int zc_p2p_free(void *addr, size_t length);

/* ------------------------------------------------------------------ */
/* sharing fixed buffers with the application's own io_uring rings      */

/* Give the application's ring (by fd) the context's fixed-buffer table:
 * every registration's slots now, later ones as they come, and empty
 * slots where a registration is destroyed or revoked. The ring's own
 * buffer table is replaced. Detach before closing the ring. */
ZC_API int zc_ctx_uring_attach(struct zc_ctx *ctx, int ring_fd);
ZC_API int zc_ctx_uring_detach(struct zc_ctx *ctx, int ring_fd);
/* The fixed-buffer index that holds [reg_off, reg_off+len) of r, for
 * READ_FIXED/WRITE_FIXED/SEND_ZC with IORING_RECVSEND_FIXED_BUF on an
 * attached ring: -ENODATA if r has no fixed buffer (or no longer has one),
 * -ERANGE if the range spans two slots, -EINVAL for bad arguments. */
ZC_API int zc_reg_buf_index(const struct zc_reg *r, size_t reg_off, size_t len);

/* ------------------------------------------------------------------ */
/* synchronous data movement                                            */

/* file -> memory at reg_off; returns bytes read (short only at EOF) */
ZC_API ssize_t zc_read(struct zc_reg *r, size_t reg_off, uint64_t file_off,
		       size_t len);
/* memory at reg_off -> file; returns bytes written */
ZC_API ssize_t zc_write(struct zc_reg *r, size_t reg_off, uint64_t file_off,
			size_t len);
/* ZC_REG_MAP_FILE: make stores into [reg_off, reg_off+len) reach the
 * file and its storage; otherwise flush the file's data to storage. */
ZC_API int zc_sync(struct zc_reg *r, size_t reg_off, size_t len);

/* ------------------------------------------------------------------ */
/* asynchronous data movement: a queue belongs to one thread at a time  */

#define ZC_CQE_F_FALLBACK (1u << 0) /* ran on a fallback path */
#define ZC_CQE_F_INLINE (1u << 1)   /* completed synchronously inside submit */

struct zc_completion {
	uint64_t user_data;
	int64_t res;      /* bytes moved, or a negative errno */
	uint32_t backend; /* enum zc_backend that ran the operation */
	uint32_t flags;   /* ZC_CQE_F_* */
};

/* depth 0 takes the context's queue_depth; flags must be 0 */
ZC_API int zc_queue_create(struct zc_ctx *ctx, unsigned depth, unsigned flags,
			   struct zc_queue **out);
ZC_API void zc_queue_destroy(struct zc_queue *q);
ZC_API int zc_prep_read(struct zc_queue *q, struct zc_reg *r, size_t reg_off,
			uint64_t file_off, size_t len, uint64_t user_data);
ZC_API int zc_prep_write(struct zc_queue *q, struct zc_reg *r, size_t reg_off,
			 uint64_t file_off, size_t len, uint64_t user_data);
/* returns the number of operations submitted */
ZC_API int zc_submit(struct zc_queue *q);
/* Waits until at least min completions are ready or timeout_ms passes
 * (-1: no limit), copies up to max; returns the count. */
ZC_API int zc_reap(struct zc_queue *q, struct zc_completion *out, unsigned max,
		   unsigned min, int timeout_ms);

/* ------------------------------------------------------------------ */
/* events                                                               */

#define ZC_EVENT_REVOKED 1         /* a lease break took the zero-copy path away */
#define ZC_EVENT_BACKEND_CHANGED 2 /* the registration runs on another backend */
#define ZC_EVENT_FALLBACK 3        /* an operation of the registration first ran
				      on a fallback path */

struct zc_event {
	uint32_t type;
	enum zc_backend from, to;
	struct zc_reg *reg;
	int error;
};
/* readable (POLLIN) while events are pending; owned by the context */
ZC_API int zc_ctx_event_fd(struct zc_ctx *ctx);
/* non-blocking; returns the count copied */
ZC_API int zc_ctx_events(struct zc_ctx *ctx, struct zc_event *out,
			 unsigned max);

/* ------------------------------------------------------------------ */
/* statistics                                                           */

struct zc_stats {
	uint64_t size; /* bytes the library filled (<= out_size) */
	uint64_t fallbacks, lease_breaks, revocations;
	struct {
		uint64_t regs, reg_failures, ops, bytes;
	} backend[8]; /* indexed by enum zc_backend */
};
ZC_API int zc_ctx_stats(struct zc_ctx *ctx, struct zc_stats *out,
			size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* LIBZEROCOPY_ZEROCOPY_H */
