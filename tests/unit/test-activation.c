/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Systemd activation (daemon/activation.c and its driver side), on a bus in this process
 * (bus-harness.h), with a test client playing systemd. The promise, as dbus-daemon keeps it: a message
 * for a service whose file names a SystemdService= waits while the bus asks systemd, with the signal
 * org.freedesktop.systemd1.Activator.ActivationRequest(unit), to start that unit -- systemd may join
 * the bus only later, and gets the request then -- and it is delivered once the service has its name,
 * or answered with the error of systemd's ActivationFailure, which only systemd itself may send. A
 * service without SystemdService= is still started by the bus, and org.freedesktop.systemd1 never is.
 * Monitors see the request, then the message that caused it, and each message only once.
 */
#include <limits.h>
#include <stdio.h>

#include "activation.h"
#include "bus-harness.h"

#define SD_SERVICE "com.example.Sd"
#define SD_UNIT "dbus-com.example.Sd.service"
#define PLAIN_SERVICE "com.example.Plain"
#define ACTIVATOR "org.freedesktop.systemd1.Activator"

struct fixture {
        struct harness h;
        char dir[256];
};

static void write_service(const char *dir, const char *name, const char *body)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s.service", dir, name);
        FILE *f = fopen(path, "we");
        CHECK(f);
        fprintf(f, "[D-BUS Service]\nName=%s\n%s", name, body);
        CHECK(fclose(f) == 0);
}

/* A bus with these service files: one for systemd, one the bus must start itself, and systemd's own,
 * whose Exec= would fail at once if the bus ever ran it. */
static void fixture_init(struct fixture *f, bool systemd)
{
        harness_init(&f->h);
        if (systemd)
                activation_use_systemd(f->h.bus);
        snprintf(f->dir, sizeof(f->dir), "%s/nsbus-test-activation.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        CHECK(mkdtemp(f->dir));
        write_service(f->dir, SD_SERVICE, "Exec=/nonexistent/nsbus-never-run\nSystemdService=" SD_UNIT "\n");
        write_service(f->dir, PLAIN_SERVICE, "Exec=/nonexistent/nsbus-plain-service\n");
        write_service(f->dir, SYSTEMD_NAME, "Exec=/nonexistent/nsbus-not-systemd\n");
        char *dirs[] = {f->dir};
        CHECK_EQ(activation_load(f->h.bus, dirs, 1), 0);
}

static void fixture_done(struct fixture *f)
{
        harness_done(&f->h);
        char path[PATH_MAX];
        static const char *const names[] = {SD_SERVICE, PLAIN_SERVICE, SYSTEMD_NAME};
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s.service", f->dir, names[i]);
                CHECK(unlink(path) == 0);
        }
        CHECK(rmdir(f->dir) == 0);
        harness_check_leaks();
}

static uint32_t request_name(struct harness *h, struct client *c, const char *name,
                             struct harness_inbox *box)
{
        uint32_t serial = harness_call_driver(c, "RequestName", "su", name, (uint32_t)4 /* DO_NOT_QUEUE */);
        harness_collect(h, c, box);
        struct message *m = harness_take_reply(box, serial);
        CHECK(m);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        uint32_t v = 0;
        CHECK(message_read(m, "u", &v) >= 0);
        message_unref(m);
        message_unref(harness_take_signal(box, "NameAcquired"));
        return v;
}

/* m is the bus's ActivationRequest for unit, addressed to systemd's well-known name. */
static void check_activation_request(struct message *m, const char *unit)
{
        CHECK(m);
        CHECK_EQ(m->type, MESSAGE_SIGNAL);
        CHECK_STREQ(m->sender, DRIVER_NAME);
        CHECK_STREQ(m->path, DRIVER_PATH);
        CHECK_STREQ(m->interface, ACTIVATOR);
        CHECK_STREQ(m->member, "ActivationRequest");
        CHECK_STREQ(m->destination, SYSTEMD_NAME);
        const char *arg;
        CHECK(message_read(m, "s", &arg) >= 0);
        CHECK_STREQ(arg, unit);
        message_unref(m);
}

static struct message *take_first(struct harness_inbox *box)
{
        CHECK(box->n > 0);
        return harness_inbox_take(box, 0);
}

/* Turn the loop (up to 5 s) until c has received the answer to serial: for what the bus learns from a
 * child process, which arrives with SIGCHLD. */
static struct message *wait_reply(struct harness *h, struct client *c, uint32_t serial,
                                  struct harness_inbox *box)
{
        for (int i = 0; i < 100; i++) {
                harness_collect(h, c, box);
                struct message *m = harness_take_reply(box, serial);
                if (m)
                        return m;
                bus_run_once(h->bus, 50);
        }
        CHECK(!"no answer within 5 s");
        return NULL;
}

/* The request waits for systemd to join; the message waits for the service; a monitor sees each once. */
static void test_request_waits_for_systemd(void)
{
        struct fixture f;
        fixture_init(&f, true);
        struct harness *h = &f.h;
        struct client *caller = harness_connect(h), *mon = harness_connect_monitor(h);
        struct harness_inbox seen = {0}, box = {0};

        uint32_t serial = harness_call(caller, SD_SERVICE, "Ping", "hello");
        harness_collect(h, caller, &box);
        harness_inbox_expect_empty(&box); /* waiting, not refused */
        /* dbus-daemon's order: the request it wants to send, then the message that caused it. */
        harness_collect(h, mon, &seen);
        CHECK_EQ(seen.n, 2);
        check_activation_request(take_first(&seen), SD_UNIT);
        struct message *m = take_first(&seen);
        CHECK_EQ(m->type, MESSAGE_METHOD_CALL);
        CHECK_STREQ(m->destination, SD_SERVICE);
        message_unref(m);

        /* systemd's name is not started from its file (that Exec= would fail): it is waited for. */
        for (int i = 0; i < 4; i++)
                bus_run_once(h->bus, 50);
        struct client *systemd = harness_connect(h);
        CHECK_EQ(request_name(h, systemd, SYSTEMD_NAME, &box), 1);
        check_activation_request(harness_take_signal(&box, "ActivationRequest"), SD_UNIT);
        harness_inbox_expect_empty(&box);

        /* The service takes its name and gets the call that waited. */
        struct client *service = harness_connect(h);
        CHECK_EQ(request_name(h, service, SD_SERVICE, &box), 1);
        m = take_first(&box);
        CHECK_EQ(m->type, MESSAGE_METHOD_CALL);
        CHECK_STREQ(m->member, "Ping");
        CHECK_STREQ(m->sender, caller->unique_name);
        harness_inbox_expect_empty(&box);
        harness_reply(service, m, "pong");
        message_unref(m);
        m = harness_expect_reply(h, caller, serial);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        message_unref(m);

        /* The held request and call were not shown again when delivered: the monitor saw only the two
         * connections' names being taken (RequestName, NameOwnerChanged, NameAcquired, reply each), then
         * the reply. */
        harness_collect(h, mon, &seen);
        for (size_t i = 0; i < seen.n; i++)
                CHECK(!seen.v[i]->member || (strcmp(seen.v[i]->member, "Ping") != 0 &&
                                             strcmp(seen.v[i]->member, "ActivationRequest") != 0));
        harness_inbox_clear(&seen);

        client_free(mon);
        client_free(caller);
        client_free(systemd);
        client_free(service);
        fixture_done(&f);
}

static void send_activation_failure(struct client *from, const char *unit, const char *error,
                                    const char *text)
{
        const char *args[] = {unit, error, text};
        harness_signal(from, DRIVER_NAME, "/org/freedesktop/systemd1", ACTIVATOR, "ActivationFailure", "sss",
                       args);
}

/* Only systemd's ActivationFailure fails activations, with the error it names. */
static void test_activation_failure(void)
{
        struct fixture f;
        fixture_init(&f, true);
        struct harness *h = &f.h;
        struct client *systemd = harness_connect(h), *caller = harness_connect(h);
        struct harness_inbox box = {0};
        CHECK_EQ(request_name(h, systemd, SYSTEMD_NAME, &box), 1);

        /* A signal may auto-start a service too (it is what dbus's own tests send). */
        const char *none[] = {NULL};
        uint32_t signal_serial =
                harness_signal(caller, SD_SERVICE, "/foo", "com.example.bar", "UnicastSignal", "", none);
        uint32_t serial = harness_call(caller, SD_SERVICE, "Ping", "hello");
        harness_collect(h, systemd, &box);
        check_activation_request(take_first(&box), SD_UNIT); /* one request for both */
        harness_inbox_expect_empty(&box);

        /* Anyone else's is ignored, even one from the bus's own uid. */
        send_activation_failure(caller, SD_UNIT, "com.example.Malice", "making activations fail");
        harness_expect_nothing(h, caller);

        /* Both waiting messages fail (the signal too: it did not say NO_REPLY_EXPECTED). */
        send_activation_failure(systemd, SD_UNIT, "com.example.Nope", "Computer says no");
        harness_collect(h, systemd, &box);
        harness_inbox_expect_empty(&box);
        harness_collect(h, caller, &box);
        for (int i = 0; i < 2; i++) {
                struct message *m = harness_take_reply(&box, i == 0 ? signal_serial : serial);
                CHECK(m);
                CHECK_EQ(m->type, MESSAGE_ERROR);
                CHECK_STREQ(m->error_name, "com.example.Nope");
                const char *text;
                CHECK(message_read(m, "s", &text) >= 0);
                CHECK_STREQ(text, "Computer says no");
                message_unref(m);
        }
        harness_inbox_expect_empty(&box);

        /* That activation is over: the next message asks systemd again. */
        harness_call(caller, SD_SERVICE, "Ping", "again");
        harness_collect(h, systemd, &box);
        check_activation_request(take_first(&box), SD_UNIT);

        client_free(systemd);
        client_free(caller);
        fixture_done(&f);
}

/* Without SystemdService= the bus starts the service itself, as dbus-daemon falls back to doing. */
static void test_service_without_unit_is_started_by_the_bus(void)
{
        struct fixture f;
        fixture_init(&f, true);
        struct harness *h = &f.h;
        struct client *systemd = harness_connect(h), *caller = harness_connect(h);
        struct harness_inbox box = {0};
        CHECK_EQ(request_name(h, systemd, SYSTEMD_NAME, &box), 1);

        uint32_t serial = harness_call(caller, PLAIN_SERVICE, "Ping", "hello");
        struct message *m = wait_reply(h, caller, serial, &box);
        CHECK_EQ(m->type, MESSAGE_ERROR);
        CHECK_STREQ(m->error_name, "org.freedesktop.DBus.Error.Spawn.ExecFailed");
        message_unref(m);
        harness_inbox_expect_empty(&box);
        harness_expect_nothing(h, systemd); /* no ActivationRequest */

        client_free(systemd);
        client_free(caller);
        fixture_done(&f);
}

/* StartServiceByName through systemd: SUCCESS once the service has its name. */
static void test_start_service_by_name(void)
{
        struct fixture f;
        fixture_init(&f, true);
        struct harness *h = &f.h;
        struct client *systemd = harness_connect(h), *caller = harness_connect(h);
        struct harness_inbox box = {0};
        CHECK_EQ(request_name(h, systemd, SYSTEMD_NAME, &box), 1);

        uint32_t serial = harness_call_driver(caller, "StartServiceByName", "su", SD_SERVICE, (uint32_t)0);
        harness_expect_nothing(h, caller);
        harness_collect(h, systemd, &box);
        check_activation_request(take_first(&box), SD_UNIT);

        struct client *service = harness_connect(h);
        CHECK_EQ(request_name(h, service, SD_SERVICE, &box), 1);
        harness_inbox_expect_empty(&box);
        CHECK_EQ(harness_expect_reply_u(h, caller, serial), 1); /* DBUS_START_REPLY_SUCCESS */

        client_free(systemd);
        client_free(caller);
        client_free(service);
        fixture_done(&f);
}

/* UpdateActivationEnvironment reaches systemd as SetEnvironment, waiting for systemd if need be. */
static void test_environment_goes_to_systemd(void)
{
        struct fixture f;
        fixture_init(&f, true);
        struct harness *h = &f.h;
        struct client *caller = harness_connect(h);
        struct harness_inbox box = {0};

        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(caller));
        b.destination = DRIVER_NAME;
        b.path = DRIVER_PATH;
        b.interface = DRIVER_INTERFACE;
        b.member = "UpdateActivationEnvironment";
        CHECK(msg_builder_open(&b, 'a', "{ss}") >= 0);
        CHECK(msg_builder_open(&b, '{', "ss") >= 0);
        CHECK(msg_builder_append(&b, "ss", "Key1", "Value1") >= 0);
        CHECK(msg_builder_close(&b) >= 0);
        CHECK(msg_builder_close(&b) >= 0);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        uint32_t serial = m->serial;
        CHECK(client_queue(caller, m) >= 0);
        message_unref(m);
        harness_expect_reply_empty(h, caller, serial);

        struct client *systemd = harness_connect(h);
        CHECK_EQ(request_name(h, systemd, SYSTEMD_NAME, &box), 1);
        m = take_first(&box);
        harness_inbox_expect_empty(&box);
        CHECK_EQ(m->type, MESSAGE_METHOD_CALL);
        CHECK_STREQ(m->sender, DRIVER_NAME);
        CHECK_STREQ(m->destination, SYSTEMD_NAME);
        CHECK_STREQ(m->interface, "org.freedesktop.systemd1.Manager");
        CHECK_STREQ(m->member, "SetEnvironment");
        const char **env;
        CHECK(message_read(m, "as", &env) >= 0);
        CHECK_STREQ(env[0], "Key1=Value1");
        CHECK(env[1] == NULL);
        free(env);
        message_unref(m);

        client_free(caller);
        client_free(systemd);
        fixture_done(&f);
}

/* The Features property says SystemdActivation exactly when the bus does it. */
static bool has_systemd_feature(bool systemd)
{
        struct fixture f;
        fixture_init(&f, systemd);
        struct client *c = harness_connect(&f.h);
        uint32_t serial =
                harness_written(c, client_call_driver_on(c, "org.freedesktop.DBus.Properties", "Get", "ss",
                                                         DRIVER_INTERFACE, "Features"));
        struct message *m = harness_expect_reply(&f.h, c, serial);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        struct msg_reader r;
        msg_reader_init(&r, m);
        CHECK(msg_reader_enter(&r, 'v', "as") >= 0);
        CHECK(msg_reader_enter(&r, 'a', "s") >= 0);
        bool found = false;
        while (msg_reader_peek(&r)) {
                const char *s;
                CHECK(msg_reader_read_basic(&r, 's', &s) >= 0);
                found |= strcmp(s, "SystemdActivation") == 0;
        }
        message_unref(m);
        client_free(c);
        fixture_done(&f);
        return found;
}

static void test_features(void)
{
        CHECK(has_systemd_feature(true));
        CHECK(!has_systemd_feature(false));
}

int main(void)
{
        int failed = 0;
        RUN(test_request_waits_for_systemd);
        RUN(test_activation_failure);
        RUN(test_service_without_unit_is_started_by_the_bus);
        RUN(test_start_service_by_name);
        RUN(test_environment_goes_to_systemd);
        RUN(test_features);
        return failed != 0;
}
