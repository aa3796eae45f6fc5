/* SPDX-License-Identifier: MIT */
/*
 * zc-rdma-serve: serve a range of a file to an RDMA peer, both ends in one
 * program.
 *
 *   zc-rdma-serve FILE [OFFSET [LENGTH]]
 *
 * The server registers the file range with ZC_REG_MAP_FILE and
 * ZC_ACCESS_REMOTE_READ in a context given its own PD, and prints the
 * backend libzerocopy chose and why (odp_mr where the device has
 * On-Demand Paging and no quirk stops it, else a normal MR over pinned
 * pages or over a copy). Everything a peer needs is zc_reg_rdma's rkey
 * and address.
 *
 * The client is plain libibverbs: an RC QP on a second RDMA device when
 * there is one that reaches the first (two machines, in miniature), else
 * on the same device (loopback). It RDMA READs the whole range in 1 MiB
 * messages and checks every byte against pread of the file.
 *
 * RoCE: each side uses its port's RoCE v2 GID with an IPv4-mapped address.
 * ZC_RDMA_DEV names the server's device (default: the first). OFFSET
 * defaults to 0, LENGTH to the rest of the file.
 *
 * Exit status: 0 every byte right, 1 an error or a wrong byte, 2 usage,
 * 77 no RDMA device here (the reason is printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <zerocopy.h>

#define PORT 1
#define MSG (1u << 20)
#define WAIT_MS 30000 /* one READ; software RDMA under emulation is slow */

struct end {
	struct ibv_context *dev;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	union ibv_gid gid;
	int gid_index;
	enum ibv_mtu mtu;
	uint8_t rd_atom;
	int own_pd;
};

static void end_free(struct end *e)
{
	if (e->qp)
		ibv_destroy_qp(e->qp);
	if (e->cq)
		ibv_destroy_cq(e->cq);
	if (e->pd && e->own_pd)
		ibv_dealloc_pd(e->pd);
	e->qp = NULL;
	e->cq = NULL;
	e->pd = NULL;
}

/* a RoCE v2 GID that carries an IPv4 address (::ffff:a.b.c.d): what rxe
 * and most RoCE setups route by */
static int find_gid(struct end *e, int tbl_len)
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	for (int i = 0; i < tbl_len; i++) {
		struct ibv_gid_entry g;

		if (ibv_query_gid_ex(e->dev, PORT, (uint32_t)i, &g, 0) ||
		    g.gid_type != IBV_GID_TYPE_ROCE_V2 || memcmp(g.gid.raw, v4, 12))
			continue;
		e->gid = g.gid;
		e->gid_index = i;
		return 0;
	}
	return -ENOENT;
}

/* CQ, RC QP and GID of one end; pd given (the server's) or made here */
static int end_init(struct end *e, struct ibv_pd *pd, char *why, size_t len)
{
	const char *name = ibv_get_device_name(e->dev->device);
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC, .sq_sig_all = 1 };

	if (ibv_query_device(e->dev, &da) || ibv_query_port(e->dev, PORT, &pa)) {
		snprintf(why, len, "%s: ibv_query_device/port: %s", name, strerror(errno));
		return -1;
	}
	if (pa.state != IBV_PORT_ACTIVE || find_gid(e, pa.gid_tbl_len)) {
		snprintf(why, len, "%s: port %d is not ACTIVE or has no RoCE v2 GID "
			 "with an IPv4 address", name, PORT);
		return -1;
	}
	e->mtu = pa.active_mtu;
	e->rd_atom = da.max_qp_rd_atom < 8 ? (uint8_t)da.max_qp_rd_atom : 8;
	e->pd = pd ? pd : ibv_alloc_pd(e->dev);
	e->own_pd = !pd;
	e->cq = e->pd ? ibv_create_cq(e->dev, 16, NULL, NULL, 0) : NULL;
	qa.send_cq = qa.recv_cq = e->cq;
	qa.cap.max_send_wr = 4;
	qa.cap.max_recv_wr = 1;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	e->qp = e->cq ? ibv_create_qp(e->pd, &qa) : NULL;
	if (!e->qp) {
		snprintf(why, len, "%s: PD, CQ or QP: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* e's QP to RTS towards r's; the responder's side allows RDMA READ */
static int connect_qp(struct end *e, const struct end *r, enum ibv_mtu mtu,
		      char *why, size_t len)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = PORT,
		.qp_access_flags = IBV_ACCESS_REMOTE_READ,
	};
	int ret = ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);

	if (!ret) {
		memset(&a, 0, sizeof a);
		a.qp_state = IBV_QPS_RTR;
		a.path_mtu = mtu;
		a.dest_qp_num = r->qp->qp_num;
		a.max_dest_rd_atomic = e->rd_atom;
		a.min_rnr_timer = 12;
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = r->gid;
		a.ah_attr.grh.sgid_index = (uint8_t)e->gid_index;
		a.ah_attr.grh.hop_limit = 64;
		a.ah_attr.port_num = PORT;
		ret = ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_AV |
				    IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				    IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
	}
	if (!ret) {
		memset(&a, 0, sizeof a);
		a.qp_state = IBV_QPS_RTS;
		a.timeout = 16; /* 268 ms: a peer that does not answer shows soon */
		a.retry_cnt = 3;
		a.rnr_retry = 7;
		a.max_rd_atomic = e->rd_atom;
		ret = ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				    IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				    IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	}
	if (ret)
		snprintf(why, len, "%s: ibv_modify_qp: %s",
			 ibv_get_device_name(e->dev->device), strerror(ret));
	return ret ? -1 : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* one RDMA READ by the client, waited for */
static int rdma_read(struct end *c, void *buf, uint32_t lkey, uint32_t len,
		     uint64_t raddr, uint32_t rkey, char *why, size_t wl)
{
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_READ,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;
	struct ibv_wc wc;
	int64_t end = now_ms() + WAIT_MS;
	int n, ret = ibv_post_send(c->qp, &wr, &bad);

	if (ret) {
		snprintf(why, wl, "ibv_post_send: %s", strerror(ret));
		return -1;
	}
	while ((n = ibv_poll_cq(c->cq, 1, &wc)) == 0 && now_ms() < end)
		usleep(50);
	if (n <= 0) {
		snprintf(why, wl, "RDMA READ: %s", n ? "ibv_poll_cq failed" :
			 "no completion in time");
		return -1;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		snprintf(why, wl, "RDMA READ: %s", ibv_wc_status_str(wc.status));
		return -1;
	}
	return 0;
}

/* The client on dev reads [0, length) of the registration and compares it
 * with the file: 0 all right, 1 wrong bytes, -1 the transfer failed
 * (why says how). */
static int client_run(struct ibv_context *dev, struct end *server, int fd,
		      uint64_t off, uint64_t length, const struct zc_rdma_keys *k,
		      char *why, size_t wl)
{
	struct end c = { .dev = dev };
	uint8_t *buf = malloc(MSG), *ref = malloc(MSG);
	struct ibv_mr *mr = NULL;
	enum ibv_mtu mtu;
	uint64_t wrong = 0;
	int ret = -1;

	if (!buf || !ref || end_init(&c, NULL, why, wl))
		goto out;
	mtu = c.mtu < server->mtu ? c.mtu : server->mtu;
	/* the server's QP is fresh: back to RESET for each client tried */
	ibv_modify_qp(server->qp, &(struct ibv_qp_attr){ .qp_state = IBV_QPS_RESET },
		      IBV_QP_STATE);
	if (connect_qp(server, &c, mtu, why, wl) || connect_qp(&c, server, mtu, why, wl))
		goto out;
	mr = ibv_reg_mr(c.pd, buf, MSG, IBV_ACCESS_LOCAL_WRITE);
	if (!mr) {
		snprintf(why, wl, "ibv_reg_mr of the client's buffer: %s", strerror(errno));
		goto out;
	}
	for (uint64_t pos = 0; pos < length; pos += MSG) {
		uint32_t n = length - pos < MSG ? (uint32_t)(length - pos) : MSG;

		if (rdma_read(&c, buf, mr->lkey, n, k->addr + pos, k->rkey, why, wl))
			goto out;
		if (pread(fd, ref, n, (off_t)(off + pos)) != (ssize_t)n) {
			snprintf(why, wl, "pread: %s", strerror(errno));
			goto out;
		}
		for (uint32_t i = 0; i < n; i++)
			wrong += buf[i] != ref[i];
	}
	printf("client on %s: read %" PRIu64 " bytes in %" PRIu64 " RDMA READs (path "
	       "MTU %d): %" PRIu64 " bytes differ from pread of the file\n",
	       ibv_get_device_name(dev->device), length, (length + MSG - 1) / MSG,
	       128 << mtu, wrong);
	ret = wrong ? 1 : 0;
out:
	if (mr)
		ibv_dereg_mr(mr);
	end_free(&c);
	free(buf);
	free(ref);
	return ret;
}

static void print_reg(const struct zc_reg *r)
{
	struct zc_attempt a[8];
	int n = zc_reg_attempts(r, a, 8);

	printf("server: backend %s, because:\n", zc_backend_name(zc_reg_backend(r)));
	for (int i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use", a[i].reason);
}

int main(int argc, char **argv)
{
	const char *want = getenv("ZC_RDMA_DEV");
	struct ibv_device **list;
	struct ibv_context *sdev = NULL, *cdev = NULL;
	struct end server = { 0 };
	struct zc_ctx *ctx = NULL;
	struct zc_file *f = NULL;
	struct zc_reg *reg = NULL;
	struct zc_rdma_keys k;
	unsigned long long off = 0, length = 0;
	char why[256];
	struct stat st;
	int n = 0, fd, ret, rc = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: zc-rdma-serve FILE [OFFSET [LENGTH]]\n");
		return 2;
	}
	if (argc > 2)
		off = strtoull(argv[2], NULL, 0);
	if (argc > 3)
		length = strtoull(argv[3], NULL, 0);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "zc-rdma-serve: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (argc <= 3)
		length = (unsigned long long)st.st_size > off ? st.st_size - off : 0;
	if (!length || off + length > (unsigned long long)st.st_size) {
		fprintf(stderr, "zc-rdma-serve: the range %llu+%llu is empty or past the "
			"end of %s (%lld bytes)\n", off, length, argv[1],
			(long long)st.st_size);
		return 2;
	}

	/* no device is a fact of this machine, not an error of the program */
	errno = 0;
	list = ibv_get_device_list(&n);
	for (int i = 0; list && i < n && !sdev; i++)
		if (!want || !strcmp(ibv_get_device_name(list[i]), want))
			sdev = ibv_open_device(list[i]);
	if (!sdev) {
		printf("zc-rdma-serve: no RDMA device%s%s to serve from: %s\n",
		       want ? " named " : "", want ? want : "",
		       errno ? strerror(errno) : "none listed");
		if (list)
			ibv_free_device_list(list);
		close(fd);
		return 77;
	}
	/* the client's device: any other, else the server's (loopback) */
	for (int i = 0; i < n && !cdev; i++)
		if (strcmp(ibv_get_device_name(list[i]), ibv_get_device_name(sdev->device)))
			cdev = ibv_open_device(list[i]);
	ibv_free_device_list(list);

	/* server: the application's PD, given to libzerocopy */
	server.dev = sdev;
	if (end_init(&server, NULL, why, sizeof why)) {
		printf("zc-rdma-serve: cannot serve from %s: %s\n",
		       ibv_get_device_name(sdev->device), why);
		rc = 77;
		goto out;
	}
	{
		struct zc_ctx_params cp = { .field_mask = ZC_CTX_FIELD_PD, .pd = server.pd };
		struct zc_reg_params rp = {
			.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FILE_OFFSET |
				      ZC_REG_FIELD_ACCESS | ZC_REG_FIELD_FLAGS,
			.length = length, .file_offset = off,
			.access = ZC_ACCESS_REMOTE_READ, .flags = ZC_REG_MAP_FILE,
		};

		if ((ret = zc_ctx_create(&cp, &ctx)) || (ret = zc_file_open(ctx, fd, 0, &f)) ||
		    (ret = zc_reg_create(f, &rp, &reg))) {
			fprintf(stderr, "zc-rdma-serve: registering %s: %s\n", argv[1],
				zc_strerror(ret));
			goto out;
		}
	}
	print_reg(reg);
	if ((ret = zc_reg_rdma(reg, &k))) {
		fprintf(stderr, "zc-rdma-serve: zc_reg_rdma: %s\n", zc_strerror(ret));
		goto out;
	}
	printf("server on %s: %s bytes %llu+%llu, rkey 0x%x, address 0x%" PRIx64 "\n",
	       ibv_get_device_name(sdev->device), argv[1], off, length, k.rkey, k.addr);

	rc = -1;
	if (cdev) {
		rc = client_run(cdev, &server, fd, off, length, &k, why, sizeof why);
		if (rc < 0)
			printf("client on %s: %s; trying loopback on %s\n",
			       ibv_get_device_name(cdev->device), why,
			       ibv_get_device_name(sdev->device));
	}
	if (rc < 0)
		rc = client_run(sdev, &server, fd, off, length, &k, why, sizeof why);
	if (rc < 0) {
		printf("client: %s\n", why);
		rc = 1;
	}
	printf("zc-rdma-serve: %s\n", rc ? "WRONG BYTES OR NO TRANSFER" : "every byte right");
out:
	if (reg && (ret = zc_reg_destroy(reg)))
		fprintf(stderr, "zc-rdma-serve: zc_reg_destroy: %s\n", zc_strerror(ret));
	if (f)
		zc_file_close(f);
	if (ctx)
		zc_ctx_destroy(ctx);
	end_free(&server);
	if (cdev)
		ibv_close_device(cdev);
	ibv_close_device(sdev);
	close(fd);
	return rc;
}
