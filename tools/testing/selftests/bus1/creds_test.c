// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 selftests: the credentials a peer keeps and the sender identity a
 * BUS1_PEER_CREDS receiver gets with each message, across setuid, passed
 * descriptors, user and PID namespaces and Smack labels.
 *
 * The tests need root (setresuid(), unshare(), Smack labels) and skip
 * without it.
 */

#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "../kselftest_harness.h"
#include "bus1_test.h"

#define ALIGN8(x)	(((x) + 7) & ~(size_t)7)

/* What one received data message says about its sender. */
struct sender {
	__u64 msg_flags;
	struct bus1_creds creds;
	char secctx[256];
};

/* A peer with a node; the node's owner handle ID in *@id. */
static int peer_with_node(unsigned int flags, __u64 *id)
{
	int fd = bus1_peer_create(flags);

	if (fd >= 0 && bus1_node_create(fd, id, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A peer created with effective uid and gid @id; real IDs stay root. */
static int peer_as(uid_t id)
{
	return bus1_peer_create_as(id, 0);
}

/* Send @len bytes of @buf (and @n_fds fds) from @fd to handle @dst. */
static int send_to(int fd, __u64 dst, const void *buf, size_t len,
		   const int *fds, size_t n_fds)
{
	struct bus1_vec v = { .ptr = PTR(buf), .len = len };
	struct bus1_send s = {
		.ptr_destinations = PTR(&dst),
		.n_destinations = 1,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_fds = PTR(fds),
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

/*
 * Receive the next data message of @fd, whose pool is mapped at @map, and
 * read its sender's identity if it has one; release its slice. Returns 0,
 * or -1 if nothing or no data message was received.
 */
static int recv_sender(int fd, const unsigned char *map, struct sender *out)
{
	struct bus1_recv r = {};
	size_t at;

	memset(out, 0, sizeof(*out));
	if (bus1_recv(fd, &r, sizeof(r)) || r.type != BUS1_MSG_DATA)
		return -1;
	out->msg_flags = r.msg_flags;
	if (r.msg_flags & BUS1_MSG_CREDS) {
		at = r.offset + ALIGN8(ALIGN8(r.size) + 8 * r.n_handles +
				       4 * r.n_fds);
		memcpy(&out->creds, map + at, sizeof(out->creds));
		if (out->creds.n_secctx < sizeof(out->secctx))
			memcpy(out->secctx, map + at + sizeof(out->creds),
			       out->creds.n_secctx + 1);
	}
	bus1_slice_release(fd, &r.offset, 1, 0);
	return 0;
}

/* The Smack label of the calling task, or "" without Smack. */
static void own_label(char *buf, size_t size)
{
	ssize_t n = -1;
	int fd;

	fd = open("/proc/self/attr/smack/current", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* Wait for @pid; its exit status, or -1 if it did not exit normally. */
static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The effective IDs of the fixture's sender: a value the pool never held. */
#define TX_ID	1500

FIXTURE(creds) {
	int rx;			/* receiver, BUS1_PEER_CREDS */
	__u64 node;		/* its node, as its own handle ID */
	const unsigned char *map;
	int tx;			/* a sender, created with euid TX_ID */
	__u64 dst;		/* its handle to the node */
};

FIXTURE_SETUP(creds)
{
	static unsigned char dirt[4096];
	struct sender s;

	if (bus1_need_root(_metadata, "setresuid(), unshare() and Smack labels"))
		return;
	self->rx = peer_with_node(BUS1_PEER_CREDS, &self->node);
	ASSERT_LE(0, self->rx);
	self->map = map_pool(self->rx);
	ASSERT_TRUE(!!self->map);
	self->tx = peer_as(TX_ID);
	ASSERT_LE(0, self->tx);
	self->dst = bus1_transfer_id(self->rx, self->node, self->tx);
	ASSERT_NE(0, self->dst);
	/*
	 * Fill the start of the pool with 0xaa and free it again: the next
	 * slices reuse it, so whatever the kernel does not write there
	 * reads as 0xaa, not as the zeroes of a fresh page.
	 */
	memset(dirt, 0xaa, sizeof(dirt));
	ASSERT_EQ(0, send_to(self->tx, self->dst, dirt, sizeof(dirt), NULL, 0));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
}

FIXTURE_TEARDOWN(creds)
{
	close(self->tx);
	close(self->rx);
}

/* A plain message: uid, gid, pid and label of the sender, after the payload. */
TEST_F(creds, plain)
{
	char label[256];
	struct sender s;

	own_label(label, sizeof(label));
	ASSERT_EQ(0, send_to(self->tx, self->dst, "hello", 5, NULL, 0));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(BUS1_MSG_CREDS, s.msg_flags);
	EXPECT_EQ(TX_ID, s.creds.uid);
	EXPECT_EQ(TX_ID, s.creds.gid);
	EXPECT_EQ(getpid(), s.creds.pid);
	EXPECT_EQ(strlen(label), s.creds.n_secctx);
	EXPECT_STREQ(label, s.secctx);
	/* The context is kept with the peer: the second send says the same. */
	ASSERT_EQ(0, send_to(self->tx, self->dst, "again", 5, NULL, 0));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(strlen(label), s.creds.n_secctx);
	EXPECT_STREQ(label, s.secctx);
	EXPECT_EQ(TX_ID, s.creds.uid);
}

/* The identity sits behind passed handles and fds, at the documented place. */
TEST_F(creds, behind_handles_and_fds)
{
	__u64 ids[2], rx_ids[3];
	int p[2], fds[3];
	struct bus1_send s = {};
	struct bus1_vec v = { .ptr = PTR("abc"), .len = 3 };
	struct bus1_recv r = {};
	struct bus1_creds c;
	size_t at;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, bus1_node_create(self->tx, &ids[0], 0));
	ASSERT_EQ(0, bus1_node_create(self->tx, &ids[1], 0));
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];
	s.ptr_destinations = PTR(&self->dst);
	s.n_destinations = 1;
	s.ptr_vecs = PTR(&v);
	s.n_vecs = 1;
	s.ptr_handles = PTR(ids);
	s.n_handles = 2;
	s.ptr_fds = PTR(fds);
	s.n_fds = 3;
	ASSERT_EQ(0, bus1_send(self->tx, &s, sizeof(s)));
	ASSERT_EQ(0, bus1_recv(self->rx, &r, sizeof(r)));
	EXPECT_EQ(BUS1_MSG_CREDS, r.msg_flags);
	ASSERT_EQ(2, r.n_handles);
	ASSERT_EQ(3, r.n_fds);
	/*
	 * 3 bytes, 5 of padding, 16 of IDs, 12 of fds, 4 of padding: the
	 * structure is 40 bytes in, and the padding before it is zero.
	 */
	at = r.offset + 40;
	memcpy(rx_ids, self->map + r.offset + 8, sizeof(rx_ids[0]) * 2);
	EXPECT_NE(BUS1_HANDLE_INVALID, rx_ids[0]);
	EXPECT_NE(BUS1_HANDLE_INVALID, rx_ids[1]);
	EXPECT_EQ(0, memcmp(self->map + at - 4, "\0\0\0\0", 4));
	memcpy(&c, self->map + at, sizeof(c));
	EXPECT_EQ(TX_ID, c.uid);
	EXPECT_EQ(TX_ID, c.gid);
	EXPECT_EQ(getpid(), c.pid);
	EXPECT_EQ(0, self->map[at + sizeof(c) + c.n_secctx]);
	close(p[0]);
	close(p[1]);
}

/* Notices are not messages of a sender: they carry no identity. */
TEST_F(creds, notices_carry_none)
{
	struct bus1_recv r = {};
	__u64 node, id;
	int owner;

	owner = peer_with_node(0, &node);
	ASSERT_LE(0, owner);
	id = bus1_transfer_id(owner, node, self->rx);
	ASSERT_NE(0, id);
	close(owner);
	ASSERT_EQ(0, bus1_recv(self->rx, &r, sizeof(r)));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, r.type);
	EXPECT_EQ(0, r.msg_flags);
}

/*
 * A peer without BUS1_PEER_CREDS gets no identity and no room for one:
 * its slice holds the payload alone.
 */
TEST_F(creds, not_asked)
{
	unsigned long long before, after;
	struct bus1_recv r = {};
	__u64 node, dst;
	int plain;

	plain = peer_with_node(0, &node);
	ASSERT_LE(0, plain);
	dst = bus1_transfer_id(plain, node, self->tx);
	ASSERT_NE(0, dst);
	before = fdinfo(plain, "bus1-pool-allocated");
	ASSERT_EQ(0, send_to(self->tx, dst, "12345678", 8, NULL, 0));
	after = fdinfo(plain, "bus1-pool-allocated");
	EXPECT_EQ(8, after - before);
	ASSERT_EQ(0, bus1_recv(plain, &r, sizeof(r)));
	EXPECT_EQ(0, r.msg_flags);
	close(plain);
}

/* The identity is what the sending peer keeps, not its caller's now. */
TEST_F(creds, sender_after_setuid)
{
	struct sender s;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int later;
		__u64 dst;

		/* Drop every ID; the peer of root stays root's. */
		if (setresgid(1234, 1234, 1234) || setresuid(1234, 1234, 1234))
			_exit(10);
		/* Keep /proc/self/fdinfo ours after the ID change. */
		if (prctl(PR_SET_DUMPABLE, 1))
			_exit(15);
		if (send_to(self->tx, self->dst, "x", 1, NULL, 0))
			_exit(11);
		/* A peer created now is of the new user. */
		later = bus1_peer_create(0);
		if (later < 0)
			_exit(12);
		if (fdinfo(later, "bus1-uid") != 1234 ||
		    fdinfo(self->tx, "bus1-uid") != 0)
			_exit(13);
		dst = bus1_transfer_id(self->tx, self->dst, later);
		if (!dst || send_to(later, dst, "y", 1, NULL, 0))
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(0, wait_exit(pid));
	/* Sent by the child on our peer: our peer's identity. */
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(TX_ID, s.creds.uid);
	EXPECT_EQ(TX_ID, s.creds.gid);
	EXPECT_EQ(getpid(), s.creds.pid);
	/* Sent on the peer the child created after the change: the child's. */
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(1234, s.creds.uid);
	EXPECT_EQ(1234, s.creds.gid);
	EXPECT_EQ(pid, s.creds.pid);
}

/*
 * A peer created by another process, with other effective IDs, and
 * passed to us over SCM_RIGHTS: what we send on it carries its creator's
 * IDs and pid, not ours.
 */
TEST_F(creds, passed_descriptor)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct msghdr mh = {};
	struct cmsghdr *cm;
	struct iovec iov;
	struct sender s;
	int sv[2], peer;
	__u64 dst;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char c;

		close(sv[0]);
		peer = peer_as(4321);
		dst = peer >= 0 ? bus1_transfer_id(self->rx, self->node, peer) : 0;
		if (!dst)
			_exit(10);
		iov.iov_base = &dst;
		iov.iov_len = sizeof(dst);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &peer, sizeof(int));
		if (sendmsg(sv[1], &mh, 0) != sizeof(dst))
			_exit(11);
		close(peer);
		/* Stay alive, so that our pid is ours, until the parent is done. */
		_exit(read(sv[1], &c, 1) == 1 ? 0 : 12);
	}
	close(sv[1]);
	iov.iov_base = &dst;
	iov.iov_len = sizeof(dst);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(sizeof(dst), recvmsg(sv[0], &mh, 0));
	cm = CMSG_FIRSTHDR(&mh);
	ASSERT_TRUE(cm && cm->cmsg_type == SCM_RIGHTS);
	memcpy(&peer, CMSG_DATA(cm), sizeof(int));

	ASSERT_EQ(0, send_to(peer, dst, "z", 1, NULL, 0));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(4321, s.creds.uid);
	EXPECT_EQ(4321, s.creds.gid);
	EXPECT_EQ(pid, s.creds.pid);
	ASSERT_EQ(1, write(sv[0], "d", 1));
	EXPECT_EQ(0, wait_exit(pid));
	close(sv[0]);
	close(peer);
}

/* Write @map to /proc/@pid/@file. */
static int write_map(pid_t pid, const char *file, const char *map)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = write(fd, map, strlen(map)) == (ssize_t)strlen(map) ? 0 : -1;
	close(fd);
	return r;
}

/*
 * A receiver created in a user namespace where uid and gid 0 are 1000
 * outside: a sender of uid 1000 reads as 0, root (unmapped) as the
 * overflow IDs.
 */
TEST_F(creds, user_namespace)
{
	int ready[2], go[2], other;
	pid_t pid;
	char c;

	other = peer_as(1000);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct sender s1, s2;
		const unsigned char *map;
		__u64 node, d1, d2;
		int rx;

		close(go[1]);
		if (unshare(CLONE_NEWUSER) || write(ready[1], "r", 1) != 1)
			_exit(10);
		/* Wait for the parent to write the maps. */
		if (read(go[0], &c, 1) != 1)
			_exit(11);
		rx = peer_with_node(BUS1_PEER_CREDS, &node);
		map = rx >= 0 ? map_pool(rx) : NULL;
		if (!map)
			_exit(12);
		d1 = bus1_transfer_id(rx, node, self->tx);
		d2 = bus1_transfer_id(rx, node, other);
		if (!d1 || !d2 || send_to(self->tx, d1, "a", 1, NULL, 0) ||
		    send_to(other, d2, "b", 1, NULL, 0))
			_exit(13);
		if (recv_sender(rx, map, &s1) || recv_sender(rx, map, &s2))
			_exit(14);
		if (s1.creds.uid != 65534 || s1.creds.gid != 65534)
			_exit(15);
		if (s2.creds.uid != 0 || s2.creds.gid != 0)
			_exit(16);
		/* Same PID namespace: the pid of our parent, tx's creator. */
		if (s1.creds.pid != (__u32)getppid())
			_exit(17);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, write_map(pid, "uid_map", "0 1000 1\n"));
	ASSERT_EQ(0, write_map(pid, "gid_map", "0 1000 1\n"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	EXPECT_EQ(0, wait_exit(pid));
	close(other);
}

/*
 * A receiver created in a new PID namespace sees a sending peer created
 * in it by its creator's pid there, and one created outside it as 0; a
 * receiver outside sees a peer created inside by its creator's pid
 * outside.
 */
TEST_F(creds, pid_namespace)
{
	int ids[2], done[2], outer[2];
	struct sender s;
	pid_t pid, inner;
	__u64 dst;

	ASSERT_EQ(0, pipe(ids));
	ASSERT_EQ(0, pipe(done));
	ASSERT_EQ(0, pipe(outer));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (unshare(CLONE_NEWPID))
			_exit(10);
		inner = fork();
		if (inner < 0)
			_exit(11);
		if (!inner) {
			struct sender s1, s2;
			const unsigned char *map;
			__u64 node, d, own_dst, back;
			int rx, own;
			char c;

			/* pid 1 of the new namespace */
			rx = peer_with_node(BUS1_PEER_CREDS, &node);
			own = bus1_peer_create(0);
			map = rx >= 0 && own >= 0 ? map_pool(rx) : NULL;
			own_dst = map ? bus1_transfer_id(rx, node, own) : 0;
			d = own_dst ? bus1_transfer_id(rx, node, self->tx) : 0;
			back = d ? bus1_transfer_id(self->tx, self->dst, own) : 0;
			if (!back)
				_exit(20);
			/* First our own peer's message, then the outside's. */
			if (send_to(own, own_dst, "i", 1, NULL, 0) ||
			    write(ids[1], &d, sizeof(d)) != sizeof(d) ||
			    read(done[0], &c, 1) != 1)
				_exit(21);
			if (recv_sender(rx, map, &s1) ||
			    recv_sender(rx, map, &s2))
				_exit(22);
			if (s1.creds.pid != 1 || getpid() != 1)
				_exit(23);
			if (s2.creds.pid != 0)
				_exit(24);
			/* Outside, the fixture's receiver sees our outer pid. */
			if (send_to(own, back, "o", 1, NULL, 0))
				_exit(25);
			_exit(0);
		}
		/* Its pid as seen here, outside its namespace. */
		if (write(outer[1], &inner, sizeof(inner)) != sizeof(inner))
			_exit(12);
		_exit(wait_exit(inner));
	}
	ASSERT_EQ(sizeof(inner), read(outer[0], &inner, sizeof(inner)));
	ASSERT_EQ(sizeof(dst), read(ids[0], &dst, sizeof(dst)));
	ASSERT_EQ(0, send_to(self->tx, dst, "u", 1, NULL, 0));
	ASSERT_EQ(1, write(done[1], "d", 1));
	EXPECT_EQ(0, wait_exit(pid));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(inner, s.creds.pid);
}

/*
 * A sending peer created under a Smack label carries it, whatever label
 * the receiver has; the label is what the peer was created with.
 */
TEST_F(creds, smack_label)
{
	static const char label[] = "bus1-creds-test";
	struct sender s;
	pid_t pid;
	int fd;

	fd = open("/proc/self/attr/smack/current", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no Smack");
	close(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__u64 dst;
		int tx;

		fd = open("/proc/self/attr/smack/current", O_WRONLY);
		if (fd < 0 || write(fd, label, strlen(label)) < 0)
			_exit(10);
		close(fd);
		tx = bus1_peer_create(0);
		if (tx < 0)
			_exit(11);
		/* Back to the floor label: the peer keeps the first. */
		fd = open("/proc/self/attr/smack/current", O_WRONLY);
		if (fd < 0 || write(fd, "_", 1) != 1)
			_exit(12);
		close(fd);
		dst = bus1_transfer_id(self->rx, self->node, tx);
		if (!dst || send_to(tx, dst, "s", 1, NULL, 0))
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(0, wait_exit(pid));
	ASSERT_EQ(0, recv_sender(self->rx, self->map, &s));
	EXPECT_EQ(strlen(label), s.creds.n_secctx);
	EXPECT_STREQ(label, s.secctx);
	EXPECT_EQ(pid, s.creds.pid);
}

TEST_HARNESS_MAIN
