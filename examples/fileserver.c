/* SPDX-License-Identifier: MIT */
/*
 * zc-fileserver: send one file to every TCP client, from the file's own
 * pages.
 *
 *   zc-fileserver [--max N] FILE [PORT]
 *
 * FILE (best on tmpfs, e.g. /dev/shm) is registered with ZC_REG_MAP_FILE.
 * On pin_lease its page-cache pages are pinned as an io_uring fixed buffer
 * while the library holds a write lease on it; the server's own ring,
 * attached to the context, sends from that buffer with SEND_ZC, so the
 * pages go to the socket without a copy (over loopback the kernel still
 * copies at delivery: the gain is on a real NIC).
 *
 * Another process opening FILE breaks the lease: the library unpins the
 * pages, lets that process go on, and leaves a copy of the file as it was
 * read then (perhaps with some of that process's changes). The server
 * sees that on the context's event fd and registers again, so later
 * clients get the file as it is now. (Where nothing can pin the
 * file, bounce serves a copy taken at registration.)
 *
 * It listens on 127.0.0.1:PORT (default 0: any free port, printed) until
 * SIGINT/SIGTERM, or until N clients are served.
 */
#define _GNU_SOURCE /* accept4, strsignal */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zerocopy.h>

struct server {
	const char *path;
	int fd;
	struct zc_ctx *ctx;
	struct zc_file *f;
	struct zc_reg *r;
	enum zc_backend backend; /* what r was created on */
	bool had_fixed;          /* r was created with a fixed buffer */
	struct io_uring ring;
	bool ring_ok;            /* ring set up and attached to ctx */
};

/* The whole file, as it is now. The lease (pin_lease) needs this process's
 * fd to be the file's only open, which is why FILE is opened just once. */
static int map_file(struct server *s)
{
	struct zc_reg_params p;
	struct zc_attempt a[8];
	struct stat st;
	int i, n, ret;

	if (fstat(s->fd, &st) < 0)
		return -errno;
	memset(&p, 0, sizeof p);
	p.field_mask = ZC_REG_FIELD_LENGTH | ZC_REG_FIELD_FLAGS | ZC_REG_FIELD_ACCESS;
	p.length = (size_t)st.st_size;
	p.flags = ZC_REG_MAP_FILE;
	p.access = ZC_ACCESS_READ; /* never stored to: the server only sends */
	ret = zc_reg_create(s->f, &p, &s->r);
	if (ret < 0) {
		fprintf(stderr, "zc_reg_create %s: %s\n", s->path, zc_strerror(ret));
		return ret;
	}
	s->backend = zc_reg_backend(s->r);
	s->had_fixed = zc_reg_buf_index(s->r, 0, 1) >= 0;
	printf("%s: %zu bytes on backend %s, because:\n", s->path,
	       zc_reg_length(s->r), zc_backend_name(s->backend));
	n = zc_reg_attempts(s->r, a, 8);
	for (i = 0; i < n && i < 8; i++)
		printf("  %-12s %-24s %s\n", zc_backend_name(a[i].backend),
		       a[i].error ? zc_strerror(a[i].error) : "in use", a[i].reason);
	return 0;
}

/* Report what the library did; register again if this registration lost
 * its zero-copy path, because what it fell back to is a copy of the file
 * made at the break, and the process that broke the lease came to change
 * it. */
static int on_events(struct server *s)
{
	static const char *const names[] = { "?", "revoked", "backend changed",
					     "fallback" };
	struct zc_event ev[8];
	struct zc_reg *old;
	int i, n, ret;

	while ((n = zc_ctx_events(s->ctx, ev, 8)) > 0)
		for (i = 0; i < n; i++)
			printf("event: %s, %s -> %s%s%s\n",
			       names[ev[i].type <= 3 ? ev[i].type : 0],
			       zc_backend_name(ev[i].from), zc_backend_name(ev[i].to),
			       ev[i].error ? ": " : "",
			       ev[i].error ? zc_strerror(ev[i].error) : "");
	if (n < 0)
		return n;
	/* judged on the registration itself, not on ev.reg: an event about
	 * a destroyed registration can carry a reused address */
	if (zc_reg_backend(s->r) == s->backend &&
	    (!s->had_fixed || zc_reg_buf_index(s->r, 0, 1) >= 0))
		return 0;
	/* the new one first: should it fail, the old copy still serves */
	printf("registering %s again for its current contents\n", s->path);
	old = s->r;
	if (map_file(s) < 0)
		return 0;
	ret = zc_reg_destroy(old);
	if (ret < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	return ret;
}

/* One SEND_ZC from fixed buffer idx; bytes sent or -errno. It completes
 * twice: the result, then (IORING_CQE_F_MORE) a notification once the
 * kernel no longer reads the pages, which must come before they go away. */
static ssize_t send_zc(struct io_uring *ring, int cfd, const char *buf,
		       size_t len, int idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	bool got_res = false, more = true;
	ssize_t res = 0;
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send_zc_fixed(sqe, cfd, buf, len, MSG_NOSIGNAL | MSG_WAITALL,
				    0, (unsigned)idx);
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	while (!got_res || more) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret < 0)
			return ret; /* the ring is unusable: nothing to wait for */
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			more = false;
		} else {
			res = cqe->res;
			got_res = true;
			more = cqe->flags & IORING_CQE_F_MORE;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

/* The whole registration to one client, by SEND_ZC while it has a fixed
 * buffer, else by send(2) from the same address (a copy after a
 * revocation, or the bounce backend). */
static int serve(struct server *s, int cfd, unsigned client)
{
	const char *base = zc_reg_addr(s->r);
	size_t len = zc_reg_length(s->r), off = 0, by_zc = 0;
	bool try_zc = s->ring_ok;

	while (off < len) {
		size_t chunk = len - off > (1u << 30) ? 1u << 30 : len - off;
		ssize_t n = -ENODATA;
		int idx = -ENODATA;

		/* a range across two slots has no single index: send less */
		while (try_zc && (idx = zc_reg_buf_index(s->r, off, chunk)) == -ERANGE)
			chunk /= 2;
		if (idx >= 0) {
			n = send_zc(&s->ring, cfd, base + off, chunk, idx);
			if (n > 0)
				by_zc += (size_t)n;
		}
		if (n < 0 && n != -EPIPE && n != -ECONNRESET) {
			/* no buffer, a revocation emptied the slot since, or a
			 * kernel without SEND_ZC: the plain path always works */
			if (idx >= 0)
				printf("client %u: send_zc: %s; using send\n", client,
				       zc_strerror((int)n));
			try_zc = false;
			n = send(cfd, base + off, len - off, MSG_NOSIGNAL);
			if (n < 0)
				n = -errno;
		}
		if (n <= 0) {
			printf("client %u: send: %s after %zu bytes\n", client,
			       n ? zc_strerror((int)n) : "nothing sent", off);
			return -1;
		}
		off += (size_t)n;
	}
	printf("client %u: sent %zu bytes (%zu by send_zc, %zu by send)\n",
	       client, len, by_zc, len - by_zc);
	return 0;
}

static int listen_on(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		fprintf(stderr, "127.0.0.1:%u: %s\n", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	printf("listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
	fflush(stdout); /* a script waits for this line */
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "max", required_argument, NULL, 'm' },
					      { NULL, 0, NULL, 0 } };
	struct server s = { .fd = -1 };
	unsigned long max = 0, port = 0, served = 0;
	int lfd = -1, sfd = -1, ret, opt, status = 1;
	sigset_t stop;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) == 'm')
		max = strtoul(optarg, NULL, 10);
	if (opt != -1 || optind >= argc || argc - optind > 2 ||
	    (argc - optind == 2 && (port = strtoul(argv[optind + 1], NULL, 10)) > 65535)) {
		fprintf(stderr, "usage: %s [--max N] FILE [PORT]\n", argv[0]);
		return 2;
	}
	s.path = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* SIGINT/SIGTERM are read from a signalfd in the poll loop, so they
	 * never interrupt a send. Only these two: the library's lease signal
	 * (SIGRTMAX-3) is aimed at its own thread and must stay as it is. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) ||
	    (sfd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
		perror("signalfd");
		return 1;
	}

	/* O_RDWR: the pin needs a writable shared mapping */
	s.fd = open(s.path, O_RDWR | O_CLOEXEC);
	if (s.fd < 0) {
		fprintf(stderr, "%s: %s\n", s.path, strerror(errno));
		goto out;
	}
	ret = zc_ctx_create(NULL, &s.ctx);
	if (ret < 0) {
		fprintf(stderr, "zc_ctx_create: %s\n", zc_strerror(ret));
		goto out;
	}
	ret = zc_file_open(s.ctx, s.fd, 0, &s.f);
	if (ret < 0) {
		fprintf(stderr, "zc_file_open: %s\n", zc_strerror(ret));
		goto out;
	}
	if (map_file(&s) < 0)
		goto out;

	/* our ring gets the context's fixed buffers, current and future */
	ret = io_uring_queue_init(8, &s.ring, 0);
	if (!ret) {
		ret = zc_ctx_uring_attach(s.ctx, s.ring.ring_fd);
		if (ret < 0)
			io_uring_queue_exit(&s.ring);
	}
	s.ring_ok = !ret;
	if (!s.ring_ok)
		printf("no io_uring of our own (%s): serving with send\n",
		       zc_strerror(ret));

	lfd = listen_on((unsigned)port);
	if (lfd < 0)
		goto out;
	while (!max || served < max) {
		struct pollfd pfd[3] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = zc_ctx_event_fd(s.ctx), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		int cfd;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			goto out;
		}
		if (pfd[2].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof si) == sizeof si)
				printf("%s: stopping\n", strsignal((int)si.ssi_signo));
			break;
		}
		/* events first, so a client never gets contents known stale */
		if (on_events(&s) < 0)
			goto out;
		if (!pfd[0].revents)
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			perror("accept");
			continue;
		}
		serve(&s, cfd, (unsigned)++served);
		close(cfd);
	}
	status = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (s.r && (ret = zc_reg_destroy(s.r)) < 0)
		fprintf(stderr, "zc_reg_destroy: %s\n", zc_strerror(ret));
	/* before the ring goes: the library would go on updating its fd
	 * number, which the next open may reuse */
	if (s.ring_ok) {
		if ((ret = zc_ctx_uring_detach(s.ctx, s.ring.ring_fd)) < 0)
			fprintf(stderr, "zc_ctx_uring_detach: %s\n", zc_strerror(ret));
		io_uring_queue_exit(&s.ring);
	}
	zc_file_close(s.f);
	zc_ctx_destroy(s.ctx);
	if (s.fd >= 0)
		close(s.fd);
	close(sfd);
	return status;
}
