/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-uid accounting. Every resource a connection holds is charged to the
 * uid behind it (as dbus-broker does), so a user cannot exhaust the bus by
 * opening more connections: connections, owned and queued names, match
 * rules and pending replies have a limit per connection (dbus-daemon's) and
 * a total per uid (max_*_per_user). The uid is the one the kernel reported
 * for the connection, also for a bridge that speaks for host callers.
 */
#pragma once

#include "bus.h"

enum quota {
        QUOTA_NAMES,   /* well-known names owned or queued for (max_names_per_user) */
        QUOTA_MATCHES, /* match rules (max_match_rules_per_user) */
        QUOTA_REPLIES, /* calls waiting for a reply (max_replies_per_user) */
        _QUOTA_MAX,
};

struct user_account {
        uint64_t key; /* the uid, widened: the hash map key */
        uid_t uid;
        size_t n_connections;
        size_t used[_QUOTA_MAX];
};

/* Is p's uid at its limit of q? Checked before a resource is made; charged once it exists. */
bool quotas_full(const struct bus *b, const struct peer *p, enum quota q);
void quotas_charge(struct peer *p, enum quota q);
void quotas_uncharge(struct peer *p, enum quota q);
/* The uid's limit for q, for error messages. */
int32_t quotas_limit(const struct bus *b, enum quota q);

/* Charge a new connection to its uid. Limits are checked at Hello (quotas_check_connection()), where the
 * peer can be told why it is refused, as dbus-daemon does. */
int quotas_charge_connection(struct bus *b, struct peer *p);
/* -EMFILE over max_completed_connections, -EUSERS over the uid's max_connections_per_user. */
int quotas_check_connection(struct bus *b, struct peer *p);
void quotas_uncharge_connection(struct bus *b, struct peer *p);
void quotas_done(struct bus *b);
