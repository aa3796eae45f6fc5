/* SPDX-License-Identifier: MIT */
/*
 * PCI topology, beside the sysfs helpers (sys/sysfs.h): from a PCI
 * function up through the bridges above it, and their ACS settings, the
 * way the kernel decides whether two functions may do peer-to-peer DMA.
 * The running system's from sysfs; an lspci dump's through libpci, where
 * it is built in (else opening a dump is -EOPNOTSUPP).
 */
#ifndef ZC_SYS_PCI_H
#define ZC_SYS_PCI_H

#include <stddef.h>

#define ZC_PCI_BDF_LEN 16 /* "dddd:bb:dd.f" and its NUL */

struct zc_pci;

/* The PCI functions of this machine (dump NULL: read from sysfs under
 * zc_sysfs_root(), without libpci, whose pci_alloc() exits the process
 * when an allocation fails), or those of an `lspci -x` dump file
 * (libpci's dump method: tests hand it a topology; -EOPNOTSUPP in a
 * build without libpci). 0, or -errno with a reason. */
int zc_pci_open(const char *dump, struct zc_pci **out, char *reason,
		size_t len);
void zc_pci_close(struct zc_pci *p);
/* The bridges above function bdf ("dddd:bb:dd.f", or "bb:dd.f" in domain
 * 0), nearest first, into chain[0..max): how many there are (may exceed
 * max), or -ENODEV when bdf is not a function of p. */
int zc_pci_upstream(struct zc_pci *p, const char *bdf,
		    char (*chain)[ZC_PCI_BDF_LEN], unsigned max);
/* The canonical name ("dddd:bb:dd.f") of function bdf of p: 0, or
 * -ENODEV when bdf is not one. */
int zc_pci_name(struct zc_pci *p, const char *bdf, char out[ZC_PCI_BDF_LEN]);
/* Whether function bdf redirects peer-to-peer requests upstream, as the
 * kernel's pci_bridge_has_acs_redir() asks it of every function on a
 * P2P path: its ACS extended capability with P2P Request Redirect,
 * Completion Redirect or Egress Control enabled. 1 yes, 0 no (no ACS
 * capability), -ENODEV when bdf is not a function of p, -EACCES when its
 * capabilities cannot be read (config space past 64 bytes needs
 * CAP_SYS_ADMIN in sysfs). */
int zc_pci_acs_redirect(struct zc_pci *p, const char *bdf);

#endif /* ZC_SYS_PCI_H */
