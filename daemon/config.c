/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loader for dbus-daemon's XML configuration, with libexpat.
 *
 * It mirrors dbus-daemon 1.14's bus/config-parser.c: every file, included
 * ones too, is parsed into a fragment of its own, and a fragment is merged
 * into its parent only once it parsed completely. That is what makes a
 * broken file in an <includedir> drop out as a whole (dbus-daemon logs it
 * and goes on) while a broken <include> fails the load, and it gives
 * "later files override earlier scalar settings" for free. Whatever
 * dbus-daemon rejects (unknown elements and attributes, bad values) is an
 * error here as well; what it only warns about, or what nsbus cannot enforce
 * (SELinux, AppArmor, at_console), is reported as a warning, never accepted
 * silently. An <allow> or <deny> is taken in three steps, as dbus-daemon
 * does: its attributes are collected, checked against each other, and only
 * then turned into the one kind of rule they name, so that a bad file gets
 * the same first error as from dbus-daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "userdb.h"
#include "util.h"

/* dbus-daemon's ${datadir} on Debian and everywhere else that matters. */
#define DBUS_DATADIR "/usr/share"
/* dbus-daemon has no limit besides cycle detection; symlinked cycles would
 * then recurse forever, so bound the depth as well. */
#define INCLUDE_DEPTH_MAX 64
/* busconfig > policy > allow is as deep as a valid file gets; a child of
 * <allow> is rejected before it is pushed. */
#define ELEMENT_DEPTH_MAX 4

enum element_type {
        ELEMENT_NONE,
        ELEMENT_BUSCONFIG,
        ELEMENT_INCLUDE,
        ELEMENT_USER,
        ELEMENT_LISTEN,
        ELEMENT_AUTH,
        ELEMENT_POLICY,
        ELEMENT_LIMIT,
        ELEMENT_ALLOW,
        ELEMENT_DENY,
        ELEMENT_FORK,
        ELEMENT_PIDFILE,
        ELEMENT_SERVICEDIR,
        ELEMENT_SERVICEHELPER,
        ELEMENT_INCLUDEDIR,
        ELEMENT_TYPE,
        ELEMENT_SELINUX,
        ELEMENT_ASSOCIATE,
        ELEMENT_STANDARD_SESSION_SERVICEDIRS,
        ELEMENT_STANDARD_SYSTEM_SERVICEDIRS,
        ELEMENT_KEEP_UMASK,
        ELEMENT_SYSLOG,
        ELEMENT_ALLOW_ANONYMOUS,
        ELEMENT_APPARMOR,
        ELEMENT_CONTAINER,
        _ELEMENT_MAX,
};

static const char *const element_names[_ELEMENT_MAX] = {
        [ELEMENT_NONE] = "none",
        [ELEMENT_BUSCONFIG] = "busconfig",
        [ELEMENT_INCLUDE] = "include",
        [ELEMENT_USER] = "user",
        [ELEMENT_LISTEN] = "listen",
        [ELEMENT_AUTH] = "auth",
        [ELEMENT_POLICY] = "policy",
        [ELEMENT_LIMIT] = "limit",
        [ELEMENT_ALLOW] = "allow",
        [ELEMENT_DENY] = "deny",
        [ELEMENT_FORK] = "fork",
        [ELEMENT_PIDFILE] = "pidfile",
        [ELEMENT_SERVICEDIR] = "servicedir",
        [ELEMENT_SERVICEHELPER] = "servicehelper",
        [ELEMENT_INCLUDEDIR] = "includedir",
        [ELEMENT_TYPE] = "type",
        [ELEMENT_SELINUX] = "selinux",
        [ELEMENT_ASSOCIATE] = "associate",
        [ELEMENT_STANDARD_SESSION_SERVICEDIRS] = "standard_session_servicedirs",
        [ELEMENT_STANDARD_SYSTEM_SERVICEDIRS] = "standard_system_servicedirs",
        [ELEMENT_KEEP_UMASK] = "keep_umask",
        [ELEMENT_SYSLOG] = "syslog",
        [ELEMENT_ALLOW_ANONYMOUS] = "allow_anonymous",
        [ELEMENT_APPARMOR] = "apparmor",
        [ELEMENT_CONTAINER] = "container",
};

struct element {
        enum element_type type;
        unsigned long line;
        bool had_content;
        union {
                struct {
                        bool ignore_missing;
                        bool if_selinux_enabled;
                        bool selinux_root_relative;
                } include;
                struct {
                        bool ignored; /* unknown user or group: rules are checked, then dropped */
                        struct policy_context context;
                } policy;
                struct {
                        char *name;
                        long value;
                } limit;
        };
};

/* State shared by a file and everything it includes. */
struct load_ctx {
        const struct bus_config_load_options *options;
        char **warnings;
        size_t n_warnings;
        char *stack[INCLUDE_DEPTH_MAX]; /* canonical paths of the files being parsed */
        size_t depth;
};

/* One file being parsed into its own fragment. */
struct parser {
        struct load_ctx *ctx;
        const char *path;
        char *basedir;
        bool toplevel;
        struct bus_config *config;
        XML_Parser xml;
        struct element stack[ELEMENT_DEPTH_MAX];
        size_t depth;
        char *content;
        size_t n_content, allocated_content;
        unsigned long content_line;
        int error;       /* negative errno once the parse failed */
        char *error_msg; /* "FILE:LINE: reason" */
        bool opened;     /* the file itself existed */
};

static int parse_file(struct load_ctx *ctx, const char *path, bool toplevel, const struct bus_limits *limits,
                      struct bus_config **ret, char **ret_error, bool *ret_opened);

void bus_limits_init_default(struct bus_limits *l)
{
        /* bus_config_parser_new() in dbus-daemon 1.14. */
        *l = (struct bus_limits){
                .max_incoming_bytes = 127 * 1024 * 1024,
                .max_incoming_unix_fds = 16 * 4,
                .max_outgoing_bytes = 127 * 1024 * 1024,
                .max_outgoing_unix_fds = 16 * 4,
                .max_message_size = 32 * 1024 * 1024,
                .max_message_unix_fds = 16,
                .service_start_timeout = 25000,
                .auth_timeout = 30000,
                .pending_fd_timeout = 150000,
                .max_completed_connections = 2048,
                .max_incomplete_connections = 64,
                .max_connections_per_user = 256,
                .max_pending_service_starts = 512,
                .max_names_per_connection = 512,
                .max_match_rules_per_connection = 512,
                .max_replies_per_connection = 128,
                .reply_timeout = -1,
                /* nsbus's per-uid totals: a uid running many services (root) stays far below them,
                 * one that opens max_connections_per_user connections to hoard cannot get 256 times
                 * the per-connection limits. */
                .max_names_per_user = 4096,
                .max_match_rules_per_user = 16384,
                .max_replies_per_user = 4096,
                /* Bytes and fds the bus holds for a uid's messages (quotas.h): dbus-broker's defaults. */
                .max_bytes_per_user = 512 * 1024 * 1024,
                .max_unix_fds_per_user = 128,
                .max_containers = 512,
                .max_containers_per_user = 16,
                .max_container_metadata_bytes = 4096,
                .max_connections_per_container = 8,
        };
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Appends s (taking it over) and keeps the array NULL-terminated. These lists
 * are short, so growing one slot at a time is fine. */
static int strv_push(char ***v, size_t *n, char *s)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));

        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

static int strv_push_dup(char ***v, size_t *n, const char *s)
{
        char *copy = strdup(s);

        if (!copy)
                return -ENOMEM;
        return strv_push(v, n, copy);
}

_printf_(1, 0) static char *vformat(const char *fmt, va_list ap)
{
        char *s;

        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

_printf_(1, 2) static char *format(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = vformat(fmt, ap);
        va_end(ap);
        return s;
}

struct bus_config *bus_config_free(struct bus_config *c)
{
        if (!c)
                return NULL;
        free(c->type);
        free(c->user);
        free(c->pidfile);
        free(c->servicehelper);
        free(c->container_name);
        free(c->container_policy);
        free(c->container_runtime_dir);
        strv_free(c->listen, c->n_listen);
        strv_free(c->auth, c->n_auth);
        strv_free(c->conf_dirs, c->n_conf_dirs);
        for (size_t i = 0; i < c->n_servicedirs; i++)
                free(c->servicedirs[i].path);
        free(c->servicedirs);
        for (size_t i = 0; i < c->n_selinux_associations; i++) {
                free(c->selinux_associations[i].own);
                free(c->selinux_associations[i].context);
        }
        free(c->selinux_associations);
        bus_policy_unref(c->policy);
        strv_free(c->warnings, c->n_warnings);
        free(c);
        return NULL;
}

static int config_new(const struct bus_limits *limits, struct bus_config **ret)
{
        _cleanup_(bus_config_freep) struct bus_config *c = new0(struct bus_config, 1);
        int r;

        if (!c)
                return -ENOMEM;
        r = bus_policy_new(&c->policy);
        if (r < 0)
                return r;
        if (limits)
                c->limits = *limits;
        else
                bus_limits_init_default(&c->limits);
        *ret = TAKE_PTR(c);
        return 0;
}

/* dbus-daemon keeps the first occurrence of a service directory and
 * combines the flags so that a directory listed both ways is still watched
 * and loosely named. Takes over path. */
static int config_add_servicedir(struct bus_config *c, char *path, unsigned flags)
{
        for (size_t i = 0; i < c->n_servicedirs; i++)
                if (streq(c->servicedirs[i].path, path)) {
                        c->servicedirs[i].flags &= flags;
                        free(path);
                        return 0;
                }

        struct bus_service_dir *n = realloc(c->servicedirs, (c->n_servicedirs + 1) * sizeof(*n));
        if (!n) {
                free(path);
                return -ENOMEM;
        }
        n[c->n_servicedirs++] = (struct bus_service_dir){.path = path, .flags = flags};
        c->servicedirs = n;
        return 0;
}

/* A later <associate> for the same name replaces the earlier one. */
static int config_add_association(struct bus_config *c, const char *own, const char *context)
{
        _cleanup_free_ char *o = strdup(own), *ctx = strdup(context);

        if (!o || !ctx)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_selinux_associations; i++)
                if (streq(c->selinux_associations[i].own, own)) {
                        free(c->selinux_associations[i].context);
                        c->selinux_associations[i].context = TAKE_PTR(ctx);
                        return 0;
                }

        struct bus_selinux_association *n =
                realloc(c->selinux_associations, (c->n_selinux_associations + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        n[c->n_selinux_associations++] = (struct bus_selinux_association){TAKE_PTR(o), TAKE_PTR(ctx)};
        c->selinux_associations = n;
        return 0;
}

static void replace_str(char **dst, char **src)
{
        if (!*src)
                return;
        free(*dst);
        *dst = TAKE_PTR(*src);
}

static int strv_move(char ***dst, size_t *n_dst, char ***src, size_t *n_src)
{
        for (size_t i = 0; i < *n_src; i++) {
                int r = strv_push(dst, n_dst, (*src)[i]);
                (*src)[i] = NULL;
                if (r < 0)
                        return r;
        }
        *n_src = 0;
        return 0;
}

/* dbus-daemon's merge_included(): the included file's scalars win if it set
 * them, lists are appended, limits were inherited and are taken back. */
static int config_merge(struct bus_config *dst, struct bus_config *src)
{
        int r;

        r = bus_policy_merge(dst->policy, src->policy);
        if (r < 0)
                return r;

        replace_str(&dst->user, &src->user);
        replace_str(&dst->type, &src->type);
        replace_str(&dst->pidfile, &src->pidfile);
        replace_str(&dst->servicehelper, &src->servicehelper);
        replace_str(&dst->container_name, &src->container_name);
        replace_str(&dst->container_runtime_dir, &src->container_runtime_dir);
        replace_str(&dst->container_policy, &src->container_policy);
        if (src->container_pid)
                dst->container_pid = src->container_pid;
        dst->fork |= src->fork;
        dst->keep_umask |= src->keep_umask;
        dst->allow_anonymous |= src->allow_anonymous;
        /* dbus-daemon 1.14 does not carry <syslog/> out of an included file;
         * only the top-level file can turn it on. Kept for compatibility. */
        if (src->apparmor_mode != BUS_APPARMOR_UNSET)
                dst->apparmor_mode = src->apparmor_mode;
        dst->limits = src->limits;

        if ((r = strv_move(&dst->listen, &dst->n_listen, &src->listen, &src->n_listen)) < 0 ||
            (r = strv_move(&dst->auth, &dst->n_auth, &src->auth, &src->n_auth)) < 0 ||
            (r = strv_move(&dst->conf_dirs, &dst->n_conf_dirs, &src->conf_dirs, &src->n_conf_dirs)) < 0)
                return r;

        for (size_t i = 0; i < src->n_servicedirs; i++) {
                r = config_add_servicedir(dst, TAKE_PTR(src->servicedirs[i].path),
                                          src->servicedirs[i].flags);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < src->n_selinux_associations; i++) {
                r = config_add_association(dst, src->selinux_associations[i].own,
                                           src->selinux_associations[i].context);
                if (r < 0)
                        return r;
        }
        return 0;
}

_printf_(3, 4) static int ctx_warn(struct load_ctx *ctx, const char *where, const char *fmt, ...)
{
        _cleanup_free_ char *text = NULL;
        char *msg;
        va_list ap;

        va_start(ap, fmt);
        text = vformat(fmt, ap);
        va_end(ap);
        if (!text)
                return -ENOMEM;
        msg = format("%s: %s", where, text);
        if (!msg)
                return -ENOMEM;
        if (ctx->options && ctx->options->warn)
                ctx->options->warn(ctx->options->userdata, msg);
        return strv_push(&ctx->warnings, &ctx->n_warnings, msg);
}

static unsigned long parser_line(struct parser *p)
{
        return (unsigned long)XML_GetCurrentLineNumber(p->xml);
}

/* Records the first failure and stops expat; later handlers see p->error
 * and do nothing. */
_printf_(4, 5) static int parser_fail(struct parser *p, int error, unsigned long line, const char *fmt, ...)
{
        va_list ap;

        if (p->error < 0)
                return p->error;
        p->error = error;

        va_start(ap, fmt);
        _cleanup_free_ char *text = vformat(fmt, ap);
        va_end(ap);
        if (!text)
                p->error_msg = NULL;
        else if (line > 0)
                p->error_msg = format("%s:%lu: %s", p->path, line, text);
        else
                p->error_msg = format("%s: %s", p->path, text);
        if (!p->error_msg)
                p->error = -ENOMEM;
        XML_StopParser(p->xml, XML_FALSE);
        return p->error;
}

static int parser_oom(struct parser *p)
{
        return parser_fail(p, -ENOMEM, parser_line(p), "Out of memory");
}

_printf_(3, 4) static int parser_warn(struct parser *p, unsigned long line, const char *fmt, ...)
{
        _cleanup_free_ char *where = format("%s:%lu", p->path, line), *text = NULL;
        va_list ap;

        va_start(ap, fmt);
        text = vformat(fmt, ap);
        va_end(ap);
        if (!where || !text || ctx_warn(p->ctx, where, "%s", text) < 0)
                return parser_oom(p);
        return 0;
}

static enum element_type element_type_from_name(const char *name)
{
        for (size_t i = ELEMENT_BUSCONFIG; i < _ELEMENT_MAX; i++)
                if (streq(element_names[i], name))
                        return i;
        return ELEMENT_NONE;
}

static struct element *parser_top(struct parser *p)
{
        return p->depth > 0 ? &p->stack[p->depth - 1] : NULL;
}

static struct element *parser_push(struct parser *p, enum element_type type)
{
        if (p->depth >= ELEMENT_DEPTH_MAX) {
                parser_fail(p, -EINVAL, parser_line(p), "Element <%s> is not allowed in this context",
                            element_names[type]);
                return NULL;
        }
        struct element *e = &p->stack[p->depth++];
        *e = (struct element){.type = type, .line = parser_line(p)};
        return e;
}

static void parser_pop(struct parser *p)
{
        struct element *e = &p->stack[--p->depth];

        if (e->type == ELEMENT_LIMIT)
                free(e->limit.name);
}

/* Looks up the attributes in wanted (NULL-terminated names) and stores their
 * values in the same positions of values. Any other attribute is an error,
 * as in dbus-daemon. Expat already rejects repeated attributes. */
static int parser_get_attributes(struct parser *p, const char *element, const char **atts,
                                 const char *const *wanted, const char **values)
{
        size_t n_wanted = 0;

        while (wanted[n_wanted])
                values[n_wanted++] = NULL;

        for (size_t i = 0; atts[i]; i += 2) {
                size_t j;
                for (j = 0; j < n_wanted; j++)
                        if (streq(atts[i], wanted[j]))
                                break;
                if (j == n_wanted)
                        return parser_fail(p, -EINVAL, parser_line(p),
                                           "Attribute \"%s\" is invalid on <%s> element in this context",
                                           atts[i], element);
                values[j] = atts[i + 1];
        }
        return 0;
}

static int parser_no_attributes(struct parser *p, const char *element, const char **atts)
{
        static const char *const none[] = {NULL};

        return parser_get_attributes(p, element, atts, none, NULL);
}

static int parse_yes_no(struct parser *p, const char *attribute, const char *value, bool *ret)
{
        if (!value)
                return 0;
        if (streq(value, "yes"))
                *ret = true;
        else if (streq(value, "no"))
                *ret = false;
        else
                return parser_fail(p, -EINVAL, parser_line(p),
                                   "%s attribute must have value \"yes\" or \"no\"", attribute);
        return 0;
}

static int parse_true_false(struct parser *p, const char *attribute, const char *value, bool *ret)
{
        if (!value)
                return 0;
        if (streq(value, "true"))
                *ret = true;
        else if (streq(value, "false"))
                *ret = false;
        else
                return parser_fail(p, -EINVAL, parser_line(p),
                                   "Bad value \"%s\" for %s attribute, must be true or false", value,
                                   attribute);
        return 0;
}

/* _dbus_string_parse_int(): strtol() with base 0, leading blanks allowed
 * and anything after the number ignored ("5000 bytes" is 5000). */
static bool parse_long_like_dbus(const char *s, long *ret)
{
        char *end = NULL;
        long v;

        errno = 0;
        v = strtol(s, &end, 0);
        if (!end || end == s || errno != 0)
                return false;
        *ret = v;
        return true;
}

static int parse_fds_attribute(struct parser *p, const char *attribute, const char *value, uint32_t def,
                               uint32_t *ret)
{
        long v;

        *ret = def;
        if (!value)
                return 0;
        if (!parse_long_like_dbus(value, &v) || v < 0 || v > (long)POLICY_MAX_FDS)
                return parser_fail(
                        p, -EINVAL, parser_line(p),
                        "Bad value \"%s\" for %s attribute, must be an integer in range 0 to %ld inclusive",
                        value, attribute, (long)POLICY_MAX_FDS);
        *ret = (uint32_t)v;
        return 0;
}

static int message_type_from_string(const char *s)
{
        if (streq(s, "method_call"))
                return POLICY_TYPE_METHOD_CALL;
        if (streq(s, "method_return"))
                return POLICY_TYPE_METHOD_RETURN;
        if (streq(s, "signal"))
                return POLICY_TYPE_SIGNAL;
        if (streq(s, "error"))
                return POLICY_TYPE_ERROR;
        return -EINVAL;
}

static bool is_wildcard(const char *s)
{
        return s && streq(s, "*");
}

static const char *unwild(const char *s)
{
        return is_wildcard(s) ? NULL : s;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* dbus-daemon resolves every name through the user database; a number is
 * taken as a uid, but that uid must still exist there. */
static int lookup_user_default(const char *name, uid_t *ret)
{
        struct userdb_user u;
        int r;

        if (all_digits(name)) {
                errno = 0;
                unsigned long v = strtoul(name, NULL, 10);
                if (errno != 0 || v > UINT32_MAX - 1)
                        return -ENOENT;
                r = userdb_user_by_uid((uid_t)v, &u);
        } else
                r = userdb_user_by_name(name, &u);
        if (r < 0)
                return r == -EINVAL ? -ENOENT : r;
        *ret = u.uid;
        userdb_user_done(&u);
        return 0;
}

static int lookup_group_default(const char *name, gid_t *ret)
{
        if (all_digits(name)) {
                errno = 0;
                unsigned long v = strtoul(name, NULL, 10);
                if (errno != 0 || v > UINT32_MAX - 1)
                        return -ENOENT;
                return userdb_group_by_gid((gid_t)v, ret);
        }
        int r = userdb_group_by_name(name, ret);
        return r == -EINVAL ? -ENOENT : r;
}

static int parser_lookup_user(struct parser *p, const char *name, uid_t *ret)
{
        const struct bus_config_load_options *o = p->ctx->options;

        if (o && o->lookup_user)
                return o->lookup_user(o->userdata, name, ret);
        return lookup_user_default(name, ret);
}

static int parser_lookup_group(struct parser *p, const char *name, gid_t *ret)
{
        const struct bus_config_load_options *o = p->ctx->options;

        if (o && o->lookup_group)
                return o->lookup_group(o->userdata, name, ret);
        return lookup_group_default(name, ret);
}

static int parser_start_policy(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"context", "user", "group", "at_console", NULL};
        const char *v[4];
        struct element *e;
        int r;

        e = parser_push(p, ELEMENT_POLICY);
        if (!e)
                return p->error;
        r = parser_get_attributes(p, "policy", atts, wanted, v);
        if (r < 0)
                return r;
        const char *context = v[0], *user = v[1], *group = v[2], *at_console = v[3];

        if (!!context + !!user + !!group + !!at_console != 1)
                return parser_fail(p, -EINVAL, e->line,
                                   "<policy> element must have exactly one of "
                                   "(context|user|group|at_console) attributes");

        if (context) {
                if (streq(context, "default"))
                        e->policy.context.kind = POLICY_CONTEXT_DEFAULT;
                else if (streq(context, "mandatory"))
                        e->policy.context.kind = POLICY_CONTEXT_MANDATORY;
                else
                        return parser_fail(p, -EINVAL, e->line,
                                           "context attribute on <policy> must have the value \"default\" "
                                           "or \"mandatory\", not \"%s\"",
                                           context);
        } else if (user) {
                uid_t uid;
                if (parser_lookup_user(p, user, &uid) < 0) {
                        e->policy.ignored = true;
                        return parser_warn(p, e->line,
                                           "Unknown username \"%s\" in message bus configuration file; "
                                           "ignoring this <policy>",
                                           user);
                }
                e->policy.context = (struct policy_context){POLICY_CONTEXT_USER, uid};
        } else if (group) {
                gid_t gid;
                if (parser_lookup_group(p, group, &gid) < 0) {
                        e->policy.ignored = true;
                        return parser_warn(p, e->line,
                                           "Unknown group \"%s\" in message bus configuration file; "
                                           "ignoring this <policy>",
                                           group);
                }
                e->policy.context = (struct policy_context){POLICY_CONTEXT_GROUP, gid};
        } else {
                bool t = streq(at_console, "true");
                if (!t && !streq(at_console, "false"))
                        return parser_fail(
                                p, -EINVAL, e->line,
                                "Unknown value \"%s\" for at_console in message bus configuration file",
                                at_console);
                e->policy.context = (struct policy_context){POLICY_CONTEXT_CONSOLE, t};
                /* dbus-daemon asks systemd-logind (or /var/run/console)
                 * whether a uid is at a local seat. nsbus has no seats, so
                 * it behaves like dbus-daemon on a machine where nobody is. */
                return parser_warn(p, e->line,
                                   t ? "<policy at_console=\"true\"> never applies: nsbus has no notion of "
                                       "a console user"
                                     : "<policy at_console=\"false\"> applies to every connection: nsbus "
                                       "has no notion of a console user");
        }
        return 0;
}

/* The attributes of <allow> and <deny>. Each kind of rule has a contiguous range of them, so that which
 * kinds an element names can be told by range. */
enum rule_attribute {
        RULE_SEND_INTERFACE,
        RULE_SEND_MEMBER,
        RULE_SEND_ERROR,
        RULE_SEND_DESTINATION,
        RULE_SEND_DESTINATION_PREFIX,
        RULE_SEND_PATH,
        RULE_SEND_TYPE,
        RULE_SEND_BROADCAST,
        RULE_SEND_REQUESTED_REPLY,
        RULE_RECEIVE_INTERFACE,
        RULE_RECEIVE_MEMBER,
        RULE_RECEIVE_ERROR,
        RULE_RECEIVE_SENDER,
        RULE_RECEIVE_PATH,
        RULE_RECEIVE_TYPE,
        RULE_RECEIVE_REQUESTED_REPLY,
        RULE_EAVESDROP,
        RULE_MAX_FDS,
        RULE_MIN_FDS,
        RULE_OWN,
        RULE_OWN_PREFIX,
        RULE_USER,
        RULE_GROUP,
        RULE_LOG,
        RULE_ORIGIN,
        _RULE_ATTRIBUTE_MAX,
};

/* NULL-terminated for parser_get_attributes(). */
static const char *const rule_attribute_names[_RULE_ATTRIBUTE_MAX + 1] = {
        [RULE_SEND_INTERFACE] = "send_interface",
        [RULE_SEND_MEMBER] = "send_member",
        [RULE_SEND_ERROR] = "send_error",
        [RULE_SEND_DESTINATION] = "send_destination",
        [RULE_SEND_DESTINATION_PREFIX] = "send_destination_prefix",
        [RULE_SEND_PATH] = "send_path",
        [RULE_SEND_TYPE] = "send_type",
        [RULE_SEND_BROADCAST] = "send_broadcast",
        [RULE_SEND_REQUESTED_REPLY] = "send_requested_reply",
        [RULE_RECEIVE_INTERFACE] = "receive_interface",
        [RULE_RECEIVE_MEMBER] = "receive_member",
        [RULE_RECEIVE_ERROR] = "receive_error",
        [RULE_RECEIVE_SENDER] = "receive_sender",
        [RULE_RECEIVE_PATH] = "receive_path",
        [RULE_RECEIVE_TYPE] = "receive_type",
        [RULE_RECEIVE_REQUESTED_REPLY] = "receive_requested_reply",
        [RULE_EAVESDROP] = "eavesdrop",
        [RULE_MAX_FDS] = "max_fds",
        [RULE_MIN_FDS] = "min_fds",
        [RULE_OWN] = "own",
        [RULE_OWN_PREFIX] = "own_prefix",
        [RULE_USER] = "user",
        [RULE_GROUP] = "group",
        [RULE_LOG] = "log",
        [RULE_ORIGIN] = "origin",
        [_RULE_ATTRIBUTE_MAX] = NULL,
};

/* One <allow> or <deny> element: its attribute values (NULL if absent) and the kinds of rule they name. */
struct rule_attributes {
        const char *element;
        unsigned long line;
        bool allow;
        const char *v[_RULE_ATTRIBUTE_MAX];
        bool any_send, any_receive, any_message;
};

/* The attributes that are copied into a rule as written, "*" meaning "any", and the string field of
 * which kind of rule each one fills. bus_policy_add_rule() copies the strings, so the rule may point
 * into expat's attribute array. */
static const struct rule_string_field {
        enum rule_attribute attribute;
        enum policy_rule_type type;
        size_t offset; /* of a const char * in struct policy_rule */
} rule_string_fields[] = {
        {RULE_SEND_PATH, POLICY_RULE_SEND, offsetof(struct policy_rule, send.path)},
        {RULE_SEND_INTERFACE, POLICY_RULE_SEND, offsetof(struct policy_rule, send.interface)},
        {RULE_SEND_MEMBER, POLICY_RULE_SEND, offsetof(struct policy_rule, send.member)},
        {RULE_SEND_ERROR, POLICY_RULE_SEND, offsetof(struct policy_rule, send.error)},
        {RULE_SEND_DESTINATION, POLICY_RULE_SEND, offsetof(struct policy_rule, send.destination)},
        {RULE_RECEIVE_PATH, POLICY_RULE_RECEIVE, offsetof(struct policy_rule, receive.path)},
        {RULE_RECEIVE_INTERFACE, POLICY_RULE_RECEIVE, offsetof(struct policy_rule, receive.interface)},
        {RULE_RECEIVE_MEMBER, POLICY_RULE_RECEIVE, offsetof(struct policy_rule, receive.member)},
        {RULE_RECEIVE_ERROR, POLICY_RULE_RECEIVE, offsetof(struct policy_rule, receive.error)},
        {RULE_RECEIVE_SENDER, POLICY_RULE_RECEIVE, offsetof(struct policy_rule, receive.sender)},
        {RULE_OWN, POLICY_RULE_OWN, offsetof(struct policy_rule, own.name)},
};

static bool rule_attributes_any(const struct rule_attributes *a, enum rule_attribute first,
                                enum rule_attribute last)
{
        for (size_t i = first; i <= last; i++)
                if (a->v[i])
                        return true;
        return false;
}

static int parser_get_rule_attributes(struct parser *p, const char **atts, struct rule_attributes *a)
{
        int r;

        r = parser_get_attributes(p, a->element, atts, rule_attribute_names, a->v);
        if (r < 0)
                return r;

        a->any_send = rule_attributes_any(a, RULE_SEND_INTERFACE, RULE_SEND_REQUESTED_REPLY);
        a->any_receive = rule_attributes_any(a, RULE_RECEIVE_INTERFACE, RULE_RECEIVE_REQUESTED_REPLY);
        /* <allow eavesdrop="true"/> means <allow receive_sender="*"
         * eavesdrop="true"/>; next to send attributes it modifies a send rule. */
        if (!a->any_send && a->v[RULE_EAVESDROP])
                a->any_receive = true;
        a->any_message =
                a->any_send || a->any_receive || rule_attributes_any(a, RULE_EAVESDROP, RULE_MIN_FDS);
        return 0;
}

/* dbus-daemon's checks of which attributes go together, in its order: the first one that fails names
 * the error. */
static int parser_check_rule_attributes(struct parser *p, const struct rule_attributes *a)
{
        const char *const *v = a->v;

        if (!(a->any_send || a->any_receive || rule_attributes_any(a, RULE_OWN, RULE_GROUP)))
                return parser_fail(p, -EINVAL, a->line, "Element <%s> must have one or more attributes",
                                   a->element);

        if ((v[RULE_SEND_MEMBER] && !v[RULE_SEND_INTERFACE] && !v[RULE_SEND_PATH]) ||
            (v[RULE_RECEIVE_MEMBER] && !v[RULE_RECEIVE_INTERFACE] && !v[RULE_RECEIVE_PATH]))
                return parser_fail(p, -EINVAL, a->line,
                                   "On element <%s>, if you specify a member you must specify an interface "
                                   "or a path. Keep in mind that not all messages have an interface field.",
                                   a->element);

        if (a->any_message + !!v[RULE_OWN] + !!v[RULE_OWN_PREFIX] + !!v[RULE_USER] + !!v[RULE_GROUP] > 1)
                return parser_fail(p, -EINVAL, a->line,
                                   "Invalid combination of attributes on element <%s>: own, own_prefix, "
                                   "user, group and the message-related attributes cannot be combined",
                                   a->element);
        if (a->any_send && a->any_receive)
                return parser_fail(p, -EINVAL, a->line,
                                   "Invalid combination of attributes on element <%s>: send and receive "
                                   "attributes cannot be combined",
                                   a->element);
        if ((v[RULE_SEND_MEMBER] || v[RULE_SEND_INTERFACE]) && v[RULE_SEND_ERROR])
                return parser_fail(p, -EINVAL, a->line,
                                   "Invalid combination of attributes on element <%s>: send_error cannot be "
                                   "combined with send_member or send_interface",
                                   a->element);
        if (v[RULE_SEND_DESTINATION] && v[RULE_SEND_DESTINATION_PREFIX])
                return parser_fail(p, -EINVAL, a->line,
                                   "Invalid combination of attributes on element <%s>: send_destination "
                                   "cannot be combined with send_destination_prefix",
                                   a->element);
        if ((v[RULE_RECEIVE_MEMBER] || v[RULE_RECEIVE_INTERFACE]) && v[RULE_RECEIVE_ERROR])
                return parser_fail(p, -EINVAL, a->line,
                                   "Invalid combination of attributes on element <%s>: receive_error cannot "
                                   "be combined with receive_member or receive_interface",
                                   a->element);
        return 0;
}

static void rule_attributes_fill_strings(const struct rule_attributes *a, struct policy_rule *rule)
{
        for (size_t i = 0; i < ELEMENTSOF(rule_string_fields); i++) {
                const struct rule_string_field *f = &rule_string_fields[i];

                if (f->type == rule->type)
                        *(const char **)((char *)rule + f->offset) = unwild(a->v[f->attribute]);
        }
}

static int parser_parse_rule_bool(struct parser *p, const struct rule_attributes *a,
                                  enum rule_attribute attribute, bool *ret)
{
        return parse_true_false(p, rule_attribute_names[attribute], a->v[attribute], ret);
}

/* A broadcast has no destination. "*" is no name, so send_destination="*"
 * is fine here. */
static int parser_set_rule_broadcast(struct parser *p, const struct rule_attributes *a,
                                     struct policy_rule *rule)
{
        bool broadcast = false;
        int r;

        r = parser_parse_rule_bool(p, a, RULE_SEND_BROADCAST, &broadcast);
        if (r < 0)
                return r;
        if (broadcast && unwild(a->v[RULE_SEND_DESTINATION]))
                return parser_fail(p, -EINVAL, a->line,
                                   "Rule with send_broadcast=\"true\" and send_destination=\"%s\" cannot "
                                   "match anything",
                                   a->v[RULE_SEND_DESTINATION]);
        rule->send.broadcast = !a->v[RULE_SEND_BROADCAST] ? POLICY_TRISTATE_ANY
                               : broadcast                ? POLICY_TRISTATE_TRUE
                                                          : POLICY_TRISTATE_FALSE;
        return 0;
}

/* send_* and receive_* rules, and a bare eavesdrop="true", which is a receive rule. Both kinds take the
 * same options, which struct policy_rule keeps in different places, so they are parsed through pointers
 * into whichever kind this is; policy_rule_init() has set the defaults of the absent ones. */
static int parser_build_message_rule(struct parser *p, const struct rule_attributes *a,
                                     struct policy_rule *rule)
{
        bool send = a->any_send;
        const char *type = unwild(a->v[send ? RULE_SEND_TYPE : RULE_RECEIVE_TYPE]);
        int r;

        policy_rule_init(rule, send ? POLICY_RULE_SEND : POLICY_RULE_RECEIVE, a->allow);
        int *message_type = send ? &rule->send.message_type : &rule->receive.message_type;
        bool *eavesdrop = send ? &rule->send.eavesdrop : &rule->receive.eavesdrop;
        bool *requested_reply = send ? &rule->send.requested_reply : &rule->receive.requested_reply;
        uint32_t *min_fds = send ? &rule->send.min_fds : &rule->receive.min_fds;
        uint32_t *max_fds = send ? &rule->send.max_fds : &rule->receive.max_fds;

        *message_type = POLICY_TYPE_ANY;
        if (type) {
                *message_type = message_type_from_string(type);
                if (*message_type < 0)
                        return parser_fail(p, -EINVAL, a->line, "Bad message type \"%s\"", type);
        }
        /* In dbus-daemon's order, so that the first bad value is the one reported. */
        if ((r = parser_parse_rule_bool(p, a, RULE_EAVESDROP, eavesdrop)) < 0 ||
            (send && (r = parser_set_rule_broadcast(p, a, rule)) < 0) ||
            (r = parser_parse_rule_bool(p, a,
                                        send ? RULE_SEND_REQUESTED_REPLY : RULE_RECEIVE_REQUESTED_REPLY,
                                        requested_reply)) < 0 ||
            (r = parse_fds_attribute(p, "max_fds", a->v[RULE_MAX_FDS], POLICY_MAX_FDS, max_fds)) < 0 ||
            (r = parse_fds_attribute(p, "min_fds", a->v[RULE_MIN_FDS], 0, min_fds)) < 0)
                return r;

        rule_attributes_fill_strings(a, rule);
        if (send && a->v[RULE_SEND_DESTINATION_PREFIX]) {
                /* No wildcard here: "*" is a literal prefix. */
                rule->send.destination = a->v[RULE_SEND_DESTINATION_PREFIX];
                rule->send.destination_is_prefix = true;
        }
        /* Unvalidated in dbus-daemon: anything but "true" is false. */
        if (send)
                rule->send.log = a->v[RULE_LOG] && streq(a->v[RULE_LOG], "true");
        return 0;
}

static void rule_attributes_build_own(const struct rule_attributes *a, struct policy_rule *rule)
{
        policy_rule_init(rule, POLICY_RULE_OWN, a->allow);
        rule_attributes_fill_strings(a, rule);
        if (a->v[RULE_OWN_PREFIX]) {
                /* As with send_destination_prefix, "*" is a literal prefix. */
                rule->own.name = a->v[RULE_OWN_PREFIX];
                rule->own.prefix = true;
        }
}

/* user="..." and group="...", the rules checked when a peer connects. An unknown user or group only
 * drops the rule (*ret_have_rule false), with a warning, as in dbus-daemon. */
static int parser_build_connect_rule(struct parser *p, const struct rule_attributes *a,
                                     struct policy_rule *rule, bool *ret_have_rule)
{
        bool user = a->v[RULE_USER] != NULL;
        const char *name = a->v[user ? RULE_USER : RULE_GROUP];
        int r;

        policy_rule_init(rule, user ? POLICY_RULE_USER : POLICY_RULE_GROUP, a->allow);
        if (is_wildcard(name)) {
                if (user)
                        rule->user.any = true;
                else
                        rule->group.any = true;
                return 0;
        }
        r = user ? parser_lookup_user(p, name, &rule->user.uid)
                 : parser_lookup_group(p, name, &rule->group.gid);
        if (r >= 0)
                return 0;
        *ret_have_rule = false;
        return parser_warn(p, a->line, "Unknown %s \"%s\" on element <%s>; ignoring this rule",
                           user ? "username" : "group", name, a->element);
}

/* nsbus's own attribute: origin="container" or "host" limits a rule to peers that came in through
 * that listener of a container bus (see policy_origin in bus-policy.h). */
static int parser_set_rule_origin(struct parser *p, const struct rule_attributes *a,
                                  struct policy_rule *rule)
{
        const char *origin = a->v[RULE_ORIGIN];

        if (!origin)
                return 0;
        if (streq(origin, "container"))
                rule->origin = POLICY_ORIGIN_CONTAINER;
        else if (streq(origin, "host"))
                rule->origin = POLICY_ORIGIN_HOST;
        else if (!streq(origin, "*"))
                return parser_fail(p, -EINVAL, a->line,
                                   "origin attribute on <%s> must have value \"container\", \"host\" "
                                   "or \"*\", not \"%s\"",
                                   a->element, origin);
        if (rule->type == POLICY_RULE_USER || rule->type == POLICY_RULE_GROUP)
                return parser_fail(p, -EINVAL, a->line,
                                   "origin attribute on <%s> cannot be combined with user or group",
                                   a->element);
        return 0;
}

/* Adds the rule to the enclosing <policy>, unless that one is being ignored. */
static int parser_add_rule(struct parser *p, const struct rule_attributes *a, const struct policy_rule *rule)
{
        const struct element *pe = parser_top(p);
        enum policy_context_kind kind = pe->policy.context.kind;
        int r;

        if (pe->policy.ignored)
                return 0;
        /* Who may connect is decided bus-wide, by the default and mandatory rules alone
         * (bus_policy_check_connect()); dbus-daemon refuses what would look per-user. */
        if ((rule->type == POLICY_RULE_USER || rule->type == POLICY_RULE_GROUP) &&
            (kind == POLICY_CONTEXT_USER || kind == POLICY_CONTEXT_GROUP))
                return parser_fail(p, -EINVAL, a->line,
                                   "<%s> rule cannot be per-%s because it has bus-global semantics",
                                   a->element, kind == POLICY_CONTEXT_USER ? "user" : "group");

        r = bus_policy_add_rule(p->config->policy, &pe->policy.context, rule);
        if (r == -ENOMEM)
                return parser_oom(p);
        if (r < 0)
                return parser_fail(p, r, a->line, "Invalid <%s> rule", a->element);
        return 0;
}

/* <allow>/<deny>: dbus-daemon's append_rule_from_element(), check for check. */
static int parser_start_rule(struct parser *p, const char *element, const char **atts, bool allow)
{
        struct rule_attributes a = {.element = element, .line = parser_line(p), .allow = allow};
        struct policy_rule rule;
        bool have_rule = true;
        int r;

        if ((r = parser_get_rule_attributes(p, atts, &a)) < 0 ||
            (r = parser_check_rule_attributes(p, &a)) < 0)
                return r;

        if (a.any_send || a.any_receive)
                r = parser_build_message_rule(p, &a, &rule);
        else if (a.v[RULE_OWN] || a.v[RULE_OWN_PREFIX])
                rule_attributes_build_own(&a, &rule);
        else
                r = parser_build_connect_rule(p, &a, &rule, &have_rule);
        if (r < 0 || (r = parser_set_rule_origin(p, &a, &rule)) < 0)
                return r;
        if (!have_rule)
                return 0;
        return parser_add_rule(p, &a, &rule);
}

static int parser_start_associate(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"own", "context", NULL};
        const char *v[2];
        int r;

        r = parser_get_attributes(p, "associate", atts, wanted, v);
        if (r < 0)
                return r;
        if (!parser_push(p, ELEMENT_ASSOCIATE))
                return p->error;
        if (!v[0] || !v[1])
                return parser_fail(p, -EINVAL, parser_line(p),
                                   "Element <associate> must have attributes own=\"<servicename>\" and "
                                   "context=\"<selinux context>\"");
        if (config_add_association(p->config, v[0], v[1]) < 0)
                return parser_oom(p);
        return 0;
}

static int parser_start_apparmor(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"mode", NULL};
        const char *mode;
        unsigned long line = parser_line(p);
        int r;

        if (!parser_push(p, ELEMENT_APPARMOR))
                return p->error;
        r = parser_get_attributes(p, "apparmor", atts, wanted, &mode);
        if (r < 0)
                return r;

        if (mode && streq(mode, "disabled")) {
                p->config->apparmor_mode = BUS_APPARMOR_DISABLED;
                return 0;
        }
        if (mode && streq(mode, "required"))
                /* dbus-daemon refuses to start when it cannot mediate; nsbus
                 * never can. */
                return parser_fail(
                        p, -EOPNOTSUPP, line,
                        "<apparmor mode=\"required\">: nsbus does not implement AppArmor mediation");
        if (mode && !streq(mode, "enabled"))
                return parser_fail(p, -EINVAL, line,
                                   "Mode attribute on <apparmor> must have value \"required\", \"enabled\" "
                                   "or \"disabled\", not \"%s\"",
                                   mode);
        p->config->apparmor_mode = BUS_APPARMOR_ENABLED;
        return parser_warn(
                p, line, "<apparmor> mediation is not enforced by nsbus; AppArmor D-Bus rules are ignored");
}

/* <container pid="PID" name="NAME" runtime_dir="DIR" policy="FILE"/>: nsbus's own element, the config-file
 * form of --container-pid, --name, --runtime-dir and --policy. */
static char *parser_full_path(struct parser *p, const char *file);

static int parser_start_container(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"pid", "name", "runtime_dir", "policy", NULL};
        const char *v[4];
        unsigned long line = parser_line(p);
        int r;

        if (!parser_push(p, ELEMENT_CONTAINER))
                return p->error;
        r = parser_get_attributes(p, "container", atts, wanted, v);
        if (r < 0)
                return r;
        if (!v[0])
                return parser_fail(p, -EINVAL, line, "<container> element must have a \"pid\" attribute");
        char *end;
        errno = 0;
        long pid = strtol(v[0], &end, 10);
        if (!*v[0] || *end || errno || pid <= 0 || pid > INT32_MAX)
                return parser_fail(p, -EINVAL, line, "<container pid=\"%s\">: not a process id", v[0]);
        if (v[1] && (!*v[1] || strchr(v[1], '/') || streq(v[1], ".") || streq(v[1], "..")))
                return parser_fail(p, -EINVAL, line,
                                   "<container name=\"%s\">: a name must be a single path component", v[1]);
        if (v[2] && v[2][0] != '/')
                return parser_fail(p, -EINVAL, line,
                                   "<container runtime_dir=\"%s\">: must be an absolute path", v[2]);
        if (v[3] && !*v[3])
                return parser_fail(p, -EINVAL, line, "<container policy=\"\">: names no file");
        p->config->container_pid = (pid_t)pid;
        free(p->config->container_name);
        free(p->config->container_runtime_dir);
        free(p->config->container_policy);
        p->config->container_name = p->config->container_runtime_dir = p->config->container_policy = NULL;
        if ((v[1] && !(p->config->container_name = strdup(v[1]))) ||
            (v[2] && !(p->config->container_runtime_dir = strdup(v[2]))) ||
            (v[3] && !(p->config->container_policy = parser_full_path(p, v[3]))))
                return parser_oom(p);
        return 0;
}

/* _dbus_concat_dir_and_file(): exactly one slash between the two. */
static char *path_join(const char *dir, const char *file)
{
        size_t l = strlen(dir);
        bool dir_slash = l > 0 && dir[l - 1] == '/', file_slash = file[0] == '/';

        if (!*file)
                return strdup(dir);
        if (dir_slash && file_slash)
                return format("%.*s%s", (int)(l - 1), dir, file);
        if (dir_slash || file_slash)
                return format("%s%s", dir, file);
        return format("%s/%s", dir, file);
}

/* Paths in the configuration are relative to the directory of the file
 * that contains them. */
static char *parser_full_path(struct parser *p, const char *file)
{
        if (file[0] == '/')
                return strdup(file);
        return path_join(p->basedir, file);
}

/* _dbus_string_get_dirname() */
static char *path_dirname(const char *path)
{
        size_t l = strlen(path);

        while (l > 1 && path[l - 1] == '/')
                l--;
        while (l > 0 && path[l - 1] != '/')
                l--;
        if (l == 0)
                return strdup(".");
        while (l > 1 && path[l - 1] == '/')
                l--;
        return strndup(path, l);
}

/* _dbus_split_paths_and_append(): split a colon-separated list, skip empty
 * entries and append suffix to each. */
static int parser_add_split_servicedirs(struct parser *p, const char *list, const char *suffix,
                                        unsigned flags)
{
        _cleanup_free_ char *copy = strdup(list);
        char *s = copy;

        if (!copy)
                return parser_oom(p);
        for (;;) {
                /* Not strtok: it would fold empty entries, dbus skips them too. */
                char *colon = strchr(s, ':');
                if (colon)
                        *colon = '\0';
                size_t l = strlen(s);
                while (l > 0 && strchr(" \t\r\n", s[l - 1]))
                        s[--l] = '\0';
                if (l > 0) {
                        char *path = path_join(s, suffix);
                        if (!path || config_add_servicedir(p->config, path, flags) < 0)
                                return parser_oom(p);
                }
                if (!colon)
                        break;
                s = colon + 1;
        }
        return 0;
}

static const char *home_directory(char *buf, size_t size)
{
        struct userdb_user u;

        /* dbus-daemon takes the home directory from the user database. */
        if (userdb_user_by_uid(getuid(), &u) >= 0) {
                bool fits = strlen(u.home) < size;
                if (fits)
                        strcpy(buf, u.home);
                userdb_user_done(&u);
                if (fits)
                        return buf;
        }
        return secure_getenv("HOME");
}

/* Creates (if wanted) and vets one level of the transient service directory
 * the way dbus-daemon does: a directory, ours, not writable by others. */
static int ensure_owned_directory(const char *dir, bool create, char **ret_reason)
{
        struct stat st;

        if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
                *ret_reason = format("cannot create \"%s\": %s", dir, strerror(errno));
                return -errno;
        }
        if (stat(dir, &st) < 0) {
                *ret_reason = format("\"%s\" not available: %s", dir, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode)) {
                *ret_reason = format("\"%s\" is not a directory", dir);
                return -ENOTDIR;
        }
        if (st.st_uid != geteuid()) {
                *ret_reason = format("\"%s\" is owned by uid %ld, not our uid %ld", dir, (long)st.st_uid,
                                     (long)geteuid());
                return -EPERM;
        }
        if (st.st_mode & (S_IWOTH | S_IWGRP)) {
                *ret_reason = format("\"%s\" can be written by others (mode 0%o)", dir, st.st_mode & 07777);
                return -EPERM;
        }
        return 0;
}

/* <standard_session_servicedirs/>, as _dbus_set_up_transient_session_servicedirs()
 * and _dbus_get_standard_session_servicedirs() lay it out on Unix. */
static int parser_add_session_servicedirs(struct parser *p, unsigned long line)
{
        const char *xdg_runtime_dir = secure_getenv("XDG_RUNTIME_DIR");
        const char *xdg_data_home = secure_getenv("XDG_DATA_HOME");
        const char *xdg_data_dirs = secure_getenv("XDG_DATA_DIRS");
        int r;

        /* $XDG_RUNTIME_DIR/dbus-1/services for transient services: created
         * if need be, never watched, strict naming. Not fatal if unusable. */
        if (xdg_runtime_dir) {
                _cleanup_free_ char *dbus1 = format("%s/dbus-1", xdg_runtime_dir);
                _cleanup_free_ char *services = format("%s/dbus-1/services", xdg_runtime_dir);
                _cleanup_free_ char *reason = NULL;

                if (!dbus1 || !services)
                        return parser_oom(p);
                if (ensure_owned_directory(xdg_runtime_dir, false, &reason) < 0 ||
                    ensure_owned_directory(dbus1, true, &reason) < 0 ||
                    ensure_owned_directory(services, true, &reason) < 0) {
                        r = parser_warn(p, line,
                                        "Unable to set up transient service directory: XDG_RUNTIME_DIR %s",
                                        reason ? reason : "unusable");
                        if (r < 0)
                                return r;
                } else if (config_add_servicedir(p->config, TAKE_PTR(services),
                                                 BUS_SERVICE_DIR_NO_WATCH | BUS_SERVICE_DIR_STRICT_NAMING) <
                           0)
                        return parser_oom(p);
        }

        char buf[4096];
        _cleanup_free_ char *home_share = NULL;
        if (!xdg_data_home) {
                const char *home = home_directory(buf, sizeof(buf));
                home_share = home ? path_join(home, "/.local/share") : strdup("");
                if (!home_share)
                        return parser_oom(p);
        }

        /* "$XDG_DATA_HOME:$XDG_DATA_DIRS:" + DBUS_DATADIR, then split: an
         * empty variable contributes nothing, duplicates are dropped. */
        _cleanup_free_ char *list =
                format("%s:%s%s%s", xdg_data_home ? xdg_data_home : home_share,
                       xdg_data_dirs ? xdg_data_dirs : "/usr/local/share:/usr/share", ":", DBUS_DATADIR);
        if (!list)
                return parser_oom(p);
        return parser_add_split_servicedirs(p, list, "/dbus-1/services", 0);
}

/* The elements that take no attributes: flags, the standard service directories, <selinux>, and the
 * ones whose text is their value (taken once it arrives, in parser_flush_content()). */
static int parser_start_plain_element(struct parser *p, enum element_type type, const char *name,
                                      const char **atts)
{
        struct element *e;
        int r;

        r = parser_no_attributes(p, name, atts);
        if (r < 0)
                return r;
        e = parser_push(p, type);
        if (!e)
                return p->error;
        if (type == ELEMENT_FORK)
                p->config->fork = true;
        else if (type == ELEMENT_SYSLOG)
                p->config->syslog = true;
        else if (type == ELEMENT_KEEP_UMASK)
                p->config->keep_umask = true;
        else if (type == ELEMENT_ALLOW_ANONYMOUS)
                p->config->allow_anonymous = true;
        else if (type == ELEMENT_STANDARD_SESSION_SERVICEDIRS)
                return parser_add_session_servicedirs(p, e->line);
        else if (type == ELEMENT_STANDARD_SYSTEM_SERVICEDIRS)
                /* _dbus_get_standard_system_servicedirs(): the
                 * ${datadir} entry duplicates /usr/share here. */
                return parser_add_split_servicedirs(p, "/usr/local/share:/usr/share:" DBUS_DATADIR ":/lib",
                                                    "/dbus-1/system-services", 0);
        else if (type == ELEMENT_SELINUX)
                return parser_warn(p, e->line,
                                   "<selinux> is not enforced by nsbus; <associate> rules are "
                                   "parsed and ignored");
        return 0;
}

static int parser_start_include(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"ignore_missing", "if_selinux_enabled", "selinux_root_relative",
                                             NULL};
        const char *v[3];
        struct element *e;
        int r;

        e = parser_push(p, ELEMENT_INCLUDE);
        if (!e)
                return p->error;
        if ((r = parser_get_attributes(p, "include", atts, wanted, v)) < 0 ||
            (r = parse_yes_no(p, "ignore_missing", v[0], &e->include.ignore_missing)) < 0 ||
            (r = parse_yes_no(p, "if_selinux_enabled", v[1], &e->include.if_selinux_enabled)) < 0 ||
            (r = parse_yes_no(p, "selinux_root_relative", v[2], &e->include.selinux_root_relative)) < 0)
                return r;
        return 0;
}

/* The name is kept on the element: the value is its text, which comes later. */
static int parser_start_limit(struct parser *p, const char **atts)
{
        static const char *const wanted[] = {"name", NULL};
        const char *limit_name;
        struct element *e;
        int r;

        e = parser_push(p, ELEMENT_LIMIT);
        if (!e)
                return p->error;
        r = parser_get_attributes(p, "limit", atts, wanted, &limit_name);
        if (r < 0)
                return r;
        if (!limit_name)
                return parser_fail(p, -EINVAL, e->line, "<limit> element must have a \"name\" attribute");
        e->limit.name = strdup(limit_name);
        if (!e->limit.name)
                return parser_oom(p);
        return 0;
}

static int parser_start_busconfig_child(struct parser *p, const char *name, const char **atts)
{
        enum element_type type = element_type_from_name(name);

        switch (type) {
        case ELEMENT_USER:
        case ELEMENT_TYPE:
        case ELEMENT_FORK:
        case ELEMENT_SYSLOG:
        case ELEMENT_KEEP_UMASK:
        case ELEMENT_PIDFILE:
        case ELEMENT_LISTEN:
        case ELEMENT_AUTH:
        case ELEMENT_SERVICEHELPER:
        case ELEMENT_INCLUDEDIR:
        case ELEMENT_STANDARD_SESSION_SERVICEDIRS:
        case ELEMENT_STANDARD_SYSTEM_SERVICEDIRS:
        case ELEMENT_ALLOW_ANONYMOUS:
        case ELEMENT_SERVICEDIR:
        case ELEMENT_SELINUX:
                return parser_start_plain_element(p, type, name, atts);
        case ELEMENT_INCLUDE:
                return parser_start_include(p, atts);
        case ELEMENT_POLICY:
                return parser_start_policy(p, atts);
        case ELEMENT_LIMIT:
                return parser_start_limit(p, atts);
        case ELEMENT_APPARMOR:
                return parser_start_apparmor(p, atts);
        case ELEMENT_CONTAINER:
                return parser_start_container(p, atts);
        default:
                return parser_fail(p, -EINVAL, parser_line(p),
                                   "Element <%s> not allowed inside <%s> in configuration file", name,
                                   "busconfig");
        }
}

static void XMLCALL parser_start_element(void *userdata, const XML_Char *name, const XML_Char **atts);
static void XMLCALL parser_end_element(void *userdata, const XML_Char *name);

static bool all_whitespace(const char *s)
{
        return s[strspn(s, " \t\r\n")] == '\0';
}

static int parser_include_file(struct parser *p, struct element *e, const char *file, bool ignore_missing)
{
        _cleanup_(bus_config_freep) struct bus_config *child = NULL;
        _cleanup_free_ char *error = NULL;
        bool opened = false;
        int r;

        r = parse_file(p->ctx, file, false, &p->config->limits, &child, &error, &opened);
        if (r == -ENOMEM)
                return parser_oom(p);
        if (r == -ENOENT && ignore_missing) {
                /* dbus-daemon ignores any "file not found" here, even one
                 * from an <include> nested in an existing file; say so. */
                if (opened)
                        return parser_warn(p, e->line, "ignoring included file \"%s\": %s", file,
                                           error ? error : "not found");
                return 0;
        }
        if (r < 0) {
                if (p->error >= 0) {
                        /* Pass the included file's own message up unchanged:
                         * it names the file and line that are wrong. */
                        p->error = r;
                        p->error_msg = TAKE_PTR(error);
                        if (!p->error_msg)
                                p->error = -ENOMEM;
                        XML_StopParser(p->xml, XML_FALSE);
                }
                return p->error;
        }
        if (config_merge(p->config, child) < 0)
                return parser_oom(p);
        return 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* <includedir>: every *.conf in the directory, sorted (dbus-daemon takes
 * readdir() order, which its manual calls undefined). A missing directory is
 * fine; a file that fails to load is skipped with a warning, as dbus-daemon
 * logs and skips it. */
static int parser_include_dir(struct parser *p, struct element *e, const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        char **names = NULL;
        size_t n_names = 0;
        int r = 0;

        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return parser_fail(p, -errno, e->line, "Failed to open directory \"%s\": %s", dir,
                                   strerror(errno));
        }

        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = parser_fail(p, -errno, e->line, "Failed to read directory \"%s\": %s",
                                                dir, strerror(errno));
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t l = strlen(de->d_name);
                if (l < 5 || !streq(de->d_name + l - 5, ".conf"))
                        continue;
                if (strv_push_dup(&names, &n_names, de->d_name) < 0) {
                        r = parser_oom(p);
                        break;
                }
        }
        if (r < 0) {
                strv_free(names, n_names);
                return r;
        }
        if (n_names > 1)
                qsort(names, n_names, sizeof(names[0]), strcmp_ptr);

        for (size_t i = 0; i < n_names && r >= 0; i++) {
                _cleanup_(bus_config_freep) struct bus_config *child = NULL;
                _cleanup_free_ char *error = NULL, *file = path_join(dir, names[i]);
                bool opened = false;

                if (!file) {
                        r = parser_oom(p);
                        break;
                }
                r = parse_file(p->ctx, file, false, &p->config->limits, &child, &error, &opened);
                if (r == -ENOMEM) {
                        r = parser_oom(p);
                        break;
                }
                if (r == -ENOENT && !opened) {
                        r = 0; /* vanished since readdir(): ignore_missing, as in dbus-daemon */
                        continue;
                }
                if (r < 0) {
                        r = parser_warn(p, e->line, "<includedir>: skipping \"%s\" after error: %s", file,
                                        error ? error : strerror(-r));
                        continue;
                }
                if (config_merge(p->config, child) < 0)
                        r = parser_oom(p);
        }
        strv_free(names, n_names);
        if (r < 0)
                return r;

        if (strv_push_dup(&p->config->conf_dirs, &p->config->n_conf_dirs, dir) < 0)
                return parser_oom(p);
        return 0;
}

static bool selinux_enabled(void)
{
        return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

/* <pidfile>, <user> and <type>: a later one replaces an earlier one. */
static int parser_set_text(struct parser *p, struct element *e, const char *content)
{
        char **dst = e->type == ELEMENT_PIDFILE ? &p->config->pidfile
                     : e->type == ELEMENT_USER  ? &p->config->user
                                                : &p->config->type;
        char *s = strdup(content);

        e->had_content = true;
        if (!s)
                return parser_oom(p);
        free(*dst);
        *dst = s;
        return 0;
}

/* <listen> and <auth>: every one counts, in file order. */
static int parser_append_text(struct parser *p, struct element *e, const char *content)
{
        int r;

        e->had_content = true;
        r = e->type == ELEMENT_LISTEN ? strv_push_dup(&p->config->listen, &p->config->n_listen, content)
                                      : strv_push_dup(&p->config->auth, &p->config->n_auth, content);
        return r < 0 ? parser_oom(p) : 0;
}

static int parser_include_content(struct parser *p, struct element *e, const char *content,
                                  unsigned long line)
{
        e->had_content = true;
        if (e->include.if_selinux_enabled) {
                /* nsbus has no SELinux support, so for it SELinux is
                 * never "enabled"; if the host does use SELinux that
                 * deserves a word. */
                if (selinux_enabled())
                        return parser_warn(p, line,
                                           "skipping <include if_selinux_enabled=\"yes\"> \"%s\": "
                                           "nsbus does not implement SELinux mediation",
                                           content);
                return 0;
        }
        if (e->include.selinux_root_relative)
                return parser_fail(p, -EINVAL, line,
                                   "Could not determine SELinux policy root for relative inclusion");
        _cleanup_free_ char *file = parser_full_path(p, content);
        if (!file)
                return parser_oom(p);
        return parser_include_file(p, e, file, e->include.ignore_missing);
}

/* <servicehelper>, <servicedir> and <includedir>: paths relative to this file. */
static int parser_take_path(struct parser *p, struct element *e, const char *content)
{
        int r;

        e->had_content = true;
        char *file = parser_full_path(p, content);
        if (!file)
                return parser_oom(p);
        if (e->type == ELEMENT_SERVICEHELPER) {
                free(p->config->servicehelper);
                p->config->servicehelper = file;
                return 0;
        }
        if (e->type == ELEMENT_SERVICEDIR)
                return config_add_servicedir(p->config, file, 0) < 0 ? parser_oom(p) : 0;
        r = parser_include_dir(p, e, file);
        free(file);
        return r;
}

/* Only parsed here; parser_set_limit() applies it when </limit> shows the element is complete. */
static int parser_parse_limit_value(struct parser *p, struct element *e, const char *content,
                                    unsigned long line)
{
        e->had_content = true;
        if (!parse_long_like_dbus(content, &e->limit.value))
                return parser_fail(
                        p, -EINVAL, line,
                        "<limit name=\"%s\"> element has invalid value (could not parse as integer)",
                        e->limit.name);
        return 0;
}

/* Text collected since the last tag belongs to the innermost open element;
 * dbus-daemon handles it when the next tag starts or ends, and so do we. */
static int parser_flush_content(struct parser *p)
{
        struct element *e = parser_top(p);
        unsigned long line = p->content_line;

        if (p->error < 0)
                return p->error;
        if (p->n_content == 0)
                return 0;
        p->n_content = 0;
        const char *content = p->content;

        if (!e)
                return parser_fail(p, -EINVAL, line,
                                   "Text content outside of any XML element in configuration file");
        if (e->had_content)
                return parser_fail(p, -EINVAL, line, "Element <%s> has more than one text block",
                                   element_names[e->type]);

        switch (e->type) {
        case ELEMENT_BUSCONFIG:
        case ELEMENT_POLICY:
        case ELEMENT_ALLOW:
        case ELEMENT_DENY:
        case ELEMENT_FORK:
        case ELEMENT_SYSLOG:
        case ELEMENT_KEEP_UMASK:
        case ELEMENT_STANDARD_SESSION_SERVICEDIRS:
        case ELEMENT_STANDARD_SYSTEM_SERVICEDIRS:
        case ELEMENT_ALLOW_ANONYMOUS:
        case ELEMENT_SELINUX:
        case ELEMENT_ASSOCIATE:
        case ELEMENT_APPARMOR:
        default:
                if (all_whitespace(content))
                        return 0;
                return parser_fail(p, -EINVAL, line,
                                   "No text content expected inside XML element %s in configuration file",
                                   element_names[e->type]);
        case ELEMENT_PIDFILE:
        case ELEMENT_USER:
        case ELEMENT_TYPE:
                return parser_set_text(p, e, content);
        case ELEMENT_LISTEN:
        case ELEMENT_AUTH:
                return parser_append_text(p, e, content);
        case ELEMENT_INCLUDE:
                return parser_include_content(p, e, content, line);
        case ELEMENT_SERVICEHELPER:
        case ELEMENT_INCLUDEDIR:
        case ELEMENT_SERVICEDIR:
                return parser_take_path(p, e, content);
        case ELEMENT_LIMIT:
                return parser_parse_limit_value(p, e, content, line);
        }
}

struct limit_desc {
        const char *name;
        size_t offset;
        bool is_int; /* int32_t field that must fit an int; otherwise int64_t */
};

#define LIMIT64(n)                                                                                          \
        {                                                                                                   \
#n, offsetof(struct bus_limits, n), false                                                   \
        }
#define LIMIT32(n)                                                                                          \
        {                                                                                                   \
#n, offsetof(struct bus_limits, n), true                                                    \
        }

static const struct limit_desc limit_table[] = {
        LIMIT64(max_incoming_bytes),
        LIMIT64(max_incoming_unix_fds),
        LIMIT64(max_outgoing_bytes),
        LIMIT64(max_outgoing_unix_fds),
        LIMIT64(max_message_size),
        LIMIT64(max_message_unix_fds),
        LIMIT32(service_start_timeout),
        LIMIT32(auth_timeout),
        LIMIT32(pending_fd_timeout),
        LIMIT32(reply_timeout),
        LIMIT32(max_completed_connections),
        LIMIT32(max_incomplete_connections),
        LIMIT32(max_connections_per_user),
        LIMIT32(max_pending_service_starts),
        LIMIT32(max_names_per_connection),
        LIMIT32(max_match_rules_per_connection),
        LIMIT32(max_replies_per_connection),
        LIMIT32(max_names_per_user),
        LIMIT32(max_match_rules_per_user),
        LIMIT32(max_replies_per_user),
        LIMIT64(max_bytes_per_user),
        LIMIT64(max_unix_fds_per_user),
        LIMIT32(max_containers),
        LIMIT32(max_containers_per_user),
        LIMIT32(max_container_metadata_bytes),
        LIMIT32(max_connections_per_container),
};

static int parser_set_limit(struct parser *p, const struct element *e)
{
        for (size_t i = 0; i < ELEMENTSOF(limit_table); i++) {
                const struct limit_desc *d = &limit_table[i];
                char *field = (char *)&p->config->limits + d->offset;

                if (!streq(d->name, e->limit.name))
                        continue;
                /* dbus-daemon's wording: every limit "must be a positive
                 * number", though 0 is accepted. */
                if (e->limit.value < 0)
                        return parser_fail(p, -EINVAL, e->line,
                                           "<limit name=\"%s\"> must be a positive number", e->limit.name);
                if (d->is_int) {
                        if (e->limit.value > INT_MAX)
                                return parser_fail(p, -EINVAL, e->line,
                                                   "<limit name=\"%s\"> value is too large", e->limit.name);
                        int32_t v = (int32_t)e->limit.value;
                        memcpy(field, &v, sizeof(v));
                } else {
                        int64_t v = e->limit.value;
                        memcpy(field, &v, sizeof(v));
                }
                return 0;
        }
        return parser_fail(p, -EINVAL, e->line, "There is no limit called \"%s\"", e->limit.name);
}

static void XMLCALL parser_start_element(void *userdata, const XML_Char *name, const XML_Char **atts)
{
        struct parser *p = userdata;
        struct element *top;

        if (parser_flush_content(p) < 0)
                return;

        top = parser_top(p);
        if (!top) {
                if (!streq(name, "busconfig")) {
                        parser_fail(p, -EINVAL, parser_line(p),
                                    "Unknown element <%s> at root of configuration file", name);
                        return;
                }
                if (parser_no_attributes(p, "busconfig", atts) >= 0)
                        parser_push(p, ELEMENT_BUSCONFIG);
                return;
        }

        switch (top->type) {
        case ELEMENT_BUSCONFIG:
                parser_start_busconfig_child(p, name, atts);
                return;
        case ELEMENT_POLICY:
                if (streq(name, "allow") || streq(name, "deny")) {
                        bool allow = streq(name, "allow");
                        if (parser_start_rule(p, name, atts, allow) >= 0)
                                parser_push(p, allow ? ELEMENT_ALLOW : ELEMENT_DENY);
                } else
                        parser_fail(p, -EINVAL, parser_line(p),
                                    "Element <%s> not allowed inside <%s> in configuration file", name,
                                    "policy");
                return;
        case ELEMENT_SELINUX:
                if (streq(name, "associate"))
                        parser_start_associate(p, atts);
                else
                        parser_fail(p, -EINVAL, parser_line(p),
                                    "Element <%s> not allowed inside <%s> in configuration file", name,
                                    "selinux");
                return;
        default:
                parser_fail(p, -EINVAL, parser_line(p), "Element <%s> is not allowed in this context", name);
                return;
        }
}

static void XMLCALL parser_end_element(void *userdata, const XML_Char *name)
{
        struct parser *p = userdata;
        struct element *e;

        if (parser_flush_content(p) < 0)
                return;
        e = parser_top(p);
        if (!e) {
                parser_fail(p, -EINVAL, parser_line(p),
                            "XML parser ended element with no element on the stack");
                return;
        }

        switch (e->type) {
        case ELEMENT_INCLUDE:
        case ELEMENT_USER:
        case ELEMENT_TYPE:
        case ELEMENT_LISTEN:
        case ELEMENT_PIDFILE:
        case ELEMENT_AUTH:
        case ELEMENT_SERVICEDIR:
        case ELEMENT_SERVICEHELPER:
        case ELEMENT_INCLUDEDIR:
        case ELEMENT_LIMIT:
                if (!e->had_content) {
                        parser_fail(p, -EINVAL, e->line,
                                    "XML element <%s> was expected to have content inside it",
                                    element_names[e->type]);
                        return;
                }
                if (e->type == ELEMENT_LIMIT && parser_set_limit(p, e) < 0)
                        return;
                break;
        default:
                break;
        }
        parser_pop(p);
}

static void XMLCALL parser_character_data(void *userdata, const XML_Char *s, int len)
{
        struct parser *p = userdata;

        if (p->error < 0 || len <= 0)
                return;
        if (p->n_content == 0)
                p->content_line = parser_line(p);
        if (GREEDY_REALLOC(p->content, p->allocated_content, p->n_content + (size_t)len + 1) < 0) {
                parser_oom(p);
                return;
        }
        memcpy(p->content + p->n_content, s, (size_t)len);
        p->n_content += (size_t)len;
        p->content[p->n_content] = '\0';
}

static void parser_done(struct parser *p)
{
        while (p->depth > 0)
                parser_pop(p);
        if (p->xml)
                XML_ParserFree(p->xml);
        free(p->content);
        free(p->basedir);
        free(p->error_msg);
        bus_config_free(p->config);
}

/* Reads the file in chunks straight into expat's buffer. */
static int parser_feed_file(struct parser *p, int fd)
{
        for (;;) {
                void *buf = XML_GetBuffer(p->xml, 65536);
                if (!buf)
                        return parser_oom(p);
                ssize_t n = read(fd, buf, 65536);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return parser_fail(p, -errno, 0, "Failed to read: %s", strerror(errno));
                }
                if (XML_ParseBuffer(p->xml, (int)n, n == 0) != XML_STATUS_OK) {
                        if (p->error < 0)
                                return p->error;
                        enum XML_Error xe = XML_GetErrorCode(p->xml);
                        if (xe == XML_ERROR_NO_MEMORY)
                                return parser_oom(p);
                        return parser_fail(p, -EINVAL, parser_line(p), "%s (column %lu)",
                                           XML_ErrorString(xe),
                                           (unsigned long)XML_GetCurrentColumnNumber(p->xml));
                }
                if (p->error < 0)
                        return p->error;
                if (n == 0)
                        return 0;
        }
}

static int set_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        *ret_error = vformat(fmt, ap);
        va_end(ap);
        return *ret_error ? r : -ENOMEM;
}

static int parse_file(struct load_ctx *ctx, const char *path, bool toplevel, const struct bus_limits *limits,
                      struct bus_config **ret, char **ret_error, bool *ret_opened)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *canonical = NULL;
        struct stat st;
        int r;

        *ret_opened = false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return set_error(ret_error, -errno, "%s: Failed to open: %s", path, strerror(errno));
        *ret_opened = true;
        if (fstat(fd, &st) < 0)
                return set_error(ret_error, -errno, "%s: Failed to stat: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return set_error(ret_error, -EISDIR, "%s: Failed to read: %s", path, strerror(EISDIR));

        /* dbus-daemon detects a cycle by comparing paths as written; compare
         * canonical ones so that symlinks and "../" cannot hide one. */
        canonical = realpath(path, NULL);
        if (!canonical && errno == ENOMEM)
                return -ENOMEM;
        for (size_t i = 0; canonical && i < ctx->depth; i++)
                if (ctx->stack[i] && streq(ctx->stack[i], canonical))
                        return set_error(ret_error, -ELOOP, "%s: Circular inclusion of file '%s'", path,
                                         path);
        if (ctx->depth >= INCLUDE_DEPTH_MAX)
                return set_error(ret_error, -ELOOP, "%s: Includes nested more than %d deep", path,
                                 INCLUDE_DEPTH_MAX);

        struct parser p = {
                .ctx = ctx,
                .path = path,
                .toplevel = toplevel,
        };
        p.basedir = path_dirname(path);
        r = config_new(limits, &p.config);
        p.xml = XML_ParserCreate("UTF-8");
        if (!p.basedir || r < 0 || !p.xml) {
                parser_done(&p);
                return -ENOMEM;
        }
        XML_SetUserData(p.xml, &p);
        XML_SetElementHandler(p.xml, parser_start_element, parser_end_element);
        XML_SetCharacterDataHandler(p.xml, parser_character_data);

        ctx->stack[ctx->depth++] = canonical;
        r = parser_feed_file(&p, fd);
        ctx->depth--;

        if (r >= 0 && p.depth > 0)
                r = parser_fail(&p, -EINVAL, parser_line(&p),
                                "Element <%s> was not closed in configuration file",
                                element_names[parser_top(&p)->type]);
        if (r >= 0 && toplevel && p.config->n_listen == 0 &&
            !(ctx->options && ctx->options->listen_optional)) {
                r = set_error(ret_error, -EINVAL,
                              "%s: Configuration file needs one or more <listen> elements giving addresses",
                              path);
                parser_done(&p);
                return r;
        }
        if (r < 0) {
                *ret_error = TAKE_PTR(p.error_msg);
                if (r != -ENOMEM && !*ret_error)
                        r = -ENOMEM;
                parser_done(&p);
                return r;
        }
        *ret = TAKE_PTR(p.config);
        parser_done(&p);
        return 0;
}

int bus_config_load_with(const char *path, const struct bus_config_load_options *options,
                         struct bus_config **ret, char *errbuf, size_t errlen)
{
        struct load_ctx ctx = {.options = options};
        _cleanup_free_ char *error = NULL;
        struct bus_config *c = NULL;
        bool opened;
        int r;

        if (errlen > 0)
                errbuf[0] = '\0';

        r = parse_file(&ctx, path, true, NULL, &c, &error, &opened);
        if (r < 0) {
                strv_free(ctx.warnings, ctx.n_warnings);
                if (errlen > 0)
                        snprintf(errbuf, errlen, "%s", error ? error : strerror(-r));
                return r;
        }
        c->warnings = TAKE_PTR(ctx.warnings);
        c->n_warnings = ctx.n_warnings;
        *ret = c;
        return 0;
}

int bus_config_load(const char *path, struct bus_config **ret, char *errbuf, size_t errlen)
{
        return bus_config_load_with(path, NULL, ret, errbuf, errlen);
}
