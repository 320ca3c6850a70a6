// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 receive pool
 *
 * Every peer owns a shmem file as its receive pool. The kernel copies
 * message payloads straight from the sender into it, and the receiving
 * peer maps it read-only to read them in place: data moves once. User
 * space can never map the pool writable, so what the kernel wrote there is
 * what the receiver reads.
 */

#include <linux/cacheflush.h>
#include <linux/err.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include "pool.h"

/**
 * bus1_pool_init() - create the backing file of a pool
 * @pool:	pool to initialize
 * @size:	size in bytes, a multiple of PAGE_SIZE
 * @quota:	where the slices that senders charge are charged, or NULL
 *
 * The file is a kernel-internal shmem file: it has no name in any
 * filesystem and its pages are allocated only when written. They are
 * charged to the memory cgroup of the caller, the pool's owner, not to
 * that of the sender who writes them: the owner decides how much of its
 * pool others may fill (see quota.c), and the pages stay as long as the
 * owner keeps the pool.
 *
 * Return: 0 on success, a negative error code on failure.
 */
int bus1_pool_init(struct bus1_pool *pool, size_t size,
		   struct bus1_quota *quota)
{
	struct file *file;
	int r;

	if (WARN_ON(!size || !PAGE_ALIGNED(size)))
		return -EINVAL;

	r = bus1_slices_init(&pool->slices, size, quota);
	if (r)
		return r;
	file = shmem_kernel_file_setup("bus1-pool", size, VM_NORESERVE);
	if (IS_ERR(file)) {
		bus1_slices_deinit(&pool->slices);
		/*
		 * The kernel's shmem mount has no inode limit: ENOSPC there
		 * means no memory for the inode.
		 */
		return PTR_ERR(file) == -ENOSPC ? -ENOMEM : PTR_ERR(file);
	}

	pool->file = file;
	pool->size = size;
	pool->memcg = get_mem_cgroup_from_current();
	return 0;
}

/**
 * bus1_pool_deinit() - release the backing file of a pool
 * @pool:	pool to tear down
 *
 * Every slice is freed, and its charge returned. Mappings of the pool
 * keep the file alive until they are unmapped.
 */
void bus1_pool_deinit(struct bus1_pool *pool)
{
	if (pool->file) {
		bus1_slices_deinit(&pool->slices);
		fput(pool->file);
		mem_cgroup_put(pool->memcg);
	}
	pool->memcg = NULL;
	pool->file = NULL;
	pool->size = 0;
}

/* Give back the references of the folios in @fbatch not taken yet. */
static void bus1_pool_drop_batch(struct folio_batch *fbatch)
{
	while (fbatch->i < folio_batch_count(fbatch))
		folio_put(fbatch->folios[fbatch->i++]);
	folio_batch_reinit(fbatch);
}

/*
 * The folio of the pool at @index, locked, with a reference. In the
 * steady state it is in the page cache already and uptodate: then it is
 * found without shmem, and for a write that goes on up to @last, a batch
 * at a time into @fbatch, with one walk of the page cache for up to
 * PAGEVEC_SIZE folios. A folio that is missing, swapped out, not uptodate
 * or was removed meanwhile is left to shmem, which allocates, swaps in or
 * zeroes it.
 */
static int bus1_pool_lock_folio(struct inode *inode, pgoff_t index,
				pgoff_t last, struct folio_batch *fbatch,
				struct folio **foliop)
{
	struct address_space *mapping = inode->i_mapping;
	struct folio *folio = NULL;
	pgoff_t start = index;

	if (fbatch->i == folio_batch_count(fbatch) && index < last) {
		folio_batch_reinit(fbatch);
		filemap_get_folios_contig(mapping, &start, last, fbatch);
	}
	if (fbatch->i < folio_batch_count(fbatch)) {
		folio = fbatch->folios[fbatch->i];
		if (folio->index <= index && index < folio_next_index(folio)) {
			fbatch->i++;
			folio_lock(folio);
		} else {
			/* Out of step after a short copy: look up anew. */
			bus1_pool_drop_batch(fbatch);
			folio = NULL;
		}
	}
	if (!folio) {
		/* A value entry is a folio swapped out: left to shmem. */
		folio = filemap_get_entry(mapping, index);
		if (xa_is_value(folio))
			folio = NULL;
		if (folio)
			folio_lock(folio);
	}
	if (folio) {
		if (likely(folio->mapping == mapping &&
			   folio_test_uptodate(folio))) {
			*foliop = folio;
			return 0;
		}
		folio_unlock(folio);
		folio_put(folio);
	}
	return shmem_get_folio(inode, index, 0, foliop, SGP_CACHE);
}

/*
 * Copy @bytes from @iter into @folio at @offset, page faults disabled, and
 * advance @iter; the folio is locked. The common source, one buffer of
 * user memory, is copied straight into the folio: the generic copy maps
 * the page and walks the iterator for every folio, which for a small
 * message costs more than the copy itself. Return: the bytes copied,
 * fewer if a source page is not present.
 */
static size_t bus1_pool_copy_folio(struct folio *folio, size_t offset,
				   size_t bytes, struct iov_iter *iter)
{
	void __user *from;
	size_t left;

	if (!iter_is_ubuf(iter) || folio_test_highmem(folio))
		return copy_folio_from_iter_atomic(folio, offset, bytes, iter);
	from = iter->ubuf + iter->iov_offset;
	if (unlikely(!access_ok(from, bytes)))
		return copy_folio_from_iter_atomic(folio, offset, bytes, iter);

	pagefault_disable();
	left = __copy_from_user_inatomic(folio_address(folio) + offset, from,
					 bytes);
	pagefault_enable();
	iov_iter_advance(iter, bytes - left);
	return bytes - left;
}

/*
 * Copy from @iter into the pool at @pos, folio by folio; @iter is advanced
 * by what was copied. Each folio is found locked (allocated and zeroed if
 * it is new), refused if it holds poisoned memory, filled with page
 * faults disabled, marked dirty so that reclaim swaps it out rather than
 * dropping it, and unlocked. A source page that is not present ends the
 * copy of a folio early; it is faulted in with no lock held and the copy
 * goes on, unless the sender is being killed, or unless @may_fault is
 * false: then the copy ends there with -EAGAIN. A killed sender and
 * rescheduling are checked for between batches of folios, at most
 * PAGEVEC_SIZE folios apart.
 */
static int bus1_pool_copy(struct bus1_pool *pool, loff_t pos,
			  struct iov_iter *iter, bool may_fault)
{
	struct inode *inode = file_inode(pool->file);
	pgoff_t last = (pos + iov_iter_count(iter) - 1) >> PAGE_SHIFT;
	size_t offset, bytes, copied;
	/* Only the folios that a lookup put there are read. */
	struct folio_batch fbatch __uninitialized;
	struct folio *folio;
	int r = 0;

	folio_batch_init(&fbatch);
	while (iov_iter_count(iter)) {
		r = bus1_pool_lock_folio(inode, pos >> PAGE_SHIFT, last,
					 &fbatch, &folio);
		if (r)
			break;
		if (folio_contain_hwpoisoned_page(folio)) {
			folio_unlock(folio);
			folio_put(folio);
			r = -EIO;
			break;
		}
		offset = offset_in_folio(folio, pos);
		bytes = min(folio_size(folio) - offset, iov_iter_count(iter));
		copied = bus1_pool_copy_folio(folio, offset, bytes, iter);
		flush_dcache_folio(folio);
		if (copied) {
			/* Only writeback cleans it, under the folio lock. */
			if (!folio_test_dirty(folio))
				folio_mark_dirty(folio);
			folio_mark_accessed(folio);
		}
		folio_unlock(folio);
		folio_put(folio);
		pos += copied;
		if (copied < bytes && !may_fault) {
			r = -EAGAIN;
			break;
		}
		if (copied < bytes &&
		    fault_in_iov_iter_readable(iter, bytes - copied) ==
		    bytes - copied) {
			r = -EFAULT;
			break;
		}
		/* Most messages fit in one folio. */
		if (!iov_iter_count(iter))
			break;
		/* Between batches of folios, or folios not in a batch. */
		if (fbatch.i < folio_batch_count(&fbatch))
			continue;
		if (fatal_signal_pending(current)) {
			r = -EINTR;
			break;
		}
		cond_resched();
	}
	bus1_pool_drop_batch(&fbatch);
	return r;
}

/* bus1_pool_write() and bus1_pool_write_nofault(). */
static int bus1_pool_write_common(struct bus1_pool *pool,
				  struct bus1_slice *slice, size_t at,
				  struct iov_iter *iter, bool may_fault)
{
	size_t len = iov_iter_count(iter);
	struct mem_cgroup *old;
	int r;

	if (!len)
		return 0;
	if (WARN_ON(at > slice->size || len > slice->size - at))
		return -EINVAL;

	old = set_active_memcg(pool->memcg);
	r = bus1_pool_copy(pool, slice->offset + at, iter, may_fault);
	set_active_memcg(old);
	/* shmem reports a failed memory charge as a full file. */
	return r == -ENOSPC ? -ENOMEM : r;
}

/**
 * bus1_pool_write() - copy into a slice
 * @pool:	pool the slice belongs to
 * @slice:	destination
 * @at:		where in @slice to write; @at plus iov_iter_count(@iter)
 *		lies within @slice
 * @iter:	the bytes, usually in the sender's memory; it is advanced
 *
 * This is the one copy of a message: the bytes go from the sender's
 * memory straight into the shmem folios that the receiver maps.
 *
 * The pool is not written through the file's write_iter, nor through
 * generic_perform_write(): those take the inode lock, apply the checks of
 * a file that user space writes to, throttle dirty pages and prefault
 * the source before every folio. None of that fits. The sender's
 * RLIMIT_FSIZE must not depend on where a slice lies in someone else's
 * pool, and a sender that stalls while faulting in its own memory must
 * not hold a lock of the receiver. The pool never changes size, has no
 * seals and no writeback but swap, so writers meet only on a folio, and
 * its lock orders them as it orders page faults. Source pages are
 * faulted in with no lock held, even when the source is a mapping of
 * this very pool. Pool pages that the write allocates are charged to the
 * pool's memory cgroup.
 *
 * Return: 0 on success, -EFAULT if part of the payload cannot be read,
 * -ENOMEM if no memory backs the pool, -EIO if a pool page is poisoned,
 * -EINTR if the sender is being killed.
 */
int bus1_pool_write(struct bus1_pool *pool, struct bus1_slice *slice,
		    size_t at, struct iov_iter *iter)
{
	return bus1_pool_write_common(pool, slice, at, iter, true);
}

/**
 * bus1_pool_write_nofault() - copy into a slice what is present
 * @pool:	pool the slice belongs to
 * @slice:	destination
 * @at:		where in @slice to write, as for bus1_pool_write()
 * @iter:	the bytes; it is advanced by what was copied
 *
 * As bus1_pool_write(), but a source page that is not present is not
 * faulted in: the copy stops there, so that the caller can let go of
 * what a fault must not hold up, then go on with bus1_pool_write() at
 * @at plus what was copied.
 *
 * Return: 0 on success, -EAGAIN if a source page is not present, or an
 * error of bus1_pool_write().
 */
int bus1_pool_write_nofault(struct bus1_pool *pool, struct bus1_slice *slice,
			    size_t at, struct iov_iter *iter)
{
	return bus1_pool_write_common(pool, slice, at, iter, false);
}

/**
 * bus1_pool_check_map() - check a mapping request against a pool
 * @size:	size of the pool in bytes
 * @pgoff:	first page of the pool to map
 * @pages:	number of pages to map
 * @vm_flags:	requested protection and mapping flags
 *
 * Return: 0 if the mapping is allowed, -EPERM if it would be writable,
 * -EINVAL if it reaches past the end of the pool.
 */
int bus1_pool_check_map(size_t size, unsigned long pgoff,
			unsigned long pages, vm_flags_t vm_flags)
{
	unsigned long pool_pages = size >> PAGE_SHIFT;

	if (vm_flags & VM_WRITE)
		return -EPERM;
	if (pgoff >= pool_pages || pages > pool_pages - pgoff)
		return -EINVAL;
	return 0;
}

/**
 * bus1_pool_mmap() - map a pool into user space, read-only
 * @pool:	pool to map
 * @vma:	the new mapping, set up for the peer file by mmap(2)
 *
 * The mapping is redirected to the shmem file, and VM_MAYWRITE is dropped
 * so that mprotect(2) cannot make it writable later.
 *
 * Return: 0 on success, a negative error code on failure.
 */
int bus1_pool_mmap(struct bus1_pool *pool, struct vm_area_struct *vma)
{
	int r;

	r = bus1_pool_check_map(pool->size, vma->vm_pgoff, vma_pages(vma),
				vma->vm_flags);
	if (r)
		return r;

	vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYWRITE);
	vma_set_file(vma, pool->file);
	return call_mmap(pool->file, vma);
}

/*
 * Pages of @pool beyond what its slices need once @freeing bytes of them
 * are freed, and BUS1_POOL_KEEP; 0 if none. Swapped out pages count as
 * well. Read without a lock: a release acts on what it sees.
 */
static size_t bus1_pool_excess(struct bus1_pool *pool, size_t freeing)
{
	struct inode *inode = file_inode(pool->file);
	size_t resident, need;

	resident = (READ_ONCE(inode->i_mapping->nrpages) +
		    READ_ONCE(SHMEM_I(inode)->swapped)) << PAGE_SHIFT;
	need = READ_ONCE(pool->slices.allocated) - freeing + BUS1_POOL_KEEP;
	return resident > need ? resident - need : 0;
}

/*
 * Give back up to the excess of @pool (see bus1_pool_excess()) of the
 * pages that @slice covers whole, from its end: punch a hole with the
 * pool's own fallocate(), which removes them from the page cache, from
 * every mapping and from swap, uncharges them, and keeps faults out
 * meanwhile. Nothing else writes there: the slice is still allocated.
 * A pool without fallocate() (shmem without tmpfs) keeps its pages; a
 * failure only leaves them where they are. A page that a mapping of the
 * pool had pinned (an io_uring buffer, for one) stays with its pin,
 * detached from the pool.
 */
void __bus1_pool_give_back(struct bus1_pool *pool, struct bus1_slice *slice,
			   size_t freeing)
{
	loff_t start = round_up(slice->offset, PAGE_SIZE);
	loff_t end = round_down(slice->offset + slice->size, PAGE_SIZE);
	size_t excess = round_down(bus1_pool_excess(pool, freeing), PAGE_SIZE);

	if (!excess || !pool->file->f_op->fallocate)
		return;
	start = max_t(loff_t, start, end - (loff_t)excess);
	if (start >= end)
		return;
	pool->file->f_op->fallocate(pool->file,
				    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    start, end - start);
}

/**
 * bus1_pool_release() - release slices that user space is done with
 * @pool:	pool of the receiver
 * @offsets:	offsets of the slices, as reported by bus1_recv()
 * @n:		number of offsets
 *
 * The pages that the slices cover whole are given back before they are
 * freed, as far as the pool has pages to spare (see
 * bus1_pool_give_back()).
 *
 * Return: 0 on success, -ENXIO if an offset names no published slice or
 * is repeated; then nothing is released.
 */
int bus1_pool_release(struct bus1_pool *pool, const u64 *offsets, size_t n)
{
	struct bus1_slice *slice;
	size_t freeing = 0;
	LIST_HEAD(keep);
	int r;

	r = bus1_slices_release(&pool->slices, offsets, n, &keep);
	if (r || list_empty(&keep))
		return r;
	/* Still allocated, and no longer the receiver's: only ours. */
	list_for_each_entry(slice, &keep, free_entry)
		freeing += slice->size;
	list_for_each_entry(slice, &keep, free_entry)
		__bus1_pool_give_back(pool, slice, freeing);
	bus1_slices_free_list(&pool->slices, &keep);
	return 0;
}

/**
 * bus1_pool_show_fdinfo() - describe a pool in /proc/<pid>/fdinfo
 * @pool:	pool to describe
 * @m:		output of the fdinfo file
 */
void bus1_pool_show_fdinfo(struct bus1_pool *pool, struct seq_file *m)
{
	size_t allocated, n_busy;

	bus1_slices_usage(&pool->slices, &allocated, &n_busy);

	seq_printf(m, "bus1-pool-size:\t%zu\n", pool->size);
	seq_printf(m, "bus1-pool-resident:\t%lu\n",
		   READ_ONCE(pool->file->f_mapping->nrpages) << PAGE_SHIFT);
	seq_printf(m, "bus1-pool-allocated:\t%zu\n", allocated);
	seq_printf(m, "bus1-pool-slices:\t%zu\n", n_busy);
}
