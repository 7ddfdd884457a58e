/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsing and validation of received messages, and the forwarding header.
 *
 * A message is validated once, completely, when it arrives: fixed header,
 * header fields, and the body against its signature (alignment padding,
 * booleans, UTF-8, object paths, nested signatures, array lengths, depth,
 * fd indices). Everything downstream (routing, matching, the driver's
 * reader) may then trust the bytes. The body is never rewritten: forwarding
 * sends a freshly stamped header plus the original body bytes.
 */
#include <stdarg.h>

#include "errors.h"
#include "message.h"
#include "wire.h"

int message_peek_size(const uint8_t *p, size_t *total)
{
        bool be;

        if (p[0] == 'l')
                be = false;
        else if (p[0] == 'B')
                be = true;
        else
                return -ERR_MSG_ENDIAN;
        if (p[3] != 1)
                return -ERR_MSG_VERSION;

        uint64_t body = wire_u32(p + 4, be);
        uint64_t fields = wire_u32(p + 12, be);
        if (fields > DBUS_MAXIMUM_ARRAY_LENGTH)
                return -ERR_MSG_FIELDS_LENGTH;
        uint64_t t = 16 + ALIGN8(fields) + body;
        if (t > DBUS_MAXIMUM_MESSAGE_LENGTH)
                return -ERR_MSG_TOO_LONG;
        *total = (size_t)t;
        return 0;
}

/* ---- body validation ---- */

struct vctx {
        const uint8_t *data; /* base for alignment (message start or body start, both 8-aligned) */
        size_t end;
        size_t pos;
        bool be;
        uint32_t n_fds;
};

/* Whether bytes [from, to) of c are zeros, for a boundary below 8: the start of a short body. */
static bool v_zeros(const struct vctx *c, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++)
                if (c->data[i] != 0)
                        return false;
        return true;
}

/* Skips the padding up to an a-byte boundary (a <= 8), which must be zeros. Inlined at every step of the
 * header and body walks: one load where a byte loop took ~20 instructions per field. */
static inline __attribute__((always_inline)) bool v_align(struct vctx *c, unsigned a)
{
        size_t np = ALIGN_TO(c->pos, a);
        size_t pad = np - c->pos;
        if (pad == 0)
                return true;
        if (np > c->end)
                return false;
        if (np >= 8) {
                /* The 8 bytes that end at the boundary, all received: the padding is their last pad
                 * bytes, the most significant ones in little-endian order. */
                uint64_t w;
                memcpy(&w, c->data + np - 8, sizeof(w));
                if (le64toh(w) >> (64 - 8 * pad))
                        return false;
        } else if (!v_zeros(c, c->pos, np)) {
                return false;
        }
        c->pos = np;
        return true;
}

static bool v_need(const struct vctx *c, size_t n)
{
        return c->end - c->pos >= n;
}

/* Reads a string-like value of type t (length, bytes, NUL), leaving its contents to the caller. */
static bool v_string_bytes(struct vctx *c, char t, const char **str, size_t *len)
{
        size_t l;
        if (t == 'g') {
                if (!v_need(c, 1))
                        return false;
                l = c->data[c->pos++];
        } else {
                if (!v_align(c, 4) || !v_need(c, 4))
                        return false;
                l = wire_u32(c->data + c->pos, c->be);
                c->pos += 4;
        }
        if (l >= c->end - c->pos || c->data[c->pos + l] != 0)
                return false;
        *str = (const char *)c->data + c->pos;
        *len = l;
        c->pos += l + 1;
        return true;
}

/* Validates a string-like value of type t and returns it through str and len. */
static bool v_string(struct vctx *c, char t, const char **str, size_t *len)
{
        const char *s;
        size_t l;
        if (!v_string_bytes(c, t, &s, &l))
                return false;
        switch (t) {
        case 's':
                if (!utf8_validate(s, l))
                        return false;
                break;
        case 'o':
                if (!dbus_validate_object_path(s, l))
                        return false;
                break;
        case 'g':
                if (!signature_validate(s, l))
                        return false;
                break;
        }
        if (str)
                *str = s;
        if (len)
                *len = l;
        return true;
}

/*
 * Validate one value of the complete type at *sig, advancing *sig past it.
 * depth counts every container level including variants: the spec caps
 * arrays and structs at 32 each inside one signature, and libdbus caps the
 * total recursion at 64 across variants, which we follow.
 */
static bool v_value(struct vctx *c, const char **sig, unsigned depth)
{
        char t = *(*sig)++;
        unsigned fs = wire_fixed_size(t);

        if (fs) {
                if (!v_align(c, fs) || !v_need(c, fs))
                        return false;
                if (t == 'b' && wire_u32(c->data + c->pos, c->be) > 1)
                        return false;
                if (t == 'h' && wire_u32(c->data + c->pos, c->be) >= c->n_fds)
                        return false;
                c->pos += fs;
                return true;
        }

        switch (t) {
        case 's':
        case 'o':
        case 'g':
                return v_string(c, t, NULL, NULL);

        case 'v': {
                const char *vs;
                size_t vl;
                if (depth + 1 > 2 * DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                        return false;
                /* One complete type, which signature_validate_single() checks whole. */
                if (!v_string_bytes(c, 'g', &vs, &vl) || !signature_validate_single(vs, vl))
                        return false;
                const char *p = vs;
                return v_value(c, &p, depth + 1);
        }

        case 'a': {
                if (depth + 1 > 2 * DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                        return false;
                if (!v_align(c, 4) || !v_need(c, 4))
                        return false;
                uint32_t len = wire_u32(c->data + c->pos, c->be);
                c->pos += 4;
                const char *elem = *sig;
                size_t elen = signature_skip_valid(elem); /* validated with the header */
                char et = elem[0];
                if (len > DBUS_MAXIMUM_ARRAY_LENGTH || !v_align(c, wire_alignment(et)))
                        return false;
                if (len > c->end - c->pos)
                        return false;
                size_t aend = c->pos + len;
                unsigned efs = wire_fixed_size(et);
                if (efs && et != 'b' && et != 'h') {
                        /* Fixed-size elements need no per-element checks. */
                        if (len % efs)
                                return false;
                        c->pos = aend;
                } else {
                        size_t saved_end = c->end;
                        c->end = aend;
                        while (c->pos < aend) {
                                const char *p = elem;
                                if (et == '{') {
                                        p++; /* dict entries are 8-aligned structs */
                                        if (!v_align(c, 8) || !v_value(c, &p, depth + 2) ||
                                            !v_value(c, &p, depth + 2))
                                                return false;
                                } else if (!v_value(c, &p, depth + 1)) {
                                        return false;
                                }
                        }
                        c->end = saved_end;
                }
                *sig = elem + elen;
                return true;
        }

        case '(':
                if (depth + 1 > 2 * DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                        return false;
                if (!v_align(c, 8))
                        return false;
                while (**sig != ')')
                        if (!v_value(c, sig, depth + 1))
                                return false;
                (*sig)++;
                return true;

        default:
                return false;
        }
}

static int validate_body(const struct message *m)
{
        struct vctx c = {
                .data = m->data + m->body_offset,
                .end = m->body_size,
                .pos = 0,
                .be = m->big_endian,
                .n_fds = m->n_unix_fds,
        };
        const char *sig = m->signature;

        while (*sig)
                if (!v_value(&c, &sig, 0))
                        return -ERR_MSG_BODY;
        return c.pos == c.end ? 0 : -ERR_MSG_BODY_LENGTH;
}

/* ---- header ---- */

static const char field_types[FIELD_MAX_KNOWN + 1] = {
        [FIELD_PATH] = 'o',       [FIELD_INTERFACE] = 's',    [FIELD_MEMBER] = 's',
        [FIELD_ERROR_NAME] = 's', [FIELD_REPLY_SERIAL] = 'u', [FIELD_DESTINATION] = 's',
        [FIELD_SENDER] = 's',     [FIELD_SIGNATURE] = 'g',    [FIELD_UNIX_FDS] = 'u',
};

/* What a header must hold beyond each field's own validity: the fields its type requires, a fd count
 * within the limit, neither the path nor the interface the spec reserves for local messages. path_len
 * and interface_len are the lengths of m's path and interface (0 when absent). */
static int header_check(const struct message *m, size_t path_len, size_t interface_len)
{
        /* Required fields, "Message Types" in the spec. */
        switch (m->type) {
        case MESSAGE_METHOD_CALL:
                if (!m->path || !m->member)
                        return -ERR_MSG_REQUIRED_FIELD;
                break;
        case MESSAGE_SIGNAL:
                if (!m->path || !m->interface || !m->member)
                        return -ERR_MSG_REQUIRED_FIELD;
                break;
        case MESSAGE_ERROR:
                if (!m->error_name || !m->reply_serial)
                        return -ERR_MSG_REQUIRED_FIELD;
                break;
        case MESSAGE_METHOD_RETURN:
                if (!m->reply_serial)
                        return -ERR_MSG_REQUIRED_FIELD;
                break;
        }
        if (m->n_unix_fds > DBUS_MAXIMUM_UNIX_FDS)
                return -ERR_MSG_UNIX_FDS;
        /* The spec reserves these for messages a library makes up locally; none may travel. */
        if ((path_len == STRLEN(DBUS_LOCAL_PATH) && memcmp(m->path, DBUS_LOCAL_PATH, path_len) == 0) ||
            (interface_len == STRLEN(DBUS_LOCAL_INTERFACE) &&
             memcmp(m->interface, DBUS_LOCAL_INTERFACE, interface_len) == 0))
                return -ERR_MSG_LOCAL;
        return 0;
}

static int parse_header(struct message *m)
{
        const uint8_t *p = m->data;
        uint32_t fields_len;
        size_t total;

        if (m->size < DBUS_MINIMUM_HEADER_SIZE)
                return -ERR_MSG_SIZE;
        bool be = p[0] == 'B';
        int r = message_peek_size(p, &total);
        if (r < 0)
                return r;
        if (total != m->size)
                return -ERR_MSG_SIZE;

        m->big_endian = be;
        m->type = p[1];
        m->flags = p[2];
        m->body_size = wire_u32(p + 4, be);
        m->serial = wire_u32(p + 8, be);
        fields_len = wire_u32(p + 12, be);
        m->body_offset = 16 + ALIGN8(fields_len);
        m->signature = "";

        /* Type 0 is never valid; types above SIGNAL are unknown, which the spec says to ignore rather
         * than treat as a protocol violation, so they parse (the bus refuses to route them). */
        if (m->type == MESSAGE_INVALID)
                return -ERR_MSG_TYPE;
        if (m->serial == 0)
                return -ERR_MSG_SERIAL;

        struct vctx c = {.data = p, .end = 16 + (size_t)fields_len, .pos = 16, .be = be, .n_fds = 0};
        unsigned seen = 0;
        bool plain = true;
        size_t path_len = 0, interface_len = 0;

        while (c.pos < c.end) {
                if (!v_align(&c, 8) || !v_need(&c, 1))
                        return -ERR_MSG_FIELD;
                uint8_t code = p[c.pos++];
                const char *vs;
                size_t vl;
                if (code != FIELD_INVALID && code <= FIELD_MAX_KNOWN && v_need(&c, 3) && p[c.pos] == 1 &&
                    p[c.pos + 1] == field_types[code] && p[c.pos + 2] == 0) {
                        /* A known field's variant holds its own type, a one-character signature: nothing
                         * to validate beyond reading it. */
                        vs = (const char *)p + c.pos + 1;
                        vl = 1;
                        c.pos += 3;
                } else if (!v_string_bytes(&c, 'g', &vs, &vl) || !signature_validate_single(vs, vl)) {
                        return -ERR_MSG_FIELD;
                }

                if (code == FIELD_INVALID)
                        return -ERR_MSG_FIELD_CODE;
                if (code > FIELD_MAX_KNOWN) {
                        /* Unknown fields are validated and then dropped by message_stamp(). */
                        plain = false;
                        const char *s = vs;
                        if (!v_value(&c, &s, 1))
                                return -ERR_MSG_FIELD;
                        continue;
                }
                if (vl != 1 || vs[0] != field_types[code])
                        return -ERR_MSG_FIELD_TYPE;
                if (seen & (1u << code))
                        return -ERR_MSG_FIELD_TWICE;
                seen |= 1u << code;

                if (field_types[code] == 'u') {
                        if (!v_align(&c, 4) || !v_need(&c, 4))
                                return -ERR_MSG_FIELD;
                        uint32_t v = wire_u32(p + c.pos, be);
                        c.pos += 4;
                        if (code == FIELD_REPLY_SERIAL) {
                                if (v == 0)
                                        return -ERR_MSG_REPLY_SERIAL;
                                m->reply_serial = v;
                        } else {
                                m->n_unix_fds = v;
                        }
                        continue;
                }

                /* The 's' fields are names whose validators below admit only ASCII name characters, a
                 * stricter test than UTF-8: their bytes are read, then checked once, by those. */
                const char *s;
                size_t l;
                if (!(field_types[code] == 's' ? v_string_bytes(&c, 's', &s, &l)
                                               : v_string(&c, field_types[code], &s, &l)))
                        return -ERR_MSG_FIELD;
                switch (code) {
                case FIELD_PATH:
                        m->path = s;
                        path_len = l;
                        break;
                case FIELD_INTERFACE:
                        if (!dbus_validate_interface(s, l))
                                return -ERR_MSG_INTERFACE;
                        m->interface = s;
                        interface_len = l;
                        break;
                case FIELD_MEMBER:
                        if (!dbus_validate_member(s, l))
                                return -ERR_MSG_MEMBER;
                        m->member = s;
                        break;
                case FIELD_ERROR_NAME:
                        if (!dbus_validate_error_name(s, l))
                                return -ERR_MSG_ERROR_NAME;
                        m->error_name = s;
                        break;
                case FIELD_DESTINATION:
                        if (!dbus_validate_bus_name(s, l))
                                return -ERR_MSG_BUS_NAME;
                        m->destination = s;
                        break;
                case FIELD_SENDER:
                        if (!dbus_validate_bus_name(s, l))
                                return -ERR_MSG_BUS_NAME;
                        m->sender = s;
                        plain = false;
                        break;
                case FIELD_SIGNATURE:
                        m->signature = s;
                        break;
                }
        }
        /* Padding between the header fields and the body must be zeros too. */
        c.end = m->body_offset;
        if (!v_align(&c, 8))
                return -ERR_MSG_PADDING;
        r = header_check(m, path_len, interface_len);
        if (r < 0)
                return r;
        m->header_plain = plain;
        return 0;
}

/* A message with every field zero and extra bytes after the struct. */
static struct message *message_alloc(size_t extra)
{
        struct message *m = malloc(sizeof(*m) + extra);
        if (m)
                *m = (struct message){.n_ref = 1};
        return m;
}

/*
 * Blocks of message_new_copy(), kept for the next message. A bus frees a block per message and mostly
 * allocates the next of about the same size, so freed blocks wait here for one that fits. glibc's
 * thread cache does that for chunks of up to 1 KiB, 7 per size, in about 20 instructions; past 1 KiB,
 * or past 7 messages of one size in flight (a pipelining client keeps 32), a malloc() and free() pair
 * costs 300 to 600 (callgrind: _int_malloc, _int_free and the bins they sort), as much as parsing the
 * message. Two kinds are kept, with a bound on the memory each may hold: up to SMALL_KEPT blocks of up
 * to 1 KiB in size classes of SMALL_GRAIN (found in O(1)), and up to BIG_KEPT of 1 to 64 KiB (found by
 * a scan). nsbus programs are single-threaded. Under AddressSanitizer nothing is kept, so that a use
 * after free is still caught.
 */
#if defined(NSBUS_ASAN)
#define SMALL_KEPT 0
#define BIG_KEPT 0
#else
#define SMALL_KEPT 32 /* at most 32 KiB */
#define BIG_KEPT 4    /* at most 256 KiB */
#endif
#define SMALL_GRAIN 128u
#define SMALL_MAX 1024u
#define BIG_MAX (64u * 1024u)
#define BIG_GRAIN 512u /* sizes round up to this, so that nearby sizes share blocks */

static struct {
        struct message *small[SMALL_MAX / SMALL_GRAIN][SMALL_KEPT + 1];
        uint8_t n_small_of[SMALL_MAX / SMALL_GRAIN];
        size_t n_small;
        struct message *big[BIG_KEPT + 1];
        size_t n_big;
} kept_blocks;

static struct message *message_reuse(struct message *m)
{
        *m = (struct message){.n_ref = 1, .block_size = m->block_size};
        return m;
}

/* A message of at least extra bytes after the struct, as message_alloc(). A small block is taken from
 * its size class; a big one serves if it is big enough and at most a quarter bigger than needed (a small
 * message must not hold a big block for as long as it waits in a queue). */
static struct message *message_alloc_block(size_t extra)
{
        size_t size = sizeof(struct message) + extra;
        if (size > BIG_MAX || (size <= SMALL_MAX ? SMALL_KEPT == 0 : BIG_KEPT == 0))
                return message_alloc(extra);
        if (size <= SMALL_MAX) {
                size = ALIGN_TO(size, SMALL_GRAIN);
                size_t c = size / SMALL_GRAIN - 1;
                if (kept_blocks.n_small_of[c] > 0) {
                        kept_blocks.n_small--;
                        return message_reuse(kept_blocks.small[c][--kept_blocks.n_small_of[c]]);
                }
        } else {
                size = ALIGN_TO(size, BIG_GRAIN);
                for (size_t i = kept_blocks.n_big; i-- > 0;) {
                        struct message *m = kept_blocks.big[i];
                        if (m->block_size >= size && m->block_size - size <= size / 4) {
                                kept_blocks.big[i] = kept_blocks.big[--kept_blocks.n_big];
                                return message_reuse(m);
                        }
                }
        }
        struct message *m = message_alloc(size - sizeof(struct message));
        if (m)
                m->block_size = size;
        return m;
}

/* A small block goes to its class. When all SMALL_KEPT are taken, the fullest other class gives one up,
 * so that what is kept follows the sizes in use now rather than those of an earlier burst; if they are
 * all of this class, the block is freed. */
static void message_free_block(struct message *m)
{
#if SMALL_KEPT > 0
        if (m->block_size && m->block_size <= SMALL_MAX) {
                size_t c = m->block_size / SMALL_GRAIN - 1;
                if (kept_blocks.n_small == SMALL_KEPT) {
                        size_t fullest = c;
                        for (size_t i = 0; i < ELEMENTSOF(kept_blocks.n_small_of); i++)
                                if (i != c && (fullest == c ||
                                               kept_blocks.n_small_of[i] > kept_blocks.n_small_of[fullest]))
                                        fullest = i;
                        if (fullest == c || kept_blocks.n_small_of[fullest] == 0) {
                                free(m);
                                return;
                        }
                        free(kept_blocks.small[fullest][--kept_blocks.n_small_of[fullest]]);
                        kept_blocks.n_small--;
                }
                kept_blocks.small[c][kept_blocks.n_small_of[c]++] = m;
                kept_blocks.n_small++;
                return;
        }
#endif
#if BIG_KEPT > 0
        if (m->block_size > SMALL_MAX && kept_blocks.n_big < BIG_KEPT) {
                kept_blocks.big[kept_blocks.n_big++] = m;
                return;
        }
#endif
        free(m);
}

void message_blocks_kept(size_t *ret_small, size_t *ret_big)
{
        *ret_small = kept_blocks.n_small;
        *ret_big = kept_blocks.n_big;
}

/* The bytes of a message_new_copy(), in the same allocation as the struct. */
static uint8_t *message_inline_data(struct message *m)
{
        return (uint8_t *)(m + 1);
}

/* A SENDER field of up to this many bytes fits the header room: a unique name of up to 31 characters. */
#define HEADER_ROOM_SENDER (8 + 32)

/* Where the first stamped header of a message_new_copy() goes, after the bytes, 8-aligned; or NULL. */
static uint8_t *message_header_room(struct message *m)
{
        return m->header_room ? message_inline_data(m) + ALIGN8(m->size + 1) : NULL;
}

static void message_drop_out_header(struct message *m)
{
        if (m->out_header != m->data && m->out_header != message_header_room(m))
                free(m->out_header);
        m->out_header = NULL;
}

static int message_parse(struct message *m, struct message **ret)
{
        int r = parse_header(m);
        if (r >= 0)
                r = validate_body(m);
        if (r < 0) {
                message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

int message_new_from_data(uint8_t *data, size_t size, struct message **ret)
{
        struct message *m = message_alloc(0);
        if (!m) {
                free(data);
                return -ENOMEM;
        }
        m->data = data;
        m->size = size;
        return message_parse(m, ret);
}

int message_new_copy(const uint8_t *bytes, size_t size, struct message **ret)
{
        /* Room for the header message_stamp() writes when it keeps the received fields and appends
         * SENDER: what a forwarded message needs anyway, here without an allocation of its own.
         * Only sized from the header; parsing decides whether the header is valid. */
        size_t room = 0;
        if (size >= DBUS_MINIMUM_HEADER_SIZE) {
                uint32_t fields_len = wire_u32(bytes + 12, bytes[0] == 'B');
                if (fields_len <= size)
                        room = 16 + ALIGN8(fields_len) + HEADER_ROOM_SENDER;
        }
        /* +1: the same byte of slack as the reader's own allocations. */
        struct message *m = message_alloc_block(ALIGN8(size + 1) + room);
        if (!m)
                return -ENOMEM;
        m->data = message_inline_data(m);
        m->size = size;
        m->header_room = room;
        memcpy(m->data, bytes, size);
        return message_parse(m, ret);
}

void message_attach_fds(struct message *m, int *fds, size_t n)
{
        m->fds = fds;
        m->n_fds = n;
}

struct message *message_ref(struct message *m)
{
        if (m)
                m->n_ref++;
        return m;
}

struct message *message_unref(struct message *m)
{
        if (!m || --m->n_ref > 0)
                return NULL;
        message_drop_out_header(m);
        if (m->fds) {
                close_fds(m->fds, m->n_fds);
                free(m->fds);
        }
        if (m->body_owner)
                message_unref(m->body_owner);
        else if (m->data != message_inline_data(m))
                free(m->data);
        message_free_block(m);
        return NULL;
}

/* ---- header writer, shared by message_stamp() and the builder ---- */

struct hdr {
        uint8_t *buf;
        size_t size, allocated;
        bool be;
};

/* Writes string field code with s (l bytes) at p, which has room; returns its size. The text starts at
 * p + (size - l - 1). */
static size_t field_string_put(uint8_t *p, uint8_t code, const char *s, size_t l, bool be)
{
        char t = field_types[code];
        p[0] = code;
        p[1] = 1;
        p[2] = (uint8_t)t;
        p[3] = 0;
        size_t n = 4;
        if (t == 'g') {
                p[n++] = (uint8_t)l;
        } else {
                wire_put_u32(p + n, (uint32_t)l, be);
                n += 4;
        }
        memcpy(p + n, s, l + 1);
        return n + l + 1;
}

/* One field of a header to write: a string s of l bytes, or (s NULL) the u32 v. */
struct hdr_item {
        uint8_t code;
        const char *s;
        size_t l;
        uint32_t v;
};

/*
 * Writes a complete header padded to 8 into h->buf: the fields of f in the order of their codes, sized
 * first and then written into one zeroed buffer, so padding needs no writes of its own. text_at[code] is
 * where string field code's text starts in h->buf, 0 for a field f does not have.
 */
static int hdr_write(struct hdr *h, const struct hdr_fields *f, size_t text_at[FIELD_MAX_KNOWN + 1])
{
        const char *strings[FIELD_MAX_KNOWN + 1] = {
                [FIELD_PATH] = f->path,
                [FIELD_INTERFACE] = f->interface,
                [FIELD_MEMBER] = f->member,
                [FIELD_ERROR_NAME] = f->error_name,
                [FIELD_DESTINATION] = f->destination,
                [FIELD_SENDER] = f->sender,
                [FIELD_SIGNATURE] = f->signature && f->signature[0] ? f->signature : NULL,
        };
        const uint32_t numbers[FIELD_MAX_KNOWN + 1] = {
                [FIELD_REPLY_SERIAL] = f->reply_serial,
                [FIELD_UNIX_FDS] = f->n_unix_fds,
        };
        struct hdr_item items[FIELD_MAX_KNOWN];
        size_t n = 0, end = 16;
        for (uint8_t code = 1; code <= FIELD_MAX_KNOWN; code++) {
                struct hdr_item it = {.code = code, .s = strings[code], .v = numbers[code]};
                if (it.s) {
                        it.l = strlen(it.s);
                        end = ALIGN8(end) + 4 + (field_types[code] == 'g' ? 1 : 4) + it.l + 1;
                } else if (it.v) {
                        end = ALIGN8(end) + 8;
                } else {
                        continue;
                }
                items[n++] = it;
        }

        int r = GREEDY_REALLOC(h->buf, h->allocated, ALIGN8(end));
        if (r < 0)
                return r;
        uint8_t *p = h->buf;
        memset(p, 0, ALIGN8(end));
        p[0] = h->be ? 'B' : 'l';
        p[1] = f->type;
        p[2] = f->flags;
        p[3] = 1;
        wire_put_u32(p + 4, f->body_size, h->be);
        wire_put_u32(p + 8, f->serial, h->be);
        wire_put_u32(p + 12, (uint32_t)(end - 16), h->be);

        memset(text_at, 0, (FIELD_MAX_KNOWN + 1) * sizeof(text_at[0]));
        size_t pos = 16;
        for (size_t i = 0; i < n; i++) {
                const struct hdr_item *it = &items[i];
                pos = ALIGN8(pos);
                if (it->s) {
                        size_t k = field_string_put(p + pos, it->code, it->s, it->l, h->be);
                        text_at[it->code] = pos + k - it->l - 1;
                        pos += k;
                } else {
                        p[pos] = it->code;
                        p[pos + 1] = 1;
                        p[pos + 2] = 'u';
                        wire_put_u32(p + pos + 4, it->v, h->be);
                        pos += 8;
                }
        }
        h->size = ALIGN8(end);
        return 0;
}

/* The header fields a message carries on: its own, without SENDER (callers set what changes). */
static struct hdr_fields hdr_fields_of(const struct message *m)
{
        return (struct hdr_fields){
                .type = m->type,
                .flags = m->flags,
                .body_size = m->body_size,
                .serial = m->serial,
                .reply_serial = m->reply_serial,
                .n_unix_fds = m->n_unix_fds,
                .path = m->path,
                .interface = m->interface,
                .member = m->member,
                .error_name = m->error_name,
                .destination = m->destination,
                .signature = m->signature,
        };
}

/* A complete header in byte order be for a body of f->body_size bytes, within the protocol's limits. On
 * failure h->buf is freed. */
static int hdr_write_for(bool be, const struct hdr_fields *f, struct hdr *h, size_t text_at[])
{
        *h = (struct hdr){.be = be};
        int r = hdr_write(h, f, text_at);
        if (r >= 0 && (h->size - 16 > DBUS_MAXIMUM_ARRAY_LENGTH ||
                       h->size + f->body_size > DBUS_MAXIMUM_MESSAGE_LENGTH))
                r = -E2BIG;
        if (r < 0) {
                free(h->buf);
                h->buf = NULL;
        }
        return r;
}

/*
 * The outgoing header of a header_plain message: its own header bytes, then SENDER. The fields and
 * the padding after them were validated on arrival and the fixed header stays as it was but for the
 * fields' length, so only the SENDER field is written. Without a sender the received header is the
 * outgoing one, and nothing is allocated.
 */
static int stamp_plain(struct message *m, const char *sender, uint8_t **ret, size_t *ret_size,
                       const char **ret_sender)
{
        if (!sender) {
                *ret = m->data;
                *ret_size = m->body_offset;
                *ret_sender = NULL;
                return 0;
        }
        size_t l = strlen(sender);
        /* code, signature "s" (length, type, NUL), then the string's length, text and NUL. */
        size_t fields_len = m->body_offset - 16 + 4 + 4 + l + 1;
        size_t size = 16 + ALIGN8(fields_len);
        if (fields_len > DBUS_MAXIMUM_ARRAY_LENGTH || size + m->body_size > DBUS_MAXIMUM_MESSAGE_LENGTH)
                return -E2BIG;
        /* The room only for the first stamp: a header already written may still be queued. */
        uint8_t *h = !m->out_header && size <= m->header_room ? message_header_room(m) : malloc(size);
        if (!h)
                return -ENOMEM;
        memcpy(h, m->data, m->body_offset);
        wire_put_u32(h + 12, (uint32_t)fields_len, m->big_endian);
        field_string_put(h + m->body_offset, FIELD_SENDER, sender, l, m->big_endian);
        memset(h + 16 + fields_len, 0, size - 16 - fields_len);
        *ret = h;
        *ret_size = size;
        *ret_sender = (const char *)h + 16 + fields_len - l - 1;
        return 0;
}

int message_stamp(struct message *m, const char *sender)
{
        if (m->out_header && streq_ptr(m->stamped_sender, sender))
                return 0;

        if (m->header_plain) {
                uint8_t *out;
                size_t size;
                const char *stamped;
                int r = stamp_plain(m, sender, &out, &size, &stamped);
                if (r < 0)
                        return r;
                message_drop_out_header(m);
                m->out_header = out;
                m->out_header_size = size;
                m->stamped_sender = stamped;
                return 0;
        }

        struct hdr h;
        struct hdr_fields f = hdr_fields_of(m);
        f.sender = sender;
        size_t text_at[FIELD_MAX_KNOWN + 1];
        int r = hdr_write_for(m->big_endian, &f, &h, text_at);
        if (r < 0)
                return r;
        message_drop_out_header(m);
        m->out_header = h.buf;
        m->out_header_size = h.size;
        m->stamped_sender = sender ? (const char *)h.buf + text_at[FIELD_SENDER] : NULL;
        return 0;
}

int message_new_relay(struct message *src, uint32_t serial, uint32_t reply_serial, const char *destination,
                      struct message **ret)
{
        struct hdr h;
        struct hdr_fields f = hdr_fields_of(src);
        f.serial = serial;
        f.reply_serial = reply_serial;
        f.destination = destination;
        f.n_unix_fds = (uint32_t)src->n_fds;
        size_t text_at[FIELD_MAX_KNOWN + 1];
        int r = hdr_write_for(src->big_endian, &f, &h, text_at);
        if (r < 0)
                return r;
        struct message *m = zalloc(sizeof(*m));
        if (!m) {
                free(h.buf);
                return -ENOMEM;
        }
        *m = (struct message){
                .n_ref = 1,
                .data = src->data,
                .size = src->size,
                .big_endian = src->big_endian,
                .type = src->type,
                .flags = src->flags,
                .serial = serial,
                .reply_serial = reply_serial,
                .n_unix_fds = (uint32_t)src->n_fds,
                .path = src->path,
                .interface = src->interface,
                .member = src->member,
                .error_name = src->error_name,
                .signature = src->signature,
                .body_offset = src->body_offset,
                .body_size = src->body_size,
                .fds = src->fds,
                .n_fds = src->n_fds,
                .out_header = h.buf,
                .out_header_size = h.size,
                .body_owner = message_ref(src->body_owner ? src->body_owner : src),
        };
        src->fds = NULL;
        src->n_fds = 0;
        *ret = m;
        return 0;
}

/* The checks parse_header() makes of each field of a received header, made of the values a header is
 * about to be written from, with the same errors. */
static int hdr_fields_check(const struct hdr_fields *f)
{
        if (f->type == MESSAGE_INVALID)
                return -ERR_MSG_TYPE;
        if (f->serial == 0)
                return -ERR_MSG_SERIAL;
        if (f->path && !dbus_validate_object_path(f->path, strlen(f->path)))
                return -ERR_MSG_FIELD;
        if (f->interface && !dbus_validate_interface(f->interface, strlen(f->interface)))
                return -ERR_MSG_INTERFACE;
        if (f->member && !dbus_validate_member(f->member, strlen(f->member)))
                return -ERR_MSG_MEMBER;
        if (f->error_name && !dbus_validate_error_name(f->error_name, strlen(f->error_name)))
                return -ERR_MSG_ERROR_NAME;
        if ((f->destination && !dbus_validate_bus_name(f->destination, strlen(f->destination))) ||
            (f->sender && !dbus_validate_bus_name(f->sender, strlen(f->sender))))
                return -ERR_MSG_BUS_NAME;
        if (f->signature && !signature_validate(f->signature, strlen(f->signature)))
                return -ERR_MSG_FIELD;
        return 0;
}

int message_new_built(bool be, const struct hdr_fields *f, const uint8_t *body, struct message **ret)
{
        int r = hdr_fields_check(f);
        if (r < 0)
                return r;
        struct hdr h;
        size_t text_at[FIELD_MAX_KNOWN + 1];
        r = hdr_write_for(be, f, &h, text_at);
        if (r < 0)
                return r;
        size_t size = h.size + f->body_size;
        struct message *m = message_alloc_block(ALIGN8(size + 1));
        if (!m) {
                free(h.buf);
                return -ENOMEM;
        }
        uint8_t *d = message_inline_data(m);
        memcpy(d, h.buf, h.size);
        if (f->body_size)
                memcpy(d + h.size, body, f->body_size);
        free(h.buf);

#define TEXT_AT(code) (text_at[code] ? (const char *)d + text_at[code] : NULL)
        m->data = d;
        m->size = size;
        m->big_endian = be;
        m->type = f->type;
        m->flags = f->flags;
        m->serial = f->serial;
        m->reply_serial = f->reply_serial;
        m->n_unix_fds = f->n_unix_fds;
        m->path = TEXT_AT(FIELD_PATH);
        m->interface = TEXT_AT(FIELD_INTERFACE);
        m->member = TEXT_AT(FIELD_MEMBER);
        m->error_name = TEXT_AT(FIELD_ERROR_NAME);
        m->destination = TEXT_AT(FIELD_DESTINATION);
        m->sender = TEXT_AT(FIELD_SENDER);
        m->signature = text_at[FIELD_SIGNATURE] ? TEXT_AT(FIELD_SIGNATURE) : "";
        m->body_offset = h.size;
        m->body_size = f->body_size;
        m->header_plain = !m->sender;
#undef TEXT_AT
        r = header_check(m, m->path ? strlen(m->path) : 0, m->interface ? strlen(m->interface) : 0);
        if (r >= 0)
                r = validate_body(m);
        if (r < 0) {
                message_unref(m);
                return r;
        }
        m->out_header = m->data;
        m->out_header_size = m->body_offset;
        m->stamped_sender = m->sender;
        *ret = m;
        return 0;
}

/* ---- arguments for match rules ---- */

static size_t skip_string(const uint8_t *d, size_t pos, char t, bool be)
{
        if (t == 'g')
                return pos + 1 + d[pos] + 1;
        pos = ALIGN_TO(pos, 4);
        return pos + 4 + wire_u32(d + pos, be) + 1;
}

/* Skips a value of validated data; mirrors v_value() without the checks. */
size_t wire_skip_value(const uint8_t *d, size_t pos, const char **sig, bool be)
{
        char t = *(*sig)++;
        unsigned fs = wire_fixed_size(t);
        if (fs)
                return ALIGN_TO(pos, fs) + fs;
        switch (t) {
        case 's':
        case 'o':
        case 'g':
                return skip_string(d, pos, t, be);
        case 'v': {
                const char *vs = (const char *)d + pos + 1;
                pos = skip_string(d, pos, 'g', be);
                return wire_skip_value(d, pos, &vs, be);
        }
        case 'a': {
                pos = ALIGN_TO(pos, 4);
                uint32_t len = wire_u32(d + pos, be);
                pos += 4;
                const char *elem = *sig;
                *sig = elem + signature_skip_valid(elem);
                return ALIGN_TO(pos, wire_alignment(elem[0])) + len;
        }
        case '(':
        case '{': {
                /* A struct, or a dict entry met while walking an array's elements. */
                char close = t == '(' ? ')' : '}';
                pos = ALIGN_TO(pos, 8);
                while (**sig != close)
                        pos = wire_skip_value(d, pos, sig, be);
                (*sig)++;
                return pos;
        }
        }
        return pos;
}

/* The text of a string-like value at pos of body d, of type t. */
static const char *arg_text(const uint8_t *d, size_t pos, char t)
{
        return (const char *)d + (t == 'g' ? pos + 1 : ALIGN_TO(pos, 4) + 4);
}

static bool is_string_like(char t)
{
        return t == 's' || t == 'o' || t == 'g';
}

int message_parse_args(struct message *m)
{
        if (m->args_parsed)
                return 0;
        const uint8_t *d = m->data + m->body_offset;
        const char *sig = m->signature;
        size_t pos = 0;
        unsigned n = 0;

        /* Bodies were validated on arrival: walking them cannot fail. */
        while (*sig && n < MESSAGE_MAX_MATCH_ARGS) {
                char t = *sig;
                if (n < MESSAGE_CACHED_ARGS) {
                        bool text = is_string_like(t);
                        m->args[n] = text ? arg_text(d, pos, t) : NULL;
                        m->arg_types[n] = text ? t : 0;
                }
                pos = wire_skip_value(d, pos, &sig, m->big_endian);
                n++;
        }
        m->n_args = (uint8_t)n;
        m->args_parsed = true;
        return 0;
}

const char *message_arg(const struct message *m, unsigned index, char *ret_type)
{
        *ret_type = 0;
        if (!m->args_parsed || index >= m->n_args)
                return NULL;
        if (index < MESSAGE_CACHED_ARGS) {
                *ret_type = m->arg_types[index];
                return m->args[index];
        }
        const uint8_t *d = m->data + m->body_offset;
        const char *sig = m->signature;
        size_t pos = 0;
        for (unsigned i = 0; i < index; i++)
                pos = wire_skip_value(d, pos, &sig, m->big_endian);
        if (!is_string_like(*sig))
                return NULL;
        *ret_type = *sig;
        return arg_text(d, pos, *sig);
}

const char *message_type_to_string(uint8_t type)
{
        switch (type) {
        case MESSAGE_METHOD_CALL:
                return "method_call";
        case MESSAGE_METHOD_RETURN:
                return "method_return";
        case MESSAGE_ERROR:
                return "error";
        case MESSAGE_SIGNAL:
                return "signal";
        }
        return "invalid";
}
