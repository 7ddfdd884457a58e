/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One container bus's supervisor, on lib/event: its children's pidfds, a restart timer for the bridge, and
 * SIGTERM/SIGINT (down), SIGHUP (reload: a refused or waiting bridge is started again at once).
 *
 * It watches the container's init too. An init that exits while the bus goes on was checkpointed (the bus
 * stays for the restore only then); whoever restores it, nsbusctl restore or a runtime's own checkpoint
 * tool, the bus learns the restored init from the first process that resumes its connection. So the
 * supervisor asks the bus (Container1.GetInfo) every second while the container is away, and at SIGHUP,
 * and takes the init the bus names: in its state file, and as the init a bridge is started for.
 *
 * The bridge is started without --policy: it asks the bus for the policy in force (GetBridgePolicy) and
 * follows the bus's reloads, so the policy lives in one place, the bus. A bridge that ends with an error
 * is started again after 1 s, 2 s, 4 s ... at most 30 s (1 s again once one ran for a minute); one that
 * reports that the host bus refused its uid is not, until SIGHUP: the cause is the host's to fix, and the
 * bridge's log line says how.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "connect.h"
#include "event.h"
#include "log.h"
#include "state.h"
#include "supervise.h"
#include "util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define BUS_START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_SEC 10
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define BRIDGE_STABLE_SEC 60 /* a bridge that ran this long failed afresh: back-off starts over */
#define RESTORE_POLL_MS                                                                                     \
        1000 /* how often the bus is asked for the restored init while the container is away */

struct child {
        struct event_source source; /* its pidfd */
        pid_t pid;
};

struct supervisor {
        const struct supervise_options *o;
        struct event_loop *loop;
        struct event_source signals;
        struct child bus, bridge;
        struct event_timer restart, stop_deadline, restore_poll;
        struct event_source init_source; /* init_pidfd */
        struct bus_state st;
        unsigned backoff_ms;
        int log_fd;
        int init_pidfd; /* the container's init */
        bool stopping;
        bool serving;      /* the bus came up, and up said so */
        bool keep_bus_dir; /* the bus failed under a container that runs: bus/ (its /run/dbus) stays */
        int exit_code;     /* >= 0: done */
};

static int64_t realtime_sec(void)
{
        return (int64_t)time(NULL);
}

static void save(struct supervisor *s)
{
        if (s->exit_code >= 0)
                return; /* finished: the state file is gone with the bus */
        int r = bus_state_write(s->o->dir_fd, &s->st);
        if (r < 0)
                log_error("cannot write %s/%s/%s: %s", s->o->runtime_dir, s->o->name, STATE_FILE,
                          strerror(-r));
}

/* fork + exec argv with stdout and stderr on the log, stdin on /dev/null, fd 3 = extra_fd (if >= 0),
 * nothing else open and no signal blocked. 0 with c->pid and the pidfd watched, or -errno. */
static int spawn(struct supervisor *s, struct child *c, char **argv, int extra_fd, event_io_fn fn)
{
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(s->log_fd, 1) < 0 || dup2(s->log_fd, 2) < 0 ||
                    (extra_fd >= 0 && (extra_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(extra_fd, 3)) < 0))
                        _exit(127);
                close_range(extra_fd >= 0 ? 4 : 3, ~0u, 0);
                execv(argv[0], argv);
                fprintf(stderr, "nsbusctl[%s]: cannot run %s: %m\n", s->o->name, argv[0]);
                _exit(127);
        }
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                int r = -errno;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return r;
        }
        c->pid = pid;
        int r = event_source_add(s->loop, &c->source, pidfd, EPOLLIN, fn);
        if (r < 0) {
                close(pidfd);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                c->pid = 0;
        }
        return r;
}

/* The child ended: reap it and describe how ("exited with status 1", "killed by SIGKILL"). */
static int reap(struct supervisor *s, struct child *c, char *how, size_t n)
{
        siginfo_t si = {0};
        int fd = c->source.fd;
        int r = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED) < 0 ? -errno : 0;
        event_source_remove(s->loop, &c->source);
        close(fd);
        c->pid = 0;
        if (r < 0) {
                snprintf(how, n, "ended (waitid: %s)", strerror(-r));
                return -1;
        }
        if (si.si_code == CLD_EXITED) {
                snprintf(how, n, "exited with status %d", si.si_status);
                return si.si_status;
        }
        snprintf(how, n, "was killed by %s",
                 sigabbrev_np(si.si_status) ? sigabbrev_np(si.si_status) : "a signal");
        return 128 + si.si_status;
}

static bool container_alive(const struct supervisor *s)
{
        struct pollfd p = {.fd = s->init_pidfd, .events = POLLIN};
        return s->init_pidfd >= 0 && poll(&p, 1, 0) == 0; /* a pidfd polls readable once the process exits */
}

static void maybe_finish(struct supervisor *s)
{
        if (!s->stopping || s->bus.pid || s->bridge.pid)
                return;
        /* nsbusd removed its sockets and bus/ unless it was killed; the directory and the rest are ours. */
        bool keep_bus_dir = s->keep_bus_dir && container_alive(s);
        int r = bus_dir_remove_stale(s->o->dir_fd, keep_bus_dir);
        if (r < 0)
                log_warning("cannot remove what the bus left: %s", strerror(-r));
        unlinkat(s->o->dir_fd, STATE_FILE, 0);
        unlinkat(s->o->dir_fd, STATE_LOCK, 0);
        /* nsbusctl checkpoint's and restore's notes: the checkpoint stays where its images are. */
        unlinkat(s->o->dir_fd, SUPERVISE_CHECKPOINT, 0);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", s->o->runtime_dir, s->o->name);
        if (rmdir(path) < 0 && errno != ENOENT) {
                if (errno == ENOTEMPTY && keep_bus_dir)
                        log_info("kept %s/" CONTAINER_BUS_DIR ": the container still runs, and sees a bus "
                                 "brought up there again",
                                 path);
                else
                        log_warning("cannot remove %s: %m", path);
        }
        log_info("stopped");
        s->exit_code = 0;
}

static void stop(struct supervisor *s, const char *why)
{
        if (!s->stopping)
                log_info("stopping: %s", why);
        s->stopping = true;
        event_timer_disarm(&s->restart);
        event_timer_disarm(&s->restore_poll);
        if (s->bridge.pid)
                kill(s->bridge.pid, SIGTERM);
        if (s->bus.pid)
                kill(s->bus.pid, SIGTERM);
        if (s->loop && !event_timer_armed(&s->stop_deadline))
                event_timer_arm(s->loop, &s->stop_deadline, now_usec() + STOP_TIMEOUT_SEC * 1000000ull);
        if (s->st.bridge != BRIDGE_NONE)
                s->st.bridge = BRIDGE_STOPPED;
        maybe_finish(s);
}

static void stop_deadline_fire(struct event_timer *t, uint64_t now)
{
        struct supervisor *s = container_of(t, struct supervisor, stop_deadline);
        log_warning("still running %d s after SIGTERM: SIGKILL", STOP_TIMEOUT_SEC);
        if (s->bridge.pid)
                kill(s->bridge.pid, SIGKILL);
        if (s->bus.pid)
                kill(s->bus.pid, SIGKILL);
}

static void bridge_exited(struct event_source *src, uint32_t events);

static void bridge_start(struct supervisor *s)
{
        int r = spawn(s, &s->bridge, s->st.bridge_argv, -1, bridge_exited);
        if (r < 0) {
                log_error("cannot start nsbridge: %s", strerror(-r));
                s->st.bridge = BRIDGE_RESTARTING;
                free(s->st.bridge_error);
                s->st.bridge_error = strdup(strerror(-r));
                event_timer_arm(s->loop, &s->restart, now_usec() + (uint64_t)BACKOFF_MAX_MS * 1000u);
        } else {
                s->st.bridge = BRIDGE_RUNNING;
                s->st.bridge_started = realtime_sec();
        }
        s->st.bridge_pid = s->bridge.pid;
        save(s);
}

static void restart_fire(struct event_timer *t, uint64_t now)
{
        struct supervisor *s = container_of(t, struct supervisor, restart);
        if (!s->stopping && !s->bridge.pid)
                bridge_start(s);
}

static void bridge_exited(struct event_source *src, uint32_t events)
{
        struct supervisor *s = container_of(src, struct supervisor, bridge.source);
        char how[128];
        int status = reap(s, &s->bridge, how, sizeof(how));
        s->st.bridge_pid = 0;
        free(s->st.bridge_error);
        s->st.bridge_error = NULL;
        if (s->stopping || (status == 0 && !container_alive(s))) {
                /* 0: the container's init exited, and the bus follows. (nsbridge exits 0 on SIGTERM too: a
                 * bridge someone stopped while the container runs is started again below.) */
                log_info("nsbridge %s", how);
                s->st.bridge = BRIDGE_STOPPED;
        } else if (status == SUPERVISE_BRIDGE_REFUSED) {
                log_error("nsbridge %s: the host bus refused its uid (see its line above): not restarting "
                          "it until `nsbusctl reload %s`",
                          how, s->o->name);
                s->st.bridge = BRIDGE_REFUSED;
                char why[256];
                snprintf(why, sizeof(why),
                         "the host bus refused the bridge's uid, which has no passwd entry (dbus-daemon "
                         "needs "
                         "one): add one as the log says, then `nsbusctl reload %s`",
                         s->o->name);
                s->st.bridge_error = strdup(why);
        } else {
                if (realtime_sec() - s->st.bridge_started >= BRIDGE_STABLE_SEC)
                        s->backoff_ms = 0;
                s->backoff_ms = s->backoff_ms ? MIN(s->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
                log_warning("nsbridge %s: starting it again in %u ms", how, s->backoff_ms);
                s->st.bridge = BRIDGE_RESTARTING;
                s->st.bridge_restarts++;
                s->st.bridge_error = strdup(how);
                event_timer_arm(s->loop, &s->restart, now_usec() + (uint64_t)s->backoff_ms * 1000u);
        }
        save(s);
        maybe_finish(s);
}

static void bus_exited(struct event_source *src, uint32_t events)
{
        struct supervisor *s = container_of(src, struct supervisor, bus.source);
        char how[128];
        int status = reap(s, &s->bus, how, sizeof(how));
        s->st.bus_pid = 0;
        if (!s->stopping)
                log_info("nsbusd %s", how);
        /* A bus that failed by itself (not stopped by down) under a container that runs: its bus/ stays for
         * a bus brought up again, which the container then sees at /run/dbus. */
        s->keep_bus_dir = !s->stopping && status != 0 && s->serving && container_alive(s);
        stop(s, status == 0 ? "the bus ended" : "the bus failed");
        save(s);
}

static void init_exited(struct event_source *src, uint32_t events);

/* Ask the bus which init it serves now; take a new live one as the container's, and start a bridge that
 * waits for it. True if the container is back (or was never away). */
static bool take_restored_init(struct supervisor *s)
{
        if (s->stopping || !s->bus.pid)
                return false;
        if (container_alive(s))
                return true;
        pid_t pid = 0;
        if (cli_container_init(s->o->runtime_dir, s->o->name, RESTORE_POLL_MS, &pid) < 0 || pid <= 0)
                return false;
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return false; /* it is gone again; the bus will say so */
        event_source_remove(s->loop, &s->init_source);
        safe_close(s->init_pidfd);
        s->init_pidfd = pidfd;
        if (event_source_add(s->loop, &s->init_source, pidfd, EPOLLIN, init_exited) < 0)
                log_warning("cannot watch the restored init %d", (int)pid);
        log_info("container %s restored: init %d", s->o->name, (int)pid);
        s->st.init_pid = pid;
        save(s);
        if (s->st.policy && !s->bridge.pid) {
                event_timer_disarm(&s->restart);
                s->backoff_ms = 0;
                bridge_start(s);
        }
        return true;
}

static void restore_poll_fire(struct event_timer *t, uint64_t now)
{
        struct supervisor *s = container_of(t, struct supervisor, restore_poll);
        if (!take_restored_init(s) && !s->stopping && s->bus.pid)
                event_timer_arm(s->loop, &s->restore_poll, now_usec() + RESTORE_POLL_MS * 1000ull);
}

/* The container's init exited. Its bus ends too (and so does the supervisor), unless the container was
 * checkpointed: then the bus waits for the restore, and the supervisor asks it for the new init. */
static void init_exited(struct event_source *src, uint32_t events)
{
        struct supervisor *s = container_of(src, struct supervisor, init_source);
        event_source_remove(s->loop, src);
        if (!s->stopping && !event_timer_armed(&s->restore_poll))
                event_timer_arm(s->loop, &s->restore_poll, now_usec() + RESTORE_POLL_MS * 1000ull);
}

static void signals_io(struct event_source *src, uint32_t events)
{
        struct supervisor *s = container_of(src, struct supervisor, signals);
        struct signalfd_siginfo si;
        while (event_signal_read(src, &si) > 0) {
                if (si.ssi_signo != SIGHUP) {
                        stop(s, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                        continue;
                }
                /* reload: the bus re-reads its configuration and policy itself (ReloadConfig); a bridge
                 * that is waiting gets its chance now, as after a restore (nsbusctl restore sends SIGHUP).
                 */
                if (!take_restored_init(s))
                        continue; /* the container is away: no bridge until it is back */
                if (!s->stopping && s->st.policy && !s->bridge.pid) {
                        log_info("SIGHUP: starting nsbridge again");
                        event_timer_disarm(&s->restart);
                        s->backoff_ms = 0;
                        bridge_start(s);
                }
        }
}

static bool prepare(struct event_loop *loop, void *userdata)
{
        struct supervisor *s = userdata;
        return s->exit_code < 0;
}

/* A NULL-terminated copy of the n strings of a, without the NULL ones. */
static char **strv_copy(const char *const *a, size_t n)
{
        char **v = calloc(n + 1, sizeof(char *));
        for (size_t i = 0, j = 0; v && i < n; i++)
                if (a[i] && !(v[j++] = strdup(a[i]))) {
                        for (size_t k = 0; k < j; k++)
                                free(v[k]);
                        free(v);
                        return NULL;
                }
        return v;
}

/* "--key=value", or NULL for a NULL value. */
static char *opt(const char *key, const char *value)
{
        char *s = NULL;
        return value && asprintf(&s, "--%s=%s", key, value) >= 0 ? s : NULL;
}

/* The command lines, kept in the state file as they are run. */
static int make_commands(struct supervisor *s)
{
        const struct supervise_options *o = s->o;
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)o->init_pid);
        _cleanup_free_ char *host_sock = NULL;
        if (asprintf(&host_sock, "unix:path=%s/%s/" CONTAINER_HOST_SOCKET, o->runtime_dir, o->name) < 0)
                return -ENOMEM;
        _cleanup_free_ char *a_pid = o->restore_dir ? opt("restore-from", o->restore_dir)
                                                    : opt("container-pid", pid),
                            *a_name = opt("name", o->name), *a_rt = opt("runtime-dir", o->runtime_dir),
                            *a_policy = opt("policy", o->policy), *a_config = opt("config-file", o->config),
                            *a_host = opt("host-bus", o->host_bus),
                            *a_container = opt("container-bus", host_sock);
        const char *bus[] = {o->nsbusd,           a_pid,    a_name,  a_rt, "--nofork",
                             "--print-address=3", a_policy, a_config};
        const char *bridge[] = {o->nsbridge, a_host, a_container, a_name};
        if (!a_pid || !a_name || !a_rt || !a_host || !a_container || (o->policy && !a_policy) ||
            (o->config && !a_config))
                return -ENOMEM;
        s->st.bus_argv = strv_copy(bus, ELEMENTSOF(bus));
        if (o->policy)
                s->st.bridge_argv = strv_copy(bridge, ELEMENTSOF(bridge));
        return s->st.bus_argv && (!o->policy || s->st.bridge_argv) ? 0 : -ENOMEM;
}

/* Start nsbusd and wait until its sockets accept (it prints its address once they listen). NULL, or why
 * not (static or in buf). */
static const char *bus_start(struct supervisor *s, char *buf, size_t n)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return strerror(errno);
        int r = spawn(s, &s->bus, s->st.bus_argv, p[1], bus_exited);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                snprintf(buf, n, "cannot start %s: %s", s->o->nsbusd, strerror(-r));
                return buf;
        }
        s->st.bus_pid = s->bus.pid;
        char addr[1024];
        size_t len = 0;
        uint64_t deadline = now_usec() + BUS_START_TIMEOUT_MS * 1000ull;
        while (len < sizeof(addr) - 1 && !memchr(addr, '\n', len)) {
                uint64_t now = now_usec();
                struct pollfd pfd = {.fd = p[0], .events = POLLIN};
                if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) == 0) {
                        close(p[0]);
                        snprintf(buf, n, "nsbusd did not start listening within %d s (see %s)",
                                 BUS_START_TIMEOUT_MS / 1000, s->o->log);
                        return buf;
                }
                ssize_t k = read(p[0], addr + len, sizeof(addr) - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        close(p[0]);
                        char how[128];
                        reap(s, &s->bus, how, sizeof(how));
                        s->st.bus_pid = 0;
                        snprintf(buf, n, "nsbusd %s before it listened (its reason is in %s)", how,
                                 s->o->log);
                        return buf;
                }
                len += (size_t)k;
        }
        close(p[0]);
        return NULL;
}

int supervise(const struct supervise_options *o)
{
        struct supervisor s = {.o = o, .exit_code = -1};
        /* What a runtime's hook is started with is not for the bus: crun runs createRuntime hooks with every
         * signal blocked, podman's with SIGPIPE ignored. An ignored SIGTERM would never reach the signalfd
         * below (nor nsbusd, which keeps ignored dispositions across exec), and an ignored SIGCHLD would
         * have the kernel reap the children before waitid() could. */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        s.init_pidfd = o->init_pid > 0 ? (int)syscall(SYS_pidfd_open, o->init_pid, 0) : -1;
        s.bus.source.fd = s.bridge.source.fd = s.signals.fd = -1;
        event_timer_init(&s.restart, restart_fire);
        event_timer_init(&s.stop_deadline, stop_deadline_fire);
        event_timer_init(&s.restore_poll, restore_poll_fire);
        s.init_source.fd = -1;
        char prefix[300];
        snprintf(prefix, sizeof(prefix), "nsbusctl[%s]", o->name);
        log_setup(&(struct log_config){.prefix = prefix, .to_stderr = true, .max_priority = LOG_INFO});

        s.st = (struct bus_state){
                .name = strdup(o->name),
                .init_pid = o->init_pid,
                .supervisor_pid = getpid(),
                .bridge = o->policy ? BRIDGE_STOPPED : BRIDGE_NONE,
                .started = realtime_sec(),
                .policy = o->policy ? strdup(o->policy) : NULL,
                .config = o->config ? strdup(o->config) : NULL,
                .host_bus = o->policy ? strdup(o->host_bus) : NULL,
                .log = strdup(o->log),
        };
        const char *why = NULL;
        char buf[1024];
        static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
        s.log_fd = open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (s.log_fd < 0) {
                snprintf(buf, sizeof(buf), "cannot open the log %s: %m", o->log);
                why = buf;
        } else if (dup2(s.log_fd, 2) < 0 || event_loop_new(&s.loop) < 0 ||
                   event_signals_add(s.loop, &s.signals, signals, ELEMENTSOF(signals), signals_io) < 0 ||
                   make_commands(&s) < 0 ||
                   asprintf(&s.st.socket, "%s/%s/" CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET,
                            o->runtime_dir, o->name) < 0)
                why = "out of memory";
        if (!why) {
                if (o->restore_dir)
                        log_info("starting the bus of container %s for its restore from %s", o->name,
                                 o->restore_dir);
                else
                        log_info("starting the bus of container %s (init %d)", o->name, (int)o->init_pid);
                why = bus_start(&s, buf, sizeof(buf));
        }
        if (why) {
                dprintf(o->ready_fd, "ERROR %s\n", why);
                close(o->ready_fd);
                log_error("%s", why);
                stop(&s, why);
                while (s.loop && s.bus.pid && s.exit_code < 0)
                        event_loop_run_once(s.loop, -1);
                maybe_finish(&s);
                bus_state_done(&s.st);
                event_loop_free(s.loop);
                safe_close(s.init_pidfd);
                return 1;
        }
        save(&s);
        s.serving = true;
        dprintf(o->ready_fd, "OK %s\n", s.st.socket);
        close(o->ready_fd);
        if (o->policy && o->init_pid > 0) /* a restored container's bridge waits for its init */
                bridge_start(&s);
        /* Watch the init; a bus started for a restore has none yet: ask it until it has. */
        if (s.init_pidfd < 0 ||
            event_source_add(s.loop, &s.init_source, s.init_pidfd, EPOLLIN, init_exited) < 0)
                event_timer_arm(s.loop, &s.restore_poll, now_usec() + RESTORE_POLL_MS * 1000ull);

        event_loop_set_prepare(s.loop, prepare, &s);
        int r = event_loop_run(s.loop);
        if (r < 0)
                log_error("event loop failed: %s", strerror(-r));
        bus_state_done(&s.st);
        event_loop_free(s.loop);
        safe_close(s.init_pidfd);
        return r < 0 ? 1 : s.exit_code;
}
