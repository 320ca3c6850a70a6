// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 transactions
 *
 * A send delivers one payload to every destination node, all or nothing.
 * It resolves the sender's handle IDs to nodes first, then takes four
 * steps:
 *
 *  0. Authorize: ask the security modules, before anything is done,
 *     whether the sender may send to the owner of each destination node,
 *     and pass it each handle and file the send carries. A refusal fails
 *     the send, or, with per-destination results, leaves that
 *     destination out and reports its errno.
 *  1. Prepare: take an active reference on the owner of each destination
 *     node, allocate a message and a slice of that owner's pool, charge
 *     both to the owner's quota, and give the message its own references
 *     to the handles and files the send passes. Any failure here undoes
 *     everything, unless the sender asked for per-destination results:
 *     then a destination that fails is left out and its errno reported.
 *  2. Copy: write the payload from the sender's memory into each slice,
 *     and fill the room for the passed handles and fds behind it with
 *     placeholders, so that the receiver's pool pages exist before the
 *     receiver installs them; then, for a receiver that asked for it,
 *     the sender's identity (see creds.c). This is the only copy; a
 *     fault undoes everything. The results are written out after it,
 *     and a fault there undoes everything too. A page fault on the
 *     sender's memory can take as long as the sender likes (userfaultfd,
 *     FUSE), so before the first one the transaction trades its active
 *     references for pins (bus1_peer_pin()), which keep the receivers'
 *     pools but let a receiver disconnect and be torn down meanwhile;
 *     it takes active references again after the copy, and a receiver
 *     that is gone by then fails its destination with -EHOSTUNREACH.
 *  3. Commit: put the messages into the receivers' queues so that they
 *     appear at one logical time (see queue.c). Nothing can fail any
 *     more, nor sleep: between staging the first message and committing
 *     the last, the sender neither sleeps nor is preempted, so that no
 *     receiver waits on it for longer than its bounded work per
 *     destination.
 *
 * No lock is held across the steps. Each step takes the lock of one
 * object at a time: the sender's handle table, one receiver's slice
 * allocator, one folio of one receiver's pool, one receiver's queue. Two
 * transactions share a lock only if they share a receiver (or a sender).
 *
 * The active references keep each receiver's pool and queue from being
 * torn down while the transaction uses them, the pins only its pool; a
 * receiver that disconnected before the transaction reached it fails
 * the send. No active reference is held while a page fault on the
 * sender's memory is handled.
 */

#include <linux/err.h>
#include <linux/file.h>
#include <linux/minmax.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <trace/events/bus1.h>
#include <uapi/linux/bus1.h>
#include "creds.h"
#include "handle.h"
#include "message.h"
#include "peer.h"
#include "pool.h"
#include "queue.h"
#include "quota.h"
#include "tx.h"

/**
 * struct bus1_tx_dest - one destination of a transaction
 * @node:	the destination node, a counted reference; NULL if its ID
 *		was not found, or once @msg holds the reference
 * @peer:	owner of @node
 * @msg:	the message for @peer, until it is committed
 * @active:	whether an active reference to @peer is held
 * @pinned:	whether a pin of @peer is held (bus1_peer_pin())
 * @wake:	whether @peer can receive since the commit of a multicast,
 *		whose receivers are woken once all are committed
 */
struct bus1_tx_dest {
	struct bus1_node *node;
	struct bus1_peer *peer;
	struct bus1_message *msg;
	bool active;
	bool pinned;
	bool wake;
};

/* Destinations a transaction keeps on the stack instead of allocating. */
#define BUS1_TX_SMALL	4

/**
 * struct bus1_tx - a transaction in flight
 * @sender:	the sending peer
 * @ids:	the sender's handle IDs of the destinations
 * @n_dests:	number of destinations
 * @dests:	the destinations, in the order user space named them
 * @errors:	per-destination errno, positive, if the sender asked for
 *		per-destination results; NULL otherwise
 * @n_msgs:	number of destinations that get the message
 * @payload:	what the send carries
 * @handles:	the nodes of @payload's handle IDs, counted references
 * @trailer:	placeholders for the passed handles and fds, all bits set
 * @trailer_size: size of @trailer, 0 if nothing is passed
 * @secctx:	the sender's security context, once a receiver asks for
 *		the sender's identity; NULL before
 * @pinned:	whether the destinations are pinned instead of active,
 *		since a fault on the sender's memory
 *
 * Lives on the sender's stack and heap for the duration of one send. Its
 * address is the tie-break key of its messages: no two transactions in
 * flight share it.
 */
struct bus1_tx {
	struct bus1_peer *sender;
	const u64 *ids;
	size_t n_dests;
	struct bus1_tx_dest *dests;
	s32 *errors;
	size_t n_msgs;
	struct bus1_tx_payload *payload;
	struct bus1_node **handles;
	void *trailer;
	size_t trailer_size;
	const struct bus1_secctx *secctx;
	bool pinned;
};

/*
 * Give up the messages that were not committed, and every reference. The
 * last active reference to a receiver that disconnected meanwhile tears
 * it down here. @tx->dests is the caller's.
 */
static void bus1_tx_destroy(struct bus1_tx *tx)
{
	struct bus1_tx_dest *d;
	size_t i;

	for (i = 0; i < tx->n_dests; i++) {
		d = &tx->dests[i];
		if (d->msg) {
			bus1_pool_free(&d->peer->pool, d->msg->slice);
			bus1_message_free(d->msg, tx->sender);
		}
		if (d->active)
			bus1_peer_release(d->peer);
		if (d->pinned)
			bus1_peer_unpin(d->peer);
		if (d->node)
			bus1_node_put(d->node);
	}
	/* A plain send, the hot path, allocated none of these. */
	if (!tx->errors && !tx->handles && !tx->trailer)
		return;
	for (i = 0; tx->handles && i < tx->payload->n_handles; i++)
		if (tx->handles[i])
			bus1_node_put(tx->handles[i]);
	kvfree(tx->errors);
	kfree(tx->handles);
	kfree(tx->trailer);
}

/* Tell the trace that the pool of @d has no room for @size bytes. */
static void bus1_tx_trace_nospace(struct bus1_tx *tx, struct bus1_tx_dest *d,
				  size_t size)
{
	size_t allocated, n_busy;

	bus1_slices_usage(&d->peer->pool.slices, &allocated, &n_busy);
	trace_bus1_quota_refused(&d->peer->quota,
				 bus1_quota_uid(&tx->sender->quota), "pool",
				 size, allocated, d->peer->pool.size, 0, 0,
				 -ENOSPC);
}

/* Step 1: an active reference, a message and a slice for @d, charged. */
static int bus1_tx_prepare(struct bus1_tx *tx, struct bus1_tx_dest *d)
{
	struct bus1_tx_payload *p = tx->payload;
	size_t size = iov_iter_count(&p->data);
	struct bus1_message *msg;
	struct bus1_slice *slice;
	struct bus1_usage *usage;
	size_t i, slice_size;
	int r;

	d->peer = d->node->owner;
	if (bus1_node_is_destroyed(d->node) || !bus1_peer_acquire(d->peer))
		return -EHOSTUNREACH;
	d->active = true;
	slice_size = bus1_message_trailer_offset(size) + tx->trailer_size;
	if (unlikely(test_bit(BUS1_PEER_BIT_CREDS, &d->peer->flags))) {
		if (!tx->secctx) {
			tx->secctx = bus1_creds_secctx(tx->sender);
			if (IS_ERR(tx->secctx)) {
				r = PTR_ERR(tx->secctx);
				tx->secctx = NULL;
				return r;
			}
		}
		slice_size = bus1_message_creds_offset(size, p->n_handles,
						       p->n_files) +
			     bus1_creds_size(tx->secctx);
	}
	msg = bus1_message_new(d->peer, p->n_handles, p->n_files);
	if (!msg)
		return -ENOMEM;
	slice = bus1_pool_alloc(&d->peer->pool, slice_size);
	if (IS_ERR(slice)) {
		if (PTR_ERR(slice) == -ENOSPC &&
		    trace_bus1_quota_refused_enabled())
			bus1_tx_trace_nospace(tx, d, slice_size);
		bus1_message_free(msg, tx->sender);
		return PTR_ERR(slice);
	}
	r = bus1_quota_charge_message(&d->peer->quota,
				      bus1_quota_uid(&tx->sender->quota),
				      slice->size, p->n_handles, p->n_files,
				      &usage);
	if (r) {
		bus1_pool_free(&d->peer->pool, slice);
		bus1_message_free(msg, tx->sender);
		return r;
	}
	bus1_pool_charge(&d->peer->pool, slice, usage);

	bus1_queue_node_init(&msg->qnode, (unsigned long)tx);
	msg->slice = slice;
	/* The message takes over the reference. */
	msg->node = d->node;
	d->node = NULL;
	msg->size = size;
	for (i = 0; i < p->n_handles; i++) {
		bus1_node_inflight_get(tx->handles[i]);
		msg->handles[i] = tx->handles[i];
	}
	msg->n_handles = p->n_handles;
	for (i = 0; i < p->n_files; i++)
		msg->files[i] = get_file(p->files[i]);
	msg->n_files = p->n_files;
	msg->usage = usage;
	msg->n_charged_handles = p->n_handles;
	d->msg = msg;
	tx->n_msgs++;
	return 0;
}

/*
 * Step 0: whether the security modules let the sender reach the owner of
 * @d's node with @tx. A node keeps its owner in memory, and so its
 * credentials, which never change.
 */
static int bus1_tx_authorize(struct bus1_tx *tx, struct bus1_tx_dest *d)
{
	const struct cred *from = tx->sender->cred, *to = d->node->owner->cred;
	struct bus1_tx_payload *p = tx->payload;
	size_t i;
	int r;

	r = security_bus1_send(from, to);
	for (i = 0; !r && i < p->n_handles; i++)
		r = security_bus1_transfer_handle(from, to,
						  tx->handles[i]->owner->cred);
	for (i = 0; !r && i < p->n_files; i++)
		r = security_bus1_transfer_file(from, to, p->files[i]);
	return r;
}

/*
 * Run @step on every destination still in the transaction. With
 * per-destination results a destination that fails is recorded and left
 * out; otherwise it fails the transaction. Inlined, so that @step is a
 * direct call.
 */
static __always_inline int bus1_tx_each(struct bus1_tx *tx,
					int (*step)(struct bus1_tx *tx,
						    struct bus1_tx_dest *d))
{
	struct bus1_tx_dest *d;
	size_t i;
	int r;

	for (i = 0; i < tx->n_dests; i++) {
		d = &tx->dests[i];
		if (!d->node)
			continue;
		r = step(tx, d);
		if (!r)
			continue;
		if (!tx->errors)
			return r;
		tx->errors[i] = -r;
		if (d->active)
			bus1_peer_release(d->peer);
		d->active = false;
		bus1_node_put(d->node);
		d->node = NULL;
	}
	return 0;
}

/*
 * Write the sender's identity behind the handles and fds of @d, and
 * zeroes in the alignment gap before it, so that the receiver reads
 * nothing but what this message put there.
 */
static int bus1_tx_copy_creds(struct bus1_tx *tx, struct bus1_tx_dest *d)
{
	static const u8 zeroes[sizeof(u64)];
	size_t start = bus1_message_trailer_offset(d->msg->size) +
		       tx->trailer_size;
	size_t gap = bus1_message_creds_offset(d->msg->size,
					       tx->payload->n_handles,
					       tx->payload->n_files) - start;
	struct bus1_creds creds;
	struct kvec kvec[3] = {
		{ (void *)zeroes, gap },
		{ &creds, sizeof(creds) },
		{ (void *)tx->secctx->ctx, tx->secctx->len + 1 },
	};
	struct iov_iter iter;

	bus1_creds_fill(&creds, tx->sender, d->peer, tx->secctx);
	iov_iter_kvec(&iter, ITER_SOURCE, kvec, 3,
		      gap + bus1_creds_size(tx->secctx));
	return bus1_pool_write(&d->peer->pool, d->msg->slice, start, &iter);
}

/*
 * Before a page fault on the sender's memory: trade the active reference
 * of each destination for a pin, so that the fault holds up no receiver.
 */
static void bus1_tx_pin(struct bus1_tx *tx)
{
	struct bus1_tx_dest *d;
	size_t i;

	for (i = 0; i < tx->n_dests; i++) {
		d = &tx->dests[i];
		if (!d->active)
			continue;
		bus1_peer_pin(d->peer);
		d->pinned = true;
		bus1_peer_release(d->peer);
		d->active = false;
	}
	tx->pinned = true;
}

/*
 * Copy the payload into the slice of @d. Without a fault on the sender's
 * memory, the common case, with the active references held; a page that
 * is not present is faulted in once they are traded for pins.
 */
static int bus1_tx_copy_payload(struct bus1_tx *tx, struct bus1_tx_dest *d)
{
	struct iov_iter iter = tx->payload->data;
	size_t len = iov_iter_count(&iter);
	int r;

	if (!tx->pinned) {
		r = bus1_pool_write_nofault(&d->peer->pool, d->msg->slice, 0,
					    &iter);
		if (r != -EAGAIN)
			return r;
		bus1_tx_pin(tx);
	}
	return bus1_pool_write(&d->peer->pool, d->msg->slice,
			       len - iov_iter_count(&iter), &iter);
}

/*
 * Step 2: copy the payload into every slice, then the placeholders, then
 * the sender's identity where it is asked for.
 */
static int bus1_tx_copy(struct bus1_tx *tx)
{
	struct kvec kvec = { tx->trailer, tx->trailer_size };
	struct bus1_tx_dest *d;
	struct iov_iter iter;
	size_t i;
	int r;

	for (i = 0; i < tx->n_dests; i++) {
		d = &tx->dests[i];
		if (!d->msg)
			continue;
		r = bus1_tx_copy_payload(tx, d);
		if (r)
			return r;
		if (tx->trailer_size) {
			iov_iter_kvec(&iter, ITER_SOURCE, &kvec, 1,
				      kvec.iov_len);
			r = bus1_pool_write(&d->peer->pool, d->msg->slice,
					    bus1_message_trailer_offset(d->msg->size),
					    &iter);
			if (r)
				return r;
		}
		if (unlikely(test_bit(BUS1_PEER_BIT_CREDS, &d->peer->flags))) {
			r = bus1_tx_copy_creds(tx, d);
			if (r)
				return r;
		}
	}
	return 0;
}

/*
 * Write the per-destination results to @uerrors: with the active
 * references held only if its page is present, else once they are traded
 * for pins, as for the copy.
 */
static int bus1_tx_write_errors(struct bus1_tx *tx, s32 __user *uerrors)
{
	size_t size = tx->n_dests * sizeof(*tx->errors);

	if (!tx->pinned) {
		if (!copy_to_user_nofault(uerrors, tx->errors, size))
			return 0;
		bus1_tx_pin(tx);
	}
	return copy_to_user(uerrors, tx->errors, size) ? -EFAULT : 0;
}

/* Leave @d out: its receiver disconnected while @d was pinned. */
static void bus1_tx_drop(struct bus1_tx *tx, struct bus1_tx_dest *d)
{
	bus1_pool_free(&d->peer->pool, d->msg->slice);
	bus1_message_free(d->msg, tx->sender);
	d->msg = NULL;
	tx->n_msgs--;
}

/*
 * After a fault on the sender's memory: take an active reference to each
 * receiver again. One that disconnected meanwhile fails the send with
 * -EHOSTUNREACH, or, with per-destination results, is left out and
 * reported so; the results are then written again, with no active
 * reference held. Receivers do not come back, so this ends.
 */
static int bus1_tx_reacquire(struct bus1_tx *tx, s32 __user *uerrors)
{
	struct bus1_tx_dest *d;
	bool gone;
	size_t i;

	for (;;) {
		gone = false;
		for (i = 0; i < tx->n_dests; i++) {
			d = &tx->dests[i];
			if (!d->msg || d->active)
				continue;
			if (bus1_peer_acquire(d->peer)) {
				d->active = true;
				continue;
			}
			if (!tx->errors)
				return -EHOSTUNREACH;
			tx->errors[i] = EHOSTUNREACH;
			bus1_tx_drop(tx, d);
			gone = true;
		}
		if (!gone)
			return 0;
		for (i = 0; i < tx->n_dests; i++) {
			d = &tx->dests[i];
			if (d->active)
				bus1_peer_release(d->peer);
			d->active = false;
		}
		if (copy_to_user(uerrors, tx->errors,
				 tx->n_dests * sizeof(*tx->errors)))
			return -EFAULT;
	}
}

/* Trace the commit of @d at @ts; @destination is the receiver's node ID. */
static void bus1_tx_trace_send(struct bus1_tx *tx, struct bus1_tx_dest *d,
			       u64 destination, u64 ts)
{
	struct bus1_tx_payload *p = tx->payload;

	trace_bus1_send(bus1_peer_id(tx->sender), bus1_peer_id(d->peer),
			tx->ids[d - tx->dests], destination, ts,
			iov_iter_count(&p->data), p->n_handles, p->n_files);
}

/*
 * Commit @d of @tx at *@ts, or later if its queue's clock is ahead, which
 * *@ts then tells, and trace it. While the event is on, the trace reads
 * the message's destination before the commit, as the message is the
 * receiver's after it. Takes one queue lock and does not sleep.
 *
 * Return: true if the receiver of @d can receive now.
 */
static bool bus1_tx_commit_one(struct bus1_tx *tx, struct bus1_tx_dest *d,
			       u64 *ts)
{
	struct bus1_message *msg = d->msg;
	u64 destination = 0;
	bool ready;

	if (trace_bus1_send_enabled())
		destination = msg->node->id;
	/* From here on the receiver owns the message; do not touch it. */
	d->msg = NULL;
	ready = bus1_queue_commit_at(&d->peer->queue, &msg->qnode, ts);
	if (trace_bus1_send_enabled())
		bus1_tx_trace_send(tx, d, destination, *ts);
	return ready;
}

/*
 * Wake the receiver of @d, which can receive since its commit. A unicast
 * wakes it as sockets and pipes wake their reader, @sync: the sender
 * usually waits for the reply next, so the receiver may as well run on
 * the sender's CPU. The receivers of a multicast had better not all.
 *
 * A receiver that is busy, not waiting, costs no wake-up: the commit
 * published the queue's readiness under the queue lock, and the barrier
 * of wq_has_sleeper() pairs with the one a waiter sets its state with
 * before it tests that readiness.
 */
static void bus1_tx_wake(struct bus1_tx_dest *d, bool sync)
{
	if (!wq_has_sleeper(&d->peer->waitq))
		return;
	if (sync)
		wake_up_interruptible_sync_poll(&d->peer->waitq,
						EPOLLIN | EPOLLRDNORM);
	else
		wake_up_interruptible_poll(&d->peer->waitq,
					   EPOLLIN | EPOLLRDNORM);
}

/*
 * Step 3: stage every message, then commit all at one timestamp above
 * every staging timestamp and the sender's clock. Every destination clock
 * is raised to that timestamp before the first message is committed: a
 * receiver may act on its message at once, and whatever that causes in
 * another destination queue must be ordered after the message there,
 * even before it is committed there. A single destination needs no
 * staging: it commits right above its queue's clock. The sender's clock
 * then moves past the commit, so whatever the sender does next is ordered
 * after this transaction.
 *
 * A staged message holds back everything its receiver would receive
 * after it, so the sender must not stall between staging and
 * committing: whatever can sleep or fail (allocation, faults on the
 * sender's memory, quotas, security modules, node references) happened
 * in the steps before, and the passed handles are marked carried, under
 * their owners' mutexes, only after the last commit. In between, the
 * sender takes one queue lock at a time and inserts into an rbtree, a
 * fixed amount of work per destination, at most BUS1_DESTINATIONS_MAX of
 * them; with preemption off, so that the scheduler does not stall it
 * there either. The queue locks are raw spinlocks and the receivers are
 * woken only after the last commit, as a wake-up takes a lock that sleeps
 * on PREEMPT_RT (which the tests do not build). Debug kernels
 * (CONFIG_DEBUG_ATOMIC_SLEEP) catch anything that would sleep in it.
 */
static void bus1_tx_commit(struct bus1_tx *tx)
{
	struct bus1_queue *sender_queue = &tx->sender->queue;
	struct bus1_tx_dest *d;
	u64 ts;
	size_t i;

	ts = bus1_queue_tick(sender_queue, 0);
	if (tx->n_msgs == 1) {
		for (d = tx->dests; !d->msg; d++)
			;
		ts = bus1_queue_commit_ts(ts);
		if (bus1_tx_commit_one(tx, d, &ts))
			bus1_tx_wake(d, true);
	} else if (tx->n_msgs > 1) {
		/* No sleeping and no preemption until the last commit. */
		preempt_disable();
		for (i = 0; i < tx->n_dests; i++) {
			d = &tx->dests[i];
			if (d->msg)
				ts = max(ts, bus1_queue_stage(&d->peer->queue,
							      &d->msg->qnode));
		}
		ts = bus1_queue_commit_ts(ts);
		for (i = 0; i < tx->n_dests; i++)
			if (tx->dests[i].msg)
				bus1_queue_tick(&tx->dests[i].peer->queue, ts);
		/* Staged entries commit at @ts exactly. */
		for (i = 0; i < tx->n_dests; i++)
			if (tx->dests[i].msg)
				tx->dests[i].wake =
					bus1_tx_commit_one(tx, &tx->dests[i],
							   &ts);
		preempt_enable();
		for (i = 0; i < tx->n_dests; i++)
			if (tx->dests[i].wake)
				bus1_tx_wake(&tx->dests[i], false);
	}
	bus1_queue_tick(sender_queue, ts);
	for (i = 0; i < tx->payload->n_handles; i++)
		bus1_node_carried(tx->handles[i], ts);
}

/**
 * bus1_tx_send() - send one message to one or many handles
 * @sender:	sending peer
 * @ids:	IDs of handles of @sender, no two naming the same node
 * @n_ids:	number of IDs, at least one
 * @payload:	the payload, in the sender's memory, and the handles and
 *		files to pass; the caller keeps its file references
 * @uerrors:	NULL for an all-or-nothing send; otherwise an array of @n_ids
 *		entries, to report for each destination 0 or the positive
 *		errno that left it out
 *
 * Without @uerrors, every destination receives the message, or none does.
 * With it, the destinations that fail are left out and the others receive
 * the message; only failures of the call itself, not of one destination,
 * undo everything. Either way, all destinations that receive it see it at
 * the same logical time: if two sends share destinations, each of those
 * sees them in the same order.
 *
 * Every receiver gets its own reference to each passed handle and file.
 *
 * Return: 0 on success; -ENXIO if @sender holds no handle of one of @ids
 * or of the passed handle IDs, -ENOTUNIQ if two of @ids are the same,
 * -EHOSTUNREACH if a destination node was destroyed or its owner
 * disconnected, also while the payload was being copied, -ENOSPC if a
 * receiver's pool has no room for the payload, -EDQUOT if the message is
 * over a receiver's quota, a security module's error if it refuses a
 * destination or what the send passes to it, -EFAULT if the payload
 * cannot be read or @uerrors cannot be written, -ENOMEM when out of
 * memory. With @uerrors, -ENXIO, -EHOSTUNREACH, -ENOSPC, -EDQUOT, a
 * security module's error and -ENOMEM of one destination are reported
 * in @uerrors instead. A failed copy may
 * leave part of the payload in pool space that is free again; nothing
 * refers to it.
 */
int bus1_tx_send(struct bus1_peer *sender, const u64 *ids, size_t n_ids,
		 struct bus1_tx_payload *payload, s32 __user *uerrors)
{
	/* Only the first @n_ids entries are used, zeroed or resolved below. */
	struct bus1_tx_dest small_dests[BUS1_TX_SMALL] __uninitialized;
	struct bus1_node *small_nodes[BUS1_TX_SMALL] __uninitialized;
	struct bus1_tx tx = {
		.sender = sender,
		.ids = ids,
		.payload = payload,
	};
	struct bus1_node **nodes;
	size_t i;
	int r;

	tx.trailer_size = payload->n_handles * sizeof(u64) +
			  payload->n_files * sizeof(s32);
	if (n_ids <= BUS1_TX_SMALL) {
		memset(small_dests, 0, n_ids * sizeof(*small_dests));
		tx.dests = small_dests;
		nodes = small_nodes;
	} else {
		tx.dests = kvcalloc(n_ids, sizeof(*tx.dests),
				    GFP_KERNEL_ACCOUNT);
		nodes = kvcalloc(n_ids, sizeof(*nodes), GFP_KERNEL_ACCOUNT);
	}
	if (uerrors)
		tx.errors = kvcalloc(n_ids, sizeof(*tx.errors),
				     GFP_KERNEL_ACCOUNT);
	if (payload->n_handles)
		tx.handles = kcalloc(payload->n_handles, sizeof(*tx.handles),
				     GFP_KERNEL_ACCOUNT);
	if (tx.trailer_size)
		tx.trailer = kmalloc(tx.trailer_size, GFP_KERNEL_ACCOUNT);
	if (!tx.dests || !nodes || (uerrors && !tx.errors) ||
	    (payload->n_handles && !tx.handles) ||
	    (tx.trailer_size && !tx.trailer))
		r = -ENOMEM;
	else
		r = bus1_handles_resolve(sender, ids, n_ids, nodes, tx.errors);
	if (!r) {
		for (i = 0; i < n_ids; i++)
			tx.dests[i].node = nodes[i];
		tx.n_dests = n_ids;
		r = bus1_handles_lookup(sender, payload->handle_ids,
					payload->n_handles, tx.handles);
	}
	if (nodes != small_nodes)
		kvfree(nodes);
	if (!r && tx.trailer)
		memset(tx.trailer, 0xff, tx.trailer_size);

	if (!r)
		r = bus1_tx_each(&tx, bus1_tx_authorize);
	if (!r)
		r = bus1_tx_each(&tx, bus1_tx_prepare);
	if (!r)
		r = bus1_tx_copy(&tx);
	if (!r && uerrors)
		r = bus1_tx_write_errors(&tx, uerrors);
	if (!r && tx.pinned)
		r = bus1_tx_reacquire(&tx, uerrors);
	if (!r)
		bus1_tx_commit(&tx);
	bus1_tx_destroy(&tx);
	if (tx.dests != small_dests)
		kvfree(tx.dests);
	return r;
}
