// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the end of nodes, handles and peers: bus1_handle_release(),
 * bus1_nodes_destroy() and bus1_peer_disconnect(), with every error and
 * that a failed call changes nothing, and the BUS1_MSG_NODE_RELEASE and
 * BUS1_MSG_NODE_DESTROY notices they queue, their withdrawal, their
 * transactions and their order with messages; that a send whose copy
 * stalls holds up no receiver's end; and that closing a peer that owns or
 * holds 100,000 handles holds up no other peer.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

/* Send @text, with its terminating zero, to the handle @dst of @fd. */
static int send_text(int fd, __u64 dst, const char *text)
{
	struct bus1_vec v = { .ptr = PTR(text), .len = strlen(text) + 1 };
	struct bus1_send s = {
		.ptr_destinations = PTR(&dst),
		.n_destinations = 1,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
	};

	return bus1_send(fd, &s, sizeof(s));
}

/* The same with BUS1_SEND_CONTINUE: the result of @dst goes to @error. */
static int send_continue(int fd, __u64 dst, __s32 *error)
{
	struct bus1_send s = {
		.flags = BUS1_SEND_CONTINUE,
		.ptr_destinations = PTR(&dst),
		.n_destinations = 1,
		.ptr_errors = PTR(error),
	};

	return bus1_send(fd, &s, sizeof(s));
}

/* 0 if @fd has an entry to receive (which is taken), else the errno. */
static int recv_errno(int fd)
{
	struct bus1_recv r = {};

	return bus1_recv(fd, &r, sizeof(r)) ? errno : 0;
}

/*
 * Receive the next entry of @fd, which must be a notice. Returns 0 and
 * stores its type, destination and flags, or -1 with errno set: by
 * bus1_recv(), or to EBADMSG if the entry has a payload.
 */
static int recv_notice(int fd, __u64 *type, __u64 *dest, __u64 *flags)
{
	struct bus1_recv r = {};

	if (bus1_recv(fd, &r, sizeof(r)))
		return -1;
	*type = r.type;
	*dest = r.destination;
	*flags = r.msg_flags;
	if (r.offset || r.size) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* The next entry of @fd is a notice of @type about @dest, with @flags. */
#define EXPECT_NOTICE(fd, type, dest, flags) do {			\
	__u64 t_ = 0, d_ = 0, f_ = 0;					\
									\
	ASSERT_EQ(0, recv_notice((fd), &t_, &d_, &f_))			\
		TH_LOG("recv: %s", strerror(errno));			\
	EXPECT_EQ((__u64)(type), t_);					\
	EXPECT_EQ((__u64)(dest), d_);					\
	EXPECT_EQ((__u64)(flags), f_);					\
} while (0)

/*
 * The next entry of @fd is the message @text sent to @dest, alone in its
 * transaction; its payload is compared if the pool is mapped at @map, and
 * released.
 */
#define EXPECT_TEXT(fd, map, dest, text) do {				\
	const unsigned char *m_ = (map);				\
	const char *text_ = (text);					\
	size_t len_ = strlen(text_) + 1;				\
	struct bus1_recv r_ = {};					\
	int fd_ = (fd);							\
									\
	ASSERT_EQ(0, bus1_recv(fd_, &r_, sizeof(r_)))			\
		TH_LOG("recv: %s", strerror(errno));			\
	EXPECT_EQ(BUS1_MSG_DATA, r_.type);				\
	EXPECT_EQ((__u64)(dest), r_.destination);			\
	EXPECT_EQ(0, r_.msg_flags);					\
	ASSERT_EQ(len_, r_.size);					\
	if (m_)								\
		EXPECT_EQ(0, memcmp(m_ + r_.offset, text_, len_));	\
	EXPECT_EQ(0, bus1_slice_release(fd_, &r_.offset, 1, 0));	\
} while (0)

/* Nothing is queued on the non-blocking peer @fd. */
#define EXPECT_EMPTY(fd)	EXPECT_EQ(EAGAIN, recv_errno(fd))

/* Three peers, non-blocking, so that a missing entry fails, not hangs. */
FIXTURE(peers) {
	int a, b, c;
};

FIXTURE_SETUP(peers)
{
	const unsigned int flags = BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK;

	self->a = bus1_peer_create(flags);
	self->b = bus1_peer_create(flags);
	self->c = bus1_peer_create(flags);
	ASSERT_LE(0, self->a);
	ASSERT_LE(0, self->b);
	ASSERT_LE(0, self->c);
}

FIXTURE_TEARDOWN(peers)
{
	if (self->a >= 0)
		close(self->a);
	if (self->b >= 0)
		close(self->b);
	if (self->c >= 0)
		close(self->c);
}

TEST_F(peers, release_basic)
{
	__u64 n1, n2, h1, h2, ids[2];
	__u64 t, d, f;

	ASSERT_EQ(0, bus1_node_create(self->a, &n1, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));

	/* Received twice, the handle has two references and one ID. */
	h1 = bus1_transfer_id(self->a, n1, self->b);
	ASSERT_NE(0, h1);
	ASSERT_EQ(h1, bus1_transfer_id(self->a, n1, self->b));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-nodes"));

	EXPECT_EQ(0, bus1_handle_release(self->b, &h1, 1, 0));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	/* Still held: the owner hears nothing, and the handle works. */
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(0, send_text(self->b, h1, "still here"));
	EXPECT_TEXT(self->a, NULL, n1, "still here");

	EXPECT_EQ(0, bus1_handle_release(self->b, &h1, 1, 0));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(-1, bus1_handle_release(self->b, &h1, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, send_text(self->b, h1, "gone"));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n1, 0);
	EXPECT_EMPTY(self->a);

	/* Several handles in one call. */
	h1 = bus1_transfer_id(self->a, n1, self->b);
	h2 = bus1_transfer_id(self->a, n2, self->b);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, h2);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	ids[0] = h2;
	ids[1] = h1;
	EXPECT_EQ(0, bus1_handle_release(self->b, ids, 2, 0));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-handles"));
	ASSERT_EQ(0, recv_notice(self->a, &t, &d, &f));
	EXPECT_EQ(BUS1_MSG_NODE_RELEASE, t);
	ASSERT_TRUE(d == n1 || d == n2);
	ids[0] = d;
	ASSERT_EQ(0, recv_notice(self->a, &t, &d, &f));
	EXPECT_EQ(BUS1_MSG_NODE_RELEASE, t);
	EXPECT_EQ(ids[0] == n1 ? n2 : n1, d);
	EXPECT_EMPTY(self->a);

	/* The owner's own handle: all but its last reference may go. */
	ASSERT_EQ(n1, bus1_transfer_id(self->a, n1, self->a));
	EXPECT_EQ(0, bus1_handle_release(self->a, &n1, 1, 0));
	EXPECT_EQ(-1, bus1_handle_release(self->a, &n1, 1, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(2, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(2, fdinfo(self->a, "bus1-nodes"));
	/* Nobody else ever held it again: no release notice. */
	EXPECT_EMPTY(self->a);

	/* n == 0 is nothing to do, whatever the array. */
	EXPECT_EQ(0, bus1_handle_release(self->a, NULL, 0, 0));
	EXPECT_EQ(0, bus1_handle_release(self->a, &n1, 0, 0));
	EXPECT_EQ(2, fdinfo(self->a, "bus1-handles"));
}

TEST_F(peers, release_errors)
{
	int expect_fd = lowest_free_fd();
	__u64 na, nb, ha, hb, unheld, ids[3];
	unsigned char *hole;

	/* b holds a's node na twice; a holds b's node nb once. */
	ASSERT_EQ(0, bus1_node_create(self->a, &na, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &nb, 0));
	hb = bus1_transfer_id(self->a, na, self->b);
	ASSERT_NE(0, hb);
	ASSERT_EQ(hb, bus1_transfer_id(self->a, na, self->b));
	ha = bus1_transfer_id(self->b, nb, self->a);
	ASSERT_NE(0, ha);
	unheld = (hb > nb ? hb : nb) + 1;

	EXPECT_EQ(-1, bus1_handle_release(self->b, &hb, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_handle_release(self->b, &hb, 1, ~0U));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(-1, bus1_handle_release(self->b, &hb,
					  BUS1_RELEASE_MAX + 1, 0));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, bus1_handle_release(self->b, &hb, ~0U, 0));
	EXPECT_EQ(E2BIG, errno);

	EXPECT_EQ(-1, bus1_handle_release(self->b, NULL, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* The first ID is readable, the second lies in the hole. */
	hole = map_before_hole();
	ASSERT_TRUE(!!hole);
	memcpy(hole + PAGE - 8, &hb, 8);
	EXPECT_EQ(-1, bus1_handle_release(self->b,
					  (__u64 *)(hole + PAGE - 8), 2, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(hole, PAGE);

	/* IDs b was never given. */
	ids[0] = 0;
	EXPECT_EQ(-1, bus1_handle_release(self->b, ids, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	ids[0] = ~0ULL;
	EXPECT_EQ(-1, bus1_handle_release(self->b, ids, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, bus1_handle_release(self->b, &unheld, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	/* All or nothing: a good ID before a bad one is not released. */
	ids[0] = hb;
	ids[1] = unheld;
	EXPECT_EQ(-1, bus1_handle_release(self->b, ids, 2, 0));
	EXPECT_EQ(ENXIO, errno);

	/* Twice in one call, even though hb has two references. */
	ids[0] = hb;
	ids[1] = hb;
	EXPECT_EQ(-1, bus1_handle_release(self->b, ids, 2, 0));
	EXPECT_EQ(ENOTUNIQ, errno);
	ids[0] = hb;
	ids[1] = nb;
	ids[2] = hb;
	ASSERT_EQ(nb, bus1_transfer_id(self->b, nb, self->b));
	EXPECT_EQ(-1, bus1_handle_release(self->b, ids, 3, 0));
	EXPECT_EQ(ENOTUNIQ, errno);
	EXPECT_EQ(0, bus1_handle_release(self->b, &nb, 1, 0));

	/* The last reference of the owner's handle of a live node. */
	EXPECT_EQ(-1, bus1_handle_release(self->a, &na, 1, 0));
	EXPECT_EQ(EBUSY, errno);
	ids[0] = ha;
	ids[1] = na;
	EXPECT_EQ(-1, bus1_handle_release(self->a, ids, 2, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, bus1_handle_release(self->b, &nb, 1, 0));
	EXPECT_EQ(EBUSY, errno);

	/* None of that released anything. */
	EXPECT_EQ(2, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->a, "bus1-nodes"));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-nodes"));
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(expect_fd, lowest_free_fd());

	/* Both references of hb are still there. */
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, na, 0);
	EXPECT_EQ(0, bus1_handle_release(self->a, &ha, 1, 0));
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_RELEASE, nb, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
}

TEST_F(peers, release_notice)
{
	__u64 n, own, hb, hc;

	ASSERT_EQ(0, bus1_node_create(self->a, &n, 0));
	hb = bus1_transfer_id(self->a, n, self->b);
	hc = bus1_transfer_id(self->a, n, self->c);
	ASSERT_NE(0, hb);
	ASSERT_NE(0, hc);

	/* c still holds the node. */
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_EMPTY(self->a);

	/* The notice comes after what the releasing peer did before. */
	ASSERT_EQ(0, send_text(self->c, hc, "last words"));
	EXPECT_EQ(0, bus1_handle_release(self->c, &hc, 1, 0));
	EXPECT_EQ(2, fdinfo(self->a, "bus1-queued"));
	EXPECT_TEXT(self->a, NULL, n, "last words");
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-handles"));

	/* Given away and released again, and the owner is told again. */
	hb = bus1_transfer_id(self->a, n, self->b);
	ASSERT_NE(0, hb);
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n, 0);
	EXPECT_EMPTY(self->a);

	/* The owner's own references are not foreign ones. */
	ASSERT_EQ(0, bus1_node_create(self->a, &own, 0));
	ASSERT_EQ(own, bus1_transfer_id(self->a, own, self->a));
	EXPECT_EQ(0, bus1_handle_release(self->a, &own, 1, 0));
	EXPECT_EMPTY(self->a);
}

TEST_F(peers, release_notice_withdrawn)
{
	__u64 n, hb, hc;

	ASSERT_EQ(0, bus1_node_create(self->a, &n, 0));
	hb = bus1_transfer_id(self->a, n, self->b);
	ASSERT_NE(0, hb);
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));

	/* c gets the node before a read the notice: it is withdrawn. */
	hc = bus1_transfer_id(self->a, n, self->c);
	ASSERT_NE(0, hc);
	EXPECT_EMPTY(self->a);

	/* Released again, it is queued again. */
	EXPECT_EQ(0, bus1_handle_release(self->c, &hc, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n, 0);
	EXPECT_EMPTY(self->a);

	/*
	 * Released, held again and released again before the owner looked:
	 * one notice, not two.
	 */
	hb = bus1_transfer_id(self->a, n, self->b);
	ASSERT_NE(0, hb);
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	hc = bus1_transfer_id(self->a, n, self->c);
	ASSERT_NE(0, hc);
	EXPECT_EQ(0, bus1_handle_release(self->c, &hc, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);
}

TEST_F(peers, release_on_close)
{
	__u64 n, hb;
	int b2;

	ASSERT_EQ(0, bus1_node_create(self->a, &n, 0));
	hb = bus1_transfer_id(self->a, n, self->b);
	ASSERT_NE(0, hb);
	ASSERT_EQ(hb, bus1_transfer_id(self->a, n, self->b));

	/* Not the last fd of b: b stays connected and keeps the node. */
	b2 = dup(self->b);
	ASSERT_LE(0, b2);
	ASSERT_EQ(0, close(self->b));
	self->b = -1;
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(1, fdinfo(b2, "bus1-connected"));
	EXPECT_EQ(1, fdinfo(b2, "bus1-handles"));

	/* The last one: every reference b held goes at once. */
	ASSERT_EQ(0, close(b2));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-handles"));
}

TEST_F(peers, close_owner_destroys)
{
	__u64 n1, n2, h1, h2, t, d, f;

	ASSERT_EQ(0, bus1_node_create(self->a, &n1, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	h1 = bus1_transfer_id(self->a, n1, self->b);
	h2 = bus1_transfer_id(self->a, n2, self->b);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, h2);

	/* All nodes of the owner go in one transaction. */
	ASSERT_EQ(0, close(self->a));
	self->a = -1;
	ASSERT_EQ(0, recv_notice(self->b, &t, &d, &f));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, t);
	EXPECT_EQ(BUS1_MSG_CONTINUE, f);
	ASSERT_TRUE(d == h1 || d == h2);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, d == h1 ? h2 : h1, 0);
	EXPECT_EMPTY(self->b);

	EXPECT_EQ(-1, send_text(self->b, h1, "x"));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, bus1_handle_release(self->b, &h1, 1, 0));
	EXPECT_EQ(0, bus1_handle_release(self->b, &h2, 1, 0));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-handles"));
}

TEST_F(peers, destroy_basic)
{
	__u64 n, hb, hc, again;
	__s32 error = -1;

	ASSERT_EQ(0, bus1_node_create(self->a, &n, 0));
	hb = bus1_transfer_id(self->a, n, self->b);
	hc = bus1_transfer_id(self->a, n, self->c);
	ASSERT_NE(0, hb);
	ASSERT_NE(0, hc);

	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n, 1, 0));
	/* Every holder is told, the owner included, each by its own ID. */
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n, 0);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, hb, 0);
	EXPECT_NOTICE(self->c, BUS1_MSG_NODE_DESTROY, hc, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);

	/* The node is unreachable; the handles stay. */
	EXPECT_EQ(-1, send_text(self->b, hb, "too late"));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(-1, send_text(self->a, n, "too late"));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(0, send_continue(self->c, hc, &error));
	EXPECT_EQ(EHOSTUNREACH, error);
	EXPECT_EQ(0, fdinfo(self->a, "bus1-queued"));
	EXPECT_EMPTY(self->a);

	again = bus1_transfer_id(self->b, hb, self->c);
	EXPECT_EQ(0, again);
	EXPECT_EQ(EHOSTUNREACH, errno);
	again = bus1_transfer_id(self->a, n, self->b);
	EXPECT_EQ(0, again);
	EXPECT_EQ(EHOSTUNREACH, errno);
	again = bus1_transfer_id(self->c, hc, self->c);
	EXPECT_EQ(0, again);
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->c, "bus1-handles"));

	/* Released one by one, the owner's too, with no release notice. */
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_EQ(0, bus1_handle_release(self->c, &hc, 1, 0));
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(0, bus1_handle_release(self->a, &n, 1, 0));
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(0, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->a, "bus1-nodes"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->c, "bus1-handles"));
	EXPECT_EQ(-1, bus1_handle_release(self->a, &n, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n, 1, 0));
	EXPECT_EQ(ENXIO, errno);
}

TEST_F(peers, destroy_errors)
{
	int expect_fd = lowest_free_fd();
	__u64 n1, n2, nb, h1, ha, unheld, ids[3];
	unsigned char *hole;

	/* a owns n1, held by b, and n2; b owns nb, held by a. */
	ASSERT_EQ(0, bus1_node_create(self->a, &n1, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &nb, 0));
	h1 = bus1_transfer_id(self->a, n1, self->b);
	ha = bus1_transfer_id(self->b, nb, self->a);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, ha);
	unheld = (n2 > ha ? n2 : ha) + 1;

	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n1, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n1, 1, ~0U));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n1,
					 BUS1_RELEASE_MAX + 1, 0));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n1, ~0U, 0));
	EXPECT_EQ(E2BIG, errno);

	EXPECT_EQ(0, bus1_nodes_destroy(self->a, NULL, 0, 0));
	EXPECT_EQ(0, bus1_nodes_destroy(self->a, &n1, 0, 0));

	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, NULL, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	hole = map_before_hole();
	ASSERT_TRUE(!!hole);
	memcpy(hole + PAGE - 8, &n1, 8);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a,
					 (__u64 *)(hole + PAGE - 8), 2, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(hole, PAGE);

	ids[0] = 0;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	ids[0] = ~0ULL;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	ids[0] = n1;
	ids[1] = unheld;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 2, 0));
	EXPECT_EQ(ENXIO, errno);
	/* b holds a handle of n1, but n1 is not b's to destroy. */
	EXPECT_EQ(-1, bus1_nodes_destroy(self->b, &h1, 1, 0));
	EXPECT_EQ(EPERM, errno);
	ids[0] = n1;
	ids[1] = ha;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 2, 0));
	EXPECT_EQ(EPERM, errno);

	ids[0] = n1;
	ids[1] = n1;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 2, 0));
	EXPECT_EQ(ENOTUNIQ, errno);
	ids[0] = n1;
	ids[1] = n2;
	ids[2] = n1;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 3, 0));
	EXPECT_EQ(ENOTUNIQ, errno);

	/* So far, nothing was destroyed: nobody heard of it. */
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(0, send_text(self->b, h1, "alive"));
	EXPECT_TEXT(self->a, NULL, n1, "alive");

	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n2, 0);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_EQ(EALREADY, errno);
	ids[0] = n1;
	ids[1] = n2;
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, 2, 0));
	EXPECT_EQ(EALREADY, errno);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(expect_fd, lowest_free_fd());

	/* n1 is still alive, and destroyed only now. */
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n1, 1, 0));
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, h1, 0);
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n1, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(0, send_text(self->a, ha, "nb lives"));
	EXPECT_TEXT(self->b, NULL, nb, "nb lives");
}

TEST_F(peers, destroy_atomic_set)
{
	__u64 n[3], h1, h2, h3, nb, hb, ids[3], t, d, f;
	unsigned int i, seen = 0;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, bus1_node_create(self->a, &n[i], 0));
	h1 = bus1_transfer_id(self->a, n[0], self->b);
	h2 = bus1_transfer_id(self->a, n[1], self->b);
	h3 = bus1_transfer_id(self->a, n[2], self->c);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, h3);
	ASSERT_EQ(0, bus1_node_create(self->b, &nb, 0));
	hb = bus1_transfer_id(self->b, nb, self->a);
	ASSERT_NE(0, hb);

	ids[0] = n[2];
	ids[1] = n[0];
	ids[2] = n[1];
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, ids, 3, 0));
	/* A later message is a transaction of its own. */
	ASSERT_EQ(0, send_text(self->a, hb, "after"));

	/* b holds two of the nodes: two entries of one transaction. */
	ASSERT_EQ(0, recv_notice(self->b, &t, &d, &f));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, t);
	EXPECT_EQ(BUS1_MSG_CONTINUE, f);
	ASSERT_TRUE(d == h1 || d == h2);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, d == h1 ? h2 : h1, 0);
	EXPECT_TEXT(self->b, NULL, nb, "after");
	EXPECT_EMPTY(self->b);

	EXPECT_NOTICE(self->c, BUS1_MSG_NODE_DESTROY, h3, 0);
	EXPECT_EMPTY(self->c);

	/* The owner gets all three, as one transaction. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, recv_notice(self->a, &t, &d, &f));
		EXPECT_EQ(BUS1_MSG_NODE_DESTROY, t);
		EXPECT_EQ(i < 2 ? BUS1_MSG_CONTINUE : 0, f);
		if (d == n[0])
			seen |= 1;
		else if (d == n[1])
			seen |= 2;
		else if (d == n[2])
			seen |= 4;
	}
	EXPECT_EQ(7, seen);
	EXPECT_EMPTY(self->a);
}

TEST_F(peers, destroy_orders_after_messages)
{
	const unsigned char *map_a, *map_b;
	__u64 na, ha, nb, hb, n2, h2;

	map_a = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, self->a, 0);
	map_b = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, self->b, 0);
	ASSERT_TRUE(map_a != MAP_FAILED);
	ASSERT_TRUE(map_b != MAP_FAILED);

	/* a owns na and n2, which b holds; b owns nb, which a holds. */
	ASSERT_EQ(0, bus1_node_create(self->a, &na, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &nb, 0));
	hb = bus1_transfer_id(self->a, na, self->b);
	h2 = bus1_transfer_id(self->a, n2, self->b);
	ha = bus1_transfer_id(self->b, nb, self->a);
	ASSERT_NE(0, hb);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, ha);

	/* A message to the node, queued before it is destroyed, arrives. */
	ASSERT_EQ(0, send_text(self->b, hb, "before"));
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &na, 1, 0));
	EXPECT_TEXT(self->a, map_a, na, "before");
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, na, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, hb, 0);
	EXPECT_EMPTY(self->b);

	/* What the owner sent before destroying arrives before the news. */
	ASSERT_EQ(0, send_text(self->a, ha, "m1"));
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_TEXT(self->b, map_b, nb, "m1");
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, h2, 0);
	EXPECT_EMPTY(self->b);
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n2, 0);
	EXPECT_EMPTY(self->a);

	munmap((void *)map_a, BUS1_POOL_SIZE);
	munmap((void *)map_b, BUS1_POOL_SIZE);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* BUS1_RELEASE_MAX IDs in one call, and not one more. */
TEST_F(peers, ids_max)
{
	const unsigned int n = BUS1_RELEASE_MAX;
	unsigned char *seen;
	__u64 *ids, t, d, f, *id;
	unsigned int i;

	ids = calloc(n + 1, sizeof(*ids));
	seen = calloc(n, 1);
	ASSERT_TRUE(ids && seen);
	for (i = 0; i < n + 1; i++)
		ASSERT_EQ(0, bus1_node_create(self->a, &ids[i], 0));
	/* IDs count up, so the array is sorted. */
	for (i = 0; i < n; i++)
		ASSERT_LT(ids[i], ids[i + 1]);

	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, ids, n + 1, 0));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EMPTY(self->a);
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, ids, n, 0));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, recv_notice(self->a, &t, &d, &f));
		ASSERT_EQ(BUS1_MSG_NODE_DESTROY, t);
		ASSERT_EQ(i + 1 < n ? BUS1_MSG_CONTINUE : 0, f)
			TH_LOG("entry %u", i);
		id = bsearch(&d, ids, n, sizeof(*ids), cmp_u64);
		ASSERT_TRUE(!!id) TH_LOG("entry %u", i);
		ASSERT_EQ(0, seen[id - ids]) TH_LOG("entry %u", i);
		seen[id - ids] = 1;
	}
	EXPECT_EMPTY(self->a);

	/* The last node was not part of it. */
	EXPECT_EQ(0, bus1_nodes_destroy(self->a, &ids[n], 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, ids[n], 0);

	EXPECT_EQ(-1, bus1_handle_release(self->a, ids, n + 1, 0));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(n + 1, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(0, bus1_handle_release(self->a, ids, n, 0));
	EXPECT_EQ(1, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(0, bus1_handle_release(self->a, &ids[n], 1, 0));
	EXPECT_EQ(0, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->a, "bus1-nodes"));
	EXPECT_EMPTY(self->a);
	free(ids);
	free(seen);
}

TEST_F(peers, disconnect_eshutdown)
{
	struct pollfd p = { .events = POLLIN | POLLRDNORM };
	struct bus1_transfer t = {};
	struct bus1_recv r = {};
	__u64 na, nb, hb, hc, ha, off = 0, id;
	unsigned long long v;
	void *map;
	int a2;

	/* a owns na, held by b and c, and holds b's node nb. */
	ASSERT_EQ(0, bus1_node_create(self->a, &na, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &nb, 0));
	hb = bus1_transfer_id(self->a, na, self->b);
	hc = bus1_transfer_id(self->a, na, self->c);
	ha = bus1_transfer_id(self->b, nb, self->a);
	ASSERT_NE(0, hb);
	ASSERT_NE(0, hc);
	ASSERT_NE(0, ha);
	a2 = dup(self->a);
	ASSERT_LE(0, a2);

	/* Connected, with a message queued. */
	ASSERT_EQ(0, send_text(self->b, hb, "never read"));
	p.fd = self->a;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-connected"));
	map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->a, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	munmap(map, PAGE);

	EXPECT_EQ(-1, bus1_peer_disconnect(self->a, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_peer_disconnect(self->a, ~0U));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, fdinfo(self->a, "bus1-connected"));

	ASSERT_EQ(0, bus1_peer_disconnect(self->a, 0));

	/* The holders of a's node are told, the owner of nb too, in order. */
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, hb, 0);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_RELEASE, nb, 0);
	EXPECT_EMPTY(self->b);
	EXPECT_NOTICE(self->c, BUS1_MSG_NODE_DESTROY, hc, 0);
	EXPECT_EMPTY(self->c);
	EXPECT_EQ(-1, send_text(self->b, hb, "x"));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(0, bus1_handle_release(self->b, &hb, 1, 0));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));

	/* Every call on a fails, through any of its fds. */
	EXPECT_EQ(-1, bus1_node_create(self->a, &id, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_node_create(a2, &id, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	t.src_id = na;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, sizeof(t)));
	EXPECT_EQ(ESHUTDOWN, errno);
	t.src_id = nb;
	EXPECT_EQ(-1, bus1_handle_transfer(self->b, self->a, &t, sizeof(t)));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, send_text(self->a, ha, "x"));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_recv(self->a, &r, sizeof(r)));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_slice_release(self->a, &off, 1, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_handle_release(self->a, &ha, 1, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_nodes_destroy(self->a, &na, 1, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_peer_disconnect(self->a, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_peer_disconnect(a2, 0));
	EXPECT_EQ(ESHUTDOWN, errno);
	errno = 0;
	map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->a, 0);
	EXPECT_TRUE(map == MAP_FAILED);
	EXPECT_EQ(ESHUTDOWN, errno);
	if (map != MAP_FAILED)
		munmap(map, PAGE);

	/* Only the hangup is reported, not the message dropped with it. */
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLHUP, p.revents);
	EXPECT_EQ(0, fdinfo(self->a, "bus1-connected"));
	EXPECT_EQ(-1, bus1_fdinfo(self->a, "bus1-handles", &v));
	EXPECT_EQ(-1, bus1_fdinfo(self->a, "bus1-nodes", &v));
	EXPECT_EQ(-1, bus1_fdinfo(self->a, "bus1-queued", &v));
	EXPECT_EQ(-1, bus1_fdinfo(self->a, "bus1-pool-allocated", &v));
	EXPECT_EQ(-1, bus1_fdinfo(self->a, "bus1-pool-slices", &v));

	/* Closing it later tells nobody anything again. */
	ASSERT_EQ(0, close(a2));
	ASSERT_EQ(0, close(self->a));
	self->a = -1;
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);
}

/* A thread blocked on a peer, and what its call returned. */
struct waiter {
	pthread_t thread;
	int fd;
	int ep;
	pid_t tid;
	int ret;
	int err;
	struct epoll_event ev;
};

static void *recv_run(void *arg)
{
	struct waiter *w = arg;
	struct bus1_recv r = {};

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	w->ret = bus1_recv(w->fd, &r, sizeof(r));
	w->err = errno;
	return NULL;
}

static void *epoll_run(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	w->ret = epoll_wait(w->ep, &w->ev, 1, 10000);
	w->err = errno;
	return NULL;
}

static int waiter_start(struct waiter *w, int fd, int ep,
			void *(*fn)(void *))
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->ep = ep;
	w->ret = -2;
	return pthread_create(&w->thread, NULL, fn, w);
}

/*
 * Wait until the thread of @w sleeps, which it does only inside its
 * blocking call. Returns 0 once it does, -1 after about ten seconds or if
 * the thread is gone.
 */
static int waiter_wait_blocked(struct waiter *w)
{
	char path[64], buf[512], *p;
	pid_t tid;
	ssize_t n;
	int i, fd;

	for (i = 0; i < 10000; i++) {
		tid = __atomic_load_n(&w->tid, __ATOMIC_SEQ_CST);
		if (tid) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
				 (int)tid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return -1;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			buf[n > 0 ? n : 0] = 0;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return 0;
		}
		usleep(1000);
	}
	return -1;
}

TEST(disconnect_wakes_recv)
{
	struct waiter w;
	int fd;

	fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, waiter_start(&w, fd, -1, recv_run));
	EXPECT_EQ(0, waiter_wait_blocked(&w));
	usleep(50000);
	EXPECT_EQ(-2, __atomic_load_n(&w.ret, __ATOMIC_SEQ_CST));

	ASSERT_EQ(0, bus1_peer_disconnect(fd, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-1, w.ret);
	EXPECT_EQ(ESHUTDOWN, w.err);
	EXPECT_EQ(ESHUTDOWN, recv_errno(fd));
	EXPECT_EQ(0, fdinfo(fd, "bus1-connected"));
	close(fd);
}

TEST(disconnect_epoll)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLHUP };
	struct waiter w;
	int fd, ep;

	fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, fd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	/* A waiter in epoll_wait() is woken by the hangup. */
	ASSERT_EQ(0, waiter_start(&w, fd, ep, epoll_run));
	EXPECT_EQ(0, waiter_wait_blocked(&w));
	EXPECT_EQ(-2, __atomic_load_n(&w.ret, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, bus1_peer_disconnect(fd, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(EPOLLHUP, w.ev.events);

	/* And it stays reported. */
	ev.events = 0;
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLHUP, ev.events);
	close(ep);
	close(fd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A send from @buf, on a thread of its own, and its outcome. */
struct stalled_send {
	int fd;
	__u64 dests[2];
	__s32 errors[2];
	unsigned int n_dests;
	void *buf;
	size_t len;
	int r, err;
};

static void *stalled_send_run(void *arg)
{
	struct stalled_send *st = arg;
	struct bus1_vec v = { .ptr = PTR(st->buf), .len = st->len };
	struct bus1_send s = {
		.ptr_destinations = PTR(st->dests),
		.n_destinations = st->n_dests,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
	};

	/* A multicast asks for per-destination results. */
	if (st->n_dests > 1) {
		s.flags = BUS1_SEND_CONTINUE;
		s.ptr_errors = PTR(st->errors);
	}
	st->r = bus1_send(st->fd, &s, sizeof(s));
	st->err = errno;
	return NULL;
}

/*
 * The pool bytes charged to the user of the peer @fd: what its peers drew
 * from the user limit, less what they hold in reserve (see bus1.rst,
 * Quotas). This process holds all the peers of that user.
 */
static unsigned long long user_bytes(int fd)
{
	return fdinfo(fd, "bus1-user-bytes") -
	       user_sum(fd, "bus1-reserved-bytes");
}

/*
 * A send whose payload runs from a present page into one that
 * userfaultfd keeps missing stalls in its copy for seconds. Meanwhile another sender reaches the
 * receiver, the receiver disconnects, and a holder of its node gets the
 * destruction notice at once. Once the page is there, the stalled send
 * fails with EHOSTUNREACH; as a multicast with per-destination results
 * it reports that for the receiver that left, and delivers the payload
 * to the one that stayed, the part copied before the stall and the part
 * after it. Then the receiver's charges and its place in user_max_peers
 * are given back.
 */
static void stall_copy(struct __test_metadata *_metadata, bool multicast)
{
	const unsigned int nb = BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK;
	struct uffdio_api api = { .api = UFFD_API };
	struct stalled_send st = { .len = 64 };
	const size_t before = 24;
	struct uffdio_register reg = {};
	struct uffdio_copy copy = {};
	int rx, tx, holder, other, keep = -1, uffd, i;
	unsigned long long peers = 0, bytes = 0, peers0, bytes0;
	__u64 n, k = 0, h_holder, h_other;
	const unsigned char *map;
	struct bus1_recv r = {};
	struct uffd_msg ev;
	struct pollfd p;
	pthread_t thread;
	char *area, *page;
	int64_t t0;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	/* Without CONFIG_USERFAULTFD, or without the right to use it. */
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	area = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(area != MAP_FAILED);
	memset(area, 'a', PAGE);
	reg.range.start = (uintptr_t)area + PAGE;
	reg.range.len = PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	holder = bus1_peer_create(nb);
	ASSERT_LE(0, holder);
	/* Others of this user: peers and charges of other tests, if any. */
	peers0 = fdinfo(holder, "bus1-user-peers");
	bytes0 = user_bytes(holder);
	rx = bus1_peer_create(nb);
	tx = bus1_peer_create(BUS1_PEER_CLOEXEC);
	other = bus1_peer_create(nb);
	ASSERT_LE(0, rx);
	ASSERT_LE(0, tx);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, bus1_node_create(rx, &n, 0));
	st.dests[0] = bus1_transfer_id(rx, n, tx);
	h_holder = bus1_transfer_id(rx, n, holder);
	h_other = bus1_transfer_id(rx, n, other);
	ASSERT_NE(0, st.dests[0]);
	ASSERT_NE(0, h_holder);
	ASSERT_NE(0, h_other);
	st.n_dests = 1;
	if (multicast) {
		keep = bus1_peer_create(nb);
		ASSERT_LE(0, keep);
		ASSERT_EQ(0, bus1_node_create(keep, &k, 0));
		st.dests[1] = bus1_transfer_id(keep, k, tx);
		ASSERT_NE(0, st.dests[1]);
		st.n_dests = 2;
		st.errors[0] = -1;
		st.errors[1] = -1;
	}
	st.fd = tx;
	st.buf = area + PAGE - before;
	ASSERT_EQ(0, pthread_create(&thread, NULL, stalled_send_run, &st));

	/* The copy faults on the missing page and waits for it. */
	p = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 10000));
	ASSERT_EQ((ssize_t)sizeof(ev), read(uffd, &ev, sizeof(ev)));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, ev.event);

	/* Another sender is not held up by it. */
	EXPECT_EQ(0, send_text(other, h_other, "meanwhile"));
	EXPECT_TEXT(rx, NULL, n, "meanwhile");
	usleep(1000 * 1000);

	/* Nor is the receiver's end, nor the notice of its node. */
	t0 = now_ms();
	ASSERT_EQ(0, bus1_peer_disconnect(rx, 0));
	p = (struct pollfd){ .fd = holder, .events = POLLIN };
	EXPECT_EQ(1, poll(&p, 1, 3000))
		TH_LOG("no destruction notice while a send to it stalls");
	EXPECT_GT(1500, now_ms() - t0);
	EXPECT_NOTICE(holder, BUS1_MSG_NODE_DESTROY, h_holder, 0);
	usleep(1000 * 1000);
	EXPECT_EQ(0, st.r);
	EXPECT_EQ(0, st.err);

	/* The page comes, the copy goes on, the send ends. */
	page = aligned_alloc(PAGE, PAGE);
	ASSERT_TRUE(!!page);
	memset(page, 'z', PAGE);
	copy.dst = (uintptr_t)area + PAGE;
	copy.src = (uintptr_t)page;
	copy.len = PAGE;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	if (!multicast) {
		EXPECT_EQ(-1, st.r);
		EXPECT_EQ(EHOSTUNREACH, st.err);
	} else {
		EXPECT_EQ(0, st.r) TH_LOG("send: %s", strerror(st.err));
		EXPECT_EQ(EHOSTUNREACH, st.errors[0]);
		EXPECT_EQ(0, st.errors[1]);
		map = map_pool(keep);
		ASSERT_TRUE(!!map);
		ASSERT_EQ(0, bus1_recv(keep, &r, sizeof(r)));
		EXPECT_EQ(BUS1_MSG_DATA, r.type);
		EXPECT_EQ(k, r.destination);
		ASSERT_EQ(st.len, r.size);
		for (i = 0; i < (int)st.len; i++)
			ASSERT_EQ(i < (int)before ? 'a' : 'z', map[r.offset + i]);
		EXPECT_EQ(0, bus1_slice_release(keep, &r.offset, 1, 0));
		munmap((void *)map, BUS1_POOL_SIZE);
	}

	/*
	 * The receiver's pool goes once the send let go of it: the user of
	 * these peers counts the ones left, and is charged for nothing.
	 */
	for (i = 0; i < 200; i++) {
		peers = fdinfo(holder, "bus1-user-peers");
		bytes = user_bytes(holder);
		if (peers == peers0 + (multicast ? 3 : 2) && bytes == bytes0)
			break;
		usleep(10 * 1000);
	}
	EXPECT_EQ(peers0 + (multicast ? 3 : 2), peers);
	EXPECT_EQ(bytes0, bytes);

	free(page);
	munmap(area, 2 * PAGE);
	close(uffd);
	close(rx);
	close(tx);
	close(holder);
	close(other);
	if (keep >= 0)
		close(keep);
}

TEST(stalled_copy_unicast)
{
	stall_copy(_metadata, false);
}

TEST(stalled_copy_multicast)
{
	stall_copy(_metadata, true);
}

/*
 * Set the sysctl at /proc/sys/@name to @val; its value before goes to
 * @old. Returns 0, or -1 with errno set.
 */
static int sysctl_swap(const char *name, unsigned long long val,
		       unsigned long long *old)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		close(fd);
		errno = n ? errno : EIO;
		return -1;
	}
	buf[n] = 0;
	*old = strtoull(buf, NULL, 10);
	n = snprintf(buf, sizeof(buf), "%llu", val);
	if (pwrite(fd, buf, n, 0) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * A thread that passes a handle of @holder to @to and releases it there,
 * over and over, as long as that works, and notes the longest call. Each
 * round takes the node lock of the node's owner.
 */
struct prober {
	int holder, to;
	__u64 id;
	int stop;		/* shared with the thread: atomic */
	int64_t worst_ms;
	unsigned int rounds;	/* likewise */
	int err;		/* likewise */
};

static void *probe_run(void *arg)
{
	struct prober *p = arg;
	struct bus1_transfer t;
	int64_t t0, ms;

	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		t = (struct bus1_transfer){ .src_id = p->id };
		t0 = now_ms();
		if (bus1_handle_transfer(p->holder, p->to, &t, sizeof(t)) ||
		    bus1_handle_release(p->to, &t.dst_id, 1, 0))
			__atomic_store_n(&p->err, errno, __ATOMIC_RELAXED);
		/* The last round counts too: it may have waited longest. */
		ms = now_ms() - t0;
		if (ms > p->worst_ms)
			p->worst_ms = ms;
		__atomic_fetch_add(&p->rounds, 1, __ATOMIC_RELAXED);
		if (p->err)
			break;
	}
	return NULL;
}

/*
 * 100,000 takes 1.5 min of the x86_64 test guest under TCG, KASAN and
 * lockdep; the 32-bit and the other architectures' runs, of the same
 * code, make do with a fifth.
 */
#if defined(__x86_64__)
#define MANY		100000
#else
#define MANY		20000
#endif
#define DESTROYED	(4 * BUS1_RELEASE_MAX)
#define PROBE_MAX_MS	1000

/*
 * Handle limits raised for 100,000 handles per peer, and the hung-task
 * detector's timeout lowered to 5 s; put back by the parent process,
 * whatever the test does, unless the harness kills it for running out
 * of time (which fails the run anyway).
 */
static const char *const many_sysctls[] = {
	"kernel/bus1/user_max_handles", "kernel/bus1/peer_max_handles",
	"kernel/hung_task_timeout_secs",
};

FIXTURE(many) {
	unsigned long long old[3];
	int set;
};

FIXTURE_SETUP(many)
{
	/* A lone charging user gets half of a limit (see bus1.rst). */
	const unsigned long long want[] = { 8 * MANY, 8 * MANY, 5 };

	unsigned long long was;
	int err;

	if (bus1_need_root(_metadata, "the handle limits"))
		return;
	for (self->set = 0; self->set < 3; self->set++)
		if (sysctl_swap(many_sysctls[self->set], want[self->set],
				&self->old[self->set]))
			break;
	if (self->set == 3)
		return;
	/* Without a completed setup, the teardown does not run. */
	err = errno;
	TH_LOG("%s: %s", many_sysctls[self->set], strerror(err));
	while (self->set-- > 0)
		sysctl_swap(many_sysctls[self->set], self->old[self->set], &was);
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN_PARENT(many)
{
	unsigned long long was;

	while (self->set-- > 0)
		EXPECT_EQ(0, sysctl_swap(many_sysctls[self->set],
					 self->old[self->set], &was));
}

/*
 * A peer owns 100,000 nodes (MANY), all held by one other peer, which got
 * them 256 to a message. The owner destroys 4096 of them with
 * bus1_nodes_destroy(), as many per call as a call takes, then closes,
 * which destroys the rest; then the holder closes, which releases its
 * 100,000 handles and drops the notices. While the owner destroys and
 * closes, another thread's calls that take the owner's node lock get
 * through, each within PROBE_MAX_MS (one transaction in the guest takes
 * milliseconds; all of them in one, as the kernel once did it, seconds).
 * The hung-task detector finds no task that waited on a lock for 5 s,
 * nor the soft-lockup detector a CPU that did not reschedule, in either
 * close (the test run fails on their reports in the kernel log).
 */
TEST_F_TIMEOUT(many, close_100k_handles, 600)
{
	const unsigned int nb = BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK;
	static __u64 ids[MANY];
	int owner, holder, prober_peer, to, i;
	struct bus1_send snd = { .n_destinations = 1 };
	struct prober pr = {};
	struct bus1_recv r;
	__u64 sink, to_sink;
	pthread_t thread;
	int64_t t0, ms;

	owner = bus1_peer_create(nb);
	holder = bus1_peer_create(nb);
	prober_peer = bus1_peer_create(nb);
	to = bus1_peer_create(nb);
	ASSERT_LE(0, owner);
	ASSERT_LE(0, holder);
	ASSERT_LE(0, prober_peer);
	ASSERT_LE(0, to);
	ASSERT_EQ(0, bus1_node_create(holder, &sink, 0));
	to_sink = bus1_transfer_id(holder, sink, owner);
	ASSERT_NE(0, to_sink);

	t0 = now_ms();
	for (i = 0; i < MANY; i++)
		ASSERT_EQ(0, bus1_node_create(owner, &ids[i], 0)) TH_LOG("node %d", i);
	snd.ptr_destinations = PTR(&to_sink);
	for (i = 0; i < MANY; i += BUS1_HANDLES_MAX) {
		snd.ptr_handles = PTR(ids + i);
		snd.n_handles = MANY - i < BUS1_HANDLES_MAX ? MANY - i : BUS1_HANDLES_MAX;
		ASSERT_EQ(0, bus1_send(owner, &snd, sizeof(snd)))
			TH_LOG("node %d: %s", i, strerror(errno));
		r = (struct bus1_recv){};
		ASSERT_EQ(0, bus1_recv(holder, &r, sizeof(r)));
		ASSERT_EQ(snd.n_handles, r.n_handles);
		ASSERT_EQ(0, bus1_slice_release(holder, &r.offset, 1, 0));
	}
	ASSERT_EQ(MANY + 1, fdinfo(owner, "bus1-handles"));
	ASSERT_EQ(MANY + 1, fdinfo(holder, "bus1-handles"));
	TH_LOG("%d nodes made and passed in %lld ms", MANY, (long long)(now_ms() - t0));

	/* The probe uses the node destroyed last. */
	pr.id = bus1_transfer_id(owner, ids[MANY - 1], prober_peer);
	ASSERT_NE(0, pr.id);
	pr.holder = prober_peer;
	pr.to = to;
	ASSERT_EQ(0, pthread_create(&thread, NULL, probe_run, &pr));
	while (!__atomic_load_n(&pr.rounds, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&pr.err, __ATOMIC_RELAXED))
		usleep(1000);

	for (i = 0; i < DESTROYED; i += BUS1_RELEASE_MAX)
		EXPECT_EQ(0, bus1_nodes_destroy(owner, ids + i, BUS1_RELEASE_MAX, 0));
	t0 = now_ms();
	close(owner);
	ms = now_ms() - t0;
	__atomic_store_n(&pr.stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	/* The probe ran until its node was destroyed, or to the end. */
	EXPECT_TRUE(pr.err == 0 || pr.err == EHOSTUNREACH)
		TH_LOG("probe: %s", strerror(pr.err));
	EXPECT_GT(PROBE_MAX_MS, pr.worst_ms)
		TH_LOG("a call waited %lld ms; the owner closed in %lld ms",
		       (long long)pr.worst_ms, (long long)ms);
	TH_LOG("owner closed in %lld ms; %u probe rounds, the longest %lld ms",
	       (long long)ms, pr.rounds, (long long)pr.worst_ms);

	/*
	 * The holder was told of every node, and that nobody else holds its
	 * own any more; it keeps every handle.
	 */
	EXPECT_EQ(MANY + 1, fdinfo(holder, "bus1-queued"));
	EXPECT_EQ(MANY + 1, fdinfo(holder, "bus1-handles"));
	t0 = now_ms();
	close(holder);
	TH_LOG("holder closed in %lld ms", (long long)(now_ms() - t0));
	close(prober_peer);
	close(to);
}

TEST(bad_fds)
{
	int expect_fd = lowest_free_fd();
	int pipefd[2], closed, peer, bad[4], i;
	__u64 id;

	peer = bus1_peer_create(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK);
	ASSERT_LE(0, peer);
	ASSERT_EQ(0, bus1_node_create(peer, &id, 0));
	/* The pipe first: it would take the number of the closed fd. */
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	closed = dup(peer);
	ASSERT_LE(0, closed);
	close(closed);

	bad[0] = -1;
	bad[1] = closed;
	bad[2] = pipefd[0];
	bad[3] = pipefd[1];
	for (i = 0; i < 4; i++) {
		int expect = i < 2 ? EBADF : EBADFD;

		EXPECT_EQ(-1, bus1_handle_release(bad[i], &id, 1, 0));
		EXPECT_EQ(expect, errno);
		EXPECT_EQ(-1, bus1_nodes_destroy(bad[i], &id, 1, 0));
		EXPECT_EQ(expect, errno);
		EXPECT_EQ(-1, bus1_peer_disconnect(bad[i], 0));
		EXPECT_EQ(expect, errno);
	}
	close(pipefd[0]);
	close(pipefd[1]);

	/* The peer was not touched. */
	EXPECT_EQ(1, fdinfo(peer, "bus1-connected"));
	EXPECT_EQ(1, fdinfo(peer, "bus1-nodes"));
	EXPECT_EQ(EAGAIN, recv_errno(peer));
	close(peer);
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_HARNESS_MAIN
