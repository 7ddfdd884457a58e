/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A non-blocking client connection (see client.h). The handshake is never
 * waited for: the request, Hello and whatever the caller queues next leave
 * in order, and the answers are taken apart as they arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "client.h"
#include "event.h"

int client_connect(const char *address, uid_t uid, struct client **ret, char *err, size_t errlen)
{
        return client_connect_with(address, uid, true, ret, err, errlen);
}

int client_connect_with(const char *address, uid_t uid, bool unix_fds, struct client **ret, char *err,
                        size_t errlen)
{
        _cleanup_(address_freep) struct address *a = NULL;
        int r = address_parse(address, &a, err, errlen);
        if (r < 0)
                return r;

        int fd = -1;
        for (size_t i = 0; i < a->n_entries && fd < 0; i++) {
                r = address_connect(&a->entries[i], &fd, err, errlen);
                if (r < 0)
                        fd = -1;
        }
        if (fd < 0)
                return r;
        return client_new_with(fd, uid, unix_fds, ret);
}

int client_new(int fd, uid_t uid, struct client **ret)
{
        return client_new_with(fd, uid, true, ret);
}

int client_new_with(int fd, uid_t uid, bool unix_fds, struct client **ret)
{
        int r;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                r = -errno;
                close(fd);
                return r;
        }

        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->auth_len = sasl_client_request(&c->sasl, uid, unix_fds, c->auth);

        int64_t serial = client_call_driver(c, "Hello", "");
        if (serial < 0) {
                client_free(c);
                return (int)serial;
        }
        c->hello_serial = (uint32_t)serial;
        *ret = c;
        return 0;
}

struct client *client_free(struct client *c)
{
        if (!c)
                return NULL;
        safe_close(c->fd);
        io_in_done(&c->in);
        io_out_done(&c->out);
        for (size_t i = 0; i < c->n_held; i++)
                message_unref(c->held[i]);
        free(c->held);
        free(c->unique_name);
        free(c);
        return NULL;
}

int client_queue(struct client *c, struct message *m)
{
        return io_out_queue(&c->out, m, NULL);
}

static int64_t call_driver(struct client *c, const char *interface, const char *member, const char *sig,
                           va_list ap)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b.destination = DRIVER_NAME;
        b.path = DRIVER_PATH;
        b.interface = interface;
        b.member = member;

        /* Each type in sig is one argument; "as" takes a NULL-terminated const char *const *. */
        for (const char *t = sig; *t; t++) {
                int r;
                if (t[0] == 'a' && t[1] == 's') {
                        r = msg_builder_append(&b, "as", va_arg(ap, const char *const *));
                        t++;
                } else if (*t == 'u') {
                        uint32_t v = va_arg(ap, uint32_t);
                        r = msg_builder_append_basic(&b, 'u', &v);
                } else if (*t == 's' || *t == 'o') {
                        const char *v = va_arg(ap, const char *);
                        r = msg_builder_append_basic(&b, *t, &v);
                } else
                        r = -EINVAL;
                if (r < 0) {
                        msg_builder_done(&b);
                        return r;
                }
        }

        struct message *m;
        int r = msg_builder_finish(&b, &m);
        if (r < 0)
                return r;
        r = client_queue(c, m);
        message_unref(m);
        return r < 0 ? r : (int64_t)c->serial;
}

int64_t client_call_driver(struct client *c, const char *member, const char *sig, ...)
{
        va_list ap;
        va_start(ap, sig);
        int64_t r = call_driver(c, DRIVER_INTERFACE, member, sig, ap);
        va_end(ap);
        return r;
}

int64_t client_call_driver_on(struct client *c, const char *interface, const char *member, const char *sig,
                              ...)
{
        va_list ap;
        va_start(ap, sig);
        int64_t r = call_driver(c, interface, member, sig, ap);
        va_end(ap);
        return r;
}

int client_flush(struct client *c)
{
        while (c->auth_written < c->auth_len) {
                ssize_t n = send(c->fd, c->auth + c->auth_written, c->auth_len - c->auth_written,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EINTR ? 0 : -errno;
                c->auth_written += (size_t)n;
        }
        /* Fds may only follow the bus's AGREE_UNIX_FD: until it came, messages wait behind one that
         * carries fds (see client_wants_write()), and a bus that refused them cannot be sent it. */
        if (c->out.n_fds > 0 && !c->authenticated)
                return 0;
        if (c->out.n_fds > 0 && !c->unix_fds)
                return -EOPNOTSUPP;
        return io_out_flush(&c->out, c->fd);
}

static int client_authenticate(struct client *c)
{
        size_t len, consumed = 0;
        const uint8_t *in = io_in_peek(&c->in, &len);
        int r = sasl_client_feed(&c->sasl, (const char *)in, len, &consumed);
        io_in_consume(&c->in, consumed);
        if (r < 0)
                return r;
        if (r == SASL_CONTINUE) {
                r = io_in_stash(&c->in);
                return r < 0 ? r : 0;
        }
        c->authenticated = true;
        c->unix_fds = sasl_client_get_unix_fd(&c->sasl);
        return 1;
}

/* The Hello reply names us; an error instead means the bus will not have us. */
static int client_take_hello_reply(struct client *c, struct message *m)
{
        if (m->type == MESSAGE_ERROR)
                return -EACCES;
        const char *name;
        if (message_read(m, "s", &name) < 0 || !dbus_validate_unique_name(name, strlen(name)))
                return -EBADMSG;
        c->unique_name = strdup(name);
        return c->unique_name ? 0 : -ENOMEM;
}

/* client_receive() without the held messages. */
static int receive_stream(struct client *c, struct io_scratch *scratch, bool read_first,
                          struct message **ret)
{
        int r;
        if (read_first) {
                ssize_t n = io_in_read(&c->in, c->fd, scratch, true);
                if (n == -EAGAIN)
                        return 0;
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0)
                        return (int)n;
                if (!c->authenticated && (r = client_authenticate(c)) <= 0)
                        return r;
        } else if (!c->authenticated)
                return 0;

        for (;;) {
                struct message *m = NULL;
                r = io_in_pop_message(&c->in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m);
                if (r <= 0)
                        return r;
                if (!c->unique_name && (m->type == MESSAGE_METHOD_RETURN || m->type == MESSAGE_ERROR) &&
                    m->reply_serial == c->hello_serial) {
                        r = client_take_hello_reply(c, m);
                        message_unref(m);
                        if (r < 0)
                                return r;
                        continue;
                }
                *ret = m;
                return 1;
        }
}

int client_receive(struct client *c, struct io_scratch *scratch, bool read_first, struct message **ret)
{
        if (c->n_held > 0) {
                *ret = c->held[0];
                memmove(c->held, c->held + 1, --c->n_held * sizeof(*c->held));
                return 1;
        }
        return receive_stream(c, scratch, read_first, ret);
}

/* Blocking calls: the client's socket and a deadline on a loop of their own. */
/* Calls of one batch that are on their way at once. A bus answers a connection's calls back to back, and
 * the replies it could not deliver yet count against that connection's limits (64 fds by default in
 * dbus-daemon and nsbusd, and GetConnectionCredentials may carry a pidfd): past them it disconnects. */
#define CLIENT_BATCH_WINDOW 32

struct client_wait {
        struct event_source source;
        struct event_timer deadline;
        struct client *c;
        struct message **calls, **replies;
        size_t n, n_left;
        size_t n_queued; /* calls[0..n_queued) are on their way */
        size_t hint;     /* the bus answers in order, mostly: where the next reply is looked for first */
        int r;           /* 1: all answered */
        struct io_scratch scratch;
};

/* The call m answers, or n. */
static size_t client_wait_find(struct client_wait *w, const struct message *m)
{
        for (size_t k = 0; k < w->n; k++) {
                size_t i = (w->hint + k) % w->n;
                if (w->calls[i]->serial == m->reply_serial && !w->replies[i]) {
                        w->hint = i + 1;
                        return i;
                }
        }
        return w->n;
}

static void client_wait_io(struct event_source *s, uint32_t events)
{
        struct client_wait *w = container_of(s, struct client_wait, source);
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return; /* the prepare hook writes */
        /* Everything this read brought, also past the last reply: what is left unread of it lives in
         * w->scratch, which goes with w, so it is taken now and held for the client's next
         * client_receive(); only a partial message stays in the client's input. */
        bool first = true;
        while (w->r >= 0) {
                struct message *m = NULL;
                int r = receive_stream(w->c, &w->scratch, first, &m);
                first = false;
                if (r <= 0) {
                        if (r < 0)
                                w->r = r;
                        return;
                }
                if (w->r == 1) {
                        struct client *c = w->c;
                        if (GREEDY_REALLOC(c->held, c->allocated_held, c->n_held + 1) < 0) {
                                message_unref(m);
                                w->r = -ENOMEM;
                                return;
                        }
                        c->held[c->n_held++] = m;
                        continue;
                }
                size_t i = m->type == MESSAGE_METHOD_RETURN || m->type == MESSAGE_ERROR
                                   ? client_wait_find(w, m)
                                   : w->n;
                if (i == w->n) {
                        message_unref(m);
                        continue;
                }
                w->replies[i] = m;
                if (--w->n_left == 0)
                        w->r = 1;
        }
}

static void client_wait_expired(struct event_timer *t, uint64_t now)
{
        struct client_wait *w = container_of(t, struct client_wait, deadline);
        if (w->r == 0)
                w->r = -ETIMEDOUT;
}

static bool client_wait_prepare(struct event_loop *loop, void *userdata)
{
        struct client_wait *w = userdata;
        if (w->r != 0)
                return false;
        int r = 0;
        while (r >= 0 && w->n_queued < w->n && w->n_queued - (w->n - w->n_left) < CLIENT_BATCH_WINDOW)
                r = client_queue(w->c, w->calls[w->n_queued++]);
        if (r >= 0)
                r = client_flush(w->c);
        if (r < 0 && r != -EAGAIN) {
                w->r = r;
                return false;
        }
        r = event_source_watch(loop, &w->source, EPOLLIN | (client_wants_write(w->c) ? EPOLLOUT : 0));
        if (r < 0)
                w->r = r;
        return r >= 0;
}

int client_call_batch(struct client *c, struct message **calls, size_t n, int timeout_ms,
                      struct message **replies)
{
        for (size_t i = 0; i < n; i++)
                replies[i] = NULL;
        if (n == 0)
                return 0;
        _cleanup_free_ struct client_wait *w = zalloc(sizeof(*w));
        struct event_loop *loop = NULL;
        if (!w || event_loop_new(&loop) < 0) {
                event_loop_free(loop);
                return -ENOMEM;
        }
        *w = (struct client_wait){.c = c,
                                  .calls = calls,
                                  .replies = replies,
                                  .n = n,
                                  .n_left = n,
                                  .scratch = io_scratch_owned(IO_SCRATCH_SIZE)};
        event_timer_init(&w->deadline, client_wait_expired);
        event_timer_arm(loop, &w->deadline, now_usec() + (uint64_t)timeout_ms * 1000);
        event_loop_set_prepare(loop, client_wait_prepare, w);
        int r = event_source_add(loop, &w->source, c->fd, EPOLLIN, client_wait_io);
        if (r >= 0)
                r = event_loop_run(loop);
        event_loop_free(loop);
        /* The read buffer goes with w. client_wait_io() took all it held unless the call failed, and
         * then the connection is of no further use: what is left of it must not be looked at. */
        io_scratch_done(&w->scratch);
        if (c->in.scratch == &w->scratch) {
                c->in.scratch = NULL;
                c->in.cur_pos = c->in.cur_len;
        }
        if (r >= 0 && w->r < 0)
                r = w->r;
        if (r < 0)
                for (size_t i = 0; i < n; i++)
                        replies[i] = message_unref(replies[i]);
        return r < 0 ? r : 0;
}

int client_call_blocking(struct client *c, struct message *call, int timeout_ms, struct message **ret)
{
        return client_call_batch(c, &call, 1, timeout_ms, ret);
}
