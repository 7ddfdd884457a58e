/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbus-criu.so, the CRIU plugin that lets a container be checkpointed and restored with its bus
 * connections (docs/checkpoint.md). CRIU cannot save a unix socket whose peer is outside the dumped
 * tree; for a connection to a container bus, the bus can: the plugin claims the socket at dump and asks
 * the bus for the connection's image, and on restore gives the images back to the bus and hands each
 * restored process a new socket that has taken over its old connection.
 *
 * CRIU runs the plugin in more than one process: init, exit and the dump hook in CRIU itself, as host
 * root; the restore hook inside each restored task, which CRIU forked after init (so it has init's
 * memory) but which has closed every fd CRIU did not keep for itself. What a task needs of init is
 * therefore kept in memory, never in an fd, and the log goes through CRIU's own logger, whose fd every
 * task keeps: a task's fd 2 may by then be one of the process's own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Only the descriptor is exported; CRIU's header declares it and criu_get_image_dir(), which CRIU
 * exports. */
#pragma GCC visibility push(default)
#include <criu-plugin.h>
#pragma GCC visibility pop

#include "plugin.h"

/* CRIU's logger, as its in-tree plugins use it (criu/include/log.h); not in the installed headers.
 * Weak, so that the module still loads (and logs to stderr) in a program that is not CRIU. */
extern void print_on_level(unsigned int loglevel, const char *format, ...)
        __attribute__((weak, visibility("default"), format(printf, 2, 3)));

void plugin_log(unsigned level, const char *fmt, ...)
{
        char text[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (print_on_level)
                print_on_level(level, "nsbus-criu: %s\n", text);
        else
                fprintf(stderr, "nsbus-criu: %s\n", text);
}

int plugin_images_dir(void)
{
        return criu_get_image_dir();
}

int plugin_write_all(int fd, const void *buf, size_t n)
{
        const uint8_t *p = buf;
        while (n > 0) {
                /* send() where it can: a bus that went away must not kill CRIU or a task with SIGPIPE. */
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == ENOTSOCK)
                        k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int plugin_read_exact(int fd, void *buf, size_t n)
{
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -ECONNRESET;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int plugin_connect_unix(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t len = strlen(path);
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        while (connect(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len + 1) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int plugin_connect_host(const char *path, struct client **ret)
{
        int fd = plugin_connect_unix(path);
        if (fd < 0)
                return fd;
        return client_new_with(fd, getuid(), true, ret);
}

void plugin_call_init(struct client *c, struct msg_builder *b, const char *member)
{
        msg_builder_init(b, MESSAGE_METHOD_CALL, client_next_serial(c));
        b->destination = DRIVER_NAME;
        b->path = DRIVER_PATH;
        b->interface = CHECKPOINT_INTERFACE;
        b->member = member;
}

int plugin_call(struct client *c, struct msg_builder *b, struct message **ret)
{
        _cleanup_message_ struct message *call = NULL;
        int r = msg_builder_finish(b, &call);
        if (r < 0)
                return r;
        return client_call_blocking(c, call, PLUGIN_CALL_TIMEOUT_MS, ret);
}

const char *plugin_error_text(const struct message *m)
{
        struct msg_reader rd;
        const char *text;
        msg_reader_init(&rd, m);
        if (msg_reader_read_basic(&rd, 's', &text) < 0)
                return "";
        return text;
}

static int plugin_init(int stage)
{
        if (stage == CR_PLUGIN_STAGE__RESTORE)
                return restore_prepare() < 0 ? -1 : 0;
        return 0;
}

static void plugin_exit(int stage, int ret)
{
        dump_done();
        restore_done();
}

CR_PLUGIN_REGISTER("nsbus", plugin_init, plugin_exit)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_UNIX_SK, dump_unix_sk)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_UNIX_SK, restore_unix_sk)
