/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus addresses: parsing and escaping (including libdbus's own escape
 * test vectors), then listen + connect with real sockets for every unix:
 * form dbus-daemon accepts, checking the printed address matches what
 * dbus-daemon 1.14 prints for the same listen address.
 */
#include <fcntl.h>
#include <ftw.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "address.h"
#include "test.h"
#include "util.h"

#define GUID "0123456789abcdef0123456789abcdef"

static char tmp[64];

static struct address *parse_ok(const char *s)
{
        struct address *a = NULL;
        char err[256] = "";

        if (address_parse(s, &a, err, sizeof(err)) < 0) {
                fprintf(stderr, "parsing '%s' failed: %s\n", s, err);
                exit(1);
        }
        CHECK(a && a->n_entries > 0);
        return a;
}

static void test_parse(void)
{
        _cleanup_(address_freep) struct address *a =
                parse_ok("unix:path=/tmp/foo;tcp:host=localhost,port=1234,family=ipv4;");

        CHECK_EQ(a->n_entries, 2);
        CHECK_STREQ(a->entries[0].transport, "unix");
        CHECK_EQ(a->entries[0].n_pairs, 1);
        CHECK_STREQ(address_entry_get(&a->entries[0], "path"), "/tmp/foo");
        CHECK(address_entry_get(&a->entries[0], "abstract") == NULL);
        CHECK_STREQ(a->entries[1].transport, "tcp");
        CHECK_EQ(a->entries[1].n_pairs, 3);
        CHECK_STREQ(a->entries[1].pairs[0].key, "host");
        CHECK_STREQ(a->entries[1].pairs[2].key, "family");
        CHECK_STREQ(address_entry_get(&a->entries[1], "port"), "1234");
        address_free(TAKE_PTR(a));

        /* libdbus accepts a trailing ',' and an entry without pairs. */
        a = parse_ok("unix:path=/a,");
        CHECK_EQ(a->entries[0].n_pairs, 1);
        address_free(TAKE_PTR(a));
        a = parse_ok("unix:");
        CHECK_EQ(a->entries[0].n_pairs, 0);
        address_free(TAKE_PTR(a));

        a = parse_ok("unix:abstract=/tmp/dbus-x,guid=" GUID ";unixexec:path=ssh,argv1=-xT,argv2=host");
        CHECK_STREQ(address_entry_get(&a->entries[0], "guid"), GUID);
        CHECK_STREQ(address_entry_get(&a->entries[1], "argv1"), "-xT");
        address_free(TAKE_PTR(a));

        /* address_parse(NULL errbuf) is fine. */
        CHECK_EQ(address_parse("foo", &a, NULL, 0), -EINVAL);
        CHECK(a == NULL);
}

static void test_escaping(void)
{
        /* libdbus's escape_tests: escaped, unescaped. */
        static const char *const vectors[][2] = {
                {"abcde", "abcde"},
                {"%20%20", "  "},
                {"%24", "$"},
                {"%25", "%"},
                {"abc%24", "abc$"},
                {"%24abc", "$abc"},
                {"abc%24abc", "abc$abc"},
                {"/", "/"},
                {"-", "-"},
                {"_", "_"},
                {"A", "A"},
                {"I", "I"},
                {"Z", "Z"},
                {"a", "a"},
                {"i", "i"},
                {"z", "z"},
                {"%c3%b6", "\xc3\xb6"},
                {"\\*.", "\\*."},
                {"%2c%3b%3d%3a", ",;=:"},
        };
        char s[1024];

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                _cleanup_(address_freep) struct address *a = NULL;
                _cleanup_free_ char *escaped = NULL;

                snprintf(s, sizeof(s), "unix:path=%s", vectors[i][0]);
                a = parse_ok(s);
                CHECK_STREQ(address_entry_get(&a->entries[0], "path"), vectors[i][1]);
                CHECK_EQ(address_escape_value(vectors[i][1], &escaped), 0);
                CHECK_STREQ(escaped, vectors[i][0]);
        }

        /* Upper-case hex unescapes too; we print lower case, like libdbus. */
        _cleanup_(address_freep) struct address *a = parse_ok("unix:path=/tmp/a%2Cb");
        CHECK_STREQ(address_entry_get(&a->entries[0], "path"), "/tmp/a,b");

        /* Every byte survives escape + parse. */
        char all[256];
        _cleanup_free_ char *escaped = NULL, *formatted = NULL;
        for (int i = 1; i < 256; i++)
                all[i - 1] = (char)i;
        all[255] = '\0';
        CHECK_EQ(address_escape_value(all, &escaped), 0);
        snprintf(s, sizeof(s), "unix:abstract=%s", escaped);
        CHECK(strlen(s) < sizeof(s) - 1);
        _cleanup_(address_freep) struct address *b = parse_ok(s);
        CHECK_STREQ(address_entry_get(&b->entries[0], "abstract"), all);

        /* Formatting an entry gives back what dbus-daemon would print. */
        _cleanup_(address_freep) struct address *c = parse_ok("unix:path=/tmp/a%2cb/c%20d,guid=" GUID);
        CHECK_EQ(address_entry_format(&c->entries[0], &formatted), 0);
        CHECK_STREQ(formatted, "unix:path=/tmp/a%2cb/c%20d,guid=" GUID);
}

static void test_parse_errors(void)
{
        static const char *const bad[] = {
                /* libdbus's invalid_escaped_values, as path values */
                "unix:path=%a",
                "unix:path=%q",
                "unix:path=%az",
                "unix:path=%%",
                "unix:path=%$$",
                "unix:path=abc%a",
                "unix:path=%axyz",
                "unix:path=%",
                "unix:path=$",
                "unix:path= ",
                /* libdbus's bad addresses */
                "",
                "foo",
                "foo:bar",
                "unix:bar",
                "unix:path=foo,baz",
                "unix:path=foo;baz",
                "unix:=foo",
                "unix:path=",
                "unix:foo,path=baz",
                /* ours */
                "unix:path=/a,path=/b",
                "unix:path=/a;;unix:path=/b",
                ";unix:path=/a",
                "unix:,path=/a",
                "unix:path=/a,,dir=/b",
                "unix:path=/a%00b",
                "unix:guid=xyz",
                "unix:guid=" GUID "00",
                "unix:pa th=/x",
                ":path=/a",
                "UNIX:path=/a",
                "debug:name=test",
                "unix:path=/a=b",
                "unix:path=/a\\,b",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct address *a = NULL;
                char err[256] = "";

                if (address_parse(bad[i], &a, err, sizeof(err)) != -EINVAL) {
                        fprintf(stderr, "'%s' parsed\n", bad[i]);
                        exit(1);
                }
                CHECK(a == NULL);
                CHECK(err[0] != '\0');
        }

        /* The messages name the address and where in it the problem is. */
        struct address *a = NULL;
        char err[256], small[16];
        CHECK_EQ(address_parse("unix:path=/a%zz", &a, err, sizeof(err)), -EINVAL);
        CHECK_STREQ(err,
                    "address 'unix:path=/a%zz': bad escape at offset 12 (need %XX with two hex digits)");
        CHECK_EQ(address_parse("unix:path=/a;unix:path=/b,path=/c", &a, err, sizeof(err)), -EINVAL);
        CHECK_STREQ(err, "address 'unix:path=/a;unix:path=/b,path=/c': duplicate key 'path' at offset 26");
        CHECK_EQ(address_parse("unix:path=/a;uxix:path=/b", &a, err, sizeof(err)), -EINVAL);
        CHECK_STREQ(err, "address 'unix:path=/a;uxix:path=/b': unknown transport 'uxix' at offset 13");
        CHECK_EQ(address_parse("/tmp/bus", &a, err, sizeof(err)), -EINVAL);
        CHECK_STREQ(err, "address '/tmp/bus': missing ':' after the transport at offset 0");
        CHECK_EQ(address_parse("unix:path=a b", &a, err, sizeof(err)), -EINVAL);
        CHECK_STREQ(err, "address 'unix:path=a b': byte 0x20 at offset 11 should have been escaped");
        /* A short errbuf is truncated, never overrun. */
        CHECK_EQ(address_parse("unix:path=a b", &a, small, sizeof(small)), -EINVAL);
        CHECK_EQ(strlen(small), sizeof(small) - 1);
}

static bool fd_has(int fd, int get, int flag)
{
        int f = fcntl(fd, get);

        CHECK(f >= 0);
        return f & flag;
}

/* Listen on `listen_address`, check the printed address, connect to it and pass a byte. */
static void roundtrip(const char *listen_address, const char *expected, char **ret_path)
{
        _cleanup_(address_freep) struct address *la = parse_ok(listen_address), *ca = NULL;
        _cleanup_free_ char *printed = NULL;
        _cleanup_close_ int lfd = -1, cfd = -1, sfd = -1;
        char err[256] = "", c = 0;
        int v = 0;
        socklen_t vlen = sizeof(v);

        CHECK_EQ(address_listen(&la->entries[0], GUID, &lfd, &printed, err, sizeof(err)), 0);
        if (expected)
                CHECK_STREQ(printed, expected);
        CHECK(fd_has(lfd, F_GETFL, O_NONBLOCK));
        CHECK(fd_has(lfd, F_GETFD, FD_CLOEXEC));
        CHECK_EQ(getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen), 0);
        CHECK_EQ(v, 1);
        CHECK_EQ(getsockopt(lfd, SOL_SOCKET, SO_TYPE, &v, &vlen), 0);
        CHECK_EQ(v, SOCK_STREAM);
        /* Non-blocking: nobody is waiting yet. */
        CHECK_EQ(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), -1);
        CHECK_EQ(errno, EAGAIN);

        /* The printed address is connectable as it stands. */
        ca = parse_ok(printed);
        CHECK_STREQ(address_entry_get(&ca->entries[0], "guid"), GUID);
        CHECK_EQ(address_connect(&ca->entries[0], &cfd, err, sizeof(err)), 0);
        CHECK(fd_has(cfd, F_GETFD, FD_CLOEXEC));
        CHECK(!fd_has(cfd, F_GETFL, O_NONBLOCK));
        sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        CHECK(sfd >= 0);
        CHECK_EQ(write(cfd, "\0", 1), 1);
        CHECK_EQ(read(sfd, &c, 1), 1);
        CHECK_EQ(c, 0);

        if (ret_path) {
                const char *p = address_entry_get(&ca->entries[0], "path");
                *ret_path = p ? strdup(p) : NULL;
        }
}

static void test_listen_path(void)
{
        _cleanup_free_ char *addr = NULL, *expected = NULL, *path = NULL, *file = NULL;
        struct stat st;

        CHECK(asprintf(&addr, "unix:path=%s/bus%%2c1", tmp) > 0);
        CHECK(asprintf(&expected, "unix:path=%s/bus%%2c1,guid=" GUID, tmp) > 0);
        /* The socket file is 0777 whatever the umask, as dbus-daemon makes it: SASL and policy decide. */
        mode_t old = umask(027);
        roundtrip(addr, expected, &path);
        umask(old);
        CHECK_STREQ(strrchr(path, '/'), "/bus,1");
        CHECK_EQ(stat(path, &st), 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK_EQ(st.st_mode & 0777, 0777);

        /* The old socket is left behind, as after a crash; listening again replaces it. */
        roundtrip(addr, expected, NULL);

        /* Anything that is not a socket is never removed. */
        _cleanup_(address_freep) struct address *a = NULL;
        _cleanup_close_ int fd = -1;
        char err[256] = "";
        CHECK(asprintf(&file, "%s/regular", tmp) > 0);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        free(addr);
        CHECK(asprintf(&addr, "unix:path=%s", file) > 0);
        a = parse_ok(addr);
        int lfd = -1;
        CHECK_EQ(address_listen(&a->entries[0], GUID, &lfd, NULL, err, sizeof(err)), -EADDRINUSE);
        CHECK(strstr(err, "regular") != NULL);
        CHECK_EQ(lfd, -1);
        CHECK_EQ(stat(file, &st), 0);
        CHECK(S_ISREG(st.st_mode));
}

static void test_listen_abstract(void)
{
        _cleanup_free_ char *addr = NULL, *expected = NULL;

        CHECK(asprintf(&addr, "unix:abstract=/nsbus-test/%d/x%%20y", (int)getpid()) > 0);
        CHECK(asprintf(&expected, "unix:abstract=/nsbus-test/%d/x%%20y,guid=" GUID, (int)getpid()) > 0);
        roundtrip(addr, expected, NULL);

        /* A second listener on a name in use fails; nothing is "stale" in the abstract namespace. */
        _cleanup_(address_freep) struct address *a = parse_ok(addr);
        _cleanup_close_ int fd1 = -1, fd2 = -1;
        _cleanup_free_ char *printed = NULL;
        char err[256] = "";
        CHECK_EQ(address_listen(&a->entries[0], NULL, &fd1, &printed, err, sizeof(err)), 0);
        /* No guid: the bare connectable address. */
        CHECK(strchr(printed, ',') == NULL);
        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd2, NULL, err, sizeof(err)), -EADDRINUSE);
        CHECK(strstr(err, "'@/nsbus-test/") != NULL);
}

static void check_random_name(const char *path, const char *dir)
{
        const char *name = path + strlen(dir);

        CHECK(strncmp(path, dir, strlen(dir)) == 0);
        CHECK(strncmp(name, "/dbus-", 6) == 0);
        CHECK_EQ(strlen(name), 16);
        for (const char *p = name + 6; *p; p++)
                CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
}

static void test_listen_dir(void)
{
        static const char *const keys[] = {"dir", "tmpdir"};

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *addr = NULL, *p1 = NULL, *p2 = NULL;
                struct stat st;

                CHECK(asprintf(&addr, "unix:%s=%s", keys[i], tmp) > 0);
                /* tmpdir= gives a path socket too, as dbus-daemon 1.14 does. */
                roundtrip(addr, NULL, &p1);
                roundtrip(addr, NULL, &p2);
                CHECK(p1 && p2);
                check_random_name(p1, tmp);
                check_random_name(p2, tmp);
                CHECK(!streq(p1, p2));
                CHECK_EQ(stat(p1, &st), 0);
                CHECK(S_ISSOCK(st.st_mode));
        }

        _cleanup_(address_freep) struct address *a = parse_ok("unix:dir=/nonexistent/nsbus");
        char err[256] = "";
        int fd = -1;
        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd, NULL, err, sizeof(err)), -ENOENT);
        CHECK(strstr(err, "/nonexistent/nsbus/dbus-") != NULL);
}

static void test_listen_runtime(void)
{
        _cleanup_free_ char *dir = NULL, *expected = NULL;
        _cleanup_(address_freep) struct address *a = NULL;
        char err[256] = "";
        int fd = -1;

        CHECK(asprintf(&dir, "%s/run user", tmp) > 0);
        CHECK_EQ(mkdir(dir, 0700), 0);
        CHECK(asprintf(&expected, "unix:path=%s/run%%20user/bus,guid=" GUID, tmp) > 0);
        CHECK_EQ(setenv("XDG_RUNTIME_DIR", dir, 1), 0);
        roundtrip("unix:runtime=yes", expected, NULL);

        a = parse_ok("unix:runtime=yes");
        CHECK_EQ(unsetenv("XDG_RUNTIME_DIR"), 0);
        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd, NULL, err, sizeof(err)), -EINVAL);
        CHECK(strstr(err, "XDG_RUNTIME_DIR") != NULL);
        CHECK_EQ(setenv("XDG_RUNTIME_DIR", "", 1), 0);
        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd, NULL, err, sizeof(err)), -EINVAL);
        CHECK_EQ(fd, -1);
}

static void test_listen_connect_errors(void)
{
        static const struct {
                const char *address;
                int listen_error, connect_error;
        } cases[] = {
                {"tcp:host=localhost,port=0", -EPROTONOSUPPORT, -EPROTONOSUPPORT},
                {"unixexec:path=/bin/true", -EPROTONOSUPPORT, -EPROTONOSUPPORT},
                {"unix:", -EINVAL, -EINVAL},
                {"unix:guid=" GUID, -EINVAL, -EINVAL},
                {"unix:path=/a,abstract=/b", -EINVAL, -EINVAL},
                {"unix:dir=/tmp,tmpdir=/tmp", -EINVAL, -EINVAL},
                {"unix:runtime=no", -EINVAL, -EINVAL},
                {"unix:tmpdir=/tmp", 0, -EINVAL},
                {"unix:runtime=yes", 0, -EINVAL},
                {"unix:path=/nonexistent/nsbus/socket", -ENOENT, -ENOENT},
                {"unix:abstract=/nsbus-test/nobody-listens-here", 0, -ECONNREFUSED},
                {"unix:path=/tmp/"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                 -ENAMETOOLONG, -ENAMETOOLONG},
        };

        CHECK_EQ(setenv("XDG_RUNTIME_DIR", tmp, 1), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(address_freep) struct address *a = parse_ok(cases[i].address);
                char err[256] = "";
                int fd = -1;

                if (cases[i].listen_error) {
                        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd, NULL, err, sizeof(err)),
                                 cases[i].listen_error);
                        CHECK_EQ(fd, -1);
                        CHECK(err[0] != '\0');
                }
                err[0] = '\0';
                CHECK_EQ(address_connect(&a->entries[0], &fd, err, sizeof(err)), cases[i].connect_error);
                CHECK_EQ(fd, -1);
                CHECK(err[0] != '\0');
        }

        _cleanup_(address_freep) struct address *a = parse_ok("tcp:host=localhost,port=0");
        char err[256];
        int fd = -1;
        CHECK_EQ(address_listen(&a->entries[0], GUID, &fd, NULL, err, sizeof(err)), -EPROTONOSUPPORT);
        CHECK_STREQ(err, "transport 'tcp:' is not supported, nsbus only speaks 'unix:'");
}

static int remove_one(const char *path, _unused_ const struct stat *st, _unused_ int type,
                      _unused_ struct FTW *ftw)
{
        return remove(path);
}

static void cleanup_tmp(void)
{
        if (nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "/tmp/nsbus-test-address-XXXXXX");
        CHECK(mkdtemp(tmp) != NULL);
        atexit(cleanup_tmp);

        test_parse();
        test_escaping();
        test_parse_errors();
        test_listen_path();
        test_listen_abstract();
        test_listen_dir();
        test_listen_runtime();
        test_listen_connect_errors();
        return 0;
}
