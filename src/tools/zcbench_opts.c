/* SPDX-License-Identifier: MIT */
/* zcbench: the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zcbench.h"

const char *const rw_names[4] = { "read", "write", "randread", "randwrite" };

struct opts opt = {
	.bs = 4096, .rw = RW_RANDREAD, .qd = 32, .batch = 1, .threads = 1, .runtime = 5,
	.seed = 0x5eed, .label = "",
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: zcbench [options] FILE\n"
"  -s, --size SIZE        bytes of FILE to use (default: its size); a\n"
"                         missing or shorter file is created or extended\n"
"  -b, --bs SIZE          block size (default 4k)\n"
"  -r, --rw MODE          read, write, randread, randwrite (default randread)\n"
"  -m, --mode MODE        sync (zc_read/zc_write) or async (zc_queue)\n"
"  -q, --qd N             async queue depth per thread (default 32)\n"
"      --batch N          async: submit once per N prepared operations\n"
"                         (default 1, as fio's iodepth_batch_submit)\n"
"  -d, --direct           open FILE with O_DIRECT\n"
"  -t, --threads N        threads, each with its own part of the buffer\n"
"  -B, --backend LIST     allowed backends for the registration, e.g.\n"
"                         uring_fixed or bounce (default auto)\n"
"  -T, --runtime SECONDS  measured time (default 5)\n"
"      --ramp SECONDS     unmeasured warm-up before it (default 0)\n"
"  -n, --ops N            stop after N operations per thread instead\n"
"      --seed N           offset generator seed (default 0x5eed)\n"
"      --bounce-bytes SIZE  zc_ctx_params.bounce_bytes\n"
"      --misalign N       add N bytes to every buffer offset\n"
"      --memcpy           memcpy from a mapping of FILE instead of I/O\n"
"      --rss-interval S   sample the resident set every S seconds\n"
"      --no-create        fail instead of creating or extending FILE\n"
"      --no-uring         create the context with ZC_CTX_NO_URING\n"
"      --remote           register for an RDMA peer too (ZC_ACCESS_REMOTE_READ,\n"
"                         and REMOTE_WRITE for reads into the buffer); the\n"
"                         report names the quirks that decided the backend\n"
"                         and what zc_reg_prefetch of the buffer gave\n"
"      --p2p[=BDF]        the buffer is PCIe peer memory (p2pmem) of the\n"
"                         publisher BDF, else the nearest one FILE's device\n"
"                         reaches (zc_p2p_alloc), registered as ZC_MEM_P2P:\n"
"                         on p2p_bar with -d, else staged by bounce\n"
"      --label TEXT       copied into the JSON report\n"
"  -j, --json             print one JSON object instead of the table\n"
"  -h, --help\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (mul > 1 && (*end == 'b' || *end == 'B'))
		end++;
	else if (mul == 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return -1;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (*end && strcmp(end, "s"))
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int parse_backends(const char *s, uint64_t *out)
{
	char buf[128], *tok, *save;

	if (strlen(s) >= sizeof(buf))
		return -1;
	if (!strcmp(s, "auto") || !strcmp(s, "all")) {
		*out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned b;

		for (b = ZC_BACKEND_P2P_BAR; b <= ZC_BACKEND_MAX; b++)
			if (!strcmp(tok, zc_backend_name((enum zc_backend)b)))
				break;
		if (b > ZC_BACKEND_MAX)
			return -1;
		*out |= ZC_BACKEND_BIT(b);
	}
	return *out ? 0 : -1;
}

int opts_parse(int argc, char **argv)
{
	enum { O_RAMP = 256, O_SEED, O_BOUNCE, O_MISALIGN, O_MEMCPY, O_RSS,
	       O_NOCREATE, O_LABEL, O_NOURING, O_BATCH, O_REMOTE, O_P2P };
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "bs", required_argument, NULL, 'b' },
		{ "rw", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "qd", required_argument, NULL, 'q' },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "direct", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'B' },
		{ "runtime", required_argument, NULL, 'T' },
		{ "ops", required_argument, NULL, 'n' },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "bounce-bytes", required_argument, NULL, O_BOUNCE },
		{ "misalign", required_argument, NULL, O_MISALIGN },
		{ "memcpy", no_argument, NULL, O_MEMCPY },
		{ "rss-interval", required_argument, NULL, O_RSS },
		{ "no-create", no_argument, NULL, O_NOCREATE },
		{ "no-uring", no_argument, NULL, O_NOURING },
		{ "remote", no_argument, NULL, O_REMOTE },
		{ "p2p", optional_argument, NULL, O_P2P },
		{ "label", required_argument, NULL, O_LABEL },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, bad = 0;

	snprintf(opt.backend_arg, sizeof(opt.backend_arg), "auto");
	while ((c = getopt_long(argc, argv, "s:b:r:m:q:dt:B:T:n:jh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			bad |= parse_size(optarg, &opt.size);
			break;
		case 'b':
			bad |= parse_size(optarg, &v) || !v || v > (1ull << 30);
			opt.bs = (size_t)v;
			break;
		case 'r': {
			unsigned i;

			for (i = 0; i < 4 && strcmp(optarg, rw_names[i]); i++)
				;
			bad |= i == 4;
			opt.rw = (enum rw)(i & 3);
			break;
		}
		case 'm':
			bad |= strcmp(optarg, "sync") && strcmp(optarg, "async");
			opt.async = !strcmp(optarg, "async");
			break;
		case 'q':
			bad |= parse_uint(optarg, &v) || !v || v > MAX_QD;
			opt.qd = (unsigned)v;
			break;
		case O_BATCH:
			bad |= parse_uint(optarg, &v) || !v || v > MAX_QD;
			opt.batch = (unsigned)v;
			break;
		case 'd':
			opt.direct = true;
			break;
		case 't':
			bad |= parse_uint(optarg, &v) || !v || v > MAX_THREADS;
			opt.threads = (unsigned)v;
			break;
		case 'B':
			bad |= parse_backends(optarg, &opt.backends);
			snprintf(opt.backend_arg, sizeof(opt.backend_arg), "%s", optarg);
			break;
		case 'T':
			bad |= parse_seconds(optarg, &opt.runtime);
			break;
		case 'n':
			bad |= parse_uint(optarg, &opt.ops);
			break;
		case O_RAMP:
			bad |= parse_seconds(optarg, &opt.ramp);
			break;
		case O_SEED:
			bad |= parse_uint(optarg, &opt.seed);
			break;
		case O_BOUNCE:
			bad |= parse_size(optarg, &v);
			opt.bounce_bytes = (size_t)v;
			break;
		case O_MISALIGN:
			bad |= parse_uint(optarg, &v) || v > 65536;
			opt.misalign = (size_t)v;
			break;
		case O_MEMCPY:
			opt.memcpy_probe = true;
			break;
		case O_RSS:
			bad |= parse_seconds(optarg, &opt.rss_interval);
			break;
		case O_NOCREATE:
			opt.no_create = true;
			break;
		case O_LABEL:
			opt.label = optarg;
			break;
		case O_NOURING:
			opt.no_uring = true;
			break;
		case O_REMOTE:
			opt.remote = true;
			break;
		case O_P2P:
			opt.p2p = true;
			opt.p2p_bdf = optarg && *optarg ? optarg : NULL;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "zcbench: bad value for option -%c: %s\n",
				c < 256 ? c : '-', optarg ? optarg : "");
			return -1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return -1;
	}
	opt.file = argv[optind];
	if (!opt.async)
		opt.qd = 1;
	if (opt.batch > opt.qd)
		opt.batch = opt.qd;
	if (!opt.ops && opt.runtime <= 0) {
		fprintf(stderr, "zcbench: --runtime must be above 0\n");
		return -1;
	}
	return 0;
}
