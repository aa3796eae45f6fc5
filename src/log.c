/* SPDX-License-Identifier: MIT */
/* Logging: a caller callback or stderr, filtered by level. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

void zc_logf(const struct zc_log *log, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (level > log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log->fn(log->arg, level, msg);
}
