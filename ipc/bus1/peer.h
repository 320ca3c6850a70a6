/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_PEER_H
#define __BUS1_PEER_H

/*
 * A bus1 peer: the object behind a peer fd. It owns nodes, holds handles,
 * and owns a queue and a receive pool.
 */

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include "handle.h"
#include "pool.h"
#include "queue.h"

struct bus1_recv;
struct file;

/**
 * struct bus1_peer - one bus1 peer
 * @ref:	one reference for the peer file, one per node the peer owns
 * @active:	number of senders using @queue and @pool, plus
 *		BUS1_PEER_DISCONNECTED once the peer file is released
 * @lock:	protects @handles
 * @recv_lock:	serializes receivers, so each entry is received once
 * @handles:	the handles the peer holds
 * @waitq:	tasks waiting in poll(2) or bus1_recv() for an entry
 * @queue:	entries sent to the peer, in the global order
 * @pool:	receive pool, mapped read-only by the peer's users
 *
 * Lifetime: the peer file holds a @ref until it is released; then the
 * peer disconnects. Senders that reach the peer through a node take an
 * @active reference first, which fails once the peer is disconnected.
 * Whoever drops the last active reference of a disconnected peer tears it
 * down: flushes @queue, drops @pool and @handles. Nodes the peer owned
 * that others still hold keep the (torn down) peer in memory until the
 * last of them goes.
 *
 * Locking: @lock is taken on its own, never while another peer's lock is
 * held. @recv_lock is only ever taken by the peer's own receivers; under
 * it they may take @queue's lock and fault in user memory. @queue, @pool
 * and @waitq have their own locks; none of them is held while another
 * peer's lock is taken.
 */
struct bus1_peer {
	struct kref ref;
	atomic_t active;
	struct mutex lock;	/* guards @handles; one peer's at a time */
	struct mutex recv_lock;	/* one receiver at a time */
	struct bus1_handles handles;
	wait_queue_head_t waitq;
	struct bus1_queue queue;
	struct bus1_pool pool;
};

int bus1_peer_create_fd(unsigned int flags);
struct bus1_peer *bus1_peer_from_file(struct file *file);
void bus1_peer_put(struct bus1_peer *peer);
bool bus1_peer_acquire(struct bus1_peer *peer);
void bus1_peer_release(struct bus1_peer *peer);
int bus1_peer_recv(struct bus1_peer *peer, bool nonblock,
		   struct bus1_recv __user *uargs, size_t size);

static inline struct bus1_peer *bus1_peer_get(struct bus1_peer *peer)
{
	kref_get(&peer->ref);
	return peer;
}

#endif /* __BUS1_PEER_H */
