/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One NETLINK_SOCK_DIAG dump of the unix sockets of our network namespace,
 * asking for each socket's peer (UDIAG_SHOW_PEER). The client end of a bus
 * connection may live in a container's network namespace, where a lookup
 * by its own inode would not find it; the bus's end is always in ours, and
 * it names its peer.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
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

/* One dump, each connected socket handed to fn(ino, peer ino, userdata); fn returns < 0 to stop with that.
 */
static int sockdiag_dump(int (*fn)(uint64_t ino, uint64_t peer, void *userdata), void *userdata)
{
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } q = {
                .nlh = {.nlmsg_len = sizeof(q),
                        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
                .req = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_PEER},
        };
        struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
        if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
                return -errno;

        int r = 0;
        for (;;) {
                union {
                        struct nlmsghdr align;
                        uint8_t buf[32768];
                } u;
                ssize_t n = recv(fd, &u, sizeof(u), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                size_t len = (size_t)n;
                for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return r;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error < 0 ? e->error : -EPROTO;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
                                continue;
                        /* Read to the end even after fn said stop: the dump must be drained. */
                        uint32_t peer = record_peer(h);
                        if (r >= 0 && peer)
                                r = fn(((const struct unix_diag_msg *)NLMSG_DATA(h))->udiag_ino, peer,
                                       userdata);
                }
        }
}

struct find {
        uint64_t peer, found;
};

static int find_one(uint64_t ino, uint64_t peer, void *userdata)
{
        struct find *f = userdata;
        if (peer != f->peer)
                return 0;
        f->found = ino;
        return 1;
}

int sockdiag_unix_find_by_peer(uint64_t peer_ino, uint64_t *ret)
{
        struct find f = {.peer = peer_ino};
        int r = sockdiag_dump(find_one, &f);
        if (r < 0)
                return r;
        if (!f.found)
                return -ENOENT;
        *ret = f.found;
        return 0;
}

struct all {
        struct sockdiag_pair *v;
        size_t n, allocated;
};

static int add_pair(uint64_t ino, uint64_t peer, void *userdata)
{
        struct all *a = userdata;
        if (GREEDY_REALLOC(a->v, a->allocated, a->n + 1) < 0)
                return -ENOMEM;
        a->v[a->n++] = (struct sockdiag_pair){ino, peer};
        return 0;
}

int sockdiag_unix_pairs(struct sockdiag_pair **ret, size_t *n)
{
        struct all a = {0};
        int r = sockdiag_dump(add_pair, &a);
        if (r < 0) {
                free(a.v);
                return r;
        }
        *ret = a.v;
        *n = a.n;
        return 0;
}
