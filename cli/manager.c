/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager verbs: up, down, ls and reload. This is the one place that knows how a container's bus is
 * run (the runtime hooks call it too): `up` checks what it is given, makes RUNTIME_DIR/NAME, takes its
 * lock and forks the supervisor (supervise.c), which starts nsbusd and nsbridge and keeps state.json; the
 * other verbs read that state and talk to the supervisor by signal and to the bus through host.sock.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lxc/lxccontainer.h>

#include "address.h"
#include "bridge-policy.h"
#include "ckpt-image.h"
#include "client.h"
#include "format.h"
#include "manager.h"
#include "nsview.h"
#include "state.h"
#include "supervise.h"
#include "verbs.h"

#define UP_TIMEOUT_MS 20000
#define DOWN_TIMEOUT_MS 20000

static int check_name(const char *verb, const char *name)
{
        if (!name[0] || strlen(name) > 200 || strchr(name, '/') || name[0] == '.')
                return cli_fail(-EINVAL, "%s: %s: not a container name (no '/', not starting with '.')",
                                verb, name);
        return 0;
}

/* The one NAME of up, down and reload: 0 and *ret, or negative after saying why. */
static int name_arg(const char *verb, int argc, char **argv, const char **ret)
{
        if (argc != 2)
                return cli_fail(-EINVAL, "%s: give one container NAME", verb);
        *ret = argv[1];
        return check_name(verb, argv[1]);
}

/* RUNTIME_DIR/NAME, opened: -ENOENT when no bus was ever brought up there. */
static int open_bus_dir(const struct cli_options *o, const char *name)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", o->runtime_dir, name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* The supervised bus of NAME's state: 0 and *st, 0 with st->name NULL when none is up, or negative after
 * saying why. */
static int supervised_state(const struct cli_options *o, const char *name, struct bus_state *st)
{
        *st = (struct bus_state){0};
        _cleanup_close_ int dir_fd = open_bus_dir(o, name);
        if (dir_fd == -ENOENT)
                return 0;
        if (dir_fd < 0)
                return cli_fail(dir_fd, "%s/%s: %s", o->runtime_dir, name, strerror(-dir_fd));
        char err[256] = "";
        if (!bus_state_supervised(dir_fd) || bus_state_read(dir_fd, st, err, sizeof(err)) < 0)
                *st = (struct bus_state){0};
        return 0;
}

pid_t manager_bus_supervisor(const struct cli_options *o, const char *name)
{
        struct bus_state st;
        int r = supervised_state(o, name, &st);
        if (r < 0)
                return r;
        pid_t pid = st.name ? st.supervisor_pid : 0;
        bus_state_done(&st);
        return pid;
}

pid_t manager_bus_init(const struct cli_options *o, const char *name)
{
        struct bus_state st;
        int r = supervised_state(o, name, &st);
        if (r < 0)
                return r;
        pid_t init = st.name ? st.init_pid : 0;
        bus_state_done(&st);
        return init;
}

bool manager_bus_up(const struct cli_options *o, const char *name)
{
        struct bus_state st;
        bool up = supervised_state(o, name, &st) >= 0 && st.name;
        bus_state_done(&st);
        return up;
}

/* Where nsbusd and nsbridge are: $NSBUS_NSBUSD / $NSBUS_NSBRIDGE, else next to nsbusctl (an installed
 * tree), else the configured bindir. */
static char *find_program(const char *env, const char *name)
{
        const char *v = getenv(env);
        if (v && v[0]) /* absolute in state.json: down checks a pid against it from any directory */
                return realpath(v, NULL) ?: strdup(v);
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                char *slash = strrchr(self, '/');
                char *path = NULL;
                if (slash && asprintf(&path, "%.*s/%s", (int)(slash - self), self, name) >= 0) {
                        if (access(path, X_OK) == 0)
                                return path;
                        free(path);
                }
        }
        char *path = NULL;
        return asprintf(&path, "%s/%s", NSBUS_BINDIR, name) < 0 ? NULL : path;
}

/* The init pid of LXC container name, through liblxc (loaded here, so that other verbs do not pay for it):
 * > 0, or 0 after saying why not. */
static pid_t lxc_init_pid(const char *name)
{
        void *lib = dlopen("liblxc.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                cli_fail(-ENOENT,
                         "up %s: --pid=PID is required: without it NAME is looked up as an LXC container, "
                         "and liblxc cannot be loaded (%s)",
                         name, dlerror());
                return 0;
        }
        struct lxc_container *(*new_container)(const char *, const char *) =
                (struct lxc_container * (*)(const char *, const char *)) dlsym(lib, "lxc_container_new");
        int (*put)(struct lxc_container *) =
                (int (*)(struct lxc_container *))dlsym(lib, "lxc_container_put");
        struct lxc_container *c = new_container && put ? new_container(name, NULL) : NULL;
        pid_t pid = 0;
        if (!c || !c->is_defined(c))
                cli_fail(-ESRCH, "up %s: --pid=PID is required: %s is no LXC container (in %s)", name, name,
                         c && c->config_path ? c->config_path : "LXC's default path");
        else if (!c->is_running(c))
                cli_fail(-ESRCH, "up %s: LXC container %s is not running", name, name);
        else if ((pid = c->init_pid(c)) <= 0)
                cli_fail(-ESRCH, "up %s: liblxc knows no init pid for running container %s", name, name);
        if (c)
                put(c);
        dlclose(lib);
        return pid > 0 ? pid : 0;
}

/* The image of 0 in /proc/PID/FILE (uid_map or gid_map): 0 with *ret, or -errno. */
static int root_outside(pid_t pid, const char *file, uint32_t *ret)
{
        char path[64], text[4096];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (n < 0)
                return -errno;
        text[n] = 0;
        struct idmap m = {0};
        int r = idmap_parse(text, &m);
        if (r >= 0 && !idmap_to_outside(&m, 0, ret))
                *ret = 0;
        idmap_done(&m);
        return r < 0 ? r : 0;
}

int manager_container_root(pid_t pid, uid_t *uid, gid_t *gid)
{
        uint32_t u = 0, g = 0;
        int r = root_outside(pid, "uid_map", &u);
        if (r >= 0 && gid)
                r = root_outside(pid, "gid_map", &g);
        if (r < 0)
                return r;
        *uid = u;
        if (gid)
                *gid = g;
        return 0;
}

/* dbus-daemon, the system bus of most distributions, drops a connection whose uid the user database
 * cannot name: the bridge (the container's mapped root) would never get in. Give that uid a system user,
 * as an admin would: nsbus-UID, group nogroup, no home, no login. Said on stderr, as it changes the host. */
static int ensure_user(uid_t uid)
{
        if (getpwuid(uid))
                return 0;
        char uid_s[16], name[32];
        snprintf(uid_s, sizeof(uid_s), "%u", (unsigned)uid);
        snprintf(name, sizeof(name), "nsbus-%u", (unsigned)uid);
        /* useradd warns that the uid is above SYS_UID_MAX, as it always is for a container's root: what it
         * says is shown only if it fails. */
        _cleanup_close_ int out = memfd_create("useradd", MFD_CLOEXEC);
        pid_t pid = fork();
        if (pid < 0)
                return cli_fail(-errno, "up: cannot run useradd: %m");
        if (pid == 0) {
                if (out >= 0) {
                        dup2(out, 1);
                        dup2(out, 2);
                }
                execlp("useradd", "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                       "--shell", "/usr/sbin/nologin", "--uid", uid_s, "--gid", "nogroup", "--comment",
                       "nsbus container root (for the host bus)", name, (char *)NULL);
                fprintf(stderr, "%s: up: cannot run useradd: %m\n", cli_program);
                _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char text[4096];
                ssize_t n = out >= 0 ? pread(out, text, sizeof(text), 0) : -1;
                if (n > 0)
                        fprintf(stderr, "%.*s", (int)n, text);
                return cli_fail(-EIO,
                                "up: uid %u (the container's root) has no entry in the user database, which "
                                "dbus-daemon requires, and `useradd ... %s` failed (see above)",
                                (unsigned)uid, name);
        }
        fprintf(stderr,
                "%s: added system user %s (uid %u, the container's root) so that the host bus accepts the "
                "bridge\n",
                cli_program, name, (unsigned)uid);
        return 0;
}

static pid_t pid_alive(pid_t pid)
{
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) ? pid : 0;
}

/* pid, if it is still the program argv (a command line from state.json) started, and not a process that
 * got the pid of one that ended: its executable is argv[0]'s file. 0 otherwise. */
static pid_t pid_runs(pid_t pid, char *const *argv)
{
        char exe[64];
        struct stat want, is;
        snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
        if (pid <= 0 || !argv || !argv[0] || stat(argv[0], &want) < 0 || stat(exe, &is) < 0)
                return 0;
        return want.st_dev == is.st_dev && want.st_ino == is.st_ino ? pid : 0;
}

/* A second up for a bus that runs: say so, print its socket as the first up did, change nothing. */
static int report_already_up(int dir_fd, const char *name, bool quiet)
{
        struct bus_state st;
        char err[256] = "";
        int r = bus_state_read(dir_fd, &st, err, sizeof(err));
        if (r < 0)
                return cli_fail(-EBUSY, "up: %s: another nsbusctl is bringing it up", name);
        fprintf(stderr, "%s: %s is already up (nsbusd pid %d, supervisor pid %d)\n", cli_program, name,
                (int)st.bus_pid, (int)st.supervisor_pid);
        if (!quiet)
                printf("%s\n", st.socket);
        bus_state_done(&st);
        return 0;
}

/* Make RUNTIME_DIR (0755) and RUNTIME_DIR/NAME (0700, root's: host.sock is in it). */
static int make_bus_dir(const struct cli_options *o, const char *name)
{
        if (mkdir(o->runtime_dir, 0755) < 0 && errno != EEXIST)
                return cli_fail(-errno, "up: cannot create %s: %m", o->runtime_dir);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", o->runtime_dir, name);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return cli_fail(-errno, "up: cannot create %s: %m", path);
        int fd = open_bus_dir(o, name);
        struct stat st;
        if (fd < 0)
                return cli_fail(fd, "up: cannot open %s: %s", path, strerror(-fd));
        if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0022)) {
                close(fd);
                return cli_fail(-EPERM, "up: %s is not root's alone (owner %u, mode %04o)", path,
                                (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        }
        return fd;
}

/* Wait for the supervisor's word: 0 with the socket path printed, or negative after saying why. */
static int wait_ready(int fd, const char *name, const char *log, bool quiet)
{
        char line[2048];
        size_t len = 0;
        while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, UP_TIMEOUT_MS) == 0)
                        return cli_fail(-ETIMEDOUT, "up: %s: no word from its supervisor in %d s (see %s)",
                                        name, UP_TIMEOUT_MS / 1000, log);
                ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return cli_fail(-EIO,
                                        "up: %s: its supervisor ended before the bus listened (see %s)",
                                        name, log);
                len += (size_t)n;
        }
        line[len] = 0;
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "OK ", 3) != 0)
                return cli_fail(-EIO, "up: %s: %s", name, strncmp(line, "ERROR ", 6) == 0 ? line + 6 : line);
        if (!quiet)
                printf("%s\n", line + 3);
        return 0;
}

int verb_up(const struct cli_options *o, int argc, char **argv)
{
        const char *name = NULL;
        int r = name_arg("up", argc, argv, &name);
        if (r < 0)
                return r;
        signal(SIGCHLD, SIG_DFL); /* useradd's exit, and the bus's, must be there to wait for */
        pid_t init = o->pid ? o->pid : lxc_init_pid(name);
        if (!init)
                return -ESRCH;
        if (geteuid() != 0)
                return cli_fail(-EPERM, "up %s: must be run as root (the bus serves another user namespace)",
                                name);
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, init, 0);
        if (pidfd < 0)
                return cli_fail(-errno, "up %s: --pid=%d: %m", name, (int)init);
        return manager_up(o, name, init, NULL);
}

/* The container's root as the host sees it: from the init's uid map, or, for a container that is about
 * to be restored, from its checkpoint's images. */
static int container_root_of(pid_t init, const char *restore_dir, uid_t *ret)
{
        if (init > 0)
                return manager_container_root(init, ret, NULL);
        uint64_t next_id;
        uint32_t uid = 0, gid = 0;
        char err[512];
        int r = ckpt_images_scan(restore_dir, &next_id, &uid, &gid, err, sizeof(err));
        if (r < 0)
                return cli_fail(r, "%s", err);
        *ret = uid;
        return 0;
}

int manager_up(const struct cli_options *o, const char *name, pid_t init, const char *restore_dir)
{
        int r;

        /* The policy: --policy, else MANAGER_POLICY_DIR/NAME.policy if there is one; checked before anything
         * runs.
         */
        _cleanup_free_ char *policy = NULL, *config = NULL, *log = NULL;
        char default_policy[PATH_MAX];
        snprintf(default_policy, sizeof(default_policy), "%s/%s.policy",
                 o->policy_dir ? o->policy_dir : MANAGER_POLICY_DIR, name);
        const char *policy_arg = o->policy                           ? o->policy
                                 : access(default_policy, F_OK) == 0 ? default_policy
                                                                     : NULL;
        if (policy_arg) {
                char err[512];
                struct bridge_policy *p;
                if (!(policy = realpath(policy_arg, NULL)))
                        return cli_fail(-errno, "up %s: --policy=%s: %m", name, policy_arg);
                if (bridge_policy_load(policy, &p, err, sizeof(err)) < 0)
                        return cli_fail(-EINVAL, "up %s: %s", name, err);
                bridge_policy_free(p);
        }
        if (o->config && !(config = realpath(o->config, NULL)))
                return cli_fail(-errno, "up %s: --config=%s: %m", name, o->config);
        if (o->log)
                log = strdup(o->log);
        else if ((mkdir(MANAGER_LOG_DIR, 0750) < 0 && errno != EEXIST) ||
                 asprintf(&log, "%s/%s.log", MANAGER_LOG_DIR, name) < 0)
                return cli_fail(-errno, "up %s: cannot create %s: %m", name, MANAGER_LOG_DIR);
        const char *host_bus = o->host_bus ? o->host_bus : getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (!host_bus)
                host_bus = SYSTEM_BUS_DEFAULT;
        _cleanup_free_ char *nsbusd = find_program("NSBUS_NSBUSD", "nsbusd"),
                            *nsbridge = find_program("NSBUS_NSBRIDGE", "nsbridge");
        if (!nsbusd || !nsbridge || !log)
                return -ENOMEM;

        _cleanup_close_ int dir_fd = make_bus_dir(o, name);
        if (dir_fd < 0)
                return dir_fd;
        _cleanup_close_ int lock_fd = openat(dir_fd, STATE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0)
                return cli_fail(-errno, "up %s: cannot create its lock: %m", name);
        if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? report_already_up(dir_fd, name, o->quiet)
                                            : cli_fail(-errno, "up %s: cannot lock: %m", name);
        struct bus_state old;
        char err[256];
        if (bus_state_read(dir_fd, &old, err, sizeof(err)) >= 0) {
                /* A supervisor that was killed leaves its children running: not ours to reuse or kill. */
                pid_t left =
                        pid_runs(old.bus_pid, old.bus_argv) ?: pid_runs(old.bridge_pid, old.bridge_argv);
                bus_state_done(&old);
                if (left)
                        return cli_fail(-EBUSY,
                                        "up %s: its supervisor is gone but pid %d of its bus still runs: "
                                        "`nsbusctl down %s` stops it",
                                        name, (int)left, name);
                /* What a dead supervisor left must not stand for the new one while it starts. */
                unlinkat(dir_fd, STATE_FILE, 0);
        }
        if (policy && o->add_user) {
                uid_t root = 0;
                if ((r = container_root_of(init, restore_dir, &root)) < 0)
                        return cli_fail(r, "up %s: cannot tell the container's root: %s", name,
                                        strerror(-r));
                if ((r = ensure_user(root)) < 0)
                        return r;
        }

        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return cli_fail(-errno, "up %s: %m", name);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return cli_fail(-errno, "up %s: cannot fork: %m", name);
        if (pid == 0) {
                /* The supervisor: a session of its own, and nothing of the caller's terminal or pipes
                 * (a test or hook that ran up must not wait for it to close them). */
                close(ready[0]);
                setsid();
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 0);
                        dup2(null, 1);
                        dup2(null, 2);
                }
                const struct supervise_options so = {
                        .name = name,
                        .runtime_dir = o->runtime_dir,
                        .init_pid = init,
                        .restore_dir = restore_dir,
                        .policy = policy,
                        .config = config,
                        .host_bus = host_bus,
                        .log = log,
                        .nsbusd = nsbusd,
                        .nsbridge = nsbridge,
                        .dir_fd = dir_fd,
                        .lock_fd = lock_fd,
                        .ready_fd = ready[1],
                };
                _exit(supervise(&so));
        }
        close(ready[1]);
        r = wait_ready(ready[0], name, log, o->quiet);
        close(ready[0]);
        return r;
}

/* Take lock_fd's lock within timeout_ms: true once its holder (the supervisor) has ended. */
static bool lock_within(int lock_fd, int timeout_ms)
{
        for (int waited = 0; waited < timeout_ms; waited += 20) {
                if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0)
                        return true;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return false;
                usleep(20000);
        }
        return false;
}

/* Until RUNTIME_DIR/NAME is gone, at most timeout_ms: true if it went. */
static bool gone_within(const struct cli_options *o, const char *name, int timeout_ms)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", o->runtime_dir, name);
        for (int waited = 0; waited < timeout_ms; waited += 20) {
                if (access(path, F_OK) < 0 && errno == ENOENT)
                        return true;
                usleep(20000);
        }
        return false;
}

/* The state of a bus nobody supervises any more (the caller holds its lock): stop what it left running,
 * remove what it left. */
static int clean_unsupervised(const struct cli_options *o, int dir_fd, const char *name)
{
        struct bus_state st = {0};
        char err[256] = "";
        int r = bus_state_read(dir_fd, &st, err, sizeof(err));
        if (r < 0 && r != -ENOENT) /* -ENOENT: an up that died before its supervisor wrote anything */
                return cli_fail(r, "down %s: %s", name, err);
        /* Only what it started: a pid of its may belong to another process by now. */
        pid_t pids[] = {pid_runs(st.bridge_pid, st.bridge_argv), pid_runs(st.bus_pid, st.bus_argv)};
        for (size_t i = 0; i < ELEMENTSOF(pids); i++)
                if (pids[i])
                        kill(pids[i], SIGTERM);
        for (int waited = 0; waited < DOWN_TIMEOUT_MS && (pid_alive(pids[0]) || pid_alive(pids[1]));
             waited += 20)
                usleep(20000);
        bus_state_done(&st);
        for (size_t i = 0; i < ELEMENTSOF(pids); i++)
                if (pid_alive(pids[i]))
                        return cli_fail(-ETIMEDOUT, "down %s: pid %d still runs %d s after SIGTERM", name,
                                        (int)pids[i], DOWN_TIMEOUT_MS / 1000);
        /* A bus that was killed removed nothing. */
        if ((r = bus_dir_remove_stale(dir_fd, false)) < 0)
                return cli_fail(r, "down %s: cannot remove what its bus left in %s/%s: %s", name,
                                o->runtime_dir, name,
                                r == -EADDRINUSE ? "a bus still answers there" : strerror(-r));
        unlinkat(dir_fd, STATE_FILE, 0);
        unlinkat(dir_fd, STATE_LOCK, 0);
        unlinkat(dir_fd, SUPERVISE_CHECKPOINT, 0);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", o->runtime_dir, name);
        if (rmdir(path) < 0 && errno != ENOENT)
                return cli_fail(-errno, "down %s: cannot remove %s: %m", name, path);
        return 0;
}

/* A bus directory without a lock: a supervisor that is finishing (it removes its lock, then the directory),
 * a bus no up started (nsbusd run by hand with --runtime-dir), or what a bus that was killed left (its
 * sockets, nobody listening). Only the first and last are down's to finish. */
static int clean_unlocked(const struct cli_options *o, int dir_fd, const char *name)
{
        int r = bus_dir_remove_stale(dir_fd, false);
        if (r == -EADDRINUSE)
                return cli_fail(
                        -EBUSY,
                        "down %s: %s/%s holds a bus that nsbusctl up did not start; stop that nsbusd "
                        "yourself",
                        name, o->runtime_dir, name);
        if (r < 0)
                return cli_fail(r, "down %s: cannot remove what its bus left in %s/%s: %s", name,
                                o->runtime_dir, name, strerror(-r));
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", o->runtime_dir, name);
        if (rmdir(path) == 0 || errno == ENOENT || gone_within(o, name, 2000))
                return 0;
        return cli_fail(-ENOTEMPTY, "down %s: %s has no lock and files no bus leaves: remove it yourself",
                        name, path);
}

int verb_down(const struct cli_options *o, int argc, char **argv)
{
        const char *name = NULL;
        int r = name_arg("down", argc, argv, &name);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = open_bus_dir(o, name);
        if (dir_fd == -ENOENT) {
                if (!o->quiet)
                        fprintf(stderr, "%s: %s: no bus is up\n", cli_program, name);
                return 0; /* already down: what down is for holds */
        }
        if (dir_fd < 0)
                return cli_fail(dir_fd, "down %s: %s/%s: %s", name, o->runtime_dir, name, strerror(-dir_fd));
        _cleanup_close_ int lock_fd = openat(dir_fd, STATE_LOCK, O_RDWR | O_CLOEXEC);
        if (lock_fd < 0) {
                if (errno != ENOENT)
                        return cli_fail(-errno, "down %s: cannot open its lock: %m", name);
                return clean_unlocked(o, dir_fd, name);
        }
        if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0)
                return clean_unsupervised(o, dir_fd, name);
        if (errno != EWOULDBLOCK)
                return cli_fail(-errno, "down %s: cannot lock: %m", name);
        struct bus_state st;
        char err[256] = "";
        if ((r = bus_state_read(dir_fd, &st, err, sizeof(err))) < 0)
                return cli_fail(r, "down %s: %s", name, r == -ENOENT ? "it is still coming up" : err);
        pid_t sup = st.supervisor_pid;
        bus_state_done(&st);
        /* ESRCH: it ended since the lock was tried, and took the directory with it. */
        if (kill(sup, SIGTERM) < 0 && errno != ESRCH)
                return cli_fail(-errno, "down %s: cannot stop its supervisor (pid %d): %m", name, (int)sup);
        if (!lock_within(lock_fd, DOWN_TIMEOUT_MS))
                return cli_fail(-ETIMEDOUT, "down %s: still running after %d s (supervisor pid %d)", name,
                                DOWN_TIMEOUT_MS / 1000, (int)sup);
        return 0;
}

/* Ask the bus to read its configuration and bridge policy again (ReloadConfig on host.sock, as root). */
static int reload_bus(const struct cli_options *o, const char *name)
{
        struct cli_options lo = *o;
        lo.container = name;
        lo.address = NULL;
        lo.pid = 0;
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_connect(&lo, &c);
        if (r < 0)
                return r;
        struct msg_builder b;
        cli_call_init(c, &b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "ReloadConfig");
        struct message *reply = NULL;
        r = cli_call(&lo, c, &b, "reload", &reply);
        message_unref(reply);
        return r;
}

int verb_reload(const struct cli_options *o, int argc, char **argv)
{
        const char *name = NULL;
        int r = name_arg("reload", argc, argv, &name);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = open_bus_dir(o, name);
        if (dir_fd < 0)
                return cli_fail(dir_fd, "reload %s: no bus is up (%s)", name, strerror(-dir_fd));
        struct bus_state st;
        char err[512] = "";
        if (!bus_state_supervised(dir_fd) || (r = bus_state_read(dir_fd, &st, err, sizeof(err))) < 0)
                return cli_fail(-ESRCH, "reload %s: its bus was not brought up by nsbusctl up, or has ended",
                                name);
        /* A bad policy is reported here, with its file and line, and changes nothing. */
        struct bridge_policy *p = NULL;
        if (st.policy && bridge_policy_load(st.policy, &p, err, sizeof(err)) < 0) {
                bus_state_done(&st);
                return cli_fail(-EINVAL, "reload %s: %s; the policy in force stays", name, err);
        }
        bridge_policy_free(p);
        pid_t sup = st.supervisor_pid;
        bus_state_done(&st);
        if ((r = reload_bus(o, name)) < 0)
                return r;
        if (pid_alive(sup))
                kill(sup, SIGHUP); /* a bridge that waits (refused, backing off) is started again */
        return 0;
}

/* ---- ls ---- */

struct entry {
        struct bus_state st;
        /* "up", "checkpointed" (its container was dumped: the bus waits for the restore), "restoring" (a bus
         * started for a restore, before it), "stale" (its supervisor is gone), "unmanaged" */
        const char *state;
        long peers;       /* -1: unknown */
        char *checkpoint; /* checkpointed: the images directory */
};

/* RUNTIME_DIR/NAME/checkpoint (nsbusctl checkpoint): where the images are, or NULL. */
static char *read_checkpoint_dir(int dir_fd)
{
        char buf[PATH_MAX] = "";
        _cleanup_close_ int fd = openat(dir_fd, SUPERVISE_CHECKPOINT, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (n <= 0)
                return NULL;
        buf[strcspn(buf, "\n")] = 0;
        return strdup(buf);
}

/* How many connections the bus has, not counting ours: the unique names ListNames gives. */
static long count_peers(const struct cli_options *o, const char *name)
{
        struct cli_options lo = *o;
        lo.container = name;
        lo.address = NULL;
        lo.pid = 0;
        lo.timeout_ms = 2000;
        _cleanup_(client_freep) struct client *c = NULL;
        char err[256];
        _cleanup_free_ char *address = NULL;
        if (asprintf(&address, "unix:path=%s/%s/" CONTAINER_HOST_SOCKET, o->runtime_dir, name) < 0 ||
            client_connect(address, geteuid(), &c, err, sizeof(err)) < 0)
                return -1;
        struct msg_builder b;
        cli_call_init(c, &b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "ListNames");
        struct message *call = NULL, *reply = NULL;
        long n = -1;
        if (msg_builder_finish(&b, &call) >= 0 &&
            client_call_blocking(c, call, lo.timeout_ms, &reply) >= 0 &&
            reply->type == MESSAGE_METHOD_RETURN) {
                char **names = NULL;
                if (message_read(reply, "as", &names) >= 0) {
                        n = 0;
                        for (char **s = names; *s; s++)
                                n += (*s)[0] == ':' && !streq(*s, c->unique_name);
                }
                free(names);
        }
        message_unref(call);
        message_unref(reply);
        return n;
}

static void format_uptime(int64_t since, char *buf, size_t n)
{
        int64_t s = since > 0 ? (int64_t)time(NULL) - since : -1;
        if (s < 0)
                snprintf(buf, n, "-");
        else if (s < 120)
                snprintf(buf, n, "%llds", (long long)s);
        else if (s < 7200)
                snprintf(buf, n, "%lldmin", (long long)(s / 60));
        else if (s < 172800)
                snprintf(buf, n, "%lldh", (long long)(s / 3600));
        else
                snprintf(buf, n, "%lldd", (long long)(s / 86400));
}

static int read_entry(const struct cli_options *o, const char *name, struct entry *e)
{
        *e = (struct entry){.peers = -1};
        _cleanup_close_ int dir_fd = open_bus_dir(o, name);
        if (dir_fd < 0)
                return dir_fd;
        char err[256];
        bool supervised = bus_state_supervised(dir_fd);
        int r = bus_state_read(dir_fd, &e->st, err, sizeof(err));
        if (r < 0) {
                if (faccessat(dir_fd, CONTAINER_HOST_SOCKET, F_OK, 0) < 0)
                        return -ENOENT; /* nothing of a bus here */
                e->st = (struct bus_state){.name = strdup(name)};
                e->state = "unmanaged";
        } else if (!supervised)
                e->state = "stale";
        else if (e->st.init_pid == 0)
                e->state = "restoring";
        else if (kill(e->st.init_pid, 0) < 0 && errno == ESRCH) {
                /* The bus outlives its container only when that was checkpointed (by nsbusctl, which noted
                 * where the images are, or by a runtime's own tool). */
                e->checkpoint = read_checkpoint_dir(dir_fd);
                e->state = "checkpointed";
        } else
                e->state = "up";
        if (!streq(e->state, "stale"))
                e->peers = count_peers(o, name);
        return 0;
}

static void print_entry_json(const struct entry *e, struct json_object *a)
{
        struct json_object *j = bus_state_to_json(&e->st);
        json_object_object_add(j, "state", json_object_new_string(e->state));
        json_object_object_add(j, "peers", e->peers >= 0 ? json_object_new_int64(e->peers) : NULL);
        if (e->checkpoint)
                json_object_object_add(j, "checkpoint", json_object_new_string(e->checkpoint));
        json_object_array_add(a, j);
}

static void print_entry_details(const struct entry *e)
{
        const struct bus_state *s = &e->st;
        char up[32];
        format_uptime(s->started, up, sizeof(up));
        printf("Name=%s\nState=%s\nInitPID=%d\nSupervisorPID=%d\nBusPID=%d\nSocket=%s\nPeers=%ld\n"
               "Uptime=%s\n",
               s->name, e->state, (int)s->init_pid, (int)s->supervisor_pid, (int)s->bus_pid,
               s->socket ? s->socket : "-", e->peers, up);
        printf("Bridge=%s\nBridgePID=%d\nBridgeRestarts=%u\n", bridge_state_name(s->bridge),
               (int)s->bridge_pid, s->bridge_restarts);
        if (s->bridge_error)
                printf("BridgeError=%s\n", s->bridge_error);
        if (e->checkpoint)
                printf("Checkpoint=%s\n", e->checkpoint);
        printf("Policy=%s\nConfig=%s\nHostBus=%s\nLog=%s\n", s->policy ? s->policy : "-",
               s->config ? s->config : "-", s->host_bus ? s->host_bus : "-", s->log ? s->log : "-");
        char **cmds[] = {s->bus_argv, s->bridge_argv};
        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                if (!cmds[i])
                        continue;
                fputs(i == 0 ? "BusCommand=" : "BridgeCommand=", stdout);
                for (char **a = cmds[i]; *a; a++)
                        printf("%s%s", a == cmds[i] ? "" : " ", *a);
                putchar('\n');
        }
}

static int compare_entries(const void *a, const void *b)
{
        return strcmp(((const struct entry *)a)->st.name, ((const struct entry *)b)->st.name);
}

int verb_ls(const struct cli_options *o, int argc, char **argv)
{
        if (argc > 2)
                return cli_fail(-EINVAL, "ls: give at most one container NAME");
        struct entry *entries = NULL;
        size_t n = 0;
        if (argc == 2) {
                int r = check_name("ls", argv[1]);
                if (r < 0)
                        return r;
                entries = calloc(1, sizeof(*entries));
                if (!entries)
                        return -ENOMEM;
                if ((r = read_entry(o, argv[1], &entries[0])) < 0) {
                        free(entries);
                        return cli_fail(-ENOENT, "ls %s: no bus is up", argv[1]);
                }
                n = 1;
        } else {
                _cleanup_closedir_ DIR *d = opendir(o->runtime_dir);
                if (!d && errno != ENOENT)
                        return cli_fail(-errno, "ls: cannot read %s: %m", o->runtime_dir);
                size_t allocated = 0;
                for (struct dirent *de; d && (de = readdir(d));) {
                        if (de->d_name[0] == '.' || GREEDY_REALLOC(entries, allocated, n + 1) < 0)
                                continue;
                        if (read_entry(o, de->d_name, &entries[n]) >= 0)
                                n++;
                }
                if (n > 1)
                        qsort(entries, n, sizeof(*entries), compare_entries);
        }

        if (o->json != CLI_JSON_OFF) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        print_entry_json(&entries[i], a);
                if (argc == 2) {
                        struct json_object *one = json_object_get(json_object_array_get_idx(a, 0));
                        json_object_put(a);
                        a = one;
                }
                format_json_print(a, o->json == CLI_JSON_PRETTY);
        } else if (argc == 2)
                print_entry_details(&entries[0]);
        else {
                if (o->legend)
                        printf("%-16s %8s %8s %8s %-12s %5s %7s %s\n", "NAME", "INIT", "BUS", "BRIDGE",
                               "STATE", "PEERS", "UPTIME", "POLICY");
                for (size_t i = 0; i < n; i++) {
                        const struct entry *e = &entries[i];
                        const struct bus_state *s = &e->st;
                        char state[64], up[32], peers[24];
                        if (streq(e->state, "up") && s->bridge != BRIDGE_NONE)
                                snprintf(state, sizeof(state), "up/%s%s", bridge_state_name(s->bridge),
                                         s->bridge_restarts ? "*" : "");
                        else
                                snprintf(state, sizeof(state), "%s", e->state);
                        format_uptime(s->started, up, sizeof(up));
                        snprintf(peers, sizeof(peers), e->peers >= 0 ? "%ld" : "-", e->peers);
                        printf("%-16s %8d %8d %8d %-12s %5s %7s %s\n", s->name, (int)s->init_pid,
                               (int)s->bus_pid, (int)s->bridge_pid, state, peers, up,
                               s->policy ? s->policy : "-");
                }
                if (o->legend)
                        printf("\n%zu bus%s listed.\n", n, n == 1 ? "" : "es");
        }
        for (size_t i = 0; i < n; i++) {
                bus_state_done(&entries[i].st);
                free(entries[i].checkpoint);
        }
        free(entries);
        return 0;
}
