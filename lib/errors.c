/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of nsbus's error codes (errors.h): a name and a message each. */
#include <string.h>

#include "errors.h"
#include "util.h"

static const struct {
        const char *name;
        const char *text;
} errors[NSBUS_ERROR_END - NSBUS_ERROR_FIRST] = {
#define E(code, message) [code - NSBUS_ERROR_FIRST] = {#code, message}
        E(ERR_MSG_ENDIAN, "its first byte is neither 'l' nor 'B' (the endianness)"),
        E(ERR_MSG_VERSION, "its protocol version is not 1"),
        E(ERR_MSG_FIELDS_LENGTH, "its header fields array is longer than 64 MiB"),
        E(ERR_MSG_TOO_LONG, "it is longer than the bus allows (max_message_size, at most 128 MiB)"),
        E(ERR_MSG_SIZE, "it is shorter or longer than its header says"),
        E(ERR_MSG_TYPE, "its type is 0 (INVALID)"),
        E(ERR_MSG_SERIAL, "its serial is 0"),
        E(ERR_MSG_FIELD, "a header field is malformed (its alignment, variant signature or value)"),
        E(ERR_MSG_FIELD_CODE, "a header field has code 0 (INVALID)"),
        E(ERR_MSG_FIELD_TYPE, "a header field has the wrong type for its code"),
        E(ERR_MSG_FIELD_TWICE, "a header field appears twice"),
        E(ERR_MSG_REPLY_SERIAL, "its REPLY_SERIAL is 0"),
        E(ERR_MSG_INTERFACE, "its INTERFACE is not a valid interface name"),
        E(ERR_MSG_MEMBER, "its MEMBER is not a valid member name"),
        E(ERR_MSG_ERROR_NAME, "its ERROR_NAME is not a valid error name"),
        E(ERR_MSG_BUS_NAME, "its DESTINATION or SENDER is not a valid bus name"),
        E(ERR_MSG_PADDING, "the padding after its header fields is not zeros"),
        E(ERR_MSG_REQUIRED_FIELD, "a header field its type requires is missing (a call needs PATH and "
                                  "MEMBER, a signal PATH, INTERFACE and MEMBER, an error ERROR_NAME and "
                                  "REPLY_SERIAL, a return REPLY_SERIAL)"),
        E(ERR_MSG_UNIX_FDS, "its UNIX_FDS is over the limit of fds per message"),
        E(ERR_MSG_MISSING_FDS, "its UNIX_FDS counts more fds than came with it"),
        E(ERR_MSG_LOCAL, "it uses the path or interface reserved for org.freedesktop.DBus.Local"),
        E(ERR_MSG_BODY, "its body does not match its signature (alignment, padding, booleans, UTF-8, "
                        "object paths, signatures, array lengths, nesting depth or fd indices)"),
        E(ERR_MSG_BODY_LENGTH, "its body goes on after the values its signature describes"),
        E(ERR_LIMIT_CONNECTION, "a per-connection limit of the configuration (max_names_per_connection, "
                                "max_match_rules_per_connection or max_replies_per_connection)"),
        E(ERR_LIMIT_USER, "the uid's share of the bus (max_connections_per_user or a per-user quota)"),
        E(ERR_LIMIT_QUEUE, "the receiver's queue is full (max_outgoing_bytes or max_outgoing_unix_fds)"),
#undef E
};

const char *error_name(int r)
{
        if (r >= 0)
                return "?";
        if (-r >= NSBUS_ERROR_FIRST && -r < NSBUS_ERROR_END)
                return errors[-r - NSBUS_ERROR_FIRST].name;
        const char *n = strerrorname_np(-r);
        return n ? n : "?";
}

const char *error_text(int r)
{
        if (-r >= NSBUS_ERROR_FIRST && -r < NSBUS_ERROR_END)
                return errors[-r - NSBUS_ERROR_FIRST].text;
        return strerror(-r);
}
