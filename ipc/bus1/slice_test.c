// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bus1 slice allocator.
 */

#include <kunit/test.h>
#include <linux/err.h>
#include "slice.h"

#define TEST_SIZE	4096

static void slices_setup(struct kunit *test, struct bus1_slices *slices)
{
	KUNIT_ASSERT_EQ(test, bus1_slices_init(slices, TEST_SIZE, NULL), 0);
}

/* Allocate a slice and publish it, as a received message would be. */
static size_t alloc_offset(struct kunit *test, struct bus1_slices *slices,
			   size_t size)
{
	struct bus1_slice *slice = bus1_slices_alloc(slices, size);

	KUNIT_ASSERT_FALSE(test, IS_ERR(slice));
	KUNIT_EXPECT_EQ(test, slice->offset % BUS1_SLICE_ALIGN, 0UL);
	KUNIT_EXPECT_GE(test, slice->size, size);
	bus1_slices_publish(slices, slice, NULL);
	return slice->offset;
}

static int release(struct bus1_slices *slices, u64 offset)
{
	return bus1_slices_release(slices, &offset, 1, NULL);
}

static void bus1_slice_test_aligned_and_packed(struct kunit *test)
{
	struct bus1_slices s;

	slices_setup(test, &s);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 1), 0UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 0), 8UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 100), 16UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 8), 120UL);
	KUNIT_EXPECT_EQ(test, s.allocated, 128UL);
	KUNIT_EXPECT_EQ(test, s.n_busy, 4UL);
	bus1_slices_deinit(&s);
}

static void bus1_slice_test_full(struct kunit *test)
{
	struct bus1_slices s;
	int i;

	slices_setup(test, &s);
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_alloc(&s, TEST_SIZE + 1),
			    ERR_PTR(-ENOSPC));
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_alloc(&s, SIZE_MAX),
			    ERR_PTR(-ENOSPC));
	for (i = 0; i < 4; i++)
		alloc_offset(test, &s, TEST_SIZE / 4);
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_alloc(&s, 1), ERR_PTR(-ENOSPC));
	KUNIT_EXPECT_EQ(test, s.allocated, (size_t)TEST_SIZE);

	/* Draining makes the whole pool available again. */
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, release(&s, i * TEST_SIZE / 4), 0);
	KUNIT_EXPECT_EQ(test, s.allocated, 0UL);
	KUNIT_EXPECT_TRUE(test, list_is_singular(&s.all));
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, TEST_SIZE), 0UL);
	bus1_slices_deinit(&s);
}

static void bus1_slice_test_reuse_and_merge(struct kunit *test)
{
	struct bus1_slices s;
	size_t a, b, c;

	slices_setup(test, &s);
	a = alloc_offset(test, &s, 1024);
	b = alloc_offset(test, &s, 1024);
	c = alloc_offset(test, &s, 1024);

	/* A freed hole is reused, first fit. */
	KUNIT_EXPECT_EQ(test, release(&s, b), 0);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 512), b);
	KUNIT_EXPECT_EQ(test, release(&s, b), 0);

	/* Neighbours merge: two freed 1 KiB slices hold 2 KiB again. */
	KUNIT_EXPECT_EQ(test, release(&s, a), 0);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 2048), a);
	/* And c with the free tail behind it. */
	KUNIT_EXPECT_EQ(test, release(&s, c), 0);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 2048), c);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&s.all), 2UL);
	bus1_slices_deinit(&s);
}

/* The free list holds exactly the free slices of @slices, by offset. */
static void check_free_list(struct kunit *test, struct bus1_slices *slices)
{
	struct list_head *f = &slices->free;
	struct bus1_slice *slice;

	list_for_each_entry(slice, &slices->all, entry) {
		if (slice->busy)
			continue;
		f = f->next;
		KUNIT_ASSERT_PTR_EQ(test, f, &slice->free_entry);
	}
	KUNIT_EXPECT_PTR_EQ(test, f->next, &slices->free);
}

/*
 * Holes freed in any order, next to busy or free neighbours, keep the
 * free list in step with the pool, and allocation still takes the first
 * hole that fits.
 */
static void bus1_slice_test_free_list(struct kunit *test)
{
	static const int order[] = { 5, 1, 9, 3, 14, 7, 2, 12, 0, 15, 8, 4 };
	struct bus1_slices s;
	unsigned int i;

	slices_setup(test, &s);
	for (i = 0; i < 16; i++)
		KUNIT_ASSERT_EQ(test, alloc_offset(test, &s, 64), i * 64UL);
	check_free_list(test, &s);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		KUNIT_ASSERT_EQ(test, release(&s, order[i] * 64), 0);
		check_free_list(test, &s);
	}
	/* Free now: 0-5, 7-9, 12, 14-15 and the tail from 1024. */
	KUNIT_EXPECT_EQ(test, list_count_nodes(&s.free), 4UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 256), 0UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 192), 448UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 64), 256UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 128), 896UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 100), 1024UL);
	KUNIT_EXPECT_EQ(test, alloc_offset(test, &s, 64), 320UL);
	check_free_list(test, &s);
	bus1_slices_deinit(&s);
}

/*
 * Merges keep at most BUS1_SLICES_SPARES slice structures; splits use
 * them up before they allocate again. kmemleak sees any the teardown
 * misses.
 */
static void bus1_slice_test_spares(struct kunit *test)
{
	const size_t n = BUS1_SLICES_SPARES + 16;
	struct bus1_slices s;
	size_t i;

	slices_setup(test, &s);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, alloc_offset(test, &s, 8), i * 8);
	KUNIT_EXPECT_EQ(test, s.n_spares, 0U);
	/* Every release but the first merges with a free neighbour. */
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, release(&s, i * 8), 0);
	KUNIT_EXPECT_TRUE(test, list_is_singular(&s.all));
	KUNIT_EXPECT_EQ(test, s.n_spares, (unsigned int)BUS1_SLICES_SPARES);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&s.spares),
			(size_t)BUS1_SLICES_SPARES);
	for (i = 0; i < BUS1_SLICES_SPARES; i++)
		KUNIT_ASSERT_EQ(test, alloc_offset(test, &s, 8), i * 8);
	KUNIT_EXPECT_EQ(test, s.n_spares, 0U);
	/* Out of spares, a split allocates again. */
	for (; i < n; i++)
		KUNIT_ASSERT_EQ(test, alloc_offset(test, &s, 8), i * 8);
	KUNIT_EXPECT_EQ(test, s.n_busy, n);
	check_free_list(test, &s);
	bus1_slices_deinit(&s);
}

static void bus1_slice_test_release_errors(struct kunit *test)
{
	struct bus1_slices s;
	size_t a;

	slices_setup(test, &s);
	a = alloc_offset(test, &s, 64);
	alloc_offset(test, &s, 64);
	/* Inside a slice, in free space, past the end: none is a slice. */
	KUNIT_EXPECT_EQ(test, release(&s, a + 8), -ENXIO);
	KUNIT_EXPECT_EQ(test, release(&s, 1024), -ENXIO);
	KUNIT_EXPECT_EQ(test, release(&s, SIZE_MAX), -ENXIO);
	KUNIT_EXPECT_EQ(test, release(&s, a), 0);
	/* Twice is once too many. */
	KUNIT_EXPECT_EQ(test, release(&s, a), -ENXIO);
	KUNIT_EXPECT_EQ(test, s.n_busy, 1UL);
	/* Tearing down with a slice still allocated frees it too. */
	bus1_slices_deinit(&s);
}

static void bus1_slice_test_unpublished(struct kunit *test)
{
	struct bus1_slices s;
	struct bus1_slice *queued;
	size_t a;

	slices_setup(test, &s);
	/* A slice whose message is still queued is not the receiver's. */
	queued = bus1_slices_alloc(&s, 64);
	KUNIT_ASSERT_FALSE(test, IS_ERR(queued));
	KUNIT_EXPECT_EQ(test, release(&s, queued->offset), -ENXIO);
	a = alloc_offset(test, &s, 64);
	/* A flushed message frees its slice by pointer; neighbours merge. */
	bus1_slices_free(&s, queued);
	KUNIT_EXPECT_EQ(test, s.n_busy, 1UL);
	KUNIT_EXPECT_EQ(test, release(&s, a), 0);
	KUNIT_EXPECT_EQ(test, s.allocated, 0UL);
	KUNIT_EXPECT_TRUE(test, list_is_singular(&s.all));
	bus1_slices_deinit(&s);
}

static void bus1_slice_test_release_all_or_nothing(struct kunit *test)
{
	struct bus1_slices s;
	u64 off[3];

	slices_setup(test, &s);
	off[0] = alloc_offset(test, &s, 64);
	off[1] = alloc_offset(test, &s, 64);
	off[2] = off[0];
	/* A repeated offset fails the whole call; nothing is released. */
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 3, NULL), -ENXIO);
	KUNIT_EXPECT_EQ(test, s.n_busy, 2UL);
	/* So does an unknown one at the end. */
	off[2] = 4000;
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 3, NULL), -ENXIO);
	KUNIT_EXPECT_EQ(test, s.n_busy, 2UL);
	/* An offset that does not fit in size_t names no slice either. */
	off[2] = U64_MAX;
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 3, NULL), -ENXIO);
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 2, NULL), 0);
	KUNIT_EXPECT_EQ(test, s.n_busy, 0UL);
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 0, NULL), 0);
	bus1_slices_deinit(&s);
}

/*
 * With a list to keep them, a release keeps the slices that cover a whole
 * page, allocated and unpublished, for the pool to give their pages back;
 * the others are freed at once.
 */
static void bus1_slice_test_release_keeps_pages(struct kunit *test)
{
	struct bus1_slice *slice;
	struct bus1_slices s;
	LIST_HEAD(keep);
	u64 off[3];

	KUNIT_ASSERT_EQ(test, bus1_slices_init(&s, 4 * PAGE_SIZE, NULL), 0);
	off[0] = alloc_offset(test, &s, 64);
	/* From 64 to 64 + 2 pages: the second page is all its own. */
	off[1] = alloc_offset(test, &s, 2 * PAGE_SIZE);
	/* One page long, but across two. */
	off[2] = alloc_offset(test, &s, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, bus1_slices_release(&s, off, 3, &keep), 0);
	KUNIT_EXPECT_EQ(test, s.n_busy, 1UL);
	KUNIT_ASSERT_TRUE(test, list_is_singular(&keep));
	slice = list_first_entry(&keep, struct bus1_slice, free_entry);
	KUNIT_EXPECT_EQ(test, (u64)slice->offset, off[1]);
	KUNIT_EXPECT_FALSE(test, slice->published);
	/* Released already: user space cannot name it again. */
	KUNIT_EXPECT_EQ(test, release(&s, off[1]), -ENXIO);
	bus1_slices_free_list(&s, &keep);
	KUNIT_EXPECT_TRUE(test, list_empty(&keep));
	KUNIT_EXPECT_EQ(test, s.n_busy, 0UL);
	KUNIT_EXPECT_EQ(test, s.allocated, 0UL);
	bus1_slices_deinit(&s);
}

/* A claimed slice cannot be released by offset until it is given back. */
static void bus1_slice_test_claim(struct kunit *test)
{
	struct bus1_slice *sa, *sb, *sc, *next;
	struct bus1_slices s;
	u64 a, b, c;

	slices_setup(test, &s);
	a = alloc_offset(test, &s, 64);
	b = alloc_offset(test, &s, 64);
	sa = bus1_slices_claim(&s, a);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sa));
	KUNIT_EXPECT_EQ(test, sa->offset, a);
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_claim(&s, a), ERR_PTR(-ENXIO));
	KUNIT_EXPECT_EQ(test, release(&s, a), -ENXIO);
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_claim(&s, 8), ERR_PTR(-ENXIO));
	KUNIT_EXPECT_PTR_EQ(test, bus1_slices_claim(&s, U64_MAX),
			    ERR_PTR(-ENXIO));

	/* Given back, it is released as any other; kept, it is freed. */
	bus1_slices_unclaim(&s, sa, false);
	KUNIT_EXPECT_EQ(test, s.n_busy, 2UL);
	KUNIT_EXPECT_EQ(test, release(&s, a), 0);
	sb = bus1_slices_claim(&s, b);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sb));
	bus1_slices_unclaim(&s, sb, true);
	KUNIT_EXPECT_EQ(test, s.n_busy, 0UL);
	KUNIT_EXPECT_EQ(test, s.allocated, 0UL);
	KUNIT_EXPECT_EQ(test, release(&s, b), -ENXIO);

	/* Publishing the next slice frees the claimed one with it. */
	c = alloc_offset(test, &s, 64);
	sc = bus1_slices_claim(&s, c);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sc));
	next = bus1_slices_alloc(&s, 64);
	KUNIT_ASSERT_FALSE(test, IS_ERR(next));
	bus1_slices_publish(&s, next, sc);
	KUNIT_EXPECT_EQ(test, s.n_busy, 1UL);
	KUNIT_EXPECT_EQ(test, release(&s, c), -ENXIO);
	KUNIT_EXPECT_EQ(test, release(&s, next->offset), 0);
	KUNIT_EXPECT_EQ(test, s.n_busy, 0UL);
	bus1_slices_deinit(&s);
}

static struct kunit_case bus1_slice_test_cases[] = {
	KUNIT_CASE(bus1_slice_test_aligned_and_packed),
	KUNIT_CASE(bus1_slice_test_full),
	KUNIT_CASE(bus1_slice_test_reuse_and_merge),
	KUNIT_CASE(bus1_slice_test_free_list),
	KUNIT_CASE(bus1_slice_test_spares),
	KUNIT_CASE(bus1_slice_test_release_errors),
	KUNIT_CASE(bus1_slice_test_unpublished),
	KUNIT_CASE(bus1_slice_test_release_all_or_nothing),
	KUNIT_CASE(bus1_slice_test_release_keeps_pages),
	KUNIT_CASE(bus1_slice_test_claim),
	{}
};

static struct kunit_suite bus1_slice_test_suite = {
	.name = "bus1-slice",
	.test_cases = bus1_slice_test_cases,
};

kunit_test_suite(bus1_slice_test_suite);

MODULE_DESCRIPTION("KUnit tests for the bus1 slice allocator");
MODULE_LICENSE("GPL");
