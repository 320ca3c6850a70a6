// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * svcbus-demo: a registry, a clock service and two clients, each its own
 * process, on the broker-free service bus. Each step is printed as it
 * happens; the exit status is 0 if every step did what it should.
 *
 *   svcbus-demo
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "svcbus.h"

#define NAME	"org.example.Clock"
#define PATH	"/org/example/Clock"
#define IFACE	"org.example.Clock"

static void say(const char *who, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const char *who, const char *fmt, ...)
{
	va_list ap;

	printf("%-9s ", who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int check(const char *who, int r, const char *what)
{
	if (r < 0) {
		say(who, "FAILED: %s: %s", what, strerror(-r));
		exit(1);
	}
	return r;
}

/* The service */

struct clock {
	struct sb_service *svc;
	int ticks;
	bool quit;
};

static struct sb_writer out;

/* Add(uu) -> u */
static int m_add(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { .body = &out };
	uint32_t x, y;

	(void)data;
	if (sb_get_u32(&m->rd, &x) || sb_get_u32(&m->rd, &y))
		return -EINVAL;
	if (x + y < x)
		return sb_reply_error(c, call, "org.example.Error.Overflow",
				      "the sum does not fit 32 bits");
	sb_writer_reset(&out);
	sb_put_u32(&out, x + y);
	return sb_reply(c, call, &a);
}

/* Log(hs): write a line to the passed fd. */
static int m_log(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_msg *m = sb_call_msg(call);
	const char *line;
	uint32_t i;

	(void)data;
	if (sb_get_fd_index(&m->rd, &i) || sb_get_str(&m->rd, &line) ||
	    m->fds[i] < 0)
		return -EBADF;
	if (dprintf(m->fds[i], "clock: %s\n", line) < 0)
		return -errno;
	return sb_reply(c, call, NULL);
}

/* Tick(u): signal COUNT ticks to every subscriber. */
static int m_tick(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct clock *clk = data;
	struct sb_msg *m = sb_call_msg(call);
	struct sb_writer sig;
	struct sb_args a = { .body = &sig };
	uint32_t n, i;
	int r = 0;

	if (sb_get_u32(&m->rd, &n))
		return -EINVAL;
	sb_writer_init(&sig);
	for (i = 0; i < n && r >= 0; i++) {
		sb_writer_reset(&sig);
		sb_put_u32(&sig, ++clk->ticks);
		r = sb_emit(c, clk->svc, "Ticked", &a);
		if (r >= 0)
			say("clock", "Ticked %d: one multicast, %d subscriber(s) got it",
			    clk->ticks, r);
	}
	sb_writer_free(&sig);
	return r < 0 ? r : sb_reply(c, call, NULL);
}

static int m_stop(struct sb_conn *c, struct sb_call *call, void *data)
{
	(void)c;
	(void)call;
	(void)data;
	say("clock", "Stop: exiting in the middle of the call");
	exit(0);
}

static const struct sb_method clock_methods[] = {
	{ "Add", "uu", m_add },
	{ "Log", "hs", m_log },
	{ "Tick", "u", m_tick },
	{ "Stop", "", m_stop },
};

static void clock_main(struct sb_conn *c)
{
	struct clock clk = { 0 };

	sb_writer_init(&out);
	check("clock", sb_service_new(c, PATH, IFACE, clock_methods, 4, &clk,
				      &clk.svc), "sb_service_new");
	check("clock", sb_register(c, clk.svc, NAME), "sb_register");
	say("clock", "registered %s", NAME);
	for (;;)
		check("clock", sb_process(c, -1), "sb_process");
}

/* The clients */

static int on_ticked(struct sb_conn *c, struct sb_msg *sig, void *data)
{
	const char *who = data;
	uint32_t n = 0;

	(void)c;
	sb_get_u32(&sig->rd, &n);
	say(who, "got signal %s(%u)", sig->rd.member, n);
	return 0;
}

static void listener_main(struct sb_conn *c, int ready)
{
	struct sb_sub *sub;
	uint64_t clock;
	int got = 0;

	check("listener", sb_lookup(c, NAME, SB_LOOKUP_WAIT, -1, &clock),
	      "sb_lookup");
	check("listener", sb_subscribe(c, clock, on_ticked, "listener", &sub),
	      "sb_subscribe");
	say("listener", "subscribed to %s", NAME);
	if (write(ready, "", 1) != 1)
		exit(1);
	while (got < 3)
		got += check("listener", sb_process(c, -1), "sb_process");
	sb_conn_free(c);
	exit(0);
}

static bool died;

static void on_notice(struct sb_conn *c, uint64_t type, uint64_t id,
		      void *data)
{
	(void)c;
	if (type == BUS1_MSG_NODE_DESTROY && id == *(uint64_t *)data) {
		say("client", "death notice: the node of %s is gone", NAME);
		died = true;
	}
}

static void client_main(struct sb_conn *c, int ready)
{
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };
	uint64_t clock, again;
	uint32_t sum = 0;
	char b;
	int fd = STDOUT_FILENO, r;

	sb_writer_init(&w);
	check("client", sb_lookup(c, NAME, SB_LOOKUP_WAIT, -1, &clock),
	      "sb_lookup");
	say("client", "looked up %s: handle %llu, a capability to its node",
	    NAME, (unsigned long long)clock);
	sb_conn_on_notice(c, on_notice, &clock);

	sb_put_u32(&w, 40);
	sb_put_u32(&w, 2);
	check("client", sb_call(c, clock, PATH, IFACE, "Add", &a, &reply, -1, 0),
	      "Add");
	sb_get_u32(&reply.rd, &sum);
	say("client", "Add(40, 2) = %u, straight from the service", sum);

	sb_writer_reset(&w);
	sb_put_u32(&w, 4000000000U);
	sb_put_u32(&w, 4000000000U);
	r = sb_call(c, clock, PATH, IFACE, "Add", &a, &reply, -1, 0);
	say("client", "Add(4e9, 4e9): %s: %s %s", strerror(-r),
	    reply.rd.error_name, sb_error_message(&reply));

	sb_writer_reset(&w);
	sb_put_fd_index(&w, 0);
	sb_put_str(&w, "this line came through a passed fd");
	a.fds = &fd;
	a.n_fds = 1;
	check("client", sb_call(c, clock, PATH, IFACE, "Log", &a, &reply, -1, 0),
	      "Log");
	a.fds = NULL;
	a.n_fds = 0;

	/* The listener is subscribed: three ticks, three multicasts. */
	if (read(ready, &b, 1) != 1)
		exit(1);
	sb_writer_reset(&w);
	sb_put_u32(&w, 3);
	check("client", sb_call(c, clock, PATH, IFACE, "Tick", &a, &reply, -1, 0),
	      "Tick");

	r = sb_call(c, clock, PATH, IFACE, "Stop", NULL, &reply, -1, 0);
	say("client", "Stop: the call ended with %s", strerror(-r));
	while (!died)
		check("client", sb_process(c, -1), "sb_process");
	r = sb_lookup(c, NAME, 0, -1, &again);
	say("client", "lookup of %s after its death: %s", NAME, strerror(-r));
	sb_handle_release(c, clock);
	sb_msg_release(&reply);
	sb_writer_free(&w);
	sb_conn_free(c);
	exit(r == -ENOENT && sum == 42 ? 0 : 1);
}

/* Start @fn in a process of its own with a new participant's peer. */
static pid_t start(struct sb_registry *reg, void (*fn)(struct sb_conn *, int),
		   int arg)
{
	struct sb_conn *c;
	uint64_t handle;
	int fd;
	pid_t pid;

	check("registry", sb_registry_new_peer_fd(reg, &fd, &handle),
	      "sb_registry_new_peer_fd");
	pid = fork();
	if (pid < 0)
		check("registry", -errno, "fork");
	if (!pid) {
		/* Only the registry's process may use the registry. */
		close(sb_registry_fd(reg));
		check("start", sb_conn_from_fd(&c, fd, handle), "sb_conn_from_fd");
		fn(c, arg);
		exit(0);
	}
	close(fd);
	return pid;
}

static void run_clock(struct sb_conn *c, int arg)
{
	(void)arg;
	clock_main(c);
}

int main(void)
{
	struct sb_registry *reg;
	int p[2], st, failed = 0, i;
	pid_t pids[3];

	setvbuf(stdout, NULL, _IOLBF, 0);
	check("registry", sb_registry_new(&reg), "sb_registry_new");
	if (pipe(p))
		check("registry", -errno, "pipe");
	pids[0] = start(reg, listener_main, p[1]);
	pids[1] = start(reg, client_main, p[0]);
	pids[2] = start(reg, run_clock, 0);
	close(p[0]);
	close(p[1]);
	say("registry", "serving; it ends when nobody holds its node");
	check("registry", sb_registry_run(reg), "sb_registry_run");
	say("registry", "nobody holds the registry node: done");
	sb_registry_free(reg);
	for (i = 0; i < 3; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			failed = 1;
	}
	printf("%s\n", failed ? "FAILED" : "all steps done");
	return failed;
}
