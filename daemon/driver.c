/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus driver: org.freedesktop.DBus and the other interfaces the bus
 * itself implements (Properties, Introspectable, Peer, Monitoring,
 * Debug.Stats), with the error names and texts of the specification and
 * dbus-daemon.
 *
 * Methods are a table: name, interface, argument signature, handler. The
 * table drives dispatch, argument checking and Introspect alike, so they
 * cannot drift apart. Every identity a reply carries (uid, gids, pid, pidfd)
 * goes through driver_view_creds(), the single place where a peer's
 * credentials are expressed for the viewer who asks.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <syslog.h>
#include <sys/stat.h>

#include "errors.h"
#include "dbus-errors.h"
#include "activation.h"
#include "bridge-policy.h"
#include "checkpoint.h"
#include "container.h"
#include "bus.h"
#include "log.h"
#include "policy-check.h"
#include "quotas.h"
#include "driver.h"
#include "names.h"
#include "routing.h"
#include "settings.h"

struct method {
        const char *interface;
        const char *name;
        const char *in_sig;
        const char *out_sig;
        int (*handler)(struct bus *b, struct peer *p, struct message *m);
        bool needs_driver_path; /* only on /org/freedesktop/DBus, as in dbus-daemon */
};

static const struct method methods[];

/* dbus-daemon's object model: every path has these; Properties, Monitoring and Debug.Stats exist only
 * on /org/freedesktop/DBus. */
static bool interface_on_any_path(const char *iface)
{
        return streq(iface, DRIVER_INTERFACE) || streq(iface, "org.freedesktop.DBus.Introspectable") ||
               streq(iface, "org.freedesktop.DBus.Peer");
}

/* The serial of the next message the driver sends; never 0. */
uint32_t driver_next_serial(struct bus *b)
{
        if (++b->driver_serial == 0)
                b->driver_serial = 1;
        return b->driver_serial;
}

/* ---- building replies ---- */

static void reply_init(struct bus *b, struct peer *p, const struct message *call, struct msg_builder *mb)
{
        msg_builder_init(mb, MESSAGE_METHOD_RETURN, driver_next_serial(b));
        mb->flags = MESSAGE_FLAG_NO_REPLY_EXPECTED;
        mb->reply_serial = call->serial;
        mb->destination = p->unique_name[0] ? p->unique_name : NULL;
        mb->sender = DRIVER_NAME;
}

static void append_s(struct msg_builder *mb, const char *s)
{
        msg_builder_append_basic(mb, 's', &s);
}

static int reply_send(struct bus *b, struct peer *p, const struct message *call, struct msg_builder *mb)
{
        struct message *m;
        if (call->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED) {
                msg_builder_done(mb);
                return 0;
        }
        int r = msg_builder_finish(mb, &m);
        if (r < 0)
                return r;
        routing_send_driver_message(b, p, m);
        message_unref(m);
        return 0;
}

/* A reply whose one argument is a container (an array, mostly): filled in, then reply_close_send(). */
static void reply_open(struct bus *b, struct peer *p, const struct message *call, struct msg_builder *mb,
                       char type, const char *contents)
{
        reply_init(b, p, call, mb);
        msg_builder_open(mb, type, contents);
}

static int reply_close_send(struct bus *b, struct peer *p, const struct message *call,
                            struct msg_builder *mb)
{
        msg_builder_close(mb);
        return reply_send(b, p, call, mb);
}

/* A reply of names ("as") that begins with the bus's own, as dbus-daemon's lists do. */
static void reply_init_names(struct bus *b, struct peer *p, const struct message *call,
                             struct msg_builder *mb)
{
        reply_open(b, p, call, mb, 'a', "s");
        append_s(mb, DRIVER_NAME);
}

/* A reply of basic values (msg_builder_append()'s signatures). */
static int reply_values(struct bus *b, struct peer *p, const struct message *call, const char *sig, ...)
{
        struct msg_builder mb;
        reply_init(b, p, call, &mb);
        va_list ap;
        va_start(ap, sig);
        msg_builder_appendv(&mb, sig, ap);
        va_end(ap);
        return reply_send(b, p, call, &mb);
}

/* The bus name in m's "s" argument: 1 with *name, 0 when InvalidArgs was sent for it, or -EBADMSG. */
static int read_name_arg(struct bus *b, struct peer *p, struct message *m, const char **name)
{
        if (message_read(m, "s", name) < 0)
                return -EBADMSG;
        if (!dbus_validate_bus_name(*name, strlen(*name)))
                return routing_reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "Name \"%s\" is not valid",
                                           *name);
        return 1;
}

static int reply_empty(struct bus *b, struct peer *p, const struct message *call)
{
        struct msg_builder mb;
        reply_init(b, p, call, &mb);
        return reply_send(b, p, call, &mb);
}

#define reply_error(b, p, m, name, ...) routing_reply_error((b), (p), (m), (name), __VA_ARGS__)

static int emit_signal_on(struct bus *b, struct peer *to, const char *interface, const char *member,
                          const char *sig, va_list ap)
{
        /* Two NameOwnerChanged per short connection, each built, validated and matched: a third of the
         * bus's instructions per connection when nobody listens (callgrind, bench/profile.sh nsbusd
         * connect). */
        if (!to && !routing_driver_broadcast_heard(b))
                return 0;
        struct msg_builder mb;
        msg_builder_init(&mb, MESSAGE_SIGNAL, driver_next_serial(b));
        mb.path = DRIVER_PATH;
        mb.interface = interface;
        mb.member = member;
        mb.destination = to ? to->unique_name : NULL;
        mb.sender = DRIVER_NAME;
        for (const char *t = sig; *t; t++) {
                const char *s = va_arg(ap, const char *);
                msg_builder_append_basic(&mb, *t, &s);
        }
        struct message *m;
        int r = msg_builder_finish(&mb, &m);
        if (r < 0)
                return r;
        routing_send_driver_message(b, to, m);
        message_unref(m);
        return 0;
}

/* A signal of org.freedesktop.DBus from the driver, with string arguments; to NULL broadcasts it. */
static int emit_signal(struct bus *b, struct peer *to, const char *member, const char *sig, ...)
{
        va_list ap;
        va_start(ap, sig);
        int r = emit_signal_on(b, to, DRIVER_INTERFACE, member, sig, ap);
        va_end(ap);
        return r;
}

void driver_emit_name_owner_changed(struct bus *b, const char *name, const char *old_owner,
                                    const char *new_owner)
{
        emit_signal(b, NULL, "NameOwnerChanged", "sss", name, old_owner, new_owner);
        if (new_owner[0])
                activation_name_acquired(b, name);
}

void driver_emit_activatable_services_changed(struct bus *b)
{
        emit_signal(b, NULL, "ActivatableServicesChanged", "");
}

/* A message from the bus to systemd: delivered to the owner of org.freedesktop.systemd1 or, while
 * systemd has not joined the bus yet, held for it as a message for a name being activated. Monitors
 * see it now either way, as dbus-daemon logs what it wants to send even when systemd is not there. */
static int send_to_systemd(struct bus *b, struct peer *systemd, struct message *m)
{
        if (systemd) {
                routing_send_driver_message(b, systemd, m);
                return 0;
        }
        routing_send_to_monitors(b, m);
        return activation_hold_bus_message(b, m);
}

int driver_request_systemd_unit(struct bus *b, const char *unit)
{
        /* A directed signal, not a call: success is the name appearing, failure ActivationFailure. Its
         * destination stays the well-known name, whether systemd is there yet or not. */
        struct msg_builder mb;
        msg_builder_init(&mb, MESSAGE_SIGNAL, driver_next_serial(b));
        mb.path = DRIVER_PATH;
        mb.interface = SYSTEMD_ACTIVATOR_INTERFACE;
        mb.member = "ActivationRequest";
        mb.destination = SYSTEMD_NAME;
        mb.sender = DRIVER_NAME;
        append_s(&mb, unit);
        struct message *m;
        int r = msg_builder_finish(&mb, &m);
        if (r < 0)
                return r;
        log_info("activating unit '%s' through systemd", unit);
        r = send_to_systemd(b, names_find_peer(b, SYSTEMD_NAME), m);
        message_unref(m);
        return r;
}

void driver_emit_name_acquired(struct bus *b, struct peer *p, const char *name)
{
        if (p->state == PEER_RUNNING)
                emit_signal(b, p, "NameAcquired", "s", name);
}

void driver_emit_name_lost(struct bus *b, struct peer *p, const char *name)
{
        if (p->state == PEER_RUNNING || p->state == PEER_MONITOR)
                emit_signal(b, p, "NameLost", "s", name);
}

/* What the name registry reports, told to everyone: NameLost to the old owner, NameOwnerChanged to
 * subscribers, NameAcquired to the new owner, in dbus-daemon's order. */
static void driver_announce_name_change(struct bus *b, const struct name_change *c)
{
        if (c->old_owner == c->new_owner)
                return;
        if (c->old_owner)
                driver_emit_name_lost(b, c->old_owner, c->name);
        driver_emit_name_owner_changed(b, c->name, c->old_owner ? c->old_owner->unique_name : "",
                                       c->new_owner ? c->new_owner->unique_name : "");
        if (c->new_owner)
                driver_emit_name_acquired(b, c->new_owner, c->name);
}

/* p gives up every name it owns or queues for; each change of owner is announced. */
static void driver_release_names(struct bus *b, struct peer *p)
{
        struct name_change c;
        while (names_release_next(p, &c))
                driver_announce_name_change(b, &c);
}

/* ---- identity, as seen by the viewer ---- */

struct creds_view {
        uid_t uid;
        const gid_t *groups; /* in the bus's namespace: read them through creds_view_gid() */
        size_t n_groups;
        const struct idmap *gid_view;
        gid_t overflow_gid;
        bool pid_known; /* the bus knows the subject's pid (not: the viewer can see it) */
        pid_t pid;      /* as the viewer sees it; 0: not in the viewer's pid namespace */
        int pidfd;      /* -1: none to give */
        const char *seclabel;
};

static gid_t creds_view_gid(const struct creds_view *v, size_t i)
{
        return idmap_view(v->gid_view, v->groups[i], v->overflow_gid);
}

/*
 * The one place identities leave the bus: the subject (a peer, or the bus itself when subject_fd is -1)
 * as the viewer's own namespaces see it, by the kernel's SO_PEERCRED rules. Ids go through the viewer's
 * uid_map/gid_map (unmapped: the overflow id); the pid is the one at the viewer's pid-namespace level, 0
 * where the subject is not visible there, and a ProcessFD is only handed to a viewer that can see the
 * process.
 */
static void driver_view_creds(struct bus *b, struct peer *viewer, const struct peer_creds *c, int subject_fd,
                              bool want_pidfd, struct creds_view *v)
{
        peer_read_namespaces(viewer);
        const struct ns_user *vu = viewer->creds.user_ns;
        const struct ns_pid *vp = viewer->creds.pid_ns;
        *v = (struct creds_view){
                .uid = idmap_view(&vu->uid_map, c->uid, b->namespaces->overflow_uid),
                .groups = c->groups,
                .n_groups = c->n_groups,
                .gid_view = &vu->gid_map,
                .overflow_gid = b->namespaces->overflow_gid,
                .pid_known = c->n_ns_pids > 0,
                .pid = pidns_view_pid(&vp->chain, &c->pid_ns->chain, c->ns_pids, c->n_ns_pids),
                .pidfd = -1,
                .seclabel = c->seclabel,
        };
        /* A fresh pidfd per question: the kernel's pidfd for the socket names the process that
         * connected, so no fd has to be held per peer in between. */
        if (want_pidfd && c->has_pidfd && v->pid > 0 && subject_fd >= 0)
                v->pidfd = creds_get_pidfd(subject_fd);
}

/* driver_view_creds() for whatever a name argument resolved to: a peer, or the bus (is_driver). */
static void driver_view_subject(struct bus *b, struct peer *viewer, struct peer *subject, bool want_pidfd,
                                struct creds_view *v)
{
        if (subject) {
                peer_read_namespaces(subject);
                driver_view_creds(b, viewer, &subject->creds, subject->fd, want_pidfd, v);
        } else
                driver_view_creds(b, viewer, &b->self_creds, -1, false, v);
}

/*
 * The peer that the name in m's "s" argument refers to, for a question about its `what`: 1 with *name and
 * *ret (NULL for org.freedesktop.DBus, the bus itself); 0 when an error reply was sent instead (an invalid
 * name, or one without an owner); -EBADMSG for a missing argument.
 */
static int name_arg_owner(struct bus *b, struct peer *p, struct message *m, const char *what,
                          const char **name, struct peer **ret)
{
        *ret = NULL;
        int r = read_name_arg(b, p, m, name);
        if (r <= 0)
                return r;
        if (streq(*name, DRIVER_NAME))
                return 1;
        *ret = names_find_peer(b, *name);
        if (!*ret || (*ret)->state == PEER_DEAD)
                return reply_error(b, p, m, DBUS_ERROR_NAME_HAS_NO_OWNER,
                                   "Could not get %s of name '%s': no such name", what, *name);
        return 1;
}

/* The same, and that peer's credentials as p sees them (driver_view_subject()). */
static int name_arg_view(struct bus *b, struct peer *p, struct message *m, const char *what, bool want_pidfd,
                         const char **name, struct creds_view *v)
{
        struct peer *q;
        int r = name_arg_owner(b, p, m, what, name, &q);
        if (r > 0)
                driver_view_subject(b, p, q, want_pidfd, v);
        return r;
}

/* ---- org.freedesktop.DBus ---- */

int driver_assign_unique_name(struct bus *b, struct peer *p)
{
        if (p->unique_name[0])
                return 0;
        p->id = b->next_id++;
        snprintf(p->unique_name, sizeof(p->unique_name), ":1.%" PRIu64, p->id);
        return hashmap_put(b->peers_by_id, &p->id, p);
}

static int method_hello(struct bus *b, struct peer *p, struct message *m)
{
        if (p->state != PEER_AWAITING_HELLO)
                return reply_error(b, p, m, DBUS_ERROR_FAILED, "Already handled an Hello message");
        int q = quotas_check_connection(b, p);
        if (q < 0) {
                /* As dbus-daemon: the client learns why, then the connection closes. */
                if (q == -EMFILE)
                        reply_error(b, p, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                    "The maximum number of active connections has been reached");
                else
                        reply_error(b, p, m, DBUS_ERROR_LIMITS_EXCEEDED,
                                    "The maximum number of active connections for UID %u has been reached",
                                    (unsigned)p->creds.uid);
                p->close_after_flush = "refused: over the connection limits";
                return 0;
        }
        /* The name was assigned before the call was stamped, so monitors saw it with its sender. */
        int r = driver_assign_unique_name(b, p);
        if (r < 0)
                return r;
        p->state = PEER_RUNNING;

        /* The Hello reply must be the first thing the new peer reads from its name. */
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        msg_builder_append(&mb, "s", p->unique_name);
        struct message *reply;
        r = msg_builder_finish(&mb, &reply);
        if (r < 0)
                return r;
        routing_send_driver_message(b, p, reply);
        message_unref(reply);

        driver_emit_name_owner_changed(b, p->unique_name, "", p->unique_name);
        driver_emit_name_acquired(b, p, p->unique_name);
        return 0;
}

static int check_name_arg(struct bus *b, struct peer *p, struct message *m, const char *name, bool acquire)
{
        if (!dbus_validate_bus_name(name, strlen(name)))
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Requested bus name \"%s\" is not valid", name),
                       -EINVAL;
        if (name[0] == ':')
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Cannot %s a service starting with ':' such as \"%s\"",
                                   acquire ? "acquire" : "release", name),
                       -EINVAL;
        if (streq(name, DRIVER_NAME))
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Connection \"%s\" is not allowed to %s the service \"%s\" because it is "
                                   "reserved for D-Bus' use only",
                                   p->unique_name, acquire ? "own" : "release", DRIVER_NAME),
                       -EINVAL;
        return 0;
}

/* LimitsExceeded for a limit that said no to p (r is -ERR_LIMIT_CONNECTION or -ERR_LIMIT_USER), naming the
 * limit and its value as dbus-daemon does. */
static int reply_limit_exceeded(struct bus *b, struct peer *p, struct message *m, int r, const char *more,
                                const char *more_together, const char *connection_limit,
                                int connection_value, const char *user_limit, int user_value)
{
        if (r == -ERR_LIMIT_CONNECTION)
                return reply_error(
                        b, p, m, DBUS_ERROR_LIMITS_EXCEEDED,
                        "Connection \"%s\" is not allowed to %s (increase limits in configuration "
                        "file if required; %s=%d)",
                        p->unique_name, more, connection_limit, connection_value);
        return reply_error(b, p, m, DBUS_ERROR_LIMITS_EXCEEDED,
                           "The connections of uid %u together may not %s (%s=%d)", (unsigned)p->user->uid,
                           more_together, user_limit, user_value);
}

static int method_request_name(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        uint32_t flags, result;
        if (message_read(m, "su", &name, &flags) < 0)
                return -EBADMSG;
        if (check_name_arg(b, p, m, name, true) < 0)
                return 0;
        if (!policy_check_own(b, p, name))
                return reply_error(
                        b, p, m, DBUS_ERROR_ACCESS_DENIED,
                        "Connection \"%s\" is not allowed to own the service \"%s\" due to security "
                        "policies in the configuration file",
                        p->unique_name, name);
        if (!container_may_own(b, p, name))
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Connection \"%s\" is not allowed to own the service \"%s\": the "
                                   "container's bridge policy imports it from the host bus",
                                   p->unique_name, name);
        struct name_change change;
        int r = names_request(b, p, name, flags, &result, &change);
        if (r == -ERR_LIMIT_CONNECTION || r == -ERR_LIMIT_USER)
                return reply_limit_exceeded(b, p, m, r, "own more services",
                                            "own or queue for more services", "max_names_per_connection",
                                            b->limits.max_names_per_connection, "max_names_per_user",
                                            b->limits.max_names_per_user);
        if (r < 0)
                return r;
        driver_announce_name_change(b, &change);
        return reply_values(b, p, m, "u", result);
}

static int method_release_name(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        uint32_t result;
        if (message_read(m, "s", &name) < 0)
                return -EBADMSG;
        if (check_name_arg(b, p, m, name, false) < 0)
                return 0;
        struct name_change change;
        int r = names_release(b, p, name, &result, &change);
        if (r < 0)
                return r;
        driver_announce_name_change(b, &change);
        return reply_values(b, p, m, "u", result);
}

static bool name_has_owner(const struct name *n)
{
        return names_primary_owner(n) != NULL;
}

static bool name_is_activatable(const struct name *n)
{
        return n->activatable != NULL;
}

/* The well-known names of the bus that keep() selects. */
static void append_names(struct msg_builder *mb, struct bus *b, bool (*keep)(const struct name *n))
{
        struct hashmap_iter it;
        struct name *n;
        HASHMAP_FOREACH(n, b->names, it)
        {
                if (keep(n))
                        append_s(mb, n->name);
        }
}

static int method_list_names(struct bus *b, struct peer *p, struct message *m)
{
        struct msg_builder mb;
        reply_init_names(b, p, m, &mb);
        struct hashmap_iter it;
        struct peer *q;
        HASHMAP_FOREACH(q, b->peers_by_id, it)
        {
                if (q->state != PEER_RUNNING)
                        continue;
                append_s(&mb, q->unique_name);
        }
        append_names(&mb, b, name_has_owner);
        return reply_close_send(b, p, m, &mb);
}

static int method_list_activatable_names(struct bus *b, struct peer *p, struct message *m)
{
        struct msg_builder mb;
        reply_init_names(b, p, m, &mb);
        append_names(&mb, b, name_is_activatable);
        return reply_close_send(b, p, m, &mb);
}

static int method_name_has_owner(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        int r = read_name_arg(b, p, m, &name);
        if (r <= 0)
                return r;
        bool has = streq(name, DRIVER_NAME) || names_find_peer(b, name) != NULL;
        return reply_values(b, p, m, "b", (int)has);
}

static int method_get_name_owner(struct bus *b, struct peer *p, struct message *m)
{
        const char *name, *owner;
        int r = read_name_arg(b, p, m, &name);
        if (r <= 0)
                return r;
        if (streq(name, DRIVER_NAME)) {
                owner = DRIVER_NAME;
        } else {
                struct peer *q = names_find_peer(b, name);
                if (!q)
                        return reply_error(b, p, m, DBUS_ERROR_NAME_HAS_NO_OWNER,
                                           "Could not get owner of name '%s': no such name", name);
                owner = q->unique_name;
        }
        return reply_values(b, p, m, "s", owner);
}

static int method_list_queued_owners(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        int r = read_name_arg(b, p, m, &name);
        if (r <= 0)
                return r;
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "s");
        if (streq(name, DRIVER_NAME)) {
                append_s(&mb, DRIVER_NAME);
        } else if (name[0] == ':') {
                struct peer *q = names_find_peer(b, name);
                if (!q) {
                        msg_builder_done(&mb);
                        return reply_error(b, p, m, DBUS_ERROR_NAME_HAS_NO_OWNER,
                                           "Could not get owners of name '%s': no such name", name);
                }
                append_s(&mb, q->unique_name);
        } else {
                struct name *n = names_get(b, name);
                if (!n || list_empty(&n->owners)) {
                        msg_builder_done(&mb);
                        return reply_error(b, p, m, DBUS_ERROR_NAME_HAS_NO_OWNER,
                                           "Could not get owners of name '%s': no such name", name);
                }
                struct name_owner *o;
                list_for_each_entry(o, &n->owners, name_link)
                {
                        append_s(&mb, o->peer->unique_name);
                }
        }
        return reply_close_send(b, p, m, &mb);
}

static int method_start_service_by_name(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        uint32_t flags;
        if (message_read(m, "su", &name, &flags) < 0)
                return -EBADMSG;
        if (!dbus_validate_bus_name(name, strlen(name)))
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "Name \"%s\" is not valid", name);
        if (streq(name, DRIVER_NAME) || names_find_peer(b, name))
                return reply_values(b, p, m, "u", 2); /* DBUS_START_REPLY_ALREADY_RUNNING */
        if (!activation_is_activatable(b, name))
                return reply_error(b, p, m, DBUS_ERROR_SERVICE_UNKNOWN,
                                   "The name %s was not provided by any .service files", name);
        struct activation_start st;
        int r = activation_start_by_name(b, p, m, name, &st);
        if (r >= 0 && st.systemd_unit)
                r = driver_request_systemd_unit(b, st.systemd_unit);
        if (r >= 0 && st.error_name)
                return reply_error(b, p, m, st.error_name, "%s", st.error_text);
        return r;
}

static int method_update_activation_environment(struct bus *b, struct peer *p, struct message *m)
{
        struct msg_reader r;
        if (!streq(m->signature, "a{ss}"))
                return -EBADMSG;
        /* Only the bus's own user may change what activated services inherit, as in dbus-daemon. */
        if (p->creds.uid != geteuid() && p->creds.uid != 0)
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Cannot change activation environment on a shared bus");
        /* With systemd activation the same variables go to systemd too, in SetEnvironment (as dbus-daemon),
         * so that the units it starts for the bus get them. Built alongside, sent once all are set. */
        struct peer *systemd = NULL;
        struct msg_builder env;
        bool forward = activation_uses_systemd(b);
        if (forward) {
                systemd = names_find_peer(b, SYSTEMD_NAME);
                msg_builder_init(&env, MESSAGE_METHOD_CALL, driver_next_serial(b));
                env.flags = MESSAGE_FLAG_NO_REPLY_EXPECTED;
                /* dbus-daemon names the owner when it is there, the well-known name when the call waits. */
                env.destination = systemd ? systemd->unique_name : SYSTEMD_NAME;
                env.sender = DRIVER_NAME;
                env.path = "/org/freedesktop/systemd1";
                env.interface = "org.freedesktop.systemd1.Manager";
                env.member = "SetEnvironment";
                msg_builder_open(&env, 'a', "s");
        }
        msg_reader_init(&r, m);
        msg_reader_enter(&r, 'a', "{ss}");
        const char *invalid = NULL;
        int ret = 0;
        while (ret >= 0 && !invalid && msg_reader_peek(&r)) {
                const char *k, *v;
                msg_reader_enter(&r, '{', "ss");
                msg_reader_read_basic(&r, 's', &k);
                msg_reader_read_basic(&r, 's', &v);
                msg_reader_exit(&r);
                ret = activation_set_env(b, k, v);
                if (ret == -EINVAL) {
                        invalid = k;
                        ret = 0;
                }
                _cleanup_free_ char *kv = NULL;
                if (ret >= 0 && !invalid && forward && asprintf(&kv, "%s=%s", k, v) < 0)
                        ret = -ENOMEM;
                if (kv)
                        append_s(&env, kv);
        }
        if (forward) {
                /* As dbus-daemon: what was set before an invalid name stays set; systemd hears nothing. */
                struct message *call = NULL;
                msg_builder_close(&env);
                if (ret < 0 || invalid)
                        msg_builder_done(&env);
                else if ((ret = msg_builder_finish(&env, &call)) >= 0)
                        ret = send_to_systemd(b, systemd, call);
                message_unref(call);
        }
        if (ret < 0)
                return ret;
        if (invalid)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Environment variable name \"%s\" is not valid", invalid);
        return reply_empty(b, p, m);
}

static int method_add_match(struct bus *b, struct peer *p, struct message *m)
{
        const char *rule;
        char err[256] = "";
        if (message_read(m, "s", &rule) < 0)
                return -EBADMSG;
        int r = match_add(b, p, rule, policy_check_eavesdrop(b, p), err, sizeof(err));
        if (r == -EPERM)
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Connection \"%s\" is not allowed to eavesdrop on this bus: only the "
                                   "host's root may see other peers' messages",
                                   p->unique_name);
        if (r == -EINVAL)
                return reply_error(b, p, m, DBUS_ERROR_MATCH_RULE_INVALID, "%s",
                                   err[0] ? err : "Invalid match rule");
        if (r == -E2BIG)
                return reply_error(b, p, m, DBUS_ERROR_LIMITS_EXCEEDED, "%s",
                                   err[0] ? err : "Match rule is too long");
        if (r == -ERR_LIMIT_CONNECTION || r == -ERR_LIMIT_USER)
                return reply_limit_exceeded(b, p, m, r, "add more match rules", "add more match rules",
                                            "max_match_rules_per_connection",
                                            b->limits.max_match_rules_per_connection,
                                            "max_match_rules_per_user", b->limits.max_match_rules_per_user);
        if (r < 0)
                return r;
        return reply_empty(b, p, m);
}

static int method_remove_match(struct bus *b, struct peer *p, struct message *m)
{
        const char *rule;
        if (message_read(m, "s", &rule) < 0)
                return -EBADMSG;
        int r = match_remove(b, p, rule);
        if (r == -EINVAL || r == -E2BIG)
                return reply_error(b, p, m, DBUS_ERROR_MATCH_RULE_INVALID, "Invalid match rule \"%s\"",
                                   rule);
        if (r == -ENOENT)
                return reply_error(b, p, m, DBUS_ERROR_MATCH_RULE_NOT_FOUND,
                                   "The given match rule wasn't found and can't be removed");
        if (r < 0)
                return r;
        return reply_empty(b, p, m);
}

static int method_get_connection_unix_user(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        struct creds_view v;
        int r = name_arg_view(b, p, m, "UID", false, &name, &v);
        if (r <= 0)
                return r;
        return reply_values(b, p, m, "u", v.uid);
}

static int method_get_connection_unix_process_id(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        struct creds_view v;
        int r = name_arg_view(b, p, m, "PID", false, &name, &v);
        if (r <= 0)
                return r;
        /* Known to the bus but not visible to the caller is 0, as SO_PEERCRED says it; unknown to the
         * bus is an error, as with dbus-daemon. */
        if (!v.pid_known)
                return reply_error(b, p, m, DBUS_ERROR_UNIX_PROCESS_ID_UNKNOWN,
                                   "Could not determine PID for '%s'", name);
        return reply_values(b, p, m, "u", (uint32_t)v.pid);
}

static void append_dict_u(struct msg_builder *mb, const char *key, uint32_t v)
{
        msg_builder_append_entry(mb, key, 'u', &v);
}

static int method_get_connection_credentials(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        struct creds_view v;
        int r = name_arg_view(b, p, m, "credentials", true, &name, &v);
        if (r <= 0)
                return r;

        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sv}");
        append_dict_u(&mb, "UnixUserID", v.uid);
        if (v.groups) {
                const char *key = "UnixGroupIDs";
                msg_builder_open(&mb, '{', "sv");
                append_s(&mb, key);
                msg_builder_open(&mb, 'v', "au");
                msg_builder_open(&mb, 'a', "u");
                for (size_t i = 0; i < v.n_groups; i++) {
                        uint32_t g = creds_view_gid(&v, i);
                        msg_builder_append_basic(&mb, 'u', &g);
                }
                msg_builder_close(&mb);
                msg_builder_close(&mb);
                msg_builder_close(&mb);
        }
        if (v.pid_known)
                append_dict_u(&mb, "ProcessID", (uint32_t)v.pid);
        _cleanup_close_ int pidfd = v.pidfd;
        if (pidfd >= 0 && p->unix_fds) {
                const char *key = "ProcessFD";
                msg_builder_open(&mb, '{', "sv");
                append_s(&mb, key);
                msg_builder_open(&mb, 'v', "h");
                msg_builder_append_basic(&mb, 'h', &pidfd);
                msg_builder_close(&mb);
                msg_builder_close(&mb);
        }
        if (v.seclabel) {
                const char *key = "LinuxSecurityLabel";
                msg_builder_open(&mb, '{', "sv");
                append_s(&mb, key);
                msg_builder_open(&mb, 'v', "ay");
                /* The label including its trailing NUL, as dbus-daemon sends it. */
                msg_builder_append_bytes(&mb, v.seclabel, strlen(v.seclabel) + 1);
                msg_builder_close(&mb);
                msg_builder_close(&mb);
        }
        return reply_close_send(b, p, m, &mb);
}

/* What no peer's is known here (no audit, no SELinux): the name is checked, then the error dbus-daemon
 * answers when the facility is not in use. */
static int reply_not_known(struct bus *b, struct peer *p, struct message *m, const char *what,
                           const char *error)
{
        const char *name;
        struct peer *q;
        int r = name_arg_owner(b, p, m, what, &name, &q);
        if (r <= 0)
                return r;
        return reply_error(b, p, m, error, "Could not determine %s for '%s'", what, name);
}

static int method_get_adt_audit_session_data(struct bus *b, struct peer *p, struct message *m)
{
        return reply_not_known(b, p, m, "audit session data", DBUS_ERROR_ADT_AUDIT_DATA_UNKNOWN);
}

static int method_get_connection_selinux_security_context(struct bus *b, struct peer *p, struct message *m)
{
        return reply_not_known(b, p, m, "security context", DBUS_ERROR_SELINUX_SECURITY_CONTEXT_UNKNOWN);
}

static int method_reload_config(struct bus *b, struct peer *p, struct message *m)
{
        /* A container bus's configuration and bridge policy are the host's files: the container must not
         * choose when they are read (say, half-way through an admin's edit). */
        if (b->container && p->trust != PEER_TRUST_HOST_ROOT)
                return reply_error(
                        b, p, m, DBUS_ERROR_ACCESS_DENIED,
                        "Connection \"%s\" is not allowed to call %s.ReloadConfig: on a container "
                        "bus it is for the host's root",
                        p->unique_name, DRIVER_INTERFACE);
        int r = driver_reload_config(b);
        if (r < 0)
                return reply_error(b, p, m, DBUS_ERROR_FAILED, "Unable to reload configuration: %s",
                                   error_text(r));
        return reply_empty(b, p, m);
}

static int method_get_id(struct bus *b, struct peer *p, struct message *m)
{
        return reply_values(b, p, m, "s", b->guid);
}

/* ---- Peer ---- */

static int method_ping(struct bus *b, struct peer *p, struct message *m)
{
        return reply_empty(b, p, m);
}

static int method_get_machine_id(struct bus *b, struct peer *p, struct message *m)
{
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        /* A container bus is the container's machine to those inside it. */
        const char *id = b->container && p->origin == ORIGIN_BUS && b->container->machine_id[0]
                                 ? b->container->machine_id
                                 : b->machine_id;
        msg_builder_append(&mb, "s", id);
        return reply_send(b, p, m, &mb);
}

/* ---- Properties ---- */

static const char *const features[] = {"ActivatableServicesChanged", "HeaderFiltering", NULL};
static const char *const features_systemd[] = {"ActivatableServicesChanged", "HeaderFiltering",
                                               "SystemdActivation", NULL};
static const char *const extra_interfaces[] = {"org.freedesktop.DBus.Monitoring",
                                               "org.freedesktop.DBus.Debug.Stats", NULL};

static void append_property(struct bus *b, struct msg_builder *mb, const char *prop)
{
        msg_builder_open(mb, 'v', "as");
        msg_builder_append(mb, "as",
                           !streq(prop, "Features")     ? extra_interfaces
                           : activation_uses_systemd(b) ? features_systemd
                                                        : features);
        msg_builder_close(mb);
}

static int method_properties_get(struct bus *b, struct peer *p, struct message *m)
{
        const char *iface, *prop;
        if (message_read(m, "ss", &iface, &prop) < 0)
                return -EBADMSG;
        if (!streq(iface, DRIVER_INTERFACE))
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_INTERFACE, "Interface \"%s\" does not exist",
                                   iface);
        if (!streq(prop, "Features") && !streq(prop, "Interfaces"))
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_PROPERTY,
                                   "Property \"%s\" does not exist on interface \"%s\"", prop, iface);
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        append_property(b, &mb, prop);
        return reply_send(b, p, m, &mb);
}

static int method_properties_get_all(struct bus *b, struct peer *p, struct message *m)
{
        const char *iface;
        if (message_read(m, "s", &iface) < 0)
                return -EBADMSG;
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sv}");
        if (streq(iface, DRIVER_INTERFACE) || iface[0] == 0) {
                for (unsigned i = 0; i < 2; i++) {
                        const char *k = i == 0 ? "Features" : "Interfaces";
                        msg_builder_open(&mb, '{', "sv");
                        append_s(&mb, k);
                        append_property(b, &mb, k);
                        msg_builder_close(&mb);
                }
        } else if (!streq(iface, "org.freedesktop.DBus.Peer") &&
                   !streq(iface, "org.freedesktop.DBus.Introspectable") &&
                   !streq(iface, "org.freedesktop.DBus.Properties") &&
                   !streq(iface, "org.freedesktop.DBus.Monitoring") &&
                   !streq(iface, "org.freedesktop.DBus.Debug.Stats")) {
                msg_builder_done(&mb);
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_INTERFACE, "Interface \"%s\" does not exist",
                                   iface);
        }
        return reply_close_send(b, p, m, &mb);
}

static int method_properties_set(struct bus *b, struct peer *p, struct message *m)
{
        const char *iface, *prop;
        struct msg_reader r;
        if (!streq(m->signature, "ssv"))
                return -EBADMSG;
        msg_reader_init(&r, m);
        msg_reader_read_basic(&r, 's', &iface);
        msg_reader_read_basic(&r, 's', &prop);
        if (!streq(iface, DRIVER_INTERFACE))
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_INTERFACE, "Interface \"%s\" does not exist",
                                   iface);
        if (!streq(prop, "Features") && !streq(prop, "Interfaces"))
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_PROPERTY,
                                   "Property \"%s\" does not exist on interface \"%s\"", prop, iface);
        return reply_error(b, p, m, DBUS_ERROR_PROPERTY_READ_ONLY, "Property \"%s\" is read-only", prop);
}

/* ---- Introspectable ---- */

static void introspect_append(char **buf, size_t *len, size_t *cap, const char *s)
{
        size_t l = strlen(s);
        if (GREEDY_REALLOC(*buf, *cap, *len + l + 1) < 0)
                return;
        memcpy(*buf + *len, s, l + 1);
        *len += l;
}

static int method_introspect(struct bus *b, struct peer *p, struct message *m)
{
        _cleanup_free_ char *xml = NULL;
        size_t len = 0, cap = 0;
        const char *path = m->path;

        introspect_append(
                &xml, &len, &cap,
                "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
                "\"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n");
        const char *last_iface = NULL;
        bool canonical = streq(path, DRIVER_PATH);
        for (const struct method *mt = methods; mt->name; mt++) {
                if (!canonical && !interface_on_any_path(mt->interface))
                        continue;
                if (!streq_ptr(last_iface, mt->interface)) {
                        if (last_iface)
                                introspect_append(&xml, &len, &cap, "  </interface>\n");
                        introspect_append(&xml, &len, &cap, "  <interface name=\"");
                        introspect_append(&xml, &len, &cap, mt->interface);
                        introspect_append(&xml, &len, &cap, "\">\n");
                        last_iface = mt->interface;
                }
                introspect_append(&xml, &len, &cap, "    <method name=\"");
                introspect_append(&xml, &len, &cap, mt->name);
                introspect_append(&xml, &len, &cap, "\">\n");
                for (int dir = 0; dir < 2; dir++) {
                        const char *sig = dir == 0 ? mt->in_sig : mt->out_sig;
                        for (const char *t = sig; *t;) {
                                size_t n = signature_next_complete(t);
                                char type[DBUS_MAXIMUM_SIGNATURE_LENGTH + 1];
                                memcpy(type, t, n);
                                type[n] = 0;
                                introspect_append(&xml, &len, &cap, "      <arg direction=\"");
                                introspect_append(&xml, &len, &cap, dir == 0 ? "in" : "out");
                                introspect_append(&xml, &len, &cap, "\" type=\"");
                                introspect_append(&xml, &len, &cap, type);
                                introspect_append(&xml, &len, &cap, "\"/>\n");
                                t += n;
                        }
                }
                introspect_append(&xml, &len, &cap, "    </method>\n");
                if (streq(mt->interface, DRIVER_INTERFACE) && streq(mt->name, "GetId")) {
                        /* Signals and properties of org.freedesktop.DBus, after its last method. */
                        introspect_append(
                                &xml, &len, &cap,
                                "    <signal name=\"NameOwnerChanged\">\n      <arg type=\"s\"/>\n"
                                "      <arg type=\"s\"/>\n      <arg type=\"s\"/>\n    </signal>\n"
                                "    <signal name=\"NameLost\">\n      <arg type=\"s\"/>\n    </signal>\n"
                                "    <signal name=\"NameAcquired\">\n      <arg type=\"s\"/>\n    "
                                "</signal>\n"
                                "    <signal name=\"ActivatableServicesChanged\">\n    </signal>\n"
                                "    <property name=\"Features\" type=\"as\" access=\"read\">\n"
                                "      <annotation "
                                "name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" "
                                "value=\"const\"/>\n    </property>\n"
                                "    <property name=\"Interfaces\" type=\"as\" access=\"read\">\n"
                                "      <annotation "
                                "name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" "
                                "value=\"const\"/>\n    </property>\n");
                }
        }
        if (last_iface)
                introspect_append(&xml, &len, &cap, "  </interface>\n");
        /* Child nodes, so that tree walkers (busctl tree, d-feet) reach /org/freedesktop/DBus from /. */
        if (streq(path, "/"))
                introspect_append(&xml, &len, &cap, "  <node name=\"org/freedesktop/DBus\"/>\n");
        introspect_append(&xml, &len, &cap, "</node>\n");
        if (!xml)
                return -ENOMEM;

        return reply_values(b, p, m, "s", xml);
}

/* ---- Monitoring ---- */

static int method_become_monitor(struct bus *b, struct peer *p, struct message *m)
{
        struct msg_reader r;
        if (!streq(m->signature, "asu"))
                return -EBADMSG;
        uint32_t flags;
        msg_reader_init(&r, m);
        msg_reader_skip(&r);
        msg_reader_read_basic(&r, 'u', &flags);
        if (flags != 0)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "BecomeMonitor does not support any flags yet");
        if (!policy_check_privileged(b, p))
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Connection \"%s\" is not allowed to become a monitor", p->unique_name);

        /* Validate all rules before changing anything. */
        msg_reader_init(&r, m);
        msg_reader_enter(&r, 'a', "s");
        while (msg_reader_peek(&r)) {
                const char *rule;
                struct match_rule_keys k;
                char err[256] = "";
                msg_reader_read_basic(&r, 's', &rule);
                int ret = match_rule_parse_full(rule, &k, err, sizeof(err));
                if (ret < 0)
                        return reply_error(b, p, m, DBUS_ERROR_MATCH_RULE_INVALID, "%s",
                                           err[0] ? err : "Invalid match rule");
                match_rule_keys_free(&k);
        }

        /* The reply goes out before the peer stops being an ordinary one. */
        int ret = reply_empty(b, p, m);
        if (ret < 0)
                return ret;

        /* A monitor gives up its names and its ordinary rules (dbus-daemon: "becomes a monitor"). */
        driver_release_names(b, p);
        match_remove_all(p);

        /* Its unique name goes away. NameLost reaches it directly, whatever its monitor rules say:
         * clients (busctl) wait for exactly this signal to know the switch happened. */
        driver_emit_name_lost(b, p, p->unique_name);
        driver_emit_name_owner_changed(b, p->unique_name, p->unique_name, "");

        p->state = PEER_MONITOR;
        list_add_tail(&b->monitors, &p->monitor_link);
        msg_reader_init(&r, m);
        msg_reader_enter(&r, 'a', "s");
        while (msg_reader_peek(&r)) {
                const char *rule;
                char err[8];
                msg_reader_read_basic(&r, 's', &rule);
                ret = match_add(b, p, rule, true, err, sizeof(err));
                if (ret < 0 && ret != -ERR_LIMIT_CONNECTION && ret != -ERR_LIMIT_USER)
                        return ret;
        }
        return 0;
}

/* ---- Debug.Stats ---- */

static void append_dict_s_u(struct msg_builder *mb, const char *key, uint64_t v)
{
        append_dict_u(mb, key, (uint32_t)MIN(v, (uint64_t)UINT32_MAX));
}

/* Debug.Stats describes other peers: as dbus-daemon, only for a privileged caller. */
static int refuse_unless_privileged(struct bus *b, struct peer *p, struct message *m)
{
        if (policy_check_privileged(b, p))
                return 1;
        return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                           "Connection \"%s\" is not allowed to call %s.%s: it is for %s", p->unique_name,
                           m->interface ? m->interface : "org.freedesktop.DBus.Debug.Stats", m->member,
                           b->container ? "the host's root" : "root and the bus's own user");
}

static int method_get_stats(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_privileged(b, p, m);
        if (r <= 0)
                return r;
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sv}");
        append_dict_s_u(&mb, "Serial", b->driver_serial);
        append_dict_s_u(&mb, "ActiveConnections", b->n_peers_connected);
        append_dict_s_u(&mb, "IncompleteConnections", b->n_peers_authenticating);
        append_dict_s_u(&mb, "MatchRules", b->n_match_rules);
        append_dict_s_u(&mb, "BusNames", hashmap_size(b->names));
        append_dict_s_u(&mb, "ListMemPoolUsedBytes", 0);
        append_dict_s_u(&mb, "ListMemPoolCachedBytes", 0);
        append_dict_s_u(&mb, "ListMemPoolAllocatedBytes", 0);
        return reply_close_send(b, p, m, &mb);
}

static int method_get_connection_stats(struct bus *b, struct peer *p, struct message *m)
{
        const char *name;
        struct peer *q;
        int r = refuse_unless_privileged(b, p, m);
        if (r <= 0)
                return r;
        r = name_arg_owner(b, p, m, "statistics", &name, &q);
        if (r <= 0)
                return r;
        if (!q)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Cannot get statistics of the bus driver");
        size_t n_names = 0, n_rules = 0;
        struct name_owner *o;
        list_for_each_entry(o, &q->names, peer_link) n_names++;
        struct match_rule *rule;
        list_for_each_entry(rule, &q->matches, owner_link) n_rules++;
        struct creds_view v;
        driver_view_subject(b, p, q, false, &v);

        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sv}");
        append_dict_s_u(&mb, "Serial", b->driver_serial);
        {
                const char *k = "UniqueName", *un = q->unique_name;
                msg_builder_open(&mb, '{', "sv");
                append_s(&mb, k);
                msg_builder_open(&mb, 'v', "s");
                append_s(&mb, un);
                msg_builder_close(&mb);
                msg_builder_close(&mb);
        }
        append_dict_s_u(&mb, "IncomingMessages", q->n_messages_in);
        append_dict_s_u(&mb, "OutgoingMessages", q->n_messages_out);
        append_dict_s_u(&mb, "OutgoingBytes", q->out.n_bytes);
        append_dict_s_u(&mb, "OutgoingFDs", q->out.n_fds);
        append_dict_s_u(&mb, "IncomingBytes", io_in_memory(&q->in));
        append_dict_s_u(&mb, "MatchRules", n_rules);
        append_dict_s_u(&mb, "OwnedNames", n_names);
        append_dict_s_u(&mb, "PendingReplies", q->n_replies_waiting);
        append_dict_s_u(&mb, "UnixUserID", v.uid);
        append_dict_s_u(&mb, "ProcessID", (uint32_t)v.pid);
        return reply_close_send(b, p, m, &mb);
}

static int method_get_all_match_rules(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_privileged(b, p, m);
        if (r <= 0)
                return r;
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sas}");
        struct hashmap_iter it;
        struct peer *q;
        HASHMAP_FOREACH(q, b->peers_by_id, it)
        {
                if (list_empty(&q->matches))
                        continue;
                msg_builder_open(&mb, '{', "sas");
                append_s(&mb, q->unique_name);
                msg_builder_open(&mb, 'a', "s");
                struct match_rule *rule;
                list_for_each_entry(rule, &q->matches, owner_link)
                {
                        _cleanup_free_ char *text = match_rule_keys_to_string(&rule->keys);
                        if (!text) {
                                msg_builder_done(&mb);
                                return -ENOMEM;
                        }
                        for (unsigned i = 0; i < rule->n_refs; i++)
                                append_s(&mb, text);
                }
                msg_builder_close(&mb);
                msg_builder_close(&mb);
        }
        return reply_close_send(b, p, m, &mb);
}

/* ---- org.nsbus.Container1: what a container bus tells its bridge ---- */

#define CONTAINER_INTERFACE "org.nsbus.Container1"

static int refuse_unless_container(struct bus *b, struct peer *p, struct message *m)
{
        if (!b->container)
                return reply_error(b, p, m, DBUS_ERROR_NOT_SUPPORTED, "This bus serves no container");
        return 1;
}

/* What only the host's root may ask of a container bus. */
static int refuse_unless_host_root(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_container(b, p, m);
        if (r <= 0)
                return r;
        if (p->trust != PEER_TRUST_HOST_ROOT)
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED, "%s.%s is only for the host's root",
                                   m->interface ? m->interface : CONTAINER_INTERFACE, m->member);
        return 1;
}

static int refuse_unless_bridge(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_container(b, p, m);
        if (r <= 0)
                return r;
        if (!container_peer_is_bridge(b, p))
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "%s.%s is only for the host's root and the container's bridge",
                                   CONTAINER_INTERFACE, m->member);
        return 1;
}

/* GetBridgeKey() -> ay: the key a bridge proves itself with. Only the host's root reads it: nsbridge
 * asks while it is still root, then runs as the container's mapped root and presents it on every
 * connection it makes to host.sock. */
static int method_container_get_bridge_key(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_host_root(b, p, m);
        if (r <= 0)
                return r;
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        msg_builder_append_bytes(&mb, b->container->bridge_key, sizeof(b->container->bridge_key));
        return reply_send(b, p, m, &mb);
}

/* GetBridgePolicy() -> (s file, ay text): the bridge policy in force, as the bus read it at start or at its
 * last ReloadConfig. The sandboxed bridge cannot open files; this is how it follows a reload. */
static int method_container_get_bridge_policy(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_bridge(b, p, m);
        if (r <= 0)
                return r;
        const struct container *c = b->container;
        if (!c->policy_file)
                return reply_error(b, p, m, DBUS_ERROR_NOT_SUPPORTED,
                                   "Container %s's bus was started without a bridge policy", c->name);
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        msg_builder_append(&mb, "s", c->policy_file);
        msg_builder_append_bytes(&mb, c->policy_text, c->policy_len);
        return reply_send(b, p, m, &mb);
}

/* ClaimBridge(ay key): a connection on host.sock with the bridge's identity (the container's mapped root
 * in the bus's own namespaces) proves it is the bridge. Until then it may do nothing else; a wrong key is
 * an attack, and the connection ends. */
static int method_container_claim_bridge(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_container(b, p, m);
        if (r <= 0)
                return r;
        const uint8_t *key;
        size_t len;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if ((r = msg_reader_read_bytes(&rd, &key, &len)) < 0)
                return r;
        r = container_claim_bridge(b, p, key, len); /* a key of another length is wrong, and compared so */
        if (r == -EPERM)
                return reply_error(
                        b, p, m, DBUS_ERROR_ACCESS_DENIED,
                        "Only a connection on host.sock as the container's bridge may claim to be "
                        "it");
        if (r < 0) {
                r = reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED, "Wrong bridge key");
                p->close_after_flush = "refused: presented a wrong bridge key";
                return r;
        }
        return reply_empty(b, p, m);
}

static void append_idmap(struct msg_builder *mb, const struct idmap *map)
{
        msg_builder_open(mb, 'a', "(uuu)");
        for (unsigned i = 0; i < map->n; i++) {
                msg_builder_open(mb, '(', "uuu");
                msg_builder_append(mb, "uuu", map->extents[i].inside, map->extents[i].outside,
                                   map->extents[i].count);
                msg_builder_close(mb);
        }
        msg_builder_close(mb);
}

/* GetInfo() -> (name, init pid, uid_map, gid_map): everything a bridge needs to know which container it
 * serves and whose uid to run as, so its command line does not have to repeat it. */
static int method_container_get_info(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_bridge(b, p, m);
        if (r <= 0)
                return r;
        container_check_init(b); /* pid 0: it waits for its restore */
        const struct container *c = b->container;
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        msg_builder_append(&mb, "su", c->name, (uint32_t)c->pid);
        append_idmap(&mb, &c->user_ns->uid_map);
        append_idmap(&mb, &c->user_ns->gid_map);
        return reply_send(b, p, m, &mb);
}

/*
 * SetProxiedCredentials(a{sv}): a bridge connection that forwards one host caller into the container says
 * who that caller is (UnixUserID, UnixGroupIDs, ProcessID, as the bridge's namespaces see them, which must
 * be the bus's; HostUniqueName, its name on the host bus, for admins to read with GetPeerInfo). From then on
 * every question about this connection answers with the caller's identity, translated for the asker like any
 * other, so a container service sees the host caller (normally uid 65534, pid 0) and never the bridge.
 * Quotas and bus policy still apply to the bridge's own uid: the kernel vouches for that one.
 */
static int method_container_set_proxied_credentials(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_bridge(b, p, m);
        if (r <= 0)
                return r;
        if (p->proxied)
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Credentials of this connection were already set");
        struct ns_registry *reg = b->namespaces;
        if (p->creds.user_ns != reg->bus_user || p->creds.pid_ns != reg->bus_pid)
                return reply_error(b, p, m, DBUS_ERROR_NOT_SUPPORTED,
                                   "Only a bridge in the bus's own namespaces can speak for host callers");

        bool have_uid = false;
        uint32_t uid = 0, pid = 0;
        _cleanup_free_ char *host_name = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if ((r = msg_reader_enter(&rd, 'a', "{sv}")) < 0)
                return r;
        while (msg_reader_peek(&rd)) {
                const char *key;
                if ((r = msg_reader_enter(&rd, '{', "sv")) < 0 ||
                    (r = msg_reader_read_basic(&rd, 's', &key)) < 0)
                        return r;
                if (streq(key, "UnixUserID") || streq(key, "ProcessID")) {
                        if ((r = msg_reader_enter(&rd, 'v', "u")) < 0)
                                return r;
                        if ((r = msg_reader_read_basic(&rd, 'u', key[0] == 'U' ? &uid : &pid)) < 0)
                                return r;
                        have_uid |= key[0] == 'U';
                } else if (streq(key, "HostUniqueName")) {
                        const char *name;
                        if ((r = msg_reader_enter(&rd, 'v', "s")) < 0 ||
                            (r = msg_reader_read_basic(&rd, 's', &name)) < 0)
                                return r;
                        if (!dbus_validate_unique_name(name, strlen(name)))
                                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                                   "HostUniqueName \"%s\" is not a unique name", name);
                        free(host_name);
                        if (!(host_name = strdup(name)))
                                return -ENOMEM;
                } else if (streq(key, "UnixGroupIDs")) {
                        if ((r = msg_reader_enter(&rd, 'v', "au")) < 0 ||
                            (r = msg_reader_enter(&rd, 'a', "u")) < 0)
                                return r;
                        while (msg_reader_peek(&rd)) {
                                if (n_groups >= NGROUPS_MAX)
                                        return -EBADMSG;
                                gid_t *g = realloc(groups, (n_groups + 1) * sizeof(*groups));
                                if (!g)
                                        return -ENOMEM;
                                groups = g;
                                uint32_t v;
                                if ((r = msg_reader_read_basic(&rd, 'u', &v)) < 0)
                                        return r;
                                groups[n_groups++] = v;
                        }
                        if ((r = msg_reader_exit(&rd)) < 0)
                                return r;
                } else
                        return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "Unknown credential \"%s\"",
                                           key);
                if ((r = msg_reader_exit(&rd)) < 0 || (r = msg_reader_exit(&rd)) < 0)
                        return r;
        }
        if (!have_uid || uid == (uint32_t)-1 || pid > INT32_MAX)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "UnixUserID is required; ProcessID must be a process id");

        struct peer_creds *c = &p->creds;
        free(c->groups);
        free(c->seclabel);
        c->seclabel = NULL;
        c->uid = uid;
        c->gid = n_groups > 0 ? groups[0] : (gid_t)reg->overflow_gid;
        c->groups = TAKE_PTR(groups);
        c->n_groups = n_groups;
        c->pid = (pid_t)pid;
        c->ns_pids[0] = (pid_t)pid;
        c->n_ns_pids = pid > 0;
        c->has_pidfd = false; /* the kernel's pidfd for this socket names the bridge */
        p->proxied = true;
        p->proxied_for = TAKE_PTR(host_name);
        log_debug("%s speaks for uid %u pid %u", p->unique_name, uid, pid);
        return reply_empty(b, p, m);
}

/*
 * GetPeerInfo(s name) -> a{sv}: what the bus knows of a connection beyond its credentials, for the host's
 * root (nsbusctl creds): UniqueName, Listener ("container": the container's socket, "host": host.sock),
 * Trust ("host-root", "bridge", "bridge-candidate" or "peer"), Proxied (b: it speaks for a host caller)
 * and, when the bridge said so, ProxiedFor (that caller's unique name on the host bus).
 */
static int method_container_get_peer_info(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_host_root(b, p, m);
        if (r <= 0)
                return r;
        const char *name;
        struct peer *q;
        if ((r = name_arg_owner(b, p, m, "peer information", &name, &q)) <= 0)
                return r;
        if (!q)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "The bus driver is not a connection");
        static const char *const trust[] = {
                [PEER_TRUST_NONE] = "peer",
                [PEER_TRUST_HOST_ROOT] = "host-root",
                [PEER_TRUST_BRIDGE_CANDIDATE] = "bridge-candidate",
                [PEER_TRUST_BRIDGE] = "bridge",
        };
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "{sv}");
        const char *s = q->unique_name;
        msg_builder_append_entry(&mb, "UniqueName", 's', &s);
        s = q->origin == ORIGIN_HOST ? "host" : "container";
        msg_builder_append_entry(&mb, "Listener", 's', &s);
        s = trust[q->trust];
        msg_builder_append_entry(&mb, "Trust", 's', &s);
        int proxied = q->proxied;
        msg_builder_append_entry(&mb, "Proxied", 'b', &proxied);
        if (q->proxied_for) {
                s = q->proxied_for;
                msg_builder_append_entry(&mb, "ProxiedFor", 's', &s);
        }
        return reply_close_send(b, p, m, &mb);
}

/* ---- org.nsbus.Checkpoint1: a container's connections through CRIU (checkpoint.h) ---- */

#define CHECKPOINT_INTERFACE "org.nsbus.Checkpoint1"

/* Export(h socket) -> ay image: the connection whose client end the checkpoint tool hands over. */
static int method_checkpoint_export(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_host_root(b, p, m);
        if (r <= 0)
                return r;
        int fd, diag_fd;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if (msg_reader_read_basic(&rd, 'h', &fd) < 0 || msg_reader_read_basic(&rd, 'h', &diag_fd) < 0)
                return -EBADMSG;
        _cleanup_free_ uint8_t *image = NULL;
        size_t len = 0;
        char err[512] = "";
        r = checkpoint_export(b, p, fd, diag_fd, &image, &len, err, sizeof(err));
        if (r == -EINVAL)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "%s", err);
        if (r == -ENOENT)
                return reply_error(b, p, m, NSBUS_ERROR_NOT_OURS,
                                   "The socket is not a connection of container %s's bus",
                                   b->container->name);
        if (r == -EBUSY)
                return reply_error(b, p, m, NSBUS_ERROR_NOT_CHECKPOINTABLE, "%s", err);
        if (r < 0)
                return r;
        struct msg_builder mb;
        reply_init(b, p, m, &mb);
        msg_builder_append_bytes(&mb, image, len);
        return reply_send(b, p, m, &mb);
}

/* ExportAll(h diag) -> a(tay): every connection of the container at once, for a whole dump (checkpoint.h).
 */
static int method_checkpoint_export_all(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_host_root(b, p, m);
        if (r <= 0)
                return r;
        int diag_fd;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if (msg_reader_read_basic(&rd, 'h', &diag_fd) < 0)
                return -EBADMSG;
        struct checkpoint_export *v = NULL;
        size_t n = 0;
        char err[512] = "";
        r = checkpoint_export_all(b, p, diag_fd, &v, &n, err, sizeof(err));
        if (r == -EINVAL)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "%s", err);
        if (r < 0)
                return r;
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "(tay)");
        for (size_t i = 0; i < n; i++) {
                msg_builder_open(&mb, '(', "tay");
                msg_builder_append_basic(&mb, 't', &v[i].client_ino);
                msg_builder_append_bytes(&mb, v[i].image, v[i].len);
                msg_builder_close(&mb);
        }
        checkpoint_exports_free(v, n);
        return reply_close_send(b, p, m, &mb);
}

/* What a Prepare changed: everyone hears of the unique names and names that are back, and a call
 * awaited from a connection that is not coming back gets its NoReply. */
static void announce_prepared(struct bus *b, const struct checkpoint_changes *ch)
{
        for (size_t i = 0; i < ch->n_peers; i++)
                driver_emit_name_owner_changed(b, ch->peers[i]->unique_name, "", ch->peers[i]->unique_name);
        for (size_t i = 0; i < ch->n_names; i++)
                driver_emit_name_owner_changed(b, ch->names[i].name,
                                               ch->names[i].old_owner ? ch->names[i].old_owner->unique_name
                                                                      : "",
                                               ch->names[i].new_owner->unique_name);
        for (size_t i = 0; i < ch->n_lost; i++) {
                struct message *e;
                if (message_new_error(driver_next_serial(b), ch->lost[i].serial,
                                      ch->lost[i].caller->unique_name, DRIVER_NAME, DBUS_ERROR_NO_REPLY,
                                      "Message recipient disconnected from message bus without replying",
                                      &e) < 0)
                        continue;
                routing_send_driver_message(b, ch->lost[i].caller, e);
                message_unref(e);
        }
}

static int reply_prepared(struct bus *b, struct peer *p, struct message *m,
                          const struct checkpoint_prepared *res, size_t n)
{
        struct msg_builder mb;
        reply_open(b, p, m, &mb, 'a', "(ayubay)");
        for (size_t i = 0; i < n; i++) {
                int fds = res[i].unix_fds;
                msg_builder_open(&mb, '(', "ayubay");
                msg_builder_append_bytes(&mb, res[i].token, sizeof(res[i].token));
                msg_builder_append(&mb, "ub", res[i].socket_flags, fds);
                msg_builder_append_bytes(&mb, res[i].input, res[i].n_input);
                msg_builder_close(&mb);
        }
        return reply_close_send(b, p, m, &mb);
}

/* Prepare(aay images) -> a(ay token, u socket flags, b fd passing, ay input): a restore's connections,
 * parked until their processes resume them. All or none. */
static int method_checkpoint_prepare(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_host_root(b, p, m);
        if (r <= 0)
                return r;
        _cleanup_free_ const uint8_t **images = NULL;
        _cleanup_free_ size_t *lens = NULL;
        size_t n = 0, allocated = 0, allocated_lens = 0;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if (msg_reader_enter(&rd, 'a', "ay") < 0)
                return -EBADMSG;
        while (msg_reader_peek(&rd)) {
                if (GREEDY_REALLOC(images, allocated, n + 1) < 0 ||
                    GREEDY_REALLOC(lens, allocated_lens, n + 1) < 0)
                        return -ENOMEM;
                if (msg_reader_read_bytes(&rd, &images[n], &lens[n]) < 0)
                        return -EBADMSG;
                n++;
        }
        struct checkpoint_prepared *res = NULL;
        struct checkpoint_changes ch;
        char err[1024] = "";
        r = checkpoint_prepare(b, p, images, lens, n, &res, &ch, err, sizeof(err));
        if (r == -EINVAL)
                return reply_error(b, p, m, NSBUS_ERROR_BAD_IMAGE, "%s", err);
        if (r < 0)
                return r;
        announce_prepared(b, &ch);
        checkpoint_changes_done(&ch);
        r = reply_prepared(b, p, m, res, n);
        for (size_t i = 0; i < n; i++)
                free(res[i].input);
        free(res);
        return r;
}

/* Resume(ay token), instead of Hello, from the restored process: this connection's socket becomes the
 * parked connection's. The answer is the first thing on it; the connection that asked is gone after. */
static int method_checkpoint_resume(struct bus *b, struct peer *p, struct message *m)
{
        int r = refuse_unless_container(b, p, m);
        if (r <= 0)
                return r;
        if (p->refusal && p->refusal != container_refusal_restoring)
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED, "%s", p->refusal);
        const uint8_t *token;
        size_t len;
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if (msg_reader_read_bytes(&rd, &token, &len) < 0)
                return -EBADMSG;
        struct msg_builder mb;
        struct message *reply;
        msg_builder_init(&mb, MESSAGE_METHOD_RETURN, driver_next_serial(b));
        mb.flags = MESSAGE_FLAG_NO_REPLY_EXPECTED;
        mb.reply_serial = m->serial;
        mb.sender = DRIVER_NAME;
        if ((r = msg_builder_finish(&mb, &reply)) < 0)
                return r;
        char err[512] = "";
        struct peer *q;
        r = checkpoint_resume(b, p, token, len, reply, &q, err, sizeof(err));
        message_unref(reply);
        if (r == -ENOENT)
                r = reply_error(b, p, m, NSBUS_ERROR_RESUME_REFUSED, "No connection waits for this token");
        else if (r == -EPERM)
                r = reply_error(b, p, m, NSBUS_ERROR_RESUME_REFUSED, "%s", err);
        if (r < 0)
                return r;
        if (p->fd >= 0) {
                /* Refused: the answer is written, then the connection closes. */
                p->close_after_flush = "its Resume was refused";
                return 0;
        }
        driver_disconnect_peer(b, p, NULL);
        return 0;
}

bool driver_guards_itself(const struct message *m)
{
        return streq_ptr(m->interface, CONTAINER_INTERFACE) || streq_ptr(m->interface, CHECKPOINT_INTERFACE);
}

/* Grouped by interface: Introspect walks the table in order. */
static const struct method methods[] = {
        {DRIVER_INTERFACE, "Hello", "", "s", method_hello, false},
        {DRIVER_INTERFACE, "RequestName", "su", "u", method_request_name, false},
        {DRIVER_INTERFACE, "ReleaseName", "s", "u", method_release_name, false},
        {DRIVER_INTERFACE, "StartServiceByName", "su", "u", method_start_service_by_name, false},
        {DRIVER_INTERFACE, "UpdateActivationEnvironment", "a{ss}", "", method_update_activation_environment,
         true},
        {DRIVER_INTERFACE, "NameHasOwner", "s", "b", method_name_has_owner, false},
        {DRIVER_INTERFACE, "ListNames", "", "as", method_list_names, false},
        {DRIVER_INTERFACE, "ListActivatableNames", "", "as", method_list_activatable_names, false},
        {DRIVER_INTERFACE, "AddMatch", "s", "", method_add_match, false},
        {DRIVER_INTERFACE, "RemoveMatch", "s", "", method_remove_match, false},
        {DRIVER_INTERFACE, "GetNameOwner", "s", "s", method_get_name_owner, false},
        {DRIVER_INTERFACE, "ListQueuedOwners", "s", "as", method_list_queued_owners, false},
        {DRIVER_INTERFACE, "GetConnectionUnixUser", "s", "u", method_get_connection_unix_user, false},
        {DRIVER_INTERFACE, "GetConnectionUnixProcessID", "s", "u", method_get_connection_unix_process_id,
         false},
        {DRIVER_INTERFACE, "GetAdtAuditSessionData", "s", "ay", method_get_adt_audit_session_data, false},
        {DRIVER_INTERFACE, "GetConnectionSELinuxSecurityContext", "s", "ay",
         method_get_connection_selinux_security_context, false},
        {DRIVER_INTERFACE, "GetConnectionCredentials", "s", "a{sv}", method_get_connection_credentials,
         false},
        {DRIVER_INTERFACE, "ReloadConfig", "", "", method_reload_config, false},
        {DRIVER_INTERFACE, "GetId", "", "s", method_get_id, false},
        {"org.freedesktop.DBus.Properties", "Get", "ss", "v", method_properties_get, false},
        {"org.freedesktop.DBus.Properties", "GetAll", "s", "a{sv}", method_properties_get_all, false},
        {"org.freedesktop.DBus.Properties", "Set", "ssv", "", method_properties_set, false},
        {"org.freedesktop.DBus.Introspectable", "Introspect", "", "s", method_introspect, false},
        {"org.freedesktop.DBus.Peer", "Ping", "", "", method_ping, false},
        {"org.freedesktop.DBus.Peer", "GetMachineId", "", "s", method_get_machine_id, false},
        {"org.freedesktop.DBus.Monitoring", "BecomeMonitor", "asu", "", method_become_monitor, true},
        {"org.freedesktop.DBus.Debug.Stats", "GetStats", "", "a{sv}", method_get_stats, true},
        {"org.freedesktop.DBus.Debug.Stats", "GetConnectionStats", "s", "a{sv}", method_get_connection_stats,
         true},
        {"org.freedesktop.DBus.Debug.Stats", "GetAllMatchRules", "", "a{sas}", method_get_all_match_rules,
         true},
        {CONTAINER_INTERFACE, "GetInfo", "", "sua(uuu)a(uuu)", method_container_get_info, true},
        {CONTAINER_INTERFACE, "GetBridgeKey", "", "ay", method_container_get_bridge_key, true},
        {CONTAINER_INTERFACE, "ClaimBridge", "ay", "", method_container_claim_bridge, true},
        {CONTAINER_INTERFACE, "GetPeerInfo", "s", "a{sv}", method_container_get_peer_info, true},
        {CONTAINER_INTERFACE, "GetBridgePolicy", "", "say", method_container_get_bridge_policy, true},
        {CONTAINER_INTERFACE, "SetProxiedCredentials", "a{sv}", "", method_container_set_proxied_credentials,
         true},
        {CHECKPOINT_INTERFACE, "Export", "hh", "ay", method_checkpoint_export, true},
        {CHECKPOINT_INTERFACE, "ExportAll", "h", "a(tay)", method_checkpoint_export_all, true},
        {CHECKPOINT_INTERFACE, "Prepare", "aay", "a(ayubay)", method_checkpoint_prepare, true},
        {CHECKPOINT_INTERFACE, "Resume", "ay", "", method_checkpoint_resume, true},
        {},
};

/*
 * systemd's answer to an ActivationRequest it could not carry out: ActivationFailure(unit, error name,
 * message), a signal to the bus. As dbus-daemon, it counts only from a privileged peer (uid 0 or the
 * bus's own) that owns org.freedesktop.systemd1; anyone else's is ignored, so no other peer can make
 * activations fail.
 */
static int signal_activation_failure(struct bus *b, struct peer *p, struct message *m)
{
        if (!policy_check_privileged(b, p))
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "rejected ActivationFailure from %s (uid %u): only systemd may send it",
                                   p->unique_name, (unsigned)p->creds.uid);
        if (names_find_peer(b, SYSTEMD_NAME) != p) {
                log_warning("ignoring forged ActivationFailure from %s (uid %u): it does not own %s",
                            p->unique_name, (unsigned)p->creds.uid, SYSTEMD_NAME);
                return 0;
        }
        if (!activation_uses_systemd(b)) {
                log_warning("ignoring ActivationFailure from %s: the bus does not use systemd activation",
                            p->unique_name);
                return 0;
        }
        const char *unit, *error_name, *text;
        if (!streq(m->signature, "sss") || message_read(m, "sss", &unit, &error_name, &text) < 0) {
                log_warning("ignoring ActivationFailure from %s: its arguments are (%s), not (sss)",
                            p->unique_name, m->signature);
                return 0;
        }
        log_info("activation via systemd failed for unit '%s': %s: %s", unit, error_name, text);
        /* The waiting callers get systemd's own error, which must be one a message can carry. */
        if (!dbus_validate_error_name(error_name, strlen(error_name)))
                error_name = DBUS_ERROR_SPAWN_FAILED;
        activation_systemd_failed(b, unit, error_name, text);
        return 0;
}

int driver_handle(struct bus *b, struct peer *p, struct message *m)
{
        if (m->type == MESSAGE_SIGNAL && streq_ptr(m->interface, SYSTEMD_ACTIVATOR_INTERFACE) &&
            streq_ptr(m->member, "ActivationFailure"))
                return signal_activation_failure(b, p, m);
        if (m->type != MESSAGE_METHOD_CALL)
                return 0; /* other signals and replies to the driver go nowhere */

        const struct method *found = NULL;
        for (const struct method *mt = methods; mt->name; mt++) {
                if (!streq(mt->name, m->member))
                        continue;
                if (m->interface && !streq(m->interface, mt->interface))
                        continue;
                found = mt;
                break;
        }
        if (!found) {
                if (m->interface && !streq(m->interface, DRIVER_INTERFACE)) {
                        bool known = false;
                        for (const struct method *mt = methods; mt->name; mt++)
                                known |= streq(mt->interface, m->interface);
                        if (!known)
                                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_INTERFACE,
                                                   "org.freedesktop.DBus does not understand message %s",
                                                   m->member);
                }
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_METHOD,
                                   "org.freedesktop.DBus does not understand message %s", m->member);
        }
        if (!interface_on_any_path(found->interface) && !streq(m->path, DRIVER_PATH))
                return reply_error(b, p, m, DBUS_ERROR_UNKNOWN_INTERFACE,
                                   "Interface \"%s\" only available at the canonical object path '%s'",
                                   found->interface, DRIVER_PATH);
        if (found->needs_driver_path && !streq(m->path, DRIVER_PATH))
                return reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                   "Method '%s' is only available at the canonical object path '%s'",
                                   found->name, DRIVER_PATH);
        if (!streq(m->signature, found->in_sig))
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS,
                                   "Call to %s has wrong args (%s, expected %s)", found->name, m->signature,
                                   found->in_sig);
        if (p->state == PEER_AWAITING_HELLO && found->handler != method_hello &&
            found->handler != method_checkpoint_resume)
                return -EPERM;

        int r = found->handler(b, p, m);
        if (r == -EBADMSG)
                return reply_error(b, p, m, DBUS_ERROR_INVALID_ARGS, "Call to %s has invalid arguments",
                                   found->name);
        if (r < 0 && r != -ENOMEM)
                return reply_error(b, p, m, DBUS_ERROR_FAILED, "%s: %s", found->name, error_text(r));
        return r;
}

/* A signal of org.nsbus.Container1, broadcast: BridgePolicyChanged tells the bridge (which subscribes to
 * it) to ask for the new policy with GetBridgePolicy. It says nothing but that it changed. */
static int emit_container_signal(struct bus *b, const char *member, const char *sig, ...)
{
        va_list ap;
        va_start(ap, sig);
        int r = emit_signal_on(b, NULL, CONTAINER_INTERFACE, member, sig, ap);
        va_end(ap);
        return r;
}

/* A reload made the bridge policy import names that processes of the container own or wait for: they
 * lose them, as if they had released them, so that from now on the names are the bridge's alone (the
 * reservation is checked at RequestName, which they passed under the old policy). */
static void evict_from_imported_names(struct bus *b)
{
        struct held {
                struct peer *peer;
                char name[256];
        } *held = NULL;
        size_t n = 0, allocated = 0;
        struct hashmap_iter it;
        struct name *nm;
        HASHMAP_FOREACH(nm, b->names, it)
        {
                if (!bridge_policy_is_imported(b->container->policy, nm->name))
                        continue;
                struct name_owner *o;
                list_for_each_entry(o, &nm->owners, name_link)
                {
                        if (container_peer_is_bridge(b, o->peer) ||
                            GREEDY_REALLOC(held, allocated, n + 1) < 0)
                                continue;
                        held[n].peer = o->peer;
                        snprintf(held[n++].name, sizeof(held[0].name), "%s", nm->name);
                }
        }
        /* Released after the walk: a release may free the name and its queue. */
        for (size_t i = 0; i < n; i++) {
                uint32_t reply;
                struct name_change change;
                log_warning("container %s: %s is imported from the host now; %s loses it",
                            b->container->name, held[i].name, held[i].peer->unique_name);
                if (names_release(b, held[i].peer, held[i].name, &reply, &change) >= 0)
                        driver_announce_name_change(b, &change);
        }
        free(held);
}

int driver_reload_config(struct bus *b)
{
        int r = settings_reload(b);
        if (r < 0)
                return r;
        r = b->config ? activation_load_config(b, b->config) : 0;
        driver_emit_activatable_services_changed(b);
        int p = container_reload_policy(b);
        if (p > 0) {
                evict_from_imported_names(b);
                emit_container_signal(b, "BridgePolicyChanged", "");
        }
        return r < 0 ? r : p < 0 ? p : 0;
}

void driver_disconnect_peer(struct bus *b, struct peer *p, const char *fmt, ...)
{
        if (p->state == PEER_DEAD)
                return;
        char reason[256];
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(reason, sizeof(reason), fmt, ap);
                va_end(ap);
        }
        enum peer_state old = p->state;
        /* Dead first: nothing announced below (NameOwnerChanged, NoReply errors) may reach it. */
        peer_close(p, fmt ? reason : NULL);
        match_remove_all(p);
        if (old != PEER_AUTHENTICATING)
                driver_peer_gone(b, p, old == PEER_RUNNING);
}

void driver_disconnect_doomed(struct bus *b)
{
        while (!list_empty(&b->doomed_peers)) {
                struct peer *p = list_first_entry(&b->doomed_peers, struct peer, doomed_link);
                list_del(&p->doomed_link);
                driver_disconnect_peer(b, p, "%s", p->doom_reason);
        }
}

/* A peer that was registered (or waiting for Hello) goes away. */
void driver_peer_gone(struct bus *b, struct peer *p, bool announce)
{
        driver_release_names(b, p);

        /* What it exported for a dump goes on, or waits for its restore (checkpoint.h). */
        checkpoint_release(b, p);

        /* What it prepared for a restore and no process resumed will never be. */
        struct peer *orphan;
        while ((orphan = checkpoint_next_orphan(b, p)))
                driver_disconnect_peer(b, orphan, "its restore was abandoned: %s left before it resumed",
                                       p->unique_name);

        /* Callers waiting on us get an error now rather than a timeout later, as from dbus-daemon. */
        while (!list_empty(&p->replies_owed))
                reply_slot_fail(b, list_first_entry(&p->replies_owed, struct reply_slot, callee_link),
                                "Message recipient disconnected from message bus without replying");
        /* Replies owed to us will be dropped when they come. */
        while (!list_empty(&p->replies_waiting))
                replies_slot_free(list_first_entry(&p->replies_waiting, struct reply_slot, caller_link));

        if (announce)
                driver_emit_name_owner_changed(b, p->unique_name, p->unique_name, "");
}
