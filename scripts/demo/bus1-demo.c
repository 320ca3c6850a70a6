// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 demo, run in the guest by "make run": shows what the patched kernel
 * can do, one step per line, through libbus1 as a program would use it.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libbus1.h>

static int failed;

static void step(int ok, const char *what)
{
	printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
	failed |= !ok;
}

static void show_fdinfo(int fd)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "bus1-", 5))
			printf("         %s", line);
	fclose(f);
}

static struct bus1_peer *peer(void)
{
	struct bus1_peer *p;

	if (bus1_peer_new(&p, 0)) {
		printf("  [FAIL] bus1_peer_new()\n");
		exit(1);
	}
	return p;
}

static uint64_t node_of(struct bus1_peer *p)
{
	uint64_t id = 0;

	bus1_peer_node_new(p, &id);
	return id;
}

static uint64_t give(struct bus1_peer *src, uint64_t id, struct bus1_peer *dst)
{
	uint64_t dst_id = 0;

	bus1_peer_transfer(src, id, bus1_peer_fd(dst), &dst_id);
	return dst_id;
}

static int send_text(struct bus1_peer *p, uint64_t dst, const char *text)
{
	return bus1_peer_send(p, dst, text, strlen(text) + 1);
}

/* Receive one message, print it as text; the view is released after. */
static int recv_text(struct bus1_peer *p, const char *who)
{
	struct bus1_msg m = { 0 };

	if (bus1_peer_recv(p, &m, 0) || m.type != BUS1_MSG_DATA)
		return 0;
	printf("         %s (pid %d) got \"%s\" for node %llu, in place in its pool\n",
	       who, getpid(), (const char *)m.data,
	       (unsigned long long)m.destination);
	fflush(stdout);
	return bus1_msg_release(&m) == 0;
}

/* Wait for every child; true if all of them exited with 0. */
static int children_ok(void)
{
	int status, ok = 1;

	while (wait(&status) > 0)
		ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	return ok;
}

static void demo_handles(struct bus1_peer *a)
{
	struct bus1_peer *b = peer();
	uint64_t node = node_of(a), in_b, again, none;

	step(node != 0, "bus1_node_create(): the first peer owns a node");
	printf("         the owner's handle ID is %llu\n", (unsigned long long)node);
	in_b = give(a, node, b);
	step(in_b != 0, "bus1_handle_transfer(): a second peer gets a handle to it");
	printf("         its ID there is %llu\n", (unsigned long long)in_b);
	again = give(a, node, b);
	step(again == in_b, "giving the same node again merges into the handle it has");
	step(bus1_peer_transfer(b, in_b + 100, bus1_peer_fd(a), &none) == -ENXIO,
	     "an ID the peer was not given fails with ENXIO");
	printf("  fdinfo of the second peer:\n");
	show_fdinfo(bus1_peer_fd(b));
	bus1_peer_free(b);
}

/* Two processes: a client calls, the server answers. */
static void demo_call(void)
{
	struct bus1_peer *server = peer(), *client = peer();
	uint64_t node = node_of(server), to_server = give(server, node, client);
	struct iovec iov = { (void *)"ping", 5 };
	struct bus1_tx tx = { .iov = &iov, .n_iov = 1 };
	struct bus1_msg m = { 0 };

	step(to_server != 0, "a client peer holds a handle to a server's node");
	fflush(stdout);
	if (!fork()) {
		bus1_peer_free(server);
		if (bus1_peer_call(client, to_server, &tx, &m, 5000, 0))
			_exit(1);
		printf("         client (pid %d) got the reply \"%s\"\n", getpid(),
		       (const char *)m.data);
		fflush(stdout);
		bus1_msg_release(&m);
		_exit(0);
	}
	bus1_peer_free(client);
	iov.iov_base = (void *)"pong";
	step(bus1_peer_recv(server, &m, 0) == 0 && m.n_handles == 1 &&
	     bus1_peer_reply(server, &m, &tx) == 0,
	     "bus1_peer_call(): the request carried a reply handle, the server replied");
	bus1_msg_release(&m);
	step(children_ok(), "the client process got the reply");
	bus1_peer_free(server);
}

/* One send reaches three receiver processes, atomically. */
static void demo_multicast(void)
{
	struct bus1_peer *sender = peer(), *rx[3];
	uint64_t dst[3], twice[2];
	struct iovec iov = { (void *)"one message, three receivers", 29 };
	struct bus1_tx tx = { .iov = &iov, .n_iov = 1 };
	int errors[3], i;

	for (i = 0; i < 3; i++) {
		rx[i] = peer();
		dst[i] = give(rx[i], node_of(rx[i]), sender);
	}
	fflush(stdout);
	for (i = 0; i < 3; i++) {
		if (!fork()) {
			char who[16];

			snprintf(who, sizeof(who), "receiver %d", i);
			_exit(!recv_text(rx[i], who));
		}
	}
	step(bus1_peer_sendv(sender, dst, 3, &tx, errors) == 0 &&
	     !errors[0] && !errors[1] && !errors[2],
	     "bus1_send() to three handles at once: one transaction");
	step(children_ok(), "each receiver process got its own copy, in its own pool");
	twice[0] = dst[0];
	twice[1] = dst[0];
	step(bus1_peer_sendv(sender, twice, 2, &tx, NULL) == -ENOTUNIQ,
	     "naming a destination twice fails with ENOTUNIQ, nothing sent");
	for (i = 0; i < 3; i++)
		bus1_peer_free(rx[i]);
	bus1_peer_free(sender);
}

/*
 * A capability inside a message: a client process gets a handle to a
 * service, and a pipe, from a third peer, and uses both.
 */
static void demo_capabilities(void)
{
	struct bus1_peer *service = peer(), *client = peer(), *introducer = peer();
	uint64_t to_svc = give(service, node_of(service), introducer);
	uint64_t to_client = give(client, node_of(client), introducer);
	int pipefd[2];
	struct bus1_tx tx = { .handles = &to_svc, .n_handles = 1,
			      .fds = &pipefd[1], .n_fds = 1 };
	char buf[64] = "";

	step(!pipe(pipefd) &&
	     bus1_peer_sendv(introducer, &to_client, 1, &tx, NULL) == 0,
	     "a message passes a handle to a service and a pipe fd to a client");
	close(pipefd[1]);
	bus1_peer_free(introducer);
	fflush(stdout);
	if (!fork()) {
		struct bus1_msg m = { 0 };
		uint64_t svc;
		int fd;

		bus1_peer_free(service);
		if (bus1_peer_recv(client, &m, BUS1_PEER_RECV_FDS) ||
		    m.n_handles != 1 || m.n_fds != 1)
			_exit(1);
		svc = m.handles[0];
		fd = m.fds[0];
		bus1_msg_release(&m);
		printf("         client (pid %d) got handle %llu and fd %d\n",
		       getpid(), (unsigned long long)svc, fd);
		fflush(stdout);
		_exit(!(send_text(client, svc, "hello through a passed handle") == 0 &&
			write(fd, "and through a passed fd", 24) == 24));
	}
	bus1_peer_free(client);
	step(recv_text(service, "service"), "the client used the handle it was passed");
	step(children_ok() && read(pipefd[0], buf, sizeof(buf) - 1) == 24,
	     "...and the fd, installed in its own fd table");
	printf("         the pipe says \"%s\"\n", buf);
	close(pipefd[0]);
	bus1_peer_free(service);
}

static const char *type_name(uint64_t type)
{
	switch (type) {
	case BUS1_MSG_DATA:
		return "BUS1_MSG_DATA";
	case BUS1_MSG_NODE_DESTROY:
		return "BUS1_MSG_NODE_DESTROY";
	case BUS1_MSG_NODE_RELEASE:
		return "BUS1_MSG_NODE_RELEASE";
	}
	return "unknown";
}

/* Receive one notice; true if it has @type and names @id. */
static int recv_notice(struct bus1_peer *p, const char *who, uint64_t type,
		       uint64_t id)
{
	struct bus1_msg m = { 0 };

	if (bus1_peer_recv(p, &m, 0))
		return 0;
	printf("         %s (pid %d) got %s for handle %llu\n", who, getpid(),
	       type_name(m.type), (unsigned long long)m.destination);
	fflush(stdout);
	return m.type == type && m.destination == id;
}

/* An event loop: the peer fd in poll(), then everything that is ready. */
static int count(struct bus1_peer *p, const struct bus1_msg *m, void *n)
{
	(void)p;
	(void)m;
	++*(int *)n;
	return 0;
}

static void demo_event_loop(void)
{
	struct bus1_peer *rx = peer(), *tx = peer();
	uint64_t to = give(rx, node_of(rx), tx);
	struct pollfd pfd = { .fd = bus1_peer_fd(rx), .events = POLLIN };
	int i, n = 0;

	for (i = 0; i < 5; i++)
		send_text(tx, to, "tick");
	step(poll(&pfd, 1, 1000) == 1 && bus1_peer_dispatch(rx, count, &n, 0) == 5 &&
	     n == 5, "poll() on the peer fd, then bus1_peer_dispatch() handles all five");
	bus1_peer_free(tx);
	bus1_peer_free(rx);
}

/*
 * Node life cycle across processes: the owner learns when its last
 * client is gone, and a destruction reaches the client that holds the
 * node.
 */
static void demo_lifecycle(void)
{
	struct bus1_peer *owner = peer(), *client = peer();
	struct bus1_msg m = { 0 };
	uint64_t node = node_of(owner), held;

	held = give(owner, node, client);
	step(held != 0, "an owner gives a client process a handle to its node");
	fflush(stdout);
	if (!fork()) {
		bus1_peer_free(owner);
		_exit(0);	/* the client exits: its handle goes */
	}
	bus1_peer_free(client);
	step(children_ok() && recv_notice(owner, "owner", BUS1_MSG_NODE_RELEASE, node),
	     "the client exits: the owner is told nobody else holds the node");

	client = peer();
	held = give(owner, node, client);
	fflush(stdout);
	if (!fork()) {
		bus1_peer_free(owner);
		/* Blocks until the owner destroys the node. */
		_exit(!recv_notice(client, "client", BUS1_MSG_NODE_DESTROY, held));
	}
	step(bus1_peer_destroy_nodes(owner, &node, 1) == 0,
	     "bus1_nodes_destroy(): the owner destroys the node");
	step(children_ok(), "the client process, blocked in bus1_recv(), got the notice");
	step(recv_notice(owner, "owner", BUS1_MSG_NODE_DESTROY, node),
	     "so did the owner, at the same logical time");
	step(send_text(owner, node, "x") == -EHOSTUNREACH,
	     "sending to a destroyed node fails with EHOSTUNREACH");
	step(bus1_peer_shutdown(client) == 0 &&
	     bus1_peer_recv(client, &m, 0) == -ESHUTDOWN,
	     "bus1_peer_disconnect(): every later call fails with ESHUTDOWN");
	bus1_peer_free(client);
	bus1_peer_free(owner);
}

int main(void)
{
	struct pollfd pfd;
	struct bus1_peer *p;
	void *pool;
	int fd, r;

	printf("bus1 demo, on libbus1\n");
	r = bus1_peer_new(&p, BUS1_PEER_NONBLOCK);
	step(r == 0, "bus1_peer_new(BUS1_PEER_NONBLOCK) gives a peer, its pool mapped");
	if (r) {
		printf("         %s\n", strerror(-r));
		return 1;
	}
	fd = bus1_peer_fd(p);
	step(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the fd is close-on-exec");
	step(fcntl(fd, F_GETFL) & O_NONBLOCK, "the file is non-blocking");
	printf("  fdinfo of the peer:\n");
	show_fdinfo(fd);

	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	step(pool != MAP_FAILED, "its receive pool maps read-only (16 MiB)");
	step(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
	     errno == EPERM, "a writable mapping is refused with EPERM");
	step(pool != MAP_FAILED && mprotect(pool, 4096, PROT_READ | PROT_WRITE) &&
	     errno == EACCES, "mprotect() to writable is refused with EACCES");

	pfd.fd = fd;
	pfd.events = POLLIN;
	step(poll(&pfd, 1, 0) == 0, "poll(): nothing to read on a fresh peer");
	step(bus1_sys_peer_create(1U << 7) == -EINVAL,
	     "an unknown flag fails with EINVAL");

	demo_handles(p);
	printf("  messages:\n");
	demo_call();
	demo_multicast();
	demo_capabilities();
	demo_event_loop();
	printf("  life cycle:\n");
	demo_lifecycle();

	bus1_peer_free(p);
	step(pool != MAP_FAILED && ((char *)pool)[0] == 0,
	     "the mapping stays readable after the peer is closed");
	munmap(pool, BUS1_POOL_SIZE);

	printf("bus1 demo: %s\n", failed ? "FAILED" : "all steps passed");
	return failed;
}
