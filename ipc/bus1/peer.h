/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_PEER_H
#define __BUS1_PEER_H

/*
 * A bus1 peer: the object behind a peer fd. It owns nodes, holds handles,
 * and owns a receive pool.
 */

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include "handle.h"
#include "pool.h"

struct file;

/**
 * struct bus1_peer - one bus1 peer
 * @ref:	one reference for the peer file, one per node the peer owns
 * @lock:	protects @handles
 * @handles:	the handles the peer holds
 * @waitq:	tasks waiting in poll(2) for the peer to change state
 * @pool:	receive pool, mapped read-only by the peer's users
 *
 * Lifetime: the peer file holds a reference until it is released; then
 * the peer disconnects: it drops its handles and its pool. Nodes it owned
 * that others still hold keep the (disconnected) peer in memory until the
 * last of them goes.
 *
 * Locking: @lock is taken on its own, never while another peer's lock is
 * held. @pool is immutable between creation and disconnect, @waitq has
 * its own lock.
 */
struct bus1_peer {
	struct kref ref;
	struct mutex lock;	/* guards @handles; one peer's at a time */
	struct bus1_handles handles;
	wait_queue_head_t waitq;
	struct bus1_pool pool;
};

int bus1_peer_create_fd(unsigned int flags);
struct bus1_peer *bus1_peer_from_file(struct file *file);
void bus1_peer_put(struct bus1_peer *peer);

static inline struct bus1_peer *bus1_peer_get(struct bus1_peer *peer)
{
	kref_get(&peer->ref);
	return peer;
}

#endif /* __BUS1_PEER_H */
