/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The name registry (daemon/names.c) as clients see it through org.freedesktop.DBus, on a bus in this
 * process (bus-harness.h). Its promise is the specification's RequestName and ReleaseName, as
 * dbus-daemon keeps it: a name has one primary owner and a queue behind it; the flags decide whether a
 * request owns the name, waits in line or is refused; the next in line takes over when the owner
 * releases the name, leaves or is replaced; and every change of primary owner is announced, NameLost
 * to the old owner, NameAcquired to the new one and NameOwnerChanged to everyone who listens. The
 * tests make the calls and compare the reply codes, ListQueuedOwners and the signals each client got
 * with what the specification says, including that nobody got anything else.
 */
#include "bus-harness.h"

#define NAME "com.example.Name"
#define OTHER_NAME "com.example.Other"

/* RequestName from c: the reply code. With box, what else c received meanwhile goes there; without,
 * the reply must be all that c received. */
static uint32_t request_name(struct harness *h, struct client *c, const char *name, uint32_t flags,
                             struct harness_inbox *box)
{
        uint32_t serial = harness_call_driver(c, "RequestName", "su", name, flags);
        if (!box)
                return harness_expect_reply_u(h, c, serial);
        harness_collect(h, c, box);
        struct message *m = harness_take_reply(box, serial);
        CHECK(m);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        message_unref(m);
        return v;
}

static uint32_t release_name(struct harness *h, struct client *c, const char *name,
                             struct harness_inbox *box)
{
        uint32_t serial = harness_call_driver(c, "ReleaseName", "s", name);
        if (!box)
                return harness_expect_reply_u(h, c, serial);
        harness_collect(h, c, box);
        struct message *m = harness_take_reply(box, serial);
        CHECK(m);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        message_unref(m);
        return v;
}

/* Take the driver's signal member about name (NameAcquired, NameLost) out of box; fail without it. */
static void take_name_signal(struct harness_inbox *box, const char *member, const char *name)
{
        struct message *m = harness_take_signal(box, member);
        CHECK(m);
        CHECK_STREQ(m->sender, DRIVER_NAME);
        const char *arg;
        CHECK(message_read(m, "s", &arg) >= 0);
        CHECK_STREQ(arg, name);
        message_unref(m);
}

/* Take NameOwnerChanged for name out of box and check its owners ("" for none); fail without it. */
static void take_owner_changed(struct harness_inbox *box, const char *name, const char *old_owner,
                               const char *new_owner)
{
        for (size_t i = 0; i < box->n; i++) {
                struct message *m = box->v[i];
                const char *n, *o, *w;
                if (m->type != MESSAGE_SIGNAL || strcmp(m->member, "NameOwnerChanged") != 0)
                        continue;
                CHECK(message_read(m, "sss", &n, &o, &w) >= 0);
                if (strcmp(n, name) != 0)
                        continue;
                CHECK_STREQ(m->sender, DRIVER_NAME);
                CHECK_STREQ(o, old_owner);
                CHECK_STREQ(w, new_owner);
                message_unref(harness_inbox_take(box, i));
                return;
        }
        fprintf(stderr, "no NameOwnerChanged for %s\n", name);
        CHECK(!"NameOwnerChanged missing");
}

/* A client that hears every NameOwnerChanged from now on. */
static struct client *connect_watcher(struct harness *h)
{
        struct client *w = harness_connect(h);
        uint32_t serial = harness_call_driver(
                w, "AddMatch", "s", "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'");
        harness_expect_reply_empty(h, w, serial);
        return w;
}

/* ListQueuedOwners(name), asked by c, is expected: unique names, primary owner first, NULL-terminated. */
static void expect_queue(struct harness *h, struct client *c, const char *name, const char *const *expected)
{
        uint32_t serial = harness_call_driver(c, "ListQueuedOwners", "s", name);
        struct message *m = harness_expect_reply(h, c, serial);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        const char **owners;
        CHECK(message_read(m, "as", &owners) >= 0);
        size_t i = 0;
        for (; expected[i]; i++)
                CHECK_STREQ(owners[i], expected[i]);
        CHECK(owners[i] == NULL);
        free(owners);
        message_unref(m);
}

/* GetNameOwner(name), asked by c, is owner; NULL: the name has none. */
static void expect_owner(struct harness *h, struct client *c, const char *name, const char *owner)
{
        uint32_t serial = harness_call_driver(c, "GetNameOwner", "s", name);
        if (!owner) {
                harness_expect_error(h, c, serial, "org.freedesktop.DBus.Error.NameHasNoOwner");
                return;
        }
        struct message *m = harness_expect_reply(h, c, serial);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        const char *s;
        CHECK(message_read(m, "s", &s) >= 0);
        CHECK_STREQ(s, owner);
        message_unref(m);
}

#define QUEUE(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- tests ---- */

/* The first to ask owns the name and everyone is told; asking again changes nothing. */
static void test_first_request_owns(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0}, seen = {0};

        CHECK_EQ(request_name(&h, a, NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, "", a->unique_name);
        harness_inbox_expect_empty(&seen);
        expect_owner(&h, w, NAME, a->unique_name);
        expect_queue(&h, w, NAME, QUEUE(a->unique_name));

        /* Whatever the flags, the owner asking again is ALREADY_OWNER, with no signal to anyone. */
        CHECK_EQ(request_name(&h, a, NAME, 0, NULL), NAME_REPLY_ALREADY_OWNER);
        CHECK_EQ(request_name(&h, a, NAME, NAME_FLAG_DO_NOT_QUEUE | NAME_FLAG_REPLACE_EXISTING, NULL),
                 NAME_REPLY_ALREADY_OWNER);
        harness_expect_nothing(&h, w);
        expect_owner(&h, w, NAME, a->unique_name);

        client_free(a);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* Without replacement the others wait in line in the order they asked; DO_NOT_QUEUE refuses to wait. */
static void test_queue_in_order(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *c = harness_connect(&h),
                      *d = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0};

        CHECK_EQ(request_name(&h, a, NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        harness_collect(&h, w, &box);
        harness_inbox_clear(&box);

        CHECK_EQ(request_name(&h, b, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(request_name(&h, c, NAME, NAME_FLAG_ALLOW_REPLACEMENT, NULL), NAME_REPLY_IN_QUEUE);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name));
        /* Asking again keeps a waiting peer's place. */
        CHECK_EQ(request_name(&h, b, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name));

        /* DO_NOT_QUEUE: EXISTS, and no place in line. */
        CHECK_EQ(request_name(&h, d, NAME, NAME_FLAG_DO_NOT_QUEUE, NULL), NAME_REPLY_EXISTS);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name));
        /* A waiting peer that asks again with DO_NOT_QUEUE leaves the line (dbus-daemon does the same). */
        CHECK_EQ(request_name(&h, b, NAME, NAME_FLAG_DO_NOT_QUEUE, NULL), NAME_REPLY_EXISTS);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, c->unique_name));

        /* None of this changed the owner: nobody was told anything. */
        harness_expect_nothing(&h, w);
        harness_expect_nothing(&h, a);
        expect_owner(&h, d, NAME, a->unique_name);

        client_free(a);
        client_free(b);
        client_free(c);
        client_free(d);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* REPLACE_EXISTING takes a name only from an owner that allowed it; otherwise it gets the second place in
 * line, ahead of those already waiting (bus_service_add_owner in dbus-daemon), or EXISTS with
 * DO_NOT_QUEUE. */
static void test_replace_needs_allow_replacement(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *c = harness_connect(&h),
                      *d = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0};

        CHECK_EQ(request_name(&h, a, NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        harness_collect(&h, w, &box);
        harness_inbox_clear(&box);

        CHECK_EQ(request_name(&h, c, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(request_name(&h, b, NAME, NAME_FLAG_REPLACE_EXISTING, NULL), NAME_REPLY_IN_QUEUE);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name));
        CHECK_EQ(request_name(&h, d, NAME, NAME_FLAG_REPLACE_EXISTING | NAME_FLAG_DO_NOT_QUEUE, NULL),
                 NAME_REPLY_EXISTS);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name));

        /* An owner that allows replacement is still not replaced by a request without REPLACE_EXISTING. */
        CHECK_EQ(request_name(&h, a, NAME, NAME_FLAG_ALLOW_REPLACEMENT, NULL), NAME_REPLY_ALREADY_OWNER);
        CHECK_EQ(request_name(&h, d, NAME, NAME_FLAG_DO_NOT_QUEUE, NULL), NAME_REPLY_EXISTS);
        CHECK_EQ(request_name(&h, d, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        expect_queue(&h, w, NAME, QUEUE(a->unique_name, b->unique_name, c->unique_name, d->unique_name));

        harness_expect_nothing(&h, w);
        harness_expect_nothing(&h, a);
        expect_owner(&h, w, NAME, a->unique_name);

        client_free(a);
        client_free(b);
        client_free(c);
        client_free(d);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* An owner that allowed replacement loses the name to REPLACE_EXISTING: NameLost to it, NameAcquired to the
 * new owner, NameOwnerChanged to listeners. It waits right behind the new owner unless it had said
 * DO_NOT_QUEUE, and gets the name back when the new owner lets go. */
static void test_replacement(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *c = harness_connect(&h),
                      *w = connect_watcher(&h);
        struct harness_inbox box = {0}, seen = {0};

        CHECK_EQ(request_name(&h, a, NAME, NAME_FLAG_ALLOW_REPLACEMENT, &box), NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        CHECK_EQ(request_name(&h, c, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        harness_collect(&h, w, &seen);
        harness_inbox_clear(&seen);

        CHECK_EQ(request_name(&h, b, NAME, NAME_FLAG_REPLACE_EXISTING, &box), NAME_REPLY_PRIMARY_OWNER);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, a, &box);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, a->unique_name, b->unique_name);
        harness_inbox_expect_empty(&seen);
        harness_expect_nothing(&h, c);
        expect_owner(&h, w, NAME, b->unique_name);
        expect_queue(&h, w, NAME, QUEUE(b->unique_name, a->unique_name, c->unique_name));

        /* The new owner lets go: the old one is first in line again. */
        CHECK_EQ(release_name(&h, b, NAME, &box), NAME_RELEASE_RELEASED);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, a, &box);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, b->unique_name, a->unique_name);
        harness_inbox_expect_empty(&seen);
        expect_queue(&h, w, NAME, QUEUE(a->unique_name, c->unique_name));

        client_free(a);
        client_free(b);
        client_free(c);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* An owner that said ALLOW_REPLACEMENT | DO_NOT_QUEUE is out of the queue once replaced. */
static void test_replaced_do_not_queue_owner_leaves(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0}, seen = {0};

        CHECK_EQ(request_name(&h, a, NAME, NAME_FLAG_ALLOW_REPLACEMENT | NAME_FLAG_DO_NOT_QUEUE, &box),
                 NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        harness_collect(&h, w, &seen);
        harness_inbox_clear(&seen);

        CHECK_EQ(request_name(&h, b, NAME, NAME_FLAG_REPLACE_EXISTING | NAME_FLAG_DO_NOT_QUEUE, &box),
                 NAME_REPLY_PRIMARY_OWNER);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, a, &box);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, a->unique_name, b->unique_name);
        harness_inbox_expect_empty(&seen);
        expect_queue(&h, w, NAME, QUEUE(b->unique_name));
        /* a holds nothing of the name any more. */
        CHECK_EQ(release_name(&h, a, NAME, NULL), NAME_RELEASE_NOT_OWNER);

        /* b lets go and nobody is left. */
        CHECK_EQ(release_name(&h, b, NAME, &box), NAME_RELEASE_RELEASED);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_expect_nothing(&h, a);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, b->unique_name, "");
        harness_inbox_expect_empty(&seen);
        expect_owner(&h, w, NAME, NULL);

        client_free(a);
        client_free(b);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* ReleaseName: RELEASED for the owner and for a peer in line, NOT_OWNER for others, NON_EXISTENT for a
 * name without owners. The owner releasing hands the name to the next in line. */
static void test_release(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *c = harness_connect(&h),
                      *d = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0}, seen = {0};

        CHECK_EQ(release_name(&h, a, NAME, NULL), NAME_RELEASE_NON_EXISTENT);

        CHECK_EQ(request_name(&h, a, NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        CHECK_EQ(request_name(&h, b, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(request_name(&h, c, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        harness_collect(&h, w, &seen);
        harness_inbox_clear(&seen);

        CHECK_EQ(release_name(&h, d, NAME, NULL), NAME_RELEASE_NOT_OWNER);

        /* A peer in line leaves the line: no owner changed, nobody is told. */
        CHECK_EQ(release_name(&h, c, NAME, NULL), NAME_RELEASE_RELEASED);
        expect_queue(&h, d, NAME, QUEUE(a->unique_name, b->unique_name));
        harness_expect_nothing(&h, w);
        harness_expect_nothing(&h, a);
        harness_expect_nothing(&h, b);
        CHECK_EQ(release_name(&h, c, NAME, NULL), NAME_RELEASE_NOT_OWNER);
        CHECK_EQ(request_name(&h, d, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);

        /* The owner releases: the next in line, not the last, owns it. */
        CHECK_EQ(release_name(&h, a, NAME, &box), NAME_RELEASE_RELEASED);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, b, &box);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, a->unique_name, b->unique_name);
        harness_inbox_expect_empty(&seen);
        expect_queue(&h, c, NAME, QUEUE(b->unique_name, d->unique_name));
        harness_expect_nothing(&h, d);

        /* The others go: no owner, and the name is gone. */
        CHECK_EQ(release_name(&h, d, NAME, NULL), NAME_RELEASE_RELEASED);
        harness_expect_nothing(&h, w);
        CHECK_EQ(release_name(&h, b, NAME, &box), NAME_RELEASE_RELEASED);
        take_name_signal(&box, "NameLost", NAME);
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, b->unique_name, "");
        harness_inbox_expect_empty(&seen);
        expect_owner(&h, c, NAME, NULL);
        CHECK_EQ(release_name(&h, b, NAME, NULL), NAME_RELEASE_NON_EXISTENT);

        client_free(a);
        client_free(b);
        client_free(c);
        client_free(d);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* A connection that closes releases every name it held: the next in line owns it, listeners hear of
 * each change, then of the unique name going. A peer that only waited in line just leaves it. */
static void test_disconnect_releases(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *b = harness_connect(&h), *c = harness_connect(&h),
                      *d = harness_connect(&h), *w = connect_watcher(&h);
        struct harness_inbox box = {0}, seen = {0};

        CHECK_EQ(request_name(&h, a, NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(request_name(&h, a, OTHER_NAME, 0, &box), NAME_REPLY_PRIMARY_OWNER);
        harness_inbox_clear(&box);
        CHECK_EQ(request_name(&h, b, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(request_name(&h, c, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        CHECK_EQ(request_name(&h, d, NAME, 0, NULL), NAME_REPLY_IN_QUEUE);
        harness_collect(&h, w, &seen);
        harness_inbox_clear(&seen);

        /* c, only waiting, goes: the name's owner did not change, so only c's unique name is announced. */
        char c_name[64];
        snprintf(c_name, sizeof(c_name), "%s", c->unique_name);
        client_free(c);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, c_name, c_name, "");
        harness_inbox_expect_empty(&seen);
        expect_queue(&h, w, NAME, QUEUE(a->unique_name, b->unique_name, d->unique_name));

        char a_name[64];
        snprintf(a_name, sizeof(a_name), "%s", a->unique_name);
        client_free(a);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, NAME, a_name, b->unique_name);
        take_owner_changed(&seen, OTHER_NAME, a_name, "");
        take_owner_changed(&seen, a_name, a_name, "");
        harness_inbox_expect_empty(&seen);
        harness_collect(&h, b, &box);
        take_name_signal(&box, "NameAcquired", NAME);
        harness_inbox_expect_empty(&box);
        harness_expect_nothing(&h, d);
        expect_owner(&h, w, NAME, b->unique_name);
        expect_queue(&h, w, NAME, QUEUE(b->unique_name, d->unique_name));
        expect_owner(&h, w, OTHER_NAME, NULL);

        client_free(b);
        client_free(d);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* Names that are not valid bus names, unique names and the bus's own name are InvalidArgs for both
 * calls, and nothing is owned afterwards. */
static void test_invalid_names(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h), *w = connect_watcher(&h);
        const char *const invalid[] = {
                "",
                "com",
                "com..example",
                "com.example.",
                ".com.example",
                "1com.example",
                "com.1example",
                "com.exa/mple",
                "com.exa mple",
                ":1",
                ":1.0.",
                "org.freedesktop.DBus",
        };
        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
                uint32_t s = harness_call_driver(a, "RequestName", "su", invalid[i], 0);
                harness_expect_error(&h, a, s, "org.freedesktop.DBus.Error.InvalidArgs");
                s = harness_call_driver(a, "ReleaseName", "s", invalid[i]);
                harness_expect_error(&h, a, s, "org.freedesktop.DBus.Error.InvalidArgs");
        }
        /* Unique names are valid bus names, but only the bus hands them out (specification, RequestName). */
        const char *const unique[] = {":1.77", ":x.y", w->unique_name, a->unique_name};
        for (size_t i = 0; i < sizeof(unique) / sizeof(unique[0]); i++) {
                uint32_t s = harness_call_driver(a, "RequestName", "su", unique[i], 0);
                harness_expect_error(&h, a, s, "org.freedesktop.DBus.Error.InvalidArgs");
                s = harness_call_driver(a, "ReleaseName", "s", unique[i]);
                harness_expect_error(&h, a, s, "org.freedesktop.DBus.Error.InvalidArgs");
        }
        harness_expect_nothing(&h, w);
        /* The refusals left no trace in the registry: w's own name is still its own, and a valid name
         * can still be owned. */
        expect_owner(&h, a, w->unique_name, w->unique_name);
        expect_owner(&h, a, ":1.77", NULL);
        struct harness_inbox box = {0}, seen = {0};
        CHECK_EQ(request_name(&h, a, "com.example_2.a-b", 0, &box), NAME_REPLY_PRIMARY_OWNER);
        take_name_signal(&box, "NameAcquired", "com.example_2.a-b");
        harness_inbox_expect_empty(&box);
        harness_collect(&h, w, &seen);
        take_owner_changed(&seen, "com.example_2.a-b", "", a->unique_name);
        harness_inbox_expect_empty(&seen);

        client_free(a);
        client_free(w);
        harness_done(&h);
        harness_check_leaks();
}

/* A unique name finds its peer when it is exactly ":1." and the peer's id in decimal, and nothing when it
 * is any other spelling of that number or a number past what an id can be. */
static void test_find_peer_by_unique_name(void)
{
        struct harness h;
        harness_init(&h);
        struct client *a = harness_connect(&h);
        for (int i = 0; i < 11; i++)
                harness_connect(&h); /* ids up to 11: two digits */
        struct peer *p = names_find_peer(h.bus, a->unique_name);
        CHECK(p && streq(p->unique_name, a->unique_name));
        struct peer *last = names_find_peer(h.bus, ":1.11");
        CHECK(last && last->id == 11);
        CHECK(names_find_peer(h.bus, ":1.0") == p);
        const char *const none[] = {":1.011", ":1.+11", ":1.-1", ":1. 11", ":1.11 ", ":1.11x", ":1.1e1",
                                    ":1.", ":1", ":2.11", ":1.12", "1.11", ":1.0x11",
                                    /* 2^64 + 11 and 2^64 - 1: past any id, and no wrap-around to 11 */
                                    ":1.18446744073709551627", ":1.18446744073709551615"};
        for (size_t i = 0; i < ELEMENTSOF(none); i++)
                if (names_find_peer(h.bus, none[i])) {
                        fprintf(stderr, "\"%s\" found a peer\n", none[i]);
                        CHECK(!"a misspelt unique name found a peer");
                }
        harness_done(&h);
}

int main(void)
{
        int failed = 0;
        RUN(test_first_request_owns);
        RUN(test_queue_in_order);
        RUN(test_replace_needs_allow_replacement);
        RUN(test_replacement);
        RUN(test_replaced_do_not_queue_owner_leaves);
        RUN(test_release);
        RUN(test_disconnect_releases);
        RUN(test_invalid_names);
        RUN(test_find_peer_by_unique_name);
        return failed != 0;
}
