/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Byte-order and alignment primitives shared by the message parser, reader and builder. */
#pragma once

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t wire_u16(const uint8_t *p, bool be)
{
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return be ? be16toh(v) : le16toh(v);
}

static inline uint32_t wire_u32(const uint8_t *p, bool be)
{
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return be ? be32toh(v) : le32toh(v);
}

static inline uint64_t wire_u64(const uint8_t *p, bool be)
{
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return be ? be64toh(v) : le64toh(v);
}

static inline void wire_put_u32(uint8_t *p, uint32_t v, bool be)
{
        v = be ? htobe32(v) : htole32(v);
        memcpy(p, &v, sizeof(v));
}

#define WIRE_NATIVE_BIG_ENDIAN (__BYTE_ORDER == __BIG_ENDIAN)

/* Alignment of a type code's values on the wire ("Marshaling (Wire Format)"). */
static inline unsigned wire_alignment(char t)
{
        switch (t) {
        case 'y':
        case 'g':
        case 'v':
                return 1;
        case 'n':
        case 'q':
                return 2;
        case 'b':
        case 'i':
        case 'u':
        case 'h':
        case 's':
        case 'o':
        case 'a':
                return 4;
        case 'x':
        case 't':
        case 'd':
        case '(':
        case '{':
                return 8;
        default:
                return 1;
        }
}

/* Size of a fixed-size basic type (its alignment: every one is aligned to its size), 0 for everything
 * else. */
static inline unsigned wire_fixed_size(char t)
{
        return t && strchr("ynqbiuhxtd", t) ? wire_alignment(t) : 0;
}

static inline bool wire_is_basic(char t)
{
        return wire_fixed_size(t) || t == 's' || t == 'o' || t == 'g';
}

/* Header contents, for the one header writer in message.c (used by stamping and the builder). */
struct hdr_fields {
        uint8_t type, flags;
        uint32_t body_size, serial, reply_serial, n_unix_fds;
        const char *path, *interface, *member, *error_name, *destination, *sender, *signature;
};

/*
 * A message the bus builds (msg_builder_finish()): a header in byte order be written from f, and
 * f->body_size bytes of body, in one allocation. Nothing is parsed back: each header field is checked as it
 * would be on arrival, with the same -ERR_MSG_* errors, and the body validated against f->signature, so that
 * a builder that wrote something a peer would have to refuse fails here instead. Its outgoing header is its
 * own, with f->sender stamped. Returns -ERR_MSG_*, -E2BIG or -ENOMEM.
 */
struct message;
int message_new_built(bool be, const struct hdr_fields *f, const uint8_t *body, struct message **ret);

/* Offset just past the value of the complete type at *sig in validated data; advances *sig. */
size_t wire_skip_value(const uint8_t *d, size_t pos, const char **sig, bool be);
