/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-uid accounting. Every resource a connection holds is charged to the
 * uid behind it (as dbus-broker does), so a user cannot exhaust the bus by
 * opening more connections. This is the seam the quota work builds on.
 */
#pragma once

#include "bus.h"

struct user_account {
        uint64_t key; /* the uid, widened: the hash map key */
        uid_t uid;
        size_t n_connections;
};

/* Charge a new connection to its uid. Limits are checked at Hello (quotas_check_connection()), where the
 * peer can be told why it is refused, as dbus-daemon does. */
int quotas_charge_connection(struct bus *b, struct peer *p);
/* -EMFILE over max_completed_connections, -EUSERS over the uid's max_connections_per_user. */
int quotas_check_connection(struct bus *b, struct peer *p);
void quotas_uncharge_connection(struct bus *b, struct peer *p);
void quotas_done(struct bus *b);
