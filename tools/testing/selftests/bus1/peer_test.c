// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of bus1_peer_create(): the peer fd, its flags, its receive pool
 * mapping, poll and fdinfo, and its lifetime.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

TEST(create_default)
{
	char path[64], target[64];
	ssize_t n;
	int fd;

	fd = bus1_peer_create(0);
	ASSERT_LE(0, fd) TH_LOG("bus1_peer_create: %s", strerror(errno));
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	ASSERT_LT(0, n);
	target[n] = 0;
	EXPECT_STREQ("anon_inode:[bus1]", target);
	EXPECT_EQ(0, close(fd));
}

TEST(create_cloexec_nonblock)
{
	static const unsigned int flags[] = {
		BUS1_PEER_CLOEXEC, BUS1_PEER_NONBLOCK,
		BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		int fd = bus1_peer_create(flags[i]);

		ASSERT_LE(0, fd);
		EXPECT_EQ(!!(flags[i] & BUS1_PEER_CLOEXEC),
			  !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
		EXPECT_EQ(!!(flags[i] & BUS1_PEER_NONBLOCK),
			  !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
		close(fd);
	}
}

TEST(create_unknown_flag)
{
	int expect_fd = lowest_free_fd();
	unsigned int bit;

	for (bit = 3; bit < 32; bit++) {
		errno = 0;
		EXPECT_EQ(-1, bus1_peer_create(1U << bit)) TH_LOG("bit %u", bit);
		EXPECT_EQ(EINVAL, errno) TH_LOG("bit %u", bit);
	}
	/* Valid flags together with an unknown one fail just the same. */
	EXPECT_EQ(-1, bus1_peer_create(BUS1_PEER_CLOEXEC | (1U << 31)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bus1_peer_create(~0U));
	EXPECT_EQ(EINVAL, errno);
	/* No fd was allocated on the way. */
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST(create_emfile)
{
	struct rlimit old, rl;
	int fd, expect_fd;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	expect_fd = lowest_free_fd();
	rl.rlim_cur = expect_fd;
	rl.rlim_max = old.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	errno = 0;
	fd = bus1_peer_create(0);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EMFILE, errno);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

TEST(read_write_unsupported)
{
	char buf[8] = {};
	int fd = bus1_peer_create(0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

FIXTURE(pool) {
	int fd;
};

FIXTURE_SETUP(pool)
{
	self->fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(pool)
{
	close(self->fd);
}

TEST_F(pool, map_read_only)
{
	const unsigned char *p;
	size_t i;

	p = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(p != MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	/* A fresh pool reads as zeroes, first page to last. */
	for (i = 0; i < BUS1_POOL_SIZE; i += PAGE)
		ASSERT_EQ(0, p[i]);
	EXPECT_EQ(0, p[BUS1_POOL_SIZE - 1]);
	EXPECT_EQ(0, munmap((void *)p, BUS1_POOL_SIZE));

	/* A private read-only mapping is fine too. */
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	EXPECT_EQ(0, munmap((void *)p, PAGE));
}

TEST_F(pool, map_writable_fails)
{
	static const int flags[] = { MAP_SHARED, MAP_PRIVATE };
	unsigned int i;
	void *p;

	for (i = 0; i < 2; i++) {
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, flags[i], self->fd, 0);
		EXPECT_TRUE(p == MAP_FAILED);
		EXPECT_EQ(EPERM, errno);
		p = mmap(NULL, PAGE, PROT_WRITE, flags[i], self->fd, 0);
		EXPECT_TRUE(p == MAP_FAILED);
		EXPECT_EQ(EPERM, errno);
	}
}

TEST_F(pool, mprotect_writable_fails)
{
	static const int flags[] = { MAP_SHARED, MAP_PRIVATE };
	unsigned int i;
	void *p;

	for (i = 0; i < 2; i++) {
		p = mmap(NULL, PAGE, PROT_READ, flags[i], self->fd, 0);
		ASSERT_TRUE(p != MAP_FAILED);
		EXPECT_EQ(-1, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
		EXPECT_EQ(EACCES, errno);
		/* Still mapped and still read-only. */
		EXPECT_EQ(0, mprotect(p, PAGE, PROT_READ));
		EXPECT_EQ(0, munmap(p, PAGE));
	}
}

TEST_F(pool, map_bounds)
{
	void *p;

	p = mmap(NULL, BUS1_POOL_SIZE + PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, BUS1_POOL_SIZE);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, self->fd,
		 BUS1_POOL_SIZE - PAGE);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);

	/* The last page alone fits. */
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
		 BUS1_POOL_SIZE - PAGE);
	ASSERT_TRUE(p != MAP_FAILED);
	EXPECT_EQ(0, ((unsigned char *)p)[0]);
	EXPECT_EQ(0, munmap(p, PAGE));
}

TEST_F(pool, mremap_cannot_grow)
{
	void *p, *q;

	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	q = mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	EXPECT_TRUE(q == MAP_FAILED);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, munmap(p, PAGE));
}

TEST_F(pool, mapping_outlives_peer)
{
	const unsigned char *p;

	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(0, close(self->fd));
	EXPECT_EQ(0, p[0]);
	EXPECT_EQ(0, munmap((void *)p, PAGE));
	self->fd = bus1_peer_create(0);
	ASSERT_LE(0, self->fd);
}

TEST_F(pool, fdinfo)
{
	unsigned long long v;

	ASSERT_EQ(0, bus1_fdinfo(self->fd, "bus1-pool-size", &v));
	EXPECT_EQ(BUS1_POOL_SIZE, v);
	ASSERT_EQ(0, bus1_fdinfo(self->fd, "bus1-pool-resident", &v));
	EXPECT_EQ(0, v);
}

TEST(poll_fresh_peer)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	struct pollfd pfd;
	int fd, ep;

	fd = bus1_peer_create(BUS1_PEER_NONBLOCK);
	ASSERT_LE(0, fd);

	pfd.fd = fd;
	pfd.events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP;
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 10));
	close(ep);
	close(fd);
}

TEST(fork_inherits_peer)
{
	unsigned long long v;
	int fd, status;
	pid_t pid;

	fd = bus1_peer_create(0);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);

		_exit(p == MAP_FAILED ||
		      bus1_fdinfo(fd, "bus1-pool-size", &v) ||
		      v != BUS1_POOL_SIZE);
	}
	/* The parent's close does not end the child's use of the peer. */
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Run "test -e /proc/self/fd/@fd" in a fresh program; return its status. */
static int fd_open_after_exec(int fd)
{
	char cmd[64];
	int status;
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "test -e /proc/self/fd/%d", fd);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(exec_honours_cloexec)
{
	int fd;

	fd = bus1_peer_create(0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fd_open_after_exec(fd));
	close(fd);

	fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, fd_open_after_exec(fd));
	close(fd);
}

TEST(create_many)
{
	enum { N = 256 };
	int fds[N], i, expect_fd = lowest_free_fd();
	void *maps[N];

	for (i = 0; i < N; i++) {
		fds[i] = bus1_peer_create(BUS1_PEER_CLOEXEC);
		ASSERT_LE(0, fds[i]);
		maps[i] = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fds[i], 0);
		ASSERT_TRUE(maps[i] != MAP_FAILED);
	}
	for (i = 0; i < N; i++) {
		EXPECT_EQ(0, close(fds[i]));
		EXPECT_EQ(0, munmap(maps[i], PAGE));
	}
	EXPECT_EQ(expect_fd, lowest_free_fd());
}

#define RACE_THREADS	4
#define RACE_ROUNDS	300

static void *create_close_loop(void *arg)
{
	long failures = 0;
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		int fd = bus1_peer_create(BUS1_PEER_CLOEXEC);
		void *p;

		if (fd < 0) {
			failures++;
			continue;
		}
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		/* Drop the fd while the mapping stays, or the other way round. */
		if (i & 1)
			close(fd);
		if (p == MAP_FAILED || ((unsigned char *)p)[0])
			failures++;
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		if (!(i & 1))
			close(fd);
	}
	return (void *)failures;
}

/*
 * No state: a fixture only for the timeout. 1200 peers with their pools,
 * made and torn down under KASAN and kmemleak on an emulated CPU, can
 * take more than the harness's default 30 s when the host is busy.
 */
FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, concurrent_create_close, 120)
{
	pthread_t threads[RACE_THREADS];
	void *failures;
	int i;

	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL,
					    create_close_loop, NULL));
	for (i = 0; i < RACE_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(threads[i], &failures));
		EXPECT_EQ(0, (long)failures) TH_LOG("thread %d", i);
	}
}

TEST_HARNESS_MAIN
