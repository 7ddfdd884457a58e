/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for daemon/config.c: every element, includes and includedirs,
 * "FILE:LINE: reason" errors, and the real dbus-daemon configuration files
 * of this machine. If dbus's own test suite is installed, its valid and
 * invalid configuration files must be judged exactly as dbus-daemon judges
 * them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

#ifndef NSBUS_TEST_DATA_DIR
#error "NSBUS_TEST_DATA_DIR must name tests/unit/data"
#endif
#define CONFIG_DATA NSBUS_TEST_DATA_DIR "/config"

static char tmpdir[] = "/tmp/test-config.XXXXXX";

/* Users and groups for the tests, independent of /etc/passwd. */
static int lookup_user(void *userdata, const char *name, uid_t *ret)
{
        if (streq(name, "alice")) {
                *ret = 1000;
                return 0;
        }
        if (streq(name, "root") || streq(name, "0")) {
                *ret = 0;
                return 0;
        }
        return -ENOENT;
}

static int lookup_group(void *userdata, const char *name, gid_t *ret)
{
        if (streq(name, "staff")) {
                *ret = 50;
                return 0;
        }
        return -ENOENT;
}

static unsigned n_warn_calls;

static void count_warning(void *userdata, const char *msg)
{
        CHECK(userdata == &n_warn_calls);
        CHECK(msg && *msg);
        n_warn_calls++;
}

static const struct bus_config_load_options test_options = {
        .warn = count_warning,
        .userdata = &n_warn_calls,
        .lookup_user = lookup_user,
        .lookup_group = lookup_group,
};

static bool has_warning(const struct bus_config *c, const char *needle)
{
        for (size_t i = 0; i < c->n_warnings; i++)
                if (strstr(c->warnings[i], needle))
                        return true;
        return false;
}

static char *tmp_path(const char *name)
{
        char *p;

        CHECK(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

_printf_(2, 3) static char *write_file(const char *name, const char *fmt, ...)
{
        char *path = tmp_path(name);
        FILE *f = fopen(path, "we");
        va_list ap;

        CHECK(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        CHECK(fclose(f) == 0);
        return path;
}

/* Loads text as a file and expects failure with r and "FILE:LINE: ...needle". */
static void expect_error(const char *text, int r, int line, const char *needle)
{
        _cleanup_free_ char *path = write_file("error.conf", "%s", text);
        _cleanup_free_ char *prefix = NULL;
        struct bus_config *c = NULL;
        char err[1024];

        if (line > 0)
                CHECK(asprintf(&prefix, "%s:%d: ", path, line) > 0);
        else
                CHECK(asprintf(&prefix, "%s: ", path) > 0);

        int got = bus_config_load_with(path, &test_options, &c, err, sizeof(err));
        if (got != r || !startswith(err, prefix) || !strstr(err, needle)) {
                fprintf(stderr, "for:\n%s\nexpected %d \"%s...%s\", got %d \"%s\"\n", text, r, prefix,
                        needle, got, err);
                exit(1);
        }
        CHECK(c == NULL);
}

static struct bus_config *expect_load(const char *path)
{
        struct bus_config *c = NULL;
        char err[1024];
        int r = bus_config_load_with(path, &test_options, &c, err, sizeof(err));

        if (r < 0) {
                fprintf(stderr, "loading %s failed: %d %s\n", path, r, err);
                exit(1);
        }
        CHECK(c && c->policy);
        return c;
}

static struct policy_msg method_call(const char *dest, const char *iface, const char *member)
{
        return (struct policy_msg){
                .type = POLICY_TYPE_METHOD_CALL,
                .path = "/",
                .interface = iface,
                .member = member,
                .destination = dest,
        };
}

static void test_basic(void)
{
        struct bus_config *c = expect_load(CONFIG_DATA "/basic.conf");

        CHECK_STREQ(c->type, "custom");
        /* sub/included.conf comes after <user> and overrides it. */
        CHECK_STREQ(c->user, "nsbus-included");
        CHECK(c->fork && c->keep_umask && c->syslog && c->allow_anonymous);
        CHECK_STREQ(c->pidfile, "/run/nsbus-test.pid");
        CHECK_STREQ(c->servicehelper, CONFIG_DATA "/helper/launch");

        CHECK_EQ(c->n_listen, 3);
        CHECK_STREQ(c->listen[0], "unix:path=/run/nsbus-test/first");
        CHECK_STREQ(c->listen[1], "unix:tmpdir=/tmp");
        CHECK_STREQ(c->listen[2], "unix:path=/run/nsbus-test/included");
        CHECK(c->listen[3] == NULL);
        CHECK_EQ(c->n_auth, 2);
        CHECK_STREQ(c->auth[0], "EXTERNAL");
        CHECK_STREQ(c->auth[1], "ANONYMOUS");

        static const char *const dirs[] = {
                CONFIG_DATA "/services",
                "/opt/nsbus/services",
                CONFIG_DATA "/services/", /* compared as strings, like dbus-daemon */
                "/usr/local/share/dbus-1/system-services",
                "/usr/share/dbus-1/system-services", /* listed again later: kept once */
                "/lib/dbus-1/system-services",
                CONFIG_DATA "/sub/included-services",
        };
        CHECK_EQ(c->n_servicedirs, ELEMENTSOF(dirs));
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                CHECK_STREQ(c->servicedirs[i].path, dirs[i]);
                CHECK_EQ(c->servicedirs[i].flags, 0);
        }
        CHECK_EQ(c->n_conf_dirs, 1);
        CHECK_STREQ(c->conf_dirs[0], CONFIG_DATA "/basic.d");

        /* Limits: set in the file, overridden by an include, set by an
         * includedir file, or left at dbus-daemon's defaults. */
        CHECK_EQ(c->limits.max_names_per_connection, 128);
        CHECK_EQ(c->limits.auth_timeout, 5000);
        CHECK_EQ(c->limits.max_incoming_bytes, 0x100000);
        CHECK_EQ(c->limits.max_match_rules_per_connection, 99);
        CHECK_EQ(c->limits.max_outgoing_bytes, 127 * 1024 * 1024);
        CHECK_EQ(c->limits.max_message_unix_fds, 16);
        CHECK_EQ(c->limits.reply_timeout, -1);

        CHECK_EQ(c->n_selinux_associations, 1);
        CHECK_STREQ(c->selinux_associations[0].own, "com.example.Alice");
        CHECK_STREQ(c->selinux_associations[0].context, "alice_t");
        CHECK_EQ(c->apparmor_mode, BUS_APPARMOR_ENABLED);

        /* Nothing we do not enforce goes unmentioned. */
        CHECK(has_warning(c, CONFIG_DATA "/basic.conf:50: Unknown username \"nosuchuser\""));
        CHECK(has_warning(c, CONFIG_DATA
                          "/basic.d/10-first.conf:6: <policy at_console=\"true\"> never applies"));
        CHECK(has_warning(c, CONFIG_DATA "/basic.d/10-first.conf:9: <apparmor> mediation is not enforced"));
        CHECK(has_warning(c, "skipping \"" CONFIG_DATA "/basic.d/30-broken.conf\" after error: " CONFIG_DATA
                             "/basic.d/30-broken.conf:5: Attribute \"bogus\" is invalid on <allow>"));
        CHECK(has_warning(c, "<selinux> is not enforced"));
        CHECK_EQ(n_warn_calls, c->n_warnings);

        /* The policy, as assembled from all those files. */
        gid_t staff[] = {50};
        struct policy_subject alice = {.uid = 1000};
        struct policy_subject bob = {.uid = 1001, .gids = staff, .n_gids = 1};
        struct bus_policy *p = c->policy;

        CHECK(bus_policy_check_connect(p, &alice));
        CHECK(bus_policy_check_own(p, &alice, "com.example.Alice"));
        CHECK(!bus_policy_check_own(p, &bob, "com.example.Alice"));
        CHECK(bus_policy_check_own(p, &bob, "com.example.Staff.Printer"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Staff.Printer"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Nobody"));
        CHECK(bus_policy_check_own(p, &alice, "com.example.Included"));
        CHECK(bus_policy_check_own(p, &alice, "com.example.First"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Order"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Broken"));
        CHECK(!bus_policy_check_own(p, &alice, "com.example.Console"));
        CHECK(!bus_policy_check_own(p, &bob, "com.example.Staff.Forbidden"));

        struct policy_msg hello = method_call("org.freedesktop.DBus", "org.freedesktop.DBus", "Hello");
        struct policy_msg to_included = method_call("com.example.Included", "com.example.I", "M");
        struct policy_msg to_other = method_call("com.example.Other", "com.example.I", "M");
        const char *const owned[] = {"com.example.Included"};
        const struct policy_names included = {":1.3", owned, 1}, other = {":1.4", NULL, 0};
        CHECK(bus_policy_check_send(p, &alice, NULL, &hello, NULL));
        CHECK(bus_policy_check_send(p, &alice, &included, &to_included, NULL));
        CHECK(!bus_policy_check_send(p, &alice, &other, &to_other, NULL));
        CHECK(bus_policy_check_receive(p, &alice, &other, &to_other, NULL));

        bus_config_free(c);
}

static void test_errors(void)
{
        /* The outermost element must be <busconfig>. */
        expect_error("<config/>", -EINVAL, 1, "Unknown element <config> at root of configuration file");
        expect_error("<busconfig>\n  <listen>x</listen>\n  <bees/>\n</busconfig>", -EINVAL, 3,
                     "Element <bees> not allowed inside <busconfig> in configuration file");
        expect_error("<busconfig>\n<policy context=\"default\">\n<allow "
                     "own=\"a\"><x/></allow></policy></busconfig>",
                     -EINVAL, 3, "Element <x> is not allowed in this context");
        expect_error("<busconfig>\n<policy context=\"default\">\n<permit own=\"a\"/></policy></busconfig>",
                     -EINVAL, 3, "Element <permit> not allowed inside <policy>");
        expect_error("<busconfig>\n<associate own=\"a\" context=\"b\"/></busconfig>", -EINVAL, 2,
                     "Element <associate> not allowed inside <busconfig>");
        expect_error("<busconfig><selinux>\n<associate own=\"a\"/></selinux></busconfig>", -EINVAL, 2,
                     "Element <associate> must have attributes");
        expect_error("<busconfig>\n<listen carefully=\"yes\">tcp:port=1234</listen></busconfig>", -EINVAL, 2,
                     "Attribute \"carefully\" is invalid on <listen> element in this context");
        expect_error("<busconfig>\n\n<busconfig/></busconfig>", -EINVAL, 3,
                     "Element <busconfig> not allowed");

        /* XML that is not well-formed. */
        expect_error("<busconfig>\n  <user>me</foo>\n</busconfig>", -EINVAL, 2, "mismatched tag");
        expect_error("<busconfig>\n<listen>x</listen>\n<include ignore_missing=\"y", -EINVAL, 3,
                     "unclosed token");
        expect_error("", -EINVAL, 1, "no element found");
        expect_error("<busconfig><limit name=\"a\" name=\"a\">1</limit></busconfig>", -EINVAL, 1,
                     "duplicate attribute");

        /* Content rules. */
        expect_error("<busconfig>\n<listen/>\n</busconfig>", -EINVAL, 2,
                     "XML element <listen> was expected to have content inside it");
        expect_error("<busconfig><listen>x</listen>\n<policy context=\"default\">\n  "
                     "hello\n</policy></busconfig>",
                     -EINVAL, 2, "No text content expected inside XML element policy");
        expect_error("<busconfig>\n  <fork>yes</fork></busconfig>", -EINVAL, 2, "No text content expected");
        expect_error("<busconfig>\n<type>system</type>\n</busconfig>", -EINVAL, 0,
                     "Configuration file needs one or more <listen> elements giving addresses");

        /* Limits. */
        expect_error("<busconfig><listen>x</listen>\n<limit name=\"max_bees\">5</limit></busconfig>",
                     -EINVAL, 2, "There is no limit called \"max_bees\"");
        expect_error("<busconfig><listen>x</listen>\n<limit>5</limit></busconfig>", -EINVAL, 2,
                     "<limit> element must have a \"name\" attribute");
        expect_error("<busconfig><listen>x</listen>\n<limit name=\"auth_timeout\">-1</limit></busconfig>",
                     -EINVAL, 2, "must be a positive number");
        expect_error(
                "<busconfig><listen>x</listen>\n<limit name=\"auth_timeout\">3123123123</limit></busconfig>",
                -EINVAL, 2, "<limit name=\"auth_timeout\"> value is too large");
        expect_error("<busconfig><listen>x</listen>\n<limit name=\"auth_timeout\">soon</limit></busconfig>",
                     -EINVAL, 2, "could not parse as integer");

        /* <policy> and rules. */
        expect_error("<busconfig><listen>x</listen>\n<policy/></busconfig>", -EINVAL, 2,
                     "<policy> element must have exactly one of (context|user|group|at_console) attributes");
        expect_error(
                "<busconfig><listen>x</listen>\n<policy user=\"root\" at_console=\"true\"/></busconfig>",
                -EINVAL, 2, "exactly one of");
        expect_error("<busconfig><listen>x</listen>\n<policy context=\"sometimes\"/></busconfig>", -EINVAL,
                     2, "context attribute on <policy> must have the value \"default\" or \"mandatory\"");
        expect_error("<busconfig><listen>x</listen>\n<policy at_console=\"maybe\"/></busconfig>", -EINVAL, 2,
                     "Unknown value \"maybe\" for at_console");
        expect_error("<busconfig><policy context=\"default\">\n<allow/></policy></busconfig>", -EINVAL, 2,
                     "Element <allow> must have one or more attributes");
        expect_error("<busconfig><policy context=\"default\">\n<allow max_fds=\"0\"/></policy></busconfig>",
                     -EINVAL, 2, "Element <allow> must have one or more attributes");
        expect_error("<busconfig><policy context=\"default\">\n<deny "
                     "send_member=\"Reboot\"/></policy></busconfig>",
                     -EINVAL, 2, "if you specify a member you must specify an interface or a path");
        expect_error("<busconfig><policy context=\"default\">\n<allow user=\"*\" "
                     "own=\"a\"/></policy></busconfig>",
                     -EINVAL, 2,
                     "own, own_prefix, user, group and the message-related attributes cannot be combined");
        expect_error("<busconfig><policy context=\"default\">\n<allow own=\"a\" "
                     "eavesdrop=\"true\"/></policy></busconfig>",
                     -EINVAL, 2, "cannot be combined");
        expect_error("<busconfig><policy context=\"default\">\n<allow receive_type=\"signal\" "
                     "send_destination=\"a\"/></policy></busconfig>",
                     -EINVAL, 2, "send and receive attributes cannot be combined");
        expect_error("<busconfig><policy context=\"default\">\n<allow send_error=\"a.b\" "
                     "send_interface=\"a\"/></policy></busconfig>",
                     -EINVAL, 2, "send_error cannot be combined with send_member or send_interface");
        expect_error("<busconfig><policy context=\"default\">\n<allow send_destination=\"a\" "
                     "send_destination_prefix=\"a\"/></policy></busconfig>",
                     -EINVAL, 2, "send_destination cannot be combined with send_destination_prefix");
        expect_error("<busconfig><policy context=\"default\">\n<allow receive_error=\"a.b\" "
                     "receive_interface=\"a\"/></policy></busconfig>",
                     -EINVAL, 2, "receive_error cannot be combined");
        expect_error("<busconfig><policy context=\"default\">\n<allow send_broadcast=\"true\" "
                     "send_destination=\"a.b\"/></policy></busconfig>",
                     -EINVAL, 2,
                     "Rule with send_broadcast=\"true\" and send_destination=\"a.b\" cannot match anything");
        expect_error(
                "<busconfig><policy context=\"default\">\n<allow send_type=\"call\"/></policy></busconfig>",
                -EINVAL, 2, "Bad message type \"call\"");
        expect_error(
                "<busconfig><policy context=\"default\">\n<allow eavesdrop=\"yes\"/></policy></busconfig>",
                -EINVAL, 2, "Bad value \"yes\" for eavesdrop attribute, must be true or false");
        expect_error("<busconfig><policy context=\"default\">\n<allow send_path=\"/\" "
                     "max_fds=\"-1\"/></policy></busconfig>",
                     -EINVAL, 2, "Bad value \"-1\" for max_fds attribute, must be an integer in range 0 to");
        expect_error("<busconfig><policy user=\"root\">\n<allow user=\"*\"/></policy></busconfig>", -EINVAL,
                     2, "<allow> rule cannot be per-user because it has bus-global semantics");
        expect_error("<busconfig><policy group=\"staff\">\n<deny group=\"*\"/></policy></busconfig>",
                     -EINVAL, 2, "<deny> rule cannot be per-group because it has bus-global semantics");

        /* Includes and other attributes. */
        expect_error(
                "<busconfig><listen>x</listen>\n<include ignore_missing=\"y\">a.conf</include></busconfig>",
                -EINVAL, 2, "ignore_missing attribute must have value \"yes\" or \"no\"");
        expect_error("<busconfig><listen>x</listen>\n<include "
                     "selinux_root_relative=\"yes\">a.conf</include></busconfig>",
                     -EINVAL, 2, "Could not determine SELinux policy root for relative inclusion");
        expect_error("<busconfig><listen>x</listen>\n<apparmor mode=\"plaintive\"/></busconfig>", -EINVAL, 2,
                     "Mode attribute on <apparmor> must have value");
        /* dbus-daemon would refuse to start without AppArmor; nsbus never has it. */
        expect_error("<busconfig><listen>x</listen>\n<apparmor mode=\"required\"/></busconfig>", -EOPNOTSUPP,
                     2, "nsbus does not implement AppArmor mediation");
}

static void test_includes(void)
{
        _cleanup_free_ char *inner = NULL, *outer = NULL, *a = NULL, *b = NULL, *nested = NULL,
                            *subdir = NULL;
        struct bus_config *c = NULL;
        char err[1024];

        /* A missing top-level file. */
        _cleanup_free_ char *missing = tmp_path("missing.conf");
        CHECK_EQ(bus_config_load(missing, &c, err, sizeof(err)), -ENOENT);
        CHECK(startswith(err, missing));

        /* An error in an included file names that file and its line. */
        inner = write_file("inner.conf", "<busconfig>\n\n  <frobnicate/>\n</busconfig>\n");
        outer = write_file("outer.conf",
                           "<busconfig>\n<listen>x</listen>\n<include>inner.conf</include>\n</busconfig>\n");
        CHECK_EQ(bus_config_load_with(outer, &test_options, &c, err, sizeof(err)), -EINVAL);
        CHECK(startswith(err, inner));
        CHECK(strstr(err, ":3: Element <frobnicate> not allowed"));

        /* A missing include is fatal unless ignore_missing="yes". */
        free(outer);
        outer = write_file("outer.conf",
                           "<busconfig>\n<listen>x</listen>\n<include>gone.conf</include>\n</busconfig>\n");
        CHECK_EQ(bus_config_load_with(outer, &test_options, &c, err, sizeof(err)), -ENOENT);
        CHECK(strstr(err, "gone.conf: Failed to open"));
        free(outer);
        outer = write_file("outer.conf", "<busconfig>\n<listen>x</listen>\n<include "
                                         "ignore_missing=\"yes\">gone.conf</include>\n</busconfig>\n");
        c = expect_load(outer);
        CHECK_EQ(c->n_warnings, 0);
        c = bus_config_free(c);

        /* Cycles, direct and indirect. */
        a = write_file("a.conf",
                       "<busconfig>\n<listen>x</listen>\n<include>b.conf</include>\n</busconfig>\n");
        b = write_file("b.conf", "<busconfig>\n<include>a.conf</include>\n</busconfig>\n");
        CHECK_EQ(bus_config_load_with(a, &test_options, &c, err, sizeof(err)), -ELOOP);
        CHECK(strstr(err, "Circular inclusion of file"));

        /* A cycle inside an includedir is a skipped file, not a failure. */
        subdir = tmp_path("loop.d");
        CHECK(mkdir(subdir, 0755) == 0);
        free(write_file("loop.d/x.conf", "<busconfig><includedir>.</includedir></busconfig>"));
        free(outer);
        outer = write_file(
                "outer.conf",
                "<busconfig>\n<listen>x</listen>\n<includedir>loop.d</includedir>\n</busconfig>\n");
        c = expect_load(outer);
        CHECK(has_warning(c, "Circular inclusion"));
        c = bus_config_free(c);

        /* Paths in an included file are relative to that file. */
        nested = tmp_path("nested");
        CHECK(mkdir(nested, 0755) == 0);
        free(write_file("nested/deep.conf",
                        "<busconfig><servicedir>svc</servicedir><includedir>d</includedir></busconfig>"));
        free(outer);
        outer = write_file("outer.conf",
                           "<busconfig><listen>x</listen><include>nested/deep.conf</include></busconfig>");
        c = expect_load(outer);
        _cleanup_free_ char *svc = tmp_path("nested/svc");
        CHECK_EQ(c->n_servicedirs, 1);
        CHECK_STREQ(c->servicedirs[0].path, svc);
        CHECK_EQ(c->n_conf_dirs, 0); /* nested/d does not exist, which is fine */
        c = bus_config_free(c);

        /* <listen> may be left to the command line if the caller says so. */
        _cleanup_free_ char *nolisten =
                write_file("nolisten.conf", "<busconfig><type>session</type></busconfig>");
        struct bus_config_load_options o = test_options;
        CHECK_EQ(bus_config_load_with(nolisten, &o, &c, err, sizeof(err)), -EINVAL);
        o.listen_optional = true;
        CHECK_EQ(bus_config_load_with(nolisten, &o, &c, err, sizeof(err)), 0);
        c = bus_config_free(c);

        /* <syslog/> in an included file is ignored, as dbus-daemon 1.14
         * does; <fork/> is not. */
        free(write_file("flags.conf", "<busconfig><syslog/><fork/></busconfig>"));
        free(outer);
        outer = write_file("outer.conf",
                           "<busconfig><listen>x</listen><include>flags.conf</include></busconfig>");
        c = expect_load(outer);
        CHECK(!c->syslog);
        CHECK(c->fork);
        c = bus_config_free(c);
}

static void test_limits_parsing(void)
{
        /* dbus-daemon parses limits with strtol(..., 0) and ignores what
         * follows the number. */
        _cleanup_free_ char *path =
                write_file("limits.conf", "<busconfig><listen>x</listen>"
                                          "<limit name=\"max_names_per_connection\"> 0x10 names</limit>"
                                          "<limit name=\"max_match_rules_per_connection\">010</limit>"
                                          "<limit name=\"max_outgoing_bytes\">5000000000</limit>"
                                          "<limit name=\"reply_timeout\">0</limit>"
                                          "<limit name=\"max_containers\">3</limit>"
                                          "<limit name=\"max_match_rules_per_user\">77</limit>"
                                          "<limit name=\"max_bytes_per_user\">6000000000</limit>"
                                          "<limit name=\"max_unix_fds_per_user\">9</limit>"
                                          "</busconfig>");
        struct bus_config *c = expect_load(path);

        CHECK_EQ(c->limits.max_names_per_connection, 16);
        CHECK_EQ(c->limits.max_match_rules_per_connection, 8);
        CHECK_EQ(c->limits.max_outgoing_bytes, 5000000000LL);
        CHECK_EQ(c->limits.reply_timeout, 0);
        CHECK_EQ(c->limits.max_containers, 3);
        CHECK_EQ(c->limits.max_match_rules_per_user, 77);
        CHECK_EQ(c->limits.max_bytes_per_user, 6000000000LL); /* a long, like max_outgoing_bytes */
        CHECK_EQ(c->limits.max_unix_fds_per_user, 9);
        bus_config_free(c);

        struct bus_limits d;
        bus_limits_init_default(&d);
        CHECK_EQ(d.max_incoming_bytes, 133169152);
        CHECK_EQ(d.max_incoming_unix_fds, 64);
        CHECK_EQ(d.max_message_size, 33554432);
        CHECK_EQ(d.service_start_timeout, 25000);
        CHECK_EQ(d.auth_timeout, 30000);
        CHECK_EQ(d.pending_fd_timeout, 150000);
        CHECK_EQ(d.max_completed_connections, 2048);
        CHECK_EQ(d.max_incomplete_connections, 64);
        CHECK_EQ(d.max_connections_per_user, 256);
        CHECK_EQ(d.max_pending_service_starts, 512);
        CHECK_EQ(d.max_names_per_connection, 512);
        CHECK_EQ(d.max_match_rules_per_connection, 512);
        CHECK_EQ(d.max_replies_per_connection, 128);
        CHECK_EQ(d.max_names_per_user, 4096);
        CHECK_EQ(d.max_match_rules_per_user, 16384);
        CHECK_EQ(d.max_replies_per_user, 4096);
        CHECK_EQ(d.max_bytes_per_user, 512 * 1024 * 1024);
        CHECK_EQ(d.max_unix_fds_per_user, 128);
}

static void test_rule_parsing(void)
{
        _cleanup_free_ char *path = write_file(
                "rules.conf",
                "<busconfig><listen>x</listen>\n"
                "<policy context=\"default\">\n"
                "  <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "  <allow eavesdrop=\"true\"/>\n"
                "  <deny send_interface=\"com.example.Secret\" send_destination=\"com.example.A\"/>\n"
                "  <deny send_destination_prefix=\"com.example.Private\"/>\n"
                "  <deny send_path=\"/fds\" min_fds=\"1\"/>\n"
                "  <deny receive_sender=\"com.example.Noisy\" receive_type=\"signal\"/>\n"
                "  <allow own=\"*\"/>\n"
                "  <deny own_prefix=\"com.example.Reserved\"/>\n"
                "  <allow user=\"*\"/>\n"
                "  <deny user=\"alice\"/>\n"
                "  <deny user=\"ghost\"/>\n"
                "</policy>\n"
                "</busconfig>\n");
        struct bus_config *c = expect_load(path);
        struct bus_policy *p = c->policy;
        struct policy_subject alice = {.uid = 1000}, bob = {.uid = 1001};
        const char *const a_names[] = {"com.example.A", "com.example.Private.Thing"};
        const struct policy_names a_owner = {":1.1", a_names, 1}, private_owner = {":1.2", a_names + 1, 1};
        struct policy_msg secret = method_call("com.example.A", "com.example.Secret", "Get");
        struct policy_msg open = method_call("com.example.A", "com.example.Open", "Get");

        CHECK(has_warning(c, "rules.conf:13: Unknown username \"ghost\" on element <deny>"));
        CHECK(!bus_policy_check_connect(p, &alice));
        CHECK(bus_policy_check_connect(p, &bob));
        CHECK(!bus_policy_check_send(p, &bob, &a_owner, &secret, NULL));
        CHECK(bus_policy_check_send(p, &bob, &a_owner, &open, NULL));
        CHECK(!bus_policy_check_send(p, &bob, &private_owner, &open, NULL));
        open.path = "/fds";
        open.n_fds = 1;
        CHECK(!bus_policy_check_send(p, &bob, &a_owner, &open, NULL));
        CHECK(bus_policy_check_own(p, &bob, "com.example.Free"));
        CHECK(!bus_policy_check_own(p, &bob, "com.example.Reserved.X"));

        struct policy_msg noise = {
                .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "x.y", .member = "Z"};
        const char *const noisy[] = {"com.example.Noisy"};
        const struct policy_names noisy_owner = {":1.5", noisy, 1};
        CHECK(!bus_policy_check_receive(p, &bob, &noisy_owner, &noise, NULL));
        CHECK(bus_policy_check_receive(p, &bob, &a_owner, &noise, NULL));
        noise.eavesdropping = true;
        noise.destination = ":1.9";
        CHECK(bus_policy_check_receive(p, &bob, &a_owner, &noise, NULL));
        bus_config_free(c);
}

/* nsbus's origin="container|host" on a rule: only peers from that listener of a container bus match it. */
static void test_origin_attribute(void)
{
        _cleanup_free_ char *path = write_file(
                "origin.conf",
                "<busconfig><listen>x</listen>\n"
                "<policy context=\"default\">\n"
                "  <allow own=\"*\"/>\n"
                "  <deny own_prefix=\"org.freedesktop\" origin=\"container\"/>\n"
                "  <deny own=\"com.example.HostOnly\" origin=\"host\"/>\n"
                "  <allow own=\"com.example.Any\" origin=\"*\"/>\n"
                "</policy>\n"
                "</busconfig>\n");
        struct bus_config *c = expect_load(path);
        struct policy_subject inside = {.uid = 1000, .origin = POLICY_ORIGIN_CONTAINER},
                              host = {.uid = 1000, .origin = POLICY_ORIGIN_HOST},
                              plain = {.uid = 1000, .origin = POLICY_ORIGIN_ANY};
        CHECK(!bus_policy_check_own(c->policy, &inside, "org.freedesktop.NetworkManager"));
        CHECK(bus_policy_check_own(c->policy, &host, "org.freedesktop.NetworkManager"));
        CHECK(bus_policy_check_own(c->policy, &plain, "org.freedesktop.NetworkManager"));
        CHECK(bus_policy_check_own(c->policy, &inside, "com.example.HostOnly"));
        CHECK(!bus_policy_check_own(c->policy, &host, "com.example.HostOnly"));
        CHECK(bus_policy_check_own(c->policy, &inside, "com.example.Any"));
        bus_config_free(c);

        expect_error("<busconfig>\n<policy context=\"default\">\n<allow own=\"a\" origin=\"guest\"/>"
                     "</policy></busconfig>",
                     -EINVAL, 3, "origin attribute on <allow> must have value \"container\", \"host\" or \"*\"");
        expect_error("<busconfig>\n<policy context=\"default\">\n<allow user=\"*\" origin=\"host\"/>"
                     "</policy></busconfig>",
                     -EINVAL, 3, "origin attribute on <allow> cannot be combined with user or group");
}

static void test_session_servicedirs(void)
{
        _cleanup_free_ char *runtime = tmp_path("runtime"), *path = NULL, *transient = NULL;
        struct bus_config *c;

        CHECK(mkdir(runtime, 0700) == 0);
        CHECK(setenv("XDG_RUNTIME_DIR", runtime, 1) == 0);
        CHECK(setenv("XDG_DATA_HOME", "/home/test/.local/share", 1) == 0);
        CHECK(setenv("XDG_DATA_DIRS", "/opt/share:/usr/share/:", 1) == 0);
        path = write_file("session.conf",
                          "<busconfig><listen>x</listen><servicedir>/opt/share/dbus-1/services</servicedir>"
                          "<standard_session_servicedirs/></busconfig>");
        c = expect_load(path);

        /* dbus-daemon 1.14's order, duplicates dropped. */
        CHECK(asprintf(&transient, "%s/dbus-1/services", runtime) > 0);
        CHECK_EQ(c->n_servicedirs, 4);
        CHECK_STREQ(c->servicedirs[0].path, "/opt/share/dbus-1/services");
        CHECK_EQ(c->servicedirs[0].flags, 0);
        CHECK_STREQ(c->servicedirs[1].path, transient);
        CHECK_EQ(c->servicedirs[1].flags, BUS_SERVICE_DIR_NO_WATCH | BUS_SERVICE_DIR_STRICT_NAMING);
        CHECK_STREQ(c->servicedirs[2].path, "/home/test/.local/share/dbus-1/services");
        CHECK_STREQ(c->servicedirs[3].path, "/usr/share/dbus-1/services");
        struct stat st;
        CHECK(stat(transient, &st) == 0 && S_ISDIR(st.st_mode));
        bus_config_free(c);

        /* An unusable XDG_RUNTIME_DIR costs the transient directory only. */
        CHECK(chmod(runtime, 0777) == 0);
        unsetenv("XDG_DATA_HOME");
        unsetenv("XDG_DATA_DIRS");
        c = expect_load(path);
        CHECK(has_warning(c, "Unable to set up transient service directory"));
        CHECK_EQ(c->n_servicedirs, 4);
        CHECK_STREQ(c->servicedirs[1].path + strlen(c->servicedirs[1].path) -
                            strlen("/.local/share/dbus-1/services"),
                    "/.local/share/dbus-1/services");
        CHECK_STREQ(c->servicedirs[2].path, "/usr/local/share/dbus-1/services");
        CHECK_STREQ(c->servicedirs[3].path, "/usr/share/dbus-1/services");
        bus_config_free(c);
        unsetenv("XDG_RUNTIME_DIR");
}

/* The files this machine's dbus-daemon runs with. */
static void test_system_files(void)
{
        struct bus_config *c = NULL;
        char err[1024];

        if (access("/usr/share/dbus-1/session.conf", R_OK) == 0) {
                CHECK_EQ(bus_config_load("/usr/share/dbus-1/session.conf", &c, err, sizeof(err)), 0);
                CHECK_STREQ(c->type, "session");
                CHECK(c->n_listen >= 1);
                struct policy_subject me = {.uid = 1000};
                struct policy_msg m = method_call("com.example.A", "com.example.I", "M");
                const struct policy_names any = {":1.1", NULL, 0};
                CHECK(bus_policy_check_send(c->policy, &me, &any, &m, NULL));
                CHECK(bus_policy_check_own(c->policy, &me, "com.example.A"));
                c = bus_config_free(c);
        } else
                fprintf(stderr, "skipped: no /usr/share/dbus-1/session.conf\n");

        if (access("/usr/share/dbus-1/system.conf", R_OK) == 0) {
                CHECK_EQ(bus_config_load("/usr/share/dbus-1/system.conf", &c, err, sizeof(err)), 0);
                CHECK_STREQ(c->type, "system");
                CHECK(c->fork && c->syslog);
                CHECK_EQ(c->n_auth, 1);
                CHECK_STREQ(c->auth[0], "EXTERNAL");
                CHECK_STREQ(c->servicedirs[0].path, "/usr/local/share/dbus-1/system-services");
                struct policy_subject user = {.uid = 1000}, root = {.uid = 0};
                struct policy_msg getid =
                        method_call("org.freedesktop.DBus", "org.freedesktop.DBus", "GetId");
                struct policy_msg update = method_call("org.freedesktop.DBus", "org.freedesktop.DBus",
                                                       "UpdateActivationEnvironment");
                struct policy_msg monitor = method_call("org.freedesktop.DBus",
                                                        "org.freedesktop.DBus.Monitoring", "BecomeMonitor");
                CHECK(bus_policy_check_connect(c->policy, &user));
                CHECK(bus_policy_check_send(c->policy, &user, NULL, &getid, NULL));
                CHECK(!bus_policy_check_send(c->policy, &user, NULL, &update, NULL));
                CHECK(!bus_policy_check_send(c->policy, &user, NULL, &monitor, NULL));
                /* <policy user="root"> is only applied if root resolves,
                 * which it does on any real system. */
                CHECK(bus_policy_check_send(c->policy, &root, NULL, &monitor, NULL));
                CHECK(!bus_policy_check_own(c->policy, &user, "com.example.A"));
                c = bus_config_free(c);
        } else
                fprintf(stderr, "skipped: no /usr/share/dbus-1/system.conf\n");
}

/* dbus's own test data (Debian's dbus-tests package), if installed. */
static void test_dbus_test_data(void)
{
        static const char base[] = "/usr/lib/dbus-1.0/installed-tests/dbus/data";
        static const char *const subdirs[] = {"valid-config-files", "valid-config-files-system",
                                              "invalid-config-files"};
        unsigned n = 0;

        for (size_t s = 0; s < ELEMENTSOF(subdirs); s++) {
                _cleanup_free_ char *dir = NULL;
                CHECK(asprintf(&dir, "%s/%s", base, subdirs[s]) > 0);
                _cleanup_closedir_ DIR *d = opendir(dir);
                if (!d)
                        continue;
                bool valid = !startswith(subdirs[s], "invalid");
                struct dirent *de;
                while ((de = readdir(d))) {
                        size_t l = strlen(de->d_name);
                        if (l < 5 || !streq(de->d_name + l - 5, ".conf"))
                                continue;
                        _cleanup_free_ char *path = NULL;
                        struct bus_config *c = NULL;
                        char err[1024];
                        CHECK(asprintf(&path, "%s/%s", dir, de->d_name) > 0);
                        int r = bus_config_load(path, &c, err, sizeof(err));
                        if ((r == 0) != valid) {
                                fprintf(stderr, "%s: expected %s, got %d %s\n", path,
                                        valid ? "valid" : "invalid", r, r < 0 ? err : "");
                                exit(1);
                        }
                        bus_config_free(c);
                        n++;
                }
        }
        if (n == 0)
                fprintf(stderr, "skipped: dbus test data not installed in %s\n", base);
}

static void remove_tree(const char *path)
{
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;

        if (!d) {
                unlink(path);
                return;
        }
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = NULL;
                CHECK(asprintf(&p, "%s/%s", path, de->d_name) > 0);
                remove_tree(p);
        }
        rmdir(path);
}
/* <container>: nsbus's config-file form of --container-pid/--name/--runtime-dir. */
static void test_container(void)
{
        _cleanup_free_ char *path =
                write_file("container.conf",
                           "<busconfig>\n<container pid=\"4242\" name=\"web\" runtime_dir=\"/run/x\"/>\n"
                           "<listen>unix:path=/x</listen></busconfig>\n");
        struct bus_config *c = expect_load(path);
        CHECK_EQ(c->container_pid, 4242);
        CHECK_STREQ(c->container_name, "web");
        CHECK_STREQ(c->container_runtime_dir, "/run/x");
        CHECK(!c->container_policy);
        bus_config_free(c);

        /* policy= is relative to the file's directory, like every path in a configuration */
        _cleanup_free_ char *pol = write_file("pol.conf",
                                              "<busconfig><listen>x</listen><container pid=\"5\" "
                                              "policy=\"web.policy\"/></busconfig>\n");
        c = expect_load(pol);
        _cleanup_free_ char *want = NULL;
        CHECK(asprintf(&want, "%s/web.policy", tmpdir) > 0);
        CHECK_STREQ(c->container_policy, want);
        bus_config_free(c);
        expect_error("<busconfig>\n<container pid=\"1\" policy=\"\"/></busconfig>", -EINVAL, 2,
                     "<container policy=\"\">: names no file");

        /* an included file's element wins, as for other scalars */
        _cleanup_free_ char *inc = write_file("inc.conf", "<busconfig><container pid=\"7\"/></busconfig>\n");
        _cleanup_free_ char *top =
                write_file("top.conf",
                           "<busconfig><listen>unix:path=/x</listen><container pid=\"4242\" name=\"web\"/>"
                           "<include>%s</include></busconfig>\n",
                           inc);
        c = expect_load(top);
        CHECK_EQ(c->container_pid, 7);
        CHECK_STREQ(c->container_name, "web");
        CHECK(!c->container_runtime_dir);
        bus_config_free(c);

        expect_error("<busconfig>\n<container name=\"web\"/></busconfig>", -EINVAL, 2,
                     "<container> element must have a \"pid\" attribute");
        expect_error("<busconfig>\n<container pid=\"12x\"/></busconfig>", -EINVAL, 2,
                     "<container pid=\"12x\">: not a process id");
        expect_error("<busconfig>\n<container pid=\"0\"/></busconfig>", -EINVAL, 2, "not a process id");
        expect_error("<busconfig>\n<container pid=\"1\" name=\"a/b\"/></busconfig>", -EINVAL, 2,
                     "a name must be a single path component");
        expect_error("<busconfig>\n<container pid=\"1\" name=\"..\"/></busconfig>", -EINVAL, 2,
                     "a name must be a single path component");
        expect_error("<busconfig>\n<container pid=\"1\" runtime_dir=\"run\"/></busconfig>", -EINVAL, 2,
                     "must be an absolute path");
        expect_error("<busconfig>\n<container pid=\"1\" user=\"x\"/></busconfig>", -EINVAL, 2,
                     "Attribute \"user\" is invalid on <container> element");
}

int main(void)
{
        CHECK(mkdtemp(tmpdir));
        unsetenv("XDG_RUNTIME_DIR");

        test_basic();
        test_errors();
        test_includes();
        test_limits_parsing();
        test_rule_parsing();
        test_origin_attribute();
        test_session_servicedirs();
        test_system_files();
        test_dbus_test_data();
        test_container();

        remove_tree(tmpdir);
        return 0;
}
