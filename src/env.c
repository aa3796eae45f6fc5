/* SPDX-License-Identifier: MIT */
/*
 * Parsers of configuration that comes from outside the program: ZC_BACKENDS,
 * ZC_LOG, ZC_QUIRKS and ZC_FAULT. They see untrusted bytes, so they never write past a
 * bound, never allocate per character, and reject rather than guess.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quirks.h"

static void set_err(char *err, size_t errlen, const char *tok, size_t len)
{
	if (errlen)
		snprintf(err, errlen, "%.*s", (int)ZC_MIN(len, 64), tok);
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n';
}

/* The next comma/space separated token at *p; false at the end. */
static bool next_token(const char **p, const char **tok, size_t *len)
{
	while (**p && is_sep(**p))
		(*p)++;
	if (!**p)
		return false;
	*tok = *p;
	while (**p && !is_sep(**p))
		(*p)++;
	*len = (size_t)(*p - *tok);
	return true;
}

int zc_parse_backends(const char *s, uint64_t *out, char *err, size_t errlen)
{
	bool exclude = false;
	uint64_t set = 0;
	const char *p = s;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '^') {
		exclude = true;
		p++;
	}
	const char *tok;
	size_t len;

	while (next_token(&p, &tok, &len)) {
		enum zc_backend b;

		if (len == 3 && !strncmp(tok, "all", 3)) {
			set |= ZC_BACKENDS_ALL;
			continue;
		}
		b = zc_backend_from_name(tok, len);
		if (b == ZC_BACKEND_NONE) {
			set_err(err, errlen, tok, len);
			return -EINVAL;
		}
		set |= ZC_BACKEND_BIT(b);
	}
	/* an empty result (nothing named, or everything excluded) is a typo,
	 * not a wish for a library that can register nothing */
	if (!set || !(exclude ? (ZC_BACKENDS_ALL & ~set) : set)) {
		set_err(err, errlen, s, strlen(s));
		return -EINVAL;
	}
	*out = exclude ? (ZC_BACKENDS_ALL & ~set) : set;
	return 0;
}

int zc_parse_quirks(const char *s, uint64_t *out, char *err, size_t errlen)
{
	static const char ignore[] = "ignore:";
	const size_t il = sizeof(ignore) - 1;
	uint64_t set = 0;
	const char *p = s, *tok;
	size_t len;

	while (next_token(&p, &tok, &len)) {
		int i = len > il && !strncmp(tok, ignore, il) ?
			zc_quirk_index(tok + il, len - il) : -1;

		if (i < 0) {
			set_err(err, errlen, tok, len);
			return -EINVAL;
		}
		set |= UINT64_C(1) << i;
	}
	*out = set;
	return 0;
}

int zc_parse_log_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < (int)ZC_ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (!strcasecmp(s, "warning"))
		return ZC_LOG_WARN;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

#define E(x) { #x, x }
static const struct {
	const char *name;
	int value;
} errno_names[] = {
	E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(EBADF),
	E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY), E(EEXIST),
	E(EXDEV), E(ENODEV), E(EINVAL), E(ENFILE), E(EMFILE), E(EFBIG),
	E(ENOSPC), E(ESPIPE), E(EROFS), E(ERANGE), E(ENOSYS), E(ENODATA),
	E(EOVERFLOW), E(EOPNOTSUPP), E(ETIMEDOUT), E(ECANCELED), E(EREMOTEIO),
	E(EWOULDBLOCK), E(ENOTSUP), E(ESTALE), E(EDQUOT),
};
#undef E

int zc_parse_errno(const char *s, size_t len)
{
	if (len && len < 6 && isdigit((unsigned char)s[0])) {
		int v = 0;

		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return 0;
			v = v * 10 + (s[i] - '0');
		}
		return v > 0 && v < 4096 ? v : 0;
	}
	for (size_t i = 0; i < ZC_ARRAY_SIZE(errno_names); i++)
		if (strlen(errno_names[i].name) == len &&
		    !strncmp(errno_names[i].name, s, len))
			return errno_names[i].value;
	return 0;
}

/* ------------------------------------------------------------------ */
/* ZC_FAULT=<backend|core>:<step>:<errno>[:<nth>][,...]               */

#define ZC_FAULT_MAX 16
/*
 * The steps the library passes to zc_fault_hit(): the core's
 * (ZC_BACKEND_NONE) are listed here, "reg" is passed for every backend
 * (select.c), and each backend lists its own in its ops table. A rule
 * naming another step could never fire, and a rehearsal with a typo in it
 * would pass without its fault, so such a rule is refused. Keep these
 * lists, the zc_fault_hit() calls and the list in libzerocopy(7) the same.
 */
static const char *const core_steps[] = {
	"ring_setup", /* ctx.c: the ring set, through sys/uring.c */
	"clone",      /* ctx.c: buffer cloning, through sys/uring.c */
	"statx",      /* file.c */
	"mmap",       /* io.c */
	"p2p_alloc",  /* p2p_api.c: mapping p2pmem/allocate */
	"complete",   /* queue.c: a completion the ring delivers */
	NULL,
};
static const char *const every_backend_steps[] = { "reg", NULL };

/* the step lists of site, in the order they are shown */
static void fault_step_lists(enum zc_backend site, const char *const *lists[2])
{
	const struct zc_backend_ops *ops = zc_registry_ops(site);

	lists[0] = site == ZC_BACKEND_NONE ? core_steps : every_backend_steps;
	lists[1] = ops ? ops->fault_steps : NULL;
}

/* the listed name of step [name, +len) at site, NULL if it has none */
static const char *fault_step_find(enum zc_backend site, const char *name,
				   size_t len)
{
	const char *const *lists[2];

	fault_step_lists(site, lists);
	for (unsigned l = 0; l < 2; l++)
		for (const char *const *st = lists[l]; st && *st; st++)
			if (strlen(*st) == len && !strncmp(*st, name, len))
				return *st;
	return NULL;
}

/* "reg, alloc, io": the steps of site, for a message */
static void fault_steps_list(enum zc_backend site, char *buf, size_t len)
{
	const char *const *lists[2];
	size_t used = 0;

	buf[0] = '\0';
	fault_step_lists(site, lists);
	for (unsigned l = 0; l < 2; l++) {
		for (const char *const *st = lists[l]; st && *st && used < len; st++) {
			int n = snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", *st);

			if (n < 0)
				return;
			used += (size_t)n;
		}
	}
}

struct zc_fault_rule {
	enum zc_backend backend; /* ZC_BACKEND_NONE = core */
	const char *step;        /* one of the listed steps */
	int error;
	unsigned long nth;   /* 0 = every hit */
	_Atomic unsigned long hits;
};

struct zc_fault {
	unsigned count;
	struct zc_fault_rule rule[ZC_FAULT_MAX];
};

/* split "a:b:c" fields of one rule; returns the number of fields */
static unsigned split_fields(const char *s, size_t len, const char *f[4],
			     size_t flen[4])
{
	unsigned n = 0;
	const char *start = s, *end = s + len;

	for (const char *p = s; p <= end; p++) {
		if (p == end || *p == ':') {
			if (n == 4)
				return 5;
			f[n] = start;
			flen[n++] = (size_t)(p - start);
			start = p + 1;
		}
	}
	return n;
}

/* 0, or -EINVAL with what is wrong with the rule [s, +len) in err */
static int parse_rule(const char *s, size_t len, struct zc_fault_rule *r,
		      char *err, size_t errlen)
{
	const char *f[4];
	size_t fl[4];
	unsigned n = split_fields(s, len, f, fl);
	const int shown = (int)ZC_MIN(len, 64);

	if (n < 3 || n > 4)
		goto syntax;
	if (fl[0] == 4 && !strncmp(f[0], "core", 4))
		r->backend = ZC_BACKEND_NONE;
	else if ((r->backend = zc_backend_from_name(f[0], fl[0])) ==
		 ZC_BACKEND_NONE)
		goto syntax;
	r->step = fault_step_find(r->backend, f[1], fl[1]);
	if (!r->step) {
		char known[128];

		fault_steps_list(r->backend, known, sizeof(known));
		if (errlen)
			snprintf(err, errlen, "unknown step '%.*s' in rule '%.*s' "
				 "(steps of %s: %s)", (int)ZC_MIN(fl[1], 32),
				 f[1], shown, s, r->backend == ZC_BACKEND_NONE ?
				 "core" : zc_backend_name(r->backend), known);
		return -EINVAL;
	}
	r->error = zc_parse_errno(f[2], fl[2]);
	if (!r->error)
		goto syntax;
	r->nth = 0;
	if (n == 4) {
		if (!fl[3] || fl[3] > 9)
			goto syntax;
		for (size_t i = 0; i < fl[3]; i++) {
			if (!isdigit((unsigned char)f[3][i]))
				goto syntax;
			r->nth = r->nth * 10 + (unsigned long)(f[3][i] - '0');
		}
		if (!r->nth)
			goto syntax;
	}
	return 0;
syntax:
	if (errlen)
		snprintf(err, errlen, "bad rule '%.*s' (expected "
			 "<backend|core>:<step>:<errno>[:<nth>])", shown, s);
	return -EINVAL;
}

int zc_fault_parse(const char *s, struct zc_fault **out, char *err,
		   size_t errlen)
{
	struct zc_fault *f = calloc(1, sizeof(*f));
	const char *p = s;

	if (!f)
		return -ENOMEM;
	const char *tok;
	size_t len;

	while (next_token(&p, &tok, &len)) {
		if (f->count == ZC_FAULT_MAX) {
			if (errlen)
				snprintf(err, errlen, "more than %d rules",
					 ZC_FAULT_MAX);
			free(f);
			return -EINVAL;
		}
		if (parse_rule(tok, len, &f->rule[f->count], err, errlen)) {
			free(f);
			return -EINVAL;
		}
		f->count++;
	}
	if (!f->count) {
		free(f);
		f = NULL;
	}
	*out = f;
	return 0;
}

void zc_fault_free(struct zc_fault *f)
{
	free(f);
}

int zc_fault_hit_rules(struct zc_fault *f, enum zc_backend b, const char *step)
{
	for (unsigned i = 0; i < f->count; i++) {
		struct zc_fault_rule *r = &f->rule[i];
		unsigned long hit;

		if (r->backend != b || strcmp(r->step, step))
			continue;
		hit = atomic_fetch_add(&r->hits, 1) + 1;
		if (!r->nth || hit == r->nth)
			return -r->error;
	}
	return 0;
}
