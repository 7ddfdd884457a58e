/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checkpoint and restore of container connections (see checkpoint.h and
 * docs/checkpoint.md).
 *
 * Export is a snapshot taken while the container is frozen: what the bus
 * holds for the connection (unique name, names and their place in line,
 * rules, the replies it owes and awaits) and every byte in flight, in the
 * order the two ends would have seen them: for the client, what sits unread
 * in its socket and then what is still queued in the bus; for the bus, the
 * part of a message it has and then what sits unread in its own socket.
 * Both sockets are only peeked: with --leave-running the connection goes on.
 *
 * Prepare takes a whole restore at once, so that the images can refer to
 * each other (a call from one restored connection to another is waiting for
 * its reply): every image is checked against the bus before anything
 * changes, then all become parked connections. A parked connection is a
 * peer without a socket: it owns its names, its rules match, messages for
 * it queue, and its pending replies stand. A call awaited from a connection
 * that is not coming back gets its NoReply, as if that one had left.
 *
 * Resume hands a parked connection the socket of a new connection from the
 * restored process, which proves itself with the token Prepare gave the
 * restoring tool. The bus's own answer goes first on that socket, then the
 * bytes the client had not read, then whatever arrived while it was parked.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bus.h"
#include "checkpoint.h"
#include "ckpt-image.h"
#include "container.h"
#include "errors.h"
#include "log.h"
#include "match.h"
#include "names.h"
#include "peer.h"
#include "policy-check.h"
#include "quotas.h"
#include "replies.h"
#include "sockdiag.h"
#include "sockqueue.h"

_printf_(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* ---- export ---- */

/*
 * Which of the bus's connections a client socket belongs to, as the kernel says: one sock_diag dump of
 * the client's network namespace (where the bus's end of the connection is too) gives every socket's peer;
 * the bus's container connections are matched by their sockets' inodes once, and the result kept, sorted by
 * client inode, for the rest of the checkpoint (a dump exports every connection of the container, one right
 * after the other). It names peers by id, so a peer that went is simply not found; a client socket not in it
 * makes one new dump.
 */
struct index_entry {
        uint64_t client_ino; /* first: the sort key (cmp_u64) */
        uint64_t peer_id;
};

struct checkpoint_index {
        uint64_t built_usec;
        size_t n;
        struct index_entry v[];
};

#define CHECKPOINT_INDEX_TTL_USEC (5ull * 1000 * 1000)

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int cmp_pair_ino(const void *a, const void *b)
{
        return cmp_u64(&((const struct sockdiag_pair *)a)->ino, &((const struct sockdiag_pair *)b)->ino);
}

static int index_build(struct bus *b, int diag_fd)
{
        _cleanup_free_ struct sockdiag_pair *pairs = NULL;
        size_t n_pairs = 0, n = 0;
        int r = sockdiag_unix_pairs(diag_fd, &pairs, &n_pairs);
        if (r < 0)
                return r;
        qsort(pairs, n_pairs, sizeof(*pairs), cmp_pair_ino);
        struct peer *p;
        list_for_each_entry(p, &b->peers, link) n++;
        struct checkpoint_index *ix = malloc(sizeof(*ix) + n * sizeof(ix->v[0]));
        if (!ix)
                return -ENOMEM;
        ix->n = 0;
        list_for_each_entry(p, &b->peers, link)
        {
                struct stat st;
                if (p->fd < 0 || p->state == PEER_DEAD || p->origin != ORIGIN_BUS || fstat(p->fd, &st) < 0)
                        continue;
                struct sockdiag_pair key = {.ino = st.st_ino}, *hit;
                hit = bsearch(&key, pairs, n_pairs, sizeof(*pairs), cmp_pair_ino);
                if (!hit)
                        continue;
                ix->v[ix->n].client_ino = hit->peer;
                ix->v[ix->n++].peer_id = p->id;
        }
        qsort(ix->v, ix->n, sizeof(ix->v[0]), cmp_u64); /* by client_ino, the first member */
        ix->built_usec = now_usec();
        free(b->checkpoint_index);
        b->checkpoint_index = ix;
        return 0;
}

static struct peer *index_find(struct bus *b, uint64_t client_ino)
{
        const struct checkpoint_index *ix = b->checkpoint_index;
        if (!ix)
                return NULL;
        const struct index_entry *hit = bsearch(&client_ino, ix->v, ix->n, sizeof(ix->v[0]), cmp_u64);
        return hit ? hashmap_get(b->peers_by_id, &hit->peer_id) : NULL;
}

/* The container connection whose socket is connected to client_fd. */
static struct peer *find_peer_of(struct bus *b, int client_fd, int diag_fd)
{
        struct stat st;
        if (fstat(client_fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return NULL;
        struct checkpoint_index *ix = b->checkpoint_index;
        struct peer *p = ix && now_usec() - ix->built_usec < CHECKPOINT_INDEX_TTL_USEC
                                 ? index_find(b, st.st_ino)
                                 : NULL;
        if (!p && index_build(b, diag_fd) >= 0)
                p = index_find(b, st.st_ino);
        return p && p->fd >= 0 && p->origin == ORIGIN_BUS ? p : NULL;
}

void checkpoint_forget(struct bus *b)
{
        free(b->checkpoint_index);
        b->checkpoint_index = NULL;
}

int checkpoint_held_hangup(struct bus *b, struct peer *p)
{
        int r = peer_park(p);
        if (r >= 0)
                log_info("checkpoint: %s closed after its export: kept for the restore", p->unique_name);
        return r;
}

void checkpoint_release(struct bus *b, struct peer *exporter)
{
        uint64_t until = now_usec() + CHECKPOINT_RELEASE_USEC;
        struct peer *p;
        list_for_each_entry(p, &b->peers, link)
        {
                if (!p->held || p->held_by != exporter)
                        continue;
                p->held_by = NULL;
                p->held_until = until;
                event_timer_arm_by(b->loop, &b->checkpoint_timer, until);
        }
}

uint64_t checkpoint_check_held(struct bus *b, uint64_t now)
{
        /* CRIU killed the container (its init is gone: the bus waits for the restore), or left it running.
         */
        container_check_init(b);
        bool killed = b->container && b->container->awaiting;
        uint64_t next = 0;
        struct peer *p, *tmp;
        list_for_each_entry_safe(p, tmp, &b->peers, link)
        {
                if (!p->held || p->held_by || p->state == PEER_DEAD)
                        continue;
                if (p->held_until > now) {
                        next = next && next < p->held_until ? next : p->held_until;
                        continue;
                }
                if (killed && checkpoint_held_hangup(b, p) >= 0)
                        continue;
                peer_release(p); /* (out of memory: it goes as any connection that hangs up) */
        }
        return next;
}

/* a then b, in one allocation that replaces *a. */
static int concat(uint8_t **a, size_t *na, const uint8_t *b, size_t nb)
{
        if (nb == 0)
                return 0;
        uint8_t *p = realloc(*a, *na + nb);
        if (!p)
                return -ENOMEM;
        memcpy(p + *na, b, nb);
        *a = p;
        *na += nb;
        return 0;
}

static size_t position_in_line(const struct name_owner *mine)
{
        size_t i = 0;
        const struct name_owner *o;
        list_for_each_entry(o, &mine->name->owners, name_link)
        {
                if (o == mine)
                        return i;
                i++;
        }
        return i;
}

static uint64_t time_left(uint64_t deadline, uint64_t now)
{
        if (deadline == 0)
                return 0;
        return deadline > now ? deadline - now : 1; /* due: the restored bus answers it at once */
}

static int export_replies(struct bus *b, struct peer *p, struct ckpt_image *img)
{
        uint64_t now = now_usec();
        size_t n_owed = 0;
        struct reply_slot *s;
        list_for_each_entry(s, &p->replies_owed, callee_link) n_owed++;
        if (n_owed > 0) {
                img->owed = calloc(n_owed, sizeof(*img->owed));
                if (!img->owed)
                        return -ENOMEM;
                list_for_each_entry(s, &p->replies_owed, callee_link)
                {
                        struct ckpt_reply *r = &img->owed[img->n_owed++];
                        r->peer = strdup(s->caller->unique_name);
                        r->serial = s->serial;
                        r->timeout_usec = time_left(s->deadline_usec, now);
                        if (!r->peer)
                                return -ENOMEM;
                }
        }
        if (p->n_replies_waiting > 0) {
                img->awaited = calloc(p->n_replies_waiting, sizeof(*img->awaited));
                if (!img->awaited)
                        return -ENOMEM;
                list_for_each_entry(s, &p->replies_waiting, caller_link)
                {
                        struct ckpt_reply *r = &img->awaited[img->n_awaited++];
                        r->peer = strdup(s->callee->unique_name);
                        r->serial = s->serial;
                        r->timeout_usec = time_left(s->deadline_usec, now);
                        if (!r->peer)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int export_names_and_rules(struct peer *p, struct ckpt_image *img)
{
        size_t n = 0;
        struct name_owner *o;
        list_for_each_entry(o, &p->names, peer_link) n++;
        if (n && !(img->names = calloc(n, sizeof(*img->names))))
                return -ENOMEM;
        list_for_each_entry(o, &p->names, peer_link)
        {
                struct ckpt_name *cn = &img->names[img->n_names++];
                cn->flags = o->flags;
                cn->position = (uint32_t)position_in_line(o);
                if (!(cn->name = strdup(o->name->name)))
                        return -ENOMEM;
        }
        /* A rule added twice needs removing twice: it is saved as often as it was added. */
        size_t m = 0;
        struct match_rule *rule;
        list_for_each_entry(rule, &p->matches, owner_link) m += rule->n_refs;
        if (m && !(img->matches = calloc(m, sizeof(char *))))
                return -ENOMEM;
        list_for_each_entry(rule, &p->matches, owner_link) for (unsigned i = 0; i < rule->n_refs; i++)
        {
                if (!(img->matches[img->n_matches] = strdup(rule->text)))
                        return -ENOMEM;
                img->n_matches++;
        }
        return 0;
}

/* What the bus and the client had not yet read of each other. */
static int export_in_flight(struct peer *p, int client_fd, struct ckpt_image *img, size_t *queued, char *err,
                            size_t errlen)
{
        _cleanup_free_ uint8_t *part = NULL;
        size_t n_part = 0;
        int r = io_in_copy_pending(&p->in, &img->input, &img->n_input);
        if (r == 0)
                r = sockqueue_peek(p->fd, &part, &n_part);
        if (r == 0)
                r = concat(&img->input, &img->n_input, part, n_part);
        if (r == -EBUSY)
                return fail(err, errlen, "%s is sending file descriptors to the bus right now",
                            p->unique_name),
                       -EBUSY;
        if (r < 0)
                return r;

        /* Without the client's socket, the caller puts what waits unread in it in front. */
        r = client_fd >= 0 ? sockqueue_peek(client_fd, &img->output, &img->n_output) : 0;
        free(part);
        part = NULL;
        if (r == 0)
                r = io_out_copy_pending(&p->out, &part, &n_part);
        if (r == 0)
                r = concat(&img->output, &img->n_output, part, n_part);
        *queued = n_part;
        if (r == -EBUSY)
                return fail(err, errlen, "file descriptors are on their way to %s", p->unique_name), -EBUSY;
        return r;
}

static int export_identity(struct bus *b, struct peer *p, int client_fd, struct ckpt_image *img)
{
        const struct container *c = b->container;
        img->next_id = b->next_id;
        img->uid = p->creds.uid;
        img->gid = p->creds.gid;
        if (p->creds.n_groups) {
                if (!(img->groups = calloc(p->creds.n_groups, sizeof(uint32_t))))
                        return -ENOMEM;
                for (size_t i = 0; i < p->creds.n_groups; i++)
                        img->groups[i] = p->creds.groups[i];
                img->n_groups = p->creds.n_groups;
        }
        img->inner_uid = img->uid;
        img->inner_gid = img->gid;
        if (c->user_ns) {
                idmap_to_inside(&c->user_ns->uid_map, img->uid, &img->inner_uid);
                idmap_to_inside(&c->user_ns->gid_map, img->gid, &img->inner_gid);
        }
        img->inner_pid = p->creds.n_ns_pids ? (uint32_t)p->creds.ns_pids[p->creds.n_ns_pids - 1] : 0;
        img->unix_fds = p->unix_fds;
        int flags = client_fd >= 0 ? fcntl(client_fd, F_GETFL) : -1;
        img->socket_flags = flags < 0 ? 0 : (uint32_t)flags;
        if (!(img->unique_name = strdup(p->unique_name)) || !(img->container = strdup(c->name)) ||
            asprintf(&img->host_socket, "%s/host.sock", c->dir) < 0 ||
            asprintf(&img->bus_socket, "%s/system_bus_socket", c->bus_dir) < 0)
                return -ENOMEM;
        img->id = p->id;
        return 0;
}

/* p's image (client_fd: its client's socket, or -1: see export_in_flight()), and p held by exporter. */
static int export_peer(struct bus *b, struct peer *exporter, struct peer *p, int client_fd, uint8_t **ret,
                       size_t *ret_len, char *err, size_t errlen)
{
        if (p->state != PEER_RUNNING || p->parked)
                return fail(err, errlen, "the connection has not finished connecting (no Hello yet)"),
                       -EBUSY;
        if (p->doom_reason || p->close_after_flush)
                return fail(err, errlen, "%s is being disconnected", p->unique_name), -EBUSY;

        _cleanup_(ckpt_image_done) struct ckpt_image img = {0};
        int r = export_identity(b, p, client_fd, &img);
        if (r >= 0)
                r = export_names_and_rules(p, &img);
        if (r >= 0)
                r = export_replies(b, p, &img);
        size_t queued = 0;
        if (r >= 0)
                r = export_in_flight(p, client_fd, &img, &queued, err, errlen);
        if (r >= 0)
                r = ckpt_image_build(&img, ret, ret_len);
        if (r == -EINVAL)
                return fail(err, errlen, "%s cannot be written as an image", p->unique_name), -EBUSY;
        if (r < 0)
                return r;
        /* The image is the connection now: what the bus would read of it, or write to it, from here on would
         * be taken twice or lost. */
        if (exporter)
                peer_hold(p, exporter, queued);
        container_note_checkpoint(b);
        log_info("checkpoint: exported %s (%zu names, %zu rules, %zu+%zu replies, %zu+%zu bytes in flight)",
                 p->unique_name, img.n_names, img.n_matches, img.n_owed, img.n_awaited, img.n_input,
                 img.n_output);
        return 0;
}

int checkpoint_export(struct bus *b, struct peer *exporter, int client_fd, int diag_fd, uint8_t **ret,
                      size_t *ret_len, char *err, size_t errlen)
{
        if (!b->container)
                return -ENOENT;
        if (diag_fd >= 0 && sockdiag_check(diag_fd) < 0)
                return fail(err, errlen, "the second handle is not a NETLINK_SOCK_DIAG socket"), -EINVAL;
        struct peer *p = find_peer_of(b, client_fd, diag_fd);
        if (!p)
                return -ENOENT;
        return export_peer(b, exporter, p, client_fd, ret, ret_len, err, errlen);
}

void checkpoint_exports_free(struct checkpoint_export *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].image);
        free(v);
}

int checkpoint_export_all(struct bus *b, struct peer *exporter, int diag_fd, struct checkpoint_export **ret,
                          size_t *ret_n, char *err, size_t errlen)
{
        if (!b->container)
                return fail(err, errlen, "this bus serves no container"), -EINVAL;
        if (sockdiag_check(diag_fd) < 0)
                return fail(err, errlen, "the handle is not a NETLINK_SOCK_DIAG socket"), -EINVAL;
        int r = index_build(b, diag_fd);
        if (r < 0)
                return fail(err, errlen, "sock_diag: %s", error_text(r)), r;
        const struct checkpoint_index *ix = b->checkpoint_index;
        struct checkpoint_export *v = calloc(ix->n ? ix->n : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < ix->n; i++) {
                struct peer *p = hashmap_get(b->peers_by_id, &ix->v[i].peer_id);
                if (!p || p->fd < 0 || p->origin != ORIGIN_BUS || p->state != PEER_RUNNING)
                        continue;
                char why[256] = "";
                r = export_peer(b, exporter, p, -1, &v[n].image, &v[n].len, why, sizeof(why));
                if (r == -EBUSY) {
                        /* Left out: its own Export says why, if it is to be dumped. */
                        log_info("checkpoint: %s not exported with the others: %s", p->unique_name, why);
                        continue;
                }
                if (r < 0) {
                        checkpoint_exports_free(v, n);
                        return r;
                }
                v[n++].client_ino = ix->v[i].client_ino;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- prepare ---- */

void checkpoint_changes_done(struct checkpoint_changes *c)
{
        free(c->peers);
        free(c->names);
        free(c->lost);
        *c = (struct checkpoint_changes){0};
}

struct batch {
        struct bus *b;
        struct ckpt_image *imgs;
        struct peer **peers;
        bool *adopted; /* peers[i] is the connection itself, kept since its export (checkpoint_export) */
        size_t n;
        char *err;
        size_t errlen;
};

static struct peer *batch_peer(const struct batch *bt, uint64_t id, size_t *index)
{
        for (size_t i = 0; i < bt->n; i++)
                if (bt->imgs[i].id == id) {
                        if (index)
                                *index = i;
                        return bt->peers[i];
                }
        return NULL;
}

/* What can be checked before anything changes. */
static int batch_check(struct batch *bt)
{
        struct bus *b = bt->b;
        for (size_t i = 0; i < bt->n; i++) {
                const struct ckpt_image *img = &bt->imgs[i];
                struct peer *live = hashmap_get(b->peers_by_id, &img->id);
                bool kept = live && live->parked && live->parked->exported && !live->parked->preparer;
                if (live && !kept)
                        return fail(bt->err, bt->errlen, "image %zu: %s is in use on this bus", i,
                                    img->unique_name);
                if (kept && (img->uid != live->creds.uid || img->n_output < live->held_out))
                        return fail(bt->err, bt->errlen,
                                    "image %zu: %s waits on this bus for its restore, but not as the image "
                                    "says",
                                    i, img->unique_name);
                for (size_t other = 0; other < i; other++)
                        if (bt->imgs[other].id == img->id)
                                return fail(bt->err, bt->errlen, "images %zu and %zu are both %s", other, i,
                                            img->unique_name);
                if (kept)
                        continue; /* the rest is as it stood all along */
                uint32_t uid;
                const struct container *c = b->container;
                if (c->user_ns &&
                    (!idmap_to_outside(&c->user_ns->uid_map, img->inner_uid, &uid) || uid != img->uid))
                        return fail(bt->err, bt->errlen,
                                    "image %zu: %s was uid %u (%u in its container), which this container "
                                    "does not map so",
                                    i, img->unique_name, img->inner_uid, img->uid);
                if (img->n_output > bus_limit(b->limits.max_outgoing_bytes) ||
                    img->n_input > bus_limit(b->limits.max_incoming_bytes))
                        return fail(bt->err, bt->errlen,
                                    "image %zu: more bytes in flight than this bus allows", i);
                for (size_t k = 0; k < img->n_names; k++) {
                        const struct ckpt_name *cn = &img->names[k];
                        struct name *nm = names_get(b, cn->name);
                        struct peer *owner = nm ? names_primary_owner(nm) : NULL;
                        if (cn->position == 0 && owner)
                                return fail(bt->err, bt->errlen, "image %zu: %s owned %s, which %s owns now",
                                            i, img->unique_name, cn->name, owner->unique_name);
                        for (size_t j = 0; j < i; j++)
                                for (size_t l = 0; l < bt->imgs[j].n_names; l++)
                                        if (cn->position == 0 && bt->imgs[j].names[l].position == 0 &&
                                            streq(bt->imgs[j].names[l].name, cn->name))
                                                return fail(bt->err, bt->errlen,
                                                            "images %zu and %zu both own %s", j, i,
                                                            cn->name);
                }
        }
        return 0;
}

/* One parked peer per image, unique names taken; policies are checked against the new peers. */
static int batch_make_peers(struct batch *bt, struct peer *preparer)
{
        struct bus *b = bt->b;
        for (size_t i = 0; i < bt->n; i++) {
                const struct ckpt_image *img = &bt->imgs[i];
                struct peer *p = hashmap_get(b->peers_by_id, &img->id);
                if (p) { /* kept since its export (batch_check): taken back as it is */
                        bt->peers[i] = p;
                        bt->adopted[i] = true;
                        p->parked->preparer = preparer;
                        p->parked->inner_uid = img->inner_uid;
                        if (getrandom(p->parked->token, sizeof(p->parked->token), 0) !=
                            sizeof(p->parked->token))
                                return -errno;
                        continue;
                }
                /* The container's namespaces (the bus's own while it waits for a restored container) stand
                 * for the process's until it resumes. */
                const struct container *c = b->container;
                int r = peer_new_parked(b, img->id, img->uid, img->gid, img->groups, img->n_groups,
                                        img->unix_fds,
                                        c->user_ns && !c->awaiting ? c->user_ns : b->namespaces->bus_user,
                                        c->pid_ns && !c->awaiting ? c->pid_ns : b->namespaces->bus_pid, &p);
                if (r < 0)
                        return r;
                bt->peers[i] = p;
                p->parked->preparer = preparer;
                p->parked->inner_uid = img->inner_uid;
                if (getrandom(p->parked->token, sizeof(p->parked->token), 0) != sizeof(p->parked->token))
                        return -errno;
                for (size_t k = 0; k < img->n_names; k++) {
                        const char *name = img->names[k].name;
                        if (!policy_check_own(b, p, name) || !container_may_own(b, p, name))
                                return fail(bt->err, bt->errlen,
                                            "image %zu: %s may not own %s on this bus (its policy or the "
                                            "bridge policy)",
                                            i, img->unique_name, name);
                }
        }
        return 0;
}

struct name_entry {
        const char *name;
        uint32_t position, flags;
        struct peer *peer;
};

static int cmp_name_entry(const void *x, const void *y)
{
        const struct name_entry *a = x, *b = y;
        int c = strcmp(a->name, b->name);
        return c ? c : a->position < b->position ? -1 : a->position > b->position;
}

/* Names, each queue in the images' order behind whoever waits for it on this bus already. */
static int batch_names(struct batch *bt, struct checkpoint_changes *ch)
{
        size_t total = 0;
        for (size_t i = 0; i < bt->n; i++)
                total += bt->adopted[i] ? 0 : bt->imgs[i].n_names;
        if (total == 0)
                return 0;
        _cleanup_free_ struct name_entry *e = calloc(total, sizeof(*e));
        if (!e)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < bt->n; i++)
                for (size_t k = 0; !bt->adopted[i] && k < bt->imgs[i].n_names; k++)
                        e[n++] =
                                (struct name_entry){bt->imgs[i].names[k].name, bt->imgs[i].names[k].position,
                                                    bt->imgs[i].names[k].flags, bt->peers[i]};
        qsort(e, n, sizeof(*e), cmp_name_entry);
        for (size_t i = 0; i < n; i++) {
                struct name_change change;
                int r = names_restore(bt->b, e[i].peer, e[i].name, e[i].flags, &change);
                if (r == -ERR_LIMIT_CONNECTION || r == -ERR_LIMIT_USER)
                        return fail(bt->err, bt->errlen, "%s: %s would be over the bus's limits of names",
                                    e[i].peer->unique_name, e[i].name);
                if (r < 0)
                        return r;
                if (change.old_owner != change.new_owner) {
                        if (GREEDY_REALLOC(ch->names, ch->allocated_names, ch->n_names + 1) < 0)
                                return -ENOMEM;
                        ch->names[ch->n_names++] = change;
                }
        }
        return 0;
}

static int batch_rules(struct batch *bt)
{
        for (size_t i = 0; i < bt->n; i++)
                for (size_t k = 0; !bt->adopted[i] && k < bt->imgs[i].n_matches; k++) {
                        char why[256] = "";
                        struct peer *p = bt->peers[i];
                        int r = match_add(bt->b, p, bt->imgs[i].matches[k], policy_check_eavesdrop(bt->b, p),
                                          why, sizeof(why));
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return fail(bt->err, bt->errlen, "image %zu: match rule \"%s\" refused: %s",
                                            i, bt->imgs[i].matches[k], why[0] ? why : error_text(r));
                }
        return 0;
}

/* Whether the callee's image owes the caller this reply. */
static bool image_owes(const struct ckpt_image *callee, uint64_t caller_id, uint32_t serial)
{
        for (size_t k = 0; k < callee->n_owed; k++)
                if (callee->owed[k].peer_id == caller_id && callee->owed[k].serial == serial)
                        return true;
        return false;
}

/* Replies between restored connections stand again, and so do those owed to connections that are still
 * on the bus; a reply awaited from one that is gone is lost, and its caller is told. */
static int batch_replies(struct batch *bt, struct checkpoint_changes *ch)
{
        size_t allocated = 0;
        for (size_t i = 0; i < bt->n; i++) {
                const struct ckpt_image *img = &bt->imgs[i];
                if (bt->adopted[i])
                        continue; /* its replies stood all along */
                for (size_t k = 0; k < img->n_owed; k++) {
                        const struct ckpt_reply *o = &img->owed[k];
                        struct peer *caller = batch_peer(bt, o->peer_id, NULL);
                        if (!caller)
                                caller = hashmap_get(bt->b->peers_by_id, &o->peer_id);
                        if (!caller || caller->state != PEER_RUNNING)
                                continue; /* no one to answer: the reply will be dropped */
                        int r = replies_slot_restore(bt->b, caller, bt->peers[i], o->serial,
                                                     o->timeout_usec);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return fail(
                                        bt->err, bt->errlen,
                                        "image %zu: %s's call %u to %s would be over the bus's limits of "
                                        "pending replies",
                                        i, caller->unique_name, o->serial, img->unique_name);
                }
                for (size_t k = 0; k < img->n_awaited; k++) {
                        const struct ckpt_reply *a = &img->awaited[k];
                        size_t callee;
                        if (batch_peer(bt, a->peer_id, &callee) &&
                            image_owes(&bt->imgs[callee], img->id, a->serial))
                                continue; /* restored above, from the callee's side */
                        if (GREEDY_REALLOC(ch->lost, allocated, ch->n_lost + 1) < 0)
                                return -ENOMEM;
                        ch->lost[ch->n_lost++] = (struct checkpoint_lost_reply){bt->peers[i], a->serial};
                }
        }
        return 0;
}

/* In flight towards the client: first on its new socket (after the answer to its Resume). */
static int batch_output(struct batch *bt)
{
        for (size_t i = 0; i < bt->n; i++) {
                const struct ckpt_image *img = &bt->imgs[i];
                struct peer *p = bt->peers[i];
                if (bt->adopted[i]) {
                        /* Its queue is what it was at the export and all since: only what was unread in
                         * the client's socket comes from the image, first, once it resumes (a restore that
                         * fails before leaves its queue as it was). */
                        size_t n = img->n_output - p->held_out;
                        uint8_t *unread = n ? malloc(n) : NULL;
                        if (n && !unread)
                                return -ENOMEM;
                        if (n)
                                memcpy(unread, img->output, n);
                        free(p->parked->unread);
                        p->parked->unread = unread;
                        p->parked->n_unread = n;
                        continue;
                }
                if (img->n_output == 0)
                        continue;
                int r = io_out_queue_bytes(&p->out, img->output, img->n_output);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Undo a batch that failed half-way: nothing of it was announced, so it goes silently. */
static void batch_undo(struct batch *bt)
{
        for (size_t i = 0; i < bt->n; i++) {
                struct peer *p = bt->peers[i];
                if (p && bt->adopted[i]) { /* back to waiting for a Prepare */
                        p->parked->preparer = NULL;
                        memset(p->parked->token, 0, sizeof(p->parked->token));
                        continue;
                }
                if (!p)
                        continue;
                struct name_change c;
                while (names_release_next(p, &c))
                        ;
                match_remove_all(p);
                while (!list_empty(&p->replies_owed))
                        replies_slot_free(
                                list_first_entry(&p->replies_owed, struct reply_slot, callee_link));
                while (!list_empty(&p->replies_waiting))
                        replies_slot_free(
                                list_first_entry(&p->replies_waiting, struct reply_slot, caller_link));
                peer_close(p, NULL);
        }
}

int checkpoint_prepare(struct bus *b, struct peer *preparer, const uint8_t *const *images,
                       const size_t *lens, size_t n, struct checkpoint_prepared **results,
                       struct checkpoint_changes *changes, char *err, size_t errlen)
{
        *changes = (struct checkpoint_changes){0};
        if (!b->container)
                return fail(err, errlen, "this bus serves no container");
        if (n == 0)
                return fail(err, errlen, "no images");
        struct batch bt = {.b = b, .n = n, .err = err, .errlen = errlen};
        bt.imgs = calloc(n, sizeof(*bt.imgs));
        bt.peers = calloc(n, sizeof(*bt.peers));
        bt.adopted = calloc(n, sizeof(*bt.adopted));
        _cleanup_free_ struct checkpoint_prepared *res = calloc(n, sizeof(*res));
        int r = bt.imgs && bt.peers && bt.adopted && res ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char why[512];
                r = ckpt_image_parse(images[i], lens[i], &bt.imgs[i], why, sizeof(why));
                if (r == -EINVAL)
                        r = fail(err, errlen, "image %zu: %s", i, why);
        }
        if (r >= 0)
                r = batch_check(&bt);
        if (r >= 0)
                r = batch_make_peers(&bt, preparer);
        if (r >= 0)
                r = batch_names(&bt, changes);
        if (r >= 0)
                r = batch_rules(&bt);
        if (r >= 0)
                r = batch_replies(&bt, changes);
        if (r >= 0)
                r = batch_output(&bt);
        if (r >= 0 && !(changes->peers = calloc(n, sizeof(struct peer *))))
                r = -ENOMEM;
        if (r < 0) {
                if (bt.peers)
                        batch_undo(&bt);
                checkpoint_changes_done(changes);
        } else {
                for (size_t i = 0; i < n; i++) {
                        struct ckpt_image *img = &bt.imgs[i];
                        memcpy(res[i].token, bt.peers[i]->parked->token, CHECKPOINT_TOKEN_SIZE);
                        res[i].socket_flags = img->socket_flags;
                        res[i].unix_fds = img->unix_fds;
                        res[i].input = TAKE_PTR(img->input);
                        res[i].n_input = img->n_input;
                        if (!bt.adopted[i]) /* a kept one never left */
                                changes->peers[changes->n_peers++] = bt.peers[i];
                        if (img->next_id > b->next_id)
                                b->next_id = img->next_id;
                }
                *results = TAKE_PTR(res);
                log_info("checkpoint: %zu connection(s) prepared for restore, waiting for their processes",
                         n);
        }
        for (size_t i = 0; bt.imgs && i < n; i++)
                ckpt_image_done(&bt.imgs[i]);
        free(bt.imgs);
        free(bt.peers);
        free(bt.adopted);
        return r;
}

/* ---- resume ---- */

static struct peer *find_parked(struct bus *b, const uint8_t *token, size_t len)
{
        if (len != CHECKPOINT_TOKEN_SIZE)
                return NULL;
        struct parked *pk;
        list_for_each_entry(pk, &b->parked, link)
        {
                if (!pk->preparer)
                        continue; /* kept since its export: no token until a Prepare takes it */
                /* In constant time: how long a wrong token took must not tell how much of it was right. */
                uint8_t diff = 0;
                for (size_t i = 0; i < CHECKPOINT_TOKEN_SIZE; i++)
                        diff |= (uint8_t)(pk->token[i] ^ token[i]);
                if (!diff)
                        return pk->peer;
        }
        return NULL;
}

int checkpoint_resume(struct bus *b, struct peer *conn, const uint8_t *token, size_t len,
                      struct message *reply, struct peer **ret, char *err, size_t errlen)
{
        struct peer *q = find_parked(b, token, len);
        if (!q)
                return -ENOENT;
        if (conn->origin != ORIGIN_BUS || conn->state != PEER_AWAITING_HELLO)
                return fail(err, errlen, "only a new connection on the container's socket may resume one"),
                       -EPERM;
        if (io_in_memory(&conn->in) > 0 || conn->in.n_fds > 0)
                return fail(err, errlen, "nothing may follow Resume until its answer came"), -EPERM;
        if (conn->unix_fds != q->unix_fds)
                return fail(err, errlen, "%s %s fd passing: negotiate it as it did", q->unique_name,
                            q->unix_fds ? "had" : "had not"),
                       -EPERM;
        int r = container_attach_restored(b, conn, err, errlen);
        if (r < 0)
                return r == -ENOMEM ? r : -EPERM;
        const struct container *c = b->container;
        uint32_t uid;
        if (c->user_ns &&
            (!idmap_to_outside(&c->user_ns->uid_map, q->parked->inner_uid, &uid) || uid != q->creds.uid))
                return fail(err, errlen,
                            "%s was uid %u in its container; the restored container maps it elsewhere",
                            q->unique_name, q->parked->inner_uid),
                       -EPERM;
        if (q->parked->n_unread &&
            (r = io_out_queue_front_bytes(&q->out, q->parked->unread, q->parked->n_unread)) < 0)
                return r;
        q->parked->n_unread = 0;
        r = peer_adopt_socket(q, conn, reply);
        if (r < 0)
                return r;
        log_info("checkpoint: %s resumed by pid %d", q->unique_name, (int)q->creds.pid);
        *ret = q;
        return 0;
}

struct peer *checkpoint_next_orphan(struct bus *b, const struct peer *preparer)
{
        struct parked *pk;
        list_for_each_entry(pk, &b->parked, link)
        {
                if (pk->preparer != preparer)
                        continue;
                if (pk->exported) { /* kept since its export: it waits for the next restore */
                        pk->preparer = NULL;
                        memset(pk->token, 0, sizeof(pk->token));
                        continue;
                }
                return pk->peer;
        }
        return NULL;
}
