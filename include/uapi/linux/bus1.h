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

#endif /* _UAPI_LINUX_BUS1_H */
