/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dump: each socket of the dumped tree whose peer is outside it comes here (DUMP_UNIX_SK); the plugin
 * claims those that are connections to a container bus and stores the bus's image of each.
 *
 * Which bus a socket belongs to is the socket's own fact, not a configuration: its peer's address is the
 * path the bus bound, RUNTIME/NAME/bus/system_bus_socket as the host sees it, and the bus's host socket
 * is next to it, RUNTIME/NAME/host.sock. Any other socket costs one getpeername() and is left to CRIU.
 * The bus, not the path, has the last word: Export answers NotOurs for a socket it does not serve. One
 * host connection per bus is kept for the whole dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ckpt-image.h"
#include "dbus-errors.h"
#include "errors.h"
#include "plugin.h"

#define BUS_SOCKET_SUFFIX "/bus/system_bus_socket"
#define HOST_SOCKET_NAME "/host.sock"

struct dump_bus {
        char *host_socket;
        struct client *client;
};

static struct dump_bus *dump_buses;
static size_t dump_n_buses, dump_allocated_buses;

/* The host socket of the container bus that the socket fd is connected to, from the peer's address:
 * 0 and ret filled, or -ENOTSUP when the peer is not a container bus's socket. */
static int dump_find_host_socket(int fd, char *ret, size_t size)
{
        struct sockaddr_un sa = {};
        socklen_t len = sizeof(sa);
        if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
                return -ENOTSUP; /* not connected any more: nothing for a bus to save */
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (sa.sun_family != AF_UNIX || len <= off || sa.sun_path[0] == 0)
                return -ENOTSUP; /* unnamed or abstract: no bus of ours binds those */
        size_t n = strnlen(sa.sun_path, len - off);
        size_t suffix = strlen(BUS_SOCKET_SUFFIX);
        if (n <= suffix || memcmp(sa.sun_path + n - suffix, BUS_SOCKET_SUFFIX, suffix) != 0)
                return -ENOTSUP;
        int k = snprintf(ret, size, "%.*s%s", (int)(n - suffix), sa.sun_path, HOST_SOCKET_NAME);
        return k > 0 && (size_t)k < size ? 0 : -ENOTSUP;
}

/* The connection to the bus at host_socket, made at the first socket of that bus. */
static int dump_connect_bus(const char *host_socket, struct client **ret)
{
        for (size_t i = 0; i < dump_n_buses; i++)
                if (streq(dump_buses[i].host_socket, host_socket)) {
                        *ret = dump_buses[i].client;
                        return 0;
                }
        if (GREEDY_REALLOC(dump_buses, dump_allocated_buses, dump_n_buses + 1) < 0)
                return -ENOMEM;
        _cleanup_free_ char *path = strdup(host_socket);
        if (!path)
                return -ENOMEM;
        struct client *c;
        int r = plugin_connect_host(host_socket, &c);
        if (r < 0)
                return r;
        dump_buses[dump_n_buses++] = (struct dump_bus){.host_socket = TAKE_PTR(path), .client = c};
        *ret = c;
        return 0;
}

static int dump_store_image(int id, const uint8_t *image, size_t len)
{
        char name[64];
        snprintf(name, sizeof(name), PLUGIN_IMAGE_PREFIX "%u" PLUGIN_IMAGE_SUFFIX, (unsigned)id);
        /* Private: an image holds the messages that were in flight on the connection. */
        _cleanup_close_ int fd = openat(plugin_images_dir(), name,
                                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        int r = plugin_write_all(fd, image, len);
        if (r < 0)
                return r;
        return close(TAKE_FD(fd)) < 0 ? -errno : 0;
}

int dump_unix_sk(int fd, int id)
{
        char host_socket[sizeof(((struct sockaddr_un *)NULL)->sun_path) + sizeof(HOST_SOCKET_NAME)];
        int r = dump_find_host_socket(fd, host_socket, sizeof(host_socket));
        if (r < 0)
                return r;

        struct client *c;
        r = dump_connect_bus(host_socket, &c);
        if (r < 0) {
                /* No bus of ours there (or not one that would have us): CRIU's rules apply. */
                plugin_info("socket %u: its peer looks like a container bus's, but %s: %s", (unsigned)id,
                            host_socket, error_text(r));
                return -ENOTSUP;
        }

        struct msg_builder b;
        plugin_call_init(c, &b, "Export");
        msg_builder_append_basic(&b, 'h', &fd);
        _cleanup_message_ struct message *reply = NULL;
        r = plugin_call(c, &b, &reply);
        if (r < 0) {
                plugin_error("socket %u: Export on %s: %s", (unsigned)id, host_socket, error_text(r));
                return -1;
        }
        if (reply->type == MESSAGE_ERROR) {
                if (streq(reply->error_name, NSBUS_ERROR_NOT_OURS)) {
                        plugin_info("socket %u: not a connection of the bus at %s", (unsigned)id,
                                    host_socket);
                        return -ENOTSUP;
                }
                if (streq(reply->error_name, NSBUS_ERROR_NOT_CHECKPOINTABLE))
                        plugin_error("socket %u: the bus at %s cannot save this connection now: %s",
                                     (unsigned)id, host_socket, plugin_error_text(reply));
                else
                        plugin_error("socket %u: Export on %s: %s: %s", (unsigned)id, host_socket,
                                     reply->error_name, plugin_error_text(reply));
                return -1;
        }

        const uint8_t *image;
        size_t len;
        struct msg_reader rd;
        msg_reader_init(&rd, reply);
        if (!streq(reply->signature, "ay") || msg_reader_read_bytes(&rd, &image, &len) < 0) {
                plugin_error("socket %u: Export on %s answered with signature '%s', not 'ay'", (unsigned)id,
                             host_socket, reply->signature);
                return -1;
        }
        /* Parsed here too, so that a dump never stores what the restore could not read. */
        struct ckpt_image img = {};
        char err[512];
        if (ckpt_image_parse(image, len, &img, err, sizeof(err)) < 0) {
                plugin_error("socket %u: the bus at %s exported an image that does not parse: %s",
                             (unsigned)id, host_socket, err);
                return -1;
        }
        r = dump_store_image(id, image, len);
        if (r < 0)
                plugin_error("socket %u: writing " PLUGIN_IMAGE_PREFIX "%u" PLUGIN_IMAGE_SUFFIX ": %s",
                             (unsigned)id, (unsigned)id, error_text(r));
        else
                plugin_info("socket %u: saved connection %s of container %s (%zu bytes)", (unsigned)id,
                            img.unique_name, img.container, len);
        ckpt_image_done(&img);
        return r < 0 ? -1 : 0;
}

void dump_done(void)
{
        for (size_t i = 0; i < dump_n_buses; i++) {
                free(dump_buses[i].host_socket);
                client_free(dump_buses[i].client);
        }
        free(dump_buses);
        dump_buses = NULL;
        dump_n_buses = dump_allocated_buses = 0;
}
