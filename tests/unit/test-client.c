/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client side of a connection (lib/client.c), against a hand-played bus on a socketpair: what it
 * writes before the bus answered its SASL opening, and what it does with messages that carry fds.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "io.h"
#include "message.h"
#include "test.h"

#define GUID "0123456789abcdef0123456789abcdef"

/* A call to some peer that carries a dup of stdin. */
static void queue_call_with_fd(struct client *c)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b.destination = ":1.7";
        b.path = "/";
        b.member = "TakeFd";
        int fd = 0;
        CHECK(msg_builder_append_basic(&b, 'h', &fd) >= 0);
        struct message *m = NULL;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        CHECK(client_queue(c, m) >= 0);
        message_unref(m);
}

/* Read what the client wrote so far: bytes into buf, and how many fds came with them. */
static size_t drain(int fd, char *buf, size_t size, size_t *n_fds)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control;
        size_t total = 0;
        *n_fds = 0;
        for (;;) {
                struct iovec iov = {buf + total, size - total};
                struct msghdr mh = {.msg_iov = &iov,
                                    .msg_iovlen = 1,
                                    .msg_control = &control,
                                    .msg_controllen = sizeof(control)};
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EAGAIN)
                        return total;
                CHECK(n > 0);
                total += (size_t)n;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                                continue;
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        int fds[8];
                        memcpy(fds, CMSG_DATA(c), k * sizeof(int));
                        for (size_t i = 0; i < k; i++)
                                close(fds[i]);
                        *n_fds += k;
                }
        }
}

/* Feed the client the bus's SASL answer and let it read it. */
static void answer_sasl(struct client *c, int bus, const char *answer)
{
        CHECK_EQ(write(bus, answer, strlen(answer)), (ssize_t)strlen(answer));
        static uint8_t buf[4096];
        static struct io_scratch scratch = {.data = buf, .size = sizeof(buf)};
        struct message *m = NULL;
        CHECK_EQ(client_receive(c, &scratch, true, &m), 0);
        CHECK(c->authenticated);
}

static struct client *client_on_pair(int *bus)
{
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        struct client *c = NULL;
        CHECK(client_new(sv[0], getuid(), &c) >= 0);
        *bus = sv[1];
        return c;
}

/* Without fds queued, the opening and Hello go out at once, before any answer (one round trip less). */
static void test_pipelines_opening_and_hello(void)
{
        int bus;
        struct client *c = client_on_pair(&bus);
        CHECK(client_wants_write(c));
        CHECK_EQ(client_flush(c), 0);
        char buf[4096];
        size_t n_fds;
        size_t n = drain(bus, buf, sizeof(buf), &n_fds);
        CHECK(n > c->auth_len); /* SASL lines and the Hello behind them */
        CHECK(memmem(buf, n, "BEGIN\r\n", 7) != NULL);
        CHECK(!client_wants_write(c));
        client_free(c);
        close(bus);
}

/* A message with fds waits for AGREE_UNIX_FD: the bus may refuse fds, and if it agrees, the agreement
 * must come before fds (a bus may disconnect a client whose fds arrive with its SASL lines). */
static void test_fds_wait_for_agreement(void)
{
        int bus;
        struct client *c = client_on_pair(&bus);
        queue_call_with_fd(c);
        CHECK_EQ(client_flush(c), 0);
        char buf[4096];
        size_t n_fds;
        size_t n = drain(bus, buf, sizeof(buf), &n_fds);
        CHECK_EQ(n, c->auth_len); /* the SASL lines only: Hello waits behind the call it precedes */
        CHECK_EQ(n_fds, 0);
        CHECK(!client_wants_write(c)); /* nothing to poll for until the bus answers */

        answer_sasl(c, bus, "OK " GUID "\r\nAGREE_UNIX_FD\r\n");
        CHECK(c->unix_fds);
        CHECK(client_wants_write(c));
        CHECK_EQ(client_flush(c), 0);
        n = drain(bus, buf, sizeof(buf), &n_fds);
        CHECK(n > 0);
        CHECK_EQ(n_fds, 1);
        CHECK(!client_wants_write(c));
        client_free(c);
        close(bus);
}

/* A bus that did not agree to fds is never sent any: the flush says why instead. */
static void test_fds_refused_by_the_bus(void)
{
        int bus;
        struct client *c = client_on_pair(&bus);
        queue_call_with_fd(c);
        CHECK_EQ(client_flush(c), 0);
        char buf[4096];
        size_t n_fds;
        drain(bus, buf, sizeof(buf), &n_fds);

        answer_sasl(c, bus, "OK " GUID "\r\nERROR\r\n");
        CHECK(!c->unix_fds);
        CHECK(client_wants_write(c));
        CHECK_EQ(client_flush(c), -EOPNOTSUPP);
        CHECK_EQ(drain(bus, buf, sizeof(buf), &n_fds), 0);
        CHECK_EQ(n_fds, 0);
        client_free(c);
        close(bus);
}

/* Write m's bytes to fd (the hand-played bus's end). */
static void bus_send(int fd, struct message *m, size_t n_bytes)
{
        n_bytes = MIN(n_bytes, m->out_header_size + m->body_size);
        size_t head = MIN(n_bytes, m->out_header_size);
        CHECK_EQ(write(fd, m->out_header, head), (ssize_t)head);
        if (n_bytes > head)
                CHECK_EQ(write(fd, m->data + m->body_offset, n_bytes - head), (ssize_t)(n_bytes - head));
        message_unref(m);
}

static struct message *bus_message(uint8_t type, uint32_t serial, uint32_t reply_serial, const char *text)
{
        struct msg_builder b;
        msg_builder_init(&b, type, serial);
        b.reply_serial = reply_serial;
        if (type == MESSAGE_SIGNAL) {
                b.path = "/org/freedesktop/DBus";
                b.interface = "org.freedesktop.DBus";
                b.member = "NameAcquired";
        }
        b.sender = "org.freedesktop.DBus";
        CHECK(msg_builder_append(&b, "s", text) >= 0);
        struct message *m = NULL;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        return m;
}

/* What the bus sent in the same read behind a blocking call's reply is not lost with the call's read
 * buffer: the next client_receive() hands it out, complete messages first, then the one that was cut. */
static void test_blocking_call_keeps_what_came_behind_the_reply(void)
{
        int bus;
        struct client *c = client_on_pair(&bus);
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b.destination = "org.freedesktop.DBus";
        b.path = "/org/freedesktop/DBus";
        b.interface = "org.freedesktop.DBus";
        b.member = "GetId";
        struct message *call = NULL;
        CHECK(msg_builder_finish(&b, &call) >= 0);

        /* Everything the bus will say, written before the call so that one read takes it all. */
        static const char sasl[] = "OK " GUID "\r\nAGREE_UNIX_FD\r\n";
        CHECK_EQ(write(bus, sasl, strlen(sasl)), (ssize_t)strlen(sasl));
        bus_send(bus, bus_message(MESSAGE_METHOD_RETURN, 1, c->hello_serial, ":1.5"), SIZE_MAX / 2);
        bus_send(bus, bus_message(MESSAGE_METHOD_RETURN, 2, call->serial, GUID), SIZE_MAX / 2);
        bus_send(bus, bus_message(MESSAGE_SIGNAL, 3, 0, "one"), SIZE_MAX / 2);
        bus_send(bus, bus_message(MESSAGE_SIGNAL, 4, 0, "two"), SIZE_MAX / 2);
        struct message *third = bus_message(MESSAGE_SIGNAL, 5, 0, "three");
        size_t third_size = third->out_header_size + third->body_size;
        message_ref(third);
        bus_send(bus, third, 20);

        struct message *reply = NULL;
        CHECK_EQ(client_call_blocking(c, call, 5000, &reply), 0);
        CHECK(streq_ptr(c->unique_name, ":1.5"));
        CHECK_EQ(reply->reply_serial, call->serial);
        message_unref(reply);
        message_unref(call);

        struct io_scratch scratch = io_scratch_owned(4096);
        struct message *m = NULL;
        const char *text = NULL;
        CHECK_EQ(client_receive(c, &scratch, false, &m), 1);
        CHECK_EQ(m->serial, 3);
        CHECK(message_read(m, "s", &text) >= 0 && streq(text, "one"));
        m = message_unref(m);
        CHECK_EQ(client_receive(c, &scratch, false, &m), 1);
        CHECK_EQ(m->serial, 4);
        m = message_unref(m);
        CHECK_EQ(client_receive(c, &scratch, false, &m), 0);
        /* The rest of the cut one completes it. */
        struct message *rest = third;
        CHECK_EQ(write(bus, rest->out_header + 20, rest->out_header_size - 20),
                 (ssize_t)(rest->out_header_size - 20));
        CHECK_EQ(write(bus, rest->data + rest->body_offset, rest->body_size), (ssize_t)rest->body_size);
        CHECK(third_size > 20);
        CHECK_EQ(client_receive(c, &scratch, true, &m), 1);
        CHECK_EQ(m->serial, 5);
        CHECK(message_read(m, "s", &text) >= 0 && streq(text, "three"));
        message_unref(m);
        message_unref(third);
        io_scratch_done(&scratch);
        client_free(c);
        close(bus);
}

int main(void)
{
        int failed = 0;
        RUN(test_pipelines_opening_and_hello);
        RUN(test_fds_wait_for_agreement);
        RUN(test_fds_refused_by_the_bus);
        RUN(test_blocking_call_keeps_what_came_behind_the_reply);
        return failed != 0;
}
