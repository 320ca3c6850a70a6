// SPDX-License-Identifier: GPL-2.0
/*
 * bus1-fuzz: a randomized, multi-process fuzzer of the bus1 system calls.
 *
 *   bus1-fuzz [-t SECONDS] [-w WORKERS] [-s SEED] [-F]
 *
 * Runs as root in a test guest. Worker processes, each under one of
 * several uids, call every bus1 system call with valid and garbage
 * arguments on their own peers and on peers they share, pass handles and
 * fds, map and read their pools, and fail allocations and user copies on
 * purpose (fail-nth, unless -F). One worker changes the bus1 sysctls while
 * the others run; the parent kills a worker now and then, mid-call, and
 * starts another.
 *
 * What it checks, besides what the kernel's debug options catch: every
 * error is one the call's man page documents; a payload reads back as it
 * was sent; a multicast without BUS1_SEND_CONTINUE reaches all of its
 * destinations or none; a passed peer fd is refused; no worker crashes,
 * stops making progress, or fails to end; every limit can be set and put
 * back; once every peer but one witness per uid is gone, each user is
 * charged nothing and counts one peer. Exits 0 if all held; prints the
 * first violation otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <linux/bus1.h>

#define PTR(p)		((__u64)(uintptr_t)(p))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The uids the workers and the shared peers run as. */
static const uid_t uids[] = { 0, 1000, 1001, 1002 };
#define N_UIDS		ARRAY_SIZE(uids)
#define N_SHARED	4	/* peers every worker holds, one per uid */
#define MAX_WORKERS	16
#define MAX_PEERS	4	/* a worker's own peers at a time */
#define MAX_IDS		32	/* IDs a worker remembers per peer */
#define PAYLOAD_MAGIC	0x62757331667a7a21ULL	/* "bus1fzz!" */
#define HANG_SECONDS	30

enum call {
	C_PEER_CREATE, C_NODE_CREATE, C_HANDLE_TRANSFER, C_SEND, C_RECV,
	C_SLICE_RELEASE, C_HANDLE_RELEASE, C_NODES_DESTROY, C_PEER_DISCONNECT,
	C_N,
};

static const char *const call_names[C_N] = {
	"bus1_peer_create", "bus1_node_create", "bus1_handle_transfer",
	"bus1_send", "bus1_recv", "bus1_slice_release",
	"bus1_handle_release", "bus1_nodes_destroy", "bus1_peer_disconnect",
};

/* The errors each call's man page (man/man2/) documents. */
static const int documented[C_N][20] = {
	[C_PEER_CREATE] = { EACCES, EDQUOT, EINVAL, EMFILE, ENFILE, ENOMEM, EPERM },
	[C_NODE_CREATE] = { EBADF, EBADFD, EDQUOT, EFAULT, EINVAL, ENOMEM,
		ESHUTDOWN },
	[C_HANDLE_TRANSFER] = { E2BIG, EACCES, EBADF, EBADFD, EDQUOT, EFAULT,
		EHOSTUNREACH, EINVAL, ENOMEM, ENXIO, EPERM, ESHUTDOWN },
	[C_SEND] = { E2BIG, EACCES, EBADF, EBADFD, EDQUOT, EFAULT,
		EHOSTUNREACH, EINVAL, EMSGSIZE, ENOMEM, ENOSPC, ENOTUNIQ,
		ENXIO, EOPNOTSUPP, EOVERFLOW, EPERM, ESHUTDOWN, ETOOMANYREFS },
	[C_RECV] = { E2BIG, EAGAIN, EBADF, EBADFD, EFAULT, EINTR, EINVAL,
		ENOMEM, ENXIO, ESHUTDOWN },
	[C_SLICE_RELEASE] = { E2BIG, EBADF, EBADFD, EFAULT, EINVAL, ENOMEM,
		ENXIO, ESHUTDOWN },
	[C_HANDLE_RELEASE] = { E2BIG, EBADF, EBADFD, EBUSY, EFAULT, EINVAL,
		ENOMEM, ENOTUNIQ, ENXIO, ESHUTDOWN },
	[C_NODES_DESTROY] = { E2BIG, EALREADY, EBADF, EBADFD, EFAULT, EINVAL,
		ENOMEM, ENOTUNIQ, ENXIO, EPERM, ESHUTDOWN },
	[C_PEER_DISCONNECT] = { EBADF, EBADFD, EINVAL, ESHUTDOWN },
};

/* What the workers and the parent share: counts, heartbeats, a verdict. */
struct shared {
	unsigned long long calls[C_N];
	unsigned long long errors[C_N];
	unsigned long long faults;	/* injected faults that hit */
	unsigned long long multicasts;	/* all-or-none checks made */
	unsigned long long payloads;	/* payloads read back and checked */
	unsigned long long beat[MAX_WORKERS];
	int stop;		/* the parent's word to end */
	int failed;
	char why[512];
};

static struct shared *sh;
static int worker_id;

/* Record the first violation and end this process. */
static void __attribute__((noreturn, format(printf, 1, 2))) violation(const char *fmt, ...)
{
	va_list ap;

	if (!__atomic_exchange_n(&sh->failed, 1, __ATOMIC_SEQ_CST)) {
		va_start(ap, fmt);
		vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
		va_end(ap);
	}
	_exit(2);
}

/* xorshift64*: a seeded stream per worker, so a failing run repeats. */
static unsigned long long rng_state;

static unsigned long long rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

static int one_in(unsigned int n)
{
	return below(n) == 0;
}

/*
 * Fault injection: fail the Nth fault site (allocation or user copy) of
 * the next call of this thread, through /proc/thread-self/fail-nth.
 */
static int fail_nth_fd = -1;

static int fault_arm(void)
{
	char buf[16];
	int n;

	if (fail_nth_fd < 0 || !one_in(6))
		return 0;
	n = snprintf(buf, sizeof(buf), "%u", 1 + below(24));
	if (pwrite(fail_nth_fd, buf, n, 0) != n)
		violation("writing fail-nth: %s", strerror(errno));
	return 1;
}

/*
 * Disarm an armed fault; returns whether it hit the call. Reading and
 * writing fail-nth copy from and to user memory, so they are fault sites
 * too: a countdown the call left over may end in them, with EFAULT.
 */
static int fault_disarm(void)
{
	char buf[16] = "";

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) < 0) {
		if (errno != EFAULT)
			violation("reading fail-nth: %s", strerror(errno));
		return 0;	/* the read took the fault */
	}
	if (atoi(buf) == 0)
		return 1;	/* the countdown reached a site and failed it */
	if (pwrite(fail_nth_fd, "0", 1, 0) != 1 && errno != EFAULT)
		violation("clearing fail-nth: %s", strerror(errno));
	return 0;		/* the call had fewer sites */
}

/*
 * Make one call, with a fault armed at random, and check its result:
 * success, or an error its man page documents.
 */
static long call(enum call c, long a1, long a2, long a3, long a4)
{
	static const long nr[C_N] = {
		__NR_bus1_peer_create, __NR_bus1_node_create,
		__NR_bus1_handle_transfer, __NR_bus1_send, __NR_bus1_recv,
		__NR_bus1_slice_release, __NR_bus1_handle_release,
		__NR_bus1_nodes_destroy, __NR_bus1_peer_disconnect,
	};
	int armed, e, i;
	long r;

	armed = fault_arm();
	r = syscall(nr[c], a1, a2, a3, a4);
	e = errno;
	if (armed && fault_disarm())
		__atomic_fetch_add(&sh->faults, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->calls[c], 1, __ATOMIC_RELAXED);
	sh->beat[worker_id]++;
	if (r >= 0)
		return r;
	__atomic_fetch_add(&sh->errors[c], 1, __ATOMIC_RELAXED);
	for (i = 0; documented[c][i] && documented[c][i] != e; i++)
		;
	if (!documented[c][i])
		violation("%s failed with %s (%d), which its man page does not list",
			  call_names[c], strerrorname_np(e) ?: "?", e);
	errno = e;
	return r;
}

/* Memory a garbage pointer points to, or where nothing is. */
static unsigned char *hole;	/* one page, then an unmapped page */
static const unsigned char *ro_page;	/* readable, not writable */

static __u64 bad_ptr(void)
{
	switch (below(5)) {
	case 0: return 0;
	case 1: return PTR(hole + 4096);
	case 2: return PTR(hole + 4096 - 3);	/* straddles the hole */
	case 3: return PTR(ro_page);		/* bad for output only */
	default: return ~0ULL - below(4096);
	}
}

static unsigned int maybe_flags(unsigned int valid)
{
	if (one_in(16))
		return rnd();
	return rnd() & valid;
}

/* A worker's view of one peer: its fd, pool, and IDs it has seen. */
struct peer {
	int fd;
	const unsigned char *pool;
	__u64 ids[MAX_IDS];	/* node and handle IDs, some stale */
	unsigned int n_ids;
	__u64 slices[MAX_IDS];	/* received, not yet released */
	unsigned int n_slices;
};

static struct peer own[MAX_PEERS];
static struct peer shared_peers[N_SHARED];

static void remember(__u64 *set, unsigned int *n, __u64 v)
{
	if (*n < MAX_IDS)
		set[(*n)++] = v;
	else
		set[below(MAX_IDS)] = v;
}

static __u64 some_id(struct peer *p)
{
	if (!p->n_ids || one_in(12))
		return one_in(2) ? rnd() : below(64);
	return p->ids[below(p->n_ids)];
}

/* A peer to act on: one of the worker's own, or a shared one. */
static struct peer *pick_peer(void)
{
	struct peer *p;

	if (one_in(3))
		return &shared_peers[below(N_SHARED)];
	p = &own[below(MAX_PEERS)];
	return p->fd >= 0 ? p : &shared_peers[below(N_SHARED)];
}

static bool is_shared(const struct peer *p)
{
	return p >= shared_peers && p < shared_peers + N_SHARED;
}

static int pick_fd(struct peer *p)
{
	if (one_in(40))
		return one_in(2) ? -1 : 0;	/* not a peer */
	return p->fd;
}

static void peer_close(struct peer *p)
{
	if (p->pool)
		munmap((void *)p->pool, BUS1_POOL_SIZE);
	close(p->fd);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static void op_peer_create(void)
{
	struct peer *p = &own[below(MAX_PEERS)];
	unsigned int flags = BUS1_PEER_CLOEXEC | BUS1_PEER_NONBLOCK;
	long fd;

	if (one_in(3))
		flags |= BUS1_PEER_CREDS;
	if (one_in(16))
		flags = rnd();
	fd = call(C_PEER_CREATE, flags, 0, 0, 0);
	if (fd < 0)
		return;
	if (!(flags & BUS1_PEER_NONBLOCK))
		fcntl(fd, F_SETFL, O_NONBLOCK);
	if (p->fd >= 0)
		peer_close(p);
	p->fd = fd;
}

static void op_peer_close(void)
{
	struct peer *p = &own[below(MAX_PEERS)];

	if (p->fd < 0)
		return;
	if (one_in(2))
		call(C_PEER_DISCONNECT, p->fd, one_in(8) ? rnd() : 0, 0, 0);
	else
		peer_close(p);
}

static void op_node_create(void)
{
	struct peer *p = pick_peer();
	__u64 id;

	if (one_in(10)) {
		call(C_NODE_CREATE, pick_fd(p), bad_ptr(), maybe_flags(0), 0);
		return;
	}
	if (call(C_NODE_CREATE, pick_fd(p), PTR(&id), maybe_flags(0), 0) == 0)
		remember(p->ids, &p->n_ids, id);
}

static void op_transfer(void)
{
	struct peer *src = pick_peer(), *dst = pick_peer();
	struct { struct bus1_transfer t; __u64 tail; } a = { 0 };
	size_t size = sizeof(a.t);

	a.t.src_id = some_id(src);
	a.t.flags = maybe_flags(0);
	if (one_in(10))
		size = below(2 * sizeof(a));	/* short, or with a tail */
	if (one_in(20))
		a.tail = rnd();
	if (one_in(20)) {
		call(C_HANDLE_TRANSFER, pick_fd(src), pick_fd(dst), bad_ptr(), size);
		return;
	}
	if (call(C_HANDLE_TRANSFER, pick_fd(src), pick_fd(dst), PTR(&a), size) == 0 &&
	    a.t.dst_id != BUS1_HANDLE_INVALID)
		remember(dst->ids, &dst->n_ids, a.t.dst_id);
}

/*
 * A payload the receiver can check: a header with its length and a seed,
 * then bytes derived from the seed.
 */
struct payload_head {
	__u64 magic;
	__u64 size;
	__u64 seed;
	__u64 token;	/* the multicast check's send, or 0 */
};

static unsigned char payload_byte(__u64 seed, size_t i)
{
	return (seed >> (8 * (i % 8))) ^ (i * 131);
}

static unsigned char send_buf[256 * 1024];

static size_t fill_payload(size_t size, __u64 token)
{
	struct payload_head h = {
		.magic = PAYLOAD_MAGIC, .size = size, .seed = rnd(), .token = token,
	};
	size_t i;

	if (size < sizeof(h))
		size = sizeof(h);
	h.size = size;
	memcpy(send_buf, &h, sizeof(h));
	for (i = sizeof(h); i < size; i++)
		send_buf[i] = payload_byte(h.seed, i);
	return size;
}

/* Check a received payload that claims to be ours; returns its token. */
static __u64 check_payload(const unsigned char *data, __u64 size)
{
	struct payload_head h;
	size_t i;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	if (h.magic != PAYLOAD_MAGIC)
		return 0;
	if (h.size != size)
		violation("a payload of %llu bytes arrived as %llu bytes",
			  (unsigned long long)h.size, (unsigned long long)size);
	for (i = sizeof(h); i < size; i++)
		if (data[i] != payload_byte(h.seed, i))
			violation("payload byte %zu of %llu reads back wrong",
				  i, (unsigned long long)size);
	__atomic_fetch_add(&sh->payloads, 1, __ATOMIC_RELAXED);
	return h.token;
}

static size_t payload_size(void)
{
	switch (below(8)) {
	case 0: return below(8);
	case 1: return 4096 + below(64 * 1024);
	case 2: return one_in(8) ? sizeof(send_buf) : 8192;
	default: return below(600);
	}
}

/*
 * Split @len bytes of send_buf into up to four vecs, some empty, and
 * maybe spoil one if @garbage. A spoiled vec may still be readable (a
 * read-only page of zeros): then the payload is not the one in
 * send_buf, and its header loses the magic, for the receiver not to
 * check it.
 */
static unsigned int make_vecs(struct bus1_vec *v, size_t len, bool garbage)
{
	unsigned int n = 1 + below(4), i;
	size_t at = 0, piece;

	for (i = 0; i < n; i++) {
		piece = i == n - 1 ? len - at : below(len - at + 1);
		v[i].ptr = PTR(send_buf + at);
		v[i].len = piece;
		at += piece;
	}
	if (garbage && one_in(30)) {
		v[below(n)].ptr = bad_ptr();
		memset(send_buf, 0, sizeof(__u64));
	}
	if (garbage && one_in(60))
		v[below(n)].len = ~0ULL - below(16);
	return n;
}

static int extra_fds[3];	/* a pipe end, /dev/null, a memfd */

static void op_send(void)
{
	struct peer *p = pick_peer(), *other;
	__u64 dst[6], handles[4], errs[6];
	int fds[4];
	struct bus1_vec v[4];
	struct bus1_send s = { 0 };
	unsigned int i, n_dst = 1 + (one_in(3) ? below(5) : 0);
	bool peer_fd = false;

	for (i = 0; i < n_dst; i++)
		dst[i] = some_id(p);
	if (n_dst > 1 && one_in(20))
		dst[n_dst - 1] = dst[0];	/* named twice */
	s.ptr_destinations = PTR(dst);
	s.n_destinations = n_dst;
	s.n_vecs = make_vecs(v, fill_payload(payload_size(), 0), true);
	s.ptr_vecs = PTR(v);
	if (one_in(2)) {
		s.flags = BUS1_SEND_CONTINUE;
		s.ptr_errors = PTR(errs);
	}
	if (one_in(4)) {
		s.n_handles = below(ARRAY_SIZE(handles) + 1);
		for (i = 0; i < s.n_handles; i++)
			handles[i] = some_id(p);
		s.ptr_handles = PTR(handles);
	}
	if (one_in(4)) {
		s.n_fds = below(ARRAY_SIZE(fds) + 1);
		for (i = 0; i < s.n_fds; i++) {
			other = pick_peer();
			fds[i] = one_in(2) ? other->fd : extra_fds[below(3)];
			peer_fd |= fds[i] >= 0 && fds[i] == other->fd;
		}
		s.ptr_fds = PTR(fds);
	}
	if (one_in(16))
		s.flags = maybe_flags(BUS1_SEND_CONTINUE);
	switch (below(40)) {
	case 0: s.ptr_destinations = bad_ptr(); break;
	case 1: s.ptr_vecs = bad_ptr(); break;
	case 2: s.ptr_errors = s.ptr_errors ? bad_ptr() : 0; break;
	case 3: s.n_destinations = BUS1_DESTINATIONS_MAX + below(3); break;
	case 4: s.n_vecs = BUS1_VECS_MAX + 1; break;
	case 5: s.n_handles = BUS1_HANDLES_MAX + 1; break;
	case 6: s.n_fds = BUS1_FDS_MAX + 1; break;
	case 7: call(C_SEND, pick_fd(p), bad_ptr(), sizeof(s), 0); return;
	}
	if (call(C_SEND, pick_fd(p), PTR(&s), one_in(20) ? below(2 * sizeof(s)) : sizeof(s),
		 0) == 0 && peer_fd)
		violation("a send passed a bus1 peer's fd");
}

/* Look at what a received message carries: payload, handles, fds. */
static void consume(struct peer *p, const struct bus1_recv *r)
{
	const unsigned char *at;
	const __u64 *ids;
	const int *fds;
	__u64 i;

	if (r->type != BUS1_MSG_DATA) {
		if (r->type != BUS1_MSG_NODE_DESTROY && r->type != BUS1_MSG_NODE_RELEASE)
			violation("bus1_recv() returned entry type %llu",
				  (unsigned long long)r->type);
		return;
	}
	if (r->offset % 8 || r->offset + r->size > BUS1_POOL_SIZE)
		violation("a slice at %llu of %llu bytes lies outside the pool",
			  (unsigned long long)r->offset, (unsigned long long)r->size);
	if (!p->pool)
		return;
	at = p->pool + r->offset;
	check_payload(at, r->size);
	ids = (const __u64 *)(at + ((r->size + 7) & ~7ULL));
	for (i = 0; i < r->n_handles; i++)
		if (ids[i] != BUS1_HANDLE_INVALID)
			remember(p->ids, &p->n_ids, ids[i]);
	fds = (const int *)(ids + r->n_handles);
	for (i = 0; i < r->n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void op_recv(void)
{
	struct peer *p = pick_peer();
	struct bus1_recv r = { 0 };
	size_t size = sizeof(r);

	/* Map the pool first: the fds a message carries are read there. */
	if (p->fd >= 0 && !p->pool) {
		p->pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, p->fd, 0);
		if (p->pool == MAP_FAILED)
			p->pool = NULL;
	}
	r.flags = p->pool && one_in(2) ? BUS1_RECV_FDS : 0;
	if (p->n_slices && one_in(3)) {
		r.flags |= BUS1_RECV_RELEASE;
		r.offset = p->slices[--p->n_slices];
	}
	if (one_in(16))
		r.flags = maybe_flags(BUS1_RECV_RELEASE | (p->pool ? BUS1_RECV_FDS : 0));
	/* Offset 0 of a shared pool may be another worker's slice. */
	if (is_shared(p) && !r.offset)
		r.flags &= ~BUS1_RECV_RELEASE;
	if (one_in(30)) {
		call(C_RECV, pick_fd(p), bad_ptr(), size, 0);
		return;
	}
	if (one_in(20))
		size = below(2 * sizeof(r));
	if (call(C_RECV, pick_fd(p), PTR(&r), size, 0) < 0 || size < sizeof(r))
		return;
	consume(p, &r);
	if (r.type == BUS1_MSG_DATA)
		remember(p->slices, &p->n_slices, r.offset);
}

/* Release up to four IDs or offsets, known ones or not, maybe twice. */
static void op_release(enum call c)
{
	struct peer *p = pick_peer();
	__u64 v[4];
	unsigned int n = below(5), i;

	for (i = 0; i < n; i++) {
		/*
		 * Not a random offset on a shared peer: it might be another
		 * worker's slice, which that worker is reading.
		 */
		if (c == C_SLICE_RELEASE && p->n_slices && (!one_in(8) || is_shared(p)))
			v[i] = p->slices[--p->n_slices];
		else if (c == C_SLICE_RELEASE)
			v[i] = is_shared(p) ? 1 : 8 * below(BUS1_POOL_SIZE / 8);
		else
			v[i] = some_id(p);
	}
	if (n > 1 && one_in(10))
		v[n - 1] = v[0];
	if (one_in(30))
		call(c, pick_fd(p), bad_ptr(), 1 + below(4), 0);
	else
		call(c, pick_fd(p), PTR(v), one_in(40) ? BUS1_RELEASE_MAX + 1 : n,
		     maybe_flags(0));
}

/* Read some bytes of a mapped pool, and try to map it writable. */
static void op_pool(void)
{
	struct peer *p = pick_peer();
	volatile unsigned char sink;
	void *w;

	if (p->pool && p->n_slices) {
		sink = p->pool[p->slices[below(p->n_slices)]];
		(void)sink;
	}
	if (p->fd >= 0 && one_in(20)) {
		w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
		if (w != MAP_FAILED)
			violation("a pool was mapped writable");
	}
}

/*
 * The multicast check, on peers no other process can reach: a send
 * without BUS1_SEND_CONTINUE to three nodes, with a fault armed at random,
 * reaches all three or none.
 */
static struct mc {
	int sender;		/* -1 until set up */
	int recv[3];
	__u64 handle[3];
	__u64 token;
} mc;

/*
 * Make the peers of the check; false if a limit (which the sysctl worker
 * may have lowered) or a lack of memory refused one, to be tried again
 * later: making them is not what is checked.
 */
static bool mc_setup(void)
{
	struct bus1_transfer t;
	__u64 node;
	int i;

	mc.sender = syscall(__NR_bus1_peer_create, BUS1_PEER_NONBLOCK);
	for (i = 0; i < 3 && mc.sender >= 0; i++) {
		t = (struct bus1_transfer){ 0 };
		mc.recv[i] = syscall(__NR_bus1_peer_create, BUS1_PEER_NONBLOCK);
		if (mc.recv[i] >= 0 &&
		    !syscall(__NR_bus1_node_create, mc.recv[i], &node, 0) &&
		    (t.src_id = node,
		     !syscall(__NR_bus1_handle_transfer, mc.recv[i], mc.sender, &t, sizeof(t)))) {
			mc.handle[i] = t.dst_id;
			continue;
		}
		if (errno != EDQUOT && errno != ENOMEM)
			violation("setting up the multicast check: %s", strerror(errno));
		for (; i >= 0; i--)
			if (mc.recv[i] >= 0)
				close(mc.recv[i]);
		close(mc.sender);
		mc.sender = -1;
	}
	if (mc.sender < 0 && errno != EDQUOT && errno != ENOMEM)
		violation("setting up the multicast check: %s", strerror(errno));
	return mc.sender >= 0;
}

static void op_multicast(void)
{
	struct bus1_send s = { 0 };
	struct bus1_vec v[4];
	unsigned int i, got = 0;
	__u64 token = ++mc.token | ((__u64)worker_id << 48);
	const unsigned char *pool;
	int err;
	long r;

	if (mc.sender < 0 && !mc_setup())
		return;
	s.ptr_destinations = PTR(mc.handle);
	s.n_destinations = 3;
	s.n_vecs = make_vecs(v, fill_payload(sizeof(struct payload_head) + below(9000), token),
			     false);
	s.ptr_vecs = PTR(v);
	r = call(C_SEND, mc.sender, PTR(&s), sizeof(s), 0);
	err = r ? errno : 0;
	for (i = 0; i < 3; i++) {
		struct bus1_recv rv = { .flags = 0 };

		pool = mmap(NULL, BUS1_POOL_SIZE, PROT_READ, MAP_SHARED, mc.recv[i], 0);
		if (pool == MAP_FAILED)
			violation("mapping a pool: %s", strerror(errno));
		while (syscall(__NR_bus1_recv, mc.recv[i], &rv, sizeof(rv)) == 0) {
			if (rv.type == BUS1_MSG_DATA) {
				got += check_payload(pool + rv.offset, rv.size) == token;
				syscall(__NR_bus1_slice_release, mc.recv[i], &rv.offset, 1, 0);
			}
			rv.flags = 0;
		}
		if (errno != EAGAIN)
			violation("draining the multicast check: %s", strerror(errno));
		munmap((void *)pool, BUS1_POOL_SIZE);
	}
	if (got != (r == 0 ? 3 : 0))
		violation("a multicast that returned %ld (%s) reached %u of 3 destinations",
			  r, err ? strerror(err) : "ok", got);
	__atomic_fetch_add(&sh->multicasts, 1, __ATOMIC_RELAXED);
}

/* The sysctls under /proc/sys/kernel/bus1/, their values at the start. */
static const char *const sysctls[] = {
	"user_max_bytes", "user_max_slices", "user_max_messages",
	"user_max_handles", "user_max_fds", "peer_max_bytes",
	"peer_max_slices", "peer_max_messages", "peer_max_handles",
	"peer_max_fds", "user_max_peers",
};
static unsigned long long sysctl_orig[ARRAY_SIZE(sysctls)];

static int sysctl_rw(unsigned int i, unsigned long long *get, unsigned long long set)
{
	char path[128], buf[32];
	int fd, n, r = -1;

	snprintf(path, sizeof(path), "/proc/sys/kernel/bus1/%s", sysctls[i]);
	fd = open(path, get ? O_RDONLY : O_WRONLY);
	if (fd < 0)
		return -1;
	if (get) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			*get = strtoull(buf, NULL, 10);
			r = 0;
		}
	} else {
		n = snprintf(buf, sizeof(buf), "%llu", set);
		r = write(fd, buf, n) == n ? 0 : -1;
	}
	close(fd);
	return r;
}

/*
 * Put every limit back, in the order of sysctls[], the user limits
 * first: a peer limit cannot be set above its user's. Returns the name
 * of a limit that could not be put back, or NULL.
 */
static const char *sysctl_restore(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sysctls); i++)
		if (sysctl_rw(i, NULL, sysctl_orig[i]))
			return sysctls[i];
	return NULL;
}

/*
 * Change a limit while traffic runs, to a tiny value or half its start
 * value, after putting back the one changed before: one limit at a time
 * is off. A user limit cannot be set below its peer limit, so that goes
 * down first. The five user limits come first in sysctls[], the five
 * peer limits next, in the same order.
 */
static void op_sysctl(void)
{
	unsigned int i = below(ARRAY_SIZE(sysctls));
	unsigned long long v = one_in(2) ? 1 + below(4) : sysctl_orig[i] / 2;
	const char *bad = sysctl_restore();

	if (bad)
		violation("restoring kernel/bus1/%s: %s", bad, strerror(errno));
	if (i < 5 && v < sysctl_orig[i + 5] && sysctl_rw(i + 5, NULL, v ?: 1))
		violation("lowering kernel/bus1/%s: %s", sysctls[i + 5], strerror(errno));
	if (sysctl_rw(i, NULL, v ?: 1))
		violation("setting kernel/bus1/%s to %llu: %s", sysctls[i], v ?: 1,
			  strerror(errno));
}

static void op_slice_release(void)
{
	op_release(C_SLICE_RELEASE);
}

static void op_handle_release(void)
{
	op_release(C_HANDLE_RELEASE);
}

static void op_nodes_destroy(void)
{
	op_release(C_NODES_DESTROY);
}

/* What a worker does, and how often; the weights add up to 100. */
static const struct {
	void (*fn)(void);
	unsigned int weight;
} ops[] = {
	{ op_peer_create, 8 }, { op_peer_close, 3 }, { op_node_create, 9 },
	{ op_transfer, 12 }, { op_send, 23 }, { op_recv, 23 },
	{ op_slice_release, 6 }, { op_handle_release, 5 },
	{ op_nodes_destroy, 4 }, { op_pool, 3 }, { op_multicast, 3 },
	{ op_sysctl, 1 },	/* by the first root worker only */
};

static void worker(unsigned int id, unsigned long long seed, int may_inject)
{
	uid_t uid = uids[id % N_UIDS];
	unsigned int i, op;
	int pipefd[2];

	worker_id = id;
	rng_state = seed ^ (0x9e3779b97f4a7c15ULL * (id + 1));
	for (i = 0; i < MAX_PEERS; i++)
		own[i].fd = -1;
	if (uid && (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
		violation("setresuid(%u): %s", uid, strerror(errno));
	/* fail-nth belongs to the task's owner only while it is dumpable. */
	prctl(PR_SET_DUMPABLE, 1);
	if (may_inject) {
		fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
		if (fail_nth_fd < 0)
			violation("opening fail-nth: %s", strerror(errno));
	}
	if (pipe(pipefd))
		violation("pipe: %s", strerror(errno));
	extra_fds[0] = pipefd[0];
	extra_fds[1] = open("/dev/null", O_RDWR);
	extra_fds[2] = memfd_create("bus1-fuzz", 0);
	mc.sender = -1;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		/* The operations by weight, out of 100. */
		for (op = below(100), i = 0; op >= ops[i].weight; i++)
			op -= ops[i].weight;
		if (ops[i].fn != op_sysctl || (uid == 0 && id == 0))
			ops[i].fn();
	}
	_exit(0);
}

static unsigned long long fdinfo_field(int fd, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	unsigned long long v = ~0ULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			v = strtoull(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Create a peer whose credentials are @uid's; go back to root. */
static int peer_as(uid_t uid)
{
	int fd, e;

	if (setresgid(uid, uid, 0) || setresuid(uid, uid, 0))
		return -1;
	fd = syscall(__NR_bus1_peer_create, BUS1_PEER_NONBLOCK | BUS1_PEER_CLOEXEC);
	e = errno;
	if (setresuid(0, 0, 0) || setresgid(0, 0, 0))
		abort();
	errno = e;
	return fd;
}

static const char *const counters[] = {
	"bus1-user-bytes", "bus1-user-slices", "bus1-user-messages",
	"bus1-user-handles", "bus1-user-fds", "bus1-user-senders",
};

/* Once only the witnesses are left, is every user back at zero? */
static int counters_settled(const int *witness, int report)
{
	unsigned int u, i;
	unsigned long long v;
	int ok = 1;

	for (u = 0; u < N_UIDS; u++) {
		for (i = 0; i < ARRAY_SIZE(counters); i++) {
			v = fdinfo_field(witness[u], counters[i]);
			if (v && report)
				printf("bus1-fuzz: uid %u: %s is %llu, not 0\n",
				       uids[u], counters[i], v);
			ok &= !v;
		}
		v = fdinfo_field(witness[u], "bus1-user-peers");
		if (v != 1 && report)
			printf("bus1-fuzz: uid %u: bus1-user-peers is %llu, not 1\n",
			       uids[u], v);
		ok &= v == 1;
	}
	return ok;
}

/* Whether the fault-injection attributes can be set up for fail-nth. */
static int fault_setup(void)
{
	static const char *const attrs[] = {
		"failslab/ignore-gfp-wait=N", "failslab/verbose=0",
		"fail_page_alloc/ignore-gfp-wait=N", "fail_page_alloc/ignore-gfp-highmem=N",
		"fail_page_alloc/min-order=0", "fail_page_alloc/verbose=0",
		"fail_usercopy/verbose=0",
	};
	char path[128];
	const char *eq;
	unsigned int i;
	int fd, ok;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		eq = strchr(attrs[i], '=');
		snprintf(path, sizeof(path), "/sys/kernel/debug/%.*s",
			 (int)(eq - attrs[i]), attrs[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			return 0;
		ok = write(fd, eq + 1, strlen(eq + 1)) > 0;
		close(fd);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Where a stuck worker is, in the kernel. */
static void show_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("bus1-fuzz:   %s", line);
	fclose(f);
}

/*
 * Wait for a worker to end, after killing it if @kill; give up after
 * HANG_SECONDS, show where it is stuck and kill it. Returns whether it
 * ended as it should: by SIGKILL if killed, by exiting with 0 if not.
 */
static bool reap(pid_t pid, bool kill_it)
{
	unsigned int waited;
	int status;

	if (kill_it)
		kill(pid, SIGKILL);
	for (waited = 0; waited < 10 * HANG_SECONDS; waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return kill_it ? WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL :
					 WIFEXITED(status) && !WEXITSTATUS(status);
		usleep(100 * 1000);
	}
	show_stack(pid);
	kill(pid, SIGKILL);
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: bus1-fuzz [-t SECONDS] [-w WORKERS] [-s SEED] [-F]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned int seconds = 30, n_workers = 6, i, kills = 0, respawns = 0;
	unsigned long long seed = time(NULL), total = 0, last[MAX_WORKERS] = { 0 };
	time_t start, end, stalled_since[MAX_WORKERS];
	pid_t pids[MAX_WORKERS];
	int witness[N_UIDS], opt, status, may_inject = 1, ok = 1;
	const char *bad;
	struct rlimit rl = { 4096, 4096 };

	while ((opt = getopt(argc, argv, "t:w:s:F")) != -1) {
		switch (opt) {
		case 't': seconds = atoi(optarg); break;
		case 'w': n_workers = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'F': may_inject = 0; break;
		default: usage();
		}
	}
	if (!n_workers || n_workers > MAX_WORKERS || getuid())
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = seed | 1;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (may_inject && !fault_setup()) {
		printf("bus1-fuzz: no fault injection (needs CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY); -F runs without\n");
		return 1;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || hole == MAP_FAILED || ro_page == MAP_FAILED)
		return 1;
	munmap(hole + 4096, 4096);
	for (i = 0; i < ARRAY_SIZE(sysctls); i++)
		if (sysctl_rw(i, &sysctl_orig[i], 0)) {
			printf("bus1-fuzz: cannot read kernel/bus1/%s\n", sysctls[i]);
			return 1;
		}
	for (i = 0; i < N_UIDS; i++) {
		witness[i] = peer_as(uids[i]);
		shared_peers[i].fd = peer_as(uids[i]);
		if (witness[i] < 0 || shared_peers[i].fd < 0) {
			printf("bus1-fuzz: creating a peer: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("bus1-fuzz: %u workers, %u s, seed %llu, fault injection %s\n",
	       n_workers, seconds, seed, may_inject ? "on" : "off");

	start = time(NULL);
	end = start + seconds;
	memset(pids, 0, sizeof(pids));
	while (time(NULL) < end && !sh->failed) {
		for (i = 0; i < n_workers; i++) {
			if (pids[i] > 0)
				continue;
			pids[i] = fork();
			if (!pids[i])
				worker(i, seed + respawns, may_inject);
			respawns++;
			stalled_since[i] = time(NULL);
		}
		usleep(100 * 1000);
		for (i = 0; i < n_workers; i++) {
			if (pids[i] <= 0)
				continue;
			if (sh->beat[i] != last[i]) {
				last[i] = sh->beat[i];
				stalled_since[i] = time(NULL);
			} else if (time(NULL) - stalled_since[i] > HANG_SECONDS) {
				printf("bus1-fuzz: worker %u made no call for %d s\n",
				       i, HANG_SECONDS);
				show_stack(pids[i]);
				ok = 0;
				goto out;
			}
			/*
			 * Only the parent ends workers, after reaping them: a
			 * worker that ended is a violation (status 2) or a
			 * crash, unless the OOM killer took it (SIGKILL);
			 * then another one starts.
			 */
			if (waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
				continue;
			printf("bus1-fuzz: worker %u ended (status 0x%x)\n", i, status);
			ok = 0;
			goto out;
		}
		/* Now and then, kill one mid-call and start another. */
		if (one_in(20)) {
			i = below(n_workers);
			if (pids[i] > 0 && !reap(pids[i], true)) {
				printf("bus1-fuzz: worker %u did not die within %d s\n",
				       i, HANG_SECONDS);
				ok = 0;
				goto out;
			}
			kills += pids[i] > 0;
			pids[i] = 0;
		}
	}
out:
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n_workers; i++) {
		if (pids[i] <= 0)
			continue;
		if (!reap(pids[i], false)) {
			printf("bus1-fuzz: worker %u did not stop within %d s\n",
			       i, HANG_SECONDS);
			ok = 0;
		}
	}
	bad = sysctl_restore();
	if (bad) {
		printf("bus1-fuzz: kernel/bus1/%s could not be put back\n", bad);
		ok = 0;
	}
	for (i = 0; i < N_SHARED; i++)
		close(shared_peers[i].fd);
	/* A peer's last charges go when its teardown finishes: wait for it. */
	for (i = 0; i < 100 && !counters_settled(witness, 0); i++)
		usleep(100 * 1000);
	if (!counters_settled(witness, 1))
		ok = 0;

	for (i = 0; i < C_N; i++) {
		total += sh->calls[i];
		printf("bus1-fuzz: %-21s %9llu calls, %9llu errors\n", call_names[i],
		       sh->calls[i], sh->errors[i]);
	}
	printf("bus1-fuzz: %llu calls in %ld s, %llu payloads checked, %llu multicasts checked, %llu faults injected, %u workers killed\n",
	       total, (long)(time(NULL) - start), sh->payloads, sh->multicasts,
	       sh->faults, kills);
	if (sh->failed) {
		printf("bus1-fuzz: VIOLATION: %s\n", sh->why);
		ok = 0;
	}
	printf("bus1-fuzz: %s\n", ok ? "passed" : "FAILED");
	return ok ? 0 : 1;
}
