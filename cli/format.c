/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Printing message bodies the way busctl does (format.h). Both printers walk
 * the body with lib's zero-copy reader; the signature of the value under the
 * reader is the reader's own frame, so nothing is parsed twice.
 */
#include <errno.h>
#include <inttypes.h>

#include "format.h"
#include "util.h"

/* The complete type under the reader (after msg_reader_peek() said there is one) and its length. */
static const char *current_type(struct msg_reader *r, size_t *len)
{
        const char *sig = r->stack[r->depth].sig_pos;
        *len = signature_next_complete(sig);
        return sig;
}

/* The signature of the level the reader has just entered (a variant's contents, an array's element). */
static void print_level_signature(struct msg_reader *r, FILE *f)
{
        const struct msg_reader_frame *fr = &r->stack[r->depth];
        fprintf(f, "%.*s", (int)(fr->sig_end - fr->sig), fr->sig);
}

/* Elements of the array under r, without moving r. */
static int array_count(const struct msg_reader *r, uint32_t *ret)
{
        struct msg_reader c = *r;
        int k = msg_reader_enter(&c, 'a', NULL);
        uint32_t n = 0;
        while (k >= 0 && msg_reader_peek(&c)) {
                k = msg_reader_skip(&c);
                n++;
        }
        *ret = n;
        return k < 0 ? k : 0;
}

/* A string as busctl quotes it: C escapes, and octal for every other byte below ' ' or from 127 on. */
static void print_quoted(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                static const char from[] = "\a\b\f\n\r\t\v\\\"\'", to[] = "abfnrtv\\\"\'";
                const char *e = strchr(from, *p);
                if (e)
                        fprintf(f, "\\%c", to[e - from]);
                else if (*p < ' ' || *p >= 127)
                        fprintf(f, "\\%03o", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static int print_basic(struct msg_reader *r, char t, FILE *f)
{
        union msg_basic v;
        int k = msg_reader_read_basic(r, t, &v);
        if (k < 0)
                return k;
        switch (t) {
        case 'y':
                fprintf(f, "%u", v.y);
                break;
        case 'b':
                fputs(v.i ? "true" : "false", f);
                break;
        case 'n':
                fprintf(f, "%d", v.n);
                break;
        case 'q':
                fprintf(f, "%u", v.q);
                break;
        case 'i':
        case 'h':
                fprintf(f, "%d", v.i);
                break;
        case 'u':
                fprintf(f, "%" PRIu32, v.u);
                break;
        case 'x':
                fprintf(f, "%" PRId64, v.x);
                break;
        case 't':
                fprintf(f, "%" PRIu64, v.t);
                break;
        case 'd':
                fprintf(f, "%g", v.d);
                break;
        default: /* s, o, g */
                print_quoted(f, v.s);
        }
        return 0;
}

int format_cmdline(struct msg_reader *r, FILE *f)
{
        for (bool first = true; msg_reader_peek(r); first = false) {
                if (!first)
                        fputc(' ', f);
                int k = format_cmdline_one(r, f);
                if (k < 0)
                        return k;
        }
        return 0;
}

int format_cmdline_one(struct msg_reader *r, FILE *f)
{
        char t = msg_reader_peek(r);
        if (!t)
                return -ENXIO;
        int k;
        if (t == 'a') {
                uint32_t n;
                k = array_count(r, &n);
                if (k < 0)
                        return k;
                fprintf(f, "%" PRIu32, n);
                if (n > 0)
                        fputc(' ', f);
        } else if (t == 'v') {
                k = msg_reader_enter(r, 'v', NULL);
                if (k < 0)
                        return k;
                print_level_signature(r, f);
                fputc(' ', f);
                k = format_cmdline(r, f);
                return k < 0 ? k : msg_reader_exit(r);
        }
        if (t == 'a' || t == '(' || t == '{') {
                if ((k = msg_reader_enter(r, t, NULL)) < 0 || (k = format_cmdline(r, f)) < 0)
                        return k;
                return msg_reader_exit(r);
        }
        return print_basic(r, t, f);
}

static struct json_object *json_basic(struct msg_reader *r, char t)
{
        union msg_basic v;
        if (msg_reader_read_basic(r, t, &v) < 0) {
                errno = EBADMSG;
                return NULL;
        }
        switch (t) {
        case 'y':
                return json_object_new_int(v.y);
        case 'b':
                return json_object_new_boolean(v.i);
        case 'n':
                return json_object_new_int(v.n);
        case 'q':
                return json_object_new_int(v.q);
        case 'i':
        case 'h':
                return json_object_new_int(v.i);
        case 'u':
                return json_object_new_int64(v.u);
        case 'x':
                return json_object_new_int64(v.x);
        case 't':
                return json_object_new_uint64(v.t);
        case 'd':
                return json_object_new_double(v.d);
        default:
                return json_object_new_string(v.s);
        }
}

static struct json_object *json_value(struct msg_reader *r);

/* An array of dict entries is a JSON object, its keys as strings (as busctl's). */
static struct json_object *json_dict(struct msg_reader *r)
{
        struct json_object *o = json_object_new_object();
        while (o && msg_reader_peek(r)) {
                char key[64];
                const char *k = key;
                union msg_basic v;
                char kt;
                if (msg_reader_enter(r, '{', NULL) < 0 || !(kt = msg_reader_peek(r)) ||
                    msg_reader_read_basic(r, kt, &v) < 0)
                        goto bad;
                if (kt == 's' || kt == 'o' || kt == 'g')
                        k = v.s;
                else if (kt == 'd')
                        snprintf(key, sizeof(key), "%g", v.d);
                else if (kt == 't')
                        snprintf(key, sizeof(key), "%" PRIu64, v.t);
                else if (kt == 'x')
                        snprintf(key, sizeof(key), "%" PRId64, v.x);
                else
                        snprintf(key, sizeof(key), "%" PRId64,
                                 kt == 'y'   ? (int64_t)v.y
                                 : kt == 'n' ? (int64_t)v.n
                                 : kt == 'q' ? (int64_t)v.q
                                 : kt == 'u' ? (int64_t)v.u
                                             : (int64_t)v.i);
                struct json_object *val = json_value(r);
                if (!val || msg_reader_exit(r) < 0 || json_object_object_add(o, k, val) < 0) {
                        json_object_put(val);
                        goto bad;
                }
        }
        return o;
bad:
        json_object_put(o);
        errno = EBADMSG;
        return NULL;
}

static struct json_object *json_value(struct msg_reader *r)
{
        char t = msg_reader_peek(r);
        size_t len;
        const char *sig = current_type(r, &len);
        struct json_object *o = NULL;
        if (t == 'v') {
                if (msg_reader_enter(r, 'v', NULL) < 0)
                        goto bad;
                const struct msg_reader_frame *fr = &r->stack[r->depth];
                struct json_object *data = json_value(r);
                o = json_object_new_object();
                if (!data || !o ||
                    json_object_object_add(
                            o, "type", json_object_new_string_len(fr->sig, (int)(fr->sig_end - fr->sig))) <
                            0 ||
                    json_object_object_add(o, "data", data) < 0) {
                        json_object_put(data);
                        goto bad;
                }
        } else if (t == 'a' && sig[1] == '{') {
                if (msg_reader_enter(r, 'a', NULL) < 0 || !(o = json_dict(r)))
                        goto bad;
        } else if (t == 'a' || t == '(') {
                if (msg_reader_enter(r, t, NULL) < 0 || !(o = format_json_values(r)))
                        goto bad;
        } else {
                return json_basic(r, t);
        }
        if (msg_reader_exit(r) < 0)
                goto bad;
        return o;
bad:
        json_object_put(o);
        errno = EBADMSG;
        return NULL;
}

struct json_object *format_json_values(struct msg_reader *r)
{
        struct json_object *a = json_object_new_array();
        while (a && msg_reader_peek(r)) {
                struct json_object *v = json_value(r);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

int format_json_print(struct json_object *j, bool pretty)
{
        if (!j)
                return -ENOMEM;
        puts(json_object_to_json_string_ext(j, pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                      : JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
        return 0;
}

int format_body_cmdline(const struct message *m, FILE *f)
{
        if (!m->signature[0])
                return 0;
        struct msg_reader r;
        msg_reader_init(&r, m);
        fprintf(f, "%s ", m->signature);
        int k = format_cmdline(&r, f);
        fputc('\n', f);
        return k;
}

/* {"type": sig, "data": data}, taking data. */
static struct json_object *typed(const char *sig, size_t len, struct json_object *data)
{
        struct json_object *o = data ? json_object_new_object() : NULL;
        if (!o || json_object_object_add(o, "type", json_object_new_string_len(sig, (int)len)) < 0 ||
            json_object_object_add(o, "data", data) < 0) {
                json_object_put(o);
                json_object_put(data);
                return NULL;
        }
        return o;
}

struct json_object *format_body_json(const struct message *m)
{
        struct msg_reader r;
        msg_reader_init(&r, m);
        return typed(m->signature, strlen(m->signature), format_json_values(&r));
}

int format_variant_cmdline(const struct message *m, FILE *f)
{
        struct msg_reader r;
        msg_reader_init(&r, m);
        int k = msg_reader_enter(&r, 'v', NULL);
        if (k < 0)
                return k;
        print_level_signature(&r, f);
        fputc(' ', f);
        k = format_cmdline(&r, f);
        fputc('\n', f);
        return k;
}

struct json_object *format_variant_json(const struct message *m)
{
        struct msg_reader r;
        msg_reader_init(&r, m);
        if (msg_reader_enter(&r, 'v', NULL) < 0)
                return NULL;
        const struct msg_reader_frame *fr = &r.stack[r.depth];
        return typed(fr->sig, (size_t)(fr->sig_end - fr->sig), json_value(&r));
}

static const char *type_name(char t)
{
        switch (t) {
        case 'y':
                return "BYTE";
        case 'b':
                return "BOOLEAN";
        case 'n':
                return "INT16";
        case 'q':
                return "UINT16";
        case 'i':
                return "INT32";
        case 'u':
                return "UINT32";
        case 'x':
                return "INT64";
        case 't':
                return "UINT64";
        case 'd':
                return "DOUBLE";
        case 's':
                return "STRING";
        case 'o':
                return "OBJECT_PATH";
        case 'g':
                return "SIGNATURE";
        case 'h':
                return "UNIX_FD";
        case 'a':
                return "ARRAY";
        case 'v':
                return "VARIANT";
        case '(':
                return "STRUCT";
        default:
                return "DICT_ENTRY";
        }
}

int format_dump_values(struct msg_reader *r, FILE *f, int indent)
{
        char t;
        while ((t = msg_reader_peek(r))) {
                int k;
                if (t == 'a' || t == 'v' || t == '(' || t == '{') {
                        if ((k = msg_reader_enter(r, t, NULL)) < 0)
                                return k;
                        const struct msg_reader_frame *fr = &r->stack[r->depth];
                        fprintf(f, "%*s%s \"%.*s\" {\n", indent, "", type_name(t),
                                (int)(fr->sig_end - fr->sig), fr->sig);
                        if ((k = format_dump_values(r, f, indent + 8)) < 0 || (k = msg_reader_exit(r)) < 0)
                                return k;
                        fprintf(f, "%*s};\n", indent, "");
                        continue;
                }
                fprintf(f, "%*s%s ", indent, "", type_name(t));
                if (t == 's' || t == 'o' || t == 'g') {
                        /* As sd-bus dumps them: quoted, not escaped. */
                        const char *v;
                        if ((k = msg_reader_read_basic(r, t, &v)) < 0)
                                return k;
                        fprintf(f, "\"%s\"", v);
                } else if ((k = format_cmdline_one(r, f)) < 0)
                        return k;
                fputs(";\n", f);
        }
        return 0;
}
