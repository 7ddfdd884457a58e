/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbus's own error codes, one table for the project. Functions return them
 * negated, as they return -errno; the codes start above the kernel's errno
 * range (MAX_ERRNO is 4095), so one int carries either and error_text() says
 * what either means. Each code has a name (for logs and tests) and a message
 * that says which rule was broken, so a log line never has to guess.
 */
#pragma once

#include <stdbool.h>

enum nsbus_error {
        NSBUS_ERROR_FIRST = 4096,

        /* A received message breaks the D-Bus specification ("Message Format", "Valid Names"). */
        ERR_MSG_ENDIAN = NSBUS_ERROR_FIRST,
        ERR_MSG_VERSION,
        ERR_MSG_FIELDS_LENGTH,
        ERR_MSG_TOO_LONG,
        ERR_MSG_SIZE,
        ERR_MSG_TYPE,
        ERR_MSG_SERIAL,
        ERR_MSG_FIELD,
        ERR_MSG_FIELD_CODE,
        ERR_MSG_FIELD_TYPE,
        ERR_MSG_FIELD_TWICE,
        ERR_MSG_REPLY_SERIAL,
        ERR_MSG_INTERFACE,
        ERR_MSG_MEMBER,
        ERR_MSG_ERROR_NAME,
        ERR_MSG_BUS_NAME,
        ERR_MSG_PADDING,
        ERR_MSG_REQUIRED_FIELD,
        ERR_MSG_UNIX_FDS,
        ERR_MSG_MISSING_FDS,
        ERR_MSG_LOCAL,
        ERR_MSG_BODY,
        ERR_MSG_BODY_LENGTH,

        /* A limit of the bus configuration said no. */
        ERR_LIMIT_CONNECTION,
        ERR_LIMIT_USER,
        ERR_LIMIT_QUEUE,

        NSBUS_ERROR_END,
};

/* True for -ERR_MSG_*: the bytes were not a valid D-Bus message. */
static inline bool error_is_invalid_message(int r)
{
        return r <= -ERR_MSG_ENDIAN && r >= -ERR_MSG_BODY_LENGTH;
}

/* The code's name ("ERR_MSG_SERIAL"), or the errno's ("EBADMSG"), for r negative; "?" otherwise. */
const char *error_name(int r);
/* What r means, in words: the broken rule for our codes, strerror() for an errno. */
const char *error_text(int r);
