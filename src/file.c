/* SPDX-License-Identifier: MIT */
/*
 * zc_file: one probe of the caller's fd, done at open so that selection and
 * I/O never have to ask the system again: file type and access mode,
 * O_DIRECT and its alignment, DAX, the file system, the backing disk with
 * its PCI function and NUMA node; then each backend adds what it knows
 * (its file_open op).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* statx, O_PATH, O_DIRECT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "sys/sysfs.h"
#include "sys/uring.h"

/* kernel ABI values, in case the installed headers predate them */
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifdef STATX_DIOALIGN
#define ZC_STATX_MASK (STATX_BASIC_STATS | STATX_DIOALIGN)
#else
#define ZC_STATX_MASK STATX_BASIC_STATS
#endif

#define TMPFS_MAGIC_ 0x01021994u
#define RAMFS_MAGIC_ 0x858458f6u
#define HUGETLBFS_MAGIC_ 0x958458f6u
#define BDEVFS_MAGIC_ 0x62646576u

static const struct {
	uint32_t magic;
	const char *name;
} fs_names[] = {
	{ 0xef53u, "ext4" }, /* ext2 and ext3 share the magic */
	{ 0x58465342u, "xfs" },
	{ 0x9123683eu, "btrfs" },
	{ TMPFS_MAGIC_, "tmpfs" },
	{ RAMFS_MAGIC_, "ramfs" },
	{ HUGETLBFS_MAGIC_, "hugetlbfs" },
	{ BDEVFS_MAGIC_, "bdev" },
	{ 0x6969u, "nfs" },
	{ 0x65735546u, "fuse" }, /* virtiofs reports the FUSE magic too */
	{ 0x794c7630u, "overlayfs" },
	{ 0xf2f52010u, "f2fs" },
	{ 0x2fc12fc1u, "zfs" },
	{ 0xca451a4eu, "bcachefs" },
	{ 0xe0f5e1e2u, "erofs" },
	{ 0x73717368u, "squashfs" },
	{ 0x00c36400u, "ceph" },
	{ 0x01021997u, "9p" },
	{ 0xff534d42u, "cifs" },
	{ 0xfe534d42u, "smb2" },
	{ 0x2011bab0u, "exfat" },
	{ 0x4d44u, "vfat" },
	{ 0x5346544eu, "ntfs" },
	{ 0x01161970u, "gfs2" },
	{ 0x7461636fu, "ocfs2" },
	{ 0x0bd00bd0u, "lustre" },
	{ 0x47504653u, "gpfs" },
	{ 0x9fa0u, "proc" },
	{ 0x62656572u, "sysfs" },
};

static void set_fs_name(struct zc_file_info *info)
{
	for (size_t i = 0; i < ZC_ARRAY_SIZE(fs_names); i++) {
		if (fs_names[i].magic == info->fs_magic) {
			snprintf(info->fs_name, sizeof info->fs_name, "%s",
				 fs_names[i].name);
			return;
		}
	}
	snprintf(info->fs_name, sizeof info->fs_name, "0x%" PRIx32,
		 info->fs_magic);
}

/* ------------------------------------------------------------------ */
/* argument checks                                                     */

/* the fd must be open, able to do I/O, and a regular file or block device */
static int check_fd(struct zc_ctx *ctx, int fd, int *fl, struct stat *st)
{
	if (fd < 0) {
		zc_err(ctx, "zc_file_open: fd %d: negative descriptor", fd);
		return -EBADF;
	}
	*fl = fcntl(fd, F_GETFL);
	if (*fl < 0) {
		zc_err(ctx, "zc_file_open: fd %d: not an open descriptor", fd);
		return -EBADF;
	}
	if (*fl & O_PATH) {
		zc_err(ctx, "zc_file_open: fd %d: O_PATH descriptor cannot do I/O",
		       fd);
		return -EBADF;
	}
	if (fstat(fd, st) < 0) {
		int err = -errno;

		zc_err(ctx, "zc_file_open: fd %d: fstat: %s", fd, strerror(-err));
		return err;
	}
	if (S_ISREG(st->st_mode) || S_ISBLK(st->st_mode))
		return 0;
	if (S_ISDIR(st->st_mode)) {
		zc_err(ctx, "zc_file_open: fd %d: is a directory", fd);
		return -EISDIR;
	}
	if (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) {
		zc_err(ctx, "zc_file_open: fd %d: pipe or socket, not seekable",
		       fd);
		return -ESPIPE;
	}
	zc_err(ctx, "zc_file_open: fd %d: not a regular file or block device",
	       fd);
	return -ENODEV;
}

/* ------------------------------------------------------------------ */
/* probes: each fills its part of f->info; none can fail the open      */

static void probe_mode(struct zc_file *f, const struct stat *st)
{
	struct zc_file_info *info = &f->info;
	int acc = f->open_flags & O_ACCMODE;

	info->flags |= S_ISREG(st->st_mode) ? ZC_FILE_REGULAR : ZC_FILE_BLOCKDEV;
	if (acc == O_RDONLY || acc == O_RDWR)
		info->flags |= ZC_FILE_READABLE;
	if (acc == O_WRONLY || acc == O_RDWR)
		info->flags |= ZC_FILE_WRITABLE;
	if (f->open_flags & O_DIRECT)
		info->flags |= ZC_FILE_DIRECT;
}

static void probe_fs(struct zc_file *f)
{
	struct zc_file_info *info = &f->info;
	struct statfs sfs;

	/* fstatfs on a device node describes the file system holding the
	 * node (devtmpfs, i.e. tmpfs); the data lives behind the bdev
	 * pseudo file system, so say that */
	if (info->flags & ZC_FILE_BLOCKDEV) {
		info->fs_magic = BDEVFS_MAGIC_;
	} else if (fstatfs(f->fd, &sfs) == 0) {
		info->fs_magic = (uint32_t)sfs.f_type;
	} else {
		zc_dbg(f->ctx, "zc_file_open: fd %d: fstatfs: %s", f->user_fd,
		       strerror(errno));
		snprintf(info->fs_name, sizeof info->fs_name, "unknown");
		return;
	}
	set_fs_name(info);
	if (info->fs_magic == TMPFS_MAGIC_ || info->fs_magic == RAMFS_MAGIC_ ||
	    info->fs_magic == HUGETLBFS_MAGIC_)
		info->flags |= ZC_FILE_SHMEM;
}

static void probe_size(struct zc_file *f, const struct stat *st)
{
	uint64_t bytes;

	if (S_ISREG(st->st_mode)) {
		f->info.file_size = (uint64_t)st->st_size;
	} else if (ioctl(f->fd, BLKGETSIZE64, &bytes) == 0) {
		f->info.file_size = bytes;
	} else {
		zc_dbg(f->ctx, "zc_file_open: fd %d: BLKGETSIZE64: %s", f->user_fd,
		       strerror(errno));
	}
}

/* the disk, its PCI function and NUMA node; blank when not found */
static void probe_blockdev(struct zc_file *f, const struct stat *st,
			   char *disk_dir, size_t len)
{
	struct zc_file_info *info = &f->info;
	dev_t dev = S_ISBLK(st->st_mode) ? st->st_rdev : st->st_dev;
	long segs;

	info->numa_node = -1;
	disk_dir[0] = '\0';
	/* major 0: anonymous device (tmpfs, btrfs subvolume, overlayfs) */
	if (major(dev) == 0)
		return;
	info->dev_major = major(dev);
	info->dev_minor = minor(dev);
	if (zc_sysfs_disk_dir(info->dev_major, info->dev_minor, disk_dir, len)) {
		disk_dir[0] = '\0';
		zc_dbg(f->ctx, "zc_file_open: fd %d: no sysfs disk for %u:%u",
		       f->user_fd, info->dev_major, info->dev_minor);
		return;
	}
	zc_sysfs_disk_name(disk_dir, info->blockdev, sizeof info->blockdev);
	segs = zc_sysfs_max_segments(disk_dir);
	info->max_segments = segs > 0 ? (uint32_t)segs : 0;
	if (zc_sysfs_disk_pci(disk_dir, info->pci_bdf, sizeof info->pci_bdf))
		info->pci_bdf[0] = '\0';
	else
		info->numa_node = zc_sysfs_pci_numa_node(info->pci_bdf);
}

/* statx, unless the core:statx fault says it fails; -errno on failure */
static int statx_fd(struct zc_file *f, struct statx *stx)
{
	int err = f->ctx->faults ? zc_fault_hit(f->ctx->faults,
						ZC_BACKEND_NONE, "statx")
				 : 0;

	if (err)
		return err; /* already -errno */
	if (statx(f->fd, "", AT_EMPTY_PATH, ZC_STATX_MASK, stx) < 0)
		return -errno;
	return 0;
}

/* what to align O_DIRECT I/O to when statx does not say */
static uint32_t fallback_dio_align(struct zc_file *f, const char *disk_dir)
{
	long lbs;
	int ssz;

	if ((f->info.flags & ZC_FILE_BLOCKDEV) &&
	    ioctl(f->fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
		return (uint32_t)ssz;
	if (disk_dir[0]) {
		lbs = zc_sysfs_logical_block_size(disk_dir);
		if (lbs > 0)
			return (uint32_t)lbs;
	}
	return 512;
}

/* DAX and O_DIRECT alignment; needs probe_blockdev's disk_dir */
static void probe_statx(struct zc_file *f, const char *disk_dir)
{
	struct zc_file_info *info = &f->info;
	struct statx stx = { 0 };
	int err = statx_fd(f, &stx);

	if (err) {
		zc_warn(f->ctx,
			"zc_file_open: fd %d: statx: %s; DAX and O_DIRECT alignment guessed",
			f->user_fd, strerror(-err));
	} else {
		if ((stx.stx_attributes_mask & STATX_ATTR_DAX) &&
		    (stx.stx_attributes & STATX_ATTR_DAX))
			info->flags |= ZC_FILE_DAX;
#ifdef STATX_DIOALIGN
		if ((stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align &&
		    stx.stx_dio_offset_align) {
			info->dio_mem_align = stx.stx_dio_mem_align;
			info->dio_offset_align = stx.stx_dio_offset_align;
			return;
		}
#endif
	}
	info->dio_mem_align = info->dio_offset_align =
		fallback_dio_align(f, disk_dir);
}

/* a slot in every ring's file table, -1 if none (plain fd then) */
static int register_fixed(struct zc_file *f)
{
	int idx;

	if (!f->ctx->rings)
		return -1;
	idx = zc_rings_add_file(f->ctx->rings, f->fd);
	if (idx < 0) {
		zc_dbg(f->ctx, "zc_file_open: fd %d: no fixed file: %s", f->user_fd,
		       strerror(-idx));
		return -1;
	}
	return idx;
}

static void probe(struct zc_file *f, const struct stat *st)
{
	char disk_dir[PATH_MAX];

	f->info.size = sizeof f->info;
	probe_mode(f, st);
	probe_fs(f);
	probe_size(f, st);
	probe_blockdev(f, st, disk_dir, sizeof disk_dir);
	probe_statx(f, disk_dir);
	zc_dbg(f->ctx,
	       "zc_file_open: fd %d: %s flags 0x%x size %" PRIu64
	       " dio %u/%u dev %u:%u %s %s node %d",
	       f->user_fd, f->info.fs_name, f->info.flags, f->info.file_size,
	       f->info.dio_mem_align, f->info.dio_offset_align,
	       f->info.dev_major, f->info.dev_minor, f->info.blockdev,
	       f->info.pci_bdf, f->info.numa_node);
}

/* every compiled-in backend, available or not: what zc_file_query reports
 * must not depend on the context's allowed set */
static void backends_file_open(struct zc_file *f)
{
	for (unsigned i = 0; zc_registry_at(i); i++)
		if (zc_registry_at(i)->file_open)
			zc_registry_at(i)->file_open(f);
}

static void backends_file_close(struct zc_file *f)
{
	for (unsigned i = 0; zc_registry_at(i); i++)
		if (zc_registry_at(i)->file_close)
			zc_registry_at(i)->file_close(f);
}

/*
 * The read-modify-write of O_DIRECT edge blocks is serialised per file,
 * not per zc_file: two zc_files on one file (two opens, two contexts)
 * stage the same blocks. A fixed table of locks picked by inode needs no
 * allocation and no lifetime; files that happen to share a lock only
 * wait for each other.
 */
#define ZC_EDGE_LOCKS 64u
static pthread_mutex_t edge_locks[ZC_EDGE_LOCKS] = {
	[0 ... ZC_EDGE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *edge_lock_of(const struct stat *st)
{
	uint64_t h = ((uint64_t)st->st_dev * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)st->st_ino * 0xc2b2ae3d27d4eb4full);

	return &edge_locks[(h >> 32) % ZC_EDGE_LOCKS];
}

void zc_edge_locks_reset(void)
{
	for (unsigned i = 0; i < ZC_EDGE_LOCKS; i++)
		pthread_mutex_init(&edge_locks[i], NULL);
}

/* ------------------------------------------------------------------ */
/* public API                                                          */

ZC_API int zc_file_open(struct zc_ctx *ctx, int fd, unsigned flags,
			struct zc_file **out)
{
	struct zc_file *f;
	struct stat st;
	int fl, err;

	if (!ctx)
		return -EINVAL;
	if (!out || flags) {
		zc_err(ctx, "zc_file_open: fd %d: %s", fd,
		       !out ? "out is NULL" : "flags must be 0");
		return -EINVAL;
	}
	ZC_REFUSE_IN_CHILD(ctx, "zc_file_open");
	err = check_fd(ctx, fd, &fl, &st);
	if (err)
		return err;
	f = calloc(1, sizeof *f);
	if (!f) {
		zc_err(ctx, "zc_file_open: fd %d: out of memory", fd);
		return -ENOMEM;
	}
	/* the library's own reference to the open file: the caller may close
	 * fd, and the number may then name another file, a pipe or a socket,
	 * but every call on f keeps acting on the file it was given */
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0) {
		err = -errno;
		zc_err(ctx, "zc_file_open: fd %d: F_DUPFD_CLOEXEC (the library's own "
		       "reference to the file): %s", fd, strerror(-err));
		free(f);
		return err;
	}
	f->ctx = ctx;
	f->edge_lock = edge_lock_of(&st);
	f->user_fd = fd;
	f->open_flags = fl;
	if (fl & O_APPEND)
		f->write_flags = RWF_NOAPPEND;
	atomic_init(&f->refs, 0);
	f->serial = zc_file_serial_next();
	pthread_mutex_init(&f->revoke_lock, NULL);
	probe(f, &st);
	backends_file_open(f);
	f->fixed_idx = register_fixed(f);
	atomic_fetch_add(&ctx->nr_files, 1); /* zc_ctx_destroy refuses while > 0 */
	*out = f;
	return 0;
}

ZC_API void zc_file_close(struct zc_file *f)
{
	unsigned refs;

	if (!f || zc_forked(f->ctx))
		return;
	refs = atomic_load(&f->refs);
	if (refs) {
		zc_err(f->ctx,
		       "zc_file_close: %u registrations still hold this file",
		       refs);
		return;
	}
	/* a revocation being handled right now finishes first */
	backends_file_close(f);
	if (f->fixed_idx >= 0)
		zc_rings_del_file(f->ctx->rings, f->fixed_idx);
	pthread_mutex_destroy(&f->revoke_lock);
	atomic_fetch_sub(&f->ctx->nr_files, 1);
	close(f->fd); /* the library's duplicate; the caller's fd is untouched */
	free(f);
}

ZC_API int zc_file_query(const struct zc_file *f, struct zc_file_info *out,
			 size_t out_size)
{
	struct zc_file_info info;
	size_t n;

	if (!f)
		return -EINVAL;
	if (!out || out_size < 8) {
		zc_err(f->ctx, "zc_file_query: %s",
		       !out ? "out is NULL" : "out_size below 8");
		return -EINVAL;
	}
	n = ZC_MIN(out_size, sizeof info);
	info = f->info;
	info.size = n;
	memcpy(out, &info, n);
	return 0;
}

uint64_t zc_file_serial_next(void)
{
	static _Atomic uint64_t next = 1;

	return atomic_fetch_add(&next, 1);
}
