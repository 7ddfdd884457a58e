/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What nsbusctl knows of a container bus it runs: RUNTIME_DIR/NAME/state.json, written whole (a new file
 * renamed over the old) by the bus's supervisor at every change, read by nsbusctl ls, down and reload and
 * by the runtime hooks. RUNTIME_DIR/NAME/lock is held (flock) by the supervisor for as long as it lives, so
 * a state file whose lock is free describes a supervisor that is gone.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

#define STATE_FILE "state.json"
#define STATE_LOCK "lock"

enum bridge_state {
        BRIDGE_NONE,       /* no policy: an isolated bus */
        BRIDGE_RUNNING,    /* started (and not yet ended) */
        BRIDGE_RESTARTING, /* ended with an error; started again after a back-off */
        BRIDGE_REFUSED,    /* the host bus will not have its uid: waits for the admin (reload) */
        BRIDGE_STOPPED,    /* ended because the container did, or down */
};

struct bus_state {
        char *name;
        pid_t init_pid, supervisor_pid, bus_pid, bridge_pid; /* 0: none */
        enum bridge_state bridge;
        unsigned bridge_restarts;
        char *bridge_error;             /* why the bridge last ended, or NULL */
        int64_t started;                /* CLOCK_REALTIME seconds: the bus */
        int64_t bridge_started;         /* the bridge now running */
        char *policy;                   /* the bridge policy file, or NULL */
        char *config;                   /* nsbusd's --config-file, or NULL (the built-in one) */
        char *host_bus;                 /* the bridge's host bus address */
        char *socket;                   /* the container's socket, to bind at /run/dbus/system_bus_socket */
        char *log;                      /* where the bus, the bridge and the supervisor write */
        char **bus_argv, **bridge_argv; /* the command lines, NULL-terminated */
};

void bus_state_done(struct bus_state *s);
const char *bridge_state_name(enum bridge_state b);
struct json_object *bus_state_to_json(const struct bus_state *s);

/* Replace dir_fd's state file: 0 or -errno. */
int bus_state_write(int dir_fd, const struct bus_state *s);
/* Read it: 0, -ENOENT, or -EINVAL for a file that is not one (why in err). */
int bus_state_read(int dir_fd, struct bus_state *s, char *err, size_t errlen);
/* Is the supervisor of dir_fd's bus alive (its lock held)? */
bool bus_state_supervised(int dir_fd);
/* Remove what a bus that no longer runs left in dir_fd: its sockets, when nobody listens on them (nsbusd
 * removes them when it exits, not when it is killed), and bus/ unless keep_bus_dir (a container that still
 * runs has it bind-mounted: a bus brought up again there is seen). 0; -EADDRINUSE if a bus answers on
 * one of them (nothing is removed); -ENOTSOCK for a file that is no socket; -ENOTEMPTY if bus/ holds
 * more than its socket; or another -errno. */
int bus_dir_remove_stale(int dir_fd, bool keep_bus_dir);
