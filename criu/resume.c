/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside a restored task (RESTORE_UNIX_SK): a new connection to the container socket takes over the
 * connection that the bus prepared, with Resume(token) where a client says Hello.
 *
 * Blocking and byte-exact, because the socket is the process's afterwards: the answer to Resume is the
 * first message on it, and right behind it the bus writes the bytes the process had not read before the
 * dump, which only the process may read. So nothing is read past the answer; every read is bounded by
 * what the SASL lines and the message's header announce. The whole handshake leaves in one write, the
 * SASL lines, BEGIN and the call: one round trip per connection, as a restore has a hundred of them.
 * The bus answers the SASL lines first even when Resume hands the socket over in the same read
 * (peer_adopt_socket() puts what the connection had been answered ahead of Resume's answer). A
 * timeout on the socket bounds each step, so a bus that does not answer fails the restore instead of
 * hanging it; it is taken off before the socket is handed over.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "errors.h"
#include "plugin.h"
#include "sasl.h"

/* The Resume call's serial: the first message on the connection. */
#define RESUME_SERIAL 1u

static int resume_set_timeout(int fd, int timeout_ms)
{
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        return 0;
}

/* Read one SASL answer (a short line; what follows it is not ours) and feed it to sasl. */
static int resume_read_answer(int fd, struct sasl_client *sasl)
{
        char line[SASL_RESPONSE_MAX + 2];
        size_t len = 0;
        for (;;) {
                if (len == sizeof(line))
                        return -EPROTO; /* no answer of a bus is that long */
                int r = plugin_read_exact(fd, line + len, 1);
                if (r < 0)
                        return r;
                len++;
                if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n') {
                        size_t consumed;
                        return sasl_client_feed(sasl, line, len, &consumed);
                }
        }
}

/* Read the answers to the SASL request sent in one piece, until the client side is done with them. */
static int resume_read_answers(int fd, struct sasl_client *sasl)
{
        int r;
        do
                r = resume_read_answer(fd, sasl);
        while (r == SASL_CONTINUE);
        return r < 0 ? r : 0;
}

/* Read exactly one message: its fixed header, then what the header says follows (D-Bus specification,
 * "Message Format": 16 bytes, the header fields padded to 8, the body). */
static int resume_read_message(int fd, struct message **ret)
{
        uint8_t header[DBUS_MINIMUM_HEADER_SIZE];
        int r = plugin_read_exact(fd, header, sizeof(header));
        if (r < 0)
                return r;
        size_t total;
        r = message_peek_size(header, &total);
        if (r < 0)
                return r;
        uint8_t *data = malloc(total);
        if (!data)
                return -ENOMEM;
        memcpy(data, header, sizeof(header));
        r = plugin_read_exact(fd, data + sizeof(header), total - sizeof(header));
        if (r < 0) {
                free(data);
                return r;
        }
        return message_new_from_data(data, total, ret);
}

static int resume_new_call(const struct resume_request *req, struct message **ret)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, RESUME_SERIAL);
        b.destination = DRIVER_NAME;
        b.path = DRIVER_PATH;
        b.interface = CHECKPOINT_INTERFACE;
        b.member = "Resume";
        msg_builder_append_bytes(&b, req->token, req->n_token);
        return msg_builder_finish(&b, ret);
}

int resume_connection(const struct resume_request *req, char *err, size_t errlen)
{
        _cleanup_close_ int fd = plugin_connect_unix(req->path);
        if (fd < 0) {
                snprintf(err, errlen, "connecting: %s", error_text(fd));
                return fd;
        }
        int r = resume_set_timeout(fd, PLUGIN_CALL_TIMEOUT_MS);
        if (r < 0) {
                snprintf(err, errlen, "setting a timeout: %s", error_text(r));
                return r;
        }

        /* The creds CRIU gives the task while it restores files: in a container with a user namespace,
         * the container's root. The bus checks the claim against the socket's (SO_PEERCRED). */
        struct sasl_client sasl;
        char auth[SASL_RESPONSE_MAX];
        size_t n_auth = sasl_client_request(&sasl, getuid(), req->unix_fds, auth);
        _cleanup_message_ struct message *call = NULL;
        r = resume_new_call(req, &call);
        if (r < 0) {
                snprintf(err, errlen, "building Resume: %s", error_text(r));
                return r;
        }
        /* The request up to BEGIN, and Resume, in one write. */
        _cleanup_free_ uint8_t *out = malloc(n_auth + call->size);
        if (!out) {
                snprintf(err, errlen, "%s", error_text(-ENOMEM));
                return -ENOMEM;
        }
        memcpy(out, auth, n_auth);
        memcpy(out + n_auth, call->data, call->size);
        r = plugin_write_all(fd, out, n_auth + call->size);
        if (r < 0) {
                snprintf(err, errlen, "writing the handshake and Resume: %s", error_text(r));
                return r;
        }
        r = resume_read_answers(fd, &sasl);
        if (r == -EACCES) {
                snprintf(err, errlen, "the bus rejected EXTERNAL authentication as uid %u",
                         (unsigned)getuid());
                return r;
        }
        if (r < 0) {
                snprintf(err, errlen, "authenticating: %s", error_text(r));
                return r;
        }
        if (sasl_client_get_unix_fd(&sasl) != req->unix_fds) {
                snprintf(err, errlen,
                         "the bus did not agree to pass fds, which the connection had negotiated");
                return -EPROTO;
        }

        _cleanup_message_ struct message *reply = NULL;
        r = resume_read_message(fd, &reply);
        if (r < 0) {
                snprintf(err, errlen, "reading the answer to Resume: %s", error_text(r));
                return r;
        }
        if (reply->reply_serial != RESUME_SERIAL ||
            (reply->type != MESSAGE_METHOD_RETURN && reply->type != MESSAGE_ERROR)) {
                snprintf(err, errlen, "the bus sent a %s before it answered Resume",
                         message_type_to_string(reply->type));
                return -EPROTO;
        }
        if (reply->type == MESSAGE_ERROR) {
                snprintf(err, errlen, "%s: %s", reply->error_name, plugin_error_text(reply));
                return -EREMOTEIO;
        }
        if (reply->n_unix_fds > 0) {
                snprintf(err, errlen, "the answer to Resume carries fds");
                return -EPROTO;
        }

        /* What the process had sent that the bus had not processed goes first, as it would have. */
        r = plugin_write_all(fd, req->input, req->n_input);
        if (r < 0) {
                snprintf(err, errlen, "writing the %zu bytes the process had sent: %s", req->n_input,
                         error_text(r));
                return r;
        }
        r = resume_set_timeout(fd, 0);
        if (r >= 0 && fcntl(fd, F_SETFL, (int)req->socket_flags) < 0)
                r = -errno;
        if (r < 0) {
                snprintf(err, errlen, "setting the socket's options back: %s", error_text(r));
                return r;
        }
        return TAKE_FD(fd);
}
