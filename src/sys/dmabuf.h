/* SPDX-License-Identifier: MIT */
/*
 * dma-buf file descriptors: telling one from any other fd, its size, a
 * CPU mapping, and the begin/end of CPU access that exporters need to
 * keep caches coherent (DMA_BUF_IOCTL_SYNC).
 */
#ifndef ZC_SYS_DMABUF_H
#define ZC_SYS_DMABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 with the buffer's size when fd is a dma-buf; -EBADF when fd is not
 * open; -EINVAL when it is something else (reason says what) */
int zc_dmabuf_inspect(int fd, uint64_t *size, char *reason, size_t len);
/* CPU access to [0, +len) of the buffer: read and/or write */
void *zc_dmabuf_map(int fd, size_t len, bool write, int *err);
/* bracket CPU access: begin (end false) or end it; 0 or -errno */
int zc_dmabuf_cpu_access(int fd, bool end, bool read, bool write);

#endif /* ZC_SYS_DMABUF_H */
