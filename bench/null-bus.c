/* null-bus: the ceiling of a call row, measured with the row's own clients.
 *
 *   null-bus SOCKET_PATH
 *
 * relay-limit measures what the sockets and wakeups of a call cost with clients that do nothing; the
 * rows themselves run dbus-test-tool (libdbus) and test-bus-benchmark (sd-bus), whose own work per
 * message is on the path of every sequential call too. null-bus is the least a bus can be for those
 * clients: it speaks SASL EXTERNAL (without checking anything), answers the handful of driver calls
 * they make (Hello, RequestName, ReleaseName, AddMatch, RemoveMatch, GetNameOwner, NameHasOwner,
 * GetId), sends the NameAcquired signal the clients wait for after Hello and RequestName, and forwards
 * every other message's bytes unchanged: no sender stamped, no policy, no match rules, no message
 * object. A message is routed on its DESTINATION header field (a unique name given at Hello or a name
 * taken with RequestName); one without a destination (a reply: the call carried no sender to answer to)
 * goes to the connection that last sent a message to its sender. Bytes are passed on as they arrive
 * (cut-through: a 1 MiB call is not gathered first) with one write per run of messages for one
 * receiver, straight from the read buffer when the receiver's queue is empty.
 *
 * It prints "listening" once the socket is bound, and serves until SIGTERM. It is not a bus: signals
 * reach nobody but the last caller, nothing is checked, and a peer can impersonate any other. It exists
 * so that bench/run.sh can print, for each call row, what a bus that did no work at all would reach on
 * this machine with these clients. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rawbus.h"

#define MAX_CONNS 256
#define MAX_NAMES 8
#define IN_CAP (256u * 1024u)
#define SOCKBUF (4 << 20) /* what nsbusd grows a receiver's send buffer to for big messages */

struct conn {
        int fd;
        bool authed;
        char unique[32];
        char names[MAX_NAMES][256];
        uint8_t *in;
        size_t in_len;
        struct conn *fwd_to; /* receiver of the message being passed on, NULL if it is dropped */
        size_t fwd_left;     /* its bytes not passed on yet; 0: at a message boundary */
        struct conn *last_from;
        uint8_t *out; /* what the socket did not take yet */
        size_t out_len, out_cap;
        bool want_out;
};

static struct conn *conns[MAX_CONNS];
static struct conn *graveyard; /* dropped, linked through fwd_to */
static int epfd;
static unsigned next_id = 1;

static void fail(const char *what)
{
        fprintf(stderr, "null-bus: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void conn_drop(struct conn *c)
{
        for (int i = 0; i < MAX_CONNS; i++) {
                struct conn *o = conns[i];
                if (o == c)
                        conns[i] = NULL;
                else if (o) {
                        if (o->last_from == c)
                                o->last_from = NULL;
                        if (o->fwd_to == c)
                                o->fwd_to = NULL;
                }
        }
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1; /* freed after the current batch of events, which may still name it */
        c->fwd_to = graveyard;
        graveyard = c;
}

static void conn_watch_out(struct conn *c, bool on)
{
        if (c->want_out == on)
                return;
        struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = on;
}

static void out_append(struct conn *c, const uint8_t *p, size_t n)
{
        if (c->out_len + n > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : 65536;
                while (cap < c->out_len + n)
                        cap *= 2;
                c->out = realloc(c->out, cap);
                if (!c->out)
                        fail("realloc");
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
        conn_watch_out(c, true);
}

/* Bytes for c: written at once if nothing waits before them, the rest queued. */
static void send_bytes(struct conn *c, const uint8_t *p, size_t n)
{
        if (!c || !n)
                return;
        if (c->out_len == 0) {
                ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) {
                        p += w;
                        n -= (size_t)w;
                }
        }
        if (n)
                out_append(c, p, n);
}

static void flush_out(struct conn *c)
{
        ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0)
                return;
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
        if (c->out_len == 0)
                conn_watch_out(c, false);
}

static struct conn *lookup(const char *name)
{
        for (int i = 0; i < MAX_CONNS; i++) {
                struct conn *c = conns[i];
                if (!c)
                        continue;
                if (strcmp(c->unique, name) == 0)
                        return c;
                for (int k = 0; k < MAX_NAMES; k++)
                        if (strcmp(c->names[k], name) == 0)
                                return c;
        }
        return NULL;
}

/* The header fields a null bus looks at, read from a little-endian message whose header is all in p. */
struct header {
        uint8_t type;
        uint32_t serial;
        char member[256], dest[256], sig[256];
        size_t body_off;
};

static bool parse_header(const uint8_t *p, size_t total, struct header *h)
{
        uint32_t fields_len;
        memcpy(&h->serial, p + 8, 4);
        memcpy(&fields_len, p + 12, 4);
        h->type = p[1];
        h->member[0] = h->dest[0] = h->sig[0] = 0;
        size_t i = 16, end = 16 + fields_len;
        h->body_off = 16 + ((fields_len + 7) & ~7u);
        if (end > total)
                return false;
        while (i < end) {
                i = (i + 7) & ~7u;
                if (i + 4 > end)
                        return false;
                uint8_t code = p[i], siglen = p[i + 1];
                char t = (char)p[i + 2];
                i += 3 + siglen;
                if (siglen != 1 || i > end)
                        return false;
                char *dst = code == 3 ? h->member : code == 6 ? h->dest : code == 8 ? h->sig : NULL;
                uint32_t n;
                if (t == 's' || t == 'o') {
                        i = (i + 3) & ~3u;
                        if (i + 4 > end)
                                return false;
                        memcpy(&n, p + i, 4);
                        i += 4;
                } else if (t == 'g') {
                        n = p[i++];
                } else if (t == 'u' || t == 'h') {
                        i = ((i + 3) & ~3u) + 4;
                        continue;
                } else {
                        return false;
                }
                if (i + n + 1 > end || n > 255)
                        return false;
                if (dst) {
                        memcpy(dst, p + i, n);
                        dst[n] = 0;
                }
                i += n + 1;
        }
        return i <= end;
}

/* The first string argument of a driver call's body, or "" if it has none. */
static void body_string(const uint8_t *p, size_t total, const struct header *h, char *out)
{
        uint32_t n;
        out[0] = 0;
        if (h->sig[0] != 's' || h->body_off + 4 > total)
                return;
        memcpy(&n, p + h->body_off, 4);
        if (n > 255 || h->body_off + 4 + n > total)
                return;
        memcpy(out, p + h->body_off + 4, n);
        out[n] = 0;
}

/* A message from the driver: a method return to call (an error if error_name is set), or, without a
 * call, the signal member addressed to c; its body has signature sig: "s", "u", "b" or "". */
static void driver_send(struct conn *c, const struct header *call, const char *error_name,
                        const char *member, const char *sig, const char *s, uint32_t u)
{
        struct rawbuf h = {.len = 16};
        uint8_t fixed[16] = {'l', call ? (error_name ? 3 : 2) : 4, 1, 1};
        uint32_t serial = 1;
        memcpy(h.data, fixed, 16);
        memcpy(h.data + 8, &serial, 4);
        if (call) {
                if (error_name)
                        rawbuf_put_field(&h, 4, 's', error_name);
                rawbuf_align(&h, 8);
                h.data[h.len++] = 5; /* REPLY_SERIAL */
                h.data[h.len++] = 1;
                h.data[h.len++] = 'u';
                h.data[h.len++] = 0;
                memcpy(h.data + h.len, &call->serial, 4);
                h.len += 4;
        } else {
                rawbuf_put_field(&h, 1, 'o', "/org/freedesktop/DBus");
                rawbuf_put_field(&h, 2, 's', "org.freedesktop.DBus");
                rawbuf_put_field(&h, 3, 's', member);
                rawbuf_put_field(&h, 6, 's', c->unique);
        }
        rawbuf_put_field(&h, 7, 's', "org.freedesktop.DBus");
        if (sig[0])
                rawbuf_put_field(&h, 8, 'g', sig);
        uint32_t fields_len = (uint32_t)h.len - 16;
        memcpy(h.data + 12, &fields_len, 4);
        rawbuf_align(&h, 8);
        size_t body = h.len;
        if (sig[0] == 's')
                rawbuf_put_string(&h, s);
        else if (sig[0])
                rawbuf_put_u32(&h, u);
        uint32_t body_len = (uint32_t)(h.len - body);
        memcpy(h.data + 4, &body_len, 4);
        send_bytes(c, h.data, h.len);
}

static void driver_reply(struct conn *c, const struct header *call, const char *error_name, const char *sig,
                         const char *s, uint32_t u)
{
        driver_send(c, call, error_name, NULL, sig, s, u);
}

/* NameAcquired, which every bus sends after Hello and a granted RequestName; libdbus clients such as
 * dbus-test-tool spam --no-reply wait for a message to arrive before they look at their own state. */
static void name_acquired(struct conn *c, const char *name)
{
        driver_send(c, NULL, NULL, "NameAcquired", "s", name, 0);
}

static void driver_call(struct conn *c, const uint8_t *p, size_t total, const struct header *h)
{
        char arg[256];
        body_string(p, total, h, arg);
        if (h->type != 1)
                return;
        if (strcmp(h->member, "Hello") == 0) {
                snprintf(c->unique, sizeof(c->unique), ":1.%u", next_id++);
                driver_reply(c, h, NULL, "s", c->unique, 0);
                name_acquired(c, c->unique);
        } else if (strcmp(h->member, "RequestName") == 0) {
                for (int k = 0; k < MAX_NAMES; k++)
                        if (!c->names[k][0]) {
                                strcpy(c->names[k], arg);
                                break;
                        }
                driver_reply(c, h, NULL, "u", NULL, 1);
                name_acquired(c, arg);
        } else if (strcmp(h->member, "ReleaseName") == 0) {
                for (int k = 0; k < MAX_NAMES; k++)
                        if (strcmp(c->names[k], arg) == 0)
                                c->names[k][0] = 0;
                driver_reply(c, h, NULL, "u", NULL, 1);
        } else if (strcmp(h->member, "AddMatch") == 0 || strcmp(h->member, "RemoveMatch") == 0) {
                driver_reply(c, h, NULL, "", NULL, 0);
        } else if (strcmp(h->member, "GetNameOwner") == 0) {
                struct conn *o = lookup(arg);
                if (o)
                        driver_reply(c, h, NULL, "s", o->unique, 0);
                else
                        driver_reply(c, h, "org.freedesktop.DBus.Error.NameHasNoOwner", "s", "no such name",
                                     0);
        } else if (strcmp(h->member, "NameHasOwner") == 0) {
                driver_reply(c, h, NULL, "b", NULL, lookup(arg) != NULL);
        } else if (strcmp(h->member, "GetId") == 0) {
                driver_reply(c, h, NULL, "s", "0123456789abcdef0123456789abcdef", 0);
        } else {
                fprintf(stderr, "null-bus: driver method %s not served\n", h->member);
                driver_reply(c, h, "org.freedesktop.DBus.Error.UnknownMethod", "s", h->member, 0);
        }
}

/* SASL, server side, trusting everything: returns the bytes used, or 0 if no whole line is there. */
static size_t sasl_line(struct conn *c, const uint8_t *p, size_t len)
{
        const uint8_t *e = memmem(p, len, "\r\n", 2);
        if (!e)
                return 0;
        size_t n = (size_t)(e - p);
        static const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
        if (n >= 13 && memcmp(p, "AUTH EXTERNAL", 13) == 0 && n > 14)
                send_bytes(c, (const uint8_t *)ok, sizeof(ok) - 1);
        else if (n >= 4 && memcmp(p, "AUTH", 4) == 0)
                send_bytes(c, (const uint8_t *)"DATA\r\n", 6);
        else if (n >= 4 && memcmp(p, "DATA", 4) == 0)
                send_bytes(c, (const uint8_t *)ok, sizeof(ok) - 1);
        else if (n == 17 && memcmp(p, "NEGOTIATE_UNIX_FD", 17) == 0)
                send_bytes(c, (const uint8_t *)"AGREE_UNIX_FD\r\n", 15);
        else if (n == 5 && memcmp(p, "BEGIN", 5) == 0)
                c->authed = true;
        else
                send_bytes(c, (const uint8_t *)"ERROR\r\n", 7);
        return n + 2;
}

/* Work through what c has read: SASL lines, driver calls, and runs of bytes passed on. Returns false if
 * c is to be dropped (a message this program cannot read). */
static bool conn_process(struct conn *c)
{
        size_t pos = 0;
        if (!c->authed && c->in_len && c->in[0] == 0)
                pos = 1; /* the credentials byte */
        while (!c->authed) {
                size_t used = sasl_line(c, c->in + pos, c->in_len - pos);
                if (!used)
                        break;
                pos += used;
        }
        /* A run of bytes for one receiver, written in one go when the receiver changes or the input ends. */
        struct conn *run_to = NULL;
        size_t run_start = pos;
        while (c->authed && pos < c->in_len) {
                size_t avail = c->in_len - pos;
                if (c->fwd_left) {
                        size_t n = avail < c->fwd_left ? avail : c->fwd_left;
                        if (c->fwd_to != run_to) {
                                send_bytes(run_to, c->in + run_start, pos - run_start);
                                run_to = c->fwd_to;
                                run_start = pos;
                        }
                        pos += n;
                        c->fwd_left -= n;
                        continue;
                }
                size_t total = raw_message_size(c->in + pos, avail);
                if (!total)
                        break;
                if (c->in[pos] != 'l') {
                        fprintf(stderr, "null-bus: %s sent a big-endian message; dropped\n", c->unique);
                        return false;
                }
                uint32_t fields_len;
                memcpy(&fields_len, c->in + pos + 12, 4);
                size_t header = 16 + ((fields_len + 7) & ~7u);
                if (header > IN_CAP / 2) {
                        fprintf(stderr, "null-bus: %s sent a %zu-byte header; dropped\n", c->unique, header);
                        return false;
                }
                if (avail < header)
                        break;
                struct header h;
                if (!parse_header(c->in + pos, header, &h)) {
                        fprintf(stderr, "null-bus: %s sent a header this program cannot read; dropped\n",
                                c->unique);
                        return false;
                }
                if (strcmp(h.dest, "org.freedesktop.DBus") == 0) {
                        if (total > IN_CAP / 2) {
                                fprintf(stderr, "null-bus: %s sent a %zu-byte driver call; dropped\n",
                                        c->unique, total);
                                return false;
                        }
                        if (avail < total)
                                break;
                        send_bytes(run_to, c->in + run_start, pos - run_start);
                        run_to = NULL;
                        driver_call(c, c->in + pos, total, &h);
                        pos += total;
                        run_start = pos;
                        continue;
                }
                c->fwd_to = h.dest[0] ? lookup(h.dest) : c->last_from;
                if (c->fwd_to)
                        c->fwd_to->last_from = c;
                else if (h.type == 1)
                        fprintf(stderr, "null-bus: no receiver for %s from %s; dropped\n", h.dest,
                                c->unique);
                c->fwd_left = total;
        }
        send_bytes(run_to, c->in + run_start, pos - run_start);
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
        return true;
}

static void conn_readable(struct conn *c)
{
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                conn_drop(c);
                return;
        }
        if (n > 0) {
                c->in_len += (size_t)n;
                if (!conn_process(c))
                        conn_drop(c);
        }
}

static void accept_one(int lfd)
{
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return;
        int slot = 0;
        while (slot < MAX_CONNS && conns[slot])
                slot++;
        struct conn *c = calloc(1, sizeof(*c));
        if (slot == MAX_CONNS || !c || !(c->in = malloc(IN_CAP))) {
                fprintf(stderr, "null-bus: connection refused: %s\n",
                        slot == MAX_CONNS ? "too many" : "out of memory");
                if (c)
                        free(c->in);
                free(c);
                close(fd);
                return;
        }
        int sz = SOCKBUF;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        c->fd = fd;
        conns[slot] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                fail("epoll_ctl");
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: null-bus SOCKET_PATH\n");
                return 2;
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "null-bus: %s: path too long\n", argv[1]);
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        unlink(argv[1]);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
                fail(argv[1]);
        struct sigaction act = {.sa_handler = on_term};
        sigaction(SIGTERM, &act, NULL);
        sigaction(SIGINT, &act, NULL);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
                fail("epoll");
        printf("listening\n");
        fflush(stdout);
        while (!stop) {
                struct epoll_event evs[64];
                int n = epoll_wait(epfd, evs, 64, -1);
                if (n < 0 && errno != EINTR)
                        fail("epoll_wait");
                for (int i = 0; i < n; i++) {
                        struct conn *c = evs[i].data.ptr;
                        if (!c) {
                                accept_one(lfd);
                                continue;
                        }
                        if (c->fd < 0)
                                continue; /* dropped earlier in this batch */
                        if ((evs[i].events & EPOLLOUT) && c->out_len)
                                flush_out(c);
                        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                conn_readable(c);
                }
                while (graveyard) {
                        struct conn *c = graveyard;
                        graveyard = c->fwd_to;
                        free(c->in);
                        free(c->out);
                        free(c);
                }
        }
        unlink(argv[1]);
        return 0;
}
