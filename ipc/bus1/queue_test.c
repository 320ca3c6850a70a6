// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bus1 ordered queues.
 */

#include <kunit/test.h>
#include <linux/prandom.h>
#include "queue.h"

static struct bus1_queue_node *pop(struct bus1_queue *queue, bool *more)
{
	bool dummy;

	return bus1_queue_pop(queue, more ?: &dummy);
}

static void bus1_queue_test_commit_order(struct kunit *test)
{
	struct bus1_queue_node a, b, c;
	struct bus1_queue q;

	bus1_queue_init(&q);
	bus1_queue_node_init(&a, 1);
	bus1_queue_node_init(&b, 2);
	bus1_queue_node_init(&c, 3);

	KUNIT_EXPECT_TRUE(test, bus1_queue_commit(&q, &a, 0));
	KUNIT_EXPECT_EQ(test, a.ts, 2ULL);
	KUNIT_EXPECT_TRUE(test, bus1_queue_commit(&q, &b, 0));
	KUNIT_EXPECT_EQ(test, b.ts, 4ULL);
	/* An entry committed later at an older time still goes last. */
	KUNIT_EXPECT_TRUE(test, bus1_queue_commit(&q, &c, 2));
	KUNIT_EXPECT_EQ(test, c.ts, 6ULL);
	KUNIT_EXPECT_EQ(test, bus1_queue_tick(&q, 0), 6ULL);

	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &a);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &b);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &c);
	KUNIT_EXPECT_NULL(test, pop(&q, NULL));
	bus1_queue_deinit(&q);
}

static void bus1_queue_test_staged_blocks(struct kunit *test)
{
	struct bus1_queue_node staged, later;
	struct bus1_queue q;
	u64 ts;

	bus1_queue_init(&q);
	bus1_queue_node_init(&staged, 1);
	bus1_queue_node_init(&later, 2);

	KUNIT_EXPECT_FALSE(test, bus1_queue_is_ready(&q));
	ts = bus1_queue_stage(&q, &staged);
	KUNIT_EXPECT_EQ(test, ts, 1ULL);
	KUNIT_EXPECT_NULL(test, pop(&q, NULL));
	/* Committed after the staged entry, so it waits behind it. */
	KUNIT_EXPECT_FALSE(test, bus1_queue_commit(&q, &later, 0));
	KUNIT_EXPECT_FALSE(test, bus1_queue_is_ready(&q));
	KUNIT_EXPECT_NULL(test, pop(&q, NULL));

	/* The hint follows every change of the first entry. */
	KUNIT_EXPECT_TRUE(test, bus1_queue_commit(&q, &staged,
						  bus1_queue_commit_ts(ts)));
	KUNIT_EXPECT_TRUE(test, bus1_queue_is_ready(&q));
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &staged);
	KUNIT_EXPECT_TRUE(test, bus1_queue_is_ready(&q));
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &later);
	KUNIT_EXPECT_FALSE(test, bus1_queue_is_ready(&q));
	bus1_queue_deinit(&q);
}

static void bus1_queue_test_remove_unblocks(struct kunit *test)
{
	struct bus1_queue_node staged, later;
	struct bus1_queue q;

	bus1_queue_init(&q);
	bus1_queue_node_init(&staged, 1);
	bus1_queue_node_init(&later, 2);

	bus1_queue_stage(&q, &staged);
	KUNIT_EXPECT_FALSE(test, bus1_queue_commit(&q, &later, 0));
	/* A failed transaction unstages; what waited behind it is free. */
	KUNIT_EXPECT_TRUE(test, bus1_queue_remove(&q, &staged));
	KUNIT_EXPECT_FALSE(test, bus1_queue_node_is_queued(&staged));
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, NULL), &later);
	/* Removing an entry that is in no queue is harmless. */
	KUNIT_EXPECT_FALSE(test, bus1_queue_remove(&q, &staged));
	bus1_queue_deinit(&q);
}

/*
 * Two transactions commit at the same timestamp on two queues, arriving
 * in opposite orders: both queues must still agree on one order.
 */
static void bus1_queue_test_equal_timestamp_tie_break(struct kunit *test)
{
	struct bus1_queue_node x1, x2, y1, y2;
	struct bus1_queue q1, q2;
	u64 ts;

	bus1_queue_init(&q1);
	bus1_queue_init(&q2);
	bus1_queue_node_init(&x1, 7);
	bus1_queue_node_init(&x2, 7);
	bus1_queue_node_init(&y1, 3);
	bus1_queue_node_init(&y2, 3);

	bus1_queue_stage(&q1, &x1);
	bus1_queue_stage(&q1, &y1);
	bus1_queue_stage(&q2, &y2);
	bus1_queue_stage(&q2, &x2);
	ts = bus1_queue_commit_ts(1);
	bus1_queue_commit(&q1, &x1, ts);
	bus1_queue_commit(&q2, &x2, ts);
	bus1_queue_commit(&q2, &y2, ts);
	bus1_queue_commit(&q1, &y1, ts);
	KUNIT_ASSERT_EQ(test, x1.ts, y1.ts);

	KUNIT_EXPECT_PTR_EQ(test, pop(&q1, NULL), &y1);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q1, NULL), &x1);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q2, NULL), &y2);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q2, NULL), &x2);
	bus1_queue_deinit(&q1);
	bus1_queue_deinit(&q2);
}

static void bus1_queue_test_same_transaction(struct kunit *test)
{
	struct bus1_queue_node a, b, other;
	struct bus1_queue q;
	bool more;
	u64 ts;

	bus1_queue_init(&q);
	bus1_queue_node_init(&a, 5);
	bus1_queue_node_init(&b, 5);
	bus1_queue_node_init(&other, 6);

	ts = max(bus1_queue_stage(&q, &a), bus1_queue_stage(&q, &b));
	ts = bus1_queue_commit_ts(ts);
	bus1_queue_commit(&q, &a, ts);
	bus1_queue_commit(&q, &b, ts);
	bus1_queue_commit(&q, &other, 0);

	KUNIT_EXPECT_NOT_NULL(test, pop(&q, &more));
	KUNIT_EXPECT_TRUE(test, more);
	KUNIT_EXPECT_NOT_NULL(test, pop(&q, &more));
	KUNIT_EXPECT_FALSE(test, more);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q, &more), &other);
	KUNIT_EXPECT_FALSE(test, more);
	bus1_queue_deinit(&q);
}

/*
 * A multicast X to q1 and q2 is received on q1 before it commits on q2,
 * and what the receiver does then (say, a pipe write) makes another peer
 * send Y to q2. Because the sender raises every destination clock to the
 * commit timestamp before it commits anywhere, Y lands after X on q2.
 */
static void bus1_queue_test_cause_before_commit(struct kunit *test)
{
	struct bus1_queue_node x1, x2, y;
	struct bus1_queue q1, q2;
	u64 ts;

	bus1_queue_init(&q1);
	bus1_queue_init(&q2);
	/* q1 has seen more than q2, so X's commit is far above q2's clock. */
	bus1_queue_tick(&q1, 100);
	bus1_queue_node_init(&x1, 1);
	bus1_queue_node_init(&x2, 1);
	bus1_queue_node_init(&y, 2);

	ts = max(bus1_queue_stage(&q1, &x1), bus1_queue_stage(&q2, &x2));
	ts = bus1_queue_commit_ts(ts);
	bus1_queue_tick(&q1, ts);
	bus1_queue_tick(&q2, ts);
	bus1_queue_commit(&q1, &x1, ts);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q1, NULL), &x1);

	/* Caused by the receipt, sent by a peer whose clock is still 0. */
	bus1_queue_commit(&q2, &y, bus1_queue_commit_ts(0));
	KUNIT_EXPECT_GT(test, y.ts, ts);
	bus1_queue_commit(&q2, &x2, ts);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q2, NULL), &x2);
	KUNIT_EXPECT_PTR_EQ(test, pop(&q2, NULL), &y);
	bus1_queue_deinit(&q1);
	bus1_queue_deinit(&q2);
}

static void bus1_queue_test_peek_and_flush(struct kunit *test)
{
	struct bus1_queue_node staged, done, *n, *tmp;
	struct bus1_queue q;
	struct rb_root all;
	int count = 0;
	bool more;
	u64 ts;

	bus1_queue_init(&q);
	bus1_queue_node_init(&staged, 1);
	bus1_queue_node_init(&done, 2);
	ts = bus1_queue_stage(&q, &staged);
	bus1_queue_commit(&q, &done, 0);
	KUNIT_EXPECT_EQ(test, bus1_queue_length(&q), 2UL);
	/* A staged first entry hides the committed one behind it. */
	KUNIT_EXPECT_NULL(test, bus1_queue_peek(&q, &more));

	bus1_queue_commit(&q, &staged, bus1_queue_commit_ts(ts));
	/* Peeking leaves the entry in place. */
	KUNIT_EXPECT_PTR_EQ(test, bus1_queue_peek(&q, &more), &staged);
	KUNIT_EXPECT_PTR_EQ(test, bus1_queue_peek(&q, &more), &staged);
	KUNIT_EXPECT_FALSE(test, more);
	KUNIT_EXPECT_EQ(test, bus1_queue_length(&q), 2UL);

	all = bus1_queue_flush(&q);
	KUNIT_EXPECT_EQ(test, bus1_queue_length(&q), 0UL);
	KUNIT_EXPECT_NULL(test, bus1_queue_peek(&q, &more));
	rbtree_postorder_for_each_entry_safe(n, tmp, &all, rb)
		count++;
	KUNIT_EXPECT_EQ(test, count, 2);
	bus1_queue_deinit(&q);
}

/*
 * Random interleavings of multicast transactions over a few queues, run
 * step by step as concurrent senders would. Afterwards, any two queues
 * must have received their common transactions in the same order, and a
 * transaction that finished before another one started must come first
 * wherever both arrived.
 */
#define MODEL_QUEUES	5
#define MODEL_TX	24
#define MODEL_ROUNDS	200

struct model_tx {
	unsigned int dests;	/* bitmask of queues */
	unsigned int step;	/* 0..n stage, then commit */
	u64 ts;
	int started, finished;	/* global step counters */
	struct bus1_queue_node nodes[MODEL_QUEUES];
};

static int model_nth_dest(unsigned int dests, unsigned int n)
{
	int i;

	for (i = 0; i < MODEL_QUEUES; i++)
		if ((dests & BIT(i)) && !n--)
			return i;
	return -1;
}

static void model_round(struct kunit *test, struct rnd_state *rnd)
{
	struct bus1_queue queues[MODEL_QUEUES];
	int pos[MODEL_QUEUES][MODEL_TX], count[MODEL_QUEUES] = {};
	struct model_tx *txs;
	int clock = 0, left = MODEL_TX, i, j, q;

	txs = kunit_kcalloc(test, MODEL_TX, sizeof(*txs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, txs);
	for (q = 0; q < MODEL_QUEUES; q++)
		bus1_queue_init(&queues[q]);
	for (i = 0; i < MODEL_TX; i++) {
		txs[i].dests = (prandom_u32_state(rnd) % (BIT(MODEL_QUEUES) - 1)) + 1;
		txs[i].started = -1;
		txs[i].finished = -1;
		for (q = 0; q < MODEL_QUEUES; q++)
			bus1_queue_node_init(&txs[i].nodes[q], i + 1);
	}

	/* A transaction starts only when picked, so starts interleave too. */
	while (left) {
		struct model_tx *tx = &txs[prandom_u32_state(rnd) % MODEL_TX];
		unsigned int n = hweight32(tx->dests);

		if (tx->finished >= 0)
			continue;
		if (tx->started < 0)
			tx->started = clock;
		if (tx->step < n) {
			q = model_nth_dest(tx->dests, tx->step);
			tx->ts = max(tx->ts, bus1_queue_stage(&queues[q],
							      &tx->nodes[q]));
		} else {
			if (tx->step == n)
				tx->ts = bus1_queue_commit_ts(tx->ts);
			q = model_nth_dest(tx->dests, tx->step - n);
			bus1_queue_commit(&queues[q], &tx->nodes[q], tx->ts);
		}
		clock++;
		if (++tx->step == 2 * n) {
			tx->finished = clock;
			left--;
		}
	}

	for (q = 0; q < MODEL_QUEUES; q++) {
		struct bus1_queue_node *node;

		for (i = 0; i < MODEL_TX; i++)
			pos[q][i] = -1;
		while ((node = pop(&queues[q], NULL))) {
			KUNIT_ASSERT_LT(test, count[q], MODEL_TX);
			pos[q][node->key - 1] = count[q]++;
		}
		KUNIT_EXPECT_TRUE(test, RB_EMPTY_ROOT(&queues[q].entries.rb_root));
		bus1_queue_deinit(&queues[q]);
	}

	for (i = 0; i < MODEL_TX; i++) {
		for (j = i + 1; j < MODEL_TX; j++) {
			int first = 0;

			for (q = 0; q < MODEL_QUEUES; q++) {
				int before;

				if (pos[q][i] < 0 || pos[q][j] < 0)
					continue;
				before = pos[q][i] < pos[q][j] ? 1 : -1;
				/* Same relative order on every shared queue. */
				if (!first)
					first = before;
				KUNIT_EXPECT_EQ(test, first, before);
				/* Happened-before is respected. */
				if (txs[i].finished <= txs[j].started)
					KUNIT_EXPECT_EQ(test, before, 1);
				if (txs[j].finished <= txs[i].started)
					KUNIT_EXPECT_EQ(test, before, -1);
			}
		}
	}
	for (q = 0; q < MODEL_QUEUES; q++) {
		int expect = 0;

		for (i = 0; i < MODEL_TX; i++)
			expect += !!(txs[i].dests & BIT(q));
		/* Nothing lost, nothing duplicated. */
		KUNIT_EXPECT_EQ(test, count[q], expect);
	}
}

static void bus1_queue_test_random_multicast(struct kunit *test)
{
	struct rnd_state rnd;
	int round;

	prandom_seed_state(&rnd, 0x6275733100000001ULL);
	for (round = 0; round < MODEL_ROUNDS; round++)
		model_round(test, &rnd);
}

static struct kunit_case bus1_queue_test_cases[] = {
	KUNIT_CASE(bus1_queue_test_commit_order),
	KUNIT_CASE(bus1_queue_test_staged_blocks),
	KUNIT_CASE(bus1_queue_test_remove_unblocks),
	KUNIT_CASE(bus1_queue_test_equal_timestamp_tie_break),
	KUNIT_CASE(bus1_queue_test_same_transaction),
	KUNIT_CASE(bus1_queue_test_peek_and_flush),
	KUNIT_CASE(bus1_queue_test_cause_before_commit),
	KUNIT_CASE(bus1_queue_test_random_multicast),
	{}
};

static struct kunit_suite bus1_queue_test_suite = {
	.name = "bus1-queue",
	.test_cases = bus1_queue_test_cases,
};

kunit_test_suite(bus1_queue_test_suite);

MODULE_DESCRIPTION("KUnit tests for the bus1 ordered queues");
MODULE_LICENSE("GPL");
