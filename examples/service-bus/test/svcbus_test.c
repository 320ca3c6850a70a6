// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the service bus example in the booted kernel: a registry, a
 * service and clients, each its own process, as they would run. Every
 * fixture ends by waiting for the registry to exit on its own, which it
 * does once nobody holds its node: every participant is gone and left
 * nothing behind.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "svcbus.h"

#define NAME		"org.example.Test"
#define PATH		"/org/example/Test"
#define IFACE		"org.example.Test"
#define ERR_TEST	"org.example.Error.Test"
#define PEERS		8
#define CALL_MS		20000	/* generous: KASAN under TCG is slow */

/*
 * Wait up to @ms for child @pid; its wait status, -1 if it had to be
 * killed, -2 if it is no child (reaped before).
 */
static int wait_pid(pid_t pid, int ms)
{
	pid_t r;
	int st;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -2;
		if (ms <= 0)
			break;
		usleep(10000);
		ms -= 10;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int exit_code(int st)
{
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_u32(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(90);
}

/* A u32 from @fd within @ms, or ~0. */
static uint32_t read_u32(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint32_t v;

	if (poll(&p, 1, ms) != 1 || read(fd, &v, sizeof(v)) != sizeof(v))
		return ~0U;
	return v;
}

/* The value of fdinfo field @key of @fd, or ~0. */
static unsigned long long fdinfo(int fd, const char *key)
{
	unsigned long long v = ~0ULL;
	char path[64], line[256];
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			sscanf(line + len + 1, "%llu", &v);
	fclose(f);
	return v;
}

/* The test service */

struct svc_state {
	struct sb_service *svc;
	const char *name;
	uint32_t tick;
	int quit;
	int in_call_fd;		/* told when Hang is called */
};

static struct sb_writer out;	/* each process its own, after fork() */

static int m_echo(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { .body = &out };
	const void *p;
	size_t n;

	(void)data;
	if (sb_get_bytes(&m->rd, &p, &n))
		return -EBADMSG;
	sb_writer_reset(&out);
	sb_put_bytes(&out, p, n);
	return sb_reply(c, call, &a);
}

static int m_fail(struct sb_conn *c, struct sb_call *call, void *data)
{
	(void)data;
	return sb_reply_error(c, call, ERR_TEST, "it failed on purpose");
}

static int m_errno(struct sb_conn *c, struct sb_call *call, void *data)
{
	(void)c;
	(void)call;
	(void)data;
	return -ENOENT;
}

/* ReadFd(h) -> s: what the passed fd reads. */
static int m_read_fd(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { .body = &out };
	char buf[256];
	uint32_t idx;
	ssize_t n;

	(void)data;
	if (sb_get_fd_index(&m->rd, &idx) || idx >= m->n_fds || m->fds[idx] < 0)
		return -EBADF;
	n = read(m->fds[idx], buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	sb_writer_reset(&out);
	sb_put_str(&out, buf);
	return sb_reply(c, call, &a);
}

/* Emit(uu) -> u: COUNT signals Tick(u seq, ay of SIZE); deliveries. */
static int m_emit(struct sb_conn *c, struct sb_call *call, void *data)
{
	static unsigned char payload[64 << 10];
	struct svc_state *st = data;
	struct sb_msg *m = sb_call_msg(call);
	struct sb_writer sig;
	struct sb_args a = { .body = &sig };
	uint32_t count, size, i, total = 0;
	int r = 0;

	if (sb_get_u32(&m->rd, &count) || sb_get_u32(&m->rd, &size) ||
	    size > sizeof(payload))
		return -EINVAL;
	sb_writer_init(&sig);
	for (i = 0; i < count && r >= 0; i++) {
		sb_writer_reset(&sig);
		sb_put_u32(&sig, st->tick++);
		sb_put_bytes(&sig, payload, size);
		r = sb_emit(c, st->svc, "Tick", &a);
		if (r > 0)
			total += r;
	}
	sb_writer_free(&sig);
	if (r < 0)
		return r;
	sb_writer_reset(&out);
	sb_put_u32(&out, total);
	a.body = &out;
	return sb_reply(c, call, &a);
}

/* Subscriber(u) -> uuu: count, then misses and -errno of subscriber i. */
static int m_subscriber(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct svc_state *st = data;
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { .body = &out };
	uint64_t misses = 0;
	int last = 0;
	uint32_t i;

	if (sb_get_u32(&m->rd, &i))
		return -EINVAL;
	sb_service_subscriber(st->svc, i, &misses, &last);
	sb_writer_reset(&out);
	sb_put_u32(&out, sb_service_subscribers(st->svc));
	sb_put_u32(&out, misses);
	sb_put_u32(&out, -last);
	return sb_reply(c, call, &a);
}

static int m_drop(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct svc_state *st = data;
	int r = sb_unregister(c, st->svc);

	return r < 0 ? r : sb_reply(c, call, NULL);
}

static int m_crash(struct sb_conn *c, struct sb_call *call, void *data)
{
	(void)c;
	(void)call;
	(void)data;
	_exit(7);	/* mid-call: no answer, the process gone */
}

static int m_hang(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct svc_state *st = data;

	(void)c;
	(void)call;
	write_u32(st->in_call_fd, 1);
	for (;;)
		pause();	/* until killed */
	return 0;
}

static int m_quit(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct svc_state *st = data;

	st->quit = 1;
	return sb_reply(c, call, NULL);
}

static const struct sb_method methods[] = {
	{ "Echo", "ay", m_echo },
	{ "Fail", "", m_fail },
	{ "Errno", "", m_errno },
	{ "ReadFd", "h", m_read_fd },
	{ "Emit", "uu", m_emit },
	{ "Subscriber", "u", m_subscriber },
	{ "Drop", "", m_drop },
	{ "Crash", "", m_crash },
	{ "Hang", "", m_hang },
	{ "Quit", "", m_quit },
};

/* A service process: registers @st->name, serves until Quit. */
static int service_main(struct sb_conn *c, struct svc_state *st)
{
	int r;

	sb_writer_init(&out);
	r = sb_service_new(c, PATH, IFACE, methods,
			   sizeof(methods) / sizeof(methods[0]), st, &st->svc);
	if (r < 0)
		return 10;
	r = sb_register(c, st->svc, st->name);
	if (r < 0)
		return r == -EEXIST ? 11 : 12;
	while (!st->quit) {
		r = sb_process(c, -1);
		if (r < 0)
			return 13;
	}
	sb_conn_free(c);
	return 0;
}

/* The fixture: a registry process, this process a client */

FIXTURE(bus) {
	pid_t registry;
	int fds[PEERS];
	uint64_t regs[PEERS];
	int next;
	pid_t kids[PEERS];
	int n_kids;
	struct sb_conn *me;
};

FIXTURE_SETUP(bus)
{
	struct sb_registry *r;
	int i;


	ASSERT_EQ(0, sb_registry_new(&r));
	for (i = 0; i < PEERS; i++)
		ASSERT_EQ(0, sb_registry_new_peer_fd(r, &self->fds[i],
						     &self->regs[i]));
	self->registry = fork();
	ASSERT_LE(0, self->registry);
	if (!self->registry) {
		for (i = 0; i < PEERS; i++)
			close(self->fds[i]);
		_exit(sb_registry_run(r) ? 1 : 0);
	}
	sb_registry_close(r);
	ASSERT_EQ(0, sb_conn_from_fd(&self->me, self->fds[0], self->regs[0]));
	self->fds[0] = -1;
	self->next = 1;
}

FIXTURE_TEARDOWN(bus)
{
	int i;

	/* Those a failed test left behind. */
	for (i = 0; i < self->n_kids; i++)
		wait_pid(self->kids[i], 0);
	for (i = 0; i < PEERS; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	sb_conn_free(self->me);
	/* Everyone is gone: the registry hears nobody holds its node. */
	EXPECT_EQ(0, exit_code(wait_pid(self->registry, CALL_MS)));
}

/*
 * Start @fn as a participant in its own process, with the next peer fd.
 * The child keeps nothing of this process's bus1 state but that fd.
 */
static pid_t start(FIXTURE_DATA(bus) *self,
		   int (*fn)(struct sb_conn *c, void *arg), void *arg)
{
	struct sb_conn *c;
	int i, fd = self->fds[self->next];
	uint64_t reg = self->regs[self->next];
	pid_t pid;

	if (self->next == PEERS)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		for (i = 0; i < PEERS; i++)
			if (self->fds[i] >= 0 && self->fds[i] != fd)
				close(self->fds[i]);
		/* This process's peer is the parent's: not to be used. */
		close(bus1_peer_fd(sb_conn_peer(self->me)));
		if (sb_conn_from_fd(&c, fd, reg))
			_exit(80);
		_exit(fn(c, arg));
	}
	close(fd);
	self->fds[self->next++] = -1;
	self->kids[self->n_kids++] = pid;
	return pid;
}

static int run_service(struct sb_conn *c, void *arg)
{
	return service_main(c, arg);
}

/* Look @name up, waiting for it. */
static uint64_t lookup(struct sb_conn *c, const char *name)
{
	uint64_t h = 0;

	if (sb_lookup(c, name, SB_LOOKUP_WAIT, CALL_MS, &h))
		return 0;
	return h;
}

static int call_quit(struct sb_conn *c, uint64_t h)
{
	struct sb_msg reply = { 0 };
	int r = sb_call(c, h, PATH, IFACE, "Quit", NULL, &reply, CALL_MS, 0);

	sb_msg_release(&reply);
	return r;
}

TEST_F(bus, register_and_lookup)
{
	struct svc_state st = { .name = NAME }, st2 = { .name = NAME };
	struct sb_msg reply = { 0 };
	uint64_t h, h2;
	pid_t pid, pid2;

	EXPECT_EQ(-ENOENT, sb_lookup(self->me, NAME, 0, CALL_MS, &h));
	EXPECT_EQ(-ENOENT, sb_lookup(self->me, "not a name", 0, CALL_MS, &h));
	/* A lookup that waits, given up: the registry drops it. */
	EXPECT_EQ(-ETIMEDOUT, sb_lookup(self->me, NAME, SB_LOOKUP_WAIT, 200, &h));

	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	/* The name is taken: a second service cannot have it. */
	pid2 = start(self, run_service, &st2);
	ASSERT_LT(0, pid2);
	EXPECT_EQ(11, exit_code(wait_pid(pid2, CALL_MS)));

	/* A second lookup names the same node: the same handle ID. */
	ASSERT_EQ(0, sb_lookup(self->me, NAME, 0, CALL_MS, &h2));
	EXPECT_EQ(h, h2);
	EXPECT_EQ(0, sb_handle_release(self->me, h2));

	/* The service lets go of its name; the node stays reachable. */
	ASSERT_EQ(0, sb_call(self->me, h, PATH, IFACE, "Drop", NULL, &reply,
			     CALL_MS, 0));
	EXPECT_EQ(-ENOENT, sb_lookup(self->me, NAME, 0, CALL_MS, &h2));
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	EXPECT_EQ(0, sb_handle_release(self->me, h));
	sb_msg_release(&reply);
}

/* A waiting lookup answered when the service registers. */
static int waiter(struct sb_conn *c, void *arg)
{
	int fd = *(int *)arg;
	uint64_t h;

	write_u32(fd, 1);
	if (sb_lookup(c, NAME, SB_LOOKUP_WAIT, CALL_MS, &h))
		return 1;
	if (call_quit(c, h))
		return 2;
	sb_conn_free(c);
	return 0;
}

TEST_F(bus, lookup_waits)
{
	struct svc_state st = { .name = NAME };
	pid_t w, s;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	w = start(self, waiter, &p[1]);
	ASSERT_LT(0, w);
	ASSERT_EQ(1, read_u32(p[0], CALL_MS));
	usleep(200000);		/* its lookup is there before the name */
	s = start(self, run_service, &st);
	ASSERT_LT(0, s);
	EXPECT_EQ(0, exit_code(wait_pid(w, CALL_MS)));
	EXPECT_EQ(0, exit_code(wait_pid(s, CALL_MS)));
	close(p[0]);
	close(p[1]);
}

TEST_F(bus, calls_and_errors)
{
	struct svc_state st = { .name = NAME };
	static unsigned char big[64 << 10];
	size_t sizes[] = { 0, 8, 4096, sizeof(big) }, i, n;
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };
	const char *s;
	const void *p;
	uint64_t h;
	pid_t pid;

	for (i = 0; i < sizeof(big); i++)
		big[i] = i * 7;
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	sb_writer_init(&w);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sb_writer_reset(&w);
		sb_put_bytes(&w, big, sizes[i]);
		ASSERT_EQ(0, sb_call(self->me, h, PATH, IFACE, "Echo", &a,
				     &reply, CALL_MS, 0));
		EXPECT_EQ(SB_MSG_RETURN, reply.rd.type);
		EXPECT_STREQ("ay", reply.rd.signature);
		ASSERT_EQ(0, sb_get_bytes(&reply.rd, &p, &n));
		EXPECT_EQ(sizes[i], n);
		EXPECT_EQ(0, memcmp(p, big, n));
		EXPECT_TRUE(sb_at_end(&reply.rd));
	}

	/* An error reply: its name and message. */
	EXPECT_EQ(-EREMOTEIO, sb_call(self->me, h, PATH, IFACE, "Fail", NULL,
				      &reply, CALL_MS, 0));
	EXPECT_STREQ(ERR_TEST, reply.rd.error_name);
	EXPECT_STREQ("it failed on purpose", sb_error_message(&reply));
	/* A method that fails with an errno. */
	EXPECT_EQ(-EREMOTEIO, sb_call(self->me, h, PATH, IFACE, "Errno", NULL,
				      &reply, CALL_MS, 0));
	EXPECT_STREQ(SB_ERR_FAILED, reply.rd.error_name);
	EXPECT_STREQ(strerror(ENOENT), sb_error_message(&reply));
	/* What the service does not have. */
	EXPECT_EQ(-EREMOTEIO, sb_call(self->me, h, PATH, IFACE, "Nope", NULL,
				      &reply, CALL_MS, 0));
	EXPECT_STREQ(SB_ERR_UNKNOWN_METHOD, reply.rd.error_name);
	EXPECT_EQ(-EREMOTEIO, sb_call(self->me, h, "/elsewhere", IFACE, "Echo",
				      &a, &reply, CALL_MS, 0));
	EXPECT_STREQ("org.freedesktop.DBus.Error.UnknownObject",
		     reply.rd.error_name);
	/* Arguments of the wrong types. */
	sb_writer_reset(&w);
	sb_put_str(&w, "not bytes");
	EXPECT_EQ(-EREMOTEIO, sb_call(self->me, h, PATH, IFACE, "Echo", &a,
				      &reply, CALL_MS, 0));
	EXPECT_STREQ(SB_ERR_INVALID_ARGS, reply.rd.error_name);
	ASSERT_EQ(0, sb_get_str(&reply.rd, &s));
	EXPECT_STREQ("Echo takes \"ay\", not \"s\"", s);
	/* What cannot be marshalled is refused before anything is sent. */
	EXPECT_EQ(-EINVAL, sb_call(self->me, h, PATH, IFACE, "no-such member",
				   NULL, &reply, CALL_MS, 0));
	EXPECT_EQ(-EINVAL, sb_call(self->me, h, "relative", IFACE, "Echo",
				   NULL, &reply, CALL_MS, 0));

	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	sb_msg_release(&reply);
	sb_writer_free(&w);
}

TEST_F(bus, fd_with_call)
{
	struct svc_state st = { .name = NAME };
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w, .n_fds = 1 };
	int pipefd[2], fd;
	const char *s;
	uint64_t h;
	pid_t pid;

	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(13, write(pipefd[1], "through bus1", 13));
	fd = pipefd[0];
	a.fds = &fd;
	sb_writer_init(&w);
	sb_put_fd_index(&w, 0);
	ASSERT_EQ(0, sb_call(self->me, h, PATH, IFACE, "ReadFd", &a, &reply,
			     CALL_MS, 0));
	ASSERT_EQ(0, sb_get_str(&reply.rd, &s));
	EXPECT_STREQ("through bus1", s);
	/* An 'h' that names no fd passed is refused here ... */
	a.n_fds = 0;
	EXPECT_EQ(-EBADF, sb_call(self->me, h, PATH, IFACE, "ReadFd", &a,
				  &reply, CALL_MS, 0));
	/* ... and the service closed its copy: the writer sees no reader. */
	close(pipefd[0]);
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	signal(SIGPIPE, SIG_IGN);
	EXPECT_EQ(-1, write(pipefd[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	close(pipefd[1]);
	sb_msg_release(&reply);
	sb_writer_free(&w);
}

/*
 * A subscriber: counts Ticks, which must come in order without a gap
 * from the first it gets, and tells @report every @every.
 */
struct sub_arg {
	int report;		/* write end */
	int go;			/* read end: when to read (-1: at once) */
	uint32_t every, expect;
	uint32_t got, first;
	int bad;
};

static int on_tick(struct sb_conn *c, struct sb_msg *sig, void *data)
{
	struct sub_arg *sa = data;
	uint32_t seq;

	(void)c;
	if (strcmp(sig->rd.member, "Tick") || strcmp(sig->rd.path, PATH) ||
	    strcmp(sig->rd.interface, IFACE) || sb_get_u32(&sig->rd, &seq))
		sa->bad = 1;
	if (!sa->got)
		sa->first = seq;
	if (seq != sa->first + sa->got)
		sa->bad = 1;
	sa->got++;
	if (sa->every && sa->got % sa->every == 0)
		write_u32(sa->report, sa->got);
	return 0;
}

static int subscriber(struct sb_conn *c, void *arg)
{
	struct sub_arg *sa = arg;
	struct sb_sub *sub;
	uint64_t h;
	int r;

	h = lookup(c, NAME);
	if (!h)
		return 1;
	if (sb_subscribe(c, h, on_tick, sa, &sub))
		return 2;
	write_u32(sa->report, 0);	/* subscribed */
	if (sa->go >= 0) {
		/* Read nothing until told to, then what is queued. */
		if (read_u32(sa->go, 60000) != 1)
			return 3;
		while ((r = sb_process(c, 0)) > 0)
			;
		if (r < 0)
			return 4;
		/* What it holds are the first signals of the service. */
		if (sa->got && sa->first)
			return 7;
		write_u32(sa->report, sa->got);
	} else {
		while (sa->got < sa->expect)
			if (sb_process(c, -1) < 0)
				return 5;
	}
	sb_conn_free(c);
	return sa->bad ? 6 : 0;
}

static uint32_t emit(struct __test_metadata *_metadata, struct sb_conn *c,
		     uint64_t h, uint32_t count, uint32_t size)
{
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };
	uint32_t n = ~0U;

	sb_writer_init(&w);
	sb_put_u32(&w, count);
	sb_put_u32(&w, size);
	EXPECT_EQ(0, sb_call(c, h, PATH, IFACE, "Emit", &a, &reply, CALL_MS, 0));
	if (reply.rd.type == SB_MSG_RETURN)
		EXPECT_EQ(0, sb_get_u32(&reply.rd, &n));
	sb_msg_release(&reply);
	sb_writer_free(&w);
	return n;
}

/* Subscribers, misses and the last error of subscriber @i. */
static void subscriber_info(struct __test_metadata *_metadata,
			    struct sb_conn *c, uint64_t h, uint32_t i,
			    uint32_t v[3])
{
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };

	sb_writer_init(&w);
	sb_put_u32(&w, i);
	memset(v, 0xff, 3 * sizeof(*v));
	ASSERT_EQ(0, sb_call(c, h, PATH, IFACE, "Subscriber", &a, &reply,
			     CALL_MS, 0));
	ASSERT_EQ(SB_MSG_RETURN, reply.rd.type);
	EXPECT_EQ(0, sb_get_u32(&reply.rd, &v[0]));
	EXPECT_EQ(0, sb_get_u32(&reply.rd, &v[1]));
	EXPECT_EQ(0, sb_get_u32(&reply.rd, &v[2]));
	sb_msg_release(&reply);
	sb_writer_free(&w);
}

TEST_F(bus, signals_by_multicast)
{
	struct svc_state st = { .name = NAME };
	struct sub_arg sa[3];
	pid_t pid, subs[3];
	uint32_t v[3];
	int p[2], i;
	uint64_t h;

	ASSERT_EQ(0, pipe(p));
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	/* No subscriber yet: nothing is sent. */
	EXPECT_EQ(0, emit(_metadata, self->me, h, 1, 8));
	for (i = 0; i < 3; i++) {
		sa[i] = (struct sub_arg){ .report = p[1], .go = -1,
					  .expect = 20 };
		subs[i] = start(self, subscriber, &sa[i]);
		ASSERT_LT(0, subs[i]);
		ASSERT_EQ(0, read_u32(p[0], CALL_MS));
	}
	/* Each signal one multicast to three sinks. */
	EXPECT_EQ(3 * 20, emit(_metadata, self->me, h, 20, 100));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, exit_code(wait_pid(subs[i], CALL_MS)));
	/*
	 * The subscribers are gone, their sinks destroyed: the service
	 * heard it (its notices come before our next call) and dropped
	 * them.
	 */
	subscriber_info(_metadata, self->me, h, 0, v);
	EXPECT_EQ(0, v[0]);
	EXPECT_EQ(0, emit(_metadata, self->me, h, 1, 8));
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	close(p[0]);
	close(p[1]);
}

static struct sb_conn *notice_conn;
static uint64_t notice_type, notice_id;

static void on_notice(struct sb_conn *c, uint64_t type, uint64_t id,
		      void *data)
{
	(void)data;
	notice_conn = c;
	notice_type = type;
	notice_id = id;
}

TEST_F(bus, death_notice)
{
	struct svc_state st = { .name = NAME };
	uint64_t h, h2;
	pid_t pid;

	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	sb_conn_on_notice(self->me, on_notice, NULL);
	EXPECT_EQ(0, sb_process(self->me, 0));
	kill(pid, SIGKILL);
	EXPECT_EQ(-1, exit_code(wait_pid(pid, CALL_MS)));
	/* The service's peer is gone, its node destroyed: we hear of it. */
	EXPECT_EQ(1, sb_process(self->me, CALL_MS));
	EXPECT_TRUE(self->me == notice_conn);
	EXPECT_EQ(BUS1_MSG_NODE_DESTROY, notice_type);
	EXPECT_EQ(h, notice_id);
	/*
	 * The registry heard of it at the same logical time, before our
	 * lookup: the name is gone.
	 */
	EXPECT_EQ(-ENOENT, sb_lookup(self->me, NAME, 0, CALL_MS, &h2));
	EXPECT_EQ(-EHOSTUNREACH, sb_call(self->me, h, PATH, IFACE, "Quit",
					 NULL, NULL, CALL_MS, 0));
	EXPECT_EQ(0, sb_handle_release(self->me, h));
}

/* A call whose service dies during it: it ends, the client hears why. */
static int crash_caller(struct sb_conn *c, void *arg)
{
	struct sb_msg reply = { 0 };
	uint64_t h = lookup(c, NAME);

	(void)arg;
	if (!h)
		return 1;
	sb_conn_on_notice(c, on_notice, NULL);
	if (sb_call(c, h, PATH, IFACE, "Hang", NULL, &reply, -1, 0) != -EPIPE)
		return 2;
	/* The node's destruction, kept by the call for later. */
	if (sb_process(c, CALL_MS) != 1 || notice_type != BUS1_MSG_NODE_DESTROY ||
	    notice_id != h)
		return 3;
	sb_conn_free(c);
	return 0;
}

TEST_F(bus, service_dies_mid_call)
{
	struct svc_state st = { .name = NAME };
	struct sb_msg reply = { 0 };
	pid_t pid, caller;
	uint64_t h;
	int p[2];

	/* The service exits in the method. */
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	EXPECT_EQ(-EPIPE, sb_call(self->me, h, PATH, IFACE, "Crash", NULL,
				  &reply, CALL_MS, 0));
	EXPECT_EQ(7, exit_code(wait_pid(pid, CALL_MS)));
	EXPECT_EQ(0, sb_handle_release(self->me, h));

	/* The service is killed while a client waits for its answer. */
	ASSERT_EQ(0, pipe(p));
	st.in_call_fd = p[1];
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	caller = start(self, crash_caller, NULL);
	ASSERT_LT(0, caller);
	ASSERT_EQ(1, read_u32(p[0], CALL_MS));
	kill(pid, SIGKILL);
	EXPECT_EQ(-1, exit_code(wait_pid(pid, CALL_MS)));
	EXPECT_EQ(0, exit_code(wait_pid(caller, CALL_MS)));
	/* A new service may have the name at once. */
	st.in_call_fd = -1;
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	close(p[0]);
	close(p[1]);
	sb_msg_release(&reply);
}

/*
 * A subscriber that never reads: its pool fills (64 KiB signals, the
 * default limits) or its per-peer message quota (small signals, the
 * limit lowered), the service's sends go on to the other subscriber, and
 * what the slow one holds is exactly the first signals, in order.
 */
static void slow_subscriber(struct __test_metadata *_metadata,
			    FIXTURE_DATA(bus) *self, uint32_t size,
			    uint32_t rounds, uint32_t per_round,
			    uint32_t expect_held, int expect_err)
{
	struct svc_state st = { .name = NAME };
	struct sub_arg fast, slow;
	int rep[2], go[2], i;
	pid_t pid, fp, sp;
	uint32_t v[3], n, held;
	uint64_t h;

	ASSERT_EQ(0, pipe(rep));
	ASSERT_EQ(0, pipe(go));
	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	fast = (struct sub_arg){ .report = rep[1], .go = -1,
				 .every = per_round,
				 .expect = rounds * per_round };
	fp = start(self, subscriber, &fast);
	ASSERT_LT(0, fp);
	ASSERT_EQ(0, read_u32(rep[0], CALL_MS));
	slow = (struct sub_arg){ .report = rep[1], .go = go[0] };
	sp = start(self, subscriber, &slow);
	ASSERT_LT(0, sp);
	ASSERT_EQ(0, read_u32(rep[0], CALL_MS));

	/* Rounds paced by the fast one, so that it never falls behind. */
	for (i = 0, n = 0; i < (int)rounds; i++) {
		n += emit(_metadata, self->me, h, per_round, size);
		ASSERT_EQ((i + 1) * per_round, read_u32(rep[0], CALL_MS));
	}
	/*
	 * Every signal reached the fast one, which checked their order and
	 * is gone once it has them all; the slow one took some.
	 */
	EXPECT_EQ(rounds * per_round + expect_held, n);
	EXPECT_EQ(0, exit_code(wait_pid(fp, CALL_MS)));
	/* Its sink destroyed, the fast one's subscription is gone too. */
	subscriber_info(_metadata, self->me, h, 0, v);
	EXPECT_EQ(1, v[0]);
	EXPECT_EQ(rounds * per_round - expect_held, v[1]);
	EXPECT_EQ(expect_err, v[2]);
	/* The service still answers while the slow one is full. */
	EXPECT_EQ(0, emit(_metadata, self->me, h, 0, 0));

	/* Now it reads: the first signals, none missing in between. */
	write_u32(go[1], 1);
	held = read_u32(rep[0], CALL_MS);
	EXPECT_EQ(expect_held, held);
	EXPECT_EQ(0, exit_code(wait_pid(sp, CALL_MS)));
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	for (i = 0; i < 2; i++) {
		close(rep[i]);
		close(go[i]);
	}
}

#define PEER_MAX_BYTES		"/proc/sys/kernel/bus1/peer_max_bytes"
#define PEER_MAX_MESSAGES	"/proc/sys/kernel/bus1/peer_max_messages"

static int sysctl_rw(const char *path, unsigned int *old, unsigned int val)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		close(fd);
		return -EIO;
	}
	buf[n] = 0;
	*old = strtoul(buf, NULL, 10);
	n = snprintf(buf, sizeof(buf), "%u\n", val);
	if (pwrite(fd, buf, n, 0) != n) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return 0;
}

/*
 * The slow subscriber with the per-peer limit @path set to @val for the
 * run, and restored after it. A lone sending user, as the service is,
 * gets half of what a receiving peer has left of each limit.
 */
static void slow_subscriber_with(struct __test_metadata *_metadata,
				 FIXTURE_DATA(bus) *self, const char *path,
				 unsigned int val, uint32_t size,
				 uint32_t rounds, uint32_t per_round,
				 uint32_t expect_held, int expect_err)
{
	unsigned int old, ignored;
	int r;

	r = sysctl_rw(path, &old, val);
	if (r == -ENOENT || r == -EACCES || r == -EPERM)
		SKIP(return, "cannot set %s: %s", path, strerror(-r));
	ASSERT_EQ(0, r);
	slow_subscriber(_metadata, self, size, rounds, per_round,
			expect_held, expect_err);
	EXPECT_EQ(0, sysctl_rw(path, &ignored, old));
}

/*
 * The 16 MiB pool is full first once the per-peer byte limit is twice
 * the pool, so that the service's half of it is the whole pool: a Tick of
 * 64 KiB is 65656 bytes (a 112-byte D-Bus header, the sequence number,
 * the array's length, the payload), so 255 fit and the 256th fails with
 * ENOSPC.
 */
TEST_F_TIMEOUT(bus, slow_subscriber_pool, 300)
{
	slow_subscriber_with(_metadata, self, PEER_MAX_BYTES, 32 << 20,
			     64 << 10, 6, 50, 255, ENOSPC);
}

/*
 * With the per-peer message limit at 128, the service's half of it is 64:
 * a slow subscriber holds 64 small signals and the next are refused with
 * EDQUOT.
 */
TEST_F_TIMEOUT(bus, slow_subscriber_quota, 120)
{
	slow_subscriber_with(_metadata, self, PEER_MAX_MESSAGES, 128, 8, 5,
			     20, 64, EDQUOT);
}

/* The library's view of the pool: nothing is left behind by a call. */
TEST_F(bus, nothing_left_behind)
{
	struct svc_state st = { .name = NAME };
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };
	int fd = bus1_peer_fd(sb_conn_peer(self->me)), i;
	unsigned long long handles;
	uint64_t h;
	pid_t pid;

	pid = start(self, run_service, &st);
	ASSERT_LT(0, pid);
	h = lookup(self->me, NAME);
	ASSERT_NE(0, h);
	sb_writer_init(&w);
	sb_put_bytes(&w, "12345678", 8);
	ASSERT_EQ(0, sb_call(self->me, h, PATH, IFACE, "Echo", &a, &reply,
			     CALL_MS, 0));
	sb_msg_release(&reply);
	handles = fdinfo(fd, "bus1-handles");
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, sb_call(self->me, h, PATH, IFACE, "Echo", &a,
				     &reply, CALL_MS, 0));
		sb_msg_release(&reply);
	}
	EXPECT_EQ(handles, fdinfo(fd, "bus1-handles"));
	EXPECT_EQ(0, fdinfo(fd, "bus1-pool-slices"));
	EXPECT_EQ(0, call_quit(self->me, h));
	EXPECT_EQ(0, exit_code(wait_pid(pid, CALL_MS)));
	EXPECT_EQ(0, sb_handle_release(self->me, h));
	sb_writer_free(&w);
}

TEST_HARNESS_MAIN
