/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which socket is connected to which: the kernel's sock_diag for AF_UNIX.
 * A bus asked to save one of its connections is handed the other end (the
 * client's socket, by the checkpoint tool); the kernel, not the caller,
 * says which of the bus's sockets that end is connected to.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The inode of the socket whose peer is the socket with inode peer_ino, among the unix sockets of the
 * caller's network namespace: 0 and *ret, -ENOENT when none is, or -errno. */
int sockdiag_unix_find_by_peer(uint64_t peer_ino, uint64_t *ret);

/* A connected unix socket of the caller's network namespace and its peer (inode numbers). */
struct sockdiag_pair {
        uint64_t ino, peer;
};
/* Every connected unix socket of the caller's network namespace, in one dump: 0 with *ret (malloc'd) and
 * *n, or -errno. */
int sockdiag_unix_pairs(struct sockdiag_pair **ret, size_t *n);
