/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbus-hook: the container runtimes' way to give each container a bus. A runtime runs it as a hook when a
 * container starts and when it has ended; it brings the container's bus up and down through the manager
 * verbs (manager.c), the one code path `nsbusctl up` and `down` take, and binds the bus directory at
 * /run/dbus inside the container (nsbind.c), so that the container's clients find
 * /run/dbus/system_bus_socket before its init runs.
 *
 *   nsbus-hook lxc              lxc.hook.start-host and lxc.hook.post-stop (hook version 0 or 1)
 *   nsbus-hook oci [STAGE]      createRuntime (or prestart) and poststop; the OCI state JSON on stdin
 *                               (without STAGE, its "status" says which)
 *
 * Why start-host for LXC: it is the first hook that knows the container's init (LXC_PID), which has not
 * exec'd yet, so the bus accepts before init runs. OCI runtimes run createRuntime once the container's
 * mounts are made and before it pivots into its root: the bind goes under config.json's root path there
 * (a bind mount in config.json itself would need the bus directory before the container, and its id,
 * exist). The bind cannot be LXC's own mount (lxc.mount.entry
 * cannot name the container) nor an lxc.hook.mount one (in an id-mapped container that hook runs as the
 * container's root, which cannot reach the host's root-only RUNTIME_DIR/NAME): it is done from the host,
 * into the container's mount namespace.
 *
 * The settings are /etc/nsbus/nsbus.conf's (or $NSBUS_CONFIG's): "key = value" lines, '#' comments.
 * A failure says "nsbus-hook: <what>: <why>" on stderr (and in the bus's log), exits 1 so that the runtime
 * refuses the container, and leaves no bus behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "address.h"
#include "cli.h"
#include "connect.h"
#include "manager.h"
#include "nsbind.h"
#include "util.h"
#include "verbs.h"

#define HOOK_CONFIG "/etc/nsbus/nsbus.conf"
#define BUS_TARGET "/run/dbus"
#define OCI_STATE_MAX (1u << 20)
#define OCI_POLICY_ANNOTATION "org.nsbus.policy"

struct hook_config {
        char *host_bus, *runtime_dir, *policy_dir, *log_dir;
        bool add_user;
};

static void hook_config_done(struct hook_config *c)
{
        free(c->host_bus);
        free(c->runtime_dir);
        free(c->policy_dir);
        free(c->log_dir);
}

static char *trim(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

/* Read path into c (defaults first; a missing file at the default path is no error). */
static int hook_config_read(const char *path, bool required, struct hook_config *c)
{
        *c = (struct hook_config){.add_user = true};
        const char *bus = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (!(c->host_bus = strdup(bus && bus[0] ? bus : SYSTEM_BUS_DEFAULT)) ||
            !(c->runtime_dir = strdup("/run/nsbus")) || !(c->policy_dir = strdup(MANAGER_POLICY_DIR)) ||
            !(c->log_dir = strdup(MANAGER_LOG_DIR)))
                return -ENOMEM;
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT && !required ? 0 : cli_fail(-errno, "%s: %m", path);
        char line[4096];
        for (unsigned n = 1; fgets(line, sizeof(line), f); n++) {
                char *s = trim(line);
                if (!s[0] || s[0] == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq)
                        return cli_fail(-EINVAL, "%s:%u: not \"key = value\": %s", path, n, s);
                *eq = 0;
                char *key = trim(s), *value = trim(eq + 1);
                char **slot = streq(key, "host-bus")      ? &c->host_bus
                              : streq(key, "runtime-dir") ? &c->runtime_dir
                              : streq(key, "policy-dir")  ? &c->policy_dir
                              : streq(key, "log-dir")     ? &c->log_dir
                                                          : NULL;
                if (streq(key, "add-user")) {
                        if (!streq(value, "yes") && !streq(value, "no"))
                                return cli_fail(-EINVAL, "%s:%u: add-user = %s: not yes or no", path, n,
                                                value);
                        c->add_user = streq(value, "yes");
                        continue;
                }
                if (!slot)
                        return cli_fail(
                                -EINVAL,
                                "%s:%u: %s: unknown key (host-bus, runtime-dir, policy-dir, log-dir, "
                                "add-user)",
                                path, n, key);
                if (!value[0] || (slot != &c->host_bus && value[0] != '/'))
                        return cli_fail(-EINVAL, "%s:%u: %s = %s: %s", path, n, key, value,
                                        value[0] ? "must be an absolute path" : "empty");
                free(*slot);
                if (!(*slot = strdup(value)))
                        return -ENOMEM;
        }
        return 0;
}

/* The bus's log file: where the supervisor, nsbusd and nsbridge write, and where the hook's errors go
 * too (LXC shows a hook's output only in its debug log). */
static char log_path[PATH_MAX];

/* A name RUNTIME_DIR/NAME can be made of (nsbusctl up checks the same). */
static bool valid_name(const char *name)
{
        return name[0] && !strchr(name, '/') && name[0] != '.' && strlen(name) <= 200;
}

/* The manager's options for container name under c (up finds NAME.policy in the policy directory). */
static int options_for(const struct hook_config *c, const char *name, const char *policy,
                       struct cli_options *o)
{
        *o = (struct cli_options){
                .runtime_dir = c->runtime_dir,
                .host_bus = c->host_bus,
                .add_user = c->add_user,
                .policy = policy,
                .policy_dir = c->policy_dir,
                .quiet = true,
                .timeout_ms = 25000,
        };
        if (!valid_name(name))
                return cli_fail(-EINVAL, "%s: not a container name nsbus can use", name);
        snprintf(log_path, sizeof(log_path), "%s/%s.log", c->log_dir, name);
        if (mkdir(c->log_dir, 0750) < 0 && errno != EEXIST)
                return cli_fail(-errno, "%s: cannot create %s: %m", name, c->log_dir);
        o->log = log_path;
        if (cli_log_fd < 0)
                cli_log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        return 0;
}

/* A line for the bus's log (runtimes show a hook's output only in their debug logs). */
_printf_(1, 2) static void note(const char *fmt, ...)
{
        if (cli_log_fd < 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        dprintf(cli_log_fd, "%s: ", cli_program);
        vdprintf(cli_log_fd, fmt, ap);
        dprintf(cli_log_fd, "\n");
        va_end(ap);
}

/* Whether NAME's bus is up with its container away: it outlived its init, which it does only after a
 * checkpoint (the bus says so: it serves init 0 then). */
static bool checkpointed(const struct hook_config *c, const char *name)
{
        pid_t init = -1;
        return cli_container_init(c->runtime_dir, name, 5000, &init) >= 0 && init == 0;
}

/* The container's init has started: its bus up, bound at /run/dbus inside. */
static int start(const struct hook_config *c, const char *name, pid_t init, const char *root,
                 const char *policy)
{
        struct cli_options o;
        int r = options_for(c, name, policy, &o);
        if (r < 0)
                return r;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, init, 0);
        if (pidfd < 0)
                return cli_fail(-errno, "%s: the container's init (pid %d): %m", name, (int)init);
        pid_t running = manager_bus_init(&o, name);
        if (running < 0)
                return running;
        if (running > 0 && running != init && checkpointed(c, name)) {
                /* Started afresh instead of restored: that checkpoint's bus is of no use any more. */
                note("%s: its bus was waiting for a restore; the container starts afresh, so does the bus",
                     name);
                if ((r = verb_down(&o, 2, (char *[]){(char *)"down", (char *)name, NULL})) < 0)
                        return r;
                running = 0;
        }
        if (running > 0 && running != init)
                return cli_fail(-EBUSY,
                                "%s: a bus of that name already runs for init %d, not this container's %d "
                                "(`nsbusctl down %s` stops it)",
                                name, (int)running, (int)init, name);
        o.pid = init;
        if ((r = verb_up(&o, 2, (char *[]){(char *)"up", (char *)name, NULL})) < 0) {
                cli_fail(r, "%s: its bus did not start (the line above says why; more in %s)", name,
                         log_path);
                verb_down(&o, 2, (char *[]){(char *)"down", (char *)name, NULL});
                return r;
        }
        uid_t uid;
        gid_t gid;
        char source[PATH_MAX], err[1024];
        snprintf(source, sizeof(source), "%s/%s/" CONTAINER_BUS_DIR, c->runtime_dir, name);
        if ((r = manager_container_root(init, &uid, &gid)) < 0)
                snprintf(err, sizeof(err), "cannot read the id maps of pid %d: %s", (int)init, strerror(-r));
        else
                r = nsbind_dir(pidfd, source, root, BUS_TARGET, uid, gid, err, sizeof(err));
        if (r < 0) {
                cli_fail(r, "%s: cannot bind its bus at %s in the container: %s", name, BUS_TARGET, err);
                verb_down(&o, 2, (char *[]){(char *)"down", (char *)name, NULL});
                return r;
        }
        return 0;
}

/* The container has ended: its bus down (it ends with the container's init anyway; this waits for it and
 * removes RUNTIME_DIR/NAME). Unless the container was checkpointed (lxc-checkpoint -s, a runtime's
 * checkpoint that stops it): then its bus stays, with every connection saved, for the restore onto it, and
 * ends with the restored container, or `nsbusctl down NAME`, or a fresh start of the container. */
static int stop(const struct hook_config *c, const char *name)
{
        struct cli_options o;
        int r = options_for(c, name, NULL, &o);
        if (r < 0)
                return r;
        if (checkpointed(c, name)) {
                note("%s: checkpointed: its bus stays for the restore (`nsbusctl down %s` ends it)", name,
                     name);
                return 0;
        }
        r = verb_down(&o, 2, (char *[]){(char *)"down", (char *)name, NULL});
        return r < 0 ? cli_fail(r, "%s: its bus did not stop (see the line above)", name) : 0;
}

static int hook_lxc(const struct hook_config *c, int argc, char **argv)
{
        /* Hook version 0 appends NAME, the section ("lxc") and the hook type; version 1 sets them in the
         * environment. */
        const char *name = getenv("LXC_NAME"), *type = getenv("LXC_HOOK_TYPE");
        if (argc >= 4) {
                name = argv[1];
                type = argv[3];
        }
        if (!name || !type)
                return cli_fail(-EINVAL, "lxc: run me as an LXC hook (LXC_NAME and LXC_HOOK_TYPE, or LXC's "
                                         "arguments NAME SECTION TYPE, are missing)");
        if (streq(type, "start-host")) {
                const char *pid_s = getenv("LXC_PID");
                char *end = NULL;
                long pid = pid_s ? strtol(pid_s, &end, 10) : 0;
                if (!pid_s || *end || pid <= 1)
                        return cli_fail(-EINVAL, "lxc %s: LXC_PID=%s: not the container's init pid", name,
                                        pid_s ? pid_s : "(unset)");
                return start(c, name, (pid_t)pid, "/", NULL);
        }
        if (streq(type, "post-stop"))
                return stop(c, name);
        return cli_fail(-EINVAL, "lxc %s: lxc.hook.%s: nsbus-hook is a start-host and post-stop hook", name,
                        type);
}

/* The OCI state on stdin (runtime-spec "State"): its id, pid and the policy annotation. */
static int read_oci_state(struct json_object **ret)
{
        size_t len = 0;
        _cleanup_free_ char *buf = malloc(OCI_STATE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (ssize_t n; len < OCI_STATE_MAX; len += (size_t)n)
                if ((n = read(0, buf + len, OCI_STATE_MAX - len)) <= 0) {
                        if (n < 0 && errno == EINTR) {
                                n = 0;
                                continue;
                        }
                        if (n < 0)
                                return cli_fail(-errno, "oci: reading the state on stdin: %m");
                        break;
                }
        if (len >= OCI_STATE_MAX)
                return cli_fail(-EFBIG, "oci: the state on stdin is over %u bytes", OCI_STATE_MAX);
        if (len == 0)
                return cli_fail(-EINVAL, "oci: the state on stdin is empty (run me as an OCI hook)");
        buf[len] = 0;
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        struct json_object *state = json_tokener_parse_ex(tok, buf, (int)len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t at = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!state || e != json_tokener_success || !json_object_is_type(state, json_type_object)) {
                json_object_put(state);
                return cli_fail(-EINVAL, "oci: the state on stdin is not a JSON object (%s, at byte %zu)",
                                state && e == json_tokener_success ? "another JSON type"
                                                                   : json_tokener_error_desc(e),
                                at);
        }
        *ret = state;
        return 0;
}

static const char *json_string_member(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

/* Where the container's root is before the runtime pivots into it (createRuntime): the bundle's
 * config.json "root"."path", relative to the bundle unless absolute. 0, or negative after saying why. */
static int oci_root(const char *stage, const char *id, const char *bundle, char *buf, size_t n)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/config.json", bundle);
        struct json_object *config = json_object_from_file(path), *root = NULL;
        const char *p = config && json_object_object_get_ex(config, "root", &root)
                                ? json_string_member(root, "path")
                                : NULL;
        int r = 0;
        if (!p || !p[0])
                r = cli_fail(-EINVAL, "oci %s %s: %s: %s", stage, id, path,
                             config ? "no \"root\": {\"path\"}" : "cannot read it as JSON");
        else if ((size_t)snprintf(buf, n, "%s%s%s", p[0] == '/' ? "" : bundle, p[0] == '/' ? "" : "/", p) >=
                 n)
                r = cli_fail(-ENAMETOOLONG, "oci %s %s: the root path is too long", stage, id);
        json_object_put(config);
        return r;
}

static int hook_oci(const struct hook_config *c, int argc, char **argv)
{
        if (argc > 2)
                return cli_fail(-EINVAL, "oci: give at most the STAGE");
        const char *stage = argc == 2 ? argv[1] : NULL;
        if (stage && !streq(stage, "createRuntime") && !streq(stage, "prestart") &&
            !streq(stage, "poststop"))
                return cli_fail(-EINVAL,
                                "oci %s: not a stage nsbus-hook runs at (createRuntime, prestart, "
                                "poststop)",
                                stage);
        struct json_object *state = NULL;
        int r = read_oci_state(&state);
        if (r < 0)
                return r;
        /* Without a STAGE (one podman hooks.d file for both stages), the state's status tells: "creating"
         * or "created" at the start, "stopped" at the end. */
        const char *status = json_string_member(state, "status");
        if (!stage && status && (streq(status, "creating") || streq(status, "created")))
                stage = "createRuntime";
        else if (!stage && status && streq(status, "stopped"))
                stage = "poststop";
        if (!stage) {
                json_object_put(state);
                return cli_fail(-EINVAL, "oci: no STAGE given, and the state's status (%s) does not tell",
                                status ? status : "none");
        }
        bool up = !streq(stage, "poststop");
        const char *id = json_string_member(state, "id"), *bundle = json_string_member(state, "bundle");
        char root[PATH_MAX];
        struct json_object *pid_o = NULL, *ann = NULL;
        int64_t pid = 0;
        if (json_object_object_get_ex(state, "pid", &pid_o) && json_object_is_type(pid_o, json_type_int))
                pid = json_object_get_int64(pid_o);
        const char *policy = json_object_object_get_ex(state, "annotations", &ann) &&
                                             json_object_is_type(ann, json_type_object)
                                     ? json_string_member(ann, OCI_POLICY_ANNOTATION)
                                     : NULL;
        if (!id)
                r = cli_fail(-EINVAL, "oci %s: the state has no \"id\" string", stage);
        else if (!valid_name(id))
                r = cli_fail(-EINVAL, "oci %s: id \"%s\": not a container name nsbus can use", stage, id);
        else if (!up)
                r = stop(c, id);
        else if (pid <= 1 || pid > INT32_MAX)
                r = cli_fail(-EINVAL, "oci %s %s: the state has no \"pid\" of the container's process",
                             stage, id);
        else if (policy && policy[0] != '/')
                r = cli_fail(-EINVAL, "oci %s %s: annotation %s=%s: must be an absolute path", stage, id,
                             OCI_POLICY_ANNOTATION, policy);
        else if (!bundle || bundle[0] != '/')
                r = cli_fail(-EINVAL, "oci %s %s: the state has no absolute \"bundle\" path", stage, id);
        else if ((r = oci_root(stage, id, bundle, root, sizeof(root))) >= 0)
                r = start(c, id, (pid_t)pid, root, policy);
        json_object_put(state);
        return r;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: nsbus-hook lxc            (lxc.hook.start-host, lxc.hook.post-stop)\n"
                "       nsbus-hook oci [STAGE]    (createRuntime or prestart, poststop; state on stdin)\n"
                "Starts a container's D-Bus bus with the container and stops it after (nsbus-hooks(8)).\n"
                "Settings: %s, or the file $NSBUS_CONFIG names.\n",
                HOOK_CONFIG);
}

int main(int argc, char **argv)
{
        cli_program = "nsbus-hook";
        signal(SIGPIPE, SIG_IGN);
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h")))
                return cli_common_option('h', cli_program, usage);
        if (argc >= 2 && streq(argv[1], "--version"))
                return cli_common_option(CLI_ARG_VERSION, cli_program, usage);
        if (argc < 2 || (!streq(argv[1], "lxc") && !streq(argv[1], "oci"))) {
                usage(stderr);
                return 1;
        }
        const char *path = getenv("NSBUS_CONFIG");
        struct hook_config c;
        int r = hook_config_read(path && path[0] ? path : HOOK_CONFIG, path && path[0], &c);
        if (r >= 0)
                r = streq(argv[1], "lxc") ? hook_lxc(&c, argc - 1, argv + 1)
                                          : hook_oci(&c, argc - 1, argv + 1);
        hook_config_done(&c);
        fflush(stdout);
        return r < 0 ? 1 : 0;
}
