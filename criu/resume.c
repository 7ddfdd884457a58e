/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside a restored task (RESTORE_UNIX_SK): a new connection to the container socket takes over the
 * connection that the bus prepared, with Resume(token) where a client says Hello.
 *
 * Blocking and byte-exact, because the socket is the process's afterwards: the answer to Resume is the
 * first message on it, and right behind it the bus writes the bytes the process had not read before the
 * dump, which only the process may read. So nothing is read past the answer; every read is bounded by
 * what the SASL lines and the message's header announce. The handshake goes a line at a time, each
 * answer read before the next line is sent, and BEGIN leaves with the call: the connection that says
 * Resume hands its socket over to the parked one at once, so nothing of the handshake may still be on
 * its way then. A timeout on the socket bounds each step, so a bus that does not answer fails the
 * restore instead of hanging it; it is taken off before the socket is handed over.
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

/* Send the request's lines up to BEGIN one at a time, each after the answer to the one before: 0 once
 * every answer was read, with *begin where BEGIN starts in auth. */
static int resume_authenticate(int fd, struct sasl_client *sasl, const char *auth, size_t n_auth,
                               size_t *begin)
{
        size_t pos = 0;
        int r = SASL_CONTINUE;
        while (r == SASL_CONTINUE) {
                const char *eol = memmem(auth + pos, n_auth - pos, "\r\n", 2);
                if (!eol || startswith(auth + pos, "BEGIN"))
                        return -EPROTO; /* an answer is missing after the last line */
                size_t end = (size_t)(eol - auth) + 2;
                r = plugin_write_all(fd, auth + pos, end - pos);
                if (r < 0)
                        return r;
                pos = end;
                r = resume_read_answer(fd, sasl);
        }
        if (r < 0)
                return r;
        if (!startswith(auth + pos, "BEGIN"))
                return -EPROTO;
        *begin = pos;
        return 0;
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
        size_t begin;
        r = resume_authenticate(fd, &sasl, auth, n_auth, &begin);
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
        /* BEGIN and Resume in one write: the bus reads them together. */
        _cleanup_free_ uint8_t *out = malloc(n_auth - begin + call->size);
        if (!out) {
                snprintf(err, errlen, "%s", error_text(-ENOMEM));
                return -ENOMEM;
        }
        memcpy(out, auth + begin, n_auth - begin);
        memcpy(out + n_auth - begin, call->data, call->size);
        r = plugin_write_all(fd, out, n_auth - begin + call->size);
        if (r < 0) {
                snprintf(err, errlen, "writing BEGIN and Resume: %s", error_text(r));
                return r;
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
