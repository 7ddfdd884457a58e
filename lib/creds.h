/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Identity of a socket peer as the kernel reports it: SO_PEERCRED,
 * SO_PEERGROUPS and SO_PEERSEC (cheap, read at accept), and through
 * SO_PEERPIDFD the peer's user and pid namespaces and its pid chain (NSpid),
 * read race-free from the pidfd (dearer: a bus may read them when first
 * needed; the socket names the process that connected for as long as it is
 * open). Nothing here comes from what a client says.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "namespaces.h"

/* Debian 12's headers predate these (Linux 6.5). */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define CREDS_MAX_NS_LEVELS 33 /* the kernel's MAX_PID_NS_LEVEL is 32, plus the root */

struct peer_creds {
        pid_t pid; /* in the bus's own pid namespace; 0 if unknown */
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups, in the bus's user namespace */
        size_t n_groups;
        bool has_pidfd; /* the kernel offers SO_PEERPIDFD for this socket */
        char *seclabel; /* SO_PEERSEC, NULL when no LSM labels sockets */
        /* NSpid: the pid at each pid-namespace level from the bus's level down to the peer's own */
        pid_t ns_pids[CREDS_MAX_NS_LEVELS];
        unsigned n_ns_pids;
        /* The peer's namespaces (references into the registry): NULL until creds_read_namespaces(), never
         * after it. has_pidfd, ns_pids and ns_unknown are set with them. */
        struct ns_user *user_ns;
        struct ns_pid *pid_ns;
        bool ns_unknown; /* the kernel would not say: treated as the bus's own (see creds_read_namespaces) */
};

/* SO_PEERCRED, SO_PEERGROUPS and SO_PEERSEC of the peer of a connected socket; the namespaces are left
 * unread (user_ns and pid_ns NULL). */
int creds_read_kernel(int fd, struct peer_creds *ret);
/* The namespaces and pid chain of the process that connected fd, interned in reg, unless c has them
 * already. They are never left unset: a process that is gone (or fd -1) is placed in no namespace a
 * viewer shares (foreign); one the bus may not inspect is placed as the registry says
 * (reg->unknown_is_foreign).
 * No pidfd is kept: a bus with 10,000 peers must not hold 10,000 extra fds. */
void creds_read_namespaces(int fd, struct ns_registry *reg, struct peer_creds *c);
static inline bool creds_namespaces_known(const struct peer_creds *c)
{
        return c->user_ns != NULL;
}
/* Both of the above: everything the kernel tells about the peer of a connected socket. */
int creds_from_socket(int fd, struct ns_registry *reg, struct peer_creds *ret);
/* The process itself, as a subject (the bus driver answers questions about itself). */
int creds_from_self(struct ns_registry *reg, struct peer_creds *ret);
/* Root of the bus's own namespaces: uid 0 in the bus's user namespace and in its pid namespace, as the
 * kernel reported them (never a peer whose namespaces could not be read). On a container bus this is the
 * host's root, the one peer trusted with everything. */
bool creds_is_host_root(const struct peer_creds *c, const struct ns_registry *reg);
/* A new pidfd for the peer of a connected socket (the process that connected), or -errno. */
int creds_get_pidfd(int fd);
void creds_done(struct peer_creds *c);
/* Parse the "NSpid:" line of a /proc/.../fdinfo or status text. Returns the number of levels, -EINVAL. */
int creds_parse_nspid(const char *text, pid_t *pids, unsigned max);
