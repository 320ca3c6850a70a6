// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 demo, run in the guest by "make run": shows what the patched kernel
 * can do, one step per line. It grows as the series does.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

	close(fd);
	step(pool != MAP_FAILED && ((char *)pool)[0] == 0,
	     "the mapping stays readable after the peer is closed");
	munmap(pool, BUS1_POOL_SIZE);

	printf("bus1 demo: %s\n", failed ? "FAILED" : "all steps passed");
	return failed;
}
