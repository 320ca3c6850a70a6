/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libbus1 - the user-space library of the bus1 system calls
 *
 * The calls are described in bus1(7) and in one section 2 page each; this
 * library's functions in their section 3 pages (libbus1(3) is the index).
 *
 * Conventions:
 *  - Every function that can fail returns 0 (or a count or fd) on success
 *    and a negative errno value on failure; errno may change either way.
 *  - A struct bus1_peer may be used by several threads at once for
 *    sending, handle and node calls. Receiving on one peer
 *    (bus1_peer_recv(), bus1_peer_call(), bus1_peer_dispatch()) is done by
 *    one thread at a time: the caller serializes it. A struct bus1_msg
 *    belongs to one thread at a time.
 *  - The library keeps no global state and takes no lock.
 */
#ifndef LIBBUS1_H
#define LIBBUS1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <libbus1/uapi.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The system calls, unchanged but for the return value: >= 0 on success,
 * -errno on failure. They work where the C library's headers do not know
 * the bus1 syscall numbers yet.
 */
int bus1_sys_peer_create(unsigned int flags);
int bus1_sys_node_create(int fd, uint64_t *id, unsigned int flags);
int bus1_sys_handle_transfer(int src_fd, int dst_fd,
			     struct bus1_transfer *args, size_t size);
int bus1_sys_send(int fd, const struct bus1_send *args, size_t size);
int bus1_sys_recv(int fd, struct bus1_recv *args, size_t size);
int bus1_sys_slice_release(int fd, const uint64_t *offsets, unsigned int n,
			   unsigned int flags);
int bus1_sys_handle_release(int fd, const uint64_t *ids, unsigned int n,
			    unsigned int flags);
int bus1_sys_nodes_destroy(int fd, const uint64_t *ids, unsigned int n,
			   unsigned int flags);
int bus1_sys_peer_disconnect(int fd, unsigned int flags);

/* A peer: its fd and its mapped receive pool. Opaque. */
struct bus1_peer;

/*
 * A received entry, a view into the receiver's pool. Zero-initialize it
 * before its first use (struct bus1_msg m = { 0 };). The fields are valid
 * until the entry is released: by bus1_msg_release(), or by the next
 * receive into the same struct, which hands the previous slice back in
 * the same system call. A view stays readable after bus1_peer_free() of
 * its peer, until it is released.
 */
struct bus1_msg {
	uint64_t type;		/* BUS1_MSG_DATA, _NODE_DESTROY, _NODE_RELEASE */
	uint64_t flags;		/* BUS1_MSG_CONTINUE, BUS1_MSG_CREDS */
	uint64_t destination;	/* the receiver's ID of the node or handle */
	const void *data;	/* payload, in place; NULL for notices */
	size_t size;		/* payload bytes */
	const uint64_t *handles; /* passed handles, now the receiver's */
	size_t n_handles;
	const int *fds;		/* passed fds; -1 where none was installed */
	size_t n_fds;
	const struct bus1_creds *creds; /* sender; NULL without BUS1_MSG_CREDS */
	const char *secctx;	/* its LSM context, NUL-terminated; NULL likewise */

	/* private to the library */
	struct bus1_peer *_peer;
	uint64_t _offset;	/* the slice, valid while _peer is set */
};

/*
 * Create a peer with BUS1_PEER_* @flags and map its pool. BUS1_PEER_CLOEXEC
 * is always added. Returns 0 and sets *@peerp, or -errno.
 */
int bus1_peer_new(struct bus1_peer **peerp, unsigned int flags);

/*
 * Make a peer of an existing peer fd (inherited or received), mapping its
 * pool. On success the peer owns @fd and closes it when freed.
 */
int bus1_peer_new_from_fd(struct bus1_peer **peerp, int fd);

/*
 * Close the fd and drop the peer; the pool is unmapped once no view of
 * it is held. NULL is ignored.
 */
void bus1_peer_free(struct bus1_peer *peer);

/* The peer fd, for poll(), epoll and fd passing. */
int bus1_peer_fd(const struct bus1_peer *peer);

/*
 * Disconnect the peer with bus1_peer_disconnect(2); the fd stays open
 * until bus1_peer_free(). Named apart from the system call, which a C
 * library may one day wrap under its own name.
 */
int bus1_peer_shutdown(struct bus1_peer *peer);

/* Create a node owned by @peer; its handle ID is stored in *@id. */
int bus1_peer_node_new(struct bus1_peer *peer, uint64_t *id);

/*
 * Give the peer behind @dst_fd a handle to the node of handle @id of
 * @peer; the destination's ID is stored in *@dst_id.
 */
int bus1_peer_transfer(struct bus1_peer *peer, uint64_t id, int dst_fd,
		       uint64_t *dst_id);

/* Drop one reference of each of @n handles (all or nothing). */
int bus1_peer_release_handles(struct bus1_peer *peer, const uint64_t *ids,
			      size_t n);

/* Destroy @n nodes of @peer in one transaction (all or nothing). */
int bus1_peer_destroy_nodes(struct bus1_peer *peer, const uint64_t *ids,
			    size_t n);

/* What a message carries: its payload and the capabilities passed. */
struct bus1_tx {
	const struct iovec *iov; /* payload pieces, or NULL and 0 */
	size_t n_iov;
	const uint64_t *handles; /* handle IDs of the sender to pass */
	size_t n_handles;
	const int *fds;		/* fds to pass */
	size_t n_fds;
};

/* Send @size bytes at @data to the node of handle @dest (unicast). */
int bus1_peer_send(struct bus1_peer *peer, uint64_t dest, const void *data,
		   size_t size);

/*
 * Send @tx (NULL: an empty message) to @n_dests handles at once, in one
 * transaction. With @errors
 * NULL the send is all or nothing. With @errors an array of @n_dests, a
 * destination that cannot receive it is left out and its -errno stored
 * there (0 for those that received it); the call then returns 0 unless
 * the whole send failed.
 */
int bus1_peer_sendv(struct bus1_peer *peer, const uint64_t *dests,
		    size_t n_dests, const struct bus1_tx *tx, int *errors);

/* Flags of bus1_peer_recv() and the calls that receive. */
#define BUS1_PEER_RECV_FDS	BUS1_RECV_FDS	/* install passed fds */

/*
 * Receive the next entry into @msg. The entry @msg held before is
 * released in any case: on success in the same system call. Entries kept
 * by bus1_peer_call() come first. Blocks if the peer fd is blocking;
 * -EAGAIN if it is not and nothing can be received.
 */
int bus1_peer_recv(struct bus1_peer *peer, struct bus1_msg *msg,
		   unsigned int flags);

/*
 * Hand the entry's slice back to the pool. Does nothing for an entry that
 * holds none (a notice, or one released before). The fds it carried stay
 * open: they are the caller's.
 */
int bus1_msg_release(struct bus1_msg *msg);

/*
 * Call: send @tx (NULL: an empty message) to @dest with a handle to this
 * peer's reply node passed first, before the handles of @tx, and wait up
 * to @timeout_ms (-1: no limit) for the reply, received into @reply
 * (whose previous entry is released). Entries for other destinations
 * that arrive meanwhile are kept, in order, for later receives; an event
 * loop calls bus1_peer_dispatch() after a call, since poll() does not see
 * them. With a timeout, a blocking peer fd is non-blocking while the call
 * waits. Returns 0, -ETIMEDOUT, -EPIPE if the callee let go of the reply
 * handle without replying (it exited, for example), or the error of the
 * send or receive.
 */
int bus1_peer_call(struct bus1_peer *peer, uint64_t dest,
		   const struct bus1_tx *tx, struct bus1_msg *reply,
		   int timeout_ms, unsigned int flags);

/*
 * Reply to @request, a message sent with bus1_peer_call(): send @tx (NULL:
 * an empty message) to its first passed handle, then release that handle,
 * also if the send failed, so that the caller is not left waiting.
 * -EBADMSG if @request is no message or carries no handle.
 */
int bus1_peer_reply(struct bus1_peer *peer, const struct bus1_msg *request,
		    const struct bus1_tx *tx);

/*
 * Event loops: wait for POLLIN on bus1_peer_fd(), then dispatch. Receives
 * every entry that is ready, without blocking (a blocking peer fd is made
 * non-blocking meanwhile), and calls @fn on each; the entry is released
 * when @fn returns. A negative return of @fn stops the
 * loop and is returned. Returns the number of entries handled, or -errno.
 */
typedef int (*bus1_handler_fn)(struct bus1_peer *peer,
			       const struct bus1_msg *msg, void *userdata);
int bus1_peer_dispatch(struct bus1_peer *peer, bus1_handler_fn fn,
		       void *userdata, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBBUS1_H */
