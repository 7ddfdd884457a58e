/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus: its listeners, its peers and names, its registries of match rules
 * and pending replies, and the event loop that serves them. The types of
 * those parts are their modules' (peer.h, names.h, match.h, routing.h).
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
#include "list.h"
#include "listener.h"
#include "match.h"
#include "peer.h"
#include "event.h"

struct bus_config;
struct bus_policy;
struct activation;
struct container;

struct bus {
        struct event_loop *loop;
        struct event_source signals;         /* SIGCHLD, SIGHUP, SIGTERM, SIGINT */
        struct event_timer auth_timer;       /* the first deadline in authenticating */
        struct event_timer reply_timer;      /* ... in reply_timeouts */
        struct event_timer activation_timer; /* ... in activating */
        struct event_timer checkpoint_timer; /* ... of held connections whose exporter went (checkpoint.h) */
        char guid[33];
        char machine_id[33];
        char *bus_type; /* "session", "system", ... from <type> */
        uint64_t next_id;
        uint32_t driver_serial;
        uint64_t delivery_seq;
        bool exiting;
        size_t n_freed_since_trim;
        bool accepting;         /* listeners are watched for EPOLLIN (see bus_update_accepting) */
        bool listeners_changed; /* a listener was added: it joins the loop before the next wait */
        bool fds_exhausted;     /* accept() hit EMFILE/ENFILE; cleared when a peer is freed */

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
        struct list_head namespaces_unread; /* peers accepted this turn, namespaces not read yet */
        struct list_head reply_timeouts;    /* reply slots by deadline (one timeout for all: FIFO order) */
        struct list_head activating;        /* names whose service is starting, by deadline */
        struct list_head parked;            /* struct parked: restored connections waiting (checkpoint.h) */
        struct checkpoint_index *checkpoint_index; /* client sockets -> peers, during a checkpoint */
        struct list_head flush_list; /* peers with queued output, written once per loop iteration */
        struct hashmap *peers_by_id; /* uint64 id -> peer */
        struct hashmap *names;       /* char * -> struct name */
        struct hashmap *users;       /* uid -> struct user_account */
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

        struct io_scratch scratch; /* every peer's reads land here (owned: big messages take it over) */
};

/* Limits from the config are signed (dbus-daemon's types); a negative one means "none". */
static inline size_t bus_limit(int64_t v)
{
        return v < 0 ? SIZE_MAX : (size_t)v;
}

int bus_new(struct bus **ret);
void bus_free(struct bus *b);
/* Serve a connected socket as a new peer that came in on a listener of this origin (the bus takes fd,
 * and closes it if the peer is refused): 0, or -errno when refused. */
int bus_add_peer(struct bus *b, int fd, enum listener_origin origin);
/* One turn of the event loop, waiting at most max_timeout_ms (-1: until something happens): the number of
 * events handled, or -errno. */
int bus_run_once(struct bus *b, int max_timeout_ms);
/* Turn until SIGTERM/SIGINT or the container's end: 0, or -errno. */
int bus_run(struct bus *b);
/* In the child of a fork() that goes on serving (--fork): its own signals reach the loop. 0 or -errno. */
int bus_forked(struct bus *b);
