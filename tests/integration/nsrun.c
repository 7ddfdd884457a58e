/* nsrun: a container without a runtime, for the integration tests.
 *
 *   nsrun [--uid-map IN:OUT:COUNT]... [--gid-map IN:OUT:COUNT]... [--pidfile FILE]
 *         [--private-run] [--rootfs DIR [--bind SRC:DST[:ro]]...] [--more-ns] [--no-userns]
 *         [-- CMD...]
 *
 * The parent clones a child into new user, pid and mount namespaces and writes the child's
 * uid_map and gid_map itself (/etc/subuid is empty here, so newuidmap and `unshare
 * --map-users` cannot).  That needs CAP_SETUID/CAP_SETGID over the parent's user namespace:
 * host root, or root of an enclosing container, which is how a nested container is made.
 * The child becomes uid 0 of its user namespace and pid 1 of its pid namespace, makes its
 * mounts private, mounts its own /proc (and with --private-run a tmpfs on /run with an
 * empty /run/dbus), then acts as a minimal init: it reaps every child, exits on
 * SIGTERM/SIGINT/SIGHUP (which takes the whole pid namespace with it), and with CMD runs
 * CMD and exits with its status.
 *
 * By default the container's root is the host's.  With --rootfs DIR it is DIR, entered with
 * pivot_root() as runtimes do, once /proc and the /run tmpfs are mounted inside it and the
 * parent has made the --bind mounts (host SRC at DIR/DST, which must exist; read-only with
 * :ro): as host root, in
 * the container's mount namespace, like an LXC mount hook, so a source in a directory only
 * root may enter (the bus directory) can be bound.  --more-ns adds network,
 * IPC, UTS (hostname "nsrun") and cgroup namespaces; --no-userns makes a privileged
 * container, with the host's user namespace and no maps.
 *
 * The one design decision: the parent stays in the foreground as the container's keeper.
 * Once the container is set up it prints the child's pid as the parent's pid namespace sees
 * it (and writes --pidfile), forwards SIGTERM/SIGINT/SIGHUP, and exits with the init's
 * status.  Both processes die with their own parent (PR_SET_PDEATHSIG), so a test script
 * that is killed cannot leak a container.  Defaults: --uid-map 0:100000:65536, and the
 * gid map is the uid map.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_MAX 512

struct nsrun_options {
        char uid_map[MAP_MAX];
        char gid_map[MAP_MAX];
        const char *pidfile;
        bool private_run;
        const char *rootfs;
        const char *binds[32]; /* SRC:DST[:ro] */
        int n_binds;
        bool more_ns;
        bool no_userns;
        char **cmd;
};

static void nsrun_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void nsrun_die(const char *fmt, ...)
{
        va_list ap;
        int saved = errno;

        fprintf(stderr, "nsrun[%d]: ", (int)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        if (saved)
                fprintf(stderr, ": %s", strerror(saved));
        fputc('\n', stderr);
        _exit(1);
}

static void nsrun_usage(void)
{
        fprintf(stderr,
                "usage: nsrun [--uid-map IN:OUT:COUNT]... [--gid-map IN:OUT:COUNT]... "
                "[--pidfile FILE] [--private-run] [--rootfs DIR [--bind SRC:DST[:ro]]...] [--more-ns] "
                "[--no-userns] [-- CMD...]\n");
        exit(2);
}

/* Append "IN OUT COUNT\n" for an IN:OUT:COUNT argument; the kernel takes up to 340 lines. */
static void nsrun_append_map(char *map, const char *arg)
{
        unsigned long in, out, count;
        char tail;
        size_t len = strlen(map);

        if (sscanf(arg, "%lu:%lu:%lu%c", &in, &out, &count, &tail) != 3 || count == 0 || in > UINT_MAX ||
            out > UINT_MAX || count > UINT_MAX) {
                errno = 0;
                nsrun_die("bad map '%s', want INNER:OUTER:COUNT", arg);
        }
        if (snprintf(map + len, MAP_MAX - len, "%lu %lu %lu\n", in, out, count) >= (int)(MAP_MAX - len)) {
                errno = 0;
                nsrun_die("too many map entries");
        }
}

static void nsrun_parse_args(struct nsrun_options *o, int argc, char **argv)
{
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                } else if (strcmp(a, "--uid-map") == 0 && i + 1 < argc) {
                        nsrun_append_map(o->uid_map, argv[++i]);
                } else if (strncmp(a, "--uid-map=", 10) == 0) {
                        nsrun_append_map(o->uid_map, a + 10);
                } else if (strcmp(a, "--gid-map") == 0 && i + 1 < argc) {
                        nsrun_append_map(o->gid_map, argv[++i]);
                } else if (strncmp(a, "--gid-map=", 10) == 0) {
                        nsrun_append_map(o->gid_map, a + 10);
                } else if (strcmp(a, "--pidfile") == 0 && i + 1 < argc) {
                        o->pidfile = argv[++i];
                } else if (strncmp(a, "--pidfile=", 10) == 0) {
                        o->pidfile = a + 10;
                } else if (strcmp(a, "--private-run") == 0) {
                        o->private_run = true;
                } else if (strcmp(a, "--rootfs") == 0 && i + 1 < argc) {
                        o->rootfs = argv[++i];
                } else if (strcmp(a, "--bind") == 0 && i + 1 < argc && o->n_binds < 32) {
                        if (!strchr(argv[i + 1], ':'))
                                nsrun_usage();
                        o->binds[o->n_binds++] = argv[++i];
                } else if (strcmp(a, "--more-ns") == 0) {
                        o->more_ns = true;
                } else if (strcmp(a, "--no-userns") == 0) {
                        o->no_userns = true;
                } else if (a[0] == '-') {
                        nsrun_usage();
                } else {
                        break;
                }
        }
        o->cmd = i < argc ? argv + i : NULL;
        if (o->n_binds > 0 && !o->rootfs)
                nsrun_usage();
        if (!o->uid_map[0])
                nsrun_append_map(o->uid_map, "0:100000:65536");
        if (!o->gid_map[0])
                memcpy(o->gid_map, o->uid_map, sizeof(o->gid_map));
}

/* Write data to path in one write(); a negative errno on failure. */
static int nsrun_write_file(const char *path, const char *data)
{
        size_t len = strlen(data);
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, data, len) != (ssize_t)len)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

/* The parent failed after the clone: the child sees its go pipe close and exits; reap it
 * here, since our own parent may be an init that never reaps orphans. */
static void nsrun_abort_child(pid_t pid, int go_fd, const char *what, int err)
{
        close(go_fd);
        if (err)
                fprintf(stderr, "nsrun[%d]: %s: %s\n", (int)getpid(), what, strerror(-err));
        else
                fprintf(stderr, "nsrun[%d]: %s\n", (int)getpid(), what);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        exit(1);
}

/* Die with our parent: signal sig when it goes.  The check after prctl() closes the race
 * where the parent died before the death signal was armed. */
static void nsrun_die_with_parent(int sig, pid_t parent)
{
        if (prctl(PR_SET_PDEATHSIG, sig) < 0)
                nsrun_die("prctl(PR_SET_PDEATHSIG)");
        if (getppid() != parent) {
                errno = 0;
                nsrun_die("parent exited during setup");
        }
}

static void nsrun_on_signal(int sig)
{
        /* Only sigwaitinfo() consumes these; the handler exists because pid 1 of a pid
         * namespace never receives a signal it leaves at SIG_DFL (kernel: SIGNAL_UNKILLABLE). */
}

static void nsrun_catch_signals(const sigset_t *set)
{
        struct sigaction sa = {.sa_handler = nsrun_on_signal};
        int sig;

        sigemptyset(&sa.sa_mask);
        for (sig = 1; sig < NSIG; sig++)
                if (sigismember(set, sig) == 1 && sigaction(sig, &sa, NULL) < 0)
                        nsrun_die("sigaction %d", sig);
}

static int nsrun_exit_code(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}

/* Under DIR (a rootfs) or at the host's path: "DIR/path". */
static void nsrun_path(char *out, size_t n, const char *rootfs, const char *path)
{
        if (snprintf(out, n, "%s%s", rootfs ? rootfs : "", path) >= (int)n) {
                errno = ENAMETOOLONG;
                nsrun_die("path %s%s", rootfs ? rootfs : "", path);
        }
}

/* Make DIR the root: bind it on itself (pivot_root needs a mount point), put the old root
 * under it and let it go. */
static void nsrun_pivot(const char *rootfs)
{
        if (chdir(rootfs) < 0)
                nsrun_die("chdir %s", rootfs);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                nsrun_die("pivot_root %s", rootfs);
        if (umount2(".", MNT_DETACH) < 0)
                nsrun_die("detach the old root");
        if (chdir("/") < 0)
                nsrun_die("chdir /");
}

/* Inside the namespaces, once the maps are written: become root, own /proc (and /run), and
 * with --rootfs change root. */
static void nsrun_setup_container(const struct nsrun_options *o, int go_fd, int ready_fd)
{
        char path[PATH_MAX];

        /* The clone kept the host credentials (kuid 0), which the new map does not name:
         * switch to the namespace's own root, so the init is "root" in there and its
         * files and sockets carry the mapped owner.  Drop the parent's groups too. */
        if (setgroups(0, NULL) < 0)
                nsrun_die("setgroups (is gid 0 mapped?)");
        if (setresgid(0, 0, 0) < 0)
                nsrun_die("setresgid 0 (is gid 0 mapped?)");
        if (setresuid(0, 0, 0) < 0)
                nsrun_die("setresuid 0 (is uid 0 mapped?)");

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                nsrun_die("make / private");
        if (o->more_ns && sethostname("nsrun", 5) < 0)
                nsrun_die("sethostname");
        if (o->rootfs && mount(o->rootfs, o->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                nsrun_die("bind %s on itself", o->rootfs);
        /* nosuid,nodev,noexec: a proc mount in a user namespace may not be more permissive
         * than the proc it would reveal, and this keeps nesting possible.  Mounted before
         * the old root goes: the kernel wants a fully visible proc in the namespace then. */
        nsrun_path(path, sizeof(path), o->rootfs, "/proc");
        if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                nsrun_die("mount proc on %s", path);
        if (o->private_run) {
                nsrun_path(path, sizeof(path), o->rootfs, "/run");
                if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                        nsrun_die("mount tmpfs on %s", path);
                nsrun_path(path, sizeof(path), o->rootfs, "/run/dbus");
                if (mkdir(path, 0755) < 0)
                        nsrun_die("mkdir %s", path);
        }
        /* The parent binds what it was asked to, then says 'm'. */
        if (o->n_binds > 0) {
                char c;

                if (write(ready_fd, "b", 1) != 1 || read(go_fd, &c, 1) != 1 || c != 'm') {
                        errno = 0;
                        nsrun_die("the parent did not make the --bind mounts");
                }
        }
        if (o->rootfs)
                nsrun_pivot(o->rootfs);
}

/* As host root in the child's mount namespace (a helper process: the keeper stays in the
 * host's), bind each SRC at ROOTFS/DST, before the child changes its root.  0 or -errno. */
static int nsrun_bind_into(pid_t child, const struct nsrun_options *o)
{
        char path[64];
        int status, i;
        pid_t pid;

        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)child);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);

                if (fd < 0 || setns(fd, CLONE_NEWNS) < 0)
                        nsrun_die("enter %s", path);
                for (i = 0; i < o->n_binds; i++) {
                        char src[PATH_MAX], dst[PATH_MAX], rel[PATH_MAX];
                        const char *colon = strchr(o->binds[i], ':');
                        size_t len;
                        bool ro;

                        snprintf(src, sizeof(src), "%.*s", (int)(colon - o->binds[i]), o->binds[i]);
                        snprintf(rel, sizeof(rel), "%s", colon + 1);
                        len = strlen(rel);
                        ro = len > 3 && strcmp(rel + len - 3, ":ro") == 0;
                        if (ro)
                                rel[len - 3] = 0;
                        nsrun_path(dst, sizeof(dst), o->rootfs, rel);
                        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                                nsrun_die("bind %s at %s", src, dst);
                        if (ro && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                                nsrun_die("make %s read-only", dst);
                }
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static pid_t nsrun_spawn_cmd(char **cmd, const sigset_t *old_mask)
{
        pid_t pid = fork();
        int sig;

        if (pid < 0)
                nsrun_die("fork");
        if (pid > 0)
                return pid;
        for (sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, old_mask, NULL);
        execvp(cmd[0], cmd);
        nsrun_die("exec %s", cmd[0]);
}

/* pid 1: reap everything; leave on a termination signal or when CMD exits. */
static void nsrun_run_init(char **cmd, const sigset_t *set, const sigset_t *old_mask)
{
        pid_t cmd_pid = cmd ? nsrun_spawn_cmd(cmd, old_mask) : 0;

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(set, &si);

                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        nsrun_die("sigwaitinfo");
                }
                if (sig != SIGCHLD) {
                        if (cmd_pid <= 0)
                                _exit(0);
                        kill(cmd_pid, sig);
                        continue;
                }
                for (;;) {
                        int status;
                        pid_t p = waitpid(-1, &status, WNOHANG);

                        if (p <= 0)
                                break;
                        if (p == cmd_pid)
                                _exit(nsrun_exit_code(status));
                }
        }
}

static void nsrun_write_pidfile(const char *path, pid_t pid)
{
        char tmp[PATH_MAX];
        FILE *f;

        /* Written whole and renamed into place, so a test polling for it never reads half. */
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
                errno = ENAMETOOLONG;
                nsrun_die("pidfile %s", path);
        }
        f = fopen(tmp, "we");
        if (!f)
                nsrun_die("open %s", tmp);
        fprintf(f, "%d\n", (int)pid);
        if (fclose(f) != 0)
                nsrun_die("write %s", tmp);
        if (rename(tmp, path) < 0)
                nsrun_die("rename %s", tmp);
}

int main(int argc, char **argv)
{
        struct nsrun_options o = {.private_run = false};
        sigset_t set, old_mask;
        int go[2], ready[2];
        pid_t pid;
        char path[64], c;
        ssize_t n;
        int r;

        nsrun_parse_args(&o, argc, argv);
        nsrun_die_with_parent(SIGTERM, getppid());
        /* A child that died early must show as an error on the go pipe, not kill us. */
        signal(SIGPIPE, SIG_IGN);

        /* Blocked before the clone, so neither process can miss one between now and
         * sigwaitinfo(); the child inherits the mask. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, &old_mask) < 0)
                nsrun_die("sigprocmask");

        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
                nsrun_die("pipe2");

        /* A raw clone without CLONE_VM is a fork into new namespaces: the child runs on a
         * copy of this stack, and pid 1 of the new pid namespace is that child. */
        fflush(NULL);
        pid = (pid_t)syscall(
                SYS_clone,
                (o.no_userns ? 0 : CLONE_NEWUSER) | CLONE_NEWPID | CLONE_NEWNS |
                        (o.more_ns ? CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP : 0) |
                        SIGCHLD,
                NULL, NULL, NULL, NULL);
        if (pid < 0)
                nsrun_die("clone(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNS...)");

        if (pid == 0) {
                close(go[1]);
                close(ready[0]);
                /* getppid() is 0 here: the parent is outside our pid namespace. */
                nsrun_die_with_parent(SIGKILL, 0);
                n = read(go[0], &c, 1);
                if (n != 1)
                        _exit(1); /* the parent failed to write the maps and said so */
                nsrun_setup_container(&o, go[0], ready[1]);
                close(go[0]);
                nsrun_catch_signals(&set);
                if (write(ready[1], "r", 1) != 1)
                        nsrun_die("write ready");
                close(ready[1]);
                nsrun_run_init(o.cmd, &set, &old_mask);
        }

        close(go[0]);
        close(ready[1]);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        r = o.no_userns ? 0 : nsrun_write_file(path, o.uid_map);
        if (r < 0)
                nsrun_abort_child(pid, go[1], "writing uid_map", r);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
        r = o.no_userns ? 0 : nsrun_write_file(path, o.gid_map);
        if (r < 0)
                nsrun_abort_child(pid, go[1], "writing gid_map", r);
        if (write(go[1], "g", 1) != 1)
                nsrun_abort_child(pid, go[1], "telling the child to go on", -errno);
        n = read(ready[0], &c, 1);
        if (n == 1 && c == 'b') {
                r = nsrun_bind_into(pid, &o);
                if (r < 0)
                        nsrun_abort_child(pid, go[1], "the --bind mounts", r);
                if (write(go[1], "m", 1) != 1)
                        nsrun_abort_child(pid, go[1], "telling the child the mounts are made", -errno);
                n = read(ready[0], &c, 1);
        }
        if (n != 1)
                nsrun_abort_child(pid, go[1], "the container's init failed during setup", 0);
        close(go[1]);
        close(ready[0]);

        if (o.pidfile)
                nsrun_write_pidfile(o.pidfile, pid);
        printf("%d\n", (int)pid);
        fflush(stdout);

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si), status;

                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        nsrun_die("sigwaitinfo");
                }
                if (sig != SIGCHLD) {
                        kill(pid, SIGTERM);
                        continue;
                }
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        if (o.pidfile)
                                unlink(o.pidfile);
                        return nsrun_exit_code(status);
                }
        }
}
