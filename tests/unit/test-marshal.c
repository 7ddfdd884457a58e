/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The body reader and the builder (lib/marshal.c). The reader walks every
 * message GLib and libdbus marshalled (data/wire/wire-samples.h) and must
 * produce the dump the generator computed from the values it set, bit for bit
 * for doubles and byte for byte for strings. The builder must produce the
 * same body bytes GLib does for the same values (D-Bus marshalling is
 * canonical, so any difference is a bug on one side), and read back what it
 * wrote through msg_reader and message_read().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <sys/stat.h>

#include "data/wire/wire-samples.h"
#include "message.h"
#include "test.h"
#include "util.h"
#include "wire.h"

/* ---- the dump the generator writes, produced with msg_reader ---- */

struct dump {
        char buf[1 << 16];
        size_t n;
};

_printf_(2, 3) static void dump_add(struct dump *d, const char *fmt, ...)
{
        va_list ap;
        if (d->n > 0 && d->n < sizeof(d->buf) - 1)
                d->buf[d->n++] = ' ';
        va_start(ap, fmt);
        int r = vsnprintf(d->buf + d->n, sizeof(d->buf) - d->n, fmt, ap);
        va_end(ap);
        CHECK(r >= 0 && (size_t)r < sizeof(d->buf) - d->n);
        d->n += (size_t)r;
}

static int fd_index(const struct message *m, int fd)
{
        for (size_t i = 0; i < m->n_fds; i++)
                if (m->fds[i] == fd)
                        return (int)i;
        return -1;
}

static void walk_one(struct msg_reader *r, const struct message *m, struct dump *d);

static void walk(struct msg_reader *r, const struct message *m, struct dump *d)
{
        while (msg_reader_peek(r))
                walk_one(r, m, d);
}

static void walk_one(struct msg_reader *r, const struct message *m, struct dump *d)
{
        char t = msg_reader_peek(r);
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double dbl;
                const char *s;
                int h;
        } v;
        char contents[DBUS_MAXIMUM_SIGNATURE_LENGTH + 1];
        const struct msg_reader_frame *f = &r->stack[r->depth];
        size_t full;

        CHECK(t);
        switch (t) {
        case 'a':
                full = signature_next_complete(f->sig_pos);
                CHECK(full >= 2);
                memcpy(contents, f->sig_pos + 1, full - 1);
                contents[full - 1] = 0;
                CHECK_EQ(msg_reader_enter(r, 'a', contents), 0);
                dump_add(d, "a[");
                walk(r, m, d);
                CHECK_EQ(msg_reader_exit(r), 0);
                dump_add(d, "]");
                return;
        case '(':
        case '{':
                full = signature_next_complete(f->sig_pos);
                CHECK(full >= 3);
                memcpy(contents, f->sig_pos + 1, full - 2);
                contents[full - 2] = 0;
                CHECK_EQ(msg_reader_enter(r, t, contents), 0);
                dump_add(d, "%c", t);
                walk(r, m, d);
                CHECK_EQ(msg_reader_exit(r), 0);
                dump_add(d, "%c", t == '(' ? ')' : '}');
                return;
        case 'v': {
                CHECK_EQ(msg_reader_enter(r, 'v', NULL), 0);
                const struct msg_reader_frame *vf = &r->stack[r->depth];
                dump_add(d, "v(%.*s)", (int)(vf->sig_end - vf->sig), vf->sig);
                walk_one(r, m, d);
                CHECK_EQ(msg_reader_peek(r), 0);
                CHECK_EQ(msg_reader_exit(r), 0);
                return;
        }
        }

        CHECK_EQ(msg_reader_read_basic(r, t, &v), 0);
        switch (t) {
        case 'y':
                dump_add(d, "y:%u", v.y);
                break;
        case 'b':
                dump_add(d, "b:%d", v.b);
                break;
        case 'n':
                dump_add(d, "n:%d", v.n);
                break;
        case 'q':
                dump_add(d, "q:%u", v.q);
                break;
        case 'i':
                dump_add(d, "i:%" PRId32, v.i);
                break;
        case 'u':
                dump_add(d, "u:%" PRIu32, v.u);
                break;
        case 'x':
                dump_add(d, "x:%" PRId64, v.x);
                break;
        case 't':
                dump_add(d, "t:%" PRIu64, v.t);
                break;
        case 'd': {
                uint64_t bits;
                memcpy(&bits, &v.dbl, 8);
                dump_add(d, "d:%016" PRIx64, bits);
                break;
        }
        case 'h': {
                int idx = fd_index(m, v.h);
                CHECK(idx >= 0);
                dump_add(d, "h:%d", idx);
                break;
        }
        case 's': {
                char hex[4096];
                size_t l = strlen(v.s);
                CHECK(2 * l < sizeof(hex));
                for (size_t i = 0; i < l; i++)
                        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)v.s[i]);
                hex[2 * l] = 0;
                dump_add(d, "s:%s", hex);
                break;
        }
        case 'o':
                dump_add(d, "o:%s", v.s);
                break;
        case 'g':
                dump_add(d, "g:%s", v.s);
                break;
        default:
                CHECK(!"unexpected type");
        }
}

static void dump_message(const struct message *m, struct dump *d)
{
        struct msg_reader r;
        d->n = 0;
        d->buf[0] = 0;
        msg_reader_init(&r, m);
        walk(&r, m, d);
        CHECK_EQ(r.depth, 0);
        CHECK_EQ(r.pos, m->body_size);
        CHECK_EQ(msg_reader_peek(&r), 0);
}

/* Named when a check fails while looking at a sample (CHECK exits; atexit handlers run). */
static const char *current_sample;
static void report_sample(void)
{
        if (current_sample)
                fprintf(stderr, "  (while checking sample %s)\n", current_sample);
}

static struct message *parse_sample(const struct wire_sample *w)
{
        current_sample = w->name;
        struct message *m = NULL;
        uint8_t *p = malloc(w->size + 1);
        CHECK(p);
        memcpy(p, w->data, w->size);
        CHECK_EQ(message_new_from_data(p, w->size, &m), 0);
        if (w->n_unix_fds) {
                /* Distinct open fds, so the reader's 'h' answer identifies the index. */
                int *fds = new0(int, w->n_unix_fds);
                CHECK(fds);
                for (size_t i = 0; i < w->n_unix_fds; i++) {
                        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        CHECK(fds[i] >= 0);
                }
                message_attach_fds(m, fds, w->n_unix_fds);
        }
        return m;
}

static const struct wire_sample *find_sample(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++)
                if (streq(wire_samples[i].name, name))
                        return &wire_samples[i];
        fprintf(stderr, "no sample %s\n", name);
        exit(1);
}

/* The native-order GLib sample with this body name. */
static const struct wire_sample *native_sample(const char *body)
{
        char name[128];
        snprintf(name, sizeof(name), "glib-%s-call-%s", WIRE_NATIVE_BIG_ENDIAN ? "be" : "le", body);
        return find_sample(name);
}

static void test_samples_read(void)
{
        static struct dump d;
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = parse_sample(w);
                dump_message(m, &d);
                if (!streq(d.buf, w->dump))
                        fprintf(stderr, "sample %s:\n  read     %s\n  expected %s\n", w->name, d.buf,
                                w->dump);
                CHECK_STREQ(d.buf, w->dump);
                message_unref(m);
        }
}

/* Skipping the first k top-level values leaves exactly the dump of the rest. */
static void test_samples_skip(void)
{
        static struct dump prefix, rest;
        for (size_t i = 0; i < ELEMENTSOF(wire_samples); i++) {
                const struct wire_sample *w = &wire_samples[i];
                struct message *m = parse_sample(w);
                size_t n_args = 0;
                for (const char *s = w->signature; *s; n_args++) {
                        size_t l = signature_next_complete(s);
                        CHECK(l > 0);
                        s += l;
                }
                for (size_t k = 1; k <= n_args; k++) {
                        struct msg_reader r;

                        /* what the first k values dump to */
                        prefix.n = 0;
                        prefix.buf[0] = 0;
                        msg_reader_init(&r, m);
                        for (size_t j = 0; j < k; j++)
                                walk_one(&r, m, &prefix);
                        CHECK(strncmp(w->dump, prefix.buf, prefix.n) == 0);
                        const char *tail = w->dump + prefix.n + (w->dump[prefix.n] == ' ' ? 1 : 0);

                        msg_reader_init(&r, m);
                        for (size_t j = 0; j < k; j++)
                                CHECK_EQ(msg_reader_skip(&r), 0);
                        rest.n = 0;
                        rest.buf[0] = 0;
                        walk(&r, m, &rest);
                        CHECK_EQ(r.pos, m->body_size);
                        if (!streq(tail, rest.buf))
                                fprintf(stderr, "sample %s skip %zu:\n  got      %s\n  expected %s\n",
                                        w->name, k, rest.buf, tail);
                        CHECK_STREQ(rest.buf, tail);
                }
                message_unref(m);
        }
}

/* ---- reader API details ---- */

static struct message *build(struct msg_builder *b)
{
        struct message *m = NULL;
        CHECK_EQ(msg_builder_finish(b, &m), 0);
        CHECK(m);
        return m;
}

static void builder_call(struct msg_builder *b)
{
        msg_builder_init(b, MESSAGE_METHOD_CALL, 1);
        b->path = "/p";
        b->member = "M";
}

static void test_reader_navigation(void)
{
        struct msg_builder b;
        struct msg_reader r;
        const char *s;
        uint32_t u;
        int32_t i;
        uint8_t y;

        /* a{sv} s (iu) */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sv}"), 0);
        static const char *const keys[] = {"one", "two", "three"};
        for (uint32_t k = 0; k < 3; k++) {
                CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
                CHECK_EQ(msg_builder_append_basic(&b, 's', &keys[k]), 0);
                CHECK_EQ(msg_builder_open(&b, 'v', "u"), 0);
                uint32_t val = 100 + k;
                CHECK_EQ(msg_builder_append_basic(&b, 'u', &val), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "after"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "iu"), 0);
        CHECK_EQ(msg_builder_append(&b, "iu", (int32_t)-5, (uint32_t)6), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        struct message *m = build(&b);
        CHECK_STREQ(m->signature, "a{sv}s(iu)");

        /* wrong type or contents: -ENXIO and nothing consumed */
        msg_reader_init(&r, m);
        CHECK_EQ(msg_reader_peek(&r), 'a');
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), -ENXIO);
        CHECK_EQ(msg_reader_enter(&r, '(', NULL), -ENXIO);
        CHECK_EQ(msg_reader_enter(&r, 'a', "{ss}"), -ENXIO);
        CHECK_EQ(msg_reader_enter(&r, 'a', "{sv"), -ENXIO);
        CHECK_EQ(msg_reader_enter(&r, 'a', "{sv}s"), -ENXIO);
        CHECK_EQ(msg_reader_exit(&r), -EINVAL);
        CHECK_EQ(r.pos, 0);

        /* walk the dict entries by entering them (skipping them is test_reader_skip_dict_entries) */
        CHECK_EQ(msg_reader_enter(&r, 'a', "{sv}"), 0);
        for (uint32_t k = 0; k < 3; k++) {
                CHECK_EQ(msg_reader_peek(&r), '{');
                CHECK_EQ(msg_reader_enter(&r, '{', "sv"), 0);
                CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
                CHECK_STREQ(s, keys[k]);
                CHECK_EQ(msg_reader_enter(&r, 'v', "i"), -ENXIO);
                CHECK_EQ(msg_reader_enter(&r, 'v', "u"), 0);
                CHECK_EQ(msg_reader_read_basic(&r, 'u', &u), 0);
                CHECK_EQ(u, 100 + k);
                CHECK_EQ(msg_reader_peek(&r), 0);
                CHECK_EQ(msg_reader_read_basic(&r, 'u', &u), -ENXIO);
                CHECK_EQ(msg_reader_exit(&r), 0);
                CHECK_EQ(msg_reader_peek(&r), 0);
                CHECK_EQ(msg_reader_exit(&r), 0);
        }
        CHECK_EQ(msg_reader_peek(&r), 0);
        CHECK_EQ(msg_reader_skip(&r), -ENXIO);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "after");

        /* leaving a struct half-read skips the rest of it */
        CHECK_EQ(msg_reader_enter(&r, '(', "iu"), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 'i', &i), 0);
        CHECK_EQ(i, -5);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_peek(&r), 0);
        CHECK_EQ(r.pos, m->body_size);

        /* leaving an array after its first element skips the rest */
        msg_reader_init(&r, m);
        CHECK_EQ(msg_reader_enter(&r, 'a', NULL), 0);
        CHECK_EQ(msg_reader_enter(&r, '{', NULL), 0);
        CHECK_EQ(msg_reader_exit(&r), 0); /* the whole entry, unread */
        CHECK_EQ(msg_reader_enter(&r, '{', NULL), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "two");
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "after");
        CHECK_EQ(msg_reader_skip(&r), 0);
        CHECK_EQ(msg_reader_peek(&r), 0);
        message_unref(m);

        /* arrays of structs: skip elements */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'a', "(ys)"), 0);
        for (uint8_t k = 0; k < 4; k++) {
                const char *str = k % 2 ? "odd" : "even";
                CHECK_EQ(msg_builder_open(&b, '(', "ys"), 0);
                CHECK_EQ(msg_builder_append(&b, "ys", k, str), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        m = build(&b);
        msg_reader_init(&r, m);
        CHECK_EQ(msg_reader_enter(&r, 'a', "(ys)"), 0);
        for (uint8_t k = 0; k < 4; k++) {
                if (k % 2 == 0) {
                        CHECK_EQ(msg_reader_skip(&r), 0);
                        continue;
                }
                CHECK_EQ(msg_reader_enter(&r, '(', "ys"), 0);
                CHECK_EQ(msg_reader_read_basic(&r, 'y', &y), 0);
                CHECK_EQ(y, k);
                CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
                CHECK_STREQ(s, "odd");
                CHECK_EQ(msg_reader_exit(&r), 0);
        }
        CHECK_EQ(msg_reader_peek(&r), 0);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(r.pos, m->body_size);
        message_unref(m);
}

/* msg_reader_skip() on a dict entry inside an array: skips the whole {key value}. */
static void test_reader_skip_dict_entries(void)
{
        struct msg_builder b;
        struct msg_reader r;
        const char *s;
        uint32_t u;

        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'a', "{su}"), 0);
        static const char *const keys[] = {"one", "two", "three"};
        for (uint32_t k = 0; k < 3; k++) {
                CHECK_EQ(msg_builder_open(&b, '{', "su"), 0);
                CHECK_EQ(msg_builder_append(&b, "su", keys[k], 100 + k), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "after"), 0);
        struct message *m = build(&b);

        msg_reader_init(&r, m);
        CHECK_EQ(msg_reader_enter(&r, 'a', "{su}"), 0);
        CHECK_EQ(msg_reader_peek(&r), '{');
        CHECK_EQ(msg_reader_skip(&r), 0); /* "one" */
        CHECK_EQ(r.pos, 20);              /* past the first entry: len 0-3, pad, "one" 8-15, u 16-19 */
        CHECK_EQ(msg_reader_peek(&r), '{');
        CHECK_EQ(msg_reader_enter(&r, '{', "su"), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "two");
        CHECK_EQ(msg_reader_read_basic(&r, 'u', &u), 0);
        CHECK_EQ(u, 101);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_skip(&r), 0); /* "three" */
        CHECK_EQ(msg_reader_peek(&r), 0);
        CHECK_EQ(msg_reader_exit(&r), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "after");
        message_unref(m);
}

/* ---- builder: every type, read back ---- */

static void test_builder_basic_roundtrip(void)
{
        struct msg_builder b;
        struct message *m;
        uint8_t y;
        int bo;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s, *o, *g;

        static const struct {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s, *o, *g;
        } rows[] = {
                {0, 0, INT16_MIN, 0, INT32_MIN, 0, INT64_MIN, 0, -0.0, "", "/", ""},
                {255, 1, INT16_MAX, UINT16_MAX, INT32_MAX, UINT32_MAX, INT64_MAX, UINT64_MAX,
                 1.7976931348623157e308, "\xc3\xa9\xe2\x9c\x93\xf0\x9d\x84\x9e\xf4\x8f\xbf\xbf", "/a/b_c/D9",
                 "a{sv}(ii)aah"},
                {1, 1, -1, 1, -1, 1, -1, 1, 5e-324, "x", "/x", "v"},
        };
        for (size_t k = 0; k < ELEMENTSOF(rows); k++) {
                builder_call(&b);
                CHECK_EQ(msg_builder_append(&b, "ybnqiuxtdsog", rows[k].y, rows[k].b, rows[k].n, rows[k].q,
                                            rows[k].i, rows[k].u, rows[k].x, rows[k].t, rows[k].d, rows[k].s,
                                            rows[k].o, rows[k].g),
                         0);
                m = build(&b);
                CHECK_STREQ(m->signature, "ybnqiuxtdsog");
                CHECK_EQ(message_read(m, "ybnqiuxtdsog", &y, &bo, &n, &q, &i, &u, &x, &t, &d, &s, &o, &g),
                         0);
                CHECK_EQ(y, rows[k].y);
                CHECK_EQ(bo, rows[k].b);
                CHECK_EQ(n, rows[k].n);
                CHECK_EQ(q, rows[k].q);
                CHECK_EQ(i, rows[k].i);
                CHECK_EQ(u, rows[k].u);
                CHECK(x == rows[k].x);
                CHECK(t == rows[k].t);
                CHECK(memcmp(&d, &rows[k].d, 8) == 0);
                CHECK_STREQ(s, rows[k].s);
                CHECK_STREQ(o, rows[k].o);
                CHECK_STREQ(g, rows[k].g);
                message_unref(m);
        }

        /* NaN and infinities keep their bits */
        static const double specials[] = {NAN, INFINITY, -INFINITY, 2.2250738585072014e-308, 0.1};
        for (size_t k = 0; k < ELEMENTSOF(specials); k++) {
                builder_call(&b);
                CHECK_EQ(msg_builder_append_basic(&b, 'd', &specials[k]), 0);
                m = build(&b);
                CHECK_EQ(message_read(m, "d", &d), 0);
                CHECK(memcmp(&d, &specials[k], 8) == 0);
                message_unref(m);
        }

        /* A boolean is 0 or 1 on the wire whatever non-zero int is passed. */
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "bb", 42, -1), 0);
        m = build(&b);
        CHECK_EQ(wire_u32(m->data + m->body_offset, m->big_endian), 1);
        CHECK_EQ(wire_u32(m->data + m->body_offset + 4, m->big_endian), 1);
        message_unref(m);

        /* "su" and "as" through message_read() */
        builder_call(&b);
        static const char *const strv[] = {"a", "", "\xc3\xa9t\xc3\xa9", NULL};
        CHECK_EQ(msg_builder_append(&b, "suas", "hello", (uint32_t)7, strv), 0);
        m = build(&b);
        CHECK_STREQ(m->signature, "suas");
        const char **got = NULL;
        CHECK_EQ(message_read(m, "suas", &s, &u, &got), 0);
        CHECK_STREQ(s, "hello");
        CHECK_EQ(u, 7);
        CHECK(got);
        CHECK_STREQ(got[0], "a");
        CHECK_STREQ(got[1], "");
        CHECK_STREQ(got[2], "\xc3\xa9t\xc3\xa9");
        CHECK(!got[3]);
        free(got);
        CHECK_EQ(message_read(m, "su", &s, &u), -ENXIO);
        CHECK_EQ(message_read(m, "suasx", &s, &u, &got), -ENXIO);
        message_unref(m);

        /* empty "as", and NULL as the empty list */
        builder_call(&b);
        static const char *const none[] = {NULL};
        CHECK_EQ(msg_builder_append(&b, "asas", none, (const char *const *)NULL), 0);
        m = build(&b);
        const char **e1 = NULL, **e2 = NULL;
        CHECK_EQ(message_read(m, "asas", &e1, &e2), 0);
        CHECK(e1 && !e1[0]);
        CHECK(e2 && !e2[0]);
        free(e1);
        free(e2);
        message_unref(m);

        /* message_read on a message without a body */
        builder_call(&b);
        m = build(&b);
        CHECK_EQ(m->body_size, 0);
        CHECK_STREQ(m->signature, "");
        CHECK_EQ(message_read(m, ""), 0);
        CHECK_EQ(message_read(m, "s", &s), -ENXIO);
        message_unref(m);
}

/* ---- builder vs GLib: the same values give the same body bytes ---- */

static void add_array(struct msg_builder *b, char t, const void *vals, size_t n, size_t stride)
{
        char c[2] = {t, 0};
        CHECK_EQ(msg_builder_open(b, 'a', c), 0);
        for (size_t i = 0; i < n; i++)
                CHECK_EQ(msg_builder_append_basic(b, t, (const uint8_t *)vals + i * stride), 0);
        CHECK_EQ(msg_builder_close(b), 0);
}

static void add_variant(struct msg_builder *b, char t, const void *val)
{
        char c[2] = {t, 0};
        CHECK_EQ(msg_builder_open(b, 'v', c), 0);
        CHECK_EQ(msg_builder_append_basic(b, t, val), 0);
        CHECK_EQ(msg_builder_close(b), 0);
}

static size_t unhex(const char *hex, char *out)
{
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1);
                out[i] = (char)v;
        }
        out[n] = 0;
        return n;
}

/* The string gen-messages.py calls UTF8. */
static const char *utf8_sample(void)
{
        static char s[128];
        unhex("68c3a96c6c6f2077c3b6726c6420e29c9320f09d849e207fc280dfbfe0a080ed9fbfee8080efbfbdefbfbff090808"
              "0f48fbfbf",
              s);
        return s;
}

static void check_same_body(struct msg_builder *b, const char *body)
{
        const struct wire_sample *w = native_sample(body);
        struct message *m = build(b);
        if (!streq(m->signature, w->signature) || m->body_size != w->body_size ||
            memcmp(m->data + m->body_offset, w->data + w->size - w->body_size, w->body_size) != 0) {
                fprintf(stderr, "builder body differs from %s (sig \"%s\" vs \"%s\", size %u vs %u)\n",
                        w->name, m->signature, w->signature, m->body_size, w->body_size);
                for (size_t i = 0; i < m->body_size && i < w->body_size; i++)
                        if (m->data[m->body_offset + i] != w->data[w->size - w->body_size + i]) {
                                fprintf(stderr, "  first difference at body offset %zu\n", i);
                                break;
                        }
        }
        CHECK_STREQ(m->signature, w->signature);
        CHECK_EQ(m->body_size, w->body_size);
        CHECK(memcmp(m->data + m->body_offset, w->data + w->size - w->body_size, w->body_size) == 0);

        static struct dump d;
        dump_message(m, &d);
        CHECK_STREQ(d.buf, w->dump);
        message_unref(m);
}

static const uint8_t ay_vals[] = {0, 1, 127, 128, 255};
static const int ab_vals[] = {1, 0, 1};
static const int16_t an_vals[] = {INT16_MIN, -1, 0, INT16_MAX};
static const uint16_t aq_vals[] = {0, 1, UINT16_MAX};
static const int32_t ai_vals[] = {INT32_MIN, -1, 0, INT32_MAX};
static const uint32_t au_vals[] = {0, 1, UINT32_MAX};
static const int64_t ax_vals[] = {INT64_MIN, -1, 0, INT64_MAX};
static const uint64_t at_vals[] = {0, 1, UINT64_MAX};
static const double ad_vals[] = {0.5, -1e-300, INFINITY};
static const char *const ao_vals[] = {"/", "/a", "/a/b_c/D9"};
static const char *const ag_vals[] = {"", "s", "a{sv}", "(yyy)"};

/* The arrays GLib's "arrays" bodies hold; empty: all of them empty; after_byte: a byte i+1 before each. */
static void add_arrays(struct msg_builder *b, bool empty, bool after_byte)
{
        static const char types[] = "ybnqiuxtdsogv";
        const char *as_vals[] = {"", "one", utf8_sample()};
        for (size_t k = 0; k < strlen(types); k++) {
                char t = types[k];
                size_t n = 0, stride = 0;
                const void *vals = NULL;
                if (after_byte)
                        CHECK_EQ(msg_builder_append(b, "y", (int)(k + 1)), 0);
                switch (t) {
#define CASE(c, arr)                                                                                        \
        case c:                                                                                             \
                vals = arr;                                                                                 \
                n = ELEMENTSOF(arr);                                                                        \
                stride = sizeof(arr[0]);                                                                    \
                break;
                        CASE('y', ay_vals)
                        CASE('b', ab_vals)
                        CASE('n', an_vals)
                        CASE('q', aq_vals)
                        CASE('i', ai_vals)
                        CASE('u', au_vals)
                        CASE('x', ax_vals)
                        CASE('t', at_vals)
                        CASE('d', ad_vals)
                        CASE('s', as_vals)
                        CASE('o', ao_vals)
                        CASE('g', ag_vals)
#undef CASE
                case 'v':
                        CHECK_EQ(msg_builder_open(b, 'a', "v"), 0);
                        if (!empty) {
                                int32_t one = 1;
                                const char *two = "two";
                                uint8_t three = 3;
                                int yes = 1;
                                double four = 4.0;
                                add_variant(b, 'i', &one);
                                add_variant(b, 's', &two);
                                CHECK_EQ(msg_builder_open(b, 'v', "ay"), 0);
                                add_array(b, 'y', &three, 1, 1);
                                CHECK_EQ(msg_builder_close(b), 0);
                                CHECK_EQ(msg_builder_open(b, 'v', "(bd)"), 0);
                                CHECK_EQ(msg_builder_open(b, '(', "bd"), 0);
                                CHECK_EQ(msg_builder_append_basic(b, 'b', &yes), 0);
                                CHECK_EQ(msg_builder_append_basic(b, 'd', &four), 0);
                                CHECK_EQ(msg_builder_close(b), 0);
                                CHECK_EQ(msg_builder_close(b), 0);
                        }
                        CHECK_EQ(msg_builder_close(b), 0);
                        continue;
                }
                add_array(b, t, vals, empty ? 0 : n, stride);
        }
}

static void test_builder_matches_glib(void)
{
        struct msg_builder b;

        builder_call(&b);
        check_same_body(&b, "empty");

        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "ybnqiuxtdsog", 0, 0, INT16_MIN, 0, INT32_MIN, (uint32_t)0,
                                    INT64_MIN, (uint64_t)0, -0.0, "", "/", ""),
                 0);
        check_same_body(&b, "basic-min");

        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "ybnqiuxtdsog", 255, 1, INT16_MAX, UINT16_MAX, INT32_MAX, UINT32_MAX,
                                    INT64_MAX, UINT64_MAX, 1.7976931348623157e308, utf8_sample(),
                                    "/org/example/Obj_1/x9", "a{sv}(ii)aah"),
                 0);
        check_same_body(&b, "basic-max");

        builder_call(&b);
        static const double doubles[] = {
                M_PI, 5e-324, 2.2250738585072014e-308, -INFINITY, INFINITY, NAN, 1.0, -2.5, 0.1};
        for (size_t k = 0; k < ELEMENTSOF(doubles); k++)
                CHECK_EQ(msg_builder_append_basic(&b, 'd', &doubles[k]), 0);
        check_same_body(&b, "doubles");

        /* yqyuyxytydynybyhysyoygyv */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "yqyuyxytydynybyhysyoyg", 1, 2, 3, (uint32_t)4, 5, (int64_t)-6, 7,
                                    (uint64_t)8, 9, 10.5, 11, -12, 13, 1, 15, fd, 17, "s", 19, "/o", 21,
                                    "g"),
                 0);
        CHECK_EQ(msg_builder_append(&b, "y", 23), 0);
        uint8_t v24 = 24;
        add_variant(&b, 'y', &v24);
        const struct wire_sample *w = native_sample("padding");
        struct message *m = build(&b);
        CHECK_STREQ(m->signature, w->signature);
        CHECK_EQ(m->n_unix_fds, 1);
        CHECK_EQ(m->n_fds, 1);
        CHECK(m->fds[0] != fd); /* a dup: the caller keeps its own */
        struct stat st1, st2;
        CHECK_EQ(fstat(fd, &st1), 0);
        CHECK_EQ(fstat(m->fds[0], &st2), 0);
        CHECK_EQ(st1.st_ino, st2.st_ino);
        CHECK_EQ(m->body_size, w->body_size);
        CHECK(memcmp(m->data + m->body_offset, w->data + w->size - w->body_size, w->body_size) == 0);
        static struct dump d;
        dump_message(m, &d);
        CHECK_STREQ(d.buf, w->dump);
        message_unref(m);
        close(fd);

        builder_call(&b);
        add_arrays(&b, false, false);
        check_same_body(&b, "arrays");
        builder_call(&b);
        add_arrays(&b, true, false);
        check_same_body(&b, "arrays-empty");
        builder_call(&b);
        add_arrays(&b, true, true);
        check_same_body(&b, "arrays-empty-after-byte");
        builder_call(&b);
        add_arrays(&b, false, true);
        check_same_body(&b, "arrays-after-byte");

        /* ((i)(yx)((y)(x))(s(b(d)))a(yt)a(sa(ii))) */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, '(', "i"), 0);
        CHECK_EQ(msg_builder_append(&b, "i", 1), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "yx"), 0);
        CHECK_EQ(msg_builder_append(&b, "yx", 2, (int64_t)-3), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "(y)(x)"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "y"), 0);
        CHECK_EQ(msg_builder_append(&b, "y", 4), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "x"), 0);
        CHECK_EQ(msg_builder_append(&b, "x", (int64_t)5), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "s(b(d))"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "six"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "b(d)"), 0);
        CHECK_EQ(msg_builder_append(&b, "b", 1), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "d"), 0);
        CHECK_EQ(msg_builder_append(&b, "d", 7.5), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "(yt)"), 0);
        for (int k = 8; k <= 10; k += 2) {
                CHECK_EQ(msg_builder_open(&b, '(', "yt"), 0);
                CHECK_EQ(msg_builder_append(&b, "yt", k, (uint64_t)(k + 1)), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "(sa(ii))"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "sa(ii)"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "a"), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "(ii)"), 0);
        for (int k = 1; k <= 3; k += 2) {
                CHECK_EQ(msg_builder_open(&b, '(', "ii"), 0);
                CHECK_EQ(msg_builder_append(&b, "ii", k, k + 1), 0);
                CHECK_EQ(msg_builder_close(&b), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "sa(ii)"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "b"), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "(ii)"), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        check_same_body(&b, "structs");

        /* ya{sv}ya{ss}a{ias}a{sa{sv}}: dict entries at every alignment */
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "y", 1), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sv}"), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "a"), 0);
        int32_t one = 1;
        add_variant(&b, 'i', &one);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "bb"), 0);
        int64_t minus_two = -2;
        add_variant(&b, 'x', &minus_two);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "ccc"), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "(yd)"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "yd"), 0);
        CHECK_EQ(msg_builder_append(&b, "yd", 3, 0.5), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_append(&b, "y", 2), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{ss}"), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{ias}"), 0);
        static const char *const xy[] = {"x", "y", NULL};
        CHECK_EQ(msg_builder_open(&b, '{', "ias"), 0);
        CHECK_EQ(msg_builder_append(&b, "ias", 7, xy), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "ias"), 0);
        CHECK_EQ(msg_builder_append(&b, "ias", -1, (const char *const *)NULL), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sa{sv}}"), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sa{sv}"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "k"), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sv}"), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "in"), 0);
        static const uint8_t one_two[] = {1, 2};
        CHECK_EQ(msg_builder_open(&b, 'v', "ay"), 0);
        add_array(&b, 'y', one_two, 2, 1);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sa{sv}"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "e"), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sv}"), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        check_same_body(&b, "dicts-small");

        /* (vvvvvv): v(v(v(i -42))), v(a{sv}), v((ybx)), v(ax []), v(ad), v(g) */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'v', "v"), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "v"), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "i"), 0);
        CHECK_EQ(msg_builder_append(&b, "i", -42), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "a{sv}"), 0);
        CHECK_EQ(msg_builder_open(&b, 'a', "{sv}"), 0);
        CHECK_EQ(msg_builder_open(&b, '{', "sv"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "k"), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "v"), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "s"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "deep"), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "(ybx)"), 0);
        CHECK_EQ(msg_builder_open(&b, '(', "ybx"), 0);
        CHECK_EQ(msg_builder_append(&b, "ybx", 1, 1, (int64_t)1 << 40), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_open(&b, 'v', "ax"), 0);
        add_array(&b, 'x', NULL, 0, 8);
        CHECK_EQ(msg_builder_close(&b), 0);
        static const double quarter[] = {0.25, -0.0};
        CHECK_EQ(msg_builder_open(&b, 'v', "ad"), 0);
        add_array(&b, 'd', quarter, 2, sizeof(double));
        CHECK_EQ(msg_builder_close(&b), 0);
        const char *asv = "a{sv}";
        add_variant(&b, 'g', &asv);
        check_same_body(&b, "variants");

        /* 31 variants around a string (30 in the generator, plus the body's own) */
        builder_call(&b);
        for (int k = 0; k < 31; k++)
                CHECK_EQ(msg_builder_open(&b, 'v', k == 30 ? "s" : "v"), 0);
        CHECK_EQ(msg_builder_append(&b, "s", "core"), 0);
        for (int k = 0; k < 31; k++)
                CHECK_EQ(msg_builder_close(&b), 0);
        check_same_body(&b, "variant-chain");

        /* 32 arrays around one byte, and 32 structs around a u */
        char sig[80];
        builder_call(&b);
        for (int k = 0; k < 32; k++) {
                memset(sig, 'a', (size_t)(31 - k));
                strcpy(sig + 31 - k, "y");
                CHECK_EQ(msg_builder_open(&b, 'a', sig), 0);
        }
        CHECK_EQ(msg_builder_append(&b, "y", 7), 0);
        for (int k = 0; k < 32; k++)
                CHECK_EQ(msg_builder_close(&b), 0);
        check_same_body(&b, "deep-arrays");

        builder_call(&b);
        for (int k = 0; k < 32; k++) {
                size_t l = (size_t)(31 - k);
                memset(sig, '(', l);
                sig[l] = 'u';
                memset(sig + l + 1, ')', l);
                sig[2 * l + 1] = 0;
                CHECK_EQ(msg_builder_open(&b, '(', sig), 0);
        }
        CHECK_EQ(msg_builder_append(&b, "u", 0xDEADBEEF), 0);
        for (int k = 0; k < 32; k++)
                CHECK_EQ(msg_builder_close(&b), 0);
        check_same_body(&b, "deep-structs");
}

/* ---- builder: header fields ---- */

static void test_builder_headers(void)
{
        struct msg_builder b;
        struct message *m;

        msg_builder_init(&b, MESSAGE_SIGNAL, 0xFFFFFFFF);
        b.flags = MESSAGE_FLAG_NO_REPLY_EXPECTED | MESSAGE_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION;
        b.path = "/org/example/Sig";
        b.interface = "org.example.Signals";
        b.member = "Changed";
        b.destination = ":1.9";
        b.sender = "org.freedesktop.DBus";
        CHECK_EQ(msg_builder_append(&b, "s", "x"), 0);
        m = build(&b);
        CHECK_EQ(m->type, MESSAGE_SIGNAL);
        CHECK_EQ(m->big_endian, WIRE_NATIVE_BIG_ENDIAN);
        CHECK_EQ(m->flags, MESSAGE_FLAG_NO_REPLY_EXPECTED | MESSAGE_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION);
        CHECK_EQ(m->serial, 0xFFFFFFFF);
        CHECK_STREQ(m->path, "/org/example/Sig");
        CHECK_STREQ(m->interface, "org.example.Signals");
        CHECK_STREQ(m->member, "Changed");
        CHECK_STREQ(m->destination, ":1.9");
        CHECK_STREQ(m->sender, "org.freedesktop.DBus");
        CHECK(!m->error_name);
        CHECK_EQ(m->reply_serial, 0);
        CHECK_EQ(m->n_unix_fds, 0);
        /* a built message is its own wire form */
        CHECK(m->out_header == m->data);
        CHECK_EQ(m->out_header_size, m->body_offset);
        CHECK(m->stamped_sender == m->sender);
        /* restamping with the same sender keeps it, another sender makes a separate header */
        CHECK_EQ(message_stamp(m, "org.freedesktop.DBus"), 0);
        CHECK(m->out_header == m->data);
        CHECK_EQ(message_stamp(m, ":1.1"), 0);
        CHECK(m->out_header != m->data);
        CHECK_STREQ(m->stamped_sender, ":1.1");
        message_unref(m);

        msg_builder_init(&b, MESSAGE_ERROR, 3);
        b.error_name = "org.example.Error.Failed";
        b.reply_serial = 2;
        b.destination = ":1.2";
        CHECK_EQ(msg_builder_append(&b, "s", "message"), 0);
        m = build(&b);
        CHECK_EQ(m->type, MESSAGE_ERROR);
        CHECK_STREQ(m->error_name, "org.example.Error.Failed");
        CHECK_EQ(m->reply_serial, 2);
        CHECK(!m->path);
        message_unref(m);

        msg_builder_init(&b, MESSAGE_METHOD_RETURN, 4);
        b.reply_serial = 3;
        m = build(&b);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        CHECK_EQ(m->reply_serial, 3);
        CHECK_EQ(m->size, m->body_offset);
        message_unref(m);
}

/* A built message is not parsed back (message_new_built()): its fields are set from what the header was
 * written from. Each must be what the parser of received messages finds in the same bytes. */
static void check_reads_back(struct message *m)
{
        struct message *p = NULL;
        CHECK_EQ(message_new_copy(m->data, m->size, &p), 0);
        CHECK_EQ(p->big_endian, m->big_endian);
        CHECK_EQ(p->type, m->type);
        CHECK_EQ(p->flags, m->flags);
        CHECK_EQ(p->serial, m->serial);
        CHECK_EQ(p->reply_serial, m->reply_serial);
        CHECK_EQ(p->n_unix_fds, m->n_unix_fds);
        const char *got[] = {m->path, m->interface, m->member, m->error_name, m->destination, m->sender};
        const char *want[] = {p->path, p->interface, p->member, p->error_name, p->destination, p->sender};
        for (size_t i = 0; i < ELEMENTSOF(got); i++) {
                CHECK_EQ(!got[i], !want[i]);
                if (got[i]) {
                        CHECK_STREQ(got[i], want[i]);
                        /* into the message's own bytes, as a parsed message's fields are */
                        CHECK((const uint8_t *)got[i] > m->data &&
                              (const uint8_t *)got[i] < m->data + m->size);
                }
        }
        CHECK_STREQ(m->signature, p->signature);
        if (m->signature[0])
                CHECK((const uint8_t *)m->signature > m->data &&
                      (const uint8_t *)m->signature < m->data + m->size);
        /* and it goes out as built */
        CHECK(m->out_header == m->data);
        CHECK_EQ(m->out_header_size, m->body_offset);
        CHECK(m->stamped_sender == m->sender);
        CHECK_EQ(m->body_offset, p->body_offset);
        CHECK_EQ(m->body_size, p->body_size);
        CHECK_EQ(m->header_plain, p->header_plain);
        message_unref(p);
}

static void test_builder_reads_back(void)
{
        struct msg_builder b;
        struct message *m;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);

        /* every string field, a reply serial and fds */
        msg_builder_init(&b, MESSAGE_METHOD_CALL, 7);
        b.flags = MESSAGE_FLAG_NO_AUTO_START;
        b.path = "/org/example/Object";
        b.interface = "org.example.Interface";
        b.member = "Method";
        b.destination = "org.example.Service";
        b.sender = ":1.42";
        CHECK_EQ(msg_builder_append(&b, "sohgu", "text", "/a/b", fd, "a{sv}", 5), 0);
        m = build(&b);
        CHECK_EQ(m->n_unix_fds, 1);
        check_reads_back(m);
        message_unref(m);

        /* no sender: header_plain, as a received header without SENDER */
        msg_builder_init(&b, MESSAGE_SIGNAL, 8);
        b.path = "/";
        b.interface = "org.example.I";
        b.member = "S";
        CHECK_EQ(msg_builder_append(&b, "as", (const char *const[]){"x", "yz", NULL}), 0);
        m = build(&b);
        CHECK(m->header_plain);
        check_reads_back(m);
        message_unref(m);

        /* an error with a reply serial, and an empty reply (no SIGNATURE field: "") */
        CHECK_EQ(message_new_error(9, 3, ":1.2", "org.freedesktop.DBus", "org.example.Error.Failed", "why",
                                   &m),
                 0);
        check_reads_back(m);
        message_unref(m);
        msg_builder_init(&b, MESSAGE_METHOD_RETURN, 10);
        b.reply_serial = 4;
        b.sender = "org.freedesktop.DBus";
        m = build(&b);
        CHECK_STREQ(m->signature, "");
        check_reads_back(m);
        message_unref(m);
        close(fd);
}

/* ---- builder: errors ---- */

static void test_builder_errors(void)
{
        struct msg_builder b;
        struct message *m = NULL;
        char big[300];

        /* missing required header fields: the builder's output goes through the parser */
        msg_builder_init(&b, MESSAGE_METHOD_CALL, 1);
        b.path = "/p";
        CHECK_INVALID(msg_builder_finish(&b, &m));
        msg_builder_init(&b, MESSAGE_METHOD_RETURN, 1);
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.serial = 0;
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.member = "not.a.member";
        CHECK_INVALID(msg_builder_finish(&b, &m));

        builder_call(&b);
        b.interface = "no_dot";
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.destination = "1.bad";
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.sender = ":";
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.path = "/org/freedesktop/DBus/Local"; /* reserved for messages that never travel */
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.interface = "org.freedesktop.DBus.Local";
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        b.type = MESSAGE_INVALID;
        CHECK_INVALID(msg_builder_finish(&b, &m));

        /* invalid values */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'v', "s"), 0); /* a variant that says "s" and holds a u */
        CHECK_EQ(msg_builder_append_basic(&b, 'u', &(uint32_t){7}), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "s", "\xc0\x80"), 0);
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "o", "no/slash"), 0);
        CHECK_INVALID(msg_builder_finish(&b, &m));
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "g", "a{"), 0);
        CHECK_INVALID(msg_builder_finish(&b, &m));

        /* unknown type codes */
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "z", 1), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "ai", 1), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'x', "i"), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);
        builder_call(&b);
        CHECK_EQ(msg_builder_append_basic(&b, 'v', "x"), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);

        /* the first error sticks */
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "z", 1), -EINVAL);
        CHECK_EQ(msg_builder_append(&b, "s", "fine"), -EINVAL);
        CHECK_EQ(msg_builder_open(&b, 'a', "s"), -EINVAL);
        CHECK_EQ(msg_builder_close(&b), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);

        /* unbalanced containers */
        builder_call(&b);
        CHECK_EQ(msg_builder_open(&b, 'a', "s"), 0);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);
        builder_call(&b);
        CHECK_EQ(msg_builder_close(&b), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);

        /* a body signature longer than 255 */
        builder_call(&b);
        for (int k = 0; k < 255; k++)
                CHECK_EQ(msg_builder_append(&b, "y", k), 0);
        CHECK_EQ(msg_builder_append(&b, "y", 0), -E2BIG);
        CHECK_EQ(msg_builder_finish(&b, &m), -E2BIG);
        builder_call(&b);
        for (int k = 0; k < 255; k++)
                CHECK_EQ(msg_builder_append(&b, "y", k), 0);
        m = build(&b);
        CHECK_EQ(strlen(m->signature), 255);
        CHECK_EQ(m->body_size, 255);
        message_unref(m);

        /* a 'g' value longer than 255 */
        memset(big, 'i', 256);
        big[256] = 0;
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "g", big), -EINVAL);
        CHECK_EQ(msg_builder_finish(&b, &m), -EINVAL);

        /* a bad fd */
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "h", -1), -EBADF);
        CHECK_EQ(msg_builder_finish(&b, &m), -EBADF);

        /* msg_builder_done releases without finishing */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "sh", "x", fd), 0);
        CHECK_EQ(b.n_fds, 1);
        int dup = b.fds[0];
        msg_builder_done(&b);
        CHECK_EQ(fcntl(dup, F_GETFD), -1); /* the dup is closed, the original is not */
        CHECK(fcntl(fd, F_GETFD) >= 0);
        close(fd);
}

/* Building and reading a body at the depth limits. */
static void test_builder_depth(void)
{
        struct msg_builder b;
        struct message *m = NULL;
        char sig[80];

        /* 33 nested arrays cannot become a valid message */
        builder_call(&b);
        int r = 0;
        for (int k = 0; k < 33 && r >= 0; k++) {
                memset(sig, 'a', (size_t)(32 - k));
                strcpy(sig + 32 - k, "y");
                r = msg_builder_open(&b, 'a', sig);
        }
        for (int k = 0; k < 33 && r >= 0; k++)
                r = msg_builder_close(&b);
        CHECK(msg_builder_finish(&b, &m) < 0);

        /* 64 nested variants read back level by level */
        builder_call(&b);
        for (int k = 0; k < 64; k++)
                CHECK_EQ(msg_builder_open(&b, 'v', k == 63 ? "u" : "v"), 0);
        CHECK_EQ(msg_builder_append(&b, "u", 77), 0);
        for (int k = 0; k < 64; k++)
                CHECK_EQ(msg_builder_close(&b), 0);
        m = build(&b);
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        for (int k = 0; k < 64; k++)
                CHECK_EQ(msg_reader_enter(&rd, 'v', k == 63 ? "u" : "v"), 0);
        uint32_t u;
        CHECK_EQ(msg_reader_read_basic(&rd, 'u', &u), 0);
        CHECK_EQ(u, 77);
        for (int k = 0; k < 64; k++)
                CHECK_EQ(msg_reader_exit(&rd), 0);
        CHECK_EQ(msg_reader_peek(&rd), 0);
        message_unref(m);

        /* 65 are refused, by the builder's own stack or else by the parser */
        builder_call(&b);
        r = 0;
        for (int k = 0; k < 65 && r >= 0; k++)
                r = msg_builder_open(&b, 'v', k == 64 ? "u" : "v");
        if (r >= 0)
                r = msg_builder_append(&b, "u", 77);
        for (int k = 0; k < 65 && r >= 0; k++)
                r = msg_builder_close(&b);
        r = msg_builder_finish(&b, &m);
        CHECK(r == -E2BIG || error_is_invalid_message(r));
}

/* A big array: the builder's length word and the reader's array end for a multi-megabyte body. */
static void test_builder_big(void)
{
        struct msg_builder b;
        size_t n = 3 * 1024 * 1024 + 5;
        uint8_t *bytes = malloc(n);
        CHECK(bytes);
        for (size_t k = 0; k < n; k++)
                bytes[k] = (uint8_t)(k * 7);
        builder_call(&b);
        CHECK_EQ(msg_builder_append(&b, "y", 1), 0);
        add_array(&b, 'y', bytes, n, 1);
        CHECK_EQ(msg_builder_append(&b, "s", "end"), 0);
        struct message *m = build(&b);
        CHECK_STREQ(m->signature, "yays");
        struct msg_reader r;
        msg_reader_init(&r, m);
        uint8_t y;
        CHECK_EQ(msg_reader_read_basic(&r, 'y', &y), 0);
        CHECK_EQ(msg_reader_enter(&r, 'a', "y"), 0);
        CHECK_EQ(r.stack[r.depth].end - r.pos, n);
        CHECK(memcmp(r.data + r.pos, bytes, n) == 0);
        CHECK_EQ(msg_reader_exit(&r), 0);
        const char *s;
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_STREQ(s, "end");
        message_unref(m);
        free(bytes);
}

/* 64 MiB is the largest array the builder closes; one byte more is -E2BIG, not a bad message. */
static void test_builder_array_limit(void)
{
        for (uint32_t extra = 0; extra <= 1; extra++) {
                struct msg_builder b;
                struct message *m = NULL;
                uint8_t y = 0x5a;

                builder_call(&b);
                CHECK_EQ(msg_builder_open(&b, 'a', "y"), 0);
                for (size_t i = 0; i < DBUS_MAXIMUM_ARRAY_LENGTH + extra; i++)
                        msg_builder_append_basic(&b, 'y', &y);
                CHECK_EQ(b.error, 0);
                CHECK_EQ(msg_builder_close(&b), extra ? -E2BIG : 0);
                CHECK_EQ(msg_builder_finish(&b, &m), extra ? -E2BIG : 0);
                if (!extra) {
                        CHECK_EQ(m->body_size, 4 + DBUS_MAXIMUM_ARRAY_LENGTH);
                        CHECK_EQ(wire_u32(m->data + m->body_offset, m->big_endian),
                                 DBUS_MAXIMUM_ARRAY_LENGTH);
                        message_unref(m);
                }
        }
}

int main(void)
{
        int failed = 0;

        atexit(report_sample);
        RUN(test_samples_read);
        RUN(test_samples_skip);
        RUN(test_reader_navigation);
        RUN(test_reader_skip_dict_entries);
        RUN(test_builder_basic_roundtrip);
        RUN(test_builder_matches_glib);
        RUN(test_builder_headers);
        RUN(test_builder_reads_back);
        RUN(test_builder_errors);
        RUN(test_builder_depth);
        RUN(test_builder_big);
        RUN(test_builder_array_limit);
        return failed ? 1 : 0;
}
