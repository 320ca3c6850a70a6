// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of bus1_send(), bus1_recv() and bus1_slice_release(): payloads in
 * the receive pool, unicast and multicast, every error and that a failed
 * call delivers nothing, a pool filling up and draining, blocking, signals,
 * poll and per-sender order.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

#define MIB	(1024UL * 1024UL)

/* Bytes of pool a payload of @len bytes takes: 8-byte units, at least 8. */
static unsigned long long slice_size(size_t len)
{
	return len ? (len + 7) & ~7ULL : 8;
}

#define EXPECT_COUNTERS(fd, allocated, slices, queued) do {		\
	int fd_ = (fd);							\
									\
	EXPECT_EQ((allocated), fdinfo(fd_, "bus1-pool-allocated"));	\
	EXPECT_EQ((slices), fdinfo(fd_, "bus1-pool-slices"));		\
	EXPECT_EQ((queued), fdinfo(fd_, "bus1-queued"));		\
} while (0)

#define EXPECT_IDLE(fd)	EXPECT_COUNTERS(fd, 0, 0, 0)

static int send_vecs(int fd, const __u64 *dst, unsigned int n_dst,
		     const struct bus1_vec *vecs, unsigned int n_vecs)
{
	struct bus1_send s = {
		.ptr_destinations = PTR(dst),
		.n_destinations = n_dst,
		.ptr_vecs = PTR(vecs),
		.n_vecs = n_vecs,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int send_multi(int fd, const __u64 *dst, unsigned int n_dst,
		      const void *buf, size_t len)
{
	struct bus1_vec v = { .ptr = PTR(buf), .len = len };

	return send_vecs(fd, dst, n_dst, &v, 1);
}

static int send_buf(int fd, __u64 dst, const void *buf, size_t len)
{
	return send_multi(fd, &dst, 1, buf, len);
}

static int recv_msg(int fd, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	return bus1_recv(fd, r, sizeof(*r));
}

static int release(int fd, __u64 offset)
{
	return bus1_slice_release(fd, &offset, 1, 0);
}

/*
 * The owner of the node behind the handle @id of @fd is gone: @fd has a
 * BUS1_MSG_NODE_DESTROY notice for it first in its queue.
 */
#define EXPECT_DESTROY_NOTICE(fd, id) do {				\
	struct bus1_recv r_;						\
									\
	EXPECT_EQ(0, recv_msg((fd), &r_));				\
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, r_.type);			\
	EXPECT_EQ((id), r_.destination);				\
	EXPECT_EQ(0, r_.size);						\
} while (0)

/*
 * Receive the next entry of @fd and check it: a message of @len bytes
 * equal to @data (unless NULL), sent to the node @fd knows as @dst, with
 * @flags. Returns the offset of its payload in the pool mapped at @map.
 */
static __u64 recv_check(struct __test_metadata *_metadata, int fd,
			const unsigned char *map, __u64 dst,
			const void *data, size_t len, __u64 flags)
{
	struct bus1_recv r;

	ASSERT_EQ(0, recv_msg(fd, &r)) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(BUS1_MSG_DATA, r.type);
	EXPECT_EQ(flags, r.msg_flags);
	EXPECT_EQ(dst, r.destination);
	EXPECT_EQ(len, r.size);
	EXPECT_EQ(0, r.offset % 8);
	ASSERT_GE(BUS1_POOL_SIZE, r.offset + r.size);
	EXPECT_EQ(0, data && r.size == len ?
		  memcmp(map + r.offset, data, len) : 0);
	return r.offset;
}

/* A page-aligned mapping of @len bytes that cannot be accessed at all. */
static void *map_none(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Peer a sends; b, c and d own one node each, which a holds a handle of.
 * Every pool is mapped.
 */
FIXTURE(msg) {
	int a, b, c, d;
	__u64 nb, nc, nd;	/* the nodes, as their owners name them */
	__u64 hb, hc, hd;	/* the same nodes, as a names them */
	const unsigned char *map_a, *map_b, *map_c, *map_d;
	char peer_max_bytes[32];	/* to put back, if raised */
};

#define PEER_MAX_BYTES	"/proc/sys/kernel/bus1/peer_max_bytes"

/*
 * A sender gets at most half of a peer's per-peer limit (see Quotas in
 * bus1.rst), so a test that fills a pool from one sender raises the limit
 * of pool bytes to twice the pool; the teardown puts it back.
 */
static int raise_peer_max_bytes(struct __test_metadata *_metadata,
				char *saved, size_t size)
{
	char old[32], text[32];
	ssize_t n;
	int fd;

	if (bus1_need_root(_metadata, "raising peer_max_bytes"))
		return -1;
	fd = open(PEER_MAX_BYTES, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG(PEER_MAX_BYTES ": %s", strerror(errno));
	n = read(fd, old, sizeof(old) - 1);
	ASSERT_LT(0, n);
	old[n] = 0;
	snprintf(text, sizeof(text), "%u\n", 2 * BUS1_POOL_SIZE);
	ASSERT_EQ((ssize_t)strlen(text), pwrite(fd, text, strlen(text), 0))
		TH_LOG("writing " PEER_MAX_BYTES ": %s", strerror(errno));
	ASSERT_GE(size, sizeof(old));
	memcpy(saved, old, sizeof(old));
	close(fd);
	return 0;
}

FIXTURE_SETUP(msg)
{
	self->a = bus1_peer_create(BUS1_PEER_CLOEXEC);
	self->b = bus1_peer_create(BUS1_PEER_CLOEXEC);
	self->c = bus1_peer_create(BUS1_PEER_CLOEXEC);
	self->d = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, self->a);
	ASSERT_LE(0, self->b);
	ASSERT_LE(0, self->c);
	ASSERT_LE(0, self->d);

	ASSERT_EQ(0, bus1_node_create(self->b, &self->nb, 0));
	ASSERT_EQ(0, bus1_node_create(self->c, &self->nc, 0));
	ASSERT_EQ(0, bus1_node_create(self->d, &self->nd, 0));
	self->hb = bus1_transfer_id(self->b, self->nb, self->a);
	self->hc = bus1_transfer_id(self->c, self->nc, self->a);
	self->hd = bus1_transfer_id(self->d, self->nd, self->a);
	ASSERT_NE(0, self->hb);
	ASSERT_NE(0, self->hc);
	ASSERT_NE(0, self->hd);

	self->map_a = map_pool(self->a);
	self->map_b = map_pool(self->b);
	self->map_c = map_pool(self->c);
	self->map_d = map_pool(self->d);
	ASSERT_TRUE(self->map_a && self->map_b && self->map_c && self->map_d);
}

FIXTURE_TEARDOWN(msg)
{
	const unsigned char *maps[] = {
		self->map_a, self->map_b, self->map_c, self->map_d,
	};
	int fds[] = { self->a, self->b, self->c, self->d };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(maps); i++)
		if (maps[i])
			munmap((void *)maps[i], BUS1_POOL_SIZE);
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (self->peer_max_bytes[0]) {
		int fd = open(PEER_MAX_BYTES, O_WRONLY | O_CLOEXEC);
		size_t len = strlen(self->peer_max_bytes);

		EXPECT_LE(0, fd);
		EXPECT_EQ((ssize_t)len, write(fd, self->peer_max_bytes, len));
		close(fd);
	}
}

/* Nothing reached any peer of the fixture that is still open. */
#define EXPECT_NOTHING_DELIVERED() do {		\
	EXPECT_IDLE(self->a);			\
	if (self->b >= 0) {			\
		EXPECT_IDLE(self->b);		\
	}					\
	EXPECT_IDLE(self->c);			\
	EXPECT_IDLE(self->d);			\
} while (0)

TEST_F(msg, unicast)
{
	static const char data[] = "hello, bus1";
	struct bus1_recv r;

	ASSERT_EQ(0, send_buf(self->a, self->hb, data, sizeof(data)));
	EXPECT_COUNTERS(self->b, slice_size(sizeof(data)), 1, 1);
	/* The sender's pool is not involved. */
	EXPECT_IDLE(self->a);

	ASSERT_EQ(0, recv_msg(self->b, &r));
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(BUS1_MSG_DATA, r.type);
	EXPECT_EQ(self->nb, r.destination);
	EXPECT_EQ(sizeof(data), r.size);
	EXPECT_EQ(0, r.offset % 8);
	ASSERT_GE(BUS1_POOL_SIZE, r.offset + r.size);
	EXPECT_EQ(0, memcmp(self->map_b + r.offset, data, sizeof(data)));

	/* Received but not released: the slice stays allocated. */
	EXPECT_COUNTERS(self->b, slice_size(sizeof(data)), 1, 0);
	EXPECT_EQ(0, release(self->b, r.offset));
	EXPECT_IDLE(self->b);
	EXPECT_IDLE(self->c);
}

TEST_F(msg, multi_vec_concatenated)
{
	static const char expect[] = "abcdefghijkl";
	struct bus1_vec v[] = {
		{ PTR("ab"), 2 },
		{ PTR(""), 0 },
		{ PTR("cdefghijk"), 9 },
		{ PTR("l"), 1 },
	};
	__u64 off;

	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, v, ARRAY_SIZE(v)));
	EXPECT_COUNTERS(self->b, 16, 1, 1);
	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 expect, 12, 0);
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, zero_length)
{
	struct bus1_vec empty = { PTR("x"), 0 };
	__u64 off[2];

	/* No vector at all, and one empty vector. */
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, NULL, 0));
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, &empty, 1));
	/* Even an empty payload takes the smallest slice. */
	EXPECT_COUNTERS(self->b, 16, 2, 2);
	off[0] = recv_check(_metadata, self->b, self->map_b, self->nb,
			    NULL, 0, 0);
	off[1] = recv_check(_metadata, self->b, self->map_b, self->nb,
			    NULL, 0, 0);
	EXPECT_NE(off[0], off[1]);
	EXPECT_COUNTERS(self->b, 16, 2, 0);
	EXPECT_EQ(0, bus1_slice_release(self->b, off, 2, 0));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, slice_sizes)
{
	static const char data[17] = "0123456789abcdef";
	static const size_t lens[] = { 1, 7, 8, 9, 16, 17 };
	unsigned long long total = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		ASSERT_EQ(0, send_buf(self->a, self->hb, data, lens[i]));
		total += slice_size(lens[i]);
		EXPECT_COUNTERS(self->b, total, i + 1, i + 1);
	}
	EXPECT_EQ(8 + 8 + 8 + 16 + 16 + 24, total);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		__u64 off = recv_check(_metadata, self->b, self->map_b,
				       self->nb, data, lens[i], 0);

		EXPECT_EQ(0, release(self->b, off));
		total -= slice_size(lens[i]);
		EXPECT_COUNTERS(self->b, total, ARRAY_SIZE(lens) - i - 1,
				ARRAY_SIZE(lens) - i - 1);
	}
}

TEST_F(msg, self_send)
{
	static const char data[] = "to myself";
	__u64 node, off;

	ASSERT_EQ(0, bus1_node_create(self->a, &node, 0));
	ASSERT_EQ(0, send_buf(self->a, node, data, sizeof(data)));
	EXPECT_COUNTERS(self->a, slice_size(sizeof(data)), 1, 1);
	off = recv_check(_metadata, self->a, self->map_a, node,
			 data, sizeof(data), 0);
	EXPECT_EQ(0, release(self->a, off));
	EXPECT_IDLE(self->a);
}

/*
 * Writing into a pool is not a file write of the sender's: its
 * RLIMIT_FSIZE does not apply, wherever the slice lies, and no SIGXFSZ.
 */
TEST_F(msg, rlimit_fsize_does_not_apply)
{
	static char first[3 * 4096], second[64] = "beyond the limit";
	struct rlimit old, rl = { .rlim_cur = 4096 };
	__u64 o1, o2;

	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &old));
	rl.rlim_max = old.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &rl));
	EXPECT_EQ(0, send_buf(self->a, self->hb, first, sizeof(first)));
	EXPECT_EQ(0, send_buf(self->a, self->hb, second, sizeof(second)));
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &old));

	o1 = recv_check(_metadata, self->b, self->map_b, self->nb, first,
			sizeof(first), 0);
	o2 = recv_check(_metadata, self->b, self->map_b, self->nb, second,
			sizeof(second), 0);
	EXPECT_LE(4096, o2);
	EXPECT_EQ(0, release(self->b, o1));
	EXPECT_EQ(0, release(self->b, o2));
	EXPECT_IDLE(self->b);
}

/* A payload may come from a mapping of the very pool it is written to. */
TEST_F(msg, payload_from_own_pool)
{
	static const char data[] = "echo me";
	__u64 self_node, o1, o2;

	ASSERT_EQ(0, bus1_node_create(self->b, &self_node, 0));
	ASSERT_EQ(0, send_buf(self->a, self->hb, data, sizeof(data)));
	o1 = recv_check(_metadata, self->b, self->map_b, self->nb, data,
			sizeof(data), 0);
	ASSERT_EQ(0, send_buf(self->b, self_node, self->map_b + o1,
			      sizeof(data)));
	o2 = recv_check(_metadata, self->b, self->map_b, self_node, data,
			sizeof(data), 0);
	EXPECT_NE(o1, o2);
	EXPECT_EQ(0, release(self->b, o1));
	EXPECT_EQ(0, release(self->b, o2));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, multicast)
{
	static const char data[] = "one copy for each of you";
	__u64 dst[] = { self->hb, self->hc, self->hd };
	__u64 off;

	ASSERT_EQ(0, send_multi(self->a, dst, 3, data, sizeof(data)));
	EXPECT_IDLE(self->a);
	EXPECT_COUNTERS(self->b, slice_size(sizeof(data)), 1, 1);
	EXPECT_COUNTERS(self->c, slice_size(sizeof(data)), 1, 1);
	EXPECT_COUNTERS(self->d, slice_size(sizeof(data)), 1, 1);

	/* One entry per receiver: no CONTINUE; each names its own node. */
	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 data, sizeof(data), 0);
	EXPECT_EQ(0, release(self->b, off));
	off = recv_check(_metadata, self->c, self->map_c, self->nc,
			 data, sizeof(data), 0);
	EXPECT_EQ(0, release(self->c, off));
	off = recv_check(_metadata, self->d, self->map_d, self->nd,
			 data, sizeof(data), 0);
	EXPECT_EQ(0, release(self->d, off));
	EXPECT_NOTHING_DELIVERED();
}

TEST_F(msg, multicast_continue)
{
	__u64 nb2, hb2, dst[2], off[3];
	struct bus1_recv r1, r2;

	ASSERT_EQ(0, bus1_node_create(self->b, &nb2, 0));
	hb2 = bus1_transfer_id(self->b, nb2, self->a);
	ASSERT_NE(0, hb2);

	dst[0] = self->hb;
	dst[1] = hb2;
	ASSERT_EQ(0, send_multi(self->a, dst, 2, "xy", 2));
	ASSERT_EQ(0, send_buf(self->a, self->hb, "z", 1));
	EXPECT_COUNTERS(self->b, 24, 3, 3);

	/* Two entries of one transaction: the first says more follow. */
	ASSERT_EQ(0, recv_msg(self->b, &r1));
	ASSERT_EQ(0, recv_msg(self->b, &r2));
	EXPECT_EQ(BUS1_MSG_CONTINUE, r1.msg_flags);
	EXPECT_EQ(0, r2.msg_flags);
	EXPECT_TRUE((r1.destination == self->nb && r2.destination == nb2) ||
		    (r1.destination == nb2 && r2.destination == self->nb));
	EXPECT_EQ(2, r1.size);
	EXPECT_EQ(2, r2.size);
	EXPECT_EQ(0, memcmp(self->map_b + r1.offset, "xy", 2));
	EXPECT_EQ(0, memcmp(self->map_b + r2.offset, "xy", 2));
	/* Each entry has its own copy. */
	EXPECT_NE(r1.offset, r2.offset);
	off[0] = r1.offset;
	off[1] = r2.offset;

	/* The next transaction does not continue the last one. */
	off[2] = recv_check(_metadata, self->b, self->map_b, self->nb,
			    "z", 1, 0);
	EXPECT_COUNTERS(self->b, 24, 3, 0);
	EXPECT_EQ(0, bus1_slice_release(self->b, off, 3, 0));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, multicast_mixed_owners)
{
	__u64 nb2, hb2, dst[3], off;
	struct bus1_recv r;

	ASSERT_EQ(0, bus1_node_create(self->b, &nb2, 0));
	hb2 = bus1_transfer_id(self->b, nb2, self->a);
	ASSERT_NE(0, hb2);

	/* Two nodes of b, one of c: only b's first entry continues. */
	dst[0] = self->hb;
	dst[1] = self->hc;
	dst[2] = hb2;
	ASSERT_EQ(0, send_multi(self->a, dst, 3, "m", 1));
	EXPECT_COUNTERS(self->b, 16, 2, 2);
	off = recv_check(_metadata, self->c, self->map_c, self->nc, "m", 1, 0);
	EXPECT_EQ(0, release(self->c, off));

	ASSERT_EQ(0, recv_msg(self->b, &r));
	EXPECT_EQ(BUS1_MSG_CONTINUE, r.msg_flags);
	EXPECT_EQ(0, release(self->b, r.offset));
	ASSERT_EQ(0, recv_msg(self->b, &r));
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(0, release(self->b, r.offset));
	EXPECT_NOTHING_DELIVERED();
}

TEST_F(msg, send_einval)
{
	int expect_fd = lowest_free_fd();
	struct bus1_send s = {
		.ptr_destinations = PTR(&self->hb),
		.n_destinations = 1,
		.ptr_vecs = 0,
		.n_vecs = 0,
	};

	s.flags = 2;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	s.flags = 1ULL << 63;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	s.flags = BUS1_SEND_CONTINUE | 4;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	s.flags = 0;
	/* An errors array is for BUS1_SEND_CONTINUE only. */
	s.ptr_errors = PTR(&expect_fd);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	s.ptr_errors = 0;

	EXPECT_EQ(-1, bus1_send(self->a, &s, BUS1_SEND_SIZE_VER0 - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_send(self->a, &s, BUS1_SEND_SIZE_VER0 - 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_send(self->a, &s, 0));
	EXPECT_EQ(EINVAL, errno);

	s.n_destinations = 0;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	s.ptr_destinations = 0;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

static int send_continue(int fd, const __u64 *dst, unsigned int n_dst,
			 const char *text, __s32 *errors)
{
	struct bus1_vec v = { .ptr = PTR(text), .len = strlen(text) + 1 };
	struct bus1_send s = {
		.flags = BUS1_SEND_CONTINUE,
		.ptr_destinations = PTR(dst),
		.n_destinations = n_dst,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_errors = PTR(errors),
	};

	return bus1_send(fd, &s, sizeof(s));
}

/*
 * BUS1_SEND_CONTINUE leaves out the destinations that fail, reports each
 * one's errno, and delivers to the rest as one transaction. Failures of
 * the call itself still undo everything.
 */
TEST_F(msg, send_continue)
{
	static const char text[] = "to whoever can take it";
	__s32 errors[4] = { -1, -1, -1, -1 };
	__u64 dst[4], gone_node, twice[2];
	int expect_fd, gone;
	void *ro;

	gone = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, gone);
	ASSERT_EQ(0, bus1_node_create(gone, &gone_node, 0));
	dst[0] = self->hb;
	dst[1] = 1000000;	/* an ID a does not hold */
	dst[2] = bus1_transfer_id(gone, gone_node, self->a);
	dst[3] = self->hc;
	ASSERT_NE(0, dst[2]);
	close(gone);
	EXPECT_DESTROY_NOTICE(self->a, dst[2]);
	expect_fd = lowest_free_fd();

	/* Without the flag, the first failure fails the whole send. */
	EXPECT_EQ(-1, send_multi(self->a, dst, 4, text, sizeof(text)));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_NOTHING_DELIVERED();

	ASSERT_EQ(0, send_continue(self->a, dst, 4, text, errors));
	EXPECT_EQ(0, errors[0]);
	EXPECT_EQ(ENXIO, errors[1]);
	EXPECT_EQ(EHOSTUNREACH, errors[2]);
	EXPECT_EQ(0, errors[3]);
	EXPECT_EQ(0, release(self->b, recv_check(_metadata, self->b,
						 self->map_b, self->nb, text,
						 sizeof(text), 0)));
	EXPECT_EQ(0, release(self->c, recv_check(_metadata, self->c,
						 self->map_c, self->nc, text,
						 sizeof(text), 0)));
	EXPECT_NOTHING_DELIVERED();

	/* Every destination failing is a result too: nothing is sent. */
	memset(errors, 0xff, sizeof(errors));
	EXPECT_EQ(0, send_continue(self->a, dst + 1, 2, text, errors));
	EXPECT_EQ(ENXIO, errors[0]);
	EXPECT_EQ(EHOSTUNREACH, errors[1]);
	EXPECT_NOTHING_DELIVERED();

	/* Results that cannot be written undo the send. */
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	EXPECT_EQ(-1, send_continue(self->a, dst, 4, text, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, send_continue(self->a, dst, 4, text, NULL));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, PAGE);

	/* A repeated destination is a fault of the call, not of one entry. */
	twice[0] = self->hb;
	twice[1] = self->hb;
	EXPECT_EQ(-1, send_continue(self->a, twice, 2, text, errors));
	EXPECT_EQ(ENOTUNIQ, errno);
	EXPECT_NOTHING_DELIVERED();
	/* ... also when the sender holds no handle of that ID. */
	dst[0] = self->hb;
	dst[1] = 1000000;
	dst[2] = self->hc;
	dst[3] = 1000000;
	EXPECT_EQ(-1, send_continue(self->a, dst, 4, text, errors));
	EXPECT_EQ(ENOTUNIQ, errno);
	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_F(msg, send_e2big)
{
	struct {
		struct bus1_send s;
		__u64 extension;
	} big = {};
	unsigned char *buf;
	__u64 off;

	big.s.ptr_destinations = PTR(&self->hb);
	big.s.n_destinations = 1;

	/* Unknown fields that are not zero. */
	big.extension = 1;
	EXPECT_EQ(-1, bus1_send(self->a, &big.s, sizeof(big)));
	EXPECT_EQ(E2BIG, errno);

	/* Larger than a page, even when all zero beyond the structure. */
	buf = calloc(1, 2 * PAGE);
	ASSERT_TRUE(!!buf);
	memcpy(buf, &big.s, sizeof(big.s));
	EXPECT_EQ(-1, bus1_send(self->a, (void *)buf, PAGE + 1));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, bus1_send(self->a, (void *)buf, 2 * PAGE));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_NOTHING_DELIVERED();

	/* A larger structure with a zero tail is fine, up to a page. */
	big.extension = 0;
	EXPECT_EQ(0, bus1_send(self->a, &big.s, sizeof(big)));
	EXPECT_EQ(0, bus1_send(self->a, (void *)buf, PAGE));
	free(buf);
	off = recv_check(_metadata, self->b, self->map_b, self->nb, NULL, 0, 0);
	EXPECT_EQ(0, release(self->b, off));
	off = recv_check(_metadata, self->b, self->map_b, self->nb, NULL, 0, 0);
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_NOTHING_DELIVERED();
}

TEST_F(msg, send_efault)
{
	int expect_fd = lowest_free_fd();
	__u64 dst[2] = { self->hb, self->hc };
	struct bus1_vec v = { PTR("data"), 4 };
	struct bus1_send s = {
		.ptr_destinations = PTR(dst),
		.n_destinations = 2,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
	};
	struct bus1_vec *vhole, two[2];
	unsigned char *hole;
	void *none;

	none = map_none(PAGE);
	hole = map_before_hole();
	ASSERT_TRUE(none && hole);
	memset(hole, 0x5a, PAGE);

	/* The arguments themselves. */
	EXPECT_EQ(-1, bus1_send(self->a, NULL, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, bus1_send(self->a, (void *)1, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, bus1_send(self->a, none, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	/* The last bytes of the structure lie in the hole. */
	memcpy(hole + PAGE - sizeof(s) + 8, &s, sizeof(s) - 8);
	EXPECT_EQ(-1, bus1_send(self->a, (void *)(hole + PAGE - sizeof(s) + 8),
				sizeof(s)));
	EXPECT_EQ(EFAULT, errno);

	/* The destinations. */
	s.ptr_destinations = 0;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	s.ptr_destinations = PTR(none);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	memcpy(hole + PAGE - 8, dst, 8);
	s.ptr_destinations = PTR(hole + PAGE - 8);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	s.ptr_destinations = PTR(dst);

	/* The vectors. */
	s.ptr_vecs = 0;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	s.ptr_vecs = PTR(none);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	vhole = (struct bus1_vec *)(hole + PAGE - sizeof(v));
	*vhole = v;
	s.ptr_vecs = PTR(vhole);
	s.n_vecs = 2;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	/* A single vector is read field by field: its length in the hole. */
	memcpy(hole + PAGE - sizeof(v.ptr), &v.ptr, sizeof(v.ptr));
	s.ptr_vecs = PTR(hole + PAGE - sizeof(v.ptr));
	s.n_vecs = 1;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	s.ptr_vecs = ~0ULL - 8;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	s.ptr_vecs = PTR(&v);

	/* The payload: unmapped, inaccessible, or partly in the hole. */
	v.ptr = 0;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	v.ptr = ~0ULL;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	v.ptr = PTR(none);
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	v.ptr = PTR(hole + PAGE - 4);
	v.len = 8;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);
	/* A good vector first does not make the bad one after it pass. */
	two[0].ptr = PTR(hole);
	two[0].len = PAGE;
	two[1].ptr = PTR(none);
	two[1].len = 1;
	s.ptr_vecs = PTR(two);
	s.n_vecs = 2;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EFAULT, errno);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
	munmap(none, PAGE);
	munmap(hole, PAGE);
}

TEST_F(msg, send_ebadf)
{
	int expect_fd = lowest_free_fd();
	int closed, pipefd[2];

	closed = dup(self->a);
	ASSERT_LE(0, closed);
	close(closed);
	EXPECT_EQ(-1, send_buf(closed, self->hb, "x", 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, send_buf(-1, self->hb, "x", 1));
	EXPECT_EQ(EBADF, errno);

	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, send_buf(pipefd[0], self->hb, "x", 1));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, send_buf(pipefd[1], self->hb, "x", 1));
	EXPECT_EQ(EBADFD, errno);
	close(pipefd[0]);
	close(pipefd[1]);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_F(msg, send_enxio)
{
	int expect_fd = lowest_free_fd();
	__u64 unheld, foreign = 0, dst[3];
	int i;

	/* a holds hb, hc and hd and nothing else. */
	unheld = self->hb > self->hc ? self->hb : self->hc;
	unheld = (unheld > self->hd ? unheld : self->hd) + 1;

	EXPECT_EQ(-1, send_buf(self->a, 0, "x", 1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, send_buf(self->a, ~0ULL, "x", 1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, send_buf(self->a, unheld, "x", 1));
	EXPECT_EQ(ENXIO, errno);

	/* An ID that is valid in another peer, not in a. */
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, bus1_node_create(self->c, &foreign, 0));
		if (foreign != self->hb && foreign != self->hc &&
		    foreign != self->hd)
			break;
	}
	EXPECT_EQ(-1, send_buf(self->a, foreign, "x", 1));
	EXPECT_EQ(ENXIO, errno);

	/* One bad destination fails the whole multicast. */
	dst[0] = self->hb;
	dst[1] = self->hc;
	dst[2] = 0;
	EXPECT_EQ(-1, send_multi(self->a, dst, 3, "x", 1));
	EXPECT_EQ(ENXIO, errno);
	dst[2] = foreign;
	EXPECT_EQ(-1, send_multi(self->a, dst, 3, "x", 1));
	EXPECT_EQ(ENXIO, errno);
	dst[0] = unheld;
	dst[2] = self->hd;
	EXPECT_EQ(-1, send_multi(self->a, dst, 3, "x", 1));
	EXPECT_EQ(ENXIO, errno);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_F(msg, send_enotuniq)
{
	int expect_fd = lowest_free_fd();
	__u64 dst[3];

	dst[0] = self->hb;
	dst[1] = self->hb;
	EXPECT_EQ(-1, send_multi(self->a, dst, 2, "x", 1));
	EXPECT_EQ(ENOTUNIQ, errno);

	dst[0] = self->hb;
	dst[1] = self->hc;
	dst[2] = self->hb;
	EXPECT_EQ(-1, send_multi(self->a, dst, 3, "x", 1));
	EXPECT_EQ(ENOTUNIQ, errno);
	dst[0] = self->hd;
	dst[1] = self->hc;
	dst[2] = self->hc;
	EXPECT_EQ(-1, send_multi(self->a, dst, 3, "x", 1));
	EXPECT_EQ(ENOTUNIQ, errno);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_F(msg, send_etoomanyrefs)
{
	int expect_fd = lowest_free_fd();
	struct bus1_vec v = { PTR("x"), 1 };
	struct bus1_send s = {
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
	};
	__u64 *dst;
	unsigned int i;

	dst = calloc(BUS1_DESTINATIONS_MAX + 1, sizeof(*dst));
	ASSERT_TRUE(!!dst);
	dst[0] = self->hb;
	dst[1] = self->hc;
	dst[2] = self->hd;
	for (i = 3; i <= BUS1_DESTINATIONS_MAX; i++)
		dst[i] = ~0ULL - i;
	s.ptr_destinations = PTR(dst);

	s.n_destinations = BUS1_DESTINATIONS_MAX + 1;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(ETOOMANYREFS, errno);
	/* Not truncated to the 2 it would be in 32 bits. */
	s.n_destinations = (1ULL << 32) | 2;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(ETOOMANYREFS, errno);
	s.n_destinations = ~0ULL;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(ETOOMANYREFS, errno);
	free(dst);

	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* BUS1_DESTINATIONS_MAX nodes of one owner, and as many slices released. */
TEST_F_TIMEOUT(msg, destinations_max, 120)
{
	const unsigned int n = BUS1_DESTINATIONS_MAX;
	__u64 *ids, *offs;
	unsigned char *seen;
	struct bus1_recv r;
	unsigned int i;

	ids = calloc(n + 1, sizeof(*ids));
	offs = calloc(n, sizeof(*offs));
	seen = calloc(n, 1);
	ASSERT_TRUE(ids && offs && seen);
	for (i = 0; i < n + 1; i++)
		ASSERT_EQ(0, bus1_node_create(self->a, &ids[i], 0));

	EXPECT_EQ(-1, send_multi(self->a, ids, n + 1, "y", 1));
	EXPECT_EQ(ETOOMANYREFS, errno);
	EXPECT_IDLE(self->a);

	ASSERT_EQ(0, send_multi(self->a, ids, n, "y", 1));
	EXPECT_COUNTERS(self->a, 8ULL * n, n, n);
	for (i = 0; i < n; i++) {
		__u64 *id;

		ASSERT_EQ(0, recv_msg(self->a, &r));
		ASSERT_EQ(i + 1 < n ? BUS1_MSG_CONTINUE : 0, r.msg_flags)
			TH_LOG("entry %u", i);
		ASSERT_EQ(1, r.size);
		ASSERT_EQ('y', self->map_a[r.offset]);
		/* Node IDs were handed out in ascending order. */
		id = bsearch(&r.destination, ids, n, sizeof(*ids), cmp_u64);
		ASSERT_TRUE(!!id) TH_LOG("entry %u", i);
		ASSERT_EQ(0, seen[id - ids]) TH_LOG("entry %u", i);
		seen[id - ids] = 1;
		offs[i] = r.offset;
	}
	EXPECT_COUNTERS(self->a, 8ULL * n, n, 0);
	EXPECT_EQ(0, bus1_slice_release(self->a, offs, BUS1_RELEASE_MAX, 0));
	EXPECT_IDLE(self->a);
	free(ids);
	free(offs);
	free(seen);
}

TEST_F(msg, send_eoverflow)
{
	int expect_fd = lowest_free_fd();
	struct bus1_send s = {};
	struct bus1_vec *v;
	unsigned int i;
	__u64 off;

	v = calloc(BUS1_VECS_MAX + 1, sizeof(*v));
	ASSERT_TRUE(!!v);
	for (i = 0; i <= BUS1_VECS_MAX; i++) {
		v[i].ptr = PTR("0123456789" + i % 10);
		v[i].len = 1;
	}

	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, BUS1_VECS_MAX + 1));
	EXPECT_EQ(EOVERFLOW, errno);
	/* Not truncated to the 2 it would be in 32 bits. */
	s.ptr_destinations = PTR(&self->hb);
	s.n_destinations = 1;
	s.ptr_vecs = PTR(v);
	s.n_vecs = (1ULL << 32) | 2;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EOVERFLOW, errno);
	s.n_vecs = ~0ULL;
	EXPECT_EQ(-1, bus1_send(self->a, &s, sizeof(s)));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());

	/* BUS1_VECS_MAX one-byte pieces are one message, in vector order. */
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, v, BUS1_VECS_MAX));
	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 NULL, BUS1_VECS_MAX, 0);
	for (i = 0; i < BUS1_VECS_MAX; i++) {
		ASSERT_EQ('0' + i % 10, self->map_b[off + i])
			TH_LOG("byte %u", i);
	}
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_IDLE(self->b);
	free(v);
}

TEST_F(msg, send_emsgsize)
{
	int expect_fd = lowest_free_fd();
	size_t len = BUS1_MESSAGE_MAX + PAGE;
	struct bus1_vec v[3];
	void *big;

	/* Readable (all zero), so that only the size is wrong. */
	big = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(big != MAP_FAILED);

	v[0].ptr = PTR(big);
	v[0].len = BUS1_MESSAGE_MAX + 1;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 1));
	EXPECT_EQ(EMSGSIZE, errno);

	v[0].len = BUS1_MESSAGE_MAX;
	v[1].ptr = PTR(big);
	v[1].len = 1;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 2));
	EXPECT_EQ(EMSGSIZE, errno);

	/* Lengths whose sum wraps around to something small. */
	v[0].len = 1ULL << 63;
	v[1].len = 1ULL << 63;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 2));
	EXPECT_EQ(EMSGSIZE, errno);
	v[0].len = ~0ULL;
	v[1].len = 2;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 2));
	EXPECT_EQ(EMSGSIZE, errno);
	v[0].len = 8;
	v[1].len = ~0ULL;
	v[2].ptr = PTR(big);
	v[2].len = 8;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 3));
	EXPECT_EQ(EMSGSIZE, errno);
	/* In 32 bits, this length would read as 8. */
	v[0].len = (1ULL << 32) | 8;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, v, 1));
	EXPECT_EQ(EMSGSIZE, errno);

	munmap(big, len);
	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST_F(msg, send_ehostunreach)
{
	int expect_fd;
	__u64 dst[2], off;

	ASSERT_EQ(0, close(self->b));
	self->b = -1;
	/* Closing b destroyed its node; a, which holds it, is told. */
	EXPECT_DESTROY_NOTICE(self->a, self->hb);
	expect_fd = lowest_free_fd();

	EXPECT_EQ(-1, send_buf(self->a, self->hb, "x", 1));
	EXPECT_EQ(EHOSTUNREACH, errno);
	/* The owner of one destination is gone: the other gets nothing. */
	dst[0] = self->hc;
	dst[1] = self->hb;
	EXPECT_EQ(-1, send_multi(self->a, dst, 2, "x", 1));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_NOTHING_DELIVERED();
	EXPECT_EQ(expect_fd, lowest_free_fd());

	/* The live receiver is still reachable on its own. */
	ASSERT_EQ(0, send_buf(self->a, self->hc, "y", 1));
	off = recv_check(_metadata, self->c, self->map_c, self->nc, "y", 1, 0);
	EXPECT_EQ(0, release(self->c, off));
}

/* A source byte that differs between pages, not just within one. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(((uint32_t)i * 2654435761U) >> 13);
}

TEST_F_TIMEOUT(msg, large_message, 120)
{
	/* Four pieces, 4 MiB together, taken from the source back to front. */
	static const size_t lens[] = { MIB - 3, 3, 2 * MIB + 5, MIB - 5 };
	const size_t total = 4 * MIB, gap = 64;
	struct bus1_vec v[ARRAY_SIZE(lens)];
	unsigned char *src;
	size_t i, pos, at;
	struct bus1_recv r;

	src = malloc(total + ARRAY_SIZE(lens) * gap);
	ASSERT_TRUE(!!src);
	for (i = 0; i < total + ARRAY_SIZE(lens) * gap; i++)
		src[i] = pattern(i);
	at = total + ARRAY_SIZE(lens) * gap;
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		at -= lens[i] + gap;
		v[i].ptr = PTR(src + at);
		v[i].len = lens[i];
	}

	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, v, ARRAY_SIZE(v)));
	EXPECT_COUNTERS(self->b, total, 1, 1);
	ASSERT_EQ(0, recv_msg(self->b, &r));
	EXPECT_EQ(self->nb, r.destination);
	ASSERT_EQ(total, r.size);
	ASSERT_GE(BUS1_POOL_SIZE, r.offset + r.size);
	for (i = 0, pos = 0; i < ARRAY_SIZE(lens); pos += lens[i], i++) {
		EXPECT_EQ(0, memcmp(self->map_b + r.offset + pos,
				    (void *)(uintptr_t)v[i].ptr, lens[i]))
			TH_LOG("piece %zu", i);
	}
	free(src);
	EXPECT_EQ(0, release(self->b, r.offset));
	EXPECT_IDLE(self->b);
}

/*
 * A payload of many pages into pool pages that exist already, from a
 * source that is not mapped in yet: a file the sender wrote but never
 * touched through its mapping. The copy stops short wherever a source
 * page is missing and goes on after the fault; every byte still lands in
 * its place, and the second message takes the place of the first.
 */
TEST_F_TIMEOUT(msg, payload_faults_into_existing_pages, 120)
{
	const size_t len = 40 * PAGE + 5;
	unsigned char *buf, *src;
	__u64 off, off2;
	struct bus1_vec v;
	size_t i;
	int mfd;

	buf = malloc(len);
	ASSERT_TRUE(!!buf);
	memset(buf, 0x5a, len);
	v.ptr = PTR(buf);
	v.len = len;
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, &v, 1));
	off = recv_check(_metadata, self->b, self->map_b, self->nb, buf, len,
			 0);
	EXPECT_EQ(0, release(self->b, off));

	for (i = 0; i < len; i++)
		buf[i] = pattern(i * 7 + i / PAGE);
	mfd = memfd_create("bus1-src", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ((ssize_t)len, write(mfd, buf, len));
	src = mmap(NULL, len, PROT_READ, MAP_SHARED, mfd, 0);
	ASSERT_TRUE(src != MAP_FAILED);
	v.ptr = PTR(src);
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, &v, 1));
	off2 = recv_check(_metadata, self->b, self->map_b, self->nb, buf, len,
			  0);
	EXPECT_EQ(off, off2);
	EXPECT_EQ(0, release(self->b, off2));
	EXPECT_IDLE(self->b);
	munmap(src, len);
	close(mfd);
	free(buf);
}

TEST_F_TIMEOUT(msg, pool_full, 180)
{
	const size_t quarter = BUS1_MESSAGE_MAX / 4;
	int expect_fd = lowest_free_fd();
	struct bus1_vec v[4];
	unsigned char *src;
	__u64 dst[2], off;
	struct bus1_recv r;
	unsigned int i;

	if (raise_peer_max_bytes(_metadata, self->peer_max_bytes,
				 sizeof(self->peer_max_bytes)))
		return;
	src = malloc(quarter);
	ASSERT_TRUE(!!src);
	for (i = 0; i < quarter; i++)
		src[i] = pattern(i);
	for (i = 0; i < 4; i++) {
		v[i].ptr = PTR(src);
		v[i].len = quarter;
	}

	/* The largest message there is takes all of an empty pool. */
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, v, 4));
	EXPECT_COUNTERS(self->b, BUS1_POOL_SIZE, 1, 1);

	EXPECT_EQ(-1, send_buf(self->a, self->hb, "x", 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, NULL, 0));
	EXPECT_EQ(ENOSPC, errno);
	/* One full receiver fails the multicast for the other one too. */
	dst[0] = self->hc;
	dst[1] = self->hb;
	EXPECT_EQ(-1, send_multi(self->a, dst, 2, "x", 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_IDLE(self->c);
	EXPECT_COUNTERS(self->b, BUS1_POOL_SIZE, 1, 1);
	EXPECT_EQ(expect_fd, lowest_free_fd());

	/* Received but not released, the payload still takes the pool. */
	ASSERT_EQ(0, recv_msg(self->b, &r));
	ASSERT_EQ(BUS1_MESSAGE_MAX, r.size);
	ASSERT_EQ(0, r.offset);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, memcmp(self->map_b + i * quarter, src, quarter));
	EXPECT_EQ(-1, send_buf(self->a, self->hb, "x", 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_COUNTERS(self->b, BUS1_POOL_SIZE, 1, 0);

	/* Released, the pool takes messages again. */
	EXPECT_EQ(0, release(self->b, r.offset));
	EXPECT_IDLE(self->b);
	ASSERT_EQ(0, send_multi(self->a, dst, 2, "x", 1));
	off = recv_check(_metadata, self->b, self->map_b, self->nb, "x", 1, 0);
	EXPECT_EQ(0, release(self->b, off));
	off = recv_check(_metadata, self->c, self->map_c, self->nc, "x", 1, 0);
	EXPECT_EQ(0, release(self->c, off));
	EXPECT_NOTHING_DELIVERED();
	free(src);
}

/* A pool full of several messages, then a hole in the middle of it. */
TEST_F_TIMEOUT(msg, pool_full_then_hole, 180)
{
	const size_t quarter = BUS1_POOL_SIZE / 4;
	struct bus1_vec v;
	__u64 offs[4];
	unsigned int i;
	void *src;

	if (raise_peer_max_bytes(_metadata, self->peer_max_bytes,
				 sizeof(self->peer_max_bytes)))
		return;
	src = mmap(NULL, quarter, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	ASSERT_TRUE(src != MAP_FAILED);
	v.ptr = PTR(src);
	v.len = quarter;
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, &v, 1));
	EXPECT_COUNTERS(self->b, BUS1_POOL_SIZE, 4, 4);
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, &v, 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, NULL, 0));
	EXPECT_EQ(ENOSPC, errno);

	for (i = 0; i < 4; i++)
		offs[i] = recv_check(_metadata, self->b, self->map_b, self->nb,
				     NULL, quarter, 0);
	EXPECT_EQ(0, release(self->b, offs[1]));
	EXPECT_COUNTERS(self->b, 3 * quarter, 3, 0);
	/* More than the hole does not fit; the hole itself does. */
	v.len = quarter + 8;
	EXPECT_EQ(-1, send_vecs(self->a, &self->hb, 1, &v, 1));
	EXPECT_EQ(ENOSPC, errno);
	v.len = quarter;
	ASSERT_EQ(0, send_vecs(self->a, &self->hb, 1, &v, 1));
	offs[1] = recv_check(_metadata, self->b, self->map_b, self->nb,
			     NULL, quarter, 0);
	EXPECT_EQ(0, bus1_slice_release(self->b, offs, 4, 0));
	EXPECT_IDLE(self->b);
	munmap(src, quarter);
}

TEST_F(msg, release_errors)
{
	__u64 offs[BUS1_RELEASE_MAX + 1] = {};
	__u64 o1, o2, o3, bad[3];
	unsigned char *hole;
	void *none;

	ASSERT_EQ(0, send_buf(self->a, self->hb, "one", 4));
	ASSERT_EQ(0, send_buf(self->a, self->hb, "two", 4));
	o1 = recv_check(_metadata, self->b, self->map_b, self->nb, "one", 4, 0);
	o2 = recv_check(_metadata, self->b, self->map_b, self->nb, "two", 4, 0);
	EXPECT_NE(o1, o2);
	EXPECT_COUNTERS(self->b, 16, 2, 0);

	/* Nothing to release is fine. */
	EXPECT_EQ(0, bus1_slice_release(self->b, offs, 0, 0));

	EXPECT_EQ(-1, bus1_slice_release(self->b, &o1, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_slice_release(self->b, &o1, 1, ~0U));
	EXPECT_EQ(EINVAL, errno);

	offs[0] = o1;
	EXPECT_EQ(-1, bus1_slice_release(self->b, offs,
					 BUS1_RELEASE_MAX + 1, 0));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, bus1_slice_release(self->b, offs, ~0U, 0));
	EXPECT_EQ(E2BIG, errno);

	none = map_none(PAGE);
	hole = map_before_hole();
	ASSERT_TRUE(none && hole);
	EXPECT_EQ(-1, bus1_slice_release(self->b, NULL, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, bus1_slice_release(self->b, none, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* The first offset is readable, the second lies in the hole. */
	memcpy(hole + PAGE - 8, &o1, 8);
	EXPECT_EQ(-1, bus1_slice_release(self->b,
					 (__u64 *)(hole + PAGE - 8), 2, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(none, PAGE);
	munmap(hole, PAGE);
	EXPECT_COUNTERS(self->b, 16, 2, 0);

	/* Offsets that start no received slice. */
	EXPECT_EQ(-1, release(self->b, o1 + 1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, release(self->b, (o1 > o2 ? o1 : o2) + 8));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, release(self->b, BUS1_POOL_SIZE));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, release(self->b, ~0ULL));
	EXPECT_EQ(ENXIO, errno);
	/* On the other peer, the same offset means nothing. */
	EXPECT_EQ(-1, release(self->c, o1));
	EXPECT_EQ(ENXIO, errno);

	/* All or nothing: one bad offset keeps the good ones. */
	bad[0] = o1;
	bad[1] = o1;
	EXPECT_EQ(-1, bus1_slice_release(self->b, bad, 2, 0));
	EXPECT_EQ(ENXIO, errno);
	bad[0] = o1;
	bad[1] = o2;
	bad[2] = o2 + 1;
	EXPECT_EQ(-1, bus1_slice_release(self->b, bad, 3, 0));
	EXPECT_EQ(ENXIO, errno);
	bad[0] = BUS1_POOL_SIZE;
	bad[1] = o2;
	EXPECT_EQ(-1, bus1_slice_release(self->b, bad, 2, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_COUNTERS(self->b, 16, 2, 0);

	bad[0] = o2;
	bad[1] = o1;
	EXPECT_EQ(0, bus1_slice_release(self->b, bad, 2, 0));
	EXPECT_IDLE(self->b);
	/* Released twice. */
	EXPECT_EQ(-1, release(self->b, o1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, bus1_slice_release(self->b, bad, 2, 0));
	EXPECT_EQ(ENXIO, errno);

	/*
	 * A queued message that was not received yet is not the receiver's
	 * to release. Its slice is somewhere in the now empty pool, most
	 * likely where one of the old ones was.
	 */
	ASSERT_EQ(0, send_buf(self->a, self->hb, "three", 6));
	EXPECT_EQ(-1, release(self->b, o1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, release(self->b, o2));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, release(self->b, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_COUNTERS(self->b, 8, 1, 1);
	o3 = recv_check(_metadata, self->b, self->map_b, self->nb,
			"three", 6, 0);
	if (o3 != o1 && o3 != o2 && o3 != 0)
		TH_LOG("queued slice at %llu, not a guessed offset",
		       (unsigned long long)o3);
	EXPECT_EQ(0, release(self->b, o3));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, recv_errors)
{
	struct {
		struct bus1_recv r;
		__u64 extension;
	} big = {};
	int pipefd[2], closed;
	struct bus1_recv r = {};
	unsigned char *buf;

	/* With a message queued, so that nothing would block. */
	ASSERT_EQ(0, send_buf(self->a, self->hb, "m", 1));

	r.flags = 4;
	EXPECT_EQ(-1, bus1_recv(self->b, &r, sizeof(r)));
	EXPECT_EQ(EINVAL, errno);
	r.flags = BUS1_RECV_FDS | BUS1_RECV_RELEASE | 8;
	EXPECT_EQ(-1, bus1_recv(self->b, &r, sizeof(r)));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 1ULL << 63;
	EXPECT_EQ(-1, bus1_recv(self->b, &r, sizeof(r)));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 0;
	EXPECT_EQ(-1, bus1_recv(self->b, &r, BUS1_RECV_SIZE_VER0 - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_recv(self->b, &r, BUS1_RECV_SIZE_VER0 - 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_recv(self->b, &r, 0));
	EXPECT_EQ(EINVAL, errno);

	big.extension = 1;
	EXPECT_EQ(-1, bus1_recv(self->b, &big.r, sizeof(big)));
	EXPECT_EQ(E2BIG, errno);
	buf = calloc(1, 2 * PAGE);
	ASSERT_TRUE(!!buf);
	EXPECT_EQ(-1, bus1_recv(self->b, (void *)buf, PAGE + 1));
	EXPECT_EQ(E2BIG, errno);
	free(buf);

	closed = dup(self->b);
	ASSERT_LE(0, closed);
	close(closed);
	EXPECT_EQ(-1, bus1_recv(closed, &r, sizeof(r)));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, bus1_recv(-1, &r, sizeof(r)));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, bus1_recv(pipefd[0], &r, sizeof(r)));
	EXPECT_EQ(EBADFD, errno);
	close(pipefd[0]);
	close(pipefd[1]);

	/* None of that took the message. */
	EXPECT_COUNTERS(self->b, 8, 1, 1);

	/* A larger structure with a zero tail is fine; the tail stays 0. */
	big.extension = 0;
	ASSERT_EQ(0, bus1_recv(self->b, &big.r, sizeof(big)));
	EXPECT_EQ(0, big.extension);
	EXPECT_EQ(BUS1_MSG_DATA, big.r.type);
	EXPECT_EQ(self->nb, big.r.destination);
	EXPECT_EQ(1, big.r.size);
	EXPECT_EQ('m', self->map_b[big.r.offset]);
	EXPECT_EQ(0, release(self->b, big.r.offset));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, recv_efault_keeps_message)
{
	struct bus1_recv *ro;
	__u64 off;

	ASSERT_EQ(0, send_buf(self->a, self->hb, "kept", 5));

	EXPECT_EQ(-1, bus1_recv(self->b, NULL, sizeof(*ro)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, bus1_recv(self->b, (void *)1, sizeof(*ro)));
	EXPECT_EQ(EFAULT, errno);
	/* Readable, with valid input, but the result cannot be written. */
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	EXPECT_EQ(-1, bus1_recv(self->b, ro, sizeof(*ro)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, bus1_recv(self->b, ro, sizeof(*ro)));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, PAGE);
	EXPECT_COUNTERS(self->b, 8, 1, 1);

	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 "kept", 5, 0);
	EXPECT_COUNTERS(self->b, 8, 1, 0);
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_IDLE(self->b);
}

/* Receive the next entry of @fd, releasing the slice at @release. */
static int recv_release(int fd, __u64 release, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->flags = BUS1_RECV_RELEASE;
	r->offset = release;
	return bus1_recv(fd, r, sizeof(*r));
}

TEST_F(msg, recv_release)
{
	struct bus1_recv r;
	__u64 first, second;

	ASSERT_EQ(0, send_buf(self->a, self->hb, "one", 3));
	ASSERT_EQ(0, send_buf(self->a, self->hb, "two", 3));
	first = recv_check(_metadata, self->b, self->map_b, self->nb,
			   "one", 3, 0);
	EXPECT_COUNTERS(self->b, 16, 2, 1);

	/* The second receive releases the first slice. */
	ASSERT_EQ(0, recv_release(self->b, first, &r));
	second = r.offset;
	EXPECT_EQ(3, r.size);
	EXPECT_EQ(0, memcmp(self->map_b + second, "two", 3));
	EXPECT_NE(first, second);
	EXPECT_COUNTERS(self->b, 8, 1, 0);
	EXPECT_EQ(0, fdinfo(self->b, "bus1-charged-slices") - 1);

	/* Released means gone: neither call can release it again. */
	EXPECT_EQ(-1, release(self->b, first));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, send_buf(self->a, self->hb, "three", 5));
	EXPECT_EQ(-1, recv_release(self->b, first, &r));
	EXPECT_EQ(ENXIO, errno);
	/* Nor anything that was never received; the entry stays queued. */
	EXPECT_EQ(-1, recv_release(self->b, 4096, &r));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, recv_release(self->b, ~0ULL, &r));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_COUNTERS(self->b, 16, 2, 1);

	ASSERT_EQ(0, recv_release(self->b, second, &r));
	EXPECT_EQ(0, memcmp(self->map_b + r.offset, "three", 5));
	EXPECT_COUNTERS(self->b, 8, 1, 0);
	EXPECT_EQ(0, release(self->b, r.offset));
	EXPECT_IDLE(self->b);
}

/*
 * The flags read back as 0, and a notice, which has no slice, still
 * releases the slice passed with it; its own offset is 0.
 */
TEST_F(msg, recv_release_with_notice)
{
	struct bus1_recv r;
	__u64 off;

	ASSERT_EQ(0, send_buf(self->a, self->hb, "one", 3));
	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 "one", 3, 0);
	EXPECT_COUNTERS(self->b, 8, 1, 0);

	ASSERT_EQ(0, bus1_nodes_destroy(self->b, &self->nb, 1, 0));
	ASSERT_EQ(0, recv_release(self->b, off, &r));
	EXPECT_EQ(0, r.flags);
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, r.type);
	EXPECT_EQ(self->nb, r.destination);
	EXPECT_EQ(0, r.offset);
	EXPECT_EQ(0, r.size);
	EXPECT_EQ(0, fdinfo(self->b, "bus1-pool-allocated"));
	EXPECT_EQ(0, fdinfo(self->b, "bus1-pool-slices"));
	EXPECT_EQ(-1, release(self->b, off));
	EXPECT_EQ(ENXIO, errno);
}

/* A receive that fails leaves the slice to release where it was. */
TEST_F(msg, recv_release_only_on_receipt)
{
	struct bus1_recv r, *ro;
	__u64 off;
	int fl;

	ASSERT_EQ(0, send_buf(self->a, self->hb, "kept", 4));
	off = recv_check(_metadata, self->b, self->map_b, self->nb,
			 "kept", 4, 0);

	/* Nothing to receive, non-blocking. */
	fl = fcntl(self->b, F_GETFL);
	ASSERT_EQ(0, fcntl(self->b, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, recv_release(self->b, off, &r));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(self->b, F_SETFL, fl));
	EXPECT_COUNTERS(self->b, 8, 1, 0);

	/* An entry there, but the result cannot be written. */
	ASSERT_EQ(0, send_buf(self->a, self->hb, "next", 4));
	ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	ro->flags = BUS1_RECV_RELEASE;
	ro->offset = off;
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ));
	EXPECT_EQ(-1, bus1_recv(self->b, ro, sizeof(*ro)));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, PAGE);
	EXPECT_COUNTERS(self->b, 16, 2, 1);

	/* Both still there: the first releasable, the second receivable. */
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_EQ(0, release(self->b, recv_check(_metadata, self->b,
						 self->map_b, self->nb,
						 "next", 4, 0)));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, recv_nonblock)
{
	struct bus1_recv r;
	__u64 node, h, off;
	int fd, fl;

	/* A peer created non-blocking. */
	fd = bus1_peer_create(BUS1_PEER_NONBLOCK | BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, recv_msg(fd, &r));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, bus1_node_create(fd, &node, 0));
	h = bus1_transfer_id(fd, node, self->a);
	ASSERT_NE(0, h);
	ASSERT_EQ(0, send_buf(self->a, h, "nb", 2));
	ASSERT_EQ(0, recv_msg(fd, &r));
	EXPECT_EQ(node, r.destination);
	EXPECT_EQ(2, r.size);
	EXPECT_EQ(0, release(fd, r.offset));
	EXPECT_EQ(-1, recv_msg(fd, &r));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);

	/* A blocking peer made non-blocking with fcntl(). */
	fl = fcntl(self->b, F_GETFL);
	ASSERT_EQ(0, fcntl(self->b, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, recv_msg(self->b, &r));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, send_buf(self->a, self->hb, "x", 1));
	off = recv_check(_metadata, self->b, self->map_b, self->nb, "x", 1, 0);
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_EQ(-1, recv_msg(self->b, &r));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(self->b, F_SETFL, fl));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, poll_level)
{
	struct pollfd p = {
		.fd = self->b,
		.events = POLLIN | POLLRDNORM | POLLOUT | POLLPRI,
	};
	__u64 off;

	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);

	ASSERT_EQ(0, send_buf(self->a, self->hb, "p", 1));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	/* Still there, still reported. */
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	/* The sender has nothing to receive. */
	p.fd = self->a;
	EXPECT_EQ(0, poll(&p, 1, 0));
	p.fd = self->b;

	/* Received, the entry is gone, even though its slice is not. */
	off = recv_check(_metadata, self->b, self->map_b, self->nb, "p", 1, 0);
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);
	EXPECT_EQ(0, release(self->b, off));
	EXPECT_EQ(0, poll(&p, 1, 0));
}

TEST_F(msg, epoll_level)
{
	struct epoll_event ev = { .events = EPOLLIN };
	__u64 off;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->b, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(0, send_buf(self->a, self->hb, "l", 1));
	ev.events = 0;
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	ev.events = 0;
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);

	off = recv_check(_metadata, self->b, self->map_b, self->nb, "l", 1, 0);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(0, release(self->b, off));
	close(ep);
}

TEST_F(msg, epoll_edge)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	__u64 off[2];
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->b, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	/* One report per arrival, even while the entry stays queued. */
	ASSERT_EQ(0, send_buf(self->a, self->hb, "e1", 2));
	ev.events = 0;
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(0, send_buf(self->a, self->hb, "e2", 2));
	ev.events = 0;
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	off[0] = recv_check(_metadata, self->b, self->map_b, self->nb,
			    "e1", 2, 0);
	off[1] = recv_check(_metadata, self->b, self->map_b, self->nb,
			    "e2", 2, 0);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(0, bus1_slice_release(self->b, off, 2, 0));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

TEST_F(msg, fifo_per_sender)
{
	enum { N = 100 };
	__u64 hb_c, off;
	unsigned int i;
	uint32_t seq;

	/* a alone: its messages arrive in the order it sent them. */
	for (seq = 0; seq < N; seq++)
		ASSERT_EQ(0, send_buf(self->a, self->hb, &seq, sizeof(seq)));
	EXPECT_COUNTERS(self->b, 8 * N, N, N);
	for (seq = 0; seq < N; seq++) {
		off = recv_check(_metadata, self->b, self->map_b, self->nb,
				 &seq, sizeof(seq), 0);
		ASSERT_EQ(0, release(self->b, off));
	}
	EXPECT_IDLE(self->b);

	/* a and c taking turns, one after the other: the same order. */
	hb_c = bus1_transfer_id(self->b, self->nb, self->c);
	ASSERT_NE(0, hb_c);
	for (i = 0; i < N; i++) {
		seq = i;
		ASSERT_EQ(0, send_buf(i & 1 ? self->c : self->a,
				      i & 1 ? hb_c : self->hb,
				      &seq, sizeof(seq)));
	}
	for (seq = 0; seq < N; seq++) {
		off = recv_check(_metadata, self->b, self->map_b, self->nb,
				 &seq, sizeof(seq), 0);
		ASSERT_EQ(0, release(self->b, off));
	}
	EXPECT_NOTHING_DELIVERED();
}

/*
 * A thread blocked in bus1_recv(), poll(2) or epoll_wait(2) (@ep), and
 * what it got.
 */
struct receiver {
	pthread_t thread;
	int fd;
	int ep;
	pid_t tid;
	int ret;
	int err;
	struct bus1_recv r;
	short revents;
};

static void *receiver_run(void *arg)
{
	struct receiver *rc = arg;

	__atomic_store_n(&rc->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_SEQ_CST);
	rc->ret = recv_msg(rc->fd, &rc->r);
	rc->err = errno;
	return NULL;
}

/*
 * Wait until the thread of @rc sleeps, which it does only inside the call
 * it waits in. Returns 0 once it does, -1 after about ten seconds or if
 * the thread is gone.
 */
static int receiver_wait_blocked(struct receiver *rc)
{
	char path[64], buf[512], *p;
	pid_t tid = 0;
	ssize_t n;
	int i, fd;

	for (i = 0; i < 10000; i++) {
		tid = __atomic_load_n(&rc->tid, __ATOMIC_SEQ_CST);
		if (tid)
			break;
		usleep(1000);
	}
	if (!tid)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (i = 0; i < 10000; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return 0;
		}
		usleep(1000);
	}
	return -1;
}

/* Wait up to ten seconds in poll(2) for @rc->fd to become readable. */
static void *poller_run(void *arg)
{
	struct receiver *rc = arg;
	struct pollfd p = { .fd = rc->fd, .events = POLLIN };

	__atomic_store_n(&rc->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_SEQ_CST);
	rc->ret = poll(&p, 1, 10000);
	rc->err = errno;
	rc->revents = p.revents;
	return NULL;
}

/* The same in epoll_wait(2) on @rc->ep, which watches @rc->fd. */
static void *epoller_run(void *arg)
{
	struct receiver *rc = arg;
	struct epoll_event ev = {};

	__atomic_store_n(&rc->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_SEQ_CST);
	rc->ret = epoll_wait(rc->ep, &ev, 1, 10000);
	rc->err = errno;
	rc->revents = ev.events;
	return NULL;
}

static int receiver_start_fn(struct receiver *rc, int fd, int ep,
			     void *(*fn)(void *))
{
	memset(rc, 0, sizeof(*rc));
	rc->fd = fd;
	rc->ep = ep;
	rc->ret = -2;
	return pthread_create(&rc->thread, NULL, fn, rc);
}

static int receiver_start(struct receiver *rc, int fd)
{
	return receiver_start_fn(rc, fd, -1, receiver_run);
}

TEST_F(msg, recv_blocks)
{
	struct receiver rc;

	ASSERT_EQ(0, receiver_start(&rc, self->b));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	EXPECT_EQ(-2, rc.ret);
	ASSERT_EQ(0, send_buf(self->a, self->hb, "wake", 4));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	ASSERT_EQ(0, rc.ret) TH_LOG("recv: %s", strerror(rc.err));
	EXPECT_EQ(self->nb, rc.r.destination);
	EXPECT_EQ(4, rc.r.size);
	EXPECT_EQ(0, memcmp(self->map_b + rc.r.offset, "wake", 4));
	EXPECT_EQ(0, release(self->b, rc.r.offset));
	EXPECT_IDLE(self->b);
}

/*
 * A thread blocked in poll(2), and one in epoll_wait(2), is woken by a
 * send. A send wakes only a peer that has a waiter, so a poller must be
 * seen as one: a missed wake-up would leave it there for ten seconds.
 */
TEST_F(msg, poll_woken_by_send)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct receiver rc;
	__u64 off;
	int ep;

	ASSERT_EQ(0, receiver_start_fn(&rc, self->b, -1, poller_run));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	ASSERT_EQ(0, send_buf(self->a, self->hb, "poll", 4));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	EXPECT_EQ(1, rc.ret) TH_LOG("poll: %s", strerror(rc.err));
	EXPECT_EQ(POLLIN, rc.revents & POLLIN);
	off = recv_check(_metadata, self->b, self->map_b, self->nb, "poll", 4,
			 0);
	EXPECT_EQ(0, release(self->b, off));

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->b, &ev));
	ASSERT_EQ(0, receiver_start_fn(&rc, self->b, ep, epoller_run));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	ASSERT_EQ(0, send_buf(self->a, self->hb, "epoll", 5));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	EXPECT_EQ(1, rc.ret) TH_LOG("epoll_wait: %s", strerror(rc.err));
	EXPECT_EQ(EPOLLIN, rc.revents & EPOLLIN);
	off = recv_check(_metadata, self->b, self->map_b, self->nb, "epoll",
			 5, 0);
	EXPECT_EQ(0, release(self->b, off));
	close(ep);
	EXPECT_IDLE(self->b);
}

TEST_F(msg, recv_blocked_while_fd_closed)
{
	struct receiver rc;

	ASSERT_EQ(0, receiver_start(&rc, self->b));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));

	/*
	 * Close the fd number under the blocked call: the call keeps the
	 * peer alive, and the message a sends now still reaches it.
	 */
	ASSERT_EQ(0, close(self->b));
	self->b = -1;
	ASSERT_EQ(0, send_buf(self->a, self->hb, "late", 4));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	ASSERT_EQ(0, rc.ret) TH_LOG("recv: %s", strerror(rc.err));
	EXPECT_EQ(BUS1_MSG_DATA, rc.r.type);
	EXPECT_EQ(self->nb, rc.r.destination);
	EXPECT_EQ(4, rc.r.size);
	/* The mapping outlives the peer. */
	EXPECT_EQ(0, memcmp(self->map_b + rc.r.offset, "late", 4));

	/* With the call returned, the last reference is gone. */
	EXPECT_EQ(-1, send_buf(self->a, self->hb, "x", 1));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_DESTROY_NOTICE(self->a, self->hb);
	EXPECT_NOTHING_DELIVERED();
}

static int sigusr1_count;

static void on_sigusr1(int sig)
{
	__atomic_fetch_add(&sigusr1_count, 1, __ATOMIC_SEQ_CST);
}

static int sigusr1_seen(void)
{
	return __atomic_load_n(&sigusr1_count, __ATOMIC_SEQ_CST);
}

static int catch_sigusr1(int flags)
{
	struct sigaction sa = { .sa_handler = on_sigusr1, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&sigusr1_count, 0, __ATOMIC_SEQ_CST);
	return sigaction(SIGUSR1, &sa, NULL);
}

TEST_F(msg, recv_eintr)
{
	struct receiver rc;

	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_EQ(0, receiver_start(&rc, self->b));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	ASSERT_EQ(0, pthread_kill(rc.thread, SIGUSR1));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	EXPECT_EQ(1, sigusr1_seen());
	EXPECT_EQ(-1, rc.ret);
	EXPECT_EQ(EINTR, rc.err);
	EXPECT_IDLE(self->b);

	/* The peer works as before. */
	ASSERT_EQ(0, send_buf(self->a, self->hb, "after", 5));
	EXPECT_EQ(0, release(self->b, recv_check(_metadata, self->b,
						 self->map_b, self->nb,
						 "after", 5, 0)));
	EXPECT_IDLE(self->b);
}

TEST_F(msg, recv_sa_restart)
{
	struct receiver rc;
	int i;

	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_EQ(0, receiver_start(&rc, self->b));
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	ASSERT_EQ(0, pthread_kill(rc.thread, SIGUSR1));
	for (i = 0; i < 10000 && !sigusr1_seen(); i++)
		usleep(1000);
	EXPECT_EQ(1, sigusr1_seen());

	/* The call went back to sleep and takes the next message. */
	EXPECT_EQ(0, receiver_wait_blocked(&rc));
	EXPECT_EQ(-2, rc.ret);
	ASSERT_EQ(0, send_buf(self->a, self->hb, "restarted", 10));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	ASSERT_EQ(0, rc.ret) TH_LOG("recv: %s", strerror(rc.err));
	EXPECT_EQ(self->nb, rc.r.destination);
	EXPECT_EQ(10, rc.r.size);
	EXPECT_EQ(0, memcmp(self->map_b + rc.r.offset, "restarted", 10));
	EXPECT_EQ(0, release(self->b, rc.r.offset));
	EXPECT_IDLE(self->b);
}

TEST_HARNESS_MAIN
