/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peer credentials (lib/creds.c) from real sockets: a socketpair (the peer is
 * this process), and, when running as root, a child that connects after
 * changing its ids and groups, one that connects from a new pid namespace and
 * one from a new user namespace. Everything is compared with what the kernel
 * says elsewhere: getpid()/getuid(), the pidfd's fdinfo, /proc/PID/ns/.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "creds.h"
#include "hashmap.h"
#include "test.h"
#include "util.h"

/* ---- creds_parse_nspid ---- */

static void test_parse_nspid(void)
{
        pid_t p[CREDS_MAX_NS_LEVELS];

        memset(p, 0xff, sizeof(p));
        CHECK_EQ(creds_parse_nspid("NSpid:\t12\t3\t1\n", p, CREDS_MAX_NS_LEVELS), 3);
        CHECK_EQ(p[0], 12);
        CHECK_EQ(p[1], 3);
        CHECK_EQ(p[2], 1);
        CHECK_EQ(p[3], -1); /* nothing written past the count */

        /* in a whole fdinfo / status text, only the NSpid line counts */
        CHECK_EQ(creds_parse_nspid(
                         "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\t7\n"
                         "NStgid:\t1\t2\t3\n",
                         p, CREDS_MAX_NS_LEVELS),
                 2);
        CHECK_EQ(p[0], 4242);
        CHECK_EQ(p[1], 7);
        CHECK_EQ(creds_parse_nspid("NSpid:\t99", p, CREDS_MAX_NS_LEVELS), 1); /* no newline at the end */
        CHECK_EQ(p[0], 99);
        CHECK_EQ(creds_parse_nspid("NSpid: 5 6\n", p, CREDS_MAX_NS_LEVELS), 2);
        CHECK_EQ(p[1], 6);
        CHECK_EQ(creds_parse_nspid("NSpid:\t2147483647\n", p, CREDS_MAX_NS_LEVELS), 1);
        CHECK_EQ(p[0], INT32_MAX);

        /* exactly max levels fit; one more does not */
        CHECK_EQ(creds_parse_nspid("NSpid:\t1\t2\t3\n", p, 3), 3);
        CHECK_EQ(creds_parse_nspid("NSpid:\t1\t2\t3\n", p, 2), -EINVAL);
        char deep[512] = "NSpid:";
        for (unsigned i = 0; i < CREDS_MAX_NS_LEVELS; i++)
                snprintf(deep + strlen(deep), sizeof(deep) - strlen(deep), "\t%u", 1000 - i);
        CHECK_EQ(creds_parse_nspid(deep, p, CREDS_MAX_NS_LEVELS), (int)CREDS_MAX_NS_LEVELS);
        CHECK_EQ(p[CREDS_MAX_NS_LEVELS - 1], 1000 - (CREDS_MAX_NS_LEVELS - 1));
        strcat(deep, "\t1");
        CHECK_EQ(creds_parse_nspid(deep, p, CREDS_MAX_NS_LEVELS), -EINVAL);

        /* garbage */
        static const char *const bad[] = {
                "",
                "Pid:\t12\n",
                "NSpid:\n",
                "NSpid:\t\n",
                "NSpid:",
                "NSpid:\tabc\n",
                "NSpid:\t12x\n",
                "NSpid:\t12\tx\n",
                "NSpid:\t-1\n",
                "NSpid:\t12\t-3\n",
                "NSpid:\t2147483648\n",
                "NSpid:\t99999999999999999999999\n",
                "NSpid:\t0x10\n",
                "NSpid:\t1.5\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = creds_parse_nspid(bad[i], p, CREDS_MAX_NS_LEVELS);
                if (r != -EINVAL)
                        fprintf(stderr, "creds_parse_nspid(\"%s\") = %d\n", bad[i], r);
                CHECK_EQ(r, -EINVAL);
        }
}

/* ---- helpers ---- */

/* The "Pid:" line of /proc/self/fdinfo/FD, or -1. */
static pid_t fdinfo_pid(int fd)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        int f = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(f >= 0);
        ssize_t n = read(f, buf, sizeof(buf) - 1);
        close(f);
        CHECK(n > 0);
        buf[n] = 0;
        const char *p = strstr(buf, "\nPid:");
        if (!p)
                return -1;
        return (pid_t)strtol(p + 5, NULL, 10);
}

static uint64_t ns_ino(const char *pid, const char *ns)
{
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
        CHECK_EQ(stat(path, &st), 0);
        return st.st_ino;
}

static bool has_group(const struct peer_creds *c, gid_t g)
{
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i] == g)
                        return true;
        return false;
}

static void check_no_duplicate_groups(const struct peer_creds *c)
{
        for (size_t i = 0; i < c->n_groups; i++)
                for (size_t j = i + 1; j < c->n_groups; j++)
                        CHECK(c->groups[i] != c->groups[j]);
}

/* One namespace registry per test process (each test runs in its own). */
static struct ns_registry *registry(void)
{
        static struct ns_registry *reg;
        if (!reg)
                CHECK_EQ(ns_registry_new(&reg), 0);
        return reg;
}

/* ---- a socketpair: the peer is this process ---- */

static void test_socketpair(void)
{
        int sv[2];
        struct peer_creds c;

        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        memset(&c, 0x5a, sizeof(c));
        CHECK_EQ(creds_from_socket(sv[0], registry(), &c), 0);
        CHECK_EQ(c.pid, getpid());
        CHECK_EQ(c.uid, getuid());
        CHECK_EQ(c.gid, getgid());
        CHECK(c.n_groups >= 1);
        CHECK(c.groups);
        CHECK(has_group(&c, getgid()));
        CHECK_EQ(c.groups[0], getgid());
        check_no_duplicate_groups(&c);
        /* every supplementary group of ours is there */
        gid_t mine[256];
        int n = getgroups(ELEMENTSOF(mine), mine);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++)
                CHECK(has_group(&c, mine[i]));
        bool primary_listed = false;
        for (int i = 0; i < n; i++)
                primary_listed |= mine[i] == getgid();
        CHECK_EQ(c.n_groups, (size_t)n + (primary_listed ? 0 : 1));

        /* SO_PEERPIDFD exists since Linux 6.5 */
        if (c.has_pidfd) {
                int pfd = creds_get_pidfd(sv[0]);
                CHECK(pfd >= 0);
                CHECK_EQ(fdinfo_pid(pfd), getpid());
                CHECK(fcntl(pfd, F_GETFD) & FD_CLOEXEC);
                close(pfd);
        } else {
                fprintf(stderr, "note: no SO_PEERPIDFD on this kernel\n");
        }
        CHECK(c.n_ns_pids >= 1);
        CHECK(c.n_ns_pids <= CREDS_MAX_NS_LEVELS);
        CHECK_EQ(c.ns_pids[0], getpid());               /* the first level is the bus's own view */
        CHECK_EQ(c.ns_pids[c.n_ns_pids - 1], getpid()); /* we are not in a pid namespace below our own */
        CHECK_EQ(c.n_ns_pids, 1);
        CHECK(!c.ns_unknown);
        CHECK(c.user_ns == registry()->bus_user);
        CHECK(c.pid_ns == registry()->bus_pid);
        /* ... found by the /proc/PID/ns links, as the test's /proc is its own pid namespace's */
        CHECK(registry()->proc_is_ours);
        CHECK_EQ(c.user_ns->ino, ns_ino("self", "user"));
        CHECK_EQ(c.pid_ns->ino, ns_ino("self", "pid"));
        CHECK_EQ(c.pid_ns->chain.level, 0);
        CHECK_EQ(c.user_ns->chain.level, 0);
        CHECK_EQ(c.user_ns->chain.chain[0], c.user_ns->ino);

        creds_done(&c);
        CHECK(!c.groups);
        CHECK(!c.user_ns);
        CHECK(!c.seclabel);
        creds_done(&c); /* twice is harmless */

        /* both ends see the same process */
        CHECK_EQ(creds_from_socket(sv[1], registry(), &c), 0);
        CHECK_EQ(c.pid, getpid());
        creds_done(&c);
        close(sv[0]);
        close(sv[1]);

        /* not a socket */
        int p[2];
        CHECK_EQ(pipe(p), 0);
        CHECK_EQ(creds_from_socket(p[0], registry(), &c), -ENOTSOCK);
        close(p[0]);
        close(p[1]);
}

/* ---- a child that connects with other ids, groups or namespaces ---- */

enum child_kind {
        CHILD_IDS,           /* uid 4321, gid 5678, groups {42, 5678, 43} */
        CHILD_MANY_GROUPS,   /* 100 supplementary groups, not including the primary */
        CHILD_PIDNS,         /* connects from pid 1 of a new pid namespace */
        CHILD_USERNS,        /* connects from a new user namespace without maps */
        CHILD_USERNS_MAPPED, /* ... in which it is root */
};

static int listener(struct sockaddr_un *addr, socklen_t *len)
{
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(l >= 0);
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        /* abstract address */
        int n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "nsbus-test-creds-%d-%ld",
                         (int)getpid(), (long)now_usec());
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
        CHECK_EQ(bind(l, (struct sockaddr *)addr, *len), 0);
        CHECK_EQ(listen(l, 4), 0);
        return l;
}

_printf_(2, 3) static int write_file(const char *path, const char *fmt, ...)
{
        char buf[64];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t w = write(fd, buf, (size_t)n);
        close(fd);
        return w == n ? 0 : -1;
}

/* In the child: connect, report our own view of our pid, wait for the parent to hang up. */
_noreturn_ static void child_connect(const struct sockaddr_un *addr, socklen_t len)
{
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, (const struct sockaddr *)addr, len) < 0)
                _exit(10);
        int32_t me = (int32_t)getpid();
        if (write(s, &me, sizeof(me)) != sizeof(me))
                _exit(11);
        char c;
        (void)read(s, &c, 1);
        _exit(0);
}

/* Set: run_child() reads SO_PEERCRED at accept and the namespaces only once the child has exited, with
 * the socket still open (a bus that put them off too long). */
static bool read_namespaces_after_exit;

/* Returns false (after printing why) when this kind of child cannot be made here. */
static bool run_child(enum child_kind kind, struct peer_creds *c, pid_t *child_pid, int32_t *self_pid,
                      pid_t *pidfd_pid)
{
        struct sockaddr_un addr;
        socklen_t len;
        int l = listener(&addr, &len);
        int st[2];
        CHECK_EQ(pipe2(st, O_CLOEXEC), 0);

        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(st[0]);
                int err = 0;
                switch (kind) {
                case CHILD_IDS: {
                        gid_t groups[] = {42, 5678, 43};
                        if (setgroups(ELEMENTSOF(groups), groups) < 0 || setresgid(5678, 5678, 5678) < 0 ||
                            setresuid(4321, 4321, 4321) < 0)
                                err = errno;
                        break;
                }
                case CHILD_MANY_GROUPS: {
                        gid_t groups[100];
                        for (unsigned i = 0; i < 100; i++)
                                groups[i] = 10000 + i;
                        if (setgroups(ELEMENTSOF(groups), groups) < 0 || setresgid(777, 777, 777) < 0)
                                err = errno;
                        break;
                }
                case CHILD_PIDNS:
                        if (unshare(CLONE_NEWPID) < 0) {
                                err = errno;
                                break;
                        }
                        /* the next child is pid 1 there */
                        pid_t inner = fork();
                        if (inner < 0)
                                _exit(12);
                        if (inner == 0) {
                                (void)write(st[1], &err, sizeof(err));
                                close(st[1]);
                                child_connect(&addr, len);
                        }
                        close(st[1]);
                        int status;
                        waitpid(inner, &status, 0);
                        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 13);
                case CHILD_USERNS:
                        if (unshare(CLONE_NEWUSER) < 0)
                                err = errno;
                        break;
                case CHILD_USERNS_MAPPED: {
                        uid_t uid = getuid();
                        gid_t gid = getgid();
                        if (unshare(CLONE_NEWUSER) < 0 ||
                            write_file("/proc/self/uid_map", "0 %u 1", uid) < 0 ||
                            write_file("/proc/self/setgroups", "deny") < 0 ||
                            write_file("/proc/self/gid_map", "0 %u 1", gid) < 0)
                                err = errno;
                        break;
                }
                }
                (void)write(st[1], &err, sizeof(err));
                close(st[1]);
                if (err)
                        _exit(0);
                child_connect(&addr, len);
        }
        close(st[1]);
        int err = -1;
        CHECK_EQ(read(st[0], &err, sizeof(err)), (ssize_t)sizeof(err));
        close(st[0]);
        if (err) {
                fprintf(stderr, "skip: child kind %d could not be set up: %s\n", kind, strerror(err));
                waitpid(pid, NULL, 0);
                close(l);
                return false;
        }
        int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        CHECK(s >= 0);
        CHECK_EQ(read(s, self_pid, sizeof(*self_pid)), (ssize_t)sizeof(*self_pid));
        if (read_namespaces_after_exit) {
                CHECK_EQ(creds_read_kernel(s, c), 0);
                CHECK(!creds_namespaces_known(c));
                CHECK(!c->pid_ns);
        } else
                CHECK_EQ(creds_from_socket(s, registry(), c), 0);
        /* what the pidfd says while the peer is alive (afterwards it says -1) */
        int pfd = creds_get_pidfd(s);
        *pidfd_pid = pfd >= 0 ? fdinfo_pid(pfd) : 0;
        *child_pid = pid;
        shutdown(s, SHUT_WR); /* lets the child exit; the pidfd keeps the process identity */
        int status;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        if (read_namespaces_after_exit) {
                creds_read_namespaces(s, registry(), c);
                CHECK(creds_namespaces_known(c));
        }
        close(s);
        if (pfd >= 0) {
                CHECK_EQ(fdinfo_pid(pfd), -1); /* it was that process, and it is gone */
                close(pfd);
        }
        close(l);
        return true;
}

static void test_child_ids(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (geteuid() != 0) {
                fprintf(stderr, "skip: changing ids needs root\n");
                return;
        }
        if (!run_child(CHILD_IDS, &c, &pid, &self, &pidfd_pid))
                return;
        CHECK_EQ(c.pid, pid);
        CHECK_EQ(self, pid);
        CHECK_EQ(c.uid, 4321);
        CHECK_EQ(c.gid, 5678);
        CHECK_EQ(c.n_groups, 3);
        CHECK(has_group(&c, 42));
        CHECK(has_group(&c, 43));
        CHECK(has_group(&c, 5678));
        check_no_duplicate_groups(&c);
        if (c.has_pidfd)
                CHECK_EQ(pidfd_pid, pid);
        CHECK_EQ(c.n_ns_pids, 1);
        CHECK_EQ(c.ns_pids[0], pid);
        creds_done(&c);
}

/*
 * creds.c says UnixGroupIDs is "primary and supplementary", primary first, and
 * puts the primary in front when the supplementary list lacks it. When the
 * list already has it somewhere else, it must still come first.
 */
static void test_child_primary_group_first(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (geteuid() != 0) {
                fprintf(stderr, "skip: changing ids needs root\n");
                return;
        }
        if (!run_child(CHILD_IDS, &c, &pid, &self, &pidfd_pid))
                return;
        CHECK_EQ(c.gid, 5678);
        CHECK_EQ(c.groups[0], 5678);
        creds_done(&c);
}

static void test_child_many_groups(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (geteuid() != 0) {
                fprintf(stderr, "skip: changing groups needs root\n");
                return;
        }
        if (!run_child(CHILD_MANY_GROUPS, &c, &pid, &self, &pidfd_pid))
                return;
        CHECK_EQ(c.pid, pid);
        if (c.has_pidfd)
                CHECK_EQ(pidfd_pid, pid);
        CHECK_EQ(c.gid, 777);
        /* more than fit in the first getsockopt() buffer: the ERANGE retry path */
        CHECK_EQ(c.n_groups, 101);
        CHECK_EQ(c.groups[0], 777); /* primary first, since it was not in the list */
        for (unsigned i = 0; i < 100; i++)
                CHECK(has_group(&c, 10000 + i));
        check_no_duplicate_groups(&c);
        creds_done(&c);
}

static void test_child_pid_namespace(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (!run_child(CHILD_PIDNS, &c, &pid, &self, &pidfd_pid))
                return;
        /* SO_PEERCRED gives the grandchild's pid as we see it; it sees itself as 1 */
        CHECK_EQ(self, 1);
        CHECK(c.pid > 0);
        CHECK(c.pid != pid);
        if (!c.has_pidfd) {
                fprintf(stderr, "skip: no pidfd, no NSpid chain\n");
                creds_done(&c);
                return;
        }
        CHECK_EQ(pidfd_pid, c.pid);
        CHECK_EQ(c.n_ns_pids, 2);
        CHECK_EQ(c.ns_pids[0], c.pid);
        CHECK_EQ(c.ns_pids[1], 1);
        /* The process is gone by now: its namespaces were read while it was connected. */
        CHECK(!c.ns_unknown);
        CHECK(c.pid_ns != registry()->bus_pid);
        CHECK(c.pid_ns->ino != ns_ino("self", "pid"));
        CHECK(!c.pid_ns->chain.foreign);
        CHECK_EQ(c.pid_ns->chain.level, 1);
        CHECK_EQ(c.pid_ns->chain.chain[0], ns_ino("self", "pid"));
        CHECK_EQ(c.pid_ns->chain.chain[1], c.pid_ns->ino);
        CHECK(c.user_ns == registry()->bus_user);
        /* a second reference to the same namespace is the same object, and it goes with the last one */
        struct ns_pid *same = ns_pid_ref(c.pid_ns);
        creds_done(&c);
        CHECK_EQ(same->n_refs, 1);
        ns_pid_unref(same);
        CHECK_EQ(hashmap_size(registry()->pids), 1); /* the bus's own */
}

static void test_child_user_namespace(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (!run_child(CHILD_USERNS, &c, &pid, &self, &pidfd_pid))
                return;
        CHECK_EQ(c.pid, pid);
        if (c.has_pidfd)
                CHECK_EQ(pidfd_pid, pid);
        /* ids are in the bus's user namespace: the same kuid, however the child sees itself */
        CHECK_EQ(c.uid, getuid());
        CHECK(!c.ns_unknown);
        CHECK(c.user_ns != registry()->bus_user);
        CHECK(c.user_ns->ino != ns_ino("self", "user"));
        CHECK_EQ(c.user_ns->uid_map.n, 0); /* no map written: it maps nothing */
        /* placed below the bus's own user namespace, so a container bus can tell who is inside */
        CHECK(!c.user_ns->chain.foreign);
        CHECK_EQ(c.user_ns->chain.level, 1);
        CHECK_EQ(c.user_ns->chain.chain[0], ns_ino("self", "user"));
        CHECK_EQ(c.user_ns->chain.chain[1], c.user_ns->ino);
        CHECK(ns_chain_within(&c.user_ns->chain, &registry()->bus_user->chain));
        CHECK(!ns_chain_within(&registry()->bus_user->chain, &c.user_ns->chain));
        uint32_t inside;
        CHECK(!idmap_to_inside(&c.user_ns->uid_map, getuid(), &inside));
        CHECK(c.pid_ns == registry()->bus_pid);
        CHECK_EQ(c.n_ns_pids, 1);
        creds_done(&c);
}

static void test_child_user_namespace_mapped(void)
{
        struct peer_creds c;
        pid_t pid, pidfd_pid;
        int32_t self;

        if (!run_child(CHILD_USERNS_MAPPED, &c, &pid, &self, &pidfd_pid))
                return;
        CHECK_EQ(c.uid, getuid());
        CHECK(c.user_ns != registry()->bus_user);
        /* the child mapped itself as root: "0 <our uid> 1", read back as the bus sees it */
        CHECK_EQ(c.user_ns->uid_map.n, 1);
        CHECK_EQ(c.user_ns->uid_map.extents[0].inside, 0);
        CHECK_EQ(c.user_ns->uid_map.extents[0].outside, getuid());
        CHECK_EQ(c.user_ns->uid_map.extents[0].count, 1);
        CHECK_EQ(c.user_ns->gid_map.extents[0].outside, getgid());
        uint32_t inside;
        CHECK(idmap_to_inside(&c.user_ns->uid_map, c.uid, &inside));
        CHECK_EQ(inside, 0);
        creds_done(&c);
}

/*
 * The namespaces read apart from SO_PEERCRED: nothing is there until creds_read_namespaces(), which reads
 * them once. Read while the peer lives, a peer in a pid namespace of its own is placed there; read after
 * it exited, the kernel no longer says, and the peer is placed nowhere (foreign), even by a registry that
 * counts peers it may not inspect as its own: which is also why a plain bus reads them in the turn that
 * accepted the peer (daemon/peer.c), not whenever.
 */
static void test_namespaces_read_apart(void)
{
        int sv[2];
        struct peer_creds c;

        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        CHECK_EQ(creds_read_kernel(sv[0], &c), 0);
        CHECK_EQ(c.pid, getpid());
        CHECK_EQ(c.groups[0], getgid());
        CHECK(!creds_namespaces_known(&c));
        CHECK(!c.user_ns && !c.pid_ns);
        creds_read_namespaces(sv[0], registry(), &c);
        CHECK(creds_namespaces_known(&c));
        CHECK(c.user_ns == registry()->bus_user);
        CHECK(c.pid_ns == registry()->bus_pid);
        CHECK(!c.ns_unknown);
        CHECK_EQ(c.n_ns_pids, 1);
        unsigned users = c.user_ns->n_refs;
        creds_read_namespaces(sv[0], registry(), &c); /* known: nothing read, no reference taken */
        CHECK_EQ(c.user_ns->n_refs, users);
        creds_done(&c);

        /* No socket to ask: nowhere, never nothing. */
        CHECK(!registry()->unknown_is_foreign);
        CHECK_EQ(creds_read_kernel(sv[0], &c), 0);
        creds_read_namespaces(-1, registry(), &c);
        CHECK(c.ns_unknown);
        CHECK(c.user_ns == registry()->foreign_user);
        CHECK(c.pid_ns == registry()->foreign_pid);
        creds_done(&c);
        close(sv[0]);
        close(sv[1]);

        pid_t pid, pidfd_pid;
        int32_t self;
        read_namespaces_after_exit = true;
        bool made = run_child(CHILD_PIDNS, &c, &pid, &self, &pidfd_pid);
        read_namespaces_after_exit = false;
        if (!made)
                return;
        CHECK_EQ(self, 1);
        CHECK(c.pid > 0);
        CHECK(c.ns_unknown);
        /* Not the bus's own namespaces, which would show it host pids: nowhere. */
        CHECK(c.user_ns == registry()->foreign_user);
        CHECK(c.pid_ns == registry()->foreign_pid);
        creds_done(&c);
}

int main(void)
{
        int failed = 0;

        RUN(test_parse_nspid);
        RUN(test_socketpair);
        RUN(test_child_ids);
        RUN(test_child_primary_group_first);
        RUN(test_child_many_groups);
        RUN(test_child_pid_namespace);
        RUN(test_child_user_namespace);
        RUN(test_child_user_namespace_mapped);
        RUN(test_namespaces_read_apart);
        return failed ? 1 : 0;
}
