/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_PEER_H
#define __BUS1_PEER_H

/*
 * A bus1 peer: the object behind a peer fd. It owns a receive pool and
 * will own nodes, handles and a message queue.
 */

#include <linux/wait.h>
#include "pool.h"

/**
 * struct bus1_peer - one bus1 peer
 * @waitq:	tasks waiting in poll(2) for the peer to change state
 * @pool:	receive pool, mapped read-only by the peer's users
 *
 * Lifetime: a peer is created together with its file and freed when the
 * last reference to that file is dropped; nothing else points to it yet.
 * Locking: @pool is immutable after creation, @waitq has its own lock.
 */
struct bus1_peer {
	wait_queue_head_t waitq;
	struct bus1_pool pool;
};

int bus1_peer_create_fd(unsigned int flags);

#endif /* __BUS1_PEER_H */
