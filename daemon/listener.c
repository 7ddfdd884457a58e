/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus's listening sockets: made from D-Bus addresses (every transport
 * lib/address.c knows), and removed with their socket files when the bus
 * ends. Watching and accepting them is the bus loop's.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "address.h"
#include "bus.h"
#include "listener.h"
#include "log.h"

int listener_add(struct bus *b, const char *address, enum listener_origin origin, struct listener **ret)
{
        char err[512] = "";
        _cleanup_(address_freep) struct address *a = NULL;
        int r = address_parse(address, &a, err, sizeof(err));
        if (r < 0) {
                log_error("invalid listen address: %s", err[0] ? err : address);
                return r;
        }
        /* Like libdbus, a listen address with several entries uses the first that works. */
        for (size_t i = 0; i < a->n_entries; i++) {
                int fd;
                char *actual = NULL;
                r = address_listen(&a->entries[i], b->guid, &fd, &actual, err, sizeof(err));
                if (r < 0) {
                        log_warning("cannot listen on %s: %s", address, err[0] ? err : strerror(-r));
                        continue;
                }
                struct listener *l = zalloc(sizeof(*l));
                if (!l) {
                        close(fd);
                        free(actual);
                        return -ENOMEM;
                }
                l->source.fd = -1;
                l->bus = b;
                l->fd = fd;
                l->origin = origin;
                l->address = actual;
                struct sockaddr_un sa;
                socklen_t sl = sizeof(sa);
                if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
                    sl > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0] != 0)
                        l->path = strndup(sa.sun_path, sl - offsetof(struct sockaddr_un, sun_path));
                list_add_tail(&b->listeners, &l->link);
                b->listeners_changed = true;
                if (ret)
                        *ret = l;
                return 0;
        }
        return r < 0 ? r : -EINVAL;
}

void listener_free(struct listener *l)
{
        event_source_remove(l->bus->loop, &l->source);
        list_del(&l->link);
        if (l->path)
                unlink(l->path);
        close(l->fd);
        free(l->address);
        free(l->path);
        free(l);
}
