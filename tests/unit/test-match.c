/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rules on the bus (daemon/match.c), as clients see them through AddMatch and RemoveMatch, on a
 * bus in this process (bus-harness.h). The promise: a broadcast signal reaches exactly the peers that
 * hold a rule matching it, once each however many of their rules match, and nobody else; a signal with
 * a destination reaches that peer and eavesdroppers only. match.c files each rule under its sender
 * (none, a unique name, a well-known name, the bus) and then in a bucket by member, path, both, member
 * and arg0, or interface, or in a list for rules with none of those, and a broadcast looks only where a
 * matching rule could be; the tests therefore give every key its own test, each with a subscriber
 * whose rule should match some of the signals, a second one with a rule of the same shape that should
 * match others, and a peer without rules, and count the copies each of them got of every signal.
 * The parser and the matching of one rule against one message are test-match-rule's; here it is which
 * peers the bus finds.
 */
#include "bus-harness.h"

#define IFACE "com.example.Iface"

static void add_match(struct harness *h, struct client *c, const char *rule)
{
        harness_expect_reply_empty(h, c, harness_call_driver(c, "AddMatch", "s", rule));
}

static void remove_match(struct harness *h, struct client *c, const char *rule)
{
        harness_expect_reply_empty(h, c, harness_call_driver(c, "RemoveMatch", "s", rule));
}

/* How many copies of from's signal serial c received; c must have received nothing else. */
static int copies(struct harness *h, struct client *c, const struct client *from, uint32_t serial)
{
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        int n = 0;
        for (size_t i = 0; i < box.n;) {
                const struct message *m = box.v[i];
                if (m->type == MESSAGE_SIGNAL && m->serial == serial && m->sender &&
                    strcmp(m->sender, from->unique_name) == 0) {
                        message_unref(harness_inbox_take(&box, i));
                        n++;
                } else {
                        i++;
                }
        }
        harness_inbox_expect_empty(&box);
        return n;
}

/* A broadcast, its arguments all string-like (sig of 's', 'o', 'g'), and whether the rule under test and
 * the second rule match it. */
struct signal_case {
        const char *path, *interface, *member, *sig;
        const char *args[3];
        bool to_rule, to_other;
};

/* Each case is broadcast by an emitter: a subscriber holding rule gets it exactly when to_rule says, one
 * holding other exactly when to_other says, and a peer without rules and the emitter never. */
static void check_rule(const char *rule, const char *other, const struct signal_case *cases, size_t n)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h), *o = harness_connect(&h),
                      *idle = harness_connect(&h);
        add_match(&h, s, rule);
        add_match(&h, o, other);
        for (size_t i = 0; i < n; i++) {
                const struct signal_case *c = &cases[i];
                uint32_t serial = harness_signal(e, NULL, c->path, c->interface, c->member, c->sig, c->args);
                int got_rule = copies(&h, s, e, serial), got_other = copies(&h, o, e, serial);
                if (got_rule != c->to_rule || got_other != c->to_other)
                        fprintf(stderr, "case %zu: %s %s.%s(%s%s%s): \"%s\" got %d, \"%s\" got %d\n", i,
                                c->path, c->interface, c->member, c->args[0] ?: "", c->args[1] ? ", " : "",
                                c->args[1] ?: "", rule, got_rule, other, got_other);
                CHECK_EQ(got_rule, c->to_rule);
                CHECK_EQ(got_other, c->to_other);
                CHECK_EQ(copies(&h, idle, e, serial), 0);
                CHECK_EQ(copies(&h, e, e, serial), 0);
        }
        client_free(e);
        client_free(s);
        client_free(o);
        client_free(idle);
        harness_done(&h);
        harness_check_leaks();
}

#define CHECK_RULE(rule, other, ...)                                                                        \
        do {                                                                                                \
                const struct signal_case cases_[] = {__VA_ARGS__};                                          \
                check_rule((rule), (other), cases_, sizeof(cases_) / sizeof(cases_[0]));                    \
        } while (0)

/* ---- one key at a time ---- */

static void test_member(void)
{
        CHECK_RULE("member='Ping'", "member='Pong'", {"/a", IFACE, "Ping", "", {NULL}, true, false},
                   {"/a", IFACE, "Pong", "", {NULL}, false, true},
                   {"/a", IFACE, "Other", "", {NULL}, false, false},
                   {"/b", "com.example.Else", "Ping", "", {NULL}, true, false});
}

static void test_interface(void)
{
        CHECK_RULE("interface='com.example.A'", "interface='com.example.B'",
                   {"/a", "com.example.A", "Ping", "", {NULL}, true, false},
                   {"/a", "com.example.B", "Ping", "", {NULL}, false, true},
                   {"/a", "com.example.AB", "Ping", "", {NULL}, false, false},
                   {"/a", "com.example", "Ping", "", {NULL}, false, false},
                   {"/b", "com.example.A", "Pong", "", {NULL}, true, false});
}

static void test_path(void)
{
        CHECK_RULE("path='/a/b'", "path='/a'", {"/a/b", IFACE, "Ping", "", {NULL}, true, false},
                   {"/a", IFACE, "Ping", "", {NULL}, false, true},
                   {"/a/b/c", IFACE, "Ping", "", {NULL}, false, false},
                   {"/", IFACE, "Ping", "", {NULL}, false, false},
                   {"/a/b", "com.example.Else", "Pong", "", {NULL}, true, false});
}

/* Member and path together: the rule is in the bucket of both joined, and needs both. */
static void test_member_and_path(void)
{
        CHECK_RULE("member='Ping',path='/a'", "member='Pong',path='/a'",
                   {"/a", IFACE, "Ping", "", {NULL}, true, false},
                   {"/b", IFACE, "Ping", "", {NULL}, false, false},
                   {"/a", IFACE, "Pong", "", {NULL}, false, true},
                   {"/b", IFACE, "Pong", "", {NULL}, false, false},
                   {"/a", IFACE, "Other", "", {NULL}, false, false});
}

static void test_path_namespace(void)
{
        CHECK_RULE("path_namespace='/a/b'", "path_namespace='/c'",
                   {"/a/b", IFACE, "Ping", "", {NULL}, true, false},
                   {"/a/b/c/d", IFACE, "Pong", "", {NULL}, true, false},
                   {"/a/bc", IFACE, "Ping", "", {NULL}, false, false},
                   {"/a", IFACE, "Ping", "", {NULL}, false, false},
                   {"/c/d", IFACE, "Ping", "", {NULL}, false, true},
                   {"/", IFACE, "Ping", "", {NULL}, false, false});
}

/* With a member, an arg0 rule is in the bucket of member and arg0; without, in no bucket at all. */
static void test_arg0(void)
{
        CHECK_RULE("member='Changed',arg0='x'", "arg0='y'",
                   {"/a", IFACE, "Changed", "s", {"x"}, true, false},
                   {"/a", IFACE, "Changed", "s", {"y"}, false, true},
                   {"/a", IFACE, "Other", "s", {"x"}, false, false},
                   {"/a", IFACE, "Other", "s", {"y"}, false, true},
                   {"/a", IFACE, "Changed", "s", {"xx"}, false, false},
                   {"/a", IFACE, "Changed", "", {NULL}, false, false},
                   {"/a", IFACE, "Changed", "ss", {"x", "y"}, true, false});
}

static void test_arg0namespace(void)
{
        CHECK_RULE("arg0namespace='com.example'", "member='Changed',arg0namespace='org'",
                   {"/a", IFACE, "Changed", "s", {"com.example"}, true, false},
                   {"/a", IFACE, "Changed", "s", {"com.example.Foo.Bar"}, true, false},
                   {"/a", IFACE, "Changed", "s", {"com.examples"}, false, false},
                   {"/a", IFACE, "Changed", "s", {"com"}, false, false},
                   {"/a", IFACE, "Changed", "s", {"org.example"}, false, true},
                   {"/a", IFACE, "Other", "s", {"org.example"}, false, false},
                   {"/a", IFACE, "Changed", "", {NULL}, false, false});
}

/* argNpath: equal, or one ends in '/' and is a prefix of the other; strings and object paths alike
 * (specification, "Match Rules": arg0path='/aa/bb/' matches /, /aa/, /aa/bb/, /aa/bb/cc/ and /aa/bb/cc). */
static void test_argNpath(void)
{
        CHECK_RULE("arg1path='/aa/bb/'", "member='Ping',arg0path='/zz'",
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/bb/"}, true, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/bb/cc"}, true, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/bb/cc/"}, true, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/"}, true, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/"}, true, false},
                   {"/a", IFACE, "Ping", "so", {"q", "/aa/bb/cc"}, true, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/bb"}, false, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa/b"}, false, false},
                   {"/a", IFACE, "Ping", "ss", {"q", "/aa"}, false, false},
                   {"/a", IFACE, "Ping", "s", {"/aa/bb/"}, false, false},
                   {"/a", IFACE, "Ping", "ss", {"/zz", "/aa/"}, true, true},
                   {"/a", IFACE, "Pong", "ss", {"/zz", "/x"}, false, false},
                   {"/a", IFACE, "Ping", "o", {"/zz"}, false, true});
}

/* ---- senders ---- */

/* A rule for a unique name hears that peer alone; the rule outlives the peer and can still be removed. */
static void test_sender_unique_name(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e1 = harness_connect(&h), *e2 = harness_connect(&h), *s = harness_connect(&h);
        char rule[128];
        snprintf(rule, sizeof(rule), "sender='%s',member='Ping'", e1->unique_name);
        add_match(&h, s, rule);

        CHECK_EQ(copies(&h, s, e1, harness_signal(e1, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        CHECK_EQ(copies(&h, s, e2, harness_signal(e2, NULL, "/a", IFACE, "Ping", "", NULL)), 0);
        CHECK_EQ(copies(&h, s, e1, harness_signal(e1, NULL, "/a", IFACE, "Pong", "", NULL)), 0);

        client_free(e1);
        harness_settle(&h);
        CHECK_EQ(copies(&h, s, e2, harness_signal(e2, NULL, "/a", IFACE, "Ping", "", NULL)), 0);
        remove_match(&h, s, rule);
        harness_expect_error(&h, s, harness_call_driver(s, "RemoveMatch", "s", rule),
                             "org.freedesktop.DBus.Error.MatchRuleNotFound");

        client_free(e2);
        client_free(s);
        harness_done(&h);
        harness_check_leaks();
}

/* Drop what the bus has for c (NameAcquired, NameLost: test-names looks at those). */
static void drop_all(struct harness *h, struct client *c)
{
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        harness_inbox_clear(&box);
}

static uint32_t request_name(struct harness *h, struct client *c, const char *name, uint32_t flags)
{
        uint32_t serial = harness_call_driver(c, "RequestName", "su", name, flags);
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        message_unref(m);
        harness_inbox_clear(&box); /* NameAcquired: test-names looks at those */
        return v;
}

static void release_name(struct harness *h, struct client *c, const char *name)
{
        uint32_t serial = harness_call_driver(c, "ReleaseName", "s", name);
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        CHECK_EQ(v, NAME_RELEASE_RELEASED);
        message_unref(m);
        harness_inbox_clear(&box);
}

/* A rule for a well-known name hears whoever is its primary owner at the time of the signal: nobody
 * before it has one, the new owner after a replacement, nobody waiting in line. */
static void test_sender_well_known_follows_owner(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *s = harness_connect(&h);
        add_match(&h, s, "sender='com.example.Svc',member='Ping'");

        CHECK_EQ(copies(&h, s, a, harness_signal(a, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        CHECK_EQ(request_name(&h, a, "com.example.Svc", NAME_FLAG_ALLOW_REPLACEMENT),
                 NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(copies(&h, s, a, harness_signal(a, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        CHECK_EQ(copies(&h, s, b, harness_signal(b, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        CHECK_EQ(request_name(&h, b, "com.example.Svc", NAME_FLAG_REPLACE_EXISTING),
                 NAME_REPLY_PRIMARY_OWNER);
        harness_settle(&h);
        harness_expect_nothing(&h, s); /* NameOwnerChanged is not a Ping */
        CHECK_EQ(copies(&h, s, b, harness_signal(b, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        CHECK_EQ(copies(&h, s, a, harness_signal(a, NULL, "/a", IFACE, "Ping", "", NULL)), 0); /* in line */

        release_name(&h, b, "com.example.Svc"); /* a is first in line again */
        drop_all(&h, a);
        CHECK_EQ(copies(&h, s, a, harness_signal(a, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        CHECK_EQ(copies(&h, s, b, harness_signal(b, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        release_name(&h, a, "com.example.Svc");
        CHECK_EQ(copies(&h, s, a, harness_signal(a, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        /* Owned again, by a peer that connects after the rule was made. */
        struct client *c = harness_connect(&h);
        CHECK_EQ(request_name(&h, c, "com.example.Svc", 0), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(copies(&h, s, c, harness_signal(c, NULL, "/a", IFACE, "Ping", "", NULL)), 1);

        client_free(a);
        client_free(b);
        client_free(c);
        client_free(s);
        harness_done(&h);
        harness_check_leaks();
}

/* sender='org.freedesktop.DBus' hears the bus, never a peer that sends a look-alike. */
static void test_sender_bus(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h);
        add_match(&h, s, "sender='org.freedesktop.DBus',member='NameOwnerChanged'");

        const char *fake[] = {"com.example.Svc", "", e->unique_name};
        CHECK_EQ(copies(&h, s, e,
                        harness_signal(e, NULL, DRIVER_PATH, DRIVER_INTERFACE, "NameOwnerChanged", "sss",
                                       fake)),
                 0);

        struct client *newcomer = harness_connect(&h);
        struct harness_inbox box = {0};
        harness_collect(&h, s, &box);
        struct message *m = harness_take_signal(&box, "NameOwnerChanged");
        CHECK(m);
        CHECK_STREQ(m->sender, DRIVER_NAME);
        const char *name, *old_owner, *new_owner;
        CHECK(message_read(m, "sss", &name, &old_owner, &new_owner) >= 0);
        CHECK_STREQ(name, newcomer->unique_name);
        CHECK_STREQ(old_owner, "");
        CHECK_STREQ(new_owner, newcomer->unique_name);
        message_unref(m);
        harness_inbox_expect_empty(&box);

        client_free(e);
        client_free(s);
        client_free(newcomer);
        harness_done(&h);
        harness_check_leaks();
}

/* The bus builds its broadcasts (NameOwnerChanged) only when someone would get them: each kind of
 * listener alone must still get one. */
static void test_driver_broadcast_reaches_each_kind_of_listener(void)
{
        static const char *const rules[] = {
                "type='signal'",                              /* no sender: wildcard_matches */
                "sender='org.freedesktop.DBus'",              /* driver_matches */
                "eavesdrop='true',member='NameOwnerChanged'", /* eavesdrop_matches */
                NULL,                                         /* a monitor, without rules */
        };
        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                struct harness h;
                harness_init(&h);
                struct client *listener = rules[i] ? harness_connect(&h) : harness_connect_monitor(&h);
                if (rules[i])
                        add_match(&h, listener, rules[i]);

                struct client *newcomer = harness_connect(&h);
                struct harness_inbox box = {0};
                harness_collect(&h, listener, &box);
                bool seen = false;
                for (size_t k = 0; k < box.n; k++) {
                        const struct message *m = box.v[k];
                        const char *name, *old_owner, *new_owner;
                        if (m->type == MESSAGE_SIGNAL && streq_ptr(m->member, "NameOwnerChanged") &&
                            message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 &&
                            streq(name, newcomer->unique_name) && streq(new_owner, newcomer->unique_name))
                                seen = true;
                }
                if (!seen)
                        fprintf(stderr, "listener %s: no NameOwnerChanged for %s\n", rules[i] ?: "(monitor)",
                                newcomer->unique_name);
                CHECK(seen);
                harness_inbox_clear(&box);
                client_free(newcomer);
                client_free(listener);
                harness_done(&h);
        }
        harness_check_leaks();
}

/* However many of a peer's rules match, in however many registries and buckets, it gets one copy. */
static void test_one_copy_per_subscriber(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h);
        CHECK_EQ(request_name(&h, e, "com.example.Svc", 0), NAME_REPLY_PRIMARY_OWNER);
        harness_settle(&h);
        harness_expect_nothing(&h, s);

        char by_unique[128];
        snprintf(by_unique, sizeof(by_unique), "sender='%s'", e->unique_name);
        const char *rules[] = {
                "type='signal'",
                "member='Ping'",
                "path='/a'",
                "member='Ping',path='/a'",
                "interface='" IFACE "'",
                "arg0='x'",
                "member='Ping',arg0='x'",
                "path_namespace='/'",
                by_unique,
                "sender='com.example.Svc'",
                "sender='com.example.Svc',member='Ping'",
        };
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
                add_match(&h, s, rules[i]);
        const char *args[] = {"x"};
        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "s", args)), 1);

        client_free(e);
        client_free(s);
        harness_done(&h);
        harness_check_leaks();
}

/* ---- AddMatch and RemoveMatch ---- */

/* A rule added twice is removed by the second RemoveMatch; rules are the same whatever the order of their
 * keys. A third RemoveMatch finds nothing. */
static void test_remove_counts_additions(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h);
        add_match(&h, s, "member='Ping',interface='" IFACE "'");
        add_match(&h, s, "member='Ping',interface='" IFACE "'");

        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        remove_match(&h, s, "interface='" IFACE "',member='Ping'");
        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        remove_match(&h, s, "member='Ping',interface='" IFACE "'");
        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 0);
        harness_expect_error(
                &h, s, harness_call_driver(s, "RemoveMatch", "s", "member='Ping',interface='" IFACE "'"),
                "org.freedesktop.DBus.Error.MatchRuleNotFound");

        client_free(e);
        client_free(s);
        harness_done(&h);
        harness_check_leaks();
}

/* RemoveMatch of a rule the peer does not have, even one another peer has, is MatchRuleNotFound and takes
 * nothing from the other peer. */
static void test_remove_unknown_rule(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h), *t = harness_connect(&h);
        add_match(&h, s, "member='Ping'");

        harness_expect_error(&h, t, harness_call_driver(t, "RemoveMatch", "s", "member='Ping'"),
                             "org.freedesktop.DBus.Error.MatchRuleNotFound");
        harness_expect_error(&h, s, harness_call_driver(s, "RemoveMatch", "s", "member='Pong'"),
                             "org.freedesktop.DBus.Error.MatchRuleNotFound");
        harness_expect_error(&h, s, harness_call_driver(s, "RemoveMatch", "s", "member='Ping',path='/a'"),
                             "org.freedesktop.DBus.Error.MatchRuleNotFound");
        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 1);
        CHECK_EQ(copies(&h, t, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        client_free(e);
        client_free(s);
        client_free(t);
        harness_done(&h);
        harness_check_leaks();
}

/* A rule that does not parse is MatchRuleInvalid, for AddMatch and RemoveMatch, and subscribes to
 * nothing. */
static void test_invalid_rule(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *s = harness_connect(&h);
        const char *const invalid[] = {
                "member='Ping',bogus='x'",
                "type='bogus',member='Ping'",
                "member='Ping.Pong'",
                "path='/a/'",
                "member='Ping",
                "sender='a',member='Ping'",
                "member",
                "arg0='x',arg0path='x'",
                "path='/a',path_namespace='/a'",
        };
        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
                harness_expect_error(&h, s, harness_call_driver(s, "AddMatch", "s", invalid[i]),
                                     "org.freedesktop.DBus.Error.MatchRuleInvalid");
                harness_expect_error(&h, s, harness_call_driver(s, "RemoveMatch", "s", invalid[i]),
                                     "org.freedesktop.DBus.Error.MatchRuleInvalid");
        }
        CHECK_EQ(copies(&h, s, e, harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL)), 0);

        client_free(e);
        client_free(s);
        harness_done(&h);
        harness_check_leaks();
}

/* ---- signals with a destination ---- */

/*
 * A unicast signal goes to its destination whatever rules it has, and to nobody else except
 * eavesdroppers. Whether eavesdropping is allowed is the bus policy's call, made at delivery: a bus
 * without configuration, as here, has bus_policy_new_allow_all(), which is dbus-daemon's session.conf
 * (<allow send_destination="*" eavesdrop="true"/> <allow eavesdrop="true"/>), and outside a container
 * policy_check_eavesdrop() leaves it to that policy. On dbus-daemon's session bus a rule with
 * eavesdrop='true' does receive others' unicast messages, so here it must too; a rule without it never
 * does, and one naming a destination only for that destination. The destination itself gets one copy
 * even if it also eavesdrops. A broadcast never matches a rule with a destination key.
 */
static void test_unicast_goes_to_destination_and_eavesdroppers(void)
{
        struct harness h;
        harness_init(&h);
        struct client *e = harness_connect(&h), *r = harness_connect(&h), *plain = harness_connect(&h),
                      *spy = harness_connect(&h), *spy_r = harness_connect(&h),
                      *spy_other = harness_connect(&h), *idle = harness_connect(&h);
        CHECK_EQ(request_name(&h, r, "com.example.R", 0), NAME_REPLY_PRIMARY_OWNER);
        harness_settle(&h);

        add_match(&h, plain, "member='Ping'");
        add_match(&h, spy, "member='Ping',eavesdrop='true'");
        char rule[160];
        snprintf(rule, sizeof(rule), "member='Ping',eavesdrop='true',destination='%s'", r->unique_name);
        add_match(&h, spy_r, rule);
        snprintf(rule, sizeof(rule), "member='Ping',eavesdrop='true',destination='%s'", idle->unique_name);
        add_match(&h, spy_other, rule);
        add_match(&h, r, "member='Ping',eavesdrop='true'");

        uint32_t serial = harness_signal(e, r->unique_name, "/a", IFACE, "Ping", "", NULL);
        CHECK_EQ(copies(&h, r, e, serial), 1);
        CHECK_EQ(copies(&h, plain, e, serial), 0);
        CHECK_EQ(copies(&h, spy, e, serial), 1);
        CHECK_EQ(copies(&h, spy_r, e, serial), 1);
        CHECK_EQ(copies(&h, spy_other, e, serial), 0);
        CHECK_EQ(copies(&h, idle, e, serial), 0);

        /* Addressed by a well-known name, the same; destination='<unique name>' still names its owner. */
        serial = harness_signal(e, "com.example.R", "/a", IFACE, "Ping", "", NULL);
        CHECK_EQ(copies(&h, r, e, serial), 1);
        CHECK_EQ(copies(&h, plain, e, serial), 0);
        CHECK_EQ(copies(&h, spy, e, serial), 1);
        CHECK_EQ(copies(&h, spy_r, e, serial), 1);
        CHECK_EQ(copies(&h, spy_other, e, serial), 0);
        CHECK_EQ(copies(&h, idle, e, serial), 0);

        /* The eavesdroppers' member key still applies. */
        serial = harness_signal(e, r->unique_name, "/a", IFACE, "Pong", "", NULL);
        CHECK_EQ(copies(&h, r, e, serial), 1);
        CHECK_EQ(copies(&h, spy, e, serial), 0);
        CHECK_EQ(copies(&h, spy_r, e, serial), 0);

        /* A broadcast Ping: the rules with a destination are not for it. */
        serial = harness_signal(e, NULL, "/a", IFACE, "Ping", "", NULL);
        CHECK_EQ(copies(&h, plain, e, serial), 1);
        CHECK_EQ(copies(&h, spy, e, serial), 1);
        CHECK_EQ(copies(&h, r, e, serial), 1);
        CHECK_EQ(copies(&h, spy_r, e, serial), 0);
        CHECK_EQ(copies(&h, spy_other, e, serial), 0);
        CHECK_EQ(copies(&h, idle, e, serial), 0);

        client_free(e);
        client_free(r);
        client_free(plain);
        client_free(spy);
        client_free(spy_r);
        client_free(spy_other);
        client_free(idle);
        harness_done(&h);
        harness_check_leaks();
}

int main(void)
{
        int failed = 0;
        RUN(test_member);
        RUN(test_interface);
        RUN(test_path);
        RUN(test_member_and_path);
        RUN(test_path_namespace);
        RUN(test_arg0);
        RUN(test_arg0namespace);
        RUN(test_argNpath);
        RUN(test_sender_unique_name);
        RUN(test_sender_well_known_follows_owner);
        RUN(test_sender_bus);
        RUN(test_driver_broadcast_reaches_each_kind_of_listener);
        RUN(test_one_copy_per_subscriber);
        RUN(test_remove_counts_additions);
        RUN(test_remove_unknown_rule);
        RUN(test_invalid_rule);
        RUN(test_unicast_goes_to_destination_and_eavesdroppers);
        return failed != 0;
}
