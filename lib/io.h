/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Non-blocking socket I/O for D-Bus streams, with fd passing.
 *
 * Input is read into a scratch buffer owned by the caller (one per thread,
 * shared by all connections), and each complete message is copied out into
 * the allocation that holds the message itself. Only bytes that do not yet form a message header are
 * carried over per connection, so an idle connection holds no buffer at all.
 * A message larger than what has arrived is allocated at its full size once
 * its header is known and the rest is read straight into it, together with
 * whatever follows it into the scratch buffer: big bodies are never copied
 * twice, and a read that stops short still tells that the socket is empty.
 * A big message (IO_ADOPT_MIN or more) that a read begins with and ends with,
 * or that goes on past it, takes a malloc'd scratch buffer over as its own
 * allocation instead of being copied out of it: its bytes are never copied
 * at all, and the next read allocates a new buffer.
 *
 * Output is a FIFO of referenced messages written with writev() in batches;
 * the bytes are never copied into a per-connection buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"

/* The kernel's SCM_MAX_FD: at most this many fds arrive with one recvmsg(). */
#define IO_MAX_FDS_PER_RECV 253

/* The buffer reads land in. owned: malloc'd by io_in_read(), which a big message may take over (data is
 * NULL then until the next read allocates another); a caller's array (owned false) is only lent. */
struct io_scratch {
        uint8_t *data;
        size_t size;
        bool owned;
};
/* 64 KiB and room for a header: a message with a 64 KiB body (payloads come in powers of two) arrives in
 * one read, and the buffer becomes that message without a copy (below). */
#define IO_SCRATCH_SIZE (64u * 1024u + 4096u)
/* From this size on, a message that fills the scratch buffer from its start takes it over: copying 16 KiB
 * (about 0.4 us on the bench machine) costs several times what giving the buffer away and allocating the
 * next one does (about 0.1 us), and the many small messages keep the one buffer. */
#define IO_ADOPT_MIN (16u * 1024u)

/* An owned scratch buffer of size bytes (allocated at the first read). A lent one is
 * {.data = array, .size = sizeof(array)}. */
static inline struct io_scratch io_scratch_owned(size_t size)
{
        return (struct io_scratch){.size = size, .owned = true};
}
/* Free an owned buffer (a lent one stays the caller's). */
void io_scratch_done(struct io_scratch *s);

struct io_in {
        uint8_t *pending; /* carried-over bytes (short header, partial SASL line) */
        size_t n_pending, allocated_pending;

        uint8_t *msg; /* a message being assembled in its own allocation */
        size_t msg_size, msg_have;

        int *fds; /* received fds not yet handed to a message, in arrival order */
        size_t n_fds, allocated_fds;

        const uint8_t *cur; /* bytes of the last read not yet consumed */
        size_t cur_len, cur_pos;
        struct io_scratch *scratch; /* the buffer cur points into */

        /* The last read returned less than it asked for: the socket is most likely empty now, so a
         * caller on level-triggered epoll can skip the read that would only say EAGAIN. */
        bool short_read;
};

void io_in_done(struct io_in *in);

/* One recvmsg(). Returns bytes read (>0), 0 on EOF, -EAGAIN, -EPROTO when fds
 * arrive and fds_allowed is false (they are closed), or another -errno. */
ssize_t io_in_read(struct io_in *in, int fd, struct io_scratch *scratch, bool fds_allowed);

/* The unconsumed bytes of the last read, for the SASL phase. */
static inline const uint8_t *io_in_peek(const struct io_in *in, size_t *len)
{
        *len = in->cur_len - in->cur_pos;
        return in->cur + in->cur_pos;
}
static inline void io_in_consume(struct io_in *in, size_t n)
{
        in->cur_pos += n;
}
/* Keep unconsumed bytes for the next read (they live in the scratch buffer until then). */
int io_in_stash(struct io_in *in);

/* Extract the next complete message: 1 and *ret set, 0 when more bytes are
 * needed (unconsumed bytes are stashed), -ERR_MSG_* (errors.h) for a message
 * that breaks a rule (ERR_MSG_TOO_LONG over max_size, ERR_MSG_MISSING_FDS),
 * -ENOMEM. max_size below the protocol maximum is the bus's max_message_size
 * limit. */
int io_in_pop_message(struct io_in *in, size_t max_size, struct message **ret);

/* Bytes held for this connection's input right now. */
size_t io_in_memory(const struct io_in *in);
/* A copy of the bytes of a message still arriving (for a checkpoint): 0 and *ret (malloc'd), -EBUSY when
 * fds arrived with them (they cannot be saved), -ENOMEM. */
int io_in_copy_pending(const struct io_in *in, uint8_t **ret, size_t *ret_len);

struct io_out_entry {
        struct message *m;
        void *charge; /* the caller's, handed to io_out.release when m leaves the queue */
};

struct io_out {
        struct io_out_entry *queue; /* FIFO: queue[head..tail); NULL when empty, or &one */
        size_t head, tail, allocated;
        /* The queue while it holds one message, as it does for a connection that gets one reply at a
         * time: no array is allocated for it, and an empty queue still owns no memory. */
        struct io_out_entry one;
        size_t offset;  /* bytes of queue[head] already written */
        size_t n_bytes; /* bytes queued and not yet written */
        size_t n_fds;   /* fds queued */
        size_t sndbuf;  /* the socket's send buffer as the kernel reports it; 0 until a write falls short */
        bool sndbuf_final; /* asking for more did not give more */
        /* Called for each message queued with a charge when it leaves the queue, written or dropped:
         * whoever paid for its bytes and fds gets them back. */
        void (*release)(void *charge, const struct message *m);
};

void io_out_done(struct io_out *out);
/* Queue a stamped message (takes a new reference). charge, if not NULL, is passed to out->release when
 * the message leaves the queue. */
int io_out_queue(struct io_out *out, struct message *m, void *charge);
/* Queue bytes that are not a D-Bus message (the end of the SASL exchange), so they go out in the same
 * write as the messages queued after them. */
int io_out_queue_bytes(struct io_out *out, const void *bytes, size_t n);
/* Queue m ahead of everything else; only while nothing of the queue has been written. -EBUSY otherwise. */
int io_out_queue_front(struct io_out *out, struct message *m);
/* The same for bytes that are not a message (as io_out_queue_bytes()). */
int io_out_queue_front_bytes(struct io_out *out, const void *bytes, size_t n);
/* A copy of the bytes queued and not yet written, in order (for a checkpoint): 0 and *ret (malloc'd),
 * -EBUSY when queued messages carry fds, -ENOMEM. */
int io_out_copy_pending(const struct io_out *out, uint8_t **ret, size_t *ret_len);
/* Bytes a message occupies in the queue. */
static inline size_t io_out_message_size(const struct message *m)
{
        return m->out_header_size + m->body_size;
}
static inline bool io_out_empty(const struct io_out *out)
{
        return out->head == out->tail;
}
/* The most a socket's send buffer is grown to for one big message (the kernel doubles it). */
#define IO_SNDBUF_MAX (4u << 20)

/* Write as much as the socket takes. 0 when everything is written, -EAGAIN
 * when the socket is full, or -errno (-EPIPE, -ECONNRESET, ...).
 *
 * A message bigger than the socket's send buffer would take one wakeup of the
 * receiver and one of ours per buffer-full (five for 1 MiB with the kernel's
 * default of 208 KiB). When a write falls short on such a message, the buffer
 * is grown to hold it, up to IO_SNDBUF_MAX: with SO_SNDBUFFORCE when the
 * process may, else with SO_SNDBUF within net.core.wmem_max. Connections that
 * never carry big messages keep the default. */
int io_out_flush(struct io_out *out, int fd);
