/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libbus1 internals: the peer object and what the source files share.
 */
#ifndef LIBBUS1_INTERNAL_H
#define LIBBUS1_INTERNAL_H

#include <stdbool.h>
#include <libbus1.h>

#define B1_EXPORT __attribute__((visibility("default")))

/* A received entry kept by bus1_peer_call() for later receives. */
struct b1_kept {
	struct b1_kept *next;
	struct bus1_msg msg;
};

/*
 * struct bus1_peer - a peer fd with its pool mapped
 * @fd:		the peer fd; -1 once bus1_peer_free() closed it
 * @refs:	one for the caller until bus1_peer_free(), one per entry a
 *		struct bus1_msg holds, so that no view outlives the mapping
 * @pool:	the receive pool, mapped read-only
 * @reply_id:	the node bus1_peer_call() passes for replies, 0 until the
 *		first call; replaced when a call ends without its reply
 * @kept:	entries received by bus1_peer_call() for other nodes, oldest
 *		first; @kept_tail points at the last next pointer
 *
 * Everything but @refs is written only by the thread that receives, or
 * by bus1_peer_new*() and bus1_peer_free(); senders read @fd alone.
 */
struct bus1_peer {
	int fd;
	unsigned int refs;
	const unsigned char *pool;
	uint64_t reply_id;
	struct b1_kept *kept;
	struct b1_kept **kept_tail;
};

void b1_peer_ref(struct bus1_peer *peer);
void b1_peer_unref(struct bus1_peer *peer);

int b1_recv(struct bus1_peer *peer, struct bus1_msg *msg, unsigned int flags);
int b1_keep(struct bus1_peer *peer, struct bus1_msg *msg);
int b1_wait(struct bus1_peer *peer, int timeout_ms);
int b1_nonblock_begin(struct bus1_peer *peer, int *saved);
void b1_nonblock_end(struct bus1_peer *peer, int saved);
int b1_send(struct bus1_peer *peer, const uint64_t *dests, size_t n_dests,
	    const struct bus1_tx *tx, const uint64_t *first_handle,
	    int *errors);

#endif /* LIBBUS1_INTERNAL_H */
