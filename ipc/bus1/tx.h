/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_TX_H
#define __BUS1_TX_H

/* The transaction engine: one message to one or many destinations. */

#include <linux/types.h>
#include <linux/uio.h>

struct bus1_peer;
struct file;

/**
 * struct bus1_tx_payload - what one send carries
 * @data:	the payload bytes, in the sender's memory
 * @handle_ids:	IDs of handles of the sender to pass
 * @n_handles:	number of entries in @handle_ids
 * @files:	files to pass, references owned by the caller
 * @n_files:	number of entries in @files
 */
struct bus1_tx_payload {
	struct iov_iter data;
	const u64 *handle_ids;
	size_t n_handles;
	struct file **files;
	size_t n_files;
};

int bus1_tx_send(struct bus1_peer *sender, const u64 *ids, size_t n_ids,
		 struct bus1_tx_payload *payload, s32 __user *uerrors);

#endif /* __BUS1_TX_H */
