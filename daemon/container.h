/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "bus.h"

struct bridge_policy;

struct container {
        struct source source; /* first: SOURCE_CONTAINER, the init's pidfd */
        pid_t pid;            /* the container's init, in the bus's pid namespace */
        int pidfd;
        char *name;
        char *dir;     /* RUNTIME_DIR/NAME: host.sock lives here */
        char *bus_dir; /* RUNTIME_DIR/NAME/bus: bind-mounted at /run/dbus in the container */
        bool made_dirs;
        char machine_id[33]; /* the container's own, or "" if it has none */
        uid_t root_uid;      /* the container's root as the host sees it: the bridge runs as this */
        gid_t root_gid;
        struct ns_user *user_ns;      /* the init's: its maps answer org.nsbus.Container1.GetInfo */
        struct bridge_policy *policy; /* --policy: the names it imports are reserved for the bridge */
};

#define CONTAINER_RUNTIME_DIR "/run/nsbus"

/* A memfd holding the built-in configuration of a container bus, or -errno. */
int container_builtin_config_fd(void);
/* Create the container's sockets and watch its init. On failure the error has been logged. */
int container_setup(struct bus *b, pid_t pid, const char *name, const char *runtime_dir,
                    const char *policy_file);
/* A peer on host.sock that connected as root or as the container's root (the bridge): it may own the
 * names the policy imports and speak for the host callers it forwards (org.nsbus.Container1). */
bool container_peer_is_bridge(const struct bus *b, const struct peer *p);
/* May p own name? A container bus reserves the names its bridge imports from the host. */
bool container_may_own(const struct bus *b, const struct peer *p, const char *name);
/* Keep CAP_SYS_PTRACE only (see container.c); set no-new-privs. */
int container_drop_capabilities(struct bus *b);
void container_handle_exit(struct bus *b);
void container_free(struct bus *b);
