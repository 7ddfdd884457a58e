/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rules (D-Bus specification, "Match Rules"): the text grammar that
 * AddMatch/RemoveMatch take, its parsed form, and the test of a message
 * against everything in a rule except sender and destination.
 *
 * Parsing mirrors dbus-daemon 1.14 (bus/signals.c) quirk for quirk, so that a
 * rule one bus accepts the other accepts too, with the same meaning.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "util.h"

/* dbus-daemon's DBUS_MAXIMUM_MATCH_RULE_LENGTH: longer rule text is LimitsExceeded. */
#define MATCH_RULE_MAX_LENGTH 1024u
/* dbus-daemon's DBUS_MAXIMUM_MATCH_RULE_ARG_NUMBER: argN for N in 0..63. */
#define MATCH_RULE_MAX_ARG 63u
/* dbus-daemon reads at most this many key='value' pairs and silently ignores the rest. */
#define MATCH_RULE_MAX_KEYS 16u

/* One argN or argNpath key. */
struct match_rule_arg {
        uint8_t index; /* N, 0..MATCH_RULE_MAX_ARG */
        bool is_path;  /* argNpath rather than argN */
        char *value;
};

/* The parsed form of a rule; every string is owned by the struct, NULL when the key is absent. */
struct match_rule_keys {
        uint8_t type; /* enum message_type; 0 (MESSAGE_INVALID) = any */
        char *sender;
        char *interface;
        char *member;
        char *path; /* at most one of path and path_namespace is set */
        char *path_namespace;
        char *destination;
        char *arg0namespace; /* occupies argument 0: never together with an args[] entry of index 0 */
        bool eavesdrop;      /* eavesdrop='false' is the same as no eavesdrop key */
        /* argN/argNpath keys sorted by index, at most one per index */
        struct match_rule_arg *args;
        uint8_t n_args;
};

/*
 * Parse rule text as dbus-daemon does. On success fills *ret (which the caller
 * then frees with match_rule_keys_free()); on failure *ret is untouched.
 * Returns 0, or:
 *   -E2BIG   the text is longer than MATCH_RULE_MAX_LENGTH bytes
 *            (org.freedesktop.DBus.Error.LimitsExceeded),
 *   -EINVAL  anything dbus-daemon rejects with org.freedesktop.DBus.Error.MatchRuleInvalid,
 *   -ENOMEM.
 */
int match_rule_parse(const char *rule, struct match_rule_keys *ret);

/* The same, and on -E2BIG/-EINVAL writes dbus-daemon's own error message for the
 * rule into error (truncated to error_size; error may be NULL when error_size is 0). */
int match_rule_parse_full(const char *rule, struct match_rule_keys *ret, char *error, size_t error_size);

/* Free the contents and leave *k empty (all keys absent). */
void match_rule_keys_free(struct match_rule_keys *k);
#define _cleanup_match_rule_keys_ _cleanup_(match_rule_keys_free)

/* Equality of parsed forms: RemoveMatch removes a rule equal to its argument, so
 * key order, quoting and eavesdrop='false' make no difference. Unlike dbus-daemon
 * 1.14, path_namespace values are compared (see match-rule.c). */
bool match_rule_keys_equal(const struct match_rule_keys *a, const struct match_rule_keys *b);

/* Whether the rule has argument keys, i.e. needs message_parse_args() before matching. */
static inline bool match_rule_keys_has_args(const struct match_rule_keys *k)
{
        return k->n_args > 0 || k->arg0namespace;
}

/* Argument index of m (after message_parse_args()) as a string-like value of an accepted type: a string,
 * or also an object path if allow_object_path; NULL otherwise. What argN and argNpath keys compare. */
const char *match_rule_message_arg(const struct message *m, unsigned index, bool allow_object_path);

/*
 * Does m match type, interface, member, path, path_namespace and the argument
 * keys? Sender and destination are left to the caller, whose name registry
 * knows who owns a well-known name; so is the eavesdrop rule, which dbus-daemon
 * applies with destination: a rule without destination matches only messages
 * without a DESTINATION unless it has eavesdrop='true', and a rule with
 * destination matches only with eavesdrop='true' (the addressed recipient gets
 * its messages regardless of rules).
 *
 * Argument keys read the message's arguments (message_arg()), which the caller
 * indexes with message_parse_args() when match_rule_keys_has_args(); with
 * args_parsed false the message is taken to have no arguments.
 */
bool match_rule_keys_match_message(const struct match_rule_keys *k, const struct message *m);

/*
 * The rule in dbus-daemon's canonical text form (what its Debug.Stats
 * GetAllMatchRules reports): keys in a fixed order, every value quoted, an
 * apostrophe written as '\''. Parsing the result gives an equal rule, unless
 * quoting made it longer than a rule may be (1024 bytes; then -E2BIG: the bus
 * only compares canonical texts, it never re-parses them). The empty
 * rule gives "". Returns a malloc'd string, or NULL when out of memory.
 */
char *match_rule_keys_to_string(const struct match_rule_keys *k);
