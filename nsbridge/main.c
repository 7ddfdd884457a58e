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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bridge-policy.h"
#include "bridge.h"
#include "client.h"
#include "nsview.h"
#include "sandbox.h"

#define BOOTSTRAP_TIMEOUT_MS 10000

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSBRIDGE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(NSBRIDGE_ASAN)
/* LeakSanitizer checks at exit by stopping the world with clone(), ptrace() and mprotect(), which the
 * sandbox refuses by design, so in the sanitizer build nsbridge is checked for memory errors but not for
 * leaks. Nothing else in the sandbox differs from the release build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
        return "detect_leaks=0";
}
#endif

static void usage(FILE *f)
{
        fprintf(f, "Usage: nsbridge --host-bus=ADDRESS --container-bus=ADDRESS --policy=FILE [--name=NAME]\n"
                   "                [--verbose]\n"
                   "Forward the bus names FILE permits between the host bus and a container's nsbusd\n"
                   "(its host.sock). Must be started as root; runs as the container's mapped root.\n");
}

struct container_info {
        char name[256];
        pid_t init_pid;
        struct idmap uid_map, gid_map;
};

static int read_idmap(struct msg_reader *r, struct idmap *map)
{
        int ret = msg_reader_enter(r, 'a', "(uuu)");
        while (ret >= 0 && msg_reader_peek(r)) {
                if (map->n >= IDMAP_MAX_EXTENTS)
                        return -EBADMSG;
                struct idmap_extent *e = realloc(map->extents, (map->n + 1) * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                map->extents = e;
                e = &map->extents[map->n++];
                if ((ret = msg_reader_enter(r, '(', "uuu")) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->inside)) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->outside)) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->count)) < 0)
                        return ret;
                ret = msg_reader_exit(r);
        }
        return ret < 0 ? ret : msg_reader_exit(r);
}

/* The one blocking exchange: org.nsbus.Container1.GetInfo on the container bus, before the sandbox. */
static int bootstrap_get_info(const char *address, struct container_info *info)
{
        char err[256] = "";
        _cleanup_(client_freep) struct client *c = NULL;
        int r = client_connect(address, geteuid(), &c, err, sizeof(err));
        if (r < 0) {
                bridge_log("cannot connect to the container bus %s: %s", address, err[0] ? err : strerror(-r));
                return r;
        }
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b.destination = DRIVER_NAME;
        b.path = DRIVER_PATH;
        b.interface = "org.nsbus.Container1";
        b.member = "GetInfo";
        struct message *call;
        if ((r = msg_builder_finish(&b, &call)) < 0)
                return r;
        uint32_t serial = call->serial;
        r = client_queue(c, call);
        message_unref(call);
        if (r < 0)
                return r;

        static uint8_t scratch[64 * 1024];
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                r = client_flush(c);
                if (r < 0 && r != -EAGAIN)
                        break;
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long left = BOOTSTRAP_TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000 +
                                                    (now.tv_nsec - start.tv_nsec) / 1000000);
                if (left <= 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (client_wants_write(c) ? POLLOUT : 0)};
                if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                struct message *m = NULL;
                bool first = true;
                while ((r = client_receive(c, scratch, sizeof(scratch), first, &m)) > 0) {
                        first = false;
                        if ((m->type != MESSAGE_METHOD_RETURN && m->type != MESSAGE_ERROR) ||
                            m->reply_serial != serial) {
                                message_unref(m);
                                continue;
                        }
                        if (m->type == MESSAGE_ERROR) {
                                const char *text = "";
                                message_read(m, "s", &text);
                                bridge_log("the container bus refused GetInfo: %s: %s", m->error_name, text);
                                message_unref(m);
                                return -EACCES;
                        }
                        struct msg_reader rd;
                        const char *name;
                        uint32_t pid;
                        msg_reader_init(&rd, m);
                        r = -EBADMSG;
                        if (streq(m->signature, "sua(uuu)a(uuu)") && msg_reader_read_basic(&rd, 's', &name) >= 0 &&
                            msg_reader_read_basic(&rd, 'u', &pid) >= 0 && read_idmap(&rd, &info->uid_map) >= 0 &&
                            read_idmap(&rd, &info->gid_map) >= 0 && pid > 0 && pid <= INT32_MAX) {
                                snprintf(info->name, sizeof(info->name), "%s", name);
                                info->init_pid = (pid_t)pid;
                                r = 0;
                        }
                        message_unref(m);
                        if (r < 0)
                                bridge_log("the container bus sent an unreadable GetInfo reply");
                        return r;
                }
                if (r < 0)
                        break;
        }
        bridge_log("cannot ask the container bus %s which container it serves: %s", address,
                   r == -EACCES ? "it refused the connection" : strerror(-r));
        return r;
}

/* The sandbox proves itself once: a syscall it does not allow must fail. */
static int sandbox_check(void)
{
        int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                close(fd);
                bridge_log("sandbox check: open(\"/etc/passwd\") succeeded; the seccomp filter is not active");
                return -EPERM;
        }
        bridge_log("sandbox check: open(\"/etc/passwd\") refused: %s", strerror(errno));
        return errno == EPERM ? 0 : -errno;
}

int main(int argc, char **argv)
{
        enum { ARG_HOST = 0x100, ARG_CONTAINER, ARG_POLICY, ARG_NAME, ARG_VERBOSE, ARG_VERSION };
        static const struct option options[] = {
                {"host-bus", required_argument, NULL, ARG_HOST},
                {"container-bus", required_argument, NULL, ARG_CONTAINER},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"name", required_argument, NULL, ARG_NAME},
                {"verbose", no_argument, NULL, ARG_VERBOSE},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct bridge_options o = {.init_pidfd = -1, .signal_fd = -1};
        const char *policy_file = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_HOST:
                        o.host_address = optarg;
                        break;
                case ARG_CONTAINER:
                        o.container_address = optarg;
                        break;
                case ARG_POLICY:
                        policy_file = optarg;
                        break;
                case ARG_NAME:
                        o.name = optarg;
                        break;
                case ARG_VERBOSE:
                        o.verbose = true;
                        break;
                case ARG_VERSION:
                        printf("nsbridge %s\n", NSBUS_VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc || !o.host_address || !o.container_address || !policy_file) {
                if (optind < argc)
                        fprintf(stderr, "nsbridge: unknown argument '%s'\n", argv[optind]);
                else
                        fprintf(stderr, "nsbridge: --host-bus, --container-bus and --policy are required\n");
                usage(stderr);
                return 2;
        }
        bridge_log_name = o.name ? o.name : "";
        bridge_log_verbose = o.verbose;

        /* Nothing starts on a bad policy. */
        char err[512];
        _cleanup_(bridge_policy_freep) struct bridge_policy *policy = NULL;
        int r = bridge_policy_load(policy_file, &policy, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "nsbridge: %s\n", err);
                return 1;
        }
        o.policy = policy;

        signal(SIGPIPE, SIG_IGN);
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        _cleanup_close_ int signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0) {
                bridge_log("signalfd: %m");
                return 1;
        }
        o.signal_fd = signal_fd;

        struct container_info info = {};
        if (bootstrap_get_info(o.container_address, &info) < 0)
                return 1;
        if (!o.name)
                bridge_log_name = info.name;
        uint32_t uid, gid;
        if (!idmap_to_outside(&info.uid_map, 0, &uid) || !idmap_to_outside(&info.gid_map, 0, &gid)) {
                bridge_log("container %s maps no root user or group: nothing to run as", info.name);
                return 1;
        }
        idmap_done(&info.uid_map);
        idmap_done(&info.gid_map);

        _cleanup_close_ int init_pidfd = (int)syscall(SYS_pidfd_open, info.init_pid, 0);
        if (init_pidfd < 0) {
                bridge_log("container %s: init %d is gone: %m", info.name, (int)info.init_pid);
                return 1;
        }
        o.init_pidfd = init_pidfd;

        if (geteuid() == 0) {
                r = sandbox_drop_privileges(uid, gid);
                if (r < 0) {
                        bridge_log("cannot become uid %u: %s", uid, strerror(-r));
                        return 1;
                }
        } else if (geteuid() != uid) {
                bridge_log("must be started as root (or as the container's root, uid %u)", uid);
                return 1;
        }
        /* Its epoll and timer fds are made before the sandbox, which has no syscalls to make them. */
        struct bridge *br;
        r = bridge_new(&o, &br);
        if (r < 0) {
                bridge_log("cannot set up: %s", strerror(-r));
                return 1;
        }
        r = sandbox_enter(err, sizeof(err));
        if (r < 0) {
                bridge_log("%s", err);
                bridge_free(br);
                return 1;
        }
        if (sandbox_check() < 0) {
                bridge_free(br);
                return 1;
        }
        bridge_log("serving container %s (init %d) as uid %u", info.name, (int)info.init_pid, uid);

        r = bridge_run(br);
        bridge_free(br);
        return r;
}
