/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus messages: parsing and validation of received bytes, the forwarding
 * header the bus stamps on them, a zero-copy body reader and a builder.
 *
 * A received message keeps its bytes exactly as they arrived. Forwarding
 * never re-marshals the body: message_stamp() builds a fresh header (in the
 * message's own byte order, with the SENDER the bus vouches for and without
 * header fields this bus does not know) and the writer sends that header
 * followed by the untouched body, as two iovecs.
 */
#pragma once

#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Limits from the D-Bus specification, "Valid Signatures" and "Message Format". */
#define DBUS_MAXIMUM_MESSAGE_LENGTH (1u << 27)
#define DBUS_MAXIMUM_ARRAY_LENGTH (1u << 26)
#define DBUS_MAXIMUM_SIGNATURE_LENGTH 255u
#define DBUS_MAXIMUM_NAME_LENGTH 255u
#define DBUS_MAXIMUM_TYPE_RECURSION_DEPTH 32u
#define DBUS_MAXIMUM_UNIX_FDS (16u * 1024u) /* per message; the kernel caps one SCM_RIGHTS at 253 */
#define DBUS_MINIMUM_HEADER_SIZE 16u

/* The bus driver, "Message Bus Messages" in the specification. */
#define DRIVER_NAME "org.freedesktop.DBus"
#define DRIVER_PATH "/org/freedesktop/DBus"
#define DRIVER_INTERFACE "org.freedesktop.DBus"
/* Reserved for messages a library makes up for itself ("Message Bus Specification", Local): none travels. */
#define DBUS_LOCAL_PATH "/org/freedesktop/DBus/Local"
#define DBUS_LOCAL_INTERFACE "org.freedesktop.DBus.Local"

enum message_type {
        MESSAGE_INVALID = 0,
        MESSAGE_METHOD_CALL = 1,
        MESSAGE_METHOD_RETURN = 2,
        MESSAGE_ERROR = 3,
        MESSAGE_SIGNAL = 4,
};

enum {
        MESSAGE_FLAG_NO_REPLY_EXPECTED = 0x1,
        MESSAGE_FLAG_NO_AUTO_START = 0x2,
        MESSAGE_FLAG_ALLOW_INTERACTIVE_AUTHORIZATION = 0x4,
};

enum message_field {
        FIELD_INVALID = 0,
        FIELD_PATH = 1,
        FIELD_INTERFACE = 2,
        FIELD_MEMBER = 3,
        FIELD_ERROR_NAME = 4,
        FIELD_REPLY_SERIAL = 5,
        FIELD_DESTINATION = 6,
        FIELD_SENDER = 7,
        FIELD_SIGNATURE = 8,
        FIELD_UNIX_FDS = 9,
        FIELD_MAX_KNOWN = 9,
};

/* Matching looks at up to this many leading string-like arguments (argN, N < 64). The first
 * MESSAGE_CACHED_ARGS are indexed in the message; the rest, rare in match rules, are found by walking the
 * body (message_arg()). */
#define MESSAGE_MAX_MATCH_ARGS 64
#define MESSAGE_CACHED_ARGS 8

struct message {
        unsigned n_ref;

        /* The bytes as received or built; message owns them. */
        uint8_t *data;
        size_t size;

        bool big_endian;
        uint8_t type;
        uint8_t flags;
        uint32_t serial;
        uint32_t reply_serial; /* 0 if absent */
        uint32_t n_unix_fds;   /* from the UNIX_FDS field */

        /* Header fields; each points into data (NUL-terminated there) or is NULL. */
        const char *path;
        const char *interface;
        const char *member;
        const char *error_name;
        const char *destination;
        const char *sender;
        const char *signature; /* "" when absent */

        size_t body_offset;
        uint32_t body_size;
        /* The received header has only fields this bus knows and no SENDER: message_stamp() keeps its
         * bytes and appends SENDER instead of writing every field again. */
        bool header_plain;

        /* File descriptors that arrived with the message, owned. */
        int *fds;
        size_t n_fds;

        /* The header that goes on the wire (stamped, or data itself for built messages). */
        uint8_t *out_header; /* owned unless == data or in the room below */
        size_t out_header_size;
        /* Bytes set aside for the first stamped header in the message's own allocation
         * (message_new_copy()), 0 if none. */
        size_t header_room;
        /* Sender as stamped (points into out_header) */
        const char *stamped_sender;

        /* A relayed message (message_new_relay()) borrows the body of this one, which it keeps alive. */
        struct message *body_owner;
        /* The size of this allocation when message_unref() may keep it for the next message_new_copy()
         * (message.c, "Blocks of message_new_copy()"), else 0. */
        size_t block_size;

        /* Leading string/object-path/signature arguments, parsed lazily for match rules: read them with
         * message_arg(). */
        bool args_parsed;
        uint8_t n_args; /* leading arguments, at most MESSAGE_MAX_MATCH_ARGS */
        const char *args[MESSAGE_CACHED_ARGS];
        char arg_types[MESSAGE_CACHED_ARGS]; /* 's', 'o', 'g' or 0 for other types */
};

/* Read the fixed part of a header. Needs DBUS_MINIMUM_HEADER_SIZE bytes. On
 * success *total is the full message length. -ERR_MSG_ENDIAN, _VERSION,
 * _FIELDS_LENGTH or _TOO_LONG (errors.h) if the header is not one a valid
 * message can have. */
int message_peek_size(const uint8_t *p, size_t *total);

/* Take ownership of data (size bytes, malloc'd) and validate header and
 * body completely. On failure data is freed and ret stays untouched.
 * Returns -ERR_MSG_* (errors.h: the rule it breaks) for an invalid message,
 * -ENOMEM. The file descriptors
 * announced in the UNIX_FDS field are attached afterwards by the reader of
 * the socket, with message_attach_fds(). */
int message_new_from_data(uint8_t *data, size_t size, struct message **ret);
/* The same for a copy of size bytes, made into the allocation that holds the message itself: one
 * allocation, and the bytes share cache lines with the fields pointing into them. */
int message_new_copy(const uint8_t *bytes, size_t size, struct message **ret);
/* Hand n fds (exactly m->n_unix_fds) to the message, which closes them. */
void message_attach_fds(struct message *m, int *fds, size_t n);

/* How many freed message blocks are kept for the next messages (message.c, "Blocks of message_new_copy()"):
 * small ones, of up to 1 KiB (at most 32), and big ones, of up to 64 KiB (at most 4); none under
 * AddressSanitizer. */
void message_blocks_kept(size_t *ret_small, size_t *ret_big);
struct message *message_ref(struct message *m);
struct message *message_unref(struct message *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct message *, message_unref)
#define _cleanup_message_ _cleanup_(message_unrefp)

/* Build the outgoing header with SENDER = sender (NULL: keep none), dropping
 * unknown header fields. Returns -E2BIG when the message would then exceed the
 * protocol's limits, -ENOMEM. Idempotent for the same sender. A header_plain
 * message keeps its fields as received (SENDER last; without a sender, the
 * received header itself is the outgoing one). */
int message_stamp(struct message *m, const char *sender);

/*
 * A message that carries src's body to another bus: a fresh header in src's byte order with src's type,
 * flags, PATH, INTERFACE, MEMBER, ERROR_NAME and SIGNATURE, the given serial, reply_serial (0: none) and
 * destination (NULL: none), and no SENDER (the next bus stamps its own). The body is not copied: the new
 * message references src. src's fds move to the new message. Its destination field is not set; it is
 * meant to be queued, not inspected. Returns -ENOMEM, -E2BIG.
 */
int message_new_relay(struct message *src, uint32_t serial, uint32_t reply_serial, const char *destination,
                      struct message **ret);

/* Count the leading arguments and index the first MESSAGE_CACHED_ARGS (lazily, once). Returns 0. */
int message_parse_args(struct message *m);
/* After message_parse_args(): argument index (< m->n_args) if it is a string, object path or signature,
 * with its type in *ret_type ('s', 'o', 'g'); otherwise NULL and 0. */
const char *message_arg(const struct message *m, unsigned index, char *ret_type);

const char *message_type_to_string(uint8_t type);

/* ---- validation of names (D-Bus spec, "Valid Names") ---- */
bool dbus_validate_bus_name(const char *s, size_t n);
bool dbus_validate_unique_name(const char *s, size_t n);
/* The id N of a unique name ":1.N" the way this bus makes them (decimal, no leading zeros, at most
 * DBUS_UNIQUE_ID_MAX): true and *ret_id. */
bool dbus_parse_unique_name(const char *s, uint64_t *ret_id);
#define DBUS_UNIQUE_ID_MAX ((UINT64_MAX - 9) / 10 * 10 + 9) /* 2^64 - 7 */
bool dbus_validate_well_known_name(const char *s, size_t n);
bool dbus_validate_interface(const char *s, size_t n);
bool dbus_validate_member(const char *s, size_t n);
bool dbus_validate_error_name(const char *s, size_t n);
bool dbus_validate_object_path(const char *s, size_t n);
bool utf8_validate(const char *s, size_t n);

/* ---- signatures ---- */

/* Validate a whole signature (any number of complete types). */
bool signature_validate(const char *s, size_t n);
/* Validate exactly one complete type. */
bool signature_validate_single(const char *s, size_t n);
/* Length of the complete type starting at s, or 0 if s does not start with one. */
size_t signature_next_complete(const char *s);
/* The same for a signature already validated: it only counts brackets. */
size_t signature_skip_valid(const char *s);

/* ---- zero-copy body reader ---- */

struct msg_reader_frame {
        const char *sig;      /* signature of the current level */
        const char *sig_pos;  /* next type to read */
        const char *sig_end;  /* end of this level's signature (exclusive) */
        size_t end;           /* data end of the container (array end or body end) */
        char kind;            /* 0 (body), 'a', '(', '{', 'v' */
        const char *arr_elem; /* for arrays: the element signature */
};

struct msg_reader {
        const uint8_t *data; /* body base; offsets relative to it for alignment */
        size_t pos;
        bool big_endian;
        unsigned depth;
        struct msg_reader_frame stack[DBUS_MAXIMUM_TYPE_RECURSION_DEPTH * 2 + 2];
        const int *fds;
        size_t n_fds;
};

/* One basic value: what msg_reader_read_basic() writes and msg_builder_append_basic() reads, by type
 * ('b' and 'h' as int, 's', 'o' and 'g' as a string). */
union msg_basic {
        uint8_t y;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
        int h;
};

void msg_reader_init(struct msg_reader *r, const struct message *m);
/* Type of the next item at this level, or 0 at the end. */
char msg_reader_peek(struct msg_reader *r);
/* Read one basic type. out: uint8_t/int16_t/.../double, const char ** for s/o/g, int for 'h' (the fd itself,
 * borrowed). Returns 0, -ENXIO when the next type differs, -EBADMSG on bad data. */
int msg_reader_read_basic(struct msg_reader *r, char type, void *out);
/* Enter a container: type is 'a', '(', '{' or 'v'; contents is the expected signature inside
 * ("s", "{sv}", ...) or NULL for any. */
int msg_reader_enter(struct msg_reader *r, char type, const char *contents);
int msg_reader_exit(struct msg_reader *r);
/* Read an "ay" in one go: *ret points into the message (valid while it lives), *ret_len bytes. */
int msg_reader_read_bytes(struct msg_reader *r, const uint8_t **ret, size_t *ret_len);
/* Skip one complete value. */
int msg_reader_skip(struct msg_reader *r);
/* Read the arguments for a signature of basic types and "as" (char ***, NULL-terminated, caller frees array
 * only) in one call: msg_read(m, "su", &s, &u). The signature must equal the message's exactly. */
int message_read(const struct message *m, const char *sig, ...);

/* ---- builder ---- */

struct msg_builder {
        uint8_t *buf;
        size_t size, allocated;
        int error;         /* sticky: first error, reported by finish */
        size_t body_start; /* offset where the body begins */
        char signature[DBUS_MAXIMUM_SIGNATURE_LENGTH + 1];
        size_t sig_len;
        unsigned depth; /* container nesting; inside a container the signature is not appended */
        struct {
                char type;
                size_t len_offset; /* arrays: where the uint32 length lives */
                size_t start;      /* arrays: first element offset */
        } stack[DBUS_MAXIMUM_TYPE_RECURSION_DEPTH * 2];
        int *fds;
        size_t n_fds, allocated_fds_;

        /* header fields collected before the body is written */
        uint8_t type, flags;
        uint32_t serial, reply_serial;
        const char *path, *interface, *member, *error_name, *destination, *sender;
};

/*
 * An ERROR message answering the call whose serial is reply_serial, with the error name and one string of
 * text, NO_REPLY_EXPECTED set. destination and sender may be NULL. A text that is not valid UTF-8 (error
 * texts quote what peers sent, and a cut may split a character) is replaced by the error name, so the
 * message is always valid. Returns 0 or -ENOMEM.
 */
int message_new_error(uint32_t serial, uint32_t reply_serial, const char *destination, const char *sender,
                      const char *name, const char *text, struct message **ret);

/* Start a message. Strings are borrowed until msg_builder_finish(). */
void msg_builder_init(struct msg_builder *b, uint8_t type, uint32_t serial);
/* Append arguments: basic types by value ('s','o','g' as const char *), "as" as const char *const *,
 * NULL-terminated. For anything else use msg_builder_open/close and msg_builder_append_basic. */
int msg_builder_append(struct msg_builder *b, const char *sig, ...);
int msg_builder_appendv(struct msg_builder *b, const char *sig, va_list ap);
int msg_builder_append_basic(struct msg_builder *b, char type, const void *value);
int msg_builder_open(struct msg_builder *b, char type, const char *contents);
int msg_builder_close(struct msg_builder *b);
/* Append an "ay" of n bytes in one copy. */
int msg_builder_append_bytes(struct msg_builder *b, const void *bytes, size_t n);
/* One {sv} entry of an a{sv} dictionary whose variant holds a basic value (type, as
 * msg_builder_append_basic). */
int msg_builder_append_entry(struct msg_builder *b, const char *key, char type, const void *value);
/* Produce the message (header + body, both in native byte order); out_header is set so it can be queued
 * directly. Frees the builder's buffer on failure. */
int msg_builder_finish(struct msg_builder *b, struct message **ret);
void msg_builder_done(struct msg_builder *b);
