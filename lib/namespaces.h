/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user and pid namespaces of the bus's peers, captured from their
 * pidfds and interned: a thousand peers in one container share one
 * struct ns_user and one struct ns_pid, read once.
 *
 * Each object holds an fd of its namespace. That keeps the namespace, and so
 * its inode number (the key), from being reused while a peer refers to it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nsview.h"

struct ns_registry;

struct ns_user {
        struct ns_registry *registry;
        uint64_t ino;
        unsigned n_refs;
        int fd;                        /* -1 for the foreign stand-in */
        struct idmap uid_map, gid_map; /* relative to the bus's user namespace; empty if foreign */
        struct ns_chain chain;         /* its place below the bus's user namespace */
};

struct ns_pid {
        struct ns_registry *registry;
        uint64_t ino;
        unsigned n_refs;
        int fd;
        struct ns_chain chain;
};

struct ns_registry {
        struct hashmap *users; /* ino -> struct ns_user */
        struct hashmap *pids;  /* ino -> struct ns_pid */
        /* The bus's own namespaces, and what stands for namespaces that are not below them. */
        struct ns_user *bus_user, *foreign_user;
        struct ns_pid *bus_pid, *foreign_pid;
        uint32_t overflow_uid, overflow_gid; /* /proc/sys/kernel/overflow{u,g}id */
        /* /proc is the procfs of the bus's own pid namespace: /proc/PID names the process the bus knows
         * as PID (checked once, at creation). */
        bool proc_is_ours;
        /* What a peer whose namespaces cannot be read counts as: the bus's own (dbus-daemon's view of
         * everyone), or, where the bus serves a container, foreign (it sees and is seen as nothing). */
        bool unknown_is_foreign;
};

int ns_registry_new(struct ns_registry **ret);
void ns_registry_free(struct ns_registry *r);

/*
 * The namespaces of the process behind pidfd (or, without a pidfd, of pid as the bus's /proc names it),
 * as new references. pid is the process's pid in the bus's pid namespace (0: not in it or below).
 * Returns 0 with both set; -EACCES when the bus may not inspect that process (reading another uid's
 * namespaces needs CAP_SYS_PTRACE, as /proc/PID/ns/ does), -ESRCH when it is gone, other -errno.
 */
int ns_registry_capture(struct ns_registry *r, int pidfd, pid_t pid, struct ns_user **ret_user,
                        struct ns_pid **ret_pid);

struct ns_user *ns_user_ref(struct ns_user *u);
void ns_user_unref(struct ns_user *u);
struct ns_pid *ns_pid_ref(struct ns_pid *p);
void ns_pid_unref(struct ns_pid *p);
