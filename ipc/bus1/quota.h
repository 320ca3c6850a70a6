/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_QUOTA_H
#define __BUS1_QUOTA_H

/*
 * Quotas: what a message, a handle or a passed file pins in a receiver is
 * charged to the receiver and its user, attributed to the sending user,
 * and a sending user gets only a fair share of what the receiver, and
 * the receiver's user, have left. A receiver draws from its user's limit
 * in batches, so that its charges take its own lock only.
 */

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/overflow.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>

struct seq_file;

/*
 * How many records of one charging user on a user's peers may draw ahead
 * and keep a reserve at once: what the reserves of one charging user take
 * from a user limit is at most this many times two batches, a 32nd of it.
 * Enough for a sender that multicasts to 64 peers of one user.
 */
#define BUS1_QUOTA_BATCHED_MAX	64

/* The resources a receiver's user is charged for. */
enum bus1_resource {
	BUS1_RES_BYTES,		/* pool bytes of allocated slices */
	BUS1_RES_SLICES,	/* allocated slices */
	BUS1_RES_MESSAGES,	/* data messages queued */
	BUS1_RES_HANDLES,	/* handles held, and carried by queued messages */
	BUS1_RES_FDS,		/* files carried by queued messages */
	BUS1_RES_N,
};

/**
 * struct bus1_user - the accounting of one user
 * @ref:	one reference per peer of the user
 * @link:	entry in the table of users, under its lock
 * @uid:	the user; a peer belongs to the real uid that created it
 * @n_peers:	number of peers of the user, counted from their creation
 *		to the end of their teardown; raised under the lock of the
 *		table of users, lowered without it
 * @lock:	protects @usages, @used, @n_users, @n_usages and @spare,
 *		and every struct bus1_user_usage in @usages
 * @usages:	one struct bus1_user_usage per user charging this one, by
 *		uid
 * @used:	what the user's peers have drawn from its limits in total,
 *		per resource: their charges and their reserves
 * @n_users:	per resource, the number of @usages that draw on it
 * @n_usages:	number of entries in @usages
 * @spare:	an emptied struct bus1_user_usage kept for the next user
 *		that starts charging this one, or NULL: a request and its
 *		reply would otherwise allocate and free one per message.
 *		Freed with the user; stays charged to the memory cgroup that
 *		allocated it
 *
 * @lock is a spinlock taken innermost, under the lock of one of the
 * user's peers' struct bus1_quota: charges are returned where slices are
 * freed, under the lock of a slice allocator. It is taken when a record
 * of a peer draws from the user or gives back (see quota.c), and by
 * fdinfo: the lock of the user is the one bus1 lock that peers which
 * never talk may share on the message path.
 */
struct bus1_user {
	struct kref ref;
	struct hlist_node link;
	kuid_t uid;
	atomic_t n_peers;
	spinlock_t lock;	/* guards the charges of the user */
	struct rb_root usages;
	u64 used[BUS1_RES_N];
	u64 n_users[BUS1_RES_N];
	u64 n_usages;
	struct bus1_user_usage *spare;
};

/**
 * struct bus1_user_usage - what one user charged another, over its peers
 * @rb:		entry in bus1_user.usages of the charged user
 * @uid:	the charging (sending) user
 * @used:	what its charges drew, per resource: the charges and the
 *		reserves of its struct bus1_usage of every peer of the
 *		charged user
 * @n_resources: number of resources with something in @used
 * @n_batched:	number of its struct bus1_usage that draw ahead, at most
 *		BUS1_QUOTA_BATCHED_MAX
 *
 * Is in bus1_user.usages exactly while one of its struct bus1_usage is.
 * Protected by the lock of the charged user.
 */
struct bus1_user_usage {
	struct rb_node rb;
	kuid_t uid;
	u64 used[BUS1_RES_N];
	unsigned int n_resources;
	unsigned int n_batched;
};

/**
 * struct bus1_usage - what one user charged one peer
 * @rb:		entry in bus1_quota.usages of the charged peer
 * @uid:	the charging (sending) user
 * @used:	what it charged, per resource
 * @reserve:	what it drew from @total but has not charged yet, per
 *		resource: charges take from it first, and returned charges
 *		go back to it, up to twice a batch (bus1_quota_batch()), if
 *		it draws ahead; 0 between calls if it does not
 * @n_resources: number of resources with a charge in @used
 * @batched:	whether it draws ahead and keeps a reserve: counted in
 *		@total's n_batched, under the lock of the peer's user
 * @returned:	whether a charge of it was returned: only then may it
 *		draw ahead
 * @total:	the same user's struct bus1_user_usage of the peer's user,
 *		which @used and @reserve are a part of
 *
 * Is in bus1_quota.usages exactly while something is charged in it, so an
 * object that holds a charge can keep a plain pointer to it; its reserve
 * goes back to @total with its last charge. Protected by the lock of the
 * charged peer's struct bus1_quota; @total is set before it is added and
 * never changes.
 */
struct bus1_usage {
	struct rb_node rb;
	kuid_t uid;
	u64 used[BUS1_RES_N];
	u64 reserve[BUS1_RES_N];
	unsigned int n_resources;
	bool batched;
	bool returned;
	struct bus1_user_usage *total;
};

/**
 * struct bus1_quota - what one peer is charged as a receiver
 * @user:	the peer's user, a counted reference
 * @lock:	protects @usages, @used, @n_users, @n_usages, @spare and
 *		every struct bus1_usage in @usages
 * @usages:	one struct bus1_usage per user charging the peer, by uid
 * @used:	what the peer is charged, per resource
 * @n_users:	per resource, the number of @usages that charge it
 * @n_usages:	number of entries in @usages
 * @spare:	an emptied struct bus1_usage kept for the next user that
 *		starts charging the peer, or NULL, as bus1_user.spare
 * @peer_id:	what trace events name the peer by, the inode number of
 *		its file (bus1_peer_id()); 0 until the peer has a file
 * @counted:	whether the peer counts against user_max_peers; cleared
 *		once, by the peer's teardown
 *
 * Embedded in a peer; @user is set at creation and never changes, nor
 * does @peer_id once it is set, before the peer can be reached.
 * @counted is only changed at creation and by the teardown. @lock is a
 * spinlock taken innermost but for the lock of @user, which is taken
 * under it, and is never held with the @lock of another peer.
 */
struct bus1_quota {
	struct bus1_user *user;
	spinlock_t lock;	/* guards the charges of the peer */
	struct rb_root usages;
	u64 used[BUS1_RES_N];
	u64 n_users[BUS1_RES_N];
	u64 n_usages;
	struct bus1_usage *spare;
	u64 peer_id;
	bool counted;
};

int bus1_quota_init(struct bus1_quota *quota, kuid_t uid);
void bus1_quota_leave(struct bus1_quota *quota);
void bus1_quota_deinit(struct bus1_quota *quota);
int bus1_quota_charge(struct bus1_quota *quota, kuid_t from,
		      const u64 *amount, struct bus1_usage **usage);
int bus1_quota_charge_message(struct bus1_quota *quota, kuid_t from,
			      u64 bytes, u64 n_handles, u64 n_fds,
			      struct bus1_usage **usage);
void bus1_quota_uncharge(struct bus1_quota *quota, struct bus1_usage *usage,
			 const u64 *amount);
void bus1_quota_uncharge_message(struct bus1_quota *quota,
				 struct bus1_usage *usage, u64 n_handles,
				 u64 n_fds);
void bus1_quota_uncharge_slice(struct bus1_quota *quota,
			       struct bus1_usage *usage, u64 bytes);
void bus1_quota_uncharge_received(struct bus1_quota *quota,
				  struct bus1_usage *usage, u64 n_handles,
				  u64 n_fds, struct bus1_usage *slice_usage,
				  u64 slice_bytes);
void bus1_quota_uncharge_one(struct bus1_quota *quota,
			     struct bus1_usage *usage,
			     enum bus1_resource res, u64 n);
void bus1_quota_show_fdinfo(struct bus1_quota *quota, struct seq_file *m);
u64 bus1_quota_batch(enum bus1_resource res);

/**
 * bus1_quota_fits() - whether a charge is within a user's fair share
 * @limit:	the limit of the charged peer, or of the charged user
 * @used:	what the charged peer, or user, is charged in total
 * @share:	what the charging user has charged it already
 * @n_users:	number of users charging it, the charging user included
 * @amount:	the charge, more than 0
 *
 * Any value is allowed: @used may exceed a @limit lowered meanwhile, and
 * nothing may overflow.
 *
 * Return: true if @share + @amount <= (@limit - @used - @amount) / @n_users.
 */
static inline bool bus1_quota_fits(u64 limit, u64 used, u64 share,
				   u64 n_users, u64 amount)
{
	u64 want;

	if (!n_users || used > limit || amount > limit - used)
		return false;
	/*
	 * For whole numbers, y <= x / k (rounded down) if and only if
	 * y * k <= x: this check runs at every send, and a multiplication
	 * costs a fraction of a division.
	 */
	if (check_add_overflow(share, amount, &want) ||
	    check_mul_overflow(want, n_users, &want))
		return false;
	return want <= limit - used - amount;
}

/**
 * bus1_quota_uid() - the user a peer belongs to
 * @quota:	the peer's quota
 *
 * Return: the uid its charges to others are attributed to.
 */
static inline kuid_t bus1_quota_uid(struct bus1_quota *quota)
{
	return quota->user->uid;
}

#endif /* __BUS1_QUOTA_H */
