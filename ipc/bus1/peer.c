// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 peer file
 *
 * A peer is reached through an anonymous-inode file. The file can be
 * dup'ed, inherited and passed like any other; the peer is connected until
 * the last reference to the file is gone, or until bus1_peer_disconnect()
 * is called on it. Every later call on a disconnected peer fails with
 * -ESHUTDOWN.
 */

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <trace/events/bus1.h>
#include <uapi/linux/bus1.h>
#include "creds.h"
#include "handle.h"
#include "message.h"
#include "node.h"
#include "peer.h"

static void bus1_peer_teardown_work(struct work_struct *work);
static void bus1_peer_unpin_work(struct work_struct *work);

static struct bus1_peer *bus1_peer_new(unsigned int flags)
{
	struct bus1_peer *peer;
	int r;

	peer = kzalloc(sizeof(*peer), GFP_KERNEL_ACCOUNT);
	if (!peer)
		return ERR_PTR(-ENOMEM);

	kref_init(&peer->ref);
	atomic_set(&peer->active, 0);
	refcount_set(&peer->pins, 1);
	if (flags & BUS1_PEER_CREDS)
		__set_bit(BUS1_PEER_BIT_CREDS, &peer->flags);
	bus1_creds_init(peer);
	mutex_init(&peer->lock);
	mutex_init(&peer->nodes_lock);
	mutex_init(&peer->recv_lock);
	spin_lock_init(&peer->spare_lock);
	INIT_LIST_HEAD(&peer->spare_messages);
	INIT_WORK(&peer->teardown_work, bus1_peer_teardown_work);
	INIT_WORK(&peer->unpin_work, bus1_peer_unpin_work);
	bus1_handles_init(&peer->handles);
	init_waitqueue_head(&peer->waitq);
	bus1_queue_init(&peer->queue);
	r = bus1_quota_init(&peer->quota, peer->cred->uid);
	if (!r) {
		r = bus1_pool_init(&peer->pool, BUS1_POOL_SIZE, &peer->quota);
		if (r)
			bus1_quota_deinit(&peer->quota);
	}
	if (r) {
		bus1_creds_deinit(peer);
		kfree(peer);
		return ERR_PTR(r);
	}
	return peer;
}

static void bus1_peer_free(struct kref *ref)
{
	struct bus1_peer *peer = container_of(ref, struct bus1_peer, ref);
	struct bus1_message *msg, *tmp;

	WARN_ON(peer->handles.n_handles || peer->handles.n_nodes);
	bus1_queue_deinit(&peer->queue);
	kfree(peer->spare_message);
	list_for_each_entry_safe(msg, tmp, &peer->spare_messages, spare_entry)
		kfree(msg);
	mutex_destroy(&peer->recv_lock);
	mutex_destroy(&peer->nodes_lock);
	mutex_destroy(&peer->lock);
	bus1_creds_deinit(peer);
	kfree(peer);
}

/**
 * bus1_peer_put() - drop a reference to a peer
 * @peer:	peer to release
 */
void bus1_peer_put(struct bus1_peer *peer)
{
	kref_put(&peer->ref, bus1_peer_free);
}

/* Drop a queued entry of a peer that is torn down. */
static void bus1_peer_drop_entry(struct bus1_peer *peer,
				 struct bus1_message *msg)
{
	switch (msg->type) {
	case BUS1_MSG_DATA:
		/* Its slice goes with the pool. */
		bus1_message_free(msg, peer);
		break;
	case BUS1_MSG_NODE_DESTROY:
		bus1_handle_put(msg->handle);
		break;
	case BUS1_MSG_NODE_RELEASE:
		bus1_node_release_done(msg->node);
		break;
	}
}

/*
 * Drop the pool, which returns every charge left, and the quota, once the
 * teardown is done and the last send that copied into the pool let go of
 * it; then the reference that disconnecting took: the peer may be freed
 * on return.
 */
static void bus1_peer_drop_pool(struct bus1_peer *peer)
{
	bus1_pool_deinit(&peer->pool);
	bus1_quota_deinit(&peer->quota);
	bus1_peer_put(peer);
}

static void bus1_peer_unpin_work(struct work_struct *work)
{
	bus1_peer_drop_pool(container_of(work, struct bus1_peer, unpin_work));
}

/*
 * Drop everything the peer holds: destroy its nodes, release its handles,
 * flush its queue. Runs once, when the peer is disconnected and nobody
 * uses it any more; the pool and quota go with the last pin, at once if
 * no send is copying into the pool. The peer may be freed on return.
 * Runs in process context, and gives up the CPU as it goes: a peer may
 * own, hold and have queued tens of thousands of objects.
 */
static void bus1_peer_teardown(struct bus1_peer *peer)
{
	struct bus1_queue_node *qnode, *tmp;
	struct rb_root all;

	bus1_handles_destroy_owned(peer);
	bus1_handles_flush(peer);
	all = bus1_queue_flush(&peer->queue);
	rbtree_postorder_for_each_entry_safe(qnode, tmp, &all, rb) {
		RB_CLEAR_NODE(&qnode->rb);
		bus1_peer_drop_entry(peer, bus1_message_from_qnode(qnode));
		cond_resched();
	}
	bus1_quota_leave(&peer->quota);
	if (refcount_dec_and_test(&peer->pins))
		bus1_peer_drop_pool(peer);
}

static void bus1_peer_teardown_work(struct work_struct *work)
{
	bus1_peer_teardown(container_of(work, struct bus1_peer,
					teardown_work));
}

/**
 * bus1_peer_leave() - end a system call on a peer
 * @peer:	the caller's peer
 *
 * The last call on a disconnected peer tears it down in place. The caller
 * holds no bus1 lock.
 */
void bus1_peer_leave(struct bus1_peer *peer)
{
	if (atomic_dec_return(&peer->active) == BUS1_PEER_DISCONNECTED)
		bus1_peer_teardown(peer);
}

/*
 * Refuse new users from now on; false if that happened before. The peer
 * stays in memory until its teardown ran and its last pin is gone:
 * whoever holds an active reference or a pin, a sender or a node
 * destruction telling a holder, may hold no other reference to it.
 */
static bool bus1_peer_mark_disconnected(struct bus1_peer *peer)
{
	if (test_and_set_bit(BUS1_PEER_BIT_DISCONNECTED, &peer->flags))
		return false;
	bus1_peer_get(peer);
	wake_up_interruptible_poll(&peer->waitq, EPOLLHUP);
	return true;
}

/**
 * bus1_peer_disconnect() - disconnect a peer on request
 * @peer:	the peer, entered by the caller
 *
 * New calls on @peer fail from now on, and receivers waiting on it wake
 * up. The last call still in progress, at the latest the caller's, tears
 * the peer down when it leaves.
 *
 * Return: 0 on success, -ESHUTDOWN if @peer was disconnected already.
 */
int bus1_peer_disconnect(struct bus1_peer *peer)
{
	if (!bus1_peer_mark_disconnected(peer))
		return -ESHUTDOWN;
	/* The caller's own active reference keeps this above the bias. */
	atomic_add(BUS1_PEER_DISCONNECTED, &peer->active);
	return 0;
}

static int bus1_peer_fop_release(struct inode *inode, struct file *file)
{
	struct bus1_peer *peer = file->private_data;

	if (bus1_peer_mark_disconnected(peer) &&
	    atomic_add_return(BUS1_PEER_DISCONNECTED, &peer->active) ==
	    BUS1_PEER_DISCONNECTED)
		bus1_peer_teardown(peer);
	bus1_peer_put(peer);
	return 0;
}

static __poll_t bus1_peer_fop_poll(struct file *file, poll_table *wait)
{
	struct bus1_peer *peer = file->private_data;

	if (!poll_does_not_wait(wait)) {
		poll_wait(file, &peer->waitq, wait);
		/* Pairs with wq_has_sleeper() in bus1_tx_commit_one(). */
		smp_mb();
	}
	if (test_bit(BUS1_PEER_BIT_DISCONNECTED, &peer->flags))
		return EPOLLHUP;
	return bus1_queue_is_ready(&peer->queue) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int bus1_peer_fop_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bus1_peer *peer = file->private_data;
	int r;

	r = bus1_peer_enter(peer);
	if (r)
		return r;
	r = bus1_pool_mmap(&peer->pool, vma);
	bus1_peer_release(peer);
	return r;
}

static void bus1_peer_fop_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct bus1_peer *peer = file->private_data;

	if (!bus1_peer_acquire(peer)) {
		seq_puts(m, "bus1-connected:\t0\n");
		return;
	}
	seq_puts(m, "bus1-connected:\t1\n");
	bus1_pool_show_fdinfo(&peer->pool, m);
	bus1_handles_show_fdinfo(peer, m);
	seq_printf(m, "bus1-queued:\t%zu\n", bus1_queue_length(&peer->queue));
	bus1_quota_show_fdinfo(&peer->quota, m);
	bus1_peer_release(peer);
}

static const struct file_operations bus1_peer_fops = {
	.release	= bus1_peer_fop_release,
	.poll		= bus1_peer_fop_poll,
	.mmap		= bus1_peer_fop_mmap,
	.show_fdinfo	= bus1_peer_fop_show_fdinfo,
	.llseek		= noop_llseek,
};

/**
 * bus1_peer_from_file() - the peer behind a file
 * @file:	any file
 *
 * Return: the peer, or NULL if @file is not a bus1 peer file. The caller's
 * reference to @file keeps the peer alive and connected.
 */
struct bus1_peer *bus1_peer_from_file(struct file *file)
{
	return file->f_op == &bus1_peer_fops ? file->private_data : NULL;
}

/* Free a peer that never had a file. */
static void bus1_peer_destroy_new(struct bus1_peer *peer)
{
	bus1_peer_drop_pool(peer);
}

/**
 * bus1_peer_create_fd() - create a peer and install a file descriptor for it
 * @flags:	BUS1_PEER_* flags, already validated by the caller
 *
 * The peer keeps the caller's credentials. Security modules are asked
 * first, and its file gets an inode of its own that they can label.
 *
 * Return: the new file descriptor, or a negative error code.
 */
int bus1_peer_create_fd(unsigned int flags)
{
	struct bus1_peer *peer;
	struct file *file;
	int fd, r;

	r = security_bus1_peer_create(current_cred());
	if (r)
		return r;
	peer = bus1_peer_new(flags);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	fd = get_unused_fd_flags((flags & BUS1_PEER_CLOEXEC) ? O_CLOEXEC : 0);
	if (fd < 0) {
		bus1_peer_destroy_new(peer);
		return fd;
	}

	file = anon_inode_create_getfile("[bus1]", &bus1_peer_fops, peer,
					 O_RDWR | ((flags & BUS1_PEER_NONBLOCK) ?
						   O_NONBLOCK : 0), NULL);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		bus1_peer_destroy_new(peer);
		return PTR_ERR(file);
	}

	peer->quota.peer_id = file_inode(file)->i_ino;
	fd_install(fd, file);
	return fd;
}

/*
 * A data message ordered after the destruction of its node, or a release
 * notice that was withdrawn, is dropped instead of delivered; recv_lock
 * held. Return: true if @msg was dropped.
 */
static bool bus1_peer_drop_stale(struct bus1_peer *peer,
				 struct bus1_message *msg)
{
	switch (msg->type) {
	case BUS1_MSG_DATA:
		if (!bus1_node_destroyed_before(msg->node, &msg->qnode))
			return false;
		bus1_queue_remove(&peer->queue, &msg->qnode);
		bus1_pool_free(&peer->pool, msg->slice);
		bus1_message_free(msg, peer);
		return true;
	case BUS1_MSG_NODE_RELEASE:
		return bus1_node_release_withdrawn(msg->node);
	}
	return false;
}

/*
 * Install what data message @msg carries, now out of the queue: its
 * handles, and with BUS1_RECV_FDS its files, and write their IDs and fd
 * numbers behind the payload. Files not installed read as -1 and are
 * dropped with the message.
 */
static void bus1_peer_install(struct bus1_peer *peer, struct bus1_message *msg,
			      u64 flags, struct bus1_handle **spare,
			      void *trailer, size_t trailer_size)
{
	u64 *ids = trailer;
	s32 *fds = trailer + msg->n_handles * sizeof(u64);
	struct kvec kvec = { trailer, trailer_size };
	struct iov_iter iter;
	size_t i;

	bus1_handles_install(peer, msg, spare, ids);
	for (i = 0; i < msg->n_files; i++) {
		fds[i] = -1;
		if (flags & BUS1_RECV_FDS)
			fds[i] = max(receive_fd(msg->files[i], NULL, O_CLOEXEC),
				     -1);
	}

	iov_iter_kvec(&iter, ITER_SOURCE, &kvec, 1, trailer_size);
	if (!bus1_pool_write(&peer->pool, msg->slice,
			     bus1_message_trailer_offset(msg->size), &iter))
		return;

	/*
	 * The sender wrote placeholders to these pool pages, so this cannot
	 * fail unless they were swapped out and cannot come back. Then the
	 * placeholders stay, and the handles they cannot name are given back.
	 * The fds stay installed: closing them by number could close what
	 * another thread opened meanwhile.
	 */
	for (i = 0; i < msg->n_handles; i++)
		if (ids[i] != BUS1_HANDLE_INVALID)
			bus1_handles_release(peer, &ids[i], 1);
}

/*
 * Write @out to @uargs field by field. A structure copy of 64 bytes and
 * more is a "rep movsb" on CPUs without fast short string moves, which
 * costs more than the eight stores. A fault may leave part of it written.
 */
static int bus1_recv_write(struct bus1_recv __user *uargs,
			   const struct bus1_recv *out)
{
	if (!user_write_access_begin(uargs, sizeof(*uargs)))
		return -EFAULT;
	unsafe_put_user(out->flags, &uargs->flags, efault);
	unsafe_put_user(out->msg_flags, &uargs->msg_flags, efault);
	unsafe_put_user(out->type, &uargs->type, efault);
	unsafe_put_user(out->destination, &uargs->destination, efault);
	unsafe_put_user(out->offset, &uargs->offset, efault);
	unsafe_put_user(out->size, &uargs->size, efault);
	unsafe_put_user(out->n_handles, &uargs->n_handles, efault);
	unsafe_put_user(out->n_fds, &uargs->n_fds, efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

/*
 * Describe @msg for user space and take it out of the queue; recv_lock
 * held. A data message's slice is published, and *@release, a claimed
 * slice or NULL, freed with it and cleared.
 */
static int bus1_peer_deliver(struct bus1_peer *peer, struct bus1_message *msg,
			     bool more, u64 flags, struct bus1_slice **release,
			     struct bus1_recv __user *uargs)
{
	struct bus1_recv out = {
		.msg_flags = more ? BUS1_MSG_CONTINUE : 0,
		.type = msg->type,
	};
	struct bus1_handle **spare = NULL;
	size_t n_handles = 0, trailer_size = 0;
	void *trailer = NULL;
	int r = 0;

	lockdep_assert_held(&peer->recv_lock);
	switch (msg->type) {
	case BUS1_MSG_DATA:
		/* The receiver owns @node: its ID is the owner's handle's. */
		out.destination = msg->node->id;
		if (test_bit(BUS1_PEER_BIT_CREDS, &peer->flags))
			out.msg_flags |= BUS1_MSG_CREDS;
		out.offset = msg->slice->offset;
		out.size = msg->size;
		n_handles = msg->n_handles;
		out.n_handles = n_handles;
		out.n_fds = msg->n_files;
		trailer_size = n_handles * sizeof(u64) +
			       msg->n_files * sizeof(s32);
		break;
	case BUS1_MSG_NODE_DESTROY:
		out.destination = msg->handle->id;
		break;
	case BUS1_MSG_NODE_RELEASE:
		out.destination = msg->node->id;
		break;
	}

	/* Whatever can fail comes before the entry leaves the queue. */
	if (trailer_size) {
		trailer = kmalloc(trailer_size, GFP_KERNEL_ACCOUNT);
		if (n_handles)
			spare = bus1_handles_spare(peer, n_handles);
		if (!trailer || (n_handles && !spare)) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* A larger struct of newer user space keeps its checked zeroes. */
	r = bus1_recv_write(uargs, &out);
	if (r)
		goto out;
	trace_bus1_recv(bus1_peer_id(peer), msg->qnode.ts, &out);

	switch (msg->type) {
	case BUS1_MSG_DATA:
		bus1_queue_remove(&peer->queue, &msg->qnode);
		if (trailer_size)
			bus1_peer_install(peer, msg, flags, spare, trailer,
					  trailer_size);
		/* What the message still holds, and the released slice. */
		bus1_message_uncharge(msg, *release);
		bus1_pool_publish(&peer->pool, msg->slice, *release);
		*release = NULL;
		bus1_message_free(msg, peer);
		break;
	case BUS1_MSG_NODE_DESTROY:
		bus1_queue_remove(&peer->queue, &msg->qnode);
		bus1_handle_put(msg->handle);
		break;
	case BUS1_MSG_NODE_RELEASE:
		bus1_node_release_done(msg->node);
		break;
	}
out:
	/* Only a message that carries handles or fds needed either. */
	if (trailer_size) {
		if (spare)
			bus1_handles_spare_free(spare, n_handles);
		kfree(trailer);
	}
	return r;
}

static bool bus1_peer_can_recv(struct bus1_peer *peer)
{
	return test_bit(BUS1_PEER_BIT_DISCONNECTED, &peer->flags) ||
	       bus1_queue_is_ready(&peer->queue);
}

/*
 * Wait for the first entry of the queue and deliver it; see
 * bus1_peer_recv().
 */
static int bus1_peer_recv_one(struct bus1_peer *peer, bool nonblock,
			      u64 flags, struct bus1_slice **release,
			      struct bus1_recv __user *uargs)
{
	struct bus1_queue_node *qnode;
	struct bus1_message *msg;
	bool more;
	int r;

	for (;;) {
		if (test_bit(BUS1_PEER_BIT_DISCONNECTED, &peer->flags))
			return -ESHUTDOWN;
		/* Wait without any lock until there seems to be an entry. */
		if (!bus1_queue_is_ready(&peer->queue)) {
			if (nonblock)
				return -EAGAIN;
			r = wait_event_interruptible(peer->waitq,
						     bus1_peer_can_recv(peer));
			if (r)
				return r;
			continue;
		}
		/*
		 * A non-blocking receiver waits for the lock like a blocking
		 * one: -EAGAIN must mean that nothing can be received. Else a
		 * user of edge-triggered epoll whose wake-up found the lock
		 * taken would go back to waiting with the entry still queued,
		 * whenever the holder does not receive again. The holder
		 * never waits for an entry under the lock, it only delivers
		 * the one it found, so this wait is as short as a receive
		 * (which may fault in the receiver's memory, or give back
		 * pages of a slice it releases).
		 */
		if (mutex_lock_interruptible(&peer->recv_lock))
			return -ERESTARTSYS;
		/* Another receiver may have taken it; then wait again. */
		qnode = bus1_queue_peek(&peer->queue, &more);
		if (qnode) {
			msg = bus1_message_from_qnode(qnode);
			if (!bus1_peer_drop_stale(peer, msg))
				break;
		}
		mutex_unlock(&peer->recv_lock);
	}

	r = bus1_peer_deliver(peer, msg, more, flags, release, uargs);
	mutex_unlock(&peer->recv_lock);
	return r;
}

/**
 * bus1_peer_recv() - receive the next entry of a peer's queue
 * @peer:	receiving peer, entered by the caller
 * @nonblock:	fail with -EAGAIN instead of waiting for an entry
 * @flags:	BUS1_RECV_* flags, checked by the caller
 * @release:	with BUS1_RECV_RELEASE, the offset of a slice to release
 *		when an entry is received
 * @uargs:	where to describe the entry, a struct bus1_recv
 *
 * Waits, interruptibly, until the first entry of the queue is committed,
 * then describes it in @uargs and hands its slice over to the peer,
 * installing the handles and files it carries. If @uargs cannot be
 * written, or memory for the handles is short, the entry stays first in
 * the queue. The slice at @release is claimed first, so that nobody else
 * releases it meanwhile, and released exactly if an entry is received:
 * a call that fails leaves it to user space, and a restarted call finds
 * it again.
 *
 * Return: 0 on success; -EAGAIN if @nonblock and nothing can be received,
 * -ERESTARTSYS if a signal arrived while waiting, -ESHUTDOWN if the peer
 * was disconnected meanwhile, -EFAULT if @uargs cannot be written,
 * -ENXIO if @release names no slice to release, -ENOMEM when out of
 * memory.
 */
int bus1_peer_recv(struct bus1_peer *peer, bool nonblock, u64 flags,
		   u64 release, struct bus1_recv __user *uargs)
{
	struct bus1_slice *claimed = NULL;
	int r;

	if (flags & BUS1_RECV_RELEASE) {
		claimed = bus1_pool_claim(&peer->pool, release);
		if (IS_ERR(claimed))
			return PTR_ERR(claimed);
	}
	/* A data message takes the claimed slice along when it is published. */
	r = bus1_peer_recv_one(peer, nonblock, flags, &claimed, uargs);
	if (claimed)
		bus1_pool_unclaim(&peer->pool, claimed, !r);
	return r;
}
