/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl call, get-property, set-property and emit: busctl's verbs with
 * busctl's argument syntax (args.h) and output (format.h).
 */
#include <errno.h>
#include <stdio.h>

#include "args.h"
#include "connect.h"
#include "format.h"
#include "verbs.h"

static int check_names(const char *dest, const char *path, const char *iface, const char *member)
{
        if (dest && !dbus_validate_bus_name(dest, strlen(dest)))
                return cli_fail(-EINVAL, "%s: not a valid bus name", dest);
        if (!dbus_validate_object_path(path, strlen(path)))
                return cli_fail(-EINVAL, "%s: not a valid object path", path);
        if (!dbus_validate_interface(iface, strlen(iface)))
                return cli_fail(-EINVAL, "%s: not a valid interface name", iface);
        if (member && !dbus_validate_member(member, strlen(member)))
                return cli_fail(-EINVAL, "%s: not a valid member name", member);
        return 0;
}

/* The names checked, then a connection to the bus: 0 and *ret, or negative after saying why. */
static int connect_checked(const struct cli_options *o, const char *dest, const char *path,
                           const char *iface, const char *member, struct client **ret)
{
        int r = check_names(dest, path, iface, member);
        return r < 0 ? r : cli_connect(o, ret);
}

/* SIGNATURE ARGUMENT... from argv into b; every word must be used. */
static int append_args(struct msg_builder *b, char **argv, const char *verb)
{
        if (!argv[0] || !argv[0][0])
                return 0;
        const char *sig = argv[0];
        if (!signature_validate(sig, strlen(sig)))
                return cli_fail(-EINVAL, "%s: '%s' is not a valid signature", verb, sig);
        char **p = argv + 1;
        char err[512] = "";
        int r = args_append(b, sig, &p, err, sizeof(err));
        if (r < 0)
                return cli_fail(r, "%s: signature '%s': %s", verb, sig, err);
        if (*p)
                return cli_fail(-EINVAL, "%s: too many arguments for signature '%s', from '%s' on", verb,
                                sig, *p);
        return 0;
}

/* Send a message that gets no reply, then a Ping to the bus: its answer proves that the bus has read what
 * went before (messages of one connection are handled in order), so nsbusctl may exit. */
static int send_and_sync(const struct cli_options *o, struct client *c, struct msg_builder *b,
                         const char *verb)
{
        struct message *m, *reply;
        int r = msg_builder_finish(b, &m);
        if (r < 0 || (r = client_queue(c, m)) < 0)
                return cli_fail(r, "%s: cannot send: %s", verb, strerror(-r));
        message_unref(m);
        struct msg_builder ping;
        cli_call_init(c, &ping, DRIVER_NAME, DRIVER_PATH, "org.freedesktop.DBus.Peer", "Ping");
        if ((r = cli_call(o, c, &ping, verb, &reply)) < 0)
                return r;
        message_unref(reply);
        return 0;
}

static int print_reply(const struct cli_options *o, const struct message *m, bool variant)
{
        if (o->quiet)
                return 0;
        if (o->json) {
                struct json_object *j = variant ? format_variant_json(m) : format_body_json(m);
                if (format_json_print(j, o->json == CLI_JSON_PRETTY) < 0)
                        return cli_fail(-EBADMSG, "the reply cannot be shown as JSON");
                return 0;
        }
        int r;
        if (o->verbose) {
                /* busctl --verbose: the body as its monitor shows one, a property's value unwrapped. */
                struct msg_reader rd;
                msg_reader_init(&rd, m);
                if (variant && (r = msg_reader_enter(&rd, 'v', NULL)) < 0)
                        return cli_fail(r, "the reply cannot be read: %s", strerror(-r));
                if (!variant)
                        printf("MESSAGE \"%s\" {\n", m->signature);
                r = format_dump_values(&rd, stdout, variant ? 0 : 8);
                if (!variant)
                        printf("};\n\n");
        } else
                r = variant ? format_variant_cmdline(m, stdout) : format_body_cmdline(m, stdout);
        return r < 0 ? cli_fail(r, "the reply cannot be read: %s", strerror(-r)) : 0;
}

int verb_call(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 5)
                return cli_fail(-EINVAL,
                                "call: needs SERVICE OBJECT INTERFACE METHOD [SIGNATURE [ARGUMENT...]]");
        _cleanup_(client_freep) struct client *c = NULL;
        int r = connect_checked(o, argv[1], argv[2], argv[3], argv[4], &c);
        if (r < 0)
                return r;
        struct msg_builder b;
        cli_call_init(c, &b, argv[1], argv[2], argv[3], argv[4]);
        if ((r = append_args(&b, argv + 5, "call")) < 0) {
                msg_builder_done(&b);
                return r;
        }
        if (!o->expect_reply) {
                b.flags |= MESSAGE_FLAG_NO_REPLY_EXPECTED;
                return send_and_sync(o, c, &b, "call");
        }
        struct message *reply;
        if ((r = cli_call(o, c, &b, "call failed", &reply)) < 0)
                return r;
        r = print_reply(o, reply, false);
        message_unref(reply);
        return r;
}

int verb_get_property(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 5)
                return cli_fail(-EINVAL, "get-property: needs SERVICE OBJECT INTERFACE PROPERTY...");
        _cleanup_(client_freep) struct client *c = NULL;
        int r = connect_checked(o, argv[1], argv[2], argv[3], NULL, &c);
        if (r < 0)
                return r;
        for (int i = 4; i < argc && r >= 0; i++) {
                struct msg_builder b;
                struct message *reply;
                char what[512];
                snprintf(what, sizeof(what), "cannot get property %s on interface %s", argv[i], argv[3]);
                cli_call_init(c, &b, argv[1], argv[2], "org.freedesktop.DBus.Properties", "Get");
                msg_builder_append(&b, "ss", argv[3], argv[i]);
                if ((r = cli_call(o, c, &b, what, &reply)) < 0)
                        return r;
                r = streq(reply->signature, "v")
                            ? print_reply(o, reply, true)
                            : cli_fail(-EBADMSG, "%s: the reply is not a variant", what);
                message_unref(reply);
        }
        return r;
}

int verb_set_property(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 7)
                return cli_fail(
                        -EINVAL,
                        "set-property: needs SERVICE OBJECT INTERFACE PROPERTY SIGNATURE ARGUMENT...");
        int r = check_names(argv[1], argv[2], argv[3], NULL);
        if (r < 0)
                return r;
        if (!signature_validate_single(argv[5], strlen(argv[5])))
                return cli_fail(-EINVAL, "set-property: '%s' is not a single complete type", argv[5]);
        _cleanup_(client_freep) struct client *c = NULL;
        if ((r = cli_connect(o, &c)) < 0)
                return r;
        struct msg_builder b;
        struct message *reply;
        cli_call_init(c, &b, argv[1], argv[2], "org.freedesktop.DBus.Properties", "Set");
        msg_builder_append(&b, "ss", argv[3], argv[4]);
        msg_builder_open(&b, 'v', argv[5]);
        if ((r = append_args(&b, argv + 5, "set-property")) < 0) {
                msg_builder_done(&b);
                return r;
        }
        msg_builder_close(&b);
        char what[512];
        snprintf(what, sizeof(what), "cannot set property %s on interface %s", argv[4], argv[3]);
        if ((r = cli_call(o, c, &b, what, &reply)) < 0)
                return r;
        message_unref(reply);
        return 0;
}

int verb_emit(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 4)
                return cli_fail(-EINVAL, "emit: needs OBJECT INTERFACE SIGNAL [SIGNATURE [ARGUMENT...]]");
        _cleanup_(client_freep) struct client *c = NULL;
        int r = connect_checked(o, NULL, argv[1], argv[2], argv[3], &c);
        if (r < 0)
                return r;
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_SIGNAL, client_next_serial(c));
        b.path = argv[1];
        b.interface = argv[2];
        b.member = argv[3];
        b.destination = o->destination;
        if ((r = append_args(&b, argv + 4, "emit")) < 0) {
                msg_builder_done(&b);
                return r;
        }
        return send_and_sync(o, c, &b, "emit");
}
