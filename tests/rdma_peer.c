/* SPDX-License-Identifier: MIT */
/*
 * The remote RDMA peer of the real-kernel tests: see rdma_peer.h.
 *
 * Written against libibverbs' documented verbs only (ibv_modify_qp(3)
 * lists the attributes each QP state transition needs), so that a defect
 * it shows is the device's, not the library's under test.
 */
#include "rdma_peer.h"
#include "procfs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define PORT 1
/* QP retransmission: 4.096 us * 2^timeout per try. The probe of a device
 * pair that cannot reach each other should give up in a fraction of a
 * second; real transfers get seconds per try, since ODP page faults on
 * the responder under software emulation (TCG) are slow and a retry
 * storm would only add load. */
#define PROBE_TIMEOUT 14 /* 67 ms */
#define PROBE_RETRY 1
#define WORK_TIMEOUT 19 /* 2.1 s */
#define WORK_RETRY 7
#define PROBE_WAIT_MS 3000

struct side {
	struct ibv_context *ctx;
	bool own_ctx;
	struct ibv_pd *pd;
	bool own_pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	char dev[64];
	int gid_index;
	union ibv_gid gid;
	enum ibv_mtu mtu;
	uint8_t rd_atom;
};

struct zt_rdma_peer {
	struct side t; /* target: holds the memory under test */
	struct side i; /* initiator: posts READ and WRITE */
	uint64_t next_wr;
	char desc[768];
};

/* vsnprintf into buf, errno kept: callers return -errno after it */
static void say(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (!len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	errno = e;
}

static int mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128 << m : 0;
}

/* Read a small sysfs attribute into buf without its newline: 0 or -errno.
 * An empty GID table slot reads as EINVAL from gid_attrs/types. */
static int read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The GID index whose type is "RoCE v2" and whose GID is IPv4-mapped
 * (::ffff:a.b.c.d): rxe routes RoCE v2 over UDP/IPv4 by that address, and
 * the veth addresses of the test guest are IPv4. From sysfs, as the kernel
 * lists its GID table; the value is then read back through verbs. */
static int find_gid(struct side *s, int tbl_len, char *err, size_t len)
{
	char path[256], val[128];
	struct in6_addr a;

	for (int i = 0; i < tbl_len; i++) {
		snprintf(path, sizeof path,
			 "/sys/class/infiniband/%s/ports/%d/gid_attrs/types/%d",
			 s->dev, PORT, i);
		if (read_attr(path, val, sizeof val) || strcmp(val, "RoCE v2"))
			continue;
		snprintf(path, sizeof path, "/sys/class/infiniband/%s/ports/%d/gids/%d",
			 s->dev, PORT, i);
		if (read_attr(path, val, sizeof val) || inet_pton(AF_INET6, val, &a) != 1 ||
		    !IN6_IS_ADDR_V4MAPPED(&a))
			continue;
		if (ibv_query_gid(s->ctx, PORT, i, &s->gid)) {
			say(err, len, "%s: ibv_query_gid(port %d, index %d): %s", s->dev,
			    PORT, i, strerror(errno));
			return -errno;
		}
		if (memcmp(&s->gid, &a, sizeof a))
			continue; /* the table changed under us: look on */
		s->gid_index = i;
		return 0;
	}
	say(err, len,
	    "%s port %d: no RoCE v2 GID with an IPv4-mapped address among %d "
	    "(/sys/class/infiniband/%s/ports/%d/gid_attrs/types): give its netdev an IPv4 address",
	    s->dev, PORT, tbl_len, s->dev, PORT);
	return -ENOENT;
}

static void side_free(struct side *s)
{
	if (s->qp)
		ibv_destroy_qp(s->qp);
	if (s->cq)
		ibv_destroy_cq(s->cq);
	if (s->pd && s->own_pd)
		ibv_dealloc_pd(s->pd);
	if (s->ctx && s->own_ctx)
		ibv_close_device(s->ctx);
	memset(s, 0, sizeof *s);
}

/* ctx (and pd, when given) set by the caller; the rest made here */
static int side_init(struct side *s, char *err, size_t len)
{
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct ibv_qp_init_attr qa;
	int ret;

	snprintf(s->dev, sizeof s->dev, "%s", ibv_get_device_name(s->ctx->device));
	if (ibv_query_device(s->ctx, &da)) {
		say(err, len, "%s: ibv_query_device: %s", s->dev, strerror(errno));
		return -errno;
	}
	if (ibv_query_port(s->ctx, PORT, &pa)) {
		say(err, len, "%s: ibv_query_port(%d): %s", s->dev, PORT, strerror(errno));
		return -errno;
	}
	if (pa.state != IBV_PORT_ACTIVE) {
		say(err, len, "%s port %d is %s, not ACTIVE", s->dev, PORT,
		    ibv_port_state_str(pa.state));
		return -ENETDOWN;
	}
	if (pa.link_layer != IBV_LINK_LAYER_ETHERNET) {
		say(err, len, "%s port %d is not RoCE (link layer %u)", s->dev, PORT,
		    pa.link_layer);
		return -EPROTONOSUPPORT;
	}
	s->mtu = pa.active_mtu;
	s->rd_atom = da.max_qp_rd_atom < 8 ? (uint8_t)da.max_qp_rd_atom : 8;
	if (!s->rd_atom) {
		say(err, len, "%s: max_qp_rd_atom is 0: no RDMA READ", s->dev);
		return -EOPNOTSUPP;
	}
	ret = find_gid(s, pa.gid_tbl_len, err, len);
	if (ret)
		return ret;
	if (!s->pd) {
		s->pd = ibv_alloc_pd(s->ctx);
		if (!s->pd) {
			say(err, len, "%s: ibv_alloc_pd: %s", s->dev, strerror(errno));
			return -errno;
		}
		s->own_pd = true;
	}
	s->cq = ibv_create_cq(s->ctx, 32, NULL, NULL, 0);
	if (!s->cq) {
		say(err, len, "%s: ibv_create_cq: %s", s->dev, strerror(errno));
		return -errno;
	}
	memset(&qa, 0, sizeof qa);
	qa.send_cq = qa.recv_cq = s->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = 16;
	qa.cap.max_recv_wr = 1;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.sq_sig_all = 1;
	s->qp = ibv_create_qp(s->pd, &qa);
	if (!s->qp) {
		say(err, len, "%s: ibv_create_qp(RC): %s", s->dev, strerror(errno));
		return -errno;
	}
	return 0;
}

/* one QP through RESET -> INIT -> RTR -> RTS towards remote */
static int qp_connect(struct side *s, const struct side *r, enum ibv_mtu mtu,
		      uint8_t timeout, uint8_t retry, char *err, size_t len)
{
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RESET;
	if ((ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE))) {
		say(err, len, "%s: ibv_modify_qp(RESET): %s", s->dev, strerror(ret));
		return -ret;
	}
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_INIT;
	a.pkey_index = 0;
	a.port_num = PORT;
	a.qp_access_flags = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
	if ((ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					      IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))) {
		say(err, len, "%s: ibv_modify_qp(INIT): %s", s->dev, strerror(ret));
		return -ret;
	}
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = mtu;
	a.dest_qp_num = r->qp->qp_num;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = s->rd_atom;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = r->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)s->gid_index;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = PORT;
	if ((ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					      IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					      IBV_QP_MAX_DEST_RD_ATOMIC |
					      IBV_QP_MIN_RNR_TIMER))) {
		say(err, len, "%s: ibv_modify_qp(RTR, GID index %d -> %s): %s", s->dev,
		    s->gid_index, r->dev, strerror(ret));
		return -ret;
	}
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = timeout;
	a.retry_cnt = retry;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = s->rd_atom;
	if ((ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					      IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					      IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))) {
		say(err, len, "%s: ibv_modify_qp(RTS): %s", s->dev, strerror(ret));
		return -ret;
	}
	return 0;
}

static enum ibv_mtu path_mtu(const struct zt_rdma_peer *p)
{
	return p->t.mtu < p->i.mtu ? p->t.mtu : p->i.mtu;
}

static void drain(struct zt_rdma_peer *p)
{
	struct ibv_wc wc[8];

	while (ibv_poll_cq(p->i.cq, 8, wc) > 0)
		;
	while (ibv_poll_cq(p->t.cq, 8, wc) > 0)
		;
}

static int connect_both(struct zt_rdma_peer *p, uint8_t timeout, uint8_t retry,
			char *err, size_t len)
{
	int ret = qp_connect(&p->t, &p->i, path_mtu(p), timeout, retry, err, len);

	if (!ret)
		ret = qp_connect(&p->i, &p->t, path_mtu(p), timeout, retry, err, len);
	drain(p);
	return ret;
}

int zt_rdma_peer_reset(struct zt_rdma_peer *p, char *err, size_t len)
{
	return connect_both(p, WORK_TIMEOUT, WORK_RETRY, err, len);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int post_wait(struct zt_rdma_peer *p, enum ibv_wr_opcode op, void *local,
		     uint32_t lkey, size_t len, uint64_t raddr, uint32_t rkey,
		     int timeout_ms, char *err, size_t errlen)
{
	const char *name = op == IBV_WR_RDMA_READ ? "RDMA READ" : "RDMA WRITE";
	struct ibv_send_wr wr, *bad = NULL;
	struct ibv_sge sge;
	struct ibv_wc wc;
	int64_t deadline;
	unsigned idle = 0;
	int ret;

	if (len > UINT32_MAX) {
		say(err, errlen, "%s of %zu bytes: more than one SGE can hold", name, len);
		return -EINVAL;
	}
	memset(&wr, 0, sizeof wr);
	sge.addr = (uintptr_t)local;
	sge.length = (uint32_t)len;
	sge.lkey = lkey;
	wr.wr_id = ++p->next_wr;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = op;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	if ((ret = ibv_post_send(p->i.qp, &wr, &bad))) {
		say(err, errlen, "%s: ibv_post_send(%s, %zu bytes): %s", p->i.dev, name,
		    len, strerror(ret));
		return -ret;
	}
	deadline = now_ms() + timeout_ms;
	for (;;) {
		int n = ibv_poll_cq(p->i.cq, 1, &wc);

		if (n < 0) {
			say(err, errlen, "%s: ibv_poll_cq: %d", p->i.dev, n);
			return -EIO;
		}
		/* a completion of an earlier request that timed out here is
		 * not this one's */
		if (n == 1 && wc.wr_id == wr.wr_id) {
			if (wc.status != IBV_WC_SUCCESS)
				say(err, errlen, "%s of %zu bytes to 0x%" PRIx64 ": %s (%d)",
				    name, len, raddr, ibv_wc_status_str(wc.status),
				    wc.status);
			return (int)wc.status;
		}
		if (n == 1)
			continue;
		if (now_ms() > deadline) {
			say(err, errlen, "%s of %zu bytes to 0x%" PRIx64 ": no completion in %d ms",
			    name, len, raddr, timeout_ms);
			return -ETIMEDOUT;
		}
		/* rxe does the work in kernel threads on the same few CPUs:
		 * spinning would take their time */
		if (++idle < 64) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
}

int zt_rdma_peer_read(struct zt_rdma_peer *p, void *local, uint32_t lkey,
		      size_t len, uint64_t raddr, uint32_t rkey, int timeout_ms,
		      char *err, size_t errlen)
{
	return post_wait(p, IBV_WR_RDMA_READ, local, lkey, len, raddr, rkey,
			 timeout_ms, err, errlen);
}

int zt_rdma_peer_write(struct zt_rdma_peer *p, const void *local, uint32_t lkey,
		       size_t len, uint64_t raddr, uint32_t rkey, int timeout_ms,
		       char *err, size_t errlen)
{
	return post_wait(p, IBV_WR_RDMA_WRITE, (void *)local, lkey, len, raddr, rkey,
			 timeout_ms, err, errlen);
}

/* A small WRITE and READ back from the initiator to the target's PD:
 * whether the two QPs really reach each other (two devices on one host
 * may not: the kernel may route their packets through lo). */
static int probe(struct zt_rdma_peer *p, char *err, size_t len)
{
	enum { N = 256 };
	unsigned char *tbuf = calloc(1, N), *ibuf = calloc(1, 2 * N);
	struct ibv_mr *tmr = NULL, *imr = NULL;
	int ret = -ENOMEM;

	if (!tbuf || !ibuf)
		goto out;
	tmr = ibv_reg_mr(p->t.pd, tbuf, N, IBV_ACCESS_LOCAL_WRITE |
				 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
	imr = ibv_reg_mr(p->i.pd, ibuf, 2 * N, IBV_ACCESS_LOCAL_WRITE);
	if (!tmr || !imr) {
		ret = -errno;
		say(err, len, "probe: ibv_reg_mr of %d bytes: %s", N, strerror(errno));
		goto out;
	}
	for (int k = 0; k < N; k++)
		ibuf[k] = (unsigned char)(k * 7 + 1);
	ret = zt_rdma_peer_write(p, ibuf, imr->lkey, N, (uintptr_t)tbuf, tmr->rkey,
				 PROBE_WAIT_MS, err, len);
	if (!ret)
		ret = zt_rdma_peer_read(p, ibuf + N, imr->lkey, N, (uintptr_t)tbuf,
					tmr->rkey, PROBE_WAIT_MS, err, len);
	if (ret > 0)
		ret = -EIO;
	if (!ret && (memcmp(tbuf, ibuf, N) || memcmp(ibuf + N, ibuf, N))) {
		say(err, len, "probe: a %d-byte WRITE and READ back completed with wrong bytes", N);
		ret = -EIO;
	}
out:
	if (imr)
		ibv_dereg_mr(imr);
	if (tmr)
		ibv_dereg_mr(tmr);
	free(ibuf);
	free(tbuf);
	return ret;
}

int zt_rdma_peer_available(char *why, size_t len)
{
	struct ibv_device **list;
	const char *want = getenv("ZT_RDMA_DEV");
	int n, found = 0;

	errno = 0;
	list = ibv_get_device_list(&n);
	if (!list) {
		int e = errno ? errno : ENODEV;
		say(why, len, "no RDMA device: ibv_get_device_list: %s", strerror(e));
		return -e;
	}
	for (int k = 0; k < n; k++)
		if (!want || !strcmp(ibv_get_device_name(list[k]), want))
			found = 1;
	ibv_free_device_list(list);
	if (!found) {
		say(why, len, "no RDMA device%s%s (ibv_get_device_list lists %d)",
		    want ? " named " : "", want ? want : "", n);
		return -ENODEV;
	}
	return 0;
}

/* open name, or the first device other than `not` when name is NULL */
static int open_dev(struct side *s, const char *name, const char *not, char *err,
		    size_t len)
{
	struct ibv_device **list;
	int n;

	list = ibv_get_device_list(&n);
	if (!list) {
		say(err, len, "ibv_get_device_list: %s", strerror(errno));
		return -errno;
	}
	for (int k = 0; k < n; k++) {
		const char *dn = ibv_get_device_name(list[k]);

		if ((name && strcmp(dn, name)) || (not && !strcmp(dn, not)))
			continue;
		s->ctx = ibv_open_device(list[k]);
		if (!s->ctx) {
			int e = errno;
			say(err, len, "ibv_open_device(%s): %s", dn, strerror(e));
			ibv_free_device_list(list);
			return -e;
		}
		s->own_ctx = true;
		ibv_free_device_list(list);
		return 0;
	}
	ibv_free_device_list(list);
	say(err, len, "no RDMA device %s%s", name ? "named " : "other than ",
	    name ? name : not ? not : "?");
	return -ENODEV;
}

static void describe(struct zt_rdma_peer *p, const char *how)
{
	snprintf(p->desc, sizeof p->desc,
		 "%s -> %s (%s; RoCE v2 GID index %d -> %d, path MTU %d)", p->i.dev,
		 p->t.dev, how, p->i.gid_index, p->t.gid_index,
		 mtu_bytes(path_mtu(p)));
}

int zt_rdma_peer_open(struct zt_rdma_peer **out, struct ibv_pd *pd, char *err,
		      size_t len)
{
	struct zt_rdma_peer *p = calloc(1, sizeof *p);
	char why2[256] = "";
	int ret;

	if (!p) {
		say(err, len, "out of memory");
		return -ENOMEM;
	}
	if (pd) {
		p->t.ctx = pd->context;
		p->t.pd = pd;
	} else if ((ret = open_dev(&p->t, getenv("ZT_RDMA_DEV"), NULL, err, len))) {
		goto fail;
	}
	if ((ret = side_init(&p->t, err, len)))
		goto fail;

	/* another device first: the two ends of a link stand in for two
	 * machines; where they cannot reach each other, loopback */
	if (!open_dev(&p->i, NULL, p->t.dev, why2, sizeof why2)) {
		ret = side_init(&p->i, why2, sizeof why2);
		if (!ret)
			ret = connect_both(p, PROBE_TIMEOUT, PROBE_RETRY, why2, sizeof why2);
		if (!ret)
			ret = probe(p, why2, sizeof why2);
		if (!ret && !(ret = zt_rdma_peer_reset(p, err, len))) {
			describe(p, "two devices");
			*out = p;
			return 0;
		}
		side_free(&p->i);
		/* the target's QP was connected to the one just freed */
	}
	p->i.ctx = p->t.ctx;
	if ((ret = side_init(&p->i, err, len)))
		goto fail;
	if ((ret = connect_both(p, PROBE_TIMEOUT, PROBE_RETRY, err, len)) ||
	    (ret = probe(p, err, len)) || (ret = zt_rdma_peer_reset(p, err, len)))
		goto fail;
	if (why2[0])
		describe(p, "loopback on one device");
	else
		describe(p, "loopback, the only device");
	/* say why two devices were not used: callers print the description */
	if (why2[0]) {
		size_t l = strlen(p->desc);
		snprintf(p->desc + l, sizeof p->desc - l, "; two devices: %s", why2);
	}
	*out = p;
	return 0;
fail:
	zt_rdma_peer_close(p);
	return ret;
}

void zt_rdma_peer_close(struct zt_rdma_peer *p)
{
	if (!p)
		return;
	side_free(&p->i);
	side_free(&p->t);
	free(p);
}

struct ibv_pd *zt_rdma_peer_target_pd(const struct zt_rdma_peer *p)
{
	return p->t.pd;
}

struct ibv_pd *zt_rdma_peer_local_pd(const struct zt_rdma_peer *p)
{
	return p->i.pd;
}

const char *zt_rdma_peer_describe(const struct zt_rdma_peer *p)
{
	return p->desc;
}

const char *zt_rdma_peer_target_dev(const struct zt_rdma_peer *p)
{
	return p->t.dev;
}

unsigned zt_rdma_peer_mtu(const struct zt_rdma_peer *p)
{
	return (unsigned)mtu_bytes(p->t.mtu);
}

/* ---- pin witnesses ---------------------------------------------------- */

long zt_rdma_vm_pin_kb(void)
{
	return zt_vm_pin_kb_of("/proc/self/status");
}


int64_t zt_rdma_foll_pins(void)
{
	return zt_pins_outstanding();
}

/* ---- what every test and benchmark with the peer says ----------------- */

int zt_rdma_failed;
static void (*skip_cleanup)(void);

void zt_rdma_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	zt_rdma_failed = 1;
}

void zt_rdma_on_skip(void (*cleanup)(void))
{
	skip_cleanup = cleanup;
}

void zt_rdma_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("SKIP: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (skip_cleanup)
		skip_cleanup();
	exit(77);
}

const char *zt_rdma_ext4_dir(void)
{
	const char *cand[] = { getenv("ZC_TEST_EXT4_DIR"), "/var/tmp", "/tmp" };
	struct statfs s;

	for (unsigned i = 0; i < sizeof cand / sizeof cand[0]; i++)
		if (cand[i] && !statfs(cand[i], &s) && (unsigned long)s.f_type == 0xEF53u)
			return cand[i];
	return NULL;
}

uint8_t zt_rdma_pat(uint32_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * UINT64_C(0x9E3779B97F4A7C15) ^ (seed * 0x5851F42Du);

	return (uint8_t)(x >> 29 ^ x >> 43);
}

void zt_rdma_fill(uint8_t *p, size_t len, uint32_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = zt_rdma_pat(seed, off + i);
}
