/* SPDX-License-Identifier: MIT */
/*
 * Names of the bits in zc_backend_info.caps and zc_file_info.flags: the
 * words zcinfo and the documentation use, kept here once so that every
 * program prints the same ones (as rdma-core's ibv_*_str do).
 */
#include "internal.h"

struct bit_name {
	uint64_t bit;
	const char *name;
};

/* Each table pairs a constant of zerocopy.h with its name, so that
 * neither depends on the order or the numbering of the bits. */
static const struct bit_name cap_names[] = {
	{ ZC_CAP_ZEROCOPY, "zerocopy" },
	{ ZC_CAP_MAP_FILE, "map_file" },
	{ ZC_CAP_RDMA, "rdma" },
	{ ZC_CAP_URING, "uring" },
	{ ZC_CAP_REVOCABLE, "revocable" },
	{ 0, NULL },
};

static const struct bit_name file_flag_names[] = {
	{ ZC_FILE_REGULAR, "regular" },
	{ ZC_FILE_BLOCKDEV, "blockdev" },
	{ ZC_FILE_READABLE, "readable" },
	{ ZC_FILE_WRITABLE, "writable" },
	{ ZC_FILE_DIRECT, "direct" },
	{ ZC_FILE_DAX, "dax" },
	{ ZC_FILE_SHMEM, "shmem" },
	{ ZC_FILE_LEASE_OK, "lease_ok" },
	{ 0, NULL },
};

/* Only an exact match: 0 and combinations of bits have no name. */
static const char *bit_name(const struct bit_name *t, uint64_t bit)
{
	for (; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return NULL;
}

ZC_API const char *zc_cap_name(uint64_t cap)
{
	return bit_name(cap_names, cap);
}

ZC_API const char *zc_file_flag_name(uint32_t flag)
{
	return bit_name(file_flag_names, flag);
}
