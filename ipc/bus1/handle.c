// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 nodes and handles
 *
 * A peer names the handles it holds by 64-bit IDs it was given by the
 * kernel. IDs count up per peer and are never reused, and a peer can only
 * name handles in its own table, so an ID cannot be forged: one that was
 * not given to the peer is simply not found.
 *
 * A peer holds at most one handle per node; receiving the node again adds
 * a reference to that handle. Each handle holds a reference to its node,
 * and each node one to its owner.
 *
 * Only one peer's lock is ever held at a time: a transfer looks the handle
 * up in the source, takes a node reference, drops the source lock, and
 * only then takes the destination lock.
 */

#include <linux/err.h>
#include <linux/lockdep.h>
#include <linux/rbtree.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include "handle.h"
#include "peer.h"

static void bus1_node_free(struct kref *ref)
{
	struct bus1_node *node = container_of(ref, struct bus1_node, ref);

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

static bool bus1_handle_less_by_id(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct bus1_handle, by_id)->id <
	       rb_entry(b, struct bus1_handle, by_id)->id;
}

static bool bus1_handle_less_by_node(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct bus1_handle, by_node)->node <
	       rb_entry(b, struct bus1_handle, by_node)->node;
}

static int bus1_handle_cmp_id(const void *key, const struct rb_node *n)
{
	u64 id = *(const u64 *)key, other = rb_entry(n, struct bus1_handle, by_id)->id;

	return id < other ? -1 : id > other;
}

static int bus1_handle_cmp_node(const void *key, const struct rb_node *n)
{
	const struct bus1_node *node = key;
	const struct bus1_node *other = rb_entry(n, struct bus1_handle, by_node)->node;

	return node < other ? -1 : node > other;
}

/* Look up a handle of @peer by ID; peer lock held. */
static struct bus1_handle *bus1_handle_find(struct bus1_peer *peer, u64 id)
{
	struct rb_node *n;

	lockdep_assert_held(&peer->lock);
	n = rb_find(&id, &peer->handles.by_id, bus1_handle_cmp_id);
	return n ? rb_entry(n, struct bus1_handle, by_id) : NULL;
}

/* Give @handle, holding a reference to its node, an ID in @peer; lock held. */
static void bus1_handle_link(struct bus1_peer *peer, struct bus1_handle *handle)
{
	lockdep_assert_held(&peer->lock);
	handle->id = ++peer->handles.next_id;
	handle->refs = 1;
	rb_add(&handle->by_id, &peer->handles.by_id, bus1_handle_less_by_id);
	rb_add(&handle->by_node, &peer->handles.by_node, bus1_handle_less_by_node);
	peer->handles.n_handles++;
}

static void bus1_handle_unlink(struct bus1_peer *peer, struct bus1_handle *handle)
{
	lockdep_assert_held(&peer->lock);
	rb_erase(&handle->by_id, &peer->handles.by_id);
	rb_erase(&handle->by_node, &peer->handles.by_node);
	peer->handles.n_handles--;
	if (handle->node->owner == peer)
		peer->handles.n_nodes--;
}

/**
 * bus1_handles_init() - initialize an empty handle table
 * @handles:	table to initialize
 */
void bus1_handles_init(struct bus1_handles *handles)
{
	handles->by_id = RB_ROOT;
	handles->by_node = RB_ROOT;
	handles->next_id = 0;
	handles->n_handles = 0;
	handles->n_nodes = 0;
	handles->resolve_seq = 0;
}

/**
 * bus1_handles_flush() - drop every handle a peer holds
 * @peer:	the disconnecting peer
 *
 * Nodes the peer owns lose their owner's handle; they are freed once no
 * other peer holds them either.
 */
void bus1_handles_flush(struct bus1_peer *peer)
{
	struct bus1_handle *handle, *tmp;
	struct rb_root all;

	mutex_lock(&peer->lock);
	all = peer->handles.by_id;
	peer->handles.by_id = RB_ROOT;
	peer->handles.by_node = RB_ROOT;
	peer->handles.n_handles = 0;
	peer->handles.n_nodes = 0;
	mutex_unlock(&peer->lock);

	rbtree_postorder_for_each_entry_safe(handle, tmp, &all, by_id) {
		bus1_node_put(handle->node);
		kfree(handle);
	}
}

/**
 * bus1_handles_show_fdinfo() - describe a peer's handles in fdinfo
 * @peer:	peer to describe
 * @m:		output of the fdinfo file
 */
void bus1_handles_show_fdinfo(struct bus1_peer *peer, struct seq_file *m)
{
	u64 nodes, handles;

	mutex_lock(&peer->lock);
	nodes = peer->handles.n_nodes;
	handles = peer->handles.n_handles;
	mutex_unlock(&peer->lock);
	seq_printf(m, "bus1-nodes:\t%llu\n", nodes);
	seq_printf(m, "bus1-handles:\t%llu\n", handles);
}

/**
 * bus1_node_create() - create a node owned by a peer
 * @peer:	the owner
 * @id:	set to the ID of the owner's handle to the new node
 *
 * Return: 0 on success, -ENOMEM when out of memory.
 */
int bus1_node_create(struct bus1_peer *peer, u64 *id)
{
	struct bus1_handle *handle;
	struct bus1_node *node;

	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	handle = kzalloc(sizeof(*handle), GFP_KERNEL_ACCOUNT);
	if (!node || !handle) {
		kfree(node);
		kfree(handle);
		return -ENOMEM;
	}

	kref_init(&node->ref);
	node->owner = bus1_peer_get(peer);
	handle->node = node;

	mutex_lock(&peer->lock);
	bus1_handle_link(peer, handle);
	node->id = handle->id;
	peer->handles.n_nodes++;
	*id = handle->id;
	mutex_unlock(&peer->lock);
	return 0;
}

/**
 * bus1_handle_transfer() - give a handle of one peer to another
 * @src:	peer that holds the handle
 * @src_id:	its ID in @src
 * @dst:	peer to give it to; may be @src
 * @dst_id:	set to the handle's ID in @dst
 *
 * If @dst holds a handle to the node already, that handle gains a
 * reference and keeps its ID; otherwise @dst gets a new handle.
 *
 * Return: 0 on success, -ENXIO if @src holds no handle @src_id, -ENOMEM
 * when out of memory.
 */
int bus1_handle_transfer(struct bus1_peer *src, u64 src_id,
			 struct bus1_peer *dst, u64 *dst_id)
{
	struct bus1_handle *handle, *new;
	struct bus1_node *node;
	struct rb_node *n;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;

	mutex_lock(&src->lock);
	handle = bus1_handle_find(src, src_id);
	if (handle) {
		node = handle->node;
		kref_get(&node->ref);
	}
	mutex_unlock(&src->lock);
	if (!handle) {
		kfree(new);
		return -ENXIO;
	}

	mutex_lock(&dst->lock);
	n = rb_find(node, &dst->handles.by_node, bus1_handle_cmp_node);
	if (n) {
		handle = rb_entry(n, struct bus1_handle, by_node);
		handle->refs++;
	} else {
		handle = new;
		handle->node = node;
		bus1_handle_link(dst, handle);
		new = NULL;
		node = NULL;
	}
	*dst_id = handle->id;
	mutex_unlock(&dst->lock);

	/* On a merge, the existing handle already holds the node. */
	if (node)
		bus1_node_put(node);
	kfree(new);
	return 0;
}

/**
 * bus1_handle_release() - drop one reference to a handle
 * @peer:	holder of the handle
 * @id:		ID of the handle
 *
 * The handle goes away with its last reference, and its ID with it.
 *
 * Return: 0 on success, -ENXIO if @peer holds no handle @id.
 */
int bus1_handle_release(struct bus1_peer *peer, u64 id)
{
	struct bus1_handle *handle;
	bool last = false;

	mutex_lock(&peer->lock);
	handle = bus1_handle_find(peer, id);
	if (handle && --handle->refs == 0) {
		bus1_handle_unlink(peer, handle);
		last = true;
	}
	mutex_unlock(&peer->lock);
	if (!handle)
		return -ENXIO;

	if (last) {
		bus1_node_put(handle->node);
		kfree(handle);
	}
	return 0;
}

/**
 * bus1_handles_resolve() - look up the nodes behind handle IDs
 * @peer:	holder of the handles
 * @ids:	handle IDs of @peer
 * @n:		number of IDs
 * @nodes:	array of @n entries, set to a counted reference to each node
 * @errors:	NULL, or an array of @n entries: an ID that is not found then
 *		gets ENXIO there and NULL in @nodes instead of failing the call
 *
 * All or nothing: on failure no reference is held. A peer holds one
 * handle per node, so a repeated ID is a repeated node.
 *
 * Return: 0 on success, -ENXIO if @peer holds no handle of one of @ids
 * (only without @errors), -ENOTUNIQ if an ID appears twice.
 */
int bus1_handles_resolve(struct bus1_peer *peer, const u64 *ids, size_t n,
			 struct bus1_node **nodes, s32 *errors)
{
	struct bus1_handle *handle;
	size_t i;
	u64 mark;
	int r = 0;

	mutex_lock(&peer->lock);
	mark = ++peer->handles.resolve_seq;
	for (i = 0; i < n; i++) {
		handle = bus1_handle_find(peer, ids[i]);
		if (!handle && errors) {
			errors[i] = ENXIO;
			nodes[i] = NULL;
			continue;
		}
		if (!handle) {
			r = -ENXIO;
			break;
		}
		if (handle->mark == mark) {
			r = -ENOTUNIQ;
			break;
		}
		handle->mark = mark;
		nodes[i] = handle->node;
		kref_get(&nodes[i]->ref);
	}
	mutex_unlock(&peer->lock);

	if (r)
		while (i--)
			if (nodes[i])
				bus1_node_put(nodes[i]);
	return r;
}
