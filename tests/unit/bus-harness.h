/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bus in the test's own process, for unit tests of the daemon's modules: a real struct bus from
 * nsbusd-core, its peers connected over socketpairs to lib/client.c clients, and the event loop turned
 * by hand (bus_run_once), so a test sees exactly what the bus did with each message and nothing runs
 * behind its back. Peers are the test process itself: host root when the test runs as root.
 */
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include "bus.h"
#include "client.h"
#include "names.h"
#include "test.h"

struct harness {
        struct bus *bus;
        struct io_scratch scratch;
};

static inline void harness_init(struct harness *h)
{
        CHECK(bus_new(&h->bus) >= 0);
        h->scratch = io_scratch_owned(IO_SCRATCH_SIZE);
}

static inline void harness_done(struct harness *h)
{
        bus_free(h->bus);
        h->bus = NULL;
        io_scratch_done(&h->scratch);
}

/* Turn the loop until it has nothing left to do right now. */
static inline void harness_settle(struct harness *h)
{
        for (int i = 0; i < 64; i++)
                if (bus_run_once(h->bus, 0) == 0)
                        return;
        CHECK(!"the bus kept finding work for 64 turns");
}

/* Write what the client has queued, let the bus handle it, and read what came back: 1 and *ret for the
 * next message, 0 for nothing, -ECONNRESET when the bus closed the connection. Hello's reply is taken
 * by the client itself. */
static inline int harness_pump(struct harness *h, struct client *c, struct message **ret)
{
        int r = client_flush(c);
        CHECK(r >= 0 || r == -EAGAIN || r == -EPIPE || r == -ECONNRESET);
        harness_settle(h);
        for (bool first = true;; first = false) {
                r = client_receive(c, &h->scratch, first, ret);
                if (r != 0 || !first)
                        return r;
        }
}

/* A client connected to the bus and past Hello. */
static inline struct client *harness_connect(struct harness *h)
{
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK(bus_add_peer(h->bus, sv[0], ORIGIN_BUS) == 0);
        struct client *c;
        CHECK(client_new(sv[1], geteuid(), &c) == 0);
        /* Hello's reply names it (the client takes that itself); NameAcquired follows. */
        struct message *m = NULL;
        int r = 0;
        for (int i = 0; i < 8 && r == 0; i++)
                r = harness_pump(h, c, &m);
        CHECK_EQ(r, 1);
        CHECK(c->unique_name);
        CHECK_STREQ(m->member, "NameAcquired");
        message_unref(m);
        return c;
}

/* Send a method call from c to dest with one string argument; returns its serial. */
static inline uint32_t harness_call(struct client *c, const char *dest, const char *member, const char *arg)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b.destination = dest;
        b.path = "/org/example";
        b.interface = "org.example.Test";
        b.member = member;
        CHECK(msg_builder_append(&b, "s", arg) >= 0);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        uint32_t serial = m->serial;
        CHECK(client_queue(c, m) >= 0);
        message_unref(m);
        CHECK(client_flush(c) >= 0);
        return serial;
}

/* Send the reply to call from c (the callee), with one string. */
static inline void harness_reply(struct client *c, const struct message *call, const char *arg)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_RETURN, client_next_serial(c));
        b.destination = call->sender;
        b.reply_serial = call->serial;
        CHECK(msg_builder_append(&b, "s", arg) >= 0);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        CHECK(client_queue(c, m) >= 0);
        message_unref(m);
        CHECK(client_flush(c) >= 0);
}

/* ---- conversations with the bus driver, and what a client received ---- */

/* A call c has queued, written out; its serial. */
static inline uint32_t harness_written(struct client *c, int64_t serial)
{
        CHECK(serial > 0);
        CHECK(client_flush(c) >= 0);
        return (uint32_t)serial;
}

/* Call a method of org.freedesktop.DBus from c, with arguments as client_call_driver() takes them
 * (harness_call_driver(c, "RequestName", "su", name, flags)); returns the call's serial. A macro, to pass
 * the arguments on: c is evaluated twice. */
#define harness_call_driver(c, member, ...)                                                                 \
        harness_written((c), client_call_driver((c), (member), __VA_ARGS__))

/* Send a signal from c to dest (NULL: a broadcast) with string-like arguments, one of args for each
 * character of sig ('s', 'o' or 'g'); returns its serial. */
static inline uint32_t harness_signal(struct client *c, const char *dest, const char *path,
                                      const char *interface, const char *member, const char *sig,
                                      const char *const *args)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_SIGNAL, client_next_serial(c));
        b.destination = dest;
        b.path = path;
        b.interface = interface;
        b.member = member;
        for (size_t i = 0; sig[i]; i++)
                CHECK(msg_builder_append_basic(&b, sig[i], &args[i]) >= 0);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        uint32_t serial = m->serial;
        CHECK(client_queue(c, m) >= 0);
        message_unref(m);
        CHECK(client_flush(c) >= 0);
        return serial;
}

/* Messages a client received that the test has not looked at yet, in arrival order. */
struct harness_inbox {
        struct message *v[64];
        size_t n;
};

/* Let the bus handle what c sent, and add everything the bus has for c now to box. */
static inline void harness_collect(struct harness *h, struct client *c, struct harness_inbox *box)
{
        for (;;) {
                struct message *m = NULL;
                int r = harness_pump(h, c, &m);
                if (r == 0)
                        return;
                CHECK_EQ(r, 1);
                CHECK(box->n < sizeof(box->v) / sizeof(box->v[0]));
                box->v[box->n++] = m;
        }
}

/* Message i of box, taken out: the test unrefs it. */
static inline struct message *harness_inbox_take(struct harness_inbox *box, size_t i)
{
        struct message *m = box->v[i];
        memmove(&box->v[i], &box->v[i + 1], (box->n - i - 1) * sizeof(box->v[0]));
        box->n--;
        return m;
}

/* The first message in box that answers serial (a method return or an error), taken out; NULL if none. */
static inline struct message *harness_take_reply(struct harness_inbox *box, uint32_t serial)
{
        for (size_t i = 0; i < box->n; i++)
                if ((box->v[i]->type == MESSAGE_METHOD_RETURN || box->v[i]->type == MESSAGE_ERROR) &&
                    box->v[i]->reply_serial == serial)
                        return harness_inbox_take(box, i);
        return NULL;
}

/* The first signal called member in box, taken out; NULL if none. */
static inline struct message *harness_take_signal(struct harness_inbox *box, const char *member)
{
        for (size_t i = 0; i < box->n; i++)
                if (box->v[i]->type == MESSAGE_SIGNAL && box->v[i]->member &&
                    strcmp(box->v[i]->member, member) == 0)
                        return harness_inbox_take(box, i);
        return NULL;
}

/* Fail, saying what was there, unless the test has looked at everything in box. */
static inline void harness_inbox_expect_empty(struct harness_inbox *box)
{
        for (size_t i = 0; i < box->n; i++) {
                const struct message *m = box->v[i];
                fprintf(stderr, "unexpected message: %s member=%s error=%s reply_serial=%u sender=%s\n",
                        message_type_to_string(m->type), m->member ?: "-", m->error_name ?: "-",
                        m->reply_serial, m->sender ?: "-");
        }
        CHECK_EQ(box->n, 0);
}

/* Drop what box still holds. */
static inline void harness_inbox_clear(struct harness_inbox *box)
{
        while (box->n > 0)
                message_unref(box->v[--box->n]);
}

/* The answer to c's call serial, which must be all that c receives now: a method return or an error,
 * for the caller to unref. */
static inline struct message *harness_expect_reply(struct harness *h, struct client *c, uint32_t serial)
{
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        struct message *m = harness_take_reply(&box, serial);
        if (!m)
                fprintf(stderr, "no answer to call %u\n", serial);
        harness_inbox_expect_empty(&box);
        CHECK(m);
        return m;
}

/* The same for an answer that must be the error called name. */
static inline void harness_expect_error(struct harness *h, struct client *c, uint32_t serial,
                                        const char *name)
{
        struct message *m = harness_expect_reply(h, c, serial);
        if (m->type != MESSAGE_ERROR)
                fprintf(stderr, "call %u: %s instead of %s\n", serial, message_type_to_string(m->type),
                        name);
        CHECK_EQ(m->type, MESSAGE_ERROR);
        CHECK_STREQ(m->error_name, name);
        message_unref(m);
}

/* The same for an answer that must be a method return of one uint32, which is returned. */
static inline uint32_t harness_expect_reply_u(struct harness *h, struct client *c, uint32_t serial)
{
        struct message *m = harness_expect_reply(h, c, serial);
        if (m->type == MESSAGE_ERROR)
                fprintf(stderr, "call %u: error %s\n", serial, m->error_name);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        message_unref(m);
        return v;
}

/* RequestName(name, 0) from c: the reply code, or 0 for LimitsExceeded (any other error fails the test).
 * What else c got meanwhile (NameAcquired) is dropped. */
static inline uint32_t harness_request_name(struct harness *h, struct client *c, const char *name)
{
        uint32_t serial = harness_call_driver(c, "RequestName", "su", name, 0);
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m);
        uint32_t v = 0;
        if (m->type == MESSAGE_ERROR)
                CHECK_STREQ(m->error_name, "org.freedesktop.DBus.Error.LimitsExceeded");
        else
                CHECK(message_read(m, "u", &v) >= 0 && v != 0);
        message_unref(m);
        harness_inbox_clear(&box);
        return v;
}

/* The same for a method return without arguments (AddMatch, RemoveMatch). */
static inline void harness_expect_reply_empty(struct harness *h, struct client *c, uint32_t serial)
{
        struct message *m = harness_expect_reply(h, c, serial);
        if (m->type == MESSAGE_ERROR)
                fprintf(stderr, "call %u: error %s\n", serial, m->error_name);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        CHECK_STREQ(m->signature, "");
        message_unref(m);
}

/* A client turned monitor of everything (org.freedesktop.DBus.Monitoring.BecomeMonitor). */
static inline struct client *harness_connect_monitor(struct harness *h)
{
        struct client *mon = harness_connect(h);
        static const char *const no_rules[] = {NULL};
        uint32_t serial =
                harness_written(mon, client_call_driver_on(mon, "org.freedesktop.DBus.Monitoring",
                                                           "BecomeMonitor", "asu", no_rules, (uint32_t)0));
        struct harness_inbox box = {0};
        harness_collect(h, mon, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m && m->type == MESSAGE_METHOD_RETURN);
        message_unref(m);
        harness_inbox_clear(&box); /* NameLost of its unique name */
        return mon;
}

/* That the bus has nothing for c. */
static inline void harness_expect_nothing(struct harness *h, struct client *c)
{
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        harness_inbox_expect_empty(&box);
}

/* Under LeakSanitizer, fail unless everything the test allocated was freed: tests run in forked children
 * that end with _exit(), where LeakSanitizer's own check at exit never runs. Without it, nothing. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static inline void harness_check_leaks(void)
{
        if (__lsan_do_recoverable_leak_check)
                CHECK_EQ(__lsan_do_recoverable_leak_check(), 0);
}
