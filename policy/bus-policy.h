/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-daemon's <policy> language as pure logic: a compiled rule set and the
 * questions "may this uid connect", "may this peer own that name", "may this
 * message be sent / received". It knows nothing about sockets or the name
 * registry: callers describe the peers and the message in the small structs
 * below. The semantics are those of dbus-daemon 1.14 (bus/policy.c), including
 * its quirks; they are documented where a caller has to get them right.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The largest min_fds/max_fds value, DBUS_MAXIMUM_MESSAGE_UNIX_FDS in libdbus
 * (DBUS_MAXIMUM_MESSAGE_LENGTH / 4). A max_fds of this value matches every
 * message, so it is also the "no limit" default. */
#define POLICY_MAX_FDS (UINT32_C(1) << 25)

/* Message types use the D-Bus wire values, so a parsed header's type can be
 * passed straight through. POLICY_TYPE_ANY is send_type="*" (or no send_type). */
enum policy_message_type {
        POLICY_TYPE_ANY = 0,
        POLICY_TYPE_METHOD_CALL = 1,
        POLICY_TYPE_METHOD_RETURN = 2,
        POLICY_TYPE_ERROR = 3,
        POLICY_TYPE_SIGNAL = 4,
};

/* Which listening socket a peer came in through. No XML spells this yet; it
 * exists so a later rule attribute can say "only peers from the container
 * socket" without changing how rules are evaluated. POLICY_ORIGIN_ANY on a
 * rule matches every peer; on a subject it means "unknown" and then only
 * origin-less rules apply. */
enum policy_origin {
        POLICY_ORIGIN_ANY = 0,
        POLICY_ORIGIN_HOST,
        POLICY_ORIGIN_CONTAINER,
};

enum policy_rule_type {
        POLICY_RULE_SEND,
        POLICY_RULE_RECEIVE,
        POLICY_RULE_OWN,
        POLICY_RULE_USER,  /* <allow user="..."/>: may this uid connect */
        POLICY_RULE_GROUP, /* <allow group="..."/>: may members of this gid connect */
};

enum policy_tristate {
        POLICY_TRISTATE_ANY = 0,
        POLICY_TRISTATE_FALSE,
        POLICY_TRISTATE_TRUE,
};

/*
 * One <allow> or <deny>. String fields are NULL for "*" (match anything,
 * including a message without that header field); the policy copies them.
 * Initialise with policy_rule_init(): the defaults are not all zero.
 */
struct policy_rule {
        enum policy_rule_type type;
        bool allow;
        enum policy_origin origin;
        union {
                struct {
                        int message_type; /* enum policy_message_type */
                        const char *path;
                        const char *interface;
                        const char *member;
                        const char *error;
                        const char *destination;
                        bool destination_is_prefix; /* send_destination_prefix */
                        enum policy_tristate broadcast;
                        bool eavesdrop;
                        bool requested_reply;
                        bool log;
                        uint32_t min_fds;
                        uint32_t max_fds;
                } send;
                struct {
                        int message_type;
                        const char *path;
                        const char *interface;
                        const char *member;
                        const char *error;
                        const char *sender; /* receive_sender */
                        bool eavesdrop;
                        bool requested_reply;
                        uint32_t min_fds;
                        uint32_t max_fds;
                } receive;
                struct {
                        const char *name; /* NULL: own="*" */
                        bool prefix;      /* own_prefix */
                } own;
                struct {
                        bool any; /* user="*" */
                        uid_t uid;
                } user;
                struct {
                        bool any; /* group="*" */
                        gid_t gid;
                } group;
        };
};

/* Sets dbus-daemon's defaults: requested_reply follows allow (an <allow>
 * matches only requested replies, a <deny> only unrequested ones), broadcast
 * is "any", max_fds is unlimited, origin is "any". */
void policy_rule_init(struct policy_rule *rule, enum policy_rule_type type, bool allow);

enum policy_context_kind {
        POLICY_CONTEXT_DEFAULT,
        POLICY_CONTEXT_MANDATORY,
        POLICY_CONTEXT_USER,    /* id: uid */
        POLICY_CONTEXT_GROUP,   /* id: gid */
        POLICY_CONTEXT_CONSOLE, /* id: 1 for at_console="true", 0 for "false" */
};

struct policy_context {
        enum policy_context_kind kind;
        uint32_t id;
};

/* The peer whose rules are evaluated: the sender for a send check, the
 * receiver for a receive check, the requester for an own check. */
struct policy_subject {
        uid_t uid;
        const gid_t *gids; /* every group of the peer, primary included */
        size_t n_gids;
        /* dbus-daemon applies at_console="true" policies to users logged in
         * at a local seat and at_console="false" ones to everybody else.
         * nsbus has no seats, so callers pass false: every peer gets the
         * at_console="false" rules and nobody the "true" ones. */
        bool at_console;
        enum policy_origin origin;
};

/* The names a peer holds: its unique name and every well-known name it is the
 * primary owner of or queued for. send_destination and receive_sender match
 * all of them, not just the name a message was addressed to: "if a connection
 * owns services A, B, C, and sending to A is denied, sending to B or C will
 * not work either" (dbus-daemon(1)). */
struct policy_names {
        const char *unique;
        const char *const *names;
        size_t n_names;
};

/* A message as it is being delivered to one particular receiver. */
struct policy_msg {
        int type; /* enum policy_message_type */
        const char *path;
        const char *interface;
        const char *member;
        const char *error_name;
        const char *destination; /* DESTINATION header field, NULL if absent */
        const char *sender;      /* SENDER header field; consulted only for messages from the bus driver */
        /* The message has a REPLY_SERIAL field. Only then do the
         * send_requested_reply/receive_requested_reply attributes apply. */
        bool has_reply_serial;
        /* It answers a method call the receiver sent and still waits for.
         * dbus-daemon computes this only for the addressed recipient; a reply
         * from the bus driver always counts as requested. */
        bool requested_reply;
        /* Receive checks only: the receiver is not the addressed recipient of
         * a message that has a destination (a monitor or eavesdropping match
         * rule). Broadcasts are never eavesdropping. */
        bool eavesdropping;
        uint32_t n_fds;
};

/* The details dbus-daemon puts into AccessDenied errors and logs: how many
 * rules matched ("Rejected send message, 2 matched rules; ...") and whether
 * the deciding send rule carried log="true". Counting needs a full pass over
 * the rules, so n_matched is filled in only when the verdict is deny or log,
 * the two cases in which dbus-daemon reports it; otherwise it is 0. */
struct policy_verdict {
        bool allow;
        bool log;
        unsigned n_matched;
};

struct bus_policy;
struct bus_policy_view;

/* An empty policy. Like dbus-daemon with a configuration that has no rules,
 * it denies everything except connections from owner_uid. 0 or -ENOMEM. */
int bus_policy_new(struct bus_policy **ret);
/* The policy of dbus-daemon's session.conf: send and receive anything
 * (eavesdropping included), own any name; only owner_uid may connect.
 * For buses run without a configuration file. 0 or -ENOMEM. */
int bus_policy_new_allow_all(struct bus_policy **ret);
struct bus_policy *bus_policy_ref(struct bus_policy *policy);
/* Returns NULL. NULL is fine. */
struct bus_policy *bus_policy_unref(struct bus_policy *policy);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bus_policy *, bus_policy_unref);

/* Connections from this uid are allowed when no user/group rule matches.
 * Defaults to the effective uid at bus_policy_new() time: dbus-daemon lets
 * "the user owning the bus" connect. */
void bus_policy_set_owner_uid(struct bus_policy *policy, uid_t uid);

/*
 * Builder, used while loading a configuration; a policy is treated as
 * immutable once views exist. Rules are appended in order to the list of the
 * context. user/group rules are refused in user and group contexts
 * ("it has bus-global semantics") with -EINVAL; the same for rules whose
 * fields are inconsistent (an unknown type, min_fds > POLICY_MAX_FDS).
 * Returns 0, -EINVAL or -ENOMEM.
 */
int bus_policy_add_rule(struct bus_policy *policy, const struct policy_context *context,
                        const struct policy_rule *rule);
/* Appends every rule of src after the rules of dst, context by context, as
 * dbus-daemon does for an <include>d file. src is left empty. 0 or -ENOMEM;
 * on failure both remain valid and must still be unref'd. */
int bus_policy_merge(struct bus_policy *dst, struct bus_policy *src);

/* True if some <policy group="..."> exists, so that a caller can skip finding
 * a peer's groups when they cannot matter (dbus-daemon does the same). */
bool bus_policy_has_group_contexts(const struct bus_policy *policy);
size_t bus_policy_n_rules(const struct bus_policy *policy);

/*
 * Connecting: user and group rules from the default and mandatory contexts
 * only, in that order; the last matching rule wins, and without one only
 * owner_uid may connect. Groups come from subject->gids. (dbus-daemon takes
 * them from the user database and rejects a uid it cannot look up there; that
 * decision belongs to the caller.)
 */
bool bus_policy_check_connect(const struct bus_policy *policy, const struct policy_subject *subject);

/*
 * A view is the rule sequence that applies to one subject, resolved once:
 * default, then each of its groups' policies, then its user's, then
 * at_console, then mandatory. Checks walk it backwards, so the last matching
 * rule wins and the default verdict (nothing matched) is deny.
 *
 * Like dbus-daemon's per-connection policy, a rule that matches every
 * message of its kind (send/receive with no type, path, interface, member,
 * error and destination/sender; own="*") hides every earlier rule of the same
 * kind, even though modifiers such as send_broadcast, requested_reply,
 * eavesdrop or min_fds/max_fds can still make it skip a message.
 *
 * Peers with equal credentials can share a view. The view holds a reference
 * on the policy, whose rules must not change from then on (a view notes which
 * of them can apply; a reload makes a new policy and new views). Returns 0 or
 * -ENOMEM.
 */
int bus_policy_view_new(struct bus_policy *policy, const struct policy_subject *subject,
                        struct bus_policy_view **ret);
struct bus_policy_view *bus_policy_view_ref(struct bus_policy_view *view);
struct bus_policy_view *bus_policy_view_unref(struct bus_policy_view *view);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bus_policy_view *, bus_policy_view_unref);

/* Owning: own and own_prefix rules; own_prefix="a.b" matches "a.b" and
 * "a.b.anything", not "a.bc". */
bool bus_policy_view_check_own(const struct bus_policy_view *view, const char *name);

/*
 * Sending, evaluated with the sender's view for one receiver at a time (for a
 * broadcast, once per recipient). receiver NULL means the bus driver, or a
 * service that is about to be activated: send_destination then compares with
 * msg->destination as a string, as no peer owns anything yet.
 *
 * Messages from the bus driver are not subject to send rules at all, and
 * messages to the bus driver to no receive rules: the caller skips those
 * checks, as dbus-daemon does. ret_verdict may be NULL.
 */
bool bus_policy_view_check_send(const struct bus_policy_view *view, const struct policy_names *receiver,
                                const struct policy_msg *msg, struct policy_verdict *ret_verdict);
/*
 * Receiving, evaluated with the receiver's view. sender NULL means the bus
 * driver: receive_sender then compares with msg->sender as a string
 * ("org.freedesktop.DBus" if msg->sender is NULL). ret_verdict may be NULL.
 */
bool bus_policy_view_check_receive(const struct bus_policy_view *view, const struct policy_names *sender,
                                   const struct policy_msg *msg, struct policy_verdict *ret_verdict);

/* The verdict of a send (receive) check with this view, without the message, when the view's one rule of
 * that kind looks at nothing but these (session.conf's catch-all allows): 1 allow, 0 deny; -1 when the
 * check needs the whole message. The same verdict as the checks above give. */
int bus_policy_view_fixed_send(const struct bus_policy_view *view, bool has_reply_serial,
                               bool requested_reply, uint32_t n_fds);
int bus_policy_view_fixed_receive(const struct bus_policy_view *view, bool has_reply_serial,
                                  bool requested_reply, bool eavesdropping, uint32_t n_fds);

/* Whether send (receive) checks with this view can look at the receiver's (sender's) well-known names,
 * through a live send_destination (receive_sender) rule. When not, the caller may pass a policy_names
 * with the unique name only: every verdict is the same. */
bool bus_policy_view_send_reads_names(const struct bus_policy_view *view);
bool bus_policy_view_receive_reads_names(const struct bus_policy_view *view);

/* One-shot forms of the checks above that resolve the subject's rules on each
 * call. They fail closed (deny) if memory runs out. */
bool bus_policy_check_own(struct bus_policy *policy, const struct policy_subject *subject, const char *name);
bool bus_policy_check_send(struct bus_policy *policy, const struct policy_subject *sender,
                           const struct policy_names *receiver, const struct policy_msg *msg,
                           struct policy_verdict *ret_verdict);
bool bus_policy_check_receive(struct bus_policy *policy, const struct policy_subject *receiver,
                              const struct policy_names *sender, const struct policy_msg *msg,
                              struct policy_verdict *ret_verdict);

/* "a.b" is a word-prefix of "a.b" and "a.b.c", not of "a.bc": dbus's rule for
 * own_prefix and send_destination_prefix. */
bool policy_name_has_prefix(const char *name, const char *prefix);
