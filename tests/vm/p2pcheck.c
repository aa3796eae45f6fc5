/* SPDX-License-Identifier: MIT */
/*
 * p2pcheck FILE ALLOCATE: can O_DIRECT move FILE's bytes into and out of
 * the PCI peer-to-peer memory that ALLOCATE (a device's
 * /sys/bus/pci/devices/X/p2pmem/allocate) hands out? The kernel accepts a
 * P2P page for a block device only when pci_p2pdma_distance() finds a path
 * between the two functions, so success here means the pair is reachable.
 *
 * Reads the first CHUNK bytes of FILE into the device memory with O_DIRECT
 * and compares them with a buffered read; then writes them from the device
 * memory to offset CHUNK of FILE with O_DIRECT and compares again. Prints
 * one line ("ok ..." or what failed, with errno) and exits 0 or 1.
 *
 * Then, for the record, the same O_DIRECT read at memory addresses that
 * are not block-aligned (the block layer allows any address its queue's
 * dma_alignment allows, 4 bytes for NVMe): which offsets into the device
 * memory get the right bytes ("sub-block: right at 512 4096, wrong at 4
 * (first bad byte 388) ...").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK (4u << 20)

static int fail(const char *what, int err)
{
	printf("no: %s: %s (errno %d)\n", what, strerror(err), err);
	return 1;
}

/* a buffered read of the whole chunk into host memory */
static int read_host(int fd, off_t off, unsigned char *buf)
{
	size_t done = 0;

	while (done < CHUNK) {
		ssize_t n = pread(fd, buf + done, CHUNK - done, off + (off_t)done);

		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

/* O_DIRECT reads of SUB bytes into dev + off for offsets that are not
 * block-aligned, each compared with the buffered bytes */
#define SUB (64u << 10)
static void sub_block(int fd, int dfd, unsigned char *dev, unsigned char *host)
{
	static const unsigned offs[] = { 4, 64, 124, 256, 512, 1024, 2048, 4096 };
	char right[128] = "", wrong[512] = "";

	if (read_host(fd, 0, host))
		return;
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t bad = 0;
		ssize_t n;

		memset(dev, 0, SUB + 4096 * 2);
		n = pread(dfd, dev + offs[i], SUB, 0);
		if (n == (ssize_t)SUB)
			while (bad < SUB && dev[offs[i] + bad] == host[bad])
				bad++;
		if (n == (ssize_t)SUB && bad == SUB)
			snprintf(right + strlen(right), sizeof(right) - strlen(right),
				 " %u", offs[i]);
		else if (n < 0)
			snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
				 " %u (%s)", offs[i], strerror(errno));
		else
			snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
				 " %u (first bad byte %zu of %zd)", offs[i], bad, n);
	}
	printf("sub-block reads: right at%s%s%s\n", right[0] ? right : " none",
	       wrong[0] ? ", wrong at" : "", wrong);
}

int main(int argc, char **argv)
{
	unsigned char *host, *dev;
	int fd, dfd, afd, err;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: p2pcheck FILE ALLOCATE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	dfd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || dfd < 0)
		return fail(argv[1], errno);
	afd = open(argv[2], O_RDWR);
	if (afd < 0)
		return fail(argv[2], errno);
	dev = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (dev == MAP_FAILED)
		return fail("mmap of p2pmem/allocate", errno);
	host = malloc(CHUNK);
	if (!host)
		return fail("malloc", ENOMEM);
	if ((err = read_host(fd, 0, host)) != 0)
		return fail("buffered pread", err);

	n = pread(dfd, dev, CHUNK, 0);
	if (n < 0)
		return fail("O_DIRECT pread into p2pmem", errno);
	if (n != CHUNK || memcmp(dev, host, CHUNK) != 0)
		return fail("O_DIRECT pread into p2pmem gave other bytes", EIO);

	n = pwrite(dfd, dev, CHUNK, CHUNK);
	if (n < 0)
		return fail("O_DIRECT pwrite from p2pmem", errno);
	if (n != CHUNK)
		return fail("O_DIRECT pwrite from p2pmem was short", EIO);
	if ((err = read_host(fd, CHUNK, host)) != 0)
		return fail("buffered pread after the write", err);
	if (memcmp(dev, host, CHUNK) != 0)
		return fail("O_DIRECT pwrite from p2pmem wrote other bytes", EIO);

	printf("ok: %u KiB read into and written from p2pmem with O_DIRECT; ",
	       CHUNK >> 10);
	sub_block(fd, dfd, dev, host);
	munmap(dev, CHUNK);
	free(host);
	close(afd);
	close(dfd);
	close(fd);
	return 0;
}
