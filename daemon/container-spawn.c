/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The spawner of a container bus (see container-spawn.h): both ends of its
 * socket are here, the bus's (spawner_*) and the spawner process's.
 *
 * The one design decision: a program is started in two steps, and only the
 * first one runs with the host's eyes. The spawner, already in the
 * container's pid namespace for its children, looks the user up in the
 * container's /etc/passwd and resolves the program inside the container's
 * root (openat2 RESOLVE_IN_ROOT: a symbolic link or ".." stops at that root,
 * and /proc magic links are refused), so a program or user that exists only
 * on the host fails there, before any process exists. Then it forks: the
 * child joins the container init's cgroups, takes its resource limits,
 * enters its namespaces (one setns() on the init's pidfd), changes root to
 * the container's, becomes the user, closes every descriptor it was not
 * given, and execs the file it resolves again, now from inside. Each step
 * that fails writes (step, errno) to a close-on-exec pipe, so the spawner
 * tells a program that ran from one that never did without guessing from
 * exit codes.
 *
 * A service gets an empty pipe as stdin and a pipe to the spawner as stdout
 * and stderr, whose lines the spawner logs: no descriptor of the host's ever
 * reaches the container.
 */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "container-spawn.h"
#include "log.h"
#include "rootfs.h"
#include "userdb.h"
#include "util.h"

/* Where a program with no '/' in its name is looked for inside the container; also its PATH. */
#define SPAWN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_MSG_MAX (64 * 1024)
#define SPAWN_MAX_CGROUPS 16

/* --- the protocol: one SOCK_SEQPACKET message each ---------------------------------------------- */

enum { REQUEST_SPAWN = 1, REQUEST_KILL = 2 };

struct request_header {
        uint32_t type;
        uint32_t n_argv; /* SPAWN: then label\0 user\0 argv[0]\0 ... env[0]\0 ... */
        uint32_t n_env;
        int32_t sig; /* KILL */
        uint64_t id;
};

struct event_message {
        uint32_t type; /* enum spawn_event_type */
        uint32_t failure;
        uint64_t id;
        int32_t pid, inner_pid, status;
        char text[512];
};

struct spawner {
        int fd;
        pid_t pid;
        int pidfd; /* the spawner's */
};

/* --- the bus's end ------------------------------------------------------------------------------- */

static _noreturn_ void spawner_main(int ctl, int pidfd, pid_t init_pid, int root_fd, const char *container);

int spawner_start(struct spawner **ret, int init_pidfd, pid_t init_pid, int root_fd, const char *container)
{
        _cleanup_free_ struct spawner *s = zalloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close_fds(sv, 2);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                spawner_main(sv[1], init_pidfd, init_pid, root_fd, container);
        }
        close(sv[1]);
        if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                close(sv[0]);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return r;
        }
        s->fd = sv[0];
        s->pid = pid;
        s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        *ret = TAKE_PTR(s);
        return 0;
}

int spawner_fd(const struct spawner *s)
{
        return s ? s->fd : -1;
}

static int send_request(struct spawner *s, const void *buf, size_t len)
{
        if (!s || s->fd < 0)
                return -EPIPE;
        if (send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : errno == EMSGSIZE ? -E2BIG : -errno;
        return 0;
}

static size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

int spawner_spawn(struct spawner *s, const struct spawn_request *req)
{
        size_t n_argv = strv_length(req->argv), n_env = strv_length(req->env);
        if (n_argv == 0 || !req->label || !req->user || req->id == 0)
                return -EINVAL;
        size_t len = sizeof(struct request_header) + strlen(req->label) + 1 + strlen(req->user) + 1;
        for (size_t i = 0; i < n_argv; i++)
                len += strlen(req->argv[i]) + 1;
        for (size_t i = 0; i < n_env; i++)
                len += strlen(req->env[i]) + 1;
        if (len > SPAWN_MSG_MAX)
                return -E2BIG;
        _cleanup_free_ char *buf = malloc(len);
        if (!buf)
                return -ENOMEM;
        struct request_header h = {
                .type = REQUEST_SPAWN, .n_argv = (uint32_t)n_argv, .n_env = (uint32_t)n_env, .id = req->id};
        memcpy(buf, &h, sizeof(h));
        char *p = buf + sizeof(h);
        p = stpcpy(p, req->label) + 1;
        p = stpcpy(p, req->user) + 1;
        for (size_t i = 0; i < n_argv; i++)
                p = stpcpy(p, req->argv[i]) + 1;
        for (size_t i = 0; i < n_env; i++)
                p = stpcpy(p, req->env[i]) + 1;
        return send_request(s, buf, len);
}

int spawner_kill(struct spawner *s, uint64_t id, int sig)
{
        struct request_header h = {.type = REQUEST_KILL, .sig = sig, .id = id};
        return send_request(s, &h, sizeof(h));
}

int spawner_receive(struct spawner *s, struct spawn_event *ev)
{
        if (!s || s->fd < 0)
                return -EPIPE;
        struct event_message m;
        ssize_t n = recv(s->fd, &m, sizeof(m), MSG_DONTWAIT);
        if (n < 0)
                return errno == EWOULDBLOCK ? 0 : errno == ECONNRESET ? -EPIPE : -errno;
        if (n == 0)
                return -EPIPE;
        if ((size_t)n != sizeof(m) || m.type > SPAWN_EVENT_EXITED || m.failure > SPAWN_FAILURE_SETUP)
                return -EBADMSG;
        *ev = (struct spawn_event){.type = (enum spawn_event_type)m.type,
                                   .id = m.id,
                                   .pid = m.pid,
                                   .inner_pid = m.inner_pid,
                                   .status = m.status,
                                   .failure = (enum spawn_failure)m.failure};
        snprintf(ev->text, sizeof(ev->text), "%.*s", (int)sizeof(m.text), m.text);
        return 1;
}

void spawner_free(struct spawner *s)
{
        if (!s)
                return;
        safe_close(s->fd);
        /* It exits at the end of its socket once the programs it started have exited (as they do when
         * the container ends, which is when the bus normally does): wait for that a moment, not for
         * programs that outlive the bus. The bus's own reaper may have had it already. */
        struct pollfd p = {.fd = s->pidfd, .events = POLLIN};
        if (s->pidfd >= 0 && poll(&p, 1, 500) == 1)
                waitpid(s->pid, NULL, WNOHANG);
        safe_close(s->pidfd);
        free(s);
}

/* --- the spawner: what it learns of the container's init once ----------------------------------- */

struct init_facts {
        pid_t pid;
        const char *container;
        int pidfd, root_fd;
        int ns_flags; /* the init's namespaces the spawner is not in, but pid (entered at start) */
        bool have_caps;
        uint64_t cap_bnd;
        bool no_new_privs;
        bool have_limit[RLIM_NLIMITS];
        struct rlimit limit[RLIM_NLIMITS];
        int cgroup_fds[SPAWN_MAX_CGROUPS]; /* cgroup.procs of each of the init's cgroups that is not ours */
        size_t n_cgroup_fds;
};

static bool same_ns(pid_t pid, const char *ns)
{
        char path[64];
        struct stat a, b;
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
        if (stat(path, &a) < 0)
                return true; /* a kernel without this namespace type */
        snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
        return stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* CapBnd: and NoNewPrivs: of /proc/PID/status. */
static void read_status_facts(struct init_facts *f)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)f->pid);
        _cleanup_fclose_ FILE *file = fopen(path, "re");
        while (file && fgets(line, sizeof(line), file)) {
                const char *v;
                if ((v = startswith(line, "CapBnd:")))
                        f->have_caps = sscanf(v, "%" SCNx64, &f->cap_bnd) == 1;
                else if ((v = startswith(line, "NoNewPrivs:")))
                        f->no_new_privs = strtol(v, NULL, 10) == 1;
        }
}

static bool parse_limit_value(const char *s, rlim_t *ret)
{
        if (streq(s, "unlimited")) {
                *ret = RLIM_INFINITY;
                return true;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || end == s)
                return false;
        *ret = (rlim_t)v;
        return true;
}

/* /proc/PID/limits: a header, then one row per resource in RLIMIT_* order, the name in 26 columns. */
static void read_limits(struct init_facts *f)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/limits", (int)f->pid);
        _cleanup_fclose_ FILE *file = fopen(path, "re");
        if (!file || !fgets(line, sizeof(line), file))
                return;
        for (int i = 0; i < RLIM_NLIMITS && fgets(line, sizeof(line), file); i++) {
                char soft[32], hard[32];
                if (strlen(line) <= 26 || sscanf(line + 26, "%31s %31s", soft, hard) != 2)
                        continue;
                f->have_limit[i] = parse_limit_value(soft, &f->limit[i].rlim_cur) &&
                                   parse_limit_value(hard, &f->limit[i].rlim_max);
        }
}

/* "ID:CONTROLLERS:PATH" of /proc/PID/cgroup for hierarchy id, in out; false if there is none. */
static bool cgroup_of(const char *file, const char *id, char *out, size_t n)
{
        char line[4096];
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        size_t l = strlen(id);
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, id, l) == 0 && line[l] == ':') {
                        snprintf(out, n, "%s", line);
                        return true;
                }
        }
        return false;
}

/* Is item one of the comma-separated list? */
static bool list_has(const char *list, const char *item, size_t len)
{
        for (const char *p = list; *p;) {
                size_t l = strcspn(p, ",");
                if (l == len && strncmp(p, item, len) == 0)
                        return true;
                p += l + (p[l] == ',');
        }
        return false;
}

/* Does a mount's super options ("rw,memory,...") name every controller of a comma list? */
static bool has_controllers(const char *super, const char *controllers)
{
        for (const char *c = controllers; *c;) {
                size_t l = strcspn(c, ",");
                if (l > 0 && !list_has(super, c, l))
                        return false;
                c += l + (c[l] == ',');
        }
        return true;
}

/* Where hierarchy (controllers, or "" for cgroup2) is mounted in the spawner's mount namespace: the
 * mount point and the mount's root in the hierarchy. */
static bool find_cgroup_mount(const char *controllers, char *mnt, size_t mn, char *root, size_t rn)
{
        char line[4096];
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        while (f && fgets(line, sizeof(line), f)) {
                char r[1024], point[1024], type[64], super[1024];
                const char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, point) != 2 ||
                    sscanf(dash + 3, "%63s %*s %1023s", type, super) != 2 || strchr(point, '\\'))
                        continue;
                bool v2 = !*controllers;
                if (v2 ? !streq(type, "cgroup2")
                       : !streq(type, "cgroup") || !has_controllers(super, controllers))
                        continue;
                snprintf(mnt, mn, "%s", point);
                snprintf(root, rn, "%s", r);
                return true;
        }
        return false;
}

/*
 * The init's cgroup in each hierarchy where the spawner is elsewhere: its cgroup.procs, opened now while
 * the spawner may, for the children to write "0" (themselves) into. A hierarchy that is not mounted here
 * cannot be joined and is only reported.
 */
static void open_init_cgroups(struct init_facts *f)
{
        char path[64], line[4096];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)f->pid);
        _cleanup_fclose_ FILE *file = fopen(path, "re");
        while (file && fgets(line, sizeof(line), file) && f->n_cgroup_fds < SPAWN_MAX_CGROUPS) {
                line[strcspn(line, "\n")] = 0;
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                char mine[4096];
                *c1 = 0;
                if (cgroup_of("/proc/self/cgroup", line, mine, sizeof(mine)) &&
                    streq(strrchr(mine, ':') + 1, c2 + 1))
                        continue; /* the same cgroup: nothing to join */
                *c2 = 0;
                const char *controllers = c1 + 1, *cg = c2 + 1;
                char mnt[1024], root[1024], procs[4096];
                if (!find_cgroup_mount(controllers, mnt, sizeof(mnt), root, sizeof(root))) {
                        log_warning("container %s: services will not join the init's cgroup %s (hierarchy "
                                    "%s:%s): it is not mounted in nsbusd's mount namespace",
                                    f->container, cg, line, controllers);
                        continue;
                }
                const char *rel = streq(root, "/") ? cg : startswith(cg, root);
                if (!rel || (*rel && *rel != '/')) {
                        log_warning("container %s: services will not join the init's cgroup %s: outside "
                                    "the part of the hierarchy mounted at %s",
                                    f->container, cg, mnt);
                        continue;
                }
                snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", mnt, rel);
                int fd = open(procs, O_WRONLY | O_CLOEXEC);
                if (fd < 0) {
                        log_warning(
                                "container %s: services will not join the init's cgroup: cannot open %s: %m",
                                f->container, procs);
                        continue;
                }
                f->cgroup_fds[f->n_cgroup_fds++] = fd;
        }
}

static void read_init_facts(struct init_facts *f)
{
        static const struct {
                const char *name;
                int flag;
        } nss[] = {
                {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},  {"net", CLONE_NEWNET},
                {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
                {"time", CLONE_NEWTIME},
        };
        for (size_t i = 0; i < ELEMENTSOF(nss); i++)
                if (!same_ns(f->pid, nss[i].name))
                        f->ns_flags |= nss[i].flag;
        read_status_facts(f);
        read_limits(f);
        open_init_cgroups(f);
}

/* --- the spawner: one program ------------------------------------------------------------------- */

/* What the child reports on its status pipe: first its pid as the container sees it, then, if a step
 * fails, that step and errno (and it exits). */
enum child_step {
        STEP_PID, /* not a failure: err is the inner pid */
        STEP_CGROUP,
        STEP_HOST_GROUPS,
        STEP_RLIMIT,
        STEP_SETNS,
        STEP_ROOT,
        STEP_GROUPS,
        STEP_GID,
        STEP_CAPS,
        STEP_UID,
        STEP_FDS,
        STEP_EXEC,
};

struct child_report {
        int32_t step;
        int32_t err;
};

struct program {
        uint64_t id;
        pid_t pid, inner_pid;
        int status_fd; /* -1 once the program runs or failed */
        int out_fd;    /* its stdout and stderr; -1 at their end */
        bool reported; /* STARTED or FAILED was sent */
        bool failed;
        bool exited;
        uid_t uid;
        gid_t gid;
        char label[256];
        char user[256];
        char exec[1024];
        char line[1024];
        size_t line_len;
};

struct spawner_state {
        struct init_facts init;
        bool prepared; /* init facts read and the pid namespace entered: at the first request */
        int ctl;       /* -1 once the bus has hung up */
        struct program **programs;
        size_t n_programs, allocated;
};

static void send_event(struct spawner_state *st, const struct event_message *m)
{
        while (st->ctl >= 0 && send(st->ctl, m, sizeof(*m), MSG_NOSIGNAL) < 0) {
                if (errno != EINTR)
                        st->ctl = safe_close(st->ctl); /* the bus is gone */
        }
}

static void send_failed(struct spawner_state *st, uint64_t id, enum spawn_failure failure, const char *fmt,
                        ...) _printf_(4, 5);

static void send_failed(struct spawner_state *st, uint64_t id, enum spawn_failure failure, const char *fmt,
                        ...)
{
        struct event_message m = {.type = SPAWN_EVENT_FAILED, .failure = failure, .id = id};
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m.text, sizeof(m.text), fmt, ap);
        va_end(ap);
        send_event(st, &m);
}

static _noreturn_ void child_fail(int status_fd, enum child_step step, int err)
{
        struct child_report r = {.step = step, .err = err};
        if (write(status_fd, &r, sizeof(r)) < 0) {
                /* the spawner learns it from the exit status alone */
        }
        _exit(127);
}

/* Close every descriptor but those of keep (sorted, ascending). */
static int close_all_but(const int *keep, size_t n)
{
        unsigned from = 0;
        for (size_t i = 0; i <= n; i++) {
                unsigned to = i < n ? (unsigned)keep[i] : ~0U;
                if (to > from && close_range(from, to - 1, 0) < 0)
                        return -errno;
                from = to + 1;
        }
        return 0;
}

/* The program, resolved again from inside (the process is chrooted there now). A #! script is executed
 * by its path, since its interpreter opens it by that path anyway; anything else is the very file that
 * was opened, so nothing can be swapped in between. Returns errno. */
static int child_exec(const char *path, char *const argv[], char *const envp[])
{
        struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        bool readable = fd >= 0;
        if (fd < 0 && errno == EACCES) { /* executable but not readable: no #! line to look at */
                how.flags = O_PATH | O_CLOEXEC;
                fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        }
        if (fd < 0)
                return errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return EACCES;
        char magic[2];
        if (readable && pread(fd, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!')
                execve(path, argv, envp);
        else
                syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
        return errno;
}

/* In the child, from fork() to exec(): see the top of this file. Never returns. */
static _noreturn_ void child_main(const struct init_facts *init, const struct program *p,
                                  const gid_t *groups, size_t n_groups, int status_fd, int in_fd, int out_fd,
                                  char *const argv[], char *const envp[])
{
        /* Above 2 first, so that the dup2()s below cannot clobber one of them. */
        status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, 3);
        in_fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
        out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
        if (status_fd < 0)
                _exit(127);
        if (in_fd < 0 || out_fd < 0)
                child_fail(status_fd, STEP_FDS, errno);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        setsid();
        struct child_report me = {.step = STEP_PID, .err = getpid()};
        if (write(status_fd, &me, sizeof(me)) != sizeof(me))
                _exit(127);

        /* With the host's credentials still: the cgroups are the host's files, and the groups the spawner
         * has are the host's, which must not come along into the container. */
        for (size_t i = 0; i < init->n_cgroup_fds; i++)
                if (write(init->cgroup_fds[i], "0", 1) != 1)
                        child_fail(status_fd, STEP_CGROUP, errno);
        if (setgroups(0, NULL) < 0)
                child_fail(status_fd, STEP_HOST_GROUPS, errno);
        for (int i = 0; i < RLIM_NLIMITS; i++) {
                struct rlimit now;
                if (!init->have_limit[i] || getrlimit(i, &now) < 0)
                        continue;
                /* The init's limits, but never above ours: raising a hard limit needs CAP_SYS_RESOURCE over
                 * the host's user namespace, which a container's process does not have either. */
                struct rlimit l = {.rlim_max = MIN(now.rlim_max, init->limit[i].rlim_max)};
                l.rlim_cur = MIN(init->limit[i].rlim_cur, l.rlim_max);
                if (setrlimit(i, &l) < 0)
                        child_fail(status_fd, STEP_RLIMIT, errno);
        }

        /* One call for all: with a pidfd, the kernel enters the user namespace first and checks the others
         * with the credentials it gives. The pid namespace was entered by the spawner, for its children. */
        if (init->ns_flags && setns(init->pidfd, init->ns_flags) < 0)
                child_fail(status_fd, STEP_SETNS, errno);
        /* setns() into a mount namespace puts root and cwd at that namespace's root, which need not be the
         * container's (a runtime that chroot()s rather than pivot_root()s): take the init's own. */
        if (fchdir(init->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
                child_fail(status_fd, STEP_ROOT, errno);

        /* A user namespace whose setgroups is "deny" (an unprivileged runtime's) refuses setgroups(); the
         * host's groups are gone already, so it runs with its primary group only, as such containers do. */
        if (setgroups(n_groups, groups) < 0 && !(errno == EPERM && (init->ns_flags & CLONE_NEWUSER)))
                child_fail(status_fd, STEP_GROUPS, errno);
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                child_fail(status_fd, STEP_GID, errno);
        if (init->have_caps) {
                for (int c = 0; c <= CAP_LAST_CAP; c++)
                        if (!(init->cap_bnd & (UINT64_C(1) << c)) &&
                            prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                                child_fail(status_fd, STEP_CAPS, errno);
        }
        if (init->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(status_fd, STEP_CAPS, errno);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                child_fail(status_fd, STEP_UID, errno);
        umask(022);

        /* 0: an empty pipe; 1 and 2: the pipe to the spawner's log; the status pipe closes at exec. */
        if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
                child_fail(status_fd, STEP_FDS, errno);
        int keep[] = {0, 1, 2, status_fd};
        int r = close_all_but(keep, ELEMENTSOF(keep));
        if (r < 0)
                child_fail(status_fd, STEP_FDS, -r);
        child_fail(status_fd, STEP_EXEC, child_exec(p->exec, argv, envp));
}

/*
 * Resolve argv0 inside the container's root, as execvp() would there: a name with a '/' as a path from
 * the root, one without through SPAWN_PATH. 0 with the path in out, or -errno with the reason in why.
 */
static int resolve_program(int root_fd, const char *argv0, char *out, size_t n, char *why, size_t wn)
{
        char candidates[16][1024];
        size_t n_candidates = 0;
        if (strchr(argv0, '/'))
                snprintf(candidates[n_candidates++], sizeof(candidates[0]), "%s", argv0);
        else {
                char path[] = SPAWN_PATH, *save = NULL;
                for (char *d = strtok_r(path, ":", &save); d && n_candidates < ELEMENTSOF(candidates);
                     d = strtok_r(NULL, ":", &save))
                        snprintf(candidates[n_candidates++], sizeof(candidates[0]), "%s/%s", d, argv0);
        }
        int r = -ENOENT;
        for (size_t i = 0; i < n_candidates; i++) {
                int fd = rootfs_open(root_fd, candidates[i], O_PATH);
                if (fd < 0) {
                        if (fd != -ENOENT || r == -ENOENT)
                                r = fd;
                        continue;
                }
                struct stat st;
                int e = fstat(fd, &st) < 0           ? -errno
                        : !S_ISREG(st.st_mode)       ? -EISDIR
                        : !(st.st_mode & 0111)       ? -EACCES
                        : strlen(candidates[i]) >= n ? -ENAMETOOLONG
                                                     : 0;
                close(fd);
                if (e == 0) {
                        memcpy(out, candidates[i], strlen(candidates[i]) + 1);
                        return 0;
                }
                r = e;
        }
        const char *what = r == -ENOENT   ? "does not resolve to a file"
                           : r == -ELOOP  ? "leads through a /proc magic link or too many symbolic links"
                           : r == -EISDIR ? "is not a regular file"
                           : r == -EACCES ? "is not executable"
                                          : strerror(-r);
        if (strchr(argv0, '/'))
                snprintf(why, wn, "%s %s inside the container's root", argv0, what);
        else
                snprintf(why, wn, "%s is not in PATH (%s) inside the container's root", argv0, SPAWN_PATH);
        return r;
}

static struct program *program_by_id(struct spawner_state *st, uint64_t id)
{
        for (size_t i = 0; i < st->n_programs; i++)
                if (st->programs[i]->id == id)
                        return st->programs[i];
        return NULL;
}

/*
 * What the children need of the init, learnt at the first request rather than at start: the bus is
 * starting then, and a container that never activates anything never pays for it. 0, or -errno with the
 * reason in why.
 */
static int spawner_prepare(struct spawner_state *st, char *why, size_t n)
{
        struct init_facts *f = &st->init;
        if (st->prepared)
                return 0;
        read_init_facts(f);
        /* The /proc files read above were the init's only if the pidfd still names a live process. */
        if (syscall(SYS_pidfd_send_signal, f->pidfd, 0, NULL, 0) < 0) {
                int r = -errno;
                snprintf(why, n, "the container's init has exited");
                return r;
        }
        /* From now on every child starts in the container's pid namespace (pid_for_children). */
        if (!same_ns(f->pid, "pid") && setns(f->pidfd, CLONE_NEWPID) < 0) {
                int r = -errno;
                snprintf(why, n, "cannot enter the pid namespace of the container's init: %s", strerror(-r));
                return r;
        }
        st->prepared = true;
        return 0;
}

static void handle_spawn(struct spawner_state *st, const struct request_header *h, char *strings, size_t len)
{
        /* label, user, argv and env: exactly that many strings, each terminated inside the message. */
        size_t want = 2 + (size_t)h->n_argv + h->n_env, have = 0;
        if (h->n_argv == 0 || h->n_argv > 4096 || h->n_env > 4096) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "malformed request");
                return;
        }
        for (size_t i = 0; i < len; i++)
                have += strings[i] == 0;
        if (have != want || (len > 0 && strings[len - 1] != 0)) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "malformed request");
                return;
        }
        _cleanup_free_ char **v = new0(char *, want + 2);
        if (!v) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "out of memory");
                return;
        }
        char *s = strings;
        for (size_t i = 0; i < want; i++) {
                v[i + (i >= 2 + h->n_argv ? 1 : 0)] = s;
                s += strlen(s) + 1;
        }
        const char *label = v[0], *user = v[1];
        char **argv = v + 2, **envp = v + 3 + h->n_argv; /* argv ends at the NULL slot between them */

        char why[1200];
        int r = spawner_prepare(st, why, sizeof(why));
        if (r < 0) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "%s", why);
                return;
        }
        _cleanup_free_ struct program *p = zalloc(sizeof(*p));
        if (!p || GREEDY_REALLOC(st->programs, st->allocated, st->n_programs + 1) < 0) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "out of memory");
                return;
        }
        p->id = h->id;
        p->status_fd = p->out_fd = -1;
        snprintf(p->label, sizeof(p->label), "%s", label);
        snprintf(p->user, sizeof(p->user), "%s", user);

        /* The user, from the container's own /etc/passwd: never the host's, never NSS. */
        _cleanup_(userdb_user_done) struct userdb_user u = {0};
        r = userdb_user_in_root(st->init.root_fd, user, &u);
        if (r == -ENOENT) {
                send_failed(st, h->id, SPAWN_FAILURE_USER,
                            "user '%s' does not exist in the container's /etc/passwd", user);
                return;
        }
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        if (r >= 0)
                r = userdb_groups_in_root(st->init.root_fd, &u, &groups, &n_groups);
        if (r < 0) {
                send_failed(st, h->id, SPAWN_FAILURE_SETUP,
                            "cannot read the container's /etc/passwd or /etc/group: %s", strerror(-r));
                return;
        }
        p->uid = u.uid;
        p->gid = u.gid;

        r = resolve_program(st->init.root_fd, argv[0], p->exec, sizeof(p->exec), why, sizeof(why));
        if (r < 0) {
                send_failed(st, h->id, SPAWN_FAILURE_EXEC, "%s", why);
                return;
        }

        int status[2] = {-1, -1}, in[2] = {-1, -1}, out[2] = {-1, -1};
        if (pipe2(status, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                r = errno;
                close_fds(status, 2);
                close_fds(in, 2);
                close_fds(out, 2);
                send_failed(st, h->id, SPAWN_FAILURE_SETUP, "cannot make its pipes: %s", strerror(r));
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(status[0]);
                close(in[1]);
                close(out[0]);
                child_main(&st->init, p, groups, n_groups, status[1], in[0], out[1], argv, envp);
        }
        r = errno;
        close(status[1]);
        close_fds(in, 2);
        close(out[1]);
        if (pid < 0) {
                close(status[0]);
                close(out[0]);
                send_failed(st, h->id, SPAWN_FAILURE_SETUP,
                            "cannot fork into the container's pid namespace: %s%s", strerror(r),
                            r == ENOMEM ? " (has its init exited?)" : "");
                return;
        }
        fcntl(status[0], F_SETFL, O_NONBLOCK);
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        p->pid = pid;
        p->status_fd = status[0];
        p->out_fd = out[0];
        st->programs[st->n_programs++] = TAKE_PTR(p);
}

static const char *step_text(enum child_step step)
{
        switch (step) {
        case STEP_CGROUP:
                return "join the container's cgroups";
        case STEP_HOST_GROUPS:
                return "drop the host's supplementary groups";
        case STEP_RLIMIT:
                return "apply the container init's resource limits";
        case STEP_SETNS:
                return "enter the container's namespaces";
        case STEP_ROOT:
                return "change root to the container's root";
        case STEP_GROUPS:
                return "set the user's groups from the container's /etc/group";
        case STEP_GID:
                return "switch to the user's group";
        case STEP_CAPS:
                return "apply the container init's capability bounding set and no-new-privs";
        case STEP_UID:
                return "switch to the user";
        case STEP_FDS:
                return "set up its standard descriptors";
        default:
                return "execute";
        }
}

/* Read the child's reports; at their end (exec closed the pipe, or the child exited) say how it went. */
static void read_status(struct spawner_state *st, struct program *p)
{
        struct child_report r;
        ssize_t n;
        while ((n = read(p->status_fd, &r, sizeof(r))) == sizeof(r)) {
                if (r.step == STEP_PID) {
                        p->inner_pid = r.err;
                        continue;
                }
                if (p->reported)
                        continue;
                p->reported = p->failed = true;
                if (r.step == STEP_EXEC)
                        send_failed(st, p->id, SPAWN_FAILURE_EXEC,
                                    "cannot execute %s inside the container: %s", p->exec, strerror(r.err));
                else if ((r.step == STEP_UID || r.step == STEP_GID) && r.err == EINVAL)
                        send_failed(st, p->id, SPAWN_FAILURE_SETUP,
                                    "cannot %s: user '%s' (uid %u, gid %u) is not mapped in the container's "
                                    "user "
                                    "namespace",
                                    step_text(r.step), p->user, (unsigned)p->uid, (unsigned)p->gid);
                else
                        send_failed(st, p->id, SPAWN_FAILURE_SETUP, "cannot %s: %s", step_text(r.step),
                                    strerror(r.err));
        }
        if (n < 0 && errno == EAGAIN)
                return;
        p->status_fd = safe_close(p->status_fd);
        if (!p->reported) {
                /* No failure came before the pipe closed: exec() closed it. */
                p->reported = true;
                send_event(st, &(struct event_message){.type = SPAWN_EVENT_STARTED,
                                                       .id = p->id,
                                                       .pid = p->pid,
                                                       .inner_pid = p->inner_pid});
        }
}

static void log_output_line(struct spawner_state *st, struct program *p)
{
        for (size_t i = 0; i < p->line_len; i++)
                if ((unsigned char)p->line[i] < ' ' && p->line[i] != '\t')
                        p->line[i] = '?';
        log_info("container %s: %s[%d]: %.*s", st->init.container, p->label, (int)p->pid, (int)p->line_len,
                 p->line);
        p->line_len = 0;
}

/* What the program writes to stdout and stderr becomes the spawner's log lines, as a journal would. */
static void read_output(struct spawner_state *st, struct program *p)
{
        char buf[4096];
        ssize_t n = 0;
        /* A bounded batch per turn: a program that never stops writing must not keep the others waiting. */
        for (int batch = 0; batch < 16 && (n = read(p->out_fd, buf, sizeof(buf))) > 0; batch++) {
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                log_output_line(st, p);
                                continue;
                        }
                        p->line[p->line_len++] = buf[i];
                        if (p->line_len == sizeof(p->line))
                                log_output_line(st, p);
                }
        }
        if (n > 0 || (n < 0 && errno == EAGAIN))
                return;
        if (p->line_len)
                log_output_line(st, p);
        p->out_fd = safe_close(p->out_fd);
}

static void reap(struct spawner_state *st)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return;
                for (size_t i = 0; i < st->n_programs; i++) {
                        struct program *p = st->programs[i];
                        if (p->pid != pid)
                                continue;
                        p->exited = true;
                        /* Its reports are in the pipe before its exit, and the pipe's end after them: a
                         * failure is reported as one, not as an exit. */
                        if (p->status_fd >= 0)
                                read_status(st, p);
                        if (!p->failed)
                                send_event(st, &(struct event_message){.type = SPAWN_EVENT_EXITED,
                                                                       .id = p->id,
                                                                       .status = status});
                        break;
                }
        }
}

static void handle_request(struct spawner_state *st)
{
        static char buf[SPAWN_MSG_MAX];
        for (;;) {
                ssize_t n = recv(st->ctl, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) { /* the bus hung up: it is exiting */
                        st->ctl = safe_close(st->ctl);
                        return;
                }
                struct request_header h;
                if ((size_t)n < sizeof(h))
                        continue;
                memcpy(&h, buf, sizeof(h));
                if (h.type == REQUEST_SPAWN)
                        handle_spawn(st, &h, buf + sizeof(h), (size_t)n - sizeof(h));
                else if (h.type == REQUEST_KILL) {
                        struct program *p = program_by_id(st, h.id);
                        if (p && !p->exited)
                                kill(p->pid, h.sig);
                }
        }
}

/* A program is forgotten once it has exited and its output has ended (a daemon it forked may keep
 * writing to the pipe after it exits). */
static void forget_finished(struct spawner_state *st)
{
        size_t j = 0;
        for (size_t i = 0; i < st->n_programs; i++) {
                struct program *p = st->programs[i];
                if (p->exited && p->status_fd < 0 && p->out_fd < 0)
                        free(p);
                else
                        st->programs[j++] = p;
        }
        st->n_programs = j;
}

/* Keep what entering a container and becoming its user take; nothing else of root's. The bounding set
 * stays whole: each child narrows it to the init's. */
static int keep_spawn_capabilities(void)
{
        /* CAP_SYS_PTRACE: setns() on a pidfd needs ptrace read access to its process. */
        static const cap_value_t keep[] = {CAP_SYS_ADMIN, CAP_SYS_CHROOT,   CAP_SYS_PTRACE,
                                           CAP_SETUID,    CAP_SETGID,       CAP_SETPCAP,
                                           CAP_KILL,      CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH};
        cap_t caps = cap_init();
        int r = 0;
        if (!caps || cap_set_flag(caps, CAP_PERMITTED, ELEMENTSOF(keep), keep, CAP_SET) < 0 ||
            cap_set_flag(caps, CAP_EFFECTIVE, ELEMENTSOF(keep), keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
                r = -errno;
        if (caps)
                cap_free(caps);
        return r;
}

/* Once the bus is gone the spawner only waits for the programs it started, so that they are reaped here
 * and not left to whoever adopts them. */
static bool spawner_done(const struct spawner_state *st)
{
        if (st->ctl >= 0)
                return false;
        for (size_t i = 0; i < st->n_programs; i++)
                if (!st->programs[i]->exited)
                        return false;
        return true;
}

static _noreturn_ void spawner_main(int ctl, int pidfd, pid_t init_pid, int root_fd, const char *container)
{
        struct spawner_state st = {
                .ctl = ctl,
                .init = {.pid = init_pid, .container = container, .pidfd = pidfd, .root_fd = root_fd}};
        /* Nothing of the bus's: its listeners, peers and epoll set are not ours to hold. */
        int keep[] = {0, 1, 2, ctl, pidfd, root_fd};
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(keep); j++)
                        if (keep[j] < keep[i]) {
                                int t = keep[i];
                                keep[i] = keep[j];
                                keep[j] = t;
                        }
        if (close_all_but(keep, ELEMENTSOF(keep)) < 0) {
                log_error("container %s: spawner: cannot close the bus's descriptors: %m", container);
                _exit(1);
        }
        int r = keep_spawn_capabilities();
        if (r < 0)
                log_warning("container %s: spawner: cannot drop capabilities it does not need: %s",
                            container, strerror(-r));
        /* It ends with the bus (at the end of its socket), not with a signal meant for the bus's group. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sigfd < 0) {
                log_error("container %s: spawner: signalfd: %m", container);
                _exit(1);
        }
        struct pollfd *fds = NULL;
        size_t allocated = 0;
        for (;;) {
                size_t n = 2 + 2 * st.n_programs;
                if (GREEDY_REALLOC(fds, allocated, n) < 0) {
                        log_error("container %s: spawner: out of memory", container);
                        _exit(1);
                }
                if (spawner_done(&st))
                        _exit(0);
                fds[0] = (struct pollfd){.fd = st.ctl, .events = POLLIN};
                fds[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
                for (size_t i = 0; i < st.n_programs; i++) {
                        fds[2 + 2 * i] = (struct pollfd){.fd = st.programs[i]->status_fd, .events = POLLIN};
                        fds[3 + 2 * i] = (struct pollfd){.fd = st.programs[i]->out_fd, .events = POLLIN};
                }
                if (poll(fds, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("container %s: spawner: poll: %m", container);
                        _exit(1);
                }
                for (size_t i = 0; i < st.n_programs; i++) {
                        struct program *p = st.programs[i];
                        if (p->status_fd >= 0 && fds[2 + 2 * i].revents)
                                read_status(&st, p);
                        if (p->out_fd >= 0 && fds[3 + 2 * i].revents)
                                read_output(&st, p);
                }
                if (fds[1].revents) {
                        struct signalfd_siginfo si;
                        while (read(sigfd, &si, sizeof(si)) == sizeof(si))
                                ;
                        reap(&st);
                }
                forget_finished(&st);
                if (st.ctl >= 0 && fds[0].revents)
                        handle_request(&st);
        }
}
