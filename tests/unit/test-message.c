/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Message parsing and validation (lib/message.c, lib/validate.c): the header
 * of real messages marshalled by GLib and libdbus in both byte orders
 * (data/wire/wire-samples.h, from gen-messages.py), the forwarding header
 * message_stamp() builds, the argN view for match rules, and one minimal
 * message per rule the validator enforces. Every reject case is built from
 * the same raw writer as an accepted twin that differs only in the defect, so
 * a reject test cannot pass because the message was broken in some other way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>

#include "data/wire/wire-samples.h"
#include "message.h"
#include "test.h"
#include "util.h"
#include "wire.h"

/* ---- a raw writer for hand-made messages, in either byte order ---- */

#define RAW_MAX 16384

struct raw {
        uint8_t buf[RAW_MAX];
        size_t n;
        bool be;
};

static void raw_init(struct raw *r, bool be)
{
        r->n = 0;
        r->be = be;
}

static void raw_pad(struct raw *r, unsigned a)
{
        while (r->n % a)
                r->buf[r->n++] = 0;
}

static void raw_bytes(struct raw *r, const void *p, size_t n)
{
        CHECK(r->n + n <= RAW_MAX);
        memcpy(r->buf + r->n, p, n);
        r->n += n;
}

static void raw_u8(struct raw *r, uint8_t v)
{
        raw_bytes(r, &v, 1);
}

static void raw_u16(struct raw *r, uint16_t v)
{
        raw_pad(r, 2);
        v = r->be ? htobe16(v) : htole16(v);
        raw_bytes(r, &v, 2);
}

static void raw_u32(struct raw *r, uint32_t v)
{
        raw_pad(r, 4);
        v = r->be ? htobe32(v) : htole32(v);
        raw_bytes(r, &v, 4);
}

static void raw_u64(struct raw *r, uint64_t v)
{
        raw_pad(r, 8);
        v = r->be ? htobe64(v) : htole64(v);
        raw_bytes(r, &v, 8);
}

/* A string ('s' or 'o') of n bytes, which may contain anything, plus the NUL. */
static void raw_strn(struct raw *r, const char *s, size_t n)
{
        raw_u32(r, (uint32_t)n);
        raw_bytes(r, s, n);
        raw_u8(r, 0);
}

static void raw_str(struct raw *r, const char *s)
{
        raw_strn(r, s, strlen(s));
}

static void raw_sig(struct raw *r, const char *s)
{
        raw_u8(r, (uint8_t)strlen(s));
        raw_bytes(r, s, strlen(s) + 1);
}

/* A header field whose variant has signature sig; the caller writes the value. */
static void field_begin(struct raw *r, uint8_t code, const char *sig)
{
        raw_pad(r, 8);
        raw_u8(r, code);
        raw_sig(r, sig);
}

static void field_str(struct raw *r, uint8_t code, char t, const char *s)
{
        char sig[2] = {t, 0};
        field_begin(r, code, sig);
        if (t == 'g')
                raw_sig(r, s);
        else
                raw_str(r, s);
}

static void field_u32(struct raw *r, uint8_t code, uint32_t v)
{
        field_begin(r, code, "u");
        raw_u32(r, v);
}

/* Header + fields + padding + body. */
static void raw_message(struct raw *out, bool be, uint8_t type, uint8_t flags, uint32_t serial,
                        const struct raw *fields, const struct raw *body)
{
        raw_init(out, be);
        raw_u8(out, be ? 'B' : 'l');
        raw_u8(out, type);
        raw_u8(out, flags);
        raw_u8(out, 1);
        raw_u32(out, body ? (uint32_t)body->n : 0);
        raw_u32(out, serial);
        raw_u32(out, (uint32_t)fields->n);
        raw_bytes(out, fields->buf, fields->n);
        raw_pad(out, 8);
        if (body)
                raw_bytes(out, body->buf, body->n);
}

static int parse_bytes(const uint8_t *p, size_t n, struct message **ret)
{
        uint8_t *copy = malloc(n + 1);
        CHECK(copy);
        memcpy(copy, p, n);
        return message_new_from_data(copy, n, ret);
}

/* What a peer receives for m: its outgoing header followed by its body, parsed (0 or a parse error). */
static int parse_as_sent(const struct message *m, struct message **ret)
{
        size_t n = m->out_header_size + m->body_size;
        uint8_t *wire = malloc(n + 1);
        CHECK(wire);
        memcpy(wire, m->out_header, m->out_header_size);
        memcpy(wire + m->out_header_size, m->data + m->body_offset, m->body_size);
        return message_new_from_data(wire, n, ret);
}

/* Parse and drop: only the verdict matters. */
static int parse_raw(const struct raw *r)
{
        struct message *m = NULL;
        int ret = parse_bytes(r->buf, r->n, &m);
        if (ret >= 0) {
                CHECK(m);
                message_unref(m);
        }
        return ret;
}

/* A method call to /p member M with the given body, optionally announcing unix_fds fds. */
static int parse_call(bool be, const char *sig, const struct raw *body, uint32_t unix_fds)
{
        struct raw f, msg;
        raw_init(&f, be);
        field_str(&f, FIELD_PATH, 'o', "/p");
        field_str(&f, FIELD_MEMBER, 's', "M");
        if (sig[0])
                field_str(&f, FIELD_SIGNATURE, 'g', sig);
        if (unix_fds)
                field_u32(&f, FIELD_UNIX_FDS, unix_fds);
        raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, body);
        return parse_raw(&msg);
}

/* ---- walking header fields of wire bytes (to see what message_stamp() wrote) ---- */

/* Counts the header fields of wire bytes, and the unknown ones and SENDERs among them. */
static unsigned count_fields(const uint8_t *p, unsigned *n_unknown, unsigned *n_sender, const char **sender)
{
        bool be = p[0] == 'B';
        size_t end = 16 + wire_u32(p + 12, be), pos = 16;
        unsigned n = 0;

        *n_unknown = *n_sender = 0;
        while (pos < end) {
                pos = ALIGN8(pos);
                uint8_t code = p[pos++];
                const char *sig = (const char *)p + pos + 1;
                const char *s = sig;
                pos += 1 + p[pos] + 1;
                if (code > FIELD_MAX_KNOWN)
                        (*n_unknown)++;
                if (code == FIELD_SENDER) {
                        (*n_sender)++;
                        *sender = (const char *)p + ALIGN_TO(pos, 4) + 4;
                }
                pos = wire_skip_value(p, pos, &s, be);
                n++;
        }
        CHECK_EQ(pos, end);
        return n;
}

/* ---- real messages from GLib and libdbus ---- */

/* Named when a check fails while looking at a sample (CHECK exits; atexit handlers run). */
static const char *current_sample;
static void report_sample(void)
{
        if (current_sample)
                fprintf(stderr, "  (while checking sample %s)\n", current_sample);
}

static void check_fields(const struct message *m, const struct wire_sample *w, const char *sender)
{
        CHECK_EQ(m->big_endian, w->big_endian);
        CHECK_EQ(m->type, w->type);
        CHECK_EQ(m->flags, w->flags);
        CHECK_EQ(m->serial, w->serial);
        CHECK_EQ(m->reply_serial, w->reply_serial);
        CHECK_EQ(m->body_size, w->body_size);
        CHECK_EQ(m->n_unix_fds, w->n_unix_fds);
        CHECK(streq_ptr(m->path, w->path));
        CHECK(streq_ptr(m->interface, w->interface));
        CHECK(streq_ptr(m->member, w->member));
        CHECK(streq_ptr(m->error_name, w->error_name));
        CHECK(streq_ptr(m->destination, w->destination));
        CHECK(streq_ptr(m->sender, sender));
        CHECK_STREQ(m->signature, w->signature);
}

/* The fixed header's rules, each broken alone in a valid message: the code names that rule, and its text
 * is what the bus logs when a peer breaks it. */
static void test_header_rules_have_their_codes(void)
{
        const struct wire_sample *w = &wire_samples[0];
        static const struct {
                size_t offset;
                uint8_t value;
                int expect;
        } cases[] = {
                {0, 'x', -ERR_MSG_ENDIAN},
                {3, 2, -ERR_MSG_VERSION},
                {1, 0, -ERR_MSG_TYPE},
                {8, 0, -ERR_MSG_SERIAL}, /* serial 0 (with the three bytes after it) */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint8_t *p = malloc(w->size + 1);
                CHECK(p);
                memcpy(p, w->data, w->size);
                p[cases[i].offset] = cases[i].value;
                if (cases[i].expect == -ERR_MSG_SERIAL)
                        memset(p + 8, 0, 4);
                struct message *m = NULL;
                CHECK_EQ(message_new_from_data(p, w->size, &m), cases[i].expect);
                CHECK(!m);
                CHECK(error_is_invalid_message(cases[i].expect));
                CHECK(strstr(error_name(cases[i].expect), "ERR_MSG_") == error_name(cases[i].expect));
        }
        CHECK_STREQ(error_text(-ERR_MSG_SERIAL), "its serial is 0");
        CHECK_STREQ(error_name(-EBADMSG), "EBADMSG");
        CHECK(!error_is_invalid_message(-EBADMSG));
        CHECK(!error_is_invalid_message(-ERR_LIMIT_QUEUE));
        /* Every code of the table has a name and a text. */
        for (int e = NSBUS_ERROR_FIRST; e < NSBUS_ERROR_END; e++) {
                CHECK(strncmp(error_name(-e), "ERR_", 4) == 0);
                CHECK(error_text(-e) && strlen(error_text(-e)) > 10);
        }
}

static void test_samples_parse(void)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = NULL;
                size_t total = 0;

                current_sample = w->name;
                CHECK_EQ(message_peek_size(w->data, &total), 0);
                CHECK_EQ(total, w->size);
                CHECK_EQ(parse_bytes(w->data, w->size, &m), 0);
                check_fields(m, w, w->sender);
                CHECK_EQ(m->body_offset + m->body_size, w->size);
                CHECK_EQ(m->body_offset % 8, 0);
                CHECK_EQ(m->n_ref, 1);

                unsigned n_unknown, n_sender;
                const char *s = NULL;
                count_fields(w->data, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_unknown, w->n_unknown_fields);
                CHECK_EQ(n_sender, w->sender ? 1 : 0);

                /* Every shorter prefix and one extra byte must be rejected: the size is the header's. */
                struct message *bad = NULL;
                CHECK_EQ(parse_bytes(w->data, w->size - 1, &bad), -ERR_MSG_SIZE);
                CHECK_EQ(parse_bytes(w->data, DBUS_MINIMUM_HEADER_SIZE - 1, &bad), -ERR_MSG_SIZE);
                uint8_t *longer = zalloc(w->size + 8);
                CHECK(longer);
                memcpy(longer, w->data, w->size);
                CHECK_EQ(message_new_from_data(longer, w->size + 8, &bad), -ERR_MSG_SIZE);
                CHECK(!bad);
                message_unref(m);
        }
}

static void test_samples_stamp(void)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = NULL, *m2 = NULL;
                unsigned n_unknown, n_sender;
                const char *s = NULL;

                current_sample = w->name;
                CHECK_EQ(parse_bytes(w->data, w->size, &m), 0);
                CHECK_EQ(message_stamp(m, ":1.42"), 0);
                CHECK(m->out_header);
                CHECK(m->out_header != m->data);
                CHECK_EQ(m->out_header_size % 8, 0);
                CHECK_STREQ(m->stamped_sender, ":1.42");
                CHECK((const uint8_t *)m->stamped_sender > m->out_header &&
                      (const uint8_t *)m->stamped_sender < m->out_header + m->out_header_size);
                /* The forwarding header keeps the sender's byte order: the body is not rewritten. */
                CHECK_EQ(m->out_header[0], w->data[0]);

                /* Idempotent for the same sender: the same buffer, not a new one. */
                const uint8_t *first = m->out_header;
                CHECK_EQ(message_stamp(m, ":1.42"), 0);
                CHECK(m->out_header == first);

                count_fields(m->out_header, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_unknown, 0);
                CHECK_EQ(n_sender, 1);
                CHECK_STREQ(s, ":1.42");

                /* What a peer receives parses back to the same message with the bus's SENDER. */
                CHECK_EQ(parse_as_sent(m, &m2), 0);
                check_fields(m2, w, ":1.42");
                CHECK_EQ(m2->body_offset, m->out_header_size);
                CHECK(memcmp(m2->data + m2->body_offset, w->data + w->size - w->body_size, w->body_size) ==
                      0);
                message_unref(m2);

                /* A different sender is a new header; NULL keeps no SENDER at all. */
                CHECK_EQ(message_stamp(m, ":1.43"), 0);
                CHECK_STREQ(m->stamped_sender, ":1.43");
                count_fields(m->out_header, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_sender, 1);
                CHECK_STREQ(s, ":1.43");
                CHECK_EQ(message_stamp(m, NULL), 0);
                CHECK(!m->stamped_sender);
                count_fields(m->out_header, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_sender, 0);
                CHECK_EQ(parse_as_sent(m, &m2), 0);
                check_fields(m2, w, NULL);
                message_unref(m2);
                message_unref(m);
        }
}

/* The GLib/libdbus samples' top-level s/o/g arguments as message_parse_args() sees them. */
static void test_samples_args(void)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = NULL;
                struct msg_reader r;
                unsigned n = 0;

                current_sample = w->name;
                CHECK_EQ(parse_bytes(w->data, w->size, &m), 0);
                CHECK_EQ(message_parse_args(m), 0);
                CHECK(m->args_parsed);
                msg_reader_init(&r, m);
                for (char t; (t = msg_reader_peek(&r)); n++) {
                        CHECK(n < MESSAGE_MAX_MATCH_ARGS);
                        char at;
                        const char *a = message_arg(m, n, &at);
                        if (t == 's' || t == 'o' || t == 'g') {
                                const char *s;
                                CHECK_EQ(msg_reader_read_basic(&r, t, &s), 0);
                                CHECK_EQ(at, t);
                                CHECK(a == s);
                        } else {
                                CHECK_EQ(at, 0);
                                CHECK(!a);
                                CHECK_EQ(msg_reader_skip(&r), 0);
                        }
                }
                CHECK_EQ(m->n_args, n);
                message_unref(m);
        }
}

/* message_new_copy(): the message owns its copy (the source can go), lazily parsed arguments work in
 * the allocation it shares with the struct, and a relay keeps that allocation alive past the original. */
static void test_copy(void)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = NULL, *ref = NULL;

                current_sample = w->name;
                uint8_t *src = malloc(w->size);
                CHECK(src);
                memcpy(src, w->data, w->size);
                CHECK_EQ(message_new_copy(src, w->size, &m), 0);
                memset(src, 0xa5, w->size);
                free(src);
                check_fields(m, w, w->sender);
                CHECK(memcmp(m->data, w->data, w->size) == 0);
                CHECK(m->member == NULL ||
                      (m->member > (const char *)m->data && m->member < (const char *)m->data + m->size));

                /* The argument cache is written only by message_parse_args(), and then agrees with a
                 * message parsed the other way. */
                CHECK(!m->args_parsed);
                CHECK_EQ(message_parse_args(m), 0);
                CHECK_EQ(parse_bytes(w->data, w->size, &ref), 0);
                CHECK_EQ(message_parse_args(ref), 0);
                CHECK_EQ(m->n_args, ref->n_args);
                for (unsigned a = 0; a < m->n_args; a++) {
                        char t1, t2;
                        CHECK(streq_ptr(message_arg(m, a, &t1), message_arg(ref, a, &t2)));
                        CHECK_EQ(t1, t2);
                }
                message_unref(ref);

                /* The first stamp of a plain header goes into the room after the bytes; a sender too
                 * long for it, or a second stamp, gets an allocation of its own. */
                const uint8_t *room = m->data + ALIGN8(m->size + 1);
                CHECK(m->header_room > 0);
                CHECK_EQ(message_stamp(m, ":1.9"), 0);
                CHECK_EQ(m->out_header == room, m->header_plain);
                CHECK(m->out_header_size <= m->header_room || !m->header_plain);
                CHECK_EQ(message_stamp(m, ":1.10"), 0);
                CHECK(m->out_header != room);
                CHECK_STREQ(m->stamped_sender, ":1.10");
                struct message *again = NULL;
                CHECK_EQ(message_new_copy(w->data, w->size, &again), 0);
                const char *long_name = ":1.2345678901234567890123456789012345";
                CHECK_EQ(message_stamp(again, long_name), 0);
                CHECK(again->out_header != again->data + ALIGN8(again->size + 1));
                CHECK_STREQ(again->stamped_sender, long_name);
                message_unref(again);

                struct message *out = NULL;
                CHECK_EQ(message_new_relay(m, 7, 0, ":1.9", &out), 0);
                CHECK(out->body_owner == m);
                message_unref(m);
                CHECK(memcmp(out->data, w->data, w->size) == 0);
                message_unref(out);

                /* A size that is not the header's is refused, and nothing is kept. */
                struct message *bad = NULL;
                CHECK_EQ(message_new_copy(w->data, w->size - 1, &bad), -ERR_MSG_SIZE);
                CHECK(!bad);
        }
}

/* A call whose body is an "ay" of n bytes of fill, built to wire bytes (*ret, freed by the caller). */
static size_t bytes_call(size_t n, uint8_t fill, uint8_t **ret)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, 7);
        b.path = "/";
        b.interface = "com.example.Bench";
        b.member = "Work";
        b.destination = ":1.4";
        uint8_t *payload = malloc(n);
        CHECK(payload);
        memset(payload, fill, n);
        CHECK(msg_builder_append_bytes(&b, payload, n) >= 0);
        free(payload);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        *ret = malloc(m->size);
        CHECK(*ret);
        memcpy(*ret, m->data, m->size);
        size_t size = m->size;
        message_unref(m);
        return size;
}

/* message_new_copy() reuses a block that message_unref() kept when the next message is about its size,
 * and then the message is all its own: nothing of the last one shows through. */
static void test_copy_reuses_blocks(void)
{
        uint8_t *call4k, *call3k, *call60k, *call1k;
        size_t n4k = bytes_call(4096, 0x11, &call4k), n3k = bytes_call(3900, 0x22, &call3k);
        size_t n60k = bytes_call(60 * 1024, 0x33, &call60k), n1k = bytes_call(200, 0x44, &call1k);
        struct message *a, *b, *c;

        CHECK_EQ(message_new_copy(call4k, n4k, &a), 0);
        CHECK_EQ(message_parse_args(a), 0);
        CHECK_EQ(message_stamp(a, ":1.9"), 0);
        void *block = a;
        message_unref(a);
        CHECK_EQ(message_new_copy(call3k, n3k, &b), 0);
#if defined(NSBUS_ASAN)
        fprintf(stderr, "test_copy_reuses_blocks: skipped the reuse checks: nothing is kept under ASan\n");
        (void)block;
#else
        CHECK(b == block);
#endif
        CHECK(!b->args_parsed && !b->stamped_sender && b->size == n3k && b->body_size == 3900 + 4);
        CHECK(memcmp(b->data, call3k, n3k) == 0);
        CHECK_EQ(message_stamp(b, ":1.10"), 0);
        CHECK_STREQ(b->stamped_sender, ":1.10");
        message_unref(b);

        /* A 60 KiB block is kept, and is not lent to a 4 KiB message for as long as that one lives. */
        CHECK_EQ(message_new_copy(call60k, n60k, &c), 0);
        block = c;
        message_unref(c);
        CHECK_EQ(message_new_copy(call4k, n4k, &a), 0);
        CHECK(a != block);
        CHECK_EQ(message_new_copy(call60k, n60k, &c), 0);
#if !defined(NSBUS_ASAN)
        CHECK(c == block);
#endif
        CHECK(memcmp(c->data, call60k, n60k) == 0);
        message_unref(c);
        message_unref(a);

        /* Blocks of 1 KiB or less, struct and room included, are kept by size class (128 bytes): a
         * pipelining client keeps more of one size in flight than glibc's thread cache holds (7). Up to 32
         * in all; when they are all taken, the fullest class gives one up for the block just freed. Under
         * ASan nothing is kept, so that a use after free is still caught. */
        uint8_t *call40;
        size_t n40 = bytes_call(40, 0x55, &call40);
        struct message *many[40], *other[40];
        for (size_t i = 0; i < ELEMENTSOF(many); i++) {
                CHECK_EQ(message_new_copy(call1k, n1k, &many[i]), 0);
                CHECK_EQ(message_new_copy(call40, n40, &other[i]), 0);
        }
#if !defined(NSBUS_ASAN)
        CHECK(many[0]->block_size > 0 && many[0]->block_size <= 1024 && many[0]->block_size % 128 == 0);
        CHECK(other[0]->block_size > 0 && other[0]->block_size < many[0]->block_size); /* another class */
#else
        CHECK_EQ(many[0]->block_size, 0);
#endif
        size_t small, big;
        CHECK_EQ(message_new_copy(call1k, n1k, &a), 0);
        message_unref(a);
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                message_unref(many[i]);
        message_blocks_kept(&small, &big);
#if !defined(NSBUS_ASAN)
        CHECK_EQ(small, 32); /* 41 freed: at most 32 kept, all of this class now */
        /* The next ones of the size are kept blocks, reset. */
        CHECK_EQ(message_new_copy(call1k, n1k, &a), 0);
        message_blocks_kept(&small, &big);
        CHECK_EQ(small, 31);
        CHECK(memcmp(a->data, call1k, n1k) == 0 && a->n_ref == 1 && !a->args_parsed && !a->out_header);
        CHECK_EQ(message_parse_args(a), 0);
        CHECK_EQ(message_stamp(a, ":1.9"), 0);
        message_unref(a);
        CHECK_EQ(message_new_copy(call1k, n1k, &a), 0);
        CHECK(!a->args_parsed && !a->out_header && !a->stamped_sender);
        message_unref(a);
        /* Another size now: its blocks take the place of the first class's. */
        for (size_t i = 0; i < ELEMENTSOF(other); i++)
                message_unref(other[i]);
        message_blocks_kept(&small, &big);
        CHECK_EQ(small, 32);
        for (size_t i = 0; i < 32; i++) {
                CHECK_EQ(message_new_copy(call40, n40, &other[i]), 0);
                message_blocks_kept(&small, &big);
                CHECK_EQ(small, 31 - i);
        }
        for (size_t i = 0; i < 32; i++)
                message_unref(other[i]);
#else
        CHECK_EQ(small + big, 0);
        for (size_t i = 0; i < ELEMENTSOF(other); i++)
                message_unref(other[i]);
        message_blocks_kept(&small, &big);
        CHECK_EQ(small + big, 0);
#endif
        free(call4k);
        free(call3k);
        free(call60k);
        free(call1k);
        free(call40);
}

/* A few values spelled out, so a wrong dump generator cannot hide a wrong reader. */
static void test_samples_values(void)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                bool max = strstr(w->name, "-call-basic-max") != NULL;
                if (!max && !strstr(w->name, "-call-basic-min"))
                        continue;
                struct message *m = NULL;
                uint8_t y;
                int b;
                int16_t nn;
                uint16_t q;
                int32_t ii;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s, *o, *g;

                CHECK_EQ(parse_bytes(w->data, w->size, &m), 0);
                CHECK_EQ(message_read(m, "ybnqiuxtdsog", &y, &b, &nn, &q, &ii, &u, &x, &t, &d, &s, &o, &g),
                         0);
                if (max) {
                        CHECK_EQ(y, 255);
                        CHECK_EQ(b, 1);
                        CHECK_EQ(nn, INT16_MAX);
                        CHECK_EQ(q, UINT16_MAX);
                        CHECK_EQ(ii, INT32_MAX);
                        CHECK_EQ(u, UINT32_MAX);
                        CHECK(x == INT64_MAX);
                        CHECK(t == UINT64_MAX);
                        CHECK(d == 1.7976931348623157e308);
                        CHECK(strncmp(s, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9d\x84\x9e", 22) ==
                              0);
                        CHECK(strstr(s, "\xf4\x8f\xbf\xbf")); /* U+10FFFF */
                        CHECK_STREQ(o, "/org/example/Obj_1/x9");
                        CHECK_STREQ(g, "a{sv}(ii)aah");
                } else {
                        uint64_t bits;
                        CHECK_EQ(y, 0);
                        CHECK_EQ(b, 0);
                        CHECK_EQ(nn, INT16_MIN);
                        CHECK_EQ(q, 0);
                        CHECK_EQ(ii, INT32_MIN);
                        CHECK_EQ(u, 0);
                        CHECK(x == INT64_MIN);
                        CHECK(t == 0);
                        memcpy(&bits, &d, 8);
                        CHECK(bits == 0x8000000000000000ULL); /* -0.0 */
                        CHECK_STREQ(s, "");
                        CHECK_STREQ(o, "/");
                        CHECK_STREQ(g, "");
                }
                /* The signature must match exactly. */
                CHECK_EQ(message_read(m, "ybnqiuxtdso", &y, &b, &nn, &q, &ii, &u, &x, &t, &d, &s, &o),
                         -ENXIO);
                message_unref(m);
        }
}

/* ---- stamping hand-made messages ---- */

/* A header of known fields and no SENDER (what libdbus, sd-bus and GLib send) is kept byte for byte: the
 * stamp appends SENDER and changes only the fields' length; without a sender, the received header goes
 * out itself. A SENDER from the client, or an unknown field, makes the stamp write the header anew. */
static void test_stamp_keeps_plain_header(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw f, body, msg;
                struct message *m = NULL, *m2 = NULL;

                raw_init(&f, be);
                raw_init(&body, be);
                field_str(&f, FIELD_PATH, 'o', "/a/b");
                field_str(&f, FIELD_INTERFACE, 's', "a.b");
                field_str(&f, FIELD_MEMBER, 's', "Call");
                field_str(&f, FIELD_DESTINATION, 's', "org.example.Dest");
                field_str(&f, FIELD_SIGNATURE, 'g', "s");
                raw_str(&body, "payload");
                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 7, &f, &body);
                size_t hsize = msg.n - body.n;

                CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
                CHECK(m->header_plain);
                CHECK_EQ(message_stamp(m, ":1.12345"), 0);
                CHECK(m->out_header != m->data);
                /* The received fields unchanged, then SENDER: only bytes 12..15 (the fields' length)
                 * differ. */
                CHECK(memcmp(m->out_header, msg.buf, 12) == 0);
                CHECK(memcmp(m->out_header + 16, msg.buf + 16, hsize - 16) == 0);
                CHECK_EQ(m->out_header[hsize], FIELD_SENDER);
                CHECK_STREQ(m->stamped_sender, ":1.12345");
                CHECK_EQ(m->out_header_size % 8, 0);
                for (size_t i = hsize + 8 + strlen(":1.12345") + 1; i < m->out_header_size; i++)
                        CHECK_EQ(m->out_header[i], 0);

                CHECK_EQ(parse_as_sent(m, &m2), 0);
                CHECK_EQ(m2->big_endian, be);
                CHECK_EQ(m2->serial, 7);
                CHECK_STREQ(m2->sender, ":1.12345");
                CHECK_STREQ(m2->destination, "org.example.Dest");
                CHECK_STREQ(m2->member, "Call");
                CHECK(!m2->header_plain); /* it has a SENDER now */
                const char *text;
                CHECK_EQ(message_read(m2, "s", &text), 0);
                CHECK_STREQ(text, "payload");
                message_unref(m2);

                /* No sender: the header as received, not a copy. */
                CHECK_EQ(message_stamp(m, NULL), 0);
                CHECK(m->out_header == m->data);
                CHECK_EQ(m->out_header_size, m->body_offset);
                CHECK(!m->stamped_sender);
                message_unref(m);

                /* A sender at the limit of the header's length is refused, not written past it. */
                char *long_sender = malloc(DBUS_MAXIMUM_ARRAY_LENGTH + 1);
                CHECK(long_sender);
                memset(long_sender, 'a', DBUS_MAXIMUM_ARRAY_LENGTH);
                long_sender[DBUS_MAXIMUM_ARRAY_LENGTH] = 0;
                CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
                CHECK_EQ(message_stamp(m, long_sender), -E2BIG);
                CHECK(!m->out_header);
                message_unref(m);
                free(long_sender);

                /* A client's own SENDER: not plain, so the stamp replaces it rather than adding a
                 * second. */
                field_str(&f, FIELD_SENDER, 's', ":1.666");
                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 8, &f, &body);
                CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
                CHECK(!m->header_plain);
                unsigned n_unknown, n_sender;
                const char *sender = NULL;
                CHECK_EQ(message_stamp(m, ":1.2"), 0);
                count_fields(m->out_header, &n_unknown, &n_sender, &sender);
                CHECK_EQ(n_sender, 1);
                CHECK_STREQ(sender, ":1.2");
                message_unref(m);
        }
}

static void test_stamp_drops_unknown_and_spoofed(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw f, body, msg;
                struct message *m = NULL, *m2 = NULL;
                unsigned n_unknown, n_sender;
                const char *s = NULL;

                raw_init(&f, be);
                raw_init(&body, be);
                field_str(&f, FIELD_PATH, 'o', "/a/b");
                field_begin(&f, 10, "s"); /* unknown, between known fields */
                raw_str(&f, "unknown-ten");
                field_str(&f, FIELD_INTERFACE, 's', "a.b");
                field_str(&f, FIELD_MEMBER, 's', "Sig");
                field_str(&f, FIELD_SENDER, 's', ":1.666"); /* what the client claims */
                field_begin(&f, 200, "at");
                raw_u32(&f, 16);
                raw_u64(&f, 1);
                raw_u64(&f, 2);
                field_str(&f, FIELD_DESTINATION, 's', "org.example.Dest");
                field_str(&f, FIELD_SIGNATURE, 'g', "u");
                field_u32(&f, FIELD_UNIX_FDS, 0);
                field_begin(&f, 11, "v");
                raw_sig(&f, "y");
                raw_u8(&f, 9);
                raw_u32(&body, 0xfeedbeef);
                raw_message(&msg, be, MESSAGE_SIGNAL, MESSAGE_FLAG_NO_REPLY_EXPECTED, 99, &f, &body);

                CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
                CHECK_STREQ(m->sender, ":1.666");
                CHECK_STREQ(m->path, "/a/b");
                CHECK_STREQ(m->destination, "org.example.Dest");
                count_fields(msg.buf, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_unknown, 3);

                CHECK_EQ(message_stamp(m, ":1.7"), 0);
                count_fields(m->out_header, &n_unknown, &n_sender, &s);
                CHECK_EQ(n_unknown, 0);
                CHECK_EQ(n_sender, 1);
                CHECK_STREQ(s, ":1.7");
                CHECK_EQ(m->out_header[0], be ? 'B' : 'l');

                CHECK_EQ(parse_as_sent(m, &m2), 0);
                CHECK_EQ(m2->big_endian, be);
                CHECK_EQ(m2->type, MESSAGE_SIGNAL);
                CHECK_EQ(m2->flags, MESSAGE_FLAG_NO_REPLY_EXPECTED);
                CHECK_EQ(m2->serial, 99);
                CHECK_STREQ(m2->path, "/a/b");
                CHECK_STREQ(m2->interface, "a.b");
                CHECK_STREQ(m2->member, "Sig");
                CHECK_STREQ(m2->sender, ":1.7");
                CHECK_STREQ(m2->destination, "org.example.Dest");
                CHECK_STREQ(m2->signature, "u");
                CHECK_EQ(m2->body_size, 4);
                uint32_t v;
                CHECK_EQ(message_read(m2, "u", &v), 0);
                CHECK_EQ(v, 0xfeedbeef);
                /* The header is compact: path, interface, member, destination, sender, signature only. */
                CHECK_EQ(count_fields(m->out_header, &n_unknown, &n_sender, &s), 6);
                message_unref(m2);
                message_unref(m);
        }
}

/* ---- message_parse_args ---- */

static void test_parse_args(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw body;
                struct raw f, msg;
                struct message *m = NULL;
                const char *sig = "ysaydoxgva{sv}(so)sbhiog";

                raw_init(&body, be);
                raw_u8(&body, 1);        /* y */
                raw_str(&body, "first"); /* s */
                raw_u32(&body, 3);       /* ay */
                raw_bytes(&body, "abc", 3);
                raw_u64(&body, 0);           /* d */
                raw_str(&body, "/obj/path"); /* o */
                raw_u64(&body, 5);           /* x */
                raw_sig(&body, "a(ii)");     /* g */
                raw_sig(&body, "s");         /* v */
                raw_str(&body, "in-variant");
                raw_u32(&body, 0); /* a{sv}: empty, padded to 8 */
                raw_pad(&body, 8); /* (so) */
                raw_str(&body, "in-struct");
                raw_str(&body, "/s");
                raw_str(&body, "");           /* s: empty */
                raw_u32(&body, 1);            /* b */
                raw_u32(&body, 0);            /* h */
                raw_u32(&body, (uint32_t)-1); /* i */
                raw_str(&body, "/");          /* o */
                raw_sig(&body, "");           /* g: empty */

                raw_init(&f, be);
                field_str(&f, FIELD_PATH, 'o', "/p");
                field_str(&f, FIELD_MEMBER, 's', "M");
                field_str(&f, FIELD_SIGNATURE, 'g', sig);
                field_u32(&f, FIELD_UNIX_FDS, 1);
                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, &body);
                CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
                CHECK(!m->args_parsed);
                CHECK_EQ(message_parse_args(m), 0);
                CHECK_EQ(m->n_args, 16);
                static const char types[] = {0, 's', 0, 0, 'o', 0, 'g', 0, 0, 0, 's', 0, 0, 0, 'o', 'g'};
                static const char *const values[] = {NULL,    "first", NULL, NULL, "/obj/path", NULL,
                                                     "a(ii)", NULL,    NULL, NULL, "",          NULL,
                                                     NULL,    NULL,    "/",  ""};
                /* 16 arguments: the first MESSAGE_CACHED_ARGS from the index, the rest from the body. */
                for (unsigned i = 0; i < 16; i++) {
                        char t;
                        const char *a = message_arg(m, i, &t);
                        CHECK_EQ(t, types[i]);
                        if (values[i])
                                CHECK_STREQ(a, values[i]);
                        else
                                CHECK(!a);
                }
                char t;
                CHECK(!message_arg(m, 16, &t));
                CHECK_EQ(t, 0);
                /* Lazily, once: a second call keeps the same pointers. */
                const char *a1 = message_arg(m, 1, &t);
                CHECK_EQ(message_parse_args(m), 0);
                CHECK(message_arg(m, 1, &t) == a1);
                message_unref(m);
        }

        /* More than MESSAGE_MAX_MATCH_ARGS arguments: the first 64 are indexed. */
        struct raw body, f, msg;
        char sig[80];
        struct message *m = NULL;
        raw_init(&body, false);
        for (unsigned i = 0; i < 70; i++) {
                char s[8];
                snprintf(s, sizeof(s), "a%u", i);
                raw_str(&body, s);
                sig[i] = 's';
        }
        sig[70] = 0;
        raw_init(&f, false);
        field_str(&f, FIELD_PATH, 'o', "/p");
        field_str(&f, FIELD_MEMBER, 's', "M");
        field_str(&f, FIELD_SIGNATURE, 'g', sig);
        raw_message(&msg, false, MESSAGE_METHOD_CALL, 0, 1, &f, &body);
        CHECK_EQ(parse_bytes(msg.buf, msg.n, &m), 0);
        CHECK_EQ(message_parse_args(m), 0);
        CHECK_EQ(m->n_args, MESSAGE_MAX_MATCH_ARGS);
        char t;
        CHECK_STREQ(message_arg(m, 0, &t), "a0");
        CHECK_STREQ(message_arg(m, 63, &t), "a63");
        CHECK_EQ(t, 's');
        CHECK(!message_arg(m, 64, &t));
        message_unref(m);
}

/* ---- validation: the fixed header ---- */

static void test_reject_fixed_header(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw f, msg;
                size_t total;

                raw_init(&f, be);
                field_str(&f, FIELD_PATH, 'o', "/p");
                field_str(&f, FIELD_MEMBER, 's', "M");
                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, NULL);
                CHECK_EQ(parse_raw(&msg), 0);
                CHECK_EQ(message_peek_size(msg.buf, &total), 0);
                CHECK_EQ(total, msg.n);

                /* Byte order mark */
                static const uint8_t bad_marks[] = {'b', 'L', 'x', 0, 0xff};
                for (size_t i = 0; i < sizeof(bad_marks); i++) {
                        struct raw c = msg;
                        c.buf[0] = bad_marks[i];
                        CHECK_INVALID(message_peek_size(c.buf, &total));
                        CHECK_INVALID(parse_raw(&c));
                }
                /* Protocol version */
                static const uint8_t bad_versions[] = {0, 2, 0xff};
                for (size_t i = 0; i < sizeof(bad_versions); i++) {
                        struct raw c = msg;
                        c.buf[3] = bad_versions[i];
                        CHECK_INVALID(message_peek_size(c.buf, &total));
                        CHECK_INVALID(parse_raw(&c));
                }
                /* Serial 0 */
                struct raw c;
                raw_message(&c, be, MESSAGE_METHOD_CALL, 0, 0, &f, NULL);
                CHECK_INVALID(parse_raw(&c));
                raw_message(&c, be, MESSAGE_METHOD_CALL, 0, UINT32_MAX, &f, NULL);
                CHECK_EQ(parse_raw(&c), 0);
                /* Type 0 is never valid. Types 5.. are unknown: the spec says to ignore them, so they parse
                 * (with no required fields) and the bus refuses to route them. */
                raw_message(&c, be, 0, 0, 1, &f, NULL);
                CHECK_INVALID(parse_raw(&c));
                static const uint8_t unknown_types[] = {5, 6, 0xff};
                for (size_t i = 0; i < sizeof(unknown_types); i++) {
                        raw_message(&c, be, unknown_types[i], 0, 1, &f, NULL);
                        CHECK_EQ(parse_raw(&c), 0);
                }
                /* Unknown flags are ignored (spec: "must be ignored"), not rejected. */
                raw_message(&c, be, MESSAGE_METHOD_CALL, 0xf8, 1, &f, NULL);
                CHECK_EQ(parse_raw(&c), 0);
                /* Header field array running past the message */
                c = msg;
                wire_put_u32(c.buf + 12, (uint32_t)f.n + 8, be);
                CHECK_INVALID(parse_raw(&c));
                /* Header field length ending inside a field */
                c = msg;
                wire_put_u32(c.buf + 12, (uint32_t)f.n - 1, be);
                CHECK_INVALID(parse_raw(&c));
                /* Body length announcing more than there is */
                c = msg;
                wire_put_u32(c.buf + 4, 4, be);
                CHECK_INVALID(parse_raw(&c));
        }
}

/* Buffers shorter than the fixed header, allocated at exactly their size (ASan sees any overread). */
static void test_short_buffers(void)
{
        static const uint8_t hdr[16] = {'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
        for (size_t n = 0; n < DBUS_MINIMUM_HEADER_SIZE; n++) {
                struct message *m = NULL;
                uint8_t *p = malloc(n);
                CHECK(p || n == 0);
                if (n)
                        memcpy(p, hdr, n);
                CHECK_INVALID(message_new_from_data(p, n, &m));
                CHECK(!m);
        }
}

static void test_peek_size(void)
{
        for (int be = 0; be <= 1; be++) {
                uint8_t h[16] = {be ? 'B' : 'l', 1, 0, 1};
                size_t total = 0;

                /* 16 + 16 + body == 128 MiB exactly is the largest message. */
                wire_put_u32(h + 12, 16, be);
                wire_put_u32(h + 4, DBUS_MAXIMUM_MESSAGE_LENGTH - 32, be);
                CHECK_EQ(message_peek_size(h, &total), 0);
                CHECK_EQ(total, DBUS_MAXIMUM_MESSAGE_LENGTH);
                wire_put_u32(h + 4, DBUS_MAXIMUM_MESSAGE_LENGTH - 31, be);
                CHECK_INVALID(message_peek_size(h, &total));
                /* Unaligned field length: the body starts at the next multiple of 8. */
                wire_put_u32(h + 12, 9, be);
                wire_put_u32(h + 4, DBUS_MAXIMUM_MESSAGE_LENGTH - 32, be);
                CHECK_EQ(message_peek_size(h, &total), 0);
                CHECK_EQ(total, DBUS_MAXIMUM_MESSAGE_LENGTH);
                wire_put_u32(h + 4, 5, be);
                CHECK_EQ(message_peek_size(h, &total), 0);
                CHECK_EQ(total, 16 + 16 + 5);
                /* Lengths that would overflow 32 bits */
                wire_put_u32(h + 4, UINT32_MAX, be);
                CHECK_INVALID(message_peek_size(h, &total));
                wire_put_u32(h + 4, 0, be);
                wire_put_u32(h + 12, UINT32_MAX, be);
                CHECK_INVALID(message_peek_size(h, &total));
                wire_put_u32(h + 12, DBUS_MAXIMUM_ARRAY_LENGTH + 1, be);
                CHECK_INVALID(message_peek_size(h, &total));
        }
}

/* ---- validation: header fields ---- */

enum {
        OMIT_PATH = 1 << 0,
        OMIT_INTERFACE = 1 << 1,
        OMIT_MEMBER = 1 << 2,
        OMIT_ERROR_NAME = 1 << 3,
        OMIT_REPLY_SERIAL = 1 << 4,
};

static int parse_typed(bool be, uint8_t type, unsigned omit)
{
        struct raw f, msg;
        raw_init(&f, be);
        if (!(omit & OMIT_PATH))
                field_str(&f, FIELD_PATH, 'o', "/p");
        if (!(omit & OMIT_INTERFACE))
                field_str(&f, FIELD_INTERFACE, 's', "a.b");
        if (!(omit & OMIT_MEMBER))
                field_str(&f, FIELD_MEMBER, 's', "M");
        if (!(omit & OMIT_ERROR_NAME))
                field_str(&f, FIELD_ERROR_NAME, 's', "a.b.Error");
        if (!(omit & OMIT_REPLY_SERIAL))
                field_u32(&f, FIELD_REPLY_SERIAL, 5);
        raw_message(&msg, be, type, 0, 1, &f, NULL);
        return parse_raw(&msg);
}

static void test_reject_missing_fields(void)
{
        for (int be = 0; be <= 1; be++) {
                const unsigned all =
                        OMIT_PATH | OMIT_INTERFACE | OMIT_MEMBER | OMIT_ERROR_NAME | OMIT_REPLY_SERIAL;

                CHECK_EQ(parse_typed(be, MESSAGE_METHOD_CALL, all & ~(OMIT_PATH | OMIT_MEMBER)), 0);
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_CALL, all & ~OMIT_MEMBER));
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_CALL, all & ~OMIT_PATH));
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_CALL, OMIT_PATH));
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_CALL, OMIT_MEMBER));

                CHECK_EQ(parse_typed(be, MESSAGE_SIGNAL, all & ~(OMIT_PATH | OMIT_INTERFACE | OMIT_MEMBER)),
                         0);
                CHECK_INVALID(parse_typed(be, MESSAGE_SIGNAL, OMIT_INTERFACE));
                CHECK_INVALID(parse_typed(be, MESSAGE_SIGNAL, OMIT_PATH));
                CHECK_INVALID(parse_typed(be, MESSAGE_SIGNAL, OMIT_MEMBER));

                CHECK_EQ(parse_typed(be, MESSAGE_ERROR, all & ~(OMIT_ERROR_NAME | OMIT_REPLY_SERIAL)), 0);
                CHECK_INVALID(parse_typed(be, MESSAGE_ERROR, OMIT_ERROR_NAME));
                CHECK_INVALID(parse_typed(be, MESSAGE_ERROR, OMIT_REPLY_SERIAL));

                CHECK_EQ(parse_typed(be, MESSAGE_METHOD_RETURN, all & ~OMIT_REPLY_SERIAL), 0);
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_RETURN, OMIT_REPLY_SERIAL));
                CHECK_INVALID(parse_typed(be, MESSAGE_METHOD_RETURN, all));

                /* REPLY_SERIAL 0 is no reply serial. */
                struct raw f, msg;
                raw_init(&f, be);
                field_u32(&f, FIELD_REPLY_SERIAL, 0);
                raw_message(&msg, be, MESSAGE_METHOD_RETURN, 0, 1, &f, NULL);
                CHECK_INVALID(parse_raw(&msg));
        }
}

/* One header field (code, variant signature, value) on top of a valid method call. */
struct field_case {
        const char *what;
        uint8_t code;
        const char *sig;
        const char *str; /* for s/o/g */
        uint32_t u;      /* for u, and for anything else: written as u32 */
        int expect;
};

static int parse_call_with_field(bool be, const struct field_case *c)
{
        struct raw f, msg;
        raw_init(&f, be);
        /* Path and member, unless this case is about one of them. */
        if (c->code != FIELD_PATH)
                field_str(&f, FIELD_PATH, 'o', "/p");
        if (c->code != FIELD_MEMBER)
                field_str(&f, FIELD_MEMBER, 's', "M");
        field_begin(&f, c->code, c->sig);
        switch (c->sig[0]) {
        case 's':
        case 'o':
                raw_str(&f, c->str);
                break;
        case 'g':
                raw_sig(&f, c->str);
                break;
        case 'y':
                raw_u8(&f, (uint8_t)c->u);
                break;
        default:
                raw_u32(&f, c->u);
        }
        raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, NULL);
        return parse_raw(&msg);
}

static void test_reject_header_fields(void)
{
        static const struct field_case cases[] = {
                /* accepted twins */
                {"path ok", FIELD_PATH, "o", "/a/b_c/D9", 0, 0},
                {"interface ok", FIELD_INTERFACE, "s", "a.b.C_9", 0, 0},
                {"member ok", FIELD_MEMBER, "s", "_Mem9", 0, 0},
                {"destination unique ok", FIELD_DESTINATION, "s", ":1.42", 0, 0},
                {"destination well-known ok", FIELD_DESTINATION, "s", "org.ex-ample.X", 0, 0},
                {"sender ok", FIELD_SENDER, "s", ":1.0", 0, 0},
                {"signature ok", FIELD_SIGNATURE, "g", "", 0, 0},
                {"error name on a call is allowed", FIELD_ERROR_NAME, "s", "a.b", 0, 0},
                {"unix fds ok", FIELD_UNIX_FDS, "u", NULL, 3, 0},
                {"unix fds max", FIELD_UNIX_FDS, "u", NULL, DBUS_MAXIMUM_UNIX_FDS, 0},
                {"unknown field code 10 (s)", 10, "s", "whatever", 0, 0},
                {"unknown field code 255 (u)", 255, "u", NULL, 7, 0},
                /* wrong variant types */
                {"path as s", FIELD_PATH, "s", "/p", 0, -ERR_MSG_FIELD_TYPE},
                {"member as o", FIELD_MEMBER, "o", "/M", 0, -ERR_MSG_FIELD_TYPE},
                {"interface as g", FIELD_INTERFACE, "g", "s", 0, -ERR_MSG_FIELD_TYPE},
                {"reply serial as i", FIELD_REPLY_SERIAL, "i", NULL, 5, -ERR_MSG_FIELD_TYPE},
                {"unix fds as s", FIELD_UNIX_FDS, "s", "1", 0, -ERR_MSG_FIELD_TYPE},
                {"signature as s", FIELD_SIGNATURE, "s", "", 0, -ERR_MSG_FIELD_TYPE},
                {"destination as o", FIELD_DESTINATION, "o", "/a", 0, -ERR_MSG_FIELD_TYPE},
                {"sender as y", FIELD_SENDER, "y", NULL, 1, -ERR_MSG_FIELD_TYPE},
                {"field with two types", FIELD_MEMBER, "ss", "M", 0, -ERR_MSG_FIELD},
                {"field with invalid variant signature", 10, "(", NULL, 0, -ERR_MSG_FIELD},
                {"field with empty variant signature", 10, "", NULL, 0, -ERR_MSG_FIELD},
                {"field code 0", 0, "s", "x", 0, -ERR_MSG_FIELD_CODE},
                /* invalid names */
                {"path empty", FIELD_PATH, "o", "", 0, -ERR_MSG_FIELD},
                {"path relative", FIELD_PATH, "o", "a/b", 0, -ERR_MSG_FIELD},
                {"path trailing slash", FIELD_PATH, "o", "/a/", 0, -ERR_MSG_FIELD},
                {"path double slash", FIELD_PATH, "o", "/a//b", 0, -ERR_MSG_FIELD},
                {"path dash", FIELD_PATH, "o", "/a-b", 0, -ERR_MSG_FIELD},
                {"path dot", FIELD_PATH, "o", "/a.b", 0, -ERR_MSG_FIELD},
                {"interface one element", FIELD_INTERFACE, "s", "ab", 0, -ERR_MSG_INTERFACE},
                {"interface empty element", FIELD_INTERFACE, "s", "a..b", 0, -ERR_MSG_INTERFACE},
                {"interface leading digit", FIELD_INTERFACE, "s", "a.9b", 0, -ERR_MSG_INTERFACE},
                {"interface dash", FIELD_INTERFACE, "s", "a.b-c", 0, -ERR_MSG_INTERFACE},
                {"interface trailing dot", FIELD_INTERFACE, "s", "a.b.", 0, -ERR_MSG_INTERFACE},
                {"member with dot", FIELD_MEMBER, "s", "a.b", 0, -ERR_MSG_MEMBER},
                {"member leading digit", FIELD_MEMBER, "s", "9a", 0, -ERR_MSG_MEMBER},
                {"member empty", FIELD_MEMBER, "s", "", 0, -ERR_MSG_MEMBER},
                {"member dash", FIELD_MEMBER, "s", "a-b", 0, -ERR_MSG_MEMBER},
                {"error name one element", FIELD_ERROR_NAME, "s", "Failed", 0, -ERR_MSG_ERROR_NAME},
                {"destination one element", FIELD_DESTINATION, "s", "org", 0, -ERR_MSG_BUS_NAME},
                {"destination colon alone", FIELD_DESTINATION, "s", ":", 0, -ERR_MSG_BUS_NAME},
                {"destination leading digit", FIELD_DESTINATION, "s", "org.9x", 0, -ERR_MSG_BUS_NAME},
                {"destination space", FIELD_DESTINATION, "s", "org.e x", 0, -ERR_MSG_BUS_NAME},
                {"sender empty element", FIELD_SENDER, "s", ":1..2", 0, -ERR_MSG_BUS_NAME},
                {"sender not a name", FIELD_SENDER, "s", "/p", 0, -ERR_MSG_BUS_NAME},
                {"signature invalid", FIELD_SIGNATURE, "g", "a", 0, -ERR_MSG_FIELD},
                {"signature unbalanced", FIELD_SIGNATURE, "g", "(i", 0, -ERR_MSG_FIELD},
                {"signature bare dict entry", FIELD_SIGNATURE, "g", "{ss}", 0, -ERR_MSG_FIELD},
                {"signature unknown code", FIELD_SIGNATURE, "g", "z", 0, -ERR_MSG_FIELD},
                {"unix fds above the limit", FIELD_UNIX_FDS, "u", NULL, DBUS_MAXIMUM_UNIX_FDS + 1,
                 -ERR_MSG_UNIX_FDS},
                {"unknown field with invalid UTF-8", 10, "s", "\xc0\x80", 0, -ERR_MSG_FIELD},
                {"unknown field with invalid path", 12, "o", "//", 0, -ERR_MSG_FIELD},
        };
        for (int be = 0; be <= 1; be++)
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        int r = parse_call_with_field(be, &cases[i]);
                        if (r != cases[i].expect)
                                fprintf(stderr, "header field case \"%s\" (%s): got %d, expected %d\n",
                                        cases[i].what, be ? "BE" : "LE", r, cases[i].expect);
                        CHECK_EQ(r, cases[i].expect);
                }
}

/*
 * The spec reserves /org/freedesktop/DBus/Local and org.freedesktop.DBus.Local
 * ("the reference implementation of the bus daemon will disconnect any
 * application that attempts to [send them]"); libdbus refuses them while
 * validating the header (DBUS_INVALID_USES_LOCAL_PATH / _INTERFACE), so a
 * bus that forwards them hands libdbus peers a message they drop the
 * connection over.
 */
static void test_reject_local_path_interface(void)
{
        for (int be = 0; be <= 1; be++) {
                static const struct field_case cases[] = {
                        {"path /org/freedesktop/DBus is fine", FIELD_PATH, "o", "/org/freedesktop/DBus", 0,
                         0},
                        {"path /org/freedesktop/DBus/Local", FIELD_PATH, "o", "/org/freedesktop/DBus/Local",
                         0, -ERR_MSG_LOCAL},
                        {"interface org.freedesktop.DBus.Local", FIELD_INTERFACE, "s",
                         "org.freedesktop.DBus.Local", 0, -ERR_MSG_LOCAL},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        int r = parse_call_with_field(be, &cases[i]);
                        if (r != cases[i].expect)
                                fprintf(stderr, "case \"%s\" (%s): got %d, expected %d\n", cases[i].what,
                                        be ? "BE" : "LE", r, cases[i].expect);
                        CHECK_EQ(r, cases[i].expect);
                }
        }
}

/* The limits are usable in any expression. */
static void test_limits(void)
{
        CHECK_EQ(DBUS_MAXIMUM_MESSAGE_LENGTH, 134217728);
        CHECK_EQ(DBUS_MAXIMUM_ARRAY_LENGTH, 67108864);
        CHECK_EQ(DBUS_MAXIMUM_UNIX_FDS, 16384);
        CHECK_EQ(32768u / DBUS_MAXIMUM_UNIX_FDS, 2);
        CHECK_EQ(100000u % DBUS_MAXIMUM_UNIX_FDS, 100000u - 6u * 16384u);
}

static void test_reject_duplicate_fields(void)
{
        for (int be = 0; be <= 1; be++) {
                static const uint8_t codes[] = {FIELD_PATH,         FIELD_INTERFACE, FIELD_MEMBER,
                                                FIELD_DESTINATION,  FIELD_SENDER,    FIELD_SIGNATURE,
                                                FIELD_REPLY_SERIAL, FIELD_UNIX_FDS,  FIELD_ERROR_NAME};
                for (size_t i = 0; i < sizeof(codes); i++)
                        for (int dup = 0; dup <= 1; dup++) {
                                struct raw f, msg;
                                raw_init(&f, be);
                                field_str(&f, FIELD_PATH, 'o', "/p");
                                field_str(&f, FIELD_MEMBER, 's', "M");
                                for (int k = 0; k < (dup ? 2 : 1); k++)
                                        switch (codes[i]) {
                                        case FIELD_PATH:
                                                if (dup)
                                                        field_str(&f, FIELD_PATH, 'o', "/q");
                                                break;
                                        case FIELD_MEMBER:
                                                if (dup)
                                                        field_str(&f, FIELD_MEMBER, 's', "N");
                                                break;
                                        case FIELD_INTERFACE:
                                                field_str(&f, FIELD_INTERFACE, 's', "a.b");
                                                break;
                                        case FIELD_ERROR_NAME:
                                                field_str(&f, FIELD_ERROR_NAME, 's', "a.b");
                                                break;
                                        case FIELD_DESTINATION:
                                                field_str(&f, FIELD_DESTINATION, 's', "a.b");
                                                break;
                                        case FIELD_SENDER:
                                                field_str(&f, FIELD_SENDER, 's', ":1.1");
                                                break;
                                        case FIELD_SIGNATURE:
                                                field_str(&f, FIELD_SIGNATURE, 'g', "");
                                                break;
                                        default:
                                                field_u32(&f, codes[i], 1);
                                        }
                                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, NULL);
                                CHECK_EQ(parse_raw(&msg), dup ? -ERR_MSG_FIELD_TWICE : 0);
                        }
        }
}

static void test_reject_header_padding(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw f, msg, c;
                raw_init(&f, be);
                field_str(&f, FIELD_PATH, 'o', "/p");    /* ends at 16+4+4+3 = 27: 5 padding bytes */
                field_str(&f, FIELD_MEMBER, 's', "Mem"); /* ends unaligned: padding before the body */
                raw_message(&msg, be, MESSAGE_METHOD_CALL, 0, 1, &f, NULL);
                CHECK_EQ(parse_raw(&msg), 0);
                CHECK(msg.n > 16 + f.n); /* there is padding before the (empty) body */

                for (size_t i = 16 + 11; i < 16 + 16; i++) { /* between PATH and MEMBER */
                        c = msg;
                        CHECK_EQ(c.buf[i], 0);
                        c.buf[i] = 1;
                        CHECK_INVALID(parse_raw(&c));
                }
                c = msg;
                c.buf[msg.n - 1] = 1; /* after the fields, before the body */
                CHECK_INVALID(parse_raw(&c));
                c = msg;
                c.buf[16 + 1] = 0; /* empty variant signature at the first field */
                CHECK_INVALID(parse_raw(&c));
        }
}

/* ---- validation: the body ---- */

static void test_reject_body_size(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw b;
                raw_init(&b, be);
                raw_u32(&b, 7);
                CHECK_EQ(parse_call(be, "u", &b, 0), 0);
                CHECK_EQ(parse_call(be, "", &b, 0), -ERR_MSG_BODY_LENGTH); /* body without signature */
                CHECK_EQ(parse_call(be, "uu", &b, 0), -ERR_MSG_BODY);      /* shorter than the signature */
                CHECK_INVALID(parse_call(be, "t", &b, 0));
                raw_u8(&b, 0);
                CHECK_EQ(parse_call(be, "u", &b, 0), -ERR_MSG_BODY_LENGTH); /* one byte longer */
                CHECK_EQ(parse_call(be, "uy", &b, 0), 0);
                b.n = 3;
                CHECK_INVALID(parse_call(be, "u", &b, 0));
                CHECK_INVALID(parse_call(be, "q", &b, 0));

                raw_init(&b, be);
                raw_str(&b, "abc");
                CHECK_EQ(parse_call(be, "s", &b, 0), 0);
                b.n--; /* no room for the NUL */
                CHECK_INVALID(parse_call(be, "s", &b, 0));
        }
}

static void test_reject_body_padding(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw b;

                /* y then u: 3 padding bytes */
                raw_init(&b, be);
                raw_u8(&b, 1);
                raw_u32(&b, 2);
                CHECK_EQ(parse_call(be, "yu", &b, 0), 0);
                for (size_t i = 1; i < 4; i++) {
                        struct raw c = b;
                        c.buf[i] = 0x80;
                        CHECK_INVALID(parse_call(be, "yu", &c, 0));
                }
                /* y then n: one padding byte */
                raw_init(&b, be);
                raw_u8(&b, 1);
                raw_u16(&b, 0x8001);
                CHECK_EQ(b.n, 4);
                CHECK_EQ(parse_call(be, "yn", &b, 0), 0);
                b.buf[1] = 1;
                CHECK_INVALID(parse_call(be, "yn", &b, 0));
                /* y then (y): 7 padding bytes before the struct */
                raw_init(&b, be);
                raw_u8(&b, 1);
                raw_pad(&b, 8);
                raw_u8(&b, 2);
                CHECK_EQ(parse_call(be, "y(y)", &b, 0), 0);
                for (size_t i = 1; i < 8; i++) { /* each of them, wherever it sits in the word */
                        struct raw c = b;
                        c.buf[i] = 1;
                        CHECK_INVALID(parse_call(be, "y(y)", &c, 0));
                }
                /* Empty ax after y: length, then padding to 8 that must be zero even with no elements. */
                raw_init(&b, be);
                raw_u8(&b, 1);
                raw_u32(&b, 0);
                raw_pad(&b, 8);
                CHECK_EQ(b.n, 8);
                CHECK_EQ(parse_call(be, "yax", &b, 0), 0);
                raw_init(&b, be);
                raw_u32(&b, 0);
                raw_pad(&b, 8);
                CHECK_EQ(b.n, 8);
                CHECK_EQ(parse_call(be, "ax", &b, 0), 0);
                b.buf[5] = 1;
                CHECK_INVALID(parse_call(be, "ax", &b, 0));
                /* Empty ax without its padding is a body that is too short, not a valid array. */
                b.n = 4;
                CHECK_INVALID(parse_call(be, "ax", &b, 0));
                /* a{yy}: each entry 8-aligned */
                raw_init(&b, be);
                raw_u32(&b, 10);
                raw_pad(&b, 8);
                raw_u8(&b, 1);
                raw_u8(&b, 2);
                raw_pad(&b, 8);
                raw_u8(&b, 3);
                raw_u8(&b, 4);
                CHECK_EQ(parse_call(be, "a{yy}", &b, 0), 0);
                b.buf[11] = 9; /* padding between the entries */
                CHECK_INVALID(parse_call(be, "a{yy}", &b, 0));
                /* Variant: the value inside is aligned to the body, and its padding checked too */
                raw_init(&b, be);
                raw_sig(&b, "u");
                raw_u32(&b, 1);
                CHECK_EQ(b.n, 8);
                CHECK_EQ(parse_call(be, "v", &b, 0), 0);
                b.buf[3] = 1;
                CHECK_INVALID(parse_call(be, "v", &b, 0));
        }
}

static void test_reject_booleans(void)
{
        for (int be = 0; be <= 1; be++) {
                static const uint32_t values[] = {0, 1, 2, 0x100, 0x01000000, UINT32_MAX};
                for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                        struct raw b;
                        int expect = values[i] <= 1 ? 0 : -ERR_MSG_BODY;
                        raw_init(&b, be);
                        raw_u32(&b, values[i]);
                        CHECK_EQ(parse_call(be, "b", &b, 0), expect);
                        /* ... inside an array, after a valid element */
                        raw_init(&b, be);
                        raw_u32(&b, 8);
                        raw_u32(&b, 1);
                        raw_u32(&b, values[i]);
                        CHECK_EQ(parse_call(be, "ab", &b, 0), expect);
                        /* ... inside a variant */
                        raw_init(&b, be);
                        raw_sig(&b, "b");
                        raw_u32(&b, values[i]);
                        CHECK_EQ(parse_call(be, "v", &b, 0), expect);
                }
        }
}

static int parse_string(bool be, char t, const char *s, size_t n)
{
        struct raw b;
        char sig[2] = {t, 0};
        raw_init(&b, be);
        if (t == 'g') {
                raw_u8(&b, (uint8_t)n);
                raw_bytes(&b, s, n);
                raw_u8(&b, 0);
        } else {
                raw_strn(&b, s, n);
        }
        return parse_call(be, sig, &b, 0);
}
#define PARSE_STRING(be, t, lit) parse_string((be), (t), (lit), sizeof(lit) - 1)

static void test_reject_strings(void)
{
        for (int be = 0; be <= 1; be++) {
                CHECK_EQ(PARSE_STRING(be, 's', ""), 0);
                CHECK_EQ(PARSE_STRING(be, 's', "plain ascii, long enough for the 8-byte path"), 0);
                CHECK_EQ(PARSE_STRING(be, 's',
                                      "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
                                      "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
                         0);
                /* Interior NUL, at every position of an 8-byte run and in a short tail */
                CHECK_INVALID(PARSE_STRING(be, 's', "a\0b"));
                CHECK_INVALID(PARSE_STRING(be, 's', "abcdefg\0"));
                CHECK_INVALID(PARSE_STRING(be, 's', "\0bcdefgh"));
                CHECK_INVALID(PARSE_STRING(be, 's', "abcdefghijklmno\0p"));
                CHECK_INVALID(PARSE_STRING(be, 'o', "/a\0b"));
                CHECK_INVALID(PARSE_STRING(be, 'g', "i\0i"));
                /* Invalid UTF-8 */
                CHECK_EQ(PARSE_STRING(be, 's', "\xc0\x80"), -ERR_MSG_BODY);             /* overlong NUL */
                CHECK_EQ(PARSE_STRING(be, 's', "\xc1\xbf"), -ERR_MSG_BODY);             /* overlong 2-byte */
                CHECK_EQ(PARSE_STRING(be, 's', "\xe0\x9f\xbf"), -ERR_MSG_BODY);         /* overlong 3-byte */
                CHECK_EQ(PARSE_STRING(be, 's', "\xf0\x8f\xbf\xbf"), -ERR_MSG_BODY);     /* overlong 4-byte */
                CHECK_EQ(PARSE_STRING(be, 's', "\xed\xa0\x80"), -ERR_MSG_BODY);         /* U+D800 */
                CHECK_EQ(PARSE_STRING(be, 's', "\xed\xbf\xbf"), -ERR_MSG_BODY);         /* U+DFFF */
                CHECK_EQ(PARSE_STRING(be, 's', "\xf4\x90\x80\x80"), -ERR_MSG_BODY);     /* U+110000 */
                CHECK_EQ(PARSE_STRING(be, 's', "\xf7\xbf\xbf\xbf"), -ERR_MSG_BODY);     /* U+1FFFFF */
                CHECK_EQ(PARSE_STRING(be, 's', "\xf8\x88\x80\x80\x80"), -ERR_MSG_BODY); /* 5-byte form */
                CHECK_INVALID(PARSE_STRING(be, 's', "\xfe"));
                CHECK_INVALID(PARSE_STRING(be, 's', "\xff"));
                CHECK_EQ(PARSE_STRING(be, 's', "\x80"), -ERR_MSG_BODY);         /* lone continuation */
                CHECK_EQ(PARSE_STRING(be, 's', "ab\xe2\x82"), -ERR_MSG_BODY);   /* truncated at the end */
                CHECK_EQ(PARSE_STRING(be, 's', "\xe2\x28\xa1"), -ERR_MSG_BODY); /* bad continuation */
                CHECK_EQ(PARSE_STRING(be, 's', "abcdefg\xe9"),
                         -ERR_MSG_BODY); /* high bit in an 8-byte run */
                /* Object paths and signatures in the body are validated like the header's */
                CHECK_EQ(PARSE_STRING(be, 'o', "/a/b"), 0);
                CHECK_INVALID(PARSE_STRING(be, 'o', "/a/"));
                CHECK_INVALID(PARSE_STRING(be, 'o', ""));
                CHECK_EQ(PARSE_STRING(be, 'g', "a{sv}"), 0);
                CHECK_INVALID(PARSE_STRING(be, 'g', "a{vs}"));
                CHECK_INVALID(PARSE_STRING(be, 'g', "aa"));

                /* Missing terminator: the byte after the string is not NUL. */
                struct raw b;
                raw_init(&b, be);
                raw_str(&b, "abc");
                raw_str(&b, "def");
                CHECK_EQ(parse_call(be, "ss", &b, 0), 0);
                b.buf[7] = 'x';
                CHECK_INVALID(parse_call(be, "ss", &b, 0));
                /* String length running past the body */
                raw_init(&b, be);
                raw_u32(&b, 100);
                raw_bytes(&b, "abc", 4);
                CHECK_INVALID(parse_call(be, "s", &b, 0));
                raw_init(&b, be);
                raw_u32(&b, UINT32_MAX);
                raw_bytes(&b, "abc", 4);
                CHECK_INVALID(parse_call(be, "s", &b, 0));
        }
}

static void test_reject_arrays(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw b;
                static const struct {
                        const char *sig;
                        uint32_t len;
                        size_t have;
                        int expect;
                } cases[] = {
                        /* the body ends where the array says: only the element size is wrong */
                        {"ay", 3, 3, 0},
                        {"an", 4, 4, 0},
                        {"an", 3, 3, -ERR_MSG_BODY},
                        {"aq", 1, 1, -ERR_MSG_BODY},
                        {"ai", 8, 8, 0},
                        {"ai", 6, 6, -ERR_MSG_BODY},
                        {"au", 5, 5, -ERR_MSG_BODY},
                        {"ax", 16, 16, 0},
                        {"ax", 12, 12, -ERR_MSG_BODY},
                        {"at", 9, 9, -ERR_MSG_BODY},
                        {"ad", 4, 4, -ERR_MSG_BODY},
                        {"ab", 6, 6, -ERR_MSG_BODY},
                        {"ah", 2, 2, -ERR_MSG_BODY},
                        {"ab", 8, 8, 0},
                        {"ah", 4, 4, 0},
                        /* length beyond the body */
                        {"ay", 5, 3, -ERR_MSG_BODY},
                        {"ai", 12, 8, -ERR_MSG_BODY},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        raw_init(&b, be);
                        raw_u32(&b, cases[i].len);
                        raw_pad(&b, wire_alignment(cases[i].sig[1]));
                        size_t start = b.n;
                        while (b.n < start + cases[i].have)
                                raw_u8(&b, 0);
                        /* the body ends where the array does when the length is right */
                        int r = parse_call(be, cases[i].sig, &b, cases[i].sig[1] == 'h' ? 1 : 0);
                        if (r != cases[i].expect)
                                fprintf(stderr, "array case %s len %u have %zu (%s): got %d\n", cases[i].sig,
                                        cases[i].len, cases[i].have, be ? "BE" : "LE", r);
                        CHECK_EQ(r, cases[i].expect);
                }
                /* The array must end exactly at an element boundary for variable-size elements too. */
                raw_init(&b, be);
                raw_u32(&b, 9);
                raw_str(&b, "ab"); /* 4 + 3 = 7 bytes: len 9 cuts into the padding of the next one */
                raw_u8(&b, 0);
                raw_u8(&b, 0);
                CHECK_INVALID(parse_call(be, "as", &b, 0));
                raw_init(&b, be);
                raw_u32(&b, 7);
                raw_str(&b, "ab");
                CHECK_EQ(parse_call(be, "as", &b, 0), 0);
        }
}

/* 64 MiB of bytes is the largest array; one more is invalid even though it fits in a message. */
static void test_reject_huge_array(void)
{
        for (int be = 0; be <= 1; be++)
                for (uint32_t extra = 0; extra <= 1; extra++) {
                        struct raw f;
                        uint32_t len = DBUS_MAXIMUM_ARRAY_LENGTH + extra;
                        raw_init(&f, be);
                        field_str(&f, FIELD_PATH, 'o', "/p");
                        field_str(&f, FIELD_MEMBER, 's', "M");
                        field_str(&f, FIELD_SIGNATURE, 'g', "ay");
                        size_t hsize = 16 + ALIGN8(f.n), bsize = 4 + (size_t)len;
                        uint8_t *p = calloc(1, hsize + bsize);
                        CHECK(p);
                        p[0] = be ? 'B' : 'l';
                        p[1] = MESSAGE_METHOD_CALL;
                        p[3] = 1;
                        wire_put_u32(p + 4, (uint32_t)bsize, be);
                        wire_put_u32(p + 8, 1, be);
                        wire_put_u32(p + 12, (uint32_t)f.n, be);
                        memcpy(p + 16, f.buf, f.n);
                        wire_put_u32(p + hsize, len, be);
                        struct message *m = NULL;
                        int r = message_new_from_data(p, hsize + bsize, &m);
                        CHECK_EQ(r, extra ? -ERR_MSG_BODY : 0);
                        message_unref(m);
                }
}

static void test_reject_variants(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw b;
                static const char *const bad[] = {"", "ii", "(", "a", "{sv}", "z", "a{vs}", "()"};

                raw_init(&b, be);
                raw_sig(&b, "i");
                raw_u32(&b, 5);
                CHECK_EQ(parse_call(be, "v", &b, 0), 0);
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        raw_init(&b, be);
                        raw_sig(&b, bad[i]);
                        raw_u32(&b, 5);
                        raw_u32(&b, 6);
                        CHECK_INVALID(parse_call(be, "v", &b, 0));
                }
                /* Signature length byte beyond the body */
                raw_init(&b, be);
                raw_u8(&b, 200);
                raw_bytes(&b, "i\0\0\0", 4);
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                /* Value shorter than its type */
                raw_init(&b, be);
                raw_sig(&b, "t");
                raw_u32(&b, 5);
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                /* Invalid value inside (an object path) */
                raw_init(&b, be);
                raw_sig(&b, "o");
                raw_str(&b, "not/a/path");
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                /* Variant holding a handle needs UNIX_FDS like a plain one */
                raw_init(&b, be);
                raw_sig(&b, "h");
                raw_u32(&b, 0);
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                CHECK_EQ(parse_call(be, "v", &b, 1), 0);
        }
}

static void raw_nested_variants(struct raw *b, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                raw_sig(b, "v");
        raw_sig(b, "y");
        raw_u8(b, 42);
}

/* n arrays of one element each, innermost holding a byte. */
static void raw_nested_arrays(struct raw *b, unsigned n)
{
        if (n == 0) {
                raw_u8(b, 7);
                return;
        }
        raw_u32(b, 0);
        size_t len_at = b->n - 4;
        size_t start = b->n;
        raw_nested_arrays(b, n - 1);
        uint32_t len = (uint32_t)(b->n - start);
        len = b->be ? htobe32(len) : htole32(len);
        memcpy(b->buf + len_at, &len, 4);
}

static void test_reject_depth(void)
{
        for (int be = 0; be <= 1; be++) {
                char sig[300];
                struct raw b;

                /* 32 arrays in a signature, then 33 */
                for (unsigned n = 32; n <= 33; n++) {
                        memset(sig, 'a', n);
                        sig[n] = 'y';
                        sig[n + 1] = 0;
                        raw_init(&b, be);
                        raw_nested_arrays(&b, n);
                        CHECK_EQ(parse_call(be, sig, &b, 0), n == 32 ? 0 : -ERR_MSG_FIELD);
                }
                /* 32 structs, then 33 */
                for (unsigned n = 32; n <= 33; n++) {
                        memset(sig, '(', n);
                        sig[n] = 'y';
                        memset(sig + n + 1, ')', n);
                        sig[2 * n + 1] = 0;
                        raw_init(&b, be);
                        raw_u8(&b, 7);
                        CHECK_EQ(parse_call(be, sig, &b, 0), n == 32 ? 0 : -ERR_MSG_FIELD);
                }
                /* Variants: 64 levels in total, like libdbus */
                raw_init(&b, be);
                raw_nested_variants(&b, 63);
                CHECK_EQ(parse_call(be, "v", &b, 0), 0);
                raw_init(&b, be);
                raw_nested_variants(&b, 64);
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                raw_init(&b, be);
                raw_nested_variants(&b, 1000);
                CHECK_INVALID(parse_call(be, "v", &b, 0));
                /* 32 arrays, a variant, and 31 more arrays inside it: 64; 32 more: 65. */
                for (unsigned inner = 31; inner <= 32; inner++) {
                        memset(sig, 'a', 32);
                        strcpy(sig + 32, "v");
                        raw_init(&b, be);
                        size_t lens[32];
                        for (unsigned i = 0; i < 32; i++) {
                                raw_u32(&b, 0);
                                lens[i] = b.n;
                        }
                        char vsig[40];
                        memset(vsig, 'a', inner);
                        vsig[inner] = 'y';
                        vsig[inner + 1] = 0;
                        raw_sig(&b, vsig);
                        raw_nested_arrays(&b, inner);
                        for (unsigned i = 0; i < 32; i++) {
                                uint32_t len = (uint32_t)(b.n - lens[i]);
                                len = be ? htobe32(len) : htole32(len);
                                memcpy(b.buf + lens[i] - 4, &len, 4);
                        }
                        CHECK_EQ(parse_call(be, sig, &b, 0), inner == 31 ? 0 : -ERR_MSG_BODY);
                }
        }
}

static void test_reject_fds(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw b;
                raw_init(&b, be);
                raw_u32(&b, 0);
                CHECK_EQ(parse_call(be, "h", &b, 1), 0);
                CHECK_INVALID(parse_call(be, "h", &b, 0));
                raw_init(&b, be);
                raw_u32(&b, 1);
                CHECK_EQ(parse_call(be, "h", &b, 2), 0);
                CHECK_INVALID(parse_call(be, "h", &b, 1));
                raw_init(&b, be);
                raw_u32(&b, UINT32_MAX);
                CHECK_INVALID(parse_call(be, "h", &b, DBUS_MAXIMUM_UNIX_FDS));
                /* inside an array */
                raw_init(&b, be);
                raw_u32(&b, 8);
                raw_u32(&b, 0);
                raw_u32(&b, 2);
                CHECK_EQ(parse_call(be, "ah", &b, 3), 0);
                CHECK_INVALID(parse_call(be, "ah", &b, 2));
                /* announcing fds without using them is fine */
                raw_init(&b, be);
                CHECK_EQ(parse_call(be, "", &b, 5), 0);
        }
}

/* ---- names ---- */

#define V(fn, lit) fn((lit), sizeof(lit) - 1)

/* The spec's rules for dotted names, spelled out one by one: what the state machine in validate.c must
 * agree with. */
static bool spec_dotted(const char *s, size_t n, bool dash, bool lead_digit)
{
        size_t elements = 0, len = 0;
        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i <= n; i++) {
                if (i == n || s[i] == '.') {
                        if (len == 0)
                                return false;
                        elements++;
                        len = 0;
                        continue;
                }
                char c = s[i];
                bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
                bool digit = c >= '0' && c <= '9';
                if (!letter && !digit && !(dash && c == '-'))
                        return false;
                if (len == 0 && digit && !lead_digit)
                        return false;
                len++;
        }
        return elements >= 2;
}

/* Calls check(s, n) for every string of up to max_len bytes made of alphabet's k characters ('\0' may be
 * one), s NUL-terminated after its n bytes; returns how many there were. */
static size_t each_string(const char *alphabet, size_t k, size_t max_len,
                          void (*check)(const char *s, size_t n))
{
        char s[16];
        size_t count = 0;
        CHECK(max_len < sizeof(s));
        for (size_t n = 0; n <= max_len; n++) {
                size_t total = 1;
                for (size_t i = 0; i < n; i++)
                        total *= k;
                for (size_t v = 0; v < total; v++, count++) {
                        size_t x = v;
                        for (size_t i = 0; i < n; i++, x /= k)
                                s[i] = alphabet[x % k];
                        s[n] = 0;
                        check(s, n);
                }
        }
        return count;
}

static void check_name(const char *s, size_t n)
{
        bool iface = spec_dotted(s, n, false, false);
        bool wk = n > 0 && s[0] != ':' && spec_dotted(s, n, true, false);
        bool uniq = n >= 2 && s[0] == ':' && spec_dotted(s + 1, n - 1, true, true);
        CHECK_EQ(dbus_validate_interface(s, n), iface);
        CHECK_EQ(dbus_validate_error_name(s, n), iface);
        CHECK_EQ(dbus_validate_well_known_name(s, n), wk);
        CHECK_EQ(dbus_validate_unique_name(s, n), uniq);
        CHECK_EQ(dbus_validate_bus_name(s, n), wk || uniq);
}

/* Every string of up to five bytes from the characters that matter (each class, and bytes that are none). */
static void test_names_against_the_rules(void)
{
        static const char alphabet[] = {'a', 'Z', '_', '0', '9', '-', '.', ':', ' ', '\x80', '\0'};
        CHECK_EQ(each_string(alphabet, sizeof(alphabet), 5, check_name),
                 1 + 11 + 121 + 1331 + 14641 + 161051);
}

static void test_names(void)
{
        char big[300];

        /* unique names */
        CHECK(V(dbus_validate_unique_name, ":1.42"));
        CHECK(V(dbus_validate_unique_name, ":a-b.c_d.9"));
        CHECK(!V(dbus_validate_unique_name, ":1"));
        CHECK(!V(dbus_validate_unique_name, ":"));
        CHECK(!V(dbus_validate_unique_name, ":.1"));
        CHECK(!V(dbus_validate_unique_name, ":1..2"));
        CHECK(!V(dbus_validate_unique_name, ":1.2."));
        CHECK(!V(dbus_validate_unique_name, "1.42"));
        CHECK(!V(dbus_validate_unique_name, ":1.4 2"));
        CHECK(V(dbus_validate_bus_name, ":1.42"));

        /* well-known names */
        CHECK(V(dbus_validate_well_known_name, "org.example"));
        CHECK(V(dbus_validate_well_known_name, "org.ex-ample._x9"));
        CHECK(!V(dbus_validate_well_known_name, "org"));
        CHECK(!V(dbus_validate_well_known_name, "org.9example"));
        CHECK(!V(dbus_validate_well_known_name, ".org.example"));
        CHECK(!V(dbus_validate_well_known_name, "org.example."));
        CHECK(!V(dbus_validate_well_known_name, "org..example"));
        CHECK(!V(dbus_validate_well_known_name, "org.exa mple"));
        CHECK(!V(dbus_validate_well_known_name, "org.ex\xc3\xa9"));
        CHECK(!V(dbus_validate_well_known_name, ":1.42"));
        CHECK(!V(dbus_validate_well_known_name, ""));
        CHECK(!dbus_validate_well_known_name("org.exa\0mple", 12));
        CHECK(dbus_validate_well_known_name("org.example.junk", 11)); /* only n bytes count */
        CHECK(V(dbus_validate_bus_name, "org.example"));
        CHECK(!V(dbus_validate_bus_name, ""));
        CHECK(!V(dbus_validate_bus_name, "org"));

        /* 255 characters is the limit for every kind of name */
        memset(big, 'a', sizeof(big));
        big[1] = '.';
        CHECK(dbus_validate_well_known_name(big, 255));
        CHECK(!dbus_validate_well_known_name(big, 256));
        CHECK(dbus_validate_bus_name(big, 255));
        CHECK(!dbus_validate_bus_name(big, 256));
        CHECK(dbus_validate_interface(big, 255));
        CHECK(!dbus_validate_interface(big, 256));
        CHECK(dbus_validate_error_name(big, 255));
        CHECK(!dbus_validate_error_name(big, 256));
        big[0] = ':';
        big[1] = '1';
        big[2] = '.';
        CHECK(dbus_validate_unique_name(big, 255));
        CHECK(!dbus_validate_unique_name(big, 256));
        CHECK(!dbus_validate_bus_name(big, 256));
        memset(big, 'm', sizeof(big));
        CHECK(dbus_validate_member(big, 255));
        CHECK(!dbus_validate_member(big, 256));

        /* interfaces and error names */
        CHECK(V(dbus_validate_interface, "org.example.Iface"));
        CHECK(V(dbus_validate_interface, "_a._b"));
        CHECK(!V(dbus_validate_interface, "org.ex-ample"));
        CHECK(!V(dbus_validate_interface, "org"));
        CHECK(!V(dbus_validate_interface, "org.9x"));
        CHECK(!V(dbus_validate_interface, ":org.x"));
        CHECK(!V(dbus_validate_interface, ""));
        CHECK(V(dbus_validate_error_name, "org.freedesktop.DBus.Error.Failed"));
        CHECK(!V(dbus_validate_error_name, "Failed"));

        /* members */
        CHECK(V(dbus_validate_member, "Method"));
        CHECK(V(dbus_validate_member, "_m9"));
        CHECK(V(dbus_validate_member, "a"));
        CHECK(!V(dbus_validate_member, "9m"));
        CHECK(!V(dbus_validate_member, "a.b"));
        CHECK(!V(dbus_validate_member, "a-b"));
        CHECK(!V(dbus_validate_member, ""));
        CHECK(!V(dbus_validate_member, "M\xc3\xa9"));

        /* object paths */
        CHECK(V(dbus_validate_object_path, "/"));
        CHECK(V(dbus_validate_object_path, "/a"));
        CHECK(V(dbus_validate_object_path, "/a/b_c/D9/0"));
        CHECK(!V(dbus_validate_object_path, ""));
        CHECK(!V(dbus_validate_object_path, "a"));
        CHECK(!V(dbus_validate_object_path, "/a/"));
        CHECK(!V(dbus_validate_object_path, "//"));
        CHECK(!V(dbus_validate_object_path, "/a//b"));
        CHECK(!V(dbus_validate_object_path, "/a-b"));
        CHECK(!V(dbus_validate_object_path, "/a.b"));
        CHECK(!V(dbus_validate_object_path, "/\xc3\xa9"));
        CHECK(!dbus_validate_object_path("/a\0b", 4));
}

static void test_utf8(void)
{
        CHECK(V(utf8_validate, ""));
        CHECK(V(utf8_validate, "abcdefgh"));
        CHECK(V(utf8_validate, "abcdefghi"));
        CHECK(V(utf8_validate, "\xc2\x80"));
        CHECK(V(utf8_validate, "\xdf\xbf"));
        CHECK(V(utf8_validate, "\xe0\xa0\x80"));
        CHECK(V(utf8_validate, "\xef\xbf\xbf")); /* U+FFFF is allowed since D-Bus 1.8 */
        CHECK(V(utf8_validate, "\xf0\x90\x80\x80"));
        CHECK(V(utf8_validate, "\xf4\x8f\xbf\xbf"));
        CHECK(V(utf8_validate, "1234567\xc3\xa9 and more ascii after"));
        CHECK(!V(utf8_validate, "\xc0\x80"));
        CHECK(!V(utf8_validate, "\xe0\x80\x80"));
        CHECK(!V(utf8_validate, "\xf0\x80\x80\x80"));
        CHECK(!V(utf8_validate, "\xed\xa0\x80"));
        CHECK(!V(utf8_validate, "\xf4\x90\x80\x80"));
        CHECK(!V(utf8_validate, "\xf5\x80\x80\x80"));
        CHECK(!V(utf8_validate, "\xc2"));
        CHECK(!V(utf8_validate, "\xc2\x41"));
        CHECK(!V(utf8_validate, "abc\0defgh"));
        for (size_t i = 0; i < 16; i++) {
                char s[17];
                memset(s, 'x', 16);
                s[i] = 0;
                CHECK(!utf8_validate(s, 16));
                s[i] = '\x80';
                CHECK(!utf8_validate(s, 16));
                s[i] = 'y';
                CHECK(utf8_validate(s, 16));
        }
        /* the string is only n bytes long: a multibyte sequence cut by n is invalid */
        CHECK(!utf8_validate("\xe2\x82\xac", 2));
        CHECK(utf8_validate("\xe2\x82\xac", 3));
}

/* ---- signatures ---- */

#define SIG(lit) signature_validate((lit), sizeof(lit) - 1)
#define SINGLE(lit) signature_validate_single((lit), sizeof(lit) - 1)

static size_t n_valid_signatures;

static void check_skip(const char *s, size_t n)
{
        if (n == 0 || !signature_validate(s, n))
                return;
        n_valid_signatures++;
        for (size_t at = 0; at < n;) {
                size_t step = signature_next_complete(s + at);
                CHECK(step > 0);
                CHECK_EQ(signature_skip_valid(s + at), step);
                at += step;
        }
}

/* signature_skip_valid() only counts brackets: over every valid signature of up to seven characters from
 * those that shape one, it must step where signature_next_complete() steps. */
static void test_skip_valid_signatures(void)
{
        static const char alphabet[] = "ay(){}sv";
        each_string(alphabet, sizeof(alphabet) - 1, 7, check_skip);
        CHECK(n_valid_signatures > 1000);
}

static void test_signatures(void)
{
        char s[300];

        CHECK(SIG(""));
        CHECK(SIG("ybnqiuxtdsoghv"));
        CHECK(SIG("a{sv}"));
        CHECK(SIG("a{sa{sv}}as(ia(s))"));
        CHECK(SIG("(i)"));
        CHECK(SIG("((i))"));
        CHECK(SIG("a{ha(i)}"));
        CHECK(SIG("aa{ss}"));
        CHECK(!SIG("()"));
        CHECK(!SIG("a"));
        CHECK(!SIG("aa"));
        CHECK(!SIG("ia"));
        CHECK(!SIG("{sv}"));
        CHECK(!SIG("a{sv"));
        CHECK(!SIG("a{s}"));
        CHECK(!SIG("a{}"));
        CHECK(!SIG("a{svs}"));
        CHECK(!SIG("a{vs}"));
        CHECK(!SIG("a{(i)s}"));
        CHECK(!SIG("a{as}"));
        CHECK(!SIG("(i"));
        CHECK(!SIG("i)"));
        CHECK(!SIG("(i}"));
        CHECK(!SIG("a{i)"));
        CHECK(!SIG("}"));
        CHECK(!SIG("z"));
        CHECK(!SIG("r"));
        CHECK(!SIG("e"));
        CHECK(!SIG("m"));
        CHECK(!SIG("*"));
        CHECK(!SIG("?"));
        CHECK(!SIG("@"));
        CHECK(!SIG("&"));
        CHECK(!SIG("^"));
        CHECK(!SIG("i\0i"));
        CHECK(!SIG("(i\0)"));

        /* 255 characters, then 256 */
        memset(s, 'i', sizeof(s));
        CHECK(signature_validate(s, 255));
        CHECK(!signature_validate(s, 256));
        s[0] = '(';
        s[254] = ')';
        CHECK(signature_validate_single(s, 255));
        s[254] = 'i';
        s[255] = ')';
        CHECK(!signature_validate_single(s, 256));
        CHECK(!signature_validate(s, 256));
        /* depth: 32 arrays / 32 structs / 32 dict entries */
        memset(s, 'a', 32);
        s[32] = 'y';
        CHECK(signature_validate(s, 33));
        CHECK(signature_validate_single(s, 33));
        memset(s, 'a', 33);
        s[33] = 'y';
        CHECK(!signature_validate(s, 34));
        CHECK(!signature_validate_single(s, 34));
        for (unsigned n = 32; n <= 33; n++) {
                memset(s, '(', n);
                s[n] = 'y';
                memset(s + n + 1, ')', n);
                CHECK_EQ(signature_validate(s, 2 * n + 1), n == 32);
                CHECK_EQ(signature_validate_single(s, 2 * n + 1), n == 32);
        }
        /* 32 arrays of dict entries nest 32 arrays deep */
        size_t l = 0;
        for (unsigned i = 0; i < 32; i++) {
                s[l++] = 'a';
                s[l++] = '{';
                s[l++] = 's';
        }
        s[l++] = 'v';
        for (unsigned i = 0; i < 32; i++)
                s[l++] = '}';
        CHECK(signature_validate(s, l));
        CHECK(signature_validate_single(s, l));

        /* single complete types */
        CHECK(SINGLE("i"));
        CHECK(SINGLE("v"));
        CHECK(SINGLE("a{sv}"));
        CHECK(SINGLE("(ia{sv})"));
        CHECK(!SINGLE(""));
        CHECK(!SINGLE("ii"));
        CHECK(!SINGLE("a{sv}i"));
        CHECK(!SINGLE("{sv}"));
        CHECK(!SINGLE("()"));
        CHECK(!SINGLE("a"));
        CHECK(!SINGLE("i\0"));

        /* next complete type, as the reader and the array validator use it */
        CHECK_EQ(signature_next_complete("i"), 1);
        CHECK_EQ(signature_next_complete("is"), 1);
        CHECK_EQ(signature_next_complete("a{sv}"), 5);
        CHECK_EQ(signature_next_complete("a{sv}i"), 5);
        CHECK_EQ(signature_next_complete("{sv}"), 4); /* a dict entry as an array element */
        CHECK_EQ(signature_next_complete("{sv}i"), 4);
        CHECK_EQ(signature_next_complete("{sa{sv}}"), 8);
        CHECK_EQ(signature_next_complete("{s(ii)}x"), 7);
        CHECK_EQ(signature_next_complete("(ii)s"), 4);
        CHECK_EQ(signature_next_complete("(i)"), 3);
        CHECK_EQ(signature_next_complete("aai"), 3);
        CHECK_EQ(signature_next_complete("a(a{sv}ay)u"), 10);
        CHECK_EQ(signature_next_complete("vv"), 1);
        CHECK_EQ(signature_next_complete(""), 0);
        CHECK_EQ(signature_next_complete("a"), 0);
        CHECK_EQ(signature_next_complete("()"), 0);
        CHECK_EQ(signature_next_complete("(i"), 0);
        CHECK_EQ(signature_next_complete("{vs}"), 0);
        CHECK_EQ(signature_next_complete("{s}"), 0);
        CHECK_EQ(signature_next_complete("{sv"), 0);
        CHECK_EQ(signature_next_complete("}"), 0);
        CHECK_EQ(signature_next_complete("z"), 0);
}

static void test_type_names(void)
{
        CHECK_STREQ(message_type_to_string(MESSAGE_METHOD_CALL), "method_call");
        CHECK_STREQ(message_type_to_string(MESSAGE_METHOD_RETURN), "method_return");
        CHECK_STREQ(message_type_to_string(MESSAGE_ERROR), "error");
        CHECK_STREQ(message_type_to_string(MESSAGE_SIGNAL), "signal");
        CHECK_STREQ(message_type_to_string(0), "invalid");
        CHECK_STREQ(message_type_to_string(5), "invalid");
}

static void test_refcount(void)
{
        struct message *m = NULL;
        const struct wire_sample *w = &wire_samples[0];
        CHECK_EQ(parse_bytes(w->data, w->size, &m), 0);
        CHECK(message_ref(m) == m);
        CHECK_EQ(m->n_ref, 2);
        CHECK(!message_unref(m));
        CHECK_EQ(m->n_ref, 1);
        CHECK(!message_unref(m));
        CHECK(!message_ref(NULL));
        CHECK(!message_unref(NULL));
}

/* A relayed message is a new header on the same body: re-parsed, it carries the source's fields with the new
 * serial, reply serial and destination, in the source's byte order, and no SENDER; the fds move with it. */
static void test_relay(void)
{
        for (int be = 0; be <= 1; be++) {
                struct raw f, body, msg;
                raw_init(&f, be);
                field_str(&f, FIELD_PATH, 'o', "/org/example/Host");
                field_str(&f, FIELD_INTERFACE, 's', "org.example.Host");
                field_str(&f, FIELD_MEMBER, 's', "Echo");
                field_str(&f, FIELD_DESTINATION, 's', "org.example.Host");
                field_str(&f, FIELD_SENDER, 's', ":1.7");
                field_str(&f, FIELD_SIGNATURE, 'g', "sh");
                field_u32(&f, FIELD_UNIX_FDS, 1);
                field_u32(&f, 200, 5); /* unknown: not carried on */
                raw_init(&body, be);
                raw_str(&body, "hello");
                raw_u32(&body, 0);
                raw_message(&msg, be, MESSAGE_METHOD_CALL, MESSAGE_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION, 9,
                            &f, &body);

                struct message *src = NULL;
                CHECK(parse_bytes(msg.buf, msg.n, &src) == 0);
                int *fds = malloc(sizeof(int));
                CHECK(fds);
                fds[0] = dup(0);
                CHECK(fds[0] >= 0);
                message_attach_fds(src, fds, 1);

                struct message *out = NULL;
                CHECK(message_new_relay(src, 77, 0, ":1.42", &out) == 0);
                CHECK(src->n_fds == 0 && !src->fds);
                CHECK(out->n_fds == 1);
                message_unref(src); /* the relay keeps the body alive */

                struct message *back = NULL;
                CHECK_EQ(parse_as_sent(out, &back), 0);
                CHECK(back->big_endian == (bool)be);
                CHECK_EQ(back->serial, 77u);
                CHECK_EQ(back->reply_serial, 0u);
                CHECK_EQ(back->flags, MESSAGE_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION);
                CHECK_STREQ(back->path, "/org/example/Host");
                CHECK_STREQ(back->interface, "org.example.Host");
                CHECK_STREQ(back->member, "Echo");
                CHECK_STREQ(back->destination, ":1.42");
                CHECK_STREQ(back->signature, "sh");
                CHECK_EQ(back->n_unix_fds, 1u);
                CHECK(!back->sender);
                CHECK(back->body_size == out->body_size);
                CHECK(memcmp(back->data + back->body_offset, out->data + out->body_offset,
                             back->body_size) == 0);
                unsigned n_unknown = 0, n_sender = 0;
                const char *sender = NULL;
                count_fields(back->data, &n_unknown, &n_sender, &sender);
                CHECK_EQ(n_unknown, 0u);
                CHECK_EQ(n_sender, 0u);

                /* A reply relayed from a relay: reply serial set, destination dropped when NULL. */
                struct message *again = NULL;
                CHECK(message_new_relay(out, 3, 9, NULL, &again) == 0);
                CHECK(again->body_owner == out->body_owner);
                message_unref(out);
                message_unref(again);
                message_unref(back);
        }
}

int main(void)
{
        int failed = 0;

        atexit(report_sample);
        RUN(test_header_rules_have_their_codes);
        RUN(test_samples_parse);
        RUN(test_samples_stamp);
        RUN(test_samples_args);
        RUN(test_copy);
        RUN(test_copy_reuses_blocks);
        RUN(test_samples_values);
        RUN(test_stamp_drops_unknown_and_spoofed);
        RUN(test_stamp_keeps_plain_header);
        RUN(test_relay);
        RUN(test_parse_args);
        RUN(test_short_buffers);
        RUN(test_peek_size);
        RUN(test_reject_fixed_header);
        RUN(test_reject_missing_fields);
        RUN(test_reject_header_fields);
        RUN(test_reject_duplicate_fields);
        RUN(test_reject_local_path_interface);
        RUN(test_reject_header_padding);
        RUN(test_reject_body_size);
        RUN(test_reject_body_padding);
        RUN(test_reject_booleans);
        RUN(test_reject_strings);
        RUN(test_reject_arrays);
        RUN(test_reject_huge_array);
        RUN(test_reject_variants);
        RUN(test_reject_depth);
        RUN(test_reject_fds);
        RUN(test_names);
        RUN(test_names_against_the_rules);
        RUN(test_utf8);
        RUN(test_signatures);
        RUN(test_skip_valid_signatures);
        RUN(test_type_names);
        RUN(test_refcount);
        RUN(test_limits);
        return failed ? 1 : 0;
}
