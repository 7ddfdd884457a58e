/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Glue between the bus and policy/: translate peers and messages into the
 * policy module's plain structs. A peer's names are gathered only when a
 * check needs them, into a small stack array in the common case.
 */
#include "policy-check.h"
#include "names.h"

/* Groups beyond this many are not consulted by policy; dbus-daemon has a similar cap (NGROUPS_MAX). */
#define NGROUPS_MAX_SMALL 256

static void subject_of(const struct peer *p, struct policy_subject *s, gid_t *buf, size_t buf_n)
{
        size_t n = 0;
        /* The groups in SO_PEERGROUPS's order, as dbus-daemon takes them, and the primary group first when
         * that list lacks it; never one twice (its rules would be counted twice in an error message, and a
         * view would not see that one rule decides, bus_policy_view_new()). */
        bool listed = false;
        for (size_t i = 0; i < p->creds.n_groups && i < buf_n && !listed; i++)
                listed = p->creds.groups[i] == p->creds.gid;
        if (!listed)
                buf[n++] = p->creds.gid;
        for (size_t i = 0; i < p->creds.n_groups && n < buf_n; i++)
                buf[n++] = p->creds.groups[i];
        *s = (struct policy_subject){
                .uid = p->creds.uid,
                .gids = buf,
                .n_gids = n,
                .at_console = false,
                /* Only a container bus has two kinds of listener; elsewhere only origin-less rules apply. */
                .origin = p->origin == ORIGIN_HOST ? POLICY_ORIGIN_HOST
                          : p->bus->container      ? POLICY_ORIGIN_CONTAINER
                                                   : POLICY_ORIGIN_ANY,
        };
}

int policy_peer_attach(struct bus *b, struct peer *p)
{
        gid_t gids[NGROUPS_MAX_SMALL];
        struct policy_subject s;
        subject_of(p, &s, gids, ELEMENTSOF(gids));
        return bus_policy_view_new(b->policy, &s, &p->policy_view);
}

void policy_peer_detach(struct peer *p)
{
        p->policy_view = bus_policy_view_unref(p->policy_view);
}

bool policy_check_connect(struct bus *b, struct peer *p)
{
        gid_t gids[NGROUPS_MAX_SMALL];
        struct policy_subject s;
        subject_of(p, &s, gids, ELEMENTSOF(gids));
        return bus_policy_check_connect(b->policy, &s);
}

bool policy_check_own(struct bus *b, struct peer *p, const char *name)
{
        return p->policy_view && bus_policy_view_check_own(p->policy_view, name);
}

/* Names a peer holds, primary or queued; heap only past the stack array. */
struct names_buf {
        const char *stack[16];
        const char **v;
        size_t n;
};

/* Listed only when the view's rules can look at them (wanted); false when memory ran out, and the
 * check then fails closed: a deny rule must not be skipped for want of the list. */
static bool names_of(const struct peer *p, bool wanted, struct names_buf *nb, struct policy_names *out)
{
        size_t n = 0;
        struct name_owner *o;
        nb->v = nb->stack;
        nb->n = 0;
        *out = (struct policy_names){.unique = p->unique_name};
        if (!wanted)
                return true;
        list_for_each_entry(o, &p->names, peer_link) n++;
        if (n > ELEMENTSOF(nb->stack)) {
                nb->v = calloc(n, sizeof(char *));
                if (!nb->v)
                        return false;
        }
        list_for_each_entry(o, &p->names, peer_link) nb->v[nb->n++] = o->name->name;
        out->names = nb->v;
        out->n_names = nb->n;
        return true;
}

static void names_done(struct names_buf *nb)
{
        if (nb->v != nb->stack)
                free(nb->v);
}

static void msg_of(const struct message *m, bool requested_reply, bool eavesdropping, struct policy_msg *pm)
{
        *pm = (struct policy_msg){
                .type = m->type,
                .path = m->path,
                .interface = m->interface,
                .member = m->member,
                .error_name = m->error_name,
                .destination = m->destination,
                .sender = m->stamped_sender ? m->stamped_sender : m->sender,
                .has_reply_serial = m->reply_serial != 0,
                .requested_reply = requested_reply,
                .eavesdropping = eavesdropping,
                .n_fds = (uint32_t)m->n_fds,
        };
}

bool policy_check_send(struct bus *b, struct peer *from, struct peer *to, struct message *m,
                       bool requested_reply, unsigned *ret_n_matched)
{
        if (!from || !from->policy_view)
                return true; /* the bus driver is not subject to send rules */
        int fixed = bus_policy_view_fixed_send(from->policy_view, m->reply_serial != 0, requested_reply,
                                               (uint32_t)m->n_fds);
        if (fixed > 0 || (fixed == 0 && !ret_n_matched))
                return fixed;
        struct policy_verdict v = {0};
        struct policy_verdict *want = ret_n_matched ? &v : NULL;
        struct policy_msg pm;
        msg_of(m, requested_reply, false, &pm);
        bool ok = false;
        if (!to)
                ok = bus_policy_view_check_send(from->policy_view, NULL, &pm, want);
        else {
                struct names_buf nb;
                struct policy_names pn;
                if (names_of(to, bus_policy_view_send_reads_names(from->policy_view), &nb, &pn)) {
                        ok = bus_policy_view_check_send(from->policy_view, &pn, &pm, want);
                        names_done(&nb);
                }
        }
        if (ret_n_matched)
                *ret_n_matched = v.n_matched;
        return ok;
}

bool policy_check_receive(struct bus *b, struct peer *to, struct peer *from, struct message *m,
                          bool requested_reply, bool eavesdropping, unsigned *ret_n_matched)
{
        if (!to->policy_view) {
                if (ret_n_matched)
                        *ret_n_matched = 0; /* no rules to match: a peer between views (a reload) */
                return false;
        }
        int fixed = bus_policy_view_fixed_receive(to->policy_view, m->reply_serial != 0, requested_reply,
                                                  eavesdropping, (uint32_t)m->n_fds);
        if (fixed > 0 || (fixed == 0 && !ret_n_matched))
                return fixed;
        struct policy_verdict v = {0};
        struct policy_verdict *want = ret_n_matched ? &v : NULL;
        struct policy_msg pm;
        msg_of(m, requested_reply, eavesdropping, &pm);
        bool ok = false;
        if (!from)
                ok = bus_policy_view_check_receive(to->policy_view, NULL, &pm, want);
        else {
                struct names_buf nb;
                struct policy_names pn;
                if (names_of(from, bus_policy_view_receive_reads_names(to->policy_view), &nb, &pn)) {
                        ok = bus_policy_view_check_receive(to->policy_view, &pn, &pm, want);
                        names_done(&nb);
                }
        }
        if (ret_n_matched)
                *ret_n_matched = v.n_matched;
        return ok;
}

/* dbus-daemon lets a connection monitor and read Debug.Stats when it is uid 0 or the bus owner's uid. On a
 * container bus the container's root is uid 0 to itself and the bus runs as root, so that rule would
 * let the container watch the host's callers: there only the host's root may. */
bool policy_check_privileged(struct bus *b, struct peer *p)
{
        if (b->container)
                return p->trust == PEER_TRUST_HOST_ROOT;
        return p->creds.uid == 0 || p->creds.uid == geteuid();
}

/* Eavesdropping is monitoring by another name: on a container bus it is the host's root's alone, whatever
 * the configuration allows. Elsewhere the configuration's eavesdrop rules decide at delivery. */
bool policy_check_eavesdrop(struct bus *b, struct peer *p)
{
        return !b->container || p->trust == PEER_TRUST_HOST_ROOT;
}
