/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_HANDLE_H
#define __BUS1_HANDLE_H

/*
 * Handles: a peer's capabilities to nodes, each named by an ID that means
 * something only within that peer.
 */

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include "message.h"
#include "node.h"

struct bus1_peer;
struct bus1_usage;
struct seq_file;

/**
 * struct bus1_handle - a handle held by a peer
 * @ref:	memory: one reference while the handle is in its holder's
 *		table, one while @destroy_notice is queued
 * @by_id:	link in bus1_handles.by_id of the holder
 * @by_node:	link in bus1_handles.by_node of the holder
 * @holder_link: link in the holders list of @node
 * @holder:	the peer that holds the handle; not counted, the handle
 *		is unlinked from @node before the holder is freed
 * @node:	the node, a counted reference
 * @id:		the holder's name for the handle; never reused by the holder
 * @refs:	references the holder owns; receiving the node again adds one
 * @mark:	the last pass over the holder's table that named this handle
 * @usage:	where the handle is charged to the holder's quota, while it
 *		is in the holder's table
 * @destroy_notice: BUS1_MSG_NODE_DESTROY notice for the holder
 *
 * @by_id, @by_node, @refs, @mark and @usage are protected by the lock
 * of the holder, @holder_link by the nodes_lock of the owner of @node. @holder,
 * @node and @id never change once the handle is linked.
 */
struct bus1_handle {
	struct kref ref;
	struct rb_node by_id;
	struct rb_node by_node;
	struct list_head holder_link;
	struct bus1_peer *holder;
	struct bus1_node *node;
	u64 id;
	u64 refs;
	u64 mark;
	struct bus1_usage *usage;
	struct bus1_message destroy_notice;
};

/**
 * struct bus1_handles - the handles one peer holds
 * @by_id:	handles by ID
 * @by_node:	the same handles by node, so a peer holds one per node
 * @next_id:	the last ID handed out; IDs count up from 1 and are never
 *		reused, 0 is never a valid ID
 * @n_handles:	number of handles held
 * @n_nodes:	number of nodes the peer created
 * @resolve_seq: number of passes over the table that named IDs, to find
 *		repeated ones
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
void bus1_handles_destroy_owned(struct bus1_peer *peer);
void bus1_handles_flush(struct bus1_peer *peer);
void bus1_handles_show_fdinfo(struct bus1_peer *peer, struct seq_file *m);
void bus1_handle_put(struct bus1_handle *handle);
u64 bus1_handles_reserve_id(struct bus1_peer *peer);
int bus1_node_create(struct bus1_peer *peer, u64 id);
int bus1_handle_transfer(struct bus1_peer *src, u64 src_id,
			 struct bus1_peer *dst, u64 *dst_id);
int bus1_handles_release(struct bus1_peer *peer, const u64 *ids, size_t n);
int bus1_handles_destroy(struct bus1_peer *peer, const u64 *ids, size_t n);
int bus1_handles_resolve(struct bus1_peer *peer, const u64 *ids, size_t n,
			 struct bus1_node **nodes, s32 *errors);
int bus1_handles_lookup(struct bus1_peer *peer, const u64 *ids, size_t n,
			struct bus1_node **nodes);
struct bus1_handle **bus1_handles_spare(struct bus1_peer *peer, size_t n);
void bus1_handles_spare_free(struct bus1_handle **spare, size_t n);
void bus1_handles_install(struct bus1_peer *peer, struct bus1_message *msg,
			  struct bus1_handle **spare, u64 *ids);

#endif /* __BUS1_HANDLE_H */
