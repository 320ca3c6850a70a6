// SPDX-License-Identifier: GPL-2.0
/*
 * svcbench on bus1: the service bus of examples/service-bus. The bus
 * process is the registry; a participant's seat is a peer that holds a
 * handle to it, made before the fork by whoever starts the participant.
 * Calls go from client to service and back with no process between
 * them; a signal is one multicast to the subscribers' sinks. Messages
 * are D-Bus marshalled (header and body) as on the D-Bus side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "svcbus.h"
#include "svc.h"

struct svc_conn {
	struct sb_conn *c;
	struct sb_service *svc;
	uint64_t service;	/* handle to the service found */
	struct sb_sub *sub;
	struct sb_writer w;
	struct sb_msg reply;
	int quit;
	int stop;
	int (*got)(uint64_t seq);
};

static struct sb_registry *registry;
static pid_t registry_pid;
/*
 * A peer with a handle to the registry, held from start to stop: the
 * registry ends when nobody holds its node, which must not happen
 * between two points, when no participant is there.
 */
static int keeper = -1;

static const char *b1_start_bus(int cpu)
{
	cpu_set_t set;
	int r;

	r = sb_registry_new(&registry);
	if (r < 0)
		return "no bus1 in this kernel";
	registry_pid = fork();
	if (registry_pid < 0)
		return "fork failed";
	if (!registry_pid) {
		CPU_ZERO(&set);
		CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
		sched_setaffinity(0, sizeof(set), &set);
		_exit(sb_registry_run(registry) ? 1 : 0);
	}
	if (sb_registry_new_peer_fd(registry, &keeper, &(uint64_t){ 0 }))
		svc_die("cannot make a peer with a handle to the registry");
	return NULL;
}

static void b1_stop_bus(void)
{
	int st, i;

	/* The registry ends once nobody holds its node. */
	close(keeper);
	keeper = -1;
	sb_registry_close(registry);
	registry = NULL;
	for (i = 0; i < 1000; i++) {
		if (waitpid(registry_pid, &st, WNOHANG) == registry_pid)
			return;
		usleep(10000);
	}
	kill(registry_pid, SIGKILL);
	waitpid(registry_pid, &st, 0);
	svc_die("the registry did not end: something holds its node");
}

static int b1_prepare(struct svc_conn *from, int *seat, uint64_t *arg)
{
	if (from)
		return sb_conn_new_peer_fd(from->c, seat, arg);
	return sb_registry_new_peer_fd(registry, seat, arg);
}

static void b1_forget(int seat)
{
	close(seat);
}

static struct svc_conn *b1_connect(int seat, uint64_t arg)
{
	struct svc_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	/* The registry of the driver is not this process's to use. */
	if (registry) {
		close(sb_registry_fd(registry));
		close(keeper);
		registry = NULL;
		keeper = -1;
	}
	if (sb_conn_from_fd(&c->c, seat, arg)) {
		free(c);
		return NULL;
	}
	sb_writer_init(&c->w);
	return c;
}

static void b1_disconnect(struct svc_conn *c)
{
	sb_msg_release(&c->reply);
	sb_writer_free(&c->w);
	sb_conn_free(c->c);
	free(c);
}

/* The service */

static int m_echo(struct sb_conn *sc, struct sb_call *call, void *data)
{
	struct svc_conn *c = data;
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { .body = &c->w };
	const void *p;
	size_t n;

	if (sb_get_bytes(&m->rd, &p, &n))
		return -EBADMSG;
	sb_writer_reset(&c->w);
	sb_put_bytes(&c->w, p, n);
	return sb_reply(sc, call, &a);
}

/* The fd is closed by the library once the method returns. */
static int m_take_fd(struct sb_conn *sc, struct sb_call *call, void *data)
{
	uint32_t idx;

	(void)data;
	if (sb_get_fd_index(&sb_call_msg(call)->rd, &idx))
		return -EBADMSG;
	return sb_reply(sc, call, NULL);
}

static int m_quit(struct sb_conn *sc, struct sb_call *call, void *data)
{
	struct svc_conn *c = data;

	c->quit = 1;
	return sb_reply(sc, call, NULL);
}

static const struct sb_method methods[] = {
	{ "Echo", "ay", m_echo },
	{ "TakeFd", "h", m_take_fd },
	{ "Quit", "", m_quit },
};

static int b1_serve_setup(struct svc_conn *c)
{
	int r;

	r = sb_service_new(c->c, SVC_PATH, SVC_IFACE, methods,
			   sizeof(methods) / sizeof(methods[0]), c, &c->svc);
	return r < 0 ? r : sb_register(c->c, c->svc, SVC_NAME);
}

static int b1_serve(struct svc_conn *c)
{
	int r;

	while (!c->quit) {
		r = sb_process(c->c, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int b1_serve_until_subscribed(struct svc_conn *c, int k)
{
	int r;

	while (sb_service_subscribers(c->svc) < (unsigned int)k) {
		r = sb_process(c->c, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int b1_emit(struct svc_conn *c, const void *buf, size_t size)
{
	struct sb_args a = { .body = &c->w };
	int r;

	sb_writer_reset(&c->w);
	sb_put_bytes(&c->w, buf, size);
	r = sb_emit(c->c, c->svc, "Tick", &a);
	if (r < 0)
		return r;
	/* Every subscriber must have it. */
	return r == (int)sb_service_subscribers(c->svc) ? 0 : -EDQUOT;
}

/* The client */

static int b1_find(struct svc_conn *c)
{
	return sb_lookup(c->c, SVC_NAME, SB_LOOKUP_WAIT, -1, &c->service);
}

static int b1_echo(struct svc_conn *c, const void *buf, size_t size,
		   uint64_t *seq)
{
	struct sb_args a = { .body = &c->w };
	const void *p;
	size_t n;
	int r;

	sb_writer_reset(&c->w);
	sb_put_bytes(&c->w, buf, size);
	r = sb_call(c->c, c->service, SVC_PATH, SVC_IFACE, "Echo", &a,
		    &c->reply, -1, 0);
	if (r < 0)
		return r;
	r = sb_get_bytes(&c->reply.rd, &p, &n);
	if (r < 0 || n != size || n < sizeof(*seq))
		return -EBADMSG;
	memcpy(seq, p, sizeof(*seq));
	return 0;
}

static int b1_take_fd(struct svc_conn *c, int fd)
{
	struct sb_args a = { .body = &c->w, .fds = &fd, .n_fds = 1 };

	sb_writer_reset(&c->w);
	sb_put_fd_index(&c->w, 0);
	return sb_call(c->c, c->service, SVC_PATH, SVC_IFACE, "TakeFd", &a,
		       &c->reply, -1, 0);
}

static int b1_quit(struct svc_conn *c)
{
	return sb_call(c->c, c->service, SVC_PATH, SVC_IFACE, "Quit", NULL,
		       &c->reply, -1, 0);
}

static void b1_lose(struct svc_conn *c)
{
	sb_msg_release(&c->reply);
	/* Take the death notice of the service (gone by now) out of the way. */
	sb_dispatch(c->c);
	sb_handle_release(c->c, c->service);
	c->service = 0;
}

/* Subscribers */

static int on_tick(struct sb_conn *sc, struct sb_msg *sig, void *data)
{
	struct svc_conn *c = data;
	uint64_t seq;
	const void *p;
	size_t n;

	(void)sc;
	if (sb_get_bytes(&sig->rd, &p, &n) || n < sizeof(seq))
		svc_die("a Tick without its sequence number");
	memcpy(&seq, p, sizeof(seq));
	c->stop = c->got(seq);
	return 0;
}

static int b1_subscribe(struct svc_conn *c)
{
	return sb_subscribe(c->c, c->service, on_tick, c, &c->sub);
}

static int b1_receive(struct svc_conn *c, int (*got)(uint64_t seq))
{
	int r;

	c->got = got;
	c->stop = 0;
	while (!c->stop) {
		r = sb_process(c->c, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Service start: the client's lookup waits in the registry for the name. */
static int b1_start_prepare(struct svc_conn *c)
{
	(void)c;
	return 0;
}

const struct svc_bus svc_bus1 = {
	.name = "bus1-svc",
	.what = "the broker-free service bus of examples/service-bus on bus1 "
		"(libbus1): lookup in a registry peer, then calls straight to "
		"the service, signals as one multicast; D-Bus marshalled messages",
	.start_bus = b1_start_bus,
	.stop_bus = b1_stop_bus,
	.prepare = b1_prepare,
	.forget = b1_forget,
	.connect = b1_connect,
	.disconnect = b1_disconnect,
	.serve_setup = b1_serve_setup,
	.serve = b1_serve,
	.serve_until_subscribed = b1_serve_until_subscribed,
	.emit = b1_emit,
	.find = b1_find,
	.echo = b1_echo,
	.take_fd = b1_take_fd,
	.quit = b1_quit,
	.lose = b1_lose,
	.subscribe = b1_subscribe,
	.receive = b1_receive,
	.start_prepare = b1_start_prepare,
	.start_find = b1_find,
};
