/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Routing of method calls and replies, on a bus in this process (bus-harness.h). The central promise:
 * a call is answered — by its callee, by the bus with an error, or by the end of the caller's
 * connection — and never simply vanishes, not even when the bus runs out of memory halfway through
 * routing it. Allocation failures are injected by wrapping malloc, calloc and realloc at link time
 * (-Wl,--wrap), so every allocation the daemon's modules make on the way can be made to fail in turn.
 */
#include <stdlib.h>

#include "bus-harness.h"

/* ---- allocation failures on demand ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long fail_countdown = -1; /* -1: never fail; otherwise fail the allocation this many from now */
static unsigned n_failed;

static bool alloc_should_fail(void)
{
        if (fail_countdown < 0)
                return false;
        if (fail_countdown-- > 0)
                return false;
        n_failed++;
        return true;
}

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
        return alloc_should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
        return alloc_should_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
        return alloc_should_fail() ? NULL : __real_realloc(p, n);
}

/* ---- tests ---- */

static struct message *expect_message(struct harness *h, struct client *c)
{
        struct message *m = NULL;
        CHECK_EQ(harness_pump(h, c, &m), 1);
        return m;
}

static void test_call_and_reply(void)
{
        struct harness h;
        harness_init(&h);
        struct client *caller = harness_connect(&h), *callee = harness_connect(&h);

        uint32_t serial = harness_call(caller, callee->unique_name, "Echo", "hello");
        struct message *call = expect_message(&h, callee);
        CHECK_EQ(call->type, MESSAGE_METHOD_CALL);
        CHECK_STREQ(call->sender, caller->unique_name); /* stamped by the bus */
        harness_reply(callee, call, "hello back");
        struct message *reply = expect_message(&h, caller);
        CHECK_EQ(reply->type, MESSAGE_METHOD_RETURN);
        CHECK_EQ(reply->reply_serial, serial);
        CHECK_STREQ(reply->sender, callee->unique_name);

        /* A second "reply" to the same call has no slot any more: it is never delivered. */
        harness_reply(callee, call, "again");
        struct message *none = NULL;
        CHECK_EQ(harness_pump(&h, callee, &none), 0);
        CHECK_EQ(harness_pump(&h, caller, &none), 0);

        message_unref(call);
        message_unref(reply);
        client_free(caller);
        client_free(callee);
        harness_done(&h);
}

/* A peer that sends an invalid message is disconnected, and the log line says which rule it broke. */
static void test_invalid_message_is_logged_with_its_rule(void)
{
        struct harness h;
        harness_init(&h);
        struct client *c = harness_connect(&h);

        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, 7);
        b.destination = "org.example.Nobody";
        b.path = "/";
        b.member = "Ping";
        struct message *m;
        CHECK_EQ(msg_builder_finish(&b, &m), 0);
        uint8_t *raw = malloc(m->size);
        CHECK(raw);
        memcpy(raw, m->data, m->size);
        memset(raw + 8, 0, 4); /* serial 0 */

        char path[] = "/tmp/test-routing-log-XXXXXX";
        int log_fd = mkstemp(path);
        CHECK(log_fd >= 0);
        unlink(path);
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        CHECK(saved >= 0 && dup2(log_fd, STDERR_FILENO) >= 0);
        CHECK_EQ(write(c->fd, raw, m->size), (ssize_t)m->size);
        harness_settle(&h);
        fflush(stderr);
        CHECK(dup2(saved, STDERR_FILENO) >= 0);

        char text[4096] = "";
        CHECK(pread(log_fd, text, sizeof(text) - 1, 0) > 0);
        CHECK(strstr(text, "disconnected: sent an invalid message: its serial is 0 (ERR_MSG_SERIAL)"));
        struct message *none = NULL;
        CHECK_EQ(harness_pump(&h, c, &none), -ECONNRESET);

        close(log_fd);
        close(saved);
        free(raw);
        message_unref(m);
        client_free(c);
        harness_done(&h);
}

/* A callee that disconnects owes its callers an answer: the bus gives NoReply. */
static void test_callee_gone_means_noreply(void)
{
        struct harness h;
        harness_init(&h);
        struct client *caller = harness_connect(&h), *callee = harness_connect(&h);
        uint32_t serial = harness_call(caller, callee->unique_name, "Echo", "x");
        message_unref(expect_message(&h, callee));
        client_free(callee);
        struct message *m;
        for (;;) {
                m = expect_message(&h, caller);
                if (m->type == MESSAGE_ERROR)
                        break;
                message_unref(m); /* NameOwnerChanged and the like */
        }
        CHECK_STREQ(m->error_name, "org.freedesktop.DBus.Error.NoReply");
        CHECK_EQ(m->reply_serial, serial);
        message_unref(m);
        client_free(caller);
        harness_done(&h);
}

/* What the caller saw of one call whose routing had allocation number `n` fail. */
enum outcome { ANSWERED, ERROR_REPLY, DISCONNECTED };

static enum outcome call_with_failure_at(long n, unsigned *injected)
{
        struct harness h;
        harness_init(&h);
        struct client *caller = harness_connect(&h), *callee = harness_connect(&h);
        uint32_t serial = harness_call(caller, callee->unique_name, "Echo", "payload");
        CHECK(client_flush(caller) >= 0);

        /* Only the bus's handling of the call and of its reply may fail. */
        n_failed = 0;
        fail_countdown = n;
        harness_settle(&h);
        long left = fail_countdown; /* what the call's routing did not use goes to the reply's */
        fail_countdown = -1;
        struct message *call = NULL;
        int r = harness_pump(&h, callee, &call);
        if (r == 1 && call->type == MESSAGE_METHOD_CALL) {
                harness_reply(callee, call, "answer");
                fail_countdown = left;
                harness_settle(&h);
                fail_countdown = -1;
        }
        if (call)
                message_unref(call);
        *injected = n_failed;

        enum outcome o = DISCONNECTED;
        for (;;) {
                struct message *m = NULL;
                r = harness_pump(&h, caller, &m);
                if (r == -ECONNRESET)
                        break;
                /* Silence here is the bug: the call vanished and the caller would wait for its timeout. */
                CHECK_EQ(r, 1);
                bool answer = m->reply_serial == serial &&
                              (m->type == MESSAGE_METHOD_RETURN || m->type == MESSAGE_ERROR);
                if (answer)
                        o = m->type == MESSAGE_METHOD_RETURN ? ANSWERED : ERROR_REPLY;
                message_unref(m);
                if (answer)
                        break;
        }
        client_free(caller);
        client_free(callee);
        harness_done(&h);
        return o;
}

/* Fail each allocation of the routing path in turn, up to the first run in which nothing failed. */
static void test_out_of_memory_never_loses_a_call(void)
{
        unsigned counts[3] = {0};
        for (long n = 0;; n++) {
                CHECK(n < 1000);
                unsigned injected;
                enum outcome o = call_with_failure_at(n, &injected);
                counts[o]++;
                if (injected == 0) {
                        CHECK_EQ(o, ANSWERED);
                        break;
                }
        }
        fprintf(stderr, "  answered %u, error replies %u, caller disconnected %u\n", counts[ANSWERED],
                counts[ERROR_REPLY], counts[DISCONNECTED]);
        /* Some failure must have hit the routing path itself, or this test proves nothing. */
        CHECK(counts[ERROR_REPLY] + counts[DISCONNECTED] > 0);
}

int main(void)
{
        int failed = 0;
        RUN(test_call_and_reply);
        RUN(test_callee_gone_means_noreply);
        RUN(test_invalid_message_is_logged_with_its_rule);
        RUN(test_out_of_memory_never_loses_a_call);
        return failed != 0;
}
