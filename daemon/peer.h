/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One connection to the bus: its identity, authentication, its input and
 * output queues, and the state the bus keeps for it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "creds.h"
#include "hashmap.h"
#include "io.h"
#include "list.h"
#include "match.h"
#include "sasl.h"
#include "source.h"

struct bus;
struct user_account; /* per-uid charges, quotas.c */

/* Where a connection came in; bus policy can tell them apart (the host
 * listener is for the bridge and admins, never visible in a container). */
enum listener_origin {
        ORIGIN_BUS = 0,  /* the bus's normal listener(s) */
        ORIGIN_HOST = 1, /* host-only listener (per-container mode) */
};

enum peer_state {
        PEER_AUTHENTICATING,
        PEER_AWAITING_HELLO,
        PEER_RUNNING,
        PEER_MONITOR,
        PEER_DEAD,
};

/*
 * What a connection may do beyond an ordinary peer, decided once at accept from the kernel's facts
 * (SO_PEERCRED and the peer's namespaces), never from anything it sends. A container bus admits to its
 * sockets, and shows other peers' traffic, only by this.
 */
enum peer_trust {
        PEER_TRUST_NONE,
        PEER_TRUST_HOST_ROOT,        /* uid 0 in the bus's own user and pid namespaces */
        PEER_TRUST_BRIDGE_CANDIDATE, /* on host.sock as the container's mapped root in the bus's own
                                      * namespaces: may only prove itself (Container1.ClaimBridge) */
        PEER_TRUST_BRIDGE,           /* ... that did, with the bus's bridge key */
};

struct peer {
        struct source source; /* first: SOURCE_PEER */
        struct bus *bus;
        int fd;
        uint64_t id;
        char unique_name[32];
        enum peer_state state;
        enum listener_origin origin;
        uint32_t epoll_events;
        enum peer_trust trust;
        bool unix_fds;
        const char *close_after_flush; /* refused: disconnect with this reason once the error is written */
        const char *refusal; /* why the container boundary refuses it: its Hello gets this as AccessDenied */
        bool proxied;        /* creds are a host caller's, set by its bridge (SetProxiedCredentials) */

        struct peer_creds creds;
        struct user_account *user;
        struct sasl_server *sasl;            /* only while authenticating */
        struct bus_policy_view *policy_view; /* resolved once, after authentication */
        uint64_t auth_deadline_usec;

        struct io_in in;
        struct io_out out;       /* each message charged to the uid to blame (quotas.h) */
        size_t in_charged_bytes; /* what of `in` is charged to our uid */
        size_t in_charged_fds;

        struct list_head names;      /* struct name_owner, by peer_link */
        struct list_head matches;    /* struct match_rule owned, by owner_link */
        struct hashmap *match_index; /* canonical rule text -> struct match_rule, for AddMatch/RemoveMatch */
        size_t n_matches;
        struct match_registry sender_matches; /* rules of others with sender = our unique name */
        struct hashmap *replies_owed;         /* key[2] -> struct reply_slot: calls we must answer */
        struct list_head replies_waiting;     /* slots in others' maps for calls we made */
        size_t n_replies_waiting;

        struct list_head monitor_link; /* in bus->monitors */
        struct list_head flush_link;   /* in bus->flush_list while output is pending */
        struct list_head auth_link;    /* in bus->authenticating until SASL completes */
        struct list_head dead_link;    /* in bus->dead_peers */
        struct list_head doomed_link;  /* in bus->doomed_peers */
        const char *doom_reason;       /* set: disconnect once the current routing is done */
        struct list_head link;         /* in bus->peers */
        uint64_t delivery_seq;         /* de-duplicates broadcast delivery */

        /* counters for Debug.Stats */
        uint64_t n_messages_in, n_messages_out;
};

int peer_new(struct bus *b, int fd, enum listener_origin origin, struct peer **ret);
void peer_disconnect(struct peer *p, const char *fmt, ...) _printf_(2, 3);
void peer_free(struct peer *p);
/* For a peer that failed as a receiver: routing may be walking match registries, name queues or the
 * monitor list, which peer_disconnect() changes, so the peer only stops receiving now and is
 * disconnected by peer_disconnect_doomed() once routing is done. reason is a static string. */
void peer_disconnect_later(struct peer *p, const char *reason);
void peer_disconnect_doomed(struct bus *b);
void peer_dispatch(struct peer *p, uint32_t events);
/* Queue a stamped message for p, charging its bytes and fds to payer (quotas.h says who that is).
 * -ENOBUFS if p's queue is over max_outgoing_bytes or max_outgoing_unix_fds, -EUSERS if payer's uid is
 * over max_bytes_per_user or max_unix_fds_per_user, -EOPNOTSUPP for fds to a peer that cannot take them. */
int peer_queue(struct peer *p, struct message *m, struct user_account *payer);
void peer_flush(struct peer *p);
const char *peer_describe(const struct peer *p, char *buf, size_t n);
