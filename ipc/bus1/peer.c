// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 peer file
 *
 * A peer is reached through an anonymous-inode file. The file can be
 * dup'ed, inherited and passed like any other; the peer is connected until
 * the last reference to the file is gone.
 */

#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/bus1.h>
#include "message.h"
#include "peer.h"

/* Added to bus1_peer.active when the peer file is released. */
#define BUS1_PEER_DISCONNECTED	INT_MIN

static struct bus1_peer *bus1_peer_new(void)
{
	struct bus1_peer *peer;
	int r;

	peer = kzalloc(sizeof(*peer), GFP_KERNEL_ACCOUNT);
	if (!peer)
		return ERR_PTR(-ENOMEM);

	kref_init(&peer->ref);
	atomic_set(&peer->active, 0);
	mutex_init(&peer->lock);
	mutex_init(&peer->recv_lock);
	bus1_handles_init(&peer->handles);
	init_waitqueue_head(&peer->waitq);
	bus1_queue_init(&peer->queue);
	r = bus1_pool_init(&peer->pool, BUS1_POOL_SIZE);
	if (r) {
		kfree(peer);
		return ERR_PTR(r);
	}
	return peer;
}

static void bus1_peer_free(struct kref *ref)
{
	struct bus1_peer *peer = container_of(ref, struct bus1_peer, ref);

	WARN_ON(peer->handles.n_handles || peer->handles.n_nodes);
	bus1_queue_deinit(&peer->queue);
	mutex_destroy(&peer->recv_lock);
	mutex_destroy(&peer->lock);
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

/*
 * Drop everything the peer holds: queued messages, the pool, the handles.
 * Runs once, when the peer is disconnected and no sender uses it any
 * more. Dropping handles may free nodes the peer owns, each dropping a
 * reference to the peer; the caller holds one of its own.
 */
static void bus1_peer_teardown(struct bus1_peer *peer)
{
	struct bus1_message *msg, *tmp;
	struct rb_root all;

	all = bus1_queue_flush(&peer->queue);
	rbtree_postorder_for_each_entry_safe(msg, tmp, &all, qnode.rb)
		kfree(msg);
	/* This frees the slices of the flushed messages as well. */
	bus1_pool_deinit(&peer->pool);
	bus1_handles_flush(peer);
}

/**
 * bus1_peer_acquire() - take an active reference to a peer
 * @peer:	peer to use, kept in memory by the caller
 *
 * An active reference keeps the queue and pool of @peer usable, even if
 * the peer disconnects meanwhile.
 *
 * Return: true on success, false if @peer is disconnected.
 */
bool bus1_peer_acquire(struct bus1_peer *peer)
{
	return atomic_inc_unless_negative(&peer->active);
}

/**
 * bus1_peer_release() - drop an active reference to a peer
 * @peer:	peer to release
 *
 * The last active reference to a disconnected peer tears it down, in the
 * caller's context. The caller holds no bus1 lock.
 */
void bus1_peer_release(struct bus1_peer *peer)
{
	if (atomic_dec_return(&peer->active) == BUS1_PEER_DISCONNECTED)
		bus1_peer_teardown(peer);
}

/*
 * The last file reference is gone: refuse new senders, and tear the peer
 * down now or when the last sender in flight is done with it.
 */
static void bus1_peer_disconnect(struct bus1_peer *peer)
{
	if (atomic_add_return(BUS1_PEER_DISCONNECTED, &peer->active) ==
	    BUS1_PEER_DISCONNECTED)
		bus1_peer_teardown(peer);
}

static int bus1_peer_fop_release(struct inode *inode, struct file *file)
{
	struct bus1_peer *peer = file->private_data;

	bus1_peer_disconnect(peer);
	bus1_peer_put(peer);
	return 0;
}

static __poll_t bus1_peer_fop_poll(struct file *file, poll_table *wait)
{
	struct bus1_peer *peer = file->private_data;
	bool more;

	poll_wait(file, &peer->waitq, wait);
	return bus1_queue_peek(&peer->queue, &more) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int bus1_peer_fop_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bus1_peer *peer = file->private_data;

	return bus1_pool_mmap(&peer->pool, vma);
}

static void bus1_peer_fop_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct bus1_peer *peer = file->private_data;

	bus1_pool_show_fdinfo(&peer->pool, m);
	bus1_handles_show_fdinfo(peer, m);
	seq_printf(m, "bus1-queued:\t%zu\n", bus1_queue_length(&peer->queue));
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

/**
 * bus1_peer_create_fd() - create a peer and install a file descriptor for it
 * @flags:	BUS1_PEER_* flags, already validated by the caller
 *
 * Return: the new file descriptor, or a negative error code.
 */
int bus1_peer_create_fd(unsigned int flags)
{
	struct bus1_peer *peer;
	struct file *file;
	int fd;

	peer = bus1_peer_new();
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	fd = get_unused_fd_flags((flags & BUS1_PEER_CLOEXEC) ? O_CLOEXEC : 0);
	if (fd < 0) {
		bus1_peer_disconnect(peer);
		bus1_peer_put(peer);
		return fd;
	}

	file = anon_inode_getfile("[bus1]", &bus1_peer_fops, peer,
				  O_RDWR | ((flags & BUS1_PEER_NONBLOCK) ? O_NONBLOCK : 0));
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		bus1_peer_disconnect(peer);
		bus1_peer_put(peer);
		return PTR_ERR(file);
	}

	fd_install(fd, file);
	return fd;
}

/* Describe @msg for user space and hand its slice over; recv_lock held. */
static int bus1_peer_deliver(struct bus1_peer *peer, struct bus1_message *msg,
			     bool more, struct bus1_recv __user *uargs,
			     size_t size)
{
	struct bus1_recv out = {
		.msg_flags = more ? BUS1_MSG_CONTINUE : 0,
		.type = msg->type,
		.destination = msg->destination,
		.offset = msg->slice->offset,
		.size = msg->size,
	};

	lockdep_assert_held(&peer->recv_lock);
	/* A larger struct of newer user space keeps its checked zeroes. */
	if (copy_to_user(uargs, &out, min(size, sizeof(out))))
		return -EFAULT;

	bus1_queue_remove(&peer->queue, &msg->qnode);
	bus1_pool_publish(&peer->pool, msg->slice);
	kfree(msg);
	return 0;
}

/**
 * bus1_peer_recv() - receive the next entry of a peer's queue
 * @peer:	receiving peer, kept connected by the caller's file reference
 * @nonblock:	fail with -EAGAIN instead of waiting for an entry
 * @uargs:	where to describe the entry, a struct bus1_recv
 * @size:	size of @uargs as user space knows it
 *
 * Waits, interruptibly, until the first entry of the queue is committed,
 * then describes it in @uargs and hands its slice over to the peer. If
 * @uargs cannot be written, the entry stays first in the queue.
 *
 * Return: 0 on success; -EAGAIN if @nonblock and nothing can be received,
 * -ERESTARTSYS if a signal arrived while waiting, -EFAULT if @uargs cannot
 * be written.
 */
int bus1_peer_recv(struct bus1_peer *peer, bool nonblock,
		   struct bus1_recv __user *uargs, size_t size)
{
	struct bus1_queue_node *qnode;
	bool more;
	int r;

	for (;;) {
		/* Another receiver holds the lock only to copy out a result. */
		if (nonblock) {
			if (!mutex_trylock(&peer->recv_lock))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&peer->recv_lock)) {
			return -ERESTARTSYS;
		}
		qnode = bus1_queue_peek(&peer->queue, &more);
		if (qnode)
			break;
		mutex_unlock(&peer->recv_lock);

		if (nonblock)
			return -EAGAIN;
		r = wait_event_interruptible(peer->waitq,
					     bus1_queue_peek(&peer->queue, &more));
		if (r)
			return r;
	}

	r = bus1_peer_deliver(peer, bus1_message_from_qnode(qnode), more,
			      uargs, size);
	mutex_unlock(&peer->recv_lock);
	return r;
}
