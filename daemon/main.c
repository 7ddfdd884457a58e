/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusd's command line: dbus-daemon's, so that anything that spawns "a
 * dbus-daemon" (dbus-run-session, GTestDBus, test harnesses) can spawn
 * nsbusd instead. The address and pid are printed only once the bus
 * accepts connections, which is what those callers wait for.
 */
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>

#include "activation.h"
#include "bus.h"
#include "listener.h"
#include "settings.h"
#include "log.h"
#include "container.h"
#include "userdb.h"

#define SESSION_CONF "/usr/share/dbus-1/session.conf"
#define SYSTEM_CONF "/usr/share/dbus-1/system.conf"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: nsbusd [--version] [--session] [--system] [--config-file=FILE] "
                "[--print-address[=DESCRIPTOR]]\n"
                "              [--print-pid[=DESCRIPTOR]] [--introspect] [--address=ADDRESS] [--nopidfile]\n"
                "              [--nofork] [--fork] [--syslog] [--syslog-only] [--nosyslog]\n"
                "       nsbusd --container-pid=PID [--name=NAME] [--runtime-dir=DIR] [--policy=FILE]\n"
                "              [--config-file=FILE] ...\n");
}

/* "" or missing: stdout. Otherwise a descriptor number, as dbus-daemon. */
static int parse_print_fd(const char *arg, const char *what)
{
        if (!arg || !*arg)
                return STDOUT_FILENO;
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (*end || errno || v < 0 || v > INT32_MAX) {
                fprintf(stderr, "nsbusd: invalid file descriptor for %s: '%s'\n", what, arg);
                exit(1);
        }
        return (int)v;
}

/* dbus-daemon also takes "--print-address 4" (dbus-run-session passes it so): a following word made of
 * digits is the option's argument. */
static const char *optional_arg(int argc, char **argv)
{
        if (optarg)
                return optarg;
        if (optind < argc && argv[optind][0] && strspn(argv[optind], "0123456789") == strlen(argv[optind]))
                return argv[optind++];
        return NULL;
}

static void print_to_fd(int fd, const char *text)
{
        size_t len = strlen(text);
        while (len > 0) {
                ssize_t n = write(fd, text, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "nsbusd: cannot write to descriptor %d: %m\n", fd);
                        exit(1);
                }
                text += n;
                len -= (size_t)n;
        }
}

static void raise_fd_limit(void)
{
        /* Every connection is an fd; as dbus-daemon does for the system bus, take what the hard limit
         * allows. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int drop_to_user(const char *user)
{
        struct userdb_user u;
        int r = userdb_user_by_name(user, &u);
        if (r == -ENOENT || r == -EINVAL) {
                char *end;
                long uid = strtol(user, &end, 10);
                if (*end || uid < 0 || end == user)
                        return -ESRCH;
                r = userdb_user_by_uid((uid_t)uid, &u);
        }
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        if (geteuid() != u.uid) {
                _cleanup_free_ gid_t *groups = NULL;
                size_t n_groups = 0;
                r = userdb_groups_of(&u, &groups, &n_groups);
                if (r >= 0 && (setgroups(n_groups, groups) < 0 || setgid(u.gid) < 0 || setuid(u.uid) < 0))
                        r = -errno;
        }
        userdb_user_done(&u);
        return r < 0 ? r : 0;
}

static void warn_cb(void *userdata, const char *msg)
{
        log_warning("%s", msg);
}

int main(int argc, char **argv)
{
        log_set_prefix("nsbusd");
        enum {
                ARG_CONFIG = 0x100,
                ARG_SESSION,
                ARG_SYSTEM,
                ARG_ADDRESS,
                ARG_NOFORK,
                ARG_FORK,
                ARG_PRINT_ADDRESS,
                ARG_PRINT_PID,
                ARG_NOPIDFILE,
                ARG_SYSLOG,
                ARG_SYSLOG_ONLY,
                ARG_NOSYSLOG,
                ARG_INTROSPECT,
                ARG_VERSION,
                ARG_SYSTEMD_ACTIVATION,
                ARG_READY_EVENT_FD,
                ARG_CONTAINER_PID,
                ARG_NAME,
                ARG_RUNTIME_DIR,
                ARG_POLICY,
        };
        static const struct option options[] = {
                {"config-file", required_argument, NULL, ARG_CONFIG},
                {"session", no_argument, NULL, ARG_SESSION},
                {"system", no_argument, NULL, ARG_SYSTEM},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"nofork", no_argument, NULL, ARG_NOFORK},
                {"fork", no_argument, NULL, ARG_FORK},
                {"print-address", optional_argument, NULL, ARG_PRINT_ADDRESS},
                {"print-pid", optional_argument, NULL, ARG_PRINT_PID},
                {"nopidfile", no_argument, NULL, ARG_NOPIDFILE},
                {"syslog", no_argument, NULL, ARG_SYSLOG},
                {"syslog-only", no_argument, NULL, ARG_SYSLOG_ONLY},
                {"nosyslog", no_argument, NULL, ARG_NOSYSLOG},
                {"introspect", no_argument, NULL, ARG_INTROSPECT},
                {"version", no_argument, NULL, ARG_VERSION},
                {"systemd-activation", no_argument, NULL, ARG_SYSTEMD_ACTIVATION},
                {"ready-event-fd", required_argument, NULL, ARG_READY_EVENT_FD},
                {"container-pid", required_argument, NULL, ARG_CONTAINER_PID},
                {"name", required_argument, NULL, ARG_NAME},
                {"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *config_file = NULL, *address = NULL;
        int print_address_fd = -1, print_pid_fd = -1;
        int fork_mode = -1; /* -1: as the config says */
        bool nopidfile = false;
        int syslog_mode = -1; /* -1 config, 0 none, 1 also, 2 only */
        pid_t container_pid = 0;
        const char *container_name = NULL, *runtime_dir = NULL, *policy_file = NULL;

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_CONFIG:
                        if (config_file) {
                                fprintf(stderr, "nsbusd: --config-file given twice\n");
                                return 1;
                        }
                        config_file = optarg;
                        break;
                case ARG_SESSION:
                case ARG_SYSTEM:
                        if (config_file) {
                                fprintf(stderr, "nsbusd: only one of --config-file, --session, --system\n");
                                return 1;
                        }
                        config_file = c == ARG_SESSION ? SESSION_CONF : SYSTEM_CONF;
                        break;
                case ARG_ADDRESS:
                        address = optarg;
                        break;
                case ARG_NOFORK:
                        fork_mode = 0;
                        break;
                case ARG_FORK:
                        fork_mode = 1;
                        break;
                case ARG_PRINT_ADDRESS:
                        print_address_fd = parse_print_fd(optional_arg(argc, argv), "--print-address");
                        break;
                case ARG_PRINT_PID:
                        print_pid_fd = parse_print_fd(optional_arg(argc, argv), "--print-pid");
                        break;
                case ARG_NOPIDFILE:
                        nopidfile = true;
                        break;
                case ARG_SYSLOG:
                        syslog_mode = 1;
                        break;
                case ARG_SYSLOG_ONLY:
                        syslog_mode = 2;
                        break;
                case ARG_NOSYSLOG:
                        syslog_mode = 0;
                        break;
                case ARG_SYSTEMD_ACTIVATION:
                        fprintf(stderr, "nsbusd: --systemd-activation is not supported; ignored\n");
                        break;
                case ARG_READY_EVENT_FD:
                        fprintf(stderr, "nsbusd: --ready-event-fd is not supported; ignored\n");
                        break;
                case ARG_CONTAINER_PID: {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (!*optarg || *end || errno || v <= 0 || v > INT32_MAX) {
                                fprintf(stderr, "nsbusd: --container-pid: not a process id: '%s'\n", optarg);
                                return 1;
                        }
                        container_pid = (pid_t)v;
                        break;
                }
                case ARG_NAME:
                        if (!*optarg || strchr(optarg, '/') || streq(optarg, ".") || streq(optarg, "..")) {
                                fprintf(stderr, "nsbusd: --name: must be a single path component: '%s'\n",
                                        optarg);
                                return 1;
                        }
                        container_name = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "nsbusd: --runtime-dir: must be an absolute path: '%s'\n",
                                        optarg);
                                return 1;
                        }
                        runtime_dir = optarg;
                        break;
                case ARG_POLICY:
                        policy_file = optarg;
                        break;
                case ARG_INTROSPECT:
                        /* The driver's own Introspect answer is the source of truth; ask a running bus. */
                        fprintf(stderr,
                                "nsbusd: --introspect: call org.freedesktop.DBus.Introspectable.Introspect "
                                "on a running bus instead\n");
                        return 1;
                case ARG_VERSION:
                        printf("nsbusd %s\n", NSBUS_VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "nsbusd: unknown argument '%s'\n", argv[optind]);
                usage(stderr);
                return 1;
        }
        if ((container_name || runtime_dir || policy_file) && !container_pid) {
                fprintf(stderr, "nsbusd: --name, --runtime-dir and --policy need --container-pid\n");
                return 1;
        }
        /* A container bus without a file runs on the built-in configuration. */
        _cleanup_close_ int builtin_fd = -1;
        char builtin_path[64];
        if (!config_file && container_pid) {
                builtin_fd = container_builtin_config_fd();
                if (builtin_fd < 0) {
                        fprintf(stderr, "nsbusd: cannot prepare the built-in configuration: %s\n",
                                strerror(-builtin_fd));
                        return 1;
                }
                snprintf(builtin_path, sizeof(builtin_path), "/proc/self/fd/%d", builtin_fd);
                config_file = builtin_path;
        }
        if (!config_file) {
                fprintf(stderr, "nsbusd: no configuration file specified (use --config-file, --session or "
                                "--system)\n");
                return 1;
        }

        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();

        struct bus *b;
        int r = bus_new(&b);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot set up the bus: %s\n", strerror(-r));
                return 1;
        }

        struct bus_config *cfg;
        char err[1024] = "";
        /* <listen> may be missing when --address or container mode supply the sockets; checked below. */
        struct bus_config_load_options o = {.warn = warn_cb, .userdata = b, .listen_optional = true};
        r = bus_config_load_with(config_file, &o, &cfg, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "nsbusd: failed to load configuration: %s\n", err[0] ? err : strerror(-r));
                bus_free(b);
                return 1;
        }
        /* The built-in configuration cannot change: a reload only re-reads service directories. */
        b->config_file = builtin_fd >= 0 ? NULL : strdup(config_file);
        builtin_fd = safe_close(builtin_fd);
        if (!container_pid && cfg->container_pid) {
                container_pid = cfg->container_pid;
                container_name = cfg->container_name;
                runtime_dir = cfg->container_runtime_dir;
                policy_file = cfg->container_policy;
        } else if (container_pid) {
                container_name = container_name ? container_name : cfg->container_name;
                runtime_dir = runtime_dir ? runtime_dir : cfg->container_runtime_dir;
                policy_file = policy_file ? policy_file : cfg->container_policy;
        }
        if (container_pid && address) {
                fprintf(stderr, "nsbusd: --address cannot be combined with container mode: the bus "
                                "listens in its runtime directory\n");
                bus_config_free(cfg);
                bus_free(b);
                return 1;
        }
        if (!container_pid && !address && cfg->n_listen == 0) {
                fprintf(stderr,
                        "nsbusd: failed to load configuration: %s: Configuration file needs one or "
                        "more <listen> elements giving addresses\n",
                        config_file);
                bus_config_free(cfg);
                bus_free(b);
                return 1;
        }
        bool want_fork = fork_mode >= 0 ? fork_mode == 1 : cfg->fork;
        if (syslog_mode < 0)
                syslog_mode = cfg->syslog ? 1 : 0;
        if (syslog_mode > 0) {
                openlog("nsbusd", LOG_PID, LOG_DAEMON);
                log_setup(&(struct log_config){.prefix = "nsbusd",
                                               .to_stderr = syslog_mode != 2,
                                               .to_syslog = true,
                                               .max_priority = LOG_INFO});
        }
        if (!cfg->keep_umask)
                umask(022);
        const char *pidfile = nopidfile ? NULL : cfg->pidfile;
        if (container_pid) {
                /* Sockets first: activation_load_config() knows from b->container not to start services on
                 * the host for the container. */
                b->namespaces->unknown_is_foreign = true;
                if (cfg->n_listen > 0)
                        log_warning("<listen> is ignored for a container bus: it listens in %s/",
                                    runtime_dir ? runtime_dir : CONTAINER_RUNTIME_DIR);
                if (cfg->user)
                        log_warning("<user> is ignored for a container bus: it stays root with "
                                    "CAP_SYS_PTRACE only");
                r = container_setup(b, container_pid, container_name,
                                    runtime_dir ? runtime_dir : CONTAINER_RUNTIME_DIR, policy_file);
                if (r < 0) {
                        fprintf(stderr, "nsbusd: cannot serve container %d: %s\n", (int)container_pid,
                                strerror(-r));
                        bus_config_free(cfg);
                        bus_free(b);
                        return 1;
                }
        }
        settings_apply(b, cfg);
        r = activation_load_config(b, cfg);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot apply configuration: %s\n", strerror(-r));
                bus_free(b);
                return 1;
        }

        if (container_pid) {
                r = container_drop_capabilities(b);
                if (r < 0) {
                        fprintf(stderr, "nsbusd: cannot drop capabilities: %s\n", strerror(-r));
                        bus_free(b);
                        return 1;
                }
        } else if (address) {
                r = listener_add(b, address, ORIGIN_BUS, NULL);
        } else {
                r = cfg->n_listen ? 0 : -EINVAL;
                for (size_t i = 0; i < cfg->n_listen && r >= 0; i++)
                        r = listener_add(b, cfg->listen[i], ORIGIN_BUS, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot listen: %s\n", strerror(-r));
                bus_free(b);
                return 1;
        }

        if (!container_pid && cfg->user && (r = drop_to_user(cfg->user)) < 0) {
                fprintf(stderr, "nsbusd: cannot change to user %s: %s\n", cfg->user, strerror(-r));
                bus_free(b);
                return 1;
        }

        if (want_fork) {
                /* The parent exits once the child owns the listeners; callers then find the bus ready. */
                pid_t pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "nsbusd: fork failed: %m\n");
                        return 1;
                }
                if (pid > 0)
                        _exit(0);
                setsid();
                if (chdir("/") < 0) {
                        /* not fatal: the bus uses absolute paths only */
                }
        }

        if (pidfile) {
                _cleanup_fclose_ FILE *f = fopen(pidfile, "we");
                if (!f || fprintf(f, "%d\n", (int)getpid()) < 0) {
                        fprintf(stderr, "nsbusd: cannot write pid file %s: %m\n", pidfile);
                        bus_free(b);
                        return 1;
                }
        }

        struct listener *first = list_first_entry(&b->listeners, struct listener, link);
        if (print_address_fd >= 0) {
                char *line;
                if (asprintf(&line, "%s\n", first->address) < 0)
                        return 1;
                print_to_fd(print_address_fd, line);
                free(line);
                if (print_address_fd > 2)
                        close(print_address_fd);
        }
        if (print_pid_fd >= 0) {
                char line[32];
                snprintf(line, sizeof(line), "%d\n", (int)getpid());
                print_to_fd(print_pid_fd, line);
                if (print_pid_fd > 2 && print_pid_fd != print_address_fd)
                        close(print_pid_fd);
        }

        r = bus_run(b);
        if (pidfile)
                unlink(pidfile);
        bus_free(b);
        return r < 0 ? 1 : 0;
}
