/* SPDX-License-Identifier: MIT */
/*
 * PCIe peer-to-peer memory (p2pmem): who publishes it, whose mapping a
 * piece of memory is, and whether the kernel lets a device reach it.
 * Shared by the p2p_bar backend, the bounce fallback and the public
 * zc_p2p_* calls. sysfs is read under zc_sysfs_root() ($ZC_SYSFS_ROOT),
 * the PCI topology too (sys/pci.h), or from the lspci dump named by
 * $ZC_PCI_DUMP where tests set it (read through libpci: a build without
 * it cannot open one).
 */
#ifndef ZC_P2P_H
#define ZC_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZC_P2P_BDF_LEN 16 /* "dddd:bb:dd.f" and its NUL (= ZC_PCI_BDF_LEN) */

struct zc_pci;

/* One publisher: <root>/bus/pci/devices/<bdf>/p2pmem/{size,available,published} */
struct zc_p2p_pub {
	char bdf[ZC_P2P_BDF_LEN];
	uint64_t size, available;
	bool published;
};

/* The publishers of this machine, sorted by bdf, into out[0..max): how
 * many there are (may exceed max; 0 when none, also when there is no
 * devices directory at all), or -errno with a reason (the directory
 * unreadable). A device whose p2pmem attributes cannot be read is left
 * out. */
int zc_p2p_publishers(struct zc_p2p_pub *out, unsigned max, char *reason,
		      size_t len);

/* The PCI topology of this machine (sysfs), or of the lspci dump
 * $ZC_PCI_DUMP names: 0, or -errno with a reason (-EOPNOTSUPP: a dump in a
 * build without libpci). */
int zc_p2p_pci_open(struct zc_pci **out, char *reason, size_t len);
void zc_p2p_pci_close(struct zc_pci *pci);

/* How the kernel (pci_p2pdma_distance) would connect a provider's memory
 * with a client's DMA. */
enum zc_p2p_path {
	ZC_P2P_SAME_DEVICE = 0, /* provider == client */
	ZC_P2P_BRIDGE,          /* a common upstream bridge, no ACS redirect
				   on the way: peer-to-peer below the root */
	ZC_P2P_HOST_BRIDGE,     /* only through the host bridge: the kernel
				   allows it for CPUs/host bridges it knows */
	ZC_P2P_UNKNOWN,         /* no topology (no libpci), or a function
				   that is not in it */
};

/* The path between provider and client ("dddd:bb:dd.f"), with *dist the
 * kernel's distance (hops from each up to the common bridge, summed; 0
 * for the same device; -1 when unknown) and a reason in words: "behind
 * bridge 0000:01:00.0, 4 hops", "no common bridge below the root: ...".
 * pci NULL: ZC_P2P_UNKNOWN. */
enum zc_p2p_path zc_p2p_reach(struct zc_pci *pci, const char *provider,
			      const char *client, int *dist, char *reason,
			      size_t len);
/* Whether the kernel moves data on that path: SAME_DEVICE and BRIDGE
 * yes; HOST_BRIDGE only where the kernel knows the CPU (AMD family 17h
 * and later, as pci_p2pdma does) -- the host-bridge whitelist of other
 * CPUs is not mirrored, and such a pair is refused; UNKNOWN no. The
 * reason says which. */
bool zc_p2p_path_ok(enum zc_p2p_path path, char *reason, size_t len);

/* The publisher whose p2pmem/allocate mapping holds all of [addr, +len)
 * (one mapping, found in /proc/self/maps; the path's device directory
 * names it): 0 with its bdf; -ENOENT when the range is not inside one
 * such mapping (reason says what it is instead); other -errno when the
 * maps cannot be read. */
int zc_p2p_mem_publisher(const void *addr, size_t len,
			 char bdf[ZC_P2P_BDF_LEN], char *reason, size_t rlen);

/* zc_p2p_reach and zc_p2p_path_ok together: whether the
 * kernel moves data between provider and client, with the path and the
 * verdict in one reason ("behind bridge ...: the kernel allows it"). */
bool zc_p2p_reachable(struct zc_pci *pci, const char *provider,
		      const char *client, int *dist, char *reason, size_t len);

#endif /* ZC_P2P_H */
