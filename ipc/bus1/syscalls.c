// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 system call entry points
 *
 * Only argument checks live here; the work is done by the unit each call
 * belongs to.
 */

#include <linux/file.h>
#include <linux/io_uring.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <uapi/linux/bus1.h>
#include "handle.h"
#include "peer.h"
#include "pool.h"
#include "tx.h"

#define BUS1_PEER_CREATE_FLAGS	(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK | \
				 BUS1_PEER_CREDS)

/**
 * sys_bus1_peer_create() - create a new bus1 peer
 * @flags:	BUS1_PEER_CLOEXEC, BUS1_PEER_NONBLOCK, BUS1_PEER_CREDS
 *
 * The peer keeps the caller's credentials for its whole life.
 *
 * Return: a file descriptor for the new peer; -EINVAL for an unknown flag,
 * -EPERM or -EACCES (the security module's error) if a security module
 * refuses, -EMFILE or -ENFILE when out of file descriptors or files,
 * -ENOMEM when out of memory.
 */
SYSCALL_DEFINE1(bus1_peer_create, unsigned int, flags)
{
	if (flags & ~BUS1_PEER_CREATE_FLAGS)
		return -EINVAL;

	return bus1_peer_create_fd(flags);
}

/*
 * Look up the peer behind @f: -EBADF if @fd is not open, -EBADFD if it is
 * not a bus1 peer. The caller's file reference keeps the peer in memory.
 */
static struct bus1_peer *bus1_peer_from_fd(struct fd f)
{
	struct bus1_peer *peer;

	if (fd_empty(f))
		return ERR_PTR(-EBADF);
	peer = bus1_peer_from_file(fd_file(f));
	return peer ?: ERR_PTR(-EBADFD);
}

/*
 * Look up the peer behind @f and enter it for the duration of a call:
 * -ESHUTDOWN if it is disconnected. A peer variable declared
 * __free(bus1_leave) leaves it when it goes out of scope, before the file
 * reference goes.
 */
static struct bus1_peer *bus1_peer_enter_fd(struct fd f)
{
	struct bus1_peer *peer = bus1_peer_from_fd(f);
	int r;

	if (IS_ERR(peer))
		return peer;
	r = bus1_peer_enter(peer);
	return r ? ERR_PTR(r) : peer;
}

/* Leave @peer if bus1_peer_enter_fd() entered it. */
static void bus1_peer_leave_entered(struct bus1_peer *peer)
{
	if (!IS_ERR_OR_NULL(peer))
		bus1_peer_leave(peer);
}

DEFINE_FREE(bus1_leave, struct bus1_peer *, bus1_peer_leave_entered(_T))

/**
 * sys_bus1_node_create() - create a node
 * @fd:		peer that will own the node
 * @id:		where to store the ID of the owner's handle to the node
 * @flags:	must be 0
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags, -EBADF if @fd is
 * not open, -EBADFD if it is not a bus1 peer, -ESHUTDOWN if it is
 * disconnected, -EFAULT if @id cannot be written (no node is left
 * behind), -EDQUOT if the peer's user is over its quota of handles,
 * -ENOMEM when out of memory.
 */
SYSCALL_DEFINE3(bus1_node_create, int, fd, __u64 __user *, id,
		unsigned int, flags)
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer __free(bus1_leave) = NULL;
	u64 nid;

	if (flags)
		return -EINVAL;
	peer = bus1_peer_enter_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	/* Tell user space first: then nothing needs to be undone. */
	nid = bus1_handles_reserve_id(peer);
	if (put_user(nid, id))
		return -EFAULT;
	return bus1_node_create(peer, nid);
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
 * open, -EBADFD if it is not a bus1 peer, -ESHUTDOWN if one is
 * disconnected, -ENXIO if @src_fd holds no handle of that ID,
 * -EHOSTUNREACH if its node was destroyed, -EPERM or -EACCES (the
 * security module's error) if a security module refuses the transfer,
 * -EDQUOT if a new handle in @dst_fd is over its quota, -EFAULT for a bad
 * @uargs (checked before the transfer), -ENOMEM when out of memory.
 */
SYSCALL_DEFINE4(bus1_handle_transfer, int, src_fd, int, dst_fd,
		struct bus1_transfer __user *, uargs, size_t, size)
{
	CLASS(fd, fsrc)(src_fd);
	CLASS(fd, fdst)(dst_fd);
	struct bus1_peer *src __free(bus1_leave) = NULL;
	struct bus1_peer *dst __free(bus1_leave) = NULL;
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
	/* A result that cannot be written is known before the transfer. */
	if (put_user(0, &uargs->dst_id))
		return -EFAULT;
	src = bus1_peer_enter_fd(fsrc);
	if (IS_ERR(src))
		return PTR_ERR(src);
	dst = bus1_peer_enter_fd(fdst);
	if (IS_ERR(dst))
		return PTR_ERR(dst);

	r = bus1_handle_transfer(src, args.src_id, dst, &id);
	if (r)
		return r;
	if (put_user(id, &uargs->dst_id)) {
		/* Unmapped meanwhile: undo, unless that is the owner's last. */
		bus1_handles_release(dst, &id, 1);
		return -EFAULT;
	}
	return 0;
}

/*
 * A __u64 of an argument structure as a user pointer; NULL if it does not
 * fit in one (a 32-bit kernel), which then fails like any bad address.
 */
static void __user *bus1_user_ptr(u64 uptr)
{
	return (unsigned long)uptr == uptr ? u64_to_user_ptr(uptr) : NULL;
}

/*
 * Entries of a user array that are copied to the stack, not allocated.
 * Such stack room is marked __uninitialized: it is always written before
 * it is read, and zeroing it at every call (CONFIG_INIT_STACK_ALL_ZERO)
 * would cost as much as the rest of a small send.
 */
#define BUS1_SMALL_ARRAY	8

/*
 * Copy an array of @n elements of @size bytes from user space. @n is
 * bounded by the caller. The copy goes to @small, @small_size bytes on
 * the caller's stack, if it fits there, so that the common small call
 * allocates nothing; @small may be NULL. Return: the copy, to free with
 * bus1_array_free(), or an ERR_PTR.
 */
static void *bus1_import_array(const void __user *uptr, size_t n, size_t size,
			       void *small, size_t small_size)
{
	void *array = small;

	if (n && !uptr)
		return ERR_PTR(-EFAULT);
	if (!n && small)
		return small;
	/* One __u64, the common single destination: no copy loop for it. */
	if (n == 1 && size == sizeof(u64) && small)
		return get_user(*(u64 *)small, (const u64 __user *)uptr) ?
		       ERR_PTR(-EFAULT) : small;
	if (!small || n * size > small_size) {
		array = kvmalloc_array(n, size, GFP_KERNEL_ACCOUNT);
		if (!array)
			return ERR_PTR(-ENOMEM);
	}
	if (copy_from_user(array, uptr, n * size)) {
		if (array != small)
			kvfree(array);
		return ERR_PTR(-EFAULT);
	}
	return array;
}

/* Free a copy of bus1_import_array() that used @small, or NULL. */
static void bus1_array_free(void *array, void *small)
{
	if (array != small)
		kvfree(array);
}

/*
 * Whether @file may be passed in a message. A file that can hold
 * references to other files, as queued messages hold them, could close a
 * cycle that nothing ever collects: bus1 peers, AF_UNIX sockets (their
 * SCM_RIGHTS queues) and io_uring instances are refused.
 */
static bool bus1_file_passable(struct file *file)
{
	if (bus1_peer_from_file(file) || io_is_uring_fops(file))
		return false;
#if IS_ENABLED(CONFIG_NET)
	{
		struct socket *sock = sock_from_file(file);

		if (sock && sock->sk && sock->sk->sk_family == AF_UNIX)
			return false;
	}
#endif
	return true;
}

/* Drop the references of bus1_import_files(); NULL if there are none. */
static void bus1_files_put(struct file **files, size_t n)
{
	size_t i;

	if (!files)
		return;
	for (i = 0; i < n; i++)
		if (files[i])
			fput(files[i]);
	kfree(files);
}

/*
 * Take a reference to the file behind each of the @n fd numbers (__s32)
 * at @uptr. Return: the array, or an ERR_PTR: -EFAULT for a bad address,
 * -EBADF for an fd that is not open, -EOPNOTSUPP for a file that cannot
 * be passed, -ENOMEM.
 */
static struct file **bus1_import_files(u64 uptr, size_t n)
{
	s32 small[BUS1_SMALL_ARRAY] __uninitialized;
	struct file **files;
	s32 *fds;
	size_t i;
	int r = 0;

	if (!n)
		return NULL;
	fds = bus1_import_array(bus1_user_ptr(uptr), n, sizeof(*fds),
				small, sizeof(small));
	if (IS_ERR(fds))
		return ERR_CAST(fds);
	files = kcalloc(n, sizeof(*files), GFP_KERNEL_ACCOUNT);
	if (!files)
		r = -ENOMEM;
	for (i = 0; !r && i < n; i++) {
		files[i] = fds[i] < 0 ? NULL : fget(fds[i]);
		if (!files[i])
			r = -EBADF;
		else if (!bus1_file_passable(files[i]))
			r = -EOPNOTSUPP;
	}
	bus1_array_free(fds, small);
	if (r) {
		bus1_files_put(files, n);
		return ERR_PTR(r);
	}
	return files;
}

/* Read one struct bus1_vec: two loads, where a copy walks a loop. */
static int bus1_get_vec(struct bus1_vec *vec,
			const struct bus1_vec __user *uvec)
{
	if (!user_read_access_begin(uvec, sizeof(*uvec)))
		return -EFAULT;
	unsafe_get_user(vec->ptr, &uvec->ptr, efault);
	unsafe_get_user(vec->len, &uvec->len, efault);
	user_read_access_end();
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

/*
 * Turn the struct bus1_vec array of a send into an iov_iter over the
 * sender's memory, in @small (UIO_FASTIOV entries) if it fits there.
 * A single vector, the common case, is read without the array import.
 * Return: the iovec array @iter uses, to free with bus1_array_free(), or
 * an ERR_PTR: -EFAULT for a bad address, -EMSGSIZE if the payload is too
 * large, -ENOMEM.
 */
static struct iovec *bus1_import_vecs(u64 uptr, size_t n,
				      struct iov_iter *iter,
				      struct iovec *small)
{
	struct bus1_vec small_vecs[UIO_FASTIOV] __uninitialized;
	struct bus1_vec *vecs;
	struct iovec *iov = small;
	size_t i, total = 0;
	int r = 0;

	if (n == 1) {
		vecs = small_vecs;
		r = bus1_get_vec(vecs, bus1_user_ptr(uptr));
		if (r)
			return ERR_PTR(r);
	} else {
		vecs = bus1_import_array(bus1_user_ptr(uptr), n, sizeof(*vecs),
					 small_vecs, sizeof(small_vecs));
		if (IS_ERR(vecs))
			return ERR_CAST(vecs);
	}
	if (n > UIO_FASTIOV) {
		iov = kvmalloc_array(n, sizeof(*iov), GFP_KERNEL_ACCOUNT);
		if (!iov) {
			bus1_array_free(vecs, small_vecs);
			return ERR_PTR(-ENOMEM);
		}
	}

	for (i = 0; i < n; i++) {
		void __user *ptr = bus1_user_ptr(vecs[i].ptr);

		if (vecs[i].len > BUS1_MESSAGE_MAX - total) {
			r = -EMSGSIZE;
			break;
		}
		if ((!ptr && vecs[i].len) || !access_ok(ptr, vecs[i].len)) {
			r = -EFAULT;
			break;
		}
		iov[i].iov_base = ptr;
		iov[i].iov_len = vecs[i].len;
		total += vecs[i].len;
	}
	bus1_array_free(vecs, small_vecs);
	if (r) {
		bus1_array_free(iov, small);
		return ERR_PTR(r);
	}
	/* One piece, the common case, walks faster as a plain buffer. */
	if (n == 1)
		iov_iter_ubuf(iter, ITER_SOURCE, iov[0].iov_base, total);
	else
		iov_iter_init(iter, ITER_SOURCE, iov, n, total);
	return iov;
}

/* Room on the stack for the arrays of a small send. */
struct bus1_send_small {
	u64 ids[BUS1_SMALL_ARRAY];
	u64 handle_ids[BUS1_SMALL_ARRAY];
	struct iovec iov[UIO_FASTIOV];
};

/*
 * The arrays bus1_send() copies in; small ones stay in @small, so the
 * common send allocates none.
 */
struct bus1_send_in {
	u64 *ids;
	u64 *handle_ids;
	struct iovec *iov;
	struct bus1_send_small *small;
};

static void bus1_send_in_free(struct bus1_send_in *in)
{
	bus1_array_free(in->ids, in->small->ids);
	bus1_array_free(in->handle_ids, in->small->handle_ids);
	bus1_array_free(in->iov, in->small->iov);
}

/*
 * copy_struct_from_user()'s rule for the @size - @known bytes that follow
 * the @known bytes of a structure the kernel knows: a newer, larger one
 * must hold zeroes there. Return: 0, -E2BIG, or -EFAULT.
 */
static int bus1_check_zeroed_tail(const void __user *uargs, size_t known,
				  size_t size)
{
	int r;

	if (size <= known)
		return 0;
	r = check_zeroed_user(uargs + known, size - known);
	return r < 0 ? r : r ? 0 : -E2BIG;
}

/*
 * copy_struct_from_user() for the arguments of every send, read field by
 * field: a structure copy of 64 bytes and more is a "rep movsb" on CPUs
 * without fast short string moves, which costs more than the ten loads.
 * @size is at least BUS1_SEND_SIZE_VER0, all of the structure so far.
 */
static int bus1_send_read_args(struct bus1_send *args,
			       const struct bus1_send __user *uargs,
			       size_t size)
{
	int r;

	BUILD_BUG_ON(sizeof(*args) != BUS1_SEND_SIZE_VER0);
	r = bus1_check_zeroed_tail(uargs, sizeof(*uargs), size);
	if (r)
		return r;
	if (!user_read_access_begin(uargs, sizeof(*uargs)))
		return -EFAULT;
	unsafe_get_user(args->flags, &uargs->flags, efault);
	unsafe_get_user(args->ptr_destinations, &uargs->ptr_destinations,
			efault);
	unsafe_get_user(args->n_destinations, &uargs->n_destinations, efault);
	unsafe_get_user(args->ptr_vecs, &uargs->ptr_vecs, efault);
	unsafe_get_user(args->n_vecs, &uargs->n_vecs, efault);
	unsafe_get_user(args->ptr_errors, &uargs->ptr_errors, efault);
	unsafe_get_user(args->ptr_handles, &uargs->ptr_handles, efault);
	unsafe_get_user(args->n_handles, &uargs->n_handles, efault);
	unsafe_get_user(args->ptr_fds, &uargs->ptr_fds, efault);
	unsafe_get_user(args->n_fds, &uargs->n_fds, efault);
	user_read_access_end();
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

/**
 * sys_bus1_send() - send a message to one or many handles
 * @fd:		sending peer
 * @uargs:	struct bus1_send: destinations, payload, handles and fds
 * @size:	size of @uargs as user space knows it
 *
 * Copies the payload once into the pool of the owner of every destination
 * node and queues it there, all or nothing, at one logical time; each
 * receiver gets its own reference to every passed handle and file. With
 * BUS1_SEND_CONTINUE, destinations that fail are left out instead, and
 * each one's result is reported in the array at ptr_errors.
 *
 * Return: 0 on success; -EINVAL for unknown flags, no destination,
 * ptr_errors without BUS1_SEND_CONTINUE, or a @size below the first
 * version of the structure; -E2BIG if a field the kernel does not know
 * is set or @size exceeds a page; -ETOOMANYREFS for more than
 * BUS1_DESTINATIONS_MAX destinations, BUS1_HANDLES_MAX handles or
 * BUS1_FDS_MAX fds; -EOVERFLOW for more than BUS1_VECS_MAX vecs;
 * -EMSGSIZE for a payload above BUS1_MESSAGE_MAX bytes; -EBADF if @fd or
 * a passed fd is not open, -EBADFD if @fd is not a bus1 peer;
 * -EOPNOTSUPP if a passed file is a bus1 peer, an AF_UNIX socket or an
 * io_uring; -ESHUTDOWN if @fd is disconnected; -EFAULT for a bad address;
 * -ENXIO if the sender holds no handle of a destination or passed ID;
 * -ENOTUNIQ if a destination is named twice; -EHOSTUNREACH if a
 * destination node was destroyed (its owner may have disconnected);
 * -ENOSPC if a receiver's pool has no room; -EDQUOT if the message is
 * over a receiver's quota or the sender's fair share of it; -EPERM or
 * -EACCES (the security module's error) if a security module refuses a
 * destination, or a handle or file passed to it; -ENOMEM when out of
 * memory. With BUS1_SEND_CONTINUE, ENXIO, EHOSTUNREACH, ENOSPC, EDQUOT,
 * a security module's error and ENOMEM of a single destination are
 * reported in its entry of ptr_errors instead.
 */
SYSCALL_DEFINE3(bus1_send, int, fd, const struct bus1_send __user *, uargs,
		size_t, size)
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer __free(bus1_leave) = NULL;
	struct bus1_send_small small __uninitialized;
	struct bus1_send_in in __cleanup(bus1_send_in_free) = {
		.small = &small,
	};
	struct bus1_tx_payload payload = {};
	void *p;
	s32 __user *uerrors = NULL;
	struct bus1_send args __uninitialized;	/* copied in whole or not used */
	int r;

	if (size < BUS1_SEND_SIZE_VER0)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	r = bus1_send_read_args(&args, uargs, size);
	if (r)
		return r;
	if ((args.flags & ~BUS1_SEND_CONTINUE) || !args.n_destinations ||
	    (!(args.flags & BUS1_SEND_CONTINUE) && args.ptr_errors))
		return -EINVAL;
	if (args.n_destinations > BUS1_DESTINATIONS_MAX ||
	    args.n_handles > BUS1_HANDLES_MAX || args.n_fds > BUS1_FDS_MAX)
		return -ETOOMANYREFS;
	if (args.n_vecs > BUS1_VECS_MAX)
		return -EOVERFLOW;
	peer = bus1_peer_enter_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	p = bus1_import_array(bus1_user_ptr(args.ptr_destinations),
			      args.n_destinations, sizeof(*in.ids),
			      small.ids, sizeof(small.ids));
	if (IS_ERR(p))
		return PTR_ERR(p);
	in.ids = p;
	p = bus1_import_vecs(args.ptr_vecs, args.n_vecs, &payload.data,
			     small.iov);
	if (IS_ERR(p))
		return PTR_ERR(p);
	in.iov = p;
	p = bus1_import_array(bus1_user_ptr(args.ptr_handles), args.n_handles,
			      sizeof(*in.handle_ids), small.handle_ids,
			      sizeof(small.handle_ids));
	if (IS_ERR(p))
		return PTR_ERR(p);
	in.handle_ids = p;
	if (args.flags & BUS1_SEND_CONTINUE) {
		uerrors = bus1_user_ptr(args.ptr_errors);
		if (!uerrors)
			return -EFAULT;
	}
	payload.files = bus1_import_files(args.ptr_fds, args.n_fds);
	if (IS_ERR(payload.files))
		return PTR_ERR(payload.files);

	payload.handle_ids = in.handle_ids;
	payload.n_handles = args.n_handles;
	payload.n_files = args.n_fds;
	r = bus1_tx_send(peer, in.ids, args.n_destinations, &payload, uerrors);
	bus1_files_put(payload.files, payload.n_files);
	return r;
}

/**
 * sys_bus1_recv() - receive the next message
 * @fd:		receiving peer
 * @uargs:	struct bus1_recv: flags in, the message out
 * @size:	size of @uargs as user space knows it
 *
 * Blocks until a message can be received, unless @fd is O_NONBLOCK. The
 * payload stays in the pool until it is released with
 * bus1_slice_release(). The handles a message carries become handles of
 * the receiver; the files it carries are installed as close-on-exec fds
 * with BUS1_RECV_FDS and dropped without it. Their IDs and fd numbers
 * follow the payload in the pool. With BUS1_RECV_RELEASE, the slice at
 * the offset passed in @uargs is released when, and only if, the call
 * receives an entry: a receive loop needs no bus1_slice_release() call.
 *
 * Return: 0 on success; -EINVAL for unknown flags or a @size below the
 * first version of the structure; -E2BIG if a field the kernel does not
 * know is set or @size exceeds a page; -EBADF if @fd is not open, -EBADFD
 * if it is not a bus1 peer; -ESHUTDOWN if it is or gets disconnected;
 * -EAGAIN if @fd is non-blocking and nothing can be received; -EINTR if
 * a signal arrived while waiting and the call is not restarted; -EFAULT
 * if @uargs cannot be read or written, -ENXIO if the slice to release
 * is not one the peer received, -ENOMEM when out of memory (the entry
 * stays queued and the slice to release stays in every failing case).
 */
SYSCALL_DEFINE3(bus1_recv, int, fd, struct bus1_recv __user *, uargs,
		size_t, size)
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer __free(bus1_leave) = NULL;
	u64 flags, offset;
	int r;

	if (size < BUS1_RECV_SIZE_VER0)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	/*
	 * As copy_struct_from_user() would, but only the two fields that are
	 * read are copied: this is the hot path of every receiver.
	 */
	r = bus1_check_zeroed_tail(uargs, sizeof(*uargs), size);
	if (r)
		return r;
	if (!user_read_access_begin(uargs, sizeof(*uargs)))
		return -EFAULT;
	unsafe_get_user(flags, &uargs->flags, efault);
	unsafe_get_user(offset, &uargs->offset, efault);
	user_read_access_end();
	if (flags & ~(BUS1_RECV_FDS | BUS1_RECV_RELEASE))
		return -EINVAL;
	peer = bus1_peer_enter_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	return bus1_peer_recv(peer, fd_file(f)->f_flags & O_NONBLOCK,
			      flags, offset, uargs);
efault:
	user_read_access_end();
	return -EFAULT;
}

/*
 * The common part of the calls that work on an array of __u64, handle IDs
 * or pool offsets: check @flags and @n, enter the peer, copy the array in
 * and hand it to @fn.
 */
static long bus1_array_call(int fd, const __u64 __user *uarray,
			    unsigned int n, unsigned int flags,
			    int (*fn)(struct bus1_peer *, const u64 *, size_t))
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer __free(bus1_leave) = NULL;
	u64 small[BUS1_SMALL_ARRAY] __uninitialized;
	u64 *array;
	int r;

	if (flags)
		return -EINVAL;
	if (n > BUS1_RELEASE_MAX)
		return -E2BIG;
	peer = bus1_peer_enter_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);
	if (!n)
		return 0;

	array = bus1_import_array(uarray, n, sizeof(*array), small,
				  sizeof(small));
	if (IS_ERR(array))
		return PTR_ERR(array);
	r = fn(peer, array, n);
	bus1_array_free(array, small);
	return r;
}

static int bus1_release_slices(struct bus1_peer *peer, const u64 *offsets,
			       size_t n)
{
	return bus1_pool_release(&peer->pool, offsets, n);
}

/**
 * sys_bus1_slice_release() - hand received payloads back to the pool
 * @fd:		receiving peer
 * @uoffsets:	array of pool offsets, as bus1_recv() reported them
 * @n:		number of offsets, at most BUS1_RELEASE_MAX
 * @flags:	must be 0
 *
 * All or nothing: either every slice is released, or none is.
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags, -E2BIG if @n
 * exceeds BUS1_RELEASE_MAX; -EBADF if @fd is not open, -EBADFD if it is
 * not a bus1 peer; -ESHUTDOWN if it is disconnected; -EFAULT if
 * @uoffsets cannot be read; -ENXIO if an
 * offset is not that of a received, unreleased slice, or appears twice;
 * -ENOMEM when out of memory.
 */
SYSCALL_DEFINE4(bus1_slice_release, int, fd, const __u64 __user *, uoffsets,
		unsigned int, n, unsigned int, flags)
{
	return bus1_array_call(fd, uoffsets, n, flags, bus1_release_slices);
}

/**
 * sys_bus1_handle_release() - drop references to handles
 * @fd:		peer holding the handles
 * @uids:	array of handle IDs
 * @n:		number of IDs, at most BUS1_RELEASE_MAX
 * @flags:	must be 0
 *
 * Drops one reference of each handle, all or nothing. A handle whose last
 * reference goes loses its ID; if nobody but the owner holds its node any
 * more, the owner gets a BUS1_MSG_NODE_RELEASE notice.
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags, -E2BIG if @n
 * exceeds BUS1_RELEASE_MAX; -EBADF if @fd is not open, -EBADFD if it is
 * not a bus1 peer, -ESHUTDOWN if it is disconnected; -EFAULT if @uids
 * cannot be read; -ENXIO if @fd holds no handle of an ID; -ENOTUNIQ if an
 * ID appears twice; -EBUSY for the last reference of the owner's handle
 * of a node that is not destroyed; -ENOMEM when out of memory.
 */
SYSCALL_DEFINE4(bus1_handle_release, int, fd, const __u64 __user *, uids,
		unsigned int, n, unsigned int, flags)
{
	return bus1_array_call(fd, uids, n, flags, bus1_handles_release);
}

/**
 * sys_bus1_nodes_destroy() - destroy nodes in one transaction
 * @fd:		peer owning the nodes
 * @uids:	array of the owner's handle IDs of the nodes
 * @n:		number of IDs, at most BUS1_RELEASE_MAX
 * @flags:	must be 0
 *
 * All or nothing. Every holder of a handle to one of the nodes, the owner
 * included, gets a BUS1_MSG_NODE_DESTROY notice, all at one logical time.
 * Messages ordered before it still arrive; later sends to the nodes fail
 * with -EHOSTUNREACH.
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags, -E2BIG if @n
 * exceeds BUS1_RELEASE_MAX; -EBADF if @fd is not open, -EBADFD if it is
 * not a bus1 peer, -ESHUTDOWN if it is disconnected; -EFAULT if @uids
 * cannot be read; -ENXIO if @fd holds no handle of an ID; -EPERM if @fd
 * does not own the node of an ID; -ENOTUNIQ if an ID appears twice;
 * -EALREADY if a node was destroyed before; -ENOMEM when out of memory.
 */
SYSCALL_DEFINE4(bus1_nodes_destroy, int, fd, const __u64 __user *, uids,
		unsigned int, n, unsigned int, flags)
{
	return bus1_array_call(fd, uids, n, flags, bus1_handles_destroy);
}

/**
 * sys_bus1_peer_disconnect() - disconnect a peer while its fd stays open
 * @fd:		peer to disconnect
 * @flags:	must be 0
 *
 * Does what closing the last file descriptor of the peer does: destroys
 * all its nodes in one transaction, releases its handles, flushes its
 * queue and pool. Threads waiting in bus1_recv() return -ESHUTDOWN, poll
 * reports EPOLLHUP, and every later call on the peer fails with
 * -ESHUTDOWN.
 *
 * Return: 0 on success; -EINVAL for a non-zero @flags; -EBADF if @fd is
 * not open, -EBADFD if it is not a bus1 peer, -ESHUTDOWN if it is
 * disconnected already.
 */
SYSCALL_DEFINE2(bus1_peer_disconnect, int, fd, unsigned int, flags)
{
	CLASS(fd, f)(fd);
	struct bus1_peer *peer __free(bus1_leave) = NULL;

	if (flags)
		return -EINVAL;
	peer = bus1_peer_enter_fd(f);
	if (IS_ERR(peer))
		return PTR_ERR(peer);

	return bus1_peer_disconnect(peer);
}
