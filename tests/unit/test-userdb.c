/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon/userdb.c: users and groups from passwd/group files first, then from
 * getent (a stand-in script here that logs what it was asked), without NSS in
 * the process. Files users must never cost a getent run; names getent could
 * read as options never reach it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "test.h"
#include "userdb.h"
#include "util.h"

static char dir[] = "/tmp/test-userdb.XXXXXX";
static char log_path[256], getent_path[256];

static void write_file(const char *name, const char *text, mode_t mode)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        CHECK(f);
        CHECK(fputs(text, f) >= 0);
        CHECK_EQ(fclose(f), 0);
        CHECK_EQ(chmod(path, mode), 0);
}

/* What the stand-in getent was asked so far, one "DB KEY" per line. */
static char *getent_log(void)
{
        static char buf[4096];
        FILE *f = fopen(log_path, "re");
        if (!f)
                return strcpy(buf, "");
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static void setup(void)
{
        CHECK(mkdtemp(dir));
        snprintf(log_path, sizeof(log_path), "%s/getent.log", dir);
        snprintf(getent_path, sizeof(getent_path), "%s/getent", dir);

        char carol[4096], big[8192];
        char gecos[3001];
        memset(gecos, 'c', 3000);
        gecos[3000] = 0;
        snprintf(carol, sizeof(carol), "carol:x:1502:1502:%s:/home/carol:/bin/sh\n", gecos);
        char passwd[8192];
        snprintf(passwd, sizeof(passwd),
                 "alice:x:1500:1500:Alice:/home/alice:/bin/sh\n"
                 "this line is not an entry\n"
                 "bob:x:1501:100::/srv/bob:/bin/false\n"
                 "%s",
                 carol);
        write_file("passwd", passwd, 0644);

        /* A group whose member list is far longer than a first buffer. */
        size_t at = (size_t)snprintf(big, sizeof(big), "big:x:70:");
        for (int i = 0; i < 400; i++)
                at += (size_t)snprintf(big + at, sizeof(big) - at, "member%03d,", i);
        snprintf(big + at, sizeof(big) - at, "alice\n");
        char group[16384];
        snprintf(group, sizeof(group),
                 "alice:x:1500:\n"
                 "staff:x:50:alice,bob\n"
                 "audio:x:29:bob\n"
                 "%s",
                 big);
        write_file("group", group, 0644);

        char script[1024];
        snprintf(script, sizeof(script),
                 "#!/bin/sh\n"
                 "echo \"$1 $2\" >>%s\n"
                 "case \"$1 $2\" in\n"
                 "'passwd dave' | 'passwd 1600') echo 'dave:x:1600:1600:Dave:/home/dave:/bin/sh' ;;\n"
                 "'group nssgrp' | 'group 1700') echo 'nssgrp:x:1700:dave' ;;\n"
                 "'initgroups dave') echo 'dave                  1600 1700 1701' ;;\n"
                 "'passwd broken') echo 'broken:x:notanumber:1:::' ;;\n"
                 "*) exit 2 ;;\n"
                 "esac\n",
                 log_path);
        write_file("getent", script, 0755);
        userdb_set_paths(dir, getent_path);
}

static void test_files_users(void)
{
        struct userdb_user u;
        CHECK_EQ(userdb_user_by_name("alice", &u), 0);
        CHECK_EQ(u.uid, 1500);
        CHECK_EQ(u.gid, 1500);
        CHECK_STREQ(u.home, "/home/alice");
        CHECK(!u.from_nss);
        userdb_user_done(&u);

        CHECK_EQ(userdb_user_by_uid(1501, &u), 0);
        CHECK_STREQ(u.name, "bob");
        CHECK_EQ(u.gid, 100);
        CHECK_STREQ(u.home, "/srv/bob");
        userdb_user_done(&u);

        /* A line longer than the first buffer is read again, not skipped. */
        CHECK_EQ(userdb_user_by_name("carol", &u), 0);
        CHECK_EQ(u.uid, 1502);
        userdb_user_done(&u);

        gid_t g = 0;
        CHECK_EQ(userdb_group_by_name("staff", &g), 0);
        CHECK_EQ(g, 50);
        CHECK_EQ(userdb_group_by_gid(29, &g), 0);
        CHECK_EQ(g, 29);
        CHECK_EQ(userdb_group_by_name("big", &g), 0);
        CHECK_EQ(g, 70);

        /* None of that needed getent. */
        CHECK_STREQ(getent_log(), "");
}

static void test_getent_fallback(void)
{
        struct userdb_user u;
        CHECK_EQ(userdb_user_by_name("dave", &u), 0);
        CHECK_EQ(u.uid, 1600);
        CHECK_STREQ(u.home, "/home/dave");
        CHECK(u.from_nss);
        userdb_user_done(&u);
        CHECK_EQ(userdb_user_by_uid(1600, &u), 0);
        CHECK_STREQ(u.name, "dave");
        userdb_user_done(&u);

        gid_t g = 0;
        CHECK_EQ(userdb_group_by_name("nssgrp", &g), 0);
        CHECK_EQ(g, 1700);
        CHECK_EQ(userdb_group_by_gid(1700, &g), 0);

        CHECK_EQ(userdb_user_by_name("nobody-here", &u), -ENOENT);
        CHECK_EQ(userdb_group_by_name("no-group", &g), -ENOENT);
        CHECK_EQ(userdb_group_by_gid(4242, &g), -ENOENT);
        /* getent's answer must be a passwd line */
        CHECK_EQ(userdb_user_by_name("broken", &u), -EIO);

        /* Never handed to getent: it would read them as options or as two keys. */
        CHECK_EQ(userdb_user_by_name("--help", &u), -EINVAL);
        CHECK_EQ(userdb_user_by_name("a b", &u), -EINVAL);
        CHECK_EQ(userdb_user_by_name("", &u), -EINVAL);

        CHECK_STREQ(getent_log(), "passwd dave\npasswd 1600\ngroup nssgrp\ngroup 1700\npasswd nobody-here\n"
                                  "group no-group\ngroup 4242\npasswd broken\n");
}

static void check_groups(const char *name, const gid_t *want, size_t n_want)
{
        struct userdb_user u;
        gid_t *got = NULL;
        size_t n = 0;
        CHECK_EQ(userdb_user_by_name(name, &u), 0);
        CHECK_EQ(userdb_groups_of(&u, &got, &n), 0);
        CHECK_EQ(n, n_want);
        for (size_t i = 0; i < n; i++)
                CHECK_EQ(got[i], want[i]);
        free(got);
        userdb_user_done(&u);
}

static void test_groups_of(void)
{
        /* Primary first, then the files' memberships in file order, no duplicates. */
        check_groups("alice", (gid_t[]){1500, 50, 70}, 3);
        check_groups("bob", (gid_t[]){100, 50, 29}, 3);
        size_t before = strlen(getent_log());
        check_groups("carol", (gid_t[]){1502}, 1);
        /* a files user's groups come from the files alone */
        CHECK_EQ(strlen(getent_log()), before);
        /* a user NSS found gets what getent initgroups adds */
        check_groups("dave", (gid_t[]){1600, 1700, 1701}, 3);
        CHECK(strstr(getent_log(), "initgroups dave\n"));
}

static void test_without_getent(void)
{
        struct userdb_user u;
        userdb_set_paths(dir, NULL);
        CHECK_EQ(userdb_user_by_name("alice", &u), 0);
        userdb_user_done(&u);
        CHECK_EQ(userdb_user_by_name("dave", &u), -ENOENT);

        /* and with no files either */
        char none[300];
        snprintf(none, sizeof(none), "%s/none", dir);
        userdb_set_paths(none, NULL);
        CHECK_EQ(userdb_user_by_name("alice", &u), -ENOENT);
        gid_t g;
        CHECK_EQ(userdb_group_by_name("staff", &g), -ENOENT);
}

static int open_dir(const char *sub)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        return fd;
}

/* A container's users: its /etc/passwd and /etc/group, resolved inside its root and nothing else. */
static void test_in_root(void)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/ctr", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/ctr/etc", dir);
        CHECK_EQ(mkdir(path, 0755), 0);
        write_file("ctr/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nsvc:x:1000:1000::/var/svc:/bin/sh\n",
                   0644);
        write_file("ctr/etc/group", "root:x:0:\nsvc:x:1000:\naudio:x:29:svc\nstaff:x:50:root,svc\n", 0644);
        int root = open_dir("ctr");
        size_t asked = strlen(getent_log());

        struct userdb_user u;
        CHECK_EQ(userdb_user_in_root(root, "svc", &u), 0);
        CHECK_EQ(u.uid, 1000);
        CHECK_EQ(u.gid, 1000);
        CHECK_STREQ(u.home, "/var/svc");
        gid_t *groups = NULL;
        size_t n = 0;
        CHECK_EQ(userdb_groups_in_root(root, &u, &groups, &n), 0);
        CHECK_EQ(n, 3);
        CHECK_EQ(groups[0], 1000);
        CHECK_EQ(groups[1], 29);
        CHECK_EQ(groups[2], 50);
        free(groups);
        userdb_user_done(&u);
        /* A number is a uid, which needs an entry too. */
        CHECK_EQ(userdb_user_in_root(root, "1000", &u), 0);
        CHECK_STREQ(u.name, "svc");
        userdb_user_done(&u);
        CHECK_EQ(userdb_user_in_root(root, "4242", &u), -ENOENT);
        /* The host's users (in DIR/passwd here) and getent's are not the container's. */
        CHECK_EQ(userdb_user_in_root(root, "alice", &u), -ENOENT);
        CHECK_EQ(userdb_user_in_root(root, "dave", &u), -ENOENT);
        CHECK_EQ(strlen(getent_log()), asked);
        close(root);

        /* A container whose /etc/passwd leads out of its root, by an absolute link or by "..": the
         * link is followed inside the root, where there is no such file. */
        static const char *const escapes[] = {"abs", "rel"};
        for (size_t i = 0; i < ELEMENTSOF(escapes); i++) {
                char sub[64], target[600], link[600];
                snprintf(sub, sizeof(sub), "esc-%s", escapes[i]);
                snprintf(path, sizeof(path), "%s/%s", dir, sub);
                CHECK_EQ(mkdir(path, 0755), 0);
                snprintf(path, sizeof(path), "%s/%s/etc", dir, sub);
                CHECK_EQ(mkdir(path, 0755), 0);
                if (i == 0)
                        snprintf(target, sizeof(target), "%s/passwd", dir);
                else
                        snprintf(target, sizeof(target), "../../../../../../../..%s/passwd", dir);
                snprintf(link, sizeof(link), "%s/passwd", path);
                CHECK_EQ(symlink(target, link), 0);
                /* The same link followed on the host does reach the host's file. */
                FILE *f = fopen(link, "re");
                CHECK(f);
                fclose(f);
                root = open_dir(sub);
                CHECK_EQ(userdb_user_in_root(root, "alice", &u), -ENOENT);
                close(root);
        }
}

/* The real thing, as the daemon uses it: root is in every /etc/passwd. */
static void test_real_root(void)
{
        struct userdb_user u;
        userdb_set_paths("/etc", "/usr/bin/getent");
        CHECK_EQ(userdb_user_by_uid(0, &u), 0);
        CHECK_STREQ(u.name, "root");
        userdb_user_done(&u);
}

int main(void)
{
        int failed = 0;
        setup();
        RUN(test_files_users);
        RUN(test_getent_fallback);
        RUN(test_groups_of);
        RUN(test_without_getent);
        RUN(test_in_root);
        RUN(test_real_root);

        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return failed ? 1 : 0;
}
