/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the manager verbs (manager.c) give the runtime hooks beyond the verbs themselves. */
#pragma once

#include <sys/types.h>

#include "connect.h"

#define MANAGER_POLICY_DIR "/etc/nsbus/containers"
#define MANAGER_LOG_DIR "/var/log/nsbus"

/* The init pid that the supervised bus of NAME serves: > 0, 0 when no bus of NAME is up, or negative
 * after saying why. */
pid_t manager_bus_init(const struct cli_options *o, const char *name);
/* The host uid and gid of the container's root (their maps' image of 0; 0 for a container without a
 * user namespace of its own): 0, or -errno. */
int manager_container_root(pid_t pid, uid_t *uid, gid_t *gid);
