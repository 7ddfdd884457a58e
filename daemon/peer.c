/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One connection: authentication, reading and parsing its messages, and its
 * output queue. It hands each message it reads to its caller and reports
 * what went wrong; it never routes, and never tears down what the bus
 * keeps for it (names, rules, replies): that is the driver's
 * (driver_disconnect_peer()).
 *
 * Output is never written at queue time. A peer with queued output joins the
 * bus's flush list and is written once at the end of the event-loop
 * iteration, so a burst of messages to one receiver leaves in one writev().
 * A peer that is disconnected is only marked dead and unlinked from the
 * routing structures; its memory is freed after the iteration, because a
 * dispatch in progress may still hold a pointer to it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "errors.h"
#include "dbus-errors.h"
#include "bus.h"
#include "log.h"
#include "policy-check.h"
#include "quotas.h"

const char *peer_describe(const struct peer *p, char *buf, size_t n)
{
        if (p->unique_name[0])
                snprintf(buf, n, "peer %s (pid %d, uid %u)", p->unique_name, (int)p->creds.pid,
                         (unsigned)p->creds.uid);
        else
                snprintf(buf, n, "connection (pid %d, uid %u)", (int)p->creds.pid, (unsigned)p->creds.uid);
        return buf;
}

/*
 * The uid a peer may claim with EXTERNAL: its uid as its own user namespace sees it, which is what every
 * client library sends (getuid()). Inside a container mapped 0 100000 65536, root claims "0" and that is
 * accepted; no other claim is, so nobody can log in as a uid that is not theirs in any namespace.
 */
static uid_t peer_own_uid(const struct peer *p)
{
        uint32_t own;
        if (!idmap_to_inside(&p->creds.user_ns->uid_map, p->creds.uid, &own))
                return (uid_t)-1; /* only an empty EXTERNAL identity will do */
        return own;
}

/* A peer linked nowhere yet, in state. */
static struct peer *peer_alloc(struct bus *b, int fd, enum listener_origin origin, enum peer_state state)
{
        struct peer *p = zalloc(sizeof(*p));
        if (!p)
                return NULL;
        p->source.fd = -1; /* the bus adds it to its loop */
        p->bus = b;
        p->fd = fd;
        p->origin = origin;
        p->state = state;
        list_init(&p->names);
        list_init(&p->matches);
        list_init(&p->replies_owed);
        list_init(&p->replies_waiting);
        list_init(&p->monitor_link);
        list_init(&p->flush_link);
        list_init(&p->auth_link);
        list_init(&p->dead_link);
        list_init(&p->doomed_link);
        list_init(&p->ns_link);
        list_init(&p->link);
        match_registry_init(&p->sender_matches);
        p->out.release = quotas_release_queued;
        return p;
}

void peer_read_namespaces(struct peer *p)
{
        list_del(&p->ns_link);
        if (creds_namespaces_known(&p->creds))
                return;
        creds_read_namespaces(p->fd, p->bus->namespaces, &p->creds);
        if (p->trust == PEER_TRUST_NONE && creds_is_host_root(&p->creds, p->bus->namespaces))
                p->trust = PEER_TRUST_HOST_ROOT;
}

void peers_read_namespaces(struct bus *b)
{
        while (!list_empty(&b->namespaces_unread))
                peer_read_namespaces(list_first_entry(&b->namespaces_unread, struct peer, ns_link));
}

/*
 * A container bus admits a peer by its namespaces, so it reads them at accept. A plain bus reads there only
 * what SO_PEERCRED and SO_PEERGROUPS say, which is all its policy and quotas use, and the namespaces (a
 * pidfd and two /proc links, a fifth of a short connection's time: bench/README.md) once the turn's answers
 * are written (bus_prepare()), or earlier if a question about the peer's identity or its SASL claim needs
 * them. The window in which the process that connected may have exited is still one turn of the loop, as
 * when everything was read at accept.
 */
int peer_new(struct bus *b, int fd, enum listener_origin origin, struct peer **ret)
{
        struct peer *p = peer_alloc(b, fd, origin, PEER_AUTHENTICATING);
        if (!p)
                return -ENOMEM;

        int r = creds_read_kernel(fd, &p->creds);
        if (r < 0) {
                free(p);
                return r;
        }
        if (b->container)
                peer_read_namespaces(p);
        r = quotas_charge_connection(b, p);
        if (r < 0) {
                creds_done(&p->creds);
                free(p);
                return r;
        }

        p->sasl = zalloc(sizeof(*p->sasl));
        if (!p->sasl) {
                quotas_uncharge_connection(b, p);
                creds_done(&p->creds);
                free(p);
                return -ENOMEM;
        }
        if (creds_namespaces_known(&p->creds))
                sasl_server_init(p->sasl, b->guid, peer_own_uid(p), b->allow_external, b->allow_anonymous,
                                 true);
        else {
                sasl_server_init(p->sasl, b->guid, (uid_t)-1, b->allow_external, b->allow_anonymous, true);
                sasl_server_defer_external_uid(p->sasl, p->creds.uid);
        }
        p->auth_deadline_usec = now_usec() + (uint64_t)b->limits.auth_timeout * 1000;
        list_add_tail(&b->peers, &p->link);
        list_add_tail(&b->authenticating, &p->auth_link);
        if (!creds_namespaces_known(&p->creds))
                list_add_tail(&b->namespaces_unread, &p->ns_link);
        b->n_peers_authenticating++;
        *ret = p;
        return 0;
}

int peer_new_parked(struct bus *b, uint64_t id, uid_t uid, gid_t gid, const uint32_t *groups,
                    size_t n_groups, bool unix_fds, struct ns_user *user_ns, struct ns_pid *pid_ns,
                    struct peer **ret)
{
        struct peer *p = peer_alloc(b, -1, ORIGIN_BUS, PEER_RUNNING);
        if (!p)
                return -ENOMEM;
        p->parked = zalloc(sizeof(*p->parked));
        if (!p->parked || (n_groups && !(p->creds.groups = calloc(n_groups, sizeof(gid_t))))) {
                free(p->parked);
                free(p);
                return -ENOMEM;
        }
        p->parked->peer = p;
        p->unix_fds = unix_fds;

        /* Its process is not there yet: no pid, and the namespaces the caller names stand for its own
         * until it resumes. */
        p->creds.uid = uid;
        p->creds.gid = gid;
        for (size_t i = 0; i < n_groups; i++)
                p->creds.groups[i] = groups[i];
        p->creds.n_groups = n_groups;
        p->creds.user_ns = ns_user_ref(user_ns);
        p->creds.pid_ns = ns_pid_ref(pid_ns);

        int r = quotas_charge_connection(b, p);
        if (r < 0) {
                creds_done(&p->creds);
                free(p->parked);
                free(p);
                return r;
        }
        p->id = id;
        snprintf(p->unique_name, sizeof(p->unique_name), ":1.%" PRIu64, id);
        r = hashmap_put(b->peers_by_id, &p->id, p);
        list_add_tail(&b->peers, &p->link);
        list_add_tail(&b->parked, &p->parked->link);
        b->n_peers_connected++;
        if (r >= 0)
                r = policy_peer_attach(b, p);
        if (r < 0) {
                if (r != -EEXIST)
                        hashmap_remove(b->peers_by_id, &p->id);
                p->unique_name[0] = 0;
                peer_close(p, NULL);
                return r;
        }
        *ret = p;
        return 0;
}

int peer_adopt_socket(struct peer *q, struct peer *conn, struct message *first)
{
        struct bus *b = q->bus;
        /* What conn was answered and has not read yet (the end of its SASL exchange, when it pipelined
         * Resume behind BEGIN) goes first, then first, then what q holds. */
        _cleanup_free_ uint8_t *early = NULL;
        size_t n_early = 0;
        int r = io_out_copy_pending(&conn->out, &early, &n_early);
        if (r < 0)
                return r;
        if ((r = io_out_queue_front(&q->out, first)) < 0)
                return r;
        if (n_early > 0 && (r = io_out_queue_front_bytes(&q->out, early, n_early)) < 0)
                return r;
        event_source_remove(b->loop, &conn->source);
        r = event_source_add(b->loop, &q->source, conn->fd, EPOLLIN, conn->source.fn);
        if (r < 0) {
                event_source_add(b->loop, &conn->source, conn->fd, EPOLLIN, conn->source.fn);
                return r;
        }
        q->fd = conn->fd;
        conn->fd = -1;

        /* What the kernel says of the process now; who it was (uid, groups) stays the image's. */
        struct peer_creds *a = &q->creds, *n = &conn->creds;
        a->pid = n->pid;
        a->has_pidfd = n->has_pidfd;
        memcpy(a->ns_pids, n->ns_pids, sizeof(a->ns_pids));
        a->n_ns_pids = n->n_ns_pids;
        a->ns_unknown = n->ns_unknown;
        /* Swapped, not copied: each side's references are released with it. */
        struct ns_user *u = a->user_ns;
        struct ns_pid *pn = a->pid_ns;
        char *label = a->seclabel;
        a->user_ns = n->user_ns;
        a->pid_ns = n->pid_ns;
        a->seclabel = n->seclabel;
        n->user_ns = u;
        n->pid_ns = pn;
        n->seclabel = label;

        list_del(&q->parked->link);
        free(q->parked->unread);
        free(q->parked);
        q->parked = NULL;
        if (list_unlinked(&q->flush_link))
                list_add_tail(&b->flush_list, &q->flush_link);
        return 0;
}

static void peer_update_epoll(struct peer *p)
{
        uint32_t want = p->held ? 0 : EPOLLIN | (io_out_empty(&p->out) ? 0 : EPOLLOUT);
        event_source_watch(p->bus->loop, &p->source, want); /* 0 still reports a hang-up */
}

void peer_hold(struct peer *p, struct peer *by, size_t queued)
{
        p->held = true;
        p->held_by = by;
        p->held_until = 0;
        p->held_out = queued;
        list_del(&p->flush_link);
        peer_update_epoll(p);
}

void peer_release(struct peer *p)
{
        p->held = false;
        p->held_by = NULL;
        peer_update_epoll(p);
        if (!io_out_empty(&p->out) && list_unlinked(&p->flush_link))
                list_add_tail(&p->bus->flush_list, &p->flush_link);
}

int peer_park(struct peer *p)
{
        struct bus *b = p->bus;
        struct parked *pk = zalloc(sizeof(*pk));
        if (!pk)
                return -ENOMEM;
        pk->peer = p;
        pk->exported = true;
        pk->inner_uid = p->creds.uid; /* the image's says how the container saw it; Prepare sets it */
        list_add_tail(&b->parked, &pk->link);
        p->parked = pk;
        p->held = false;
        p->held_by = NULL;
        event_source_remove(b->loop, &p->source);
        p->fd = safe_close(p->fd);
        io_in_done(&p->in); /* what it had begun to send is in the image, which the restore sends again */
        p->creds.pid = 0;   /* its process is gone; the restored one's comes with Resume */
        return 0;
}

int peer_flush(struct peer *p, const char **why)
{
        list_del(&p->flush_link);
        if (p->state == PEER_DEAD || p->parked || p->held)
                return 0; /* a parked or held connection keeps its queue for the socket it will get */
        int r = io_out_flush(&p->out, p->fd);
        if (r < 0 && r != -EAGAIN) {
                *why = "write failed";
                return r;
        }
        if (r == 0 && p->close_after_flush) {
                *why = p->close_after_flush;
                return -ECANCELED;
        }
        peer_update_epoll(p);
        return 0;
}

int peer_queue(struct peer *p, struct message *m, struct user_account *payer)
{
        struct bus *b = p->bus;
        /* A doomed peer is as good as gone: what was meant for it is dropped with it. */
        if (p->state == PEER_DEAD || p->doom_reason)
                return 0;
        /* Any one message fits in an empty queue (else a message bigger than the limit could never be
         * delivered); otherwise the queue stays within max_outgoing_bytes and max_outgoing_unix_fds. */
        if (!io_out_empty(&p->out) &&
            (p->out.n_bytes + m->out_header_size + m->body_size > bus_limit(b->limits.max_outgoing_bytes) ||
             p->out.n_fds + m->n_fds > bus_limit(b->limits.max_outgoing_unix_fds)))
                return -ERR_LIMIT_QUEUE;
        if (m->n_fds && !p->unix_fds)
                return -EOPNOTSUPP;
        int r = quotas_charge_held(payer, HELD_QUEUED, io_out_message_size(m), m->n_fds);
        if (r < 0)
                return r;
        r = io_out_queue(&p->out, m, payer);
        if (r < 0) {
                quotas_uncharge_held(payer, HELD_QUEUED, io_out_message_size(m), m->n_fds);
                return r;
        }
        p->n_messages_out++;
        if (list_unlinked(&p->flush_link))
                list_add_tail(&b->flush_list, &p->flush_link);
        return 0;
}

void peer_close(struct peer *p, const char *reason)
{
        struct bus *b = p->bus;
        if (p->state == PEER_DEAD)
                return;
        if (reason) {
                char who[128];
                log_warning("%s: disconnected: %s", peer_describe(p, who, sizeof(who)), reason);
        }
        if (p->state == PEER_AUTHENTICATING)
                b->n_peers_authenticating--;
        else
                b->n_peers_connected--;
        p->state = PEER_DEAD;
        if (p->parked) {
                list_del(&p->parked->link);
                free(p->parked->unread);
                free(p->parked);
                p->parked = NULL;
        }
        event_source_remove(b->loop, &p->source);
        list_del(&p->flush_link);
        list_del(&p->monitor_link);
        list_del(&p->auth_link);
        list_del(&p->doomed_link);
        list_del(&p->ns_link);
        if (p->unique_name[0]) {
                uint64_t id = p->id;
                hashmap_remove(b->peers_by_id, &id);
        }
        list_add_tail(&b->dead_peers, &p->dead_link);
}

void peer_disconnect_later(struct peer *p, const char *reason)
{
        if (p->state == PEER_DEAD || p->doom_reason)
                return;
        p->doom_reason = reason;
        list_add_tail(&p->bus->doomed_peers, &p->doomed_link);
}

void peer_free(struct peer *p)
{
        struct bus *b = p->bus;
        list_del(&p->dead_link);
        list_del(&p->link);
        list_del(&p->ns_link);
        io_in_done(&p->in);
        io_out_done(&p->out); /* gives back what every queued message was charged */
        match_registry_done(&p->sender_matches);
        hashmap_free(p->replies_index);
        quotas_uncharge_held(p->user, HELD_ARRIVING, p->in_charged_bytes, p->in_charged_fds);
        quotas_uncharge_connection(b, p);
        creds_done(&p->creds);
        free(p->proxied_for);
        free(p->sasl);
        if (p->fd >= 0)
                close(p->fd);
        free(p);
}

/* Responses during SASL are tiny and the socket buffer is empty then; a short write means a peer that
 * pipelines garbage without reading, which we do not wait for. */
static int peer_write_raw(struct peer *p, const char *buf, size_t n)
{
        ssize_t w = send(p->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
                return -errno;
        return (size_t)w == n ? 0 : -EAGAIN;
}

/* Formatted reasons for peer_receive(), valid until its next call (the daemon has one thread). */
static char peer_why[256];

static const char *why_errno(const char *what, int r)
{
        snprintf(peer_why, sizeof(peer_why), "%s: %s", what, strerror(-r));
        return peer_why;
}

/* "what: the rule, (ERR_NAME)": which rule of errors.h's table the peer broke. */
static const char *why_rule(const char *what, int r)
{
        snprintf(peer_why, sizeof(peer_why), "%s: %s (%s)", what, error_text(r), error_name(r));
        return peer_why;
}

/* 1 once authenticated, 0 while SASL goes on, -errno with *why when the peer must go. */
static int peer_authenticate(struct peer *p, const char **why)
{
        size_t len, consumed = 0, out_len = 0;
        char out[SASL_RESPONSE_MAX * 4];
        const uint8_t *in = io_in_peek(&p->in, &len);

        for (;;) {
                size_t c = 0;
                int r = sasl_server_feed(p->sasl, (const char *)in + consumed, len - consumed, &c, out,
                                         sizeof(out), &out_len);
                consumed += c;
                io_in_consume(&p->in, c);
                if (r == SASL_NEED_UID) {
                        /* A claim other than the uid the bus sees: the peer's own namespace decides. */
                        peer_read_namespaces(p);
                        sasl_server_set_external_uid(p->sasl, peer_own_uid(p));
                        continue;
                }
                if (r == -ENOBUFS) {
                        int w = peer_write_raw(p, out, out_len);
                        if (w < 0) {
                                *why = why_errno("authentication: cannot write response", w);
                                return w;
                        }
                        out_len = 0;
                        continue;
                }
                if (out_len > 0 && r == SASL_AUTHENTICATED) {
                        /* BEGIN came in the same read as the lines these answer (sd-bus sends its
                         * whole opening at once): the answers go out in one write with the reply to
                         * the Hello that most likely follows, waking the client once, not twice. */
                        if (io_out_queue_bytes(&p->out, out, out_len) < 0) {
                                *why = "out of memory";
                                return -ENOMEM;
                        }
                        if (list_unlinked(&p->flush_link))
                                list_add_tail(&p->bus->flush_list, &p->flush_link);
                } else if (out_len > 0) {
                        int w = peer_write_raw(p, out, out_len);
                        if (w < 0 && r >= 0) {
                                *why = why_errno("authentication: cannot write response", w);
                                return w;
                        }
                }
                if (r < 0) {
                        *why = "authentication failed (protocol violation or too many attempts)";
                        return r;
                }
                if (r == SASL_AUTHENTICATED)
                        break;
                /* Keep the partial line for the next read. */
                r = io_in_stash(&p->in);
                if (r < 0)
                        *why = "out of memory";
                return r < 0 ? r : 0;
        }

        p->unix_fds = sasl_server_get_unix_fd(p->sasl);
        free(p->sasl);
        p->sasl = NULL;
        p->state = PEER_AWAITING_HELLO;
        list_del(&p->auth_link);
        p->bus->n_peers_authenticating--;
        p->bus->n_peers_connected++;
        return 1;
}

/* What the input holds between reads (a message still arriving, its fds, a partial SASL line) is the
 * sender's: charge it to its uid, so that many connections of one uid cannot each hold a
 * max_message_size message half-sent. */
static int peer_charge_input(struct peer *p, const char **why)
{
        size_t n_bytes = io_in_memory(&p->in), n_fds = p->in.n_fds;
        if (n_bytes == p->in_charged_bytes && n_fds == p->in_charged_fds)
                return 0;
        quotas_uncharge_held(p->user, HELD_ARRIVING, p->in_charged_bytes, p->in_charged_fds);
        p->in_charged_bytes = p->in_charged_fds = 0;
        int r = quotas_charge_held(p->user, HELD_ARRIVING, n_bytes, n_fds);
        if (r < 0) {
                snprintf(peer_why, sizeof(peer_why),
                         "its uid %u is over max_bytes_per_user (%" PRId64
                         ") or max_unix_fds_per_user (%" PRId64 ") with messages it is still sending",
                         (unsigned)p->user->uid, p->bus->limits.max_bytes_per_user,
                         p->bus->limits.max_unix_fds_per_user);
                *why = peer_why;
                return r;
        }
        p->in_charged_bytes = n_bytes;
        p->in_charged_fds = n_fds;
        return 0;
}

/* Read at most this many times per wakeup, so one busy peer cannot starve the others. */
#define PEER_READS_PER_WAKEUP 8

void peer_receive_begin(struct peer *p)
{
        p->reads_left = PEER_READS_PER_WAKEUP;
}

/* One read from the socket: > 0 when bytes came, 0 when there are none now, -errno with *why. */
static int peer_read(struct peer *p, const char **why)
{
        struct bus *b = p->bus;
        /* A client may send its first messages right behind BEGIN, before our AGREE_UNIX_FD reached
         * it, so one read can bring the end of the SASL exchange and fds for the message after it.
         * Take them; peer_receive() decides once the SASL lines they came with are read. */
        bool fds = p->unix_fds || p->state == PEER_AUTHENTICATING;
        ssize_t n = io_in_read(&p->in, p->fd, &b->scratch, fds);
        if (n == -EAGAIN)
                return 0;
        if (n == 0) {
                /* A clean close is not worth a log line; a close in the middle of a message is. */
                if (p->state != PEER_AUTHENTICATING && (p->in.msg || p->in.n_pending))
                        *why = "closed the connection in the middle of a message";
                return -ECONNRESET;
        }
        if (n == -EPROTO)
                *why = "sent file descriptors without negotiating them";
        else if (n < 0 && n != -ECONNRESET)
                *why = why_errno("read failed", (int)n);
        return n < 0 ? (int)n : 1;
}

int peer_receive(struct peer *p, struct message **ret, const char **why)
{
        struct bus *b = p->bus;
        *why = NULL;
        if (p->close_after_flush)
                return 0;
        for (;;) {
                if (p->taking_messages) {
                        struct message *m = NULL;
                        int r = io_in_pop_message(&p->in, bus_limit(b->limits.max_message_size), &m);
                        if (r < 0) {
                                *why = r == -ENOMEM ? "out of memory"
                                                    : why_rule("sent an invalid message", r);
                                return r;
                        }
                        if (r > 0 && m->n_unix_fds > bus_limit(b->limits.max_message_unix_fds)) {
                                message_unref(m);
                                *why = why_rule("sent an invalid message", -ERR_MSG_UNIX_FDS);
                                return -ERR_MSG_UNIX_FDS;
                        }
                        if (r > 0) {
                                p->n_messages_in++;
                                *ret = m;
                                return 1;
                        }
                        p->taking_messages = false;
                        if ((r = peer_charge_input(p, why)) < 0)
                                return r;
                        /* epoll is level-triggered: if anything is left, the next wait says so. One
                         * recvmsg() per wakeup instead of two is a tenth of the syscalls of a round trip. */
                        if (p->in.short_read)
                                return 0;
                }
                if (p->reads_left == 0)
                        return 0;
                p->reads_left--;
                int r = peer_read(p, why);
                if (r <= 0)
                        return r;
                if (p->state == PEER_AUTHENTICATING) {
                        r = peer_authenticate(p, why);
                        if (r < 0)
                                return r;
                        /* Fds the kernel delivered belong to bytes after BEGIN (a read stops behind
                         * the bytes they came with), so only a client that negotiated them may have. */
                        if (p->in.n_fds > 0 && (r == 0 || !p->unix_fds)) {
                                *why = r == 0 ? "sent file descriptors during authentication"
                                              : "sent file descriptors without negotiating them";
                                return -EPROTO;
                        }
                        if (r == 0) {
                                if ((r = peer_charge_input(p, why)) < 0)
                                        return r;
                                if (p->in.short_read)
                                        return 0;
                                continue;
                        }
                }
                p->taking_messages = true; /* what the read brought may hold messages */
        }
}
