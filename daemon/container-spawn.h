/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting processes inside a container: the spawner of a container bus.
 *
 * A container bus keeps only CAP_SYS_PTRACE once it is set up, and entering
 * a container's namespaces takes much more (CAP_SYS_ADMIN over its user
 * namespace, CAP_SYS_CHROOT, CAP_SETUID...). So before it drops them the bus
 * forks a spawner, which keeps those and nothing else of the bus: it asks for
 * nothing, holds the container init's pidfd and the container's root, and
 * does one thing on request, over a socket: start a program inside the
 * container, as a user of the container's /etc/passwd, and report how that
 * went and, later, how the program exited. The program is the spawner's
 * child (in the container's pid namespace), so its exit status is exact.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct spawner;

enum spawn_failure {
        SPAWN_FAILURE_USER,  /* the user is not in the container's /etc/passwd */
        SPAWN_FAILURE_EXEC,  /* the program does not resolve to an executable inside the container's root,
                              * or exec failed there */
        SPAWN_FAILURE_SETUP, /* entering the container or becoming the user failed */
};

enum spawn_event_type {
        SPAWN_EVENT_STARTED, /* the program runs (exec succeeded) */
        SPAWN_EVENT_FAILED,  /* it never ran; nothing more comes for this id */
        SPAWN_EVENT_EXITED,  /* it ran and has exited; nothing more comes for this id */
};

struct spawn_event {
        enum spawn_event_type type;
        uint64_t id;
        pid_t pid;                  /* STARTED: the process as the bus's pid namespace sees it */
        pid_t inner_pid;            /* STARTED: ... and as the container sees it */
        int status;                 /* EXITED: its wait status */
        enum spawn_failure failure; /* FAILED */
        char text[512];             /* FAILED: what failed and why, in one line */
};

struct spawn_request {
        uint64_t id;       /* names the events about this program; nonzero */
        const char *label; /* the program's name in the spawner's log lines (the bus name) */
        const char *user;  /* looked up in the container's /etc/passwd and group */
        char *const *argv; /* argv[0] is resolved inside the container's root (PATH if it has no '/') */
        char *const *env;  /* the whole environment, NULL-terminated */
};

/*
 * Fork the spawner of the container whose init is init_pid (init_pidfd, which the caller keeps) and whose
 * root directory is root_fd (O_PATH; see rootfs.h). Call it while the bus still has its capabilities.
 * At its first request the spawner enters the init's pid namespace for its children, and in each child the
 * init's user, mount, network, IPC, UTS, cgroup and time namespaces, root, cgroups, resource limits,
 * capability bounding set and no-new-privs. 0 and *ret, or -errno.
 */
int spawner_start(struct spawner **ret, int init_pidfd, pid_t init_pid, int root_fd, const char *container);
/* The bus's end of the spawner's socket, to watch for events (EPOLLIN); -1 once it is gone. */
int spawner_fd(const struct spawner *s);
/* Ask for a program. 0 (its events follow), -E2BIG when the request does not fit in one message,
 * -EPIPE when the spawner is gone, -EAGAIN when it is not keeping up, or another -errno. Never blocks. */
int spawner_spawn(struct spawner *s, const struct spawn_request *req);
/* Signal the program of a request (the spawner's own child, so its pid cannot have been reused). */
int spawner_kill(struct spawner *s, uint64_t id, int sig);
/* The next event: 1 and *ev, 0 when none is waiting, -EPIPE when the spawner is gone (it was killed, or
 * the container's init exited), or another -errno. Never blocks. */
int spawner_receive(struct spawner *s, struct spawn_event *ev);
/* Hang up: the spawner exits, and is waited for; the programs it started go on. */
void spawner_free(struct spawner *s);
