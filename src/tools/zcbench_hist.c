/* SPDX-License-Identifier: MIT */
/* zcbench: merging and reading the latency histograms of zcbench.h. */
#include <math.h>

#include "zcbench.h"

/* the middle of bucket i */
static double hist_value(unsigned i)
{
	unsigned e, sub;
	double lo, width;

	if (i < 2 * HIST_SUB)
		return i;
	e = i / HIST_SUB + HIST_SUB_BITS;
	sub = i % HIST_SUB;
	lo = ldexp((double)(HIST_SUB + sub), (int)(e - HIST_SUB_BITS));
	width = ldexp(1.0, (int)(e - HIST_SUB_BITS));
	return lo + width / 2;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

double hist_pct(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = hist_value(i);

			/* never report beyond what was seen */
			if (v > (double)h->max)
				v = (double)h->max;
			if (v < (double)h->min)
				v = (double)h->min;
			return v;
		}
	}
	return (double)h->max;
}
