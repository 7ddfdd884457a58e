/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peer credentials from the kernel. SO_PEERCRED's pid and ids are already
 * translated into the reader's namespaces at getsockopt() time (and were
 * captured by the kernel at connect()), so the bus stores them as its own
 * view and translates for other viewers later. The pidfd pins the process:
 * reading NSpid from the pidfd's fdinfo cannot race with pid reuse, unlike
 * /proc/<pid>/status.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "creds.h"
#include "util.h"

void creds_done(struct peer_creds *c)
{
        free(c->groups);
        free(c->seclabel);
        ns_user_unref(c->user_ns);
        ns_pid_unref(c->pid_ns);
        c->groups = NULL;
        c->seclabel = NULL;
        c->user_ns = NULL;
        c->pid_ns = NULL;
}

int creds_parse_nspid(const char *text, pid_t *pids, unsigned max)
{
        const char *p = strstr(text, "NSpid:");
        unsigned n = 0;

        if (!p)
                return -EINVAL;
        p += strlen("NSpid:");
        while (*p && *p != '\n') {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == '\n' || !*p)
                        break;
                char *end;
                errno = 0;
                long v = strtol(p, &end, 10);
                if (end == p || errno || v < 0 || v > INT32_MAX || n >= max)
                        return -EINVAL;
                pids[n++] = (pid_t)v;
                p = end;
        }
        return n ? (int)n : -EINVAL;
}

static int read_fdinfo_nspid(int pidfd, pid_t *pids, unsigned max)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return creds_parse_nspid(buf, pids, max);
}

bool creds_is_host_root(const struct peer_creds *c, const struct ns_registry *reg)
{
        return c->uid == 0 && !c->ns_unknown && c->user_ns == reg->bus_user && c->pid_ns == reg->bus_pid;
}

int creds_get_pidfd(int fd)
{
        int pidfd;
        socklen_t len = sizeof(pidfd);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
                return -errno;
        return pidfd;
}

/*
 * Where a peer is placed when its namespaces cannot be read. A process that was gone before the bus
 * looked (gone) is foreign on every bus: anyone may connect, exit and leave the socket to a child, a
 * container's process as well as the host's, so no viewer sees its pid or ids. So is any unread peer of
 * a bus serving a container (reg->unknown_is_foreign): there, it could be in the container, and must not
 * be shown host identities. Otherwise the kernel would not tell because the bus may not inspect the
 * peer (a bus that runs as an unprivileged user), and the peer is placed where SO_PEERCRED proves it is
 * at least: a pid in the bus's pid namespace means the bus's level is visible, so it counts as a peer of
 * the bus's own namespaces, which is what dbus-daemon assumes of everyone. Viewers deeper down then see
 * pid 0, never a host pid. A peer without a pid in the bus's namespace is foreign: no viewer sees its pid.
 */
static void creds_assume_namespaces(struct ns_registry *reg, struct peer_creds *c, bool gone)
{
        c->ns_unknown = true;
        if (gone || reg->unknown_is_foreign) {
                c->user_ns = ns_user_ref(reg->foreign_user);
                c->pid_ns = ns_pid_ref(reg->foreign_pid);
                return;
        }
        c->user_ns = ns_user_ref(reg->bus_user);
        if (c->pid > 0) {
                c->pid_ns = ns_pid_ref(reg->bus_pid);
                c->ns_pids[0] = c->pid;
                c->n_ns_pids = 1;
        } else {
                c->pid_ns = ns_pid_ref(reg->foreign_pid);
                c->n_ns_pids = 0;
        }
}

int creds_from_self(struct ns_registry *reg, struct peer_creds *ret)
{
        struct peer_creds c = {
                .pid = getpid(),
                .uid = geteuid(),
                .gid = getegid(),
                .n_groups = 1,
                .ns_pids = {getpid()},
                .n_ns_pids = 1,
        };
        c.groups = new0(gid_t, 1);
        if (!c.groups)
                return -ENOMEM;
        c.groups[0] = c.gid;
        c.user_ns = ns_user_ref(reg->bus_user);
        c.pid_ns = ns_pid_ref(reg->bus_pid);
        *ret = c;
        return 0;
}

int creds_read_kernel(int fd, struct peer_creds *ret)
{
        struct ucred uc;
        socklen_t len = sizeof(uc);
        struct peer_creds c = {0};

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return -errno;
        c.pid = uc.pid;
        c.uid = uc.uid;
        c.gid = uc.gid;

        /* SO_PEERGROUPS: ERANGE tells the size needed. */
        gid_t small[64];
        len = sizeof(small);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) >= 0) {
                c.n_groups = len / sizeof(gid_t);
                c.groups = new0(gid_t, c.n_groups);
                if (!c.groups)
                        return -ENOMEM;
                memcpy(c.groups, small, len);
        } else if (errno == ERANGE) {
                c.groups = malloc(len);
                if (!c.groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c.groups, &len) < 0) {
                        free(c.groups);
                        return -errno;
                }
                c.n_groups = len / sizeof(gid_t);
        }

        /* UnixGroupIDs is "primary and supplementary" (spec, GetConnectionCredentials): primary first. */
        size_t at = c.n_groups;
        for (size_t i = 0; i < c.n_groups; i++)
                if (c.groups[i] == c.gid)
                        at = i;
        if (at == c.n_groups) {
                gid_t *g = realloc(c.groups, (c.n_groups + 1) * sizeof(gid_t));
                if (!g) {
                        free(c.groups);
                        return -ENOMEM;
                }
                c.groups = g;
                c.n_groups++;
        }
        /* The kernel returns the groups sorted; move the primary one to the front. */
        memmove(c.groups + 1, c.groups, at * sizeof(gid_t));
        c.groups[0] = c.gid;

        /* Without an LSM that labels sockets the answer is always ENOPROTOOPT, and none can appear later:
         * ask once per process, not once per connection. */
        static bool no_peersec;
        char label[256];
        len = sizeof(label) - 1;
        if (!no_peersec) {
                if (getsockopt(fd, SOL_SOCKET, SO_PEERSEC, label, &len) < 0) {
                        no_peersec = errno == ENOPROTOOPT;
                } else if (len > 0) {
                        label[len] = 0;
                        c.seclabel = strdup(label);
                }
        }

        *ret = c;
        return 0;
}

void creds_read_namespaces(int fd, struct ns_registry *reg, struct peer_creds *c)
{
        if (creds_namespaces_known(c))
                return;
        c->n_ns_pids = 0;
        if (fd < 0) { /* no socket names the process any more: its pid alone could be anyone's now */
                c->has_pidfd = false;
                creds_assume_namespaces(reg, c, true);
                return;
        }
        _cleanup_close_ int pidfd = creds_get_pidfd(fd);
        c->has_pidfd = pidfd >= 0;
        /* ESRCH: the process is gone, and its pid may be someone else's by now; only a kernel without
         * SO_PEERPIDFD leaves the pid alone to go by. */
        int k = pidfd == -ESRCH ? -ESRCH : ns_registry_capture(reg, pidfd, c->pid, &c->user_ns, &c->pid_ns);
        /* A peer in the bus's own pid namespace has one pid, the one SO_PEERCRED gave: the fdinfo read
         * (a procfs open, read and close, a third of what a connection costs the bus) is only needed
         * for a peer in another pid namespace, to learn its pid at every level. */
        if (k >= 0 && pidfd >= 0 && c->pid_ns != reg->bus_pid) {
                int n = read_fdinfo_nspid(pidfd, c->ns_pids, CREDS_MAX_NS_LEVELS);
                c->n_ns_pids = n > 0 ? (unsigned)n : 0;
        }
        if (c->n_ns_pids == 0 && c->pid > 0) {
                c->ns_pids[0] = c->pid;
                c->n_ns_pids = 1;
        }
        if (k < 0) {
                c->user_ns = NULL;
                c->pid_ns = NULL;
                creds_assume_namespaces(reg, c, k == -ESRCH);
        } else if (!c->pid_ns->chain.foreign && c->n_ns_pids != c->pid_ns->chain.level + 1) {
                /* NSpid and the namespace chain disagree (a /proc of another pid namespace): keep only
                 * what SO_PEERCRED itself proves. */
                ns_user_unref(c->user_ns);
                ns_pid_unref(c->pid_ns);
                creds_assume_namespaces(reg, c, false);
        }
}

int creds_from_socket(int fd, struct ns_registry *reg, struct peer_creds *ret)
{
        int r = creds_read_kernel(fd, ret);
        if (r < 0)
                return r;
        creds_read_namespaces(fd, reg, ret);
        return 0;
}
