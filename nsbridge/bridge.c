/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbridge's forwarding: two main connections, one to the host bus and one to
 * the container bus, plus one connection per distinct caller on the other
 * side.
 *
 * Every peer on one side that the other side deals with has its own
 * connection there: each host owner of imported names gets an "owner"
 * connection on the container bus that owns those names, each container
 * caller a "caller" connection on the host bus, and the same the other way
 * for exports. So unique names keep their meaning across the bridge: host
 * services tell container callers apart, a client that binds a proxy to the
 * unique name owning a name (dbus-python does) reaches that owner and no
 * other, and NameOwnerChanged inside follows each host service's lifetime.
 *
 * Import (host -> container): a permitted call from container caller C to
 * the owner connection of host service U leaves on C's caller connection to
 * U; the reply comes back there and returns through U's owner connection,
 * the one C called. Export (container -> host): the same, where each host
 * caller's connection into the container first tells nsbusd who the caller
 * is (SetProxiedCredentials), so the container service sees the host caller,
 * never the bridge.
 *
 * Bodies are never re-marshalled: a forwarded message is a new header on
 * the received body (message_new_relay()), and its fds move with it.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dbus-errors.h"
#include "errors.h"
#include "bridge-policy.h"
#include "bridge.h"
#include "client.h"
#include "container1.h"
#include "event.h"
#include "hashmap.h"
#include "list.h"
#include "log.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u
/* A caller's connection that the other bus does not drain holds at most this much before further calls
 * are refused with LimitsExceeded. */
#define LINK_MAX_QUEUED_BYTES (64u << 20)
#define NAME_FLAG_DO_NOT_QUEUE 4u

enum link_kind {
        LINK_HOST,          /* main connection to the host bus: watches names, asks the driver */
        LINK_CONTAINER,     /* main connection to the container bus: the same */
        LINK_IMPORT_CALLER, /* to the host bus, for one container caller */
        LINK_EXPORT_CALLER, /* to the container bus, for one host caller */
        LINK_IMPORT_OWNER,  /* to the container bus, owning the imported names of one host peer */
        LINK_EXPORT_OWNER,  /* to the host bus, owning the exported names of one container peer */
};

struct link {
        struct event_source source; /* its connection's socket, once connected */
        struct bridge *br;
        enum link_kind kind;
        struct client *c;            /* NULL while a main link is down */
        char *caller;                /* caller and owner links: the peer's unique name on the other bus */
        struct hashmap *calls;       /* serial sent here -> struct forwarded, for routing replies */
        struct list_head flush_link; /* in br->flush_list while output is queued */

        /* Main links: reconnection. */
        unsigned backoff_ms;
        uint64_t retry_at_usec;       /* 0: not waiting */
        struct hashmap *driver_calls; /* serial -> struct driver_call */

        /* Calls held until the link may carry them: an export caller's until the container bus knows who
         * the caller is, and any link's once one of them carries fds, until the bus has agreed to fd
         * passing (a bus drops a connection that sends fds before that). Order is kept: once one call
         * is held, the ones after it are too. */
        bool creds_known;
        uint32_t creds_serial; /* SetProxiedCredentials */
        struct message **held;
        size_t n_held;
        bool held_fds; /* some held message carries fds */

        struct list_head lru_link; /* import callers, in br->import_lru, least recently used first */
};

struct forwarded {
        uint64_t serial; /* key: on the link the call went out on */
        uint32_t caller_serial;
        char *via; /* the owner link the caller called, by its peer's unique name: the reply leaves there */
};

enum driver_call_kind {
        CALL_LOG_ERROR,      /* AddMatch, RequestName, ReleaseName: only an error is interesting */
        CALL_LIST_NAMES,     /* host: which imported names exist now */
        CALL_GET_NAME_OWNER, /* arg: the name */
        CALL_GET_CREDS,      /* host: arg is the host caller an export link is for */
        CALL_GET_POLICY,     /* container: GetBridgePolicy, after BridgePolicyChanged */
};

struct driver_call {
        uint64_t serial;
        enum driver_call_kind kind;
        char *arg;
};

/* An imported name that has an owner on the host bus. */
struct host_name {
        char *name; /* key */
        char *owner;
        bool watched; /* a match for its broadcasts is installed */
};

struct bridge {
        const struct bridge_options *o;
        struct event_loop *loop;
        struct event_source signals, init; /* SIGTERM and SIGINT; the container init's pidfd */
        struct event_timer reconnect;      /* the earlier of the main links' retry_at_usec */
        uid_t uid;
        struct link host, container;
        struct hashmap *import_callers;     /* container unique name -> struct link */
        struct list_head import_lru;        /* the same links, least recently used first */
        struct hashmap *export_callers;     /* host unique name -> struct link */
        struct bridge_policy *policy;       /* in force: o->policy, then what the bus says after reloads */
        struct hashmap *host_names;         /* imported name -> struct host_name */
        struct hashmap *import_owners;      /* host unique name -> struct link (LINK_IMPORT_OWNER) */
        struct hashmap *export_owner_links; /* container unique name -> struct link (LINK_EXPORT_OWNER) */
        char **export_owners;               /* per export: the container owner's unique name, or NULL */
        struct list_head flush_list;
        struct list_head dead_links; /* caller links closed during this batch of events */
        bool ready_logged;
        int exit_code;             /* >= 0: stop */
        struct io_scratch scratch; /* every link's reads land here (owned: big messages take it over) */
};

static const char *link_what(const struct link *l)
{
        switch (l->kind) {
        case LINK_HOST:
                return "host bus";
        case LINK_CONTAINER:
                return "container bus";
        case LINK_IMPORT_CALLER:
                return "host bus (for a container caller)";
        case LINK_EXPORT_CALLER:
                return "container bus (for a host caller)";
        case LINK_IMPORT_OWNER:
                return "container bus (for a host service)";
        case LINK_EXPORT_OWNER:
                return "host bus (for a container service)";
        }
        return "?";
}

static bool link_up(const struct link *l)
{
        return l->c != NULL;
}

static void link_mark_dirty(struct link *l)
{
        if (list_unlinked(&l->flush_link))
                list_add_tail(&l->br->flush_list, &l->flush_link);
}

/* Queue a message with its header; takes a new reference. */
static int link_send(struct link *l, struct message *m)
{
        if (!l->c)
                return -ENOTCONN;
        int r = client_queue(l->c, m);
        if (r >= 0)
                link_mark_dirty(l);
        return r;
}

static void link_io(struct event_source *s, uint32_t events);

static int link_watch(struct link *l, uint32_t events)
{
        if (l->source.fd < 0)
                return event_source_add(l->br->loop, &l->source, l->c->fd, events, link_io);
        return event_source_watch(l->br->loop, &l->source, events);
}

static void driver_call_free(struct driver_call *d)
{
        free(d->arg);
        free(d);
}

static int link_track_driver_call(struct link *l, int64_t serial, enum driver_call_kind kind,
                                  const char *arg)
{
        if (serial < 0)
                return (int)serial;
        struct driver_call *d = calloc(1, sizeof(*d));
        if (!d || (arg && !(d->arg = strdup(arg)))) {
                free(d);
                return -ENOMEM;
        }
        d->serial = (uint64_t)serial;
        d->kind = kind;
        int r = hashmap_put(l->driver_calls, &d->serial, d);
        if (r < 0) {
                driver_call_free(d);
                return r;
        }
        link_mark_dirty(l);
        return 0;
}

/* ---- errors sent back to callers ---- */

/* An error reply for a call known by its caller and serial (one forwarded earlier), sent on main. */
static void reply_error_to(struct link *main, const char *caller, uint32_t serial, const char *name,
                           const char *text)
{
        struct message *e;
        if (!link_up(main) ||
            message_new_error(client_next_serial(main->c), serial, caller, NULL, name, text, &e) < 0)
                return;
        link_send(main, e);
        message_unref(e);
}

/* The same for call m, received on link from, sent back on from. */
_printf_(4, 5) static void reply_error(struct link *from, const struct message *m, const char *name,
                                       const char *fmt, ...)
{
        if (m->type != MESSAGE_METHOD_CALL || (m->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED) || !m->sender ||
            !link_up(from))
                return;
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        reply_error_to(from, m->sender, m->serial, name, text);
}

/* ---- links ---- */

/* The owner link a forwarded call came in on: its reply, or the error saying there is none, leaves there. */
static struct link *reply_link_for(struct bridge *br, const struct link *caller_link,
                                   const struct forwarded *f)
{
        struct hashmap *owners =
                caller_link->kind == LINK_IMPORT_CALLER ? br->import_owners : br->export_owner_links;
        return hashmap_get(owners, f->via);
}

static void forwarded_free(struct forwarded *f)
{
        free(f->via);
        free(f);
}

/* Close a link's connection. Calls it forwarded will never be answered: their callers learn it now. */
static void link_close(struct link *l, const char *why)
{
        struct bridge *br = l->br;
        if (l->calls) {
                struct hashmap_iter it;
                struct forwarded *f;
                HASHMAP_FOREACH(f, l->calls, it)
                {
                        struct link *via = reply_link_for(br, l, f);
                        if (via)
                                reply_error_to(via, l->caller, f->caller_serial, DBUS_ERROR_NO_REPLY, why);
                        hashmap_remove(l->calls, &f->serial);
                        forwarded_free(f);
                }
        }
        if (l->driver_calls) {
                struct hashmap_iter it;
                struct driver_call *d;
                HASHMAP_FOREACH(d, l->driver_calls, it)
                {
                        hashmap_remove(l->driver_calls, &d->serial);
                        driver_call_free(d);
                }
        }
        for (size_t i = 0; i < l->n_held; i++)
                message_unref(l->held[i]);
        free(l->held);
        l->held = NULL;
        l->n_held = 0;
        l->held_fds = false;
        l->creds_known = false;
        if (!list_unlinked(&l->lru_link))
                list_del(&l->lru_link);
        if (!list_unlinked(&l->flush_link))
                list_del(&l->flush_link);
        event_source_remove(br->loop, &l->source);
        l->c = client_free(l->c);
}

/* Closed now, freed after the current batch of events, which may still name it. */
static void caller_link_free(struct link *l)
{
        if (!l)
                return;
        link_close(l, "The bridge lost the connection that carried this call");
        list_add_tail(&l->br->dead_links, &l->flush_link);
}

static void bridge_free_dead_links(struct bridge *br)
{
        while (!list_empty(&br->dead_links)) {
                struct link *l = list_first_entry(&br->dead_links, struct link, flush_link);
                list_del(&l->flush_link);
                hashmap_free(l->calls);
                free(l->caller);
                free(l);
        }
}

static bool link_to_container(const struct link *l)
{
        return l->kind == LINK_CONTAINER || l->kind == LINK_EXPORT_CALLER || l->kind == LINK_IMPORT_OWNER;
}

/* Queued right behind Hello on every connection to the container bus: on host.sock the bridge's uid proves
 * nothing (container root has it too), the key does. nsbusd answers nothing else before it. */
static int64_t link_claim_bridge(struct link *l)
{
        const struct bridge_options *o = l->br->o;
        struct msg_builder b;
        container1_call_init(&b, client_next_serial(l->c), "ClaimBridge");
        msg_builder_open(&b, 'a', "y");
        for (size_t i = 0; i < o->bridge_key_len; i++)
                msg_builder_append_basic(&b, 'y', &o->bridge_key[i]);
        msg_builder_close(&b);
        struct message *m;
        int r = msg_builder_finish(&b, &m);
        if (r < 0)
                return r;
        uint32_t serial = m->serial;
        r = client_queue(l->c, m);
        message_unref(m);
        return r < 0 ? r : (int64_t)serial;
}

static int link_connect(struct link *l, const char *address)
{
        char err[256] = "";
        int r = client_connect(address, l->br->uid, &l->c, err, sizeof(err));
        if (r < 0) {
                if (l->kind == LINK_HOST || l->kind == LINK_CONTAINER)
                        log_debug("cannot connect to the %s: %s", link_what(l), err[0] ? err : strerror(-r));
                else
                        log_info("cannot connect to the %s: %s", link_what(l), err[0] ? err : strerror(-r));
                return r;
        }
        if (link_to_container(l) && l->br->o->bridge_key_len) {
                int64_t serial = link_claim_bridge(l);
                r = serial < 0 ? (int)serial
                    : l->kind == LINK_CONTAINER
                            ? link_track_driver_call(l, serial, CALL_LOG_ERROR, "ClaimBridge")
                            : 0;
                if (r < 0) {
                        l->c = client_free(l->c);
                        return r;
                }
        }
        r = link_watch(l, EPOLLIN);
        if (r < 0) {
                l->c = client_free(l->c);
                return r;
        }
        link_mark_dirty(l);
        return 0;
}

/* A caller or owner link standing for peer (a unique name on the other bus). */
static struct link *caller_link_new(struct bridge *br, enum link_kind kind, const char *peer)
{
        struct link *l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        list_init(&l->flush_link);
        list_init(&l->lru_link);
        l->source.fd = -1;
        l->br = br;
        l->kind = kind;
        l->caller = strdup(peer);
        l->calls = hashmap_new(&uint64_hash_ops);
        bool to_host = kind == LINK_IMPORT_CALLER || kind == LINK_EXPORT_OWNER;
        if (!l->caller || !l->calls ||
            link_connect(l, to_host ? br->o->host_address : br->o->container_address) < 0) {
                caller_link_free(l);
                return NULL;
        }
        return l;
}

/* The link that owns, on the other bus, the names that peer owns on this one; made when create is set and
 * the other bus is connected. */
static struct link *owner_link_get(struct bridge *br, enum link_kind kind, const char *peer, bool create)
{
        struct hashmap *owners = kind == LINK_IMPORT_OWNER ? br->import_owners : br->export_owner_links;
        struct link *l = hashmap_get(owners, peer);
        struct link *main = kind == LINK_IMPORT_OWNER ? &br->container : &br->host;
        if (l || !create || !link_up(main) || !main->c->unique_name)
                return l; /* made for every name once the main link is named (main_link_named) */
        l = caller_link_new(br, kind, peer);
        if (l && hashmap_put(owners, l->caller, l) < 0) {
                caller_link_free(l);
                l = NULL;
        }
        return l;
}

static void owner_link_own(struct link *l, const char *name, bool own)
{
        if (!l || !l->c)
                return;
        int64_t s = own ? client_call_driver(l->c, "RequestName", "su", name, NAME_FLAG_DO_NOT_QUEUE)
                        : client_call_driver(l->c, "ReleaseName", "s", name);
        if (s >= 0)
                link_mark_dirty(l);
}

/* An owner link whose peer owns none of the names any more goes; the peer leaves the other bus with it. */
static void owner_link_drop(struct bridge *br, enum link_kind kind, const char *peer)
{
        struct hashmap *owners = kind == LINK_IMPORT_OWNER ? br->import_owners : br->export_owner_links;
        caller_link_free(hashmap_remove(owners, peer));
}

/* ---- names ---- */

static int host_add_broadcast_match(struct bridge *br, struct host_name *hn, bool add)
{
        char rule[512];
        snprintf(rule, sizeof(rule), "type='signal',sender='%s'", hn->name);
        int64_t s = client_call_driver(br->host.c, add ? "AddMatch" : "RemoveMatch", "s", rule);
        hn->watched = add;
        return link_track_driver_call(&br->host, s, CALL_LOG_ERROR, add ? "AddMatch" : "RemoveMatch");
}

static void host_name_free(struct host_name *hn)
{
        free(hn->name);
        free(hn->owner);
        free(hn);
}

static bool import_peer_owns_names(struct bridge *br, const char *peer)
{
        struct hashmap_iter it;
        struct host_name *hn;
        HASHMAP_FOREACH(hn, br->host_names, it)
        if (streq(hn->owner, peer))
                return true;
        return false;
}

static bool export_peer_owns_names(struct bridge *br, const char *peer)
{
        for (size_t i = 0; i < bridge_policy_n_exports(br->policy); i++)
                if (br->export_owners[i] && streq(br->export_owners[i], peer))
                        return true;
        return false;
}

/* An imported name got an owner on the host bus (or lost it: ""). Inside, the owner link of the same host
 * peer owns it, so the container sees the same. */
static void host_name_set_owner(struct bridge *br, const char *name, const char *owner)
{
        struct host_name *hn = hashmap_get(br->host_names, name);
        if (hn && streq(hn->owner, owner))
                return;
        _cleanup_free_ char *old = NULL;
        if (hn) {
                old = TAKE_PTR(hn->owner);
                owner_link_own(owner_link_get(br, LINK_IMPORT_OWNER, old, false), name, false);
        }
        if (!owner[0]) {
                if (hn) {
                        log_debug("%s left the host bus", name);
                        hashmap_remove(br->host_names, name);
                        if (hn->watched && link_up(&br->host))
                                host_add_broadcast_match(br, hn, false);
                        host_name_free(hn); /* name may be hn->name */
                }
        } else {
                if (!hn) {
                        hn = calloc(1, sizeof(*hn));
                        if (!hn || !(hn->name = strdup(name)) ||
                            hashmap_put(br->host_names, hn->name, hn) < 0) {
                                if (hn)
                                        host_name_free(hn);
                                log_info("out of memory tracking %s", name);
                                return;
                        }
                        if (bridge_policy_import_level(br->policy, name) >= BRIDGE_LEVEL_FILTERED)
                                host_add_broadcast_match(br, hn, true);
                }
                hn->owner = strdup(owner);
                if (!hn->owner) {
                        hashmap_remove(br->host_names, name);
                        host_name_free(hn);
                        log_info("out of memory tracking %s", name);
                } else {
                        owner_link_own(owner_link_get(br, LINK_IMPORT_OWNER, owner, true), name, true);
                        log_debug("%s is on the host bus (%s): importing it", name, owner);
                }
        }
        if (old && !import_peer_owns_names(br, old))
                owner_link_drop(br, LINK_IMPORT_OWNER, old);
}

/* An exported name got an owner in the container (or lost it). On the host, the owner link of the same
 * container peer owns the renamed name. */
static void export_set_owner(struct bridge *br, size_t i, const char *owner)
{
        const struct bridge_export *e = bridge_policy_export(br->policy, i);
        if (streq_ptr(br->export_owners[i], owner[0] ? owner : NULL))
                return;
        _cleanup_free_ char *old = TAKE_PTR(br->export_owners[i]);
        if (old)
                owner_link_own(owner_link_get(br, LINK_EXPORT_OWNER, old, false), e->host_name, false);
        if (owner[0]) {
                br->export_owners[i] = strdup(owner);
                if (br->export_owners[i])
                        owner_link_own(owner_link_get(br, LINK_EXPORT_OWNER, owner, true), e->host_name,
                                       true);
        }
        log_debug("%s %s the container bus: %s %s on the host bus", e->container_name,
                  owner[0] ? "is on" : "left", owner[0] ? "exporting it as" : "withdrawing", e->host_name);
        if (old && !export_peer_owns_names(br, old))
                owner_link_drop(br, LINK_EXPORT_OWNER, old);
}

static void name_owner_changed(struct bridge *br, struct link *l, struct message *m)
{
        const char *name, *old, *new;
        if (message_read(m, "sss", &name, &old, &new) < 0)
                return;
        if (name[0] == ':') {
                if (new[0])
                        return;
                /* A caller left: its connection on the other bus goes too. */
                struct hashmap *callers = l->kind == LINK_HOST ? br->export_callers : br->import_callers;
                struct link *cl = hashmap_remove(callers, name);
                if (cl)
                        log_debug("caller %s left the %s", name, link_what(l));
                caller_link_free(cl);
                return;
        }
        if (l->kind == LINK_HOST) {
                if (bridge_policy_is_imported(br->policy, name))
                        host_name_set_owner(br, name, new);
        } else {
                for (size_t i = 0; i < bridge_policy_n_exports(br->policy); i++)
                        if (streq(bridge_policy_export(br->policy, i)->container_name, name))
                                export_set_owner(br, i, new);
        }
}

/* ---- import: container caller -> host service ---- */

static bool import_may_call(const struct bridge_policy *p, const char *name, const struct message *m)
{
        switch (bridge_policy_import_level(p, name)) {
        case BRIDGE_LEVEL_TALK:
                return true;
        case BRIDGE_LEVEL_FILTERED:
                return bridge_policy_may_call(p, name, m->interface, m->member, m->path);
        default:
                return false;
        }
}

/* Queue relay of call m on caller link cl, remembering where its reply goes (via: the owner link's peer). */
static int forward_call(struct link *cl, struct message *m, const char *dest, const char *via)
{
        uint32_t serial = client_next_serial(cl->c);
        struct message *out;
        int r = message_new_relay(m, serial, 0, dest, &out);
        if (r < 0)
                return r;
        if (!(m->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED)) {
                struct forwarded *f = calloc(1, sizeof(*f));
                if (!f || !(f->via = strdup(via))) {
                        free(f);
                        message_unref(out);
                        return -ENOMEM;
                }
                f->serial = serial;
                f->caller_serial = m->serial;
                if ((r = hashmap_put(cl->calls, &f->serial, f)) < 0) {
                        forwarded_free(f);
                        message_unref(out);
                        return r;
                }
        }
        if (cl->n_held || (cl->kind == LINK_EXPORT_CALLER && !cl->creds_known) ||
            (out->n_fds && !cl->c->authenticated)) {
                struct message **h = realloc(cl->held, (cl->n_held + 1) * sizeof(*h));
                if (!h) {
                        message_unref(out);
                        return -ENOMEM;
                }
                cl->held = h;
                cl->held[cl->n_held++] = out; /* the reference moves */
                cl->held_fds |= out->n_fds > 0;
                return 0;
        }
        r = link_send(cl, out);
        message_unref(out);
        return r;
}

/* Send what a link held once it may carry it (see struct link). A held call with fds that the bus turned
 * out not to pass fails with NotSupported for its caller, as it would have before the link existed. */
static void link_release_held(struct bridge *br, struct link *l)
{
        if (!l->n_held || !l->c || (l->kind == LINK_EXPORT_CALLER && !l->creds_known) ||
            (l->held_fds && !l->c->authenticated))
                return;
        struct message **held = TAKE_PTR(l->held);
        size_t n = l->n_held;
        l->n_held = 0;
        l->held_fds = false;
        for (size_t i = 0; i < n; i++) {
                struct message *m = held[i];
                struct forwarded *f = NULL;
                if (m->n_fds && !l->c->unix_fds) {
                        f = hashmap_remove(l->calls, &(uint64_t){m->serial});
                        struct link *via = f ? reply_link_for(br, l, f) : NULL;
                        if (via)
                                reply_error_to(via, l->caller, f->caller_serial, DBUS_ERROR_NOT_SUPPORTED,
                                               "The bus does not pass file descriptors");
                        if (f)
                                forwarded_free(f);
                } else
                        link_send(l, m);
                message_unref(m);
        }
        free(held);
}

/* The caller link for sender on the other bus, made on its first call. */
static bool link_idle(const struct link *l)
{
        return hashmap_size(l->calls) == 0 && l->n_held == 0 && (!l->c || io_out_empty(&l->c->out));
}

/*
 * Room for one more container caller's connection to the host bus. Each costs the host bus a connection
 * charged to the container's mapped root, so a container gets at most max_host_links of them: at the
 * bound, the least recently used idle one is closed (its caller gets a new one, with a new unique name on
 * the host, when it calls again). -EBUSY when every link has a call in flight.
 */
static int import_callers_make_room(struct bridge *br)
{
        if (hashmap_size(br->import_callers) < br->o->max_host_links)
                return 0;
        struct link *l;
        list_for_each_entry(l, &br->import_lru, lru_link)
        {
                if (!link_idle(l))
                        continue;
                log_debug("recycling the idle host connection of %s (%u in use)", l->caller,
                          br->o->max_host_links);
                hashmap_remove(br->import_callers, l->caller);
                caller_link_free(l);
                return 0;
        }
        return -EBUSY;
}

/* The caller link for sender on the other bus, made on its first call; NULL with *busy set when an import
 * caller's link cannot be had because all max_host_links are busy. */
static struct link *caller_link_for(struct bridge *br, enum link_kind kind, const char *sender,
                                    bool *created, bool *busy)
{
        struct hashmap *callers = kind == LINK_IMPORT_CALLER ? br->import_callers : br->export_callers;
        struct link *cl = hashmap_get(callers, sender);
        *created = *busy = false;
        if (!cl) {
                if (kind == LINK_IMPORT_CALLER && import_callers_make_room(br) < 0) {
                        *busy = true;
                        return NULL;
                }
                cl = caller_link_new(br, kind, sender);
                if (cl && hashmap_put(callers, cl->caller, cl) < 0) {
                        caller_link_free(cl);
                        cl = NULL;
                }
                *created = cl != NULL;
        }
        if (cl && kind == LINK_IMPORT_CALLER) {
                if (!list_unlinked(&cl->lru_link))
                        list_del(&cl->lru_link);
                list_add_tail(&br->import_lru, &cl->lru_link);
        }
        return cl;
}

/*
 * A container caller called owner link ol, which stands for host peer U. Called by a name, the call is
 * checked against that name's rules; called by ol's unique name (clients such as dbus-python bind proxies
 * to the unique name owning a name), it is permitted if a name U owns permits it, as xdg-dbus-proxy
 * decides for unique names.
 */
static void import_call(struct bridge *br, struct link *ol, struct message *m)
{
        const char *host_peer = ol->caller, *dest = m->destination;
        bool permitted = false;
        if (!dest || !m->sender)
                return;
        if (dest[0] == ':') {
                struct hashmap_iter it;
                struct host_name *hn;
                HASHMAP_FOREACH(hn, br->host_names, it)
                permitted = permitted ||
                            (streq(hn->owner, host_peer) && import_may_call(br->policy, hn->name, m));
                dest = host_peer;
        } else {
                const struct host_name *hn = hashmap_get(br->host_names, dest);
                if (!hn || !streq(hn->owner, host_peer)) {
                        reply_error(ol, m, DBUS_ERROR_SERVICE_UNKNOWN, "The name %s is not on the host bus",
                                    dest);
                        return;
                }
                permitted = import_may_call(br->policy, dest, m);
        }
        if (!permitted) {
                reply_error(ol, m, DBUS_ERROR_ACCESS_DENIED,
                            "The bridge policy does not permit calling %s%s%s at %s on %s",
                            m->interface ? m->interface : "", m->interface ? "." : "", m->member, m->path,
                            m->destination);
                return;
        }

        bool created, busy;
        struct link *cl = caller_link_for(br, LINK_IMPORT_CALLER, m->sender, &created, &busy);
        if (!cl && busy) {
                reply_error(ol, m, DBUS_ERROR_LIMITS_EXCEEDED,
                            "All %u of this container's connections to the host bus have calls in flight "
                            "(nsbridge --max-host-links); try again later",
                            br->o->max_host_links);
                return;
        }
        if (!cl) {
                reply_error(ol, m, DBUS_ERROR_DISCONNECTED,
                            "The bridge cannot connect to the host bus for this caller");
                return;
        }
        if (cl->c->out.n_bytes > LINK_MAX_QUEUED_BYTES) {
                reply_error(ol, m, DBUS_ERROR_LIMITS_EXCEEDED,
                            "The host bus is not taking this caller's messages");
                return;
        }
        if (m->n_fds && cl->c->authenticated && !cl->c->unix_fds) {
                reply_error(ol, m, DBUS_ERROR_NOT_SUPPORTED, "The host bus does not pass file descriptors");
                return;
        }
        int r = forward_call(cl, m, dest, host_peer);
        if (r < 0)
                reply_error(ol, m, DBUS_ERROR_NO_MEMORY, "Cannot forward the call: %s", strerror(-r));
}

/* A broadcast on the host bus: re-emitted in the container by the sender's owner link if the sender owns an
 * imported name whose rules permit it. */
static void import_broadcast(struct bridge *br, struct message *m)
{
        struct link *ol = m->sender ? owner_link_get(br, LINK_IMPORT_OWNER, m->sender, false) : NULL;
        if (!ol || !ol->c)
                return;
        struct hashmap_iter it;
        struct host_name *hn;
        HASHMAP_FOREACH(hn, br->host_names, it)
        {
                if (!streq(hn->owner, m->sender) ||
                    !bridge_policy_may_broadcast(br->policy, hn->name, m->interface, m->member, m->path))
                        continue;
                struct message *out;
                if (message_new_relay(m, client_next_serial(ol->c), 0, NULL, &out) < 0)
                        return;
                link_send(ol, out);
                message_unref(out);
                return;
        }
}

/* ---- export: host caller -> container service ---- */

/* A host caller called owner link ol, which stands for container peer V: by an exported host name, or by
 * ol's unique name. Either way the call goes to V's service in the container. */
static void export_call(struct bridge *br, struct link *ol, struct message *m)
{
        const struct bridge_policy *p = br->policy;
        const char *container_peer = ol->caller, *dest = NULL;
        if (!m->destination || !m->sender)
                return;
        if (m->destination[0] == ':')
                dest = container_peer;
        else {
                const struct bridge_export *e = bridge_policy_export_by_host_name(p, m->destination);
                size_t idx = e ? (size_t)(e - bridge_policy_export(p, 0)) : 0;
                if (e && streq_ptr(br->export_owners[idx], container_peer))
                        dest = e->container_name;
        }
        if (!dest) {
                reply_error(ol, m, DBUS_ERROR_SERVICE_UNKNOWN, "%s is not running in the container",
                            m->destination);
                return;
        }

        if (!link_up(&br->host)) {
                reply_error(ol, m, DBUS_ERROR_DISCONNECTED, "The bridge is reconnecting");
                return;
        }
        bool created, busy;
        struct link *cl = caller_link_for(br, LINK_EXPORT_CALLER, m->sender, &created, &busy);
        if (!cl) {
                reply_error(ol, m, DBUS_ERROR_DISCONNECTED,
                            "The bridge cannot connect to the container bus for this caller");
                return;
        }
        if (created) {
                /* Who the caller is decides what the container service is told; nothing is forwarded
                 * before the answer. */
                int64_t s = client_call_driver(br->host.c, "GetConnectionCredentials", "s", m->sender);
                if (link_track_driver_call(&br->host, s, CALL_GET_CREDS, m->sender) < 0) {
                        hashmap_remove(br->export_callers, cl->caller);
                        caller_link_free(cl);
                        reply_error(ol, m, DBUS_ERROR_NO_MEMORY, "Out of memory");
                        return;
                }
        }
        if (cl->c->out.n_bytes > LINK_MAX_QUEUED_BYTES) {
                reply_error(ol, m, DBUS_ERROR_LIMITS_EXCEEDED,
                            "The container bus is not taking this caller's messages");
                return;
        }
        int r = forward_call(cl, m, dest, container_peer);
        if (r < 0)
                reply_error(ol, m, DBUS_ERROR_NO_MEMORY, "Cannot forward the call: %s", strerror(-r));
}

/* The host bus said who the caller of an export link is: tell nsbusd, then release the held calls. */
static void export_link_set_creds(struct bridge *br, const char *caller, struct message *reply)
{
        struct link *cl = hashmap_get(br->export_callers, caller);
        if (!cl || !cl->c)
                return;
        if (reply->type == MESSAGE_ERROR) {
                /* The caller is gone already; so is every reason to forward its calls. */
                hashmap_remove(br->export_callers, caller);
                caller_link_free(cl);
                return;
        }

        struct msg_builder b;
        container1_call_init(&b, client_next_serial(cl->c), "SetProxiedCredentials");
        msg_builder_open(&b, 'a', "{sv}");

        struct msg_reader r;
        msg_reader_init(&r, reply);
        bool ok = msg_reader_enter(&r, 'a', "{sv}") >= 0;
        while (ok && msg_reader_peek(&r)) {
                const char *key;
                uint32_t v;
                if (msg_reader_enter(&r, '{', "sv") < 0 || msg_reader_read_basic(&r, 's', &key) < 0) {
                        ok = false;
                        break;
                }
                if ((streq(key, "UnixUserID") || streq(key, "ProcessID")) &&
                    msg_reader_enter(&r, 'v', "u") >= 0) {
                        if (msg_reader_read_basic(&r, 'u', &v) < 0)
                                ok = false;
                        else
                                msg_builder_append_entry(&b, key, 'u', &v);
                        msg_reader_exit(&r);
                } else if (streq(key, "UnixGroupIDs") && msg_reader_enter(&r, 'v', "au") >= 0) {
                        const char *k = key;
                        msg_builder_open(&b, '{', "sv");
                        msg_builder_append_basic(&b, 's', &k);
                        msg_builder_open(&b, 'v', "au");
                        msg_builder_open(&b, 'a', "u");
                        if (msg_reader_enter(&r, 'a', "u") >= 0) {
                                while (msg_reader_peek(&r) && msg_reader_read_basic(&r, 'u', &v) >= 0)
                                        msg_builder_append_basic(&b, 'u', &v);
                                msg_reader_exit(&r);
                        }
                        msg_builder_close(&b);
                        msg_builder_close(&b);
                        msg_builder_close(&b);
                        msg_reader_exit(&r);
                } else if (msg_reader_skip(&r) < 0)
                        ok = false;
                if (msg_reader_exit(&r) < 0)
                        ok = false;
        }
        /* Whom this connection speaks for, for admins (Container1.GetPeerInfo, nsbusctl creds). */
        msg_builder_append_entry(&b, "HostUniqueName", 's', &caller);
        msg_builder_close(&b);

        struct message *call;
        if (!ok || msg_builder_finish(&b, &call) < 0) {
                if (ok)
                        log_info("out of memory describing %s", caller);
                else {
                        msg_builder_done(&b);
                        log_info("the host bus sent unreadable credentials for %s", caller);
                }
                hashmap_remove(br->export_callers, caller);
                caller_link_free(cl);
                return;
        }
        cl->creds_serial = call->serial;
        link_send(cl, call);
        message_unref(call);

        cl->creds_known = true;
        link_release_held(br, cl);
}

/* A broadcast in the container from the owner of an exported name: the host sees it from that owner's link,
 * which owns the renamed name. */
static void export_broadcast(struct bridge *br, struct message *m)
{
        struct link *ol = m->sender ? owner_link_get(br, LINK_EXPORT_OWNER, m->sender, false) : NULL;
        if (!ol || !ol->c)
                return;
        struct message *out;
        if (message_new_relay(m, client_next_serial(ol->c), 0, NULL, &out) < 0)
                return;
        link_send(ol, out);
        message_unref(out);
}

/* ---- main links coming up and going down ---- */

static void bridge_check_ready(struct bridge *br)
{
        if (br->ready_logged || !link_up(&br->host) || !br->host.c->unique_name ||
            !link_up(&br->container) || !br->container.c->unique_name)
                return;
        br->ready_logged = true;
        log_info("ready: host bus as %s, container bus as %s", br->host.c->unique_name,
                 br->container.c->unique_name);
}

static const char name_owner_changed_rule[] =
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged'";

static const char policy_changed_rule[] =
        "type='signal',sender='org.freedesktop.DBus',interface='" CONTAINER1_INTERFACE "',"
        "member='BridgePolicyChanged'";

static void bridge_ask_policy(struct bridge *br);

/* Follow an exported name on the container bus: its signals, and who owns it now (or stop following). */
static int export_watch(struct bridge *br, const char *name, bool watch)
{
        struct link *l = &br->container;
        char rule[512];
        snprintf(rule, sizeof(rule), "type='signal',sender='%s'", name);
        int r = link_track_driver_call(
                l, client_call_driver(l->c, watch ? "AddMatch" : "RemoveMatch", "s", rule), CALL_LOG_ERROR,
                watch ? "AddMatch" : "RemoveMatch");
        if (r >= 0 && watch)
                r = link_track_driver_call(l, client_call_driver(l->c, "GetNameOwner", "s", name),
                                           CALL_GET_NAME_OWNER, name);
        return r;
}

/* Queued right behind Hello: everything a fresh main link must learn and announce. */
static int main_link_start(struct bridge *br, struct link *l)
{
        const struct bridge_policy *p = br->policy;
        int r = link_track_driver_call(l, client_call_driver(l->c, "AddMatch", "s", name_owner_changed_rule),
                                       CALL_LOG_ERROR, "AddMatch");
        if (r < 0)
                return r;
        if (l->kind == LINK_HOST)
                return link_track_driver_call(l, client_call_driver(l->c, "ListNames", ""), CALL_LIST_NAMES,
                                              NULL);

        if ((r = link_track_driver_call(l, client_call_driver(l->c, "AddMatch", "s", policy_changed_rule),
                                        CALL_LOG_ERROR, "AddMatch")) < 0)
                return r;
        /* A reload while the link was down (or between the bootstrap and now) sent its signal to nobody. */
        if (br->o->policy_from_bus)
                bridge_ask_policy(br);
        for (size_t i = 0; i < bridge_policy_n_exports(p); i++)
                if ((r = export_watch(br, bridge_policy_export(p, i)->container_name, true)) < 0)
                        return r;
        return 0;
}

/* Hello answered: names known from the other side can be announced on this one. */
static void main_link_named(struct bridge *br, struct link *l)
{
        l->backoff_ms = 0;
        log_info("connected to the %s as %s", link_what(l), l->c->unique_name);
        if (l->kind == LINK_CONTAINER) {
                struct hashmap_iter it;
                struct host_name *hn;
                HASHMAP_FOREACH(hn, br->host_names, it)
                owner_link_own(owner_link_get(br, LINK_IMPORT_OWNER, hn->owner, true), hn->name, true);
        } else {
                const struct bridge_policy *p = br->policy;
                for (size_t i = 0; i < bridge_policy_n_exports(p); i++)
                        if (br->export_owners[i])
                                owner_link_own(
                                        owner_link_get(br, LINK_EXPORT_OWNER, br->export_owners[i], true),
                                        bridge_policy_export(p, i)->host_name, true);
        }
        bridge_check_ready(br);
}

/* The timer fires at the earliest reconnection due. */
static void bridge_arm_timer(struct bridge *br)
{
        uint64_t next = 0;
        if (br->host.retry_at_usec)
                next = br->host.retry_at_usec;
        if (br->container.retry_at_usec && (!next || br->container.retry_at_usec < next))
                next = br->container.retry_at_usec;
        if (next)
                event_timer_arm(br->loop, &br->reconnect, next);
        else
                event_timer_disarm(&br->reconnect);
}

static void schedule_reconnect(struct bridge *br, struct link *l)
{
        l->backoff_ms = l->backoff_ms ? MIN(l->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
        l->retry_at_usec = now_usec() + (uint64_t)l->backoff_ms * 1000u;
        bridge_arm_timer(br);
}

static bool container_init_exited(const struct bridge *br)
{
        struct pollfd p = {.fd = br->o->init_pidfd, .events = POLLIN};
        return br->o->init_pidfd >= 0 && poll(&p, 1, 0) > 0;
}

static void main_link_try_connect(struct bridge *br, struct link *l)
{
        l->retry_at_usec = 0;
        const char *address = l->kind == LINK_HOST ? br->o->host_address : br->o->container_address;
        int r = link_connect(l, address);
        if (l->kind == LINK_CONTAINER && (r == -ECONNREFUSED || r == -ENOENT)) {
                /* Nothing listens there any more: the container's bus has ended. A new one has a new socket
                 * and a new bridge key, so it needs a new bridge; retrying here would never succeed. */
                if (container_init_exited(br)) {
                        log_info("the container's init exited: exiting");
                        br->exit_code = 0;
                } else {
                        log_info("the container bus is gone (%s): exiting; a new bus needs a new bridge",
                                 strerror(-r));
                        br->exit_code = 1;
                }
                return;
        }
        if (r < 0 || main_link_start(br, l) < 0) {
                if (l->c) {
                        event_source_remove(br->loop, &l->source);
                        l->c = client_free(l->c); /* main_link_start failed: out of memory */
                        if (!list_unlinked(&l->flush_link))
                                list_del(&l->flush_link);
                }
                schedule_reconnect(br, l);
        }
}

static void close_all_callers(struct hashmap *callers, const char *why)
{
        struct hashmap_iter it;
        struct link *cl;
        HASHMAP_FOREACH(cl, callers, it)
        {
                hashmap_remove(callers, cl->caller);
                link_close(cl, why);
                list_add_tail(&cl->br->dead_links, &cl->flush_link);
        }
}

/* A main link died: what was learnt through it is forgotten and undone on the other side. */
static void main_link_lost(struct bridge *br, struct link *l, const char *why)
{
        log_info("lost the %s: %s; reconnecting", link_what(l), why);
        link_close(l, why);

        /* Calls in flight cannot be answered any more (their callers learn it first, while the links
         * they called still exist); then every peer that stood for the other side goes. Inside, the
         * host services disappear when the host bus does; on the host, the exported names when the
         * container bus does. */
        const char *gone = l->kind == LINK_HOST ? "The host bus went away" : "The container bus went away";
        close_all_callers(br->import_callers, gone);
        close_all_callers(br->export_callers, gone);
        close_all_callers(br->import_owners, gone);
        close_all_callers(br->export_owner_links, gone);
        if (l->kind == LINK_HOST) {
                struct hashmap_iter it;
                struct host_name *hn;
                HASHMAP_FOREACH(hn, br->host_names, it)
                {
                        hashmap_remove(br->host_names, hn->name);
                        host_name_free(hn);
                }
        } else {
                for (size_t i = 0; i < bridge_policy_n_exports(br->policy); i++) {
                        free(br->export_owners[i]);
                        br->export_owners[i] = NULL;
                }
        }
        schedule_reconnect(br, l);
}

/* ---- policy reload ---- */

static void bridge_ask_policy(struct bridge *br)
{
        struct link *l = &br->container;
        struct msg_builder b;
        container1_call_init(&b, client_next_serial(l->c), "GetBridgePolicy");
        struct message *call = NULL;
        if (msg_builder_finish(&b, &call) < 0 || client_queue(l->c, call) < 0 ||
            link_track_driver_call(l, (int64_t)call->serial, CALL_GET_POLICY, NULL) < 0)
                log_error("out of memory asking the container bus for the new bridge policy");
        else
                link_mark_dirty(l);
        message_unref(call);
}

static ssize_t export_index(const struct bridge_policy *p, const struct bridge_export *e)
{
        for (size_t i = 0; i < bridge_policy_n_exports(p); i++) {
                const struct bridge_export *f = bridge_policy_export(p, i);
                if (streq(f->container_name, e->container_name) && streq(f->host_name, e->host_name))
                        return (ssize_t)i;
        }
        return -1;
}

/*
 * Put policy p in force (the bridge takes it) without dropping a connection: what it no longer permits is
 * withdrawn as if its owner had left (imported names released inside, exported ones on the host), what it
 * newly permits is looked up as at start, and what both permit stays as it is. Calls are checked against
 * p from now on; those already forwarded get their replies.
 */
static void bridge_set_policy(struct bridge *br, struct bridge_policy *p)
{
        size_t n_old = bridge_policy_n_exports(br->policy), n_new = bridge_policy_n_exports(p);
        char **owners = calloc(n_new + 1, sizeof(char *));
        ssize_t *old_of =
                calloc(n_new + 1, sizeof(ssize_t)); /* new export j was old export old_of[j], or -1 */
        if (!owners || !old_of) {
                free(owners);
                free(old_of);
                bridge_policy_free(p);
                log_error("out of memory switching to the new bridge policy; keeping the one in force");
                return;
        }
        struct hashmap_iter it;
        struct host_name *hn;
        HASHMAP_FOREACH(hn, br->host_names, it)
        {
                if (!bridge_policy_is_imported(p, hn->name))
                        host_name_set_owner(br, hn->name, "");
                else if ((bridge_policy_import_level(p, hn->name) >= BRIDGE_LEVEL_FILTERED) != hn->watched &&
                         link_up(&br->host))
                        host_add_broadcast_match(br, hn, !hn->watched);
        }
        /* Withdraw what goes first, while every owner the old policy knows is still in export_owners: a peer
         * that owns a kept export too keeps its owner link. Then carry the kept owners over. */
        for (size_t j = 0; j < n_new; j++)
                old_of[j] = -1;
        for (size_t i = 0; i < n_old; i++) {
                const struct bridge_export *e = bridge_policy_export(br->policy, i);
                ssize_t j = export_index(p, e);
                if (j >= 0) {
                        old_of[j] = (ssize_t)i;
                        continue;
                }
                export_set_owner(br, i, "");
                if (link_up(&br->container))
                        export_watch(br, e->container_name, false);
        }
        for (size_t j = 0; j < n_new; j++)
                if (old_of[j] >= 0)
                        owners[j] = TAKE_PTR(br->export_owners[old_of[j]]);
        for (size_t i = 0; i < n_old; i++)
                free(br->export_owners[i]);
        free(br->export_owners);
        br->export_owners = owners;
        bridge_policy_free(br->policy);
        br->policy = p;

        if (link_up(&br->host))
                link_track_driver_call(&br->host, client_call_driver(br->host.c, "ListNames", ""),
                                       CALL_LIST_NAMES, NULL);
        for (size_t j = 0; j < n_new; j++)
                if (old_of[j] < 0 && link_up(&br->container))
                        export_watch(br, bridge_policy_export(p, j)->container_name, true);
        free(old_of);
        log_info("bridge policy changed: %zu imported names, %zu exports", bridge_policy_n_imports(p),
                 n_new);
}

int bridge_policy_from_reply(struct message *m, struct bridge_policy **ret, char *err, size_t errlen)
{
        if (m->type == MESSAGE_ERROR) {
                const char *text = "";
                message_read(m, "s", &text);
                snprintf(err, errlen, "GetBridgePolicy failed: %s: %s", m->error_name, text);
                return -EACCES;
        }
        struct msg_reader rd;
        const char *file;
        _cleanup_free_ char *text = NULL;
        size_t len = 0, allocated = 0;
        msg_reader_init(&rd, m);
        int r = -EBADMSG;
        if (streq(m->signature, "say") && msg_reader_read_basic(&rd, 's', &file) >= 0 &&
            msg_reader_enter(&rd, 'a', "y") >= 0)
                for (r = 0; r >= 0 && msg_reader_peek(&rd);) {
                        r = GREEDY_REALLOC(text, allocated, len + 1);
                        if (r >= 0 && (r = msg_reader_read_basic(&rd, 'y', &text[len])) >= 0)
                                len++;
                }
        if (r < 0) {
                snprintf(err, errlen, "%s",
                         r == -ENOMEM ? "out of memory" : "its reply to GetBridgePolicy is unreadable");
                return r;
        }
        return bridge_policy_parse(text ? text : "", len, file, ret, err, errlen);
}

/* ---- messages ---- */

static void handle_driver_reply(struct bridge *br, struct link *l, struct message *m)
{
        struct driver_call *d = hashmap_remove(l->driver_calls, &(uint64_t){m->reply_serial});
        if (!d)
                return;
        switch (d->kind) {
        case CALL_LOG_ERROR:
                if (m->type == MESSAGE_ERROR) {
                        const char *text = "";
                        message_read(m, "s", &text);
                        log_info("%s (%s) on the %s failed: %s: %s", d->arg ? d->arg : "call", "driver",
                                 link_what(l), m->error_name, text);
                }
                break;
        case CALL_LIST_NAMES: {
                char **names = NULL;
                if (m->type == MESSAGE_METHOD_RETURN && message_read(m, "as", &names) >= 0) {
                        for (char **n = names; *n; n++)
                                if (**n != ':' && bridge_policy_is_imported(br->policy, *n))
                                        link_track_driver_call(
                                                l, client_call_driver(l->c, "GetNameOwner", "s", *n),
                                                CALL_GET_NAME_OWNER, *n);
                }
                free(names);
                break;
        }
        case CALL_GET_NAME_OWNER: {
                const char *owner = "";
                if (m->type == MESSAGE_METHOD_RETURN && message_read(m, "s", &owner) < 0)
                        owner = "";
                /* Asked under a policy that a reload may have replaced since. */
                if (l->kind == LINK_HOST) {
                        if (!owner[0] || bridge_policy_is_imported(br->policy, d->arg))
                                host_name_set_owner(br, d->arg, owner);
                } else
                        for (size_t i = 0; i < bridge_policy_n_exports(br->policy); i++)
                                if (streq(bridge_policy_export(br->policy, i)->container_name, d->arg))
                                        export_set_owner(br, i, owner);
                break;
        }
        case CALL_GET_CREDS:
                export_link_set_creds(br, d->arg, m);
                break;
        case CALL_GET_POLICY: {
                char err[512];
                struct bridge_policy *p;
                if (bridge_policy_from_reply(m, &p, err, sizeof(err)) < 0)
                        log_error("the container bus changed the bridge policy, but %s; keeping the one in "
                                  "force",
                                  err);
                else
                        bridge_set_policy(br, p);
                break;
        }
        }
        driver_call_free(d);
}

static void handle_main_message(struct bridge *br, struct link *l, struct message *m)
{
        switch (m->type) {
        case MESSAGE_METHOD_CALL:
                reply_error(l, m, DBUS_ERROR_ACCESS_DENIED,
                            "This is nsbridge's own connection; it has no methods");
                return;
        case MESSAGE_METHOD_RETURN:
        case MESSAGE_ERROR:
                if (streq_ptr(m->sender, DRIVER_NAME))
                        handle_driver_reply(br, l, m);
                return;
        case MESSAGE_SIGNAL:
                if (streq_ptr(m->sender, DRIVER_NAME)) {
                        if (streq_ptr(m->member, "NameOwnerChanged") &&
                            streq_ptr(m->interface, DRIVER_INTERFACE))
                                name_owner_changed(br, l, m);
                        else if (l->kind == LINK_CONTAINER && streq_ptr(m->member, "BridgePolicyChanged") &&
                                 streq_ptr(m->interface, CONTAINER1_INTERFACE))
                                bridge_ask_policy(br);
                        return;
                }
                if (m->destination)
                        return; /* unicast signals to the bridge itself mean nothing */
                if (l->kind == LINK_HOST)
                        import_broadcast(br, m);
                else
                        export_broadcast(br, m);
                return;
        }
}

/* An owner link takes the calls for the peer it stands for; its own driver calls only matter if they fail.
 */
static void handle_owner_message(struct bridge *br, struct link *l, struct message *m)
{
        if (m->type == MESSAGE_METHOD_CALL) {
                if (l->kind == LINK_IMPORT_OWNER)
                        import_call(br, l, m);
                else
                        export_call(br, l, m);
        } else if (m->type == MESSAGE_ERROR && streq_ptr(m->sender, DRIVER_NAME)) {
                const char *text = "";
                message_read(m, "s", &text);
                log_info("the %s refused a name for %s: %s: %s", link_what(l), l->caller, m->error_name,
                         text);
        }
}

/* A caller link carries replies back; anything the other bus sends it unbidden is refused. */
static void handle_caller_message(struct bridge *br, struct link *l, struct message *m)
{
        if (m->type == MESSAGE_METHOD_CALL) {
                reply_error(l, m, DBUS_ERROR_ACCESS_DENIED,
                            "nsbridge does not forward calls back to the caller it represents");
                return;
        }
        if (m->type != MESSAGE_METHOD_RETURN && m->type != MESSAGE_ERROR)
                return;
        if (l->kind == LINK_EXPORT_CALLER && m->reply_serial == l->creds_serial &&
            streq_ptr(m->sender, DRIVER_NAME)) {
                if (m->type == MESSAGE_ERROR) {
                        const char *text = "";
                        message_read(m, "s", &text);
                        log_info("nsbusd refused the credentials of %s: %s: %s", l->caller, m->error_name,
                                 text);
                        link_close(l, "The container bus refused the caller's credentials");
                }
                return;
        }
        struct forwarded *f = hashmap_remove(l->calls, &(uint64_t){m->reply_serial});
        if (!f)
                return;
        /* The reply leaves through the link the caller called: the bus expects it from there. */
        struct link *via = reply_link_for(br, l, f);
        if (via && via->c) {
                struct message *out;
                if (message_new_relay(m, client_next_serial(via->c), f->caller_serial, l->caller, &out) >=
                    0) {
                        link_send(via, out);
                        message_unref(out);
                }
        }
        forwarded_free(f);
}

static void link_fail(struct bridge *br, struct link *l, int r)
{
        char buf[512];
        const char *why = buf;
        if (r == -ECONNRESET)
                why = "the bus closed the connection";
        else if (r == -EACCES)
                why = "the bus refused the connection";
        else if (error_is_invalid_message(r))
                snprintf(buf, sizeof(buf), "the bus sent an invalid message: %s", error_text(r));
        else if (r == -EBADMSG || r == -EPROTO)
                why = "the bus broke the protocol";
        else
                why = strerror(-r);
        if (l->kind == LINK_HOST && !br->o->uid_in_userdb && (r == -ECONNRESET || r == -EACCES) && l->c &&
            l->c->authenticated && !l->c->unique_name) {
                /* dbus-daemon (the system bus of most distributions) ends the connection of a uid its user
                 * database cannot name right after BEGIN. Retrying cannot help; the admin can. */
                log_error(
                        "the host bus refused uid %u: it %s after authentication, before Hello, which is "
                        "what dbus-daemon does to a uid the user database does not know, and uid %u has "
                        "no entry in it. Fix: add one, e.g. `useradd --system --no-create-home --home-dir "
                        "/nonexistent --shell /usr/sbin/nologin --uid %u --gid nogroup nsbus-%u` (nsbusctl "
                        "up does this), then start the bridge again (`nsbusctl reload NAME` does)",
                        (unsigned)br->uid, why + strlen("the bus "), (unsigned)br->uid, (unsigned)br->uid,
                        (unsigned)br->uid);
                link_close(l, why);
                br->exit_code = BRIDGE_EXIT_HOST_REFUSED;
                return;
        }
        if (l->kind == LINK_HOST || l->kind == LINK_CONTAINER) {
                main_link_lost(br, l, why);
                return;
        }
        log_info("connection for %s to the %s ended: %s", l->caller, link_what(l), why);
        struct hashmap *maps[] = {
                [LINK_IMPORT_CALLER] = br->import_callers,
                [LINK_EXPORT_CALLER] = br->export_callers,
                [LINK_IMPORT_OWNER] = br->import_owners,
                [LINK_EXPORT_OWNER] = br->export_owner_links,
        };
        hashmap_remove(maps[l->kind], l->caller);
        caller_link_free(l);
}

static void link_handle_input(struct bridge *br, struct link *l)
{
        bool first = true;
        for (;;) {
                struct message *m = NULL;
                bool had_name = l->c->unique_name != NULL, had_auth = l->c->authenticated;
                int r = client_receive(l->c, &br->scratch, first, &m);
                first = false;
                if (r < 0) {
                        link_fail(br, l, r);
                        return;
                }
                if (!had_auth && l->c->authenticated)
                        link_release_held(br, l);
                if (!had_name && l->c->unique_name && (l->kind == LINK_HOST || l->kind == LINK_CONTAINER))
                        main_link_named(br, l);
                if (r == 0)
                        return;
                if (l->kind == LINK_HOST || l->kind == LINK_CONTAINER)
                        handle_main_message(br, l, m);
                else if (l->kind == LINK_IMPORT_OWNER || l->kind == LINK_EXPORT_OWNER)
                        handle_owner_message(br, l, m);
                else
                        handle_caller_message(br, l, m);
                message_unref(m);
                if (!l->c)
                        return; /* closed while handling */
        }
}

static void bridge_flush(struct bridge *br)
{
        while (!list_empty(&br->flush_list)) {
                struct link *l = list_first_entry(&br->flush_list, struct link, flush_link);
                list_del(&l->flush_link);
                if (!l->c)
                        continue;
                int r = client_flush(l->c);
                if (r < 0 && r != -EAGAIN) {
                        link_fail(br, l, r);
                        continue;
                }
                link_watch(l, EPOLLIN | (client_wants_write(l->c) ? EPOLLOUT : 0));
        }
}

static void link_io(struct event_source *s, uint32_t events)
{
        struct link *l = container_of(s, struct link, source);
        if (events & EPOLLOUT)
                link_mark_dirty(l);
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                link_handle_input(l->br, l);
        /* A caller link may have been closed in there (and its source removed): nothing touches it after.
         * It is freed from the prepare hook. */
}

static void bridge_reconnect_fire(struct event_timer *t, uint64_t now)
{
        struct bridge *br = container_of(t, struct bridge, reconnect);
        struct link *links[] = {&br->host, &br->container};
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (links[i]->retry_at_usec && links[i]->retry_at_usec <= now + 1000)
                        main_link_try_connect(br, links[i]);
        bridge_arm_timer(br); /* for a link whose turn has not come yet */
}

static void bridge_signals_io(struct event_source *s, uint32_t events)
{
        struct bridge *br = container_of(s, struct bridge, signals);
        struct signalfd_siginfo si;
        while (event_signal_read(s, &si) > 0) {
                log_info("signal %u: exiting", si.ssi_signo);
                br->exit_code = 0;
        }
}

static void bridge_init_io(struct event_source *s, uint32_t events)
{
        struct bridge *br = container_of(s, struct bridge, init);
        log_info("the container's init exited: exiting");
        event_source_remove(br->loop, s);
        br->exit_code = 0;
}

/* Before every wait: write what the last turn queued, then free the caller links it closed. */
static bool bridge_prepare(struct event_loop *loop, void *userdata)
{
        struct bridge *br = userdata;
        bridge_flush(br);
        bridge_free_dead_links(br);
        return br->exit_code < 0;
}

int bridge_run(struct bridge *br)
{
        main_link_try_connect(br, &br->container);
        main_link_try_connect(br, &br->host);
        int r = event_loop_run(br->loop);
        if (r < 0) {
                log_info("the event loop failed: %s", strerror(-r));
                return 1;
        }
        return br->exit_code;
}

int bridge_new(const struct bridge_options *o, struct bridge **ret)
{
        struct bridge *br = calloc(1, sizeof(*br));
        if (!br) {
                bridge_policy_free(o->policy);
                return -ENOMEM;
        }
        br->o = o;
        br->exit_code = -1;
        br->scratch = io_scratch_owned(IO_SCRATCH_SIZE);
        br->uid = geteuid();
        list_init(&br->flush_list);
        list_init(&br->dead_links);
        list_init(&br->import_lru);
        struct link *mains[] = {&br->host, &br->container};
        for (size_t i = 0; i < ELEMENTSOF(mains); i++) {
                list_init(&mains[i]->lru_link);
                mains[i]->source.fd = -1;
                mains[i]->br = br;
                mains[i]->kind = i == 0 ? LINK_HOST : LINK_CONTAINER;
                list_init(&mains[i]->flush_link);
                mains[i]->driver_calls = hashmap_new(&uint64_hash_ops);
        }
        br->import_callers = hashmap_new(&string_hash_ops);
        br->export_callers = hashmap_new(&string_hash_ops);
        br->host_names = hashmap_new(&string_hash_ops);
        br->import_owners = hashmap_new(&string_hash_ops);
        br->export_owner_links = hashmap_new(&string_hash_ops);
        br->policy = o->policy;
        br->export_owners = calloc(bridge_policy_n_exports(br->policy) + 1, sizeof(char *));
        event_timer_init(&br->reconnect, bridge_reconnect_fire);
        br->signals.fd = br->init.fd = -1;

        /* Everything the loop needs is made here, before the sandbox, which has no syscall to make it. */
        static const int signals[] = {SIGTERM, SIGINT};
        int r = -ENOMEM;
        if (br->host.driver_calls && br->container.driver_calls && br->import_callers &&
            br->export_callers && br->host_names && br->import_owners && br->export_owner_links &&
            br->export_owners)
                r = event_loop_new(&br->loop);
        if (r >= 0)
                r = event_signals_add(br->loop, &br->signals, signals, ELEMENTSOF(signals),
                                      bridge_signals_io);
        if (r >= 0 && o->init_pidfd >= 0)
                r = event_source_add(br->loop, &br->init, o->init_pidfd, EPOLLIN, bridge_init_io);
        if (r >= 0)
                event_loop_set_prepare(br->loop, bridge_prepare, br);
        if (r < 0) {
                bridge_free(br);
                return r;
        }
        *ret = br;
        return 0;
}

void bridge_free(struct bridge *br)
{
        if (!br)
                return;
        struct hashmap *maps[] = {br->import_callers, br->export_callers, br->import_owners,
                                  br->export_owner_links};
        for (size_t i = 0; i < ELEMENTSOF(maps); i++)
                if (maps[i])
                        close_all_callers(maps[i], "The bridge is exiting");
        bridge_free_dead_links(br);
        hashmap_free(br->import_owners);
        hashmap_free(br->export_owner_links);
        hashmap_free(br->import_callers);
        hashmap_free(br->export_callers);
        struct link *mains[] = {&br->host, &br->container};
        for (size_t i = 0; i < ELEMENTSOF(mains); i++) {
                link_close(mains[i], "The bridge is exiting");
                hashmap_free(mains[i]->driver_calls);
        }
        if (br->host_names) {
                struct hashmap_iter it;
                struct host_name *hn;
                HASHMAP_FOREACH(hn, br->host_names, it)
                {
                        hashmap_remove(br->host_names, hn->name);
                        host_name_free(hn);
                }
                hashmap_free(br->host_names);
        }
        if (br->export_owners)
                for (size_t i = 0; i < bridge_policy_n_exports(br->policy); i++)
                        free(br->export_owners[i]);
        free(br->export_owners);
        bridge_policy_free(br->policy);
        event_loop_free(br->loop);
        io_scratch_done(&br->scratch);
        free(br);
}
