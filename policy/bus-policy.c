/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The compiled form of dbus-daemon's <policy> rules and the checks against
 * it, following dbus-daemon 1.14's bus/policy.c rule for rule.
 *
 * Each context (default, mandatory, one per uid, one per gid, the two
 * at_console ones) keeps its rules in file order, split by kind (send,
 * receive, own, connect): a check only ever looks at one kind, and
 * last-match-wins within a kind is unaffected by rules of other kinds in
 * between. A view is just the ordered list of contexts that apply to one
 * peer plus, per kind, where evaluation starts; a check walks that backwards
 * and stops at the first matching rule, so a typical message costs a few
 * comparisons, not a pass over every rule of the system bus. Peers whose
 * views would be the same (the same contexts, the same origin: every peer of
 * one user, and every user without rules of their own) share one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-policy.h"
#include "hashmap.h"
#include "util.h"

enum rule_kind {
        KIND_SEND,
        KIND_RECEIVE,
        KIND_OWN,
        KIND_CONNECT,
        _KIND_MAX,
};

/* One allocation per rule: the strings live in the tail. */
struct rule {
        struct policy_rule r;
        char strings[];
};

struct rule_array {
        struct rule **v;
        size_t n, allocated;
};

struct rule_list {
        uint64_t id; /* key in by_uid / by_gid */
        struct rule_array kinds[_KIND_MAX];
};

struct bus_policy {
        unsigned n_ref;
        uid_t owner_uid;
        size_t n_rules;
        struct rule_list default_rules;
        struct rule_list mandatory_rules;
        struct rule_list console_true_rules;
        struct rule_list console_false_rules;
        struct hashmap *by_uid; /* uint64 id -> struct rule_list */
        struct hashmap *by_gid;
        /* Live views by what makes them (origin and contexts), for bus_policy_view_new() to share. They
         * hold a reference to the policy; it holds none to them: a view leaves when it is freed. */
        struct hashmap *views;
};

/* Where evaluation of one kind starts: everything before the last catch-all
 * rule of that kind is dead (see bus_policy_view_new()). */
struct view_start {
        size_t list;
        size_t index;
};

struct bus_policy_view {
        unsigned n_ref;
        struct bus_policy *policy;
        bool shared; /* in policy->views */
        enum policy_origin origin;
        struct view_start start[_KIND_MAX];
        bool reads_names[_KIND_MAX]; /* a live send_destination / receive_sender rule */
        /* The only rule of its kind that applies from start on, if there is exactly one (session.conf's
         * catch-all allows): a check of that kind then looks at it alone. */
        const struct rule *sole[_KIND_MAX];
        /* When that rule looks at nothing of a message but whether it is a reply, asked for or not, and
         * (receive) eavesdropped, and at its fds only through max_fds: its verdicts, one bit per
         * fixed_index(), for messages with at most fixed_max_fds fds. bus_policy_view_fixed_send() and
         * _receive() read that bit. */
        bool fixed[_KIND_MAX];
        uint8_t fixed_allow[_KIND_MAX];
        uint32_t fixed_max_fds[_KIND_MAX];
        size_t n_lists;
        const struct rule_list *lists[];
};

static enum rule_kind rule_kind_of(enum policy_rule_type type)
{
        switch (type) {
        case POLICY_RULE_SEND:
                return KIND_SEND;
        case POLICY_RULE_RECEIVE:
                return KIND_RECEIVE;
        case POLICY_RULE_OWN:
                return KIND_OWN;
        case POLICY_RULE_USER:
        case POLICY_RULE_GROUP:
        default:
                return KIND_CONNECT;
        }
}

void policy_rule_init(struct policy_rule *rule, enum policy_rule_type type, bool allow)
{
        *rule = (struct policy_rule){.type = type, .allow = allow, .origin = POLICY_ORIGIN_ANY};

        /* dbus-daemon: "allow rules default to TRUE (only requested replies
         * allowed), deny rules default to FALSE (only unrequested replies
         * denied)". */
        if (type == POLICY_RULE_SEND) {
                rule->send.requested_reply = allow;
                rule->send.max_fds = POLICY_MAX_FDS;
        } else if (type == POLICY_RULE_RECEIVE) {
                rule->receive.requested_reply = allow;
                rule->receive.max_fds = POLICY_MAX_FDS;
        }
}

bool policy_name_has_prefix(const char *name, const char *prefix)
{
        const char *rest = startswith(name, prefix);

        return rest && (*rest == '\0' || *rest == '.');
}

/* The string fields of a rule, so that copying and validation need not know
 * each type's layout twice. Returns how many were stored in fields. */
static size_t rule_string_fields(struct policy_rule *r, const char **fields[6])
{
        size_t n = 0;

        switch (r->type) {
        case POLICY_RULE_SEND:
                fields[n++] = &r->send.path;
                fields[n++] = &r->send.interface;
                fields[n++] = &r->send.member;
                fields[n++] = &r->send.error;
                fields[n++] = &r->send.destination;
                break;
        case POLICY_RULE_RECEIVE:
                fields[n++] = &r->receive.path;
                fields[n++] = &r->receive.interface;
                fields[n++] = &r->receive.member;
                fields[n++] = &r->receive.error;
                fields[n++] = &r->receive.sender;
                break;
        case POLICY_RULE_OWN:
                fields[n++] = &r->own.name;
                break;
        case POLICY_RULE_USER:
        case POLICY_RULE_GROUP:
                break;
        }
        return n;
}

static bool message_type_valid(int type)
{
        return type >= POLICY_TYPE_ANY && type <= POLICY_TYPE_SIGNAL;
}

static bool rule_valid(const struct policy_rule *r)
{
        switch (r->type) {
        case POLICY_RULE_SEND:
                return message_type_valid(r->send.message_type) && r->send.min_fds <= POLICY_MAX_FDS &&
                       r->send.max_fds <= POLICY_MAX_FDS && r->send.broadcast <= POLICY_TRISTATE_TRUE &&
                       (!r->send.destination_is_prefix || r->send.destination);
        case POLICY_RULE_RECEIVE:
                return message_type_valid(r->receive.message_type) && r->receive.min_fds <= POLICY_MAX_FDS &&
                       r->receive.max_fds <= POLICY_MAX_FDS;
        case POLICY_RULE_OWN:
                return !r->own.prefix || r->own.name;
        case POLICY_RULE_USER:
        case POLICY_RULE_GROUP:
                return true;
        }
        return false;
}

static struct rule *rule_copy(const struct policy_rule *src)
{
        struct policy_rule tmp = *src;
        const char **fields[6];
        size_t n = rule_string_fields(&tmp, fields), total = 0;

        for (size_t i = 0; i < n; i++)
                if (*fields[i])
                        total += strlen(*fields[i]) + 1;

        struct rule *rule = malloc(sizeof(struct rule) + total);
        if (!rule)
                return NULL;
        rule->r = tmp;

        /* Re-point the copy's fields into its own tail. */
        n = rule_string_fields(&rule->r, fields);
        char *p = rule->strings;
        for (size_t i = 0; i < n; i++) {
                if (!*fields[i])
                        continue;
                size_t l = strlen(*fields[i]) + 1;
                memcpy(p, *fields[i], l);
                *fields[i] = p;
                p += l;
        }
        return rule;
}

static int rule_array_append(struct rule_array *a, struct rule *rule)
{
        if (GREEDY_REALLOC(a->v, a->allocated, a->n + 1) < 0)
                return -ENOMEM;
        a->v[a->n++] = rule;
        return 0;
}

static void rule_list_clear(struct rule_list *l)
{
        for (size_t k = 0; k < _KIND_MAX; k++) {
                for (size_t i = 0; i < l->kinds[k].n; i++)
                        free(l->kinds[k].v[i]);
                free(l->kinds[k].v);
                l->kinds[k] = (struct rule_array){};
        }
}

static size_t rule_list_size(const struct rule_list *l)
{
        size_t n = 0;

        for (size_t k = 0; k < _KIND_MAX; k++)
                n += l->kinds[k].n;
        return n;
}

static void id_map_free(struct hashmap *h)
{
        struct rule_list *l;
        struct hashmap_iter it;

        if (!h)
                return;
        HASHMAP_FOREACH(l, h, it)
        {
                rule_list_clear(l);
                free(l);
        }
        hashmap_free(h);
}

static struct rule_list *id_map_ensure(struct hashmap *h, uint64_t id)
{
        struct rule_list *l = hashmap_get(h, &id);

        if (l)
                return l;
        l = new0(struct rule_list, 1);
        if (!l)
                return NULL;
        l->id = id;
        if (hashmap_put(h, &l->id, l) < 0) {
                free(l);
                return NULL;
        }
        return l;
}

int bus_policy_new(struct bus_policy **ret)
{
        struct bus_policy *p = new0(struct bus_policy, 1);

        if (!p)
                return -ENOMEM;
        p->n_ref = 1;
        p->owner_uid = geteuid();
        p->by_uid = hashmap_new(&uint64_hash_ops);
        p->by_gid = hashmap_new(&uint64_hash_ops);
        if (!p->by_uid || !p->by_gid) {
                bus_policy_unref(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int bus_policy_new_allow_all(struct bus_policy **ret)
{
        _cleanup_(bus_policy_unrefp) struct bus_policy *p = NULL;
        const struct policy_context def = {POLICY_CONTEXT_DEFAULT, 0};
        struct policy_rule send, receive, own;
        int r;

        r = bus_policy_new(&p);
        if (r < 0)
                return r;

        /* session.conf: <allow send_destination="*" eavesdrop="true"/>
         * <allow eavesdrop="true"/> <allow own="*"/> */
        policy_rule_init(&send, POLICY_RULE_SEND, true);
        send.send.eavesdrop = true;
        policy_rule_init(&receive, POLICY_RULE_RECEIVE, true);
        receive.receive.eavesdrop = true;
        policy_rule_init(&own, POLICY_RULE_OWN, true);

        if ((r = bus_policy_add_rule(p, &def, &send)) < 0 ||
            (r = bus_policy_add_rule(p, &def, &receive)) < 0 || (r = bus_policy_add_rule(p, &def, &own)) < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

struct bus_policy *bus_policy_ref(struct bus_policy *policy)
{
        if (policy)
                policy->n_ref++;
        return policy;
}

struct bus_policy *bus_policy_unref(struct bus_policy *policy)
{
        if (!policy || --policy->n_ref > 0)
                return NULL;

        rule_list_clear(&policy->default_rules);
        rule_list_clear(&policy->mandatory_rules);
        rule_list_clear(&policy->console_true_rules);
        rule_list_clear(&policy->console_false_rules);
        id_map_free(policy->by_uid);
        id_map_free(policy->by_gid);
        hashmap_free(policy->views); /* empty: each view holds a reference */
        free(policy);
        return NULL;
}

/* A view made before a change of the rules stays as it was for the peers that hold it; the next peer
 * must get one made from the rules as they are now. */
static void policy_unshare_views(struct bus_policy *policy)
{
        if (!policy->views)
                return;
        struct hashmap_iter it;
        struct bus_policy_view *v;
        HASHMAP_FOREACH(v, policy->views, it)
        v->shared = false;
        hashmap_free(policy->views);
        policy->views = NULL;
}

void bus_policy_set_owner_uid(struct bus_policy *policy, uid_t uid)
{
        policy->owner_uid = uid;
}

bool bus_policy_has_group_contexts(const struct bus_policy *policy)
{
        return hashmap_size(policy->by_gid) > 0;
}

size_t bus_policy_n_rules(const struct bus_policy *policy)
{
        return policy->n_rules;
}

int bus_policy_add_rule(struct bus_policy *policy, const struct policy_context *context,
                        const struct policy_rule *rule)
{
        struct rule_list *list;
        bool connect_rule = rule->type == POLICY_RULE_USER || rule->type == POLICY_RULE_GROUP;

        if (!rule_valid(rule))
                return -EINVAL;
        policy_unshare_views(policy);

        switch (context->kind) {
        case POLICY_CONTEXT_DEFAULT:
                list = &policy->default_rules;
                break;
        case POLICY_CONTEXT_MANDATORY:
                list = &policy->mandatory_rules;
                break;
        case POLICY_CONTEXT_USER:
        case POLICY_CONTEXT_GROUP:
                /* Who may connect is decided before a connection has a
                 * per-user policy, so such rules would never be looked at. */
                if (connect_rule)
                        return -EINVAL;
                list = id_map_ensure(context->kind == POLICY_CONTEXT_USER ? policy->by_uid : policy->by_gid,
                                     context->id);
                if (!list)
                        return -ENOMEM;
                break;
        case POLICY_CONTEXT_CONSOLE:
                list = context->id ? &policy->console_true_rules : &policy->console_false_rules;
                break;
        default:
                return -EINVAL;
        }

        struct rule *copy = rule_copy(rule);
        if (!copy)
                return -ENOMEM;
        if (rule_array_append(&list->kinds[rule_kind_of(rule->type)], copy) < 0) {
                free(copy);
                return -ENOMEM;
        }
        policy->n_rules++;
        return 0;
}

/* Moves src's rules to the end of dst. Space is reserved first, so a failure
 * leaves every rule owned by exactly one of the two lists. */
static int rule_list_absorb(struct rule_list *dst, struct rule_list *src)
{
        for (size_t k = 0; k < _KIND_MAX; k++) {
                struct rule_array *d = &dst->kinds[k], *s = &src->kinds[k];

                if (s->n == 0)
                        continue;
                if (GREEDY_REALLOC(d->v, d->allocated, d->n + s->n) < 0)
                        return -ENOMEM;
                memcpy(d->v + d->n, s->v, s->n * sizeof(s->v[0]));
                d->n += s->n;
                s->n = 0;
        }
        return 0;
}

static int id_map_absorb(struct hashmap *dst, struct hashmap *src)
{
        struct rule_list *l;
        struct hashmap_iter it;

        HASHMAP_FOREACH(l, src, it)
        {
                struct rule_list *d = id_map_ensure(dst, l->id);

                if (!d || rule_list_absorb(d, l) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int bus_policy_merge(struct bus_policy *dst, struct bus_policy *src)
{
        size_t before = bus_policy_n_rules(src);
        int r = 0;

        policy_unshare_views(dst);
        policy_unshare_views(src); /* its lists are emptied into dst's */

        if (rule_list_absorb(&dst->default_rules, &src->default_rules) < 0 ||
            rule_list_absorb(&dst->mandatory_rules, &src->mandatory_rules) < 0 ||
            rule_list_absorb(&dst->console_true_rules, &src->console_true_rules) < 0 ||
            rule_list_absorb(&dst->console_false_rules, &src->console_false_rules) < 0 ||
            id_map_absorb(dst->by_uid, src->by_uid) < 0 || id_map_absorb(dst->by_gid, src->by_gid) < 0)
                r = -ENOMEM;

        /* Recount what moved, also after a partial failure. */
        size_t left = rule_list_size(&src->default_rules) + rule_list_size(&src->mandatory_rules) +
                      rule_list_size(&src->console_true_rules) + rule_list_size(&src->console_false_rules);
        struct rule_list *l;
        struct hashmap_iter it;
        HASHMAP_FOREACH(l, src->by_uid, it)
        left += rule_list_size(l);
        HASHMAP_FOREACH(l, src->by_gid, it)
        left += rule_list_size(l);

        dst->n_rules += before - left;
        src->n_rules = left;
        return r;
}

static bool rule_applies_to(const struct rule *rule, enum policy_origin origin)
{
        return rule->r.origin == POLICY_ORIGIN_ANY || rule->r.origin == origin;
}

/* dbus-daemon's bus_client_policy_optimize() drops every rule that precedes
 * one of these, judging only by the fields below; modifiers such as
 * send_broadcast, requested_reply, eavesdrop and min/max_fds are not looked
 * at, so the catch-all may still skip some messages. We reproduce that, as it
 * decides verdicts and the matched-rule counts in error messages. */
static bool rule_is_catch_all(const struct rule *rule)
{
        const struct policy_rule *r = &rule->r;

        switch (r->type) {
        case POLICY_RULE_SEND:
                return r->send.message_type == POLICY_TYPE_ANY && !r->send.path && !r->send.interface &&
                       !r->send.member && !r->send.error && !r->send.destination;
        case POLICY_RULE_RECEIVE:
                return r->receive.message_type == POLICY_TYPE_ANY && !r->receive.path &&
                       !r->receive.interface && !r->receive.member && !r->receive.error &&
                       !r->receive.sender;
        case POLICY_RULE_OWN:
                return !r->own.name;
        case POLICY_RULE_USER:
        case POLICY_RULE_GROUP:
                return false;
        }
        return false;
}

static void view_fix_verdicts(struct bus_policy_view *v);

/* A view is what its origin and its contexts make it: the key of policy->views. */
static uint64_t view_hash(const void *key)
{
        const struct bus_policy_view *v = key;
        return hash_bytes(v->lists, v->n_lists * sizeof(v->lists[0])) ^
               (uint64_t)v->origin * UINT64_C(0x9e3779b97f4a7c15);
}
static bool view_equal(const void *a, const void *b)
{
        const struct bus_policy_view *x = a, *y = b;
        return x->origin == y->origin && x->n_lists == y->n_lists &&
               memcmp(x->lists, y->lists, x->n_lists * sizeof(x->lists[0])) == 0;
}
static const struct hash_ops view_hash_ops = {view_hash, view_equal};

int bus_policy_view_new(struct bus_policy *policy, const struct policy_subject *subject,
                        struct bus_policy_view **ret)
{
        size_t max_lists = 4 + subject->n_gids;
        struct bus_policy_view *v;

        v = zalloc(sizeof(*v) + max_lists * sizeof(v->lists[0]));
        if (!v)
                return -ENOMEM;
        v->n_ref = 1;
        v->origin = subject->origin;

        /* dbus-daemon's order: default, groups (in the order the peer's
         * credentials list them), user, at_console, mandatory. */
        v->lists[v->n_lists++] = &policy->default_rules;
        if (hashmap_size(policy->by_gid) > 0)
                for (size_t i = 0; i < subject->n_gids; i++) {
                        uint64_t id = subject->gids[i];
                        const struct rule_list *l = hashmap_get(policy->by_gid, &id);
                        if (l)
                                v->lists[v->n_lists++] = l;
                }
        uint64_t uid = subject->uid;
        const struct rule_list *ul = hashmap_get(policy->by_uid, &uid);
        if (ul)
                v->lists[v->n_lists++] = ul;
        v->lists[v->n_lists++] =
                subject->at_console ? &policy->console_true_rules : &policy->console_false_rules;
        v->lists[v->n_lists++] = &policy->mandatory_rules;

        /* The rest follows from these: a peer with the same ones gets the same view. */
        struct bus_policy_view *same = policy->views ? hashmap_get(policy->views, v) : NULL;
        if (same) {
                free(v);
                *ret = bus_policy_view_ref(same);
                return 0;
        }

        /* Find the last catch-all rule of each kind that applies to this
         * peer; evaluation never looks before it. */
        for (size_t k = 0; k < KIND_CONNECT; k++) {
                v->start[k] = (struct view_start){0, 0};
                for (size_t li = v->n_lists; li-- > 0;) {
                        const struct rule_array *a = &v->lists[li]->kinds[k];
                        bool found = false;
                        for (size_t i = a->n; i-- > 0;)
                                if (rule_applies_to(a->v[i], v->origin) && rule_is_catch_all(a->v[i])) {
                                        v->start[k] = (struct view_start){li, i};
                                        found = true;
                                        break;
                                }
                        if (found)
                                break;
                }
        }

        /* Whether a check of this kind can look at the other peer's names: most views (session.conf's
         * included) never do, and then nobody has to list them for every message. And whether one rule
         * alone can decide it. */
        for (size_t k = 0; k < KIND_CONNECT; k++) {
                size_t n_live = 0;
                for (size_t li = v->start[k].list; li < v->n_lists; li++) {
                        const struct rule_array *a = &v->lists[li]->kinds[k];
                        for (size_t i = li == v->start[k].list ? v->start[k].index : 0; i < a->n; i++) {
                                const struct policy_rule *r = &a->v[i]->r;
                                if (!rule_applies_to(a->v[i], v->origin))
                                        continue;
                                if ((k == KIND_SEND && r->send.destination) ||
                                    (k == KIND_RECEIVE && r->receive.sender))
                                        v->reads_names[k] = true;
                                if (n_live++ == 0)
                                        v->sole[k] = a->v[i];
                        }
                }
                if (n_live != 1)
                        v->sole[k] = NULL;
        }
        view_fix_verdicts(v);

        v->policy = bus_policy_ref(policy);
        /* Without memory for the map the view is just not shared. */
        if (!policy->views)
                policy->views = hashmap_new(&view_hash_ops);
        v->shared = policy->views && hashmap_put(policy->views, v, v) >= 0;
        *ret = v;
        return 0;
}

struct bus_policy_view *bus_policy_view_ref(struct bus_policy_view *view)
{
        if (view)
                view->n_ref++;
        return view;
}

struct bus_policy_view *bus_policy_view_unref(struct bus_policy_view *view)
{
        if (!view || --view->n_ref > 0)
                return NULL;
        if (view->shared)
                hashmap_remove(view->policy->views, view);
        bus_policy_unref(view->policy);
        free(view);
        return NULL;
}

static bool names_contain(const struct policy_names *names, const char *name)
{
        if (names->unique && streq(names->unique, name))
                return true;
        for (size_t i = 0; i < names->n_names; i++)
                if (streq(names->names[i], name))
                        return true;
        return false;
}

static bool names_have_prefix(const struct policy_names *names, const char *prefix)
{
        if (names->unique && policy_name_has_prefix(names->unique, prefix))
                return true;
        for (size_t i = 0; i < names->n_names; i++)
                if (policy_name_has_prefix(names->names[i], prefix))
                        return true;
        return false;
}

/* A path, member or error rule skips a message only if the message has that
 * field with another value: a message without the field matches. */
static bool field_mismatch(const char *rule_value, const char *msg_value)
{
        return rule_value && msg_value && !streq(rule_value, msg_value);
}

/* The interface is optional in messages. An <allow> naming an interface must
 * not let interface-less messages through, a <deny> naming one must stop
 * them: "do NOT specify <deny send_interface="org.foo.Bar"/>" (dbus-daemon(1)). */
static bool interface_mismatch(const char *rule_value, const char *msg_value, bool allow)
{
        if (!rule_value)
                return false;
        if (!msg_value)
                return allow;
        return !streq(rule_value, msg_value);
}

static bool fds_mismatch(uint32_t min_fds, uint32_t max_fds, uint32_t n_fds)
{
        return n_fds < min_fds || n_fds > max_fds;
}

/* For a message with REPLY_SERIAL: an <allow> with requested_reply="true"
 * (its default) passes only requested replies unless it also says
 * eavesdrop="true"; a <deny> with requested_reply="false" (its default)
 * stops only unrequested ones. */
static bool reply_mismatch(bool allow, bool rule_requested_reply, bool rule_eavesdrop,
                           const struct policy_msg *m)
{
        if (!m->has_reply_serial)
                return false;
        if (!m->requested_reply && allow && rule_requested_reply && !rule_eavesdrop)
                return true;
        if (m->requested_reply && !allow && !rule_requested_reply)
                return true;
        return false;
}

struct match_ctx {
        const struct policy_msg *msg;
        const struct policy_names *peer; /* receiver for send, sender for receive; NULL: bus driver */
        const char *name;                /* own checks */
};

static bool send_rule_matches(const struct rule *rule, const struct match_ctx *c)
{
        const struct policy_rule *r = &rule->r;
        const struct policy_msg *m = c->msg;

        if (r->send.message_type != POLICY_TYPE_ANY && r->send.message_type != m->type)
                return false;
        if (reply_mismatch(r->allow, r->send.requested_reply, r->send.eavesdrop, m))
                return false;
        if (field_mismatch(r->send.path, m->path))
                return false;
        if (interface_mismatch(r->send.interface, m->interface, r->allow))
                return false;
        if (field_mismatch(r->send.member, m->member))
                return false;
        if (field_mismatch(r->send.error, m->error_name))
                return false;

        if (r->send.broadcast != POLICY_TRISTATE_ANY) {
                bool broadcast = !m->destination && m->type == POLICY_TYPE_SIGNAL;
                if (broadcast != (r->send.broadcast == POLICY_TRISTATE_TRUE))
                        return false;
        }

        if (r->send.destination) {
                if (!c->peer) {
                        /* The bus driver, or a service not yet activated:
                         * judge by the name the message is addressed to. */
                        if (!m->destination)
                                return false;
                        if (r->send.destination_is_prefix
                                    ? !policy_name_has_prefix(m->destination, r->send.destination)
                                    : !streq(m->destination, r->send.destination))
                                return false;
                } else if (r->send.destination_is_prefix ? !names_have_prefix(c->peer, r->send.destination)
                                                         : !names_contain(c->peer, r->send.destination))
                        return false;
        }

        if (fds_mismatch(r->send.min_fds, r->send.max_fds, m->n_fds))
                return false;
        return true;
}

static bool receive_rule_matches(const struct rule *rule, const struct match_ctx *c)
{
        const struct policy_rule *r = &rule->r;
        const struct policy_msg *m = c->msg;

        if (r->receive.message_type != POLICY_TYPE_ANY && r->receive.message_type != m->type)
                return false;

        /* An <allow> applies to eavesdropping only with eavesdrop="true"; a
         * <deny eavesdrop="true"> applies only to eavesdropping. */
        if (m->eavesdropping && r->allow && !r->receive.eavesdrop)
                return false;
        if (!m->eavesdropping && !r->allow && r->receive.eavesdrop)
                return false;

        if (reply_mismatch(r->allow, r->receive.requested_reply, r->receive.eavesdrop, m))
                return false;
        if (field_mismatch(r->receive.path, m->path))
                return false;
        if (interface_mismatch(r->receive.interface, m->interface, r->allow))
                return false;
        if (field_mismatch(r->receive.member, m->member))
                return false;
        if (field_mismatch(r->receive.error, m->error_name))
                return false;

        if (r->receive.sender) {
                if (!c->peer) {
                        const char *sender = m->sender ? m->sender : "org.freedesktop.DBus";
                        if (!streq(sender, r->receive.sender))
                                return false;
                } else if (!names_contain(c->peer, r->receive.sender))
                        return false;
        }

        if (fds_mismatch(r->receive.min_fds, r->receive.max_fds, m->n_fds))
                return false;
        return true;
}

static bool own_rule_matches(const struct rule *rule, const struct match_ctx *c)
{
        const struct policy_rule *r = &rule->r;

        if (!r->own.name)
                return true;
        if (r->own.prefix)
                return policy_name_has_prefix(c->name, r->own.name);
        return streq(c->name, r->own.name);
}

typedef bool (*rule_match_fn)(const struct rule *rule, const struct match_ctx *c);

static bool view_evaluate(const struct bus_policy_view *v, enum rule_kind kind, rule_match_fn match,
                          const struct match_ctx *c, struct policy_verdict *ret)
{
        const struct view_start *s = &v->start[kind];
        const struct rule *last = NULL;
        unsigned n_matched = 0;

        if (v->sole[kind]) {
                /* What the walks below find when one rule is all they can find. */
                last = match(v->sole[kind], c) ? v->sole[kind] : NULL;
                bool allow = last && last->r.allow;
                bool log = last && kind == KIND_SEND && last->r.send.log;
                if (ret)
                        *ret = (struct policy_verdict){
                                .allow = allow, .log = log, .n_matched = (!allow || log) && last};
                return allow;
        }

        /* Last match wins, so walk backwards and stop at the first hit. The
         * number of matches is only interesting for error messages, so it
         * is counted only when a verdict is asked for and the answer is
         * "deny" or the rule wants logging. */
        for (size_t li = v->n_lists; li-- > s->list && !last;) {
                const struct rule_array *a = &v->lists[li]->kinds[kind];
                size_t lo = li == s->list ? s->index : 0;

                for (size_t i = a->n; i-- > lo;)
                        if (rule_applies_to(a->v[i], v->origin) && match(a->v[i], c)) {
                                last = a->v[i];
                                break;
                        }
        }

        bool allow = last && last->r.allow;
        bool log = last && kind == KIND_SEND && last->r.send.log;

        if (ret) {
                if (!allow || log)
                        for (size_t li = s->list; li < v->n_lists; li++) {
                                const struct rule_array *a = &v->lists[li]->kinds[kind];
                                for (size_t i = li == s->list ? s->index : 0; i < a->n; i++)
                                        if (rule_applies_to(a->v[i], v->origin) && match(a->v[i], c))
                                                n_matched++;
                        }
                *ret = (struct policy_verdict){.allow = allow, .log = log, .n_matched = n_matched};
        }
        return allow;
}

static unsigned fixed_index(const struct policy_msg *m)
{
        return (unsigned)m->has_reply_serial | (unsigned)m->requested_reply << 1 |
               (unsigned)m->eavesdropping << 2;
}

/* Whether a rule, apart from its type, looks only at what fixed_index() holds and at a message's fds
 * through max_fds: a catch-all (rule_is_catch_all()) without a broadcast condition or min_fds. */
static bool rule_reads_reply_state_only(const struct rule *rule)
{
        const struct policy_rule *r = &rule->r;
        if (!rule_is_catch_all(rule))
                return false;
        if (r->type == POLICY_RULE_SEND)
                return r->send.broadcast == POLICY_TRISTATE_ANY && r->send.min_fds == 0;
        return r->type == POLICY_RULE_RECEIVE && r->receive.min_fds == 0;
}

static void view_fix_verdicts(struct bus_policy_view *v)
{
        static const rule_match_fn match[_KIND_MAX] = {
                [KIND_SEND] = send_rule_matches, [KIND_RECEIVE] = receive_rule_matches};
        for (size_t k = KIND_SEND; k <= KIND_RECEIVE; k++) {
                const struct rule *r = v->sole[k];
                v->fixed[k] = r && rule_reads_reply_state_only(r);
                if (!v->fixed[k])
                        continue;
                v->fixed_allow[k] = 0;
                v->fixed_max_fds[k] = k == KIND_SEND ? r->r.send.max_fds : r->r.receive.max_fds;
                for (unsigned bits = 0; bits < 8; bits++) {
                        const struct policy_msg m = {
                                .type = POLICY_TYPE_METHOD_CALL,
                                .has_reply_serial = bits & 1,
                                .requested_reply = bits & 2,
                                .eavesdropping = bits & 4,
                        };
                        const struct match_ctx c = {.msg = &m};
                        if (r->r.allow && match[k](r, &c))
                                v->fixed_allow[k] |= 1u << fixed_index(&m);
                }
        }
}

/* A verdict that view_fix_verdicts() knew before the message came: 1 allow, 0 deny, -1 unknown. */
static int view_fixed_verdict(const struct bus_policy_view *v, enum rule_kind kind,
                              const struct policy_msg *m)
{
        if (!v->fixed[kind] || m->n_fds > v->fixed_max_fds[kind])
                return -1;
        return (v->fixed_allow[kind] >> fixed_index(m)) & 1;
}

int bus_policy_view_fixed_send(const struct bus_policy_view *view, bool has_reply_serial,
                               bool requested_reply, uint32_t n_fds)
{
        const struct policy_msg m = {
                .has_reply_serial = has_reply_serial, .requested_reply = requested_reply, .n_fds = n_fds};
        return view_fixed_verdict(view, KIND_SEND, &m);
}

int bus_policy_view_fixed_receive(const struct bus_policy_view *view, bool has_reply_serial,
                                  bool requested_reply, bool eavesdropping, uint32_t n_fds)
{
        const struct policy_msg m = {.has_reply_serial = has_reply_serial,
                                     .requested_reply = requested_reply,
                                     .eavesdropping = eavesdropping,
                                     .n_fds = n_fds};
        return view_fixed_verdict(view, KIND_RECEIVE, &m);
}

bool bus_policy_view_send_reads_names(const struct bus_policy_view *view)
{
        return view->reads_names[KIND_SEND];
}

bool bus_policy_view_receive_reads_names(const struct bus_policy_view *view)
{
        return view->reads_names[KIND_RECEIVE];
}

bool bus_policy_view_check_own(const struct bus_policy_view *view, const char *name)
{
        const struct match_ctx c = {.name = name};

        return view_evaluate(view, KIND_OWN, own_rule_matches, &c, NULL);
}

bool bus_policy_view_check_send(const struct bus_policy_view *view, const struct policy_names *receiver,
                                const struct policy_msg *msg, struct policy_verdict *ret_verdict)
{
        const struct match_ctx c = {.msg = msg, .peer = receiver};

        return view_evaluate(view, KIND_SEND, send_rule_matches, &c, ret_verdict);
}

bool bus_policy_view_check_receive(const struct bus_policy_view *view, const struct policy_names *sender,
                                   const struct policy_msg *msg, struct policy_verdict *ret_verdict)
{
        const struct match_ctx c = {.msg = msg, .peer = sender};

        return view_evaluate(view, KIND_RECEIVE, receive_rule_matches, &c, ret_verdict);
}

static bool connect_rules_allow(const struct rule_array *a, const struct policy_subject *s, bool allowed)
{
        for (size_t i = 0; i < a->n; i++) {
                const struct policy_rule *r = &a->v[i]->r;

                if (!rule_applies_to(a->v[i], s->origin))
                        continue;
                if (r->type == POLICY_RULE_USER) {
                        if (!r->user.any && r->user.uid != s->uid)
                                continue;
                } else {
                        bool member = r->group.any;
                        for (size_t g = 0; !member && g < s->n_gids; g++)
                                member = s->gids[g] == r->group.gid;
                        if (!member)
                                continue;
                }
                allowed = r->allow;
        }
        return allowed;
}

bool bus_policy_check_connect(const struct bus_policy *policy, const struct policy_subject *subject)
{
        bool allowed = subject->uid == policy->owner_uid;

        allowed = connect_rules_allow(&policy->default_rules.kinds[KIND_CONNECT], subject, allowed);
        return connect_rules_allow(&policy->mandatory_rules.kinds[KIND_CONNECT], subject, allowed);
}

bool bus_policy_check_own(struct bus_policy *policy, const struct policy_subject *subject, const char *name)
{
        _cleanup_(bus_policy_view_unrefp) struct bus_policy_view *v = NULL;

        if (bus_policy_view_new(policy, subject, &v) < 0)
                return false;
        return bus_policy_view_check_own(v, name);
}

bool bus_policy_check_send(struct bus_policy *policy, const struct policy_subject *sender,
                           const struct policy_names *receiver, const struct policy_msg *msg,
                           struct policy_verdict *ret_verdict)
{
        _cleanup_(bus_policy_view_unrefp) struct bus_policy_view *v = NULL;

        if (bus_policy_view_new(policy, sender, &v) < 0) {
                if (ret_verdict)
                        *ret_verdict = (struct policy_verdict){};
                return false;
        }
        return bus_policy_view_check_send(v, receiver, msg, ret_verdict);
}

bool bus_policy_check_receive(struct bus_policy *policy, const struct policy_subject *receiver,
                              const struct policy_names *sender, const struct policy_msg *msg,
                              struct policy_verdict *ret_verdict)
{
        _cleanup_(bus_policy_view_unrefp) struct bus_policy_view *v = NULL;

        if (bus_policy_view_new(policy, receiver, &v) < 0) {
                if (ret_verdict)
                        *ret_verdict = (struct policy_verdict){};
                return false;
        }
        return bus_policy_view_check_receive(v, sender, msg, ret_verdict);
}
