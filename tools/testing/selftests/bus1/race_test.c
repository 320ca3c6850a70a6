// SPDX-License-Identifier: GPL-2.0
/*
 * SMP race tests of the life cycle of bus1 nodes, handles and peers.
 *
 * Threads send, transfer, release and receive while another thread
 * destroys the node, closes or disconnects the peer, or blocks in
 * bus1_recv(). Each racing call may only return what the contract allows
 * at the moment it ran: success or the one errno of "gone" while the race
 * is open, and only that errno once it is decided. Afterwards every notice
 * must have arrived exactly once, nothing may arrive after the news of a
 * destruction, and every counter must be back to zero. The kernel checks
 * (KASAN, lockdep, kmemleak) catch what user space cannot see.
 *
 * One test races receivers instead: threads woken by edge-triggered epoll
 * drain a peer while another thread holds its receive lock, and no message
 * may stay behind.
 *
 * Every wait is bounded, so that a lost wake-up fails a test instead of
 * hanging it.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

#define THREADS		4	/* racing threads */
#define CALLS_MAX	4000	/* calls per thread and round, at most */
#define AFTER		16	/* calls per thread once the race is decided */
#define PROGRESS	64	/* successful calls before the racing call */
#define PROGRESS_MS	5000	/* ... or this long, whichever comes first */
#define RUN_MS		10000	/* racing threads give up after this long */
#define WAIT_MS		10000	/* bound of every wait for a notice or join */

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A non-blocking peer: every drain loop polls with a timeout. */
static int peer_new(void)
{
	return bus1_peer_create(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK);
}

/* Give @dst a handle to the node @src knows as @id; 0 on failure. */
static __u64 give(int src, __u64 id, int dst)
{
	return bus1_transfer_id(src, id, dst);
}

static int send_one(int fd, __u64 dst, const void *buf, size_t len)
{
	struct bus1_vec v = { .ptr = PTR(buf), .len = len };
	struct bus1_send s = {
		.ptr_destinations = PTR(&dst),
		.n_destinations = 1,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int recv_msg(int fd, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	return bus1_recv(fd, r, sizeof(*r));
}

/*
 * Receive the next entry of the non-blocking peer @fd, waiting up to @ms
 * for one. Returns 0, or -1 with errno set (ETIMEDOUT if nothing came).
 */
static int recv_wait(int fd, struct bus1_recv *r, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long end = now_ms() + ms, left;

	for (;;) {
		if (!recv_msg(fd, r))
			return 0;
		if (errno != EAGAIN)
			return -1;
		left = end - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -1;
	}
}

/* The next entry of the non-blocking peer @fd; fails the test if none. */
static struct bus1_recv recv_bounded(struct __test_metadata *_metadata,
				     int fd)
{
	struct bus1_recv r;
	int ret = recv_wait(fd, &r, WAIT_MS), err = errno;

	ASSERT_EQ(0, ret) TH_LOG("recv: %s", strerror(err));
	return r;
}

/* The next entry of @fd must be a notice of @type about @id. */
static void expect_notice(struct __test_metadata *_metadata, int fd,
			  __u64 type, __u64 id)
{
	struct bus1_recv r = recv_bounded(_metadata, fd);

	EXPECT_EQ(type, r.type);
	EXPECT_EQ(id, r.destination);
	EXPECT_EQ(0, r.offset);
	EXPECT_EQ(0, r.size);
}

/* Nothing can be received from the non-blocking peer @fd. */
static void expect_empty(struct __test_metadata *_metadata, int fd)
{
	struct bus1_recv r;
	int ret = recv_msg(fd, &r), err = errno;

	EXPECT_EQ(-1, ret) TH_LOG("entry of type %llu to %llu",
				  (unsigned long long)r.type,
				  (unsigned long long)r.destination);
	EXPECT_EQ(EAGAIN, ret ? err : EAGAIN);
	EXPECT_EQ(0, fdinfo(fd, "bus1-queued"));
}

/* Release @n references of the handle @id of @fd, then it must be gone. */
static void release_all(struct __test_metadata *_metadata, int fd, __u64 id,
			unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, bus1_handle_release(fd, &id, 1, 0))
			TH_LOG("release %u of %u: %s", i, n, strerror(errno));
	}
	if (id) {
		EXPECT_EQ(-1, bus1_handle_release(fd, &id, 1, 0));
		EXPECT_EQ(ENXIO, errno);
	}
}

/* Wait until @counter reaches @min, for up to @ms. */
static void wait_for(unsigned int *counter, unsigned int min, int ms)
{
	long long end = now_ms() + ms;

	while (LOAD(*counter) < min && now_ms() < end)
		usleep(1000);
}

/* Join @thread, waiting up to WAIT_MS; 0 or an error number. */
static int join(pthread_t thread)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	return pthread_timedjoin_np(thread, NULL, &ts);
}

/* The first thing a thread found wrong; threads cannot use ASSERT. */
struct fault {
	unsigned int bad;
	char why[160];
};

static void fault(struct fault *f, const char *fmt, ...)
{
	va_list ap;

	if (f->bad++)
		return;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

static void expect_no_fault(struct __test_metadata *_metadata,
			    const struct fault *f, int thread)
{
	EXPECT_EQ(0, f->bad) TH_LOG("thread %d: %s", thread, f->why);
}

/* One round of a race, shared by its threads. */
struct race {
	int owner;		/* peer that owns the node */
	__u64 node;		/* the node, as its owner names it */
	int gone;		/* errno of a call that lost the race */
	long long deadline;	/* racing threads stop at this time */
	unsigned int done;	/* the racing call returned */
	unsigned int lost;	/* some call failed with @gone */
	unsigned int stop;	/* helper threads finish up */
	unsigned int ok;	/* successful calls of all threads */
	unsigned int received;	/* data messages the owner received */
	unsigned int started;	/* threads that are running */
};

/* One thread of a race. */
struct worker {
	pthread_t thread;
	struct race *race;
	int idx;
	int fd;			/* the thread's own peer */
	__u64 id;		/* its handle to the node */
	int src, dst;		/* transfer from, to; dst_id expected */
	__u64 src_id, dst_id;
	unsigned int ok;	/* successful calls */
	unsigned int failed;	/* calls that failed with race->gone */
	unsigned int held;	/* references of @id it holds */
	unsigned int got;	/* entries received */
	struct fault f;
};

/* What the rounds of a test did, for its log: whether the races were hit. */
struct tally {
	unsigned int ok;	/* racing calls that succeeded */
	unsigned int lost;	/* racing calls that failed as the race was lost */
	unsigned int extra;	/* what each test says it is */
};

/* Add the racing calls of the @n workers at @w to @t. */
static void count(struct tally *t, const struct worker *w, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		t->ok += w[i].ok;
		t->lost += w[i].failed;
	}
}

static void race_init(struct race *race, int gone)
{
	memset(race, 0, sizeof(*race));
	race->gone = gone;
	race->deadline = now_ms() + RUN_MS;
}

/* Whether the race is decided: a call that starts now must lose it. */
static bool decided(struct race *race)
{
	return LOAD(race->done) || LOAD(race->lost);
}

/* Whether @w should go on with call @i. */
static bool running(struct worker *w, unsigned int i)
{
	return !w->f.bad && w->failed < AFTER && i < CALLS_MAX &&
	       now_ms() < w->race->deadline;
}

/*
 * Account the result @r, errno @err, of a racing call that started when
 * the race was @late (decided) or not. Success is fine only while the race
 * is open; failure only with race->gone. Returns 0 on success, 1 if the
 * call failed with race->gone, -1 on a fault.
 */
static int judge(struct worker *w, const char *what, int r, int err, bool late)
{
	struct race *race = w->race;

	if (!r) {
		if (late)
			fault(&w->f, "%s succeeded after the race was decided",
			      what);
		w->ok++;
		INC(race->ok);
		return 0;
	}
	if (err == race->gone) {
		w->failed++;
		STORE(race->lost, 1);
		return 1;
	}
	fault(&w->f, "%s: %s", what, strerror(err));
	return -1;
}

static int start(struct worker *w, struct race *race, int idx,
		 void *(*fn)(void *))
{
	w->race = race;
	w->idx = idx;
	return pthread_create(&w->thread, NULL, fn, w);
}

/* Start a thread running @fn for each of the @n workers at @w. */
static int start_all(struct worker *w, int n, struct race *race,
		     void *(*fn)(void *))
{
	int i, r;

	for (i = 0; i < n; i++) {
		r = start(&w[i], race, i, fn);
		if (r)
			return r;
	}
	return 0;
}

/* The payload of a data message: who sent it, and its number. */
struct payload {
	__u32 sender;
	__u32 seq;
};

/* Send to w->id until the node is gone; seq counts the successful sends. */
static void *send_loop(void *arg)
{
	struct worker *w = arg;
	struct payload p = { .sender = w->idx };
	unsigned int i;
	bool late;
	int r;

	INC(w->race->started);
	for (i = 0; running(w, i); i++) {
		late = decided(w->race);
		p.seq = w->ok;
		r = send_one(w->fd, w->id, &p, sizeof(p));
		judge(w, "send", r, errno, late);
	}
	return NULL;
}

/* The owner in test destroy_while_sending: drains its queue. */
struct drain {
	pthread_t thread;
	struct race *race;
	const unsigned char *map;	/* the owner's pool */
	unsigned int next[THREADS];	/* next seq of each sender */
	unsigned int destroyed;		/* destruction notices */
	unsigned int released;		/* release notices */
	struct fault f;
};

static void *drain_sent(void *arg)
{
	struct drain *d = arg;
	struct race *race = d->race;
	struct pollfd pfd = { .fd = race->owner, .events = POLLIN };
	const struct payload *p;
	struct bus1_recv r;

	while (!d->f.bad) {
		if (now_ms() > race->deadline + WAIT_MS) {
			fault(&d->f, "draining timed out");
			break;
		}
		if (recv_msg(race->owner, &r)) {
			if (errno != EAGAIN) {
				fault(&d->f, "recv: %s", strerror(errno));
			} else if (!LOAD(race->stop)) {
				poll(&pfd, 1, 20);
				continue;
			}
			break;
		}
		if (r.destination != race->node)
			fault(&d->f, "entry to %llu, not %llu",
			      (unsigned long long)r.destination,
			      (unsigned long long)race->node);
		if (r.type == BUS1_MSG_NODE_DESTROY) {
			if (d->destroyed++)
				fault(&d->f, "second destruction notice");
			continue;
		}
		if (r.type != BUS1_MSG_DATA) {
			fault(&d->f, "entry of type %llu",
			      (unsigned long long)r.type);
			continue;
		}
		if (d->destroyed)
			fault(&d->f, "data after the destruction notice");
		p = (const void *)(d->map + r.offset);
		if (r.size != sizeof(*p) || p->sender >= THREADS)
			fault(&d->f, "bad message of %llu bytes",
			      (unsigned long long)r.size);
		else if (p->seq != d->next[p->sender]++)
			fault(&d->f, "message %u of sender %u, expected %u",
			      p->seq, p->sender, d->next[p->sender] - 1);
		if (bus1_slice_release(race->owner, &r.offset, 1, 0))
			fault(&d->f, "slice release: %s", strerror(errno));
		INC(race->received);
	}
	return NULL;
}

static void destroy_while_sending_round(struct __test_metadata *_metadata,
					struct tally *t)
{
	struct worker w[THREADS] = {};
	unsigned int i, ok_before, received = 0;
	struct drain d = {};
	struct race race;
	void *map;

	race_init(&race, EHOSTUNREACH);
	race.owner = peer_new();
	ASSERT_LE(0, race.owner);
	ASSERT_EQ(0, bus1_node_create(race.owner, &race.node, 0));
	map = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, race.owner, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	for (i = 0; i < THREADS; i++) {
		w[i].fd = peer_new();
		ASSERT_LE(0, w[i].fd);
		w[i].id = give(race.owner, race.node, w[i].fd);
		ASSERT_NE(0, w[i].id);
	}

	d.race = &race;
	d.map = map;
	ASSERT_EQ(0, pthread_create(&d.thread, NULL, drain_sent, &d));
	ASSERT_EQ(0, start_all(w, THREADS, &race, send_loop));

	/* Destroy the node while the senders are busy. */
	wait_for(&race.received, PROGRESS, PROGRESS_MS);
	ok_before = LOAD(race.ok);
	ASSERT_EQ(0, bus1_nodes_destroy(race.owner, &race.node, 1, 0));
	STORE(race.done, 1);

	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
	}
	STORE(race.stop, 1);
	ASSERT_EQ(0, join(d.thread));
	expect_no_fault(_metadata, &d.f, -1);

	/*
	 * Every send that returned before the destruction started arrived,
	 * none after its notice; of each sender the first ones in order.
	 */
	EXPECT_EQ(1, d.destroyed);
	for (i = 0; i < THREADS; i++) {
		EXPECT_GE(w[i].ok, d.next[i]) TH_LOG("sender %u", i);
		received += d.next[i];
	}
	EXPECT_EQ(received, LOAD(race.received));
	EXPECT_LE(ok_before, received);
	count(t, w, THREADS);
	t->extra += LOAD(race.ok) - received;
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-pool-allocated"));
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-pool-slices"));
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-queued"));

	/* Each sender is told once; its handle stays until released. */
	for (i = 0; i < THREADS; i++) {
		expect_notice(_metadata, w[i].fd, BUS1_MSG_NODE_DESTROY,
			      w[i].id);
		expect_empty(_metadata, w[i].fd);
		EXPECT_EQ(1, fdinfo(w[i].fd, "bus1-handles"));
		release_all(_metadata, w[i].fd, w[i].id, 1);
		EXPECT_EQ(0, fdinfo(w[i].fd, "bus1-handles"));
		close(w[i].fd);
	}
	/* No release notice follows a destruction. */
	expect_empty(_metadata, race.owner);
	release_all(_metadata, race.owner, race.node, 1);
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-nodes"));
	expect_empty(_metadata, race.owner);
	munmap(map, BUS1_POOL_SIZE);
	close(race.owner);
}

TEST(destroy_while_sending)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 3; round++)
		destroy_while_sending_round(_metadata, &t);
	TH_LOG("%u sends, %u refused; %u dropped as later than the destruction",
	       t.ok + t.lost, t.lost, t.extra);
}

/*
 * Transfer the node from w->src (peer A) to the thread's own peer and
 * release it there, and every fourth time to a fresh peer that is closed
 * with its handle.
 */
static void *transfer_release_loop(void *arg)
{
	struct worker *w = arg;
	struct bus1_transfer t;
	unsigned int i, n;
	bool late;
	int r, fd;

	INC(w->race->started);
	for (i = 0; running(w, i); i++) {
		late = decided(w->race);
		memset(&t, 0, sizeof(t));
		t.src_id = w->src_id;
		if (i % 4 == 3) {
			fd = peer_new();
			if (fd < 0) {
				fault(&w->f, "peer: %s", strerror(errno));
				break;
			}
			r = bus1_handle_transfer(w->src, fd, &t, sizeof(t));
			judge(w, "transfer to a fresh peer", r, errno, late);
			close(fd);
			continue;
		}
		r = bus1_handle_transfer(w->src, w->fd, &t, sizeof(t));
		if (judge(w, "transfer", r, errno, late))
			continue;
		if (w->held && t.dst_id != w->id)
			fault(&w->f, "merged handle %llu, not %llu",
			      (unsigned long long)t.dst_id,
			      (unsigned long long)w->id);
		else if (!w->held && t.dst_id <= w->id)
			fault(&w->f, "new handle %llu, not above %llu",
			      (unsigned long long)t.dst_id,
			      (unsigned long long)w->id);
		w->id = t.dst_id;
		w->held++;

		/*
		 * Even threads drop every reference, mostly, so that the next
		 * transfer makes a new handle; odd ones keep one, so the next
		 * one merges into it.
		 */
		if (w->idx & 1)
			n = w->held - 1;
		else
			n = i % 8 == 7 ? 0 : w->held;
		for (; n; n--, w->held--)
			if (bus1_handle_release(w->fd, &w->id, 1, 0)) {
				fault(&w->f, "release: %s", strerror(errno));
				break;
			}
	}
	return NULL;
}

/*
 * The holders in test destroy_while_transferring: takes the destruction
 * notices of every thread's peer as they come, to catch one that names a
 * handle before its ID is set.
 */
struct holders {
	pthread_t thread;
	struct race *race;
	struct worker *w;
	unsigned int n[THREADS];	/* notices of each thread's peer */
	__u64 id[THREADS];		/* the handle the last one named */
	struct fault f;
};

static void *drain_holders(void *arg)
{
	struct holders *h = arg;
	struct pollfd pfd[THREADS];
	struct bus1_recv r;
	bool stopping, any;
	int i;

	for (i = 0; i < THREADS; i++) {
		pfd[i].fd = h->w[i].fd;
		pfd[i].events = POLLIN;
	}
	while (!h->f.bad) {
		if (now_ms() > h->race->deadline + WAIT_MS) {
			fault(&h->f, "draining timed out");
			break;
		}
		stopping = LOAD(h->race->stop);
		any = false;
		for (i = 0; i < THREADS; i++) {
			while (!recv_msg(pfd[i].fd, &r)) {
				if (r.type != BUS1_MSG_NODE_DESTROY ||
				    !r.destination)
					fault(&h->f, "peer %d: entry of type %llu to %llu",
					      i, (unsigned long long)r.type,
					      (unsigned long long)r.destination);
				h->n[i]++;
				h->id[i] = r.destination;
				any = true;
			}
			if (errno != EAGAIN)
				fault(&h->f, "recv: %s", strerror(errno));
		}
		if (any)
			continue;
		if (stopping)
			break;
		poll(pfd, THREADS, 10);
	}
	return NULL;
}

static void
destroy_while_transferring_round(struct __test_metadata *_metadata,
				 struct tally *t, int round)
{
	struct worker w[THREADS] = {};
	struct holders h = {};
	struct race race;
	unsigned int i;
	__u64 in_a;
	int a;

	race_init(&race, EHOSTUNREACH);
	race.owner = peer_new();
	a = peer_new();
	ASSERT_LE(0, race.owner);
	ASSERT_LE(0, a);
	ASSERT_EQ(0, bus1_node_create(race.owner, &race.node, 0));
	in_a = give(race.owner, race.node, a);
	ASSERT_NE(0, in_a);
	for (i = 0; i < THREADS; i++) {
		w[i].fd = peer_new();
		ASSERT_LE(0, w[i].fd);
		w[i].src = a;
		w[i].src_id = in_a;
	}
	h.race = &race;
	h.w = w;
	ASSERT_EQ(0, pthread_create(&h.thread, NULL, drain_holders, &h));
	ASSERT_EQ(0, start_all(w, THREADS, &race, transfer_release_loop));

	/* Shift the destruction against the rhythm of the threads. */
	wait_for(&race.ok, PROGRESS, PROGRESS_MS);
	usleep(round * 1700);
	ASSERT_EQ(0, bus1_nodes_destroy(race.owner, &race.node, 1, 0));
	STORE(race.done, 1);
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
	}
	STORE(race.stop, 1);
	ASSERT_EQ(0, join(h.thread));
	expect_no_fault(_metadata, &h.f, -1);
	count(t, w, THREADS);

	/*
	 * No handle to the node came into being after its destruction: a
	 * handle held now was told, once. One released since may have been
	 * told too. Either is the last handle the thread got.
	 */
	for (i = 0; i < THREADS; i++) {
		EXPECT_EQ(w[i].held ? 1 : 0, fdinfo(w[i].fd, "bus1-handles"))
			TH_LOG("thread %u holds %u", i, w[i].held);
		EXPECT_GE(1, h.n[i]) TH_LOG("thread %u", i);
		EXPECT_EQ(w[i].held ? 1 : h.n[i], h.n[i])
			TH_LOG("thread %u holds %u", i, w[i].held);
		EXPECT_EQ(h.n[i] ? w[i].id : 0, h.id[i]) TH_LOG("thread %u", i);
		t->extra += h.n[i];
		expect_empty(_metadata, w[i].fd);
		release_all(_metadata, w[i].fd, w[i].held ? w[i].id : 0,
			    w[i].held);
		EXPECT_EQ(0, fdinfo(w[i].fd, "bus1-handles"));
		close(w[i].fd);
	}

	/* A held its handle all along: no release notice, one destruction. */
	expect_notice(_metadata, a, BUS1_MSG_NODE_DESTROY, in_a);
	expect_empty(_metadata, a);
	release_all(_metadata, a, in_a, 1);
	EXPECT_EQ(0, fdinfo(a, "bus1-handles"));
	expect_notice(_metadata, race.owner, BUS1_MSG_NODE_DESTROY, race.node);
	expect_empty(_metadata, race.owner);
	release_all(_metadata, race.owner, race.node, 1);
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(race.owner, "bus1-nodes"));
	expect_empty(_metadata, race.owner);
	close(a);
	close(race.owner);
}

TEST(destroy_while_transferring)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 4; round++)
		destroy_while_transferring_round(_metadata, &t, round);
	TH_LOG("%u transfers, %u refused; %u destruction notices to threads",
	       t.ok + t.lost, t.lost, t.extra);
}

/*
 * The owner of the node is closed, or disconnected, while THREADS peers
 * send to it. Nobody drains it: its queue goes with it.
 */
static void close_while_sending_round(struct __test_metadata *_metadata,
				      struct tally *t, bool disconnect)
{
	struct worker w[THREADS] = {};
	struct race race;
	unsigned int i;

	race_init(&race, EHOSTUNREACH);
	race.owner = peer_new();
	ASSERT_LE(0, race.owner);
	ASSERT_EQ(0, bus1_node_create(race.owner, &race.node, 0));
	for (i = 0; i < THREADS; i++) {
		w[i].fd = peer_new();
		ASSERT_LE(0, w[i].fd);
		w[i].id = give(race.owner, race.node, w[i].fd);
		ASSERT_NE(0, w[i].id);
	}
	ASSERT_EQ(0, start_all(w, THREADS, &race, send_loop));

	wait_for(&race.ok, PROGRESS, PROGRESS_MS);
	ASSERT_EQ(0, disconnect ? bus1_peer_disconnect(race.owner, 0) :
				  close(race.owner));
	STORE(race.done, 1);
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
	}
	count(t, w, THREADS);

	if (disconnect) {
		EXPECT_EQ(0, fdinfo(race.owner, "bus1-connected"));
		EXPECT_EQ(-1, bus1_peer_disconnect(race.owner, 0));
		EXPECT_EQ(ESHUTDOWN, errno);
		EXPECT_EQ(-1, bus1_node_create(race.owner, &race.node, 0));
		EXPECT_EQ(ESHUTDOWN, errno);
		close(race.owner);
	}

	/*
	 * The teardown may run after the last sender left the peer, in a
	 * work item: the notices come when they come, but each exactly once.
	 */
	for (i = 0; i < THREADS; i++) {
		expect_notice(_metadata, w[i].fd, BUS1_MSG_NODE_DESTROY,
			      w[i].id);
		expect_empty(_metadata, w[i].fd);
		release_all(_metadata, w[i].fd, w[i].id, 1);
		EXPECT_EQ(0, fdinfo(w[i].fd, "bus1-handles"));
		close(w[i].fd);
	}
}

TEST(close_while_sending)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 4; round++)
		close_while_sending_round(_metadata, &t, round & 1);
	TH_LOG("%u sends, %u refused", t.ok + t.lost, t.lost);
}

/* Receive from a blocking peer until it is disconnected. */
static void *recv_until_shutdown(void *arg)
{
	struct worker *w = arg;
	struct bus1_recv r;

	INC(w->race->started);
	while (!recv_msg(w->fd, &r)) {
		if (r.type != BUS1_MSG_DATA || r.destination != w->id)
			fault(&w->f, "entry of type %llu to %llu",
			      (unsigned long long)r.type,
			      (unsigned long long)r.destination);
		/* The peer may be disconnected by now. */
		if (bus1_slice_release(w->fd, &r.offset, 1, 0) &&
		    errno != ESHUTDOWN)
			fault(&w->f, "slice release: %s", strerror(errno));
		w->got++;
	}
	if (errno != ESHUTDOWN)
		fault(&w->f, "recv: %s", strerror(errno));
	return NULL;
}

static void disconnect_while_blocked_round(struct __test_metadata *_metadata,
					   struct tally *t, bool traffic)
{
	struct worker w[THREADS] = {}, s = {};
	unsigned int i, got = 0;
	struct bus1_recv r;
	struct race race;
	int p;

	race_init(&race, EHOSTUNREACH);
	p = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, bus1_node_create(p, &race.node, 0));
	s.fd = peer_new();
	ASSERT_LE(0, s.fd);
	s.id = give(p, race.node, s.fd);
	ASSERT_NE(0, s.id);

	for (i = 0; i < THREADS; i++) {
		w[i].fd = p;
		w[i].id = race.node;
		ASSERT_EQ(0, start(&w[i], &race, i, recv_until_shutdown));
	}
	ASSERT_EQ(0, traffic ? start(&s, &race, 0, send_loop) : 0);

	/* Give the receivers time to go to sleep, and the sender to send. */
	wait_for(&race.started, THREADS + traffic, WAIT_MS);
	usleep(20000);
	ASSERT_EQ(0, bus1_peer_disconnect(p, 0));
	STORE(race.done, 1);
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread)) TH_LOG("receiver %u stuck", i);
		expect_no_fault(_metadata, &w[i].f, i);
		got += w[i].got;
	}
	if (traffic) {
		ASSERT_EQ(0, join(s.thread));
		expect_no_fault(_metadata, &s.f, -1);
	}
	EXPECT_GE(s.ok, got);
	count(t, &s, 1);
	t->extra += got;

	EXPECT_EQ(0, fdinfo(p, "bus1-connected"));
	EXPECT_EQ(-1, recv_msg(p, &r));
	EXPECT_EQ(ESHUTDOWN, errno);
	EXPECT_EQ(-1, bus1_peer_disconnect(p, 0));
	EXPECT_EQ(ESHUTDOWN, errno);

	/* The node went with its owner; the sender still holds its handle. */
	expect_notice(_metadata, s.fd, BUS1_MSG_NODE_DESTROY, s.id);
	expect_empty(_metadata, s.fd);
	EXPECT_EQ(-1, send_one(s.fd, s.id, "x", 1));
	EXPECT_EQ(EHOSTUNREACH, errno);
	release_all(_metadata, s.fd, s.id, 1);
	EXPECT_EQ(0, fdinfo(s.fd, "bus1-handles"));
	close(s.fd);
	close(p);
}

TEST(disconnect_while_blocked_recv)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 6; round++)
		disconnect_while_blocked_round(_metadata, &t, round & 1);
	TH_LOG("%u sends, %u refused, %u received",
	       t.ok + t.lost, t.lost, t.extra);
}

#define RELEASE_ROUNDS	150

/*
 * Get the node from its owner and release it, over and over; every third
 * time get it twice, which merges into one handle. The last handle is
 * kept, for release_last() to drop.
 */
static void *get_release_loop(void *arg)
{
	struct worker *w = arg;
	struct race *race = w->race;
	unsigned int i;
	__u64 id, again;

	for (i = 0; i < RELEASE_ROUNDS && !w->f.bad; i++) {
		id = give(race->owner, race->node, w->fd);
		if (!id) {
			fault(&w->f, "transfer: %s", strerror(errno));
			break;
		}
		/* Nobody else gives this peer the node: a new handle. */
		if (id <= w->id)
			fault(&w->f, "handle %llu, not above %llu",
			      (unsigned long long)id,
			      (unsigned long long)w->id);
		w->id = id;
		w->held = 1;
		if (i % 3 == 0) {
			again = give(race->owner, race->node, w->fd);
			if (again != id)
				fault(&w->f, "merged into %llu, not %llu",
				      (unsigned long long)again,
				      (unsigned long long)id);
			if (bus1_handle_release(w->fd, &id, 1, 0))
				fault(&w->f, "release: %s", strerror(errno));
		}
		if (i == RELEASE_ROUNDS - 1)
			break;
		if (bus1_handle_release(w->fd, &id, 1, 0))
			fault(&w->f, "release: %s", strerror(errno));
		w->held = 0;
		if (i % 8 == 0 && (bus1_handle_release(w->fd, &id, 1, 0) != -1 ||
				   errno != ENXIO))
			fault(&w->f, "released handle still there");
	}
	return NULL;
}

static void *release_last(void *arg)
{
	struct worker *w = arg;

	if (bus1_handle_release(w->fd, &w->id, 1, 0))
		fault(&w->f, "release: %s", strerror(errno));
	else
		w->held = 0;
	return NULL;
}

/* The owner in test release_notice_race: takes release notices. */
static void *drain_released(void *arg)
{
	struct drain *d = arg;
	struct race *race = d->race;
	struct pollfd pfd = { .fd = race->owner, .events = POLLIN };
	struct bus1_recv r;

	/* Stop at once when told: a notice may stay queued. */
	while (!d->f.bad && !LOAD(race->stop)) {
		if (now_ms() > race->deadline + WAIT_MS) {
			fault(&d->f, "draining timed out");
			break;
		}
		if (recv_msg(race->owner, &r)) {
			if (errno != EAGAIN)
				fault(&d->f, "recv: %s", strerror(errno));
			else
				poll(&pfd, 1, 10);
			continue;
		}
		if (r.type != BUS1_MSG_NODE_RELEASE ||
		    r.destination != race->node)
			fault(&d->f, "entry of type %llu to %llu",
			      (unsigned long long)r.type,
			      (unsigned long long)r.destination);
		d->released++;
	}
	return NULL;
}

/*
 * Release notices of one node while THREADS peers get and drop it and the
 * owner takes the notices as they come. At most one notice is queued per
 * node, and one that became stale is withdrawn when the owner gets to it.
 * Once the owner stopped receiving, the node is dropped by every thread
 * and got back, which leaves exactly one stale notice queued. The owner
 * looks at it in odd rounds, and must find nothing; in even rounds it
 * stays. Then every thread drops the node at once: either way exactly one
 * notice must arrive.
 */
static void release_notice_round(struct __test_metadata *_metadata,
				 struct tally *t, bool look)
{
	struct worker w[THREADS] = {};
	struct drain d = {};
	struct race race;
	unsigned int i;

	race_init(&race, 0);
	race.owner = peer_new();
	ASSERT_LE(0, race.owner);
	ASSERT_EQ(0, bus1_node_create(race.owner, &race.node, 0));
	d.race = &race;
	ASSERT_EQ(0, pthread_create(&d.thread, NULL, drain_released, &d));
	for (i = 0; i < THREADS; i++) {
		w[i].fd = peer_new();
		ASSERT_LE(0, w[i].fd);
	}
	ASSERT_EQ(0, start_all(w, THREADS, &race, get_release_loop));
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
		EXPECT_EQ(1, w[i].held);
	}
	STORE(race.stop, 1);
	ASSERT_EQ(0, join(d.thread));
	expect_no_fault(_metadata, &d.f, -1);
	EXPECT_GE(THREADS * RELEASE_ROUNDS, d.released);
	t->ok += d.released;

	/* Every thread holds the node: a notice queued now is stale. */
	EXPECT_GE(1, fdinfo(race.owner, "bus1-queued"));
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, bus1_handle_release(w[i].fd, &w[i].id, 1, 0));
	EXPECT_EQ(1, fdinfo(race.owner, "bus1-queued"));
	for (i = 0; i < THREADS; i++) {
		w[i].id = give(race.owner, race.node, w[i].fd);
		ASSERT_NE(0, w[i].id);
	}
	EXPECT_EQ(1, fdinfo(race.owner, "bus1-queued"));
	if (look)
		expect_empty(_metadata, race.owner);

	ASSERT_EQ(0, start_all(w, THREADS, &race, release_last));
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
		EXPECT_EQ(0, fdinfo(w[i].fd, "bus1-handles"));
		expect_empty(_metadata, w[i].fd);
		close(w[i].fd);
	}
	expect_notice(_metadata, race.owner, BUS1_MSG_NODE_RELEASE, race.node);
	expect_empty(_metadata, race.owner);
	EXPECT_EQ(1, fdinfo(race.owner, "bus1-handles"));
	EXPECT_EQ(1, fdinfo(race.owner, "bus1-nodes"));
	close(race.owner);
}

TEST(release_notice_race)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 4; round++)
		release_notice_round(_metadata, &t, round & 1);
	TH_LOG("%u release notices taken while racing", t.ok);
}

/* Transfer w->src_id from w->src to w->dst, which names it w->dst_id. */
static void *transfer_loop(void *arg)
{
	struct worker *w = arg;
	struct bus1_transfer t;
	unsigned int i;
	bool late;
	int r;

	for (i = 0; running(w, i); i++) {
		late = decided(w->race);
		memset(&t, 0, sizeof(t));
		t.src_id = w->src_id;
		r = bus1_handle_transfer(w->src, w->dst, &t, sizeof(t));
		if (!judge(w, "transfer", r, errno, late) &&
		    t.dst_id != w->dst_id)
			fault(&w->f, "transfer gave %llu, not %llu",
			      (unsigned long long)t.dst_id,
			      (unsigned long long)w->dst_id);
	}
	return NULL;
}

/*
 * A owns the node; B and C hold it. Threads pass it A to B, B to C and C
 * to B while B is closed (EBADF once its fd is gone) or disconnected
 * (ESHUTDOWN). C keeps every reference it got; once it drops them, A must
 * be told that nobody holds the node any more.
 */
static void close_vs_transfer_round(struct __test_metadata *_metadata,
				    struct tally *t, bool disconnect)
{
	struct worker w[3] = {};
	__u64 in_b, in_c;
	struct race race;
	unsigned int i;
	int b, c;

	race_init(&race, disconnect ? ESHUTDOWN : EBADF);
	race.owner = peer_new();
	b = peer_new();
	c = peer_new();
	ASSERT_LE(0, race.owner);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, bus1_node_create(race.owner, &race.node, 0));
	in_b = give(race.owner, race.node, b);
	in_c = give(race.owner, race.node, c);
	ASSERT_NE(0, in_b);
	ASSERT_NE(0, in_c);

	w[0].src = race.owner;
	w[0].src_id = race.node;
	w[0].dst = b;
	w[0].dst_id = in_b;
	w[1].src = b;
	w[1].src_id = in_b;
	w[1].dst = c;
	w[1].dst_id = in_c;
	w[2].src = c;
	w[2].src_id = in_c;
	w[2].dst = b;
	w[2].dst_id = in_b;
	ASSERT_EQ(0, start_all(w, 3, &race, transfer_loop));

	/* Nothing opens a file until the threads are joined: no fd reuse. */
	wait_for(&race.ok, PROGRESS, PROGRESS_MS);
	ASSERT_EQ(0, disconnect ? bus1_peer_disconnect(b, 0) : close(b));
	STORE(race.done, 1);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
	}
	count(t, w, 3);
	if (disconnect) {
		EXPECT_EQ(0, fdinfo(b, "bus1-connected"));
		close(b);
	}

	/* C held the node all along: no notice yet. */
	expect_empty(_metadata, race.owner);
	EXPECT_EQ(1, fdinfo(c, "bus1-handles"));
	release_all(_metadata, c, in_c, 1 + w[1].ok);
	EXPECT_EQ(0, fdinfo(c, "bus1-handles"));
	expect_notice(_metadata, race.owner, BUS1_MSG_NODE_RELEASE, race.node);
	expect_empty(_metadata, race.owner);
	expect_empty(_metadata, c);
	EXPECT_EQ(1, fdinfo(race.owner, "bus1-handles"));
	close(c);
	close(race.owner);
}

TEST(close_vs_transfer)
{
	struct tally t = {};
	int round;

	for (round = 0; round < 4; round++)
		close_vs_transfer_round(_metadata, &t, round & 1);
	TH_LOG("%u transfers, %u refused", t.ok + t.lost, t.lost);
}

/*
 * Forwarders pass a handle to N in messages to a sink while the owner
 * destroys N. Before the sink's destruction notice, every message must
 * bring the one handle the sink holds; after it, every message brings
 * BUS1_HANDLE_INVALID. No release notice follows a destruction.
 */
struct forward {
	int fd;
	__u64 to_sink, node;
	unsigned int sent, done;
};

static void *forward_loop(void *arg)
{
	struct forward *f = arg;
	struct bus1_send s = {
		.ptr_destinations = PTR(&f->to_sink),
		.n_destinations = 1,
		.ptr_handles = PTR(&f->node),
		.n_handles = 1,
	};
	unsigned int i;

	for (i = 0; i < 300 && !LOAD(f->done); i++)
		if (!bus1_send(f->fd, &s, sizeof(s)))
			INC(f->sent);
	STORE(f->done, 1);
	return NULL;
}

TEST(pass_while_destroying)
{
	int owner = peer_new(), sink = peer_new(), i;
	struct forward fw[THREADS];
	pthread_t threads[THREADS];
	unsigned int valid = 0, invalid = 0, total = 0, sent = 0;
	__u64 n, sink_node, held = 0;
	const unsigned char *pool;
	bool destroyed = false;
	struct bus1_recv r;

	ASSERT_LE(0, owner);
	ASSERT_LE(0, sink);
	ASSERT_EQ(0, bus1_node_create(owner, &n, 0));
	ASSERT_EQ(0, bus1_node_create(sink, &sink_node, 0));
	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, sink, 0);
	ASSERT_TRUE(pool != MAP_FAILED);
	for (i = 0; i < THREADS; i++) {
		memset(&fw[i], 0, sizeof(fw[i]));
		fw[i].fd = peer_new();
		ASSERT_LE(0, fw[i].fd);
		fw[i].node = give(owner, n, fw[i].fd);
		fw[i].to_sink = give(sink, sink_node, fw[i].fd);
		ASSERT_NE(0, fw[i].node);
		ASSERT_NE(0, fw[i].to_sink);
	}
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, forward_loop,
					    &fw[i]));
	/* Let some messages through, then destroy N under the senders. */
	while (!LOAD(fw[0].sent) && !LOAD(fw[0].done))
		usleep(100);
	ASSERT_EQ(0, bus1_nodes_destroy(owner, &n, 1, 0));
	/* A few more after it, then stop: slow guests need not send all. */
	usleep(20000);
	for (i = 0; i < THREADS; i++)
		STORE(fw[i].done, 1);
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, join(threads[i]));
		sent += fw[i].sent;
	}

	while (!recv_wait(sink, &r, 200)) {
		__u64 id;

		if (r.type == BUS1_MSG_NODE_DESTROY) {
			EXPECT_FALSE(destroyed);
			EXPECT_EQ(held, r.destination);
			destroyed = true;
			continue;
		}
		ASSERT_EQ(BUS1_MSG_DATA, r.type);
		ASSERT_EQ(1, r.n_handles);
		memcpy(&id, pool + r.offset, sizeof(id));
		EXPECT_EQ(0, bus1_slice_release(sink, &r.offset, 1, 0));
		total++;
		if (destroyed) {
			EXPECT_EQ(BUS1_HANDLE_INVALID, id);
			invalid++;
			continue;
		}
		/* Before the notice: always the one handle, merged. */
		EXPECT_NE(BUS1_HANDLE_INVALID, id);
		if (!held)
			held = id;
		EXPECT_EQ(held, id);
		valid++;
	}
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_EQ(sent, total);
	/* The sink held the node before its destruction iff it was told. */
	EXPECT_EQ(!!valid, destroyed);
	TH_LOG("%u handles arrived before the destruction, %u after",
	       valid, invalid);
	release_all(_metadata, sink, held, valid);
	for (i = 0; i < THREADS; i++) {
		expect_notice(_metadata, fw[i].fd, BUS1_MSG_NODE_DESTROY,
			      fw[i].node);
		release_all(_metadata, fw[i].fd, fw[i].node, 1);
		close(fw[i].fd);
	}
	expect_notice(_metadata, owner, BUS1_MSG_NODE_DESTROY, n);
	release_all(_metadata, owner, n, 1);
	expect_empty(_metadata, owner);
	EXPECT_EQ(1, fdinfo(sink, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(sink, "bus1-pool-allocated"));
	munmap((void *)pool, BUS1_POOL_SIZE);
	close(sink);
	close(owner);
}

/*
 * Threads pass the write end of a pipe while another thread closes and
 * reopens the fd number under them. Every send either fails with EBADF
 * or passes a file that is the pipe; once everything is received or
 * dropped and closed, the read end sees EOF: no reference is left
 * behind, in the kernel or in the receiver.
 */
struct fd_race {
	int sender, fd;
	__u64 to_rx;
	unsigned int sent, ebadf, bad, stop;
};

static void *pass_fd_loop(void *arg)
{
	struct fd_race *f = arg;
	struct bus1_send s = {
		.ptr_destinations = PTR(&f->to_rx),
		.n_destinations = 1,
		.ptr_fds = PTR(&f->fd),
		.n_fds = 1,
	};
	unsigned int i;

	for (i = 0; i < 400 && !LOAD(f->stop); i++) {
		if (!bus1_send(f->sender, &s, sizeof(s)))
			INC(f->sent);
		else if (errno == EBADF)
			INC(f->ebadf);
		else
			INC(f->bad);
	}
	return NULL;
}

TEST(pass_fd_under_close)
{
	int rx = peer_new(), sender = peer_new(), pipefd[2], keep, i;
	pthread_t threads[THREADS];
	struct fd_race f = {};
	unsigned int n_recv = 0;
	__u64 node;
	const unsigned char *pool;
	struct stat pst, st;
	struct bus1_recv r;
	char c;

	ASSERT_LE(0, rx);
	ASSERT_LE(0, sender);
	ASSERT_EQ(0, bus1_node_create(rx, &node, 0));
	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, rx, 0);
	ASSERT_TRUE(pool != MAP_FAILED);
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, fstat(pipefd[1], &pst));
	keep = dup(pipefd[1]);
	ASSERT_LE(0, keep);
	f.sender = sender;
	f.fd = pipefd[1];
	f.to_rx = give(rx, node, sender);
	ASSERT_NE(0, f.to_rx);

	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, pass_fd_loop,
					    &f));
	/* Close and reopen the number while the senders pass it. */
	for (i = 0; i < 200; i++) {
		close(f.fd);
		usleep(50);
		ASSERT_EQ(f.fd, dup2(keep, f.fd))
			TH_LOG("dup2: %s", strerror(errno));
	}
	STORE(f.stop, 1);
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, join(threads[i]));
	EXPECT_EQ(0, f.bad);
	ASSERT_LT(0, f.sent);
	TH_LOG("%u fds passed, %u sends saw the number closed",
	       f.sent, f.ebadf);

	/* Receive half with the fds installed; the rest go with the peer. */
	while (n_recv < f.sent / 2) {
		__s32 fd;

		memset(&r, 0, sizeof(r));
		r.flags = BUS1_RECV_FDS;
		ASSERT_EQ(0, bus1_recv(rx, &r, sizeof(r)));
		ASSERT_EQ(1, r.n_fds);
		memcpy(&fd, pool + r.offset, sizeof(fd));
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(pst.st_ino, st.st_ino);
		EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
		EXPECT_EQ(0, bus1_slice_release(rx, &r.offset, 1, 0));
		n_recv++;
	}
	EXPECT_EQ(f.sent - n_recv, fdinfo(rx, "bus1-queued"));
	close(f.fd);
	close(keep);
	EXPECT_EQ(-1, read(pipefd[0], &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	munmap((void *)pool, BUS1_POOL_SIZE);
	close(rx);
	/* The queued messages held the last references. */
	EXPECT_EQ(0, read(pipefd[0], &c, 1));
	close(pipefd[0]);
	close(sender);
}

/*
 * Holders close while the owner destroys their node: the destruction
 * tells the holders it can still reach, whose memory must outlive it
 * although their last file reference is gone. The owner hears of its
 * node exactly once more after a possible release notice.
 */
struct closer {
	int fd;
	unsigned int *go;
};

static void *close_on_go(void *arg)
{
	struct closer *c = arg;

	while (!LOAD(*c->go))
		;
	close(c->fd);
	return NULL;
}

TEST(destroy_while_holders_close)
{
	struct closer c[THREADS];
	pthread_t threads[THREADS];
	unsigned int round, go;
	struct bus1_recv r;
	int owner, i;
	__u64 n;

	for (round = 0; round < 40; round++) {
		owner = peer_new();
		ASSERT_LE(0, owner);
		ASSERT_EQ(0, bus1_node_create(owner, &n, 0));
		go = 0;
		for (i = 0; i < THREADS; i++) {
			c[i].fd = peer_new();
			ASSERT_LE(0, c[i].fd);
			ASSERT_NE(0, give(owner, n, c[i].fd));
			c[i].go = &go;
			ASSERT_EQ(0, pthread_create(&threads[i], NULL,
						    close_on_go, &c[i]));
		}
		STORE(go, 1);
		if (round & 1)
			usleep(round * 10);
		ASSERT_EQ(0, bus1_nodes_destroy(owner, &n, 1, 0));
		for (i = 0; i < THREADS; i++)
			ASSERT_EQ(0, join(threads[i]));

		r = recv_bounded(_metadata, owner);
		if (r.type == BUS1_MSG_NODE_RELEASE) {
			EXPECT_EQ(n, r.destination);
			r = recv_bounded(_metadata, owner);
		}
		EXPECT_EQ(BUS1_MSG_NODE_DESTROY, r.type);
		EXPECT_EQ(n, r.destination);
		expect_empty(_metadata, owner);
		release_all(_metadata, owner, n, 1);
		close(owner);
	}
}

/*
 * Edge-triggered epoll with several receiving threads on one epoll
 * instance: each drains the peer until EAGAIN when, and only when, a
 * wake-up says so. Meanwhile another thread keeps taking the receive lock
 * without taking a message: its receives find the message and then fail
 * with EFAULT on a read-only struct bus1_recv. A receive whose wake-up
 * found the lock taken must wait for it instead of failing with EAGAIN:
 * else the message stays queued with its only wake-up spent, and the
 * round below waits for it in vain.
 */
#define ET_THREADS	3	/* receiving threads */
#define ET_ROUNDS	200	/* messages sent one at a time */
#define ET_BURSTS	10	/* then bursts of ET_BURST messages */
#define ET_BURST	32
#define ET_MSGS		(ET_ROUNDS + ET_BURSTS * ET_BURST)

struct et_race {
	int fd;				/* the receiving peer, non-blocking */
	int ep;				/* epoll instance, edge-triggered on @fd */
	const unsigned char *pool;	/* @fd's pool */
	struct bus1_recv *ro;		/* read-only, for the busy thread */
	unsigned int stop;
	unsigned int received;		/* messages received */
	unsigned int busy;		/* receives that failed with EFAULT */
	unsigned int seen[ET_MSGS];	/* receipts per message */
};

struct et_worker {
	pthread_t thread;
	struct et_race *race;
	struct fault f;
};

static void *et_receiver(void *arg)
{
	struct et_worker *w = arg;
	struct et_race *e = w->race;
	struct epoll_event ev;
	struct bus1_recv r;
	__u32 idx;
	int n;

	while (!LOAD(e->stop)) {
		n = epoll_wait(e->ep, &ev, 1, 50);
		if (n < 0 && errno != EINTR) {
			fault(&w->f, "epoll_wait: %s", strerror(errno));
			break;
		}
		if (n <= 0)
			continue;
		for (;;) {
			if (recv_msg(e->fd, &r)) {
				if (errno != EAGAIN)
					fault(&w->f, "recv: %s",
					      strerror(errno));
				break;
			}
			if (r.type != BUS1_MSG_DATA || r.size != sizeof(idx)) {
				fault(&w->f, "entry of type %llu, size %llu",
				      (unsigned long long)r.type,
				      (unsigned long long)r.size);
				continue;
			}
			memcpy(&idx, e->pool + r.offset, sizeof(idx));
			if (idx < ET_MSGS)
				INC(e->seen[idx]);
			else
				fault(&w->f, "message %u", idx);
			if (bus1_slice_release(e->fd, &r.offset, 1, 0))
				fault(&w->f, "release: %s", strerror(errno));
			INC(e->received);
		}
	}
	return NULL;
}

static void *et_busy(void *arg)
{
	struct et_worker *w = arg;
	struct et_race *e = w->race;

	while (!LOAD(e->stop)) {
		if (!bus1_recv(e->fd, e->ro, sizeof(*e->ro))) {
			fault(&w->f, "received into a read-only struct");
			break;
		}
		if (errno == EFAULT)
			INC(e->busy);
		else if (errno != EAGAIN)
			fault(&w->f, "busy recv: %s", strerror(errno));
	}
	return NULL;
}

TEST(epoll_edge_threads_lose_nothing)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct et_worker w[ET_THREADS + 1];
	unsigned int i, j, sent = 0, lost = ~0U;
	struct et_race *e;
	int a, b;
	__u64 n, h;

	e = calloc(1, sizeof(*e));
	ASSERT_TRUE(!!e);
	a = peer_new();
	b = peer_new();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, bus1_node_create(b, &n, 0));
	h = give(b, n, a);
	ASSERT_NE(0, h);
	e->fd = b;
	e->pool = map_pool(b);
	ASSERT_TRUE(!!e->pool);
	e->ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_TRUE(e->ro != MAP_FAILED);
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, e->ep);
	ASSERT_EQ(0, epoll_ctl(e->ep, EPOLL_CTL_ADD, b, &ev));

	memset(w, 0, sizeof(w));
	for (i = 0; i <= ET_THREADS; i++) {
		w[i].race = e;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
					    i < ET_THREADS ? et_receiver :
							     et_busy,
					    &w[i]));
	}

	/* One at a time, then in bursts; each must arrive. */
	for (i = 0; i < ET_ROUNDS + ET_BURSTS && lost == ~0U; i++) {
		for (j = 0; j < (i < ET_ROUNDS ? 1 : ET_BURST); j++) {
			if (send_one(a, h, &sent, sizeof(sent)))
				break;
			sent++;
		}
		EXPECT_EQ(i < ET_ROUNDS ? 1 : ET_BURST, j)
			TH_LOG("send: %s", strerror(errno));
		wait_for(&e->received, sent, WAIT_MS);
		if (LOAD(e->received) < sent)
			lost = sent - 1;
	}
	STORE(e->stop, 1);
	for (i = 0; i <= ET_THREADS; i++) {
		ASSERT_EQ(0, join(w[i].thread));
		expect_no_fault(_metadata, &w[i].f, i);
	}

	EXPECT_EQ(~0U, lost) TH_LOG("message %u stayed queued, %llu queued",
				    lost, fdinfo(b, "bus1-queued"));
	EXPECT_EQ(ET_MSGS, sent);
	EXPECT_EQ(sent, e->received);
	for (i = 0; i < sent; i++)
		EXPECT_EQ(1, e->seen[i]) TH_LOG("message %u", i);
	/* The receive lock was taken under the receivers' feet. */
	EXPECT_LT(0, e->busy);
	TH_LOG("%u receives held the lock and failed", e->busy);
	expect_empty(_metadata, b);

	close(e->ep);
	munmap(e->ro, PAGE);
	munmap((void *)e->pool, BUS1_POOL_SIZE);
	release_all(_metadata, a, h, 1);
	close(a);
	close(b);
	free(e);
}

TEST_HARNESS_MAIN
