/* SPDX-License-Identifier: MIT */
/*
 * zc-p2pcopy: move a byte range of a file into PCIe peer memory near the
 * file's disk, and from there back into the file at another offset.
 *
 *   zc-p2pcopy FILE OFFSET LENGTH TO
 *
 * Device memory (p2pmem: an NVMe controller memory buffer, a device BAR)
 * is mapped with zc_p2p_alloc(), the nearest publisher that FILE's device
 * reaches, and registered against FILE as ZC_MEM_P2P. With FILE open with
 * O_DIRECT and the two devices in reach by the kernel's rule, the
 * registration lands on the p2p_bar backend: the disk moves the data to and
 * from the device memory itself, without host memory in between. Else the
 * library stages it through host memory (bounce), and says why.
 *
 * zc_read() brings [OFFSET, +LENGTH) into the device memory, which is then
 * compared with what pread() gives; zc_write() through the same
 * registration puts it at TO, which is compared again. Numbers may be
 * decimal or 0x hex. Mapping p2pmem needs root (p2pmem/allocate is 0600).
 *
 * Exit status: 0 copied and verified; 1 an error, or the data differ;
 * 2 usage; 3 no PCIe peer memory that FILE can use on this machine (no
 * device publishes p2pmem, none that FILE's device reaches, or none with
 * LENGTH bytes free): nothing was done.
 *
 * Build against the installed library:
 *   cc -o zc-p2pcopy p2pcopy.c $(pkg-config --cflags --libs libzerocopy)
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zerocopy.h>

#define EXIT_NO_P2PMEM 3
#define MAX_PROVIDERS 16

static int parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

/* The publishers FILE's device reaches, nearest first, as the library
 * sees them. */
static void print_providers(struct zc_ctx *ctx, const struct zc_file *f)
{
	struct zc_p2p_provider p[MAX_PROVIDERS];
	int i, n = zc_p2p_providers(ctx, f, p, MAX_PROVIDERS, sizeof(p[0]));

	if (n < 0) {
		fprintf(stderr, "zc_p2p_providers: %s\n", zc_strerror(n));
		return;
	}
	printf("%d p2pmem publisher%s%s\n", n, n == 1 ? "" : "s",
	       n ? ", nearest first:" : "");
	for (i = 0; i < n && i < MAX_PROVIDERS; i++)
		printf("  %s %llu KiB free, %s, distance %d: %s\n", p[i].pci_bdf,
		       (unsigned long long)(p[i].available >> 10),
		       p[i].reachable ? "reachable" : "unreachable",
		       p[i].distance, p[i].reason);
}

/* Which PCI function's p2pmem addr is: each zc_p2p_alloc() is a mapping
 * of /sys/.../<bdf>/p2pmem/allocate, as /proc/self/maps shows. */
static void provider_of(const void *addr, char *bdf, size_t len)
{
	static const char tail[] = "/p2pmem/allocate";
	uintptr_t a = (uintptr_t)addr;
	char line[4352];
	FILE *maps = fopen("/proc/self/maps", "re");

	snprintf(bdf, len, "unknown");
	if (!maps)
		return;
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char *path, *end;
		size_t n;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || a < lo || a >= hi)
			continue;
		path = strchr(line, '/');
		if (path) {
			path[strcspn(path, "\n")] = '\0';
			n = strlen(path);
			end = path + n - (sizeof tail - 1);
			if (n > sizeof tail - 1 && !strcmp(end, tail)) {
				*end = '\0';
				snprintf(bdf, len, "%s", strrchr(path, '/') + 1);
			}
		}
		break;
	}
	fclose(maps);
}

/* The backend the registration landed on, and every backend tried. */
static void print_reg(const struct zc_reg *r)
{
	struct zc_attempt a[8];
	int i, n = zc_reg_attempts(r, a, 8);

	printf("backend %s\n", zc_backend_name(zc_reg_backend(r)));
	for (i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use",
		       a[i].reason);
}

/* what pread() gives at off, in host memory: compared with dev */
static int verify(int fd, const unsigned char *dev, unsigned long long off,
		  size_t len, const char *what)
{
	unsigned char *host = malloc(len);
	ssize_t got;
	size_t i;
	int ret = -1;

	if (!host) {
		fprintf(stderr, "%s: out of memory\n", what);
		return -1;
	}
	got = pread(fd, host, len, (off_t)off);
	if (got != (ssize_t)len) {
		fprintf(stderr, "%s: pread at %llu: %s\n", what, off,
			got < 0 ? strerror(errno) : "short read");
	} else {
		for (i = 0; i < len && dev[i] == host[i]; i++)
			;
		if (i < len)
			fprintf(stderr, "%s: byte %zu differs (device 0x%02x, "
				"file 0x%02x)\n", what, i, dev[i], host[i]);
		else
			ret = 0;
	}
	free(host);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long long off, len, to;
	struct zc_reg_params p;
	struct zc_ctx *ctx = NULL;
	struct zc_file *f = NULL;
	struct zc_reg *r = NULL;
	void *dev = NULL;
	size_t maplen = 0;
	char bdf[32];
	int fd = -1, vfd = -1, ret, status = 1;
	ssize_t n;
	long page = sysconf(_SC_PAGESIZE);

	if (argc != 5 || parse_u64(argv[2], &off) || parse_u64(argv[3], &len) ||
	    parse_u64(argv[4], &to) || !len || len > SIZE_MAX / 2) {
		fprintf(stderr, "usage: %s FILE OFFSET LENGTH TO\n", argv[0]);
		return 2;
	}
	/* O_DIRECT: the disk's DMA reaches the device memory itself */
	fd = open(argv[1], O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		printf("%s takes no O_DIRECT: the data will be staged through "
		       "host memory\n", argv[1]);
		fd = open(argv[1], O_RDWR | O_CLOEXEC);
	}
	/* a second descriptor, buffered, to check with pread() */
	vfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || vfd < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	ret = zc_ctx_create(NULL, &ctx);
	if (ret < 0) {
		fprintf(stderr, "zc_ctx_create: %s\n", zc_strerror(ret));
		goto out;
	}
	ret = zc_file_open(ctx, fd, 0, &f);
	if (ret < 0) {
		fprintf(stderr, "zc_file_open %s: %s\n", argv[1], zc_strerror(ret));
		goto out;
	}
	print_providers(ctx, f);

	/* NULL: the nearest published p2pmem f's device reaches, with room */
	maplen = (size_t)((len + (unsigned long long)page - 1) &
			  ~((unsigned long long)page - 1));
	ret = zc_p2p_alloc(f, NULL, maplen, &dev);
	if (ret == -ENODEV || ret == -EREMOTEIO || ret == -ENOMEM) {
		printf("no PCIe peer memory for %s here: %s (%s)\n", argv[1],
		       ret == -ENODEV ? "no device publishes p2pmem" :
		       ret == -EREMOTEIO ? "no publisher its device reaches" :
		       "no publisher with room", zc_strerror(ret));
		dev = NULL;
		status = EXIT_NO_P2PMEM;
		goto out;
	}
	if (ret < 0) {
		fprintf(stderr, "zc_p2p_alloc %zu bytes: %s%s\n", maplen,
			zc_strerror(ret), ret == -EACCES ? " (run as root)" : "");
		dev = NULL;
		goto out;
	}
	provider_of(dev, bdf, sizeof bdf);
	printf("%zu bytes of p2pmem from %s\n", maplen, bdf);

	/* device memory is registered as such: the library picks p2p_bar
	 * where the file's device reaches it, else stages through host */
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
		       ZC_REG_FIELD_ACCESS | ZC_REG_FIELD_MEM_TYPE;
	p.addr = dev;
	p.length = maplen;
	p.access = ZC_ACCESS_READ | ZC_ACCESS_WRITE;
	p.mem_type = ZC_MEM_P2P;
	ret = zc_reg_create(f, &p, &r);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create: %s\n", zc_strerror(ret));
		goto out;
	}
	print_reg(r);

	n = zc_read(r, 0, off, (size_t)len);
	if (n != (ssize_t)len) {
		fprintf(stderr, "zc_read [%llu, +%llu): %s\n", off, len,
			n < 0 ? zc_strerror((int)n) : "short read (past the end?)");
		goto out;
	}
	if (verify(vfd, dev, off, (size_t)len, "after zc_read"))
		goto out;
	printf("read %llu bytes at %llu into %s's memory: same as pread\n",
	       len, off, bdf);

	n = zc_write(r, 0, to, (size_t)len);
	if (n != (ssize_t)len) {
		fprintf(stderr, "zc_write at %llu: %s\n", to,
			n < 0 ? zc_strerror((int)n) : "short write");
		goto out;
	}
	ret = zc_sync(r, 0, 0);
	if (ret < 0) {
		fprintf(stderr, "zc_sync: %s\n", zc_strerror(ret));
		goto out;
	}
	if (verify(vfd, dev, to, (size_t)len, "after zc_write"))
		goto out;
	printf("wrote them back at %llu: same as pread\n", to);
	status = 0;
out:
	/* the registration before the memory it names */
	if (r && (ret = zc_reg_destroy(r)) < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	if (dev && (ret = zc_p2p_free(dev, maplen)) < 0)
		fprintf(stderr, "zc_p2p_free: %s\n", zc_strerror(ret));
	zc_file_close(f);
	zc_ctx_destroy(ctx);
	if (vfd >= 0)
		close(vfd);
	if (fd >= 0)
		close(fd);
	return status;
}
