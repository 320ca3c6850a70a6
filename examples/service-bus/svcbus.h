/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * svcbus - a broker-free service bus on bus1, an example built on libbus1
 *
 * What D-Bus does with a broker process in the middle, done with bus1
 * capabilities and no process in the path of a call:
 *
 *  - A registry peer owns one node that every participant holds a handle
 *    to (given to it when its peer is created: bus1 has no global names).
 *    A service registers a well-known name by passing a handle to its own
 *    node; the registry keeps it, creates a node for the name and passes
 *    a handle to that back, the service's token for the name. A client
 *    looks the name up and gets its own handle to the service's node.
 *    From then on the registry is out of the path: calls go from the
 *    client straight to the service.
 *  - A method call is one message to the service's node that carries a
 *    handle to the caller's reply node (libbus1's bus1_peer_call()); the
 *    reply or an error comes back on it. A service that dies while it
 *    holds the reply handle makes the call fail with -EPIPE.
 *  - A signal is one bus1 multicast to the handles of every subscriber's
 *    sink node. A subscriber that does not read only fills its own quota:
 *    the send goes on to the others and the emitter counts what that
 *    subscriber missed.
 *  - Death is a node destruction notice: every holder of a handle to a
 *    service's node (clients, the registry) hears of it, in order with
 *    everything else.
 *  - Messages are in the D-Bus wire format (version 1, little-endian),
 *    header fields PATH, INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL,
 *    SIGNATURE and UNIX_FDS, body types y, u, s, o, g, h and ay: the
 *    same bytes a D-Bus library would marshal, less the DESTINATION and
 *    SENDER fields that a bus without a broker does not need.
 *
 * Every function returns 0 (or a count) on success and a negative errno
 * value on failure. A connection is used by one thread at a time.
 */
#ifndef SVCBUS_H
#define SVCBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libbus1.h>

#ifdef __cplusplus
extern "C" {
#endif

/* D-Bus message types. */
enum {
	SB_MSG_CALL = 1,
	SB_MSG_RETURN = 2,
	SB_MSG_ERROR = 3,
	SB_MSG_SIGNAL = 4,
};

#define SB_SIG_MAX		255	/* a D-Bus signature's limit */
#define SB_NAME_MAX		255	/* well-known names, members, ... */

/* The registry's object, and the interface of its methods. */
#define SB_REGISTRY_PATH	"/org/bus1/ServiceBus"
#define SB_REGISTRY_IFACE	"org.bus1.ServiceBus.Registry"
/* The interface every service implements besides its own: Subscribe. */
#define SB_SERVICE_IFACE	"org.bus1.ServiceBus.Service"

/* Error names. The D-Bus ones where D-Bus has one. */
#define SB_ERR_UNKNOWN_METHOD	"org.freedesktop.DBus.Error.UnknownMethod"
#define SB_ERR_INVALID_ARGS	"org.freedesktop.DBus.Error.InvalidArgs"
#define SB_ERR_NAME_UNKNOWN	"org.freedesktop.DBus.Error.ServiceUnknown"
#define SB_ERR_LIMITS		"org.freedesktop.DBus.Error.LimitsExceeded"
#define SB_ERR_FAILED		"org.freedesktop.DBus.Error.Failed"
#define SB_ERR_NAME_TAKEN	"org.bus1.ServiceBus.Error.NameTaken"

/* Flags of sb_lookup(). */
#define SB_LOOKUP_WAIT		(1U << 0)	/* until the name is registered */

/*
 * Writing a message body: append values, the signature grows with them.
 * Errors are sticky: the first one is kept in @err and reported by the
 * send, so a sequence of appends needs no check in between.
 */
struct sb_writer {
	unsigned char *data;
	size_t len, cap;
	char sig[SB_SIG_MAX + 1];
	size_t sig_len;
	uint32_t n_fds;		/* 'h' values appended: indices 0..n_fds-1 */
	int err;
};

void sb_writer_init(struct sb_writer *w);
void sb_writer_reset(struct sb_writer *w);	/* empty it, keep the memory */
void sb_writer_free(struct sb_writer *w);
void sb_put_u8(struct sb_writer *w, uint8_t v);
void sb_put_u32(struct sb_writer *w, uint32_t v);
void sb_put_str(struct sb_writer *w, const char *s);
/* 'ay' */
void sb_put_bytes(struct sb_writer *w, const void *p, size_t n);
/* 'h': the index of the fd among those the message passes. */
void sb_put_fd_index(struct sb_writer *w, uint32_t index);

/*
 * A message read in place: the header decoded, the body read by the
 * sb_get_*() calls in the order of its signature. The strings point into
 * the message and are NUL-terminated; they live as long as the message.
 */
struct sb_reader {
	uint8_t type, flags;
	uint32_t serial, reply_serial;
	const char *path, *interface, *member, *error_name, *signature;
	uint32_t n_unix_fds;
	const unsigned char *body;
	size_t body_len;
	/* read position */
	size_t pos;
	size_t sig_pos;
};

/*
 * Decode the D-Bus message of @size bytes at @data: -EBADMSG if it is not
 * a well-formed one, -EPROTONOSUPPORT if it is big-endian.
 */
int sb_parse(struct sb_reader *r, const void *data, size_t size);
int sb_get_u8(struct sb_reader *r, uint8_t *v);
int sb_get_u32(struct sb_reader *r, uint32_t *v);
int sb_get_str(struct sb_reader *r, const char **s);	/* 's', 'o' or 'g' */
int sb_get_bytes(struct sb_reader *r, const void **p, size_t *n);
int sb_get_fd_index(struct sb_reader *r, uint32_t *index);
bool sb_at_end(const struct sb_reader *r);

/*
 * Marshal a message into @hdr (the header, padded to 8 bytes) and
 * @body's data: the two pieces of the payload, which a send passes as
 * two iovecs. The header's room is SB_HDR_MAX bytes. Returns the
 * header's length, or -errno (-EINVAL for a name that is not valid or a
 * field missing, -E2BIG if the header does not fit, -EBADF if an 'h'
 * value indexes past @h->n_fds, or the body's first error).
 */
#define SB_HDR_MAX		1024
struct sb_header {
	uint8_t type, flags;
	uint32_t serial, reply_serial;
	const char *path, *interface, *member, *error_name;
	uint32_t n_fds;		/* fds passed with the message */
};
int sb_marshal_header(unsigned char *hdr, const struct sb_header *h,
		      const struct sb_writer *body);

/*
 * A received message: the bus1 entry (a view into the pool), decoded.
 * It owns the handles and fds it passed (a call's reply handle aside)
 * until they are taken: sb_msg_release() releases every handle and
 * closes every fd not taken, and hands the payload back to the pool.
 * Zero-initialize it before its first use.
 */
#define SB_PASS_MAX		256	/* handles or fds per message */
struct sb_msg {
	struct bus1_msg raw;
	struct sb_reader rd;
	const uint64_t *handles;
	size_t n_handles;
	const int *fds;
	size_t n_fds;
	/* private */
	uint64_t _taken_handles[SB_PASS_MAX / 64];
	uint64_t _taken_fds[SB_PASS_MAX / 64];
	struct sb_conn *_conn;
};

/* Take passed handle @i (its ID) or fd @i: -ENOENT if none, or taken. */
int sb_msg_take_handle(struct sb_msg *m, size_t i, uint64_t *id);
int sb_msg_take_fd(struct sb_msg *m, size_t i);
void sb_msg_release(struct sb_msg *m);

struct sb_conn;
struct sb_service;
struct sb_call;
struct sb_sub;

/*
 * A connection: a peer that holds a handle to the registry, with its
 * services and subscriptions. sb_conn_new() takes over @peer.
 */
int sb_conn_new(struct sb_conn **cp, struct bus1_peer *peer,
		uint64_t registry);
void sb_conn_free(struct sb_conn *c);
/*
 * Free the connection in a process that shares its peer fd with another
 * (after fork()): close the fd and free the memory, leaving the nodes and
 * handles to the other process.
 */
void sb_conn_close(struct sb_conn *c);
struct bus1_peer *sb_conn_peer(struct sb_conn *c);
uint64_t sb_conn_registry(struct sb_conn *c);

/*
 * Start a participant: a new peer fd (not close-on-exec) that holds a
 * handle to the registry, *@registry its ID there. A process started
 * with it calls sb_conn_from_env() after sb_env_set(), or
 * sb_conn_from_fd().
 */
int sb_conn_new_peer_fd(struct sb_conn *c, int *fd, uint64_t *registry);
int sb_conn_from_fd(struct sb_conn **cp, int fd, uint64_t registry);
#define SB_ENV			"SVCBUS_PEER"	/* "FD:REGISTRY-HANDLE" */
int sb_env_set(int fd, uint64_t registry);
int sb_conn_from_env(struct sb_conn **cp);

/*
 * Outgoing message content: the body (NULL: empty) and what it passes.
 * The fds are those the body's 'h' values index.
 */
struct sb_args {
	struct sb_writer *body;
	const uint64_t *handles;
	size_t n_handles;
	const int *fds;
	size_t n_fds;
};

/*
 * Call @member of @iface at @path on the service behind handle @dest and
 * wait up to @timeout_ms (-1: no limit) for its answer, received into
 * @reply (whose previous message is released; NULL: dropped at once,
 * capabilities and all). Returns 0 for a method
 * return, -EREMOTEIO for an error reply (its name in
 * reply->rd.error_name, its message, if any, the body's first string),
 * -EPIPE if the service dropped the call without an answer (it died),
 * -ETIMEDOUT, -EHOSTUNREACH if the service is gone, or another -errno.
 * Passed fds are installed in @reply when @flags has BUS1_PEER_RECV_FDS.
 */
int sb_call(struct sb_conn *c, uint64_t dest, const char *path,
	    const char *iface, const char *member, const struct sb_args *args,
	    struct sb_msg *reply, int timeout_ms, unsigned int flags);
/* The error message of an error reply, or "" if it carries none. */
const char *sb_error_message(struct sb_msg *reply);

/*
 * The registry, as a client. sb_register() registers @name for @svc; the
 * name stays until sb_unregister(), or the service's node is destroyed
 * (the service freed, or its process gone). sb_lookup() stores a handle
 * to the service's node in *@handle (-ENOENT if no such name is
 * registered; with SB_LOOKUP_WAIT it waits until one is), which the
 * caller releases with sb_handle_release() when done.
 */
int sb_register(struct sb_conn *c, struct sb_service *svc, const char *name);
int sb_unregister(struct sb_conn *c, struct sb_service *svc);
int sb_lookup(struct sb_conn *c, const char *name, unsigned int flags,
	      int timeout_ms, uint64_t *handle);
int sb_handle_release(struct sb_conn *c, uint64_t handle);

/*
 * A method of a service, called for each call of @member whose body has
 * signature @signature ("" for none). The method answers with
 * sb_reply() or sb_reply_error() before it returns, or returns -errno,
 * which answers with SB_ERR_FAILED and strerror(); SB_REPLY_LATER keeps
 * the call for sb_reply*() later (sb_call_keep() must have been called).
 */
#define SB_REPLY_LATER		1
struct sb_method {
	const char *member;
	const char *signature;
	int (*fn)(struct sb_conn *c, struct sb_call *call, void *userdata);
};

/*
 * Create a service object: a new node at @path with interface @iface
 * and its @n_methods @methods (which must stay valid). Passed fds are
 * installed for its methods to take (sb_msg_take_fd()).
 */
int sb_service_new(struct sb_conn *c, const char *path, const char *iface,
		   const struct sb_method *methods, size_t n_methods,
		   void *userdata, struct sb_service **svcp);
/* Destroy the node (every holder hears of it) and free the service. */
void sb_service_free(struct sb_service *svc);
uint64_t sb_service_node(const struct sb_service *svc);
unsigned int sb_service_subscribers(const struct sb_service *svc);

/*
 * A call being answered: its message, valid while its method runs.
 * sb_call_keep() keeps the call (not its message) for an answer after
 * the method returned SB_REPLY_LATER; NULL if out of memory.
 */
struct sb_msg *sb_call_msg(struct sb_call *call);
struct sb_call *sb_call_keep(struct sb_call *call);
/* Answer @call and free it if it was kept. */
int sb_reply(struct sb_conn *c, struct sb_call *call,
	     const struct sb_args *args);
int sb_reply_error(struct sb_conn *c, struct sb_call *call, const char *name,
		   const char *message);
/* Free a kept call without an answer: the caller gets -EPIPE. */
void sb_call_drop(struct sb_conn *c, struct sb_call *call);

/*
 * Emit signal @member (interface and path of @svc) to every subscriber,
 * in one multicast. Returns the number of subscribers that got it. One
 * that cannot take it (its quota or pool is full: -EDQUOT, -ENOSPC) is
 * skipped and its misses counted; one whose node is gone is dropped.
 */
int sb_emit(struct sb_conn *c, struct sb_service *svc, const char *member,
	    const struct sb_args *args);
/*
 * Subscriber @i (in subscription order): how many signals it missed and
 * the -errno of the last miss (0 if none). -ENOENT if there is none.
 */
int sb_service_subscriber(const struct sb_service *svc, unsigned int i,
			  uint64_t *misses, int *last_error);

/*
 * Subscribe to the signals of the service behind handle @service: a new
 * sink node whose handle goes to the service. @fn sees each signal (the
 * message is released when it returns). sb_sub_free() destroys the
 * sink, which ends the subscription on the service's side too.
 */
typedef int (*sb_signal_fn)(struct sb_conn *c, struct sb_msg *sig,
			    void *userdata);
int sb_subscribe(struct sb_conn *c, uint64_t service, sb_signal_fn fn,
		 void *userdata, struct sb_sub **subp);
void sb_sub_free(struct sb_sub *sub);
uint64_t sb_sub_node(const struct sb_sub *sub);

/*
 * Notices the library does not handle itself: @fn is called with
 * BUS1_MSG_NODE_DESTROY and the handle's ID when the node of a handle the
 * connection holds (a service looked up, for one) is destroyed, its
 * death notice (the handle stays held until sb_handle_release()); and
 * with BUS1_MSG_NODE_RELEASE and the node's ID when nobody else holds a
 * node of the connection. IDs it does not know are for the callee to
 * ignore.
 */
typedef void (*sb_notice_fn)(struct sb_conn *c, uint64_t type, uint64_t id,
			     void *userdata);
void sb_conn_on_notice(struct sb_conn *c, sb_notice_fn fn, void *userdata);

/*
 * Handle what arrives: calls to the services, signals to the
 * subscriptions, notices. sb_process() waits up to @timeout_ms (-1: no
 * limit; 0: not at all) for an entry: without a limit it handles the
 * next one, else all that are ready; it returns how many it handled, 0
 * if none came, or -errno. sb_dispatch() handles all that are ready
 * without waiting and returns their number. Neither may be called from
 * a method or signal handler.
 */
int sb_process(struct sb_conn *c, int timeout_ms);
int sb_dispatch(struct sb_conn *c);

/*
 * The registry: a peer that owns the registry node. sb_registry_new()
 * creates it; sb_registry_new_peer_fd() creates a participant's peer as
 * sb_conn_new_peer_fd() does; sb_registry_run() serves until nobody but
 * the registry holds its node any more (or an error).
 */
struct sb_registry;
int sb_registry_new(struct sb_registry **rp);
void sb_registry_free(struct sb_registry *r);
void sb_registry_close(struct sb_registry *r);	/* as sb_conn_close() */
int sb_registry_new_peer_fd(struct sb_registry *r, int *fd,
			    uint64_t *registry);
int sb_registry_run(struct sb_registry *r);
/* Serve what is ready, without waiting: for a registry in an event loop. */
int sb_registry_dispatch(struct sb_registry *r);
int sb_registry_fd(const struct sb_registry *r);
unsigned int sb_registry_names(const struct sb_registry *r);

#ifdef __cplusplus
}
#endif

#endif /* SVCBUS_H */
