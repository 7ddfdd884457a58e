/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-uid charges. Accounts are created on first use and dropped when the
 * last charge goes, so the table is as big as the set of connected users.
 */
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
                return -EUSERS;
        return 0;
}

int32_t quotas_limit(const struct bus *b, enum quota q)
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

void quotas_uncharge_connection(struct bus *b, struct peer *p)
{
        struct user_account *u = p->user;
        if (!u)
                return;
        p->user = NULL;
        if (--u->n_connections == 0)
                user_account_free(b, u);
}

void quotas_done(struct bus *b)
{
        struct hashmap_iter it;
        struct user_account *u;
        HASHMAP_FOREACH(u, b->users, it)
        user_account_free(b, u);
}
