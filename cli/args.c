/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* busctl's argument syntax, turned into a message body (args.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "args.h"
#include "util.h"

static const struct {
        char type;
        const char *name;
        int64_t min;
        uint64_t max;
} integers[] = {
        {'y', "byte (unsigned 8-bit integer)", 0, UINT8_MAX},
        {'n', "signed 16-bit integer", INT16_MIN, INT16_MAX},
        {'q', "unsigned 16-bit integer", 0, UINT16_MAX},
        {'i', "signed 32-bit integer", INT32_MIN, INT32_MAX},
        {'u', "unsigned 32-bit integer", 0, UINT32_MAX},
        {'x', "signed 64-bit integer", INT64_MIN, INT64_MAX},
        {'t', "unsigned 64-bit integer", 0, UINT64_MAX},
};

static int bad(char *err, size_t errlen, const char *word, const char *what)
{
        snprintf(err, errlen, "'%s' is not a %s", word, what);
        return -EINVAL;
}

/* One integer of type t from word into v (the union the builder takes for that type). */
static int parse_integer(char t, const char *word, void *v, char *err, size_t errlen)
{
        size_t i = 0;
        while (integers[i].type != t)
                i++;
        char *end;
        errno = 0;
        if (integers[i].min < 0) {
                long long x = strtoll(word, &end, 0);
                if (errno || end == word || *end || x < integers[i].min || x > (long long)integers[i].max)
                        return bad(err, errlen, word, integers[i].name);
                if (t == 'n')
                        *(int16_t *)v = (int16_t)x;
                else if (t == 'i')
                        *(int32_t *)v = (int32_t)x;
                else
                        *(int64_t *)v = x;
                return 0;
        }
        unsigned long long x = strtoull(word, &end, 0);
        if (errno || end == word || *end || word[0] == '-' || x > integers[i].max)
                return bad(err, errlen, word, integers[i].name);
        if (t == 'y')
                *(uint8_t *)v = (uint8_t)x;
        else if (t == 'q')
                *(uint16_t *)v = (uint16_t)x;
        else if (t == 'u')
                *(uint32_t *)v = (uint32_t)x;
        else
                *(uint64_t *)v = x;
        return 0;
}

static int parse_boolean(const char *word)
{
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(word, yes[i]) == 0)
                        return 1;
                if (strcasecmp(word, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* An fd: the number of one of ours, or a path to open. The builder sends a duplicate. */
static int parse_fd(const char *word, int *fd, bool *opened, char *err, size_t errlen)
{
        *opened = false;
        if (word[0] && strspn(word, "0123456789") == strlen(word)) {
                long v = strtol(word, NULL, 10);
                if (v > INT32_MAX || fcntl((int)v, F_GETFD) < 0)
                        return bad(err, errlen, word, "file descriptor that nsbusctl has open");
                *fd = (int)v;
                return 0;
        }
        *fd = open(word, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (*fd < 0) {
                int r = -errno;
                snprintf(err, errlen, "cannot open '%s' to pass it as a file descriptor: %s", word,
                         strerror(-r));
                return r;
        }
        *opened = true;
        return 0;
}

static int append_basic(struct msg_builder *b, char t, const char *word, char *err, size_t errlen)
{
        union msg_basic v;
        int r = 0;
        bool opened = false;
        switch (t) {
        case 'b':
                v.h = parse_boolean(word);
                if (v.h < 0)
                        return bad(err, errlen, word, "boolean (true/false, yes/no, 1/0, on/off)");
                break;
        case 'd': {
                char *end;
                errno = 0;
                v.d = strtod(word, &end);
                if (errno || end == word || *end)
                        return bad(err, errlen, word, "double precision floating point number");
                break;
        }
        case 's':
                if (!utf8_validate(word, strlen(word)))
                        return bad(err, errlen, word, "string (it is not UTF-8)");
                return msg_builder_append_basic(b, t, &word);
        case 'o':
                if (!dbus_validate_object_path(word, strlen(word)))
                        return bad(err, errlen, word, "object path");
                return msg_builder_append_basic(b, t, &word);
        case 'g':
                if (!signature_validate(word, strlen(word)))
                        return bad(err, errlen, word, "signature");
                return msg_builder_append_basic(b, t, &word);
        case 'h':
                r = parse_fd(word, &v.h, &opened, err, errlen);
                if (r < 0)
                        return r;
                break;
        default:
                r = parse_integer(t, word, &v, err, errlen);
                if (r < 0)
                        return r;
        }
        r = msg_builder_append_basic(b, t, &v);
        if (opened)
                close(v.h);
        return r;
}

/* The next word, or an error that says which type had no value. */
static const char *next_word(char ***argv, const char *type, size_t len, char *err, size_t errlen)
{
        const char *w = **argv;
        if (!w) {
                snprintf(err, errlen, "too few arguments: a value of type '%.*s' is missing", (int)len,
                         type);
                return NULL;
        }
        (*argv)++;
        return w;
}

int args_append(struct msg_builder *b, const char *signature, char ***argv, char *err, size_t errlen)
{
        for (const char *t = signature; *t;) {
                size_t len = signature_next_complete(t);
                if (len == 0) {
                        snprintf(err, errlen, "invalid signature '%s'", signature);
                        return -EINVAL;
                }
                const char *w = next_word(argv, t, len, err, errlen);
                if (!w)
                        return -EINVAL;
                int r;
                if (*t == 'a') {
                        uint32_t n;
                        if (parse_integer('u', w, &n, err, errlen) < 0)
                                return bad(err, errlen, w, "number of array elements");
                        char elem[DBUS_MAXIMUM_SIGNATURE_LENGTH + 1];
                        snprintf(elem, sizeof(elem), "%.*s", (int)len - 1, t + 1);
                        msg_builder_open(b, 'a', elem);
                        for (uint32_t i = 0; i < n; i++)
                                if ((r = args_append(b, elem, argv, err, errlen)) < 0)
                                        return r;
                        r = msg_builder_close(b);
                } else if (*t == 'v') {
                        if (!signature_validate_single(w, strlen(w)))
                                return bad(err, errlen, w, "single complete type for a variant");
                        msg_builder_open(b, 'v', w);
                        if ((r = args_append(b, w, argv, err, errlen)) < 0)
                                return r;
                        r = msg_builder_close(b);
                } else if (*t == '(' || *t == '{') {
                        char inner[DBUS_MAXIMUM_SIGNATURE_LENGTH + 1];
                        snprintf(inner, sizeof(inner), "%.*s", (int)len - 2, t + 1);
                        (*argv)--; /* a struct has no word of its own */
                        msg_builder_open(b, *t, inner);
                        if ((r = args_append(b, inner, argv, err, errlen)) < 0)
                                return r;
                        r = msg_builder_close(b);
                } else {
                        r = append_basic(b, *t, w, err, errlen);
                }
                if (r < 0) {
                        if (!err[0])
                                snprintf(err, errlen, "cannot build the message: %s", strerror(-r));
                        return r;
                }
                t += len;
        }
        return 0;
}
