/* SPDX-License-Identifier: MIT */
/*
 * io_uring rings that share one fixed-buffer and one fixed-file table (a
 * "ring set"): the registration ring holds the table, every I/O ring gets
 * the same slots. Knows nothing of the library's objects: callers pass
 * memory, fds and indices, and a ring set pointer that is NULL where
 * io_uring is unavailable (every function below accepts that).
 */
#ifndef ZC_SYS_URING_H
#define ZC_SYS_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ZC_MAX_SLOTS 16384u
#define ZC_MAX_SLOT_BYTES (1ul << 30)
#define ZC_MAX_FIXED_FILES 1024u

/* IORING_REGISTER_CLONE_BUFFERS (Linux 6.12): uapi newer than the
 * liburing 2.3 headers, defined once here */
#define ZC_IORING_REGISTER_CLONE_BUFFERS 30
#define ZC_IORING_REGISTER_DST_REPLACE (1u << 1)
struct zc_clone_buffers {
	uint32_t src_fd, flags, src_off, dst_off, nr, pad[3];
};

struct zc_ring;
struct zc_ringset;

/* Fault injection by the caller: -errno when the named step ("ring_setup",
 * "clone") must fail now, else 0. */
typedef int (*zc_uring_fault_fn)(void *arg, const char *step);

/* create the registration ring in *out; -errno + reason if io_uring is
 * unusable. fault may be NULL. */
int zc_rings_init(struct zc_ringset **out, zc_uring_fault_fn fault,
		  void *fault_arg, char *reason, size_t len);
void zc_rings_fini(struct zc_ringset *rs);
/* register [addr, addr+len) in consecutive slots of every ring */
int zc_rings_add_buffer(struct zc_ringset *rs, void *addr, size_t len,
			int *slot_first, unsigned *slot_count);
void zc_rings_del_buffer(struct zc_ringset *rs, int slot_first,
			 unsigned slot_count);
/* unpin: empty the slots in every ring but keep them reserved, so a late
 * submission naming them fails rather than reaching other memory. With
 * keep_pin the registration ring keeps its reference (no I/O runs there)
 * until zc_rings_drop_pin: unpinning takes time in proportion to the
 * pages, and a revocation may let someone go in between. */
void zc_rings_clear_buffer(struct zc_ringset *rs, int slot_first,
			   unsigned slot_count, bool keep_pin);
void zc_rings_drop_pin(struct zc_ringset *rs, int slot_first,
		       unsigned slot_count);
int zc_rings_add_file(struct zc_ringset *rs, int fd);
void zc_rings_del_file(struct zc_ringset *rs, int idx);
/* a new I/O ring; *no_table is set when it got no buffer table (its ops
 * then go by plain buffers) */
struct zc_ring *zc_ring_new(struct zc_ringset *rs, unsigned depth,
			    bool *no_table);
void zc_ring_free(struct zc_ringset *rs, struct zc_ring *ring);
int zc_rings_attach(struct zc_ringset *rs, int ring_fd);
int zc_rings_detach(struct zc_ringset *rs, int ring_fd);
/* is the slot reserved and holding memory (not cleared by a revocation)? */
bool zc_rings_slot_live(struct zc_ringset *rs, int slot);
/* does ring carry slot? (registration may have failed on a ring) */
bool zc_ring_has_slot(const struct zc_ring *ring, int slot);

/* a file as an SQE names it: by its fixed-file index where the ring has
 * it, else by fd; write_flags go on writes (RWF_NOAPPEND) */
struct zc_ring_file {
	int fd;
	int fixed_idx;
	int write_flags;
};
/* one read or write SQE; slot >= 0 names a fixed buffer */
int zc_ring_prep(struct zc_ring *ring, const struct zc_ring_file *f, bool write,
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
/* facts for zcinfo-like reporting (rs not NULL) */
void zc_rings_describe(struct zc_ringset *rs, char *buf, size_t len);

#endif /* ZC_SYS_URING_H */
