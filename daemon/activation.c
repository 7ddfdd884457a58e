/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bus activation. A .service file makes its Name= activatable; the first
 * message for it (without NO_AUTO_START) or a StartServiceByName starts its
 * Exec= line, and every message that arrives meanwhile waits in the name's
 * queue. When the name gets an owner the queue is dispatched in order, as if
 * each message had just been sent. If the service exits with an error or
 * does not appear within service_start_timeout, every waiter gets an error.
 *
 * Children are forked directly (no helper process) and reaped through a
 * signalfd in the main loop, so the bus never blocks on them.
 *
 * With systemd activation (--systemd-activation, as dbus-daemon), a service
 * whose file names a SystemdService= is not forked: systemd is asked to
 * start that unit, and either the name appears or systemd answers with
 * ActivationFailure. A service without SystemdService= is still forked, as
 * dbus-daemon falls back to its own activation. org.freedesktop.systemd1 is
 * never started by the bus: messages for it, the bus's requests included,
 * wait until systemd connects and takes its name.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <grp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "dbus-errors.h"
#include "log.h"
#include "activation.h"
#include "userdb.h"
#include "bus.h"
#include "container.h"
#include "container-spawn.h"
#include "driver.h"
#include "names.h"
#include "rootfs.h"
#include "routing.h"

struct pending {
        struct list_head link;
        uint64_t sender_id;
        struct message *m; /* the held message, or the StartServiceByName call */
        bool start_by_name;
        bool from_bus; /* the bus's own message (to systemd): no sender to answer */
};

struct child {
        struct list_head link;
        pid_t pid;
        char *name;
        bool acquired;
        int exec_errno_fd; /* read end of a CLOEXEC pipe: an errno arrives here if exec failed */
        uint64_t spawn_id; /* nonzero: the container's spawner started it (pid is 0 until it runs) */
};

struct activation {
        struct bus *bus;
        struct hashmap *entries; /* name -> struct activation_entry */
        struct list_head children;
        struct event_source spawner_source; /* a container bus: events of the container's spawner */
        uint64_t next_spawn_id;
        bool spawner_gone;
        char **env; /* KEY=VALUE set through UpdateActivationEnvironment */
        size_t n_env, allocated_env;
        bool systemd; /* --systemd-activation */
};

static void entry_free(struct activation_entry *e)
{
        if (!e)
                return;
        free(e->name);
        free(e->exec);
        free(e->user);
        free(e->systemd_service);
        free(e->file);
        free(e);
}

int activation_new(struct bus *b)
{
        struct activation *a = zalloc(sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->entries = hashmap_new(&string_hash_ops);
        if (!a->entries) {
                free(a);
                return -ENOMEM;
        }
        list_init(&a->children);
        a->spawner_source.fd = -1;
        a->bus = b;
        b->activation = a;
        return 0;
}

static void clear_entries(struct bus *b)
{
        struct activation *a = b->activation;
        struct hashmap_iter it;
        struct activation_entry *e;
        HASHMAP_FOREACH(e, a->entries, it)
        {
                hashmap_remove(a->entries, e->name);
                struct name *n = names_get(b, e->name);
                if (n) {
                        n->activatable = NULL;
                        names_unref_if_unused(n);
                }
                entry_free(e);
        }
}

void activation_free(struct bus *b)
{
        struct activation *a = b->activation;
        if (!a)
                return;
        /* Messages still waiting for a service hold references; the bus is going away with them. */
        struct hashmap_iter it;
        struct name *n;
        HASHMAP_FOREACH(n, b->names, it)
        {
                free(n->systemd_unit);
                n->systemd_unit = NULL;
                while (!list_empty(&n->pending_activation)) {
                        struct pending *pd = list_first_entry(&n->pending_activation, struct pending, link);
                        list_del(&pd->link);
                        message_unref(pd->m);
                        free(pd);
                }
        }
        clear_entries(b);
        hashmap_free(a->entries);
        event_source_remove(b->loop, &a->spawner_source);
        struct child *c, *tmp;
        list_for_each_entry_safe(c, tmp, &a->children, link)
        {
                if (c->exec_errno_fd >= 0)
                        close(c->exec_errno_fd);
                free(c->name);
                free(c);
        }
        for (size_t i = 0; i < a->n_env; i++)
                free(a->env[i]);
        free(a->env);
        free(a);
        b->activation = NULL;
}

static char *strip(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = 0;
        return s;
}

/* Parse one .service file (desktop-entry syntax, group [D-BUS Service]), read from f. */
static int parse_service_file(struct bus *b, FILE *f, const char *path, struct activation_entry **ret)
{
        struct activation_entry *e = zalloc(sizeof(*e));
        if (!e)
                return -ENOMEM;
        char line[4096];
        bool in_group = false;
        unsigned lineno = 0;
        while (fgets(line, sizeof(line), f)) {
                lineno++;
                char *s = strip(line);
                if (!*s || *s == '#')
                        continue;
                if (*s == '[') {
                        in_group = streq(s, "[D-BUS Service]");
                        continue;
                }
                if (!in_group)
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        log_warning("%s:%u: ignoring line without '='", path, lineno);
                        continue;
                }
                *eq = 0;
                char *key = strip(s), *value = strip(eq + 1);
                char **slot = streq(key, "Name")             ? &e->name
                              : streq(key, "Exec")           ? &e->exec
                              : streq(key, "User")           ? &e->user
                              : streq(key, "SystemdService") ? &e->systemd_service
                                                             : NULL;
                if (!slot)
                        continue; /* AssumedAppArmorLabel=, ...: not ours to act on */
                free(*slot);
                *slot = strdup(value);
                if (!*slot) {
                        entry_free(e);
                        return -ENOMEM;
                }
        }
        if (!e->name || !e->exec || !dbus_validate_well_known_name(e->name, strlen(e->name))) {
                log_warning("%s: not a valid service file (needs a valid Name= and an Exec=), ignored",
                            path);
                entry_free(e);
                return -EINVAL;
        }
        e->file = strdup(path);
        if (!e->file) {
                entry_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

/* With root_fd >= 0, dir and its files are resolved inside that root (a container's: rootfs.h). */
static int load_dir(struct bus *b, int root_fd, const char *dir)
{
        struct activation *a = b->activation;
        _cleanup_closedir_ DIR *d = root_fd >= 0 ? rootfs_opendir(root_fd, dir) : opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l <= 8 || !streq(de->d_name + l - 8, ".service"))
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                struct activation_entry *e = NULL;
                _cleanup_fclose_ FILE *f = root_fd >= 0 ? rootfs_fopen(root_fd, path) : fopen(path, "re");
                if (!f || parse_service_file(b, f, path, &e) < 0)
                        continue;
                if (hashmap_get(a->entries, e->name)) {
                        entry_free(e); /* an earlier directory wins, as in dbus-daemon */
                        continue;
                }
                struct name *n;
                if (hashmap_put(a->entries, e->name, e) < 0 || names_ref(b, e->name, &n) < 0) {
                        hashmap_remove(a->entries, e->name);
                        entry_free(e);
                        return -ENOMEM;
                }
                n->activatable = e;
        }
        return 0;
}

int activation_load(struct bus *b, char *const *dirs, size_t n_dirs)
{
        return activation_load_in_root(b, -1, dirs, n_dirs);
}

void activation_use_systemd(struct bus *b)
{
        b->activation->systemd = true;
}

bool activation_uses_systemd(const struct bus *b)
{
        return b->activation && b->activation->systemd;
}

/* dbus-daemon assumes systemd will connect eventually: with systemd activation its name needs no file. */
static bool is_awaited_systemd(const struct bus *b, const char *name)
{
        return activation_uses_systemd(b) && streq(name, SYSTEMD_NAME);
}

bool activation_is_activatable(struct bus *b, const char *name)
{
        return b->activation &&
               (hashmap_get(b->activation->entries, name) != NULL || is_awaited_systemd(b, name));
}

int activation_set_env(struct bus *b, const char *key, const char *value)
{
        struct activation *a = b->activation;
        if (!*key || strchr(key, '='))
                return -EINVAL;
        size_t kl = strlen(key);
        char *kv;
        if (asprintf(&kv, "%s=%s", key, value) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < a->n_env; i++)
                if (strncmp(a->env[i], key, kl) == 0 && a->env[i][kl] == '=') {
                        free(a->env[i]);
                        a->env[i] = kv;
                        return 0;
                }
        if (GREEDY_REALLOC(a->env, a->allocated_env, a->n_env + 2) < 0) {
                free(kv);
                return -ENOMEM;
        }
        a->env[a->n_env++] = kv;
        a->env[a->n_env] = NULL;
        return 0;
}

/* Split an Exec= line the way dbus-daemon's _dbus_shell_parse_argv does: whitespace separates,
 * single quotes are literal, double quotes allow \" \\ \$ \`, a backslash outside quotes escapes. */
static int split_exec(const char *s, char ***ret)
{
        char **argv = NULL;
        size_t n = 0, allocated = 0;
        char *word = NULL;
        size_t wl = 0, wa = 0;
        bool have_word = false;

        for (const char *p = s;; p++) {
                char c = *p;
                if (c == 0 || c == ' ' || c == '\t' || c == '\n') {
                        if (have_word) {
                                if (GREEDY_REALLOC(word, wa, wl + 1) < 0 ||
                                    GREEDY_REALLOC(argv, allocated, n + 2) < 0)
                                        goto oom;
                                word[wl] = 0;
                                argv[n++] = word;
                                argv[n] = NULL;
                                word = NULL;
                                wl = wa = 0;
                                have_word = false;
                        }
                        if (c == 0)
                                break;
                        continue;
                }
                have_word = true;
                if (c == '\'') {
                        for (p++; *p && *p != '\''; p++) {
                                if (GREEDY_REALLOC(word, wa, wl + 1) < 0)
                                        goto oom;
                                word[wl++] = *p;
                        }
                        if (!*p)
                                goto bad;
                        continue;
                }
                if (c == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                char ch = *p;
                                if (ch == '\\' && p[1] && strchr("\"\\$`", p[1]))
                                        ch = *++p;
                                if (GREEDY_REALLOC(word, wa, wl + 1) < 0)
                                        goto oom;
                                word[wl++] = ch;
                        }
                        if (!*p)
                                goto bad;
                        continue;
                }
                if (c == '\\' && p[1])
                        c = *++p;
                if (GREEDY_REALLOC(word, wa, wl + 1) < 0)
                        goto oom;
                word[wl++] = c;
        }
        if (n == 0)
                goto bad;
        *ret = argv;
        return 0;
bad:
        free(word);
        for (size_t i = 0; i < n; i++)
                free(argv[i]);
        free(argv);
        return -EINVAL;
oom:
        free(word);
        for (size_t i = 0; i < n; i++)
                free(argv[i]);
        free(argv);
        return -ENOMEM;
}

static const char *bus_address_for_children(struct bus *b)
{
        struct listener *l;
        list_for_each_entry(l, &b->listeners, link)
        {
                if (l->origin == ORIGIN_BUS)
                        return l->address;
        }
        return "";
}

static int spawn_in_container(struct bus *b, struct activation_entry *e);

static int spawn_service(struct bus *b, struct activation_entry *e)
{
        if (b->container)
                return spawn_in_container(b, e);
        struct activation *a = b->activation;
        char **argv = NULL;
        int r = split_exec(e->exec, &argv);
        if (r < 0)
                return r;

        /* Who the service runs as, resolved before the fork: the child only has to switch. */
        _cleanup_(userdb_user_done) struct userdb_user user = {0};
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        bool as_user = e->user && geteuid() == 0;
        if (as_user) {
                r = userdb_user_by_name(e->user, &user);
                if (r >= 0)
                        r = userdb_groups_of(&user, &groups, &n_groups);
                if (r < 0) {
                        for (char **s = argv; *s; s++)
                                free(*s);
                        free(argv);
                        return r == -ENOENT || r == -EINVAL ? -ESRCH : r;
                }
        }

        const char *address = bus_address_for_children(b);
        const char *type = b->bus_type ? b->bus_type : "session";

        /* exec closes the write end; if exec fails, the child writes errno first. Read at reap time,
         * so the bus never blocks on a child. */
        int errpipe[2];
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                r = -errno;
                for (char **s = argv; *s; s++)
                        free(*s);
                free(argv);
                return r;
        }

        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close(errpipe[0]);
                close(errpipe[1]);
                for (char **s = argv; *s; s++)
                        free(*s);
                free(argv);
                return r;
        }
        if (pid == 0) {
                /* Child: a clean signal state, the activation environment, the right user, then exec. */
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                setsid();
                for (size_t i = 0; i < a->n_env; i++)
                        putenv(a->env[i]);
                setenv("DBUS_STARTER_ADDRESS", address, 1);
                setenv("DBUS_STARTER_BUS_TYPE", type, 1);
                if (streq(type, "session"))
                        setenv("DBUS_SESSION_BUS_ADDRESS", address, 1);
                else if (streq(type, "system"))
                        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
                if (as_user) {
                        if (setgroups(n_groups, groups) < 0 || setgid(user.gid) < 0 || setuid(user.uid) < 0)
                                _exit(126);
                        setenv("HOME", user.home, 1);
                        setenv("USER", user.name, 1);
                        setenv("LOGNAME", user.name, 1);
                }
                close(errpipe[0]);
                execv(argv[0], argv);
                if (!strchr(argv[0], '/'))
                        execvp(argv[0], argv);
                int exec_errno = errno;
                if (write(errpipe[1], &exec_errno, sizeof(exec_errno)) < 0) {
                        /* nothing more to tell */
                }
                _exit(127);
        }
        close(errpipe[1]);
        for (char **s = argv; *s; s++)
                free(*s);
        free(argv);

        struct child *c = zalloc(sizeof(*c));
        if (!c) {
                close(errpipe[0]);
                return 0; /* it runs; only its exit status will not be interpreted */
        }
        c->pid = pid;
        c->name = strdup(e->name);
        c->exec_errno_fd = errpipe[0];
        list_add_tail(&a->children, &c->link);
        return 0;
}

static bool activating(const struct name *n)
{
        return !list_unlinked(&n->activating_link);
}

/* Deadlines are start time plus one timeout, so a new one nearly always goes last; only a reload that
 * shortened service_start_timeout sends it further forward. */
static void activating_add(struct bus *b, struct name *n, uint64_t deadline)
{
        struct list_head *at = &b->activating;
        while (at->prev != &b->activating &&
               list_entry(at->prev, struct name, activating_link)->activation_deadline_usec > deadline)
                at = at->prev;
        n->activation_deadline_usec = deadline;
        list_add_tail(at, &n->activating_link);
        event_timer_arm_by(b->loop, &b->activation_timer, deadline);
}

/* n's activation is over (its owner came, or it failed): it leaves b->activating. */
static void activation_end(struct name *n)
{
        list_del(&n->activating_link);
        free(n->systemd_unit);
        n->systemd_unit = NULL;
}

static void pending_free(struct pending *pd)
{
        list_del(&pd->link);
        message_unref(pd->m);
        free(pd);
}

static void fail_pending(struct bus *b, struct name *n, const char *error, const char *fmt, ...)
        _printf_(4, 5);

static void fail_pending(struct bus *b, struct name *n, const char *error, const char *fmt, ...)
{
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);

        activation_end(n);
        while (!list_empty(&n->pending_activation)) {
                struct pending *pd = list_first_entry(&n->pending_activation, struct pending, link);
                uint64_t id = pd->sender_id;
                struct peer *sender = pd->from_bus ? NULL : hashmap_get(b->peers_by_id, &id);
                if (sender && sender->state == PEER_RUNNING)
                        routing_reply_error(b, sender, pd->m, error, "%s", text);
                pending_free(pd);
        }
        names_unref_if_unused(n);
}

/* sender NULL: the bus's own message (to systemd), which max_pending_service_starts, a limit on clients,
 * does not refuse. */
static int start(struct bus *b, struct peer *sender, struct message *m, const char *name, bool by_name,
                 struct activation_start *ret)
{
        *ret = (struct activation_start){0};
        struct name *n;
        int r = names_ref(b, name, &n);
        if (r < 0)
                return r;
        size_t queued = 0;
        struct pending *pd;
        list_for_each_entry(pd, &n->pending_activation, link) queued++;
        if (sender && queued >= bus_limit(b->limits.max_pending_service_starts)) {
                names_unref_if_unused(n);
                ret->error_name = DBUS_ERROR_LIMITS_EXCEEDED;
                snprintf(ret->error_text, sizeof(ret->error_text),
                         "The maximum number of pending activations has been reached");
                return 0;
        }

        pd = zalloc(sizeof(*pd));
        if (!pd) {
                names_unref_if_unused(n);
                return -ENOMEM;
        }
        pd->sender_id = sender ? sender->id : 0;
        pd->from_bus = !sender;
        pd->m = message_ref(m);
        pd->start_by_name = by_name;
        list_add_tail(&n->pending_activation, &pd->link);

        if (activating(n))
                return 0;
        activating_add(b, n, now_usec() + (uint64_t)b->limits.service_start_timeout * 1000);
        if (is_awaited_systemd(b, name))
                return 0;
        if (b->activation->systemd && n->activatable->systemd_service) {
                n->systemd_unit = strdup(n->activatable->systemd_service);
                if (!n->systemd_unit) {
                        activation_end(n);
                        pending_free(pd);
                        names_unref_if_unused(n);
                        return -ENOMEM;
                }
                ret->systemd_unit = n->systemd_unit;
                return 0;
        }
        r = spawn_service(b, n->activatable);
        if (r < 0) {
                /* The name was not activating, so only this message waits: it is the one that fails. */
                snprintf(ret->error_text, sizeof(ret->error_text), "Failed to execute program %s: %s",
                         n->activatable->exec, strerror(-r));
                ret->error_name = DBUS_ERROR_SPAWN_EXEC_FAILED;
                activation_end(n);
                pending_free(pd);
                names_unref_if_unused(n);
        }
        return 0;
}

int activation_queue_message(struct bus *b, struct peer *sender, struct message *m,
                             struct activation_start *ret)
{
        return start(b, sender, m, m->destination, false, ret);
}

int activation_start_by_name(struct bus *b, struct peer *p, struct message *call, const char *name,
                             struct activation_start *ret)
{
        return start(b, p, call, name, true, ret);
}

int activation_hold_bus_message(struct bus *b, struct message *m)
{
        if (!activation_is_activatable(b, m->destination))
                return -ESRCH;
        struct activation_start st;
        int r = start(b, NULL, m, m->destination, false, &st);
        if (r < 0)
                return r;
        /* Only systemd's own name is held for the bus, and it is waited for, never started. */
        return st.error_name ? -EIO : 0;
}

void activation_systemd_failed(struct bus *b, const char *unit, const char *error_name, const char *text)
{
        struct name *n, *tmp;
        list_for_each_entry_safe(n, tmp, &b->activating, activating_link)
        {
                if (streq_ptr(n->systemd_unit, unit))
                        /* Unlinks n from b->activating, and may free it. */
                        fail_pending(b, n, error_name, "%s", text);
        }
}

void activation_name_acquired(struct bus *b, const char *name)
{
        struct name *n = names_get(b, name);
        if (!n || list_empty(&n->pending_activation))
                return;
        struct activation *a = b->activation;
        struct child *c;
        list_for_each_entry(c, &a->children, link)
        {
                if (streq_ptr(c->name, name))
                        c->acquired = true;
        }
        activation_end(n);

        /* Detach the queue first: dispatching may queue new activations of the same name. */
        struct list_head q;
        list_init(&q);
        while (!list_empty(&n->pending_activation)) {
                struct pending *pd = list_first_entry(&n->pending_activation, struct pending, link);
                list_del(&pd->link);
                list_add_tail(&q, &pd->link);
        }
        while (!list_empty(&q)) {
                struct pending *pd = list_first_entry(&q, struct pending, link);
                list_del(&pd->link);
                uint64_t id = pd->sender_id;
                struct peer *sender = pd->from_bus ? NULL : hashmap_get(b->peers_by_id, &id);
                if (pd->from_bus) {
                        routing_deliver_held(b, NULL, pd->m);
                } else if (sender && sender->state == PEER_RUNNING) {
                        if (pd->start_by_name) {
                                struct msg_builder mb;
                                msg_builder_init(&mb, MESSAGE_METHOD_RETURN, driver_next_serial(b));
                                mb.flags = MESSAGE_FLAG_NO_REPLY_EXPECTED;
                                mb.reply_serial = pd->m->serial;
                                mb.destination = sender->unique_name;
                                mb.sender = DRIVER_NAME;
                                msg_builder_append(&mb, "u", (uint32_t)1); /* DBUS_START_REPLY_SUCCESS */
                                struct message *reply;
                                if (!(pd->m->flags & MESSAGE_FLAG_NO_REPLY_EXPECTED) &&
                                    msg_builder_finish(&mb, &reply) >= 0) {
                                        routing_send_driver_message(b, sender, reply);
                                        message_unref(reply);
                                } else {
                                        msg_builder_done(&mb);
                                }
                        } else {
                                routing_deliver_held(b, sender, pd->m);
                        }
                }
                message_unref(pd->m);
                free(pd);
        }
        names_unref_if_unused(n);
}

/* A child is gone (status): the names still waiting for it learn why, unless it exited successfully, which
 * may be a service that forked into the background. */
static void child_exited(struct bus *b, struct child *c, int status, int exec_errno)
{
        struct name *n = c->name ? names_get(b, c->name) : NULL;
        bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (n && activating(n) && !c->acquired && exec_errno)
                fail_pending(b, n, DBUS_ERROR_SPAWN_EXEC_FAILED, "Failed to execute program %s: %s", c->name,
                             strerror(exec_errno));
        else if (n && activating(n) && !c->acquired && failed) {
                if (WIFEXITED(status))
                        fail_pending(b, n, DBUS_ERROR_SPAWN_CHILD_EXITED, "Process %s exited with status %d",
                                     c->name, WEXITSTATUS(status));
                else
                        fail_pending(b, n, DBUS_ERROR_SPAWN_CHILD_SIGNALED, "Process %s received signal %d",
                                     c->name, WTERMSIG(status));
        }
        list_del(&c->link);
        if (c->exec_errno_fd >= 0)
                close(c->exec_errno_fd);
        free(c->name);
        free(c);
}

void activation_reap_children(struct bus *b)
{
        struct activation *a = b->activation;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return;
                struct child *c, *tmp;
                list_for_each_entry_safe(c, tmp, &a->children, link)
                {
                        if (c->pid != pid || c->spawn_id)
                                continue;
                        int exec_errno = 0;
                        if (c->exec_errno_fd >= 0 &&
                            read(c->exec_errno_fd, &exec_errno, sizeof(exec_errno)) != sizeof(exec_errno))
                                exec_errno = 0;
                        child_exited(b, c, status, exec_errno);
                        break;
                }
        }
}

uint64_t activation_check_timeouts(struct bus *b, uint64_t now)
{
        while (!list_empty(&b->activating)) {
                struct name *n = list_first_entry(&b->activating, struct name, activating_link);
                if (n->activation_deadline_usec > now)
                        return n->activation_deadline_usec;
                /* As dbus-daemon, a service that did not make it in time is stopped. */
                struct child *c;
                list_for_each_entry(c, &b->activation->children, link)
                {
                        if (!streq_ptr(c->name, n->name))
                                continue;
                        if (c->spawn_id) /* the spawner's child, which nsbusd may not signal itself */
                                spawner_kill(b->container->spawner, c->spawn_id, SIGTERM);
                        else
                                kill(c->pid, SIGTERM);
                }
                /* Unlinks n from b->activating, and may free it. */
                fail_pending(b, n, DBUS_ERROR_TIMED_OUT,
                             "Failed to activate service '%s': timed out (service_start_timeout=%dms)",
                             n->name, b->limits.service_start_timeout);
        }
        return 0;
}

int activation_load_config(struct bus *b, const struct bus_config *c)
{
        _cleanup_free_ char **dirs = new0(char *, c->n_servicedirs + 1);
        if (!dirs)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_servicedirs; i++)
                dirs[i] = c->servicedirs[i].path;
        /* A container bus's services are the container's own: its files, read inside its root, started
         * inside it (spawn_in_container()). Never the host's files, never on the host. */
        if (b->container)
                return activation_load_in_root(b, b->container->root_fd, dirs, c->n_servicedirs);
        return activation_load(b, dirs, c->n_servicedirs);
}

/* --- a container bus: services started by the container's spawner (container-spawn.h) ------------- */

int activation_load_in_root(struct bus *b, int root_fd, char *const *dirs, size_t n_dirs)
{
        clear_entries(b);
        for (size_t i = 0; i < n_dirs; i++) {
                int r = load_dir(b, root_fd, dirs[i]);
                if (r < 0)
                        log_warning("cannot read service directory %s%s: %s", dirs[i],
                                    root_fd >= 0 ? " inside the container" : "", strerror(-r));
        }
        return 0;
}

static void free_strv(char **v)
{
        for (char **s = v; s && *s; s++)
                free(*s);
        free(v);
}

/* The whole environment of a container's service: the activation environment, then what dbus-daemon's
 * launch helper gives a system service, with the bus's address as the container sees it. Those last
 * three win over the activation environment. NULL when out of memory. */
static char **container_service_env(struct activation *a)
{
        static const char *const fixed[] = {
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ("DBUS_STARTER_ADDRESS=" CONTAINER_BUS_ADDRESS),
                "DBUS_STARTER_BUS_TYPE=system",
        };
        char **env = new0(char *, a->n_env + ELEMENTSOF(fixed) + 1);
        size_t n = 0;
        for (size_t i = 0; env && i < a->n_env; i++) {
                bool overridden = false;
                for (size_t j = 0; j < ELEMENTSOF(fixed); j++)
                        overridden |= strncmp(a->env[i], fixed[j], strcspn(fixed[j], "=") + 1) == 0;
                if (!overridden && !(env[n++] = strdup(a->env[i]))) {
                        free_strv(env);
                        return NULL;
                }
        }
        for (size_t j = 0; env && j < ELEMENTSOF(fixed); j++)
                if (!(env[n++] = strdup(fixed[j]))) {
                        free_strv(env);
                        return NULL;
                }
        return env;
}

static void container_child_forget(struct child *c)
{
        list_del(&c->link);
        free(c->name);
        free(c);
}

static void container_spawner_event(struct bus *b, const struct spawn_event *ev)
{
        struct child *c, *found = NULL;
        list_for_each_entry(c, &b->activation->children, link)
        {
                if (c->spawn_id == ev->id)
                        found = c;
        }
        if (!found)
                return;
        c = found;
        const char *container = b->container->name;
        struct name *n = names_get(b, c->name);
        switch (ev->type) {
        case SPAWN_EVENT_STARTED:
                c->pid = ev->pid;
                log_info("container %s: started %s: pid %d in the container, %d on the host", container,
                         c->name, (int)ev->inner_pid, (int)ev->pid);
                break;
        case SPAWN_EVENT_EXITED:
                if (WIFSIGNALED(ev->status) || WEXITSTATUS(ev->status) != 0)
                        log_info("container %s: %s (pid %d on the host) %s %d", container, c->name,
                                 (int)c->pid,
                                 WIFSIGNALED(ev->status) ? "was killed by signal" : "exited with status",
                                 WIFSIGNALED(ev->status) ? WTERMSIG(ev->status) : WEXITSTATUS(ev->status));
                child_exited(b, c, ev->status, 0);
                break;
        case SPAWN_EVENT_FAILED:
                /* dbus-daemon's launch helper: an unknown user is SetupFailed, a program that cannot be
                 * executed ExecFailed. */
                log_warning("container %s: cannot start %s: %s", container, c->name, ev->text);
                if (n && activating(n) && !c->acquired)
                        fail_pending(b, n,
                                     ev->failure == SPAWN_FAILURE_EXEC ? DBUS_ERROR_SPAWN_EXEC_FAILED
                                                                       : DBUS_ERROR_SPAWN_SETUP_FAILED,
                                     "Cannot start %s in container %s: %s", c->name, container, ev->text);
                container_child_forget(c);
                break;
        }
}

/* The spawner is gone (killed, or the container's init exited): what it was starting fails. */
static void container_spawner_gone(struct bus *b, int r)
{
        struct activation *a = b->activation;
        log_error("container %s: the spawner of its services is gone (%s); activation fails from now on",
                  b->container->name, strerror(-r));
        event_source_remove(b->loop, &a->spawner_source);
        a->spawner_gone = true;
        struct child *c, *tmp;
        list_for_each_entry_safe(c, tmp, &a->children, link)
        {
                if (!c->spawn_id)
                        continue;
                struct name *n = names_get(b, c->name);
                if (n && activating(n) && !c->acquired)
                        fail_pending(b, n, DBUS_ERROR_SPAWN_FAILED,
                                     "Cannot start %s in container %s: nsbusd's spawner is gone", c->name,
                                     b->container->name);
                container_child_forget(c);
        }
}

static void container_spawner_io(struct event_source *s, uint32_t events)
{
        struct activation *a = container_of(s, struct activation, spawner_source);
        struct bus *b = a->bus;
        struct spawn_event ev;
        int r;
        while ((r = spawner_receive(b->container->spawner, &ev)) > 0)
                container_spawner_event(b, &ev);
        if (r < 0)
                container_spawner_gone(b, r);
}

static int spawn_in_container(struct bus *b, struct activation_entry *e)
{
        struct activation *a = b->activation;
        struct container *ct = b->container;
        struct name *n = names_get(b, e->name);
        /* dbus-daemon's launch helper requires User= of a system service; so does a container bus, whose
         * services run as users of the container, never as whoever nsbusd is. */
        if (!e->user) {
                log_warning("container %s: cannot start %s: %s has no User=", ct->name, e->name, e->file);
                fail_pending(b, n, DBUS_ERROR_SPAWN_FILE_INVALID,
                             "Cannot start %s in container %s: %s has no User= (a container's services run "
                             "as a user of its /etc/passwd)",
                             e->name, ct->name, e->file);
                return 0;
        }
        char **argv = NULL;
        int r = split_exec(e->exec, &argv);
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                log_warning("container %s: cannot start %s: cannot parse Exec= of %s", ct->name, e->name,
                            e->file);
                fail_pending(b, n, DBUS_ERROR_SPAWN_FILE_INVALID,
                             "Cannot start %s in container %s: Exec= of %s is not a valid command line",
                             e->name, ct->name, e->file);
                return 0;
        }
        char **env = container_service_env(a);
        struct child *c = zalloc(sizeof(*c));
        if (!env || !c || !(c->name = strdup(e->name))) {
                free_strv(argv);
                free_strv(env);
                free(c);
                return -ENOMEM;
        }
        c->exec_errno_fd = -1;
        c->spawn_id = ++a->next_spawn_id;
        struct spawn_request req = {
                .id = c->spawn_id, .label = e->name, .user = e->user, .argv = argv, .env = env};
        r = a->spawner_gone ? -EPIPE : spawner_spawn(ct->spawner, &req);
        free_strv(argv);
        free_strv(env);
        if (r >= 0 && a->spawner_source.fd < 0)
                r = event_source_add(b->loop, &a->spawner_source, spawner_fd(ct->spawner), EPOLLIN,
                                     container_spawner_io);
        if (r < 0) {
                log_error("container %s: cannot ask the spawner to start %s: %s", ct->name, e->name,
                          strerror(-r));
                fail_pending(b, n, r == -E2BIG ? DBUS_ERROR_SPAWN_FILE_INVALID : DBUS_ERROR_SPAWN_FAILED,
                             "Cannot start %s in container %s: %s", e->name, ct->name,
                             r == -E2BIG   ? "its command line and environment are too long"
                             : r == -EPIPE ? "nsbusd's spawner is gone"
                                           : strerror(-r));
                free(c->name);
                free(c);
                return 0;
        }
        list_add_tail(&a->children, &c->link);
        return 0;
}
