/* null-proxy: the least a hop in front of a bus can do, for the proxy table's ceilings.
 *
 *   null-proxy LISTEN_PATH UPSTREAM_PATH
 *
 * For every connection accepted on LISTEN_PATH it opens one to UPSTREAM_PATH and passes bytes both
 * ways as they come, the SASL lines included: no parsing, no policy, no header rewritten. xdg-dbus-proxy
 * and the nsbridge path put one or two such hops (a proxy; a container's bus and the bridge) between a
 * client and the host bus; bench/run.sh chains null-proxies in front of bench/null-bus to measure what
 * those paths reach, with the rows' own clients, when every hop does nothing, so each path's figure
 * can be read against the same path made of hops that cost nothing but their wakeups.
 *
 * Non-blocking sockets in one epoll loop, as the buses run: a read of up to 64 KiB, written on at once;
 * what the other side does not take is kept, and that direction is not read again until it has gone.
 * It prints "listening" once the socket is bound, and serves until killed. */
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

#define BUF_SIZE 65536

/* One direction of a proxied connection: bytes read from `from` and not yet written to `to`. */
struct pipe {
        int from, to;
        struct pipe *peer; /* the other direction */
        size_t off, len;
        uint32_t events;   /* what epoll watches on `from` now */
        struct pipe *dead; /* closed in this batch, freed after it */
        char buf[BUF_SIZE];
};

static int epfd;
static struct pipe *graveyard;

static void fail(const char *what)
{
        fprintf(stderr, "null-proxy: %s: %s\n", what, strerror(errno));
        exit(1);
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path)) {
                fprintf(stderr, "null-proxy: path too long: %s\n", path);
                exit(2);
        }
        strcpy(sa->sun_path, path);
        return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* Each fd is registered once, with its reading direction as data; EPOLLOUT on it serves the other one.
 * Changed only when what it waits for changes: none of that while bytes flow freely. */
static void watch(struct pipe *p, int op)
{
        uint32_t ev = (p->len ? 0 : EPOLLIN) | (p->peer->len ? EPOLLOUT : 0);
        if (op == EPOLL_CTL_MOD && ev == p->events)
                return;
        struct epoll_event e = {.events = ev, .data.ptr = p};
        if (epoll_ctl(epfd, op, p->from, &e) < 0)
                fail("epoll_ctl");
        p->events = ev;
}

/* Both directions go; their memory stays until the batch that may still name them is done. */
static void conn_close(struct pipe *p)
{
        close(p->from);
        close(p->to);
        p->from = p->peer->from = -1;
        p->dead = graveyard;
        graveyard = p;
}

/* Write what p holds to its receiver; false when the connection is to be closed. */
static bool pipe_flush(struct pipe *p)
{
        while (p->len) {
                ssize_t n = send(p->to, p->buf + p->off, p->len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR;
                p->off += (size_t)n;
                p->len -= (size_t)n;
        }
        p->off = 0;
        return true;
}

/* Read what is there from p's sender and pass it on; false when the connection is to be closed. */
static bool pipe_pump(struct pipe *p)
{
        if (p->len)
                return true;
        ssize_t n = recv(p->from, p->buf, BUF_SIZE, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                return false;
        if (n < 0)
                return true;
        p->len = (size_t)n;
        return pipe_flush(p);
}

static void accept_one(int l, const char *upstream)
{
        int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
                return;
        struct sockaddr_un sa;
        int u = unix_socket(upstream, &sa);
        /* The upstream is local: connect() on a unix socket completes or fails at once (EAGAIN only when
         * its backlog is full, which a bench does not reach). */
        if (u < 0 || connect(u, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "null-proxy: connect %s: %s\n", upstream, strerror(errno));
                close(c);
                if (u >= 0)
                        close(u);
                return;
        }
        struct pipe *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
        if (!up || !down)
                fail("calloc");
        *up = (struct pipe){.from = c, .to = u, .peer = down};
        *down = (struct pipe){.from = u, .to = c, .peer = up};
        watch(up, EPOLL_CTL_ADD);
        watch(down, EPOLL_CTL_ADD);
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: null-proxy LISTEN_PATH UPSTREAM_PATH\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        struct sockaddr_un sa;
        int l = unix_socket(argv[1], &sa);
        unlink(argv[1]);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4096) < 0)
                fail(argv[1]);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, l, &le) < 0)
                fail("epoll");
        printf("listening\n");
        fflush(stdout);

        for (;;) {
                struct epoll_event evs[64];
                int n = epoll_wait(epfd, evs, 64, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        fail("epoll_wait");
                for (int i = 0; i < n; i++) {
                        struct pipe *p = evs[i].data.ptr;
                        if (!p) {
                                accept_one(l, argv[2]);
                                continue;
                        }
                        /* closed earlier in this batch (by its other direction's event) */
                        if (p->from < 0)
                                continue;
                        bool ok = true;
                        if (evs[i].events & EPOLLOUT)
                                ok = pipe_flush(p->peer);
                        if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                                ok = pipe_pump(p);
                        if (!ok) {
                                conn_close(p);
                                continue;
                        }
                        watch(p, EPOLL_CTL_MOD);
                        watch(p->peer, EPOLL_CTL_MOD);
                }
                while (graveyard) {
                        struct pipe *p = graveyard;
                        graveyard = p->dead;
                        free(p->peer);
                        free(p);
                }
        }
}
