/* SPDX-License-Identifier: MIT */
/* The JSON string writer of the tools (zcinfo, zcbench): one escaping for
 * both, so their reports parse the same way. Not part of the library. */
#ifndef ZC_TOOLS_JSON_H
#define ZC_TOOLS_JSON_H

#include <stdio.h>

/* Write s as a JSON string, quotes included. Control characters and DEL
 * are escaped; bytes that are not valid UTF-8 (a file name may hold any)
 * come out as the code point of the same value (\u00XX), so the output is
 * always valid JSON. */
void json_str(FILE *out, const char *s);

#endif
