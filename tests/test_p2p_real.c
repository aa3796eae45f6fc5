/* SPDX-License-Identifier: MIT */
/*
 * src/p2p.c on this machine's real p2pmem (the test guest of tests/vm: two
 * NVMe CMBs behind an x3130 switch): each publisher's
 * /sys/bus/pci/devices/<bdf>/p2pmem/allocate mapped and found again in
 * /proc/self/maps by zc_p2p_mem_publisher; the real maps line printed.
 * With libpci (no dump), the reach of each publisher with itself, and of
 * each pair both ways; the pair PROVIDER CLIENT of the arguments, where
 * both publish p2pmem, must have PATH ("bridge", "host_bridge") and DIST.
 * Exits 77 with the reason where there is no p2pmem (or not as root),
 * 0 when every check holds, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "p2p.h"
#include "seam_check.h"

#define CHUNK (2u << 20)
#define MAXPUB 8

static const char *const names[] = { "same_device", "bridge", "host_bridge",
				     "unknown" };

/* the /proc/self/maps line of the mapping that starts at p */
static void print_maps_line(const void *p)
{
	char want[32], *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, want, strlen(want)))
			printf("p2p.real: maps: %s", line);
	free(line);
	fclose(f);
}

/* 1 checked, 0 skip (not root), -1 failed to map */
static int check_mapping(const char *bdf)
{
	char path[512], got[ZC_P2P_BDF_LEN], reason[4352];
	char *p;
	int fd, r;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate",
		 bdf);
	fd = open(path, O_RDWR);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		printf("p2p.real: SKIP: %s: %s (needs root)\n", path,
		       strerror(errno));
		return 0;
	}
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap %s: %s\n", path, strerror(errno));
		return -1;
	}
	print_maps_line(p);
	memset(got, 0, sizeof(got));
	r = zc_p2p_mem_publisher(p, CHUNK, got, reason, sizeof(reason));
	printf("p2p.real: %s: %d %s\n", bdf, r, reason);
	CHECK(r == 0 && !strcmp(got, bdf));
	memset(got, 0, sizeof(got));
	r = zc_p2p_mem_publisher(p + 4096, 4096, got, reason, sizeof(reason));
	CHECK(r == 0 && !strcmp(got, bdf));
	CHECK(zc_p2p_mem_publisher(p, CHUNK + 1, got, reason, sizeof(reason)) ==
	      -ENOENT);
	munmap(p, CHUNK);
	return 1;
}

static bool is_pub(const struct zc_p2p_pub *pub, int n, const char *bdf)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(pub[i].bdf, bdf))
			return true;
	return false;
}

static void check_reach(const struct zc_p2p_pub *pub, int n, char **want)
{
	struct zc_pci *pci = NULL;
	char reason[512], ok[256];
	int dist, dist2;

	if (zc_p2p_pci_open(&pci, reason, sizeof(reason))) {
		printf("p2p.real: reach not checked: %s\n", reason);
		return;
	}
	for (int i = 0; i < n; i++) {
		CHECK(zc_p2p_reach(pci, pub[i].bdf, pub[i].bdf, &dist, reason,
				   sizeof(reason)) == ZC_P2P_SAME_DEVICE &&
		      dist == 0);
		for (int j = i + 1; j < n; j++) {
			enum zc_p2p_path p, q;

			p = zc_p2p_reach(pci, pub[i].bdf, pub[j].bdf, &dist,
					 reason, sizeof(reason));
			zc_p2p_path_ok(p, ok, sizeof(ok));
			printf("p2p.real: %s -> %s: %s, dist %d: %s; %s\n",
			       pub[i].bdf, pub[j].bdf, names[p], dist, reason, ok);
			q = zc_p2p_reach(pci, pub[j].bdf, pub[i].bdf, &dist2,
					 reason, sizeof(reason));
			CHECK(p == q && dist == dist2);
			CHECK(p != ZC_P2P_UNKNOWN && p != ZC_P2P_SAME_DEVICE);
		}
	}
	if (want && is_pub(pub, n, want[0]) && is_pub(pub, n, want[1])) {
		enum zc_p2p_path p = zc_p2p_reach(pci, want[0], want[1], &dist,
						  reason, sizeof(reason));

		CHECK(!strcmp(names[p], want[2]) && dist == atoi(want[3]));
		printf("p2p.real: expected %s dist %s for %s -> %s: %s\n",
		       want[2], want[3], want[0], want[1],
		       !strcmp(names[p], want[2]) && dist == atoi(want[3]) ?
		       "yes" : "NO");
	}
	zc_p2p_pci_close(pci);
}

int main(int argc, char **argv)
{
	struct zc_p2p_pub pub[MAXPUB];
	char reason[256];
	int n, mapped = 0;

	if (argc != 1 && argc != 5) {
		fprintf(stderr, "usage: %s [PROVIDER CLIENT PATH DIST]\n", argv[0]);
		return 1;
	}
	/* the real sysfs and the real topology */
	unsetenv("ZC_SYSFS_ROOT");
	unsetenv("ZC_PCI_DUMP");
	n = zc_p2p_publishers(pub, MAXPUB, reason, sizeof(reason));
	if (n < 0) {
		printf("p2p.real: SKIP: %s\n", reason);
		return 77;
	}
	if (n == 0) {
		printf("p2p.real: SKIP: no p2pmem publisher in /sys/bus/pci/devices\n");
		return 77;
	}
	if (n > MAXPUB)
		n = MAXPUB;
	for (int i = 0; i < n; i++) {
		int r;

		printf("p2p.real: publisher %s: size %llu, available %llu, %spublished\n",
		       pub[i].bdf, (unsigned long long)pub[i].size,
		       (unsigned long long)pub[i].available,
		       pub[i].published ? "" : "not ");
		r = check_mapping(pub[i].bdf);
		if (r == 0)
			return 77;
		if (r < 0)
			failed = 1;
		else
			mapped++;
	}
	check_reach(pub, n, argc == 5 ? argv + 1 : NULL);
	if (!failed)
		printf("p2p.real: %d publisher(s) found in their mappings\n", mapped);
	return failed;
}
