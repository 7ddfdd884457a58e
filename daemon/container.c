/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-container mode: one nsbusd, in the host's namespaces, serving one
 * container. It makes RUNTIME_DIR/NAME/bus/system_bus_socket, which the
 * runtime bind-mounts (the directory, so the socket can be re-created) at
 * /run/dbus inside the container, and RUNTIME_DIR/NAME/host.sock for host
 * peers, which the container never sees. The container's init is watched
 * through a pidfd: when it exits, the bus removes its files and exits.
 *
 * The socket the container gets is owned by the container's root as the
 * host sees it (its uid_map's image of 0), so it looks like root's inside.
 * Its directory stays the bus's: after set-up the bus has no CAP_DAC_OVERRIDE
 * and must still be able to remove the socket when the container ends.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>

#include "address.h"
#include "bridge-policy.h"
#include "bus.h"
#include "container.h"
#include "quotas.h"

static void cap_freep(cap_t *c)
{
        if (*c)
                cap_free(*c);
}

/* The built-in configuration of a container bus when no --config-file is given: like a session bus,
 * everyone may own and call; what crosses to the host is the bridge's policy, not this bus's. */
static const char builtin_config[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>system</type>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        "    <allow eavesdrop=\"true\"/>\n"
        "    <allow own=\"*\"/>\n"
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

/* A directory of the bus's own, with exactly this mode, whether or not it existed. */
static int mkdir_owned(const char *path, mode_t mode)
{
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (chown(path, geteuid(), getegid()) < 0 || chmod(path, mode) < 0)
                return -errno;
        return 0;
}

/* A socket file left by a bus that died is removed; one a live bus answers on is not ours to take. */
static int claim_socket_path(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return -EADDRINUSE;
        return unlink(path) < 0 ? -errno : 0;
}

static int listen_at(struct bus *b, const char *path, enum listener_origin origin, uid_t uid, gid_t gid)
{
        int r = claim_socket_path(path);
        if (r < 0) {
                bus_log(b, LOG_ERR, "cannot use %s: %s", path,
                        r == -EADDRINUSE ? "another bus is listening there" : strerror(-r));
                return r;
        }
        _cleanup_free_ char *escaped = NULL, *address = NULL;
        if (address_escape_value(path, &escaped) < 0 || asprintf(&address, "unix:path=%s", escaped) < 0)
                return -ENOMEM;
        r = bus_add_listener(b, address, origin, NULL);
        if (r < 0)
                return r;
        /* Anyone who can reach the directory may connect; identity comes from the kernel, not from the
         * file's permissions. */
        if (chown(path, uid, gid) < 0 || chmod(path, 0666) < 0)
                return -errno;
        return 0;
}

/*
 * Peer.GetMachineId asked from inside answers with the container's machine id, not the host's. The file
 * is the container's, so it is resolved inside the container's root (RESOLVE_IN_ROOT): a symlink there
 * must not make the bus read one of the host's files.
 */
static void read_container_machine_id(pid_t pid, char out[33])
{
        static const char *const files[] = {"etc/machine-id", "var/lib/dbus/machine-id"};
        char root[64];
        out[0] = 0;
        snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
        _cleanup_close_ int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct open_how how = {
                        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                _cleanup_close_ int fd = (int)syscall(SYS_openat2, dir, files[i], &how, sizeof(how));
                char buf[64];
                ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (n <= 0)
                        continue;
                buf[n] = 0;
                if (bus_parse_machine_id(buf, out))
                        return;
        }
}

int container_setup(struct bus *b, pid_t pid, const char *name, const char *runtime_dir,
                    const char *policy_file)
{
        struct container *c = zalloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        /* From here on, container_free() (from bus_free()) undoes whatever was done. */
        b->container = c;
        c->source.kind = SOURCE_CONTAINER;
        c->pid = pid;
        c->pidfd = -1;

        /* A bad policy stops everything before any file is made. */
        int r;
        if (policy_file) {
                char err[512];
                r = bridge_policy_load(policy_file, &c->policy, err, sizeof(err));
                if (r < 0) {
                        bus_log(b, LOG_ERR, "%s", err);
                        return r;
                }
        }

        c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (c->pidfd < 0)
                return -errno;

        /* The container's root, as the host sees it, owns what the container sees. */
        struct ns_pid *p = NULL;
        r = ns_registry_capture(b->namespaces, c->pidfd, pid, &c->user_ns, &p);
        if (r < 0) {
                bus_log(b, LOG_ERR, "cannot read the namespaces of container init %d: %s", (int)pid,
                        strerror(-r));
                return r;
        }
        uint32_t root_uid = 0, root_gid = 0;
        if (!idmap_to_outside(&c->user_ns->uid_map, 0, &root_uid))
                root_uid = geteuid();
        if (!idmap_to_outside(&c->user_ns->gid_map, 0, &root_gid))
                root_gid = getegid();
        c->root_uid = root_uid;
        c->root_gid = root_gid;
        if (p->chain.level == 0)
                bus_log(b, LOG_WARNING, "container init %d shares the bus's pid namespace", (int)pid);
        ns_pid_unref(p);

        read_container_machine_id(pid, c->machine_id);

        r = -ENOMEM;
        c->name = name ? strdup(name) : NULL;
        if ((!c->name && asprintf(&c->name, "%d", (int)pid) < 0) ||
            asprintf(&c->dir, "%s/%s", runtime_dir, c->name) < 0 ||
            asprintf(&c->bus_dir, "%s/bus", c->dir) < 0)
                return r;
        if (strchr(c->name, '/') || streq(c->name, ".") || streq(c->name, "..") || !c->name[0]) {
                bus_log(b, LOG_ERR, "invalid container name '%s'", c->name);
                r = -EINVAL;
                return r;
        }

        if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                bus_log(b, LOG_ERR, "cannot create %s: %s", runtime_dir, strerror(-r));
                return r;
        }
        if ((r = mkdir_owned(c->dir, 0755)) < 0 || (r = mkdir_owned(c->bus_dir, 0755)) < 0) {
                bus_log(b, LOG_ERR, "cannot create %s: %s", c->bus_dir, strerror(-r));
                return r;
        }

        _cleanup_free_ char *bus_sock = NULL, *host_sock = NULL;
        if (asprintf(&bus_sock, "%s/system_bus_socket", c->bus_dir) < 0 ||
            asprintf(&host_sock, "%s/host.sock", c->dir) < 0) {
                return -ENOMEM;
        }
        if ((r = listen_at(b, bus_sock, ORIGIN_BUS, root_uid, root_gid)) < 0 ||
            (r = listen_at(b, host_sock, ORIGIN_HOST, geteuid(), getegid())) < 0)
                return r;
        c->made_dirs = true; /* the place is ours now: remove it at exit */

        /* A pidfd polls readable when the process exits. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->source};
        if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, c->pidfd, &ev) < 0) {
                r = -errno;
                return r;
        }
        bus_log(b, LOG_INFO, "serving container %s (init pid %d) at %s", c->name, (int)pid, c->bus_dir);
        return 0;
}

/* Trust is decided by who connected (the uid charged for the connection), not by what a bridge later
 * says on behalf of the callers it forwards. */
bool container_peer_is_bridge(const struct bus *b, const struct peer *p)
{
        if (!b->container || p->origin != ORIGIN_HOST || !p->user)
                return false;
        return p->user->uid == 0 || p->user->uid == b->container->root_uid;
}

bool container_may_own(const struct bus *b, const struct peer *p, const char *name)
{
        if (!b->container || !b->container->policy || !bridge_policy_is_imported(b->container->policy, name))
                return true;
        return container_peer_is_bridge(b, p);
}

void container_handle_exit(struct bus *b)
{
        bus_log(b, LOG_INFO, "container %s: init %d exited; shutting down", b->container->name,
                (int)b->container->pid);
        b->exiting = true;
}

/* After the listeners are gone (they unlink their sockets): remove the directories made for them. */
void container_free(struct bus *b)
{
        struct container *c = b->container;
        if (!c)
                return;
        if (c->made_dirs) {
                if (rmdir(c->bus_dir) < 0 && errno != ENOENT)
                        bus_log(b, LOG_WARNING, "cannot remove %s: %m", c->bus_dir);
                if (rmdir(c->dir) < 0 && errno != ENOENT)
                        bus_log(b, LOG_WARNING, "cannot remove %s: %m", c->dir);
        }
        safe_close(c->pidfd);
        ns_user_unref(c->user_ns);
        bridge_policy_free(c->policy);
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
                bus_log(b, LOG_ERR,
                        "a container bus needs CAP_SYS_PTRACE to read its peers' namespaces (run it as "
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
        return 0;
}
