/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_HANDLE_H
#define __BUS1_HANDLE_H

/*
 * Nodes and handles. A node is an object owned by one peer, forever;
 * messages are addressed to nodes. A handle is a peer's capability to a
 * node, named by an ID that means something only within that peer.
 */

#include <linux/kref.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct bus1_peer;
struct seq_file;

/**
 * struct bus1_node - a node
 * @ref:	one reference per handle to the node, the owner's included
 * @owner:	the owning peer, a counted reference held for the node's
 *		whole life
 * @id:		the ID of the owner's own handle to the node
 *
 * All fields are set at creation and never change.
 */
struct bus1_node {
	struct kref ref;
	struct bus1_peer *owner;
	u64 id;
};

/**
 * struct bus1_handle - a handle held by a peer
 * @by_id:	link in bus1_handles.by_id of the holder
 * @by_node:	link in bus1_handles.by_node of the holder
 * @node:	the node, a counted reference
 * @id:		the holder's name for the handle; never reused by the holder
 * @refs:	references the holder owns; receiving the node again adds one
 * @mark:	the last resolve pass of the holder that named this handle
 *
 * A handle belongs to the bus1_handles of its holder and is protected by
 * the lock of the holder, like them.
 */
struct bus1_handle {
	struct rb_node by_id;
	struct rb_node by_node;
	struct bus1_node *node;
	u64 id;
	u64 refs;
	u64 mark;
};

/**
 * struct bus1_handles - the handles one peer holds
 * @by_id:	handles by ID
 * @by_node:	the same handles by node, so a peer holds one per node
 * @next_id:	the last ID handed out; IDs count up from 1 and are never
 *		reused, 0 is never a valid ID
 * @n_handles:	number of handles held
 * @n_nodes:	number of nodes the peer created
 * @resolve_seq: number of resolve passes so far, to find repeated IDs
 *
 * Embedded in a peer and protected by the peer's lock.
 */
struct bus1_handles {
	struct rb_root by_id;
	struct rb_root by_node;
	u64 next_id;
	u64 n_handles;
	u64 n_nodes;
	u64 resolve_seq;
};

void bus1_handles_init(struct bus1_handles *handles);
void bus1_handles_flush(struct bus1_peer *peer);
void bus1_handles_show_fdinfo(struct bus1_peer *peer, struct seq_file *m);
int bus1_node_create(struct bus1_peer *peer, u64 *id);
int bus1_handle_transfer(struct bus1_peer *src, u64 src_id,
			 struct bus1_peer *dst, u64 *dst_id);
int bus1_handle_release(struct bus1_peer *peer, u64 id);
int bus1_handles_resolve(struct bus1_peer *peer, const u64 *ids, size_t n,
			 struct bus1_node **nodes, s32 *errors);
void bus1_node_put(struct bus1_node *node);

#endif /* __BUS1_HANDLE_H */
