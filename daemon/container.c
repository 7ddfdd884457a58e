/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-container mode: one nsbusd, in the host's namespaces, serving one
 * container. It makes RUNTIME_DIR/NAME/bus/system_bus_socket, which the
 * runtime bind-mounts (the directory, so the socket can be re-created) at
 * /run/dbus inside the container, and RUNTIME_DIR/NAME/host.sock for host
 * peers, which the container never sees. The container's init is watched
 * through a pidfd: when it exits, the bus removes its files and exits (unless
 * a checkpoint has just saved the container: then it waits for the restore,
 * and takes the restored init as the container's, see checkpoint.h).
 *
 * The socket the container gets is owned by the container's root as the
 * host sees it (its uid_map's image of 0), so it looks like root's inside.
 * Its directory stays the bus's: after set-up the bus has no CAP_DAC_OVERRIDE
 * and must still be able to remove the socket when the container ends.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/nsfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>

#include "address.h"
#include "bridge-policy.h"
#include "bus.h"
#include "listener.h"
#include "log.h"
#include "container.h"
#include "container-spawn.h"
#include "quotas.h"
#include "machine-id.h"
#include "rootfs.h"

static void cap_freep(cap_t *c)
{
        if (*c)
                cap_free(*c);
}

/* The built-in configuration of a container bus when no --config-file is given: like dbus-daemon's system
 * bus, everyone may own names and call everyone, nobody may eavesdrop. Only the host's root may see other
 * peers' traffic, and container_may_eavesdrop() and policy_check_privileged() enforce that whatever a
 * configuration says; the root rules here make its eavesdropping match rules deliver. What crosses to
 * the host is the bridge's policy, not this bus's. Its services are the container's own, from the
 * standard system service directories inside the container's root. */
static const char builtin_config[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>system</type>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <standard_system_servicedirs/>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <allow own=\"*\"/>\n"
        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        "    <allow receive_sender=\"*\"/>\n"
        "  </policy>\n"
        "  <policy user=\"root\">\n"
        "    <allow eavesdrop=\"true\"/>\n"
        "  </policy>\n"
        "</busconfig>\n";

int container_builtin_config_fd(void)
{
        _cleanup_close_ int fd = memfd_create("nsbusd-container.conf", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = sizeof(builtin_config) - 1;
        if (write(fd, builtin_config, len) != (ssize_t)len)
                return errno ? -errno : -EIO;
        return TAKE_FD(fd);
}

/* Nobody but root may change a directory the bus trusts: it is root's (or the bus's own uid's), and not
 * writable by group or others, except a sticky one on the way (/tmp), where others may add entries but
 * not rename or remove root's. */
static int check_trusted_dir(int fd, const char *path, bool last, char *why, size_t n)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                snprintf(why, n, "%s is owned by uid %u, not root", path, (unsigned)st.st_uid);
                return -EPERM;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st.st_mode & S_ISVTX))) {
                snprintf(why, n, "%s is writable by %s (mode %04o)", path,
                         st.st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

/*
 * The runtime directory, opened one component at a time from / with O_NOFOLLOW and created where missing,
 * every step checked as trusted: a path someone else could swap between two of our calls is never
 * used. Returns the directory's fd, or -errno with the reason in why.
 */
static int open_runtime_dir(const char *path, char *why, size_t n)
{
        if (path[0] != '/') {
                snprintf(why, n, "%s: the runtime directory must be an absolute path", path);
                return -EINVAL;
        }
        _cleanup_free_ char *walked = zalloc(strlen(path) + 2);
        _cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!walked || fd < 0)
                return walked ? -errno : -ENOMEM;
        strcpy(walked, "/");
        int r = check_trusted_dir(fd, "/", false, why, n);
        for (const char *p = path; r >= 0;) {
                p += strspn(p, "/");
                size_t len = strcspn(p, "/");
                if (len == 0)
                        break;
                _cleanup_free_ char *comp = strndup(p, len);
                if (!comp)
                        return -ENOMEM;
                p += len;
                bool last = p[strspn(p, "/")] == 0;
                if (streq(comp, "..")) {
                        snprintf(why, n, "%s: '..' is not allowed in the runtime directory", path);
                        return -EINVAL;
                }
                if (streq(comp, "."))
                        continue;
                if (walked[1])
                        strcat(walked, "/");
                strcat(walked, comp);
                int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                                r = -errno;
                                snprintf(why, n, "cannot create %s: %s", walked, strerror(-r));
                                return r;
                        }
                        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0) {
                        r = -errno;
                        /* O_DIRECTORY | O_NOFOLLOW says ENOTDIR for a link too: tell them apart. */
                        struct stat st;
                        bool link = (r == -ELOOP || r == -ENOTDIR) &&
                                    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
                        snprintf(why, n, "cannot open %s: %s", walked,
                                 link ? "a symbolic link (give the runtime directory without links)"
                                 : r == -ENOTDIR ? "not a directory"
                                                 : strerror(-r));
                        return r;
                }
                safe_close(fd);
                fd = next;
                r = check_trusted_dir(fd, walked, last, why, n);
        }
        return r < 0 ? r : TAKE_FD(fd);
}

/* A directory of the bus's own in parent, with exactly this mode whether or not it existed. parent is
 * trusted, so only root can have made what is there already. */
static int mkdirat_owned(int parent, const char *name, mode_t mode, bool *made)
{
        *made = mkdirat(parent, name, mode) >= 0;
        if (!*made && errno != EEXIST)
                return -errno;
        _cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchown(fd, geteuid(), getegid()) < 0 || fchmod(fd, mode) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* A socket file left by a bus that died is removed; one a live bus answers on is not ours to take. */
static int claim_socket_path(const char *path)
{
        int r = unix_socket_answers(AT_FDCWD, path);
        if (r == -ENOENT)
                return 0;
        if (r == -ENOTSOCK)
                return -EEXIST;
        if (r != 0)
                return r < 0 ? r : -EADDRINUSE;
        return unlink(path) < 0 ? -errno : 0;
}

/* Listen at dir/name (dir_fd is dir, trusted), the socket owned by uid:gid with mode 0666. Who may connect
 * is decided at accept from the kernel's facts (container_admit), not by the file's permissions: the
 * container socket must be reachable by every uid inside. */
static int listen_at(struct bus *b, int dir_fd, const char *dir, const char *name,
                     enum listener_origin origin, uid_t uid, gid_t gid)
{
        _cleanup_free_ char *path = NULL, *escaped = NULL, *address = NULL;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        int r = claim_socket_path(path);
        if (r < 0) {
                log_error("cannot use %s: %s", path,
                          r == -EADDRINUSE ? "another bus is listening there" : strerror(-r));
                return r;
        }
        if (address_escape_value(path, &escaped) < 0 || asprintf(&address, "unix:path=%s", escaped) < 0)
                return -ENOMEM;
        r = listener_add(b, address, origin, NULL);
        if (r < 0)
                return r;
        if (fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(dir_fd, name, 0666, 0) < 0)
                return -errno;
        return 0;
}

/*
 * Peer.GetMachineId asked from inside answers with the container's machine id, not the host's. The file
 * is the container's, so it is resolved inside the container's root: a symlink there must not make the
 * bus read one of the host's files.
 */
static void read_container_machine_id(int root_fd, char out[33])
{
        static const char *const files[] = {"etc/machine-id", "var/lib/dbus/machine-id"};
        out[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_close_ int fd = rootfs_open(root_fd, files[i], O_RDONLY | O_NOCTTY);
                char buf[64];
                ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (n <= 0)
                        continue;
                buf[n] = 0;
                if (machine_id_parse(buf, out))
                        return;
        }
}

/* (Re)read c->policy_file: the policy in force changes only if the new one parses. 0, or -errno (logged,
 * with the file and line at fault). */
static int container_load_policy(struct container *c)
{
        char err[512];
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct bridge_policy *p;
        int r = bridge_policy_read(c->policy_file, &text, &len, err, sizeof(err));
        if (r >= 0)
                r = bridge_policy_parse(text, len, c->policy_file, &p, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        bridge_policy_free(c->policy);
        c->policy = p;
        free(c->policy_text);
        c->policy_text = TAKE_PTR(text);
        c->policy_len = len;
        return 0;
}

int container_reload_policy(struct bus *b)
{
        struct container *c = b->container;
        if (!c || !c->policy_file)
                return 0;
        int r = container_load_policy(c);
        if (r < 0) {
                log_error("container %s: keeping the bridge policy in force", c->name);
                return r;
        }
        log_info("container %s: bridge policy %s reloaded", c->name, c->policy_file);
        return 1;
}

/* How long after a checkpoint's export the end of the init is taken for the end of that checkpoint's dump
 * (CRIU kills the tree once it is saved): the bus then waits for the restore instead of exiting. */
#define CHECKPOINT_DUMP_WINDOW_USEC (60ull * 1000 * 1000)

/* Linux 6.7's nsfs.h; Debian 12's headers predate it. */
#ifndef NS_GET_PID_FROM_PIDNS
#define NS_GET_PID_FROM_PIDNS _IOR(0xb7, 0x6, int)
#endif

const char container_refusal_restoring[] =
        "the container is being restored: its bus takes only org.nsbus.Checkpoint1.Resume until it is back";

/* Let go of the init: its pidfd, root, namespaces and spawner. */
static void container_detach_init(struct container *c)
{
        event_source_remove(c->bus->loop, &c->source);
        spawner_free(c->spawner);
        c->spawner = NULL;
        c->root_fd = safe_close(c->root_fd);
        c->pidfd = safe_close(c->pidfd);
        c->pid = 0;
}

/* The container's init has exited: so does its bus, unless a checkpoint has just saved the container's
 * connections, whose restore it then waits for. */
static void container_init_io(struct event_source *s, uint32_t events)
{
        struct container *c = container_of(s, struct container, source);
        if (c->checkpoint_usec && now_usec() - c->checkpoint_usec < CHECKPOINT_DUMP_WINDOW_USEC) {
                log_info("container %s: init %d exited after a checkpoint; waiting for its restore (SIGTERM "
                         "ends the bus)",
                         c->name, (int)c->pid);
                container_detach_init(c);
                c->awaiting = true;
                return;
        }
        log_info("container %s: init %d exited; shutting down", c->name, (int)c->pid);
        event_source_remove(c->bus->loop, s);
        c->bus->exiting = true;
}

void container_check_init(struct bus *b)
{
        struct container *c = b->container;
        struct pollfd p = {.fd = c ? c->pidfd : -1, .events = POLLIN};
        if (p.fd >= 0 && !b->exiting && poll(&p, 1, 0) > 0)
                container_init_io(&c->source, p.revents);
}

void container_note_checkpoint(struct bus *b)
{
        if (b->container)
                b->container->checkpoint_usec = now_usec();
}

/* Take pid as the container's init: its pidfd, namespaces and root. */
static int container_take_init(struct bus *b, struct container *c, pid_t pid)
{
        c->pid = pid;
        c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (c->pidfd < 0)
                return -errno;

        struct ns_user *user_ns = NULL;
        struct ns_pid *pid_ns = NULL;
        int r = ns_registry_capture(b->namespaces, c->pidfd, pid, &user_ns, &pid_ns);
        if (r < 0) {
                log_error("cannot read the namespaces of container init %d: %s", (int)pid, strerror(-r));
                return r;
        }
        ns_user_unref(c->user_ns);
        ns_pid_unref(c->pid_ns);
        c->user_ns = user_ns;
        c->pid_ns = pid_ns;
        if (c->user_ns == b->namespaces->bus_user && c->pid_ns == b->namespaces->bus_pid)
                log_warning(
                        "container init %d shares the bus's pid namespace: every process of the host may "
                        "connect to its bus",
                        (int)pid);

        /* The container's root, opened once: its machine id, its service files and its users are read
         * through it (after the check below, it is the root of the init the pidfd names). */
        c->root_fd = rootfs_open_root_of(pid);
        if (c->root_fd < 0 || syscall(SYS_pidfd_send_signal, c->pidfd, 0, NULL, 0) < 0) {
                r = c->root_fd < 0 ? c->root_fd : -errno;
                log_error("cannot open the root directory of container init %d: %s", (int)pid, strerror(-r));
                return r;
        }
        read_container_machine_id(c->root_fd, c->machine_id);
        return 0;
}

/* Watch the init, and start the spawner of its services while the bus still may: entering the container
 * takes privileges it drops once it serves it. Without them (a restore onto a bus that served the
 * container before), services inside cannot be started until the bus is started again. */
static int container_watch_init(struct bus *b, struct container *c)
{
        /* A pidfd polls readable when the process exits. */
        int r = event_source_add(b->loop, &c->source, c->pidfd, EPOLLIN, container_init_io);
        if (r < 0)
                return r;
        if (c->privileges_dropped) {
                log_warning("container %s: restored onto a bus that gave up its privileges: services inside "
                            "the container cannot be activated until the bus is started again",
                            c->name);
                return 0;
        }
        r = spawner_start(&c->spawner, c->pidfd, c->pid, c->root_fd, c->name);
        if (r < 0) {
                log_error("container %s: cannot start the spawner of its services: %s", c->name,
                          strerror(-r));
                return r;
        }
        return 0;
}

/* RUNTIME_DIR/NAME is root's alone (host.sock is for the host's root and the bridge, which gets a handle on
 * it from root); RUNTIME_DIR/NAME/bus is what the container sees as /run/dbus. */
static int container_make_sockets(struct bus *b, struct container *c, const char *runtime_dir)
{
        char why[512] = "";
        _cleanup_close_ int rt_fd = open_runtime_dir(runtime_dir, why, sizeof(why));
        if (rt_fd < 0) {
                log_error("refusing the runtime directory: %s", why[0] ? why : strerror(-rt_fd));
                return rt_fd;
        }
        bool made_bus_dir;
        _cleanup_close_ int dir_fd = mkdirat_owned(rt_fd, c->name, 0700, &c->made_dir);
        _cleanup_close_ int bus_fd =
                dir_fd >= 0 ? mkdirat_owned(dir_fd, CONTAINER_BUS_DIR, 0755, &made_bus_dir) : -EBADF;
        if (dir_fd < 0 || bus_fd < 0) {
                int r = dir_fd < 0 ? dir_fd : bus_fd;
                log_error("cannot create %s: %s", dir_fd < 0 ? c->dir : c->bus_dir, strerror(-r));
                return r;
        }
        int r = listen_at(b, bus_fd, c->bus_dir, CONTAINER_BUS_SOCKET, ORIGIN_BUS, c->root_uid, c->root_gid);
        if (r >= 0)
                r = listen_at(b, dir_fd, c->dir, CONTAINER_HOST_SOCKET, ORIGIN_HOST, geteuid(), getegid());
        if (r < 0)
                return r;
        c->made_dirs = true; /* the place is ours now: remove it at exit */
        return 0;
}

int container_setup(struct bus *b, const struct container_args *a)
{
        struct container *c = zalloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        /* From here on, container_free() (from bus_free()) undoes whatever was done. */
        b->container = c;
        c->source.fd = -1;
        c->bus = b;
        c->pidfd = -1;
        c->root_fd = -1;

        /* A bad policy stops everything before any file is made. */
        int r;
        if (a->policy_file) {
                if (!(c->policy_file = strdup(a->policy_file)))
                        return -ENOMEM;
                if ((r = container_load_policy(c)) < 0)
                        return r;
        }
        if (getrandom(c->bridge_key, sizeof(c->bridge_key), 0) != (ssize_t)sizeof(c->bridge_key)) {
                r = -errno;
                log_error("cannot make the bridge key: %m");
                return r;
        }

        if (a->pid > 0) {
                if ((r = container_take_init(b, c, a->pid)) < 0)
                        return r;
                /* The container's root, as the host sees it, owns what the container sees. */
                uint32_t root_uid = 0, root_gid = 0;
                if (!idmap_to_outside(&c->user_ns->uid_map, 0, &root_uid))
                        root_uid = geteuid();
                if (!idmap_to_outside(&c->user_ns->gid_map, 0, &root_gid))
                        root_gid = getegid();
                c->root_uid = root_uid;
                c->root_gid = root_gid;
        } else {
                /* A fresh bus for a container about to be restored: its init comes with the restore. */
                c->awaiting = true;
                c->root_uid = a->root_uid;
                c->root_gid = a->root_gid;
        }

        r = -ENOMEM;
        c->name = a->name ? strdup(a->name) : NULL;
        if ((!c->name && asprintf(&c->name, "%d", (int)a->pid) < 0) ||
            asprintf(&c->dir, "%s/%s", a->runtime_dir, c->name) < 0 ||
            asprintf(&c->bus_dir, "%s/" CONTAINER_BUS_DIR, c->dir) < 0)
                return r;
        if (strchr(c->name, '/') || streq(c->name, ".") || streq(c->name, "..") || !c->name[0]) {
                log_error("invalid container name '%s'", c->name);
                return -EINVAL;
        }
        if ((r = container_make_sockets(b, c, a->runtime_dir)) < 0)
                return r;
        if (c->awaiting) {
                log_info("serving container %s at %s: waiting for it to be restored", c->name, c->bus_dir);
                return 0;
        }
        if ((r = container_watch_init(b, c)) < 0)
                return r;
        log_info("serving container %s (init pid %d) at %s", c->name, (int)c->pid, c->bus_dir);
        return 0;
}

int container_attach_restored(struct bus *b, struct peer *p, char *err, size_t errlen)
{
        struct container *c = b->container;
        if (!c->awaiting)
                return 0;
        /* The restored process is in the restored container's pid namespace, whose init the kernel
         * names: that is the container now. */
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)p->creds.pid);
        _cleanup_close_ int ns = p->creds.pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -EINVAL;
        int init = ns >= 0 ? ioctl(ns, NS_GET_PID_FROM_PIDNS, 1) : -1;
        if (init <= 0) {
                snprintf(err, errlen, "cannot find the init of the restored process %d: %m",
                         (int)p->creds.pid);
                return -ESRCH;
        }
        int r = container_take_init(b, c, init);
        if (r >= 0)
                r = container_watch_init(b, c);
        if (r < 0) {
                container_detach_init(c);
                snprintf(err, errlen, "cannot serve the restored container (init %d): %s", init,
                         strerror(-r));
                return r;
        }
        c->awaiting = false;
        c->checkpoint_usec = 0;
        const char *refused = container_admit(b, p);
        if (refused) {
                snprintf(err, errlen, "%s", refused);
                return -EPERM;
        }
        log_info("container %s: restored (init pid %d)", c->name, init);
        if (!c->privileges_dropped && (r = container_drop_capabilities(b)) < 0) {
                snprintf(err, errlen, "cannot drop the bus's capabilities: %s", strerror(-r));
                b->exiting = true; /* never serve a container with more than it needs */
                return r;
        }
        return 0;
}

/*
 * Who may connect, by the kernel's facts about the peer (SO_PEERCRED and its namespaces, read at accept):
 * the container socket is for processes inside the container, that is in its user namespace or one below
 * it (for a container without a user namespace of its own: in its pid namespace or one below), and for
 * the host's root. host.sock is for the host's root and for the bridge, which runs as the container's
 * mapped root in the bus's own namespaces and must still prove itself with the bridge key
 * (container_claim_bridge): container root has the same host uid, and a uid alone proves nothing.
 */
const char *container_admit(const struct bus *b, struct peer *p)
{
        const struct container *c = b->container;
        const struct ns_registry *reg = b->namespaces;
        if (!c || p->trust == PEER_TRUST_HOST_ROOT)
                return NULL;
        if (p->origin == ORIGIN_BUS && c->awaiting)
                return container_refusal_restoring;
        if (p->origin == ORIGIN_BUS) {
                bool inside = c->user_ns != reg->bus_user
                                      ? ns_chain_within(&p->creds.user_ns->chain, &c->user_ns->chain)
                                      : ns_chain_within(&p->creds.pid_ns->chain, &c->pid_ns->chain);
                return inside ? NULL : "the container's socket is only for processes inside the container";
        }
        if (p->creds.uid == c->root_uid && !p->creds.ns_unknown && p->creds.user_ns == reg->bus_user &&
            p->creds.pid_ns == reg->bus_pid) {
                p->trust = PEER_TRUST_BRIDGE_CANDIDATE;
                return NULL;
        }
        return "host.sock is only for the host's root and the container's bridge";
}

bool container_peer_is_bridge(const struct bus *b, const struct peer *p)
{
        return b->container && (p->trust == PEER_TRUST_BRIDGE || p->trust == PEER_TRUST_HOST_ROOT);
}

int container_claim_bridge(const struct bus *b, struct peer *p, const uint8_t *key, size_t len)
{
        const struct container *c = b->container;
        if (!c)
                return -EOPNOTSUPP;
        if (p->trust != PEER_TRUST_BRIDGE_CANDIDATE)
                return p->trust == PEER_TRUST_BRIDGE ? 0 : -EPERM;
        /* Compared in constant time: how long a wrong key took must not tell how much of it was right. */
        uint8_t diff = len != sizeof(c->bridge_key);
        for (size_t i = 0; i < sizeof(c->bridge_key); i++)
                diff |= (uint8_t)(c->bridge_key[i] ^ (i < len ? key[i] : 0));
        if (diff)
                return -EACCES;
        p->trust = PEER_TRUST_BRIDGE;
        return 0;
}

bool container_may_own(const struct bus *b, const struct peer *p, const char *name)
{
        if (!b->container || !b->container->policy || !bridge_policy_is_imported(b->container->policy, name))
                return true;
        return container_peer_is_bridge(b, p);
}

/* After the listeners are gone (they unlink their sockets): remove the directories made for them. */
void container_free(struct bus *b)
{
        struct container *c = b->container;
        if (!c)
                return;
        if (c->made_dirs) {
                if (rmdir(c->bus_dir) < 0 && errno != ENOENT)
                        log_warning("cannot remove %s: %m", c->bus_dir);
                /* A directory that was there before is whoever made it's (nsbusctl up keeps its state
                 * there), and theirs to remove. */
                if (c->made_dir && rmdir(c->dir) < 0 && errno != ENOENT)
                        log_warning("cannot remove %s: %m", c->dir);
        }
        container_detach_init(c);
        ns_user_unref(c->user_ns);
        ns_pid_unref(c->pid_ns);
        explicit_bzero(c->bridge_key, sizeof(c->bridge_key));
        bridge_policy_free(c->policy);
        free(c->policy_file);
        free(c->policy_text);
        free(c->name);
        free(c->dir);
        free(c->bus_dir);
        free(c);
        b->container = NULL;
}

/*
 * After the sockets exist, a container bus needs exactly one privilege: CAP_SYS_PTRACE, because the
 * kernel gates PIDFD_GET_*_NAMESPACE (like /proc/PID/ns/) on ptrace read access, and the container's
 * peers are other uids. Everything else goes, from the bounding set too, and no-new-privs is set, so
 * nothing the bus ever executes can gain a capability back.
 */
int container_drop_capabilities(struct bus *b)
{
        _cleanup_(cap_freep) cap_t now = cap_get_proc();
        if (!now)
                return -errno;
        cap_flag_value_t have = CAP_CLEAR;
        if (cap_get_flag(now, CAP_SYS_PTRACE, CAP_PERMITTED, &have) < 0)
                return -errno;
        if (have != CAP_SET) {
                log_error("a container bus needs CAP_SYS_PTRACE to read its peers' namespaces (run it as "
                          "root)");
                return -EPERM;
        }
        for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
                if (c == CAP_SYS_PTRACE)
                        continue;
                if (cap_drop_bound(c) < 0 && errno != EINVAL)
                        return -errno;
        }
        if (cap_reset_ambient() < 0 && errno != EINVAL)
                return -errno;
        _cleanup_(cap_freep) cap_t keep = cap_init();
        const cap_value_t ptrace[] = {CAP_SYS_PTRACE};
        if (!keep || cap_set_flag(keep, CAP_PERMITTED, 1, ptrace, CAP_SET) < 0 ||
            cap_set_flag(keep, CAP_EFFECTIVE, 1, ptrace, CAP_SET) < 0 || cap_set_proc(keep) < 0)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        b->container->privileges_dropped = true;
        return 0;
}
