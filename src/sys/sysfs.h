/* SPDX-License-Identifier: MIT */
/*
 * Read-only helpers over sysfs. The root is $ZC_SYSFS_ROOT, else /sys, so
 * tests can hand the library a fake tree. Every path is canonicalised and
 * must stay under the root; anything that fails (missing attribute, EACCES,
 * a symlink leading elsewhere) is reported as a negative errno and means
 * "unknown" to the caller, never a crash.
 */
#ifndef ZC_SYS_SYSFS_H
#define ZC_SYS_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

/* $ZC_SYSFS_ROOT or "/sys", as given (not canonicalised) */
const char *zc_sysfs_root(void);

/* Canonical path of root/<rel> (rel relative to the root, or an absolute
 * path already under it); -ENOENT if it does not exist or leaves the root. */
int zc_sysfs_resolve(const char *rel, char *out, size_t len);

/* Text attribute root/<rel>, at most len-1 bytes, trailing newline
 * stripped; -EOVERFLOW if it does not fit. */
int zc_sysfs_read(const char *rel, char *buf, size_t len);
/* Integer attribute (decimal, or 0x.. hex) */
int zc_sysfs_read_long(const char *rel, long *out);

/* Canonical sysfs directory of the whole disk behind major:minor (a
 * partition is mapped to its disk). */
int zc_sysfs_disk_dir(unsigned major, unsigned minor, char *out, size_t len);
/* "vda", "nvme0n1": the last component of disk_dir */
int zc_sysfs_disk_name(const char *disk_dir, char *out, size_t len);
/* queue/logical_block_size of the disk: > 0, or -errno */
long zc_sysfs_logical_block_size(const char *disk_dir);
/* queue/max_segments of the disk: > 0, or -errno */
long zc_sysfs_max_segments(const char *disk_dir);
/* s[0..n) is a PCI function's name as sysfs gives it, "dddd:bb:dd.f":
 * the domain has 4 hex digits, or up to 7 where a host bridge such as
 * Intel VMD adds domains from 0x10000 (it fits 16 bytes with its NUL) */
bool zc_sysfs_is_bdf(const char *s, size_t n);
/* PCI function ("0000:00:02.0") the disk hangs off */
int zc_sysfs_disk_pci(const char *disk_dir, char *bdf, size_t len);
/* NUMA node of a PCI function; -1 when unknown */
int zc_sysfs_pci_numa_node(const char *bdf);

#endif /* ZC_SYS_SYSFS_H */
