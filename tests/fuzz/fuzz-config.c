/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The XML configuration loader (daemon/config.c) and the policy it compiles (policy/bus-policy.c).
 *
 * Input: a configuration file, optionally followed by a NUL byte and a second file. The loader needs
 * paths, so the first file is served as /proc/self/fd/40 and the second as /proc/self/fd/41, two memfds;
 * the first reaches the second with <include>41</include> (relative paths resolve in /proc/self/fd),
 * which exercises include merging. Including anything else must fail harmlessly, and the target is
 * linked with -Wl,--wrap=open,--wrap=opendir (see CMakeLists.txt) so that while the loader runs those two
 * paths are the only files it can open and no directory can be listed: a fuzzed <include> or
 * <includedir> never reads the machine's own files. User and group names resolve only as numbers, and
 * the XDG variables are fixed, so no NSS lookup or $HOME decides anything.
 *
 * A configuration that loads must have sane limits, and its policy must answer the same through a view
 * and through the one-shot checks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>

#include "bus-policy.h"
#include "config.h"
#include "fuzz.h"
#include "util.h"

#define FUZZ_FD_MAIN 40
#define FUZZ_FD_INCLUDED 41
#define FUZZ_PATH_MAIN "/proc/self/fd/40"
#define FUZZ_PATH_INCLUDED "/proc/self/fd/41"

/* True only while bus_config_load_with() runs. */
static bool fuzz_sandboxed;

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
DIR *__real_opendir(const char *path);
DIR *__wrap_opendir(const char *path);

int __wrap_open(const char *path, int flags, ...)
{
        mode_t mode = 0;

        if (flags & (O_CREAT | O_TMPFILE)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        if (fuzz_sandboxed && !streq(path, FUZZ_PATH_MAIN) && !streq(path, FUZZ_PATH_INCLUDED)) {
                errno = ENOENT;
                return -1;
        }
        return __real_open(path, flags, mode);
}

DIR *__wrap_opendir(const char *path)
{
        if (fuzz_sandboxed) {
                errno = ENOENT;
                return NULL;
        }
        return __real_opendir(path);
}

static void fuzz_memfd_at(const char *name, int target)
{
        int fd = memfd_create(name, MFD_CLOEXEC);

        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(fcntl(target, F_GETFD) < 0); /* free, so nothing else is replaced */
        FUZZ_CHECK(dup3(fd, target, O_CLOEXEC) == target);
        close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        /* <standard_session_servicedirs/> reads these; without XDG_DATA_HOME it would ask NSS for $HOME,
         * and with XDG_RUNTIME_DIR it would create directories there. */
        setenv("XDG_DATA_HOME", "/nonexistent/nsbus-fuzz/data-home", 1);
        setenv("XDG_DATA_DIRS", "/nonexistent/nsbus-fuzz/data-dirs", 1);
        unsetenv("XDG_RUNTIME_DIR");
        fuzz_memfd_at("nsbus-fuzz-config-main", FUZZ_FD_MAIN);
        fuzz_memfd_at("nsbus-fuzz-config-included", FUZZ_FD_INCLUDED);
        return 0;
}

static void fuzz_memfd_set(int fd, const uint8_t *data, size_t size)
{
        FUZZ_CHECK(ftruncate(fd, 0) == 0);
        FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
}

/* Decimal numbers only, so that no user database is consulted. */
static int fuzz_lookup_id(const char *name, uint32_t *ret)
{
        if (name[0] == '\0' || strspn(name, "0123456789") != strlen(name) || strlen(name) > 10)
                return -ENOENT;
        unsigned long long v = strtoull(name, NULL, 10);
        if (v >= UINT32_MAX)
                return -ENOENT;
        *ret = (uint32_t)v;
        return 0;
}

static int fuzz_lookup_user(void *userdata, const char *name, uid_t *ret)
{
        return fuzz_lookup_id(name, ret);
}

static int fuzz_lookup_group(void *userdata, const char *name, gid_t *ret)
{
        return fuzz_lookup_id(name, ret);
}

static void fuzz_check_strv(char **strv, size_t n)
{
        FUZZ_CHECK(n == 0 || strv);
        for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(strv[i]);
        FUZZ_CHECK(!strv || !strv[n]);
}

static void fuzz_check_limits(const struct bus_limits *l)
{
        const int64_t l64[] = {l->max_incoming_bytes,    l->max_incoming_unix_fds, l->max_outgoing_bytes,
                               l->max_outgoing_unix_fds, l->max_message_size,      l->max_message_unix_fds};
        const int32_t l32[] = {l->service_start_timeout,
                               l->auth_timeout,
                               l->pending_fd_timeout,
                               l->max_completed_connections,
                               l->max_incomplete_connections,
                               l->max_connections_per_user,
                               l->max_pending_service_starts,
                               l->max_names_per_connection,
                               l->max_match_rules_per_connection,
                               l->max_replies_per_connection,
                               l->max_containers,
                               l->max_containers_per_user,
                               l->max_container_metadata_bytes,
                               l->max_connections_per_container};

        for (size_t i = 0; i < ELEMENTSOF(l64); i++)
                FUZZ_CHECK(l64[i] >= 0);
        for (size_t i = 0; i < ELEMENTSOF(l32); i++)
                FUZZ_CHECK(l32[i] >= 0);
        FUZZ_CHECK(l->reply_timeout >= -1);
}

/* The questions the bus asks, for a few peers; a view must answer as the one-shot checks do. */
static void fuzz_check_policy(struct bus_policy *policy)
{
        static const gid_t root_gids[] = {0};
        static const gid_t user_gids[] = {1000, 27, 100};
        static const struct policy_subject subjects[] = {
                {.uid = 0, .gids = root_gids, .n_gids = ELEMENTSOF(root_gids)},
                {.uid = 1000, .gids = user_gids, .n_gids = ELEMENTSOF(user_gids)},
                {.uid = 4242, .origin = POLICY_ORIGIN_CONTAINER},
        };
        static const char *const names[] = {"org.example.Name", "org.example.Name.Sub"};
        static const struct policy_names peer = {.unique = ":1.5", .names = names, .n_names = 2};
        static const struct policy_msg messages[] = {
                {.type = POLICY_TYPE_METHOD_CALL,
                 .path = "/org/example/Obj",
                 .interface = "org.example.Iface",
                 .member = "Method",
                 .destination = "org.example.Name",
                 .n_fds = 2},
                {.type = POLICY_TYPE_SIGNAL,
                 .path = "/org/example/Obj",
                 .interface = "org.example.Iface",
                 .member = "Changed"},
                {.type = POLICY_TYPE_METHOD_RETURN,
                 .destination = ":1.5",
                 .has_reply_serial = true,
                 .requested_reply = true},
                {.type = POLICY_TYPE_ERROR,
                 .error_name = "org.example.Error",
                 .destination = ":1.5",
                 .has_reply_serial = true,
                 .eavesdropping = true},
        };

        for (size_t i = 0; i < ELEMENTSOF(subjects); i++) {
                _cleanup_(bus_policy_view_unrefp) struct bus_policy_view *view = NULL;
                const struct policy_subject *s = &subjects[i];

                (void)bus_policy_check_connect(policy, s);
                if (bus_policy_view_new(policy, s, &view) < 0)
                        continue;
                for (size_t j = 0; j < ELEMENTSOF(names); j++)
                        FUZZ_CHECK(bus_policy_view_check_own(view, names[j]) ==
                                   bus_policy_check_own(policy, s, names[j]));
                for (size_t j = 0; j < ELEMENTSOF(messages); j++) {
                        const struct policy_msg *m = &messages[j];
                        struct policy_verdict v1, v2;
                        bool a1, a2;

                        a1 = bus_policy_view_check_send(view, &peer, m, &v1);
                        a2 = bus_policy_check_send(policy, s, &peer, m, &v2);
                        FUZZ_CHECK(a1 == a2 && a1 == v1.allow && a2 == v2.allow);
                        FUZZ_CHECK(v1.log == v2.log && v1.n_matched == v2.n_matched);
                        FUZZ_CHECK(bus_policy_view_check_send(view, NULL, m, NULL) ==
                                   bus_policy_check_send(policy, s, NULL, m, NULL));

                        a1 = bus_policy_view_check_receive(view, &peer, m, &v1);
                        a2 = bus_policy_check_receive(policy, s, &peer, m, &v2);
                        FUZZ_CHECK(a1 == a2 && a1 == v1.allow && a2 == v2.allow);
                        FUZZ_CHECK(v1.log == v2.log && v1.n_matched == v2.n_matched);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct bus_config_load_options options = {
                .lookup_user = fuzz_lookup_user,
                .lookup_group = fuzz_lookup_group,
                .listen_optional = true,
        };
        _cleanup_(bus_config_freep) struct bus_config *c = NULL;
        const uint8_t *nul = memchr(data, '\0', size);
        size_t main_size = nul ? (size_t)(nul - data) : size;
        char error[512];
        int r;

        fuzz_memfd_set(FUZZ_FD_MAIN, data, main_size);
        fuzz_memfd_set(FUZZ_FD_INCLUDED, nul ? nul + 1 : data, nul ? size - main_size - 1 : 0);

        fuzz_sandboxed = true;
        r = bus_config_load_with(FUZZ_PATH_MAIN, &options, &c, error, sizeof(error));
        fuzz_sandboxed = false;

        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ELOOP || r == -ENOENT || r == -ENOMEM);
                FUZZ_CHECK(error[0] != '\0' && strnlen(error, sizeof(error)) < sizeof(error));
                FUZZ_CHECK(!c);
                return 0;
        }

        FUZZ_CHECK(c->policy);
        fuzz_check_strv(c->listen, c->n_listen);
        fuzz_check_strv(c->auth, c->n_auth);
        fuzz_check_strv(c->conf_dirs, c->n_conf_dirs);
        fuzz_check_strv(c->warnings, c->n_warnings);
        for (size_t i = 0; i < c->n_servicedirs; i++)
                FUZZ_CHECK(c->servicedirs[i].path && c->servicedirs[i].path[0] == '/');
        fuzz_check_limits(&c->limits);
        fuzz_check_policy(c->policy);
        return 0;
}
