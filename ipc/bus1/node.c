// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 nodes: holders, destruction and release notices
 *
 * A node keeps the list of every handle to it, so that destroying it can
 * tell each holder, and counts the handles other peers hold, so that the
 * owner can be told when that count drops to zero. Both are protected by
 * the owner's nodes_lock, one lock for all nodes of a peer: a peer that
 * nobody holds a handle of is never touched through it.
 *
 * Destroying a set of nodes is one transaction, ordered with every other
 * (see queue.c): a notice is staged in the queue of every holder, then all
 * are committed at one timestamp. Data messages that race with it and are
 * ordered after it are dropped when the owner receives them, so nothing
 * addressed to a node arrives after the news of its destruction.
 *
 * Notices are embedded in the handle (destruction) or node (release) they
 * are about, so that neither can fail for want of memory.
 */

#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <trace/events/bus1.h>
#include <uapi/linux/bus1.h>
#include "handle.h"
#include "node.h"
#include "peer.h"

/**
 * bus1_node_new() - allocate a node
 * @owner:	the peer that will own the node
 *
 * Return: the node, with one reference for the owner's handle, or NULL
 * when out of memory.
 */
struct bus1_node *bus1_node_new(struct bus1_peer *owner)
{
	struct bus1_node *node;

	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		return NULL;

	kref_init(&node->ref);
	node->owner = bus1_peer_get(owner);
	INIT_LIST_HEAD(&node->holders);
	INIT_LIST_HEAD(&node->destroy_link);
	node->release_notice.type = BUS1_MSG_NODE_RELEASE;
	node->release_notice.node = node;
	bus1_queue_node_init(&node->release_notice.qnode, 0);
	return node;
}

static void bus1_node_free(struct kref *ref)
{
	struct bus1_node *node = container_of(ref, struct bus1_node, ref);

	WARN_ON(!list_empty(&node->holders) || node->release_queued);
	bus1_peer_put(node->owner);
	kfree(node);
}

/**
 * bus1_node_put() - drop a reference to a node
 * @node:	node to release
 */
void bus1_node_put(struct bus1_node *node)
{
	kref_put(&node->ref, bus1_node_free);
}

/**
 * bus1_node_link() - record a new handle to a node
 * @node:	the node
 * @handle:	a handle of @node, linked into no node yet
 *
 * Return: 0 on success, -EHOSTUNREACH if @node was destroyed.
 */
int bus1_node_link(struct bus1_node *node, struct bus1_handle *handle)
{
	struct bus1_peer *owner = node->owner;
	int r = 0;

	mutex_lock(&owner->nodes_lock);
	if (node->destroy_ts) {
		r = -EHOSTUNREACH;
	} else {
		list_add_tail(&handle->holder_link, &node->holders);
		if (handle->holder != owner)
			node->n_foreign++;
	}
	mutex_unlock(&owner->nodes_lock);
	return r;
}

/*
 * Nobody but the owner holds @node any more: queue the release notice,
 * unless the owner will learn of it anyway. It is ordered after whatever
 * @releaser did before. Owner's nodes_lock held.
 */
static void bus1_node_queue_release(struct bus1_node *node,
				    struct bus1_peer *releaser)
{
	struct bus1_peer *owner = node->owner;
	struct bus1_queue_node *qnode = &node->release_notice.qnode;
	bool ready;
	u64 ts;

	lockdep_assert_held(&owner->nodes_lock);
	if (node->destroy_ts || node->release_queued ||
	    !bus1_peer_acquire(owner))
		return;

	kref_get(&node->ref);
	node->release_queued = true;
	bus1_queue_node_init(qnode, (unsigned long)node);
	ts = bus1_queue_commit_ts(bus1_queue_tick(&releaser->queue, 0));
	ready = bus1_queue_commit_at(&owner->queue, qnode, &ts);
	/* The owner gives the notice back under nodes_lock: @node stays. */
	trace_bus1_notice(bus1_peer_id(owner), BUS1_MSG_NODE_RELEASE, node->id,
			  ts);
	if (ready)
		wake_up_interruptible_poll(&owner->waitq, EPOLLIN | EPOLLRDNORM);
	bus1_queue_tick(&releaser->queue, ts);
	bus1_peer_release(owner);
}

/**
 * bus1_node_unlink() - forget a handle to a node
 * @node:	the node
 * @handle:	a handle of @node its holder dropped
 *
 * The owner is notified if this was the last handle of another peer.
 */
void bus1_node_unlink(struct bus1_node *node, struct bus1_handle *handle)
{
	struct bus1_peer *owner = node->owner;

	mutex_lock(&owner->nodes_lock);
	list_del_init(&handle->holder_link);
	if (handle->holder != owner && !--node->n_foreign)
		bus1_node_queue_release(node, handle->holder);
	mutex_unlock(&owner->nodes_lock);
}

/**
 * bus1_node_inflight_get() - count a handle to a node a message carries
 * @node:	the node
 *
 * Takes a node reference. Until the message is received or dropped, the
 * reference counts as a handle of another peer, so the owner is not told
 * that nobody holds the node while it is on its way to someone.
 */
void bus1_node_inflight_get(struct bus1_node *node)
{
	struct bus1_peer *owner = node->owner;

	kref_get(&node->ref);
	mutex_lock(&owner->nodes_lock);
	node->n_foreign++;
	mutex_unlock(&owner->nodes_lock);
}

/**
 * bus1_node_carried() - a message carrying a handle to a node committed
 * @node:	the node
 * @ts:		the commit timestamp of the message
 *
 * Called before the send returns. Whatever follows the send, a
 * destruction of the node too, is thereby ordered after the message, even
 * when it reaches the owner only through a side channel: the receiver is
 * no holder the destruction would otherwise synchronize with.
 */
void bus1_node_carried(struct bus1_node *node, u64 ts)
{
	struct bus1_peer *owner = node->owner;

	mutex_lock(&owner->nodes_lock);
	node->carried_ts = max(node->carried_ts, ts);
	mutex_unlock(&owner->nodes_lock);
}

/*
 * Drop the count of bus1_node_inflight_get(), but not the reference; the
 * owner's nodes_lock held.
 */
static void bus1_node_inflight_drop(struct bus1_node *node,
				    struct bus1_peer *releaser)
{
	lockdep_assert_held(&node->owner->nodes_lock);
	if (!--node->n_foreign)
		bus1_node_queue_release(node, releaser);
}

/**
 * bus1_node_inflight_put() - drop a handle a message carried
 * @node:	the node, whose reference is dropped
 * @releaser:	the peer that drops the message
 */
void bus1_node_inflight_put(struct bus1_node *node, struct bus1_peer *releaser)
{
	struct bus1_peer *owner = node->owner;

	mutex_lock(&owner->nodes_lock);
	bus1_node_inflight_drop(node, releaser);
	mutex_unlock(&owner->nodes_lock);
	bus1_node_put(node);
}

/**
 * bus1_node_receive() - a handle a message carried reaches its receiver
 * @node:	the node
 * @receiver:	the peer that received the message, its lock held
 * @existing:	the handle @receiver holds to @node already, or NULL
 * @spare:	a new handle of @receiver, used if @existing is NULL
 * @qnode:	the received message's queue entry
 * @notified:	set to whether the destruction notice of @spare was queued
 *
 * Turns the in-flight reference of the message into a handle of the
 * receiver: a new reference of @existing, or @spare, linked to @node and
 * taking over the message's node reference. If @node was destroyed in a
 * transaction ordered before the message, it becomes no handle at all. If
 * it was destroyed after the message, the new handle gets its destruction
 * notice at the time of the destruction, which the receiver has not
 * reached yet.
 *
 * Return: @spare if it is now a handle of @node, @existing if that one
 * gains a reference, NULL if the node was destroyed before the message.
 * Unless @spare is returned, the caller drops the message's node
 * reference.
 */
struct bus1_handle *bus1_node_receive(struct bus1_node *node,
				      struct bus1_peer *receiver,
				      struct bus1_handle *existing,
				      struct bus1_handle *spare,
				      const struct bus1_queue_node *qnode,
				      bool *notified)
{
	struct bus1_peer *owner = node->owner;
	struct bus1_queue_node *notice;
	struct bus1_handle *handle;

	lockdep_assert_held(&receiver->lock);
	*notified = false;
	mutex_lock(&owner->nodes_lock);
	if (bus1_node_destroyed_before(node, qnode)) {
		handle = NULL;
		bus1_node_inflight_drop(node, receiver);
	} else if (existing) {
		handle = existing;
		bus1_node_inflight_drop(node, receiver);
	} else {
		handle = spare;
		list_add_tail(&handle->holder_link, &node->holders);
		/* A foreign handle replaces a foreign reference; the owner's does not. */
		if (receiver == owner)
			bus1_node_inflight_drop(node, receiver);
		if (node->destroy_ts) {
			*notified = true;
			notice = &handle->destroy_notice.qnode;
			kref_get(&handle->ref);
			bus1_queue_node_init(notice, node->destroy_key);
			if (bus1_queue_insert(&receiver->queue, notice,
					      node->destroy_ts))
				wake_up_interruptible_poll(&receiver->waitq,
							   EPOLLIN | EPOLLRDNORM);
		}
	}
	mutex_unlock(&owner->nodes_lock);
	return handle;
}

/**
 * bus1_nodes_destroy_locked() - destroy a set of nodes in one transaction
 * @owner:	owner of the nodes, its nodes_lock held
 * @set:	the nodes, alive, linked through their destroy_link; the list
 *		is empty afterwards
 *
 * Every connected holder of a handle to one of the nodes, the owner
 * included, gets a BUS1_MSG_NODE_DESTROY notice for that handle; all
 * notices commit at one timestamp, above the owner's clock and every
 * message that carried a handle to one of the nodes.
 */
void bus1_nodes_destroy_locked(struct bus1_peer *owner, struct list_head *set)
{
	struct bus1_node *node, *tmp;
	struct bus1_handle *h;
	u64 key = (unsigned long)set, ts;

	lockdep_assert_held(&owner->nodes_lock);
	ts = bus1_queue_tick(&owner->queue, 0);
	list_for_each_entry(node, set, destroy_link) {
		ts = max(ts, node->carried_ts);
		list_for_each_entry(h, &node->holders, holder_link) {
			if (!bus1_peer_acquire(h->holder))
				continue;
			kref_get(&h->ref);
			bus1_queue_node_init(&h->destroy_notice.qnode, key);
			ts = max(ts, bus1_queue_stage(&h->holder->queue,
						      &h->destroy_notice.qnode));
		}
	}

	ts = bus1_queue_commit_ts(ts);
	list_for_each_entry(node, set, destroy_link) {
		node->destroy_key = key;
		/* Pairs with bus1_node_destroyed_before(): key before ts. */
		smp_store_release(&node->destroy_ts, ts);
		list_for_each_entry(h, &node->holders, holder_link)
			if (bus1_queue_node_is_queued(&h->destroy_notice.qnode))
				bus1_queue_tick(&h->holder->queue, ts);
	}

	list_for_each_entry_safe(node, tmp, set, destroy_link) {
		list_for_each_entry(h, &node->holders, holder_link) {
			if (!bus1_queue_node_is_queued(&h->destroy_notice.qnode))
				continue;
			trace_bus1_notice(bus1_peer_id(h->holder),
					  BUS1_MSG_NODE_DESTROY,
					  data_race(h->id), /* 0 until linked */
					  ts);
			if (bus1_queue_commit(&h->holder->queue,
					      &h->destroy_notice.qnode, ts))
				wake_up_interruptible_poll(&h->holder->waitq,
							   EPOLLIN | EPOLLRDNORM);
			bus1_peer_release(h->holder);
		}
		list_del_init(&node->destroy_link);
	}
	bus1_queue_tick(&owner->queue, ts);
}

/**
 * bus1_node_destroyed_before() - whether a message comes too late
 * @node:	destination node of the message, owned by the receiver
 * @qnode:	the message's committed queue entry
 *
 * Return: true if @node was destroyed in a transaction ordered before
 * @qnode; the message must then not be delivered.
 */
bool bus1_node_destroyed_before(struct bus1_node *node,
				const struct bus1_queue_node *qnode)
{
	/* Pairs with bus1_nodes_destroy_locked(): ts before key. */
	u64 ts = smp_load_acquire(&node->destroy_ts);

	if (!ts)
		return false;
	return ts < qnode->ts ||
	       (ts == qnode->ts && node->destroy_key < qnode->key);
}

/**
 * bus1_node_release_withdrawn() - drop a release notice that is stale
 * @node:	node whose release notice is first in the owner's queue
 *
 * Called by the owner's receiver. If another peer holds the node again,
 * the notice is taken out of the queue.
 *
 * Return: true if the notice was withdrawn.
 */
bool bus1_node_release_withdrawn(struct bus1_node *node)
{
	struct bus1_peer *owner = node->owner;
	bool withdrawn;

	mutex_lock(&owner->nodes_lock);
	withdrawn = node->n_foreign;
	if (withdrawn) {
		bus1_queue_remove(&owner->queue, &node->release_notice.qnode);
		node->release_queued = false;
	}
	mutex_unlock(&owner->nodes_lock);
	if (withdrawn)
		bus1_node_put(node);
	return withdrawn;
}

/**
 * bus1_node_release_done() - the owner is done with a release notice
 * @node:	node whose release notice was received or flushed
 *
 * Takes the notice out of the owner's queue if it is still there, so a
 * later release can queue it again.
 */
void bus1_node_release_done(struct bus1_node *node)
{
	struct bus1_peer *owner = node->owner;

	mutex_lock(&owner->nodes_lock);
	if (bus1_queue_node_is_queued(&node->release_notice.qnode))
		bus1_queue_remove(&owner->queue, &node->release_notice.qnode);
	node->release_queued = false;
	mutex_unlock(&owner->nodes_lock);
	bus1_node_put(node);
}
