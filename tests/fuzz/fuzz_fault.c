/* SPDX-License-Identifier: MIT */
/*
 * ZC_FAULT: zc_fault_parse() (which uses zc_parse_errno() and
 * zc_backend_from_name()), then zc_fault_hit() on every backend with the
 * documented steps and with every word of the input as a step, a few
 * times over so that ":<nth>" counting runs; zc_parse_errno() on the raw
 * bytes too.
 *
 * Input: byte 0 = size of the error buffer (0..95), the rest = the value.
 */
#include "fuzz_common.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const steps[] = {
	"ring_setup", "clone", "statx", "mmap", "reg", "register", "lease", "io", "alloc",
};

static void hit_all(struct zc_fault *f, const char *step)
{
	for (int round = 0; round < 3; round++)
		for (unsigned b = ZC_BACKEND_NONE; b <= ZC_BACKEND_MAX + 1; b++)
			FUZZ_CHECK(fuzz_is_errno(zc_fault_hit(f, (enum zc_backend)b, step)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zc_fault *sentinel = (struct zc_fault *)&sentinel, *f = sentinel;
	size_t errlen = size ? data[0] % 96 : 0;
	char *s, *err, *words, *save, *w;
	int rc, e;

	if (size) {
		data++;
		size--;
	}
	e = zc_parse_errno((const char *)data, size); /* reads exactly size bytes */
	FUZZ_CHECK(e >= 0 && e < 4096);

	s = fuzz_strndup(data, size);
	err = fuzz_errbuf(errlen);
	rc = zc_fault_parse(s, &f, err, errlen);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(f == sentinel); /* out written only on success */
		if (rc == -EINVAL && errlen)
			FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	} else if (f) {
		FUZZ_CHECK(f != sentinel);
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			hit_all(f, steps[i]);
		words = fuzz_strndup(data, size);
		for (w = strtok_r(words, ":, \t\n", &save); w;
		     w = strtok_r(NULL, ":, \t\n", &save))
			hit_all(f, w);
		free(words);
	}
	zc_fault_free(rc ? NULL : f); /* NULL: no rules */
	free(err);
	free(s);
	return 0;
}
