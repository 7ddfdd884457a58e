/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One NETLINK_SOCK_DIAG dump of the unix sockets of a network namespace,
 * asking for each socket's peer (UDIAG_SHOW_PEER); see sockdiag.h for why
 * the namespace is the client's.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockdiag.h"
#include "util.h"

/* The peer's inode in one reply record, or 0 when it names none. */
static uint32_t record_peer(const struct nlmsghdr *h)
{
        const struct unix_diag_msg *m = NLMSG_DATA(h);
        int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        const struct rtattr *a = (const struct rtattr *)(const void *)(m + 1);
        for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= (int)sizeof(uint32_t)) {
                        uint32_t v;
                        memcpy(&v, RTA_DATA(a), sizeof(v));
                        return v;
                }
        return 0;
}

int sockdiag_check(int fd)
{
        int domain = 0, protocol = 0;
        socklen_t len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
                return errno == ENOTSOCK ? -ENOTSOCK : -errno;
        len = sizeof(protocol);
        if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0)
                return -errno;
        return domain == AF_NETLINK && protocol == NETLINK_SOCK_DIAG ? 0 : -EPROTOTYPE;
}

/* The next datagram from the kernel on fd into buf: its length, or -errno (-ETIMEDOUT when none comes
 * within a second: the kernel answers a dump at once). Never blocks longer, and never changes fd's flags:
 * the socket may be someone else's too. Datagrams from anyone but the kernel are dropped. */
static ssize_t recv_from_kernel(int fd, void *buf, size_t size)
{
        for (;;) {
                struct sockaddr_nl from = {};
                socklen_t len = sizeof(from);
                ssize_t n = recvfrom(fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
                if (n >= 0 && (from.nl_family != AF_NETLINK || from.nl_pid != 0))
                        continue;
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int k = poll(&p, 1, 1000);
                if (k == 0)
                        return -ETIMEDOUT;
                if (k < 0 && errno != EINTR)
                        return -errno;
        }
}

int sockdiag_unix_pairs(int diag_fd, struct sockdiag_pair **ret, size_t *n)
{
        _cleanup_close_ int own =
                diag_fd < 0 ? socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG) : -1;
        int fd = diag_fd < 0 ? own : diag_fd;
        if (fd < 0)
                return -errno;
        /* A socket someone else made may hold answers to their questions, even a dump the kernel goes on
         * with as it is read (and refuses a second one meanwhile): drain those first; then ours are the
         * answers with our number. */
        uint8_t scratch[8192];
        for (int k = 0;
             k < 4096 && (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) >= 0 || errno == EINTR); k++)
                ;
        static uint32_t seq;
        uint32_t our_seq = ++seq ^ (uint32_t)getpid() << 16;
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } q = {
                .nlh = {.nlmsg_len = sizeof(q),
                        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = our_seq},
                .req = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_PEER},
        };
        struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
        if (sendto(fd, &q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&nl, sizeof(nl)) < 0)
                return -errno;

        struct sockdiag_pair *v = NULL;
        size_t count = 0, allocated = 0;
        int r = 0;
        for (bool done = false; !done;) {
                union {
                        struct nlmsghdr align;
                        uint8_t buf[32768];
                } u;
                ssize_t got = recv_from_kernel(fd, &u, sizeof(u));
                if (got < 0) {
                        r = (int)got;
                        break;
                }
                size_t len = (size_t)got;
                for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != our_seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE) {
                                done = true;
                                break;
                        }
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                r = e->error < 0 ? e->error : -EPROTO;
                                done = true;
                                break;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
                                continue;
                        /* Read to the end even after a failure: the dump must be drained. */
                        uint32_t peer = record_peer(h);
                        if (r >= 0 && peer && GREEDY_REALLOC(v, allocated, count + 1) < 0)
                                r = -ENOMEM;
                        if (r >= 0 && peer)
                                v[count++] = (struct sockdiag_pair){
                                        ((const struct unix_diag_msg *)NLMSG_DATA(h))->udiag_ino, peer};
                }
        }
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *n = count;
        return 0;
}
