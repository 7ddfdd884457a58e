/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl creds PEER: a peer's identity as the host sees it and as its
 * container sees it, side by side, which socket it came through, how far the
 * bus trusts it, and, for a bridge's connection that forwards a host caller,
 * whom it speaks for. What busctl cannot show: it knows one view only.
 *
 * The host view is the bus's answer to the host's root (nsbusctl connects
 * through host.sock). The container view is computed the way the kernel
 * computes it for SO_PEERCRED: uids and gids through the container's maps
 * (Container1.GetInfo), unmapped ones as the overflow id 65534; the pid at
 * the container's level of the peer's pid namespaces (/proc/PID/status
 * NSpid), 0 for a process the container cannot see.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connect.h"
#include "cview.h"
#include "format.h"
#include "nsview.h"
#include "verbs.h"

struct view {
        int64_t uid, pid; /* -1: unknown */
        uint32_t gids[64];
        size_t n_gids;
};

struct creds_info {
        const char *peer, *unique;
        struct view host, inside;
        bool container;  /* a container bus: the container view, listener and trust are known */
        struct cview cv; /* the container's maps and init */
        char listener[32], trust[32], proxied_for[256];
        bool proxied;
};

/* Each {sv} of an a{sv} reply, by key: fn reads the variant's contents. */
static int each_entry(const struct message *m, struct creds_info *ci,
                      int (*fn)(struct creds_info *ci, const char *key, struct msg_reader *r))
{
        struct msg_reader r;
        msg_reader_init(&r, m);
        int k = streq(m->signature, "a{sv}") ? msg_reader_enter(&r, 'a', "{sv}") : -EBADMSG;
        while (k >= 0 && msg_reader_peek(&r)) {
                const char *key;
                if ((k = msg_reader_enter(&r, '{', "sv")) < 0 ||
                    (k = msg_reader_read_basic(&r, 's', &key)) < 0 ||
                    (k = msg_reader_enter(&r, 'v', NULL)) < 0 || (k = fn(ci, key, &r)) < 0 ||
                    (k = msg_reader_exit(&r)) < 0)
                        break;
                k = msg_reader_exit(&r);
        }
        return k;
}

static int take_credential(struct creds_info *ci, const char *key, struct msg_reader *r)
{
        uint32_t v;
        if (streq(key, "UnixUserID") && msg_reader_read_basic(r, 'u', &v) >= 0)
                ci->host.uid = v;
        else if (streq(key, "ProcessID") && msg_reader_read_basic(r, 'u', &v) >= 0)
                ci->host.pid = v;
        else if (streq(key, "UnixGroupIDs") && msg_reader_enter(r, 'a', "u") >= 0) {
                while (msg_reader_peek(r) && msg_reader_read_basic(r, 'u', &v) >= 0)
                        if (ci->host.n_gids < ELEMENTSOF(ci->host.gids))
                                ci->host.gids[ci->host.n_gids++] = v;
                return msg_reader_exit(r);
        } else
                return msg_reader_skip(r);
        return 0;
}

static int take_peer_info(struct creds_info *ci, const char *key, struct msg_reader *r)
{
        const char *s;
        char *to = streq(key, "Listener")     ? ci->listener
                   : streq(key, "Trust")      ? ci->trust
                   : streq(key, "ProxiedFor") ? ci->proxied_for
                                              : NULL;
        size_t size = to == ci->proxied_for ? sizeof(ci->proxied_for) : sizeof(ci->listener);
        if (to && msg_reader_read_basic(r, 's', &s) >= 0) {
                snprintf(to, size, "%s", s);
                return 0;
        }
        if (streq(key, "Proxied")) {
                int b;
                int k = msg_reader_read_basic(r, 'b', &b);
                ci->proxied = k >= 0 && b;
                return k;
        }
        return msg_reader_skip(r);
}

static void container_view(struct creds_info *ci)
{
        struct view *in = &ci->inside;
        in->uid = cview_uid(&ci->cv, ci->host.uid);
        for (size_t i = 0; i < ci->host.n_gids; i++)
                in->gids[in->n_gids++] = cview_gid(&ci->cv, ci->host.gids[i]);
        in->pid = cview_pid(&ci->cv, ci->host.pid);
}

static void print_ids(const char *what, int64_t host, int64_t inside, bool container)
{
        char h[24] = "-", c[24] = "-";
        if (host >= 0)
                snprintf(h, sizeof(h), "%" PRId64, host);
        if (inside >= 0)
                snprintf(c, sizeof(c), "%" PRId64, inside);
        if (container)
                printf("%-12s %-14s %s\n", what, h, c);
        else
                printf("%-12s %s\n", what, h);
}

static void gid_list(const struct view *v, char *buf, size_t size)
{
        buf[0] = 0;
        for (size_t i = 0; i < v->n_gids; i++) {
                size_t n = strlen(buf);
                snprintf(buf + n, size - n, "%s%" PRIu32, i ? "," : "", v->gids[i]);
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

static const char *const namespaces[] = {"user", "pid", "mnt", "net", "uts", "ipc", "cgroup"};

static void ns_link(int64_t pid, const char *kind, char *buf, size_t size)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%" PRId64 "/ns/%s", pid, kind);
        ssize_t n = pid > 0 ? readlink(path, buf, size - 1) : -1;
        buf[n > 0 ? n : 0] = 0;
        if (n <= 0)
                snprintf(buf, size, "-");
}

static void print_text(const struct cli_options *o, const struct creds_info *ci)
{
        printf("Peer:        %s", ci->unique);
        if (!streq(ci->unique, ci->peer))
                printf(" (%s)", ci->peer);
        printf("\n");
        if (ci->container) {
                printf("Container:   %s (init %d)\n", ci->cv.name, (int)ci->cv.init);
                printf("Listener:    %s\n",
                       streq(ci->listener, "host") ? "host.sock" : "the container's socket");
                printf("Trust:       %s\n", ci->trust);
                printf("Speaks for:  %s\n",
                       ci->proxied ? (ci->proxied_for[0] ? ci->proxied_for : "a host caller") : "itself");
        }
        if (o->legend)
                printf(ci->container ? "%-12s %-14s %s\n" : "%-12s %s\n", "", "HOST", "CONTAINER");
        print_ids("UID", ci->host.uid, ci->inside.uid, ci->container);
        char h[512], c[512];
        gid_list(&ci->host, h, sizeof(h));
        gid_list(&ci->inside, c, sizeof(c));
        if (ci->container)
                printf("%-12s %-14s %s\n", "GIDs", h, c);
        else
                printf("%-12s %s\n", "GIDs", h);
        print_ids("PID", ci->host.pid, ci->inside.pid, ci->container);
        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++) {
                char what[32];
                snprintf(what, sizeof(what), "%s ns", namespaces[i]);
                ns_link(ci->host.pid, namespaces[i], h, sizeof(h));
                printf("%-12s %s\n", what, h);
        }
}

static struct json_object *view_json(const struct view *v)
{
        struct json_object *o = json_object_new_object(), *g = json_object_new_array();
        json_object_object_add(o, "uid", v->uid >= 0 ? json_object_new_int64(v->uid) : NULL);
        for (size_t i = 0; i < v->n_gids; i++)
                json_object_array_add(g, json_object_new_int64(v->gids[i]));
        json_object_object_add(o, "gids", g);
        json_object_object_add(o, "pid", v->pid >= 0 ? json_object_new_int64(v->pid) : NULL);
        return o;
}

static int print_json(const struct cli_options *o, const struct creds_info *ci)
{
        struct json_object *j = json_object_new_object(), *ns = json_object_new_object();
        json_object_object_add(j, "peer", json_object_new_string(ci->peer));
        json_object_object_add(j, "unique_name", json_object_new_string(ci->unique));
        json_object_object_add(j, "host", view_json(&ci->host));
        if (ci->container) {
                json_object_object_add(j, "container", view_json(&ci->inside));
                json_object_object_add(j, "container_name", json_object_new_string(ci->cv.name));
                json_object_object_add(j, "listener", json_object_new_string(ci->listener));
                json_object_object_add(j, "trust", json_object_new_string(ci->trust));
                json_object_object_add(j, "proxied", json_object_new_boolean(ci->proxied));
                json_object_object_add(j, "proxied_for",
                                       ci->proxied_for[0] ? json_object_new_string(ci->proxied_for) : NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++) {
                char link[128];
                ns_link(ci->host.pid, namespaces[i], link, sizeof(link));
                json_object_object_add(ns, namespaces[i],
                                       streq(link, "-") ? NULL : json_object_new_string(link));
        }
        json_object_object_add(j, "namespaces", ns);
        return format_json_print(j, o->json == CLI_JSON_PRETTY);
}

/* The four questions, asked at once: credentials, owner, and on a container bus its info and the peer's. */
static int ask(const struct cli_options *o, struct client *c, struct creds_info *ci,
               struct message **replies)
{
        static const struct {
                const char *iface, *member;
                bool peer_arg;
        } q[] = {
                {DRIVER_NAME, "GetConnectionCredentials", true},
                {DRIVER_NAME, "GetNameOwner", true},
                {"org.nsbus.Container1", "GetInfo", false},
                {"org.nsbus.Container1", "GetPeerInfo", true},
        };
        struct message *calls[ELEMENTSOF(q)] = {};
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(q) && r >= 0; i++) {
                struct msg_builder b;
                cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, q[i].iface, q[i].member);
                if (q[i].peer_arg)
                        msg_builder_append(&b, "s", ci->peer);
                r = msg_builder_finish(&b, &calls[i]);
        }
        if (r >= 0)
                r = client_call_batch(c, calls, ELEMENTSOF(q), o->timeout_ms, replies);
        for (size_t i = 0; i < ELEMENTSOF(q); i++)
                message_unref(calls[i]);
        return r < 0 ? cli_fail(r, "creds: cannot ask the bus: %s", strerror(-r)) : 0;
}

static int interpret(struct creds_info *ci, struct message **replies)
{
        struct message *creds = replies[0], *owner = replies[1], *info = replies[2], *peer = replies[3];
        if (creds->type == MESSAGE_ERROR) {
                const char *text = "";
                struct msg_reader rd;
                msg_reader_init(&rd, creds);
                if (msg_reader_peek(&rd) == 's')
                        msg_reader_read_basic(&rd, 's', &text);
                return cli_fail(-ESRCH, "creds: %s: %s", ci->peer, text);
        }
        int r = each_entry(creds, ci, take_credential);
        if (r >= 0 && owner->type == MESSAGE_METHOD_RETURN)
                r = message_read(owner, "s", &ci->unique);
        if (r >= 0 && (r = cview_from_info(info, &ci->cv)) > 0)
                ci->container = true;
        if (r >= 0 && ci->container && peer->type == MESSAGE_METHOD_RETURN)
                r = each_entry(peer, ci, take_peer_info);
        return r < 0 ? cli_fail(r, "creds: the bus sent an unreadable reply") : 0;
}

int verb_creds(const struct cli_options *o, int argc, char **argv)
{
        if (argc != 2)
                return cli_fail(-EINVAL, "creds: needs PEER (a unique or well-known name)");
        if (!dbus_validate_bus_name(argv[1], strlen(argv[1])))
                return cli_fail(-EINVAL, "%s: not a valid bus name", argv[1]);
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_connect(o, &c);
        if (r < 0)
                return r;
        struct creds_info ci = {.peer = argv[1],
                                .unique = argv[1],
                                .host = {.uid = -1, .pid = -1},
                                .inside = {.uid = -1, .pid = -1}};
        struct message *replies[4] = {};
        if ((r = ask(o, c, &ci, replies)) >= 0 && (r = interpret(&ci, replies)) >= 0) {
                if (ci.container)
                        container_view(&ci);
                if (o->json)
                        r = print_json(o, &ci);
                else
                        print_text(o, &ci);
        }
        for (size_t i = 0; i < ELEMENTSOF(replies); i++)
                message_unref(replies[i]);
        cview_done(&ci.cv);
        return r;
}
