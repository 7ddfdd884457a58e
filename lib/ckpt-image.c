/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building and parsing connection images (see ckpt-image.h for the format).
 *
 * The parser trusts nothing: the framing is checked first (magic, version,
 * length), then the message through the bus's own parser, then every field
 * against the rules a live connection obeys (a unique name this bus could
 * have made, well-known names that RequestName would take, flags that
 * exist, serials that are not 0), and every count against a bound before
 * anything is allocated for it. An error says which field and why.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt-image.h"
#include "message.h"
#include "util.h"

void ckpt_image_done(struct ckpt_image *img)
{
        free(img->unique_name);
        free(img->container);
        free(img->host_socket);
        free(img->bus_socket);
        free(img->groups);
        for (size_t i = 0; i < img->n_names; i++)
                free(img->names[i].name);
        free(img->names);
        for (size_t i = 0; i < img->n_matches; i++)
                free(img->matches[i]);
        free(img->matches);
        for (size_t i = 0; i < img->n_owed; i++)
                free(img->owed[i].peer);
        free(img->owed);
        for (size_t i = 0; i < img->n_awaited; i++)
                free(img->awaited[i].peer);
        free(img->awaited);
        free(img->input);
        free(img->output);
        *img = (struct ckpt_image){0};
}

static void append_replies(struct msg_builder *mb, const struct ckpt_reply *r, size_t n)
{
        msg_builder_open(mb, 'a', "(sut)");
        for (size_t i = 0; i < n; i++) {
                msg_builder_open(mb, '(', "sut");
                msg_builder_append(mb, "sut", r[i].peer, r[i].serial, r[i].timeout_usec);
                msg_builder_close(mb);
        }
        msg_builder_close(mb);
}

int ckpt_image_build(const struct ckpt_image *img, uint8_t **ret, size_t *ret_len)
{
        struct msg_builder mb;
        msg_builder_init(&mb, MESSAGE_SIGNAL, 1);
        mb.path = CKPT_IMAGE_PATH;
        mb.interface = CKPT_IMAGE_INTERFACE;
        mb.member = CKPT_IMAGE_MEMBER;
        msg_builder_append(&mb, "stsssuu", img->unique_name, img->next_id, img->container, img->host_socket,
                           img->bus_socket, img->uid, img->gid);
        msg_builder_open(&mb, 'a', "u");
        for (size_t i = 0; i < img->n_groups; i++)
                msg_builder_append_basic(&mb, 'u', &img->groups[i]);
        msg_builder_close(&mb);
        int fds = img->unix_fds;
        msg_builder_append(&mb, "uuubu", img->inner_uid, img->inner_gid, img->inner_pid, fds,
                           img->socket_flags);
        msg_builder_open(&mb, 'a', "(suu)");
        for (size_t i = 0; i < img->n_names; i++) {
                msg_builder_open(&mb, '(', "suu");
                msg_builder_append(&mb, "suu", img->names[i].name, img->names[i].flags,
                                   img->names[i].position);
                msg_builder_close(&mb);
        }
        msg_builder_close(&mb);
        msg_builder_open(&mb, 'a', "s");
        for (size_t i = 0; i < img->n_matches; i++)
                msg_builder_append_basic(&mb, 's', &img->matches[i]);
        msg_builder_close(&mb);
        append_replies(&mb, img->owed, img->n_owed);
        append_replies(&mb, img->awaited, img->n_awaited);
        msg_builder_append_bytes(&mb, img->input, img->n_input);
        msg_builder_append_bytes(&mb, img->output, img->n_output);

        struct message *m;
        int r = msg_builder_finish(&mb, &m);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        size_t n = m->body_offset + m->body_size;
        uint8_t *buf = malloc(CKPT_IMAGE_HEADER_SIZE + n);
        if (!buf) {
                message_unref(m);
                return -ENOMEM;
        }
        uint32_t version = htole32(CKPT_IMAGE_VERSION), len = htole32((uint32_t)n);
        memcpy(buf, CKPT_IMAGE_MAGIC, 8);
        memcpy(buf + 8, &version, 4);
        memcpy(buf + 12, &len, 4);
        memcpy(buf + CKPT_IMAGE_HEADER_SIZE, m->data, n);
        message_unref(m);
        *ret = buf;
        *ret_len = CKPT_IMAGE_HEADER_SIZE + n;
        return 0;
}

/* ---- parsing ---- */

struct parse {
        struct msg_reader rd;
        char *err;
        size_t errlen;
};

_printf_(2, 3) static int fail(struct parse *ps, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* A string field, copied. The message parser has already checked it is UTF-8 without NUL. */
static int read_string(struct parse *ps, const char *field, char **ret)
{
        const char *s;
        if (msg_reader_read_basic(&ps->rd, 's', &s) < 0)
                return fail(ps, "%s: not readable", field);
        if (!(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

static bool valid_path(const char *s)
{
        return s[0] == '/' && strlen(s) < 4096 && !strstr(s, "/../") && !strstr(s, "//");
}

static int read_u32_array(struct parse *ps, const char *field, uint32_t **ret, size_t *n)
{
        if (msg_reader_enter(&ps->rd, 'a', "u") < 0)
                return fail(ps, "%s: not readable", field);
        size_t allocated = 0;
        while (msg_reader_peek(&ps->rd)) {
                uint32_t v;
                if (*n >= CKPT_IMAGE_MAX_GROUPS)
                        return fail(ps, "%s: more than %u entries", field, CKPT_IMAGE_MAX_GROUPS);
                if (msg_reader_read_basic(&ps->rd, 'u', &v) < 0)
                        return fail(ps, "%s: not readable", field);
                if (GREEDY_REALLOC(*ret, allocated, *n + 1) < 0)
                        return -ENOMEM;
                (*ret)[(*n)++] = v;
        }
        return msg_reader_exit(&ps->rd) < 0 ? fail(ps, "%s: not readable", field) : 0;
}

static int read_names(struct parse *ps, struct ckpt_image *img)
{
        if (msg_reader_enter(&ps->rd, 'a', "(suu)") < 0)
                return fail(ps, "names: not readable");
        size_t allocated = 0;
        while (msg_reader_peek(&ps->rd)) {
                if (img->n_names >= CKPT_IMAGE_MAX_ITEMS)
                        return fail(ps, "names: more than %u", CKPT_IMAGE_MAX_ITEMS);
                if (GREEDY_REALLOC(img->names, allocated, img->n_names + 1) < 0)
                        return -ENOMEM;
                struct ckpt_name *n = &img->names[img->n_names];
                *n = (struct ckpt_name){0};
                const char *s;
                if (msg_reader_enter(&ps->rd, '(', "suu") < 0 ||
                    msg_reader_read_basic(&ps->rd, 's', &s) < 0 ||
                    msg_reader_read_basic(&ps->rd, 'u', &n->flags) < 0 ||
                    msg_reader_read_basic(&ps->rd, 'u', &n->position) < 0 || msg_reader_exit(&ps->rd) < 0)
                        return fail(ps, "names[%zu]: not readable", img->n_names);
                if (!dbus_validate_well_known_name(s, strlen(s)) || streq(s, DRIVER_NAME))
                        return fail(ps, "names[%zu]: \"%s\" is not a name a connection can own",
                                    img->n_names, s);
                if (n->flags & ~7u)
                        return fail(ps, "names[%zu]: %s has unknown RequestName flags 0x%x", img->n_names, s,
                                    n->flags);
                for (size_t i = 0; i < img->n_names; i++)
                        if (streq(img->names[i].name, s))
                                return fail(ps, "names[%zu]: %s is listed twice", img->n_names, s);
                if (!(n->name = strdup(s)))
                        return -ENOMEM;
                img->n_names++;
        }
        return msg_reader_exit(&ps->rd) < 0 ? fail(ps, "names: not readable") : 0;
}

static int read_matches(struct parse *ps, struct ckpt_image *img)
{
        if (msg_reader_enter(&ps->rd, 'a', "s") < 0)
                return fail(ps, "match rules: not readable");
        size_t allocated = 0;
        while (msg_reader_peek(&ps->rd)) {
                if (img->n_matches >= CKPT_IMAGE_MAX_ITEMS)
                        return fail(ps, "match rules: more than %u", CKPT_IMAGE_MAX_ITEMS);
                if (GREEDY_REALLOC(img->matches, allocated, img->n_matches + 1) < 0)
                        return -ENOMEM;
                /* Their syntax is the match parser's to judge, on import, as AddMatch would. */
                int r = read_string(ps, "match rules", &img->matches[img->n_matches]);
                if (r < 0)
                        return r;
                img->n_matches++;
        }
        return msg_reader_exit(&ps->rd) < 0 ? fail(ps, "match rules: not readable") : 0;
}

static int read_replies(struct parse *ps, const char *field, struct ckpt_reply **ret, size_t *n)
{
        if (msg_reader_enter(&ps->rd, 'a', "(sut)") < 0)
                return fail(ps, "%s: not readable", field);
        size_t allocated = 0;
        while (msg_reader_peek(&ps->rd)) {
                if (*n >= CKPT_IMAGE_MAX_ITEMS)
                        return fail(ps, "%s: more than %u", field, CKPT_IMAGE_MAX_ITEMS);
                if (GREEDY_REALLOC(*ret, allocated, *n + 1) < 0)
                        return -ENOMEM;
                struct ckpt_reply *r = &(*ret)[*n];
                *r = (struct ckpt_reply){0};
                const char *s;
                if (msg_reader_enter(&ps->rd, '(', "sut") < 0 ||
                    msg_reader_read_basic(&ps->rd, 's', &s) < 0 ||
                    msg_reader_read_basic(&ps->rd, 'u', &r->serial) < 0 ||
                    msg_reader_read_basic(&ps->rd, 't', &r->timeout_usec) < 0 ||
                    msg_reader_exit(&ps->rd) < 0)
                        return fail(ps, "%s[%zu]: not readable", field, *n);
                if (!dbus_parse_unique_name(s, &r->peer_id))
                        return fail(ps, "%s[%zu]: \"%s\" is not a unique name of this bus", field, *n, s);
                if (r->serial == 0)
                        return fail(ps, "%s[%zu]: serial 0", field, *n);
                for (size_t i = 0; i < *n; i++)
                        if ((*ret)[i].peer_id == r->peer_id && (*ret)[i].serial == r->serial)
                                return fail(ps, "%s[%zu]: %s %u is listed twice", field, *n, s, r->serial);
                if (!(r->peer = strdup(s)))
                        return -ENOMEM;
                (*n)++;
        }
        return msg_reader_exit(&ps->rd) < 0 ? fail(ps, "%s: not readable", field) : 0;
}

static int read_bytes(struct parse *ps, const char *field, uint8_t **ret, size_t *n)
{
        const uint8_t *p;
        size_t len;
        if (msg_reader_read_bytes(&ps->rd, &p, &len) < 0)
                return fail(ps, "%s: not readable", field);
        if (!(*ret = malloc(len ? len : 1)))
                return -ENOMEM;
        memcpy(*ret, p, len);
        *n = len;
        return 0;
}

static int parse_body(struct parse *ps, struct ckpt_image *img)
{
        int r;
        if ((r = read_string(ps, "unique name", &img->unique_name)) < 0)
                return r;
        if (!dbus_parse_unique_name(img->unique_name, &img->id))
                return fail(ps, "unique name: \"%s\" is not one this bus makes (:1.N)", img->unique_name);
        if (msg_reader_read_basic(&ps->rd, 't', &img->next_id) < 0)
                return fail(ps, "next unique id: not readable");
        if (img->next_id <= img->id)
                return fail(ps, "next unique id %" PRIu64 " is not above the connection's own (%s)",
                            img->next_id, img->unique_name);
        if (img->next_id > DBUS_UNIQUE_ID_MAX)
                return fail(ps, "next unique id %" PRIu64 " is past the last one a unique name can carry",
                            img->next_id);
        if ((r = read_string(ps, "container", &img->container)) < 0 ||
            (r = read_string(ps, "host socket", &img->host_socket)) < 0 ||
            (r = read_string(ps, "bus socket", &img->bus_socket)) < 0)
                return r;
        if (!img->container[0] || strchr(img->container, '/') || streq(img->container, ".") ||
            streq(img->container, ".."))
                return fail(ps, "container: \"%s\" is not a container name", img->container);
        if (!valid_path(img->host_socket) || !valid_path(img->bus_socket))
                return fail(ps, "socket paths must be absolute and plain (\"%s\", \"%s\")", img->host_socket,
                            img->bus_socket);
        if (msg_reader_read_basic(&ps->rd, 'u', &img->uid) < 0 ||
            msg_reader_read_basic(&ps->rd, 'u', &img->gid) < 0)
                return fail(ps, "uid, gid: not readable");
        if (img->uid == UINT32_MAX || img->gid == UINT32_MAX)
                return fail(ps, "uid %u, gid %u: -1 is nobody's", img->uid, img->gid);
        if ((r = read_u32_array(ps, "groups", &img->groups, &img->n_groups)) < 0)
                return r;
        int fds;
        if (msg_reader_read_basic(&ps->rd, 'u', &img->inner_uid) < 0 ||
            msg_reader_read_basic(&ps->rd, 'u', &img->inner_gid) < 0 ||
            msg_reader_read_basic(&ps->rd, 'u', &img->inner_pid) < 0 ||
            msg_reader_read_basic(&ps->rd, 'b', &fds) < 0 ||
            msg_reader_read_basic(&ps->rd, 'u', &img->socket_flags) < 0)
                return fail(ps, "identity fields: not readable");
        img->unix_fds = fds;
        if ((r = read_names(ps, img)) < 0 || (r = read_matches(ps, img)) < 0 ||
            (r = read_replies(ps, "replies owed", &img->owed, &img->n_owed)) < 0 ||
            (r = read_replies(ps, "replies awaited", &img->awaited, &img->n_awaited)) < 0 ||
            (r = read_bytes(ps, "input", &img->input, &img->n_input)) < 0 ||
            (r = read_bytes(ps, "output", &img->output, &img->n_output)) < 0)
                return r;
        return 0;
}

int ckpt_image_parse(const uint8_t *buf, size_t len, struct ckpt_image *img, char *err, size_t errlen)
{
        struct parse ps = {.err = err, .errlen = errlen};
        *img = (struct ckpt_image){0};
        if (errlen)
                err[0] = 0;
        if (len < CKPT_IMAGE_HEADER_SIZE || memcmp(buf, CKPT_IMAGE_MAGIC, 8) != 0)
                return fail(&ps, "not an nsbus connection image (no \"NSBUSCK\" magic)");
        uint32_t version, n;
        memcpy(&version, buf + 8, 4);
        memcpy(&n, buf + 12, 4);
        version = le32toh(version);
        n = le32toh(n);
        if (version != CKPT_IMAGE_VERSION)
                return fail(&ps, "image format version %u; this nsbus reads version %u", version,
                            CKPT_IMAGE_VERSION);
        if (n != len - CKPT_IMAGE_HEADER_SIZE)
                return fail(&ps, "truncated or padded: the header says %u bytes follow, %zu do", n,
                            len - CKPT_IMAGE_HEADER_SIZE);

        size_t size;
        if (n < DBUS_MINIMUM_HEADER_SIZE || message_peek_size(buf + CKPT_IMAGE_HEADER_SIZE, &size) < 0 ||
            size != n)
                return fail(&ps, "the connection record is not one D-Bus message of %u bytes", n);
        uint8_t *copy = malloc(n + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, buf + CKPT_IMAGE_HEADER_SIZE, n);
        struct message *m;
        int r = message_new_from_data(copy, n, &m);
        if (r < 0)
                return r == -ENOMEM ? r : fail(&ps, "the connection record is not a valid D-Bus message");
        if (m->type != MESSAGE_SIGNAL || !streq_ptr(m->interface, CKPT_IMAGE_INTERFACE) ||
            !streq_ptr(m->member, CKPT_IMAGE_MEMBER) || !streq_ptr(m->signature, CKPT_IMAGE_SIGNATURE)) {
                fail(&ps, "the connection record is not a %s.%s of signature \"%s\"", CKPT_IMAGE_INTERFACE,
                     CKPT_IMAGE_MEMBER, CKPT_IMAGE_SIGNATURE);
                message_unref(m);
                return -EINVAL;
        }
        msg_reader_init(&ps.rd, m);
        r = parse_body(&ps, img);
        message_unref(m);
        if (r < 0) {
                if (r == -ENOMEM && errlen)
                        snprintf(err, errlen, "out of memory");
                ckpt_image_done(img);
        }
        return r;
}

/* ---- a directory of images ---- */

static int read_file(int dir_fd, const char *name, uint8_t **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t)DBUS_MAXIMUM_MESSAGE_LENGTH * 2)
                return -EINVAL;
        _cleanup_free_ uint8_t *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        while (n < (size_t)st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                n += (size_t)k;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

int ckpt_images_scan(const char *dir, uint64_t *next_id, uint32_t *root_uid, uint32_t *root_gid, char *err,
                     size_t errlen)
{
        DIR *d = opendir(dir);
        if (!d) {
                int r = -errno;
                snprintf(err, errlen, "cannot open %s: %s", dir, strerror(-r));
                return r;
        }
        int r = 0;
        *next_id = 1;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, "nsbus-sk-", 9) != 0 || !strstr(de->d_name, ".img"))
                        continue;
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len = 0;
                r = read_file(dirfd(d), de->d_name, &buf, &len);
                if (r < 0) {
                        snprintf(err, errlen, "%s/%s: %s", dir, de->d_name, strerror(-r));
                        break;
                }
                struct ckpt_image img;
                char why[512];
                r = ckpt_image_parse(buf, len, &img, why, sizeof(why));
                if (r < 0) {
                        snprintf(err, errlen, "%s/%s: %s", dir, de->d_name, why);
                        break;
                }
                if (img.next_id > *next_id)
                        *next_id = img.next_id;
                if (img.inner_uid == 0)
                        *root_uid = img.uid;
                if (img.inner_gid == 0)
                        *root_gid = img.gid;
                ckpt_image_done(&img);
        }
        closedir(d);
        return r;
}
