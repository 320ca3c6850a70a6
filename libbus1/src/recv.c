// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Receiving: message views into the pool, their release, event loops.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define B1_ALIGN8(x)	(((x) + 7) & ~(uint64_t)7)

/*
 * Describe entry @r in @msg. @ref is a reference on @peer the caller
 * passes to the view (the one of the view received before), or false.
 */
static void b1_view(struct bus1_peer *peer, struct bus1_msg *msg,
		    const struct bus1_recv *r, bool ref)
{
	const unsigned char *base = peer->pool + r->offset;
	uint64_t at = B1_ALIGN8(r->size);

	memset(msg, 0, sizeof(*msg));
	msg->type = r->type;
	msg->flags = r->msg_flags;
	msg->destination = r->destination;
	if (r->type != BUS1_MSG_DATA) {
		if (ref)
			b1_peer_unref(peer);
		return;
	}
	/* The slice: payload, handle IDs, fds, then the sender if asked. */
	msg->data = base;
	msg->size = r->size;
	msg->handles = (const uint64_t *)(base + at);
	msg->n_handles = r->n_handles;
	at += 8 * r->n_handles;
	msg->fds = (const int *)(base + at);
	msg->n_fds = r->n_fds;
	at += 4 * r->n_fds;
	if (r->msg_flags & BUS1_MSG_CREDS) {
		msg->creds = (const struct bus1_creds *)(base + B1_ALIGN8(at));
		msg->secctx = (const char *)(msg->creds + 1);
	}
	msg->_peer = peer;
	msg->_offset = r->offset;
	if (!ref)
		b1_peer_ref(peer);
}

B1_EXPORT int bus1_msg_release(struct bus1_msg *msg)
{
	struct bus1_peer *peer = msg->_peer;
	int r = 0;

	if (!peer)
		return 0;
	if (peer->fd >= 0)
		r = bus1_sys_slice_release(peer->fd, &msg->_offset, 1, 0);
	memset(msg, 0, sizeof(*msg));
	b1_peer_unref(peer);
	return r;
}

/*
 * Receive the next entry from the kernel, handing back the slice @msg
 * holds in the same call; @msg holds no entry if this fails.
 */
int b1_recv(struct bus1_peer *peer, struct bus1_msg *msg, unsigned int flags)
{
	struct bus1_recv r = { .flags = flags };
	struct bus1_peer *held = msg->_peer;
	int ret;

	if (held == peer) {
		r.flags |= BUS1_RECV_RELEASE;
		r.offset = msg->_offset;
	} else if (held) {
		bus1_msg_release(msg);
	}
	ret = bus1_sys_recv(peer->fd, &r, sizeof(r));
	if (ret < 0) {
		bus1_msg_release(msg);
		return ret;
	}
	/* The old view's reference passes to the new one. */
	b1_view(peer, msg, &r, held == peer);
	return 0;
}

/* Take the oldest entry kept by bus1_peer_call(), if any. */
static bool b1_unkeep(struct bus1_peer *peer, struct bus1_msg *msg)
{
	struct b1_kept *k = peer->kept;

	if (!k)
		return false;
	peer->kept = k->next;
	if (!peer->kept)
		peer->kept_tail = &peer->kept;
	bus1_msg_release(msg);
	*msg = k->msg;
	free(k);
	return true;
}

int b1_keep(struct bus1_peer *peer, struct bus1_msg *msg)
{
	struct b1_kept *k = malloc(sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->next = NULL;
	k->msg = *msg;
	memset(msg, 0, sizeof(*msg));
	*peer->kept_tail = k;
	peer->kept_tail = &k->next;
	return 0;
}

/*
 * Receive the next entry for the caller: one kept by bus1_peer_call(),
 * else the next from the kernel, passing over the library's own notices.
 */
static int b1_recv_next(struct bus1_peer *peer, struct bus1_msg *msg,
			unsigned int flags)
{
	int r;

	if (b1_unkeep(peer, msg))
		return 0;
	for (;;) {
		r = b1_recv(peer, msg, flags);
		if (r < 0)
			return r;
		/*
		 * The owner hears that nobody holds its reply node whenever
		 * a callee released its handle after replying: that notice
		 * is the library's, not the caller's.
		 */
		if (msg->type != BUS1_MSG_NODE_RELEASE ||
		    msg->destination != peer->reply_id || !peer->reply_id)
			return 0;
	}
}

B1_EXPORT int bus1_peer_recv(struct bus1_peer *peer, struct bus1_msg *msg,
			     unsigned int flags)
{
	if (flags & ~BUS1_PEER_RECV_FDS) {
		bus1_msg_release(msg);
		return -EINVAL;
	}
	return b1_recv_next(peer, msg, flags);
}

/*
 * Make the peer's file non-blocking until b1_nonblock_end(), if it is
 * not: poll() reports a release notice that the kernel withdrew (its
 * node came back), and a blocking receive would then wait past it for
 * the next entry. The flags are the open file description's; receives
 * on a peer are serialized (see libbus1.h), and sends never wait, so
 * nobody else notices. *@saved: the flags to restore.
 */
int b1_nonblock_begin(struct bus1_peer *peer, int *saved)
{
	int fl = fcntl(peer->fd, F_GETFL);

	if (fl < 0)
		return -errno;
	*saved = fl;
	if (!(fl & O_NONBLOCK) && fcntl(peer->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

void b1_nonblock_end(struct bus1_peer *peer, int saved)
{
	if (!(saved & O_NONBLOCK))
		fcntl(peer->fd, F_SETFL, saved);
}

/*
 * Wait until an entry can be received or @timeout_ms (-1: no limit)
 * passed. Returns 1 if one can, 0 on timeout, or -errno.
 */
int b1_wait(struct bus1_peer *peer, int timeout_ms)
{
	struct pollfd p = { .fd = peer->fd, .events = POLLIN };
	int r;

	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	return r;
}

B1_EXPORT int bus1_peer_dispatch(struct bus1_peer *peer, bus1_handler_fn fn,
				 void *userdata, unsigned int flags)
{
	struct bus1_msg msg = { 0 };
	int n = 0, r, fl;

	if (flags & ~BUS1_PEER_RECV_FDS)
		return -EINVAL;
	r = b1_nonblock_begin(peer, &fl);
	if (r < 0)
		return r;
	for (;;) {
		r = b1_recv_next(peer, &msg, flags);
		if (r == -EAGAIN) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		n++;
		r = fn(peer, &msg, userdata);
		if (r < 0)
			break;
	}
	bus1_msg_release(&msg);
	b1_nonblock_end(peer, fl);
	return r < 0 ? r : n;
}
