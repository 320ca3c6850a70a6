/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bus1 bench: what the workloads (bench.c) and the mechanisms (chan.c,
 * bus1.c, libbus1.c, binder.c) share.
 *
 * A mechanism carries messages between two processes, a client (side 0)
 * and a server (side 1). The parent creates what both sides share, forks
 * one process per side, and each side opens its end. Every message starts
 * with a 64-bit sequence number that the receiver checks.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

struct ep;	/* one side's end of a mechanism, private to the mechanism */

/* What a mechanism can be measured in. */
#define CAP_RT		(1U << 0)	/* round trip */
#define CAP_STREAM	(1U << 1)	/* one-way stream */
#define CAP_PAIRS	(1U << 2)	/* independent pairs */
#define CAP_PASS	(1U << 3)	/* passes one handle or fd per request */
#define CAP_PATH	(1U << 4)	/* both ends in one thread (open_both) */

struct mech {
	const char *name;
	const char *what;		/* one line for the output */
	unsigned int caps;
	/*
	 * recv() returns memory that the mechanism owns (a pool, a mapped
	 * buffer, shared memory) rather than the caller's own buffer.
	 */
	int in_place;
	/* Why it cannot run here (optional); NULL if it can. */
	const char *(*unavailable)(void);
	/* In the parent, before the fork: what both sides share. */
	void *(*create)(size_t size, int helper_cpu);
	/* In the process of @side, after the fork. */
	struct ep *(*open)(void *shared, int side, size_t size);
	/*
	 * Side @side's end, leaving the other side's open (optional): one
	 * process holds both ends for the "path" workload.
	 */
	struct ep *(*open_both)(void *shared, int side, size_t size);
	/* After both sides opened (optional): a handshake. */
	void (*start)(struct ep *ep);
	void (*send)(struct ep *ep, const void *buf, size_t len);
	/* Block for the next message, which must be @len bytes long. */
	const void *(*recv)(struct ep *ep, size_t len);
	/* Hand the last received message back (optional). */
	void (*release)(struct ep *ep);
	void (*close)(struct ep *ep);
	/* In the parent, after both sides exited. */
	void (*destroy)(void *shared);
	/* Most messages of @size in flight (optional; default: no limit). */
	unsigned int (*depth_max)(size_t size);
};

/*
 * Multicast: one sender, @k receivers. The receivers use the ordinary
 * operations of @mech on their end; the sender has its own.
 */
struct group {
	const char *name;
	const char *what;
	const struct mech *mech;
	void *(*create)(int k, size_t size);
	struct ep *(*open_sender)(void *shared);
	struct ep *(*open_receiver)(void *shared, int idx, size_t size);
	void (*send_all)(struct ep *sender, const void *buf, size_t len);
	/* A credit from receiver @idx, or from any where there is one queue. */
	const void *(*recv_from)(struct ep *sender, int idx, size_t len);
	void (*release)(struct ep *sender);
	void (*close_sender)(struct ep *sender);
	void (*destroy)(void *shared);
};

extern const struct mech mech_bus1, mech_bus1_creds, mech_bus1_handle;
extern const struct mech mech_bus1_fd, mech_bus1_lib;
extern const struct mech mech_unix_seqpacket, mech_unix_stream, mech_unix_fd;
extern const struct mech mech_pipe, mech_broker, mech_futex;
extern const struct mech mech_binder, mech_binder_oneway;
extern const struct group group_bus1, group_unix;

/* Largest payload; every buffer is sized for it. */
#define SIZE_MAX_BENCH	(1U << 20)

/*
 * Every payload copy in user space (out of a pool, a Binder buffer or the
 * futex ring, and into the ring) is this loop, not memcpy(): glibc's
 * memcpy() switches to "rep movsb" between a few KiB and its non-temporal
 * threshold, which TCG runs far slower from some mappings (5x from a
 * read-only pool) and icount charges one instruction per byte. The same
 * plain loop for every size and every mechanism keeps that out.
 */
static inline void copy_words(void *dst, const void *src, size_t len)
{
	const uint64_t *s = src;
	uint64_t *d = dst;
	size_t i;

	for (i = 0; i < len / 8; i++)
		d[i] = s[i];
	for (i = len & ~7UL; i < len; i++)
		((char *)dst)[i] = ((const char *)src)[i];
}

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void *xmalloc(size_t size);
void *shared_alloc(size_t size);
void pin_cpu(int cpu);

#endif /* BENCH_H */
