/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What waits in a socket's receive queue, read without taking it (see sockqueue.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include "sockqueue.h"
#include "util.h"

int sockqueue_peek(int fd, uint8_t **ret, size_t *ret_len)
{
        int queued = 0;
        if (ioctl(fd, SIOCINQ, &queued) < 0 || queued < 0)
                queued = 0;
        size_t allocated = (size_t)queued + 4096, n = 0;
        _cleanup_free_ uint8_t *buf = malloc(allocated);
        if (!buf)
                return -ENOMEM;
        /* The peek offset walks the queue across the kernel's message boundaries. */
        int off = 0, r = 0;
        if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
                return -errno;
        for (;;) {
                if (n == allocated && GREEDY_REALLOC(buf, allocated, n + 65536) < 0) {
                        r = -ENOMEM;
                        break;
                }
                union {
                        struct cmsghdr align;
                        uint8_t b[CMSG_SPACE(sizeof(int) * 253)];
                } control;
                struct iovec iov = {buf + n, allocated - n};
                struct msghdr mh = {.msg_iov = &iov,
                                    .msg_iovlen = 1,
                                    .msg_control = &control,
                                    .msg_controllen = sizeof(control)};
                ssize_t got = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0) {
                        r = got == 0 || errno == EAGAIN ? 0 : -errno;
                        break;
                }
                bool fds = false;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                close_fds((int *)(void *)CMSG_DATA(c),
                                          (c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                                fds = true;
                        }
                if (fds || (mh.msg_flags & MSG_CTRUNC)) {
                        r = -EBUSY;
                        break;
                }
                n += (size_t)got;
        }
        off = -1;
        (void)setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}
