/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for libibverbs on machines without RDMA hardware, loaded by
 * the library through ZC_VERBS_LIB. It exports the calls src/sys/verbs.c
 * resolves, with rdma-core's struct layouts (its contexts are real
 * struct verbs_context, so the header's inline ops path, which the
 * library follows for ibv_query_device_ex and ibv_advise_mr, reaches
 * them), and keeps count of what is live so tests can check for leaks.
 *
 * Read at each ibv_get_device_list (tests change them between cases):
 *   FAKE_VERBS_LIST_ERRNO=ENOSYS   ibv_get_device_list fails so
 *   FAKE_VERBS_DEVICE=rxe0         the one device's name (default fake0)
 *   FAKE_VERBS_VENDOR=0xffffff     its vendor_id (default 0x1234)
 *   FAKE_VERBS_ODP=none|odp|implicit   general caps (default odp)
 *   FAKE_VERBS_RC_CAPS=0xff        rc_odp_caps (default 0xff)
 *   FAKE_VERBS_REG_ERRNO=EAGAIN[:N]    ibv_reg_mr fails (N times, then works)
 *   FAKE_VERBS_ADVISE_ERRNO=EOPNOTSUPP ibv_advise_mr fails so (as on rxe)
 *   FAKE_VERBS_DMABUF=ok           ibv_reg_dmabuf_mr works (default: it
 *                                  fails with EOPNOTSUPP, as on rxe)
 * Like the real one, ibv_reg_mr refuses IBV_ACCESS_ON_DEMAND on a device
 * without ODP, REMOTE_WRITE without LOCAL_WRITE, and unmapped memory.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "fake_verbs.h"

#undef ibv_get_device_list
#undef ibv_reg_mr

#define FV_API __attribute__((visibility("default")))

static _Atomic int live_mrs, live_pds, live_ctxs, reg_calls;
static _Atomic int reg_failures_left; /* -1: every call fails */
static int reg_errno, advise_errno;
static uint64_t odp_general;
static uint32_t rc_caps, vendor_id;
static unsigned last_access;
static int last_dmabuf_fd = -1;
static _Atomic uint32_t next_key = 0x100; /* lkeys of ibv_reg_mr and ibv_reg_dmabuf_mr */
static const void *_Atomic last_pd;
static _Atomic int advise_calls;
static struct {
	int advice;
	unsigned flags;
	struct ibv_sge sge;
} last_advise;
static struct ibv_device device;

static int env_errno(const char *name, int *count)
{
	const char *s = getenv(name);
	static const struct { const char *n; int e; } names[] = {
		{ "EAGAIN", EAGAIN }, { "EIO", EIO }, { "ENOMEM", ENOMEM },
		{ "EFAULT", EFAULT }, { "EINVAL", EINVAL }, { "ENOSYS", ENOSYS },
		{ "EOPNOTSUPP", EOPNOTSUPP }, { "EPERM", EPERM },
	};

	*count = -1;
	if (!s || !*s)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t l = strlen(names[i].n);

		if (strncmp(s, names[i].n, l))
			continue;
		if (s[l] == ':')
			*count = atoi(s + l + 1);
		return names[i].e;
	}
	fprintf(stderr, "fake_verbs: %s=%s: unknown errno\n", name, s);
	abort();
}

static void configure(void)
{
	const char *s = getenv("FAKE_VERBS_ODP");
	int n;

	odp_general = IBV_ODP_SUPPORT;
	if (s && !strcmp(s, "none"))
		odp_general = 0;
	else if (s && !strcmp(s, "implicit"))
		odp_general |= IBV_ODP_SUPPORT_IMPLICIT;
	s = getenv("FAKE_VERBS_RC_CAPS");
	rc_caps = s ? (uint32_t)strtoul(s, NULL, 0) : 0xff;
	s = getenv("FAKE_VERBS_VENDOR");
	vendor_id = s ? (uint32_t)strtoul(s, NULL, 0) : 0x1234;
	reg_errno = env_errno("FAKE_VERBS_REG_ERRNO", &n);
	atomic_store(&reg_failures_left, n);
	advise_errno = env_errno("FAKE_VERBS_ADVISE_ERRNO", &n);
	s = getenv("FAKE_VERBS_DEVICE");
	snprintf(device.name, sizeof(device.name), "%s", s && *s ? s : "fake0");
	device.node_type = IBV_NODE_CA;
	device.transport_type = IBV_TRANSPORT_IB;
}

FV_API struct ibv_device **ibv_get_device_list(int *num)
{
	struct ibv_device **list;
	int n, err = env_errno("FAKE_VERBS_LIST_ERRNO", &n);

	if (err) {
		errno = err;
		return NULL;
	}
	configure();
	list = calloc(2, sizeof(*list));
	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	list[0] = &device;
	if (num)
		*num = 1;
	return list;
}

FV_API void ibv_free_device_list(struct ibv_device **list)
{
	free(list);
}

FV_API const char *ibv_get_device_name(struct ibv_device *dev)
{
	return dev->name;
}

static int fake_query_device_ex(struct ibv_context *c,
				const struct ibv_query_device_ex_input *in,
				struct ibv_device_attr_ex *attr, size_t size)
{
	(void)c;
	(void)in;
	if (size < sizeof(*attr))
		return EINVAL;
	memset(attr, 0, size);
	attr->orig_attr.vendor_id = vendor_id;
	attr->orig_attr.max_mr_size = UINT64_MAX;
	attr->odp_caps.general_caps = odp_general;
	attr->odp_caps.per_transport_caps.rc_odp_caps = rc_caps;
	return 0;
}

static int fake_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice advice,
			  uint32_t flags, struct ibv_sge *sg, uint32_t n)
{
	(void)pd;
	atomic_fetch_add(&advise_calls, 1);
	if (!n || !sg || advice > IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT)
		return EINVAL;
	last_advise.advice = (int)advice;
	last_advise.flags = flags;
	last_advise.sge = sg[n - 1];
	return advise_errno;
}

FV_API struct ibv_context *ibv_open_device(struct ibv_device *dev)
{
	struct verbs_context *v = calloc(1, sizeof(*v));

	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	v->sz = sizeof(*v);
	v->query_device_ex = fake_query_device_ex;
	v->advise_mr = fake_advise_mr;
	v->context.device = dev;
	v->context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	v->context.cmd_fd = -1;
	v->context.async_fd = -1;
	atomic_fetch_add(&live_ctxs, 1);
	return &v->context;
}

FV_API int ibv_close_device(struct ibv_context *c)
{
	atomic_fetch_sub(&live_ctxs, 1);
	free(verbs_get_ctx(c));
	return 0;
}

FV_API int ibv_query_device(struct ibv_context *c, struct ibv_device_attr *attr)
{
	(void)c;
	memset(attr, 0, sizeof(*attr));
	attr->vendor_id = vendor_id;
	return 0;
}

FV_API struct ibv_pd *ibv_alloc_pd(struct ibv_context *c)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	pd->context = c;
	atomic_fetch_add(&live_pds, 1);
	return pd;
}

FV_API int ibv_dealloc_pd(struct ibv_pd *pd)
{
	atomic_fetch_sub(&live_pds, 1);
	free(pd);
	return 0;
}

/* the memory must be mapped, as a real registration would find */
static int mapped(void *addr, size_t len)
{
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t base = (uintptr_t)addr & ~(page - 1);
	size_t span = ((uintptr_t)addr + len - base + page - 1) & ~(page - 1);
	unsigned char *vec = malloc(span / page);
	int ok = vec && !mincore((void *)base, span, vec);

	free(vec);
	return ok;
}

/* a live MR with the next key pair */
static struct ibv_mr *new_mr(struct ibv_pd *pd, uint64_t iova, size_t length)
{
	struct ibv_mr *mr = calloc(1, sizeof(*mr));

	if (!mr) {
		errno = ENOMEM;
		return NULL;
	}
	*mr = (struct ibv_mr){ .context = pd->context, .pd = pd,
			       .addr = (void *)(uintptr_t)iova, .length = length,
			       .lkey = atomic_fetch_add(&next_key, 1) };
	mr->rkey = mr->lkey | 0x80000000u;
	atomic_fetch_add(&live_mrs, 1);
	return mr;
}

FV_API struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
				       size_t length, uint64_t iova,
				       unsigned int access)
{
	int left;

	atomic_fetch_add(&reg_calls, 1);
	last_access = access;
	last_pd = pd;
	left = atomic_load(&reg_failures_left);
	if (reg_errno && (left < 0 || (left > 0 &&
				       atomic_fetch_sub(&reg_failures_left, 1) > 0))) {
		errno = reg_errno;
		return NULL;
	}
	if (((access & IBV_ACCESS_ON_DEMAND) && !(odp_general & IBV_ODP_SUPPORT)) ||
	    ((access & IBV_ACCESS_REMOTE_WRITE) && !(access & IBV_ACCESS_LOCAL_WRITE)) ||
	    !length) {
		errno = EINVAL;
		return NULL;
	}
	if (!mapped(addr, length)) {
		errno = EFAULT;
		return NULL;
	}
	return new_mr(pd, iova, length);
}

FV_API struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t off,
					size_t len, uint64_t iova, int fd,
					int access)
{
	const char *s = getenv("FAKE_VERBS_DMABUF");
	struct ibv_mr *mr;

	(void)off;
	if (!s || strcmp(s, "ok")) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	/* like the kernel: the fd must be open, remote write needs local */
	if (fd < 0 || ((access & IBV_ACCESS_REMOTE_WRITE) &&
		       !(access & IBV_ACCESS_LOCAL_WRITE))) {
		errno = fd < 0 ? EBADF : EINVAL;
		return NULL;
	}
	mr = new_mr(pd, iova, len);
	if (mr) {
		last_access = (unsigned)access;
		last_dmabuf_fd = fd;
	}
	return mr;
}

FV_API int ibv_dereg_mr(struct ibv_mr *mr)
{
	atomic_fetch_sub(&live_mrs, 1);
	free(mr);
	return 0;
}

FV_API void fake_verbs_live(struct fake_verbs_live *out)
{
	*out = (struct fake_verbs_live){
		.contexts = atomic_load(&live_ctxs), .pds = atomic_load(&live_pds),
		.mrs = atomic_load(&live_mrs), .reg_calls = atomic_load(&reg_calls),
		.last_access = last_access, .last_pd = last_pd,
		.advise_calls = atomic_load(&advise_calls),
		.last_dmabuf_fd = last_dmabuf_fd,
		.last_advice = last_advise.advice,
		.last_advise_flags = last_advise.flags,
		.last_sge_addr = last_advise.sge.addr,
		.last_sge_length = last_advise.sge.length,
		.last_sge_lkey = last_advise.sge.lkey,
	};
}
