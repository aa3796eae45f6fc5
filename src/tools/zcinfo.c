/* SPDX-License-Identifier: MIT */
/*
 * zcinfo: what libzerocopy can do on this machine, and why.
 *
 *   zcinfo [--json] [FILE...]
 *
 * Prints every backend with the library's verdict, the kernel facts those
 * verdicts rest on (measured here independently of the library, so the two
 * can be compared), the machine's PCIe peer memory (p2pmem) publishers, and
 * for each FILE what the library sees in it, which backend two typical
 * registrations would land on, with every attempt, and which publishers
 * the file's device reaches (zc_p2p_providers), how far and why.
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

#include "report.h"
#if ZC_TOOL_HAVE_IBVERBS
#include <infiniband/verbs.h>

#include "quirks.h"    /* compiled in: the library's table of device quirks */
#include "sys/verbs.h" /* compiled in: the library's dlopen seam */
#endif
#include "sys/proc.h"  /* compiled in: the library's CapEff reader */
#include "sys/uring.h" /* the clone-buffers uapi, defined once */
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

/* zc_p2p_providers of a file, or of the machine (no file) */
struct p2p_report {
	int err; /* zc_p2p_providers error, 0 if fine */
	int nr;
	struct zc_p2p_provider *list;
};

struct file_report {
	const char *path;
	bool rdwr;
	char error[160]; /* non-empty: could not open or probe */
	struct zc_file_info info;
	struct reg_report reg[2];
	struct p2p_report p2p;
};

#define MAX_RDMA_DEVICES 16

struct rdma_device {
	char name[64];
	int err;         /* positive errno of open/query, 0 if fine */
	const char *err_call;
	uint32_t vendor_id;
	uint64_t odp_caps;
	uint32_t rc_odp_caps;
};

struct rdma_facts {
	bool built;        /* zcinfo was built with the verbs headers */
	char verbs[192];   /* libibverbs loaded, or why not */
	char devices_reason[192];
	int nr;
	struct rdma_device dev[MAX_RDMA_DEVICES];
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

/* ------------------------------------------------------------------ */
/* kernel facts, measured by zcinfo itself                              */

#ifdef ZC_TOOL_HAVE_LIBURING

/* Clone the one sparse buffer of a second ring into ring. Success, or an
 * error that says the tables clash, means the kernel knows the opcode; an
 * unknown register opcode gives EINVAL. */
static void probe_clone_buffers(struct io_uring *ring, struct uring_facts *u)
{
	struct zc_clone_buffers arg;
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

#if ZC_TOOL_HAVE_IBVERBS
static void probe_rdma_device(const struct zc_verbs *v, struct ibv_device *d,
			      struct rdma_device *rd)
{
	struct ibv_device_attr_ex attr;
	struct ibv_context *c;

	snprintf(rd->name, sizeof rd->name, "%s", v->get_device_name(d));
	errno = 0;
	c = v->open_device(d);
	if (!c) {
		rd->err = errno ? errno : ENODEV;
		rd->err_call = "ibv_open_device";
		return;
	}
	memset(&attr, 0, sizeof attr);
	rd->err = zc_verbs_query_device_ex(v, c, &attr);
	rd->err_call = "ibv_query_device_ex";
	rd->vendor_id = attr.orig_attr.vendor_id;
	rd->odp_caps = attr.odp_caps.general_caps;
	rd->rc_odp_caps = attr.odp_caps.per_transport_caps.rc_odp_caps;
	v->close_device(c);
}

/* every RDMA device and its ODP capabilities, through the library's seam */
static void probe_rdma(struct rdma_facts *r)
{
	struct ibv_device **list;
	struct zc_verbs v;
	int n;

	r->built = true;
	if (zc_verbs_open(&v, r->verbs, sizeof r->verbs))
		return;
	n = zc_verbs_devices(&v, &list, r->devices_reason,
			     sizeof r->devices_reason);
	for (int i = 0; i < n && r->nr < MAX_RDMA_DEVICES; i++)
		probe_rdma_device(&v, list[i], &r->dev[r->nr++]);
	if (n > 0)
		v.free_device_list(list);
	zc_verbs_close(&v);
}
#else
static void probe_rdma(struct rdma_facts *r)
{
	snprintf(r->verbs, sizeof r->verbs, "zcinfo built without the "
		 "libibverbs headers");
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

	/* unknown where /proc/self/status cannot be read */
	k->cap_ipc_lock = status_field("CapEff", capeff, sizeof capeff) ?
				  zc_proc_has_cap(14 /* CAP_IPC_LOCK */) : -1;

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

/* the p2pmem publishers, nearest to zf's device first (zf NULL: reach
 * unknown); they may come and go between the two calls */
static void probe_p2p(struct zc_ctx *ctx, const struct zc_file *zf,
		      struct p2p_report *pr)
{
	int cap = zc_p2p_providers(ctx, zf, NULL, 0, 0), n;

	memset(pr, 0, sizeof *pr);
	if (cap <= 0) {
		pr->err = cap < 0 ? cap : 0;
		return;
	}
	pr->list = calloc((size_t)cap, sizeof *pr->list);
	if (!pr->list) {
		pr->err = -ENOMEM;
		return;
	}
	n = zc_p2p_providers(ctx, zf, pr->list, (unsigned)cap,
			     sizeof(*pr->list));
	if (n < 0)
		pr->err = n;
	else
		pr->nr = n < cap ? n : cap; /* as many as fit */
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
	probe_p2p(ctx, zf, &fr->p2p);
	zc_file_close(zf);
	close(fd);
	return true;
}

/* ------------------------------------------------------------------ */
/* the report: every fact once, for the text and the JSON printer       */

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

static const char *access_words(unsigned access)
{
	if ((access & (ZC_ACCESS_READ | ZC_ACCESS_WRITE)) ==
	    (ZC_ACCESS_READ | ZC_ACCESS_WRITE))
		return "read+write";
	return access & ZC_ACCESS_WRITE ? "write" : "read";
}

/* io_uring_params.features bits are the kernel's, not the library's */
static const char *feature_name(uint64_t bit)
{
	for (unsigned i = 0; i < NR_FEATURE_NAMES; i++)
		if (bit == UINT64_C(1) << i)
			return feature_names[i];
	return NULL;
}

static const char *file_flag_name(uint64_t bit)
{
	return bit > UINT32_MAX ? NULL : zc_file_flag_name((uint32_t)bit);
}

static void add_rlim(struct fact *parent, const char *key, rlim_t v)
{
	char buf[32];

	if (v == RLIM_INFINITY)
		fact_str(parent, key, NULL, "unlimited");
	else
		fact_text(fact_uint(parent, key, NULL, (uint64_t)v), "%s",
			  human_bytes((uint64_t)v, buf, sizeof buf));
}

static void add_uring(struct fact *parent, const struct uring_facts *u)
{
	struct fact *o = fact_obj(parent, "io_uring", NULL);

	fact_bool(o, "built", "built with liburing", u->built);
	if (u->built) {
		fact_bool(o, "setup", "ring set up", u->ok);
		if (u->ok) {
			fact_null(o, "setup_error", "setup error");
			fact_text(fact_uint(o, "features", NULL, u->features),
				  "0x%08" PRIx32, u->features);
			fact_bits(o, "feature_names", "feature names",
				  u->features, feature_name);
			if (u->clone == CLONE_UNKNOWN)
				fact_text(fact_null(o, "clone_buffers",
						    "clone buffers"), "unknown");
			else
				fact_text(fact_bool(o, "clone_buffers",
						    "clone buffers",
						    u->clone == CLONE_YES),
					  "%s", u->clone == CLONE_YES ?
					  "supported" : "not supported");
			fact_str(o, "clone_buffers_note", "clone buffers note",
				 u->clone_note);
		} else {
			fact_str(o, "setup_error", "setup error",
				 strerror(u->setup_err));
			fact_int(o, "setup_errno", "setup errno", u->setup_err);
		}
	}
	fact_text(fact_numstr(o, "io_uring_disabled", "kernel.io_uring_disabled",
			      u->disabled),
		  "%s", u->disabled[0] ? u->disabled : "(no such sysctl)");
	fact_text(fact_numstr(o, "seccomp", NULL, u->seccomp), "%s%s",
		  u->seccomp[0] ? u->seccomp : "(unknown)",
		  !strcmp(u->seccomp, "0") ? " (no filter)" :
		  !strcmp(u->seccomp, "1") ? " (strict mode)" :
		  !strcmp(u->seccomp, "2") ? " (filter active)" : "");
}

static void add_kernel(struct fact *root, const struct kernel_facts *k)
{
	struct fact *o = fact_obj(root, "kernel", "kernel facts");
	struct fact *f;

	fact_str(o, "release", NULL, k->release);
	add_uring(o, &k->uring);
	if (k->memlock_known) {
		f = fact_obj(o, "memlock", "RLIMIT_MEMLOCK");
		add_rlim(f, "soft", k->memlock.rlim_cur);
		add_rlim(f, "hard", k->memlock.rlim_max);
	} else {
		fact_text(fact_null(o, "memlock", "RLIMIT_MEMLOCK"), "unknown");
	}
	if (k->cap_ipc_lock < 0)
		fact_text(fact_null(o, "cap_ipc_lock", "CAP_IPC_LOCK"), "unknown");
	else
		fact_note(fact_bool(o, "cap_ipc_lock", "CAP_IPC_LOCK",
				    k->cap_ipc_lock),
			  "%s", k->cap_ipc_lock ?
			  "(pins are not charged to RLIMIT_MEMLOCK)" :
			  "(pins count against RLIMIT_MEMLOCK)");
	fact_text(fact_numstr(o, "leases_enable", "fs.leases-enable",
			      k->leases_enable),
		  "%s", k->leases_enable[0] ? k->leases_enable :
		  "(no such sysctl)");
	f = fact_numstr(o, "lease_break_time", "fs.lease-break-time",
			k->lease_break_time);
	if (k->lease_break_time[0])
		fact_note(f, "s");
	else
		fact_text(f, "(no such sysctl)");
}

#if ZC_TOOL_HAVE_IBVERBS
static const char *odp_general_name(uint64_t bit)
{
	return bit == IBV_ODP_SUPPORT ? "odp" :
	       bit == IBV_ODP_SUPPORT_IMPLICIT ? "implicit" : NULL;
}

static const char *odp_rc_name(uint64_t bit)
{
	static const char *const names[] = { "send", "recv", "write", "read",
					     "atomic", "srq_recv", "flush",
					     "atomic_write" };

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bit == UINT64_C(1) << i)
			return names[i];
	return NULL;
}

/* the library's quirks for this device, lifted or not */
static void add_quirks(struct fact *o, const struct rdma_device *d)
{
	struct fact *arr = fact_arr(o, "quirks", "quirks that apply");
	const struct zc_quirk *q;

	for (unsigned i = 0; (q = zc_quirk_at(i)); i++) {
		struct fact *qo;

		if (!zc_quirk_applies(q, d->name, d->vendor_id))
			continue;
		qo = fact_obj(arr, NULL, NULL);
		fact_title(fact_str(qo, "name", NULL, q->name));
		fact_str(qo, "reason", NULL, q->reason);
		fact_str(qo, "seen_on", "seen on kernel", q->seen_on);
	}
}

static void add_rdma_device(struct fact *arr, const struct rdma_device *d)
{
	struct fact *o = fact_obj(arr, NULL, NULL);
	char buf[160];

	fact_title(fact_text(fact_str(o, "name", NULL, d->name), "device %s",
			     d->name));
	if (d->err) {
		snprintf(buf, sizeof buf, "%s: %s", d->err_call, strerror(d->err));
		fact_str(o, "error", NULL, buf);
		return;
	}
	fact_null(o, "error", NULL);
	fact_text(fact_uint(o, "vendor_id", NULL, d->vendor_id), "0x%06" PRIx32,
		  d->vendor_id);
	fact_bits(o, "odp_caps", "ODP", d->odp_caps, odp_general_name);
	fact_bits(o, "rc_odp_caps", "ODP on RC QPs", d->rc_odp_caps, odp_rc_name);
	add_quirks(o, d);
}
#endif

static void add_rdma(struct fact *root, const struct rdma_facts *r)
{
	struct fact *o = fact_obj(root, "rdma", "RDMA devices");
	struct fact *arr;

	fact_str(o, "verbs", "libibverbs", r->verbs);
	if (r->devices_reason[0])
		fact_str(o, "devices_reason", "found", r->devices_reason);
	else
		fact_null(o, "devices_reason", "found");
	arr = fact_arr(o, "devices", NULL);
#if ZC_TOOL_HAVE_IBVERBS
	for (int i = 0; i < r->nr; i++)
		add_rdma_device(arr, &r->dev[i]);
#else
	(void)arr;
#endif
}

static void add_backends(struct fact *root, const struct backend_report *rep)
{
	struct fact *arr = fact_arr(root, "backends", "backends (best first)");
	int b;

	for (b = 1; b <= ZC_BACKEND_MAX; b++) {
		const struct backend_report *r = &rep[b];
		struct fact *o = fact_obj(arr, NULL, NULL);

		fact_int(o, "id", NULL, b);
		fact_title(fact_str(o, "name", NULL,
				    zc_backend_name((enum zc_backend)b)));
		fact_bool(o, "available", NULL, r->err >= 0 && r->info.available);
		fact_bits(o, "caps", NULL, r->err < 0 ? 0 : r->info.caps,
			  zc_cap_name);
		fact_str(o, "reason", NULL,
			 r->err < 0 ? zc_strerror(r->err) : r->info.reason);
	}
}

static void add_reg(struct fact *parent, const char *key, const char *label,
		    const struct reg_report *rr)
{
	struct fact *o = fact_obj(parent, key, label);
	struct fact *arr;
	char buf[32];
	int i;

	fact_bool(o, "skipped", NULL, rr->skipped);
	if (rr->skipped) {
		fact_str(o, "reason", NULL, rr->skip_reason);
		return;
	}
	fact_text(fact_uint(o, "length", NULL, rr->length), "%s",
		  human_bytes(rr->length, buf, sizeof buf));
	fact_uint(o, "file_offset", "file offset", rr->file_offset);
	fact_str(o, "access", NULL, access_words(rr->access));
	if (rr->err < 0) {
		fact_str(o, "error", NULL, zc_strerror(rr->err));
		fact_int(o, "errno", NULL, -rr->err);
		fact_null(o, "backend", NULL);
		fact_arr(o, "attempts", NULL);
		return;
	}
	fact_null(o, "error", NULL);
	fact_str(o, "backend", NULL, zc_backend_name(rr->backend));
	arr = fact_arr(o, "attempts", NULL);
	for (i = 0; i < rr->nr_attempts; i++) {
		const struct zc_attempt *a = &rr->attempts[i];
		struct fact *e = fact_obj(arr, NULL, NULL);

		fact_title(fact_text(fact_str(e, "backend", NULL,
					      zc_backend_name(a->backend)),
				     "%d. %s", i + 1, zc_backend_name(a->backend)));
		if (a->error)
			fact_str(e, "error", NULL, zc_strerror(a->error));
		else
			fact_text(fact_null(e, "error", NULL), "none (in use)");
		fact_int(e, "errno", NULL, -a->error);
		fact_str(e, "reason", NULL, a->reason);
	}
	if (rr->attempts_err < 0)
		fact_str(o, "attempts_error", "attempts error",
			 zc_strerror(rr->attempts_err));
}

/* every publisher of p2pmem: one object each, nearest first; reachable
 * is null (unknown) in the machine's list, which has no file */
static void add_p2p(struct fact *parent, const char *key, const char *label,
		    const struct p2p_report *pr, bool of_file)
{
	struct fact *arr;
	char buf[32];

	if (pr->err < 0) {
		fact_str(parent, "p2p_error", "p2p providers error",
			 zc_strerror(pr->err));
		fact_arr(parent, key, label);
		return;
	}
	fact_null(parent, "p2p_error", "p2p providers error");
	arr = fact_arr(parent, key, label);
	for (int i = 0; i < pr->nr; i++) {
		const struct zc_p2p_provider *p = &pr->list[i];
		struct fact *o = fact_obj(arr, NULL, NULL);

		fact_title(fact_text(fact_str(o, "pci_bdf", "PCI device", p->pci_bdf),
				     "provider %s", p->pci_bdf));
		fact_text(fact_uint(o, "size", NULL, p->size), "%s",
			  human_bytes(p->size, buf, sizeof buf));
		fact_text(fact_uint(o, "available", NULL, p->available), "%s",
			  human_bytes(p->available, buf, sizeof buf));
		fact_bool(o, "published", NULL, p->published);
		if (of_file)
			fact_bool(o, "reachable", NULL, p->reachable);
		else
			fact_text(fact_null(o, "reachable", NULL),
				  "unknown (no file)");
		if (p->distance >= 0)
			fact_note(fact_int(o, "distance", NULL, p->distance),
				  "%s", p->distance == 0 ? "(the file's own device)" :
				  "PCI hops");
		else
			fact_text(fact_null(o, "distance", NULL), "unknown");
		fact_str(o, "reason", NULL, p->reason);
	}
}

/* a string that is null when empty */
static struct fact *add_str_or_null(struct fact *parent, const char *key,
				    const char *label, const char *v)
{
	return v[0] ? fact_str(parent, key, label, v)
		    : fact_null(parent, key, label);
}

static void add_file(struct fact *arr, const struct file_report *fr)
{
	const struct zc_file_info *in = &fr->info;
	struct fact *o = fact_obj(arr, NULL, NULL);
	char buf[32];

	fact_title(fact_text(fact_str(o, "path", NULL, fr->path), "file %s",
			     fr->path));
	if (fr->error[0]) {
		fact_str(o, "error", NULL, fr->error);
		return;
	}
	fact_null(o, "error", NULL);
	fact_str(o, "opened", NULL, fr->rdwr ? "read-write" : "read-only");
	fact_str(o, "fs_name", "file system", in->fs_name);
	fact_text(fact_uint(o, "fs_magic", "fs magic", in->fs_magic),
		  "0x%08" PRIx32, in->fs_magic);
	fact_bits(o, "flags", NULL, in->flags, file_flag_name);
	fact_note(fact_uint(o, "size", NULL, in->file_size), "bytes");
	fact_text(fact_uint(o, "dio_mem_align", "O_DIRECT memory align",
			    in->dio_mem_align),
		  "%s", in->dio_mem_align ? human_bytes(in->dio_mem_align, buf,
							 sizeof buf)
					  : "unknown or not supported");
	fact_text(fact_uint(o, "dio_offset_align", "O_DIRECT offset align",
			    in->dio_offset_align),
		  "%s", in->dio_offset_align ?
		  human_bytes(in->dio_offset_align, buf, sizeof buf) :
		  "unknown or not supported");
	snprintf(buf, sizeof buf, "%" PRIu32 ":%" PRIu32, in->dev_major,
		 in->dev_minor);
	fact_str(o, "dev", "device number", buf);
	add_str_or_null(o, "blockdev", "block device", in->blockdev);
	add_str_or_null(o, "pci_bdf", "PCI device", in->pci_bdf);
	if (in->max_segments)
		fact_note(fact_uint(o, "max_segments", "max segments",
				    in->max_segments),
			  "per request (O_DIRECT ops over more pages go as "
			  "plain reads/writes)");
	else
		fact_text(fact_uint(o, "max_segments", "max segments", 0),
			  "unknown");
	if (in->numa_node >= 0)
		fact_int(o, "numa_node", "NUMA node", in->numa_node);
	else
		fact_text(fact_int(o, "numa_node", "NUMA node", in->numa_node),
			  "unknown");
	fact_str(o, "lease_reason", "lease", in->lease_reason);
	add_reg(o, "anon_registration", "registration of anonymous memory",
		&fr->reg[REG_ANON]);
	add_reg(o, "map_file_registration",
		"ZC_REG_MAP_FILE registration at offset 0",
		&fr->reg[REG_MAP_FILE]);
	add_p2p(o, "p2p_providers", "p2p providers", &fr->p2p, true);
}

static struct fact *build_report(const struct kernel_facts *k,
				 const struct rdma_facts *rdma,
				 const struct backend_report *rep,
				 const struct p2p_report *p2p,
				 const struct file_report *files, int nr_files)
{
	struct fact *root = fact_root(), *arr;
	unsigned v = zc_version();
	char buf[32];
	int i;

	snprintf(buf, sizeof buf, "%u.%u.%u", v >> 16, (v >> 8) & 0xff,
		 v & 0xff);
	fact_str(root, "version", "libzerocopy", buf);
	snprintf(buf, sizeof buf, "%d.%d.%d", ZC_VERSION_MAJOR,
		 ZC_VERSION_MINOR, ZC_VERSION_PATCH);
	fact_str(root, "built_against", "zcinfo built against", buf);
	add_backends(root, rep);
	add_kernel(root, k);
	add_rdma(root, rdma);
	/* the machine's publishers, reach unknown without a file */
	add_p2p(fact_obj(root, "p2p", "PCIe peer memory"), "providers",
		"p2p providers", p2p, false);
	arr = fact_arr(root, "files", NULL);
	for (i = 0; i < nr_files; i++)
		add_file(arr, &files[i]);
	return root;
}

/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zcinfo [--json] [FILE...]\n"
		"\n"
		"Report which libzerocopy backends work on this machine and why,\n"
		"the kernel facts behind that, the PCIe peer memory (p2pmem)\n"
		"publishers, and for each FILE what the library sees in it, which\n"
		"backend a registration against it takes, and which publishers\n"
		"its device reaches.\n"
		"\n"
		"  --json      print one JSON object instead of text\n"
		"  -h, --help  print this help\n"
		"\n"
		"ZC_BACKENDS, ZC_LOG, ZC_QUIRKS, ZC_FAULT and ZC_VERBS_LIB apply as\n"
		"in any program using the library; without ZC_LOG only errors are\n"
		"logged.\n"
		"Exit status: 0 ok, 1 a FILE could not be opened or probed, 2 usage.\n");
}

int main(int argc, char **argv)
{
	struct backend_report backends[ZC_BACKEND_MAX + 1];
	struct zc_ctx_params params;
	struct kernel_facts kernel;
	struct rdma_facts rdma;
	struct p2p_report p2p;
	struct file_report *files;
	struct fact *report;
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
	memset(&rdma, 0, sizeof rdma);
	probe_rdma(&rdma);
	probe_backends(ctx, backends);
	probe_p2p(ctx, NULL, &p2p);
	for (i = 0; i < nr_files; i++)
		if (!probe_file(ctx, &files[i]))
			status = 1;

	report = build_report(&kernel, &rdma, backends, &p2p, files, nr_files);
	if (json)
		report_json(stdout, report);
	else
		report_text(stdout, report);
	fact_free(report);

	for (i = 0; i < nr_files; i++) {
		free(files[i].reg[REG_ANON].attempts);
		free(files[i].reg[REG_MAP_FILE].attempts);
		free(files[i].p2p.list);
	}
	free(p2p.list);
	free(files);
	zc_ctx_destroy(ctx);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "zcinfo: write error: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
