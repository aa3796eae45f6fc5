/* SPDX-License-Identifier: MIT */
/*
 * ZC_LOG: zc_parse_log_level(), and zc_log_init() reading the variable
 * from the environment, then one message quoting the value the way
 * zc_ctx_create() reports a bad one: it must reach the sink as one line
 * without control characters.
 *
 * Input: the value.
 */
#include "fuzz_common.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t g_logged;

static void sink(void *arg, int level, const char *msg)
{
	(void)arg;
	FUZZ_CHECK(level >= ZC_LOG_ERROR && level <= ZC_LOG_DEBUG);
	g_logged += strlen(msg); /* the message is terminated */
	/* one line, however odd the value it quotes */
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zc_ctx_params p = { .field_mask = ZC_CTX_FIELD_LOG_FN, .log_fn = sink };
	struct zc_log log;
	char *s = fuzz_strndup(data, size);
	int lvl = zc_parse_log_level(s);

	FUZZ_CHECK(lvl == -EINVAL || (lvl >= ZC_LOG_ERROR && lvl <= ZC_LOG_DEBUG));

	if (setenv("ZC_LOG", s, 1) == 0) {
		zc_log_init(&log, &p);
		FUZZ_CHECK(log.fn == sink);
		FUZZ_CHECK(log.level == (lvl >= 0 ? lvl : ZC_LOG_WARN));
		zc_logf(&log, ZC_LOG_ERROR,
			"zc_ctx_create: ZC_LOG=%.32s: expected error, warn, info or debug", s);
		zc_logf(&log, ZC_LOG_DEBUG, "%s", s); /* longer than the 512-byte line */
		unsetenv("ZC_LOG");
	}
	free(s);
	return 0;
}
