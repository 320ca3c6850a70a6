// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 system call entry points
 *
 * Only argument checks live here; the work is done by the unit each call
 * belongs to.
 */

#include <linux/syscalls.h>
#include <uapi/linux/bus1.h>
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
