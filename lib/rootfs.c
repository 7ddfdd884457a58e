/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files inside another root, resolved by the kernel (openat2, Linux 5.6)
 * rather than by walking components here: the kernel checks each step
 * against the root as it goes, so a symbolic link swapped in between two of
 * our calls cannot lead out of it. See rootfs.h.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include "rootfs.h"
#include "util.h"

int rootfs_open_root_of(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int rootfs_open(int root_fd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        /* An empty path would name the root itself only with AT_EMPTY_PATH semantics; ask for "/". */
        int fd = (int)syscall(SYS_openat2, root_fd, *path ? path : "/", &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

FILE *rootfs_fopen(int root_fd, const char *path)
{
        int fd = rootfs_open(root_fd, path, O_RDONLY | O_NOCTTY);
        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        FILE *f = fdopen(fd, "re");
        if (!f)
                closep(&fd); /* keeps errno */
        return f;
}

DIR *rootfs_opendir(int root_fd, const char *path)
{
        int fd = rootfs_open(root_fd, path, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        DIR *d = fdopendir(fd);
        if (!d)
                closep(&fd); /* keeps errno */
        return d;
}
