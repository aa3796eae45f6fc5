/* SPDX-License-Identifier: MIT */
/* dma-buf file descriptors (see sys/dmabuf.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include "sys/dmabuf.h"

int zc_dmabuf_inspect(int fd, uint64_t *size, char *reason, size_t len)
{
	char link[64], target[256];
	ssize_t n;
	off_t end;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		snprintf(reason, len, "dmabuf_fd %d is not an open file descriptor", fd);
		return -EBADF;
	}
	/* a dma-buf's /proc/self/fd link reads "/dmabuf:<name>" (Linux 5.x
	 * and later; "anon_inode:dmabuf" before) */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		int err = errno;

		snprintf(reason, len, "dmabuf_fd %d: readlink %s: %s", fd, link,
			 strerror(err));
		return -err;
	}
	target[n] = '\0';
	if (strncmp(target, "/dmabuf:", 8) && strcmp(target, "anon_inode:dmabuf")) {
		snprintf(reason, len, "dmabuf_fd %d is not a dma-buf (%s)", fd, target);
		return -EINVAL;
	}
	/* its size: the only seek a dma-buf answers */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		int err = errno;

		snprintf(reason, len, "dmabuf_fd %d: size (lseek SEEK_END): %s", fd,
			 strerror(err));
		return -err;
	}
	lseek(fd, 0, SEEK_SET);
	*size = (uint64_t)end;
	return 0;
}

void *zc_dmabuf_map(int fd, size_t len, bool write, int *err)
{
	void *p = mmap(NULL, len, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
		       fd, 0);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return p;
}

int zc_dmabuf_cpu_access(int fd, bool end, bool read, bool write)
{
	struct dma_buf_sync s = {
		.flags = (end ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START) |
			 (read ? DMA_BUF_SYNC_READ : 0) |
			 (write ? DMA_BUF_SYNC_WRITE : 0),
	};

	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0)
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	return 0;
}
