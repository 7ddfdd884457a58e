/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stream I/O with fd passing; see io.h for the buffering design.
 *
 * File descriptors: senders attach a message's fds to its first byte, and
 * the kernel delivers them no later than that byte (one recvmsg() may return
 * earlier bytes too). We queue fds in arrival order and hand each completed
 * message the number its UNIX_FDS field announces, as libdbus does. A
 * message whose fds have not arrived by its last byte is malformed.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include "errors.h"
#include "io.h"
#include "wire.h"

void io_in_done(struct io_in *in)
{
        free(in->pending);
        free(in->msg);
        close_fds(in->fds, in->n_fds);
        free(in->fds);
        *in = (struct io_in){0};
}

void io_scratch_done(struct io_scratch *s)
{
        if (s->owned)
                free(s->data);
        s->data = NULL;
}

size_t io_in_memory(const struct io_in *in)
{
        return in->allocated_pending + (in->msg ? in->msg_size : 0) + in->allocated_fds * sizeof(int);
}

static int queue_fds(struct io_in *in, struct msghdr *mh, bool fds_allowed)
{
        int r = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *)(void *)CMSG_DATA(c);
                if (!fds_allowed || r < 0) {
                        close_fds(fds, n);
                        r = -EPROTO;
                        continue;
                }
                if (GREEDY_REALLOC(in->fds, in->allocated_fds, in->n_fds + n) < 0) {
                        close_fds(fds, n);
                        r = -ENOMEM;
                        continue;
                }
                memcpy(in->fds + in->n_fds, fds, n * sizeof(int));
                in->n_fds += n;
        }
        if (r >= 0 && (mh->msg_flags & MSG_CTRUNC))
                r = -EPROTO; /* fds were lost: the stream can no longer be interpreted */
        return r;
}

ssize_t io_in_read(struct io_in *in, int fd, struct io_scratch *s, bool fds_allowed)
{
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * IO_MAX_FDS_PER_RECV)];
        } control;
        struct iovec iov[2];
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 1};
        size_t base = 0, want;

        if (!s->data) {
                /* The last buffer went with a message (io_in_pop_message()). */
                s->data = malloc(s->size);
                if (!s->data)
                        return -ENOMEM;
        }
        uint8_t *scratch = s->data;
        size_t scratch_size = s->size;

        /* Only ask for ancillary data when fds may come; the buffer is not free to set up. */
        if (fds_allowed) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
        } else {
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * 4); /* enough to notice and close them */
        }

        if (in->msg) {
                /* The rest of the message, and whatever follows it into the scratch buffer: a read that
                 * ends exactly at the message's end would leave us unsure whether the socket is empty,
                 * and asking again costs a recvmsg() that only says EAGAIN. (Nothing is pending while a
                 * message is being assembled: its first bytes went into in->msg.) */
                iov[0] = (struct iovec){in->msg + in->msg_have, in->msg_size - in->msg_have};
                iov[1] = (struct iovec){scratch, scratch_size};
                mh.msg_iovlen = 2;
                want = iov[0].iov_len + iov[1].iov_len;
        } else {
                /* Carried-over bytes go first, so one contiguous view covers them and the new ones. */
                if (in->n_pending > scratch_size / 2)
                        return -ENOBUFS;
                if (in->n_pending)
                        memcpy(scratch, in->pending, in->n_pending);
                base = in->n_pending;
                iov[0] = (struct iovec){scratch + base, scratch_size - base};
                want = iov[0].iov_len;
        }

        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        in->short_read = (size_t)n < want;
        int r = queue_fds(in, &mh, fds_allowed);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;

        in->scratch = s;
        if (in->msg) {
                size_t got = MIN((size_t)n, in->msg_size - in->msg_have);
                in->msg_have += got;
                in->cur = scratch;
                in->cur_len = (size_t)n - got;
                in->cur_pos = 0;
        } else {
                free(in->pending);
                in->pending = NULL;
                in->n_pending = in->allocated_pending = 0;
                in->cur = scratch;
                in->cur_len = base + (size_t)n;
                in->cur_pos = 0;
        }
        return n;
}

int io_in_stash(struct io_in *in)
{
        size_t left = in->cur_len - in->cur_pos;
        if (left == 0)
                return 0;
        uint8_t *p = malloc(left);
        if (!p)
                return -ENOMEM;
        memcpy(p, in->cur + in->cur_pos, left);
        free(in->pending);
        in->pending = p;
        in->n_pending = in->allocated_pending = left;
        in->cur_pos = in->cur_len;
        return 0;
}

/* Give a parsed message (r from its constructor) the fds it announced, in arrival order. */
static int finish_message(struct io_in *in, int r, struct message *m, struct message **ret)
{
        if (r < 0)
                return r;
        if (m->n_unix_fds) {
                if (in->n_fds < m->n_unix_fds) {
                        message_unref(m);
                        return -ERR_MSG_MISSING_FDS;
                }
                int *fds = malloc(sizeof(int) * m->n_unix_fds);
                if (!fds) {
                        message_unref(m);
                        return -ENOMEM;
                }
                memcpy(fds, in->fds, sizeof(int) * m->n_unix_fds);
                in->n_fds -= m->n_unix_fds;
                memmove(in->fds, in->fds + m->n_unix_fds, sizeof(int) * in->n_fds);
                message_attach_fds(m, fds, m->n_unix_fds);
        }
        if (in->n_fds == 0 && in->allocated_fds) {
                free(in->fds);
                in->fds = NULL;
                in->allocated_fds = 0;
        }
        *ret = m;
        return 1;
}

int io_in_pop_message(struct io_in *in, size_t max_size, struct message **ret)
{
        if (in->msg) {
                if (in->msg_have < in->msg_size)
                        return 0;
                uint8_t *data = in->msg;
                size_t size = in->msg_size;
                in->msg = NULL;
                in->msg_size = in->msg_have = 0;
                struct message *m = NULL;
                int r = message_new_from_data(data, size, &m);
                return finish_message(in, r, m, ret);
        }

        size_t avail = in->cur_len - in->cur_pos;
        if (avail < DBUS_MINIMUM_HEADER_SIZE) {
                int r = io_in_stash(in);
                return r < 0 ? r : 0;
        }

        const uint8_t *p = in->cur + in->cur_pos;
        size_t size;
        int r = message_peek_size(p, &size);
        if (r < 0)
                return r;
        if (size > max_size)
                return -ERR_MSG_TOO_LONG;

        /* +1: the builder and parser like a terminating byte of slack; cheap insurance. */
        uint8_t *data = NULL;
        if (size >= IO_ADOPT_MIN && avail <= size && in->cur_pos == 0 && in->scratch && in->scratch->owned &&
            in->cur == in->scratch->data) {
                /* Nothing of the read comes before the message or after it: the buffer becomes the message's
                 * and the next read gets another. A message that fits is a shrink in place; a bigger one
                 * grows the buffer, which the allocator copies only when it cannot grow it in place. */
                data = realloc(in->scratch->data, size + 1);
                if (data) {
                        in->scratch->data = NULL;
                        in->cur = NULL;
                        in->cur_len = in->cur_pos = 0;
                }
        }
        if (data) {
                if (avail == size) {
                        struct message *m = NULL;
                        r = message_new_from_data(data, size, &m);
                        return finish_message(in, r, m, ret);
                }
                in->msg = data;
                in->msg_size = size;
                in->msg_have = avail;
                return 0;
        }
        if (avail >= size) {
                /* The common case, a whole message in the read: copied into the message's own
                 * allocation. */
                struct message *m = NULL;
                r = message_new_copy(p, size, &m);
                in->cur_pos += size;
                return finish_message(in, r, m, ret);
        }
        data = malloc(size + 1);
        if (!data)
                return -ENOMEM;
        memcpy(data, p, avail);
        in->cur_pos += avail;
        in->msg = data;
        in->msg_size = size;
        in->msg_have = avail;
        return 0;
}

static void io_out_retire(struct io_out *out, const struct io_out_entry *e)
{
        if (e->charge)
                out->release(e->charge, e->m);
        message_unref(e->m);
}

/* Forget the array, freeing it unless it is the inline slot. */
static void io_out_drop_array(struct io_out *out)
{
        if (out->queue != &out->one)
                free(out->queue);
        out->queue = NULL;
        out->head = out->tail = out->allocated = 0;
}

/* Room for n entries: the inline slot for the first, an array once a second is queued behind it. */
static int io_out_reserve(struct io_out *out, size_t n)
{
        if (n <= out->allocated)
                return 0;
        if (!out->queue && n == 1) {
                out->queue = &out->one;
                out->allocated = 1;
                return 0;
        }
        if (out->queue == &out->one) {
                size_t want = n > 4 ? n : 4;
                struct io_out_entry *q = malloc(want * sizeof(*q));
                if (!q)
                        return -ENOMEM;
                memcpy(q, &out->one, out->tail * sizeof(*q));
                out->queue = q;
                out->allocated = want;
                return 0;
        }
        return GREEDY_REALLOC(out->queue, out->allocated, n);
}

void io_out_done(struct io_out *out)
{
        for (size_t i = out->head; i < out->tail; i++)
                io_out_retire(out, &out->queue[i]);
        io_out_drop_array(out);
        *out = (struct io_out){.release = out->release};
}

int io_out_queue(struct io_out *out, struct message *m, void *charge)
{
        if (out->tail == out->allocated && out->head > 0 && out->head >= out->tail - out->head) {
                /* Slide down instead of growing when at least half the array has drained. A smaller drained
                 * front would have every enqueue of a slowly read queue move all of it: growing instead
                 * keeps each entry moved at most once per slot retired before it. */
                memmove(out->queue, out->queue + out->head, (out->tail - out->head) * sizeof(*out->queue));
                out->tail -= out->head;
                out->head = 0;
        }
        if (io_out_reserve(out, out->tail + 1) < 0)
                return -ENOMEM;
        out->queue[out->tail++] = (struct io_out_entry){message_ref(m), charge};
        out->n_bytes += io_out_message_size(m);
        out->n_fds += m->n_fds;
        return 0;
}

/* A message of header bytes only, never parsed or dispatched: io_out_flush() writes out_header and the
 * (empty) body, which is all it needs. */
static struct message *raw_message_new(const void *bytes, size_t n)
{
        struct message *m = zalloc(sizeof(*m));
        if (!m)
                return NULL;
        m->data = malloc(n ? n : 1);
        if (!m->data) {
                free(m);
                return NULL;
        }
        memcpy(m->data, bytes, n);
        m->n_ref = 1;
        m->size = m->body_offset = m->out_header_size = n;
        m->out_header = m->data;
        return m;
}

int io_out_queue_bytes(struct io_out *out, const void *bytes, size_t n)
{
        struct message *m = raw_message_new(bytes, n);
        if (!m)
                return -ENOMEM;
        int r = io_out_queue(out, m, NULL);
        message_unref(m);
        return r;
}

int io_out_queue_front_bytes(struct io_out *out, const void *bytes, size_t n)
{
        struct message *m = raw_message_new(bytes, n);
        if (!m)
                return -ENOMEM;
        int r = io_out_queue_front(out, m);
        message_unref(m);
        return r;
}

int io_in_copy_pending(const struct io_in *in, uint8_t **ret, size_t *ret_len)
{
        if (in->n_fds > 0)
                return -EBUSY;
        const uint8_t *src = in->msg ? in->msg : in->pending;
        size_t n = in->msg ? in->msg_have : in->n_pending;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        if (n)
                memcpy(buf, src, n);
        *ret = buf;
        *ret_len = n;
        return 0;
}

int io_out_copy_pending(const struct io_out *out, uint8_t **ret, size_t *ret_len)
{
        if (out->n_fds > 0)
                return -EBUSY;
        uint8_t *buf = malloc(out->n_bytes ? out->n_bytes : 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0, off = out->offset;
        for (size_t i = out->head; i < out->tail; i++, off = 0) {
                const struct message *m = out->queue[i].m;
                /* The same bytes io_out_flush() would write: the header as stamped, then the body. */
                if (off < m->out_header_size) {
                        memcpy(buf + n, m->out_header + off, m->out_header_size - off);
                        n += m->out_header_size - off;
                }
                size_t boff = off > m->out_header_size ? off - m->out_header_size : 0;
                if (m->body_size > boff) {
                        memcpy(buf + n, m->data + m->body_offset + boff, m->body_size - boff);
                        n += m->body_size - boff;
                }
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

int io_out_queue_front(struct io_out *out, struct message *m)
{
        if (out->offset > 0)
                return -EBUSY; /* the head is half written: nothing may go before it */
        if (out->head == 0) {
                if (io_out_reserve(out, out->tail + 1) < 0)
                        return -ENOMEM;
                memmove(out->queue + 1, out->queue, out->tail * sizeof(*out->queue));
                out->tail++;
        } else {
                out->head--;
        }
        out->queue[out->head] = (struct io_out_entry){message_ref(m), NULL};
        out->n_bytes += io_out_message_size(m);
        out->n_fds += m->n_fds;
        return 0;
}

/* Batches are bounded so one writev() stays cheap for the kernel to set up. */
#define IO_MAX_BATCH 128

/* After a short write: if the message at the head is bigger than the send buffer, grow the buffer to
 * fit it. True when it grew, so writing again is worth it before waiting for the receiver. */
static bool io_out_grow_sndbuf(struct io_out *out, int fd)
{
        if (out->sndbuf_final || out->head == out->tail)
                return false;
        size_t need = io_out_message_size(out->queue[out->head].m);
        int v = 0;
        socklen_t len = sizeof(v);
        if (out->sndbuf == 0) {
                if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) < 0 || v <= 0) {
                        out->sndbuf_final = true;
                        return false;
                }
                out->sndbuf = (size_t)v;
        }
        if (need <= out->sndbuf)
                return false; /* the message fits: the receiver is just slow */
        /* The kernel doubles the value (for its own overhead), which leaves room to queue the next big
         * message while the receiver reads this one. */
        v = (int)MIN(ALIGN_TO(need, (size_t)65536), (size_t)IO_SNDBUF_MAX);
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)); /* capped at wmem_max */
        size_t before = out->sndbuf;
        len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) < 0 || v <= 0 || (size_t)v <= before) {
                out->sndbuf_final = true;
                return false;
        }
        out->sndbuf = (size_t)v;
        if (out->sndbuf >= 2 * (size_t)IO_SNDBUF_MAX)
                out->sndbuf_final = true;
        return true;
}

int io_out_flush(struct io_out *out, int fd)
{
        while (out->head < out->tail) {
                struct iovec iov[IO_MAX_BATCH * 2];
                size_t n_iov = 0, off = out->offset;
                union {
                        struct cmsghdr align;
                        uint8_t buf[CMSG_SPACE(sizeof(int) * IO_MAX_FDS_PER_RECV)];
                } control;
                struct msghdr mh = {.msg_iov = iov};

                for (size_t i = out->head; i < out->tail && n_iov < ELEMENTSOF(iov) - 1; i++) {
                        struct message *m = out->queue[i].m;
                        /* A message's fds must travel with its first byte, alone in that sendmsg(). */
                        if (m->n_fds && off == 0) {
                                if (n_iov > 0)
                                        break;
                                if (m->n_fds > IO_MAX_FDS_PER_RECV)
                                        return -E2BIG;
                                mh.msg_control = &control;
                                mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
                                /* The padding after the fds goes to the kernel too: no stack bytes in it. */
                                memset(&control, 0, mh.msg_controllen);
                                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                                c->cmsg_level = SOL_SOCKET;
                                c->cmsg_type = SCM_RIGHTS;
                                c->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
                                memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->n_fds);
                        }
                        const uint8_t *body = m->data + m->body_offset;
                        if (m->out_header == m->data && off < m->body_offset + m->body_size) {
                                /* built message: header and body are contiguous */
                                iov[n_iov++] = (struct iovec){(void *)(m->data + off),
                                                              m->body_offset + m->body_size - off};
                        } else {
                                if (off < m->out_header_size)
                                        iov[n_iov++] = (struct iovec){m->out_header + off,
                                                                      m->out_header_size - off};
                                size_t boff = off > m->out_header_size ? off - m->out_header_size : 0;
                                if (m->body_size > boff)
                                        iov[n_iov++] =
                                                (struct iovec){(void *)(body + boff), m->body_size - boff};
                        }
                        off = 0;
                        if (mh.msg_control)
                                break;
                }
                mh.msg_iovlen = n_iov;
                size_t total = 0;
                for (size_t i = 0; i < n_iov; i++)
                        total += iov[i].iov_len;

                ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }

                /* Retire what was written. */
                size_t left = (size_t)n;
                out->n_bytes -= left;
                while (left > 0 && out->head < out->tail) {
                        struct message *m = out->queue[out->head].m;
                        size_t rem = io_out_message_size(m) - out->offset;
                        if (left < rem) {
                                out->offset += left;
                                break;
                        }
                        left -= rem;
                        out->offset = 0;
                        out->n_fds -= m->n_fds;
                        io_out_retire(out, &out->queue[out->head]);
                        out->head++;
                }
                /* A short write means the socket buffer is full; don't ask again just to hear EAGAIN,
                 * unless the buffer just grew. */
                if ((size_t)n < total && !io_out_grow_sndbuf(out, fd))
                        return -EAGAIN;
        }
        /* Drained: release the array, idle connections should cost nothing. */
        io_out_drop_array(out);
        return 0;
}
