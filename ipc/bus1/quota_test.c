// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bus1 quotas: the fair-share arithmetic, its floor,
 * charging a quota, and the reserves that peers draw from their user.
 */

#include <kunit/test.h>
#include <linux/cred.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/uidgid.h>
#include "quota.h"

#define MAX_USERS	8

/* The most a user holding @share may add at once, by bisection. */
static u64 largest_fit(u64 limit, u64 used, u64 share, u64 n_users)
{
	u64 lo = 0, hi = limit, mid;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (bus1_quota_fits(limit, used, share, n_users, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static void bus1_quota_test_lone_user_gets_half(struct kunit *test)
{
	u64 share = 0;

	/* One unit at a time, as messages are charged. */
	while (bus1_quota_fits(60, share, share, 1, 1))
		share++;
	KUNIT_EXPECT_EQ(test, share, 30ULL);
	KUNIT_EXPECT_EQ(test, largest_fit(60, 0, 0, 1), 30ULL);
	KUNIT_EXPECT_EQ(test, largest_fit(61, 0, 0, 1), 30ULL);
	KUNIT_EXPECT_EQ(test, largest_fit(1, 0, 0, 1), 0ULL);
	KUNIT_EXPECT_EQ(test, largest_fit(2, 0, 0, 1), 1ULL);
}

static void bus1_quota_test_second_user(struct kunit *test)
{
	u64 share = 0;

	/* The first user holds 30 of 60: the second gets a third of 30. */
	while (bus1_quota_fits(60, 30 + share, share, 2, 1))
		share++;
	KUNIT_EXPECT_EQ(test, share, 10ULL);
	/* The first one is above its share now and gets nothing. */
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(60, 40, 30, 2, 1));
	/* Once the second one leaves, it gets its half again. */
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(60, 30, 30, 1, 1));
	KUNIT_EXPECT_TRUE(test, bus1_quota_fits(60, 29, 29, 1, 1));
}

static void bus1_quota_test_edges(struct kunit *test)
{
	/* Nothing fits into nothing, and nobody is no user. */
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(0, 0, 0, 1, 1));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(100, 0, 0, 0, 1));
	/* A limit lowered below what is charged. */
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(10, 20, 0, 1, 1));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(10, 20, 20, 1, 1));
	/* Amounts and shares near the top must not wrap around. */
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(100, 0, 0, 1, U64_MAX));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(100, 1, 0, 1, U64_MAX));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(U64_MAX, 0, U64_MAX, 1, 1));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(U64_MAX, 1, U64_MAX - 1, 1, 2));
	KUNIT_EXPECT_TRUE(test, bus1_quota_fits(U64_MAX, 0, 0, 1, U64_MAX / 2));
	KUNIT_EXPECT_FALSE(test,
			   bus1_quota_fits(U64_MAX, 0, 0, 1, U64_MAX / 2 + 1));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(U64_MAX, U64_MAX, 0, 1, 1));
	KUNIT_EXPECT_FALSE(test, bus1_quota_fits(U64_MAX, 0, 0, U64_MAX, 1));
	KUNIT_EXPECT_TRUE(test, bus1_quota_fits(U64_MAX, 0, 0, U64_MAX / 4, 1));
}

/*
 * The documented rule, written as a division: a check without one must
 * agree with it everywhere, so every small case is compared.
 */
static bool fits_by_division(u64 limit, u64 used, u64 share, u64 n_users,
			     u64 amount)
{
	u64 left;

	if (!n_users || used > limit || amount > limit - used)
		return false;
	left = div64_u64(limit - used - amount, n_users);
	return share <= left && amount <= left - share;
}

/* Cases of @limit and @used where the two disagree. */
static unsigned long rule_mismatches(u64 limit, u64 used)
{
	unsigned long wrong = 0;
	u64 share, n, c;
	bool fits;

	for (share = 0; share <= used; share++)
		for (n = 0; n <= 4; n++)
			for (c = 1; c <= limit + 2; c++) {
				fits = bus1_quota_fits(limit, used, share, n, c);
				wrong += fits != fits_by_division(limit, used,
								  share, n, c);
			}
	return wrong;
}

static void bus1_quota_test_rule(struct kunit *test)
{
	unsigned long wrong = 0;
	u64 limit, used;

	for (limit = 0; limit <= 20; limit++)
		for (used = 0; used <= limit + 2; used++)
			wrong += rule_mismatches(limit, used);
	KUNIT_EXPECT_EQ(test, wrong, 0UL);
}

/* Users with a share, and user @self, which is about to charge. */
static int count_users(const u64 *share, int n, int self)
{
	int i, m = 0;

	for (i = 0; i < n; i++)
		m += share[i] || i == self;
	return m;
}

/*
 * @n users take turns charging greedily, @step units at most per turn,
 * until none fits any more; checks the documented floor on the way.
 */
static void check_floor(struct kunit *test, u64 limit, int n, u64 step)
{
	u64 share[MAX_USERS] = {}, used = 0, c, fresh;
	int i, active, moved;

	do {
		moved = 0;
		for (i = 0; i < n; i++) {
			active = count_users(share, n, i);
			c = min(step, largest_fit(limit, used, share[i],
						  active));
			share[i] += c;
			used += c;
			moved |= c != 0;
			/* However far they got, m users leave an (m + 1)-th. */
			active = count_users(share, n, -1);
			KUNIT_ASSERT_GE(test, (limit - used) * (active + 1),
					limit);
		}
	} while (moved);

	/* Together they leave a (n + 1)-th, and a newcomer its floor. */
	KUNIT_EXPECT_GE(test, (limit - used) * (n + 1), limit);
	active = count_users(share, n, -1);
	fresh = largest_fit(limit, used, 0, active + 1);
	KUNIT_EXPECT_GE(test, fresh, limit / ((n + 1) * (n + 2)));
}

static void bus1_quota_test_floor(struct kunit *test)
{
	static const u64 limits[] = { 7, 60, 600, 1000, 65536, 1ULL << 40 };
	static const u64 steps[] = { 1, 3, U64_MAX };
	unsigned int l, s;
	int n;

	for (l = 0; l < ARRAY_SIZE(limits); l++)
		for (n = 1; n <= MAX_USERS; n++)
			for (s = 0; s < ARRAY_SIZE(steps); s++) {
				if (limits[l] > 100000 && steps[s] != U64_MAX)
					continue;
				check_floor(test, limits[l], n, steps[s]);
			}
}

/* Every charge of @q and of its user was returned. */
static void expect_nothing_charged(struct kunit *test, struct bus1_quota *q)
{
	int i;

	for (i = 0; i < BUS1_RES_N; i++) {
		KUNIT_EXPECT_EQ(test, q->used[i], 0ULL);
		KUNIT_EXPECT_EQ(test, q->n_users[i], 0ULL);
		KUNIT_EXPECT_EQ(test, q->user->used[i], 0ULL);
		KUNIT_EXPECT_EQ(test, q->user->n_users[i], 0ULL);
	}
	KUNIT_EXPECT_EQ(test, q->n_usages, 0ULL);
	KUNIT_EXPECT_TRUE(test, RB_EMPTY_ROOT(&q->usages));
}

/* Charging a real quota: all or nothing, and back to zero. */
static void bus1_quota_test_charge(struct kunit *test)
{
	u64 one_msg[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = 8,
		[BUS1_RES_SLICES] = 1,
		[BUS1_RES_MESSAGES] = 1,
	};
	u64 fds[BUS1_RES_N] = { [BUS1_RES_FDS] = 1 };
	struct bus1_usage *a, *a2, *b, *f;
	struct bus1_quota q;
	struct bus1_user *user;

	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q, current_uid()), 0);
	user = q.user;
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), one_msg,
						&a), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), one_msg,
						&a2), 0);
	KUNIT_EXPECT_PTR_EQ(test, a, a2);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70002), one_msg,
						&b), 0);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_FDS], 0ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_BYTES], 24ULL);
	KUNIT_EXPECT_EQ(test, a->used[BUS1_RES_MESSAGES], 2ULL);

	/*
	 * More fds than a peer may hold fail as a whole; a user's first
	 * charges count it as a user only once they fit.
	 */
	fds[BUS1_RES_FDS] = U64_MAX;
	KUNIT_EXPECT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70003), fds, &f),
			-EDQUOT);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_FDS], 0ULL);
	fds[BUS1_RES_FDS] = 1;
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70003), fds, &f),
			0);
	KUNIT_EXPECT_EQ(test, user->n_usages, 3ULL);

	bus1_quota_uncharge(&q, f, fds);
	bus1_quota_uncharge(&q, a, one_msg);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	bus1_quota_uncharge_one(&q, a, BUS1_RES_BYTES, 8);
	bus1_quota_uncharge_one(&q, a, BUS1_RES_SLICES, 1);
	bus1_quota_uncharge_one(&q, a, BUS1_RES_MESSAGES, 1);
	bus1_quota_uncharge(&q, b, one_msg);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	expect_nothing_charged(test, &q);
	bus1_quota_deinit(&q);
}

/*
 * Two peers of one user, charged by one sender: a record per peer, both
 * parts of one record of the user, which goes with the last charge of
 * either peer.
 */
static void bus1_quota_test_two_peers(struct kunit *test)
{
	u64 one_msg[BUS1_RES_N] = {
		[BUS1_RES_BYTES] = 8,
		[BUS1_RES_SLICES] = 1,
		[BUS1_RES_MESSAGES] = 1,
	};
	struct bus1_usage *a1, *a2, *b2;
	struct bus1_quota q1, q2;
	struct bus1_user *user;

	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q1, current_uid()), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q2, current_uid()), 0);
	user = q1.user;
	KUNIT_ASSERT_PTR_EQ(test, user, q2.user);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q1, KUIDT_INIT(70001), one_msg,
						&a1), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q2, KUIDT_INIT(70001), one_msg,
						&a2), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q2, KUIDT_INIT(70002), one_msg,
						&b2), 0);
	KUNIT_EXPECT_PTR_NE(test, a1, a2);
	KUNIT_EXPECT_PTR_EQ(test, a1->total, a2->total);
	KUNIT_EXPECT_PTR_NE(test, a2->total, b2->total);
	KUNIT_EXPECT_EQ(test, a1->total->used[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, q1.n_usages, 1ULL);
	KUNIT_EXPECT_EQ(test, q2.n_usages, 2ULL);
	KUNIT_EXPECT_EQ(test, q2.n_users[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_BYTES], 24ULL);
	KUNIT_EXPECT_EQ(test, q2.used[BUS1_RES_BYTES], 16ULL);

	bus1_quota_uncharge(&q1, a1, one_msg);
	KUNIT_EXPECT_EQ(test, q1.n_usages, 0ULL);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	KUNIT_EXPECT_EQ(test, a2->total->used[BUS1_RES_MESSAGES], 1ULL);
	bus1_quota_uncharge(&q2, a2, one_msg);
	KUNIT_EXPECT_EQ(test, user->n_usages, 1ULL);
	bus1_quota_uncharge(&q2, b2, one_msg);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	expect_nothing_charged(test, &q1);
	expect_nothing_charged(test, &q2);
	bus1_quota_deinit(&q2);
	bus1_quota_deinit(&q1);
}

/*
 * A message's charge comes back in two parts, the message at receipt and
 * the slice at release, in either order; the usage goes with the last.
 */
static void bus1_quota_test_message(struct kunit *test)
{
	struct bus1_usage *a, *b;
	struct bus1_quota q;
	struct bus1_user *user;

	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q, current_uid()), 0);
	user = q.user;
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							64, 2, 1, &a), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							8, 0, 0, &b), 0);
	KUNIT_EXPECT_PTR_EQ(test, a, b);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_BYTES], 72ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_SLICES], 2ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_HANDLES], 2ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_FDS], 1ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_FDS], 1ULL);

	/* A peer's limit holds for a message as for any charge. */
	KUNIT_EXPECT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							8, 0, U64_MAX, &b),
			-EDQUOT);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_MESSAGES], 2ULL);

	bus1_quota_uncharge_message(&q, a, 2, 1);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_FDS], 0ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_MESSAGES], 1ULL);
	bus1_quota_uncharge_slice(&q, a, 64);
	bus1_quota_uncharge_slice(&q, a, 8);
	KUNIT_EXPECT_EQ(test, user->n_usages, 1ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_SLICES], 0ULL);
	bus1_quota_uncharge_message(&q, a, 0, 0);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	expect_nothing_charged(test, &q);
	bus1_quota_deinit(&q);
}

/*
 * A receive returns the received message and the slice it releases under
 * one lock: of one sender, whose usage goes only with its last charge, and
 * of two, where each usage goes with its own last charge.
 */
static void bus1_quota_test_received(struct kunit *test)
{
	struct bus1_usage *a, *a2, *b;
	struct bus1_quota q;
	struct bus1_user *user;

	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q, current_uid()), 0);
	user = q.user;
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							64, 0, 0, &a), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							8, 1, 1, &a2), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70002),
							16, 0, 0, &b), 0);
	KUNIT_EXPECT_PTR_EQ(test, a, a2);

	/* The first message was received; its slice is still held. */
	bus1_quota_uncharge_received(&q, a, 0, 0, NULL, 0);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_MESSAGES], 2ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_SLICES], 3ULL);
	/* The second, releasing the first's slice: one usage, still busy. */
	bus1_quota_uncharge_received(&q, a, 1, 1, a, 64);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_BYTES], 24ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_HANDLES], 0ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_FDS], 0ULL);
	KUNIT_EXPECT_EQ(test, user->n_users[BUS1_RES_MESSAGES], 1ULL);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	/* The third, of another sender, releasing the second's: @a goes. */
	bus1_quota_uncharge_received(&q, b, 0, 0, a, 8);
	KUNIT_EXPECT_EQ(test, user->n_usages, 1ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, q.used[BUS1_RES_BYTES], 16ULL);
	bus1_quota_uncharge_slice(&q, b, 16);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	expect_nothing_charged(test, &q);

	/* Message and slice the last charges of two senders: both go. */
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70001),
							8, 0, 0, &a), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge_message(&q, KUIDT_INIT(70002),
							8, 0, 0, &b), 0);
	bus1_quota_uncharge_received(&q, a, 0, 0, NULL, 0);
	bus1_quota_uncharge_slice(&q, b, 8);
	KUNIT_EXPECT_EQ(test, user->n_usages, 2ULL);
	bus1_quota_uncharge_received(&q, b, 0, 0, a, 8);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	expect_nothing_charged(test, &q);
	bus1_quota_deinit(&q);
}

/*
 * Charge @q one message by @uid so that its record draws ahead where it
 * may: a slice keeps the record, a message charged and returned lets it.
 */
static void charge_again(struct kunit *test, struct bus1_quota *q, u32 uid,
			 struct bus1_usage **u)
{
	u64 one[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 1 };
	u64 slice[BUS1_RES_N] = { [BUS1_RES_SLICES] = 1 };

	KUNIT_ASSERT_EQ(test, bus1_quota_charge(q, KUIDT_INIT(uid), slice, u),
			0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(q, KUIDT_INIT(uid), one, u),
			0);
	bus1_quota_uncharge(q, *u, one);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(q, KUIDT_INIT(uid), one, u),
			0);
}

/* Return what charge_again() left charged. */
static void uncharge_again(struct bus1_quota *q, struct bus1_usage *u)
{
	u64 both[BUS1_RES_N] = {
		[BUS1_RES_SLICES] = 1,
		[BUS1_RES_MESSAGES] = 1,
	};

	bus1_quota_uncharge(q, u, both);
}

/*
 * A record draws what its charges need until it has returned one; then
 * it draws a batch ahead, so that its next charges and returns leave the
 * user alone; a reserve over two batches goes back down to one, and all
 * of it with the last charge.
 */
static void bus1_quota_test_reserve(struct kunit *test)
{
	const u64 b = bus1_quota_batch(BUS1_RES_MESSAGES);
	u64 one[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 1 };
	u64 many[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 3 * b };
	u64 slice[BUS1_RES_N] = { [BUS1_RES_SLICES] = 1 };
	struct bus1_usage *a, *a2;
	struct bus1_quota q;
	struct bus1_user *user;
	u64 i;

	KUNIT_ASSERT_GT(test, b, 1ULL);
	KUNIT_ASSERT_EQ(test, bus1_quota_init(&q, current_uid()), 0);
	user = q.user;

	/* Charged once and kept, a charge draws what it needs. */
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), slice,
						&a), 0);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), one,
						&a2), 0);
	KUNIT_EXPECT_PTR_EQ(test, a, a2);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1ULL);
	KUNIT_EXPECT_FALSE(test, a->batched);
	/* Returned, it goes back to the user at once. */
	bus1_quota_uncharge(&q, a, one);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 0ULL);

	/* Charged again, it draws itself and a batch. */
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), one,
						&a2), 0);
	KUNIT_EXPECT_TRUE(test, a->batched);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], b);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + b);
	/* Only resources charged are drawn. */
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_FDS], 0ULL);

	/* The reserve holds the next b charges: the user does not move. */
	for (i = 0; i < b; i++)
		KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001),
							one, &a2), 0);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + b);
	for (i = 0; i < b; i++)
		bus1_quota_uncharge(&q, a, one);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], b);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + b);

	/* Past two batches, the reserve goes back down to one. */
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q, KUIDT_INIT(70001), many,
						&a2), 0);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], b);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + 4 * b);
	bus1_quota_uncharge(&q, a, many);
	KUNIT_EXPECT_EQ(test, a->reserve[BUS1_RES_MESSAGES], b);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + b);

	/* With its last charge, the record gives all of it back. */
	bus1_quota_uncharge(&q, a, one);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 1 + b);
	bus1_quota_uncharge(&q, a, slice);
	expect_nothing_charged(test, &q);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	bus1_quota_deinit(&q);
}

/*
 * Where a batch ahead does not fit the fair share of the user, a draw
 * takes what the charge needs only: a lone sender still gets exactly
 * half of the user limit, as without reserves. With the default limits,
 * 65536 messages per user and 16384 per peer, a sender fills four peers
 * to 8000 (each peer's half is 8192) and keeps a batch ahead at each.
 */
static void bus1_quota_test_exact_at_limit(struct kunit *test)
{
	const u64 b = bus1_quota_batch(BUS1_RES_MESSAGES);
	u64 amount[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 7999 };
	u64 one[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 1 };
	struct bus1_usage *u[5], *x;
	struct bus1_quota *q;
	struct bus1_user *user;
	u64 left;
	int i;

	KUNIT_ASSERT_EQ(test, b, 16ULL);
	q = kunit_kcalloc(test, 5, sizeof(*q), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	for (i = 0; i < 5; i++)
		KUNIT_ASSERT_EQ(test, bus1_quota_init(&q[i], current_uid()),
				0);
	user = q[0].user;
	/* 8000 messages at each of four peers, and a batch ahead. */
	for (i = 0; i < 4; i++) {
		charge_again(test, &q[i], 70001, &u[i]);
		KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q[i],
							KUIDT_INIT(70001),
							amount, &x), 0);
	}
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 4 * (8000 + b));

	/*
	 * Half of 65536 is 32768. The fifth peer draws a message and a
	 * batch, then what is left but one, which its reserve covers only
	 * in part and a batch more would not fit: it draws what it needs.
	 */
	charge_again(test, &q[4], 70001, &u[4]);
	KUNIT_EXPECT_TRUE(test, u[4]->batched);
	left = 32768 - 4 * (8000 + b) - 1 - b;
	amount[BUS1_RES_MESSAGES] = b + left - 1;
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q[4], KUIDT_INIT(70001),
						amount, &x), 0);
	KUNIT_EXPECT_EQ(test, u[4]->reserve[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, bus1_quota_charge(&q[4], KUIDT_INIT(70001), one,
						&x), 0);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES], 32768ULL);
	KUNIT_EXPECT_EQ(test, bus1_quota_charge(&q[4], KUIDT_INIT(70001), one,
						&x), -EDQUOT);
	/* The reserves of the other peers still serve their charges. */
	KUNIT_EXPECT_EQ(test, bus1_quota_charge(&q[0], KUIDT_INIT(70001), one,
						&x), 0);
	bus1_quota_uncharge(&q[0], u[0], one);

	amount[BUS1_RES_MESSAGES] = 7999;
	for (i = 0; i < 4; i++)
		bus1_quota_uncharge(&q[i], u[i], amount);
	amount[BUS1_RES_MESSAGES] = b + left;
	bus1_quota_uncharge(&q[4], u[4], amount);
	for (i = 0; i < 5; i++)
		uncharge_again(&q[i], u[i]);
	for (i = 0; i < 5; i++) {
		expect_nothing_charged(test, &q[i]);
		bus1_quota_deinit(&q[i]);
	}
}

/*
 * At most BUS1_QUOTA_BATCHED_MAX records of one charging user on a user's
 * peers draw ahead; the next draws what it charges, keeps no reserve, and
 * may draw ahead once one of them is gone. Another charging user is not
 * held back.
 */
static void bus1_quota_test_batched_max(struct kunit *test)
{
	const u64 b = bus1_quota_batch(BUS1_RES_MESSAGES);
	u64 one[BUS1_RES_N] = { [BUS1_RES_MESSAGES] = 1 };
	const int n = BUS1_QUOTA_BATCHED_MAX + 1;
	struct bus1_usage **u, *x;
	struct bus1_user_usage *t;
	struct bus1_quota *q;
	struct bus1_user *user;
	int i;

	KUNIT_ASSERT_GT(test, b, 0ULL);
	q = kunit_kcalloc(test, n, sizeof(*q), GFP_KERNEL);
	u = kunit_kcalloc(test, n, sizeof(*u), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_ASSERT_NOT_NULL(test, u);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, bus1_quota_init(&q[i], current_uid()),
				0);
		charge_again(test, &q[i], 70001, &u[i]);
	}
	user = q[0].user;
	t = u[1]->total;
	KUNIT_EXPECT_EQ(test, t->n_batched, BUS1_QUOTA_BATCHED_MAX);
	KUNIT_EXPECT_EQ(test, u[n - 2]->reserve[BUS1_RES_MESSAGES], b);
	KUNIT_EXPECT_FALSE(test, u[n - 1]->batched);
	KUNIT_EXPECT_EQ(test, u[n - 1]->reserve[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES],
			n + BUS1_QUOTA_BATCHED_MAX * b);
	/* Returned, its charges go straight back to the user. */
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q[n - 1], KUIDT_INIT(70001),
						one, &x), 0);
	bus1_quota_uncharge(&q[n - 1], x, one);
	KUNIT_EXPECT_EQ(test, u[n - 1]->reserve[BUS1_RES_MESSAGES], 0ULL);
	KUNIT_EXPECT_EQ(test, user->used[BUS1_RES_MESSAGES],
			n + BUS1_QUOTA_BATCHED_MAX * b);

	/* Another charging user draws ahead on the same peer. */
	charge_again(test, &q[n - 1], 70002, &x);
	KUNIT_EXPECT_TRUE(test, x->batched);
	KUNIT_EXPECT_EQ(test, x->reserve[BUS1_RES_MESSAGES], b);
	uncharge_again(&q[n - 1], x);

	/* A record that goes frees its place for the next draw. */
	uncharge_again(&q[0], u[0]);
	KUNIT_EXPECT_EQ(test, t->n_batched, BUS1_QUOTA_BATCHED_MAX - 1);
	KUNIT_ASSERT_EQ(test, bus1_quota_charge(&q[n - 1], KUIDT_INIT(70001),
						one, &x), 0);
	KUNIT_EXPECT_TRUE(test, u[n - 1]->batched);
	KUNIT_EXPECT_EQ(test, u[n - 1]->reserve[BUS1_RES_MESSAGES], b);
	bus1_quota_uncharge(&q[n - 1], x, one);

	for (i = 2; i < n; i++)
		uncharge_again(&q[i], u[i]);
	KUNIT_EXPECT_EQ(test, t->n_batched, 1U);
	uncharge_again(&q[1], u[1]);
	KUNIT_EXPECT_EQ(test, user->n_usages, 0ULL);
	for (i = 0; i < n; i++) {
		expect_nothing_charged(test, &q[i]);
		bus1_quota_deinit(&q[i]);
	}
}

static struct kunit_case bus1_quota_test_cases[] = {
	KUNIT_CASE(bus1_quota_test_lone_user_gets_half),
	KUNIT_CASE(bus1_quota_test_second_user),
	KUNIT_CASE(bus1_quota_test_edges),
	KUNIT_CASE(bus1_quota_test_rule),
	KUNIT_CASE(bus1_quota_test_floor),
	KUNIT_CASE(bus1_quota_test_charge),
	KUNIT_CASE(bus1_quota_test_two_peers),
	KUNIT_CASE(bus1_quota_test_message),
	KUNIT_CASE(bus1_quota_test_received),
	KUNIT_CASE(bus1_quota_test_reserve),
	KUNIT_CASE(bus1_quota_test_exact_at_limit),
	KUNIT_CASE(bus1_quota_test_batched_max),
	{}
};

static struct kunit_suite bus1_quota_test_suite = {
	.name = "bus1-quota",
	.test_cases = bus1_quota_test_cases,
};

kunit_test_suite(bus1_quota_test_suite);

MODULE_DESCRIPTION("KUnit tests for the bus1 quotas");
MODULE_LICENSE("GPL");
