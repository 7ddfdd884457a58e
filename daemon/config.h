/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-daemon's XML configuration file (dbus-daemon(1), "CONFIGURATION
 * FILE"), read the way dbus-daemon 1.14 reads it (bus/config-parser.c):
 * the same elements, attributes, defaults, include semantics and the same
 * things treated as fatal errors, so that any file dbus-daemon accepts loads
 * here with the same meaning.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus-policy.h"
#include "util.h"

/*
 * <limit name="...">. Defaults are dbus-daemon 1.14's built-in ones; the
 * comments give them. Byte and fd totals may be any non-negative long; the
 * rest must also fit an int, as in dbus-daemon. Times are milliseconds.
 */
struct bus_limits {
        int64_t max_incoming_bytes;             /* 133169152 (127 MiB) */
        int64_t max_incoming_unix_fds;          /* 64 */
        int64_t max_outgoing_bytes;             /* 133169152 (127 MiB) */
        int64_t max_outgoing_unix_fds;          /* 64 */
        int64_t max_message_size;               /* 33554432 (32 MiB) */
        int64_t max_message_unix_fds;           /* 16 */
        int32_t service_start_timeout;          /* 25000 */
        int32_t auth_timeout;                   /* 30000 */
        int32_t pending_fd_timeout;             /* 150000 */
        int32_t max_completed_connections;      /* 2048 */
        int32_t max_incomplete_connections;     /* 64 */
        int32_t max_connections_per_user;       /* 256 */
        int32_t max_pending_service_starts;     /* 512 */
        int32_t max_names_per_connection;       /* 512 */
        int32_t max_match_rules_per_connection; /* 512 */
        int32_t max_replies_per_connection;     /* 128 */
        int32_t reply_timeout;                  /* -1: never (cannot be set back to -1) */
        /* nsbus's own: totals per uid over all its connections (see quotas.h) */
        int32_t max_names_per_user;       /* 4096 */
        int32_t max_match_rules_per_user; /* 16384 */
        int32_t max_replies_per_user;     /* 4096 */
        int64_t max_bytes_per_user;       /* 536870912 (512 MiB, dbus-broker's) */
        int64_t max_unix_fds_per_user;    /* 128 (dbus-broker's) */
        /* Accepted because dbus-daemon 1.14 accepts them; they belong to its
         * experimental Containers1 interface, which nsbus does not have. */
        int32_t max_containers;                /* 512 */
        int32_t max_containers_per_user;       /* 16 */
        int32_t max_container_metadata_bytes;  /* 4096 */
        int32_t max_connections_per_container; /* 8 */
};

void bus_limits_init_default(struct bus_limits *limits);

enum {
        /* dbus-daemon never watches this directory for changes. */
        BUS_SERVICE_DIR_NO_WATCH = 1u << 0,
        /* A service file must be named exactly <bus name>.service. */
        BUS_SERVICE_DIR_STRICT_NAMING = 1u << 1,
};

struct bus_service_dir {
        char *path;
        unsigned flags;
};

/* <selinux><associate own="..." context="..."/></selinux>: parsed, not enforced. */
struct bus_selinux_association {
        char *own;
        char *context;
};

enum bus_apparmor_mode {
        BUS_APPARMOR_UNSET = 0,
        BUS_APPARMOR_ENABLED,
        BUS_APPARMOR_DISABLED,
        BUS_APPARMOR_REQUIRED,
};

struct bus_config {
        char *type;           /* <type>: "system", "session", ... or NULL */
        char *user;           /* <user>: name or uid to run as, or NULL */
        bool fork;            /* <fork/> */
        bool keep_umask;      /* <keep_umask/> */
        bool syslog;          /* <syslog/> */
        bool allow_anonymous; /* <allow_anonymous/> */
        char *pidfile;        /* <pidfile>, as written */
        char *servicehelper;  /* <servicehelper>, made absolute */

        /* NULL-terminated arrays with their lengths. */
        char **listen; /* <listen> addresses in file order */
        size_t n_listen;
        char **auth; /* <auth> mechanisms; none means all are allowed */
        size_t n_auth;
        char **conf_dirs; /* every <includedir> that existed, made absolute */
        size_t n_conf_dirs;

        /* <servicedir> and the standard ones, in order, without duplicates:
         * the first directory that has a service wins. */
        struct bus_service_dir *servicedirs;
        size_t n_servicedirs;

        struct bus_selinux_association *selinux_associations;
        size_t n_selinux_associations;
        enum bus_apparmor_mode apparmor_mode;

        /* <container pid="PID" name="NAME" runtime_dir="DIR"/> (nsbus): serve one container, as
         * --container-pid does. pid 0: not set. */
        pid_t container_pid;
        char *container_name;
        char *container_runtime_dir;
        char *container_policy; /* the bridge policy: imported names are reserved (absolute path) */

        struct bus_limits limits;
        /* Never NULL. No <policy> at all means, as in dbus-daemon, that
         * nothing is allowed. */
        struct bus_policy *policy;

        /* Every warning of the load, "FILE:LINE: text", also passed to the
         * warn callback if one was given. */
        char **warnings;
        size_t n_warnings;
};

struct bus_config_load_options {
        /* Called for each warning (unknown users, SELinux and AppArmor
         * settings nsbus does not enforce, broken files in an <includedir>). */
        void (*warn)(void *userdata, const char *msg);
        void *userdata;
        /* Resolve <policy user/group> and <allow user/group>. Return 0 or a
         * negative errno if there is no such user or group. NULL: the system
         * database, where a number must still be a uid or gid that exists,
         * as in dbus-daemon. */
        int (*lookup_user)(void *userdata, const char *name, uid_t *ret);
        int (*lookup_group)(void *userdata, const char *name, gid_t *ret);
        /* dbus-daemon refuses a top-level file without <listen>. Set this when
         * the addresses come from elsewhere (--address). */
        bool listen_optional;
};

/*
 * Loads path and everything it includes. On failure errbuf (if errlen > 0)
 * says "FILE:LINE: reason", or "FILE: reason" when there is no line, naming
 * the file that is wrong even if it was included. Returns 0, -ENOENT if path
 * does not exist, -EINVAL for a file dbus-daemon would reject, -ELOOP for
 * circular includes, -ENOMEM, or another negative errno from reading.
 */
int bus_config_load_with(const char *path, const struct bus_config_load_options *options,
                         struct bus_config **ret, char *errbuf, size_t errlen);
/* The same with default options: warnings are only collected in ret->warnings. */
int bus_config_load(const char *path, struct bus_config **ret, char *errbuf, size_t errlen);

/* Returns NULL. NULL is fine. */
struct bus_config *bus_config_free(struct bus_config *config);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bus_config *, bus_config_free);
