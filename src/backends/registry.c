/* SPDX-License-Identifier: MIT */
/*
 * The one list of backends. ZC_REGISTRY names the backends compiled into
 * this build, best first: selection tries the ones that accept a
 * registration in this order, and the last one is the floor that accepts
 * what no other does. Adding a backend is its file in src/backends/, one
 * line here and one in CMakeLists.txt; the core asks the ops table for
 * everything else.
 */
#include <stddef.h>
#include <string.h>

#include "../internal.h"

#if ZC_HAVE_IBVERBS
#define ZC_REGISTRY_ODP(X) X(odp_mr)
#else
#define ZC_REGISTRY_ODP(X)
#endif

#define ZC_REGISTRY(X)     \
	X(p2p_bar)         \
	ZC_REGISTRY_ODP(X) \
	X(pin_lease)       \
	X(uring_fixed)     \
	X(bounce)

#define ZC_DECLARE(name) extern const struct zc_backend_ops zc_##name##_ops;
ZC_REGISTRY(ZC_DECLARE)
#undef ZC_DECLARE

#define ZC_ENTRY(name) &zc_##name##_ops,
static const struct zc_backend_ops *const registry[] = { ZC_REGISTRY(ZC_ENTRY) };
#undef ZC_ENTRY

/* Every enum zc_backend has a name, built or not (ZC_BACKENDS, ZC_FAULT
 * and zc_backend_name accept them all). */
static const char *const backend_names[] = {
	[ZC_BACKEND_NONE] = "none",
	[ZC_BACKEND_P2P_BAR] = "p2p_bar",
	[ZC_BACKEND_ODP_MR] = "odp_mr",
	[ZC_BACKEND_PIN_LEASE] = "pin_lease",
	[ZC_BACKEND_URING_FIXED] = "uring_fixed",
	[ZC_BACKEND_BOUNCE] = "bounce",
};

const struct zc_backend_ops *zc_registry_at(unsigned i)
{
	return i < ZC_ARRAY_SIZE(registry) ? registry[i] : NULL;
}

const struct zc_backend_ops *zc_registry_ops(enum zc_backend b)
{
	for (unsigned i = 0; i < ZC_ARRAY_SIZE(registry); i++)
		if (registry[i]->id == b)
			return registry[i];
	return NULL;
}

enum zc_backend zc_registry_floor(void)
{
	return registry[ZC_ARRAY_SIZE(registry) - 1]->id;
}

const char *zc_registry_not_built(enum zc_backend b)
{
	switch (b) {
	case ZC_BACKEND_ODP_MR:
		return "not built: " ZC_WHY_NO_IBVERBS;
	default:
		return "not built";
	}
}

ZC_API const char *zc_backend_name(enum zc_backend b)
{
	if ((unsigned)b < ZC_ARRAY_SIZE(backend_names))
		return backend_names[b];
	return "unknown";
}

enum zc_backend zc_backend_from_name(const char *name, size_t len)
{
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (strlen(backend_names[b]) == len &&
		    !strncmp(backend_names[b], name, len))
			return (enum zc_backend)b;
	return ZC_BACKEND_NONE;
}
