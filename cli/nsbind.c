/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host directory bound into a container's mount namespace (nsbind.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsbind.h"
#include "util.h"

/* In the child, in the container's mount namespace: open target's directory under root_fd, making what is
 * missing, as the container's root (its file systems, a tmpfs on /run mounted in
 * its user namespace, cannot hold a file of a uid they do not map: EOVERFLOW). An fd, or -errno with the
 * component that failed in what. */
static int open_target(int root_fd, const char *target, char *what, size_t n)
{
        int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", target);
        char *save = NULL;
        for (char *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                snprintf(what, n, "%s", c);
                if (streq(c, ".") || streq(c, "..")) {
                        close(fd);
                        return -EINVAL;
                }
                if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = next < 0 ? -errno : 0;
                close(fd);
                if (r < 0)
                        return r;
                fd = next;
        }
        return fd;
}

int nsbind_dir(int pidfd, const char *source, const char *root, const char *target, uid_t owner_uid,
               gid_t owner_gid, char *err, size_t errlen)
{
        if (root[0] != '/' || target[0] != '/' || strlen(target) >= PATH_MAX) {
                snprintf(err, errlen, "%s %s: not an absolute path", root, target);
                return -EINVAL;
        }
        const char *shown = streq(root, "/") ? "" : root; /* in messages, before target */
        _cleanup_close_ int tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) {
                int r = -errno;
                snprintf(err, errlen, "cannot clone the mount of %s: %s", source, strerror(-r));
                return r;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                int r = -errno;
                snprintf(err, errlen, "pipe: %s", strerror(-r));
                return r;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                snprintf(err, errlen, "fork: %s", strerror(-r));
                return r;
        }
        if (pid == 0) {
                /* The reason goes back as text on the pipe; the exit status says only yes or no. */
                close(p[0]);
                char what[NAME_MAX + 1] = "";
                if (setns(pidfd, CLONE_NEWNS) < 0) {
                        dprintf(p[1], "cannot enter the container's mount namespace: %m");
                        _exit(1);
                }
                /* The runtime's path to the root, as the host's root: it may pass links and root-only
                 * directories (podman's storage). */
                int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (root_fd < 0) {
                        dprintf(p[1], "the container's root %s: %m", root);
                        _exit(1);
                }
                umask(022);
                /* The file system ids only: root's capabilities come back with fsuid 0 for the mount. */
                setfsgid(owner_gid);
                setfsuid(owner_uid);
                int fd = open_target(root_fd, target, what, sizeof(what));
                setfsuid(0);
                setfsgid(0);
                if (fd < 0) {
                        dprintf(p[1], "%s%s (at \"%s\"): %s", shown, target, what,
                                fd == -ELOOP || fd == -ENOTDIR
                                        ? "not a directory (symlinks are not followed)"
                                        : strerror(-fd));
                        _exit(1);
                }
                if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                        dprintf(p[1], "cannot mount %s on %s%s: %m", source, shown, target);
                        _exit(1);
                }
                _exit(0);
        }
        close(p[1]);
        char msg[512];
        ssize_t len = 0, k;
        while (len < (ssize_t)sizeof(msg) - 1 &&
               ((k = read(p[0], msg + len, sizeof(msg) - 1 - (size_t)len)) > 0 || (k < 0 && errno == EINTR)))
                len += k > 0 ? k : 0;
        msg[len] = 0;
        close(p[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        snprintf(err, errlen, "waitpid: %m");
                        return -ECHILD;
                }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        snprintf(err, errlen, "%s", len > 0 ? msg : "the child that mounts ended without saying why");
        return -EIO;
}
