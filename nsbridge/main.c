/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbridge: forwards the bus names a policy permits between the host bus and
 * one container's bus.
 *
 * Start-up is the only privileged part. As root it asks the container's
 * nsbusd (over host.sock) which container it serves, opens a pidfd on the
 * container's init, and becomes the container's mapped root (its uid_map's
 * image of 0) with no capabilities, no-new-privs and a seccomp allowlist.
 * Only then does it connect to the buses for real, so the host bus sees an
 * unprivileged foreign user, never root.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "bridge-policy.h"
#include "bridge.h"
#include "cli.h"
#include "client.h"
#include "container1.h"
#include "log.h"
#include "nsview.h"
#include "sandbox.h"
#include "util.h"

#define BOOTSTRAP_TIMEOUT_MS 10000
/* A container's callers share this many connections to the host bus (dbus-daemon's system bus allows a
 * uid 256 of them); idle ones are recycled. */
#define DEFAULT_MAX_HOST_LINKS 64

#if defined(NSBUS_ASAN)
/* LeakSanitizer checks at exit by stopping the world with clone(), ptrace() and mprotect(), which the
 * sandbox refuses by design, so in the sanitizer build nsbridge is checked for memory errors but not for
 * leaks. Nothing else in the sandbox differs from the release build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
        return "detect_leaks=0";
}

/* ASAN_OPTIONS from the environment (a sanitizer test run sets detect_leaks=1 for everything it starts,
 * nsbridge included when nsbusctl's supervisor starts it) overrides the default above, and the exit-time
 * check would then abort in the sandbox: run again with leak checks off, once. */
static void asan_no_leak_check(char **argv)
{
        const char *opts = getenv("ASAN_OPTIONS");
        if (!opts || strstr(opts, "detect_leaks=0") || !strstr(opts, "detect_leaks"))
                return;
        char *more = NULL;
        if (asprintf(&more, "%s:detect_leaks=0", opts) < 0 || setenv("ASAN_OPTIONS", more, 1) < 0)
                return;
        free(more);
        execv("/proc/self/exe", argv);
}
#else
static void asan_no_leak_check(char **argv)
{
}
#endif

static void usage(FILE *f)
{
        fprintf(f, "Usage: nsbridge --host-bus=ADDRESS --container-bus=ADDRESS --policy=FILE [--name=NAME]\n"
                   "                [--max-host-links=N] [--verbose]\n"
                   "Forward the bus names FILE permits between the host bus and a container's nsbusd\n"
                   "(its host.sock). Must be started as root; runs as the container's mapped root.\n");
}

struct container_info {
        char name[256];
        pid_t init_pid;
        struct idmap uid_map, gid_map;
        uint8_t key[64]; /* the bridge key (GetBridgeKey) */
        size_t key_len;
        struct bridge_policy *policy; /* --policy's, else the bus's (GetBridgePolicy) */
};

/* A blocking call to org.nsbus.Container1 on the container bus, before the sandbox: its reply, or -EACCES
 * for an error (logged), -ETIMEDOUT, -errno. */
static int bootstrap_call(struct client *c, const char *member, struct message **ret)
{
        struct msg_builder b;
        container1_call_init(&b, client_next_serial(c), member);
        struct message *call;
        int r = msg_builder_finish(&b, &call);
        if (r < 0)
                return r;
        struct message *m = NULL;
        r = client_call_blocking(c, call, BOOTSTRAP_TIMEOUT_MS, &m);
        message_unref(call);
        if (r < 0)
                return r;
        if (m->type == MESSAGE_ERROR) {
                const char *text = "";
                message_read(m, "s", &text);
                log_info("the container bus refused %s: %s: %s", member, m->error_name, text);
                message_unref(m);
                return -EACCES;
        }
        *ret = m;
        return 0;
}

static int parse_info(struct message *m, struct container_info *info)
{
        struct msg_reader rd;
        const char *name;
        uint32_t pid;
        msg_reader_init(&rd, m);
        if (!streq(m->signature, "sua(uuu)a(uuu)") || msg_reader_read_basic(&rd, 's', &name) < 0 ||
            msg_reader_read_basic(&rd, 'u', &pid) < 0 || idmap_read(&rd, &info->uid_map) < 0 ||
            idmap_read(&rd, &info->gid_map) < 0 || pid == 0 || pid > INT32_MAX)
                return -EBADMSG;
        snprintf(info->name, sizeof(info->name), "%s", name);
        info->init_pid = (pid_t)pid;
        return 0;
}

static int parse_key(struct message *m, struct container_info *info)
{
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        if (!streq(m->signature, "ay") || msg_reader_enter(&rd, 'a', "y") < 0)
                return -EBADMSG;
        while (msg_reader_peek(&rd)) {
                if (info->key_len == sizeof(info->key) ||
                    msg_reader_read_basic(&rd, 'y', &info->key[info->key_len]) < 0)
                        return -EBADMSG;
                info->key_len++;
        }
        return info->key_len > 0 ? 0 : -EBADMSG;
}

/* The bootstrap, as root: which container the bus serves (GetInfo) and the key that proves the bridge on
 * host.sock (GetBridgeKey, for the host's root only). */
static int bootstrap_get_info(const char *address, struct container_info *info)
{
        char err[256] = "";
        _cleanup_(client_freep) struct client *c = NULL;
        int r = client_connect(address, geteuid(), &c, err, sizeof(err));
        if (r < 0) {
                log_info("cannot connect to the container bus %s: %s", address, err[0] ? err : strerror(-r));
                return r;
        }
        struct message *m = NULL;
        if ((r = bootstrap_call(c, "GetInfo", &m)) >= 0) {
                r = parse_info(m, info);
                message_unref(TAKE_PTR(m));
                if (r >= 0 && (r = bootstrap_call(c, "GetBridgeKey", &m)) >= 0) {
                        r = parse_key(m, info);
                        message_unref(TAKE_PTR(m));
                }
                if (r == -EBADMSG)
                        log_info("the container bus sent an unreadable reply to GetInfo or GetBridgeKey");
        }
        if (r >= 0 && !info->policy && (r = bootstrap_call(c, "GetBridgePolicy", &m)) >= 0) {
                char why[512];
                r = bridge_policy_from_reply(m, &info->policy, why, sizeof(why));
                message_unref(m);
                if (r < 0)
                        log_error("the container bus's bridge policy: %s", why);
        }
        if (r < 0 && r != -EACCES && r != -EBADMSG)
                log_info("cannot ask the container bus %s which container it serves: %s", address,
                         r == -ECONNRESET ? "it closed the connection" : strerror(-r));
        return r;
}

/*
 * host.sock lives in a directory only root may enter, and the bridge is not root for long. While it is, it
 * opens the socket file itself (O_PATH) and from then on connects through /proc/self/fd/N, which reaches the
 * socket without a path lookup through that directory: the handle is the bridge's admission ticket. Sets
 * *ret_fd to the handle and *ret_address to the address to use; an address that is not a single
 * unix:path= is used as it is (*ret_fd -1, *ret_address NULL). Returns 0 or -errno (logged).
 */
static int container_bus_handle(const char *address, int *ret_fd, char **ret_address)
{
        *ret_fd = -1;
        *ret_address = NULL;
        char err[256] = "";
        _cleanup_(address_freep) struct address *a = NULL;
        if (address_parse(address, &a, err, sizeof(err)) < 0 || a->n_entries != 1 ||
            !streq(a->entries[0].transport, "unix") || !address_entry_get(&a->entries[0], "path"))
                return 0;
        const char *path = address_entry_get(&a->entries[0], "path");
        _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                log_info("cannot open the container bus's socket %s: %s", path, strerror(-r));
                return r;
        }
        if (asprintf(ret_address, "unix:path=/proc/self/fd/%d", fd) < 0)
                return -ENOMEM;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The sandbox proves itself once: a syscall it does not allow must fail. */
static int sandbox_check(void)
{
        int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                close(fd);
                log_info("sandbox check: open(\"/etc/passwd\") succeeded; the seccomp filter is not active");
                return -EPERM;
        }
        log_info("sandbox check: open(\"/etc/passwd\") refused: %s", strerror(errno));
        return errno == EPERM ? 0 : -errno;
}

/* The command line: 1 to go on, 0 to exit successfully (--help, --version), -EINVAL for a usage error
 * (said on stderr). */
static int parse_args(int argc, char **argv, struct bridge_options *o, const char **policy_file)
{
        enum { ARG_HOST = 0x100, ARG_CONTAINER, ARG_POLICY, ARG_NAME, ARG_MAX_HOST_LINKS, ARG_VERBOSE };
        static const struct option options[] = {
                {"host-bus", required_argument, NULL, ARG_HOST},
                {"container-bus", required_argument, NULL, ARG_CONTAINER},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"name", required_argument, NULL, ARG_NAME},
                {"max-host-links", required_argument, NULL, ARG_MAX_HOST_LINKS},
                {"verbose", no_argument, NULL, ARG_VERBOSE},
                {"version", no_argument, NULL, CLI_ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_HOST:
                        o->host_address = optarg;
                        break;
                case ARG_CONTAINER:
                        o->container_address = optarg;
                        break;
                case ARG_POLICY:
                        *policy_file = optarg;
                        break;
                case ARG_NAME:
                        o->name = optarg;
                        break;
                case ARG_MAX_HOST_LINKS: {
                        char *end;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 || v > 65536) {
                                fprintf(stderr,
                                        "nsbridge: --max-host-links=%s: not a number from 1 to 65536\n",
                                        optarg);
                                return -EINVAL;
                        }
                        o->max_host_links = (unsigned)v;
                        break;
                }
                case ARG_VERBOSE:
                        o->verbose = true;
                        break;
                default:
                        return cli_common_option(c, "nsbridge", usage);
                }
        }
        if (optind < argc || !o->host_address || !o->container_address) {
                if (optind < argc)
                        fprintf(stderr, "nsbridge: unknown argument '%s'\n", argv[optind]);
                else
                        fprintf(stderr, "nsbridge: --host-bus and --container-bus are required\n");
                usage(stderr);
                return -EINVAL;
        }
        return 1;
}

/* What the bootstrap learns, as root, and keeps for the bridge's lifetime. */
struct bootstrap {
        struct container_info info;
        char *handle_address; /* the container bus through the O_PATH handle, or NULL */
        int handle;           /* that handle */
        int init_pidfd;
        uint32_t uid, gid; /* the container's mapped root: what the bridge runs as */
};

static void bootstrap_done(struct bootstrap *bs)
{
        idmap_done(&bs->info.uid_map);
        idmap_done(&bs->info.gid_map);
        bridge_policy_free(bs->info.policy);
        explicit_bzero(bs->info.key, sizeof(bs->info.key));
        free(bs->handle_address);
        safe_close(bs->handle);
        safe_close(bs->init_pidfd);
}

/* Everything that needs root: the container's identity and bridge key, the handle on host.sock and a pidfd
 * on the container's init. Fills o's container fields. 0, or -errno (logged). */
static int bootstrap(struct bridge_options *o, struct bootstrap *bs)
{
        if (geteuid() != 0) {
                log_error("must be started as root: it reads the container bus's bridge key as root, then "
                          "runs "
                          "as the container's mapped root");
                return -EPERM;
        }
        int r = bootstrap_get_info(o->container_address, &bs->info);
        if (r < 0)
                return r;
        o->bridge_key = bs->info.key;
        o->bridge_key_len = bs->info.key_len;
        r = container_bus_handle(o->container_address, &bs->handle, &bs->handle_address);
        if (r < 0)
                return r;
        if (bs->handle_address)
                o->container_address = bs->handle_address;
        if (!idmap_to_outside(&bs->info.uid_map, 0, &bs->uid) ||
            !idmap_to_outside(&bs->info.gid_map, 0, &bs->gid)) {
                log_error("container %s maps no root user or group: nothing to run as", bs->info.name);
                return -ESRCH;
        }
        bs->init_pidfd = (int)syscall(SYS_pidfd_open, bs->info.init_pid, 0);
        if (bs->init_pidfd < 0) {
                r = -errno;
                log_error("container %s: init %d is gone: %s", bs->info.name, (int)bs->info.init_pid,
                          strerror(-r));
                return r;
        }
        o->init_pidfd = bs->init_pidfd;
        /* Asked now: the sandbox cannot read the user database. */
        o->uid_in_userdb = getpwuid(bs->uid) != NULL;
        return 0;
}

int main(int argc, char **argv)
{
        asan_no_leak_check(argv);
        struct bridge_options o = {.init_pidfd = -1, .max_host_links = DEFAULT_MAX_HOST_LINKS};
        const char *policy_file = NULL;
        int r = parse_args(argc, argv, &o, &policy_file);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        /* "nsbridge" until the container's name is known (from --name, or from its bus). */
        char prefix[300] = "nsbridge";
        if (o.name)
                snprintf(prefix, sizeof(prefix), "nsbridge[%s]", o.name);
        log_setup(&(struct log_config){
                .prefix = prefix, .to_stderr = true, .max_priority = o.verbose ? LOG_DEBUG : LOG_INFO});

        /* Nothing starts on a bad policy. Without --policy, the container bus's is asked for. */
        char err[512];
        _cleanup_(bootstrap_done) struct bootstrap bs = {.handle = -1, .init_pidfd = -1};
        if (policy_file && bridge_policy_load(policy_file, &bs.info.policy, err, sizeof(err)) < 0) {
                log_error("%s", err);
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);

        if (bootstrap(&o, &bs) < 0)
                return 1;
        if (!o.name)
                snprintf(prefix, sizeof(prefix), "nsbridge[%s]", bs.info.name);
        r = sandbox_drop_privileges(bs.uid, bs.gid);
        if (r < 0) {
                log_error("cannot become uid %u: %s", bs.uid, strerror(-r));
                return 1;
        }
        struct bridge *br;
        o.policy = TAKE_PTR(bs.info.policy);
        o.policy_from_bus = !policy_file;
        r = bridge_new(&o, &br); /* takes o.policy, even on failure */
        if (r < 0) {
                log_error("cannot set up: %s", strerror(-r));
                return 1;
        }
        r = sandbox_enter(err, sizeof(err));
        if (r < 0)
                log_error("%s", err);
        else if ((r = sandbox_check()) >= 0) {
                log_info("serving container %s (init %d) as uid %u", bs.info.name, (int)bs.info.init_pid,
                         bs.uid);
                r = bridge_run(br);
        }
        bridge_free(br);
        return r < 0 ? 1 : r;
}
