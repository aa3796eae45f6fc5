/* SPDX-License-Identifier: MIT */
/*
 * Device defects ("quirks") the library works around, one table entry
 * each: which device, what the library does instead, and where the defect
 * was measured, so that a newer kernel that fixes it can bound the entry.
 * A user who knows the defect cannot hit them lifts an entry with
 * ZC_QUIRKS=ignore:NAME (parsed by zc_parse_quirks in env.c).
 */
#ifndef ZC_QUIRKS_H
#define ZC_QUIRKS_H

#include <stddef.h>
#include <stdint.h>

/* what kind of use an entry restricts */
#define ZC_QUIRK_ODP_REMOTE (1u << 0) /* ODP MRs a remote peer may access */

struct zc_quirk {
	const char *name;
	/* the device: its ibv device name starts with name_prefix, or its
	 * vendor_id is vendor_id (0: not used) */
	const char *name_prefix;
	uint32_t vendor_id;
	unsigned what;      /* ZC_QUIRK_* */
	const char *reason; /* in words a user can act on */
	const char *seen_on; /* the kernel it was measured on */
};

/* the i-th entry, NULL past the end */
const struct zc_quirk *zc_quirk_at(unsigned i);
/* the index of the entry named [name, +len), -1 if none */
int zc_quirk_index(const char *name, size_t len);
/* the first entry for `what` on the device (name, vendor_id) that the
 * bit set `ignored` (bit i: entry i) does not lift; NULL if none */
const struct zc_quirk *zc_quirk_match(const char *device, uint32_t vendor_id,
				      unsigned what, uint64_t ignored);
/* does entry q apply to the device (name, vendor_id), lifted or not */
int zc_quirk_applies(const struct zc_quirk *q, const char *device,
		     uint32_t vendor_id);

#endif /* ZC_QUIRKS_H */
