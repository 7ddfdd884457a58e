/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Routing: where a message goes and who is blamed when it cannot (see
 * routing.c).
 */
#pragma once

#include <stdint.h>

#include "list.h"
#include "message.h"
#include "replies.h"
#include "util.h"

struct bus;
struct peer;

/* Route m from sender. 0, or -ENOMEM when memory ran out on the way; the sender has then been
 * disconnected, so no call of its waits for an answer that cannot come. */
int routing_dispatch(struct bus *b, struct peer *sender, struct message *m);
/* Deliver m, held until its destination's service had started, to the name's new owner: routed as
 * routing_dispatch() routes, but not shown to monitors again (they saw it when it was sent, as with
 * dbus-daemon). sender NULL: the bus's own message. 0, or -ENOMEM as routing_dispatch(). */
int routing_deliver_held(struct bus *b, struct peer *sender, struct message *m);
/* Deliver a driver-generated message to `to` (its destination), or broadcast it when to is NULL. */
void routing_send_driver_message(struct bus *b, struct peer *to, struct message *m);
/* Whether a broadcast from the driver would reach anyone (a monitor, a match rule): when not, the driver
 * need not build it. */
bool routing_driver_broadcast_heard(struct bus *b);
void routing_send_to_monitors(struct bus *b, struct message *m);
int routing_reply_error(struct bus *b, struct peer *to, const struct message *call, const char *name,
                        const char *fmt, ...) _printf_(5, 6);
/* Give up on the reply: free the slot and send the caller NoReply with this text. */
void reply_slot_fail(struct bus *b, struct reply_slot *s, const char *text);
/* Answer calls whose reply_timeout passed with NoReply; returns the next deadline (now_usec()), 0 for
 * none. */
uint64_t routing_check_reply_timeouts(struct bus *b, uint64_t now);
