// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The bus1 system calls, returning -errno instead of setting errno. The
 * numbers come from the C library's headers where they know them, else
 * from syscall-nr.h, generated from the series' syscall list.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "internal.h"
#include "syscall-nr.h"

static inline int b1_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}

B1_EXPORT int bus1_sys_peer_create(unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_peer_create, flags));
}

B1_EXPORT int bus1_sys_node_create(int fd, uint64_t *id, unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_node_create, fd, id, flags));
}

B1_EXPORT int bus1_sys_handle_transfer(int src_fd, int dst_fd,
				       struct bus1_transfer *args, size_t size)
{
	return b1_ret(syscall(__NR_bus1_handle_transfer, src_fd, dst_fd, args,
			      size));
}

B1_EXPORT int bus1_sys_send(int fd, const struct bus1_send *args, size_t size)
{
	return b1_ret(syscall(__NR_bus1_send, fd, args, size));
}

B1_EXPORT int bus1_sys_recv(int fd, struct bus1_recv *args, size_t size)
{
	return b1_ret(syscall(__NR_bus1_recv, fd, args, size));
}

B1_EXPORT int bus1_sys_slice_release(int fd, const uint64_t *offsets,
				     unsigned int n, unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_slice_release, fd, offsets, n, flags));
}

B1_EXPORT int bus1_sys_handle_release(int fd, const uint64_t *ids,
				      unsigned int n, unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_handle_release, fd, ids, n, flags));
}

B1_EXPORT int bus1_sys_nodes_destroy(int fd, const uint64_t *ids,
				     unsigned int n, unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_nodes_destroy, fd, ids, n, flags));
}

B1_EXPORT int bus1_sys_peer_disconnect(int fd, unsigned int flags)
{
	return b1_ret(syscall(__NR_bus1_peer_disconnect, fd, flags));
}
