/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rules and the broadcast index.
 *
 * A rule lives in exactly one registry, chosen by its sender key: the
 * sending peer's own registry for a unique name, the name's registry for a
 * well-known name, the driver's for org.freedesktop.DBus, and the bus-wide
 * wildcard registry when it has no sender. Inside a registry rules are
 * bucketed by their member, exact path and exact arg0 keys, or failing all
 * of those by their interface: one hash table holds buckets keyed by the
 * member, by the path, by both joined, by the member and arg0 joined with a
 * space, or by the interface (a member holds none of ' ', '/', '.', an
 * interface holds '.' but neither ' ' nor '/', a path starts with '/', so
 * the keys cannot collide). The arg0 bucket wins
 * when a rule has it: that is what tells apart the thousands of
 * NameOwnerChanged watches (member and path the same, one arg0 each) that a
 * desktop bus carries, and which every connect and disconnect broadcasts to.
 * A broadcast looks at the buckets for its member, its path, both, its
 * member and arg0 and its interface (the last two when the registry has such
 * rules), and at the rules that have none of these keys: installing
 * thousands of rules for other senders, signals, objects, names or
 * interfaces costs a broadcast a few hash lookups.
 *
 * Rules with eavesdrop='true' are the exception: they live in one registry
 * of their own, whatever sender they name, and their sender key is checked
 * rule by rule. Only they can match somebody else's unicast message, so a
 * unicast looks there and nowhere else, and the rules of every other peer
 * cost it nothing.
 */
#include "errors.h"
#include "bus.h"
#include "quotas.h"
#include "names.h"

void match_registry_init(struct match_registry *r)
{
        r->buckets = NULL;
        list_init(&r->other);
        r->n_rules = 0;
        r->n_arg0_buckets = r->n_interface_buckets = 0;
}

void match_registry_done(struct match_registry *r)
{
        struct hashmap_iter it;
        struct match_bucket *bk;
        /* Rules still linked here belong to peers that are being torn down with the bus. */
        HASHMAP_FOREACH(bk, r->buckets, it)
        {
                struct match_rule *rule, *tmp;
                list_for_each_entry_safe(rule, tmp, &bk->rules, registry_link)
                {
                        list_del(&rule->registry_link);
                        rule->registry = NULL;
                        rule->bucket = NULL;
                }
                hashmap_remove(r->buckets, bk->key);
                free(bk->key);
                free(bk);
        }
        hashmap_free(r->buckets);
        r->buckets = NULL;
        struct match_rule *rule, *tmp;
        list_for_each_entry_safe(rule, tmp, &r->other, registry_link)
        {
                list_del(&rule->registry_link);
                rule->registry = NULL;
        }
        r->n_rules = 0;
        r->n_arg0_buckets = r->n_interface_buckets = 0;
}

/* Member and path joined, when that fits in a stack buffer (it nearly always does). A rule whose joined
 * key would not fit is bucketed by its member alone, so a message whose joined key does not fit cannot
 * have rules in a joined bucket: nothing is ever missed for want of memory. */
#define BUCKET_KEY_MAX 512

static const char *joined_key(char buf[static BUCKET_KEY_MAX], const char *member, const char *path)
{
        size_t lm = strlen(member), lp = strlen(path);
        if (lm + lp + 1 > BUCKET_KEY_MAX)
                return NULL;
        memcpy(buf, member, lm);
        memcpy(buf + lm, path, lp + 1);
        return buf;
}

/* Member and arg0 joined by a space, under the same limit. */
static const char *arg0_key(char buf[static BUCKET_KEY_MAX], const char *member, const char *arg0)
{
        size_t lm = strlen(member), la = strlen(arg0);
        if (lm + 1 + la + 1 > BUCKET_KEY_MAX)
                return NULL;
        memcpy(buf, member, lm);
        buf[lm] = ' ';
        memcpy(buf + lm + 1, arg0, la + 1);
        return buf;
}

/* A rule's exact arg0 (a string compared whole: not arg0path, not arg0namespace), or NULL. */
static const char *rule_arg0(const struct match_rule_keys *k)
{
        return k->n_args > 0 && k->args[0].index == 0 && !k->args[0].is_path ? k->args[0].value : NULL;
}

/* The bucket a rule goes in and its kind, or NULL for registry->other. */
static const char *rule_bucket_key(char buf[static BUCKET_KEY_MAX], const struct match_rule_keys *k,
                                   enum match_bucket_kind *kind)
{
        const char *a0 = rule_arg0(k), *key;
        *kind = BUCKET_PLAIN;
        if (k->member && a0 && (key = arg0_key(buf, k->member, a0))) {
                *kind = BUCKET_ARG0;
                return key;
        }
        if (k->member && k->path)
                return joined_key(buf, k->member, k->path) ?: k->member;
        if (k->member || k->path)
                return k->member ?: k->path;
        *kind = BUCKET_INTERFACE;
        return k->interface;
}

static size_t *bucket_count(struct match_registry *r, enum match_bucket_kind kind)
{
        return kind == BUCKET_ARG0        ? &r->n_arg0_buckets
               : kind == BUCKET_INTERFACE ? &r->n_interface_buckets
                                          : NULL;
}

static int registry_link(struct match_registry *r, struct match_rule *rule)
{
        char buf[BUCKET_KEY_MAX];
        enum match_bucket_kind kind;
        const char *key = rule_bucket_key(buf, &rule->keys, &kind);
        if (!key) {
                list_add_tail(&r->other, &rule->registry_link);
        } else {
                if (!r->buckets) {
                        r->buckets = hashmap_new(&string_hash_ops);
                        if (!r->buckets)
                                return -ENOMEM;
                }
                struct match_bucket *bk = hashmap_get(r->buckets, key);
                if (!bk) {
                        bk = zalloc(sizeof(*bk));
                        if (!bk)
                                return -ENOMEM;
                        bk->kind = kind;
                        bk->key = strdup(key);
                        list_init(&bk->rules);
                        if (!bk->key || hashmap_put(r->buckets, bk->key, bk) < 0) {
                                free(bk->key);
                                free(bk);
                                return -ENOMEM;
                        }
                        size_t *n = bucket_count(r, kind);
                        if (n)
                                (*n)++;
                }
                list_add_tail(&bk->rules, &rule->registry_link);
                rule->bucket = bk;
        }
        rule->registry = r;
        r->n_rules++;
        return 0;
}

static void registry_unlink(struct match_rule *rule)
{
        struct match_registry *r = rule->registry;
        if (!r)
                return;
        list_del(&rule->registry_link);
        r->n_rules--;
        struct match_bucket *bk = rule->bucket;
        if (bk && list_empty(&bk->rules)) {
                size_t *n = bucket_count(r, bk->kind);
                if (n)
                        (*n)--;
                hashmap_remove(r->buckets, bk->key);
                free(bk->key);
                free(bk);
        }
        rule->registry = NULL;
        rule->bucket = NULL;
}

void match_rule_free(struct match_rule *rule)
{
        struct bus *b = rule->owner->bus;
        registry_unlink(rule);
        list_del(&rule->owner_link);
        if (rule->text)
                hashmap_remove(rule->owner->match_index, rule->text);
        rule->owner->n_matches--;
        quotas_uncharge(rule->owner, QUOTA_MATCHES);
        free(rule->text);
        if (rule->eavesdrop_counted)
                b->n_eavesdrop_rules--;
        b->n_match_rules--;
        if (rule->sender_name) {
                rule->sender_name->n_users--;
                names_unref_if_unused(rule->sender_name);
        }
        match_rule_keys_free(&rule->keys);
        free(rule);
}

/* Equal rules have equal canonical text, so duplicates are found with one hash lookup. */
static struct match_rule *peer_find_rule(const struct peer *p, const char *text)
{
        return hashmap_get(p->match_index, text);
}

/* The registry a rule with this sender key belongs in; NULL for a unique name that is gone for good. */
static int registry_for_sender(struct bus *b, const char *sender, struct match_registry **ret,
                               struct name **ret_name)
{
        *ret_name = NULL;
        if (!sender) {
                *ret = &b->wildcard_matches;
                return 0;
        }
        if (streq(sender, DRIVER_NAME)) {
                *ret = &b->driver_matches;
                return 0;
        }
        if (sender[0] == ':') {
                struct peer *p = names_find_peer(b, sender);
                /* Unique names are never reused: a rule for a gone one can never match. */
                *ret = p ? &p->sender_matches : NULL;
                return 0;
        }
        struct name *n;
        int r = names_ref(b, sender, &n);
        if (r < 0)
                return r;
        *ret = &n->matches;
        *ret_name = n;
        return 0;
}

/* Returns 0, -EINVAL (bad rule, message in err), -E2BIG (rule too long), -EPERM (eavesdrop='true' and
 * !may_eavesdrop), -ERR_LIMIT_CONNECTION, -ERR_LIMIT_USER, -ENOMEM. */
int match_add(struct bus *b, struct peer *p, const char *rule_text, bool may_eavesdrop, char *err,
              size_t errlen)
{
        struct match_rule_keys k;
        int r = match_rule_parse_full(rule_text, &k, err, errlen);
        if (r < 0)
                return r;
        if (k.eavesdrop && !may_eavesdrop) {
                match_rule_keys_free(&k);
                return -EPERM;
        }

        bool monitor = p->state == PEER_MONITOR;
        _cleanup_free_ char *text = match_rule_keys_to_string(&k);
        if (!text) {
                match_rule_keys_free(&k);
                return -ENOMEM;
        }
        struct match_rule *dup = peer_find_rule(p, text);
        if (dup) {
                dup->n_refs++;
                match_rule_keys_free(&k);
                return 0;
        }
        if (p->n_matches >= bus_limit(b->limits.max_match_rules_per_connection)) {
                match_rule_keys_free(&k);
                return -ERR_LIMIT_CONNECTION;
        }
        if (quotas_full(b, p, QUOTA_MATCHES)) {
                match_rule_keys_free(&k);
                return -ERR_LIMIT_USER;
        }
        if (!p->match_index && !(p->match_index = hashmap_new(&string_hash_ops))) {
                match_rule_keys_free(&k);
                return -ENOMEM;
        }

        struct match_registry *reg = NULL;
        struct name *sender_name = NULL;
        if (!monitor) {
                r = registry_for_sender(b, k.sender, &reg, &sender_name);
                if (r < 0) {
                        match_rule_keys_free(&k);
                        return r;
                }
                if (reg && k.eavesdrop)
                        reg = &b->eavesdrop_matches;
        }

        struct match_rule *rule = zalloc(sizeof(*rule));
        if (!rule) {
                match_rule_keys_free(&k);
                if (sender_name)
                        names_unref_if_unused(sender_name);
                return -ENOMEM;
        }
        rule->keys = k;
        rule->owner = p;
        rule->n_refs = 1;
        list_init(&rule->registry_link);
        list_add_tail(&p->matches, &rule->owner_link);
        p->n_matches++;
        quotas_charge(p, QUOTA_MATCHES);
        b->n_match_rules++;
        if (k.eavesdrop && !monitor) {
                rule->eavesdrop_counted = true;
                b->n_eavesdrop_rules++;
        }
        if (sender_name) {
                rule->sender_name = sender_name;
                sender_name->n_users++;
        }
        if (hashmap_put(p->match_index, text, rule) < 0) {
                match_rule_free(rule);
                return -ENOMEM;
        }
        rule->text = TAKE_PTR(text);
        if (reg && registry_link(reg, rule) < 0) {
                match_rule_free(rule);
                return -ENOMEM;
        }
        return 0;
}

/* Returns 0, -EINVAL for a bad rule, -ENOENT when the peer has no such rule. */
int match_remove(struct bus *b, struct peer *p, const char *rule_text)
{
        struct match_rule_keys k;
        int r = match_rule_parse(rule_text, &k);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = match_rule_keys_to_string(&k);
        match_rule_keys_free(&k);
        if (!text)
                return -ENOMEM;
        struct match_rule *found = peer_find_rule(p, text);
        if (!found)
                return -ENOENT;
        if (--found->n_refs == 0)
                match_rule_free(found);
        return 0;
}

void match_remove_all(struct peer *p)
{
        while (!list_empty(&p->matches))
                match_rule_free(list_first_entry(&p->matches, struct match_rule, owner_link));
        hashmap_free(p->match_index);
        p->match_index = NULL;
        /* Others' rules naming us can never match again: unique names are not reused. */
        match_registry_done(&p->sender_matches);
}

/* Whether peer q is the recipient named by a rule's destination key: its unique name or a name it owns. */
static bool peer_is_named(struct bus *b, const struct peer *q, const char *name)
{
        if (!q)
                return false;
        if (name[0] == ':')
                return streq(q->unique_name, name);
        struct name *n = names_get(b, name);
        return n && names_primary_owner(n) == q;
}

struct broadcast {
        struct bus *bus;
        struct peer *sender;
        struct peer *recipient; /* unicast: the addressed peer, which is not an eavesdropper */
        struct message *m;
        uint64_t seq;
        bool check_sender; /* the registry holds rules for any sender (eavesdrop_matches) */
        void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud);
        void *ud;
};

static void broadcast_list(struct broadcast *bc, struct list_head *head)
{
        struct match_rule *rule;
        struct message *m = bc->m;
        list_for_each_entry(rule, head, registry_link)
        {
                struct peer *q = rule->owner;
                if (q->delivery_seq == bc->seq || q->state != PEER_RUNNING)
                        continue;
                const char *s = rule->keys.sender;
                if (bc->check_sender && s &&
                    (streq(s, DRIVER_NAME) ? bc->sender != NULL : !peer_is_named(bc->bus, bc->sender, s)))
                        continue;
                if (m->destination) {
                        /* Somebody else's unicast message: only for eavesdroppers. */
                        if (!rule->keys.eavesdrop || q == bc->recipient)
                                continue;
                        if (rule->keys.destination &&
                            !peer_is_named(bc->bus, bc->recipient, rule->keys.destination))
                                continue;
                } else if (rule->keys.destination) {
                        continue;
                }
                if (match_rule_keys_has_args(&rule->keys) && message_parse_args(m) < 0)
                        continue;
                if (!match_rule_keys_match_message(&rule->keys, m))
                        continue;
                q->delivery_seq = bc->seq;
                bc->deliver(bc->bus, q, m, bc->ud);
        }
}

static void broadcast_bucket(struct broadcast *bc, struct match_registry *r, const char *key)
{
        struct match_bucket *bk = key ? hashmap_get(r->buckets, key) : NULL;
        if (bk)
                broadcast_list(bc, &bk->rules);
}

static void broadcast_registry(struct broadcast *bc, struct match_registry *r)
{
        if (r->n_rules == 0)
                return;
        const struct message *m = bc->m;
        if (r->buckets) {
                broadcast_bucket(bc, r, m->member);
                broadcast_bucket(bc, r, m->path);
                char buf[BUCKET_KEY_MAX];
                if (m->member && m->path)
                        broadcast_bucket(bc, r, joined_key(buf, m->member, m->path));
                /* A message whose arguments do not parse matches no rule with argument keys. */
                const char *a0;
                if (r->n_arg0_buckets > 0 && m->member && message_parse_args(bc->m) >= 0 &&
                    (a0 = match_rule_message_arg(m, 0, false)))
                        broadcast_bucket(bc, r, arg0_key(buf, m->member, a0));
                if (r->n_interface_buckets > 0 && m->interface)
                        broadcast_bucket(bc, r, m->interface);
        }
        broadcast_list(bc, &r->other);
}

void match_broadcast(struct bus *b, struct peer *sender, struct message *m,
                     void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud), void *ud)
{
        struct broadcast bc = {
                .bus = b, .sender = sender, .m = m, .seq = ++b->delivery_seq, .deliver = deliver, .ud = ud};
        broadcast_registry(&bc, &b->wildcard_matches);
        if (!sender) {
                broadcast_registry(&bc, &b->driver_matches);
        } else {
                broadcast_registry(&bc, &sender->sender_matches);
                struct name_owner *o;
                list_for_each_entry(o, &sender->names, peer_link)
                {
                        if (names_primary_owner(o->name) == sender)
                                broadcast_registry(&bc, &o->name->matches);
                }
        }
        bc.check_sender = true;
        broadcast_registry(&bc, &b->eavesdrop_matches);
}

bool match_driver_broadcast_watched(const struct bus *b)
{
        /* The registries match_broadcast() looks at for a sender of NULL. */
        return b->wildcard_matches.n_rules || b->driver_matches.n_rules || b->eavesdrop_matches.n_rules;
}

void match_eavesdrop(struct bus *b, struct peer *sender, struct peer *recipient, struct message *m,
                     void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud), void *ud)
{
        struct broadcast bc = {.bus = b,
                               .sender = sender,
                               .recipient = recipient,
                               .m = m,
                               .seq = ++b->delivery_seq,
                               .deliver = deliver,
                               .ud = ud,
                               .check_sender = true};
        broadcast_registry(&bc, &b->eavesdrop_matches);
}

/* Monitors match with every key, sender and destination included, against the message as delivered. */
bool match_monitor_wants(struct bus *b, struct peer *mon, struct peer *sender, struct peer *recipient,
                         struct message *m)
{
        if (list_empty(&mon->matches))
                return true;
        struct match_rule *rule;
        list_for_each_entry(rule, &mon->matches, owner_link)
        {
                const struct match_rule_keys *k = &rule->keys;
                if (k->sender) {
                        if (streq(k->sender, DRIVER_NAME) ? sender != NULL
                                                          : !peer_is_named(b, sender, k->sender))
                                continue;
                }
                if (k->destination && !streq_ptr(m->destination, k->destination) &&
                    !peer_is_named(b, recipient, k->destination))
                        continue;
                if (match_rule_keys_has_args(k) && message_parse_args(m) < 0)
                        continue;
                if (match_rule_keys_match_message(k, m))
                        return true;
        }
        return false;
}
