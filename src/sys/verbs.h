/* SPDX-License-Identifier: MIT */
/*
 * libibverbs, loaded with dlopen when a backend first needs it: a library
 * without RDMA hardware or rdma-core installed must still load. The path
 * is $ZC_VERBS_LIB (ignored in set-uid programs; tests point it
 * elsewhere), else "libibverbs.so.1". Only the calls an MR backend needs
 * are resolved. Built only where the verbs headers are found.
 */
#ifndef ZC_SYS_VERBS_H
#define ZC_SYS_VERBS_H

#include <stddef.h>
#include <stdint.h>

#define ZC_VERBS_DEFAULT_LIB "libibverbs.so.1"

struct ibv_context;
struct ibv_device;
struct ibv_device_attr;
struct ibv_device_attr_ex;
struct ibv_mr;
struct ibv_pd;
struct ibv_sge;

struct zc_verbs {
	void *handle;
	struct ibv_device **(*get_device_list)(int *num_devices);
	void (*free_device_list)(struct ibv_device **list);
	const char *(*get_device_name)(struct ibv_device *device);
	struct ibv_context *(*open_device)(struct ibv_device *device);
	int (*close_device)(struct ibv_context *context);
	struct ibv_pd *(*alloc_pd)(struct ibv_context *context);
	int (*dealloc_pd)(struct ibv_pd *pd);
	/* ibv_reg_mr is a macro over this one in rdma-core's header: call it
	 * with iova = (uintptr_t)addr for a plain MR */
	struct ibv_mr *(*reg_mr_iova2)(struct ibv_pd *pd, void *addr,
				       size_t length, uint64_t iova,
				       unsigned int access);
	struct ibv_mr *(*reg_dmabuf_mr)(struct ibv_pd *pd, uint64_t offset,
					size_t length, uint64_t iova, int fd,
					int access);
	int (*dereg_mr)(struct ibv_mr *mr);
	/* the legacy path of zc_verbs_query_device_ex */
	int (*query_device)(struct ibv_context *context,
			    struct ibv_device_attr *attr);
};

/* Load the library and resolve every call above: 0, or -errno with a
 * reason naming the path and the dlopen/dlsym error. */
int zc_verbs_open(struct zc_verbs *v, char *reason, size_t len);
void zc_verbs_close(struct zc_verbs *v);
/* ibv_get_device_list: the count (> 0) with *list to free with
 * v->free_device_list, or -errno with a reason ("no RDMA device:
 * ibv_get_device_list: Function not implemented" where the kernel has no
 * RDMA). */
int zc_verbs_devices(const struct zc_verbs *v, struct ibv_device ***list,
		     char *reason, size_t len);
/* ibv_query_device_ex is an inline over the provider's ops in rdma-core's
 * header, not a symbol: this does what the inline does (the provider's
 * query_device_ex, else ibv_query_device). 0 or a positive errno, as
 * verbs returns it. */
int zc_verbs_query_device_ex(const struct zc_verbs *v,
			     struct ibv_context *context,
			     struct ibv_device_attr_ex *attr);

/* ibv_advise_mr is such an inline too (over the provider's advise_mr):
 * 0 or a positive errno, EOPNOTSUPP where the provider has none. advice
 * is an IBV_ADVISE_MR_ADVICE_* value. */
int zc_verbs_advise_mr(struct ibv_pd *pd, int advice, uint32_t flags,
		       struct ibv_sge *sg, uint32_t num_sge);

#endif /* ZC_SYS_VERBS_H */
