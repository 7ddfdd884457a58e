/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checkpoint and restore of bus connections (org.nsbus.Checkpoint1), for
 * CRIU: a connection is exported as an image (lib/ckpt-image.h), and images
 * are taken back on the same bus or a fresh one as parked connections,
 * which hold their unique names, names, rules and pending replies and
 * collect what is sent to them, until the restored process resumes one on
 * a new socket with the token it was given. docs/checkpoint.md tells the
 * whole story.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "peer.h"

struct bus;
struct peer;
struct message;

/* The image of the connection whose other end is client_fd (a socket handed over by the checkpoint
 * tool), found through diag_fd, a NETLINK_SOCK_DIAG socket the tool made in client_fd's network namespace
 * (< 0: the bus's own; see sockdiag.h): 0 and *ret (malloc'd), -ENOENT when client_fd is not connected to
 * one of this bus's container connections, -EBUSY when the connection cannot be saved now, -EINVAL when
 * diag_fd is no such socket (err says why), -ENOMEM.
 *
 * With an exporter, the connection is then *held*: the bus neither reads nor writes its socket (what was
 * in flight is in the image: read on, it would be taken twice, once live and once restored; written on,
 * it would go to a process that is being dumped). When its socket closes (CRIU kills the dumped tree) it
 * stays, parked, with its names, rules and replies, and what is sent to it queues: a Prepare onto this
 * bus takes it back as it is, so nothing sent between the dump and the restore is lost and no one can
 * take its names meanwhile. A dump that leaves the tree running gives it back to it (see below). */
int checkpoint_export(struct bus *b, struct peer *exporter, int client_fd, int diag_fd, uint8_t **ret,
                      size_t *ret_len, char *err, size_t errlen);
/* One connection's image, by the inode of its client's socket. */
struct checkpoint_export {
        uint64_t client_ino;
        uint8_t *image;
        size_t len;
};
/* Every connection of the container whose client socket is in diag_fd's network namespace, exported (and
 * held) at once: one call for a whole dump. Their images lack what waits unread in the client sockets,
 * which the caller, who has those, puts at the front of each output (and their socket flags): the bus
 * writes nothing more to them once held, so that stays as it is. 0 and *ret[*n] (checkpoint_exports_free),
 * -EINVAL (err says why), -ENOMEM. A connection that cannot be saved now is left out (and not held). */
int checkpoint_export_all(struct bus *b, struct peer *exporter, int diag_fd, struct checkpoint_export **ret,
                          size_t *n, char *err, size_t errlen);
void checkpoint_exports_free(struct checkpoint_export *v, size_t n);
/* A held connection's socket closed: park it (0), or -ENOMEM (the caller disconnects it). */
int checkpoint_held_hangup(struct bus *b, struct peer *p);
/* How long a held connection stays held after its exporter went. CRIU ends its plugins (so the exporter's
 * connection) before it kills the dumped tree, and holds the tree's client sockets until it exits: only a
 * moment later does the bus see whether the container was killed (then the connection is parked) or left
 * running (released). A connection left running waits this much longer than the dump itself. */
#define CHECKPOINT_RELEASE_USEC (1000ull * 1000)
/* exporter is going: what it held is released, or parked, CHECKPOINT_RELEASE_USEC from now. */
void checkpoint_release(struct bus *b, struct peer *exporter);
/* Release or park the held connections whose time came (see above): the next such time, or 0. */
uint64_t checkpoint_check_held(struct bus *b, uint64_t now);

/* One prepared image: what the restoring side needs. input points into the caller's images. */
struct checkpoint_prepared {
        uint8_t token[CHECKPOINT_TOKEN_SIZE];
        uint32_t socket_flags;
        bool unix_fds;
        uint8_t *input;
        size_t n_input;
};

/* What a prepare changed, for the driver to announce: the unique names that appeared and the names that
 * got owners. */
struct checkpoint_lost_reply {
        struct peer *caller;
        uint32_t serial;
};
struct checkpoint_changes {
        struct peer **peers;
        size_t n_peers;
        struct name_change *names;
        size_t n_names, allocated_names;
        struct checkpoint_lost_reply *lost; /* calls whose callee is not coming back: NoReply for each */
        size_t n_lost;
};
void checkpoint_changes_done(struct checkpoint_changes *c);

/* Take back n images (file bytes) for preparer as parked connections, all or none: 0 with results[n]
 * (free each input and the array) and *changes, -EINVAL when an image is refused (err names it and says
 * why; the bus is as it was), -ENOMEM. */
int checkpoint_prepare(struct bus *b, struct peer *preparer, const uint8_t *const *images,
                       const size_t *lens, size_t n, struct checkpoint_prepared **results,
                       struct checkpoint_changes *changes, char *err, size_t errlen);

/* conn, a new connection on the container socket that has not said Hello, presents a token: the parked
 * connection takes conn's socket and its process's identity, with reply (the answer to the call) queued
 * ahead of everything held for it. conn is left without a socket, for the caller to drop. 0 and *ret (the
 * resumed peer), -ENOENT for a token no parked connection has, -EPERM (err says why), -ENOMEM. */
int checkpoint_resume(struct bus *b, struct peer *conn, const uint8_t *token, size_t len,
                      struct message *reply, struct peer **ret, char *err, size_t errlen);

/* A parked connection whose preparer is gone (it never will be resumed), or NULL. Those kept since their
 * export go back to waiting for a Prepare instead (a failed restore may be tried again). */
struct peer *checkpoint_next_orphan(struct bus *b, const struct peer *preparer);

/* Free what the bus keeps between exports (bus_free()). */
void checkpoint_forget(struct bus *b);
