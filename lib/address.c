/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus addresses: the parser, the escaper, and listen/connect for the unix:
 * transport, the only one nsbus serves.
 *
 * Listening copies dbus-daemon 1.14 exactly where clients or admins can see
 * the difference: the printed connectable address, the dbus-XXXXXXXXXX names
 * for dir=/tmpdir=, $XDG_RUNTIME_DIR/bus for runtime=yes, and removing a
 * stale socket file (but nothing else) before binding a path. The parser is
 * stricter than libdbus in one respect: it refuses duplicate keys instead of
 * silently using the first, since a config that says path= twice is a
 * mistake the admin should hear about.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "address.h"
#include "util.h"

/* The transports the specification defines; others are typos, not extensions. */
static const char *const address_transports[] = {
        "unix", "tcp", "nonce-tcp", "unixexec", "launchd", "systemd", "autolaunch",
};

/* Keys of a unix: address that say where the socket is; exactly one is allowed. */
static const char *const address_unix_keys[] = {"path", "abstract", "dir", "tmpdir", "runtime"};

_printf_(4, 5) static int address_fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
{
        va_list ap;

        if (errbuf && errlen > 0) {
                va_start(ap, fmt);
                vsnprintf(errbuf, errlen, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Spec, "Server Addresses": the optionally-escaped bytes are [-0-9A-Za-z_/.\*]. */
static bool address_is_plain(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
               c == '_' || c == '/' || c == '.' || c == '\\' || c == '*';
}

static bool address_is_key_char(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
               c == '_';
}

void address_free(struct address *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->n_entries; i++) {
                struct address_entry *e = &a->entries[i];

                for (size_t j = 0; j < e->n_pairs; j++) {
                        free(e->pairs[j].key);
                        free(e->pairs[j].value);
                }
                free(e->pairs);
                free(e->transport);
        }
        free(a->entries);
        free(a);
}

const char *address_entry_get(const struct address_entry *e, const char *key)
{
        for (size_t i = 0; i < e->n_pairs; i++)
                if (streq(e->pairs[i].key, key))
                        return e->pairs[i].value;
        return NULL;
}

/* Unescape s[0..n) (at offset `off` in str) into a new string. */
static int address_unescape(const char *str, size_t off, const char *s, size_t n, char **ret, char *errbuf,
                            size_t errlen)
{
        _cleanup_free_ char *v = malloc(n + 1);
        size_t len = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (address_is_plain(s[i])) {
                        v[len++] = s[i];
                        continue;
                }
                if (s[i] != '%')
                        return address_fail(
                                errbuf, errlen, -EINVAL,
                                "address '%s': byte 0x%02x at offset %zu should have been escaped", str,
                                (unsigned char)s[i], off + i);
                int hi = i + 2 < n ? hex_digit_value(s[i + 1]) : -1;
                int lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;
                if (hi < 0 || lo < 0)
                        return address_fail(
                                errbuf, errlen, -EINVAL,
                                "address '%s': bad escape at offset %zu (need %%XX with two hex digits)",
                                str, off + i);
                /* Values become C strings (socket paths); an embedded NUL would silently cut them. */
                if (hi == 0 && lo == 0)
                        return address_fail(errbuf, errlen, -EINVAL,
                                            "address '%s': escaped NUL byte at offset %zu", str, off + i);
                v[len++] = (char)(hi << 4 | lo);
                i += 2;
        }
        v[len] = '\0';
        *ret = TAKE_PTR(v);
        return 0;
}

static bool address_is_guid(const char *s)
{
        size_t n = strlen(s);

        if (n != 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (hex_digit_value(s[i]) < 0)
                        return false;
        return true;
}

/* One `key=value` at offset `off` of str, n bytes long. */
static int address_parse_pair(struct address_entry *e, size_t *allocated, const char *str, size_t off,
                              size_t n, char *errbuf, size_t errlen)
{
        const char *s = str + off, *eq = memchr(s, '=', n);
        size_t klen = eq ? (size_t)(eq - s) : 0;
        struct address_pair pair = {};
        int r;

        if (!eq || klen == 0)
                return address_fail(errbuf, errlen, -EINVAL,
                                    "address '%s': expected key=value at offset %zu", str, off);
        for (size_t i = 0; i < klen; i++)
                if (!address_is_key_char(s[i]))
                        return address_fail(errbuf, errlen, -EINVAL,
                                            "address '%s': invalid key at offset %zu", str, off);
        if (klen + 1 == n)
                return address_fail(errbuf, errlen, -EINVAL,
                                    "address '%s': key '%.*s' has no value at offset %zu", str, (int)klen, s,
                                    off);
        for (size_t i = 0; i < e->n_pairs; i++)
                if (strlen(e->pairs[i].key) == klen && memcmp(e->pairs[i].key, s, klen) == 0)
                        return address_fail(errbuf, errlen, -EINVAL,
                                            "address '%s': duplicate key '%.*s' at offset %zu", str,
                                            (int)klen, s, off);

        r = address_unescape(str, off + klen + 1, eq + 1, n - klen - 1, &pair.value, errbuf, errlen);
        if (r < 0)
                return r;
        pair.key = strndup(s, klen);
        if (!pair.key || GREEDY_REALLOC(e->pairs, *allocated, e->n_pairs + 1) < 0) {
                free(pair.key);
                free(pair.value);
                return -ENOMEM;
        }
        e->pairs[e->n_pairs++] = pair;

        if (streq(pair.key, "guid") && !address_is_guid(pair.value))
                return address_fail(errbuf, errlen, -EINVAL,
                                    "address '%s': guid at offset %zu is not 32 hex digits", str, off);
        return 0;
}

/* One `transport:key=value,...` at offset `off` of str, n bytes long (no ';'). */
static int address_parse_entry(struct address_entry *e, const char *str, size_t off, size_t n, char *errbuf,
                               size_t errlen)
{
        const char *s = str + off, *colon = memchr(s, ':', n);
        size_t allocated = 0, pos;
        bool known = false;

        if (n == 0)
                return address_fail(errbuf, errlen, -EINVAL, "address '%s': empty entry at offset %zu", str,
                                    off);
        if (!colon)
                return address_fail(errbuf, errlen, -EINVAL,
                                    "address '%s': missing ':' after the transport at offset %zu", str, off);
        e->transport = strndup(s, (size_t)(colon - s));
        if (!e->transport)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(address_transports); i++)
                known = known || streq(e->transport, address_transports[i]);
        if (!known)
                return address_fail(errbuf, errlen, -EINVAL,
                                    "address '%s': unknown transport '%s' at offset %zu", str, e->transport,
                                    off);

        /* libdbus accepts a trailing ',', so we do too; an empty pair elsewhere is an error. */
        for (pos = (size_t)(colon - s) + 1; pos < n;) {
                const char *comma = memchr(s + pos, ',', n - pos);
                size_t len = comma ? (size_t)(comma - (s + pos)) : n - pos;
                int r = address_parse_pair(e, &allocated, str, off + pos, len, errbuf, errlen);

                if (r < 0)
                        return r;
                pos += len + 1;
        }
        return 0;
}

int address_parse(const char *str, struct address **ret, char *errbuf, size_t errlen)
{
        _cleanup_(address_freep) struct address *a = new0(struct address, 1);
        size_t allocated = 0, off = 0, len = strlen(str);

        if (!a)
                return -ENOMEM;
        if (len == 0)
                return address_fail(errbuf, errlen, -EINVAL, "empty address");

        /* A trailing ';' ends the list rather than starting an empty entry (libdbus). */
        while (off < len) {
                size_t n = strcspn(str + off, ";");
                int r;

                if (GREEDY_REALLOC(a->entries, allocated, a->n_entries + 1) < 0)
                        return -ENOMEM;
                a->entries[a->n_entries++] = (struct address_entry){};
                r = address_parse_entry(&a->entries[a->n_entries - 1], str, off, n, errbuf, errlen);
                if (r < 0)
                        return r;
                off += n + 1;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

int address_escape_value(const char *value, char **ret)
{
        size_t n = strlen(value), len = 0;
        char *s = malloc(3 * n + 1);

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (address_is_plain(value[i]))
                        s[len++] = value[i];
                else
                        len += (size_t)sprintf(s + len, "%%%02x", (unsigned char)value[i]);
        }
        s[len] = '\0';
        *ret = s;
        return 0;
}

int address_entry_format(const struct address_entry *e, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fputs(e->transport, f);
        fputc(':', f);
        for (size_t i = 0; i < e->n_pairs; i++) {
                _cleanup_free_ char *v = NULL;

                if (address_escape_value(e->pairs[i].value, &v) < 0)
                        return -ENOMEM;
                fprintf(f, "%s%s=%s", i > 0 ? "," : "", e->pairs[i].key, v);
        }
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Find the one location key of a unix: entry; connecting accepts only path= and abstract=. */
static int address_unix_location(const struct address_entry *e, bool listen, const char **ret_key,
                                 const char **ret_value, char *errbuf, size_t errlen)
{
        const char *key = NULL;

        if (!streq(e->transport, "unix"))
                return address_fail(errbuf, errlen, -EPROTONOSUPPORT,
                                    "transport '%s:' is not supported, nsbus only speaks 'unix:'",
                                    e->transport);
        for (size_t i = 0; i < ELEMENTSOF(address_unix_keys); i++) {
                if (!address_entry_get(e, address_unix_keys[i]))
                        continue;
                if (key)
                        return address_fail(errbuf, errlen, -EINVAL,
                                            "unix address: cannot specify both '%s' and '%s'", key,
                                            address_unix_keys[i]);
                key = address_unix_keys[i];
        }
        if (!key)
                return address_fail(errbuf, errlen, -EINVAL,
                                    "unix address: needs one of path, abstract, dir, tmpdir or runtime");
        if (!listen && !streq(key, "path") && !streq(key, "abstract"))
                return address_fail(
                        errbuf, errlen, -EINVAL,
                        "unix address: '%s' is only for listening, connect with path or abstract", key);
        if (streq(key, "runtime") && !streq(address_entry_get(e, key), "yes"))
                return address_fail(errbuf, errlen, -EINVAL,
                                    "unix address: the only value for runtime is 'yes'");
        *ret_key = key;
        *ret_value = address_entry_get(e, key);
        return 0;
}

/* Like libdbus, the name ends at its first NUL: no padded fixed-length names. */
static int address_sockaddr(const char *name, bool abstract, struct sockaddr_un *sa, socklen_t *ret_len,
                            char *errbuf, size_t errlen)
{
        size_t n = strlen(name), max = sizeof(sa->sun_path) - 1;

        if (n == 0 || n > max)
                return address_fail(errbuf, errlen, n ? -ENAMETOOLONG : -EINVAL,
                                    "socket name '%s%s' must be 1 to %zu bytes long", abstract ? "@" : "",
                                    name, max);
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        memcpy(sa->sun_path + (abstract ? 1 : 0), name, n);
        /* Either the leading NUL of an abstract name or the terminating NUL of a path. */
        *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
}

static int address_bind(int fd, const char *name, bool abstract, char *errbuf, size_t errlen)
{
        struct sockaddr_un sa;
        socklen_t len = 0;
        int r = address_sockaddr(name, abstract, &sa, &len, errbuf, errlen);

        if (r < 0)
                return r;
        if (bind(fd, (const struct sockaddr *)&sa, len) < 0) {
                r = -errno;
                return address_fail(errbuf, errlen, r, "cannot bind socket '%s%s': %s", abstract ? "@" : "",
                                    name, strerror(-r));
        }
        /* Like dbus-daemon (_dbus_listen_unix_socket), open the file to everyone whatever the umask:
         * who may talk is decided by SASL and the bus policy, not by the socket's mode. Best effort,
         * as there: a socket that stays more restrictive still works for its owner. */
        if (!abstract)
                (void)chmod(name, 0777);
        return 0;
}

/*
 * dir= and tmpdir=: a fresh dbus-XXXXXXXXXX in the directory, the name
 * format of libdbus's _dbus_generate_random_ascii(). Unlike libdbus we never
 * unlink on a name clash but draw again, so two buses sharing a directory
 * cannot steal each other's socket.
 */
static int address_bind_random(int fd, const char *dir, char **ret_path, char *errbuf, size_t errlen)
{
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        int r = -EADDRINUSE;

        for (int attempt = 0; attempt < 16 && r == -EADDRINUSE; attempt++) {
                _cleanup_free_ char *path = NULL;
                unsigned char rnd[10];
                char name[sizeof(rnd) + 1];

                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                        return address_fail(errbuf, errlen, -EIO,
                                            "cannot get random bytes for a socket name");
                for (size_t i = 0; i < sizeof(rnd); i++)
                        name[i] = chars[rnd[i] % (sizeof(chars) - 1)];
                name[sizeof(rnd)] = '\0';
                if (asprintf(&path, "%s/dbus-%s", dir, name) < 0)
                        return -ENOMEM;
                r = address_bind(fd, path, false, errbuf, errlen);
                if (r == 0)
                        *ret_path = TAKE_PTR(path);
        }
        return r;
}

int address_listen(const struct address_entry *e, const char *guid, int *ret_fd, char **ret_address,
                   char *errbuf, size_t errlen)
{
        _cleanup_free_ char *path = NULL, *escaped = NULL, *address = NULL;
        _cleanup_close_ int fd = -1;
        const char *key, *value, *name;
        bool abstract;
        int r;

        r = address_unix_location(e, true, &key, &value, errbuf, errlen);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                return address_fail(errbuf, errlen, r, "cannot create socket: %s", strerror(-r));
        }

        abstract = streq(key, "abstract");
        if (streq(key, "dir") || streq(key, "tmpdir")) {
                /*
                 * The spec lets tmpdir= use the abstract namespace, but
                 * dbus-daemon 1.14.10 on Linux creates a path socket for it
                 * just like dir= (checked with --print-address). Abstract
                 * sockets ignore file permissions and are reachable from the
                 * whole network namespace, which is wrong for a per-container
                 * bus, so we do the same.
                 */
                r = address_bind_random(fd, value, &path, errbuf, errlen);
                if (r < 0)
                        return r;
        } else {
                if (streq(key, "runtime")) {
                        const char *runtime_dir = getenv("XDG_RUNTIME_DIR");

                        if (!runtime_dir || !*runtime_dir)
                                return address_fail(
                                        errbuf, errlen, -EINVAL,
                                        "unix:runtime=yes needs XDG_RUNTIME_DIR, which is not set");
                        if (asprintf(&path, "%s/bus", runtime_dir) < 0)
                                return -ENOMEM;
                } else if (!abstract) {
                        path = strdup(value);
                        if (!path)
                                return -ENOMEM;
                }

                /*
                 * dbus-daemon removes whatever socket sits at the path, in use
                 * or not (a dead bus leaves its socket behind); it never
                 * removes anything that is not a socket.
                 */
                struct stat st;
                if (path && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                        (void)unlink(path);
                r = address_bind(fd, abstract ? value : path, abstract, errbuf, errlen);
                if (r < 0)
                        return r;
        }

        name = abstract ? value : path;
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                if (!abstract)
                        (void)unlink(path);
                return address_fail(errbuf, errlen, r, "cannot listen on '%s': %s", name, strerror(-r));
        }

        if (address_escape_value(name, &escaped) < 0 ||
            asprintf(&address, "unix:%s=%s%s%s", abstract ? "abstract" : "path", escaped,
                     guid ? ",guid=" : "", guid ? guid : "") < 0) {
                if (!abstract)
                        (void)unlink(path);
                return -ENOMEM;
        }

        *ret_fd = TAKE_FD(fd);
        if (ret_address)
                *ret_address = TAKE_PTR(address);
        return 0;
}

int address_connect(const struct address_entry *e, int *ret_fd, char *errbuf, size_t errlen)
{
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa;
        socklen_t len = 0;
        const char *key, *value;
        bool abstract;
        int r;

        r = address_unix_location(e, false, &key, &value, errbuf, errlen);
        if (r < 0)
                return r;
        abstract = streq(key, "abstract");
        r = address_sockaddr(value, abstract, &sa, &len, errbuf, errlen);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                return address_fail(errbuf, errlen, r, "cannot create socket: %s", strerror(-r));
        }
        if (connect(fd, (const struct sockaddr *)&sa, len) < 0) {
                r = -errno;
                return address_fail(errbuf, errlen, r, "cannot connect to '%s%s': %s", abstract ? "@" : "",
                                    value, strerror(-r));
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int unix_socket_answers(int dir_fd, const char *name)
{
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        /* Through the directory's fd: the path to it may be longer than sun_path allows. */
        int n = dir_fd == AT_FDCWD
                        ? snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name)
                        : snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd, name);
        if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)
                return 1;
        if (errno == ECONNREFUSED)
                return 0;
        if (errno == ENOENT && dir_fd != AT_FDCWD && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return -ENXIO;
        return -errno;
}
