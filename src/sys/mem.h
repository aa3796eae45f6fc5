/* SPDX-License-Identifier: MIT */
/* What kind of memory a caller handed us, and NUMA-local allocation. */
#ifndef ZC_SYS_MEM_H
#define ZC_SYS_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZC_MEM_MAPPED (1u << 0)       /* the whole range is mapped */
#define ZC_MEM_READABLE (1u << 1)
#define ZC_MEM_WRITABLE (1u << 2)
#define ZC_MEM_PRIVATE_FILE (1u << 3) /* some part is a MAP_PRIVATE file mapping */
#define ZC_MEM_SHARED_FILE (1u << 4)  /* some part is a MAP_SHARED file mapping */

/* 0 with ZC_MEM_* in *flags, or -errno when the memory cannot be
 * inspected (/proc/self/maps unreadable: no fd left, no procfs) */
int zc_mem_inspect(const void *addr, size_t len, unsigned *flags);
/* One line of /proc/self/maps: [start, end), its inode (0: anonymous)
 * and its path as the kernel prints it (a file's path, " (deleted)"
 * appended when unlinked; "[heap]"; "" for anonymous memory). */
struct zc_mem_region {
	uintptr_t start, end;
	unsigned long inode;
	bool shared;     /* MAP_SHARED ('s') */
	char path[4096]; /* PATH_MAX; a longer path is cut short */
};
/* The mapping that holds addr: 0 with *r, -ENOENT when addr is not
 * mapped, or -errno when /proc/self/maps cannot be read. */
int zc_mem_region(const void *addr, struct zc_mem_region *r);
/* anonymous memory, preferably on NUMA node `node` (-1: anywhere) */
void *zc_mem_alloc(size_t len, int node);
void zc_mem_free(void *p, size_t len);
size_t zc_page_size(void);

#endif /* ZC_SYS_MEM_H */
