/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/state.c: state.json both ways, and bus_dir_remove_stale() on what a running and a killed bus leave. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "address.h"
#include "state.h"
#include "test.h"

static char dir[PATH_MAX]; /* the test's directory, made by open_dir() */

static int the_dir_fd = -1;

/* A socket bound at dir/path (through the directory's fd: its path may be longer than sun_path allows);
 * listening with backlog if backlog >= 0, else closed at once (as a killed bus's is). */
static int bind_at(const char *path, int backlog)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", the_dir_fd, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        if (backlog >= 0) {
                CHECK(listen(fd, backlog) == 0);
                return fd;
        }
        close(fd);
        return -1;
}

/* A new directory in $TMPDIR (else /tmp), its path in buf. */
static void make_temp_dir(char *buf, size_t n, const char *prefix)
{
        snprintf(buf, n, "%s/%s.XXXXXX", getenv("TMPDIR") ?: "/tmp", prefix); /* mkdtemp()'s template */
        CHECK(mkdtemp(buf));
}

static int open_dir(void)
{
        make_temp_dir(dir, sizeof(dir), "test-cli-state");
        int fd = open(dir, O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        return the_dir_fd = fd;
}

/* Remove what a test made in dir, and dir. */
static void close_dir(int dir_fd)
{
        static const char *const files[] = {STATE_FILE, CONTAINER_HOST_SOCKET,
                                            CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET,
                                            CONTAINER_BUS_DIR "/notes"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                unlinkat(dir_fd, files[i], 0);
        unlinkat(dir_fd, CONTAINER_BUS_DIR, AT_REMOVEDIR);
        close(dir_fd);
        CHECK(rmdir(dir) == 0);
}

static bool exists(int dir_fd, const char *path)
{
        return faccessat(dir_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_state_round_trip(void)
{
        int dir_fd = open_dir();
        char *bus_argv[] = {"nsbusd", "--container-pid=42", NULL};
        struct bus_state in = {
                .name = "web",
                .init_pid = 42,
                .supervisor_pid = 43,
                .bus_pid = 44,
                .bridge_pid = 45,
                .bridge = BRIDGE_RESTARTING,
                .bridge_restarts = 3,
                .bridge_error = "was killed by KILL",
                .started = 1700000000,
                .policy = "/etc/nsbus/web.policy",
                .bus_argv = bus_argv,
        };
        CHECK_EQ(bus_state_write(dir_fd, &in), 0);
        struct bus_state out;
        char err[256];
        CHECK_EQ(bus_state_read(dir_fd, &out, err, sizeof(err)), 0);
        CHECK_STREQ(out.name, "web");
        CHECK_EQ(out.init_pid, 42);
        CHECK_EQ(out.bridge_pid, 45);
        CHECK_EQ(out.bridge, BRIDGE_RESTARTING);
        CHECK_EQ(out.bridge_restarts, 3);
        CHECK_STREQ(out.bridge_error, "was killed by KILL");
        CHECK_EQ(out.started, 1700000000);
        CHECK_STREQ(out.policy, "/etc/nsbus/web.policy");
        CHECK(out.config == NULL);
        CHECK(out.bus_argv && !strcmp(out.bus_argv[1], "--container-pid=42") && !out.bus_argv[2]);
        bus_state_done(&out);
        /* Not a state file: refused with a reason, not taken as an empty state. */
        int fd = openat(dir_fd, STATE_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "[1]", 3) == 3);
        close(fd);
        CHECK_EQ(bus_state_read(dir_fd, &out, err, sizeof(err)), -EINVAL);
        CHECK(err[0]);
        unlinkat(dir_fd, STATE_FILE, 0);
        CHECK_EQ(bus_state_read(dir_fd, &out, err, sizeof(err)), -ENOENT);
        /* No lock, or a lock nobody holds: no supervisor. */
        CHECK(!bus_state_supervised(dir_fd));
        close_dir(dir_fd);
}

/* What a killed bus leaves (both sockets, nobody listening, and bus/) goes; an empty place is fine. */
static void test_remove_stale(void)
{
        int dir_fd = open_dir();
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), 0); /* nothing there */
        CHECK(mkdirat(dir_fd, CONTAINER_BUS_DIR, 0755) == 0);
        bind_at(CONTAINER_HOST_SOCKET, -1);
        bind_at(CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET, -1);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), 0);
        CHECK(!exists(dir_fd, CONTAINER_HOST_SOCKET));
        CHECK(!exists(dir_fd, CONTAINER_BUS_DIR));
        close_dir(dir_fd);
}

/* A bus that answers on either socket keeps everything, even a stale other one. */
static void test_live_bus_is_kept(void)
{
        int dir_fd = open_dir();
        CHECK(mkdirat(dir_fd, CONTAINER_BUS_DIR, 0755) == 0);
        bind_at(CONTAINER_HOST_SOCKET, -1);
        int l = bind_at(CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET, 4);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), -EADDRINUSE);
        CHECK(exists(dir_fd, CONTAINER_HOST_SOCKET));
        CHECK(exists(dir_fd, CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET));
        close(l);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), 0);
        CHECK(!exists(dir_fd, CONTAINER_BUS_DIR));
        close_dir(dir_fd);
}

/* Files no bus makes are not removed: a regular file where a socket should be, or more in bus/. */
static void test_foreign_files_are_kept(void)
{
        int dir_fd = open_dir();
        int fd = openat(dir_fd, CONTAINER_HOST_SOCKET, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), -ENOTSOCK);
        CHECK(exists(dir_fd, CONTAINER_HOST_SOCKET));
        CHECK(unlinkat(dir_fd, CONTAINER_HOST_SOCKET, 0) == 0);
        CHECK(mkdirat(dir_fd, CONTAINER_BUS_DIR, 0755) == 0);
        bind_at(CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET, -1);
        fd = openat(dir_fd, CONTAINER_BUS_DIR "/notes", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), -ENOTEMPTY);
        CHECK(exists(dir_fd, CONTAINER_BUS_DIR "/notes"));
        close_dir(dir_fd);
}

/* A container that still runs keeps bus/ (its /run/dbus); its stale socket goes all the same. */
static void test_keep_bus_dir(void)
{
        int dir_fd = open_dir();
        CHECK(mkdirat(dir_fd, CONTAINER_BUS_DIR, 0755) == 0);
        bind_at(CONTAINER_HOST_SOCKET, -1);
        bind_at(CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET, -1);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, true), 0);
        CHECK(!exists(dir_fd, CONTAINER_HOST_SOCKET));
        CHECK(!exists(dir_fd, CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET));
        CHECK(exists(dir_fd, CONTAINER_BUS_DIR));
        close_dir(dir_fd);
}

/* A bus whose backlog is full still answers (and the probe does not wait for room in it). */
static void test_full_backlog_answers(void)
{
        int dir_fd = open_dir();
        int l = bind_at(CONTAINER_HOST_SOCKET, 0);
        int waiting[2];
        for (size_t i = 0; i < ELEMENTSOF(waiting); i++) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd,
                         CONTAINER_HOST_SOCKET);
                waiting[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                CHECK(waiting[i] >= 0);
                int r = connect(waiting[i], (struct sockaddr *)&sa, sizeof(sa));
                /* Backlog 0 takes one; the second finds it full, as the probe will. */
                CHECK(i == 0 ? r == 0 : r < 0 && errno == EAGAIN);
        }
        CHECK_EQ(unix_socket_answers(dir_fd, CONTAINER_HOST_SOCKET), 1);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), -EADDRINUSE);
        CHECK(exists(dir_fd, CONTAINER_HOST_SOCKET));
        for (size_t i = 0; i < ELEMENTSOF(waiting); i++)
                close(waiting[i]);
        close(l);
        close_dir(dir_fd);
}

/* bus/ as a symlink is not followed: nothing it points at is removed. */
static void test_symlinked_bus_dir(void)
{
        int dir_fd = open_dir();
        char elsewhere[PATH_MAX];
        make_temp_dir(elsewhere, sizeof(elsewhere), "test-cli-state-elsewhere");
        CHECK(symlinkat(elsewhere, dir_fd, CONTAINER_BUS_DIR) == 0);
        bind_at(CONTAINER_BUS_DIR "/" CONTAINER_BUS_SOCKET, -1); /* lands in elsewhere */
        CHECK(bus_dir_remove_stale(dir_fd, false) < 0);
        char sock[PATH_MAX + sizeof(CONTAINER_BUS_SOCKET) + 1];
        snprintf(sock, sizeof(sock), "%s/%s", elsewhere, CONTAINER_BUS_SOCKET);
        CHECK(access(sock, F_OK) == 0);
        CHECK(unlink(sock) == 0 && rmdir(elsewhere) == 0);
        CHECK(unlinkat(dir_fd, CONTAINER_BUS_DIR, 0) == 0);
        close_dir(dir_fd);
}

/* A directory whose path is longer than sun_path: probed through its fd all the same. */
static void test_long_path(void)
{
        int top = open_dir();
        char name[81];
        memset(name, 'd', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        CHECK(mkdirat(top, name, 0700) == 0);
        int dir_fd = openat(top, name, O_DIRECTORY | O_CLOEXEC);
        CHECK(dir_fd >= 0 && strlen(dir) + 1 + strlen(name) + 1 + strlen(CONTAINER_HOST_SOCKET) > 108);
        the_dir_fd = dir_fd;
        bind_at(CONTAINER_HOST_SOCKET, -1);
        CHECK_EQ(unix_socket_answers(dir_fd, CONTAINER_HOST_SOCKET), 0);
        int l = bind_at("live", 1);
        CHECK_EQ(unix_socket_answers(dir_fd, "live"), 1);
        close(l);
        CHECK_EQ(bus_dir_remove_stale(dir_fd, false), 0);
        CHECK(!exists(dir_fd, CONTAINER_HOST_SOCKET));
        CHECK(unlinkat(dir_fd, "live", 0) == 0);
        close(dir_fd);
        CHECK(unlinkat(top, name, AT_REMOVEDIR) == 0);
        close_dir(top);
}

int main(void)
{
        int failed = 0;
        RUN(test_state_round_trip);
        RUN(test_remove_stale);
        RUN(test_live_bus_is_kept);
        RUN(test_foreign_files_are_kept);
        RUN(test_keep_bus_dir);
        RUN(test_full_backlog_answers);
        RUN(test_symlinked_bus_dir);
        RUN(test_long_path);
        return failed != 0;
}
