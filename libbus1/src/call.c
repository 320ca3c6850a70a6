// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Calls: a request that carries a handle to the caller's reply node, and
 * a wait for the reply to arrive there.
 *
 * A peer has one reply node for all its calls; with one call at a time
 * (receiving is single-threaded), the first message on it after a
 * request is that request's reply. A call that ends without its reply
 * (timeout, signal, failure) replaces the node, so that a late reply
 * goes to a destroyed node and is dropped instead of answering the next
 * call.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include "internal.h"

static int64_t b1_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Destroy the reply node. Its destruction notice, queued for the peer at
 * once, is taken out here; what comes before it is kept for later.
 */
static void b1_retire_reply_node(struct bus1_peer *peer)
{
	uint64_t id = peer->reply_id;
	struct bus1_msg msg = { 0 };

	peer->reply_id = 0;
	if (bus1_sys_nodes_destroy(peer->fd, &id, 1, 0) < 0)
		return;
	while (b1_wait(peer, 0) > 0 && b1_recv(peer, &msg, 0) == 0) {
		if (msg.type == BUS1_MSG_NODE_DESTROY && msg.destination == id)
			break;
		if (b1_keep(peer, &msg) < 0)
			break;
	}
	bus1_msg_release(&msg);
	bus1_sys_handle_release(peer->fd, &id, 1, 0);
}

B1_EXPORT int bus1_peer_call(struct bus1_peer *peer, uint64_t dest,
			     const struct bus1_tx *tx, struct bus1_msg *reply,
			     int timeout_ms, unsigned int flags)
{
	int64_t deadline = timeout_ms < 0 ? 0 : b1_now_ms() + timeout_ms;
	struct bus1_msg msg = { 0 };
	int r, wait_ms, fl = O_NONBLOCK;
	bool released = false;

	bus1_msg_release(reply);
	if (flags & ~BUS1_PEER_RECV_FDS)
		return -EINVAL;
	if (!peer->reply_id) {
		r = bus1_sys_node_create(peer->fd, &peer->reply_id, 0);
		if (r < 0)
			return r;
	}
	/*
	 * A call that may time out must not block in a receive: the last
	 * call's release notice, withdrawn by this send, can wake poll().
	 * Without a timeout a blocking receive waits past it for the reply.
	 */
	if (timeout_ms >= 0) {
		r = b1_nonblock_begin(peer, &fl);
		if (r < 0)
			return r;
	}
	r = b1_send(peer, &dest, 1, tx, &peer->reply_id, NULL);
	if (r < 0)
		goto out;

	for (;;) {
		wait_ms = -1;
		if (released) {
			wait_ms = 0;
		} else if (timeout_ms >= 0) {
			int64_t left = deadline - b1_now_ms();

			wait_ms = left > 0 ? (int)left : 0;
		}
		if (wait_ms < 0) {
			/*
			 * Without a timeout, receive first: a blocking peer
			 * waits in the receive, only a non-blocking one in
			 * poll().
			 */
			r = b1_recv(peer, &msg, flags);
			if (r == -EAGAIN) {
				r = b1_wait(peer, -1);
				if (r < 0)
					break;
				continue;
			}
		} else {
			r = b1_wait(peer, wait_ms);
			if (r == 0)
				r = released ? -EPIPE : -ETIMEDOUT;
			if (r < 0)
				break;
			r = b1_recv(peer, &msg, flags);
			if (r == -EAGAIN && released)
				r = -EPIPE;
			if (r == -EAGAIN)
				continue;
		}
		if (r < 0)
			break;
		if (msg.destination != peer->reply_id) {
			r = b1_keep(peer, &msg);
			if (r < 0)
				break;
			continue;
		}
		if (msg.type == BUS1_MSG_DATA) {
			*reply = msg;
			r = 0;
			goto out;
		}
		if (msg.type != BUS1_MSG_NODE_RELEASE) {
			r = -EPIPE;
			break;
		}
		/*
		 * Nobody holds the reply node. A callee that replied did so
		 * before it let go, so its reply is queued already: this may
		 * be the notice of an earlier call's release, withdrawn when
		 * this call passed the node and current again since the
		 * callee let go. Take what is queued, without waiting; if no
		 * reply is there, none can come.
		 */
		if (!released && (fl & O_NONBLOCK) && timeout_ms < 0) {
			r = b1_nonblock_begin(peer, &fl);
			if (r < 0)
				break;
		}
		released = true;
	}
	bus1_msg_release(&msg);
	/* Without a caller holding it, the reply node serves the next call. */
	if (r != -EPIPE)
		b1_retire_reply_node(peer);
out:
	b1_nonblock_end(peer, fl);
	return r;
}
