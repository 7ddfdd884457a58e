/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restore. At init, in CRIU, every connection image of the images directory goes back to its bus, all
 * of one bus in one Prepare: the bus checks them together, resolves what links them (a call one of them
 * awaits from another, their places in a name's queue) and takes all or none. Its answers (a token per
 * connection, and what the new socket needs) stay in memory, because that is what the restored tasks
 * share with CRIU: they are forked after init and close every fd CRIU does not keep. A task's
 * RESTORE_UNIX_SK then only has to connect and Resume (resume.c).
 *
 * The host connections that prepared stay open until exit: the bus drops the prepared connections that
 * were not resumed when the connection that prepared them closes, so a failed restore leaves nothing
 * parked on the bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ckpt-image.h"
#include "dbus-errors.h"
#include "errors.h"
#include "plugin.h"

/* Where a container finds its bus when the image's host path is not visible in it (the runtime binds
 * RUNTIME/NAME/bus there). */
#define CONTAINER_BUS_SOCKET "/run/dbus/system_bus_socket"

struct restore_conn {
        uint32_t id; /* the socket's inode at dump: the image's name, and RESTORE_UNIX_SK's id */
        char *unique_name;
        char *bus_socket;  /* the container socket, as the image names it (a host path) */
        char *host_socket; /* the bus it goes back to */
        uint8_t *image;    /* until it is prepared */
        size_t n_image;

        /* Prepare's answer */
        uint8_t *token;
        size_t n_token;
        uint32_t socket_flags;
        bool unix_fds;
        uint8_t *input;
        size_t n_input;
};

static struct restore_conn *restore_conns;
static size_t restore_n_conns, restore_allocated_conns;
static struct client **restore_clients;
static size_t restore_n_clients, restore_allocated_clients;

static void restore_conn_done(struct restore_conn *c)
{
        free(c->unique_name);
        free(c->bus_socket);
        free(c->host_socket);
        free(c->image);
        free(c->token);
        free(c->input);
}

/* The id of an image's file name, "nsbus-sk-ID.img": true and *id. */
static bool restore_parse_name(const char *name, uint32_t *id)
{
        const char *p = startswith(name, PLUGIN_IMAGE_PREFIX);
        if (!p || *p < '0' || *p > '9')
                return false;
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v > UINT32_MAX || !streq(end, PLUGIN_IMAGE_SUFFIX))
                return false;
        *id = (uint32_t)v;
        return true;
}

static int restore_read_file(int dir, const char *name, uint8_t **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t)st.st_size > CKPT_IMAGE_HEADER_SIZE + DBUS_MAXIMUM_MESSAGE_LENGTH)
                return -EFBIG;
        size_t len = (size_t)st.st_size;
        _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
                return -ENOMEM;
        int r = plugin_read_exact(fd, buf, len);
        if (r < 0)
                return r == -ECONNRESET ? -EIO : r; /* shorter than it was a moment ago */
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Read one image and note where it goes back to. */
static int restore_add_image(int dir, const char *name, uint32_t id)
{
        if (GREEDY_REALLOC(restore_conns, restore_allocated_conns, restore_n_conns + 1) < 0)
                return -ENOMEM;
        struct restore_conn *c = &restore_conns[restore_n_conns];
        *c = (struct restore_conn){.id = id};
        int r = restore_read_file(dir, name, &c->image, &c->n_image);
        if (r < 0) {
                plugin_error("%s: %s", name, error_text(r));
                return r;
        }
        struct ckpt_image img = {};
        char err[512];
        r = ckpt_image_parse(c->image, c->n_image, &img, err, sizeof(err));
        if (r < 0) {
                plugin_error("%s: %s", name, r == -EINVAL ? err : error_text(r));
                free(c->image);
                return r;
        }
        const char *host_socket = getenv(PLUGIN_ENV_HOST_SOCKET);
        c->unique_name = strdup(img.unique_name);
        c->bus_socket = strdup(img.bus_socket);
        c->host_socket = strdup(host_socket && *host_socket ? host_socket : img.host_socket);
        ckpt_image_done(&img);
        restore_n_conns++;
        return c->unique_name && c->bus_socket && c->host_socket ? 0 : -ENOMEM;
}

static int restore_read_images(void)
{
        /* A descriptor of our own: reading the directory moves the offset, and CRIU's is not ours. */
        int dfd = openat(plugin_images_dir(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                int r = -errno;
                plugin_error("the images directory: %s", error_text(r));
                return r;
        }
        _cleanup_closedir_ DIR *d = fdopendir(dfd);
        if (!d) {
                int r = -errno;
                close(dfd);
                return r;
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        int r = -errno;
                        if (r < 0)
                                plugin_error("reading the images directory: %s", error_text(r));
                        return r;
                }
                uint32_t id;
                if (!restore_parse_name(de->d_name, &id))
                        continue;
                int r = restore_add_image(dirfd(d), de->d_name, id);
                if (r < 0)
                        return r;
        }
}

/* Prepare's answer for one image: token, socket flags, fd passing, input. */
static int restore_take_result(struct msg_reader *rd, struct restore_conn *c)
{
        const uint8_t *token, *input;
        size_t n_token, n_input;
        int unix_fds;
        if (msg_reader_enter(rd, '(', "ayubay") < 0 || msg_reader_read_bytes(rd, &token, &n_token) < 0 ||
            msg_reader_read_basic(rd, 'u', &c->socket_flags) < 0 ||
            msg_reader_read_basic(rd, 'b', &unix_fds) < 0 ||
            msg_reader_read_bytes(rd, &input, &n_input) < 0 || msg_reader_exit(rd) < 0)
                return -EBADMSG;
        c->token = malloc(n_token ? n_token : 1);
        c->input = malloc(n_input ? n_input : 1);
        if (!c->token || !c->input)
                return -ENOMEM;
        memcpy(c->token, token, n_token);
        c->n_token = n_token;
        memcpy(c->input, input, n_input);
        c->n_input = n_input;
        c->unix_fds = unix_fds;
        return 0;
}

/* One Prepare with every image that goes back to host_socket. */
static int restore_prepare_bus(const char *host_socket)
{
        if (GREEDY_REALLOC(restore_clients, restore_allocated_clients, restore_n_clients + 1) < 0)
                return -ENOMEM;
        struct client *c;
        int r = plugin_connect_host(host_socket, &c);
        if (r < 0) {
                plugin_error("connecting to the bus at %s: %s", host_socket, error_text(r));
                return r;
        }
        restore_clients[restore_n_clients++] = c;

        struct msg_builder b;
        size_t n = 0;
        plugin_call_init(c, &b, "Prepare");
        msg_builder_open(&b, 'a', "ay");
        for (size_t i = 0; i < restore_n_conns; i++)
                if (streq(restore_conns[i].host_socket, host_socket)) {
                        msg_builder_append_bytes(&b, restore_conns[i].image, restore_conns[i].n_image);
                        n++;
                }
        msg_builder_close(&b);
        _cleanup_message_ struct message *reply = NULL;
        r = plugin_call(c, &b, &reply);
        if (r < 0) {
                plugin_error("Prepare on %s: %s", host_socket, error_text(r));
                return r;
        }
        if (reply->type == MESSAGE_ERROR) {
                if (streq(reply->error_name, NSBUS_ERROR_BAD_IMAGE)) {
                        plugin_error("the bus at %s refused the restore: %s", host_socket,
                                     plugin_error_text(reply));
                        /* The bus counts the images of the call; say which files those are. */
                        size_t k = 0;
                        for (size_t i = 0; i < restore_n_conns; i++)
                                if (streq(restore_conns[i].host_socket, host_socket))
                                        plugin_error("image %zu is " PLUGIN_IMAGE_PREFIX
                                                     "%u" PLUGIN_IMAGE_SUFFIX ", connection %s",
                                                     k++, restore_conns[i].id, restore_conns[i].unique_name);
                } else
                        plugin_error("Prepare on %s: %s: %s", host_socket, reply->error_name,
                                     plugin_error_text(reply));
                return -EREMOTEIO;
        }

        struct msg_reader rd;
        msg_reader_init(&rd, reply);
        r = streq(reply->signature, "a(ayubay)") ? msg_reader_enter(&rd, 'a', "(ayubay)") : -EBADMSG;
        size_t k = 0;
        for (size_t i = 0; r >= 0 && i < restore_n_conns; i++) {
                struct restore_conn *conn = &restore_conns[i];
                if (!streq(conn->host_socket, host_socket))
                        continue;
                r = msg_reader_peek(&rd) == '(' ? restore_take_result(&rd, conn) : -EBADMSG;
                k++;
                free(conn->image);
                conn->image = NULL;
        }
        if (r >= 0 && msg_reader_peek(&rd))
                r = -EBADMSG;
        if (r < 0) {
                plugin_error("Prepare on %s: not %zu answers of signature (ayubay): %s", host_socket, n,
                             error_text(r));
                return r;
        }
        plugin_info("the bus at %s prepared %zu connection(s)", host_socket, k);
        return 0;
}

int restore_prepare(void)
{
        int r = restore_read_images();
        if (r < 0)
                return r;
        /* One Prepare per bus, in the order the buses first appear. */
        for (size_t i = 0; i < restore_n_conns; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(restore_conns[j].host_socket, restore_conns[i].host_socket);
                if (seen)
                        continue;
                r = restore_prepare_bus(restore_conns[i].host_socket);
                if (r < 0)
                        return r;
        }
        return 0;
}

int restore_unix_sk(int id)
{
        struct restore_conn *c = NULL;
        for (size_t i = 0; i < restore_n_conns && !c; i++)
                if (restore_conns[i].id == (uint32_t)id && restore_conns[i].token)
                        c = &restore_conns[i];
        if (!c)
                return -ENOTSUP;

        /* The container socket as this task sees it. Its host path ($NSBUS_CRIU_BUS_SOCKET for a restore
         * onto another bus, else the image's) when that is visible here, in a container that shares
         * the host's files; else where a runtime binds the bus directory, which is then the right bus's
         * as the restore mounted it. */
        const char *path = getenv(PLUGIN_ENV_BUS_SOCKET);
        if (!path || !*path)
                path = c->bus_socket;
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                path = CONTAINER_BUS_SOCKET;
        struct resume_request req = {
                .path = path,
                .token = c->token,
                .n_token = c->n_token,
                .unix_fds = c->unix_fds,
                .socket_flags = c->socket_flags,
                .input = c->input,
                .n_input = c->n_input,
        };
        char err[512];
        int fd = resume_connection(&req, err, sizeof(err));
        if (fd < 0) {
                plugin_error("socket %u: resuming connection %s on %s: %s", (unsigned)id, c->unique_name,
                             path, err);
                return -1;
        }
        plugin_info("socket %u: connection %s resumed on %s", (unsigned)id, c->unique_name, path);
        return fd;
}

void restore_done(void)
{
        for (size_t i = 0; i < restore_n_conns; i++)
                restore_conn_done(&restore_conns[i]);
        free(restore_conns);
        restore_conns = NULL;
        restore_n_conns = restore_allocated_conns = 0;
        for (size_t i = 0; i < restore_n_clients; i++)
                client_free(restore_clients[i]);
        free(restore_clients);
        restore_clients = NULL;
        restore_n_clients = restore_allocated_clients = 0;
}
