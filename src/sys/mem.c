/* SPDX-License-Identifier: MIT */
/* What kind of memory a caller handed us, and NUMA-local allocation. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "sys/mem.h"

#if ZC_HAVE_LIBNUMA
#include <numa.h>
#include <numaif.h>
#endif

size_t zc_page_size(void)
{
	static size_t page; /* set once, by whichever thread comes first */
	size_t p = __atomic_load_n(&page, __ATOMIC_RELAXED);

	if (!p) {
		p = (size_t)sysconf(_SC_PAGESIZE);
		__atomic_store_n(&page, p, __ATOMIC_RELAXED);
	}
	return p;
}

/* Anonymous huge pages show up with a path and an inode but are not a
 * file the caller could mean. */
static bool is_file_backed(unsigned long inode, const char *path)
{
	return inode != 0 && strncmp(path, "/anon_hugepage", 14) != 0;
}

/* One line into buf; the rest of a longer line (a long path) is skipped,
 * so that it is never read as a line of its own. */
static bool read_line(FILE *f, char *buf, size_t len)
{
	size_t n;
	int c;

	if (!fgets(buf, (int)len, f))
		return false;
	n = strlen(buf);
	if (n && buf[n - 1] != '\n')
		while ((c = getc(f)) != EOF && c != '\n')
			;
	return true;
}

/* One line of /proc/self/maps, "lo-hi perms offset dev inode   path":
 * the path is the rest of the line after the blanks that pad it (it may
 * hold blanks of its own, and " (deleted)" at the end); path points into
 * the line, its newline cut off. */
struct maps_line {
	unsigned long lo, hi, inode;
	char perms[5];
	const char *path;
};

static bool parse_maps_line(char *line, struct maps_line *m)
{
	int end = 0;
	char *nl;

	if (sscanf(line, "%lx-%lx %4s %*x %*s %lu%n", &m->lo, &m->hi,
		   m->perms, &m->inode, &end) != 4 || end <= 0)
		return false;
	line += end;
	while (*line == ' ' || *line == '\t')
		line++;
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	m->path = line;
	return true;
}

/*
 * Walk /proc/self/maps over [addr, addr+len): is every byte mapped, with
 * which permissions, and is any part a file mapping (private or shared)?
 * The kernel would tell us some of this only after pinning the wrong pages.
 * When the map cannot be read (no fd left, no procfs) nothing is known, and
 * any answer would be a guess that lets a hole register or a MAP_PRIVATE
 * file mapping be pinned: the caller gets the error instead.
 */
int zc_mem_inspect(const void *addr, size_t len, unsigned *out)
{
	uintptr_t start = (uintptr_t)addr, end = start + len, covered = start;
	unsigned flags = ZC_MEM_READABLE | ZC_MEM_WRITABLE;
	char line[512];
	FILE *maps;
	int ret = 0;

	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -errno;
	while (covered < end && read_line(maps, line, sizeof(line))) {
		struct maps_line m;

		if (!parse_maps_line(line, &m) || m.hi <= covered)
			continue;
		if (m.lo > covered)
			break; /* a hole */
		if (m.perms[0] != 'r')
			flags &= ~ZC_MEM_READABLE;
		if (m.perms[1] != 'w')
			flags &= ~ZC_MEM_WRITABLE;
		if (is_file_backed(m.inode, m.path))
			flags |= m.perms[3] == 's' ? ZC_MEM_SHARED_FILE :
						     ZC_MEM_PRIVATE_FILE;
		covered = m.hi;
	}
	if (ferror(maps))
		ret = -EIO;
	fclose(maps);
	if (ret)
		return ret;
	if (covered >= end)
		flags |= ZC_MEM_MAPPED;
	*out = flags;
	return 0;
}

/*
 * The one line of /proc/self/maps that holds addr, whole: getline, since
 * a path may be as long as PATH_MAX and the caller wants all of it (its
 * last components name a p2pmem publisher).
 */
int zc_mem_region(const void *addr, struct zc_mem_region *r)
{
	uintptr_t a = (uintptr_t)addr;
	size_t cap = 0;
	char *line = NULL;
	int ret = -ENOENT;
	FILE *maps;

	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return -errno;
	while (getline(&line, &cap, maps) > 0) {
		struct maps_line m;

		if (!parse_maps_line(line, &m) || m.hi <= a)
			continue;
		if (m.lo <= a) {
			r->start = m.lo;
			r->end = m.hi;
			r->inode = m.inode;
			r->shared = m.perms[3] == 's';
			snprintf(r->path, sizeof(r->path), "%s", m.path);
			ret = 0;
		}
		break; /* sorted by address: this one or a hole */
	}
	if (ret == -ENOENT && ferror(maps))
		ret = -EIO;
	free(line);
	fclose(maps);
	return ret;
}

void *zc_mem_alloc(size_t len, int node)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#if ZC_HAVE_LIBNUMA
	/* placement is a preference for speed; failure to place is not fatal */
	/* mbind with a mask on the stack: libnuma's allocating helpers exit
	 * the process when they run out of memory */
	if (node >= 0 && node < 1024 && numa_available() >= 0 &&
	    node <= numa_max_node()) {
		unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };

		mask[node / (8 * sizeof(unsigned long))] |=
			1ul << (node % (8 * sizeof(unsigned long)));
		mbind(p, len, MPOL_PREFERRED, mask, 1024, 0);
	}
#else
	(void)node;
#endif
	return p;
}

void zc_mem_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}
