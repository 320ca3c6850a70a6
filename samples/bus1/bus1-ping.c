// SPDX-License-Identifier: GPL-2.0
/*
 * bus1-ping: a request and its reply over bus1, between two processes.
 *
 * A server peer creates a node and gives a client peer a handle to it,
 * the right to send to it. The process then forks: the child is the
 * client, the parent the server. The client sends "ping" to the node and
 * passes a handle to a node of its own along, to be answered at. The
 * server reads the request in place from its receive pool, finds the
 * passed handle behind the payload, answers "pong" to it, hands back
 * what it received and destroys its node; the client gets the answer and
 * the notices of what the server did.
 *
 * The calls are made with syscall(2) and the installed uapi headers. See
 * Documentation/userspace-api/bus1.rst for the contract.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bus1.h>

static const char *role = "server";

/* Every failure ends the process with a message and a non-zero status. */
static void fail(const char *what)
{
	fprintf(stderr, "bus1-ping: %s: %s: %s\n", role, what, strerror(errno));
	exit(EXIT_FAILURE);
}

/* The receive pool is mapped read-only: only the kernel writes it. */
static const char *map_pool(int peer)
{
	void *pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, peer, 0);

	if (pool == MAP_FAILED)
		fail("mmap() of the pool");
	return pool;
}

/* Send @text to the handle @to, passing the handles @ids along. */
static void send_text(int peer, __u64 to, const char *text,
		      const __u64 *ids, unsigned int n_ids)
{
	struct bus1_vec vec = {
		.ptr = (uintptr_t)text,
		.len = strlen(text) + 1,
	};
	struct bus1_send args = {
		.ptr_destinations = (uintptr_t)&to,
		.n_destinations = 1,
		.ptr_vecs = (uintptr_t)&vec,
		.n_vecs = 1,
		.ptr_handles = (uintptr_t)ids,
		.n_handles = n_ids,
	};

	if (syscall(__NR_bus1_send, peer, &args, sizeof(args)) < 0)
		fail("bus1_send()");
}

/* Take the next entry off the queue of @peer; it must be of @type. */
static void recv_one(int peer, __u64 type, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	if (syscall(__NR_bus1_recv, peer, r, sizeof(*r)) < 0)
		fail("bus1_recv()");
	if (r->type != type) {
		errno = EPROTO;
		fail("bus1_recv() returned an unexpected entry");
	}
}

static void run_server(int peer, __u64 node)
{
	const char *pool = map_pool(peer);
	const __u64 *ids;
	struct bus1_recv r;
	__u64 reply;

	/*
	 * Wait for the request. Had the client died before sending it, its
	 * handle would have gone with its peer, and a release notice for
	 * the node would come instead: nobody waits for ever.
	 */
	recv_one(peer, BUS1_MSG_DATA, &r);
	if (r.destination != node || r.n_handles != 1) {
		errno = EPROTO;
		fail("bad request");
	}

	/*
	 * The payload is at r.offset in the pool, read in place. The IDs of
	 * the handles passed with it follow in the same slice, at the next
	 * multiple of 8 bytes; they are handles of this peer now.
	 */
	ids = (const __u64 *)(pool + r.offset + ((r.size + 7) & ~7ULL));
	reply = ids[0];
	printf("bus1-ping: server: got \"%.*s\" and handle %llu to answer at\n",
	       (int)r.size, pool + r.offset, (unsigned long long)reply);

	send_text(peer, reply, "pong", NULL, 0);

	/* Hand the slice back to the pool, and drop the reply handle. */
	if (syscall(__NR_bus1_slice_release, peer, &r.offset, 1, 0) < 0)
		fail("bus1_slice_release()");
	if (syscall(__NR_bus1_handle_release, peer, &reply, 1, 0) < 0)
		fail("bus1_handle_release()");

	/* Destroy the node: every holder of a handle, the owner too, hears. */
	if (syscall(__NR_bus1_nodes_destroy, peer, &node, 1, 0) < 0)
		fail("bus1_nodes_destroy()");
	recv_one(peer, BUS1_MSG_NODE_DESTROY, &r);
	printf("bus1-ping: server: destroyed node %llu\n",
	       (unsigned long long)r.destination);
}

static void run_client(int peer, __u64 server_handle)
{
	const char *pool = map_pool(peer);
	struct bus1_recv r;
	__u64 node;

	/* A node of its own, and a handle to it in the request. */
	if (syscall(__NR_bus1_node_create, peer, &node, 0) < 0)
		fail("bus1_node_create()");
	send_text(peer, server_handle, "ping", &node, 1);

	recv_one(peer, BUS1_MSG_DATA, &r);
	printf("bus1-ping: client: got \"%.*s\" at node %llu\n",
	       (int)r.size, pool + r.offset, (unsigned long long)r.destination);
	if (syscall(__NR_bus1_slice_release, peer, &r.offset, 1, 0) < 0)
		fail("bus1_slice_release()");

	/* The server dropped its handle: nobody else holds the node now. */
	recv_one(peer, BUS1_MSG_NODE_RELEASE, &r);
	printf("bus1-ping: client: nobody else holds node %llu\n",
	       (unsigned long long)r.destination);

	/* The server's node is gone; the notice names this peer's handle. */
	recv_one(peer, BUS1_MSG_NODE_DESTROY, &r);
	printf("bus1-ping: client: the node of handle %llu was destroyed\n",
	       (unsigned long long)r.destination);
	if (r.destination != server_handle) {
		errno = EPROTO;
		fail("notice for the wrong handle");
	}

	/* The handle stays until released; closing the peer would, too. */
	if (syscall(__NR_bus1_handle_release, peer, &server_handle, 1, 0) < 0)
		fail("bus1_handle_release()");
}

int main(void)
{
	struct bus1_transfer transfer = { .flags = 0 };
	int server_fd, client_fd, status;
	__u64 node;
	pid_t pid;

	server_fd = syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC);
	if (server_fd < 0)
		fail("bus1_peer_create()");
	client_fd = syscall(__NR_bus1_peer_create, BUS1_PEER_CLOEXEC);
	if (client_fd < 0)
		fail("bus1_peer_create()");

	if (syscall(__NR_bus1_node_create, server_fd, &node, 0) < 0)
		fail("bus1_node_create()");

	/* Give the client a handle to the node; IDs are per peer. */
	transfer.src_id = node;
	if (syscall(__NR_bus1_handle_transfer, server_fd, client_fd,
		    &transfer, sizeof(transfer)) < 0)
		fail("bus1_handle_transfer()");
	printf("bus1-ping: server node %llu is client handle %llu\n",
	       (unsigned long long)node, (unsigned long long)transfer.dst_id);

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork()");
	if (pid == 0) {
		role = "client";
		close(server_fd);
		run_client(client_fd, transfer.dst_id);
		return EXIT_SUCCESS;
	}
	close(client_fd);
	run_server(server_fd, node);

	if (waitpid(pid, &status, 0) < 0)
		fail("waitpid()");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bus1-ping: the client failed\n");
		return EXIT_FAILURE;
	}
	printf("bus1-ping: ok\n");
	return EXIT_SUCCESS;
}
