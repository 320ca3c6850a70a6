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
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
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
		return PTR_ERR(file);
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

/**
 * bus1_pool_alloc() - allocate a slice of a pool for a message
 * @pool:	pool of the receiver
 * @size:	payload size in bytes
 *
 * Return: the slice, -ENOSPC if no free range of @pool is large enough,
 * -ENOMEM when out of memory.
 */
struct bus1_slice *bus1_pool_alloc(struct bus1_pool *pool, size_t size)
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
void bus1_pool_charge(struct bus1_pool *pool, struct bus1_slice *slice,
		      struct bus1_usage *usage)
{
	bus1_slices_charge(&pool->slices, slice, usage);
}

/*
 * Copy from @iter into the pool at @pos, folio by folio; @iter is advanced
 * by what was copied. Each folio is looked up locked (allocated and zeroed
 * if it is new), refused if it holds poisoned memory, filled with page
 * faults disabled, marked dirty so that reclaim swaps it out rather than
 * dropping it, and unlocked. A source page that is not present ends the
 * copy of a folio early; it is faulted in with no lock held and the copy
 * goes on, unless the sender is being killed.
 */
static int bus1_pool_copy(struct bus1_pool *pool, loff_t pos,
			  struct iov_iter *iter)
{
	struct inode *inode = file_inode(pool->file);
	size_t offset, bytes, copied;
	struct folio *folio;
	int r;

	while (iov_iter_count(iter)) {
		r = shmem_get_folio(inode, pos >> PAGE_SHIFT, 0, &folio,
				    SGP_CACHE);
		if (r)
			return r;
		if (folio_contain_hwpoisoned_page(folio)) {
			folio_unlock(folio);
			folio_put(folio);
			return -EIO;
		}
		offset = offset_in_folio(folio, pos);
		bytes = min(folio_size(folio) - offset, iov_iter_count(iter));
		copied = copy_folio_from_iter_atomic(folio, offset, bytes, iter);
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
		if (copied < bytes &&
		    fault_in_iov_iter_readable(iter, bytes - copied) ==
		    bytes - copied)
			return -EFAULT;
		/* Between folios: most messages fit in one. */
		if (!iov_iter_count(iter))
			break;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
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
	size_t len = iov_iter_count(iter);
	struct mem_cgroup *old;
	int r;

	if (!len)
		return 0;
	if (WARN_ON(at > slice->size || len > slice->size - at))
		return -EINVAL;

	old = set_active_memcg(pool->memcg);
	r = bus1_pool_copy(pool, slice->offset + at, iter);
	set_active_memcg(old);
	/* shmem reports a failed memory charge as a full file. */
	return r == -ENOSPC ? -ENOMEM : r;
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

/**
 * bus1_pool_free() - free a slice whose message was never received
 * @pool:	pool the slice belongs to
 * @slice:	the slice, unusable afterwards
 */
void bus1_pool_free(struct bus1_pool *pool, struct bus1_slice *slice)
{
	bus1_slices_free(&pool->slices, slice);
}

/**
 * bus1_pool_publish() - hand the slice of a received message to user space
 * @pool:	pool the slice belongs to
 * @slice:	the slice; user space releases it from now on
 * @release:	a slice of bus1_pool_claim() to release with it, or NULL
 */
void bus1_pool_publish(struct bus1_pool *pool, struct bus1_slice *slice,
		       struct bus1_slice *release)
{
	bus1_slices_publish(&pool->slices, slice, release);
}

/**
 * bus1_pool_release() - release slices that user space is done with
 * @pool:	pool of the receiver
 * @offsets:	offsets of the slices, as reported by bus1_recv()
 * @n:		number of offsets
 *
 * Return: 0 on success, -ENXIO if an offset names no published slice or
 * is repeated; then nothing is released.
 */
int bus1_pool_release(struct bus1_pool *pool, const u64 *offsets, size_t n)
{
	return bus1_slices_release(&pool->slices, offsets, n);
}

/**
 * bus1_pool_claim() - reserve a published slice for a later release
 * @pool:	pool of the receiver
 * @offset:	offset of the slice, as reported by bus1_recv()
 *
 * Return: the slice, to release with bus1_pool_publish() or
 * bus1_pool_unclaim(), or ERR_PTR(-ENXIO) if @offset names no published
 * slice.
 */
struct bus1_slice *bus1_pool_claim(struct bus1_pool *pool, u64 offset)
{
	return bus1_slices_claim(&pool->slices, offset);
}

/**
 * bus1_pool_unclaim() - release a claimed slice, or give it back
 * @pool:	pool of the receiver
 * @slice:	a slice of bus1_pool_claim()
 * @release:	whether to release it; otherwise user space has it again
 */
void bus1_pool_unclaim(struct bus1_pool *pool, struct bus1_slice *slice,
		       bool release)
{
	bus1_slices_unclaim(&pool->slices, slice, release);
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
