/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bus1 trace events: messages as they are sent and received, notices as
 * they are queued, and charges that are refused. A peer is named by the
 * inode number of its file, a queue entry by the timestamp it committed
 * at in the global order (see ipc/bus1/queue.c). The events are defined
 * in ipc/bus1/trace.c.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM bus1

#if !defined(_TRACE_BUS1_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_BUS1_H

#include <linux/tracepoint.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <uapi/linux/bus1.h>

struct bus1_quota;

#define show_bus1_msg_type(type)					\
	__print_symbolic(type,						\
			 { BUS1_MSG_DATA,		"data" },	\
			 { BUS1_MSG_NODE_DESTROY,	"node_destroy" }, \
			 { BUS1_MSG_NODE_RELEASE,	"node_release" })

/*
 * A message committed to one destination of a send, from the peer @sender
 * to the peer @receiver: one event per destination that gets it, all of
 * one send at the same @ts. @handle is the sender's ID of the destination,
 * @destination the receiver's.
 */
TRACE_EVENT(bus1_send,
	    TP_PROTO(u64 sender, u64 receiver, u64 handle, u64 destination,
		     u64 ts, u64 size, u32 n_handles, u32 n_fds),
	    TP_ARGS(sender, receiver, handle, destination, ts, size,
		    n_handles, n_fds),
	    TP_STRUCT__entry(__field(u64, sender)
			     __field(u64, receiver)
			     __field(u64, handle)
			     __field(u64, destination)
			     __field(u64, ts)
			     __field(u64, size)
			     __field(u32, n_handles)
			     __field(u32, n_fds)),
	    TP_fast_assign(__entry->sender = sender;
			   __entry->receiver = receiver;
			   __entry->handle = handle;
			   __entry->destination = destination;
			   __entry->ts = ts;
			   __entry->size = size;
			   __entry->n_handles = n_handles;
			   __entry->n_fds = n_fds),
	    TP_printk("sender=%llu receiver=%llu handle=%llu destination=%llu ts=%llu size=%llu n_handles=%u n_fds=%u",
		      __entry->sender, __entry->receiver, __entry->handle,
		      __entry->destination, __entry->ts, __entry->size,
		      __entry->n_handles, __entry->n_fds)
);

/* A queue entry committed at @ts that bus1_recv() returned as @out. */
TRACE_EVENT(bus1_recv,
	    TP_PROTO(u64 receiver, u64 ts, const struct bus1_recv *out),
	    TP_ARGS(receiver, ts, out),
	    TP_STRUCT__entry(__field(u64, receiver)
			     __field(u64, destination)
			     __field(u64, ts)
			     __field(u64, size)
			     __field(u32, type)
			     __field(u32, n_handles)
			     __field(u32, n_fds)),
	    TP_fast_assign(__entry->receiver = receiver;
			   __entry->destination = out->destination;
			   __entry->ts = ts;
			   __entry->size = out->size;
			   __entry->type = out->type;
			   __entry->n_handles = out->n_handles;
			   __entry->n_fds = out->n_fds),
	    TP_printk("receiver=%llu type=%s destination=%llu ts=%llu size=%llu n_handles=%u n_fds=%u",
		      __entry->receiver, show_bus1_msg_type(__entry->type),
		      __entry->destination, __entry->ts, __entry->size,
		      __entry->n_handles, __entry->n_fds)
);

/*
 * A notice queued at @ts: the destruction of a node, to a holder of a
 * handle to it, or the release of a node, to its owner. @destination is
 * the receiver's ID of the handle; 0 for a handle that its holder is
 * receiving in that moment and that has no ID yet.
 */
TRACE_EVENT(bus1_notice,
	    TP_PROTO(u64 receiver, u32 type, u64 destination, u64 ts),
	    TP_ARGS(receiver, type, destination, ts),
	    TP_STRUCT__entry(__field(u64, receiver)
			     __field(u64, destination)
			     __field(u64, ts)
			     __field(u32, type)),
	    TP_fast_assign(__entry->receiver = receiver;
			   __entry->destination = destination;
			   __entry->ts = ts;
			   __entry->type = type),
	    TP_printk("receiver=%llu type=%s destination=%llu ts=%llu",
		      __entry->receiver, show_bus1_msg_type(__entry->type),
		      __entry->destination, __entry->ts)
);

/*
 * A charge refused: @limit names the sysctl that refused it, or "pool"
 * for a receive pool without a free range of @amount bytes.
 */
TRACE_EVENT(bus1_quota_refused,
	    TP_PROTO(const struct bus1_quota *quota, kuid_t from,
		     const char *limit, u64 amount, u64 used, u64 max,
		     u64 share, u64 users, int err),
	    TP_ARGS(quota, from, limit, amount, used, max, share, users, err),
	    TP_STRUCT__entry(__field(u64, peer)
			     __field(u64, amount)
			     __field(u64, used)
			     __field(u64, max)
			     __field(u64, share)
			     __field(u64, users)
			     __field(u32, uid)
			     __field(u32, from)
			     __field(int, err)
			     __string(limit, limit)),
	    TP_fast_assign(__entry->peer = quota->peer_id;
			   __entry->amount = amount;
			   __entry->used = used;
			   __entry->max = max;
			   __entry->share = share;
			   __entry->users = users;
			   __entry->uid = from_kuid(&init_user_ns,
						    quota->user->uid);
			   __entry->from = from_kuid(&init_user_ns, from);
			   __entry->err = err;
			   __assign_str(limit)),
	    TP_printk("peer=%llu uid=%u from=%u limit=%s amount=%llu used=%llu max=%llu share=%llu users=%llu err=%d",
		      __entry->peer, __entry->uid, __entry->from,
		      __get_str(limit), __entry->amount, __entry->used,
		      __entry->max, __entry->share, __entry->users,
		      __entry->err)
);

#endif /* _TRACE_BUS1_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
