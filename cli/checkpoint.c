/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl checkpoint and restore: a container's process tree through CRIU (libcriu), with its bus
 * connections, which CRIU's nsbus plugin (criu/) saves and gives back through the container's bus
 * (docs/checkpoint.md).
 *
 *   checkpoint NAME DIR [--leave-running]   dump the tree of NAME's init into DIR
 *   restore NAME DIR [--bus=same|fresh]     restore it, onto NAME's bus as it runs (same; the default
 *                                           when one is up) or onto a bus started for it (fresh)
 *
 * NAME's bus knows the init (state.json). After a dump without --leave-running the bus waits for the
 * restore (nsbusd does that by itself after an export), and RUNTIME_DIR/NAME/checkpoint says where the
 * images are, for `ls`. A restore may go to another NAME than the dump's: the plugin is pointed at that
 * bus ($NSBUS_CRIU_HOST_SOCKET, $NSBUS_CRIU_BUS_SOCKET), and the supervisor is told the restored init.
 *
 * CRIU runs as `criu swrk` (libcriu's service), from $NSBUS_CRIU or PATH; the plugin is loaded from
 * CRIU's own plugin directory, or $CRIU_LIBS_DIR when set (the build tree's tests set it).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "manager.h"
#include "state.h"
#include "supervise.h"
#include "util.h"
#include "verbs.h"

#define SUPERVISE_CHECKPOINT "checkpoint"       /* RUNTIME_DIR/NAME/checkpoint: the images dir, for ls */
#define CHECKPOINT_INFO "nsbus-checkpoint.json" /* DIR/...: what nsbusctl dumped, for its restore */
#define CHECKPOINT_BUS_MOUNT "/run/dbus"
#define CHECKPOINT_BUS_MOUNT_KEY "nsbus-bus"

#ifdef NSBUS_HAVE_LIBCRIU
#include <criu/criu.h>

/* What of DIR/dump.log (or restore.log) says why CRIU failed: its error lines, at most the last few. */
static void show_criu_errors(int dir_fd, const char *log)
{
        _cleanup_close_ int fd = openat(dir_fd, log, O_RDONLY | O_CLOEXEC);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f)
                return;
        fd = -1;
        char *lines[6] = {0}, *line = NULL;
        size_t n = 0, len = 0;
        while (getline(&line, &len, f) > 0)
                if (strstr(line, "Error") || strstr(line, "nsbus-criu:")) {
                        free(lines[n % ELEMENTSOF(lines)]);
                        lines[n++ % ELEMENTSOF(lines)] = strdup(line);
                }
        for (size_t i = n > ELEMENTSOF(lines) ? n - ELEMENTSOF(lines) : 0; i < n; i++) {
                fprintf(stderr, "  %s", lines[i % ELEMENTSOF(lines)] ? lines[i % ELEMENTSOF(lines)] : "");
                free(lines[i % ELEMENTSOF(lines)]);
        }
        free(line);
        fclose(f);
}

/* Does pid's mount namespace have a mount at path (the bus's bind at /run/dbus)? */
static bool has_mount(pid_t pid, const char *path)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        char *line = NULL;
        size_t len = 0;
        bool found = false;
        while (f && !found && getline(&line, &len, f) > 0) {
                char mnt[4096];
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && streq(mnt, path))
                        found = true;
        }
        free(line);
        return found;
}

static bool same_ns(pid_t pid, const char *ns)
{
        char a[64];
        struct stat x, y;
        snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
        return stat(a, &x) == 0 && stat(strcat(strcpy(a, "/proc/self/ns/"), ns), &y) == 0 &&
               x.st_ino == y.st_ino;
}

/* The options every run shares: the service binary, the images, a log in them. */
static int criu_opts_new(const char *verb, int dir_fd, const char *log, criu_opts **ret)
{
        /* criu_local_init_opts() frees what *o points at first: it must start out NULL, or it frees
         * whatever the stack held (a crash of every checkpoint and restore in some builds). */
        criu_opts *c = NULL;
        if (criu_local_init_opts(&c) < 0)
                return cli_fail(-ENOMEM, "%s: cannot set up libcriu", verb);
        const char *criu = getenv("NSBUS_CRIU");
        if ((criu && criu_local_set_service_binary(c, criu) < 0) || criu_local_set_log_file(c, log) < 0) {
                criu_local_free_opts(c);
                return cli_fail(-ENOMEM, "%s: cannot set up libcriu", verb);
        }
        criu_local_set_images_dir_fd(c, dir_fd);
        criu_local_set_log_level(c, 4);
        *ret = c;
        return 0;
}

/* What a dump needs to tell its restore. */
struct dump_info {
        bool shell_job;  /* the session leader is outside the tree */
        bool own_mounts; /* the init has a mount namespace of its own */
        bool bus_mount;  /* ... with the bus's bind at /run/dbus in it */
        char *root;      /* the init's root directory as the host sees it, when not the host's */
};

static void dump_info_done(struct dump_info *d)
{
        free(d->root);
        *d = (struct dump_info){0};
}

static int write_info(int dir_fd, const char *name, pid_t init, bool leave_running,
                      const struct dump_info *d)
{
        struct json_object *j = json_object_new_object();
        json_object_object_add(j, "name", json_object_new_string(name));
        json_object_object_add(j, "init", json_object_new_int(init));
        json_object_object_add(j, "time", json_object_new_int64((int64_t)time(NULL)));
        json_object_object_add(j, "leave-running", json_object_new_boolean(leave_running));
        json_object_object_add(j, "shell-job", json_object_new_boolean(d->shell_job));
        json_object_object_add(j, "own-mounts", json_object_new_boolean(d->own_mounts));
        json_object_object_add(j, "bus-mount", json_object_new_boolean(d->bus_mount));
        if (d->root)
                json_object_object_add(j, "root", json_object_new_string(d->root));
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
        _cleanup_close_ int fd =
                openat(dir_fd, CHECKPOINT_INFO, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int r = fd >= 0 && dprintf(fd, "%s\n", text) > 0 ? 0 : -errno;
        json_object_put(j);
        return r;
}

static int read_info(int dir_fd, struct dump_info *d)
{
        _cleanup_close_ int fd = openat(dir_fd, CHECKPOINT_INFO, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct json_object *j = json_object_from_fd(fd), *v;
        if (!j)
                return -EINVAL;
        d->shell_job = json_object_object_get_ex(j, "shell-job", &v) && json_object_get_boolean(v);
        d->own_mounts = json_object_object_get_ex(j, "own-mounts", &v) && json_object_get_boolean(v);
        d->bus_mount = json_object_object_get_ex(j, "bus-mount", &v) && json_object_get_boolean(v);
        if (json_object_object_get_ex(j, "root", &v) && json_object_is_type(v, json_type_string))
                d->root = strdup(json_object_get_string(v));
        json_object_put(j);
        return 0;
}

/* One line of a mountinfo file: its device, the path inside the filesystem it shows (root) and where. */
struct mount_line {
        char dev[32];
        char root[PATH_MAX];
        char at[PATH_MAX];
};

/* The mount of f at path (the last one wins, as the kernel shows the top one last): true and *ret. */
static bool find_mount(FILE *f, const char *at, const char *dev, struct mount_line *ret)
{
        char *line = NULL;
        size_t len = 0;
        bool found = false;
        struct mount_line m;
        while (getline(&line, &len, f) > 0) {
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." (no field holds a space: the kernel escapes it) */
                if (sscanf(line, "%*s %*s %31s %4095s %4095s", m.dev, m.root, m.at) != 3)
                        continue;
                if ((at && streq(m.at, at)) || (dev && streq(m.dev, dev) && !found)) {
                        *ret = m;
                        found = true;
                }
        }
        free(line);
        return found;
}

/* Where the host sees the init's root directory, for CRIU's --root on restore: its root mount is a
 * directory of a filesystem the host has mounted too (the runtime's rootfs), found by device and path.
 * NULL when the init's root is the host's, or not a directory the host can reach. */
static char *root_of(pid_t pid)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
        _cleanup_fclose_ FILE *theirs = fopen(p, "re");
        _cleanup_fclose_ FILE *ours = fopen("/proc/self/mountinfo", "re");
        struct mount_line r, host;
        if (!theirs || !ours || !find_mount(theirs, "/", NULL, &r) || !find_mount(ours, NULL, r.dev, &host))
                return NULL;
        /* The host's mount of that device shows host.root of it at host.at: the init's root is inside it. */
        size_t n = strlen(host.root);
        if (streq(host.root, "/"))
                n = 0;
        else if (strncmp(r.root, host.root, n) != 0 || (r.root[n] && r.root[n] != '/'))
                return NULL;
        char *path = NULL;
        if (asprintf(&path, "%s%s", streq(host.at, "/") ? "" : host.at, r.root + n) < 0)
                return NULL;
        if (!path[0] || streq(path, "/")) {
                free(path);
                return NULL;
        }
        return path;
}

/* DIR, made if it is not there. 0711, not 0700, though the images hold the container's memory: CRIU
 * restores a container with a user namespace of its own from inside that namespace, where the restoring
 * task reads its images by name with no more rights than any other user (docs/checkpoint.md, Limits). */
static int open_images_dir(const char *verb, const char *dir, bool make)
{
        if (make && mkdir(dir, 0711) < 0 && errno != EEXIST)
                return cli_fail(-errno, "%s: cannot create %s: %m", verb, dir);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return cli_fail(-errno, "%s: %s: %m", verb, dir);
        return fd;
}

static int bus_dir_file(const struct cli_options *o, const char *name, const char *file, const char *text)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s/%s", o->runtime_dir, name, file);
        if (!text)
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        return fd >= 0 && dprintf(fd, "%s\n", text) > 0 ? 0 : -errno;
}

int verb_checkpoint(const struct cli_options *o, int argc, char **argv)
{
        if (argc != 3)
                return cli_fail(-EINVAL, "checkpoint: give NAME and DIR");
        const char *name = argv[1], *dir = argv[2];
        if (geteuid() != 0)
                return cli_fail(-EPERM, "checkpoint %s: must be run as root", name);
        pid_t init = manager_bus_init(o, name);
        if (init < 0)
                return init;
        if (init == 0 || kill(init, 0) < 0)
                return cli_fail(-ESRCH, "checkpoint %s: no bus of %s serves a running container", name,
                                name);
        _cleanup_close_ int dir_fd = open_images_dir("checkpoint", dir, true);
        if (dir_fd < 0)
                return dir_fd;

        /* A tree whose session leader is outside is a "shell job" to CRIU; the bus's bind at /run/dbus in
         * a container with its own mount namespace is a mount CRIU cannot know: named, for the restore. */
        _cleanup_(dump_info_done) struct dump_info d = {
                .shell_job = getsid(init) != init,
                .own_mounts = !same_ns(init, "mnt"),
                .root = root_of(init),
        };
        d.bus_mount = d.own_mounts && has_mount(init, CHECKPOINT_BUS_MOUNT);
        criu_opts *c;
        int r = criu_opts_new("checkpoint", dir_fd, "dump.log", &c);
        if (r < 0)
                return r;
        criu_local_set_pid(c, init);
        criu_local_set_leave_running(c, o->leave_running);
        criu_local_set_shell_job(c, d.shell_job);
        if (d.bus_mount)
                criu_local_add_ext_mount(c, CHECKPOINT_BUS_MOUNT, CHECKPOINT_BUS_MOUNT_KEY);
        /* Other binds of host directories into the container are external too, found by CRIU. */
        if (d.own_mounts)
                criu_local_set_auto_ext_mnt(c, true);
        r = criu_local_dump(c);
        criu_local_free_opts(c);
        if (r < 0) {
                cli_fail(-EIO, "checkpoint %s: CRIU could not dump init %d (%s/dump.log):", name, (int)init,
                         dir);
                show_criu_errors(dir_fd, "dump.log");
                return -EIO;
        }
        if ((r = write_info(dir_fd, name, init, o->leave_running, &d)) < 0)
                return cli_fail(r, "checkpoint %s: cannot write %s/%s: %s", name, dir, CHECKPOINT_INFO,
                                strerror(-r));
        _cleanup_free_ char *abs = realpath(dir, NULL);
        if (!o->leave_running)
                bus_dir_file(o, name, SUPERVISE_CHECKPOINT, abs ? abs : dir);
        if (!o->quiet)
                printf("%s: checkpointed into %s%s\n", name, dir,
                       o->leave_running ? " (still running)" : "");
        return 0;
}

/* Which bus the restore goes to: NAME's, running (same) or started for it (fresh). */
static int restore_bus(const struct cli_options *o, const char *name, const char *dir, bool *fresh)
{
        pid_t init = manager_bus_init(o, name);
        if (init < 0)
                return init;
        bool up = manager_bus_up(o, name);
        const char *mode = o->restore_bus ? o->restore_bus : up ? "same" : "fresh";
        if (streq(mode, "same")) {
                if (!up)
                        return cli_fail(-ESRCH, "restore %s: --bus=same, but no bus of %s is up", name,
                                        name);
                if (init > 0 && kill(init, 0) == 0)
                        return cli_fail(
                                -EBUSY,
                                "restore %s: the container of that bus still runs (init %d): restore "
                                "into another NAME, or stop it first",
                                name, (int)init);
                *fresh = false;
                return 0;
        }
        if (!streq(mode, "fresh"))
                return cli_fail(-EINVAL, "restore %s: --bus=%s: say same or fresh", name, mode);
        if (up)
                return cli_fail(-EBUSY,
                                "restore %s: a bus of %s is up: `nsbusctl down %s` first, or --bus=same",
                                name, name, name);
        *fresh = true;
        _cleanup_free_ char *abs = realpath(dir, NULL);
        if (!abs)
                return cli_fail(-errno, "restore %s: %s: %m", name, dir);
        return manager_up(o, name, 0, abs);
}

int verb_restore(const struct cli_options *o, int argc, char **argv)
{
        if (argc != 3)
                return cli_fail(-EINVAL, "restore: give NAME and DIR");
        const char *name = argv[1], *dir = argv[2];
        if (geteuid() != 0)
                return cli_fail(-EPERM, "restore %s: must be run as root", name);
        _cleanup_close_ int dir_fd = open_images_dir("restore", dir, false);
        if (dir_fd < 0)
                return dir_fd;
        _cleanup_(dump_info_done) struct dump_info d = {0};
        bool fresh = false;
        int r = read_info(dir_fd, &d);
        if (r < 0)
                return cli_fail(r, "restore %s: %s/%s: %s (not a checkpoint of nsbusctl's)", name, dir,
                                CHECKPOINT_INFO, r == -EINVAL ? "not JSON" : strerror(-r));
        if ((r = restore_bus(o, name, dir, &fresh)) < 0)
                return r;

        /* The plugin gives the connections back to NAME's bus, whichever bus dumped them. */
        char host_sock[PATH_MAX], bus_dir[PATH_MAX], bus_sock[PATH_MAX + 32];
        snprintf(host_sock, sizeof(host_sock), "%s/%s/" CONTAINER_HOST_SOCKET, o->runtime_dir, name);
        snprintf(bus_dir, sizeof(bus_dir), "%s/%s/" CONTAINER_BUS_DIR, o->runtime_dir, name);
        snprintf(bus_sock, sizeof(bus_sock), "%s/" CONTAINER_BUS_SOCKET, bus_dir);
        setenv("NSBUS_CRIU_HOST_SOCKET", host_sock, 1);
        setenv("NSBUS_CRIU_BUS_SOCKET", bus_sock, 1);
        criu_opts *c;
        if ((r = criu_opts_new("restore", dir_fd, "restore.log", &c)) < 0)
                return r;
        criu_local_set_shell_job(c, d.shell_job);
        if (d.root)
                criu_local_set_root(c, d.root);
        if (d.own_mounts)
                criu_local_set_auto_ext_mnt(c, true);
        /* CRIU mounts an external source from inside the restored user namespace, as the container's root,
         * who may not enter RUNTIME_DIR/NAME (root's, 0700): it gets the bus directory through a bind where
         * it may, for as long as the restore takes. */
        char bind[PATH_MAX] = "";
        if (d.bus_mount) {
                snprintf(bind, sizeof(bind), "%s/.restore-%s-XXXXXX", o->runtime_dir, name);
                if (!mkdtemp(bind) || chmod(bind, 0755) < 0 ||
                    mount(bus_dir, bind, NULL, MS_BIND, NULL) < 0) {
                        r = -errno;
                        if (bind[0])
                                rmdir(bind);
                        criu_local_free_opts(c);
                        return cli_fail(r, "restore %s: cannot bind %s for CRIU: %s", name, bus_dir,
                                        strerror(-r));
                }
                criu_local_add_ext_mount(c, CHECKPOINT_BUS_MOUNT_KEY, bind);
        }
        pid_t init = criu_local_restore(c);
        criu_local_free_opts(c);
        if (d.bus_mount) {
                umount2(bind, MNT_DETACH);
                rmdir(bind);
        }
        if (init <= 0) {
                cli_fail(-EIO, "restore %s: CRIU could not restore %s (%s/restore.log):", name, dir, dir);
                show_criu_errors(dir_fd, "restore.log");
                if (fresh) {
                        char *down[] = {"down", (char *)name, NULL};
                        verb_down(o, 2, down);
                }
                return -EIO;
        }

        /* The supervisor asks the bus for the restored init (it would within a second anyway) and starts a
         * waiting bridge. */
        pid_t supervisor = manager_bus_supervisor(o, name);
        if (supervisor <= 0 || kill(supervisor, SIGHUP) < 0)
                fprintf(stderr,
                        "nsbusctl: restore %s: the supervisor of the bus was not told of the restore\n",
                        name);
        bus_dir_file(o, name, SUPERVISE_CHECKPOINT, NULL);
        if (!o->quiet)
                printf("%s: restored from %s (init %d) onto %s bus\n", name, dir, (int)init,
                       fresh ? "a fresh" : "its");
        return 0;
}

#else

int verb_checkpoint(const struct cli_options *o, int argc, char **argv)
{
        return cli_fail(-EOPNOTSUPP,
                        "checkpoint: this nsbusctl was built without libcriu (scripts/get-criu.sh "
                        "installs it; then build again)");
}

int verb_restore(const struct cli_options *o, int argc, char **argv)
{
        return cli_fail(-EOPNOTSUPP, "restore: this nsbusctl was built without libcriu (scripts/get-criu.sh "
                                     "installs it; then build again)");
}

#endif
