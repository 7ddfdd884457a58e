/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusd's command line: dbus-daemon's, so that anything that spawns "a
 * dbus-daemon" (dbus-run-session, GTestDBus, test harnesses) can spawn
 * nsbusd instead. The address and pid are printed only once the bus
 * accepts connections, which is what those callers wait for.
 */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>

#include "activation.h"
#include "bus.h"
#include "cli.h"
#include "listener.h"
#include "settings.h"
#include "log.h"
#include "ckpt-image.h"
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
                "              [--systemd-activation]\n"
                "       nsbusd --container-pid=PID [--name=NAME] [--runtime-dir=DIR] [--policy=FILE]\n"
                "       nsbusd --restore-from=IMAGES_DIR --name=NAME [--runtime-dir=DIR] [--policy=FILE]\n"
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

/* The command line. */
struct args {
        const char *config_file, *address;
        int print_address_fd, print_pid_fd;
        int fork_mode; /* -1: as the config says */
        bool nopidfile;
        bool systemd_activation;
        int syslog_mode; /* -1 config, 0 none, 1 also, 2 only */
        pid_t container_pid;
        const char *container_name, *runtime_dir, *policy_file;
        const char *restore_dir; /* a container about to be restored from these CRIU images */
};

static bool container_mode(const struct args *a)
{
        return a->container_pid || a->restore_dir;
}

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
        ARG_SYSTEMD_ACTIVATION,
        ARG_READY_EVENT_FD,
        ARG_CONTAINER_PID,
        ARG_NAME,
        ARG_RUNTIME_DIR,
        ARG_POLICY,
        ARG_RESTORE_FROM,
};

/* The options of container mode; 1, or -EINVAL (said on stderr). */
static int parse_container_arg(int c, struct args *a)
{
        switch (c) {
        case ARG_CONTAINER_PID: {
                char *end;
                errno = 0;
                long v = strtol(optarg, &end, 10);
                if (!*optarg || *end || errno || v <= 0 || v > INT32_MAX) {
                        fprintf(stderr, "nsbusd: --container-pid: not a process id: '%s'\n", optarg);
                        return -EINVAL;
                }
                a->container_pid = (pid_t)v;
                return 1;
        }
        case ARG_NAME:
                if (!*optarg || strchr(optarg, '/') || streq(optarg, ".") || streq(optarg, "..")) {
                        fprintf(stderr, "nsbusd: --name: must be a single path component: '%s'\n", optarg);
                        return -EINVAL;
                }
                a->container_name = optarg;
                return 1;
        case ARG_RUNTIME_DIR:
                if (optarg[0] != '/') {
                        fprintf(stderr, "nsbusd: --runtime-dir: must be an absolute path: '%s'\n", optarg);
                        return -EINVAL;
                }
                a->runtime_dir = optarg;
                return 1;
        case ARG_RESTORE_FROM:
                if (optarg[0] != '/') {
                        fprintf(stderr, "nsbusd: --restore-from: must be an absolute path: '%s'\n", optarg);
                        return -EINVAL;
                }
                a->restore_dir = optarg;
                return 1;
        default: /* ARG_POLICY */
                a->policy_file = optarg;
                return 1;
        }
}

/* One of dbus-daemon's options: 1 to go on, 0 to exit successfully, -EINVAL (said on stderr). */
static int parse_bus_arg(int c, int argc, char **argv, struct args *a)
{
        switch (c) {
        case ARG_CONFIG:
        case ARG_SESSION:
        case ARG_SYSTEM:
                if (a->config_file) {
                        fprintf(stderr, "nsbusd: give one of --config-file, --session and --system, once\n");
                        return -EINVAL;
                }
                a->config_file = c == ARG_CONFIG ? optarg : c == ARG_SESSION ? SESSION_CONF : SYSTEM_CONF;
                return 1;
        case ARG_ADDRESS:
                a->address = optarg;
                return 1;
        case ARG_NOFORK:
        case ARG_FORK:
                a->fork_mode = c == ARG_FORK;
                return 1;
        case ARG_PRINT_ADDRESS:
                a->print_address_fd = parse_print_fd(optional_arg(argc, argv), "--print-address");
                return 1;
        case ARG_PRINT_PID:
                a->print_pid_fd = parse_print_fd(optional_arg(argc, argv), "--print-pid");
                return 1;
        case ARG_NOPIDFILE:
                a->nopidfile = true;
                return 1;
        case ARG_SYSLOG:
        case ARG_SYSLOG_ONLY:
        case ARG_NOSYSLOG:
                a->syslog_mode = c == ARG_SYSLOG ? 1 : c == ARG_SYSLOG_ONLY ? 2 : 0;
                return 1;
        case ARG_SYSTEMD_ACTIVATION:
                a->systemd_activation = true;
                return 1;
        case ARG_READY_EVENT_FD:
                fprintf(stderr, "nsbusd: --ready-event-fd is not supported; ignored\n");
                return 1;
        case ARG_INTROSPECT:
                /* The driver's own Introspect answer is the source of truth; ask a running bus. */
                fprintf(stderr, "nsbusd: --introspect: call org.freedesktop.DBus.Introspectable.Introspect "
                                "on a running bus instead\n");
                return -EINVAL;
        default:
                return cli_common_option(c, "nsbusd", usage);
        }
}

static int parse_args(int argc, char **argv, struct args *a)
{
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
                {"version", no_argument, NULL, CLI_ARG_VERSION},
                {"systemd-activation", no_argument, NULL, ARG_SYSTEMD_ACTIVATION},
                {"ready-event-fd", required_argument, NULL, ARG_READY_EVENT_FD},
                {"container-pid", required_argument, NULL, ARG_CONTAINER_PID},
                {"name", required_argument, NULL, ARG_NAME},
                {"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"restore-from", required_argument, NULL, ARG_RESTORE_FROM},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c, r = 1;
        while (r > 0 && (c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                r = c >= ARG_CONTAINER_PID && c <= ARG_RESTORE_FROM ? parse_container_arg(c, a)
                                                                    : parse_bus_arg(c, argc, argv, a);
        if (r <= 0)
                return r;
        if (optind < argc) {
                fprintf(stderr, "nsbusd: unknown argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EINVAL;
        }
        if ((a->container_name || a->runtime_dir || a->policy_file) && !container_mode(a)) {
                fprintf(stderr, "nsbusd: --name, --runtime-dir and --policy need --container-pid or "
                                "--restore-from\n");
                return -EINVAL;
        }
        if (a->restore_dir && (a->container_pid || !a->container_name)) {
                fprintf(stderr, "nsbusd: --restore-from takes --name and no --container-pid (the init comes "
                                "with the restore)\n");
                return -EINVAL;
        }
        return 1;
}

/* Load the configuration (a container bus without a file runs on the built-in one) and settle what the
 * command line and the file say together. 0, or -errno (said on stderr). */
static int load_config(struct bus *b, struct args *a, struct bus_config **ret)
{
        _cleanup_close_ int builtin_fd = -1;
        char builtin_path[64];
        if (!a->config_file && container_mode(a)) {
                builtin_fd = container_builtin_config_fd();
                if (builtin_fd < 0) {
                        fprintf(stderr, "nsbusd: cannot prepare the built-in configuration: %s\n",
                                strerror(-builtin_fd));
                        return builtin_fd;
                }
                snprintf(builtin_path, sizeof(builtin_path), "/proc/self/fd/%d", builtin_fd);
                a->config_file = builtin_path;
        }
        if (!a->config_file) {
                fprintf(stderr, "nsbusd: no configuration file specified (use --config-file, --session or "
                                "--system)\n");
                return -EINVAL;
        }
        struct bus_config *cfg;
        char err[1024] = "";
        /* <listen> may be missing when --address or container mode supply the sockets; checked below. */
        struct bus_config_load_options o = {.warn = warn_cb, .userdata = b, .listen_optional = true};
        int r = bus_config_load_with(a->config_file, &o, &cfg, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "nsbusd: failed to load configuration: %s\n", err[0] ? err : strerror(-r));
                return r;
        }
        /* The built-in configuration cannot change: a reload only re-reads service directories. */
        b->config_file = builtin_fd >= 0 ? NULL : strdup(a->config_file);
        if (builtin_fd >= 0)
                a->config_file = "(built-in)";
        if (!a->container_pid)
                a->container_pid = cfg->container_pid;
        if (container_mode(a)) {
                a->container_name = a->container_name ? a->container_name : cfg->container_name;
                a->runtime_dir = a->runtime_dir ? a->runtime_dir : cfg->container_runtime_dir;
                a->policy_file = a->policy_file ? a->policy_file : cfg->container_policy;
        }
        if (container_mode(a) && a->address) {
                fprintf(stderr, "nsbusd: --address cannot be combined with container mode: the bus "
                                "listens in its runtime directory\n");
                r = -EINVAL;
        } else if (!container_mode(a) && !a->address && cfg->n_listen == 0) {
                fprintf(stderr,
                        "nsbusd: failed to load configuration: %s: Configuration file needs one or "
                        "more <listen> elements giving addresses\n",
                        a->config_file);
                r = -EINVAL;
        }
        if (r < 0) {
                bus_config_free(cfg);
                return r;
        }
        *ret = cfg;
        return 0;
}

static void setup_logging(const struct args *a, const struct bus_config *cfg)
{
        int syslog_mode = a->syslog_mode >= 0 ? a->syslog_mode : cfg->syslog ? 1 : 0;
        if (syslog_mode == 0)
                return;
        openlog("nsbusd", LOG_PID, LOG_DAEMON);
        log_setup(&(struct log_config){.prefix = "nsbusd",
                                       .to_stderr = syslog_mode != 2,
                                       .to_syslog = true,
                                       .max_priority = LOG_INFO});
}

/* A fresh bus for a restore: no unique name of the images may go to anyone else first, and the container
 * socket belongs to the container's root as the images knew it. */
static int restore_floor(struct bus *b, const char *dir, struct container_args *ca)
{
        char err[1024] = "";
        uint64_t next_id;
        uint32_t uid = geteuid(), gid = getegid();
        int r = ckpt_images_scan(dir, &next_id, &uid, &gid, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "nsbusd: --restore-from: %s\n", err);
                return r;
        }
        b->next_id = next_id;
        ca->root_uid = uid;
        ca->root_gid = gid;
        return 0;
}

/* A container bus: its sockets in the runtime directory, then nothing but CAP_SYS_PTRACE (once it serves
 * its container: a bus waiting for a restore keeps what it needs to enter the restored one). */
static int serve_container(struct bus *b, const struct args *a, struct bus_config *cfg)
{
        const char *runtime_dir = a->runtime_dir ? a->runtime_dir : CONTAINER_RUNTIME_DIR;
        /* Sockets first: activation_load_config() knows from b->container not to start services on the host
         * for the container. */
        b->namespaces->unknown_is_foreign = true;
        if (cfg->n_listen > 0)
                log_warning("<listen> is ignored for a container bus: it listens in %s/", runtime_dir);
        if (cfg->user)
                log_warning("<user> is ignored for a container bus: it stays root with CAP_SYS_PTRACE only");
        if (a->systemd_activation)
                /* The host's systemd does not start the container's services: the bus's spawner does, inside
                 * the container. */
                log_warning("--systemd-activation is ignored for a container bus: it starts the container's "
                            "services itself, inside the container");
        struct container_args ca = {.pid = a->container_pid,
                                    .name = a->container_name,
                                    .runtime_dir = runtime_dir,
                                    .policy_file = a->policy_file};
        int r = a->restore_dir ? restore_floor(b, a->restore_dir, &ca) : 0;
        if (r >= 0)
                r = container_setup(b, &ca);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot serve container %s: %s\n",
                        a->container_name ? a->container_name : "", strerror(-r));
                bus_config_free(cfg);
                return r;
        }
        settings_apply(b, cfg);
        r = activation_load_config(b, cfg);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot apply configuration: %s\n", strerror(-r));
                return r;
        }
        if (a->restore_dir)
                return 0;
        r = container_drop_capabilities(b);
        if (r < 0)
                fprintf(stderr, "nsbusd: cannot drop capabilities: %s\n", strerror(-r));
        return r;
}

/* A bus on the addresses of --address or the configuration, then as its <user>. */
static int serve_addresses(struct bus *b, const struct args *a, struct bus_config *cfg)
{
        settings_apply(b, cfg);
        if (a->systemd_activation)
                activation_use_systemd(b);
        int r = activation_load_config(b, cfg);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot apply configuration: %s\n", strerror(-r));
                return r;
        }
        if (a->address)
                r = listener_add(b, a->address, ORIGIN_BUS, NULL);
        for (size_t i = 0; !a->address && i < cfg->n_listen && r >= 0; i++)
                r = listener_add(b, cfg->listen[i], ORIGIN_BUS, NULL);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot listen: %s\n", strerror(-r));
                return r;
        }
        if (cfg->user && (r = drop_to_user(cfg->user)) < 0)
                fprintf(stderr, "nsbusd: cannot change to user %s: %s\n", cfg->user, strerror(-r));
        return r;
}

/* Fork if asked, write the pid file, print the address and pid: the bus is ready once they appear. */
static int announce(struct bus *b, const struct args *a, const char *pidfile, bool want_fork)
{
        int ready[2] = {-1, -1};
        if (want_fork) {
                /* The parent exits once the child has printed the address and pid: callers that read them
                 * as soon as nsbusd --fork returns (dbus's test-dbus-daemon-fork.sh does) find them. */
                if (pipe2(ready, O_CLOEXEC) < 0) {
                        fprintf(stderr, "nsbusd: pipe failed: %m\n");
                        return -errno;
                }
                pid_t pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "nsbusd: fork failed: %m\n");
                        return -errno;
                }
                if (pid > 0) {
                        close(ready[1]);
                        char c;
                        ssize_t n;
                        while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
                                ;
                        _exit(n == 1 ? 0 : 1); /* EOF: the child failed before it was ready */
                }
                close(ready[0]);
                int r = bus_forked(b);
                if (r < 0) {
                        fprintf(stderr, "nsbusd: cannot watch signals after fork: %s\n", strerror(-r));
                        return r;
                }
                setsid();
                if (chdir("/") < 0) {
                        /* not fatal: the bus uses absolute paths only */
                }
        }
        if (pidfile) {
                _cleanup_fclose_ FILE *f = fopen(pidfile, "we");
                if (!f || fprintf(f, "%d\n", (int)getpid()) < 0) {
                        fprintf(stderr, "nsbusd: cannot write pid file %s: %m\n", pidfile);
                        return -EIO;
                }
        }
        char line[4096];
        if (a->print_address_fd >= 0) {
                const struct listener *first = list_first_entry(&b->listeners, struct listener, link);
                snprintf(line, sizeof(line), "%s\n", first->address);
                print_to_fd(a->print_address_fd, line);
                if (a->print_address_fd > 2)
                        close(a->print_address_fd);
        }
        if (a->print_pid_fd >= 0) {
                snprintf(line, sizeof(line), "%d\n", (int)getpid());
                print_to_fd(a->print_pid_fd, line);
                if (a->print_pid_fd > 2 && a->print_pid_fd != a->print_address_fd)
                        close(a->print_pid_fd);
        }
        if (ready[1] >= 0) {
                (void)!write(ready[1], "", 1);
                close(ready[1]);
        }
        return 0;
}

/* Started with stdin, stdout or stderr closed (dbus's test-dbus-daemon-fork.sh does), nsbusd would get
 * its epoll fd or a socket there, and a log line could be written into a client's connection. */
static void ensure_standard_fds(void)
{
        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
                        int null = open("/dev/null", O_RDWR);
                        if (null >= 0 && null != fd) {
                                dup2(null, fd);
                                close(null);
                        }
                }
}

int main(int argc, char **argv)
{
        log_set_prefix("nsbusd");
        struct args a = {.print_address_fd = -1, .print_pid_fd = -1, .fork_mode = -1, .syslog_mode = -1};
        int r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 1 : 0;

        ensure_standard_fds();
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();
        struct bus *b;
        r = bus_new(&b);
        if (r < 0) {
                fprintf(stderr, "nsbusd: cannot set up the bus: %s\n", strerror(-r));
                return 1;
        }
        struct bus_config *cfg;
        r = load_config(b, &a, &cfg);
        if (r < 0) {
                bus_free(b);
                return 1;
        }
        bool want_fork = a.fork_mode >= 0 ? a.fork_mode == 1 : cfg->fork;
        setup_logging(&a, cfg);
        if (!cfg->keep_umask)
                umask(022);
        /* The bus keeps the configuration from here on (b->config): cfg's strings live as long as it. */
        const char *pidfile = a.nopidfile ? NULL : cfg->pidfile;
        r = container_mode(&a) ? serve_container(b, &a, cfg) : serve_addresses(b, &a, cfg);
        if (r >= 0)
                r = announce(b, &a, pidfile, want_fork);
        if (r >= 0) {
                r = bus_run(b);
                if (pidfile)
                        unlink(pidfile);
        }
        bus_free(b);
        return r < 0 ? 1 : 0;
}
