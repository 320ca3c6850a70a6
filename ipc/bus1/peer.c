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
#include <uapi/linux/bus1.h>
#include "peer.h"

static struct bus1_peer *bus1_peer_new(void)
{
	struct bus1_peer *peer;
	int r;

	peer = kzalloc(sizeof(*peer), GFP_KERNEL_ACCOUNT);
	if (!peer)
		return ERR_PTR(-ENOMEM);

	kref_init(&peer->ref);
	mutex_init(&peer->lock);
	bus1_handles_init(&peer->handles);
	init_waitqueue_head(&peer->waitq);
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
 * The last file reference is gone: drop everything the peer holds. Its
 * handles go first; that may free nodes it owns, each dropping a
 * reference to the peer, which the file's reference keeps alive until
 * the end.
 */
static void bus1_peer_disconnect(struct bus1_peer *peer)
{
	bus1_handles_flush(peer);
	bus1_pool_deinit(&peer->pool);
}

static int bus1_peer_fop_release(struct inode *inode, struct file *file)
{
	struct bus1_peer *peer = file->private_data;

	bus1_peer_disconnect(peer);
	bus1_peer_put(peer);
	return 0;
}

/*
 * Nothing can be queued on a peer yet, so it is never readable; poll still
 * registers on @waitq, where state changes will be announced.
 */
static __poll_t bus1_peer_fop_poll(struct file *file, poll_table *wait)
{
	struct bus1_peer *peer = file->private_data;

	poll_wait(file, &peer->waitq, wait);
	return 0;
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
