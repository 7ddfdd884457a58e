/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state file of a managed container bus, in JSON (json-c both ways), so that shell scripts and the
 * runtime hooks can read it with any JSON tool and `nsbusctl ls --json` prints the same fields; and what
 * a bus that was killed left next to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "address.h"
#include "state.h"
#include "util.h"

static const char *const bridge_states[] = {
        [BRIDGE_NONE] = "none",       [BRIDGE_RUNNING] = "running", [BRIDGE_RESTARTING] = "restarting",
        [BRIDGE_REFUSED] = "refused", [BRIDGE_STOPPED] = "stopped",
};

const char *bridge_state_name(enum bridge_state b)
{
        return (size_t)b < ELEMENTSOF(bridge_states) ? bridge_states[b] : "unknown";
}

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

void bus_state_done(struct bus_state *s)
{
        free(s->name);
        free(s->bridge_error);
        free(s->policy);
        free(s->config);
        free(s->host_bus);
        free(s->socket);
        free(s->log);
        strv_free(s->bus_argv);
        strv_free(s->bridge_argv);
        *s = (struct bus_state){0};
}

static struct json_object *string_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *strv_to_json(char **v)
{
        if (!v)
                return NULL;
        struct json_object *a = json_object_new_array();
        for (char **p = v; *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        return a;
}

struct json_object *bus_state_to_json(const struct bus_state *s)
{
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", string_or_null(s->name));
        json_object_object_add(o, "init_pid", json_object_new_int64(s->init_pid));
        json_object_object_add(o, "supervisor_pid", json_object_new_int64(s->supervisor_pid));
        json_object_object_add(o, "bus_pid", json_object_new_int64(s->bus_pid));
        json_object_object_add(o, "bridge_pid", json_object_new_int64(s->bridge_pid));
        json_object_object_add(o, "bridge", json_object_new_string(bridge_state_name(s->bridge)));
        json_object_object_add(o, "bridge_restarts", json_object_new_int64(s->bridge_restarts));
        json_object_object_add(o, "bridge_error", string_or_null(s->bridge_error));
        json_object_object_add(o, "started", json_object_new_int64(s->started));
        json_object_object_add(o, "bridge_started", json_object_new_int64(s->bridge_started));
        json_object_object_add(o, "policy", string_or_null(s->policy));
        json_object_object_add(o, "config", string_or_null(s->config));
        json_object_object_add(o, "host_bus", string_or_null(s->host_bus));
        json_object_object_add(o, "socket", string_or_null(s->socket));
        json_object_object_add(o, "log", string_or_null(s->log));
        json_object_object_add(o, "bus_command", strv_to_json(s->bus_argv));
        json_object_object_add(o, "bridge_command", strv_to_json(s->bridge_argv));
        return o;
}

int bus_state_write(int dir_fd, const struct bus_state *s)
{
        struct json_object *o = bus_state_to_json(s);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        int r = 0;
        int fd = openat(dir_fd, STATE_FILE ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                r = -errno;
        else {
                size_t len = strlen(text);
                if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
                        r = errno ? -errno : -EIO;
                if (close(fd) < 0 && r == 0)
                        r = -errno;
                if (r == 0 && renameat(dir_fd, STATE_FILE ".new", dir_fd, STATE_FILE) < 0)
                        r = -errno;
        }
        json_object_put(o);
        return r;
}

static char *get_string(struct json_object *o, const char *key)
{
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return strdup(json_object_get_string(v));
}

static int64_t get_int(struct json_object *o, const char *key)
{
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        return json_object_get_int64(v);
}

static char **get_strv(struct json_object *o, const char *key)
{
        struct json_object *a;
        if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
                return NULL;
        size_t n = json_object_array_length(a);
        char **v = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; v && i < n; i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(a, i));
                if (!(v[i] = strdup(e ? e : ""))) {
                        strv_free(v);
                        return NULL;
                }
        }
        return v;
}

int bus_state_read(int dir_fd, struct bus_state *s, char *err, size_t errlen)
{
        *s = (struct bus_state){0};
        _cleanup_close_ int fd = openat(dir_fd, STATE_FILE, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char buf[64 * 1024];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        enum json_tokener_error e;
        struct json_object *o = json_tokener_parse_verbose(buf, &e);
        if (!o || !json_object_is_type(o, json_type_object)) {
                snprintf(err, errlen, "%s: not a state file (%s)", STATE_FILE,
                         o ? "not an object" : json_tokener_error_desc(e));
                json_object_put(o);
                return -EINVAL;
        }
        s->name = get_string(o, "name");
        s->init_pid = (pid_t)get_int(o, "init_pid");
        s->supervisor_pid = (pid_t)get_int(o, "supervisor_pid");
        s->bus_pid = (pid_t)get_int(o, "bus_pid");
        s->bridge_pid = (pid_t)get_int(o, "bridge_pid");
        _cleanup_free_ char *bridge = get_string(o, "bridge");
        s->bridge = BRIDGE_NONE;
        for (size_t i = 0; bridge && i < ELEMENTSOF(bridge_states); i++)
                if (streq(bridge, bridge_states[i]))
                        s->bridge = (enum bridge_state)i;
        s->bridge_restarts = (unsigned)get_int(o, "bridge_restarts");
        s->bridge_error = get_string(o, "bridge_error");
        s->started = get_int(o, "started");
        s->bridge_started = get_int(o, "bridge_started");
        s->policy = get_string(o, "policy");
        s->config = get_string(o, "config");
        s->host_bus = get_string(o, "host_bus");
        s->socket = get_string(o, "socket");
        s->log = get_string(o, "log");
        s->bus_argv = get_strv(o, "bus_command");
        s->bridge_argv = get_strv(o, "bridge_command");
        json_object_put(o);
        if (!s->name) {
                bus_state_done(s);
                snprintf(err, errlen, "%s: names no container", STATE_FILE);
                return -EINVAL;
        }
        return 0;
}

bool bus_state_supervised(int dir_fd)
{
        _cleanup_close_ int fd = openat(dir_fd, STATE_LOCK, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                return false; /* nobody holds it */
        return errno == EWOULDBLOCK;
}

int bus_dir_remove_stale(int dir_fd, bool keep_bus_dir)
{
        _cleanup_close_ int bus_fd =
                openat(dir_fd, CONTAINER_BUS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (bus_fd < 0 && errno != ENOENT)
                return -errno;
        struct {
                int dir_fd;
                const char *name;
                bool stale;
        } sockets[] = {{dir_fd, CONTAINER_HOST_SOCKET}, {bus_fd, CONTAINER_BUS_SOCKET}};
        for (size_t i = 0; i < ELEMENTSOF(sockets); i++) {
                if (sockets[i].dir_fd < 0)
                        continue;
                int r = unix_socket_answers(sockets[i].dir_fd, sockets[i].name);
                if (r > 0)
                        return -EADDRINUSE;
                if (r < 0 && r != -ENOENT)
                        return r;
                sockets[i].stale = r == 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(sockets); i++)
                if (sockets[i].stale && unlinkat(sockets[i].dir_fd, sockets[i].name, 0) < 0 &&
                    errno != ENOENT)
                        return -errno;
        if (bus_fd >= 0 && !keep_bus_dir && unlinkat(dir_fd, CONTAINER_BUS_DIR, AT_REMOVEDIR) < 0 &&
            errno != ENOENT)
                return -errno;
        return 0;
}
