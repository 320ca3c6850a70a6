/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_PEER_H
#define __BUS1_PEER_H

/*
 * A bus1 peer: the object behind a peer fd. It owns nodes, holds handles,
 * and owns a queue and a receive pool.
 */

#include <linux/atomic.h>
#include <linux/errno.h>
#include <linux/kref.h>
#include <linux/limits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "handle.h"
#include "pool.h"
#include "queue.h"
#include "quota.h"

struct bus1_message;
struct bus1_recv;
struct bus1_secctx;
struct cred;
struct file;
struct pid;
struct pid_namespace;

/**
 * struct bus1_peer - one bus1 peer
 * @ref:	one reference for the peer file, one for its teardown once
 *		it is disconnected, one per node the peer owns
 * @active:	number of calls using @queue, @pool and @handles: the
 *		peer's own system calls and senders to it; plus
 *		BUS1_PEER_DISCONNECTED once the peer is disconnected
 * @pins:	number of sends that took a pin to copy into @pool without
 *		an active reference (they keep it until they end), plus
 *		one until the teardown is done with @queue and @handles
 * @flags:	BUS1_PEER_BIT_* bits
 * @cred:	credentials of the task that created the peer, a counted
 *		reference; every permission check and charge on the peer's
 *		behalf uses them, whoever calls through its file
 * @pid:	the process (thread group) of that task, a counted
 *		reference; reported as the sender of the peer's messages
 * @pid_ns:	PID namespace of that task, a counted reference; with
 *		@cred's user namespace, what the sender identity a
 *		BUS1_PEER_CREDS peer receives is translated into
 * @secctx:	the LSM security context of @cred, made the first time a
 *		message of the peer carries it (see creds.c); NULL until
 *		then, set once with cmpxchg() and read with acquire
 * @lock:	protects @handles
 * @nodes_lock:	protects the holders and release state of every node the
 *		peer owns (see node.c)
 * @recv_lock:	serializes receivers, so each entry is received once
 * @handles:	the handles the peer holds
 * @waitq:	tasks waiting in poll(2) or bus1_recv() for an entry; a
 *		send wakes it only if it has a waiter (wq_has_sleeper()),
 *		so every waiter adds itself, then a full barrier, then
 *		tests the queue's readiness
 * @queue:	entries sent to the peer, in the global order
 * @pool:	receive pool, mapped read-only by the peer's users
 * @quota:	the peer's user, and what the peer is charged for what
 *		others sent it and what it holds (see quota.c)
 * @teardown_work: runs the teardown when a sender dropped the last
 *		active reference
 * @unpin_work:	drops @pool and @quota when a sender dropped the last pin
 * @spare_message: a freed data message kept for the next one sent to
 *		the peer, or NULL; taken and put back with xchg() and
 *		cmpxchg(), without a lock
 * @spare_lock:	guards @spare_messages and @n_spare_messages; no other
 *		lock is taken under it
 * @spare_messages: more freed data messages, kept when @spare_message is
 *		taken, at most BUS1_PEER_SPARE_MESSAGES
 * @n_spare_messages: number of entries in @spare_messages; read without
 *		the lock to skip it when it is empty
 *
 * The spare messages are freed with the peer. Each stays charged to the
 * memory cgroup of the sender that allocated it.
 *
 * Lifetime: the peer file holds a @ref until it is released, and so does
 * the pending teardown from disconnection until it ran. The peer
 * disconnects when the file is released or bus1_peer_disconnect() is
 * called on it, whichever comes first. Everyone who uses the peer takes
 * an @active reference first, which fails once the peer is disconnected.
 * Whoever drops the last active reference of a disconnected peer tears it
 * down: destroys its nodes, drops its handles and flushes @queue. The
 * peer's own calls do that in place; senders, which may hold locks of
 * other peers, leave it to @teardown_work. @pool and @quota go once the
 * teardown is done and no send copies into the pool any more: a send
 * holds a pin instead of an active reference while it copies from its
 * caller's memory, which may stall for as long as the caller likes (see
 * tx.c), so that it delays neither the teardown nor the notices of the
 * peer's nodes. Nodes the peer owned that others still hold keep the
 * (torn down) peer in memory until the last of them goes.
 *
 * Locking order: @recv_lock, then @lock, then the @nodes_lock of any peer,
 * then the lock of any queue or slice allocator and @waitq, then
 * @spare_lock of any peer; a slice allocator's lock, then the quota lock
 * of its peer, then that of the peer's user (see quota.h). @lock is never
 * held while another peer's @lock is taken, and @nodes_lock never while
 * another peer's @nodes_lock is taken. @recv_lock is only ever taken by
 * the peer's own receivers; they may fault in user memory under it.
 */
struct bus1_peer {
	struct kref ref;
	atomic_t active;
	refcount_t pins;
	unsigned long flags;
	const struct cred *cred;
	struct pid *pid;
	struct pid_namespace *pid_ns;
	struct bus1_secctx *secctx;
	struct mutex lock;	/* guards @handles; one peer's at a time */
	struct mutex nodes_lock; /* guards owned nodes; one peer's at a time */
	struct mutex recv_lock;	/* one receiver at a time */
	struct bus1_handles handles;
	wait_queue_head_t waitq;
	struct bus1_queue queue;
	struct bus1_pool pool;
	struct bus1_quota quota;
	struct work_struct teardown_work;
	struct work_struct unpin_work;
	struct bus1_message *spare_message;
	spinlock_t spare_lock;	/* guards the spare messages */
	struct list_head spare_messages;
	unsigned int n_spare_messages;
};

/*
 * Freed messages a peer keeps besides bus1_peer.spare_message: one per
 * message a receiver takes out of its queue in one go, as it does after a
 * burst, so that the next burst sent to it is allocated from them.
 * Without them each message of a burst is a kfree() on the receiver's CPU
 * and a kzalloc() on the sender's.
 */
#define BUS1_PEER_SPARE_MESSAGES	64

/* Set once the peer is disconnected; never cleared. */
#define BUS1_PEER_BIT_DISCONNECTED	0
/* Created with BUS1_PEER_CREDS: its data messages carry their sender. */
#define BUS1_PEER_BIT_CREDS		1

/* Added to bus1_peer.active when the peer disconnects. */
#define BUS1_PEER_DISCONNECTED	INT_MIN

int bus1_peer_create_fd(unsigned int flags);
struct bus1_peer *bus1_peer_from_file(struct file *file);
void bus1_peer_put(struct bus1_peer *peer);
void bus1_peer_leave(struct bus1_peer *peer);
int bus1_peer_disconnect(struct bus1_peer *peer);
int bus1_peer_recv(struct bus1_peer *peer, bool nonblock, u64 flags,
		   u64 release, struct bus1_recv __user *uargs);

/**
 * bus1_peer_acquire() - take an active reference to a peer
 * @peer:	peer to use, kept in memory by the caller
 *
 * An active reference keeps the queue, pool and handles of @peer usable,
 * even if the peer disconnects meanwhile.
 *
 * Return: true on success, false if @peer is disconnected.
 */
static inline bool bus1_peer_acquire(struct bus1_peer *peer)
{
	return atomic_inc_unless_negative(&peer->active);
}

/**
 * bus1_peer_release() - drop an active reference to a peer
 * @peer:	peer to release, kept in memory by the caller
 *
 * The last active reference to a disconnected peer schedules its
 * teardown, so this may be called under any bus1 lock.
 */
static inline void bus1_peer_release(struct bus1_peer *peer)
{
	if (atomic_dec_return(&peer->active) == BUS1_PEER_DISCONNECTED)
		queue_work(system_unbound_wq, &peer->teardown_work);
}

/**
 * bus1_peer_pin() - keep the pool of a peer while a send copies into it
 * @peer:	peer the caller holds an active reference to
 *
 * A pin keeps @peer's pool and quota, but not its queue or handles: the
 * caller may drop its active reference then, so that a disconnect tears
 * the peer down without waiting for it, and must take an active
 * reference again (bus1_peer_acquire()) to queue anything.
 */
static inline void bus1_peer_pin(struct bus1_peer *peer)
{
	refcount_inc(&peer->pins);
}

/**
 * bus1_peer_unpin() - drop a pin of a peer
 * @peer:	peer to unpin, kept in memory by the caller
 *
 * The last pin of a torn down peer schedules the release of its pool, so
 * this may be called under any bus1 lock.
 */
static inline void bus1_peer_unpin(struct bus1_peer *peer)
{
	if (refcount_dec_and_test(&peer->pins))
		queue_work(system_unbound_wq, &peer->unpin_work);
}

/**
 * bus1_peer_enter() - start a system call on a peer
 * @peer:	the caller's peer, kept in memory by its file
 *
 * Return: 0 on success, -ESHUTDOWN if @peer is disconnected.
 */
static inline int bus1_peer_enter(struct bus1_peer *peer)
{
	return bus1_peer_acquire(peer) ? 0 : -ESHUTDOWN;
}

static inline struct bus1_peer *bus1_peer_get(struct bus1_peer *peer)
{
	kref_get(&peer->ref);
	return peer;
}

/**
 * bus1_peer_id() - what trace events name a peer by
 * @peer:	the peer
 *
 * The quota keeps it, as refused charges name the peer too.
 *
 * Return: the inode number of the peer's file, as fstat() on its file
 * descriptor reports it.
 */
static inline u64 bus1_peer_id(const struct bus1_peer *peer)
{
	return peer->quota.peer_id;
}

#endif /* __BUS1_PEER_H */
