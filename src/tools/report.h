/* SPDX-License-Identifier: MIT */
/*
 * The report model of zcinfo: a tree of facts, built once, printed either
 * as text or as JSON. A fact carries its JSON key and its text label
 * together, so a new fact is one call and both outputs carry it.
 */
#ifndef ZC_TOOLS_REPORT_H
#define ZC_TOOLS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum fact_type {
	FACT_OBJ,  /* named children */
	FACT_ARR,  /* unnamed children */
	FACT_STR,  /* a string */
	FACT_RAW,  /* a JSON literal: a number, true, false */
	FACT_NULL, /* JSON null: absent or unknown */
};

struct fact {
	enum fact_type type;
	char *key;   /* JSON key; NULL for an element of an array */
	char *label; /* text label */
	char *value; /* FACT_STR, FACT_RAW */
	char *text;  /* text: how the value reads, when not as in JSON */
	char *note;  /* text: words after the value */
	bool title;  /* text: heads its object instead of a line of its own */
	struct fact *first, *last, *next;
};

/* The root object. Every constructor exits on allocation failure: a
 * report with holes would be worse than none. */
struct fact *fact_root(void);
void fact_free(struct fact *root);

/* Children of parent, in order; key is ignored in an array, label NULL
 * means the key. Each returns the new fact. */
struct fact *fact_obj(struct fact *parent, const char *key, const char *label);
struct fact *fact_arr(struct fact *parent, const char *key, const char *label);
struct fact *fact_str(struct fact *parent, const char *key, const char *label,
		      const char *v);
struct fact *fact_int(struct fact *parent, const char *key, const char *label,
		      long long v);
struct fact *fact_uint(struct fact *parent, const char *key, const char *label,
		       uint64_t v);
struct fact *fact_bool(struct fact *parent, const char *key, const char *label,
		       bool v);
struct fact *fact_null(struct fact *parent, const char *key, const char *label);
/* A string that is a number in JSON when it is one (a sysctl value), the
 * string otherwise, null when empty. */
struct fact *fact_numstr(struct fact *parent, const char *key,
			 const char *label, const char *v);
/* The names of the bits set in bits, from name() or "bitN". */
struct fact *fact_bits(struct fact *parent, const char *key, const char *label,
		       uint64_t bits, const char *(*name)(uint64_t bit));

/* Text only: how the value reads, words after it; they return f. */
struct fact *fact_text(struct fact *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct fact *fact_note(struct fact *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* In text, f's value heads its object (an element of an array). */
struct fact *fact_title(struct fact *f);

/* One line of JSON; indented "label: value" lines. */
void report_json(FILE *out, const struct fact *root);
void report_text(FILE *out, const struct fact *root);

#endif
