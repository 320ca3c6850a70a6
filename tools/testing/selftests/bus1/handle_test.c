// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of bus1_node_create() and bus1_handle_transfer(): handle IDs, one
 * handle per node and peer, unforgeable IDs, every error, and transfers
 * racing each other.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

FIXTURE(peers) {
	int a, b, c;
};

FIXTURE_SETUP(peers)
{
	self->a = bus1_peer_create(BUS1_PEER_CLOEXEC);
	self->b = bus1_peer_create(BUS1_PEER_CLOEXEC);
	self->c = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, self->a);
	ASSERT_LE(0, self->b);
	ASSERT_LE(0, self->c);
}

FIXTURE_TEARDOWN(peers)
{
	close(self->a);
	close(self->b);
	close(self->c);
}

TEST_F(peers, node_create)
{
	__u64 id1 = 0, id2 = 0;

	EXPECT_EQ(0, fdinfo(self->a, "bus1-nodes"));
	ASSERT_EQ(0, bus1_node_create(self->a, &id1, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &id2, 0));
	EXPECT_NE(0, id1);
	/* IDs count up and are never handed out twice. */
	EXPECT_LT(id1, id2);
	EXPECT_EQ(2, fdinfo(self->a, "bus1-nodes"));
	EXPECT_EQ(2, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-nodes"));
}

TEST_F(peers, node_create_errors)
{
	int pipefd[2], closed;
	__u64 id;
	void *ro;

	EXPECT_EQ(-1, bus1_node_create(self->a, &id, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_node_create(self->a, &id, ~0U));
	EXPECT_EQ(EINVAL, errno);

	closed = dup(self->a);
	ASSERT_LE(0, closed);
	close(closed);
	EXPECT_EQ(-1, bus1_node_create(closed, &id, 0));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, bus1_node_create(pipefd[0], &id, 0));
	EXPECT_EQ(EBADFD, errno);
	close(pipefd[0]);
	close(pipefd[1]);

	/* An unwritable ID leaves no node behind. */
	EXPECT_EQ(-1, bus1_node_create(self->a, NULL, 0));
	EXPECT_EQ(EFAULT, errno);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	EXPECT_EQ(-1, bus1_node_create(self->a, ro, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
	EXPECT_EQ(0, fdinfo(self->a, "bus1-nodes"));
	EXPECT_EQ(0, fdinfo(self->a, "bus1-handles"));
}

TEST_F(peers, transfer)
{
	__u64 node, in_b, again, in_c, back;

	ASSERT_EQ(0, bus1_node_create(self->a, &node, 0));

	in_b = bus1_transfer_id(self->a, node, self->b);
	ASSERT_NE(0, in_b);
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-nodes"));

	/* One handle per node: the same node again merges into it. */
	again = bus1_transfer_id(self->a, node, self->b);
	EXPECT_EQ(in_b, again);
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));

	/* A holder passes it on; the owner gets its own handle back. */
	in_c = bus1_transfer_id(self->b, in_b, self->c);
	ASSERT_NE(0, in_c);
	back = bus1_transfer_id(self->c, in_c, self->a);
	EXPECT_EQ(node, back);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-handles"));

	/* Within one peer, the handle gains a reference and keeps its ID. */
	EXPECT_EQ(in_b, bus1_transfer_id(self->b, in_b, self->b));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
}

TEST_F(peers, transfer_unforgeable)
{
	struct bus1_transfer t = {};
	__u64 node_a, node_b;

	ASSERT_EQ(0, bus1_node_create(self->a, &node_a, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &node_b, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &node_b, 0));

	/* IDs mean something only in the peer that was given them. */
	t.src_id = node_b;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->c, &t, sizeof(t)));
	EXPECT_EQ(ENXIO, errno);
	t.src_id = 0;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->c, &t, sizeof(t)));
	EXPECT_EQ(ENXIO, errno);
	t.src_id = node_a + 1000;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->c, &t, sizeof(t)));
	EXPECT_EQ(ENXIO, errno);
	t.src_id = ~0ULL;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->c, &t, sizeof(t)));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, fdinfo(self->c, "bus1-handles"));
}

TEST_F(peers, transfer_errors)
{
	struct {
		struct bus1_transfer t;
		__u64 extension;
	} big = {};
	struct bus1_transfer t = {};
	int pipefd[2];
	__u64 node;
	void *ro;

	ASSERT_EQ(0, bus1_node_create(self->a, &node, 0));
	t.src_id = node;

	t.flags = 1;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, sizeof(t)));
	EXPECT_EQ(EINVAL, errno);
	t.flags = 0;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, sizeof(t) - 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, 0));
	EXPECT_EQ(EINVAL, errno);

	/* A larger structure is fine while the unknown tail is zero. */
	big.t.src_id = node;
	EXPECT_EQ(0, bus1_handle_transfer(self->a, self->b, &big.t, sizeof(big)));
	EXPECT_NE(0, big.t.dst_id);
	big.extension = 1;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &big.t, sizeof(big)));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t,
					   sysconf(_SC_PAGESIZE) + 8));
	EXPECT_EQ(E2BIG, errno);

	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, NULL, sizeof(t)));
	EXPECT_EQ(EFAULT, errno);

	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, pipefd[1], &t, sizeof(t)));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, bus1_handle_transfer(pipefd[0], self->b, &t, sizeof(t)));
	EXPECT_EQ(EBADFD, errno);
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, -1, &t, sizeof(t)));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, bus1_handle_transfer(-1, self->b, &t, sizeof(t)));
	EXPECT_EQ(EBADF, errno);

	/* The result cannot be written back: the transfer is undone. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	memcpy(ro, &t, sizeof(t));
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->c, ro, sizeof(t)));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
	EXPECT_EQ(0, fdinfo(self->c, "bus1-handles"));
}

TEST_F(peers, owner_closes_first)
{
	struct bus1_transfer t = {};
	struct bus1_recv r = {};
	__u64 node, in_b;

	ASSERT_EQ(0, bus1_node_create(self->a, &node, 0));
	in_b = bus1_transfer_id(self->a, node, self->b);
	ASSERT_NE(0, in_b);
	/*
	 * Closing the owner destroys the node: the holder is told, keeps
	 * its handle until it releases it, but cannot pass it on.
	 */
	close(self->a);
	ASSERT_EQ(0, bus1_recv(self->b, &r, sizeof(r)));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, r.type);
	EXPECT_EQ(in_b, r.destination);
	t.src_id = in_b;
	EXPECT_EQ(-1, bus1_handle_transfer(self->b, self->c, &t, sizeof(t)));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(0, fdinfo(self->c, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, bus1_handle_release(self->b, &in_b, 1, 0));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-handles"));
	self->a = bus1_peer_create(0);
	ASSERT_LE(0, self->a);
}

TEST(ids_never_reused)
{
	__u64 last = 0, id;
	int a, b, i;

	a = bus1_peer_create(0);
	b = bus1_peer_create(0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, bus1_node_create(b, &id, 0));
		id = bus1_transfer_id(b, id, a);
		ASSERT_NE(0, id);
		EXPECT_LT(last, id);
		last = id;
	}
	EXPECT_EQ(200, fdinfo(a, "bus1-handles"));
	close(a);
	close(b);
}

#define RACE_THREADS	4
#define RACE_ROUNDS	200

struct race {
	int src, dst;
	__u64 id;
	__u64 seen[RACE_THREADS];
};

static struct race race;

static void *transfer_loop(void *arg)
{
	long t = (long)arg, i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		__u64 id = bus1_transfer_id(race.src, race.id, race.dst);

		if (!id || (race.seen[t] && race.seen[t] != id))
			return (void *)1;
		race.seen[t] = id;
	}
	return NULL;
}

/* Concurrent transfers of one node to one peer end in a single handle. */
TEST(concurrent_transfer)
{
	pthread_t threads[RACE_THREADS];
	void *failed;
	long i;

	race.src = bus1_peer_create(0);
	race.dst = bus1_peer_create(0);
	ASSERT_LE(0, race.src);
	ASSERT_LE(0, race.dst);
	ASSERT_EQ(0, bus1_node_create(race.src, &race.id, 0));
	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, transfer_loop,
					    (void *)i));
	for (i = 0; i < RACE_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(threads[i], &failed));
		EXPECT_TRUE(!failed);
		EXPECT_EQ(race.seen[0], race.seen[i]);
	}
	EXPECT_EQ(1, fdinfo(race.dst, "bus1-handles"));
	close(race.src);
	close(race.dst);
}

TEST_HARNESS_MAIN
