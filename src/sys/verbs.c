/* SPDX-License-Identifier: MIT */
/* libibverbs loaded with dlopen (see sys/verbs.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "sys/verbs.h"

/* every call of struct zc_verbs, by symbol name and place */
#define ZC_VERBS_SYM(field, name) { name, offsetof(struct zc_verbs, field) }
static const struct {
	const char *name;
	size_t off;
} syms[] = {
	ZC_VERBS_SYM(get_device_list, "ibv_get_device_list"),
	ZC_VERBS_SYM(free_device_list, "ibv_free_device_list"),
	ZC_VERBS_SYM(get_device_name, "ibv_get_device_name"),
	ZC_VERBS_SYM(open_device, "ibv_open_device"),
	ZC_VERBS_SYM(close_device, "ibv_close_device"),
	ZC_VERBS_SYM(alloc_pd, "ibv_alloc_pd"),
	ZC_VERBS_SYM(dealloc_pd, "ibv_dealloc_pd"),
	ZC_VERBS_SYM(reg_mr_iova2, "ibv_reg_mr_iova2"),
	ZC_VERBS_SYM(reg_dmabuf_mr, "ibv_reg_dmabuf_mr"),
	ZC_VERBS_SYM(dereg_mr, "ibv_dereg_mr"),
	ZC_VERBS_SYM(query_device, "ibv_query_device"),
};

/* glibc keeps the last dl error (two blocks) until dlerror() has both
 * reported and then been asked again: let it go, so that a failed open
 * leaves nothing allocated behind */
static void dl_error_release(void)
{
	(void)dlerror();
	(void)dlerror();
}

int zc_verbs_open(struct zc_verbs *v, char *reason, size_t len)
{
	const char *path = secure_getenv("ZC_VERBS_LIB");

	memset(v, 0, sizeof(*v));
	if (!path || !*path)
		path = ZC_VERBS_DEFAULT_LIB;
	v->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!v->handle) {
		snprintf(reason, len, "rdma-core not loadable: dlopen %s: %s",
			 path, dlerror());
		dl_error_release();
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *fn = dlsym(v->handle, syms[i].name);

		if (!fn) {
			snprintf(reason, len, "%s lacks %s (not libibverbs, or rdma-core too old)",
				 path, syms[i].name);
			dl_error_release();
			zc_verbs_close(v);
			return -ENOSYS;
		}
		/* POSIX: a function pointer may be stored as a data pointer */
		memcpy((char *)v + syms[i].off, &fn, sizeof(fn));
	}
	snprintf(reason, len, "%s loaded", path);
	return 0;
}

void zc_verbs_close(struct zc_verbs *v)
{
	if (v->handle)
		dlclose(v->handle);
	memset(v, 0, sizeof(*v));
}

int zc_verbs_devices(const struct zc_verbs *v, struct ibv_device ***list,
		     char *reason, size_t len)
{
	int n = 0;

	errno = 0;
	*list = v->get_device_list(&n);
	if (!*list) {
		int err = errno ? errno : EIO;

		snprintf(reason, len, "no RDMA device: ibv_get_device_list: %s%s",
			 strerror(err), err == ENOSYS ?
			 " (the kernel has no RDMA support)" : "");
		return -err;
	}
	if (n <= 0) {
		v->free_device_list(*list);
		*list = NULL;
		snprintf(reason, len, "no RDMA device: ibv_get_device_list found none");
		return -ENODEV;
	}
	snprintf(reason, len, "%d RDMA device%s", n, n > 1 ? "s" : "");
	return n;
}

int zc_verbs_query_device_ex(const struct zc_verbs *v,
			     struct ibv_context *context,
			     struct ibv_device_attr_ex *attr)
{
	struct verbs_context *vctx = verbs_get_ctx_op(context, query_device_ex);
	int ret;

	if (vctx) {
		ret = vctx->query_device_ex(context, NULL, attr, sizeof(*attr));
		if (ret != EOPNOTSUPP && ret != ENOSYS)
			return ret;
	}
	memset(attr, 0, sizeof(*attr));
	return v->query_device(context, &attr->orig_attr);
}

int zc_verbs_advise_mr(struct ibv_pd *pd, int advice, uint32_t flags,
		       struct ibv_sge *sg, uint32_t num_sge)
{
	struct verbs_context *vctx = verbs_get_ctx_op(pd->context, advise_mr);

	if (!vctx)
		return EOPNOTSUPP;
	return vctx->advise_mr(pd, (enum ibv_advise_mr_advice)advice, flags, sg,
			       num_sge);
}
