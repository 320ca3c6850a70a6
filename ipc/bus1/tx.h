/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_TX_H
#define __BUS1_TX_H

/* The transaction engine: one message to one or many destinations. */

#include <linux/types.h>

struct bus1_peer;
struct iov_iter;

int bus1_tx_send(struct bus1_peer *sender, const u64 *ids, size_t n_ids,
		 struct iov_iter *payload, s32 __user *uerrors);

#endif /* __BUS1_TX_H */
