/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The server SASL state machine, command by command and transition by
 * transition. Many cases are ports of libdbus's auth scripts
 * (test/data/auth/\*.auth-script), so nsbus answers the way the reference
 * server does; the chunked runner checks that how bytes are split across
 * reads never changes the outcome.
 */
#include <errno.h>

#include "sasl.h"
#include "test.h"
#include "util.h"

#define GUID "0123456789abcdef0123456789abcdef"
#define OK_LINE "OK " GUID "\r\n"
#define NO_UID ((uid_t)-1)

static char out[8 * SASL_LINE_MAX];
static size_t out_len;
static size_t consumed;

/* Feed n bytes in one call; the responses end up NUL-terminated in out. */
static int feed(struct sasl_server *s, const char *in, size_t n)
{
        int r;

        out_len = 0;
        r = sasl_server_feed(s, in, n, &consumed, out, sizeof(out) - 1, &out_len);
        out[out_len] = '\0';
        return r;
}
#define FEED(s, lit) feed((s), (lit), sizeof(lit) - 1)

/* A server that has already consumed the initial nul byte. */
static void start(struct sasl_server *s, uid_t uid, bool external, bool anonymous, bool unix_fd)
{
        sasl_server_init(s, GUID, uid, external, anonymous, unix_fd);
        CHECK_EQ(FEED(s, "\0"), SASL_CONTINUE);
        CHECK_EQ(consumed, 1);
        CHECK_EQ(out_len, 0);
}

static void expect(struct sasl_server *s, const char *line, int r, const char *response)
{
        CHECK_EQ(feed(s, line, strlen(line)), r);
        CHECK_STREQ(out, response);
        if (r == SASL_CONTINUE)
                CHECK_EQ(consumed, strlen(line));
}

static void test_external(void)
{
        struct sasl_server s;

        /* external-successful / external-root: the claimed uid is the peer's. */
        start(&s, 1000, true, false, false);
        CHECK(!sasl_server_is_authenticated(&s));
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_NONE);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_EXTERNAL);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK(sasl_server_is_authenticated(&s));
        CHECK_EQ(sasl_server_get_uid(&s), 1000);
        CHECK(!sasl_server_get_unix_fd(&s));

        start(&s, 0, true, false, false);
        expect(&s, "AUTH EXTERNAL 30\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK_EQ(sasl_server_get_uid(&s), 0);

        /* external-silly / the shifted-container case: a different uid is rejected, then retried. */
        start(&s, 100000, true, false, false);
        expect(&s, "AUTH EXTERNAL 30\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_NONE);
        CHECK_EQ(sasl_server_get_uid(&s), NO_UID);
        expect(&s, "AUTH EXTERNAL 313030303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 100000);

        /* external-username: login names are not looked up. */
        start(&s, 0, true, false, false);
        expect(&s, "AUTH EXTERNAL 726f6f74\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");

        /* external-failed: without kernel credentials EXTERNAL cannot succeed. */
        start(&s, NO_UID, true, false, false);
        expect(&s, "AUTH EXTERNAL 30\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        /* 4294967295 is (uid_t)-1: never an identity. */
        expect(&s, "AUTH EXTERNAL 34323934393637323935\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
}

static void test_external_empty_identity(void)
{
        struct sasl_server s;

        /* external-auto: no initial response, empty challenge, empty answer. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_NONE);
        expect(&s, "DATA\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_EXTERNAL);
        CHECK_EQ(sasl_server_get_uid(&s), 1000);

        /* Trailing spaces after the mechanism mean no initial response (sd-bus, dbus-broker). */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL \r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "DATA \r\n", SASL_CONTINUE, OK_LINE);

        /* The identity may come with the DATA answer instead. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "DATA 31303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 1000);

        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "DATA 30\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        /* Back in WaitingForAuth: DATA is out of place now. */
        expect(&s, "DATA\r\n", SASL_CONTINUE, "ERROR \"Not currently in an auth conversation\"\r\n");

        /* In WaitingForData: bad hex is an ERROR that keeps the state; AUTH is refused. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "DATA xyz\r\n", SASL_CONTINUE, "ERROR \"Invalid hex encoding\"\r\n");
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE,
               "ERROR \"Sent AUTH while another AUTH in progress\"\r\n");
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE, "ERROR \"Need to authenticate first\"\r\n");
        expect(&s, "DATA\r\n", SASL_CONTINUE, OK_LINE);
}

static void test_hex_and_uid_strictness(void)
{
        static const char *const rejected[] = {
                "2b31303030",                               /* "+1000" */
                "2031303030",                               /* " 1000" */
                "3130303020",                               /* "1000 " */
                "2d31",                                     /* "-1" */
                "3078336538",                               /* "0x3e8" */
                "3130303000",                               /* "1000\0" */
                "39393939393939393939",                     /* 9999999999: overflows uid_t */
                "3138343436373434303733373039353531363136", /* 2^64 */
                "31303031",                                 /* 1001 */
        };
        static const char *const bad_hex[] = {
                "willy", "3", "313", "3g", "g3", "31 30", "%31",
        };
        struct sasl_server s;
        char line[256];

        for (size_t i = 0; i < ELEMENTSOF(rejected); i++) {
                start(&s, 1000, true, false, false);
                snprintf(line, sizeof(line), "AUTH EXTERNAL %s\r\n", rejected[i]);
                expect(&s, line, SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        }

        /* invalid-hex-encoding: an ERROR, not a rejection; the state is kept. */
        for (size_t i = 0; i < ELEMENTSOF(bad_hex); i++) {
                start(&s, 1000, true, false, false);
                snprintf(line, sizeof(line), "AUTH EXTERNAL %s\r\n", bad_hex[i]);
                expect(&s, line, SASL_CONTINUE, "ERROR \"Invalid hex encoding\"\r\n");
                CHECK_EQ(s.n_rejects, 0);
                expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        }

        /* Digits only, but leading zeros are still decimal digits. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL 3031303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 1000);

        /* The largest valid uid. */
        start(&s, 4294967294u, true, false, false);
        expect(&s, "AUTH EXTERNAL 34323934393637323934\r\n", SASL_CONTINUE, OK_LINE);
}

static void test_anonymous(void)
{
        struct sasl_server s;

        /* Off by default in the bus: not offered and not accepted. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH ANONYMOUS 442d42757320312e312e31\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH ANONYMOUS\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");

        /* anonymous-server-successful */
        start(&s, 1000, true, true, false);
        expect(&s, "AUTH ANONYMOUS 442d42757320312e312e31\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_ANONYMOUS);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_ANONYMOUS);
        CHECK_EQ(sasl_server_get_uid(&s), NO_UID);

        /* No trace is fine; upper-case hex too; a trace that is not UTF-8 is not. */
        start(&s, 1000, true, true, false);
        expect(&s, "AUTH ANONYMOUS\r\n", SASL_CONTINUE, OK_LINE);
        start(&s, 1000, true, true, false);
        expect(&s, "AUTH ANONYMOUS 4A4b\r\n", SASL_CONTINUE, OK_LINE);
        start(&s, 1000, true, true, false);
        expect(&s, "AUTH ANONYMOUS c328\r\n", SASL_CONTINUE, "REJECTED EXTERNAL ANONYMOUS\r\n");
        expect(&s, "AUTH ANONYMOUS 4\r\n", SASL_CONTINUE, "ERROR \"Invalid hex encoding\"\r\n");

        /* Anonymous only, with EXTERNAL disabled. */
        start(&s, 1000, false, true, false);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, "REJECTED ANONYMOUS\r\n");
        expect(&s, "AUTH ANONYMOUS\r\n", SASL_CONTINUE, OK_LINE);

        start(&s, 1000, false, false, false);
        expect(&s, "AUTH\r\n", SASL_CONTINUE, "REJECTED\r\n");
}

static void test_mechanisms_and_errors(void)
{
        struct sasl_server s;

        /* mechanisms: a bare AUTH lists what we accept. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        start(&s, 1000, true, true, false);
        expect(&s, "AUTH\r\n", SASL_CONTINUE, "REJECTED EXTERNAL ANONYMOUS\r\n");

        /* cookie-sha1 and friends: unknown mechanisms are rejected with the list. */
        expect(&s, "AUTH DBUS_COOKIE_SHA1 31303030\r\n", SASL_CONTINUE, "REJECTED EXTERNAL ANONYMOUS\r\n");
        expect(&s, "AUTH KERBEROS_V4\r\n", SASL_CONTINUE, "REJECTED EXTERNAL ANONYMOUS\r\n");
        expect(&s, "AUTH external 31303030\r\n", SASL_CONTINUE, "REJECTED EXTERNAL ANONYMOUS\r\n");

        /* invalid-command: unknown and lower-case commands get ERROR and change nothing. */
        start(&s, 1000, true, false, false);
        expect(&s, "NONEXISTENT_COMMAND foo bar baz blah blah\r\n", SASL_CONTINUE,
               "ERROR \"Unknown command\"\r\n");
        expect(&s, "auth EXTERNAL 31303030\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, "\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, " AUTH\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        /* Server-to-client commands are unknown to a server. */
        expect(&s, "OK " GUID "\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, "REJECTED EXTERNAL\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, "AGREE_UNIX_FD\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, "EXTENSION_COM_EXAMPLE_FOO\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        CHECK_EQ(s.n_rejects, 0);

        /* Out-of-place commands in WaitingForAuth. */
        expect(&s, "DATA 31303030\r\n", SASL_CONTINUE,
               "ERROR \"Not currently in an auth conversation\"\r\n");
        expect(&s, "CANCEL\r\n", SASL_CONTINUE, "ERROR \"Not currently in an auth conversation\"\r\n");
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE, "ERROR \"Need to authenticate first\"\r\n");
        /* A client ERROR is answered with REJECTED in every state. */
        expect(&s, "ERROR\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "ERROR \"what?\"\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "ERROR\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "ERROR\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_NONE);

        /* After OK: AUTH and DATA are refused, unknown commands are harmless. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE,
               "ERROR \"Sent AUTH while expecting BEGIN\"\r\n");
        expect(&s, "DATA\r\n", SASL_CONTINUE, "ERROR \"Sent DATA while expecting BEGIN\"\r\n");
        expect(&s, "FOO\r\n", SASL_CONTINUE, "ERROR \"Unknown command\"\r\n");
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
}

static void test_cancel(void)
{
        struct sasl_server s;

        /* cancel: CANCEL after OK rejects, and the client can start over. */
        start(&s, 1000, true, false, true);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE, "AGREE_UNIX_FD\r\n");
        CHECK(sasl_server_get_unix_fd(&s));
        expect(&s, "CANCEL\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        CHECK_EQ(sasl_server_get_mech(&s), SASL_MECH_NONE);
        CHECK(!sasl_server_get_unix_fd(&s));
        expect(&s, "BEGIN\r\n", -EPROTO, "");

        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "CANCEL\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");

        /* CANCEL in WaitingForData. */
        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "CANCEL\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "DATA\r\n", SASL_CONTINUE, "ERROR \"Not currently in an auth conversation\"\r\n");
}

static void test_unix_fd(void)
{
        struct sasl_server s;

        start(&s, 1000, true, false, true);
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE, "ERROR \"Need to authenticate first\"\r\n");
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK(!sasl_server_get_unix_fd(&s));
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE, "AGREE_UNIX_FD\r\n");
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK(sasl_server_get_unix_fd(&s));

        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "NEGOTIATE_UNIX_FD\r\n", SASL_CONTINUE,
               "ERROR \"Unix FD passing not supported, not authenticated or otherwise not possible\"\r\n");
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK(!sasl_server_get_unix_fd(&s));
}

static void test_begin_before_ok(void)
{
        struct sasl_server s;

        start(&s, 1000, true, false, false);
        expect(&s, "BEGIN\r\n", -EPROTO, "");
        /* Failure is sticky. */
        expect(&s, "AUTH EXTERNAL 31303030\r\n", -EPROTO, "");
        CHECK_EQ(consumed, 0);

        start(&s, 1000, true, false, false);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "BEGIN\r\n", -EPROTO, "");
        CHECK(!sasl_server_is_authenticated(&s));
}

static void test_too_many_rejections(void)
{
        struct sasl_server s;

        /* fail-after-n-attempts: the 6th rejection is still sent, then we give up. */
        start(&s, 1000, true, false, false);
        for (unsigned i = 1; i < SASL_MAX_REJECTS; i++)
                expect(&s, "AUTH EXTERNAL 30\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL 30\r\n", -EPROTO, "REJECTED EXTERNAL\r\n");
        CHECK_EQ(consumed, strlen("AUTH EXTERNAL 30\r\n"));
        expect(&s, "AUTH EXTERNAL 31303030\r\n", -EPROTO, "");

        /* Every kind of REJECTED counts. */
        start(&s, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "AUTH\r\nERROR\r\nAUTH FOO\r\nAUTH EXTERNAL 31303030\r\nCANCEL\r\n"
                          "AUTH EXTERNAL 30\r\n"),
                 SASL_CONTINUE);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL\r\nCANCEL\r\nAUTH EXTERNAL 31303030\r\n"), -EPROTO);
        CHECK_STREQ(out, "DATA\r\nREJECTED EXTERNAL\r\n");
        CHECK_EQ(consumed, strlen("AUTH EXTERNAL\r\nCANCEL\r\n"));
}

static void test_framing_violations(void)
{
        struct sasl_server s;
        static char line[SASL_LINE_MAX + 3];

        /* The first byte must be the nul byte. */
        sasl_server_init(&s, GUID, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 31303030\r\n"), -EPROTO);
        sasl_server_init(&s, GUID, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "\0\0AUTH EXTERNAL 31303030\r\n"), -EPROTO);

        /* Nothing yet is not an error; a partial line is left for later. */
        sasl_server_init(&s, GUID, 1000, true, false, false);
        CHECK_EQ(feed(&s, "", 0), SASL_CONTINUE);
        CHECK_EQ(consumed, 0);
        CHECK_EQ(FEED(&s, "\0AUTH EXTERNAL 3130"), SASL_CONTINUE);
        CHECK_EQ(consumed, 1);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 31303030\r"), SASL_CONTINUE);
        CHECK_EQ(consumed, 0);
        /* A bare LF does not end a line. */
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 31303030\n"), SASL_CONTINUE);
        CHECK_EQ(consumed, 0);

        /* NUL inside a line drops the peer; other non-ASCII bytes only make a bad command or argument,
         * answered as dbus-daemon does, and the conversation goes on. */
        start(&s, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "AUTH\0EXTERNAL\r\n"), -EPROTO);
        start(&s, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "\x01\x02\xff\xfe\r\n"), SASL_CONTINUE);
        CHECK_STREQ(out, "ERROR \"Unknown command\"\r\n");
        start(&s, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL \xc3\xa9\r\n"), SASL_CONTINUE);
        CHECK(strncmp(out, "ERROR", 5) == 0 || strncmp(out, "REJECTED", 8) == 0);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 31303030\r\n"), SASL_CONTINUE);
        CHECK(strncmp(out, "OK ", 3) == 0);

        /* A line of exactly SASL_LINE_MAX bytes is processed... */
        memset(line, 'A', sizeof(line));
        start(&s, 1000, true, false, false);
        memcpy(line + SASL_LINE_MAX, "\r\n", 2);
        CHECK_EQ(feed(&s, line, SASL_LINE_MAX + 2), SASL_CONTINUE);
        CHECK_STREQ(out, "ERROR \"Unknown command\"\r\n");
        /* ... and so is a maximal ANONYMOUS trace. */
        start(&s, 1000, true, true, false);
        memcpy(line, "AUTH ANONYMOUS  ", 16);
        memset(line + 16, '4', SASL_LINE_MAX - 16);
        line[SASL_LINE_MAX - 1] = '1';
        memcpy(line + SASL_LINE_MAX, "\r\n", 2);
        CHECK_EQ(feed(&s, line, SASL_LINE_MAX + 2), SASL_CONTINUE);
        CHECK_STREQ(out, OK_LINE);
        /* ... one more byte is too long, complete or not. */
        memset(line, 'A', sizeof(line));
        start(&s, 1000, true, false, false);
        memcpy(line + SASL_LINE_MAX + 1, "\r\n", 2);
        CHECK_EQ(feed(&s, line, SASL_LINE_MAX + 3), -EPROTO);
        memset(line, 'A', sizeof(line));
        start(&s, 1000, true, false, false);
        line[SASL_LINE_MAX] = '\r';
        CHECK_EQ(feed(&s, line, SASL_LINE_MAX + 1), SASL_CONTINUE);
        CHECK_EQ(feed(&s, line, SASL_LINE_MAX + 2), -EPROTO);
}

static void test_pipelined(void)
{
        static const char in[] = "\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"
                                 "l\1\0\1\0\0\0\0\1\0\0\0m\0\0\0\1\1o\0\25\0\0\0/org/freedesktop/DBus";
        static const char broker[] = "\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\nl";
        struct sasl_server s;

        sasl_server_init(&s, GUID, 0, true, false, true);
        CHECK_EQ(FEED(&s, in), SASL_AUTHENTICATED);
        CHECK_EQ(consumed, strlen("AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n") + 1);
        CHECK_EQ(in[consumed], 'l');
        CHECK_STREQ(out, OK_LINE "AGREE_UNIX_FD\r\n");
        CHECK(sasl_server_get_unix_fd(&s));
        CHECK_EQ(sasl_server_get_uid(&s), 0);

        /* Once done, nothing more is consumed: the rest is D-Bus messages. */
        CHECK_EQ(feed(&s, in + consumed, sizeof(in) - 1 - consumed), SASL_AUTHENTICATED);
        CHECK_EQ(consumed, 0);
        CHECK_EQ(out_len, 0);

        /* What dbus-broker's and sd-bus's clients send up front. */
        sasl_server_init(&s, GUID, 1000, true, false, true);
        CHECK_EQ(FEED(&s, broker), SASL_AUTHENTICATED);
        CHECK_EQ(consumed, sizeof(broker) - 2);
        CHECK_STREQ(out, "DATA\r\n" OK_LINE "AGREE_UNIX_FD\r\n");

        /* extra-bytes: bytes after BEGIN are left over, even ones that look like SASL. */
        start(&s, 1000, true, false, false);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 31303030\r\nBEGIN\r\nHello\r\n"), SASL_AUTHENTICATED);
        CHECK_STREQ(out, OK_LINE);
        CHECK_EQ(consumed, strlen("AUTH EXTERNAL 31303030\r\nBEGIN\r\n"));
}

/*
 * Drive the server like a connection would: bytes arrive `chunk` at a time
 * into an input buffer that keeps what was not consumed, responses go
 * through an out buffer of out_cap bytes that is flushed on -ENOBUFS.
 */
static int run_chunked(const char *in, size_t n, size_t chunk, size_t out_cap, uid_t uid, char *resp,
                       size_t *msg_start)
{
        struct sasl_server s;
        char buf[256], obuf[SASL_RESPONSE_MAX * 4];
        size_t buffered = 0, fed = 0, total = 0, resp_len = 0, olen = 0;
        int r = SASL_CONTINUE;

        CHECK(out_cap <= sizeof(obuf));
        sasl_server_init(&s, GUID, uid, true, false, true);
        while (r == SASL_CONTINUE || r == -ENOBUFS) {
                size_t c, k = MIN(chunk, n - fed);

                if (r == SASL_CONTINUE) {
                        if (k == 0)
                                break;
                        CHECK(buffered + k <= sizeof(buf));
                        memcpy(buf + buffered, in + fed, k);
                        buffered += k;
                        fed += k;
                }
                r = sasl_server_feed(&s, buf, buffered, &c, obuf, out_cap, &olen);
                CHECK(c <= buffered);
                CHECK(r != -ENOBUFS || olen > 0);
                memmove(buf, buf + c, buffered - c);
                buffered -= c;
                total += c;
                /* Flush, as a writer would after each call. */
                memcpy(resp + resp_len, obuf, olen);
                resp_len += olen;
                olen = 0;
        }
        resp[resp_len] = '\0';
        *msg_start = total;
        return r;
}

static void test_chunking(void)
{
        /* clang-format off */
#define SCRIPT(s) { s, sizeof(s) - 1 }
        /* clang-format on */
        static const struct {
                const char *in;
                size_t n;
        } scripts[] = {
                SCRIPT("\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\nlmessage"),
                SCRIPT("\0AUTH\r\nAUTH EXTERNAL\r\nDATA\r\n"
                       "NEGOTIATE_UNIX_FD\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n\0\0"),
                SCRIPT("\0FOO\r\nAUTH EXTERNAL 31\r\nAUTH EXTERNAL 30\r\nCANCEL\r\n"
                       "AUTH EXTERNAL 30\r\nBEGIN\r\nx"),
                SCRIPT("\0AUTH EXTERNAL 31\r\nAUTH EXTERNAL 31\r\nAUTH EXTERNAL 31\r\nAUTH EXTERNAL 31\r\n"
                       "AUTH EXTERNAL 31\r\nAUTH EXTERNAL 31\r\nAUTH EXTERNAL 30\r\n"),
                SCRIPT("\0AUTH EXTERNAL\r\nBEGIN\r\n"),
        };
#undef SCRIPT

        for (size_t i = 0; i < ELEMENTSOF(scripts); i++) {
                char ref[1024], resp[1024];
                size_t ref_start, start_at, n = scripts[i].n;
                int ref_r = run_chunked(scripts[i].in, n, n, SASL_RESPONSE_MAX * 4, 0, ref, &ref_start);

                CHECK(ref_r == SASL_AUTHENTICATED || ref_r == -EPROTO);
                for (size_t chunk = 1; chunk <= n; chunk++) {
                        CHECK_EQ(run_chunked(scripts[i].in, n, chunk, SASL_RESPONSE_MAX * 4, 0, resp,
                                             &start_at),
                                 ref_r);
                        CHECK_STREQ(resp, ref);
                        CHECK_EQ(start_at, ref_start);
                        /* A minimal out buffer only changes how often the caller flushes. */
                        CHECK_EQ(run_chunked(scripts[i].in, n, chunk, SASL_RESPONSE_MAX, 0, resp, &start_at),
                                 ref_r);
                        CHECK_STREQ(resp, ref);
                        CHECK_EQ(start_at, ref_start);
                }
        }
}

static void test_out_buffer(void)
{
        static const char in[] = "\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n";
        struct sasl_server s;
        char small[sizeof(OK_LINE) - 1];
        size_t c, len = 0;

        /* No room for OK: the nul byte is consumed, the AUTH line and the state are not. */
        sasl_server_init(&s, GUID, 0, true, false, true);
        CHECK_EQ(sasl_server_feed(&s, in, sizeof(in) - 1, &c, small, sizeof(small) - 1, &len), -ENOBUFS);
        CHECK_EQ(c, 1);
        CHECK_EQ(len, 0);
        CHECK_EQ(s.state, SASL_SERVER_WAIT_AUTH);

        /* Exactly enough room for OK: stops before AGREE_UNIX_FD. */
        CHECK_EQ(sasl_server_feed(&s, in + 1, sizeof(in) - 2, &c, small, sizeof(small), &len), -ENOBUFS);
        CHECK_EQ(c, strlen("AUTH EXTERNAL 30\r\n"));
        CHECK_EQ(len, sizeof(small));
        CHECK(memcmp(small, OK_LINE, sizeof(small)) == 0);
        CHECK(!sasl_server_get_unix_fd(&s));

        /* The caller flushed; the rest goes through. */
        len = 0;
        CHECK_EQ(sasl_server_feed(&s, in + 1 + c, sizeof(in) - 2 - c, &c, small, sizeof(small), &len),
                 SASL_AUTHENTICATED);
        CHECK_EQ(c, strlen("NEGOTIATE_UNIX_FD\r\nBEGIN\r\n"));
        CHECK_EQ(len, strlen("AGREE_UNIX_FD\r\n"));
        CHECK(sasl_server_get_unix_fd(&s));
}

/* The client side: the pipelined request, and the server's answers taken apart. */
static void test_client(void)
{
        struct sasl_client c;
        char req[SASL_RESPONSE_MAX];
        size_t n = sasl_client_request(&c, 100000, true, req);
        static const char want[] = "\0AUTH EXTERNAL 313030303030\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n";
        CHECK_EQ(n, sizeof(want) - 1);
        CHECK(memcmp(req, want, n) == 0);

        /* OK, AGREE and the first message bytes in one read: only the two lines are consumed. */
        static const char answer[] = "OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\nl\2\1\1";
        size_t used = 0;
        CHECK_EQ(sasl_client_feed(&c, answer, sizeof(answer) - 1, &used), SASL_AUTHENTICATED);
        CHECK_EQ(used, sizeof(answer) - 1 - 4);
        CHECK(sasl_client_get_unix_fd(&c));
        CHECK_STREQ(c.guid, "0123456789abcdef0123456789abcdef");

        /* Byte by byte: a partial line is left for the next feed. */
        sasl_client_request(&c, 0, true, req);
        size_t pos = 0;
        int r = SASL_CONTINUE;
        for (size_t end = 1; end <= sizeof(answer) - 1 - 4 && r == SASL_CONTINUE; end++) {
                r = sasl_client_feed(&c, answer + pos, end - pos, &used);
                pos += used;
        }
        CHECK_EQ(r, SASL_AUTHENTICATED);
        CHECK_EQ(pos, sizeof(answer) - 1 - 4);

        /* A server that passes no fds says ERROR; without NEGOTIATE only OK is awaited. */
        sasl_client_request(&c, 0, true, req);
        static const char no_fds[] = "OK 0123456789abcdef0123456789abcdef\r\nERROR\r\n";
        CHECK_EQ(sasl_client_feed(&c, no_fds, sizeof(no_fds) - 1, &used), SASL_AUTHENTICATED);
        CHECK(!sasl_client_get_unix_fd(&c));
        n = sasl_client_request(&c, 0, false, req);
        CHECK(memmem(req, n, "NEGOTIATE", 9) == NULL);
        CHECK_EQ(sasl_client_feed(&c, no_fds, 37, &used), SASL_AUTHENTICATED);
        CHECK_EQ(used, 37u);

        /* Refusals and nonsense. */
        sasl_client_request(&c, 0, true, req);
        CHECK_EQ(sasl_client_feed(&c, "REJECTED EXTERNAL\r\n", 20, &used), -EACCES);
        sasl_client_request(&c, 0, true, req);
        CHECK_EQ(sasl_client_feed(&c, "OK short\r\n", 10, &used), -EPROTO);
        sasl_client_request(&c, 0, true, req);
        CHECK_EQ(sasl_client_feed(&c, "DATA\r\n", 6, &used), -EPROTO);
        sasl_client_request(&c, 0, true, req);
        static const char then_junk[] = "OK 0123456789abcdef0123456789abcdef\r\nWHAT\r\n";
        CHECK_EQ(sasl_client_feed(&c, then_junk, sizeof(then_junk) - 1, &used), -EPROTO);
        char endless[300];
        memset(endless, 'x', sizeof(endless));
        sasl_client_request(&c, 0, true, req);
        CHECK_EQ(sasl_client_feed(&c, endless, sizeof(endless), &used), -EPROTO);
}

/*
 * A plain bus knows the uid it sees (SO_PEERCRED) at once and the uid the peer's own user namespace gives
 * it only after a look at its namespaces: a claim of the first is taken as it comes, any other stops the
 * feed, unconsumed and unanswered, until the bus has decided the second.
 */
static void test_deferred_external_uid(void)
{
        struct sasl_server s;

        /* A host peer: claims the uid the bus sees; nothing is asked of the bus. */
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 1000);
        expect(&s, "AUTH EXTERNAL 31303030\r\n", SASL_CONTINUE, OK_LINE);
        expect(&s, "BEGIN\r\n", SASL_AUTHENTICATED, "");
        CHECK_EQ(sasl_server_get_uid(&s), 1000);

        /* Container root (host uid 100000) claims 0: the line waits for the bus's decision, then passes. */
        static const char opening[] = "AUTH EXTERNAL 30\r\nBEGIN\r\n";
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 100000);
        CHECK_EQ(FEED(&s, opening), SASL_NEED_UID);
        CHECK_EQ(consumed, 0u);
        CHECK_EQ(out_len, 0u);
        CHECK_EQ(FEED(&s, opening), SASL_NEED_UID); /* asking again changes nothing */
        CHECK_EQ(consumed, 0u);
        sasl_server_set_external_uid(&s, 0);
        CHECK_EQ(FEED(&s, opening), SASL_AUTHENTICATED);
        CHECK_EQ(consumed, sizeof(opening) - 1);
        CHECK_STREQ(out, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 0);

        /* Lines before the one that waits are answered and consumed; the rest waits with it. */
        static const char two[] = "AUTH BOGUS\r\nAUTH EXTERNAL 35\r\n";
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 100000);
        CHECK_EQ(FEED(&s, two), SASL_NEED_UID);
        CHECK_EQ(consumed, strlen("AUTH BOGUS\r\n"));
        CHECK_STREQ(out, "REJECTED EXTERNAL\r\n");
        /* A claim that is neither uid: rejected once decided; the uid the bus sees stays acceptable. */
        sasl_server_set_external_uid(&s, 0);
        expect(&s, "AUTH EXTERNAL 35\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL 313030303030\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 100000);

        /* An empty claim means external_uid, so it waits too, in AUTH as in the DATA that follows. */
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 1000);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL\r\n"), SASL_NEED_UID);
        CHECK_EQ(consumed, 0u);
        sasl_server_set_external_uid(&s, 1000);
        expect(&s, "AUTH EXTERNAL\r\n", SASL_CONTINUE, "DATA\r\n");
        expect(&s, "DATA\r\n", SASL_CONTINUE, OK_LINE);
        CHECK_EQ(sasl_server_get_uid(&s), 1000);

        /* The peer's own namespace gives it no uid: only the uid the bus sees will do. */
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 100000);
        CHECK_EQ(FEED(&s, "AUTH EXTERNAL 30\r\n"), SASL_NEED_UID);
        sasl_server_set_external_uid(&s, NO_UID);
        expect(&s, "AUTH EXTERNAL 30\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
        expect(&s, "AUTH EXTERNAL 313030303030\r\n", SASL_CONTINUE, OK_LINE);

        /* A malformed claim is refused without asking the bus anything. */
        start(&s, NO_UID, true, false, false);
        sasl_server_defer_external_uid(&s, 1000);
        expect(&s, "AUTH EXTERNAL 3x\r\n", SASL_CONTINUE, "ERROR \"Invalid hex encoding\"\r\n");
        expect(&s, "AUTH EXTERNAL 2d31\r\n", SASL_CONTINUE, "REJECTED EXTERNAL\r\n");
}

int main(void)
{
        test_external();
        test_external_empty_identity();
        test_hex_and_uid_strictness();
        test_anonymous();
        test_mechanisms_and_errors();
        test_cancel();
        test_unix_fd();
        test_begin_before_ok();
        test_too_many_rejections();
        test_framing_violations();
        test_pipelined();
        test_chunking();
        test_out_buffer();
        test_client();
        test_deferred_external_uid();
        return 0;
}
