/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of pending replies (daemon/replies.c), on a bus in this process (bus-harness.h): each
 * reply reaches its caller once, whatever the order of the replies and however many calls a caller has
 * waiting (a few are found by walking the caller's list, many through the callees' maps), and a reply
 * from the wrong callee, to a serial never called or a second time is never delivered.
 */
#include "bus-harness.h"
#include "peer.h"

static struct peer *bus_peer(struct harness *h, struct client *c)
{
        struct peer *p = names_find_peer(h->bus, c->unique_name);
        CHECK(p);
        return p;
}

/* The calls each callee received, in order. */
static void take_calls(struct harness *h, struct client *callee, struct message **calls, size_t n)
{
        struct harness_inbox box = {0};
        harness_collect(h, callee, &box);
        CHECK_EQ(box.n, n);
        for (size_t i = 0; i < n; i++) {
                calls[i] = box.v[i];
                CHECK_EQ(calls[i]->type, MESSAGE_METHOD_CALL);
        }
}

/* A reply that must not reach anyone: the caller gets nothing. */
static void expect_dropped(struct harness *h, struct client *caller, struct client *from,
                           const struct message *call)
{
        harness_reply(from, call, "not yours");
        harness_expect_nothing(h, from);
        harness_expect_nothing(h, caller);
}

/* n calls to a and 3 to b, answered in an order that is neither the calls' nor its reverse. */
static void check_replies(size_t n)
{
        struct harness h;
        harness_init(&h);
        struct client *caller = harness_connect(&h), *a = harness_connect(&h), *b = harness_connect(&h);
        struct message *to_a[48], *to_b[3];
        uint32_t serial_a[48], serial_b[3];
        CHECK(n <= ELEMENTSOF(to_a));

        for (size_t i = 0; i < n; i++)
                serial_a[i] = harness_call(caller, a->unique_name, "Work", "a");
        for (size_t i = 0; i < 3; i++)
                serial_b[i] = harness_call(caller, b->unique_name, "Work", "b");
        take_calls(&h, a, to_a, n);
        take_calls(&h, b, to_b, 3);
        struct peer *p = bus_peer(&h, caller);
        CHECK_EQ(p->n_replies_waiting, n + 3);

        /* b answering a's call, and a answering a serial the caller never sent, reach nobody. */
        expect_dropped(&h, caller, b, to_a[0]);
        struct message forged = *to_a[n - 1];
        forged.serial = serial_b[2] + 100;
        expect_dropped(&h, caller, a, &forged);

        for (size_t k = 0; k < n + 3; k++) {
                /* Every seventh of a's calls from the middle out, then b's in reverse. */
                size_t i = k < n ? (k * 7 + n / 2) % n : 0;
                bool from_b = k >= n;
                if (n % 7 == 0 && !from_b)
                        i = n - 1 - k; /* 7 does not walk a multiple of itself: reverse instead */
                struct message *call = from_b ? to_b[n + 2 - k] : to_a[i];
                uint32_t serial = from_b ? serial_b[n + 2 - k] : serial_a[i];
                harness_reply(from_b ? b : a, call, "answer");
                struct message *m = harness_expect_reply(&h, caller, serial);
                CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
                CHECK_STREQ(m->sender, from_b ? b->unique_name : a->unique_name);
                message_unref(m);
                /* Once answered, never again. */
                expect_dropped(&h, caller, from_b ? b : a, call);
        }
        CHECK_EQ(p->n_replies_waiting, 0);
        CHECK(!p->replies_indexed);

        /* With nothing waiting the caller is back to its list, and the next call is answered too. */
        uint32_t serial = harness_call(caller, a->unique_name, "Work", "again");
        struct message *call;
        take_calls(&h, a, &call, 1);
        harness_reply(a, call, "answer");
        message_unref(harness_expect_reply(&h, caller, serial));
        message_unref(call);

        for (size_t i = 0; i < n; i++)
                message_unref(to_a[i]);
        for (size_t i = 0; i < 3; i++)
                message_unref(to_b[i]);
        client_free(caller);
        client_free(a);
        client_free(b);
        harness_done(&h);
        harness_check_leaks();
}

static void test_replies_in_any_order(void)
{
        /* Up to REPLIES_WALKED (8) waiting, a walk finds them; past it, the maps do. */
        static const size_t counts[] = {1, 2, 5, 6, 7, 8, 9, 14, 40, 48};
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                check_replies(counts[i]);
}

/* The same serial twice to the same callee, unanswered: one slot, and one reply answers it. */
static void test_same_serial_twice(void)
{
        for (size_t before = 0; before <= 12; before += 12) {
                struct harness h;
                harness_init(&h);
                struct client *caller = harness_connect(&h), *a = harness_connect(&h);
                struct message *calls[14];
                for (size_t i = 0; i < before; i++)
                        harness_call(caller, a->unique_name, "Work", "earlier");
                uint32_t serial = harness_call(caller, a->unique_name, "Work", "first");
                /* The client counts serials up; make the next call reuse this one. */
                caller->serial = serial - 1;
                CHECK_EQ(harness_call(caller, a->unique_name, "Work", "second"), serial);
                take_calls(&h, a, calls, before + 2);
                struct peer *p = bus_peer(&h, caller);
                CHECK_EQ(p->n_replies_waiting, before + 1);
                CHECK_EQ(p->replies_indexed, before > 8);
                harness_reply(a, calls[before], "answer");
                message_unref(harness_expect_reply(&h, caller, serial));
                expect_dropped(&h, caller, a, calls[before + 1]);
                CHECK_EQ(p->n_replies_waiting, before);
                for (size_t i = 0; i < before + 2; i++)
                        message_unref(calls[i]);
                client_free(caller);
                client_free(a);
                harness_done(&h);
        }
        harness_check_leaks();
}

/* A callee that leaves answers each of its calls with NoReply, in the order they were made, and the
 * caller's calls to others still get their replies. */
static void test_callee_gone_fails_each_call(void)
{
        struct harness h;
        harness_init(&h);
        struct client *caller = harness_connect(&h), *a = harness_connect(&h), *b = harness_connect(&h);
        uint32_t serial_a[12], serial_b[2];
        struct message *to_a[12], *to_b[2];
        for (size_t i = 0; i < 12; i++) {
                serial_a[i] = harness_call(caller, a->unique_name, "Work", "a");
                if (i < 2)
                        serial_b[i] = harness_call(caller, b->unique_name, "Work", "b");
        }
        take_calls(&h, a, to_a, 12);
        take_calls(&h, b, to_b, 2);
        CHECK(bus_peer(&h, caller)->replies_indexed);
        client_free(a);

        struct harness_inbox box = {0};
        harness_collect(&h, caller, &box);
        size_t next = 0;
        for (size_t i = 0; i < box.n; i++) {
                const struct message *m = box.v[i];
                if (m->type != MESSAGE_ERROR)
                        continue; /* NameOwnerChanged */
                CHECK_STREQ(m->error_name, "org.freedesktop.DBus.Error.NoReply");
                CHECK(next < 12);
                CHECK_EQ(m->reply_serial, serial_a[next]);
                next++;
        }
        CHECK_EQ(next, 12);
        harness_inbox_clear(&box);
        for (size_t i = 2; i-- > 0;) {
                harness_reply(b, to_b[i], "answer");
                message_unref(harness_expect_reply(&h, caller, serial_b[i]));
        }
        CHECK_EQ(bus_peer(&h, caller)->n_replies_waiting, 0);

        for (size_t i = 0; i < 12; i++)
                message_unref(to_a[i]);
        for (size_t i = 0; i < 2; i++)
                message_unref(to_b[i]);
        client_free(caller);
        client_free(b);
        harness_done(&h);
        harness_check_leaks();
}

int main(void)
{
        int failed = 0;
        RUN(test_replies_in_any_order);
        RUN(test_same_serial_twice);
        RUN(test_callee_gone_fails_each_call);
        return failed != 0;
}
