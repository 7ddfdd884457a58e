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
        const struct bridge_policy *policy;
        unsigned max_host_links; /* connections to the host bus for container callers, at most */
        int init_pidfd;          /* the container's init: when it exits, so does the bridge */
        bool verbose;
};

/* Everything but the connections, including the event loop and its signalfd (SIGTERM, SIGINT): call it
 * before entering the sandbox. */
int bridge_new(const struct bridge_options *o, struct bridge **ret);
/* Runs until the container's init exits or a signal arrives: returns the exit code. */
int bridge_run(struct bridge *br);
void bridge_free(struct bridge *br);
