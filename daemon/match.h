/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rules of the bus (AddMatch/RemoveMatch, BecomeMonitor): where each
 * rule is kept so that a message looks only at the rules that could match
 * it, and which peers a message reaches. It tells the router whom to
 * deliver to (a callback per peer); it never delivers itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "hashmap.h"
#include "list.h"
#include "match-rule.h"
#include "message.h"

struct bus;
struct peer;
struct name;

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
/* Whether any rule could take a broadcast from the driver: false when match_broadcast(b, NULL, ...) would
 * reach nobody, whatever the message. */
bool match_driver_broadcast_watched(const struct bus *b);
/* The same for a unicast message to recipient: only eavesdropping rules, never the recipient itself. */
void match_eavesdrop(struct bus *b, struct peer *sender, struct peer *recipient, struct message *m,
                     void (*deliver)(struct bus *b, struct peer *to, struct message *m, void *ud), void *ud);
bool match_monitor_wants(struct bus *b, struct peer *mon, struct peer *sender, struct peer *recipient,
                         struct message *m);
