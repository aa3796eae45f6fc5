/* SPDX-License-Identifier: MIT */
/* Shared helpers of the libFuzzer targets in tests/fuzz. */
#ifndef ZC_FUZZ_COMMON_H
#define ZC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant the library promises is broken: report it as a crash so
 * libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",     \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

/* a NUL-terminated heap copy of n bytes (the input may hold NULs: the
 * string then ends at the first one, as getenv() would see it) */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* a heap buffer of exactly len bytes (NULL for 0), filled with junk, so
 * AddressSanitizer sees any write past what the callee was given */
static inline char *fuzz_errbuf(size_t len)
{
	char *b = len ? malloc(len) : NULL;

	if (len && !b)
		abort();
	if (b)
		memset(b, 'X', len);
	return b;
}

/* a negative errno, or 0 */
static inline int fuzz_is_errno(long v)
{
	return v <= 0 && v > -4096;
}

#endif /* ZC_FUZZ_COMMON_H */
