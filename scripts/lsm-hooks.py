#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add the bus1 LSM hooks to a Linux 6.12 tree.

  lsm-hooks.py TREE

Declares the hooks in include/linux/lsm_hook_defs.h (which also gives BPF
LSM its attach points bpf_lsm_bus1_*), declares their wrappers in
include/linux/security.h, with the inline versions a kernel without
CONFIG_SECURITY compiles, and defines the wrappers in security/security.c.
Each piece goes right after Binder's, the closest relative, found by its
text, so nothing here depends on the kernel's sublevel.
"""

import os
import sys

HOOK_DEFS = """\
LSM_HOOK(int, 0, bus1_peer_create, const struct cred *cred)
LSM_HOOK(int, 0, bus1_send, const struct cred *sender,
	 const struct cred *receiver)
LSM_HOOK(int, 0, bus1_transfer_handle, const struct cred *from,
	 const struct cred *to, const struct cred *owner)
LSM_HOOK(int, 0, bus1_transfer_file, const struct cred *from,
	 const struct cred *to, const struct file *file)
"""

DECLS = """\
int security_bus1_peer_create(const struct cred *cred);
int security_bus1_send(const struct cred *sender, const struct cred *receiver);
int security_bus1_transfer_handle(const struct cred *from,
				  const struct cred *to,
				  const struct cred *owner);
int security_bus1_transfer_file(const struct cred *from,
				const struct cred *to, const struct file *file);
"""

INLINES = """\

static inline int security_bus1_peer_create(const struct cred *cred)
{
	return 0;
}

static inline int security_bus1_send(const struct cred *sender,
				     const struct cred *receiver)
{
	return 0;
}

static inline int security_bus1_transfer_handle(const struct cred *from,
						const struct cred *to,
						const struct cred *owner)
{
	return 0;
}

static inline int security_bus1_transfer_file(const struct cred *from,
					      const struct cred *to,
					      const struct file *file)
{
	return 0;
}
"""

WRAPPERS = """\

/**
 * security_bus1_peer_create() - Check if creating a bus1 peer is allowed
 * @cred: credentials of the creating task, which the peer will keep
 *
 * Check whether a task with @cred may create a bus1 peer. The peer acts
 * with @cred for its whole life, whoever later uses its file.
 *
 * Return: Returns 0 if permission is granted.
 */
int security_bus1_peer_create(const struct cred *cred)
{
	return call_int_hook(bus1_peer_create, cred);
}

/**
 * security_bus1_send() - Check if a bus1 message may reach a peer
 * @sender: credentials of the sending peer
 * @receiver: credentials of the receiving peer
 *
 * Check whether the peer of @sender may send a message to the peer of
 * @receiver. Called once per destination of a send, before anything is
 * done; a refusal fails the whole send, or only that destination if the
 * sender asked for per-destination results.
 *
 * Return: Returns 0 if permission is granted.
 */
int security_bus1_send(const struct cred *sender, const struct cred *receiver)
{
	return call_int_hook(bus1_send, sender, receiver);
}

/**
 * security_bus1_transfer_handle() - Check if a bus1 handle may be passed
 * @from: credentials of the peer that gives the handle
 * @to: credentials of the peer that gets it
 * @owner: credentials of the peer that owns the handle's node
 *
 * Check whether the peer of @from may give the peer of @to a handle, a
 * capability to send to a node of the peer of @owner: by a handle
 * transfer, or once per destination for each handle in a message.
 *
 * Return: Returns 0 if permission is granted.
 */
int security_bus1_transfer_handle(const struct cred *from,
				  const struct cred *to,
				  const struct cred *owner)
{
	return call_int_hook(bus1_transfer_handle, from, to, owner);
}

/**
 * security_bus1_transfer_file() - Check if a file may be passed over bus1
 * @from: credentials of the sending peer
 * @to: credentials of the receiving peer
 * @file: file being passed
 *
 * Check whether the peer of @from may pass @file to the peer of @to in a
 * message; once per destination, when the message is sent.
 *
 * Return: Returns 0 if permission is granted.
 */
int security_bus1_transfer_file(const struct cred *from,
				const struct cred *to, const struct file *file)
{
	return call_int_hook(bus1_transfer_file, from, to, file);
}
"""


def insert_after(path, anchor, text, last):
    """Insert @text after the line that holds the first @last at or after
    @anchor: the end of the declaration @anchor starts."""
    with open(path) as f:
        src = f.read()
    at = src.find(anchor)
    end = src.find(last, at) if at >= 0 else -1
    if end < 0:
        sys.exit(f"{path}: cannot find {anchor!r}")
    end = src.index("\n", end + len(last)) + 1
    with open(path, "w") as f:
        f.write(src[:end] + text + src[end:])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: lsm-hooks.py TREE")
    tree = sys.argv[1]
    p = lambda rel: os.path.join(tree, rel)

    insert_after(p("include/linux/lsm_hook_defs.h"),
                 "LSM_HOOK(int, 0, binder_transfer_file,",
                 HOOK_DEFS, "const struct file *file)")
    # The declarations under CONFIG_SECURITY, then the inline versions.
    insert_after(p("include/linux/security.h"),
                 "int security_binder_transfer_file(",
                 DECLS, "const struct file *file);")
    insert_after(p("include/linux/security.h"),
                 "static inline int security_binder_transfer_file(",
                 INLINES, "\n}")
    insert_after(p("security/security.c"),
                 "EXPORT_SYMBOL_GPL(security_binder_transfer_file);",
                 WRAPPERS, ";")


if __name__ == "__main__":
    main()
