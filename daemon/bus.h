/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The data model of nsbusd: the bus, its listeners, peers, the name
 * registry, match rules and pending replies.
 *
 * Ownership is strict and one-way: the bus owns peers and names; a peer owns
 * its match rules, its name-ownership entries and the reply slots for calls
 * it has to answer. Every cross reference (a rule in a registry, an owner in
 * a name's queue, a reply slot in its caller's list) is an intrusive list
 * node, so tearing a peer down unlinks everything in time proportional to
 * what it owned, never to the size of the bus.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "creds.h"
#include "hashmap.h"
#include "io.h"
#include "list.h"
#include "match-rule.h"
#include "message.h"
#include "sasl.h"

struct bus;
struct peer;
struct bus_config;
struct bus_policy;
struct activation;
struct container;

/* Where a connection came in; bus policy can tell them apart (the host
 * listener is for the bridge and admins, never visible in a container). */
enum listener_origin {
        ORIGIN_BUS = 0,  /* the bus's normal listener(s) */
        ORIGIN_HOST = 1, /* host-only listener (per-container mode) */
};

/* What an epoll event's data points at: the first member of each kind of event source, so the loop
 * knows what it woke for without searching. */
enum source_kind {
        SOURCE_SIGNALS,
        SOURCE_LISTENER,
        SOURCE_PEER,
        SOURCE_CONTAINER,
};

struct source {
        enum source_kind kind;
};

struct listener {
        struct source source; /* first: SOURCE_LISTENER */
        struct bus *bus;
        int fd;
        enum listener_origin origin;
        char *address; /* connectable address with guid */
        char *path;    /* socket file to unlink on exit, or NULL */
        struct list_head link;
};

/*
 * A match registry holds rules keyed by the one field that most often tells
 * rules apart: member. A broadcast looks at the bucket of its own member and
 * at the rules without a member, never at the rest.
 */
/* Rules bucketed by their member and exact path keys (see match.c); rules with neither are in `other`. */
struct match_registry {
        struct hashmap *buckets; /* bucket key -> struct match_bucket */
        struct list_head other;
        size_t n_rules;
        /* Buckets of the two kinds a broadcast looks up only when there are any (arg0: parses its args). */
        size_t n_arg0_buckets, n_interface_buckets;
};

enum match_bucket_kind { BUCKET_PLAIN, BUCKET_ARG0, BUCKET_INTERFACE };

struct match_bucket {
        enum match_bucket_kind kind;
        char *key; /* member, path, member + path, member + ' ' + arg0, or interface: members hold
                    * none of ' ', '/', '.'; interfaces hold '.' but neither ' ' nor '/'; paths
                    * start with '/' */
        struct list_head rules;
};

struct match_rule {
        struct match_rule_keys keys;
        char *text; /* canonical form: the key in the owner's match_index */
        struct peer *owner;
        unsigned n_refs; /* AddMatch of an equal rule twice needs RemoveMatch twice */
        struct match_registry *registry;
        struct match_bucket *bucket; /* NULL when in registry->other */
        struct list_head registry_link;
        struct list_head owner_link;
        struct name *sender_name; /* keeps the name alive while the rule refers to it */
        bool eavesdrop_counted;   /* counted in bus->n_eavesdrop_rules */
};

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
};

struct name_owner {
        struct name *name;
        struct peer *peer;
        uint32_t flags; /* RequestName flags */
        struct list_head name_link;
        struct list_head peer_link;
};

/*
 * A reply the callee owes: created when a method call expecting a reply is
 * delivered, consumed by the reply. A reply without a slot is dropped, so
 * no peer can inject unsolicited "replies". Keyed by (caller id, serial) in
 * the callee's map.
 */
struct reply_slot {
        struct peer *caller, *callee;
        struct list_head caller_link;
        uint64_t key[2]; /* caller id, serial of the call */
        uint64_t deadline_usec;
        struct list_head timeout_link; /* in bus->reply_timeouts, oldest first */
};

enum peer_state {
        PEER_AUTHENTICATING,
        PEER_AWAITING_HELLO,
        PEER_RUNNING,
        PEER_MONITOR,
        PEER_DEAD,
};

struct user_account; /* per-uid charges, quotas.c */

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

struct bus {
        int epoll_fd;
        char guid[33];
        char machine_id[33];
        char *bus_type; /* "session", "system", ... from <type> */
        uint64_t next_id;
        uint32_t driver_serial;
        uint64_t delivery_seq;
        bool exiting;
        size_t n_freed_since_trim;
        bool accepting;     /* listeners are in the epoll set with EPOLLIN (see bus_update_accepting) */
        bool fds_exhausted; /* accept() hit EMFILE/ENFILE; cleared when a peer is freed */

        struct bus_config *config;
        char *config_file;
        struct bus_policy *policy;
        struct bus_limits limits;
        bool allow_anonymous;
        bool allow_external;

        struct list_head listeners;
        struct list_head peers;
        struct list_head monitors;
        struct list_head dead_peers;
        struct list_head doomed_peers;   /* receivers that failed mid-routing (see peer_disconnect_later) */
        struct list_head authenticating; /* peers in SASL, oldest first (so also by auth deadline) */
        struct list_head reply_timeouts; /* reply slots by deadline (one timeout for all: FIFO order) */
        struct list_head activating;     /* names whose service is starting, by deadline */
        struct list_head flush_list;     /* peers with queued output, written once per loop iteration */
        struct hashmap *peers_by_id;     /* uint64 id -> peer */
        struct hashmap *names;           /* char * -> struct name */
        struct hashmap *users;           /* uid -> struct user_account */
        struct match_registry wildcard_matches;  /* rules without sender */
        struct match_registry driver_matches;    /* rules with sender = org.freedesktop.DBus */
        struct match_registry eavesdrop_matches; /* rules with eavesdrop='true', whatever their sender */
        size_t n_eavesdrop_rules;
        size_t n_peers_authenticating;
        size_t n_peers_connected;
        size_t n_match_rules;

        struct activation *activation;
        struct container *container;    /* per-container mode, or NULL */
        struct ns_registry *namespaces; /* every peer's user and pid namespace, interned */
        struct peer_creds self_creds;   /* the bus itself, as the subject of driver questions */

        uint8_t scratch[64 * 1024];
};

/* Limits from the config are signed (dbus-daemon's types); a negative one means "none". */
static inline size_t bus_limit(int64_t v)
{
        return v < 0 ? SIZE_MAX : (size_t)v;
}

/* bus.c */
int bus_new(struct bus **ret);
void bus_free(struct bus *b);
int bus_add_listener(struct bus *b, const char *address, enum listener_origin origin, struct listener **ret);
int bus_apply_config(struct bus *b, struct bus_config *c);
int bus_reload_config(struct bus *b);
/* Serve a connected socket as a new peer that came in on a listener of this origin (the bus takes fd,
 * and closes it if the peer is refused): 0, or -errno when refused. */
int bus_add_peer(struct bus *b, int fd, enum listener_origin origin);
/* One turn of the event loop, waiting at most max_timeout_ms (-1: until something happens): the number of
 * events handled, or -errno. */
int bus_run_once(struct bus *b, int max_timeout_ms);
/* Turn until SIGTERM/SIGINT or the container's end: 0, or -errno. */
int bus_run(struct bus *b);
struct peer *bus_find_peer_by_name(struct bus *b, const char *name);
uint32_t bus_next_serial(struct bus *b);
/* The first 32 characters of text if they are a machine id (lowercase hex). */
bool bus_parse_machine_id(const char *text, char out[33]);

/* peer.c */
int peer_new(struct bus *b, int fd, enum listener_origin origin, struct peer **ret);
void peer_disconnect(struct peer *p, const char *fmt, ...) _printf_(2, 3);
void peer_free(struct peer *p);
/* For a peer that failed as a receiver: routing may be walking match registries, name queues or the
 * monitor list, which peer_disconnect() changes, so the peer only stops receiving now and is
 * disconnected by bus_disconnect_doomed() once routing is done. reason is a static string. */
void peer_disconnect_later(struct peer *p, const char *reason);
void bus_disconnect_doomed(struct bus *b);
void peer_dispatch(struct peer *p, uint32_t events);
/* Queue a stamped message for p, charging its bytes and fds to payer (quotas.h says who that is).
 * -ENOBUFS if p's queue is over max_outgoing_bytes or max_outgoing_unix_fds, -EUSERS if payer's uid is
 * over max_bytes_per_user or max_unix_fds_per_user, -EOPNOTSUPP for fds to a peer that cannot take them. */
int peer_queue(struct peer *p, struct message *m, struct user_account *payer);
void peer_flush(struct peer *p);
const char *peer_describe(const struct peer *p, char *buf, size_t n);

/* routing.c */
/* Route m from sender. 0, or -ENOMEM when memory ran out on the way; the sender has then been
 * disconnected, so no call of its waits for an answer that cannot come. */
int bus_dispatch_message(struct bus *b, struct peer *sender, struct message *m);
/* Deliver a driver-generated message to `to` (its destination), or broadcast it when to is NULL. */
void bus_send_driver_message(struct bus *b, struct peer *to, struct message *m);
void bus_send_to_monitors(struct bus *b, struct message *m);
int bus_reply_error(struct bus *b, struct peer *to, const struct message *call, const char *name,
                    const char *fmt, ...) _printf_(5, 6);
void reply_slot_free(struct reply_slot *s);
/* Give up on the reply: free the slot and send the caller NoReply with this text. */
void reply_slot_fail(struct bus *b, struct reply_slot *s, const char *text);
/* Answer calls whose reply_timeout passed with NoReply; returns ms to the next deadline or -1. */
int bus_check_reply_timeouts(struct bus *b, uint64_t now);

/* names.c */
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
struct name *name_get(struct bus *b, const char *name);
int name_ref(struct bus *b, const char *name, struct name **ret);
void name_unref_if_unused(struct name *n);
static inline struct peer *name_primary_owner(const struct name *n)
{
        return list_empty(&n->owners) ? NULL
                                      : list_first_entry(&n->owners, struct name_owner, name_link)->peer;
}
int names_request(struct bus *b, struct peer *p, const char *name, uint32_t flags, uint32_t *reply);
int names_release(struct bus *b, struct peer *p, const char *name, uint32_t *reply);
void names_release_all(struct bus *b, struct peer *p);

/* match.c */
void match_registry_init(struct match_registry *r);
void match_registry_done(struct match_registry *r);
int match_add(struct bus *b, struct peer *p, const char *rule_text, bool may_eavesdrop, char *err,
              size_t errlen);
int match_remove(struct bus *b, struct peer *p, const char *rule_text);
void match_rule_free(struct match_rule *r);
void match_remove_all(struct peer *p);
/* Collect peers with a rule matching m in the registries that apply to sender; calls deliver for each peer
 * once. sender may be NULL for the driver. */
void match_broadcast(struct bus *b, struct peer *sender, struct message *m,
                     void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud), void *ud);
/* The same for a unicast message to recipient: only eavesdropping rules, never the recipient itself. */
void match_eavesdrop(struct bus *b, struct peer *sender, struct peer *recipient, struct message *m,
                     void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud), void *ud);
bool match_monitor_wants(struct bus *b, struct peer *mon, struct peer *sender, struct peer *recipient,
                         struct message *m);

/* driver.c */
int driver_handle(struct bus *b, struct peer *p, struct message *m);
int driver_assign_unique_name(struct bus *b, struct peer *p);
/* announce: emit NameOwnerChanged for the unique name (not for monitors, which already lost it). */
void driver_peer_gone(struct bus *b, struct peer *p, bool announce);
void driver_emit_name_owner_changed(struct bus *b, const char *name, const char *old_owner,
                                    const char *new_owner);
void driver_emit_activatable_services_changed(struct bus *b);
void driver_emit_name_acquired(struct bus *b, struct peer *p, const char *name);
void driver_emit_name_lost(struct bus *b, struct peer *p, const char *name);
