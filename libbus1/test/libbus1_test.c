// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of libbus1 in the booted kernel: every function, its errors, and
 * that the library hands back every slice and handle it takes. Built
 * without the kernel's uapi headers, so the syscall numbers are the
 * library's own (libbus1/src/syscall-nr.h).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include <libbus1.h>

/* The value of fdinfo field @key of @fd, or ~0 if there is none. */
static unsigned long long fdinfo(int fd, const char *key)
{
	unsigned long long v = ~0ULL;
	char path[64], line[256];
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			sscanf(line + len + 1, "%llu", &v);
	fclose(f);
	return v;
}

static unsigned long long slices(struct bus1_peer *p)
{
	return fdinfo(bus1_peer_fd(p), "bus1-pool-slices");
}

static unsigned long long queued(struct bus1_peer *p)
{
	return fdinfo(bus1_peer_fd(p), "bus1-queued");
}

static unsigned long long handles(struct bus1_peer *p)
{
	return fdinfo(bus1_peer_fd(p), "bus1-handles");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server peer owning node @node, a client holding handle @to_server. */
FIXTURE(pair) {
	struct bus1_peer *server, *client;
	uint64_t node, to_server;
};

FIXTURE_SETUP(pair)
{
	ASSERT_EQ(0, bus1_peer_new(&self->server, 0));
	ASSERT_EQ(0, bus1_peer_new(&self->client, 0));
	ASSERT_EQ(0, bus1_peer_node_new(self->server, &self->node));
	ASSERT_EQ(0, bus1_peer_transfer(self->server, self->node,
					bus1_peer_fd(self->client),
					&self->to_server));
}

FIXTURE_TEARDOWN(pair)
{
	bus1_peer_free(self->client);
	bus1_peer_free(self->server);
}

/* Every raw wrapper reaches its call and returns -errno. */
TEST(sys_wrappers)
{
	struct bus1_transfer t = { 0 };
	struct bus1_send s = { 0 };
	struct bus1_recv r = { 0 };
	uint64_t id, x = 0;
	int fd, saved;

	EXPECT_EQ(-EINVAL, bus1_sys_peer_create(1U << 31));
	fd = bus1_sys_peer_create(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, bus1_sys_node_create(fd, &id, 1));
	EXPECT_EQ(0, bus1_sys_node_create(fd, &id, 0));
	EXPECT_EQ(-EBADF, bus1_sys_handle_transfer(-1, fd, &t, sizeof(t)));
	EXPECT_EQ(-EINVAL, bus1_sys_handle_transfer(fd, fd, &t, 8));
	EXPECT_EQ(-EINVAL, bus1_sys_send(fd, &s, sizeof(s)));
	EXPECT_EQ(-EAGAIN, bus1_sys_recv(fd, &r, sizeof(r)));
	EXPECT_EQ(-EINVAL, bus1_sys_slice_release(fd, &x, 1, 1));
	EXPECT_EQ(-ENXIO, bus1_sys_slice_release(fd, &x, 1, 0));
	EXPECT_EQ(-ENXIO, bus1_sys_handle_release(fd, &x, 1, 0));
	EXPECT_EQ(-ENXIO, bus1_sys_nodes_destroy(fd, &x, 1, 0));
	EXPECT_EQ(-EINVAL, bus1_sys_peer_disconnect(fd, 1));
	/* errno is not how the wrappers report, but a success keeps it. */
	errno = 1234;
	EXPECT_EQ(0, bus1_sys_peer_disconnect(fd, 0));
	saved = errno;
	EXPECT_EQ(1234, saved);
	EXPECT_EQ(-ESHUTDOWN, bus1_sys_node_create(fd, &id, 0));
	close(fd);
}

TEST(peer_new_flags)
{
	struct bus1_peer *p = NULL;
	struct bus1_msg m = { 0 };
	int fd;

	EXPECT_EQ(-EINVAL, bus1_peer_new(&p, 1U << 31));
	EXPECT_TRUE(p == NULL);
	ASSERT_EQ(0, bus1_peer_new(&p, BUS1_PEER_NONBLOCK));
	fd = bus1_peer_fd(p);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(-EAGAIN, bus1_peer_recv(p, &m, 0));
	EXPECT_EQ(-EINVAL, bus1_peer_recv(p, &m, BUS1_RECV_RELEASE));
	bus1_peer_free(p);
	/* The fd is closed with the peer. */
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	bus1_peer_free(NULL);
}

TEST(peer_new_from_fd)
{
	struct bus1_peer *p = NULL;
	int pipefd[2], fd;

	EXPECT_EQ(-EBADF, bus1_peer_new_from_fd(&p, -1));
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EBADFD, bus1_peer_new_from_fd(&p, pipefd[0]));
	close(pipefd[0]);
	close(pipefd[1]);

	fd = bus1_sys_peer_create(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bus1_sys_peer_disconnect(fd, 0));
	EXPECT_EQ(-ESHUTDOWN, bus1_peer_new_from_fd(&p, fd));
	/* A failure leaves the fd to the caller. */
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	close(fd);
	EXPECT_TRUE(p == NULL);

	fd = bus1_sys_peer_create(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bus1_peer_new_from_fd(&p, fd));
	EXPECT_EQ(fd, bus1_peer_fd(p));
	bus1_peer_free(p);
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
}

TEST_F(pair, send_recv_in_place)
{
	static const char hello[] = "hello, bus1";
	struct bus1_msg m = { 0 };

	ASSERT_EQ(0, bus1_peer_send(self->client, self->to_server, hello,
				    sizeof(hello)));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(BUS1_MSG_DATA, m.type);
	EXPECT_EQ(0, m.flags);
	EXPECT_EQ(self->node, m.destination);
	ASSERT_EQ(sizeof(hello), m.size);
	EXPECT_EQ(0, memcmp(hello, m.data, sizeof(hello)));
	EXPECT_EQ(0, m.n_handles);
	EXPECT_EQ(0, m.n_fds);
	EXPECT_TRUE(m.creds == NULL);
	EXPECT_TRUE(m.secctx == NULL);
	EXPECT_EQ(1, slices(self->server));
	EXPECT_EQ(0, bus1_msg_release(&m));
	EXPECT_EQ(0, slices(self->server));
	/* A second release does nothing, and the view is gone. */
	EXPECT_EQ(0, bus1_msg_release(&m));
	EXPECT_TRUE(m.data == NULL);
	EXPECT_EQ(0, m.size);
}

/* Receiving into a held view hands its slice back in the same call. */
TEST_F(pair, recv_releases_previous)
{
	struct bus1_msg m = { 0 };
	uint64_t i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, bus1_peer_send(self->client, self->to_server,
					    &i, sizeof(i)));
	EXPECT_EQ(3, queued(self->server));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
		EXPECT_EQ(i, *(const uint64_t *)m.data);
		/* Queued messages hold slices too: the view holds one. */
		EXPECT_EQ(3 - i, slices(self->server));
	}
	/* A failing receive releases the view as well. */
	ASSERT_EQ(0, fcntl(bus1_peer_fd(self->server), F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(0, slices(self->server));
	EXPECT_TRUE(m.data == NULL);
}

TEST_F(pair, empty_message)
{
	struct bus1_msg m = { 0 };

	ASSERT_EQ(0, bus1_peer_send(self->client, self->to_server, NULL, 0));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(BUS1_MSG_DATA, m.type);
	EXPECT_EQ(0, m.size);
	EXPECT_EQ(1, slices(self->server));
	EXPECT_EQ(0, bus1_msg_release(&m));
	EXPECT_EQ(0, slices(self->server));
}

/* More pieces than the library converts on its stack. */
TEST_F(pair, sendv_many_pieces)
{
	struct iovec iov[100];
	struct bus1_tx tx = { .iov = iov, .n_iov = 100 };
	struct bus1_msg m = { 0 };
	unsigned char bytes[100];
	int i;

	for (i = 0; i < 100; i++) {
		bytes[i] = (unsigned char)(i * 7);
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	ASSERT_EQ(0, bus1_peer_sendv(self->client, &self->to_server, 1, &tx,
				     NULL));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	ASSERT_EQ(100, m.size);
	EXPECT_EQ(0, memcmp(bytes, m.data, 100));
	bus1_msg_release(&m);
}

TEST_F(pair, sendv_errors)
{
	struct bus1_tx tx = { .n_iov = 1 };
	uint64_t dests[2] = { self->to_server, self->to_server };
	int fds[BUS1_FDS_MAX + 1];

	EXPECT_EQ(-EINVAL, bus1_peer_sendv(self->client, dests, 0, NULL,
					   NULL));
	EXPECT_EQ(-EFAULT, bus1_peer_sendv(self->client, dests, 1, &tx, NULL));
	tx = (struct bus1_tx){ .n_handles = 1 };
	EXPECT_EQ(-EFAULT, bus1_peer_sendv(self->client, dests, 1, &tx, NULL));
	tx = (struct bus1_tx){ .n_fds = 1 };
	EXPECT_EQ(-EFAULT, bus1_peer_sendv(self->client, dests, 1, &tx, NULL));
	tx = (struct bus1_tx){ .iov = (struct iovec *)fds,
			       .n_iov = BUS1_VECS_MAX + 1 };
	EXPECT_EQ(-EOVERFLOW, bus1_peer_sendv(self->client, dests, 1, &tx,
					      NULL));
	tx = (struct bus1_tx){ .fds = fds, .n_fds = BUS1_FDS_MAX + 1 };
	EXPECT_EQ(-ETOOMANYREFS, bus1_peer_sendv(self->client, dests, 1, &tx,
						 NULL));
	EXPECT_EQ(-ETOOMANYREFS,
		  bus1_peer_sendv(self->client, dests,
				  BUS1_DESTINATIONS_MAX + 1, NULL, NULL));
	/* The kernel's own errors come through as they are. */
	EXPECT_EQ(-ENOTUNIQ, bus1_peer_sendv(self->client, dests, 2, NULL,
					     NULL));
	dests[0] = 12345;
	EXPECT_EQ(-ENXIO, bus1_peer_send(self->client, dests[0], NULL, 0));
	EXPECT_EQ(0, queued(self->server));
}

/* A multicast with per-destination results, one destination gone. */
TEST(multicast_results)
{
	struct bus1_peer *tx_peer, *rx[3];
	uint64_t nodes[3], dests[3];
	struct bus1_msg m = { 0 };
	int errors[3] = { 7, 7, 7 }, i;
	struct iovec iov = { (void *)"multi", 5 };
	struct bus1_tx tx = { .iov = &iov, .n_iov = 1 };

	ASSERT_EQ(0, bus1_peer_new(&tx_peer, 0));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, bus1_peer_new(&rx[i], 0));
		ASSERT_EQ(0, bus1_peer_node_new(rx[i], &nodes[i]));
		ASSERT_EQ(0, bus1_peer_transfer(rx[i], nodes[i],
						bus1_peer_fd(tx_peer),
						&dests[i]));
	}
	ASSERT_EQ(0, bus1_peer_destroy_nodes(rx[1], &nodes[1], 1));
	/* All or nothing without results ... */
	EXPECT_EQ(-EHOSTUNREACH, bus1_peer_sendv(tx_peer, dests, 3, &tx, NULL));
	EXPECT_EQ(1, queued(rx[1]));	/* the destruction notice */
	EXPECT_EQ(0, queued(rx[0]));
	/* ... and with them the others receive it. */
	ASSERT_EQ(0, bus1_peer_sendv(tx_peer, dests, 3, &tx, errors));
	EXPECT_EQ(0, errors[0]);
	EXPECT_EQ(-EHOSTUNREACH, errors[1]);
	EXPECT_EQ(0, errors[2]);
	for (i = 0; i < 3; i += 2) {
		ASSERT_EQ(0, bus1_peer_recv(rx[i], &m, 0));
		EXPECT_EQ(5, m.size);
		EXPECT_EQ(0, memcmp("multi", m.data, 5));
		bus1_msg_release(&m);
	}
	ASSERT_EQ(0, bus1_peer_recv(rx[1], &m, 0));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, m.type);
	EXPECT_EQ(nodes[1], m.destination);
	EXPECT_TRUE(m.data == NULL);
	for (i = 0; i < 3; i++)
		bus1_peer_free(rx[i]);
	bus1_peer_free(tx_peer);
}

TEST_F(pair, pass_handles_and_fds)
{
	struct bus1_msg m = { 0 };
	uint64_t extra;
	int pipefd[2], fds[2];
	struct bus1_tx tx = { .handles = &extra, .n_handles = 1,
			      .fds = fds, .n_fds = 2 };
	char c = 0;

	ASSERT_EQ(0, bus1_peer_node_new(self->client, &extra));
	ASSERT_EQ(0, pipe(pipefd));
	fds[0] = pipefd[1];
	fds[1] = pipefd[1];
	/* Without BUS1_PEER_RECV_FDS no fd is installed. */
	ASSERT_EQ(0, bus1_peer_sendv(self->client, &self->to_server, 1, &tx,
				     NULL));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	ASSERT_EQ(1, m.n_handles);
	EXPECT_NE(BUS1_HANDLE_INVALID, m.handles[0]);
	ASSERT_EQ(2, m.n_fds);
	EXPECT_EQ(-1, m.fds[0]);
	EXPECT_EQ(-1, m.fds[1]);
	/* The handle is the server's now: it can send to it. */
	EXPECT_EQ(0, bus1_peer_send(self->server, m.handles[0], "x", 1));
	EXPECT_EQ(0, bus1_peer_release_handles(self->server, m.handles, 1));

	ASSERT_EQ(0, bus1_peer_sendv(self->client, &self->to_server, 1, &tx,
				     NULL));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, BUS1_PEER_RECV_FDS));
	ASSERT_EQ(2, m.n_fds);
	ASSERT_LE(0, m.fds[0]);
	ASSERT_LE(0, m.fds[1]);
	EXPECT_TRUE(fcntl(m.fds[0], F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(1, write(m.fds[0], "y", 1));
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	EXPECT_EQ('y', c);
	/* The fds are the caller's: releasing the view keeps them open. */
	EXPECT_EQ(0, bus1_peer_release_handles(self->server, m.handles, 1));
	fds[0] = m.fds[0];
	fds[1] = m.fds[1];
	bus1_msg_release(&m);
	EXPECT_EQ(0, close(fds[0]));
	EXPECT_EQ(0, close(fds[1]));
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(pair, handles_and_nodes)
{
	uint64_t id, other, many[BUS1_RELEASE_MAX + 1] = { 0 };
	struct bus1_msg m = { 0 };

	EXPECT_EQ(-ENXIO, bus1_peer_transfer(self->server, 999,
					     bus1_peer_fd(self->client), &id));
	EXPECT_EQ(-EBADF, bus1_peer_transfer(self->server, self->node, -1,
					     &id));
	EXPECT_EQ(-E2BIG, bus1_peer_release_handles(self->client, many,
						    BUS1_RELEASE_MAX + 1));
	EXPECT_EQ(-E2BIG, bus1_peer_destroy_nodes(self->server, many,
						  BUS1_RELEASE_MAX + 1));
	EXPECT_EQ(-ENXIO, bus1_peer_release_handles(self->client, many, 1));
	EXPECT_EQ(-EPERM, bus1_peer_destroy_nodes(self->client,
						  &self->to_server, 1));
	EXPECT_EQ(-EBUSY, bus1_peer_release_handles(self->server,
						    &self->node, 1));

	/* A second handle of the same node is the same ID. */
	ASSERT_EQ(0, bus1_peer_transfer(self->server, self->node,
					bus1_peer_fd(self->client), &other));
	EXPECT_EQ(self->to_server, other);
	EXPECT_EQ(0, bus1_peer_release_handles(self->client, &other, 1));
	EXPECT_EQ(1, handles(self->client));
	/* The last release tells the owner. */
	EXPECT_EQ(0, bus1_peer_release_handles(self->client, &other, 1));
	EXPECT_EQ(0, handles(self->client));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(BUS1_MSG_NODE_RELEASE, m.type);
	EXPECT_EQ(self->node, m.destination);

	EXPECT_EQ(0, bus1_peer_destroy_nodes(self->server, &self->node, 1));
	EXPECT_EQ(-EALREADY, bus1_peer_destroy_nodes(self->server,
						     &self->node, 1));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, m.type);
	EXPECT_EQ(0, bus1_peer_release_handles(self->server, &self->node, 1));
}

TEST_F(pair, disconnect)
{
	struct bus1_msg m = { 0 };
	uint64_t id;

	EXPECT_EQ(0, bus1_peer_shutdown(self->server));
	EXPECT_EQ(-ESHUTDOWN, bus1_peer_shutdown(self->server));
	EXPECT_EQ(-ESHUTDOWN, bus1_peer_node_new(self->server, &id));
	EXPECT_EQ(-ESHUTDOWN, bus1_peer_recv(self->server, &m, 0));
	EXPECT_EQ(-EHOSTUNREACH, bus1_peer_send(self->client, self->to_server,
						"x", 1));
	ASSERT_EQ(0, bus1_peer_recv(self->client, &m, 0));
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, m.type);
	EXPECT_EQ(self->to_server, m.destination);
}

TEST(creds)
{
	struct bus1_peer *rx, *tx;
	struct bus1_msg m = { 0 };
	uint64_t node, to;

	ASSERT_EQ(0, bus1_peer_new(&rx, BUS1_PEER_CREDS));
	ASSERT_EQ(0, bus1_peer_new(&tx, 0));
	ASSERT_EQ(0, bus1_peer_node_new(rx, &node));
	ASSERT_EQ(0, bus1_peer_transfer(rx, node, bus1_peer_fd(tx), &to));
	ASSERT_EQ(0, bus1_peer_send(tx, to, "abc", 3));
	ASSERT_EQ(0, bus1_peer_recv(rx, &m, 0));
	EXPECT_TRUE(m.flags & BUS1_MSG_CREDS);
	ASSERT_TRUE(m.creds != NULL);
	EXPECT_EQ(geteuid(), m.creds->uid);
	EXPECT_EQ(getegid(), m.creds->gid);
	EXPECT_EQ((uint32_t)getpid(), m.creds->pid);
	ASSERT_TRUE(m.secctx != NULL);
	EXPECT_EQ(m.creds->n_secctx, strlen(m.secctx));
	EXPECT_EQ(0, ((uintptr_t)m.creds) % 8);
	bus1_msg_release(&m);
	bus1_peer_free(tx);
	bus1_peer_free(rx);
}

/* A view outlives its peer's bus1_peer_free(): the mapping stays. */
TEST(view_outlives_peer)
{
	struct bus1_peer *rx, *tx;
	struct bus1_msg m = { 0 };
	uint64_t node, to;

	ASSERT_EQ(0, bus1_peer_new(&rx, 0));
	ASSERT_EQ(0, bus1_peer_new(&tx, 0));
	ASSERT_EQ(0, bus1_peer_node_new(rx, &node));
	ASSERT_EQ(0, bus1_peer_transfer(rx, node, bus1_peer_fd(tx), &to));
	ASSERT_EQ(0, bus1_peer_send(tx, to, "kept", 5));
	ASSERT_EQ(0, bus1_peer_recv(rx, &m, 0));
	bus1_peer_free(rx);
	EXPECT_STREQ("kept", m.data);
	EXPECT_EQ(0, bus1_msg_release(&m));
	EXPECT_TRUE(m.data == NULL);
	bus1_peer_free(tx);
}

/*
 * Run a server in a child: it receives @n requests and answers each as
 * @mode says. Returns the child's pid.
 */
enum serve_mode { SERVE_ECHO, SERVE_LATE, SERVE_DROP, SERVE_NOHANDLE };

static pid_t serve(struct bus1_peer *server, int n, enum serve_mode mode)
{
	pid_t pid = fork();
	struct bus1_msg m = { 0 };
	struct iovec iov;
	struct bus1_tx tx = { .iov = &iov, .n_iov = 1 };
	int i = 0, r;

	if (pid)
		return pid;
	while (i < n) {
		if (bus1_peer_recv(server, &m, 0))
			_exit(10);
		/* Destruction notices of reply nodes given up on. */
		if (m.type != BUS1_MSG_DATA)
			continue;
		iov.iov_base = (void *)m.data;
		iov.iov_len = m.size;
		switch (mode) {
		case SERVE_LATE:
			if (i == 0) {
				usleep(1000 * 1000);
				/* The caller gave up and its node is gone. */
				r = bus1_peer_reply(server, &m, &tx);
				if (r != -EHOSTUNREACH)
					_exit(14);
				break;
			}
			/* fall through */
		case SERVE_ECHO:
			r = bus1_peer_reply(server, &m, &tx);
			if (r)
				_exit(11);
			break;
		case SERVE_DROP:
			if (bus1_peer_release_handles(server, m.handles, 1))
				_exit(12);
			break;
		case SERVE_NOHANDLE:
			if (bus1_peer_reply(server, &m, &tx) != -EBADMSG)
				_exit(13);
			break;
		}
		i++;
	}
	bus1_msg_release(&m);
	_exit(0);
}

static int reaped(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(pair, call_and_reply)
{
	struct iovec iov = { (void *)"ping", 5 };
	struct bus1_tx tx = { .iov = &iov, .n_iov = 1 };
	struct bus1_msg reply = { 0 };
	pid_t pid = serve(self->server, 3, SERVE_ECHO);
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, bus1_peer_call(self->client, self->to_server, &tx,
					    &reply, 5000, 0));
		EXPECT_EQ(BUS1_MSG_DATA, reply.type);
		ASSERT_EQ(5, reply.size);
		EXPECT_STREQ("ping", reply.data);
	}
	bus1_msg_release(&reply);
	EXPECT_EQ(0, reaped(pid));
	/*
	 * The server let go of each reply handle: the release notices are
	 * the library's, and none reaches the caller.
	 */
	ASSERT_EQ(0, fcntl(bus1_peer_fd(self->client), F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, bus1_peer_recv(self->client, &reply, 0));
	EXPECT_EQ(0, slices(self->client));
	/* The client holds its reply node's handle and the server's. */
	EXPECT_EQ(2, handles(self->client));
}

/*
 * A reply that comes after its call timed out does not answer the next
 * call, and the replaced reply node leaves nothing behind.
 */
TEST_F(pair, call_timeout_late_reply)
{
	struct iovec iov[2] = { { (void *)"one", 4 }, { (void *)"two", 4 } };
	struct bus1_tx tx = { .iov = &iov[0], .n_iov = 1 };
	struct bus1_msg reply = { 0 };
	pid_t pid = serve(self->server, 2, SERVE_LATE);
	int64_t t0 = now_ms();

	EXPECT_EQ(-ETIMEDOUT, bus1_peer_call(self->client, self->to_server,
					     &tx, &reply, 100, 0));
	EXPECT_LE(100, now_ms() - t0);
	EXPECT_GT(900, now_ms() - t0);
	tx.iov = &iov[1];
	ASSERT_EQ(0, bus1_peer_call(self->client, self->to_server, &tx,
				    &reply, 5000, 0));
	EXPECT_STREQ("two", reply.data);
	bus1_msg_release(&reply);
	EXPECT_EQ(0, reaped(pid));
	ASSERT_EQ(0, fcntl(bus1_peer_fd(self->client), F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, bus1_peer_recv(self->client, &reply, 0));
	EXPECT_EQ(2, handles(self->client));
}

/*
 * The release notice of the first call's reply node is queued when the
 * second call passes the node again, which withdraws it: poll() still
 * reports it. The second call times out all the same (the alarm ends
 * the test if it waits in a receive instead), and the descriptor is
 * blocking again after it.
 */
TEST_F(pair, call_timeout_after_call)
{
	struct bus1_msg reply = { 0 };
	pid_t pid = serve(self->server, 1, SERVE_ECHO);
	int64_t t0;

	ASSERT_EQ(0, bus1_peer_call(self->client, self->to_server, NULL,
				    &reply, 5000, 0));
	EXPECT_EQ(0, reaped(pid));	/* it let go of the reply handle */
	EXPECT_EQ(1, queued(self->client));
	alarm(10);
	t0 = now_ms();
	EXPECT_EQ(-ETIMEDOUT, bus1_peer_call(self->client, self->to_server,
					     NULL, &reply, 200, 0));
	alarm(0);
	EXPECT_LE(200, now_ms() - t0);
	EXPECT_EQ(0, fcntl(bus1_peer_fd(self->client), F_GETFL) & O_NONBLOCK);
	bus1_msg_release(&reply);
}

TEST_F(pair, call_callee_drops_handle)
{
	struct bus1_msg reply = { 0 };
	pid_t pid = serve(self->server, 1, SERVE_DROP);

	EXPECT_EQ(-EPIPE, bus1_peer_call(self->client, self->to_server, NULL,
					 &reply, 5000, 0));
	EXPECT_EQ(0, reaped(pid));
	EXPECT_TRUE(reply.data == NULL);
}

TEST_F(pair, call_callee_exits)
{
	struct bus1_msg reply = { 0 };
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct bus1_msg m = { 0 };

		/* Take the request, then die without a reply. */
		_exit(bus1_peer_recv(self->server, &m, 0) ? 1 : 0);
	}
	/* The parent's copy of the server fd must not keep it alive. */
	bus1_peer_free(self->server);
	self->server = NULL;
	EXPECT_EQ(-EPIPE, bus1_peer_call(self->client, self->to_server, NULL,
					 &reply, 5000, 0));
	EXPECT_EQ(0, reaped(pid));
}

TEST_F(pair, reply_errors)
{
	struct bus1_msg m = { 0 }, reply = { 0 };
	pid_t pid = serve(self->server, 1, SERVE_NOHANDLE);

	/* A plain message has no reply handle. */
	ASSERT_EQ(0, bus1_peer_send(self->client, self->to_server, "x", 1));
	EXPECT_EQ(0, reaped(pid));
	EXPECT_EQ(-EBADMSG, bus1_peer_reply(self->server, &m, NULL));
	EXPECT_EQ(-EINVAL, bus1_peer_call(self->client, self->to_server, NULL,
					  &reply, 0, BUS1_RECV_RELEASE));
	EXPECT_EQ(-ETIMEDOUT, bus1_peer_call(self->client, self->to_server,
					     NULL, &reply, 0, 0));
	ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
	ASSERT_EQ(1, m.n_handles);
	/* The caller gave up and destroyed its reply node. */
	EXPECT_EQ(-EHOSTUNREACH, bus1_peer_reply(self->server, &m, NULL));
	bus1_msg_release(&m);
	EXPECT_EQ(-ENXIO, bus1_peer_call(self->client, 4242, NULL, &reply,
					 0, 0));
}

/* The reply handle counts against the handles a message can carry. */
TEST_F(pair, call_too_many_handles)
{
	uint64_t ids[BUS1_HANDLES_MAX];
	struct bus1_tx tx = { .handles = ids, .n_handles = BUS1_HANDLES_MAX };
	struct bus1_msg reply = { 0 };
	int i;

	for (i = 0; i < BUS1_HANDLES_MAX; i++)
		ids[i] = self->to_server;
	EXPECT_EQ(-ETOOMANYREFS, bus1_peer_call(self->client, self->to_server,
						&tx, &reply, 0, 0));
	EXPECT_EQ(0, queued(self->server));
	tx.n_handles = BUS1_HANDLES_MAX - 1;
	EXPECT_EQ(-ETIMEDOUT, bus1_peer_call(self->client, self->to_server,
					     &tx, &reply, 0, 0));
	EXPECT_EQ(1, queued(self->server));
}

/* What arrives for other nodes during a call is kept, in order. */
TEST_F(pair, call_keeps_other_entries)
{
	struct bus1_peer *third;
	struct bus1_msg m = { 0 }, reply = { 0 };
	uint64_t cnode, to_client;
	pid_t pid;
	int i;

	ASSERT_EQ(0, bus1_peer_new(&third, 0));
	ASSERT_EQ(0, bus1_peer_node_new(self->client, &cnode));
	ASSERT_EQ(0, bus1_peer_transfer(self->client, cnode,
					bus1_peer_fd(third), &to_client));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, bus1_peer_send(third, to_client, &i, sizeof(i)));
	pid = serve(self->server, 1, SERVE_ECHO);
	ASSERT_EQ(0, bus1_peer_call(self->client, self->to_server, NULL,
				    &reply, 5000, 0));
	EXPECT_EQ(0, reply.size);
	EXPECT_EQ(0, reaped(pid));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, bus1_peer_recv(self->client, &m, 0));
		EXPECT_EQ(cnode, m.destination);
		EXPECT_EQ(i, *(const int *)m.data);
	}
	/* Kept entries hold their slices until received and released. */
	bus1_msg_release(&m);
	bus1_msg_release(&reply);
	EXPECT_EQ(0, slices(self->client));
	bus1_peer_free(third);
}

/* Kept entries are released with their peer. */
TEST_F(pair, free_with_kept_entries)
{
	struct bus1_peer *third;
	struct bus1_msg reply = { 0 };
	uint64_t cnode, to_client;

	ASSERT_EQ(0, bus1_peer_new(&third, 0));
	ASSERT_EQ(0, bus1_peer_node_new(self->client, &cnode));
	ASSERT_EQ(0, bus1_peer_transfer(self->client, cnode,
					bus1_peer_fd(third), &to_client));
	ASSERT_EQ(0, bus1_peer_send(third, to_client, "k", 1));
	EXPECT_EQ(-ETIMEDOUT, bus1_peer_call(self->client, self->to_server,
					     NULL, &reply, 0, 0));
	bus1_peer_free(self->client);
	self->client = NULL;
	bus1_peer_free(third);
}

struct counter {
	int n, stop_at;
	uint64_t sum;
};

static int count_msg(struct bus1_peer *peer, const struct bus1_msg *m,
		     void *userdata)
{
	struct counter *c = userdata;

	(void)peer;
	if (m->type == BUS1_MSG_DATA)
		c->sum += *(const uint64_t *)m->data;
	if (++c->n == c->stop_at)
		return -ECANCELED;
	return 0;
}

static void dispatch_test(struct __test_metadata *_metadata,
			  struct bus1_peer *tx, struct bus1_peer *rx,
			  uint64_t to)
{
	struct counter c = { 0 };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	uint64_t i;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, bus1_peer_fd(rx), &ev));
	/* Nothing to do: returns at once, also on a blocking peer. */
	EXPECT_EQ(0, bus1_peer_dispatch(rx, count_msg, &c, 0));
	for (i = 1; i <= 5; i++)
		ASSERT_EQ(0, bus1_peer_send(tx, to, &i, sizeof(i)));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 1000));
	EXPECT_EQ(5, bus1_peer_dispatch(rx, count_msg, &c, 0));
	EXPECT_EQ(15, c.sum);
	EXPECT_EQ(0, slices(rx));
	/* Edge-triggered: dispatch drained it, nothing more is signalled. */
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	/* A handler's error stops the loop and is returned. */
	c = (struct counter){ .stop_at = 2 };
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, bus1_peer_send(tx, to, &i, sizeof(i)));
	EXPECT_EQ(-ECANCELED, bus1_peer_dispatch(rx, count_msg, &c, 0));
	EXPECT_EQ(1, slices(rx));	/* the third, still queued */
	EXPECT_EQ(1, queued(rx));
	EXPECT_EQ(1, bus1_peer_dispatch(rx, count_msg, &c, 0));
	EXPECT_EQ(6, c.sum);
	EXPECT_EQ(-EINVAL, bus1_peer_dispatch(rx, count_msg, &c, 1U << 30));
	close(ep);
}

TEST_F(pair, dispatch_blocking)
{
	dispatch_test(_metadata, self->client, self->server, self->to_server);
}

TEST_F(pair, dispatch_nonblocking)
{
	ASSERT_EQ(0, fcntl(bus1_peer_fd(self->server), F_SETFL, O_NONBLOCK));
	dispatch_test(_metadata, self->client, self->server, self->to_server);
}

/*
 * After a call the release notice of the reply node is queued: poll()
 * reports it, but it is the library's. Dispatch passes it over and
 * returns instead of waiting in bus1_recv() for an entry that is not
 * there (the alarm ends the test if it does).
 */
TEST_F(pair, dispatch_after_call)
{
	struct bus1_msg reply = { 0 };
	struct counter c = { 0 };
	pid_t pid = serve(self->server, 1, SERVE_ECHO);

	ASSERT_EQ(0, bus1_peer_call(self->client, self->to_server, NULL,
				    &reply, 5000, 0));
	bus1_msg_release(&reply);
	EXPECT_EQ(0, reaped(pid));	/* it let go of the reply handle */
	EXPECT_EQ(1, queued(self->client));
	alarm(10);
	EXPECT_EQ(0, bus1_peer_dispatch(self->client, count_msg, &c, 0));
	alarm(0);
	EXPECT_EQ(0, c.n);
	EXPECT_EQ(0, queued(self->client));
}

TEST(dispatch_bad_fd)
{
	struct bus1_peer *p;
	struct counter c = { 0 };

	ASSERT_EQ(0, bus1_peer_new(&p, 0));
	ASSERT_EQ(0, bus1_peer_shutdown(p));
	EXPECT_EQ(-ESHUTDOWN, bus1_peer_dispatch(p, count_msg, &c, 0));
	bus1_peer_free(p);
}

/* Senders on several threads share one peer. */
struct sender {
	struct bus1_peer *peer;
	uint64_t to;
	int failed;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;
	uint64_t i;

	for (i = 0; i < 200; i++)
		if (bus1_peer_send(s->peer, s->to, &i, sizeof(i)))
			s->failed++;
	return NULL;
}

TEST_F(pair, threads_send)
{
	struct sender s = { self->client, self->to_server, 0 };
	struct bus1_msg m = { 0 };
	pthread_t t[4];
	uint64_t sum = 0;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, send_many, &s));
	for (i = 0; i < 800; i++) {
		ASSERT_EQ(0, bus1_peer_recv(self->server, &m, 0));
		sum += *(const uint64_t *)m.data;
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, s.failed);
	EXPECT_EQ(4 * 199 * 200 / 2, sum);
	bus1_msg_release(&m);
	EXPECT_EQ(0, slices(self->server));
}

/* The README's example (built into the guest beside the tests) works. */
TEST(readme_example)
{
	char out[256] = "";
	size_t len = 0;
	ssize_t n;
	FILE *f;

	f = popen("/bus1/readme-example", "r");
	ASSERT_TRUE(f != NULL);
	while ((n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	EXPECT_EQ(0, pclose(f));
	/* Two processes write to one pipe: in either order. */
	EXPECT_EQ(36, len);
	EXPECT_TRUE(strstr(out, "server got \"ping\"\n") != NULL);
	EXPECT_TRUE(strstr(out, "client got \"pong\"\n") != NULL);
}

TEST_HARNESS_MAIN
