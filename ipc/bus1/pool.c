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

#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include "pool.h"

/**
 * bus1_pool_init() - create the backing file of a pool
 * @pool:	pool to initialize
 * @size:	size in bytes, a multiple of PAGE_SIZE
 *
 * The file is a kernel-internal shmem file: it has no name in any
 * filesystem and its pages are allocated, and charged, only when written.
 *
 * Return: 0 on success, a negative error code on failure.
 */
int bus1_pool_init(struct bus1_pool *pool, size_t size)
{
	struct file *file;

	if (WARN_ON(!size || !PAGE_ALIGNED(size)))
		return -EINVAL;

	file = shmem_kernel_file_setup("bus1-pool", size, VM_NORESERVE);
	if (IS_ERR(file))
		return PTR_ERR(file);

	pool->file = file;
	pool->size = size;
	return 0;
}

/**
 * bus1_pool_deinit() - release the backing file of a pool
 * @pool:	pool to tear down
 *
 * Mappings of the pool keep the file alive until they are unmapped.
 */
void bus1_pool_deinit(struct bus1_pool *pool)
{
	if (pool->file)
		fput(pool->file);
	pool->file = NULL;
	pool->size = 0;
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
 * bus1_pool_show_fdinfo() - describe a pool in /proc/<pid>/fdinfo
 * @pool:	pool to describe
 * @m:		output of the fdinfo file
 */
void bus1_pool_show_fdinfo(struct bus1_pool *pool, struct seq_file *m)
{
	seq_printf(m, "bus1-pool-size:\t%zu\n", pool->size);
	seq_printf(m, "bus1-pool-resident:\t%lu\n",
		   READ_ONCE(pool->file->f_mapping->nrpages) << PAGE_SHIFT);
}
