// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The registry: well-known names to service nodes. The server is a
 * connection with one service object, the registry node, whose handle
 * every participant holds; the client side is sb_register(),
 * sb_unregister() and sb_lookup().
 *
 * Per name it keeps a handle to the service's node and owns a node of
 * its own, the name's token, which the service holds a handle to. The
 * name ends when either goes: the service's node destroyed (the service
 * is gone: the registry holds a handle to it, so it hears of it), or the
 * token released by everybody (the service let go of the name, or its
 * peer went, which releases what it held). Lookups that wait for a name
 * are calls kept until it is registered, or until their caller's reply
 * node is destroyed (the caller gave up, or is gone).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define NAMES_MAX	4096
#define WAITERS_MAX	4096

struct name {
	char *name;
	uint64_t service;	/* handle to the service's node */
	uint64_t token;		/* the registry's node for the name */
};

struct waiter {
	char *name;
	struct sb_call *call;
};

struct sb_registry {
	struct sb_conn *conn;
	struct sb_service *svc;
	struct name *names;
	unsigned int n_names, cap_names;
	struct waiter *waiters;
	unsigned int n_waiters, cap_waiters;
	bool done;
};

/*
 * A well-known name as D-Bus has them: two or more elements of
 * [A-Za-z0-9_-] joined by dots, none starting with a digit, at most 255
 * characters.
 */
static bool valid_bus_name(const char *s)
{
	size_t i, elems = 1;
	bool start = true;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (c == '.') {
			if (start)
				return false;
			elems++;
			start = true;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '_' || c == '-' || (!start && c >= '0' && c <= '9')))
			return false;
		start = false;
	}
	return !start && elems >= 2 && i <= SB_NAME_MAX;
}

static struct name *find_name(struct sb_registry *r, const char *name)
{
	unsigned int i;

	for (i = 0; i < r->n_names; i++)
		if (!strcmp(r->names[i].name, name))
			return &r->names[i];
	return NULL;
}

/* End name @n: let go of the service, destroy the token. */
static void name_remove(struct sb_registry *r, struct name *n)
{
	struct bus1_peer *peer = r->conn->peer;

	bus1_peer_release_handles(peer, &n->service, 1);
	if (!bus1_peer_destroy_nodes(peer, &n->token, 1))
		bus1_peer_release_handles(peer, &n->token, 1);
	free(n->name);
	*n = r->names[--r->n_names];
}

static void waiter_remove(struct sb_registry *r, unsigned int i)
{
	free(r->waiters[i].name);
	r->waiters[i] = r->waiters[--r->n_waiters];
}

/* Answer a lookup of @n: a handle to its service. */
static int reply_service(struct sb_conn *c, struct sb_call *call,
			 const struct name *n)
{
	struct sb_args a = { .handles = &n->service, .n_handles = 1 };

	return sb_reply(c, call, &a);
}

static int m_register(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_registry *r = data;
	struct sb_msg *m = sb_call_msg(call);
	struct sb_args a = { 0 };
	struct name *n, *grown;
	const char *name;
	uint64_t service, token;
	unsigned int i, cap;
	int e;

	if (sb_get_str(&m->rd, &name) || !valid_bus_name(name) ||
	    m->n_handles != 1)
		return sb_reply_error(c, call, SB_ERR_INVALID_ARGS,
				      "Register takes a valid name and passes one handle");
	if (find_name(r, name))
		return sb_reply_error(c, call, SB_ERR_NAME_TAKEN, name);
	if (r->n_names == NAMES_MAX)
		return sb_reply_error(c, call, SB_ERR_LIMITS, "too many names");
	if (r->n_names == r->cap_names) {
		cap = r->cap_names ? 2 * r->cap_names : 16;
		grown = realloc(r->names, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->names = grown;
		r->cap_names = cap;
	}
	e = sb_msg_take_handle(m, 0, &service);
	if (e == -EHOSTUNREACH)
		return sb_reply_error(c, call, SB_ERR_INVALID_ARGS,
				      "the service's node is gone");
	if (e < 0)
		return e;
	e = bus1_peer_node_new(c->peer, &token);
	if (e < 0) {
		bus1_peer_release_handles(c->peer, &service, 1);
		return e;
	}
	n = &r->names[r->n_names];
	n->name = strdup(name);
	if (!n->name) {
		bus1_peer_release_handles(c->peer, &service, 1);
		if (!bus1_peer_destroy_nodes(c->peer, &token, 1))
			bus1_peer_release_handles(c->peer, &token, 1);
		return -ENOMEM;
	}
	n->service = service;
	n->token = token;
	r->n_names++;

	a.handles = &token;
	a.n_handles = 1;
	e = sb_reply(c, call, &a);
	/* Then whoever waits for the name. */
	for (i = r->n_waiters; i-- > 0;) {
		if (strcmp(r->waiters[i].name, name))
			continue;
		reply_service(c, r->waiters[i].call, find_name(r, name));
		waiter_remove(r, i);
	}
	return e;
}

static int m_lookup(struct sb_conn *c, struct sb_call *call, void *data)
{
	struct sb_registry *r = data;
	struct sb_msg *m = sb_call_msg(call);
	struct waiter *grown;
	const char *name;
	struct name *n;
	unsigned int cap;
	uint32_t flags;

	if (sb_get_str(&m->rd, &name) || sb_get_u32(&m->rd, &flags) ||
	    (flags & ~SB_LOOKUP_WAIT))
		return sb_reply_error(c, call, SB_ERR_INVALID_ARGS,
				      "Lookup takes a name and flags");
	n = find_name(r, name);
	if (n)
		return reply_service(c, call, n);
	if (!(flags & SB_LOOKUP_WAIT) || !valid_bus_name(name))
		return sb_reply_error(c, call, SB_ERR_NAME_UNKNOWN, name);
	if (r->n_waiters == WAITERS_MAX)
		return sb_reply_error(c, call, SB_ERR_LIMITS, "too many waiters");
	if (r->n_waiters == r->cap_waiters) {
		cap = r->cap_waiters ? 2 * r->cap_waiters : 16;
		grown = realloc(r->waiters, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->waiters = grown;
		r->cap_waiters = cap;
	}
	r->waiters[r->n_waiters].name = strdup(name);
	if (!r->waiters[r->n_waiters].name)
		return -ENOMEM;
	r->waiters[r->n_waiters].call = sb_call_keep(call);
	if (!r->waiters[r->n_waiters].call) {
		free(r->waiters[r->n_waiters].name);
		return -ENOMEM;
	}
	r->n_waiters++;
	return SB_REPLY_LATER;
}

static const struct sb_method registry_methods[] = {
	{ "Register", "s", m_register },
	{ "Lookup", "su", m_lookup },
};

static void registry_notice(struct sb_conn *c, uint64_t type, uint64_t id,
			    void *data)
{
	struct sb_registry *r = data;
	bool found = false;
	unsigned int i;

	if (type == BUS1_MSG_NODE_RELEASE && id == sb_service_node(r->svc)) {
		/* Nobody can reach the registry any more. */
		r->done = true;
		return;
	}
	if (type == BUS1_MSG_NODE_RELEASE) {
		/* The service let go of the name, or it is gone. */
		for (i = 0; i < r->n_names; i++) {
			if (r->names[i].token == id) {
				name_remove(r, &r->names[i]);
				return;
			}
		}
		return;
	}
	/* The service is gone: every name it had ends. */
	for (i = r->n_names; i-- > 0;) {
		if (r->names[i].service == id) {
			name_remove(r, &r->names[i]);
			found = true;
		}
	}
	if (found)
		return;
	/* A waiter gave up: its reply node is gone. */
	for (i = 0; i < r->n_waiters; i++) {
		if (r->waiters[i].call->reply == id) {
			sb_call_drop(c, r->waiters[i].call);
			waiter_remove(r, i);
			return;
		}
	}
}

int sb_registry_new(struct sb_registry **rp)
{
	struct bus1_peer *peer;
	struct sb_registry *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	e = bus1_peer_new(&peer, 0);
	if (e < 0)
		goto fail;
	e = sb_conn_new(&r->conn, peer, 0);
	if (e < 0) {
		bus1_peer_free(peer);
		goto fail;
	}
	e = sb_service_new(r->conn, SB_REGISTRY_PATH, SB_REGISTRY_IFACE,
			   registry_methods,
			   sizeof(registry_methods) / sizeof(registry_methods[0]),
			   r, &r->svc);
	if (e < 0) {
		sb_conn_free(r->conn);
		goto fail;
	}
	/* Participants get handles to the registry node. */
	r->conn->registry = sb_service_node(r->svc);
	sb_conn_on_notice(r->conn, registry_notice, r);
	*rp = r;
	return 0;
fail:
	free(r);
	return e;
}

void sb_registry_free(struct sb_registry *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; i < r->n_waiters; i++)
		sb_call_drop(r->conn, r->waiters[i].call);
	while (r->n_waiters)
		waiter_remove(r, r->n_waiters - 1);
	while (r->n_names)
		name_remove(r, &r->names[r->n_names - 1]);
	sb_conn_free(r->conn);
	free(r->names);
	free(r->waiters);
	free(r);
}

void sb_registry_close(struct sb_registry *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; i < r->n_waiters; i++) {
		free(r->waiters[i].name);
		free(r->waiters[i].call);
	}
	for (i = 0; i < r->n_names; i++)
		free(r->names[i].name);
	sb_conn_close(r->conn);
	free(r->names);
	free(r->waiters);
	free(r);
}

int sb_registry_new_peer_fd(struct sb_registry *r, int *fd,
			    uint64_t *registry)
{
	return sb_conn_new_peer_fd(r->conn, fd, registry);
}

int sb_registry_fd(const struct sb_registry *r)
{
	return bus1_peer_fd(r->conn->peer);
}

unsigned int sb_registry_names(const struct sb_registry *r)
{
	return r->n_names;
}

int sb_registry_dispatch(struct sb_registry *r)
{
	return sb_dispatch(r->conn);
}

int sb_registry_run(struct sb_registry *r)
{
	int e;

	while (!r->done) {
		e = sb_process(r->conn, -1);
		if (e < 0)
			return e;
	}
	return 0;
}

/* The client side */

static int registry_error(struct sb_msg *reply)
{
	const char *name = reply->rd.error_name;

	if (!strcmp(name, SB_ERR_NAME_TAKEN))
		return -EEXIST;
	if (!strcmp(name, SB_ERR_NAME_UNKNOWN))
		return -ENOENT;
	if (!strcmp(name, SB_ERR_INVALID_ARGS))
		return -EINVAL;
	if (!strcmp(name, SB_ERR_LIMITS))
		return -EDQUOT;
	return -EREMOTEIO;
}

int sb_register(struct sb_conn *c, struct sb_service *svc, const char *name)
{
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w, .handles = &svc->node, .n_handles = 1 };
	int e;

	if (svc->token)
		return -EALREADY;
	sb_writer_init(&w);
	sb_put_str(&w, name);
	e = sb_call(c, c->registry, SB_REGISTRY_PATH, SB_REGISTRY_IFACE,
		    "Register", &a, &reply, -1, 0);
	sb_writer_free(&w);
	if (e == -EREMOTEIO)
		e = registry_error(&reply);
	else if (!e)
		e = sb_msg_take_handle(&reply, 0, &svc->token);
	sb_msg_release(&reply);
	return e;
}

int sb_unregister(struct sb_conn *c, struct sb_service *svc)
{
	int e;

	if (!svc->token)
		return -ENOENT;
	e = bus1_peer_release_handles(c->peer, &svc->token, 1);
	if (!e)
		svc->token = 0;
	return e;
}

int sb_lookup(struct sb_conn *c, const char *name, unsigned int flags,
	      int timeout_ms, uint64_t *handle)
{
	struct sb_msg reply = { 0 };
	struct sb_writer w;
	struct sb_args a = { .body = &w };
	int e;

	sb_writer_init(&w);
	sb_put_str(&w, name);
	sb_put_u32(&w, flags);
	e = sb_call(c, c->registry, SB_REGISTRY_PATH, SB_REGISTRY_IFACE,
		    "Lookup", &a, &reply, timeout_ms, 0);
	sb_writer_free(&w);
	if (e == -EREMOTEIO)
		e = registry_error(&reply);
	else if (!e)
		e = sb_msg_take_handle(&reply, 0, handle);
	sb_msg_release(&reply);
	return e;
}
