// SPDX-License-Identifier: GPL-2.0
/*
 * svcbench on D-Bus: clients and the service on sd-bus (libsystemd),
 * through dbus-broker or dbus-daemon, as Debian ships them. The bus
 * process is the broker, started here without systemd:
 *
 *  - dbus-broker through its launcher, dbus-broker-launch, given the
 *    listening socket by socket activation (LISTEN_FDS, LISTEN_PID) as
 *    systemd would; the launcher logs to the journal's socket, which is
 *    a socket of ours here, and connects to the bus it runs itself
 *    (DBUS_SESSION_BUS_ADDRESS);
 *  - dbus-daemon --nofork with an --address.
 *
 * Both read the same configuration (SVC_CONF, or $SVCBENCH_CONF): a
 * session bus that lets everybody own and send anything, with limits
 * high enough for 64 subscribers of one user.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>
#include "svc.h"

#define SVC_CONF	"/etc/svcbench/bus.conf"	/* bench/svc/bus.conf */
#define RUN_DIR		"/run/svcbench"
#define JOURNAL_DIR	"/run/systemd/journal"
#define JOURNAL		JOURNAL_DIR "/socket"
#define BUS_SOCK	RUN_DIR "/bus.sock"
#define NOC_MATCH	"type='signal',sender='org.freedesktop.DBus'," \
			"path='/org/freedesktop/DBus',interface='org.freedesktop.DBus'," \
			"member='NameOwnerChanged',arg0='" SVC_NAME "'"

struct svc_conn {
	sd_bus *bus;
	int quit;
	int stop;
	int appeared;
	int (*got)(uint64_t seq);
};

static pid_t broker_pid, journal_pid;
static char conf_arg[256] = "--config-file=" SVC_CONF;
static const char *address = "unix:path=" BUS_SOCK;

/* The broker */

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int listen_unix(int type, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(fd, 256))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void stop_journal(void);

/*
 * The journal's socket, for dbus-broker-launch and dbus-broker to log
 * to: its messages of priority warning and above go to the console, the
 * rest is read and dropped, so that no logger ever waits for room.
 */
static int start_journal(void)
{
	char buf[8192], *msg, *end;
	int fd, prio;
	ssize_t n;

	mkdir("/run/systemd", 0755);
	mkdir(JOURNAL_DIR, 0755);
	fd = listen_unix(SOCK_DGRAM, JOURNAL);
	if (fd < 0)
		return -1;
	journal_pid = fork();
	if (journal_pid < 0)
		return -1;
	if (journal_pid) {
		close(fd);
		atexit(stop_journal);
		return 0;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		msg = strstr(buf, "MESSAGE=");
		prio = strncmp(buf, "PRIORITY=", 9) ? 6 : buf[9] - '0';
		if (!msg || prio > 4)
			continue;
		end = strchr(msg, '\n');
		if (end)
			*end = 0;
		printf("BENCH-NOTE journal: %s\n", msg + 8);
		fflush(stdout);
	}
}

/* Wait up to 60 s until the bus answers a Hello. */
static const char *wait_ready(void)
{
	sd_bus *bus;
	int i, r, st;

	for (i = 0; i < 6000; i++) {
		if (waitpid(broker_pid, &st, WNOHANG) == broker_pid) {
			broker_pid = 0;
			return "the broker exited";
		}
		r = sd_bus_new(&bus);
		if (r < 0)
			return "sd_bus_new failed";
		sd_bus_set_address(bus, address);
		sd_bus_set_bus_client(bus, 1);
		r = sd_bus_start(bus);
		if (r >= 0)
			r = sd_bus_get_unique_name(bus, &(const char *){ NULL });
		sd_bus_flush_close_unref(bus);
		if (r >= 0)
			return NULL;
		usleep(10000);
	}
	return "the broker did not answer in 60 s";
}

static const char *conf(void)
{
	const char *c = getenv("SVCBENCH_CONF");

	return c ? c : SVC_CONF;
}

static const char *start_broker(const char *const *argv, int cpu,
				bool socket_activation)
{
	int fd = -1;

	if (access(argv[0], X_OK))
		return "not installed in this guest";
	if (access(conf(), R_OK))
		return "no bus configuration (" SVC_CONF ")";
	mkdir("/run", 0755);
	mkdir(RUN_DIR, 0755);
	if (socket_activation) {
		if (!journal_pid && start_journal())
			return "cannot create the journal's socket";
		fd = listen_unix(SOCK_STREAM, BUS_SOCK);
		if (fd < 0)
			return "cannot listen on " BUS_SOCK;
	}
	fflush(NULL);
	broker_pid = fork();
	if (broker_pid < 0)
		return "fork failed";
	if (!broker_pid) {
		char pid[16];

		pin(cpu);
		if (socket_activation) {
			/* sd_listen_fds(): fd 3 on, LISTEN_PID ours. */
			if (fd == 3 ? fcntl(fd, F_SETFD, 0) : dup2(fd, 3) != 3)
				_exit(126);
			snprintf(pid, sizeof(pid), "%d", getpid());
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", pid, 1);
			setenv("DBUS_SESSION_BUS_ADDRESS", address, 1);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (fd >= 0)
		close(fd);
	return wait_ready();
}

static const char *broker_start(int cpu)
{
	const char *argv[] = {
		"/usr/bin/dbus-broker-launch", "--scope", "user",
		"--config-file", conf(), NULL,
	};

	return start_broker(argv, cpu, true);
}

static const char *daemon_start(int cpu)
{
	const char *argv[] = {
		"/usr/bin/dbus-daemon", conf_arg, "--nofork", "--nopidfile",
		"--nosyslog", "--address=unix:path=" BUS_SOCK, NULL,
	};

	snprintf(conf_arg, sizeof(conf_arg), "--config-file=%s", conf());
	return start_broker(argv, cpu, false);
}

static void stop_bus(void)
{
	int st;

	if (broker_pid) {
		kill(broker_pid, SIGTERM);
		waitpid(broker_pid, &st, 0);
		broker_pid = 0;
	}
	unlink(BUS_SOCK);
}

/* At the driver's exit: the broker's children may log until they end. */
static void stop_journal(void)
{
	int st;

	if (journal_pid > 0 && getpid() != journal_pid) {
		kill(journal_pid, SIGKILL);
		waitpid(journal_pid, &st, 0);
		journal_pid = 0;
	}
}

static int no_prepare(struct svc_conn *from, int *seat, uint64_t *arg)
{
	(void)from;
	*seat = -1;
	*arg = 0;
	return 0;
}

static void no_forget(int seat)
{
	(void)seat;
}

/* A connection: connect, authenticate, Hello. */
static struct svc_conn *d_connect(int seat, uint64_t arg)
{
	struct svc_conn *c = calloc(1, sizeof(*c));
	const char *unique;

	(void)seat;
	(void)arg;
	if (!c)
		return NULL;
	if (sd_bus_new(&c->bus) < 0)
		goto fail;
	if (sd_bus_set_address(c->bus, address) < 0 ||
	    sd_bus_set_bus_client(c->bus, 1) < 0 ||
	    sd_bus_negotiate_fds(c->bus, 1) < 0 ||
	    sd_bus_start(c->bus) < 0 ||
	    sd_bus_get_unique_name(c->bus, &unique) < 0) {
		sd_bus_unref(c->bus);
		goto fail;
	}
	return c;
fail:
	free(c);
	return NULL;
}

static void d_disconnect(struct svc_conn *c)
{
	sd_bus_flush_close_unref(c->bus);
	free(c);
}

/* Process until @flag is set. */
static int run_until(struct svc_conn *c, const int *flag)
{
	int r;

	while (!*flag) {
		r = sd_bus_process(c->bus, NULL);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		r = sd_bus_wait(c->bus, UINT64_MAX);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

/* The service */

static int m_echo(sd_bus_message *m, void *data, sd_bus_error *err)
{
	sd_bus_message *reply = NULL;
	const void *p;
	size_t n;
	int r;

	(void)data;
	(void)err;
	r = sd_bus_message_read_array(m, 'y', &p, &n);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', p, n);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

/* The fd belongs to the message, which closes it when it is freed. */
static int m_take_fd(sd_bus_message *m, void *data, sd_bus_error *err)
{
	int fd, r;

	(void)data;
	(void)err;
	r = sd_bus_message_read(m, "h", &fd);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

static int m_quit(sd_bus_message *m, void *data, sd_bus_error *err)
{
	struct svc_conn *c = data;

	(void)err;
	c->quit = 1;
	return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Echo", "ay", "ay", m_echo, 0),
	SD_BUS_METHOD("TakeFd", "h", "", m_take_fd, 0),
	SD_BUS_METHOD("Quit", "", "", m_quit, 0),
	SD_BUS_VTABLE_END
};

static int d_serve_setup(struct svc_conn *c)
{
	int r;

	r = sd_bus_add_object_vtable(c->bus, NULL, SVC_PATH, SVC_IFACE, vtable, c);
	if (r >= 0)
		r = sd_bus_request_name(c->bus, SVC_NAME, 0);
	return r < 0 ? r : 0;
}

static int d_serve(struct svc_conn *c)
{
	int r = run_until(c, &c->quit);

	/* The answer to Quit leaves before the process does. */
	if (r >= 0)
		r = sd_bus_flush(c->bus);
	return r < 0 ? r : 0;
}

/*
 * Subscribers subscribe with the broker (AddMatch), not with the
 * service: nothing to wait for here; the driver's barrier does.
 */
static int d_serve_until_subscribed(struct svc_conn *c, int k)
{
	(void)c;
	(void)k;
	return 0;
}

static int d_emit(struct svc_conn *c, const void *buf, size_t size)
{
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_signal(c->bus, &m, SVC_PATH, SVC_IFACE, "Tick");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', buf, size);
	if (r >= 0)
		r = sd_bus_send(c->bus, m, NULL);
	sd_bus_message_unref(m);
	/* Written out before the emitter waits. */
	if (r >= 0)
		r = sd_bus_flush(c->bus);
	return r < 0 ? r : 0;
}

/* The client */

/* Wait until the name has an owner: ask the bus until it has. */
static int d_find(struct svc_conn *c)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int i, r;

	for (i = 0; i < 60000; i++) {
		r = sd_bus_call_method(c->bus, "org.freedesktop.DBus",
				       "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "GetNameOwner",
				       &err, &reply, "s", SVC_NAME);
		sd_bus_error_free(&err);
		sd_bus_message_unref(reply);
		reply = NULL;
		if (r >= 0)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static int d_call(struct svc_conn *c, const char *member, const void *buf,
		  size_t size, int fd, uint64_t *seq)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	const void *p;
	size_t n;
	int r;

	r = sd_bus_message_new_method_call(c->bus, &m, SVC_NAME, SVC_PATH,
					   SVC_IFACE, member);
	if (r >= 0 && buf)
		r = sd_bus_message_append_array(m, 'y', buf, size);
	if (r >= 0 && fd >= 0)
		r = sd_bus_message_append(m, "h", fd);
	if (r >= 0)
		r = sd_bus_call(c->bus, m, 0, &err, &reply);
	if (r >= 0 && seq) {
		r = sd_bus_message_read_array(reply, 'y', &p, &n);
		if (r >= 0 && (n != size || n < sizeof(*seq)))
			r = -EBADMSG;
		if (r >= 0)
			memcpy(seq, p, sizeof(*seq));
	}
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r < 0 ? r : 0;
}

static int d_echo(struct svc_conn *c, const void *buf, size_t size,
		  uint64_t *seq)
{
	return d_call(c, "Echo", buf, size, -1, seq);
}

static int d_take_fd(struct svc_conn *c, int fd)
{
	return d_call(c, "TakeFd", NULL, 0, fd, NULL);
}

static int d_quit(struct svc_conn *c)
{
	return d_call(c, "Quit", NULL, 0, -1, NULL);
}

static void d_lose(struct svc_conn *c)
{
	(void)c;
}

/* Subscribers */

static int on_tick(sd_bus_message *m, void *data, sd_bus_error *err)
{
	struct svc_conn *c = data;
	uint64_t seq;
	const void *p;
	size_t n;

	(void)err;
	if (sd_bus_message_read_array(m, 'y', &p, &n) < 0 || n < sizeof(seq))
		svc_die("a Tick without its sequence number");
	memcpy(&seq, p, sizeof(seq));
	c->stop = c->got(seq);
	return 0;
}

static int d_subscribe(struct svc_conn *c)
{
	/* AddMatch, answered by the broker before this returns. */
	int r = sd_bus_match_signal(c->bus, NULL, SVC_NAME, SVC_PATH, SVC_IFACE,
				    "Tick", on_tick, c);

	return r < 0 ? r : 0;
}

static int d_receive(struct svc_conn *c, int (*got)(uint64_t seq))
{
	c->got = got;
	c->stop = 0;
	return run_until(c, &c->stop);
}

/* Service start: NameOwnerChanged tells the client the service is there. */

static int on_owner(sd_bus_message *m, void *data, sd_bus_error *err)
{
	struct svc_conn *c = data;
	const char *name, *old, *new;

	(void)err;
	if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && new[0])
		c->appeared = 1;
	return 0;
}

static int d_start_prepare(struct svc_conn *c)
{
	int r = sd_bus_add_match(c->bus, NULL, NOC_MATCH, on_owner, c);

	return r < 0 ? r : 0;
}

static int d_start_find(struct svc_conn *c)
{
	int r = run_until(c, &c->appeared);

	c->appeared = 0;
	return r;
}

#define DBUS_OPS \
	.stop_bus = stop_bus, \
	.prepare = no_prepare, \
	.forget = no_forget, \
	.connect = d_connect, \
	.disconnect = d_disconnect, \
	.serve_setup = d_serve_setup, \
	.serve = d_serve, \
	.serve_until_subscribed = d_serve_until_subscribed, \
	.emit = d_emit, \
	.find = d_find, \
	.echo = d_echo, \
	.take_fd = d_take_fd, \
	.quit = d_quit, \
	.lose = d_lose, \
	.subscribe = d_subscribe, \
	.receive = d_receive, \
	.start_prepare = d_start_prepare, \
	.start_find = d_start_find

const struct svc_bus svc_dbus_broker = {
	.name = "dbus-broker",
	.what = "D-Bus through dbus-broker (dbus-broker-launch, socket-activated "
		"by the bench), sd-bus clients and service",
	.start_bus = broker_start,
	DBUS_OPS,
};

const struct svc_bus svc_dbus_daemon = {
	.name = "dbus-daemon",
	.what = "D-Bus through dbus-daemon --nofork, sd-bus clients and service",
	.start_bus = daemon_start,
	DBUS_OPS,
};
