// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bus1 receive pool.
 */

#include <kunit/test.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagevec.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include "pool.h"

#define TEST_POOL_SIZE	(4 * PAGE_SIZE)

/*
 * Reading a pool back (kernel_read()) and punching holes in it
 * (vfs_fallocate()) take the file operations of tmpfs, which a kernel with
 * shmem but without tmpfs lacks.
 */
static void bus1_pool_test_need_tmpfs(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_TMPFS))
		kunit_skip(test, "needs CONFIG_TMPFS to read the pool back");
}

static void bus1_pool_test_init(struct kunit *test)
{
	struct bus1_pool pool = {};

	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, TEST_POOL_SIZE, NULL), 0);
	KUNIT_ASSERT_NOT_NULL(test, pool.file);
	KUNIT_EXPECT_EQ(test, pool.size, TEST_POOL_SIZE);
	KUNIT_EXPECT_EQ(test, i_size_read(file_inode(pool.file)),
			(loff_t)TEST_POOL_SIZE);
	/* Nothing is allocated before the kernel writes a message. */
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages, 0UL);
	bus1_pool_deinit(&pool);
	KUNIT_EXPECT_NULL(test, pool.file);
}

static void bus1_pool_test_deinit_drops_reference(struct kunit *test)
{
	struct bus1_pool pool = {};
	struct file *file;

	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, TEST_POOL_SIZE, NULL), 0);
	/* Stand in for a mapping that outlives the pool. */
	file = get_file(pool.file);
	KUNIT_EXPECT_EQ(test, file_count(file), 2L);
	bus1_pool_deinit(&pool);
	KUNIT_EXPECT_EQ(test, file_count(file), 1L);
	fput(file);
}

static void bus1_pool_test_map_read_only(struct kunit *test)
{
	unsigned long pages = TEST_POOL_SIZE >> PAGE_SHIFT;

	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 0, pages,
						  VM_READ | VM_SHARED), 0);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 0, pages,
						  VM_READ | VM_WRITE | VM_SHARED),
			-EPERM);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 0, 1,
						  VM_WRITE), -EPERM);
}

static void bus1_pool_test_map_bounds(struct kunit *test)
{
	unsigned long pages = TEST_POOL_SIZE >> PAGE_SHIFT;

	/* The last page alone, and the whole pool, fit. */
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, pages - 1, 1,
						  VM_READ), 0);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 0, pages,
						  VM_READ), 0);
	/* One page too many, or starting past the end, does not. */
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 0, pages + 1,
						  VM_READ), -EINVAL);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, pages, 1,
						  VM_READ), -EINVAL);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 1, pages,
						  VM_READ), -EINVAL);
	/* Offset plus length must not wrap around. */
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, 1, ULONG_MAX,
						  VM_READ), -EINVAL);
	KUNIT_EXPECT_EQ(test, bus1_pool_check_map(TEST_POOL_SIZE, ULONG_MAX, 2,
						  VM_READ), -EINVAL);
}

/* A payload in two pieces lands in a slice that crosses a page boundary. */
static void bus1_pool_test_write(struct kunit *test)
{
	struct bus1_pool pool = {};
	struct bus1_slice *pad, *slice;
	char head[16] = "0123456789abcde", *tail, *back;
	struct kvec vec[2];
	struct iov_iter iter;
	size_t len = sizeof(head) + PAGE_SIZE;
	loff_t pos;

	bus1_pool_test_need_tmpfs(test);
	tail = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	back = kunit_kzalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tail);
	KUNIT_ASSERT_NOT_NULL(test, back);
	memset(tail, 'x', PAGE_SIZE);

	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, TEST_POOL_SIZE, NULL), 0);
	pad = bus1_pool_alloc(&pool, PAGE_SIZE - 8);
	slice = bus1_pool_alloc(&pool, len);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pad));
	KUNIT_ASSERT_FALSE(test, IS_ERR(slice));
	KUNIT_EXPECT_EQ(test, slice->offset, PAGE_SIZE - 8);

	vec[0] = (struct kvec){ .iov_base = head, .iov_len = sizeof(head) };
	vec[1] = (struct kvec){ .iov_base = tail, .iov_len = PAGE_SIZE };
	iov_iter_kvec(&iter, ITER_SOURCE, vec, 2, len);
	KUNIT_EXPECT_EQ(test, bus1_pool_write(&pool, slice, 0, &iter), 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), 0UL);

	pos = slice->offset;
	KUNIT_EXPECT_EQ(test, kernel_read(pool.file, back, len, &pos),
			(ssize_t)len);
	KUNIT_EXPECT_EQ(test, memcmp(back, head, sizeof(head)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(back + sizeof(head), tail, PAGE_SIZE), 0);
	/* Only the three pages the slice touches were allocated. */
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages, 3UL);

	bus1_pool_free(&pool, slice);
	bus1_pool_free(&pool, pad);
	bus1_pool_deinit(&pool);
}

/* Write @str into @slice of @pool at @at. */
static int write_str(struct bus1_pool *pool, struct bus1_slice *slice,
		     size_t at, const char *str)
{
	struct kvec vec = { .iov_base = (void *)str, .iov_len = strlen(str) };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_SOURCE, &vec, 1, vec.iov_len);
	return bus1_pool_write(pool, slice, at, &iter);
}

/*
 * Small writes that follow each other in one folio, and one in a folio
 * further on, each land where they belong and allocate only their folio.
 */
static void bus1_pool_test_write_small(struct kunit *test)
{
	struct bus1_pool pool = {};
	struct bus1_slice *a, *b, *far;
	char back[4];
	loff_t pos;

	bus1_pool_test_need_tmpfs(test);
	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, TEST_POOL_SIZE, NULL), 0);
	a = bus1_pool_alloc(&pool, 8);
	b = bus1_pool_alloc(&pool, 2 * PAGE_SIZE);
	far = bus1_pool_alloc(&pool, 8);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a));
	KUNIT_ASSERT_FALSE(test, IS_ERR(b));
	KUNIT_ASSERT_FALSE(test, IS_ERR(far));
	KUNIT_ASSERT_EQ(test, far->offset >> PAGE_SHIFT, 2UL);

	KUNIT_EXPECT_EQ(test, write_str(&pool, a, 0, "abc"), 0);
	KUNIT_EXPECT_EQ(test, write_str(&pool, b, 0, "def"), 0);
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages, 1UL);
	KUNIT_EXPECT_EQ(test, write_str(&pool, far, 0, "ghi"), 0);
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages, 2UL);

	pos = a->offset;
	KUNIT_EXPECT_EQ(test, kernel_read(pool.file, back, 3, &pos), 3L);
	KUNIT_EXPECT_EQ(test, memcmp(back, "abc", 3), 0);
	pos = b->offset;
	KUNIT_EXPECT_EQ(test, kernel_read(pool.file, back, 3, &pos), 3L);
	KUNIT_EXPECT_EQ(test, memcmp(back, "def", 3), 0);
	pos = far->offset;
	KUNIT_EXPECT_EQ(test, kernel_read(pool.file, back, 3, &pos), 3L);
	KUNIT_EXPECT_EQ(test, memcmp(back, "ghi", 3), 0);

	bus1_pool_free(&pool, far);
	bus1_pool_free(&pool, b);
	bus1_pool_free(&pool, a);
	bus1_pool_deinit(&pool);
}

/*
 * A released slice gives back its whole pages only beyond BUS1_POOL_KEEP
 * of pages the pool does not need, and no more than that excess, from
 * its end; the page it shares with a neighbour, and what the neighbour
 * holds there, stay.
 */
static void bus1_pool_test_give_back(struct kunit *test)
{
	const size_t keep = BUS1_POOL_KEEP;
	struct bus1_pool pool = {};
	struct bus1_slice *a, *b;
	unsigned long before;
	char back[4];
	loff_t pos;

	bus1_pool_test_need_tmpfs(test);
	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, 2 * keep, NULL), 0);

	/* Half of what is kept: nothing goes. */
	a = bus1_pool_alloc(&pool, keep / 2);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a));
	KUNIT_ASSERT_EQ(test, vfs_fallocate(pool.file, 0, 0, keep / 2), 0);
	before = pool.file->f_mapping->nrpages;
	KUNIT_EXPECT_EQ(test, before, (unsigned long)(keep / 2 / PAGE_SIZE));
	bus1_pool_give_back(&pool, a);
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages, before);
	bus1_pool_free(&pool, a);

	/*
	 * One and a half of it, and b right behind in a's last page: once a
	 * is freed, the pool has half of what is kept, and a page, to spare.
	 */
	a = bus1_pool_alloc(&pool, keep + keep / 2 + 64);
	b = bus1_pool_alloc(&pool, 64);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a));
	KUNIT_ASSERT_FALSE(test, IS_ERR(b));
	KUNIT_ASSERT_EQ(test, b->offset, a->offset + a->size);
	KUNIT_ASSERT_EQ(test, vfs_fallocate(pool.file, 0, 0,
					    b->offset + b->size), 0);
	KUNIT_EXPECT_EQ(test, write_str(&pool, b, 0, "bbb"), 0);
	before = pool.file->f_mapping->nrpages;
	bus1_pool_give_back(&pool, a);
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages,
			before - keep / 2 / PAGE_SIZE);
	pos = b->offset;
	KUNIT_EXPECT_EQ(test, kernel_read(pool.file, back, 3, &pos), 3L);
	KUNIT_EXPECT_EQ(test, memcmp(back, "bbb", 3), 0);

	bus1_pool_free(&pool, b);
	bus1_pool_free(&pool, a);
	bus1_pool_deinit(&pool);
}

#define TEST_BATCH_PAGES	(PAGEVEC_SIZE + 10)

/*
 * A write of more folios than one lookup batch holds, over a pool where
 * some folios exist, some do not, and one is fallocated but not uptodate:
 * every byte lands where it belongs, what the write does not cover keeps
 * what was there before, and the fallocated folio reads as zeroes around
 * the write.
 */
static void bus1_pool_test_write_batched(struct kunit *test)
{
	size_t size = TEST_BATCH_PAGES * PAGE_SIZE;
	size_t at = PAGE_SIZE / 2, len = size - PAGE_SIZE;
	struct bus1_pool pool = {};
	struct bus1_slice *slice;
	struct kvec vec;
	struct iov_iter iter;
	char *src, *back;
	size_t i;
	loff_t pos;

	bus1_pool_test_need_tmpfs(test);
	src = kunit_kzalloc(test, len, GFP_KERNEL);
	back = kunit_kzalloc(test, size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, src);
	KUNIT_ASSERT_NOT_NULL(test, back);
	for (i = 0; i < len; i++)
		src[i] = 'a' + i % 23;

	KUNIT_ASSERT_EQ(test, bus1_pool_init(&pool, size, NULL), 0);
	slice = bus1_pool_alloc(&pool, size);
	KUNIT_ASSERT_FALSE(test, IS_ERR(slice));
	/* Every third folio exists, and holds a mark at its start. */
	for (i = 0; i < TEST_BATCH_PAGES; i += 3)
		KUNIT_ASSERT_EQ(test, write_str(&pool, slice, i * PAGE_SIZE, "#"),
				0);
	/*
	 * The last folio is allocated but not uptodate: fallocated after a
	 * hole was punched where garbage was, so that its page likely
	 * holds that garbage again.
	 */
	memset(back, 'x', PAGE_SIZE);
	back[PAGE_SIZE - 1] = 0;
	KUNIT_ASSERT_EQ(test, write_str(&pool, slice, size - PAGE_SIZE, back),
			0);
	KUNIT_ASSERT_EQ(test, vfs_fallocate(pool.file, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE,
					    size - PAGE_SIZE, PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, vfs_fallocate(pool.file, 0, size - PAGE_SIZE,
					    PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, pool.file->f_mapping->nrpages,
			(unsigned long)DIV_ROUND_UP(TEST_BATCH_PAGES, 3) + 1);

	vec = (struct kvec){ .iov_base = src, .iov_len = len };
	iov_iter_kvec(&iter, ITER_SOURCE, &vec, 1, len);
	KUNIT_EXPECT_EQ(test, bus1_pool_write(&pool, slice, at, &iter), 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), 0UL);
	KUNIT_EXPECT_EQ(test, pool.file->f_mapping->nrpages,
			(unsigned long)TEST_BATCH_PAGES);

	pos = 0;
	KUNIT_ASSERT_EQ(test, kernel_read(pool.file, back, size, &pos),
			(ssize_t)size);
	KUNIT_EXPECT_EQ(test, back[0], '#');
	KUNIT_EXPECT_NULL(test, memchr_inv(back + 1, 0, at - 1));
	KUNIT_EXPECT_EQ(test, memcmp(back + at, src, len), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(back + at + len, 0,
					   size - at - len));

	bus1_pool_free(&pool, slice);
	bus1_pool_deinit(&pool);
}

static struct kunit_case bus1_pool_test_cases[] = {
	KUNIT_CASE(bus1_pool_test_init),
	KUNIT_CASE(bus1_pool_test_deinit_drops_reference),
	KUNIT_CASE(bus1_pool_test_map_read_only),
	KUNIT_CASE(bus1_pool_test_map_bounds),
	KUNIT_CASE(bus1_pool_test_write),
	KUNIT_CASE(bus1_pool_test_write_small),
	KUNIT_CASE(bus1_pool_test_give_back),
	KUNIT_CASE(bus1_pool_test_write_batched),
	{}
};

static struct kunit_suite bus1_pool_test_suite = {
	.name = "bus1-pool",
	.test_cases = bus1_pool_test_cases,
};

kunit_test_suite(bus1_pool_test_suite);

MODULE_DESCRIPTION("KUnit tests for the bus1 receive pool");
MODULE_LICENSE("GPL");
