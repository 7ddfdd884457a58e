/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl: busctl's verbs and options, so that an admin's habits and
 * scripts carry over, on any bus: the system or session bus, an address,
 * or a container's bus (-C NAME, --pid PID) through its host.sock.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "connect.h"
#include "verbs.h"

#define DEFAULT_TIMEOUT_MS 25000 /* sd-bus's, so busctl's */

static void usage(FILE *f)
{
        fprintf(f, "Usage: nsbusctl [OPTIONS...] COMMAND ...\n"
                   "\n"
                   "Commands (busctl's):\n"
                   "  list                                  List bus names\n"
                   "  status [SERVICE]                      Show the bus's or a service's credentials\n"
                   "  call SERVICE OBJECT INTERFACE METHOD [SIGNATURE [ARGUMENT...]]\n"
                   "                                        Call a method\n"
                   "  get-property SERVICE OBJECT INTERFACE PROPERTY...\n"
                   "                                        Get property values\n"
                   "  set-property SERVICE OBJECT INTERFACE PROPERTY SIGNATURE ARGUMENT...\n"
                   "                                        Set a property value\n"
                   "  emit OBJECT INTERFACE SIGNAL [SIGNATURE [ARGUMENT...]]\n"
                   "                                        Emit a signal\n"
                   "  introspect SERVICE OBJECT [INTERFACE] Show an object's members and property values\n"
                   "  tree [SERVICE...]                     Show the object tree of services\n"
                   "  monitor [SERVICE...]                  Show bus traffic\n"
                   "  capture [SERVICE...]                  Write bus traffic as pcap to stdout\n"
                   "  wait [SERVICE] OBJECT INTERFACE SIGNAL\n"
                   "                                        Wait for a signal and show it\n"
                   "\n"
                   "Commands of nsbusctl's own:\n"
                   "  creds PEER                            A peer's identity as the host and as its\n"
                   "                                        container see it, its socket and trust\n"
                   "  up NAME [--pid=PID]                   Start container NAME's bus (and bridge)\n"
                   "  down NAME                             Stop it, leaving nothing behind\n"
                   "  ls [NAME]                             Show the container buses that run\n"
                   "  reload NAME                           Re-read its configuration and bridge policy\n"
                   "  checkpoint NAME DIR                   Dump container NAME with its bus connections\n"
                   "                                        into DIR (CRIU)\n"
                   "  restore NAME DIR                      Restore it from DIR, bus connections and all\n"
                   "\n"
                   "Options:\n"
                   "  --system                Connect to the system bus (the default)\n"
                   "  --user                  Connect to the session bus\n"
                   "  --address=ADDRESS       Connect to the bus at ADDRESS\n"
                   "  -C --container=NAME     Connect to container NAME's bus (its host.sock)\n"
                   "  --pid=PID               Connect to the bus of the container PID is in\n"
                   "  --runtime-dir=DIR       Where container buses live (default /run/nsbus)\n"
                   "  --policy=FILE           up: the bridge policy (default /etc/nsbus/containers/\n"
                   "                          NAME.policy if it exists; none: no bridge)\n"
                   "  --config=FILE           up: the bus configuration (default: built in)\n"
                   "  --host-bus=ADDRESS      up: the bus the bridge connects to (default: system)\n"
                   "  --log=FILE              up: where the bus and bridge log (default\n"
                   "                          /var/log/nsbus/NAME.log)\n"
                   "  --add-user=BOOL         up: add a system user for the container's root if\n"
                   "                          the host has none (dbus-daemon needs one; default yes)\n"
                   "  --leave-running         checkpoint: the container goes on running\n"
                   "  --bus=same|fresh        restore: onto NAME's running bus, or a bus started for\n"
                   "                          it (default: same if one is up)\n"
                   "  --timeout=SECS          How long to wait for a reply (default 25); how long\n"
                   "                          monitor and capture run (default: until SIGINT)\n"
                   "  --expect-reply=BOOL     Whether to wait for the reply of a call\n"
                   "  --auto-start=BOOL       Whether a call may start its service\n"
                   "  --destination=NAME      The destination of an emitted signal\n"
                   "  --unique --acquired --activatable\n"
                   "                          Which names list shows\n"
                   "  --json=short|pretty, -j Show JSON\n"
                   "  -q --quiet              Do not show replies\n"
                   "  --no-legend             Do not show the header of tables\n"
                   "  --verbose               Show replies in busctl's message dump format\n"
                   "  --no-pager              Accepted for busctl's sake; nsbusctl never pages\n"
                   "  -h --help --version\n"
                   "See nsbusctl(1).\n");
}

static const struct {
        const char *name;
        int (*run)(const struct cli_options *o, int argc, char **argv);
} verbs[] = {
        {"list", verb_list},
        {"status", verb_status},
        {"call", verb_call},
        {"get-property", verb_get_property},
        {"set-property", verb_set_property},
        {"emit", verb_emit},
        {"introspect", verb_introspect},
        {"tree", verb_tree},
        {"monitor", verb_monitor},
        {"capture", verb_capture},
        {"wait", verb_wait},
        {"creds", verb_creds},
        {"up", verb_up},
        {"down", verb_down},
        {"ls", verb_ls},
        {"reload", verb_reload},
        {"checkpoint", verb_checkpoint},
        {"restore", verb_restore},
};

enum {
        ARG_SYSTEM = 0x100,
        ARG_USER,
        ARG_ADDRESS,
        ARG_PID,
        ARG_TIMEOUT,
        ARG_EXPECT_REPLY,
        ARG_AUTO_START,
        ARG_DESTINATION,
        ARG_UNIQUE,
        ARG_ACQUIRED,
        ARG_ACTIVATABLE,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_PAGER,
        ARG_RUNTIME_DIR,
        ARG_POLICY,
        ARG_CONFIG,
        ARG_HOST_BUS,
        ARG_LOG,
        ARG_ADD_USER,
        ARG_VERBOSE,
        ARG_LEAVE_RUNNING,
        ARG_BUS,
};

static int parse_bool(const char *opt, const char *v, bool *ret)
{
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(v, yes[i]) || streq(v, no[i])) {
                        *ret = streq(v, yes[i]);
                        return 1;
                }
        return cli_fail(-EINVAL, "--%s=%s: not a boolean (yes or no)", opt, v);
}

static int parse_number(const char *opt, const char *v, double max, double *ret)
{
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || d <= 0 || d > max)
                return cli_fail(-EINVAL, "--%s=%s: not a number from 0 to %g", opt, v, max);
        *ret = d;
        return 1;
}

/* One option that takes a value: 1, or negative after saying why. */
static int parse_valued(int c, struct cli_options *o)
{
        double d;
        int r;
        switch (c) {
        case ARG_ADDRESS:
                o->address = optarg;
                return 1;
        case 'C':
                o->container = optarg;
                return 1;
        case ARG_PID:
                if ((r = parse_number("pid", optarg, INT32_MAX, &d)) > 0)
                        o->pid = (pid_t)d;
                return r;
        case ARG_TIMEOUT:
                if ((r = parse_number("timeout", optarg, 86400, &d)) > 0) {
                        o->timeout_ms = (int)(d * 1000);
                        o->timeout_set = true;
                }
                return r;
        case ARG_EXPECT_REPLY:
                return parse_bool("expect-reply", optarg, &o->expect_reply);
        case ARG_AUTO_START:
                return parse_bool("auto-start", optarg, &o->auto_start);
        case ARG_DESTINATION:
                o->destination = optarg;
                return 1;
        case ARG_POLICY:
                o->policy = optarg;
                return 1;
        case ARG_CONFIG:
                o->config = optarg;
                return 1;
        case ARG_HOST_BUS:
                o->host_bus = optarg;
                return 1;
        case ARG_BUS:
                if (!streq(optarg, "same") && !streq(optarg, "fresh"))
                        return cli_fail(-EINVAL, "--bus=%s: must be same or fresh", optarg);
                o->restore_bus = optarg;
                return 1;
        case ARG_ADD_USER:
                return parse_bool("add-user", optarg, &o->add_user);
        case ARG_LOG:
                if (optarg[0] != '/')
                        return cli_fail(-EINVAL, "--log=%s: must be an absolute path", optarg);
                o->log = optarg;
                return 1;
        case ARG_RUNTIME_DIR:
                if (optarg[0] != '/')
                        return cli_fail(-EINVAL, "--runtime-dir=%s: must be an absolute path", optarg);
                o->runtime_dir = optarg;
                return 1;
        default: /* ARG_JSON */
                if (!optarg || streq(optarg, "short"))
                        o->json = CLI_JSON_SHORT;
                else if (streq(optarg, "pretty"))
                        o->json = CLI_JSON_PRETTY;
                else if (streq(optarg, "off"))
                        o->json = CLI_JSON_OFF;
                else
                        return cli_fail(-EINVAL, "--json=%s: must be short, pretty or off", optarg);
                return 1;
        }
}

/* The options: 1 to run the verb at argv[optind], 0 to exit successfully, negative for a usage error. */
static int parse_args(int argc, char **argv, struct cli_options *o)
{
        static const struct option options[] = {
                {"system", no_argument, NULL, ARG_SYSTEM},
                {"user", no_argument, NULL, ARG_USER},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"container", required_argument, NULL, 'C'},
                {"machine", required_argument, NULL, 'C'},
                {"pid", required_argument, NULL, ARG_PID},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"expect-reply", required_argument, NULL, ARG_EXPECT_REPLY},
                {"auto-start", required_argument, NULL, ARG_AUTO_START},
                {"destination", required_argument, NULL, ARG_DESTINATION},
                {"unique", no_argument, NULL, ARG_UNIQUE},
                {"acquired", no_argument, NULL, ARG_ACQUIRED},
                {"activatable", no_argument, NULL, ARG_ACTIVATABLE},
                {"json", required_argument, NULL, ARG_JSON},
                {"quiet", no_argument, NULL, 'q'},
                {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
                {"no-pager", no_argument, NULL, ARG_NO_PAGER},
                {"verbose", no_argument, NULL, ARG_VERBOSE},
                {"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"config", required_argument, NULL, ARG_CONFIG},
                {"host-bus", required_argument, NULL, ARG_HOST_BUS},
                {"log", required_argument, NULL, ARG_LOG},
                {"add-user", required_argument, NULL, ARG_ADD_USER},
                {"leave-running", no_argument, NULL, ARG_LEAVE_RUNNING},
                {"bus", required_argument, NULL, ARG_BUS},
                {"version", no_argument, NULL, CLI_ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c, r = 1;
        /* Options may come anywhere, as with busctl; "--" ends them (before a negative number). */
        while (r > 0 && (c = getopt_long(argc, argv, "hqjC:", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SYSTEM:
                case ARG_USER:
                        o->user = c == ARG_USER;
                        break;
                case ARG_UNIQUE:
                        o->unique = true;
                        break;
                case ARG_ACQUIRED:
                        o->acquired = true;
                        break;
                case ARG_ACTIVATABLE:
                        o->activatable = true;
                        break;
                case 'j':
                        o->json = CLI_JSON_SHORT;
                        break;
                case 'q':
                        o->quiet = true;
                        break;
                case ARG_NO_LEGEND:
                        o->legend = false;
                        break;
                case ARG_NO_PAGER:
                        break;
                case ARG_VERBOSE:
                        o->verbose = true;
                        break;
                case ARG_LEAVE_RUNNING:
                        o->leave_running = true;
                        break;
                case ARG_ADDRESS:
                case 'C':
                case ARG_PID:
                case ARG_TIMEOUT:
                case ARG_EXPECT_REPLY:
                case ARG_AUTO_START:
                case ARG_DESTINATION:
                case ARG_RUNTIME_DIR:
                case ARG_POLICY:
                case ARG_CONFIG:
                case ARG_HOST_BUS:
                case ARG_LOG:
                case ARG_ADD_USER:
                case ARG_BUS:
                case ARG_JSON:
                        r = parse_valued(c, o);
                        break;
                default:
                        r = cli_common_option(c, "nsbusctl", usage);
                }
        }
        if (r > 0 && !!o->address + !!o->container + !!o->pid > 1)
                r = cli_fail(-EINVAL, "--address, --container and --pid name a bus each: give one");
        return r;
}

int main(int argc, char **argv)
{
        struct cli_options o = {
                .runtime_dir = "/run/nsbus",
                .timeout_ms = DEFAULT_TIMEOUT_MS,
                .legend = true,
                .expect_reply = true,
                .auto_start = true,
                .add_user = true,
        };
        int r = parse_args(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        signal(SIGPIPE, SIG_IGN);
        const char *verb = optind < argc ? argv[optind] : "list";
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verb, verbs[i].name)) {
                        int n = optind < argc ? argc - optind : 1;
                        char *list[] = {(char *)"list", NULL};
                        r = verbs[i].run(&o, n, optind < argc ? argv + optind : list);
                        fflush(stdout);
                        return r < 0 ? 1 : 0;
                }
        cli_fail(-EINVAL, "%s: unknown command (see nsbusctl --help)", verb);
        return 1;
}
