/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_MESSAGE_H
#define __BUS1_MESSAGE_H

/*
 * An entry as it sits in the queue of one receiver: a message sent with
 * bus1_send(), or a notification about a node.
 */

#include <linux/align.h>
#include <linux/types.h>
#include "queue.h"

struct bus1_handle;
struct bus1_node;
struct bus1_peer;
struct bus1_slice;
struct bus1_usage;
struct file;

/**
 * struct bus1_message - one queued entry of a receiver
 * @qnode:	entry in the receiver's queue
 * @spare_entry: link in bus1_peer.spare_messages of the receiver, while
 *		the freed message is kept for a later one
 * @type:	BUS1_MSG_* type reported by bus1_recv()
 * @node:	BUS1_MSG_DATA: the destination node, a counted reference;
 *		BUS1_MSG_NODE_RELEASE: the node the notice is embedded in
 * @handle:	BUS1_MSG_NODE_DESTROY: the receiver's handle the notice is
 *		embedded in; a counted reference while queued
 * @slice:	BUS1_MSG_DATA: payload in the receiver's pool
 * @size:	BUS1_MSG_DATA: payload size in bytes
 * @n_handles:	BUS1_MSG_DATA: number of entries in @handles
 * @handles:	BUS1_MSG_DATA: the nodes of the passed handles, each a
 *		counted reference that also counts as a handle of another
 *		peer to the node (see node.c)
 * @n_files:	BUS1_MSG_DATA: number of entries in @files
 * @files:	BUS1_MSG_DATA: the passed files, counted references
 * @usage:	BUS1_MSG_DATA: where the message is charged to the quota of
 *		its receiver, the owner of @node; NULL until charged
 * @n_charged_handles: BUS1_MSG_DATA: how many of the handle charges the
 *		message still holds; a received handle takes its charge over
 *
 * A data message is allocated by its sender, owned by it until it commits
 * the message, then by the receiver, which frees it when it receives it or
 * flushes its queue. Notifications are embedded in the object they are
 * about, so that destroying a node or dropping a handle cannot fail for
 * want of memory; each object has at most one of each queued. They are
 * not charged: each is bounded by a charged handle or node.
 *
 * A data message is charged one queued message, its files and its
 * handles, returned when it is freed; its slice carries its own charge.
 */
struct bus1_message {
	union {
		struct bus1_queue_node qnode;
		struct list_head spare_entry;
	};
	u64 type;
	struct bus1_node *node;
	struct bus1_handle *handle;
	struct bus1_slice *slice;
	u64 size;
	size_t n_handles;
	struct bus1_node **handles;
	size_t n_files;
	struct file **files;
	struct bus1_usage *usage;
	size_t n_charged_handles;
};

/*
 * Where the IDs of the handles a message of @size payload bytes carries
 * start in its slice; the fd numbers follow them.
 */
static inline size_t bus1_message_trailer_offset(size_t size)
{
	return ALIGN(size, sizeof(u64));
}

/*
 * Where the sender's identity starts in the slice of a message to a
 * BUS1_PEER_CREDS peer: behind the fd numbers, 8-byte aligned.
 */
static inline size_t bus1_message_creds_offset(size_t size, size_t n_handles,
					       size_t n_files)
{
	return ALIGN(bus1_message_trailer_offset(size) +
		     n_handles * sizeof(u64) + n_files * sizeof(s32),
		     sizeof(u64));
}

static inline struct bus1_message *
bus1_message_from_qnode(struct bus1_queue_node *qnode)
{
	return container_of(qnode, struct bus1_message, qnode);
}

struct bus1_message *bus1_message_new(struct bus1_peer *receiver,
				      size_t n_handles, size_t n_files);
void bus1_message_uncharge(struct bus1_message *msg,
			   struct bus1_slice *release);
void bus1_message_free(struct bus1_message *msg, struct bus1_peer *releaser);

#endif /* __BUS1_MESSAGE_H */
