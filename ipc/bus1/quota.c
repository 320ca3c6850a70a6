// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 quotas
 *
 * Whatever a message pins in its receiver (pool bytes and a slice, a
 * queue entry, the handles and files it carries) and every handle a peer
 * holds is charged to the receiver's user, attributed to the user that
 * caused it: the sender, the peer that transferred the handle, or the
 * receiver itself for the nodes it creates. The charge is returned when
 * the receiver is done with it: when it receives the message, releases
 * the slice or the handle, or disconnects.
 *
 * A charge of c units of a resource fits if it fits at two levels, the
 * receiving peer with the per-peer limit and the receiving user with the
 * per-user limit: at each, with L the limit, U what is charged in total,
 * s what the charging user has charged already and k the number of users
 * charging, the charging user included,
 *
 *	s + c <= (L - U - c) / k
 *
 * A user may hold at most a k-th of what is left after its charge. The
 * n users charging a peer, or a user, together leave at least L / (n + 1)
 * of it free: ordered by the time of their last charge, the i-th saw at
 * least i users and at least what the i - 1 before it left, R, so it took
 * at most R / (i + 1), and left R * i / (i + 1). Any further user can then
 * always charge at least L / ((n + 1) * (n + 2)). Returning charges only
 * widens this. No sender can exhaust a peer or a user alone: a single one
 * gets half. The two levels need two records per charging user: a struct
 * bus1_usage of the peer, which the charged objects point to, and the
 * struct bus1_user_usage of the user that it adds up into.
 *
 * The peer level is kept under the peer's own lock. So that peers of one
 * user that never talk share no lock and write no common memory when they
 * charge and return, the user level is not charged charge by charge: a
 * peer's record of a charging user draws from the user ahead of need, a
 * batch of a 4096th of the user limit at a time, and charges from that
 * reserve. A draw is judged by the rule above, with the reserves counted
 * as charges of their user: if a batch more does not fit, the draw takes
 * only what the charge needs, so a user still gets exactly its fair
 * share, and the floor above holds. Returned charges go back to the
 * reserve, which keeps at most two batches and gives the rest back; the
 * record gives all of it back with its last charge. Only a draw and a
 * give-back take the user's lock: a pair whose records keep a charge
 * between messages (a handle the other gave, a slice not released yet)
 * takes it only when it starts and stops.
 *
 * So that reserves cannot pile up in records that charge once and keep
 * it (the handle of every peer's own node), a record draws ahead only
 * once it has returned a charge and charges again; and at most
 * BUS1_QUOTA_BATCHED_MAX records of one charging user on a user's peers
 * draw ahead at once, from their first batch to their last charge. Every
 * other record draws what a charge needs and gives back what a return
 * frees, under the user's lock each time, as if there were no batches.
 * The reserves of one charging user thus take at most a 32nd of a user
 * limit, and count in its share; counting the records per charging user
 * keeps one user from taking the batches of another.
 *
 * The limits are sysctls under /proc/sys/kernel/bus1/. Each user's
 * accounting lives in a struct bus1_user with its own lock; the only
 * global state is the table that finds it when a peer is created.
 *
 * The peers themselves are bounded per user too, by user_max_peers: each
 * costs kernel memory (the peer, its file and inode, its pool's shmem
 * file) that no charge above covers, and files are bounded only per
 * process and system-wide. A peer counts until its teardown, not until
 * its pool goes: a send stalled in its copy keeps the pool of a torn
 * down receiver (see tx.c), and counting it would let a stalled sender
 * of another user hold the receiver's user at its limit. What such a
 * pool holds stays charged to the memory cgroup of the receiver's
 * creator, and each stalled send is a blocked thread of the sender.
 */

#include <linux/cred.h>
#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/init.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <linux/user_namespace.h>
#include <trace/events/bus1.h>
#include <uapi/linux/bus1.h>
#include "quota.h"

static const char *const bus1_resource_names[BUS1_RES_N] = {
	[BUS1_RES_BYTES]	= "bytes",
	[BUS1_RES_SLICES]	= "slices",
	[BUS1_RES_MESSAGES]	= "messages",
	[BUS1_RES_HANDLES]	= "handles",
	[BUS1_RES_FDS]		= "fds",
};

/*
 * The limits, per user and per peer. A peer's limit is never above its
 * user's; each is at least 1. Read without a lock: a charge uses the
 * values it sees.
 */
static unsigned int bus1_user_max[BUS1_RES_N] = {
	[BUS1_RES_BYTES]	= 16 * BUS1_POOL_SIZE,
	[BUS1_RES_SLICES]	= 65536,
	[BUS1_RES_MESSAGES]	= 65536,
	[BUS1_RES_HANDLES]	= 65536,
	[BUS1_RES_FDS]		= 4096,
};

static unsigned int bus1_peer_max[BUS1_RES_N] = {
	[BUS1_RES_BYTES]	= BUS1_POOL_SIZE,
	[BUS1_RES_SLICES]	= 16384,
	[BUS1_RES_MESSAGES]	= 16384,
	[BUS1_RES_HANDLES]	= 16384,
	[BUS1_RES_FDS]		= 1024,
};

/*
 * The peers a user may have at once. A peer takes a few KiB of kernel
 * memory, its pool's pages aside; a user's 4096 peers thus take some
 * 16 MiB at most, more than any of its programs need at once.
 */
static unsigned int bus1_user_max_peers = 4096;

/* The limits by the names of their sysctls, which trace events use too. */
static const char *const bus1_user_limit_names[BUS1_RES_N] = {
	"user_max_bytes", "user_max_slices", "user_max_messages",
	"user_max_handles", "user_max_fds",
};

static const char *const bus1_peer_limit_names[BUS1_RES_N] = {
	"peer_max_bytes", "peer_max_slices", "peer_max_messages",
	"peer_max_handles", "peer_max_fds",
};

/* A peer draws a 4096th of a user limit at a time; see bus1_quota_batch(). */
#define BUS1_QUOTA_BATCH_SHIFT	12

/* Every user that has a peer, by uid. */
static DEFINE_HASHTABLE(bus1_users, 6);
static DEFINE_MUTEX(bus1_users_lock);

/*
 * The lock classes of the two quota locks, named so that lock statistics
 * tell them from other locks named alike.
 */
static struct lock_class_key bus1_user_lock_key;
static struct lock_class_key bus1_quota_lock_key;

static int bus1_usage_cmp(const void *key, const struct rb_node *n)
{
	const kuid_t *uid = key;
	kuid_t other = rb_entry(n, struct bus1_usage, rb)->uid;

	return uid_lt(*uid, other) ? -1 : uid_gt(*uid, other);
}

static bool bus1_usage_less(struct rb_node *a, const struct rb_node *b)
{
	return uid_lt(rb_entry(a, struct bus1_usage, rb)->uid,
		      rb_entry(b, struct bus1_usage, rb)->uid);
}

static int bus1_user_usage_cmp(const void *key, const struct rb_node *n)
{
	const kuid_t *uid = key;
	kuid_t other = rb_entry(n, struct bus1_user_usage, rb)->uid;

	return uid_lt(*uid, other) ? -1 : uid_gt(*uid, other);
}

static bool bus1_user_usage_less(struct rb_node *a, const struct rb_node *b)
{
	return uid_lt(rb_entry(a, struct bus1_user_usage, rb)->uid,
		      rb_entry(b, struct bus1_user_usage, rb)->uid);
}

/* What @uid charged the peer of @quota, or NULL. */
static struct bus1_usage *bus1_usage_find(struct bus1_quota *quota,
					  kuid_t uid)
{
	struct rb_node *n;

	lockdep_assert_held(&quota->lock);
	n = rb_find(&uid, &quota->usages, bus1_usage_cmp);
	return n ? rb_entry(n, struct bus1_usage, rb) : NULL;
}

/* What @uid drew from @user over all its peers, or NULL. */
static struct bus1_user_usage *bus1_user_usage_find(struct bus1_user *user,
						    kuid_t uid)
{
	struct rb_node *n;

	lockdep_assert_held(&user->lock);
	n = rb_find(&uid, &user->usages, bus1_user_usage_cmp);
	return n ? rb_entry(n, struct bus1_user_usage, rb) : NULL;
}

/**
 * bus1_quota_batch() - what a peer draws from its user ahead of need
 * @res:	the resource
 *
 * A 4096th of the user limit, rounded down: 0, so every charge is drawn
 * as it comes, for a limit below 4096.
 *
 * Return: the batch of @res.
 */
u64 bus1_quota_batch(enum bus1_resource res)
{
	return READ_ONCE(bus1_user_max[res]) >> BUS1_QUOTA_BATCH_SHIFT;
}

/*
 * The charge and its return run for every message, with amounts that are
 * mostly constants. They are inlined into their entry points and applied
 * to each resource by name, not in a loop, so that the compiler drops
 * what an entry point never charges: a message charges three of the five
 * resources, and returns one or two at a time. The generic entry points
 * take any amounts.
 */

/* Whether @amount of resource @i fits the peer's fair share of @u. */
static __always_inline bool bus1_quota_peer_fits(int i,
						 struct bus1_quota *quota,
						 struct bus1_usage *u,
						 const u64 *amount)
{
	u64 share = u ? u->used[i] : 0;

	return !amount[i] ||
	       bus1_quota_fits(READ_ONCE(bus1_peer_max[i]), quota->used[i],
			       share, quota->n_users[i] + !share, amount[i]);
}

/* Whether the reserve of @u holds @amount of resource @i. */
static __always_inline bool bus1_usage_covers(int i, struct bus1_usage *u,
					      const u64 *amount)
{
	return amount[i] <= u->reserve[i];
}

/*
 * What a charge of @amount of resource @i by @u (NULL: new) must draw from
 * the user, where @t (NULL: new) is its part: nothing if the reserve of @u
 * holds it, else what is missing and, if @may_batch, a batch, setting
 * *@ahead; what is missing alone if the batch does not fit @t's fair share
 * of the user, and U64_MAX if that does not fit either. A limit is at most
 * UINT_MAX, so no draw that fits is U64_MAX.
 */
static __always_inline u64 bus1_quota_draw_one(int i, struct bus1_user *user,
					       struct bus1_usage *u,
					       struct bus1_user_usage *t,
					       const u64 *amount,
					       bool may_batch, bool *ahead)
{
	u64 limit = READ_ONCE(bus1_user_max[i]), have = u ? u->reserve[i] : 0;
	u64 share = t ? t->used[i] : 0, n = user->n_users[i] + !share;
	u64 batch = limit >> BUS1_QUOTA_BATCH_SHIFT, need, more;

	if (amount[i] <= have)
		return 0;
	need = amount[i] - have;
	if (may_batch && batch && !check_add_overflow(need, batch, &more) &&
	    bus1_quota_fits(limit, user->used[i], share, n, more)) {
		*ahead = true;
		return more;
	}
	return bus1_quota_fits(limit, user->used[i], share, n, need) ?
	       need : U64_MAX;
}

/* Move @d of resource @i from the user to @t, and so into a reserve. */
static __always_inline void bus1_user_add_one(int i, struct bus1_user *user,
					      struct bus1_user_usage *t, u64 d)
{
	lockdep_assert_held(&user->lock);
	if (!d)
		return;
	if (!t->used[i]) {
		user->n_users[i]++;
		t->n_resources++;
	}
	t->used[i] += d;
	user->used[i] += d;
}

/* Give @d of resource @i of @t back to the user. */
static __always_inline void bus1_user_sub_one(int i, struct bus1_user *user,
					      struct bus1_user_usage *t, u64 d)
{
	lockdep_assert_held(&user->lock);
	/* A reserve is a part of its @t, which is a part of @user. */
	if (!d || WARN_ON(d > t->used[i]))
		return;
	t->used[i] -= d;
	user->used[i] -= d;
	if (!t->used[i]) {
		user->n_users[i]--;
		t->n_resources--;
	}
}

/* Charge @amount of resource @i to @quota, out of the reserve of @u. */
static __always_inline void bus1_quota_add_one(int i, struct bus1_quota *quota,
					       struct bus1_usage *u,
					       const u64 *amount)
{
	u64 c = amount[i];

	if (!c)
		return;
	if (!u->used[i]) {
		quota->n_users[i]++;
		u->n_resources++;
	}
	u->reserve[i] -= c;
	u->used[i] += c;
	quota->used[i] += c;
}

/* Return @amount of resource @i of @quota, to the reserve of @u. */
static __always_inline void bus1_quota_sub_one(int i, struct bus1_quota *quota,
					       struct bus1_usage *u,
					       const u64 *amount)
{
	u64 c = amount[i];

	/* @u is a part of @quota. */
	if (!c || WARN_ON(c > u->used[i]))
		return;
	u->used[i] -= c;
	quota->used[i] -= c;
	u->reserve[i] += c;
	if (!u->used[i]) {
		quota->n_users[i]--;
		u->n_resources--;
	}
}

/* The resources by name, in the order of enum bus1_resource. */
static_assert(BUS1_RES_N == 5, "every resource is named below");

/* Whether every resource of @amount fits the peer's fair share of @u. */
static __always_inline bool bus1_quota_peer_fits_all(struct bus1_quota *quota,
						     struct bus1_usage *u,
						     const u64 *amount)
{
	lockdep_assert_held(&quota->lock);
	return bus1_quota_peer_fits(BUS1_RES_BYTES, quota, u, amount) &&
	       bus1_quota_peer_fits(BUS1_RES_SLICES, quota, u, amount) &&
	       bus1_quota_peer_fits(BUS1_RES_MESSAGES, quota, u, amount) &&
	       bus1_quota_peer_fits(BUS1_RES_HANDLES, quota, u, amount) &&
	       bus1_quota_peer_fits(BUS1_RES_FDS, quota, u, amount);
}

/* Whether the reserve of @u (NULL: new) holds all of @amount. */
static __always_inline bool bus1_usage_covers_all(struct bus1_usage *u,
						  const u64 *amount)
{
	return u && bus1_usage_covers(BUS1_RES_BYTES, u, amount) &&
	       bus1_usage_covers(BUS1_RES_SLICES, u, amount) &&
	       bus1_usage_covers(BUS1_RES_MESSAGES, u, amount) &&
	       bus1_usage_covers(BUS1_RES_HANDLES, u, amount) &&
	       bus1_usage_covers(BUS1_RES_FDS, u, amount);
}

static __always_inline void bus1_quota_add_all(struct bus1_quota *quota,
					       struct bus1_usage *u,
					       const u64 *amount)
{
	lockdep_assert_held(&quota->lock);
	bus1_quota_add_one(BUS1_RES_BYTES, quota, u, amount);
	bus1_quota_add_one(BUS1_RES_SLICES, quota, u, amount);
	bus1_quota_add_one(BUS1_RES_MESSAGES, quota, u, amount);
	bus1_quota_add_one(BUS1_RES_HANDLES, quota, u, amount);
	bus1_quota_add_one(BUS1_RES_FDS, quota, u, amount);
}

static __always_inline void bus1_quota_sub_all(struct bus1_quota *quota,
					       struct bus1_usage *u,
					       const u64 *amount)
{
	lockdep_assert_held(&quota->lock);
	bus1_quota_sub_one(BUS1_RES_BYTES, quota, u, amount);
	bus1_quota_sub_one(BUS1_RES_SLICES, quota, u, amount);
	bus1_quota_sub_one(BUS1_RES_MESSAGES, quota, u, amount);
	bus1_quota_sub_one(BUS1_RES_HANDLES, quota, u, amount);
	bus1_quota_sub_one(BUS1_RES_FDS, quota, u, amount);
}

/*
 * Tell the trace which peer limit refused @amount, charged by @from: the
 * first resource over its fair share. Lock held; only called while the
 * trace event is on.
 */
static noinline void bus1_quota_trace_peer_refused(struct bus1_quota *quota,
						   struct bus1_usage *u,
						   kuid_t from,
						   const u64 *amount)
{
	u64 share;
	int i;

	for (i = 0; i < BUS1_RES_N; i++)
		if (!bus1_quota_peer_fits(i, quota, u, amount))
			break;
	/* A limit raised meanwhile fits now. */
	if (i == BUS1_RES_N)
		return;
	share = u ? u->used[i] : 0;
	trace_bus1_quota_refused(quota, from, bus1_peer_limit_names[i],
				 amount[i], quota->used[i],
				 READ_ONCE(bus1_peer_max[i]), share,
				 quota->n_users[i] + !share, -EDQUOT);
}

/*
 * The same for the user limit of resource @i, which refused to draw what
 * @amount needs beyond the reserve of @u (NULL: new); @t as for the draw.
 */
static noinline void bus1_quota_trace_user_refused(struct bus1_quota *quota,
						   struct bus1_usage *u,
						   struct bus1_user_usage *t,
						   kuid_t from, int i,
						   const u64 *amount)
{
	struct bus1_user *user = quota->user;
	u64 share = t ? t->used[i] : 0;

	trace_bus1_quota_refused(quota, from, bus1_user_limit_names[i],
				 amount[i] - (u ? u->reserve[i] : 0),
				 user->used[i],
				 READ_ONCE(bus1_user_max[i]), share,
				 user->n_users[i] + !share, -EDQUOT);
}

/*
 * Give @quota a spare record if @need_u, and its user one if @need_t,
 * where they have none, for a charge by a user new to them; no lock held.
 * Return: 0, or -ENOMEM.
 */
static int bus1_quota_fill_spares(struct bus1_quota *quota, bool need_u,
				  bool need_t)
{
	struct bus1_user *user = quota->user;
	struct bus1_user_usage *t = NULL;
	struct bus1_usage *u = NULL;
	bool ok;

	if (need_u)
		u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (need_t)
		t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	spin_lock(&quota->lock);
	if (!quota->spare)
		swap(quota->spare, u);
	ok = quota->spare || !need_u;
	spin_unlock(&quota->lock);
	spin_lock(&user->lock);
	if (!user->spare)
		swap(user->spare, t);
	ok = ok && (user->spare || !need_t);
	spin_unlock(&user->lock);
	/* Left over only if a racing charge filled a spare meanwhile. */
	kfree(u);
	kfree(t);
	return ok ? 0 : -ENOMEM;
}

/*
 * Draw what a charge of @amount by @from is missing from the user, into
 * the reserve of *@usage, which it adds to @quota from the spare if it is
 * NULL: all resources or none, each within @from's fair share of the
 * user. Return: 0, -EDQUOT, or -EAGAIN if it needs a spare record of the
 * user and there is none.
 */
static int bus1_quota_draw(struct bus1_quota *quota, kuid_t from,
			   const u64 *amount, struct bus1_usage **usage)
	__must_hold(&quota->lock)
{
	struct bus1_user *user = quota->user;
	struct bus1_usage *u = *usage;
	bool may_batch, ahead = false;
	struct bus1_user_usage *t;
	u64 draw[BUS1_RES_N];
	int i, r = 0;

	lockdep_assert_held(&quota->lock);
	spin_lock(&user->lock);
	t = u ? u->total : bus1_user_usage_find(user, from);
	if (!t && !user->spare) {
		r = -EAGAIN;
		goto out;
	}
	/* Which records draw ahead: see the top of this file. */
	may_batch = u && (u->batched ||
			  (u->returned &&
			   t->n_batched < BUS1_QUOTA_BATCHED_MAX));
	for (i = 0; i < BUS1_RES_N; i++) {
		draw[i] = bus1_quota_draw_one(i, user, u, t, amount, may_batch,
					      &ahead);
		if (draw[i] == U64_MAX) {
			r = -EDQUOT;
			if (trace_bus1_quota_refused_enabled())
				bus1_quota_trace_user_refused(quota, u, t, from,
							      i, amount);
			goto out;
		}
	}
	if (!t) {
		t = user->spare;
		user->spare = NULL;
		t->uid = from;
		rb_add(&t->rb, &user->usages, bus1_user_usage_less);
		user->n_usages++;
	}
	if (!u) {
		u = quota->spare;
		quota->spare = NULL;
		u->uid = from;
		u->total = t;
		rb_add(&u->rb, &quota->usages, bus1_usage_less);
		quota->n_usages++;
		*usage = u;
	}
	if (ahead && !u->batched) {
		u->batched = true;
		t->n_batched++;
	}
	for (i = 0; i < BUS1_RES_N; i++) {
		bus1_user_add_one(i, user, t, draw[i]);
		u->reserve[i] += draw[i];
	}
out:
	spin_unlock(&user->lock);
	return r;
}

/* See bus1_quota_charge(). */
static __always_inline int __bus1_quota_charge(struct bus1_quota *quota,
					       kuid_t from, const u64 *amount,
					       struct bus1_usage **usage)
{
	bool need_u, need_t;
	struct bus1_usage *u;
	int r;

	for (;;) {
		need_u = false;
		need_t = false;
		spin_lock(&quota->lock);
		u = bus1_usage_find(quota, from);
		/*
		 * A new charging user needs a record of the peer, and maybe
		 * one of the user: take the spares, allocated without the
		 * locks if missing. Another charge may add the record or
		 * take the spares meanwhile, so look again.
		 */
		if (!u && !quota->spare) {
			need_u = true;
			r = -EAGAIN;
		} else if (!bus1_quota_peer_fits_all(quota, u, amount)) {
			/* All or nothing: every resource fits, or none. */
			r = -EDQUOT;
			if (trace_bus1_quota_refused_enabled())
				bus1_quota_trace_peer_refused(quota, u, from,
							      amount);
		} else if (bus1_usage_covers_all(u, amount)) {
			r = 0;
		} else {
			/* The one step that takes the lock of the user. */
			r = bus1_quota_draw(quota, from, amount, &u);
			need_t = r == -EAGAIN;
		}
		if (!r) {
			bus1_quota_add_all(quota, u, amount);
			*usage = u;
		}
		spin_unlock(&quota->lock);
		if (r != -EAGAIN)
			return r;
		r = bus1_quota_fill_spares(quota, need_u, need_t);
		if (r)
			return r;
	}
}

/**
 * bus1_quota_charge() - charge a receiving peer
 * @quota:	the receiving peer's quota
 * @from:	the user the charge is attributed to
 * @amount:	BUS1_RES_N amounts, per resource
 * @usage:	set to where the charge is attributed; the caller keeps it
 *		with what it charged for, to return the charge later
 *
 * All or nothing. May sleep; the caller holds no spinlock.
 *
 * Return: 0 on success, -EDQUOT if the charge is over a limit or over
 * the fair share of @from, -ENOMEM when out of memory.
 */
int bus1_quota_charge(struct bus1_quota *quota, kuid_t from,
		      const u64 *amount, struct bus1_usage **usage)
{
	return __bus1_quota_charge(quota, from, amount, usage);
}

/**
 * bus1_quota_charge_message() - charge a receiving peer for a message
 * @quota:	the receiving peer's quota
 * @from:	the sending user
 * @bytes:	size of the message's slice
 * @n_handles:	number of handles it carries
 * @n_fds:	number of files it carries
 * @usage:	as for bus1_quota_charge()
 *
 * bus1_quota_charge() of a slice of @bytes, one message and what it
 * carries; its parts are returned with bus1_quota_uncharge_message() and
 * bus1_quota_uncharge_slice().
 *
 * Return: as bus1_quota_charge().
 */
int bus1_quota_charge_message(struct bus1_quota *quota, kuid_t from,
			      u64 bytes, u64 n_handles, u64 n_fds,
			      struct bus1_usage **usage)
{
	const u64 amount[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = bytes,
		[BUS1_RES_SLICES] = 1,
		[BUS1_RES_MESSAGES] = 1,
		[BUS1_RES_HANDLES] = n_handles,
		[BUS1_RES_FDS] = n_fds,
	};

	return __bus1_quota_charge(quota, from, amount, usage);
}

/*
 * Records emptied by an uncharge, freed after the locks: at most two of
 * each kind, as a receive returns the charges of a message and a slice.
 */
struct bus1_quota_garbage {
	struct bus1_usage *u[2];
	struct bus1_user_usage *t[2];
};

/*
 * What of the reserve of @u of resource @i goes back to the user: all of
 * it once @u holds no charge or if it does not draw ahead, else what is
 * over two batches, down to one.
 */
static inline u64 bus1_usage_excess(int i, struct bus1_usage *u)
{
	u64 batch = bus1_quota_batch(i);

	if (!u->n_resources || !u->batched)
		return u->reserve[i];
	return u->reserve[i] > 2 * batch ? u->reserve[i] - batch : 0;
}

/* Whether returning @amount of resource @i took @u over two batches. */
static __always_inline bool bus1_usage_over(int i, struct bus1_usage *u,
					    const u64 *amount)
{
	return amount[i] && u->reserve[i] > 2 * bus1_quota_batch(i);
}

/*
 * Whether @u, which draws ahead, may keep its whole reserve after @amount
 * came back: only the resources returned can have gone over.
 */
static __always_inline bool bus1_usage_keeps(struct bus1_usage *u,
					     const u64 *amount)
{
	return !bus1_usage_over(BUS1_RES_BYTES, u, amount) &&
	       !bus1_usage_over(BUS1_RES_SLICES, u, amount) &&
	       !bus1_usage_over(BUS1_RES_MESSAGES, u, amount) &&
	       !bus1_usage_over(BUS1_RES_HANDLES, u, amount) &&
	       !bus1_usage_over(BUS1_RES_FDS, u, amount);
}

/*
 * After @amount came back to the reserve of @u: give the user back what
 * bus1_usage_excess() says, and, once @u holds no charge, @u itself, and
 * @u's total once that holds nothing either. An emptied
 * record is kept as the spare if there is none, else left in @g for the
 * caller to free after the locks.
 */
static __always_inline void bus1_usage_settle(struct bus1_quota *quota,
					      struct bus1_usage *u,
					      const u64 *amount,
					      struct bus1_quota_garbage *g)
{
	struct bus1_user *user = quota->user;
	struct bus1_user_usage *t = u->total;
	u64 give[BUS1_RES_N];
	int i;

	lockdep_assert_held(&quota->lock);
	/* The common case, a record that draws ahead and keeps a charge. */
	if (likely(u->batched && u->n_resources && bus1_usage_keeps(u, amount)))
		return;
	u->returned = true;
	for (i = 0; i < BUS1_RES_N; i++)
		give[i] = bus1_usage_excess(i, u);
	if (!u->n_resources) {
		rb_erase(&u->rb, &quota->usages);
		quota->n_usages--;
	}
	spin_lock(&user->lock);
	for (i = 0; i < BUS1_RES_N; i++) {
		u->reserve[i] -= give[i];
		bus1_user_sub_one(i, user, t, give[i]);
	}
	if (!u->n_resources && u->batched)
		t->n_batched--;
	if (!t->n_resources) {
		rb_erase(&t->rb, &user->usages);
		user->n_usages--;
		if (!user->spare)
			user->spare = t;
		else
			g->t[!!g->t[0]] = t;
	}
	spin_unlock(&user->lock);
	if (u->n_resources)
		return;
	/* All of @u is zero again, but for its flags. */
	u->batched = false;
	u->returned = false;
	if (!quota->spare)
		quota->spare = u;
	else
		g->u[!!g->u[0]] = u;
}

static __always_inline void bus1_quota_garbage_free(struct bus1_quota_garbage *g)
{
	if (unlikely(g->u[0] || g->t[0])) {
		kfree(g->u[0]);
		kfree(g->u[1]);
		kfree(g->t[0]);
		kfree(g->t[1]);
	}
}

/* See bus1_quota_uncharge(). */
static __always_inline void __bus1_quota_uncharge(struct bus1_quota *quota,
						  struct bus1_usage *usage,
						  const u64 *amount)
{
	struct bus1_quota_garbage g = {};

	spin_lock(&quota->lock);
	bus1_quota_sub_all(quota, usage, amount);
	bus1_usage_settle(quota, usage, amount, &g);
	spin_unlock(&quota->lock);
	bus1_quota_garbage_free(&g);
}

/**
 * bus1_quota_uncharge() - return a charge
 * @quota:	the peer that was charged
 * @usage:	where the charge was attributed
 * @amount:	BUS1_RES_N amounts, per resource, at most what was charged
 *
 * @usage goes away with its last charge. Callable under any bus1 lock.
 */
void bus1_quota_uncharge(struct bus1_quota *quota, struct bus1_usage *usage,
			 const u64 *amount)
{
	__bus1_quota_uncharge(quota, usage, amount);
}

/*
 * Return a received message's charge, and that of the slice @slice_usage
 * was charged for if it is not NULL, under one lock; see
 * bus1_quota_uncharge_received().
 */
static __always_inline void
__bus1_quota_uncharge_received(struct bus1_quota *quota,
			       struct bus1_usage *usage, u64 n_handles,
			       u64 n_fds, struct bus1_usage *slice_usage,
			       u64 slice_bytes)
{
	const u64 message[BUS1_RES_N] = {
		[BUS1_RES_MESSAGES] = 1,
		[BUS1_RES_HANDLES] = n_handles,
		[BUS1_RES_FDS] = n_fds,
	};
	const u64 slice[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = slice_bytes,
		[BUS1_RES_SLICES] = 1,
	};
	const u64 both[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = slice_bytes,
		[BUS1_RES_SLICES] = 1,
		[BUS1_RES_MESSAGES] = 1,
		[BUS1_RES_HANDLES] = n_handles,
		[BUS1_RES_FDS] = n_fds,
	};
	struct bus1_quota_garbage g = {};

	spin_lock(&quota->lock);
	bus1_quota_sub_all(quota, usage, message);
	if (slice_usage)
		bus1_quota_sub_all(quota, slice_usage, slice);
	if (slice_usage == usage) {
		bus1_usage_settle(quota, usage, both, &g);
	} else {
		bus1_usage_settle(quota, usage, message, &g);
		if (slice_usage)
			bus1_usage_settle(quota, slice_usage, slice, &g);
	}
	spin_unlock(&quota->lock);
	bus1_quota_garbage_free(&g);
}

/**
 * bus1_quota_uncharge_message() - return the charge of a received message
 * @quota:	the peer that was charged
 * @usage:	where the charge was attributed
 * @n_handles:	handles still charged with the message
 * @n_fds:	files still charged with it
 *
 * Returns the message of bus1_quota_charge_message() and what it still
 * carries, not its slice.
 */
void bus1_quota_uncharge_message(struct bus1_quota *quota,
				 struct bus1_usage *usage, u64 n_handles,
				 u64 n_fds)
{
	__bus1_quota_uncharge_received(quota, usage, n_handles, n_fds, NULL,
				       0);
}

/**
 * bus1_quota_uncharge_slice() - return the charge of a slice
 * @quota:	the peer that was charged
 * @usage:	where the charge was attributed
 * @bytes:	size of the slice
 */
void bus1_quota_uncharge_slice(struct bus1_quota *quota,
			       struct bus1_usage *usage, u64 bytes)
{
	const u64 amount[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = bytes,
		[BUS1_RES_SLICES] = 1,
	};

	__bus1_quota_uncharge(quota, usage, amount);
}

/**
 * bus1_quota_uncharge_received() - return what a receive ends, at once
 * @quota:	the receiving peer's quota
 * @usage:	where the received message was charged
 * @n_handles:	handles still charged with it
 * @n_fds:	files still charged with it
 * @slice_usage: where a slice released with the receive was charged, or
 *		NULL if none was
 * @slice_bytes: size of that slice
 *
 * bus1_quota_uncharge_message() and bus1_quota_uncharge_slice() under one
 * lock: a receive that hands back the previous slice returns both
 * charges, usually to the same sender.
 */
void bus1_quota_uncharge_received(struct bus1_quota *quota,
				  struct bus1_usage *usage, u64 n_handles,
				  u64 n_fds, struct bus1_usage *slice_usage,
				  u64 slice_bytes)
{
	__bus1_quota_uncharge_received(quota, usage, n_handles, n_fds,
				       slice_usage, slice_bytes);
}

/**
 * bus1_quota_uncharge_one() - return a charge of one resource
 * @quota:	the peer that was charged
 * @usage:	where the charge was attributed
 * @res:	the resource
 * @n:		the amount, at most what was charged
 */
void bus1_quota_uncharge_one(struct bus1_quota *quota,
			     struct bus1_usage *usage,
			     enum bus1_resource res, u64 n)
{
	u64 amount[BUS1_RES_N] = {};

	if (!n)
		return;
	amount[res] = n;
	bus1_quota_uncharge(quota, usage, amount);
}

/*
 * The user @uid, with a new reference and one more peer counted; an
 * ERR_PTR() of -EDQUOT if it has user_max_peers peers already, of
 * -ENOMEM when out of memory.
 */
static struct bus1_user *bus1_user_get(kuid_t uid)
{
	u32 key = __kuid_val(uid);
	struct bus1_user *user;

	mutex_lock(&bus1_users_lock);
	hash_for_each_possible(bus1_users, user, link, key) {
		if (!uid_eq(user->uid, uid))
			continue;
		/*
		 * Only raised under the lock, so no two creations both
		 * pass; a teardown that lowers it meanwhile only makes the
		 * test stricter than it needs to be.
		 */
		if (atomic_read(&user->n_peers) >=
		    READ_ONCE(bus1_user_max_peers)) {
			user = ERR_PTR(-EDQUOT);
			goto out;
		}
		kref_get(&user->ref);
		atomic_inc(&user->n_peers);
		goto out;
	}
	user = kzalloc(sizeof(*user), GFP_KERNEL_ACCOUNT);
	if (user) {
		kref_init(&user->ref);
		user->uid = uid;
		atomic_set(&user->n_peers, 1);
		spin_lock_init(&user->lock);
		lockdep_set_class_and_name(&user->lock, &bus1_user_lock_key,
					   "bus1_user->lock");
		user->usages = RB_ROOT;
		hash_add(bus1_users, &user->link, key);
	} else {
		user = ERR_PTR(-ENOMEM);
	}
out:
	mutex_unlock(&bus1_users_lock);
	return user;
}

static void bus1_user_free(struct kref *ref)
{
	struct bus1_user *user = container_of(ref, struct bus1_user, ref);

	hash_del(&user->link);
	mutex_unlock(&bus1_users_lock);
	/* Every peer returned its charges before it let go of its user. */
	WARN_ON(!RB_EMPTY_ROOT(&user->usages));
	kfree(user->spare);
	kfree(user);
}

/**
 * bus1_quota_init() - set up the quota of a new peer
 * @quota:	quota to initialize
 * @uid:	the peer's user: the real uid of the credentials it keeps,
 *		as other per-user limits of the kernel count
 *
 * Counts the peer as one of @uid's until bus1_quota_leave() or
 * bus1_quota_deinit().
 *
 * Return: 0 on success, -EDQUOT if @uid has user_max_peers peers
 * already, -ENOMEM when out of memory.
 */
int bus1_quota_init(struct bus1_quota *quota, kuid_t uid)
{
	struct bus1_user *user = bus1_user_get(uid);

	memset(quota, 0, sizeof(*quota));
	spin_lock_init(&quota->lock);
	lockdep_set_class_and_name(&quota->lock, &bus1_quota_lock_key,
				   "bus1_quota->lock");
	quota->usages = RB_ROOT;
	quota->user = IS_ERR(user) ? NULL : user;
	quota->counted = !IS_ERR(user);
	return PTR_ERR_OR_ZERO(user);
}

/**
 * bus1_quota_leave() - stop counting a peer as one of its user's
 * @quota:	quota of a peer whose teardown dropped what it holds
 *
 * Its charges may still be returned afterwards, by a send that stalled
 * while copying into its pool; the peer no longer counts against
 * user_max_peers meanwhile. Does nothing the second time.
 */
void bus1_quota_leave(struct bus1_quota *quota)
{
	if (quota->counted)
		atomic_dec(&quota->user->n_peers);
	quota->counted = false;
}

/**
 * bus1_quota_deinit() - let go of the user of a peer
 * @quota:	quota of a peer that returned every charge; may sleep
 */
void bus1_quota_deinit(struct bus1_quota *quota)
{
	int i;

	if (!quota->user)
		return;
	for (i = 0; i < BUS1_RES_N; i++)
		WARN_ON(quota->used[i]);
	WARN_ON(!RB_EMPTY_ROOT(&quota->usages));
	kfree(quota->spare);
	quota->spare = NULL;
	bus1_quota_leave(quota);
	kref_put_mutex(&quota->user->ref, bus1_user_free, &bus1_users_lock);
	quota->user = NULL;
}

/**
 * bus1_quota_show_fdinfo() - describe a peer's charges in fdinfo
 * @quota:	the peer's quota
 * @m:		output of the fdinfo file
 *
 * Shows the peer's user, what the peer is charged, what it holds in
 * reserve and by how many users it is charged, what its user's peers
 * have drawn in total and by how many users.
 */
void bus1_quota_show_fdinfo(struct bus1_quota *quota, struct seq_file *m)
{
	u64 peer[BUS1_RES_N], reserved[BUS1_RES_N] = {}, total[BUS1_RES_N];
	struct bus1_user *user = quota->user;
	u64 senders, user_senders;
	struct rb_node *n;
	int i;

	spin_lock(&quota->lock);
	memcpy(peer, quota->used, sizeof(peer));
	/* Summed here, so that charges need not keep a sum. */
	for (n = rb_first(&quota->usages); n; n = rb_next(n))
		for (i = 0; i < BUS1_RES_N; i++)
			reserved[i] += rb_entry(n, struct bus1_usage,
						rb)->reserve[i];
	senders = quota->n_usages;
	spin_unlock(&quota->lock);
	spin_lock(&user->lock);
	memcpy(total, user->used, sizeof(total));
	user_senders = user->n_usages;
	spin_unlock(&user->lock);

	seq_printf(m, "bus1-uid:\t%u\n",
		   from_kuid_munged(seq_user_ns(m), user->uid));
	for (i = 0; i < BUS1_RES_N; i++)
		seq_printf(m, "bus1-charged-%s:\t%llu\n",
			   bus1_resource_names[i], peer[i]);
	for (i = 0; i < BUS1_RES_N; i++)
		seq_printf(m, "bus1-reserved-%s:\t%llu\n",
			   bus1_resource_names[i], reserved[i]);
	seq_printf(m, "bus1-senders:\t%llu\n", senders);
	for (i = 0; i < BUS1_RES_N; i++)
		seq_printf(m, "bus1-user-%s:\t%llu\n",
			   bus1_resource_names[i], total[i]);
	seq_printf(m, "bus1-user-senders:\t%llu\n", user_senders);
	seq_printf(m, "bus1-user-peers:\t%d\n", atomic_read(&user->n_peers));
}

#ifdef CONFIG_SYSCTL
static unsigned int bus1_limit_min = 1;

/*
 * Filled at boot: a user and a peer limit per resource, then the limit of
 * peers per user.
 */
static struct ctl_table bus1_sysctls[2 * BUS1_RES_N + 1];

/*
 * Each user limit is bounded below by its peer limit, and each peer limit
 * by 1 and its user limit: a write that breaks this fails with -EINVAL.
 * user_max_peers is at least 1.
 */
static int __init bus1_quota_sysctl_init(void)
{
	struct ctl_table *t = bus1_sysctls;
	int i;

	for (i = 0; i < BUS1_RES_N; i++, t += 2) {
		t[0].procname = bus1_user_limit_names[i];
		t[0].data = &bus1_user_max[i];
		t[0].extra1 = &bus1_peer_max[i];
		t[1].procname = bus1_peer_limit_names[i];
		t[1].data = &bus1_peer_max[i];
		t[1].extra1 = &bus1_limit_min;
		t[1].extra2 = &bus1_user_max[i];
		t[0].maxlen = sizeof(unsigned int);
		t[1].maxlen = sizeof(unsigned int);
		t[0].mode = 0644;
		t[1].mode = 0644;
		t[0].proc_handler = proc_douintvec_minmax;
		t[1].proc_handler = proc_douintvec_minmax;
	}
	t->procname = "user_max_peers";
	t->data = &bus1_user_max_peers;
	t->maxlen = sizeof(unsigned int);
	t->mode = 0644;
	t->proc_handler = proc_douintvec_minmax;
	t->extra1 = &bus1_limit_min;
	register_sysctl_init("kernel/bus1", bus1_sysctls);
	return 0;
}
device_initcall(bus1_quota_sysctl_init);
#endif /* CONFIG_SYSCTL */
