/* SPDX-License-Identifier: MIT */
/*
 * ZC_BACKENDS and ZC_QUIRKS: zc_parse_backends() and zc_parse_quirks() as
 * zc_ctx_create() calls them on the environment variables (both are
 * comma lists of names), and zc_backend_from_name() on raw bytes.
 *
 * Input: byte 0 = size of the error buffer (0..95), the rest = the value.
 */
#include "fuzz_common.h"
#include "internal.h"
#include "quirks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t sentinel = UINT64_C(0x5a5a5a5a5a5a5a5a);
	size_t errlen = size ? data[0] % 96 : 0;
	uint64_t set = sentinel, quirks = sentinel;
	enum zc_backend b;
	char *s, *err;
	int rc;

	if (size) {
		data++;
		size--;
	}
	s = fuzz_strndup(data, size);
	err = fuzz_errbuf(errlen);
	rc = zc_parse_backends(s, &set, err, errlen);
	if (rc == 0) {
		/* a non-empty subset of the known backends */
		FUZZ_CHECK(set != 0 && set != sentinel);
		FUZZ_CHECK(!(set & ~ZC_BACKENDS_ALL));
	} else {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(set == sentinel); /* out written only on success */
		if (errlen) /* the offending token, terminated inside err */
			FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	}

	/* ZC_QUIRKS: bits only for entries of the table */
	if (errlen) /* what the previous parser wrote must not count */
		memset(err, 0x5a, errlen);
	rc = zc_parse_quirks(s, &quirks, err, errlen);
	if (rc == 0) {
		unsigned n = 0;

		while (zc_quirk_at(n))
			n++;
		FUZZ_CHECK(!(quirks >> n));
	} else {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(quirks == sentinel);
		if (errlen)
			FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	}

	/* the name lookup reads exactly len bytes, no terminator */
	b = zc_backend_from_name((const char *)data, size);
	if (b != ZC_BACKEND_NONE) {
		FUZZ_CHECK(b >= ZC_BACKEND_P2P_BAR && b <= ZC_BACKEND_MAX);
		FUZZ_CHECK(strlen(zc_backend_name(b)) == size &&
			   !memcmp(zc_backend_name(b), data, size));
	}
	free(err);
	free(s);
	return 0;
}
