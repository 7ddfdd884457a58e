/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A container's view of the host's ids, computed as the kernel computes SO_PEERCRED inside: uids and
 * gids through the container's maps (an unmapped one is the overflow id 65534), a pid at the container's
 * level of the process's pid namespaces (0 for a process the container cannot see). The maps and the
 * init come from the container bus (org.nsbus.Container1.GetInfo).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nsview.h"

struct message;

#define CVIEW_OVERFLOW_ID 65534u

struct cview {
        char name[256];
        pid_t init; /* the container's init, as the host sees it */
        struct idmap uid_map, gid_map;
};

/* Read a GetInfo reply: 1 for a container bus's, 0 for an error reply (a bus that serves no container),
 * -EBADMSG for one that cannot be read. */
int cview_from_info(const struct message *info, struct cview *v);
void cview_done(struct cview *v);

/* The container's view of host ids: -1 stays -1 (unknown). */
int64_t cview_uid(const struct cview *v, int64_t host_uid);
uint32_t cview_gid(const struct cview *v, uint32_t host_gid);
int64_t cview_pid(const struct cview *v, int64_t host_pid);
