/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for policy/bus-policy.c. Every expectation here is what
 * dbus-daemon 1.14 does with the same rules; the less obvious ones (the
 * catch-all quirk, eavesdrop on send rules) were checked against a real
 * dbus-daemon.
 */
#include <unistd.h>

#include "bus-policy.h"
#include "test.h"

static const struct policy_context DEFAULT = {POLICY_CONTEXT_DEFAULT, 0};
static const struct policy_context MANDATORY = {POLICY_CONTEXT_MANDATORY, 0};

static struct policy_context user_ctx(uid_t uid)
{
        return (struct policy_context){POLICY_CONTEXT_USER, uid};
}

static struct policy_context group_ctx(gid_t gid)
{
        return (struct policy_context){POLICY_CONTEXT_GROUP, gid};
}

static struct bus_policy *policy_new(void)
{
        struct bus_policy *p = NULL;

        CHECK_EQ(bus_policy_new(&p), 0);
        bus_policy_set_owner_uid(p, 4242);
        return p;
}

static void add(struct bus_policy *p, const struct policy_context *ctx, const struct policy_rule *r)
{
        CHECK_EQ(bus_policy_add_rule(p, ctx, r), 0);
}

static struct policy_rule rule(enum policy_rule_type type, bool allow)
{
        struct policy_rule r;

        policy_rule_init(&r, type, allow);
        return r;
}

static struct policy_rule own_rule(bool allow, const char *name, bool prefix)
{
        struct policy_rule r = rule(POLICY_RULE_OWN, allow);

        r.own.name = name;
        r.own.prefix = prefix;
        return r;
}

static struct policy_msg call(const char *dest, const char *iface, const char *member)
{
        return (struct policy_msg){
                .type = POLICY_TYPE_METHOD_CALL,
                .path = "/",
                .interface = iface,
                .member = member,
                .destination = dest,
        };
}

static struct policy_msg reply(const char *dest, bool requested)
{
        return (struct policy_msg){
                .type = POLICY_TYPE_METHOD_RETURN,
                .destination = dest,
                .has_reply_serial = true,
                .requested_reply = requested,
        };
}

static struct policy_msg broadcast(const char *iface, const char *member)
{
        return (struct policy_msg){
                .type = POLICY_TYPE_SIGNAL,
                .path = "/",
                .interface = iface,
                .member = member,
        };
}

static const struct policy_subject alice = {.uid = 1000};

static const char *const service_names[] = {"com.example.A", "com.example.B"};
static const struct policy_names service = {":1.7", service_names, 2};
static const struct policy_names nobody = {":1.9", NULL, 0};

static bool can_send(struct bus_policy *p, const struct policy_subject *s, const struct policy_names *to,
                     const struct policy_msg *m)
{
        struct policy_verdict v;
        bool a = bus_policy_check_send(p, s, to, m, &v);
        bool b = bus_policy_check_send(p, s, to, m, NULL);

        /* The backward first-match walk and the full forward count agree. */
        CHECK_EQ(a, b);
        CHECK_EQ(v.allow, a);
        return a;
}

static bool can_receive(struct bus_policy *p, const struct policy_subject *s,
                        const struct policy_names *from, const struct policy_msg *m)
{
        struct policy_verdict v;
        bool a = bus_policy_check_receive(p, s, from, m, &v);

        CHECK_EQ(a, bus_policy_check_receive(p, s, from, m, NULL));
        CHECK_EQ(v.allow, a);
        return a;
}

static void test_default_verdicts(void)
{
        struct bus_policy *p = policy_new();
        struct policy_msg m = call("com.example.A", "com.example.I", "M");
        struct policy_subject owner = {.uid = 4242};

        /* Nothing matches: deny, as dbus-daemon with a rule-less config. */
        CHECK(!can_send(p, &alice, &service, &m));
        CHECK(!can_receive(p, &alice, &service, &m));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.A"));
        /* Only the bus owner may connect. */
        CHECK(!bus_policy_check_connect(p, &alice));
        CHECK(bus_policy_check_connect(p, &owner));
        bus_policy_unref(p);
}

static void test_last_match_wins(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule deny_calls = rule(POLICY_RULE_SEND, false);
        struct policy_rule allow_a = rule(POLICY_RULE_SEND, true);
        struct policy_msg m = call("com.example.A", "com.example.I", "M");

        deny_calls.send.message_type = POLICY_TYPE_METHOD_CALL;
        allow_a.send.destination = "com.example.A";

        add(p, &DEFAULT, &deny_calls);
        add(p, &DEFAULT, &allow_a);
        CHECK(can_send(p, &alice, &service, &m));
        CHECK(!can_send(p, &alice, &nobody, &m));
        bus_policy_unref(p);

        /* The same two rules the other way round. */
        p = policy_new();
        add(p, &DEFAULT, &allow_a);
        add(p, &DEFAULT, &deny_calls);
        CHECK(!can_send(p, &alice, &service, &m));
        bus_policy_unref(p);
}

static void test_context_order(void)
{
        struct bus_policy *p = policy_new();
        gid_t staff = 50, wheel = 10;
        gid_t groups[] = {staff, wheel};
        struct policy_subject bob = {.uid = 1001, .gids = groups, .n_gids = 2};
        struct policy_subject carol = {.uid = 1002, .gids = groups, .n_gids = 1};
        struct policy_rule deny_x = own_rule(false, "com.example.X", false);
        struct policy_rule allow_x = own_rule(true, "com.example.X", false);
        struct policy_context ctx;

        /* default denies, staff allows, user 1001 denies again, mandatory
         * has the last word for com.example.Y. */
        add(p, &DEFAULT, &deny_x);
        ctx = group_ctx(staff);
        add(p, &ctx, &allow_x);
        CHECK(bus_policy_has_group_contexts(p));
        ctx = user_ctx(1001);
        /* The per-user context is applied after the per-group ones, however
         * the file orders them. */
        add(p, &ctx, &deny_x);

        CHECK(!bus_policy_check_own(p, &alice, "com.example.X"));
        CHECK(bus_policy_check_own(p, &carol, "com.example.X"));
        CHECK(!bus_policy_check_own(p, &bob, "com.example.X"));

        struct policy_rule allow_y = own_rule(true, "com.example.Y", false);
        struct policy_rule deny_y = own_rule(false, "com.example.Y", false);
        ctx = user_ctx(1001);
        add(p, &ctx, &allow_y);
        CHECK(bus_policy_check_own(p, &bob, "com.example.Y"));
        add(p, &MANDATORY, &deny_y);
        CHECK(!bus_policy_check_own(p, &bob, "com.example.Y"));
        ctx = user_ctx(1001);
        /* A user rule added later still comes before mandatory. */
        add(p, &ctx, &allow_y);
        CHECK(!bus_policy_check_own(p, &bob, "com.example.Y"));

        /* Connect rules make no sense per user or group. */
        struct policy_rule u = rule(POLICY_RULE_USER, true);
        u.user.any = true;
        CHECK_EQ(bus_policy_add_rule(p, &ctx, &u), -EINVAL);
        ctx = group_ctx(staff);
        CHECK_EQ(bus_policy_add_rule(p, &ctx, &u), -EINVAL);
        bus_policy_unref(p);
}

static void test_at_console(void)
{
        struct bus_policy *p = policy_new();
        struct policy_context yes = {POLICY_CONTEXT_CONSOLE, 1}, no = {POLICY_CONTEXT_CONSOLE, 0};
        struct policy_rule a = own_rule(true, "com.example.Seat", false);
        struct policy_rule b = own_rule(true, "com.example.NoSeat", false);
        struct policy_subject at_seat = {.uid = 1000, .at_console = true};

        add(p, &yes, &a);
        add(p, &no, &b);
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Seat"));
        CHECK(bus_policy_check_own(p, &alice, "com.example.NoSeat"));
        CHECK(bus_policy_check_own(p, &at_seat, "com.example.Seat"));
        CHECK(!bus_policy_check_own(p, &at_seat, "com.example.NoSeat"));
        bus_policy_unref(p);
}

static void test_own(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule deny_all = own_rule(false, NULL, false);
        struct policy_rule allow_prefix = own_rule(true, "org.freedesktop.ManySystems", true);

        /* dbus's check-own-rules.conf. */
        add(p, &DEFAULT, &deny_all);
        add(p, &DEFAULT, &allow_prefix);
        CHECK(!bus_policy_check_own(p, &alice, "org.freedesktop"));
        CHECK(!bus_policy_check_own(p, &alice, "org.freedesktop.ManySystem"));
        CHECK(bus_policy_check_own(p, &alice, "org.freedesktop.ManySystems"));
        CHECK(bus_policy_check_own(p, &alice, "org.freedesktop.ManySystems.foo"));
        CHECK(bus_policy_check_own(p, &alice, "org.freedesktop.ManySystems.foo.bar"));
        CHECK(!bus_policy_check_own(p, &alice, "org.freedesktop.ManySystems2"));
        CHECK(!bus_policy_check_own(p, &alice, "org.freedesktop.ManySystems2.foo"));

        /* own="*" matches every name. */
        struct policy_rule allow_all = own_rule(true, NULL, false);
        add(p, &DEFAULT, &allow_all);
        CHECK(bus_policy_check_own(p, &alice, "org.freedesktop"));

        CHECK(policy_name_has_prefix("a.b", "a.b"));
        CHECK(policy_name_has_prefix("a.b.c", "a.b"));
        CHECK(!policy_name_has_prefix("a.bc", "a.b"));
        CHECK(!policy_name_has_prefix("a", "a.b"));
        bus_policy_unref(p);
}

static void test_requested_reply(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_replies = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_replies = rule(POLICY_RULE_SEND, false);
        struct policy_msg requested = reply(":1.7", true), unrequested = reply(":1.7", false);

        /* system.conf: <allow send_requested_reply="true" send_type="method_return"/> */
        allow_replies.send.message_type = POLICY_TYPE_METHOD_RETURN;
        add(p, &DEFAULT, &allow_replies);
        CHECK(can_send(p, &alice, &service, &requested));
        CHECK(!can_send(p, &alice, &service, &unrequested));

        /* requested_reply only matters for messages with a REPLY_SERIAL. */
        struct policy_msg no_serial = requested;
        no_serial.has_reply_serial = false;
        no_serial.requested_reply = false;
        CHECK(can_send(p, &alice, &service, &no_serial));

        /* <allow send_requested_reply="false"> lets unrequested ones through. */
        allow_replies.send.requested_reply = false;
        add(p, &DEFAULT, &allow_replies);
        CHECK(can_send(p, &alice, &service, &unrequested));

        /* A <deny> defaults to requested_reply="false": it only hits
         * unrequested replies, so requested ones still pass. */
        deny_replies.send.message_type = POLICY_TYPE_METHOD_RETURN;
        add(p, &DEFAULT, &deny_replies);
        CHECK(can_send(p, &alice, &service, &requested));
        CHECK(!can_send(p, &alice, &service, &unrequested));

        /* <deny send_requested_reply="true"> hits every reply. */
        deny_replies.send.requested_reply = true;
        add(p, &DEFAULT, &deny_replies);
        CHECK(!can_send(p, &alice, &service, &requested));
        bus_policy_unref(p);

        /* The same on the receiving side. */
        p = policy_new();
        struct policy_rule allow_recv = rule(POLICY_RULE_RECEIVE, true);
        allow_recv.receive.message_type = POLICY_TYPE_METHOD_RETURN;
        add(p, &DEFAULT, &allow_recv);
        CHECK(can_receive(p, &alice, &service, &requested));
        CHECK(!can_receive(p, &alice, &service, &unrequested));
        bus_policy_unref(p);
}

static void test_eavesdrop(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_recv = rule(POLICY_RULE_RECEIVE, true);
        struct policy_msg m = call("com.example.A", "com.example.I", "M");
        struct policy_msg snooped = m;

        snooped.eavesdropping = true;
        add(p, &DEFAULT, &allow_recv);
        CHECK(can_receive(p, &alice, &service, &m));
        /* An <allow> without eavesdrop="true" does not cover eavesdropping. */
        CHECK(!can_receive(p, &alice, &service, &snooped));

        allow_recv.receive.eavesdrop = true;
        add(p, &DEFAULT, &allow_recv);
        CHECK(can_receive(p, &alice, &service, &snooped));

        /* <deny eavesdrop="true"> applies to eavesdropping only. */
        struct policy_rule deny_snoop = rule(POLICY_RULE_RECEIVE, false);
        deny_snoop.receive.eavesdrop = true;
        deny_snoop.receive.interface = "com.example.I";
        add(p, &DEFAULT, &deny_snoop);
        CHECK(can_receive(p, &alice, &service, &m));
        CHECK(!can_receive(p, &alice, &service, &snooped));

        /* Without the interface it is a catch-all in dbus-daemon's eyes and
         * hides the <allow> rules before it, so nothing is received. */
        deny_snoop.receive.interface = NULL;
        add(p, &DEFAULT, &deny_snoop);
        CHECK(!can_receive(p, &alice, &service, &m));
        bus_policy_unref(p);

        /* session.conf's <allow send_destination="*" eavesdrop="true"/> also
         * lets unrequested replies be sent: eavesdrop="true" on an allow send
         * rule switches off the requested-reply test. */
        p = policy_new();
        struct policy_rule send_all = rule(POLICY_RULE_SEND, true);
        struct policy_msg unrequested = reply(":1.7", false);
        add(p, &DEFAULT, &send_all);
        CHECK(!can_send(p, &alice, &service, &unrequested));
        send_all.send.eavesdrop = true;
        add(p, &DEFAULT, &send_all);
        CHECK(can_send(p, &alice, &service, &unrequested));
        bus_policy_unref(p);
}

static void test_send_destination(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_all = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_a = rule(POLICY_RULE_SEND, false);
        struct policy_msg to_b = call("com.example.B", "com.example.I", "M");
        struct policy_msg to_unique = call(":1.7", "com.example.I", "M");
        struct policy_msg to_other = call("org.other.C", "com.example.I", "M");

        add(p, &DEFAULT, &allow_all);
        deny_a.send.destination = "com.example.A";
        add(p, &DEFAULT, &deny_a);

        /* The receiver also owns (or queues for) com.example.A, so denying A
         * denies everything sent to it, whatever name it was addressed by. */
        CHECK(!can_send(p, &alice, &service, &to_b));
        CHECK(!can_send(p, &alice, &service, &to_unique));
        const char *const only_b[] = {"com.example.B"};
        const struct policy_names b_owner = {":1.8", only_b, 1};
        CHECK(can_send(p, &alice, &b_owner, &to_b));

        /* A rule may name a unique name. */
        struct policy_rule deny_unique = rule(POLICY_RULE_SEND, false);
        deny_unique.send.destination = ":1.8";
        add(p, &DEFAULT, &deny_unique);
        CHECK(!can_send(p, &alice, &b_owner, &to_b));

        /* No receiver (bus driver, activation): the addressed name counts. */
        struct policy_msg to_a = call("com.example.A", "com.example.I", "M");
        CHECK(!can_send(p, &alice, NULL, &to_a));
        CHECK(can_send(p, &alice, NULL, &to_other));
        bus_policy_unref(p);

        /* send_destination_prefix, dbus's send-destination-prefix-rules.conf
         * in miniature. */
        p = policy_new();
        struct policy_rule deny_ns = rule(POLICY_RULE_SEND, false);
        struct policy_rule allow_ap = rule(POLICY_RULE_SEND, true);
        deny_ns.send.destination = "foo.bar.test";
        deny_ns.send.destination_is_prefix = true;
        allow_ap.send.destination = "foo.bar.test.ap";
        allow_ap.send.destination_is_prefix = true;
        add(p, &DEFAULT, &allow_all);
        add(p, &DEFAULT, &deny_ns);
        add(p, &DEFAULT, &allow_ap);

        const char *const n1[] = {"foo.bar.test.ap.f1"};
        const char *const n2[] = {"foo.bar.test.apx"};
        const char *const n3[] = {"foo.bar.testx", "foo.bar.test"};
        const struct policy_names r1 = {":1.1", n1, 1}, r2 = {":1.2", n2, 1}, r3 = {":1.3", n3, 2};
        struct policy_msg m = call(":1.1", "com.example.I", "M");
        CHECK(can_send(p, &alice, &r1, &m));
        CHECK(!can_send(p, &alice, &r2, &m));
        CHECK(!can_send(p, &alice, &r3, &m));

        struct policy_msg to_ap = call("foo.bar.test.ap.x", "com.example.I", "M");
        struct policy_msg to_ns = call("foo.bar.test", "com.example.I", "M");
        CHECK(can_send(p, &alice, NULL, &to_ap));
        CHECK(!can_send(p, &alice, NULL, &to_ns));
        bus_policy_unref(p);
}

static void test_header_fields(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_if = rule(POLICY_RULE_SEND, true);
        struct policy_msg with = call("com.example.A", "com.example.I", "M");
        struct policy_msg without = call("com.example.A", NULL, "M");

        /* An <allow> with an interface needs the message to carry it... */
        allow_if.send.interface = "com.example.I";
        add(p, &DEFAULT, &allow_if);
        CHECK(can_send(p, &alice, &service, &with));
        CHECK(!can_send(p, &alice, &service, &without));

        /* ...while a <deny> with an interface also stops messages without one. */
        struct policy_rule allow_all = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_if = rule(POLICY_RULE_SEND, false);
        deny_if.send.interface = "com.example.Other";
        add(p, &DEFAULT, &allow_all);
        add(p, &DEFAULT, &deny_if);
        CHECK(can_send(p, &alice, &service, &with));
        CHECK(!can_send(p, &alice, &service, &without));
        bus_policy_unref(p);

        /* Path, member and error rules match messages lacking the field. */
        p = policy_new();
        struct policy_rule allow_member = rule(POLICY_RULE_SEND, true);
        allow_member.send.path = "/obj";
        allow_member.send.member = "Go";
        add(p, &DEFAULT, &allow_member);
        struct policy_msg go = call("com.example.A", "com.example.I", "Go");
        go.path = "/obj";
        CHECK(can_send(p, &alice, &service, &go));
        go.path = NULL;
        CHECK(can_send(p, &alice, &service, &go));
        go.path = "/other";
        CHECK(!can_send(p, &alice, &service, &go));
        go.path = "/obj";
        go.member = "Stop";
        CHECK(!can_send(p, &alice, &service, &go));

        struct policy_rule allow_err = rule(POLICY_RULE_SEND, true);
        allow_err.send.error = "com.example.Error.Fail";
        allow_err.send.requested_reply = false;
        add(p, &DEFAULT, &allow_err);
        struct policy_msg err = {.type = POLICY_TYPE_ERROR,
                                 .error_name = "com.example.Error.Fail",
                                 .destination = ":1.7",
                                 .has_reply_serial = true};
        CHECK(can_send(p, &alice, &service, &err));
        err.error_name = "com.example.Error.Other";
        CHECK(!can_send(p, &alice, &service, &err));
        bus_policy_unref(p);
}

static void test_broadcast_and_fds(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_all = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_bcast = rule(POLICY_RULE_SEND, false);
        struct policy_rule deny_unicast = rule(POLICY_RULE_SEND, false);

        /* dbus's forbidding.conf */
        add(p, &DEFAULT, &allow_all);
        deny_bcast.send.interface = "com.example.CannotBroadcast";
        deny_bcast.send.broadcast = POLICY_TRISTATE_TRUE;
        add(p, &DEFAULT, &deny_bcast);
        deny_unicast.send.interface = "com.example.CannotUnicast";
        deny_unicast.send.broadcast = POLICY_TRISTATE_FALSE;
        add(p, &DEFAULT, &deny_unicast);

        struct policy_msg b1 = broadcast("com.example.CannotBroadcast", "S");
        struct policy_msg u1 = b1;
        u1.destination = ":1.7";
        CHECK(!can_send(p, &alice, &service, &b1));
        CHECK(can_send(p, &alice, &service, &u1));
        struct policy_msg b2 = broadcast("com.example.CannotUnicast", "S");
        struct policy_msg u2 = b2;
        u2.destination = ":1.7";
        CHECK(can_send(p, &alice, &service, &b2));
        CHECK(!can_send(p, &alice, &service, &u2));
        /* A method call is never a broadcast, even without a destination. */
        struct policy_msg c2 = call(NULL, "com.example.CannotUnicast", "M");
        CHECK(!can_send(p, &alice, &service, &c2));

        /* dbus's count-fds.conf */
        struct policy_rule deny_max2 = rule(POLICY_RULE_SEND, false);
        deny_max2.send.path = "/test/DenySendMax2";
        deny_max2.send.max_fds = 2;
        add(p, &DEFAULT, &deny_max2);
        struct policy_rule deny_min4 = rule(POLICY_RULE_SEND, false);
        deny_min4.send.path = "/test/DenySendMin4";
        deny_min4.send.min_fds = 4;
        add(p, &DEFAULT, &deny_min4);

        struct policy_msg m = call(":1.7", "com.example.I", "M");
        m.path = "/test/DenySendMax2";
        m.n_fds = 2;
        CHECK(!can_send(p, &alice, &service, &m));
        m.n_fds = 3;
        CHECK(can_send(p, &alice, &service, &m));
        m.path = "/test/DenySendMin4";
        CHECK(can_send(p, &alice, &service, &m));
        m.n_fds = 4;
        CHECK(!can_send(p, &alice, &service, &m));

        struct policy_rule bad = rule(POLICY_RULE_SEND, false);
        bad.send.min_fds = POLICY_MAX_FDS + 1;
        CHECK_EQ(bus_policy_add_rule(p, &DEFAULT, &bad), -EINVAL);
        bus_policy_unref(p);
}

static void test_receive_sender(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_all = rule(POLICY_RULE_RECEIVE, true);
        struct policy_rule deny_a = rule(POLICY_RULE_RECEIVE, false);
        struct policy_msg sig = broadcast("com.example.I", "S");

        add(p, &DEFAULT, &allow_all);
        deny_a.receive.sender = "com.example.A";
        add(p, &DEFAULT, &deny_a);
        CHECK(!can_receive(p, &alice, &service, &sig));
        CHECK(can_receive(p, &alice, &nobody, &sig));

        /* From the bus driver (sender NULL) the SENDER field decides. */
        struct policy_rule deny_driver = rule(POLICY_RULE_RECEIVE, false);
        deny_driver.receive.sender = "org.freedesktop.DBus";
        deny_driver.receive.member = "NameAcquired";
        deny_driver.receive.interface = "org.freedesktop.DBus";
        add(p, &DEFAULT, &deny_driver);
        struct policy_msg acquired = broadcast("org.freedesktop.DBus", "NameAcquired");
        acquired.destination = ":1.9";
        CHECK(!can_receive(p, &alice, NULL, &acquired));
        acquired.sender = "org.freedesktop.DBus";
        CHECK(!can_receive(p, &alice, NULL, &acquired));
        /* A peer cannot own org.freedesktop.DBus, so this rule never hits it. */
        CHECK(can_receive(p, &alice, &nobody, &acquired));
        bus_policy_unref(p);
}

/* dbus-daemon drops every rule before one that matches "everything" by its
 * type/path/interface/member/error/destination fields, ignoring modifiers.
 * Verified against dbus-daemon 1.14: with these rules GetId is rejected with
 * "0 matched rules". */
static void test_catch_all_quirk(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_calls = rule(POLICY_RULE_SEND, true);
        struct policy_rule allow_bcast = rule(POLICY_RULE_SEND, true);
        struct policy_msg m = call("org.freedesktop.DBus", "org.freedesktop.DBus", "GetId");
        struct policy_verdict v;

        allow_calls.send.message_type = POLICY_TYPE_METHOD_CALL;
        add(p, &DEFAULT, &allow_calls);
        CHECK(can_send(p, &alice, NULL, &m));

        allow_bcast.send.broadcast = POLICY_TRISTATE_TRUE;
        add(p, &DEFAULT, &allow_bcast);
        CHECK(!bus_policy_check_send(p, &alice, NULL, &m, &v));
        CHECK_EQ(v.n_matched, 0);
        bus_policy_unref(p);

        /* With an interface the broadcast rule is no catch-all any more. */
        p = policy_new();
        allow_bcast.send.interface = "x.y";
        add(p, &DEFAULT, &allow_calls);
        add(p, &DEFAULT, &allow_bcast);
        CHECK(bus_policy_check_send(p, &alice, NULL, &m, &v));
        bus_policy_unref(p);

        /* The catch-all hides earlier rules from later contexts too. */
        p = policy_new();
        struct policy_context ctx = user_ctx(1000);
        add(p, &DEFAULT, &allow_calls);
        add(p, &ctx, &allow_bcast);
        allow_bcast.send.interface = NULL;
        add(p, &ctx, &allow_bcast);
        CHECK(!can_send(p, &alice, NULL, &m));
        struct policy_subject other = {.uid = 1001};
        CHECK(can_send(p, &other, NULL, &m));
        bus_policy_unref(p);
}

static void test_verdict_details(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_all = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_i = rule(POLICY_RULE_SEND, false);
        struct policy_rule log_i = rule(POLICY_RULE_SEND, true);
        struct policy_msg m = call("com.example.A", "com.example.I", "M");
        struct policy_verdict v;

        allow_all.send.interface = "com.example.I";
        add(p, &DEFAULT, &allow_all);
        deny_i.send.member = "M";
        deny_i.send.interface = "com.example.I";
        add(p, &DEFAULT, &deny_i);
        CHECK(!bus_policy_check_send(p, &alice, &service, &m, &v));
        CHECK_EQ(v.n_matched, 2);
        CHECK(!v.log);

        log_i.send.interface = "com.example.I";
        log_i.send.log = true;
        add(p, &DEFAULT, &log_i);
        CHECK(bus_policy_check_send(p, &alice, &service, &m, &v));
        CHECK(v.log);
        CHECK_EQ(v.n_matched, 3);
        bus_policy_unref(p);
}

static void test_connect(void)
{
        struct bus_policy *p = policy_new();
        gid_t g[] = {100};
        struct policy_subject in_group = {.uid = 2000, .gids = g, .n_gids = 1};
        struct policy_rule allow_any = rule(POLICY_RULE_USER, true);
        struct policy_rule deny_1000 = rule(POLICY_RULE_USER, false);
        struct policy_rule deny_100 = rule(POLICY_RULE_GROUP, false);
        struct policy_rule allow_1000 = rule(POLICY_RULE_USER, true);

        allow_any.user.any = true;
        add(p, &DEFAULT, &allow_any);
        CHECK(bus_policy_check_connect(p, &alice));
        CHECK(bus_policy_check_connect(p, &in_group));

        deny_1000.user.uid = 1000;
        add(p, &DEFAULT, &deny_1000);
        deny_100.group.gid = 100;
        add(p, &DEFAULT, &deny_100);
        CHECK(!bus_policy_check_connect(p, &alice));
        CHECK(!bus_policy_check_connect(p, &in_group));

        /* Mandatory comes last. */
        allow_1000.user.uid = 1000;
        add(p, &MANDATORY, &allow_1000);
        CHECK(bus_policy_check_connect(p, &alice));

        /* Connect rules do not leak into message checks and vice versa. */
        struct policy_msg m = call("com.example.A", "com.example.I", "M");
        CHECK(!can_send(p, &alice, &service, &m));
        bus_policy_unref(p);
}

static void test_merge(void)
{
        struct bus_policy *a = policy_new(), *b = policy_new();
        struct policy_rule deny_x = own_rule(false, "com.example.X", false);
        struct policy_rule allow_x = own_rule(true, "com.example.X", false);
        struct policy_context ctx = user_ctx(1000);

        add(a, &DEFAULT, &allow_x);
        add(b, &DEFAULT, &deny_x);
        add(b, &ctx, &allow_x);
        CHECK_EQ(bus_policy_merge(a, b), 0);
        CHECK_EQ(bus_policy_n_rules(a), 3);
        CHECK_EQ(bus_policy_n_rules(b), 0);
        bus_policy_unref(b);

        struct policy_subject other = {.uid = 1001};
        CHECK(!bus_policy_check_own(a, &other, "com.example.X"));
        CHECK(bus_policy_check_own(a, &alice, "com.example.X"));
        bus_policy_unref(a);
}

static void test_origin(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow = own_rule(true, "com.example.Host", false);
        struct policy_subject host = {.uid = 1000, .origin = POLICY_ORIGIN_HOST};
        struct policy_subject container = {.uid = 1000, .origin = POLICY_ORIGIN_CONTAINER};

        allow.origin = POLICY_ORIGIN_HOST;
        add(p, &DEFAULT, &allow);
        CHECK(bus_policy_check_own(p, &host, "com.example.Host"));
        CHECK(!bus_policy_check_own(p, &container, "com.example.Host"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Host"));

        /* An origin-bound catch-all does not hide rules from other peers. */
        struct policy_rule allow_any = own_rule(true, "com.example.Any", false);
        struct policy_rule deny_all_host = own_rule(false, NULL, false);
        deny_all_host.origin = POLICY_ORIGIN_HOST;
        add(p, &DEFAULT, &allow_any);
        add(p, &DEFAULT, &deny_all_host);
        CHECK(bus_policy_check_own(p, &container, "com.example.Any"));
        CHECK(!bus_policy_check_own(p, &host, "com.example.Any"));
        bus_policy_unref(p);
}

static void test_views(void)
{
        struct bus_policy *p = NULL;
        struct bus_policy_view *v = NULL;
        struct policy_msg m = call("com.example.A", "com.example.I", "M");
        struct policy_msg unrequested = reply(":1.7", false);

        CHECK_EQ(bus_policy_new_allow_all(&p), 0);
        CHECK_EQ(bus_policy_view_new(p, &alice, &v), 0);
        /* The view keeps the policy alive. */
        bus_policy_unref(p);
        bus_policy_view_ref(v);
        CHECK(bus_policy_view_check_send(v, &service, &m, NULL));
        CHECK(bus_policy_view_check_send(v, &service, &unrequested, NULL));
        m.eavesdropping = true;
        CHECK(bus_policy_view_check_receive(v, &service, &m, NULL));
        CHECK(bus_policy_view_check_own(v, "com.example.Anything"));
        bus_policy_view_unref(v);
        bus_policy_view_unref(v);
}

/* Peers whose views would be the same share one: the same contexts apply to them (the same user, or
 * users without rules of their own, the same groups with rules) and they came in the same way. A view
 * made before the rules changed is not handed out again. */
static void test_views_are_shared(void)
{
        struct bus_policy *p = policy_new();
        struct policy_rule allow_own = own_rule(true, "com.example.Mine", false);
        add(p, &DEFAULT, &allow_own);
        struct policy_context bob_ctx = user_ctx(1001), staff = group_ctx(50);
        struct policy_rule deny_own = own_rule(false, "com.example.Mine", false);
        add(p, &bob_ctx, &deny_own);
        add(p, &staff, &deny_own);

        const gid_t alice_gids[] = {100}, staff_gids[] = {100, 50};
        const struct policy_subject a1 = {.uid = 1000, .gids = alice_gids, .n_gids = 1},
                                    carol = {.uid = 1002, .gids = alice_gids, .n_gids = 1},
                                    bob = {.uid = 1001, .gids = alice_gids, .n_gids = 1},
                                    dave = {.uid = 1003, .gids = staff_gids, .n_gids = 2},
                                    a_in_ctr = {.uid = 1000,
                                                .gids = alice_gids,
                                                .n_gids = 1,
                                                .origin = POLICY_ORIGIN_CONTAINER};
        struct bus_policy_view *v1, *v2, *vc, *vb, *vd, *vctr;
        CHECK_EQ(bus_policy_view_new(p, &a1, &v1), 0);
        CHECK_EQ(bus_policy_view_new(p, &a1, &v2), 0);
        CHECK_EQ(bus_policy_view_new(p, &carol, &vc), 0);
        CHECK_EQ(bus_policy_view_new(p, &bob, &vb), 0);
        CHECK_EQ(bus_policy_view_new(p, &dave, &vd), 0);
        CHECK_EQ(bus_policy_view_new(p, &a_in_ctr, &vctr), 0);
        CHECK(v1 == v2 && v1 == vc); /* carol has no rules of her own: alice's contexts */
        CHECK(vb != v1 && vd != v1 && vd != vb && vctr != v1);
        CHECK(bus_policy_view_check_own(v1, "com.example.Mine"));
        CHECK(!bus_policy_view_check_own(vb, "com.example.Mine"));
        CHECK(!bus_policy_view_check_own(vd, "com.example.Mine"));

        /* The last reference frees a shared view, and the next peer gets a new one that works. */
        bus_policy_view_unref(v1);
        bus_policy_view_unref(v2);
        bus_policy_view_unref(vc);
        CHECK_EQ(bus_policy_view_new(p, &a1, &v1), 0);
        CHECK(bus_policy_view_check_own(v1, "com.example.Mine"));

        /* A rule added later: the peers before keep what they had, the next one sees it. */
        struct policy_rule deny_mine = own_rule(false, "com.example.Mine", false);
        add(p, &MANDATORY, &deny_mine);
        CHECK_EQ(bus_policy_view_new(p, &a1, &v2), 0);
        CHECK(v2 != v1);
        CHECK(bus_policy_view_check_own(v1, "com.example.Mine"));
        CHECK(!bus_policy_view_check_own(v2, "com.example.Mine"));
        CHECK_EQ(bus_policy_view_new(p, &a1, &vc), 0);
        CHECK(vc == v2);

        bus_policy_unref(p); /* the views keep it */
        struct bus_policy_view *all[] = {v1, v2, vc, vb, vd, vctr};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                bus_policy_view_unref(all[i]);
}

static bool view_reads(struct bus_policy *p, const struct policy_subject *s, bool send)
{
        struct bus_policy_view *v = NULL;
        CHECK_EQ(bus_policy_view_new(p, s, &v), 0);
        bool r = send ? bus_policy_view_send_reads_names(v) : bus_policy_view_receive_reads_names(v);
        bus_policy_view_unref(v);
        return r;
}

/* A view tells whether its checks can look at the other peer's well-known names, so the bus lists
 * them only then: never for session.conf's rules, always while a live rule names a destination or
 * a sender. */
static void test_reads_names(void)
{
        struct bus_policy *p = NULL;
        CHECK_EQ(bus_policy_new_allow_all(&p), 0);
        CHECK(!view_reads(p, &alice, true));
        CHECK(!view_reads(p, &alice, false));
        bus_policy_unref(p);

        p = policy_new();
        struct policy_rule deny_to_a = rule(POLICY_RULE_SEND, false);
        deny_to_a.send.destination = "com.example.A";
        struct policy_rule deny_from_a = rule(POLICY_RULE_RECEIVE, false);
        deny_from_a.receive.sender = "com.example.A";
        struct policy_rule allow_send = rule(POLICY_RULE_SEND, true);
        struct policy_rule deny_interface = rule(POLICY_RULE_SEND, false);
        deny_interface.send.interface = "com.example.I";
        add(p, &DEFAULT, &deny_to_a);
        CHECK(view_reads(p, &alice, true));
        CHECK(!view_reads(p, &alice, false));
        /* Rules after it that name no peer do not hide it... */
        add(p, &DEFAULT, &deny_interface);
        CHECK(view_reads(p, &alice, true));
        /* ... but a catch-all does, as it hides it from every check. */
        add(p, &DEFAULT, &allow_send);
        CHECK(!view_reads(p, &alice, true));
        const struct policy_msg m = call("com.example.A", "com.example.J", "M");
        CHECK(can_send(p, &alice, &service, &m));

        /* In a later context (the user's), after the catch-all, it is live again. */
        struct policy_context ctx = user_ctx(1000);
        add(p, &ctx, &deny_to_a);
        CHECK(view_reads(p, &alice, true));
        struct policy_subject other = {.uid = 1001};
        CHECK(!view_reads(p, &other, true));

        add(p, &DEFAULT, &deny_from_a);
        CHECK(view_reads(p, &alice, false));
        bus_policy_unref(p);

        /* A rule for another origin never applies to this view. */
        p = policy_new();
        deny_from_a.origin = POLICY_ORIGIN_HOST;
        add(p, &DEFAULT, &deny_from_a);
        struct policy_subject container = {.uid = 1000, .origin = POLICY_ORIGIN_CONTAINER};
        struct policy_subject host = {.uid = 1000, .origin = POLICY_ORIGIN_HOST};
        CHECK(!view_reads(p, &container, false));
        CHECK(view_reads(p, &host, false));
        bus_policy_unref(p);
}

/* A view with one rule of a kind looks at that rule alone. Every single send and receive rule built from
 * the modifiers below, against every message below, must get the verdict (allow, log, matched count)
 * that the walk over the same rule plus a rule after it that matches nothing gets. */
static void test_sole_rule(void)
{
        static const int types[] = {POLICY_TYPE_ANY, POLICY_TYPE_METHOD_CALL, POLICY_TYPE_METHOD_RETURN,
                                    POLICY_TYPE_SIGNAL};
        static const struct policy_names *const peers[] = {&service, &nobody, NULL};
        unsigned n_checked = 0, n_allowed = 0, n_fixed = 0;

        for (unsigned bits = 0; bits < 1u << 9; bits++)
                for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                        bool send = bits & 1, allow = bits & 2;
                        struct policy_rule r = rule(send ? POLICY_RULE_SEND : POLICY_RULE_RECEIVE, allow);
                        struct policy_rule never = rule(r.type, false);
                        if (send) {
                                r.send.message_type = types[t];
                                r.send.requested_reply = bits & 4;
                                r.send.eavesdrop = bits & 8;
                                r.send.log = bits & 16;
                                r.send.broadcast = bits & 32   ? POLICY_TRISTATE_TRUE
                                                   : bits & 64 ? POLICY_TRISTATE_FALSE
                                                               : POLICY_TRISTATE_ANY;
                                r.send.destination = bits & 128 ? "com.example.A" : NULL;
                                r.send.max_fds = bits & 256 ? 0 : r.send.max_fds;
                                never.send.member = "NeverSent";
                        } else {
                                r.receive.message_type = types[t];
                                r.receive.requested_reply = bits & 4;
                                r.receive.eavesdrop = bits & 8;
                                r.receive.interface = bits & 16 ? "com.example.I" : NULL;
                                r.receive.sender = bits & 128 ? "com.example.A" : NULL;
                                r.receive.max_fds = bits & 256 ? 0 : r.receive.max_fds;
                                never.receive.member = "NeverSent";
                        }
                        struct bus_policy *one = policy_new(), *walked = policy_new();
                        add(one, &DEFAULT, &r);
                        add(walked, &DEFAULT, &r);
                        add(walked, &DEFAULT, &never);
                        /* Routing asks the view's table first (bus_policy_view_fixed_*), then the full
                         * check. */
                        struct bus_policy_view *view = NULL;
                        CHECK_EQ(bus_policy_view_new(one, &alice, &view), 0);
                        for (unsigned m_bits = 0; m_bits < 1u << 6; m_bits++)
                                for (size_t pi = 0; pi < ELEMENTSOF(peers); pi++) {
                                        struct policy_msg m = {
                                                .type = types[1 + m_bits % 3],
                                                .path = "/",
                                                .interface = m_bits & 4 ? "com.example.I" : NULL,
                                                .member = "M",
                                                .destination = m_bits & 8 ? "com.example.A" : NULL,
                                                .sender = ":1.7",
                                                .has_reply_serial = m_bits & 16,
                                                .requested_reply = m_bits & 32,
                                                .eavesdropping = !send && (m_bits & 32),
                                                .n_fds = m_bits & 1,
                                        };
                                        struct policy_verdict a, b;
                                        if (send) {
                                                bus_policy_check_send(one, &alice, peers[pi], &m, &a);
                                                bus_policy_check_send(walked, &alice, peers[pi], &m, &b);
                                        } else {
                                                bus_policy_check_receive(one, &alice, peers[pi], &m, &a);
                                                bus_policy_check_receive(walked, &alice, peers[pi], &m, &b);
                                        }
                                        CHECK_EQ(a.allow, b.allow);
                                        CHECK_EQ(a.log, b.log);
                                        CHECK_EQ(a.n_matched, b.n_matched);
                                        CHECK_EQ(send ? bus_policy_view_check_send(view, peers[pi], &m, NULL)
                                                      : bus_policy_view_check_receive(view, peers[pi], &m,
                                                                                      NULL),
                                                 a.allow);
                                        int fixed =
                                                send ? bus_policy_view_fixed_send(view, m.has_reply_serial,
                                                                                  m.requested_reply, m.n_fds)
                                                     : bus_policy_view_fixed_receive(
                                                               view, m.has_reply_serial, m.requested_reply,
                                                               m.eavesdropping, m.n_fds);
                                        CHECK(fixed == -1 || fixed == a.allow);
                                        n_fixed += fixed >= 0;
                                        n_checked++;
                                        n_allowed += a.allow;
                                }
                        bus_policy_view_unref(view);
                        bus_policy_unref(one);
                        bus_policy_unref(walked);
                }
        /* Both verdicts occur often (6.7 % of the checks allow), or the comparison above proves little. */
        CHECK(n_allowed > n_checked / 20 && n_allowed < n_checked - n_checked / 20);
        /* The table answers for the catch-alls among these rules: of the send rules those of any type
         * (1 in 4) without a broadcast condition (1 in 4) or destination (1 in 2), of the receive rules
         * those of any type without an interface or sender (1 in 16); 3 checks in 64 less those with more
         * fds than max_fds allows (1 in 4 of them). */
        CHECK(n_fixed > n_checked / 32 && n_fixed < n_checked / 16);
}

int main(void)
{
        test_default_verdicts();
        test_last_match_wins();
        test_context_order();
        test_at_console();
        test_own();
        test_requested_reply();
        test_eavesdrop();
        test_send_destination();
        test_header_fields();
        test_broadcast_and_fds();
        test_receive_sender();
        test_catch_all_quirk();
        test_verdict_details();
        test_connect();
        test_merge();
        test_origin();
        test_views();
        test_views_are_shared();
        test_reads_names();
        test_sole_rule();
        return 0;
}
