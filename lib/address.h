/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus server addresses (specification "Server Addresses" and
 * "Transports"): parsing `transport:key=value,...;...` with %XX unescaping,
 * escaping for printing, and listening on / connecting to unix: entries.
 *
 * Errors are negative errno values; where a human needs to know what was
 * wrong, the function also writes a message into a caller-provided errbuf
 * (which may be NULL).
 */
#pragma once

#include <stddef.h>

#include "util.h"

struct address_pair {
        char *key;
        char *value; /* unescaped */
};

struct address_entry {
        char *transport;
        struct address_pair *pairs; /* in the order given; keys are unique */
        size_t n_pairs;
};

struct address {
        struct address_entry *entries; /* in the order given, which is the order to try them */
        size_t n_entries;
};

/*
 * Parse a whole address. Rejects (-EINVAL, with a message naming the
 * offending offset): an empty address or entry, a missing colon, a transport
 * the spec does not define, a key without '=' or value, duplicate keys, bad
 * or NUL %-escapes and bytes that should have been escaped. A trailing ';'
 * or ',' is accepted, as libdbus does. -ENOMEM. *ret is set only on success.
 */
int address_parse(const char *str, struct address **ret, char *errbuf, size_t errlen);
void address_free(struct address *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct address *, address_free)

/* The unescaped value for key, or NULL. */
const char *address_entry_get(const struct address_entry *e, const char *key);

/* Escape one value: bytes outside [-0-9A-Za-z_/.\*] become %xx. 0 or -ENOMEM. */
int address_escape_value(const char *value, char **ret);
/* Print an entry back as `transport:key=value,...` with escaped values. 0 or -ENOMEM. */
int address_entry_format(const struct address_entry *e, char **ret);

/*
 * Listen on a unix: entry (exactly one of path=, abstract=, dir=, tmpdir=,
 * runtime=yes). The socket is SOCK_STREAM, non-blocking and close-on-exec;
 * a path socket gets mode 0777 & ~umask like dbus-daemon's. *ret_address is
 * the connectable address with ",guid=<guid>" appended (no guid if guid is
 * NULL; ret_address may be NULL), exactly as dbus-daemon prints it. The caller owns a path socket
 * file and unlinks it when it stops listening, as dbus-daemon does.
 *
 * Errors: -EPROTONOSUPPORT for other transports, -EINVAL for a malformed or
 * non-listenable entry or unset XDG_RUNTIME_DIR, -ENAMETOOLONG, or what
 * socket()/bind()/listen() fail with; each comes with a message.
 */
int address_listen(const struct address_entry *e, const char *guid, int *ret_fd, char **ret_address,
                   char *errbuf, size_t errlen);

/*
 * Connect (blocking) to a unix:path= or unix:abstract= entry. Returns a
 * close-on-exec, blocking fd in *ret_fd. Errors as for address_listen(),
 * plus what connect() fails with.
 */
int address_connect(const struct address_entry *e, int *ret_fd, char *errbuf, size_t errlen);

/* Does a server accept on the socket file name in dir_fd (AT_FDCWD: name is a path)? 1 if one does (a
 * full backlog counts: someone listens), 0 if nobody listens (the file of a bus that died), -ENOENT if
 * there is no such file, -ENOTSOCK if it is no socket, -ENXIO if it cannot be reached through
 * /proc/self/fd (no /proc), or another -errno. Never blocks. */
int unix_socket_answers(int dir_fd, const char *name);

/* What nsbusd makes in a container bus's directory, RUNTIME_DIR/NAME, for nsbusctl and the hooks to find:
 * the host's socket, and the directory of the container's socket (bind-mounted at the container's
 * /run/dbus). */
#define CONTAINER_HOST_SOCKET "host.sock"
#define CONTAINER_BUS_DIR "bus"
#define CONTAINER_BUS_SOCKET "system_bus_socket"
