/* SPDX-License-Identifier: MIT */
/*
 * src/p2p.c over seams: a fake sysfs tree made here (ZC_SYSFS_ROOT), a
 * regular file standing in for p2pmem/allocate, and the PCI topologies of
 * DATA_DIR/p2p-*.dump (libpci's dump method through ZC_PCI_DUMP; how their
 * bytes were made: DATA_DIR/p2p-dumps.py):
 *   p2p-switch.dump      root port 00:01.0 > switch upstream port 01:00.0 >
 *                        downstream ports 02:00.0, 02:01.0 > NVMe 03:00.0,
 *                        04:00.0; ACS on 02:00.0 without redirect
 *   p2p-acs.dump         the same, Request Redirect on 02:01.0
 *   p2p-acs-common.dump  the same, Egress Control on 01:00.0 (the common
 *                        bridge: the kernel checks it)
 *   p2p-acs-above.dump   the same, Request+Completion Redirect on the root
 *                        port 00:01.0 (above the common bridge: not checked)
 *   p2p-rootports.dump   NVMe 01:00.0 and 02:00.0 under two root ports
 * The dumps need libpci: without it the check is that a dump is refused
 * with that reason. The live topology is read from the fake tree either way.
 * Exits 0 when every check holds, 1 otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p.h"
#include "seam_check.h"

#define MIB (1024 * 1024)

static char root[PATH_MAX];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* mkdir -p root/rel */
static void dirs(const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *s = path + strlen(root) + 1; ; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(path, 0755) && errno != EEXIST) {
				perror(path);
				exit(1);
			}
			*s = c;
			if (!c)
				break;
		}
	}
}

/* a function's directory under devices/, its bus/pci/devices link, and
 * p2pmem with the given attributes where size is not NULL */
static void function(const char *dir, const char *size, const char *avail,
		     const char *published)
{
	char rel[PATH_MAX], link[PATH_MAX + 64], target[PATH_MAX];
	const char *bdf = strrchr(dir, '/') + 1;

	dirs(dir);
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s", root, bdf);
	snprintf(target, sizeof(target), "../../../%s", dir);
	if (symlink(target, link)) {
		perror(link);
		exit(1);
	}
	if (!size)
		return;
	snprintf(rel, sizeof(rel), "%s/p2pmem", dir);
	dirs(rel);
	snprintf(rel, sizeof(rel), "%s/p2pmem/size", dir);
	put(rel, size);
	if (avail) {
		snprintf(rel, sizeof(rel), "%s/p2pmem/available", dir);
		put(rel, avail);
	}
	if (published) {
		snprintf(rel, sizeof(rel), "%s/p2pmem/published", dir);
		put(rel, published);
	}
	snprintf(rel, sizeof(rel), "%s/p2pmem/allocate", dir);
	put(rel, "");
}

#define SW "devices/pci0000:00/0000:00:01.0/0000:01:00.0"
#define EP3 SW "/0000:02:00.0/0000:03:00.0"
#define EP4 SW "/0000:02:01.0/0000:04:00.0"

static void make_tree(void)
{
	function("devices/pci0000:00/0000:00:01.0", NULL, NULL, NULL);
	function(SW, NULL, NULL, NULL);
	function(SW "/0000:02:00.0", NULL, NULL, NULL);
	function(SW "/0000:02:01.0", NULL, NULL, NULL);
	function(EP4, "16777216\n", "16777216\n", "0\n");
	function(EP3, "67108864\n", "62914560\n", "1\n");
	function("devices/pci0000:00/0000:00:03.0", "1048576\n", "0\n", "1\n");
	function("devices/pci0000:00/0000:00:02.0", NULL, NULL, NULL);
	/* p2pmem without "published": not a publisher to count */
	function("devices/pci0000:00/0000:00:04.0", "4096\n", "4096\n", NULL);
}

static void check_publishers(void)
{
	struct zc_p2p_pub pub[4];
	char reason[256];
	int n;

	memset(pub, 0x5a, sizeof(pub));
	n = zc_p2p_publishers(pub, 4, reason, sizeof(reason));
	CHECK(n == 3);
	CHECK(!strcmp(pub[0].bdf, "0000:00:03.0"));
	CHECK(pub[0].size == MIB && pub[0].available == 0 && pub[0].published);
	CHECK(!strcmp(pub[1].bdf, "0000:03:00.0"));
	CHECK(pub[1].size == 64 * MIB && pub[1].available == 60 * MIB &&
	      pub[1].published);
	CHECK(!strcmp(pub[2].bdf, "0000:04:00.0"));
	CHECK(pub[2].size == 16 * MIB && pub[2].available == 16 * MIB &&
	      !pub[2].published);
	/* max smaller than the count: the first ones, the whole count */
	memset(pub, 0x5a, sizeof(pub));
	CHECK(zc_p2p_publishers(pub, 1, reason, sizeof(reason)) == 3);
	CHECK(!strcmp(pub[0].bdf, "0000:00:03.0"));
	CHECK(((unsigned char *)&pub[1])[0] == 0x5a);
	CHECK(zc_p2p_publishers(NULL, 0, reason, sizeof(reason)) == 3);
}

static void check_no_devices_dir(void)
{
	char reason[256], dir[PATH_MAX + 16];
	int n;

	snprintf(dir, sizeof(dir), "%s/nonexistent", root);
	setenv("ZC_SYSFS_ROOT", dir, 1);
	/* no PCI bus (a container): no publisher, not an error */
	n = zc_p2p_publishers(NULL, 0, reason, sizeof(reason));
	CHECK(n == 0);
	setenv("ZC_SYSFS_ROOT", root, 1);
}

static void *map_file(const char *rel, size_t len, void *at, int flags)
{
	char path[PATH_MAX + 64];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_RDWR);
	if (fd < 0 || ftruncate(fd, (off_t)len)) {
		perror(path);
		exit(1);
	}
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | flags, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void check_mem_publisher(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 4 * MIB;
	char bdf[ZC_P2P_BDF_LEN], reason[PATH_MAX + 256];
	char *p, *anon, *two, *other;
	int r;

	/* the publisher's allocate file, and a piece of it */
	p = map_file(EP3 "/p2pmem/allocate", len, NULL, 0);
	memset(bdf, 0, sizeof(bdf));
	r = zc_p2p_mem_publisher(p, len, bdf, reason, sizeof(reason));
	CHECK(r == 0 && !strcmp(bdf, "0000:03:00.0"));
	memset(bdf, 0, sizeof(bdf));
	r = zc_p2p_mem_publisher(p + page, 3 * page, bdf, reason, sizeof(reason));
	CHECK(r == 0 && !strcmp(bdf, "0000:03:00.0"));
	/* one byte more than the mapping: the next page is not mapped or
	 * is some other mapping */
	r = zc_p2p_mem_publisher(p, len + 1, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT);
	munmap(p, len);
	/* ... and no longer mapped at all */
	r = zc_p2p_mem_publisher(p, page, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT && strstr(reason, "not mapped"));

	/* anonymous memory */
	anon = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED);
	r = zc_p2p_mem_publisher(anon, page, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT && strstr(reason, "anonymous memory"));
	munmap(anon, page);

	/* two adjacent mappings, allocate and then anonymous memory: a range
	 * over both is not inside one p2pmem mapping */
	two = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(two != MAP_FAILED);
	map_file(EP4 "/p2pmem/allocate", 2 * page, two, MAP_FIXED);
	CHECK(mmap(two + 2 * page, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == two + 2 * page);
	memset(bdf, 0, sizeof(bdf));
	r = zc_p2p_mem_publisher(two, 2 * page, bdf, reason, sizeof(reason));
	CHECK(r == 0 && !strcmp(bdf, "0000:04:00.0"));
	r = zc_p2p_mem_publisher(two + page, 2 * page, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT && strstr(reason, "spans two mappings"));
	munmap(two, 4 * page);

	/* some other file, with a blank in its name: its path in the reason */
	put("other file.bin", "");
	other = map_file("other file.bin", page, NULL, 0);
	r = zc_p2p_mem_publisher(other, page, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT && strstr(reason, "/other file.bin"));
	munmap(other, page);

	/* a p2pmem/allocate whose directory names no PCI function */
	dirs("devices/not-a-function/p2pmem");
	put("devices/not-a-function/p2pmem/allocate", "");
	other = map_file("devices/not-a-function/p2pmem/allocate", page, NULL, 0);
	r = zc_p2p_mem_publisher(other, page, bdf, reason, sizeof(reason));
	CHECK(r == -ENOENT && strstr(reason, "names no PCI function"));
	munmap(other, page);
}

/* the reach of provider and client in dump file name of data */
static enum zc_p2p_path reach_in(const char *data, const char *name,
				 const char *provider, const char *client,
				 int *dist, char *reason, size_t len)
{
	char dump[PATH_MAX];
	struct zc_pci *pci = NULL;
	enum zc_p2p_path path;

	snprintf(dump, sizeof(dump), "%s/%s", data, name);
	setenv("ZC_PCI_DUMP", dump, 1);
	if (zc_p2p_pci_open(&pci, reason, len)) {
		fprintf(stderr, "%s: %s\n", dump, reason);
		failed = 1;
		return ZC_P2P_UNKNOWN;
	}
	path = zc_p2p_reach(pci, provider, client, dist, reason, len);
	zc_p2p_pci_close(pci);
	return path;
}

static void check_reach(const char *data)
{
	struct zc_pci *pci = NULL;
	char reason[512], dump[PATH_MAX];
	int dist = 99, r;

	CHECK(zc_p2p_reach(NULL, "0000:03:00.0", "0000:04:00.0", &dist, reason,
			   sizeof(reason)) == ZC_P2P_UNKNOWN && dist == -1);
	snprintf(dump, sizeof(dump), "%s/p2p-switch.dump", data);
	setenv("ZC_PCI_DUMP", dump, 1);
	r = zc_p2p_pci_open(&pci, reason, sizeof(reason));
	if (r == -EOPNOTSUPP) {
		/* built without libpci: dumps cannot be read */
		CHECK(!ZT_HAVE_LIBPCI && !pci && strstr(reason, "needs libpci"));
		printf("p2p: dumps not read (%s), as expected\n", reason);
		unsetenv("ZC_PCI_DUMP");
		return;
	}
	CHECK(r == 0);
	zc_p2p_pci_close(pci);

	/* (a) the switch: through its upstream port, 2 + 2 hops */
	dist = 99;
	CHECK(reach_in(data, "p2p-switch.dump", "0000:03:00.0", "0000:04:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_BRIDGE);
	CHECK(dist == 4 && strstr(reason, "bridge 0000:01:00.0"));
	CHECK(reach_in(data, "p2p-switch.dump", "04:00.0", "03:00.0", &dist,
		       reason, sizeof(reason)) == ZC_P2P_BRIDGE && dist == 4);
	CHECK(reach_in(data, "p2p-switch.dump", "0000:03:00.0", "03:00.0", &dist,
		       reason, sizeof(reason)) == ZC_P2P_SAME_DEVICE && dist == 0);
	/* a bridge above the other counts as the common one, either way */
	CHECK(reach_in(data, "p2p-switch.dump", "0000:03:00.0", "0000:02:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_BRIDGE && dist == 1);
	CHECK(reach_in(data, "p2p-switch.dump", "0000:01:00.0", "0000:04:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_BRIDGE && dist == 2);
	/* (d) a function the topology does not have */
	CHECK(reach_in(data, "p2p-switch.dump", "0000:03:00.0", "0000:05:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_UNKNOWN);
	CHECK(dist == -1 && strstr(reason, "0000:05:00.0"));
	CHECK(reach_in(data, "p2p-switch.dump", "junk", "0000:03:00.0", &dist,
		       reason, sizeof(reason)) == ZC_P2P_UNKNOWN);

	/* (b) two root ports: only through the host bridge */
	CHECK(reach_in(data, "p2p-rootports.dump", "0000:01:00.0", "0000:02:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	CHECK(dist == 4 && strstr(reason, "no common bridge"));

	/* (c) ACS redirect on the client's downstream port */
	CHECK(reach_in(data, "p2p-acs.dump", "0000:03:00.0", "0000:04:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	CHECK(strstr(reason, "ACS redirect on 0000:02:01.0") != NULL);
	CHECK(reach_in(data, "p2p-acs.dump", "0000:04:00.0", "0000:03:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	CHECK(strstr(reason, "ACS redirect on 0000:02:01.0") != NULL);
	/* the pair below the other downstream port does not pass it */
	CHECK(reach_in(data, "p2p-acs.dump", "0000:03:00.0", "0000:02:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_BRIDGE);
	/* on the common bridge (egress control): checked */
	CHECK(reach_in(data, "p2p-acs-common.dump", "0000:03:00.0", "0000:04:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	CHECK(strstr(reason, "ACS redirect on 0000:01:00.0") != NULL);
	/* above the common bridge: not on the path */
	CHECK(reach_in(data, "p2p-acs-above.dump", "0000:03:00.0", "0000:04:00.0",
		       &dist, reason, sizeof(reason)) == ZC_P2P_BRIDGE && dist == 4);

	/* a dump that is not there */
	setenv("ZC_PCI_DUMP", "/nonexistent/p2p.dump", 1);
	pci = NULL;
	CHECK(zc_p2p_pci_open(&pci, reason, sizeof(reason)) == -ENOENT && !pci);
	CHECK(strstr(reason, "/nonexistent/p2p.dump") != NULL);
	unsetenv("ZC_PCI_DUMP");
}

/* the documented rule: AuthenticAMD, cpu family >= 0x17 (first CPU) */
static bool host_bridge_expected(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	int amd = 0, family = -1;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && line[0] != '\n') {
		if (!strncmp(line, "vendor_id", 9))
			amd = strstr(line, "AuthenticAMD") != NULL;
		if (!strncmp(line, "cpu family", 10))
			sscanf(strchr(line, ':') + 1, "%d", &family);
	}
	fclose(f);
	return amd && family >= 0x17;
}

static void check_path_ok(void)
{
	char reason[256];
	bool host = host_bridge_expected();

	CHECK(zc_p2p_path_ok(ZC_P2P_SAME_DEVICE, reason, sizeof(reason)));
	CHECK(zc_p2p_path_ok(ZC_P2P_BRIDGE, reason, sizeof(reason)));
	CHECK(!zc_p2p_path_ok(ZC_P2P_UNKNOWN, reason, sizeof(reason)));
	CHECK(zc_p2p_path_ok(ZC_P2P_HOST_BRIDGE, reason, sizeof(reason)) == host);
	CHECK(strstr(reason, host ? "AMD family 17h" : "whitelist") != NULL);
	printf("p2p: through the host bridge: %s\n", reason);
}

/* The live system's topology, read from the fake tree itself (no
 * ZC_PCI_DUMP): the chain of directories, and ACS from a config file. */
static void put_config(const char *dir, size_t size, unsigned acs_ctrl)
{
	uint8_t cfg[4096] = { 0 };
	char rel[1024], path[PATH_MAX + 1100];
	FILE *f;

	cfg[0x06] = 0x10; /* a capability list */
	if (acs_ctrl) {
		/* one extended capability at 0x100: ACS, version 1, last */
		cfg[0x100] = 0x0d;
		cfg[0x102] = 0x01;
		cfg[0x106] = (uint8_t)acs_ctrl;
	}
	snprintf(rel, sizeof(rel), "%s/config", dir);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (!f || fwrite(cfg, 1, size, f) != size || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static enum zc_p2p_path live_reach(const char *provider, const char *client,
				   int *dist, char *reason, size_t len)
{
	struct zc_pci *pci = NULL;
	enum zc_p2p_path path;

	unsetenv("ZC_PCI_DUMP");
	if (zc_p2p_pci_open(&pci, reason, len)) {
		fprintf(stderr, "live: %s\n", reason);
		failed = 1;
		return ZC_P2P_UNKNOWN;
	}
	path = zc_p2p_reach(pci, provider, client, dist, reason, len);
	zc_p2p_pci_close(pci);
	return path;
}

static void check_live(void)
{
	struct zc_pci *pci = NULL;
	char reason[256];
	int dist = -2;

	unsetenv("ZC_PCI_DUMP");
	CHECK(zc_p2p_pci_open(&pci, reason, sizeof(reason)) == 0);
	zc_p2p_pci_close(pci);

	/* every bridge readable, none redirecting: behind the switch */
	put_config("devices/pci0000:00/0000:00:01.0", 4096, 0);
	put_config(SW, 4096, 0);
	put_config(SW "/0000:02:00.0", 4096, 0);
	put_config(SW "/0000:02:01.0", 4096, 0);
	put_config(EP3, 4096, 0);
	put_config(EP4, 4096, 0);
	CHECK(live_reach("0000:03:00.0", "0000:04:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_BRIDGE);
	CHECK(dist == 4);
	CHECK(strstr(reason, "0000:01:00.0") != NULL);
	CHECK(live_reach("0000:03:00.0", "0000:03:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_SAME_DEVICE && dist == 0);
	/* under another root port: only through the host bridge */
	CHECK(live_reach("0000:00:03.0", "0000:03:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	/* a downstream port on the way redirects: through the host bridge */
	put_config(SW "/0000:02:01.0", 4096, 0x04);
	CHECK(live_reach("0000:03:00.0", "0000:04:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_HOST_BRIDGE);
	CHECK(strstr(reason, "0000:02:01.0") != NULL);
	/* config space cut at 64 bytes (not CAP_SYS_ADMIN): unknown */
	put_config(SW "/0000:02:01.0", 64, 0);
	CHECK(live_reach("0000:03:00.0", "0000:04:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_UNKNOWN);
	put_config(SW "/0000:02:01.0", 4096, 0);
	/* a function sysfs does not have */
	CHECK(live_reach("0000:09:00.0", "0000:03:00.0", &dist, reason,
			 sizeof(reason)) == ZC_P2P_UNKNOWN);
}

static void rm_tree(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", root);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 1;
	}
	snprintf(root, sizeof(root), "%s/zc-p2p-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror(root);
		return 1;
	}
	dirs("bus/pci/devices");
	make_tree();
	setenv("ZC_SYSFS_ROOT", root, 1);

	check_publishers();
	check_no_devices_dir();
	check_mem_publisher();
	check_reach(argv[1]);
	check_live();
	check_path_ok();
	rm_tree();
	if (!failed)
		printf("p2p: publishers, mappings, reach and paths as expected\n");
	return failed;
}
