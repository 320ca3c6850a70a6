// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The peer object: a peer fd and its mapped pool, nodes and handles.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "internal.h"

void b1_peer_ref(struct bus1_peer *peer)
{
	__atomic_add_fetch(&peer->refs, 1, __ATOMIC_RELAXED);
}

void b1_peer_unref(struct bus1_peer *peer)
{
	if (__atomic_sub_fetch(&peer->refs, 1, __ATOMIC_ACQ_REL))
		return;
	munmap((void *)peer->pool, BUS1_POOL_SIZE);
	free(peer);
}

B1_EXPORT int bus1_peer_new_from_fd(struct bus1_peer **peerp, int fd)
{
	struct bus1_peer *peer;
	void *pool;
	int r;

	/* Releasing nothing succeeds on a peer and on nothing else. */
	r = bus1_sys_slice_release(fd, NULL, 0, 0);
	if (r < 0)
		return r;
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return -ENOMEM;
	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (pool == MAP_FAILED) {
		r = -errno;
		free(peer);
		return r;
	}
	peer->fd = fd;
	peer->refs = 1;
	peer->pool = pool;
	peer->kept_tail = &peer->kept;
	*peerp = peer;
	return 0;
}

B1_EXPORT int bus1_peer_new(struct bus1_peer **peerp, unsigned int flags)
{
	int fd, r;

	fd = bus1_sys_peer_create(flags | BUS1_PEER_CLOEXEC);
	if (fd < 0)
		return fd;
	r = bus1_peer_new_from_fd(peerp, fd);
	if (r < 0)
		close(fd);
	return r;
}

B1_EXPORT void bus1_peer_free(struct bus1_peer *peer)
{
	struct b1_kept *k;

	if (!peer)
		return;
	while ((k = peer->kept)) {
		peer->kept = k->next;
		bus1_msg_release(&k->msg);
		free(k);
	}
	close(peer->fd);
	/* Views still held keep the mapping; their release needs no fd. */
	peer->fd = -1;
	b1_peer_unref(peer);
}

B1_EXPORT int bus1_peer_fd(const struct bus1_peer *peer)
{
	return peer->fd;
}

B1_EXPORT int bus1_peer_shutdown(struct bus1_peer *peer)
{
	return bus1_sys_peer_disconnect(peer->fd, 0);
}

B1_EXPORT int bus1_peer_node_new(struct bus1_peer *peer, uint64_t *id)
{
	return bus1_sys_node_create(peer->fd, id, 0);
}

B1_EXPORT int bus1_peer_transfer(struct bus1_peer *peer, uint64_t id,
				 int dst_fd, uint64_t *dst_id)
{
	struct bus1_transfer t = { .src_id = id };
	int r;

	r = bus1_sys_handle_transfer(peer->fd, dst_fd, &t, sizeof(t));
	if (r == 0)
		*dst_id = t.dst_id;
	return r;
}

/* The calls take an unsigned int count; a larger one is over any limit. */
static int b1_count(size_t n, unsigned int *out)
{
	if (n > BUS1_RELEASE_MAX)
		return -E2BIG;
	*out = (unsigned int)n;
	return 0;
}

B1_EXPORT int bus1_peer_release_handles(struct bus1_peer *peer,
					const uint64_t *ids, size_t n)
{
	unsigned int count;
	int r = b1_count(n, &count);

	return r ? r : bus1_sys_handle_release(peer->fd, ids, count, 0);
}

B1_EXPORT int bus1_peer_destroy_nodes(struct bus1_peer *peer,
				      const uint64_t *ids, size_t n)
{
	unsigned int count;
	int r = b1_count(n, &count);

	return r ? r : bus1_sys_nodes_destroy(peer->fd, ids, count, 0);
}
