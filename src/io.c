/* SPDX-License-Identifier: MIT */
/*
 * Data movement shared by every backend: argument checks, O_DIRECT
 * alignment (aligned middle direct, unaligned edges through staging), the
 * plain-syscall loop, and MAP_FILE mapping/copy helpers.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "sys/dmabuf.h"
#include "sys/mem.h"

/* The rest of zc_sys_rw after a first call that moved n of len bytes
 * (or failed): retry EINTR/EAGAIN, continue short transfers. */
ssize_t zc_sys_rw_rest(const struct zc_file *f, enum zc_dir dir, void *buf,
		       size_t len, uint64_t off, ssize_t n)
{
	size_t done = 0;

	for (;;) {
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			break; /* even after progress: short means EOF */
		if (n == 0)
			break; /* EOF on read; a zero-byte write would spin */
		if (n > 0)
			done += (size_t)n;
		if (done >= len)
			break;
		n = dir == ZC_DIR_READ ?
			pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done)) :
			zc_pwrite(f, (char *)buf + done, len - done, off + done);
	}
	if (n >= 0)
		return (ssize_t)done;
	n = -errno;
	if (n == -EOPNOTSUPP && dir == ZC_DIR_WRITE && f->write_flags)
		zc_err(f->ctx, "write to fd %d: it is open with O_APPEND, which makes "
		       "pwrite(2) append, and this kernel lacks RWF_NOAPPEND (Linux "
		       "6.9) to write at the offset asked; nothing was written",
		       f->user_fd);
	return n;
}

/*
 * glibc's memcpy runs up to 16 times slower when its destination lies 1
 * to 63 bytes past its source modulo 4 KiB (128 KiB copies: 2.8 against
 * 47 GB/s on AMD Zen 3): its loads alias the stores it has just made.
 * Caller memory a few bytes past a page boundary meets the page-aligned
 * staging chunk that way, so such a window starts one O_DIRECT memory
 * alignment unit (at least 64 bytes) into the chunk instead.
 */
static size_t stage_skew(const struct zc_file *f, enum zc_dir dir,
			 const char *user, size_t head)
{
	const size_t a = ZC_MAX((size_t)f->info.dio_mem_align, (size_t)64);
	/* the chunk is page-aligned: the staged bytes start at head mod 4 KiB */
	size_t d = (dir == ZC_DIR_READ ? (uintptr_t)user - head :
					 head - (uintptr_t)user) & 4095;

	return d && d < 64 && a < 4096 ? a : 0;
}

/*
 * Copies between caller memory and library memory go through the kernel
 * (process_vm_readv/writev on this process): memory the caller unmapped or
 * protected after registering it then fails the call with EFAULT, as
 * pread/pwrite on it do, instead of crashing inside the library; and a
 * copy into a file mapping whose page lies past a concurrent truncation
 * fails the same way instead of raising SIGBUS. Where a seccomp filter
 * forbids those calls (ENOSYS, EPERM), memcpy, for the rest of the process.
 * PCIe peer memory (ZC_MEM_P2P) always takes memcpy (cpu): the kernel's
 * copy pins the pages without FOLL_PCI_P2PDMA, which p2p pages refuse
 * (EFAULT, seen on 7.3.4), and device memory is never truncated.
 */
static _Atomic bool copy_by_kernel = true;

static int user_copy(void *dst, const void *src, size_t len, bool to_user,
		     bool cpu)
{
	static _Atomic unsigned pid_gen = UINT_MAX;
	static _Atomic pid_t pid;
	unsigned gen = atomic_load_explicit(&zc_fork_generation, memory_order_relaxed);
	struct iovec mine = { to_user ? (void *)src : dst, len };
	struct iovec theirs = { to_user ? dst : (void *)src, len };
	ssize_t n;

	if (cpu || !atomic_load_explicit(&copy_by_kernel, memory_order_relaxed))
		goto plain;
	/* getpid(2) is a system call; the pid changes only across fork */
	if (atomic_load_explicit(&pid_gen, memory_order_acquire) != gen) {
		atomic_store_explicit(&pid, getpid(), memory_order_relaxed);
		atomic_store_explicit(&pid_gen, gen, memory_order_release);
	}
	n = to_user ? process_vm_writev(atomic_load(&pid), &mine, 1, &theirs, 1, 0) :
		      process_vm_readv(atomic_load(&pid), &mine, 1, &theirs, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -EFAULT; /* a partial copy stopped at a bad page */
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	atomic_store_explicit(&copy_by_kernel, false, memory_order_relaxed);
plain:
	memcpy(dst, src, len);
	return 0;
}

/*
 * A write's last, partial block past the end of the file: the block
 * cannot go to the O_DIRECT fd as it is (it would make the file end at
 * the block's end) and trimming the file back afterwards can cut off
 * what another thread has written beyond it meanwhile. So the bytes go
 * through the page cache: fallocate extends the file to cover them (it
 * never shrinks it), and they are stored through a shared mapping. A
 * later O_DIRECT read or write of the block writes the page back first.
 */
static ssize_t write_tail_past_eof(struct zc_file *f, const void *staged,
				   size_t len, uint64_t off)
{
	const size_t page = zc_page_size();
	const uint64_t map_off = off & ~(uint64_t)(page - 1);
	const size_t map_len = (size_t)(off + len - map_off);
	struct stat sb;
	void *p;
	int ret = 0;

	if (!(f->info.flags & ZC_FILE_READABLE))
		return -EBADF; /* as the read of a read-modify-write would */
	if (fallocate(f->fd, 0, (off_t)off, (off_t)len) < 0) {
		if (errno != EOPNOTSUPP)
			return -errno;
		/* no fallocate here: extend with ftruncate, after a fresh look
		 * at the size (under edge_lock, so no staged write races it) */
		if (fstat(f->fd, &sb) < 0)
			return -errno;
		if ((uint64_t)sb.st_size < off + len &&
		    ftruncate(f->fd, (off_t)(off + len)) < 0)
			return -errno;
	}
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 (off_t)map_off);
	if (p == MAP_FAILED)
		return -errno;
	/* the kernel copies: a truncation racing with us is EFAULT, not SIGBUS */
	ret = user_copy((char *)p + (off - map_off), staged, len, true, false);
	if (!ret && (f->open_flags & (O_SYNC | O_DSYNC)) &&
	    msync(p, map_len, MS_SYNC) < 0)
		ret = -errno;
	munmap(p, map_len);
	return ret ? ret : (ssize_t)len;
}

/* The file's size, or INT64_MAX where writes do not change it. */
static int64_t size_for_tail(const struct zc_file *f, int *err)
{
	struct stat sb;

	*err = 0;
	if (!(f->info.flags & ZC_FILE_REGULAR))
		return INT64_MAX;
	if (fstat(f->fd, &sb) < 0) {
		*err = -errno;
		return 0;
	}
	return sb.st_size;
}

/*
 * An aligned window read on the O_DIRECT fd. Linux 6.18 ext4 now and then
 * fails such a read with EINVAL while other threads extend the file past
 * it (measured: in about one run in 25 of integrity.writers, four threads
 * writing 400 unaligned chunks, before any retry); the window's alignment
 * is valid by construction, so the read is tried again, a bounded number
 * of times.
 */
static ssize_t read_window(const struct zc_file *f, void *win, size_t len,
			   uint64_t off)
{
	ssize_t n;

	for (int tries = 0;; tries++) {
		n = zc_sys_rw(f, ZC_DIR_READ, win, len, off);
		if (n != -EINVAL || tries == 3)
			return n;
	}
}

/*
 * One window of a staged write, under the file's edge lock: the caller's
 * u_len bytes at head into the window [w_off, +w_len). Returns how many of
 * them reached the file (fewer when a partial last block past the end of
 * the file is left for the next window), 0 on a short write, or -errno.
 */
static ssize_t write_window(struct zc_file *f, char *win, size_t head,
			    const char *user, size_t u_len, uint64_t w_off,
			    size_t w_len, bool cpu)
{
	const uint64_t oa = f->info.dio_offset_align;
	const uint64_t u_off = w_off + head;
	ssize_t n;
	int err;

	if (u_off + u_len < w_off + w_len) {
		int64_t size = size_for_tail(f, &err);

		if (err)
			return err;
		if ((int64_t)(w_off + w_len) <= size) {
			/* inside the file: read-modify-write below */
		} else if (w_len > oa) {
			/* the full blocks now, the partial one next time */
			w_len -= (size_t)oa;
			u_len = w_len - head;
		} else {
			/* the caller's bytes first: bad memory fails the call
			 * before the file grows */
			err = user_copy(win + head, user, u_len, false, cpu);
			return err ? err : write_tail_past_eof(f, win + head, u_len, u_off);
		}
	}
	if (head || u_len != w_len) {
		n = read_window(f, win, w_len, w_off);
		if (n < 0)
			return n;
		memset(win + n, 0, w_len - (size_t)n);
	}
	err = user_copy(win + head, user, u_len, false, cpu);
	if (err)
		return err;
	n = zc_sys_rw(f, ZC_DIR_WRITE, win, w_len, w_off);
	if (n < 0)
		return n;
	return (size_t)n < w_len ? 0 : (ssize_t)u_len;
}

/*
 * Any-alignment I/O on an O_DIRECT file through staging chunks, one
 * aligned window at a time. A write whose window is not fully covered by
 * the caller's bytes reads the window first (read-modify-write, serialised
 * per file by its edge lock); a partial last block past the end of the file
 * is written on its own through the page cache (write_tail_past_eof).
 */
ssize_t zc_staged_rw(struct zc_file *f, enum zc_dir dir, void *buf,
		     size_t len, uint64_t off, bool cpu)
{
	const uint64_t oa = f->info.dio_offset_align;
	struct zc_stage st;
	size_t done = 0;
	int ret;

	ret = zc_stage_get(f->ctx, f, &st);
	if (ret)
		return ret;
	while (done < len) {
		uint64_t u_off = off + done;
		uint64_t w_off = u_off & ~(oa - 1);
		size_t head = (size_t)(u_off - w_off);
		size_t skew = stage_skew(f, dir, (char *)buf + done, head);
		size_t cap = st.size - skew;
		char *win = (char *)st.buf + skew;
		size_t u_len = ZC_MIN(len - done, cap - head);
		uint64_t w_end = (u_off + u_len + oa - 1) & ~(oa - 1);
		size_t w_len = (size_t)(w_end - w_off);
		ssize_t n;

		if (w_len > cap) { /* the window's last block does not fit */
			w_len -= (size_t)oa;
			u_len = w_len - head;
		}
		if (dir == ZC_DIR_READ) {
			n = read_window(f, win, w_len, w_off);
			if (n < 0) {
				ret = (int)n;
				break;
			}
			n = ZC_MAX(n - (ssize_t)head, 0);
			n = ZC_MIN((size_t)n, u_len);
			ret = user_copy((char *)buf + done, win + head, (size_t)n, true,
					cpu);
			if (ret)
				break;
			done += (size_t)n;
			if ((size_t)n < u_len)
				break; /* EOF */
			continue;
		}
		pthread_mutex_lock(f->edge_lock);
		n = write_window(f, win, head, (char *)buf + done, u_len, w_off, w_len,
				 cpu);
		pthread_mutex_unlock(f->edge_lock);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		done += (size_t)n;
	}
	zc_stage_put(f->ctx, &st);
	return ret < 0 ? ret : (ssize_t)done;
}

ssize_t zc_file_rw(struct zc_file *f, enum zc_dir dir, void *buf, size_t len,
		   uint64_t off)
{
	if (!zc_file_direct(f) || zc_direct_aligned(f, buf, off, len))
		return zc_sys_rw(f, dir, buf, len, off);
	return zc_staged_rw(f, dir, buf, len, off, false);
}

ssize_t zc_plain_io(struct zc_reg *r, const struct zc_io *io)
{
	int ret = zc_fault_hit(r->ctx->faults, r->backend, "io");

	if (ret)
		return ret;
	return zc_sys_rw(r->file, io->dir, io->buf, io->len, io->file_off);
}

int zc_plain_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		  uint64_t cookie)
{
	int ret = zc_fault_hit(r->ctx->faults, r->backend, "io");

	if (ret)
		return ret;
	if (zc_file_queue_inline(r->file))
		return -EAGAIN; /* run inside zc_submit */
	return zc_ring_prep_io(zc_queue_ring(q), r->file, io, -1, cookie);
}

ssize_t zc_devmem_io(struct zc_reg *r, const struct zc_io *io)
{
	const bool dmabuf = r->req.mem_type == ZC_MEM_DMABUF;
	const bool to_mem = io->dir == ZC_DIR_READ;
	struct zc_file *f = r->file;
	ssize_t n;
	int ret;

	if (!r->cpu_only)
		return zc_plain_io(r, io);
	ret = zc_fault_hit(r->ctx->faults, r->backend, "io");
	if (ret)
		return ret;
	/* the CPU writes the buffer for a read, reads it for a write */
	if (dmabuf && (ret = zc_dmabuf_cpu_access(r->req.dmabuf_fd, false,
						   !to_mem, to_mem)))
		return ret;
	if (zc_file_direct(f))
		n = zc_staged_rw(f, io->dir, io->buf, io->len, io->file_off, true);
	else
		n = zc_sys_rw(f, io->dir, io->buf, io->len, io->file_off);
	if (dmabuf && (ret = zc_dmabuf_cpu_access(r->req.dmabuf_fd, true,
						   !to_mem, to_mem)) && n >= 0)
		n = ret;
	return n;
}

int zc_devmem_prep(struct zc_queue *q, struct zc_reg *r, const struct zc_io *io,
		   uint64_t cookie)
{
	if (r->cpu_only)
		return -EAGAIN; /* inline, through the backend's io */
	return zc_plain_prep(q, r, io, cookie);
}

int zc_map_dmabuf(struct zc_reg *r, char *reason, size_t len)
{
	const size_t page = zc_page_size();
	const size_t size = (r->req.length + page - 1) & ~(page - 1);
	void *p;
	int ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_NONE, "mmap");

	if (!ret) {
		p = zc_dmabuf_map(r->req.dmabuf_fd, size, r->io_access & ZC_ACCESS_READ,
				  &ret);
		if (p) {
			r->map = (struct zc_mapping){ .base = p, .size = size,
						      .is_file_map = true };
			r->addr = p;
			r->length = r->req.length;
			r->cpu_only = true;
			return 0;
		}
	}
	snprintf(reason, len, "the CPU cannot map the dma-buf (mmap: %s): "
		 "nothing to copy file data through", strerror(-ret));
	return ret;
}

static ssize_t backend_io(struct zc_reg *r, enum zc_dir dir, size_t reg_off,
			  uint64_t file_off, size_t len)
{
	const struct zc_io io = {
		.dir = dir, .buf = (char *)r->addr + reg_off,
		.file_off = file_off, .len = len, .reg_off = reg_off,
	};

	return r->ops->io(r, &io);
}

/*
 * O_DIRECT: the block-aligned middle goes to the backend when the memory
 * there is aligned too; the unaligned head and tail go through staging.
 */
static ssize_t direct_io(struct zc_reg *r, enum zc_dir dir, size_t reg_off,
			 uint64_t file_off, size_t len)
{
	struct zc_file *f = r->file;
	const uint64_t oa = f->info.dio_offset_align;
	char *buf = (char *)r->addr + reg_off;
	size_t head = (size_t)ZC_MIN((oa - (file_off & (oa - 1))) & (oa - 1), len);
	size_t middle = (size_t)((len - head) & ~(oa - 1));
	size_t tail = len - head - middle;
	const bool cpu = r->req.mem_type != ZC_MEM_HOST;
	ssize_t n, done = 0;

	if (!middle || !zc_aligned((uintptr_t)(buf + head), zc_reg_mem_align(r)))
		return zc_staged_rw(f, dir, buf, len, file_off, cpu);
	/* any failure is the call's result: a short count means EOF only */
	if (head) {
		n = zc_staged_rw(f, dir, buf, head, file_off, cpu);
		if (n < 0 || (size_t)n < head)
			return n;
		done = n;
	}
	n = backend_io(r, dir, reg_off + head, file_off + head, middle);
	if (n < 0 || (size_t)n < middle)
		return n < 0 ? n : done + n;
	done += n;
	if (tail) {
		n = zc_staged_rw(f, dir, buf + head + middle, tail,
				 file_off + head + middle, cpu);
		if (n < 0)
			return n;
		done += n;
	}
	return done;
}

/* Why zc_check_io refused: the message and the errno. */
int zc_check_io_fail(struct zc_reg *r, const char *fn, enum zc_dir dir,
		     size_t reg_off, uint64_t file_off, size_t len)
{
	if (reg_off > r->length || len > r->length - reg_off) {
		zc_err(r->ctx, "%s: [%zu, +%zu) outside the registration of %zu bytes",
		       fn, reg_off, len, r->length);
		return -EINVAL;
	}
	if (file_off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - file_off) {
		zc_err(r->ctx, "%s: file offset %llu + %zu overflows", fn,
		       (unsigned long long)file_off, len);
		return -EOVERFLOW;
	}
	if (dir == ZC_DIR_READ && (r->req.access & ZC_ACCESS_READ))
		zc_err(r->ctx, "%s: a ZC_REG_MAP_FILE registration without "
		       "ZC_ACCESS_WRITE is read-only: reading into it would store "
		       "into the file's pages", fn);
	else
		zc_err(r->ctx, "%s: registration lacks ZC_ACCESS_%s", fn,
		       dir == ZC_DIR_READ ? "READ" : "WRITE");
	return -EACCES;
}

ssize_t zc_reg_rw(struct zc_reg *r, enum zc_dir dir, size_t reg_off,
		  uint64_t file_off, size_t len)
{
	ssize_t n;

	if (zc_file_direct(r->file) && !r->cpu_only)
		n = direct_io(r, dir, reg_off, file_off, len);
	else
		n = backend_io(r, dir, reg_off, file_off, len);
	zc_count(&r->ctx->stats.backend[r->backend].ops, 1);
	if (n > 0)
		zc_count(&r->ctx->stats.backend[r->backend].bytes, (uint64_t)n);
	return n;
}

static ssize_t reg_io(struct zc_reg *r, const char *fn, enum zc_dir dir,
		      size_t reg_off, uint64_t file_off, size_t len)
{
	ssize_t n;
	int ret;

	if (zc_unlikely(!r))
		return -EINVAL;
	ZC_REFUSE_IN_CHILD(r->ctx, fn);
	ret = zc_check_io(r, fn, dir, reg_off, file_off, len);
	if (ret || !len)
		return ret;
	ret = zc_reg_enter(r, &r->inflight);
	if (ret)
		return ret;
	n = zc_reg_rw(r, dir, reg_off, file_off, len);
	zc_reg_exit(&r->inflight);
	return n;
}

ZC_API ssize_t zc_read(struct zc_reg *r, size_t reg_off, uint64_t file_off,
		       size_t len)
{
	return reg_io(r, "zc_read", ZC_DIR_READ, reg_off, file_off, len);
}

ZC_API ssize_t zc_write(struct zc_reg *r, size_t reg_off, uint64_t file_off,
			size_t len)
{
	return reg_io(r, "zc_write", ZC_DIR_WRITE, reg_off, file_off, len);
}

ZC_API int zc_sync(struct zc_reg *r, size_t reg_off, size_t len)
{
	int ret;

	if (!r)
		return -EINVAL;
	ZC_REFUSE_IN_CHILD(r->ctx, "zc_sync");
	if (reg_off > r->length || len > r->length - reg_off) {
		zc_err(r->ctx, "zc_sync: [%zu, +%zu) outside the registration of %zu bytes",
		       reg_off, len, r->length);
		return -EINVAL;
	}
	if (!len)
		len = r->length - reg_off;
	if (!(r->req.flags & ZC_REG_MAP_FILE))
		return fdatasync(r->file->fd) ? -errno : 0;
	if (!(r->req.access & (ZC_ACCESS_WRITE | ZC_ACCESS_REMOTE_WRITE))) {
		zc_err(r->ctx, "zc_sync: registration lacks ZC_ACCESS_WRITE: its "
		       "memory is read-only and never written to the file");
		return -EACCES;
	}
	ret = zc_reg_enter(r, &r->inflight);
	if (ret)
		return ret;
	ret = r->ops->sync(r, reg_off, len);
	zc_reg_exit(&r->inflight);
	return ret;
}

/* ------------------------------------------------------------------ */
/* MAP_FILE memory                                                      */

int zc_map_file(struct zc_reg *r, bool writable, char *reason, size_t len)
{
	const size_t page = zc_page_size();
	uint64_t base_off = r->req.file_offset & ~(uint64_t)(page - 1);
	size_t delta = (size_t)(r->req.file_offset - base_off);
	size_t size = (r->req.length + delta + page - 1) & ~(page - 1);
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p;
	int ret;

	ret = zc_fault_hit(r->ctx->faults, ZC_BACKEND_NONE, "mmap");
	if (ret) {
		snprintf(reason, len, "mmap MAP_SHARED: %s (injected)", strerror(-ret));
		return ret;
	}
	p = mmap(NULL, size, prot, MAP_SHARED, r->file->fd, (off_t)base_off);
	if (p == MAP_FAILED) {
		ret = -errno;
		snprintf(reason, len, "mmap MAP_SHARED of the file range: %s",
			 strerror(errno));
		return ret;
	}
	r->map = (struct zc_mapping){ .base = p, .size = size, .is_file_map = true };
	r->addr = (char *)p + delta;
	r->length = r->req.length;
	return 0;
}

int zc_file_snapshot(struct zc_reg *r, uint64_t off, size_t fill, size_t size,
		     void **out, char *reason, size_t len)
{
	struct zc_file *f = r->file;
	ssize_t n;
	void *p;

	p = zc_mem_alloc(size, zc_file_numa_node(f));
	if (!p) {
		snprintf(reason, len, "copy of the file range: mmap %zu bytes: %s",
			 size, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* fresh anonymous memory is zero: a short read leaves zeros */
	n = zc_file_rw(f, ZC_DIR_READ, p, fill, off);
	if (n < 0) {
		snprintf(reason, len, "filling the copy from the file: pread: %s",
			 strerror((int)-n));
		zc_mem_free(p, size);
		return (int)n;
	}
	*out = p;
	return 0;
}

int zc_copy_file(struct zc_reg *r, char *reason, size_t len)
{
	const size_t page = zc_page_size();
	size_t size = (r->req.length + page - 1) & ~(page - 1);
	void *p = NULL; /* set on success; -O3 cannot tell */
	int ret;

	ret = zc_file_snapshot(r, r->req.file_offset, r->req.length, size, &p,
			       reason, len);
	if (ret)
		return ret;
	r->map = (struct zc_mapping){ .base = p, .size = size, .is_alloc = true };
	r->addr = p;
	r->length = r->req.length;
	ret = zc_map_seal(r, reason, len);
	if (ret)
		zc_unmap(r);
	return ret;
}

/*
 * Without ZC_ACCESS_WRITE (or REMOTE_WRITE, whose peer stores zc_sync
 * writes back) a MAP_FILE registration's memory is read-only once it is
 * pinned or filled, so that no store reaches the file: not through the
 * file's own pages, and not through a copy (zc_sync refuses too). A pin holds the pages, not the permission, so it survives this.
 */
int zc_map_seal(struct zc_reg *r, char *reason, size_t len)
{
	int ret;

	if (r->req.access & (ZC_ACCESS_WRITE | ZC_ACCESS_REMOTE_WRITE))
		return 0; /* a peer's writes land in it (bounce's MR) */
	if (!mprotect(r->map.base, r->map.size, PROT_READ))
		return 0;
	ret = -errno;
	snprintf(reason, len, "mprotect PROT_READ of a registration without "
		 "ZC_ACCESS_WRITE: %s", strerror(-ret));
	return ret;
}

void zc_unmap(struct zc_reg *r)
{
	if (r->map.is_file_map)
		munmap(r->map.base, r->map.size);
	else if (r->map.is_alloc)
		zc_mem_free(r->map.base, r->map.size);
	r->map = (struct zc_mapping){ 0 };
}

int zc_map_sync(struct zc_reg *r, size_t reg_off, size_t len)
{
	const size_t page = zc_page_size();
	uintptr_t start = (uintptr_t)r->addr + reg_off;
	uintptr_t base = start & ~(uintptr_t)(page - 1);

	return msync((void *)base, len + (start - base), MS_SYNC) ? -errno : 0;
}
