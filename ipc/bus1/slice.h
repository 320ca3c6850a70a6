/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_SLICE_H
#define __BUS1_SLICE_H

/*
 * The slice allocator of a receive pool: it hands out 8-byte aligned
 * ranges of the pool for messages, first fit, and merges freed neighbours.
 */

#include <linux/list.h>
#include <linux/math.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct bus1_quota;
struct bus1_usage;

#define BUS1_SLICE_ALIGN	8

/*
 * Slice structures an allocator keeps when merges free them: a receiver
 * that releases a batch of messages frees that many, and the next batch
 * sent to it splits as many again. Without the spares each of those is
 * a kfree() on the receiver's CPU and a kzalloc() on the sender's.
 */
#define BUS1_SLICES_SPARES	64

/**
 * struct bus1_slice - a range of a pool, allocated or free
 * @entry:	link in bus1_slices.all, or in bus1_slices.spares while the
 *		structure is kept for a later split
 * @free_entry:	link in bus1_slices.free while free; while allocated, a
 *		link in a list private to whoever releases it
 *		(bus1_slices_release())
 * @rb:		link in bus1_slices.busy while allocated
 * @offset:	start in the pool, a multiple of BUS1_SLICE_ALIGN
 * @size:	length in bytes, a multiple of BUS1_SLICE_ALIGN
 * @busy:	whether the range is allocated
 * @published:	whether the receiver was told about it, which makes it
 *		the receiver's to release; cleared while a receiver holds
 *		it claimed (bus1_slices_claim())
 * @usage:	where its bytes and the slice itself are charged, or NULL;
 *		set by the owner of the allocation before it is published,
 *		without the lock (bus1_slices_charge()), returned when the
 *		slice is freed, or taken over before that, again without
 *		the lock, by the receiver that claimed it
 *		(bus1_slices_take_charge())
 *
 * Protected by the lock of the allocator the slice belongs to.
 */
struct bus1_slice {
	struct list_head entry;
	struct list_head free_entry;
	struct rb_node rb;
	size_t offset;
	size_t size;
	bool busy;
	bool published;
	struct bus1_usage *usage;
};

/**
 * struct bus1_slices - slice allocator of one pool
 * @lock:	protects every field and every slice
 * @all:	all slices, allocated and free, tiling the pool by offset
 * @free:	the free slices, by offset
 * @busy:	allocated slices by offset
 * @size:	size of the pool
 * @allocated:	bytes allocated
 * @n_busy:	number of allocated slices
 * @quota:	the quota that charged slices are charged to, or NULL
 * @spares:	slice structures no range uses, kept for later splits,
 *		at most BUS1_SLICES_SPARES
 * @n_spares:	number of entries in @spares
 *
 * Embedded in a pool. Freeing a charged slice returns its charge under
 * the allocator's lock, which takes the quota's lock and maybe its
 * user's; no other lock is taken under it.
 */
struct bus1_slices {
	spinlock_t lock;	/* guards the fields and all slices */
	struct list_head all;
	struct list_head free;
	struct rb_root busy;
	size_t size;
	size_t allocated;
	size_t n_busy;
	struct bus1_quota *quota;
	struct list_head spares;
	unsigned int n_spares;
};

/*
 * Whether @slice covers a whole page of its pool: pages that no other
 * slice shares, which its release can give back. Messages of a few KiB
 * and less cover none, so that their release costs this test only.
 */
static inline bool bus1_slice_has_page(const struct bus1_slice *slice)
{
	return round_up(slice->offset, PAGE_SIZE) + PAGE_SIZE <=
	       slice->offset + slice->size;
}

int bus1_slices_init(struct bus1_slices *slices, size_t size,
		     struct bus1_quota *quota);
void bus1_slices_deinit(struct bus1_slices *slices);
struct bus1_slice *bus1_slices_alloc(struct bus1_slices *slices, size_t size);
void bus1_slices_usage(struct bus1_slices *slices, size_t *allocated,
		       size_t *n_busy);
void bus1_slices_publish(struct bus1_slices *slices, struct bus1_slice *slice,
			 struct bus1_slice *release);
void bus1_slices_free(struct bus1_slices *slices, struct bus1_slice *slice);
int bus1_slices_release(struct bus1_slices *slices, const u64 *offsets,
			size_t n, struct list_head *keep);
void bus1_slices_free_list(struct bus1_slices *slices, struct list_head *list);
struct bus1_slice *bus1_slices_claim(struct bus1_slices *slices, u64 offset);
void bus1_slices_unclaim(struct bus1_slices *slices, struct bus1_slice *slice,
			 bool release);

/**
 * bus1_slices_charge() - record the charge of an allocated slice
 * @slices:	allocator the slice came from
 * @slice:	the slice, not yet published
 * @usage:	where its bytes and the slice itself were charged to the
 *		allocator's quota; returned when the slice is freed
 *
 * No lock is needed: until the allocating sender publishes the slice or
 * frees it, nobody else looks at it. Its neighbours merge only with free
 * slices, release and claim take only published ones, and the allocator
 * is torn down only once no sender uses the pool any more. Whoever looks
 * at the slice later learned of it through a lock taken after this.
 */
static inline void bus1_slices_charge(struct bus1_slices *slices,
				      struct bus1_slice *slice,
				      struct bus1_usage *usage)
{
	slice->usage = usage;
}

/**
 * bus1_slices_take_charge() - take over the charge of a claimed slice
 * @slices:	allocator the slice came from
 * @slice:	a slice of bus1_slices_claim()
 * @bytes:	set to the bytes charged for it
 *
 * The caller returns the charge itself, and the slice is freed without
 * one. No lock is needed: nobody but its claimer touches a claimed slice.
 *
 * Return: where the slice was charged, or NULL if it was not.
 */
static inline struct bus1_usage *
bus1_slices_take_charge(struct bus1_slices *slices, struct bus1_slice *slice,
			u64 *bytes)
{
	struct bus1_usage *usage = slice->usage;

	slice->usage = NULL;
	*bytes = slice->size;
	return usage;
}

#endif /* __BUS1_SLICE_H */
