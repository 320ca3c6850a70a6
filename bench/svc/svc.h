/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svcbench: one service workload on three buses, the broker-free service
 * bus of examples/service-bus on bus1 (bus1.c) and D-Bus through
 * dbus-broker and dbus-daemon with sd-bus clients (dbus.c). What the
 * driver (svc.c) and the buses share.
 *
 * The workload: a service "org.bus1.Bench" at /org/bus1/Bench, interface
 * org.bus1.Bench, with the methods Echo(ay) -> ay, TakeFd(h) and Quit(),
 * and the signal Tick(ay). Every payload starts with a 64-bit sequence
 * number that its receiver checks.
 */
#ifndef SVC_H
#define SVC_H

#include <stddef.h>
#include <stdint.h>

#define SVC_NAME	"org.bus1.Bench"
#define SVC_PATH	"/org/bus1/Bench"
#define SVC_IFACE	"org.bus1.Bench"

struct svc_conn;	/* one process's connection, private to the bus */

struct svc_bus {
	const char *name;
	const char *what;
	/* In the driver, once per boot: start the bus (a broker or the
	 * registry) pinned to @cpu; NULL, or why it cannot run here. */
	const char *(*start_bus)(int cpu);
	void (*stop_bus)(void);
	/*
	 * Before a fork, in the driver (@from NULL) or in a connected
	 * process: what the child needs to connect (bus1: a new peer with
	 * a handle to the registry, its fd in *@seat). forget() closes it
	 * in the parent after the fork; connect() uses it in the child.
	 */
	int (*prepare)(struct svc_conn *from, int *seat, uint64_t *arg);
	void (*forget)(int seat);
	struct svc_conn *(*connect)(int seat, uint64_t arg);
	void (*disconnect)(struct svc_conn *c);

	/* The service: create its object and register SVC_NAME. */
	int (*serve_setup)(struct svc_conn *c);
	/* Answer calls until Quit. */
	int (*serve)(struct svc_conn *c);
	/* Answer calls until @k subscribers are there. */
	int (*serve_until_subscribed)(struct svc_conn *c, int k);
	/* Emit Tick with @size bytes at @buf to the subscribers. */
	int (*emit)(struct svc_conn *c, const void *buf, size_t size);

	/* The client: find the service (waiting for its name). */
	int (*find)(struct svc_conn *c);
	/* Call Echo with @size bytes at @buf; *@seq: the reply's first 8. */
	int (*echo)(struct svc_conn *c, const void *buf, size_t size,
		    uint64_t *seq);
	/* Call TakeFd passing @fd. */
	int (*take_fd)(struct svc_conn *c, int fd);
	int (*quit)(struct svc_conn *c);
	/*
	 * Forget the service found (its process is gone or about to go),
	 * for the next find().
	 */
	void (*lose)(struct svc_conn *c);

	/*
	 * A subscriber: subscribe to Tick of the service found, then for
	 * each signal call @got with its sequence number, until it returns
	 * non-zero.
	 */
	int (*subscribe)(struct svc_conn *c);
	int (*receive)(struct svc_conn *c, int (*got)(uint64_t seq));

	/*
	 * Service start, in the client: before the clock starts, get ready
	 * to see the service appear (D-Bus: a match on NameOwnerChanged);
	 * after the fork, wait for it and find it.
	 */
	int (*start_prepare)(struct svc_conn *c);
	int (*start_find)(struct svc_conn *c);
};

extern const struct svc_bus svc_bus1, svc_dbus_broker, svc_dbus_daemon;

void svc_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif /* SVC_H */
