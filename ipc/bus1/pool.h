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
 * receiver only while they hold an active reference to the receiver,
 * which keeps the pool from being torn down under them.
 */
struct bus1_pool {
	struct file *file;
	size_t size;
	struct bus1_slices slices;
	struct mem_cgroup *memcg;
};

int bus1_pool_init(struct bus1_pool *pool, size_t size,
		   struct bus1_quota *quota);
void bus1_pool_deinit(struct bus1_pool *pool);
int bus1_pool_check_map(size_t size, unsigned long pgoff,
			unsigned long pages, vm_flags_t vm_flags);
int bus1_pool_mmap(struct bus1_pool *pool, struct vm_area_struct *vma);
struct bus1_slice *bus1_pool_alloc(struct bus1_pool *pool, size_t size);
void bus1_pool_charge(struct bus1_pool *pool, struct bus1_slice *slice,
		      struct bus1_usage *usage);
int bus1_pool_write(struct bus1_pool *pool, struct bus1_slice *slice,
		    size_t at, struct iov_iter *iter);
void bus1_pool_free(struct bus1_pool *pool, struct bus1_slice *slice);
void bus1_pool_publish(struct bus1_pool *pool, struct bus1_slice *slice,
		       struct bus1_slice *release);
int bus1_pool_release(struct bus1_pool *pool, const u64 *offsets, size_t n);
struct bus1_slice *bus1_pool_claim(struct bus1_pool *pool, u64 offset);
void bus1_pool_unclaim(struct bus1_pool *pool, struct bus1_slice *slice,
		       bool release);
void bus1_pool_show_fdinfo(struct bus1_pool *pool, struct seq_file *m);

#endif /* __BUS1_POOL_H */
