/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bridge_policy;
struct bridge;

struct bridge_options {
        const char *name;              /* for log lines */
        const char *host_address;      /* the host bus */
        const char *container_address; /* the container bus's host.sock */
        const uint8_t *bridge_key;     /* presented on every connection to the container bus (ClaimBridge) */
        size_t bridge_key_len;
        struct bridge_policy *policy; /* bridge_new() takes it; the container bus may replace it */
        unsigned max_host_links;      /* connections to the host bus for container callers, at most */
        int init_pidfd;               /* the container's init: when it exits, so does the bridge */
        bool uid_in_userdb;           /* the host's user database names the uid the bridge runs as */
        bool policy_from_bus; /* no --policy: the bus's, asked again whenever the container link starts */
        bool verbose;
};

/* bridge_run()'s exit codes besides 0 (the container ended, or a signal) and 1 (an error, logged). */
#define BRIDGE_EXIT_HOST_REFUSED 3 /* the host bus will not have the bridge's uid: retrying cannot help */

struct message;
/* The policy in a reply to org.nsbus.Container1.GetBridgePolicy: 0 and *ret, or -errno with why in err
 * (an error reply, an unreadable reply, or the policy's own parse error naming its file and line). */
int bridge_policy_from_reply(struct message *m, struct bridge_policy **ret, char *err, size_t errlen);

/* Everything but the connections, including the event loop and its signalfd (SIGTERM, SIGINT): call it
 * before entering the sandbox. */
int bridge_new(const struct bridge_options *o, struct bridge **ret);
/* Runs until the container's init exits or a signal arrives: returns the exit code. */
int bridge_run(struct bridge *br);
void bridge_free(struct bridge *br);
