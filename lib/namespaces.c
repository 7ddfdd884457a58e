/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Namespaces of peers, read through their pidfds. PIDFD_GET_USER_NAMESPACE
 * and PIDFD_GET_PID_NAMESPACE (Linux 6.11) name the process that connected
 * even if its pid has been reused since; on older kernels /proc/PID/ns/ is
 * opened and the pidfd then proves the pid still named the same process.
 * Either way the kernel asks for ptrace read access, as for /proc/PID/ns/,
 * which is why a bus serving other uids keeps CAP_SYS_PTRACE.
 *
 * A namespace is placed relative to the bus's own by walking NS_GET_PARENT
 * up to it; one that never reaches it is foreign and maps nothing.
 *
 * Most peers are in namespaces the registry already holds (the bus's own, or
 * a container's). Those are recognised by the inode in the /proc/PID/ns/
 * links, which costs a readlink() each; opening a namespace through the
 * pidfd costs an ioctl(), an fstat() and a close() each, the kernel making
 * and freeing a file every time (about 6 of the 12 to 14 us that identifying
 * a peer took). A link read by pid is the connected process's only if the
 * pidfd says afterwards that the process is still alive, since the pid of a
 * live process cannot be reused; anything else goes through the pidfd.
 */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "hashmap.h"
#include "namespaces.h"
#include "util.h"

#ifndef PIDFD_GET_PID_NAMESPACE
#define PIDFS_IOCTL_MAGIC 0xFF
#define PIDFD_GET_PID_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 5)
#define PIDFD_GET_USER_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 9)
#endif

enum ns_kind { NS_USER, NS_PID };

static const char *const ns_proc_name[] = {[NS_USER] = "user", [NS_PID] = "pid"};

static bool pidfd_alive(int pidfd)
{
        return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

static int ns_open(int pidfd, pid_t pid, enum ns_kind kind)
{
        if (pidfd >= 0) {
                int fd = ioctl(pidfd, kind == NS_USER ? PIDFD_GET_USER_NAMESPACE : PIDFD_GET_PID_NAMESPACE,
                               0);
                if (fd >= 0)
                        return fd;
                if (errno != ENOTTY && errno != EINVAL)
                        return -errno;
        }
        if (pid <= 0)
                return -ESRCH;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_proc_name[kind]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Still alive after the open: the pid was not reused in between, so fd is that process's. */
        if (pidfd >= 0 && !pidfd_alive(pidfd)) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}

/* The inode a /proc/PID/ns/ link names ("user:[4026531837]"). */
static int ns_link_ino(pid_t pid, enum ns_kind kind, uint64_t *ino)
{
        char path[64], link[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_proc_name[kind]);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
                return -errno;
        link[n] = 0;
        const char *open_bracket = strchr(link, '[');
        if (!open_bracket || open_bracket[1] < '0' || open_bracket[1] > '9')
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(open_bracket + 1, &end, 10);
        if (errno || *end != ']')
                return -EINVAL;
        *ino = v;
        return 0;
}

static int fd_ino(int fd, uint64_t *ino)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        *ino = (uint64_t)st.st_ino;
        return 0;
}

/* Inodes from fd's namespace up to (and including) the bus's, bottom first. Returns the count, or 0
 * when the walk leaves the part of the tree the bus can see without meeting its own namespace. */
static int ns_walk_up(int fd, uint64_t bus_ino, uint64_t *up, unsigned max)
{
        _cleanup_close_ int owned = -1;
        unsigned n = 0;

        for (int at = fd;;) {
                uint64_t ino = 0;
                int r = fd_ino(at, &ino);
                if (r < 0)
                        return r;
                if (n == max)
                        return 0;
                up[n++] = ino;
                if (ino == bus_ino)
                        return (int)n;
                int parent = ioctl(at, NS_GET_PARENT);
                if (parent < 0)
                        /* EPERM: the parent is outside the bus's namespaces. */
                        return errno == EPERM ? 0 : -errno;
                safe_close(owned);
                owned = at = parent;
        }
}

static int read_small_file(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == size - 1)
                        return -EFBIG;
        }
        buf[len] = 0;
        return 0;
}

/* A map as the bus reads it: the kernel prints the outside ids in the reader's namespace. */
static int read_idmap(pid_t pid, const char *file, struct idmap *m)
{
        char path[64];
        /* 340 lines of three 10-digit numbers */
        _cleanup_free_ char *buf = malloc(16384);
        if (!buf)
                return -ENOMEM;
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        int r = read_small_file(path, buf, 16384);
        if (r < 0)
                return r;
        return idmap_parse(buf, m);
}

static void ns_user_free(struct ns_user *u)
{
        safe_close(u->fd);
        idmap_done(&u->uid_map);
        idmap_done(&u->gid_map);
        free(u);
}

static void ns_pid_free(struct ns_pid *p)
{
        safe_close(p->fd);
        free(p);
}

struct ns_user *ns_user_ref(struct ns_user *u)
{
        u->n_refs++;
        return u;
}

void ns_user_unref(struct ns_user *u)
{
        if (!u || --u->n_refs > 0)
                return;
        hashmap_remove(u->registry->users, &u->ino);
        ns_user_free(u);
}

struct ns_pid *ns_pid_ref(struct ns_pid *p)
{
        p->n_refs++;
        return p;
}

void ns_pid_unref(struct ns_pid *p)
{
        if (!p || --p->n_refs > 0)
                return;
        hashmap_remove(p->registry->pids, &p->ino);
        ns_pid_free(p);
}

/*
 * Whether /proc is the procfs of our own pid namespace. A pidfd's fdinfo lists the process's pids from
 * the procfs's pid namespace down to the process's own ("NSpid:"): one entry, our pid, only when they are
 * the same namespace (more when the procfs's is an ancestor, 0 when it cannot see us).
 */
static bool proc_is_own_pid_ns(void)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (pidfd < 0)
                return false;
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        if (read_small_file(path, buf, sizeof(buf)) < 0)
                return false;
        const char *line = strstr(buf, "\nNSpid:");
        if (!line)
                return false;
        char *end;
        errno = 0;
        long v = strtol(line + strlen("\nNSpid:"), &end, 10);
        return errno == 0 && v == (long)getpid() && (*end == '\n' || *end == 0);
}

static uint32_t read_overflow_id(const char *path)
{
        char buf[32];
        if (read_small_file(path, buf, sizeof(buf)) < 0)
                return 65534; /* the kernel's default */
        char *end;
        unsigned long v = strtoul(buf, &end, 10);
        return (end == buf || v > UINT32_MAX) ? 65534 : (uint32_t)v;
}

int ns_registry_new(struct ns_registry **ret)
{
        _cleanup_free_ struct ns_registry *r = zalloc(sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->overflow_uid = read_overflow_id("/proc/sys/kernel/overflowuid");
        r->overflow_gid = read_overflow_id("/proc/sys/kernel/overflowgid");
        r->proc_is_ours = proc_is_own_pid_ns();
        r->users = hashmap_new(&uint64_hash_ops);
        r->pids = hashmap_new(&uint64_hash_ops);
        r->bus_user = zalloc(sizeof(*r->bus_user));
        r->foreign_user = zalloc(sizeof(*r->foreign_user));
        r->bus_pid = zalloc(sizeof(*r->bus_pid));
        r->foreign_pid = zalloc(sizeof(*r->foreign_pid));
        if (!r->users || !r->pids || !r->bus_user || !r->foreign_user || !r->bus_pid || !r->foreign_pid)
                goto nomem;

        /* The registry keeps one reference to each of its own objects, so they outlive every peer. */
        *r->bus_user = (struct ns_user){.registry = r, .n_refs = 1, .fd = -1};
        *r->foreign_user = (struct ns_user){.registry = r, .n_refs = 1, .fd = -1, .chain.foreign = true};
        *r->bus_pid = (struct ns_pid){.registry = r, .n_refs = 1, .fd = -1};
        *r->foreign_pid = (struct ns_pid){.registry = r, .n_refs = 1, .fd = -1, .chain.foreign = true};

        /* Held open, the bus's own namespaces keep their nsfs dentries: probing a peer that shares them
         * (most of them) then finds the dentry stashed instead of allocating and freeing an inode. */
        r->bus_user->fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (r->bus_user->fd < 0 || fd_ino(r->bus_user->fd, &r->bus_user->ino) < 0)
                goto fail;
        r->bus_pid->fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (r->bus_pid->fd < 0 || fd_ino(r->bus_pid->fd, &r->bus_pid->ino) < 0)
                goto fail;
        r->bus_user->chain.chain[0] = r->bus_user->ino;
        r->bus_pid->chain.chain[0] = r->bus_pid->ino;
        if (idmap_identity(&r->bus_user->uid_map) < 0 || idmap_identity(&r->bus_user->gid_map) < 0 ||
            hashmap_put(r->users, &r->bus_user->ino, r->bus_user) < 0 ||
            hashmap_put(r->pids, &r->bus_pid->ino, r->bus_pid) < 0)
                goto nomem;
        *ret = TAKE_PTR(r);
        return 0;

nomem:
        errno = ENOMEM;
fail:;
        int e = errno;
        ns_registry_free(TAKE_PTR(r));
        return -e;
}

void ns_registry_free(struct ns_registry *r)
{
        if (!r)
                return;
        /* Peers hold references; whatever is left here belongs to the registry alone. */
        struct ns_user *u;
        struct ns_pid *p;
        struct hashmap_iter it;
        HASHMAP_FOREACH(u, r->users, it)
        {
                if (u != r->bus_user)
                        ns_user_free(u);
        }
        HASHMAP_FOREACH(p, r->pids, it)
        {
                if (p != r->bus_pid)
                        ns_pid_free(p);
        }
        hashmap_free(r->users);
        hashmap_free(r->pids);
        if (r->bus_user)
                ns_user_free(r->bus_user);
        if (r->foreign_user)
                ns_user_free(r->foreign_user);
        if (r->bus_pid)
                ns_pid_free(r->bus_pid);
        if (r->foreign_pid)
                ns_pid_free(r->foreign_pid);
        free(r);
}

/* A namespace of a process, opened and placed relative to the bus's own. */
struct ns_probe {
        int fd;
        uint64_t ino;
        void *known;   /* already interned in the map: nothing else is filled in */
        unsigned n_up; /* inodes from it up to the bus's own, bottom first; 0: foreign */
        uint64_t up[PIDNS_MAX_LEVELS];
};

static int ns_probe(const struct hashmap *known, uint64_t bus_ino, int pidfd, pid_t pid, enum ns_kind kind,
                    struct ns_probe *ret)
{
        _cleanup_close_ int fd = ns_open(pidfd, pid, kind);
        if (fd < 0)
                return fd;
        *ret = (struct ns_probe){.fd = -1};
        int k = fd_ino(fd, &ret->ino);
        if (k < 0)
                return k;
        ret->known = hashmap_get(known, &ret->ino);
        if (ret->known)
                return 0;
        k = ns_walk_up(fd, bus_ino, ret->up, PIDNS_MAX_LEVELS);
        if (k < 0)
                return k;
        ret->n_up = (unsigned)k;
        ret->fd = TAKE_FD(fd);
        return 0;
}

/* A chain from the inodes of a walk up (bottom first, ending at the bus's namespace). */
static void ns_chain_from_walk(struct ns_chain *c, const uint64_t *up, unsigned n_up)
{
        c->level = n_up - 1;
        for (unsigned i = 0; i < n_up; i++)
                c->chain[i] = up[n_up - 1 - i];
}

static int capture_user(struct ns_registry *r, int pidfd, pid_t pid, struct ns_user **ret)
{
        struct ns_probe pr;
        int k = ns_probe(r->users, r->bus_user->ino, pidfd, pid, NS_USER, &pr);
        if (k < 0)
                return k;
        _cleanup_close_ int fd = pr.fd;
        if (pr.known || pr.n_up == 0) {
                *ret = ns_user_ref(pr.known ? pr.known : r->foreign_user);
                return 0;
        }
        uint64_t ino = pr.ino;

        _cleanup_free_ struct ns_user *nu = zalloc(sizeof(*nu));
        if (!nu)
                return -ENOMEM;
        *nu = (struct ns_user){.registry = r, .ino = ino, .n_refs = 1, .fd = -1};
        ns_chain_from_walk(&nu->chain, pr.up, pr.n_up);
        k = read_idmap(pid, "uid_map", &nu->uid_map);
        if (k >= 0)
                k = read_idmap(pid, "gid_map", &nu->gid_map);
        /* The maps were read by pid: they are this namespace's only if the process is still the one the
         * pidfd names and has not moved to another user namespace since (setns, unshare). */
        if (k >= 0 && pidfd >= 0) {
                _cleanup_close_ int again = ns_open(pidfd, pid, NS_USER);
                uint64_t ino2 = 0;
                if (again < 0 || fd_ino(again, &ino2) < 0 || ino2 != ino || !pidfd_alive(pidfd))
                        k = -ESRCH;
        }
        if (k < 0) {
                idmap_done(&nu->uid_map);
                idmap_done(&nu->gid_map);
                return k;
        }
        nu->fd = TAKE_FD(fd);
        k = hashmap_put(r->users, &nu->ino, nu);
        if (k < 0) {
                ns_user_free(TAKE_PTR(nu));
                return k;
        }
        *ret = TAKE_PTR(nu);
        return 0;
}

static int capture_pid(struct ns_registry *r, int pidfd, pid_t pid, struct ns_pid **ret)
{
        struct ns_probe pr;
        int k = ns_probe(r->pids, r->bus_pid->ino, pidfd, pid, NS_PID, &pr);
        if (k < 0)
                return k;
        _cleanup_close_ int fd = pr.fd;
        if (pr.known || pr.n_up == 0) {
                *ret = ns_pid_ref(pr.known ? pr.known : r->foreign_pid);
                return 0;
        }
        struct ns_pid *np = zalloc(sizeof(*np));
        if (!np)
                return -ENOMEM;
        *np = (struct ns_pid){.registry = r, .ino = pr.ino, .n_refs = 1, .fd = TAKE_FD(fd)};
        ns_chain_from_walk(&np->chain, pr.up, pr.n_up);
        k = hashmap_put(r->pids, &np->ino, np);
        if (k < 0) {
                ns_pid_free(np);
                return k;
        }
        *ret = np;
        return 0;
}

int ns_registry_capture(struct ns_registry *r, int pidfd, pid_t pid, struct ns_user **ret_user,
                        struct ns_pid **ret_pid)
{
        struct ns_user *u;
        struct ns_pid *p;
        uint64_t user_ino, pid_ino;
        if (r->proc_is_ours && pidfd >= 0 && pid > 0 && ns_link_ino(pid, NS_USER, &user_ino) >= 0 &&
            ns_link_ino(pid, NS_PID, &pid_ino) >= 0 && (u = hashmap_get(r->users, &user_ino)) &&
            (p = hashmap_get(r->pids, &pid_ino)) && pidfd_alive(pidfd)) {
                *ret_user = ns_user_ref(u);
                *ret_pid = ns_pid_ref(p);
                return 0;
        }
        int k = capture_user(r, pidfd, pid, &u);
        if (k < 0)
                return k;
        k = capture_pid(r, pidfd, pid, &p);
        if (k < 0) {
                ns_user_unref(u);
                return k;
        }
        *ret_user = u;
        *ret_pid = p;
        return 0;
}
