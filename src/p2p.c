/* SPDX-License-Identifier: MIT */
/*
 * PCIe peer-to-peer memory (see p2p.h): the publishers sysfs lists, the
 * publisher a mapping belongs to (/proc/self/maps), and the path the
 * kernel would take between a provider and a client, by its own rule
 * (pci_p2pdma_distance: a common upstream bridge, no ACS redirect on the
 * way; else the host bridge, which it allows only for CPUs it knows).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "p2p.h"
#include "sys/mem.h"
#include "sys/pci.h"
#include "sys/sysfs.h"

/* ---- publishers ---------------------------------------------------------- */

static int cmp_pub(const void *a, const void *b)
{
	return strcmp(((const struct zc_p2p_pub *)a)->bdf,
		      ((const struct zc_p2p_pub *)b)->bdf);
}

/* p2pmem/{size,available,published} of devices/<name>: 0, or -errno */
static int read_pub(const char *name, struct zc_p2p_pub *pub)
{
	static const char *const attrs[] = { "size", "available", "published" };
	long v[3];
	char rel[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		int err;

		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/p2pmem/%s", name,
			 attrs[i]);
		err = zc_sysfs_read_long(rel, &v[i]);
		if (err)
			return err;
		if (v[i] < 0)
			return -EINVAL;
	}
	memcpy(pub->bdf, name, strlen(name) + 1);
	pub->size = (uint64_t)v[0];
	pub->available = (uint64_t)v[1];
	pub->published = v[2] != 0;
	return 0;
}

int zc_p2p_publishers(struct zc_p2p_pub *out, unsigned max, char *reason,
		      size_t len)
{
	struct zc_p2p_pub *all = NULL, pub;
	unsigned n = 0, cap = 0;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", zc_sysfs_root());
	d = opendir(dir);
	if (!d && (errno == ENOENT || errno == ENOTDIR))
		return 0; /* no PCI bus here (a container, a VM without one) */
	if (!d) {
		ret = -errno;
		snprintf(reason, len, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= ZC_P2P_BDF_LEN)
			continue;
		if (read_pub(de->d_name, &pub))
			continue; /* no p2pmem, or unreadable: not a publisher */
		if (n == cap) {
			unsigned ncap = cap ? 2 * cap : 8;
			struct zc_p2p_pub *p = realloc(all, ncap * sizeof(*p));

			if (!p) {
				closedir(d);
				free(all);
				snprintf(reason, len, "out of memory");
				return -ENOMEM;
			}
			all = p;
			cap = ncap;
		}
		all[n++] = pub;
	}
	closedir(d);
	if (n) {
		qsort(all, n, sizeof(*all), cmp_pub);
		if (max)
			memcpy(out, all, (n < max ? n : max) * sizeof(*all));
	}
	free(all);
	if (n > INT_MAX)
		n = INT_MAX;
	return (int)n;
}

/* ---- topology ------------------------------------------------------------ */

int zc_p2p_pci_open(struct zc_pci **out, char *reason, size_t len)
{
	return zc_pci_open(secure_getenv("ZC_PCI_DUMP"), out, reason, len);
}

void zc_p2p_pci_close(struct zc_pci *pci)
{
	zc_pci_close(pci);
}

/* 256 buses per domain bound the walk up (sys/pci.c), and the function */
#define CHAIN_MAX 257

/* bdf, then the bridges above it, nearest first: how many in all */
static int chain_of(struct zc_pci *pci, const char *bdf,
		    char (*chain)[ZC_PCI_BDF_LEN])
{
	int n = zc_pci_upstream(pci, bdf, chain + 1, CHAIN_MAX - 1);

	if (n < 0)
		return n;
	memcpy(chain[0], bdf, ZC_PCI_BDF_LEN);
	return (n < CHAIN_MAX - 1 ? n : CHAIN_MAX - 1) + 1;
}

/*
 * The functions the kernel asks about ACS redirect (calc_map_type_and_dist):
 * on the provider's side every one from the provider up to the common
 * bridge, that bridge included; on the client's side those from the
 * client up to, not including, the common bridge. The first one that
 * redirects into *who: 1; 0 none; -EACCES one could not be read.
 */
static int acs_on_path(struct zc_pci *pci, char (*a)[ZC_PCI_BDF_LEN], int ia,
		       char (*b)[ZC_PCI_BDF_LEN], int jb, const char **who)
{
	for (int i = 0; i <= ia + jb; i++) {
		const char *f = i <= ia ? a[i] : b[i - ia - 1];
		int r = zc_pci_acs_redirect(pci, f);

		if (r) {
			*who = f;
			return r < 0 ? -EACCES : 1;
		}
	}
	return 0;
}

static enum zc_p2p_path reach(struct zc_pci *pci, const char *provider,
			      const char *client, int *dist, char *reason,
			      size_t len)
{
	char a[CHAIN_MAX][ZC_PCI_BDF_LEN], b[CHAIN_MAX][ZC_PCI_BDF_LEN];
	char pname[ZC_PCI_BDF_LEN], cname[ZC_PCI_BDF_LEN];
	const char *who = NULL;
	int na, nb, ia, jb = -1, r;

	if (zc_pci_name(pci, provider, pname) || zc_pci_name(pci, client, cname)) {
		snprintf(reason, len, "PCI function %s is not in the topology",
			 zc_pci_name(pci, provider, pname) ? provider : client);
		return ZC_P2P_UNKNOWN;
	}
	if (!strcmp(pname, cname)) {
		*dist = 0;
		snprintf(reason, len, "the same function %s", pname);
		return ZC_P2P_SAME_DEVICE;
	}
	na = chain_of(pci, pname, a);
	nb = chain_of(pci, cname, b);
	if (na < 0 || nb < 0) {
		snprintf(reason, len, "PCI function %s is not in the topology",
			 na < 0 ? pname : cname);
		return ZC_P2P_UNKNOWN;
	}
	/* each of the provider's ancestors, itself first, against the client
	 * and its ancestors: a function that is itself a bridge above the
	 * other counts */
	for (ia = 0; ia < na && jb < 0; ia++)
		for (int j = 0; j < nb; j++)
			if (!strcmp(a[ia], b[j])) {
				jb = j;
				break;
			}
	if (jb < 0) {
		*dist = na + nb;
		snprintf(reason, len,
			 "no common bridge below the root: %s and %s meet only at the host bridge",
			 pname, cname);
		return ZC_P2P_HOST_BRIDGE;
	}
	ia--; /* the loop stepped past the match */
	r = acs_on_path(pci, a, ia, b, jb, &who);
	if (r < 0) {
		snprintf(reason, len,
			 "cannot read the ACS capability of %s (config space past 64 bytes needs root)",
			 who);
		return ZC_P2P_UNKNOWN;
	}
	*dist = ia + jb;
	if (r > 0) {
		snprintf(reason, len,
			 "ACS redirect on %s sends %s<->%s through the host bridge (kernel parameter pci=disable_acs_redir=%s lifts it)",
			 who, pname, cname, who);
		return ZC_P2P_HOST_BRIDGE;
	}
	snprintf(reason, len, "behind bridge %s (%d + %d hops)", a[ia], ia, jb);
	return ZC_P2P_BRIDGE;
}

enum zc_p2p_path zc_p2p_reach(struct zc_pci *pci, const char *provider,
			      const char *client, int *dist, char *reason,
			      size_t len)
{
	*dist = -1;
	if (pci && provider && client)
		return reach(pci, provider, client, dist, reason, len);
	snprintf(reason, len, "no PCI topology to judge %s and %s by",
		 provider ? provider : "(none)", client ? client : "(none)");
	return ZC_P2P_UNKNOWN;
}

/* ---- the kernel's verdict on a path --------------------------------------- */

/* the CPU family of an AMD CPU (/proc/cpuinfo, first processor), else -1 */
static long amd_cpu_family(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	bool amd = false;
	long family = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (line[0] == '\n')
			break; /* the end of the first processor */
		if (!colon)
			continue;
		if (!strncmp(line, "vendor_id", 9))
			amd = strstr(colon, "AuthenticAMD") != NULL;
		else if (!strncmp(line, "cpu family", 10))
			family = strtol(colon + 1, NULL, 10);
	}
	fclose(f);
	return amd ? family : -1;
}

bool zc_p2p_path_ok(enum zc_p2p_path path, char *reason, size_t len)
{
	switch (path) {
	case ZC_P2P_SAME_DEVICE:
		snprintf(reason, len, "within one function: the kernel allows it");
		return true;
	case ZC_P2P_BRIDGE:
		snprintf(reason, len,
			 "below a common bridge without ACS redirect: the kernel allows it");
		return true;
	case ZC_P2P_HOST_BRIDGE:
		if (amd_cpu_family() >= 0x17) {
			snprintf(reason, len,
				 "through the host bridge: the kernel allows it on AMD family 17h and later");
			return true;
		}
		snprintf(reason, len,
			 "through the host bridge: the kernel decides by its host-bridge whitelist, which the library does not mirror; not used");
		return false;
	case ZC_P2P_UNKNOWN:
		break;
	}
	snprintf(reason, len, "the path is unknown: not used");
	return false;
}

bool zc_p2p_reachable(struct zc_pci *pci, const char *provider,
		      const char *client, int *dist, char *reason, size_t len)
{
	char verdict[192];
	enum zc_p2p_path path;
	bool ok;
	size_t used;

	path = zc_p2p_reach(pci, provider, client, dist, reason, len);
	ok = zc_p2p_path_ok(path, verdict, sizeof(verdict));
	used = strlen(reason);
	if (used + 2 < len)
		snprintf(reason + used, len - used, "; %s", verdict);
	return ok;
}

/* ---- whose memory -------------------------------------------------------- */

int zc_p2p_mem_publisher(const void *addr, size_t len,
			 char bdf[ZC_P2P_BDF_LEN], char *reason, size_t rlen)
{
	static const char tail[] = "/p2pmem/allocate";
	uintptr_t start = (uintptr_t)addr, end = start + (len ? len : 1);
	struct zc_mem_region r, next;
	const char *dev;
	size_t n;
	int err;

	err = zc_mem_region(addr, &r);
	if (err == -ENOENT) {
		snprintf(reason, rlen, "[%p,+%zu) is not mapped", addr, len);
		return -ENOENT;
	}
	if (err) {
		snprintf(reason, rlen, "/proc/self/maps: %s", strerror(-err));
		return err;
	}
	if (end < start || end > r.end) {
		bool two = end > start && zc_mem_region((void *)r.end, &next) == 0;

		snprintf(reason, rlen,
			 "[%p,+%zu) %s, not one p2pmem/allocate mapping", addr,
			 len, two ? "spans two mappings" :
				    "runs past the end of its mapping");
		return -ENOENT;
	}
	if (!r.inode || r.path[0] != '/') {
		snprintf(reason, rlen, "[%p,+%zu) is anonymous memory%s%s%s", addr,
			 len, r.path[0] ? " (" : "", r.path, r.path[0] ? ")" : "");
		return -ENOENT;
	}
	n = strlen(r.path);
	if (n <= sizeof(tail) - 1 ||
	    strcmp(r.path + n - (sizeof(tail) - 1), tail) != 0) {
		snprintf(reason, rlen,
			 "[%p,+%zu) is a mapping of %s, not of a p2pmem/allocate file",
			 addr, len, r.path);
		return -ENOENT;
	}
	n -= sizeof(tail) - 1; /* r.path[n] is the '/' before p2pmem */
	dev = r.path + n;
	while (dev > r.path && dev[-1] != '/')
		dev--;
	if (!zc_sysfs_is_bdf(dev, (size_t)(r.path + n - dev))) {
		snprintf(reason, rlen,
			 "[%p,+%zu) is a mapping of %s, whose directory names no PCI function",
			 addr, len, r.path);
		return -ENOENT;
	}
	memcpy(bdf, dev, (size_t)(r.path + n - dev));
	bdf[r.path + n - dev] = '\0';
	snprintf(reason, rlen, "p2pmem of %s", bdf);
	return 0;
}
