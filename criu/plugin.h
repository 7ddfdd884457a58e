/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parts of nsbus-criu.so, the CRIU plugin that checkpoints and restores a container's bus
 * connections with the container bus (docs/checkpoint.md):
 *
 *   plugin.c   the descriptor CRIU loads, the log, host.sock connections
 *   dump.c     DUMP_UNIX_SK: Export a connection, store its image
 *   restore.c  restore's init: Prepare every image; RESTORE_UNIX_SK: hand a task its connection
 *   resume.c   inside a restored task: a new connection that Resumes the old one
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "message.h"
#include "util.h"

/* The driver interface of a container bus's checkpoints (nsbusd(8), CHECKPOINT AND RESTORE). */
#define CHECKPOINT_INTERFACE "org.nsbus.Checkpoint1"
/* What a blocking call to the bus may take before the dump or restore fails. */
#define PLUGIN_CALL_TIMEOUT_MS 30000
/* The image of the connection whose socket has inode ID, in CRIU's images directory. */
#define PLUGIN_IMAGE_PREFIX "nsbus-sk-"
#define PLUGIN_IMAGE_SUFFIX ".img"
/* Environment: restore onto another bus than the images name: its host.sock, and its container socket
 * as the host sees it (used where a restored task sees that path too, else /run/dbus is). */
#define PLUGIN_ENV_HOST_SOCKET "NSBUS_CRIU_HOST_SOCKET"
#define PLUGIN_ENV_BUS_SOCKET "NSBUS_CRIU_BUS_SOCKET"

/* CRIU's log levels (criu/include/log.h). */
enum {
        PLUGIN_LOG_ERROR = 1,
        PLUGIN_LOG_WARN = 2,
        PLUGIN_LOG_INFO = 3,
        PLUGIN_LOG_DEBUG = 4,
};

/* A line "nsbus-criu: TEXT" in CRIU's log (its -o file, or stderr without one), at CRIU's level; from
 * every process CRIU runs the plugin in, restored tasks included. */
void plugin_log(unsigned level, const char *fmt, ...) _printf_(2, 3);
#define plugin_error(...) plugin_log(PLUGIN_LOG_ERROR, __VA_ARGS__)
#define plugin_info(...) plugin_log(PLUGIN_LOG_INFO, __VA_ARGS__)
#define plugin_debug(...) plugin_log(PLUGIN_LOG_DEBUG, __VA_ARGS__)

/* CRIU's images directory, an fd that CRIU keeps open in every process it runs the plugin in. */
int plugin_images_dir(void);
/* Write all n bytes to a blocking fd: 0 or -errno. */
int plugin_write_all(int fd, const void *buf, size_t n);
/* Read exactly n bytes from a blocking fd, and not one more: 0, -ECONNRESET at end of file first, or
 * -errno. */
int plugin_read_exact(int fd, void *buf, size_t n);

/* A connected AF_UNIX stream socket (blocking, close-on-exec) to path: the fd, or -errno. */
int plugin_connect_unix(const char *path);
/* A bus connection over the host socket at path, as the caller's uid, with fd passing: 0 and *ret, or
 * -errno. Nothing is written until the first call. */
int plugin_connect_host(const char *path, struct client **ret);
/* Start a call of CHECKPOINT_INTERFACE.member to the bus driver on c. */
void plugin_call_init(struct client *c, struct msg_builder *b, const char *member);
/* Finish the call in b and wait for its answer: 0 and *ret (a method return or an error), or -errno
 * (-ETIMEDOUT after PLUGIN_CALL_TIMEOUT_MS). */
int plugin_call(struct client *c, struct msg_builder *b, struct message **ret);
/* The text of an error message: its first argument when that is a string, else "". */
const char *plugin_error_text(const struct message *m);

/* dump.c: CRIU's DUMP_UNIX_SK for the socket fd with inode id, whose peer is outside the dumped tree.
 * 0: the connection's image is stored, CRIU marks the socket as the plugin's; -ENOTSUP: not a connection
 * of a container bus, CRIU applies its own rules to it; -1: the dump fails (the log says why). */
int dump_unix_sk(int fd, int id);
/* Close the connections to the buses. */
void dump_done(void);

/* restore.c: at restore's init, in CRIU, every image of the images directory goes back to its bus with
 * one Prepare per bus; 0 (also when there is none), or -errno after logging why. */
int restore_prepare(void);
/* CRIU's RESTORE_UNIX_SK, inside the restored task: the fd of the socket with inode id, -ENOTSUP for a
 * socket the plugin did not save, or -1 (the log says why). */
int restore_unix_sk(int id);
/* Close the connections to the buses, which drops what was prepared and not resumed. */
void restore_done(void);

/* resume.c */
struct resume_request {
        const char *path; /* the container socket, in the task's mount namespace */
        const uint8_t *token;
        size_t n_token;
        bool unix_fds;
        uint32_t socket_flags;
        const uint8_t *input;
        size_t n_input;
};
/*
 * Connect to the container socket, authenticate as this process's uid and send Resume(token) instead of
 * Hello; on success, write the client's unprocessed input and set the socket's file status flags. The fd
 * of the restored connection, or -errno with err saying what went wrong (-EREMOTEIO: the bus answered
 * with an error, which err names).
 */
int resume_connection(const struct resume_request *req, char *err, size_t errlen);
