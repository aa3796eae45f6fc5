/* SPDX-License-Identifier: MIT */
/* PCI topology through libpci (see sys/pci.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pci/pci.h>

#include "sys/pci.h"

struct zc_pci {
	struct pci_access *acc;
};

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

int zc_pci_open(const char *dump, struct zc_pci **out, char *reason,
		size_t len)
{
	struct zc_pci *p = calloc(1, sizeof(*p));
	int ret;

	if (!p || !(p->acc = pci_alloc())) {
		free(p);
		snprintf(reason, len, "libpci: out of memory");
		return -ENOMEM;
	}
	p->acc->error = pci_error;
	p->acc->warning = pci_quiet;
	p->acc->debug = pci_quiet;
	if (dump) {
		/* checked first: libpci's own message would only say "dump" */
		if (access(dump, R_OK)) {
			ret = -errno;
			snprintf(reason, len, "PCI dump %s: %s", dump, strerror(-ret));
			pci_cleanup(p->acc);
			free(p);
			return ret;
		}
		p->acc->method = PCI_ACCESS_DUMP;
		pci_set_param(p->acc, "dump.name", (char *)dump);
	}
	ret = init_and_scan(p->acc, reason, len);
	if (ret) {
		pci_cleanup(p->acc); /* safe after a failed init: nothing scanned */
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void zc_pci_close(struct zc_pci *p)
{
	if (!p)
		return;
	pci_cleanup(p->acc);
	free(p);
}

static struct pci_dev *find(struct zc_pci *p, int domain, int bus, int dev,
			    int func)
{
	for (struct pci_dev *d = p->acc->devices; d; d = d->next)
		if (d->domain == domain && d->bus == bus && d->dev == dev &&
		    d->func == func)
			return d;
	return NULL;
}

/* the bridge whose secondary bus is bus, in domain; NULL at a root bus */
static struct pci_dev *bridge_to(struct zc_pci *p, int domain, int bus)
{
	for (struct pci_dev *d = p->acc->devices; d; d = d->next)
		if (d->domain == domain &&
		    (pci_read_byte(d, PCI_HEADER_TYPE) & 0x7f) == PCI_HEADER_TYPE_BRIDGE &&
		    pci_read_byte(d, PCI_SECONDARY_BUS) == bus)
			return d;
	return NULL;
}

/* the function bdf names ("dddd:bb:dd.f" or "bb:dd.f"); NULL if none */
static struct pci_dev *lookup(struct zc_pci *p, const char *bdf)
{
	unsigned domain = 0, bus, dev, func;

	if (sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &dev, &func) != 4) {
		domain = 0;
		if (sscanf(bdf, "%x:%x.%x", &bus, &dev, &func) != 3)
			return NULL;
	}
	return find(p, (int)domain, (int)bus, (int)dev, (int)func);
}

static void name(struct pci_dev *d, char out[ZC_PCI_BDF_LEN])
{
	snprintf(out, ZC_PCI_BDF_LEN, "%04x:%02x:%02x.%x",
		 (unsigned)d->domain, d->bus, d->dev, d->func);
}

int zc_pci_name(struct zc_pci *p, const char *bdf, char out[ZC_PCI_BDF_LEN])
{
	struct pci_dev *d = lookup(p, bdf);

	if (!d)
		return -ENODEV;
	name(d, out);
	return 0;
}

int zc_pci_acs_redirect(struct zc_pci *p, const char *bdf)
{
	struct pci_dev *d = lookup(p, bdf);
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

int zc_pci_upstream(struct zc_pci *p, const char *bdf,
		    char (*chain)[ZC_PCI_BDF_LEN], unsigned max)
{
	struct pci_dev *d = lookup(p, bdf);
	unsigned n = 0;

	if (!d)
		return -ENODEV;
	/* 256 bus numbers per domain: a longer walk is a loop in a bad dump */
	while (n < 256 && (d = bridge_to(p, d->domain, d->bus))) {
		if (n < max)
			name(d, chain[n]);
		n++;
	}
	return (int)n;
}
