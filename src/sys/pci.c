/* SPDX-License-Identifier: MIT */
/* PCI topology from sysfs, and from lspci dumps through libpci (see
 * sys/pci.h). */
#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sys/pci.h"
#include "sys/sysfs.h"

/*
 * Two sources. The running system's topology is read from sysfs (under
 * zc_sysfs_root()), the same files libpci's sysfs method reads: a
 * function's canonical directory is the chain of bridges above it, and
 * its config file holds the ACS capability. libpci itself is used only
 * for dump files (dump), because pci_alloc() ends the process when one of
 * its own allocations fails, before a caller can install an error
 * handler (found by oom.ctx in the test guest); a library must not. So
 * the library needs libpci for dumps (the tests) only.
 */
struct zc_pci {
	struct pci_access *dump; /* a dump's functions; NULL: the live system */
};

/* ---- dumps, through libpci --------------------------------------------- */

#if ZC_HAVE_LIBPCI

#include <setjmp.h>
#include <stdarg.h>

#include <pci/pci.h>

/*
 * libpci reports a fatal error (an unreadable dump, no access method that
 * works) through acc->error, which must not return; its default exits the
 * process, which a library may not do. The open below catches it here.
 */
static __thread jmp_buf *pci_fatal;
static __thread char pci_fatal_msg[128];

__attribute__((noreturn, format(printf, 1, 2)))
static void pci_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(pci_fatal_msg, sizeof(pci_fatal_msg), msg, ap);
	va_end(ap);
	longjmp(*pci_fatal, 1);
}

__attribute__((format(printf, 1, 2)))
static void pci_quiet(char *msg, ...)
{
	(void)msg; /* warnings and debug output: not the library's to print */
}

/* pci_init and the scan, with libpci's fatal errors turned into -EIO */
static int init_and_scan(struct pci_access *acc, char *reason, size_t len)
{
	jmp_buf env;

	pci_fatal = &env;
	if (setjmp(env)) {
		pci_fatal = NULL;
		snprintf(reason, len, "libpci: %s", pci_fatal_msg);
		return -EIO;
	}
	pci_init(acc);
	pci_scan_bus(acc);
	pci_fatal = NULL;
	return 0;
}

/* dump's functions, scanned: 0, or -errno with a reason */
static int dump_open(const char *dump, struct pci_access **out, char *reason,
		     size_t len)
{
	struct pci_access *acc;
	int ret;

	/* checked first: libpci's own message would only say "dump" */
	if (access(dump, R_OK)) {
		ret = -errno;
		snprintf(reason, len, "PCI dump %s: %s", dump, strerror(-ret));
		return ret;
	}
	acc = pci_alloc();
	if (!acc) {
		snprintf(reason, len, "libpci: out of memory");
		return -ENOMEM;
	}
	acc->error = pci_error;
	acc->warning = pci_quiet;
	acc->debug = pci_quiet;
	acc->method = PCI_ACCESS_DUMP;
	pci_set_param(acc, "dump.name", (char *)dump);
	ret = init_and_scan(acc, reason, len);
	if (ret) {
		pci_cleanup(acc); /* safe after a failed init: nothing scanned */
		return ret;
	}
	*out = acc;
	return 0;
}

static void dump_close(struct pci_access *acc)
{
	pci_cleanup(acc);
}

static struct pci_dev *find(struct pci_access *acc, int domain, int bus,
			    int dev, int func)
{
	for (struct pci_dev *d = acc->devices; d; d = d->next)
		if (d->domain == domain && d->bus == bus && d->dev == dev &&
		    d->func == func)
			return d;
	return NULL;
}

/* the bridge whose secondary bus is bus, in domain; NULL at a root bus */
static struct pci_dev *bridge_to(struct pci_access *acc, int domain, int bus)
{
	for (struct pci_dev *d = acc->devices; d; d = d->next)
		if (d->domain == domain &&
		    (pci_read_byte(d, PCI_HEADER_TYPE) & 0x7f) == PCI_HEADER_TYPE_BRIDGE &&
		    pci_read_byte(d, PCI_SECONDARY_BUS) == bus)
			return d;
	return NULL;
}

/* the function bdf names ("dddd:bb:dd.f" or "bb:dd.f"); NULL if none */
static struct pci_dev *lookup(struct pci_access *acc, const char *bdf)
{
	unsigned domain = 0, bus, dev, func;

	if (sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &dev, &func) != 4) {
		domain = 0;
		if (sscanf(bdf, "%x:%x.%x", &bus, &dev, &func) != 3)
			return NULL;
	}
	return find(acc, (int)domain, (int)bus, (int)dev, (int)func);
}

static void name(struct pci_dev *d, char out[ZC_PCI_BDF_LEN])
{
	snprintf(out, ZC_PCI_BDF_LEN, "%04x:%02x:%02x.%x",
		 (unsigned)d->domain, d->bus, d->dev, d->func);
}

static int dump_name(struct pci_access *acc, const char *bdf,
		     char out[ZC_PCI_BDF_LEN])
{
	struct pci_dev *d = lookup(acc, bdf);

	if (!d)
		return -ENODEV;
	name(d, out);
	return 0;
}

static int dump_acs_redirect(struct pci_access *acc, const char *bdf)
{
	struct pci_dev *d = lookup(acc, bdf);
	struct pci_cap *acs;
	u8 probe[4];
	u16 ctrl;

	if (!d)
		return -ENODEV;
	/* past the first 64 bytes sysfs shows config space to CAP_SYS_ADMIN
	 * only: without them no capability can be seen, and "none" would
	 * be a guess (a dump, or a conventional PCI function, reads on) */
	if (!pci_read_block(d, 64, probe, sizeof(probe)) &&
	    (pci_read_word(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return -EACCES;
	acs = pci_find_cap(d, PCI_EXT_CAP_ID_ACS, PCI_CAP_EXTENDED);
	if (!acs)
		return 0;
	ctrl = pci_read_word(d, acs->addr + PCI_ACS_CTRL);
	return (ctrl & (PCI_ACS_CTRL_REQ_RED | PCI_ACS_CTRL_CMPLT_RED |
			PCI_ACS_CTRL_EGRESS)) != 0;
}

static int dump_upstream(struct pci_access *acc, const char *bdf,
			 char (*chain)[ZC_PCI_BDF_LEN], unsigned max)
{
	struct pci_dev *d = lookup(acc, bdf);
	unsigned n = 0;

	if (!d)
		return -ENODEV;
	/* 256 bus numbers per domain: a longer walk is a loop in a bad dump */
	while (n < 256 && (d = bridge_to(acc, d->domain, d->bus))) {
		if (n < max)
			name(d, chain[n]);
		n++;
	}
	return (int)n;
}

#else /* !ZC_HAVE_LIBPCI: no dump is ever open */

static int dump_open(const char *dump, struct pci_access **out, char *reason,
		     size_t len)
{
	(void)out;
	snprintf(reason, len, "reading the PCI dump %s needs libpci: %s", dump,
		 ZC_WHY_NO_LIBPCI);
	return -EOPNOTSUPP;
}

static void dump_close(struct pci_access *acc)
{
	(void)acc;
}

static int dump_name(struct pci_access *acc, const char *bdf,
		     char out[ZC_PCI_BDF_LEN])
{
	(void)acc, (void)bdf, (void)out;
	return -ENODEV;
}

static int dump_acs_redirect(struct pci_access *acc, const char *bdf)
{
	(void)acc, (void)bdf;
	return -ENODEV;
}

static int dump_upstream(struct pci_access *acc, const char *bdf,
			 char (*chain)[ZC_PCI_BDF_LEN], unsigned max)
{
	(void)acc, (void)bdf, (void)chain, (void)max;
	return -ENODEV;
}

#endif /* ZC_HAVE_LIBPCI */

/* ---- the live system, through sysfs ---------------------------------- */

/* the canonical device directory of function bdf; -ENODEV if none */
static int live_dir(const char *bdf, char *dir, size_t len)
{
	char rel[64], last[ZC_PCI_BDF_LEN];
	const char *slash;

	if (!zc_sysfs_is_bdf(bdf, strlen(bdf)))
		return -ENODEV;
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	if (zc_sysfs_resolve(rel, dir, len))
		return -ENODEV;
	slash = strrchr(dir, '/');
	snprintf(last, sizeof(last), "%s", slash ? slash + 1 : dir);
	return strcmp(last, bdf) ? -ENODEV : 0;
}

static int live_upstream(const char *bdf, char (*chain)[ZC_PCI_BDF_LEN],
			 unsigned max)
{
	char dir[4096];
	char *end;
	unsigned n = 0;

	if (live_dir(bdf, dir, sizeof(dir)))
		return -ENODEV;
	/* .../pci0000:00/0000:00:03.0/0000:01:00.0/<bdf>: the components
	 * above the function that name functions are its bridges */
	end = strrchr(dir, '/');
	while (end) {
		char *start;

		*end = '\0';
		start = strrchr(dir, '/');
		start = start ? start + 1 : dir;
		if (!zc_sysfs_is_bdf(start, strlen(start)))
			break;
		if (n < max)
			snprintf(chain[n], ZC_PCI_BDF_LEN, "%s", start);
		n++;
		end = start > dir ? start - 1 : NULL;
	}
	return (int)n;
}

#define ZC_EXT_CAP_ACS 0x000d
#define ZC_ACS_CTRL 6
#define ZC_ACS_REDIRECTS 0x002c /* request, completion redirect; egress control */

static int live_acs_redirect(const char *bdf)
{
	char dir[4096], path[4200];
	uint8_t cfg[4096];
	unsigned off = 0x100;
	ssize_t n;
	int fd;

	if (live_dir(bdf, dir, sizeof(dir)))
		return -ENODEV;
	snprintf(path, sizeof(path), "%s/config", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n < 0)
		return -errno;
	if (n < 64)
		return -EIO;
	/* no capability list at all: conventional PCI, no ACS */
	if (!(cfg[0x06] & 0x10))
		return 0;
	/* extended space is shown to CAP_SYS_ADMIN only (else 64 bytes) */
	if (n < 0x104)
		return -EACCES;
	/* the extended capability list; 1024 dwords bound a looping one */
	for (int hops = 0; off >= 0x100 && off + 8 <= (unsigned)n && hops < 1024; hops++) {
		uint32_t hdr = (uint32_t)cfg[off] | (uint32_t)cfg[off + 1] << 8 |
			       (uint32_t)cfg[off + 2] << 16 | (uint32_t)cfg[off + 3] << 24;

		if (!hdr || hdr == 0xffffffffu)
			break;
		if ((hdr & 0xffff) == ZC_EXT_CAP_ACS) {
			uint16_t ctrl = (uint16_t)(cfg[off + ZC_ACS_CTRL] |
						   cfg[off + ZC_ACS_CTRL + 1] << 8);

			return (ctrl & ZC_ACS_REDIRECTS) != 0;
		}
		off = (hdr >> 20) & 0xffc;
	}
	return 0;
}

/* ---- the calls ---------------------------------------------------------- */

int zc_pci_open(const char *dump, struct zc_pci **out, char *reason,
		size_t len)
{
	struct zc_pci *p = calloc(1, sizeof(*p));
	int ret;

	if (!p) {
		snprintf(reason, len, "out of memory");
		return -ENOMEM;
	}
	if (dump) {
		ret = dump_open(dump, &p->dump, reason, len);
		if (ret) {
			free(p);
			return ret;
		}
	}
	*out = p;
	return 0;
}

void zc_pci_close(struct zc_pci *p)
{
	if (!p)
		return;
	if (p->dump)
		dump_close(p->dump);
	free(p);
}

int zc_pci_name(struct zc_pci *p, const char *bdf, char out[ZC_PCI_BDF_LEN])
{
	char dir[4096];

	if (p->dump)
		return dump_name(p->dump, bdf, out);
	if (live_dir(bdf, dir, sizeof(dir)))
		return -ENODEV;
	snprintf(out, ZC_PCI_BDF_LEN, "%s", bdf);
	return 0;
}

int zc_pci_acs_redirect(struct zc_pci *p, const char *bdf)
{
	return p->dump ? dump_acs_redirect(p->dump, bdf) : live_acs_redirect(bdf);
}

int zc_pci_upstream(struct zc_pci *p, const char *bdf,
		    char (*chain)[ZC_PCI_BDF_LEN], unsigned max)
{
	return p->dump ? dump_upstream(p->dump, bdf, chain, max) :
			 live_upstream(bdf, chain, max);
}
