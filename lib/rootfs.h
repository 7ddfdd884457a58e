/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files of another root filesystem, such as a container's, opened from the
 * host. Every path is resolved inside the root (openat2() with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): "..", absolute symbolic links
 * and absolute paths stop at the root, as they would for a process chrooted
 * there, and /proc magic links (/proc/PID/root, /proc/PID/fd/N), which could
 * lead out of it, are refused with ELOOP. Whatever the root's owner puts in
 * it, the host reads nothing of its own through these functions.
 */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>

/* An O_PATH descriptor of the root directory of process pid (/proc/PID/root), or -errno. The caller
 * must check that pid is still the process it means (a pidfd) after this returns. */
int rootfs_open_root_of(pid_t pid);
/* open(2) path inside root_fd: a new descriptor (O_CLOEXEC is added), or -errno (ELOOP for a magic link,
 * ENOENT for what does not exist inside the root, whatever exists outside it). */
int rootfs_open(int root_fd, const char *path, int flags);
/* The same as a stdio stream for reading, or NULL with errno set. */
FILE *rootfs_fopen(int root_fd, const char *path);
/* The directory path inside root_fd, or NULL with errno set. */
DIR *rootfs_opendir(int root_fd, const char *path);
