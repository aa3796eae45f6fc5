/* SPDX-License-Identifier: MIT */
/*
 * src/sys/pci.c through libpci's dump access method: tests/data/
 * pci-topology.dump is a root port (00:01.0, buses 1-3) above a switch's
 * upstream port (01:00.0, buses 2-3) and downstream port (02:01.0, bus 3)
 * with an NVMe controller at 03:00.0; 00:02.0 sits on the root bus.
 * Exits 0 when every check holds, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "seam_check.h"
#include "sys/pci.h"

int main(int argc, char **argv)
{
	char chain[4][ZC_PCI_BDF_LEN], reason[192];
	struct zc_pci *p = NULL;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DUMP\n", argv[0]);
		return 1;
	}
	n = zc_pci_open(argv[1], &p, reason, sizeof(reason));
	if (n) {
		fprintf(stderr, "zc_pci_open %s: %s\n", argv[1], reason);
		return 1;
	}
	/* the device: switch downstream port, upstream port, root port */
	n = zc_pci_upstream(p, "0000:03:00.0", chain, 4);
	CHECK(n == 3);
	CHECK(n >= 1 && !strcmp(chain[0], "0000:02:01.0"));
	CHECK(n >= 2 && !strcmp(chain[1], "0000:01:00.0"));
	CHECK(n >= 3 && !strcmp(chain[2], "0000:00:01.0"));
	/* the count goes on past max; domain 0 may be left out */
	CHECK(zc_pci_upstream(p, "03:00.0", chain, 1) == 3);
	CHECK(!strcmp(chain[0], "0000:02:01.0"));
	/* a bridge's own chain, and a function on the root bus */
	CHECK(zc_pci_upstream(p, "0000:01:00.0", chain, 4) == 1);
	CHECK(!strcmp(chain[0], "0000:00:01.0"));
	CHECK(zc_pci_upstream(p, "0000:00:02.0", chain, 4) == 0);
	/* absent and malformed functions */
	CHECK(zc_pci_upstream(p, "0000:04:00.0", chain, 4) == -ENODEV);
	CHECK(zc_pci_upstream(p, "not-a-bdf", chain, 4) == -ENODEV);
	zc_pci_close(p);

	/* a dump that is not there: a reason, not libpci's exit() */
	p = NULL;
	n = zc_pci_open("/nonexistent/pci.dump", &p, reason, sizeof(reason));
	CHECK(n == -ENOENT && !p);
	CHECK(strstr(reason, "/nonexistent/pci.dump") != NULL);
	if (!failed)
		printf("pci: upstream chains from the dump as expected\n");
	return failed;
}
