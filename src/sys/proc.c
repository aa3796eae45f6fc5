/* SPDX-License-Identifier: MIT */
/* Facts about this process and the kernel's settings, read from procfs. */
#include <errno.h>
#include <stdio.h>

#include "sys/proc.h"

int zc_proc_read_int(const char *path, int *val)
{
	FILE *f = fopen(path, "re");
	int ret = -ENOENT;

	if (f) {
		ret = fscanf(f, "%d", val) == 1 ? 0 : -EIO;
		fclose(f);
	}
	return ret;
}

bool zc_proc_has_cap(unsigned cap)
{
	FILE *fp = fopen("/proc/self/status", "re");
	unsigned long long caps = 0;
	char line[256];
	bool found = false;

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof line, fp))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(fp);
	return found && cap < 64 && (caps >> cap) & 1;
}
