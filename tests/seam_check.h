/* SPDX-License-Identifier: MIT */
/* CHECK for the small test programs of src/sys/ seams: a failed check is
 * printed and makes the program exit 1, and the rest still run. */
#ifndef ZT_SEAM_CHECK_H
#define ZT_SEAM_CHECK_H

#include <stdio.h>

static int failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                          \
			failed = 1;                                        \
		}                                                          \
	} while (0)

#endif /* ZT_SEAM_CHECK_H */
