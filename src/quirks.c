/* SPDX-License-Identifier: MIT */
/* The table of device quirks (see quirks.h). */
#include <string.h>

#include "quirks.h"

/* rxe's vendor_id in ibv_query_device (RXE_VENDOR_ID in the kernel) */
#define ZC_RXE_VENDOR_ID 0xffffffu

static const struct zc_quirk quirks[] = {
	{
		.name = "rxe-odp-subpage",
		.name_prefix = "rxe",
		.vendor_id = ZC_RXE_VENDOR_ID,
		.what = ZC_QUIRK_ODP_REMOTE,
		.reason = "RDMA at sub-page offsets of ODP MRs hits wrong bytes "
			  "(a peer could corrupt them); ZC_QUIRKS=ignore:"
			  "rxe-odp-subpage if peers stay page-aligned at MTU 4096",
		.seen_on = "7.3.4+deb13-amd64",
	},
};

const struct zc_quirk *zc_quirk_at(unsigned i)
{
	return i < sizeof(quirks) / sizeof(quirks[0]) ? &quirks[i] : NULL;
}

int zc_quirk_index(const char *name, size_t len)
{
	for (unsigned i = 0; zc_quirk_at(i); i++)
		if (strlen(quirks[i].name) == len && !strncmp(quirks[i].name, name, len))
			return (int)i;
	return -1;
}

int zc_quirk_applies(const struct zc_quirk *q, const char *device,
		     uint32_t vendor_id)
{
	if (q->vendor_id && vendor_id == q->vendor_id)
		return 1;
	return device && q->name_prefix &&
	       !strncmp(device, q->name_prefix, strlen(q->name_prefix));
}

const struct zc_quirk *zc_quirk_match(const char *device, uint32_t vendor_id,
				      unsigned what, uint64_t ignored)
{
	for (unsigned i = 0; zc_quirk_at(i); i++)
		if ((quirks[i].what & what) && !(ignored & (UINT64_C(1) << i)) &&
		    zc_quirk_applies(&quirks[i], device, vendor_id))
			return &quirks[i];
	return NULL;
}
