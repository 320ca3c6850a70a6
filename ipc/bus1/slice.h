/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_SLICE_H
#define __BUS1_SLICE_H

/*
 * The slice allocator of a receive pool: it hands out 8-byte aligned
 * ranges of the pool for messages, first fit, and merges freed neighbours.
 */

#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define BUS1_SLICE_ALIGN	8

/**
 * struct bus1_slice - a range of a pool, allocated or free
 * @entry:	link in bus1_slices.all
 * @rb:		link in bus1_slices.busy while allocated
 * @offset:	start in the pool, a multiple of BUS1_SLICE_ALIGN
 * @size:	length in bytes, a multiple of BUS1_SLICE_ALIGN
 * @busy:	whether the range is allocated
 * @published:	whether the receiver was told about it, which makes it
 *		the receiver's to release
 *
 * Protected by the lock of the allocator the slice belongs to.
 */
struct bus1_slice {
	struct list_head entry;
	struct rb_node rb;
	size_t offset;
	size_t size;
	bool busy;
	bool published;
};

/**
 * struct bus1_slices - slice allocator of one pool
 * @lock:	protects every field and every slice
 * @all:	all slices, allocated and free, tiling the pool by offset
 * @busy:	allocated slices by offset
 * @size:	size of the pool
 * @allocated:	bytes allocated
 * @n_busy:	number of allocated slices
 *
 * Embedded in a pool; only the allocator's own lock is taken.
 */
struct bus1_slices {
	spinlock_t lock;	/* guards the fields and all slices */
	struct list_head all;
	struct rb_root busy;
	size_t size;
	size_t allocated;
	size_t n_busy;
};

int bus1_slices_init(struct bus1_slices *slices, size_t size);
void bus1_slices_deinit(struct bus1_slices *slices);
struct bus1_slice *bus1_slices_alloc(struct bus1_slices *slices, size_t size);
void bus1_slices_usage(struct bus1_slices *slices, size_t *allocated,
		       size_t *n_busy);
void bus1_slices_publish(struct bus1_slices *slices, struct bus1_slice *slice);
void bus1_slices_free(struct bus1_slices *slices, struct bus1_slice *slice);
int bus1_slices_release(struct bus1_slices *slices, const u64 *offsets,
			size_t n);

#endif /* __BUS1_SLICE_H */
