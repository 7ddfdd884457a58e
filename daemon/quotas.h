/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-uid accounting. Every resource a connection holds is charged to the
 * uid behind it (as dbus-broker does), so a user cannot exhaust the bus by
 * opening more connections: connections, owned and queued names, match
 * rules and pending replies have a limit per connection (dbus-daemon's) and
 * a total per uid (max_*_per_user). The uid is the one the kernel reported
 * for the connection, also for a bridge that speaks for host callers.
 *
 * The bytes and fds of messages the bus holds are charged to the uid to
 * blame if they pile up: a message waiting in a receiver's queue to its
 * sender's uid when it is unsolicited (a call, a unicast signal), and to its
 * receiver's uid when the receiver asked for it (a reply, a subscribed
 * signal, what a monitor sees, anything from the bus); a message still
 * arriving to the uid sending it (enum held). The charge stays with the queued message
 * and is given back when it is written or dropped, so an account lives as
 * long as its uid has a connection or a charge.
 */
#pragma once

#include "bus.h"

enum quota {
        QUOTA_NAMES,   /* well-known names owned or queued for (max_names_per_user) */
        QUOTA_MATCHES, /* match rules (max_match_rules_per_user) */
        QUOTA_REPLIES, /* calls waiting for a reply (max_replies_per_user) */
        _QUOTA_MAX,
};

/* Message bytes and fds held for a uid, each bounded by max_bytes_per_user and max_unix_fds_per_user on
 * its own: over the limit, a queued message is refused with LimitsExceeded, while an arriving one costs
 * the connection that sends it. Apart, a uid whose messages fill receivers' queues can still send the
 * next one and hear why it is refused. */
enum held {
        HELD_QUEUED,   /* waiting in receivers' queues */
        HELD_ARRIVING, /* still being received from the uid's connections */
        _HELD_MAX,
};

struct user_account {
        uint64_t key; /* the uid, widened: the hash map key */
        uid_t uid;
        struct bus *bus;
        size_t n_connections;
        size_t used[_QUOTA_MAX];
        struct {
                size_t bytes, fds;
        } held[_HELD_MAX];
};

/* Is p's uid at its limit of q? Checked before a resource is made; charged once it exists. */
bool quotas_full(const struct bus *b, const struct peer *p, enum quota q);
void quotas_charge(struct peer *p, enum quota q);
void quotas_uncharge(struct peer *p, enum quota q);
/* The uid's limit for q, for error messages. */
int64_t quotas_limit(const struct bus *b, enum quota q);

/* Charge a message's bytes and fds to u. -ERR_LIMIT_USER if that would take what u holds of that kind over
 * max_bytes_per_user or max_unix_fds_per_user; a uid holding nothing of that kind may always take one
 * message, as an empty queue may, so a limit below max_message_size cannot make a message
 * undeliverable. */
int quotas_charge_held(struct user_account *u, enum held h, size_t n_bytes, size_t n_fds);
/* Give them back; the account goes when its uid has neither connections nor charges left. */
void quotas_uncharge_held(struct user_account *u, enum held h, size_t n_bytes, size_t n_fds);
/* io_out.release for peer queues: the charge is the struct user_account that paid. */
void quotas_release_queued(void *charge, const struct message *m);

/* Charge a new connection to its uid. Limits are checked at Hello (quotas_check_connection()), where the
 * peer can be told why it is refused, as dbus-daemon does. */
int quotas_charge_connection(struct bus *b, struct peer *p);
/* -EMFILE over max_completed_connections, -ERR_LIMIT_USER over the uid's max_connections_per_user. */
int quotas_check_connection(struct bus *b, struct peer *p);
void quotas_uncharge_connection(struct bus *b, struct peer *p);
void quotas_done(struct bus *b);
