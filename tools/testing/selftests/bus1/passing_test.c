// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of passing handles and file descriptors in bus1 messages: the IDs
 * each receiver gets for the passed handles (new, merged with a handle it
 * holds, or its own node back), handles of nodes destroyed before or
 * after the message, release notices that count handles in flight, fds
 * installed with BUS1_RECV_FDS or dropped without it, the layout of the
 * passed IDs and fds behind the payload, and every error of passing,
 * after which nothing is delivered and nothing leaks.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

/* Send @text, without its terminating zero, with handles and fds. */
static int send_msg(int fd, const __u64 *dst, unsigned int n_dst,
		    const char *text, const __u64 *handles,
		    unsigned int n_handles, const __s32 *fds,
		    unsigned int n_fds)
{
	struct bus1_vec v = { .ptr = PTR(text), .len = strlen(text) };
	struct bus1_send s = {
		.ptr_destinations = PTR(dst),
		.n_destinations = n_dst,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_handles = PTR(handles),
		.n_handles = n_handles,
		.ptr_fds = PTR(fds),
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int send_handles(int fd, __u64 dst, const char *text,
			const __u64 *handles, unsigned int n)
{
	return send_msg(fd, &dst, 1, text, handles, n, NULL, 0);
}

static int send_fds(int fd, __u64 dst, const char *text, const __s32 *fds,
		    unsigned int n)
{
	return send_msg(fd, &dst, 1, text, NULL, 0, fds, n);
}

/* Send with the handle and fd arrays and counts as given, unchecked. */
static int send_raw(int fd, __u64 dst, __u64 ptr_handles, __u64 n_handles,
		    __u64 ptr_fds, __u64 n_fds)
{
	struct bus1_send s = {
		.ptr_destinations = PTR(&dst),
		.n_destinations = 1,
		.ptr_handles = ptr_handles,
		.n_handles = n_handles,
		.ptr_fds = ptr_fds,
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int recv_raw(int fd, __u64 flags, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->flags = flags;
	return bus1_recv(fd, r, sizeof(*r));
}

/* 0 if @fd has an entry to receive (which is taken), else the errno. */
static int recv_errno(int fd)
{
	struct bus1_recv r;

	return recv_raw(fd, 0, &r) ? errno : 0;
}

/*
 * Receive the next entry of @fd, with @flags: a message of @text to @dst,
 * alone in its transaction, which carries @n_handles handles, their IDs
 * stored to @ids, and @n_fds fds, their numbers stored to @fds. The pool
 * is mapped at @map. The slice is released.
 */
static void recv_data(struct __test_metadata *_metadata, int fd,
		      const unsigned char *map, __u64 flags, __u64 dst,
		      const char *text, unsigned int n_handles, __u64 *ids,
		      unsigned int n_fds, __s32 *fds)
{
	size_t len = strlen(text), at = (len + 7) & ~(size_t)7;
	struct bus1_recv r;

	ASSERT_EQ(0, recv_raw(fd, flags, &r)) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(BUS1_MSG_DATA, r.type);
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(dst, r.destination);
	EXPECT_EQ(0, r.offset % 8);
	ASSERT_EQ(len, r.size);
	ASSERT_EQ(n_handles, r.n_handles);
	ASSERT_EQ(n_fds, r.n_fds);
	ASSERT_GE(BUS1_POOL_SIZE, r.offset + at + 8 * n_handles + 4 * n_fds);
	EXPECT_EQ(0, memcmp(map + r.offset, text, len));
	if (n_handles)
		memcpy(ids, map + r.offset + at, 8 * n_handles);
	if (n_fds)
		memcpy(fds, map + r.offset + at + 8 * n_handles, 4 * n_fds);
	EXPECT_EQ(0, bus1_slice_release(fd, &r.offset, 1, 0));
}

/* The next entry of @fd is a notice of @kind about @dest, with @flags. */
#define EXPECT_NOTICE(fd, kind, dest, flags) do {			\
	struct bus1_recv r_;						\
									\
	ASSERT_EQ(0, recv_raw((fd), 0, &r_))				\
		TH_LOG("recv: %s", strerror(errno));			\
	EXPECT_EQ((__u64)(kind), r_.type);				\
	EXPECT_EQ((__u64)(dest), r_.destination);			\
	EXPECT_EQ((__u64)(flags), r_.msg_flags);			\
	EXPECT_EQ(0, r_.size);						\
	EXPECT_EQ(0, r_.n_handles);					\
	EXPECT_EQ(0, r_.n_fds);						\
} while (0)

/* Nothing is queued on the non-blocking peer @fd. */
#define EXPECT_EMPTY(fd)	EXPECT_EQ(EAGAIN, recv_errno(fd))

/* A new handle ID: not @old, not 0 and not BUS1_HANDLE_INVALID. */
#define EXPECT_NEW_ID(id, old) do {					\
	__u64 id_ = (id);						\
									\
	EXPECT_NE(0, id_);						\
	EXPECT_NE(BUS1_HANDLE_INVALID, id_);				\
	EXPECT_NE((__u64)(old), id_);					\
} while (0)

/* Both fds name the same open file. */
static int same_file(int x, int y)
{
	struct stat s1, s2;

	if (fstat(x, &s1) || fstat(y, &s2))
		return 0;
	return s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino;
}

/*
 * Peers a, b and c own one node each; a holds a handle of the nodes of b
 * and c. The peers are non-blocking, so that a missing entry fails, not
 * hangs; every pool is mapped.
 */
FIXTURE(peers) {
	int a, b, c;
	__u64 na, nb, nc;	/* the nodes, as their owners name them */
	__u64 hb, hc;		/* nb and nc, as a names them */
	const unsigned char *ma, *mb, *mc;
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
	ASSERT_EQ(0, bus1_node_create(self->a, &self->na, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &self->nb, 0));
	ASSERT_EQ(0, bus1_node_create(self->c, &self->nc, 0));
	self->hb = bus1_transfer_id(self->b, self->nb, self->a);
	self->hc = bus1_transfer_id(self->c, self->nc, self->a);
	ASSERT_NE(0, self->hb);
	ASSERT_NE(0, self->hc);
	self->ma = map_pool(self->a);
	self->mb = map_pool(self->b);
	self->mc = map_pool(self->c);
	ASSERT_TRUE(self->ma && self->mb && self->mc);
}

FIXTURE_TEARDOWN(peers)
{
	const unsigned char *maps[] = { self->ma, self->mb, self->mc };
	int fds[] = { self->a, self->b, self->c };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(maps); i++)
		if (maps[i])
			munmap((void *)maps[i], BUS1_POOL_SIZE);
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

TEST_F(peers, pass_handle_unicast)
{
	__u64 n2, pass[2], ids[2];

	/* A handle of a's own node, and one of c's node that a holds. */
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	pass[0] = n2;
	pass[1] = self->hc;
	ASSERT_EQ(0, send_handles(self->a, self->hb, "take these", pass, 2));
	/* In flight, they are no handles of b yet. */
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EMPTY(self->a);

	recv_data(_metadata, self->b, self->mb, 0, self->nb, "take these",
		  2, ids, 0, NULL);
	EXPECT_NEW_ID(ids[0], self->nb);
	EXPECT_NEW_ID(ids[1], self->nb);
	EXPECT_NE(ids[0], ids[1]);
	EXPECT_EQ(3, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-nodes"));
	EXPECT_EMPTY(self->b);
	/* The sender keeps its handles. */
	EXPECT_EQ(4, fdinfo(self->a, "bus1-handles"));

	/* They are handles of those nodes. */
	ASSERT_EQ(0, send_handles(self->b, ids[0], "to n2", NULL, 0));
	recv_data(_metadata, self->a, self->ma, 0, n2, "to n2", 0, NULL, 0,
		  NULL);
	ASSERT_EQ(0, send_handles(self->b, ids[1], "to nc", NULL, 0));
	recv_data(_metadata, self->c, self->mc, 0, self->nc, "to nc", 0, NULL,
		  0, NULL);

	/* b holds the only foreign handle of n2: releasing it tells a. */
	ASSERT_EQ(0, bus1_handle_release(self->b, &ids[0], 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n2, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(-1, bus1_handle_release(self->b, &ids[0], 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
}

TEST_F(peers, pass_handle_merge)
{
	__u64 n2, n3, h2, pass[2], ids[2];
	int i;

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n3, 0));
	h2 = bus1_transfer_id(self->a, n2, self->b);
	ASSERT_NE(0, h2);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));

	/* b holds n2 already: the same ID, one more reference. */
	ASSERT_EQ(0, send_handles(self->a, self->hb, "again", &n2, 1));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "again", 1, ids,
		  0, NULL);
	EXPECT_EQ(h2, ids[0]);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));

	/* Twice in one message: one new ID, twice, with two references. */
	pass[0] = n3;
	pass[1] = n3;
	ASSERT_EQ(0, send_handles(self->a, self->hb, "twice", pass, 2));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "twice", 2, ids,
		  0, NULL);
	EXPECT_NEW_ID(ids[0], self->nb);
	EXPECT_NE(h2, ids[0]);
	EXPECT_EQ(ids[0], ids[1]);
	EXPECT_EQ(3, fdinfo(self->b, "bus1-handles"));
	EXPECT_EMPTY(self->b);

	/* Two references each: the second release is the last one. */
	pass[0] = h2;
	pass[1] = ids[0];
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, bus1_handle_release(self->b, &pass[i], 1, 0));
		EXPECT_EMPTY(self->a);
		EXPECT_EQ(0, bus1_handle_release(self->b, &pass[i], 1, 0));
		EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, i ? n3 : n2, 0);
		EXPECT_EMPTY(self->a);
		EXPECT_EQ(-1, bus1_handle_release(self->b, &pass[i], 1, 0));
		EXPECT_EQ(ENXIO, errno);
	}
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
}

TEST_F(peers, pass_handle_back_to_owner)
{
	__u64 n2, ha, h2, pass[2], ids[2];

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ha = bus1_transfer_id(self->a, self->na, self->b);
	h2 = bus1_transfer_id(self->a, n2, self->b);
	ASSERT_NE(0, ha);
	ASSERT_NE(0, h2);
	EXPECT_EQ(4, fdinfo(self->a, "bus1-handles"));

	pass[0] = h2;
	pass[1] = ha;
	ASSERT_EQ(0, send_handles(self->b, ha, "yours", pass, 2));
	recv_data(_metadata, self->a, self->ma, 0, self->na, "yours", 2, ids,
		  0, NULL);
	EXPECT_EQ(n2, ids[0]);
	EXPECT_EQ(self->na, ids[1]);
	EXPECT_EQ(4, fdinfo(self->a, "bus1-handles"));
	EXPECT_EQ(2, fdinfo(self->a, "bus1-nodes"));
	/* b still holds both. */
	EXPECT_EMPTY(self->a);

	/* One more reference, which may go; the owner's last may not. */
	EXPECT_EQ(0, bus1_handle_release(self->a, &n2, 1, 0));
	EXPECT_EQ(-1, bus1_handle_release(self->a, &n2, 1, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EMPTY(self->a);

	/* The in-flight reference is gone: b's release is the last. */
	ASSERT_EQ(0, bus1_handle_release(self->b, &h2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n2, 0);
	EXPECT_EMPTY(self->a);
}

TEST_F(peers, pass_handle_multicast)
{
	__u64 n2, n3, hc2, dst[2], pass[2], ib[2], ic[2];

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n3, 0));
	hc2 = bus1_transfer_id(self->a, n2, self->c);
	ASSERT_NE(0, hc2);

	dst[0] = self->hb;
	dst[1] = self->hc;
	pass[0] = n2;
	pass[1] = n3;
	ASSERT_EQ(0, send_msg(self->a, dst, 2, "both", pass, 2, NULL, 0));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "both", 2, ib, 0,
		  NULL);
	recv_data(_metadata, self->c, self->mc, 0, self->nc, "both", 2, ic, 0,
		  NULL);
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);

	/* b had neither node; c had n2 already. */
	EXPECT_NEW_ID(ib[0], self->nb);
	EXPECT_NEW_ID(ib[1], self->nb);
	EXPECT_NE(ib[0], ib[1]);
	EXPECT_EQ(3, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(hc2, ic[0]);
	EXPECT_NEW_ID(ic[1], self->nc);
	EXPECT_NE(hc2, ic[1]);
	EXPECT_EQ(3, fdinfo(self->c, "bus1-handles"));

	/* Each receiver's IDs reach the nodes. */
	ASSERT_EQ(0, send_handles(self->b, ib[0], "b2", NULL, 0));
	ASSERT_EQ(0, send_handles(self->b, ib[1], "b3", NULL, 0));
	ASSERT_EQ(0, send_handles(self->c, ic[1], "c3", NULL, 0));
	recv_data(_metadata, self->a, self->ma, 0, n2, "b2", 0, NULL, 0, NULL);
	recv_data(_metadata, self->a, self->ma, 0, n3, "b3", 0, NULL, 0, NULL);
	recv_data(_metadata, self->a, self->ma, 0, n3, "c3", 0, NULL, 0, NULL);
	EXPECT_EMPTY(self->a);
}

TEST_F(peers, pass_handle_errors)
{
	const unsigned int max = BUS1_HANDLES_MAX;
	int expect_fd = lowest_free_fd();
	__u64 unheld, pass[2], dst[2], *all, *ids, hab;
	struct bus1_send s = {
		.flags = BUS1_SEND_CONTINUE,
		.n_destinations = 2,
		.n_handles = 2,
	};
	unsigned int i, j, dups = 0;
	__s32 errs[2] = { -1, -1 };
	unsigned char *hole;

	unheld = self->na > self->hb ? self->na : self->hb;
	unheld = (unheld > self->hc ? unheld : self->hc) + 1;

	/* IDs a holds no handle of, alone or after a good one. */
	pass[0] = unheld;
	EXPECT_EQ(-1, send_handles(self->a, self->hb, "x", pass, 1));
	EXPECT_EQ(ENXIO, errno);
	pass[0] = 0;
	EXPECT_EQ(-1, send_handles(self->a, self->hb, "x", pass, 1));
	EXPECT_EQ(ENXIO, errno);
	pass[0] = BUS1_HANDLE_INVALID;
	EXPECT_EQ(-1, send_handles(self->a, self->hb, "x", pass, 1));
	EXPECT_EQ(ENXIO, errno);
	pass[0] = self->na;
	pass[1] = unheld;
	EXPECT_EQ(-1, send_handles(self->a, self->hb, "x", pass, 2));
	EXPECT_EQ(ENXIO, errno);
	/* Good destinations do not make it partial. */
	dst[0] = self->hb;
	dst[1] = self->hc;
	pass[0] = self->na;
	pass[1] = unheld;
	EXPECT_EQ(-1, send_msg(self->a, dst, 2, "x", pass, 2, NULL, 0));
	EXPECT_EQ(ENXIO, errno);
	/* Nor do per-destination results: a passed ID is no destination. */
	s.ptr_destinations = PTR(dst);
	s.ptr_errors = PTR(errs);
	s.ptr_handles = PTR(pass);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(ENXIO, errno);

	/* Too many, and bad addresses. */
	all = calloc(max + 1, sizeof(*all));
	ids = calloc(max, sizeof(*ids));
	ASSERT_TRUE(all && ids);
	for (i = 0; i < max + 1; i++)
		all[i] = self->na;
	EXPECT_EQ(-1, send_handles(self->a, self->hb, "x", all, max + 1));
	EXPECT_EQ(ETOOMANYREFS, errno);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, PTR(all), ~0ULL, 0, 0));
	EXPECT_EQ(ETOOMANYREFS, errno);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, 0, 1, 0, 0));
	EXPECT_EQ(EFAULT, errno);
	hole = map_before_hole();
	ASSERT_TRUE(!!hole);
	memcpy(hole + PAGE - 8, &self->na, 8);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, PTR(hole + PAGE - 8), 2,
			       0, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(hole, PAGE);

	/* Nothing was delivered, and na is not in flight. */
	EXPECT_EMPTY(self->b);
	EXPECT_EMPTY(self->c);
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->c, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-pool-allocated"));
	EXPECT_EQ(expect_fd, lowest_free_fd());
	hab = bus1_transfer_id(self->a, self->na, self->b);
	ASSERT_NE(0, hab);
	ASSERT_EQ(0, bus1_handle_release(self->b, &hab, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, self->na, 0);
	EXPECT_EMPTY(self->a);

	/* BUS1_HANDLES_MAX handles of as many nodes are fine. */
	for (i = 1; i < max; i++)
		ASSERT_EQ(0, bus1_node_create(self->a, &all[i], 0));
	ASSERT_EQ(0, send_handles(self->a, self->hb, "", all, max));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "", max, ids, 0,
		  NULL);
	EXPECT_EQ(1 + max, fdinfo(self->b, "bus1-handles"));
	for (i = 0; i < max; i++) {
		EXPECT_NEW_ID(ids[i], self->nb);
		for (j = 0; j < i; j++)
			dups += ids[j] == ids[i];
	}
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, bus1_handle_release(self->b, ids, max, 0));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	free(all);
	free(ids);
}

TEST_F(peers, pass_handle_destroyed_before)
{
	__u64 n2, n3, pass[2], ids[2];

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, bus1_node_create(self->a, &n3, 0));
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n2, 0);

	/* Passing a destroyed node is fine; it arrives as no handle. */
	pass[0] = n3;
	pass[1] = n2;
	ASSERT_EQ(0, send_handles(self->a, self->hb, "one dead", pass, 2));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "one dead", 2,
		  ids, 0, NULL);
	EXPECT_NEW_ID(ids[0], self->nb);
	EXPECT_EQ(BUS1_HANDLE_INVALID, ids[1]);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EMPTY(self->b);

	/* The owner of nc disconnects: nc is destroyed. */
	ASSERT_EQ(0, close(self->c));
	self->c = -1;
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, self->hc, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_EQ(-1, send_handles(self->a, self->hc, "x", NULL, 0));
	EXPECT_EQ(EHOSTUNREACH, errno);
	ASSERT_EQ(0, send_handles(self->a, self->hb, "dead", &self->hc, 1));
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "dead", 1, ids,
		  0, NULL);
	EXPECT_EQ(BUS1_HANDLE_INVALID, ids[0]);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EMPTY(self->b);
}

TEST_F(peers, pass_handle_destroyed_in_flight)
{
	__u64 n2, h;

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, send_handles(self->a, self->hb, "n2", &n2, 1));
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n2, 0);
	EXPECT_EMPTY(self->a);

	/* Destroyed after the message: a handle, then the news. */
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "n2", 1, &h, 0,
		  NULL);
	EXPECT_NEW_ID(h, self->nb);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, h, 0);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(-1, send_handles(self->b, h, "x", NULL, 0));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_EQ(0, bus1_handle_release(self->b, &h, 1, 0));
	EXPECT_EQ(1, fdinfo(self->b, "bus1-handles"));
	/* No release notice follows a destruction. */
	EXPECT_EMPTY(self->a);

	/* The same when the owner disconnects. */
	ASSERT_EQ(0, send_handles(self->a, self->hb, "nc", &self->hc, 1));
	ASSERT_EQ(0, close(self->c));
	self->c = -1;
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, self->hc, 0);
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "nc", 1, &h, 0,
		  NULL);
	EXPECT_NEW_ID(h, self->nb);
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, h, 0);
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(-1, send_handles(self->b, h, "x", NULL, 0));
	EXPECT_EQ(EHOSTUNREACH, errno);
}

/*
 * A destruction that happened after a send that carried the node is
 * ordered after that message, even when only a side channel connects the
 * two and the receiver's clock is far ahead of the owner's: the receiver
 * gets the handle, then the notice, never BUS1_HANDLE_INVALID.
 */
TEST_F(peers, destroy_ordered_after_carrying_send)
{
	__u64 n2, h2, hbc, hc2;
	unsigned int i;

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	h2 = bus1_transfer_id(self->a, n2, self->b);
	hbc = bus1_transfer_id(self->c, self->nc, self->b);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, hbc);
	/* Move the clocks of b and c far ahead of a's. */
	for (i = 0; i < 32; i++)
		ASSERT_EQ(0, send_handles(self->b, hbc, "tick", NULL, 0));
	/* b carries a's node to c and lets go of its own handle. */
	ASSERT_EQ(0, send_handles(self->b, hbc, "n2", &h2, 1));
	ASSERT_EQ(0, bus1_handle_release(self->b, &h2, 1, 0));

	/* Only now, after the send returned, a destroys the node. */
	ASSERT_EQ(0, bus1_nodes_destroy(self->a, &n2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_DESTROY, n2, 0);
	for (i = 0; i < 32; i++)
		recv_data(_metadata, self->c, self->mc, 0, self->nc, "tick", 0,
			  NULL, 0, NULL);
	recv_data(_metadata, self->c, self->mc, 0, self->nc, "n2", 1, &hc2, 0,
		  NULL);
	EXPECT_NE(BUS1_HANDLE_INVALID, hc2);
	EXPECT_NOTICE(self->c, BUS1_MSG_NODE_DESTROY, hc2, 0);
	EXPECT_EMPTY(self->c);
	EXPECT_EQ(0, bus1_handle_release(self->c, &hc2, 1, 0));
	EXPECT_EQ(0, bus1_handle_release(self->b, &hbc, 1, 0));
	EXPECT_EQ(0, bus1_handle_release(self->a, &n2, 1, 0));
}

TEST_F(peers, release_notice_counts_in_flight)
{
	__u64 n2, h2, hbc, hc2;

	/* a gives n2 to b; b sends it on to c and lets go of it. */
	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	h2 = bus1_transfer_id(self->a, n2, self->b);
	hbc = bus1_transfer_id(self->c, self->nc, self->b);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, hbc);
	ASSERT_EQ(0, send_handles(self->b, hbc, "n2", &h2, 1));
	ASSERT_EQ(0, bus1_handle_release(self->b, &h2, 1, 0));
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	/* The message still carries a reference. */
	EXPECT_EMPTY(self->a);

	recv_data(_metadata, self->c, self->mc, 0, self->nc, "n2", 1, &hc2, 0,
		  NULL);
	EXPECT_NEW_ID(hc2, self->nc);
	EXPECT_EMPTY(self->a);
	ASSERT_EQ(0, bus1_handle_release(self->c, &hc2, 1, 0));
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n2, 0);
	EXPECT_EMPTY(self->a);
}

TEST_F(peers, release_notice_on_dropped_message)
{
	__u64 n2, h2, hbc;

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	h2 = bus1_transfer_id(self->a, n2, self->b);
	hbc = bus1_transfer_id(self->c, self->nc, self->b);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, hbc);
	/* So that closing c tells a nothing else. */
	ASSERT_EQ(0, bus1_handle_release(self->a, &self->hc, 1, 0));

	ASSERT_EQ(0, send_handles(self->b, hbc, "n2", &h2, 1));
	ASSERT_EQ(0, bus1_handle_release(self->b, &h2, 1, 0));
	EXPECT_EMPTY(self->a);

	/* c goes with the message unread: its reference goes too. */
	ASSERT_EQ(0, close(self->c));
	self->c = -1;
	EXPECT_NOTICE(self->a, BUS1_MSG_NODE_RELEASE, n2, 0);
	EXPECT_EMPTY(self->a);
	EXPECT_NOTICE(self->b, BUS1_MSG_NODE_DESTROY, hbc, 0);
	EXPECT_EMPTY(self->b);
}

TEST_F(peers, pass_fd_install)
{
	static const char content[] = "memfd contents";
	__s32 fds[3], got[3];
	char buf[32] = "";
	int p[2], m, expect_fd, i;

	/* Neither is close-on-exec: the installed fds must be. */
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	m = memfd_create("bus1-passing", 0);
	ASSERT_LE(0, m);
	ASSERT_EQ(sizeof(content), write(m, content, sizeof(content)));
	fds[0] = p[1];
	fds[1] = m;
	fds[2] = p[1];

	expect_fd = lowest_free_fd();
	ASSERT_EQ(0, send_fds(self->a, self->hb, "fds", fds, 3));
	EXPECT_EQ(expect_fd, lowest_free_fd());
	recv_data(_metadata, self->b, self->mb, BUS1_RECV_FDS, self->nb, "fds",
		  0, NULL, 3, got);
	EXPECT_EMPTY(self->b);

	/* New fds, the first at the lowest free number, close-on-exec. */
	EXPECT_EQ(expect_fd, got[0]);
	for (i = 0; i < 3; i++) {
		ASSERT_LE(0, got[i]);
		EXPECT_NE(p[0], got[i]);
		EXPECT_NE(p[1], got[i]);
		EXPECT_NE(m, got[i]);
		EXPECT_EQ(FD_CLOEXEC, fcntl(got[i], F_GETFD));
	}
	EXPECT_NE(got[0], got[1]);
	EXPECT_NE(got[0], got[2]);
	EXPECT_NE(got[1], got[2]);
	EXPECT_EQ(0, fcntl(p[1], F_GETFD));
	EXPECT_EQ(0, fcntl(m, F_GETFD));

	/* The same files. */
	EXPECT_TRUE(same_file(p[1], got[0]));
	EXPECT_TRUE(same_file(m, got[1]));
	EXPECT_TRUE(same_file(p[1], got[2]));
	EXPECT_EQ(5, write(got[0], "via 0", 5));
	EXPECT_EQ(2, write(got[2], "+2", 2));
	EXPECT_EQ(4, write(p[1], "+own", 4));
	EXPECT_EQ(11, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "via 0+2+own", 11));
	EXPECT_EQ(sizeof(content), pread(got[1], buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, content, sizeof(content)));

	for (i = 0; i < 3; i++)
		close(got[i]);
	close(m);
	close(p[0]);
	close(p[1]);
}

TEST_F(peers, pass_fd_not_installed)
{
	int p[2], expect_fd;
	__s32 got = 0;
	char buf[4];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, send_fds(self->a, self->hb, "pipe", &p[1], 1));
	ASSERT_EQ(0, close(p[1]));
	/* The message holds the write end. */
	EXPECT_EQ(-1, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	expect_fd = lowest_free_fd();
	recv_data(_metadata, self->b, self->mb, 0, self->nb, "pipe", 0, NULL,
		  1, &got);
	EXPECT_EQ(-1, got);
	EXPECT_EQ(expect_fd, lowest_free_fd());
	/* And dropped it. */
	EXPECT_EQ(0, read(p[0], buf, sizeof(buf)));
	EXPECT_EMPTY(self->b);
	close(p[0]);
}

TEST_F(peers, pass_fd_errors)
{
	const unsigned int max = BUS1_FDS_MAX;
	int p[2], q[2], sv[2], closed, expect_fd;
	__s32 fds[2], *all, *got;
	unsigned char *hole;
	unsigned int i;
	char buf[4];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	closed = dup(p[0]);
	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));
	expect_fd = lowest_free_fd();

	fds[0] = -1;
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 1));
	EXPECT_EQ(EBADF, errno);
	fds[0] = closed;
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 1));
	EXPECT_EQ(EBADF, errno);
	fds[0] = p[1];
	fds[1] = closed;
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 2));
	EXPECT_EQ(EBADF, errno);

	/* Files that could hold fds themselves. */
	fds[0] = self->b;
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	fds[0] = self->a;
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	fds[0] = sv[0];
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	fds[0] = p[1];
	fds[1] = sv[1];
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", fds, 2));
	EXPECT_EQ(EOPNOTSUPP, errno);

	all = calloc(max + 1, sizeof(*all));
	got = calloc(max, sizeof(*got));
	ASSERT_TRUE(all && got);
	for (i = 0; i < max + 1; i++)
		all[i] = p[1];
	EXPECT_EQ(-1, send_fds(self->a, self->hb, "x", all, max + 1));
	EXPECT_EQ(ETOOMANYREFS, errno);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, 0, 0, PTR(all), ~0ULL));
	EXPECT_EQ(ETOOMANYREFS, errno);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, 0, 0, 0, 1));
	EXPECT_EQ(EFAULT, errno);
	hole = map_before_hole();
	ASSERT_TRUE(!!hole);
	memcpy(hole + PAGE - 4, &p[1], 4);
	EXPECT_EQ(-1, send_raw(self->a, self->hb, 0, 0, PTR(hole + PAGE - 4),
			       2));
	EXPECT_EQ(EFAULT, errno);
	munmap(hole, PAGE);

	/* Nothing delivered, no fd and no file reference leaked. */
	EXPECT_EMPTY(self->b);
	EXPECT_EQ(0, fdinfo(self->b, "bus1-pool-allocated"));
	EXPECT_EQ(expect_fd, lowest_free_fd());
	ASSERT_EQ(0, close(p[1]));
	EXPECT_EQ(0, read(p[0], buf, sizeof(buf)));
	close(p[0]);
	close(sv[0]);
	close(sv[1]);

	/* BUS1_FDS_MAX fds are fine. */
	ASSERT_EQ(0, pipe2(q, O_NONBLOCK | O_CLOEXEC));
	for (i = 0; i < max; i++)
		all[i] = q[1];
	ASSERT_EQ(0, send_fds(self->a, self->hb, "many", all, max));
	ASSERT_EQ(0, close(q[1]));
	recv_data(_metadata, self->b, self->mb, BUS1_RECV_FDS, self->nb,
		  "many", 0, NULL, max, got);
	for (i = 0; i < max; i++) {
		ASSERT_LE(0, got[i]) TH_LOG("fd %u", i);
		EXPECT_EQ(FD_CLOEXEC, fcntl(got[i], F_GETFD));
		EXPECT_EQ(1, write(got[i], "x", 1));
	}
	EXPECT_EQ(sizeof(buf), read(q[0], buf, sizeof(buf)));
	for (i = 0; i < max; i++)
		close(got[i]);
	free(all);
	free(got);
	close(q[0]);
}

TEST_F(peers, pass_fd_multicast)
{
	__s32 fb = -1, fc = -1, fb2 = -1, fc2 = 0;
	__u64 dst[2] = { self->hb, self->hc };
	char buf[4] = "";
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, send_msg(self->a, dst, 2, "fd", NULL, 0, &p[1], 1));
	recv_data(_metadata, self->b, self->mb, BUS1_RECV_FDS, self->nb, "fd",
		  0, NULL, 1, &fb);
	recv_data(_metadata, self->c, self->mc, BUS1_RECV_FDS, self->nc, "fd",
		  0, NULL, 1, &fc);
	ASSERT_LE(0, fb);
	ASSERT_LE(0, fc);
	EXPECT_NE(fb, fc);
	EXPECT_TRUE(same_file(p[1], fb));
	EXPECT_TRUE(same_file(p[1], fc));
	EXPECT_EQ(1, write(fb, "b", 1));
	EXPECT_EQ(1, write(fc, "c", 1));
	EXPECT_EQ(2, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "bc", 2));

	/* b installs it, c does not: c's copy is dropped. */
	ASSERT_EQ(0, send_msg(self->a, dst, 2, "fd", NULL, 0, &p[1], 1));
	recv_data(_metadata, self->b, self->mb, BUS1_RECV_FDS, self->nb, "fd",
		  0, NULL, 1, &fb2);
	recv_data(_metadata, self->c, self->mc, 0, self->nc, "fd", 0, NULL, 1,
		  &fc2);
	ASSERT_LE(0, fb2);
	EXPECT_EQ(-1, fc2);
	close(fb);
	close(fc);
	close(p[1]);
	EXPECT_EQ(-1, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(fb2);
	EXPECT_EQ(0, read(p[0], buf, sizeof(buf)));
	close(p[0]);
}

TEST_F(peers, pass_fd_dropped_with_peer)
{
	char buf[4];
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, send_fds(self->a, self->hb, "pipe", &p[1], 1));
	ASSERT_EQ(0, close(p[1]));
	EXPECT_EQ(-1, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	/* b goes with the message unread, and the file with it. */
	ASSERT_EQ(0, close(self->b));
	self->b = -1;
	EXPECT_EQ(0, read(p[0], buf, sizeof(buf)));
	close(p[0]);
}

/* Read the @i-th __u64 or __s32 at byte @at of the payload of @r. */
static __u64 id_at(const unsigned char *map, const struct bus1_recv *r,
		   size_t at, unsigned int i)
{
	__u64 v;

	memcpy(&v, map + r->offset + at + 8 * i, 8);
	return v;
}

static __s32 fd_at(const unsigned char *map, const struct bus1_recv *r,
		   size_t at, unsigned int i)
{
	__s32 v;

	memcpy(&v, map + r->offset + at + 4 * i, 4);
	return v;
}

TEST_F(peers, layout)
{
	static const char text[] = "hello, world!";
	__u64 n2, pass[2], h2, ha;
	__s32 fds[2], f[3];
	struct bus1_recv r;
	char buf[8] = "";
	int p[2], m, i;

	ASSERT_EQ(0, bus1_node_create(self->a, &n2, 0));
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	m = memfd_create("bus1-layout", MFD_CLOEXEC);
	ASSERT_LE(0, m);
	ASSERT_EQ(3, write(m, "abc", 3));

	/* 13 bytes of payload, IDs at 16, fds at 32. */
	pass[0] = n2;
	pass[1] = self->na;
	fds[0] = p[1];
	fds[1] = m;
	ASSERT_EQ(0, send_msg(self->a, &self->hb, 1, text, pass, 2, fds, 2));
	/* The slice has room for all of it. */
	EXPECT_EQ(16 + 2 * 8 + 2 * 4, fdinfo(self->b, "bus1-pool-allocated"));
	ASSERT_EQ(0, recv_raw(self->b, BUS1_RECV_FDS, &r));
	EXPECT_EQ(BUS1_MSG_DATA, r.type);
	EXPECT_EQ(self->nb, r.destination);
	EXPECT_EQ(0, r.offset % 8);
	ASSERT_EQ(13, r.size);
	ASSERT_EQ(2, r.n_handles);
	ASSERT_EQ(2, r.n_fds);
	EXPECT_EQ(0, memcmp(self->mb + r.offset, text, 13));
	h2 = id_at(self->mb, &r, 16, 0);
	ha = id_at(self->mb, &r, 16, 1);
	EXPECT_NEW_ID(h2, self->nb);
	EXPECT_NEW_ID(ha, self->nb);
	EXPECT_NE(h2, ha);
	f[0] = fd_at(self->mb, &r, 32, 0);
	f[1] = fd_at(self->mb, &r, 32, 1);
	EXPECT_TRUE(same_file(p[1], f[0]));
	EXPECT_TRUE(same_file(m, f[1]));
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));
	EXPECT_EQ(3, fdinfo(self->b, "bus1-handles"));

	/* 5 bytes: the ID at 8. */
	ASSERT_EQ(0, send_msg(self->a, &self->hb, 1, "odd!!", &n2, 1, NULL, 0));
	ASSERT_EQ(0, recv_raw(self->b, 0, &r));
	ASSERT_EQ(5, r.size);
	ASSERT_EQ(1, r.n_handles);
	ASSERT_EQ(0, r.n_fds);
	EXPECT_EQ(0, memcmp(self->mb + r.offset, "odd!!", 5));
	EXPECT_EQ(h2, id_at(self->mb, &r, 8, 0));
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));

	/* 8 bytes: the ID right behind them. */
	ASSERT_EQ(0, send_msg(self->a, &self->hb, 1, "12345678", &n2, 1,
			      NULL, 0));
	ASSERT_EQ(0, recv_raw(self->b, 0, &r));
	ASSERT_EQ(8, r.size);
	ASSERT_EQ(1, r.n_handles);
	EXPECT_EQ(0, memcmp(self->mb + r.offset, "12345678", 8));
	EXPECT_EQ(h2, id_at(self->mb, &r, 8, 0));
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));

	/* No payload: the ID at 0, the fd at 8. */
	ASSERT_EQ(0, send_msg(self->a, &self->hb, 1, "", &self->na, 1, &m, 1));
	ASSERT_EQ(0, recv_raw(self->b, BUS1_RECV_FDS, &r));
	ASSERT_EQ(0, r.size);
	ASSERT_EQ(1, r.n_handles);
	ASSERT_EQ(1, r.n_fds);
	EXPECT_EQ(ha, id_at(self->mb, &r, 0, 0));
	f[2] = fd_at(self->mb, &r, 8, 0);
	EXPECT_TRUE(same_file(m, f[2]));
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));

	/* Neither payload nor handles: the fd at 0, -1 if not installed. */
	ASSERT_EQ(0, send_msg(self->a, &self->hb, 1, "", NULL, 0, &m, 1));
	ASSERT_EQ(0, recv_raw(self->b, 0, &r));
	ASSERT_EQ(0, r.size);
	ASSERT_EQ(0, r.n_handles);
	ASSERT_EQ(1, r.n_fds);
	EXPECT_EQ(-1, fd_at(self->mb, &r, 0, 0));
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));

	EXPECT_EMPTY(self->b);
	EXPECT_EQ(0, fdinfo(self->b, "bus1-pool-allocated"));
	EXPECT_EQ(3, pread(f[2], buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ(2, write(f[0], "ok", 2));
	EXPECT_EQ(2, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "ok", 2));
	for (i = 0; i < 3; i++)
		close(f[i]);
	close(m);
	close(p[0]);
	close(p[1]);
}

TEST_F(peers, recv_flags_einval)
{
	struct bus1_recv r;

	ASSERT_EQ(0, send_handles(self->a, self->hb, "x", NULL, 0));
	EXPECT_EQ(-1, recv_raw(self->b, 4, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, recv_raw(self->b, BUS1_RECV_FDS | 4, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, recv_raw(self->b, ~0ULL, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, recv_raw(self->b, 1ULL << 63, &r));
	EXPECT_EQ(EINVAL, errno);
	/* The message is still there, and nothing is wrong with it. */
	EXPECT_EQ(1, fdinfo(self->b, "bus1-queued"));
	recv_data(_metadata, self->b, self->mb, BUS1_RECV_FDS, self->nb, "x",
		  0, NULL, 0, NULL);
	/* Flags are checked before the queue. */
	EXPECT_EQ(-1, recv_raw(self->b, 4, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, recv_raw(self->b, BUS1_RECV_FDS, &r));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_HARNESS_MAIN
