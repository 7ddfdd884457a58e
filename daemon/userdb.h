/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Users and groups by name or id: <user> and the user=/group= policy
 * attributes of the configuration, the user a bus drops to, the user a
 * service is activated as.
 *
 * nsbusd is linked statically: a bus per container must be small, and a
 * static binary maps about 0.8 MB less per process than one that maps
 * libc.so.6, libexpat and libcap. glibc's NSS cannot load its modules into a
 * static binary, so nothing here calls getpwnam() and friends. Instead:
 *
 *   1. /etc/passwd and /etc/group are read directly (fgetpwent_r() and
 *      fgetgrent_r() only parse lines; they are what nss_files does);
 *   2. a name or id that is not in those files is asked of getent(1), which
 *      goes through NSS like any other program, so LDAP, SSSD and systemd's
 *      userdb users resolve as they do for dbus-daemon.
 *
 * The same order as "passwd: files ..." in nsswitch.conf, which is where
 * every distribution puts files first.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct userdb_user {
        uid_t uid;
        gid_t gid;
        char *name;
        char *home;
        bool from_nss; /* not in the files: getent found it */
};

void userdb_user_done(struct userdb_user *u);

/* 0 and *ret filled, -ENOENT when no such user, -EINVAL for a name getent could take for an option, or
 * another -errno. */
int userdb_user_by_name(const char *name, struct userdb_user *ret);
int userdb_user_by_uid(uid_t uid, struct userdb_user *ret);
int userdb_group_by_name(const char *name, gid_t *ret);
int userdb_group_by_gid(gid_t gid, gid_t *ret); /* whether it exists: *ret = gid */

/* What initgroups() would set for a user: primary first, then every group of the files that lists the
 * user as a member, and for a user NSS found, what `getent initgroups` adds. The caller frees *ret. */
int userdb_groups_of(const struct userdb_user *u, gid_t **ret, size_t *n_ret);

/* The same in the /etc/passwd and /etc/group of another root (a container's, as an O_PATH descriptor of
 * its root directory), resolved inside it (rootfs.h) and nothing else: getent would answer from the
 * host's NSS. A name made of digits that no entry has is looked up as a uid. 0, -ENOENT when there is no
 * such user (or no passwd file), another -errno when the file cannot be read. */
int userdb_user_in_root(int root_fd, const char *name, struct userdb_user *ret);
/* What initgroups() would set for u inside that root: its primary group, then every group of the root's
 * /etc/group that lists it. */
int userdb_groups_in_root(int root_fd, const struct userdb_user *u, gid_t **ret, size_t *n_ret);

/* For tests: read DIR/passwd and DIR/group instead of /etc's, and run GETENT instead of /usr/bin/getent
 * (NULL: none). */
void userdb_set_paths(const char *dir, const char *getent);
