/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The name registry: well-known names, their queues of owners and the
 * RequestName/ReleaseName rules of the specification, and the lookup of a
 * peer by any of its bus names.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "list.h"
#include "match.h"

struct bus;
struct peer;
struct activation_entry;

/* A well-known name: its queue of owners (the head is the primary owner) and
 * the rules of everyone who listens to signals from it. */
struct name {
        struct bus *bus;
        char *name;
        struct list_head owners; /* struct name_owner, by queue order */
        struct match_registry matches;
        unsigned n_users; /* match rules that refer to it */
        struct activation_entry *activatable;
        struct list_head pending_activation; /* messages waiting for the name to appear */
        struct list_head activating_link;    /* in bus->activating while its service starts */
        uint64_t activation_deadline_usec;
        char *systemd_unit; /* while activating: the unit systemd was asked to start, or NULL */
};

struct name_owner {
        struct name *name;
        struct peer *peer;
        uint32_t flags; /* RequestName flags */
        struct list_head name_link;
        struct list_head peer_link;
};

enum {
        NAME_FLAG_ALLOW_REPLACEMENT = 0x1,
        NAME_FLAG_REPLACE_EXISTING = 0x2,
        NAME_FLAG_DO_NOT_QUEUE = 0x4,
};
enum {
        NAME_REPLY_PRIMARY_OWNER = 1,
        NAME_REPLY_IN_QUEUE = 2,
        NAME_REPLY_EXISTS = 3,
        NAME_REPLY_ALREADY_OWNER = 4,
        NAME_RELEASE_RELEASED = 1,
        NAME_RELEASE_NON_EXISTENT = 2,
        NAME_RELEASE_NOT_OWNER = 3,
};
struct name *names_get(struct bus *b, const char *name);
int names_ref(struct bus *b, const char *name, struct name **ret);
void names_unref_if_unused(struct name *n);
static inline struct peer *names_primary_owner(const struct name *n)
{
        return list_empty(&n->owners) ? NULL
                                      : list_first_entry(&n->owners, struct name_owner, name_link)->peer;
}
/* A name's primary owner changed: from old_owner to new_owner (either may be NULL). The name is copied,
 * since releasing it may free it. */
struct name_change {
        char name[256]; /* DBUS_MAXIMUM_NAME_LENGTH is 255 */
        struct peer *old_owner, *new_owner;
};

/* RequestName: 0 with *reply (a NAME_REPLY_*) and *change (old_owner == new_owner when nothing changed),
 * or -ERR_LIMIT_CONNECTION (max_names_per_connection), -ERR_LIMIT_USER (max_names_per_user), -ENOMEM. */
int names_request(struct bus *b, struct peer *p, const char *name, uint32_t flags, uint32_t *reply,
                  struct name_change *change);
/* A name a restored connection had (checkpoint.c): p joins the end of its queue with flags, which makes it
 * the primary owner of a name nobody owns. 0 with *change, or -ERR_LIMIT_CONNECTION, -ERR_LIMIT_USER,
 * -ENOMEM as names_request(). */
int names_restore(struct bus *b, struct peer *p, const char *name, uint32_t flags,
                  struct name_change *change);
/* ReleaseName: 0 with *reply (a NAME_RELEASE_*) and *change. */
int names_release(struct bus *b, struct peer *p, const char *name, uint32_t *reply,
                  struct name_change *change);
/* Drop p's names (owned or queued) until one drop changes a primary owner: true and *change then, false
 * when p holds no names any more. Call until false. */
bool names_release_next(struct peer *p, struct name_change *change);
/* The running peer a bus name (unique or well-known) names now, or NULL. */
struct peer *names_find_peer(struct bus *b, const char *name);
