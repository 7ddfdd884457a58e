/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image of one bus connection, as nsbusd exports it for a checkpoint
 * (org.nsbus.Checkpoint1.Export) and takes it back on restore (Prepare):
 * everything the bus holds for the connection and everything in flight on
 * it, so that the restored connection goes on exactly where it stopped.
 *
 * The format (docs/checkpoint.md has the reference):
 *
 *   bytes 0..7    magic "NSBUSCK\n"
 *   bytes 8..11   format version, little-endian uint32 (CKPT_IMAGE_VERSION)
 *   bytes 12..15  length of what follows, little-endian uint32
 *   bytes 16..    one D-Bus message (SIGNAL org.nsbus.Checkpoint1.Connection on
 *                 /org/nsbus/Checkpoint) whose body has CKPT_IMAGE_SIGNATURE
 *
 * A D-Bus body, because the bus already has a validating reader for one
 * (fuzzed since day one): parsing an image reuses it, so a hostile image
 * meets the same checks as a hostile message. Everything is checked here
 * that can be checked without a bus; what depends on the bus it goes to
 * (is the unique name free, does the policy allow the names) is the
 * importer's (daemon/checkpoint.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CKPT_IMAGE_MAGIC "NSBUSCK\n"
#define CKPT_IMAGE_VERSION 1u
#define CKPT_IMAGE_HEADER_SIZE 16u
#define CKPT_IMAGE_INTERFACE "org.nsbus.Checkpoint1"
#define CKPT_IMAGE_PATH "/org/nsbus/Checkpoint"
#define CKPT_IMAGE_MEMBER "Connection"
/*
 * unique name, next unique id of the bus, container name, host.sock path, container socket path,
 * uid, gid, groups (the bus's user namespace), uid and gid as the container saw them, pid as the
 * container saw it, fd passing negotiated, the client socket's file status flags, names (name, flags,
 * position in the queue: 0 is the primary owner), match rules, replies owed (caller, serial, time
 * left in µs, 0: no timeout), replies awaited (callee, serial, time left), bytes the client sent that
 * the bus had not processed, bytes the bus sent that the client had not read.
 */
#define CKPT_IMAGE_SIGNATURE "stsssuuauuuubua(suu)asa(sut)a(sut)ayay"

/* Bounds of a sane image; a bigger one is refused before anything is allocated for it. */
#define CKPT_IMAGE_MAX_GROUPS 65536u
#define CKPT_IMAGE_MAX_ITEMS 65536u

struct ckpt_name {
        char *name;
        uint32_t flags; /* RequestName flags */
        uint32_t position;
};

struct ckpt_reply {
        char *peer; /* the caller (replies owed) or the callee (replies awaited) */
        uint64_t peer_id;
        uint32_t serial;
        uint64_t timeout_usec; /* left when exported; 0: none */
};

struct ckpt_image {
        char *unique_name;
        uint64_t id; /* N of ":1.N" */
        uint64_t next_id;
        char *container;
        char *host_socket;
        char *bus_socket;
        uint32_t uid, gid;
        uint32_t *groups;
        size_t n_groups;
        uint32_t inner_uid, inner_gid, inner_pid;
        bool unix_fds;
        uint32_t socket_flags;
        struct ckpt_name *names;
        size_t n_names;
        char **matches;
        size_t n_matches;
        struct ckpt_reply *owed, *awaited;
        size_t n_owed, n_awaited;
        uint8_t *input, *output;
        size_t n_input, n_output;
};

/* The file bytes of img: 0 and *ret (malloc'd, *ret_len bytes), -EINVAL for an image that would not
 * parse back (a field out of its bounds), -ENOMEM. */
int ckpt_image_build(const struct ckpt_image *img, uint8_t **ret, size_t *ret_len);
/* Parse and check file bytes: 0 and *img, or -EINVAL with err saying what is wrong and where, or
 * -ENOMEM. Nothing is kept of buf. */
int ckpt_image_parse(const uint8_t *buf, size_t len, struct ckpt_image *img, char *err, size_t errlen);
void ckpt_image_done(struct ckpt_image *img);

/* The images of a checkpoint directory (nsbus-sk-*.img, as the CRIU plugin writes them), each parsed:
 * the highest "next unique id" among them (what a fresh bus must start from, so that no one takes a
 * restored unique name first; 1 without images) and the host ids of the container's root if an image was
 * its (left alone otherwise). 0, or -errno with err saying which file and why. */
int ckpt_images_scan(const char *dir, uint64_t *next_id, uint32_t *root_uid, uint32_t *root_gid, char *err,
                     size_t errlen);
