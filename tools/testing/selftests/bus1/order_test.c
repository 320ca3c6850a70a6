// SPDX-License-Identifier: GPL-2.0
/*
 * Message order stress test of bus1_send() and bus1_recv() on SMP.
 *
 * Sender processes multicast to overlapping sets of receiver processes. Some
 * sends wait for a token on a pipe that another sender writes only after one
 * of its own sends returned, which makes that send happen before this one
 * through a channel bus1 knows nothing about. Every receiver logs the order
 * it received its messages in, and a checker then proves from the logs:
 *
 *  (a) any two receivers saw the messages they have in common in the same
 *      relative order;
 *  (b) one total order of all messages embeds every receiver's log, every
 *      sender's program order and every side-channel edge;
 *  (c) every receiver got exactly the messages sent to it, each once.
 *
 * The checker is itself tested on synthetic logs with a known violation of
 * each property, so a pass of the stress test means something.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

/* Sizes of the stress runs; the variants at the end pick among them. */
#define ORDER_SENDERS		4	/* sender processes, "mixed" run */
#define ORDER_RECEIVERS		6	/* receiver processes, "mixed" run */
#define ORDER_MSGS		750	/* sends per sender, "mixed" run */
#define ORDER_PERIOD		4	/* a token every ORDER_PERIOD sends */
#define ORDER_WIDE_SENDERS	8	/* "contended" run: more senders ... */
#define ORDER_WIDE_RECEIVERS	3	/* ... than CPUs, few receivers */
#define ORDER_WIDE_MSGS		250
#define ORDER_WIDE_PERIOD	3

#define ORDER_MAX_SENDERS	16
#define ORDER_MAX_RECEIVERS	32	/* destinations are a __u32 bitmask */
#define ORDER_FILL_MAX		56	/* filler bytes after the header */
#define ORDER_RELEASE_BATCH	16	/* slices a receiver holds at most */
#define ORDER_LOG_SLACK		64	/* room for duplicates in a log */
#define ORDER_TIMEOUT		180	/* seconds, whole stress test */
#define ORDER_CHILD_TIMEOUT	150	/* seconds, each child process */
#define ORDER_RETRIES		5000	/* sends retried on a full pool */
#define ORDER_ERR_LEN		200

#define ORDER_MAGIC		0xb0510dedU

/* Results of order_check(), one bit per property. */
#define ORDER_LOST		0x1		/* (c) lost, duplicate, unknown */
#define ORDER_PAIRWISE		0x2		/* (a) two receivers disagree */
#define ORDER_CAUSAL		0x4		/* (b) no total order exists */
#define ORDER_NOMEM		0x8		/* the checker ran out of memory */

/* Kinds of graph edges besides "receiver r logged them in a row". */
#define EDGE_PROGRAM		(~0U)		/* one sender's program order */
#define EDGE_PIPE		(~0U - 1)	/* side-channel token */

/*
 * What the checker gets. A message is named by its ID, sender * n_msgs + seq.
 * The last message of every sender (seq n_msgs - 1) is, in the stress test,
 * its end marker to all receivers; the checker treats it like any other.
 */
struct order_input {
	unsigned int n_senders;
	unsigned int n_msgs;		/* per sender */
	unsigned int n_receivers;
	const __u32 *mask;		/* [id]: receivers it was sent to */
	const __s32 *edge;		/* [id]: message that happened before it
					 * through the side channel, or -1
					 */
	const __u32 *const *log;	/* [r][i]: IDs in order of receipt */
	const unsigned int *n_log;	/* [r]: entries in log[r] */
};

struct order_report {
	char text[2048];
	size_t len;
	unsigned int n_reported;
	unsigned long long deliveries;	/* log entries, all receivers */
	unsigned long long expected;	/* deliveries the masks ask for */
	unsigned long long n_edges;	/* graph edges */
	unsigned long long n_pipe;	/* side-channel edges */
};

#define ORDER_REPORT_MAX	12	/* violations described in the text */

static void vreport(struct order_report *rep, const char *fmt, va_list ap)
{
	int n;

	if (rep->len >= sizeof(rep->text) - 1)
		return;
	n = vsnprintf(rep->text + rep->len, sizeof(rep->text) - rep->len,
		      fmt, ap);
	if (n > 0)
		rep->len += n;
	if (rep->len > sizeof(rep->text) - 1)
		rep->len = sizeof(rep->text) - 1;
}

static void __printf(2, 3)
report(struct order_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(rep, fmt, ap);
	va_end(ap);
}

/*
 * Note a violation of property @bit, on a line of its own unless the report
 * has enough of them already, and return @bit.
 */
static unsigned int __printf(3, 4)
violation(struct order_report *rep, unsigned int bit, const char *fmt, ...)
{
	va_list ap;

	if (rep->n_reported++ >= ORDER_REPORT_MAX)
		return bit;
	report(rep, "\n#   ");
	va_start(ap, fmt);
	vreport(rep, fmt, ap);
	va_end(ap);
	return bit;
}

static const char *msg_name(const struct order_input *in, __u32 id,
			    char *buf, size_t size)
{
	snprintf(buf, size, "%u/%u", id / in->n_msgs, id % in->n_msgs);
	return buf;
}

static const char *edge_name(__u32 kind, char *buf, size_t size)
{
	if (kind == EDGE_PROGRAM)
		snprintf(buf, size, "program");
	else if (kind == EDGE_PIPE)
		snprintf(buf, size, "pipe");
	else
		snprintf(buf, size, "r%u", kind);
	return buf;
}

/*
 * (c): fill pos[r * n + id] with the index of the first entry of @id in the
 * log of r, or -1, and flag unknown IDs, duplicates, missing and unexpected
 * messages.
 */
static unsigned int check_delivery(const struct order_input *in, int *pos,
				   struct order_report *rep)
{
	unsigned int n = in->n_senders * in->n_msgs, bad = 0, r, i, id;
	char a[32];

	for (r = 0; r < in->n_receivers; r++) {
		int *p = pos + (size_t)r * n;

		for (id = 0; id < n; id++)
			p[id] = -1;
		for (i = 0; i < in->n_log[r]; i++) {
			id = in->log[r][i];
			rep->deliveries++;
			if (id >= n)
				bad |= violation(rep, ORDER_LOST,
						 "(c) r%u entry %u: unknown message ID %u",
						 r, i, id);
			else if (p[id] >= 0)
				bad |= violation(rep, ORDER_LOST,
						 "(c) r%u got %s twice: entries %d and %u",
						 r, msg_name(in, id, a, sizeof(a)),
						 p[id], i);
			else
				p[id] = i;
		}
		for (id = 0; id < n; id++) {
			bool sent = in->mask[id] & (1U << r);

			rep->expected += sent;
			if (sent && p[id] < 0)
				bad |= violation(rep, ORDER_LOST,
						 "(c) r%u never got %s", r,
						 msg_name(in, id, a, sizeof(a)));
			else if (!sent && p[id] >= 0)
				bad |= violation(rep, ORDER_LOST,
						 "(c) r%u got %s, not sent to it", r,
						 msg_name(in, id, a, sizeof(a)));
		}
	}
	if (in->n_receivers < 32) {
		for (id = 0; id < n; id++)
			if (in->mask[id] >> in->n_receivers)
				bad |= violation(rep, ORDER_LOST,
						 "(c) %s sent to receivers 0x%x",
						 msg_name(in, id, a, sizeof(a)),
						 in->mask[id]);
	}
	return bad;
}

/*
 * (a) for receivers r1 and r2: the messages of r1 that r2 got as well are at
 * increasing positions in the log of r2.
 */
static unsigned int check_pair(const struct order_input *in, const int *pos,
			       unsigned int r1, unsigned int r2,
			       struct order_report *rep)
{
	unsigned int n = in->n_senders * in->n_msgs, i, id;
	const int *p1 = pos + (size_t)r1 * n, *p2 = pos + (size_t)r2 * n;
	char a[32], b[32];
	__u32 prev = 0;
	int last = -1;

	for (i = 0; i < in->n_log[r1]; i++) {
		id = in->log[r1][i];
		if (id >= n || p1[id] != (int)i || p2[id] < 0)
			continue;
		if (p2[id] < last)
			return violation(rep, ORDER_PAIRWISE,
					 "(a) r%u got %s before %s, r%u the other way round",
					 r1, msg_name(in, prev, a, sizeof(a)),
					 msg_name(in, id, b, sizeof(b)), r2);
		last = p2[id];
		prev = id;
	}
	return 0;
}

/* (a): common messages of every two receivers are in the same order. */
static unsigned int check_pairwise(const struct order_input *in,
				   const int *pos, struct order_report *rep)
{
	unsigned int bad = 0, r1, r2;

	for (r1 = 0; r1 < in->n_receivers; r1++)
		for (r2 = r1 + 1; r2 < in->n_receivers; r2++)
			bad |= check_pair(in, pos, r1, r2, rep);
	return bad;
}

struct order_edge {
	__u32 from;
	__u32 to;
	__u32 kind;
};

/*
 * Describe one cycle among the nodes that Kahn's algorithm left over. Each of
 * them has an incoming edge from another left-over node, so walking incoming
 * edges backwards from any of them runs into a cycle.
 */
static void report_cycle(const struct order_input *in,
			 const struct order_edge *edges, size_t n_edges,
			 const unsigned int *indeg, struct order_report *rep)
{
	unsigned int n = in->n_senders * in->n_msgs, v, step = 0, k, first;
	int *seen = malloc(n * sizeof(*seen));
	__u32 *node = malloc((n + 1) * sizeof(*node));
	size_t *via = malloc((n + 1) * sizeof(*via));
	char a[32], b[16];
	size_t e;

	if (!seen || !node || !via)
		goto out;
	for (v = 0; v < n; v++)
		seen[v] = -1;
	for (v = 0; v < n && !indeg[v]; v++)
		;
	if (v == n)
		goto out;
	/* node[k + 1] -> node[k] is edges[via[k]]. */
	while (seen[v] < 0) {
		seen[v] = step;
		node[step] = v;
		for (e = 0; e < n_edges; e++)
			if (edges[e].to == v && indeg[edges[e].from])
				break;
		if (e == n_edges)
			goto out;
		via[step++] = e;
		v = edges[e].from;
	}
	first = seen[v];
	report(rep, "\n#   (b) cycle of %u: %s", step - first,
	       msg_name(in, v, a, sizeof(a)));
	for (k = step; k-- > first;) {
		if (step - k > 16) {
			report(rep, " ...");
			break;
		}
		report(rep, " -%s-> %s",
		       edge_name(edges[via[k]].kind, b, sizeof(b)),
		       msg_name(in, node[k], a, sizeof(a)));
	}
out:
	free(seen);
	free(node);
	free(via);
}

/*
 * (b): a graph of all messages with an edge for every two entries in a row
 * of a log, for every two sends in a row of one sender, and for every
 * side-channel token has a topological order (Kahn), that is, no cycle.
 */
static unsigned int check_causal(const struct order_input *in,
				 const int *pos, struct order_report *rep)
{
	unsigned int n = in->n_senders * in->n_msgs, bad = 0, r, s, q, i, v;
	unsigned int *indeg = NULL, *queue = NULL, head = 0, tail = 0;
	size_t max_edges = 2 * (size_t)n, n_edges = 0, e, *start = NULL;
	struct order_edge *edges = NULL;
	size_t *adj = NULL;
	char a[32];

	for (r = 0; r < in->n_receivers; r++)
		max_edges += in->n_log[r];
	edges = malloc((max_edges + 1) * sizeof(*edges));
	adj = malloc((max_edges + 1) * sizeof(*adj));
	start = calloc(n + 1, sizeof(*start));
	indeg = calloc(n + 1, sizeof(*indeg));
	queue = malloc((n + 1) * sizeof(*queue));
	if (!edges || !adj || !start || !indeg || !queue) {
		bad = ORDER_NOMEM;
		goto out;
	}

	for (r = 0; r < in->n_receivers; r++) {
		const int *p = pos + (size_t)r * n;
		int prev = -1;

		for (i = 0; i < in->n_log[r]; i++) {
			__u32 id = in->log[r][i];

			/* (c) reports unknown IDs and duplicates. */
			if (id >= n || p[id] != (int)i)
				continue;
			if (prev >= 0)
				edges[n_edges++] = (struct order_edge){ prev, id, r };
			prev = id;
		}
	}
	for (s = 0; s < in->n_senders; s++)
		for (q = 0; q + 1 < in->n_msgs; q++) {
			v = s * in->n_msgs + q;
			edges[n_edges++] = (struct order_edge){ v, v + 1, EDGE_PROGRAM };
		}
	for (v = 0; v < n; v++) {
		if (in->edge[v] < 0)
			continue;
		if ((__u32)in->edge[v] >= n) {
			bad |= violation(rep, ORDER_CAUSAL,
					 "(b) %s has a side-channel edge from ID %d",
					 msg_name(in, v, a, sizeof(a)), in->edge[v]);
			continue;
		}
		edges[n_edges++] = (struct order_edge){ in->edge[v], v, EDGE_PIPE };
		rep->n_pipe++;
	}
	rep->n_edges = n_edges;

	/* Adjacency lists by source, in start[from] .. start[from + 1]. */
	for (e = 0; e < n_edges; e++) {
		start[edges[e].from + 1]++;
		indeg[edges[e].to]++;
	}
	for (v = 0; v < n; v++)
		start[v + 1] += start[v];
	for (e = 0; e < n_edges; e++)
		adj[start[edges[e].from]++] = e;
	for (v = n; v > 0; v--)
		start[v] = start[v - 1];
	start[0] = 0;

	for (v = 0; v < n; v++)
		if (!indeg[v])
			queue[tail++] = v;
	while (head < tail) {
		v = queue[head++];
		for (e = start[v]; e < start[v + 1]; e++)
			if (!--indeg[edges[adj[e]].to])
				queue[tail++] = edges[adj[e]].to;
	}
	if (tail < n) {
		bad |= violation(rep, ORDER_CAUSAL,
				 "(b) no total order: %u of %u messages on or after a cycle",
				 n - tail, n);
		report_cycle(in, edges, n_edges, indeg, rep);
	}
out:
	free(edges);
	free(adj);
	free(start);
	free(indeg);
	free(queue);
	return bad;
}

/* Check (a), (b) and (c); returns the ORDER_* bits of what is violated. */
static unsigned int order_check(const struct order_input *in,
				struct order_report *rep)
{
	size_t n = (size_t)in->n_senders * in->n_msgs;
	unsigned int bad;
	int *pos;

	memset(rep, 0, sizeof(*rep));
	pos = malloc((n * in->n_receivers + 1) * sizeof(*pos));
	if (!pos)
		return ORDER_NOMEM;
	bad = check_delivery(in, pos, rep);
	bad |= check_pairwise(in, pos, rep);
	bad |= check_causal(in, pos, rep);
	free(pos);
	return bad;
}

/*
 * Self-test of the checker. Three senders a, b, c send three messages each
 * to three receivers; in the total order
 *
 *	a0 b0 c0 a1 b1 c1 a2 b2 c2
 *
 * with side-channel edges a1 -> b1 and b1 -> c2, and the destinations below,
 * the receivers log
 *
 *	r0: a0 c0 a1 a2 b2
 *	r1: a0 b0 a1 b1 b2 c2
 *	r2: b0 c0 a1 c1 c2
 *
 * Every case below changes this in one way and names what must be found.
 */
#define SYN_MAX		16
enum { A0, A1, A2, B0, B1, B2, C0, C1, C2, SYN_N };

struct synth {
	unsigned int n_senders, n_msgs, n_receivers;
	__u32 mask[SYN_MAX];
	__s32 edge[SYN_MAX];
	__u32 log[3][SYN_MAX];
	unsigned int n_log[3];
};

static void synth_base(struct synth *y)
{
	static const __u32 order[] = { A0, B0, C0, A1, B1, C1, A2, B2, C2 };
	static const __u32 mask[SYN_N] = {
		[A0] = 3, [B0] = 6, [C0] = 5, [A1] = 7, [B1] = 2,
		[C1] = 4, [A2] = 1, [B2] = 3, [C2] = 6,
	};
	unsigned int i, r;

	memset(y, 0, sizeof(*y));
	y->n_senders = 3;
	y->n_msgs = 3;
	y->n_receivers = 3;
	for (i = 0; i < SYN_MAX; i++)
		y->edge[i] = -1;
	memcpy(y->mask, mask, sizeof(mask));
	y->edge[B1] = A1;
	y->edge[C2] = B1;
	for (i = 0; i < SYN_N; i++)
		for (r = 0; r < 3; r++)
			if (mask[order[i]] & (1U << r))
				y->log[r][y->n_log[r]++] = order[i];
}

static int synth_find(struct synth *y, unsigned int r, __u32 id)
{
	unsigned int i;

	for (i = 0; i < y->n_log[r]; i++)
		if (y->log[r][i] == id)
			return i;
	return -1;
}

static void synth_swap(struct synth *y, unsigned int r, __u32 id1, __u32 id2)
{
	int i = synth_find(y, r, id1), j = synth_find(y, r, id2);

	y->log[r][i] = id2;
	y->log[r][j] = id1;
}

static void synth_remove(struct synth *y, unsigned int r, __u32 id)
{
	int i = synth_find(y, r, id);

	memmove(&y->log[r][i], &y->log[r][i + 1],
		(y->n_log[r] - i - 1) * sizeof(__u32));
	y->n_log[r]--;
}

static void synth_append(struct synth *y, unsigned int r, __u32 id)
{
	y->log[r][y->n_log[r]++] = id;
}

static unsigned int synth_check(struct __test_metadata *_metadata,
				struct synth *y, const char *what)
{
	const __u32 *log[3] = { y->log[0], y->log[1], y->log[2] };
	struct order_input in = {
		.n_senders = y->n_senders,
		.n_msgs = y->n_msgs,
		.n_receivers = y->n_receivers,
		.mask = y->mask,
		.edge = y->edge,
		.log = log,
		.n_log = y->n_log,
	};
	struct order_report rep;
	unsigned int bad;

	bad = order_check(&in, &rep);
	TH_LOG("%s: found 0x%x%s", what, bad, rep.text);
	return bad;
}

TEST(checker_self_test)
{
	struct synth y;

	synth_base(&y);
	EXPECT_EQ(0, synth_check(_metadata, &y, "valid logs"));

	/* Nothing orders a1 and c1 but r2: either order is fine. */
	synth_base(&y);
	synth_swap(&y, 2, A1, C1);
	EXPECT_EQ(0, synth_check(_metadata, &y, "legal reorder"));

	/*
	 * a0 and c0 share no receiver, yet r1 orders a0 before b0 and r2 b0
	 * before c0: c0 before a0 at r0 closes a cycle that no two receivers
	 * see.
	 */
	synth_base(&y);
	synth_swap(&y, 0, A0, C0);
	EXPECT_EQ(ORDER_CAUSAL, synth_check(_metadata, &y, "hidden cycle"));

	synth_base(&y);
	synth_remove(&y, 1, B1);
	EXPECT_EQ(ORDER_LOST, synth_check(_metadata, &y, "lost"));

	synth_base(&y);
	synth_append(&y, 2, C0);
	EXPECT_EQ(ORDER_LOST, synth_check(_metadata, &y, "duplicate"));

	synth_base(&y);
	synth_append(&y, 0, C2);
	EXPECT_EQ(ORDER_LOST, synth_check(_metadata, &y, "misdelivered"));

	synth_base(&y);
	synth_append(&y, 0, 42);
	EXPECT_EQ(ORDER_LOST, synth_check(_metadata, &y, "unknown ID"));

	/* r0 now has a1 before c0, r2 c0 before a1. */
	synth_base(&y);
	synth_swap(&y, 0, A1, C0);
	EXPECT_EQ(ORDER_PAIRWISE | ORDER_CAUSAL,
		  synth_check(_metadata, &y, "pairwise"));

	/* b1 is received only by r1, before a1 which happened before it. */
	synth_base(&y);
	synth_swap(&y, 1, A1, B1);
	EXPECT_EQ(ORDER_CAUSAL, synth_check(_metadata, &y, "side channel"));

	/* a2 only at r0, before a1 which a sent first. */
	synth_base(&y);
	synth_swap(&y, 0, A1, A2);
	EXPECT_EQ(ORDER_CAUSAL, synth_check(_metadata, &y, "program order"));

	synth_base(&y);
	y.edge[A0] = 77;
	EXPECT_EQ(ORDER_CAUSAL, synth_check(_metadata, &y, "bad edge"));

	/*
	 * Every two receivers agree, yet no total order exists: one message
	 * per sender, r0 gets a before b, r1 b before c, r2 c before a.
	 */
	memset(&y, 0, sizeof(y));
	y.n_senders = 3;
	y.n_msgs = 1;
	y.n_receivers = 3;
	memset(y.edge, -1, sizeof(y.edge));
	y.mask[0] = 5;
	y.mask[1] = 3;
	y.mask[2] = 6;
	synth_append(&y, 0, 0);
	synth_append(&y, 0, 1);
	synth_append(&y, 1, 1);
	synth_append(&y, 1, 2);
	synth_append(&y, 2, 2);
	synth_append(&y, 2, 0);
	EXPECT_EQ(ORDER_CAUSAL, synth_check(_metadata, &y, "three-way cycle"));
}

/* The stress test. */

/* Header of every payload; filler bytes follow. */
struct order_msg {
	__u32 magic;
	__u32 id;
	__u32 mask;
	__u32 size;	/* payload bytes, this header included */
	__u32 check;
};

/* A side-channel token: a message whose send returned. */
struct order_token {
	__u32 id;
	__u32 mask;
};

/* Memory shared by the test and its children. */
struct order_shared {
	char err[ORDER_MAX_SENDERS + ORDER_MAX_RECEIVERS][ORDER_ERR_LEN];
	unsigned int n_log[ORDER_MAX_RECEIVERS];
	unsigned int n_retries[ORDER_MAX_SENDERS];
	unsigned int n_polls[ORDER_MAX_RECEIVERS];
	/* followed by mask[], edge[] and the logs */
};

struct order_run {
	unsigned int n_senders, n_receivers, n_msgs, n, log_cap;
	int recv_fd[ORDER_MAX_RECEIVERS];
	__u64 node[ORDER_MAX_RECEIVERS];
	int send_fd[ORDER_MAX_SENDERS];
	__u64 handle[ORDER_MAX_SENDERS][ORDER_MAX_RECEIVERS];
	int pipe_fd[ORDER_MAX_SENDERS][2];	/* tokens to sender s */
	unsigned int period[ORDER_MAX_SENDERS];	/* ... every period sends */
	pid_t pid[ORDER_MAX_SENDERS + ORDER_MAX_RECEIVERS];
	struct order_shared *sh;
	size_t sh_size;
	__u32 *mask;
	__s32 *edge;
	__u32 *log[ORDER_MAX_RECEIVERS];
};

FIXTURE(order) {
	struct order_run run;
};

FIXTURE_VARIANT(order) {
	unsigned int senders, receivers, msgs, period;
};

FIXTURE_VARIANT_ADD(order, mixed) {
	.senders = ORDER_SENDERS,
	.receivers = ORDER_RECEIVERS,
	.msgs = ORDER_MSGS,
	.period = ORDER_PERIOD,
};

FIXTURE_VARIANT_ADD(order, contended) {
	.senders = ORDER_WIDE_SENDERS,
	.receivers = ORDER_WIDE_RECEIVERS,
	.msgs = ORDER_WIDE_MSGS,
	.period = ORDER_WIDE_PERIOD,
};

FIXTURE_SETUP(order)
{
	struct order_run *run = &self->run;
	unsigned int s, r;
	char *p;

	ASSERT_GE(ORDER_MAX_SENDERS, variant->senders);
	ASSERT_GE(ORDER_MAX_RECEIVERS, variant->receivers);
	ASSERT_LT(0, variant->senders);
	ASSERT_LT(0, variant->receivers);
	ASSERT_LT(0, variant->period);
	memset(run->recv_fd, -1, sizeof(run->recv_fd));
	memset(run->send_fd, -1, sizeof(run->send_fd));
	memset(run->pipe_fd, -1, sizeof(run->pipe_fd));
	run->n_senders = variant->senders;
	run->n_receivers = variant->receivers;
	run->n_msgs = variant->msgs + 1;	/* the end marker */
	run->n = run->n_senders * run->n_msgs;
	run->log_cap = run->n + ORDER_LOG_SLACK;

	run->sh_size = sizeof(*run->sh) +
		       run->n * (sizeof(__u32) + sizeof(__s32)) +
		       (size_t)run->n_receivers * run->log_cap * sizeof(__u32);
	run->sh = mmap(NULL, run->sh_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(run->sh != MAP_FAILED);
	p = (char *)(run->sh + 1);
	run->mask = (__u32 *)p;
	p += run->n * sizeof(__u32);
	run->edge = (__s32 *)p;
	p += run->n * sizeof(__s32);
	memset(run->edge, -1, run->n * sizeof(__s32));
	for (r = 0; r < run->n_receivers; r++) {
		run->log[r] = (__u32 *)p;
		p += run->log_cap * sizeof(__u32);
	}

	/* Odd receivers poll a non-blocking peer, even ones block in recv. */
	for (r = 0; r < run->n_receivers; r++) {
		run->recv_fd[r] = bus1_peer_create(BUS1_PEER_CLOEXEC |
					(r & 1 ? BUS1_PEER_NONBLOCK : 0));
		ASSERT_LE(0, run->recv_fd[r]);
		ASSERT_EQ(0, bus1_node_create(run->recv_fd[r], &run->node[r], 0));
	}
	for (s = 0; s < run->n_senders; s++) {
		run->send_fd[s] = bus1_peer_create(BUS1_PEER_CLOEXEC);
		ASSERT_LE(0, run->send_fd[s]);
		for (r = 0; r < run->n_receivers; r++) {
			run->handle[s][r] = bus1_transfer_id(run->recv_fd[r],
							     run->node[r],
							     run->send_fd[s]);
			ASSERT_NE(0, run->handle[s][r]);
		}
		ASSERT_EQ(0, pipe(run->pipe_fd[s]));
		run->period[s] = variant->period + s % 3;
	}
}

FIXTURE_TEARDOWN(order)
{
	struct order_run *run = &self->run;
	unsigned int i;

	for (i = 0; i < ORDER_MAX_RECEIVERS; i++)
		if (run->recv_fd[i] >= 0)
			close(run->recv_fd[i]);
	for (i = 0; i < ORDER_MAX_SENDERS; i++) {
		if (run->send_fd[i] >= 0)
			close(run->send_fd[i]);
		if (run->pipe_fd[i][0] >= 0)
			close(run->pipe_fd[i][0]);
		if (run->pipe_fd[i][1] >= 0)
			close(run->pipe_fd[i][1]);
	}
	if (run->sh && run->sh != MAP_FAILED)
		munmap(run->sh, run->sh_size);
}

/* Record why a child failed, where the test reads it, and exit. */
static void __noreturn __printf(2, 3)
child_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ORDER_ERR_LEN, fmt, ap);
	va_end(ap);
	_exit(1);
}

static __u32 xorshift(__u32 *state)
{
	__u32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static __u32 msg_check(__u32 id, __u32 mask, __u32 size)
{
	return (id * 0x9e3779b1U) ^ (mask * 0x85ebca6bU) ^ size ^ ORDER_MAGIC;
}

static __u8 fill_byte(__u32 id, unsigned int i)
{
	return (__u8)(id * 13 + i * 7 + (id >> 8));
}

/* Destinations of a send: unicasts, broadcasts and random subsets. */
static __u32 pick_mask(__u32 *rnd, unsigned int n_receivers)
{
	__u32 all = n_receivers == 32 ? ~0U : (1U << n_receivers) - 1;
	__u32 x = xorshift(rnd), mask;

	switch (x % 8) {
	case 0:
	case 1:
		return 1U << (xorshift(rnd) % n_receivers);
	case 2:
		return all;
	default:
		mask = xorshift(rnd) & all;
		return mask ? mask : 1U << (xorshift(rnd) % n_receivers);
	}
}

/* One receiver of @mask picked at random; @mask must not be empty. */
static unsigned int pick_bit(__u32 *rnd, __u32 mask, unsigned int n_receivers)
{
	unsigned int r = xorshift(rnd) % n_receivers, i;

	for (i = 0; i < n_receivers; i++, r = (r + 1) % n_receivers)
		if (mask & (1U << r))
			return r;
	return 0;
}

static void send_one(struct order_run *run, unsigned int s, __u32 id,
		     __u32 mask)
{
	char *err = run->sh->err[run->n_receivers + s];
	__u8 fill[ORDER_FILL_MAX];
	__u64 dst[ORDER_MAX_RECEIVERS];
	struct bus1_vec vec[3];
	struct bus1_send args = {};
	struct order_msg msg;
	unsigned int n_fill, n_vecs = 0, n_dst = 0, i, r, tries;

	/* Payloads of varying size, from up to three pieces. */
	n_fill = (id * 7 + s) % (ORDER_FILL_MAX + 1);
	for (i = 0; i < n_fill; i++)
		fill[i] = fill_byte(id, i);
	msg.magic = ORDER_MAGIC;
	msg.id = id;
	msg.mask = mask;
	msg.size = sizeof(msg) + n_fill;
	msg.check = msg_check(id, mask, msg.size);
	vec[n_vecs++] = (struct bus1_vec){ (uintptr_t)&msg, sizeof(msg) };
	if (n_fill / 2)
		vec[n_vecs++] = (struct bus1_vec){ (uintptr_t)fill, n_fill / 2 };
	if (n_fill - n_fill / 2)
		vec[n_vecs++] = (struct bus1_vec){ (uintptr_t)(fill + n_fill / 2),
						   n_fill - n_fill / 2 };

	/* Destinations in a rotating order. */
	for (i = 0; i < run->n_receivers; i++) {
		r = (i + id) % run->n_receivers;
		if (mask & (1U << r))
			dst[n_dst++] = run->handle[s][r];
	}

	args.ptr_destinations = (uintptr_t)dst;
	args.n_destinations = n_dst;
	args.ptr_vecs = (uintptr_t)vec;
	args.n_vecs = n_vecs;
	for (tries = 0; bus1_send(run->send_fd[s], &args, sizeof(args)); tries++) {
		/* A pool or quota that is full for a moment is no failure. */
		if ((errno != ENOSPC && errno != EDQUOT) || tries >= ORDER_RETRIES)
			child_fail(err, "send %u/%u: %s", s, id % run->n_msgs,
				   strerror(errno));
		run->sh->n_retries[s]++;
		usleep(1000);
	}
}

static void read_token(struct order_run *run, unsigned int s,
		       struct order_token *tok)
{
	char *err = run->sh->err[run->n_receivers + s];
	size_t done = 0;
	ssize_t n;

	while (done < sizeof(*tok)) {
		n = read(run->pipe_fd[s][0], (char *)tok + done,
			 sizeof(*tok) - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			child_fail(err, "reading a token: %s",
				   n ? strerror(errno) : "end of file");
		done += n;
	}
}

/*
 * Sender s sends n_msgs - 1 messages and then its end marker to everyone.
 * Before every period[s]-th send it waits for a token from sender s - 1,
 * which that sender writes after a send has returned; the token's message
 * happened before this send, and this send goes to one of its receivers at
 * least. The k-th token is written after send k * period - 1 of the writer
 * and read before send k * period of the reader, so the senders never wait
 * for each other in a circle.
 */
static void __noreturn
sender_main(struct order_run *run, unsigned int s)
{
	unsigned int ns = run->n_senders, nm = run->n_msgs, last = nm - 1;
	unsigned int in_period = run->period[s];
	unsigned int out_period = run->period[(s + 1) % ns];
	unsigned int prev = (s + ns - 1) % ns, seq;
	char *err = run->sh->err[run->n_receivers + s];
	int out = run->pipe_fd[(s + 1) % ns][1];
	__u32 rnd = (0x9e3779b9U * (s + 1) ^ ns * 0x1000193U) | 1;
	struct order_token tok;
	__u32 id, mask;

	for (seq = 0; seq < nm; seq++) {
		id = s * nm + seq;
		if (seq == last)
			mask = run->n_receivers == 32 ?
				~0U : (1U << run->n_receivers) - 1;
		else
			mask = pick_mask(&rnd, run->n_receivers);
		if (seq && seq < last && !(seq % in_period)) {
			read_token(run, s, &tok);
			if (tok.id >= run->n || tok.id / nm != prev || !tok.mask ||
			    (run->n_receivers < 32 && tok.mask >> run->n_receivers))
				child_fail(err, "bad token %u/%x", tok.id, tok.mask);
			run->edge[id] = tok.id;
			mask |= 1U << pick_bit(&rnd, tok.mask, run->n_receivers);
		}
		run->mask[id] = mask;
		send_one(run, s, id, mask);
		if (seq + 1 < last && !((seq + 1) % out_period)) {
			tok.id = id;
			tok.mask = mask;
			if (write(out, &tok, sizeof(tok)) != sizeof(tok))
				child_fail(err, "writing a token: %s",
					   strerror(errno));
		}
	}
	_exit(0);
}

/* Check one received entry; returns its message ID. */
static __u32 take_entry(struct order_run *run, unsigned int r,
			const char *pool, const struct bus1_recv *rv)
{
	unsigned int i, nm = run->n_msgs;
	char *err = run->sh->err[r];
	struct order_msg msg;
	const __u8 *fill;

	if (rv->type != BUS1_MSG_DATA || rv->msg_flags)
		child_fail(err, "type %llu, flags 0x%llx",
			   (unsigned long long)rv->type,
			   (unsigned long long)rv->msg_flags);
	if (rv->destination != run->node[r])
		child_fail(err, "destination %llu, not node %llu",
			   (unsigned long long)rv->destination,
			   (unsigned long long)run->node[r]);
	if (rv->size < sizeof(msg) || rv->size > sizeof(msg) + ORDER_FILL_MAX ||
	    rv->offset > BUS1_POOL_SIZE - rv->size)
		child_fail(err, "slice at %llu of %llu bytes",
			   (unsigned long long)rv->offset,
			   (unsigned long long)rv->size);
	memcpy(&msg, pool + (size_t)rv->offset, sizeof(msg));
	if (msg.magic != ORDER_MAGIC || msg.size != rv->size ||
	    msg.check != msg_check(msg.id, msg.mask, msg.size) ||
	    msg.id >= run->n)
		child_fail(err, "bad header at %llu",
			   (unsigned long long)rv->offset);
	if (!(msg.mask & (1U << r)))
		child_fail(err, "got %u/%u, sent to 0x%x", msg.id / nm,
			   msg.id % nm, msg.mask);
	fill = (const __u8 *)pool + (size_t)rv->offset + sizeof(msg);
	for (i = 0; i < msg.size - sizeof(msg); i++)
		if (fill[i] != fill_byte(msg.id, i))
			child_fail(err, "%u/%u: byte %u is wrong", msg.id / nm,
				   msg.id % nm, (unsigned int)(sizeof(msg) + i));
	return msg.id;
}

static void release(struct order_run *run, unsigned int r, __u64 *held,
		    unsigned int *n_held)
{
	if (*n_held && bus1_slice_release(run->recv_fd[r], held, *n_held, 0) < 0)
		child_fail(run->sh->err[r], "releasing %u slices: %s",
			   *n_held, strerror(errno));
	*n_held = 0;
}

/*
 * Receiver r logs every entry until it has the end markers of all senders,
 * then takes whatever else is ready. Some receivers hand every slice back at
 * once, others in batches.
 */
static void __noreturn
receiver_main(struct order_run *run, unsigned int r)
{
	unsigned int batch = r % 3 ? ORDER_RELEASE_BATCH : 1, n_held = 0;
	unsigned int n_ends = 0, last = run->n_msgs - 1;
	bool nonblock = r & 1, draining = false;
	int fd = run->recv_fd[r];
	char *err = run->sh->err[r];
	__u64 held[ORDER_RELEASE_BATCH];
	__u32 ends = 0, id;
	const char *pool;

	pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (pool == MAP_FAILED)
		child_fail(err, "mmap: %s", strerror(errno));

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct bus1_recv rv = {};

		if (n_ends == run->n_senders && !draining) {
			draining = true;
			release(run, r, held, &n_held);
		}
		if (draining && poll(&pfd, 1, 0) <= 0)
			break;
		if (bus1_recv(fd, &rv, sizeof(rv)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || !nonblock)
				child_fail(err, "recv: %s", strerror(errno));
			if (draining)
				break;
			release(run, r, held, &n_held);
			run->sh->n_polls[r]++;
			if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
				child_fail(err, "poll: %s", strerror(errno));
			continue;
		}
		id = take_entry(run, r, pool, &rv);
		if (run->sh->n_log[r] >= run->log_cap)
			child_fail(err, "more than %u entries", run->log_cap);
		run->log[r][run->sh->n_log[r]] = id;
		run->sh->n_log[r]++;
		held[n_held++] = rv.offset;
		if (n_held == batch)
			release(run, r, held, &n_held);
		if (id % run->n_msgs == last &&
		    !(ends & (1U << (id / run->n_msgs)))) {
			ends |= 1U << (id / run->n_msgs);
			n_ends++;
		}
	}
	release(run, r, held, &n_held);
	munmap((void *)pool, BUS1_POOL_SIZE);
	_exit(0);
}

/* Close the pipe ends a child does not use; @s < 0 for a receiver. */
static void child_setup(struct order_run *run, int s)
{
	unsigned int i, ns = run->n_senders;

	/* A sender whose reader died gets EPIPE and says so. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	alarm(ORDER_CHILD_TIMEOUT);
	for (i = 0; i < ns; i++) {
		if (s < 0 || i != (unsigned int)s)
			close(run->pipe_fd[i][0]);
		if (s < 0 || i != ((unsigned int)s + 1) % ns)
			close(run->pipe_fd[i][1]);
	}
}

static void kill_children(struct order_run *run)
{
	unsigned int i;

	for (i = 0; i < run->n_senders + run->n_receivers; i++)
		if (run->pid[i] > 0)
			kill(run->pid[i], SIGKILL);
}

static const char *child_name(struct order_run *run, unsigned int i,
			      char *buf, size_t size)
{
	if (i < run->n_receivers)
		snprintf(buf, size, "receiver %u", i);
	else
		snprintf(buf, size, "sender %u", i - run->n_receivers);
	return buf;
}

TEST_F_TIMEOUT(order, stress, ORDER_TIMEOUT)
{
	struct order_run *run = &self->run;
	unsigned int n_children = run->n_receivers + run->n_senders;
	unsigned int i, r, s, alive, failed = 0;
	unsigned long long n_tokens = 0, retries = 0, polls = 0;
	const __u32 *logs[ORDER_MAX_RECEIVERS];
	struct order_report rep;
	struct order_input in;
	unsigned int bad;
	char name[32];
	int status;
	pid_t pid;

	TH_LOG("%u senders x %u messages to %u receivers, %ld CPUs online",
	       run->n_senders, run->n_msgs - 1, run->n_receivers,
	       sysconf(_SC_NPROCESSORS_ONLN));

	/* Receivers first, so that they wait when the first send comes. */
	fflush(NULL);
	for (i = 0; i < n_children; i++) {
		pid = fork();
		if (pid < 0) {
			kill_children(run);
			ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
		}
		if (!pid) {
			if (i < run->n_receivers) {
				child_setup(run, -1);
				receiver_main(run, i);
			}
			s = i - run->n_receivers;
			child_setup(run, s);
			sender_main(run, s);
		}
		run->pid[i] = pid;
	}
	/* Only the senders hold pipe ends: one that dies ends its reader. */
	for (s = 0; s < run->n_senders; s++) {
		close(run->pipe_fd[s][0]);
		close(run->pipe_fd[s][1]);
		run->pipe_fd[s][0] = -1;
		run->pipe_fd[s][1] = -1;
	}

	for (alive = n_children; alive;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n_children && run->pid[i] != pid; i++)
			;
		if (i == n_children)
			continue;
		run->pid[i] = 0;
		alive--;
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			continue;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && failed)
			continue;	/* we killed it after a failure */
		child_name(run, i, name, sizeof(name));
		if (WIFSIGNALED(status))
			TH_LOG("%s killed by signal %d%s", name,
			       WTERMSIG(status),
			       WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
		else
			TH_LOG("%s failed: %.*s", name, ORDER_ERR_LEN,
			       run->sh->err[i]);
		if (!failed++)
			kill_children(run);
	}
	for (r = 0; r < run->n_receivers; r++) {
		logs[r] = run->log[r];
		polls += run->sh->n_polls[r];
		if (failed)
			TH_LOG("receiver %u logged %u entries", r,
			       run->sh->n_log[r]);
	}
	ASSERT_EQ(0, failed);
	ASSERT_EQ(0, alive);

	/* Nothing may be left once every end marker was received. */
	for (r = 0; r < run->n_receivers; r++) {
		struct pollfd pfd = { .fd = run->recv_fd[r], .events = POLLIN };

		EXPECT_EQ(0, poll(&pfd, 1, 0))
			TH_LOG("receiver %u has entries left", r);
	}

	for (s = 0; s < run->n_senders; s++) {
		n_tokens += (run->n_msgs - 2) / run->period[s];
		retries += run->sh->n_retries[s];
	}
	in = (struct order_input){
		.n_senders = run->n_senders,
		.n_msgs = run->n_msgs,
		.n_receivers = run->n_receivers,
		.mask = run->mask,
		.edge = run->edge,
		.log = logs,
		.n_log = run->sh->n_log,
	};
	bad = order_check(&in, &rep);
	TH_LOG("%u messages, %llu of %llu deliveries, %llu retried sends, %llu polls",
	       run->n, rep.deliveries, rep.expected, retries, polls);
	TH_LOG("%llu order edges checked, %llu of them side-channel tokens",
	       rep.n_edges, rep.n_pipe);
	EXPECT_EQ(0, bad) TH_LOG("order violated:%s", rep.text);
	EXPECT_EQ(n_tokens, rep.n_pipe);
}

TEST_HARNESS_MAIN
