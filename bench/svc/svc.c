// SPDX-License-Identifier: GPL-2.0
/*
 * svcbench: a service workload on the bus1 service bus and on D-Bus
 * (dbus-broker, dbus-daemon), in the same boot as bench/bench. Prints
 * the same CSV lines as bench/bench ("CSV,...") for scripts/bench.sh.
 *
 *   svcbench [-r LABEL] [-w WORKLOADS] [-m BUSES] [-s SCALE] [-z SIZE]
 *
 * WORKLOADS, comma-separated (others are bench/bench's and ignored):
 *   svc-call    method call round trip, Echo(ay) of 8 B, 4 KiB, 64 KiB
 *               (the same bytes back)
 *   svc-signal  one signal Tick(ay) of 8 B to k = 1, 16, 64 subscribers,
 *               the time until every subscriber has it
 *   svc-fd      a call that passes one fd, TakeFd(h); the service closes it
 *   svc-start   start a service process, which connects and registers
 *               its name, until the client has the answer of its first
 *               Echo of 8 B
 *
 * Processes are pinned as bench/bench pins them: the client (or the
 * emitter of signals) on CPU 0, the service on CPU 1, the bus process (a
 * broker, or bus1's registry) on CPU 2, each modulo the CPUs there are;
 * subscribers on CPUs 1 to n-1. Every process is forked, none is
 * exec'd, but the brokers.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
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
#include "svc.h"

static const struct svc_bus *const buses[] = {
	&svc_bus1, &svc_dbus_broker, &svc_dbus_daemon,
};
static const size_t call_sizes[] = { 8, 4096, 65536 };
static const int fanouts[] = { 1, 16, 64 };

#define MAX_SAMPLES	(1U << 16)
#define MAX_KIDS	70
#define POINT_TIMEOUT	600	/* seconds of guest time for one point */
#define SIZE_MAX_SVC	(64U << 10)

struct shm {
	_Atomic uint32_t count[2], gen[2];	/* barriers */
	_Atomic uint32_t got;			/* signals delivered */
	uint64_t ns[MAX_SAMPLES];
};

static struct {
	const char *workload;
	const struct svc_bus *bus;
	size_t size;
	int k, n, warm;
} cur;

static const char *label = "run";
static const char *only_buses;
static size_t only_size;
static double scale = 1.0;
static int ncpu;
static struct shm *shm;
static unsigned char *txbuf;
static pid_t kids[MAX_KIDS];
static int nkids;

void svc_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "svcbench: %s %s %zu k=%d: ", cur.workload ? cur.workload : "",
		cur.bus ? cur.bus->name : "", cur.size, cur.k);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % ncpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		svc_die("sched_setaffinity(%d): %m", cpu);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

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

/* Children */

static void spawn(void (*fn)(int), int arg)
{
	pid_t pid;

	if (nkids == MAX_KIDS)
		svc_die("too many processes");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		svc_die("fork: %m");
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
				continue;	/* a broker's process */
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

static void emit_csv(const char *status)
{
	double median = 0, p99 = 0;

	if (!strcmp(status, "ok")) {
		qsort(shm->ns, cur.n, sizeof(shm->ns[0]), cmp_u64);
		median = shm->ns[cur.n / 2];
		p99 = shm->ns[(int)ceil(0.99 * cur.n) - 1];
	}
	printf("CSV,%s,%s,%s,%zu,%d,%s,%u,%d,%.1f,%.1f,%s\n", label, cur.workload,
	       cur.bus->name, cur.size, cur.k, "read", 1, cur.n, median, p99,
	       status);
}

static int count(int base)
{
	int n = base * scale;

	n = n < 20 ? 20 : n;
	return n > (int)MAX_SAMPLES ? (int)MAX_SAMPLES : n;
}

static void put_seq(uint64_t seq)
{
	memcpy(txbuf, &seq, sizeof(seq));
}

/* The seats the driver prepared for its children, and their number. */
static int seats[MAX_KIDS];
static uint64_t seat_args[MAX_KIDS];
static int n_seats;

static struct svc_conn *connect_seat(int seat, uint64_t arg)
{
	struct svc_conn *c = cur.bus->connect(seat, arg);

	if (!c)
		svc_die("connect failed");
	return c;
}

/* Child @idx of the driver: connect through its seat, drop the others. */
static struct svc_conn *join(int idx)
{
	int i;

	for (i = 0; i < n_seats; i++)
		if (i != idx && seats[i] >= 0)
			cur.bus->forget(seats[i]);
	return connect_seat(seats[idx], seat_args[idx]);
}

/* Processes of the call workloads */

static void service_proc(int idx)
{
	const struct svc_bus *b = cur.bus;
	struct svc_conn *c;
	int r;

	pin_cpu(1);
	c = join(idx);
	r = b->serve_setup(c);
	if (r)
		svc_die("serve_setup failed: %s", strerror(-r));
	r = b->serve(c);
	if (r)
		svc_die("serve failed: %s", strerror(-r));
	b->disconnect(c);
}

static void call_client(int idx)
{
	const struct svc_bus *b = cur.bus;
	struct svc_conn *c;
	uint64_t t0, seq;
	int i, pfd[2] = { -1, -1 };

	pin_cpu(0);
	c = join(idx);
	if (b->find(c))
		svc_die("find failed");
	if (!strcmp(cur.workload, "svc-fd") && pipe(pfd))
		svc_die("pipe: %m");
	for (i = 0; i < cur.warm + cur.n; i++) {
		t0 = now_ns();
		if (pfd[0] >= 0) {
			if (b->take_fd(c, pfd[0]))
				svc_die("TakeFd %d failed", i);
		} else {
			put_seq(i);
			if (b->echo(c, txbuf, cur.size, &seq))
				svc_die("Echo %d failed", i);
			if (seq != (uint64_t)i)
				svc_die("reply %d carries %llu", i,
					(unsigned long long)seq);
		}
		if (i >= cur.warm)
			shm->ns[i - cur.warm] = now_ns() - t0;
	}
	if (b->quit(c))
		svc_die("Quit failed");
	b->disconnect(c);
}

/* Prepare seats 0..n-1 for the children, in the driver. */
static const char *prepare_seats(int n)
{
	for (n_seats = 0; n_seats < n; n_seats++) {
		if (cur.bus->prepare(NULL, &seats[n_seats], &seat_args[n_seats])) {
			while (n_seats-- > 0)
				cur.bus->forget(seats[n_seats]);
			n_seats = 0;
			return "setup-failed";
		}
	}
	return NULL;
}

static void forget_seats(void)
{
	while (n_seats-- > 0)
		cur.bus->forget(seats[n_seats]);
	n_seats = 0;
}

static void point_call(size_t size, int base)
{
	const char *err;

	cur.size = size;
	cur.k = 1;
	cur.n = count(base);
	cur.warm = cur.n / 10;
	err = prepare_seats(2);
	if (!err) {
		spawn(service_proc, 0);
		spawn(call_client, 1);
		forget_seats();
		err = reap();
	}
	emit_csv(err ? err : "ok");
}

/* Signals: the service emits, k subscribers count */

static void emitter_proc(int idx)
{
	const struct svc_bus *b = cur.bus;
	uint32_t target, v;
	struct svc_conn *c;
	uint64_t t0;
	int i;

	pin_cpu(0);
	c = join(idx);
	if (b->serve_setup(c))
		svc_die("serve_setup failed");
	if (b->serve_until_subscribed(c, cur.k))
		svc_die("waiting for subscribers failed");
	barrier(0, cur.k + 1);
	for (i = 0; i < cur.warm + cur.n; i++) {
		target = (uint32_t)(i + 1) * cur.k;
		t0 = now_ns();
		put_seq(i);
		if (b->emit(c, txbuf, cur.size))
			svc_die("emit %d failed", i);
		while ((v = atomic_load(&shm->got)) < target)
			futex(&shm->got, FUTEX_WAIT, v);
		if (i >= cur.warm)
			shm->ns[i - cur.warm] = now_ns() - t0;
	}
	b->disconnect(c);
}

static uint64_t expected;

static int got_signal(uint64_t seq)
{
	uint32_t v;

	if (seq != expected)
		svc_die("signal %llu carries %llu", (unsigned long long)expected,
			(unsigned long long)seq);
	expected++;
	v = atomic_fetch_add(&shm->got, 1) + 1;
	if (v % cur.k == 0)
		futex(&shm->got, FUTEX_WAKE, 1);
	return expected == (uint64_t)(cur.warm + cur.n);
}

static void subscriber_proc(int idx)
{
	const struct svc_bus *b = cur.bus;
	struct svc_conn *c;

	pin_cpu(ncpu > 1 ? 1 + (idx - 1) % (ncpu - 1) : 0);
	c = join(idx);
	if (b->find(c) || b->subscribe(c))
		svc_die("subscribing failed");
	barrier(0, cur.k + 1);
	if (b->receive(c, got_signal))
		svc_die("receiving failed");
	b->disconnect(c);
}

static void point_signal(int k, int base)
{
	const char *err;
	int i;

	cur.size = 8;
	cur.k = k;
	cur.n = count(base);
	cur.warm = cur.n / 10;
	atomic_store(&shm->count[0], 0);
	atomic_store(&shm->got, 0);
	err = prepare_seats(k + 1);
	if (!err) {
		spawn(emitter_proc, 0);
		for (i = 1; i <= k; i++)
			spawn(subscriber_proc, i);
		forget_seats();
		err = reap();
	}
	emit_csv(err ? err : "ok");
}

/* Service start */

static void start_client(int idx)
{
	const struct svc_bus *b = cur.bus;
	struct svc_conn *c, *s;
	uint64_t t0, seq, arg;
	int i, seat, st;
	pid_t pid;

	pin_cpu(0);
	c = join(idx);
	if (b->start_prepare(c))
		svc_die("start_prepare failed");
	for (i = 0; i < cur.warm + cur.n; i++) {
		t0 = now_ns();
		if (b->prepare(c, &seat, &arg))
			svc_die("prepare failed");
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			svc_die("fork: %m");
		if (!pid) {
			pin_cpu(1);
			s = connect_seat(seat, arg);
			if (b->serve_setup(s) || b->serve(s))
				svc_die("service failed");
			b->disconnect(s);
			_exit(0);
		}
		b->forget(seat);
		if (b->start_find(c))
			svc_die("start_find %d failed", i);
		put_seq(i);
		if (b->echo(c, txbuf, 8, &seq) || seq != (uint64_t)i)
			svc_die("first Echo %d failed", i);
		if (i >= cur.warm)
			shm->ns[i - cur.warm] = now_ns() - t0;
		if (b->quit(c))
			svc_die("Quit %d failed", i);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			svc_die("service %d failed", i);
		b->lose(c);
	}
	b->disconnect(c);
}

static void point_start(int base)
{
	const char *err;

	cur.size = 8;
	cur.k = 1;
	cur.n = count(base);
	cur.warm = cur.n / 10 > 2 ? cur.n / 10 : 2;
	err = prepare_seats(1);
	if (!err) {
		spawn(start_client, 0);
		forget_seats();
		err = reap();
	}
	emit_csv(err ? err : "ok");
}

static int wanted(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

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

static void run_bus(const struct svc_bus *b, const char *work)
{
	const char *why;
	unsigned int i;

	cur.bus = b;
	cur.workload = "start";
	why = b->start_bus(2);
	if (why) {
		static const char *const all[] = {
			"svc-call", "svc-signal", "svc-fd", "svc-start",
		};

		printf("INFO,%s,unavailable,%s: %s\n", label, b->name, why);
		cur.size = 8;
		cur.k = 1;
		cur.n = 0;
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			cur.workload = all[i];
			if (wanted(work, cur.workload))
				emit_csv("unavailable");
		}
		cur.bus = NULL;
		return;
	}
	if (wanted(work, "svc-call")) {
		cur.workload = "svc-call";
		for (i = 0; i < sizeof(call_sizes) / sizeof(call_sizes[0]); i++)
			if (!only_size || only_size == call_sizes[i])
				point_call(call_sizes[i],
					   call_sizes[i] > 4096 ? 300 : 1000);
	}
	if (wanted(work, "svc-signal")) {
		cur.workload = "svc-signal";
		for (i = 0; i < sizeof(fanouts) / sizeof(fanouts[0]); i++)
			point_signal(fanouts[i], fanouts[i] > 16 ? 100 : 200);
	}
	if (wanted(work, "svc-fd")) {
		cur.workload = "svc-fd";
		point_call(8, 1000);
	}
	if (wanted(work, "svc-start")) {
		cur.workload = "svc-start";
		point_start(50);
	}
	b->stop_bus();
	cur.bus = NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: svcbench [-r LABEL] [-w svc-call,svc-signal,svc-fd,svc-start]"
		" [-m BUS,...] [-s SCALE] [-z SIZE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *work = "svc-call,svc-signal,svc-fd,svc-start";
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
			only_buses = optarg;
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
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	txbuf = malloc(SIZE_MAX_SVC);
	if (shm == MAP_FAILED || !txbuf)
		svc_die("out of memory");
	memset(txbuf, 0x5a, SIZE_MAX_SVC);

	for (i = 0; i < sizeof(buses) / sizeof(buses[0]); i++)
		if (wanted(only_buses, buses[i]->name))
			printf("MECH,%s,%s\n", buses[i]->name, buses[i]->what);
	for (i = 0; i < sizeof(buses) / sizeof(buses[0]); i++)
		if (wanted(only_buses, buses[i]->name))
			run_bus(buses[i], work);
	printf("INFO,%s,done,%s\n", label, work);
	return 0;
}
