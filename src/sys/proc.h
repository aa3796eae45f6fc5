/* SPDX-License-Identifier: MIT */
/* Facts about this process and the kernel's settings, read from procfs. */
#ifndef ZC_SYS_PROC_H
#define ZC_SYS_PROC_H

#include <stdbool.h>

/* the integer in a one-value file such as /proc/sys/fs/leases-enable:
 * 0, or -ENOENT (absent, unreadable) / -EIO (not a number) */
int zc_proc_read_int(const char *path, int *val);
/* is capability number cap (CAP_LEASE, CAP_IPC_LOCK) in this thread's
 * effective set (CapEff of /proc/self/status)? false when unknown */
bool zc_proc_has_cap(unsigned cap);

#endif /* ZC_SYS_PROC_H */
