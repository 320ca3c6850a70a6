/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_TEST_H
#define __BUS1_TEST_H

/* Raw system call wrappers and helpers shared by the bus1 selftests. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/bus1.h>

#include "../kselftest_harness.h"

static inline int bus1_peer_create(unsigned int flags)
{
	return syscall(__NR_bus1_peer_create, flags);
}

/*
 * Every program needs bus1: where the kernel lacks it, the program skips
 * as a whole before its first test. bus1_peer_create() with an unknown
 * flag fails with EINVAL before it makes anything; without bus1 the call
 * is not implemented, or its number is another system call's.
 */
static void __attribute__((constructor)) bus1_require(void)
{
	int fd = bus1_peer_create(~0U);

	if (fd < 0 && errno != EINVAL) {
		ksft_print_header();
		ksft_exit_skip("bus1 is not available: %s\n", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
}

/*
 * In a FIXTURE_SETUP() or a test that needs root for @why (setresuid(),
 * namespaces, sysctls, bpf(2)...): unless running as root, mark it
 * skipped and return -1, for the caller to return; else return 0.
 */
static inline int bus1_need_root(struct __test_metadata *_metadata,
				 const char *why)
{
	if (!geteuid())
		return 0;
	SKIP(return -1, "needs root, for %s", why);
}

static inline int bus1_node_create(int fd, __u64 *id, unsigned int flags)
{
	return syscall(__NR_bus1_node_create, fd, id, flags);
}

static inline int bus1_handle_transfer(int src_fd, int dst_fd,
				       struct bus1_transfer *args, size_t size)
{
	return syscall(__NR_bus1_handle_transfer, src_fd, dst_fd, args, size);
}

static inline int bus1_send(int fd, struct bus1_send *args, size_t size)
{
	return syscall(__NR_bus1_send, fd, args, size);
}

static inline int bus1_recv(int fd, struct bus1_recv *args, size_t size)
{
	return syscall(__NR_bus1_recv, fd, args, size);
}

static inline int bus1_slice_release(int fd, const __u64 *offsets,
				     unsigned int n, unsigned int flags)
{
	return syscall(__NR_bus1_slice_release, fd, offsets, n, flags);
}

static inline int bus1_handle_release(int fd, const __u64 *ids,
				      unsigned int n, unsigned int flags)
{
	return syscall(__NR_bus1_handle_release, fd, ids, n, flags);
}

static inline int bus1_nodes_destroy(int fd, const __u64 *ids, unsigned int n,
				     unsigned int flags)
{
	return syscall(__NR_bus1_nodes_destroy, fd, ids, n, flags);
}

static inline int bus1_peer_disconnect(int fd, unsigned int flags)
{
	return syscall(__NR_bus1_peer_disconnect, fd, flags);
}

/*
 * Create a peer with @flags as effective user and group @id, then go back
 * to root. A peer keeps the credentials it was created with, so a test
 * running as root gets peers of distinct identities while its real IDs,
 * and with them every quota, stay root's. Returns the fd, or -1 with
 * errno set.
 */
static inline int bus1_peer_create_as(uid_t id, unsigned int flags)
{
	int fd, e;

	if (setresgid(-1, id, -1) || setresuid(-1, id, -1))
		return -1;
	fd = bus1_peer_create(flags);
	e = errno;
	if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1))
		abort();
	errno = e;
	return fd;
}

/* Transfer @id from @src to @dst; returns the new ID, or 0 on failure. */
static inline __u64 bus1_transfer_id(int src, __u64 id, int dst)
{
	struct bus1_transfer t = { .src_id = id };

	return bus1_handle_transfer(src, dst, &t, sizeof(t)) ? 0 : t.dst_id;
}

/*
 * Read field @key of /proc/self/fdinfo/@fd into @value; returns 0 on
 * success, -1 if the field is missing or the file cannot be read.
 */
static inline int bus1_fdinfo(int fd, const char *key, unsigned long long *value)
{
	char path[64], line[256];
	size_t len = strlen(key);
	int r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':') {
			r = sscanf(line + len + 1, "%llu", value) == 1 ? 0 : -1;
			break;
		}
	}
	fclose(f);
	return r;
}

/* The value of fdinfo field @key of @fd, or ~0 if there is none. */
static inline unsigned long long fdinfo(int fd, const char *key)
{
	unsigned long long v = ~0ULL;

	bus1_fdinfo(fd, key, &v);
	return v;
}

/*
 * The sum of fdinfo field @key over the peers open in this process that
 * belong to the user of the peer @fd: a per-peer figure summed over that
 * user, where this process holds all of the user's peers.
 */
static inline unsigned long long user_sum(int fd, const char *key)
{
	unsigned long long uid = fdinfo(fd, "bus1-uid"), sum = 0, v;
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	int other;

	if (!dir)
		return ~0ULL;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		other = atoi(d->d_name);
		if (other != dirfd(dir) && fdinfo(other, "bus1-uid") == uid &&
		    !bus1_fdinfo(other, key, &v))
			sum += v;
	}
	closedir(dir);
	return sum;
}

#define PAGE	((size_t)sysconf(_SC_PAGESIZE))

/* A pointer as the __u64 the ABI takes, on 32-bit and 64-bit alike. */
#define PTR(p)	((__u64)(uintptr_t)(p))

/* The lowest free fd number: it moves if a failed call leaked an fd. */
static inline int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* The receive pool of @fd, mapped read-only; NULL on failure. */
static inline const unsigned char *map_pool(int fd)
{
	void *p = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A page of readable, writable memory followed by a hole: the page after
 * it is unmapped. Returns the start of the readable page.
 */
static inline unsigned char *map_before_hole(void)
{
	unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + PAGE, PAGE);
	return p;
}

#endif /* __BUS1_TEST_H */
