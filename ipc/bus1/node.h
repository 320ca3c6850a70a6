/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_NODE_H
#define __BUS1_NODE_H

/*
 * Nodes: the objects messages are addressed to. A node is owned by one
 * peer forever; other peers reach it through handles. The owner learns
 * when nobody else holds the node any more, and can destroy it, which
 * tells every holder.
 */

#include <linux/compiler.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/types.h>
#include "message.h"

struct bus1_handle;
struct bus1_peer;

/**
 * struct bus1_node - a node
 * @ref:	memory: one reference per handle to the node, per data
 *		message addressed to it and per queued release notice
 * @owner:	the owning peer, a counted reference held for the node's
 *		whole life
 * @id:		the ID of the owner's own handle to the node
 * @holders:	every handle to the node, the owner's included
 * @n_foreign:	number of handles held by peers other than the owner, and
 *		of handles to the node that messages carry
 * @carried_ts:	the latest commit timestamp of a message that carried a
 *		handle to the node: a destruction is ordered after it
 * @destroy_ts:	commit timestamp of the node's destruction, 0 while alive
 * @destroy_key: tie-break key of the destruction, valid with @destroy_ts
 * @destroy_link: entry in the set of nodes one destruction works on
 * @release_queued: whether @release_notice is in the owner's queue
 * @release_notice: BUS1_MSG_NODE_RELEASE notice for the owner
 *
 * @owner and @id are set at creation and never change. Every other field
 * is protected by the owner's nodes_lock. @destroy_ts is set once, and
 * may also be read without the lock: a sender that sees it set refuses
 * to send, and a receiver drops data messages ordered after it.
 */
struct bus1_node {
	struct kref ref;
	struct bus1_peer *owner;
	u64 id;
	struct list_head holders;
	u64 n_foreign;
	u64 carried_ts;
	u64 destroy_ts;
	u64 destroy_key;
	struct list_head destroy_link;
	bool release_queued;
	struct bus1_message release_notice;
};

struct bus1_node *bus1_node_new(struct bus1_peer *owner);
void bus1_node_put(struct bus1_node *node);
int bus1_node_link(struct bus1_node *node, struct bus1_handle *handle);
void bus1_node_unlink(struct bus1_node *node, struct bus1_handle *handle);
void bus1_nodes_destroy_locked(struct bus1_peer *owner, struct list_head *set);
void bus1_node_inflight_get(struct bus1_node *node);
void bus1_node_carried(struct bus1_node *node, u64 ts);
void bus1_node_inflight_put(struct bus1_node *node, struct bus1_peer *releaser);
struct bus1_handle *bus1_node_receive(struct bus1_node *node,
				      struct bus1_peer *receiver,
				      struct bus1_handle *existing,
				      struct bus1_handle *spare,
				      const struct bus1_queue_node *qnode,
				      bool *notified);
bool bus1_node_destroyed_before(struct bus1_node *node,
				const struct bus1_queue_node *qnode);
bool bus1_node_release_withdrawn(struct bus1_node *node);
void bus1_node_release_done(struct bus1_node *node);

/**
 * bus1_node_is_destroyed() - whether a node was destroyed
 * @node:	node to test
 *
 * Return: true once the destruction of @node committed.
 */
static inline bool bus1_node_is_destroyed(struct bus1_node *node)
{
	return READ_ONCE(node->destroy_ts);
}

#endif /* __BUS1_NODE_H */
