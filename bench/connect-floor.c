/* connect-floor: the physical limit of the connect row, as relay-limit is of the call rows.
 *
 *   connect-floor SOCKET_PATH     listen there and serve connect-rate until killed
 *
 * The least any bus must do for a connection, and nothing more: accept4(), SO_PEERCRED
 * (every bus needs the peer's uid), an epoll registration, one read of the client's
 * pipelined opening (tried at once: it has usually arrived by then), one write of a
 * canned "OK <guid>" and a canned Hello reply, and on EOF the deregistration and close(),
 * new connections served before the closes of old ones.  No SASL parsing, no message
 * parsing, no names, no namespaces, no policy.  `connect-rate unix:path=SOCKET_PATH N`
 * against it gives the cost of the client's side plus the kernel's socket set-up and
 * teardown: no bus can go below. */
#include "rawbus.h"

#include <sys/epoll.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: connect-floor SOCKET_PATH\n");
                return 2;
        }
        /* Bound under a temporary name and renamed once listening: whoever waits for the path to
         * appear (bench/run.sh) must not connect between bind() and listen() and be refused. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(argv[1]) + 4 >= sizeof(sa.sun_path)) {
                fprintf(stderr, "connect-floor: path too long: %s\n", argv[1]);
                return 2;
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.tmp", argv[1]);
        unlink(sa.sun_path);
        unlink(argv[1]);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4096) < 0 ||
            rename(sa.sun_path, argv[1]) < 0) {
                fprintf(stderr, "connect-floor: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0) {
                fprintf(stderr, "connect-floor: epoll: %s\n", strerror(errno));
                return 1;
        }

        /* "OK" and a method return to serial 1 (Hello's): no body, REPLY_SERIAL its only field. */
        static const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
        uint8_t reply[sizeof(ok) - 1 + 24];
        static const uint8_t ret[24] = {'l', 2, 1, 1, 0, 0, 0,   0, 1, 0, 0, 0,
                                        8,   0, 0, 0, 5, 1, 'u', 0, 1, 0, 0, 0};
        memcpy(reply, ok, sizeof(ok) - 1);
        memcpy(reply + sizeof(ok) - 1, ret, sizeof(ret));

        uint8_t buf[65536];
        for (;;) {
                struct epoll_event evs[64];
                int n = epoll_wait(ep, evs, 64, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "connect-floor: epoll_wait: %s\n", strerror(errno));
                        return 1;
                }
                /* New connections first: the client waits for its reply, while the close of the one before
                 * can be cleaned up after (it is usually in the same batch). */
                for (int i = 1; i < n; i++)
                        if (evs[i].data.fd == l) {
                                struct epoll_event t = evs[0];
                                evs[0] = evs[i];
                                evs[i] = t;
                        }
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        if (fd == l) {
                                int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                                if (c < 0)
                                        continue;
                                struct ucred uc;
                                socklen_t len = sizeof(uc);
                                getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len);
                                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                                /* The opening is usually there already: read it now (as the buses do) rather
                                 * than after another epoll_wait(). */
                                fd = c;
                        }
                        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (r > 0) {
                                /* The opening arrives in one write; anything more is not this benchmark's.
                                 */
                                if (send(fd, reply, sizeof(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                                        r = 0;
                        }
                        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                                close(fd);
                        }
                }
        }
}
