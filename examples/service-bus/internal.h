/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * svcbus internals: the objects behind the opaque types, shared by
 * conn.c and registry.c.
 */
#ifndef SVCBUS_INTERNAL_H
#define SVCBUS_INTERNAL_H

#include "svcbus.h"

bool sb_valid_path(const char *s);
bool sb_valid_interface(const char *s);
bool sb_valid_member(const char *s);

/* A subscription: a sink node whose handle a service holds. */
struct sb_sub {
	struct sb_sub *next;
	struct sb_conn *conn;
	uint64_t node;
	sb_signal_fn fn;
	void *userdata;
};

/*
 * A service object: a node, its methods, the handles of its
 * subscribers' sinks (@dests, in subscription order, with @misses and
 * room for the per-destination @errors of a multicast), and the token of
 * the name it registered, if any.
 */
struct sb_service {
	struct sb_service *next;
	struct sb_conn *conn;
	uint64_t node;
	char *path, *iface;
	const struct sb_method *methods;
	size_t n_methods;
	void *userdata;
	uint64_t token;
	uint64_t *dests, *misses;
	int *errors, *last_error;
	unsigned int n_subs, cap_subs;
};

/*
 * A call being answered: on the dispatcher's stack while its method
 * runs, or a copy on the heap once kept.
 */
struct sb_call {
	struct sb_msg *msg;	/* NULL once kept */
	uint64_t reply;		/* the caller's reply handle, 0 if none */
	uint32_t serial;
	bool kept;		/* a copy of it lives on */
	bool answered;
};

struct sb_conn {
	struct bus1_peer *peer;
	uint64_t registry;
	uint32_t serial;
	unsigned char hdr[SB_HDR_MAX];
	struct sb_writer scratch;
	struct sb_service *services;
	struct sb_sub *subs;
	sb_notice_fn notice;
	void *notice_data;
	struct sb_msg in;	/* the last entry received by sb_process() */
};

uint32_t sb_next_serial(struct sb_conn *c);

#endif /* SVCBUS_INTERNAL_H */
