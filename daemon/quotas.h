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

/* -EUSERS when uid is at max_connections_per_user or the bus at max_completed_connections. */
int quotas_charge_connection(struct bus *b, struct peer *p);
void quotas_uncharge_connection(struct bus *b, struct peer *p);
void quotas_done(struct bus *b);
