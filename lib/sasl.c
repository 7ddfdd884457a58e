/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Server side of D-Bus SASL. The bus knows who the peer is from the kernel
 * before the first byte arrives, so SASL only confirms a claim: EXTERNAL
 * succeeds iff the claimed uid (or an empty claim) matches the uid the bus
 * computed, and ANONYMOUS succeeds when the bus allows it at all.
 *
 * The decision to keep in mind: every line is processed on a copy of the
 * state and committed only once its response fits into the caller's buffer,
 * so -ENOBUFS never loses a line and feeding one byte at a time gives the
 * same result as feeding everything at once. Replies follow libdbus's
 * dbus-auth.c state by state, including its error texts, so clients see the
 * server they were tested against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "message.h"
#include "sasl.h"
#include "util.h"

enum sasl_command {
        SASL_CMD_UNKNOWN,
        SASL_CMD_AUTH,
        SASL_CMD_CANCEL,
        SASL_CMD_BEGIN,
        SASL_CMD_DATA,
        SASL_CMD_ERROR,
        SASL_CMD_NEGOTIATE_UNIX_FD,
};

struct sasl_reply {
        char buf[SASL_RESPONSE_MAX];
        size_t len;
        bool need_uid; /* the line cannot be judged before sasl_server_set_external_uid() */
};

static void sasl_reply_append(struct sasl_reply *r, const char *s)
{
        size_t l = strlen(s);

        /* Replies are built from constants and the 32-byte guid; this cannot overflow. */
        memcpy(r->buf + r->len, s, l);
        r->len += l;
}

static void sasl_reply_line(struct sasl_reply *r, const char *a, const char *b)
{
        sasl_reply_append(r, a);
        if (b)
                sasl_reply_append(r, b);
        sasl_reply_append(r, "\r\n");
}

/*
 * Decode the whole of hex (it must be valid even where it does not fit) and
 * store up to out_size bytes. Returns the full decoded length or -EINVAL.
 */
static ssize_t sasl_decode_hex(const char *hex, size_t n, char *out, size_t out_size)
{
        if (n % 2)
                return -EINVAL;
        for (size_t i = 0; i < n; i += 2) {
                int hi = hex_digit_value(hex[i]), lo = hex_digit_value(hex[i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i / 2 < out_size)
                        out[i / 2] = (char)(hi << 4 | lo);
        }
        return (ssize_t)(n / 2);
}

/*
 * The spec gives a numeric identity as ASCII decimal digits only. Login names
 * would need an NSS lookup in the bus's user namespace, not the peer's, so
 * they are rejected like libdbus's external-username test expects.
 */
static int sasl_parse_uid(const char *s, size_t n, uid_t *ret)
{
        uint64_t v = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
                /* (uid_t)-1 is "no uid" to the kernel, never a valid identity. */
                if (v >= (uid_t)-1)
                        return -ERANGE;
        }
        *ret = (uid_t)v;
        return 0;
}

/* Split at the first run of spaces: "AUTH EXTERNAL 30" -> "AUTH", "EXTERNAL 30". */
static void sasl_split(const char *s, size_t n, size_t *word_len, const char **rest, size_t *rest_len)
{
        const char *sp = memchr(s, ' ', n);
        size_t w = sp ? (size_t)(sp - s) : n, i = w;

        while (i < n && s[i] == ' ')
                i++;
        *word_len = w;
        *rest = s + i;
        *rest_len = n - i;
}

static bool sasl_word_is(const char *s, size_t n, const char *word)
{
        return n == strlen(word) && memcmp(s, word, n) == 0;
}

static enum sasl_command sasl_parse_command(const char *s, size_t n)
{
        static const struct {
                const char *name;
                enum sasl_command cmd;
        } table[] = {
                {"AUTH", SASL_CMD_AUTH},   {"CANCEL", SASL_CMD_CANCEL},
                {"BEGIN", SASL_CMD_BEGIN}, {"DATA", SASL_CMD_DATA},
                {"ERROR", SASL_CMD_ERROR}, {"NEGOTIATE_UNIX_FD", SASL_CMD_NEGOTIATE_UNIX_FD},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (sasl_word_is(s, n, table[i].name))
                        return table[i].cmd;
        return SASL_CMD_UNKNOWN;
}

static void sasl_server_error(struct sasl_reply *r, const char *message)
{
        sasl_reply_append(r, "ERROR \"");
        sasl_reply_append(r, message);
        sasl_reply_append(r, "\"\r\n");
}

/*
 * Every REJECTED counts, including the mechanism listing for a bare AUTH, as
 * in libdbus; a client that keeps failing is disconnected after the reply.
 */
static void sasl_server_reject(struct sasl_server *s, struct sasl_reply *r)
{
        /* The spec requires the same list on every REJECTED. */
        sasl_reply_line(r, "REJECTED",
                        s->allow_external && s->allow_anonymous ? " EXTERNAL ANONYMOUS"
                        : s->allow_external                     ? " EXTERNAL"
                        : s->allow_anonymous                    ? " ANONYMOUS"
                                                                : NULL);
        s->mech = SASL_MECH_NONE;
        s->uid = (uid_t)-1;
        s->unix_fd = false;
        s->state = ++s->n_rejects >= SASL_MAX_REJECTS ? SASL_SERVER_FAILED : SASL_SERVER_WAIT_AUTH;
}

static void sasl_server_accept(struct sasl_server *s, struct sasl_reply *r, enum sasl_mech mech, uid_t uid)
{
        sasl_reply_line(r, "OK ", s->guid);
        s->mech = mech;
        s->uid = uid;
        s->state = SASL_SERVER_WAIT_BEGIN;
}

/*
 * EXTERNAL's data is the authorization identity. An empty one in AUTH makes
 * us ask once with an empty challenge (RFC 4422 appendix A); an empty answer
 * to that means "whoever the kernel says I am". A claim of also_uid is taken
 * as it comes; any other waits, unconsumed, for external_uid if that is not
 * known yet.
 */
static void sasl_server_external(struct sasl_server *s, struct sasl_reply *r, const char *hex, size_t n,
                                 bool initial)
{
        char id[32];
        ssize_t l = sasl_decode_hex(hex, n, id, sizeof(id));
        uid_t uid = (uid_t)-1;

        if (l < 0)
                sasl_server_error(r, "Invalid hex encoding");
        else if (l > 0 && ((size_t)l > sizeof(id) || sasl_parse_uid(id, (size_t)l, &uid) < 0))
                sasl_server_reject(s, r);
        else if (l > 0 && uid != (uid_t)-1 && uid == s->also_uid)
                sasl_server_accept(s, r, SASL_MECH_EXTERNAL, uid);
        else if (s->external_uid_pending)
                r->need_uid = true;
        else if (s->external_uid == (uid_t)-1)
                sasl_server_reject(s, r);
        else if (l == 0 && initial) {
                sasl_reply_line(r, "DATA", NULL);
                s->state = SASL_SERVER_WAIT_DATA;
        } else if (l > 0 && uid != s->external_uid)
                sasl_server_reject(s, r);
        else
                sasl_server_accept(s, r, SASL_MECH_EXTERNAL, s->external_uid);
}

/* RFC 4505: the optional trace is UTF-8; it carries no identity. */
static void sasl_server_anonymous(struct sasl_server *s, struct sasl_reply *r, const char *hex, size_t n)
{
        char trace[SASL_LINE_MAX / 2];
        ssize_t l = sasl_decode_hex(hex, n, trace, sizeof(trace));

        if (l < 0)
                sasl_server_error(r, "Invalid hex encoding");
        else if ((size_t)l > sizeof(trace) || !utf8_validate(trace, (size_t)l))
                sasl_server_reject(s, r);
        else
                sasl_server_accept(s, r, SASL_MECH_ANONYMOUS, (uid_t)-1);
}

static void sasl_server_auth(struct sasl_server *s, struct sasl_reply *r, const char *args, size_t n)
{
        const char *resp;
        size_t mech_len, resp_len;

        sasl_split(args, n, &mech_len, &resp, &resp_len);
        if (s->allow_external && sasl_word_is(args, mech_len, "EXTERNAL"))
                sasl_server_external(s, r, resp, resp_len, true);
        else if (s->allow_anonymous && sasl_word_is(args, mech_len, "ANONYMOUS"))
                sasl_server_anonymous(s, r, resp, resp_len);
        else /* also a bare AUTH, which asks for the mechanism list */
                sasl_server_reject(s, r);
}

/* One line without its CRLF. The state transitions are the spec's "Server states". */
static void sasl_server_line(struct sasl_server *s, struct sasl_reply *r, const char *line, size_t n)
{
        const char *args;
        size_t cmd_len, args_len;
        enum sasl_command cmd;

        /* A NUL inside a line cannot be a command of this text protocol: drop the peer. Other bytes
         * outside ASCII only make an unknown command, which dbus-daemon answers with ERROR (checked
         * against dbus-daemon 1.14 by tests/integration/test-malformed-input-disconnects.sh). */
        for (size_t i = 0; i < n; i++)
                if (line[i] == '\0') {
                        s->state = SASL_SERVER_FAILED;
                        return;
                }

        sasl_split(line, n, &cmd_len, &args, &args_len);
        cmd = sasl_parse_command(line, cmd_len);

        switch (cmd) {
        case SASL_CMD_AUTH:
                if (s->state == SASL_SERVER_WAIT_AUTH)
                        sasl_server_auth(s, r, args, args_len);
                else
                        sasl_server_error(r, s->state == SASL_SERVER_WAIT_DATA
                                                     ? "Sent AUTH while another AUTH in progress"
                                                     : "Sent AUTH while expecting BEGIN");
                break;
        case SASL_CMD_DATA:
                if (s->state == SASL_SERVER_WAIT_DATA)
                        sasl_server_external(s, r, args, args_len, false);
                else
                        sasl_server_error(r, s->state == SASL_SERVER_WAIT_AUTH
                                                     ? "Not currently in an auth conversation"
                                                     : "Sent DATA while expecting BEGIN");
                break;
        case SASL_CMD_CANCEL:
                /* Outside a conversation there is nothing to cancel (libdbus, dbus-broker). */
                if (s->state == SASL_SERVER_WAIT_AUTH)
                        sasl_server_error(r, "Not currently in an auth conversation");
                else
                        sasl_server_reject(s, r);
                break;
        case SASL_CMD_ERROR:
                sasl_server_reject(s, r);
                break;
        case SASL_CMD_BEGIN:
                /* BEGIN before OK would start a message stream nobody authenticated. */
                s->state = s->state == SASL_SERVER_WAIT_BEGIN ? SASL_SERVER_DONE : SASL_SERVER_FAILED;
                break;
        case SASL_CMD_NEGOTIATE_UNIX_FD:
                if (s->state != SASL_SERVER_WAIT_BEGIN)
                        sasl_server_error(r, "Need to authenticate first");
                else if (!s->unix_fd_possible)
                        sasl_server_error(r, "Unix FD passing not supported, not authenticated or otherwise "
                                             "not possible");
                else {
                        s->unix_fd = true;
                        sasl_reply_line(r, "AGREE_UNIX_FD", NULL);
                }
                break;
        case SASL_CMD_UNKNOWN:
                /* Spec, "Future Extensions": an unknown command is not fatal. */
                sasl_server_error(r, "Unknown command");
                break;
        }
}

void sasl_server_init(struct sasl_server *s, const char server_guid[33], uid_t external_uid,
                      bool allow_external, bool allow_anonymous, bool unix_fd_possible)
{
        *s = (struct sasl_server){
                .external_uid = external_uid,
                .also_uid = (uid_t)-1,
                .allow_external = allow_external,
                .allow_anonymous = allow_anonymous,
                .unix_fd_possible = unix_fd_possible,
                .state = SASL_SERVER_WAIT_NUL,
                .mech = SASL_MECH_NONE,
                .uid = (uid_t)-1,
        };
        memcpy(s->guid, server_guid, 32);
        s->guid[32] = '\0';
}

void sasl_server_defer_external_uid(struct sasl_server *s, uid_t also_uid)
{
        s->external_uid_pending = true;
        s->also_uid = also_uid;
}

void sasl_server_set_external_uid(struct sasl_server *s, uid_t uid)
{
        s->external_uid = uid;
        s->external_uid_pending = false;
}

int sasl_server_feed(struct sasl_server *s, const char *in, size_t n, size_t *consumed, char *out,
                     size_t out_size, size_t *out_len)
{
        size_t pos = 0;
        int r = 0;

        while (s->state != SASL_SERVER_DONE && s->state != SASL_SERVER_FAILED && pos < n) {
                if (s->state == SASL_SERVER_WAIT_NUL) {
                        /* Spec: the first byte must be nul; the server may disconnect otherwise. */
                        s->state = in[pos++] == '\0' ? SASL_SERVER_WAIT_AUTH : SASL_SERVER_FAILED;
                        continue;
                }

                const char *eol = memmem(in + pos, n - pos, "\r\n", 2);
                if (!eol) {
                        /* Even if the last byte is the '\r', the line is already too long. */
                        if (n - pos > SASL_LINE_MAX + 1)
                                s->state = SASL_SERVER_FAILED;
                        break;
                }
                size_t len = (size_t)(eol - (in + pos));
                if (len > SASL_LINE_MAX) {
                        s->state = SASL_SERVER_FAILED;
                        break;
                }

                struct sasl_server next = *s;
                struct sasl_reply reply = {.len = 0};
                sasl_server_line(&next, &reply, in + pos, len);
                if (reply.need_uid) {
                        r = SASL_NEED_UID;
                        break;
                }
                if (reply.len > out_size - MIN(*out_len, out_size)) {
                        r = -ENOBUFS;
                        break;
                }
                memcpy(out + *out_len, reply.buf, reply.len);
                *out_len += reply.len;
                *s = next;
                pos += len + 2;
        }

        *consumed = pos;
        if (s->state == SASL_SERVER_FAILED)
                return -EPROTO;
        if (r != 0)
                return r;
        return s->state == SASL_SERVER_DONE ? SASL_AUTHENTICATED : SASL_CONTINUE;
}

/* ---- client ---- */

size_t sasl_client_request(struct sasl_client *c, uid_t uid, bool want_unix_fd, char *out)
{
        static const char hex[] = "0123456789abcdef";
        char id[16], *o = out;
        int n = snprintf(id, sizeof(id), "%u", (unsigned)uid);

        *c = (struct sasl_client){.want_unix_fd = want_unix_fd};
        *o++ = 0;
        o += sprintf(o, "AUTH EXTERNAL ");
        for (int i = 0; i < n; i++) {
                *o++ = hex[(unsigned char)id[i] >> 4];
                *o++ = hex[(unsigned char)id[i] & 15];
        }
        o += sprintf(o, "\r\n%sBEGIN\r\n", want_unix_fd ? "NEGOTIATE_UNIX_FD\r\n" : "");
        return (size_t)(o - out);
}

static bool sasl_line_is(const char *line, size_t len, const char *word)
{
        size_t l = strlen(word);
        return len >= l && memcmp(line, word, l) == 0 && (len == l || line[l] == ' ');
}

int sasl_client_feed(struct sasl_client *c, const char *in, size_t n, size_t *consumed)
{
        unsigned want = c->want_unix_fd ? 2 : 1;
        size_t pos = 0;
        int r = SASL_CONTINUE;

        while (c->n_answers < want) {
                const char *eol = memmem(in + pos, n - pos, "\r\n", 2);
                if (!eol) {
                        if (n - pos > SASL_RESPONSE_MAX)
                                r = -EPROTO; /* no server answer is that long */
                        break;
                }
                const char *line = in + pos;
                size_t len = (size_t)(eol - line);
                pos += len + 2;
                if (c->n_answers == 0) {
                        /* "OK <32 hex digits of the server's guid>" */
                        if (sasl_line_is(line, len, "REJECTED")) {
                                r = -EACCES;
                                break;
                        }
                        if (!sasl_line_is(line, len, "OK") || len != 3 + 32) {
                                r = -EPROTO;
                                break;
                        }
                        memcpy(c->guid, line + 3, 32);
                        c->guid[32] = 0;
                } else if (sasl_line_is(line, len, "AGREE_UNIX_FD")) {
                        c->unix_fd = true;
                } else if (!sasl_line_is(line, len, "ERROR")) {
                        r = -EPROTO;
                        break;
                }
                c->n_answers++;
        }
        *consumed = pos;
        if (r < 0)
                return r;
        return c->n_answers == want ? SASL_AUTHENTICATED : SASL_CONTINUE;
}
