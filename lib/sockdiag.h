/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which socket is connected to which: the kernel's sock_diag for AF_UNIX.
 * A bus asked to save one of its connections is handed the other end (the
 * client's socket, by the checkpoint tool); the kernel, not the caller,
 * says which of the bus's sockets that end is connected to.
 *
 * sock_diag answers for one network namespace, the one its netlink socket
 * was made in, and both ends of a unix connection live in the client's: the
 * socket accept() gives the bus is made in its connecting peer's namespace.
 * A bus whose clients are in a container's network namespace is therefore
 * handed a netlink socket made there too (the bus, without the privileges
 * to enter namespaces, cannot make one), and checks that it is one.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A connected unix socket and its peer (inode numbers). */
struct sockdiag_pair {
        uint64_t ino, peer;
};

/* 0 if fd is a NETLINK_SOCK_DIAG socket, else -ENOTSOCK or -EPROTOTYPE (or -errno). */
int sockdiag_check(int fd);

/* Every connected unix socket of a network namespace, in one dump through diag_fd (a NETLINK_SOCK_DIAG
 * socket made in that namespace; sockdiag_check() it first if someone else made it), or of the caller's
 * namespace when diag_fd < 0. Only the kernel's answers count. 0 with *ret (malloc'd) and *n, or -errno. */
int sockdiag_unix_pairs(int diag_fd, struct sockdiag_pair **ret, size_t *n);
