/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl status [NAME]: busctl's status. Without NAME, the bus's address and id and the bus's own
 * credentials; with NAME, its owner's. As busctl, what the bus says (GetConnectionCredentials; for the
 * bus itself, SO_PEERCRED and SO_PEERGROUPS of our socket) is completed with what /proc says of the
 * process: the parent, every uid and gid, the command and the control group. Lines are KEY=VALUE in
 * busctl's order; facts nsbusctl does not read (TTY, systemd units and sessions, audit, capabilities)
 * are left out rather than guessed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connect.h"
#include "verbs.h"

struct status {
        int64_t pid, euid, egid; /* -1: unknown */
        uint32_t gids[256];
        size_t n_gids;
        bool gids_known;
};

static void take_credentials(const struct message *m, struct status *st)
{
        struct msg_reader r;
        msg_reader_init(&r, m);
        if (!streq(m->signature, "a{sv}") || msg_reader_enter(&r, 'a', "{sv}") < 0)
                return;
        while (msg_reader_peek(&r)) {
                const char *key;
                uint32_t v;
                if (msg_reader_enter(&r, '{', "sv") < 0 || msg_reader_read_basic(&r, 's', &key) < 0 ||
                    msg_reader_enter(&r, 'v', NULL) < 0)
                        return;
                if (streq(key, "ProcessID") && msg_reader_read_basic(&r, 'u', &v) >= 0)
                        st->pid = v;
                else if (streq(key, "UnixUserID") && msg_reader_read_basic(&r, 'u', &v) >= 0)
                        st->euid = v;
                else if (streq(key, "UnixGroupIDs") && msg_reader_enter(&r, 'a', "u") >= 0) {
                        st->gids_known = true;
                        while (msg_reader_peek(&r) && msg_reader_read_basic(&r, 'u', &v) >= 0)
                                if (st->n_gids < ELEMENTSOF(st->gids))
                                        st->gids[st->n_gids++] = v;
                        msg_reader_exit(&r);
                } else
                        msg_reader_skip(&r);
                if (msg_reader_exit(&r) < 0 || msg_reader_exit(&r) < 0)
                        return;
        }
}

/* The bus's own credentials, as the kernel gives them for our socket. */
static void take_socket_credentials(int fd, struct status *st)
{
        struct ucred uc;
        socklen_t len = sizeof(uc);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
                st->pid = uc.pid;
                st->euid = uc.uid;
                st->egid = uc.gid;
        }
        gid_t gids[ELEMENTSOF(st->gids)];
        len = sizeof(gids);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) == 0) {
                st->gids_known = true;
                for (size_t i = 0; i < len / sizeof(gid_t); i++)
                        st->gids[st->n_gids++] = gids[i];
        }
}

/* A /proc/PID/status line's values ("Uid:", "Gid:", "PPid:"): how many were read into v. */
static int proc_status_ids(int64_t pid, const char *key, int64_t *v, int max)
{
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%" PRId64 "/status", pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        size_t klen = strlen(key);
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0) {
                        int n = 0;
                        char *p = line + klen, *end;
                        for (; n < max; n++, p = end) {
                                long long x = strtoll(p, &end, 10);
                                if (end == p)
                                        break;
                                v[n] = x;
                        }
                        return n;
                }
        return 0;
}

/* /proc/PID/FILE whole, NULs turned into spaces (cmdline) and one trailing newline dropped. */
static char *proc_text(int64_t pid, const char *file)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%" PRId64 "/%s", pid, file);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = malloc(64 * 1024);
        if (!buf)
                return NULL;
        ssize_t n = (ssize_t)fread(buf, 1, 64 * 1024 - 1, f);
        if (n <= 0) {
                free(buf);
                return NULL;
        }
        buf[n] = 0;
        while (n > 0 && (buf[n - 1] == '\0' || buf[n - 1] == '\n'))
                buf[--n] = 0;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        return buf;
}

/* What st says, completed with /proc if augment (and the process is there to read). */
static void print_status(const struct status *st, const char *unique, bool augment)
{
        if (st->pid > 0)
                printf("PID=%" PRId64 "\n", st->pid);
        int64_t ppid = 0, uids[4], gids[4];
        int n_uids = 0, n_gids = 0;
        if (augment && st->pid > 0) {
                if (proc_status_ids(st->pid, "PPid:", &ppid, 1) == 1)
                        printf("PPID=%" PRId64 "\n", ppid);
                n_uids = proc_status_ids(st->pid, "Uid:", uids, 4);
                n_gids = proc_status_ids(st->pid, "Gid:", gids, 4);
        }
        static const char *const ukeys[] = {"UID", "EUID", "SUID", "FSUID"}, *const gkeys[] = {"GID", "EGID",
                                                                                               "SGID",
                                                                                               "FSGID"};
        if (n_uids == 4)
                for (int i = 0; i < 4; i++)
                        printf("%s=%" PRId64 "\n", ukeys[i], uids[i]);
        else if (st->euid >= 0)
                printf("EUID=%" PRId64 "\n", st->euid);
        if (n_gids == 4)
                for (int i = 0; i < 4; i++)
                        printf("%s=%" PRId64 "\n", gkeys[i], gids[i]);
        else if (st->egid >= 0)
                printf("EGID=%" PRId64 "\n", st->egid);
        int64_t groups[ELEMENTSOF(st->gids)];
        int n_groups = augment && st->pid > 0
                               ? proc_status_ids(st->pid, "Groups:", groups, ELEMENTSOF(groups))
                               : -1;
        if (n_groups >= 0 && n_uids == 4) {
                /* The process's own supplementary groups, as busctl reads them (the bus's list has the
                 * primary group too). */
                fputs("SupplementaryGIDs=", stdout);
                for (int i = 0; i < n_groups; i++)
                        printf("%s%" PRId64, i ? " " : "", groups[i]);
                putchar('\n');
        } else if (st->gids_known) {
                fputs("SupplementaryGIDs=", stdout);
                for (size_t i = 0; i < st->n_gids; i++)
                        printf("%s%" PRIu32, i ? " " : "", st->gids[i]);
                putchar('\n');
        }
        if (augment && st->pid > 0) {
                static const char *const files[][2] = {{"Comm", "comm"}, {"CommandLine", "cmdline"}};
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        _cleanup_free_ char *v = proc_text(st->pid, files[i][1]);
                        if (v)
                                printf("%s=%s\n", files[i][0], v);
                        if (i == 0) {
                                char path[64], exe[4096];
                                snprintf(path, sizeof(path), "/proc/%" PRId64 "/exe", st->pid);
                                ssize_t n = readlink(path, exe, sizeof(exe) - 1);
                                if (n > 0)
                                        printf("Exe=%.*s\n", (int)n, exe);
                        }
                }
                _cleanup_free_ char *cg = proc_text(st->pid, "cgroup");
                /* The unified hierarchy's line, "0::PATH", as busctl shows it. */
                char *u = cg ? strstr(cg, "0::") : NULL;
                if (u && (u == cg || u[-1] == '\n')) {
                        u[3 + strcspn(u + 3, "\n")] = 0;
                        printf("CGroup=%s\n", u + 3);
                }
        }
        if (unique)
                printf("UniqueName=%s\n", unique);
}

int verb_status(const struct cli_options *o, int argc, char **argv)
{
        if (argc > 2)
                return cli_fail(-EINVAL, "status: takes at most one NAME");
        struct cli_options lo = *o;
        lo.no_unix_fds = true;
        _cleanup_free_ char *address = NULL;
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_bus_address(&lo, &address);
        if (r < 0 || (r = cli_connect(&lo, &c)) < 0)
                return r;
        struct status st = {.pid = -1, .euid = -1, .egid = -1};
        const char *name = argc == 2 ? argv[1] : DRIVER_NAME;
        struct message *reply = NULL;
        struct msg_builder b;
        if (argc == 1) {
                /* As busctl: the id is the guid the bus sent with its OK (what the address's guid= names),
                 * known once the bus has answered something. */
                cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, "org.freedesktop.DBus.Peer", "Ping");
                if ((r = cli_call(&lo, c, &b, "status", &reply)) < 0)
                        return r;
                reply = message_unref(reply);
                printf("BusAddress=%s\nBusID=%s\n", address, c->sasl.guid);
        }
        if (streq(name, DRIVER_NAME)) {
                take_socket_credentials(c->fd, &st);
                print_status(&st, NULL, true);
                return 0;
        }
        char what[300];
        snprintf(what, sizeof(what), "cannot get the credentials of %s", name);
        cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_INTERFACE, "GetConnectionCredentials");
        msg_builder_append(&b, "s", name);
        if ((r = cli_call(&lo, c, &b, what, &reply)) < 0)
                return r;
        take_credentials(reply, &st);
        reply = message_unref(reply);
        const char *unique = name;
        _cleanup_free_ char *owner = NULL;
        if (name[0] != ':') {
                cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_INTERFACE, "GetNameOwner");
                msg_builder_append(&b, "s", name);
                if ((r = cli_call(&lo, c, &b, what, &reply)) < 0)
                        return r;
                const char *u;
                if (message_read(reply, "s", &u) >= 0)
                        owner = strdup(u);
                reply = message_unref(reply);
                unique = owner;
        }
        print_status(&st, unique, true);
        return 0;
}
