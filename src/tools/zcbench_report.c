/* SPDX-License-Identifier: MIT */
/* zcbench: the report of a run, as a table or as one JSON object. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "zcbench.h"

static long rss_max(const struct rss_log *log, bool anon)
{
	long m = -1;

	for (unsigned i = 0; i < log->n; i++) {
		long v = anon ? log->s[i].anon_kib : log->s[i].rss_kib;

		if (v > m)
			m = v;
	}
	return m;
}

static void human_bytes(double v, char *out, size_t len, const char *suffix)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.*f %s%s", i ? 1 : 0, v, u[i], suffix);
}

static void human_ns(double ns, char *out, size_t len)
{
	if (ns < 1000)
		snprintf(out, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(out, len, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, len, "%.2f ms", ns / 1e6);
	else
		snprintf(out, len, "%.2f s", ns / 1e9);
}

static const char *path_name(const struct result *r)
{
	if (opt.memcpy_probe)
		return "memcpy";
	if (!opt.async)
		return "sync";
	if (r->path_inline && r->path_ring)
		return "mixed";
	return r->path_inline ? "inline" : "ring";
}


void report_json(const struct result *r)
{
	const double gib = (double)r->bytes / (double)(1u << 30);
	const struct zc_attempt *at = r->attempts;
	int na = r->nr_attempts;

	printf("{\"tool\":\"zcbench\",\"version\":\"%u.%u.%u\",\"label\":",
	       zc_version() >> 16, zc_version() >> 8 & 0xff, zc_version() & 0xff);
	json_str(stdout, opt.label);
	printf(",\"file\":");
	json_str(stdout, opt.file);
	printf(",\"no_uring\":%d,\"remote\":%d,\"fs\":", opt.no_uring, opt.remote);
	json_str(stdout, r->fs_name);
	printf(",\"size\":%" PRIu64 ",\"bs\":%zu,\"rw\":\"%s\",\"mode\":\"%s\","
	       "\"qd\":%u,\"batch\":%u,\"direct\":%d,\"threads\":%u,\"misalign\":%zu,"
	       "\"seed\":%" PRIu64 ",",
	       r->size, opt.bs, rw_names[opt.rw],
	       opt.memcpy_probe ? "memcpy" : opt.async ? "async" : "sync", opt.qd,
	       opt.batch, opt.direct, opt.threads, opt.misalign, opt.seed);
	/* the memory: host, or the p2pmem of which PCI function */
	printf("\"mem\":\"%s\",\"p2p_provider\":", opt.p2p ? "p2p" : "host");
	if (opt.p2p)
		json_str(stdout, r->p2p_bdf);
	else
		printf("null");
	printf(",\"backend_requested\":");
	json_str(stdout, opt.backend_arg);
	printf(",\"backend\":\"%s\",\"attempts\":[",
	       r->registered ? zc_backend_name(r->backend) : "none");
	for (int i = 0; i < na; i++) {
		printf("%s{\"backend\":\"%s\",\"error\":%d,\"reason\":", i ? "," : "",
		       zc_backend_name(at[i].backend), at[i].error);
		json_str(stdout, at[i].reason);
		putchar('}');
	}
	printf("],\"quirks_applied\":[");
	for (int i = 0; i < r->nr_quirks; i++) {
		printf("%s", i ? "," : "");
		json_str(stdout, r->quirks[i]);
	}
	printf("],\"prefetch\":");
	if (opt.remote && r->registered) {
		printf("{\"error\":%d,\"result\":", r->prefetch);
		json_str(stdout, r->prefetch ? zc_strerror(r->prefetch) : "done");
		putchar('}');
	} else {
		printf("null");
	}
	printf(",\"runtime_s\":%.6f,\"ops\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"bw_bytes\":%.0f,\"bw_mib_s\":%.2f,\"iops\":%.1f,",
	       r->elapsed, r->ops, r->bytes,
	       r->elapsed > 0 ? (double)r->bytes / r->elapsed : 0,
	       r->elapsed > 0 ? (double)r->bytes / r->elapsed / 1048576.0 : 0,
	       r->elapsed > 0 ? (double)r->ops / r->elapsed : 0);
	printf("\"lat_ns\":{\"min\":%" PRIu64 ",\"mean\":%.1f,\"p50\":%.0f,"
	       "\"p90\":%.0f,\"p99\":%.0f,\"p99_9\":%.0f,\"max\":%" PRIu64 "},",
	       r->h.count ? r->h.min : 0,
	       r->h.count ? (double)r->h.sum / (double)r->h.count : 0,
	       hist_pct(&r->h, 50), hist_pct(&r->h, 90), hist_pct(&r->h, 99),
	       hist_pct(&r->h, 99.9), r->h.max);
	printf("\"cpu\":{\"user_s\":%.6f,\"sys_s\":%.6f,\"s_per_gib\":%.6f},",
	       r->user_s, r->sys_s, gib > 0 ? (r->user_s + r->sys_s) / gib : 0);
	printf("\"path\":\"%s\",\"paths\":{\"sync\":%" PRIu64 ",\"ring\":%" PRIu64
	       ",\"inline\":%" PRIu64 ",\"fallback\":%" PRIu64 "},",
	       path_name(r), r->path_sync, r->path_ring, r->path_inline,
	       r->path_fallback);
	printf("\"backend_ops\":{");
	for (unsigned b = ZC_BACKEND_P2P_BAR, first = 1; b <= ZC_BACKEND_MAX; b++) {
		if (!r->backend_ops[b])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",",
		       zc_backend_name((enum zc_backend)b), r->backend_ops[b]);
		first = 0;
	}
	printf("},\"stats\":{\"fallbacks\":%" PRIu64 ",\"fallback_events\":%" PRIu64,
	       r->stats.fallbacks, r->events_fallback);
	for (unsigned b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
		if (r->stats.backend[b].ops)
			printf(",\"%s_ops\":%" PRIu64 ",\"%s_bytes\":%" PRIu64,
			       zc_backend_name((enum zc_backend)b), r->stats.backend[b].ops,
			       zc_backend_name((enum zc_backend)b), r->stats.backend[b].bytes);
	printf("},\"rss\":{\"start_kib\":%ld,\"end_kib\":%ld,\"max_kib\":%ld,"
	       "\"anon_start_kib\":%ld,\"anon_end_kib\":%ld,\"anon_max_kib\":%ld,"
	       "\"samples\":[",
	       r->rss.s[0].rss_kib, r->rss.s[r->rss.n - 1].rss_kib,
	       rss_max(&r->rss, false), r->rss.s[0].anon_kib,
	       r->rss.s[r->rss.n - 1].anon_kib, rss_max(&r->rss, true));
	for (unsigned i = 0; i < r->rss.n; i++)
		printf("%s[%.2f,%ld,%ld]", i ? "," : "", r->rss.t[i],
		       r->rss.s[i].rss_kib, r->rss.s[i].anon_kib);
	printf("]},\"errors\":%" PRIu64 ",\"first_error\":", r->errors);
	json_str(stdout, r->first_error ? zc_strerror(r->first_error) : "");
	printf("}\n");
}

void report_table(const struct result *r)
{
	char bw[32], sz[32], bsz[32], p50[16], p99[16], p999[16], mean[16], mx[16];
	char mode[32];
	const double gib = (double)r->bytes / (double)(1u << 30);
	const struct zc_attempt *at = r->attempts;
	int na = r->nr_attempts;

	human_bytes((double)r->size, sz, sizeof(sz), "");
	human_bytes((double)opt.bs, bsz, sizeof(bsz), "");
	human_bytes(r->elapsed > 0 ? (double)r->bytes / r->elapsed : 0, bw,
		    sizeof(bw), "/s");
	human_ns(hist_pct(&r->h, 50), p50, sizeof(p50));
	human_ns(hist_pct(&r->h, 99), p99, sizeof(p99));
	human_ns(hist_pct(&r->h, 99.9), p999, sizeof(p999));
	human_ns(r->h.count ? (double)r->h.sum / (double)r->h.count : 0, mean,
		 sizeof(mean));
	human_ns((double)r->h.max, mx, sizeof(mx));

	if (opt.memcpy_probe)
		snprintf(mode, sizeof(mode), "memcpy probe");
	else if (opt.async)
		snprintf(mode, sizeof(mode), "async qd %u", opt.qd);
	else
		snprintf(mode, sizeof(mode), "sync");
	printf("zcbench %s (%s), %s used, %s bs=%s, %s, %s, %u thread%s, %.2f s\n",
	       opt.file, r->fs_name, sz, rw_names[opt.rw], bsz, mode,
	       opt.direct ? "O_DIRECT" : "buffered", opt.threads,
	       opt.threads == 1 ? "" : "s", r->elapsed);
	if (r->registered) {
		printf("backend   %s (requested %s)\n",
		       zc_backend_name(r->backend), opt.backend_arg);
		if (opt.p2p)
			printf("memory    p2pmem of %s\n",
			       r->p2p_bdf[0] ? r->p2p_bdf : "(unknown)");
		for (int i = 0; i < na; i++)
			printf("  %-12s %s%s%s\n", zc_backend_name(at[i].backend),
			       at[i].reason, at[i].error ? ": " : "",
			       at[i].error ? zc_strerror(at[i].error) : "");
		printf("path      %s: sync %" PRIu64 ", ring %" PRIu64 ", inline %"
		       PRIu64 ", fallback %" PRIu64 " (library fallbacks %" PRIu64 ")\n",
		       path_name(r), r->path_sync, r->path_ring, r->path_inline,
		       r->path_fallback, r->stats.fallbacks);
	}
	printf("\n%-10s %14s %12s %10s %10s %10s %10s %10s %10s\n", "",
	       "throughput", "IOPS", "lat mean", "p50", "p99", "p99.9", "max",
	       "CPU s/GiB");
	printf("%-10s %14s %12.0f %10s %10s %10s %10s %10s %10.4f\n",
	       opt.memcpy_probe ? "memcpy" : is_write() ? "write" : "read", bw,
	       r->elapsed > 0 ? (double)r->ops / r->elapsed : 0, mean, p50, p99,
	       p999, mx, gib > 0 ? (r->user_s + r->sys_s) / gib : 0);
	printf("\nops %" PRIu64 ", errors %" PRIu64 "%s%s, CPU user %.3f s sys %.3f s, "
	       "RSS %ld -> %ld KiB (anon %ld -> %ld KiB)\n", r->ops, r->errors,
	       r->first_error ? " first: " : "",
	       r->first_error ? zc_strerror(r->first_error) : "", r->user_s,
	       r->sys_s, r->rss.s[0].rss_kib, r->rss.s[r->rss.n - 1].rss_kib,
	       r->rss.s[0].anon_kib, r->rss.s[r->rss.n - 1].anon_kib);
}