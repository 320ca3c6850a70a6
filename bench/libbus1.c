// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 through libbus1 for the bench: the pair of peers of bus1.c, every
 * operation a call of the library. The parent sets the pair up with
 * bus1_peer_new(), bus1_peer_node_new() and bus1_peer_transfer(); each
 * side sends with bus1_peer_send() and receives with bus1_peer_recv()
 * into a struct bus1_msg it keeps across messages, so that each receive
 * hands the previous slice back in the same system call, as bus1.c does
 * with BUS1_RECV_RELEASE. The payload is taken from the pool in place
 * (copied out or read, as in bus1.c).
 *
 * Its round trip against bus1's is what the library costs per message.
 */

#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <libbus1.h>
#include "bench.h"

struct lib_ep {
	struct bus1_peer *peer;
	uint64_t dst;			/* handle ID of the other side's node */
	struct bus1_msg msg;		/* the last entry received */
};

/* A pair of peers, each holding a handle to the other's node. */
struct lib_pair {
	struct bus1_peer *peer[2];
	uint64_t to[2];			/* side i's handle to the other's node */
	int open[2];			/* peer[i] still ours to free */
};

static void *lib_create(size_t size, int cpu)
{
	struct lib_pair *p = xmalloc(sizeof(*p));
	uint64_t node[2];
	int i, r;

	(void)size;
	(void)cpu;
	memset(p, 0, sizeof(*p));
	for (i = 0; i < 2; i++) {
		r = bus1_peer_new(&p->peer[i], 0);
		if (r < 0)
			die("bus1_peer_new: %s", strerror(-r));
		p->open[i] = 1;
		r = bus1_peer_node_new(p->peer[i], &node[i]);
		if (r < 0)
			die("bus1_peer_node_new: %s", strerror(-r));
	}
	for (i = 0; i < 2; i++) {
		r = bus1_peer_transfer(p->peer[!i], node[!i],
				       bus1_peer_fd(p->peer[i]), &p->to[i]);
		if (r < 0)
			die("bus1_peer_transfer: %s", strerror(-r));
	}
	return p;
}

static struct ep *lib_ep_new(struct lib_pair *p, int side)
{
	struct lib_ep *ep = xmalloc(sizeof(*ep));

	memset(ep, 0, sizeof(*ep));
	ep->peer = p->peer[side];
	ep->dst = p->to[side];
	p->open[side] = 0;	/* the end's now: lib_close() frees it */
	return (struct ep *)ep;
}

static struct ep *lib_open(void *shared, int side, size_t size)
{
	struct lib_pair *p = shared;

	(void)size;
	bus1_peer_free(p->peer[!side]);
	p->open[!side] = 0;
	return lib_ep_new(p, side);
}

static struct ep *lib_open_both(void *shared, int side, size_t size)
{
	(void)size;
	return lib_ep_new(shared, side);
}

static void lib_send(struct ep *e, const void *buf, size_t len)
{
	struct lib_ep *ep = (struct lib_ep *)e;
	int r = bus1_peer_send(ep->peer, ep->dst, buf, len);

	if (r < 0)
		die("bus1_peer_send of %zu bytes: %s", len, strerror(-r));
}

static const void *lib_recv(struct ep *e, size_t len)
{
	struct lib_ep *ep = (struct lib_ep *)e;
	int r = bus1_peer_recv(ep->peer, &ep->msg, 0);

	if (r < 0)
		die("bus1_peer_recv: %s", strerror(-r));
	if (ep->msg.type != BUS1_MSG_DATA)
		die("bus1_peer_recv: entry of type %llu",
		    (unsigned long long)ep->msg.type);
	if (ep->msg.size != len)
		die("bus1_peer_recv: expected %zu bytes, got %zu", len,
		    ep->msg.size);
	if (ep->msg.n_handles || ep->msg.n_fds)
		die("bus1_peer_recv: %zu handles and %zu fds passed",
		    ep->msg.n_handles, ep->msg.n_fds);
	return ep->msg.data;
}

static void lib_close(struct ep *e)
{
	struct lib_ep *ep = (struct lib_ep *)e;

	bus1_msg_release(&ep->msg);
	bus1_peer_free(ep->peer);
	free(ep);
}

static void lib_destroy(void *shared)
{
	struct lib_pair *p = shared;
	int i;

	for (i = 0; i < 2; i++)
		if (p->open[i])
			bus1_peer_free(p->peer[i]);
	free(p);
}

static unsigned int lib_depth(size_t size)
{
	/* As bus1's: well within the 16 MiB pool and the per-peer quota. */
	size_t d = (8U << 20) / ((size + 7) & ~7UL);

	return d > 1024 ? 1024 : d;
}

const struct mech mech_bus1_lib = {
	.name = "bus1-lib",
	.what = "bus1 through libbus1: bus1_peer_send() of one buffer; bus1_peer_recv() into one struct bus1_msg kept across messages, a view of the payload in the pool whose slice goes back with the next receive, in the same system call",
	.caps = CAP_RT | CAP_STREAM | CAP_PATH,
	.in_place = 1,
	.create = lib_create,
	.open = lib_open,
	.open_both = lib_open_both,
	.send = lib_send,
	.recv = lib_recv,
	.close = lib_close,
	.destroy = lib_destroy,
	.depth_max = lib_depth,
};
