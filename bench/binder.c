// SPDX-License-Identifier: GPL-2.0
/*
 * Binder for the bench, written against the uapi header alone: the server
 * is the context manager of /dev/binderfs/binder and the client sends to
 * handle 0.
 *
 * "binder": the client sends a transaction and waits for the reply in one
 * BINDER_WRITE_READ; the server replies (BC_FREE_BUFFER of the request and
 * BC_REPLY in one write) and reads the next request, as libbinder does.
 *
 * "binder-oneway": both sides send one-way transactions, for the stream.
 * The client first passes the server a node of its own (a transaction
 * carrying a BINDER_TYPE_BINDER object), so the server has a handle to
 * send back to.
 *
 * A receiver reads the payload in place in its mapped buffer; freeing it
 * (BC_FREE_BUFFER) goes with the next write, in the measured loop.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/android/binder.h>
#include "bench.h"

#define BINDER_DEV	"/dev/binderfs/binder"
#define BINDER_MAP	(4U << 20)	/* the most binder maps */

struct binder_ep {
	int fd;
	void *map;
	int side;
	int oneway;
	__u32 peer;			/* handle to send to */
	char wbuf[512];			/* commands for the next write */
	size_t wlen;
	char rbuf[512];
	int have_txn;			/* a transaction or reply is waiting */
	__u32 txn_cmd;			/* BR_TRANSACTION or BR_REPLY */
	struct binder_transaction_data txn;
	int tc;				/* BR_TRANSACTION_COMPLETE seen */
};

static void queue(struct binder_ep *ep, __u32 cmd, const void *arg, size_t len)
{
	if (ep->wlen + sizeof(cmd) + len > sizeof(ep->wbuf))
		die("binder: write buffer full");
	memcpy(ep->wbuf + ep->wlen, &cmd, sizeof(cmd));
	memcpy(ep->wbuf + ep->wlen + sizeof(cmd), arg, len);
	ep->wlen += sizeof(cmd) + len;
}

static void parse(struct binder_ep *ep, const char *p, const char *end)
{
	struct binder_ptr_cookie pc;
	__u32 cmd;

	while (p < end) {
		memcpy(&cmd, p, sizeof(cmd));
		p += sizeof(cmd);
		switch (cmd) {
		case BR_NOOP:
		case BR_SPAWN_LOOPER:
		case BR_OK:
		case BR_FINISHED:
		case BR_RELEASE:
		case BR_DECREFS:
			break;
		case BR_TRANSACTION_COMPLETE:
			ep->tc = 1;
			break;
		case BR_INCREFS:
		case BR_ACQUIRE:
			memcpy(&pc, p, sizeof(pc));
			queue(ep, cmd == BR_INCREFS ? BC_INCREFS_DONE : BC_ACQUIRE_DONE,
			      &pc, sizeof(pc));
			break;
		case BR_TRANSACTION:
		case BR_REPLY:
			if (ep->have_txn)
				die("binder: two transactions at once");
			memcpy(&ep->txn, p, sizeof(ep->txn));
			ep->txn_cmd = cmd;
			ep->have_txn = 1;
			if (cmd == BR_REPLY && (ep->txn.flags & TF_STATUS_CODE))
				die("binder: error reply");
			break;
		case BR_DEAD_REPLY:
			die("binder: BR_DEAD_REPLY");
		case BR_FAILED_REPLY:
			die("binder: BR_FAILED_REPLY");
		default:
			die("binder: unexpected return 0x%x", cmd);
		}
		p += _IOC_SIZE(cmd);
	}
}

/* One BINDER_WRITE_READ: write what is queued, read what is there. */
static void talk(struct binder_ep *ep)
{
	struct binder_write_read bwr = {
		.write_size = ep->wlen,
		.write_buffer = (uintptr_t)ep->wbuf,
		.read_size = sizeof(ep->rbuf),
		.read_buffer = (uintptr_t)ep->rbuf,
	};

	while (ioctl(ep->fd, BINDER_WRITE_READ, &bwr) < 0)
		if (errno != EINTR)
			die("BINDER_WRITE_READ: %m");
	if (bwr.write_consumed != ep->wlen)
		die("binder: %llu of %zu bytes of commands consumed",
		    (unsigned long long)bwr.write_consumed, ep->wlen);
	ep->wlen = 0;
	parse(ep, ep->rbuf, ep->rbuf + bwr.read_consumed);
}

/* Write what is queued, read nothing. */
static void flush(struct binder_ep *ep)
{
	struct binder_write_read bwr = {
		.write_size = ep->wlen,
		.write_buffer = (uintptr_t)ep->wbuf,
	};

	if (!ep->wlen)
		return;
	while (ioctl(ep->fd, BINDER_WRITE_READ, &bwr) < 0)
		if (errno != EINTR)
			die("BINDER_WRITE_READ: %m");
	ep->wlen = 0;
}

static void talk_until_txn(struct binder_ep *ep)
{
	while (!ep->have_txn)
		talk(ep);
}

static void talk_until_tc(struct binder_ep *ep)
{
	ep->tc = 0;
	do
		talk(ep);
	while (!ep->tc);
}

static const char *binder_unavailable(void)
{
	return access(BINDER_DEV, R_OK | W_OK) ? "unavailable" : NULL;
}

static void *binder_create(size_t size, int cpu)
{
	(void)size;
	(void)cpu;
	return NULL;
}

static struct binder_ep *binder_open_ep(int side, int oneway)
{
	struct binder_ep *ep = xmalloc(sizeof(*ep));
	int i;

	memset(ep, 0, sizeof(*ep));
	ep->side = side;
	ep->oneway = oneway;
	ep->fd = open(BINDER_DEV, O_RDWR | O_CLOEXEC);
	if (ep->fd < 0)
		die("open %s: %m", BINDER_DEV);
	ep->map = mmap(NULL, BINDER_MAP, PROT_READ, MAP_PRIVATE, ep->fd, 0);
	if (ep->map == MAP_FAILED)
		die("mmap of binder: %m");
	if (side == 1) {
		/* The last server may not be released yet: wait for it. */
		for (i = 0; ioctl(ep->fd, BINDER_SET_CONTEXT_MGR, 0); i++) {
			if (errno != EBUSY || i == 1000)
				die("BINDER_SET_CONTEXT_MGR: %m");
			nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
		}
	}
	if (side == 1 || oneway) {
		queue(ep, BC_ENTER_LOOPER, NULL, 0);
		flush(ep);
	}
	return ep;
}

static struct ep *binder_open(void *shared, int side, size_t size)
{
	(void)shared;
	(void)size;
	return (struct ep *)binder_open_ep(side, 0);
}

static struct ep *oneway_open(void *shared, int side, size_t size)
{
	(void)shared;
	(void)size;
	return (struct ep *)binder_open_ep(side, 1);
}

static void fill_txn(struct binder_transaction_data *tr, __u32 handle,
		     const void *buf, size_t len, __u32 flags)
{
	memset(tr, 0, sizeof(*tr));
	tr->target.handle = handle;
	tr->code = 1;
	tr->flags = flags;
	tr->data_size = len;
	tr->data.ptr.buffer = (uintptr_t)buf;
}

/*
 * binder: the client's request goes out with the read that waits for the
 * reply; the server's reply goes out with the read for the next request.
 */
static void binder_send(struct ep *e, const void *buf, size_t len)
{
	struct binder_ep *ep = (struct binder_ep *)e;
	struct binder_transaction_data tr;

	fill_txn(&tr, ep->peer, buf, len, 0);
	queue(ep, ep->side ? BC_REPLY : BC_TRANSACTION, &tr, sizeof(tr));
}

/* binder-oneway: every send is its own write, as libbinder does it. */
static void oneway_send(struct ep *e, const void *buf, size_t len)
{
	struct binder_ep *ep = (struct binder_ep *)e;
	struct binder_transaction_data tr;

	fill_txn(&tr, ep->peer, buf, len, TF_ONE_WAY);
	queue(ep, BC_TRANSACTION, &tr, sizeof(tr));
	talk_until_tc(ep);
}

static const void *binder_recv(struct ep *e, size_t len)
{
	struct binder_ep *ep = (struct binder_ep *)e;
	__u32 want = (ep->side == 0 && !ep->oneway) ? BR_REPLY : BR_TRANSACTION;

	talk_until_txn(ep);
	ep->have_txn = 0;
	if (ep->txn_cmd != want)
		die("binder: got %s", ep->txn_cmd == BR_REPLY ? "a reply" : "a transaction");
	if (ep->txn.data_size != len)
		die("binder: expected %zu bytes, got %llu", len,
		    (unsigned long long)ep->txn.data_size);
	return (const void *)(uintptr_t)ep->txn.data.ptr.buffer;
}

static void binder_release(struct ep *e)
{
	struct binder_ep *ep = (struct binder_ep *)e;
	binder_uintptr_t buf = ep->txn.data.ptr.buffer;

	queue(ep, BC_FREE_BUFFER, &buf, sizeof(buf));
}

/*
 * binder-oneway handshake: the client sends the server a node in a
 * synchronous transaction. The server keeps that buffer, and with it its
 * reference to the node's handle.
 */
static void oneway_start(struct ep *e)
{
	struct binder_ep *ep = (struct binder_ep *)e;
	struct flat_binder_object obj;
	struct binder_transaction_data tr;
	binder_size_t off = 0;
	const binder_size_t *offs;

	if (ep->side == 0) {
		memset(&obj, 0, sizeof(obj));
		obj.hdr.type = BINDER_TYPE_BINDER;
		obj.binder = 0xb1;
		fill_txn(&tr, 0, &obj, sizeof(obj), 0);
		tr.offsets_size = sizeof(off);
		tr.data.ptr.offsets = (uintptr_t)&off;
		queue(ep, BC_TRANSACTION, &tr, sizeof(tr));
		talk_until_txn(ep);
		ep->have_txn = 0;
		if (ep->txn_cmd != BR_REPLY)
			die("binder: no reply to the handshake");
		binder_release(e);
		ep->peer = 0;
		return;
	}
	talk_until_txn(ep);
	ep->have_txn = 0;
	if (ep->txn_cmd != BR_TRANSACTION || ep->txn.offsets_size != sizeof(off))
		die("binder: no handshake");
	offs = (const binder_size_t *)(uintptr_t)ep->txn.data.ptr.offsets;
	memcpy(&obj, (const char *)(uintptr_t)ep->txn.data.ptr.buffer + offs[0], sizeof(obj));
	if (obj.hdr.type != BINDER_TYPE_HANDLE)
		die("binder: handshake object of type 0x%x", obj.hdr.type);
	ep->peer = obj.handle;
	fill_txn(&tr, 0, NULL, 0, 0);
	queue(ep, BC_REPLY, &tr, sizeof(tr));
	talk_until_tc(ep);
}

static void binder_close(struct ep *e)
{
	struct binder_ep *ep = (struct binder_ep *)e;

	flush(ep);	/* the server's last reply, the last frees */
	munmap(ep->map, BINDER_MAP);
	close(ep->fd);
	free(ep);
}

static void binder_destroy(void *shared)
{
	(void)shared;
}

/* One-way buffers get half of the receiver's mapping. */
static unsigned int oneway_depth(size_t size)
{
	size_t d = (BINDER_MAP / 2 - (64U << 10)) / ((size + 7) & ~7UL);

	return d < 1 ? 1 : d;
}

const struct mech mech_binder = {
	.name = "binder",
	.what = "Binder transaction to the context manager and its reply; the payload lands in the receiver's mapped buffer, freed (BC_FREE_BUFFER) with the next write",
	.caps = CAP_RT,
	.in_place = 1,
	.unavailable = binder_unavailable,
	.create = binder_create,
	.open = binder_open,
	.send = binder_send,
	.recv = binder_recv,
	.release = binder_release,
	.close = binder_close,
	.destroy = binder_destroy,
};

const struct mech mech_binder_oneway = {
	.name = "binder-oneway",
	.what = "Binder one-way transactions both ways (credits back to a node of the client)",
	.caps = CAP_STREAM,
	.in_place = 1,
	.unavailable = binder_unavailable,
	.create = binder_create,
	.open = oneway_open,
	.start = oneway_start,
	.send = oneway_send,
	.recv = binder_recv,
	.release = binder_release,
	.close = binder_close,
	.destroy = binder_destroy,
	.depth_max = oneway_depth,
};
