/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bus1 - capability-based inter-process communication
 *
 * The user-space interface of the bus1 system calls. See
 * Documentation/userspace-api/bus1.rst for the contract.
 */
#ifndef _UAPI_LINUX_BUS1_H
#define _UAPI_LINUX_BUS1_H

#include <linux/types.h>

/*
 * Flags of bus1_peer_create(). They have the same value on every
 * architecture, unlike O_CLOEXEC and O_NONBLOCK.
 */
#define BUS1_PEER_CLOEXEC	(1U << 0)	/* new fd is close-on-exec */
#define BUS1_PEER_NONBLOCK	(1U << 1)	/* new file is O_NONBLOCK */
#define BUS1_PEER_CREDS		(1U << 2)	/* messages carry their sender */

/*
 * Size in bytes of the receive pool of every peer. The pool is mapped with
 * mmap(2) on the peer fd, read-only, at any page-aligned offset and length
 * within this size.
 */
#define BUS1_POOL_SIZE		(16U << 20)

/**
 * struct bus1_transfer - arguments of bus1_handle_transfer()
 * @flags:	must be 0
 * @src_id:	ID of the handle in the source peer
 * @dst_id:	set to the ID of the handle in the destination peer
 */
struct bus1_transfer {
	__u64 flags;
	__u64 src_id;
	__u64 dst_id;
};

#define BUS1_TRANSFER_SIZE_VER0	24	/* sizeof first published struct */

/*
 * Limits of one bus1_send() call. A message larger than the pool of its
 * receiver could never be delivered.
 */
#define BUS1_DESTINATIONS_MAX	1024U		/* handle IDs per send */
#define BUS1_VECS_MAX		1024U		/* payload pieces per send */
#define BUS1_MESSAGE_MAX	BUS1_POOL_SIZE	/* payload bytes per send */
#define BUS1_HANDLES_MAX	256U		/* handles passed per send */
#define BUS1_FDS_MAX		253U		/* fds passed per send */
#define BUS1_RELEASE_MAX	1024U		/* IDs or offsets per release or destroy */

/**
 * struct bus1_vec - one piece of a message payload
 * @ptr:	address of the bytes in the sender's memory
 * @len:	number of bytes
 */
struct bus1_vec {
	__u64 ptr;
	__u64 len;
};

/* Flags of bus1_send(). */
#define BUS1_SEND_CONTINUE	(1ULL << 0)	/* per-destination results */

/**
 * struct bus1_send - arguments of bus1_send()
 * @flags:		BUS1_SEND_* flags
 * @ptr_destinations:	address of an array of handle IDs (__u64) to send to
 * @n_destinations:	number of entries in that array, 1 to
 *			BUS1_DESTINATIONS_MAX
 * @ptr_vecs:		address of an array of struct bus1_vec, the payload
 * @n_vecs:		number of entries in that array, 0 to BUS1_VECS_MAX
 * @ptr_errors:		with BUS1_SEND_CONTINUE, address of an array of
 *			n_destinations __s32, set to 0 or the positive errno
 *			of each destination; must be 0 without it
 * @ptr_handles:	address of an array of IDs (__u64) of handles of the
 *			sender to pass: each receiver gets a handle to each
 *			of their nodes
 * @n_handles:		number of entries in that array, 0 to
 *			BUS1_HANDLES_MAX
 * @ptr_fds:		address of an array of file descriptors (__s32) to
 *			pass
 * @n_fds:		number of entries in that array, 0 to BUS1_FDS_MAX
 */
struct bus1_send {
	__u64 flags;
	__u64 ptr_destinations;
	__u64 n_destinations;
	__u64 ptr_vecs;
	__u64 n_vecs;
	__u64 ptr_errors;
	__u64 ptr_handles;
	__u64 n_handles;
	__u64 ptr_fds;
	__u64 n_fds;
};

#define BUS1_SEND_SIZE_VER0	80	/* sizeof first published struct */

/* The ID a passed handle arrives as if its node was destroyed before. */
#define BUS1_HANDLE_INVALID	(~(__u64)0)

/*
 * Types of the entries bus1_recv() returns. A notification has no payload
 * (offset and size are 0); its destination is the handle ID it is about.
 */
#define BUS1_MSG_DATA		1	/* a message sent with bus1_send() */
#define BUS1_MSG_NODE_DESTROY	2	/* the node of a handle was destroyed */
#define BUS1_MSG_NODE_RELEASE	3	/* nobody but the owner holds the node */

/* Flags of bus1_recv(). */
#define BUS1_RECV_FDS		(1ULL << 0)	/* install passed fds */
#define BUS1_RECV_RELEASE	(1ULL << 1)	/* release @offset on receipt */

/* Flags bus1_recv() returns in bus1_recv.msg_flags. */
#define BUS1_MSG_CONTINUE	(1ULL << 0)	/* next entry: same transaction */
#define BUS1_MSG_CREDS		(1ULL << 1)	/* the slice holds bus1_creds */

/**
 * struct bus1_recv - arguments of bus1_recv()
 * @flags:		in: BUS1_RECV_* flags; 0 on return
 * @msg_flags:		out: BUS1_MSG_* flags of the entry
 * @type:		out: BUS1_MSG_DATA, BUS1_MSG_NODE_DESTROY or
 *			BUS1_MSG_NODE_RELEASE
 * @destination:	out: the receiver's ID of the node the entry was sent to
 * @offset:		in: with BUS1_RECV_RELEASE, a slice received before,
 *			released when this call receives an entry;
 *			out: offset of the payload in the receive pool
 * @size:		out: size of the payload in bytes
 * @n_handles:		out: number of handles passed with the message
 * @n_fds:		out: number of file descriptors passed with it
 *
 * The payload stays in the pool at @offset until it is handed back with
 * bus1_slice_release(). The passed handles and fds follow it in the same
 * slice, at the next multiple of 8 bytes: @n_handles handle IDs (__u64)
 * of the receiver, then @n_fds file descriptors (__s32) of the receiver,
 * -1 for each that was not installed.
 */
struct bus1_recv {
	__u64 flags;
	__u64 msg_flags;
	__u64 type;
	__u64 destination;
	__u64 offset;
	__u64 size;
	__u64 n_handles;
	__u64 n_fds;
};

#define BUS1_RECV_SIZE_VER0	64	/* sizeof first published struct */

/**
 * struct bus1_creds - who sent a message to a BUS1_PEER_CREDS peer
 * @uid:	effective user ID of the sending peer's credentials (those of
 *		the task that created it), in the user namespace of the
 *		receiving peer's credentials; the overflow uid if it is not
 *		mapped there
 * @gid:	effective group ID of the same, likewise
 * @pid:	process (thread group ID) that created the sending peer, in
 *		the PID namespace of the task that created the receiving
 *		peer; 0 if it is not visible there
 * @n_secctx:	length of the LSM security context of the sending peer's
 *		credentials that follows, without its terminating NUL; 0 if
 *		no security module provides one
 *
 * Captured when the message is sent. The context follows the structure
 * in the slice, NUL-terminated.
 */
struct bus1_creds {
	__u32 uid;
	__u32 gid;
	__u32 pid;
	__u32 n_secctx;
};

#endif /* _UAPI_LINUX_BUS1_H */
