/* relay-limit: the physical limit of a call row, measured the way a bus uses sockets.
 *
 *   relay-limit [--relays K] [--window W] [--pin] [--sndbuf BYTES] [--rounds R] N REQUEST_SIZE REPLY_SIZE
 *
 * A client, K relays and a server, each its own process, chained by SOCK_STREAM socketpairs
 * (client - relay 1 - ... - relay K - server), every socket non-blocking and every process
 * waiting in epoll_wait(), as the buses and their clients do. The client keeps W requests of
 * REQUEST_SIZE bytes in flight; the server answers each with REPLY_SIZE bytes (0: no reply,
 * a one-way flood). A relay does the least a bus must do: read what is there, write it on,
 * buffer what the other side does not take yet. No parsing, no routing, no policy: a bus in
 * place of the relay can only be slower. Prints "calls_per_s <float>" (messages/s for a
 * flood), the best of R runs (default 3).
 *
 * K = 1 is the ceiling of a call through one bus (spam: W = 1 sequential, W = 32 pipelined;
 * test-bus-benchmark: W = 1, --pin as it pins its client and server to a CPU each, --sndbuf 8388608 as
 * sd-bus sets its sockets' buffers to 8 MiB); K = 2
 * through a proxy and a bus, K = 3 through a container bus, nsbridge and the host bus. A
 * request or reply is a 16-byte header (its total size at offset 4, the rest zeros) and zeros,
 * so every process frames messages exactly as a D-Bus peer does. A relay's buffer holds a whole message
 * and its sockets' send buffers are 4 MiB (what nsbusd grows them to for big messages), so a big message
 * crosses a relay in one read and one write when the endpoints' buffers let it. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RELAY_BUF_MIN (256u * 1024u)
#define RELAY_SNDBUF (4 << 20)

static size_t relay_buf = RELAY_BUF_MIN;

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(cpu, &s);
        sched_setaffinity(0, sizeof(s), &s);
}

static void die(const char *what)
{
        perror(what);
        _exit(1);
}

/* One direction of a relay: bytes read from one socket and not yet written to the other. */
struct pipe_buf {
        uint8_t *data;
        size_t start, end;
};

/* Move what can move from `from` to `to` through b: write what waits, then read and write on until a
 * read falls short (the socket is empty then; asking again would only say EAGAIN, and epoll is
 * level-triggered) or the receiver is full. Returns -1 on EOF or error. */
static int relay_pump(int from, int to, struct pipe_buf *b)
{
        for (;;) {
                if (b->start < b->end) {
                        ssize_t w = write(to, b->data + b->start, b->end - b->start);
                        if (w < 0)
                                return errno == EAGAIN ? 0 : -1;
                        b->start += (size_t)w;
                        if (b->start < b->end)
                                return 0; /* the receiver is full: wait for EPOLLOUT */
                        if (b->end < relay_buf)
                                break; /* the last read fell short */
                }
                b->start = b->end = 0;
                ssize_t n = read(from, b->data, relay_buf);
                if (n == 0)
                        return -1;
                if (n < 0)
                        return errno == EAGAIN ? 0 : -1;
                b->end = (size_t)n;
        }
        b->start = b->end = 0;
        return 0;
}

/* SO_SNDBUFFORCE where the process may (root), else SO_SNDBUF within net.core.wmem_max. */
static void set_sndbuf(int fd, int bytes)
{
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static void relay_run(int a, int b)
{
        set_sndbuf(a, RELAY_SNDBUF);
        set_sndbuf(b, RELAY_SNDBUF);
        int ep = epoll_create1(0);
        struct pipe_buf ab = {malloc(relay_buf), 0, 0}, ba = {malloc(relay_buf), 0, 0};
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = a};
        epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
        ev.data.fd = b;
        epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
        uint32_t want_a = EPOLLIN, want_b = EPOLLIN;
        for (;;) {
                struct epoll_event evs[4];
                int n = epoll_wait(ep, evs, 4, -1);
                if (n < 0 && errno != EINTR)
                        die("epoll_wait");
                /* Only the directions a ready socket can move: a's input or b's room goes a to b. */
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        uint32_t e = evs[i].events;
                        if ((fd == a && (e & (EPOLLIN | EPOLLHUP))) || (fd == b && (e & EPOLLOUT)))
                                if (relay_pump(a, b, &ab) < 0)
                                        _exit(0);
                        if ((fd == b && (e & (EPOLLIN | EPOLLHUP))) || (fd == a && (e & EPOLLOUT)))
                                if (relay_pump(b, a, &ba) < 0)
                                        _exit(0);
                }
                uint32_t wa = EPOLLIN | (ba.start < ba.end ? EPOLLOUT : 0);
                uint32_t wb = EPOLLIN | (ab.start < ab.end ? EPOLLOUT : 0);
                if (wa != want_a) {
                        ev = (struct epoll_event){.events = wa, .data.fd = a};
                        epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev);
                        want_a = wa;
                }
                if (wb != want_b) {
                        ev = (struct epoll_event){.events = wb, .data.fd = b};
                        epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev);
                        want_b = wb;
                }
        }
}

/* An endpoint: reads whole messages (framed by the size at offset 4 of their header) and reports
 * how many completed; writes queued messages of one size. */
struct endpoint {
        int fd, ep;
        uint8_t *in;
        size_t in_len, in_cap;
        uint8_t *msg; /* one message of out_size bytes, written out_pending times */
        size_t out_size, out_pending, out_off;
        uint32_t events;
};

static void endpoint_init(struct endpoint *e, int fd, size_t out_size)
{
        *e = (struct endpoint){.fd = fd, .out_size = out_size, .events = EPOLLIN};
        e->in_cap = RELAY_BUF_MIN;
        e->in = malloc(e->in_cap);
        e->msg = calloc(1, out_size > 16 ? out_size : 16);
        uint32_t total = (uint32_t)out_size;
        memcpy(e->msg + 4, &total, 4);
        e->ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Read what is there; returns the number of messages completed, -1 on EOF. */
static long endpoint_read(struct endpoint *e)
{
        long done = 0;
        for (;;) {
                if (e->in_len == e->in_cap) {
                        e->in_cap *= 2;
                        e->in = realloc(e->in, e->in_cap);
                }
                size_t asked = e->in_cap - e->in_len;
                ssize_t n = read(e->fd, e->in + e->in_len, asked);
                if (n == 0)
                        return -1;
                if (n < 0) {
                        if (errno == EAGAIN)
                                return done;
                        die("read");
                }
                e->in_len += (size_t)n;
                size_t off = 0;
                while (e->in_len - off >= 16) {
                        uint32_t size;
                        memcpy(&size, e->in + off + 4, 4);
                        if (e->in_len - off < size)
                                break;
                        off += size;
                        done++;
                }
                /* Only a partial message is moved, and only once per read. */
                memmove(e->in, e->in + off, e->in_len - off);
                e->in_len -= off;
                if ((size_t)n < asked)
                        return done; /* a short read: the socket is empty */
        }
}

/* Write queued messages, several per writev(). */
static void endpoint_flush(struct endpoint *e)
{
        while (e->out_pending) {
                struct iovec iov[64];
                int n_iov = 0;
                for (size_t i = 0; i < e->out_pending && n_iov < 64; i++, n_iov++)
                        iov[n_iov] = (struct iovec){e->msg + (i ? 0 : e->out_off),
                                                    e->out_size - (i ? 0 : e->out_off)};
                ssize_t w = writev(e->fd, iov, n_iov);
                if (w < 0) {
                        if (errno == EAGAIN)
                                break;
                        die("writev");
                }
                size_t left = (size_t)w;
                while (left && e->out_pending) {
                        size_t rem = e->out_size - e->out_off;
                        if (left < rem) {
                                e->out_off += left;
                                left = 0;
                                break;
                        }
                        left -= rem;
                        e->out_off = 0;
                        e->out_pending--;
                }
                if (e->out_pending && (size_t)w < e->out_size)
                        break;
        }
        uint32_t want = EPOLLIN | (e->out_pending ? EPOLLOUT : 0);
        if (want != e->events) {
                struct epoll_event ev = {.events = want, .data.fd = e->fd};
                epoll_ctl(e->ep, EPOLL_CTL_MOD, e->fd, &ev);
                e->events = want;
        }
}

static void server_run(int fd, size_t reply_size)
{
        struct endpoint e;
        endpoint_init(&e, fd, reply_size ? reply_size : 16);
        for (;;) {
                struct epoll_event ev;
                if (epoll_wait(e.ep, &ev, 1, -1) < 0 && errno != EINTR)
                        die("epoll_wait");
                long got = endpoint_read(&e);
                if (got < 0)
                        _exit(0);
                if (reply_size)
                        e.out_pending += (size_t)got;
                endpoint_flush(&e);
        }
}

/* One run: fork the relays and the server, time N calls from here. Returns calls/s. */
static double measure(int relays, int window, int do_pin, int sndbuf, long n, size_t req, size_t reply)
{
        /* links[j] joins hop j and hop j+1 (hop 0 the client, hop relays+1 the server). */
        int links[64][2];
        for (int j = 0; j <= relays; j++)
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, links[j]) < 0)
                        die("socketpair");
        pid_t pids[64];
        for (int hop = 1; hop <= relays + 1; hop++) {
                pid_t pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        int left = links[hop - 1][1], right = hop <= relays ? links[hop][0] : -1;
                        for (int j = 0; j <= relays; j++) {
                                if (links[j][0] != right)
                                        close(links[j][0]);
                                if (links[j][1] != left)
                                        close(links[j][1]);
                        }
                        if (hop == relays + 1) {
                                if (sndbuf)
                                        set_sndbuf(left, sndbuf);
                                if (do_pin)
                                        pin(0);
                                server_run(left, reply);
                        }
                        relay_run(left, right);
                }
                pids[hop] = pid;
        }
        for (int j = 0; j <= relays; j++) {
                close(links[j][1]);
                if (j > 0)
                        close(links[j][0]);
        }
        if (sndbuf)
                set_sndbuf(links[0][0], sndbuf);
        if (do_pin)
                pin(1);

        struct endpoint c;
        endpoint_init(&c, links[0][0], req);
        long sent = 0, answered = 0;
        double t0 = now_s();
        if (reply == 0) {
                /* A flood: everything goes out; the server's EOF after the last byte is not waited for. */
                while (sent < n || c.out_pending) {
                        long k = n - sent;
                        c.out_pending += (size_t)k;
                        sent += k;
                        endpoint_flush(&c);
                        if (c.out_pending) {
                                struct epoll_event ev;
                                epoll_wait(c.ep, &ev, 1, -1);
                        }
                }
                answered = n;
        } else {
                while (answered < n) {
                        long room = window - (sent - answered);
                        if (room > n - sent)
                                room = n - sent;
                        if (room > 0) {
                                c.out_pending += (size_t)room;
                                sent += room;
                        }
                        endpoint_flush(&c);
                        struct epoll_event ev;
                        if (epoll_wait(c.ep, &ev, 1, -1) < 0 && errno != EINTR)
                                die("epoll_wait");
                        long got = endpoint_read(&c);
                        if (got < 0) {
                                fprintf(stderr, "relay-limit: connection closed\n");
                                exit(1);
                        }
                        answered += got;
                }
        }
        double t = now_s() - t0;
        close(c.fd);
        for (int hop = 1; hop <= relays + 1; hop++)
                waitpid(pids[hop], NULL, 0);
        /* A flood is timed until the server has read it all: it exits on the EOF behind the last byte. */
        if (reply == 0)
                t = now_s() - t0;
        return n / t;
}

int main(int argc, char **argv)
{
        int relays = 1, window = 1, do_pin = 0, sndbuf = 0, rounds = 3, i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (!strcmp(argv[i], "--relays") && i + 1 < argc)
                        relays = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--window") && i + 1 < argc)
                        window = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--pin"))
                        do_pin = 1;
                else if (!strcmp(argv[i], "--sndbuf") && i + 1 < argc)
                        sndbuf = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                        rounds = atoi(argv[++i]);
                else
                        break;
        }
        if (argc - i != 3 || relays < 0 || relays > 62 || window < 1 || rounds < 1) {
                fprintf(stderr, "usage: relay-limit [--relays K] [--window W] [--pin] [--sndbuf BYTES] "
                                "[--rounds R] N REQUEST_SIZE REPLY_SIZE\n");
                return 2;
        }
        long n = strtol(argv[i], NULL, 10);
        size_t req = strtoul(argv[i + 1], NULL, 10), reply = strtoul(argv[i + 2], NULL, 10);
        if (req < 16 || (reply && reply < 16)) {
                fprintf(stderr, "relay-limit: a message has at least 16 bytes (its header)\n");
                return 2;
        }

        if (req + reply + RELAY_BUF_MIN > relay_buf)
                relay_buf = req + reply + RELAY_BUF_MIN;

        /* The limit is the best the machine did: a run slowed by another process's burst is not a limit. */
        double best = 0;
        for (int r = 0; r < rounds; r++) {
                double v = measure(relays, window, do_pin, sndbuf, n, req, reply);
                if (v > best)
                        best = v;
        }
        printf("calls_per_s %.0f\n", best);
        return 0;
}
