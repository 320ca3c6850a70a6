// SPDX-License-Identifier: GPL-2.0
/*
 * The mechanisms bus1 is compared with: AF_UNIX socket pairs
 * (SOCK_SEQPACKET, SOCK_STREAM, SOCK_SEQPACKET with SCM_RIGHTS), a pair of
 * pipes, a broker process that relays over AF_UNIX, and a futex ring in
 * shared memory, the floor.
 *
 * Socket buffers are forced to 4 MiB (a 1 MiB SOCK_SEQPACKET message does
 * not fit the default) and pipes are sized 1 MiB, the default maximum.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

#define SOCK_BUF	(4 << 20)
#define PIPE_BUF_SIZE	(1 << 20)

/* One end of a socket pair, a pipe pair or a broker connection. */
struct fd_ep {
	int rfd, wfd;
	int stream;		/* a byte stream: read exactly the length */
	int pass_fd;		/* client of unix+fd: passed with each request */
	int got_fd;		/* server of unix+fd: the fd last received */
	char *rx;
	size_t rx_size;
};

static struct fd_ep *fd_ep_new(int rfd, int wfd, int stream, size_t size)
{
	struct fd_ep *ep = xmalloc(sizeof(*ep));

	ep->rfd = rfd;
	ep->wfd = wfd;
	ep->stream = stream;
	ep->pass_fd = -1;
	ep->got_fd = -1;
	ep->rx_size = size + 4096;
	ep->rx = xmalloc(ep->rx_size);
	memset(ep->rx, 0, ep->rx_size);
	return ep;
}

static void fd_send(struct ep *e, const void *buf, size_t len)
{
	struct fd_ep *ep = (struct fd_ep *)e;
	const char *p = buf;
	ssize_t n;

	if (!ep->stream) {
		n = send(ep->wfd, buf, len, 0);
		if (n != (ssize_t)len)
			die("send %zu bytes: %zd: %m", len, n);
		return;
	}
	while (len) {
		n = write(ep->wfd, p, len);
		if (n <= 0)
			die("write: %m");
		p += n;
		len -= n;
	}
}

static const void *fd_recv(struct ep *e, size_t len)
{
	struct fd_ep *ep = (struct fd_ep *)e;
	size_t got = 0;
	ssize_t n;

	if (!ep->stream) {
		n = recv(ep->rfd, ep->rx, ep->rx_size, 0);
		if (n != (ssize_t)len)
			die("recv: expected %zu bytes, got %zd: %m", len, n);
		return ep->rx;
	}
	while (got < len) {
		n = read(ep->rfd, ep->rx + got, len - got);
		if (n <= 0)
			die("read: %zd: %m", n);
		got += n;
	}
	return ep->rx;
}

static void fd_close(struct ep *e)
{
	struct fd_ep *ep = (struct fd_ep *)e;

	close(ep->rfd);
	if (ep->wfd != ep->rfd)
		close(ep->wfd);
	free(ep->rx);
	free(ep);
}

/* AF_UNIX socket pairs */

struct sock_pair {
	int sv[2];
	int type;
	int pass_fd;		/* unix+fd: the file passed */
};

static void sock_bufs(int fd)
{
	int size = SOCK_BUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		die("SO_SNDBUFFORCE: %m");
}

static void socketpair_bufs(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %m");
	sock_bufs(sv[0]);
	sock_bufs(sv[1]);
}

static void *sock_create(int type)
{
	struct sock_pair *s = xmalloc(sizeof(*s));

	s->type = type;
	s->pass_fd = -1;
	socketpair_bufs(type, s->sv);
	return s;
}

static void *seqpacket_create(size_t size, int cpu)
{
	(void)size;
	(void)cpu;
	return sock_create(SOCK_SEQPACKET);
}

static void *stream_create(size_t size, int cpu)
{
	(void)size;
	(void)cpu;
	return sock_create(SOCK_STREAM);
}

static struct ep *sock_open(void *shared, int side, size_t size)
{
	struct sock_pair *s = shared;
	int fd = s->sv[side];

	close(s->sv[!side]);
	return (struct ep *)fd_ep_new(fd, fd, s->type == SOCK_STREAM, size);
}

static struct ep *sock_open_both(void *shared, int side, size_t size)
{
	struct sock_pair *s = shared;
	int fd = s->sv[side];

	return (struct ep *)fd_ep_new(fd, fd, s->type == SOCK_STREAM, size);
}

static void sock_destroy(void *shared)
{
	struct sock_pair *s = shared;

	close(s->sv[0]);
	close(s->sv[1]);
	if (s->pass_fd >= 0)
		close(s->pass_fd);
	free(s);
}

const struct mech mech_unix_seqpacket = {
	.name = "unix-seqpacket",
	.what = "AF_UNIX socketpair, SOCK_SEQPACKET",
	.caps = CAP_RT | CAP_STREAM | CAP_PAIRS | CAP_PATH | CAP_PASS,
	.create = seqpacket_create,
	.open = sock_open,
	.open_both = sock_open_both,
	.send = fd_send,
	.recv = fd_recv,
	.close = fd_close,
	.destroy = sock_destroy,
};

const struct mech mech_unix_stream = {
	.name = "unix-stream",
	.what = "AF_UNIX socketpair, SOCK_STREAM",
	.caps = CAP_RT | CAP_STREAM | CAP_PAIRS | CAP_PATH,
	.create = stream_create,
	.open = sock_open,
	.open_both = sock_open_both,
	.send = fd_send,
	.recv = fd_recv,
	.close = fd_close,
	.destroy = sock_destroy,
};

/* SOCK_SEQPACKET, every request carries one fd (SCM_RIGHTS) */

static void *unix_fd_create(size_t size, int cpu)
{
	struct sock_pair *s = seqpacket_create(size, cpu);

	s->pass_fd = eventfd(0, EFD_CLOEXEC);
	if (s->pass_fd < 0)
		die("eventfd: %m");
	return s;
}

static struct ep *unix_fd_open(void *shared, int side, size_t size)
{
	struct sock_pair *s = shared;
	struct fd_ep *ep = (struct fd_ep *)sock_open(shared, side, size);

	if (side == 0)
		ep->pass_fd = s->pass_fd;
	else
		close(s->pass_fd);
	return (struct ep *)ep;
}

static void unix_fd_send(struct ep *e, const void *buf, size_t len)
{
	struct fd_ep *ep = (struct fd_ep *)e;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (ep->pass_fd >= 0) {
		msg.msg_control = c.buf;
		msg.msg_controllen = sizeof(c.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &ep->pass_fd, sizeof(int));
	}
	if (sendmsg(ep->wfd, &msg, 0) != (ssize_t)len)
		die("sendmsg: %m");
}

static const void *unix_fd_recv(struct ep *e, size_t len)
{
	struct fd_ep *ep = (struct fd_ep *)e;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { ep->rx, ep->rx_size };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(ep->rfd, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)len)
		die("recvmsg: expected %zu bytes, got %zd: %m", len, n);
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&ep->got_fd, CMSG_DATA(cm), sizeof(int));
	return ep->rx;
}

/* The server closes the fd it got: part of the measured loop. */
static void unix_fd_release(struct ep *e)
{
	struct fd_ep *ep = (struct fd_ep *)e;

	if (ep->got_fd >= 0) {
		close(ep->got_fd);
		ep->got_fd = -1;
	} else if (ep->pass_fd < 0) {
		die("no fd came with the request");
	}
}

const struct mech mech_unix_fd = {
	.name = "unix+fd",
	.what = "SOCK_SEQPACKET, each request passes one fd (SCM_RIGHTS), closed by the server",
	.caps = CAP_PASS,
	.create = unix_fd_create,
	.open = unix_fd_open,
	.send = unix_fd_send,
	.recv = unix_fd_recv,
	.release = unix_fd_release,
	.close = fd_close,
	.destroy = sock_destroy,
};

/* A pair of pipes: one per direction */

struct pipe_pair {
	int up[2];	/* client -> server */
	int down[2];	/* server -> client */
};

static void pipe_sized(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		die("pipe2: %m");
	if (fcntl(p[1], F_SETPIPE_SZ, PIPE_BUF_SIZE) < 0)
		die("F_SETPIPE_SZ: %m");
}

static void *pipe_create(size_t size, int cpu)
{
	struct pipe_pair *p = xmalloc(sizeof(*p));

	(void)size;
	(void)cpu;
	pipe_sized(p->up);
	pipe_sized(p->down);
	return p;
}

static struct ep *pipe_open(void *shared, int side, size_t size)
{
	struct pipe_pair *p = shared;

	if (side == 0) {
		close(p->up[0]);
		close(p->down[1]);
		return (struct ep *)fd_ep_new(p->down[0], p->up[1], 1, size);
	}
	close(p->up[1]);
	close(p->down[0]);
	return (struct ep *)fd_ep_new(p->up[0], p->down[1], 1, size);
}

static struct ep *pipe_open_both(void *shared, int side, size_t size)
{
	struct pipe_pair *p = shared;

	if (side == 0)
		return (struct ep *)fd_ep_new(p->down[0], p->up[1], 1, size);
	return (struct ep *)fd_ep_new(p->up[0], p->down[1], 1, size);
}

static void pipe_destroy(void *shared)
{
	struct pipe_pair *p = shared;

	close(p->up[0]);
	close(p->up[1]);
	close(p->down[0]);
	close(p->down[1]);
	free(p);
}

const struct mech mech_pipe = {
	.name = "pipe",
	.what = "two pipes, one per direction (1 MiB each)",
	.caps = CAP_RT | CAP_STREAM | CAP_PAIRS | CAP_PATH,
	.create = pipe_create,
	.open = pipe_open,
	.open_both = pipe_open_both,
	.send = fd_send,
	.recv = fd_recv,
	.close = fd_close,
	.destroy = pipe_destroy,
};

/*
 * A broker: client -> broker -> server and back, over two SOCK_SEQPACKET
 * connections. The broker waits in epoll on both, as a bus daemon does,
 * and copies each message through its own buffer.
 */

struct broker {
	int c[2];	/* client connection: c[0] client, c[1] broker */
	int s[2];	/* server connection: s[0] server, s[1] broker */
	pid_t pid;
};

static void broker_run(struct broker *b, size_t size)
{
	struct epoll_event ev[2];
	size_t cap = size + 4096;
	char *buf = xmalloc(cap);
	int efd, i, n, from, to;
	ssize_t len;

	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0)
		die("epoll_create1: %m");
	for (i = 0; i < 2; i++) {
		ev[0].events = EPOLLIN;
		ev[0].data.fd = i ? b->s[1] : b->c[1];
		if (epoll_ctl(efd, EPOLL_CTL_ADD, ev[0].data.fd, &ev[0]))
			die("epoll_ctl: %m");
	}
	for (;;) {
		n = epoll_wait(efd, ev, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait: %m");
		for (i = 0; i < n; i++) {
			from = ev[i].data.fd;
			to = from == b->c[1] ? b->s[1] : b->c[1];
			len = recv(from, buf, cap, MSG_DONTWAIT);
			if (len < 0 && errno == EAGAIN)
				continue;
			if (len <= 0)
				_exit(0);	/* a side is gone */
			if (send(to, buf, len, 0) != len)
				_exit(0);
		}
	}
}

static void *broker_create(size_t size, int cpu)
{
	struct broker *b = xmalloc(sizeof(*b));

	socketpair_bufs(SOCK_SEQPACKET, b->c);
	socketpair_bufs(SOCK_SEQPACKET, b->s);
	b->pid = fork();
	if (b->pid < 0)
		die("fork: %m");
	if (!b->pid) {
		pin_cpu(cpu);
		close(b->c[0]);
		close(b->s[0]);
		broker_run(b, size);
	}
	return b;
}

static struct ep *broker_open(void *shared, int side, size_t size)
{
	struct broker *b = shared;
	int fd = side ? b->s[0] : b->c[0];

	close(side ? b->c[0] : b->s[0]);
	close(b->c[1]);
	close(b->s[1]);
	return (struct ep *)fd_ep_new(fd, fd, 0, size);
}

static void broker_destroy(void *shared)
{
	struct broker *b = shared;

	close(b->c[0]);
	close(b->c[1]);
	close(b->s[0]);
	close(b->s[1]);
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	free(b);
}

const struct mech mech_broker = {
	.name = "broker",
	.what = "client -> broker -> server and back, SOCK_SEQPACKET, broker in epoll",
	.caps = CAP_RT | CAP_STREAM,
	.create = broker_create,
	.open = broker_open,
	.send = fd_send,
	.recv = fd_recv,
	.close = fd_close,
	.destroy = broker_destroy,
};

/*
 * The floor: a ring of slots in shared memory per direction. The sender
 * copies the payload into a slot and wakes the receiver with FUTEX_WAKE
 * if it sleeps; the receiver reads the slot in place and frees it.
 */

struct ring {
	_Atomic uint32_t head;		/* written by the sender */
	_Atomic uint32_t rx_waiting;
	char pad0[56];
	_Atomic uint32_t tail;		/* written by the receiver */
	_Atomic uint32_t tx_waiting;
	char pad1[56];
	uint32_t n;			/* slots */
	uint32_t slot_size;
	char pad2[56];
	char slots[];
};

struct futex_pair {
	struct ring *ring[2];	/* [0] client -> server, [1] server -> client */
	size_t ring_size;
};

struct futex_ep {
	struct ring *tx, *rx;
	uint32_t tail;		/* next slot to receive */
};

static unsigned int futex_depth(size_t size)
{
	size_t d = (2U << 20) / size;

	return d < 2 ? 2 : d > 64 ? 64 : d;
}

static void *futex_create(size_t size, int cpu)
{
	struct futex_pair *f = xmalloc(sizeof(*f));
	uint32_t slot = (size + 8 + 63) & ~63U;
	unsigned int n = futex_depth(size), i;

	(void)cpu;
	if (slot < 64)
		slot = 64;
	f->ring_size = sizeof(struct ring) + (size_t)n * slot;
	for (i = 0; i < 2; i++) {
		f->ring[i] = shared_alloc(f->ring_size);
		f->ring[i]->n = n;
		f->ring[i]->slot_size = slot;
	}
	return f;
}

static struct ep *futex_open(void *shared, int side, size_t size)
{
	struct futex_pair *f = shared;
	struct futex_ep *ep = xmalloc(sizeof(*ep));

	(void)size;
	ep->tx = f->ring[side];
	ep->rx = f->ring[!side];
	ep->tail = 0;
	return (struct ep *)ep;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, NULL, NULL, 0) &&
	    errno != EAGAIN && errno != EINTR)
		die("FUTEX_WAIT: %m");
}

static void futex_wake(_Atomic uint32_t *word)
{
	if (syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		die("FUTEX_WAKE: %m");
}

/*
 * Sleep until *word differs from @val. The waker stores *word and then
 * reads *waiting; we store *waiting and then read *word: with both in
 * sequential consistency, one of us sees the other.
 */
static void ring_wait(_Atomic uint32_t *word, uint32_t val, _Atomic uint32_t *waiting)
{
	while (atomic_load(word) == val) {
		atomic_store(waiting, 1);
		if (atomic_load(word) == val)
			futex_wait(word, val);
		atomic_store(waiting, 0);
	}
}

static void futex_send(struct ep *e, const void *buf, size_t len)
{
	struct futex_ep *ep = (struct futex_ep *)e;
	struct ring *r = ep->tx;
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t len64 = len;
	char *slot;

	/* Full: wait for the receiver to free a slot. */
	while (head - atomic_load(&r->tail) >= r->n)
		ring_wait(&r->tail, head - r->n, &r->tx_waiting);
	slot = r->slots + (size_t)(head % r->n) * r->slot_size;
	memcpy(slot, &len64, 8);
	copy_words(slot + 8, buf, len);
	atomic_store(&r->head, head + 1);
	if (atomic_load(&r->rx_waiting))
		futex_wake(&r->head);
}

static const void *futex_recv(struct ep *e, size_t len)
{
	struct futex_ep *ep = (struct futex_ep *)e;
	struct ring *r = ep->rx;
	uint64_t len64;
	char *slot;

	ring_wait(&r->head, ep->tail, &r->rx_waiting);
	slot = r->slots + (size_t)(ep->tail % r->n) * r->slot_size;
	memcpy(&len64, slot, 8);
	if (len64 != len)
		die("futex ring: expected %zu bytes, got %llu", len, (unsigned long long)len64);
	return slot + 8;
}

static void futex_release(struct ep *e)
{
	struct futex_ep *ep = (struct futex_ep *)e;
	struct ring *r = ep->rx;

	atomic_store(&r->tail, ++ep->tail);
	if (atomic_load(&r->tx_waiting))
		futex_wake(&r->tail);
}

static void futex_close(struct ep *e)
{
	free(e);
}

static void futex_destroy(void *shared)
{
	struct futex_pair *f = shared;

	munmap(f->ring[0], f->ring_size);
	munmap(f->ring[1], f->ring_size);
	free(f);
}

const struct mech mech_futex = {
	.name = "futex",
	.what = "shared-memory ring per direction, FUTEX_WAIT/FUTEX_WAKE (the floor)",
	.caps = CAP_RT | CAP_STREAM | CAP_PAIRS,
	.in_place = 1,
	.create = futex_create,
	.open = futex_open,
	.send = futex_send,
	.recv = futex_recv,
	.release = futex_release,
	.close = futex_close,
	.destroy = futex_destroy,
	.depth_max = futex_depth,
};

/* Multicast baseline: k SOCK_SEQPACKET pairs, one send per receiver */

struct unix_group {
	int k;
	int (*sv)[2];
};

struct unix_sender {
	int k;
	int *fd;
	char *rx;
	size_t rx_size;
};

static void *unix_group_create(int k, size_t size)
{
	struct unix_group *g = xmalloc(sizeof(*g));
	int i;

	(void)size;
	g->k = k;
	g->sv = xmalloc(k * sizeof(*g->sv));
	for (i = 0; i < k; i++)
		socketpair_bufs(SOCK_SEQPACKET, g->sv[i]);
	return g;
}

static struct ep *unix_group_open_sender(void *shared)
{
	struct unix_group *g = shared;
	struct unix_sender *s = xmalloc(sizeof(*s));
	int i;

	s->k = g->k;
	s->fd = xmalloc(g->k * sizeof(int));
	for (i = 0; i < g->k; i++) {
		s->fd[i] = g->sv[i][0];
		close(g->sv[i][1]);
	}
	s->rx_size = 4096;
	s->rx = xmalloc(s->rx_size);
	return (struct ep *)s;
}

static struct ep *unix_group_open_receiver(void *shared, int idx, size_t size)
{
	struct unix_group *g = shared;
	int i;

	for (i = 0; i < g->k; i++) {
		close(g->sv[i][0]);
		if (i != idx)
			close(g->sv[i][1]);
	}
	return (struct ep *)fd_ep_new(g->sv[idx][1], g->sv[idx][1], 0, size);
}

static void unix_group_send_all(struct ep *e, const void *buf, size_t len)
{
	struct unix_sender *s = (struct unix_sender *)e;
	int i;

	for (i = 0; i < s->k; i++)
		if (send(s->fd[i], buf, len, 0) != (ssize_t)len)
			die("send: %m");
}

static const void *unix_group_recv_from(struct ep *e, int idx, size_t len)
{
	struct unix_sender *s = (struct unix_sender *)e;
	ssize_t n = recv(s->fd[idx], s->rx, s->rx_size, 0);

	if (n != (ssize_t)len)
		die("recv: expected %zu bytes, got %zd: %m", len, n);
	return s->rx;
}

static void unix_group_close_sender(struct ep *e)
{
	struct unix_sender *s = (struct unix_sender *)e;
	int i;

	for (i = 0; i < s->k; i++)
		close(s->fd[i]);
	free(s->fd);
	free(s->rx);
	free(s);
}

static void unix_group_destroy(void *shared)
{
	struct unix_group *g = shared;
	int i;

	for (i = 0; i < g->k; i++) {
		close(g->sv[i][0]);
		close(g->sv[i][1]);
	}
	free(g->sv);
	free(g);
}

const struct group group_unix = {
	.name = "unix-seqpacket",
	.what = "one SOCK_SEQPACKET send per receiver",
	.mech = &mech_unix_seqpacket,
	.create = unix_group_create,
	.open_sender = unix_group_open_sender,
	.open_receiver = unix_group_open_receiver,
	.send_all = unix_group_send_all,
	.recv_from = unix_group_recv_from,
	.close_sender = unix_group_close_sender,
	.destroy = unix_group_destroy,
};
