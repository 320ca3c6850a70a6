// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Connections: received messages and what they own, calls and their
 * answers, service objects, signals and subscriptions, dispatch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define NO_REPLY_EXPECTED	0x1	/* D-Bus header flag */
#define ERR_UNKNOWN_OBJECT	"org.freedesktop.DBus.Error.UnknownObject"
#define ERR_UNKNOWN_IFACE	"org.freedesktop.DBus.Error.UnknownInterface"

uint32_t sb_next_serial(struct sb_conn *c)
{
	if (!++c->serial)
		c->serial = 1;
	return c->serial;
}

/* Received messages */

static bool bit_test(const uint64_t *map, size_t i)
{
	return map[i / 64] & (1ULL << (i % 64));
}

static void bit_set(uint64_t *map, size_t i)
{
	map[i / 64] |= 1ULL << (i % 64);
}

/* Release the handles and close the fds that @m passed and nobody took. */
static void msg_drop_caps(struct sb_msg *m)
{
	uint64_t ids[SB_PASS_MAX];
	size_t i, n = 0;

	for (i = 0; i < m->n_handles; i++)
		if (!bit_test(m->_taken_handles, i) &&
		    m->handles[i] != BUS1_HANDLE_INVALID)
			ids[n++] = m->handles[i];
	if (n && m->_conn)
		bus1_peer_release_handles(m->_conn->peer, ids, n);
	for (i = 0; i < m->n_fds; i++)
		if (!bit_test(m->_taken_fds, i) && m->fds[i] >= 0)
			close(m->fds[i]);
	m->handles = NULL;
	m->fds = NULL;
	m->n_handles = 0;
	m->n_fds = 0;
	memset(m->_taken_handles, 0, sizeof(m->_taken_handles));
	memset(m->_taken_fds, 0, sizeof(m->_taken_fds));
}

void sb_msg_release(struct sb_msg *m)
{
	msg_drop_caps(m);
	bus1_msg_release(&m->raw);
	memset(&m->rd, 0, sizeof(m->rd));
	m->_conn = NULL;
}

int sb_msg_take_handle(struct sb_msg *m, size_t i, uint64_t *id)
{
	if (i >= m->n_handles || bit_test(m->_taken_handles, i))
		return -ENOENT;
	if (m->handles[i] == BUS1_HANDLE_INVALID)
		return -EHOSTUNREACH;	/* its node was gone when it came */
	bit_set(m->_taken_handles, i);
	*id = m->handles[i];
	return 0;
}

int sb_msg_take_fd(struct sb_msg *m, size_t i)
{
	if (i >= m->n_fds || bit_test(m->_taken_fds, i))
		return -ENOENT;
	if (m->fds[i] < 0)
		return -EBADF;		/* not installed */
	bit_set(m->_taken_fds, i);
	return m->fds[i];
}

/*
 * Describe the entry in @m->raw: the capabilities it passed (from @skip
 * on: a call's reply handle is the call's) and, for a message, its
 * D-Bus content. The capabilities are @m's even if decoding fails.
 */
static int msg_decode(struct sb_conn *c, struct sb_msg *m, size_t skip)
{
	m->_conn = c;
	memset(&m->rd, 0, sizeof(m->rd));
	if (m->raw.type != BUS1_MSG_DATA)
		return 0;
	if (skip > m->raw.n_handles)
		skip = m->raw.n_handles;
	m->handles = m->raw.handles + skip;
	m->n_handles = m->raw.n_handles - skip;
	m->fds = m->raw.fds;
	m->n_fds = m->raw.n_fds;
	if (m->n_handles > SB_PASS_MAX)
		m->n_handles = SB_PASS_MAX;	/* the kernel passes no more */
	if (m->n_fds > SB_PASS_MAX)
		m->n_fds = SB_PASS_MAX;
	return sb_parse(&m->rd, m->raw.data, m->raw.size);
}

/* Sending */

static const struct sb_writer empty_body;

/* Marshal @h with @a into @c->hdr and fill @iov and @tx for the send. */
static int prepare(struct sb_conn *c, struct sb_header *h,
		   const struct sb_args *a, struct iovec *iov,
		   struct bus1_tx *tx)
{
	const struct sb_writer *body = a && a->body ? a->body : &empty_body;
	int len;

	h->serial = sb_next_serial(c);
	h->n_fds = a ? a->n_fds : 0;
	len = sb_marshal_header(c->hdr, h, body);
	if (len < 0)
		return len;
	iov[0].iov_base = c->hdr;
	iov[0].iov_len = len;
	iov[1].iov_base = body->data;
	iov[1].iov_len = body->len;
	memset(tx, 0, sizeof(*tx));
	tx->iov = iov;
	tx->n_iov = body->len ? 2 : 1;
	if (a) {
		tx->handles = a->handles;
		tx->n_handles = a->n_handles;
		tx->fds = a->fds;
		tx->n_fds = a->n_fds;
	}
	return 0;
}

/* Connections */

int sb_conn_new(struct sb_conn **cp, struct bus1_peer *peer,
		uint64_t registry)
{
	struct sb_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->peer = peer;
	c->registry = registry;
	sb_writer_init(&c->scratch);
	*cp = c;
	return 0;
}

int sb_conn_from_fd(struct sb_conn **cp, int fd, uint64_t registry)
{
	struct bus1_peer *peer;
	int r, fl;

	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	r = bus1_peer_new_from_fd(&peer, fd);
	if (r < 0)
		return r;
	r = sb_conn_new(cp, peer, registry);
	if (r < 0)
		bus1_peer_free(peer);
	return r;
}

int sb_conn_new_peer_fd(struct sb_conn *c, int *fd, uint64_t *registry)
{
	int r, nfd;

	nfd = bus1_sys_peer_create(0);
	if (nfd < 0)
		return nfd;
	r = bus1_peer_transfer(c->peer, c->registry, nfd, registry);
	if (r < 0) {
		close(nfd);
		return r;
	}
	*fd = nfd;
	return 0;
}

int sb_env_set(int fd, uint64_t registry)
{
	char v[64];

	snprintf(v, sizeof(v), "%d:%" PRIu64, fd, registry);
	return setenv(SB_ENV, v, 1) ? -errno : 0;
}

int sb_conn_from_env(struct sb_conn **cp)
{
	const char *v = getenv(SB_ENV);
	unsigned long long reg;
	int fd, n = 0;

	if (!v)
		return -ENOENT;
	if (sscanf(v, "%d:%llu%n", &fd, &reg, &n) != 2 || v[n] || fd < 0)
		return -EINVAL;
	/* The fd is this process's: its children get their own. */
	unsetenv(SB_ENV);
	return sb_conn_from_fd(cp, fd, reg);
}

struct bus1_peer *sb_conn_peer(struct sb_conn *c)
{
	return c->peer;
}

uint64_t sb_conn_registry(struct sb_conn *c)
{
	return c->registry;
}

void sb_conn_on_notice(struct sb_conn *c, sb_notice_fn fn, void *userdata)
{
	c->notice = fn;
	c->notice_data = userdata;
}

void sb_conn_free(struct sb_conn *c)
{
	if (!c)
		return;
	while (c->services)
		sb_service_free(c->services);
	while (c->subs)
		sb_sub_free(c->subs);
	sb_msg_release(&c->in);
	sb_writer_free(&c->scratch);
	bus1_peer_free(c->peer);
	free(c);
}

void sb_conn_close(struct sb_conn *c)
{
	struct sb_service *s;
	struct sb_sub *sub;

	if (!c)
		return;
	while ((s = c->services)) {
		c->services = s->next;
		free(s->dests);
		free(s->misses);
		free(s->errors);
		free(s->last_error);
		free(s->path);
		free(s->iface);
		free(s);
	}
	while ((sub = c->subs)) {
		c->subs = sub->next;
		free(sub);
	}
	/*
	 * The last view's slice stays for the other process to hand back:
	 * with the fd closed first, releasing the view only drops it.
	 */
	bus1_peer_free(c->peer);
	bus1_msg_release(&c->in.raw);
	sb_writer_free(&c->scratch);
	free(c);
}

int sb_handle_release(struct sb_conn *c, uint64_t handle)
{
	return bus1_peer_release_handles(c->peer, &handle, 1);
}

/* Calls, the caller's side */

int sb_call(struct sb_conn *c, uint64_t dest, const char *path,
	    const char *iface, const char *member, const struct sb_args *args,
	    struct sb_msg *reply, int timeout_ms, unsigned int flags)
{
	struct sb_header h = {
		.type = SB_MSG_CALL,
		.path = path,
		.interface = iface,
		.member = member,
	};
	struct sb_msg none = { 0 };
	struct iovec iov[2];
	struct bus1_tx tx;
	int r;

	if (!reply)
		reply = &none;
	sb_msg_release(reply);
	r = prepare(c, &h, args, iov, &tx);
	if (r < 0)
		return r;
	r = bus1_peer_call(c->peer, dest, &tx, &reply->raw, timeout_ms, flags);
	if (r < 0)
		return r;
	r = msg_decode(c, reply, 0);
	if (r < 0 || reply->rd.reply_serial != h.serial ||
	    (reply->rd.type != SB_MSG_RETURN && reply->rd.type != SB_MSG_ERROR))
		r = -EBADMSG;
	else
		r = reply->rd.type == SB_MSG_ERROR ? -EREMOTEIO : 0;
	if (r == -EBADMSG || reply == &none)
		sb_msg_release(reply);
	return r;
}

const char *sb_error_message(struct sb_msg *reply)
{
	struct sb_reader rd = reply->rd;
	const char *s;

	if (rd.type != SB_MSG_ERROR)
		return "";
	rd.pos = 0;
	rd.sig_pos = 0;
	if (rd.signature[0] != 's' || sb_get_str(&rd, &s))
		return "";
	return s;
}

/* Calls, the callee's side */

struct sb_msg *sb_call_msg(struct sb_call *call)
{
	return call->msg;
}

struct sb_call *sb_call_keep(struct sb_call *call)
{
	struct sb_call *k;

	if (call->kept || call->answered)
		return NULL;
	k = malloc(sizeof(*k));
	if (!k)
		return NULL;
	*k = *call;
	k->msg = NULL;
	k->kept = true;
	call->kept = true;	/* the dispatcher leaves the reply handle */
	return k;
}

/* Send @h and @a to the caller of @call, then let go of its reply handle. */
static int answer(struct sb_conn *c, struct sb_call *call,
		  struct sb_header *h, const struct sb_args *a)
{
	struct iovec iov[2];
	struct bus1_tx tx;
	int r = 0;

	if (call->answered)
		return -EALREADY;
	call->answered = true;
	if (call->reply) {
		h->reply_serial = call->serial;
		h->flags = NO_REPLY_EXPECTED;
		r = prepare(c, h, a, iov, &tx);
		if (!r)
			r = bus1_peer_sendv(c->peer, &call->reply, 1, &tx, NULL);
		/* One answer per call: also without it, the caller learns. */
		bus1_peer_release_handles(c->peer, &call->reply, 1);
		call->reply = 0;
	}
	if (call->msg == NULL && call->kept)
		free(call);
	return r;
}

int sb_reply(struct sb_conn *c, struct sb_call *call,
	     const struct sb_args *args)
{
	struct sb_header h = { .type = SB_MSG_RETURN };

	return answer(c, call, &h, args);
}

int sb_reply_error(struct sb_conn *c, struct sb_call *call, const char *name,
		   const char *message)
{
	struct sb_header h = { .type = SB_MSG_ERROR, .error_name = name };
	struct sb_args a = { .body = &c->scratch };

	sb_writer_reset(&c->scratch);
	if (message)
		sb_put_str(&c->scratch, message);
	return answer(c, call, &h, &a);
}

void sb_call_drop(struct sb_conn *c, struct sb_call *call)
{
	if (call->answered)
		return;
	call->answered = true;
	if (call->reply)
		bus1_peer_release_handles(c->peer, &call->reply, 1);
	call->reply = 0;
	if (call->msg == NULL && call->kept)
		free(call);
}

/* Services */

int sb_service_new(struct sb_conn *c, const char *path, const char *iface,
		   const struct sb_method *methods, size_t n_methods,
		   void *userdata, struct sb_service **svcp)
{
	struct sb_service *s;
	size_t i;
	int r;

	if (!sb_valid_path(path) || !sb_valid_interface(iface))
		return -EINVAL;
	for (i = 0; i < n_methods; i++)
		if (!sb_valid_member(methods[i].member) || !methods[i].fn ||
		    strlen(methods[i].signature) > SB_SIG_MAX)
			return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	s->iface = strdup(iface);
	if (!s->path || !s->iface) {
		r = -ENOMEM;
		goto fail;
	}
	r = bus1_peer_node_new(c->peer, &s->node);
	if (r < 0)
		goto fail;
	s->conn = c;
	s->methods = methods;
	s->n_methods = n_methods;
	s->userdata = userdata;
	s->next = c->services;
	c->services = s;
	*svcp = s;
	return 0;
fail:
	free(s->path);
	free(s->iface);
	free(s);
	return r;
}

uint64_t sb_service_node(const struct sb_service *svc)
{
	return svc->node;
}

unsigned int sb_service_subscribers(const struct sb_service *svc)
{
	return svc->n_subs;
}

int sb_service_subscriber(const struct sb_service *svc, unsigned int i,
			  uint64_t *misses, int *last_error)
{
	if (i >= svc->n_subs)
		return -ENOENT;
	*misses = svc->misses[i];
	*last_error = svc->last_error[i];
	return 0;
}

static void sub_remove(struct sb_service *s, unsigned int i)
{
	bus1_peer_release_handles(s->conn->peer, &s->dests[i], 1);
	memmove(s->dests + i, s->dests + i + 1,
		(s->n_subs - i - 1) * sizeof(*s->dests));
	memmove(s->misses + i, s->misses + i + 1,
		(s->n_subs - i - 1) * sizeof(*s->misses));
	memmove(s->last_error + i, s->last_error + i + 1,
		(s->n_subs - i - 1) * sizeof(*s->last_error));
	s->n_subs--;
}

void sb_service_free(struct sb_service *svc)
{
	struct sb_conn *c = svc->conn;
	struct sb_service **p;

	for (p = &c->services; *p != svc; p = &(*p)->next)
		;
	*p = svc->next;
	if (svc->token)
		bus1_peer_release_handles(c->peer, &svc->token, 1);
	while (svc->n_subs)
		sub_remove(svc, svc->n_subs - 1);
	/*
	 * Every holder hears of it. The notice that comes back to us names
	 * an ID that is gone by then, and is passed over.
	 */
	if (!bus1_peer_destroy_nodes(c->peer, &svc->node, 1))
		bus1_peer_release_handles(c->peer, &svc->node, 1);
	free(svc->dests);
	free(svc->misses);
	free(svc->errors);
	free(svc->last_error);
	free(svc->path);
	free(svc->iface);
	free(svc);
}

/* Subscribe: the built-in method that adds a sink to the subscribers. */
static int builtin_subscribe(struct sb_conn *c, struct sb_service *s,
			     struct sb_call *call)
{
	struct sb_msg *m = call->msg;
	uint64_t sink, *d, *mi;
	unsigned int i, cap;
	int *e, *le, r;

	r = sb_msg_take_handle(m, 0, &sink);
	if (r < 0 || m->n_handles != 1)
		return sb_reply_error(c, call, SB_ERR_INVALID_ARGS,
				      "Subscribe passes one handle, the sink");
	/* The same sink again is one subscriber (and one handle ID). */
	for (i = 0; i < s->n_subs; i++) {
		if (s->dests[i] == sink) {
			bus1_peer_release_handles(c->peer, &sink, 1);
			return sb_reply(c, call, NULL);
		}
	}
	if (s->n_subs == BUS1_DESTINATIONS_MAX) {
		bus1_peer_release_handles(c->peer, &sink, 1);
		return sb_reply_error(c, call, SB_ERR_LIMITS,
				      "too many subscribers");
	}
	if (s->n_subs == s->cap_subs) {
		cap = s->cap_subs ? 2 * s->cap_subs : 8;
		d = realloc(s->dests, cap * sizeof(*d));
		if (d)
			s->dests = d;
		mi = realloc(s->misses, cap * sizeof(*mi));
		if (mi)
			s->misses = mi;
		e = realloc(s->errors, cap * sizeof(*e));
		if (e)
			s->errors = e;
		le = realloc(s->last_error, cap * sizeof(*le));
		if (le)
			s->last_error = le;
		if (!d || !mi || !e || !le) {
			bus1_peer_release_handles(c->peer, &sink, 1);
			return -ENOMEM;
		}
		s->cap_subs = cap;
	}
	s->dests[s->n_subs] = sink;
	s->misses[s->n_subs] = 0;
	s->last_error[s->n_subs] = 0;
	s->n_subs++;
	return sb_reply(c, call, NULL);
}

static void handle_call(struct sb_conn *c, struct sb_service *s,
			struct sb_msg *m)
{
	const struct sb_reader *rd = &m->rd;
	struct sb_call call = { .msg = m, .serial = rd->serial };
	const struct sb_method *meth = NULL;
	char why[128];
	size_t i;
	int r;

	/* The first handle is the reply handle, the call's to release. */
	if (m->raw.n_handles && m->raw.handles[0] != BUS1_HANDLE_INVALID)
		call.reply = m->raw.handles[0];

	if (rd->interface && !strcmp(rd->interface, SB_SERVICE_IFACE)) {
		if (!strcmp(rd->member, "Subscribe") && !strcmp(rd->signature, ""))
			r = builtin_subscribe(c, s, &call);
		else
			r = sb_reply_error(c, &call, SB_ERR_UNKNOWN_METHOD,
					   rd->member);
		goto out;
	}
	if (strcmp(rd->path, s->path)) {
		r = sb_reply_error(c, &call, ERR_UNKNOWN_OBJECT, rd->path);
		goto out;
	}
	if (rd->interface && strcmp(rd->interface, s->iface)) {
		r = sb_reply_error(c, &call, ERR_UNKNOWN_IFACE, rd->interface);
		goto out;
	}
	for (i = 0; i < s->n_methods && !meth; i++)
		if (!strcmp(s->methods[i].member, rd->member))
			meth = &s->methods[i];
	if (!meth) {
		r = sb_reply_error(c, &call, SB_ERR_UNKNOWN_METHOD, rd->member);
		goto out;
	}
	if (strcmp(rd->signature, meth->signature)) {
		snprintf(why, sizeof(why), "%s takes \"%s\", not \"%s\"",
			 meth->member, meth->signature, rd->signature);
		r = sb_reply_error(c, &call, SB_ERR_INVALID_ARGS, why);
		goto out;
	}
	r = meth->fn(c, &call, s->userdata);
out:
	if (call.kept || call.answered)
		return;
	if (r == SB_REPLY_LATER)
		r = -EINVAL;	/* kept nothing: answer it now */
	if (r < 0)
		sb_reply_error(c, &call, SB_ERR_FAILED, strerror(-r));
	else
		sb_reply(c, &call, NULL);
}

/* Signals */

int sb_emit(struct sb_conn *c, struct sb_service *svc, const char *member,
	    const struct sb_args *args)
{
	struct sb_header h = {
		.type = SB_MSG_SIGNAL,
		.flags = NO_REPLY_EXPECTED,
		.path = svc->path,
		.interface = svc->iface,
		.member = member,
	};
	struct iovec iov[2];
	struct bus1_tx tx;
	unsigned int i;
	int r, n = 0;

	if (!svc->n_subs)
		return 0;
	r = prepare(c, &h, args, iov, &tx);
	if (r < 0)
		return r;
	r = bus1_peer_sendv(c->peer, svc->dests, svc->n_subs, &tx,
			    svc->errors);
	if (r < 0)
		return r;
	for (i = svc->n_subs; i-- > 0;) {
		switch (svc->errors[i]) {
		case 0:
			n++;
			break;
		case -EHOSTUNREACH:
			/* The sink is gone: the subscription ended. */
			sub_remove(svc, i);
			break;
		default:
			/* Its quota or pool is full, or it is refused. */
			svc->misses[i]++;
			svc->last_error[i] = svc->errors[i];
			break;
		}
	}
	return n;
}

int sb_subscribe(struct sb_conn *c, uint64_t service, sb_signal_fn fn,
		 void *userdata, struct sb_sub **subp)
{
	struct sb_msg reply = { 0 };
	struct sb_args a = { 0 };
	struct sb_sub *sub;
	int r;

	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	r = bus1_peer_node_new(c->peer, &sub->node);
	if (r < 0) {
		free(sub);
		return r;
	}
	sub->conn = c;
	sub->fn = fn;
	sub->userdata = userdata;
	/* Linked first: a signal may come before the reply does. */
	sub->next = c->subs;
	c->subs = sub;
	a.handles = &sub->node;
	a.n_handles = 1;
	r = sb_call(c, service, "/", SB_SERVICE_IFACE, "Subscribe", &a,
		    &reply, -1, 0);
	sb_msg_release(&reply);
	if (r < 0) {
		sb_sub_free(sub);
		return r;
	}
	*subp = sub;
	return 0;
}

void sb_sub_free(struct sb_sub *sub)
{
	struct sb_conn *c = sub->conn;
	struct sb_sub **p;

	for (p = &c->subs; *p != sub; p = &(*p)->next)
		;
	*p = sub->next;
	/* The service hears of it and drops the subscriber. */
	if (!bus1_peer_destroy_nodes(c->peer, &sub->node, 1))
		bus1_peer_release_handles(c->peer, &sub->node, 1);
	free(sub);
}

uint64_t sb_sub_node(const struct sb_sub *sub)
{
	return sub->node;
}

/* Dispatch */

static void handle_entry(struct sb_conn *c, struct sb_msg *m)
{
	uint64_t id = m->raw.destination;
	struct sb_service *s;
	struct sb_sub *sub;
	unsigned int i;
	int r;

	switch (m->raw.type) {
	case BUS1_MSG_DATA:
		for (s = c->services; s && s->node != id; s = s->next)
			;
		/* A call's first handle is its reply handle: skipped. */
		r = msg_decode(c, m, s ? 1 : 0);
		if (s) {
			if (r == 0 && m->rd.type == SB_MSG_CALL) {
				handle_call(c, s, m);
				return;
			}
			/* Not a call: dropped; a caller would get -EPIPE. */
			if (m->raw.n_handles &&
			    m->raw.handles[0] != BUS1_HANDLE_INVALID)
				bus1_peer_release_handles(c->peer,
							  m->raw.handles, 1);
			return;
		}
		if (r < 0)
			return;
		for (sub = c->subs; sub && sub->node != id; sub = sub->next)
			;
		if (sub && m->rd.type == SB_MSG_SIGNAL)
			sub->fn(c, m, sub->userdata);
		return;
	case BUS1_MSG_NODE_DESTROY:
		/* A subscriber's sink is gone. */
		for (s = c->services; s; s = s->next) {
			for (i = 0; i < s->n_subs; i++) {
				if (s->dests[i] == id) {
					sub_remove(s, i);
					return;
				}
			}
		}
		/* fall through */
	case BUS1_MSG_NODE_RELEASE:
		if (c->notice)
			c->notice(c, m->raw.type, id, c->notice_data);
		return;
	}
}

/* libbus1's dispatch hands us a view it releases itself. */
static int dispatch_one(struct bus1_peer *peer, const struct bus1_msg *msg,
			void *userdata)
{
	struct sb_conn *c = userdata;
	struct sb_msg m = { 0 };

	(void)peer;
	m.raw = *msg;
	handle_entry(c, &m);
	msg_drop_caps(&m);
	return 0;
}

int sb_dispatch(struct sb_conn *c)
{
	return bus1_peer_dispatch(c->peer, dispatch_one, c,
				  BUS1_PEER_RECV_FDS);
}

int sb_process(struct sb_conn *c, int timeout_ms)
{
	struct pollfd p = { .fd = bus1_peer_fd(c->peer), .events = POLLIN };
	int r;

	if (timeout_ms < 0) {
		/*
		 * One call into the kernel per message: a blocking receive
		 * into the same view, which hands the last slice back in
		 * the same call.
		 */
		for (;;) {
			msg_drop_caps(&c->in);
			r = bus1_peer_recv(c->peer, &c->in.raw,
					   BUS1_PEER_RECV_FDS);
			if (r == -EAGAIN) {	/* a non-blocking peer fd */
				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
			if (r < 0)
				return r;
			handle_entry(c, &c->in);
			msg_drop_caps(&c->in);
			return 1;
		}
	}
	r = sb_dispatch(c);
	if (r)
		return r;
	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (!r)
		return 0;
	return sb_dispatch(c);
}
