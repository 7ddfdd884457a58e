/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Limits on what connections hold (daemon/quotas.c and the checks that consult it in names.c, match.c and
 * routing.c), as clients see them, on a bus in this process (bus-harness.h). The promise: a connection
 * holds at most max_names_per_connection names, max_match_rules_per_connection match rules and
 * max_replies_per_connection calls waiting for a reply, as in dbus-daemon, and all connections of one
 * uid together at most max_names_per_user, max_match_rules_per_user and max_replies_per_user, as
 * dbus-broker charges a uid; a request over a limit is refused with LimitsExceeded and changes nothing,
 * and whatever is given back (RemoveMatch, ReleaseName, a reply, a closed connection) can be taken
 * again. The tests set small limits in the bus's struct bus_limits directly, fill them, check that the
 * next request is refused and had no effect, give something back and check that it is accepted. Every
 * peer here is this process, so every connection has the same uid.
 */
#include "bus-harness.h"

#define LIMITS_EXCEEDED "org.freedesktop.DBus.Error.LimitsExceeded"

/* The limits under test, with nothing else in the way. */
static void harness_init_limits(struct harness *h, int32_t per_connection, int32_t per_user)
{
        harness_init(h);
        struct bus_limits *l = &h->bus->limits;
        l->max_names_per_connection = l->max_match_rules_per_connection = l->max_replies_per_connection =
                per_connection;
        l->max_names_per_user = l->max_match_rules_per_user = l->max_replies_per_user = per_user;
}

static const char *rule(int i)
{
        static char buf[8][64];
        char *s = buf[i % 8];
        snprintf(s, sizeof(buf[0]), "member='M%d'", i);
        return s;
}

static const char *member(int i)
{
        static char buf[8][16];
        char *s = buf[i % 8];
        snprintf(s, sizeof(buf[0]), "M%d", i);
        return s;
}

static void add_match(struct harness *h, struct client *c, int i)
{
        harness_expect_reply_empty(h, c, harness_call_driver(c, "AddMatch", "s", rule(i)));
}

static void add_match_refused(struct harness *h, struct client *c, int i)
{
        harness_expect_error(h, c, harness_call_driver(c, "AddMatch", "s", rule(i)), LIMITS_EXCEEDED);
}

static void remove_match(struct harness *h, struct client *c, int i)
{
        harness_expect_reply_empty(h, c, harness_call_driver(c, "RemoveMatch", "s", rule(i)));
}

/* Whether subscriber s hears signal i broadcast by e. */
static bool hears(struct harness *h, struct client *s, struct client *e, int i)
{
        uint32_t serial = harness_signal(e, NULL, "/a", "com.example.Iface", member(i), "", NULL);
        struct harness_inbox box = {0};
        harness_collect(h, s, &box);
        struct message *m = harness_take_signal(&box, member(i));
        bool heard = m && m->serial == serial;
        if (m)
                message_unref(m);
        harness_inbox_expect_empty(&box);
        return heard;
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

static bool has_owner(struct harness *h, struct client *c, const char *name)
{
        struct message *m = harness_expect_reply(h, c, harness_call_driver(c, "NameHasOwner", "s", name));
        int v = 0;
        CHECK(message_read(m, "b", &v) >= 0);
        message_unref(m);
        return v;
}

/* A call from caller to callee that gets through: the call as the callee received it, to answer. */
static struct message *call_through(struct harness *h, struct client *caller, struct client *callee)
{
        uint32_t serial = harness_call(caller, callee->unique_name, "Echo", "x");
        harness_expect_nothing(h, caller);
        struct harness_inbox box = {0};
        harness_collect(h, callee, &box);
        CHECK_EQ(box.n, 1);
        struct message *call = harness_inbox_take(&box, 0);
        CHECK_EQ(call->type, MESSAGE_METHOD_CALL);
        CHECK_EQ(call->serial, serial);
        return call;
}

/* A call from caller to callee that is refused: LimitsExceeded for the caller, nothing for the callee. */
static void call_refused(struct harness *h, struct client *caller, struct client *callee)
{
        uint32_t serial = harness_call(caller, callee->unique_name, "Echo", "x");
        harness_expect_error(h, caller, serial, LIMITS_EXCEEDED);
        harness_expect_nothing(h, callee);
}

/* The callee answers call, and the caller gets the answer. */
static void answer(struct harness *h, struct client *callee, struct message *call, struct client *caller)
{
        harness_reply(callee, call, "y");
        struct message *m = harness_expect_reply(h, caller, call->serial);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        message_unref(m);
        message_unref(call);
}

/* ---- per connection ---- */

static void test_match_rules_per_connection(void)
{
        struct harness h;
        harness_init_limits(&h, 3, -1);
        struct client *s = harness_connect(&h), *t = harness_connect(&h), *e = harness_connect(&h);

        for (int i = 0; i < 3; i++)
                add_match(&h, s, i);
        add_match_refused(&h, s, 3);
        CHECK(!hears(&h, s, e, 3));
        CHECK(hears(&h, s, e, 2));
        /* The limit is s's own: t has room. */
        for (int i = 0; i < 3; i++)
                add_match(&h, t, 10 + i);
        add_match_refused(&h, t, 13);

        remove_match(&h, s, 1);
        add_match(&h, s, 3);
        CHECK(hears(&h, s, e, 3));
        add_match_refused(&h, s, 4);

        client_free(s);
        client_free(t);
        client_free(e);
        harness_done(&h);
        harness_check_leaks();
}

/* dbus-daemon counts the unique name as one of a connection's names (it is an owner in the registry too),
 * and names a connection waits in line for as well: with max_names_per_connection 3, a connection owns
 * or waits for two well-known names. */
static void test_names_per_connection(void)
{
        struct harness h;
        harness_init_limits(&h, 3, -1);
        struct client *a = harness_connect(&h), *b = harness_connect(&h);

        CHECK_EQ(harness_request_name(&h, a, "com.example.N0"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, b, "com.example.N1"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N1"), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N2"), 0);
        CHECK(!has_owner(&h, a, "com.example.N2"));
        /* b has room of its own. */
        CHECK_EQ(harness_request_name(&h, b, "com.example.N2"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, b, "com.example.N3"), 0);

        release_name(&h, a, "com.example.N1"); /* leaving the line gives a place back too */
        CHECK_EQ(harness_request_name(&h, a, "com.example.N3"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N4"), 0);

        client_free(a);
        client_free(b);
        harness_done(&h);
        harness_check_leaks();
}

/* Calls waiting for a reply: the one past the limit is answered by the bus and never delivered; a reply
 * gives the place back. The bus's own methods take no place. */
static void test_replies_per_connection(void)
{
        struct harness h;
        harness_init_limits(&h, 2, -1);
        struct client *a = harness_connect(&h), *callee = harness_connect(&h), *c = harness_connect(&h);

        struct message *first = call_through(&h, a, callee), *second = call_through(&h, a, callee);
        call_refused(&h, a, callee);
        call_refused(&h, a, c);
        harness_expect_reply_empty(&h, a, harness_call_driver(a, "AddMatch", "s", "member='X'"));
        /* c has room of its own. */
        struct message *c_call = call_through(&h, c, callee);

        answer(&h, callee, first, a);
        struct message *third = call_through(&h, a, callee);
        call_refused(&h, a, callee);

        answer(&h, callee, second, a);
        answer(&h, callee, third, a);
        answer(&h, callee, c_call, c);

        client_free(a);
        client_free(callee);
        client_free(c);
        harness_done(&h);
        harness_check_leaks();
}

/* ---- per uid, over all its connections ---- */

static void test_match_rules_per_user(void)
{
        struct harness h;
        harness_init_limits(&h, -1, 3);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *e = harness_connect(&h);

        add_match(&h, a, 0);
        add_match(&h, a, 1);
        add_match(&h, b, 2);
        add_match_refused(&h, b, 3);
        add_match_refused(&h, a, 3);
        CHECK(!hears(&h, b, e, 3));

        remove_match(&h, a, 0);
        add_match(&h, b, 3);
        CHECK(hears(&h, b, e, 3));
        add_match_refused(&h, a, 4);

        client_free(a);
        client_free(b);
        client_free(e);
        harness_done(&h);
        harness_check_leaks();
}

/* Names owned and names waited for both count; unique names do not (quotas.h). */
static void test_names_per_user(void)
{
        struct harness h;
        harness_init_limits(&h, -1, 3);
        struct client *a = harness_connect(&h), *b = harness_connect(&h);

        CHECK_EQ(harness_request_name(&h, a, "com.example.N0"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N1"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, b, "com.example.N0"), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(harness_request_name(&h, b, "com.example.N2"), 0);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N2"), 0);
        CHECK(!has_owner(&h, b, "com.example.N2"));

        release_name(&h, a, "com.example.N1");
        CHECK_EQ(harness_request_name(&h, b, "com.example.N2"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N3"), 0);

        client_free(a);
        client_free(b);
        harness_done(&h);
        harness_check_leaks();
}

static void test_replies_per_user(void)
{
        struct harness h;
        harness_init_limits(&h, -1, 2);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *callee = harness_connect(&h);

        struct message *from_a = call_through(&h, a, callee), *from_b = call_through(&h, b, callee);
        call_refused(&h, a, callee);
        call_refused(&h, b, callee);

        answer(&h, callee, from_a, a);
        struct message *again = call_through(&h, b, callee);
        call_refused(&h, a, callee);

        answer(&h, callee, from_b, b);
        answer(&h, callee, again, b);

        client_free(a);
        client_free(b);
        client_free(callee);
        harness_done(&h);
        harness_check_leaks();
}

/* ---- what a closed connection gives back ---- */

/* A connection that closes gives its uid back its names, its rules and its places for replies, so a
 * connection made afterwards can have them all. */
static void test_closing_gives_back(void)
{
        struct harness h;
        harness_init_limits(&h, -1, 2);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *callee = harness_connect(&h),
                      *e = harness_connect(&h);

        add_match(&h, a, 0);
        add_match(&h, a, 1);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N0"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, a, "com.example.N1"), NAME_REPLY_PRIMARY_OWNER);
        struct message *c0 = call_through(&h, a, callee), *c1 = call_through(&h, a, callee);
        add_match_refused(&h, b, 2);
        CHECK_EQ(harness_request_name(&h, b, "com.example.N2"), 0);
        call_refused(&h, b, callee);

        client_free(a);
        harness_settle(&h);
        message_unref(c0);
        message_unref(c1);

        struct client *c = harness_connect(&h);
        add_match(&h, c, 2);
        add_match(&h, c, 3);
        add_match_refused(&h, c, 4);
        CHECK(hears(&h, c, e, 3));
        CHECK_EQ(harness_request_name(&h, c, "com.example.N0"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, c, "com.example.N2"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, c, "com.example.N3"), 0);
        struct message *d0 = call_through(&h, c, callee), *d1 = call_through(&h, c, callee);
        call_refused(&h, c, callee);

        answer(&h, callee, d0, c);
        answer(&h, callee, d1, c);
        client_free(b);
        client_free(c);
        client_free(callee);
        client_free(e);
        harness_done(&h);
        harness_check_leaks();
}

/* A callee that closes without answering: its callers get NoReply, and their places back. */
static void test_callee_closing_gives_back_replies(void)
{
        struct harness h;
        harness_init_limits(&h, 1, -1);
        struct client *a = harness_connect(&h), *gone = harness_connect(&h), *callee = harness_connect(&h);

        struct message *call = call_through(&h, a, gone);
        uint32_t serial = call->serial;
        message_unref(call);
        call_refused(&h, a, callee);
        client_free(gone);
        struct harness_inbox box = {0};
        harness_collect(&h, a, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m);
        CHECK_EQ(m->type, MESSAGE_ERROR);
        CHECK_STREQ(m->error_name, "org.freedesktop.DBus.Error.NoReply");
        message_unref(m);
        harness_inbox_expect_empty(&box);

        answer(&h, callee, call_through(&h, a, callee), a);

        client_free(a);
        client_free(callee);
        harness_done(&h);
        harness_check_leaks();
}

int main(void)
{
        int failed = 0;
        RUN(test_match_rules_per_connection);
        RUN(test_names_per_connection);
        RUN(test_replies_per_connection);
        RUN(test_match_rules_per_user);
        RUN(test_names_per_user);
        RUN(test_replies_per_user);
        RUN(test_closing_gives_back);
        RUN(test_callee_closing_gives_back_replies);
        return failed != 0;
}
