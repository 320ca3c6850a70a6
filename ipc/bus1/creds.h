/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_CREDS_H
#define __BUS1_CREDS_H

/*
 * The credentials a peer keeps from its creator, and the sender identity
 * a BUS1_PEER_CREDS peer receives with each message.
 */

#include <linux/types.h>

struct bus1_creds;
struct bus1_peer;

/**
 * struct bus1_secctx - the LSM security context of a peer's credentials
 * @len:	length of @ctx without its terminating NUL; 0 if no
 *		security module provides a context
 * @ctx:	the context, NUL-terminated
 */
struct bus1_secctx {
	u32 len;
	char ctx[];
};

void bus1_creds_init(struct bus1_peer *peer);
void bus1_creds_deinit(struct bus1_peer *peer);
const struct bus1_secctx *bus1_creds_secctx(struct bus1_peer *peer);
size_t bus1_creds_size(const struct bus1_secctx *secctx);
void bus1_creds_fill(struct bus1_creds *creds, const struct bus1_peer *sender,
		     const struct bus1_peer *receiver,
		     const struct bus1_secctx *secctx);

#endif /* __BUS1_CREDS_H */
