// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 bench: IPC round trips, streams, multicast, handle and fd passing,
 * and independent pairs, for bus1 and the mechanisms it replaces, in one
 * boot. Prints CSV lines ("CSV,...") that scripts/bench.sh collects.
 *
 *   bench [-r LABEL] [-w WORKLOADS] [-m MECHS] [-s SCALE] [-z SIZE]
 *
 * WORKLOADS is a comma-separated list of:
 *   rt           round trip, same payload size both ways, receiver copies out
 *   rt-read      the same, the receiver reads the payload in place instead
 *   stream       one way, a window of messages in flight, credits back
 *   stream-read  the same, the receiver reads the payload in place instead
 *   mcast        one sender to k receivers (bus1: one send; AF_UNIX: k
 *                sends); also the sender's own CPU time, as "mcast-send"
 *   pass         round trip of 8 bytes passing one handle or fd per request
 *   path         round trip in one thread that holds both ends: nobody waits,
 *                so no wake-up and no context switch, only the IPC path
 *   pairs        P independent pairs, pair i on CPU i, aggregate round trips
 * MECHS limits the mechanisms (by name); SCALE multiplies iterations;
 * SIZE limits the payload sizes to one (scripts/bench.sh profile).
 *
 * Each message starts with a 64-bit sequence number that the receiver
 * checks. Every process is pinned: client CPU 0, server CPU 1, a broker
 * CPU 2 (each modulo the CPUs there are); multicast receivers on CPUs
 * 1..n-1; pairs on their own CPU. Times come from CLOCK_MONOTONIC around
 * each round trip (rt, pass) or each run of messages (stream, mcast,
 * pairs), and for mcast-send from the sender's CLOCK_THREAD_CPUTIME_ID
 * around the same runs; a tenth of the iterations warm up first and are
 * not recorded.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

static const struct mech *const mechs[] = {
	&mech_bus1, &mech_bus1_creds, &mech_bus1_lib, &mech_unix_seqpacket,
	&mech_unix_stream, &mech_pipe, &mech_broker, &mech_binder,
	&mech_binder_oneway, &mech_futex, &mech_bus1_handle, &mech_bus1_fd,
	&mech_unix_fd,
};
static const struct group *const groups[] = { &group_bus1, &group_unix };
static const size_t sizes[] = { 8, 4096, 65536, 1U << 20 };
static const int fanouts[] = { 1, 4, 16, 64 };
static const int pair_counts[] = { 1, 2, 4 };

#define MAX_SAMPLES	(1U << 18)
#define MAX_KIDS	(2 * 64 + 2)
#define POINT_TIMEOUT	600	/* seconds of guest time for one point */
#define CREDIT_SIZE	16	/* count, receiver index */

enum touch { TOUCH_COPY, TOUCH_READ };
static const char *const touch_name[] = { "copy", "read" };

/* Shared with every child. */
struct shm {
	_Atomic uint32_t count[2], gen[2];	/* two barriers */
	uint64_t t0[8], t1[8];			/* pairs: start and end */
	uint64_t cpu[8];			/* mcast: the sender's CPU time */
	uint64_t ns[MAX_SAMPLES];		/* the client's samples */
};

/* The point being measured; children inherit it over fork(). */
static struct {
	const char *workload;
	const struct mech *mech;
	const struct group *group;
	void *shared[8];
	size_t size;
	int k;			/* receivers (mcast) or pairs */
	unsigned int depth;	/* messages in flight (stream, mcast) */
	int n, warm, reps;
	enum touch touch;
	int pair_uids;		/* pairs: each pair's peers of its own user */
} cur;

static const char *label = "run";
static const char *only_mechs;
static size_t only_size;	/* 0: every size */
static double scale = 1.0;
static int ncpu;
static struct shm *shm;
static char *txbuf, *rxbuf;
static volatile uint64_t sink;
static pid_t kids[MAX_KIDS];
static int nkids;
static pid_t parent;
static jmp_buf *recover;	/* where a failure in the parent goes */

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: %s %s %zu: ", cur.workload ? cur.workload : "",
		cur.mech ? cur.mech->name : cur.group ? cur.group->name : "", cur.size);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() == parent && recover)
		longjmp(*recover, 1);
	_exit(1);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("out of memory");
	return p;
}

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap: %m");
	return p;
}

void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % ncpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(%d): %m", cpu);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* Wait until @n processes reached barrier @b. */
static void barrier(int b, int n)
{
	uint32_t gen = atomic_load(&shm->gen[b]);

	if (atomic_fetch_add(&shm->count[b], 1) + 1 == (uint32_t)n) {
		atomic_store(&shm->count[b], 0);
		atomic_store(&shm->gen[b], gen + 1);
		futex(&shm->gen[b], FUTEX_WAKE, INT_MAX);
		return;
	}
	while (atomic_load(&shm->gen[b]) == gen)
		futex(&shm->gen[b], FUTEX_WAIT, gen);
}

/* The receiver's side of fairness: copy the payload out, or read it. */
static uint64_t consume(const void *p, size_t len, int in_place)
{
	const uint64_t *w;
	uint64_t seq, sum = 0;
	size_t i;

	if (cur.touch == TOUCH_COPY) {
		if (in_place) {
			copy_words(rxbuf, p, len);
			p = rxbuf;
		}
	} else {
		w = p;
		for (i = 0; i < len / 8; i++)
			sum += w[i];
		sink += sum;
	}
	memcpy(&seq, p, sizeof(seq));
	return seq;
}

static void put_seq(uint64_t seq)
{
	memcpy(txbuf, &seq, sizeof(seq));
}

/* Children */

static void spawn(void (*fn)(int), int arg)
{
	pid_t pid;

	if (nkids == MAX_KIDS)
		die("too many processes");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (!pid) {
		fn(arg);
		_exit(0);
	}
	kids[nkids++] = pid;
}

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* Wait for every child; NULL if all succeeded, else why not. */
static const char *reap(void)
{
	const char *err = NULL;
	int i, st, left = nkids;
	pid_t pid;

	timed_out = 0;
	alarm(POINT_TIMEOUT);
	while (left) {
		pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno != EINTR)
				break;
			if (timed_out && !err)
				err = "timeout";
		} else {
			for (i = 0; i < nkids && kids[i] != pid; i++)
				;
			if (i == nkids)
				continue;	/* a helper, such as the broker */
			kids[i] = 0;
			left--;
			if ((!WIFEXITED(st) || WEXITSTATUS(st)) && !err)
				err = "failed";
		}
		if (err)
			for (i = 0; i < nkids; i++)
				if (kids[i])
					kill(kids[i], SIGKILL);
	}
	alarm(0);
	nkids = 0;
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median and 99th percentile of @n samples, sorted in place. */
static void stats(uint64_t *v, int n, double *median, double *p99)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	*median = v[n / 2];
	*p99 = v[(int)ceil(0.99 * n) - 1];
}

static void emit(const char *name, const char *status, double median, double p99)
{
	printf("CSV,%s,%s,%s,%zu,%d,%s,%u,%d,%.1f,%.1f,%s\n", label, cur.workload,
	       name, cur.size, cur.k, touch_name[cur.touch], cur.depth, cur.n,
	       median, p99, status);
}

static int wanted(const char *name)
{
	const char *p = only_mechs;
	size_t len = strlen(name);

	if (!p)
		return 1;
	while (p) {
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

static int count(int base, int min)
{
	int n = base * scale;

	n = n < min ? min : n;
	return n > (int)MAX_SAMPLES ? (int)MAX_SAMPLES : n;
}

static unsigned int default_depth(size_t size)
{
	size_t d = (2U << 20) / size;

	return d < 2 ? 2 : d > 64 ? 64 : d;
}

/* Round trip (rt, rt-read, pass) */

/* Round trips numbered @from to @to - 1; samples from number @record on. */
static void rt_client(const struct mech *m, struct ep *ep, int from, int to, int record)
{
	uint64_t t0, seq;
	const void *p;
	int i;

	for (i = from; i < to; i++) {
		t0 = now_ns();
		put_seq(i);
		m->send(ep, txbuf, cur.size);
		p = m->recv(ep, cur.size);
		seq = consume(p, cur.size, m->in_place);
		if (m->release)
			m->release(ep);
		if (i >= record)
			shm->ns[i - record] = now_ns() - t0;
		if (seq != (uint64_t)i)
			die("reply %d carries sequence number %llu", i, (unsigned long long)seq);
	}
}

static void rt_server(const struct mech *m, struct ep *ep, int n)
{
	const void *p;
	uint64_t seq;
	int i;

	for (i = 0; i < n; i++) {
		p = m->recv(ep, cur.size);
		seq = consume(p, cur.size, m->in_place);
		if (m->release)
			m->release(ep);
		if (seq != (uint64_t)i)
			die("request %d carries sequence number %llu", i, (unsigned long long)seq);
		put_seq(seq);
		m->send(ep, txbuf, cur.size);
	}
}

/* Side @side of a two-process point: pinned, opened, started together. */
static struct ep *open_side(const struct mech *m, int side)
{
	struct ep *ep;

	pin_cpu(side);
	ep = m->open(cur.shared[0], side, cur.size);
	barrier(0, 2);
	if (m->start)
		m->start(ep);
	return ep;
}

static void rt_child(int side)
{
	const struct mech *m = cur.mech;
	struct ep *ep = open_side(m, side);

	if (side == 0)
		rt_client(m, ep, 0, cur.warm + cur.n, cur.warm);
	else
		rt_server(m, ep, cur.warm + cur.n);
	m->close(ep);
}

static int create_failed;

/* m->create(), or NULL and create_failed set if it died. */
static void *create_or_fail(const struct mech *m, int cpu)
{
	jmp_buf env;
	void *shared;

	create_failed = 0;
	if (setjmp(env)) {
		recover = NULL;
		create_failed = 1;
		return NULL;
	}
	recover = &env;
	shared = m->create(cur.size, cpu);
	recover = NULL;
	return shared;
}

/* Create, run @fn on both sides, destroy; NULL or why it failed. */
static const char *run_pair(void (*fn)(int))
{
	const struct mech *m = cur.mech;
	const char *err;

	atomic_store(&shm->count[0], 0);
	atomic_store(&shm->count[1], 0);
	cur.shared[0] = create_or_fail(m, 2);
	if (!cur.shared[0] && create_failed)
		return "setup-failed";
	spawn(fn, 0);
	spawn(fn, 1);
	err = reap();
	m->destroy(cur.shared[0]);
	return err;
}

static void point_rt(const struct mech *m, size_t size, int base, enum touch touch)
{
	double median = 0, p99 = 0;
	const char *err;

	cur.mech = m;
	cur.size = size;
	cur.k = 1;
	cur.depth = 1;
	cur.touch = touch;
	cur.n = count(base, 20);
	cur.warm = cur.n / 10;
	err = m->unavailable ? m->unavailable() : NULL;
	if (!err)
		err = run_pair(rt_child);
	if (!err)
		stats(shm->ns, cur.n, &median, &p99);
	emit(m->name, err ? err : "ok", median, p99);
}

static int size_wanted(size_t size)
{
	return !only_size || size == only_size;
}

static int rt_base(size_t size)
{
	return size <= 4096 ? 2000 : size <= 65536 ? 500 : 100;
}

static void work_rt(enum touch touch)
{
	unsigned int i, j;

	cur.workload = touch == TOUCH_COPY ? "rt" : "rt-read";
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(mechs) / sizeof(mechs[0]); j++)
			if ((mechs[j]->caps & CAP_RT) && wanted(mechs[j]->name) &&
			    size_wanted(sizes[i]))
				point_rt(mechs[j], sizes[i], rt_base(sizes[i]), touch);
}

/*
 * Path: one process holds both ends and does both sides' work of a round
 * trip in turn, receiver copying out. Every receive finds its message
 * queued, so no call sleeps and no send wakes anybody: the time is the
 * mechanism's own path, without the scheduler, which under icount is
 * repeatable where the two-process round trip depends on how the
 * processes meet.
 */
static void path_child(int side)
{
	const struct mech *m = cur.mech;
	struct ep *c, *s;
	const void *p;
	uint64_t t0, seq;
	int i;

	(void)side;
	pin_cpu(0);
	c = m->open_both(cur.shared[0], 0, cur.size);
	s = m->open_both(cur.shared[0], 1, cur.size);
	for (i = 0; i < cur.warm + cur.n; i++) {
		t0 = now_ns();
		put_seq(i);
		m->send(c, txbuf, cur.size);
		p = m->recv(s, cur.size);
		seq = consume(p, cur.size, m->in_place);
		if (m->release)
			m->release(s);
		if (seq != (uint64_t)i)
			die("request %d carries sequence number %llu", i,
			    (unsigned long long)seq);
		m->send(s, txbuf, cur.size);
		p = m->recv(c, cur.size);
		seq = consume(p, cur.size, m->in_place);
		if (m->release)
			m->release(c);
		if (i >= cur.warm)
			shm->ns[i - cur.warm] = now_ns() - t0;
		if (seq != (uint64_t)i)
			die("reply %d carries sequence number %llu", i,
			    (unsigned long long)seq);
	}
	m->close(s);
	m->close(c);
}

static void point_path(const struct mech *m, size_t size)
{
	double median = 0, p99 = 0;
	const char *err = NULL;

	cur.mech = m;
	cur.size = size;
	cur.k = 1;
	cur.depth = 1;
	cur.touch = TOUCH_COPY;
	cur.n = count(rt_base(size), 20);
	cur.warm = cur.n / 10;
	cur.shared[0] = create_or_fail(m, 2);
	if (!cur.shared[0] && create_failed)
		err = "setup-failed";
	if (!err) {
		spawn(path_child, 0);
		err = reap();
		m->destroy(cur.shared[0]);
	}
	if (!err)
		stats(shm->ns, cur.n, &median, &p99);
	emit(m->name, err ? err : "ok", median, p99);
}

static void work_path(void)
{
	unsigned int i, j;

	cur.workload = "path";
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(mechs) / sizeof(mechs[0]); j++)
			if ((mechs[j]->caps & CAP_PATH) && wanted(mechs[j]->name) &&
			    size_wanted(sizes[i]))
				point_path(mechs[j], sizes[i]);
}

static void work_pass(void)
{
	unsigned int j;

	cur.workload = "pass";
	for (j = 0; j < sizeof(mechs) / sizeof(mechs[0]); j++)
		if ((mechs[j]->caps & CAP_PASS) && wanted(mechs[j]->name))
			point_rt(mechs[j], 8, 2000, TOUCH_COPY);
}

/*
 * Stream: the sender keeps at most cur.depth messages in flight; the
 * receiver sends a credit (the number of messages it consumed) every
 * half window and after the last one.
 */

static unsigned int credit_every(void)
{
	return (cur.depth + 1) / 2;
}

static void send_credit(const struct mech *m, struct ep *ep, uint64_t count, int idx)
{
	uint64_t c[2] = { count, idx };

	m->send(ep, c, sizeof(c));
}

static uint64_t take_credit(const struct mech *m, struct ep *ep, uint64_t acked, int n)
{
	uint64_t c[2], want = acked + credit_every();

	memcpy(c, m->recv(ep, CREDIT_SIZE), sizeof(c));
	if (m->release)
		m->release(ep);
	if (want > (uint64_t)n)
		want = n;
	if (c[0] != want)
		die("credit %llu, expected %llu", (unsigned long long)c[0],
		    (unsigned long long)want);
	return c[0];
}

static void stream_sender(const struct mech *m, struct ep *ep)
{
	uint64_t seq = 0, acked, t0;
	int rep, i, n;

	for (rep = -1; rep < cur.reps; rep++) {
		n = rep < 0 ? cur.warm : cur.n;
		acked = 0;
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			while (i - acked >= cur.depth)
				acked = take_credit(m, ep, acked, n);
			put_seq(seq++);
			m->send(ep, txbuf, cur.size);
		}
		while (acked < (uint64_t)n)
			acked = take_credit(m, ep, acked, n);
		if (rep >= 0)
			shm->ns[rep] = now_ns() - t0;
	}
}

static void stream_receiver(const struct mech *m, struct ep *ep, int idx)
{
	uint64_t seq = 0, got;
	unsigned int every = credit_every();
	int rep, i, n;

	for (rep = -1; rep < cur.reps; rep++) {
		n = rep < 0 ? cur.warm : cur.n;
		for (i = 0; i < n; i++) {
			got = consume(m->recv(ep, cur.size), cur.size, m->in_place);
			if (m->release)
				m->release(ep);
			if (got != seq)
				die("message %llu carries sequence number %llu",
				    (unsigned long long)seq, (unsigned long long)got);
			seq++;
			if ((i + 1) % every == 0 || i + 1 == n)
				send_credit(m, ep, i + 1, idx);
		}
	}
}

static void stream_child(int side)
{
	const struct mech *m = cur.mech;
	struct ep *ep = open_side(m, side);

	if (side == 0)
		stream_sender(m, ep);
	else
		stream_receiver(m, ep, 0);
	m->close(ep);
}

/* Per message: the median and the slowest of the repetitions @v. */
static void emit_reps(const char *name, const char *err, uint64_t *v, int per)
{
	double median = 0, worst = 0;
	int i;

	if (!err) {
		for (i = 0; i < cur.reps; i++)
			v[i] /= per;
		stats(v, cur.reps, &median, &worst);
		worst = v[cur.reps - 1];
	}
	emit(name, err ? err : "ok", median, worst);
}

static int stream_base(size_t size)
{
	return size <= 4096 ? 2000 : size <= 65536 ? 300 : 30;
}

static void work_stream(enum touch touch)
{
	const struct mech *m;
	const char *err;
	unsigned int i, j;

	cur.workload = touch == TOUCH_COPY ? "stream" : "stream-read";
	cur.touch = touch;
	cur.k = 1;
	cur.reps = 5;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(mechs) / sizeof(mechs[0]); j++) {
			m = mechs[j];
			if (!(m->caps & CAP_STREAM) || !wanted(m->name) ||
			    !size_wanted(sizes[i]))
				continue;
			cur.mech = m;
			cur.size = sizes[i];
			cur.depth = default_depth(cur.size);
			if (m->depth_max && m->depth_max(cur.size) < cur.depth)
				cur.depth = m->depth_max(cur.size);
			cur.n = count(stream_base(cur.size), 4 * cur.depth);
			cur.warm = cur.n / 10 > (int)cur.depth ? cur.n / 10 : (int)cur.depth;
			err = m->unavailable ? m->unavailable() : NULL;
			emit_reps(m->name, err ? err : run_pair(stream_child), shm->ns, cur.n);
		}
	}
}

/* Multicast: a stream to k receivers, credits from each */

static void mcast_sender(void)
{
	const struct group *g = cur.group;
	struct ep *ep = g->open_sender(cur.shared[0]);
	uint64_t seq = 0, acked[64], low, t0, cpu0, c[2];
	unsigned int every;
	int rep, i, j, n, lag;

	barrier(0, cur.k + 1);
	every = credit_every();
	for (rep = -1; rep < cur.reps; rep++) {
		n = rep < 0 ? cur.warm : cur.n;
		memset(acked, 0, sizeof(acked));
		low = 0;
		/* A syscall, not the vDSO: outside the CLOCK_MONOTONIC interval. */
		cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		t0 = now_ns();
		for (i = 0; i <= n; i++) {
			/* Before message i (and at the end): wait for credits. */
			while (i - low >= cur.depth || (i == n && low < (uint64_t)n)) {
				for (lag = 0, j = 1; j < cur.k; j++)
					if (acked[j] < acked[lag])
						lag = j;
				memcpy(c, g->recv_from(ep, lag, CREDIT_SIZE), sizeof(c));
				if (g->release)
					g->release(ep);
				if (c[1] >= (uint64_t)cur.k ||
				    c[0] != (acked[c[1]] + every < (uint64_t)n ?
					     acked[c[1]] + every : (uint64_t)n))
					die("credit %llu from %llu", (unsigned long long)c[0],
					    (unsigned long long)c[1]);
				acked[c[1]] = c[0];
				for (low = acked[0], j = 1; j < cur.k; j++)
					if (acked[j] < low)
						low = acked[j];
			}
			if (i == n)
				break;
			put_seq(seq++);
			g->send_all(ep, txbuf, cur.size);
		}
		if (rep >= 0) {
			shm->ns[rep] = now_ns() - t0;
			shm->cpu[rep] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
		}
	}
	g->close_sender(ep);
}

static void mcast_child(int idx)
{
	const struct group *g = cur.group;
	struct ep *ep;

	if (idx < 0) {
		pin_cpu(0);
		mcast_sender();
		return;
	}
	pin_cpu(ncpu > 1 ? 1 + idx % (ncpu - 1) : 0);
	ep = g->open_receiver(cur.shared[0], idx, cur.size);
	barrier(0, cur.k + 1);
	stream_receiver(g->mech, ep, idx);
	g->mech->close(ep);
}

/* Everyone's time per message, then the sender's own CPU time. */
static void emit_mcast(const char *name, const char *err)
{
	emit_reps(name, err, shm->ns, cur.n);
	cur.workload = "mcast-send";
	emit_reps(name, err, shm->cpu, cur.n);
	cur.workload = "mcast";
}

static int mcast_base(size_t size, int k)
{
	return (8 << 20) / (k * (size < 2048 ? 2048 : size));
}

static void work_mcast(void)
{
	const struct group *g;
	unsigned int i, j, f;
	const char *err;
	jmp_buf env;
	int r;

	cur.workload = "mcast";
	cur.touch = TOUCH_COPY;
	cur.mech = NULL;
	cur.reps = 3;
	for (i = 0; i < 3; i++) {		/* 8 B, 4 KiB, 64 KiB */
		for (f = 0; f < sizeof(fanouts) / sizeof(fanouts[0]); f++) {
			for (j = 0; j < sizeof(groups) / sizeof(groups[0]); j++) {
				g = groups[j];
				if (!wanted(g->name) || !size_wanted(sizes[i]))
					continue;
				cur.group = g;
				cur.size = sizes[i];
				cur.k = fanouts[f];
				/* Bytes in flight to all receivers, as in a stream. */
				cur.depth = default_depth(cur.size * cur.k);
				cur.n = count(mcast_base(cur.size, cur.k),
					      4 * cur.depth > 20 ? 4 * cur.depth : 20);
				if (cur.n > 1000)
					cur.n = 1000;
				cur.warm = cur.n / 10 > (int)cur.depth ? cur.n / 10 : (int)cur.depth;
				atomic_store(&shm->count[0], 0);
				if (setjmp(env)) {
					recover = NULL;
					emit_mcast(g->name, "setup-failed");
					continue;
				}
				recover = &env;
				cur.shared[0] = g->create(cur.k, cur.size);
				recover = NULL;
				spawn(mcast_child, -1);
				for (r = 0; r < cur.k; r++)
					spawn(mcast_child, r);
				err = reap();
				g->destroy(cur.shared[0]);
				emit_mcast(g->name, err);
			}
		}
	}
	cur.group = NULL;
}

/* Independent pairs: pair i on CPU i, round trips of 8 bytes */

static void pairs_child(int arg)
{
	const struct mech *m = cur.mech;
	int pair = arg / 2, side = arg % 2;
	struct ep *ep;

	pin_cpu(pair);
	ep = m->open(cur.shared[pair], side, cur.size);
	barrier(0, 2 * cur.k);
	if (m->start)
		m->start(ep);
	if (side == 1) {
		rt_server(m, ep, cur.warm + cur.n);
	} else {
		/* Warm up alone, then start together. */
		rt_client(m, ep, 0, cur.warm, INT_MAX);
		barrier(1, cur.k);
		shm->t0[pair] = now_ns();
		rt_client(m, ep, cur.warm, cur.warm + cur.n, INT_MAX);
		shm->t1[pair] = now_ns();
	}
	m->close(ep);
}

/* With pair_uids, pair i's peers belong to user PAIR_UID + i. */
#define PAIR_UID	61000

/* Aggregate time per round trip, over all pairs, per repetition. */
static const char *pairs_rep(int rep)
{
	const struct mech *m = cur.mech;
	uint64_t start = UINT64_MAX, end = 0;
	const char *err;
	int i;

	atomic_store(&shm->count[0], 0);
	atomic_store(&shm->count[1], 0);
	for (i = 0; i < cur.k; i++) {
		/* A peer belongs to the real uid of its creator. */
		if (cur.pair_uids && setresuid(PAIR_UID + i, -1, -1))
			return "setresuid-failed";
		cur.shared[i] = create_or_fail(m, i);
		if (cur.pair_uids && setresuid(0, -1, -1))
			abort();
		if (!cur.shared[i] && create_failed)
			return "setup-failed";
	}
	for (i = 0; i < 2 * cur.k; i++)
		spawn(pairs_child, i);
	err = reap();
	for (i = 0; i < cur.k; i++)
		m->destroy(cur.shared[i]);
	if (err)
		return err;
	for (i = 0; i < cur.k; i++) {
		start = shm->t0[i] < start ? shm->t0[i] : start;
		end = shm->t1[i] > end ? shm->t1[i] : end;
	}
	/* shm->ns[] is the clients' sample area, unused by pairs: borrow it. */
	shm->ns[MAX_SAMPLES - 1 - rep] = (end - start) / ((uint64_t)cur.k * cur.n);
	return NULL;
}

static void work_pairs(void)
{
	const struct mech *m;
	const char *err = NULL;
	uint64_t v[8];
	unsigned int j, p;
	double median = 0, worst = 0;
	int rep;

	cur.workload = "pairs";
	cur.touch = TOUCH_COPY;
	cur.size = 8;
	cur.depth = 1;
	cur.reps = 3;
	for (p = 0; p < sizeof(pair_counts) / sizeof(pair_counts[0]); p++) {
		if (pair_counts[p] > ncpu)
			break;
		/*
		 * bus1 runs twice: all peers of one user (the bus1 row), and
		 * each pair's of its own (bus1-uids), as the quotas differ.
		 */
		for (j = 0; j <= sizeof(mechs) / sizeof(mechs[0]); j++) {
			cur.pair_uids = j == sizeof(mechs) / sizeof(mechs[0]);
			m = cur.pair_uids ? &mech_bus1 : mechs[j];
			if (!(m->caps & CAP_PAIRS) || !wanted(m->name))
				continue;
			cur.mech = m;
			cur.k = pair_counts[p];
			cur.n = count(2000, 100);
			cur.warm = cur.n / 10;
			for (rep = 0; rep < cur.reps && !err; rep++)
				err = pairs_rep(rep);
			if (!err) {
				for (rep = 0; rep < cur.reps; rep++)
					v[rep] = shm->ns[MAX_SAMPLES - 1 - rep];
				stats(v, cur.reps, &median, &worst);
				worst = v[cur.reps - 1];
			}
			emit(cur.pair_uids ? "bus1-uids" : m->name,
			     err ? err : "ok", median, worst);
			err = NULL;
		}
		cur.pair_uids = 0;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench [-r LABEL]"
		" [-w rt,rt-read,stream,stream-read,mcast,pass,path,pairs]"
		" [-m MECH,...] [-s SCALE] [-z SIZE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *work = "rt,rt-read,stream,stream-read,mcast,pass,path,pairs", *w;
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned int i;
	int opt;

	while ((opt = getopt(argc, argv, "r:w:m:s:z:")) != -1) {
		switch (opt) {
		case 'r':
			label = optarg;
			break;
		case 'w':
			work = optarg;
			break;
		case 'm':
			only_mechs = optarg;
			break;
		case 's':
			scale = atof(optarg);
			if (scale <= 0)
				usage();
			break;
		case 'z':
			only_size = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	parent = getpid();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: waitpid() stops */
	signal(SIGPIPE, SIG_IGN);
	shm = shared_alloc(sizeof(*shm));
	txbuf = xmalloc(SIZE_MAX_BENCH);
	rxbuf = xmalloc(SIZE_MAX_BENCH);
	memset(txbuf, 0x5a, SIZE_MAX_BENCH);
	memset(rxbuf, 0, SIZE_MAX_BENCH);

	printf("INFO,%s,cpus,%d\n", label, ncpu);
	printf("INFO,%s,scale,%g\n", label, scale);
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		printf("MECH,%s,%s\n", mechs[i]->name, mechs[i]->what);
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		printf("GROUP,%s,%s\n", groups[i]->name, groups[i]->what);
	printf("CSV,run,workload,mech,size,k,touch,depth,iters,median_ns,p99_ns,status\n");

	for (w = work; w; w = strchr(w, ',') ? strchr(w, ',') + 1 : NULL) {
		size_t len = strcspn(w, ",");

		if (!strncmp(w, "rt", len) && len == 2)
			work_rt(TOUCH_COPY);
		else if (!strncmp(w, "rt-read", len) && len == 7)
			work_rt(TOUCH_READ);
		else if (!strncmp(w, "stream", len) && len == 6)
			work_stream(TOUCH_COPY);
		else if (!strncmp(w, "stream-read", len) && len == 11)
			work_stream(TOUCH_READ);
		else if (!strncmp(w, "mcast", len) && len == 5)
			work_mcast();
		else if (!strncmp(w, "pass", len) && len == 4)
			work_pass();
		else if (!strncmp(w, "path", len) && len == 4)
			work_path();
		else if (!strncmp(w, "pairs", len) && len == 5)
			work_pairs();
		else
			usage();
	}
	printf("INFO,%s,done,%s\n", label, work);
	return 0;
}
