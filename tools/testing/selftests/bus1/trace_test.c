// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the bus1 trace events, read through tracefs: one bus1_send per
 * destination, all of a multicast at one timestamp, each bus1_recv at the
 * timestamp of its send or notice, the destruction and release notices,
 * and refused charges with the limit that refused them and their errno.
 *
 * Each test traces into a tracefs instance of its own, so that it neither
 * sees nor disturbs other tracing, and looks only at events of its own
 * peers, which the events name by the inode numbers of their files. It
 * mounts tracefs if it is not mounted, and skips on a kernel without it
 * or without the bus1 events, and when not run as root.
 */

#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "bus1_test.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS_TRACING	"/sys/kernel/debug/tracing"

#define MAX_FIELDS	12

/* One line of the trace buffer: the event's name and its key=value pairs. */
struct event {
	char name[32];
	unsigned int n_fields;
	char key[MAX_FIELDS][16];
	char val[MAX_FIELDS][32];
};

struct events {
	struct event *ev;
	unsigned int n;
};

/*
 * Read the file @path into @buf, NUL-terminated. Like the calls below, it
 * returns 0, or -1 with errno set.
 */
static int file_get(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	errno = err;
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* Write @text to the file @path in one write(), as echo does. */
static int file_put(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	err = n < 0 ? errno : EIO;
	close(fd);
	if ((size_t)n == len)
		return 0;
	errno = err;
	return -1;
}

/*
 * The root of a mounted tracefs: TRACEFS, mounted there if it is not yet
 * (*@mounted is then set), or the one below debugfs. NULL if there is none.
 */
static const char *tracefs_root(bool *mounted)
{
	*mounted = false;
	if (!access(TRACEFS "/instances", F_OK))
		return TRACEFS;
	if (!mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
		*mounted = true;
		return TRACEFS;
	}
	if (!access(DEBUGFS_TRACING "/instances", F_OK))
		return DEBUGFS_TRACING;
	return NULL;
}

/* The name trace events give the peer @fd: the inode number of its file. */
static unsigned long long peer_id(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

/* Parse one line of the trace file into @e; false if it is no bus1 event. */
static bool parse_event(char *line, struct event *e)
{
	char *p = strstr(line, ": bus1_"), *end, *tok, *eq, *save;

	if (!p)
		return false;
	p += 2;
	end = strchr(p, ':');
	if (!end || (size_t)(end - p) >= sizeof(e->name))
		return false;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, p, end - p);
	for (tok = strtok_r(end + 1, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save)) {
		eq = strchr(tok, '=');
		if (!eq || e->n_fields == MAX_FIELDS)
			continue;
		*eq = 0;
		snprintf(e->key[e->n_fields], sizeof(e->key[0]), "%s", tok);
		snprintf(e->val[e->n_fields], sizeof(e->val[0]), "%s", eq + 1);
		e->n_fields++;
	}
	return true;
}

/* Read the bus1 events of the trace buffer of @dir; -1 on failure. */
static int read_events(const char *dir, struct events *evs)
{
	char path[256], *line = NULL;
	size_t cap = 0, size = 0;
	struct event e;
	FILE *f;

	evs->ev = NULL;
	evs->n = 0;
	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#' || !parse_event(line, &e))
			continue;
		if (evs->n == size) {
			size = size ? 2 * size : 64;
			evs->ev = realloc(evs->ev, size * sizeof(*evs->ev));
			if (!evs->ev)
				abort();
		}
		evs->ev[evs->n++] = e;
	}
	free(line);
	fclose(f);
	return 0;
}

/* The value of field @key of @e, or NULL. */
static const char *field(const struct event *e, const char *key)
{
	unsigned int i;

	for (i = 0; i < e->n_fields; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return NULL;
}

/* Field @key of @e as a number; ~0 if it is missing. */
static unsigned long long num(const struct event *e, const char *key)
{
	const char *v = field(e, key);

	return v ? strtoull(v, NULL, 0) : ~0ULL;
}

/* Field @key of @e as a signed number; LLONG_MIN if it is missing. */
static long long snum(const struct event *e, const char *key)
{
	const char *v = field(e, key);

	return v ? strtoll(v, NULL, 0) : LLONG_MIN;
}

/* Whether @e has every field of @match, "key=value key=value...". */
static bool matches(const struct event *e, const char *match)
{
	char buf[256], *tok, *eq, *save;
	const char *v;

	snprintf(buf, sizeof(buf), "%s", match);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			return false;
		*eq = 0;
		v = field(e, tok);
		if (!v || strcmp(v, eq + 1))
			return false;
	}
	return true;
}

/*
 * How many events named @name have the fields that @fmt formats, in the
 * form "key=value key=value...". The first goes to *@found unless it is
 * NULL.
 */
static __printf(4, 5) unsigned int find(const struct events *evs,
					  const char *name,
					  const struct event **found,
					  const char *fmt, ...)
{
	unsigned int i, n = 0;
	char match[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(match, sizeof(match), fmt, ap);
	va_end(ap);
	if (found)
		*found = NULL;
	for (i = 0; i < evs->n; i++) {
		if (strcmp(evs->ev[i].name, name) ||
		    !matches(&evs->ev[i], match))
			continue;
		if (found && !n)
			*found = &evs->ev[i];
		n++;
	}
	return n;
}

/*
 * Send @len bytes of @buf from @fd to the @n_dst handles at @dst, passing
 * @n_handles handles and @n_fds fds.
 */
static int send_full(int fd, const __u64 *dst, unsigned int n_dst,
		     const void *buf, size_t len, const __u64 *handles,
		     unsigned int n_handles, const __s32 *fds,
		     unsigned int n_fds)
{
	struct bus1_vec v = { .ptr = PTR(buf), .len = len };
	struct bus1_send s = {
		.ptr_destinations = PTR(dst),
		.n_destinations = n_dst,
		.ptr_vecs = PTR(&v),
		.n_vecs = 1,
		.ptr_handles = PTR(handles),
		.n_handles = n_handles,
		.ptr_fds = PTR(fds),
		.n_fds = n_fds,
	};

	return bus1_send(fd, &s, sizeof(s));
}

static int send1(int fd, __u64 dst, const void *buf, size_t len)
{
	return send_full(fd, &dst, 1, buf, len, NULL, 0, NULL, 0);
}

/* Receive the next entry of @fd into *@r and release its slice at once. */
static int recv1(int fd, struct bus1_recv *r)
{
	memset(r, 0, sizeof(*r));
	if (bus1_recv(fd, r, sizeof(*r)))
		return -1;
	if (r->type == BUS1_MSG_DATA &&
	    bus1_slice_release(fd, &r->offset, 1, 0))
		return -1;
	return 0;
}

/* A non-blocking peer that owns one node, whose ID goes to *@node. */
static int receiver(__u64 *node)
{
	int fd = bus1_peer_create(BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK);

	if (fd >= 0 && bus1_node_create(fd, node, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

#define PEER_MAX_MESSAGES	"/proc/sys/kernel/bus1/peer_max_messages"
#define PEER_MAX_BYTES		"/proc/sys/kernel/bus1/peer_max_bytes"

/*
 * The tracefs instance of the test, and what the test changed that the
 * teardown puts back. The teardown runs in the parent of the test process,
 * so that it runs even if the test is killed by a signal.
 */
FIXTURE(trace) {
	char dir[192];			/* the instance, to remove */
	bool mounted;			/* tracefs mounted at TRACEFS */
	char peer_max_messages[32];	/* the limit as it was, or "" */
	char peer_max_bytes[32];	/* the limit as it was, or "" */
};

FIXTURE_SETUP(trace)
{
	char path[256];
	const char *root;

	if (geteuid())
		SKIP(return, "needs root, for tracefs and the sysctls");
	root = tracefs_root(&self->mounted);
	if (!root)
		SKIP(return, "no tracefs: a kernel without tracing");
	snprintf(path, sizeof(path), "%s/events/bus1/enable", root);
	if (access(path, F_OK)) {
		if (self->mounted)
			umount(TRACEFS);
		SKIP(return, "no bus1 trace events");
	}
	snprintf(self->dir, sizeof(self->dir),
		 "%s/instances/bus1_trace_test.%d", root, getpid());
	if (mkdir(self->dir, 0700)) {
		TH_LOG("%s: %s", self->dir, strerror(errno));
		if (self->mounted)
			umount(TRACEFS);
		ASSERT_TRUE(false);
	}
	snprintf(path, sizeof(path), "%s/events/bus1/enable", self->dir);
	ASSERT_EQ(0, file_put(path, "1")) TH_LOG("%s: %s", path,
						 strerror(errno));
}

FIXTURE_TEARDOWN_PARENT(trace)
{
	char path[256];
	bool ok;

	if (self->peer_max_messages[0]) {
		ok = !file_put(PEER_MAX_MESSAGES, self->peer_max_messages);
		if (!ok)
			TH_LOG("restoring peer_max_messages: %s",
			       strerror(errno));
		EXPECT_TRUE(ok);
	}
	if (self->peer_max_bytes[0]) {
		ok = !file_put(PEER_MAX_BYTES, self->peer_max_bytes);
		if (!ok)
			TH_LOG("restoring peer_max_bytes: %s", strerror(errno));
		EXPECT_TRUE(ok);
	}
	if (self->dir[0]) {
		snprintf(path, sizeof(path), "%s/events/bus1/enable",
			 self->dir);
		file_put(path, "0");
		ok = !rmdir(self->dir);
		if (!ok)
			TH_LOG("%s: %s", self->dir, strerror(errno));
		EXPECT_TRUE(ok);
	}
	if (self->mounted)
		umount(TRACEFS);
}

/* The events have the fields that the documentation names. */
TEST_F(trace, formats)
{
	static const char * const formats[][12] = {
		{ "bus1_send", "sender", "receiver", "handle", "destination",
		  "ts", "size", "n_handles", "n_fds" },
		{ "bus1_recv", "receiver", "type", "destination", "ts",
		  "size", "n_handles", "n_fds" },
		{ "bus1_notice", "receiver", "type", "destination", "ts" },
		{ "bus1_quota_refused", "peer", "uid", "from", "limit",
		  "amount", "used", "max", "share", "users", "err" },
	};
	static char buf[8192];
	char path[256], want[64];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		snprintf(path, sizeof(path), "%s/events/bus1/%s/format",
			 self->dir, formats[i][0]);
		ASSERT_EQ(0, file_get(path, buf, sizeof(buf)))
			TH_LOG("%s: %s", path, strerror(errno));
		for (j = 1; j < ARRAY_SIZE(formats[i]) && formats[i][j]; j++) {
			snprintf(want, sizeof(want), " %s;", formats[i][j]);
			EXPECT_TRUE(!!strstr(buf, want))
				TH_LOG("%s has no field %s", formats[i][0],
				       formats[i][j]);
		}
	}
}

/*
 * A unicast: one bus1_send, naming the sender, the receiver, the sender's
 * handle ID and the receiver's node ID; its bus1_recv at its timestamp.
 */
TEST_F(trace, unicast)
{
	unsigned long long sid, rid, ts;
	const struct event *s, *r;
	struct bus1_recv msg;
	struct events evs;
	__u64 node, h;
	int sfd, rfd;

	rfd = receiver(&node);
	ASSERT_LE(0, rfd);
	sfd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, sfd);
	h = bus1_transfer_id(rfd, node, sfd);
	ASSERT_NE(0, h);
	sid = peer_id(sfd);
	rid = peer_id(rfd);
	ASSERT_NE(0, sid);
	ASSERT_NE(sid, rid);

	ASSERT_EQ(0, send1(sfd, h, "hello", 5));
	ASSERT_EQ(0, recv1(rfd, &msg));
	ASSERT_EQ(BUS1_MSG_DATA, msg.type);

	ASSERT_EQ(0, read_events(self->dir, &evs));
	ASSERT_EQ(1, find(&evs, "bus1_send", &s, "sender=%llu", sid))
		TH_LOG("%u bus1 events", evs.n);
	EXPECT_TRUE(matches(s, "size=5 n_handles=0 n_fds=0"));
	EXPECT_EQ(rid, num(s, "receiver"));
	EXPECT_EQ(h, num(s, "handle"));
	EXPECT_EQ(node, num(s, "destination"));
	/* A committed timestamp is even, and never 0. */
	ts = num(s, "ts");
	EXPECT_NE(0, ts);
	EXPECT_EQ(0, ts & 1);

	ASSERT_EQ(1, find(&evs, "bus1_recv", &r, "receiver=%llu", rid));
	EXPECT_TRUE(matches(r, "type=data size=5 n_handles=0 n_fds=0"));
	EXPECT_EQ(node, num(r, "destination"));
	EXPECT_EQ(ts, num(r, "ts"));
	EXPECT_EQ(0, find(&evs, "bus1_recv", NULL, "receiver=%llu", sid));
	free(evs.ev);
	close(sfd);
	close(rfd);
}

/*
 * A multicast to three peers that passes a handle and an fd: one
 * bus1_send per destination, all at one timestamp, later than that of a
 * send before; each receive at that timestamp.
 */
TEST_F(trace, multicast)
{
	unsigned long long sid, rid[3], ts;
	const struct event *s, *r;
	__u64 node[3], h[3], own;
	struct bus1_recv msg;
	struct events evs;
	int sfd, rfd[3], i, p[2];

	sfd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, bus1_node_create(sfd, &own, 0));
	sid = peer_id(sfd);
	for (i = 0; i < 3; i++) {
		rfd[i] = receiver(&node[i]);
		ASSERT_LE(0, rfd[i]);
		h[i] = bus1_transfer_id(rfd[i], node[i], sfd);
		ASSERT_NE(0, h[i]);
		rid[i] = peer_id(rfd[i]);
	}
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));

	ASSERT_EQ(0, send1(sfd, h[0], "first", 5));
	ASSERT_EQ(0, send_full(sfd, h, 3, "to all three", 12, &own, 1, &p[0],
			       1));
	ASSERT_EQ(0, recv1(rfd[0], &msg));
	ASSERT_EQ(5, msg.size);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, recv1(rfd[i], &msg));
		ASSERT_EQ(12, msg.size);
	}

	ASSERT_EQ(0, read_events(self->dir, &evs));
	ASSERT_EQ(4, find(&evs, "bus1_send", NULL, "sender=%llu", sid));
	ASSERT_EQ(1, find(&evs, "bus1_send", &s, "sender=%llu size=5", sid));
	ts = num(s, "ts");
	ASSERT_EQ(3, find(&evs, "bus1_send", &s, "sender=%llu size=12", sid));
	EXPECT_LT(ts, num(s, "ts"));
	ts = num(s, "ts");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, find(&evs, "bus1_send", &s,
				  "receiver=%llu size=12", rid[i]))
			TH_LOG("no one send to destination %d", i);
		EXPECT_TRUE(matches(s, "n_handles=1 n_fds=1"));
		EXPECT_EQ(sid, num(s, "sender"));
		EXPECT_EQ(h[i], num(s, "handle"));
		EXPECT_EQ(node[i], num(s, "destination"));
		EXPECT_EQ(ts, num(s, "ts"));

		ASSERT_EQ(1, find(&evs, "bus1_recv", &r,
				  "receiver=%llu size=12", rid[i]));
		EXPECT_TRUE(matches(r, "type=data n_handles=1 n_fds=1"));
		EXPECT_EQ(node[i], num(r, "destination"));
		EXPECT_EQ(ts, num(r, "ts"));
	}
	free(evs.ev);
	for (i = 0; i < 3; i++)
		close(rfd[i]);
	close(sfd);
	close(p[0]);
	close(p[1]);
}

/*
 * Releasing the last handle of another peer queues a release notice to
 * the owner; destroying a node queues a notice to every holder, the owner
 * included, at one later timestamp. Each is received at its timestamp,
 * under the ID its receiver knows the node by.
 */
TEST_F(trace, notices)
{
	unsigned long long oid, id[2], ts;
	__u64 node, other, h[2], rh;
	const struct event *n, *r;
	struct bus1_recv msg;
	struct events evs;
	int ofd, fd[2], i;

	ofd = receiver(&node);
	ASSERT_LE(0, ofd);
	ASSERT_EQ(0, bus1_node_create(ofd, &other, 0));
	oid = peer_id(ofd);
	for (i = 0; i < 2; i++) {
		fd[i] = bus1_peer_create(BUS1_PEER_CLOEXEC |
					 BUS1_PEER_NONBLOCK);
		ASSERT_LE(0, fd[i]);
		h[i] = bus1_transfer_id(ofd, node, fd[i]);
		ASSERT_NE(0, h[i]);
		id[i] = peer_id(fd[i]);
	}
	rh = bus1_transfer_id(ofd, other, fd[0]);
	ASSERT_NE(0, rh);

	ASSERT_EQ(0, bus1_handle_release(fd[0], &rh, 1, 0));
	ASSERT_EQ(0, bus1_nodes_destroy(ofd, &node, 1, 0));
	ASSERT_EQ(0, recv1(ofd, &msg));
	ASSERT_EQ(BUS1_MSG_NODE_RELEASE, msg.type);
	ASSERT_EQ(0, recv1(ofd, &msg));
	ASSERT_EQ(BUS1_MSG_NODE_DESTROY, msg.type);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, recv1(fd[i], &msg));
		ASSERT_EQ(BUS1_MSG_NODE_DESTROY, msg.type);
	}

	ASSERT_EQ(0, read_events(self->dir, &evs));
	/* The release notice, to the owner. */
	ASSERT_EQ(2, find(&evs, "bus1_notice", NULL, "receiver=%llu", oid));
	ASSERT_EQ(1, find(&evs, "bus1_notice", &n,
			  "receiver=%llu type=node_release", oid));
	EXPECT_EQ(other, num(n, "destination"));
	ts = num(n, "ts");
	EXPECT_NE(0, ts);
	EXPECT_EQ(0, ts & 1);
	ASSERT_EQ(2, find(&evs, "bus1_recv", NULL, "receiver=%llu", oid));
	ASSERT_EQ(1, find(&evs, "bus1_recv", &r,
			  "receiver=%llu type=node_release", oid));
	EXPECT_EQ(other, num(r, "destination"));
	EXPECT_EQ(ts, num(r, "ts"));

	/* The destruction: one notice per holder, all at one timestamp. */
	ASSERT_EQ(1, find(&evs, "bus1_notice", &n,
			  "receiver=%llu type=node_destroy", oid));
	EXPECT_EQ(node, num(n, "destination"));
	EXPECT_LT(ts, num(n, "ts"));
	ts = num(n, "ts");
	EXPECT_EQ(3, find(&evs, "bus1_notice", NULL, "ts=%llu", ts));
	ASSERT_EQ(1, find(&evs, "bus1_recv", &r,
			  "receiver=%llu type=node_destroy", oid));
	EXPECT_EQ(node, num(r, "destination"));
	EXPECT_EQ(ts, num(r, "ts"));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, find(&evs, "bus1_notice", &n, "receiver=%llu",
				  id[i]))
			TH_LOG("no one notice to holder %d", i);
		EXPECT_STREQ("node_destroy", field(n, "type"));
		EXPECT_EQ(h[i], num(n, "destination"));
		EXPECT_EQ(ts, num(n, "ts"));
		ASSERT_EQ(1, find(&evs, "bus1_recv", &r, "receiver=%llu",
				  id[i]));
		EXPECT_TRUE(matches(r, "type=node_destroy size=0"));
		EXPECT_EQ(h[i], num(r, "destination"));
		EXPECT_EQ(ts, num(r, "ts"));
	}
	free(evs.ev);
	for (i = 0; i < 2; i++)
		close(fd[i]);
	close(ofd);
}

/*
 * A message over the sender's share of the receiving peer's limit of
 * queued messages, 2, of which a lone sender gets half: refused with
 * EDQUOT, and traced with the limit that refused it and the numbers it
 * was refused on.
 */
TEST_F(trace, quota_refused)
{
	unsigned long long rid;
	const struct event *q;
	struct events evs;
	__u64 node, h;
	int sfd, rfd;

	ASSERT_EQ(0, file_get(PEER_MAX_MESSAGES, self->peer_max_messages,
			      sizeof(self->peer_max_messages)))
		TH_LOG("%s: %s", PEER_MAX_MESSAGES, strerror(errno));
	ASSERT_EQ(0, file_put(PEER_MAX_MESSAGES, "2\n"));

	rfd = receiver(&node);
	ASSERT_LE(0, rfd);
	sfd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, sfd);
	h = bus1_transfer_id(rfd, node, sfd);
	ASSERT_NE(0, h);
	rid = peer_id(rfd);

	ASSERT_EQ(0, send1(sfd, h, "one", 3));
	ASSERT_EQ(-1, send1(sfd, h, "two", 3));
	ASSERT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, read_events(self->dir, &evs));
	EXPECT_EQ(1, find(&evs, "bus1_send", NULL, "receiver=%llu", rid));
	ASSERT_EQ(1, find(&evs, "bus1_quota_refused", &q, "peer=%llu", rid))
		TH_LOG("%u bus1 events", evs.n);
	EXPECT_TRUE(matches(q, "limit=peer_max_messages amount=1 used=1 max=2 share=1 users=1"));
	EXPECT_EQ(getuid(), num(q, "uid"));
	EXPECT_EQ(getuid(), num(q, "from"));
	EXPECT_EQ(-EDQUOT, snum(q, "err"));
	free(evs.ev);
	close(sfd);
	close(rfd);
}

/*
 * A message the receiver's pool has no room for: refused with ENOSPC, and
 * traced as refused by the pool. The per-peer limit of bytes is raised to
 * twice the pool, so that a lone sender's share of it can fill the pool.
 */
TEST_F(trace, pool_full)
{
	unsigned long long rid;
	const struct event *q;
	struct events evs;
	__u64 node, h;
	char text[32];
	int sfd, rfd;
	void *big;

	ASSERT_EQ(0, file_get(PEER_MAX_BYTES, self->peer_max_bytes,
			      sizeof(self->peer_max_bytes)))
		TH_LOG("%s: %s", PEER_MAX_BYTES, strerror(errno));
	snprintf(text, sizeof(text), "%u\n", 2 * BUS1_POOL_SIZE);
	ASSERT_EQ(0, file_put(PEER_MAX_BYTES, text));
	big = mmap(NULL, BUS1_POOL_SIZE, PROT_READ,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(big != MAP_FAILED);
	rfd = receiver(&node);
	ASSERT_LE(0, rfd);
	sfd = bus1_peer_create(BUS1_PEER_CLOEXEC);
	ASSERT_LE(0, sfd);
	h = bus1_transfer_id(rfd, node, sfd);
	ASSERT_NE(0, h);
	rid = peer_id(rfd);

	/* The whole pool, then one byte more. */
	ASSERT_EQ(0, send1(sfd, h, big, BUS1_POOL_SIZE));
	ASSERT_EQ(-1, send1(sfd, h, "x", 1));
	ASSERT_EQ(ENOSPC, errno);

	ASSERT_EQ(0, read_events(self->dir, &evs));
	ASSERT_EQ(1, find(&evs, "bus1_quota_refused", &q, "peer=%llu", rid))
		TH_LOG("%u bus1 events", evs.n);
	EXPECT_TRUE(matches(q, "limit=pool amount=8"));
	EXPECT_EQ(getuid(), num(q, "uid"));
	EXPECT_EQ(getuid(), num(q, "from"));
	EXPECT_EQ(BUS1_POOL_SIZE, num(q, "used"));
	EXPECT_EQ(BUS1_POOL_SIZE, num(q, "max"));
	EXPECT_EQ(-ENOSPC, snum(q, "err"));
	free(evs.ev);
	close(sfd);
	close(rfd);
	munmap(big, BUS1_POOL_SIZE);
}

TEST_HARNESS_MAIN
