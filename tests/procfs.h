/* SPDX-License-Identifier: MIT */
/*
 * Witnesses of pinning read from procfs, with no dependency: shared by the
 * Check helpers (helpers.c) and the raw-verbs RDMA peer (rdma_peer.c).
 */
#ifndef ZT_PROCFS_H
#define ZT_PROCFS_H

#include <stdint.h>

/* a /proc/vmstat counter, -1 if missing */
int64_t zt_vmstat(const char *key);
/* nr_foll_pin_acquired - nr_foll_pin_released (system wide) after folding
 * the per-CPU counters where allowed, INT64_MIN if the kernel does not
 * report them */
int64_t zt_pins_outstanding(void);
/* VmPin of a /proc/<pid>/status in kB, -1 if the kernel does not say */
long zt_vm_pin_kb_of(const char *status);

#endif /* ZT_PROCFS_H */
