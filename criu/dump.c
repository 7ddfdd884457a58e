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
 *
 * The bus finds its end of the connection with sock_diag, which answers for one network namespace: the
 * client's (where the kernel made the bus's end too, at accept). The bus has given up the privileges to
 * enter it, so the plugin makes a NETLINK_SOCK_DIAG socket there (one per namespace for the whole dump)
 * and hands it over with the socket.
 *
 * One round trip per connection made a dump of a container with many connections slow on a busy machine
 * (each waits for the bus to be scheduled). So at the first socket of a bus the plugin asks for all of
 * them at once (ExportAll): the bus exports and holds every connection of the container in that
 * namespace, and the plugin completes each image when CRIU hands it the socket, with what waits unread in
 * the socket (which the bus cannot see, and no longer adds to). A socket whose connection is not among
 * them gets its own Export.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ckpt-image.h"
#include "sockqueue.h"
#include "dbus-errors.h"
#include "errors.h"
#include "plugin.h"

#define BUS_SOCKET_SUFFIX "/bus/system_bus_socket"
#define HOST_SOCKET_NAME "/host.sock"

/* A connection's image as ExportAll gave it, by its client socket's inode. */
struct dump_image {
        uint64_t ino;
        uint8_t *image;
        size_t len;
};

struct dump_bus {
        char *host_socket;
        struct client *client;
        bool asked_all;
        struct dump_image *images;
        size_t n_images;
};

static struct dump_bus *dump_buses;
static size_t dump_n_buses, dump_allocated_buses;

struct dump_netns {
        uint64_t ino; /* the network namespace's */
        int diag_fd;
};

static struct dump_netns *dump_netns;
static size_t dump_n_netns, dump_allocated_netns;

/* A NETLINK_SOCK_DIAG socket made in the network namespace ns_fd names: the plugin enters it for the one
 * socket() call and goes back to where it was. */
static int diag_socket_in(int ns_fd)
{
        _cleanup_close_ int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home < 0)
                return -errno;
        if (setns(ns_fd, CLONE_NEWNET) < 0)
                return -errno;
        int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        int saved = errno;
        if (setns(home, CLONE_NEWNET) < 0) {
                /* CRIU would go on in the container's network namespace: never. */
                plugin_error("cannot go back to our network namespace: %s", error_text(-errno));
                abort();
        }
        return fd < 0 ? -saved : fd;
}

/* The sock_diag socket of the network namespace the socket fd is in (made at its first socket). */
static int dump_diag_socket(int fd)
{
        _cleanup_close_ int ns_fd = ioctl(fd, SIOCGSKNS);
        struct stat st;
        if (ns_fd < 0 || fstat(ns_fd, &st) < 0)
                return -errno;
        for (size_t i = 0; i < dump_n_netns; i++)
                if (dump_netns[i].ino == (uint64_t)st.st_ino)
                        return dump_netns[i].diag_fd;
        if (GREEDY_REALLOC(dump_netns, dump_allocated_netns, dump_n_netns + 1) < 0)
                return -ENOMEM;
        int diag_fd = diag_socket_in(ns_fd);
        if (diag_fd < 0)
                return diag_fd;
        dump_netns[dump_n_netns++] = (struct dump_netns){.ino = st.st_ino, .diag_fd = diag_fd};
        return diag_fd;
}

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
static int dump_connect_bus(const char *host_socket, struct dump_bus **ret)
{
        for (size_t i = 0; i < dump_n_buses; i++)
                if (streq(dump_buses[i].host_socket, host_socket)) {
                        *ret = &dump_buses[i];
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
        dump_buses[dump_n_buses] = (struct dump_bus){.host_socket = TAKE_PTR(path), .client = c};
        *ret = &dump_buses[dump_n_buses++];
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

/* Every connection of the bus at once (ExportAll through diag_fd), kept in bus->images. Nothing is lost
 * when it fails: each socket then gets its own Export. */
static void dump_export_all(struct dump_bus *bus, int diag_fd)
{
        bus->asked_all = true;
        struct msg_builder b;
        plugin_call_init(bus->client, &b, "ExportAll");
        msg_builder_append_basic(&b, 'h', &diag_fd);
        _cleanup_message_ struct message *reply = NULL;
        int r = plugin_call(bus->client, &b, &reply);
        if (r < 0 || reply->type == MESSAGE_ERROR || !streq(reply->signature, "a(tay)")) {
                plugin_info("ExportAll on %s: %s%s%s: exporting connection by connection", bus->host_socket,
                            r < 0                          ? error_text(r)
                            : reply->type == MESSAGE_ERROR ? reply->error_name
                                                           : "",
                            r >= 0 && reply->type == MESSAGE_ERROR ? ": " : "",
                            r >= 0 && reply->type == MESSAGE_ERROR ? plugin_error_text(reply) : "");
                return;
        }
        struct msg_reader rd;
        msg_reader_init(&rd, reply);
        size_t allocated = 0;
        if (msg_reader_enter(&rd, 'a', "(tay)") < 0)
                return;
        while (msg_reader_peek(&rd) == '(') {
                uint64_t ino;
                const uint8_t *image;
                size_t len;
                if (msg_reader_enter(&rd, '(', "tay") < 0 || msg_reader_read_basic(&rd, 't', &ino) < 0 ||
                    msg_reader_read_bytes(&rd, &image, &len) < 0 || msg_reader_exit(&rd) < 0)
                        break;
                uint8_t *copy = malloc(len ? len : 1);
                if (!copy || GREEDY_REALLOC(bus->images, allocated, bus->n_images + 1) < 0) {
                        free(copy);
                        break;
                }
                memcpy(copy, image, len);
                bus->images[bus->n_images++] = (struct dump_image){ino, copy, len};
        }
        plugin_info("ExportAll on %s: %zu connections", bus->host_socket, bus->n_images);
}

/* The image ExportAll gave for the socket fd, completed with what waits unread in fd and its flags: 0 and
 * *ret, -ENOENT when there is none, or -1 after logging why. */
static int dump_complete_image(struct dump_bus *bus, int fd, int id, uint8_t **ret, size_t *ret_len)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -ENOENT;
        const struct dump_image *di = NULL;
        for (size_t i = 0; i < bus->n_images && !di; i++)
                if (bus->images[i].ino == (uint64_t)st.st_ino)
                        di = &bus->images[i];
        if (!di)
                return -ENOENT;
        _cleanup_(ckpt_image_done) struct ckpt_image img = {};
        char err[512];
        if (ckpt_image_parse(di->image, di->len, &img, err, sizeof(err)) < 0) {
                plugin_error("socket %u: the bus at %s exported an image that does not parse: %s",
                             (unsigned)id, bus->host_socket, err);
                return -1;
        }
        _cleanup_free_ uint8_t *unread = NULL;
        size_t n_unread = 0;
        int r = sockqueue_peek(fd, &unread, &n_unread);
        if (r < 0) {
                plugin_error("socket %u: %s: %s", (unsigned)id, img.unique_name,
                             r == -EBUSY ? "file descriptors are on their way to it: retry the dump"
                                         : error_text(r));
                return -1;
        }
        if (n_unread) { /* first: the bus wrote it before the rest of the queue */
                uint8_t *output = malloc(n_unread + img.n_output);
                if (!output)
                        return -1;
                memcpy(output, unread, n_unread);
                if (img.n_output)
                        memcpy(output + n_unread, img.output, img.n_output);
                free(img.output);
                img.output = output;
                img.n_output += n_unread;
        }
        int flags = fcntl(fd, F_GETFL);
        img.socket_flags = flags < 0 ? 0 : (uint32_t)flags;
        if ((r = ckpt_image_build(&img, ret, ret_len)) < 0) {
                plugin_error("socket %u: %s cannot be written as an image: %s", (unsigned)id,
                             img.unique_name, error_text(r));
                return -1;
        }
        return 0;
}

/* The image of the socket fd's connection through its own Export: 0 and *ret, -ENOTSUP when the bus does
 * not serve it, or -1 after logging why. */
static int dump_export_one(struct dump_bus *bus, int fd, int diag_fd, int id, uint8_t **ret, size_t *ret_len)
{
        struct msg_builder b;
        plugin_call_init(bus->client, &b, "Export");
        msg_builder_append_basic(&b, 'h', &fd);
        msg_builder_append_basic(&b, 'h', &diag_fd);
        _cleanup_message_ struct message *reply = NULL;
        int r = plugin_call(bus->client, &b, &reply);
        if (r < 0) {
                plugin_error("socket %u: Export on %s: %s", (unsigned)id, bus->host_socket, error_text(r));
                return -1;
        }
        if (reply->type == MESSAGE_ERROR) {
                if (streq(reply->error_name, NSBUS_ERROR_NOT_OURS)) {
                        plugin_info("socket %u: not a connection of the bus at %s", (unsigned)id,
                                    bus->host_socket);
                        return -ENOTSUP;
                }
                if (streq(reply->error_name, NSBUS_ERROR_NOT_CHECKPOINTABLE))
                        plugin_error("socket %u: the bus at %s cannot save this connection now: %s",
                                     (unsigned)id, bus->host_socket, plugin_error_text(reply));
                else
                        plugin_error("socket %u: Export on %s: %s: %s", (unsigned)id, bus->host_socket,
                                     reply->error_name, plugin_error_text(reply));
                return -1;
        }
        const uint8_t *image;
        size_t len;
        struct msg_reader rd;
        msg_reader_init(&rd, reply);
        if (!streq(reply->signature, "ay") || msg_reader_read_bytes(&rd, &image, &len) < 0) {
                plugin_error("socket %u: Export on %s answered with signature '%s', not 'ay'", (unsigned)id,
                             bus->host_socket, reply->signature);
                return -1;
        }
        if (!(*ret = malloc(len ? len : 1)))
                return -1;
        memcpy(*ret, image, len);
        *ret_len = len;
        return 0;
}

int dump_unix_sk(int fd, int id)
{
        char host_socket[sizeof(((struct sockaddr_un *)NULL)->sun_path) + sizeof(HOST_SOCKET_NAME)];
        int r = dump_find_host_socket(fd, host_socket, sizeof(host_socket));
        if (r < 0)
                return r;

        struct dump_bus *bus;
        r = dump_connect_bus(host_socket, &bus);
        if (r < 0) {
                /* No bus of ours there (or not one that would have us): CRIU's rules apply. */
                plugin_info("socket %u: its peer looks like a container bus's, but %s: %s", (unsigned)id,
                            host_socket, error_text(r));
                return -ENOTSUP;
        }
        int diag_fd = dump_diag_socket(fd);
        if (diag_fd < 0) {
                plugin_error("socket %u: cannot make a sock_diag socket in its network namespace: %s",
                             (unsigned)id, error_text(diag_fd));
                return -1;
        }
        if (!bus->asked_all)
                dump_export_all(bus, diag_fd);
        _cleanup_free_ uint8_t *image = NULL;
        size_t len = 0;
        r = dump_complete_image(bus, fd, id, &image, &len);
        if (r == -ENOENT)
                r = dump_export_one(bus, fd, diag_fd, id, &image, &len);
        if (r < 0)
                return r;

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
                for (size_t k = 0; k < dump_buses[i].n_images; k++)
                        free(dump_buses[i].images[k].image);
                free(dump_buses[i].images);
        }
        free(dump_buses);
        dump_buses = NULL;
        dump_n_buses = dump_allocated_buses = 0;
        for (size_t i = 0; i < dump_n_netns; i++)
                safe_close(dump_netns[i].diag_fd);
        free(dump_netns);
        dump_netns = NULL;
        dump_n_netns = dump_allocated_netns = 0;
}
