/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The body reader and the message builder.
 *
 * The reader walks a body that message_new_from_data() already validated,
 * handing out pointers into the message instead of copies. The builder
 * writes a body in native byte order; message_new_built() then checks its
 * header fields and validates its body as every received message's are, so
 * a bug in the builder shows up as an error here rather than as a malformed
 * message on a peer.
 */
#include <fcntl.h>
#include <stdarg.h>

#include "message.h"
#include "wire.h"

/* ---- reader ---- */

void msg_reader_init(struct msg_reader *r, const struct message *m)
{
        *r = (struct msg_reader){
                .data = m->data + m->body_offset,
                .pos = 0,
                .big_endian = m->big_endian,
                .depth = 0,
                .fds = m->fds,
                .n_fds = m->n_fds,
        };
        r->stack[0] = (struct msg_reader_frame){
                .sig = m->signature,
                .sig_pos = m->signature,
                .sig_end = m->signature + strlen(m->signature),
                .end = m->body_size,
                .kind = 0,
        };
}

char msg_reader_peek(struct msg_reader *r)
{
        struct msg_reader_frame *f = &r->stack[r->depth];
        if (f->kind == 'a') {
                if (r->pos >= f->end)
                        return 0;
                if (f->sig_pos == f->sig_end)
                        f->sig_pos = f->sig; /* next element */
        }
        return f->sig_pos < f->sig_end ? *f->sig_pos : 0;
}

int msg_reader_read_basic(struct msg_reader *r, char type, void *out)
{
        if (msg_reader_peek(r) != type)
                return -ENXIO;
        struct msg_reader_frame *f = &r->stack[r->depth];
        const uint8_t *d = r->data;
        unsigned fs = wire_fixed_size(type);

        if (fs) {
                r->pos = ALIGN_TO(r->pos, fs);
                const uint8_t *p = d + r->pos;
                switch (type) {
                case 'y':
                        *(uint8_t *)out = *p;
                        break;
                case 'n':
                case 'q':
                        *(uint16_t *)out = wire_u16(p, r->big_endian);
                        break;
                case 'b':
                        *(int *)out = wire_u32(p, r->big_endian) != 0;
                        break;
                case 'i':
                case 'u':
                        *(uint32_t *)out = wire_u32(p, r->big_endian);
                        break;
                case 'h': {
                        uint32_t idx = wire_u32(p, r->big_endian);
                        if (idx >= r->n_fds)
                                return -EBADMSG;
                        *(int *)out = r->fds[idx];
                        break;
                }
                default: /* x t d */
                        *(uint64_t *)out = wire_u64(p, r->big_endian);
                        break;
                }
                r->pos += fs;
        } else if (type == 's' || type == 'o' || type == 'g') {
                size_t len;
                if (type == 'g') {
                        len = d[r->pos];
                        r->pos += 1;
                } else {
                        r->pos = ALIGN_TO(r->pos, 4);
                        len = wire_u32(d + r->pos, r->big_endian);
                        r->pos += 4;
                }
                *(const char **)out = (const char *)d + r->pos;
                r->pos += len + 1;
        } else {
                return -EINVAL;
        }
        f->sig_pos++;
        return 0;
}

static bool contents_match(const char *contents, const char *sig, size_t len)
{
        return !contents || (strlen(contents) == len && memcmp(contents, sig, len) == 0);
}

int msg_reader_enter(struct msg_reader *r, char type, const char *contents)
{
        if (msg_reader_peek(r) != type)
                return -ENXIO;
        if (r->depth + 1 >= ELEMENTSOF(r->stack))
                return -EBADMSG;
        struct msg_reader_frame *f = &r->stack[r->depth];
        struct msg_reader_frame *n = &r->stack[r->depth + 1];
        const uint8_t *d = r->data;

        switch (type) {
        case 'a': {
                const char *elem = f->sig_pos + 1;
                size_t elen = signature_next_complete(elem);
                if (!contents_match(contents, elem, elen))
                        return -ENXIO;
                r->pos = ALIGN_TO(r->pos, 4);
                uint32_t len = wire_u32(d + r->pos, r->big_endian);
                r->pos = ALIGN_TO(r->pos + 4, wire_alignment(elem[0]));
                *n = (struct msg_reader_frame){.sig = elem,
                                               .sig_pos = elem,
                                               .sig_end = elem + elen,
                                               .end = r->pos + len,
                                               .kind = 'a'};
                f->sig_pos = elem + elen;
                break;
        }
        case '(':
        case '{': {
                size_t full = signature_next_complete(f->sig_pos);
                if (!contents_match(contents, f->sig_pos + 1, full - 2))
                        return -ENXIO;
                r->pos = ALIGN_TO(r->pos, 8);
                *n = (struct msg_reader_frame){.sig = f->sig_pos + 1,
                                               .sig_pos = f->sig_pos + 1,
                                               .sig_end = f->sig_pos + full - 1,
                                               .end = f->end,
                                               .kind = type};
                f->sig_pos += full;
                break;
        }
        case 'v': {
                size_t len = d[r->pos];
                const char *vs = (const char *)d + r->pos + 1;
                if (!contents_match(contents, vs, len))
                        return -ENXIO;
                r->pos += len + 2;
                *n = (struct msg_reader_frame){
                        .sig = vs, .sig_pos = vs, .sig_end = vs + len, .end = f->end, .kind = 'v'};
                f->sig_pos++;
                break;
        }
        default:
                return -EINVAL;
        }
        r->depth++;
        return 0;
}

int msg_reader_skip(struct msg_reader *r)
{
        if (!msg_reader_peek(r))
                return -ENXIO;
        struct msg_reader_frame *f = &r->stack[r->depth];
        const char *s = f->sig_pos;
        r->pos = wire_skip_value(r->data, r->pos, &s, r->big_endian);
        f->sig_pos = s;
        return 0;
}

int msg_reader_read_bytes(struct msg_reader *r, const uint8_t **ret, size_t *ret_len)
{
        int e = msg_reader_enter(r, 'a', "y");
        if (e < 0)
                return e;
        struct msg_reader_frame *f = &r->stack[r->depth];
        /* The body was validated when the message was parsed: the array lies within it. */
        *ret = r->data + r->pos;
        *ret_len = f->end - r->pos;
        r->pos = f->end;
        return msg_reader_exit(r);
}

int msg_reader_exit(struct msg_reader *r)
{
        if (r->depth == 0)
                return -EINVAL;
        struct msg_reader_frame *f = &r->stack[r->depth];
        if (f->kind == 'a')
                r->pos = f->end;
        else
                while (f->sig_pos < f->sig_end)
                        if (msg_reader_skip(r) < 0)
                                return -EBADMSG;
        r->depth--;
        return 0;
}

int message_read(const struct message *m, const char *sig, ...)
{
        struct msg_reader r;
        va_list ap;
        int ret = 0;

        if (!streq(m->signature, sig))
                return -ENXIO;
        msg_reader_init(&r, m);
        va_start(ap, sig);
        for (const char *t = sig; *t && ret >= 0; t++) {
                if (t[0] == 'a' && t[1] == 's') {
                        const char ***out = va_arg(ap, const char ***);
                        const char **v = NULL;
                        size_t n = 0, allocated = 0;
                        const char *s;
                        ret = msg_reader_enter(&r, 'a', "s");
                        while (ret >= 0 && msg_reader_peek(&r)) {
                                if (GREEDY_REALLOC(v, allocated, n + 2) < 0) {
                                        ret = -ENOMEM;
                                        break;
                                }
                                ret = msg_reader_read_basic(&r, 's', &s);
                                if (ret < 0)
                                        break;
                                v[n++] = s;
                        }
                        if (ret >= 0 && GREEDY_REALLOC(v, allocated, n + 1) < 0)
                                ret = -ENOMEM;
                        if (ret < 0) {
                                free(v);
                                break;
                        }
                        v[n] = NULL;
                        msg_reader_exit(&r);
                        *out = v;
                        t++;
                } else if (wire_is_basic(*t)) {
                        ret = msg_reader_read_basic(&r, *t, va_arg(ap, void *));
                } else {
                        ret = -EINVAL;
                }
        }
        va_end(ap);
        return ret;
}

/* ---- builder ---- */

void msg_builder_init(struct msg_builder *b, uint8_t type, uint32_t serial)
{
        memset(b, 0, sizeof(*b));
        b->type = type;
        b->serial = serial;
}

void msg_builder_done(struct msg_builder *b)
{
        free(b->buf);
        b->buf = NULL;
        close_fds(b->fds, b->n_fds);
        free(b->fds);
        b->fds = NULL;
        b->n_fds = 0;
}

static bool b_reserve(struct msg_builder *b, size_t n)
{
        if (b->error)
                return false;
        if (b->size + n > DBUS_MAXIMUM_MESSAGE_LENGTH) {
                b->error = -E2BIG;
                return false;
        }
        if (GREEDY_REALLOC(b->buf, b->allocated, b->size + n) < 0) {
                b->error = -ENOMEM;
                return false;
        }
        return true;
}

static bool b_pad(struct msg_builder *b, unsigned a)
{
        size_t np = ALIGN_TO(b->size, a);
        if (!b_reserve(b, np - b->size + 8))
                return false;
        memset(b->buf + b->size, 0, np - b->size);
        b->size = np;
        return true;
}

static void b_sig_append(struct msg_builder *b, const char *s, size_t n)
{
        if (b->depth > 0 || b->error)
                return;
        if (b->sig_len + n > DBUS_MAXIMUM_SIGNATURE_LENGTH) {
                b->error = -E2BIG;
                return;
        }
        memcpy(b->signature + b->sig_len, s, n);
        b->sig_len += n;
        b->signature[b->sig_len] = 0;
}

int msg_builder_append_basic(struct msg_builder *b, char t, const void *value)
{
        unsigned fs = wire_fixed_size(t);
        b_sig_append(b, &t, 1);

        if (fs) {
                if (!b_pad(b, fs) || !b_reserve(b, fs))
                        return b->error;
                uint8_t *p = b->buf + b->size;
                switch (t) {
                case 'y':
                        *p = *(const uint8_t *)value;
                        break;
                case 'n':
                case 'q':
                        memcpy(p, value, 2);
                        break;
                case 'b': {
                        uint32_t v = *(const int *)value ? 1 : 0;
                        memcpy(p, &v, 4);
                        break;
                }
                case 'h': {
                        int fd = fcntl(*(const int *)value, F_DUPFD_CLOEXEC, 3);
                        if (fd < 0 || GREEDY_REALLOC(b->fds, b->allocated_fds_, b->n_fds + 1) < 0) {
                                if (fd >= 0)
                                        close(fd);
                                b->error = fd < 0 ? -errno : -ENOMEM;
                                return b->error;
                        }
                        uint32_t idx = (uint32_t)b->n_fds;
                        b->fds[b->n_fds++] = fd;
                        memcpy(p, &idx, 4);
                        break;
                }
                default:
                        memcpy(p, value, fs);
                }
                b->size += fs;
                return 0;
        }

        if (t == 's' || t == 'o' || t == 'g') {
                const char *s = *(const char *const *)value;
                size_t l = strlen(s);
                if (t == 'g') {
                        if (l > DBUS_MAXIMUM_SIGNATURE_LENGTH) {
                                b->error = -EINVAL;
                                return b->error;
                        }
                        if (!b_reserve(b, l + 2))
                                return b->error;
                        b->buf[b->size++] = (uint8_t)l;
                } else {
                        if (!b_pad(b, 4) || !b_reserve(b, 4 + l + 1))
                                return b->error;
                        uint32_t v = (uint32_t)l;
                        memcpy(b->buf + b->size, &v, 4);
                        b->size += 4;
                }
                memcpy(b->buf + b->size, s, l + 1);
                b->size += l + 1;
                return 0;
        }
        b->error = -EINVAL;
        return b->error;
}

int msg_builder_open(struct msg_builder *b, char t, const char *contents)
{
        if (b->error)
                return b->error;
        if (b->depth >= ELEMENTSOF(b->stack)) {
                b->error = -E2BIG;
                return b->error;
        }
        size_t cl = strlen(contents);
        switch (t) {
        case 'a':
                b_sig_append(b, "a", 1);
                b_sig_append(b, contents, cl);
                break;
        case '(':
                b_sig_append(b, "(", 1);
                b_sig_append(b, contents, cl);
                b_sig_append(b, ")", 1);
                break;
        case '{':
                break; /* only inside an array, whose signature already says it */
        case 'v':
                b_sig_append(b, "v", 1);
                break;
        default:
                b->error = -EINVAL;
                return b->error;
        }

        typeof(b->stack[0]) *f = &b->stack[b->depth];
        f->type = t;
        if (t == 'a') {
                if (!b_pad(b, 4) || !b_reserve(b, 4))
                        return b->error;
                f->len_offset = b->size;
                memset(b->buf + b->size, 0, 4);
                b->size += 4;
                if (!b_pad(b, wire_alignment(contents[0])))
                        return b->error;
                f->start = b->size;
        } else if (t == 'v') {
                const char *p = contents;
                unsigned saved = b->depth;
                b->depth = 1; /* the variant's own signature is data, not part of the body signature */
                msg_builder_append_basic(b, 'g', &p);
                b->depth = saved;
        } else if (!b_pad(b, 8)) {
                return b->error;
        }
        b->depth++;
        return b->error;
}

int msg_builder_append_entry(struct msg_builder *b, const char *key, char type, const void *value)
{
        const char sig[2] = {type, 0};
        msg_builder_open(b, '{', "sv");
        msg_builder_append_basic(b, 's', &key);
        msg_builder_open(b, 'v', sig);
        msg_builder_append_basic(b, type, value);
        msg_builder_close(b);
        return msg_builder_close(b);
}

int msg_builder_append_bytes(struct msg_builder *b, const void *bytes, size_t n)
{
        if (msg_builder_open(b, 'a', "y") < 0)
                return b->error;
        if (n > DBUS_MAXIMUM_ARRAY_LENGTH)
                return (b->error = -E2BIG);
        if (!b_reserve(b, n))
                return b->error;
        if (n)
                memcpy(b->buf + b->size, bytes, n);
        b->size += n;
        return msg_builder_close(b);
}

int msg_builder_close(struct msg_builder *b)
{
        if (b->error)
                return b->error;
        if (b->depth == 0)
                return (b->error = -EINVAL);
        typeof(b->stack[0]) *f = &b->stack[--b->depth];
        if (f->type == 'a') {
                size_t len = b->size - f->start;
                if (len > DBUS_MAXIMUM_ARRAY_LENGTH)
                        return (b->error = -E2BIG);
                uint32_t v = (uint32_t)len;
                memcpy(b->buf + f->len_offset, &v, 4);
        }
        return 0;
}

int msg_builder_append(struct msg_builder *b, const char *sig, ...)
{
        va_list ap;
        va_start(ap, sig);
        int r = msg_builder_appendv(b, sig, ap);
        va_end(ap);
        return r;
}

int msg_builder_appendv(struct msg_builder *b, const char *sig, va_list ap)
{
        for (const char *t = sig; *t && !b->error; t++) {
                union msg_basic v;
                switch (*t) {
                case 'y':
                        v.y = (uint8_t)va_arg(ap, int);
                        break;
                case 'b':
                case 'h':
                        v.h = va_arg(ap, int);
                        break;
                case 'n':
                case 'q':
                        v.n = (int16_t)va_arg(ap, int);
                        break;
                case 'i':
                case 'u':
                        v.i = va_arg(ap, int32_t);
                        break;
                case 'x':
                case 't':
                        v.x = va_arg(ap, int64_t);
                        break;
                case 'd':
                        v.d = va_arg(ap, double);
                        break;
                case 's':
                case 'o':
                case 'g':
                        v.s = va_arg(ap, const char *);
                        break;
                case 'a':
                        if (t[1] == 's') {
                                const char *const *strv = va_arg(ap, const char *const *);
                                msg_builder_open(b, 'a', "s");
                                for (; strv && *strv; strv++)
                                        msg_builder_append_basic(b, 's', strv);
                                msg_builder_close(b);
                                t++;
                                continue;
                        }
                        /* fall through */
                default:
                        b->error = -EINVAL;
                        continue;
                }
                msg_builder_append_basic(b, *t, &v);
        }
        return b->error;
}

int msg_builder_finish(struct msg_builder *b, struct message **ret)
{
        int r = b->error;
        if (r >= 0 && b->depth != 0)
                r = -EINVAL;
        if (r < 0) {
                msg_builder_done(b);
                return r;
        }

        struct hdr_fields f = {
                .type = b->type,
                .flags = b->flags,
                .body_size = (uint32_t)b->size,
                .serial = b->serial,
                .reply_serial = b->reply_serial,
                .n_unix_fds = (uint32_t)b->n_fds,
                .path = b->path,
                .interface = b->interface,
                .member = b->member,
                .error_name = b->error_name,
                .destination = b->destination,
                .sender = b->sender,
                .signature = b->signature,
        };
        struct message *m;
        r = message_new_built(WIRE_NATIVE_BIG_ENDIAN, &f, b->buf, &m);
        if (r < 0) {
                msg_builder_done(b);
                return r;
        }
        message_attach_fds(m, b->fds, b->n_fds);
        b->fds = NULL;
        b->n_fds = 0;
        msg_builder_done(b);
        *ret = m;
        return 0;
}

int message_new_error(uint32_t serial, uint32_t reply_serial, const char *destination, const char *sender,
                      const char *name, const char *text, struct message **ret)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_ERROR, serial);
        b.flags = MESSAGE_FLAG_NO_REPLY_EXPECTED;
        b.reply_serial = reply_serial;
        b.error_name = name;
        b.destination = destination;
        b.sender = sender;
        msg_builder_append(&b, "s", utf8_validate(text, strlen(text)) ? text : name);
        return msg_builder_finish(&b, ret);
}
