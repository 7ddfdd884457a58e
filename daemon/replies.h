/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of pending replies (see replies.c): the slots that make only
 * solicited replies deliverable.
 */
#pragma once

#include <stdint.h>

#include "list.h"

struct bus;
struct peer;

/*
 * A reply the callee owes: created when a method call expecting a reply is
 * delivered, consumed by the reply. A reply without a slot is dropped, so
 * no peer can inject unsolicited "replies". Found by (caller, callee, serial):
 * in the caller's list, or, for a caller waiting on many replies, in the
 * callee's index by (caller id, serial).
 */
struct reply_slot {
        struct peer *caller, *callee;
        uint32_t serial;              /* of the call */
        struct list_head caller_link; /* in caller->replies_waiting, oldest first */
        struct list_head callee_link; /* in callee->replies_owed */
        uint64_t key[2];              /* caller id, serial: in callee->replies_index when the caller's are */
        uint64_t hash;                /* key's there */
        uint64_t deadline_usec;
        struct list_head timeout_link; /* in bus->reply_timeouts, oldest first */
};

/* A slot for the reply callee owes caller for the call serial: 0 (also when one exists already: one reply
 * will do for both), -ERR_LIMIT_CONNECTION over the caller's max_replies_per_connection, -ERR_LIMIT_USER
 * over its uid's limit, -ENOMEM. It times out after the bus's reply_timeout. */
int replies_slot_new(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial);
struct reply_slot *replies_slot_find(struct peer *callee, struct peer *caller, uint32_t serial);
void replies_slot_free(struct reply_slot *s);
/* A slot from a checkpoint image (checkpoint.c), with the time it had left (0: the bus's reply_timeout);
 * as replies_slot_new(). */
int replies_slot_restore(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial,
                         uint64_t timeout_usec);
