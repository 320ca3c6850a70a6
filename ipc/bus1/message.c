// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 data messages: allocation, and dropping what a message carries when
 * it is not received.
 */

#include <linux/file.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <uapi/linux/bus1.h>
#include "message.h"
#include "node.h"
#include "peer.h"
#include "quota.h"

/*
 * A spare message of @receiver, or NULL if it has none. A message sent to
 * a peer that receives each one before the next usually finds the last
 * one in the slot, without the lock.
 */
static struct bus1_message *bus1_message_take_spare(struct bus1_peer *receiver)
{
	struct bus1_message *msg;

	msg = xchg(&receiver->spare_message, NULL);
	if (msg || !READ_ONCE(receiver->n_spare_messages))
		return msg;
	spin_lock(&receiver->spare_lock);
	msg = list_first_entry_or_null(&receiver->spare_messages,
				       struct bus1_message, spare_entry);
	if (msg) {
		list_del(&msg->spare_entry);
		WRITE_ONCE(receiver->n_spare_messages,
			   receiver->n_spare_messages - 1);
	}
	spin_unlock(&receiver->spare_lock);
	return msg;
}

/* Keep @msg as a spare of @receiver. Return: false if it has enough. */
static bool bus1_message_keep_spare(struct bus1_peer *receiver,
				    struct bus1_message *msg)
{
	bool kept = false;

	if (!cmpxchg(&receiver->spare_message, NULL, msg))
		return true;
	spin_lock(&receiver->spare_lock);
	if (receiver->n_spare_messages < BUS1_PEER_SPARE_MESSAGES) {
		list_add(&msg->spare_entry, &receiver->spare_messages);
		WRITE_ONCE(receiver->n_spare_messages,
			   receiver->n_spare_messages + 1);
		kept = true;
	}
	spin_unlock(&receiver->spare_lock);
	return kept;
}

/**
 * bus1_message_new() - allocate a data message
 * @receiver:	the peer it is for; one of its spare messages is taken if
 *		it has any
 * @n_handles:	number of handles it will carry
 * @n_files:	number of files it will carry
 *
 * Return: the message, its arrays allocated and empty, or NULL when out
 * of memory.
 */
struct bus1_message *bus1_message_new(struct bus1_peer *receiver,
				      size_t n_handles, size_t n_files)
{
	struct bus1_message *msg;

	msg = bus1_message_take_spare(receiver);
	if (msg)
		memset(msg, 0, sizeof(*msg));
	else
		msg = kzalloc(sizeof(*msg), GFP_KERNEL_ACCOUNT);
	if (!msg)
		return NULL;
	msg->type = BUS1_MSG_DATA;
	if (n_handles)
		msg->handles = kcalloc(n_handles, sizeof(*msg->handles),
				       GFP_KERNEL_ACCOUNT);
	if (n_files)
		msg->files = kcalloc(n_files, sizeof(*msg->files),
				     GFP_KERNEL_ACCOUNT);
	if ((n_handles && !msg->handles) || (n_files && !msg->files)) {
		bus1_message_free(msg, NULL);
		return NULL;
	}
	return msg;
}

/**
 * bus1_message_uncharge() - return what a data message is still charged
 * @msg:	a charged message, leaving its receiver's queue
 * @release:	a slice the receiver claimed (bus1_pool_claim()) and frees
 *		with this receive, or NULL
 *
 * Returns the charge of @msg and of what it still carries, not that of
 * its slice, and the charge of @release, under one lock of the receiver's
 * quota: a receive that hands back the previous slice usually returns
 * both to the same sender. Freeing @release and @msg afterwards returns
 * nothing more.
 */
void bus1_message_uncharge(struct bus1_message *msg,
			   struct bus1_slice *release)
{
	struct bus1_peer *receiver = msg->node->owner;
	struct bus1_usage *slice_usage = NULL;
	u64 slice_bytes = 0;

	if (release)
		slice_usage = bus1_pool_take_charge(&receiver->pool, release,
						    &slice_bytes);
	bus1_quota_uncharge_received(&receiver->quota, msg->usage,
				     msg->n_charged_handles, msg->n_files,
				     slice_usage, slice_bytes);
	msg->usage = NULL;
}

/**
 * bus1_message_free() - free a data message and what it still carries
 * @msg:	message in no queue; its slice is the caller's business
 * @releaser:	the peer dropping it, to order the release notices that
 *		dropping its handles may cause
 *
 * The references in @msg->handles and @msg->files that were not taken
 * over by a receiver (and cleared from the arrays) are dropped, and what
 * the message is still charged returned. The message becomes a spare of
 * its receiver unless that has enough: a later message to the same peer
 * then needs no allocation. The node's reference to its owner keeps the
 * receiver until then.
 */
void bus1_message_free(struct bus1_message *msg, struct bus1_peer *releaser)
{
	struct bus1_node *node = msg->node;
	size_t i;

	/* A message is charged once it has its node, until it is received. */
	if (msg->usage)
		bus1_message_uncharge(msg, NULL);

	/* Most messages carry neither. */
	if (msg->handles || msg->files) {
		for (i = 0; i < msg->n_handles; i++)
			if (msg->handles[i])
				bus1_node_inflight_put(msg->handles[i],
						       releaser);
		for (i = 0; i < msg->n_files; i++)
			if (msg->files[i])
				fput(msg->files[i]);
		kfree(msg->handles);
		kfree(msg->files);
	}
	if (!node || !bus1_message_keep_spare(node->owner, msg))
		kfree(msg);
	if (node)
		bus1_node_put(node);
}
