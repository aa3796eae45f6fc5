/* SPDX-License-Identifier: MIT */
/*
 * zcbench: measure libzerocopy the way fio measures a device.
 *
 *   zcbench [options] FILE
 *
 * One registration of a preallocated buffer (registered once, before the
 * clock starts), one zc_queue per thread for --mode async, zc_read or
 * zc_write for --mode sync. Offsets come from a per-thread generator with
 * a fixed seed, so two runs issue the same I/O. Latency goes into a
 * log-linear histogram per thread (no allocation per operation), CPU time
 * comes from getrusage, the backend from zc_reg_backend and the path of
 * every asynchronous operation from its completion flags.
 *
 * --memcpy replaces the I/O by memcpy from a MAP_SHARED mapping of the
 * same file into the same buffer: the ceiling a page-cache read can reach.
 *
 * The parts: zcbench_opts.c (the command line), zcbench_run.c (setup,
 * threads, teardown), zcbench_hist.c (latency histograms),
 * zcbench_report.c (table and JSON), zcbench.h (what they share).
 *
 * Exit status: 0 on success, 1 on an error (setup, registration, or an
 * operation that failed or moved fewer bytes than asked), 2 on a usage
 * error.
 */

#include <stdio.h>

#include "zcbench.h"

int main(int argc, char **argv)
{
	static struct result r; /* large (the RSS samples): not on the stack */
	int ret = 1;

	if (opts_parse(argc, argv))
		return 2;
	if (bench_setup() || bench_run(&r))
		goto out;
	if (opt.json)
		report_json(&r);
	else
		report_table(&r);
	fflush(stdout);
	ret = r.errors || r.first_error ? 1 : 0;
out:
	bench_teardown();
	return ret;
}
