/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Become uid/gid with no supplementary groups, empty the capability sets (bounding and ambient too) and
 * set no-new-privs. Needs root. Returns 0 or -errno. */
int sandbox_drop_privileges(uid_t uid, gid_t gid);
/* Load the seccomp allowlist (sandbox.c). Returns 0, or a negative errno with a message in err. */
int sandbox_enter(char *err, size_t errlen);
