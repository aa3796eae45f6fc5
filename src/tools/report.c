/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "zcinfo: out of memory\n");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;

	return memcpy(xcalloc(1, len), s, len);
}

/* *dst = the formatted text, replacing what was there */
static void set_text(char **dst, const char *fmt, va_list ap)
{
	free(*dst);
	if (vasprintf(dst, fmt, ap) < 0) {
		fprintf(stderr, "zcinfo: out of memory\n");
		exit(1);
	}
}

struct fact *fact_root(void)
{
	struct fact *f = xcalloc(1, sizeof *f);

	f->type = FACT_OBJ;
	return f;
}

void fact_free(struct fact *f)
{
	while (f) {
		struct fact *next = f->next;

		fact_free(f->first);
		free(f->key);
		free(f->label);
		free(f->value);
		free(f->text);
		free(f->note);
		free(f);
		f = next;
	}
}

static struct fact *add(struct fact *parent, enum fact_type type,
			const char *key, const char *label, const char *value)
{
	struct fact *f = xcalloc(1, sizeof *f);

	f->type = type;
	if (parent->type == FACT_OBJ)
		f->key = xstrdup(key);
	f->label = xstrdup(label ? label : key ? key : "");
	if (value)
		f->value = xstrdup(value);
	if (parent->last)
		parent->last->next = f;
	else
		parent->first = f;
	parent->last = f;
	return f;
}

struct fact *fact_obj(struct fact *parent, const char *key, const char *label)
{
	return add(parent, FACT_OBJ, key, label, NULL);
}

struct fact *fact_arr(struct fact *parent, const char *key, const char *label)
{
	return add(parent, FACT_ARR, key, label, NULL);
}

struct fact *fact_str(struct fact *parent, const char *key, const char *label,
		      const char *v)
{
	return add(parent, FACT_STR, key, label, v);
}

struct fact *fact_int(struct fact *parent, const char *key, const char *label,
		      long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	return add(parent, FACT_RAW, key, label, buf);
}

struct fact *fact_uint(struct fact *parent, const char *key, const char *label,
		       uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return add(parent, FACT_RAW, key, label, buf);
}

struct fact *fact_bool(struct fact *parent, const char *key, const char *label,
		       bool v)
{
	return fact_text(add(parent, FACT_RAW, key, label, v ? "true" : "false"),
			 "%s", v ? "yes" : "no");
}

struct fact *fact_null(struct fact *parent, const char *key, const char *label)
{
	return add(parent, FACT_NULL, key, label, NULL);
}

struct fact *fact_numstr(struct fact *parent, const char *key,
			 const char *label, const char *v)
{
	char *end;

	if (!v[0])
		return fact_null(parent, key, label);
	(void)strtoll(v, &end, 10);
	if (end != v && !*end)
		return add(parent, FACT_RAW, key, label, v);
	return fact_str(parent, key, label, v);
}

struct fact *fact_bits(struct fact *parent, const char *key, const char *label,
		       uint64_t bits, const char *(*name)(uint64_t bit))
{
	struct fact *arr = fact_arr(parent, key, label);

	for (unsigned i = 0; i < 64; i++) {
		const char *n;
		char buf[16];

		if (!(bits & (UINT64_C(1) << i)))
			continue;
		n = name(UINT64_C(1) << i);
		if (!n) {
			snprintf(buf, sizeof buf, "bit%u", i);
			n = buf;
		}
		fact_str(arr, NULL, NULL, n);
	}
	return arr;
}

struct fact *fact_text(struct fact *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_text(&f->text, fmt, ap);
	va_end(ap);
	return f;
}

struct fact *fact_note(struct fact *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_text(&f->note, fmt, ap);
	va_end(ap);
	return f;
}

struct fact *fact_title(struct fact *f)
{
	f->title = true;
	return f;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

static void json_value(FILE *out, const struct fact *f)
{
	const struct fact *c;

	switch (f->type) {
	case FACT_OBJ:
	case FACT_ARR:
		putc(f->type == FACT_OBJ ? '{' : '[', out);
		for (c = f->first; c; c = c->next) {
			if (c != f->first)
				putc(',', out);
			if (f->type == FACT_OBJ) {
				json_str(out, c->key);
				putc(':', out);
			}
			json_value(out, c);
		}
		putc(f->type == FACT_OBJ ? '}' : ']', out);
		break;
	case FACT_STR:
		json_str(out, f->value);
		break;
	case FACT_RAW:
		fputs(f->value, out);
		break;
	case FACT_NULL:
		fputs("null", out);
		break;
	}
}

void report_json(FILE *out, const struct fact *root)
{
	json_value(out, root);
	putc('\n', out);
}

/* ------------------------------------------------------------------ */
/* text                                                                 */

/* An array of scalars reads as one line, like a scalar. */
static bool one_line(const struct fact *f)
{
	const struct fact *c;

	if (f->type == FACT_OBJ)
		return false;
	if (f->type == FACT_ARR)
		for (c = f->first; c; c = c->next)
			if (c->type == FACT_OBJ || c->type == FACT_ARR)
				return false;
	return true;
}

static void text_value(FILE *out, const struct fact *f)
{
	const struct fact *c;

	if (f->text)
		fputs(f->text, out);
	else if (f->type == FACT_NULL)
		fputs("none", out);
	else if (f->type != FACT_ARR)
		fputs(f->value, out);
	else if (!f->first)
		fputs("none", out);
	else
		for (c = f->first; c; c = c->next) {
			if (c != f->first)
				putc(' ', out);
			text_value(out, c);
		}
	if (f->note)
		fprintf(out, " %s", f->note);
}

static void text_heading(FILE *out, const struct fact *f, int indent)
{
	const struct fact *c;

	fprintf(out, "%*s", indent, "");
	for (c = f->first; c && !c->title; c = c->next)
		;
	if (c)
		text_value(out, c);
	else
		fputs(f->label, out);
	fputs(":\n", out);
}

/* The children of f, one line each, labels aligned; an object or an
 * array of objects under a heading of its own, indented. At the top
 * level, each of those starts after an empty line. */
static void text_children(FILE *out, const struct fact *f, int indent)
{
	const struct fact *c, *e;
	int width = 0;

	for (c = f->first; c; c = c->next)
		if (one_line(c) && !c->title && (int)strlen(c->label) > width)
			width = (int)strlen(c->label);
	for (c = f->first; c; c = c->next) {
		if (c->title)
			continue;
		if (one_line(c)) {
			fprintf(out, "%*s%s:%*s ", indent, "", c->label,
				width - (int)strlen(c->label), "");
			text_value(out, c);
			putc('\n', out);
			continue;
		}
		if (indent == 0)
			putc('\n', out);
		text_heading(out, c, indent);
		if (c->type == FACT_OBJ) {
			text_children(out, c, indent + 2);
			continue;
		}
		for (e = c->first; e; e = e->next) {
			text_heading(out, e, indent + 2);
			text_children(out, e, indent + 4);
		}
	}
}

void report_text(FILE *out, const struct fact *root)
{
	text_children(out, root, 0);
}
