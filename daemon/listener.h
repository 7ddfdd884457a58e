/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus's listening sockets (listener.c). */
#pragma once

#include "list.h"
#include "event.h"

struct bus;

/* Where a connection came in; bus policy can tell them apart (the host
 * listener is for the bridge and admins, never visible in a container). */
enum listener_origin {
        ORIGIN_BUS = 0,  /* the bus's normal listener(s) */
        ORIGIN_HOST = 1, /* host-only listener (per-container mode) */
};

struct listener {
        struct event_source source; /* the bus watches it once it is on b->listeners */
        struct bus *bus;
        int fd;
        enum listener_origin origin;
        char *address; /* connectable address with guid */
        char *path;    /* socket file to unlink on exit, or NULL */
        struct list_head link;
};

/* Listen on the first entry of address that works (as libdbus does) and put it on b->listeners, which the
 * bus loop watches: 0 and *ret (may be NULL), or -errno, logged. */
int listener_add(struct bus *b, const char *address, enum listener_origin origin, struct listener **ret);
/* Stop listening and remove the socket file. */
void listener_free(struct listener *l);
