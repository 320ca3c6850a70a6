/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_MESSAGE_H
#define __BUS1_MESSAGE_H

/*
 * A message as it sits in the queue of one receiver: the queue entry, and
 * where its payload lies in the receiver's pool.
 */

#include <linux/types.h>
#include "queue.h"

struct bus1_slice;

/**
 * struct bus1_message - one queued entry of a receiver
 * @qnode:	entry in the receiver's queue
 * @slice:	payload in the receiver's pool, allocated for this message
 * @type:	BUS1_MSG_* type reported by bus1_recv()
 * @destination: the receiver's ID of the node the message was sent to
 * @size:	payload size in bytes
 *
 * Created by the sender, and owned by it until it commits the message to
 * the queue; from then on owned by the receiver, which frees it when it
 * receives it or flushes its queue. Nothing in it is shared.
 */
struct bus1_message {
	struct bus1_queue_node qnode;
	struct bus1_slice *slice;
	u64 type;
	u64 destination;
	u64 size;
};

static inline struct bus1_message *
bus1_message_from_qnode(struct bus1_queue_node *qnode)
{
	return container_of(qnode, struct bus1_message, qnode);
}

#endif /* __BUS1_MESSAGE_H */
