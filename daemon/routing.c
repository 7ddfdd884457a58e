/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Routing: where a message goes and who is blamed when it cannot.
 *
 * A message is stamped once (SENDER filled in, unknown header fields
 * dropped) and then queued by reference on every receiver: unicast
 * recipient, eavesdroppers, subscribers of a broadcast, monitors. The body
 * is never copied or re-marshalled.
 *
 * Following dbus-broker, an unsolicited message (a call, a broadcast) that a
 * receiver has no room for is the sender's problem: the sender gets
 * LimitsExceeded. A solicited one (a reply it asked for) that it has no
 * room for is the receiver's problem: it is disconnected. Replies need a
 * slot created when the call was delivered; anything else that claims to be
 * a reply is dropped and never delivered.
 */
#include <inttypes.h>
#include <stdarg.h>

#include "errors.h"
#include "dbus-errors.h"
#include "activation.h"
#include "bus.h"
#include "quotas.h"
#include "policy-check.h"
#include "driver.h"
#include "names.h"
#include "replies.h"
#include "routing.h"

void reply_slot_fail(struct bus *b, struct reply_slot *s, const char *text)
{
        struct peer *caller = s->caller;
        /* The error answers the call by its serial; nothing else of the call is needed. */
        struct message call = {.type = MESSAGE_METHOD_CALL, .serial = s->serial};
        replies_slot_free(s);
        routing_reply_error(b, caller, &call, DBUS_ERROR_NO_REPLY, "%s", text);
}

uint64_t routing_check_reply_timeouts(struct bus *b, uint64_t now)
{
        while (!list_empty(&b->reply_timeouts)) {
                struct reply_slot *s = list_first_entry(&b->reply_timeouts, struct reply_slot, timeout_link);
                if (s->deadline_usec > now)
                        return s->deadline_usec;
                reply_slot_fail(b, s, "Message did not receive a reply (timeout by message bus)");
        }
        return 0;
}

/*
 * The one way the bus answers a message with an error. A peer gets it unless the message said
 * NO_REPLY_EXPECTED; monitors see it either way, as dbus-daemon's "capture" shows them why a message
 * went nowhere. With capture_only, only monitors see it: a broadcast that policy keeps from one
 * subscriber is not the sender's business.
 */
static int send_error(struct bus *b, struct peer *to, const struct message *call, bool capture_only,
                      const char *name, const char *fmt, va_list ap) _printf_(6, 0);
static int send_error(struct bus *b, struct peer *to, const struct message *call, bool capture_only,
                      const char *name, const char *fmt, va_list ap)
{
        bool to_peer = !capture_only && !(call->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED);
        if (to->state == PEER_DEAD || (!to_peer && list_empty(&b->monitors)))
                return 0;

        char text[512];
        vsnprintf(text, sizeof(text), fmt, ap);
        struct message *m;
        int r = message_new_error(driver_next_serial(b), call->serial,
                                  to->unique_name[0] ? to->unique_name : NULL, DRIVER_NAME, name, text, &m);
        if (r < 0)
                return r;
        if (to_peer)
                routing_send_driver_message(b, to, m); /* which also shows it to monitors */
        else
                routing_send_to_monitors(b, m);
        message_unref(m);
        return 0;
}

int routing_reply_error(struct bus *b, struct peer *to, const struct message *call, const char *name,
                        const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = send_error(b, to, call, false, name, fmt, ap);
        va_end(ap);
        return r;
}

static void bus_capture_error(struct bus *b, struct peer *to, const struct message *call, const char *name,
                              const char *fmt, ...) _printf_(5, 6);
static void bus_capture_error(struct bus *b, struct peer *to, const struct message *call, const char *name,
                              const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        (void)send_error(b, to, call, true, name, fmt, ap);
        va_end(ap);
}

/* Why a receiver that cannot take a message it asked for is disconnected; r is peer_queue()'s
 * -ERR_LIMIT_QUEUE (its own queue is full) or -ERR_LIMIT_USER (its uid's total is). A static string, as
 * peer_disconnect_later() needs. */
#define RECEIVER_FULL(r, what)                                                                              \
        ((r) == -ERR_LIMIT_QUEUE                                                                            \
                 ? "outgoing queue full: not reading " what                                                 \
                 : "its uid is over max_bytes_per_user or max_unix_fds_per_user: not reading " what)

static void deliver_to_monitor(struct bus *b, struct peer *mon, struct message *m)
{
        /* A monitor that cannot keep up is disconnected rather than silently missing messages. */
        if (peer_queue(mon, m, mon->user) < 0)
                peer_disconnect_later(mon, "monitor is not reading its messages");
}

static void send_to_monitors_ex(struct bus *b, struct peer *sender, struct peer *recipient,
                                struct message *m)
{
        struct peer *mon, *tmp;
        list_for_each_entry_safe(mon, tmp, &b->monitors, monitor_link)
        {
                if (match_monitor_wants(b, mon, sender, recipient, m))
                        deliver_to_monitor(b, mon, m);
        }
}

void routing_send_to_monitors(struct bus *b, struct message *m)
{
        send_to_monitors_ex(b, NULL, NULL, m);
}

struct broadcast_ctx {
        struct peer *sender;
};

static void deliver_broadcast(struct bus *b, struct peer *to, struct message *m, void *ud)
{
        struct broadcast_ctx *ctx = ud;
        /* dbus-daemon checks a broadcast's send rules per recipient, against the recipient's names. */
        if (!policy_check_send(b, ctx->sender, to, m, false, NULL) ||
            !policy_check_receive(b, to, ctx->sender, m, false, false, NULL)) {
                if (ctx->sender)
                        bus_capture_error(b, ctx->sender, m, DBUS_ERROR_ACCESS_DENIED,
                                          "Rejected broadcast of %s.%s to %s by the bus policy",
                                          m->interface ?: "", m->member ?: "", to->unique_name);
                return;
        }
        int r = peer_queue(to, m, to->user);
        if (r == -ERR_LIMIT_QUEUE || r == -ERR_LIMIT_USER) {
                /* A subscriber asked for these signals: not keeping up is its fault. */
                peer_disconnect_later(to, RECEIVER_FULL(r, "subscribed messages"));
        } else if (r == -EOPNOTSUPP) {
                /* Signals with fds silently skip peers that cannot take fds, as dbus-daemon does. */
        } else if (r < 0) {
                /* It asked for the signal and cannot be given it: it must not go on believing it saw
                 * everything. */
                peer_disconnect_later(to, "out of memory queueing a subscribed message");
        }
}

static void deliver_eavesdrop(struct bus *b, struct peer *to, struct message *m, void *ud)
{
        struct broadcast_ctx *ctx = ud;
        if (!policy_check_receive(b, to, ctx->sender, m, false, true, NULL))
                return;
        int r = peer_queue(to, m, to->user);
        if (r == -ERR_LIMIT_QUEUE || r == -ERR_LIMIT_USER)
                peer_disconnect_later(to, RECEIVER_FULL(r, "eavesdropped messages"));
        else if (r < 0)
                peer_disconnect_later(to, "out of memory queueing an eavesdropped message");
}

/* The driver's message to `to` was refused by to's receive rules. dbus-daemon then makes an error from
 * the bus to itself, which only monitors see. */
static void capture_driver_refusal(struct bus *b, struct message *refused)
{
        struct message *err;
        if (message_new_error(driver_next_serial(b), refused->serial, DRIVER_NAME, DRIVER_NAME,
                              DBUS_ERROR_ACCESS_DENIED,
                              "The message bus's own message was rejected by the receiver's policy",
                              &err) < 0)
                return;
        routing_send_to_monitors(b, err);
        message_unref(err);
}

/* capture: show it to monitors (false: they saw it when the bus first sent it). */
static void send_driver_message(struct bus *b, struct peer *to, struct message *m, bool capture)
{
        struct broadcast_ctx ctx = {.sender = NULL};

        /* Replies from the driver always count as requested; its signals obey receive rules. */
        if (to && to->state != PEER_DEAD &&
            !policy_check_receive(b, to, NULL, m, m->reply_serial != 0, false, NULL)) {
                if (capture)
                        send_to_monitors_ex(b, NULL, to, m);
                capture_driver_refusal(b, m);
                return;
        }
        if (to) {
                int r = peer_queue(to, m, to->user);
                if (r == -ERR_LIMIT_QUEUE || r == -ERR_LIMIT_USER)
                        peer_disconnect_later(to, RECEIVER_FULL(r, "messages from the bus"));
                else if (r < 0)
                        peer_disconnect_later(to, "out of memory queueing a message from the bus");
                if (b->n_eavesdrop_rules)
                        match_eavesdrop(b, NULL, to, m, deliver_eavesdrop, &ctx);
        } else {
                match_broadcast(b, NULL, m, deliver_broadcast, &ctx);
        }
        if (capture)
                send_to_monitors_ex(b, NULL, to, m);
}

bool routing_driver_broadcast_heard(struct bus *b)
{
        return !list_empty(&b->monitors) || match_driver_broadcast_watched(b);
}

void routing_send_driver_message(struct bus *b, struct peer *to, struct message *m)
{
        send_driver_message(b, to, m, true);
}

static struct peer *lookup_destination(struct bus *b, const char *dest, struct name **ret_name)
{
        *ret_name = NULL;
        if (dest[0] == ':')
                return names_find_peer(b, dest);
        struct name *n = names_get(b, dest);
        *ret_name = n;
        return n ? names_primary_owner(n) : NULL;
}

/* Monitors see what was sent, before routing decides its fate (as dbus-daemon's capture): a call to a
 * missing name shows up followed by the bus's error. */
static void capture(struct bus *b, struct peer *sender, struct peer *to, struct message *m)
{
        if (!list_empty(&b->monitors))
                send_to_monitors_ex(b, sender, to, m);
}

/* The AccessDenied a refused send gets, in dbus-daemon's words; what says where the message was going
 * (activation of a service) goes after the destination. */
static int reply_send_refused(struct bus *b, struct peer *sender, const struct message *m,
                              unsigned n_matched, bool requested_reply, const char *where)
{
        return routing_reply_error(b, sender, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Rejected send message, %u matched rules; type=\"%s\", sender=\"%s\", "
                                   "interface=\"%s\" member=\"%s\" error name=\"%s\" "
                                   "requested_reply=\"%d\" destination=\"%s\"%s",
                                   n_matched, message_type_to_string(m->type), sender->unique_name,
                                   m->interface ?: "(unset)", m->member ?: "(unset)",
                                   m->error_name ?: "(unset)", requested_reply, m->destination, where);
}

/*
 * A message for a name whose service is not running: held until the service has taken the name. As
 * dbus-daemon, any message that may auto-start does (a signal too), and the send rules are checked
 * now, against the name it is addressed to, since there is no receiver to check them against yet.
 * Monitors see the ActivationRequest to systemd (if one goes out) before the message that caused it,
 * which is the order dbus-daemon shows them.
 */
static int auto_start(struct bus *b, struct peer *sender, struct message *m)
{
        unsigned n_matched;
        if (!policy_check_send(b, sender, NULL, m, false, &n_matched)) {
                capture(b, sender, NULL, m);
                return reply_send_refused(b, sender, m, n_matched, false, " (activation of a service)");
        }
        struct activation_start st;
        int r = activation_queue_message(b, sender, m, &st);
        if (r >= 0 && st.systemd_unit)
                r = driver_request_systemd_unit(b, st.systemd_unit);
        capture(b, sender, NULL, m);
        if (r >= 0 && st.error_name)
                return routing_reply_error(b, sender, m, st.error_name, "%s", st.error_text);
        return r;
}

/* capture: show m to monitors (false: a held message, which they saw when it was sent). */
static int dispatch_unicast(struct bus *b, struct peer *sender, struct message *m, bool capture_it)
{
        struct name *name;
        struct peer *to = lookup_destination(b, m->destination, &name);

        if (!to || to->state == PEER_DEAD || to->state == PEER_MONITOR) {
                if (capture_it && m->destination[0] != ':' && !(m->flags & MESSAGE_FLAG_NO_AUTO_START) &&
                    (m->type == MESSAGE_METHOD_CALL || m->type == MESSAGE_SIGNAL) &&
                    activation_is_activatable(b, m->destination))
                        return auto_start(b, sender, m);
                if (capture_it)
                        capture(b, sender, to, m);
                if (m->type != MESSAGE_METHOD_CALL)
                        return 0; /* replies and signals to nobody are dropped, as in dbus-daemon */
                if (m->destination[0] != ':' && (m->flags & MESSAGE_FLAG_NO_AUTO_START))
                        /* dbus-daemon: without auto-start it never looks for a service file. */
                        return routing_reply_error(b, sender, m, DBUS_ERROR_NAME_HAS_NO_OWNER,
                                                   "Name \"%s\" does not exist", m->destination);
                return routing_reply_error(b, sender, m, DBUS_ERROR_SERVICE_UNKNOWN,
                                           "The name %s was not provided by any .service files",
                                           m->destination);
        }

        if (capture_it)
                capture(b, sender, to, m);
        bool solicited = false;
        struct reply_slot *slot = NULL;
        if (m->type == MESSAGE_METHOD_RETURN || m->type == MESSAGE_ERROR) {
                slot = replies_slot_find(sender, to, m->reply_serial);
                if (!slot)
                        return 0; /* nobody asked for it: never delivered */
                solicited = true;
        }

        unsigned n_matched;
        if (!policy_check_send(b, sender, to, m, solicited, &n_matched))
                return reply_send_refused(b, sender, m, n_matched, solicited, "");
        if (!policy_check_receive(b, to, sender, m, solicited, false, &n_matched)) {
                if (slot)
                        replies_slot_free(slot);
                return routing_reply_error(
                        b, sender, m, DBUS_ERROR_ACCESS_DENIED,
                        "Rejected receive message, %u matched rules; type=\"%s\", sender=\"%s\", "
                        "destination=\"%s\"",
                        n_matched, message_type_to_string(m->type), sender->unique_name, m->destination);
        }

        bool wants_reply = m->type == MESSAGE_METHOD_CALL && !(m->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED);
        if (wants_reply) {
                int r = replies_slot_new(b, sender, to, m->serial);
                if (r == -ERR_LIMIT_CONNECTION)
                        return routing_reply_error(
                                b, sender, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                "The maximum number of pending replies for \"%s\" (uid=%u) "
                                "has been reached",
                                sender->unique_name, (unsigned)sender->creds.uid);
                if (r == -ERR_LIMIT_USER)
                        return routing_reply_error(
                                b, sender, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                "The connections of uid %u together have the maximum number "
                                "of pending replies (max_replies_per_user=%d)",
                                (unsigned)sender->user->uid, b->limits.max_replies_per_user);
                if (r < 0)
                        return r;
        }

        /* Whoever asked for a message pays for it while it waits: the receiver for a reply, the sender
         * for anything unsolicited. */
        int r = peer_queue(to, m, solicited ? to->user : sender->user);
        if (r == -ERR_LIMIT_QUEUE || r == -ERR_LIMIT_USER) {
                if (solicited) {
                        replies_slot_free(slot);
                        peer_disconnect_later(to, RECEIVER_FULL(r, "replies it asked for"));
                        return 0;
                }
                if (wants_reply) {
                        struct reply_slot *s = replies_slot_find(to, sender, m->serial);
                        if (s)
                                replies_slot_free(s);
                }
                if (r == -ERR_LIMIT_USER)
                        return routing_reply_error(
                                b, sender, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                "Messages of uid %u waiting for their receivers are at the "
                                "limit (max_bytes_per_user=%" PRId64 ", max_unix_fds_per_user=%" PRId64 ")",
                                (unsigned)sender->user->uid, b->limits.max_bytes_per_user,
                                b->limits.max_unix_fds_per_user);
                return routing_reply_error(b, sender, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                           "The destination %s is not reading its messages fast enough",
                                           to->unique_name);
        }
        if (r == -EOPNOTSUPP) {
                if (slot)
                        replies_slot_free(slot);
                if (wants_reply) {
                        struct reply_slot *s = replies_slot_find(to, sender, m->serial);
                        if (s)
                                replies_slot_free(s);
                }
                return routing_reply_error(
                        b, sender, m, DBUS_ERROR_NOT_SUPPORTED,
                        "Tried to send message with Unix file descriptors to a client that "
                        "doesn't support that.");
        }
        if (r < 0)
                return r;
        if (slot)
                replies_slot_free(slot);

        if (b->n_eavesdrop_rules) {
                struct broadcast_ctx ctx = {.sender = sender};
                match_eavesdrop(b, sender, to, m, deliver_eavesdrop, &ctx);
        }
        return 0;
}

static bool message_is_claim_bridge(const struct message *m)
{
        return m->type == MESSAGE_METHOD_CALL && streq_ptr(m->destination, DRIVER_NAME) &&
               streq_ptr(m->interface, "org.nsbus.Container1") && streq_ptr(m->member, "ClaimBridge");
}

/* Checkpoint1.Resume: a restored process asks for its connection back, instead of Hello. */
static bool message_is_resume(const struct message *m)
{
        return m->type == MESSAGE_METHOD_CALL && streq_ptr(m->destination, DRIVER_NAME) &&
               streq_ptr(m->interface, "org.nsbus.Checkpoint1") && streq_ptr(m->member, "Resume");
}

/* What a peer may send in its state: only Hello (or Resume) before Hello, nothing as a monitor, only
 * ClaimBridge as an unproven bridge. True if m may be routed; otherwise the peer has been answered or
 * disconnected. */
static bool sender_may_send(struct bus *b, struct peer *p, struct message *m)
{
        if (p->state == PEER_AWAITING_HELLO) {
                if (message_is_resume(m))
                        return true; /* the driver decides, by the token and the boundary */
                bool hello = m->type == MESSAGE_METHOD_CALL && streq_ptr(m->destination, DRIVER_NAME) &&
                             streq_ptr(m->member, "Hello") &&
                             (!m->interface || streq(m->interface, DRIVER_INTERFACE));
                if (!hello && m->type == MESSAGE_METHOD_CALL) {
                        /* dbus-daemon answers a call and keeps the connection; anything else ends it. */
                        routing_reply_error(
                                b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                "Client tried to send a message other than Hello without being registered");
                        return false;
                }
                if (!hello) {
                        driver_disconnect_peer(b, p, "sent a message before Hello");
                        return false;
                }
                if (p->refusal) {
                        /* Refused by the container boundary at accept: it learns why, then it goes. */
                        routing_reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED, "%s", p->refusal);
                        p->close_after_flush = p->refusal;
                        return false;
                }
        } else if (p->state == PEER_MONITOR) {
                /* Monitors are read-only (spec, "BecomeMonitor"): anything they send ends them. */
                driver_disconnect_peer(b, p, "monitor sent a message");
                return false;
        } else if (p->trust == PEER_TRUST_BRIDGE_CANDIDATE && !message_is_claim_bridge(m)) {
                /* Someone with the bridge's uid on host.sock, not yet proven to be the bridge. */
                if (m->type != MESSAGE_METHOD_CALL) {
                        driver_disconnect_peer(
                                b, p, "sent a message on host.sock before proving to be the bridge");
                        return false;
                }
                routing_reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                    "host.sock is for the host's root and the container's bridge: call "
                                    "org.nsbus.Container1.ClaimBridge first");
                return false;
        }
        return true;
}

static int dispatch(struct bus *b, struct peer *sender, struct message *m)
{
        int r;
        bool hello = sender->state == PEER_AWAITING_HELLO;
        if (!sender_may_send(b, sender, m))
                return 0;

        if (m->type > MESSAGE_SIGNAL)
                /* As dbus-daemon: refused with an error, the connection stays. */
                return routing_reply_error(b, sender, m, DBUS_ERROR_ACCESS_DENIED,
                                           "Message bus will not accept messages of unknown type");

        if (sender->state == PEER_AWAITING_HELLO && message_is_resume(m))
                /* No name of its own, and no monitor sees the token: straight to the driver. */
                return driver_handle(b, sender, m);
        if (sender->state == PEER_AWAITING_HELLO) {
                /* peer.c lets only Hello through in this state; its sender is the name it is about to get.
                 */
                r = driver_assign_unique_name(b, sender);
                if (r < 0) {
                        driver_disconnect_peer(b, sender, "out of memory");
                        return r;
                }
        }
        {
                r = message_stamp(m, sender->unique_name);
                if (r < 0) {
                        driver_disconnect_peer(b, sender, "%s",
                                               r == -E2BIG ? "message too large after adding the sender"
                                                           : "out of memory while routing its message");
                        return r;
                }
        }

        if (m->destination && streq(m->destination, DRIVER_NAME)) {
                /* A signal to the bus (systemd's ActivationFailure) is shown after what it caused:
                 * dbus-daemon answers the failed activations' callers in a transaction of their own, ahead
                 * of it. */
                bool signal = m->type == MESSAGE_SIGNAL;
                if (!signal)
                        capture(b, sender, NULL, m);
                /* Send rules apply to messages for the bus too, send_destination matched against the name
                 * the message is addressed to (dbus-daemon). Two kinds pass whatever they say: the Hello of
                 * a connection without a name yet, which has to get one first (dbus-daemon), and the calls
                 * the driver grants by itself (driver_guards_itself()). */
                unsigned n_matched;
                if (!hello && !driver_guards_itself(m) &&
                    !policy_check_send(b, sender, NULL, m, false, &n_matched)) {
                        if (signal)
                                capture(b, sender, NULL, m);
                        return reply_send_refused(b, sender, m, n_matched, false, "");
                }
                r = driver_handle(b, sender, m);
                if (signal)
                        capture(b, sender, NULL, m);
                if (r == -ENOMEM)
                        driver_disconnect_peer(b, sender, "out of memory while handling a bus method call");
                return r;
        }
        if (m->destination)
                return dispatch_unicast(b, sender, m, true);

        /* No destination: a broadcast to whoever subscribed, whatever its type (as dbus-daemon). */
        capture(b, sender, NULL, m);
        struct broadcast_ctx ctx = {.sender = sender};
        match_broadcast(b, sender, m, deliver_broadcast, &ctx);
        return 0;
}

int routing_deliver_held(struct bus *b, struct peer *sender, struct message *m)
{
        if (!sender) {
                struct name *unused;
                struct peer *to = lookup_destination(b, m->destination, &unused);
                if (to && to->state == PEER_RUNNING)
                        send_driver_message(b, to, m, false);
                return 0;
        }
        int r = dispatch_unicast(b, sender, m, false);
        if (r < 0 && sender->state != PEER_DEAD)
                driver_disconnect_peer(b, sender, "out of memory while routing its message");
        return r;
}

int routing_dispatch(struct bus *b, struct peer *sender, struct message *m)
{
        int r = dispatch(b, sender, m);
        /* Routing gives up on a message only when memory runs out (a reply slot, a queue entry, the
         * error that would say so). The sender must not wait for an answer that cannot come: it is
         * disconnected, which answers its pending calls' callers and releases what it held. */
        if (r < 0 && sender->state != PEER_DEAD)
                driver_disconnect_peer(b, sender, "out of memory while routing its message");
        return r;
}
