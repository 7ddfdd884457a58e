/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/rootfs.c: files of another root, resolved inside it. A tree under /tmp plays the container's
 * root; a file next to it plays the host's. Every way out (an absolute path, "..", an absolute or a
 * relative symbolic link, a /proc magic link) must end inside the root or fail, never at the host's
 * file, which the same paths reach when the host follows them.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "rootfs.h"
#include "test.h"
#include "util.h"

static char dir[] = "/tmp/test-rootfs.XXXXXX";
static char root[300], host_file[300];

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        CHECK(f);
        CHECK(fputs(text, f) >= 0);
        CHECK_EQ(fclose(f), 0);
}

static void link_in_root(const char *name, const char *target)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        CHECK_EQ(symlink(target, path), 0);
}

static void setup(void)
{
        CHECK(mkdtemp(dir));
        snprintf(root, sizeof(root), "%s/root", dir);
        snprintf(host_file, sizeof(host_file), "%s/host-secret", dir);
        write_file(host_file, "host\n");
        char path[600];
        CHECK_EQ(mkdir(root, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc", root);
        CHECK_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc/hostname", root);
        write_file(path, "inside\n");
        char target[600];
        link_in_root("abs-in", "/etc/hostname");
        link_in_root("abs-out", host_file);
        snprintf(target, sizeof(target), "../../../../../../../../..%s", host_file);
        link_in_root("rel-out", target);
        link_in_root("etc/up", "../../host-secret");
}

static void check_content(int fd, const char *want)
{
        CHECK(fd >= 0);
        char buf[64] = "";
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        CHECK(n >= 0);
        buf[n] = 0;
        CHECK_STREQ(buf, want);
        close(fd);
}

static int open_root(void)
{
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        return fd;
}

static void test_inside(void)
{
        int r = open_root();
        check_content(rootfs_open(r, "etc/hostname", O_RDONLY), "inside\n");
        check_content(rootfs_open(r, "/etc/hostname", O_RDONLY), "inside\n");
        /* An absolute link is followed from the root, as in a chroot. */
        check_content(rootfs_open(r, "abs-in", O_RDONLY), "inside\n");
        /* ".." stops at the root. */
        check_content(rootfs_open(r, "../../../etc/hostname", O_RDONLY), "inside\n");
        int fd = rootfs_open(r, "etc", O_RDONLY);
        CHECK(fd >= 0);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        close(r);
}

static void test_no_way_out(void)
{
        /* The host's view of these links reaches the host's file... */
        char path[600];
        snprintf(path, sizeof(path), "%s/abs-out", root);
        check_content(open(path, O_RDONLY | O_CLOEXEC), "host\n");
        snprintf(path, sizeof(path), "%s/etc/up", root);
        check_content(open(path, O_RDONLY | O_CLOEXEC), "host\n");
        /* ...the root's does not. */
        int r = open_root();
        CHECK_EQ(rootfs_open(r, host_file, O_RDONLY), -ENOENT);
        CHECK_EQ(rootfs_open(r, "abs-out", O_RDONLY), -ENOENT);
        CHECK_EQ(rootfs_open(r, "rel-out", O_RDONLY), -ENOENT);
        CHECK_EQ(rootfs_open(r, "etc/up", O_RDONLY), -ENOENT);
        snprintf(path, sizeof(path), "../%s", strrchr(host_file, '/') + 1);
        CHECK_EQ(rootfs_open(r, path, O_RDONLY), -ENOENT);
        errno = 0;
        CHECK(!rootfs_fopen(r, "abs-out"));
        CHECK_EQ(errno, ENOENT);
        /* ".." above the root is the root. */
        DIR *d = rootfs_opendir(r, "../..");
        CHECK(d);
        bool etc = false;
        struct dirent *de;
        while ((de = readdir(d)))
                etc |= streq(de->d_name, "etc");
        CHECK(etc);
        closedir(d);
        close(r);
}

/* /proc/PID/root and /proc/PID/fd/N are refused: they could lead anywhere. The real root stands in for a
 * container's here (whose /proc would be its own). */
static void test_magic_links(void)
{
        int r = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(r >= 0);
        CHECK_EQ(rootfs_open(r, "/proc/self/root/etc", O_RDONLY), -ELOOP);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", r);
        CHECK_EQ(rootfs_open(r, path, O_RDONLY), -ELOOP);
        /* /proc/self itself is an ordinary link. */
        int fd = rootfs_open(r, "/proc/self/status", O_RDONLY);
        CHECK(fd >= 0);
        close(fd);
        close(r);
}

static void test_root_of(void)
{
        int fd = rootfs_open_root_of(getpid());
        CHECK(fd >= 0);
        struct stat a, b;
        CHECK_EQ(fstat(fd, &a), 0);
        CHECK_EQ(stat("/", &b), 0);
        CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
        close(fd);
        CHECK_EQ(rootfs_open_root_of(0x7ffffff0), -ENOENT);
}

static void test_listing(void)
{
        int r = open_root();
        DIR *d = rootfs_opendir(r, "/etc/../etc");
        CHECK(d);
        bool seen = false;
        struct dirent *de;
        while ((de = readdir(d)))
                seen |= streq(de->d_name, "hostname");
        CHECK(seen);
        closedir(d);
        FILE *f = rootfs_fopen(r, "abs-in");
        CHECK(f);
        char line[32];
        CHECK(fgets(line, sizeof(line), f));
        CHECK_STREQ(line, "inside\n");
        fclose(f);
        close(r);
}

int main(void)
{
        int failed = 0;
        setup();
        RUN(test_inside);
        RUN(test_no_way_out);
        RUN(test_magic_links);
        RUN(test_root_of);
        RUN(test_listing);
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return failed ? 1 : 0;
}
