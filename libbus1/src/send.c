// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Sending: unicast, multicast with per-destination results, replies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define B1_PTR(p)	((uint64_t)(uintptr_t)(p))

/* Pieces converted on the stack; more take a heap array. */
#define B1_STACK_VECS	16

/*
 * Send @tx to @dests; @first_handle, if not NULL, is passed before the
 * handles of @tx (bus1_peer_call() passes its reply node so).
 */
int b1_send(struct bus1_peer *peer, const uint64_t *dests, size_t n_dests,
	    const struct bus1_tx *tx, const uint64_t *first_handle,
	    int *errors)
{
	static const struct bus1_tx empty;
	struct bus1_vec stack_vecs[B1_STACK_VECS], *vecs = stack_vecs;
	uint64_t handles[BUS1_HANDLES_MAX];
	struct bus1_send s = {
		.ptr_destinations = B1_PTR(dests),
		.n_destinations = n_dests,
	};
	size_t i;
	int r;

	if (!tx)
		tx = &empty;
	if (!n_dests)
		return -EINVAL;
	if ((tx->n_iov && !tx->iov) || (tx->n_handles && !tx->handles) ||
	    (tx->n_fds && !tx->fds))
		return -EFAULT;
	if (tx->n_iov > BUS1_VECS_MAX)
		return -EOVERFLOW;
	if (n_dests > BUS1_DESTINATIONS_MAX || tx->n_fds > BUS1_FDS_MAX ||
	    tx->n_handles + !!first_handle > BUS1_HANDLES_MAX)
		return -ETOOMANYREFS;

	if (tx->n_iov > B1_STACK_VECS) {
		vecs = malloc(tx->n_iov * sizeof(*vecs));
		if (!vecs)
			return -ENOMEM;
	}
	for (i = 0; i < tx->n_iov; i++) {
		vecs[i].ptr = B1_PTR(tx->iov[i].iov_base);
		vecs[i].len = tx->iov[i].iov_len;
	}
	s.ptr_vecs = B1_PTR(vecs);
	s.n_vecs = tx->n_iov;

	if (first_handle) {
		handles[0] = *first_handle;
		if (tx->n_handles)
			memcpy(handles + 1, tx->handles,
			       tx->n_handles * sizeof(*handles));
		s.ptr_handles = B1_PTR(handles);
		s.n_handles = tx->n_handles + 1;
	} else {
		s.ptr_handles = B1_PTR(tx->handles);
		s.n_handles = tx->n_handles;
	}
	s.ptr_fds = B1_PTR(tx->fds);
	s.n_fds = tx->n_fds;

	if (errors) {
		s.flags = BUS1_SEND_CONTINUE;
		s.ptr_errors = B1_PTR(errors);
	}
	r = bus1_sys_send(peer->fd, &s, sizeof(s));
	if (vecs != stack_vecs)
		free(vecs);
	if (r < 0 || !errors)
		return r;
	/* The kernel reports positive errno values; ours are negative. */
	for (i = 0; i < n_dests; i++)
		errors[i] = -errors[i];
	return 0;
}

B1_EXPORT int bus1_peer_send(struct bus1_peer *peer, uint64_t dest,
			     const void *data, size_t size)
{
	struct bus1_vec vec = { B1_PTR(data), size };
	struct bus1_send s = {
		.ptr_destinations = B1_PTR(&dest),
		.n_destinations = 1,
		.ptr_vecs = B1_PTR(&vec),
		.n_vecs = 1,
	};

	return bus1_sys_send(peer->fd, &s, sizeof(s));
}

B1_EXPORT int bus1_peer_sendv(struct bus1_peer *peer, const uint64_t *dests,
			      size_t n_dests, const struct bus1_tx *tx,
			      int *errors)
{
	return b1_send(peer, dests, n_dests, tx, NULL, errors);
}

B1_EXPORT int bus1_peer_reply(struct bus1_peer *peer,
			      const struct bus1_msg *request,
			      const struct bus1_tx *tx)
{
	uint64_t dest;
	int r;

	if (request->type != BUS1_MSG_DATA || !request->n_handles)
		return -EBADMSG;
	dest = request->handles[0];
	if (dest == BUS1_HANDLE_INVALID)
		return -EHOSTUNREACH;
	r = b1_send(peer, &dest, 1, tx, NULL, NULL);
	/*
	 * The reply handle serves one reply: let go of it also when the
	 * reply could not be sent, so that the caller learns of it.
	 */
	bus1_peer_release_handles(peer, &dest, 1);
	return r;
}
