/* SPDX-License-Identifier: MIT */
/* Logging: a caller callback or stderr, filtered by level; one line per
 * message, without control characters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void log_to_stderr(void *arg, int level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "libzerocopy: %s: %s\n", level_names[level], msg);
}

/* Params win over ZC_LOG; an invalid ZC_LOG is reported by zc_ctx_create. */
void zc_log_init(struct zc_log *log, const struct zc_ctx_params *p)
{
	const char *env = getenv("ZC_LOG");
	int lvl = env ? zc_parse_log_level(env) : -EINVAL;

	log->fn = log_to_stderr;
	log->arg = NULL;
	log->level = lvl >= 0 ? lvl : ZC_LOG_WARN;
	if (!p)
		return;
	if ((p->field_mask & ZC_CTX_FIELD_LOG_FN) && p->log_fn) {
		log->fn = p->log_fn;
		log->arg = p->log_arg;
	}
	if ((p->field_mask & ZC_CTX_FIELD_LOG_LEVEL) && p->log_level >= 0 &&
	    p->log_level <= ZC_LOG_DEBUG)
		log->level = p->log_level;
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Messages quote bytes from outside the library (environment variables,
 * paths): a newline or an escape sequence among them would end the line
 * early, forge another one or drive the terminal. Write them as C escapes
 * instead, so that a message is one line and still shows what was there.
 */
static void escape_controls(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		const char *name = *p == '\n' ? "n" : *p == '\r' ? "r" :
				   *p == '\t' ? "t" : NULL;
		char e[5];
		int n;

		if (!is_control(*p))
			n = snprintf(e, sizeof(e), "%c", *p);
		else if (name)
			n = snprintf(e, sizeof(e), "\\%s", name);
		else
			n = snprintf(e, sizeof(e), "\\x%02x", *p);
		if (o + (size_t)n >= len)
			break; /* truncated, but never inside an escape */
		memcpy(out + o, e, (size_t)n);
		o += (size_t)n;
	}
	out[o] = '\0';
}

void zc_logf(const struct zc_log *log, int level, const char *fmt, ...)
{
	char msg[512], safe[512];
	va_list ap;

	if (level > log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (const char *p = msg; *p; p++) {
		if (is_control((unsigned char)*p)) {
			escape_controls(msg, safe, sizeof(safe));
			log->fn(log->arg, level, safe);
			return;
		}
	}
	log->fn(log->arg, level, msg);
}
