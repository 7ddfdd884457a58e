/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the manager verbs (manager.c) give the runtime hooks beyond the verbs themselves. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "connect.h"

#define MANAGER_POLICY_DIR "/etc/nsbus/containers"
#define MANAGER_LOG_DIR "/var/log/nsbus"

/* The init pid that the supervised bus of NAME serves: > 0, 0 when no bus of NAME is up, or negative
 * after saying why. */
pid_t manager_bus_init(const struct cli_options *o, const char *name);
/* Is a supervised bus of NAME up (also one still waiting for its restored container)? */
bool manager_bus_up(const struct cli_options *o, const char *name);
/* The pid of the supervisor of NAME's bus: > 0, 0 when none is up, or negative after saying why. */
pid_t manager_bus_supervisor(const struct cli_options *o, const char *name);
/* The host uid and gid of the container's root (their maps' image of 0; 0 for a container without a
 * user namespace of its own): 0, or -errno. */
int manager_container_root(pid_t pid, uid_t *uid, gid_t *gid);
/* Bring up NAME's bus for the container whose init is init, or, with init 0, for a container that is about
 * to be restored from the checkpoint in restore_dir (nsbusd --restore-from): what `nsbusctl up` does once
 * it knows the init. 0, or negative after saying why. */
int manager_up(const struct cli_options *o, const char *name, pid_t init, const char *restore_dir);
