/* SPDX-License-Identifier: MIT */
/*
 * src/sys/verbs.c against the real libibverbs of this machine, and with
 * ZC_VERBS_LIB pointing at a library that is absent or is not verbs.
 * Exits 0 when every check holds, 1 otherwise, 77 (skip) when rdma-core
 * is not installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seam_check.h"
#include "sys/verbs.h"

/* the real library: devices, or a reason that names the call and errno */
static int real_library(void)
{
	struct ibv_device **list;
	struct zc_verbs v;
	char reason[192];
	int n;

	unsetenv("ZC_VERBS_LIB");
	if (zc_verbs_open(&v, reason, sizeof(reason))) {
		printf("SKIP: %s\n", reason);
		return 77;
	}
	CHECK(v.get_device_list && v.reg_mr_iova2 && v.reg_dmabuf_mr &&
	      v.query_device && v.get_device_name);
	n = zc_verbs_devices(&v, &list, reason, sizeof(reason));
	printf("verbs: %s\n", reason);
	if (n > 0) {
		for (int i = 0; i < n; i++)
			CHECK(v.get_device_name(list[i]) != NULL);
		v.free_device_list(list);
	} else {
		CHECK(list == NULL);
		CHECK(!strncmp(reason, "no RDMA device: ibv_get_device_list", 35));
		CHECK(strstr(reason, strerror(-n)) != NULL ||
		      (n == -ENODEV && strstr(reason, "found none")));
	}
	zc_verbs_close(&v);
	CHECK(v.handle == NULL);
	return 0;
}

static void redirected(const char *path, int want, const char *in_reason)
{
	struct zc_verbs v;
	char reason[192] = "";
	int ret;

	setenv("ZC_VERBS_LIB", path, 1);
	ret = zc_verbs_open(&v, reason, sizeof(reason));
	printf("ZC_VERBS_LIB=%s: %s\n", path, reason);
	CHECK(ret == want);
	CHECK(strstr(reason, path) != NULL);
	CHECK(strstr(reason, in_reason) != NULL);
	CHECK(v.handle == NULL && v.get_device_list == NULL);
}

int main(void)
{
	int ret = real_library();

	if (ret)
		return ret;
	redirected("/nonexistent/libibverbs.so.1", -ENOENT, "dlopen");
	/* a real library that is not verbs */
	redirected("libm.so.6", -ENOSYS, "lacks ibv_get_device_list");
	return failed;
}
