// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 slice allocator
 *
 * A receive pool is tiled by slices, allocated or free, kept in offset
 * order. Allocation takes the first free slice that fits and splits off
 * what it needs; freeing merges a slice with free neighbours, so free
 * space never stays split into adjacent pieces. Allocated slices are also
 * kept in a tree by offset, so a release names its slice by offset.
 *
 * The free slices have a list of their own, in offset order: allocation
 * and a free without a free neighbour are linear in the number of free
 * slices, however many messages a receiver holds. The per-user quotas
 * bound both.
 */

#include <linux/align.h>
#include <linux/err.h>
#include <linux/lockdep.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "quota.h"
#include "slice.h"

static bool bus1_slice_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct bus1_slice, rb)->offset <
	       rb_entry(b, struct bus1_slice, rb)->offset;
}

static int bus1_slice_cmp(const void *key, const struct rb_node *n)
{
	size_t offset = *(const size_t *)key;
	size_t other = rb_entry(n, struct bus1_slice, rb)->offset;

	return offset < other ? -1 : offset > other;
}

/**
 * bus1_slices_init() - initialize the allocator of a pool
 * @slices:	allocator to initialize
 * @size:	size of the pool, a multiple of BUS1_SLICE_ALIGN
 * @quota:	where charged slices are charged, or NULL if none will be
 *
 * Return: 0 on success, -ENOMEM when out of memory.
 */
int bus1_slices_init(struct bus1_slices *slices, size_t size,
		     struct bus1_quota *quota)
{
	struct bus1_slice *all;

	if (WARN_ON(!size || !IS_ALIGNED(size, BUS1_SLICE_ALIGN)))
		return -EINVAL;
	all = kzalloc(sizeof(*all), GFP_KERNEL_ACCOUNT);
	if (!all)
		return -ENOMEM;

	spin_lock_init(&slices->lock);
	INIT_LIST_HEAD(&slices->all);
	INIT_LIST_HEAD(&slices->free);
	slices->busy = RB_ROOT;
	slices->size = size;
	slices->allocated = 0;
	slices->n_busy = 0;
	slices->quota = quota;
	INIT_LIST_HEAD(&slices->spares);
	slices->n_spares = 0;
	all->size = size;
	list_add(&all->entry, &slices->all);
	list_add(&all->free_entry, &slices->free);
	return 0;
}

/* Return the charge of @slice, if it has one. */
static void bus1_slice_uncharge(struct bus1_slices *slices,
				struct bus1_slice *slice)
{
	if (slice->usage)
		bus1_quota_uncharge_slice(slices->quota, slice->usage,
					  slice->size);
	slice->usage = NULL;
}

/**
 * bus1_slices_deinit() - free every slice, allocated or not
 * @slices:	allocator to tear down; nobody else uses it any more
 *
 * The charges of the allocated slices are returned.
 */
void bus1_slices_deinit(struct bus1_slices *slices)
{
	struct bus1_slice *slice, *tmp;

	list_for_each_entry_safe(slice, tmp, &slices->all, entry) {
		if (slice->busy)
			bus1_slice_uncharge(slices, slice);
		kfree(slice);
		cond_resched();
	}
	list_for_each_entry_safe(slice, tmp, &slices->spares, entry)
		kfree(slice);
	INIT_LIST_HEAD(&slices->spares);
	slices->n_spares = 0;
	INIT_LIST_HEAD(&slices->all);
	INIT_LIST_HEAD(&slices->free);
	slices->busy = RB_ROOT;
	slices->allocated = 0;
	slices->n_busy = 0;
}

/**
 * bus1_slices_alloc() - allocate a slice
 * @slices:	allocator to take it from
 * @size:	bytes needed; rounded up to BUS1_SLICE_ALIGN, at least that
 *
 * Return: the slice, -ENOSPC if no free range is large enough, -ENOMEM
 * when out of memory.
 */
struct bus1_slice *bus1_slices_alloc(struct bus1_slices *slices, size_t size)
{
	struct bus1_slice *slice, *pos, *new;

	if (size > slices->size)
		return ERR_PTR(-ENOSPC);
	size = ALIGN(max_t(size_t, size, 1), BUS1_SLICE_ALIGN);

	spin_lock(&slices->lock);
	for (;;) {
		slice = NULL;
		list_for_each_entry(pos, &slices->free, free_entry) {
			if (pos->size >= size) {
				slice = pos;
				break;
			}
		}
		/* A split needs a new slice: a spare, which merges refill. */
		if (!slice || slice->size == size || slices->n_spares)
			break;
		/* Refill it without the lock, then look again. */
		spin_unlock(&slices->lock);
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			return ERR_PTR(-ENOMEM);
		spin_lock(&slices->lock);
		if (slices->n_spares < BUS1_SLICES_SPARES) {
			list_add(&new->entry, &slices->spares);
			slices->n_spares++;
		} else {
			kfree(new);
		}
	}
	if (!slice) {
		spin_unlock(&slices->lock);
		return ERR_PTR(-ENOSPC);
	}
	if (slice->size > size) {
		/*
		 * The front of the free slice becomes the allocation; the
		 * rest keeps its place in both lists.
		 */
		new = list_first_entry(&slices->spares, struct bus1_slice,
				       entry);
		list_del(&new->entry);
		slices->n_spares--;
		new->offset = slice->offset;
		new->size = size;
		slice->offset += size;
		slice->size -= size;
		list_add_tail(&new->entry, &slice->entry);
		slice = new;
	} else {
		list_del(&slice->free_entry);
	}
	slice->busy = true;
	rb_add(&slice->rb, &slices->busy, bus1_slice_less);
	WRITE_ONCE(slices->allocated, slices->allocated + slice->size);
	slices->n_busy++;
	spin_unlock(&slices->lock);

	return slice;
}

/*
 * Merge @b, which follows @a, into @a; both free, @b no longer on the free
 * list; lock held.
 */
static void bus1_slices_merge(struct bus1_slices *slices,
			      struct bus1_slice *a, struct bus1_slice *b)
{
	a->size += b->size;
	list_del(&b->entry);
	/* Kept for a later split: each message frees and allocates one. */
	if (slices->n_spares < BUS1_SLICES_SPARES) {
		memset(b, 0, sizeof(*b));
		list_add(&b->entry, &slices->spares);
		slices->n_spares++;
	} else {
		kfree(b);
	}
}

/*
 * Free the allocated @slice, return its charge, and merge it with free
 * neighbours; lock held.
 */
static void bus1_slices_unlink(struct bus1_slices *slices,
			       struct bus1_slice *slice)
{
	struct bus1_slice *next = NULL, *prev = NULL, *f;
	bool next_free, prev_free;

	lockdep_assert_held(&slices->lock);
	bus1_slice_uncharge(slices, slice);
	rb_erase(&slice->rb, &slices->busy);
	slice->busy = false;
	slice->published = false;
	WRITE_ONCE(slices->allocated, slices->allocated - slice->size);
	slices->n_busy--;

	if (!list_is_last(&slice->entry, &slices->all))
		next = list_next_entry(slice, entry);
	if (!list_is_first(&slice->entry, &slices->all))
		prev = list_prev_entry(slice, entry);
	next_free = next && !next->busy;
	prev_free = prev && !prev->busy;
	if (next_free) {
		/* @slice takes the place of @next on the free list. */
		list_replace(&next->free_entry, &slice->free_entry);
		bus1_slices_merge(slices, slice, next);
	} else if (!prev_free) {
		/* No free neighbour: find its place on the free list. */
		list_for_each_entry(f, &slices->free, free_entry)
			if (f->offset > slice->offset)
				break;
		list_add_tail(&slice->free_entry, &f->free_entry);
	}
	if (prev_free) {
		/* @prev is on the free list already. */
		if (next_free)
			list_del(&slice->free_entry);
		bus1_slices_merge(slices, prev, slice);
	}
}

/* The allocated slice at @offset, or NULL; lock held. */
static struct bus1_slice *bus1_slices_find(struct bus1_slices *slices,
					   u64 offset)
{
	struct rb_node *n;
	size_t off = offset;

	lockdep_assert_held(&slices->lock);
	if (off != offset)
		return NULL;
	n = rb_find(&off, &slices->busy, bus1_slice_cmp);
	return n ? rb_entry(n, struct bus1_slice, rb) : NULL;
}

/**
 * bus1_slices_usage() - how much of a pool is allocated
 * @slices:	allocator to look at
 * @allocated:	set to the number of bytes allocated
 * @n_busy:	set to the number of allocated slices
 */
void bus1_slices_usage(struct bus1_slices *slices, size_t *allocated,
		       size_t *n_busy)
{
	spin_lock(&slices->lock);
	*allocated = slices->allocated;
	*n_busy = slices->n_busy;
	spin_unlock(&slices->lock);
}

/**
 * bus1_slices_publish() - hand an allocated slice over to the receiver
 * @slices:	allocator the slice came from
 * @slice:	the slice, whose message was just received
 * @release:	a slice claimed with bus1_slices_claim() to free at the same
 *		time, or NULL
 *
 * From now on the receiver, and only the receiver, releases @slice. A
 * receive that hands back the previous slice does both under one lock.
 */
void bus1_slices_publish(struct bus1_slices *slices, struct bus1_slice *slice,
			 struct bus1_slice *release)
{
	spin_lock(&slices->lock);
	slice->published = true;
	if (release)
		bus1_slices_unlink(slices, release);
	spin_unlock(&slices->lock);
}

/**
 * bus1_slices_free() - free an allocated slice that was never published
 * @slices:	allocator the slice came from
 * @slice:	the slice; it must not be used afterwards
 *
 * Used when a send fails and when a queued message is flushed.
 */
void bus1_slices_free(struct bus1_slices *slices, struct bus1_slice *slice)
{
	spin_lock(&slices->lock);
	bus1_slices_unlink(slices, slice);
	spin_unlock(&slices->lock);
}

/**
 * bus1_slices_release() - release published slices by offset
 * @slices:	allocator the slices came from
 * @offsets:	offsets of the slices
 * @n:		number of offsets
 * @keep:	list for the slices that cover a whole page, or NULL
 *
 * All or nothing: if one offset does not name a published slice, or names
 * one already named earlier in @offsets, no slice is released.
 *
 * With @keep, a slice that covers a whole page (bus1_slice_has_page()) is
 * not freed but added to @keep by its @free_entry, allocated and no
 * longer published, so that the caller can give its pages back before it
 * frees it with bus1_slices_free_list().
 *
 * Return: 0 on success, -ENXIO if an offset names no published slice.
 */
int bus1_slices_release(struct bus1_slices *slices, const u64 *offsets,
			size_t n, struct list_head *keep)
{
	struct bus1_slice *slice;
	size_t i;

	spin_lock(&slices->lock);
	/* Mark each slice by unpublishing it, so a repeated offset fails. */
	for (i = 0; i < n; i++) {
		slice = bus1_slices_find(slices, offsets[i]);
		if (!slice || !slice->published)
			break;
		slice->published = false;
	}
	if (i < n) {
		while (i--)
			bus1_slices_find(slices, offsets[i])->published = true;
		spin_unlock(&slices->lock);
		return -ENXIO;
	}
	for (i = 0; i < n; i++) {
		slice = bus1_slices_find(slices, offsets[i]);
		if (keep && bus1_slice_has_page(slice))
			list_add_tail(&slice->free_entry, keep);
		else
			bus1_slices_unlink(slices, slice);
	}
	spin_unlock(&slices->lock);
	return 0;
}

/**
 * bus1_slices_free_list() - free the slices bus1_slices_release() kept
 * @slices:	allocator the slices came from
 * @list:	the slices, linked by @free_entry; emptied
 */
void bus1_slices_free_list(struct bus1_slices *slices, struct list_head *list)
{
	struct bus1_slice *slice, *tmp;

	spin_lock(&slices->lock);
	list_for_each_entry_safe(slice, tmp, list, free_entry) {
		list_del(&slice->free_entry);
		bus1_slices_unlink(slices, slice);
	}
	spin_unlock(&slices->lock);
}

/**
 * bus1_slices_claim() - take a published slice away from user space
 * @slices:	allocator the slice came from
 * @offset:	offset of the slice
 *
 * A claimed slice can no longer be released by offset, until its claimer
 * frees it (bus1_slices_publish() or bus1_slices_unclaim()) or gives it
 * back with bus1_slices_unclaim(). Until then it stays where it is, and
 * the claimer may keep the returned pointer.
 *
 * Return: the slice, or ERR_PTR(-ENXIO) if @offset names no published
 * slice.
 */
struct bus1_slice *bus1_slices_claim(struct bus1_slices *slices, u64 offset)
{
	struct bus1_slice *slice;

	spin_lock(&slices->lock);
	slice = bus1_slices_find(slices, offset);
	if (slice && slice->published)
		slice->published = false;
	else
		slice = ERR_PTR(-ENXIO);
	spin_unlock(&slices->lock);
	return slice;
}

/**
 * bus1_slices_unclaim() - finish with a claimed slice
 * @slices:	allocator the slice came from
 * @slice:	a slice of bus1_slices_claim()
 * @release:	free the slice; otherwise it is published again
 */
void bus1_slices_unclaim(struct bus1_slices *slices, struct bus1_slice *slice,
			 bool release)
{
	spin_lock(&slices->lock);
	if (release)
		bus1_slices_unlink(slices, slice);
	else
		slice->published = true;
	spin_unlock(&slices->lock);
}
