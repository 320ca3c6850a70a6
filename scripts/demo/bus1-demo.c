// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 demo, run in the guest by "make run": shows what the patched kernel
 * can do, one step per line. It grows as the series does.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bus1.h>

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

static void demo_handles(int a)
{
	struct bus1_transfer t = {};
	__u64 node = 0, in_b, again;
	int b;

	b = syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC);
	step(b >= 0, "a second peer");
	step(!syscall(__NR_bus1_node_create, a, &node, 0),
	     "bus1_node_create(): the first peer owns a node");
	printf("         the owner's handle ID is %llu\n", (unsigned long long)node);

	t.src_id = node;
	step(!syscall(__NR_bus1_handle_transfer, a, b, &t, sizeof(t)),
	     "bus1_handle_transfer(): the second peer gets a handle to it");
	in_b = t.dst_id;
	printf("         its ID there is %llu\n", (unsigned long long)in_b);
	step(!syscall(__NR_bus1_handle_transfer, a, b, &t, sizeof(t)),
	     "giving the same node again...");
	again = t.dst_id;
	step(again == in_b, "...merges into the handle it already has");

	t.src_id = in_b + 100;
	step(syscall(__NR_bus1_handle_transfer, b, a, &t, sizeof(t)) < 0 &&
	     errno == ENXIO, "an ID the peer was not given fails with ENXIO");
	printf("  fdinfo of the second peer:\n");
	show_fdinfo(b);
	close(b);
}

static int peer(void)
{
	return syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC);
}

static __u64 node_of(int fd)
{
	__u64 id = 0;

	syscall(__NR_bus1_node_create, fd, &id, 0);
	return id;
}

static __u64 give(int src, __u64 id, int dst)
{
	struct bus1_transfer t = { .src_id = id };

	return syscall(__NR_bus1_handle_transfer, src, dst, &t, sizeof(t)) ? 0 : t.dst_id;
}

static int send_text(int fd, const __u64 *dst, unsigned int n, const char *text)
{
	struct bus1_vec vec = { (uintptr_t)text, strlen(text) + 1 };
	struct bus1_send s = {
		.ptr_destinations = (uintptr_t)dst, .n_destinations = n,
		.ptr_vecs = (uintptr_t)&vec, .n_vecs = 1,
	};

	return syscall(__NR_bus1_send, fd, &s, sizeof(s));
}

/* Receive one message, print it as text, and release its slice. */
static int recv_text(int fd, const char *who)
{
	struct bus1_recv r = {};
	const char *pool;
	int ok;

	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ok = pool != MAP_FAILED && !syscall(__NR_bus1_recv, fd, &r, sizeof(r));
	if (ok) {
		printf("         %s (pid %d) got \"%s\" for node %llu at pool offset %llu\n",
		       who, getpid(), pool + r.offset, (unsigned long long)r.destination,
		       (unsigned long long)r.offset);
		ok = !syscall(__NR_bus1_slice_release, fd, &r.offset, 1, 0);
	}
	if (pool != MAP_FAILED)
		munmap((void *)pool, BUS1_POOL_SIZE);
	fflush(stdout);
	return ok;
}

/* Wait for every child; true if all of them exited with 0. */
static int children_ok(void)
{
	int status, ok = 1;

	while (wait(&status) > 0)
		ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	return ok;
}

/* Two processes: a client sends a request, the server answers it. */
static void demo_request_reply(void)
{
	int server = peer(), client = peer();
	__u64 server_node = node_of(server), client_node = node_of(client);
	__u64 to_server = give(server, server_node, client);
	__u64 to_client = give(client, client_node, server);

	step(to_server && to_client, "a server and a client peer hold handles to each other");
	fflush(stdout);
	if (!fork()) {
		close(server);
		_exit(!(send_text(client, &to_server, 1, "ping") == 0 &&
			recv_text(client, "client")));
	}
	close(client);
	step(recv_text(server, "server") &&
	     send_text(server, &to_client, 1, "pong") == 0,
	     "bus1_send()/bus1_recv(): the server got the request and answered");
	step(children_ok(), "the client process got the answer");
	close(server);
}

/* One send reaches three receiver processes, atomically. */
static void demo_multicast(void)
{
	int sender = peer(), rx[3], i;
	__u64 dst[3], twice[2];

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
	step(send_text(sender, dst, 3, "one message, three receivers") == 0,
	     "bus1_send() to three handles at once: one transaction");
	step(children_ok(), "each receiver process got its own copy, in its own pool");
	twice[0] = dst[0];
	twice[1] = dst[0];
	step(send_text(sender, twice, 2, "x") < 0 && errno == ENOTUNIQ,
	     "naming a destination twice fails with ENOTUNIQ, nothing sent");
	for (i = 0; i < 3; i++)
		close(rx[i]);
	close(sender);
}

/*
 * A capability inside a message: a client process gets a handle to a
 * service, and a pipe, from a third peer, and uses both.
 */
static void demo_capabilities(void)
{
	int service = peer(), client = peer(), introducer = peer(), pipefd[2];
	__u64 svc_node = node_of(service), cl_node = node_of(client);
	__u64 to_svc = give(service, svc_node, introducer);
	__u64 to_client = give(client, cl_node, introducer);
	struct bus1_send s = {
		.ptr_destinations = (uintptr_t)&to_client, .n_destinations = 1,
		.ptr_handles = (uintptr_t)&to_svc, .n_handles = 1,
		.ptr_fds = (uintptr_t)&pipefd[1], .n_fds = 1,
	};
	char buf[64] = "";

	step(!pipe(pipefd) && syscall(__NR_bus1_send, introducer, &s, sizeof(s)) == 0,
	     "a message passes a handle to a service and a pipe fd to a client");
	close(pipefd[1]);
	close(introducer);
	fflush(stdout);
	if (!fork()) {
		struct bus1_recv r = { .flags = BUS1_RECV_FDS };
		const char *pool;
		__u64 svc;
		__s32 fd;

		close(service);
		pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, client, 0);
		if (pool == MAP_FAILED || syscall(__NR_bus1_recv, client, &r, sizeof(r)))
			_exit(1);
		memcpy(&svc, pool + r.offset, sizeof(svc));
		memcpy(&fd, pool + r.offset + sizeof(svc), sizeof(fd));
		printf("         client (pid %d) got handle %llu and fd %d\n", getpid(),
		       (unsigned long long)svc, fd);
		fflush(stdout);
		_exit(!(send_text(client, &svc, 1, "hello through a passed handle") == 0 &&
			write(fd, "and through a passed fd", 24) == 24));
	}
	close(client);
	step(recv_text(service, "service"), "the client used the handle it was passed");
	step(children_ok() && read(pipefd[0], buf, sizeof(buf) - 1) == 24,
	     "...and the fd, installed in its own fd table");
	printf("         the pipe says \"%s\"\n", buf);
	close(pipefd[0]);
	close(service);
}

static const char *type_name(__u64 type)
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
static int recv_notice(int fd, const char *who, __u64 type, __u64 id)
{
	struct bus1_recv r = {};

	if (syscall(__NR_bus1_recv, fd, &r, sizeof(r)))
		return 0;
	printf("         %s (pid %d) got %s for handle %llu\n", who, getpid(),
	       type_name(r.type), (unsigned long long)r.destination);
	fflush(stdout);
	return r.type == type && r.destination == id;
}

/*
 * Node life cycle across processes: the owner learns when its last
 * client is gone, and a destruction reaches the client that holds the
 * node.
 */
static void demo_lifecycle(void)
{
	int owner = peer(), client = peer();
	__u64 node = node_of(owner), held;

	held = give(owner, node, client);
	step(held != 0, "an owner gives a client process a handle to its node");
	fflush(stdout);
	if (!fork()) {
		close(owner);
		_exit(0);	/* the client exits: its handle goes */
	}
	close(client);
	step(children_ok() && recv_notice(owner, "owner", BUS1_MSG_NODE_RELEASE, node),
	     "the client exits: the owner is told nobody else holds the node");

	client = peer();
	held = give(owner, node, client);
	fflush(stdout);
	if (!fork()) {
		close(owner);
		/* Blocks until the owner destroys the node. */
		_exit(!recv_notice(client, "client", BUS1_MSG_NODE_DESTROY, held));
	}
	step(syscall(__NR_bus1_nodes_destroy, owner, &node, 1, 0) == 0,
	     "bus1_nodes_destroy(): the owner destroys the node");
	step(children_ok(), "the client process, blocked in bus1_recv(), got the notice");
	step(recv_notice(owner, "owner", BUS1_MSG_NODE_DESTROY, node),
	     "so did the owner, at the same logical time");
	step(send_text(owner, &node, 1, "x") < 0 && errno == EHOSTUNREACH,
	     "sending to a destroyed node fails with EHOSTUNREACH");
	step(syscall(__NR_bus1_peer_disconnect, client, 0) == 0 &&
	     syscall(__NR_bus1_recv, client, &(struct bus1_recv){}, sizeof(struct bus1_recv)) < 0 &&
	     errno == ESHUTDOWN,
	     "bus1_peer_disconnect(): every later call fails with ESHUTDOWN");
	close(client);
	close(owner);
}

int main(void)
{
	struct pollfd pfd;
	void *pool;
	int fd;

	printf("bus1 demo: syscall bus1_peer_create is number %d here\n",
	       __NR_bus1_peer_create);

	fd = syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK);
	step(fd >= 0, "bus1_peer_create(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK) gives a peer fd");
	if (fd < 0) {
		printf("         %s\n", strerror(errno));
		return 1;
	}
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
	step(syscall(__NR_bus1_peer_create, 1U << 7) < 0 && errno == EINVAL,
	     "an unknown flag fails with EINVAL");

	demo_handles(fd);
	printf("  messages:\n");
	demo_request_reply();
	demo_multicast();
	demo_capabilities();
	printf("  life cycle:\n");
	demo_lifecycle();

	close(fd);
	step(pool != MAP_FAILED && ((char *)pool)[0] == 0,
	     "the mapping stays readable after the peer is closed");
	munmap(pool, BUS1_POOL_SIZE);

	printf("bus1 demo: %s\n", failed ? "FAILED" : "all steps passed");
	return failed;
}
