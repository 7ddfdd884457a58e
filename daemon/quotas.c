/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-uid charges. Accounts are created on first use and dropped when the
 * last connection and the last charge are gone, so the table is as big as
 * the set of users that are connected or have messages in flight.
 */
#include <assert.h>

#include "errors.h"
#include "quotas.h"

int quotas_charge_connection(struct bus *b, struct peer *p)
{
        uint64_t key = p->creds.uid;
        struct user_account *u = hashmap_get(b->users, &key);

        if (!u) {
                u = zalloc(sizeof(*u));
                if (!u)
                        return -ENOMEM;
                u->key = key;
                u->uid = p->creds.uid;
                u->bus = b;
                if (hashmap_put(b->users, &u->key, u) < 0) {
                        free(u);
                        return -ENOMEM;
                }
        }
        /* The per-user limit is enforced at Hello (quotas_check_connection), where the peer can be told. */
        u->n_connections++;
        p->user = u;
        return 0;
}

int quotas_check_connection(struct bus *b, struct peer *p)
{
        if (b->n_peers_connected > bus_limit(b->limits.max_completed_connections))
                return -EMFILE;
        if (p->user && p->user->n_connections > bus_limit(b->limits.max_connections_per_user))
                return -ERR_LIMIT_USER;
        return 0;
}

int64_t quotas_limit(const struct bus *b, enum quota q)
{
        switch (q) {
        case QUOTA_NAMES:
                return b->limits.max_names_per_user;
        case QUOTA_MATCHES:
                return b->limits.max_match_rules_per_user;
        case QUOTA_REPLIES:
                return b->limits.max_replies_per_user;
        default:
                return 0;
        }
}

bool quotas_full(const struct bus *b, const struct peer *p, enum quota q)
{
        return p->user && p->user->used[q] >= (size_t)bus_limit(quotas_limit(b, q));
}

void quotas_charge(struct peer *p, enum quota q)
{
        if (p->user)
                p->user->used[q]++;
}

void quotas_uncharge(struct peer *p, enum quota q)
{
        if (p->user && p->user->used[q] > 0)
                p->user->used[q]--;
}

static void user_account_free(struct bus *b, struct user_account *u)
{
        hashmap_remove(b->users, &u->key);
        free(u);
}

/* Names, rules and replies go with the connections; queued messages may outlive them. */
static void user_account_put(struct user_account *u)
{
        if (u->n_connections > 0)
                return;
        for (enum held h = 0; h < _HELD_MAX; h++)
                if (u->held[h].bytes || u->held[h].fds)
                        return;
        user_account_free(u->bus, u);
}

void quotas_uncharge_connection(struct bus *b, struct peer *p)
{
        struct user_account *u = p->user;
        if (!u)
                return;
        p->user = NULL;
        u->n_connections--;
        user_account_put(u);
}

/* Would used + n pass the limit? Without overflowing. */
static bool would_exceed(size_t used, size_t n, int64_t limit)
{
        size_t max = bus_limit(limit);
        return used > max || n > max - used;
}

int quotas_charge_held(struct user_account *u, enum held h, size_t n_bytes, size_t n_fds)
{
        const struct bus_limits *l = &u->bus->limits;
        size_t *bytes = &u->held[h].bytes, *fds = &u->held[h].fds;
        bool empty = *bytes == 0 && *fds == 0;
        if (!empty && (would_exceed(*bytes, n_bytes, l->max_bytes_per_user) ||
                       would_exceed(*fds, n_fds, l->max_unix_fds_per_user)))
                return -ERR_LIMIT_USER;
        *bytes += n_bytes;
        *fds += n_fds;
        return 0;
}

void quotas_uncharge_held(struct user_account *u, enum held h, size_t n_bytes, size_t n_fds)
{
        assert(u->held[h].bytes >= n_bytes && u->held[h].fds >= n_fds);
        u->held[h].bytes -= n_bytes;
        u->held[h].fds -= n_fds;
        user_account_put(u);
}

void quotas_release_queued(void *charge, const struct message *m)
{
        quotas_uncharge_held(charge, HELD_QUEUED, io_out_message_size(m), m->n_fds);
}

void quotas_done(struct bus *b)
{
        struct hashmap_iter it;
        struct user_account *u;
        HASHMAP_FOREACH(u, b->users, it)
        user_account_free(b, u);
}
