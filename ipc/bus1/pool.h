/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_POOL_H
#define __BUS1_POOL_H

/*
 * The receive pool of a peer: a shmem file the kernel writes messages into
 * and the peer maps read-only.
 */

#include <linux/types.h>
#include "slice.h"

struct bus1_quota;
struct bus1_usage;
struct file;
struct iov_iter;
struct mem_cgroup;
struct seq_file;
struct vm_area_struct;

/**
 * struct bus1_pool - receive pool of one peer
 * @file:	backing shmem file, one reference owned by the pool; every
 *		mapping of the pool holds a reference of its own, so the
 *		memory outlives the peer while user space still maps it
 * @size:	size of @file in bytes, fixed at creation
 * @slices:	allocator of the ranges of @file that hold messages
 * @memcg:	memory cgroup of the pool's creator, a counted reference or
 *		NULL: the pages of @file are charged to it, whoever writes
 *
 * A pool is embedded in its peer. @file and @size are set once by
 * bus1_pool_init() and never change until bus1_pool_deinit(), so reading
 * them needs no lock; @slices has its own lock. Senders use the pool of a
 * receiver only while they hold an active reference to the receiver, or
 * a pin, which keeps the pool from being torn down under them.
 */
struct bus1_pool {
	struct file *file;
	size_t size;
	struct bus1_slices slices;
	struct mem_cgroup *memcg;
};

/*
 * Bytes of released pool pages a pool keeps for the next messages: a
 * receiver in steady state reuses the same pages, which a give-back would
 * only free and the next message allocate, zero and charge again.
 */
#define BUS1_POOL_KEEP	(2U << 20)

int bus1_pool_init(struct bus1_pool *pool, size_t size,
		   struct bus1_quota *quota);
void bus1_pool_deinit(struct bus1_pool *pool);
int bus1_pool_check_map(size_t size, unsigned long pgoff,
			unsigned long pages, vm_flags_t vm_flags);
int bus1_pool_mmap(struct bus1_pool *pool, struct vm_area_struct *vma);
int bus1_pool_write(struct bus1_pool *pool, struct bus1_slice *slice,
		    size_t at, struct iov_iter *iter);
int bus1_pool_write_nofault(struct bus1_pool *pool, struct bus1_slice *slice,
			    size_t at, struct iov_iter *iter);
void bus1_pool_show_fdinfo(struct bus1_pool *pool, struct seq_file *m);
void __bus1_pool_give_back(struct bus1_pool *pool, struct bus1_slice *slice,
			   size_t freeing);

/**
 * bus1_pool_give_back() - return pages of a slice that is released
 * @pool:	pool the slice belongs to
 * @slice:	the slice, still allocated, which nobody writes or reads
 *		any more; the caller frees it right after
 *
 * If the pool has more pages than its slices need once @slice is freed,
 * by over BUS1_POOL_KEEP, up to that excess of the pages that lie wholly
 * inside @slice go back to the system, and their charge to the pool's
 * memory cgroup with them. The pages @slice shares with its neighbours
 * stay. A slice that covers no whole page, as every message smaller
 * than a page, costs one comparison. May sleep.
 */
static inline void bus1_pool_give_back(struct bus1_pool *pool,
				       struct bus1_slice *slice)
{
	if (bus1_slice_has_page(slice))
		__bus1_pool_give_back(pool, slice, slice->size);
}

/**
 * bus1_pool_alloc() - allocate a slice of a pool for a message
 * @pool:	pool of the receiver
 * @size:	payload size in bytes
 *
 * Return: the slice, -ENOSPC if no free range of @pool is large enough,
 * -ENOMEM when out of memory.
 */
static inline struct bus1_slice *bus1_pool_alloc(struct bus1_pool *pool,
						 size_t size)
{
	return bus1_slices_alloc(&pool->slices, size);
}

/**
 * bus1_pool_charge() - record the charge of a slice
 * @pool:	pool the slice belongs to
 * @slice:	a slice of bus1_pool_alloc(), not yet published
 * @usage:	where the slice was charged to the pool's quota; the charge
 *		is returned when the slice is freed or released
 */
static inline void bus1_pool_charge(struct bus1_pool *pool,
				    struct bus1_slice *slice,
				    struct bus1_usage *usage)
{
	bus1_slices_charge(&pool->slices, slice, usage);
}

/**
 * bus1_pool_free() - free a slice whose message was never received
 * @pool:	pool the slice belongs to
 * @slice:	the slice, unusable afterwards
 */
static inline void bus1_pool_free(struct bus1_pool *pool,
				  struct bus1_slice *slice)
{
	bus1_slices_free(&pool->slices, slice);
}

/**
 * bus1_pool_publish() - hand the slice of a received message to user space
 * @pool:	pool the slice belongs to
 * @slice:	the slice; user space releases it from now on
 * @release:	a slice of bus1_pool_claim() to release with it, or NULL
 */
static inline void bus1_pool_publish(struct bus1_pool *pool,
				     struct bus1_slice *slice,
				     struct bus1_slice *release)
{
	if (release)
		bus1_pool_give_back(pool, release);
	bus1_slices_publish(&pool->slices, slice, release);
}

int bus1_pool_release(struct bus1_pool *pool, const u64 *offsets, size_t n);

/**
 * bus1_pool_claim() - reserve a published slice for a later release
 * @pool:	pool of the receiver
 * @offset:	offset of the slice, as reported by bus1_recv()
 *
 * Return: the slice, to release with bus1_pool_publish() or
 * bus1_pool_unclaim(), or ERR_PTR(-ENXIO) if @offset names no published
 * slice.
 */
static inline struct bus1_slice *bus1_pool_claim(struct bus1_pool *pool,
						 u64 offset)
{
	return bus1_slices_claim(&pool->slices, offset);
}

/**
 * bus1_pool_unclaim() - release a claimed slice, or give it back
 * @pool:	pool of the receiver
 * @slice:	a slice of bus1_pool_claim()
 * @release:	whether to release it; otherwise user space has it again
 */
static inline void bus1_pool_unclaim(struct bus1_pool *pool,
				     struct bus1_slice *slice, bool release)
{
	if (release)
		bus1_pool_give_back(pool, slice);
	bus1_slices_unclaim(&pool->slices, slice, release);
}

/**
 * bus1_pool_take_charge() - take over the charge of a claimed slice
 * @pool:	pool the slice belongs to
 * @slice:	a slice of bus1_pool_claim()
 * @bytes:	set to the bytes charged for it
 *
 * Return: where the slice was charged, or NULL; see
 * bus1_slices_take_charge().
 */
static inline struct bus1_usage *bus1_pool_take_charge(struct bus1_pool *pool,
						       struct bus1_slice *slice,
						       u64 *bytes)
{
	return bus1_slices_take_charge(&pool->slices, slice, bytes);
}

#endif /* __BUS1_POOL_H */
