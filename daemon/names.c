/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The name registry: well-known names, their owner queues and the
 * RequestName/ReleaseName rules of the D-Bus specification ("Message Bus
 * Messages", org.freedesktop.DBus.RequestName).
 *
 * A name object exists while anything refers to it: an owner, a queued
 * owner, a match rule with that sender, an activatable service file, or a
 * message waiting for activation. Lookup is one hash probe.
 *
 * The registry never announces anything: each change of a primary owner is
 * returned to the caller as a struct name_change, and the driver emits the
 * signals (as dbus-broker's name registry returns a NameChange).
 */
#include "errors.h"
#include "bus.h"
#include "quotas.h"
#include "names.h"

struct name *names_get(struct bus *b, const char *name)
{
        return hashmap_get(b->names, name);
}

int names_ref(struct bus *b, const char *name, struct name **ret)
{
        struct name *n = names_get(b, name);
        if (n) {
                *ret = n;
                return 0;
        }
        n = zalloc(sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->bus = b;
        n->name = strdup(name);
        if (!n->name) {
                free(n);
                return -ENOMEM;
        }
        list_init(&n->owners);
        list_init(&n->pending_activation);
        list_init(&n->activating_link);
        match_registry_init(&n->matches);
        int r = hashmap_put(b->names, n->name, n);
        if (r < 0) {
                free(n->name);
                free(n);
                return r;
        }
        *ret = n;
        return 0;
}

void names_unref_if_unused(struct name *n)
{
        if (!list_empty(&n->owners) || n->n_users > 0 || n->activatable ||
            !list_empty(&n->pending_activation) || !list_unlinked(&n->activating_link) ||
            n->matches.n_rules > 0)
                return;
        hashmap_remove(n->bus->names, n->name);
        match_registry_done(&n->matches);
        free(n->name);
        free(n);
}

static struct name_owner *name_find_owner(struct name *n, struct peer *p)
{
        struct name_owner *o;
        /* A peer's own list is usually shorter than a name's queue. */
        list_for_each_entry(o, &p->names, peer_link)
        {
                if (o->name == n)
                        return o;
        }
        return NULL;
}

static void owner_free(struct name_owner *o)
{
        list_del(&o->name_link);
        list_del(&o->peer_link);
        quotas_uncharge(o->peer, QUOTA_NAMES);
        free(o);
}

static size_t peer_count_names(struct peer *p)
{
        size_t n = 0;
        struct name_owner *o;
        list_for_each_entry(o, &p->names, peer_link) n++;
        return n;
}

/* What happened to n's primary owner, which was old (NULL: none): *c describes it, and says whether it
 * changed at all. */
static bool name_change_of(const struct name *n, struct peer *old, struct name_change *c)
{
        struct peer *now = names_primary_owner(n);
        *c = (struct name_change){.old_owner = old, .new_owner = now};
        if (old == now)
                return false;
        snprintf(c->name, sizeof(c->name), "%s", n->name);
        return true;
}

int names_request(struct bus *b, struct peer *p, const char *name, uint32_t flags, uint32_t *reply,
                  struct name_change *change)
{
        *change = (struct name_change){};
        struct name *n;
        int r = names_ref(b, name, &n);
        if (r < 0)
                return r;

        struct peer *primary = names_primary_owner(n);
        struct name_owner *mine = name_find_owner(n, p);

        if (primary == p) {
                mine->flags = flags;
                *reply = NAME_REPLY_ALREADY_OWNER;
                return 0;
        }

        /* The unique name counts against max_names_per_connection, as in dbus-daemon. */
        if (!mine && peer_count_names(p) + 1 >= bus_limit(b->limits.max_names_per_connection)) {
                names_unref_if_unused(n);
                return -ERR_LIMIT_CONNECTION;
        }
        if (!mine && quotas_full(b, p, QUOTA_NAMES)) {
                names_unref_if_unused(n);
                return -ERR_LIMIT_USER;
        }

        struct name_owner *head =
                primary ? list_first_entry(&n->owners, struct name_owner, name_link) : NULL;
        bool take = !primary ||
                    ((flags & NAME_FLAG_REPLACE_EXISTING) && (head->flags & NAME_FLAG_ALLOW_REPLACEMENT));

        if (!take && (flags & NAME_FLAG_DO_NOT_QUEUE)) {
                /* Asking again with DO_NOT_QUEUE takes a queued peer out of the queue. */
                if (mine)
                        owner_free(mine);
                names_unref_if_unused(n);
                *reply = NAME_REPLY_EXISTS;
                return 0;
        }

        bool was_queued = mine != NULL;
        if (!mine) {
                mine = zalloc(sizeof(*mine));
                if (!mine) {
                        names_unref_if_unused(n);
                        return -ENOMEM;
                }
                mine->name = n;
                mine->peer = p;
                list_init(&mine->name_link);
                list_add_tail(&p->names, &mine->peer_link);
                quotas_charge(p, QUOTA_NAMES);
        }
        mine->flags = flags;

        if (!take) {
                /* As dbus-daemon (bus_service_add_owner): REPLACE_EXISTING that cannot replace still puts
                 * the requester second in line, ahead of those already waiting; otherwise a newcomer joins
                 * the end and a queued peer asking again keeps its place. */
                if (flags & NAME_FLAG_REPLACE_EXISTING) {
                        list_del(&mine->name_link);
                        list_add_head(&head->name_link, &mine->name_link);
                } else if (!was_queued) {
                        list_add_tail(&n->owners, &mine->name_link);
                }
                *reply = NAME_REPLY_IN_QUEUE;
                return 0;
        }

        list_del(&mine->name_link);
        list_add_head(&n->owners, &mine->name_link);
        if (head && (head->flags & NAME_FLAG_DO_NOT_QUEUE))
                owner_free(head); /* the replaced owner asked not to wait in line */
        /* Otherwise it stays right behind the new owner, first to get the name back. */
        name_change_of(n, primary, change);
        *reply = NAME_REPLY_PRIMARY_OWNER;
        return 0;
}

int names_restore(struct bus *b, struct peer *p, const char *name, uint32_t flags,
                  struct name_change *change)
{
        *change = (struct name_change){};
        struct name *n;
        int r = names_ref(b, name, &n);
        if (r < 0)
                return r;
        if (name_find_owner(n, p))
                return 0;
        if (peer_count_names(p) + 1 >= bus_limit(b->limits.max_names_per_connection) ||
            quotas_full(b, p, QUOTA_NAMES)) {
                names_unref_if_unused(n);
                return peer_count_names(p) + 1 >= bus_limit(b->limits.max_names_per_connection)
                               ? -ERR_LIMIT_CONNECTION
                               : -ERR_LIMIT_USER;
        }
        struct name_owner *mine = zalloc(sizeof(*mine));
        if (!mine) {
                names_unref_if_unused(n);
                return -ENOMEM;
        }
        struct peer *primary = names_primary_owner(n);
        mine->name = n;
        mine->peer = p;
        mine->flags = flags;
        list_add_tail(&p->names, &mine->peer_link);
        list_add_tail(&n->owners, &mine->name_link);
        quotas_charge(p, QUOTA_NAMES);
        name_change_of(n, primary, change);
        return 0;
}

static bool names_drop_owner(struct name_owner *o, struct name_change *change)
{
        struct name *n = o->name;
        struct peer *primary = names_primary_owner(n);
        owner_free(o);
        bool changed = name_change_of(n, primary, change);
        names_unref_if_unused(n);
        return changed;
}

int names_release(struct bus *b, struct peer *p, const char *name, uint32_t *reply,
                  struct name_change *change)
{
        *change = (struct name_change){};
        struct name *n = names_get(b, name);
        if (!n || list_empty(&n->owners)) {
                *reply = NAME_RELEASE_NON_EXISTENT;
                return 0;
        }
        struct name_owner *o = name_find_owner(n, p);
        if (!o) {
                *reply = NAME_RELEASE_NOT_OWNER;
                return 0;
        }
        names_drop_owner(o, change);
        *reply = NAME_RELEASE_RELEASED;
        return 0;
}

bool names_release_next(struct peer *p, struct name_change *change)
{
        while (!list_empty(&p->names))
                if (names_drop_owner(list_first_entry(&p->names, struct name_owner, peer_link), change))
                        return true;
        return false;
}

struct peer *names_find_peer(struct bus *b, const char *name)
{
        if (name[0] == ':') {
                uint64_t id;
                if (!dbus_parse_unique_name(name, &id))
                        return NULL;
                struct peer *p = hashmap_get(b->peers_by_id, &id);
                return p && p->state == PEER_RUNNING ? p : NULL;
        }
        struct name *n = names_get(b, name);
        return n ? names_primary_owner(n) : NULL;
}
