/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client end of a bus connection, non-blocking, for programs that sit
 * on buses themselves (nsbridge). It owns the socket and its two queues and
 * speaks SASL and Hello; what the messages mean is the caller's business.
 *
 * Connecting writes nothing yet but queues everything at once: the
 * pipelined SASL request up to BEGIN, then Hello. Messages queued before the
 * bus has answered follow in order, so a caller never waits for the
 * handshake; the bus processes them after Hello, as the specification
 * allows ("Authentication state diagrams": the client may send BEGIN and
 * then messages without waiting).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "message.h"
#include "sasl.h"

struct client {
        int fd;
        bool authenticated;
        bool unix_fds;     /* the bus agreed to pass fds */
        char *unique_name; /* from the Hello reply; NULL before */
        uint32_t serial;   /* the last serial used */
        uint32_t hello_serial;

        struct sasl_client sasl;
        char auth[SASL_RESPONSE_MAX]; /* the SASL request, until written */
        size_t auth_len, auth_written;

        struct io_in in;
        struct io_out out;
        /* Messages that came in the same read behind the last reply of a blocking call: client_receive()
         * hands them out first. */
        struct message **held;
        size_t n_held, allocated_held;
};

/*
 * Connect to the first entry of address that accepts a connection, authenticate as uid with EXTERNAL
 * (asking for fd passing) and queue Hello. The socket is non-blocking afterwards; nothing is written
 * until client_flush(). Errors: what address_parse()/address_connect() return, with a message in err.
 */
int client_connect(const char *address, uid_t uid, struct client **ret, char *err, size_t errlen);
/* The same on a socket already connected to a bus (the client takes fd, and closes it on failure). */
int client_new(int fd, uid_t uid, struct client **ret);
/* The same, asking for fd passing only if unix_fds (without it, a bus sends no fds, such as the pidfd of
 * GetConnectionCredentials, and the client can send none). */
int client_connect_with(const char *address, uid_t uid, bool unix_fds, struct client **ret, char *err,
                        size_t errlen);
int client_new_with(int fd, uid_t uid, bool unix_fds, struct client **ret);
struct client *client_free(struct client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct client *, client_free)

static inline uint32_t client_next_serial(struct client *c)
{
        if (++c->serial == 0) /* 0 is not a valid serial */
                c->serial = 1;
        return c->serial;
}

/* Queue a message that has its wire header (built or relayed); takes a reference. */
int client_queue(struct client *c, struct message *m);
/* Build and queue a call to the bus driver: method(args) with signature sig (basic types and "as", as
 * msg_builder_append()). Returns the call's serial, or -errno. */
int64_t client_call_driver(struct client *c, const char *member, const char *sig, ...);
/* The same for a method of another of the driver's interfaces (org.freedesktop.DBus.Monitoring, ...). */
int64_t client_call_driver_on(struct client *c, const char *interface, const char *member, const char *sig,
                              ...);

/* Write what the socket takes: 0 when everything is written (or what is left waits for the bus to
 * agree to fd passing), -EAGAIN when the socket is full, -EOPNOTSUPP when messages with fds are queued
 * and the bus did not agree to pass fds, or -errno. */
int client_flush(struct client *c);
static inline bool client_wants_write(const struct client *c)
{
        if (c->auth_written < c->auth_len)
                return true;
        return !io_out_empty(&c->out) && (c->authenticated || c->out.n_fds == 0);
}

/*
 * One read from the socket, then the next complete message: 1 with *ret (the Hello reply is consumed
 * here and sets unique_name), 0 when more bytes are needed, -ECONNRESET on end of stream, -EACCES when
 * the bus refused us (SASL REJECTED or an error for Hello), -ERR_MSG_* (errors.h), -EPROTO (SASL,
 * lost fds) or -EBADMSG (a Hello reply without a unique name) for a bus that sends what no bus may, or
 * another -errno. Call with read_first = true after the socket polled readable, then
 * with false until it returns 0, so messages that arrived together are all handed out. Messages held
 * from a blocking call's last read (below) come first, without a read. scratch is the thread's read
 * buffer (lib/io.h).
 */
int client_receive(struct client *c, struct io_scratch *scratch, bool read_first, struct message **ret);

/* Queue call (which has its serial) and wait for its answer, at most timeout_ms, on a loop of its own:
 * 0 and *ret for the method return or the error, -ETIMEDOUT, or what client_flush() and
 * client_receive() return. Anything else the bus sends before the answer is dropped; what came in the
 * same read behind it is held for client_receive(). */
int client_call_blocking(struct client *c, struct message *call, int timeout_ms, struct message **ret);
/* The same for n calls (each with its own serial), pipelined, at most 32 unanswered at a time so that the
 * bus's per-connection limits on undelivered replies hold: 0 with replies[i] answering calls[i], or an
 * error as above (and no replies). */
int client_call_batch(struct client *c, struct message **calls, size_t n, int timeout_ms,
                      struct message **replies);
