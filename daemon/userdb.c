/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Users and groups without NSS in the process: the files, then getent(1).
 * See userdb.h for why.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/wait.h>

#include "rootfs.h"
#include "userdb.h"
#include "util.h"

static const char *passwd_path = "/etc/passwd";
static const char *group_path = "/etc/group";
static const char *getent_path = "/usr/bin/getent";

void userdb_set_paths(const char *dir, const char *getent)
{
        static char pw[4096], gr[4096];
        snprintf(pw, sizeof(pw), "%s/passwd", dir);
        snprintf(gr, sizeof(gr), "%s/group", dir);
        passwd_path = pw;
        group_path = gr;
        getent_path = getent;
}

void userdb_user_done(struct userdb_user *u)
{
        free(u->name);
        free(u->home);
        u->name = u->home = NULL;
}

static int user_fill(const char *name, uid_t uid, gid_t gid, const char *home, struct userdb_user *ret)
{
        struct userdb_user u = {.uid = uid, .gid = gid, .name = strdup(name), .home = strdup(home)};
        if (!u.name || !u.home) {
                userdb_user_done(&u);
                return -ENOMEM;
        }
        *ret = u;
        return 0;
}

/* --- the files ---------------------------------------------------------------------------------- */

/* Calls match(entry, userdata) for each well-formed line until it returns nonzero (returned) or the file
 * ends (-ENOENT). fgetpwent_r()/fgetgrent_r() rewind the line on ERANGE, so a long one is read again
 * with a bigger buffer. With root_fd >= 0, path is resolved inside that root (rootfs.h). */
#define DEFINE_FILES_SCAN(fn, type, fget)                                                                   \
        static int fn(int root_fd, const char *path, int (*match)(const struct type *, void *),             \
                      void *userdata)                                                                       \
        {                                                                                                   \
                _cleanup_fclose_ FILE *f = root_fd >= 0 ? rootfs_fopen(root_fd, path) : fopen(path, "re");  \
                if (!f)                                                                                     \
                        return errno == ENOENT ? -ENOENT : -errno;                                          \
                size_t size = 1024;                                                                         \
                _cleanup_free_ char *buf = malloc(size);                                                    \
                if (!buf)                                                                                   \
                        return -ENOMEM;                                                                     \
                for (;;) {                                                                                  \
                        struct type e, *res = NULL;                                                         \
                        int r = fget(f, &e, buf, size, &res);                                               \
                        if (r == ERANGE && size < 16 * 1024 * 1024) {                                       \
                                free(buf);                                                                  \
                                size *= 4;                                                                  \
                                buf = malloc(size);                                                         \
                                if (!buf)                                                                   \
                                        return -ENOMEM;                                                     \
                                continue;                                                                   \
                        }                                                                                   \
                        if (r == ENOENT)                                                                    \
                                return -ENOENT;                                                             \
                        if (r != 0)                                                                         \
                                return -r;                                                                  \
                        int m = match(res, userdata);                                                       \
                        if (m != 0)                                                                         \
                                return m;                                                                   \
                }                                                                                           \
        }
DEFINE_FILES_SCAN(scan_passwd, passwd, fgetpwent_r)
DEFINE_FILES_SCAN(scan_group, group, fgetgrent_r)

struct user_query {
        const char *name; /* or by uid */
        uid_t uid;
        struct userdb_user *ret;
};

static int match_user(const struct passwd *pw, void *userdata)
{
        struct user_query *q = userdata;
        if (q->name ? !streq(pw->pw_name, q->name) : pw->pw_uid != q->uid)
                return 0;
        int r = user_fill(pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir ? pw->pw_dir : "/", q->ret);
        return r < 0 ? r : 1;
}

struct group_query {
        const char *name; /* or by gid */
        gid_t gid;
        gid_t *ret;
};

static int match_group(const struct group *gr, void *userdata)
{
        struct group_query *q = userdata;
        if (q->name ? !streq(gr->gr_name, q->name) : gr->gr_gid != q->gid)
                return 0;
        *q->ret = gr->gr_gid;
        return 1;
}

/* --- getent ------------------------------------------------------------------------------------- */

/* Only a name getent cannot mistake for an option, and that cannot break its one-line answer. */
static bool key_ok(const char *key)
{
        size_t n = strlen(key);
        return n > 0 && n < 256 && key[0] != '-' && !strpbrk(key, ":\n\r\t ");
}

/* `getent DB KEY`: its first line in *ret. -ENOENT when getent says there is none (exit 2) or there is
 * no getent to ask. */
static int getent(const char *db, const char *key, char **ret)
{
        if (!getent_path)
                return -ENOENT;
        if (!key_ok(key))
                return -EINVAL;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(p[1], STDOUT_FILENO) < 0 ||
                    dup2(null, STDERR_FILENO) < 0)
                        _exit(127);
                execl(getent_path, "getent", db, key, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        char buf[65536];
        size_t n = 0;
        for (;;) {
                ssize_t k = read(p[0], buf + n, sizeof(buf) - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (n == sizeof(buf) - 1)
                        break;
        }
        close(p[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return WIFEXITED(status) && (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 127)
                               ? -ENOENT
                               : -EIO;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* Split a colon-separated line into exactly n fields (in place). */
static bool split_fields(char *line, char **f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                f[i] = line;
                char *c = strchr(line, ':');
                if (i + 1 < n) {
                        if (!c)
                                return false;
                        *c = 0;
                        line = c + 1;
                } else if (c) {
                        return false;
                }
        }
        return true;
}

static bool parse_id(const char *s, uint32_t *ret)
{
        if (!*s)
                return false;
        errno = 0;
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || errno || v >= UINT32_MAX || s[0] == '-')
                return false;
        *ret = (uint32_t)v;
        return true;
}

static int getent_user(const char *key, struct userdb_user *ret)
{
        _cleanup_free_ char *line = NULL;
        int r = getent("passwd", key, &line);
        if (r < 0)
                return r;
        char *f[7];
        uint32_t uid, gid;
        if (!split_fields(line, f, 7) || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
                return -EIO;
        r = user_fill(f[0], uid, gid, f[5], ret);
        if (r >= 0)
                ret->from_nss = true;
        return r;
}

static int getent_group(const char *key, gid_t *ret)
{
        _cleanup_free_ char *line = NULL;
        int r = getent("group", key, &line);
        if (r < 0)
                return r;
        char *f[4];
        uint32_t gid;
        if (!split_fields(line, f, 4) || !parse_id(f[2], &gid))
                return -EIO;
        *ret = gid;
        return 0;
}

/* --- the lookups -------------------------------------------------------------------------------- */

/* The files first; getent (by the same name or id, as KEY) only for what they do not have. */
static int lookup_user(struct user_query *q, const char *key)
{
        int r = scan_passwd(-1, passwd_path, match_user, q);
        if (r != -ENOENT)
                return r < 0 ? r : 0;
        return getent_user(key, q->ret);
}

static int lookup_group(struct group_query *q, const char *key)
{
        int r = scan_group(-1, group_path, match_group, q);
        if (r != -ENOENT)
                return r < 0 ? r : 0;
        return getent_group(key, q->ret);
}

int userdb_user_by_name(const char *name, struct userdb_user *ret)
{
        return lookup_user(&(struct user_query){.name = name, .ret = ret}, name);
}

int userdb_user_by_uid(uid_t uid, struct userdb_user *ret)
{
        char key[16];
        snprintf(key, sizeof(key), "%u", (unsigned)uid);
        return lookup_user(&(struct user_query){.uid = uid, .ret = ret}, key);
}

int userdb_group_by_name(const char *name, gid_t *ret)
{
        return lookup_group(&(struct group_query){.name = name, .ret = ret}, name);
}

int userdb_group_by_gid(gid_t gid, gid_t *ret)
{
        char key[16];
        snprintf(key, sizeof(key), "%u", (unsigned)gid);
        return lookup_group(&(struct group_query){.gid = gid, .ret = ret}, key);
}

struct groups_acc {
        const char *user;
        gid_t *gids;
        size_t n, allocated;
};

static int groups_add(struct groups_acc *a, gid_t gid)
{
        for (size_t i = 0; i < a->n; i++)
                if (a->gids[i] == gid)
                        return 0;
        if (a->n >= NGROUPS_MAX)
                return 0; /* as many as the kernel takes; initgroups() stops there too */
        if (GREEDY_REALLOC(a->gids, a->allocated, a->n + 1) < 0)
                return -ENOMEM;
        a->gids[a->n++] = gid;
        return 0;
}

static int match_member(const struct group *gr, void *userdata)
{
        struct groups_acc *a = userdata;
        for (char **m = gr->gr_mem; m && *m; m++)
                if (streq(*m, a->user))
                        return groups_add(a, gr->gr_gid);
        return 0;
}

/* The primary group, then every group of the file that lists u as a member. */
static int groups_from_file(int root_fd, const char *path, const struct userdb_user *u, struct groups_acc *a)
{
        int r = groups_add(a, u->gid);
        if (r >= 0)
                r = scan_group(root_fd, path, match_member, a);
        return r == -ENOENT ? 0 : r;
}

int userdb_groups_of(const struct userdb_user *u, gid_t **ret, size_t *n_ret)
{
        struct groups_acc a = {.user = u->name};
        int r = groups_from_file(-1, group_path, u, &a);
        /* Memberships NSS knows beyond the files: `getent initgroups NAME` prints "NAME gid gid ...". */
        _cleanup_free_ char *line = NULL;
        if (r >= 0 && u->from_nss && getent("initgroups", u->name, &line) >= 0) {
                char *save = NULL, *tok = strtok_r(line, " \t", &save);
                while (r >= 0 && (tok = strtok_r(NULL, " \t", &save))) {
                        uint32_t gid;
                        if (parse_id(tok, &gid))
                                r = groups_add(&a, gid);
                }
        }
        if (r < 0) {
                free(a.gids);
                return r;
        }
        *ret = a.gids;
        *n_ret = a.n;
        return 0;
}

/* --- another root's files ----------------------------------------------------------------------- */

int userdb_user_in_root(int root_fd, const char *name, struct userdb_user *ret)
{
        struct user_query q = {.name = name, .ret = ret};
        int r = scan_passwd(root_fd, "/etc/passwd", match_user, &q);
        if (r == -ENOENT) {
                /* As for <user>: a number names a uid, which must have an entry too. */
                uint32_t uid;
                if (!parse_id(name, &uid))
                        return -ENOENT;
                q = (struct user_query){.uid = uid, .ret = ret};
                r = scan_passwd(root_fd, "/etc/passwd", match_user, &q);
        }
        return r < 0 ? r : 0;
}

int userdb_groups_in_root(int root_fd, const struct userdb_user *u, gid_t **ret, size_t *n_ret)
{
        struct groups_acc a = {.user = u->name};
        int r = groups_from_file(root_fd, "/etc/group", u, &a);
        if (r < 0) {
                free(a.gids);
                return r;
        }
        *ret = a.gids;
        *n_ret = a.n;
        return 0;
}
