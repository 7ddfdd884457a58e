/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The supervisor of one container's bus: the process `nsbusctl up` leaves behind. It runs the container's
 * nsbusd and, with a policy, its nsbridge, restarts a bridge that fails, keeps RUNTIME_DIR/NAME/state.json
 * true, and when the bus ends (the container did, or `nsbusctl down` sent SIGTERM) stops the bridge and
 * removes RUNTIME_DIR/NAME.
 */
#pragma once

#include <sys/types.h>

struct supervise_options {
        const char *name, *runtime_dir;
        pid_t init_pid;          /* 0: the container is about to be restored from restore_dir */
        const char *restore_dir; /* nsbusd --restore-from; the init comes with the restore (see below) */
        const char *policy;      /* NULL: no bridge */
        const char *config;      /* nsbusd --config-file, or NULL */
        const char *host_bus;    /* the bridge's --host-bus */
        const char *log;         /* opened for append; every process of the bus writes there */
        const char *nsbusd, *nsbridge;
        int dir_fd;   /* RUNTIME_DIR/NAME, made by up */
        int lock_fd;  /* RUNTIME_DIR/NAME/lock, held: the supervisor keeps it for its lifetime */
        int ready_fd; /* up waits on it for "OK SOCKET\n" or "ERROR WHY\n" */
};

/* The file in RUNTIME_DIR/NAME that says where the images of a checkpoint whose container has not come back
 * are (`nsbusctl checkpoint` writes it, ls reads it). */
#define SUPERVISE_CHECKPOINT "checkpoint"

/* Run in the process forked by up, until the bus ends: the process's exit code. */
int supervise(const struct supervise_options *o);

/* The exit status a bridge ends with when the host bus refused its uid (nsbridge's
 * BRIDGE_EXIT_HOST_REFUSED): restarting it cannot help until the admin acted. */
#define SUPERVISE_BRIDGE_REFUSED 3
