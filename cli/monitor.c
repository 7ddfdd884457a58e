/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl monitor, capture and wait. monitor and capture: the bus's traffic, through
 * org.freedesktop.DBus.Monitoring.BecomeMonitor as busctl asks for it (the
 * messages from and to each NAME given, or everything). monitor prints each
 * message as busctl's dump or, with --json, as busctl's JSON; capture writes
 * a pcap stream of LINKTYPE_DBUS (231) that Wireshark and tshark decode,
 * through libpcap. wait: the first signal that matches SERVICE, OBJECT,
 * INTERFACE and SIGNAL, printed as call prints replies.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "errors.h"
#include "event.h"
#include "format.h"
#include "verbs.h"

#define SNAPLEN 4096 /* busctl's default --size */

struct monitor {
        const struct cli_options *o;
        struct client *c;
        struct event_source source, signals;
        struct event_timer deadline;
        pcap_dumper_t *pcap;
        int r;                       /* 1: done */
        bool name_lost;              /* the bus's NameLost for our own name came (it is not shown) */
        const char *const *wait_for; /* wait: path, interface, member; NULL for monitor and capture */
        struct io_scratch scratch;
};

static void dump_text(const struct message *m, FILE *f)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        char when[64];
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%a %Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "‣ Type=%s  Endian=%c  Flags=%u  Version=1", message_type_to_string(m->type),
                m->big_endian ? 'B' : 'l', m->flags);
        fprintf(f, " Cookie=%" PRIu32, m->serial);
        if (m->reply_serial)
                fprintf(f, "  ReplyCookie=%" PRIu32, m->reply_serial);
        fprintf(f, "  Timestamp=\"%s.%06ld %s\"\n", when, ts.tv_nsec / 1000, tm.tm_zone);
        const char *fields[][2] = {{"Sender", m->sender}, {"Destination", m->destination},
                                   {"Path", m->path},     {"Interface", m->interface},
                                   {"Member", m->member}, {"ErrorName", m->error_name}};
        bool any = false;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i][1]) {
                        fprintf(f, "  %s=%s", fields[i][0], fields[i][1]);
                        any = true;
                }
        if (any)
                fputc('\n', f);
        if (m->sender)
                fprintf(f, "  UniqueName=%s\n", m->sender);
        fprintf(f, "  MESSAGE \"%s\" {\n", m->signature);
        struct msg_reader r;
        msg_reader_init(&r, m);
        if (format_dump_values(&r, f, 10) < 0)
                fprintf(f, "          (unreadable)\n");
        fprintf(f, "  };\n\n");
}

static struct json_object *dump_json(const struct message *m)
{
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(message_type_to_string(m->type)));
        json_object_object_add(o, "endian", json_object_new_string(m->big_endian ? "B" : "l"));
        json_object_object_add(o, "flags", json_object_new_int(m->flags));
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "cookie", json_object_new_int64(m->serial));
        if (m->reply_serial)
                json_object_object_add(o, "reply_cookie", json_object_new_int64(m->reply_serial));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_object_object_add(o, "timestamp-realtime",
                               json_object_new_int64((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000));
        const char *fields[][2] = {{"sender", m->sender}, {"destination", m->destination},
                                   {"path", m->path},     {"interface", m->interface},
                                   {"member", m->member}, {"error_name", m->error_name}};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i][1])
                        json_object_object_add(o, fields[i][0], json_object_new_string(fields[i][1]));
        json_object_object_add(o, "payload", format_body_json(m));
        return o;
}

static void capture_one(struct monitor *mon, const struct message *m)
{
        struct pcap_pkthdr h = {.caplen = (bpf_u_int32)MIN(m->size, (size_t)SNAPLEN),
                                .len = (bpf_u_int32)m->size};
        gettimeofday(&h.ts, NULL);
        pcap_dump((u_char *)mon->pcap, &h, m->data);
        pcap_dump_flush(mon->pcap);
}

/* wait: the signal asked for ends it; anything else (NameAcquired for us, say) is not it. */
static void wait_message(struct monitor *mon, struct message *m)
{
        const char *const *w = mon->wait_for;
        if (m->type != MESSAGE_SIGNAL || !streq_ptr(m->path, w[0]) || !streq_ptr(m->interface, w[1]) ||
            !streq_ptr(m->member, w[2]))
                return;
        if (mon->o->json)
                format_json_print(format_body_json(m), mon->o->json == CLI_JSON_PRETTY);
        else if (!mon->o->quiet && m->signature[0])
                format_body_cmdline(m, stdout);
        mon->r = 1;
}

static void monitor_message(struct monitor *mon, struct message *m)
{
        if (mon->wait_for) {
                wait_message(mon, m);
                return;
        }
        /* BecomeMonitor takes our unique name away, and the bus says so with NameLost, before or after its
         * reply: that signal is the bus talking to us, not traffic. */
        const char *name;
        if (!mon->name_lost && m->type == MESSAGE_SIGNAL && streq_ptr(m->member, "NameLost") &&
            streq_ptr(m->sender, DRIVER_NAME) && streq_ptr(m->destination, mon->c->unique_name) &&
            message_read(m, "s", &name) >= 0 && streq(name, mon->c->unique_name)) {
                mon->name_lost = true;
                return;
        }
        if (mon->pcap)
                capture_one(mon, m);
        else if (mon->o->json)
                format_json_print(dump_json(m), mon->o->json == CLI_JSON_PRETTY);
        else
                dump_text(m, stdout);
        fflush(stdout);
}

static void monitor_io(struct event_source *s, uint32_t events)
{
        struct monitor *mon = container_of(s, struct monitor, source);
        bool first = true;
        while (mon->r == 0) {
                struct message *m = NULL;
                int r = client_receive(mon->c, &mon->scratch, first, &m);
                first = false;
                if (r <= 0) {
                        if (r < 0)
                                mon->r = r == -ECONNRESET ? 1 : r;
                        return;
                }
                monitor_message(mon, m);
                message_unref(m);
        }
}

static void monitor_signal(struct event_source *s, uint32_t events)
{
        struct monitor *mon = container_of(s, struct monitor, signals);
        struct signalfd_siginfo si;
        while (event_signal_read(s, &si) > 0)
                mon->r = 1;
}

static void monitor_timeout(struct event_timer *t, uint64_t now)
{
        container_of(t, struct monitor, deadline)->r = 1;
}

static bool monitor_prepare(struct event_loop *loop, void *userdata)
{
        return ((struct monitor *)userdata)->r == 0;
}

/* BecomeMonitor with busctl's rules: each NAME as sender and as destination; none: everything. */
static int become_monitor(struct monitor *mon, int argc, char **argv)
{
        struct msg_builder b;
        struct message *reply;
        cli_call_init(mon->c, &b, DRIVER_NAME, DRIVER_PATH, "org.freedesktop.DBus.Monitoring",
                      "BecomeMonitor");
        msg_builder_open(&b, 'a', "s");
        for (int i = 1; i < argc; i++) {
                if (!dbus_validate_bus_name(argv[i], strlen(argv[i]))) {
                        msg_builder_done(&b);
                        return cli_fail(-EINVAL, "%s: not a valid bus name", argv[i]);
                }
                char rule[512];
                snprintf(rule, sizeof(rule), "sender='%s'", argv[i]);
                msg_builder_append(&b, "s", rule);
                snprintf(rule, sizeof(rule), "destination='%s'", argv[i]);
                msg_builder_append(&b, "s", rule);
        }
        msg_builder_close(&b);
        msg_builder_append(&b, "u", 0);
        int r = cli_call(mon->o, mon->c, &b, "cannot become a monitor", &reply);
        if (r >= 0)
                message_unref(reply);
        return r;
}

/* wait: a match for the signal, as sd_bus_match_signal() adds it. */
static int add_wait_match(struct monitor *mon, const char *sender)
{
        const char *const *w = mon->wait_for;
        char rule[1024];
        snprintf(rule, sizeof(rule), "type='signal'%s%s%s,path='%s',interface='%s',member='%s'",
                 sender ? ",sender='" : "", sender ? sender : "", sender ? "'" : "", w[0], w[1], w[2]);
        struct msg_builder b;
        struct message *reply;
        cli_call_init(mon->c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_NAME, "AddMatch");
        msg_builder_append(&b, "s", rule);
        int r = cli_call(mon->o, mon->c, &b, "cannot watch for the signal", &reply);
        if (r >= 0)
                message_unref(reply);
        return r;
}

static int run_monitor(const struct cli_options *o, int argc, char **argv, pcap_dumper_t *pcap,
                       const char *const *wait_for)
{
        _cleanup_free_ struct monitor *mon = zalloc(sizeof(*mon));
        if (!mon)
                return -ENOMEM;
        mon->o = o;
        mon->pcap = pcap;
        mon->wait_for = wait_for;
        mon->scratch = io_scratch_owned(IO_SCRATCH_SIZE);
        int r = cli_connect(o, &mon->c);
        if (r < 0)
                return r;
        struct event_loop *loop = NULL;
        static const int signals[] = {SIGINT, SIGTERM};
        r = wait_for ? add_wait_match(mon, argc == 5 ? argv[1] : NULL) : become_monitor(mon, argc, argv);
        if (r >= 0 && (r = event_loop_new(&loop)) >= 0 &&
            (r = event_signals_add(loop, &mon->signals, signals, ELEMENTSOF(signals), monitor_signal)) >=
                    0 &&
            (r = event_source_add(loop, &mon->source, mon->c->fd, EPOLLIN, monitor_io)) >= 0) {
                if (!o->quiet && !o->json && !pcap && !wait_for)
                        fprintf(stderr, "Monitoring bus message stream.\n");
                event_timer_init(&mon->deadline, monitor_timeout);
                if (o->timeout_set)
                        event_timer_arm(loop, &mon->deadline, now_usec() + (uint64_t)o->timeout_ms * 1000);
                event_loop_set_prepare(loop, monitor_prepare, mon);
                monitor_io(&mon->source, EPOLLIN); /* what came with the BecomeMonitor reply */
                r = event_loop_run(loop);
                if (r >= 0 && mon->r < 0)
                        r = cli_fail(mon->r, "monitoring ended: %s", error_text(mon->r));
        } else if (r < 0 && r != -EREMOTEIO) {
                r = cli_fail(r, "cannot monitor: %s", strerror(-r));
        }
        event_loop_free(loop);
        client_free(mon->c);
        io_scratch_done(&mon->scratch);
        return r;
}

int verb_monitor(const struct cli_options *o, int argc, char **argv)
{
        return run_monitor(o, argc, argv, NULL, NULL);
}

int verb_wait(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 4 || argc > 5)
                return cli_fail(-EINVAL, "wait: needs [SERVICE] OBJECT INTERFACE SIGNAL");
        const char *const *w = (const char *const *)argv + argc - 3;
        if (argc == 5 && !dbus_validate_bus_name(argv[1], strlen(argv[1])))
                return cli_fail(-EINVAL, "%s: not a valid bus name", argv[1]);
        if (!dbus_validate_object_path(w[0], strlen(w[0])))
                return cli_fail(-EINVAL, "%s: not a valid object path", w[0]);
        if (!dbus_validate_interface(w[1], strlen(w[1])))
                return cli_fail(-EINVAL, "%s: not a valid interface name", w[1]);
        if (!dbus_validate_member(w[2], strlen(w[2])))
                return cli_fail(-EINVAL, "%s: not a valid member name", w[2]);
        return run_monitor(o, argc, argv, NULL, w);
}

int verb_capture(const struct cli_options *o, int argc, char **argv)
{
        if (isatty(STDOUT_FILENO))
                return cli_fail(
                        -EINVAL,
                        "capture: refusing to write message data to a terminal; redirect it to a file");
        pcap_t *p = pcap_open_dead(DLT_DBUS, SNAPLEN);
        pcap_dumper_t *d = p ? pcap_dump_fopen(p, stdout) : NULL;
        if (!d) {
                int r = cli_fail(-EIO, "capture: cannot start a pcap stream: %s",
                                 p ? pcap_geterr(p) : "no memory");
                if (p)
                        pcap_close(p);
                return r;
        }
        int r = run_monitor(o, argc, argv, d, NULL);
        pcap_dump_flush(d);
        pcap_dump_close(d); /* closes stdout */
        pcap_close(p);
        return r;
}
