// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 ordered queues
 *
 * Every transaction, unicast or multicast, must look as if one global lock
 * serialised it against all others, yet queues of peers that never talk
 * must not share a lock. Each queue therefore keeps a Lamport clock, and a
 * transaction to several queues works in two phases:
 *
 *  1. Stage: put an entry into every destination queue at the odd
 *     timestamp clock + 1 of that queue. A staged entry is not received,
 *     and it blocks every entry ordered after it.
 *  2. Commit: pick one even timestamp above every staged timestamp and
 *     above the sender's clock, raise each destination clock to it and move
 *     the entries there.
 *
 * A receiver takes only the first entry of its queue, and only once it is
 * committed. Two transactions that share a queue commit at different
 * timestamps, or at the same one and are then ordered by their key, which
 * is the same on every queue; so all queues they share see them in one
 * order. A transaction that starts after another one returned stages
 * above the clocks the first one raised, so it is ordered after it
 * everywhere, even when nothing but a side channel connects the two.
 *
 * A transaction to a single queue can skip staging: it commits directly
 * above the queue clock.
 *
 * A staged entry holds back everything its receiver would receive after
 * it, so whoever stages must commit soon: a send does it without
 * sleeping or being preempted in between (see tx.c); a node
 * destruction, whose size only the quotas bound, under its owner's
 * locks (see node.c).
 */

#include <linux/bug.h>
#include <linux/minmax.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include "queue.h"

/* Order by timestamp, then transaction key, then entry within it. */
static bool bus1_queue_node_less(struct rb_node *a, const struct rb_node *b)
{
	struct bus1_queue_node *x = rb_entry(a, struct bus1_queue_node, rb);
	struct bus1_queue_node *y = rb_entry(b, struct bus1_queue_node, rb);

	if (x->ts != y->ts)
		return x->ts < y->ts;
	if (x->key != y->key)
		return x->key < y->key;
	return x < y;
}

/* Whether the first entry of @queue can be received; lock held. */
static bool bus1_queue_ready(struct bus1_queue *queue)
{
	struct rb_node *first = rb_first_cached(&queue->entries);

	return first &&
	       bus1_queue_node_is_committed(rb_entry(first,
						     struct bus1_queue_node,
						     rb));
}

/* Record whether the first entry can be received, after a change; lock held. */
static bool bus1_queue_settle(struct bus1_queue *queue)
{
	bool ready = bus1_queue_ready(queue);

	WRITE_ONCE(queue->ready, ready);
	return ready;
}

/**
 * bus1_queue_init() - initialize an empty queue
 * @queue:	queue to initialize
 */
void bus1_queue_init(struct bus1_queue *queue)
{
	raw_spin_lock_init(&queue->lock);
	queue->clock = 0;
	queue->entries = RB_ROOT_CACHED;
	queue->n_entries = 0;
	queue->ready = false;
}

/**
 * bus1_queue_deinit() - tear down a queue
 * @queue:	queue to tear down, which must be empty
 */
void bus1_queue_deinit(struct bus1_queue *queue)
{
	WARN_ON(!RB_EMPTY_ROOT(&queue->entries.rb_root));
}

/**
 * bus1_queue_stage() - put an entry into a queue, staged
 * @queue:	destination queue
 * @node:	entry, in no queue
 *
 * Return: the odd timestamp the entry was staged at.
 */
u64 bus1_queue_stage(struct bus1_queue *queue, struct bus1_queue_node *node)
{
	u64 ts;

	raw_spin_lock(&queue->lock);
	ts = queue->clock + 1;
	node->ts = ts;
	rb_add_cached(&node->rb, &queue->entries, bus1_queue_node_less);
	queue->n_entries++;
	bus1_queue_settle(queue);
	raw_spin_unlock(&queue->lock);
	return ts;
}

/**
 * bus1_queue_commit_at() - commit an entry of a queue
 * @queue:	the queue @node is staged in; an entry in no queue is added
 *		to @queue without staging
 * @node:	entry to commit
 * @ts:		even commit timestamp; above the staging timestamp of @node
 *		if it is staged. Set to the timestamp @node committed at.
 *
 * Raises the clock of @queue to the commit. An entry that was not staged
 * commits at *@ts or just above the queue clock, whichever is later. The
 * caller learns that timestamp from *@ts, not from @node: once committed,
 * the entry is the receiver's.
 *
 * Return: true if the first entry of @queue can now be received.
 */
bool bus1_queue_commit_at(struct bus1_queue *queue,
			  struct bus1_queue_node *node, u64 *ts)
{
	bool ready;

	if (WARN_ON(*ts & 1))
		(*ts)++;

	raw_spin_lock(&queue->lock);
	if (bus1_queue_node_is_queued(node)) {
		WARN_ON(*ts <= node->ts);
		rb_erase_cached(&node->rb, &queue->entries);
	} else {
		*ts = max(*ts, queue->clock + 2);
		queue->n_entries++;
	}
	node->ts = *ts;
	rb_add_cached(&node->rb, &queue->entries, bus1_queue_node_less);
	WRITE_ONCE(queue->clock, max(queue->clock, *ts));
	ready = bus1_queue_settle(queue);
	raw_spin_unlock(&queue->lock);
	return ready;
}

/**
 * bus1_queue_commit() - commit an entry of a queue at a timestamp
 * @queue:	as for bus1_queue_commit_at()
 * @node:	as for bus1_queue_commit_at()
 * @ts:		as for bus1_queue_commit_at(), but not set
 *
 * Return: true if the first entry of @queue can now be received.
 */
bool bus1_queue_commit(struct bus1_queue *queue, struct bus1_queue_node *node,
		       u64 ts)
{
	return bus1_queue_commit_at(queue, node, &ts);
}

/**
 * bus1_queue_insert() - add an entry whose transaction committed earlier
 * @queue:	destination queue
 * @node:	entry, in no queue, its key set to that of its transaction
 * @ts:		even commit timestamp of that transaction
 *
 * For a receiver that joins a transaction late: a peer that receives a
 * handle in a message ordered before the destruction of its node must
 * still hear of the destruction, at its time. The caller guarantees that
 * nothing ordered after (@ts, key) was received from @queue yet.
 *
 * Return: true if the first entry of @queue can now be received.
 */
bool bus1_queue_insert(struct bus1_queue *queue, struct bus1_queue_node *node,
		       u64 ts)
{
	bool ready;

	WARN_ON(ts & 1);
	raw_spin_lock(&queue->lock);
	node->ts = ts;
	rb_add_cached(&node->rb, &queue->entries, bus1_queue_node_less);
	queue->n_entries++;
	WRITE_ONCE(queue->clock, max(queue->clock, ts));
	ready = bus1_queue_settle(queue);
	raw_spin_unlock(&queue->lock);
	return ready;
}

/**
 * __bus1_queue_tick() - synchronize a queue's clock under its lock
 * @queue:	queue whose clock to raise
 * @ts:		even timestamp, or 0 to only read the clock
 *
 * The slow path of bus1_queue_tick().
 *
 * Return: the clock of @queue, at least @ts.
 */
u64 __bus1_queue_tick(struct bus1_queue *queue, u64 ts)
{
	u64 clock;

	raw_spin_lock(&queue->lock);
	clock = max(queue->clock, ts);
	WRITE_ONCE(queue->clock, clock);
	raw_spin_unlock(&queue->lock);
	return clock;
}

/*
 * The first entry if it is committed, and whether its successor belongs to
 * the same transaction; lock held.
 */
static struct bus1_queue_node *bus1_queue_first(struct bus1_queue *queue,
						bool *more)
{
	struct bus1_queue_node *node, *next;
	struct rb_node *first;

	*more = false;
	if (!bus1_queue_ready(queue))
		return NULL;
	first = rb_first_cached(&queue->entries);
	node = rb_entry(first, struct bus1_queue_node, rb);
	/* A lone entry, the common case, has no successor to look for. */
	first = queue->n_entries > 1 ? rb_next(first) : NULL;
	if (first) {
		next = rb_entry(first, struct bus1_queue_node, rb);
		*more = next->ts == node->ts && next->key == node->key;
	}
	return node;
}

/**
 * bus1_queue_peek() - look at the first entry of a queue, if it is committed
 * @queue:	queue to look at
 * @more:	set to true if the next entry belongs to the same transaction
 *
 * The entry stays queued. Only the consumer of @queue, which alone removes
 * committed entries, may use the entry, until it removes it; anyone else
 * may only test the result for NULL.
 *
 * Return: the first entry, or NULL if the queue is empty or its first
 * entry is still staged.
 */
struct bus1_queue_node *bus1_queue_peek(struct bus1_queue *queue, bool *more)
{
	struct bus1_queue_node *node;

	raw_spin_lock(&queue->lock);
	node = bus1_queue_first(queue, more);
	raw_spin_unlock(&queue->lock);
	return node;
}

/**
 * bus1_queue_pop() - take the first entry of a queue, if it is committed
 * @queue:	queue to take from
 * @more:	set to true if the next entry belongs to the same transaction
 *
 * Return: the entry, now in no queue, or NULL if the queue is empty or its
 * first entry is still staged.
 */
struct bus1_queue_node *bus1_queue_pop(struct bus1_queue *queue, bool *more)
{
	struct bus1_queue_node *node;

	raw_spin_lock(&queue->lock);
	node = bus1_queue_first(queue, more);
	if (node) {
		rb_erase_cached(&node->rb, &queue->entries);
		RB_CLEAR_NODE(&node->rb);
		queue->n_entries--;
		bus1_queue_settle(queue);
	}
	raw_spin_unlock(&queue->lock);
	return node;
}

/**
 * bus1_queue_remove() - take an entry out of its queue, wherever it is
 * @queue:	the queue @node is in, if any
 * @node:	entry to remove
 *
 * Used to unstage the entries of a failed transaction and to flush.
 *
 * Return: true if the first entry of @queue can now be received.
 */
bool bus1_queue_remove(struct bus1_queue *queue, struct bus1_queue_node *node)
{
	bool ready;

	raw_spin_lock(&queue->lock);
	if (bus1_queue_node_is_queued(node)) {
		rb_erase_cached(&node->rb, &queue->entries);
		RB_CLEAR_NODE(&node->rb);
		queue->n_entries--;
	}
	ready = bus1_queue_settle(queue);
	raw_spin_unlock(&queue->lock);
	return ready;
}

/**
 * bus1_queue_flush() - take every entry out of a queue
 * @queue:	queue to empty
 *
 * The entries keep their links to each other: the caller walks the
 * returned tree with rbtree_postorder_for_each_entry_safe() to free them,
 * and must not put them into a queue again.
 *
 * Return: the former tree of entries.
 */
struct rb_root bus1_queue_flush(struct bus1_queue *queue)
{
	struct rb_root all;

	raw_spin_lock(&queue->lock);
	all = queue->entries.rb_root;
	queue->entries = RB_ROOT_CACHED;
	queue->n_entries = 0;
	bus1_queue_settle(queue);
	raw_spin_unlock(&queue->lock);
	return all;
}

/**
 * bus1_queue_length() - number of entries in a queue, staged or not
 * @queue:	queue to count
 *
 * Return: a snapshot of the number, for fdinfo.
 */
size_t bus1_queue_length(struct bus1_queue *queue)
{
	size_t n;

	raw_spin_lock(&queue->lock);
	n = queue->n_entries;
	raw_spin_unlock(&queue->lock);
	return n;
}
