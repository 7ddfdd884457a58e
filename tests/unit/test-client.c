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
        uint8_t scratch[4096];
        struct message *m = NULL;
        CHECK_EQ(client_receive(c, scratch, sizeof(scratch), true, &m), 0);
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

int main(void)
{
        int failed = 0;
        RUN(test_pipelines_opening_and_hello);
        RUN(test_fds_wait_for_agreement);
        RUN(test_fds_refused_by_the_bus);
        return failed != 0;
}
