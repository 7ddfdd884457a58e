/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl list: busctl's table of bus names (NAME PID PROCESS USER
 * CONNECTION UNIT SESSION DESCRIPTION), or its JSON. busctl asks for each
 * name's credentials one call at a time; nsbusctl sends all the questions at
 * once and waits once, so a bus with a thousand peers answers in one round
 * trip's time. UNIT, SESSION and DESCRIPTION come from systemd's view of a
 * process, which nsbusctl does not take: they are always "-".
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "connect.h"
#include "cview.h"
#include "format.h"
#include "hashmap.h"
#include "verbs.h"

enum { ROW_UNIQUE, ROW_ACQUIRED, ROW_ACTIVATABLE };

struct row {
        char *name;
        int kind;
        int64_t pid; /* -1: unknown */
        int64_t uid;
        char *connection;
        char process[32];
        char user[64];
        int64_t cpid, cuid; /* on a container bus, as the container sees them (-1: unknown) */
};

static int row_compare(const void *a, const void *b)
{
        return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

/* ListNames or ListActivatableNames, into rows. */
static int add_names(const struct cli_options *o, struct client *c, const char *member, int kind,
                     struct row **rows, size_t *n)
{
        struct msg_builder b;
        struct message *reply;
        cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_NAME, member);
        int r = cli_call(o, c, &b, member, &reply);
        if (r < 0)
                return r;
        _cleanup_free_ char **names = NULL;
        r = message_read(reply, "as", &names);
        /* ListNames has each name once; an activatable name that runs is shown as running. */
        struct hashmap *known = NULL;
        if (r >= 0 && *n > 0) {
                known = hashmap_new(&string_hash_ops);
                for (size_t j = 0; known && j < *n; j++)
                        if (hashmap_put(known, (*rows)[j].name, &(*rows)[j]) < 0)
                                r = -ENOMEM;
                if (!known)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && names[i]; i++) {
                bool known_name = known && hashmap_get(known, names[i]);
                int k = kind == ROW_ACQUIRED && names[i][0] == ':' ? ROW_UNIQUE : kind;
                if (known_name || (k == ROW_UNIQUE && !o->unique) || (k == ROW_ACQUIRED && !o->acquired))
                        continue;
                struct row *more = realloc(*rows, (*n + 1) * sizeof(**rows));
                if (!more) {
                        r = -ENOMEM;
                        break;
                }
                *rows = more;
                (*rows)[(*n)++] = (struct row){
                        .name = strdup(names[i]), .kind = k, .pid = -1, .uid = -1, .cpid = -1, .cuid = -1};
                if (!(*rows)[*n - 1].name)
                        r = -ENOMEM;
        }
        hashmap_free(known);
        message_unref(reply);
        return r < 0 ? cli_fail(r, "%s: unreadable reply", member) : 0;
}

/* The credentials and owner of every running name, asked all at once. */
static int fill_credentials(const struct cli_options *o, struct client *c, struct row *rows, size_t n)
{
        _cleanup_free_ struct message **calls = calloc(2 * n + 1, sizeof(*calls));
        _cleanup_free_ struct message **replies = calloc(2 * n + 1, sizeof(*replies));
        if (!calls || !replies)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < 2 * n && r >= 0; i++) {
                struct msg_builder b;
                cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_NAME,
                              i % 2 ? "GetNameOwner" : "GetConnectionCredentials");
                msg_builder_append(&b, "s", rows[i / 2].name);
                r = msg_builder_finish(&b, &calls[i]);
        }
        if (r >= 0)
                r = client_call_batch(c, calls, 2 * n, o->timeout_ms, replies);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct message *creds = replies[2 * i], *owner = replies[2 * i + 1];
                if (creds->type == MESSAGE_METHOD_RETURN && streq(creds->signature, "a{sv}")) {
                        struct msg_reader rd;
                        msg_reader_init(&rd, creds);
                        msg_reader_enter(&rd, 'a', "{sv}");
                        while (msg_reader_peek(&rd)) {
                                const char *key;
                                uint32_t v;
                                msg_reader_enter(&rd, '{', "sv");
                                msg_reader_read_basic(&rd, 's', &key);
                                msg_reader_enter(&rd, 'v', NULL);
                                if ((streq(key, "ProcessID") || streq(key, "UnixUserID")) &&
                                    msg_reader_read_basic(&rd, 'u', &v) >= 0)
                                        *(streq(key, "ProcessID") ? &rows[i].pid : &rows[i].uid) = v;
                                else
                                        msg_reader_skip(&rd);
                                msg_reader_exit(&rd);
                                msg_reader_exit(&rd);
                        }
                }
                const char *unique;
                /* As busctl: the bus itself has no connection to show. */
                if (!streq(rows[i].name, DRIVER_NAME) && owner->type == MESSAGE_METHOD_RETURN &&
                    message_read(owner, "s", &unique) >= 0)
                        rows[i].connection = strdup(unique);
        }
        for (size_t i = 0; i < 2 * n; i++) {
                message_unref(calls[i]);
                message_unref(replies[i]);
        }
        return r < 0 ? cli_fail(r, "cannot ask for the names' credentials: %s", strerror(-r)) : 0;
}

/* The user name of uid, or the number: a few uids own most connections, and each getpwuid() reads the
 * user database again, so the last answers are kept. */
static void user_name(uid_t uid, char *buf, size_t size)
{
        static struct {
                uid_t uid;
                char name[64];
        } cache[8];
        static size_t n_cache, next;
        for (size_t i = 0; i < n_cache; i++)
                if (cache[i].uid == uid) {
                        snprintf(buf, size, "%s", cache[i].name);
                        return;
                }
        struct passwd *pw = getpwuid(uid);
        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned)uid);
        cache[next].uid = uid;
        snprintf(cache[next].name, sizeof(cache[next].name), "%s", buf);
        next = (next + 1) % ELEMENTSOF(cache);
        n_cache = MIN(n_cache + 1, ELEMENTSOF(cache));
}

static void describe_process(struct row *w)
{
        snprintf(w->process, sizeof(w->process), "-");
        snprintf(w->user, sizeof(w->user), "-");
        if (w->pid > 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%" PRId64 "/comm", w->pid);
                _cleanup_fclose_ FILE *f = fopen(path, "re");
                if (f && fgets(w->process, sizeof(w->process), f))
                        w->process[strcspn(w->process, "\n")] = 0;
                else
                        snprintf(w->process, sizeof(w->process), "n/a");
        }
        if (w->uid >= 0)
                user_name((uid_t)w->uid, w->user, sizeof(w->user));
}

static const char *dash(const char *s)
{
        return s && s[0] ? s : "-";
}

static void print_table(const struct cli_options *o, const struct row *rows, size_t n, bool container)
{
        int w_name = 4, w_pid = 3, w_proc = 7, w_user = 4, w_conn = 10;
        char pid[24];
        for (size_t i = 0; i < n; i++) {
                snprintf(pid, sizeof(pid), "%" PRId64, rows[i].pid);
                w_name = MAX(w_name, (int)strlen(rows[i].name));
                w_pid = MAX(w_pid, rows[i].pid > 0 ? (int)strlen(pid) : 1);
                w_proc = MAX(w_proc, (int)strlen(rows[i].process));
                w_user = MAX(w_user, (int)strlen(rows[i].user));
                w_conn =
                        MAX(w_conn, (int)strlen(rows[i].kind == ROW_ACTIVATABLE ? "(activatable)"
                                                                                : dash(rows[i].connection)));
        }
        /* A container bus gets two columns more, after busctl's: the pid and uid inside. */
        if (o->legend)
                printf("%-*s %*s %-*s %-*s %-*s UNIT SESSION DESCRIPTION%s\n", w_name, "NAME", w_pid, "PID",
                       w_proc, "PROCESS", w_user, "USER", w_conn, "CONNECTION",
                       container ? "     CPID   CUID" : "");
        for (size_t i = 0; i < n; i++) {
                const struct row *w = &rows[i];
                snprintf(pid, sizeof(pid), "%" PRId64, w->pid);
                const char *conn = w->kind == ROW_ACTIVATABLE ? "(activatable)" : dash(w->connection);
                printf("%-*s %*s %-*s %-*s %-*s -    -       -", w_name, w->name, w_pid,
                       w->pid > 0 ? pid : "-", w_proc, w->process, w_user, w->user, w_conn, conn);
                if (container) {
                        char cpid[24] = "-", cuid[24] = "-";
                        if (w->cpid >= 0)
                                snprintf(cpid, sizeof(cpid), "%" PRId64, w->cpid);
                        if (w->cuid >= 0)
                                snprintf(cuid, sizeof(cuid), "%" PRId64, w->cuid);
                        printf("           %8s %6s", cpid, cuid);
                }
                putchar('\n');
        }
}

/* The container a container bus serves (Container1.GetInfo): true with *cv filled. */
static bool container_info(const struct cli_options *o, struct client *c, struct cview *cv)
{
        struct msg_builder b;
        cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, "org.nsbus.Container1", "GetInfo");
        struct message *call = NULL, *reply = NULL;
        bool ok = msg_builder_finish(&b, &call) >= 0 &&
                  client_call_blocking(c, call, o->timeout_ms, &reply) >= 0 &&
                  cview_from_info(reply, cv) > 0;
        message_unref(call);
        message_unref(reply);
        return ok;
}

/* busctl --json's list: an array of objects, one per name, "null" where busctl's table has "-". */
static int print_json(const struct cli_options *o, const struct row *rows, size_t n, bool container)
{
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                const struct row *w = &rows[i];
                struct json_object *e = json_object_new_object();
                json_object_object_add(e, "name", json_object_new_string(w->name));
                json_object_object_add(e, "pid", w->pid > 0 ? json_object_new_int64(w->pid) : NULL);
                json_object_object_add(e, "process", w->pid > 0 ? json_object_new_string(w->process) : NULL);
                json_object_object_add(e, "user", w->uid >= 0 ? json_object_new_string(w->user) : NULL);
                json_object_object_add(e, "connection",
                                       w->kind == ROW_ACTIVATABLE ? NULL
                                       : w->connection            ? json_object_new_string(w->connection)
                                                                  : NULL);
                json_object_object_add(e, "activatable",
                                       json_object_new_boolean(w->kind == ROW_ACTIVATABLE));
                if (container) {
                        json_object_object_add(e, "container_pid",
                                               w->cpid >= 0 ? json_object_new_int64(w->cpid) : NULL);
                        json_object_object_add(e, "container_uid",
                                               w->cuid >= 0 ? json_object_new_int64(w->cuid) : NULL);
                }
                json_object_array_add(a, e);
        }
        return format_json_print(a, o->json == CLI_JSON_PRETTY);
}

int verb_list(const struct cli_options *o, int argc, char **argv)
{
        if (argc > 1)
                return cli_fail(-EINVAL, "list: takes no arguments");
        struct cli_options lo = *o;
        if (!lo.unique && !lo.acquired && !lo.activatable)
                lo.unique = lo.acquired = lo.activatable = true;
        lo.no_unix_fds = true; /* credentials then come without a pidfd per row to receive and close */
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_connect(&lo, &c);
        if (r < 0)
                return r;
        struct row *rows = NULL;
        size_t n = 0, n_running;
        if (lo.unique || lo.acquired)
                r = add_names(&lo, c, "ListNames", ROW_ACQUIRED, &rows, &n);
        n_running = n;
        if (r >= 0 && lo.activatable)
                r = add_names(&lo, c, "ListActivatableNames", ROW_ACTIVATABLE, &rows, &n);
        if (r >= 0)
                r = fill_credentials(&lo, c, rows, n_running);
        struct cview cv = {};
        bool container = r >= 0 && (lo.container || lo.pid) && container_info(&lo, c, &cv);
        if (r >= 0) {
                for (size_t i = 0; i < n; i++) {
                        describe_process(&rows[i]);
                        if (container) {
                                rows[i].cpid = cview_pid(&cv, rows[i].pid);
                                rows[i].cuid = cview_uid(&cv, rows[i].uid);
                        }
                }
                qsort(rows, n, sizeof(*rows), row_compare);
                if (lo.json)
                        r = print_json(&lo, rows, n, container);
                else
                        print_table(&lo, rows, n, container);
        }
        cview_done(&cv);
        for (size_t i = 0; i < n; i++) {
                free(rows[i].name);
                free(rows[i].connection);
        }
        free(rows);
        return r;
}
