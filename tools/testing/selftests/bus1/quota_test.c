// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the per-user quotas of bus1: the limits in /proc/sys/kernel/bus1/
 * and the values they refuse, the fair share of a receiving user among the
 * users that send to it, the limits of each peer, when each charge is given
 * back, the counters in fdinfo, that a flood never blocks a sender, that no
 * charge outlives the peers of a user, and that the pool pages of a
 * receiver are charged to the memory cgroup of the task that created it.
 *
 * The tests run as root (they skip without it) and act as other users. A
 * peer belongs to the real uid of the task that created it, so setting
 * just the real uid around bus1_peer_create() makes a peer of another user
 * while root keeps its powers; one test also drops root for good in forked
 * children. Each test sets the limits it needs and puts every limit back
 * when it ends. Two tests limit the number of peers a user may have.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

#define MIB		(1024UL * 1024UL)
#define POOL_KEEP	(2 * MIB)	/* released pool pages a pool keeps */
#define ALIGN8(x)	(((__u64)(x) + 7) & ~(__u64)7)

/* Users nothing else uses; each test takes its own hundred uids. */
#define UID(test, i)	((uid_t)(41000 + 100 * (test) + (i)))

/* Sends that are expected to fail go on this long, to show that they do. */
#define FLOOD_EXTRA	100

/* The resources a user is charged for, as the sysctls and fdinfo name them. */
enum { BYTES, SLICES, MESSAGES, HANDLES, FDS, NR_RES };

static const char * const res_name[NR_RES] = {
	[BYTES] = "bytes",
	[SLICES] = "slices",
	[MESSAGES] = "messages",
	[HANDLES] = "handles",
	[FDS] = "fds",
};

enum { USER, PEER };

static const char * const scope_name[] = {
	[USER] = "user",
	[PEER] = "peer",
};

/* Bytes of pool a message takes: payload, handle IDs and fds, at least 8. */
static unsigned long long slice_size(size_t len, unsigned int n_handles,
				     unsigned int n_fds)
{
	unsigned long long n = ALIGN8(ALIGN8(len) + 8 * n_handles + 4 * n_fds);

	return n ? n : 8;
}

static void limit_path(char *buf, size_t size, int scope, int res)
{
	snprintf(buf, size, "/proc/sys/kernel/bus1/%s_max_%s",
		 scope_name[scope], res_name[res]);
}

/*
 * Read the file @path into @buf, NUL-terminated. Like the calls below, it
 * returns 0, or -1 with errno set.
 */
static int file_get(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	errno = err;
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/*
 * Write @text to the file @path in one write() at offset 0, as echo does:
 * a sysctl ignores a write at another offset.
 */
static int file_put(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	err = n < 0 ? errno : EIO;
	close(fd);
	if ((size_t)n == len)
		return 0;
	errno = err;
	return -1;
}

/* Read the unsigned int in the file @path, a sysctl. */
static int uint_get(const char *path, unsigned int *val)
{
	unsigned long long v;
	char buf[32], *end;

	if (file_get(path, buf, sizeof(buf)))
		return -1;
	v = strtoull(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || v > UINT_MAX) {
		errno = EIO;
		return -1;
	}
	*val = v;
	return 0;
}

static int limit_get(int scope, int res, unsigned int *val)
{
	char path[96];

	limit_path(path, sizeof(path), scope, res);
	return uint_get(path, val);
}

static int limit_put_str(int scope, int res, const char *text)
{
	char path[96];

	limit_path(path, sizeof(path), scope, res);
	return file_put(path, text);
}

static int limit_put(int scope, int res, unsigned long long val)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu\n", val);
	return limit_put_str(scope, res, text);
}

/* The errno that writing @text, or @val, to a limit fails with, or 0. */
static int limit_put_str_err(int scope, int res, const char *text)
{
	return limit_put_str(scope, res, text) ? errno : 0;
}

static int limit_put_err(int scope, int res, unsigned long long val)
{
	return limit_put(scope, res, val) ? errno : 0;
}

#define PEERS_LIMIT	"/proc/sys/kernel/bus1/user_max_peers"

/* user_max_peers, the peers a user may have at once. */
static int peers_limit_get(unsigned int *val)
{
	return uint_get(PEERS_LIMIT, val);
}

static int peers_limit_put_str(const char *text)
{
	return file_put(PEERS_LIMIT, text);
}

static int peers_limit_put(unsigned int val)
{
	char text[32];

	snprintf(text, sizeof(text), "%u\n", val);
	return peers_limit_put_str(text);
}

/*
 * Set both limits of @res. The peer limit may never exceed the user limit,
 * so the user limit goes first when it stays at or above the current peer
 * limit, else the peer limit goes first.
 */
static int set_limit(int res, unsigned int user, unsigned int peer)
{
	unsigned int cur_peer;

	if (limit_get(PEER, res, &cur_peer))
		return -1;
	if (user >= cur_peer)
		return limit_put(USER, res, user) ?: limit_put(PEER, res, peer);
	return limit_put(PEER, res, peer) ?: limit_put(USER, res, user);
}

/* Both limits of @res are @user and @peer. */
#define EXPECT_LIMITS(res, user, peer) do {				\
	unsigned int u_ = ~0U, p_ = ~0U;				\
	int r_ = (res);							\
									\
	EXPECT_EQ(0, limit_get(USER, r_, &u_));				\
	EXPECT_EQ(0, limit_get(PEER, r_, &p_));				\
	EXPECT_EQ((user), u_) TH_LOG("user_max_%s", res_name[r_]);	\
	EXPECT_EQ((peer), p_) TH_LOG("peer_max_%s", res_name[r_]);	\
} while (0)

/* The fdinfo key of resource @res in the family @prefix, "bus1-user-" etc. */
static const char *res_key(char *key, size_t size, const char *prefix, int res)
{
	snprintf(key, size, "%s%s", prefix, res_name[res]);
	return key;
}

/* What the peer @fd is charged for @res as a receiver, by all users. */
static unsigned long long peer_charge(int fd, int res)
{
	char key[32];

	return fdinfo(fd, res_key(key, sizeof(key), "bus1-charged-", res));
}

/*
 * What the peers of the user of the peer @fd drew from its limit of @res:
 * their charges and their reserves.
 */
static unsigned long long user_drawn(int fd, int res)
{
	char key[32];

	return fdinfo(fd, res_key(key, sizeof(key), "bus1-user-", res));
}

/* What the peer @fd holds in reserve of @res, drawn but not charged. */
static unsigned long long peer_reserved(int fd, int res)
{
	char key[32];

	return fdinfo(fd, res_key(key, sizeof(key), "bus1-reserved-", res));
}

/* What the peers of the user of @fd, all open here, hold in reserve. */
static unsigned long long user_reserved(int fd, int res)
{
	char key[32];

	return user_sum(fd, res_key(key, sizeof(key), "bus1-reserved-", res));
}

/*
 * What the user of the peer @fd is charged for @res, over all its peers:
 * what they drew, less what they hold in reserve.
 */
static unsigned long long user_charge(int fd, int res)
{
	return user_drawn(fd, res) - user_reserved(fd, res);
}

/* How many users have a charge of any kind on the user of @fd. */
static unsigned long long user_senders(int fd)
{
	return fdinfo(fd, "bus1-user-senders");
}

/* Nothing at all is charged to the user of @fd. */
static bool user_idle(int fd)
{
	int res;

	for (res = 0; res < NR_RES; res++)
		if (user_charge(fd, res))
			return false;
	return user_senders(fd) == 0;
}

/*
 * A new peer of the user @uid, with BUS1_PEER_CLOEXEC and @flags. Only the
 * real uid changes, and only around the call.
 */
static int peer_as(uid_t uid, unsigned int flags)
{
	int fd, err;

	if (setresuid(uid, -1, -1))
		return -1;
	fd = bus1_peer_create(BUS1_PEER_CLOEXEC | flags);
	err = errno;
	if (setresuid(0, -1, -1))
		abort();
	errno = err;
	return fd;
}

/*
 * A non-blocking peer of @uid that owns one node, whose ID is stored to
 * *@node; a receiver whose missing message fails rather than hangs.
 */
static int receiver_as(uid_t uid, __u64 *node)
{
	int fd = peer_as(uid, BUS1_PEER_NONBLOCK);

	if (fd >= 0 && bus1_node_create(fd, node, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A new peer of @uid, holding a handle to the node @node of the peer @r,
 * whose ID is stored to *@h.
 */
static int sender_as(uid_t uid, int r, __u64 node, __u64 *h)
{
	int fd = peer_as(uid, 0);

	if (fd < 0)
		return -1;
	*h = bus1_transfer_id(r, node, fd);
	if (!*h) {
		close(fd);
		return -1;
	}
	return fd;
}

/* What small messages carry; they are never read back. */
static const unsigned char payload[16384];

/*
 * Send @len bytes (from @buf, or zeros if NULL) to the @n_dst handles at
 * @dst, passing @n_handles handles and @n_fds fds. With @errors, the send
 * is BUS1_SEND_CONTINUE and stores the result of each destination there.
 */
static int send_full(int fd, const __u64 *dst, unsigned int n_dst,
		     const void *buf, size_t len, const __u64 *handles,
		     unsigned int n_handles, const __s32 *fds,
		     unsigned int n_fds, __s32 *errors)
{
	struct bus1_vec v = { .ptr = PTR(buf ? buf : payload), .len = len };
	struct bus1_send s = {
		.flags = errors ? BUS1_SEND_CONTINUE : 0,
		.ptr_destinations = PTR(dst),
		.n_destinations = n_dst,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_errors = PTR(errors),
		.ptr_handles = PTR(handles),
		.n_handles = n_handles,
		.ptr_fds = PTR(fds),
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int send_msg(int fd, __u64 dst, size_t len, const __u64 *handles,
		    unsigned int n_handles, const __s32 *fds,
		    unsigned int n_fds)
{
	return send_full(fd, &dst, 1, NULL, len, handles, n_handles, fds,
			 n_fds, NULL);
}

static int send1(int fd, __u64 dst, size_t len)
{
	return send_msg(fd, dst, len, NULL, 0, NULL, 0);
}

/*
 * Send messages of @len bytes, each passing @n_handles handles and @n_fds
 * fds, from @fd to @dst until one fails, at most @max. Returns how many
 * were sent; the errno of the failure goes to *@err, 0 if none failed.
 */
static unsigned int flood_msg(int fd, __u64 dst, size_t len,
			      const __u64 *handles, unsigned int n_handles,
			      const __s32 *fds, unsigned int n_fds,
			      unsigned int max, int *err)
{
	unsigned int n;

	*err = 0;
	for (n = 0; n < max; n++) {
		if (send_msg(fd, dst, len, handles, n_handles, fds, n_fds)) {
			*err = errno;
			break;
		}
	}
	return n;
}

static unsigned int flood(int fd, __u64 dst, size_t len, unsigned int max,
			  int *err)
{
	return flood_msg(fd, dst, len, NULL, 0, NULL, 0, max, err);
}

/*
 * Exactly @n more such messages fit, and the next one fails with EDQUOT;
 * the failure leaves nothing charged, so the flood can go on after it.
 */
#define EXPECT_FLOOD_MSG(n, fd, dst, len, handles, n_handles, fds, n_fds) \
do {									\
	unsigned int n_ = (n);						\
	int err_;							\
									\
	EXPECT_EQ(n_, flood_msg((fd), (dst), (len), (handles),		\
				(n_handles), (fds), (n_fds),		\
				n_ + FLOOD_EXTRA, &err_));		\
	EXPECT_EQ(EDQUOT, err_);					\
} while (0)

#define EXPECT_FLOOD(n, fd, dst, len) \
	EXPECT_FLOOD_MSG(n, fd, dst, len, NULL, 0, NULL, 0)

/* Create up to @n nodes of @fd, their IDs stored to @ids; how many were. */
static unsigned int make_nodes(int fd, __u64 *ids, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && !bus1_node_create(fd, &ids[i], 0); i++)
		;
	return i;
}

static int recv1(int fd, __u64 flags, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->flags = flags;
	return bus1_recv(fd, r, sizeof(*r));
}

/*
 * Receive every entry queued on the non-blocking @fd, with @flags. Stores
 * the offsets of the data messages to @offs, at most @max, and returns how
 * many there were, or -1 if a receive failed other than with EAGAIN. The
 * fds that BUS1_RECV_FDS installs are read from the pool mapped at @map
 * and closed.
 */
static int recv_all(int fd, __u64 flags, const unsigned char *map,
		    __u64 *offs, unsigned int max)
{
	unsigned int n = 0;
	struct bus1_recv r;
	__u64 i, at;
	__s32 f;

	while (!recv1(fd, flags, &r)) {
		if (r.type != BUS1_MSG_DATA)
			continue;
		if (n == max)
			return -1;
		offs[n++] = r.offset;
		at = r.offset + ALIGN8(r.size) + 8 * r.n_handles;
		for (i = 0; map && i < r.n_fds; i++) {
			memcpy(&f, map + at + 4 * i, sizeof(f));
			if (f >= 0)
				close(f);
		}
	}
	return errno == EAGAIN ? (int)n : -1;
}

static int release_all(int fd, const __u64 *offs, unsigned int n)
{
	unsigned int i, chunk;

	for (i = 0; i < n; i += chunk) {
		chunk = n - i < BUS1_RELEASE_MAX ? n - i : BUS1_RELEASE_MAX;
		if (bus1_slice_release(fd, offs + i, chunk, 0))
			return -1;
	}
	return 0;
}

#define CG		"/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

#define MAX_KIDS	8

/*
 * The limits as they were, put back when the test ends; what a test leaves
 * behind that must go even if it fails. The teardown runs in the parent of
 * the test process, so that it runs even if the test is killed by a signal.
 */
FIXTURE(quota) {
	unsigned int saved[2][NR_RES];
	bool saved_all;
	unsigned int saved_peers;	/* user_max_peers */
	pid_t kids[MAX_KIDS];		/* children not reaped yet */
	char cgroup[2][96];		/* cgroups made, to remove */
	bool cgroup_mounted;		/* cgroup2 mounted at CG by the test */
};

FIXTURE_SETUP(quota)
{
	int scope, res;

	if (bus1_need_root(_metadata, "setting the limits and acting as other users"))
		return;
	for (scope = USER; scope <= PEER; scope++) {
		for (res = 0; res < NR_RES; res++) {
			ASSERT_EQ(0, limit_get(scope, res,
					       &self->saved[scope][res]))
				TH_LOG("%s_max_%s: %s", scope_name[scope],
				       res_name[res], strerror(errno));
		}
	}
	ASSERT_EQ(0, peers_limit_get(&self->saved_peers))
		TH_LOG("user_max_peers: %s", strerror(errno));
	self->saved_all = true;
}

FIXTURE_TEARDOWN_PARENT(quota)
{
	unsigned int i, tries;
	bool ok;
	int res;

	for (i = 0; i < MAX_KIDS; i++)
		if (self->kids[i] > 0)
			kill(self->kids[i], SIGKILL);
	/*
	 * No TH_LOG() on an EXPECT here: a failed ASSERT in the test process
	 * may have left the shared trigger set, which would print it.
	 */
	for (res = 0; self->saved_all && res < NR_RES; res++) {
		ok = !set_limit(res, self->saved[USER][res],
				self->saved[PEER][res]);
		if (!ok)
			TH_LOG("restoring the %s limits: %s", res_name[res],
			       strerror(errno));
		EXPECT_TRUE(ok);
	}
	if (self->saved_all) {
		ok = !peers_limit_put(self->saved_peers);
		if (!ok)
			TH_LOG("restoring user_max_peers: %s",
			       strerror(errno));
		EXPECT_TRUE(ok);
	}
	for (i = 0; i < ARRAY_SIZE(self->cgroup); i++) {
		if (!self->cgroup[i][0])
			continue;
		/* A cgroup is busy until its last task is reaped. */
		for (tries = 0; rmdir(self->cgroup[i]) && errno == EBUSY &&
		     tries < 100; tries++)
			usleep(10000);
	}
	if (self->cgroup_mounted)
		umount(CG);
}

TEST_F(quota, fdinfo_owner)
{
	const uid_t u = UID(1, 0);
	__u64 node;
	int p, q, root, res;

	p = peer_as(u, 0);
	q = peer_as(u, 0);
	root = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, p);
	ASSERT_LE(0, q);
	ASSERT_LE(0, root);

	/* The real uid of the creator owns a peer, the effective one not. */
	EXPECT_EQ(u, fdinfo(p, "bus1-uid"));
	EXPECT_EQ(u, fdinfo(q, "bus1-uid"));
	EXPECT_EQ(0, fdinfo(root, "bus1-uid"));
	for (res = 0; res < NR_RES; res++) {
		EXPECT_EQ(0, peer_charge(p, res)) TH_LOG("%s", res_name[res]);
		EXPECT_EQ(0, user_charge(p, res)) TH_LOG("%s", res_name[res]);
	}
	EXPECT_EQ(0, user_senders(p));

	/*
	 * A node charges a handle to the peer that creates it and its user,
	 * by that user: one sender. Its other peer sees it as the user's.
	 */
	ASSERT_EQ(0, bus1_node_create(p, &node, 0));
	EXPECT_EQ(1, peer_charge(p, HANDLES));
	EXPECT_EQ(1, user_charge(p, HANDLES));
	EXPECT_EQ(1, user_senders(p));
	EXPECT_EQ(0, peer_charge(q, HANDLES));
	EXPECT_EQ(1, user_charge(q, HANDLES));
	EXPECT_EQ(1, user_senders(q));
	EXPECT_EQ(0, user_charge(root, HANDLES));

	/* Destroyed, its handle stays charged until it is released. */
	ASSERT_EQ(0, bus1_nodes_destroy(p, &node, 1, 0));
	EXPECT_EQ(1, user_charge(p, HANDLES));
	ASSERT_EQ(0, bus1_handle_release(p, &node, 1, 0));
	EXPECT_EQ(0, peer_charge(p, HANDLES));
	EXPECT_TRUE(user_idle(q));

	close(p);
	close(q);
	close(root);
}

TEST_F(quota, sysctl_bad_values)
{
	static const char * const bad[] = { "0", "-1", "abc" };
	unsigned int u, p, cur, i;
	int scope, res;

	for (scope = USER; scope <= PEER; scope++) {
		for (res = 0; res < NR_RES; res++) {
			for (i = 0; i < ARRAY_SIZE(bad); i++) {
				EXPECT_EQ(EINVAL,
					  limit_put_str_err(scope, res, bad[i]))
					TH_LOG("%s_max_%s = %s",
					       scope_name[scope], res_name[res],
					       bad[i]);
				cur = ~0U;
				EXPECT_EQ(0, limit_get(scope, res, &cur));
				EXPECT_EQ(self->saved[scope][res], cur);
			}
		}
	}

	for (res = 0; res < NR_RES; res++) {
		u = self->saved[USER][res];
		p = self->saved[PEER][res];
		ASSERT_LE(1, p);
		ASSERT_LE(p, u);
		ASSERT_GT(UINT_MAX, u);

		/* The peer limit above the user limit, either way round. */
		EXPECT_EQ(EINVAL, limit_put_err(PEER, res, u + 1ULL))
			TH_LOG("%s", res_name[res]);
		EXPECT_LIMITS(res, u, p);
		if (p > 1) {
			EXPECT_EQ(EINVAL, limit_put_err(USER, res, p - 1))
				TH_LOG("%s", res_name[res]);
			EXPECT_LIMITS(res, u, p);
		}

		/* Equal limits are fine; so is a lower peer limit. */
		EXPECT_EQ(0, limit_put_err(USER, res, p));
		EXPECT_LIMITS(res, p, p);
		EXPECT_EQ(0, limit_put_err(USER, res, u + 1ULL));
		EXPECT_LIMITS(res, u + 1, p);
		if (p > 1) {
			EXPECT_EQ(0, limit_put_err(PEER, res, p - 1));
			EXPECT_LIMITS(res, u + 1, p - 1);
		}
		EXPECT_EQ(0, limit_put_err(PEER, res, 1));
		EXPECT_LIMITS(res, u + 1, 1);
		/* Raised, the user limit lets the peer limit follow. */
		EXPECT_EQ(0, limit_put_err(PEER, res, u + 1ULL));
		EXPECT_LIMITS(res, u + 1, u + 1);
		EXPECT_EQ(EINVAL, limit_put_err(USER, res, u));
		EXPECT_LIMITS(res, u + 1, u + 1);

		EXPECT_EQ(0, set_limit(res, u, p));
		EXPECT_LIMITS(res, u, p);
	}
}

TEST_F(quota, flood_then_share)
{
	const uid_t ua = UID(3, 0), ub = UID(3, 1), uc = UID(3, 2);
	unsigned long long senders0, handles0;
	__u64 node, ha, hb, offs[64];
	int r, a, b, n, res;

	ASSERT_EQ(0, set_limit(MESSAGES, 60, 60));
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	a = sender_as(ub, r, node, &ha);
	b = sender_as(uc, r, node, &hb);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(ua, fdinfo(r, "bus1-uid"));
	EXPECT_EQ(ub, fdinfo(a, "bus1-uid"));
	EXPECT_EQ(uc, fdinfo(b, "bus1-uid"));
	senders0 = user_senders(r);
	handles0 = user_charge(r, HANDLES);

	/* Alone, a may take half of what is free: s + 1 <= 60 - s - 1. */
	EXPECT_FLOOD(30, a, ha, 1);

	/*
	 * With two users, b gets t + 1 <= (60 - 30 - t - 1) / 2. Both send
	 * from this process, as root: the sending peer's user is charged,
	 * not the caller's.
	 */
	EXPECT_FLOOD(10, b, hb, 1);
	/* a is over its share, now that it is shared by two. */
	EXPECT_EQ(-1, send1(a, ha, 1));
	EXPECT_EQ(EDQUOT, errno);

	EXPECT_EQ(40, fdinfo(r, "bus1-queued"));
	EXPECT_EQ(40, peer_charge(r, MESSAGES));
	EXPECT_EQ(40, user_charge(r, MESSAGES));
	EXPECT_EQ(40, peer_charge(r, SLICES));
	EXPECT_EQ(40, user_charge(r, SLICES));
	EXPECT_EQ(40 * slice_size(1, 0, 0), peer_charge(r, BYTES));
	EXPECT_EQ(40 * slice_size(1, 0, 0), user_charge(r, BYTES));
	EXPECT_EQ(senders0 + 2, user_senders(r));
	/* Senders pay nothing. */
	EXPECT_EQ(0, user_charge(a, MESSAGES));
	EXPECT_EQ(0, user_charge(b, MESSAGES));
	EXPECT_EQ(0, user_charge(a, BYTES));

	/* Received, the messages are given back; released, the slices. */
	n = recv_all(r, 0, NULL, offs, ARRAY_SIZE(offs));
	ASSERT_EQ(40, n);
	EXPECT_EQ(0, peer_charge(r, MESSAGES));
	EXPECT_EQ(0, user_charge(r, MESSAGES));
	EXPECT_EQ(40, peer_charge(r, SLICES));
	EXPECT_EQ(40 * slice_size(1, 0, 0), user_charge(r, BYTES));
	ASSERT_EQ(0, release_all(r, offs, n));
	for (res = 0; res < NR_RES; res++) {
		if (res == HANDLES)
			continue;
		EXPECT_EQ(0, peer_charge(r, res)) TH_LOG("%s", res_name[res]);
		EXPECT_EQ(0, user_charge(r, res)) TH_LOG("%s", res_name[res]);
	}
	EXPECT_EQ(handles0, user_charge(r, HANDLES));
	EXPECT_EQ(senders0, user_senders(r));

	/* All given back, a is alone again. */
	EXPECT_FLOOD(30, a, ha, 1);

	close(a);
	close(b);
	close(r);
}

TEST_F(quota, per_peer_share)
{
	const uid_t ua = UID(4, 0), ub = UID(4, 1), uc = UID(4, 2);
	__u64 n1, n2, h1, h2, hc;
	struct bus1_recv rcv;
	int p1, p2, a, c, i;

	ASSERT_EQ(0, set_limit(MESSAGES, 100, 10));
	p1 = receiver_as(ua, &n1);
	p2 = receiver_as(ua, &n2);
	a = peer_as(ub, 0);
	c = peer_as(uc, 0);
	ASSERT_LE(0, p1);
	ASSERT_LE(0, p2);
	ASSERT_LE(0, a);
	ASSERT_LE(0, c);
	h1 = bus1_transfer_id(p1, n1, a);
	h2 = bus1_transfer_id(p2, n2, a);
	hc = bus1_transfer_id(p1, n1, c);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, h2);
	ASSERT_NE(0, hc);

	/*
	 * The user has room for 50 of a's, but p1 only for half of its
	 * 10: s + 1 <= 10 - s - 1.
	 */
	EXPECT_FLOOD(5, a, h1, 1);
	/* The other peer of the same user is not full. */
	EXPECT_FLOOD(5, a, h2, 1);
	EXPECT_EQ(5, peer_charge(p1, MESSAGES));
	EXPECT_EQ(5, peer_charge(p2, MESSAGES));
	EXPECT_EQ(10, user_charge(p1, MESSAGES));
	EXPECT_EQ(10, user_charge(p2, MESSAGES));
	/* ua charges itself for its nodes' handles, so two users each. */
	EXPECT_EQ(2, fdinfo(p1, "bus1-senders"));
	EXPECT_EQ(2, fdinfo(p2, "bus1-senders"));
	EXPECT_EQ(2, user_senders(p1));

	/* A second user gets t + 1 <= (10 - 5 - t - 1) / 2 of p1: one. */
	EXPECT_FLOOD(1, c, hc, 1);
	EXPECT_EQ(3, fdinfo(p1, "bus1-senders"));
	EXPECT_EQ(2, fdinfo(p2, "bus1-senders"));
	EXPECT_EQ(3, user_senders(p1));
	/* And a is over its share of p1, now shared by two, not of p2. */
	EXPECT_EQ(-1, send1(a, h1, 1));
	EXPECT_EQ(EDQUOT, errno);

	/*
	 * Shared by two, a's share stays smaller even with one of its
	 * messages received: s + 1 <= (10 - 5 - 1) / 2 fails for s = 4.
	 */
	ASSERT_EQ(0, recv1(p1, 0, &rcv));
	EXPECT_EQ(5, peer_charge(p1, MESSAGES));
	EXPECT_EQ(-1, send1(a, h1, 1));
	EXPECT_EQ(EDQUOT, errno);
	/* All received, a is alone again: half of 10. */
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, recv1(p1, 0, &rcv));
	EXPECT_EQ(0, peer_charge(p1, MESSAGES));
	EXPECT_FLOOD(5, a, h1, 1);
	EXPECT_EQ(5, peer_charge(p1, MESSAGES));

	close(c);
	close(a);
	close(p1);
	close(p2);
}

/*
 * A lone sender gets half of a peer's pool bytes, so with the default
 * limits a message of more than half of the pool fails with EDQUOT.
 */
TEST_F_TIMEOUT(quota, lone_sender_half_of_peer, 60)
{
	const uid_t ua = UID(18, 0), ub = UID(18, 1);
	unsigned int peer_bytes;
	size_t half;
	__u64 node, h;
	void *big;
	int r, a;

	ASSERT_EQ(0, limit_get(PEER, BYTES, &peer_bytes));
	half = (peer_bytes / 2) & ~7UL;
	ASSERT_GE(BUS1_MESSAGE_MAX, half + 8);
	r = receiver_as(ua, &node);
	a = peer_as(ub, 0);
	ASSERT_LE(0, r);
	ASSERT_LE(0, a);
	h = bus1_transfer_id(r, node, a);
	ASSERT_NE(0, h);
	big = mmap(NULL, half + 8, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	ASSERT_TRUE(big != MAP_FAILED);

	/* 2 * (s + c) <= L: c = half fits an empty peer, 8 more do not. */
	EXPECT_EQ(-1, send_full(a, &h, 1, big, half + 8, NULL, 0, NULL, 0,
				NULL));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(0, peer_charge(r, BYTES));
	EXPECT_EQ(0, send_full(a, &h, 1, big, half, NULL, 0, NULL, 0, NULL));
	EXPECT_EQ(half, peer_charge(r, BYTES));
	EXPECT_EQ(-1, send1(a, h, 1));
	EXPECT_EQ(EDQUOT, errno);

	munmap(big, half + 8);
	close(a);
	close(r);
}

TEST_F(quota, multicast_edquot)
{
	const uid_t ua1 = UID(5, 0), ua2 = UID(5, 1), ub = UID(5, 2);
	__u64 n1, n2, dst[2], swapped[2];
	struct bus1_recv rcv;
	__s32 errors[2];
	int r1, r2, a;

	ASSERT_EQ(0, set_limit(MESSAGES, 100, 5));
	r1 = receiver_as(ua1, &n1);
	r2 = receiver_as(ua2, &n2);
	a = peer_as(ub, 0);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_LE(0, a);
	dst[0] = bus1_transfer_id(r1, n1, a);
	dst[1] = bus1_transfer_id(r2, n2, a);
	ASSERT_NE(0, dst[0]);
	ASSERT_NE(0, dst[1]);
	swapped[0] = dst[1];
	swapped[1] = dst[0];

	/* r1 is full, for a: s + 1 <= 5 - s - 1 holds for s = 0 and 1. */
	EXPECT_FLOOD(2, a, dst[0], 1);

	/* With BUS1_SEND_CONTINUE, r1 is left out and r2 gets it. */
	errors[0] = -1;
	errors[1] = -1;
	ASSERT_EQ(0, send_full(a, dst, 2, NULL, 1, NULL, 0, NULL, 0, errors));
	EXPECT_EQ(EDQUOT, errors[0]);
	EXPECT_EQ(0, errors[1]);
	EXPECT_EQ(2, fdinfo(r1, "bus1-queued"));
	EXPECT_EQ(2, peer_charge(r1, MESSAGES));
	EXPECT_EQ(1, fdinfo(r2, "bus1-queued"));
	EXPECT_EQ(1, peer_charge(r2, MESSAGES));

	/* Without it, nobody gets it, whichever destination comes first. */
	EXPECT_EQ(-1, send_full(a, dst, 2, NULL, 1, NULL, 0, NULL, 0, NULL));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(-1, send_full(a, swapped, 2, NULL, 1, NULL, 0, NULL, 0,
				NULL));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(2, fdinfo(r1, "bus1-queued"));
	EXPECT_EQ(2, peer_charge(r1, MESSAGES));
	EXPECT_EQ(2, fdinfo(r1, "bus1-pool-slices"));
	EXPECT_EQ(1, fdinfo(r2, "bus1-queued"));
	EXPECT_EQ(1, peer_charge(r2, MESSAGES));
	EXPECT_EQ(1, user_charge(r2, MESSAGES));
	EXPECT_EQ(1, peer_charge(r2, SLICES));
	EXPECT_EQ(slice_size(1, 0, 0), user_charge(r2, BYTES));
	EXPECT_EQ(1, fdinfo(r2, "bus1-pool-slices"));

	ASSERT_EQ(0, recv1(r2, 0, &rcv));
	EXPECT_EQ(BUS1_MSG_DATA, rcv.type);
	EXPECT_EQ(n2, rcv.destination);
	EXPECT_EQ(-1, recv1(r2, 0, &rcv));
	EXPECT_EQ(EAGAIN, errno);

	close(a);
	close(r1);
	close(r2);
}

TEST_F(quota, bytes_flood)
{
	const uid_t ua = UID(6, 0), ub = UID(6, 1), uc = UID(6, 2);
	__u64 node, h, hb, offs[16];
	int r, a, b, n;

	ASSERT_EQ(0, set_limit(BYTES, 65536, 65536));
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	a = sender_as(ub, r, node, &h);
	b = sender_as(uc, r, node, &hb);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);

	/* Alone: s + 4096 <= 65536 - s - 4096 holds up to s = 7 * 4096. */
	EXPECT_FLOOD(8, a, h, 4096);
	EXPECT_EQ(32768, peer_charge(r, BYTES));
	EXPECT_EQ(32768, user_charge(r, BYTES));
	EXPECT_EQ(32768, fdinfo(r, "bus1-pool-allocated"));
	EXPECT_EQ(8, peer_charge(r, SLICES));
	EXPECT_EQ(8, peer_charge(r, MESSAGES));

	/*
	 * A second user counts in the share from its first charge on:
	 * c <= (65536 - 32768 - c) / 2 holds for 8192 bytes, not for 12288.
	 */
	EXPECT_EQ(-1, send1(b, hb, 12288));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(0, send1(b, hb, 8192));
	EXPECT_EQ(40960, peer_charge(r, BYTES));
	EXPECT_EQ(40960, fdinfo(r, "bus1-pool-allocated"));
	EXPECT_EQ(9, peer_charge(r, SLICES));

	/* Received, the bytes stay charged until the slices are released. */
	n = recv_all(r, 0, NULL, offs, ARRAY_SIZE(offs));
	ASSERT_EQ(9, n);
	EXPECT_EQ(0, peer_charge(r, MESSAGES));
	EXPECT_EQ(40960, peer_charge(r, BYTES));
	EXPECT_EQ(9, peer_charge(r, SLICES));
	EXPECT_EQ(-1, send1(a, h, 4096));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, release_all(r, offs, n));
	EXPECT_EQ(0, peer_charge(r, BYTES));
	EXPECT_EQ(0, peer_charge(r, SLICES));
	EXPECT_EQ(0, user_charge(r, BYTES));
	EXPECT_FLOOD(8, a, h, 4096);

	close(a);
	close(b);
	close(r);
}

TEST_F(quota, slices_flood)
{
	const uid_t ua = UID(7, 0), ub = UID(7, 1);
	__u64 node, h, offs[16];
	int r, a, n;

	ASSERT_EQ(0, set_limit(SLICES, 20, 20));
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	a = sender_as(ub, r, node, &h);
	ASSERT_LE(0, a);

	/* Alone: s + 1 <= 20 - s - 1. */
	EXPECT_FLOOD(10, a, h, 1);
	EXPECT_EQ(10, peer_charge(r, SLICES));

	/* Received but not released, the slices still count. */
	n = recv_all(r, 0, NULL, offs, ARRAY_SIZE(offs));
	ASSERT_EQ(10, n);
	EXPECT_EQ(0, peer_charge(r, MESSAGES));
	EXPECT_EQ(10, peer_charge(r, SLICES));
	EXPECT_EQ(-1, send1(a, h, 1));
	EXPECT_EQ(EDQUOT, errno);

	/* One released: s = 9, and 10 <= 20 - 9 - 1. */
	ASSERT_EQ(0, release_all(r, offs, 1));
	EXPECT_EQ(9, peer_charge(r, SLICES));
	EXPECT_FLOOD(1, a, h, 1);
	EXPECT_EQ(10, user_charge(r, SLICES));

	close(a);
	close(r);
}

TEST_F(quota, fd_flood)
{
	const uid_t ua = UID(8, 0), ub = UID(8, 1);
	const unsigned long long size = slice_size(1, 0, 10);
	const unsigned char *map;
	__u64 node, h, offs[5];
	struct bus1_recv rcv;
	int r, a, i, j, pfd[2];
	__s32 fds[10], got[10];

	ASSERT_EQ(0, set_limit(FDS, 100, 100));
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	a = sender_as(ub, r, node, &h);
	ASSERT_LE(0, a);
	map = map_pool(r);
	ASSERT_TRUE(!!map);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	for (i = 0; i < 10; i++) {
		fds[i] = fcntl(pfd[0], F_DUPFD_CLOEXEC, 0);
		ASSERT_LE(0, fds[i]);
	}

	/* Alone: s + 10 <= 100 - s - 10 holds up to s = 40. */
	EXPECT_FLOOD_MSG(5, a, h, 1, NULL, 0, fds, 10);
	EXPECT_EQ(50, peer_charge(r, FDS));
	EXPECT_EQ(50, user_charge(r, FDS));
	EXPECT_EQ(5, peer_charge(r, MESSAGES));
	EXPECT_EQ(5 * size, peer_charge(r, BYTES));

	/*
	 * Received, with the fds installed or not, a message gives back its
	 * fds and itself at once; its slice stays charged.
	 */
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, recv1(r, i < 2 ? BUS1_RECV_FDS : 0, &rcv));
		ASSERT_EQ(10, rcv.n_fds);
		memcpy(got, map + rcv.offset + ALIGN8(rcv.size), sizeof(got));
		for (j = 0; j < 10; j++) {
			if (i < 2) {
				EXPECT_LE(0, got[j]);
				if (got[j] >= 0)
					close(got[j]);
			} else {
				EXPECT_EQ(-1, got[j]);
			}
		}
		offs[i] = rcv.offset;
		EXPECT_EQ(40 - 10 * i, peer_charge(r, FDS));
		EXPECT_EQ(4 - i, peer_charge(r, MESSAGES));
	}
	EXPECT_EQ(0, user_charge(r, FDS));
	EXPECT_EQ(5 * size, peer_charge(r, BYTES));
	EXPECT_EQ(5, peer_charge(r, SLICES));

	ASSERT_EQ(0, release_all(r, offs, 5));
	EXPECT_EQ(0, peer_charge(r, BYTES));
	EXPECT_EQ(0, peer_charge(r, SLICES));
	EXPECT_FLOOD_MSG(5, a, h, 1, NULL, 0, fds, 10);

	for (i = 0; i < 10; i++)
		close(fds[i]);
	close(pfd[0]);
	close(pfd[1]);
	munmap((void *)map, BUS1_POOL_SIZE);
	close(a);
	close(r);
}

TEST_F(quota, handle_flood)
{
	const uid_t ua = UID(9, 0), ub = UID(9, 1);
	__u64 n1, n2, h1, h2, gone, nodes[10], ids[2][10];
	const unsigned char *map;
	struct bus1_recv rcv;
	int r1, r2, a, i;

	ASSERT_EQ(0, set_limit(HANDLES, 400, 90));
	r1 = receiver_as(ua, &n1);
	r2 = receiver_as(ua, &n2);
	a = peer_as(ub, 0);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_LE(0, a);
	h1 = bus1_transfer_id(r1, n1, a);
	h2 = bus1_transfer_id(r2, n2, a);
	ASSERT_NE(0, h1);
	ASSERT_NE(0, h2);
	ASSERT_EQ(10, make_nodes(a, nodes, 10));
	map = map_pool(r2);
	ASSERT_TRUE(!!map);

	/* Each receiver's own node is charged to it, by its own user. */
	EXPECT_EQ(1, peer_charge(r1, HANDLES));
	EXPECT_EQ(2, user_charge(r1, HANDLES));
	EXPECT_EQ(1, fdinfo(r1, "bus1-senders"));
	/* a's nodes and the handles it got are a's user's, not ua's. */
	EXPECT_EQ(12, peer_charge(a, HANDLES));

	/*
	 * 10 handles a message. r1's own handle makes its handles shared by
	 * two users, ua and ub, so with used = 1 + s, ub gets
	 * s + 10 <= (90 - used - 10) / 2 of the peer: s = 0 and s = 10 hold,
	 * s = 20 does not. Of the user, with used = 2 + s, it would get more:
	 * s + 10 <= (400 - used - 10) / 2 holds up to s = 120.
	 */
	EXPECT_FLOOD_MSG(2, a, h1, 1, nodes, 10, NULL, 0);
	EXPECT_EQ(21, peer_charge(r1, HANDLES));
	EXPECT_EQ(2, fdinfo(r1, "bus1-senders"));

	/*
	 * r2, the other peer of the same user, is a peer of its own: two
	 * more. Of the user, ub now has s = 20 + 20.
	 */
	EXPECT_FLOOD_MSG(2, a, h2, 1, nodes, 10, NULL, 0);
	EXPECT_EQ(21, peer_charge(r2, HANDLES));
	EXPECT_EQ(42, user_charge(r2, HANDLES));
	/* Passing handles charges the sender nothing. */
	EXPECT_EQ(12, peer_charge(a, HANDLES));
	EXPECT_EQ(12, user_charge(a, HANDLES));

	/*
	 * r2 receives both: the first message makes 10 new handles, which
	 * stay charged; the second merges into them, and gives its 10 back.
	 */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, recv1(r2, 0, &rcv));
		ASSERT_EQ(10, rcv.n_handles);
		memcpy(ids[i], map + rcv.offset + ALIGN8(rcv.size),
		       sizeof(ids[i]));
		ASSERT_EQ(0, bus1_slice_release(r2, &rcv.offset, 1, 0));
		EXPECT_EQ(i ? 11 : 21, peer_charge(r2, HANDLES));
	}
	EXPECT_EQ(0, memcmp(ids[0], ids[1], sizeof(ids[0])));
	EXPECT_EQ(32, user_charge(r2, HANDLES));

	/* A handle stays charged until its last reference goes. */
	ASSERT_EQ(0, bus1_handle_release(r2, ids[0], 10, 0));
	EXPECT_EQ(11, peer_charge(r2, HANDLES));
	ASSERT_EQ(0, bus1_handle_release(r2, ids[0], 10, 0));
	EXPECT_EQ(1, peer_charge(r2, HANDLES));
	EXPECT_EQ(22, user_charge(r2, HANDLES));
	EXPECT_EQ(1, fdinfo(r2, "bus1-senders"));

	/* A handle that arrives invalid is given back when received. */
	ASSERT_EQ(0, bus1_node_create(a, &gone, 0));
	ASSERT_EQ(0, bus1_nodes_destroy(a, &gone, 1, 0));
	ASSERT_EQ(0, send_msg(a, h2, 1, &gone, 1, NULL, 0));
	EXPECT_EQ(2, peer_charge(r2, HANDLES));
	ASSERT_EQ(0, recv1(r2, 0, &rcv));
	ASSERT_EQ(1, rcv.n_handles);
	memcpy(ids[0], map + rcv.offset + ALIGN8(rcv.size), 8);
	EXPECT_EQ(BUS1_HANDLE_INVALID, ids[0][0]);
	EXPECT_EQ(1, peer_charge(r2, HANDLES));
	ASSERT_EQ(0, bus1_slice_release(r2, &rcv.offset, 1, 0));

	/* Back where it was, r2 takes two again. */
	EXPECT_FLOOD_MSG(2, a, h2, 1, nodes, 10, NULL, 0);

	munmap((void *)map, BUS1_POOL_SIZE);
	close(a);
	close(r1);
	close(r2);
}

TEST_F(quota, node_flood)
{
	const uid_t uq = UID(10, 0);
	__u64 ids[256], id;
	unsigned int n;
	int q, q2, err = 0;

	ASSERT_EQ(0, set_limit(HANDLES, 400, 400));
	q = peer_as(uq, 0);
	q2 = peer_as(uq, 0);
	ASSERT_LE(0, q);
	ASSERT_LE(0, q2);

	/* A lone user charging itself: s + 1 <= 400 - s - 1. */
	for (n = 0; n < ARRAY_SIZE(ids); n++) {
		if (bus1_node_create(q, &ids[n], 0)) {
			err = errno;
			break;
		}
	}
	EXPECT_EQ(200, n);
	EXPECT_EQ(EDQUOT, err);
	EXPECT_EQ(200, fdinfo(q, "bus1-nodes"));
	EXPECT_EQ(200, peer_charge(q, HANDLES));
	EXPECT_EQ(200, user_charge(q, HANDLES));
	EXPECT_EQ(1, user_senders(q));

	/* The share is the user's: its other peer gets no node either. */
	EXPECT_EQ(-1, bus1_node_create(q2, &id, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(0, peer_charge(q2, HANDLES));
	EXPECT_EQ(0, fdinfo(q2, "bus1-nodes"));

	/* A destroyed node's handle counts until it is released. */
	ASSERT_EQ(0, bus1_nodes_destroy(q, &ids[0], 1, 0));
	EXPECT_EQ(200, user_charge(q, HANDLES));
	EXPECT_EQ(-1, bus1_node_create(q2, &id, 0));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, bus1_handle_release(q, &ids[0], 1, 0));
	EXPECT_EQ(199, user_charge(q, HANDLES));
	EXPECT_EQ(0, bus1_node_create(q2, &id, 0));
	EXPECT_EQ(-1, bus1_node_create(q, &id, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(200, user_charge(q, HANDLES));

	close(q);
	close(q2);
}

TEST_F(quota, transfer_flood)
{
	const uid_t ut = UID(11, 0), uc = UID(11, 1), ud = UID(11, 2);
	__u64 cn[10], dn[131], tid[131], id;
	unsigned int i, n;
	int t, c, d, err;

	ASSERT_EQ(0, set_limit(HANDLES, 400, 400));
	t = peer_as(ut, BUS1_PEER_NONBLOCK);
	c = peer_as(uc, 0);
	d = peer_as(ud, 0);
	ASSERT_LE(0, t);
	ASSERT_LE(0, c);
	ASSERT_LE(0, d);

	/* c gives t ten handles: used = 10, by one user. */
	for (i = 0; i < ARRAY_SIZE(cn); i++) {
		ASSERT_EQ(0, bus1_node_create(c, &cn[i], 0));
		ASSERT_NE(0, bus1_transfer_id(c, cn[i], t));
	}
	ASSERT_EQ(ARRAY_SIZE(dn), make_nodes(d, dn, ARRAY_SIZE(dn)));

	/*
	 * d is the second user: s + 1 <= (400 - 10 - s - 1) / 2, that is
	 * 3 * s <= 387, so 130 transfers of distinct nodes fit.
	 */
	err = 0;
	for (n = 0; n < ARRAY_SIZE(dn); n++) {
		tid[n] = bus1_transfer_id(d, dn[n], t);
		if (!tid[n]) {
			err = errno;
			break;
		}
	}
	EXPECT_EQ(130, n);
	EXPECT_EQ(EDQUOT, err);
	EXPECT_EQ(140, peer_charge(t, HANDLES));
	EXPECT_EQ(140, user_charge(t, HANDLES));
	EXPECT_EQ(2, user_senders(t));
	/* The handles are d's user's; charging t took nothing from d. */
	EXPECT_EQ(131, user_charge(d, HANDLES));
	ASSERT_EQ(130, n);

	/* A merge charges nothing, so it works over the share too. */
	EXPECT_EQ(tid[0], bus1_transfer_id(d, dn[0], t));
	EXPECT_EQ(140, peer_charge(t, HANDLES));

	/* One released, one more fits, and then none. */
	ASSERT_EQ(0, bus1_handle_release(t, &tid[1], 1, 0));
	EXPECT_EQ(139, peer_charge(t, HANDLES));
	id = bus1_transfer_id(d, dn[130], t);
	EXPECT_NE(0, id);
	EXPECT_EQ(0, bus1_transfer_id(d, dn[1], t));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(140, user_charge(t, HANDLES));

	close(c);
	close(d);
	close(t);
}

#define FLOORS_N	6
#define FLOORS_L	600U

/*
 * A hostile user in a child: drops root for good, makes its own peer,
 * takes a handle to the receiver's node from the broker peer it inherited,
 * says it is ready on @ready and waits for @go to close. Then it sends
 * until three sends in a row fail with EDQUOT, and stores how many went
 * through to *@sent. The exit code says what failed.
 */
static void flooder(uid_t uid, pid_t parent, int broker, __u64 hbroker,
		    int ready, int go, unsigned int *sent)
{
	unsigned int n = 0, fails = 0, i;
	__u64 h;
	char c;
	int fd;

	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		_exit(10);
	/* Changing credentials reset these. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent ||
	    prctl(PR_SET_DUMPABLE, 1))
		_exit(11);
	if (getuid() != uid || geteuid() != uid || !setresuid(0, -1, -1))
		_exit(12);
	fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	if (fd < 0 || fdinfo(fd, "bus1-uid") != uid)
		_exit(13);
	h = bus1_transfer_id(broker, hbroker, fd);
	if (!h)
		_exit(14);
	if (write(ready, "r", 1) != 1)
		_exit(15);
	close(ready);
	if (read(go, &c, 1) != 0)
		_exit(16);

	for (i = 0; fails < 3 && i < 10 * FLOORS_L; i++) {
		if (!send1(fd, h, 1)) {
			n++;
			fails = 0;
			continue;
		}
		if (errno != EDQUOT)
			_exit(17);
		fails++;
		usleep(1000);
	}
	*sent = n;
	_exit(fails == 3 ? 0 : 18);
}

/*
 * @n_users hostile users flood the service peer of user UID(@group, 0) at
 * once, through a handle from a broker peer; then a further user floods
 * it. The messages limits are @user_max and @peer_max, one of them @l: at
 * the level it limits, the flooders leave at least L / (n + 1) free, and
 * the further user gets its share of what they left, at least
 * L / ((n + 1) * (n + 2)).
 */
static void floor_run(struct __test_metadata *_metadata, pid_t *kids,
		      unsigned int group, unsigned int n_users,
		      unsigned int user_max, unsigned int peer_max)
{
	const uid_t ur = UID(group, 0), ubroker = UID(group, 9);
	const uid_t ufresh = UID(group, 8);
	const unsigned int l = user_max < peer_max ? user_max : peer_max;
	unsigned long long senders0, used, total = 0;
	int r, broker, fresh, ready[2], go[2], status, err;
	unsigned int *sent, n, free_, i;
	__u64 node, hbroker, hfresh;
	pid_t pid;
	char c;

	ASSERT_GE(MAX_KIDS, n_users);
	ASSERT_EQ(0, set_limit(MESSAGES, user_max, peer_max));
	r = receiver_as(ur, &node);
	broker = peer_as(ubroker, 0);
	ASSERT_LE(0, r);
	ASSERT_LE(0, broker);
	hbroker = bus1_transfer_id(r, node, broker);
	ASSERT_NE(0, hbroker);
	senders0 = user_senders(r);
	sent = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sent != MAP_FAILED);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));

	fflush(NULL);
	for (i = 0; i < n_users; i++) {
		pid = fork();
		ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			flooder(UID(group, 1 + i), getppid(), broker, hbroker,
				ready[1], go[0], &sent[i]);
		}
		kids[i] = pid;
	}
	close(ready[1]);
	close(go[0]);
	/* All set up before any starts, so that they flood together. */
	for (i = 0; i < n_users && read(ready[0], &c, 1) == 1; i++)
		;
	ASSERT_EQ(n_users, i) TH_LOG("a flooder failed to start");
	close(ready[0]);
	close(go[1]);
	for (i = 0; i < n_users; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		kids[i] = 0;
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("flooder %u: status %#x", i, status);
		EXPECT_LE(1, sent[i]) TH_LOG("flooder %u", i);
		total += sent[i];
	}

	/*
	 * The flooders are gone, their messages stay queued and charged.
	 * Together they left at least L / (n + 1) free.
	 */
	used = peer_charge(r, MESSAGES);
	EXPECT_EQ(total, used);
	EXPECT_EQ(total, user_charge(r, MESSAGES));
	EXPECT_EQ(total, fdinfo(r, "bus1-queued"));
	/* The flooders, and the receiver's user for its node's handle. */
	EXPECT_EQ(n_users + 1, fdinfo(r, "bus1-senders"));
	EXPECT_EQ(senders0 + n_users, user_senders(r));
	ASSERT_GE(l - l / (n_users + 1), used)
		TH_LOG("%llu of %u used by %u users", used, l, n_users);

	/*
	 * A new user, the (n + 1)th: t + 1 <= (free - t - 1) / (n + 1), that
	 * is (t + 1) * (n + 2) <= free, so it sends free / (n + 2), which is
	 * at least L / ((n + 1) * (n + 2)).
	 */
	free_ = l - used;
	fresh = peer_as(ufresh, 0);
	ASSERT_LE(0, fresh);
	hfresh = bus1_transfer_id(r, node, fresh);
	ASSERT_NE(0, hfresh);
	n = flood(fresh, hfresh, 1, l, &err);
	EXPECT_EQ(free_ / (n_users + 2), n);
	EXPECT_LE(l / ((n_users + 1) * (n_users + 2)), n);
	EXPECT_EQ(EDQUOT, err);
	EXPECT_EQ(n_users + 2, fdinfo(r, "bus1-senders"));
	EXPECT_EQ(senders0 + n_users + 1, user_senders(r));
	TH_LOG("%u flooders sent %llu of %u, a new user %u", n_users, used,
	       l, n);

	munmap(sent, PAGE);
	close(fresh);
	close(broker);
	close(r);
}

/* The per-user limit binds: L = FLOORS_L for the user and the peer. */
TEST_F_TIMEOUT(quota, many_users_floor, 120)
{
	floor_run(_metadata, self->kids, 12, FLOORS_N, FLOORS_L, FLOORS_L);
}

/*
 * The per-peer limit binds: one hostile user, then five, flood a service
 * peer whose user has room for far more.
 */
TEST_F_TIMEOUT(quota, service_peer_floor_1, 120)
{
	floor_run(_metadata, self->kids, 16, 1, 100 * FLOORS_L, FLOORS_L);
}

TEST_F_TIMEOUT(quota, service_peer_floor_5, 120)
{
	floor_run(_metadata, self->kids, 17, 5, 100 * FLOORS_L, FLOORS_L);
}

/* Wait up to two seconds for the user of @fd to have no charges left. */
static bool wait_user_idle(int fd)
{
	int i;

	for (i = 0; i < 200 && !user_idle(fd); i++)
		usleep(10000);
	return user_idle(fd);
}

TEST_F_TIMEOUT(quota, counters_zero_after_close, 60)
{
	const uid_t uids[3] = { UID(13, 1), UID(13, 2), UID(13, 3) };
	__u64 n1, n1b, n2, n3, x[3], y, h21, h31, h31b, h32, h13, dst[3];
	__u64 ids[3], at;
	const unsigned char *map1;
	int p1, p1b, p2, p3, q, pfd[2], i, res;
	struct bus1_recv rcv;
	__s32 fds[2], f;

	p1 = receiver_as(uids[0], &n1);
	p1b = receiver_as(uids[0], &n1b);
	p2 = receiver_as(uids[1], &n2);
	p3 = receiver_as(uids[2], &n3);
	ASSERT_LE(0, p1);
	ASSERT_LE(0, p1b);
	ASSERT_LE(0, p2);
	ASSERT_LE(0, p3);
	ASSERT_EQ(3, make_nodes(p2, x, 3));
	h21 = bus1_transfer_id(p1, n1, p2);
	h31 = bus1_transfer_id(p1, n1, p3);
	h31b = bus1_transfer_id(p1b, n1b, p3);
	h32 = bus1_transfer_id(p2, n2, p3);
	h13 = bus1_transfer_id(p3, n3, p1);
	ASSERT_TRUE(h21 && h31 && h31b && h32 && h13);
	map1 = map_pool(p1);
	ASSERT_TRUE(!!map1);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	fds[0] = pfd[0];
	fds[1] = pfd[1];

	/* Three messages of u2 to p1, with handles and fds. */
	for (i = 0; i < 3 && !send_msg(p2, h21, 16, x, 3, fds, 2); i++)
		;
	ASSERT_EQ(3, i);
	/* A multicast of u3 to both peers of u1 and to p2, its node back. */
	dst[0] = h31;
	dst[1] = h31b;
	dst[2] = h32;
	ASSERT_EQ(0, send_full(p3, dst, 3, NULL, 8, &h32, 1, fds, 1, NULL));

	/* p1 takes two, keeps their slices and the handles they bring. */
	ASSERT_EQ(0, recv1(p1, BUS1_RECV_FDS, &rcv));
	ASSERT_EQ(3, rcv.n_handles);
	ASSERT_EQ(2, rcv.n_fds);
	at = rcv.offset + ALIGN8(rcv.size);
	memcpy(ids, map1 + at, sizeof(ids));
	for (i = 0; i < 2; i++) {
		memcpy(&f, map1 + at + sizeof(ids) + 4 * i, sizeof(f));
		EXPECT_LE(0, f);
		if (f >= 0)
			close(f);
	}
	ASSERT_EQ(0, recv1(p1, 0, &rcv));
	/* ... and passes one on to p3, twice: a new handle, then a merge. */
	ASSERT_NE(0, bus1_transfer_id(p1, ids[0], p3));
	ASSERT_NE(0, bus1_transfer_id(p1, ids[0], p3));

	/* A node destroyed before it is sent arrives invalid: still queued. */
	ASSERT_EQ(0, bus1_nodes_destroy(p2, &x[2], 1, 0));
	ASSERT_EQ(0, send_msg(p2, h21, 8, &x[2], 1, NULL, 0));
	/* p1b takes the multicast and keeps it. */
	ASSERT_EQ(0, recv1(p1b, 0, &rcv));
	ASSERT_EQ(BUS1_MSG_DATA, rcv.type);
	/* p2 has fds of u3 queued, and p2's new node goes to p3 and p1. */
	ASSERT_EQ(0, send_msg(p3, h32, 100, NULL, 0, fds, 2));
	ASSERT_EQ(0, bus1_node_create(p2, &y, 0));
	ASSERT_NE(0, bus1_transfer_id(p2, y, p3));
	ASSERT_NE(0, bus1_transfer_id(p2, y, p1));
	ASSERT_NE(0, bus1_transfer_id(p2, y, p1));

	/* Something of every kind is charged to u1 and u2. */
	for (res = 0; res < NR_RES; res++) {
		EXPECT_LT(0, user_charge(p1, res)) TH_LOG("%s", res_name[res]);
		EXPECT_LT(0, user_charge(p2, res)) TH_LOG("%s", res_name[res]);
	}
	EXPECT_LE(2, user_senders(p1));
	EXPECT_LE(2, user_senders(p2));
	EXPECT_LE(1, user_charge(p3, HANDLES));

	/* Senders go first, the receivers with everything still in them. */
	munmap((void *)map1, BUS1_POOL_SIZE);
	close(p2);
	close(p3);
	close(p1b);
	close(p1);
	close(pfd[0]);
	close(pfd[1]);

	/* A new peer of each user finds nothing charged to it. */
	for (i = 0; i < 3; i++) {
		q = peer_as(uids[i], 0);
		ASSERT_LE(0, q);
		EXPECT_TRUE(wait_user_idle(q)) TH_LOG("uid %u", uids[i]);
		for (res = 0; res < NR_RES; res++) {
			EXPECT_EQ(0, user_charge(q, res))
				TH_LOG("uid %u: %s", uids[i], res_name[res]);
			EXPECT_EQ(0, peer_charge(q, res))
				TH_LOG("uid %u: %s", uids[i], res_name[res]);
		}
		EXPECT_EQ(0, user_senders(q)) TH_LOG("uid %u", uids[i]);
		close(q);
	}
}

static void on_alarm(int sig)
{
}

/*
 * Send from @fd to @dst until a send fails, at most @max, each send under
 * an alarm of ten seconds: one that would wait fails with EINTR instead.
 * Returns how many were sent; the errno of the failure goes to *@err.
 */
static unsigned int flood_timed(int fd, __u64 dst, const void *buf,
				size_t len, unsigned int max, int *err)
{
	unsigned int n;
	int ret;

	*err = 0;
	for (n = 0; n < max; n++) {
		alarm(10);
		ret = send_full(fd, &dst, 1, buf, len, NULL, 0, NULL, 0, NULL);
		*err = ret ? errno : 0;
		alarm(0);
		if (ret)
			break;
	}
	return n;
}

TEST_F_TIMEOUT(quota, never_reads_no_block, 180)
{
	const uid_t ua = UID(14, 0), ua2 = UID(14, 1), ub = UID(14, 2);
	struct sigaction sa = { .sa_handler = on_alarm };
	const unsigned int pool_n = BUS1_POOL_SIZE / MIB;
	unsigned int peer_bytes, user_bytes, q, n, i;
	__u64 node, node2, h, h2;
	int r, r2, s, err;
	void *big;

	ASSERT_EQ(0, set_limit(MESSAGES, 2000, 1000));
	r = receiver_as(ua, &node);
	r2 = receiver_as(ua2, &node2);
	s = peer_as(ub, 0);
	ASSERT_LE(0, r);
	ASSERT_LE(0, r2);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, fcntl(s, F_GETFL) & O_NONBLOCK);
	h = bus1_transfer_id(r, node, s);
	h2 = bus1_transfer_id(r2, node2, s);
	ASSERT_NE(0, h);
	ASSERT_NE(0, h2);
	/* No SA_RESTART: a send that waits ends with EINTR. */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));

	/*
	 * A blocking sender and a receiver that never reads: the sender
	 * gets its share of the peer's 1000, half.
	 */
	n = flood_timed(s, h, payload, 1, 2000, &err);
	EXPECT_EQ(500, n);
	EXPECT_EQ(EDQUOT, err) TH_LOG("send: %s", strerror(err));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, flood_timed(s, h, payload, 1, 1, &err));
		EXPECT_EQ(EDQUOT, err) TH_LOG("send: %s", strerror(err));
	}

	/*
	 * Megabyte messages until the bytes quota or the pool is full,
	 * whichever comes first; neither waits either.
	 */
	ASSERT_EQ(0, limit_get(PEER, BYTES, &peer_bytes));
	ASSERT_EQ(0, limit_get(USER, BYTES, &user_bytes));
	/* A lone sender's share of either: half. */
	q = peer_bytes / (2 * MIB);
	if (q > user_bytes / (2 * MIB))
		q = user_bytes / (2 * MIB);
	big = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(big != MAP_FAILED);
	memset(big, 0x5a, MIB);
	n = flood_timed(s, h2, big, MIB, pool_n + 1, &err);
	EXPECT_EQ(q < pool_n ? q : pool_n, n);
	/* The one that binds first decides, either one on a tie. */
	if (q < pool_n) {
		EXPECT_EQ(EDQUOT, err) TH_LOG("send: %s", strerror(err));
	} else if (q > pool_n) {
		EXPECT_EQ(ENOSPC, err) TH_LOG("send: %s", strerror(err));
	} else {
		EXPECT_TRUE(err == EDQUOT || err == ENOSPC)
			TH_LOG("send: %s", strerror(err));
	}
	EXPECT_EQ(0, flood_timed(s, h2, big, MIB, 1, &err));
	EXPECT_TRUE(err == EDQUOT || err == ENOSPC)
		TH_LOG("send: %s", strerror(err));

	munmap(big, MIB);
	close(s);
	close(r);
	close(r2);
}

/* Move this process into the cgroup directory @dir. */
static int cg_enter(const char *dir)
{
	char path[160], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return file_put(path, pid);
}

/* The memory.current of the cgroup directory @dir, or -1. */
static long long cg_current(const char *dir)
{
	char path[160], buf[32];

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	if (file_get(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

TEST_F_TIMEOUT(quota, memcg_pool_pages, 120)
{
	const uid_t ua = UID(15, 0), ub = UID(15, 1);
	const size_t len = 8 * MIB;
	/* Charges are cached per CPU, up to 64 pages ahead of use. */
	const long long slack = 64LL * PAGE * sysconf(_SC_NPROCESSORS_ONLN);
	char home[128], buf[256], *p;
	long long r0, r1, r2 = -1, s0, s1;
	struct bus1_recv rv = {};
	const char *rcv, *snd;
	__u64 node, h;
	struct statfs sfs;
	int r, s, i;
	void *src;

	/* Where this process is, to go back there: the root if unknown. */
	snprintf(home, sizeof(home), CG);
	if (!file_get("/proc/self/cgroup", buf, sizeof(buf))) {
		p = strstr(buf, "0::/");
		if (p) {
			p[strcspn(p, "\n")] = 0;
			snprintf(home, sizeof(home), CG "%s", p + 3);
		}
	}

	ASSERT_EQ(0, statfs(CG, &sfs)) TH_LOG(CG ": %s", strerror(errno));
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		ASSERT_EQ(0, mount("none", CG, "cgroup2", 0, NULL))
			TH_LOG("mounting cgroup2: %s", strerror(errno));
		self->cgroup_mounted = true;
		ASSERT_EQ(0, statfs(CG, &sfs));
		ASSERT_EQ(CGROUP2_SUPER_MAGIC, sfs.f_type);
	}
	ASSERT_EQ(0, file_get(CG "/cgroup.controllers", buf, sizeof(buf)));
	ASSERT_TRUE(!!strstr(buf, "memory")) TH_LOG("controllers: %s", buf);
	ASSERT_EQ(0, file_put(CG "/cgroup.subtree_control", "+memory"));

	for (i = 0; i < 2; i++) {
		snprintf(self->cgroup[i], sizeof(self->cgroup[i]),
			 CG "/bus1-quota-%s.%d", i ? "snd" : "rcv",
			 (int)getpid());
		ASSERT_EQ(0, mkdir(self->cgroup[i], 0755))
			TH_LOG("%s: %s", self->cgroup[i], strerror(errno));
	}
	rcv = self->cgroup[0];
	snd = self->cgroup[1];

	/* The receiver is made in one cgroup, the sender in the other. */
	ASSERT_EQ(0, cg_enter(rcv));
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, cg_enter(snd));
	s = sender_as(ub, r, node, &h);
	ASSERT_LE(0, s);
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(src != MAP_FAILED);
	memset(src, 0x5a, len);

	/* The sender copies into the pool, which charges the receiver's. */
	r0 = cg_current(rcv);
	s0 = cg_current(snd);
	ASSERT_EQ(0, send_full(s, &h, 1, src, len, NULL, 0, NULL, 0, NULL))
		TH_LOG("send: %s", strerror(errno));
	r1 = cg_current(rcv);
	s1 = cg_current(snd);
	ASSERT_EQ(0, cg_enter(home));
	ASSERT_LE(0, r0);
	ASSERT_LE(0, s0);
	TH_LOG("receiver's cgroup %+lld bytes, sender's %+lld", r1 - r0,
	       s1 - s0);
	EXPECT_LE((long long)len - slack, r1 - r0);
	EXPECT_GT((long long)len / 4, s1 - s0);
	EXPECT_LE(len, fdinfo(r, "bus1-pool-resident"));

	/*
	 * Received and released, the slice gives its pages back, and their
	 * charge: the pool's memory follows what the peer holds, not its
	 * peak, to within the 2 MiB a pool keeps for the next messages and
	 * the pages at the slice's edges.
	 */
	ASSERT_EQ(0, bus1_recv(r, &rv, sizeof(rv)));
	ASSERT_EQ(len, rv.size);
	ASSERT_EQ(0, bus1_slice_release(r, &rv.offset, 1, 0));
	EXPECT_GE(POOL_KEEP + 2 * PAGE, fdinfo(r, "bus1-pool-resident"));
	EXPECT_LE(POOL_KEEP - PAGE, fdinfo(r, "bus1-pool-resident"));
	r2 = cg_current(rcv);
	TH_LOG("released: receiver's cgroup %+lld bytes", r2 - r1);
	EXPECT_LE((long long)(len - POOL_KEEP) - slack, r1 - r2);

	/* Filled again and never read: the pool gone, nothing is charged. */
	ASSERT_EQ(0, send_full(s, &h, 1, src, len, NULL, 0, NULL, 0, NULL))
		TH_LOG("send: %s", strerror(errno));
	r1 = cg_current(rcv);
	close(r);
	for (i = 0; i < 500; i++) {
		r2 = cg_current(rcv);
		if (r1 - r2 >= (long long)len - slack)
			break;
		usleep(10000);
	}
	EXPECT_LE((long long)len - slack, r1 - r2);

	munmap(src, len);
	close(s);
}

/* The number of peers of the user of @fd, as its fdinfo says. */
static unsigned long long user_peers(int fd)
{
	return fdinfo(fd, "bus1-user-peers");
}

TEST_F(quota, peers_per_user)
{
	static const char * const bad[] = { "0", "-1", "abc" };
	const uid_t u = UID(19, 0), v = UID(19, 1);
	unsigned int cur, i;
	int p[3], q, w, free_fd;
	__u64 node;

	/* At least 1; a bad write changes nothing. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, peers_limit_put_str(bad[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("user_max_peers = %s", bad[i]);
		cur = 0;
		EXPECT_EQ(0, peers_limit_get(&cur));
		EXPECT_EQ(self->saved_peers, cur);
	}

	ASSERT_EQ(0, peers_limit_put(3));
	for (i = 0; i < 3; i++) {
		p[i] = peer_as(u, 0);
		ASSERT_LE(0, p[i]) TH_LOG("peer %u: %s", i, strerror(errno));
	}
	EXPECT_EQ(3, user_peers(p[0]));
	EXPECT_EQ(3, user_peers(p[2]));

	/* A fourth is refused, and leaves no descriptor behind. */
	free_fd = lowest_free_fd();
	EXPECT_EQ(-1, peer_as(u, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(free_fd, lowest_free_fd());
	EXPECT_EQ(3, user_peers(p[0]));

	/* Another user is not affected. */
	w = peer_as(v, 0);
	ASSERT_LE(0, w) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, user_peers(w));
	EXPECT_EQ(3, user_peers(p[0]));

	/* Closing one makes room for one. */
	close(p[1]);
	EXPECT_EQ(2, user_peers(p[0]));
	p[1] = peer_as(u, 0);
	ASSERT_LE(0, p[1]) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, peer_as(u, 0));
	EXPECT_EQ(EDQUOT, errno);

	/* So does disconnecting one, while its descriptor stays open. */
	ASSERT_EQ(0, bus1_peer_disconnect(p[1], 0));
	EXPECT_EQ(2, user_peers(p[0]));
	q = peer_as(u, 0);
	ASSERT_LE(0, q) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(3, user_peers(q));
	close(p[1]);
	EXPECT_EQ(3, user_peers(q));

	/*
	 * Lowered below what the user has, the limit refuses new peers
	 * only: the ones there keep working.
	 */
	ASSERT_EQ(0, peers_limit_put(1));
	EXPECT_EQ(-1, peer_as(u, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(0, bus1_node_create(p[0], &node, 0));
	EXPECT_EQ(0, bus1_nodes_destroy(p[0], &node, 1, 0));
	EXPECT_EQ(0, bus1_handle_release(p[0], &node, 1, 0));
	EXPECT_EQ(3, user_peers(q));
	/* v has its one peer, and no room for another. */
	EXPECT_EQ(-1, peer_as(v, 0));
	EXPECT_EQ(EDQUOT, errno);

	close(p[0]);
	close(p[2]);
	EXPECT_EQ(1, user_peers(q));
	EXPECT_EQ(-1, peer_as(u, 0));
	EXPECT_EQ(EDQUOT, errno);
	close(q);
	/* The count is back to zero: the one peer allowed can be made. */
	q = peer_as(u, 0);
	ASSERT_LE(0, q) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, user_peers(q));
	close(q);
	close(w);
}

/*
 * A user without privileges, in a child that dropped root for good: it
 * gets exactly @limit peers, cannot raise the limit, and gets one more
 * for each it closes. The exit code says what failed.
 */
static void peer_hog(uid_t uid, unsigned int limit)
{
	int fds[16], fd;
	unsigned int i;

	if (limit > ARRAY_SIZE(fds))
		_exit(10);
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		_exit(11);
	if (!peers_limit_put(limit + 1) || errno != EACCES)
		_exit(12);
	for (i = 0; i < limit; i++) {
		fds[i] = bus1_peer_create(BUS1_PEER_CLOEXEC);
		if (fds[i] < 0)
			_exit(13);
	}
	if (fdinfo(fds[0], "bus1-uid") != uid ||
	    fdinfo(fds[0], "bus1-user-peers") != limit)
		_exit(14);
	for (i = 0; i < 3; i++) {
		fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
		if (fd >= 0 || errno != EDQUOT)
			_exit(15);
	}
	close(fds[0]);
	fds[0] = bus1_peer_create(BUS1_PEER_CLOEXEC);
	if (fds[0] < 0)
		_exit(16);
	fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	if (fd >= 0 || errno != EDQUOT)
		_exit(17);
	_exit(0);
}

TEST_F(quota, peers_per_user_unprivileged)
{
	const uid_t u = UID(20, 0);
	int status, fd;
	pid_t pid;

	ASSERT_EQ(0, peers_limit_put(5));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid)
		peer_hog(u, 5);
	self->kids[0] = pid;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->kids[0] = 0;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Its peers went with it: the user can have all five again. */
	fd = peer_as(u, 0);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, user_peers(fd));
	close(fd);
}

/*
 * A receiver draws from its user's limit what a sender's first charges
 * need; once a charge came back, a batch ahead of them, a 4096th of the
 * limit, which it gives back with the last charge of the sender.
 */
TEST_F(quota, reserve_batches)
{
	const uid_t ua = UID(21, 0), ub = UID(21, 1);
	unsigned long long bm, bs;
	unsigned int max_msgs, max_slices;
	__u64 node, h, offs[4];
	int r, a, i;

	ASSERT_EQ(0, limit_get(USER, MESSAGES, &max_msgs));
	ASSERT_EQ(0, limit_get(USER, SLICES, &max_slices));
	bm = max_msgs >> 12;
	bs = max_slices >> 12;
	ASSERT_LT(2, bm) TH_LOG("user_max_messages is below 12288");
	ASSERT_LT(2, bs) TH_LOG("user_max_slices is below 12288");
	r = receiver_as(ua, &node);
	ASSERT_LE(0, r);
	a = sender_as(ub, r, node, &h);
	ASSERT_LE(0, a);
	EXPECT_EQ(0, user_drawn(r, MESSAGES));
	EXPECT_EQ(1, fdinfo(r, "bus1-senders"));

	/* The first message draws what it needs, and goes back at once. */
	ASSERT_EQ(0, send1(a, h, 8));
	EXPECT_EQ(1, peer_charge(r, MESSAGES));
	EXPECT_EQ(0, peer_reserved(r, MESSAGES));
	EXPECT_EQ(1, user_drawn(r, MESSAGES));
	ASSERT_EQ(1, recv_all(r, 0, NULL, offs, 1));
	EXPECT_EQ(0, user_drawn(r, MESSAGES));
	EXPECT_EQ(2, fdinfo(r, "bus1-senders"));

	/* The next draws itself and a batch; the two after it, nothing. */
	ASSERT_EQ(0, send1(a, h, 8));
	EXPECT_EQ(bm, peer_reserved(r, MESSAGES));
	EXPECT_EQ(1 + bm, user_drawn(r, MESSAGES));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, send1(a, h, 8));
	EXPECT_EQ(3, peer_charge(r, MESSAGES));
	EXPECT_EQ(bm - 2, peer_reserved(r, MESSAGES));
	EXPECT_EQ(1 + bm, user_drawn(r, MESSAGES));
	EXPECT_EQ(3, user_charge(r, MESSAGES));
	/* Four slices: the first drawn alone, then three of a batch. */
	EXPECT_EQ(bs - 2, peer_reserved(r, SLICES));
	EXPECT_EQ(bs + 2, user_drawn(r, SLICES));
	/* Only the receiving user draws: the sender's has nothing. */
	EXPECT_EQ(0, user_drawn(a, MESSAGES));
	EXPECT_EQ(0, peer_reserved(a, MESSAGES));

	/* Received, a message goes back to the reserve, not to the user. */
	ASSERT_EQ(3, recv_all(r, 0, NULL, offs + 1, 3));
	EXPECT_EQ(0, peer_charge(r, MESSAGES));
	EXPECT_EQ(bm + 1, peer_reserved(r, MESSAGES));
	EXPECT_EQ(1 + bm, user_drawn(r, MESSAGES));

	/* The slices were the sender's last charges: all of it goes back. */
	ASSERT_EQ(0, release_all(r, offs, 4));
	EXPECT_EQ(1, fdinfo(r, "bus1-senders"));
	EXPECT_EQ(0, peer_reserved(r, MESSAGES));
	EXPECT_EQ(0, peer_reserved(r, SLICES));
	EXPECT_EQ(0, user_drawn(r, MESSAGES));
	EXPECT_EQ(0, user_drawn(r, SLICES));
	close(a);
	close(r);
}

#define PAIRS		4
#define PAIR_TRIPS	2000

/*
 * Acquisitions of the lock class @name since the lock statistics were
 * cleared, 0 if it has none; -1 if /proc/lock_stat cannot be read.
 */
static long long lock_acquisitions(const char *name)
{
	unsigned long long v[2];
	size_t len = strlen(name);
	char line[1024], *p;
	long long n = 0;
	FILE *f;

	f = fopen("/proc/lock_stat", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		if (strncmp(p, name, len) || p[len] != ':')
			continue;
		/* con-bounces contentions 4 wait times acq-bounces acquisitions */
		if (sscanf(p + len + 1, "%llu %*u %*s %*s %*s %*s %llu %llu",
			   &v[0], &v[1], &v[1]) == 3)
			n += v[1];
	}
	fclose(f);
	return n;
}

/* Clear the lock statistics; 0 on success. */
static int lock_stat_clear(void)
{
	return file_put("/proc/lock_stat", "0");
}

/* One pair of peers, each with a node the other holds a handle to. */
struct pair {
	int a, b;
	__u64 to_a, to_b;	/* b's handle to a's node, a's to b's */
};

static int pair_make(struct pair *p, uid_t ua, uid_t ub)
{
	__u64 na, nb;

	p->a = receiver_as(ua, &na);
	p->b = receiver_as(ub, &nb);
	if (p->a < 0 || p->b < 0)
		return -1;
	p->to_b = bus1_transfer_id(p->b, nb, p->a);
	p->to_a = bus1_transfer_id(p->a, na, p->b);
	return p->to_a && p->to_b ? 0 : -1;
}

/* Receive one data message on @fd, releasing the slice at *@off, if any. */
static int recv_release(int fd, __u64 *off, bool *held)
{
	struct bus1_recv r = {
		.flags = *held ? BUS1_RECV_RELEASE : 0,
		.offset = *off,
	};

	if (bus1_recv(fd, &r, sizeof(r)) || r.type != BUS1_MSG_DATA)
		return -1;
	*off = r.offset;
	*held = true;
	return 0;
}

/* @n round trips of 8 bytes over @p, in this thread; 0 on success. */
static int pair_trips(struct pair *p, unsigned int n)
{
	bool held_a = false, held_b = false;
	__u64 off_a = 0, off_b = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (send1(p->a, p->to_b, 8) ||
		    recv_release(p->b, &off_b, &held_b) ||
		    send1(p->b, p->to_a, 8) ||
		    recv_release(p->a, &off_a, &held_a))
			return -1;
	}
	if (held_a && bus1_slice_release(p->a, &off_a, 1, 0))
		return -1;
	if (held_b && bus1_slice_release(p->b, &off_b, 1, 0))
		return -1;
	return 0;
}

/*
 * Run the pairs at once, pair i in a child on CPU i (modulo the CPUs
 * there are), with the lock statistics cleared first. Returns how many
 * pairs failed, or -1 if the run could not be made.
 */
static int pairs_run(struct __test_metadata *_metadata, pid_t *kids,
		     struct pair *pairs, unsigned int n)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int status, failed = 0;
	pid_t pid;
	unsigned int i;
	cpu_set_t set;

	if (lock_stat_clear()) {
		TH_LOG("clearing /proc/lock_stat: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	for (i = 0; i < PAIRS; i++) {
		/* @kids is shared with the children: only the parent sets it. */
		pid = fork();
		if (pid < 0) {
			TH_LOG("fork: %s", strerror(errno));
			return -1;
		}
		if (pid) {
			kids[i] = pid;
			continue;
		}
		CPU_ZERO(&set);
		CPU_SET(i % ncpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			_exit(2);
		_exit(pair_trips(&pairs[i], n) ? 1 : 0);
	}
	for (i = 0; i < PAIRS; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i]) {
			TH_LOG("waitpid: %s", strerror(errno));
			return -1;
		}
		kids[i] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			TH_LOG("pair %u: status %#x", i, status);
			failed++;
		}
	}
	return failed;
}

/*
 * Pairs whose peers run their round trips at once take no lock in common:
 * the users' quota locks and the table of users are never taken, each
 * pair's quota locks on every charge.
 */
static void pairs_expect_no_shared_lock(struct __test_metadata *_metadata,
					pid_t *kids, struct pair *pairs,
					const char *what)
{
	long long quota_locks, user_locks;

	ASSERT_EQ(0, pairs_run(_metadata, kids, pairs, PAIR_TRIPS));
	user_locks = lock_acquisitions("bus1_user->lock");
	quota_locks = lock_acquisitions("bus1_quota->lock");
	EXPECT_EQ(0, user_locks) TH_LOG("%s", what);
	EXPECT_EQ(0, lock_acquisitions("bus1_users_lock")) TH_LOG("%s", what);
	/* Four charges and returns per round trip, in each pair. */
	EXPECT_LE(PAIRS * PAIR_TRIPS * 4LL, quota_locks) TH_LOG("%s", what);
	TH_LOG("%s: %lld quota lock and %lld user lock acquisitions", what,
	       quota_locks, user_locks);
}

/*
 * Four pairs of peers of one user, each pair on its own CPU, send, receive
 * and release without taking a lock that another pair takes: with lock
 * statistics on, neither the user's quota lock nor the table of users is
 * taken while they run, though each pair's quota lock is, on every
 * charge. So do four pairs whose peers belong to two users, one on each
 * side. With limits below 4096, where a peer draws no batch ahead, the
 * same run takes the user's lock on every charge: the statistics do see
 * it when it is taken.
 */
TEST_F_TIMEOUT(quota, pairs_share_no_lock, 300)
{
	const uid_t u = UID(22, 0), u1 = UID(22, 1), u2 = UID(22, 2);
	struct pair pairs[PAIRS], two[PAIRS];
	long long user_locks;
	unsigned int i;

	ASSERT_EQ(0, access("/proc/lock_stat", R_OK))
		TH_LOG("the kernel needs CONFIG_LOCK_STAT (see config)");
	ASSERT_EQ(0, file_put("/proc/sys/kernel/lock_stat", "1\n"));
	for (i = 0; i < PAIRS; i++) {
		ASSERT_EQ(0, pair_make(&pairs[i], u, u));
		ASSERT_EQ(0, pair_make(&two[i], u1, u2));
		/* Each peer draws its reserves here, before the count. */
		ASSERT_EQ(0, pair_trips(&pairs[i], 10));
		ASSERT_EQ(0, pair_trips(&two[i], 10));
	}
	pairs_expect_no_shared_lock(_metadata, self->kids, pairs, "one user");
	pairs_expect_no_shared_lock(_metadata, self->kids, two, "two users");

	/*
	 * Without batches, every charge takes the user's lock. A reserve
	 * drawn before stays until its record's next return, which gives
	 * it all back now: one round trip each, one pair at a time, lets
	 * no pair find the user over its lowered limits.
	 */
	ASSERT_EQ(0, set_limit(MESSAGES, 1000, 1000));
	ASSERT_EQ(0, set_limit(SLICES, 1000, 1000));
	ASSERT_EQ(0, set_limit(BYTES, 1000, 1000));
	for (i = 0; i < PAIRS; i++)
		ASSERT_EQ(0, pair_trips(&pairs[i], 1));
	EXPECT_EQ(0, user_reserved(pairs[0].a, MESSAGES));
	EXPECT_EQ(0, user_reserved(pairs[0].a, BYTES));
	ASSERT_EQ(0, pairs_run(_metadata, self->kids, pairs, PAIR_TRIPS));
	user_locks = lock_acquisitions("bus1_user->lock");
	EXPECT_LE(PAIRS * PAIR_TRIPS * 2LL, user_locks);
	TH_LOG("no batches: %lld user lock acquisitions", user_locks);

	for (i = 0; i < PAIRS; i++) {
		close(pairs[i].a);
		close(pairs[i].b);
		close(two[i].a);
		close(two[i].b);
	}
}

TEST_HARNESS_MAIN
