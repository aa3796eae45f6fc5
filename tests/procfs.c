/* SPDX-License-Identifier: MIT */
/* Pin witnesses read from procfs: see procfs.h. */
#include "procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int64_t zt_vmstat(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char name[128];
	unsigned long long v;
	int64_t r = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %llu", name, &v) == 2) {
		if (strcmp(name, key) == 0) {
			r = (int64_t)v;
			break;
		}
	}
	fclose(f);
	return r;
}

/*
 * The nr_foll_pin_* counters are kept per CPU and folded into the global
 * figures of /proc/vmstat only now and then, so a read can be off by a few
 * pages either way, long enough to look like a leak (seen under qemu).
 * Writing vm.stat_refresh (root) folds them first; elsewhere the tests'
 * tolerances absorb the drift.
 */
static void vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* an error (EINVAL: some counter was negative) still folds */
		ssize_t n = write(fd, "1", 1);

		(void)n;
		close(fd);
	}
}

int64_t zt_pins_outstanding(void)
{
	int64_t a, r;

	vmstat_refresh();
	a = zt_vmstat("nr_foll_pin_acquired");
	r = zt_vmstat("nr_foll_pin_released");

	if (a < 0 || r < 0)
		return INT64_MIN;
	return a - r;
}

/* VmPin of a /proc/<pid>/status in kB: the pages the process keeps
 * registered with io_uring (fixed buffers) are accounted there; -1 if the
 * kernel does not say */
long zt_vm_pin_kb_of(const char *status)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen(status, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
