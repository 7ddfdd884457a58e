/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bind a host directory into a running container's mount namespace: how the runtime hooks put a container's
 * bus directory at /run/dbus inside it. The directory is cloned as a detached mount on the host
 * (open_tree), then moved onto the target from a child that has entered the container's mount namespace
 * (setns, move_mount), so nothing of the host's mount tree is needed inside and the host's root-only
 * RUNTIME_DIR/NAME is never looked up by the container's users.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Bind source (a host directory) at target (an absolute path under root) in the mount namespace of the
 * process behind pidfd. root is where the container's root directory is in that namespace: "/" once the
 * runtime has pivoted into it, its rootfs path before (what an OCI runtime's createRuntime hooks see). The
 * directories of target that are missing are made, mode 0755, by owner_uid:owner_gid (host ids: the
 * container's root, who owns them then); no symlink under root is followed, so an image cannot point the
 * mount elsewhere. 0, or negative with why in err. */
int nsbind_dir(int pidfd, const char *source, const char *root, const char *target, uid_t owner_uid,
               gid_t owner_gid, char *err, size_t errlen);
