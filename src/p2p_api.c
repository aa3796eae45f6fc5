/* SPDX-License-Identifier: MIT */
/*
 * The public calls for PCIe peer memory: which p2pmem publishers a file's
 * device reaches (zc_p2p_providers), and mapping device memory from one
 * (zc_p2p_alloc, zc_p2p_free). What they know comes from p2p.c, the same
 * rule the p2p_bar backend applies to a registration.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "p2p.h"
#include "sys/sysfs.h"

/* the publishers with their reach from f's device, nearest first: how
 * many (into *out, freed by the caller), or -errno with a reason */
static int provider_list(const struct zc_file *f, struct zc_p2p_provider **out,
			 char *reason, size_t len)
{
	struct zc_p2p_provider *list = NULL;
	struct zc_p2p_pub *pubs = NULL;
	char pci_reason[ZC_REASON_LEN];
	struct zc_pci *pci = NULL;
	unsigned cap = 16;
	int n;

	for (;;) {
		struct zc_p2p_pub *more = realloc(pubs, cap * sizeof(*pubs));

		if (!more) {
			free(pubs);
			snprintf(reason, len, "out of memory");
			return -ENOMEM;
		}
		pubs = more;
		n = zc_p2p_publishers(pubs, cap, reason, len);
		if (n < 0 || (unsigned)n <= cap)
			break;
		cap = (unsigned)n;
	}
	if (n <= 0)
		goto out;
	list = calloc((size_t)n, sizeof(*list));
	if (!list) {
		snprintf(reason, len, "out of memory");
		n = -ENOMEM;
		goto out;
	}
	if (f && f->info.pci_bdf[0] &&
	    zc_p2p_pci_open(&pci, pci_reason, sizeof(pci_reason)))
		pci = NULL; /* each provider's reason says why */
	for (int i = 0; i < n; i++) {
		struct zc_p2p_provider *p = &list[i];
		int dist = -1;

		snprintf(p->pci_bdf, sizeof(p->pci_bdf), "%s", pubs[i].bdf);
		p->size = pubs[i].size;
		p->available = pubs[i].available;
		p->published = pubs[i].published;
		p->distance = -1;
		if (!f) {
			snprintf(p->reason, sizeof(p->reason), "no file to reach it from");
			continue;
		}
		if (!f->info.pci_bdf[0]) {
			snprintf(p->reason, sizeof(p->reason), "the file's device%s%s "
				 "is not a PCI function", f->info.blockdev[0] ? " " : "",
				 f->info.blockdev);
			continue;
		}
		if (!pci) {
			snprintf(p->reason, sizeof(p->reason), "%.163s", pci_reason);
			continue;
		}
		p->reachable = zc_p2p_reachable(pci, p->pci_bdf, f->info.pci_bdf,
						&dist, p->reason, sizeof(p->reason));
		p->distance = dist;
	}
	zc_p2p_pci_close(pci);
	/* nearest first: reachable ones by distance, then the rest; stable
	 * by PCI address, the publishers' order */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			const struct zc_p2p_provider *a = &list[j - 1], *b = &list[j];
			struct zc_p2p_provider t;

			if (a->reachable > b->reachable ||
			    (a->reachable == b->reachable &&
			     (unsigned)a->distance <= (unsigned)b->distance))
				break;
			t = list[j - 1];
			list[j - 1] = list[j];
			list[j] = t;
		}
out:
	free(pubs);
	*out = list;
	return n;
}

ZC_API int zc_p2p_providers(struct zc_ctx *ctx, const struct zc_file *f,
			    struct zc_p2p_provider *out, unsigned max,
			    size_t entry_size)
{
	/* the fields every caller knows: those of 0.2 */
	const size_t min_size = offsetof(struct zc_p2p_provider, reason) +
				sizeof(out->reason);
	struct zc_p2p_provider *list;
	char reason[ZC_REASON_LEN];
	int n;

	if (!ctx || (max && !out) || (f && f->ctx != ctx) ||
	    (max && entry_size < min_size))
		return -EINVAL;
	n = provider_list(f, &list, reason, sizeof(reason));
	if (n < 0) {
		zc_err(ctx, "zc_p2p_providers: %s", reason);
		return n;
	}
	for (unsigned i = 0; i < ZC_MIN((unsigned)n, max); i++) {
		char *dst = (char *)out + (size_t)i * entry_size;

		memcpy(dst, &list[i], ZC_MIN(entry_size, sizeof(*list)));
		if (entry_size > sizeof(*list)) /* fields this library lacks */
			memset(dst + sizeof(*list), 0, entry_size - sizeof(*list));
	}
	free(list);
	return n;
}

/* The publisher for a length-byte chunk near f: 0 with its bdf, or -errno
 * with the reason. */
static int choose(struct zc_file *f, size_t length, char *bdf, char *reason,
		  size_t len)
{
	struct zc_p2p_provider *list;
	bool reachable = false;
	int n = provider_list(f, &list, reason, len);

	if (n < 0)
		return n;
	if (n == 0) {
		snprintf(reason, len, "no p2pmem publisher in %s/bus/pci/devices",
			 zc_sysfs_root());
		return -ENODEV;
	}
	for (int i = 0; i < n; i++) {
		if (!list[i].reachable)
			continue;
		reachable = true;
		if (list[i].published && list[i].available >= length) {
			snprintf(bdf, ZC_P2P_BDF_LEN, "%s", list[i].pci_bdf);
			free(list);
			return 0;
		}
	}
	if (reachable) {
		snprintf(reason, len, "no published p2pmem that %s reaches has "
			 "%zu bytes available", f->info.blockdev, length);
	} else {
		/* the nearest's reason says why: it is as near as any gets */
		int used = snprintf(reason, len, "%d p2pmem publisher%s, none that "
				    "%s (%s) reaches; %s: ", n, n == 1 ? "" : "s",
				    f->info.blockdev, f->info.pci_bdf[0] ?
				    f->info.pci_bdf : "no PCI function",
				    list[0].pci_bdf);

		if (used > 0 && (size_t)used < len)
			snprintf(reason + used, len - (size_t)used, "%s", list[0].reason);
	}
	free(list);
	return reachable ? -ENOMEM : -EREMOTEIO;
}

ZC_API int zc_p2p_alloc(struct zc_file *f, const char *pci_bdf, size_t length,
			void **addr)
{
	char bdf[ZC_P2P_BDF_LEN], rel[96], path[4096], reason[ZC_REASON_LEN];
	void *p;
	int fd, ret;

	if (!f || !addr || !length)
		return -EINVAL;
	ZC_REFUSE_IN_CHILD(f->ctx, "zc_p2p_alloc");
	if (pci_bdf) {
		/* a PCI address as sysfs names it: no path tricks */
		if (!zc_sysfs_is_bdf(pci_bdf, strlen(pci_bdf))) {
			zc_err(f->ctx, "zc_p2p_alloc: \"%s\" is not a PCI address "
			       "(dddd:bb:dd.f)", pci_bdf);
			return -EINVAL;
		}
		snprintf(bdf, sizeof(bdf), "%s", pci_bdf);
	} else {
		ret = choose(f, length, bdf, reason, sizeof(reason));
		if (ret) {
			zc_err(f->ctx, "zc_p2p_alloc: %s", reason);
			return ret;
		}
	}
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/p2pmem/allocate", bdf);
	ret = zc_sysfs_resolve(rel, path, sizeof(path));
	if (ret) {
		zc_err(f->ctx, "zc_p2p_alloc: %s publishes no p2pmem (%s/%s: %s)",
		       bdf, zc_sysfs_root(), rel, strerror(-ret));
		return ret == -ENOENT ? -ENODEV : ret;
	}
	ret = zc_fault_hit(f->ctx->faults, ZC_BACKEND_NONE, "p2p_alloc");
	if (ret) {
		zc_err(f->ctx, "zc_p2p_alloc: %s: %s (injected by ZC_FAULT)",
		       path, strerror(-ret));
		return ret;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		zc_err(f->ctx, "zc_p2p_alloc: open %s: %s%s", path, strerror(errno),
		       ret == -EACCES ? " (root's: run as root or give the "
		       "application the file)" : "");
		return ret;
	}
	/* each mapping of allocate is a new chunk of the device's pool */
	p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret) {
		zc_err(f->ctx, "zc_p2p_alloc: %zu bytes of %s's p2pmem: %s", length,
		       bdf, strerror(-ret));
		return ret;
	}
	zc_dbg(f->ctx, "zc_p2p_alloc: %zu bytes of %s's p2pmem at %p", length,
	       bdf, p);
	*addr = p;
	return 0;
}

ZC_API int zc_p2p_free(void *addr, size_t length)
{
	char bdf[ZC_P2P_BDF_LEN], reason[ZC_REASON_LEN];

	if (!addr || !length)
		return -EINVAL;
	if (zc_p2p_mem_publisher(addr, length, bdf, reason, sizeof(reason)))
		return -EINVAL;
	return munmap(addr, length) ? -errno : 0;
}
