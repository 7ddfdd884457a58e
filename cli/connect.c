/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How nsbusctl reaches a bus and calls on it (connect.h). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "address.h"
#include "connect.h"
#include "util.h"

const char *cli_program = "nsbusctl";
int cli_log_fd = -1;

int cli_fail(int r, const char *fmt, ...)
{
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s: %s\n", cli_program, msg);
        if (cli_log_fd >= 0)
                dprintf(cli_log_fd, "%s: %s\n", cli_program, msg);
        return r;
}

static int connect_to(const char *address, bool unix_fds, struct client **ret)
{
        char err[256] = "";
        int r = client_connect_with(address, geteuid(), unix_fds, ret, err, sizeof(err));
        if (r < 0)
                return cli_fail(r, "cannot connect to %s: %s", address, err[0] ? err : strerror(-r));
        return 0;
}

/* The address of a container's bus, for the host's root: its host.sock. */
static int container_address(const struct cli_options *o, const char *name, char **ret)
{
        if (!name[0] || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return cli_fail(-EINVAL, "%s: not a container name", name);
        _cleanup_free_ char *path = NULL, *escaped = NULL;
        if (asprintf(&path, "%s/%s/" CONTAINER_HOST_SOCKET, o->runtime_dir, name) < 0)
                return -ENOMEM;
        struct stat st;
        if (stat(path, &st) < 0)
                return cli_fail(-errno, "container %s: no bus is running for it (%s: %m)", name, path);
        if (address_escape_value(path, &escaped) < 0 || asprintf(ret, "unix:path=%s", escaped) < 0)
                return -ENOMEM;
        return 0;
}

/* The init pid of the container whose bus listens at address (org.nsbus.Container1.GetInfo): 0 and *ret
 * (0 while the bus waits for its container's restore), or -errno. Says nothing. */
static int ask_init(const char *address, int timeout_ms, pid_t *ret)
{
        _cleanup_(client_freep) struct client *c = NULL;
        char err[256];
        int r = client_connect(address, geteuid(), &c, err, sizeof(err));
        if (r < 0)
                return r;
        struct msg_builder b;
        cli_call_init(c, &b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.nsbus.Container1",
                      "GetInfo");
        struct message *call = NULL, *reply = NULL;
        uint32_t pid = 0;
        const char *name;
        struct msg_reader rd;
        if ((r = msg_builder_finish(&b, &call)) >= 0 &&
            (r = client_call_blocking(c, call, timeout_ms, &reply)) >= 0) {
                msg_reader_init(&rd, reply);
                if (reply->type != MESSAGE_METHOD_RETURN || !streq(reply->signature, "sua(uuu)a(uuu)") ||
                    msg_reader_read_basic(&rd, 's', &name) < 0 || msg_reader_read_basic(&rd, 'u', &pid) < 0)
                        r = -EPROTO;
        }
        message_unref(call);
        message_unref(reply);
        if (r < 0)
                return r;
        *ret = (pid_t)pid;
        return 0;
}

static pid_t container_init_pid(const struct cli_options *o, const char *address)
{
        pid_t pid = 0;
        return ask_init(address, o->timeout_ms, &pid) < 0 ? 0 : pid;
}

int cli_container_init(const char *runtime_dir, const char *name, int timeout_ms, pid_t *ret)
{
        _cleanup_free_ char *path = NULL, *escaped = NULL, *address = NULL;
        if (asprintf(&path, "%s/%s/" CONTAINER_HOST_SOCKET, runtime_dir, name) < 0 ||
            address_escape_value(path, &escaped) < 0 || asprintf(&address, "unix:path=%s", escaped) < 0)
                return -ENOMEM;
        return ask_init(address, timeout_ms, ret);
}

static bool same_namespace(pid_t a, pid_t b, const char *kind)
{
        char pa[64], pb[64];
        struct stat sa, sb;
        snprintf(pa, sizeof(pa), "/proc/%d/ns/%s", (int)a, kind);
        snprintf(pb, sizeof(pb), "/proc/%d/ns/%s", (int)b, kind);
        return stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Whether pid lives in the container whose init is init: in its pid namespace, or, for a container with
 * a user namespace of its own, in that (a process that made a pid namespace of its own inside is still
 * the container's). */
static bool same_container(pid_t pid, pid_t init)
{
        if (same_namespace(pid, init, "pid"))
                return true;
        return !same_namespace(init, 1, "user") && same_namespace(pid, init, "user");
}

/* --pid: the running container bus whose container pid is in. */
static int container_of_pid(const struct cli_options *o, char **ret)
{
        _cleanup_closedir_ DIR *d = opendir(o->runtime_dir);
        if (!d)
                return cli_fail(-errno, "--pid=%d: cannot read %s: %m", (int)o->pid, o->runtime_dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *address = NULL;
                char path[PATH_MAX];
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s/" CONTAINER_HOST_SOCKET, o->runtime_dir, de->d_name);
                if (stat(path, &st) < 0 || container_address(o, de->d_name, &address) < 0)
                        continue;
                pid_t init = container_init_pid(o, address);
                if (init > 0 && same_container(o->pid, init)) {
                        *ret = TAKE_PTR(address);
                        return 0;
                }
        }
        return cli_fail(-ESRCH, "--pid=%d: no running container bus serves the container of that process",
                        (int)o->pid);
}

int cli_connect(const struct cli_options *o, struct client **ret)
{
        _cleanup_free_ char *address = NULL;
        int r = cli_bus_address(o, &address);
        return r < 0 ? r : connect_to(address, !o->no_unix_fds, ret);
}

int cli_bus_address(const struct cli_options *o, char **ret)
{
        _cleanup_free_ char *owned = NULL;
        const char *address = o->address;
        int r = 0;
        if (o->container)
                r = container_address(o, o->container, &owned);
        else if (o->pid)
                r = container_of_pid(o, &owned);
        else if (!address && o->user) {
                address = getenv("DBUS_SESSION_BUS_ADDRESS");
                const char *xdg = getenv("XDG_RUNTIME_DIR");
                if (!address && xdg && asprintf(&owned, "unix:path=%s/bus", xdg) < 0)
                        return -ENOMEM;
                if (!address && !owned)
                        return cli_fail(-ENXIO, "--user: no session bus (DBUS_SESSION_BUS_ADDRESS and "
                                                "XDG_RUNTIME_DIR are not set)");
        } else if (!address) {
                address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
                if (!address)
                        address = SYSTEM_BUS_DEFAULT;
        }
        if (r < 0)
                return r;
        *ret = owned ? TAKE_PTR(owned) : strdup(address);
        return *ret ? 0 : -ENOMEM;
}

void cli_call_init(struct client *c, struct msg_builder *b, const char *dest, const char *path,
                   const char *iface, const char *member)
{
        msg_builder_init(b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b->destination = dest;
        b->path = path;
        b->interface = iface;
        b->member = member;
}

int cli_call(const struct cli_options *o, struct client *c, struct msg_builder *b, const char *what,
             struct message **reply)
{
        struct message *call;
        if (!o->auto_start)
                b->flags |= MESSAGE_FLAG_NO_AUTO_START;
        int r = msg_builder_finish(b, &call);
        if (r < 0)
                return cli_fail(r, "%s: cannot build the call: %s", what, strerror(-r));
        r = client_call_blocking(c, call, o->timeout_ms, reply);
        message_unref(call);
        if (r == -ETIMEDOUT)
                return cli_fail(r, "%s: no reply within %d ms", what, o->timeout_ms);
        if (r < 0)
                return cli_fail(r, "%s: %s", what,
                                r == -ECONNRESET   ? "the bus closed the connection"
                                : r == -EOPNOTSUPP ? "the bus does not pass file descriptors"
                                                   : strerror(-r));
        if ((*reply)->type == MESSAGE_ERROR) {
                const char *text = "";
                struct msg_reader rd;
                msg_reader_init(&rd, *reply);
                if (msg_reader_peek(&rd) == 's')
                        msg_reader_read_basic(&rd, 's', &text);
                cli_fail(-EREMOTEIO, "%s: %s: %s", what, (*reply)->error_name, text);
                *reply = message_unref(*reply);
                return -EREMOTEIO;
        }
        return 0;
}
