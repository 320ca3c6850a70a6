// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the bus1 LSM hooks, through BPF LSM: bus1_peer_create,
 * bus1_send, bus1_transfer_handle and bus1_transfer_file. Each test
 * attaches one program per hook that records what the hook saw (the euid
 * of each credential, the inode number of a file) and refuses the calls
 * that match a rule the test sets. The tests check that each hook sees
 * the right subject and object, that it is asked once per destination
 * and only when there is something to ask about, and that a refusal stops
 * exactly the refused operation: nothing of it is done, and everything
 * else goes on.
 *
 * The test runs as root. A peer keeps the credentials of the task that
 * created it, so setting just the effective uid around bus1_peer_create()
 * gives each peer an identity of its own, while the real uid, and with it
 * every quota, stays root's. No libbpf: the programs are written as raw
 * instructions against the kernel's BTF (see bpf_lsm.h).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"
#include "bpf_lsm.h"

#define BTF_PATH	"/sys/kernel/btf/vmlinux"
#define LSM_LIST	"/sys/kernel/security/lsm"

/* The euids of the peers' creators; none is root's. */
#define UID_A		1001
#define UID_B		1002
#define UID_C		1003
#define UID_D		1004
#define UID_X		2001
#define UID_Y		2002

#define ANY		LSM_ANY
#define PEER_FLAGS	(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK)

enum {
	H_PEER_CREATE,
	H_SEND,
	H_TRANSFER_HANDLE,
	H_TRANSFER_FILE,
	N_HOOKS,
};

/* Each hook: its BPF LSM attach point and its arguments, in order. */
static const struct {
	const char *name;
	unsigned int n;
	enum lsm_arg args[LSM_ARGS_MAX];
	const char *types[LSM_ARGS_MAX];
} hooks[N_HOOKS] = {
	[H_PEER_CREATE] = {
		"bpf_lsm_bus1_peer_create", 1,
		{ LSM_ARG_CRED }, { "cred" },
	},
	[H_SEND] = {
		"bpf_lsm_bus1_send", 2,
		{ LSM_ARG_CRED, LSM_ARG_CRED }, { "cred", "cred" },
	},
	[H_TRANSFER_HANDLE] = {
		"bpf_lsm_bus1_transfer_handle", 3,
		{ LSM_ARG_CRED, LSM_ARG_CRED, LSM_ARG_CRED },
		{ "cred", "cred", "cred" },
	},
	[H_TRANSFER_FILE] = {
		"bpf_lsm_bus1_transfer_file", 3,
		{ LSM_ARG_CRED, LSM_ARG_CRED, LSM_ARG_FILE },
		{ "cred", "cred", "file" },
	},
};

/* Why the test cannot run here, or NULL if it can. */
static const char *lsm_unavailable(void)
{
	char buf[512], *s, *save;
	ssize_t n;
	int fd;

	if (access(BTF_PATH, R_OK))
		return "no " BTF_PATH ": the kernel lacks CONFIG_DEBUG_INFO_BTF";
	/* The guest does not mount securityfs: mount it where it belongs. */
	if (access(LSM_LIST, R_OK))
		mount("securityfs", "/sys/kernel/security", "securityfs", 0,
		      NULL);
	fd = open(LSM_LIST, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "cannot read " LSM_LIST ", so bpf is no known LSM";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (s = strtok_r(buf, ",\n", &save); s; s = strtok_r(NULL, ",\n", &save))
		if (!strcmp(s, "bpf"))
			return NULL;
	return "bpf is not an active LSM: needs CONFIG_BPF_LSM and bpf in CONFIG_LSM";
}

/* A peer of effective uid and gid @euid (see bus1_peer_create_as()). */
static int peer_as(uid_t euid)
{
	return bus1_peer_create_as(euid, PEER_FLAGS);
}

/*
 * Peers a, b, c and d, created by UID_A to UID_D, own a node each; a holds
 * a handle of the nodes of b, c and d. Every hook has its program, which
 * allows everything and has counted nothing yet.
 */
FIXTURE(lsm) {
	int map;
	int prog[N_HOOKS], link[N_HOOKS];
	int a, b, c, d;
	__u64 na, nb, nc, nd;	/* the nodes, as their owners name them */
	__u64 hb, hc, hd;	/* nb, nc and nd, as a names them */
};

/* Forget every call and rule: each record all zero. */
static void reset(struct __test_metadata *_metadata, int map)
{
	struct lsm_rec r;
	int i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < N_HOOKS; i++) {
		ASSERT_EQ(0, bpf_array_set(map, i, &r))
			TH_LOG("map update: %s", strerror(errno));
	}
}

/*
 * Refuse (@on) or allow (!@on) the calls of @hook whose arguments match
 * @w0, @w1 and @w2; ANY matches anything. The count and what the last
 * call saw stay.
 */
static void rule(struct __test_metadata *_metadata, int map, int hook, int on,
		 __u64 w0, __u64 w1, __u64 w2)
{
	struct lsm_rec r;

	ASSERT_EQ(0, bpf_array_get(map, hook, &r))
		TH_LOG("map lookup: %s", strerror(errno));
	r.deny = on;
	r.want[0] = w0;
	r.want[1] = w1;
	r.want[2] = w2;
	ASSERT_EQ(0, bpf_array_set(map, hook, &r))
		TH_LOG("map update: %s", strerror(errno));
}

#define DENY(hook, w0, w1, w2)	rule(_metadata, self->map, hook, 1, w0, w1, w2)
#define ALLOW(hook)		rule(_metadata, self->map, hook, 0, ANY, ANY, ANY)

/* @hook was called @n times in all. */
#define EXPECT_CALLS(hook, n) do {					\
	const int h_ = (hook);						\
	struct lsm_rec r_;						\
									\
	ASSERT_EQ(0, bpf_array_get(self->map, h_, &r_));		\
	EXPECT_EQ((__u64)(n), r_.calls)					\
		TH_LOG("calls of %s", hooks[h_].name);			\
} while (0)

/*
 * @hook was called @n times in all, the last time with arguments that
 * were @s0, @s1 and @s2: an euid, or the inode number of a file. ANY
 * leaves an argument unchecked.
 */
#define EXPECT_HOOK(hook, n, s0, s1, s2) do {				\
	const __u64 s_[LSM_ARGS_MAX] = { (s0), (s1), (s2) };		\
	const int h_ = (hook);						\
	struct lsm_rec r_;						\
	int i_;								\
									\
	ASSERT_EQ(0, bpf_array_get(self->map, h_, &r_));		\
	EXPECT_EQ((__u64)(n), r_.calls)					\
		TH_LOG("calls of %s", hooks[h_].name);			\
	for (i_ = 0; i_ < LSM_ARGS_MAX; i_++) {				\
		EXPECT_TRUE(s_[i_] == ANY || s_[i_] == r_.seen[i_])	\
			TH_LOG("argument %d of %s: %llu, not %llu",	\
			       i_ + 1, hooks[h_].name,			\
			       (unsigned long long)r_.seen[i_],		\
			       (unsigned long long)s_[i_]);		\
	}								\
} while (0)

FIXTURE_SETUP(lsm)
{
	const char *why;
	struct bpf_insn insn[LSM_PROG_MAX];
	struct lsm_fields f;
	struct kbtf btf;
	unsigned int n;
	__u32 id;
	int i;

	self->map = -1;
	self->a = -1;
	self->b = -1;
	self->c = -1;
	self->d = -1;
	for (i = 0; i < N_HOOKS; i++) {
		self->prog[i] = -1;
		self->link[i] = -1;
	}
	if (bus1_need_root(_metadata, "bpf(2) and setresuid()"))
		return;
	why = lsm_unavailable();
	if (why)
		SKIP(return, "%s", why);

	ASSERT_EQ(0, kbtf_load(&btf, BTF_PATH));
	ASSERT_EQ(0, lsm_fields_get(&btf, &f));
	self->map = bpf_array_create(sizeof(struct lsm_rec), N_HOOKS);
	ASSERT_LE(0, self->map) TH_LOG("map: %s", strerror(errno));
	for (i = 0; i < N_HOOKS; i++) {
		id = kbtf_func(&btf, hooks[i].name, hooks[i].types, hooks[i].n);
		ASSERT_NE(0, id)
			TH_LOG("the kernel has no bus1 LSM hook %s", hooks[i].name);
		n = lsm_prog(insn, self->map, i, hooks[i].args, hooks[i].n, &f);
		self->prog[i] = bpf_lsm_load(insn, n, id);
		ASSERT_LE(0, self->prog[i])
			TH_LOG("loading %s: %s", hooks[i].name, strerror(errno));
		self->link[i] = bpf_lsm_attach(self->prog[i]);
		ASSERT_LE(0, self->link[i])
			TH_LOG("attaching %s: %s", hooks[i].name, strerror(errno));
	}
	kbtf_free(&btf);

	self->a = peer_as(UID_A);
	self->b = peer_as(UID_B);
	self->c = peer_as(UID_C);
	self->d = peer_as(UID_D);
	ASSERT_LE(0, self->a) TH_LOG("peer: %s", strerror(errno));
	ASSERT_LE(0, self->b);
	ASSERT_LE(0, self->c);
	ASSERT_LE(0, self->d);
	ASSERT_EQ(0, bus1_node_create(self->a, &self->na, 0));
	ASSERT_EQ(0, bus1_node_create(self->b, &self->nb, 0));
	ASSERT_EQ(0, bus1_node_create(self->c, &self->nc, 0));
	ASSERT_EQ(0, bus1_node_create(self->d, &self->nd, 0));
	self->hb = bus1_transfer_id(self->b, self->nb, self->a);
	self->hc = bus1_transfer_id(self->c, self->nc, self->a);
	self->hd = bus1_transfer_id(self->d, self->nd, self->a);
	ASSERT_NE(0, self->hb);
	ASSERT_NE(0, self->hc);
	ASSERT_NE(0, self->hd);
	reset(_metadata, self->map);
}

FIXTURE_TEARDOWN(lsm)
{
	int fds[] = { self->a, self->b, self->c, self->d };
	int i;

	/* Links first: later tests and programs run without the hooks. */
	for (i = 0; i < N_HOOKS; i++)
		if (self->link[i] >= 0)
			close(self->link[i]);
	for (i = 0; i < N_HOOKS; i++)
		if (self->prog[i] >= 0)
			close(self->prog[i]);
	if (self->map >= 0)
		close(self->map);
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Send "lsm" from @fd to the @n handles @dst, with @n_handles handles and
 * @n_fds fds. With @errs, per destination (BUS1_SEND_CONTINUE).
 */
static int send_to(int fd, const __u64 *dst, unsigned int n, __s32 *errs,
		   const __u64 *handles, unsigned int n_handles,
		   const __s32 *fds, unsigned int n_fds)
{
	static const char text[] = "lsm";
	struct bus1_vec v = { .ptr = PTR(text), .len = sizeof(text) };
	struct bus1_send s = {
		.flags = errs ? BUS1_SEND_CONTINUE : 0,
		.ptr_destinations = PTR(dst),
		.n_destinations = n,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_errors = PTR(errs),
		.ptr_handles = PTR(handles),
		.n_handles = n_handles,
		.ptr_fds = PTR(fds),
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int send1(int fd, __u64 dst)
{
	return send_to(fd, &dst, 1, NULL, NULL, 0, NULL, 0);
}

/* Nothing is queued on the peer @fd, and its pool holds no slice. */
#define EXPECT_NONE(fd) do {						\
	struct bus1_recv r_ = { 0 };					\
	const int fd_ = (fd);						\
									\
	EXPECT_EQ(0, fdinfo(fd_, "bus1-queued"));			\
	EXPECT_EQ(0, fdinfo(fd_, "bus1-pool-slices"));			\
	EXPECT_EQ(-1, bus1_recv(fd_, &r_, sizeof(r_)));			\
	EXPECT_EQ(EAGAIN, errno);					\
} while (0)

/*
 * The next entry of @fd is the message of send_to() to its node @dst,
 * with @nh handles and @nf fds. It is received, without installing the
 * fds, and its slice released.
 */
#define EXPECT_MSG(fd, dst, nh, nf) do {				\
	struct bus1_recv r_ = { 0 };					\
	const int fd_ = (fd);						\
									\
	ASSERT_EQ(0, bus1_recv(fd_, &r_, sizeof(r_)))			\
		TH_LOG("recv: %s", strerror(errno));			\
	EXPECT_EQ(BUS1_MSG_DATA, r_.type);				\
	EXPECT_EQ((__u64)(dst), r_.destination);			\
	EXPECT_EQ(4, r_.size);						\
	EXPECT_EQ((__u64)(nh), r_.n_handles);				\
	EXPECT_EQ((__u64)(nf), r_.n_fds);				\
	EXPECT_EQ(0, bus1_slice_release(fd_, &r_.offset, 1, 0));	\
} while (0)

static __u64 ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (__u64)st.st_ino;
}

TEST_F(lsm, peer_create)
{
	int expect_fd = lowest_free_fd(), fd;
	__u64 id;

	DENY(H_PEER_CREATE, UID_X, ANY, ANY);
	EXPECT_EQ(-1, peer_as(UID_X));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(expect_fd, lowest_free_fd());
	EXPECT_HOOK(H_PEER_CREATE, 1, UID_X, ANY, ANY);

	/* Other users, root included, are not refused. */
	fd = peer_as(UID_Y);
	ASSERT_LE(0, fd) TH_LOG("peer: %s", strerror(errno));
	EXPECT_HOOK(H_PEER_CREATE, 2, UID_Y, ANY, ANY);
	EXPECT_EQ(0, bus1_node_create(fd, &id, 0));
	close(fd);
	fd = bus1_peer_create(PEER_FLAGS);
	ASSERT_LE(0, fd) TH_LOG("peer: %s", strerror(errno));
	EXPECT_HOOK(H_PEER_CREATE, 3, 0, ANY, ANY);
	close(fd);

	/* Only the rule was in the way. */
	ALLOW(H_PEER_CREATE);
	fd = peer_as(UID_X);
	ASSERT_LE(0, fd) TH_LOG("peer: %s", strerror(errno));
	EXPECT_HOOK(H_PEER_CREATE, 4, UID_X, ANY, ANY);
	close(fd);

	EXPECT_CALLS(H_SEND, 0);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 0);
	EXPECT_CALLS(H_TRANSFER_FILE, 0);
}

TEST_F(lsm, send_unicast)
{
	__u64 hdb;
	int r, e;

	DENY(H_SEND, UID_A, UID_B, ANY);
	EXPECT_EQ(-1, send1(self->a, self->hb));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_SEND, 1, UID_A, UID_B, ANY);
	EXPECT_NONE(self->b);

	/* The same sender reaches another receiver... */
	ASSERT_EQ(0, send1(self->a, self->hc));
	EXPECT_HOOK(H_SEND, 2, UID_A, UID_C, ANY);
	EXPECT_MSG(self->c, self->nc, 0, 0);
	EXPECT_NONE(self->c);

	/* ...and another sender the refused receiver. */
	hdb = bus1_transfer_id(self->b, self->nb, self->d);
	ASSERT_NE(0, hdb);
	ASSERT_EQ(0, send1(self->d, hdb));
	EXPECT_HOOK(H_SEND, 3, UID_D, UID_B, ANY);
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_NONE(self->b);

	/* The sender is the peer's creator, not whoever calls. */
	ASSERT_EQ(0, setresuid(-1, UID_D, -1));
	r = send1(self->a, self->hb);
	e = errno;
	ASSERT_EQ(0, setresuid(-1, 0, -1));
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EPERM, e);
	EXPECT_HOOK(H_SEND, 4, UID_A, UID_B, ANY);
	EXPECT_NONE(self->b);

	ALLOW(H_SEND);
	ASSERT_EQ(0, send1(self->a, self->hb));
	EXPECT_HOOK(H_SEND, 5, UID_A, UID_B, ANY);
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_NONE(self->b);

	EXPECT_CALLS(H_PEER_CREATE, 0);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 1);
	EXPECT_CALLS(H_TRANSFER_FILE, 0);
}

TEST_F(lsm, send_multicast)
{
	const __u64 dst[] = { self->hb, self->hc, self->hd };

	/* One refused destination fails the whole send. */
	DENY(H_SEND, UID_A, UID_C, ANY);
	EXPECT_EQ(-1, send_to(self->a, dst, 3, NULL, NULL, 0, NULL, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	EXPECT_NONE(self->d);

	/* A rule on the receiver alone does the same. */
	DENY(H_SEND, ANY, UID_D, ANY);
	EXPECT_EQ(-1, send_to(self->a, dst, 3, NULL, NULL, 0, NULL, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	EXPECT_NONE(self->d);

	reset(_metadata, self->map);
	ASSERT_EQ(0, send_to(self->a, dst, 3, NULL, NULL, 0, NULL, 0));
	EXPECT_CALLS(H_SEND, 3);
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_MSG(self->c, self->nc, 0, 0);
	EXPECT_MSG(self->d, self->nd, 0, 0);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	EXPECT_NONE(self->d);
}

TEST_F(lsm, send_multicast_continue)
{
	const __u64 dst[] = { self->hb, self->hc, self->hd };
	__s32 errs[] = { -1, -1, -1 };

	DENY(H_SEND, UID_A, UID_C, ANY);
	ASSERT_EQ(0, send_to(self->a, dst, 3, errs, NULL, 0, NULL, 0))
		TH_LOG("send: %s", strerror(errno));
	EXPECT_EQ(0, errs[0]);
	EXPECT_EQ(EPERM, errs[1]);
	EXPECT_EQ(0, errs[2]);
	EXPECT_CALLS(H_SEND, 3);
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_MSG(self->d, self->nd, 0, 0);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	EXPECT_NONE(self->d);

	/* Every destination refused: still no error of the call. */
	DENY(H_SEND, UID_A, ANY, ANY);
	memset(errs, 0xff, sizeof(errs));
	ASSERT_EQ(0, send_to(self->a, dst, 3, errs, NULL, 0, NULL, 0));
	EXPECT_EQ(EPERM, errs[0]);
	EXPECT_EQ(EPERM, errs[1]);
	EXPECT_EQ(EPERM, errs[2]);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	EXPECT_NONE(self->d);
}

TEST_F(lsm, handle_transfer)
{
	struct bus1_transfer t = { .src_id = self->hc };
	unsigned long long held = fdinfo(self->b, "bus1-handles");

	/* From a to b, a handle of c's node. */
	DENY(H_TRANSFER_HANDLE, UID_A, UID_B, ANY);
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, sizeof(t)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_TRANSFER_HANDLE, 1, UID_A, UID_B, UID_C);
	EXPECT_EQ(held, fdinfo(self->b, "bus1-handles"));
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);

	/* The same handle to d is not refused, and works. */
	ASSERT_EQ(0, bus1_handle_transfer(self->a, self->d, &t, sizeof(t)))
		TH_LOG("transfer: %s", strerror(errno));
	EXPECT_HOOK(H_TRANSFER_HANDLE, 2, UID_A, UID_D, UID_C);
	ASSERT_EQ(0, send1(self->d, t.dst_id));
	EXPECT_MSG(self->c, self->nc, 0, 0);

	/* A rule on the owner: b's node may go to d, c's may not go to b. */
	DENY(H_TRANSFER_HANDLE, ANY, ANY, UID_C);
	t.src_id = self->hb;
	t.dst_id = 0;
	ASSERT_EQ(0, bus1_handle_transfer(self->a, self->d, &t, sizeof(t)));
	EXPECT_HOOK(H_TRANSFER_HANDLE, 3, UID_A, UID_D, UID_B);
	t.src_id = self->hc;
	EXPECT_EQ(-1, bus1_handle_transfer(self->a, self->b, &t, sizeof(t)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_TRANSFER_HANDLE, 4, UID_A, UID_B, UID_C);
	EXPECT_EQ(held, fdinfo(self->b, "bus1-handles"));

	ALLOW(H_TRANSFER_HANDLE);
	ASSERT_EQ(0, bus1_handle_transfer(self->a, self->b, &t, sizeof(t)));
	EXPECT_HOOK(H_TRANSFER_HANDLE, 5, UID_A, UID_B, UID_C);
	EXPECT_EQ(held + 1, fdinfo(self->b, "bus1-handles"));

	EXPECT_CALLS(H_SEND, 1);
	EXPECT_CALLS(H_TRANSFER_FILE, 0);
}

TEST_F(lsm, handle_in_message)
{
	const __u64 dst[] = { self->hb, self->hc };
	__s32 errs[] = { -1, -1 };

	/* a passes a handle of d's node; c may not get it from a. */
	DENY(H_TRANSFER_HANDLE, UID_A, UID_C, ANY);
	EXPECT_EQ(-1, send_to(self->a, &self->hc, 1, NULL, &self->hd, 1,
			      NULL, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_TRANSFER_HANDLE, 1, UID_A, UID_C, UID_D);
	EXPECT_NONE(self->c);

	ASSERT_EQ(0, send_to(self->a, &self->hb, 1, NULL, &self->hd, 1,
			     NULL, 0));
	EXPECT_HOOK(H_TRANSFER_HANDLE, 2, UID_A, UID_B, UID_D);
	EXPECT_MSG(self->b, self->nb, 1, 0);

	/* Without the handle c is reached, and the hook not asked. */
	ASSERT_EQ(0, send1(self->a, self->hc));
	EXPECT_MSG(self->c, self->nc, 0, 0);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 2);

	/* To both: nothing to either. */
	EXPECT_EQ(-1, send_to(self->a, dst, 2, NULL, &self->hd, 1, NULL, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);

	/* Per destination: only c is left out. */
	ASSERT_EQ(0, send_to(self->a, dst, 2, errs, &self->hd, 1, NULL, 0));
	EXPECT_EQ(0, errs[0]);
	EXPECT_EQ(EPERM, errs[1]);
	EXPECT_MSG(self->b, self->nb, 1, 0);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	/* b has its node and d's; d heard of nothing. */
	EXPECT_EQ(2, fdinfo(self->b, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(self->c, "bus1-handles"));
	EXPECT_NONE(self->d);
}

TEST_F(lsm, fd_in_message)
{
	const __u64 dst[] = { self->hb, self->hc };
	const unsigned char *pool = map_pool(self->b);
	__s32 errs[] = { -1, -1 }, got;
	struct bus1_recv r = { .flags = BUS1_RECV_FDS };
	int p[2], q[2];
	__u64 ino, ino_q;

	ASSERT_TRUE(!!pool);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(q, O_CLOEXEC));
	ino = ino_of(p[0]);
	ino_q = ino_of(q[0]);
	ASSERT_NE(0, ino);
	ASSERT_NE(ino, ino_q);

	/* c may not get a file from a. */
	DENY(H_TRANSFER_FILE, UID_A, UID_C, ANY);
	EXPECT_EQ(-1, send_to(self->a, &self->hc, 1, NULL, NULL, 0, &p[0], 1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_TRANSFER_FILE, 1, UID_A, UID_C, ino);
	EXPECT_NONE(self->c);

	/* Without the fd c is reached, and the hook not asked. */
	ASSERT_EQ(0, send1(self->a, self->hc));
	EXPECT_MSG(self->c, self->nc, 0, 0);
	EXPECT_CALLS(H_TRANSFER_FILE, 1);

	/* b may, and gets the very file. */
	ASSERT_EQ(0, send_to(self->a, &self->hb, 1, NULL, NULL, 0, &p[0], 1));
	EXPECT_HOOK(H_TRANSFER_FILE, 2, UID_A, UID_B, ino);
	ASSERT_EQ(0, bus1_recv(self->b, &r, sizeof(r)))
		TH_LOG("recv: %s", strerror(errno));
	ASSERT_EQ(1, r.n_fds);
	memcpy(&got, pool + r.offset + ((r.size + 7) & ~7ULL), sizeof(got));
	ASSERT_LE(0, got);
	EXPECT_EQ(ino, ino_of(got));
	close(got);
	EXPECT_EQ(0, bus1_slice_release(self->b, &r.offset, 1, 0));

	/* To both: nothing to either; per destination: only c left out. */
	EXPECT_EQ(-1, send_to(self->a, dst, 2, NULL, NULL, 0, &p[0], 1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);
	ASSERT_EQ(0, send_to(self->a, dst, 2, errs, NULL, 0, &p[0], 1));
	EXPECT_EQ(0, errs[0]);
	EXPECT_EQ(EPERM, errs[1]);
	EXPECT_MSG(self->b, self->nb, 0, 1);
	EXPECT_NONE(self->b);
	EXPECT_NONE(self->c);

	/* A rule on the inode: both ends of that pipe, no other file. */
	reset(_metadata, self->map);
	DENY(H_TRANSFER_FILE, ANY, ANY, ino);
	ASSERT_EQ(0, send_to(self->a, &self->hc, 1, NULL, NULL, 0, &q[0], 1));
	EXPECT_HOOK(H_TRANSFER_FILE, 1, UID_A, UID_C, ino_q);
	EXPECT_MSG(self->c, self->nc, 0, 1);
	EXPECT_EQ(-1, send_to(self->a, &self->hc, 1, NULL, NULL, 0, &p[1], 1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_HOOK(H_TRANSFER_FILE, 2, UID_A, UID_C, ino);
	EXPECT_NONE(self->c);

	EXPECT_CALLS(H_TRANSFER_HANDLE, 0);
	munmap((void *)pool, BUS1_POOL_SIZE);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

TEST_F(lsm, calls_per_destination)
{
	const __u64 dst[] = { self->hb, self->hc, self->hd };
	const __u64 pass[] = { self->na, self->hb };
	__s32 fds[2];
	__u64 id;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fds[0] = p[0];
	fds[1] = p[1];

	/* Nothing passed: only bus1_send is asked, once per destination. */
	ASSERT_EQ(0, send_to(self->a, dst, 3, NULL, NULL, 0, NULL, 0));
	EXPECT_CALLS(H_SEND, 3);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 0);
	EXPECT_CALLS(H_TRANSFER_FILE, 0);
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_MSG(self->c, self->nc, 0, 0);
	EXPECT_MSG(self->d, self->nd, 0, 0);

	/* Two handles and two fds: each asked about per destination. */
	ASSERT_EQ(0, send_to(self->a, dst, 3, NULL, pass, 2, fds, 2));
	EXPECT_CALLS(H_SEND, 6);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 6);
	EXPECT_CALLS(H_TRANSFER_FILE, 6);
	EXPECT_MSG(self->b, self->nb, 2, 2);
	EXPECT_MSG(self->c, self->nc, 2, 2);
	EXPECT_MSG(self->d, self->nd, 2, 2);

	/* Receiving asks nothing; one transfer asks once. */
	EXPECT_CALLS(H_SEND, 6);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 6);
	EXPECT_CALLS(H_TRANSFER_FILE, 6);
	ASSERT_EQ(0, bus1_node_create(self->a, &id, 0));
	EXPECT_NE(0, bus1_transfer_id(self->a, id, self->b));
	EXPECT_CALLS(H_SEND, 6);
	EXPECT_CALLS(H_TRANSFER_HANDLE, 7);
	EXPECT_CALLS(H_TRANSFER_FILE, 6);
	EXPECT_CALLS(H_PEER_CREATE, 0);
	close(p[0]);
	close(p[1]);
}

TEST_F(lsm, detach)
{
	DENY(H_SEND, UID_A, UID_B, ANY);
	EXPECT_EQ(-1, send1(self->a, self->hb));
	EXPECT_EQ(EPERM, errno);

	/* Closing the link takes the program off the hook at once. */
	ASSERT_EQ(0, close(self->link[H_SEND]));
	self->link[H_SEND] = -1;
	ASSERT_EQ(0, send1(self->a, self->hb))
		TH_LOG("send: %s", strerror(errno));
	EXPECT_MSG(self->b, self->nb, 0, 0);
	EXPECT_CALLS(H_SEND, 1);
}

TEST_HARNESS_MAIN
