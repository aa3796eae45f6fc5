/* SPDX-License-Identifier: MIT */
/*
 * zcinfo: what libzerocopy can do on this machine, and why.
 *
 *   zcinfo [--json] [FILE...]
 *
 * Prints every backend with the library's verdict, the kernel facts those
 * verdicts rest on (measured here independently of the library, so the two
 * can be compared), and for each FILE what the library sees in it and which
 * backend two typical registrations would land on, with every attempt.
 *
 * Exit status: 0 on success, 1 if a FILE could not be opened or probed (or
 * the library could not be initialised), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifdef ZC_TOOL_HAVE_LIBURING
#include <liburing.h>
#endif

#include "zerocopy.h"

#define PROBE_BYTES (1u << 20) /* size of the sample registrations */

/* ------------------------------------------------------------------ */
/* facts                                                                */

enum clone_state { CLONE_UNKNOWN = 0, CLONE_YES, CLONE_NO };

struct uring_facts {
	bool built;          /* zcinfo was built with liburing */
	bool ok;             /* a ring could be set up */
	int setup_err;       /* positive errno when !ok */
	uint32_t features;   /* io_uring_params.features */
	enum clone_state clone;
	int clone_err;       /* positive errno of the probe, 0 on success */
	char clone_note[128];
	char disabled[32];   /* /proc/sys/kernel/io_uring_disabled, "" if absent */
	char seccomp[64];    /* the Seccomp: line of /proc/self/status */
};

struct kernel_facts {
	char release[65];
	struct uring_facts uring;
	bool memlock_known;
	struct rlimit memlock;
	int cap_ipc_lock;        /* 1, 0, or -1 if unknown */
	char leases_enable[32];  /* "" if the sysctl is absent */
	char lease_break_time[32];
};

struct backend_report {
	int err; /* zc_ctx_query result */
	struct zc_backend_info info;
};

enum reg_kind { REG_ANON = 0, REG_MAP_FILE = 1 };

struct reg_report {
	bool skipped;
	char skip_reason[64];
	size_t length;
	uint64_t file_offset;
	unsigned access;
	int err; /* zc_reg_create result */
	enum zc_backend backend;
	struct zc_attempt *attempts;
	int nr_attempts;
	int attempts_err; /* zc_reg_attempts error, 0 if fine */
};

struct file_report {
	const char *path;
	bool rdwr;
	char error[160]; /* non-empty: could not open or probe */
	struct zc_file_info info;
	struct reg_report reg[2];
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

/* First line of a file without its newline; "" if it cannot be read. */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* The value of "Key:" in /proc/self/status, whitespace trimmed. */
static bool status_field(const char *key, char *buf, size_t len)
{
	char line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		const char *v;

		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		v = line + klen + 1;
		v += strspn(v, " \t");
		snprintf(buf, len, "%s", v);
		buf[strcspn(buf, "\n")] = '\0';
		found = true;
		break;
	}
	fclose(f);
	return found;
}

static const char *const feature_names[] = {
	"single_mmap", "nodrop", "submit_stable", "rw_cur_pos",
	"cur_personality", "fast_poll", "poll_32bits", "sqpoll_nonfixed",
	"ext_arg", "native_workers", "rsrc_tags", "cqe_skip", "linked_file",
	"reg_reg_ring", "recvsend_bundle", "min_timeout", "rw_attr",
	"no_iowait",
};
#define NR_FEATURE_NAMES (sizeof(feature_names) / sizeof(feature_names[0]))

static const char *const cap_names[] = {
	"zerocopy", "map_file", "rdma", "uring", "revocable",
};
#define NR_CAP_NAMES (sizeof(cap_names) / sizeof(cap_names[0]))

static const char *const file_flag_names[] = {
	"regular", "blockdev", "readable", "writable",
	"direct", "dax", "shmem", "lease_ok",
};
#define NR_FILE_FLAG_NAMES (sizeof(file_flag_names) / sizeof(file_flag_names[0]))

/* ------------------------------------------------------------------ */
/* kernel facts, measured by zcinfo itself                              */

#ifdef ZC_TOOL_HAVE_LIBURING
/* IORING_REGISTER_CLONE_BUFFERS (Linux 6.12) is newer than the liburing
 * headers zcinfo may be built with, so its number and argument are
 * spelled out here. */
#define ZC_IORING_REGISTER_CLONE_BUFFERS 30
struct zc_clone_buffers_arg {
	uint32_t src_fd;
	uint32_t flags;
	uint32_t src_off;
	uint32_t dst_off;
	uint32_t nr;
	uint32_t pad[3];
};

/* Clone the one sparse buffer of a second ring into ring. Success, or an
 * error that says the tables clash, means the kernel knows the opcode; an
 * unknown register opcode gives EINVAL. */
static void probe_clone_buffers(struct io_uring *ring, struct uring_facts *u)
{
	struct zc_clone_buffers_arg arg;
	struct io_uring src;
	int ret;

	ret = io_uring_queue_init(1, &src, 0);
	if (ret < 0) {
		u->clone_err = -ret;
		snprintf(u->clone_note, sizeof u->clone_note,
			 "second ring: io_uring_queue_init: %s",
			 strerror(-ret));
		return;
	}
	ret = io_uring_register_buffers_sparse(&src, 1);
	if (ret < 0) {
		u->clone_err = -ret;
		snprintf(u->clone_note, sizeof u->clone_note,
			 "source ring: io_uring_register_buffers_sparse: %s",
			 strerror(-ret));
		io_uring_queue_exit(&src);
		return;
	}
	memset(&arg, 0, sizeof arg);
	arg.src_fd = (uint32_t)src.ring_fd;
	ret = io_uring_register((unsigned)ring->ring_fd,
				ZC_IORING_REGISTER_CLONE_BUFFERS, &arg, 1);
	io_uring_queue_exit(&src);

	u->clone_err = ret < 0 ? -ret : 0;
	switch (u->clone_err) {
	case 0:
	case EBUSY:
	case EEXIST:
	case EOVERFLOW:
	case ENXIO:
		u->clone = CLONE_YES;
		break;
	case EINVAL:
	case EOPNOTSUPP:
		u->clone = CLONE_NO;
		break;
	default:
		u->clone = CLONE_UNKNOWN;
		break;
	}
	if (u->clone_err)
		snprintf(u->clone_note, sizeof u->clone_note,
			 "IORING_REGISTER_CLONE_BUFFERS: %s",
			 strerror(u->clone_err));
	else
		snprintf(u->clone_note, sizeof u->clone_note,
			 "IORING_REGISTER_CLONE_BUFFERS succeeded");
}

static void probe_uring(struct uring_facts *u)
{
	struct io_uring_params params;
	struct io_uring ring;
	int ret;

	u->built = true;
	memset(&params, 0, sizeof params);
	ret = io_uring_queue_init_params(4, &ring, &params);
	if (ret < 0) {
		u->setup_err = -ret;
		snprintf(u->clone_note, sizeof u->clone_note,
			 "no ring to probe with");
		return;
	}
	u->ok = true;
	u->features = params.features;
	probe_clone_buffers(&ring, u);
	io_uring_queue_exit(&ring);
}
#else
static void probe_uring(struct uring_facts *u)
{
	u->built = false;
}
#endif

static void probe_kernel(struct kernel_facts *k)
{
	struct utsname uts;
	char capeff[64];

	memset(k, 0, sizeof *k);
	if (uname(&uts) == 0)
		snprintf(k->release, sizeof k->release, "%s", uts.release);

	probe_uring(&k->uring);
	read_line("/proc/sys/kernel/io_uring_disabled", k->uring.disabled,
		  sizeof k->uring.disabled);
	if (!status_field("Seccomp", k->uring.seccomp, sizeof k->uring.seccomp))
		k->uring.seccomp[0] = '\0';

	k->memlock_known = getrlimit(RLIMIT_MEMLOCK, &k->memlock) == 0;

	k->cap_ipc_lock = -1;
	if (status_field("CapEff", capeff, sizeof capeff)) {
		char *end;
		unsigned long long caps = strtoull(capeff, &end, 16);

		if (end != capeff)
			k->cap_ipc_lock = (caps >> 14) & 1; /* CAP_IPC_LOCK */
	}

	read_line("/proc/sys/fs/leases-enable", k->leases_enable,
		  sizeof k->leases_enable);
	read_line("/proc/sys/fs/lease-break-time", k->lease_break_time,
		  sizeof k->lease_break_time);
}

/* ------------------------------------------------------------------ */
/* library facts                                                        */

static void probe_backends(struct zc_ctx *ctx, struct backend_report *rep)
{
	int b;

	for (b = 1; b <= ZC_BACKEND_MAX; b++) {
		memset(&rep[b], 0, sizeof rep[b]);
		rep[b].err = zc_ctx_query(ctx, (enum zc_backend)b, &rep[b].info);
	}
}

static void register_once(struct zc_file *zf, const struct zc_reg_params *p,
			  struct reg_report *rr)
{
	struct zc_reg *r;
	int n;

	rr->err = zc_reg_create(zf, p, &r);
	if (rr->err < 0)
		return;
	rr->backend = zc_reg_backend(r);
	n = zc_reg_attempts(r, NULL, 0);
	if (n > 0) {
		rr->attempts = calloc((size_t)n, sizeof *rr->attempts);
		if (rr->attempts)
			n = zc_reg_attempts(r, rr->attempts, (unsigned)n);
		else
			n = -ENOMEM;
	}
	if (n < 0)
		rr->attempts_err = n;
	else
		rr->nr_attempts = n;
	n = zc_reg_destroy(r);
	if (n < 0)
		fprintf(stderr, "zcinfo: zc_reg_destroy: %s\n", zc_strerror(n));
}

/* (a) 1 MiB of the caller's anonymous memory registered against the file */
static void probe_anon(struct zc_file *zf, struct file_report *fr)
{
	struct reg_report *rr = &fr->reg[REG_ANON];
	struct zc_reg_params p;
	void *mem;

	rr->length = PROBE_BYTES;
	rr->access = fr->rdwr ? ZC_ACCESS_READ | ZC_ACCESS_WRITE : ZC_ACCESS_READ;
	mem = mmap(NULL, PROBE_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		rr->err = -errno;
		return;
	}
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_ADDR | ZC_REG_FIELD_LENGTH |
		       ZC_REG_FIELD_ACCESS;
	p.addr = mem;
	p.length = PROBE_BYTES;
	p.access = rr->access;
	register_once(zf, &p, rr);
	munmap(mem, PROBE_BYTES);
}

/* (b) the file's own first min(size, 1 MiB) bytes, whole pages */
static void probe_map_file(struct zc_file *zf, struct file_report *fr)
{
	struct reg_report *rr = &fr->reg[REG_MAP_FILE];
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t len = fr->info.file_size;
	struct zc_reg_params p;

	if (len > PROBE_BYTES)
		len = PROBE_BYTES;
	len -= len % page;
	rr->access = fr->rdwr ? ZC_ACCESS_READ | ZC_ACCESS_WRITE : ZC_ACCESS_READ;
	if (len == 0) {
		rr->skipped = true;
		snprintf(rr->skip_reason, sizeof rr->skip_reason, "%s",
			 fr->info.file_size ? "file is smaller than one page"
					    : "file is empty");
		return;
	}
	rr->length = (size_t)len;
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS |
		       ZC_REG_FIELD_ACCESS;
	p.length = (size_t)len;
	p.flags = ZC_REG_MAP_FILE;
	p.access = rr->access;
	register_once(zf, &p, rr);
}

/* Open without blocking on a FIFO or waiting for a lease holder to let
 * go (the open still starts the lease break: EAGAIN instead of a wait),
 * then drop O_NONBLOCK so the library sees an ordinary descriptor. */
static int open_file(const char *path, bool *rdwr)
{
	int fd, fl;

	*rdwr = true;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*rdwr = false;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static bool probe_file(struct zc_ctx *ctx, struct file_report *fr)
{
	struct zc_file *zf;
	int fd, ret;

	fd = open_file(fr->path, &fr->rdwr);
	if (fd < 0) {
		snprintf(fr->error, sizeof fr->error, "open: %s",
			 strerror(-fd));
		return false;
	}
	ret = zc_file_open(ctx, fd, 0, &zf);
	if (ret < 0) {
		snprintf(fr->error, sizeof fr->error, "zc_file_open: %s",
			 zc_strerror(ret));
		close(fd);
		return false;
	}
	ret = zc_file_query(zf, &fr->info, sizeof fr->info);
	if (ret < 0) {
		snprintf(fr->error, sizeof fr->error, "zc_file_query: %s",
			 zc_strerror(ret));
		zc_file_close(zf);
		close(fd);
		return false;
	}
	probe_anon(zf, fr);
	probe_map_file(zf, fr);
	zc_file_close(zf);
	close(fd);
	return true;
}

/* ------------------------------------------------------------------ */
/* text output                                                          */

static const char *human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (u + 1 < sizeof(unit) / sizeof(unit[0]) && v >= 1024 &&
	       v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, unit[u]);
	return buf;
}

static void print_names(uint64_t bits, const char *const *names,
			unsigned nr_names)
{
	const char *sep = "";
	unsigned i;

	for (i = 0; i < 64; i++) {
		if (!(bits & (UINT64_C(1) << i)))
			continue;
		if (i < nr_names)
			printf("%s%s", sep, names[i]);
		else
			printf("%sbit%u", sep, i);
		sep = " ";
	}
	if (!*sep)
		printf("none");
}

static const char *access_words(unsigned access)
{
	if ((access & (ZC_ACCESS_READ | ZC_ACCESS_WRITE)) ==
	    (ZC_ACCESS_READ | ZC_ACCESS_WRITE))
		return "read+write";
	return access & ZC_ACCESS_WRITE ? "write" : "read";
}

static void print_rlim(rlim_t v)
{
	char buf[32];

	if (v == RLIM_INFINITY)
		printf("unlimited");
	else
		printf("%s", human_bytes((uint64_t)v, buf, sizeof buf));
}

static void text_kernel(const struct kernel_facts *k)
{
	const struct uring_facts *u = &k->uring;

	printf("\nkernel facts:\n");
	printf("  release:               %s\n", k->release[0] ? k->release : "?");
	if (!u->built) {
		printf("  io_uring:              not built\n");
		printf("  io_uring features:     not built\n");
		printf("  io_uring clone bufs:   not built\n");
	} else if (!u->ok) {
		printf("  io_uring:              ring setup failed: %s (errno %d)\n",
		       strerror(u->setup_err), u->setup_err);
		printf("  io_uring_disabled:     %s\n",
		       u->disabled[0] ? u->disabled : "(no such sysctl)");
		printf("  seccomp:               %s%s\n",
		       u->seccomp[0] ? u->seccomp : "(unknown)",
		       !strcmp(u->seccomp, "0") ? " (no filter)" :
		       !strcmp(u->seccomp, "1") ? " (strict mode)" :
		       !strcmp(u->seccomp, "2") ? " (filter active)" : "");
	} else {
		printf("  io_uring:              ring set up (io_uring_disabled=%s)\n",
		       u->disabled[0] ? u->disabled : "absent");
		printf("  io_uring features:     0x%08" PRIx32 " ", u->features);
		print_names(u->features, feature_names, NR_FEATURE_NAMES);
		printf("\n");
		printf("  io_uring clone bufs:   %s (%s)\n",
		       u->clone == CLONE_YES  ? "supported" :
		       u->clone == CLONE_NO   ? "not supported" :
						"unknown",
		       u->clone_note);
	}
	printf("  RLIMIT_MEMLOCK:        ");
	if (k->memlock_known) {
		printf("soft ");
		print_rlim(k->memlock.rlim_cur);
		printf(", hard ");
		print_rlim(k->memlock.rlim_max);
	} else {
		printf("unknown");
	}
	printf("\n  CAP_IPC_LOCK:          %s\n",
	       k->cap_ipc_lock < 0 ? "unknown" :
	       k->cap_ipc_lock	   ? "yes (pins are not charged to RLIMIT_MEMLOCK)" :
				     "no (pins count against RLIMIT_MEMLOCK)");
	printf("  fs.leases-enable:      %s\n",
	       k->leases_enable[0] ? k->leases_enable : "(no such sysctl)");
	printf("  fs.lease-break-time:   %s%s\n",
	       k->lease_break_time[0] ? k->lease_break_time : "(no such sysctl)",
	       k->lease_break_time[0] ? " s" : "");
}

static void text_backends(const struct backend_report *rep)
{
	int b;

	printf("\nbackends (best first):\n");
	for (b = 1; b <= ZC_BACKEND_MAX; b++) {
		const struct backend_report *r = &rep[b];

		if (r->err < 0) {
			printf("  %-12s query failed: %s\n",
			       zc_backend_name((enum zc_backend)b),
			       zc_strerror(r->err));
			continue;
		}
		printf("  %-12s %-12s %s\n", zc_backend_name((enum zc_backend)b),
		       r->info.available ? "available" : "unavailable",
		       r->info.reason);
		if (r->info.available) {
			printf("  %-12s %-12s caps: ", "", "");
			print_names(r->info.caps, cap_names, NR_CAP_NAMES);
			printf("\n");
		}
	}
}

static const char *attempt_error(const struct zc_attempt *a)
{
	return a->error ? zc_strerror(a->error) : "in use";
}

static void text_reg(const char *title, const struct reg_report *rr)
{
	char buf[32];
	int i, width = 0;

	if (rr->skipped) {
		printf("  %s: skipped (%s)\n", title, rr->skip_reason);
		return;
	}
	printf("  %s, %s (%s):\n", title,
	       human_bytes(rr->length, buf, sizeof buf),
	       access_words(rr->access));
	if (rr->err < 0) {
		printf("    failed: %s\n", zc_strerror(rr->err));
		return;
	}
	printf("    backend: %s\n", zc_backend_name(rr->backend));
	if (rr->attempts_err < 0) {
		printf("    attempts: zc_reg_attempts: %s\n",
		       zc_strerror(rr->attempts_err));
		return;
	}
	for (i = 0; i < rr->nr_attempts; i++) {
		const struct zc_attempt *a = &rr->attempts[i];
		int w = (int)strlen(attempt_error(a));

		width = w > width ? w : width;
	}
	for (i = 0; i < rr->nr_attempts; i++) {
		const struct zc_attempt *a = &rr->attempts[i];

		printf("    %d. %-12s %-*s  %s\n", i + 1,
		       zc_backend_name(a->backend), width, attempt_error(a),
		       a->reason);
	}
}

static void text_file(const struct file_report *fr)
{
	const struct zc_file_info *in = &fr->info;
	char b1[32], b2[32];

	printf("\nfile %s", fr->path);
	if (fr->error[0]) {
		printf(":\n  error: %s\n", fr->error);
		return;
	}
	printf(" (opened %s):\n", fr->rdwr ? "read-write" : "read-only");
	printf("  file system:    %s (magic 0x%08" PRIx32 ")\n", in->fs_name,
	       in->fs_magic);
	printf("  flags:          ");
	print_names(in->flags, file_flag_names, NR_FILE_FLAG_NAMES);
	printf("\n  size:           %" PRIu64 " bytes\n", in->file_size);
	if (in->dio_mem_align || in->dio_offset_align)
		printf("  O_DIRECT align: memory %s, offset/length %s\n",
		       human_bytes(in->dio_mem_align, b1, sizeof b1),
		       human_bytes(in->dio_offset_align, b2, sizeof b2));
	else
		printf("  O_DIRECT align: unknown or not supported\n");
	if (in->blockdev[0] || in->dev_major || in->dev_minor)
		printf("  block device:   %s (%" PRIu32 ":%" PRIu32 ")\n",
		       in->blockdev[0] ? in->blockdev : "?", in->dev_major,
		       in->dev_minor);
	else
		printf("  block device:   none\n");
	if (in->max_segments)
		printf("  max segments:   %" PRIu32 " per request (O_DIRECT ops over "
		       "more pages go as plain reads/writes)\n",
		       in->max_segments);
	printf("  PCI device:     %s\n", in->pci_bdf[0] ? in->pci_bdf : "none");
	if (in->numa_node >= 0)
		printf("  NUMA node:      %d\n", in->numa_node);
	else
		printf("  NUMA node:      unknown\n");
	printf("  lease:          %s\n", in->lease_reason);
	text_reg("registration of anonymous memory", &fr->reg[REG_ANON]);
	text_reg("ZC_REG_MAP_FILE registration at offset 0",
		 &fr->reg[REG_MAP_FILE]);
}

static void print_text(const struct kernel_facts *k,
		       const struct backend_report *rep,
		       const struct file_report *files, int nr_files)
{
	unsigned v = zc_version();
	int i;

	printf("libzerocopy %u.%u.%u (zcinfo built against %d.%d.%d)\n",
	       v >> 16, (v >> 8) & 0xff, v & 0xff, ZC_VERSION_MAJOR,
	       ZC_VERSION_MINOR, ZC_VERSION_PATCH);
	text_backends(rep);
	text_kernel(k);
	for (i = 0; i < nr_files; i++)
		text_file(&files[i]);
}

/* ------------------------------------------------------------------ */
/* JSON output                                                          */

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 (a file name may hold any)
 * come out as the code point of the same value. */
static void json_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	putchar('"');
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0) {
			printf("\\u%04x", *s++);
		} else if (n > 1) {
			fwrite(s, 1, n, stdout);
			s += n;
		} else if (*s == '"' || *s == '\\') {
			printf("\\%c", *s++);
		} else if (*s == '\n') {
			printf("\\n");
			s++;
		} else if (*s == '\t') {
			printf("\\t");
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else {
			putchar(*s++);
		}
	}
	putchar('"');
}

static void json_names(uint64_t bits, const char *const *names,
		       unsigned nr_names)
{
	const char *sep = "";
	unsigned i;

	putchar('[');
	for (i = 0; i < 64; i++) {
		if (!(bits & (UINT64_C(1) << i)))
			continue;
		printf("%s", sep);
		if (i < nr_names) {
			json_str(names[i]);
		} else {
			printf("\"bit%u\"", i);
		}
		sep = ",";
	}
	putchar(']');
}

/* a sysctl value: a number when it is one, the text otherwise, null when
 * absent */
static void json_sysctl(const char *v)
{
	char *end;

	if (!v[0]) {
		printf("null");
		return;
	}
	(void)strtoll(v, &end, 10);
	if (end != v && !*end)
		printf("%s", v);
	else
		json_str(v);
}

static void json_rlim(rlim_t v)
{
	if (v == RLIM_INFINITY)
		printf("\"unlimited\"");
	else
		printf("%" PRIu64, (uint64_t)v);
}

static void json_kernel(const struct kernel_facts *k)
{
	const struct uring_facts *u = &k->uring;

	printf("\"kernel\":{\"release\":");
	json_str(k->release);
	printf(",\"io_uring\":{\"built\":%s", u->built ? "true" : "false");
	if (u->built) {
		printf(",\"setup\":%s", u->ok ? "true" : "false");
		if (u->ok) {
			printf(",\"setup_error\":null,\"features\":%" PRIu32
			       ",\"feature_names\":",
			       u->features);
			json_names(u->features, feature_names, NR_FEATURE_NAMES);
			printf(",\"clone_buffers\":%s,\"clone_buffers_note\":",
			       u->clone == CLONE_YES  ? "true" :
			       u->clone == CLONE_NO   ? "false" :
							"null");
			json_str(u->clone_note);
		} else {
			printf(",\"setup_error\":");
			json_str(strerror(u->setup_err));
			printf(",\"setup_errno\":%d", u->setup_err);
		}
	}
	printf(",\"io_uring_disabled\":");
	json_sysctl(u->disabled);
	printf(",\"seccomp\":");
	json_sysctl(u->seccomp);
	printf("},\"memlock\":");
	if (k->memlock_known) {
		printf("{\"soft\":");
		json_rlim(k->memlock.rlim_cur);
		printf(",\"hard\":");
		json_rlim(k->memlock.rlim_max);
		printf("}");
	} else {
		printf("null");
	}
	printf(",\"cap_ipc_lock\":%s",
	       k->cap_ipc_lock < 0 ? "null" : k->cap_ipc_lock ? "true" : "false");
	printf(",\"leases_enable\":");
	json_sysctl(k->leases_enable);
	printf(",\"lease_break_time\":");
	json_sysctl(k->lease_break_time);
	printf("}");
}

static void json_backends(const struct backend_report *rep)
{
	int b;

	printf("\"backends\":[");
	for (b = 1; b <= ZC_BACKEND_MAX; b++) {
		const struct backend_report *r = &rep[b];

		printf("%s{\"id\":%d,\"name\":", b > 1 ? "," : "", b);
		json_str(zc_backend_name((enum zc_backend)b));
		if (r->err < 0) {
			printf(",\"available\":false,\"caps\":[],\"reason\":");
			json_str(zc_strerror(r->err));
		} else {
			printf(",\"available\":%s,\"caps\":",
			       r->info.available ? "true" : "false");
			json_names(r->info.caps, cap_names, NR_CAP_NAMES);
			printf(",\"reason\":");
			json_str(r->info.reason);
		}
		printf("}");
	}
	printf("]");
}

static void json_reg(const struct reg_report *rr)
{
	int i;

	if (rr->skipped) {
		printf("{\"skipped\":true,\"reason\":");
		json_str(rr->skip_reason);
		printf("}");
		return;
	}
	printf("{\"skipped\":false,\"length\":%zu,\"file_offset\":%" PRIu64
	       ",\"access\":",
	       rr->length, rr->file_offset);
	json_str(access_words(rr->access));
	if (rr->err < 0) {
		printf(",\"error\":");
		json_str(zc_strerror(rr->err));
		printf(",\"errno\":%d,\"backend\":null,\"attempts\":[]}",
		       -rr->err);
		return;
	}
	printf(",\"error\":null,\"backend\":");
	json_str(zc_backend_name(rr->backend));
	printf(",\"attempts\":[");
	for (i = 0; i < rr->nr_attempts; i++) {
		const struct zc_attempt *a = &rr->attempts[i];

		printf("%s{\"backend\":", i ? "," : "");
		json_str(zc_backend_name(a->backend));
		printf(",\"error\":");
		if (a->error)
			json_str(zc_strerror(a->error));
		else
			printf("null");
		printf(",\"errno\":%d,\"reason\":", -a->error);
		json_str(a->reason);
		printf("}");
	}
	printf("]}");
}

static void json_file(const struct file_report *fr)
{
	const struct zc_file_info *in = &fr->info;

	printf("{\"path\":");
	json_str(fr->path);
	if (fr->error[0]) {
		printf(",\"error\":");
		json_str(fr->error);
		printf("}");
		return;
	}
	printf(",\"error\":null,\"opened\":\"%s\",\"fs_name\":",
	       fr->rdwr ? "read-write" : "read-only");
	json_str(in->fs_name);
	printf(",\"fs_magic\":%" PRIu32 ",\"flags\":", in->fs_magic);
	json_names(in->flags, file_flag_names, NR_FILE_FLAG_NAMES);
	printf(",\"size\":%" PRIu64 ",\"dio_mem_align\":%" PRIu32
	       ",\"dio_offset_align\":%" PRIu32 ",\"dev\":\"%" PRIu32
	       ":%" PRIu32 "\",\"blockdev\":",
	       in->file_size, in->dio_mem_align, in->dio_offset_align,
	       in->dev_major, in->dev_minor);
	if (in->blockdev[0])
		json_str(in->blockdev);
	else
		printf("null");
	printf(",\"pci_bdf\":");
	if (in->pci_bdf[0])
		json_str(in->pci_bdf);
	else
		printf("null");
	printf(",\"max_segments\":%" PRIu32 ",\"numa_node\":%d,\"lease_reason\":",
	       in->max_segments, in->numa_node);
	json_str(in->lease_reason);
	printf(",\"anon_registration\":");
	json_reg(&fr->reg[REG_ANON]);
	printf(",\"map_file_registration\":");
	json_reg(&fr->reg[REG_MAP_FILE]);
	printf("}");
}

static void print_json(const struct kernel_facts *k,
		       const struct backend_report *rep,
		       const struct file_report *files, int nr_files)
{
	unsigned v = zc_version();
	int i;

	printf("{\"version\":\"%u.%u.%u\",", v >> 16, (v >> 8) & 0xff,
	       v & 0xff);
	json_backends(rep);
	putchar(',');
	json_kernel(k);
	printf(",\"files\":[");
	for (i = 0; i < nr_files; i++) {
		if (i)
			putchar(',');
		json_file(&files[i]);
	}
	printf("]}\n");
}

/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zcinfo [--json] [FILE...]\n"
		"\n"
		"Report which libzerocopy backends work on this machine and why,\n"
		"the kernel facts behind that, and for each FILE what the library\n"
		"sees in it and which backend a registration against it takes.\n"
		"\n"
		"  --json      print one JSON object instead of text\n"
		"  -h, --help  print this help\n"
		"\n"
		"ZC_BACKENDS, ZC_LOG and ZC_FAULT apply as in any program using\n"
		"the library; without ZC_LOG only errors are logged.\n"
		"Exit status: 0 ok, 1 a FILE could not be opened or probed, 2 usage.\n");
}

int main(int argc, char **argv)
{
	struct backend_report backends[ZC_BACKEND_MAX + 1];
	struct zc_ctx_params params;
	struct kernel_facts kernel;
	struct file_report *files;
	struct zc_ctx *ctx;
	bool json = false, opts_done = false;
	int i, nr_files = 0, status = 0, ret;

	files = calloc((size_t)argc, sizeof *files);
	if (!files) {
		fprintf(stderr, "zcinfo: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || !a[1]) {
			files[nr_files++].path = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			free(files);
			return 0;
		} else {
			fprintf(stderr, "zcinfo: unknown option '%s'\n", a);
			usage(stderr);
			free(files);
			return 2;
		}
	}

	memset(&params, 0, sizeof params);
	if (!getenv("ZC_LOG")) {
		params.field_mask = ZC_CTX_FIELD_LOG_LEVEL;
		params.log_level = ZC_LOG_ERROR;
	}
	ret = zc_ctx_create(&params, &ctx);
	if (ret < 0) {
		fprintf(stderr, "zcinfo: zc_ctx_create: %s\n", zc_strerror(ret));
		free(files);
		return 1;
	}

	probe_kernel(&kernel);
	probe_backends(ctx, backends);
	for (i = 0; i < nr_files; i++)
		if (!probe_file(ctx, &files[i]))
			status = 1;

	if (json)
		print_json(&kernel, backends, files, nr_files);
	else
		print_text(&kernel, backends, files, nr_files);

	for (i = 0; i < nr_files; i++) {
		free(files[i].reg[REG_ANON].attempts);
		free(files[i].reg[REG_MAP_FILE].attempts);
	}
	free(files);
	zc_ctx_destroy(ctx);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "zcinfo: write error: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
