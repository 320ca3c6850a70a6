/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_POOL_H
#define __BUS1_POOL_H

/*
 * The receive pool of a peer: a shmem file the kernel writes messages into
 * and the peer maps read-only.
 */

#include <linux/types.h>

struct file;
struct seq_file;
struct vm_area_struct;

/**
 * struct bus1_pool - receive pool of one peer
 * @file:	backing shmem file, one reference owned by the pool; every
 *		mapping of the pool holds a reference of its own, so the
 *		memory outlives the peer while user space still maps it
 * @size:	size of @file in bytes, fixed at creation
 *
 * A pool is embedded in its peer and shares its lifetime. @file and @size
 * are set once by bus1_pool_init() and never change, so reading them needs
 * no lock.
 */
struct bus1_pool {
	struct file *file;
	size_t size;
};

int bus1_pool_init(struct bus1_pool *pool, size_t size);
void bus1_pool_deinit(struct bus1_pool *pool);
int bus1_pool_check_map(size_t size, unsigned long pgoff,
			unsigned long pages, vm_flags_t vm_flags);
int bus1_pool_mmap(struct bus1_pool *pool, struct vm_area_struct *vma);
void bus1_pool_show_fdinfo(struct bus1_pool *pool, struct seq_file *m);

#endif /* __BUS1_POOL_H */
