/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_QUEUE_H
#define __BUS1_QUEUE_H

/*
 * The ordered message queue of a peer: a Lamport clock and the entries
 * waiting to be received, sorted by the time their transaction committed.
 * See queue.c for how this yields one global order without a global lock.
 */

#include <linux/compiler.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/**
 * struct bus1_queue_node - one entry of a queue
 * @rb:		link in bus1_queue.entries
 * @ts:		timestamp: odd while the entry is staged, even once its
 *		transaction committed; 0 while the entry is in no queue
 * @key:	tie-break between entries committed at the same timestamp;
 *		the same for every entry of one transaction, different for
 *		any two transactions in flight at the same time
 *
 * Entries are ordered by (@ts, @key). Both change only under the lock of
 * the queue the entry is in.
 */
struct bus1_queue_node {
	struct rb_node rb;
	u64 ts;
	u64 key;
};

/**
 * struct bus1_queue - ordered queue of one peer
 * @lock:	protects every field, and @ts and @key of the queued entries
 * @clock:	Lamport clock: the highest commit timestamp this queue has
 *		seen, always even; written under @lock, read without it on
 *		64-bit (bus1_queue_tick())
 * @entries:	staged and committed entries, ordered by (ts, key)
 * @n_entries:	number of entries in @entries
 * @ready:	whether the first entry is committed; written under @lock
 *		whenever @entries changes, read without it as a hint
 *		(bus1_queue_is_ready())
 *
 * A queue is embedded in its peer and shares its lifetime. Only the lock
 * of the queue is taken to stage, commit or dequeue an entry; no lock of
 * another queue is ever held at the same time. It is a raw spinlock: it
 * is held for one rbtree operation at most, and a send takes it with
 * preemption off (see tx.c), which a sleeping lock of PREEMPT_RT would
 * not allow. Nothing is taken under it.
 */
struct bus1_queue {
	raw_spinlock_t lock;	/* guards the fields and queued entries */
	u64 clock;
	struct rb_root_cached entries;
	size_t n_entries;
	bool ready;
};

static inline bool bus1_queue_node_is_queued(struct bus1_queue_node *node)
{
	return !RB_EMPTY_NODE(&node->rb);
}

static inline bool bus1_queue_node_is_committed(struct bus1_queue_node *node)
{
	return node->ts && !(node->ts & 1);
}

/**
 * bus1_queue_is_ready() - whether the first entry can be received, a hint
 * @queue:	queue to look at
 *
 * Reads no lock. A receiver that finds nothing and waits is woken after
 * the entry commits, so it may use this as the condition of its wait; it
 * must still take the entry with bus1_queue_peek() or bus1_queue_pop(),
 * which may find it gone to another receiver.
 *
 * Return: true if the first entry was committed at the time of the read.
 */
static inline bool bus1_queue_is_ready(struct bus1_queue *queue)
{
	return READ_ONCE(queue->ready);
}

/**
 * bus1_queue_node_init() - initialize an entry that is in no queue
 * @node:	entry to initialize
 * @key:	tie-break key of the entry's transaction
 */
static inline void bus1_queue_node_init(struct bus1_queue_node *node, u64 key)
{
	RB_CLEAR_NODE(&node->rb);
	node->ts = 0;
	node->key = key;
}

/* The commit timestamp of a transaction: the first even one above @ts. */
static inline u64 bus1_queue_commit_ts(u64 ts)
{
	return (ts | 1) + 1;
}

void bus1_queue_init(struct bus1_queue *queue);
void bus1_queue_deinit(struct bus1_queue *queue);
u64 bus1_queue_stage(struct bus1_queue *queue, struct bus1_queue_node *node);
bool bus1_queue_commit_at(struct bus1_queue *queue,
			  struct bus1_queue_node *node, u64 *ts);
bool bus1_queue_commit(struct bus1_queue *queue, struct bus1_queue_node *node,
		       u64 ts);
bool bus1_queue_insert(struct bus1_queue *queue, struct bus1_queue_node *node,
		       u64 ts);
u64 __bus1_queue_tick(struct bus1_queue *queue, u64 ts);
struct bus1_queue_node *bus1_queue_peek(struct bus1_queue *queue, bool *more);
struct bus1_queue_node *bus1_queue_pop(struct bus1_queue *queue, bool *more);
bool bus1_queue_remove(struct bus1_queue *queue, struct bus1_queue_node *node);
struct rb_root bus1_queue_flush(struct bus1_queue *queue);
size_t bus1_queue_length(struct bus1_queue *queue);

/**
 * bus1_queue_tick() - synchronize a queue's clock with a timestamp
 * @queue:	queue whose clock to raise
 * @ts:		even timestamp, or 0 to only read the clock
 *
 * Return: the clock of @queue, at least @ts.
 */
static inline u64 bus1_queue_tick(struct bus1_queue *queue, u64 ts)
{
	u64 clock;

	/*
	 * The clock only grows: one at @ts already needs no lock, which
	 * every send's first look at its sender's clock is. Not where a
	 * 64-bit load can tear.
	 */
	if (IS_ENABLED(CONFIG_64BIT)) {
		clock = READ_ONCE(queue->clock);
		if (clock >= ts)
			return clock;
	}
	return __bus1_queue_tick(queue, ts);
}

#endif /* __BUS1_QUEUE_H */
