/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The server side of SASL (lib/sasl.c), fed what a peer sends before BEGIN.
 *
 * Input: one byte choosing the server's settings, one seeding how the stream is cut into reads, one giving
 * the size of the response buffer, then the byte stream itself (normally starting with the nul byte).
 *
 * sasl.c promises that how bytes are split across reads, and how small the caller's response buffer is,
 * never change the outcome. So the stream runs twice: once in a single call with room for every response,
 * once the way a connection sees it (random reads into a buffer of SASL_LINE_MAX + 2 bytes, responses
 * flushed on -ENOBUFS), and both must produce the same responses, the same verdict and, after BEGIN, the
 * same start of the message stream. An authenticated peer must also hold only what the server allows:
 * EXTERNAL only as the uid the kernel reported, ANONYMOUS only when enabled, fd passing only when possible.
 * With the settings' bit 5 the server runs as a plain bus runs it: external_uid deferred, a second uid
 * accepted as it comes, external_uid set when the feed asks for it (SASL_NEED_UID), in both runs wherever
 * the stream happens to be cut; EXTERNAL is then also allowed as that second uid.
 */
#include <errno.h>

#include "fuzz.h"
#include "sasl.h"
#include "util.h"

#define FUZZ_GUID "0123456789abcdef0123456789abcdef"
#define FUZZ_BUFFER_SIZE (SASL_LINE_MAX + 2)

struct fuzz_sasl_result {
        int r;           /* the last sasl_server_feed(): SASL_CONTINUE, SASL_AUTHENTICATED or -EPROTO */
        size_t consumed; /* stream bytes consumed in total */
        char *responses; /* every response, in order */
        size_t n_responses;
        struct sasl_server server;
};

struct fuzz_sasl_settings {
        uid_t external_uid;
        bool allow_external, allow_anonymous, unix_fd_possible;
        bool deferred;  /* sasl_server_defer_external_uid(also_uid) */
        uid_t also_uid; /* the uid the bus sees */
};

static void fuzz_sasl_settings_from_byte(struct fuzz_sasl_settings *s, uint8_t b)
{
        static const uid_t uids[] = {1000, 0, (uid_t)-1, (uid_t)-2};
        static const uid_t also[] = {100000, 1000, 0, (uid_t)-1};

        /* Zero bits give the bus's usual setup: EXTERNAL as uid 1000, no ANONYMOUS, fds possible. */
        s->allow_external = !(b & 1);
        s->allow_anonymous = b & 2;
        s->unix_fd_possible = !(b & 4);
        s->external_uid = uids[(b >> 3) & 3];
        s->deferred = b & 32;
        s->also_uid = also[(b >> 6) & 3];
}

static void fuzz_sasl_server_init(struct sasl_server *s, const struct fuzz_sasl_settings *set)
{
        sasl_server_init(s, FUZZ_GUID, set->deferred ? (uid_t)-1 : set->external_uid, set->allow_external,
                         set->allow_anonymous, set->unix_fd_possible);
        if (set->deferred)
                sasl_server_defer_external_uid(s, set->also_uid);
}

/* The feed asked for external_uid: only a deferring server may, once, and it gets the settings' uid. */
static void fuzz_sasl_decide(struct sasl_server *s, const struct fuzz_sasl_settings *set, bool *decided)
{
        FUZZ_CHECK(set->deferred && !*decided);
        sasl_server_set_external_uid(s, set->external_uid);
        *decided = true;
}

/* Every response line is printable ASCII ending in CRLF. */
static void fuzz_check_responses(const char *out, size_t n)
{
        size_t line_start = 0;

        for (size_t i = 0; i < n; i++) {
                if (out[i] == '\r') {
                        FUZZ_CHECK(i + 1 < n && out[i + 1] == '\n' && i > line_start);
                        i++;
                        line_start = i + 1;
                } else
                        FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
        }
        FUZZ_CHECK(line_start == n);
}

static void fuzz_check_server(const struct sasl_server *s, const struct fuzz_sasl_settings *set)
{
        switch (sasl_server_get_mech(s)) {
        case SASL_MECH_EXTERNAL:
                FUZZ_CHECK(set->allow_external);
                FUZZ_CHECK((set->external_uid != (uid_t)-1 && sasl_server_get_uid(s) == set->external_uid) ||
                           (set->deferred && set->also_uid != (uid_t)-1 &&
                            sasl_server_get_uid(s) == set->also_uid));
                break;
        case SASL_MECH_ANONYMOUS:
                FUZZ_CHECK(set->allow_anonymous && sasl_server_get_uid(s) == (uid_t)-1);
                break;
        case SASL_MECH_NONE:
                FUZZ_CHECK(!sasl_server_is_authenticated(s) && sasl_server_get_uid(s) == (uid_t)-1);
                FUZZ_CHECK(!sasl_server_get_unix_fd(s));
                break;
        }
        FUZZ_CHECK(!sasl_server_get_unix_fd(s) || set->unix_fd_possible);
}

/* Everything in one call, with room for every response: each line needs two bytes and gets one response. */
static int fuzz_sasl_at_once(const struct fuzz_sasl_settings *set, const char *in, size_t n,
                             struct fuzz_sasl_result *ret)
{
        size_t out_size = (n / 2 + 1) * SASL_RESPONSE_MAX;

        ret->responses = malloc(out_size);
        if (!ret->responses)
                return -ENOMEM;
        fuzz_sasl_server_init(&ret->server, set);
        bool decided = false;
        for (;;) {
                size_t consumed = 0;
                ret->r = sasl_server_feed(&ret->server, in + ret->consumed, n - ret->consumed, &consumed,
                                          ret->responses, out_size, &ret->n_responses);
                ret->consumed += consumed;
                if (ret->r != SASL_NEED_UID)
                        break;
                fuzz_sasl_decide(&ret->server, set, &decided);
        }
        FUZZ_CHECK(ret->r == SASL_CONTINUE || ret->r == SASL_AUTHENTICATED || ret->r == -EPROTO);
        FUZZ_CHECK(ret->consumed <= n && ret->n_responses <= out_size);
        return 0;
}

/* As a connection reads: reads of pseudo-random size into a bounded buffer, a small response buffer. */
static int fuzz_sasl_chunked(const struct fuzz_sasl_settings *set, uint8_t seed, size_t out_size,
                             const char *in, size_t n, struct fuzz_sasl_result *ret)
{
        _cleanup_free_ char *buf = malloc(FUZZ_BUFFER_SIZE);
        _cleanup_free_ char *out = malloc(out_size);
        size_t max_chunk = seed == 0 ? 1 : (size_t)seed * 64, allocated = 0, in_pos = 0, buf_len = 0;
        uint32_t rng = seed;

        /* Each call scans the buffered partial line again, so tiny reads of a long input cost its square:
         * past 1 KiB, at most about 128 reads on average. */
        if (n > 1024)
                max_chunk = MAX(max_chunk, n / 64);

        if (!buf || !out)
                return -ENOMEM;
        fuzz_sasl_server_init(&ret->server, set);
        bool decided = false;
        for (;;) {
                size_t chunk, consumed = 0, out_len = 0;

                rng = rng * 1103515245u + 12345u;
                chunk = 1 + (rng >> 8) % max_chunk;
                chunk = MIN(chunk, MIN(n - in_pos, FUZZ_BUFFER_SIZE - buf_len));
                memcpy(buf + buf_len, in + in_pos, chunk);
                buf_len += chunk;
                in_pos += chunk;

                ret->r = sasl_server_feed(&ret->server, buf, buf_len, &consumed, out, out_size, &out_len);
                FUZZ_CHECK(consumed <= buf_len && out_len <= out_size);
                if (GREEDY_REALLOC(ret->responses, allocated, ret->n_responses + out_len + 1) < 0)
                        return -ENOMEM;
                memcpy(ret->responses + ret->n_responses, out, out_len);
                ret->n_responses += out_len;
                ret->consumed += consumed;
                memmove(buf, buf + consumed, buf_len - consumed);
                buf_len -= consumed;

                if (ret->r == -ENOBUFS) {
                        /* An empty buffer of SASL_RESPONSE_MAX bytes always takes the next response. */
                        FUZZ_CHECK(out_len > 0);
                        continue;
                }
                if (ret->r == SASL_NEED_UID) {
                        fuzz_sasl_decide(&ret->server, set, &decided);
                        continue;
                }
                FUZZ_CHECK(ret->r == SASL_CONTINUE || ret->r == SASL_AUTHENTICATED || ret->r == -EPROTO);
                if (ret->r != SASL_CONTINUE)
                        return 0;
                /* A full buffer without a complete line is an overlong line, which must have failed. */
                FUZZ_CHECK(buf_len < FUZZ_BUFFER_SIZE);
                if (in_pos == n)
                        return 0;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fuzz_sasl_result once = {}, chunked = {};
        struct fuzz_sasl_settings set;

        if (size < 3)
                return 0;
        fuzz_sasl_settings_from_byte(&set, data[0]);
        const char *in = (const char *)data + 3;
        size_t n = size - 3;

        if (fuzz_sasl_at_once(&set, in, n, &once) >= 0 &&
            fuzz_sasl_chunked(&set, data[1], SASL_RESPONSE_MAX + data[2], in, n, &chunked) >= 0) {
                fuzz_check_responses(once.responses, once.n_responses);
                fuzz_check_server(&once.server, &set);
                fuzz_check_server(&chunked.server, &set);

                FUZZ_CHECK(once.r == chunked.r);
                FUZZ_CHECK(once.n_responses == chunked.n_responses &&
                           memcmp(once.responses, chunked.responses, once.n_responses) == 0);
                FUZZ_CHECK(once.server.state == chunked.server.state);
                if (once.r == SASL_AUTHENTICATED) {
                        FUZZ_CHECK(once.consumed == chunked.consumed);
                        FUZZ_CHECK(sasl_server_get_mech(&once.server) ==
                                   sasl_server_get_mech(&chunked.server));
                        FUZZ_CHECK(sasl_server_get_uid(&once.server) ==
                                   sasl_server_get_uid(&chunked.server));
                        FUZZ_CHECK(sasl_server_get_unix_fd(&once.server) ==
                                   sasl_server_get_unix_fd(&chunked.server));
                }
        }
        free(once.responses);
        free(chunked.responses);
        return 0;
}
