/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed inputs of fuzz_params (struct bytes, so they follow the
 * header's layout on this machine) into the directory given:
 *
 *   build-fuzz/tests/fuzz/fuzz_params_seeds tests/fuzz/corpus/params
 *
 * Run it again after zc_ctx_params or zc_reg_params grows, and commit the
 * files (regression inputs found by fuzzing are kept as they are).
 */
#include <stdio.h>
#include <string.h>

#include <zerocopy.h>

struct seed {
	const char *name;
	struct zc_ctx_params cp;
	struct zc_reg_params rp;
	unsigned char sel[4]; /* addr kind, dmabuf_fd kind, open mode, I/O:
			       * see fuzz_params.c */
	const char *env;      /* "ZC_BACKENDS\nZC_LOG\nZC_FAULT" */
};

#define REG_BUF (ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH)
#define REG_MAP (ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS)

static const struct seed seeds[] = {
	{ "seed-defaults-buffer", { 0 }, { REG_BUF, 0, 4096 }, { 1, 0, 0, 3 }, "" },
	{ "seed-map-file-rdwr", { 0 }, { REG_MAP, 0, 8192, 0, 0, ZC_REG_MAP_FILE },
	  { 0, 0, 0, 1 }, "" },
	{ "seed-map-file-offset", { 0 },
	  { REG_MAP | ZC_REG_FIELD_FILE_OFFSET, 0, 4096, 4096, 0, ZC_REG_MAP_FILE },
	  { 0, 0, 0, 0 }, "" },
	{ "seed-map-file-past-eof", { 0 }, { REG_MAP, 0, 1u << 20, 0, 0, ZC_REG_MAP_FILE },
	  { 0, 0, 0, 0 }, "" },
	{ "seed-require-zerocopy-bounce-only",
	  { ZC_CTX_FIELD_BACKENDS, ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE) },
	  { REG_BUF | ZC_REG_FIELD_FLAGS, 0, 4096, 0, 0, ZC_REG_REQUIRE_ZEROCOPY },
	  { 1, 0, 0, 0 }, "" },
	{ "seed-disk-direct-unaligned", { 0 }, { REG_BUF, (void *)3, 8192 },
	  { 1, 0, 12, 3 | 8 }, "" },
	{ "seed-no-uring-direct",
	  { ZC_CTX_FIELD_FLAGS | ZC_CTX_FIELD_QUEUE_DEPTH, 0, NULL, 8, 0, 0,
	    ZC_CTX_NO_URING },
	  { REG_BUF, 0, 8192 }, { 1, 0, 4, 3 }, "" },
	{ "seed-all-ctx-fields",
	  { ZC_CTX_FIELD_BACKENDS | ZC_CTX_FIELD_QUEUE_DEPTH | ZC_CTX_FIELD_BOUNCE_BYTES |
		    ZC_CTX_FIELD_NUMA_NODE | ZC_CTX_FIELD_FLAGS | ZC_CTX_FIELD_LOG_LEVEL |
		    ZC_CTX_FIELD_LEASE_SIGNAL,
	    ZC_BACKENDS_ALL, NULL, 4096, 1u << 20, 0, 0, NULL, NULL, ZC_LOG_DEBUG, 40 },
	  { REG_BUF | ZC_REG_FIELD_ACCESS, 0, 65536, 0, ZC_ACCESS_READ }, { 1, 0, 1, 1 },
	  "" },
	{ "seed-bad-ctx-mask", { UINT64_C(1) << 40 }, { REG_BUF, 0, 4096 }, { 1, 0, 0, 0 },
	  "" },
	{ "seed-unmapped-addr", { 0 }, { REG_BUF, 0, 4096 }, { 2, 0, 0, 0 }, "" },
	{ "seed-wrapping-addr", { 0 }, { REG_BUF, 0, 1u << 16 }, { 3, 0, 0, 0 }, "" },
	{ "seed-dmabuf", { 0 },
	  { REG_BUF | ZC_REG_FIELD_MEM_TYPE | ZC_REG_FIELD_DMABUF_FD, 0, 4096, 0, 0, 0,
	    ZC_MEM_DMABUF },
	  { 1, 1, 0, 0 }, "" },
	{ "seed-env-backends", { 0 }, { REG_BUF, 0, 4096 }, { 1, 0, 0, 3 },
	  "^uring_fixed,pin_lease\ninfo" },
	{ "seed-env-fault-alloc", { 0 }, { REG_MAP, 0, 8192, 0, 0, ZC_REG_MAP_FILE },
	  { 0, 0, 0, 3 }, "\ndebug\nbounce:alloc:ENOMEM,pin_lease:lease:EAGAIN" },
	{ "seed-env-fault-ring", { 0 }, { REG_BUF, 0, 4096 }, { 1, 0, 0, 3 },
	  "all\nwarn\ncore:ring_setup:EPERM,uring_fixed:register:ENOMEM:2" },
	{ "seed-env-fault-mmap", { 0 }, { REG_MAP, 0, 4096, 0, 0, ZC_REG_MAP_FILE },
	  { 0, 0, 0, 1 }, "\n\ncore:mmap:ENOMEM,core:statx:EIO" },
	{ "seed-env-bad", { 0 }, { REG_BUF, 0, 4096 }, { 1, 0, 0, 0 }, "bogus\n9\nx:y" },
	{ "seed-write-only", { 0 }, { REG_BUF | ZC_REG_FIELD_ACCESS, 0, 4096, 0, ZC_ACCESS_WRITE },
	  { 1, 0, 2, 2 }, "" },
	/* regression inputs (README.md, "Findings"): a bounce_bytes of 2^49
	 * makes zc_ctx_create() calloc an 8 GiB staging table; 2^52 leaves
	 * the table with 0 chunks and an O_DIRECT read through staging
	 * (unaligned memory) waits for a free chunk forever */
	{ "regress-bounce-bytes-2e49-staging-table",
	  { ZC_CTX_FIELD_BOUNCE_BYTES, 0, NULL, 0, (size_t)1 << 49 },
	  { REG_BUF, (void *)1, 8192 }, { 1, 0, 4, 1 }, "" },
	{ "regress-bounce-bytes-2e52-staging-hang",
	  { ZC_CTX_FIELD_BOUNCE_BYTES, 0, NULL, 0, (size_t)1 << 52 },
	  { REG_BUF, (void *)1, 8192 }, { 1, 0, 12, 1 | 4 }, "" },
};

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		const struct seed *s = &seeds[i];
		FILE *f;

		snprintf(path, sizeof path, "%s/%s", argv[1], s->name);
		f = fopen(path, "wb");
		if (!f) {
			perror(path);
			return 1;
		}
		fwrite(&s->cp, sizeof s->cp, 1, f);
		fwrite(&s->rp, sizeof s->rp, 1, f);
		fwrite(s->sel, sizeof s->sel, 1, f);
		fwrite(s->env, strlen(s->env), 1, f);
		if (fclose(f)) {
			perror(path);
			return 1;
		}
	}
	printf("%zu seeds written to %s\n", sizeof seeds / sizeof seeds[0], argv[1]);
	return 0;
}
