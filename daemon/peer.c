/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One connection: authentication, reading and parsing its messages, and its
 * output queue.
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

#include "dbus-errors.h"
#include "bus.h"
#include "log.h"
#include "quotas.h"
#include "routing.h"
#include "driver.h"

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

int peer_new(struct bus *b, int fd, enum listener_origin origin, struct peer **ret)
{
        struct peer *p = zalloc(sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->source.kind = SOURCE_PEER;
        p->bus = b;
        p->fd = fd;
        p->origin = origin;
        p->state = PEER_AUTHENTICATING;
        list_init(&p->names);
        list_init(&p->matches);
        list_init(&p->replies_waiting);
        list_init(&p->monitor_link);
        list_init(&p->flush_link);
        list_init(&p->auth_link);
        list_init(&p->dead_link);
        list_init(&p->doomed_link);
        list_init(&p->link);
        match_registry_init(&p->sender_matches);
        p->out.release = quotas_release_queued;

        int r = creds_from_socket(fd, b->namespaces, &p->creds);
        if (r < 0) {
                free(p);
                return r;
        }
        if (creds_is_host_root(&p->creds, b->namespaces))
                p->trust = PEER_TRUST_HOST_ROOT;
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
        sasl_server_init(p->sasl, b->guid, peer_own_uid(p), b->allow_external, b->allow_anonymous, true);
        p->auth_deadline_usec = now_usec() + (uint64_t)b->limits.auth_timeout * 1000;

        p->epoll_events = EPOLLIN;
        struct epoll_event ev = {.events = p->epoll_events, .data.ptr = &p->source};
        if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                r = -errno;
                quotas_uncharge_connection(b, p);
                creds_done(&p->creds);
                free(p->sasl);
                free(p);
                return r;
        }
        list_add_tail(&b->peers, &p->link);
        list_add_tail(&b->authenticating, &p->auth_link);
        b->n_peers_authenticating++;
        *ret = p;
        return 0;
}

static void peer_update_epoll(struct peer *p)
{
        uint32_t want = EPOLLIN | (io_out_empty(&p->out) ? 0 : EPOLLOUT);
        if (want == p->epoll_events || p->state == PEER_DEAD)
                return;
        struct epoll_event ev = {.events = want, .data.ptr = &p->source};
        if (epoll_ctl(p->bus->epoll_fd, EPOLL_CTL_MOD, p->fd, &ev) >= 0)
                p->epoll_events = want;
}

void peer_flush(struct peer *p)
{
        list_del(&p->flush_link);
        if (p->state == PEER_DEAD)
                return;
        int r = io_out_flush(&p->out, p->fd);
        if (r < 0 && r != -EAGAIN) {
                peer_disconnect(p, "write failed: %s", strerror(-r));
                return;
        }
        if (r == 0 && p->close_after_flush) {
                if (p->refusal)
                        peer_disconnect(p, "refused: %s", p->refusal);
                else
                        peer_disconnect(p, "%s", p->close_after_flush);
                return;
        }
        peer_update_epoll(p);
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
                return -ENOBUFS;
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

/* Tear down everything that makes the peer reachable; memory goes at the end of the iteration. */
void peer_disconnect(struct peer *p, const char *fmt, ...)
{
        struct bus *b = p->bus;
        if (p->state == PEER_DEAD)
                return;

        if (fmt) {
                char reason[256], who[128];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(reason, sizeof(reason), fmt, ap);
                va_end(ap);
                log_warning("%s: disconnected: %s", peer_describe(p, who, sizeof(who)), reason);
        }

        enum peer_state old = p->state;
        p->state = PEER_DEAD;
        epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
        list_del(&p->flush_link);
        list_del(&p->monitor_link);
        list_del(&p->auth_link);
        list_del(&p->doomed_link);
        if (old == PEER_AUTHENTICATING)
                b->n_peers_authenticating--;
        else
                b->n_peers_connected--;

        if (p->unique_name[0]) {
                uint64_t id = p->id;
                hashmap_remove(b->peers_by_id, &id);
        }
        match_remove_all(p);
        if (old != PEER_AUTHENTICATING)
                driver_peer_gone(b, p, old == PEER_RUNNING);
        list_add_tail(&b->dead_peers, &p->dead_link);
}

void peer_disconnect_later(struct peer *p, const char *reason)
{
        if (p->state == PEER_DEAD || p->doom_reason)
                return;
        p->doom_reason = reason;
        list_add_tail(&p->bus->doomed_peers, &p->doomed_link);
}

void peer_disconnect_doomed(struct bus *b)
{
        while (!list_empty(&b->doomed_peers)) {
                struct peer *p = list_first_entry(&b->doomed_peers, struct peer, doomed_link);
                list_del(&p->doomed_link);
                peer_disconnect(p, "%s", p->doom_reason);
        }
}

void peer_free(struct peer *p)
{
        struct bus *b = p->bus;
        list_del(&p->dead_link);
        list_del(&p->link);
        io_in_done(&p->in);
        io_out_done(&p->out); /* gives back what every queued message was charged */
        match_registry_done(&p->sender_matches);
        hashmap_free(p->replies_owed);
        quotas_uncharge_held(p->user, HELD_ARRIVING, p->in_charged_bytes, p->in_charged_fds);
        quotas_uncharge_connection(b, p);
        creds_done(&p->creds);
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

static int peer_authenticate(struct peer *p)
{
        size_t len, consumed = 0, out_len = 0;
        char out[SASL_RESPONSE_MAX * 4];
        const uint8_t *in = io_in_peek(&p->in, &len);

        for (;;) {
                size_t c = 0;
                int r = sasl_server_feed(p->sasl, (const char *)in + consumed, len - consumed, &c, out,
                                         sizeof(out), &out_len);
                consumed += c;
                if (r == -ENOBUFS) {
                        int w = peer_write_raw(p, out, out_len);
                        if (w < 0) {
                                peer_disconnect(p, "authentication: cannot write response: %s",
                                                strerror(-w));
                                return w;
                        }
                        out_len = 0;
                        continue;
                }
                io_in_consume(&p->in, c);
                if (out_len > 0 && r == SASL_AUTHENTICATED) {
                        /* BEGIN came in the same read as the lines these answer (sd-bus sends its
                         * whole opening at once): the answers go out in one write with the reply to
                         * the Hello that most likely follows, waking the client once, not twice. */
                        if (io_out_queue_bytes(&p->out, out, out_len) < 0) {
                                peer_disconnect(p, "out of memory");
                                return -ENOMEM;
                        }
                        if (list_unlinked(&p->flush_link))
                                list_add_tail(&p->bus->flush_list, &p->flush_link);
                } else if (out_len > 0) {
                        int w = peer_write_raw(p, out, out_len);
                        if (w < 0 && r >= 0) {
                                peer_disconnect(p, "authentication: cannot write response: %s",
                                                strerror(-w));
                                return w;
                        }
                }
                if (r < 0) {
                        peer_disconnect(p,
                                        "authentication failed (protocol violation or too many attempts)");
                        return r;
                }
                if (r == SASL_AUTHENTICATED)
                        break;
                /* Keep the partial line for the next read. */
                r = io_in_stash(&p->in);
                if (r < 0)
                        peer_disconnect(p, "out of memory");
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

static bool peer_message_is_claim(const struct message *m)
{
        return m->type == MESSAGE_METHOD_CALL && streq_ptr(m->destination, DRIVER_NAME) &&
               streq_ptr(m->interface, "org.nsbus.Container1") && streq_ptr(m->member, "ClaimBridge");
}

static void peer_handle_message(struct peer *p, struct message *m)
{
        struct bus *b = p->bus;
        p->n_messages_in++;

        if (p->state == PEER_AWAITING_HELLO) {
                bool hello = m->type == MESSAGE_METHOD_CALL && streq_ptr(m->destination, DRIVER_NAME) &&
                             streq_ptr(m->member, "Hello") &&
                             (!m->interface || streq(m->interface, DRIVER_INTERFACE));
                if (!hello && m->type == MESSAGE_METHOD_CALL) {
                        /* dbus-daemon answers a call and keeps the connection; anything else ends it. */
                        routing_reply_error(
                                b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                "Client tried to send a message other than Hello without being registered");
                        return;
                }
                if (!hello) {
                        peer_disconnect(p, "sent a message before Hello");
                        return;
                }
                if (p->refusal) {
                        routing_reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED, "%s", p->refusal);
                        p->close_after_flush = p->refusal;
                        return;
                }
        } else if (p->state == PEER_MONITOR) {
                /* Monitors are read-only (spec, "BecomeMonitor"): anything they send ends them. */
                peer_disconnect(p, "monitor sent a message");
                return;
        } else if (p->trust == PEER_TRUST_BRIDGE_CANDIDATE && !peer_message_is_claim(m)) {
                /* Someone with the bridge's uid on host.sock, not yet proven to be the bridge. */
                if (m->type != MESSAGE_METHOD_CALL) {
                        peer_disconnect(p, "sent a message on host.sock before proving to be the bridge");
                        return;
                }
                routing_reply_error(b, p, m, DBUS_ERROR_ACCESS_DENIED,
                                    "host.sock is for the host's root and the container's bridge: call "
                                    "org.nsbus.Container1.ClaimBridge first");
                return;
        }
        routing_dispatch(b, p, m);
}

/* What the input holds between reads (a message still arriving, its fds, a partial SASL line) is the
 * sender's: charge it to its uid, so that many connections of one uid cannot each hold a
 * max_message_size message half-sent. */
static int peer_charge_input(struct peer *p)
{
        size_t n_bytes = io_in_memory(&p->in), n_fds = p->in.n_fds;
        if (n_bytes == p->in_charged_bytes && n_fds == p->in_charged_fds)
                return 0;
        quotas_uncharge_held(p->user, HELD_ARRIVING, p->in_charged_bytes, p->in_charged_fds);
        p->in_charged_bytes = p->in_charged_fds = 0;
        int r = quotas_charge_held(p->user, HELD_ARRIVING, n_bytes, n_fds);
        if (r < 0)
                return r;
        p->in_charged_bytes = n_bytes;
        p->in_charged_fds = n_fds;
        return 0;
}

static void peer_disconnect_over_input_quota(struct peer *p)
{
        peer_disconnect(p,
                        "its uid %u is over max_bytes_per_user (%" PRId64
                        ") or max_unix_fds_per_user (%" PRId64 ") with messages it is still sending",
                        (unsigned)p->user->uid, p->bus->limits.max_bytes_per_user,
                        p->bus->limits.max_unix_fds_per_user);
}

/* Read at most this many times per wakeup, so one busy peer cannot starve the others. */
#define PEER_READS_PER_WAKEUP 8

void peer_dispatch(struct peer *p, uint32_t events)
{
        struct bus *b = p->bus;

        if (events & EPOLLOUT) {
                list_del(&p->flush_link);
                peer_flush(p);
                if (p->state == PEER_DEAD)
                        return;
        }
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || p->close_after_flush)
                return;

        for (unsigned i = 0; i < PEER_READS_PER_WAKEUP && p->state != PEER_DEAD; i++) {
                ssize_t n = io_in_read(&p->in, p->fd, b->scratch, sizeof(b->scratch), p->unix_fds);
                if (n == -EAGAIN)
                        return;
                if (n == 0) {
                        /* A clean close is not worth a log line; a close in the middle of a message is. */
                        if (p->state != PEER_AUTHENTICATING && (p->in.msg || p->in.n_pending))
                                peer_disconnect(p, "closed the connection in the middle of a message");
                        else
                                peer_disconnect(p, NULL);
                        return;
                }
                if (n == -EPROTO) {
                        peer_disconnect(p, "sent file descriptors without negotiating them");
                        return;
                }
                if (n == -ECONNRESET) {
                        peer_disconnect(p, NULL);
                        return;
                }
                if (n < 0) {
                        peer_disconnect(p, "read failed: %s", strerror((int)-n));
                        return;
                }

                if (p->state == PEER_AUTHENTICATING && peer_authenticate(p) <= 0) {
                        if (p->state != PEER_DEAD && peer_charge_input(p) < 0)
                                peer_disconnect_over_input_quota(p);
                        if (p->in.short_read)
                                return;
                        continue;
                }

                for (;;) {
                        struct message *m = NULL;
                        int r = io_in_pop_message(&p->in, bus_limit(b->limits.max_message_size), &m);
                        if (r == 0) {
                                if (peer_charge_input(p) < 0) {
                                        peer_disconnect_over_input_quota(p);
                                        return;
                                }
                                break;
                        }
                        if (r < 0) {
                                peer_disconnect(p, "%s",
                                                r == -ENOMEM ? "out of memory"
                                                             : "sent an invalid message (bad header, body, "
                                                               "length or missing fds)");
                                return;
                        }
                        if (m->n_unix_fds > bus_limit(b->limits.max_message_unix_fds)) {
                                message_unref(m);
                                peer_disconnect(p, "sent a message with too many fds");
                                return;
                        }
                        peer_handle_message(p, m);
                        message_unref(m);
                        peer_disconnect_doomed(b);
                        if (p->state == PEER_DEAD)
                                return;
                }
                /* epoll is level-triggered: if anything is left, the next wait says so. One recvmsg() per
                 * wakeup instead of two is a tenth of the syscalls of a method call's round trip. */
                if (p->in.short_read)
                        return;
        }
}
