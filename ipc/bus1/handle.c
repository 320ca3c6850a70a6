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
 * and each node one to its owner. The owner keeps its own handle while
 * the node is alive: it is the owner's only way to destroy the node.
 *
 * Only one peer's lock is ever held at a time: a transfer looks the handle
 * up in the source, takes a node reference, drops the source lock, and
 * only then takes the destination lock. The nodes_lock of a node's owner
 * nests inside the lock of the holder.
 *
 * Every handle in a table is charged one handle to its holder's quota,
 * attributed to whoever gave it: the creator of the node for the owner's
 * handle, the source of a transfer, the sender of a message. Merging
 * into a handle the holder has costs nothing.
 */

#include <linux/err.h>
#include <linux/lockdep.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <trace/events/bus1.h>
#include <uapi/linux/bus1.h>
#include "handle.h"
#include "peer.h"
#include "quota.h"

/* A handle of @holder, not linked anywhere yet. */
static struct bus1_handle *bus1_handle_new(struct bus1_peer *holder)
{
	struct bus1_handle *handle;

	handle = kzalloc(sizeof(*handle), GFP_KERNEL_ACCOUNT);
	if (!handle)
		return NULL;
	kref_init(&handle->ref);
	INIT_LIST_HEAD(&handle->holder_link);
	handle->holder = holder;
	handle->destroy_notice.type = BUS1_MSG_NODE_DESTROY;
	handle->destroy_notice.handle = handle;
	bus1_queue_node_init(&handle->destroy_notice.qnode, 0);
	return handle;
}

static void bus1_handle_free(struct kref *ref)
{
	struct bus1_handle *handle = container_of(ref, struct bus1_handle, ref);

	if (handle->node)
		bus1_node_put(handle->node);
	kfree(handle);
}

/**
 * bus1_handle_put() - drop a reference to the memory of a handle
 * @handle:	handle to release
 */
void bus1_handle_put(struct bus1_handle *handle)
{
	kref_put(&handle->ref, bus1_handle_free);
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

/*
 * Put @handle, holding a reference to its node, into the table of @peer,
 * with a new ID unless it has a reserved one; lock held.
 */
static void bus1_handle_link(struct bus1_peer *peer, struct bus1_handle *handle)
{
	lockdep_assert_held(&peer->lock);
	if (!handle->id)
		handle->id = ++peer->handles.next_id;
	handle->refs = 1;
	rb_add(&handle->by_id, &peer->handles.by_id, bus1_handle_less_by_id);
	rb_add(&handle->by_node, &peer->handles.by_node, bus1_handle_less_by_node);
	peer->handles.n_handles++;
	if (handle->node->owner == peer)
		peer->handles.n_nodes++;
}

/* Return the charge of a handle that left the table of @peer. */
static void bus1_handle_uncharge(struct bus1_peer *peer,
				 struct bus1_handle *handle)
{
	if (handle->usage)
		bus1_quota_uncharge_one(&peer->quota, handle->usage,
					BUS1_RES_HANDLES, 1);
	handle->usage = NULL;
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

/*
 * The notices one transaction of a disconnecting peer's node destruction
 * stages at most, unless a single node has more holders, and the handles
 * it looks at to find its nodes: the locks are dropped and the CPU given
 * up between two such transactions, so that closing a peer that owns or
 * holds any number of handles holds no lock for long.
 */
#define BUS1_DESTROY_BATCH	256
#define BUS1_DESTROY_SCAN	(4 * BUS1_DESTROY_BATCH)

/* The first handle of @peer with an ID of at least @id, or NULL. */
static struct bus1_handle *bus1_handle_find_from(struct bus1_peer *peer,
						 u64 id)
{
	struct rb_node *n = peer->handles.by_id.rb_node;
	struct bus1_handle *h, *found = NULL;

	lockdep_assert_held(&peer->lock);
	while (n) {
		h = rb_entry(n, struct bus1_handle, by_id);
		if (h->id >= id) {
			found = h;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return found;
}

/**
 * bus1_handles_destroy_owned() - destroy every node a peer owns
 * @peer:	the disconnecting peer
 *
 * The nodes are destroyed in transactions of up to BUS1_DESTROY_BATCH
 * notices each, as bus1_nodes_destroy() destroys them; their holders are
 * told. @peer is disconnected: it gets no new nodes or handles meanwhile,
 * so the walk through its handles, by ID, misses none.
 */
void bus1_handles_destroy_owned(struct bus1_peer *peer)
{
	struct bus1_handle *handle;
	struct bus1_node *node;
	u64 next = 0, notices, scanned;
	LIST_HEAD(set);

	do {
		notices = 0;
		scanned = 0;
		mutex_lock(&peer->lock);
		mutex_lock(&peer->nodes_lock);
		handle = bus1_handle_find_from(peer, next);
		for (; handle && scanned < BUS1_DESTROY_SCAN;
		     handle = rb_entry_safe(rb_next(&handle->by_id),
					    struct bus1_handle, by_id)) {
			node = handle->node;
			scanned++;
			if (node->owner != peer || node->destroy_ts)
				continue;
			/* The owner is disconnected: only the others are told. */
			if (notices && notices + node->n_foreign > BUS1_DESTROY_BATCH)
				break;
			list_add_tail(&node->destroy_link, &set);
			notices += node->n_foreign;
		}
		next = handle ? handle->id : 0;
		if (!list_empty(&set))
			bus1_nodes_destroy_locked(peer, &set);
		mutex_unlock(&peer->nodes_lock);
		mutex_unlock(&peer->lock);
		cond_resched();
	} while (handle);
}

/**
 * bus1_handles_flush() - drop every handle a peer holds
 * @peer:	the disconnecting peer, whose nodes are destroyed already
 *
 * The owners of the nodes are told if nobody else holds them any more.
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
		bus1_handle_uncharge(peer, handle);
		bus1_node_unlink(handle->node, handle);
		bus1_handle_put(handle);
		cond_resched();
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
 * bus1_handles_reserve_id() - take an ID for a handle that comes later
 * @peer:	the holder
 *
 * An ID that is never used is simply never valid.
 *
 * Return: the ID.
 */
u64 bus1_handles_reserve_id(struct bus1_peer *peer)
{
	u64 id;

	mutex_lock(&peer->lock);
	id = ++peer->handles.next_id;
	mutex_unlock(&peer->lock);
	return id;
}

/**
 * bus1_node_create() - create a node owned by a peer
 * @peer:	the owner
 * @id:		the ID of the owner's handle to the new node, reserved with
 *		bus1_handles_reserve_id()
 *
 * The caller reserves the ID and tells user space before the node exists,
 * so that no other thread can use a node whose creation still fails. The
 * owner's handle is charged to the owner's own quota.
 *
 * Return: 0 on success, -EDQUOT if the owner is over its quota of
 * handles, -ENOMEM when out of memory.
 */
int bus1_node_create(struct bus1_peer *peer, u64 id)
{
	u64 amount[BUS1_RES_N] = { [BUS1_RES_HANDLES] = 1 };
	struct bus1_handle *handle;
	struct bus1_node *node;
	int r;

	handle = bus1_handle_new(peer);
	if (!handle)
		return -ENOMEM;
	node = bus1_node_new(peer);
	if (!node) {
		bus1_handle_put(handle);
		return -ENOMEM;
	}
	r = bus1_quota_charge(&peer->quota, bus1_quota_uid(&peer->quota),
			      amount, &handle->usage);
	if (r) {
		bus1_node_put(node);
		bus1_handle_put(handle);
		return r;
	}
	handle->node = node;
	handle->id = id;
	node->id = id;
	/* Nobody else knows the node yet: this cannot fail. */
	WARN_ON(bus1_node_link(node, handle));

	mutex_lock(&peer->lock);
	bus1_handle_link(peer, handle);
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
 * reference and keeps its ID; otherwise @dst gets a new handle, charged
 * to the quota of @dst and attributed to the user of @src.
 *
 * Security modules are asked first, with the credentials of @src, @dst
 * and the node's owner.
 *
 * Return: 0 on success, -ENXIO if @src holds no handle @src_id, a
 * security module's error if it refuses, -EHOSTUNREACH if the node was
 * destroyed, -EDQUOT if a new handle is over the quota of @dst, -ENOMEM
 * when out of memory.
 */
int bus1_handle_transfer(struct bus1_peer *src, u64 src_id,
			 struct bus1_peer *dst, u64 *dst_id)
{
	u64 amount[BUS1_RES_N] = { [BUS1_RES_HANDLES] = 1 };
	struct bus1_handle *handle, *new;
	struct bus1_node *node;
	struct rb_node *n;
	int r = 0;

	mutex_lock(&src->lock);
	handle = bus1_handle_find(src, src_id);
	if (handle) {
		node = handle->node;
		kref_get(&node->ref);
	}
	mutex_unlock(&src->lock);
	if (!handle)
		return -ENXIO;

	/* The node keeps its owner, and so the owner's credentials. */
	r = security_bus1_transfer_handle(src->cred, dst->cred,
					  node->owner->cred);
	if (r) {
		bus1_node_put(node);
		return r;
	}
	new = bus1_handle_new(dst);
	if (!new) {
		bus1_node_put(node);
		return -ENOMEM;
	}

	mutex_lock(&dst->lock);
	n = rb_find(node, &dst->handles.by_node, bus1_handle_cmp_node);
	if (bus1_node_is_destroyed(node)) {
		r = -EHOSTUNREACH;
	} else if (n) {
		handle = rb_entry(n, struct bus1_handle, by_node);
		handle->refs++;
		*dst_id = handle->id;
	} else {
		r = bus1_quota_charge(&dst->quota, bus1_quota_uid(&src->quota),
				      amount, &new->usage);
	}
	if (!r && !n) {
		/*
		 * The ID first: once linked to the node, the handle may get a
		 * destruction notice, which names it by its ID.
		 */
		new->node = node;
		bus1_handle_link(dst, new);
		r = bus1_node_link(node, new);
		if (r) {
			bus1_handle_unlink(dst, new);
			bus1_handle_uncharge(dst, new);
			new->node = NULL;
		} else {
			*dst_id = new->id;
			new = NULL;
			node = NULL;
		}
	}
	mutex_unlock(&dst->lock);

	/* On a merge, the existing handle already holds the node. */
	if (node)
		bus1_node_put(node);
	if (new)
		bus1_handle_put(new);
	return r;
}

/**
 * bus1_handles_release() - drop one reference to each of a set of handles
 * @peer:	holder of the handles
 * @ids:	IDs of the handles
 * @n:		number of IDs, at least one
 *
 * All or nothing. A handle goes away with its last reference, and its ID
 * with it; the owner of its node is told if nobody else holds the node
 * any more. The owner's own handle of a node cannot go away before the
 * node is destroyed, which is its only way to destroy it.
 *
 * Return: 0 on success, -ENXIO if @peer holds no handle of one of @ids,
 * -ENOTUNIQ if an ID appears twice, -EBUSY if the last reference of the
 * owner's handle of a node that is not destroyed would go, -ENOMEM when
 * out of memory.
 */
int bus1_handles_release(struct bus1_peer *peer, const u64 *ids, size_t n)
{
	struct bus1_handle **handles, *handle;
	size_t i, n_gone = 0;
	u64 mark;
	int r = 0;

	handles = kvcalloc(n, sizeof(*handles), GFP_KERNEL_ACCOUNT);
	if (!handles)
		return -ENOMEM;

	mutex_lock(&peer->lock);
	mark = ++peer->handles.resolve_seq;
	for (i = 0; i < n && !r; i++) {
		handle = bus1_handle_find(peer, ids[i]);
		if (!handle)
			r = -ENXIO;
		else if (handle->mark == mark)
			r = -ENOTUNIQ;
		else if (handle->node->owner == peer &&
			 handle->refs == 1 &&
			 !bus1_node_is_destroyed(handle->node))
			r = -EBUSY;
		else
			handle->mark = mark;
		handles[i] = handle;
	}
	for (i = 0; i < n && !r; i++) {
		handle = handles[i];
		if (--handle->refs)
			continue;
		bus1_handle_unlink(peer, handle);
		handles[n_gone++] = handle;
	}
	mutex_unlock(&peer->lock);

	for (i = 0; i < n_gone; i++) {
		bus1_handle_uncharge(peer, handles[i]);
		bus1_node_unlink(handles[i]->node, handles[i]);
		bus1_handle_put(handles[i]);
	}
	kvfree(handles);
	return r;
}

/**
 * bus1_handles_destroy() - destroy a set of nodes in one transaction
 * @peer:	owner of the nodes
 * @ids:	IDs of the owner's handles of the nodes
 * @n:		number of IDs, at least one
 *
 * All or nothing. Every holder of a handle to one of the nodes, the owner
 * included, is told in a BUS1_MSG_NODE_DESTROY notice, all at one logical
 * time. The handles stay until their holders release them.
 *
 * Return: 0 on success, -ENXIO if @peer holds no handle of one of @ids,
 * -EPERM if @peer does not own one of the nodes, -ENOTUNIQ if an ID
 * appears twice, -EALREADY if a node was destroyed already.
 */
int bus1_handles_destroy(struct bus1_peer *peer, const u64 *ids, size_t n)
{
	struct bus1_handle *handle;
	struct bus1_node *node, *tmp;
	size_t i;
	u64 mark;
	LIST_HEAD(set);
	int r = 0;

	mutex_lock(&peer->lock);
	mutex_lock(&peer->nodes_lock);
	mark = ++peer->handles.resolve_seq;
	for (i = 0; i < n && !r; i++) {
		handle = bus1_handle_find(peer, ids[i]);
		if (!handle)
			r = -ENXIO;
		else if (handle->node->owner != peer)
			r = -EPERM;
		else if (handle->mark == mark)
			r = -ENOTUNIQ;
		else if (handle->node->destroy_ts)
			r = -EALREADY;
		else
			list_add_tail(&handle->node->destroy_link, &set);
		if (handle)
			handle->mark = mark;
	}
	if (r)
		list_for_each_entry_safe(node, tmp, &set, destroy_link)
			list_del_init(&node->destroy_link);
	else
		bus1_nodes_destroy_locked(peer, &set);
	mutex_unlock(&peer->nodes_lock);
	mutex_unlock(&peer->lock);
	return r;
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
 * (only without @errors), -ENOTUNIQ if an ID appears twice, whether
 * @peer holds it or not.
 */
int bus1_handles_resolve(struct bus1_peer *peer, const u64 *ids, size_t n,
			 struct bus1_node **nodes, s32 *errors)
{
	struct bus1_handle *handle;
	size_t i, j, k;
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

	/*
	 * An ID that was not found is still an ID of the call: named twice,
	 * it fails the call like any other. Only IDs the sender does not
	 * hold are compared, on this error path alone.
	 */
	for (j = 0; !r && errors && j < n; j++)
		for (k = 0; !nodes[j] && k < j; k++)
			if (!nodes[k] && ids[k] == ids[j]) {
				r = -ENOTUNIQ;
				i = n;
				break;
			}

	if (r)
		while (i--)
			if (nodes[i])
				bus1_node_put(nodes[i]);
	return r;
}

/**
 * bus1_handles_lookup() - look up the nodes of handles to pass
 * @peer:	holder of the handles
 * @ids:	handle IDs of @peer; an ID may appear more than once
 * @n:		number of IDs
 * @nodes:	array of @n entries, set to a counted reference to each node
 *
 * All or nothing: on failure no reference is held and @nodes is unset.
 *
 * Return: 0 on success, -ENXIO if @peer holds no handle of one of @ids.
 */
int bus1_handles_lookup(struct bus1_peer *peer, const u64 *ids, size_t n,
			struct bus1_node **nodes)
{
	struct bus1_handle *handle;
	size_t i;

	/* Most messages pass no handle: no need to lock the table then. */
	if (!n)
		return 0;
	mutex_lock(&peer->lock);
	for (i = 0; i < n; i++) {
		handle = bus1_handle_find(peer, ids[i]);
		if (!handle)
			break;
		nodes[i] = handle->node;
		kref_get(&nodes[i]->ref);
	}
	mutex_unlock(&peer->lock);
	if (i == n)
		return 0;

	while (i--) {
		bus1_node_put(nodes[i]);
		nodes[i] = NULL;
	}
	return -ENXIO;
}

/**
 * bus1_handles_spare() - allocate the handles a message may need
 * @peer:	the receiver
 * @n:		number of handles the message carries
 *
 * Return: an array of @n new handles, to give to bus1_handles_install(),
 * or NULL when out of memory.
 */
struct bus1_handle **bus1_handles_spare(struct bus1_peer *peer, size_t n)
{
	struct bus1_handle **spare;
	size_t i;

	spare = kcalloc(n, sizeof(*spare), GFP_KERNEL_ACCOUNT);
	if (!spare)
		return NULL;
	for (i = 0; i < n; i++) {
		spare[i] = bus1_handle_new(peer);
		if (!spare[i]) {
			bus1_handles_spare_free(spare, i);
			return NULL;
		}
	}
	return spare;
}

/**
 * bus1_handles_spare_free() - free what bus1_handles_install() left over
 * @spare:	array of bus1_handles_spare(); used entries are NULL
 * @n:		number of entries
 */
void bus1_handles_spare_free(struct bus1_handle **spare, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (spare[i])
			bus1_handle_put(spare[i]);
	kfree(spare);
}

/**
 * bus1_handles_install() - give a receiver the handles a message carries
 * @peer:	the receiver, which took @msg out of its queue
 * @msg:	the message; its node references are taken over or dropped,
 *		and its handle array emptied
 * @spare:	the result of bus1_handles_spare() for @msg; the entries
 *		used are set to NULL
 * @ids:	array of @msg->n_handles entries, set to the receiver's ID of
 *		each handle, or BUS1_HANDLE_INVALID for a node destroyed
 *		before the message
 *
 * A node the receiver holds a handle to already adds a reference to that
 * handle, as a transfer does. A new handle takes over one handle charge
 * of @msg; the message returns the others when it is freed.
 */
void bus1_handles_install(struct bus1_peer *peer, struct bus1_message *msg,
			  struct bus1_handle **spare, u64 *ids)
{
	struct bus1_handle *existing, *handle;
	struct bus1_node *node;
	struct rb_node *n;
	bool notified;
	size_t i;

	mutex_lock(&peer->lock);
	for (i = 0; i < msg->n_handles; i++) {
		node = msg->handles[i];
		msg->handles[i] = NULL;
		n = rb_find(node, &peer->handles.by_node, bus1_handle_cmp_node);
		existing = n ? rb_entry(n, struct bus1_handle, by_node) : NULL;
		/*
		 * A new handle gets its ID only after it is linked to the
		 * node; no destruction notice of it can be received before,
		 * as this receiver holds the recv_lock.
		 */
		spare[i]->node = node;
		handle = bus1_node_receive(node, peer, existing, spare[i],
					   &msg->qnode, &notified);
		if (handle == spare[i]) {
			spare[i] = NULL;
			handle->usage = msg->usage;
			msg->n_charged_handles--;
			bus1_handle_link(peer, handle);
			/* Traced once the handle has the ID it names. */
			if (notified)
				trace_bus1_notice(bus1_peer_id(peer),
						  BUS1_MSG_NODE_DESTROY,
						  handle->id,
						  node->destroy_ts);
		} else {
			spare[i]->node = NULL;
			if (handle)
				handle->refs++;
			/* Not under our lock: the last put may free the owner. */
			msg->handles[i] = node;
		}
		ids[i] = handle ? handle->id : BUS1_HANDLE_INVALID;
	}
	mutex_unlock(&peer->lock);

	for (i = 0; i < msg->n_handles; i++) {
		if (msg->handles[i])
			bus1_node_put(msg->handles[i]);
		msg->handles[i] = NULL;
	}
}
