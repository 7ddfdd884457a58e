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
#include "test.h"

struct harness {
        struct bus *bus;
        uint8_t scratch[64 * 1024];
};

static inline void harness_init(struct harness *h)
{
        CHECK(bus_new(&h->bus) >= 0);
}

static inline void harness_done(struct harness *h)
{
        bus_free(h->bus);
        h->bus = NULL;
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
                r = client_receive(c, h->scratch, sizeof(h->scratch), first, ret);
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
