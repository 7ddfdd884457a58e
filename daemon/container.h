/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "bus.h"

struct container {
        struct source source; /* first: SOURCE_CONTAINER, the init's pidfd */
        pid_t pid;            /* the container's init, in the bus's pid namespace */
        int pidfd;
        char *name;
        char *dir;     /* RUNTIME_DIR/NAME: host.sock lives here */
        char *bus_dir; /* RUNTIME_DIR/NAME/bus: bind-mounted at /run/dbus in the container */
        bool made_dirs;
        char machine_id[33]; /* the container's own, or "" if it has none */
};

#define CONTAINER_RUNTIME_DIR "/run/nsbus"

/* A memfd holding the built-in configuration of a container bus, or -errno. */
int container_builtin_config_fd(void);
/* Create the container's sockets and watch its init. On failure the error has been logged. */
int container_setup(struct bus *b, pid_t pid, const char *name, const char *runtime_dir);
/* Keep CAP_SYS_PTRACE only (see container.c); set no-new-privs. */
int container_drop_capabilities(struct bus *b);
void container_handle_exit(struct bus *b);
void container_free(struct bus *b);
