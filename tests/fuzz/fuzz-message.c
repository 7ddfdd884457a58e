/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message parser and validator (lib/message.c) and the body reader (lib/marshal.c), fed the bytes of one
 * message as a peer sends them, in either byte order.
 *
 * The validator is the only line of defence: msg_reader, message_parse_args() and message_stamp() trust
 * validated bytes and do no bounds checks of their own. So beyond "no crash, no leak" this checks that every
 * message that parses reads back completely (each value, each container, ending exactly at the end of the
 * body), and that its stamped header followed by the original body parses again into the same message.
 *
 * A mutated input rarely keeps the body length in the fixed header consistent with its own size, so each
 * input runs a second time with that field rewritten to fit, which lets mutations reach the body validator.
 */
#include <errno.h>

#include "errors.h"
#include "fuzz.h"
#include "message.h"
#include "util.h"
#include "wire.h"

/* Reads every value at the reader's current level, and below. */
static void fuzz_read_level(struct msg_reader *r)
{
        char t;

        while ((t = msg_reader_peek(r)) != 0) {
                if (t == 'a' || t == '(' || t == '{' || t == 'v') {
                        FUZZ_CHECK(msg_reader_enter(r, t, NULL) == 0);
                        fuzz_read_level(r);
                        FUZZ_CHECK(msg_reader_exit(r) == 0);
                        continue;
                }

                union {
                        uint8_t y;
                        uint16_t q;
                        uint32_t u;
                        uint64_t t;
                        int i;
                        const char *s;
                } v;
                FUZZ_CHECK(msg_reader_read_basic(r, t, &v) == 0);
                switch (t) {
                case 's':
                        FUZZ_CHECK(utf8_validate(v.s, strlen(v.s)));
                        break;
                case 'o':
                        FUZZ_CHECK(dbus_validate_object_path(v.s, strlen(v.s)));
                        break;
                case 'g':
                        FUZZ_CHECK(signature_validate(v.s, strlen(v.s)));
                        break;
                case 'b':
                        FUZZ_CHECK(v.i == 0 || v.i == 1);
                        break;
                case 'h':
                        FUZZ_CHECK(v.i == -1); /* the placeholder fds attached below */
                        break;
                }
        }
}

/* Two independent walks over the body, by value and by skipping, must both end exactly at its end. */
static void fuzz_read_body(const struct message *m)
{
        struct msg_reader r;

        msg_reader_init(&r, m);
        fuzz_read_level(&r);
        FUZZ_CHECK(r.depth == 0 && r.pos == m->body_size);

        msg_reader_init(&r, m);
        while (msg_reader_peek(&r))
                FUZZ_CHECK(msg_reader_skip(&r) == 0);
        FUZZ_CHECK(r.pos == m->body_size);
}

/* The one-call reader for the signatures the bus driver reads with it. */
static void fuzz_read_known_signature(const struct message *m)
{
        const char *s1, *s2;
        uint32_t u;
        const char **strv = NULL;

        if (streq(m->signature, "s"))
                FUZZ_CHECK(message_read(m, "s", &s1) == 0);
        else if (streq(m->signature, "su"))
                FUZZ_CHECK(message_read(m, "su", &s1, &u) == 0);
        else if (streq(m->signature, "ss"))
                FUZZ_CHECK(message_read(m, "ss", &s1, &s2) == 0);
        else if (streq(m->signature, "as")) {
                FUZZ_CHECK(message_read(m, "as", &strv) == 0);
                for (const char **p = strv; *p; p++)
                        FUZZ_CHECK(utf8_validate(*p, strlen(*p)));
                free(strv);
        }
}

/* message_parse_args() (what match rules read) must point at the same strings the reader finds. */
static void fuzz_check_args(struct message *m)
{
        struct msg_reader r;
        unsigned n = 0;

        FUZZ_CHECK(message_parse_args(m) == 0);
        msg_reader_init(&r, m);
        for (char t; (t = msg_reader_peek(&r)) != 0 && n < MESSAGE_MAX_MATCH_ARGS; n++) {
                char at;
                const char *a = message_arg(m, n, &at);
                if (t == 's' || t == 'o' || t == 'g') {
                        const char *s;
                        FUZZ_CHECK(msg_reader_read_basic(&r, t, &s) == 0);
                        FUZZ_CHECK(at == t && a == s);
                } else {
                        FUZZ_CHECK(msg_reader_skip(&r) == 0);
                        FUZZ_CHECK(at == 0 && !a);
                }
        }
        FUZZ_CHECK(m->n_args == n);
}

/* What the bus forwards (a fresh header, the original body) is a valid message saying the same. */
static void fuzz_check_stamp(struct message *m, const char *sender)
{
        _cleanup_message_ struct message *s = NULL;
        uint8_t *copy;
        size_t size;
        int r;

        r = message_stamp(m, sender);
        if (r == -ENOMEM || r == -E2BIG)
                return;
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(streq_ptr(m->stamped_sender, sender));

        size = m->out_header_size + m->body_size;
        copy = malloc(size);
        if (!copy)
                return;
        memcpy(copy, m->out_header, m->out_header_size);
        memcpy(copy + m->out_header_size, m->data + m->body_offset, m->body_size);
        r = message_new_from_data(copy, size, &s);
        if (r == -ENOMEM)
                return;
        FUZZ_CHECK(r == 0);

        FUZZ_CHECK(s->big_endian == m->big_endian && s->type == m->type && s->flags == m->flags);
        FUZZ_CHECK(s->serial == m->serial && s->reply_serial == m->reply_serial);
        FUZZ_CHECK(s->n_unix_fds == m->n_unix_fds && s->body_size == m->body_size);
        FUZZ_CHECK(streq_ptr(s->path, m->path) && streq_ptr(s->interface, m->interface));
        FUZZ_CHECK(streq_ptr(s->member, m->member) && streq_ptr(s->error_name, m->error_name));
        FUZZ_CHECK(streq_ptr(s->destination, m->destination) && streq(s->signature, m->signature));
        FUZZ_CHECK(streq_ptr(s->sender, sender));
        FUZZ_CHECK(memcmp(s->data + s->body_offset, m->data + m->body_offset, m->body_size) == 0);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
        _cleanup_message_ struct message *m = NULL;
        uint8_t *copy;
        size_t total;
        int r;

        /* message_new_from_data() takes a malloc'd buffer of exactly the message, as the socket reader
         * hands it over; a copy of that size lets ASan see any read past the end. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return;
        memcpy(copy, data, size);
        r = message_new_from_data(copy, size, &m);
        if (r < 0) {
                /* Every refusal names the rule that was broken. */
                FUZZ_CHECK(error_is_invalid_message(r) || r == -ENOMEM);
                return;
        }
        FUZZ_CHECK(message_peek_size(m->data, &total) == 0 && total == size);

        /* The socket reader attaches exactly the announced fds; -1 stands in for them (never closed). */
        if (m->n_unix_fds > 0) {
                int *fds = malloc(m->n_unix_fds * sizeof(int));
                if (!fds)
                        return;
                for (size_t i = 0; i < m->n_unix_fds; i++)
                        fds[i] = -1;
                message_attach_fds(m, fds, m->n_unix_fds);
        }

        fuzz_read_body(m);
        fuzz_read_known_signature(m);
        fuzz_check_args(m);
        fuzz_check_stamp(m, ":1.42");
        fuzz_check_stamp(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_message(data, size);

        /* Again with the body length made to fit, if the fixed header allows that. */
        if (size >= DBUS_MINIMUM_HEADER_SIZE && (data[0] == 'l' || data[0] == 'B')) {
                bool be = data[0] == 'B';
                uint64_t body_offset = 16 + ALIGN8((uint64_t)wire_u32(data + 12, be));

                if (body_offset <= size && size - body_offset <= UINT32_MAX &&
                    wire_u32(data + 4, be) != size - body_offset) {
                        _cleanup_free_ uint8_t *fixed = malloc(size);
                        if (!fixed)
                                return 0;
                        memcpy(fixed, data, size);
                        wire_put_u32(fixed + 4, (uint32_t)(size - body_offset), be);
                        fuzz_message(fixed, size);
                }
        }
        return 0;
}
