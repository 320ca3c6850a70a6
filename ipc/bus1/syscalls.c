// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 system call entry points
 *
 * Only argument checks live here; the work is done by the unit each call
 * belongs to.
 */

#include <linux/file.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <uapi/linux/bus1.h>
#include "handle.h"
#include "peer.h"

#define BUS1_PEER_CREATE_FLAGS	(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK)

/**
 * sys_bus1_peer_create() - create a new bus1 peer
 * @flags:	BUS1_PEER_CLOEXEC, BUS1_PEER_NONBLOCK
 *
 * Return: a file descriptor for the new peer; -EINVAL for an unknown flag,
 * -EMFILE or -ENFILE when out of file descriptors or files, -ENOMEM when
 * out of memory.
 */
SYSCALL_DEFINE1(bus1_peer_create, unsigned int, flags)
{
	if (flags & ~BUS1_PEER_CREATE_FLAGS)
		return -EINVAL;

	return bus1_peer_create_fd(flags);
}

/*
 * Look up the peer behind @f: -EBADF if @fd is not open, -EBADFD if it is
 * not a bus1 peer. The caller's file reference keeps the peer connected.
 */
static struct bus1_peer *bus1_peer_from_fd(struct fd f)
{
	struct bus1_peer *peer;

	if (fd_empty(f))
		return ERR_PTR(-EBADF);
	peer = bus1_peer_from_file(fd_file(f));
	return peer ?: ERR_PTR(-EBADFD);
}

/**
 * sys_bus1_node_create() - create a node
 * @fd:		peer that will own the node
 * @id:		where to store the ID of the owner's handle to the node
 * @flags:	must be 0
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags, -EBADF if @fd is
 * not open, -EBADFD if it is not a bus1 peer, -EFAULT if @id cannot be
 * written (no node is left behind), -ENOMEM when out of memory.
 */
SYSCALL_DEFINE3(bus1_node_create, int, fd, __u64 __user *, id,
		unsigned int, flags)
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer;
	u64 nid;
	int r;

	if (flags)
		return -EINVAL;
	peer = bus1_peer_from_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	r = bus1_node_create(peer, &nid);
	if (r)
		return r;
	if (put_user(nid, id)) {
		bus1_handle_release(peer, nid);
		return -EFAULT;
	}
	return 0;
}

/**
 * sys_bus1_handle_transfer() - give a handle to another peer
 * @src_fd:	peer holding the handle
 * @dst_fd:	peer to give it to; may be the same peer
 * @uargs:	struct bus1_transfer: the source ID in, the destination ID out
 * @size:	size of @uargs as user space knows it
 *
 * Return: 0 on success; -EINVAL for unknown flags or a @size below the
 * first version of the structure, -E2BIG if a field the kernel does not
 * know is set or @size exceeds a page, -EBADF if a descriptor is not
 * open, -EBADFD if it is not a bus1 peer, -ENXIO if @src_fd holds no
 * handle of that ID, -EFAULT for a bad @uargs (the transfer is undone),
 * -ENOMEM when out of memory.
 */
SYSCALL_DEFINE4(bus1_handle_transfer, int, src_fd, int, dst_fd,
		struct bus1_transfer __user *, uargs, size_t, size)
{
	CLASS(fd, fsrc)(src_fd);
	CLASS(fd, fdst)(dst_fd);
	struct bus1_peer *src, *dst;
	struct bus1_transfer args;
	u64 id;
	int r;

	if (size < BUS1_TRANSFER_SIZE_VER0)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	r = copy_struct_from_user(&args, sizeof(args), uargs, size);
	if (r)
		return r;
	if (args.flags)
		return -EINVAL;
	src = bus1_peer_from_fd(fsrc);
	if (IS_ERR(src))
		return PTR_ERR(src);
	dst = bus1_peer_from_fd(fdst);
	if (IS_ERR(dst))
		return PTR_ERR(dst);

	r = bus1_handle_transfer(src, args.src_id, dst, &id);
	if (r)
		return r;
	if (put_user(id, &uargs->dst_id)) {
		bus1_handle_release(dst, id);
		return -EFAULT;
	}
	return 0;
}
