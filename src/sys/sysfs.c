/* SPDX-License-Identifier: MIT */
/*
 * sysfs walks: which disk backs a device number, which PCI function that
 * disk hangs off, and which NUMA node that function sits on.
 *
 * sysfs is mostly symlinks (dev/block/MAJ:MIN, <disk>/device,
 * bus/pci/devices/<bdf>), so every path is canonicalised with realpath()
 * and must stay under the root. That keeps a fake tree from a test (or a
 * hostile one) from sending the library anywhere else on the system.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sysfs.h"

const char *zc_sysfs_root(void)
{
	/* secure_getenv: a set-uid program must not let its caller
	 * point the library at a tree of the caller's making */
	const char *root = secure_getenv("ZC_SYSFS_ROOT");

	return root && *root ? root : "/sys";
}

static int copy_string(char *out, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(out, s, n + 1);
	return 0;
}

/* is the canonical path inside the canonical root (or the root itself)? */
static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 &&
	       (path[n] == '/' || path[n] == '\0');
}

int zc_sysfs_resolve(const char *rel, char *out, size_t len)
{
	char root[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
	int n;

	if (!realpath(zc_sysfs_root(), root))
		return -errno;
	if (rel[0] == '/')
		n = snprintf(path, sizeof path, "%s", rel);
	else
		n = snprintf(path, sizeof path, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof path)
		return -ENAMETOOLONG;
	if (!realpath(path, real))
		return -errno;
	if (!path_under(real, root))
		return -ENOENT; /* a link that leaves the root: not ours to read */
	return copy_string(out, len, real);
}

/* read up to len-1 bytes; -EOVERFLOW if more is left */
static int read_bounded(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	char extra;

	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (got == len - 1) {
		do
			n = read(fd, &extra, 1);
		while (n < 0 && errno == EINTR);
		if (n > 0)
			return -EOVERFLOW;
	}
	return 0;
}

int zc_sysfs_read(const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n;
	int fd, err;

	if (len < 2)
		return -EINVAL;
	err = zc_sysfs_resolve(rel, path, sizeof path);
	if (err)
		return err;
	/* the path is canonical: O_NOFOLLOW only closes the window in which
	 * the last component could be swapped for a link; O_NONBLOCK keeps a
	 * FIFO planted in a fake tree from hanging us */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else
		err = read_bounded(fd, buf, len);
	close(fd);
	if (err)
		return err;
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int zc_sysfs_read_long(const char *rel, long *out)
{
	char buf[64], *end;
	long v;
	int err;

	err = zc_sysfs_read(rel, buf, sizeof buf);
	if (err)
		return err;
	errno = 0;
	if (strncmp(buf, "0x", 2) == 0)
		v = strtol(buf + 2, &end, 16);
	else
		v = strtol(buf, &end, 10);
	if (errno || end == buf || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int zc_sysfs_disk_dir(unsigned major, unsigned minor, char *out, size_t len)
{
	char rel[64], dir[PATH_MAX], attr[PATH_MAX + 16];
	char *slash;
	long part;
	int err;

	snprintf(rel, sizeof rel, "dev/block/%u:%u", major, minor);
	err = zc_sysfs_resolve(rel, dir, sizeof dir);
	if (err)
		return err;
	/* a partition is a child directory of its disk; queue/ and the
	 * device link live on the disk */
	snprintf(attr, sizeof attr, "%s/partition", dir);
	if (zc_sysfs_read_long(attr, &part) == 0) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return -ENOENT;
		*slash = '\0';
	}
	/* again through resolve: the parent must still be under the root */
	return zc_sysfs_resolve(dir, out, len);
}

int zc_sysfs_disk_name(const char *disk_dir, char *out, size_t len)
{
	const char *slash = strrchr(disk_dir, '/');
	const char *name = slash ? slash + 1 : disk_dir;

	if (!*name)
		return -ENOENT;
	return copy_string(out, len, name);
}

/* integer attribute queue/<name> of the disk */
static int queue_attr(const char *disk_dir, const char *name, long *v)
{
	char attr[PATH_MAX + 32];

	snprintf(attr, sizeof attr, "%s/queue/%s", disk_dir, name);
	return zc_sysfs_read_long(attr, v);
}

long zc_sysfs_logical_block_size(const char *disk_dir)
{
	long v;
	int err = queue_attr(disk_dir, "logical_block_size", &v);

	if (err)
		return err;
	/* used as an alignment: anything but a sane power of two is noise */
	if (v < 512 || v > (1L << 20) || (v & (v - 1)))
		return -EINVAL;
	return v;
}

long zc_sysfs_max_segments(const char *disk_dir)
{
	long v;
	int err = queue_attr(disk_dir, "max_segments", &v);

	if (err)
		return err;
	return v > 0 && v <= UINT16_MAX ? v : -EINVAL;
}

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool zc_sysfs_is_bdf(const char *s, size_t n)
{
	size_t d; /* digits in the domain */

	if (n < 12 || n > 15)
		return false;
	d = n - 8;
	return hex_run(s, d) && s[d] == ':' && hex_run(s + d + 1, 2) &&
	       s[d + 3] == ':' && hex_run(s + d + 4, 2) && s[d + 6] == '.' &&
	       s[d + 7] >= '0' && s[d + 7] <= '7';
}

int zc_sysfs_disk_pci(const char *disk_dir, char *bdf, size_t len)
{
	char link[PATH_MAX + 16], dev[PATH_MAX];
	const char *last = NULL;
	char *comp, *save;
	int err;

	/* <disk>/device leads into the device tree, e.g.
	 * devices/pci0000:00/0000:00:02.0/virtio1 or
	 * devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0;
	 * the last BDF-shaped component is the function itself, the ones
	 * before it are bridges */
	snprintf(link, sizeof link, "%s/device", disk_dir);
	err = zc_sysfs_resolve(link, dev, sizeof dev);
	if (err)
		return err;
	for (comp = strtok_r(dev, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save))
		if (zc_sysfs_is_bdf(comp, strlen(comp)))
			last = comp;
	if (!last)
		return -ENODEV;
	return copy_string(bdf, len, last);
}

int zc_sysfs_pci_numa_node(const char *bdf)
{
	char rel[64];
	long node;

	/* checked first: bdf goes into a path */
	if (!zc_sysfs_is_bdf(bdf, strlen(bdf)))
		return -1;
	snprintf(rel, sizeof rel, "bus/pci/devices/%s/numa_node", bdf);
	if (zc_sysfs_read_long(rel, &node) || node < -1 || node > 65535)
		return -1;
	return (int)node;
}
