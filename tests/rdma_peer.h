/* SPDX-License-Identifier: MIT */
/*
 * The remote RDMA peer of the real-kernel tests and benchmarks, on raw
 * libibverbs (no libzerocopy inside, so that it can judge the library).
 *
 * Two RC QPs connected to each other: the *target* QP sits on the device
 * whose PD holds the memory under test (the caller's PD, or one the
 * harness opens), the *initiator* QP posts RDMA READ and WRITE to it, as
 * a remote machine would. With two devices (rxe0 and rxe1 on the two ends
 * of a veth pair in the test guest) the initiator is on the other device,
 * where a probe transfer shows that the pair reaches each other; else
 * both QPs are on one device (loopback). Addressing is RoCE v2 with the
 * port's IPv4-mapped GID; the path MTU is the port's active_mtu.
 *
 * Every function returns 0 or a negative errno and writes a reason that
 * names the call that failed; nothing is left allocated on failure.
 */
#ifndef ZT_RDMA_PEER_H
#define ZT_RDMA_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct zt_rdma_peer;

/* 0 when an RDMA device can be opened, else -errno and the reason in why
 * (the caller prints it and exits 77). */
int zt_rdma_peer_available(char *why, size_t len);

/* Open the peer. pd: the PD the memory under test is registered in, or
 * NULL to have the harness open one on $ZT_RDMA_DEV (default: the first
 * device). The initiator side always gets a PD of its own. */
int zt_rdma_peer_open(struct zt_rdma_peer **out, struct ibv_pd *pd, char *err,
		      size_t len);
void zt_rdma_peer_close(struct zt_rdma_peer *p);

/* where memory the peer accesses is registered (the caller's PD or the
 * harness's), and where the peer's own buffers are */
struct ibv_pd *zt_rdma_peer_target_pd(const struct zt_rdma_peer *p);
struct ibv_pd *zt_rdma_peer_local_pd(const struct zt_rdma_peer *p);
/* initiator -> target, e.g. "rxe1 -> rxe0 (two devices; RoCE v2 GID index
 * 1 -> 1, path MTU 4096)", with why two devices were not used if not */
const char *zt_rdma_peer_describe(const struct zt_rdma_peer *p);
/* the target device's name and its port's active MTU in bytes */
const char *zt_rdma_peer_target_dev(const struct zt_rdma_peer *p);
unsigned zt_rdma_peer_mtu(const struct zt_rdma_peer *p);

/* One RDMA READ (remote -> local) or WRITE (local -> remote) posted by
 * the initiator, waited for up to timeout_ms. Returns the completion's
 * status (IBV_WC_SUCCESS = 0, or an enum ibv_wc_status, > 0), or -errno
 * when it could not be posted or did not complete in time (then err says
 * which). After a status other than success the QPs are in the error
 * state: zt_rdma_peer_reset() makes them usable again. */
int zt_rdma_peer_read(struct zt_rdma_peer *p, void *local, uint32_t lkey,
		      size_t len, uint64_t raddr, uint32_t rkey, int timeout_ms,
		      char *err, size_t errlen);
int zt_rdma_peer_write(struct zt_rdma_peer *p, const void *local, uint32_t lkey,
		       size_t len, uint64_t raddr, uint32_t rkey, int timeout_ms,
		       char *err, size_t errlen);
/* both QPs back through RESET to RTS, connected again */
int zt_rdma_peer_reset(struct zt_rdma_peer *p, char *err, size_t len);

/* ---- witnesses of pinning, for tests and benchmarks with the peer ---- */

/* VmPin of this process in kB, or -1 */
long zt_rdma_vm_pin_kb(void);
/* system-wide nr_foll_pin_acquired - nr_foll_pin_released in pages after
 * folding the per-CPU counters (vm.stat_refresh, root only), or INT64_MIN */
int64_t zt_rdma_foll_pins(void);

/* ---- what every test and benchmark with the peer says ----------------- */

/* the verdict: set by zt_rdma_fail, the exit status of the test */
extern int zt_rdma_failed;
/* prints "FAIL: ..." and marks the run failed; the test goes on */
void zt_rdma_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a cleanup zt_rdma_skip runs before exiting (remove a test file), or NULL */
void zt_rdma_on_skip(void (*cleanup)(void));
/* prints "SKIP: ..." and exits 77 */
void zt_rdma_skip(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* an ext4 directory for the test files: $ZC_TEST_EXT4_DIR (ext4 on NVMe
 * in the tests/vm guest), /var/tmp or /tmp; NULL if none is ext4 */
const char *zt_rdma_ext4_dir(void);
/* a byte per (seed, offset), not periodic in 256: bytes landing at or read
 * from the wrong offset show */
uint8_t zt_rdma_pat(uint32_t seed, uint64_t off);
void zt_rdma_fill(uint8_t *p, size_t len, uint32_t seed, uint64_t off);

#endif /* ZT_RDMA_PEER_H */
