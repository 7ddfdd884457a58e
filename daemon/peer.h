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
#include "listener.h"
#include "match.h"
#include "sasl.h"
#include "event.h"

struct bus;
struct user_account; /* per-uid charges, quotas.c */

#define CHECKPOINT_TOKEN_SIZE 16

/* A connection restored from a checkpoint image that waits for its process (checkpoint.h). */
struct parked {
        struct peer *peer;
        struct list_head link; /* in bus->parked */
        struct peer *preparer; /* the connection that prepared it: it goes when that one does */
        uint8_t token[CHECKPOINT_TOKEN_SIZE];
        uint32_t inner_uid; /* as the container saw it: checked against the restored container's map */
        uint8_t *unread; /* kept since its export: what its client had not read, ahead of its queue at Resume
                          */
        size_t n_unread;
        bool exported; /* a held connection whose socket closed (CRIU killed its process after the dump):
                        * no token until a Prepare takes it back (checkpoint.h) */
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
        struct event_source source; /* its socket in the bus loop */
        struct bus *bus;
        int fd;
        uint64_t id;
        char unique_name[32];
        enum peer_state state;
        enum listener_origin origin;
        enum peer_trust trust;
        bool unix_fds;
        const char *close_after_flush; /* refused: disconnect with this reason once the error is written */
        const char *refusal; /* why the container boundary refuses it: its Hello gets this as AccessDenied */
        bool proxied;        /* creds are a host caller's, set by its bridge (SetProxiedCredentials) */
        char *proxied_for;   /* that caller's unique name on the host bus, if the bridge said it */
        struct parked *parked; /* restored, waiting for its process: no socket yet (checkpoint.h) */
        bool held; /* exported for a dump: its socket is neither read nor written (checkpoint.h) */
        struct peer *held_by; /* ... by this connection; NULL once that went */
        uint64_t held_until;  /* ... and then released (or parked) at this time */
        size_t held_out;      /* bytes queued for it when it was exported */

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
        struct list_head replies_owed;        /* struct reply_slot by callee_link: calls we must answer */
        struct hashmap *replies_index;        /* key[2] -> those of callers with replies_indexed set */
        struct list_head replies_waiting; /* struct reply_slot by caller_link: calls we made, oldest first */
        size_t n_replies_waiting;
        bool replies_indexed; /* our slots are in their callees' replies_index (replies.c) */

        struct list_head monitor_link; /* in bus->monitors */
        struct list_head flush_link;   /* in bus->flush_list while output is pending */
        struct list_head auth_link;    /* in bus->authenticating until SASL completes */
        struct list_head dead_link;    /* in bus->dead_peers */
        struct list_head doomed_link;  /* in bus->doomed_peers */
        struct list_head ns_link;      /* in bus->namespaces_unread until peer_read_namespaces() */
        const char *doom_reason;       /* set: disconnect once the current routing is done */
        struct list_head link;         /* in bus->peers */
        uint64_t delivery_seq;         /* de-duplicates broadcast delivery */
        unsigned reads_left;           /* reads this wakeup may still make (peer_receive) */
        bool taking_messages;          /* the input may hold complete messages */

        /* counters for Debug.Stats */
        uint64_t n_messages_in, n_messages_out;
};

/* A peer for an accepted socket (it takes fd only on success), authenticating: -ERR_LIMIT_USER or -EMFILE
 * over the connection limits, -ENOMEM, or what reading its credentials returned. */
int peer_new(struct bus *b, int fd, enum listener_origin origin, struct peer **ret);
/* Read p's namespaces (and with them whether it is the host's root) if they are not known yet (a plain bus
 * reads them after the turn that accepted p: peer_new()). Call before reading p->creds.user_ns, pid_ns,
 * ns_pids, ns_unknown or has_pidfd, or p->trust on a plain bus. */
void peer_read_namespaces(struct peer *p);
/* The same for every peer accepted this turn whose namespaces nothing has needed yet. */
void peers_read_namespaces(struct bus *b);
void peer_free(struct peer *p);
/* A parked connection for a checkpoint image: running, with the unique name :1.id and the image's identity,
 * no socket until peer_adopt_socket(); user_ns and pid_ns (referenced) stand for its process's until then.
 * 0 or -ENOMEM. */
int peer_new_parked(struct bus *b, uint64_t id, uid_t uid, gid_t gid, const uint32_t *groups,
                    size_t n_groups, bool unix_fds, struct ns_user *user_ns, struct ns_pid *pid_ns,
                    struct peer **ret);
/* The parked connection q takes conn's socket and what the kernel said of conn's process (pid,
 * namespaces; the uid and groups stay the image's), with first queued ahead of what q holds. conn is left
 * without a socket. 0 or -errno. */
int peer_adopt_socket(struct peer *q, struct peer *conn, struct message *first);
/* Exported by by, with queued bytes queued for it: from now on its socket is neither read nor written (what
 * was in flight is in the image), until peer_release() or peer_park(). */
void peer_hold(struct peer *p, struct peer *by, size_t queued);
/* Read and write p's socket again. */
void peer_release(struct peer *p);
/* A held connection whose socket closed: it stays, parked without a socket, for a restore onto this bus;
 * what was sent it meanwhile queues. Its unread input is dropped with the socket (the image has it).
 * 0 or -ENOMEM. */
int peer_park(struct peer *p);
/* The connection ends: p leaves the loop and the bus's lists and is freed after the iteration (routing may
 * still hold it). What p held in names, rules and replies is the caller's to release first (see
 * driver_disconnect_peer()). reason, if not NULL, is logged. */
void peer_close(struct peer *p, const char *reason);
/* For a peer that failed as a receiver: routing may be walking match registries, name queues or the
 * monitor list, which a disconnect changes, so the peer only stops receiving now and is disconnected
 * by driver_disconnect_doomed() once routing is done. reason is a static string. */
void peer_disconnect_later(struct peer *p, const char *reason);

/* A wakeup for reading starts: peer_receive() reads at most a few times until the next one, so one busy
 * peer cannot starve the others. */
void peer_receive_begin(struct peer *p);
/* The next message p sent, authenticating it on the way: 1 with *ret; 0 when nothing more can be taken
 * now; -errno when p must be disconnected, *why saying why (NULL for an orderly close; valid until the
 * next call). */
int peer_receive(struct peer *p, struct message **ret, const char **why);

/* Queue a stamped message for p, charging its bytes and fds to payer (quotas.h says who that is).
 * -ERR_LIMIT_QUEUE if p's queue is over max_outgoing_bytes or max_outgoing_unix_fds, -ERR_LIMIT_USER if
 * payer's uid is over max_bytes_per_user or max_unix_fds_per_user, -EOPNOTSUPP for fds to a peer that cannot
 * take them. */
int peer_queue(struct peer *p, struct message *m, struct user_account *payer);
/* Write what p's socket takes: 0, or -errno with *why when p must be disconnected (-ECANCELED: it was
 * refused and its last answer is written). */
int peer_flush(struct peer *p, const char **why);
const char *peer_describe(const struct peer *p, char *buf, size_t n);
