/* SPDX-License-Identifier: MIT */
/*
 * Deadlines on CLOCK_MONOTONIC: a wait that a signal interrupts resumes
 * for what is left of its timeout, not for all of it again.
 */
#ifndef ZC_SYS_DEADLINE_H
#define ZC_SYS_DEADLINE_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

/* the deadline timeout_ms from now in *ts, or NULL for a negative one */
static inline const struct timespec *zc_deadline(int timeout_ms,
						 struct timespec *ts)
{
	if (timeout_ms < 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return ts;
}

/* nanoseconds left until deadline, 0 once it has passed */
static inline int64_t zc_ns_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
	     (deadline->tv_nsec - now.tv_nsec);
	return ns > 0 ? ns : 0;
}

#endif /* ZC_SYS_DEADLINE_H */
