/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Server side of the D-Bus SASL handshake (specification chapter
 * "Authentication Protocol") as a pure state machine: bytes in, response
 * lines out, no sockets and no allocation. The bus embeds one per peer and
 * decides the uid a peer may claim, before the handshake starts or, if that
 * costs it something, when a claim first needs it; this module only checks
 * the claim against it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest command line (without CRLF) we buffer, as libdbus. */
#define SASL_LINE_MAX (16u * 1024u)
/* Rejections before the server gives up, as libdbus (max_failures). */
#define SASL_MAX_REJECTS 6u
/* An out buffer of this size always has room for one response line. */
#define SASL_RESPONSE_MAX 128u

enum {
        SASL_CONTINUE = 0,      /* consumed what it could, needs more input */
        SASL_AUTHENTICATED = 1, /* BEGIN seen; message bytes start at in + *consumed */
        SASL_NEED_UID = 2,      /* the line at in + *consumed needs external_uid: set it, feed again */
};

enum sasl_mech {
        SASL_MECH_NONE,
        SASL_MECH_EXTERNAL,
        SASL_MECH_ANONYMOUS,
};

enum sasl_server_state {
        SASL_SERVER_WAIT_NUL,   /* before the credentials-passing nul byte */
        SASL_SERVER_WAIT_AUTH,  /* spec: WaitingForAuth */
        SASL_SERVER_WAIT_DATA,  /* spec: WaitingForData (EXTERNAL asked for an identity) */
        SASL_SERVER_WAIT_BEGIN, /* spec: WaitingForBegin (OK sent) */
        SASL_SERVER_DONE,       /* BEGIN processed */
        SASL_SERVER_FAILED,     /* protocol violation; every further feed fails */
};

struct sasl_server {
        char guid[33];
        uid_t external_uid;
        uid_t also_uid;            /* a second uid a claim may name; (uid_t)-1 for none */
        bool external_uid_pending; /* not decided yet: sasl_server_defer_external_uid() */
        bool allow_external;
        bool allow_anonymous;
        bool unix_fd_possible;

        enum sasl_server_state state;
        unsigned n_rejects;

        /* Valid once OK was sent; cleared again by CANCEL or ERROR. */
        enum sasl_mech mech;
        uid_t uid; /* the authenticated uid for EXTERNAL, else (uid_t)-1 */
        bool unix_fd;
};

/*
 * external_uid is the uid a peer may claim with EXTERNAL, the one an empty
 * claim stands for; (uid_t)-1 means the bus has no credentials for it, so
 * EXTERNAL always fails. The server_guid is the 32 hex digits sent in OK.
 */
void sasl_server_init(struct sasl_server *s, const char server_guid[33], uid_t external_uid,
                      bool allow_external, bool allow_anonymous, bool unix_fd_possible);
/*
 * For a bus that learns external_uid only when it must (it costs it a look at the peer's namespaces): until
 * sasl_server_set_external_uid(), a claim of also_uid (a plain bus: the uid as the bus sees it, which is
 * dbus-daemon's rule) is accepted as it comes, and any other EXTERNAL line makes sasl_server_feed() return
 * SASL_NEED_UID. also_uid stays acceptable afterwards.
 */
void sasl_server_defer_external_uid(struct sasl_server *s, uid_t also_uid);
void sasl_server_set_external_uid(struct sasl_server *s, uid_t uid);
/*
 * Feed received bytes. Only complete CRLF-terminated lines are consumed
 * (plus the initial nul byte), so the caller keeps the unconsumed tail and
 * feeds it again with more data appended; it must be able to buffer
 * SASL_LINE_MAX + 2 bytes. Processing stops right after the BEGIN line.
 * Response lines are appended to out at *out_len (which the caller
 * initialises and may carry across calls).
 *
 * Returns SASL_CONTINUE, SASL_AUTHENTICATED, SASL_NEED_UID (only while
 * external_uid is deferred: an EXTERNAL line other than a claim of also_uid
 * stopped the feed before it, unconsumed, with no reply and the state
 * untouched), or:
 *   -EPROTO   protocol violation, overlong line or too many rejections: disconnect
 *             (out may still hold a final REJECTED worth sending first);
 *   -ENOBUFS  the next response does not fit; that line is left unconsumed and
 *             the state untouched, so flush out and feed the rest again.
 * *consumed always reports the bytes used, also on error.
 */
int sasl_server_feed(struct sasl_server *s, const char *in, size_t n, size_t *consumed, char *out,
                     size_t out_size, size_t *out_len);

static inline bool sasl_server_is_authenticated(const struct sasl_server *s)
{
        return s->state == SASL_SERVER_DONE;
}

/* The mechanism that succeeded; SASL_MECH_NONE before OK. */
static inline enum sasl_mech sasl_server_get_mech(const struct sasl_server *s)
{
        return s->mech;
}

/* The uid authenticated with EXTERNAL; (uid_t)-1 for ANONYMOUS or before OK. */
static inline uid_t sasl_server_get_uid(const struct sasl_server *s)
{
        return s->uid;
}

/* Whether AGREE_UNIX_FD was sent (and not cancelled since). */
static inline bool sasl_server_get_unix_fd(const struct sasl_server *s)
{
        return s->unix_fd;
}

/*
 * Client side, for programs that connect to a bus (nsbridge). It speaks the
 * pipelined form sd-bus uses: the whole request, up to BEGIN, goes out in one
 * write before any answer is read, so the first messages can follow at once
 * and a connection costs one round trip less.
 */
struct sasl_client {
        bool want_unix_fd;
        unsigned n_answers; /* answers read so far: OK, then AGREE_UNIX_FD or ERROR */
        bool unix_fd;
        char guid[33];
};

/* The request: the nul byte, AUTH EXTERNAL with uid in hex-encoded decimal, optionally
 * NEGOTIATE_UNIX_FD, and BEGIN. Writes at most SASL_RESPONSE_MAX bytes to out; returns the length. */
size_t sasl_client_request(struct sasl_client *c, uid_t uid, bool want_unix_fd, char *out);

/*
 * Feed the server's answers; like sasl_server_feed() only complete lines are consumed. Returns
 * SASL_CONTINUE, SASL_AUTHENTICATED once every answer was read (message bytes start at in + *consumed),
 * -EACCES when the server rejected the identity, -EPROTO for anything a server may not say.
 */
int sasl_client_feed(struct sasl_client *c, const char *in, size_t n, size_t *consumed);

static inline bool sasl_client_get_unix_fd(const struct sasl_client *c)
{
        return c->unix_fd;
}
