// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 for the bench: a pair of peers that hold handles to each other's
 * node, the same with one handle or one fd passed per request, and one
 * sender multicasting to k receivers.
 *
 * A receiver reads the payload in place in its mapped pool and hands the
 * slice back with its next bus1_recv() (BUS1_RECV_RELEASE), in the
 * measured loop, as a Binder user frees its buffer with its next write.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bus1.h>
#include "bench.h"

static int peer_create_flags(unsigned int flags)
{
	int fd = syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC | flags);

	if (fd < 0)
		die("bus1_peer_create: %m");
	return fd;
}

static int peer_create(void)
{
	return peer_create_flags(0);
}

static __u64 node_create(int fd)
{
	__u64 id;

	if (syscall(__NR_bus1_node_create, fd, &id, 0))
		die("bus1_node_create: %m");
	return id;
}

/* Give @dst a handle to the node @src holds @id of; its ID in @dst. */
static __u64 handle_give(int src, __u64 id, int dst)
{
	struct bus1_transfer t = { .src_id = id };

	if (syscall(__NR_bus1_handle_transfer, src, dst, &t, sizeof(t)))
		die("bus1_handle_transfer: %m");
	return t.dst_id;
}

struct bus1_ep {
	int fd;
	const char *pool;
	const __u64 *dst;		/* destination handle IDs */
	unsigned int n_dst;
	__u64 pass_handle;		/* client of bus1+handle */
	__s32 pass_fd;			/* client of bus1+fd */
	int expect_handle, expect_fd;	/* server of bus1+handle/fd */
	__u64 recv_flags;
	struct bus1_recv r;		/* the last message received */
	__u64 done;			/* a slice to release, if have_done */
	int have_done;
};

static struct bus1_ep *ep_new(int fd, const __u64 *dst, unsigned int n_dst)
{
	struct bus1_ep *ep = xmalloc(sizeof(*ep));

	memset(ep, 0, sizeof(*ep));
	ep->fd = fd;
	ep->dst = dst;
	ep->n_dst = n_dst;
	ep->pass_fd = -1;
	ep->pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (ep->pool == MAP_FAILED)
		die("mmap of the pool: %m");
	return ep;
}

static void b1_send(struct ep *e, const void *buf, size_t len)
{
	struct bus1_ep *ep = (struct bus1_ep *)e;
	struct bus1_vec vec = { (uintptr_t)buf, len };
	struct bus1_send s = {
		.ptr_destinations = (uintptr_t)ep->dst,
		.n_destinations = ep->n_dst,
		.ptr_vecs = (uintptr_t)&vec,
		.n_vecs = 1,
	};

	if (ep->pass_handle) {
		s.ptr_handles = (uintptr_t)&ep->pass_handle;
		s.n_handles = 1;
	}
	if (ep->pass_fd >= 0) {
		s.ptr_fds = (uintptr_t)&ep->pass_fd;
		s.n_fds = 1;
	}
	if (syscall(__NR_bus1_send, ep->fd, &s, sizeof(s)))
		die("bus1_send of %zu bytes to %u: %m", len, ep->n_dst);
}

static const void *b1_recv(struct ep *e, size_t len)
{
	struct bus1_ep *ep = (struct bus1_ep *)e;

	ep->r = (struct bus1_recv){ .flags = ep->recv_flags };
	if (ep->have_done) {
		ep->r.flags |= BUS1_RECV_RELEASE;
		ep->r.offset = ep->done;
	}
	if (syscall(__NR_bus1_recv, ep->fd, &ep->r, sizeof(ep->r)))
		die("bus1_recv: %m");
	ep->have_done = 0;
	if (ep->r.type != BUS1_MSG_DATA)
		die("bus1_recv: entry of type %llu", (unsigned long long)ep->r.type);
	if (ep->r.size != len)
		die("bus1_recv: expected %zu bytes, got %llu", len,
		    (unsigned long long)ep->r.size);
	if (ep->r.n_handles != (__u64)ep->expect_handle ||
	    ep->r.n_fds != (__u64)ep->expect_fd)
		die("bus1_recv: %llu handles and %llu fds passed",
		    (unsigned long long)ep->r.n_handles,
		    (unsigned long long)ep->r.n_fds);
	return ep->pool + ep->r.offset;
}

/*
 * Done with the message: a passed handle is released and a passed fd
 * closed now, as the server of an fd over SCM_RIGHTS closes it; the slice
 * goes back with the next receive.
 */
static void b1_release(struct ep *e)
{
	struct bus1_ep *ep = (struct bus1_ep *)e;
	const char *extra = ep->pool + ep->r.offset + ((ep->r.size + 7) & ~7ULL);
	__u64 id;
	__s32 fd;

	if (ep->expect_handle) {
		memcpy(&id, extra, sizeof(id));
		if (syscall(__NR_bus1_handle_release, ep->fd, &id, 1, 0))
			die("bus1_handle_release: %m");
	}
	if (ep->expect_fd) {
		memcpy(&fd, extra, sizeof(fd));
		if (fd < 0 || close(fd))
			die("passed fd %d: %m", fd);
	}
	ep->done = ep->r.offset;
	ep->have_done = 1;
}

static void b1_close(struct ep *e)
{
	struct bus1_ep *ep = (struct bus1_ep *)e;

	munmap((void *)ep->pool, BUS1_POOL_SIZE);
	close(ep->fd);
	free(ep);
}

/* A pair of peers */

struct bus1_pair {
	int fd[2];
	__u64 to[2];		/* side i's handle to the other side's node */
	int third;		/* bus1+handle: owner of the node passed */
	__u64 pass_handle;	/* bus1+handle: the client's handle to it */
	int pass_fd;		/* bus1+fd: the file passed */
};

static struct bus1_pair *pair_create_flags(unsigned int flags)
{
	struct bus1_pair *p = xmalloc(sizeof(*p));
	__u64 node[2];
	int i;

	memset(p, 0, sizeof(*p));
	p->third = -1;
	p->pass_fd = -1;
	for (i = 0; i < 2; i++) {
		p->fd[i] = peer_create_flags(flags);
		node[i] = node_create(p->fd[i]);
	}
	p->to[0] = handle_give(p->fd[1], node[1], p->fd[0]);
	p->to[1] = handle_give(p->fd[0], node[0], p->fd[1]);
	return p;
}

static void *pair_create(size_t size, int cpu)
{
	(void)size;
	(void)cpu;
	return pair_create_flags(0);
}

static struct ep *pair_open(void *shared, int side, size_t size)
{
	struct bus1_pair *p = shared;

	(void)size;
	close(p->fd[!side]);
	return (struct ep *)ep_new(p->fd[side], &p->to[side], 1);
}

static struct ep *pair_open_both(void *shared, int side, size_t size)
{
	struct bus1_pair *p = shared;

	(void)size;
	return (struct ep *)ep_new(p->fd[side], &p->to[side], 1);
}

static void pair_destroy(void *shared)
{
	struct bus1_pair *p = shared;

	close(p->fd[0]);
	close(p->fd[1]);
	if (p->third >= 0)
		close(p->third);
	if (p->pass_fd >= 0)
		close(p->pass_fd);
	free(p);
}

static unsigned int b1_depth(size_t size)
{
	/* Well within the 16 MiB pool and the per-peer quota. */
	size_t d = (8U << 20) / ((size + 7) & ~7UL);

	return d > 1024 ? 1024 : d;
}

const struct mech mech_bus1 = {
	.name = "bus1",
	.what = "bus1_send() to the other peer's node; the payload lands in the receiver's pool, handed back with the next bus1_recv() (BUS1_RECV_RELEASE)",
	.caps = CAP_RT | CAP_STREAM | CAP_PAIRS | CAP_PASS | CAP_PATH,
	.in_place = 1,
	.create = pair_create,
	.open = pair_open,
	.open_both = pair_open_both,
	.send = b1_send,
	.recv = b1_recv,
	.release = b1_release,
	.close = b1_close,
	.destroy = pair_destroy,
	.depth_max = b1_depth,
};

/*
 * bus1+creds: both peers are BUS1_PEER_CREDS, so every message carries
 * its sender's identity behind the payload; the cost of asking for it.
 */
static void *creds_create(size_t size, int cpu)
{
	(void)size;
	(void)cpu;
	return pair_create_flags(BUS1_PEER_CREDS);
}

const struct mech mech_bus1_creds = {
	.name = "bus1+creds",
	.what = "bus1 between two BUS1_PEER_CREDS peers: each message also carries its sender's uid, gid, pid and security context",
	.caps = CAP_RT | CAP_PATH,
	.in_place = 1,
	.create = creds_create,
	.open = pair_open,
	.open_both = pair_open_both,
	.send = b1_send,
	.recv = b1_recv,
	.release = b1_release,
	.close = b1_close,
	.destroy = pair_destroy,
	.depth_max = b1_depth,
};

/*
 * bus1+handle: each request passes a handle to a node of a third peer
 * that the server does not hold, so it gets a new handle every time and
 * releases it. The third peer's release notices are never read.
 */
static void *handle_create(size_t size, int cpu)
{
	struct bus1_pair *p = pair_create(size, cpu);

	p->third = peer_create();
	p->pass_handle = handle_give(p->third, node_create(p->third), p->fd[0]);
	return p;
}

static struct ep *handle_open(void *shared, int side, size_t size)
{
	struct bus1_pair *p = shared;
	struct bus1_ep *ep = (struct bus1_ep *)pair_open(shared, side, size);

	if (side == 0)
		ep->pass_handle = p->pass_handle;
	else
		ep->expect_handle = 1;
	return (struct ep *)ep;
}

const struct mech mech_bus1_handle = {
	.name = "bus1+handle",
	.what = "bus1, each request passes one handle (new to the server, which releases it)",
	.caps = CAP_PASS,
	.in_place = 1,
	.create = handle_create,
	.open = handle_open,
	.send = b1_send,
	.recv = b1_recv,
	.release = b1_release,
	.close = b1_close,
	.destroy = pair_destroy,
};

/* bus1+fd: each request passes an fd, installed by BUS1_RECV_FDS, closed */
static void *fd_create(size_t size, int cpu)
{
	struct bus1_pair *p = pair_create(size, cpu);

	p->pass_fd = eventfd(0, EFD_CLOEXEC);
	if (p->pass_fd < 0)
		die("eventfd: %m");
	return p;
}

static struct ep *fd_open(void *shared, int side, size_t size)
{
	struct bus1_pair *p = shared;
	struct bus1_ep *ep = (struct bus1_ep *)pair_open(shared, side, size);

	if (side == 0) {
		ep->pass_fd = p->pass_fd;
	} else {
		ep->expect_fd = 1;
		ep->recv_flags = BUS1_RECV_FDS;
	}
	return (struct ep *)ep;
}

const struct mech mech_bus1_fd = {
	.name = "bus1+fd",
	.what = "bus1, each request passes one fd (BUS1_RECV_FDS), closed by the server",
	.caps = CAP_PASS,
	.in_place = 1,
	.create = fd_create,
	.open = fd_open,
	.send = b1_send,
	.recv = b1_recv,
	.release = b1_release,
	.close = b1_close,
	.destroy = pair_destroy,
};

/*
 * Multicast: the sender holds a handle to each receiver's node and sends
 * once to all of them; each receiver holds a handle to the sender's node
 * for its credits.
 */

struct bus1_group {
	int k;
	int sender;
	int *rx;
	__u64 *dst;		/* sender's handles to the receivers' nodes */
	__u64 *back;		/* each receiver's handle to the sender's node */
};

static void *group_create(int k, size_t size)
{
	struct bus1_group *g = xmalloc(sizeof(*g));
	__u64 node;
	int i;

	(void)size;
	g->k = k;
	g->sender = peer_create();
	node = node_create(g->sender);
	g->rx = xmalloc(k * sizeof(int));
	g->dst = xmalloc(k * sizeof(__u64));
	g->back = xmalloc(k * sizeof(__u64));
	for (i = 0; i < k; i++) {
		g->rx[i] = peer_create();
		g->dst[i] = handle_give(g->rx[i], node_create(g->rx[i]), g->sender);
		g->back[i] = handle_give(g->sender, node, g->rx[i]);
	}
	return g;
}

static struct ep *group_open_sender(void *shared)
{
	struct bus1_group *g = shared;
	int i;

	for (i = 0; i < g->k; i++)
		close(g->rx[i]);
	return (struct ep *)ep_new(g->sender, g->dst, g->k);
}

static struct ep *group_open_receiver(void *shared, int idx, size_t size)
{
	struct bus1_group *g = shared;
	int i;

	(void)size;
	close(g->sender);
	for (i = 0; i < g->k; i++)
		if (i != idx)
			close(g->rx[i]);
	return (struct ep *)ep_new(g->rx[idx], &g->back[idx], 1);
}

static const void *group_recv_from(struct ep *e, int idx, size_t len)
{
	(void)idx;	/* one queue: the next credit, from anyone */
	return b1_recv(e, len);
}

static void group_destroy(void *shared)
{
	struct bus1_group *g = shared;
	int i;

	close(g->sender);
	for (i = 0; i < g->k; i++)
		close(g->rx[i]);
	free(g->rx);
	free(g->dst);
	free(g->back);
	free(g);
}

const struct group group_bus1 = {
	.name = "bus1",
	.what = "one bus1_send() to k handles",
	.mech = &mech_bus1,
	.create = group_create,
	.open_sender = group_open_sender,
	.open_receiver = group_open_receiver,
	.send_all = b1_send,
	.recv_from = group_recv_from,
	.release = b1_release,
	.close_sender = b1_close,
	.destroy = group_destroy,
};
