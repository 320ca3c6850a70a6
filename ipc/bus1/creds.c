// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 credentials
 *
 * A peer keeps the credentials, the process and the PID namespace of the
 * task that created it, for its whole life, as a file keeps f_cred and a
 * socket its SO_PEERCRED: quotas charge the peer's user, security modules
 * judge the peer's credentials, and a receiver learns them, whichever
 * process uses the peer's file later, and whatever that process did to
 * its own credentials since. Nobody who merely holds the file can speak
 * as anyone but the peer.
 *
 * A peer created with BUS1_PEER_CREDS receives with every data message
 * the identity of its sender, captured when the message is sent, as
 * SCM_CREDENTIALS is: a struct bus1_creds, followed by the sending
 * peer's security context, behind the handles and fds in the slice. The
 * sender writes it there along with the payload, translated into the
 * namespaces of the receiving peer, so the message holds no reference
 * for it, and a peer that did not ask pays nothing.
 *
 * The context is made once per peer and kept. A security module whose
 * policy is reloaded may name the same credentials differently later;
 * the peer keeps the name it had when it first sent with it.
 */

#include <linux/cred.h>
#include <linux/err.h>
#include <linux/overflow.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <uapi/linux/bus1.h>
#include "creds.h"
#include "peer.h"

/**
 * bus1_creds_init() - take the caller's credentials for a new peer
 * @peer:	the new peer
 */
void bus1_creds_init(struct bus1_peer *peer)
{
	peer->cred = get_current_cred();
	peer->pid = get_pid(task_tgid(current));
	peer->pid_ns = get_pid_ns(task_active_pid_ns(current));
}

/**
 * bus1_creds_deinit() - drop what bus1_creds_init() took
 * @peer:	a peer being freed
 */
void bus1_creds_deinit(struct bus1_peer *peer)
{
	kfree(peer->secctx);
	put_pid_ns(peer->pid_ns);
	put_pid(peer->pid);
	put_cred(peer->cred);
}

/**
 * bus1_creds_secctx() - the security context of a peer's credentials
 * @peer:	the sending peer
 *
 * Made on first use and kept with the peer: its credentials never change.
 * An empty context means that no security module provides one; a module
 * that fails to name the credentials fails the send instead.
 *
 * Return: the context, or an ERR_PTR() of the security module's error or
 * -ENOMEM.
 */
const struct bus1_secctx *bus1_creds_secctx(struct bus1_peer *peer)
{
	struct bus1_secctx *s, *old;
	char *ctx = NULL;
	u32 secid = 0, seclen = 0;
	size_t len = 0;
	int r;

	/* Pairs with the cmpxchg() below. */
	s = smp_load_acquire(&peer->secctx);
	if (s)
		return s;

	security_cred_getsecid(peer->cred, &secid);
	if (secid) {
		r = security_secid_to_secctx(secid, &ctx, &seclen);
		if (r && r != -EOPNOTSUPP)
			return ERR_PTR(r);
		if (!r)
			len = strnlen(ctx, seclen);
	}
	s = kmalloc(struct_size(s, ctx, len + 1), GFP_KERNEL_ACCOUNT);
	if (s) {
		s->len = len;
		memcpy(s->ctx, ctx, len);
		s->ctx[len] = '\0';
	}
	if (ctx)
		security_release_secctx(ctx, seclen);
	if (!s)
		return ERR_PTR(-ENOMEM);

	/* Fully ordered: a loser reads the winner's context through @old. */
	old = cmpxchg(&peer->secctx, NULL, s);
	if (old) {
		kfree(s);
		return old;
	}
	return s;
}

/**
 * bus1_creds_size() - room for a sender identity in a slice
 * @secctx:	the sender's security context
 *
 * Return: bytes of the struct bus1_creds and the context behind it.
 */
size_t bus1_creds_size(const struct bus1_secctx *secctx)
{
	return sizeof(struct bus1_creds) + secctx->len + 1;
}

/**
 * bus1_creds_fill() - describe the sender of a message for its receiver
 * @creds:	what to fill in
 * @sender:	the sending peer
 * @receiver:	the receiving peer
 * @secctx:	the security context of @sender
 *
 * @sender's process is the one that created it, like its credentials.
 */
void bus1_creds_fill(struct bus1_creds *creds, const struct bus1_peer *sender,
		     const struct bus1_peer *receiver,
		     const struct bus1_secctx *secctx)
{
	struct user_namespace *ns = receiver->cred->user_ns;

	creds->uid = from_kuid_munged(ns, sender->cred->euid);
	creds->gid = from_kgid_munged(ns, sender->cred->egid);
	creds->pid = pid_nr_ns(sender->pid, receiver->pid_ns);
	creds->n_secctx = secctx->len;
}
